"""The poller service: wires settings and a feeds file into a fetcher, publisher and poller, and runs it."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from newswire.kafka import make_producer
from newswire.service import Health
from newswire.settings import Settings
from newswire.store import Store, open_store
from ingest.http import Fetcher
from ingest.poller import FeedPoller, PollResult
from ingest.publish import RawPublisher
from ingest.sources import load_feeds

__all__ = ["run_poller"]

log = logging.getLogger(__name__)


def run_poller(settings: Settings, feeds_file: str | Path, *, health: Health, stop: threading.Event,
               once: bool = False, store: Store | None = None) -> list[PollResult]:
    """Poll the feeds in `feeds_file` until stopped (or one pass with `once`)."""
    feeds = load_feeds(feeds_file)
    own_store = store is None
    store = store or open_store(settings.store_url())
    producer = make_producer(settings.kafka)
    fetcher = Fetcher(settings.http)
    poller = FeedPoller(feeds=feeds, store=store, fetcher=fetcher,
                        publisher=RawPublisher(producer, settings.topics.raw), options=settings.poller,
                        health=health, stop=stop)
    log.info("poller started with %d feeds", len(feeds), extra={"topic": settings.topics.raw})
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
