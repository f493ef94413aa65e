"""Stage `dedupe`: exact duplicates — the same canonical URL, or the same normalised text.

Decisions go through the store's key claims (`INSERT ... ON CONFLICT DO NOTHING`), so any number of workers on
any number of hosts agree on which record came first. Re-processing the same raw record (a replay, or a
redelivery after a crash) finds its own claims and is not a duplicate of itself.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from processors.article import Article, Drop, DuplicateOf, StageResult
from processors.extraction.text import content_hash

__all__ = ["KeyClaims", "ExactDedupe"]


class KeyClaims(Protocol):
    """The part of the store this stage needs."""

    def claim(self, kind: str, key: str, owner: str, article_id: str) -> tuple[str, str]: ...


class ExactDedupe:
    """Marks an article as a URL or content duplicate of the first article that claimed the key."""

    name = "dedupe"

    def __init__(self, claims: KeyClaims) -> None:
        self.claims = claims

    def __call__(self, article: Article) -> StageResult:
        if not article.text:
            return Drop(self.name, "no_text")
        digest = content_hash(article.text)
        article = replace(article, content_hash=digest)
        raw_id = article.raw.raw_id

        # Same canonical URL: the first raw record to reach it owns the article id.
        owner, _ = self.claims.claim("url", article.article_id, raw_id, article.article_id)
        if owner != raw_id:
            return replace(article, duplicate=DuplicateOf("url", article.article_id, 1.0))

        # Same text under another URL: the first article to publish that text owns it.
        _, holder = self.claims.claim("content", digest, article.article_id, article.article_id)
        if holder != article.article_id:
            return replace(article, duplicate=DuplicateOf("content", holder, 1.0))
        return article
