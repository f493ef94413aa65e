"""Stage `extract`: main text and metadata from HTML (trafilatura); plain text passes through normalised."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from tld import get_fld

from newswire.urls import article_id_for, canonical_url
from processors.article import Article, Drop, StageResult
from processors.extraction.fragment import fragment_text
from processors.extraction.html import HtmlOptions, extract_html
from processors.extraction.text import normalise_text

__all__ = ["ExtractOptions", "ExtractText"]


@dataclass(frozen=True)
class ExtractOptions:
    """Tunables of the extract stage."""

    html: HtmlOptions = HtmlOptions()
    max_body_chars: int = 5_000_000  # larger bodies are refused before parsing (memory and time bound)
    trust_declared_canonical: bool = True  # adopt the page's canonical link when it is on the same site
    min_words: int = 5  # fewer words than this is a fragment (a menu, an error page), not an article


def _same_site(a: str, b: str) -> bool:
    """Same registrable domain (public-suffix aware: amp.bbc.co.uk and www.bbc.co.uk, not x.co.uk)."""
    sites = [get_fld(u, fail_silently=True) for u in (a, b)]
    return sites[0] is not None and sites[0] == sites[1]


class ExtractText:
    """HTML → text and metadata; plain text → normalised text. Drops records with no text."""

    name = "extract"

    def __init__(self, options: ExtractOptions = ExtractOptions()) -> None:
        self.options = options

    def __call__(self, article: Article) -> StageResult:
        raw = article.raw
        if len(raw.body) > self.options.max_body_chars:
            return Drop(self.name, "body_too_large", f"{len(raw.body)} characters")
        if raw.content_type == "text/plain" or raw.body_origin in ("feed_content", "feed_summary"):
            # Plain text, or a feed's own syndicated content: the publisher's text, no page chrome to detect.
            text = normalise_text(raw.body) if raw.content_type == "text/plain" else fragment_text(raw.body)
            if not text:
                return Drop(self.name, "empty_text")
            if len(text.split()) < self.options.min_words:
                return Drop(self.name, "too_short", f"{len(text.split())} words")
            return replace(article, text=text)
        extracted = extract_html(raw.body, url=raw.url, options=self.options.html)
        if extracted is None:
            return Drop(self.name, "no_main_text")
        if len(extracted.text.split()) < self.options.min_words:
            return Drop(self.name, "too_short", f"{len(extracted.text.split())} words")
        updated = replace(
            article,
            text=extracted.text,
            title=article.title or extracted.title,
            authors=article.authors or extracted.authors,
            published_at=article.published_at or extracted.published_at,
            site_name=extracted.site_name,
            image_url=extracted.image_url,
        )
        declared = extracted.declared_url
        if self.options.trust_declared_canonical and declared and _same_site(declared, raw.url):
            try:
                canonical = canonical_url(declared)
            except ValueError:
                return updated
            # A canonical pointing at the site's front page is a template mistake, not the article's address.
            if urlsplit(canonical).path not in ("", "/"):
                updated = replace(updated, canonical_url=canonical, article_id=article_id_for(canonical))
        return updated
