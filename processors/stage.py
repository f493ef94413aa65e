"""The stage contract and the runner that wraps every stage with the same timing, counters and error capture."""

from __future__ import annotations

import time
from typing import Protocol, Sequence

from newswire.metrics import BUDGET_EXCEEDED, DROPS, STAGE_RESULTS, STAGE_SECONDS
from processors.article import Article, Drop, StageResult
from processors.budget import BudgetExceeded

__all__ = ["Stage", "StageFailed", "run_stages"]


class Stage(Protocol):
    """One small step: takes an article, returns a new article or a Drop; never mutates, never talks to Kafka."""

    name: str

    def __call__(self, article: Article) -> StageResult: ...


class StageFailed(Exception):
    """A stage raised: the record is poison for that stage and goes to the dead-letter topic."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"stage {stage!r} failed: {type(error).__name__}: {error}")
        self.stage = stage
        self.error = error


def run_stages(stages: Sequence[Stage], article: Article) -> StageResult:
    """Run stages in order until one drops the article; raise StageFailed if one raises."""
    current: StageResult = article
    for stage in stages:
        started = time.perf_counter()
        try:
            current = stage(current)
        except Exception as exc:
            STAGE_RESULTS.labels(stage.name, "error").inc()
            if isinstance(exc, (BudgetExceeded, MemoryError)):
                BUDGET_EXCEEDED.labels(stage.name, getattr(exc, "limit", "memory")).inc()
            raise StageFailed(stage.name, exc) from exc
        finally:
            STAGE_SECONDS.labels(stage.name).observe(time.perf_counter() - started)
        if isinstance(current, Drop):
            STAGE_RESULTS.labels(stage.name, "drop").inc()
            DROPS.labels(current.stage, current.reason).inc()
            return current
        STAGE_RESULTS.labels(stage.name, "ok").inc()
    return current
