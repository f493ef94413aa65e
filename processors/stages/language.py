"""Stage `language`: langdetect on a sample of the text, deterministic, with a confidence and its evidence."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from langdetect import detector_factory
from langdetect.lang_detect_exception import LangDetectException

from processors.article import Article, StageResult

__all__ = ["LanguageOptions", "DetectLanguage", "detect_language"]


@dataclass(frozen=True)
class LanguageOptions:
    """Tunables of language detection."""

    sample_chars: int = 1200  # enough for a stable answer on news text, small enough to stay fast
    min_chars: int = 40  # below this the text alone decides nothing
    min_confidence: float = 0.70  # below this the answer is 'und' (or the declared language)
    seed: int = 0  # langdetect samples at random: a fixed seed makes it deterministic


_factory_lock = threading.Lock()


def _sample(text: str, size: int) -> str:
    if len(text) <= size:
        return text
    cut = text.rfind(" ", 0, size)
    return text[: cut if cut > size // 2 else size]


def detect_language(text: str, options: LanguageOptions = LanguageOptions()) -> tuple[str, float]:
    """Best language code and its probability for `text`, or ('und', 0.0) when undecidable."""
    sample = _sample(text, options.sample_chars)
    if len(sample.strip()) < options.min_chars:
        return "und", 0.0
    detector = _detector(options.seed)
    detector.append(sample)
    try:
        best = detector.get_probabilities()[0]
    except (LangDetectException, IndexError):
        return "und", 0.0
    code = best.lang.split("-")[0]  # zh-cn → zh: ISO 639-1
    return code, float(best.prob)


def _detector(seed: int):
    """A fresh detector whose random trials start from `seed` (loads the language profiles once)."""
    with _factory_lock:
        detector_factory.init_factory()
    detector = detector_factory._factory.create()
    detector.seed = seed
    return detector


def _normalise_declared(value: str | None) -> str | None:
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if len(code) in (2, 3) and code.isalpha() else None


class DetectLanguage:
    """Sets language, language_confidence and language_evidence ('text', 'declared' or 'none')."""

    name = "language"

    def __init__(self, options: LanguageOptions = LanguageOptions()) -> None:
        self.options = options

    def __call__(self, article: Article) -> StageResult:
        text = " ".join(filter(None, [article.title, article.text]))
        code, confidence = detect_language(text, self.options)
        declared = _normalise_declared(article.raw.language) or _normalise_declared(
            article.raw.feed.language if article.raw.feed else None)
        if code != "und" and confidence >= self.options.min_confidence:
            return replace(article, language=code, language_confidence=confidence, language_evidence="text")
        if declared:
            # Short or ambiguous text: the page or feed's declared language is the better evidence.
            agreed = confidence if code == declared else 0.5
            return replace(article, language=declared, language_confidence=agreed, language_evidence="declared")
        return replace(article, language="und", language_confidence=confidence, language_evidence="none")
