"""The scraper: article links in, raw article records out.

`Scraper.scrape(link)` is one page: robots.txt → a politeness slot for the host → a bounded, guarded fetch →
charset decoding → a raw record carrying the page, the feed entry's metadata and the fetch metadata.
`ScraperWorker` is the consumer-group loop over the links topic: a batch of links is scraped by a fixed pool of
threads (hosts proceed in parallel, each host at its own pace), retriable failures are retried with backoff,
permanent ones become dead-letter records naming the reason, and the batch's offsets are committed only once
every raw and dead-letter record it produced is acknowledged.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from ingest.charset import decode_page
from ingest.http import FetchError, Fetcher, FetchResult
from ingest.politeness import HostLimiter, Stopped
from ingest.publish import RawPublisher, host_key
from ingest.robots import RobotsCache
from newswire.kafka import dead_letter_headers
from newswire.metrics import FETCH_BYTES, ROBOTS_REFUSALS, SCRAPES
from newswire.records import ArticleLink, FetchMeta, RawArticle, RecordError, decode_link, utc_now
from newswire.service import Health
from newswire.settings import ScraperSettings, TopicSettings

__all__ = ["ScrapeFailure", "Scraper", "ScraperWorker", "ScrapeOutcome"]

log = logging.getLogger(__name__)

_PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, text/plain;q=0.5"
_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")


class ScrapeFailure(Exception):
    """A link that could not be turned into a raw record; `kind` is a bounded label."""

    def __init__(self, kind: str, message: str, retriable: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.retriable = retriable
        self.retry_after = retry_after


class RobotsDisallowed(ScrapeFailure):
    """robots.txt forbids the URL: a normal outcome, counted, never retried."""


@dataclass(frozen=True)
class ScrapeOutcome:
    link: ArticleLink | None
    result: str  # ok, robots_disallowed, dead_letter
    raw: RawArticle | None = None
    failure: ScrapeFailure | None = None
    attempts: int = 1


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
            raise ScrapeFailure("robots_unreachable", f"robots.txt of {url} unreachable ({rules.detail}); "
                                                      "the host is not fetched until it answers", retriable=True,
                                retry_after=self.options.robots_error_retry_seconds)
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
        return sum(self.outcomes.values())


class ScraperWorker:
    """One consumer-group member of the scraper; `run()` until stopped."""

    def __init__(self, *, consumer: KafkaConsumer, producer: KafkaProducer, scraper: Scraper,
                 topics: TopicSettings, options: ScraperSettings, health: Health | None = None,
                 stop: threading.Event | None = None) -> None:
        self.consumer = consumer
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

    def handle_batch(self, batch: dict[TopicPartition, list[Any]]) -> bool:
        """Scrape a batch, publish, commit; False (after seeking back) when the broker did not acknowledge."""
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
            outcomes.append(outcome)
        if self.stop.is_set() and any(o.failure and o.failure.retriable for o in outcomes):
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

    def _publish(self, messages: list[Any], outcomes: list[ScrapeOutcome]) -> bool:
        raws = [o.raw for o in outcomes if o.raw is not None]
        if raws and len(self.raw.publish(raws)) < len(raws):
            return False
        futures = []
        for message, outcome in zip(messages, outcomes):
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
                log.warning("dead-letter records not acknowledged: %s", exc)
                return False
        return True

    def _seek_back(self, batch: dict[TopicPartition, list[Any]]) -> None:
        for tp, records in batch.items():
            if records:
                self.consumer.seek(tp, records[0].offset)
