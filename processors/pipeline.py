"""The processing pipeline: the explicit, ordered list of stages every raw article goes through."""

from __future__ import annotations

from dataclasses import dataclass
from newswire.records import RawArticle
from newswire.store import Store
from processors.article import StageResult, article_from_raw
from processors.stage import Stage, run_stages
from processors.stages.chrome import StripChrome
from processors.stages.dedupe import Dedupe
from processors.stages.extract import ExtractText
from processors.stages.language import DetectLanguage
from processors.stages.story import AssignStory
from processors.stages.topics import TagTopics

__all__ = ["Pipeline", "build_pipeline"]


@dataclass(frozen=True)
class Pipeline:
    """An ordered tuple of stages; `process` runs a raw record through them."""

    stages: tuple[Stage, ...]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def process(self, raw: RawArticle) -> StageResult:
        """Run every stage; returns the final Article (unique or marked duplicate) or the Drop that ended it."""
        return run_stages(self.stages, article_from_raw(raw))


def build_pipeline(store: Store) -> Pipeline:
    """The production order: extract → chrome → language → topics → dedupe → story (store-backed: chrome's
    template memory, dedupe and story indexes)."""
    return Pipeline(stages=(
        ExtractText(),
        StripChrome(store.template_lines),
        DetectLanguage(),
        TagTopics(),
        Dedupe(store, store.near_index),
        AssignStory(store.story_index),
    ))
