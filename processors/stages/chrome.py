"""Stage `chrome`: remove page chrome from the article text, take the title and bylines into metadata."""

from __future__ import annotations

from dataclasses import replace

from processors.article import Article, Drop, StageResult
from processors.chrome import ChromeOptions, TemplateMemory, normalise_authors
from processors.chrome.cleaner import strip_article_chrome

__all__ = ["StripChrome"]


class StripChrome:
    """Text → text without chrome; sets `title`, `authors` and `removed_lines` (count per reason).

    With a `TemplateMemory` (the store's, shared by all workers) it also learns each source's template lines.
    Drops the article when nothing is left.
    """

    name = "chrome"

    def __init__(self, memory: TemplateMemory | None = None, options: ChromeOptions = ChromeOptions()) -> None:
        self.memory = memory
        self.options = options

    def __call__(self, article: Article) -> StageResult:
        if not article.text:
            return Drop(self.name, "empty_after_chrome", "no text to clean")
        result = strip_article_chrome(article, self.memory, self.options)
        if not result.text.strip():
            return Drop(self.name, "empty_after_chrome", f"{len(result.removals)} lines, all chrome")
        return replace(
            article,
            text=result.text,
            title=result.title or article.title,
            authors=normalise_authors(result.authors),
            removed_lines=result.counts,
        )
