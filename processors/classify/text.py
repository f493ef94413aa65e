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
from typing import Callable

import snowballstemmer

__all__ = ["STEMMED_LANGUAGES", "Token", "fold", "keys_of", "stemmer_for", "tokenize"]

# ISO 639-1 → Snowball algorithm, for the languages we ship term lists for and a few neighbours that cost nothing.
_SNOWBALL = {
    "en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian", "pt": "portuguese",
    "nl": "dutch", "sv": "swedish", "da": "danish", "no": "norwegian", "fi": "finnish", "ro": "romanian",
    "hu": "hungarian", "ru": "russian", "tr": "turkish",
}
STEMMED_LANGUAGES = frozenset(_SNOWBALL)

# A word: letters and digits ("G7", "5G"), with inner hyphens kept ("nord-coréen", "États-Unis"); apostrophes split ("l'Ukraine").
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_CACHE_LIMIT = 200_000


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
def stemmer_for(language: str) -> Callable[[str], str]:
    """A cached word → key function for `language` (stem then fold; fold only when no stemmer exists)."""
    algorithm = _SNOWBALL.get(language)
    stem = snowballstemmer.stemmer(algorithm).stemWord if algorithm else None
    cache: dict[str, str] = {}

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


def tokenize(text: str, language: str) -> list[Token]:
    """The words of `text` as tokens keyed for `language`."""
    key = stemmer_for(language)
    return [Token(key(w), w[0].isupper(), w) for w in _WORD.findall(text)]


def keys_of(phrase: str, language: str) -> tuple[str, ...]:
    """The key sequence of a term or name, as `tokenize` would produce it inside a text."""
    return tuple(t.key for t in tokenize(phrase, language))
