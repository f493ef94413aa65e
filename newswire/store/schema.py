"""Table definitions, the same on SQLite and PostgreSQL but for the time and float types."""

from __future__ import annotations

__all__ = ["SCHEMA_VERSION", "ddl"]

SCHEMA_VERSION = 1

_TYPES = {
    "sqlite": {"ts": "TEXT", "float": "REAL", "bool": "INTEGER", "bigint": "INTEGER", "blob": "BLOB"},
    "postgresql": {"ts": "TIMESTAMPTZ", "float": "DOUBLE PRECISION", "bool": "BOOLEAN", "bigint": "BIGINT",
                   "blob": "BYTEA"},
}

_TABLES = """
CREATE TABLE IF NOT EXISTS schema_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY,
    raw_id TEXT NOT NULL,
    canonical_url TEXT NOT NULL,
    source TEXT NOT NULL,
    title TEXT,
    language TEXT NOT NULL,
    published_at {ts},
    fetched_at {ts} NOT NULL,
    processed_at {ts} NOT NULL,
    content_hash TEXT NOT NULL,
    story_id TEXT,
    record TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    published {bool} NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_processed_at ON articles (processed_at);
CREATE INDEX IF NOT EXISTS articles_source ON articles (source, published_at);
CREATE TABLE IF NOT EXISTS duplicates (
    raw_id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    duplicate_of TEXT NOT NULL,
    kind TEXT NOT NULL,
    similarity {float} NOT NULL,
    detected_at {ts} NOT NULL,
    record TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    published {bool} NOT NULL
);
CREATE INDEX IF NOT EXISTS duplicates_of ON duplicates (duplicate_of);
CREATE TABLE IF NOT EXISTS dedupe_keys (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    owner TEXT NOT NULL,
    article_id TEXT NOT NULL,
    created_at {ts} NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS dedupe_keys_created ON dedupe_keys (created_at);
CREATE TABLE IF NOT EXISTS near_buckets (
    bucket {bigint} PRIMARY KEY,
    article_id TEXT NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX IF NOT EXISTS near_buckets_created ON near_buckets (created_at);
CREATE TABLE IF NOT EXISTS near_signatures (
    article_id TEXT PRIMARY KEY,
    signature {blob} NOT NULL,
    duplicate_of TEXT,
    similarity {float} NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX IF NOT EXISTS near_signatures_created ON near_signatures (created_at);
CREATE TABLE IF NOT EXISTS story_articles (
    article_id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    published_at {ts} NOT NULL,
    features TEXT NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX IF NOT EXISTS story_articles_created ON story_articles (created_at);
CREATE TABLE IF NOT EXISTS story_features (
    feature {bigint} NOT NULL,
    published_at {ts} NOT NULL,
    article_id TEXT NOT NULL,
    created_at {ts} NOT NULL,
    PRIMARY KEY (feature, published_at, article_id)
);
CREATE INDEX IF NOT EXISTS story_features_created ON story_features (created_at);
CREATE TABLE IF NOT EXISTS story_locks (
    feature {bigint} PRIMARY KEY,
    touched_at {ts} NOT NULL
);
CREATE TABLE IF NOT EXISTS template_lines (
    source TEXT NOT NULL,
    line_hash TEXT NOT NULL,
    article_id TEXT NOT NULL,
    seen_at {ts} NOT NULL,
    PRIMARY KEY (source, line_hash, article_id)
);
CREATE INDEX IF NOT EXISTS template_lines_seen ON template_lines (seen_at);
CREATE TABLE IF NOT EXISTS feed_state (
    feed_url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    next_check_at {ts},
    interval_seconds {float},
    error_count INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_success_at {ts},
    updated_at {ts} NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_entries (
    feed_url TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    published_at {ts} NOT NULL,
    PRIMARY KEY (feed_url, entry_id)
);
"""


def ddl(dialect: str) -> list[str]:
    """The CREATE statements for a dialect, one string per statement."""
    text = _TABLES.format(**_TYPES[dialect])
    return [s.strip() for s in text.split(";") if s.strip()]
