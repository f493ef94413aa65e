"""The store's operations: idempotent article and duplicate writes, dedupe-key claims and feed state.

Writes are upserts keyed by `article_id` (articles) and `raw_id` (duplicates). Each row keeps a fingerprint of
its record (everything but the processing time) and whether it has been published: re-processing a record that
produces the same result neither rewrites the row nor asks to publish it again, unless the earlier publish never
completed. Dedupe keys are claimed with `INSERT ... ON CONFLICT DO NOTHING`, so two workers racing for the same
key agree on one owner through the database's uniqueness guarantee.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence

from newswire.records import CleanArticle, DuplicateArticle, utc_now
from newswire.store.database import Database
from newswire.store.dedupe_index import DedupeIndex, Decision, NearQuery, claim_key, purge_dedupe_state
from newswire.store.story_index import StoryIndex
from newswire.store.template_lines import TemplateLineCounts
from newswire.store.schema import SCHEMA_VERSION, ddl

__all__ = ["ArticleWrite", "FeedState", "Store", "open_store"]

_UNSTABLE_FIELDS = {"processed_at", "detected_at"}
_CHUNK = 500


@dataclass(frozen=True)
class ArticleWrite:
    """Result of an idempotent write: did the row change, and does the record still need publishing."""

    changed: bool
    needs_publish: bool


@dataclass(frozen=True)
class FeedState:
    """What the poller remembers about one feed between checks and across restarts."""

    feed_url: str
    etag: str | None = None
    last_modified: str | None = None
    next_check_at: datetime | None = None
    interval_seconds: float | None = None
    error_count: int = 0
    last_error: str | None = None
    last_success_at: datetime | None = None


def _fingerprint(record: CleanArticle | DuplicateArticle) -> tuple[str, str]:
    data = record.model_dump(mode="json")
    stable = {k: v for k, v in data.items() if k not in _UNSTABLE_FIELDS}
    digest = hashlib.sha256(json.dumps(stable, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return json.dumps(data, ensure_ascii=False), digest


def _as_datetime(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class Store:
    """All persistent state of newswire, over one `Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.near_index = DedupeIndex(db)  # levels 1-3 in one transaction per decision (`decide`)
        self.story_index = StoryIndex(db)
        self.template_lines = TemplateLineCounts(db)

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def migrate(self) -> None:
        """Create missing tables and record the schema version."""
        self.db.script(ddl(self.db.dialect))
        self.db.execute(
            "INSERT INTO schema_meta (name, value) VALUES ('schema_version', ?) ON CONFLICT (name) DO NOTHING",
            (str(SCHEMA_VERSION),),
        )

    def close(self) -> None:
        self.db.close()

    # -- articles and duplicates -----------------------------------------------------------------------------
    def write_article(self, article: CleanArticle) -> ArticleWrite:
        """Insert or update an article by `article_id`; idempotent."""
        record, fingerprint = _fingerprint(article)
        with self.db.transaction() as tx:
            changed = tx.execute(
                "INSERT INTO articles (article_id, raw_id, canonical_url, source, title, language, published_at,"
                " fetched_at, processed_at, content_hash, story_id, record, fingerprint, published)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (article_id) DO UPDATE SET raw_id = excluded.raw_id,"
                " canonical_url = excluded.canonical_url, source = excluded.source, title = excluded.title,"
                " language = excluded.language, published_at = excluded.published_at,"
                " fetched_at = excluded.fetched_at, processed_at = excluded.processed_at,"
                " content_hash = excluded.content_hash, story_id = excluded.story_id, record = excluded.record,"
                " fingerprint = excluded.fingerprint, published = excluded.published"
                " WHERE articles.fingerprint <> excluded.fingerprint",
                (article.article_id, article.raw_id, article.canonical_url, article.source, article.title,
                 article.language, article.published_at, article.fetched_at, article.processed_at,
                 article.content_hash, article.story_id, record, fingerprint, False),
            ) > 0
            row = tx.query_one("SELECT published FROM articles WHERE article_id = ?", (article.article_id,))
        return ArticleWrite(changed=changed, needs_publish=changed or not bool(row and row[0]))

    def write_duplicate(self, duplicate: DuplicateArticle) -> ArticleWrite:
        """Insert or update a duplicate by `raw_id`; idempotent."""
        record, fingerprint = _fingerprint(duplicate)
        with self.db.transaction() as tx:
            changed = tx.execute(
                "INSERT INTO duplicates (raw_id, article_id, duplicate_of, kind, similarity, detected_at, record,"
                " fingerprint, published) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (raw_id) DO UPDATE SET article_id = excluded.article_id,"
                " duplicate_of = excluded.duplicate_of, kind = excluded.kind, similarity = excluded.similarity,"
                " detected_at = excluded.detected_at, record = excluded.record,"
                " fingerprint = excluded.fingerprint, published = excluded.published"
                " WHERE duplicates.fingerprint <> excluded.fingerprint",
                (duplicate.raw_id, duplicate.article_id, duplicate.duplicate_of, duplicate.kind,
                 duplicate.similarity, duplicate.detected_at, record, fingerprint, False),
            ) > 0
            row = tx.query_one("SELECT published FROM duplicates WHERE raw_id = ?", (duplicate.raw_id,))
        return ArticleWrite(changed=changed, needs_publish=changed or not bool(row and row[0]))

    def mark_published(self, article_ids: Iterable[str] = (), duplicate_raw_ids: Iterable[str] = ()) -> None:
        """Record that these articles and duplicates were acknowledged by the broker."""
        for table, column, ids in (("articles", "article_id", list(article_ids)),
                                   ("duplicates", "raw_id", list(duplicate_raw_ids))):
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                self.db.execute(f"UPDATE {table} SET published = ? WHERE {column} IN ({marks})", (True, *chunk))

    def get_article(self, article_id: str) -> CleanArticle | None:
        row = self.db.query_one("SELECT record FROM articles WHERE article_id = ?", (article_id,))
        return CleanArticle.model_validate_json(row[0]) if row else None

    def get_duplicate(self, raw_id: str) -> DuplicateArticle | None:
        row = self.db.query_one("SELECT record FROM duplicates WHERE raw_id = ?", (raw_id,))
        return DuplicateArticle.model_validate_json(row[0]) if row else None

    def articles(self, limit: int = 1000) -> list[CleanArticle]:
        rows = self.db.query("SELECT record FROM articles ORDER BY processed_at, article_id LIMIT ?", (limit,))
        return [CleanArticle.model_validate_json(r[0]) for r in rows]

    def duplicates(self, limit: int = 1000) -> list[DuplicateArticle]:
        rows = self.db.query("SELECT record FROM duplicates ORDER BY detected_at, raw_id LIMIT ?", (limit,))
        return [DuplicateArticle.model_validate_json(r[0]) for r in rows]

    def count(self, table: str) -> int:
        if table not in {"articles", "duplicates", "dedupe_keys", "feed_entries", "feed_state", "near_buckets",
                         "near_signatures", "story_articles", "story_features", "story_locks", "template_lines"}:
            raise ValueError(f"unknown table {table!r}")
        row = self.db.query_one(f"SELECT COUNT(*) FROM {table}")
        return int(row[0]) if row else 0

    def purge_state(self, older_than: timedelta) -> dict[str, int]:
        """Delete dedupe, story and template state older than `older_than`; rows deleted per table."""
        deleted = purge_dedupe_state(self.db, utc_now() - older_than)
        deleted["template_lines"] = self.template_lines.purge(older_than)
        return deleted

    # -- dedupe keys ----------------------------------------------------------------------------------------
    def claim(self, kind: str, key: str, owner: str, article_id: str) -> tuple[str, str]:
        """Claim `key` for `owner` unless someone holds it; returns the holder's (owner, article_id)."""
        with self.db.transaction() as tx:
            holder, holder_article, _ = claim_key(tx, kind, key, owner, article_id, utc_now())
        return holder, holder_article

    def decide(self, raw_id: str, article_id: str, content_hash: str, near: NearQuery | None) -> Decision | None:
        """Dedupe levels 1-3 in one transaction (`DedupeIndex.decide`)."""
        return self.near_index.decide(raw_id, article_id, content_hash, near)

    # -- feed state -----------------------------------------------------------------------------------------
    def feed_state(self, feed_url: str) -> FeedState | None:
        row = self.db.query_one(
            "SELECT feed_url, etag, last_modified, next_check_at, interval_seconds, error_count, last_error,"
            " last_success_at FROM feed_state WHERE feed_url = ?", (feed_url,))
        if row is None:
            return None
        return FeedState(feed_url=row[0], etag=row[1], last_modified=row[2], next_check_at=_as_datetime(row[3]),
                         interval_seconds=row[4], error_count=int(row[5] or 0), last_error=row[6],
                         last_success_at=_as_datetime(row[7]))

    def save_feed_state(self, state: FeedState) -> None:
        self.db.execute(
            "INSERT INTO feed_state (feed_url, etag, last_modified, next_check_at, interval_seconds, error_count,"
            " last_error, last_success_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (feed_url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,"
            " next_check_at = excluded.next_check_at, interval_seconds = excluded.interval_seconds,"
            " error_count = excluded.error_count, last_error = excluded.last_error,"
            " last_success_at = excluded.last_success_at, updated_at = excluded.updated_at",
            (state.feed_url, state.etag, state.last_modified, state.next_check_at, state.interval_seconds,
             state.error_count, state.last_error, state.last_success_at, utc_now()),
        )

    def unseen_entries(self, feed_url: str, entry_ids: Sequence[str]) -> list[str]:
        """The ids among `entry_ids` not yet published for this feed, in the given order."""
        seen: set[str] = set()
        ids = list(dict.fromkeys(entry_ids))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            seen.update(r[0] for r in self.db.query(
                f"SELECT entry_id FROM feed_entries WHERE feed_url = ? AND entry_id IN ({marks})",
                (feed_url, *chunk)))
        return [i for i in ids if i not in seen]

    def mark_entries_seen(self, feed_url: str, entry_ids: Sequence[str]) -> None:
        """Remember entries whose raw records the broker acknowledged."""
        now = utc_now()
        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT INTO feed_entries (feed_url, entry_id, published_at) VALUES (?, ?, ?)"
                " ON CONFLICT (feed_url, entry_id) DO NOTHING",
                [(feed_url, entry_id, now) for entry_id in entry_ids],
            )


def open_store(url: str, migrate: bool = True) -> Store:
    """Open the store named by a URL (`sqlite:///path`, a bare path, or `postgresql://...`)."""
    store = Store(Database(url))
    if migrate:
        store.migrate()
    return store
