"""HTML path metadata (`processors.extraction.html`): head, JSON-LD, time and byline elements."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from processors.extraction.html import extract_html, extract_page_metadata

BODY = "<p>" + " ".join(["The council voted on Tuesday to extend the tram line to the northern districts."] * 6) + "</p>"

PAGE = f"""<!doctype html><html lang="fr-FR"><head>
<title>Le tram ira plus loin - Le Petit Journal</title>
<meta property="og:site_name" content="Le Petit Journal">
<meta property="og:image" content="https://example.org/tram.jpg">
<link rel="canonical" href="https://example.org/2024/tram">
<script type="application/ld+json">{{"@context": "https://schema.org", "@graph": [
 {{"@type": "WebSite", "name": "Le Petit Journal"}},
 {{"@type": "NewsArticle", "headline": "Le tram ira plus loin", "datePublished": "2024-06-18T07:30:00+02:00",
   "author": [{{"@type": "Person", "name": "Jeanne Martin"}}, {{"@type": "Person", "name": "Paul Roux"}}]}}]}}
</script></head><body><article><h1>Le tram ira plus loin</h1>{BODY}{BODY}</article></body></html>"""


def test_metadata_from_json_ld_and_head() -> None:
    meta = extract_page_metadata(PAGE)
    assert meta["title"] == "Le tram ira plus loin"
    assert meta["authors"] == ("Jeanne Martin", "Paul Roux")
    assert meta["published_at"] == datetime(2024, 6, 18, 7, 30, tzinfo=timezone(timedelta(hours=2)))
    assert meta["site_name"] == "Le Petit Journal"
    assert meta["image_url"] == "https://example.org/tram.jpg"
    assert meta["declared_url"] == "https://example.org/2024/tram"
    assert meta["language"] == "fr"


def test_metadata_fallbacks_title_tag_time_element_and_byline() -> None:
    page = (f"<html><head><title>Tram extended | City News</title></head><body>"
            f"<span class=\"byline-author\">Ana Lopez</span><time datetime=\"2024-06-18T09:00:00Z\">18 June</time>"
            f"{BODY}</body></html>")
    meta = extract_page_metadata(page)
    assert meta["title"] == "Tram extended"
    assert meta["authors"] == ("Ana Lopez",)
    assert meta["published_at"] == datetime(2024, 6, 18, 9, 0, tzinfo=timezone.utc)


def test_extract_html_gives_text_paragraphs_and_metadata() -> None:
    extracted = extract_html(PAGE, url="https://example.org/2024/tram")
    assert extracted is not None
    assert "tram line" in extracted.text
    assert extracted.title == "Le tram ira plus loin"
    assert extracted.published_at is not None and extracted.published_at.tzinfo is not None


def test_page_without_text_gives_none() -> None:
    assert extract_html("<html><head><title>x</title></head><body></body></html>") is None
