"""Per-source line counts for template learning, shared by every worker through the store.

Implements the chrome cleaner's `TemplateMemory` protocol: for each line hash of an article, remember up to `cap`
distinct articles of the same source that showed it, and answer how many have. Rows are keyed by
(source, line_hash, article_id), so re-processing an article never inflates a count. Size stays bounded: a hash
stops gaining rows at `cap`, and `purge()` drops pairs not seen within the retention window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Collection

from newswire.records import utc_now
from newswire.store.database import Database

__all__ = ["TemplateLineCounts"]

_CHUNK = 400


class TemplateLineCounts:
    """Store-backed TemplateMemory (see `processors.chrome.template`)."""

    def __init__(self, db: Database, cap: int = 8) -> None:
        self.db = db
        self.cap = cap

    def observe(self, source: str, article_id: str, hashes: Collection[str]) -> dict[str, int]:
        """Record the article's line hashes; return how many distinct articles of `source` showed each."""
        unique = sorted(set(hashes))
        if not unique:
            return {}
        now = utc_now()
        counts: dict[str, int] = {}
        with self.db.transaction() as tx:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start:start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                rows = tx.query(
                    f"SELECT line_hash, COUNT(*) FROM template_lines WHERE source = ? AND line_hash IN ({marks})"
                    " GROUP BY line_hash", (source, *chunk))
                known = {h: int(n) for h, n in rows}
                new_rows = [(source, h, article_id, now) for h in chunk if known.get(h, 0) < self.cap]
                if new_rows:
                    tx.executemany(
                        "INSERT INTO template_lines (source, line_hash, article_id, seen_at) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (source, line_hash, article_id) DO UPDATE SET seen_at = excluded.seen_at",
                        new_rows)
                    rows = tx.query(
                        f"SELECT line_hash, COUNT(*) FROM template_lines WHERE source = ? AND line_hash IN ({marks})"
                        " GROUP BY line_hash", (source, *chunk))
                    known = {h: int(n) for h, n in rows}
                counts.update({h: known.get(h, 0) for h in chunk})
        return counts

    def purge(self, older_than: timedelta = timedelta(days=30), now: datetime | None = None) -> int:
        """Delete rows not seen within `older_than`; returns how many."""
        cutoff = (now or utc_now()) - older_than
        return self.db.execute("DELETE FROM template_lines WHERE seen_at < ?", (cutoff,))
