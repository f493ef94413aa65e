"""The dedupe index: one transaction decides levels 1–3 (URL, content, near) for an article; retention purge.

Tables (see `schema.py`): `dedupe_keys` holds the URL and content claims (primary key (kind, key));
`near_buckets` holds one row per LSH band bucket, owned by the first unique article that fell in it (primary key
on the bucket); `near_signatures` holds every decided article's MinHash values and the decision (`duplicate_of`
NULL for a unique article).

Race safety: every level inserts first (`INSERT ... ON CONFLICT DO NOTHING`) and only then reads who holds the
key, so the database's uniqueness decides who came first, never a check-then-insert. Two near duplicates share at
least one bucket (that is what makes them LSH candidates): on PostgreSQL the second one's insert waits on the
first one's uncommitted row and, once it commits, reads it as the holder (READ COMMITTED takes a new snapshot per
statement); on SQLite `BEGIN IMMEDIATE` serialises writers outright. Buckets are inserted in sorted order, after
the URL and content keys, so two decisions never wait on each other in a cycle. A duplicate removes its own
bucket rows before committing, so the index only leads to unique articles.

Cost: the whole decision is one transaction, so one commit (one WAL flush on PostgreSQL) per article instead of
one per level, and the common path — a new article — is four statements: the URL claim, the content claim, the
bucket claim and the signature; a holder is only read back when an insert met an existing row. A lookup touches
at most `bands` bucket rows by primary key, so its cost does not grow with the index. psycopg prepares statements
run five times or more on a connection and sqlite3 caches them, so the statements are parsed once per worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Literal, Sequence

from newswire.records import utc_now
from newswire.store.database import Database

__all__ = ["Decision", "NearQuery", "DedupeIndex", "claim_key", "purge_dedupe_state"]


@dataclass(frozen=True)
class NearQuery:
    """What level 3 needs: the article's LSH buckets, its MinHash values, the similarity and its threshold."""

    buckets: Sequence[int]
    signature: bytes
    similarity: Callable[[bytes, bytes], float]
    threshold: float


@dataclass(frozen=True)
class Decision:
    """A duplicate decision: the kind, the first article this one repeats, and their estimated similarity."""

    kind: Literal["url", "content", "near"]
    article_id: str
    similarity: float


def claim_key(tx: Database, kind: str, key: str, owner: str, article_id: str,
              now: datetime) -> tuple[str, str, bool]:
    """Claim `key` for `owner` unless someone holds it; returns the holder's (owner, article_id) and whether
    this call created the claim.

    Inside the caller's transaction. The holder is read back only when the insert met an existing row.
    """
    if tx.execute("INSERT INTO dedupe_keys (kind, key, owner, article_id, created_at) VALUES (?, ?, ?, ?, ?)"
                  " ON CONFLICT (kind, key) DO NOTHING", (kind, key, owner, article_id, now)) == 1:
        return owner, article_id, True
    row = tx.query_one("SELECT owner, article_id FROM dedupe_keys WHERE kind = ? AND key = ?", (kind, key))
    assert row is not None  # the conflicting row exists: claims are only deleted by the purge, long after
    return str(row[0]), str(row[1]), False


class DedupeIndex:
    """Decides whether an article repeats an earlier one (levels 1–3), once, stored, shared by every worker."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def decide(self, raw_id: str, article_id: str, content_hash: str, near: NearQuery | None) -> Decision | None:
        """The duplicate decision for this raw record, or None when it is the first of its kind (then indexed).

        Level 1: the first raw record to reach the canonical URL (`article_id`) owns it; another raw record is a
        URL duplicate, the same one (a replay, a redelivery) is not. Level 2: the first article with this folded
        text owns `content_hash`. Level 3 (when `near` is given): an LSH candidate whose estimated similarity
        reaches the threshold. Re-deciding the same raw record returns the same decision and writes nothing.
        """
        with self.db.transaction() as tx:
            now = utc_now()
            owner, _, first_time = claim_key(tx, "url", article_id, raw_id, article_id, now)
            if owner != raw_id:
                return Decision("url", article_id, 1.0)
            _, holder, _ = claim_key(tx, "content", content_hash, article_id, article_id, now)
            if holder != article_id:
                return Decision("content", holder, 1.0)
            if near is None:
                return None
            # An article whose URL claim this transaction created cannot have a stored near decision: the
            # claim and the decision are written (and purged) together.
            return _decide_near(tx, article_id, near, now, maybe_decided=not first_time)

    def claim(self, article_id: str, buckets: Sequence[int], signature: bytes,
              similarity: Callable[[bytes, bytes], float], threshold: float) -> Decision | None:
        """Level 3 alone, in its own transaction: the near duplicate decision for `article_id` (stored)."""
        with self.db.transaction() as tx:
            return _decide_near(tx, article_id, NearQuery(buckets, signature, similarity, threshold), utc_now(),
                                maybe_decided=True)

    def bulk_load(self, rows: Sequence[tuple[str, Sequence[int], bytes]], created_at: datetime | None = None) -> None:
        """Index unique articles without deciding (backfills): (article_id, buckets, signature)."""
        now = created_at or utc_now()
        with self.db.transaction() as tx:
            tx.executemany("INSERT INTO near_signatures (article_id, signature, duplicate_of, similarity, created_at)"
                           " VALUES (?, ?, NULL, 0.0, ?) ON CONFLICT (article_id) DO NOTHING",
                           [(a, s, now) for a, _, s in rows])
            tx.executemany("INSERT INTO near_buckets (bucket, article_id, created_at) VALUES (?, ?, ?)"
                           " ON CONFLICT (bucket) DO NOTHING",
                           [(b, a, now) for a, buckets, _ in rows for b in buckets])


def _decide_near(tx: Database, article_id: str, near: NearQuery, now: datetime,
                 maybe_decided: bool) -> Decision | None:
    """Level 3 inside the caller's transaction: claim the buckets, compare with their holders, store the decision.

    `maybe_decided`: look for a stored decision first (a replay or redelivery of an article decided before).
    """
    if maybe_decided:
        decided = _stored_decision(tx, article_id)
        if decided is not None:
            return decided or None
    buckets = sorted(set(near.buckets))  # one lock order for every worker: no deadlocks between claims
    rows = ", ".join(["(?, ?, ?)"] * len(buckets))
    inserted = tx.execute(f"INSERT INTO near_buckets (bucket, article_id, created_at) VALUES {rows}"
                          " ON CONFLICT (bucket) DO NOTHING", [v for b in buckets for v in (b, article_id, now)])
    best: Decision | None = None
    if inserted < len(buckets):  # some bucket already had a holder: read them and compare
        bucket_marks = _marks(buckets)
        holders = {r[0] for r in tx.query(f"SELECT article_id FROM near_buckets WHERE bucket IN ({bucket_marks})",
                                          buckets)} - {article_id}
        if holders:
            for holder, values in tx.query(
                    f"SELECT article_id, signature FROM near_signatures WHERE article_id IN ({_marks(holders)})"
                    " AND duplicate_of IS NULL", sorted(holders)):
                score = near.similarity(near.signature, bytes(values))
                if score >= near.threshold and (best is None or (score, holder) > (best.similarity,
                                                                                   best.article_id)):
                    best = Decision("near", str(holder), score)
        if best is not None:
            tx.execute(f"DELETE FROM near_buckets WHERE article_id = ? AND bucket IN ({bucket_marks})",
                       [article_id, *buckets])
    if tx.execute("INSERT INTO near_signatures (article_id, signature, duplicate_of, similarity, created_at)"
                  " VALUES (?, ?, ?, ?, ?) ON CONFLICT (article_id) DO NOTHING",
                  (article_id, near.signature, best.article_id if best else None,
                   best.similarity if best else 0.0, now)) == 1:
        return best
    decided = _stored_decision(tx, article_id)  # decided meanwhile by a redelivery of the same record
    return decided or None


def _marks(values: Sequence[object] | set[object]) -> str:
    return ", ".join("?" * len(values))


def _stored_decision(tx: Database, article_id: str) -> Decision | bool | None:
    """None: undecided; False: decided unique; a Decision: decided near duplicate."""
    row = tx.query_one("SELECT duplicate_of, similarity FROM near_signatures WHERE article_id = ?", (article_id,))
    if row is None:
        return None
    return Decision("near", str(row[0]), float(row[1])) if row[0] is not None else False


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
