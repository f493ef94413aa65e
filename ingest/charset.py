"""Decoding fetched pages to text: declared charset first, then detection.

Order (w3lib's `html_to_unicode`, Scrapy's decoder): byte-order mark, the Content-Type header's charset, the
page's `<meta charset>` / `http-equiv`, then detection. Detection tries strict UTF-8 first (most of the web, and
a wrong positive is near impossible) and only then charset-normalizer, which on short Latin texts may otherwise
guess an exotic code page (trafilatura#231).
"""

from __future__ import annotations

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode

__all__ = ["decode_page"]

_DETECT_BYTES = 64 * 1024


def _detect(body: bytes) -> str | None:
    sample = body[:_DETECT_BYTES]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:  # cut in the middle of a character by the sample's end
            return "utf-8"
    best = from_bytes(sample).best()
    return best.encoding if best is not None else None


def decode_page(body: bytes, content_type: str | None) -> tuple[str, str]:
    """(text, encoding used) for an HTML or text body; undecodable bytes become U+FFFD."""
    encoding, text = html_to_unicode(content_type, body, default_encoding="utf-8", auto_detect_fun=_detect)
    return text, encoding
