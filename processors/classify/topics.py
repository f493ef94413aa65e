"""IPTC Media Topics tagging by weighted term evidence, with an explanation of every topic given.

Each lexicon term found in the title or text adds `weight × (1 + ln count)` to its topic: distinct terms count more
than one term repeated, and a title word counts `title_weight` times. A level-1 topic's evidence is the sum over
its own terms and those of its level-2 children (a term listed under both counts once). Scores are in 0..1: the
strongest topic scores its confidence `1 − exp(−evidence / saturation)`, the others that confidence scaled by their
evidence relative to the strongest. Level-2 topics are given only when their own evidence is strong.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from newswire.records import Topic
from processors.classify.lexicon import Entry, Lexicon, lexicon_for, taxonomy
from processors.classify.text import Token, stemmer_for, tokenize

__all__ = ["TopicEvidence", "TopicOptions", "explain_topics", "normalise_language", "tag_topics"]


@dataclass(frozen=True)
class TopicOptions:
    """Tunables of topic tagging (defaults measured on news text; see docs/topics.md)."""

    title_weight: float = 2.0  # a title word is worth this many body words
    saturation: float = 12.0  # evidence at which the top topic's confidence reaches 63 %
    min_score: float = 0.2  # level-1 topics scoring below this are left out
    max_topics: int = 4  # level-1 topics kept at most
    min_level2_evidence: float = 6.0  # a level-2 topic needs this much evidence of its own ...
    min_level2_terms: int = 2  # ... from at least this many distinct terms
    min_level2_share: float = 0.3  # ... and this share of its parent's evidence
    max_chars: int = 30_000  # only the head of a very long text is read: bounds the cost


@dataclass(frozen=True)
class TopicEvidence:
    """Why a topic was scored: its evidence and the terms that produced it, strongest first."""

    code: str
    label: str
    level: int
    score: float
    evidence: float
    terms: tuple[tuple[str, float, float], ...]  # (term, count, contribution)


def normalise_language(language: str | None) -> str:
    """ISO 639-1 code from a language tag ('pt-BR' → 'pt'); 'und' when there is none."""
    if not language:
        return "und"
    return language.replace("_", "-").split("-")[0].lower() or "und"


def _count_terms(tokens: list[Token], lexicon: Lexicon, multiplier: float, counts: dict[Entry, float]) -> None:
    key_of = stemmer_for(lexicon.language)
    covered = 0  # tokens before this index belong to a phrase already counted
    for i, token in enumerate(tokens):
        longest = 0
        for keys, entry in lexicon.phrases.get(token.key, ()):
            n = len(keys)
            if i + n <= len(tokens) and all(tokens[i + j].key == keys[j] for j in range(1, n)):
                counts[entry] += multiplier
                longest = max(longest, n)
        covered = max(covered, i + longest)
        if longest or i < covered:
            continue
        entries = lexicon.words.get(token.key)
        if entries is None and "-" in token.word:
            # "Ukraine-Krieg", "cost-of-living": the parts are evidence when the whole is unknown
            entries = [e for part in token.word.split("-") for e in lexicon.words.get(key_of(part), ())]
        for entry in entries or ():
            if entry.case == 0 or (token.capital if entry.case == 1 else token.word[:2].isupper()):
                counts[entry] += multiplier
        if lexicon.prefixes and not entries:
            for entry in lexicon.prefixed(token.word):
                counts[entry] += multiplier


def _evidence(text: str, title: str | None, language: str, options: TopicOptions) -> dict[str, dict[str, tuple]]:
    """code → {term: (count, contribution)} for level-1 and level-2 codes."""
    lexicon = lexicon_for(language)
    counts: dict[Entry, float] = defaultdict(float)
    _count_terms(tokenize(text[: options.max_chars], language), lexicon, 1.0, counts)
    if title:
        _count_terms(tokenize(title, language), lexicon, options.title_weight, counts)
    table = taxonomy()
    found: dict[str, dict[str, tuple]] = defaultdict(dict)
    for entry, count in counts.items():
        contribution = entry.weight * (1.0 + math.log(count)) if count >= 1 else entry.weight * count
        topic = table[entry.code]
        targets = [topic["top"]] + ([topic["level2"]] if topic["level2"] else [])
        for code in targets:
            old = found[code].get(entry.term)
            if old is None or old[1] < contribution:  # one term listed under a parent and a child counts once
                found[code][entry.term] = (count, contribution)
    return found


def _score(found: dict[str, dict[str, tuple]], options: TopicOptions) -> dict[str, float]:
    table = taxonomy()
    evidence = {code: sum(c for _, c in terms.values()) for code, terms in found.items()}
    tops = {code: e for code, e in evidence.items() if table[code]["level"] == 1}
    if not tops:
        return {}
    best = max(tops.values())
    confidence = 1.0 - math.exp(-best / options.saturation)
    scores = {code: confidence * e / best for code, e in tops.items()}
    for code, e in evidence.items():
        topic = table[code]
        parent = topic["top"]
        if topic["level"] == 2 and e >= options.min_level2_evidence and len(found[code]) >= options.min_level2_terms:
            share = e / tops[parent]
            if share >= options.min_level2_share:
                scores[code] = scores[parent] * min(1.0, share)
    return scores


def explain_topics(text: str, title: str | None = None, language: str | None = "und",
                   options: TopicOptions = TopicOptions()) -> list[TopicEvidence]:
    """Every topic with evidence in the article, strongest first, with the terms that produced it."""
    language = normalise_language(language)
    found = _evidence(text, title, language, options)
    scores = _score(found, options)
    table = taxonomy()
    explained = []
    for code, terms in found.items():
        ranked = sorted(((t, round(n, 2), round(c, 2)) for t, (n, c) in terms.items()), key=lambda x: -x[2])
        explained.append(TopicEvidence(code, table[code]["labels"]["en"], table[code]["level"],
                                       round(scores.get(code, 0.0), 4), round(sum(x[2] for x in ranked), 2),
                                       tuple(ranked)))
    return sorted(explained, key=lambda e: (-e.score, -e.evidence, e.code))


def tag_topics(text: str, title: str | None = None, language: str | None = "und",
               options: TopicOptions = TopicOptions()) -> tuple[Topic, ...]:
    """The article's IPTC topics: level-1 topics above `min_score` and strong level-2 ones, by score descending."""
    language = normalise_language(language)
    scores = _score(_evidence(text, title, language, options), options)
    table = taxonomy()
    tops = sorted((c for c in scores if table[c]["level"] == 1), key=lambda c: (-scores[c], c))
    kept = {c for c in tops[: options.max_topics] if scores[c] >= options.min_score}
    kept |= {c for c in scores if table[c]["level"] == 2 and table[c]["top"] in kept}
    ordered = sorted(kept, key=lambda c: (-scores[c], table[c]["level"], c))
    return tuple(Topic(code=c, label=table[c]["labels"]["en"], score=round(min(1.0, scores[c]), 4)) for c in ordered)
