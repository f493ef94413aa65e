"""Dedupe decision time (p50, p99) with 10 thousand, 100 thousand and 1 million articles already indexed.

For each store (SQLite, PostgreSQL) the near-duplicate index is bulk-loaded with random signatures up to each
size, then `--queries` real decisions are timed: the whole dedupe stage (URL claim, content claim, MinHash
signature, LSH bucket claim and candidate check) on edited copies of real news texts, a share of which are near
duplicates of earlier queries. Prints p50/p99 per size and the ratio to the first size (target: p99 at 1M
≤ 2 × p99 at 10k).

    .venv/bin/python benchmarks/dedupe_scaling.py                       # 10k, 100k, 1M on SQLite and PostgreSQL
    .venv/bin/python benchmarks/dedupe_scaling.py --sizes 10000,100000 --stores sqlite
    NEWSWIRE_BENCH_POSTGRES_DSN=postgresql://... (default: the test database, which it wipes)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newswire.records import RawArticle, utc_now  # noqa: E402
from newswire.store import Store, open_store  # noqa: E402
from processors.article import article_from_raw  # noqa: E402
from processors.similarity.minhash import NearDuplicateOptions  # noqa: E402
from processors.stages.dedupe import Dedupe  # noqa: E402

SHARED = Path(os.environ.get("NEWSWIRE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
TABLES = ("articles", "duplicates", "dedupe_keys", "feed_state", "feed_entries", "schema_meta", "near_buckets",
          "near_signatures", "story_articles", "story_features", "story_locks")


def _texts() -> list[str]:
    truth = json.loads((SHARED / "datasets" / "scrapinghub-aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    return [v["articleBody"] for _, v in sorted(truth.items())
            if v.get("articleBody") and len(v["articleBody"].split()) >= 80]


def _fresh_store(kind: str, workdir: Path) -> Store:
    if kind == "sqlite":
        return open_store(f"sqlite:///{workdir / 'bench.sqlite'}")
    import psycopg

    dsn = os.environ.get("NEWSWIRE_BENCH_POSTGRES_DSN",
                         os.environ.get("NEWSWIRE_TEST_POSTGRES_DSN",
                                        "postgresql://newswire:newswire@127.0.0.1:5432/newswire_test"))
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    return open_store(dsn)


def _bulk_load(store: Store, start: int, stop: int, options: NearDuplicateOptions, rng: np.random.Generator) -> None:
    """Index articles start..stop-1 with random signatures (their buckets are as random as real ones)."""
    created = utc_now() - timedelta(days=1)
    chunk = 20_000
    for low in range(start, stop, chunk):
        high = min(stop, low + chunk)
        count = high - low
        buckets = rng.integers(-(2**63), 2**63 - 1, size=(count, options.bands), dtype=np.int64)
        signatures = rng.integers(0, 2**32, size=(count, options.num_perm), dtype=np.uint32)
        ids = [f"{i:032x}" for i in range(low, high)]
        if store.dialect == "postgresql":
            conn = store.db._conn  # COPY is the only way to load millions of rows in minutes, not hours
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy("COPY near_signatures (article_id, signature, similarity, created_at)"
                              " FROM STDIN") as copy:
                    for j, article_id in enumerate(ids):
                        copy.write_row((article_id, signatures[j].astype("<u4").tobytes(), 0.0, created))
                with cur.copy("COPY near_buckets (bucket, article_id, created_at) FROM STDIN") as copy:
                    for j, article_id in enumerate(ids):
                        for bucket in buckets[j]:
                            copy.write_row((int(bucket), article_id, created))
        else:
            store.near_index.bulk_load(
                [(ids[j], [int(b) for b in buckets[j]], signatures[j].astype("<u4").tobytes()) for j in range(count)],
                created_at=created)
        print(f"\r  indexed {high:,}", end="", file=sys.stderr, flush=True)
    if store.dialect == "postgresql":
        store.db.execute("ANALYZE near_buckets")
        store.db.execute("ANALYZE near_signatures")
    print(file=sys.stderr)


def _edit(text: str, rng: random.Random, share: float) -> str:
    words = text.split()
    for i in rng.sample(range(len(words)), int(len(words) * share)):
        words[i] = rng.choice(["reportedly", "officially", "several", "according", "nearly", "meanwhile"])
    return " ".join(words)


def _measure(store: Store, texts: list[str], queries: int, rng: random.Random) -> list[float]:
    stage = Dedupe(store, store.near_index)
    seconds = []
    for n in range(queries):
        # A fresh text most of the time; one in four repeats an earlier query's base with a small edit.
        base = texts[rng.randrange(len(texts))]
        text = _edit(base, rng, 0.05 if rng.random() < 0.25 else 0.6) + f"\n\n{uuid.uuid4().hex}"
        raw = RawArticle(raw_id=uuid.uuid4().hex, url=f"https://bench.example/{uuid.uuid4().hex}", source="bench",
                         fetched_at=utc_now(), content_type="text/plain", body=text)
        article = replace(article_from_raw(raw), text=text)
        started = time.perf_counter()
        stage(article)
        seconds.append(time.perf_counter() - started)
    return seconds


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated index sizes")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--queries", type=int, default=1000, help="timed decisions per size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    options = NearDuplicateOptions()
    texts = _texts()
    results: dict[str, list[tuple[int, float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="newswire-bench-") as workdir:
        for kind in args.stores.split(","):
            store = _fresh_store(kind, Path(workdir))
            rng_np, rng = np.random.default_rng(1), random.Random(1)
            loaded = 0
            try:
                _measure(store, texts, 50, rng)  # warm-up: connection, caches, code paths
                for size in sizes:
                    print(f"{kind}: loading the index to {size:,} articles", file=sys.stderr)
                    started = time.monotonic()
                    _bulk_load(store, loaded, size, options, rng_np)
                    loaded = size
                    print(f"  loaded in {time.monotonic() - started:.0f}s; timing {args.queries} decisions",
                          file=sys.stderr)
                    seconds = _measure(store, texts, args.queries, rng)
                    loaded += args.queries
                    row = (size, statistics.median(seconds), _pct(seconds, 0.99))
                    results.setdefault(kind, []).append(row)
                    print(f"  {kind} {size:>9,}: p50 {row[1] * 1000:6.2f} ms  p99 {row[2] * 1000:6.2f} ms",
                          file=sys.stderr)
            finally:
                store.close()
    print(f"\n{'store':<11}{'indexed':>10}{'p50 ms':>9}{'p99 ms':>9}{'p50/first':>11}{'p99/first':>11}")
    for kind, rows in results.items():
        first = rows[0]
        for size, p50, p99 in rows:
            print(f"{kind:<11}{size:>10,}{p50 * 1000:>9.2f}{p99 * 1000:>9.2f}{p50 / first[1]:>11.2f}"
                  f"{p99 / first[2]:>11.2f}")


if __name__ == "__main__":
    main()
