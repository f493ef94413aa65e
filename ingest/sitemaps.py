"""Sitemaps as a source: news sitemaps (`<news:news>`), plain sitemaps and sitemap indexes.

A sitemap becomes a `ParsedFeed` whose entries are the page URLs, so the poller treats it like any feed: entry id
= the URL, title, publication date, language and keywords from `<news:news>` when present, `<lastmod>` otherwise.
A sitemap index yields its child sitemaps (newest first by `<lastmod>`), which the poller reads in the same check.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ingest.feeds import FeedEntry, FeedParseError, ParsedFeed
from ingest.safexml import InvalidXml, local_name, parse_xml

__all__ = ["parse_sitemap"]


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    value = text.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _children(element) -> dict[str, object]:
    """Child elements by local name (first of each)."""
    found: dict[str, object] = {}
    for child in element:
        name = local_name(child)
        if name and name not in found:
            found[name] = child
    return found


def _text(element) -> str | None:
    if element is None:
        return None
    value = "".join(element.itertext()).strip()
    return value or None


def parse_sitemap(body: bytes, url: str, max_entries: int = 50_000) -> ParsedFeed:
    """Parse a sitemap or sitemap index; raises FeedParseError when it is neither."""
    try:
        root = parse_xml(body)
    except InvalidXml as exc:
        raise FeedParseError(f"{exc}: {url}") from exc
    kind = local_name(root)
    if kind == "sitemapindex":
        children = []
        for item in root:
            if local_name(item) != "sitemap":
                continue
            fields = _children(item)
            loc = _text(fields.get("loc"))
            if loc:
                children.append((_date(_text(fields.get("lastmod"))), loc))
        oldest = datetime.min.replace(tzinfo=timezone.utc)
        children.sort(key=lambda c: c[0] or oldest, reverse=True)
        return ParsedFeed(title=None, language=None, ttl_minutes=None, entries=(), bozo=None,
                          child_sitemaps=tuple(loc for _, loc in children))
    if kind != "urlset":
        raise FeedParseError(f"not a sitemap (root element <{kind}>): {url}")
    entries: list[FeedEntry] = []
    for item in root:
        if local_name(item) != "url":
            continue
        fields = _children(item)
        loc = _text(fields.get("loc"))
        if not loc:
            continue
        news = _children(fields["news"]) if "news" in fields else {}
        publication = _children(news["publication"]) if "publication" in news else {}
        keywords = _text(news.get("keywords"))
        entries.append(FeedEntry(
            entry_id=loc[:2000],
            link=loc,
            title=_text(news.get("title")),
            summary=None,
            content=None,
            content_type="text/html",
            authors=(),
            tags=tuple(k.strip() for k in keywords.split(",") if k.strip())[:50] if keywords else (),
            published_at=_date(_text(news.get("publication_date"))) or _date(_text(fields.get("lastmod"))),
            language=_text(publication.get("language")),
        ))
        if len(entries) >= max_entries:
            break
    return ParsedFeed(title=None, language=None, ttl_minutes=None, entries=tuple(entries), bozo=None)
