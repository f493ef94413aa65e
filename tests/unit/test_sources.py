"""Sources: OPML import, news and plain sitemaps, sitemap indexes, unsafe and invalid XML."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from ingest.feeds import FeedParseError
from ingest.sitemaps import parse_sitemap
from ingest.sources import feeds_to_yaml, load_feeds, parse_opml
from newswire.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


def test_opml_import():
    feeds = parse_opml((FIXTURES / "subscriptions.opml").read_bytes())
    assert [(f.name, f.url) for f in feeds] == [
        ("le-monde-international", "https://www.lemonde.fr/international/rss_full.xml"),
        ("bbc-world", "https://feeds.bbci.co.uk/news/world/rss.xml"),
        ("bbc-world-2", "https://feeds.bbci.co.uk/news/technology/rss.xml"),  # names made unique
    ]  # the file:// outline and the empty folder are skipped
    assert feeds[1].language == "en"


def test_opml_file_as_feeds_file_and_cli_conversion(tmp_path, capsys):
    assert len(load_feeds(FIXTURES / "subscriptions.opml")) == 3
    out = tmp_path / "feeds.yaml"
    assert main(["opml-import", str(FIXTURES / "subscriptions.opml"), "--output", str(out)]) == 0
    assert [f.url for f in load_feeds(out)] == [f.url for f in load_feeds(FIXTURES / "subscriptions.opml")]
    assert "name: le-monde-international" in out.read_text()
    assert feeds_to_yaml(load_feeds(out)) == out.read_text()


def test_not_opml():
    with pytest.raises(ValueError):
        parse_opml(b"<rss><channel/></rss>")
    with pytest.raises(ValueError):
        parse_opml(b"<opml><body><outline")


def test_news_sitemap():
    feed = parse_sitemap((FIXTURES / "news-sitemap.xml").read_bytes(), "https://news.example.org/sitemap.xml")
    first, second = feed.entries
    assert first.link == first.entry_id == "https://news.example.org/2024/06/01/election-results.html"
    assert first.title == "Résultats des élections"
    assert first.language == "fr"
    assert first.tags == ("élections", "politique")
    assert first.published_at == datetime(2024, 6, 1, 6, 30, tzinfo=timezone.utc)
    assert second.published_at == datetime(2024, 6, 1, tzinfo=timezone.utc)  # news date wins over lastmod
    assert not first.has_full_content


def test_plain_sitemap_and_index():
    plain = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><loc>https://a.example/1</loc><lastmod>2024-01-02</lastmod></url><url><loc> https://a.example/2 </loc></url>
      <url><lastmod>2024-01-02</lastmod></url></urlset>"""
    feed = parse_sitemap(plain, "u")
    assert [e.link for e in feed.entries] == ["https://a.example/1", "https://a.example/2"]
    assert feed.entries[0].published_at == datetime(2024, 1, 2, tzinfo=timezone.utc)
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://a.example/old.xml</loc><lastmod>2020-01-01</lastmod></sitemap>
      <sitemap><loc>https://a.example/new.xml</loc><lastmod>2024-01-01</lastmod></sitemap></sitemapindex>"""
    assert parse_sitemap(index, "u").child_sitemaps == ("https://a.example/new.xml", "https://a.example/old.xml")


@pytest.mark.parametrize("body", [b"", b"   ", b"<urlset><url><loc>https://a/1</loc>", b"\x00\x01",
                                  b"<html><body>not a sitemap</body></html>"])
def test_invalid_sitemaps(body):
    with pytest.raises(FeedParseError):
        parse_sitemap(body, "https://a.example/sitemap.xml")


def test_sitemap_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file://{secret}">]>'
           '<urlset><url><loc>https://a.example/&x;</loc></url></urlset>').encode()
    try:
        feed = parse_sitemap(xxe, "u")
    except FeedParseError:
        return  # refusing the document is fine too
    assert all("TOP-SECRET" not in e.link for e in feed.entries)
    laughs = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
              b'<urlset><url><loc>https://a.example/&d;</loc></url></urlset>')
    try:
        feed = parse_sitemap(laughs, "u")
    except FeedParseError:
        return
    assert all(len(e.link) < 100 for e in feed.entries)
