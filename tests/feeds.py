"""Building test feeds: an RSS document whose entries carry given texts."""

from __future__ import annotations

from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape


def rss(entries: list[dict], title: str = "Test feed", language: str | None = "fr") -> bytes:
    """RSS 2.0 with content:encoded; each entry dict has link, title, text and optional guid/published."""
    items = []
    base = datetime(2024, 6, 1, tzinfo=timezone.utc)
    for i, entry in enumerate(entries):
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in entry["text"].split("\n") if p.strip())
        published = entry.get("published") or base + timedelta(hours=i)
        items.append(
            "<item>"
            f"<title>{escape(entry['title'])}</title>"
            f"<link>{escape(entry['link'])}</link>"
            f"<guid isPermaLink=\"false\">{escape(entry.get('guid', entry['link']))}</guid>"
            f"<pubDate>{format_datetime(published)}</pubDate>"
            f"<description>{escape(entry['text'][:200])}</description>"
            f"<content:encoded><![CDATA[{paragraphs}]]></content:encoded>"
            "</item>"
        )
    lang = f"<language>{language}</language>" if language else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{escape(title)}</title><link>http://127.0.0.1/</link>{lang}"
        f"<description>test</description>{''.join(items)}</channel></rss>"
    ).encode("utf-8")
