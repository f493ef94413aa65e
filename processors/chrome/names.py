"""Bylines and translation credits: recognising them and turning them into normalised person names."""

from __future__ import annotations

import re
from functools import lru_cache

from processors.chrome.phrases import PhraseBook
from processors.chrome.signals import deaccent, fold

__all__ = ["normalise_name", "normalise_authors", "parse_byline", "parse_translation_credit"]

# Lower-case particles that may sit inside a person's name.
_PARTICLES = frozenset({"de", "da", "do", "dos", "das", "di", "del", "della", "du", "des", "la", "le", "van", "von",
                        "der", "den", "ter", "ten", "zu", "bin", "ibn", "al", "el", "y", "e", "st"})
_NAME_TOKEN = re.compile(r"^[^\W\d_][\w'’.\-]*$", re.UNICODE)
_SPLIT = re.compile(r"\s*(?:,|&|;|\band\b|\bet\b|\bund\b|\by\b|\be\b|\ben\b|\bi\b|\boraz\b)\s*", re.IGNORECASE)
_BY_PREFIX = re.compile(r"^(?:by|par|von|por|di|door|autor|autorin|autore)\s*:?\s+", re.IGNORECASE)


def _looks_like_name(candidate: str) -> bool:
    tokens = candidate.split()
    if not 1 <= len(tokens) <= 5:
        return False
    capitalised = 0
    for token in tokens:
        if not _NAME_TOKEN.match(token) or re.search(r"\.[a-z]{2}", token):  # "Space.com" is no name
            return False
        if token[0].isupper():
            capitalised += 1
        elif token.casefold() not in _PARTICLES:
            return False
    return capitalised >= 1 and tokens[0][0].isupper() and tokens[-1][0].isupper()


def normalise_name(name: str) -> str:
    """`  CHOE SANG-HUN ` → `Choe Sang-Hun`; `By Jane Doe` → `Jane Doe`; mixed case is kept as written."""
    name = re.sub(r"\s+", " ", name).strip(" \t.,;:-–—|")
    name = _BY_PREFIX.sub("", name)
    head, comma, _ = name.partition(",")
    if comma and len(head.split()) >= 2:
        name = head  # "Tom Krisher, AP Auto Writer": the role goes ("Smith, John" keeps its comma)
    letters = [ch for ch in name if ch.isalpha()]
    if letters and (all(ch.isupper() for ch in letters) or all(ch.islower() for ch in letters)):
        name = " ".join(t if t.casefold() in _PARTICLES and i else t.title() for i, t in enumerate(name.split()))
    return name


def normalise_authors(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Names normalised, empty ones dropped, duplicates (case/accent-insensitive) removed, order kept."""
    seen: set[str] = set()
    result: list[str] = []
    for raw in names:
        name = normalise_name(raw)
        key = fold(name)
        if name and key not in seen and not name.startswith(("http", "www.")):
            seen.add(key)
            result.append(name)
    return tuple(result)


def _names_after(text: str) -> list[str] | None:
    """The person names of a credit's remainder (`Jane Doe and John Roe, Reuters`), or None if it is not one.

    Comma groups after the first hold more names (`A, B and C`) until one that is a single word or not a name:
    that is the outlet or the role (`Reuters`, `correspondant à Séoul`) and ends the list.
    """
    text = text.strip()
    if not text or len(text) > 160:
        return None
    names: list[str] = []
    for i, group in enumerate(re.split(r"\s*[,;|/–—(]\s*|\s+-\s+", text)):
        parts = [p.strip(" .)") for p in _SPLIT.split(group) if p and p.strip(" .)")]
        if not parts:
            continue
        if i > 0 and (len(parts) == 1 and len(parts[0].split()) < 2 or not all(map(_looks_like_name, parts))):
            break
        if not all(map(_looks_like_name, parts)):
            return None
        names.extend(parts)
    return names or None


@lru_cache(maxsize=16)
def _by_first_word(prefixes: frozenset[str]) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for prefix in sorted(prefixes, key=len, reverse=True):
        index.setdefault(prefix.split(" ")[0].rstrip(":"), []).append(prefix)
    return {k: tuple(v) for k, v in index.items()}


def _prefixed(line: str, prefixes: frozenset[str]) -> tuple[str, bool] | None:
    """(remainder, had_colon) if the line starts with one of the (folded) prefixes followed by a name."""
    stripped = line.strip()
    # deaccent and casefold map character by character and never make or take a space, so the first word can be
    # looked up before the whole line is folded: most lines start with no prefix's word and stop here.
    candidates = _by_first_word(prefixes).get(deaccent(stripped.split(" ", 1)[0]).casefold().rstrip(":"))
    if not candidates:
        return None
    plain = deaccent(stripped)
    lowered = plain.casefold()
    for prefix in candidates:
        if lowered.startswith(prefix) and len(lowered) > len(prefix) and not lowered[len(prefix)].isalnum():
            rest = plain[len(prefix):]
            colon = rest.lstrip().startswith(":")
            # Return the remainder from the original line (accents kept) at the same offset.
            return line.strip()[len(prefix):].lstrip(" :\t-–—"), colon
    return None


def parse_byline(line: str, book: PhraseBook, n_words: int) -> list[str] | None:
    """Authors named by a byline line (`Par Choe Sang-Hun`, `By Jane Doe and John Roe`), else None."""
    if n_words > 14:
        return None
    found = _prefixed(line, book.lists.get("byline", frozenset()))
    if found is None:
        return None
    rest, colon = found
    names = _names_after(rest)
    if names is None:
        return None
    # "By Reuters", "Di Roma": a credit, but one word is an outlet or a place more often than a person.
    return names if colon or any(len(n.split()) > 1 for n in names) else []


def parse_translation_credit(line: str, book: PhraseBook, n_words: int) -> list[str] | None:
    """Translator names of a translation-credit line (`Traduction de Jaime Arrambide`), else None."""
    if n_words > 14:
        return None
    found = _prefixed(line, book.lists.get("translation_credit", frozenset()))
    if found is None:
        return None
    return _names_after(found[0])
