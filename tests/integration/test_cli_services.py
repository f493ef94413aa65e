"""The console commands as users run them: `run`, `tail`, `replay`, `topics ensure`, and the status endpoint."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import Route, seed_texts
from tests.feeds import rss
from tests.kafka_io import read_topic

pytestmark = pytest.mark.kafka


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(bootstrap: str, topics, store_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "NEWSWIRE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "NEWSWIRE_TOPICS__RAW": topics.raw, "NEWSWIRE_TOPICS__CLEAN": topics.clean,
        "NEWSWIRE_TOPICS__DUPLICATES": topics.duplicates, "NEWSWIRE_TOPICS__DEAD_LETTER": topics.dead_letter,
        "NEWSWIRE_TOPICS__LINKS": topics.links, "NEWSWIRE_TOPICS__PARTITIONS": "2",
        "NEWSWIRE_STORE__URL": store_url,
        "NEWSWIRE_HTTP__ALLOW_NETWORKS": '["127.0.0.1/32"]',  # the feeds are on the loopback test server
        "NEWSWIRE_PROCESSOR__GROUP_ID": f"cli-{topics.raw}",
        "NEWSWIRE_PROCESSOR__POLL_TIMEOUT_MS": "300",
    })
    return env


def _newswire(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newswire.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_run_then_tail_then_replay(kafka_bootstrap, topic_settings, tmp_path, http_server):
    texts = list(seed_texts().values())
    entries = [{"link": f"https://news.example.fr/a{i}", "title": f"A{i}", "text": t} for i, t in enumerate(texts)]
    http_server.routes["/rss"] = Route(200, rss(entries), {"Content-Type": "application/rss+xml"})
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - name: local\n    url: {http_server.url('/rss')}\n")
    store_url = f"sqlite:///{tmp_path / 'run.sqlite'}"
    env = _env(kafka_bootstrap, topic_settings, store_url)
    port = _free_port()

    # `newswire run` creates the topics, polls and processes until SIGTERM; it serves /metrics meanwhile.
    proc = subprocess.Popen([sys.executable, "-m", "newswire.cli", "run", "--feeds", str(feeds),
                             "--metrics-port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        clean = read_topic(kafka_bootstrap, topic_settings.clean, expected=5, timeout=90) if _wait_topic(
            kafka_bootstrap, topic_settings.clean) else []
        assert len(clean) == 5
        status, body = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert 'newswire_records_processed_total{outcome="clean"} 5.0' in body
        assert 'newswire_stage_duration_seconds_count{stage="extract"}' in body
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        assert _get(f"http://127.0.0.1:{port}/readyz")[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]

    # `tail` prints the clean records, filtered by language.
    tail = _newswire("tail", "--from-beginning", "--max", "5", "--language", "fr", "--timeout", "10", env=env)
    assert tail.returncode == 0, tail.stderr[-2000:]
    assert len(tail.stdout.splitlines()) == 5
    assert _newswire("tail", "--from-beginning", "--language", "de", "--timeout", "3",
                     env=env).stdout.strip() == ""

    # `replay` re-processes the raw topic in a fresh group: same rules, so nothing new is published.
    replay = _newswire("replay", env=env)
    assert replay.returncode == 0, replay.stderr[-2000:]
    assert "replayed 5 records" in replay.stderr
    assert len(read_topic(kafka_bootstrap, topic_settings.clean, expected=6, timeout=3)) == 5


def _wait_topic(bootstrap: str, topic: str, timeout: float = 60) -> bool:
    from kafka import KafkaConsumer

    deadline = time.monotonic() + timeout
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        while time.monotonic() < deadline:
            if consumer.partitions_for_topic(topic):
                return True
            time.sleep(0.5)
            consumer.topics()
        return False
    finally:
        consumer.close()


def test_topics_ensure_is_idempotent(kafka_bootstrap, topic_settings, tmp_path):
    env = _env(kafka_bootstrap, topic_settings, f"sqlite:///{tmp_path / 's.sqlite'}")
    first = _newswire("topics", "ensure", env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert f"{topic_settings.raw}\tcreated" in first.stdout
    second = _newswire("topics", "ensure", env=env)
    assert f"{topic_settings.raw}\texists" in second.stdout
    listed = _newswire("topics", "list", env=env)
    assert f"{topic_settings.raw}\t2 partitions" in listed.stdout


def test_process_with_two_worker_processes(kafka_bootstrap, topic_settings, tmp_path):
    """`process --workers 2` shares the partitions between two processes; every record is handled once."""
    import uuid

    from newswire.kafka import ensure_topics
    from newswire.records import RawArticle, encode, utc_now
    from newswire.settings import KafkaSettings
    from tests.kafka_io import produce

    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), topic_settings.model_copy(update={"partitions": 2}))
    base = list(seed_texts().values())
    records = [RawArticle(raw_id=uuid.uuid4().hex, url=f"https://n{i % 4}.example/a{i}", source="t",
                          fetched_at=utc_now(), content_type="text/plain",
                          body=f"Dépêche numéro {i}. " + base[i % 5]) for i in range(20)]
    produce(kafka_bootstrap, topic_settings.raw, [(r.url.encode(), encode(r)) for r in records])
    store_url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    env = _env(kafka_bootstrap, topic_settings, store_url)
    result = _newswire("process", "--workers", "2", "--idle-exit", "8", "--metrics-port", "0", env=env, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    # The 20 bodies are 5 texts with one differing sentence: near duplicates, so 5 clean and 15 duplicates.
    clean = read_topic(kafka_bootstrap, topic_settings.clean, expected=5)
    duplicates = read_topic(kafka_bootstrap, topic_settings.duplicates, expected=15)
    handled = [json.loads(m.value)["raw_id"] for m in clean + duplicates]
    assert len(handled) == 20 and len(set(handled)) == 20
    assert len(clean) == 5


def test_process_recycles_its_worker_after_n_records(kafka_bootstrap, topic_settings, tmp_path):
    """With `processor.recycle_after_records`, the supervisor replaces a worker after N records (bounded memory);
    the records keep flowing exactly once across the replacements."""
    import uuid

    from newswire.kafka import ensure_topics
    from newswire.records import RawArticle, encode, utc_now
    from newswire.settings import KafkaSettings
    from tests.kafka_io import produce

    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), topic_settings.model_copy(update={"partitions": 1}))
    texts = list(seed_texts().values())
    records = [RawArticle(raw_id=uuid.uuid4().hex, url=f"https://r.example/a{i}", source="t", fetched_at=utc_now(),
                          content_type="text/plain", body=texts[i % 5]) for i in range(12)]
    produce(kafka_bootstrap, topic_settings.raw, [(r.url.encode(), encode(r)) for r in records])
    env = _env(kafka_bootstrap, topic_settings, f"sqlite:///{tmp_path / 'r.sqlite'}")
    env.update({"NEWSWIRE_PROCESSOR__RECYCLE_AFTER_RECORDS": "5", "NEWSWIRE_PROCESSOR__BATCH_SIZE": "5"})
    result = _newswire("process", "--idle-exit", "5", "--metrics-port", "0", env=env, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("recycling processor-0") == 2, result.stderr[-3000:]
    clean = read_topic(kafka_bootstrap, topic_settings.clean, expected=5)
    duplicates = read_topic(kafka_bootstrap, topic_settings.duplicates, expected=7)
    handled = [json.loads(m.value)["raw_id"] for m in clean + duplicates]
    assert sorted(handled) == sorted(r.raw_id for r in records)
