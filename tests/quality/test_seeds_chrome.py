"""Quality gate: the five seed texts, cleaned as plain text, lose exactly their listed chrome lines."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from newswire.records import RawArticle
from processors.article import article_from_raw
from processors.chrome.explain import explain
from processors.extraction.text import normalise_text
from processors.stages.chrome import StripChrome

pytestmark = pytest.mark.quality

SHARED = Path(os.environ.get("NEWSWIRE_SHARED") or Path(__file__).resolve().parents[2].parent / "shared")
SEEDS = SHARED / "fixtures" / "seeds"
EXPECTED = json.loads((SEEDS / "expected.json").read_text(encoding="utf-8"))


def _squash(line: str) -> str:
    return " ".join(line.split())


def _article(name: str):
    raw = RawArticle(raw_id=name, url=f"https://seeds.example/{name}", source="seeds",
                     fetched_at=datetime(2024, 7, 1, tzinfo=timezone.utc), content_type="text/plain",
                     body=(SEEDS / name).read_text(encoding="utf-8"), body_origin="file")
    article = article_from_raw(raw)
    return article.__class__(**{**article.__dict__, "text": normalise_text(raw.body)})


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed_chrome_removed_and_body_kept(name: str) -> None:
    expected = EXPECTED[name]
    article = _article(name)
    cleaned = StripChrome()(article)
    explained = explain(article)
    # The title line leaves the body to become `title`; the listed chrome is everything else removed.
    removed = [_squash(line) for line, reason in explained if reason != "title"]
    title_lines = [_squash(line) for line, reason in explained if reason == "title"]
    chrome = [_squash(line) for line in expected["chrome"]]
    body_lines = {_squash(line) for line in cleaned.text.split("\n") if line.strip()}
    source_lines = [_squash(line) for line in article.text.split("\n") if line.strip()]

    missed = [line for line in chrome if line not in removed]
    assert not missed, f"chrome left in the body: {missed}"
    # Every other line stays: a line listed as chrome n times is removed n times, no more.
    for line in source_lines:
        if line not in chrome and line not in title_lines:
            assert line in body_lines, f"article line removed: {line[:80]!r}"
    assert sorted(removed) == sorted(chrome)
    assert cleaned.title == expected["title"]
    assert list(cleaned.authors) == expected["authors"]
    assert title_lines == ([_squash(expected["title"])] if expected["title"] else [])
    assert sum(cleaned.removed_lines.values()) == len(chrome) + len(title_lines)


def test_all_31_seed_chrome_lines_are_accounted_for() -> None:
    total = sum(len(e["chrome"]) for e in EXPECTED.values())
    removed = sum(1 for name in EXPECTED for _, reason in explain(_article(name)) if reason != "title")
    print(f"\nseeds: {removed}/{total} chrome lines removed")
    assert total == 31 and removed == 31
