"""Several workers starting at once on an empty PostgreSQL database all get a migrated store."""

from __future__ import annotations

import threading

import psycopg
import pytest

from newswire.store import open_store

pytestmark = pytest.mark.postgres


def test_concurrent_migrations_on_an_empty_database(postgres_dsn):
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall():
            conn.execute(f'DROP TABLE "{table}" CASCADE')
    errors: list[str] = []
    barrier = threading.Barrier(4)

    def start_worker() -> None:
        barrier.wait()
        try:
            open_store(postgres_dsn).close()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=start_worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT value FROM schema_meta WHERE name = 'schema_version'").fetchone() is not None
