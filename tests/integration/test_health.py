"""Liveness and readiness of a real `newswire process`: a store outage makes it NotReady, never dead.

The store is reached through a TCP proxy the test can cut, so PostgreSQL itself (shared) is never touched. Also:
the status port binds only to the configured address (service.metrics_host).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from newswire.kafka import ensure_topics
from newswire.records import RawArticle, encode, utc_now
from newswire.service import Health, StatusServer
from newswire.settings import KafkaSettings
from tests.conftest import _reset_postgres, seed_texts
from tests.kafka_io import produce, read_topic


class TcpProxy:
    """Forwards a loopback port to `target`; `cut()` drops every connection and refuses new ones until `mend()`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self.mend()

    def mend(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept(); close() alone does not
            except OSError:
                pass
            listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            if self._listener is not listener:
                client.close()
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"process exited while waiting for {what}: {proc.communicate()[1][-3000:]}")
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raw(index: int, text: str) -> RawArticle:
    return RawArticle(raw_id=uuid.uuid4().hex, url=f"https://health.example/a{index}", source="t",
                      fetched_at=utc_now(), content_type="text/plain", body=text)


@pytest.mark.kafka
@pytest.mark.postgres
def test_store_outage_fails_readiness_but_not_liveness(kafka_bootstrap, postgres_dsn, topic_settings):
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    _reset_postgres(postgres_dsn)
    params = conninfo_to_dict(postgres_dsn)
    proxy = TcpProxy((params.get("host", "127.0.0.1"), int(params.get("port", 5432))))
    proxied = f"postgresql://{params['user']}:{params['password']}@127.0.0.1:{proxy.port}/{params['dbname']}"
    assert make_conninfo(proxied)  # a valid libpq URL
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), topic_settings)
    texts = list(seed_texts().values())
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")},
           "NEWSWIRE_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap, "NEWSWIRE_STORE__URL": proxied,
           "NEWSWIRE_TOPICS__RAW": topic_settings.raw, "NEWSWIRE_TOPICS__CLEAN": topic_settings.clean,
           "NEWSWIRE_TOPICS__DUPLICATES": topic_settings.duplicates,
           "NEWSWIRE_TOPICS__DEAD_LETTER": topic_settings.dead_letter, "NEWSWIRE_TOPICS__LINKS": topic_settings.links,
           "NEWSWIRE_PROCESSOR__GROUP_ID": f"health-{topic_settings.raw}",
           "NEWSWIRE_PROCESSOR__POLL_TIMEOUT_MS": "300", "NEWSWIRE_PROCESSOR__RETRY_BACKOFF_MAX_SECONDS": "2",
           "NEWSWIRE_SERVICE__METRICS_HOST": "127.0.0.1", "NEWSWIRE_SERVICE__METRICS_PORT": str(port),
           "NEWSWIRE_SERVICE__LIVENESS_WINDOW_SECONDS": "20"}
    proc = subprocess.Popen([sys.executable, "-m", "newswire.cli", "process"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _get(base + "/readyz")[0] == 200, 60, "ready", proc)
        produce(kafka_bootstrap, topic_settings.raw, [(b"a0", encode(_raw(0, texts[0])))])
        _wait(lambda: len(read_topic(kafka_bootstrap, topic_settings.clean, expected=1, timeout=1)) == 1, 60,
              "the first clean record", proc)

        # The store goes away: the next record cannot be written; the worker retries and says NotReady...
        proxy.cut()
        produce(kafka_bootstrap, topic_settings.raw, [(b"a1", encode(_raw(1, texts[1])))])
        status, body = _wait(lambda: (lambda r: r if r[0] == 503 else None)(_get(base + "/readyz")), 60,
                             "not ready", proc)
        assert body["status"] == "fail" and "retrying" in body["detail"]
        # ...while liveness holds for longer than its window: the loop keeps beating, no restart storm.
        for _ in range(3):
            assert _get(base + "/healthz")[0] == 200
            time.sleep(8)
        assert _get(base + "/readyz")[0] == 503 and _get(base + "/healthz")[0] == 200

        # The store comes back: ready again, and the record held back is processed, once.
        proxy.mend()
        _wait(lambda: _get(base + "/readyz")[0] == 200, 60, "ready again", proc)
        clean = read_topic(kafka_bootstrap, topic_settings.clean, expected=2, timeout=60)
        assert sorted(json.loads(m.value)["url"] for m in clean) == [
            "https://health.example/a0", "https://health.example/a1"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        proxy.cut()
    assert proc.returncode == 0, err[-3000:]


def test_status_port_binds_only_the_configured_address():
    """service.metrics_host=127.0.0.2 answers there and nowhere else (127.0.0.0/8 is all loopback on Linux)."""
    server = StatusServer(Health("bind-test"), "127.0.0.2", 0).start()
    try:
        assert _get(f"http://127.0.0.2:{server.port}/healthz")[0] == 200
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    finally:
        server.stop()


def test_status_port_on_ipv6_any_address():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = StatusServer(Health("bind-test"), "::", 0).start()
    except OSError as exc:
        pytest.skip(f"cannot bind [::]: {exc}")
    try:
        assert _get(f"http://[::1]:{server.port}/healthz")[0] == 200
    finally:
        server.stop()
