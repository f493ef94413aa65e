"""The poller against the local server and the real broker: validators, Retry-After, backoff, schedule, restart,
big feeds, repeated GUIDs, invalid XML, links versus raw records, sitemaps and OPML."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from kafka.admin import NewTopic

from ingest.http import Fetcher
from ingest.poller import FeedPoller
from ingest.publish import LinkPublisher, RawPublisher
from ingest.service import run_poller
from ingest.sources import FeedSource
from newswire.kafka import ensure_topics, make_producer
from newswire.service import Health
from newswire.settings import KafkaSettings, PollerSettings, Settings
from newswire.store import open_store
from tests.conftest import Route, seed_texts
from tests.feeds import rss
from tests.ingest_support import http_settings
from tests.kafka_io import read_topic

pytestmark = pytest.mark.kafka

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture
def make_poller(kafka_bootstrap, topic_settings):
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), topic_settings)
    opened = []

    def build(feeds, store_url, **options):
        store = open_store(store_url)
        producer = make_producer(KafkaSettings(bootstrap_servers=kafka_bootstrap))
        fetcher = Fetcher(http_settings())
        opened.append((store, producer, fetcher))
        return FeedPoller(feeds=feeds, store=store, fetcher=fetcher,
                          publisher=RawPublisher(producer, topic_settings.raw),
                          links=LinkPublisher(producer, topic_settings.links),
                          options=PollerSettings(workers=2, **options))

    yield build
    for store, producer, fetcher in opened:
        producer.close(timeout=5)
        fetcher.close()
        store.close()


def summary_rss(n: int, start: datetime | None = None, gap: timedelta = timedelta(minutes=10),
                guid=lambda i: f"urn:entry:{i}", ttl: int | None = None) -> bytes:
    """RSS of `n` summary-only entries (no full text), newest first, `gap` apart."""
    start = start or datetime.now(timezone.utc)
    items = "".join(
        f"<item><title>Entry {i}</title><link>https://site{i % 3}.example/a/{i}</link>"
        f"<guid isPermaLink=\"false\">{escape(guid(i))}</guid><pubDate>{format_datetime(start - gap * i)}</pubDate>"
        f"<description>Summary {i}</description></item>" for i in range(n))
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>'
            f"<link>https://site.example/</link>{ttl_tag}{items}</channel></rss>").encode()


def _etag_route(body: bytes, etag: str = '"v1"') -> Route:
    def handler(request):
        if request.headers.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, b""
        return 200, {"ETag": etag, "Content-Type": "application/rss+xml"}, body
    return Route(handler=handler)


def test_entries_become_links_and_a_matching_etag_gets_304(make_poller, http_server, sqlite_url, topic_settings,
                                                           kafka_bootstrap):
    http_server.routes["/feed"] = _etag_route(summary_rss(6))
    feed = FeedSource(name="f", url=http_server.url("/feed"))
    poller = make_poller([feed], sqlite_url)
    first = poller.poll_feed(feed)
    assert (first.result, first.links, first.published) == ("new_content", 6, 0)
    second = poller.poll_feed(feed)
    assert second.result == "not_modified"
    assert http_server.requests[-1][1]["if-none-match"] == '"v1"'
    links = read_topic(kafka_bootstrap, topic_settings.links, expected=6)
    assert len(links) == 6
    # keyed by host: each host's links are on one partition
    by_host: dict[bytes, set[int]] = {}
    for message in links:
        by_host.setdefault(message.key, set()).add(message.partition)
        record = json.loads(message.value)
        assert record["feed"]["entry_id"].startswith("urn:entry:") and record["source"] == "f"
    assert set(by_host) == {b"site0.example", b"site1.example", b"site2.example"}
    assert all(len(p) == 1 for p in by_host.values())


def test_full_text_entries_go_raw_unless_links_are_asked_for(make_poller, http_server, sqlite_url, topic_settings,
                                                             kafka_bootstrap):
    texts = list(seed_texts().values())
    http_server.routes["/full"] = Route(200, rss([{"link": f"https://n.example/{i}", "title": f"T{i}", "text": t}
                                                  for i, t in enumerate(texts)]))
    auto = FeedSource(name="auto", url=http_server.url("/full"))
    links = FeedSource(name="links", url=http_server.url("/full") + "?", publish="links")
    http_server.routes["/full?"] = http_server.routes["/full"]
    poller = make_poller([auto, links], sqlite_url)
    assert poller.poll_feed(auto).published == 5
    assert poller.poll_feed(links).links == 5
    raw = [json.loads(m.value) for m in read_topic(kafka_bootstrap, topic_settings.raw, expected=5)]
    assert {r["body_origin"] for r in raw} == {"feed_content"} and len(raw) == 5
    assert len(read_topic(kafka_bootstrap, topic_settings.links, expected=5)) == 5


def test_retry_after_error_backoff_and_recovery(make_poller, http_server, sqlite_url):
    state = {"mode": "503"}

    def handler(request):
        if state["mode"] == "503":
            return 503, {"Retry-After": "7200"}, b"busy"
        if state["mode"] == "500":
            return 500, {}, b"oops"
        return 200, {"Content-Type": "application/rss+xml"}, summary_rss(3)

    http_server.routes["/feed"] = Route(handler=handler)
    feed = FeedSource(name="f", url=http_server.url("/feed"))
    poller = make_poller([feed], sqlite_url, min_interval_seconds=60, max_interval_seconds=3600)
    before = datetime.now(timezone.utc)
    assert poller.poll_feed(feed).result == "http_error"
    saved = poller.store.feed_state(feed.url)
    # Retry-After (7200 s) beats the backoff but is capped by the maximum interval (3600 s)
    assert saved.error_count == 1 and saved.next_check_at >= before + timedelta(seconds=3590)
    state["mode"] = "500"
    delays = []
    for _ in range(6):
        start = datetime.now(timezone.utc)
        assert poller.poll_feed(feed).result == "http_error"
        delays.append((poller.store.feed_state(feed.url).next_check_at - start).total_seconds())
    assert poller.store.feed_state(feed.url).error_count == 7
    assert delays[-1] > delays[0] and max(delays) <= 3600  # grows, capped, never disabled
    state["mode"] = "ok"
    result = poller.poll_feed(feed)
    recovered = poller.store.feed_state(feed.url)
    assert result.result == "new_content" and recovered.error_count == 0 and recovered.last_error is None
    assert recovered.last_success_at is not None


def test_adaptive_interval_busy_and_quiet(make_poller, http_server, sqlite_url):
    http_server.routes["/busy"] = Route(200, summary_rss(20, gap=timedelta(minutes=10)))
    http_server.routes["/quiet"] = Route(200, summary_rss(20, gap=timedelta(days=2), guid=lambda i: f"q{i}"))
    busy, quiet = FeedSource(name="busy", url=http_server.url("/busy")), FeedSource(name="q", url=http_server.url("/quiet"))
    poller = make_poller([busy, quiet], sqlite_url, min_interval_seconds=60, max_interval_seconds=43_200)
    poller.poll_once()
    busy_interval = poller.store.feed_state(busy.url).interval_seconds
    quiet_interval = poller.store.feed_state(quiet.url).interval_seconds
    print(f"busy interval {busy_interval:.0f}s, quiet interval {quiet_interval:.0f}s")
    assert 250 <= busy_interval <= 350 and quiet_interval == 43_200


def test_restart_publishes_nothing_twice_and_repeated_guids_once(make_poller, http_server, sqlite_url,
                                                                 topic_settings, kafka_bootstrap):
    body = summary_rss(8, guid=lambda i: f"urn:g:{i % 5}")  # 8 items, 5 distinct GUIDs
    http_server.routes["/feed"] = Route(200, body)
    feed = FeedSource(name="f", url=http_server.url("/feed"))
    assert make_poller([feed], sqlite_url).poll_feed(feed).links == 5
    restarted = make_poller([feed], sqlite_url)  # a new process: new store connection, new producer
    assert restarted.poll_feed(feed).result == "no_new_entries"
    assert len(read_topic(kafka_bootstrap, topic_settings.links, expected=6, timeout=4)) == 5


def test_invalid_xml_is_a_parse_error_and_backs_off(make_poller, http_server, sqlite_url, topic_settings,
                                                    kafka_bootstrap):
    http_server.routes["/bad"] = Route(200, b"<html><body><p>Service unavailable</p></body></html>")
    feed = FeedSource(name="bad", url=http_server.url("/bad"))
    poller = make_poller([feed], sqlite_url)
    assert poller.poll_feed(feed).result == "parse_error"
    assert poller.store.feed_state(feed.url).error_count == 1
    sitemap = FeedSource(name="badmap", url=http_server.url("/bad"), kind="sitemap")
    assert poller.poll_feed(sitemap).result == "parse_error"


def test_ten_thousand_entries(make_poller, http_server, sqlite_url, topic_settings, kafka_bootstrap):
    http_server.routes["/big"] = Route(200, summary_rss(10_000, gap=timedelta(seconds=30)))
    feed = FeedSource(name="big", url=http_server.url("/big"))
    poller = make_poller([feed], sqlite_url, max_entries_per_fetch=20_000)
    started = time.perf_counter()
    result = poller.poll_feed(feed)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = poller.poll_feed(feed)
    second = time.perf_counter() - started
    print(f"10,000-entry feed: first poll {first:.2f}s ({result.links} links), second poll {second:.2f}s")
    assert result.links == 10_000 and again.result == "no_new_entries"
    assert poller.store.count("feed_entries") == 10_000


def test_news_sitemap_source(make_poller, http_server, sqlite_url, topic_settings, kafka_bootstrap):
    import gzip

    http_server.routes["/sitemap-news.xml.gz"] = Route(200, gzip.compress((FIXTURES / "news-sitemap.xml").read_bytes()))
    http_server.routes["/index.xml"] = Route(200, (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>'
        f'{http_server.url("/sitemap-news.xml.gz")}</loc></sitemap></sitemapindex>').encode())
    source = FeedSource(name="map", url=http_server.url("/index.xml"), kind="sitemap")
    result = make_poller([source], sqlite_url).poll_feed(source)
    assert result.links == 2
    links = [json.loads(m.value) for m in read_topic(kafka_bootstrap, topic_settings.links, expected=2)]
    assert {link["feed"]["title"] for link in links} == {"Résultats des élections", "Météo du jour"}
    assert {link["language"] for link in links} == {"fr"}


def test_opml_feeds_file_with_run_poller(kafka_bootstrap, topic_settings, http_server, sqlite_url, tmp_path):
    http_server.routes["/a"] = Route(200, summary_rss(2, guid=lambda i: f"a{i}"))
    http_server.routes["/b"] = Route(200, summary_rss(3, guid=lambda i: f"b{i}"))
    opml = tmp_path / "subs.opml"
    opml.write_text(f'<opml version="2.0"><body><outline text="A" xmlUrl="{http_server.url("/a")}"/>'
                    f'<outline text="B" xmlUrl="{http_server.url("/b")}"/></body></opml>')
    settings = Settings.model_validate({
        "kafka": {"bootstrap_servers": kafka_bootstrap}, "topics": topic_settings.model_dump(),
        "store": {"url": sqlite_url}, "http": http_settings().model_dump(), "service": {"metrics_port": 0}})
    ensure_topics(settings.kafka, settings.topics)
    results = run_poller(settings, opml, health=Health("poller"), stop=threading.Event(), once=True)
    assert sorted((r.feed, r.links) for r in results) == [("a", 2), ("b", 3)]


def test_state_advances_only_for_what_the_broker_acknowledged(make_poller, http_server, sqlite_url, kafka_bootstrap):
    """The broker cannot take the records (the links topic does not exist yet, and the broker does not create
    topics): the poll is a publish_error, no entry is marked seen and the ETag is not kept, so the next poll
    fetches the whole document again and publishes every entry, once, when the broker accepts records."""
    from kafka.admin import KafkaAdminClient

    topic = f"t.links.late.{uuid.uuid4().hex[:8]}"
    http_server.routes["/feed"] = _etag_route(summary_rss(4))
    feed = FeedSource(name="f", url=http_server.url("/feed"))
    poller = make_poller([feed], sqlite_url)
    producer = make_producer(KafkaSettings(bootstrap_servers=kafka_bootstrap), max_block_ms=1500)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        poller.links = LinkPublisher(producer, topic, ack_timeout_seconds=10)
        failed = poller.poll_feed(feed)
        state = poller.store.feed_state(feed.url)
        assert failed.result == "publish_error" and failed.links == 0
        assert state.etag is None and state.error_count == 1 and state.last_success_at is None
        assert poller.store.count("feed_entries") == 0
        admin.create_topics([NewTopic(topic, 2, 1)])
        recovered = poller.poll_feed(feed)
        assert "if-none-match" not in http_server.requests[-1][1]  # validators were not advanced by the failure
        assert (recovered.result, recovered.links) == ("new_content", 4)
        assert poller.store.feed_state(feed.url).etag == '"v1"' and poller.store.count("feed_entries") == 4
        assert poller.poll_feed(feed).result == "not_modified"
        assert len(read_topic(kafka_bootstrap, topic, expected=5, timeout=4)) == 4  # each entry once
    finally:
        producer.close(timeout=5)
        admin.delete_topics([topic])
        admin.close()


def _metric(name: str, **labels) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_poller_metrics_move_with_bounded_labels(make_poller, http_server, sqlite_url):
    """Every poller metric the issue lists moves when its event happens, and no label carries a URL or a host."""
    from prometheus_client import REGISTRY

    from tests.ingest_support import RawServer, drip

    state = {"bad": True}
    http_server.routes["/ok"] = _etag_route(summary_rss(6, guid=lambda i: f"m-ok-{i}"))
    http_server.routes["/plain"] = Route(200, summary_rss(3, guid=lambda i: f"m-plain-{i}"))
    http_server.routes["/xml"] = Route(200, b"<rss><channel><item>")
    http_server.routes["/flaky"] = Route(handler=lambda r: (500, {}, b"down") if state["bad"] else
                                         (200, {"Content-Type": "application/rss+xml"}, summary_rss(1)))
    slow = RawServer(drip(headers_first=False, interval=0.05, seconds=3))
    feeds = {name: FeedSource(name=name, url=url) for name, url in [
        ("m-ok", http_server.url("/ok")), ("m-plain", http_server.url("/plain")), ("m-xml", http_server.url("/xml")),
        ("m-flaky", http_server.url("/flaky")), ("m-refused", "http://10.255.255.1/feed"),
        ("m-slow", slow.url("/feed"))]}
    poller = make_poller(list(feeds.values()), sqlite_url)
    poller.fetcher = Fetcher(http_settings(total_timeout_seconds=0.5))
    names = ["new_content", "not_modified", "no_new_entries", "http_error", "parse_error", "timeout", "refused"]
    before = {r: _metric("newswire_feed_polls_total", result=r) for r in names}
    entries_before = {r: _metric("newswire_feed_entries_total", result=r) for r in ("new", "seen")}
    polls_before = _metric("newswire_feed_poll_duration_seconds_count")
    fetches_before = _metric("newswire_fetch_duration_seconds_count", target="feed")
    bytes_before = _metric("newswire_fetch_bytes_total", kind="feed")
    started = time.time()
    try:
        results = {name: poller.poll_feed(feed).result for name, feed in feeds.items()}
        assert results == {"m-ok": "new_content", "m-plain": "new_content", "m-xml": "parse_error",
                           "m-flaky": "http_error", "m-refused": "refused", "m-slow": "timeout"}
        assert _metric("newswire_feeds_in_backoff") == 4
        assert poller.poll_feed(feeds["m-ok"]).result == "not_modified"
        assert poller.poll_feed(feeds["m-plain"]).result == "no_new_entries"
        state["bad"] = False
        assert poller.poll_feed(feeds["m-flaky"]).result == "new_content"
        assert _metric("newswire_feeds_in_backoff") == 3  # recovered: out of backoff
    finally:
        poller.fetcher.close()
        slow.close()
    moved = {r: _metric("newswire_feed_polls_total", result=r) - before[r] for r in names}
    assert moved == {"new_content": 3, "not_modified": 1, "no_new_entries": 1, "http_error": 1, "parse_error": 1,
                     "timeout": 1, "refused": 1}
    assert _metric("newswire_feed_entries_total", result="new") - entries_before["new"] == 6 + 3 + 1
    assert _metric("newswire_feed_entries_total", result="seen") - entries_before["seen"] == 3
    assert _metric("newswire_feed_poll_duration_seconds_count") - polls_before == 9
    assert _metric("newswire_fetch_duration_seconds_count", target="feed") - fetches_before == 9
    assert _metric("newswire_fetch_bytes_total", kind="feed") - bytes_before > len(summary_rss(6))
    assert _metric("newswire_fetch_errors_total", target="feed", kind="refused") >= 1
    for name in ("m-ok", "m-plain", "m-flaky"):
        assert _metric("newswire_feed_last_success_timestamp_seconds", source=name) >= int(started)
        assert _metric("newswire_feed_interval_seconds", source=name) >= 60
    assert _metric("newswire_feed_last_success_timestamp_seconds", source="m-xml") == 0  # never succeeded

    # Bounded labels: only these label names on ingest metrics, and no value that is a URL or a host.
    allowed = {"result", "target", "kind", "reason", "source", "origin", "le"}
    for family in REGISTRY.collect():
        if not family.name.startswith(("newswire_feed", "newswire_fetch", "newswire_scrapes", "newswire_robots",
                                       "newswire_host_wait", "newswire_links", "newswire_raw_published")):
            continue
        for sample in family.samples:
            assert set(sample.labels) <= allowed, (family.name, sample.labels)
            assert not any("://" in v or "127.0.0.1" in v or "10.255" in v for v in sample.labels.values())


def test_restart_restores_each_sources_last_success_time(make_poller, http_server, sqlite_url, topic_settings,
                                                         kafka_bootstrap):
    """The stalled-source alert needs the last success time even when a source never succeeds after a restart."""
    from prometheus_client import REGISTRY

    from newswire.metrics import FEED_LAST_SUCCESS

    http_server.routes["/ok"] = Route(200, summary_rss(2))
    feed = FeedSource(name="restored", url=http_server.url("/ok"))
    first = make_poller([feed], sqlite_url)
    first.poll_feed(feed)
    succeeded = first.store.feed_state(feed.url).last_success_at
    FEED_LAST_SUCCESS.remove("restored")  # a new process starts with no series
    restarted = make_poller([feed], sqlite_url)
    restarted.stop.set()  # read the state, then stop before polling
    restarted.run()
    value = REGISTRY.get_sample_value("newswire_feed_last_success_timestamp_seconds", {"source": "restored"})
    assert value == pytest.approx(succeeded.timestamp())
