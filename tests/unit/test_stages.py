"""Stage unit tests over the seed texts and pages of the AEB dataset."""

import gzip
import json
import uuid
from dataclasses import replace

import pytest

from newswire.records import RawArticle, utc_now
from newswire.store import open_store
from processors.article import Drop, article_from_raw
from processors.extraction.fragment import fragment_text
from processors.extraction.text import content_hash, fold_for_hash
from processors.pipeline import build_pipeline
from processors.stages.dedupe import Dedupe
from processors.stages.extract import ExtractText
from processors.stages.language import DetectLanguage, detect_language
from tests.conftest import AEB, seed_texts


def _raw(body, content_type="text/plain", url=None, **kw):
    return RawArticle(raw_id=uuid.uuid4().hex, url=url or f"https://example.com/{uuid.uuid4().hex}",
                      source="test", fetched_at=utc_now(), content_type=content_type, body=body, **kw)


@pytest.mark.parametrize("name", sorted(seed_texts()))
def test_seed_language_is_french_with_confidence(name):
    article = ExtractText()(article_from_raw(_raw(seed_texts()[name])))
    result = DetectLanguage()(article)
    assert result.language == "fr"
    assert result.language_confidence > 0.9
    assert result.language_evidence == "text"


def test_language_is_deterministic():
    text = "Le gouvernement a annoncé mardi une réforme. The government announced a reform on Tuesday."
    assert len({detect_language(text) for _ in range(10)}) == 1


def test_short_text_uses_declared_language_or_und():
    short = article_from_raw(_raw("Brexit : accord"))
    assert DetectLanguage()(short).language == "und"
    declared = article_from_raw(_raw("Brexit : accord", language="fr-FR"))
    result = DetectLanguage()(declared)
    assert (result.language, result.language_evidence) == ("fr", "declared")


def _aeb_pages(count=4):
    truth = json.loads((AEB / "ground-truth.json").read_text())
    pages = sorted(AEB.glob("html/*.html.gz"))[:count]
    return [(gzip.decompress(p.read_bytes()).decode("utf-8", "replace"), truth[p.name.split(".")[0]])
            for p in pages]


@pytest.mark.parametrize("index", range(4))
def test_extract_html_pages_from_aeb(index):
    html, truth = _aeb_pages()[index]
    article = ExtractText()(article_from_raw(_raw(html, "text/html", url=truth.get("url") or None)))
    assert not isinstance(article, Drop)
    body = set(fold_for_hash(truth["articleBody"]).split())
    got = set(fold_for_hash(article.text).split())
    # Most of the true body's vocabulary is found, and the text is mostly body.
    assert len(body & got) / len(body) > 0.8
    assert len(body & got) / len(got) > 0.6


def test_extract_drops_pages_without_text():
    result = ExtractText()(article_from_raw(_raw("<html><body><nav>Home</nav></body></html>", "text/html")))
    assert isinstance(result, Drop) and result.reason in ("no_main_text", "too_short")


def test_feed_content_is_converted_whole():
    html = "<p>First paragraph.</p><p>Second <b>bold</b> one.<br>Line two.</p><script>x()</script>"
    assert fragment_text(html) == "First paragraph.\n\nSecond bold one.\nLine two."
    article = ExtractText()(article_from_raw(_raw(html, "text/html", body_origin="feed_content")))
    assert article.text.startswith("First paragraph.")


def test_content_hash_folds_case_spacing_and_punctuation():
    assert content_hash("Hello,  World!\n\nBye.") == content_hash("hello world — bye")
    assert content_hash("Hello world") != content_hash("Hello there world")


@pytest.fixture
def memory_store():
    store = open_store("sqlite:///:memory:")
    yield store
    store.close()


def test_dedupe_url_content_and_replay(memory_store):
    dedupe = Dedupe(memory_store)
    text = "Un texte d'article assez long pour compter."
    first = replace(article_from_raw(_raw(text, url="https://e.com/a")), text=text)
    assert dedupe(first).duplicate is None
    # A redelivery of the same raw record is not a duplicate of itself.
    assert dedupe(first).duplicate is None
    # The same URL with tracking parameters, published again: a URL duplicate.
    again = replace(article_from_raw(_raw(text, url="https://e.com/a?utm_source=x")), text=text)
    assert dedupe(again).duplicate.kind == "url"
    # The same text under another URL: a content duplicate of the first article.
    copy = replace(article_from_raw(_raw(text.upper(), url="https://mirror.org/b")), text=text.upper())
    result = dedupe(copy)
    assert result.duplicate.kind == "content" and result.duplicate.article_id == first.article_id


def test_pipeline_order_is_explicit(memory_store):
    assert build_pipeline(memory_store).names[:4] == ["extract", "chrome", "language", "topics"]
    assert build_pipeline(memory_store).names[-2:] == ["dedupe", "story"]
