"""Line rules: each looks at one line (and a little context) and names the kind of chrome it is, or passes.

Rules lean on general signals first (no letters, sentence shape, capitalisation, stopword density, position,
second-person address) and on the phrase files for the labels that only words can tell apart. Sequence rules
(runs of headlines, duplicates, template lines) live in `processors.chrome.cleaner`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from processors.chrome.names import parse_byline, parse_translation_credit
from processors.chrome.phrases import GATED, PhraseBook, tokens
from processors.chrome.signals import Line, fold, stopwords

__all__ = ["Context", "Verdict", "classify_line", "is_headline_like", "title_matches"]

CONTAINS_MAX_WORDS = 40  # beyond this a line is prose, and a phrase inside it is part of a sentence
PROMPT_MAX_WORDS = 30
SHORT_LINE_WORDS = 8

# "…of Russia.GETTY", "…2023.MIKHAIL METZEL": a caption whose credit was glued on when the page was flattened.
_GLUED = re.compile(r"(?<=[^\W_]{2})[.!?](?=[^\W\d_])")
_SENTENCE_END = re.compile(r"[.!?…]\s+(?=[^\W\d_])|[.!?](?=[^\W\d_]{2})")
_PAREN_CREDIT = re.compile(r"\((?:[^()]*(?:photo|foto|credit|crédit|image|picture|bild|imagen|zdj|fot\.)[^()]*)\)\s*$",
                           re.IGNORECASE)
_BRACKET_TAG = re.compile(r"\[(?:[A-Z][A-Za-z ]{1,20})\]\s*\|?\s*$")
_SEGMENT_SEPARATORS = re.compile(r"\s[|›»•·]\s|^\s*\|\s*|\s*\|\s*$")
_TIME = re.compile(r"\b\d{1,2}[:h.]\d{2}\b|\b\d{1,2}\s*(?:am|pm|a\.m|p\.m)\b", re.IGNORECASE)
_DATE = re.compile(r"\b\d{1,4}[./-]\d{1,2}[./-]\d{2,4}\b|\b(?:19|20)\d{2}\b")
_WORDISH = re.compile(r"\w")
# The lookbehind lets an e-mail match start only where a run of name characters starts: without it a long run
# with no "@" is rescanned from every position (quadratic: a 40 KB word took 6.7 s).
_URL = re.compile(r"(?:https?://|www\.)\S+|(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.]+", re.IGNORECASE)
_ISO_STAMP = re.compile(r"^\W*\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?\W*$")
_BY_SPLIT = re.compile(r"\s+(?:by|par|von|por|di|door)\s+", re.IGNORECASE)
_EMBED_URL = re.compile(r"pic\.twitter\.com|t\.co/|instagram\.com/p/", re.IGNORECASE)
_HASHTAGS = re.compile(r"^(?:#\w+[\s,]*){2,}$")


@dataclass
class Verdict:
    """A rule's decision on one line: the reason, and the people it names (bylines)."""

    reason: str
    authors: list[str] = field(default_factory=list)


@dataclass
class Context:
    """What the rules know beyond the line itself."""

    book: PhraseBook
    title_keys: tuple[str, ...] = ()  # fold_for_hash of the title (and its variants without a site suffix)
    title_words: frozenset[str] = frozenset()  # the title's content words, lower case
    site_keys: frozenset[str] = frozenset()  # fold_for_hash of the site name and source name
    lines: list[Line] = field(default_factory=list)
    _words: dict[int, set[str]] | None = field(default=None, repr=False)

    def _index(self) -> dict[int, set[str]]:
        if self._words is None:
            stop = stopwords()
            self._words = {ln.index: {w.casefold() for w in ln.words if w.casefold() not in stop} for ln in self.lines}
        return self._words

    def other_words(self, line: Line) -> set[str]:
        """Content words (lower case) of every other line of the text."""
        return set().union(*(ws for i, ws in self._index().items() if i != line.index))

    def other_pairs(self, line: Line) -> set[tuple[str, str]]:
        """Adjacent content-word pairs of every other line (function words skipped)."""
        stop = stopwords()
        pairs: set[tuple[str, str]] = set()
        for other in self.lines:
            if other.index != line.index:
                words = [w.casefold() for w in other.words if w.casefold() not in stop]
                pairs.update(zip(words, words[1:]))
        return pairs


def title_matches(key: str, title_keys: tuple[str, ...]) -> bool:
    """Whether a line (as fold_for_hash) repeats the title, allowing a site suffix on either side."""
    if not key:
        return False
    for title in title_keys:
        if key == title:
            return True
        shorter, longer = sorted((key, title), key=len)
        if len(shorter) >= 20 and len(shorter) >= 0.6 * len(longer) and longer.startswith(shorter):
            return True
    return False


def near_title(line: Line, title_words: frozenset[str]) -> bool:
    """A variant of the title ("Julian Assange: Sweden drops rape investigation" for "Sweden drops Assange rape
    investigation"): most content words shared, no sentence ending."""
    if not title_words or line.n_words > 2 * len(title_words) + 2 or line.text.rstrip()[-1:] in ".?!":
        return False
    stop = stopwords()
    words = {w.casefold() for w in line.words if w.casefold() not in stop}
    shared = len(words & title_words)
    return shared >= 3 and shared >= 0.7 * len(title_words) and shared >= 0.5 * len(words)


def is_headline_like(line: Line) -> bool:
    """Short, unfinished, mostly content words: the shape of a link to another article or a list item."""
    return 3 <= line.n_words <= 22 and not line.ends_sentence and ":" not in line.text[-2:]


def _addresses_reader(line: Line, book: PhraseBook) -> bool:
    return book.has_word("second_person", line.tokens) or book.has_word("call_to_action", line.tokens)


def _phrase_rule(line: Line, book: PhraseBook) -> Verdict | None:
    if len(line.text) <= 80:
        reason = book.match_whole(line.bare)
        if reason:
            return Verdict(reason)
    prefixed = book.match_prefix(line.text)
    if prefixed:
        reason, rest = prefixed
        if reason == "social_follow":
            # "Follow" starts real sentences too: count it only when a network is named.
            if line.n_words <= PROMPT_MAX_WORDS and _names_network(line):
                return Verdict(reason)
        elif reason == "copyright":
            if line.n_words <= 25:
                return Verdict(reason)
        elif not rest or line.n_words <= PROMPT_MAX_WORDS or reason in ("related_link", "tag_list", "photo_caption"):
            return Verdict(reason)
    if line.n_words <= CONTAINS_MAX_WORDS:
        reason = book.match_contains(line.tokens)
        if reason and (reason not in GATED or not _quotes(line.text) and (line.n_words <= SHORT_LINE_WORDS
                                                                           or _addresses_reader(line, book))):
            return Verdict(reason)
    return None


def _quotes(text: str) -> bool:
    """Whether the line quotes someone (looked at only when a gated phrase was found)."""
    return any(q in text for q in "\"“”«»„")


def _names_network(line: Line) -> bool:
    networks = ("facebook", "twitter", "instagram", "linkedin", "youtube", "tiktok", "telegram", "whatsapp",
                "threads", "bluesky", "mastodon", "snapchat", "pinterest", "x")
    words = {w.casefold() for w in line.words}
    return any(n in words for n in networks) or "@" in line.text


def _credit_tail(line: Line, book: PhraseBook) -> bool:
    """A caption: a described scene, then a short unpunctuated credit (`… en 2022. Korea News Service via AP`)."""
    if line.ends_sentence or line.n_words > 80:
        return False
    if _PAREN_CREDIT.search(line.text):
        return True
    for glued in _GLUED.finditer(line.text):
        before, tail = line.text[glued.start() - 1], line.text[glued.end():]
        if (tail[0].isupper() and (before.islower() or before.isdigit()) and len(tail.split()) <= 12
                and not any(ch in tail for ch in ".!?") and line.n_words >= 5):
            return True
    ends = list(_SENTENCE_END.finditer(line.text))
    if not ends:
        return False
    tail = line.text[ends[-1].end():]
    if len(tail.split()) > 12:
        return False
    return "©" in tail or book.has_word("photo_credit", tokens(fold(tail)))


def _is_link_prompt(line: Line) -> bool:
    """`Listen: http://…`, `Follow our coverage at https://…`: a few words pointing elsewhere (embeds excepted)."""
    text = line.text
    # Every match of _URL holds "://", "www." (any case) or "@": without them the regex, which tries every position
    # of the line, cannot match (a tenth of the chrome stage's time went to that search on prose lines).
    if "@" not in text and "://" not in text and "www." not in text.lower():
        return False
    urls = _URL.findall(text)
    if not urls or line.n_words > 30 or _EMBED_URL.search(line.text):
        return False
    words_outside = len(_URL.sub(" ", line.text).split())
    return 2 <= words_outside <= 15


def _dated_byline(line: Line, ctx: Context) -> Verdict | None:
    """`5:45 AM PST 11/19/2019 by Patrick Shanley`: a date line ending in a byline."""
    if line.n_words > 20 or not _BY_SPLIT.search(line.text):
        return None
    parts = _BY_SPLIT.split(line.text, maxsplit=1)
    if len(parts) != 2:
        return None
    head_line = Line(line.index, line.block, parts[0])
    if not (_is_dateline(head_line, ctx.book) or _ISO_STAMP.match(parts[0]) or _DATE.search(parts[0])
            and head_line.n_words <= 6):
        return None
    authors = parse_byline("By " + parts[1], ctx.book, len(parts[1].split()) + 1)
    return Verdict("byline", authors) if authors else None


def _is_dateline(line: Line, book: PhraseBook) -> bool:
    if _ISO_STAMP.match(line.text):
        return True
    if line.n_words > 14 or line.ends_sentence and not line.text.rstrip().endswith(("m.", "M.")):
        return False
    if not (_TIME.search(line.text) or _DATE.search(line.text)):
        return False
    known = book.lists.get("months", frozenset()) | book.lists.get("weekdays", frozenset())
    fillers = book.lists.get("date_words", frozenset())
    named = 0
    for word in line.words:
        key = fold(word).strip(".")
        if key in known or key in fillers and len(key) > 3:
            named += 1
        elif not (word[0].isdigit() or key in fillers or len(key) <= 2):
            return False
    # A bare "10 p.m." is a live-blog time stamp inside the story; a date line names a day, month or "updated".
    return named > 0 and line.n_words >= 3


def _is_tag_list(line: Line, ctx: Context) -> bool:
    """`Russie Ukraine Guerre Corée du Nord`: capitalised content words, no punctuation, no grammar."""
    if _HASHTAGS.match(line.text.strip()):
        return True
    segments = line.text.split(",")
    if (len(segments) >= 5 and not line.ends_sentence and all(1 <= len(seg.split()) <= 4 for seg in segments)
            and line.stopword_ratio < 0.2):
        return True  # "stock car 2018, stock car brasil, stock car cascavel, …"
    text = line.text
    if not 4 <= line.n_words <= 10 or line.ends_sentence or any(ch in text for ch in ":;?!\"“”«»()—–-[]|"):
        return False
    letters = [ch for ch in text if ch.isalpha()]
    if any(w[0].isdigit() for w in line.words) or all(ch.isupper() for ch in letters):
        return False  # numbers and all-capitals lines are headings and specs, not tags
    if any(len(segment.split()) > 3 for segment in text.split(",")) and "," in text:
        return False
    if line.capitalised_ratio < 1.0 or line.stopword_ratio >= 0.2:
        return False
    # Tags are topics of this article: each word recurs in the text, but not in the same sequence (a subheading
    # or a product name, "Apple AirPods Pro", recurs as a phrase).
    words = [w.casefold() for w in line.words if w.casefold() not in stopwords()]
    elsewhere = ctx.other_words(line)
    if not all(w in elsewhere for w in words):
        return False
    pairs = list(zip(words, words[1:]))
    return 2 * sum(1 for pair in pairs if pair in ctx.other_pairs(line)) <= len(pairs)


def _is_segmented_label(line: Line) -> bool:
    """`| PREUVE 1, MONDE |`, `Home › World › Asia`: short segments between separators."""
    if line.n_words > 20 or line.ends_sentence and not line.text.rstrip().endswith("|"):
        return False
    dashed = [s for s in re.split(r"\s[-–—]\s", line.text) if s.strip()]
    if len(dashed) >= 3 and all(len(s.split()) <= 6 for s in dashed):
        return True  # "05/10/2018 - Publicado por: Ana - Categoria: Saúde - Tags: x"
    if not _SEGMENT_SEPARATORS.search(line.text) or line.text.count("|") > 2:
        return False  # three or more pipes: a table row
    segments = [s for s in re.split(r"[|›»•·]", line.text) if s.strip()]
    return bool(segments) and all(len(s.split()) <= 6 for s in segments) and (
        len(segments) >= 2 or line.text.strip().startswith("|") or line.text.strip().endswith("|"))


def classify_line(line: Line, ctx: Context) -> Verdict | None:
    """The chrome reason of one line on its own, or None when it reads like article text."""
    text = line.text
    if not _WORDISH.search(text):
        return Verdict("separator")
    longest_title = max((len(k) for k in ctx.title_keys), default=0)
    key = line.key if len(text) <= 2 * longest_title + 40 or line.n_words <= 8 else ""
    if key and title_matches(key, ctx.title_keys):
        return Verdict("repeated_title")
    if key and key in ctx.site_keys:
        return Verdict("site_name")
    # Near the edges of the text, a line that reworded the title is the page's headline or a teaser of it.
    if (line.index < 3 or line.index >= len(ctx.lines) - 2) and near_title(line, ctx.title_words):
        return Verdict("repeated_title")
    book = ctx.book
    if line.n_words <= 14:
        authors = parse_byline(text, book, line.n_words)
        if authors is not None:
            return Verdict("byline", authors)
        if parse_translation_credit(text, book, line.n_words) is not None:
            return Verdict("translation_credit")
    verdict = _phrase_rule(line, book)
    if verdict:
        return verdict
    if _is_link_prompt(line):
        return Verdict("link_prompt")
    if _credit_tail(line, book):
        return Verdict("photo_caption")
    if _is_dateline(line, book):
        return Verdict("dateline")
    dated_byline = _dated_byline(line, ctx)
    if dated_byline is not None:
        return dated_byline
    if _BRACKET_TAG.search(text) and is_headline_like(line):
        return Verdict("related_link")
    if _is_segmented_label(line):
        return Verdict("section_label")
    if _is_tag_list(line, ctx):
        return Verdict("tag_list")
    if line.n_words <= PROMPT_MAX_WORDS and not any(q in text for q in "\"“”«»„"):
        # An imperative addressed to the reader: "Get the day's big stories … you love", "Click here to …".
        if book.find_word("call_to_action", line.tokens) == 0 and (
                book.has_word("second_person", line.tokens) or book.has_word("pointer_words", line.tokens)
                or _names_network(line)
                or line.text.isupper()):
            return Verdict("reader_prompt")
    return None
