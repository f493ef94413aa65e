"""poll → raw → process → store + clean topic, on the real broker, for SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from ingest.service import run_poller
from newswire.kafka import ensure_topics
from newswire.records import RawArticle, encode, utc_now
from newswire.service import Health
from newswire.settings import Settings
from newswire.store import open_store
from processors.service import run_processor
from tests.conftest import seed_texts
from tests.feeds import rss
from tests.kafka_io import produce, read_topic

pytestmark = pytest.mark.kafka


def _settings(bootstrap: str, topics, store_url: str, feeds_file=None) -> Settings:
    return Settings.model_validate({
        "kafka": {"bootstrap_servers": bootstrap},
        "topics": topics.model_dump(),
        "store": {"url": store_url},
        "poller": {"feeds_file": str(feeds_file) if feeds_file else None, "workers": 2},
        "processor": {"group_id": f"test-{uuid.uuid4().hex[:8]}", "batch_size": 50, "poll_timeout_ms": 300},
        "service": {"metrics_port": 0},
        "http": {"allow_networks": ["127.0.0.1/32"]},  # the feeds are on the loopback test server
    })


def _poll(settings: Settings):
    results = run_poller(settings, settings.poller.feeds_file, health=Health("poller"), stop=threading.Event(),
                         once=True)
    return sum(r.published for r in results)


def _process(settings: Settings, records: int):
    return run_processor(settings, health=Health("processor"), stop=threading.Event(), max_records=records,
                         idle_exit_seconds=30)


def test_feed_to_clean_topic_and_store(kafka_bootstrap, topic_settings, store_url, http_server, tmp_path):
    texts = list(seed_texts().values())
    entries = [{"link": f"https://news.example.fr/2022/09/article-{i}.html", "title": f"Article {i}", "text": t}
               for i, t in enumerate(texts)]
    http_server.routes["/feed.xml"] = _route(rss(entries))
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - name: seeds\n    url: {http_server.url('/feed.xml')}\n")
    settings = _settings(kafka_bootstrap, topic_settings, store_url, feeds_file)
    ensure_topics(settings.kafka, settings.topics)

    # Poll: one raw record per entry.
    assert _poll(settings) == 5
    raw = read_topic(kafka_bootstrap, topic_settings.raw, expected=5)
    assert len(raw) == 5

    # Process: five clean French records in the store and on the clean topic.
    stats = _process(settings, 5)
    assert stats.outcomes["clean"] == 5
    clean = [json.loads(m.value) for m in read_topic(kafka_bootstrap, topic_settings.clean, expected=5)]
    assert len(clean) == 5
    assert {c["language"] for c in clean} == {"fr"}
    assert all(c["language_confidence"] > 0.9 for c in clean)
    store = open_store(store_url)
    try:
        assert store.count("articles") == 5
        assert {a.article_id for a in store.articles()} == {c["article_id"] for c in clean}
    finally:
        store.close()

    # Polling again publishes nothing.
    assert _poll(settings) == 0

    # The first entry again, under a URL with tracking parameters: a duplicate, not a new article.
    repeated = dict(entries[0], link=entries[0]["link"] + "?utm_source=x", guid="repeat-0")
    http_server.routes["/feed.xml"] = _route(rss(entries + [repeated]))
    assert _poll(settings) == 1
    stats = _process(settings, 1)
    assert stats.outcomes["duplicate"] == 1
    duplicates = [json.loads(m.value) for m in read_topic(kafka_bootstrap, topic_settings.duplicates, expected=1)]
    assert len(duplicates) == 1
    assert duplicates[0]["kind"] == "url"
    assert duplicates[0]["duplicate_of"] == clean_by_url(clean, entries[0]["link"])["article_id"]
    assert len(read_topic(kafka_bootstrap, topic_settings.clean, expected=6, timeout=3)) == 5
    store = open_store(store_url)
    try:
        assert store.count("articles") == 5 and store.count("duplicates") == 1
    finally:
        store.close()


def test_malformed_message_goes_to_dead_letters_and_next_is_processed(kafka_bootstrap, topic_settings, store_url):
    settings = _settings(kafka_bootstrap, topic_settings, store_url)
    ensure_topics(settings.kafka, settings.topics)
    good = RawArticle(raw_id=uuid.uuid4().hex, url="https://news.example.fr/ok", source="test",
                      fetched_at=utc_now(), content_type="text/plain", body=list(seed_texts().values())[1])
    # Same key, so both land on one partition in this order: the bad record must not block the good one.
    produce(kafka_bootstrap, topic_settings.raw, [(b"k", b'{"schema_version": 1, "raw_id": truncated'),
                                                  (b"k", encode(good))])
    stats = _process(settings, 2)
    assert stats.outcomes == {"dead_letter": 1, "clean": 1}
    dead = read_topic(kafka_bootstrap, topic_settings.dead_letter, expected=1)
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert dead[0].value == b'{"schema_version": 1, "raw_id": truncated'
    assert headers["newswire.dlq.stage"] == "decode"
    assert headers["newswire.dlq.error_class"] == "RecordError"
    assert "not JSON" in headers["newswire.dlq.error_message"]
    assert headers["newswire.dlq.source_topic"] == topic_settings.raw
    assert headers["newswire.dlq.source_offset"] == "0"
    clean = read_topic(kafka_bootstrap, topic_settings.clean, expected=1)
    assert json.loads(clean[0].value)["raw_id"] == good.raw_id


def test_every_kind_of_poison_is_dead_lettered(kafka_bootstrap, topic_settings, store_url):
    """Wrong schema version, schema-invalid record, unusable URL: each to dead letters with its stage."""
    settings = _settings(kafka_bootstrap, topic_settings, store_url)
    ensure_topics(settings.kafka, settings.topics)
    good = RawArticle(raw_id=uuid.uuid4().hex, url="https://news.example.fr/fine", source="test",
                      fetched_at=utc_now(), content_type="text/plain", body=list(seed_texts().values())[0])
    bad_url = good.model_copy(update={"raw_id": uuid.uuid4().hex, "url": "ftp://news.example.fr/x"})
    future = json.loads(encode(good))
    future["schema_version"] = 2
    produce(kafka_bootstrap, topic_settings.raw, [
        (b"k", json.dumps(future).encode()),
        (b"k", json.dumps({"schema_version": 1, "url": "https://x.example/"}).encode()),
        (b"k", encode(bad_url)),
        (b"k", encode(good)),
    ])
    stats = _process(settings, 4)
    assert stats.outcomes == {"dead_letter": 3, "clean": 1}
    dead = read_topic(kafka_bootstrap, topic_settings.dead_letter, expected=3)
    reasons = [({k: v.decode() for k, v in m.headers})["newswire.dlq.stage"] for m in dead]
    messages = [({k: v.decode() for k, v in m.headers})["newswire.dlq.error_message"] for m in dead]
    assert reasons == ["decode", "decode", "identify"]
    assert "unsupported schema_version 2" in messages[0]
    assert "invalid raw record" in messages[1]
    assert "not an absolute http(s) URL" in messages[2]


def clean_by_url(records: list[dict], url: str) -> dict:
    return next(r for r in records if r["url"] == url)


def _route(body: bytes):
    from tests.conftest import Route

    return Route(200, body, {"Content-Type": "application/rss+xml; charset=utf-8"})
