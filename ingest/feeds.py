"""Feed parsing with feedparser: entries with stable ids, full content when the feed carries it."""

from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from xml.sax import SAXException

import feedparser

__all__ = ["FeedEntry", "ParsedFeed", "FeedParseError", "neutralise_char_refs", "parse_feed"]

log = logging.getLogger(__name__)

# Content shorter than this (in characters of markup) is a teaser, not the article.
FULL_CONTENT_MIN_CHARS = 400

# Longest author string feedparser's e-mail regex may see: that regex is quadratic (feedparser PR #580, unreleased
# in 6.0.14: a 64 KB author costs ~19 s of CPU), and no real byline is near this long.
MAX_AUTHOR_CHARS = 1000

# A numeric character reference (decimal or hex); ones outside Unicode or naming a surrogate make feedparser's
# loose parser raise out of parse() (ValueError/OverflowError/UnicodeEncodeError: feedparser #599, PR #590).
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,64})|([0-9]{1,64}));")


def _valid_code_point(match: re.Match[bytes]) -> bool:
    value = int(match.group(1), 16) if match.group(1) is not None else int(match.group(2))
    return 0 < value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF


def neutralise_char_refs(body: bytes) -> bytes:
    """Character references that name no Unicode character become U+FFFD, so one bad entry cannot sink a feed."""
    return _CHAR_REF.sub(lambda m: m.group(0) if _valid_code_point(m) else b"&#xFFFD;", body)


def _bound_author_regex() -> None:
    """Cap the author string before feedparser's quadratic e-mail regex runs on it (once per process).

    The regex lives inside `_sync_author_detail`, which every author-like element (author, managingEditor,
    dc:creator, webMaster, itunes:owner...) goes through; capping its input there holds whatever the encoding or
    the markup splitting the value (CDATA sections, comments), which a pass over the raw bytes could not promise.
    Remove once a feedparser release carries PR #580.
    """
    mixin = feedparser.mixin._FeedParserMixin
    original = mixin._sync_author_detail
    if getattr(original, "newswire_bounded", False):
        return

    def sync_author_detail(self: Any, key: str = "author") -> None:
        context = self._get_context()
        value = context.get(key)
        if isinstance(value, str) and len(value) > MAX_AUTHOR_CHARS:
            context[key] = value[:MAX_AUTHOR_CHARS]
        original(self, key)

    sync_author_detail.newswire_bounded = True  # type: ignore[attr-defined]
    mixin._sync_author_detail = sync_author_detail


_bound_author_regex()


class FeedParseError(ValueError):
    """The document is not a feed feedparser can read."""


@dataclass(frozen=True)
class FeedEntry:
    entry_id: str
    link: str | None
    title: str | None
    summary: str | None
    content: str | None
    content_type: str
    authors: tuple[str, ...]
    tags: tuple[str, ...]
    published_at: datetime | None
    language: str | None

    @property
    def has_full_content(self) -> bool:
        return bool(self.content) and len(self.content) >= FULL_CONTENT_MIN_CHARS


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    language: str | None
    ttl_minutes: int | None
    entries: tuple[FeedEntry, ...]
    bozo: str | None
    child_sitemaps: tuple[str, ...] = ()  # set for a sitemap index only


def _time(entry: Any, *keys: str) -> datetime | None:
    for key in keys:
        value = entry.get(key)
        if value:
            try:
                return datetime(*value[:6], tzinfo=timezone.utc)
            except (TypeError, ValueError):
                continue
    return None


def _entry_id(entry: Any) -> str:
    for key in ("id", "guid", "link"):
        value = entry.get(key)
        if value and isinstance(value, str):
            return value.strip()[:2000]
    basis = "|".join(str(entry.get(k, "")) for k in ("title", "link", "published", "updated", "summary"))
    return "sha256:" + hashlib.sha256(basis.encode("utf-8", "replace")).hexdigest()


def _content(entry: Any) -> tuple[str | None, str]:
    best, kind = None, "text/html"
    for item in entry.get("content") or []:
        value = item.get("value") or ""
        if best is None or len(value) > len(best):
            best, kind = value, item.get("type") or "text/html"
    return best, ("text/plain" if kind == "text/plain" else "text/html")


def _authors(entry: Any) -> tuple[str, ...]:
    names = [a.get("name") for a in entry.get("authors") or [] if isinstance(a, dict) and a.get("name")]
    if not names and entry.get("author"):
        names = [entry.get("author")]
    return tuple(n.strip()[:200] for n in names if n and n.strip())


def parse_feed(body: bytes, url: str, headers: dict[str, str] | None = None,
               max_entries: int = 1000) -> ParsedFeed:
    """Parse RSS/Atom bytes; raises FeedParseError when nothing feed-like is found."""
    try:
        # A stream, never bytes or str: feedparser opens a bytes/str argument as a local path (or URL) when it can,
        # so a body reading "/etc/passwd" would be parsed from the local file.
        parsed = feedparser.parse(io.BytesIO(neutralise_char_refs(body)), response_headers=headers or {},
                                  sanitize_html=True, resolve_relative_uris=True)
    except Exception as exc:  # feedparser lets some bad inputs escape (chr() ranges, georss, ...): not a feed
        raise FeedParseError(f"feedparser failed ({type(exc).__name__}: {exc}): {url}") from exc
    bozo = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    if not parsed.entries and not parsed.get("version"):
        raise FeedParseError(f"not a feed ({bozo or 'no feed elements'}): {url}")
    feed = parsed.feed
    language = feed.get("language") or None
    ttl = feed.get("ttl")
    entries = []
    for raw in parsed.entries[:max_entries]:
        content, content_type = _content(raw)
        entries.append(FeedEntry(
            entry_id=_entry_id(raw),
            link=raw.get("link") or None,
            title=(raw.get("title") or None),
            summary=raw.get("summary") or None,
            content=content,
            content_type=content_type,
            authors=_authors(raw),
            tags=tuple(t.get("term") for t in raw.get("tags") or [] if t.get("term"))[:50],
            published_at=_time(raw, "published_parsed", "updated_parsed"),
            language=language,
        ))
    if isinstance(parsed.get("bozo_exception"), SAXException) and not any(e.link for e in entries):
        # Not well-formed and nothing usable recovered (a truncated or broken document): an error to back off
        # from and to count, not a quiet "no new entries" that would hide a broken feed.
        raise FeedParseError(f"invalid XML, no entries recovered ({bozo}): {url}")
    if bozo:
        log.info("feed parsed with problems: %s", bozo, extra={"feed": url})
    return ParsedFeed(title=feed.get("title"), language=language,
                      ttl_minutes=int(ttl) if str(ttl or "").isdigit() else None,
                      entries=tuple(entries), bozo=bozo)
