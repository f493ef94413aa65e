"""Hypothesis profiles for the property tests: `ci` (the default, a few seconds per test in the normal suite) and
`long` (thousands of examples per test, for a run at length: `HYPOTHESIS_PROFILE=long`, see docs/fuzzing.md)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# No deadline: the machine is shared and timing is noisy; hangs are what the per-record budgets and pytest-timeout
# catch. The database of failing examples stays under .hypothesis/ so a found failure is replayed first next time.
settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
