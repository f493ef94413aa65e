"""Measuring topic tagging against labelled news: the MasakhaNews development set and macro-F1.

Used by the quality gate (tests/quality/test_topics_quality.py) and the benchmark (benchmarks/topics_masakhanews.py)
so both measure the same thing: the top level-1 IPTC topic of each article against its label, mapped to IPTC.
"""

from __future__ import annotations

import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from processors.classify.topics import TopicOptions, tag_topics

__all__ = ["LABEL_TO_IPTC", "MASAKHANEWS_LANGUAGES", "Measure", "load_masakhanews", "macro_f1", "measure",
           "shared_folder"]

# The mapping published with the dev set in shared/README.md.
LABEL_TO_IPTC = {"business": "04000000", "entertainment": "01000000", "health": "07000000",
                 "politics": "11000000", "sports": "15000000", "technology": "13000000"}
MASAKHANEWS_LANGUAGES = {"eng": "en", "fra": "fr"}


@dataclass(frozen=True)
class Row:
    """One labelled article."""

    label: str
    headline: str
    text: str


@dataclass(frozen=True)
class Measure:
    """Macro-F1 over the labels of a dev set, per-label F1, the number of articles, and how often the label is
    among the level-1 topics given at all (what a consumer filtering on a topic code receives)."""

    macro_f1: float
    per_label: dict[str, float]
    articles: int
    label_given: float = 0.0


def shared_folder() -> Path:
    """The shared folder: NEWSWIRE_SHARED, or `shared` beside the repository."""
    default = Path(__file__).resolve().parents[2].parent / "shared"
    return Path(os.environ.get("NEWSWIRE_SHARED", default))


def load_masakhanews(folder: str, shared: Path | None = None) -> list[Row]:
    """The articles of one language folder (`eng`, `fra`) of the MasakhaNews dev set."""
    csv.field_size_limit(sys.maxsize)
    path = (shared or shared_folder()) / "datasets" / "masakhanews-dev" / folder / "dev.tsv"
    with path.open(encoding="utf-8", newline="") as handle:
        return [Row(r["category"], r["headline"], r["text"]) for r in csv.DictReader(handle, delimiter="\t")]


def macro_f1(gold: list[str], predicted: list[str]) -> tuple[float, dict[str, float]]:
    """Unweighted mean of per-label F1 over the labels present in `gold`, and the per-label figures."""
    scores = {}
    for label in sorted(set(gold)):
        tp = sum(g == label and p == label for g, p in zip(gold, predicted))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted))
        scores[label] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return sum(scores.values()) / len(scores), scores


def measure(rows: list[Row], language: str, options: TopicOptions = TopicOptions()) -> Measure:
    """Macro-F1 of the top level-1 topic (code compared with the label's IPTC code) over `rows`."""
    gold, predicted, given = [], [], 0
    for row in rows:
        topics = [t for t in tag_topics(row.text, row.headline, language, options) if t.code.endswith("000000")]
        gold.append(LABEL_TO_IPTC[row.label])
        predicted.append(topics[0].code if topics else "none")
        given += any(t.code == gold[-1] for t in topics)
    score, per_code = macro_f1(gold, predicted)
    names = {code: label for label, code in LABEL_TO_IPTC.items()}
    return Measure(score, {names[c]: f for c, f in per_code.items()}, len(rows), given / len(rows) if rows else 0.0)
