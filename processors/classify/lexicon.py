"""Topic term lexicons: curated terms per language (`data/lexicon/<lang>.tsv`) plus IPTC Media Topics labels.

Each term maps to an IPTC code and a weight. A term is one word, a phrase (matched on consecutive words), an exact
word (`=loi`: only that folded form, for a term whose stem a common word shares: "loyer" also stems to "loi"), a prefix
(`fussball*`, for compounds) or an acronym (written in capitals in the file: `NHS`, `WHO`; matched only when the
text writes it in capitals too, so "who" is not the World Health Organization) or a proper noun (capitalised in the
file: `Mars`, `Labour`; matched only when capitalised in the text, so the month "mars" is not the planet). Matching compares stemmed, folded
keys (see `text.py`). IPTC labels (English and French) add weight-1 terms for the concept's level-2 ancestor, which
brings the long tail of the taxonomy (sport disciplines, diseases, crimes) at no curation cost.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from processors.classify.text import CACHE_LIMIT, fold, keys_of, stemmer_for

__all__ = ["LEXICON_LANGUAGES", "Entry", "Lexicon", "lexicon_for", "taxonomy"]

DATA = Path(__file__).with_name("data")
LEXICON_LANGUAGES = tuple(sorted(p.stem for p in (DATA / "lexicon").glob("*.tsv")))
IPTC_LABEL_WEIGHT = 1.0
# Parts of IPTC labels too generic to be evidence on their own.
_GENERIC_LABEL_PARTS = {
    "en": {"other", "general", "system", "systems", "group", "groups", "information", "issue", "issues", "service",
           "services", "people", "event", "events", "industry", "public", "organisation", "products", "history",
           "mass", "human", "action", "activity", "activities", "condition", "conditions", "facility", "policy",
           "relations", "government", "record", "market", "development", "management", "body", "art"},
    "fr": {"autre", "autres", "général", "système", "systèmes", "groupe", "groupes", "information", "service",
           "services", "gens", "événement", "industrie", "public", "organisation", "produits", "histoire", "action",
           "activité", "condition", "conditions", "politique", "relations", "gouvernement", "record", "marché",
           "développement", "gestion", "art", "secteur", "secteurs"},
}
_LABEL_SPLIT = re.compile(r",|/|\(|\)|\band\b|\bor\b|\bet\b|\bou\b")


@dataclass(frozen=True, slots=True, eq=False)
class Entry:
    """One term of the lexicon and what it is evidence for (compared by identity: each is made once, at load)."""

    code: str
    weight: float
    term: str
    case: int = 0  # 0: any case; 1: text must capitalise it (proper noun); 2: text must write it in capitals
    key: str = ""  # what the text must match (stem keys, or the prefix): one text word counts once per topic
    forms: frozenset[str] = frozenset()  # exact terms (`=loi`): the folded word forms allowed, stemming aside


@dataclass
class Lexicon:
    """The matching tables of one language."""

    language: str
    words: dict[str, list[Entry]] = field(default_factory=lambda: defaultdict(list))
    phrases: dict[str, list[tuple[tuple[str, ...], Entry]]] = field(default_factory=lambda: defaultdict(list))
    prefixes: dict[str, list[Entry]] = field(default_factory=lambda: defaultdict(list))
    max_phrase: int = 1
    min_prefix: int = 99
    _prefix_cache: dict[str, tuple[Entry, ...]] = field(default_factory=dict)
    may_match_cache: dict[str, bool] = field(default_factory=dict)  # word → `may_match(word)`, for `positions`

    def may_match(self, word: str) -> bool:
        """Whether a text word can count for any entry: as a phrase start, a word, a compound's part or a prefix.

        False means the word can be skipped without changing any count; True only means it must be looked at.
        """
        key_of = stemmer_for(self.language)
        key = key_of(word)
        if key in self.phrases or key in self.words:
            return True
        if "-" in word and any(key_of(part) in self.words for part in word.split("-")):
            return True
        return bool(self.prefixes) and bool(self.prefixed(word))

    def prefixed(self, word: str) -> tuple[Entry, ...]:
        """Entries of the longest prefix term that `word` starts with (cached per word)."""
        found = self._prefix_cache.get(word)
        if found is None:
            folded = fold(word)
            found = ()
            for end in range(len(folded), self.min_prefix - 1, -1):  # the longest prefix decides
                if folded[:end] in self.prefixes:
                    found = tuple(self.prefixes[folded[:end]])
                    break
            if len(self._prefix_cache) >= CACHE_LIMIT:
                self._prefix_cache.clear()
            self._prefix_cache[word] = found
        return found

    def add(self, term: str, code: str, weight: float) -> None:
        """Add one term (dictionary form) for `code`; a later duplicate of the same code and key keeps the larger weight."""
        term = term.strip()
        exact = term.startswith("=")
        term = term.lstrip("=").strip()
        if not term:
            return
        if term.endswith("*"):
            prefix = fold(term[:-1])
            self._put(self.prefixes[prefix], Entry(code, weight, term, key=prefix + "*"))
            self.min_prefix = min(self.min_prefix, len(prefix))
            return
        keys = keys_of(term, self.language)
        if not keys:
            return
        forms = frozenset({fold(term)}) if exact and len(keys) == 1 else frozenset()
        entry = Entry(code, weight, term, case=_case_rule(term, self.language), key=" ".join(keys), forms=forms)
        if len(keys) == 1:
            self._put(self.words[keys[0]], entry)
        else:
            bucket = self.phrases[keys[0]]
            existing = [i for i, (k, e) in enumerate(bucket) if k == keys and e.code == code]
            if existing:
                i = existing[0]
                if bucket[i][1].weight < weight:
                    bucket[i] = (keys, entry)
            else:
                bucket.append((keys, entry))
            self.max_phrase = max(self.max_phrase, len(keys))

    @staticmethod
    def _put(bucket: list[Entry], entry: Entry) -> None:
        for i, old in enumerate(bucket):
            if old.code == entry.code and bool(old.forms) == bool(entry.forms):
                if old.forms:  # `=loi, =lois`: one entry allowing both forms
                    bucket[i] = replace(old, forms=old.forms | entry.forms, weight=max(old.weight, entry.weight))
                elif old.weight < entry.weight:
                    bucket[i] = entry
                return
        bucket.append(entry)

    def knows(self, term: str) -> bool:
        """Whether the curated part already has this term (for any code)."""
        keys = keys_of(term.lstrip("="), self.language)
        if len(keys) == 1:
            return keys[0] in self.words
        return bool(keys) and any(k == keys for k, _ in self.phrases.get(keys[0], ()))


def _case_rule(term: str, language: str) -> int:
    """Acronyms (`NHS`) must be capitals in the text; capitalised terms (`Mars`, `Labour`) must be capitalised."""
    if len(term) >= 2 and term[:2].isupper():
        return 2
    if term[0].isupper() and language != "de":  # German capitalises every noun: case says nothing there
        return 1
    return 0


@lru_cache(maxsize=1)
def taxonomy() -> dict[str, dict]:
    """The derived IPTC Media Topics table: code → level, top, level2, labels (© IPTC, CC BY 4.0)."""
    return json.loads((DATA / "iptc_mediatopics.json").read_text(encoding="utf-8"))["topics"]


def _read_tsv(path: Path) -> list[tuple[str, float, list[str]]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path.name}:{number}: expected 'code<TAB>weight<TAB>terms'")
        code, weight, terms = parts
        if code not in taxonomy():
            raise ValueError(f"{path.name}:{number}: unknown IPTC code {code}")
        rows.append((code, float(weight), [t for t in terms.split(",") if t.strip()]))
    return rows


def _label_terms(language: str) -> list[tuple[str, str]]:
    """(term, code) pairs from the IPTC labels in `language`, credited to each concept's level-2 ancestor."""
    generic = _GENERIC_LABEL_PARTS.get(language, set())
    by_key: dict[tuple[str, ...], set[str]] = defaultdict(set)
    pairs: list[tuple[str, str, tuple[str, ...]]] = []
    for code, topic in taxonomy().items():
        label = topic["labels"].get(language)
        if not label:
            continue
        target = topic["level2"] or code
        for part in _LABEL_SPLIT.split(label):
            part = part.strip(" -'")
            words = part.split()
            if not words or len(words) > 3 or (len(words) == 1 and (part.lower() in generic or len(part) < 4)):
                continue
            keys = keys_of(part, language)
            by_key[keys].add(topic["top"])
            pairs.append((part, target, keys))
    # A label part shared by two level-1 topics says nothing about either.
    return [(part, target) for part, target, keys in pairs if len(by_key[keys]) == 1]


def _label_forms(term: str) -> list[str]:
    """How a label part is matched: a phrase by its stems, a single word only as written or with a plural `s`.

    Labels are not curated, so a single word is matched exactly: stemming "Goods" or "Importing" would also match
    "good" and "important", common words of every article.
    """
    if " " in term.strip():
        return [term]
    return [f"={term}"] + ([] if term.endswith(("s", "x")) else [f"={term}s"])


@lru_cache(maxsize=None)
def lexicon_for(language: str) -> Lexicon:
    """The lexicon of `language`; for languages without a term list, the union of all lists (matched unstemmed)."""
    lexicon = Lexicon(language)
    sources = [language] if language in LEXICON_LANGUAGES else list(LEXICON_LANGUAGES)
    for source in sources:
        for code, weight, terms in _read_tsv(DATA / "lexicon" / f"{source}.tsv"):
            for term in terms:
                if language not in LEXICON_LANGUAGES and len(term.strip()) < 4:
                    continue  # short words of one language are common words of another
                lexicon.add(term, code, weight)
    if language in LEXICON_LANGUAGES:
        for term, code in _label_terms(language):
            if not lexicon.knows(term):
                for form in _label_forms(term):
                    lexicon.add(form, code, IPTC_LABEL_WEIGHT)
    return lexicon
