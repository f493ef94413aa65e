"""Wire records: what travels on the Kafka topics and what downstream consumers read.

Every record is JSON with an integer `schema_version`. A reader accepts its own major version and ignores fields
it does not know, so fields can be added without a new version; renaming or removing a field needs a new version
and a new topic name (`news.clean.v2`). The JSON Schemas in `newswire/schemas/` are generated from these models
(`newswire schemas --write`) and checked against them by the tests.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "SCHEMA_VERSION",
    "RecordError",
    "FeedEntryMeta",
    "FetchMeta",
    "RawArticle",
    "ArticleLink",
    "decode_link",
    "Topic",
    "CleanArticle",
    "DuplicateArticle",
    "decode_raw",
    "encode",
    "utc_now",
]

SCHEMA_VERSION = 1


class RecordError(ValueError):
    """A message that is not a valid record of the expected kind and version."""


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class FeedEntryMeta(_Record):
    """What the feed said about the entry a raw article came from."""

    feed_url: str
    entry_id: str = Field(description="The entry's GUID/id, or a hash of link, title and date when it has none.")
    title: str | None = None
    summary: str | None = None
    authors: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = Field(None, description="Language declared by the feed, if any.")


class FetchMeta(_Record):
    """How the body of a raw article was obtained."""

    status: int | None = Field(None, description="HTTP status of the fetch that produced the body.")
    final_url: str | None = Field(None, description="URL after redirects.")
    content_type: str | None = Field(None, description="Content-Type header as served.")
    etag: str | None = None
    last_modified: str | None = None
    bytes: int | None = Field(None, description="Size of the body as received, before decoding.")
    elapsed_seconds: float | None = None


class RawArticle(_Record):
    """An article as fetched, before any processing (topic `news.raw.v1`, keyed by the canonical URL)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    raw_id: str = Field(description="Unique id of this fetch/publication of the article.")
    url: str = Field(description="The article URL as found (feed link or scraped URL).")
    source: str = Field(description="Name of the configured source (feed or site) it came from.")
    fetched_at: datetime
    content_type: Literal["text/html", "text/plain"] = Field(description="What `body` holds.")
    body: str = Field(description="The page HTML or the plain text, decoded to Unicode.")
    body_origin: Literal["feed_content", "feed_summary", "page", "file"] = "page"
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = Field(None, description="Language declared by the source, if any (BCP 47).")
    feed: FeedEntryMeta | None = None
    fetch: FetchMeta | None = None


class ArticleLink(_Record):
    """An article URL to scrape (topic `news.links.v1`, keyed by the URL's host so one scraper owns a host)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    link_id: str = Field(description="Unique id of this discovery of the link.")
    url: str
    source: str = Field(description="Name of the configured source the link was found in.")
    discovered_at: datetime
    language: str | None = Field(None, description="Language declared by the source, if any (BCP 47).")
    feed: FeedEntryMeta | None = Field(None, description="What the feed or sitemap said about the entry.")


class Topic(_Record):
    """An IPTC Media Topic assigned to an article."""

    code: str = Field(description="IPTC Media Topics code, e.g. '11000000'.")
    label: str
    score: float = Field(ge=0.0, le=1.0)


class CleanArticle(_Record):
    """A processed, unique article (topic `news.clean.v1`, keyed by `article_id`; also a row of the store)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    article_id: str = Field(description="Stable id: SHA-256 of the canonical URL, first 32 hex characters.")
    raw_id: str = Field(description="The raw record this clean record was made from.")
    url: str
    canonical_url: str
    source: str
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    fetched_at: datetime
    processed_at: datetime
    language: str = Field(description="ISO 639-1 code, or 'und' when undetermined.")
    language_confidence: float = Field(ge=0.0, le=1.0)
    language_evidence: Literal["text", "declared", "none"] = "text"
    text: str = Field(description="The clean article body, paragraphs separated by blank lines.")
    content_hash: str = Field(description="SHA-256 of the normalised text (case, spacing, punctuation folded).")
    word_count: int = Field(ge=0)
    site_name: str | None = None
    image_url: str | None = None
    story_id: str | None = Field(None, description="Id shared by articles reporting the same story.")
    topics: list[Topic] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes.")
    removed_lines: dict[str, int] = Field(default_factory=dict, description="Chrome lines removed, per reason.")
    processor_version: str


class DuplicateArticle(_Record):
    """A later copy of an article already published (topic `news.duplicates.v1`, keyed by `duplicate_of`)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    raw_id: str
    article_id: str = Field(description="This copy's own id (from its canonical URL).")
    duplicate_of: str = Field(description="article_id of the first-seen article.")
    kind: Literal["url", "content", "near"]
    similarity: float = Field(ge=0.0, le=1.0)
    url: str
    canonical_url: str
    source: str
    title: str | None = None
    content_hash: str | None = None
    detected_at: datetime
    processor_version: str


def decode_raw(value: bytes) -> RawArticle:
    """Parse a raw-topic message; raises RecordError with a readable reason.

    The usual, valid record is parsed and validated in one pass by pydantic's JSON parser (a page body of
    150 kB decodes in about half the time of `json.loads` then validation, measured in
    `benchmarks/throughput.py`); anything it refuses, or a record that leaves `schema_version` out, goes
    through the step-by-step path that says what is wrong.
    """
    try:
        raw = RawArticle.model_validate_json(value)
    except ValidationError:
        return _decode_raw_checked(value)
    if "schema_version" not in raw.model_fields_set:
        return _decode_raw_checked(value)
    return raw


def _decode_raw_checked(value: bytes) -> RawArticle:
    """Parse a raw-topic message step by step: JSON, an object, the schema version, then the fields."""
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RecordError(f"expected a JSON object, got {type(data).__name__}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RecordError(f"unsupported schema_version {version!r} (this worker reads {SCHEMA_VERSION})")
    try:
        return RawArticle.model_validate(data)
    except ValidationError as exc:
        raise RecordError(f"invalid raw record: {exc.error_count()} errors: {exc.errors()[0]['loc']}: "
                          f"{exc.errors()[0]['msg']}") from exc


def decode_link(value: bytes) -> ArticleLink:
    """Parse a links-topic message; raises RecordError with a readable reason."""
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise RecordError("not a version-1 link record")
    try:
        return ArticleLink.model_validate(data)
    except ValidationError as exc:
        raise RecordError(f"invalid link record: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc


def encode(record: BaseModel) -> bytes:
    """Serialise a record to compact UTF-8 JSON."""
    return record.model_dump_json(exclude_none=False).encode("utf-8")
