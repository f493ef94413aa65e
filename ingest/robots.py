"""robots.txt per origin, cached, parsed with Protego (Scrapy's parser).

Protego over the standard library's `urllib.robotparser`: it follows RFC 9309 and Google's reading of it
(wildcards `*` and `$`, longest match wins between Allow and Disallow, Crawl-delay and Request-rate), where the
standard library ignores wildcards and applies the first matching rule, so it both over- and under-blocks.

Fetch outcomes follow RFC 9309: 2xx → the rules; 4xx → no rules (everything allowed); 5xx, 429, timeouts,
connection failures and refusals → "unreachable": nothing of that origin is fetched until the file is tried again
after `robots_error_retry_seconds`. Rules are kept `robots_cache_seconds` (at most a day, as the RFC asks);
expired entries are dropped from the cache (checked at most once per `prune_interval`), so its size follows the
hosts crawled recently rather than every host ever seen.

"Unreachable" holds the host; the scraper holds that host's links (see `ingest.scraper`) until `retry_at`, when
the file is tried again, instead of failing them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from protego import Protego

from ingest.http import FetchError, Fetcher
from newswire.metrics import FETCH_BYTES

__all__ = ["RobotsRules", "RobotsCache", "origin_of"]

log = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least the first 500 KiB


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


@dataclass(frozen=True)
class RobotsRules:
    """What robots.txt says for one origin, as of `fetched_at` (monotonic seconds)."""

    status: str  # "rules", "allow_all" (4xx or no file), "unreachable" (5xx, timeout...)
    parser: Protego | None
    fetched_at: float
    detail: str = ""

    def retry_at(self, error_retry_seconds: float) -> float:
        """Monotonic time at which an unreachable robots.txt is tried again."""
        return self.fetched_at + error_retry_seconds

    def allowed(self, url: str, user_agent: str) -> bool:
        if self.status == "unreachable":
            return False
        return self.parser is None or self.parser.can_fetch(url, user_agent)

    def crawl_delay(self, user_agent: str) -> float | None:
        """Crawl-delay, or the interval of Request-rate, for this agent."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        if delay is None:
            rate = self.parser.request_rate(user_agent)
            if rate is not None and rate.requests:
                delay = rate.seconds / rate.requests
        return float(delay) if delay is not None else None


class RobotsCache:
    """robots.txt rules by origin, fetched on first use and refreshed when stale."""

    def __init__(self, fetcher: Fetcher, *, cache_seconds: float, error_retry_seconds: float,
                 clock: Callable[[], float] = time.monotonic, prune_interval: float = 300.0) -> None:
        self.fetcher = fetcher
        self.cache_seconds = cache_seconds
        self.error_retry_seconds = error_retry_seconds
        self.clock = clock
        self.prune_interval = prune_interval
        self._rules: dict[str, RobotsRules] = {}
        self._lock = threading.Lock()
        self._pruned_at = clock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._rules)

    def _fresh(self, rules: RobotsRules, now: float) -> bool:
        ttl = self.error_retry_seconds if rules.status == "unreachable" else self.cache_seconds
        return now - rules.fetched_at < ttl

    def cached(self, url: str) -> RobotsRules | None:
        """The rules for `url`'s origin if known and fresh, else None (then call `load`)."""
        with self._lock:
            rules = self._rules.get(origin_of(url))
        if rules is None:
            return None
        return rules if self._fresh(rules, self.clock()) else None

    def _prune(self, now: float) -> None:
        """Drop expired entries, at most once per `prune_interval`; the caller holds the lock."""
        if now - self._pruned_at < self.prune_interval:
            return
        self._pruned_at = now
        for origin in [o for o, rules in self._rules.items() if not self._fresh(rules, now)]:
            del self._rules[origin]

    def load(self, url: str) -> RobotsRules:
        """Fetch and cache the robots.txt of `url`'s origin."""
        origin = origin_of(url)
        now = self.clock()
        try:
            fetch = self.fetcher.get(f"{origin}/robots.txt", accept="text/plain, */*;q=0.5",
                                     max_bytes=ROBOTS_MAX_BYTES, target="robots")
            FETCH_BYTES.labels("robots").inc(fetch.wire_bytes)
            text = fetch.body.decode("utf-8", "replace")
            rules = RobotsRules("rules", Protego.parse(text), now)
        except FetchError as exc:
            if exc.kind == "http_error":  # 4xx but 429: no usable file, so no restriction
                rules = RobotsRules("allow_all", None, now, str(exc))
            else:
                rules = RobotsRules("unreachable", None, now, f"{exc.kind}: {exc}")
                log.warning("robots.txt unreachable, holding the host: %s", exc, extra={"url": origin})
        with self._lock:
            self._prune(self.clock())
            self._rules[origin] = rules
        return rules
