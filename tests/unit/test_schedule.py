"""Scheduling: adaptive intervals for busy and quiet feeds, server-given floors, error backoff."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from ingest.schedule import entry_interval, error_delay, freshness_seconds, success_interval
from newswire.settings import PollerSettings

NOW = datetime(2024, 6, 1, 12, tzinfo=timezone.utc)
OPTIONS = PollerSettings(min_interval_seconds=60, max_interval_seconds=86_400, interval_seconds=900)


def _every(gap: timedelta, n: int = 30) -> list[datetime]:
    return [NOW - gap * i for i in range(n)]


def _interval(published, **kw) -> float:
    return success_interval(OPTIONS, fixed=kw.get("fixed"), published=published, now=NOW,
                            ttl_minutes=kw.get("ttl"), headers=kw.get("headers", {}))


def test_busy_and_quiet_feeds():
    busy = _interval(_every(timedelta(minutes=10)))  # a post every 10 minutes
    quiet = _interval(_every(timedelta(days=3)))  # a post every 3 days
    print(f"busy feed interval {busy:.0f}s, quiet feed interval {quiet:.0f}s")
    assert 250 <= busy <= 350  # half the mean gap, ~300 s
    assert quiet == OPTIONS.max_interval_seconds
    assert _interval(_every(timedelta(seconds=5))) == OPTIONS.min_interval_seconds
    # A feed busy last month but silent since is not treated as busy.
    stale = [d - timedelta(days=30) for d in _every(timedelta(minutes=10))]
    assert _interval(stale) > 10 * busy


def test_fallbacks_and_floors():
    assert _interval([]) == 900  # undated entries: the default
    assert _interval([NOW]) == 900
    assert _interval(_every(timedelta(minutes=10)), fixed=120) == 120
    assert _interval(_every(timedelta(minutes=10)), ttl=60) == 3600
    assert _interval(_every(timedelta(minutes=10)), headers={"cache-control": "public, max-age=1800"}) == 1800
    assert _interval(_every(timedelta(minutes=10)), headers={"cache-control": "no-cache, max-age=1800"}) < 1800
    expires = {"date": "Sat, 01 Jun 2024 12:00:00 GMT", "expires": "Sat, 01 Jun 2024 13:00:00 GMT"}
    assert _interval([], headers=expires) == 3600
    assert _interval([], ttl=10**6) == OPTIONS.max_interval_seconds
    future = [NOW + timedelta(days=400)] * 5 + _every(timedelta(minutes=10))
    assert _interval(future) == _interval(_every(timedelta(minutes=10)))
    assert freshness_seconds({"cache-control": 'max-age="600"'}) == 600


def test_entry_interval_none_without_dates():
    assert entry_interval([None, None], NOW, 0.5) is None


def test_error_backoff_grows_is_capped_and_honours_retry_after():
    rng = random.Random(1)
    delays = [error_delay(OPTIONS, n, None, rng) for n in range(1, 25)]
    assert 30 <= delays[0] <= 60
    assert all(d <= OPTIONS.max_interval_seconds for d in delays)
    assert delays[-1] >= OPTIONS.max_interval_seconds / 2  # never gives up: keeps trying at the cap
    assert error_delay(OPTIONS, 1, 7200, rng) == 7200
    assert error_delay(OPTIONS, 1, 10**9, rng) == OPTIONS.max_interval_seconds
