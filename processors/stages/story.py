"""Stage `story` (dedupe level 4): articles about one event, published within a time window, share a `story_id`.

An article joins the story of the most similar earlier article within `window_hours` of its publication time
(weighted cosine of named entities and distinctive terms, `processors.similarity.story_features`) when that
similarity reaches `threshold`; otherwise it starts a story named after its own `article_id`. Duplicates are not
clustered (they are not clean records). The assignment is stored, so a replay gives the same `story_id`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Callable, Protocol, Sequence

from processors.article import Article, StageResult
from processors.similarity.story_features import (StoryFeatures, StoryOptions, feature_key, story_features,
                                                  story_similarity)

__all__ = ["StoryOptions", "StoryAssignments", "AssignStory"]


class StoryAssignments(Protocol):
    """The part of the store this stage needs (`newswire.store.story_index.StoryIndex`)."""

    def assign(self, article_id: str, published_at: datetime, features: dict, keys: Sequence[int],
               window: timedelta, choose: Callable[[list[tuple[str, str, dict]]], str | None], *,
               per_feature: int = 50, max_candidates: int = 20) -> str: ...


class AssignStory:
    """Sets `story_id` on unique articles."""

    name = "story"

    def __init__(self, stories: StoryAssignments, options: StoryOptions = StoryOptions()) -> None:
        self.stories = stories
        self.options = options

    def __call__(self, article: Article) -> StageResult:
        if article.duplicate is not None or not article.text:
            return article
        features = story_features(article.text, article.title, article.language, self.options)
        published = article.published_at or article.raw.fetched_at
        keys = [feature_key(f) for f in features.strongest(self.options.indexed_features)]

        def choose(candidates: list[tuple[str, str, dict]]) -> str | None:
            scored = [(story_similarity(features, StoryFeatures.from_json(data), self.options), story_id)
                      for _, story_id, data in candidates]
            best = max(scored, default=(0.0, None))
            return best[1] if best[0] >= self.options.threshold else None

        story_id = self.stories.assign(article.article_id, published, features.to_json(), keys,
                                       timedelta(hours=self.options.window_hours), choose,
                                       per_feature=self.options.max_candidates_per_feature,
                                       max_candidates=self.options.max_candidates)
        return replace(article, story_id=story_id)
