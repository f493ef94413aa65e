"""Shared test fixtures: paths to the shared fixtures, the real broker and PostgreSQL, a local HTTP server.

Tests that need the broker or PostgreSQL skip when they are missing on a developer machine, and FAIL under CI
(`CI=true`), so a CI run can never pass by skipping them quietly. `deploy/test-suite` starts both.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEWSWIRE_SHARED", REPO.parent / "shared"))
SEEDS = SHARED / "fixtures" / "seeds"
AEB = SHARED / "datasets" / "scrapinghub-aeb"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing(what: str) -> None:
    message = f"{what} is not available (start it with deploy/test-suite or deploy/*-local start)"
    if IN_CI:
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Address of the local Kafka broker (NEWSWIRE_TEST_BOOTSTRAP, default 127.0.0.1:9092)."""
    address = os.environ.get("NEWSWIRE_TEST_BOOTSTRAP", "127.0.0.1:9092")
    host, _, port = address.partition(":")
    if not _port_open(host, int(port or 9092)):
        _missing(f"Kafka broker at {address}")
    from newswire.kafka import wait_for_broker
    from newswire.settings import KafkaSettings

    wait_for_broker(KafkaSettings(bootstrap_servers=address), timeout_seconds=60)
    return address


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """DSN of a PostgreSQL database for tests (NEWSWIRE_TEST_POSTGRES_DSN)."""
    dsn = os.environ.get("NEWSWIRE_TEST_POSTGRES_DSN", "postgresql://newswire:newswire@127.0.0.1:5432/newswire_test")
    try:
        import psycopg

        psycopg.connect(dsn, connect_timeout=5).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        _missing(f"PostgreSQL at {dsn.split('@')[-1]} ({type(exc).__name__})")
    return dsn


def _reset_postgres(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        # Every table of the test database, so a table added later can never leak rows between tests.
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL: a SQLite file, and the PostgreSQL test database wiped clean."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    dsn = request.getfixturevalue("postgres_dsn")
    _reset_postgres(dsn)
    return dsn


@pytest.fixture
def store(store_url: str):
    from newswire.store import open_store

    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def topic_settings():
    """Per-test topic names, so tests never see each other's records."""
    from newswire.settings import TopicSettings

    suffix = uuid.uuid4().hex[:8]
    return TopicSettings(raw=f"t.raw.{suffix}", clean=f"t.clean.{suffix}", duplicates=f"t.dup.{suffix}",
                         dead_letter=f"t.dlq.{suffix}", links=f"t.links.{suffix}", partitions=3)


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    handler: Callable[["BaseHTTPRequestHandler"], tuple[int, dict[str, str], bytes]] | None = None


class LocalServer:
    """A loopback HTTP server serving configured routes and recording every request it receives."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path)
                if route is None:
                    status, headers, body = 404, {"Content-Type": "text/plain"}, b"not found"
                elif route.handler is not None:
                    status, headers, body = route.handler(self)
                else:
                    status, headers, body = route.status, route.headers, route.body
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    server = LocalServer()
    yield server
    server.close()


def seed_texts() -> dict[str, str]:
    """The five seed texts, by file name."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}
