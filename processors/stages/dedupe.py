"""Stage `dedupe`: the same canonical URL (level 1), the same normalised text (2), near-identical text (3).

Levels 1–3 are decided in one store transaction (`newswire.store.dedupe_index.DedupeIndex.decide`) with the
database's uniqueness guarantees — key claims and LSH bucket claims (`INSERT ... ON CONFLICT DO NOTHING`, then
read the holder) — so any number of workers on any number of hosts agree on which record came first, even for
two copies processed at the same moment, and a decision costs one commit. Re-processing the same raw record (a
replay, or a redelivery after a crash) finds its own claims and stored decisions, and is not a duplicate of
itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from newswire.store.dedupe_index import Decision, NearQuery
from processors.article import Article, Drop, DuplicateOf, StageResult
from processors.extraction.text import fold_for_hash, folded_content_hash
from processors.similarity.minhash import NearDuplicateOptions, estimated_jaccard, sign_folded

__all__ = ["DedupeOptions", "DedupeDecisions", "Dedupe"]


class DedupeDecisions(Protocol):
    """The part of the store this stage needs (`Store.decide`, `newswire.store.dedupe_index.DedupeIndex`)."""

    def decide(self, raw_id: str, article_id: str, content_hash: str,
               near: NearQuery | None) -> Decision | None: ...


@dataclass(frozen=True)
class DedupeOptions:
    """Tunables of the dedupe stage."""

    near: NearDuplicateOptions = NearDuplicateOptions()
    near_enabled: bool = True  # off: only the URL and content levels run (and no near index is written)


class Dedupe:
    """Marks an article as a URL, content or near duplicate of the first unique article that came before it.

    `claims` decides the URL and content levels; `near_index`, when given (the store's `near_index`), decides
    all three levels, near duplicates included. Both are the store's `DedupeDecisions`.
    """

    name = "dedupe"

    def __init__(self, claims: DedupeDecisions, near_index: DedupeDecisions | None = None,
                 options: DedupeOptions = DedupeOptions()) -> None:
        self.decisions = near_index if near_index is not None else claims
        self.near_enabled = near_index is not None and options.near_enabled
        self.options = options

    def __call__(self, article: Article) -> StageResult:
        if not article.text:
            return Drop(self.name, "no_text")
        # One folding for both hashes (it was a third of the stage's CPU, done twice).
        folded = fold_for_hash(article.text)
        digest = folded_content_hash(folded)
        article = replace(article, content_hash=digest)
        # The signature is computed before the transaction, so no lock is held while hashing.
        near = self._near_query(folded) if self.near_enabled else None
        decision = self.decisions.decide(article.raw.raw_id, article.article_id, digest, near)
        if decision is None:
            return article
        return replace(article, duplicate=DuplicateOf(decision.kind, decision.article_id, decision.similarity))

    def _near_query(self, folded: str) -> NearQuery | None:
        signature = sign_folded(folded, self.options.near)
        if signature is None:  # too short for a reliable estimate: level 3 is skipped
            return None
        return NearQuery(signature.buckets, signature.to_bytes(), estimated_jaccard, self.options.near.threshold)
