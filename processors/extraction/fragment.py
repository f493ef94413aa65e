"""Text of an HTML fragment (a feed entry's content): every block on its own paragraph, scripts removed.

A feed's content is the article as the publisher chose to syndicate it, so it is converted whole rather than run
through boilerplate detection, which is meant for full pages and discards short fragments.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from processors.extraction.text import normalise_text

__all__ = ["fragment_text"]

_BLOCKS = {"p", "div", "section", "article", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
           "pre", "tr", "table", "figure", "figcaption", "header", "footer", "aside", "dd", "dt", "hr"}
_DROP = ["script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "form"]
# Characters XML cannot hold: lxml parses them into text but refuses them when text is set back (ValueError "All
# strings must be XML compatible"), so one stray control character in a feed entry made it a dead letter (found by
# tests/fuzz; regression in tests/fixtures/bad_inputs).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def fragment_text(html: str) -> str:
    """Plain text of an HTML fragment, paragraphs separated by blank lines."""
    if "<" not in html:
        return normalise_text(html)
    html = _NOT_XML.sub("", html)
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return normalise_text(html)
    etree.strip_elements(root, *_DROP, with_tail=False)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag == "br":
            element.tail = "\n" + (element.tail or "")
        elif element.tag in _BLOCKS:
            element.text = "\n\n" + (element.text or "")
            element.tail = "\n\n" + (element.tail or "")
    text = normalise_text(root.text_content())
    return "\n\n".join(p.strip() for p in text.split("\n\n") if p.strip())
