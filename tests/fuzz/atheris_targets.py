"""Coverage-guided fuzzing with atheris (libFuzzer) of the three untrusted-input entry points (reliability.md S15).

Not run by pytest (no `test_` prefix). One target per run, at length, as docs/fuzzing.md shows:

    .venv/bin/python tests/fuzz/atheris_targets.py feed    -timeout=2 -rss_limit_mb=512 -max_total_time=3600 corpus/feed
    .venv/bin/python tests/fuzz/atheris_targets.py extract -timeout=2 -rss_limit_mb=512 -max_total_time=3600 corpus/extract
    .venv/bin/python tests/fuzz/atheris_targets.py url     -timeout=2 -rss_limit_mb=512 -max_total_time=3600 corpus/url

Only the documented outcomes are allowed (FeedParseError; an Article, a Drop or BudgetExceeded; ValueError from
canonical_url); anything else propagates and libFuzzer saves the input as a crash: add it to
tests/fixtures/bad_inputs/corpus.py and fix the code.
"""

from __future__ import annotations

import sys
import uuid

import atheris

from ingest.feeds import FeedParseError, parse_feed
from newswire.records import RawArticle, utc_now
from newswire.urls import canonical_url
from processors.article import article_from_raw
from processors.budget import Bounded, BudgetExceeded, RecordLimits
from processors.chrome.cleaner import strip_chrome
from processors.stages.extract import ExtractText

# Time is left to libFuzzer's -timeout (the deadline's SIGALRM would collide with it); shape limits stay on.
_EXTRACT = Bounded(ExtractText(), RecordLimits(time_seconds=0), inspect_input=True)


def fuzz_feed(data: bytes) -> None:
    try:
        parse_feed(data, "https://fuzz.example/feed")
    except FeedParseError:
        return


def fuzz_extract(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    origin = "feed_content" if provider.ConsumeBool() else "page"
    html = provider.ConsumeUnicodeNoSurrogates(len(data))
    raw = RawArticle(raw_id=uuid.uuid4().hex, url="https://fuzz.example/a", source="fuzz", fetched_at=utc_now(),
                     content_type="text/html", body=html, body_origin=origin)
    try:
        result = _EXTRACT(article_from_raw(raw))
    except BudgetExceeded:
        return
    text = getattr(result, "text", None)
    if text:
        strip_chrome(text, title=None, site_name=None, source="fuzz", authors=(), article_id="f" * 32, memory=None)


def fuzz_url(data: bytes) -> None:
    url = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    try:
        once = canonical_url(url)
    except ValueError:
        return
    if canonical_url(once) != once:
        raise AssertionError(f"canonical_url is not idempotent: {url!r} -> {once!r} -> {canonical_url(once)!r}")


TARGETS = {"feed": fuzz_feed, "extract": fuzz_extract, "url": fuzz_url}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        raise SystemExit(f"usage: {sys.argv[0]} {{{'|'.join(TARGETS)}}} [libFuzzer options] [corpus dir]")
    target = TARGETS[sys.argv.pop(1)]
    # Everything loaded, ours and the libraries' (feedparser, trafilatura, w3lib...): instrument_imports() missed
    # modules the project had already imported through one another.
    atheris.instrument_all()
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
