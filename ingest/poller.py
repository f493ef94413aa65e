"""The feed poller: a scheduler feeds due feeds to a bounded queue served by a fixed pool of workers.

Each poll: conditional GET with the feed's validators → parse → keep entries not yet published → publish raw
records → wait for the broker's acks → remember the acked entries and the feed's validators and next check. A
restart therefore publishes nothing twice, and an entry whose publish was not acknowledged is sent again by the
next poll. Errors back off exponentially with jitter, capped, and never disable a feed.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Sequence

from newswire.metrics import FEED_ENTRIES, FEED_LAST_SUCCESS, FEED_POLL_SECONDS, FEED_POLLS, FETCH_BYTES
from newswire.records import FeedEntryMeta, FetchMeta, RawArticle, utc_now
from newswire.service import Health
from newswire.settings import PollerSettings
from newswire.store import FeedState, Store
from ingest.feeds import FeedEntry, FeedParseError, ParsedFeed, parse_feed
from ingest.http import FetchError, Fetcher, FetchResult
from ingest.publish import RawPublisher
from ingest.sources import FeedSource

__all__ = ["PollResult", "FeedPoller", "entry_to_raw"]

log = logging.getLogger(__name__)

_FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True)
class PollResult:
    feed: str
    result: str  # new_content, no_new_entries, not_modified, http_error, parse_error, timeout, fetch_error
    new_entries: int = 0
    published: int = 0
    detail: str = ""


def entry_to_raw(feed: FeedSource, parsed: ParsedFeed, entry: FeedEntry, fetch: FetchResult) -> RawArticle | None:
    """The raw record for a feed entry, or None when the entry has no link to identify the article."""
    if not entry.link or not entry.link.startswith(("http://", "https://")):
        return None
    full = entry.has_full_content
    body = (entry.content if full else entry.summary or entry.content) or ""
    return RawArticle(
        raw_id=uuid.uuid4().hex,
        url=entry.link,
        source=feed.name,
        fetched_at=utc_now(),
        content_type="text/plain" if full and entry.content_type == "text/plain" else "text/html",
        body=body,
        body_origin="feed_content" if full else "feed_summary",
        title=entry.title,
        authors=list(entry.authors),
        published_at=entry.published_at,
        language=feed.language or parsed.language,
        feed=FeedEntryMeta(feed_url=feed.url, entry_id=entry.entry_id, title=entry.title, summary=entry.summary,
                           authors=list(entry.authors), tags=list(entry.tags), published_at=entry.published_at,
                           language=parsed.language),
        fetch=FetchMeta(status=fetch.status, final_url=fetch.final_url, content_type=fetch.headers.get("content-type"),
                        etag=fetch.headers.get("etag"), last_modified=fetch.headers.get("last-modified"),
                        bytes=fetch.wire_bytes, elapsed_seconds=round(fetch.elapsed_seconds, 4)),
    )


class FeedPoller:
    """Polls a list of feeds on schedule; `poll_once()` for one pass, `run()` as a service."""

    def __init__(self, *, feeds: Sequence[FeedSource], store: Store, fetcher: Fetcher, publisher: RawPublisher,
                 options: PollerSettings, health: Health | None = None,
                 stop: threading.Event | None = None) -> None:
        self.feeds = list(feeds)
        self.store = store
        self.fetcher = fetcher
        self.publisher = publisher
        self.options = options
        self.health = health or Health("poller")
        self.stop = stop or threading.Event()

    # -- one feed -------------------------------------------------------------------------------------------
    def poll_feed(self, feed: FeedSource) -> PollResult:
        """Fetch, parse and publish one feed's new entries; updates its state."""
        started = time.perf_counter()
        state = self.store.feed_state(feed.url) or FeedState(feed_url=feed.url)
        try:
            result, state = self._poll(feed, state)
        except FetchError as exc:
            kind = "http_error" if exc.kind == "http_error" else ("timeout" if exc.kind == "timeout" else
                                                                  "fetch_error")
            result = PollResult(feed.name, kind, detail=str(exc))
            state = self._after_error(feed, state, str(exc), exc.retry_after)
        except FeedParseError as exc:
            result = PollResult(feed.name, "parse_error", detail=str(exc))
            state = self._after_error(feed, state, str(exc), None)
        self.store.save_feed_state(state)
        FEED_POLLS.labels(result.result).inc()
        FEED_POLL_SECONDS.observe(time.perf_counter() - started)
        level = logging.WARNING if result.result in ("http_error", "parse_error", "timeout", "fetch_error") \
            else logging.INFO
        log.log(level, "polled %s: %s, %d new, %d published %s", feed.name, result.result, result.new_entries,
                result.published, result.detail, extra={"feed": feed.name})
        return result

    def _poll(self, feed: FeedSource, state: FeedState) -> tuple[PollResult, FeedState]:
        fetch = self.fetcher.get(feed.url, etag=state.etag, last_modified=state.last_modified, accept=_FEED_ACCEPT)
        FETCH_BYTES.labels("feed").inc(fetch.wire_bytes)
        if fetch.not_modified:
            return PollResult(feed.name, "not_modified"), self._after_success(feed, state, fetch, None)
        parsed = parse_feed(fetch.body, feed.url, fetch.headers, self.options.max_entries_per_fetch)
        by_id = {e.entry_id: e for e in parsed.entries}
        unseen = self.store.unseen_entries(feed.url, list(by_id))
        FEED_ENTRIES.labels("seen").inc(len(by_id) - len(unseen))
        FEED_ENTRIES.labels("new").inc(len(unseen))
        records: list[tuple[str, RawArticle]] = []
        skipped: list[str] = []
        for entry_id in unseen:
            raw = entry_to_raw(feed, parsed, by_id[entry_id], fetch)
            if raw is None:
                skipped.append(entry_id)  # no usable link: nothing to publish, ever
            else:
                records.append((entry_id, raw))
        acked = {r.raw_id for r in self.publisher.publish([r for _, r in records])} if records else set()
        done = [entry_id for entry_id, raw in records if raw.raw_id in acked] + skipped
        if done:
            self.store.mark_entries_seen(feed.url, done)
        if len(acked) < len(records):
            raise FetchError("publish", f"{len(records) - len(acked)} of {len(records)} entries not acknowledged "
                                        "by the broker; they will be sent again")
        result = PollResult(feed.name, "new_content" if records else "no_new_entries",
                            new_entries=len(unseen), published=len(acked))
        return result, self._after_success(feed, state, fetch, parsed)

    def _interval(self, feed: FeedSource, parsed: ParsedFeed | None) -> float:
        interval = feed.interval_seconds or self.options.interval_seconds
        if parsed is not None and parsed.ttl_minutes:
            interval = max(interval, parsed.ttl_minutes * 60.0)
        return min(max(interval, self.options.min_interval_seconds), self.options.max_interval_seconds)

    def _after_success(self, feed: FeedSource, state: FeedState, fetch: FetchResult,
                       parsed: ParsedFeed | None) -> FeedState:
        now = utc_now()
        interval = self._interval(feed, parsed)
        FEED_LAST_SUCCESS.labels(feed.name).set(now.timestamp())
        return replace(state, etag=fetch.headers.get("etag") or state.etag,
                       last_modified=fetch.headers.get("last-modified") or state.last_modified,
                       next_check_at=now + timedelta(seconds=interval), interval_seconds=interval, error_count=0,
                       last_error=None, last_success_at=now)

    def _after_error(self, feed: FeedSource, state: FeedState, error: str, retry_after: float | None) -> FeedState:
        errors = state.error_count + 1
        base = min(self.options.min_interval_seconds * 2 ** min(errors, 16), self.options.max_interval_seconds)
        delay = base * random.uniform(0.5, 1.0)  # jitter keeps many failing feeds from retrying in step
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.options.max_interval_seconds))
        return replace(state, error_count=errors, last_error=error[:1000],
                       next_check_at=utc_now() + timedelta(seconds=delay))

    # -- scheduling -----------------------------------------------------------------------------------------
    def poll_once(self) -> list[PollResult]:
        """Poll every feed once, regardless of schedule, with the worker pool."""
        return self._run_pool(lambda: list(self.feeds), once=True)

    def run(self) -> None:
        """Poll feeds when due until stopped; SIGTERM lets in-flight polls finish."""
        self._run_pool(self._due_feeds, once=False)

    def _due_feeds(self) -> list[FeedSource]:
        now = datetime.now(timezone.utc)
        due = []
        for feed in self.feeds:
            state = self.store.feed_state(feed.url)
            if state is None or state.next_check_at is None or state.next_check_at <= now:
                due.append(feed)
        return due

    def _run_pool(self, due, once: bool) -> list[PollResult]:
        jobs: queue.Queue[FeedSource | None] = queue.Queue(maxsize=max(1, self.options.workers * 2))
        results: list[PollResult] = []
        in_flight: set[str] = set()
        lock = threading.Lock()

        def work() -> None:
            while True:
                feed = jobs.get()
                if feed is None:
                    return
                try:
                    outcome = self.poll_feed(feed)
                except Exception:  # a bug must not kill the worker: log it, back the feed off, keep going
                    log.exception("unexpected error polling %s", feed.name, extra={"feed": feed.name})
                    outcome = PollResult(feed.name, "fetch_error", detail="unexpected error")
                    state = self.store.feed_state(feed.url) or FeedState(feed_url=feed.url)
                    self.store.save_feed_state(self._after_error(feed, state, "unexpected error", None))
                with lock:
                    results.append(outcome)
                    in_flight.discard(feed.url)

        threads = [threading.Thread(target=work, name=f"poller-{i}", daemon=True)
                   for i in range(self.options.workers)]
        for thread in threads:
            thread.start()
        self.health.set_ready(True)
        try:
            while not self.stop.is_set():
                self.health.beat()
                for feed in due():
                    with lock:
                        if feed.url in in_flight:
                            continue
                        in_flight.add(feed.url)
                    while not self.stop.is_set():
                        try:
                            jobs.put(feed, timeout=1.0)
                            break
                        except queue.Full:
                            self.health.beat()
                if once:
                    break
                self.stop.wait(1.0)
        finally:
            for _ in threads:
                jobs.put(None)
            for thread in threads:
                while thread.is_alive():
                    self.health.beat()
                    thread.join(timeout=1.0)
        return results
