"""The `chrome` stage adapter and the explain view, on article records."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from newswire.records import RawArticle
from processors.article import Article, Drop, article_from_raw
from processors.chrome import InMemoryTemplateMemory
from processors.chrome.explain import explain
from processors.stages.chrome import StripChrome

PROSE = "Le ministre a annoncé mardi que les nouvelles règles s'appliqueront dès l'an prochain, après des mois."


def _article(text: str, **changes) -> Article:
    raw = RawArticle(raw_id="r1", url="https://example.org/a", source="example", content_type="text/plain",
                     fetched_at=datetime(2024, 1, 1, tzinfo=timezone.utc), body=text)
    return replace(article_from_raw(raw), text=text, **changes)


def test_stage_cleans_and_counts_reasons() -> None:
    article = _article(f"Un titre qui ne finit pas par un point\n\n{PROSE}\n\nPar Jean Dupont\n\nPublicité")
    result = StripChrome()(article)
    assert isinstance(result, Article)
    assert result.text == PROSE
    assert result.title == "Un titre qui ne finit pas par un point"
    assert result.authors == ("Jean Dupont",)
    assert result.removed_lines == {"title": 1, "byline": 1, "ad_label": 1}
    assert article.text.startswith("Un titre")  # the input is untouched


def test_stage_keeps_a_known_title_and_merges_authors() -> None:
    article = _article(f"{PROSE}\n\nBy Jane Doe", title="Feed title", authors=("JOHN ROE",))
    result = StripChrome()(article)
    assert result.title == "Feed title"
    assert result.authors == ("John Roe", "Jane Doe")


def test_stage_drops_when_nothing_is_left() -> None:
    result = StripChrome()(_article("Facebook\nTwitter\n\nADVERTISEMENT", title="T"))
    assert isinstance(result, Drop)
    assert (result.stage, result.reason) == ("chrome", "empty_after_chrome")


def test_stage_learns_templates_through_its_memory() -> None:
    stage = StripChrome(memory=InMemoryTemplateMemory())
    footer = "Example Daily, votre quotidien depuis 1902"
    results = [stage(replace(_article(f"{PROSE} {i}\n\n{footer}", title="T"), article_id=f"id{i}"))
               for i in range(3)]
    assert [r.removed_lines.get("template", 0) for r in results] == [0, 0, 1]


def test_explain_lists_each_removed_line_with_its_reason() -> None:
    article = _article(f"{PROSE}\n\nLire aussi : Une autre histoire\n\nFacebook", title="T")
    assert explain(article) == [("Lire aussi : Une autre histoire", "related_link"), ("Facebook", "share_buttons")]
    assert explain(_article("", title="T")) == []
