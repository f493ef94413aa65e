"""Main text and metadata from an HTML page, with trafilatura (precision-leaning, comments off)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

import trafilatura
from trafilatura.settings import use_config

from processors.extraction.text import normalise_text

__all__ = ["Extracted", "HtmlOptions", "extract_html"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HtmlOptions:
    """Tunables of HTML extraction."""

    include_comments: bool = False  # comment sections are never article text
    include_tables: bool = True
    favor_precision: bool = False
    max_tree_size: int = 200_000  # elements; larger documents are refused rather than parsed for minutes


@dataclass(frozen=True)
class Extracted:
    """What the page says: main text and the metadata trafilatura and htmldate found."""

    text: str
    title: str | None
    authors: tuple[str, ...]
    published_at: datetime | None
    site_name: str | None
    image_url: str | None
    declared_url: str | None
    language: str | None


@lru_cache(maxsize=8)
def _config(max_tree_size: int):
    config = use_config()
    # Extraction runs under the worker's own time budget; trafilatura's signal-based timeout is off.
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    config.set("DEFAULT", "MAX_TREE_SIZE", str(max_tree_size))
    return config


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _authors(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(a.strip() for a in value.replace(" and ", ";").split(";") if a.strip())


def extract_html(html: str, url: str | None = None, options: HtmlOptions = HtmlOptions()) -> Extracted | None:
    """Extract the article from a page; None when the page holds no main text."""
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=options.include_comments,
        include_tables=options.include_tables,
        favor_precision=options.favor_precision,
        config=_config(options.max_tree_size),
    )
    if doc is None or not doc.text:
        return None
    return Extracted(
        text="\n\n".join(line for line in normalise_text(doc.text).split("\n") if line),
        title=(doc.title or None),
        authors=_authors(doc.author),
        published_at=_parse_date(doc.date),
        site_name=doc.sitename or None,
        image_url=doc.image or None,
        declared_url=doc.url or None,
        language=doc.language or None,
    )
