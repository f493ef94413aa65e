"""Language-neutral features of one line of text: folding, words, stopword density, capitalisation, punctuation.

These are the general signals the chrome rules combine. Everything here is cheap (a few string operations per
line) because the cleaner runs on every article of the stream.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar, overload

from processors.extraction.text import fold_for_hash

__all__ = ["Line", "deaccent", "fold", "stopwords", "WORD_RE", "TERMINAL_PUNCT", "set_stopwords"]

WORD_RE = re.compile(r"\w+(?:['’.\-]\w+)*", re.UNICODE)
# What a finished sentence (or a quotation closing one) ends with.
TERMINAL_PUNCT = frozenset(".!?…»”\"'’):;")  # not "]": "Headline [VIDEO]" is a link, not a sentence
def _deaccent_table() -> dict[int, str | None]:
    """One str.translate table: Latin letters with diacritics → base letter, combining marks → nothing."""
    table: dict[int, str | None] = {cp: None for cp in range(0x300, 0x370)}
    for cp in range(0xC0, 0x250):
        base = "".join(c for c in unicodedata.normalize("NFKD", chr(cp)) if not unicodedata.combining(c))
        if len(base) == 1 and base != chr(cp) and base.isascii():  # one char for one: offsets survive
            table[cp] = base
    table.update({ord(k): v for k, v in {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ı": "i",
                                         "’": "'", "‘": "'", "ŀ": "l"}.items()})
    return table


_DEACCENT = _deaccent_table()
_SPACES = re.compile(r"\s+")
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$", re.UNICODE)


def deaccent(text: str) -> str:
    """The text without diacritics (é → e, ł → l), case preserved; ASCII text is returned as is."""
    return text if text.isascii() else text.translate(_DEACCENT)


def fold(text: str) -> str:
    """Case- and accent-insensitive form, single-spaced: what phrase lists are compared against."""
    return _SPACES.sub(" ", deaccent(text).casefold()).strip()


def strip_edges(folded: str) -> str:
    """The folded text without leading/trailing punctuation, digits, arrows and quotes (`” Précédent` → `precedent`)."""
    return _EDGES.sub("", folded)


_STOPWORDS: frozenset[str] = frozenset()
_T = TypeVar("_T")


class cached_property(Generic[_T]):  # noqa: N801 - a drop-in for functools.cached_property
    """`functools.cached_property` without its per-instance lock (Python 3.11 takes an RLock on every first
    access): the value is stored in the instance's __dict__, which then shadows this non-data descriptor. Lines are
    never shared between threads, and the lock was about 7 % of the chrome stage in the profile."""

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    @overload
    def __get__(self, instance: None, owner: type) -> "cached_property[_T]": ...
    @overload
    def __get__(self, instance: object, owner: type) -> _T: ...

    def __get__(self, instance: object | None, owner: type) -> "_T | cached_property[_T]":
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.func(instance)
        return value


def set_stopwords(words: frozenset[str]) -> None:
    """Install the function words of the phrase files (done when the phrase book is loaded)."""
    global _STOPWORDS
    _STOPWORDS = frozenset(words)


def stopwords() -> frozenset[str]:
    """Lower-case function words of all phrase-file languages (with and without accents)."""
    return _STOPWORDS


@dataclass
class Line:
    """One non-blank line of the text being cleaned, with lazily computed features."""

    index: int  # position among the non-blank lines
    block: int  # paragraph number (lines separated by a blank line belong to different paragraphs)
    text: str

    @cached_property
    def words(self) -> list[str]:
        """Word tokens (letters/digits, inner hyphens and apostrophes kept)."""
        return WORD_RE.findall(self.text)

    @cached_property
    def n_words(self) -> int:
        """Whitespace-separated words: cheap, and what the length gates of the rules use."""
        return len(self.text.split())

    @cached_property
    def folded(self) -> str:
        return fold(self.text)

    @cached_property
    def key(self) -> str:
        """`fold_for_hash` of the line: what title/site matches and the template hash compare (computed once)."""
        return fold_for_hash(self.text)

    @cached_property
    def tokens(self) -> list[str]:
        """Tokens of the folded line, the unit phrase lists are matched on."""
        from processors.chrome.phrases import tokens  # a cycle at import time otherwise

        return tokens(self.folded)

    @cached_property
    def bare(self) -> str:
        """Folded, without edge punctuation/digits: the key for whole-line phrase matches."""
        return strip_edges(self.folded)

    @cached_property
    def ends_sentence(self) -> bool:
        """Whether the line ends like a finished sentence (., !, ?, closing quote...)."""
        tail = self.text.rstrip()
        return bool(tail) and tail[-1] in TERMINAL_PUNCT

    @cached_property
    def stopword_ratio(self) -> float:
        if not self.words:
            return 0.0
        stop = stopwords()
        return sum(1 for w in self.words if w.casefold() in stop) / len(self.words)

    @cached_property
    def capitalised_ratio(self) -> float:
        """Share of the non-stopword alphabetic words that start with a capital letter."""
        stop = stopwords()
        content = [w for w in self.words if w[0].isalpha() and w.casefold() not in stop]
        if not content:
            return 0.0
        return sum(1 for w in content if w[0].isupper()) / len(content)

    @cached_property
    def has_alnum(self) -> bool:
        return any(ch.isalnum() for ch in self.text)

    @cached_property
    def is_sentence_like(self) -> bool:
        """Reads like running prose: enough words, function words present, finished with punctuation."""
        return self.n_words >= 8 and self.stopword_ratio >= 0.2 and self.ends_sentence
