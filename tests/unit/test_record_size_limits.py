"""Records too large for Kafka become named dead letters instead of sends that fail and are retried forever."""

from __future__ import annotations

from newswire.kafka import MAX_RECORD_BYTES
from newswire.records import ArticleLink, RawArticle, utc_now
from ingest.scraper import ScrapeOutcome, _refuse_oversized


def _outcome(body: str) -> ScrapeOutcome:
    link = ArticleLink(link_id="l1", url="https://big.example/a", source="s", discovered_at=utc_now())
    raw = RawArticle(raw_id="r1", url=link.url, source="s", fetched_at=utc_now(), content_type="text/html",
                     body=body)
    return ScrapeOutcome(link, "ok", raw=raw)


def test_an_oversized_page_is_a_dead_letter_naming_its_size():
    # quotes are escaped in JSON: a body under the limit can still make a record over it
    refused = _refuse_oversized(_outcome('"' * (MAX_RECORD_BYTES // 2 + 1)))
    assert refused.result == "dead_letter" and refused.raw is None
    assert refused.failure.kind == "too_large" and not refused.failure.retriable
    assert str(MAX_RECORD_BYTES) in str(refused.failure)


def test_a_page_within_the_limit_is_published():
    outcome = _outcome("<p>" + "mot " * 1000 + "</p>")
    assert _refuse_oversized(outcome) is outcome
