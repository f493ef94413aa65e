"""The working record that flows through the stages, the drop value, and conversion to wire records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from newswire.records import CleanArticle, DuplicateArticle, RawArticle, Topic, utc_now
from newswire.urls import article_id_for, canonical_url

__all__ = ["Article", "Drop", "DuplicateOf", "StageResult", "article_from_raw", "to_clean", "to_duplicate"]


@dataclass(frozen=True)
class Drop:
    """A stage's decision that a record is not an article to keep (a normal outcome, counted by reason)."""

    stage: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class DuplicateOf:
    """The dedupe decision: this record repeats an article already published."""

    kind: Literal["url", "content", "near"]
    article_id: str
    similarity: float = 1.0


@dataclass(frozen=True)
class Article:
    """An article on its way through the pipeline; stages return changed copies (`dataclasses.replace`)."""

    raw: RawArticle
    canonical_url: str
    article_id: str
    text: str | None = None
    title: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    site_name: str | None = None
    image_url: str | None = None
    language: str | None = None
    language_confidence: float = 0.0
    language_evidence: Literal["text", "declared", "none"] = "none"
    content_hash: str | None = None
    duplicate: DuplicateOf | None = None
    story_id: str | None = None
    topics: tuple[Topic, ...] = ()
    countries: tuple[str, ...] = ()
    removed_lines: dict[str, int] = field(default_factory=dict)


StageResult = Article | Drop


def article_from_raw(raw: RawArticle) -> Article:
    """Start an article from a raw record: canonical URL and id from the record's URL, metadata it carries."""
    canonical = canonical_url(raw.url)
    return Article(
        raw=raw,
        canonical_url=canonical,
        article_id=article_id_for(canonical),
        title=raw.title,
        authors=tuple(raw.authors),
        published_at=raw.published_at,
    )


def to_clean(article: Article, processor_version: str) -> CleanArticle:
    """The clean wire record of an article that went through every stage."""
    text = article.text or ""
    return CleanArticle(
        article_id=article.article_id,
        raw_id=article.raw.raw_id,
        url=article.raw.url,
        canonical_url=article.canonical_url,
        source=article.raw.source,
        title=article.title,
        authors=list(article.authors),
        published_at=article.published_at,
        fetched_at=article.raw.fetched_at,
        processed_at=utc_now(),
        language=article.language or "und",
        language_confidence=round(article.language_confidence, 4),
        language_evidence=article.language_evidence,
        text=text,
        content_hash=article.content_hash or "",
        word_count=len(text.split()),
        site_name=article.site_name,
        image_url=article.image_url,
        story_id=article.story_id,
        topics=list(article.topics),
        countries=list(article.countries),
        removed_lines=dict(article.removed_lines),
        processor_version=processor_version,
    )


def to_duplicate(article: Article, processor_version: str) -> DuplicateArticle:
    """The duplicates-topic record of an article the dedupe stage matched to an earlier one."""
    assert article.duplicate is not None
    return DuplicateArticle(
        raw_id=article.raw.raw_id,
        article_id=article.article_id,
        duplicate_of=article.duplicate.article_id,
        kind=article.duplicate.kind,
        similarity=round(article.duplicate.similarity, 4),
        url=article.raw.url,
        canonical_url=article.canonical_url,
        source=article.raw.source,
        title=article.title,
        content_hash=article.content_hash,
        detected_at=utc_now(),
        processor_version=processor_version,
    )
