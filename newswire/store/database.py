"""One database connection, SQLite or PostgreSQL, behind the same small API.

SQL is written once with `?` placeholders and the SQL shared by both engines (`INSERT ... ON CONFLICT`, which
SQLite has had since 3.24). SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
`BEGIN IMMEDIATE`, so concurrent writer processes wait instead of failing with SQLITE_BUSY on lock upgrade.
Connection failures surface as `StoreUnavailable`, which callers treat as retriable.

PostgreSQL connection options (TLS: sslmode, sslrootcert, sslcert, sslkey; the password) are libpq parameters,
given in the URL's query string (`Settings.store_url()` puts the store settings there) or as `connect_options`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

from newswire.store.checkpoint import BACKSTOP_PAGES, WalCheckpointer

__all__ = ["Database", "StoreUnavailable", "sqlite_path_of"]

log = logging.getLogger(__name__)


_MIGRATION_LOCK = 0x6E657773  # "news": the advisory lock id held while creating tables


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or is locked for too long; retrying later can help."""


def sqlite_path_of(url: str) -> str | None:
    """The file path named by a SQLite store URL (or a bare path), or None for a PostgreSQL URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return None
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):] or ":memory:"
    if url.startswith("sqlite://"):
        return url[len("sqlite://"):] or ":memory:"
    if "://" in url:
        raise ValueError(f"unsupported store URL scheme: {urlsplit(url).scheme!r} (use sqlite:/// or postgresql://)")
    return url


def _to_db(value: Any, dialect: str) -> Any:
    if isinstance(value, datetime) and dialect == "sqlite":
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat()
    return value


class Database:
    """A thread-safe connection wrapper; `dialect` is 'sqlite' or 'postgresql'."""

    def __init__(self, url: str, busy_timeout_ms: int = 30_000,
                 connect_options: Mapping[str, str] | None = None) -> None:
        self.url = url
        self._connect_options = dict(connect_options or {})
        path = sqlite_path_of(url)
        self.dialect = "sqlite" if path is not None else "postgresql"
        self._sqlite_path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._lock = threading.RLock()
        self._conn: Any = None
        self._checkpointer: WalCheckpointer | None = None  # SQLite files: WAL checkpoints off the commit path
        self._connect()

    # -- connection -----------------------------------------------------------------------------------------
    def _connect(self) -> None:
        if self.dialect == "sqlite":
            path = self._sqlite_path
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                   timeout=self._busy_timeout_ms / 1000)
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            if path != ":memory:":  # checkpoints run on a background thread; the automatic one is a backstop
                conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
                if self._checkpointer is None:
                    self._checkpointer = WalCheckpointer(path)
            self._conn = conn
        else:
            import psycopg

            options = dict(self._connect_options)
            if "connect_timeout" not in options and "connect_timeout=" not in self.url:
                options["connect_timeout"] = "10"  # libpq waits forever by default
            try:
                self._conn = psycopg.connect(self.url, autocommit=True, **options)
            except psycopg.OperationalError as exc:
                raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
            info = self._conn.info
            log.info("connected to PostgreSQL", extra={"host": info.host, "dbname": info.dbname,
                                                        "ssl": bool(self._conn.pgconn.ssl_in_use)})

    @property
    def ssl_in_use(self) -> bool:
        """Whether the PostgreSQL connection is encrypted (always False for SQLite)."""
        with self._lock:
            self._ensure_connected()
            return self.dialect == "postgresql" and bool(self._conn.pgconn.ssl_in_use)

    def _ensure_connected(self) -> None:
        if self._conn is None:
            self._connect()
        elif self.dialect == "postgresql" and self._conn.closed:
            log.warning("PostgreSQL connection lost, reconnecting")
            self._connect()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._checkpointer is not None:
                self._checkpointer.stop()
                self._checkpointer = None

    # -- statements -----------------------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else sql.replace("?", "%s")

    def _params(self, params: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(_to_db(p, self.dialect) for p in params)

    @contextmanager
    def transaction(self) -> Iterator["Database"]:
        """A write transaction (BEGIN IMMEDIATE on SQLite); commits on success, rolls back on error."""
        with self._lock, self._translate_errors():
            self._ensure_connected()
            self._conn.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
            try:
                yield self
            except BaseException:
                self._rollback_quietly()
                raise
            self._conn.execute("COMMIT")

    def _rollback_quietly(self) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except Exception:  # the connection may already be gone; the transaction is void either way
            pass

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows changed."""
        with self._lock, self._translate_errors():
            self._ensure_connected()
            cur = self._conn.execute(self._sql(sql), self._params(params))
            return cur.rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._lock, self._translate_errors():
            self._ensure_connected()
            if self.dialect == "sqlite":
                self._conn.executemany(sql, [self._params(r) for r in rows])
            else:
                with self._conn.cursor() as cur:
                    cur.executemany(self._sql(sql), [self._params(r) for r in rows])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._translate_errors():
            self._ensure_connected()
            return list(self._conn.execute(self._sql(sql), self._params(params)).fetchall())

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def script(self, statements: Sequence[str]) -> None:
        """Run DDL statements in one transaction.

        On PostgreSQL a transaction-scoped advisory lock serialises concurrent migrations: `CREATE TABLE IF NOT
        EXISTS` is not safe against itself (two sessions can both pass the check and collide on the catalog's
        unique indexes), and several workers starting at once on an empty database do exactly that.
        """
        with self.transaction():
            if self.dialect == "postgresql":
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            for statement in statements:
                self._conn.execute(statement)

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc) or "unable to open" in str(exc):
                raise StoreUnavailable(f"SQLite: {exc}") from exc
            raise
        except Exception as exc:
            if self.dialect == "postgresql":
                import psycopg

                if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
                    if self._conn is not None and not self._conn.closed:
                        self._conn.close()
                    raise StoreUnavailable(f"PostgreSQL: {exc}") from exc
            raise
