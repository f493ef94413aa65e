"""The fault suite: crashes, restarts, outages, rebalances, a zombie and poison, on a real broker and PostgreSQL.

Every scenario seeds known raw records, injects its fault, lets processing finish, and checks the oracle of
`harness.verify`: each expected clean record exactly once on the clean topic read with `read_committed` and in
the store, each duplicate once, each poison record once in the dead-letter topic, and equal text checksums on the
topic and in the store. Crash points are hit exactly through failpoints (`newswire/failpoints.py`). The figures
each scenario measured are printed as one JSON line (`FAULT {...}`) for the README's table (`pytest -s`).
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import replace

import pytest

from tests.faults.harness import POISON, Expected, Scenario, Verdict, verify, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.faults]

FAST_SESSION = {"NEWSWIRE_PROCESSOR__SESSION_TIMEOUT_MS": "6000"}


def _decided(expected: Expected) -> int:
    return expected.count("clean") + expected.count("duplicate")


def _check(name: str, scenario: Scenario, expected: Expected, **facts) -> Verdict:
    """Verify the oracle, print the scenario's figures as one `FAULT {...}` line, return them."""
    verdict = verify(scenario, expected)
    print("FAULT " + json.dumps({"scenario": name, "expected_clean": expected.count("clean"), **verdict.row(),
                                 **facts}))
    return verdict


def _start(scenario: Scenario, prefix: str, **kwargs):
    return scenario.start_processor(prefix, **kwargs)


@pytest.fixture(autouse=True)
def _fast_sessions(monkeypatch):
    for key, value in FAST_SESSION.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("point, hit", [("worker.consumed", 3), ("worker.stored", 5), ("worker.published", 3)],
                         ids=["after_consuming", "after_store_write", "after_publish_before_commit"])
def test_kill_9(scenario, raw_corpus, expected, point, hit):
    """kill -9 at an exact point of the batch, restart under the same transactional id, finish."""
    scenario.produce(raw_corpus)
    crashed = _start(scenario, "a", failpoints=f"{point}=kill@{hit}")
    assert crashed.wait(timeout=120) == -signal.SIGKILL, scenario.tail_logs()
    before = scenario.stored()
    scenario.finish(prefix="a")  # the same transactional id: fences the dead producer, aborts its transaction
    verdict = _check(f"kill -9 {point.split('.')[1]}", scenario, expected, decided_before_crash=before)
    if point == "worker.published":
        # the crash left records in the log inside a transaction that was then aborted: invisible, as required
        assert verdict.uncommitted_clean >= 1


def test_rolling_sigterm_restart(scenario, raw_corpus, expected):
    """Two processors; each in turn is stopped politely and restarted while records keep arriving."""
    waves = [raw_corpus[:12], raw_corpus[12:24], raw_corpus[24:]]
    scenario.produce(waves[0])
    workers = {"a": _start(scenario, "a"), "b": _start(scenario, "b")}
    wait_until(lambda: scenario.stored() >= 6, 120, "first records")
    exits = []
    for name, wave in zip(("a", "b"), waves[1:]):
        started = time.monotonic()
        workers[name].send_signal(signal.SIGTERM)
        exits.append(workers[name].wait(timeout=30))
        exits.append(round(time.monotonic() - started, 1))
        scenario.produce(wave)
        workers[name] = _start(scenario, name)
    wait_until(lambda: scenario.stored() >= _decided(expected), 180, "all records decided")
    scenario.stop_all(signal.SIGTERM)
    assert exits[0] == 0 and exits[2] == 0, scenario.tail_logs()
    assert max(exits[1], exits[3]) < 20, "a SIGTERMed processor exceeded its grace period"
    _check("rolling SIGTERM restart of two processors", scenario, expected,
            stop_seconds=[exits[1], exits[3]])


def _outage_mid_stream(scenario, raw_corpus, expected, service, *, pause: float, produce_while_down: bool) -> None:
    """Half the records, a processor at work, `service` stopped for `pause` seconds, then restarted; the other half
    arrives while it is down (when the broker is not the service stopped) or once it is back."""
    half = len(raw_corpus) // 2
    scenario.produce(raw_corpus[:half])
    _start(scenario, "a")
    wait_until(lambda: scenario.stored() >= 4, 120, "first records")
    service.stop()
    if produce_while_down:
        scenario.produce(raw_corpus[half:])
    time.sleep(pause)  # the processor meets the outage, backs off (NotReady), seeks back
    service.start()
    if not produce_while_down:
        scenario.produce(raw_corpus[half:])
    wait_until(lambda: scenario.stored() >= _decided(expected), 240, "all records decided after the restart")
    scenario.stop_all(signal.SIGTERM)


def test_broker_restart_mid_stream(scenario, raw_corpus, expected, fault_kafka):
    """The broker stops and comes back while a processor works; records keep arriving after it returns."""
    _outage_mid_stream(scenario, raw_corpus, expected, fault_kafka, pause=3, produce_while_down=False)
    _check("broker stopped and restarted mid-stream", scenario, expected)


def test_postgres_restart_mid_stream(scenario, raw_corpus, expected, fault_postgres):
    """PostgreSQL stops while records arrive; the processor waits (NotReady), then resumes without loss."""
    _outage_mid_stream(scenario, raw_corpus, expected, fault_postgres, pause=4, produce_while_down=True)
    _check("PostgreSQL restarted mid-stream", scenario, expected)


def test_third_worker_joins_mid_stream(scenario, raw_corpus, expected):
    """A rebalance: a third processor joins two busy ones."""
    scenario.produce(raw_corpus[:12])
    _start(scenario, "a")
    _start(scenario, "b")
    wait_until(lambda: scenario.stored() >= 4, 120, "first records")
    _start(scenario, "c")
    scenario.produce(raw_corpus[12:])
    wait_until(lambda: scenario.stored() >= _decided(expected), 180, "all records decided")
    scenario.stop_all(signal.SIGTERM)
    _check("third worker joins mid-stream (rebalance)", scenario, expected)


def test_zombie_is_fenced(scenario, raw_corpus, expected):
    """A worker freezes with a transaction open, its session expires, another takes over; when the zombie wakes
    up its offset commit is refused (KIP-447 generation fencing) and its output aborted."""
    scenario.produce(raw_corpus)
    zombie = _start(scenario, "zombie", failpoints="worker.published=stop@2")
    wait_until(lambda: _stopped(zombie.pid), 120, "the zombie to freeze inside its transaction")
    _start(scenario, "b")
    wait_until(lambda: scenario.stored() >= _decided(expected), 180, "the survivor to decide every record")
    time.sleep(2)
    zombie.send_signal(signal.SIGCONT)
    time.sleep(8)  # the zombie tries to commit, is fenced, aborts, rejoins the group
    scenario.stop_all(signal.SIGTERM)
    verdict = _check("paused worker resumes after its session expired (zombie)", scenario, expected)
    assert verdict.uncommitted_clean >= 1, "the zombie's records should be in the log, aborted"


def test_poison_among_good(scenario, raw_corpus, expected):
    """Undecodable and invalid records between good ones: each to the dead-letter topic once, the rest flows."""
    records = list(raw_corpus)
    scenario.produce(records[:10], POISON[:2])
    scenario.produce(records[10:], POISON[2:])
    scenario.finish()
    _check("poison records among good ones", scenario, replace(expected, poison=len(POISON)))


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False
