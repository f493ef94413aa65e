"""Main text and metadata from an HTML page: trafilatura for the text, a lean pass over the page head for metadata.

The text comes from trafilatura in its balanced mode with comments off (the chrome stage then removes what the
extractor let through), fast pass first: trafilatura's main extractor alone. Its external fallbacks (readability,
then jusText) cost a third of the extraction and, on the AEB pages, change 5 pages of 181 and lower F1 once the
chrome stage has run (0.9685 fast vs 0.9666 with the fallbacks); so the full cascade runs only when the fast pass
under-delivers (no text, or less than `full_cascade_below_chars`), which is where the fallbacks earn their cost. Metadata does not need the whole document: title, authors, dates, site name, image and
canonical URL live in `<head>`, in JSON-LD blocks, in `<time>` and byline elements. We cut those out of the page
(one regex pass over the body, an lxml parse of the head only, `json.loads` of the structured data) and fall back
to htmldate for the date; trafilatura's own metadata pass over the full tree costs a third of its extraction time,
while the chrome stage and metadata together must stay within 15 % of it (see `benchmarks/extraction_aeb.py`).
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone

import trafilatura
from lxml import html as lxml_html
from htmldate import find_date
from trafilatura.settings import use_config

from processors.extraction.text import normalise_text

__all__ = ["Extracted", "HtmlOptions", "extract_html", "extract_page_metadata"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HtmlOptions:
    """Tunables of HTML extraction."""

    include_comments: bool = False  # comment sections are never article text
    include_tables: bool = True
    # The chrome stage already trims what trafilatura lets through; favouring precision here as well costs
    # recall (measured on the AEB set: F1 0.9687 vs 0.9669, recall 0.969 vs 0.973) — left off by default.
    favor_precision: bool = False
    fast: bool = True  # main extractor first; the readability/jusText cascade only when it under-delivers
    full_cascade_below_chars: int = 250  # a fast result shorter than this is redone in full (trafilatura's own
    # MIN_EXTRACTED_SIZE, the length under which it considers an extraction failed)
    max_tree_size: int = 200_000  # elements; larger documents are refused rather than parsed for minutes
    skeleton_limit: int = 400_000  # characters searched for `</head>`; beyond that the head is malformed


@dataclass(frozen=True)
class Extracted:
    """What the page says: main text and the metadata found in its head, JSON-LD and time elements."""

    text: str
    title: str | None
    authors: tuple[str, ...]
    published_at: datetime | None
    site_name: str | None
    image_url: str | None
    declared_url: str | None  # the page's canonical link (or og:url)
    language: str | None
    description: str | None = None
    modified_at: datetime | None = None


@lru_cache(maxsize=4)
def _config(max_tree_size: int):
    config = use_config()
    # No network from inside extraction, no signal-based timeout (we run in worker threads).
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    # trafilatura 2.x takes the tree-size bound from its settings, not as an argument.
    config.set("DEFAULT", "MAX_TREE_SIZE", str(max_tree_size))
    return config

# Characters XML cannot hold: lxml keeps them from the parse but refuses them when text is set back, so htmldate's
# and trafilatura's tree edits raised ValueError on a page with one stray control character (found by tests/fuzz).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(html: str) -> str:
    return _NOT_XML.sub("", html) if _NOT_XML.search(html) else html


_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_LD_SCRIPT_END = re.compile(r"</script\s*>", re.IGNORECASE)
_TIME_TAG = re.compile(r"<time\b[^>]*>", re.IGNORECASE)
_BYLINE_ATTR = re.compile(r"\b(?:class|rel|itemprop)\s*=\s*[\"'][^\"']*(?:author|byline)", re.IGNORECASE)
_NOT_A_NAME = re.compile(r"https?:|@|\d{3}|\bcomments?\b", re.IGNORECASE)
_ARTICLE_TYPES = ("NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting", "AnalysisNewsArticle",
                  "OpinionNewsArticle", "LiveBlogPosting", "WebPage", "Report", "ScholarlyArticle")
_TITLE_SEPARATORS = re.compile(r"\s+[-|–—:·•]\s+")


def _find_all(html: str, needle: str, start: int, limit: int) -> list[int]:
    """Positions of a literal in the page (str.find is far faster than a regex over a whole page)."""
    found: list[int] = []
    pos = html.find(needle, start)
    while pos != -1 and len(found) < limit:
        found.append(pos)
        pos = html.find(needle, pos + len(needle))
    return found


def _head(html: str, limit: int) -> str:
    end = _HEAD_END.search(html, 0, limit)
    return html[: end.end()] if end else html[: min(len(html), 20_000)]


def _json_ld_scripts(html: str, start: int) -> list[str]:
    scripts = []
    for pos in _find_all(html, "application/ld+json", start, 10):
        opening = html.rfind("<", start, pos)
        closing = _LD_SCRIPT_END.search(html, pos)
        if opening != -1 and closing is not None:
            scripts.append(html[opening: closing.end()])
    return scripts


def _time_tags(html: str, start: int) -> list[str]:
    tags = []
    for pos in _find_all(html, "<time", start, 20):
        tag = _TIME_TAG.match(html, pos)
        if tag is not None and "datetime" in tag.group(0):
            tags.append(tag.group(0))
    return tags


def _byline_texts(html: str, start: int) -> list[str]:
    """Texts of elements whose class/rel/itemprop says author or byline (`<span class="author">Jane Doe<`)."""
    texts = []
    for needle in ("author", "byline"):
        for pos in _find_all(html, needle, start, 40):
            opening = html.rfind("<", max(start, pos - 300), pos)
            closing = html.find(">", pos)
            if opening == -1 or closing == -1 or html[opening + 1: opening + 2] in "/!":
                continue
            text_end = html.find("<", closing)
            if _BYLINE_ATTR.search(html, opening, closing + 1) and 2 <= text_end - closing - 1 <= 120:
                texts.append(html[closing + 1: text_end])
    return texts


def _parse_datetime(value: object) -> datetime | None:
    """An ISO 8601 timestamp (or date) as an aware datetime; naive values are taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return None
    if not 1990 <= parsed.year <= 2100:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _walk_json(node: object, found: list[dict]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk_json(item, found)
    elif isinstance(node, dict):
        kind = node.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(k in _ARTICLE_TYPES for k in kinds if isinstance(k, str)):
            found.append(node)
        for key in ("@graph", "mainEntity"):
            if key in node:
                _walk_json(node[key], found)


def _names(value: object) -> list[str]:
    """Person names from a JSON-LD author value (string, object, or list of them)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        return [n for item in value for n in _names(item)]
    return []


def _url_of(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _url_of(value.get("url") or value.get("@id"))
    if isinstance(value, list) and value:
        return _url_of(value[0])
    return None


def _json_ld(fragments: list[str]) -> dict:
    """The first article-like JSON-LD object of the page (empty dict if none parses)."""
    for fragment in fragments:
        start = fragment.find(">") + 1
        body = fragment[start: fragment.lower().rfind("</script")].strip()
        if not body.startswith(("{", "[")):
            continue
        try:
            data = json.loads(body)
        except ValueError:
            continue
        found: list[dict] = []
        _walk_json(data, found)
        articles = [n for n in found if n.get("@type") != "WebPage"] or found
        if articles:
            return articles[0]
    return {}


def _head_fields(head: str) -> tuple[dict[str, str], str | None, str | None, str | None]:
    """Meta tags (lower-case name/property → content), canonical link, <title>, html lang of a page head."""
    try:
        tree = lxml_html.fromstring(head + "</html>")
    except (ValueError, lxml_html.etree.ParserError):
        return {}, None, None, None
    metas: dict[str, str] = {}
    canonical = title = None
    for el in tree.iter("meta", "link", "title"):
        if el.tag == "meta":
            key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
            content = (el.get("content") or "").strip()
            if key and content:
                metas.setdefault(key, content)
        elif el.tag == "link":
            if (el.get("rel") or "").lower() == "canonical" and el.get("href"):
                canonical = canonical or el.get("href").strip()
        elif title is None and el.text:
            title = " ".join(el.text.split())
    lang = tree.get("lang") if tree.tag == "html" else None
    return metas, canonical, title, lang


def _clean_title(title: str | None, site_name: str | None) -> str | None:
    """A <title> without its " - Site Name" part."""
    if not title:
        return None
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) > 1:
        site = (site_name or "").casefold()
        kept = [p for p in parts if p.casefold() != site and (not site or site not in p.casefold())]
        if kept and len(kept) < len(parts):
            return " - ".join(kept)
        return max(parts, key=len) if len(parts[-1]) < 30 else title
    return title


def _first(*values: object) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return None


def extract_page_metadata(html: str, url: str | None = None, options: HtmlOptions = HtmlOptions()) -> dict:
    """Title, authors, dates, site name, image, canonical URL, language and description of a page.

    Sources in order of trust: JSON-LD (schema.org Article), OpenGraph/Twitter/Dublin Core meta tags, the
    `<title>`, `<time datetime>` and byline elements, and htmldate's heuristics as the last resort for the date.
    """
    return _metadata(_xml_safe(html), url, options)


def _metadata(html: str, url: str | None, options: HtmlOptions) -> dict:
    """`extract_page_metadata` of a page already rid of the characters XML cannot hold."""
    head = _head(html, options.skeleton_limit)
    metas, canonical, title_tag, lang = _head_fields(head)
    ld = _json_ld(_HEAD_JSON_LD.findall(head) + _json_ld_scripts(html, len(head)))
    publisher = ld.get("publisher") if isinstance(ld.get("publisher"), dict) else {}
    site_name = _first(metas.get("og:site_name"), publisher.get("name"), metas.get("application-name"))
    title = _first(metas.get("og:title"), metas.get("twitter:title"), ld.get("headline"), ld.get("name"),
                   metas.get("dc.title"), _clean_title(title_tag, site_name))
    authors = [n for n in _names(ld.get("author")) if n.strip()]
    if not authors:
        meta_author = _first(metas.get("author"), metas.get("article:author"), metas.get("parsely-author"),
                             metas.get("sailthru.author"), metas.get("dc.creator"), metas.get("byl"))
        if meta_author and not meta_author.startswith("http"):
            authors = [meta_author]
    if not authors:  # scanning the body for byline elements only when the head named nobody
        bylines = [b.strip() for b in _byline_texts(html, len(head)) if b.strip()]
        authors = [b for b in bylines[:1] if not _NOT_A_NAME.search(b) and len(b.split()) <= 6]
    published = _first_datetime(ld.get("datePublished"), metas.get("article:published_time"),
                                metas.get("og:published_time"), metas.get("datepublished"), metas.get("pubdate"),
                                metas.get("publishdate"), metas.get("parsely-pub-date"), metas.get("sailthru.date"),
                                metas.get("dc.date.issued"), metas.get("dc.date"), metas.get("date"))
    if published is None:
        times = _time_tags(html, len(head))
        published = _first_datetime(*_time_values(times))
        if published is None:
            # htmldate's heuristics (URL, text patterns) on the page skeleton: a day, taken at 00:00 UTC.
            skeleton = head + "<body>" + "".join(times) + "</body></html>"
            published = _parse_datetime(find_date(lxml_html.fromstring(skeleton), extensive_search=False, url=url))
    return {
        "title": title,
        "authors": tuple(a for name in authors for a in _authors(name)),
        "published_at": published,
        "modified_at": _first_datetime(ld.get("dateModified"), metas.get("article:modified_time"),
                                       metas.get("og:updated_time"), metas.get("datemodified")),
        "site_name": site_name,
        "image_url": _first(metas.get("og:image"), metas.get("twitter:image"), metas.get("twitter:image:src"),
                            _url_of(ld.get("image"))),
        "declared_url": _first(canonical, metas.get("og:url")),
        "description": _first(metas.get("og:description"), metas.get("description"), ld.get("description")),
        "language": (lang or metas.get("og:locale") or "").split("-")[0].split("_")[0].lower() or None,
    }


_HEAD_JSON_LD = re.compile(r"<script\b[^>]*application/ld\+json[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_TIME_VALUE = re.compile(r"\bdatetime\s*=\s*[\"']([^\"']{8,40})[\"']", re.IGNORECASE)


def _time_values(fragments: list[str]) -> list[str]:
    return [m.group(1) for f in fragments[:20] if f[:5].lower() == "<time" and (m := _TIME_VALUE.search(f))]


def _first_datetime(*values: object) -> datetime | None:
    for value in values:
        parsed = _parse_datetime(value)
        if parsed is not None:
            return parsed
    return None


def _authors(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(a.strip() for a in re.split(r"\s+and\s+|;|\s*&\s*", value) if a.strip())


# Control and invisible format characters: when a text has none (the usual case after trafilatura), the
# character-by-character pass of `normalise_text` can be skipped.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udfff\ue000-\uf8ff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def _paragraphs(text: str) -> str:
    """Extracted text normalised (as `normalise_text`), one paragraph per line-pair: lines joined by blank lines."""
    if _INVISIBLE.search(text):
        text = normalise_text(text)
    else:
        text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n\n".join(line for line in lines if line)


def _main_text(html: str, url: str | None, options: HtmlOptions, *, fast: bool):
    """trafilatura's main-text extraction (a Document, or None when it finds nothing)."""
    return trafilatura.bare_extraction(
        html,
        url=url,
        fast=fast,
        include_comments=options.include_comments,
        include_tables=options.include_tables,
        favor_precision=options.favor_precision,
        config=_config(options.max_tree_size),
    )


def extract_html(html: str, url: str | None = None, options: HtmlOptions = HtmlOptions()) -> Extracted | None:
    """Extract the article from a page; None when the page holds no main text."""
    html = _xml_safe(html)
    doc = _main_text(html, url, options, fast=options.fast)
    if options.fast and (doc is None or len(doc.text or "") < options.full_cascade_below_chars):
        doc = _main_text(html, url, options, fast=False)
    if doc is None or not doc.text:
        return None
    meta = _metadata(html, url, options)  # `html` is XML-safe already: one scan of the page, not two
    declared = meta["declared_url"]
    if declared and url and declared.rstrip("/") == url.rstrip("/"):
        declared = url
    return Extracted(
        text=_paragraphs(doc.text),
        title=meta["title"],
        authors=meta["authors"],
        published_at=meta["published_at"],
        site_name=meta["site_name"],
        image_url=meta["image_url"],
        declared_url=declared,
        language=meta["language"] or (doc.language or None),
        description=meta["description"],
        modified_at=meta["modified_at"],
    )
