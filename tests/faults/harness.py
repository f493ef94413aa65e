"""The fault suite's harness: dedicated services, a known corpus, processor processes, and the oracle.

The suite gets its own Kafka broker and its own PostgreSQL cluster (started with the repo's scripts on other
ports and directories), because scenarios stop and restart them; the services every other test uses are never
touched. The oracle follows `../shared/docs/reliability.md` §0: every seeded raw record ends as exactly one
clean, duplicate or dead-letter record (or an intended drop), on the output topics read with `read_committed`
and in the store, with no record twice, nothing missing, nothing extra, and the same content on both sides.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import psycopg
from kafka import KafkaProducer

from newswire.kafka import ensure_topics
from newswire.records import RawArticle, encode
from newswire.settings import KafkaSettings, TopicSettings
from tests.kafka_io import read_topic

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("NEWSWIRE_SHARED", REPO.parent / "shared"))
AEB_HTML = SHARED / "datasets" / "scrapinghub-aeb" / "html"


# -- services ------------------------------------------------------------------------------------------------
@dataclass
class ServiceScript:
    """One of the repo's local service scripts (deploy/kafka-local, deploy/postgres-local) on its own instance."""

    script: str
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run([str(REPO / "deploy" / self.script), *args], env={**os.environ, **self.env},
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{self.script} {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done.stdout.strip()

    def start(self) -> str:
        return self.run("start")

    def stop(self) -> None:
        self.run("stop")


# -- the corpus ----------------------------------------------------------------------------------------------
def corpus(count: int) -> list[RawArticle]:
    """`count` raw records made from real news pages, with ids derived from the page (stable across runs)."""
    pages = sorted(AEB_HTML.glob("*.html.gz"))[:count]
    if len(pages) < count:
        raise RuntimeError(f"need {count} pages under {AEB_HTML}, found {len(pages)}")
    fetched = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    records = []
    for page in pages:
        name = page.name.split(".")[0]
        records.append(RawArticle(
            raw_id=uuid.uuid5(uuid.NAMESPACE_URL, name).hex, url=f"https://news{len(records) % 5}.example/{name}",
            source="faults", fetched_at=fetched, content_type="text/html",
            body=gzip.decompress(page.read_bytes()).decode("utf-8", errors="replace")))
    return records


POISON = [
    b'{"schema_version": 1, "raw_id": "truncated',  # broken JSON
    b'{"schema_version": 9, "raw_id": "p2", "url": "https://x.example/a"}',  # unknown schema version
    b'{"schema_version": 1, "raw_id": "p3", "url": "ftp://x.example/a", "source": "s",'
    b' "fetched_at": "2026-11-01T00:00:00Z", "content_type": "text/html", "body": "<p>x</p>"}',  # not http(s)
    b"\xff\xfe\x00garbage",  # not even UTF-8
]


@dataclass(frozen=True)
class Expected:
    """What the corpus must turn into, by raw id: outcome (clean/duplicate/dropped) and the article id."""

    outcomes: dict[str, str]
    article_ids: dict[str, str]
    poison: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)


# -- one scenario --------------------------------------------------------------------------------------------
@dataclass
class Scenario:
    """Fresh topics, a fresh database and a consumer group on the fault suite's broker and PostgreSQL."""

    name: str
    bootstrap: str
    admin_dsn: str
    partitions: int = 3
    topics: TopicSettings = field(init=False)
    dsn: str = field(init=False)
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    workdir: Path | None = None

    def __post_init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.topics = TopicSettings(raw=f"f.raw.{suffix}", clean=f"f.clean.{suffix}", duplicates=f"f.dup.{suffix}",
                                    dead_letter=f"f.dlq.{suffix}", links=f"f.links.{suffix}",
                                    partitions=self.partitions)
        ensure_topics(KafkaSettings(bootstrap_servers=self.bootstrap), self.topics)
        database = f"faults_{self.name}_{suffix}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        self.dsn = self.admin_dsn.rsplit("/", 1)[0] + f"/{database}"

    # -- input
    def produce(self, records: list[RawArticle], poison: list[bytes] = ()) -> None:
        """Publish the records (keyed by URL, as the scraper does) and the poison values; wait for the acks."""
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", retries=20, max_block_ms=60_000)
        try:
            for record in records:
                producer.send(self.topics.raw, key=record.url.encode(), value=encode(record))
            for index, value in enumerate(poison):
                producer.send(self.topics.raw, key=f"poison-{index}".encode(), value=value)
            producer.flush(timeout=60)
        finally:
            producer.close(timeout=10)

    # -- processors
    def env(self, *, prefix: str, failpoints: str = "") -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "NEWSWIRE_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "NEWSWIRE_TOPICS__RAW": self.topics.raw, "NEWSWIRE_TOPICS__CLEAN": self.topics.clean,
            "NEWSWIRE_TOPICS__DUPLICATES": self.topics.duplicates,
            "NEWSWIRE_TOPICS__DEAD_LETTER": self.topics.dead_letter, "NEWSWIRE_TOPICS__LINKS": self.topics.links,
            "NEWSWIRE_STORE__URL": self.dsn,
            "NEWSWIRE_PROCESSOR__GROUP_ID": f"faults-{self.name}",
            "NEWSWIRE_PROCESSOR__BATCH_SIZE": "3",
            "NEWSWIRE_PROCESSOR__POLL_TIMEOUT_MS": "200",
            "NEWSWIRE_PROCESSOR__RETRY_BACKOFF_SECONDS": "0.5",
            "NEWSWIRE_PROCESSOR__RETRY_BACKOFF_MAX_SECONDS": "2",
            "NEWSWIRE_PROCESSOR__TRANSACTIONAL_ID_PREFIX": f"faults-{self.name}-{prefix}",
            "NEWSWIRE_SERVICE__METRICS_PORT": "0",
            "NEWSWIRE_SERVICE__SHUTDOWN_GRACE_SECONDS": "20",
            "NEWSWIRE_FAILPOINTS": failpoints,
            # the worker runs in the `process` command's own process (no recycling supervisor), so the failpoints'
            # kill and stop hit the process the scenario watches
            "NEWSWIRE_PROCESSOR__RECYCLE_AFTER_RECORDS": "0",
        })
        return env

    def start_processor(self, prefix: str, *, failpoints: str = "", idle_exit: float | None = None
                        ) -> subprocess.Popen:
        """`newswire process` as its own OS process (logs kept for the failure report)."""
        assert self.workdir is not None
        log_path = self.workdir / f"processor-{prefix}-{len(self.logs)}.log"
        args = [sys.executable, "-m", "newswire.cli", "process"]
        if idle_exit is not None:
            args += ["--idle-exit", str(idle_exit)]
        log_file = log_path.open("wb")
        process = subprocess.Popen(args, env=self.env(prefix=prefix, failpoints=failpoints), stdout=log_file,
                                   stderr=subprocess.STDOUT, cwd=self.workdir)
        self.processes.append(process)
        self.logs.append(log_path)
        return process

    def finish(self, prefix: str = "final", idle_exit: float = 6.0, timeout: float = 180) -> None:
        """Run one more processor until the raw topic is drained and it has been idle for `idle_exit` seconds."""
        process = self.start_processor(prefix, idle_exit=idle_exit)
        code = process.wait(timeout=timeout)
        if code != 0:
            raise AssertionError(f"final processor exited {code}\n{self.tail_logs()}")

    def stop_all(self, sig: int = signal.SIGKILL) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(sig)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def tail_logs(self, lines: int = 40) -> str:
        out = []
        for path in self.logs:
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            out.append(f"--- {path.name}\n" + "\n".join(text[-lines:]))
        return "\n".join(out)

    # -- observation
    def stored(self) -> int:
        """Raw records with a decision in the store (articles + duplicates); 0 while the store is unreachable."""
        try:
            with psycopg.connect(self.dsn, connect_timeout=3) as conn:
                return sum(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                           for table in ("articles", "duplicates"))
        except psycopg.Error:
            return 0


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.3) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


# -- the oracle ----------------------------------------------------------------------------------------------
def read_all(bootstrap: str, topic: str, isolation: str = "read_committed", settle: float = 1.5) -> list:
    """Every record of `topic` visible under `isolation`, read from the start to the end offsets."""
    return read_topic(bootstrap, topic, timeout=60, settle=settle, isolation=isolation)


def _digest(rows: list[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(sorted(rows)).encode()).hexdigest()


@dataclass(frozen=True)
class Verdict:
    """What one scenario produced, compared with what it had to produce."""

    clean_ids: Counter
    duplicate_raw_ids: Counter
    dead_letters: int
    store_articles: int
    store_duplicates: int
    topic_digest: str
    store_digest: str
    uncommitted_clean: int

    def row(self) -> dict[str, int | bool]:
        return {"clean": sum(self.clean_ids.values()), "duplicates": sum(self.duplicate_raw_ids.values()),
                "dead_letters": self.dead_letters, "aborted_or_uncommitted_seen": self.uncommitted_clean,
                "checksums_equal": self.topic_digest == self.store_digest}


def verify(scenario: Scenario, expected: Expected) -> Verdict:
    """Check the loss-accounting identity on the topics (read_committed) and the store; return the figures."""
    clean = read_all(scenario.bootstrap, scenario.topics.clean)
    duplicates = read_all(scenario.bootstrap, scenario.topics.duplicates)
    dead = read_all(scenario.bootstrap, scenario.topics.dead_letter)
    uncommitted = read_all(scenario.bootstrap, scenario.topics.clean, isolation="read_uncommitted", settle=0.5)
    clean_records = [json.loads(m.value) for m in clean]
    clean_ids = Counter(r["article_id"] for r in clean_records)
    duplicate_raw_ids = Counter(json.loads(m.value)["raw_id"] for m in duplicates)
    with psycopg.connect(scenario.dsn) as conn:
        store_rows = conn.execute("SELECT article_id, record FROM articles").fetchall()
        store_duplicates = conn.execute("SELECT raw_id FROM duplicates").fetchall()
    verdict = Verdict(
        clean_ids=clean_ids, duplicate_raw_ids=duplicate_raw_ids, dead_letters=len(dead),
        store_articles=len(store_rows), store_duplicates=len(store_duplicates),
        topic_digest=_digest([(r["article_id"], hashlib.sha256(r["text"].encode()).hexdigest())
                              for r in clean_records]),
        store_digest=_digest([(a, hashlib.sha256(json.loads(rec)["text"].encode()).hexdigest())
                              for a, rec in store_rows]),
        uncommitted_clean=len(uncommitted) - len(clean))
    want_clean = {expected.article_ids[r] for r, o in expected.outcomes.items() if o == "clean"}
    want_duplicates = {r for r, o in expected.outcomes.items() if o == "duplicate"}
    twice = {k: v for k, v in clean_ids.items() if v > 1}
    assert not twice, f"clean records published more than once: {twice}\n{scenario.tail_logs()}"
    assert set(clean_ids) == want_clean, (
        f"clean topic: missing {len(want_clean - set(clean_ids))}, extra {len(set(clean_ids) - want_clean)}\n"
        f"{scenario.tail_logs()}")
    assert max(duplicate_raw_ids.values(), default=1) == 1, f"duplicate records twice: {duplicate_raw_ids}"
    assert set(duplicate_raw_ids) == want_duplicates
    assert verdict.dead_letters == expected.poison, f"dead letters: {verdict.dead_letters} != {expected.poison}"
    assert verdict.store_articles == len(want_clean), f"store articles {verdict.store_articles} != {len(want_clean)}"
    assert {a for a, _ in store_rows} == want_clean
    assert verdict.store_duplicates == len(want_duplicates)
    assert verdict.topic_digest == verdict.store_digest, "clean topic and store hold different texts"
    return verdict
