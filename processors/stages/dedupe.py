"""Stage `dedupe`: the same canonical URL (level 1), the same normalised text (2), near-identical text (3).

Decisions go through the store with the database's uniqueness guarantees — key claims and LSH bucket claims
(`INSERT ... ON CONFLICT DO NOTHING`, then read the holder, in one transaction) — so any number of workers on any
number of hosts agree on which record came first, even for two copies processed at the same moment.
Re-processing the same raw record (a replay, or a redelivery after a crash) finds its own claims and stored
decisions, and is not a duplicate of itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Protocol, Sequence

from processors.article import Article, Drop, DuplicateOf, StageResult
from processors.extraction.text import content_hash
from processors.similarity.minhash import NearDuplicateOptions, estimated_jaccard, sign

__all__ = ["DedupeOptions", "KeyClaims", "NearIndex", "NearMatchLike", "Dedupe"]


class KeyClaims(Protocol):
    """The part of the store the exact levels need."""

    def claim(self, kind: str, key: str, owner: str, article_id: str) -> tuple[str, str]: ...


class NearMatchLike(Protocol):
    article_id: str
    similarity: float


class NearIndex(Protocol):
    """The part of the store the near-duplicate level needs (`newswire.store.dedupe_index.NearDuplicateIndex`)."""

    def claim(self, article_id: str, buckets: Sequence[int], signature: bytes,
              similarity: Callable[[bytes, bytes], float], threshold: float) -> NearMatchLike | None: ...


@dataclass(frozen=True)
class DedupeOptions:
    """Tunables of the dedupe stage."""

    near: NearDuplicateOptions = NearDuplicateOptions()
    near_enabled: bool = True  # off: only the URL and content levels run (and no near index is written)


class Dedupe:
    """Marks an article as a URL, content or near duplicate of the first unique article that came before it."""

    name = "dedupe"

    def __init__(self, claims: KeyClaims, near_index: NearIndex | None = None,
                 options: DedupeOptions = DedupeOptions()) -> None:
        self.claims = claims
        self.near_index = near_index if options.near_enabled else None
        self.options = options

    def __call__(self, article: Article) -> StageResult:
        if not article.text:
            return Drop(self.name, "no_text")
        digest = content_hash(article.text)
        article = replace(article, content_hash=digest)
        raw_id = article.raw.raw_id

        # Level 1 — same canonical URL: the first raw record to reach it owns the article id.
        owner, _ = self.claims.claim("url", article.article_id, raw_id, article.article_id)
        if owner != raw_id:
            return replace(article, duplicate=DuplicateOf("url", article.article_id, 1.0))

        # Level 2 — same text under another URL: the first article to publish that text owns it.
        _, holder = self.claims.claim("content", digest, article.article_id, article.article_id)
        if holder != article.article_id:
            return replace(article, duplicate=DuplicateOf("content", holder, 1.0))

        # Level 3 — nearly the same text: an LSH candidate whose estimated Jaccard reaches the threshold.
        if self.near_index is None:
            return article
        signature = sign(article.text, self.options.near)
        if signature is None:  # too short for a reliable estimate
            return article
        match = self.near_index.claim(article.article_id, signature.buckets, signature.to_bytes(),
                                      estimated_jaccard, self.options.near.threshold)
        if match is not None:
            return replace(article, duplicate=DuplicateOf("near", match.article_id, match.similarity))
        return article
