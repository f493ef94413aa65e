"""Near duplicates raced by two worker processes on the real broker and PostgreSQL, then a replay."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid

import pytest
from kafka import KafkaProducer

from newswire.kafka import ensure_topics
from newswire.records import RawArticle, encode, utc_now
from newswire.settings import KafkaSettings, TopicSettings
from newswire.store import open_store
from tests.conftest import AEB, _reset_postgres, seed_texts
from tests.kafka_io import read_topic

pytestmark = pytest.mark.kafka

PARTITIONS = 4
PAIRS = 50
SINGLES = 100


def _bases() -> list[str]:
    """150 distinct real news texts (AEB article bodies, then the seeds)."""
    truth = json.loads((AEB / "ground-truth.json").read_text(encoding="utf-8"))
    bodies = [v["articleBody"] for _, v in sorted(truth.items())
              if v.get("articleBody") and len(v["articleBody"].split()) >= 80]
    texts = (bodies + list(seed_texts().values()))[:PAIRS + SINGLES]
    assert len(texts) == PAIRS + SINGLES
    return texts


def _edit(text: str, seed: int) -> str:
    """A republished copy: 5 % of the words changed and a line of chrome added."""
    rng = random.Random(seed)
    words = text.split()
    for i in rng.sample(range(len(words)), len(words) // 20):
        words[i] = rng.choice(["reportedly", "officially", "several", "according", "nearly"])
    return " ".join(words) + "\n\nShare this article on Facebook"


def _raw(text: str, n: int) -> RawArticle:
    return RawArticle(raw_id=uuid.uuid4().hex, url=f"https://outlet{n % 7}.example/news/{uuid.uuid4().hex}",
                      source=f"outlet{n % 7}", fetched_at=utc_now(), content_type="text/plain", body=text,
                      language="en")


def _env(bootstrap: str, topics: TopicSettings, store_url: str, group: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "NEWSWIRE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "NEWSWIRE_TOPICS__RAW": topics.raw, "NEWSWIRE_TOPICS__CLEAN": topics.clean,
        "NEWSWIRE_TOPICS__DUPLICATES": topics.duplicates, "NEWSWIRE_TOPICS__DEAD_LETTER": topics.dead_letter,
        "NEWSWIRE_TOPICS__LINKS": topics.links, "NEWSWIRE_TOPICS__PARTITIONS": str(PARTITIONS),
        "NEWSWIRE_STORE__URL": store_url, "NEWSWIRE_PROCESSOR__GROUP_ID": group,
        "NEWSWIRE_PROCESSOR__POLL_TIMEOUT_MS": "200", "NEWSWIRE_PROCESSOR__BATCH_SIZE": "10",
        "NEWSWIRE_SERVICE__METRICS_PORT": "0",
    })
    return env


def test_two_workers_keep_exactly_one_of_each_near_duplicate_pair(kafka_bootstrap, postgres_dsn, topic_settings):
    _reset_postgres(postgres_dsn)
    open_store(postgres_dsn).close()  # create the tables before the workers race to
    topics = topic_settings.model_copy(update={"partitions": PARTITIONS})
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), topics)

    bases = _bases()
    pairs = [(_raw(bases[i], i), _raw(_edit(bases[i], i), i + 1)) for i in range(PAIRS)]
    singles = [_raw(text, PAIRS + i) for i, text in enumerate(bases[PAIRS:])]
    # The two copies of a pair go to different partitions at the same position, so the two workers meet them at
    # about the same moment; singles are spread in between.
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        for i, (first, second) in enumerate(pairs):
            producer.send(topics.raw, key=first.url.encode(), value=encode(first), partition=i % PARTITIONS)
            producer.send(topics.raw, key=second.url.encode(), value=encode(second),
                          partition=(i + PARTITIONS // 2) % PARTITIONS)
            for single in singles[2 * i:2 * i + 2]:
                producer.send(topics.raw, key=single.url.encode(), value=encode(single),
                              partition=(i + 1) % PARTITIONS)
        producer.flush(timeout=30)
    finally:
        producer.close()

    env = _env(kafka_bootstrap, topics, postgres_dsn, f"race-{uuid.uuid4().hex[:8]}")
    workers = [subprocess.Popen([sys.executable, "-m", "newswire.cli", "process", "--idle-exit", "8"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
        assert "'clean'" in err.split("processor stopped:")[-1], "a worker handled nothing: no race tested"

    clean = [json.loads(m.value) for m in read_topic(kafka_bootstrap, topics.clean, expected=PAIRS + SINGLES)]
    duplicates = [json.loads(m.value) for m in read_topic(kafka_bootstrap, topics.duplicates, expected=PAIRS)]
    clean_raw_ids = {c["raw_id"] for c in clean}
    by_raw = {c["raw_id"]: c for c in clean}
    assert len(clean) == PAIRS + SINGLES and len(duplicates) == PAIRS
    assert all(s.raw_id in clean_raw_ids for s in singles)
    duplicate_of = {d["raw_id"]: d for d in duplicates}
    for first, second in pairs:
        kept = [r for r in (first, second) if r.raw_id in clean_raw_ids]
        assert len(kept) == 1, f"pair {first.raw_id}/{second.raw_id}: {len(kept)} unique"
        other = second if kept[0] is first else first
        assert duplicate_of[other.raw_id]["kind"] == "near"
        assert duplicate_of[other.raw_id]["duplicate_of"] == by_raw[kept[0].raw_id]["article_id"]
    assert all(c["story_id"] for c in clean)
    store = open_store(postgres_dsn)
    try:
        assert all(store.get_article(c["article_id"]) is not None for c in clean)
        assert all(store.get_duplicate(raw_id) is not None for raw_id in duplicate_of)
    finally:
        store.close()

    # A replay of the raw topic from the start: same decisions, nothing new on the clean or duplicates topics.
    replay = subprocess.run([sys.executable, "-m", "newswire.cli", "replay"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert f"replayed {2 * PAIRS + SINGLES} records" in replay.stderr
    assert len(read_topic(kafka_bootstrap, topics.clean, expected=PAIRS + SINGLES + 1, timeout=3)) == PAIRS + SINGLES
    assert len(read_topic(kafka_bootstrap, topics.duplicates, expected=PAIRS + 1, timeout=3)) == PAIRS
