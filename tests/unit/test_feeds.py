import pytest

from ingest.feeds import FeedParseError, parse_feed
from ingest.sources import load_feeds
from tests.conftest import seed_texts
from tests.feeds import rss


def test_rss_entries_with_full_content():
    texts = list(seed_texts().values())
    body = rss([{"link": f"https://news.example/{i}", "title": f"T{i}", "text": t} for i, t in enumerate(texts)])
    feed = parse_feed(body, "https://news.example/rss")
    assert feed.language == "fr"
    assert [e.entry_id for e in feed.entries] == [f"https://news.example/{i}" for i in range(5)]
    assert all(e.has_full_content for e in feed.entries)
    assert all(e.published_at is not None and e.published_at.tzinfo for e in feed.entries)


def test_atom_feed_and_entries_without_id():
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id><updated>2024-01-01T00:00:00Z</updated>
    <entry><title>One</title><link href="https://a.example/1"/><updated>2024-01-01T00:00:00Z</updated>
    <summary>Short.</summary></entry>
    <entry><title>No link</title><updated>2024-01-02T00:00:00Z</updated><summary>x</summary></entry></feed>"""
    feed = parse_feed(atom, "https://a.example/atom")
    assert feed.entries[0].entry_id == "https://a.example/1"
    assert feed.entries[1].entry_id.startswith("sha256:")
    assert not feed.entries[0].has_full_content


@pytest.mark.parametrize("body", [b"", b"<html><body>Not a feed</body></html>", b"\x00\x01garbage",
                                  b"<rss><channel><item>", b'<rss version="2.0"><channel><title>T</ti'])
def test_not_a_feed(body):
    with pytest.raises(FeedParseError):
        parse_feed(body, "https://x.example/feed")


def test_entries_capped():
    body = rss([{"link": f"https://n.example/{i}", "title": "t", "text": "x"} for i in range(50)])
    assert len(parse_feed(body, "u", max_entries=10).entries) == 10


def test_load_feeds(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - name: a\n    url: https://a.example/rss\n    language: fr\n"
                    "  - name: b\n    url: https://b.example/rss\n    enabled: false\n")
    feeds = load_feeds(path)
    assert [f.name for f in feeds] == ["a"]
    path.write_text("feeds:\n  - name: a\n    url: file:///etc/passwd\n")
    with pytest.raises(ValueError):
        load_feeds(path)


def test_slightly_broken_feed_keeps_its_entries():
    """Like feed readers, a feed with a stray undefined entity still yields the entries it has."""
    body = (b'<rss version="2.0"><channel><title>T</title><item><title>a &nbsp; b</title>'
            b"<link>https://a.example/1</link></item></channel></rss>")
    feed = parse_feed(body, "https://a.example/rss")
    assert [e.link for e in feed.entries] == ["https://a.example/1"] and feed.bozo
