"""Ingest services: wiring settings into the poller and the scraper, and running them."""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path
from typing import Iterator, Sequence

from kafka.errors import KafkaError, TopicAlreadyExistsError

from newswire.kafka import make_admin, make_consumer, make_producer
from newswire.records import ArticleLink, utc_now
from newswire.service import Health
from newswire.settings import Settings
from newswire.store import Store, open_store
from ingest.http import Fetcher
from ingest.politeness import HostLimiter
from ingest.poller import FeedPoller, PollResult
from ingest.publish import LinkPublisher, RawPublisher
from ingest.robots import RobotsCache
from ingest.scraper import Scraper, ScraperStats, ScraperWorker, ScrapeOutcome
from ingest.sources import load_feeds

__all__ = ["run_poller", "run_scraper", "build_scraper", "scrape_urls", "held_topic", "ensure_held_topic"]

log = logging.getLogger(__name__)


def run_poller(settings: Settings, feeds_file: str | Path, *, health: Health, stop: threading.Event,
               once: bool = False, store: Store | None = None) -> list[PollResult]:
    """Poll the sources in `feeds_file` until stopped (or one pass with `once`)."""
    feeds = load_feeds(feeds_file)
    own_store = store is None
    store = store or open_store(settings.store_url())
    producer = make_producer(settings.kafka)
    fetcher = Fetcher(settings.http)
    poller = FeedPoller(feeds=feeds, store=store, fetcher=fetcher,
                        publisher=RawPublisher(producer, settings.topics.raw),
                        links=LinkPublisher(producer, settings.topics.links), options=settings.poller,
                        health=health, stop=stop)
    log.info("poller started with %d sources", len(feeds), extra={"topic": settings.topics.raw})
    try:
        if once:
            return poller.poll_once()
        poller.run()
        return []
    finally:
        producer.flush(timeout=settings.service.shutdown_grace_seconds)
        producer.close(timeout=10)
        fetcher.close()
        if own_store:
            store.close()
        log.info("poller stopped")


def build_scraper(settings: Settings, stop: threading.Event) -> Scraper:
    """A Scraper with its fetcher, robots cache and host limiter from settings."""
    options = settings.scraper
    fetcher = Fetcher(settings.http)
    robots = (RobotsCache(fetcher, cache_seconds=options.robots_cache_seconds,
                          error_retry_seconds=options.robots_error_retry_seconds)
              if options.respect_robots else None)
    limiter = HostLimiter(options.host_min_delay_seconds, options.host_max_concurrency, stop=stop)
    return Scraper(fetcher=fetcher, limiter=limiter, robots=robots, options=options,
                   user_agent=settings.http.user_agent)


def held_topic(settings: Settings) -> str:
    """The topic where links wait for their host's robots.txt: `scraper.held_topic`, or '<links topic>.held'."""
    return settings.scraper.held_topic or f"{settings.topics.links}.held"


def ensure_held_topic(settings: Settings) -> str:
    """Create the held-links topic when missing, with as many partitions as the links topic.

    Same partition count and the same host key put a held link on the partition number its host has on the links
    topic; the range assignor hands both to the same scraper process, which keeps per-host politeness whole.
    """
    name = held_topic(settings)
    admin = make_admin(settings.kafka)
    try:
        if name in set(admin.list_topics()):
            return name
        try:
            described = admin.describe_topics([settings.topics.links])
            partitions = len(described[0]["partitions"]) or settings.topics.partitions
        except (KafkaError, IndexError, KeyError):
            partitions = settings.topics.partitions
        try:
            admin.create_topics({name: {"num_partitions": partitions,
                                        "replication_factor": settings.topics.replication_factor}},
                                wait_for_metadata=True)
            log.info("topic %s: created", name, extra={"topic": name, "partitions": partitions})
        except TopicAlreadyExistsError:
            pass
        return name
    finally:
        admin.close()


def run_scraper(settings: Settings, *, health: Health, stop: threading.Event, max_records: int | None = None,
                idle_exit_seconds: float | None = None) -> ScraperStats:
    """Consume the links topic (and the held-links topic) in the scraper's consumer group until stopped."""
    scraper = build_scraper(settings, stop)
    held = ensure_held_topic(settings)
    consumer = make_consumer(settings.kafka, settings.scraper.group_id, [settings.topics.links, held],
                             max_poll_interval_ms=settings.scraper.max_poll_interval_ms)
    producer = make_producer(settings.kafka)
    worker = ScraperWorker(consumer=consumer, producer=producer, scraper=scraper, topics=settings.topics,
                           options=settings.scraper, held_topic=held, health=health, stop=stop)
    log.info("scraper started", extra={"topic": settings.topics.links})
    try:
        return worker.run(max_records=max_records, idle_timeout_seconds=idle_exit_seconds)
    finally:
        worker.close()
        producer.flush(timeout=settings.service.shutdown_grace_seconds)
        producer.close(timeout=10)
        consumer.close(autocommit=False)
        scraper.fetcher.close()
        log.info("scraper stopped")


def scrape_urls(settings: Settings, urls: Sequence[str], *, source: str = "cli",
                stop: threading.Event | None = None) -> Iterator[ScrapeOutcome]:
    """Scrape one-off URLs with the same robots, politeness and limits; yields one outcome per URL."""
    stop = stop or threading.Event()
    scraper = build_scraper(settings, stop)
    try:
        for url in urls:
            link = ArticleLink(link_id=uuid.uuid4().hex, url=url, source=source, discovered_at=utc_now())
            yield scraper.scrape_with_retries(link, stop)
    finally:
        scraper.fetcher.close()
