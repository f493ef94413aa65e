"""Fixtures of the fault suite: its own broker and PostgreSQL cluster, the corpus and its expected outcomes."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

from newswire.store import open_store
from processors.article import Drop
from processors.pipeline import build_pipeline
from tests.faults.harness import Expected, Scenario, ServiceScript, corpus

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

FAULT_KAFKA_PORT = int(os.environ.get("NEWSWIRE_FAULT_KAFKA_PORT", "29092"))
FAULT_PG_PORT = int(os.environ.get("NEWSWIRE_FAULT_PG_PORT", "5442"))
CORPUS_SIZE = 36


def _unavailable(what: str, error: Exception) -> None:
    message = f"the fault suite needs {what}: {error}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="session")
def fault_kafka():
    """A broker of the suite's own (own data dir and ports), so scenarios may stop and restart it."""
    home = Path(tempfile.mkdtemp(prefix="newswire-fault-kafka-"))
    broker = ServiceScript("kafka-local", {"NEWSWIRE_KAFKA_HOME": str(home),
                                           "NEWSWIRE_KAFKA_PORT": str(FAULT_KAFKA_PORT),
                                           "NEWSWIRE_KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m"})
    if not _port_free(FAULT_KAFKA_PORT):
        broker.stop()  # a broker left over by an interrupted run of this suite
    try:
        broker.bootstrap = broker.start()
    except Exception as exc:  # noqa: BLE001 - reported as a failure under CI
        _unavailable(f"a second Kafka broker on 127.0.0.1:{FAULT_KAFKA_PORT}", exc)
    yield broker
    broker.run("reset")


@pytest.fixture(scope="session")
def fault_postgres():
    """A PostgreSQL cluster of the suite's own (Debian cluster `nwfaults`), so scenarios may restart it."""
    cluster = ServiceScript("postgres-local", {"NEWSWIRE_PG_CLUSTER": "nwfaults",
                                               "NEWSWIRE_PG_PORT": str(FAULT_PG_PORT)})
    try:
        cluster.start()
        cluster.admin_dsn = cluster.run("dsn", "newswire")
    except Exception as exc:  # noqa: BLE001 - reported as a failure under CI
        _unavailable(f"a second PostgreSQL cluster on port {FAULT_PG_PORT}", exc)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def raw_corpus():
    return corpus(CORPUS_SIZE)


@pytest.fixture(scope="session")
def expected(raw_corpus, tmp_path_factory) -> Expected:
    """The outcome of each raw record when processed once, in order, without faults (the oracle's reference)."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('baseline') / 'baseline.sqlite'}")
    pipeline = build_pipeline(store)
    outcomes, article_ids = {}, {}
    try:
        for raw in raw_corpus:
            result = pipeline.process(raw)
            if isinstance(result, Drop):
                outcomes[raw.raw_id] = "dropped"
                continue
            outcomes[raw.raw_id] = "duplicate" if result.duplicate is not None else "clean"
            article_ids[raw.raw_id] = result.article_id
    finally:
        store.close()
    return Expected(outcomes=outcomes, article_ids=article_ids)


@pytest.fixture
def scenario(request, fault_kafka, fault_postgres, tmp_path):
    made = Scenario(name=request.node.name.removeprefix("test_")[:30].replace("[", "_").replace("]", ""),
                    bootstrap=fault_kafka.bootstrap, admin_dsn=fault_postgres.admin_dsn)
    made.workdir = tmp_path
    yield made
    made.stop_all()
