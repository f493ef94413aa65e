"""The four dedupe levels over constructed variants of the seed texts, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
import uuid
import zlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from datasketch import MinHash

from newswire.records import RawArticle, utc_now
from newswire.store import open_store
from newswire.store.dedupe_index import purge_dedupe_state
from newswire.store.schema import ddl
from processors.article import article_from_raw
from processors.extraction.text import content_hash, fold_for_hash
from processors.similarity.minhash import (NearDuplicateOptions, band_buckets, estimated_jaccard, shingles, sign,
                                           sign_folded)
from processors.stages.dedupe import Dedupe
from processors.stages.extract import ExtractText
from processors.stages.story import AssignStory
from tests.conftest import seed_texts

SEEDS = list(seed_texts().values())
CHROME_TOP = ["Nouvelles Du Monde", "Partager sur Facebook", "Partager sur Twitter", "Abonnez-vous à notre newsletter"]
CHROME_BOTTOM = ["Lire aussi : Les dernières nouvelles du front", "Publicité", "Commentaires (12)",
                 "Article suivant : La Bourse de Paris termine en hausse"]


def _article(text: str, url: str | None = None, published_at: datetime | None = None, language: str = "fr"):
    url = url or f"https://site{uuid.uuid4().hex[:6]}.example/{uuid.uuid4().hex}"
    raw = RawArticle(raw_id=uuid.uuid4().hex, url=url, source="test", fetched_at=utc_now(), content_type="text/plain", body=text,
                     published_at=published_at)
    return replace(article_from_raw(raw), text=text, language=language)


def with_chrome(text: str) -> str:
    return "\n\n".join(CHROME_TOP + [text] + CHROME_BOTTOM)


def change_words(text: str, share: float, seed: int = 7) -> str:
    """`share` of the words, at random places, replaced by other words."""
    rng = random.Random(seed)
    words = text.split()
    for i in rng.sample(range(len(words)), int(len(words) * share)):
        words[i] = rng.choice(["lundi", "officiellement", "plusieurs", "selon", "environ", "notamment"])
    return " ".join(words)


@pytest.fixture
def dedupe(store):
    return Dedupe(store, store.near_index)


# -- level 3 signatures: the store holds them, so they must never change for a text ---------------------------
def _datasketch_values(text: str, options: NearDuplicateOptions) -> np.ndarray:
    """The signature as datasketch computes it, one shingle string at a time (how it was signed before)."""
    tokens = fold_for_hash(text).split()
    words = options.shingle_words
    grams = ({" ".join(tokens[i:i + words]).encode() for i in range(len(tokens) - words + 1)}
             if len(tokens) >= words else {" ".join(tokens).encode()} if tokens else set())
    minhash = MinHash(num_perm=options.num_perm, seed=options.seed, hashfunc=zlib.crc32, scheme="affine32")
    minhash.update_batch(grams)
    return minhash.hashvalues.astype(np.uint32)


@pytest.mark.parametrize("options", [NearDuplicateOptions(),
                                     NearDuplicateOptions(shingle_words=3, num_perm=64, bands=16, seed=7,
                                                          min_shingles=0)])
def test_signature_values_are_datasketchs(options):
    texts = SEEDS + [with_chrome(SEEDS[1]), change_words(SEEDS[2], 0.3), "Un deux", "", "ça — l’été_2024 ÉTÉ !"]
    for text in texts:
        signature = sign(text, options)
        if signature is None:
            assert len(shingles(text, options.shingle_words)) < options.min_shingles
            continue
        assert signature.values.dtype == np.uint32
        assert signature.values.tobytes() == _datasketch_values(text, options).tobytes()
        assert signature.buckets == band_buckets(signature.values, options.bands, options.rows)
        folded = sign_folded(fold_for_hash(text), options)
        assert (folded.to_bytes(), folded.buckets) == (signature.to_bytes(), signature.buckets)


def test_signature_of_a_seed_is_pinned():
    signature = sign(SEEDS[0])  # values from the index's first version: a change here orphans every stored entry
    assert [int(v) for v in signature.values[:6]] == [8805290, 4901319, 588807, 2592295, 292580, 570803]
    assert signature.buckets[:3] == (-9206679479930516400, -8723339077994179165, -8612412662277814608)


def test_stage_digest_is_the_content_hash():
    class Unique:
        def decide(self, raw_id, article_id, content_hash, near):
            self.seen = (content_hash, near)
            return None

    decisions = Unique()
    article = Dedupe(decisions, decisions)(_article(SEEDS[3]))
    assert article.content_hash == content_hash(SEEDS[3]) == decisions.seen[0]
    assert decisions.seen[1].signature == sign(SEEDS[3]).to_bytes()


# -- level 3 measure ----------------------------------------------------------------------------------------
def test_signature_estimates_jaccard_of_bigrams():
    a, b = SEEDS[0], change_words(SEEDS[0], 0.10)
    exact = len(shingles(a, 2) & shingles(b, 2)) / len(shingles(a, 2) | shingles(b, 2))
    estimate = estimated_jaccard(sign(a).values, sign(b).values)
    print(f"exact {exact:.3f} estimate {estimate:.3f}")
    assert abs(exact - estimate) < 0.1
    assert sign("trop court pour une signature") is None


# -- levels 1-3 through the stage ----------------------------------------------------------------------------
def test_same_text_with_different_chrome_is_a_near_duplicate(dedupe):
    first = _article(SEEDS[2])
    assert dedupe(first).duplicate is None
    result = dedupe(_article(with_chrome(SEEDS[2])))
    assert result.duplicate.kind in ("content", "near")
    assert result.duplicate.article_id == first.article_id
    print(f"chrome variant similarity {result.duplicate.similarity:.3f}")


def test_ten_percent_of_words_changed_is_a_near_duplicate(dedupe):
    for seed_text in SEEDS:
        first = _article(seed_text)
        assert dedupe(first).duplicate is None
        result = dedupe(_article(change_words(seed_text, 0.10)))
        assert result.duplicate is not None and result.duplicate.kind == "near", "10 % edit not found"
        assert result.duplicate.article_id == first.article_id
        assert 0.5 <= result.duplicate.similarity < 1.0


def test_different_seeds_are_not_duplicates(dedupe):
    # 000–003 tell one story in different words: related, but not copies of each other.
    assert all(dedupe(_article(text)).duplicate is None for text in SEEDS)


def test_url_variants_are_url_duplicates(dedupe):
    first = _article(SEEDS[0], url="https://www.lemonde.fr/international/article/2022/09/06/russie.html")
    assert dedupe(first).duplicate is None
    for variant in ("https://WWW.lemonde.fr:443/international/article/2022/09/06/russie.html?utm_source=tw&fbclid=1",
                    "https://www.lemonde.fr/international/article/2022/09/06/russie.html/#comments",
                    "https://www.lemonde.fr/international/article/2022/09/06/russie.html?gclid=x&amp=1",
                    "https://www-lemonde-fr.cdn.ampproject.org/c/s/www.lemonde.fr/international/article/2022/09/06/"
                    "russie.html"):
        result = dedupe(_article(SEEDS[0], url=variant))
        assert result.duplicate is not None and result.duplicate.kind == "url", variant
        assert result.duplicate.article_id == first.article_id


def test_amp_page_declaring_its_canonical_is_a_url_duplicate(dedupe):
    body = "\n".join(f"<p>{p}</p>" for p in SEEDS[0].split("\n\n"))
    canonical = "https://www.lemonde.fr/international/article/2022/09/06/russie.html"
    page = (f'<html><head><title>Russie</title><link rel="canonical" href="{canonical}"></head>'
            f"<body><article>{body}</article></body></html>")
    first = _article(SEEDS[0], url=canonical)
    assert dedupe(first).duplicate is None
    for amp_url in ("https://amp.lemonde.fr/international/article/2022/09/06/russie.html",
                    "https://www.lemonde.fr/amp/international/article/2022/09/06/russie.html",
                    "https://m.lemonde.fr/international/article/2022/09/06/russie.html"):
        raw = RawArticle(raw_id=uuid.uuid4().hex, url=amp_url, source="amp", fetched_at=utc_now(),
                         content_type="text/html", body=page)
        extracted = ExtractText()(article_from_raw(raw))
        assert extracted.canonical_url == canonical
        result = dedupe(extracted)
        assert result.duplicate.kind == "url" and result.duplicate.article_id == first.article_id


def test_redecision_is_stable(dedupe, store):
    original = _article(SEEDS[1])
    copy = _article(change_words(SEEDS[1], 0.05))
    assert dedupe(original).duplicate is None
    first = dedupe(copy).duplicate
    assert first.kind == "near"
    # A replay of both records gives the same decisions and writes nothing new to the index.
    rows = store.count("near_buckets"), store.count("near_signatures")
    assert dedupe(original).duplicate is None
    assert dedupe(copy).duplicate == first
    assert (store.count("near_buckets"), store.count("near_signatures")) == rows


def test_concurrent_near_duplicates_yield_one_unique(store_url):
    """Pairs of near duplicates decided at the same moment by different connections: one unique per pair."""
    pairs = [(SEEDS[i] + f"\n\nRéférence {i}.", change_words(SEEDS[i], 0.05, seed=i) + f"\n\nRéférence {i}.")
             for i in range(5)]
    stores = [open_store(store_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    decisions: dict[int, list] = {i: [None, None] for i in range(len(pairs))}

    def work(side: int) -> None:
        stage = Dedupe(stores[side], stores[side].near_index)
        for i, pair in enumerate(pairs):
            barrier.wait()
            decisions[i][side] = stage(_article(pair[side])).duplicate
    try:
        # Each pair is raced in its own round, after earlier rounds filled the index with other stories.
        threads = [threading.Thread(target=work, args=(side,)) for side in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        for s in stores:
            s.close()
    for i, (a, b) in decisions.items():
        assert (a is None) != (b is None), f"pair {i}: {a} / {b}"


def test_purge_forgets_old_entries(dedupe, store):
    first = _article(SEEDS[3])
    assert dedupe(first).duplicate is None
    assert store.count("near_buckets") > 0
    assert sum(purge_dedupe_state(store.db, utc_now() - timedelta(days=1)).values()) == 0
    removed = purge_dedupe_state(store.db, utc_now() + timedelta(seconds=1))
    assert removed["near_buckets"] > 0 and removed["near_signatures"] == 1
    assert store.count("near_buckets") == 0
    # A copy arriving after the retention window is a new article.
    assert dedupe(_article(change_words(SEEDS[3], 0.05))).duplicate is None


# Tables that hold records or feed state, not dedupe/story/template state: the purge leaves them alone.
NOT_PURGED = {"schema_meta", "articles", "duplicates", "feed_state", "feed_entries"}


def test_purge_covers_every_state_table(store):
    """A table added to the schema is either purged or listed as a record table: state cannot grow forever."""
    tables = {statement.split()[5] for statement in ddl(store.dialect) if statement.startswith("CREATE TABLE")}
    assert set(store.purge_state(timedelta(days=30))) == tables - NOT_PURGED


def test_purge_deletes_only_state_older_than_the_window(dedupe, store):
    """Every dedupe and story table loses the rows of an old article and keeps those of a recent one."""
    stories = AssignStory(store.story_index)
    old, old_copy = _article(SEEDS[0], published_at=SEED_DATES[0]), _article(SEEDS[0].upper())
    assert stories(dedupe(old)).story_id == old.article_id
    assert dedupe(old_copy).duplicate.kind == "content"
    cutoff = utc_now()
    recent = _article(SEEDS[4], published_at=SEED_DATES[4])
    assert stories(dedupe(recent)).story_id == recent.article_id
    tables = ("dedupe_keys", "near_buckets", "near_signatures", "story_articles", "story_features", "story_locks")
    before = {table: store.count(table) for table in tables}
    assert all(before.values()), before

    removed = purge_dedupe_state(store.db, cutoff)
    after = {table: store.count(table) for table in tables}
    assert all(removed[t] > 0 and after[t] == before[t] - removed[t] and after[t] > 0 for t in tables), \
        (removed, after)
    assert {r[0] for r in store.db.query("SELECT DISTINCT article_id FROM near_signatures")} == {recent.article_id}
    assert {r[0] for r in store.db.query("SELECT DISTINCT article_id FROM story_articles")} == {recent.article_id}
    assert {r[0] for r in store.db.query("SELECT DISTINCT article_id FROM dedupe_keys")} == {recent.article_id}
    # Past the window, the old article's copy and its URL are new again; the recent one is still known.
    assert dedupe(_article(SEEDS[0].upper())).duplicate is None
    assert dedupe(_article(SEEDS[4], url=recent.raw.url)).duplicate.kind == "url"


# -- level 4 ------------------------------------------------------------------------------------------------
SEED_DATES = [datetime(2022, 9, 6, 9, tzinfo=timezone.utc), datetime(2022, 9, 6, 18, tzinfo=timezone.utc),
              datetime(2022, 9, 7, 8, tzinfo=timezone.utc), datetime(2022, 9, 8, 20, tzinfo=timezone.utc),
              datetime(2024, 6, 17, 7, tzinfo=timezone.utc)]


def test_seed_stories(store):
    stage = AssignStory(store.story_index)
    stories = [stage(_article(text, published_at=when)).story_id for text, when in zip(SEEDS, SEED_DATES)]
    assert len(set(stories[:4])) == 1, stories
    assert stories[4] != stories[0]
    # Re-processing gives the same story.
    again = _article(SEEDS[2], published_at=SEED_DATES[2])
    assert stage(again).story_id == stories[0]


def test_story_needs_the_time_window(store):
    stage = AssignStory(store.story_index)
    first = stage(_article(SEEDS[0], published_at=SEED_DATES[0])).story_id
    late = stage(_article(SEEDS[1], published_at=SEED_DATES[0] + timedelta(days=10))).story_id
    assert late != first


def test_duplicates_get_no_story(store):
    stage = AssignStory(store.story_index)
    article = _article(SEEDS[0])
    from processors.article import DuplicateOf

    assert stage(replace(article, duplicate=DuplicateOf("near", "x", 0.9))).story_id is None
