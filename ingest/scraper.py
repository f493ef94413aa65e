"""The scraper: article links in, raw article records out.

`Scraper.scrape(link)` is one page: robots.txt → a politeness slot for the host → a bounded, guarded fetch →
charset decoding → a raw record carrying the page, the feed entry's metadata and the fetch metadata.
`ScraperWorker` is the consumer-group loop over the links topic: a batch of links is scraped by a fixed pool of
threads (hosts proceed in parallel, each host at its own pace), retriable failures are retried with backoff,
permanent ones become dead-letter records naming the reason, and the batch's offsets are committed only once
every raw, dead-letter and held record it produced is acknowledged.

Links whose host has an unreachable robots.txt (5xx, 429, timeout: RFC 9309 says "disallow everything for now")
are HELD, not failed: they are re-published, unchanged and with the same host key, to the held topic with a
`newswire.hold.until` header (when the robots.txt will be tried again). The worker reads the held topic in the
same consumer group; a held partition whose first record is not due yet is paused until it is, so held links
neither spin nor block the links topic. A held link that comes due is scraped from scratch (its attempts are not
spent by the hold); if robots.txt is still unreachable it is held again. Only after `max_hold_seconds` of holding
does it go to the dead-letter topic (reason `robots_unreachable`), so a feed host whose robots.txt is down for a
while loses nothing.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from ingest.charset import decode_page
from ingest.http import FetchError, Fetcher, FetchResult
from ingest.politeness import HostLimiter, Stopped
from ingest.publish import RawPublisher, host_key
from ingest.robots import RobotsCache
from newswire.kafka import MAX_RECORD_BYTES, dead_letter_headers
from newswire.metrics import FETCH_BYTES, ROBOTS_REFUSALS, SCRAPES
from newswire.records import ArticleLink, FetchMeta, RawArticle, RecordError, decode_link, encode, utc_now
from newswire.service import Health
from newswire.settings import ScraperSettings, TopicSettings

__all__ = ["ScrapeFailure", "RobotsDisallowed", "RobotsUnreachable", "Scraper", "ScraperWorker", "ScrapeOutcome",
           "HOLD_UNTIL", "HOLD_SINCE", "HOLD_COUNT"]

log = logging.getLogger(__name__)

_PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, text/plain;q=0.5"
_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")

# Headers of a held link: when to try it again, when it was first held, how many times (all Unix seconds/ints).
HOLD_UNTIL = "newswire.hold.until"
HOLD_SINCE = "newswire.hold.since"
HOLD_COUNT = "newswire.hold.count"
_HOLD_HEADERS = (HOLD_UNTIL, HOLD_SINCE, HOLD_COUNT)


class ScrapeFailure(Exception):
    """A link that could not be turned into a raw record; `kind` is a bounded label."""

    def __init__(self, kind: str, message: str, retriable: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.retriable = retriable
        self.retry_after = retry_after


class RobotsDisallowed(ScrapeFailure):
    """robots.txt forbids the URL: a normal outcome, counted, never retried."""


class RobotsUnreachable(ScrapeFailure):
    """The host's robots.txt could not be read (5xx, 429, timeout): hold the link until `hold_until` (Unix time)."""

    def __init__(self, message: str, hold_until: float) -> None:
        super().__init__("robots_unreachable", message, retriable=True)
        self.hold_until = hold_until


@dataclass(frozen=True)
class ScrapeOutcome:
    link: ArticleLink | None
    result: str  # ok, robots_disallowed, held, dead_letter
    raw: RawArticle | None = None
    failure: ScrapeFailure | None = None
    attempts: int = 1
    hold_until: float | None = None  # Unix time, for result == "held"


def _refuse_oversized(outcome: ScrapeOutcome) -> ScrapeOutcome:
    """A page whose raw record is larger than a Kafka record may be becomes a dead letter, not a send that fails
    (and would be retried forever): permanent, named, counted."""
    if outcome.raw is None:
        return outcome
    size = len(encode(outcome.raw))
    if size <= MAX_RECORD_BYTES:
        return outcome
    failure = ScrapeFailure("too_large", f"raw record of {size} bytes exceeds the {MAX_RECORD_BYTES}-byte limit")
    return replace(outcome, raw=None, result="dead_letter", failure=failure)


def _header(headers: Any, name: str) -> str | None:
    for key, value in headers or ():
        if key == name and value is not None:
            return value.decode("utf-8", "replace")
    return None


def hold_headers(original: Any, hold_until: float, now: float) -> list[tuple[str, bytes]]:
    """The headers of a link being (re-)held: the original ones, with the hold's time, first time and count."""
    since = _header(original, HOLD_SINCE) or f"{now:.3f}"
    count = int(_header(original, HOLD_COUNT) or 0) + 1
    kept = [(k, v) for k, v in original or () if k not in _HOLD_HEADERS]
    return kept + [(HOLD_UNTIL, f"{hold_until:.3f}".encode()), (HOLD_SINCE, since.encode()),
                   (HOLD_COUNT, str(count).encode())]


def held_until(headers: Any) -> float | None:
    """The Unix time a held link waits for, or None for a link that is not held (or a malformed header)."""
    value = _header(headers, HOLD_UNTIL)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class Scraper:
    """Fetches one article page politely and safely."""

    def __init__(self, *, fetcher: Fetcher, limiter: HostLimiter, robots: RobotsCache | None,
                 options: ScraperSettings, user_agent: str) -> None:
        self.fetcher = fetcher
        self.limiter = limiter
        self.robots = robots
        self.options = options
        self.user_agent = user_agent

    def _host_delay(self, url: str) -> float | None:
        """Check robots.txt (loading it in its own host slot) and return its crawl delay, capped."""
        if self.robots is None:
            return None
        host = host_key(url)
        rules = self.robots.cached(url)
        if rules is None:
            with self.limiter.slot(host):
                rules = self.robots.cached(url) or self.robots.load(url)
        if rules.status == "unreachable":
            ROBOTS_REFUSALS.labels("unreachable").inc()
            # at least a moment, so that a link coming due a hair before the cache entry expires cannot spin
            wait = max(rules.retry_at(self.options.robots_error_retry_seconds) - self.robots.clock(), 0.25)
            raise RobotsUnreachable(f"robots.txt of {url} unreachable ({rules.detail}); the host is not fetched "
                                    f"until it answers, next try in {wait:.0f}s", hold_until=time.time() + wait)
        if not rules.allowed(url, self.user_agent):
            ROBOTS_REFUSALS.labels("disallowed").inc()
            raise RobotsDisallowed("robots_disallowed", f"robots.txt disallows {url}")
        delay = rules.crawl_delay(self.user_agent)
        return min(delay, self.options.max_crawl_delay_seconds) if delay is not None else None

    def scrape(self, link: ArticleLink) -> RawArticle:
        """The raw record for `link`; raises ScrapeFailure (RobotsDisallowed when robots.txt says no)."""
        delay = self._host_delay(link.url)
        host = host_key(link.url)
        try:
            with self.limiter.slot(host, delay):
                fetch = self.fetcher.get(link.url, accept=_PAGE_ACCEPT, target="page")
        except FetchError as exc:
            if exc.retry_after:
                self.limiter.defer(host, min(exc.retry_after, self.options.retry_backoff_max_seconds * 10))
            raise ScrapeFailure(exc.kind, str(exc), exc.retriable, exc.retry_after) from exc
        FETCH_BYTES.labels("page").inc(fetch.wire_bytes)
        return self._to_raw(link, fetch)

    def _to_raw(self, link: ArticleLink, fetch: FetchResult) -> RawArticle:
        content_type = fetch.headers.get("content-type", "")
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime and mime not in _HTML_TYPES and mime != "text/plain":
            raise ScrapeFailure("unsupported_content_type", f"{link.url} is {mime}, not a page")
        text, _encoding = decode_page(fetch.body, content_type or None)
        meta = link.feed
        return RawArticle(
            raw_id=uuid.uuid4().hex,
            url=link.url,
            source=link.source,
            fetched_at=utc_now(),
            content_type="text/plain" if mime == "text/plain" else "text/html",
            body=text,
            body_origin="page",
            title=meta.title if meta else None,
            authors=list(meta.authors) if meta else [],
            published_at=meta.published_at if meta else None,
            language=link.language,
            feed=meta,
            fetch=FetchMeta(status=fetch.status, final_url=fetch.final_url, content_type=content_type or None,
                            etag=fetch.headers.get("etag"), last_modified=fetch.headers.get("last-modified"),
                            bytes=fetch.wire_bytes, elapsed_seconds=round(fetch.elapsed_seconds, 4)),
        )

    def scrape_with_retries(self, link: ArticleLink, stop: threading.Event) -> ScrapeOutcome:
        """Scrape, retrying retriable failures with capped exponential backoff (and Retry-After)."""
        backoff = self.options.retry_backoff_seconds
        for attempt in range(1, self.options.max_attempts + 1):
            try:
                return ScrapeOutcome(link, "ok", raw=self.scrape(link), attempts=attempt)
            except RobotsDisallowed as exc:
                return ScrapeOutcome(link, "robots_disallowed", failure=exc, attempts=attempt)
            except RobotsUnreachable as exc:  # not a failure of the link: hold it, its attempts are not spent
                return ScrapeOutcome(link, "held", failure=exc, attempts=attempt - 1, hold_until=exc.hold_until)
            except ScrapeFailure as exc:
                last_try = attempt == self.options.max_attempts
                wait = max(backoff, exc.retry_after or 0.0)
                if not exc.retriable or last_try or wait > self.options.retry_backoff_max_seconds or stop.is_set():
                    if exc.retriable:
                        exc = ScrapeFailure(exc.kind, f"{exc} (gave up after {attempt} attempts)", True)
                    return ScrapeOutcome(link, "dead_letter", failure=exc, attempts=attempt)
                SCRAPES.labels("retried").inc()
                log.info("retrying in %.1fs: %s", wait, exc, extra={"url": link.url})
                stop.wait(wait)
                backoff = min(backoff * 2, self.options.retry_backoff_max_seconds)
        raise AssertionError("unreachable")


@dataclass
class ScraperStats:
    outcomes: Tally = field(default_factory=Tally)

    def total(self) -> int:
        """Links finished (ok, robots_disallowed, dead_letter); a held link is not finished, it comes back."""
        return sum(n for result, n in self.outcomes.items() if result != "held")


class ScraperWorker:
    """One consumer-group member of the scraper; `run()` until stopped."""

    def __init__(self, *, consumer: KafkaConsumer, producer: KafkaProducer, scraper: Scraper,
                 topics: TopicSettings, options: ScraperSettings, held_topic: str,
                 health: Health | None = None, stop: threading.Event | None = None) -> None:
        self.consumer = consumer
        self.held_topic = held_topic
        self._paused: dict[TopicPartition, float] = {}  # held partitions waiting for their first record's time
        self.producer = producer
        self.scraper = scraper
        self.topics = topics
        self.options = options
        self.health = health or Health("scraper")
        self.stop = stop or threading.Event()
        self.raw = RawPublisher(producer, topics.raw)
        self.pool = ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="scrape")
        self.stats = ScraperStats()

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def run(self, *, max_records: int | None = None, idle_timeout_seconds: float | None = None) -> ScraperStats:
        """Scrape until stopped, or `max_records` links handled, or idle for `idle_timeout_seconds`."""
        last = time.monotonic()
        backoff = self.options.retry_backoff_seconds
        while not self.stop.is_set():
            self.health.beat()
            self._resume_due()
            batch = self.consumer.poll(timeout_ms=self.options.poll_timeout_ms, max_records=self.options.batch_size)
            if not batch:
                self.health.set_ready(bool(self.consumer.assignment()), "waiting for links")
            elif self.handle_batch(batch):
                last = time.monotonic()
                backoff = self.options.retry_backoff_seconds
                self.health.set_ready(True)
            else:
                self.health.set_ready(False, "broker did not acknowledge; retrying")
                self.stop.wait(backoff)
                backoff = min(backoff * 2, self.options.retry_backoff_max_seconds)
            if max_records is not None and self.stats.total() >= max_records:
                break
            if idle_timeout_seconds is not None and time.monotonic() - last > idle_timeout_seconds:
                break
        return self.stats

    def _resume_due(self) -> None:
        """Resume held partitions whose first record has come due (or that this worker no longer owns)."""
        if not self._paused:
            return
        now = time.time()
        owned = self.consumer.assignment()
        due = [tp for tp, until in self._paused.items() if until <= now or tp not in owned]
        for tp in due:
            del self._paused[tp]
        resumable = [tp for tp in due if tp in owned]
        if resumable:
            self.consumer.resume(*resumable)

    def _take_due(self, batch: dict[TopicPartition, list[Any]]) -> dict[TopicPartition, list[Any]]:
        """The records to handle now: all links, and held links up to the first one not due yet.

        A held partition is in hold order, so its first record not due is the earliest: the partition is sought
        back to it and paused until then (the records after it are read again once it resumes).
        """
        now = time.time()
        taken: dict[TopicPartition, list[Any]] = {}
        for tp, records in batch.items():
            if tp.topic != self.held_topic:
                taken[tp] = records
                continue
            for i, record in enumerate(records):
                until = held_until(record.headers)
                if until is not None and until > now:
                    self.consumer.seek(tp, record.offset)
                    self.consumer.pause(tp)
                    self._paused[tp] = until
                    records = records[:i]
                    break
            if records:
                taken[tp] = records
        return taken

    def handle_batch(self, batch: dict[TopicPartition, list[Any]]) -> bool:
        """Scrape a batch, publish, commit; False (after seeking back) when the broker did not acknowledge."""
        batch = self._take_due(batch)
        if not batch:
            return True
        messages = [m for records in batch.values() for m in records]
        links: list[tuple[Any, ArticleLink | None, RecordError | None]] = []
        for message in messages:
            try:
                links.append((message, decode_link(message.value), None))
            except RecordError as exc:
                links.append((message, None, exc))
        futures = [self.pool.submit(self.scraper.scrape_with_retries, link, self.stop) if link else None
                   for _, link, _ in links]
        outcomes: list[ScrapeOutcome] = []
        for (message, link, error), future in zip(links, futures):
            try:
                outcome = future.result() if future else ScrapeOutcome(
                    None, "dead_letter", failure=ScrapeFailure("invalid_record", str(error)))
            except Stopped:
                self._seek_back(batch)
                return True  # stopping: the batch is re-read by whoever gets the partition next
            outcomes.append(self._hold_limit(message, outcome))
        if self.stop.is_set() and any(o.result == "dead_letter" and o.failure and o.failure.retriable
                                      for o in outcomes):
            self._seek_back(batch)  # retries were cut short by the stop: do not dead-letter them
            return True
        if not self._publish(messages, outcomes):
            self._seek_back(batch)
            return False
        offsets = {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in batch.items()
                   if records}
        try:
            self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:  # a rebalance: the next owner re-scrapes, dedupe absorbs
            log.warning("commit failed after scraping a batch: %s", exc)
        for outcome in outcomes:
            self.stats.outcomes[outcome.result] += 1
            SCRAPES.labels(outcome.result).inc()
            if outcome.result != "ok":
                log.info("link %s: %s", outcome.result, outcome.failure,
                         extra={"url": outcome.link.url if outcome.link else None})
        return True

    def _hold_limit(self, message: Any, outcome: ScrapeOutcome) -> ScrapeOutcome:
        """A link held for longer than `max_hold_seconds` stops waiting: it becomes a dead letter."""
        if outcome.result != "held":
            return outcome
        since = _header(message.headers, HOLD_SINCE)
        try:
            held_for = time.time() - float(since) if since else 0.0
        except ValueError:
            held_for = 0.0
        if held_for < self.options.max_hold_seconds:
            return outcome
        failure = ScrapeFailure("robots_unreachable", f"{outcome.failure} (held {held_for:.0f}s, longer than "
                                                      f"max_hold_seconds={self.options.max_hold_seconds:.0f})")
        return replace(outcome, result="dead_letter", failure=failure)

    def _publish(self, messages: list[Any], outcomes: list[ScrapeOutcome]) -> bool:
        outcomes[:] = [_refuse_oversized(o) for o in outcomes]
        raws = [o.raw for o in outcomes if o.raw is not None]
        if raws and len(self.raw.publish(raws)) < len(raws):
            return False
        futures = []
        now = time.time()
        for message, outcome in zip(messages, outcomes):
            if outcome.result == "held":
                futures.append(self.producer.send(self.held_topic, key=message.key, value=message.value,
                                                  headers=hold_headers(message.headers, outcome.hold_until or now,
                                                                       now)))
                continue
            if outcome.result != "dead_letter":
                continue
            failure = outcome.failure
            headers = dead_letter_headers(stage="scrape", error=failure, topic=message.topic,
                                          partition=message.partition, offset=message.offset,
                                          original=message.headers or ())
            headers.append(("newswire.dlq.reason", failure.kind.encode()))
            headers.append(("newswire.dlq.attempts", str(outcome.attempts).encode()))
            futures.append(self.producer.send(self.topics.dead_letter, key=message.key, value=message.value,
                                              headers=headers))
        if futures:
            try:
                self.producer.flush(timeout=60)
                for future in futures:
                    future.get(timeout=0)
            except KafkaError as exc:
                log.warning("dead-letter or held records not acknowledged: %s", exc)
                return False
        return True

    def _seek_back(self, batch: dict[TopicPartition, list[Any]]) -> None:
        for tp, records in batch.items():
            if records:
                self.consumer.seek(tp, records[0].offset)
