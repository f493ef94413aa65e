"""Countries an article is about, as ISO 3166-1 alpha-2 codes, from names, demonyms and capitals in its language.

Country names come from CLDR through Babel (every language CLDR covers, kept up to date upstream); the data files
in `data/countries/` add what CLDR lacks: short and older names (`aliases.tsv`), adjectives and demonyms
(`demonyms.tsv`) and capitals (`capitals.tsv`) in English, French, German, Spanish, Italian and Portuguese.
Forms are matched on stemmed keys like topic terms, so "nord-coréennes" finds "nord-coréen". Names and capitals
must be capitalised in the text; acronyms (US, UK, RDC) must be written in capitals.

A country is kept when it is mentioned enough, in absolute terms and relative to the most mentioned one, so a
passing comparison ("as in Germany") does not make an article about Germany.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from babel import Locale, UnknownLocaleError

from processors.classify.lexicon import LEXICON_LANGUAGES
from processors.classify.text import keys_of, positions, stemmer_for, words_and_keys
from processors.classify.topics import normalise_language

__all__ = ["CountryMention", "CountryOptions", "explain_countries", "find_countries"]

DATA = Path(__file__).with_name("data") / "countries"
COLUMNS = ("en", "fr", "de", "es", "it", "pt")
# CLDR codes that are not ISO 3166-1 countries: regions, groupings, reserved and private-use codes.
# XK (Kosovo) is kept: it is user-assigned, but the code the EU, IMF and news agencies use.
_NOT_COUNTRIES = {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}
_ALPHA2 = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class CountryOptions:
    """Tunables of country recognition."""

    title_weight: float = 2.0  # a mention in the title counts this many times
    capital_weight: float = 0.8  # a capital often stands for the government: slightly weaker than a name
    weak_weight: float = 0.5  # names that are as often people or US states ("Jordan", "Georgia")
    min_evidence: float = 1.5  # a country needs about two mentions ...
    min_share: float = 0.15  # ... and this share of the most mentioned country's evidence
    max_countries: int = 8
    max_chars: int = 30_000  # only the head of a very long text is read


@dataclass(frozen=True, slots=True)
class _Form:
    code: str  # "-" for a blocking phrase
    kind: str  # name | demonym | capital | weak | block
    text: str
    case: int  # 0 any, 1 capitalised, 2 all capitals


@dataclass(frozen=True)
class CountryMention:
    """Why a country was found: its evidence and the forms seen, with counts."""

    code: str
    evidence: float
    kept: bool
    forms: tuple[tuple[str, str, float], ...]  # (form, kind, count)


def _case_of(form: str, kind: str, language: str) -> int:
    letters = [c for c in form if c.isalpha()]
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return 2
    if kind == "demonym" and (language != "en" or not form[0].isupper()):
        return 0  # French, Spanish, ... adjectives are lower case; German ones too
    return 1 if form[0].isupper() else 0


def _table(name: str) -> list[list[str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


def _forms_for(language: str) -> list[tuple[str, str, str]]:
    """(code, kind, form) for one language: CLDR names, aliases, demonyms, capitals."""
    forms: list[tuple[str, str, str]] = []
    try:
        names = Locale.parse(language).territories
    except (UnknownLocaleError, ValueError):
        names = {}
    forms += [(code, "name", name) for code, name in names.items()
              if _ALPHA2.fullmatch(code) and code not in _NOT_COUNTRIES]
    for code, lang, cell in _table("aliases.tsv"):
        if lang in (language, "*"):
            kind = "block" if code == "-" else "weak" if code.startswith("~") else "name"
            forms += [(code.lstrip("~"), kind, form) for form in cell.split("|")]
    if language in COLUMNS:
        column = COLUMNS.index(language) + 1
        for kind, table in (("demonym", "demonyms.tsv"), ("capital", "capitals.tsv")):
            for row in _table(table):
                cell = row[column] if column < len(row) and row[column].strip() else row[1]
                forms += [(row[0], kind, form) for form in cell.split("|") if form.strip()]
    return forms


@lru_cache(maxsize=None)
def _index(language: str) -> dict[str, list[tuple[tuple[str, ...], _Form]]]:
    """first key → [(keys, form)], longest first. Unknown languages get every supported language's names."""
    sources = [language] if language in LEXICON_LANGUAGES else [language, *COLUMNS]
    forms = [f for source in dict.fromkeys(sources) for f in _forms_for(source)]
    if language not in LEXICON_LANGUAGES:
        forms = [f for f in forms if f[1] != "demonym" or f[2][0].isupper()]  # lower-case adjectives are words elsewhere
    weak = {(code, form) for code, kind, form in forms if kind == "weak"}
    index: dict[str, list[tuple[tuple[str, ...], _Form]]] = defaultdict(list)
    seen = set()
    for code, kind, form in forms:
        if kind == "name" and (code, form) in weak:
            continue
        keys = keys_of(form, language)
        if not keys or (keys, code) in seen:
            continue
        seen.add((keys, code))
        index[keys[0]].append((keys, _Form(code, kind, form, _case_of(form, kind, language))))
    for bucket in index.values():
        bucket.sort(key=lambda item: -len(item[0]))
    return dict(index)


def _accepts(form: _Form, word: str) -> bool:
    if form.case == 2:
        return word.isupper()
    return form.case == 0 or word[0].isupper()


@lru_cache(maxsize=None)
def _may_match(language: str) -> tuple[Callable[[str], bool], dict[str, bool]]:
    """A word → "can it name a country (or a blocking phrase)?" test for `language`, and its cache for `positions`."""
    index = _index(language)
    key_of = stemmer_for(language)

    def may_match(word: str) -> bool:
        return key_of(word) in index or ("-" in word and any(key_of(part) in index for part in word.split("-")))

    return may_match, {}


def _mentions(words: tuple[str, ...], keys: tuple[str, ...], language: str, counts: dict[_Form, float],
              weight: float) -> None:
    index = _index(language)
    key_of = stemmer_for(language)
    resume = 0  # words before this index belong to a form already matched
    # Only words that can match are visited (skipping the others in C is most of the saving); a word that
    # matches nothing only moves on to the next word, so skipping it changes nothing.
    for i in positions(words, *_may_match(language)):
        if i < resume:
            continue
        word = words[i]
        matched = 0
        for form_keys, form in index.get(keys[i], ()):
            n = len(form_keys)
            if _accepts(form, word) and keys[i:i + n] == form_keys:  # tuples compared in C
                if form.code != "-":
                    counts[form] += weight
                matched = n
                break
        if not matched and "-" in word:
            # "Ukraine-Krieg", "russo-ukrainien": a country inside a compound
            for part in word.split("-"):
                for form_keys, form in index.get(key_of(part), ()):
                    if len(form_keys) == 1 and form.code != "-" and (form.case == 0 or part[:1].isupper()):
                        counts[form] += weight
                        break
        resume = i + max(1, matched)


def explain_countries(text: str, title: str | None = None, language: str | None = "und",
                      options: CountryOptions = CountryOptions()) -> list[CountryMention]:
    """Every country mentioned, most evidence first, with the forms that named it and whether it is kept."""
    language = normalise_language(language)
    counts: dict[_Form, float] = defaultdict(float)
    _mentions(*words_and_keys(text[: options.max_chars], language), language, counts, 1.0)
    if title:
        _mentions(*words_and_keys(title, language), language, counts, options.title_weight)
    weights = {"capital": options.capital_weight, "weak": options.weak_weight}
    evidence: dict[str, float] = defaultdict(float)
    forms: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    for form, count in counts.items():
        evidence[form.code] += count * weights.get(form.kind, 1.0)
        forms[form.code].append((form.text, form.kind, count))
    if not evidence:
        return []
    best = max(evidence.values())
    ranked = sorted(evidence, key=lambda c: (-evidence[c], c))
    kept = {c for c in ranked[: options.max_countries]
            if evidence[c] >= options.min_share * best and (evidence[c] >= options.min_evidence or c == ranked[0])}
    return [CountryMention(c, round(evidence[c], 2), c in kept,
                           tuple(sorted(forms[c], key=lambda f: -f[2]))) for c in ranked]


def find_countries(text: str, title: str | None = None, language: str | None = "und",
                   options: CountryOptions = CountryOptions()) -> tuple[str, ...]:
    """ISO 3166-1 alpha-2 codes of the countries the article is about, most mentioned first."""
    return tuple(m.code for m in explain_countries(text, title, language, options) if m.kept)
