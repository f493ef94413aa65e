"""`strip_chrome`: split a text into lines, decide for each whether it is article or chrome (and why), rebuild.

Order of decisions: the title (given, or inferred from the first lines), then each line on its own
(`processors.chrome.rules`), then rules over the sequence: headline lists after a "Most read" header, a run of
headlines closing the text, repeated paragraphs, and lines the source's template memory has seen in other articles.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from processors.chrome.names import normalise_authors
from processors.chrome.phrases import PHRASE_DIR, load_phrasebook
from processors.chrome.rules import Context, Verdict, classify_line, is_headline_like
from processors.chrome.signals import WORD_RE, Line, set_stopwords, stopwords
from processors.chrome.template import TemplateMemory, folded_line_hash
from processors.extraction.text import fold_for_hash

if TYPE_CHECKING:
    from processors.article import Article

__all__ = ["ChromeOptions", "ChromeResult", "Removal", "strip_chrome", "strip_article_chrome"]

_BLOCKS = re.compile(r"\n[ \t]*\n")
_TITLE_SUFFIX = re.compile(r"\s+[-|–—:·•]\s+")


@dataclass(frozen=True)
class ChromeOptions:
    """Tunables of the chrome cleaner."""

    template_min_articles: int = 3  # a line shown by this many different articles of a source is template
    template_max_words: int = 60  # longer lines are not tracked (prose; keeps the store small)
    template_max_share: float = 0.4  # if template lines would take more of the words, it is a copy, not a template
    infer_title: bool = True  # take a title-like first line as the title when none is known
    tail_headlines: bool = True  # a run of 2+ headline-like lines closing the text is a related-links list
    phrase_dir: Path = PHRASE_DIR


@dataclass(frozen=True)
class Removal:
    """One removed line and why."""

    line: str
    reason: str


@dataclass(frozen=True)
class ChromeResult:
    """The cleaned text, the title and authors found, and every removal in text order."""

    text: str
    title: str | None
    authors: tuple[str, ...]
    removals: tuple[Removal, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Number of removed lines per reason."""
        return dict(Counter(r.reason for r in self.removals))


def _split(text: str) -> list[Line]:
    lines: list[Line] = []
    for block, paragraph in enumerate(_BLOCKS.split(text)):
        for raw in paragraph.split("\n"):
            stripped = raw.strip()
            if stripped:
                lines.append(Line(len(lines), block, stripped))
    return lines


def _title_words(title: str | None) -> frozenset[str]:
    if not title:
        return frozenset()
    stop = stopwords()
    return frozenset(w.casefold() for w in WORD_RE.findall(title) if w.casefold() not in stop)


def _title_keys(title: str | None) -> tuple[str, ...]:
    if not title:
        return ()
    keys = {fold_for_hash(title)}
    parts = _TITLE_SUFFIX.split(title)
    if len(parts) > 1:
        # "Headline - Site Name" / "Site Name | Headline": the longest part is the headline.
        keys.add(fold_for_hash(max(parts, key=len)))
    return tuple(k for k in keys if k)


def _title_like(line: Line) -> bool:
    text = line.text
    return 2 <= line.n_words <= 30 and len(text) <= 250 and text[-1] not in ".:;," and not text.endswith("...")


def _infer_title(lines: list[Line], ctx: Context, verdicts: dict[int, Verdict]) -> str | None:
    """Title from the first lines of a text that has none: a repeated early line, or a title-like first line."""
    head = [ln for ln in lines[:4] if classify_line(ln, ctx) is None or ln.index == 0]
    if len(lines) < 2 or not head:
        return None
    keys = [ln.key for ln in lines]
    for position, line in enumerate(head[:3]):
        later = [j for j in range(line.index + 1, len(lines)) if keys[j] == keys[line.index]]
        if _title_like(line) and later:
            for before in lines[: line.index]:
                if before.n_words <= 6 and not before.ends_sentence:
                    verdicts[before.index] = Verdict("site_name")
            verdicts[line.index] = Verdict("title")
            return line.text
    first = lines[0]
    if not _title_like(first):
        return None
    second = lines[1]
    if (first.n_words <= 4 and first.capitalised_ratio == 1.0 and _title_like(second)
            and second.n_words > first.n_words and len(lines) > 2):
        verdicts[first.index] = Verdict("site_name")
        verdicts[second.index] = Verdict("title")
        return second.text
    verdicts[first.index] = Verdict("title")
    return first.text


def _list_after_headers(lines: list[Line], verdicts: dict[int, Verdict], ctx: Context) -> None:
    """Headline-like lines after a list header ("Most read", "Don't miss") are links too, and so are bulleted
    items ("- 15 Amazing Images of Stars") right after a related link."""
    state = ""  # "header": after a list header; "link": after a related link line
    for line in lines:
        verdict = verdicts.get(line.index)
        if verdict is not None:
            if verdict.reason != "related_link":
                state = ""
            elif ctx.book.match_whole(line.bare) == "related_link" or line.n_words <= 6 and not line.ends_sentence:
                state = "header"
            else:
                state = state or "link"
            continue
        bulleted = line.text[:2] in ("- ", "• ", "* ", "· ", "– ")
        if state == "header" and is_headline_like(line) or state and bulleted and line.n_words <= 30:
            verdicts[line.index] = Verdict("related_link")
        else:
            state = ""


def _tail_headlines(lines: list[Line], verdicts: dict[int, Verdict]) -> None:
    """Two or more headline-like lines closing the text, after real prose, are a related-links list."""
    run: list[Line] = []
    for line in reversed(lines):
        if line.index in verdicts:
            continue
        if is_headline_like(line) and line.capitalised_ratio >= 0.5:
            run.append(line)
            continue
        if line.is_sentence_like and len(run) >= 2:
            for item in run:
                verdicts[item.index] = Verdict("related_link")
        return


def _template_lines(lines: list[Line], verdicts: dict[int, Verdict], memory: TemplateMemory, source: str,
                    article_id: str, options: ChromeOptions) -> None:
    tracked = {line.index: folded_line_hash(line.key) for line in lines if line.n_words <= options.template_max_words}
    if not tracked:
        return
    counts = memory.observe(source, article_id, list(tracked.values()))
    hits = [ln for ln in lines if ln.index not in verdicts and ln.index in tracked
            and counts.get(tracked[ln.index], 0) >= options.template_min_articles]
    kept_words = sum(ln.n_words for ln in lines if ln.index not in verdicts) or 1
    if sum(ln.n_words for ln in hits) > options.template_max_share * kept_words:
        # Most of the text recurs: a syndicated or re-published copy (dedupe's business), not a template.
        hits = [ln for ln in hits if ln.n_words <= 12 and not ln.is_sentence_like]
    for line in hits:
        verdicts[line.index] = Verdict("template")


def strip_chrome(
    text: str,
    *,
    title: str | None = None,
    site_name: str | None = None,
    source: str | None = None,
    authors: tuple[str, ...] | list[str] = (),
    article_id: str | None = None,
    memory: TemplateMemory | None = None,
    options: ChromeOptions = ChromeOptions(),
) -> ChromeResult:
    """Remove chrome from an article text; say why for each removed line; find the title and the bylines."""
    lines = _split(text)
    site_keys = frozenset(k for k in (fold_for_hash(s) for s in (site_name, source) if s) if k)
    book = load_phrasebook(options.phrase_dir)
    set_stopwords(book.lists.get("function_words", frozenset()))  # this book's languages, not the last loaded
    ctx = Context(book, _title_keys(title), _title_words(title), site_keys, lines)
    verdicts: dict[int, Verdict] = {}
    if not title and options.infer_title:
        title = _infer_title(lines, ctx, verdicts)
        ctx.title_keys, ctx.title_words = _title_keys(title), _title_words(title)
    for line in lines:
        if line.index not in verdicts:
            verdict = classify_line(line, ctx)
            if verdict is not None:
                verdicts[line.index] = verdict
    _list_after_headers(lines, verdicts, ctx)
    if memory is not None and source and article_id:
        _template_lines(lines, verdicts, memory, source, article_id, options)
    if options.tail_headlines:
        _tail_headlines(lines, verdicts)

    blocks: dict[int, list[str]] = {}
    removals: list[Removal] = []
    found_authors: list[str] = list(authors)
    for line in lines:
        verdict = verdicts.get(line.index)
        if verdict is None:
            blocks.setdefault(line.block, []).append(line.text)
        else:
            removals.append(Removal(line.text, verdict.reason))
            found_authors.extend(verdict.authors)
    cleaned = "\n\n".join("\n".join(block) for block in blocks.values())
    return ChromeResult(cleaned, title, normalise_authors(found_authors), tuple(removals))


def strip_article_chrome(article: "Article", memory: TemplateMemory | None = None,
                         options: ChromeOptions = ChromeOptions()) -> ChromeResult:
    """`strip_chrome` over a pipeline article's text and metadata (the stage and explain mode share it)."""
    return strip_chrome(
        article.text or "",
        title=article.title,
        site_name=article.site_name,
        source=article.raw.source,
        authors=article.authors,
        article_id=article.article_id,
        memory=memory,
        options=options,
    )
