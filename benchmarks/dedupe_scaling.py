"""Dedupe decision time (p50, p99) with 10 thousand, 100 thousand and 1 million articles already indexed.

For each store (SQLite, PostgreSQL) every dedupe table is bulk-loaded up to each size, as a long-running store
would hold it: per article a URL claim and a content claim (`dedupe_keys`), a MinHash signature
(`near_signatures`) and its 32 LSH band buckets (`near_buckets`), with random keys (real bucket keys are hashes,
so they are as random). The load uses COPY (PostgreSQL) or one executemany per chunk (SQLite), prints progress,
and ends with VACUUM/ANALYZE (PostgreSQL) or ANALYZE and a WAL checkpoint (SQLite), as autovacuum and regular
checkpoints would have done on a store that grew over time.

Then `--warmup` decisions are made and discarded and `--queries` decisions are timed: the whole dedupe stage
(URL claim, content claim, MinHash signature, LSH bucket claim and candidate check) on edited copies of real news
texts. The mix is the same at every size (the kind of every query comes from one seeded sequence): 70 % new
articles, 15 % near duplicates (5 % of the words changed) of an earlier query, 10 % URL duplicates (the same
URL with tracking parameters, a new raw record) and 5 % content duplicates (the same text elsewhere).
Prints p50/p99 per store and size and the ratio to the first size (target: p99 at 1M ≤ 2 × p99 at 10k);
`--profile` adds the time spent per SQL statement and, on PostgreSQL, WAL bytes and buffer reads per decision.

    .venv/bin/python benchmarks/dedupe_scaling.py                       # 10k, 100k, 1M on SQLite and PostgreSQL
    .venv/bin/python benchmarks/dedupe_scaling.py --sizes 10000,100000 --stores sqlite --profile
    NEWSWIRE_BENCH_POSTGRES_DSN=postgresql://...  the database to use; its newswire tables are DROPPED first

The PostgreSQL database defaults to NEWSWIRE_TEST_POSTGRES_DSN; the benchmark refuses to run against a database
named `newswire` (the main job's) unless `--i-mean-it` is given.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newswire.records import RawArticle, utc_now  # noqa: E402
from newswire.store import Store, open_store  # noqa: E402
from processors.article import article_from_raw  # noqa: E402
from processors.similarity.minhash import NearDuplicateOptions  # noqa: E402
from processors.stages.dedupe import Dedupe  # noqa: E402

SHARED = Path(os.environ.get("NEWSWIRE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
TABLES = ("articles", "duplicates", "dedupe_keys", "feed_state", "feed_entries", "schema_meta", "near_buckets",
          "near_signatures", "story_articles", "story_features", "story_locks", "template_lines")
# Articles per load transaction. Each chunk's bucket rows are inserted in key order, so one chunk is one pass
# over the bucket index: big chunks mean few passes (a 1M load in ten passes, not fifty).
CHUNK = 100_000
KINDS = ("new",) * 14 + ("near",) * 3 + ("url",) * 2 + ("content",)  # 70 / 15 / 10 / 5 %
FILLERS = ["reportedly", "officially", "several", "according", "nearly", "meanwhile", "however", "latest"]


def _texts() -> list[str]:
    truth = json.loads((SHARED / "datasets" / "scrapinghub-aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    return [v["articleBody"] for _, v in sorted(truth.items())
            if v.get("articleBody") and len(v["articleBody"].split()) >= 80]


def _postgres_dsn(allow_main: bool) -> str:
    dsn = os.environ.get("NEWSWIRE_BENCH_POSTGRES_DSN",
                         os.environ.get("NEWSWIRE_TEST_POSTGRES_DSN",
                                        "postgresql://newswire:newswire@127.0.0.1:5432/newswire_test"))
    if dsn.rstrip("/").rsplit("/", 1)[-1].split("?")[0] == "newswire" and not allow_main:
        raise SystemExit(f"refusing to drop the tables of {dsn} (the main database); pass --i-mean-it")
    return dsn


def _fresh_store(kind: str, workdir: Path, allow_main: bool) -> Store:
    if kind == "sqlite":
        return open_store(f"sqlite:///{workdir / 'bench.sqlite'}")
    import psycopg

    dsn = _postgres_dsn(allow_main)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    return open_store(dsn)


# -- bulk load ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Chunk:
    """Index rows for articles low..high-1: ids, content hashes, signatures and bucket keys."""

    ids: list[str]
    hashes: list[str]
    signatures: np.ndarray  # (n, num_perm) uint32
    buckets: np.ndarray  # (n, bands) int64


def _chunk(low: int, high: int, options: NearDuplicateOptions, rng: np.random.Generator) -> Chunk:
    count = high - low
    hashes = rng.integers(0, 2**63, size=(count, 4), dtype=np.int64)
    return Chunk(ids=[f"{i:032x}" for i in range(low, high)],
                 hashes=["".join(f"{int(v):016x}" for v in row) for row in hashes],
                 signatures=rng.integers(0, 2**32, size=(count, options.num_perm), dtype=np.uint32),
                 buckets=rng.integers(-(2**63), 2**63 - 1, size=(count, options.bands), dtype=np.int64))


def _copy_lines(lines: Iterator[str]) -> bytes:
    out = io.StringIO()
    for line in lines:
        out.write(line)
    return out.getvalue().encode()


def _load_postgres(store: Store, chunk: Chunk, created: datetime) -> None:
    ts = created.isoformat()
    conn = store.db._conn  # COPY loads millions of rows in minutes where INSERTs take hours
    order = np.argsort(chunk.buckets, axis=None)  # bucket order: sequential B-tree inserts, a faster load
    flat = chunk.buckets.reshape(-1)
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy("COPY dedupe_keys (kind, key, owner, article_id, created_at) FROM STDIN") as copy:
            copy.write(_copy_lines(f"url\t{a}\tr{a}\t{a}\t{ts}\ncontent\t{h}\t{a}\t{a}\t{ts}\n"
                                   for a, h in zip(chunk.ids, chunk.hashes)))
        with cur.copy("COPY near_signatures (article_id, signature, similarity, created_at) FROM STDIN") as copy:
            copy.write(_copy_lines(f"{a}\t\\\\x{s.astype('<u4').tobytes().hex()}\t0\t{ts}\n"
                                   for a, s in zip(chunk.ids, chunk.signatures)))
        with cur.copy("COPY near_buckets (bucket, article_id, created_at) FROM STDIN") as copy:
            bands = chunk.buckets.shape[1]
            copy.write(_copy_lines(f"{flat[k]}\t{chunk.ids[k // bands]}\t{ts}\n" for k in order))


def _load_sqlite(store: Store, chunk: Chunk, created: datetime) -> None:
    ts = created.isoformat()
    conn = store.db._conn
    bands = chunk.buckets.shape[1]
    order = np.argsort(chunk.buckets, axis=None)
    flat = chunk.buckets.reshape(-1)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO dedupe_keys (kind, key, owner, article_id, created_at) VALUES (?, ?, ?, ?, ?)",
                     [r for a, h in zip(chunk.ids, chunk.hashes)
                      for r in (("url", a, f"r{a}", a, ts), ("content", h, a, a, ts))])
    conn.executemany("INSERT INTO near_signatures (article_id, signature, duplicate_of, similarity, created_at)"
                     " VALUES (?, ?, NULL, 0.0, ?)",
                     [(a, s.astype("<u4").tobytes(), ts) for a, s in zip(chunk.ids, chunk.signatures)])
    conn.executemany("INSERT INTO near_buckets (bucket, article_id, created_at) VALUES (?, ?, ?)"
                     " ON CONFLICT (bucket) DO NOTHING",
                     [(int(flat[k]), chunk.ids[k // bands], ts) for k in order])
    conn.execute("COMMIT")


def _bulk_load(store: Store, start: int, stop: int, options: NearDuplicateOptions, rng: np.random.Generator) -> None:
    """Index articles start..stop-1 in every dedupe table, then bring the statistics up to date."""
    created = utc_now() - timedelta(days=1)
    began = time.monotonic()
    if store.dialect == "sqlite":  # a big page cache for the load only; the timed part runs with the default
        default_cache = store.db._conn.execute("PRAGMA cache_size").fetchone()[0]
        store.db._conn.execute("PRAGMA cache_size=-1000000")
    for low in range(start, stop, CHUNK):
        high = min(stop, low + CHUNK)
        chunk = _chunk(low, high, options, rng)
        (_load_postgres if store.dialect == "postgresql" else _load_sqlite)(store, chunk, created)
        rate = (high - start) / max(1e-9, time.monotonic() - began)
        print(f"\r  indexed {high:,} articles ({rate:,.0f}/s, {(stop - high) / rate:,.0f}s left)   ",
              end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    finish = time.monotonic()
    if store.dialect == "postgresql":
        for table in ("dedupe_keys", "near_signatures", "near_buckets"):
            store.db.execute(f"VACUUM (ANALYZE) {table}")  # what autovacuum does to a table that grew slowly
    else:
        store.db._conn.execute(f"PRAGMA cache_size={default_cache}")
        store.db._conn.execute("ANALYZE")
        store.db._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"  statistics and checkpoint in {time.monotonic() - finish:.0f}s", file=sys.stderr)


# -- the timed decisions ------------------------------------------------------------------------------------
class QueryMaker:
    """Raw records of the benchmark mix. The kind sequence is the same at every size (`kinds_seed`); the words
    edited differ per size (`text_seed`), so a new query never repeats a query of an earlier size."""

    def __init__(self, texts: list[str], kinds_seed: int, text_seed: int, label: str) -> None:
        self.texts = texts
        self.kinds = random.Random(kinds_seed)
        self.rng = random.Random(text_seed)
        self.label = label
        self.earlier: list[tuple[str, str]] = []  # (url, text) of earlier new queries
        self.count = 0

    def _edit(self, text: str, share: float) -> str:
        words = text.split()
        for i in self.rng.sample(range(len(words)), int(len(words) * share)):
            words[i] = self.rng.choice(FILLERS)
        return " ".join(words)

    def next(self) -> tuple[str, RawArticle]:
        self.count += 1
        kind = self.kinds.choice(KINDS) if self.earlier else "new"
        pick = self.kinds.random()
        if kind == "new":
            # 60 % of the words replaced: a text no earlier query nearly repeats.
            text = self._edit(self.texts[self.rng.randrange(len(self.texts))], 0.6)
            text += f"\n\nBenchmark article {self.label}-{self.count}."
            url = f"https://outlet{self.count % 50}.example/{self.label}/{self.count}"
            self.earlier.append((url, text))
        else:
            url0, text0 = self.earlier[int(pick * len(self.earlier))]
            if kind == "near":
                text, url = self._edit(text0, 0.05), f"https://mirror.example/{self.label}/{self.count}"
            elif kind == "url":
                text, url = text0, f"{url0}?utm_source=bench&fbclid={self.count}"
            else:
                text, url = text0.upper(), f"https://copy.example/{self.label}/{self.count}"
        return kind, RawArticle(raw_id=uuid.uuid4().hex, url=url, source="bench", fetched_at=utc_now(),
                                content_type="text/plain", body=text)


class TimedConnection:
    """Wraps a DB-API connection to add up the time spent per SQL statement (for `--profile`)."""

    def __init__(self, conn: Any, stats: dict[str, list[float]]) -> None:
        self._inner = conn
        self._stats = stats

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = self._inner.execute(sql, *args, **kwargs)
        if getattr(result, "description", None) is not None:
            rows = result.fetchall()
            result = _Rows(rows, getattr(result, "rowcount", len(rows)))
        self._stats[_statement_label(sql)].append(time.perf_counter() - started)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Rows:
    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows, self.rowcount = rows, rowcount

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None


def _statement_label(sql: str) -> str:
    words = sql.replace("(", " ").split()
    head = " ".join(words[:2]).upper()
    for word in ("FROM", "INTO", "UPDATE"):
        if word in [w.upper() for w in words]:
            table = words[[w.upper() for w in words].index(word) + 1]
            return f"{words[0].upper()} {table}"[:48]
    return head[:48]


def _pg_counters(store: Store) -> tuple[int, int, int]:
    row = store.db.query_one(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, blks_read, blks_hit"
        " FROM pg_stat_database WHERE datname = current_database()")
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _measure(store: Store, maker: QueryMaker, queries: int) -> tuple[list[float], dict[str, int]]:
    stage = Dedupe(store, store.near_index)
    seconds, outcomes = [], defaultdict(int)
    for _ in range(queries):
        kind, raw = maker.next()
        article = replace(article_from_raw(raw), text=raw.body)
        started = time.perf_counter()
        result = stage(article)
        seconds.append(time.perf_counter() - started)
        decided = result.duplicate.kind if result.duplicate is not None else "unique"
        outcomes[f"{kind}->{decided}"] += 1
    return seconds, dict(outcomes)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated index sizes, ascending")
    parser.add_argument("--stores", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--queries", type=int, default=2000, help="timed decisions per size (p99 needs >= 2000)")
    parser.add_argument("--warmup", type=int, default=300, help="decisions per size made before timing")
    parser.add_argument("--profile", action="store_true", help="time per SQL statement, WAL and buffer reads")
    parser.add_argument("--workdir", help="directory for the SQLite file (default: a temporary directory)")
    parser.add_argument("--i-mean-it", action="store_true", help="allow dropping the tables of database newswire")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.queries < 2000:
        print("warning: fewer than 2000 timed decisions make p99 unstable", file=sys.stderr)
    options = NearDuplicateOptions()
    texts = _texts()
    results: dict[str, list[tuple[int, float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="newswire-bench-", dir=args.workdir) as workdir:
        for kind in args.stores.split(","):
            store = _fresh_store(kind, Path(workdir), args.i_mean_it)
            rng_np = np.random.default_rng(1)
            loaded = 0
            try:
                for size in sizes:
                    print(f"{kind}: loading the index to {size:,} articles", file=sys.stderr)
                    started = time.monotonic()
                    _bulk_load(store, loaded, size, options, rng_np)
                    print(f"  loaded in {time.monotonic() - started:.0f}s; {args.warmup} warm-up and"
                          f" {args.queries} timed decisions", file=sys.stderr)
                    maker = QueryMaker(texts, kinds_seed=7, text_seed=size, label=f"s{size}")
                    _measure(store, maker, args.warmup)
                    stats: dict[str, list[float]] = defaultdict(list)
                    if args.profile:
                        plain = store.db._conn
                        store.db._conn = TimedConnection(plain, stats)
                        before = _pg_counters(store) if kind == "postgresql" else None
                    seconds, outcomes = _measure(store, maker, args.queries)
                    if args.profile:
                        store.db._conn = plain
                        _report_profile(store, stats, before, args.queries)
                    loaded = size + args.warmup + args.queries  # the decided queries are indexed too
                    row = (size, statistics.median(seconds), _pct(seconds, 0.99))
                    results.setdefault(kind, []).append(row)
                    print(f"  {kind} {size:>9,}: p50 {row[1] * 1000:6.2f} ms  p99 {row[2] * 1000:6.2f} ms"
                          f"  max {max(seconds) * 1000:6.1f} ms  outcomes {outcomes}", file=sys.stderr)
            finally:
                store.close()
    print(f"\n{'store':<11}{'indexed':>10}{'p50 ms':>9}{'p99 ms':>9}{'p50/first':>11}{'p99/first':>11}")
    for kind, rows in results.items():
        first = rows[0]
        for size, p50, p99 in rows:
            print(f"{kind:<11}{size:>10,}{p50 * 1000:>9.2f}{p99 * 1000:>9.2f}{p50 / first[1]:>11.2f}"
                  f"{p99 / first[2]:>11.2f}")


def _report_profile(store: Store, stats: dict[str, list[float]], before: tuple[int, int, int] | None,
                    queries: int) -> None:
    print(f"  {'statement':<40}{'calls':>7}{'ms/decision':>13}{'p99 ms':>9}", file=sys.stderr)
    for label, values in sorted(stats.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {label:<40}{len(values):>7}{sum(values) * 1000 / queries:>13.3f}{_pct(values, 0.99) * 1000:>9.2f}",
              file=sys.stderr)
    if before is not None:
        time.sleep(1.5)  # PostgreSQL 15 flushes backend statistics about once a second
        after = _pg_counters(store)
        print(f"  per decision: WAL {(after[0] - before[0]) / queries / 1024:.1f} KiB, blocks read"
              f" {(after[1] - before[1]) / queries:.1f}, buffer hits {(after[2] - before[2]) / queries:.1f}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
