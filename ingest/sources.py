"""The configured sources: a YAML list of feeds and sitemaps, or an OPML subscription list, validated.

A source's `kind` is `feed` (RSS/Atom) or `sitemap` (news sitemap, plain sitemap or sitemap index). Its `publish`
mode says where entries go: `auto` publishes an entry that carries the article's full text straight to the raw
topic and every other entry as a link for the scraper; `links` always sends links (the page is the reference);
`raw` always publishes the feed's text, full or summary, and never scrapes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ingest.safexml import InvalidXml, local_name, parse_xml

__all__ = ["FeedSource", "load_feeds", "parse_opml", "feeds_to_yaml"]


class FeedSource(BaseModel):
    """One feed or sitemap to poll."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Short stable name, used as the record's `source` and in metrics.")
    url: str
    kind: Literal["feed", "sitemap"] = "feed"
    publish: Literal["auto", "links", "raw"] = Field(
        "auto", description="auto: full-text entries to the raw topic, others as links; links: always links; "
                            "raw: always the feed's own text.")
    language: str | None = Field(None, description="Declared language, used when the text is too short.")
    interval_seconds: float | None = Field(None, gt=0, description="Fixed interval instead of the adaptive one.")
    max_age_hours: float | None = Field(None, gt=0, description="Ignore entries published longer ago than this.")
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"feed URL must be http(s): {value!r}")
        return value


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "feed"


def parse_opml(body: bytes) -> list[FeedSource]:
    """The feeds of an OPML document (every outline with an `xmlUrl`, nested folders included).

    Names come from the outline's title or text, made unique; the OPML `language` attribute is kept.
    """
    try:
        root = parse_xml(body)
    except InvalidXml as exc:
        raise ValueError(f"not an OPML document: {exc}") from exc
    if local_name(root) != "opml":
        raise ValueError(f"not an OPML document (root element <{local_name(root)}>)")
    feeds: list[FeedSource] = []
    names: set[str] = set()
    for outline in root.iter("{*}outline", "outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url.startswith(("http://", "https://")):
            continue
        base = _slug(outline.get("title") or outline.get("text") or url.split("//", 1)[-1])
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.add(name)
        feeds.append(FeedSource(name=name, url=url, language=outline.get("language") or None))
    return feeds


def feeds_to_yaml(feeds: list[FeedSource]) -> str:
    """A feeds file for `feeds`, only non-default fields written."""
    items = [f.model_dump(exclude_defaults=True) for f in feeds]
    for item, feed in zip(items, feeds):
        item["name"], item["url"] = feed.name, feed.url  # always first and always present
    ordered = [{"name": i.pop("name"), "url": i.pop("url"), **i} for i in items]
    return yaml.safe_dump({"feeds": ordered}, sort_keys=False, allow_unicode=True)


def load_feeds(path: str | Path) -> list[FeedSource]:
    """Read `feeds:` from a YAML file (a bare list is accepted too), or an OPML file; names must be unique."""
    raw = Path(path).read_bytes()
    if raw.lstrip().startswith(b"<"):
        feeds = parse_opml(raw)
    else:
        data = yaml.safe_load(raw.decode("utf-8")) or {}
        items = data.get("feeds", []) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValueError(f"{path}: expected a list of feeds under 'feeds:'")
        feeds = [FeedSource.model_validate(item) for item in items]
    names = [f.name for f in feeds]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate feed names: {', '.join(duplicates)}")
    return [f for f in feeds if f.enabled]
