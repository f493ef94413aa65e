"""Plain-text normalisation and the content hash used for exact-duplicate detection."""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = ["normalise_text", "fold_for_hash", "content_hash", "folded_content_hash"]

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANKS = re.compile(r"\n{3,}")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_text(text: str) -> str:
    """Unicode NFC, one space between words, paragraphs separated by one blank line, no control characters."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def fold_for_hash(text: str) -> str:
    """Text reduced to lower-case words separated by single spaces: case, spacing and punctuation folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NON_WORD.sub(" ", folded).strip()


def content_hash(text: str) -> str:
    """SHA-256 (hex) of the folded text."""
    return folded_content_hash(fold_for_hash(text))


def folded_content_hash(folded: str) -> str:
    """`content_hash` of a text already reduced by `fold_for_hash` (the dedupe stage folds once for two hashes)."""
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()
