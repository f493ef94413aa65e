"""The near-duplicate index (LSH band buckets → article) and the retention purge of all dedupe state.

Tables (see `schema.py`): `near_buckets` holds one row per LSH band bucket, owned by the first unique article
that fell in it (primary key on the bucket); `near_signatures` holds every decided article's MinHash values and
the decision (`duplicate_of` NULL for a unique article).

Race safety: a claim inserts the article's bucket rows with `INSERT ... ON CONFLICT DO NOTHING`, in bucket order,
and only then reads who holds them, inside one transaction. Two near duplicates share at least one bucket (that
is what makes them LSH candidates), so on PostgreSQL the second one's insert waits on the first one's
uncommitted row and, once it commits, reads it as the holder; on SQLite `BEGIN IMMEDIATE` serialises writers
outright. A duplicate removes its own bucket rows before committing, so the index only leads to unique articles.
A lookup reads at most `bands` rows by primary key, so its cost does not grow with the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from newswire.records import utc_now
from newswire.store.database import Database

__all__ = ["NearMatch", "NearDuplicateIndex", "purge_dedupe_state"]


@dataclass(frozen=True)
class NearMatch:
    """A near-duplicate decision: the unique article this one repeats, and their estimated similarity."""

    article_id: str
    similarity: float


class NearDuplicateIndex:
    """Claims LSH buckets for articles and finds the unique article a new one nearly repeats."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, article_id: str, buckets: Sequence[int], signature: bytes,
              similarity: Callable[[bytes, bytes], float], threshold: float) -> NearMatch | None:
        """Decide (once, stored) whether `article_id` nearly repeats an indexed unique article; index it if not.

        Re-deciding the same article (a replay, a redelivery) returns the stored decision.
        """
        buckets = sorted(set(buckets))  # one lock order for every worker: no deadlocks between claims
        with self.db.transaction() as tx:
            decided = _decision(tx, article_id)
            if decided is not None:
                return decided or None
            now = utc_now()
            rows = ", ".join(["(?, ?, ?)"] * len(buckets))
            tx.execute(f"INSERT INTO near_buckets (bucket, article_id, created_at) VALUES {rows}"
                       " ON CONFLICT (bucket) DO NOTHING",
                       [v for b in buckets for v in (b, article_id, now)])
            bucket_marks = _marks(buckets)
            holders = {r[0] for r in tx.query(f"SELECT article_id FROM near_buckets WHERE bucket IN ({bucket_marks})",
                                              buckets)} - {article_id}
            best: NearMatch | None = None
            if holders:
                for holder, values in tx.query(
                        f"SELECT article_id, signature FROM near_signatures WHERE article_id IN ({_marks(holders)})"
                        " AND duplicate_of IS NULL", sorted(holders)):
                    score = similarity(signature, bytes(values))
                    if score >= threshold and (best is None or (score, holder) > (best.similarity, best.article_id)):
                        best = NearMatch(str(holder), score)
            if best is not None:
                tx.execute(f"DELETE FROM near_buckets WHERE article_id = ? AND bucket IN ({bucket_marks})",
                           [article_id, *buckets])
            tx.execute("INSERT INTO near_signatures (article_id, signature, duplicate_of, similarity, created_at)"
                       " VALUES (?, ?, ?, ?, ?) ON CONFLICT (article_id) DO NOTHING",
                       (article_id, signature, best.article_id if best else None,
                        best.similarity if best else 0.0, now))
            decided = _decision(tx, article_id)
        return decided or None

    def bulk_load(self, rows: Sequence[tuple[str, Sequence[int], bytes]], created_at: datetime | None = None) -> None:
        """Index unique articles without deciding (benchmarks and backfills): (article_id, buckets, signature)."""
        now = created_at or utc_now()
        with self.db.transaction() as tx:
            tx.executemany("INSERT INTO near_signatures (article_id, signature, duplicate_of, similarity, created_at)"
                           " VALUES (?, ?, NULL, 0.0, ?) ON CONFLICT (article_id) DO NOTHING",
                           [(a, s, now) for a, _, s in rows])
            tx.executemany("INSERT INTO near_buckets (bucket, article_id, created_at) VALUES (?, ?, ?)"
                           " ON CONFLICT (bucket) DO NOTHING",
                           [(b, a, now) for a, buckets, _ in rows for b in buckets])


def _marks(values: Sequence[object] | set[object]) -> str:
    return ", ".join("?" * len(values))


def _decision(tx: Database, article_id: str) -> NearMatch | bool | None:
    """None: undecided; False: decided unique; a NearMatch: decided duplicate."""
    row = tx.query_one("SELECT duplicate_of, similarity FROM near_signatures WHERE article_id = ?", (article_id,))
    if row is None:
        return None
    return NearMatch(str(row[0]), float(row[1])) if row[0] is not None else False


def purge_dedupe_state(db: Database, older_than: datetime) -> dict[str, int]:
    """Delete dedupe state created before `older_than` (key claims, near index, story index); counts by table.

    After the purge, a copy of a purged article is treated as new: the retention window is the longest time
    apart two copies can be and still be recognised.
    """
    statements = {
        "dedupe_keys": "DELETE FROM dedupe_keys WHERE created_at < ?",
        "near_buckets": "DELETE FROM near_buckets WHERE created_at < ?",
        "near_signatures": "DELETE FROM near_signatures WHERE created_at < ?",
        "story_features": "DELETE FROM story_features WHERE created_at < ?",
        "story_articles": "DELETE FROM story_articles WHERE created_at < ?",
        "story_locks": "DELETE FROM story_locks WHERE touched_at < ?",
    }
    return {table: db.execute(sql, (older_than,)) for table, sql in statements.items()}
