"""Property tests of HTML extraction: the budgeted extract stage on hostile pages returns an article, a drop, or
refuses the page with BudgetExceeded — nothing else; text normalisation is idempotent."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from newswire.records import RawArticle, utc_now
from processors.article import Article, Drop, article_from_raw
from processors.budget import Bounded, BudgetExceeded, RecordLimits, check_html
from processors.extraction.fragment import fragment_text
from processors.extraction.html import extract_page_metadata
from processors.extraction.text import content_hash, fold_for_hash, normalise_text
from processors.stages.extract import ExtractText
from tests.fuzz.strategies import html_fragment, html_page, text

EXTRACT = Bounded(ExtractText(), RecordLimits(time_seconds=10), inspect_input=True)


def _article(body: str, origin: str = "page") -> Article:
    return article_from_raw(RawArticle(raw_id=uuid.uuid4().hex, url="https://fuzz.example/a", source="fuzz",
                                       fetched_at=utc_now(), content_type="text/html", body=body, body_origin=origin))


@given(html_page())
def test_extract_stage_on_hostile_pages(html):
    try:
        result = EXTRACT(_article(html))
    except BudgetExceeded:
        return
    assert isinstance(result, (Article, Drop))
    if isinstance(result, Article):
        assert result.text and "\x00" not in result.text


@given(html_fragment())
def test_feed_content_fragments(html):
    result = EXTRACT(_article(html, origin="feed_content"))
    assert isinstance(result, (Article, Drop))
    assert fragment_text(html) == fragment_text(html)  # deterministic


@given(html_page())
def test_page_metadata_never_raises(html):
    meta = extract_page_metadata(html, "https://fuzz.example/a")
    assert all(isinstance(a, str) and a for a in meta["authors"])


@given(st.one_of(html_page(), html_fragment()))
def test_input_check_raises_only_budget_exceeded(html):
    try:
        check_html(html, RecordLimits(max_html_depth=20, max_html_elements=200, max_html_attributes=2))
    except BudgetExceeded as refused:
        assert refused.limit in ("html_depth", "html_elements", "html_attributes", "table_cells")


@given(text)
def test_normalise_text_is_idempotent(value):
    once = normalise_text(value)
    assert normalise_text(once) == once


@given(text)
def test_content_hash_ignores_case_and_spacing(value):
    assert content_hash(value) == content_hash("  " + value.upper().replace(" ", "\n") + " ")
    assert fold_for_hash(fold_for_hash(value)) == fold_for_hash(value)
