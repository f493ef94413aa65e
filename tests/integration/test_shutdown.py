"""SIGTERM, the way Kubernetes stops a pod: each service finishes its in-flight batch, commits, flushes and exits
within service.shutdown_grace_seconds.

The processor check is the strong one: the real `newswire process` on the real broker is stopped mid-stream,
a second run finishes the stream, and every raw record ends up exactly once in the store and exactly once on the
clean topic (read_committed). The poller and the scraper are stopped while a fetch is in flight and must exit
in time, with what they fetched published.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from newswire.kafka import ensure_topics
from newswire.records import ArticleLink, FeedEntryMeta, RawArticle, encode, utc_now
from newswire.settings import KafkaSettings
from tests.conftest import Route, seed_texts
from tests.feeds import rss
from tests.kafka_io import produce, read_topic

pytestmark = pytest.mark.kafka

GRACE_SECONDS = 15.0


def _env(bootstrap: str, topics, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSWIRE_")}
    env.update({
        "NEWSWIRE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "NEWSWIRE_TOPICS__RAW": topics.raw, "NEWSWIRE_TOPICS__CLEAN": topics.clean,
        "NEWSWIRE_TOPICS__DUPLICATES": topics.duplicates, "NEWSWIRE_TOPICS__DEAD_LETTER": topics.dead_letter,
        "NEWSWIRE_TOPICS__LINKS": topics.links, "NEWSWIRE_TOPICS__PARTITIONS": "3",
        "NEWSWIRE_STORE__URL": f"sqlite:///{tmp_path / 'store.sqlite'}",
        "NEWSWIRE_SERVICE__METRICS_PORT": "0",
        "NEWSWIRE_SERVICE__SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        "NEWSWIRE_HTTP__ALLOW_NETWORKS": '["127.0.0.1/32"]',
        **extra,
    })
    return env


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "newswire.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _terminate(proc: subprocess.Popen) -> tuple[float, str]:
    """SIGTERM `proc`; returns the seconds it took to exit and its stderr."""
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=GRACE_SECONDS + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"still running {GRACE_SECONDS + 30}s after SIGTERM:\n{err[-3000:]}")
    return time.monotonic() - signalled, err


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"exited before {what}:\n{proc.communicate()[1][-3000:]}")
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}:\n{proc.communicate()[1][-3000:]}")


def _distinct_texts(count: int) -> list[str]:
    """`count` article texts with no sentence in common, so each record is a unique article (no duplicates)."""
    words = sorted({w for text in seed_texts().values() for w in re.findall(r"[^\W\d_]{4,}", text)})
    rng = random.Random(7)
    return [". ".join(" ".join(rng.choice(words) for _ in range(14)).capitalize() for _ in range(6)) + "."
            for _ in range(count)]


def _articles_in(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_processor_sigterm_mid_stream_loses_and_duplicates_nothing(kafka_bootstrap, topic_settings, tmp_path):
    total = 150
    topics = topic_settings.model_copy(update={"partitions": 3})
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), topics)
    records = [RawArticle(raw_id=uuid.uuid4().hex, url=f"https://stop.example/a{i}", source="shutdown",
                          fetched_at=utc_now(), content_type="text/plain", body=text)
               for i, text in enumerate(_distinct_texts(total))]
    produce(kafka_bootstrap, topics.raw, [(r.url.encode(), encode(r)) for r in records])
    env = _env(kafka_bootstrap, topics, tmp_path, NEWSWIRE_PROCESSOR__BATCH_SIZE="5",
               NEWSWIRE_PROCESSOR__GROUP_ID=f"stop-{topics.raw}", NEWSWIRE_PROCESSOR__POLL_TIMEOUT_MS="300")
    store = tmp_path / "store.sqlite"

    first = _start(["process"], env)
    _wait_for(lambda: _articles_in(store) >= 10, 120, "the first articles in the store", first)
    seconds, err = _terminate(first)
    assert first.returncode == 0, err[-3000:]
    assert seconds < GRACE_SECONDS, f"exited {seconds:.1f}s after SIGTERM"
    stopped_at = _articles_in(store)
    print(f"first run stopped {seconds:.2f}s after SIGTERM with {stopped_at}/{total} articles stored")
    assert stopped_at < total, "the stream was finished before the signal: the test proves nothing"

    second = subprocess.run([sys.executable, "-m", "newswire.cli", "process", "--idle-exit", "6"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]

    with sqlite3.connect(store) as conn:
        stored = [row[0] for row in conn.execute("SELECT raw_id FROM articles")]
    assert sorted(stored) == sorted(r.raw_id for r in records)
    clean = read_topic(kafka_bootstrap, topics.clean, expected=total, timeout=60, settle=2.0)
    published = [json.loads(m.value)["raw_id"] for m in clean]
    assert len(published) == total and set(published) == set(stored)
    assert read_topic(kafka_bootstrap, topics.duplicates, timeout=3) == []
    assert read_topic(kafka_bootstrap, topics.dead_letter, timeout=3) == []


def _slow(seconds: float, status: int, headers: dict[str, str], body: bytes):
    def handler(_request):
        time.sleep(seconds)
        return status, headers, body
    return Route(handler=handler)


def test_poller_sigterm_finishes_the_poll_in_flight_and_exits_in_time(kafka_bootstrap, topic_settings, tmp_path,
                                                                       http_server):
    texts = _distinct_texts(6)
    fast = [{"link": f"https://fast.example/a{i}", "title": f"F{i}", "text": t} for i, t in enumerate(texts[:3])]
    slow = [{"link": f"https://slow.example/a{i}", "title": f"S{i}", "text": t} for i, t in enumerate(texts[3:])]
    http_server.routes["/fast"] = Route(200, rss(fast), {"Content-Type": "application/rss+xml"})
    http_server.routes["/slow"] = _slow(4.0, 200, {"Content-Type": "application/rss+xml"}, rss(slow))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - name: fast\n    url: {http_server.url('/fast')}\n"
                     f"  - name: slow\n    url: {http_server.url('/slow')}\n")
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), topic_settings)
    proc = _start(["poll", "--feeds", str(feeds)], _env(kafka_bootstrap, topic_settings, tmp_path))
    # The slow feed is being fetched when the fast one's entries are out: stop then.
    _wait_for(lambda: len(read_topic(kafka_bootstrap, topic_settings.raw, expected=3, timeout=0.5, settle=0.1)) >= 3,
              60, "the fast feed's entries", proc)
    assert any(path == "/slow" for path, _ in http_server.requests)
    seconds, err = _terminate(proc)
    assert proc.returncode == 0, err[-3000:]
    assert seconds < GRACE_SECONDS, f"exited {seconds:.1f}s after SIGTERM"
    raw = read_topic(kafka_bootstrap, topic_settings.raw, expected=6, timeout=10)
    assert sorted(json.loads(m.value)["url"] for m in raw) == sorted(e["link"] for e in fast + slow)


def test_scraper_sigterm_exits_in_time_and_loses_no_link(kafka_bootstrap, topic_settings, tmp_path, http_server):
    from ingest.publish import host_key

    page = b"<html><head><title>Slow</title></head><body><p>" + b" mot" * 60 + b"</p></body></html>"
    http_server.routes["/robots.txt"] = Route(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"})
    urls = []
    for i in range(4):
        http_server.routes[f"/p{i}"] = _slow(1.5, 200, {"Content-Type": "text/html"}, page)
        urls.append(http_server.url(f"/p{i}"))
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), topic_settings)
    links = [ArticleLink(link_id=uuid.uuid4().hex, url=url, source="test", discovered_at=utc_now(),
                         feed=FeedEntryMeta(feed_url="https://feed.example/rss", entry_id=f"e{i}", title=f"T{i}"))
             for i, url in enumerate(urls)]
    produce(kafka_bootstrap, topic_settings.links, [(host_key(l.url).encode(), encode(l)) for l in links])
    env = _env(kafka_bootstrap, topic_settings, tmp_path, NEWSWIRE_SCRAPER__GROUP_ID=f"stop-{topic_settings.links}",
               NEWSWIRE_SCRAPER__HOST_MIN_DELAY_SECONDS="0", NEWSWIRE_SCRAPER__POLL_TIMEOUT_MS="300")
    proc = _start(["scrape"], env)
    _wait_for(lambda: any(path.startswith("/p") for path, _ in http_server.requests), 60, "a page fetch", proc)
    seconds, err = _terminate(proc)
    assert proc.returncode == 0, err[-3000:]
    assert seconds < GRACE_SECONDS, f"exited {seconds:.1f}s after SIGTERM"
    first = read_topic(kafka_bootstrap, topic_settings.raw, timeout=3)
    print(f"scraper exited {seconds:.2f}s after SIGTERM with {len(first)}/{len(urls)} pages published")
    assert len(first) < len(urls), "every link was scraped before the signal: the test proves nothing"

    # What was not published was not committed either: the next run scrapes it.
    again = subprocess.run([sys.executable, "-m", "newswire.cli", "scrape", "--idle-exit", "4"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
    raw = read_topic(kafka_bootstrap, topic_settings.raw, timeout=5)
    assert {json.loads(m.value)["url"] for m in raw} == set(urls)


def test_a_stuck_service_is_ended_by_the_grace_watchdog():
    """If the polite path hangs (a batch stuck on a dead dependency), the process still ends at the grace period,
    with its own exit status so the logs tell it from a clean stop."""
    script = ("import os, signal, threading, time\n"
              "from newswire.service import install_stop_handlers\n"
              "stop = threading.Event()\n"
              "install_stop_handlers(stop, grace_seconds=1.0)\n"
              "os.kill(os.getpid(), signal.SIGTERM)\n"
              "time.sleep(60)  # ignores `stop`, like a hung batch\n")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    from newswire.service import EXIT_GRACE_EXCEEDED

    assert result.returncode == EXIT_GRACE_EXCEEDED, result.stderr[-2000:]
    assert "exiting without finishing" in result.stderr
