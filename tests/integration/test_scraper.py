"""The scraper against the local server and the real broker: robots.txt, per-host politeness measured from the
server's own request times, retries, dead letters, and one-off URLs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid

import pytest

from ingest.service import run_scraper
from newswire.kafka import ensure_topics
from newswire.records import ArticleLink, FeedEntryMeta, encode, utc_now
from newswire.service import Health
from newswire.settings import Settings
from tests.conftest import LocalServer, Route
from tests.ingest_support import http_settings
from tests.kafka_io import produce, read_topic

pytestmark = pytest.mark.kafka

PAGE = "<html><head><meta charset='iso-8859-1'><title>Page {n}</title></head><body><p>Article {n} : été</p></body></html>"


def _settings(bootstrap, topics, **scraper) -> Settings:
    options = dict(group_id=f"scrape-{uuid.uuid4().hex[:8]}", poll_timeout_ms=300, host_min_delay_seconds=0.3,
                   retry_backoff_seconds=0.2, max_attempts=3, workers=4)
    options.update(scraper)
    return Settings.model_validate({"kafka": {"bootstrap_servers": bootstrap}, "topics": topics.model_dump(),
                                    "http": http_settings().model_dump(), "scraper": options,
                                    "service": {"metrics_port": 0}})


class Site:
    """A LocalServer acting as one host, remembering when each page was requested."""

    def __init__(self, robots: str | None = "User-agent: *\nDisallow: /private/\n", robots_status: int = 200):
        self.server = LocalServer()
        self.times: dict[str, list[float]] = {}
        if robots is not None:
            self.server.routes["/robots.txt"] = Route(robots_status, robots.encode(), {"Content-Type": "text/plain"})

    def page(self, path: str, n: int, status: int = 200, headers: dict | None = None) -> str:
        def handler(request):
            self.times.setdefault(path, []).append(time.monotonic())
            return status, {"Content-Type": "text/html", **(headers or {})}, PAGE.format(n=n).encode("latin-1")
        self.server.routes[path] = Route(handler=handler)
        return self.server.url(path)

    def page_times(self) -> list[float]:
        return sorted(t for path, ts in self.times.items() for t in ts)

    def close(self):
        self.server.close()


@pytest.fixture
def sites():
    made: list[Site] = []

    def make(**kw) -> Site:
        made.append(Site(**kw))
        return made[-1]

    yield make
    for site in made:
        site.close()


def _links(urls: list[str]) -> list[tuple[bytes, bytes]]:
    from ingest.publish import host_key

    out = []
    for i, url in enumerate(urls):
        link = ArticleLink(link_id=uuid.uuid4().hex, url=url, source="test", discovered_at=utc_now(), language="fr",
                           feed=FeedEntryMeta(feed_url="https://feed.example/rss", entry_id=f"e{i}", title=f"T{i}"))
        out.append((host_key(url).encode(), encode(link)))
    return out


def _metric(name: str, labels: dict | None = None, **more) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, {**(labels or {}), **more}) or 0.0


def _scrape(settings: Settings, n: int):
    return run_scraper(settings, health=Health("scraper"), stop=threading.Event(), max_records=n,
                       idle_exit_seconds=20)


def test_scraper_politeness_robots_and_dead_letters(kafka_bootstrap, topic_settings, sites):
    slow = sites(robots="User-agent: *\nCrawl-delay: 0.6\nDisallow: /private/\n")
    fast = sites()
    settings = _settings(kafka_bootstrap, topic_settings)
    ensure_topics(settings.kafka, settings.topics)
    slow_urls = [slow.page(f"/a/{i}", i) for i in range(4)]
    fast_urls = [fast.page(f"/b/{i}", 10 + i) for i in range(4)]
    private = slow.page("/private/secret", 99)
    missing = fast.server.url("/gone")  # 404: permanent
    produce(kafka_bootstrap, topic_settings.links, _links(slow_urls + fast_urls + [private, missing]))

    watched = {"refused": ("newswire_robots_refusals_total", {"reason": "disallowed"}),
               "waits": ("newswire_host_wait_duration_seconds_count", {}),
               "waited": ("newswire_host_wait_duration_seconds_sum", {}),
               "page_bytes": ("newswire_fetch_bytes_total", {"kind": "page"}),
               "robots_bytes": ("newswire_fetch_bytes_total", {"kind": "robots"}),
               "page_fetches": ("newswire_fetch_duration_seconds_count", {"target": "page"}),
               "robots_fetches": ("newswire_fetch_duration_seconds_count", {"target": "robots"}),
               "ok": ("newswire_scrapes_total", {"result": "ok"}),
               "dead": ("newswire_scrapes_total", {"result": "dead_letter"}),
               "page_404": ("newswire_fetch_errors_total", {"target": "page", "kind": "http_error"})}
    before = {k: _metric(*v) for k, v in watched.items()}
    stats = _scrape(settings, 10)
    assert stats.outcomes == {"ok": 8, "robots_disallowed": 1, "dead_letter": 1}
    moved = {k: _metric(*v) - before[k] for k, v in watched.items()}
    print(f"scraper metrics moved: {moved}")
    assert (moved["refused"], moved["ok"], moved["dead"], moved["page_404"]) == (1, 8, 1, 1)
    assert moved["page_fetches"] == 9 and moved["robots_fetches"] == 2  # one robots.txt per host, cached
    assert moved["waits"] >= 9 + 2 and moved["waited"] >= 0.6 * 3  # the crawl-delay host waited 0.6 s thrice
    served = sum(len(PAGE.format(n=n).encode("latin-1")) for n in [0, 1, 2, 3, 10, 11, 12, 13])
    assert moved["page_bytes"] >= served and moved["robots_bytes"] > 0
    assert "/private/secret" not in slow.times  # robots.txt honoured: never requested

    raw = [json.loads(m.value) for m in read_topic(kafka_bootstrap, topic_settings.raw, expected=8)]
    assert len(raw) == 8
    record = next(r for r in raw if r["url"] == slow_urls[0])
    assert record["body_origin"] == "page" and "Article 0 : été" in record["body"]  # latin-1 decoded
    assert record["title"] == "T0" and record["feed"]["entry_id"] == "e0" and record["language"] == "fr"
    assert record["fetch"]["status"] == 200 and record["fetch"]["final_url"] == slow_urls[0]

    dead = read_topic(kafka_bootstrap, topic_settings.dead_letter, expected=1)
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["newswire.dlq.stage"] == "scrape" and headers["newswire.dlq.reason"] == "http_error"
    assert json.loads(dead[0].value)["url"] == missing

    # Per-host delay, from the servers' own clocks: Crawl-delay (0.6 s) on one host, the minimum (0.3 s) on the other.
    slow_gaps = [b - a for a, b in zip(slow.page_times(), slow.page_times()[1:])]
    fast_gaps = [b - a for a, b in zip(fast.page_times(), fast.page_times()[1:])]
    print(f"gaps between requests: crawl-delay host {[round(g, 2) for g in slow_gaps]}, "
          f"other host {[round(g, 2) for g in fast_gaps]}")
    assert min(slow_gaps) >= 0.6 - 0.02 and min(fast_gaps) >= 0.3 - 0.02
    # ... while the two hosts were fetched in parallel, not one after the other.
    assert fast.page_times()[0] < slow.page_times()[-1]


def test_unreachable_robots_holds_the_links_until_it_answers(kafka_bootstrap, topic_settings, sites):
    """RFC 9309: a robots.txt answering 5xx means "disallow for now". The host's links are held on the held topic
    (not dead-lettered, no attempt spent) and scraped once robots.txt answers again; meanwhile other hosts flow."""
    down = sites(robots=None)
    robots_calls: list[float] = []

    def robots(request):
        robots_calls.append(time.monotonic())
        if len(robots_calls) <= 2:  # down for the first two tries
            return 503, {"Retry-After": "0"}, b"oops"
        return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n"

    down.server.routes["/robots.txt"] = Route(handler=robots)
    flaky = sites(robots=None)  # no robots.txt (404): everything allowed
    calls = {"n": 0}

    def flaky_handler(request):
        calls["n"] += 1
        if calls["n"] == 1:
            return 503, {"Retry-After": "0"}, b"busy"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, "<p>Récupéré</p>".encode()

    flaky.server.routes["/story"] = Route(handler=flaky_handler)
    settings = _settings(kafka_bootstrap, topic_settings, host_min_delay_seconds=0.05, robots_error_retry_seconds=1.0,
                         max_attempts=2)
    ensure_topics(settings.kafka, settings.topics)
    held_urls = [down.page(f"/x/{i}", i) for i in range(3)]
    produce(kafka_bootstrap, topic_settings.links, _links(held_urls + [flaky.server.url("/story")]))
    unreachable_before = _metric("newswire_robots_refusals_total", reason="unreachable")
    started = time.monotonic()
    stats = _scrape(settings, 4)
    elapsed = time.monotonic() - started
    print(f"robots.txt tried at {[round(t - started, 2) for t in robots_calls]}s; held links scraped at "
          f"{[round(t - started, 2) for t in down.page_times()]}s; {stats.outcomes}; {elapsed:.1f}s in all")
    assert stats.outcomes["ok"] == 4 and stats.outcomes["dead_letter"] == 0 and stats.outcomes["held"] >= 3
    assert _metric("newswire_robots_refusals_total", reason="unreachable") - unreachable_before >= 6
    assert len(robots_calls) == 3  # tried again only after robots_error_retry_seconds, not once per link
    assert robots_calls[1] - robots_calls[0] >= 1.0 - 0.05
    assert min(down.page_times()) > robots_calls[-1]  # no page of the host was fetched while robots.txt was down
    assert calls["n"] == 2  # the other host's 503 page was retried once, meanwhile, and then succeeded
    assert read_topic(kafka_bootstrap, topic_settings.dead_letter, expected=None, settle=0.5) == []
    raw = [json.loads(m.value) for m in read_topic(kafka_bootstrap, topic_settings.raw, expected=4)]
    assert sorted(r["url"] for r in raw) == sorted(held_urls + [flaky.server.url("/story")])
    held = read_topic(kafka_bootstrap, f"{topic_settings.links}.held", expected=None, settle=0.5)
    assert len(held) >= 3 and {m.key for m in held} == {held_urls[0].split("//")[1].split("/")[0].encode()}
    headers = dict(held[0].headers)
    assert int(headers["newswire.hold.count"]) >= 1 and float(headers["newswire.hold.until"]) > 0


def test_a_link_held_too_long_is_dead_lettered(kafka_bootstrap, topic_settings, sites):
    """Holding is not forever: past max_hold_seconds a link whose robots.txt never answers becomes a dead letter."""
    down = sites(robots="oops", robots_status=503)
    settings = _settings(kafka_bootstrap, topic_settings, robots_error_retry_seconds=0.5, max_hold_seconds=1.5)
    ensure_topics(settings.kafka, settings.topics)
    produce(kafka_bootstrap, topic_settings.links, _links([down.page("/x", 1)]))
    stats = _scrape(settings, 1)
    assert stats.outcomes["dead_letter"] == 1 and stats.outcomes["held"] >= 2 and down.times == {}
    dead = read_topic(kafka_bootstrap, topic_settings.dead_letter, expected=1)
    headers = dict(dead[0].headers)
    assert headers["newswire.dlq.reason"] == b"robots_unreachable"
    assert b"max_hold_seconds" in headers["newswire.dlq.error_message"]
    assert int(headers["newswire.hold.count"]) >= 2  # the hold's history travels with the dead letter


def test_one_off_scrape_cli(http_server):
    import os

    http_server.routes["/robots.txt"] = Route(200, b"User-agent: *\nDisallow: /no\n")
    http_server.routes["/page"] = Route(200, b"<html><body><p>Hello</p></body></html>", {"Content-Type": "text/html"})
    env = dict(os.environ, NEWSWIRE_HTTP__ALLOW_NETWORKS='["127.0.0.1/32"]',
               NEWSWIRE_SCRAPER__HOST_MIN_DELAY_SECONDS="0")
    done = subprocess.run([sys.executable, "-m", "newswire.cli", "scrape", "--print", "--metrics-port", "0",
                           http_server.url("/page"), http_server.url("/no")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1  # one URL failed
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(records) == 1 and "Hello" in records[0]["body"] and records[0]["source"] == "cli"
    assert "robots_disallowed" in done.stderr
    assert [p for p, _ in http_server.requests] == ["/robots.txt", "/page"]
    assert http_server.requests[1][1]["user-agent"].startswith("newswire/")
