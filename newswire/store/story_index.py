"""The story index: which story each article joined, and its strongest features by publication time.

Tables (see `schema.py`): `story_articles` (article → story, publication time, feature vectors as JSON),
`story_features` (feature key, publication time → article; the lookup path) and `story_locks` (one row per
feature key, updated to serialise assignments that could see each other).

An assignment first updates the lock rows of the article's indexed features (`INSERT ... ON CONFLICT DO UPDATE`,
in key order), so two articles that share a feature are decided one after the other and the second sees the
first; articles that share no indexed feature could not have found each other anyway. Candidates are read per
feature with a bounded range scan on (feature, published_at) within the time window, so the cost depends on the
number of features, not on the size of the index. The decision is stored: re-processing returns the same story.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Callable, Sequence

from newswire.records import utc_now
from newswire.store.database import Database

__all__ = ["StoryCandidate", "StoryIndex"]

# (article_id, story_id, features as stored)
StoryCandidate = tuple[str, str, dict]


class StoryIndex:
    """Assigns articles to stories, shared by every worker through the store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def assign(self, article_id: str, published_at: datetime, features: dict, keys: Sequence[int],
               window: timedelta, choose: Callable[[list[StoryCandidate]], str | None], *,
               per_feature: int = 50, max_candidates: int = 20) -> str:
        """The story of `article_id`: the one `choose` picks among candidates, or a new one named after it."""
        keys = sorted(set(keys))
        with self.db.transaction() as tx:
            row = tx.query_one("SELECT story_id FROM story_articles WHERE article_id = ?", (article_id,))
            if row is not None:
                return str(row[0])
            now = utc_now()
            story_id = article_id
            if keys:
                tx.execute(f"INSERT INTO story_locks (feature, touched_at) VALUES {_rows(len(keys), 2)}"
                           " ON CONFLICT (feature) DO UPDATE SET touched_at = excluded.touched_at",
                           [v for k in keys for v in (k, now)])
                chosen = choose(self._candidates(tx, article_id, published_at, keys, window, per_feature,
                                                 max_candidates))
                story_id = chosen or article_id
            tx.execute("INSERT INTO story_articles (article_id, story_id, published_at, features, created_at)"
                       " VALUES (?, ?, ?, ?, ?) ON CONFLICT (article_id) DO NOTHING",
                       (article_id, story_id, published_at, json.dumps(features, ensure_ascii=False), now))
            if keys:
                tx.execute(f"INSERT INTO story_features (feature, published_at, article_id, created_at)"
                           f" VALUES {_rows(len(keys), 4)} ON CONFLICT DO NOTHING",
                           [v for k in keys for v in (k, published_at, article_id, now)])
            row = tx.query_one("SELECT story_id FROM story_articles WHERE article_id = ?", (article_id,))
        assert row is not None
        return str(row[0])

    @staticmethod
    def _candidates(tx: Database, article_id: str, published_at: datetime, keys: Sequence[int],
                    window: timedelta, per_feature: int, max_candidates: int) -> list[StoryCandidate]:
        low, high = published_at - window, published_at + window
        scans = " UNION ALL ".join(
            f"SELECT * FROM (SELECT article_id FROM story_features WHERE feature = ? AND published_at >= ?"
            f" AND published_at <= ? ORDER BY published_at DESC LIMIT ?) AS s{i}" for i in range(len(keys)))
        params = [v for k in keys for v in (k, low, high, per_feature)]
        shared: dict[str, int] = {}
        for (other,) in tx.query(scans, params):
            if other != article_id:
                shared[other] = shared.get(other, 0) + 1
        best = sorted(shared, key=lambda a: (-shared[a], a))[:max_candidates]
        if not best:
            return []
        marks = ", ".join("?" * len(best))
        rows = tx.query(f"SELECT article_id, story_id, features FROM story_articles WHERE article_id IN ({marks})",
                        best)
        return sorted((str(a), str(s), json.loads(f)) for a, s, f in rows)


def _rows(count: int, width: int) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return ", ".join([row] * count)
