"""The store behaves the same on SQLite and PostgreSQL: idempotent writes, claims, feed state."""

import threading
from datetime import timedelta

from newswire.records import CleanArticle, DuplicateArticle, utc_now
from newswire.store import FeedState, open_store


FETCHED = utc_now()


def _article(article_id="a1", text="Body text.", **overrides):
    data = dict(article_id=article_id, raw_id="r-" + article_id, url=f"https://e.com/{article_id}",
                canonical_url=f"https://e.com/{article_id}", source="s", fetched_at=FETCHED,
                processed_at=utc_now(), language="fr", language_confidence=0.99, text=text, content_hash="h",
                word_count=2, processor_version="test")
    data.update(overrides)
    return CleanArticle(**data)


def test_article_write_is_idempotent(store):
    first = store.write_article(_article())
    assert first.changed and first.needs_publish
    store.mark_published(["a1"])
    # The same result again (only processed_at differs): no change, nothing to publish.
    again = store.write_article(_article())
    assert not again.changed and not again.needs_publish
    # A changed result is written and must be published again.
    changed = store.write_article(_article(text="Edited body."))
    assert changed.changed and changed.needs_publish
    assert store.count("articles") == 1
    assert store.get_article("a1").text == "Edited body."


def test_unpublished_write_is_published_again(store):
    store.write_article(_article())
    # A crash between the store write and the broker's ack: the retry must publish.
    assert store.write_article(_article()).needs_publish


def test_duplicate_write_is_idempotent(store):
    dup = DuplicateArticle(raw_id="r2", article_id="a1", duplicate_of="a1", kind="url", similarity=1.0,
                           url="https://e.com/a1?utm_source=x", canonical_url="https://e.com/a1", source="s",
                           detected_at=utc_now(), processor_version="test")
    assert store.write_duplicate(dup).needs_publish
    store.mark_published(duplicate_raw_ids=["r2"])
    assert not store.write_duplicate(dup).needs_publish
    assert store.count("duplicates") == 1
    assert store.get_duplicate("r2").kind == "url"


def test_claims_have_one_winner_under_concurrency(store_url):
    """Eight threads with their own connections race for the same keys; each key gets exactly one owner."""
    winners: dict[str, set] = {}
    lock = threading.Lock()

    def race(worker: int) -> None:
        own = open_store(store_url)
        try:
            for key in range(20):
                owner, _ = own.claim("content", f"k{key}", f"w{worker}", f"a{worker}")
                with lock:
                    winners.setdefault(f"k{key}", set()).add(owner)
        finally:
            own.close()

    open_store(store_url).close()  # create the schema once
    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(owners) == 1 for owners in winners.values())
    assert len(winners) == 20


def test_feed_state_round_trip(store):
    assert store.feed_state("https://f/rss") is None
    when = utc_now() + timedelta(minutes=5)
    store.save_feed_state(FeedState(feed_url="https://f/rss", etag='"v1"', next_check_at=when, error_count=2))
    state = store.feed_state("https://f/rss")
    assert state.etag == '"v1"' and state.error_count == 2
    assert abs((state.next_check_at - when).total_seconds()) < 1


def test_seen_entries(store):
    assert store.unseen_entries("f", ["a", "b", "a"]) == ["a", "b"]
    store.mark_entries_seen("f", ["a"])
    store.mark_entries_seen("f", ["a"])  # idempotent
    assert store.unseen_entries("f", ["a", "b"]) == ["b"]
    assert store.unseen_entries("other-feed", ["a"]) == ["a"]


def test_sqlite_checkpoints_run_off_the_commit_path(tmp_path):
    """The writing connection no longer checkpoints at 1,000 pages; the background thread copies the log back."""
    import time

    from newswire.store.checkpoint import BACKSTOP_PAGES

    store = open_store(f"sqlite:///{tmp_path / 'wal.sqlite'}")
    try:
        assert store.db.query_one("PRAGMA wal_autocheckpoint")[0] == BACKSTOP_PAGES
        checkpointer = store.db._checkpointer
        assert checkpointer is not None
        for n in range(200):
            store.claim("content", f"key-{n}-" + "x" * 400, f"owner-{n}", f"a{n}")
        deadline = time.monotonic() + 10
        while checkpointer.pages_copied == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.runs > 0 and checkpointer.pages_copied > 0
    finally:
        store.close()
    assert store.db._checkpointer is None and not checkpointer._thread.is_alive()
    # An in-memory store has no log to checkpoint and starts no thread.
    memory = open_store("sqlite:///:memory:")
    assert memory.db._checkpointer is None
    memory.close()
