"""docs/metrics.md documents every metric of newswire/metrics.py with its type and labels."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from tests.deploy.support import newswire_metrics

pytestmark = pytest.mark.deploy

ROW = re.compile(r"^\| `(newswire_\w+)` \| (\w+) \| ([^|]*) \|", re.MULTILINE)
# Label names Prometheus' client adds by itself (an Info's keys are its labels).
IMPLICIT = {"info": ("version",)}


def test_every_metric_is_documented_with_its_type_and_labels():
    documented = {name: (kind, tuple(re.findall(r"`(\w+)`", labels)))
                  for name, kind, labels in ROW.findall((REPO / "docs" / "metrics.md").read_text(encoding="utf-8"))}
    expected = {}
    for name, (kind, labels) in newswire_metrics().items():
        shown = {"counter": f"{name}_total", "info": f"{name}_info"}.get(kind, name)
        expected[shown] = (kind, labels or IMPLICIT.get(kind, ()))
    assert {name: documented.get(name) for name in expected} == expected
    assert set(documented) <= set(expected), "docs/metrics.md lists metrics that do not exist"
