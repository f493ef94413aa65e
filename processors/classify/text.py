"""Word tokens and their matching keys: lower case, Snowball stem of the article's language, accents folded.

Terms in the data files go through the same `keys_of` as the article text, so a term written once in its dictionary
form ("élection", "nord-coréen") matches its inflections ("élections", "nord-coréennes"). Languages without a
Snowball stemmer (and 'und') get the folded word itself as its key.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from typing import Callable, Iterator, Sequence

import snowballstemmer

__all__ = ["CACHE_LIMIT", "STEMMED_LANGUAGES", "Token", "fold", "keys_for", "keys_of", "positions", "stemmer_for",
           "tokenize", "words_and_keys", "words_of"]

# ISO 639-1 → Snowball algorithm, for the languages we ship term lists for and a few neighbours that cost nothing.
_SNOWBALL = {
    "en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian", "pt": "portuguese",
    "nl": "dutch", "sv": "swedish", "da": "danish", "no": "norwegian", "fi": "finnish", "ro": "romanian",
    "hu": "hungarian", "ru": "russian", "tr": "turkish",
}
STEMMED_LANGUAGES = frozenset(_SNOWBALL)

# A word: letters and digits ("G7", "5G"), with inner hyphens kept ("nord-coréen", "États-Unis"); apostrophes split ("l'Ukraine").
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
# Entries per word cache (stems, match tests), each cleared when full. About 150 bytes an entry (measured: 38k entries,
# 5.3 MB): 50k words, which cover nearly every token of news text, bound each cache to ~8 MB on an endless stream.
CACHE_LIMIT = 50_000
_CACHE_LIMIT = CACHE_LIMIT


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a text: its matching key and whether it was written with a capital (proper-noun evidence)."""

    key: str
    capital: bool
    word: str


def fold(word: str) -> str:
    """Lower case without accents: 'États' → 'etats', 'Größe' → 'grosse'."""
    lowered = word.lower().replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=None)
def _key_cache(language: str) -> dict[str, str]:
    """word → key for `language`, filled by `stemmer_for(language)`."""
    return {}


@lru_cache(maxsize=None)
def stemmer_for(language: str) -> Callable[[str], str]:
    """A cached word → key function for `language` (stem then fold; fold only when no stemmer exists)."""
    algorithm = _SNOWBALL.get(language)
    stem = snowballstemmer.stemmer(algorithm).stemWord if algorithm else None
    cache = _key_cache(language)

    def key(word: str) -> str:
        found = cache.get(word)
        if found is None:
            lowered = word.lower()
            found = fold(stem(lowered) if stem else lowered)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()  # bounded memory on endless streams; refilled from the next articles
            cache[word] = found
        return found

    return key


def words_of(text: str) -> list[str]:
    """The words of `text`, in order (what `tokenize` keys)."""
    return _WORD.findall(text)


def keys_for(words: Sequence[str], language: str) -> list[str]:
    """The keys of `words` for `language`, as `stemmer_for(language)` gives them."""
    keys = list(map(_key_cache(language).get, words))  # cache hits in C: no call per word
    if None in keys:
        key = stemmer_for(language)
        keys = [k if k is not None else key(w) for k, w in zip(keys, words)]
    return keys


def positions(words: Sequence[str], test: Callable[[str], bool], cache: dict[str, bool]) -> Iterator[int]:
    """Indices of the words that pass `test`, testing each distinct word once (remembered in `cache`, bounded).

    The matchers of topics and countries look only at the few words that can match something: most words of an
    article cannot, and skipping them in C is most of what those matchers cost.
    """
    passed = list(map(cache.get, words))
    if None in passed:
        def remember(word: str) -> bool:
            found = cache.get(word)
            if found is None:
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()  # bounded memory on endless streams
                found = cache[word] = test(word)
            return found

        passed = [p if p is not None else remember(w) for p, w in zip(passed, words)]
    return compress(range(len(words)), passed)


@lru_cache(maxsize=4)
def words_and_keys(text: str, language: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`words_of(text)` and their `keys_for(language)`, remembered for the last few texts.

    The topics stage reads each article twice, for topics and for countries: the second read is free.
    """
    words = words_of(text)
    return tuple(words), tuple(keys_for(words, language))


def tokenize(text: str, language: str) -> list[Token]:
    """The words of `text` as tokens keyed for `language`."""
    words = words_of(text)
    return [Token(k, w[0].isupper(), w) for k, w in zip(keys_for(words, language), words)]


def keys_of(phrase: str, language: str) -> tuple[str, ...]:
    """The key sequence of a term or name, as `tokenize` would produce it inside a text."""
    return tuple(t.key for t in tokenize(phrase, language))
