"""When to check a feed next: adaptive to its posting rate, floored by what the server asks, clamped.

After a successful check the interval is, in order:
1. the feed's own `interval_seconds` when configured; otherwise
2. with `adaptive_interval`, `adaptive_factor` x the mean time between its recent entries (a feed posting every
   ten minutes is checked every five; one posting weekly is checked at the maximum); otherwise the default;
3. raised to the feed's `<ttl>` and to the response's `Cache-Control: max-age` (or `Expires`) when those are
   longer: the publisher said the document will not change sooner;
4. clamped between `min_interval_seconds` and `max_interval_seconds`.

After an error the delay grows exponentially with the number of consecutive errors, with jitter, capped at the
maximum interval, and never less than the server's `Retry-After`. A feed is never abandoned: at worst it is
checked once per maximum interval, and the first success resets it.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Iterable, Mapping

from newswire.settings import PollerSettings

__all__ = ["freshness_seconds", "entry_interval", "success_interval", "error_delay"]

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
# Entries used to estimate the posting rate: the newest ones say how the feed behaves now.
_RATE_SAMPLE = 20


def freshness_seconds(headers: Mapping[str, str]) -> float | None:
    """How long the response says it stays fresh: Cache-Control max-age, else Expires minus Date."""
    cache_control = headers.get("cache-control", "")
    if re.search(r"no-cache|no-store", cache_control, re.IGNORECASE):
        return None
    match = _MAX_AGE.search(cache_control)
    if match:
        return float(match.group(1))
    expires = headers.get("expires")
    if expires:
        try:
            end = parsedate_to_datetime(expires)
            start = parsedate_to_datetime(headers["date"]) if headers.get("date") else None
        except (TypeError, ValueError, IndexError):
            return None
        if start is not None and end.tzinfo and start.tzinfo:
            return max(0.0, (end - start).total_seconds())
    return None


def entry_interval(published: Iterable[datetime | None], now: datetime, factor: float) -> float | None:
    """`factor` x the mean gap between the newest entries and now, or None with fewer than two dated entries."""
    horizon = now + timedelta(hours=1)  # dates in the future are feed bugs; ignore them
    dates = sorted((d for d in published if d is not None and d <= horizon), reverse=True)[:_RATE_SAMPLE]
    if len(dates) < 2:
        return None
    span = max((now - dates[-1]).total_seconds(), (dates[0] - dates[-1]).total_seconds())
    return factor * span / len(dates)


def success_interval(options: PollerSettings, *, fixed: float | None, published: Iterable[datetime | None],
                     now: datetime, ttl_minutes: int | None, headers: Mapping[str, str]) -> float:
    """Seconds until the next check after a successful one (see the module docstring)."""
    interval = fixed
    if interval is None and options.adaptive_interval:
        interval = entry_interval(published, now, options.adaptive_factor)
    if interval is None:
        interval = options.interval_seconds
    if ttl_minutes:
        interval = max(interval, ttl_minutes * 60.0)
    fresh = freshness_seconds(headers)
    if fresh:
        interval = max(interval, fresh)
    return min(max(interval, options.min_interval_seconds), options.max_interval_seconds)


def error_delay(options: PollerSettings, errors: int, retry_after: float | None,
                rng: random.Random | None = None) -> float:
    """Seconds until the retry after `errors` consecutive failures (>= 1)."""
    base = min(options.min_interval_seconds * 2 ** min(max(errors, 1) - 1, 20), options.max_interval_seconds)
    delay = base * (rng or random).uniform(0.5, 1.0)  # jitter keeps many failing feeds from retrying in step
    if retry_after is not None:
        delay = max(delay, min(retry_after, options.max_interval_seconds))
    return delay
