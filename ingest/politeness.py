"""Per-host politeness inside one scraper process: a least delay between requests and a cap on concurrency.

Links are keyed by host on the links topic, so every link of a host reaches the same partition and therefore the
same scraper process: the limits below, kept in memory, hold for the whole consumer group. The delay runs from
the end of one request to the start of the next (a slow host gets slower traffic, not a burst after each slow
response), and a host that answered 429/503 with Retry-After is deferred as a whole.

The table of hosts is pruned: a host with nothing in flight, nobody waiting and its delay already over carries no
information (a fresh entry behaves the same), so it is dropped once every `prune_interval` seconds. Memory then
follows the hosts active in the last minute or so, not every host seen since the start.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from newswire.metrics import HOST_WAIT_SECONDS

__all__ = ["HostLimiter", "Stopped"]


class Stopped(Exception):
    """The service is stopping: the wait for a host slot was abandoned."""


@dataclass
class _Host:
    active: int = 0
    waiting: int = 0
    next_at: float = 0.0

    def idle(self, now: float) -> bool:
        """Forgetting this host changes nothing: no request in flight or waiting, no delay left to honour."""
        return self.active == 0 and self.waiting == 0 and self.next_at <= now


class HostLimiter:
    """Grants request slots per host: at most `max_concurrency` at once, `min_delay` apart (or more)."""

    def __init__(self, min_delay: float, max_concurrency: int, *, stop: threading.Event | None = None,
                 clock: Callable[[], float] = time.monotonic, prune_interval: float = 60.0) -> None:
        self.min_delay = min_delay
        self.max_concurrency = max_concurrency
        self.stop = stop or threading.Event()
        self.clock = clock
        self.prune_interval = prune_interval
        self._hosts: dict[str, _Host] = defaultdict(_Host)
        self._cond = threading.Condition()
        self._pruned_at = clock()

    def tracked_hosts(self) -> int:
        """How many hosts the table holds now (pruning keeps this to the recently active ones)."""
        with self._cond:
            return len(self._hosts)

    def _prune(self, now: float) -> None:
        """Drop idle hosts, at most once per `prune_interval`; the caller holds the lock."""
        if now - self._pruned_at < self.prune_interval:
            return
        self._pruned_at = now
        for host in [h for h, state in self._hosts.items() if state.idle(now)]:
            del self._hosts[host]

    @contextmanager
    def slot(self, host: str, delay: float | None = None) -> Iterator[float]:
        """Hold a request slot for `host`; yields the seconds waited. `delay` overrides the least delay."""
        gap = max(self.min_delay, delay or 0.0)
        started = self.clock()
        with self._cond:
            self._prune(started)
            state = self._hosts[host]
            state.waiting += 1
            try:
                while True:
                    if self.stop.is_set():
                        raise Stopped(host)
                    now = self.clock()
                    if state.active < self.max_concurrency and now >= state.next_at:
                        break
                    timeout = state.next_at - now if state.active < self.max_concurrency else 1.0
                    self._cond.wait(timeout=min(max(timeout, 0.01), 1.0))
            finally:
                state.waiting -= 1
            state.active += 1
            state.next_at = max(state.next_at, now + gap)
        waited = self.clock() - started
        HOST_WAIT_SECONDS.observe(waited)
        try:
            yield waited
        finally:
            with self._cond:
                state.active -= 1
                state.next_at = max(state.next_at, self.clock() + gap)
                self._cond.notify_all()

    def defer(self, host: str, seconds: float) -> None:
        """Send nothing to `host` for `seconds` (after a 429 or 503 with Retry-After)."""
        with self._cond:
            state = self._hosts[host]
            state.next_at = max(state.next_at, self.clock() + seconds)
            self._cond.notify_all()
