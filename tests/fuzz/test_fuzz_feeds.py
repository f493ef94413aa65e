"""Property tests of feed parsing: any bytes end as a ParsedFeed or a FeedParseError, never another exception."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ingest.feeds import FeedParseError, neutralise_char_refs, parse_feed
from tests.fuzz.strategies import feed_document


def _parse(body: bytes) -> None:
    try:
        feed = parse_feed(body, "https://fuzz.example/feed")
    except FeedParseError:
        return
    for entry in feed.entries:
        assert entry.entry_id and len(entry.entry_id) <= 2000
        assert all(len(author) <= 200 for author in entry.authors)


@given(feed_document())
def test_hostile_feeds_parse_or_fail_cleanly(body):
    _parse(body)


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_fail_cleanly(body):
    _parse(body)


@given(st.integers(min_value=0, max_value=2**70), st.booleans())
def test_character_references_always_name_a_character(value, hexadecimal):
    reference = (f"&#x{value:X};" if hexadecimal else f"&#{value};").encode()
    cleaned = neutralise_char_refs(b"<p>" + reference + b"</p>")
    valid = 0 < value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF
    assert cleaned == (b"<p>" + reference + b"</p>" if valid else b"<p>&#xFFFD;</p>")
