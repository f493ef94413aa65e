"""The processing pipeline: the explicit, ordered list of stages every raw article goes through."""

from __future__ import annotations

from dataclasses import dataclass

from newswire.records import RawArticle
from newswire.settings import ProcessorSettings
from newswire.store import Store
from processors.article import StageResult, article_from_raw
from processors.budget import Bounded, RecordLimits, record_clock
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
    limits: RecordLimits = RecordLimits()  # the per-record budget the `Bounded` stages share

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def process(self, raw: RawArticle) -> StageResult:
        """Run every stage; returns the final Article (unique or marked duplicate) or the Drop that ended it."""
        with record_clock(self.limits.time_seconds):
            return run_stages(self.stages, article_from_raw(raw))


def build_pipeline(store: Store, options: ProcessorSettings | None = None) -> Pipeline:
    """The production order: extract → chrome → language → topics → dedupe → story (store-backed: chrome's
    template memory, dedupe and story indexes). The pure stages run within the per-record budget of `options`
    (`processors/budget.py`); the store-backed ones are never interrupted."""
    limits = RecordLimits.from_settings(options or ProcessorSettings())
    return Pipeline(stages=(
        Bounded(ExtractText(), limits, inspect_input=True),
        StripChrome(store.template_lines),
        Bounded(DetectLanguage(), limits),
        Bounded(TagTopics(), limits),
        Dedupe(store, store.near_index),
        AssignStory(store.story_index),
    ), limits=limits)
