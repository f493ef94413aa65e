"""Per-host politeness and the robots.txt cache stay bounded on a long run over many hosts."""

from __future__ import annotations

import threading
import time

from ingest.politeness import HostLimiter, Stopped
from ingest.robots import RobotsCache
from tests.conftest import Route
from tests.ingest_support import http_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_idle_hosts_are_pruned_and_pruning_changes_no_decision():
    clock = FakeClock()
    limiter = HostLimiter(min_delay=2.0, max_concurrency=1, clock=clock, prune_interval=60.0)
    for i in range(10_000):  # a long run: ten thousand different hosts, one request each
        with limiter.slot(f"host{i}.example"):
            pass
    assert limiter.tracked_hosts() == 10_000  # not pruned before prune_interval has passed
    limiter.defer("slow.example", 3600)  # a host still deferred by a Retry-After must be remembered
    clock.now += 61
    with limiter.slot("fresh.example") as waited:
        assert waited == 0
    assert limiter.tracked_hosts() == 2  # fresh.example (its delay is running) and slow.example (deferred)
    # slow.example still waits out its deferral: pruning forgot nothing that mattered.
    limiter.stop = threading.Event()
    outcome: list[str] = []

    def request() -> None:
        try:
            with limiter.slot("slow.example"):
                outcome.append("fetched")
        except Stopped:
            outcome.append("stopped")

    thread = threading.Thread(target=request, daemon=True)
    thread.start()
    thread.join(timeout=0.3)
    assert thread.is_alive() and outcome == []  # blocked by the deferral, as before pruning
    limiter.stop.set()
    thread.join(timeout=3)
    assert outcome == ["stopped"]


def test_busy_or_waiting_hosts_are_never_pruned():
    clock = FakeClock()
    limiter = HostLimiter(min_delay=0.0, max_concurrency=1, clock=clock, prune_interval=0.0)
    with limiter.slot("busy.example"):
        clock.now += 3600
        with limiter.slot("other.example"):  # pruning runs here: busy.example has a request in flight
            pass
        assert limiter.tracked_hosts() == 2
    clock.now += 1
    with limiter.slot("third.example"):
        pass
    assert limiter.tracked_hosts() == 1  # both idle hosts gone, only the one just used remains


def test_per_host_delay_still_holds_with_pruning_on():
    limiter = HostLimiter(min_delay=0.2, max_concurrency=1, prune_interval=0.0)
    starts = []
    for _ in range(3):
        with limiter.slot("a.example"):
            starts.append(time.monotonic())
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 0.2 - 0.01


def test_robots_cache_drops_expired_origins(http_server):
    from ingest.http import Fetcher

    http_server.routes["/robots.txt"] = Route(200, b"User-agent: *\nDisallow: /private/\n")
    clock = FakeClock()
    fetcher = Fetcher(http_settings())
    try:
        cache = RobotsCache(fetcher, cache_seconds=100, error_retry_seconds=10, clock=clock, prune_interval=50)
        base = http_server.url("/")
        # the same server under many origins (a port per origin is not possible; the user-info part differs)
        origins = [base.replace("127.0.0.1", f"u{i}@127.0.0.1") for i in range(20)]
        for origin in origins:
            assert cache.load(origin + "a").status == "rules"
        assert len(cache) == 20
        clock.now += 101  # every entry expired
        assert cache.cached(origins[0] + "a") is None
        cache.load(origins[0] + "a")  # a load prunes (its interval has passed)
        assert len(cache) == 1
        assert cache.cached(origins[0] + "private/x").allowed(origins[0] + "private/x", "newswire") is False
    finally:
        fetcher.close()
