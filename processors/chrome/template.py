"""Template learning: lines that recur across different articles of one source are the site's template.

The counts must be shared by every worker and survive restarts, so they live in the store; the cleaner only sees
the small `TemplateMemory` protocol below. `InMemoryTemplateMemory` implements it for tests and offline runs
(`newswire process-file`), with the same bounded-size behaviour the store version must have.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Collection, Mapping, Protocol

from processors.extraction.text import fold_for_hash

__all__ = ["TemplateMemory", "InMemoryTemplateMemory", "line_hash", "folded_line_hash"]


def line_hash(line: str) -> str:
    """Stable 16-hex-digit key of a line: case, spacing and punctuation folded, then BLAKE2b (64 bits)."""
    return folded_line_hash(fold_for_hash(line))


def folded_line_hash(folded: str) -> str:
    """`line_hash` of a line already folded by `fold_for_hash` (the cleaner folds each line once, `Line.key`)."""
    return hashlib.blake2b(folded.encode("utf-8"), digest_size=8).hexdigest()


class TemplateMemory(Protocol):
    """Per-source memory of which lines appeared in which articles."""

    def observe(self, source: str, article_id: str, hashes: Collection[str]) -> Mapping[str, int]:
        """Record that `article_id` of `source` shows these line hashes; return, for each of them, how many
        distinct articles of that source have shown it (this one included). Idempotent per (source, hash,
        article): re-processing an article never inflates the counts."""
        ...


class InMemoryTemplateMemory:
    """A bounded TemplateMemory in a dict: per (source, hash) up to `cap` article ids, least recently seen
    (source, hash) pairs evicted beyond `max_entries`."""

    def __init__(self, cap: int = 8, max_entries: int = 200_000) -> None:
        self.cap = cap
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[str, str], set[str]] = OrderedDict()

    def observe(self, source: str, article_id: str, hashes: Collection[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for h in set(hashes):
            key = (source, h)
            articles = self._seen.pop(key, None) or set()
            if len(articles) < self.cap:
                articles.add(article_id)
            self._seen[key] = articles
            counts[h] = len(articles)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return counts
