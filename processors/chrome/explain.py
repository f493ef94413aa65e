"""Explain mode: every line the chrome stage would remove from an article, with its reason.

`newswire process-file --explain` prints this; rule tuners read it to see why a line went, then edit the phrase
files (`processors/chrome/phrases/`) or the options.
"""

from __future__ import annotations

from processors.article import Article
from processors.chrome.cleaner import ChromeOptions, strip_article_chrome

__all__ = ["explain"]


def explain(article: Article, options: ChromeOptions = ChromeOptions()) -> list[tuple[str, str]]:
    """(line, reason) for each line the cleaner removes from the article's current text, in text order.

    Runs without template memory (a read-only view; explaining never teaches the store), so `template` removals
    only show in the counts of records processed by the workers.
    """
    if not article.text:
        return []
    result = strip_article_chrome(article, memory=None, options=options)
    return [(removal.line, removal.reason) for removal in result.removals]
