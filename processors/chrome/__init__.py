"""The chrome cleaner: tells article text from page chrome line by line, says why, learns site templates.

Public surface: `strip_chrome` (the cleaner), its options and result, the template-memory protocol with an
in-memory implementation, author-name normalisation, and `explain` (in `processors.chrome.explain`, which needs
the article record). Design notes: `docs/chrome.md`.
"""

from processors.chrome.cleaner import ChromeOptions, ChromeResult, Removal, strip_chrome
from processors.chrome.names import normalise_authors, normalise_name
from processors.chrome.phrases import PHRASE_DIR, load_phrasebook
from processors.chrome.template import InMemoryTemplateMemory, TemplateMemory, line_hash

__all__ = [
    "ChromeOptions",
    "ChromeResult",
    "InMemoryTemplateMemory",
    "PHRASE_DIR",
    "Removal",
    "TemplateMemory",
    "line_hash",
    "load_phrasebook",
    "normalise_authors",
    "normalise_name",
    "strip_chrome",
]
