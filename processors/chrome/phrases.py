"""Phrase lists (YAML data files under `phrases/`, one per language) compiled into fast line matchers.

The lists are data so that rule tuners can add a language or a widget label without touching code; the format is
described in `phrases/README.md`. All languages are merged: chrome runs before language detection, and sites mix
languages in their widgets anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from processors.chrome.signals import deaccent, fold

__all__ = ["LOOSE_PREFIX", "PhraseBook", "PhraseIndex", "load_phrasebook", "tokens", "PHRASE_DIR", "CATEGORY_ORDER"]

PHRASE_DIR = Path(__file__).with_name("phrases")

# When a phrase is listed under several reasons, the first reason in this order wins.
CATEGORY_ORDER = (
    "ad_label", "share_buttons", "comment_widget", "audio_player", "trust_badge", "prev_next_nav",
    "next_article_teaser", "related_link", "tag_list", "reading_time", "photo_caption", "cookie_notice",
    "login_prompt", "subscription_prompt", "newsletter_prompt", "social_follow", "credit_line", "copyright",
    "affiliate_disclosure", "widget_message",
)
# Reasons whose `contains` phrases also occur in real sentences ("said in a newsletter"): they count only on a
# short line or one that addresses the reader (second person or a call to action).
GATED = frozenset({"newsletter_prompt", "subscription_prompt", "login_prompt", "cookie_notice"})
_LIST_KEYS = ("byline", "translation_credit", "name_joiners", "months", "weekdays", "date_words", "second_person",
              "call_to_action", "photo_credit", "function_words", "pointer_words")
# Labels that need no separator: a line starting with them is what they say ("Copyright Inexhibit 2019").
LOOSE_PREFIX = frozenset({"copyright", "social_follow"})
# After a prefix phrase: punctuation separator, two spaces, or the end of the line.
_SEPARATOR = r"(?:\s*[:|»›>–—\-•·]+\s*|\s{2,}|\s*$)"


def _alternation(phrases: list[str]) -> str:
    """Longest first; a phrase ending in a letter must end at a word boundary (`more` is not `moreover`)."""
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") + (r"(?!\w)" if p[-1:].isalnum() else "")
                    for p in sorted(set(phrases), key=len, reverse=True))


TOKEN_RE = re.compile(r"\w+(?:['+\-]\w+)*\+?")


def tokens(folded: str) -> list[str]:
    """Word tokens of a folded text, as phrase lists are matched against them."""
    return TOKEN_RE.findall(folded)


class PhraseIndex:
    """Multi-word phrases found in a token list by their first token: a dict lookup per word, no regex."""

    def __init__(self, phrases: dict[str, str]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for phrase, value in phrases.items():
            toks = tuple(tokens(phrase))
            if toks:
                self._by_first.setdefault(toks[0], []).append((toks, value))
        for candidates in self._by_first.values():
            candidates.sort(key=lambda c: len(c[0]), reverse=True)

    def find(self, toks: list[str]) -> tuple[int, str] | None:
        """(position, value) of the leftmost (then longest) phrase occurring in the tokens."""
        by_first = self._by_first
        for i, tok in enumerate(toks):
            candidates = by_first.get(tok)
            if candidates:
                for phrase, value in candidates:
                    if tuple(toks[i:i + len(phrase)]) == phrase:
                        return i, value
        return None


@dataclass(frozen=True)
class PhraseBook:
    """Compiled phrase lists: whole-line, prefix and contains matchers, each phrase mapped to its reason."""

    whole: dict[str, str]
    prefix: dict[str, str]
    contains: dict[str, str]
    lists: dict[str, frozenset[str]]
    prefix_by_first: dict[str, list[re.Pattern[str]]] = field(repr=False, default_factory=dict)
    contains_index: PhraseIndex | None = field(repr=False, default=None)
    word_indexes: dict[str, PhraseIndex] = field(repr=False, default_factory=dict)

    def match_whole(self, bare: str) -> str | None:
        """Reason when the whole (folded, edge-stripped) line is a listed phrase."""
        return self.whole.get(bare)

    def match_prefix(self, text: str) -> tuple[str, str] | None:
        """(reason, rest of the line) when the line starts with a listed phrase used as a label."""
        plain = deaccent(text.lstrip()[:120])  # labels are short: never fold a whole paragraph
        first = TOKEN_RE.search(plain.casefold()[:40])
        if first is None or first.start() > 2:
            return None
        candidates = self.prefix_by_first.get(first.group(0))
        if not candidates:
            return None
        m = None
        for regex in candidates:
            m = regex.match(plain)
            if m is not None:
                break
        if m is None:
            return None
        phrase, rest = m.group("p"), plain[m.end("p"):]
        reason = self.prefix[fold(phrase)]
        separated = re.match(_SEPARATOR, rest)
        if separated is None and reason in LOOSE_PREFIX:
            cut = m.end("p")
        elif separated is None:
            # One space then more text: a label only if written in capitals ("NEXT Les experts", "READ MORE The…")
            # or a multi-word phrase followed by a capital ("Lire aussi Frapper…").
            shouty = phrase.isupper() and sum(ch.isalpha() for ch in phrase) >= 2
            multiword = " " in phrase.strip() and rest[:1] == " " and rest[1:2].isupper()
            if not (shouty or multiword):
                return None
            cut = m.end("p")
        else:
            cut = m.end("p") + separated.end()
        return reason, text.lstrip()[cut:].strip()

    def match_contains(self, toks: list[str]) -> str | None:
        """Reason of the first listed phrase found anywhere in the line's tokens."""
        found = self.contains_index.find(toks) if self.contains_index else None
        return found[1] if found else None

    def find_word(self, key: str, toks: list[str]) -> int | None:
        """Token position of the first phrase of the named list (e.g. `second_person`) in the tokens, or None."""
        index = self.word_indexes.get(key)
        found = index.find(toks) if index else None
        return found[0] if found else None

    def has_word(self, key: str, toks: list[str]) -> bool:
        """Whether the tokens contain a phrase of the named list."""
        return self.find_word(key, toks) is not None


def _merge(files: list[Path]) -> PhraseBook:
    whole: dict[str, str] = {}
    prefix: dict[str, str] = {}
    contains: dict[str, str] = {}
    lists: dict[str, set[str]] = {key: set() for key in _LIST_KEYS}
    raw: dict[str, dict[str, set[str]]] = {}
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, value in data.items():
            if key == "language":
                continue
            if key in ("byline", "translation_credit", "photo_credit"):
                value = value.get("prefix", []) + value.get("contains", []) if isinstance(value, dict) else value
            if isinstance(value, list):
                lists.setdefault(key, set()).update(fold(str(v)) for v in value)
                if key == "function_words":  # compared with words as written, accents kept
                    lists[key].update(str(v).casefold() for v in value)
                continue
            for kind, phrases in value.items():
                raw.setdefault(key, {}).setdefault(kind, set()).update(fold(str(p)) for p in phrases)
    ordered = [c for c in CATEGORY_ORDER if c in raw] + sorted(set(raw) - set(CATEGORY_ORDER))
    for reason in ordered:
        for kind, target in (("whole", whole), ("prefix", prefix), ("contains", contains)):
            for phrase in raw[reason].get(kind, ()):
                target.setdefault(phrase, reason)
    prefix_by_first: dict[str, list[re.Pattern[str]]] = {}
    for phrase in sorted(prefix, key=len, reverse=True):
        toks = tokens(phrase)
        if toks:
            pattern = re.compile(rf"\W{{0,2}}(?P<p>{_alternation([phrase])})", re.IGNORECASE)
            prefix_by_first.setdefault(toks[0], []).append(pattern)
    frozen = {k: frozenset(v) for k, v in lists.items()}
    return PhraseBook(
        whole=whole,
        prefix=prefix,
        contains=contains,
        lists=frozen,
        prefix_by_first=prefix_by_first,
        contains_index=PhraseIndex(contains),
        word_indexes={k: PhraseIndex({p: k for p in v}) for k, v in frozen.items()},
    )


@lru_cache(maxsize=8)
def load_phrasebook(directory: Path = PHRASE_DIR) -> PhraseBook:
    """All `*.yaml` phrase files of a directory, merged and compiled (cached per directory)."""
    return _merge(sorted(Path(directory).glob("*.yaml")))
