"""Parsing untrusted XML (OPML, sitemaps) with lxml set up so it cannot reach files or the network.

No DTD is loaded, entities are not resolved (no XXE, no billion laughs), no network access, and libxml2's
default depth and size limits stay on (`huge_tree=False`). Errors become `InvalidXml`.
"""

from __future__ import annotations

from lxml import etree

__all__ = ["InvalidXml", "parse_xml", "local_name"]


class InvalidXml(ValueError):
    """The bytes are not well-formed XML (or are empty)."""


def _parser() -> etree.XMLParser:
    # A parser per call: lxml parsers are not safe to share between threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True, recover=False)


def parse_xml(body: bytes) -> etree._Element:
    """The root element of `body`; raises InvalidXml."""
    if not body or not body.strip():
        raise InvalidXml("empty document")
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidXml(f"invalid XML: {exc}") from exc
    if root is None:
        raise InvalidXml("no root element")
    return root


def local_name(element: etree._Element) -> str:
    """The tag without its namespace, lower-cased ('' for comments and other non-elements)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()
