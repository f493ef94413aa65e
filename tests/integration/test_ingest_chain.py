"""The whole chain on the real broker: poll a feed of links → links topic → scrape the pages (robots.txt and
politeness on) → raw topic → process → clean records in the store and on the clean topic."""

from __future__ import annotations

import json
import threading
import time
import uuid
from xml.sax.saxutils import escape

import pytest

from ingest.service import run_poller, run_scraper
from newswire.kafka import ensure_topics
from newswire.service import Health
from newswire.settings import Settings
from newswire.store import open_store
from processors.service import run_processor
from tests.conftest import Route, seed_texts
from tests.kafka_io import read_topic

pytestmark = pytest.mark.kafka


def _page(title: str, text: str) -> bytes:
    """An article page with the chrome real sites have around the text (navigation, share links, footer)."""
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n") if p.strip())
    return (f"<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>{escape(title)} | Le Site</title>"
            f"</head><body><nav><a href='/'>Accueil</a> <a href='/monde'>Monde</a></nav>"
            f"<article><h1>{escape(title)}</h1>{paragraphs}</article>"
            f"<footer>© Le Site 2024 — Mentions légales — Partager sur Facebook</footer></body></html>").encode()


def _summary_feed(items: list[tuple[str, str, str]]) -> bytes:
    """RSS whose entries carry only a short summary, so the page must be scraped."""
    body = "".join(f"<item><title>{escape(t)}</title><link>{escape(u)}</link><guid>{escape(u)}</guid>"
                   f"<pubDate>Sat, 01 Jun 2024 0{i}:00:00 GMT</pubDate><description>{escape(s)}</description></item>"
                   for i, (u, t, s) in enumerate(items))
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Le Site</title>'
            f"<link>http://127.0.0.1/</link><language>fr</language>{body}</channel></rss>").encode()


def test_poll_scrape_process_chain(kafka_bootstrap, topic_settings, http_server, tmp_path):
    texts = list(seed_texts().values())
    page_times: list[float] = []
    items = []
    for i, text in enumerate(texts):
        path = f"/monde/article-{i}.html"
        title = f"Article {i}"

        def handler(request, body=_page(title, text)):
            page_times.append(time.monotonic())
            return 200, {"Content-Type": "text/html; charset=utf-8"}, body

        http_server.routes[path] = Route(handler=handler)
        items.append((http_server.url(path), title, text.split("\n")[0][:120]))
    private = http_server.url("/prive/article-x.html")
    http_server.routes["/prive/article-x.html"] = Route(200, _page("Privé", texts[0]))
    items.append((private, "Privé", "Ne pas lire"))
    http_server.routes["/robots.txt"] = Route(200, b"User-agent: *\nDisallow: /prive/\n")
    http_server.routes["/rss.xml"] = Route(200, _summary_feed(items), {"Content-Type": "application/rss+xml"})
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - name: le-site\n    url: {http_server.url('/rss.xml')}\n    language: fr\n")
    store_url = f"sqlite:///{tmp_path / 'chain.sqlite'}"
    settings = Settings.model_validate({
        "kafka": {"bootstrap_servers": kafka_bootstrap}, "topics": topic_settings.model_dump(),
        "store": {"url": store_url}, "service": {"metrics_port": 0},
        "http": {"allow_networks": ["127.0.0.1/32"], "user_agent": "newswire-test/1.0 (+https://example.org/bot)"},
        "poller": {"feeds_file": str(feeds_file), "workers": 1},
        "scraper": {"group_id": f"chain-s-{uuid.uuid4().hex[:8]}", "poll_timeout_ms": 300,
                    "host_min_delay_seconds": 0.2},
        "processor": {"group_id": f"chain-p-{uuid.uuid4().hex[:8]}", "poll_timeout_ms": 300},
    })
    ensure_topics(settings.kafka, settings.topics)
    started = time.monotonic()

    # 1. Poll: summary-only entries become links, keyed by host.
    results = run_poller(settings, feeds_file, health=Health("poller"), stop=threading.Event(), once=True)
    assert [(r.result, r.links, r.published) for r in results] == [("new_content", 6, 0)]
    links = [json.loads(m.value) for m in read_topic(kafka_bootstrap, topic_settings.links, expected=6)]
    assert sorted(link["url"] for link in links) == sorted(u for u, _, _ in items)

    # 2. Scrape: robots.txt honoured, pages fetched politely, raw records with the page and the entry's metadata.
    stats = run_scraper(settings, health=Health("scraper"), stop=threading.Event(), max_records=6,
                        idle_exit_seconds=20)
    assert stats.outcomes == {"ok": 5, "robots_disallowed": 1}
    raw = [json.loads(m.value) for m in read_topic(kafka_bootstrap, topic_settings.raw, expected=5)]
    assert len(raw) == 5 and {r["body_origin"] for r in raw} == {"page"} and private not in {r["url"] for r in raw}
    gaps = [b - a for a, b in zip(page_times, page_times[1:])]
    assert min(gaps) >= 0.2 - 0.02  # the per-host delay, from the server's own clock

    # 3. Process: clean French records with the page's text, chrome removed, the feed's title kept.
    processed = run_processor(settings, health=Health("processor"), stop=threading.Event(), max_records=5,
                              idle_exit_seconds=30)
    assert processed.outcomes["clean"] == 5
    clean = [json.loads(m.value) for m in read_topic(kafka_bootstrap, topic_settings.clean, expected=5)]
    elapsed = time.monotonic() - started
    print(f"chain: 1 feed → 6 links → 5 pages scraped (1 refused by robots.txt) → 5 clean records in "
          f"{elapsed:.1f}s; page gaps {[round(g, 2) for g in gaps]}s")
    by_url = {c["url"]: c for c in clean}
    assert set(by_url) == {u for u, _, _ in items[:5]}
    for (url, title, _), text in zip(items, texts):
        record = by_url[url]
        first = text.split("\n")[0].strip()
        assert record["title"] == title and record["source"] == "le-site" and record["language"] == "fr"
        assert first[:80] in record["text"]  # the article body came from the scraped page
        assert "Mentions légales" not in record["text"] and "Accueil" not in record["text"]
    store = open_store(store_url)
    try:
        assert store.count("articles") == 5
    finally:
        store.close()
