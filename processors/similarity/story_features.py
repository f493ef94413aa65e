"""What an article is about, for story clustering: its named entities and distinctive terms, weighted.

Entities are found with a capitalisation heuristic that works across Latin-script languages without a model: a
capitalised word that is not a stopword and is not only ever seen at the start of a sentence ("Pyongyang",
"Kim", "Corée", "Pentagone"). Terms are the other words of at least `min_term_chars` letters that are not
stopwords (justext's stoplists, the ones trafilatura uses). Both are folded (case and accents), weighted by
1 + log(count), and the strongest `top_entities` / `top_terms` are kept. Two articles are compared by a weighted
sum of the cosine similarities of their entity and term vectors.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["StoryOptions", "StoryFeatures", "story_features", "story_similarity", "feature_key"]

# Split on words, kept: [gap, word, gap, word, ..., gap]. The gap since the previous word is all a sentence start
# needs (see `_starts_sentence`); looking at the whole paragraph before each word was quadratic in its length.
_WORD_SPLIT = re.compile(r"([^\W\d_][\w'’-]*)")
_SENTENCE_END_CHARS = frozenset(".!?…:»\"“”")
_CACHE_LIMIT = 50_000  # words; ~150 bytes each, cleared when full (bounded memory, see classify/text.py)
_LANGUAGES = {"fr": "French", "en": "English", "de": "German", "es": "Spanish", "it": "Italian",
              "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "ro": "Romanian", "sv": "Swedish",
              "da": "Danish", "no": "Norwegian_Bokmal", "fi": "Finnish", "cs": "Czech", "tr": "Turkish"}


@dataclass(frozen=True)
class StoryOptions:
    """Tunables of story clustering (level 4); see docs/dedupe.md for how the threshold was measured."""

    window_hours: float = 72.0  # articles published further apart than this are never one story
    threshold: float = 0.40  # weighted similarity at or above which an article joins a candidate's story
    entity_weight: float = 0.6  # share of named entities in the similarity; terms get the rest
    top_entities: int = 20
    top_terms: int = 30
    indexed_features: int = 12  # strongest features written to (and looked up in) the story index
    min_term_chars: int = 5
    max_candidates_per_feature: int = 50  # bounds a lookup on a busy day: newest articles per feature only
    max_candidates: int = 20  # candidates scored in full, those sharing the most indexed features


@dataclass(frozen=True)
class StoryFeatures:
    """Weighted entity and term vectors (folded words → weight)."""

    entities: dict[str, float]
    terms: dict[str, float]

    def strongest(self, count: int) -> list[str]:
        """The `count` strongest features, entities first, prefixed so entities and terms never collide."""
        ranked = sorted(((w, "e:" + k) for k, w in self.entities.items()), reverse=True)
        ranked += sorted(((w, "t:" + k) for k, w in self.terms.items()), reverse=True)
        entities = [k for _, k in ranked if k.startswith("e:")][: (count + 1) // 2]
        terms = [k for _, k in ranked if k.startswith("t:")][: count - len(entities)]
        return entities + terms

    def to_json(self) -> dict[str, dict[str, float]]:
        return {"entities": self.entities, "terms": self.terms}

    @classmethod
    def from_json(cls, data: dict[str, dict[str, float]]) -> "StoryFeatures":
        return cls(entities=dict(data.get("entities", {})), terms=dict(data.get("terms", {})))


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("’", "'")


# Raw word → (folded, capitalised), or () when nothing is left of it. Words repeat across articles, so this saves
# the elision strip and the NFKD fold of nearly every word (they were a third of the stage's cost).
_WORD_CACHE: dict[str, tuple[str, bool] | tuple[()]] = {}


def _word_key(raw: str) -> tuple[str, bool] | tuple[()]:
    """The folded form of a raw word (elided article and edge punctuation removed) and whether it is capitalised."""
    found = _WORD_CACHE.get(raw)
    if found is None:
        word = _strip_elision(raw).strip("-'’")
        found = (_fold(word), word[0].isupper()) if word else ()
        if len(_WORD_CACHE) >= _CACHE_LIMIT:
            _WORD_CACHE.clear()  # bounded memory on endless streams; refilled from the next articles
        _WORD_CACHE[raw] = found
    return found


def _starts_sentence(gap: str) -> bool:
    """Whether a word preceded by `gap` (the text since the previous word) opens a sentence.

    The previous word ends in a letter, digit, hyphen or apostrophe, none of which ends a sentence, so only the gap
    can: its last non-space character is a full stop, a colon or a quotation mark. (Same answer as searching the
    whole paragraph before the word; a paragraph's first word always opens one.)
    """
    tail = gap.rstrip()
    return bool(tail) and tail[-1] in _SENTENCE_END_CHARS


@lru_cache(maxsize=32)
def _stopwords(language: str | None) -> frozenset[str]:
    import justext

    names = [_LANGUAGES[language]] if language in _LANGUAGES else ["English", "French"]
    words: set[str] = set()
    for name in names + ["English"]:
        words.update(_fold(w) for w in justext.get_stoplist(name))
    return frozenset(words)


def _strip_elision(word: str) -> str:
    # l'Ukraine, d'artillerie, qu'il: the article or pronoun is not part of the word
    for mark in ("'", "’"):
        head, sep, tail = word.partition(mark)
        if sep and len(head) <= 2 and tail:
            return tail
    return word


def story_features(text: str, title: str | None, language: str | None,
                   options: StoryOptions = StoryOptions()) -> StoryFeatures:
    """The entity and term vectors of an article (the title counts like a paragraph of the text)."""
    stop = _stopwords(language)
    inside_sentence: set[str] = set()
    capital_words: list[str] = []
    term_words: list[str] = []
    min_chars = options.min_term_chars
    cached = _WORD_CACHE.get
    for paragraph in ([title] if title else []) + text.split("\n"):
        first = True
        parts = _WORD_SPLIT.split(paragraph)
        for gap, raw in zip(parts[0::2], parts[1::2]):
            found = cached(raw) or _word_key(raw)  # the dict lookup alone on a hit: no call
            if not found:
                continue
            folded, capital = found
            was_first, first = first, False
            if folded in stop or len(folded) < 2:
                continue
            if capital:
                capital_words.append(folded)
                if not (was_first or _starts_sentence(gap)):  # only capitalised words need the sentence test
                    inside_sentence.add(folded)
            elif len(folded) >= min_chars:
                term_words.append(folded)
    capitalised: Counter[str] = Counter(capital_words)  # counted in C, not one += per word
    terms: Counter[str] = Counter(term_words)
    entities = {k: 1.0 + math.log(n) for k, n in capitalised.items() if k in inside_sentence}
    term_weights = {k: 1.0 + math.log(n) for k, n in terms.items() if k not in entities}
    return StoryFeatures(entities=_top(entities, options.top_entities), terms=_top(term_weights, options.top_terms))


def _top(weights: dict[str, float], count: int) -> dict[str, float]:
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:count]
    return {k: round(w, 4) for k, w in ranked}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(w * b[k] for k, w in a.items() if k in b)
    norm = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return dot / norm if norm else 0.0


def story_similarity(a: StoryFeatures, b: StoryFeatures, options: StoryOptions = StoryOptions()) -> float:
    """Weighted cosine similarity of entities and terms, in [0, 1]."""
    return (options.entity_weight * _cosine(a.entities, b.entities)
            + (1.0 - options.entity_weight) * _cosine(a.terms, b.terms))


def feature_key(feature: str) -> int:
    """A signed 64-bit key for a feature in the story index."""
    return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little", signed=True)
