"""Template learning through the store: counts shared by workers, idempotent per article, bounded."""

from datetime import timedelta

from newswire.store import open_store
from processors.chrome.template import line_hash


def test_counts_distinct_articles_per_source(store):
    memory = store.template_lines
    footer = line_hash("Abonnez-vous à notre newsletter")
    assert memory.observe("site-a", "a1", [footer, line_hash("unique 1")])[footer] == 1
    assert memory.observe("site-a", "a1", [footer])[footer] == 1  # the same article again: no inflation
    assert memory.observe("site-a", "a2", [footer])[footer] == 2
    assert memory.observe("site-b", "b1", [footer])[footer] == 1  # other sources are counted apart
    assert memory.observe("site-a", "a3", [])== {}


def test_counts_are_capped_and_purged(store):
    memory = store.template_lines
    line = line_hash("Lire aussi")
    for i in range(20):
        counts = memory.observe("s", f"a{i}", [line])
    assert counts[line] == memory.cap
    assert store.count("template_lines") == memory.cap
    assert memory.purge(older_than=timedelta(seconds=-1)) == memory.cap
    assert store.count("template_lines") == 0


def test_two_connections_share_the_counts(store_url):
    first, second = open_store(store_url), open_store(store_url)
    try:
        line = line_hash("Partager sur Facebook")
        first.template_lines.observe("s", "a1", [line])
        assert second.template_lines.observe("s", "a2", [line])[line] == 2
    finally:
        first.close()
        second.close()


def test_purge_state_covers_dedupe_story_and_templates(store):
    from datetime import timedelta

    store.claim("content", "h", "a1", "a1")
    store.template_lines.observe("s", "a1", [line_hash("Lire aussi")])
    deleted = store.purge_state(timedelta(seconds=-1))
    assert deleted["dedupe_keys"] == 1 and deleted["template_lines"] == 1
    assert store.count("dedupe_keys") == 0
