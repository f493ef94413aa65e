"""The feed poller: a scheduler feeds due sources to a bounded queue served by a fixed pool of workers.

Each check: conditional GET with the source's validators → parse (RSS/Atom, or a sitemap and its children) →
keep entries not yet published → publish full-text entries as raw records and the others as links for the
scraper → wait for the broker's acks → remember the acked entries and the source's validators and next check
(`ingest.schedule`). A restart therefore publishes nothing twice, and an entry whose publish was not acknowledged
is sent again by the next check. Errors back off exponentially with jitter, capped, and never disable a source.
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
from typing import Callable, Sequence

from newswire.metrics import (FEED_ENTRIES, FEED_INTERVAL, FEED_LAST_SUCCESS, FEED_POLL_SECONDS, FEED_POLLS,
                              FEEDS_IN_BACKOFF, FETCH_BYTES)
from newswire.records import ArticleLink, FeedEntryMeta, FetchMeta, RawArticle, utc_now
from newswire.service import Health
from newswire.settings import PollerSettings
from newswire.store import FeedState, Store
from ingest.feeds import FeedEntry, FeedParseError, ParsedFeed, parse_feed
from ingest.http import FetchError, Fetcher, FetchResult, gunzip_capped
from ingest.publish import LinkPublisher, RawPublisher
from ingest.schedule import error_delay, success_interval
from ingest.sitemaps import parse_sitemap
from ingest.sources import FeedSource

__all__ = ["PollResult", "FeedPoller", "entry_to_raw", "entry_to_link"]

log = logging.getLogger(__name__)

_FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
_SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, */*;q=0.5"
_FAILED = ("http_error", "parse_error", "timeout", "refused", "fetch_error", "publish_error")


@dataclass(frozen=True)
class PollResult:
    feed: str
    # new_content, no_new_entries, not_modified, http_error, parse_error, timeout, refused, fetch_error,
    # publish_error (the broker did not acknowledge every record: the feed's state is not advanced)
    result: str
    new_entries: int = 0
    published: int = 0
    links: int = 0
    detail: str = ""


def _entry_meta(feed: FeedSource, parsed: ParsedFeed, entry: FeedEntry) -> FeedEntryMeta:
    return FeedEntryMeta(feed_url=feed.url, entry_id=entry.entry_id, title=entry.title, summary=entry.summary,
                         authors=list(entry.authors), tags=list(entry.tags), published_at=entry.published_at,
                         language=entry.language or parsed.language)


def _has_link(entry: FeedEntry) -> bool:
    return bool(entry.link) and entry.link.startswith(("http://", "https://"))


def entry_to_raw(feed: FeedSource, parsed: ParsedFeed, entry: FeedEntry, fetch: FetchResult) -> RawArticle | None:
    """The raw record for a feed entry, or None when the entry has no link to identify the article."""
    if not _has_link(entry):
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
        language=feed.language or entry.language or parsed.language,
        feed=_entry_meta(feed, parsed, entry),
        fetch=FetchMeta(status=fetch.status, final_url=fetch.final_url, content_type=fetch.headers.get("content-type"),
                        etag=fetch.headers.get("etag"), last_modified=fetch.headers.get("last-modified"),
                        bytes=fetch.wire_bytes, elapsed_seconds=round(fetch.elapsed_seconds, 4)),
    )


def entry_to_link(feed: FeedSource, parsed: ParsedFeed, entry: FeedEntry) -> ArticleLink | None:
    """The link record for an entry to scrape, or None when the entry has no http(s) link."""
    if not _has_link(entry):
        return None
    return ArticleLink(link_id=uuid.uuid4().hex, url=entry.link, source=feed.name, discovered_at=utc_now(),
                       language=feed.language or entry.language or parsed.language,
                       feed=_entry_meta(feed, parsed, entry))


def _as_raw(feed: FeedSource, entry: FeedEntry) -> bool:
    """Does this entry go straight to the raw topic (True) or to the scraper as a link (False)?"""
    if feed.kind == "sitemap" or feed.publish == "links":
        return False
    return feed.publish == "raw" or entry.has_full_content


class FeedPoller:
    """Polls a list of sources on schedule; `poll_once()` for one pass, `run()` as a service."""

    def __init__(self, *, feeds: Sequence[FeedSource], store: Store, fetcher: Fetcher, publisher: RawPublisher,
                 links: LinkPublisher | None = None, options: PollerSettings, health: Health | None = None,
                 stop: threading.Event | None = None, clock: Callable[[], datetime] = utc_now) -> None:
        self.feeds = list(feeds)
        self.store = store
        self.fetcher = fetcher
        self.publisher = publisher
        self.links = links
        self.options = options
        self.health = health or Health("poller")
        self.stop = stop or threading.Event()
        self.clock = clock
        self._next_check: dict[str, datetime | None] = {}
        self._failing: set[str] = set()
        self._lock = threading.Lock()

    # -- one source -----------------------------------------------------------------------------------------
    def poll_feed(self, feed: FeedSource) -> PollResult:
        """Fetch, parse and publish one source's new entries; updates and saves its state."""
        started = time.perf_counter()
        state = self.store.feed_state(feed.url) or FeedState(feed_url=feed.url)
        try:
            result, state = self._poll(feed, state)
        except FetchError as exc:
            kind = {"http_error": "http_error", "server_error": "http_error", "rate_limited": "http_error",
                    "timeout": "timeout", "refused": "refused", "downgrade": "refused",
                    "publish": "publish_error"}.get(exc.kind, "fetch_error")
            result = PollResult(feed.name, kind, detail=str(exc))
            state = self._after_error(state, str(exc), exc.retry_after)
        except FeedParseError as exc:
            result = PollResult(feed.name, "parse_error", detail=str(exc))
            state = self._after_error(state, str(exc), None)
        self.store.save_feed_state(state)
        self._remember(state)
        FEED_POLLS.labels(result.result).inc()
        FEED_POLL_SECONDS.observe(time.perf_counter() - started)
        level = logging.WARNING if result.result in _FAILED else logging.INFO
        log.log(level, "polled %s: %s, %d new, %d raw, %d links %s", feed.name, result.result, result.new_entries,
                result.published, result.links, result.detail, extra={"feed": feed.name})
        return result

    def _fetch(self, feed: FeedSource, url: str, state: FeedState | None) -> FetchResult:
        target = "sitemap" if feed.kind == "sitemap" else "feed"
        fetch = self.fetcher.get(url, etag=state.etag if state else None,
                                 last_modified=state.last_modified if state else None,
                                 accept=_SITEMAP_ACCEPT if feed.kind == "sitemap" else _FEED_ACCEPT, target=target)
        FETCH_BYTES.labels(target).inc(fetch.wire_bytes)
        return fetch

    def _parse(self, feed: FeedSource, fetch: FetchResult) -> ParsedFeed:
        if feed.kind == "feed":
            return parse_feed(fetch.body, fetch.final_url, fetch.headers, self.options.max_entries_per_fetch)
        body = fetch.body
        if body[:2] == b"\x1f\x8b":  # sitemap.xml.gz served as a file, not as Content-Encoding
            body = gunzip_capped(body, self.fetcher.settings.max_bytes)
        return parse_sitemap(body, fetch.final_url, self.options.max_entries_per_fetch)

    def _read_children(self, feed: FeedSource, index: ParsedFeed) -> ParsedFeed:
        entries: list[FeedEntry] = []
        for url in index.child_sitemaps[:self.options.max_child_sitemaps]:
            try:
                child = self._parse(feed, self._fetch(feed, url, None))
            except (FetchError, FeedParseError) as exc:
                log.warning("child sitemap skipped: %s", exc, extra={"feed": feed.name, "url": url})
                continue
            entries.extend(child.entries)  # an index of indexes is not followed further
            if len(entries) >= self.options.max_entries_per_fetch:
                break
        return replace(index, entries=tuple(entries[:self.options.max_entries_per_fetch]))

    def _poll(self, feed: FeedSource, state: FeedState) -> tuple[PollResult, FeedState]:
        fetch = self._fetch(feed, feed.url, state)
        if fetch.not_modified:
            return PollResult(feed.name, "not_modified"), self._after_success(feed, state, fetch, None)
        parsed = self._parse(feed, fetch)
        if parsed.child_sitemaps:
            parsed = self._read_children(feed, parsed)
        by_id: dict[str, FeedEntry] = {}
        for entry in parsed.entries:
            by_id.setdefault(entry.entry_id, entry)  # a repeated GUID is one entry: the first occurrence
        if feed.max_age_hours is not None:
            oldest = self.clock() - timedelta(hours=feed.max_age_hours)
            by_id = {k: e for k, e in by_id.items() if e.published_at is None or e.published_at >= oldest}
        unseen = self.store.unseen_entries(feed.url, list(by_id))
        FEED_ENTRIES.labels("seen").inc(len(by_id) - len(unseen))
        FEED_ENTRIES.labels("new").inc(len(unseen))
        raws: list[tuple[str, RawArticle]] = []
        links: list[tuple[str, ArticleLink]] = []
        skipped: list[str] = []
        for entry_id in unseen:
            entry = by_id[entry_id]
            if _as_raw(feed, entry) or self.links is None:
                raw = entry_to_raw(feed, parsed, entry, fetch)
                raws.append((entry_id, raw)) if raw else skipped.append(entry_id)
            else:
                link = entry_to_link(feed, parsed, entry)
                links.append((entry_id, link)) if link else skipped.append(entry_id)
        acked_raw = {r.raw_id for r in self.publisher.publish([r for _, r in raws])} if raws else set()
        acked_links = ({link.link_id for link in self.links.publish([k for _, k in links])}
                       if links and self.links is not None else set())
        done = ([e for e, r in raws if r.raw_id in acked_raw] + [e for e, k in links if k.link_id in acked_links]
                + skipped)  # entries without a usable link: nothing to publish, ever
        if done:
            self.store.mark_entries_seen(feed.url, done)
        missing = len(raws) + len(links) - len(acked_raw) - len(acked_links)
        if missing:
            raise FetchError("publish", f"{missing} of {len(raws) + len(links)} entries not acknowledged by the "
                                        "broker; they will be sent again")
        result = PollResult(feed.name, "new_content" if raws or links else "no_new_entries",
                            new_entries=len(unseen), published=len(acked_raw), links=len(acked_links))
        return result, self._after_success(feed, state, fetch, parsed)

    def _after_success(self, feed: FeedSource, state: FeedState, fetch: FetchResult,
                       parsed: ParsedFeed | None) -> FeedState:
        now = self.clock()
        if parsed is None:  # 304: the entries did not change, nor should the adaptive interval
            interval = state.interval_seconds or self.options.interval_seconds
            interval = success_interval(self.options, fixed=feed.interval_seconds or interval, published=(),
                                        now=now, ttl_minutes=None, headers=fetch.headers)
        else:
            interval = success_interval(self.options, fixed=feed.interval_seconds,
                                        published=[e.published_at for e in parsed.entries], now=now,
                                        ttl_minutes=parsed.ttl_minutes, headers=fetch.headers)
        FEED_LAST_SUCCESS.labels(feed.name).set(now.timestamp())
        FEED_INTERVAL.labels(feed.name).set(interval)  # the stalled-source alert scales with it
        return replace(state, etag=fetch.headers.get("etag") or state.etag,
                       last_modified=fetch.headers.get("last-modified") or state.last_modified,
                       next_check_at=now + timedelta(seconds=interval), interval_seconds=interval, error_count=0,
                       last_error=None, last_success_at=now)

    def _after_error(self, state: FeedState, error: str, retry_after: float | None) -> FeedState:
        errors = state.error_count + 1
        delay = error_delay(self.options, errors, retry_after)
        return replace(state, error_count=errors, last_error=error[:1000],
                       next_check_at=self.clock() + timedelta(seconds=delay))

    def _remember(self, state: FeedState) -> None:
        with self._lock:
            self._next_check[state.feed_url] = state.next_check_at
            (self._failing.add if state.error_count else self._failing.discard)(state.feed_url)
            FEEDS_IN_BACKOFF.set(len(self._failing))

    # -- scheduling -----------------------------------------------------------------------------------------
    def poll_once(self) -> list[PollResult]:
        """Poll every source once, regardless of schedule, with the worker pool."""
        return self._run_pool(lambda: list(self.feeds), once=True)

    def run(self) -> None:
        """Poll sources when due until stopped; SIGTERM lets in-flight polls finish."""
        for feed in self.feeds:  # the schedule survives restarts: it is read from the store once
            state = self.store.feed_state(feed.url) or FeedState(feed_url=feed.url)
            self._remember(state)
            if state.last_success_at is not None:  # so a feed that stays broken after a restart can still alert
                FEED_LAST_SUCCESS.labels(feed.name).set(state.last_success_at.timestamp())
        self._run_pool(self._due_feeds, once=False)

    def _due_feeds(self) -> list[FeedSource]:
        now = datetime.now(timezone.utc)
        with self._lock:
            due = [f for f in self.feeds if (self._next_check.get(f.url) or now) <= now]
        random.shuffle(due)  # no feed is always last in the queue
        return due

    def _run_pool(self, due: Callable[[], list[FeedSource]], once: bool) -> list[PollResult]:
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
                except Exception:  # a bug or a store outage must not kill the worker: back the feed off
                    log.exception("unexpected error polling %s", feed.name, extra={"feed": feed.name})
                    outcome = PollResult(feed.name, "fetch_error", detail="unexpected error")
                    FEED_POLLS.labels("fetch_error").inc()
                    with self._lock:
                        self._next_check[feed.url] = self.clock() + timedelta(
                            seconds=error_delay(self.options, 1, None))
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
                    if self.stop.is_set():
                        break
                if once:
                    break
                self.stop.wait(1.0)
        finally:
            while self.stop.is_set():  # stopping: polls not yet started wait for the next run
                try:
                    jobs.get_nowait()
                except queue.Empty:
                    break
            for _ in threads:
                jobs.put(None)
            for thread in threads:
                while thread.is_alive():
                    self.health.beat()
                    thread.join(timeout=1.0)
        return results
