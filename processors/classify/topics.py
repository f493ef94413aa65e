"""IPTC Media Topics tagging by weighted term evidence, with an explanation of every topic given.

Each lexicon term found in the text adds `weight × (1 + ln count)` to its topic (distinct terms count more than one
term repeated), plus `weight × title_weight` when the title has it. A level-1 topic's evidence is the sum over its
own terms and those of its descendants; one text word counts once per topic, however many entries share its key. Scores are in 0..1: the
strongest topic scores its confidence `1 − exp(−evidence / saturation)`, the others that confidence scaled by their
evidence relative to the strongest. Level-2 topics are given only when their own evidence is strong.
When conflict, war and peace leads but the title or lead names political actors (government, head of state,
diplomacy, elections), those terms count again for politics: IPTC files government responses to conflicts there.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from newswire.records import Topic
from processors.classify.lexicon import Entry, Lexicon, lexicon_for, taxonomy
from processors.classify.text import fold, positions, stemmer_for, words_and_keys

__all__ = ["TopicEvidence", "TopicOptions", "explain_topics", "normalise_language", "tag_topics"]


@dataclass(frozen=True)
class TopicOptions:
    """Tunables of topic tagging (defaults measured on news text; see docs/topics.md)."""

    title_weight: float = 2.0  # a term in the title adds this × its weight, whatever the body's length
    actor_weight: float = 2.0  # a political-actor term in the title or lead adds this × its weight to politics ...
    actor_rivals: tuple[str, ...] = ("16000000",)  # ... when one of these is the strongest topic (see _credit_actors)
    lead_words: int = 40  # the lead: the body's first words, where news states who did what (inverted pyramid)
    # IPTC codes whose terms name who acts in politics: government and head of state, international relations,
    # election, government policy. Armed forces (20000598, under government) are not among them: they fight too.
    actor_codes: tuple[str, ...] = ("20000593", "20000610", "20000638", "20000574", "20000621")
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


def _count_terms(words: tuple[str, ...], keys: tuple[str, ...], lexicon: Lexicon) -> dict[Entry, int]:
    """How many times each lexicon entry occurs in the text `words` (keyed `keys`; the longest phrase wins)."""
    counts: dict[Entry, int] = defaultdict(int)
    key_of = stemmer_for(lexicon.language)
    covered = 0  # words before this index belong to a phrase already counted
    # Only words that can match something are visited: skipping the others saves most of the cost, and changes
    # nothing, since such a word counts no entry and starts no phrase (so it never moves `covered`).
    for i in positions(words, lexicon.may_match, lexicon.may_match_cache):
        key, word = keys[i], words[i]
        longest = 0
        for phrase, entry in lexicon.phrases.get(key, ()):
            n = len(phrase)
            if keys[i:i + n] == phrase:  # tuples compared in C (a short tail never equals a phrase)
                counts[entry] += 1
                longest = max(longest, n)
        covered = max(covered, i + longest)
        if longest or i < covered:
            continue
        entries = lexicon.words.get(key)
        if entries is None and "-" in word:
            # "Ukraine-Krieg", "cost-of-living": the parts are evidence when the whole is unknown
            entries = [e for part in word.split("-") for e in lexicon.words.get(key_of(part), ())]
        for entry in entries or ():
            if _matches(entry, word):
                counts[entry] += 1
        if lexicon.prefixes and not entries:
            for entry in lexicon.prefixed(word):
                counts[entry] += 1
    return counts


def _matches(entry: Entry, word: str) -> bool:
    """Case rule (proper nouns, acronyms) and, for exact terms, the word form itself."""
    if entry.case == 1 and not word[0].isupper():
        return False
    if entry.case == 2 and not word[:2].isupper():
        return False
    return not entry.forms or fold(word) in entry.forms


def _evidence(text: str, title: str | None, language: str, options: TopicOptions) -> dict[str, dict[str, tuple]]:
    """code → {term key: (term, count, contribution)} for level-1 and level-2 codes.

    A term's contribution is `weight × (1 + ln body count)` plus `weight × title_weight` when the title has it: the
    title states what the article is about, whatever the body's length. One text word counts once per topic even
    when several entries share its key ("législation", "législatives" under a topic and its child).
    """
    lexicon = lexicon_for(language)
    words, keys = words_and_keys(text[: options.max_chars], language)
    body = _count_terms(words, keys, lexicon)
    heading = _count_terms(*words_and_keys(title, language), lexicon) if title else {}
    table = taxonomy()
    found: dict[str, dict[str, tuple]] = defaultdict(dict)
    # In text order (body, then title): a set of entries (hashed by identity) is iterated in memory order, which
    # made the term named for two equally strong entries sharing a word change from run to run.
    for entry in {**body, **heading}:
        count = body.get(entry, 0)
        contribution = entry.weight * ((1.0 + math.log(count) if count else 0.0)
                                       + (options.title_weight if entry in heading else 0.0))
        if contribution <= 0:
            continue
        topic = table[entry.code]
        for code in (topic["top"], topic["level2"]) if topic["level2"] else (topic["top"],):
            old = found[code].get(entry.key)
            if old is None or old[2] < contribution:
                found[code][entry.key] = (entry.term, count + heading.get(entry, 0), contribution)
    if options.actor_weight > 0 and found:
        _credit_actors(found, words, keys, heading, body, lexicon, options)
    return found


_POLITICS = "11000000"  # politics and government: where `_credit_actors` puts the subject's political actors


def _credit_actors(found: dict[str, dict[str, tuple]], words: tuple[str, ...], keys: tuple[str, ...],
                   heading: dict[Entry, int], body: dict[Entry, int], lexicon: Lexicon, options: TopicOptions) -> None:
    """Politics outranks conflict when the title or lead is about what political actors decide or say.

    IPTC files government responses, diplomacy and security policy under politics and government (11000000);
    conflict, war and peace (16000000) is for the fighting itself. When the strongest level-1 topic is a rival
    (`actor_rivals`) and the subject (title, first `lead_words` words) names governments, heads of state, ministers,
    parliaments, elections or diplomacy (`actor_codes`), each such term adds `weight × actor_weight` to politics.
    A close call goes to the actors; a report of fighting that quotes a minister further down stays conflict.
    """
    table = taxonomy()
    tops = {code: sum(c for _, _, c in terms.values()) for code, terms in found.items() if table[code]["level"] == 1}
    if not tops or max(tops, key=tops.__getitem__) not in options.actor_rivals:
        return  # the usual case: the lead is only read when a rival leads
    lead = options.lead_words
    subject = {**heading, **_count_terms(words[:lead], keys[:lead], lexicon)}  # in text order, like `_evidence`
    for entry in sorted(subject, key=lambda e: (e.key, e.code)):  # deterministic when entries share a word
        if entry.code in options.actor_codes:
            key = "subject " + entry.key  # several entries share a word ("président"): it counts once
            bonus = entry.weight * options.actor_weight
            old = found[_POLITICS].get(key)
            if old is None or old[2] < bonus:
                found[_POLITICS][key] = (f"{entry.term} (subject)", body.get(entry, 0) + heading.get(entry, 0), bonus)


def _score(found: dict[str, dict[str, tuple]], options: TopicOptions) -> dict[str, float]:
    table = taxonomy()
    evidence = {code: sum(c for _, _, c in terms.values()) for code, terms in found.items()}
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
        ranked = sorted(((t, n, round(c, 2)) for t, n, c in terms.values()), key=lambda x: (-x[2], x[0]))
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
