"""Publishing records: send a batch, wait for the broker's acknowledgements, report what was acked.

Raw articles are keyed by canonical URL (every version of an article on one partition, one processor). Links are
keyed by the URL's host, so all links of a host land on one partition and are scraped by one scraper process:
that process's per-host delay and concurrency cap then hold across the whole group.
"""

from __future__ import annotations

import logging
from typing import Sequence, TypeVar
from urllib.parse import urlsplit

from kafka import KafkaProducer
from kafka.errors import KafkaError

from newswire.metrics import LINKS_PUBLISHED, RAW_PUBLISHED
from newswire.records import ArticleLink, RawArticle, encode
from newswire.urls import canonical_url

__all__ = ["RawPublisher", "LinkPublisher", "host_key", "send_acked"]

log = logging.getLogger(__name__)

R = TypeVar("R", RawArticle, ArticleLink)


def host_key(url: str) -> str:
    """The partitioning key of a link: its lower-cased host name (port included when not the default)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    return f"{host}:{parts.port}" if parts.port and parts.port not in (80, 443) else host


def send_acked(producer: KafkaProducer, topic: str, items: Sequence[tuple[str, R]],
               ack_timeout: float = 60.0) -> list[R]:
    """Send (key, record) pairs and wait for acks; returns the records acknowledged.

    A record missing from the result has an unknown outcome: the caller must not mark it as done, so that it is
    sent again later (downstream dedupe absorbs the possible duplicate).
    """
    futures = []
    for key, record in items:
        try:
            futures.append((record, producer.send(topic, key=key, value=encode(record))))
        except KafkaError as exc:  # no metadata within max_block_ms (broker down), buffer full: not sent
            log.warning("record not sent: %s", exc, extra={"url": record.url, "topic": topic})
    try:
        producer.flush(timeout=ack_timeout)
    except KafkaError as exc:
        log.warning("flush did not complete: %s", exc, extra={"topic": topic})
    acked: list[R] = []
    for record, future in futures:
        try:
            future.get(timeout=0)
            acked.append(record)
        except KafkaError as exc:
            log.warning("record not acknowledged: %s", exc, extra={"url": record.url, "topic": topic})
    if len(acked) < len(items):
        log.warning("%d of %d records not acknowledged", len(items) - len(acked), len(items),
                    extra={"topic": topic})
    return acked


class RawPublisher:
    """Publishes raw articles keyed by canonical URL (so one article always lands on one partition)."""

    def __init__(self, producer: KafkaProducer, topic: str, ack_timeout_seconds: float = 60.0) -> None:
        self.producer = producer
        self.topic = topic
        self.ack_timeout = ack_timeout_seconds

    def publish(self, records: Sequence[RawArticle]) -> list[RawArticle]:
        """Send records and wait for acks; returns those acknowledged."""
        items = []
        for record in records:
            try:
                key = canonical_url(record.url)
            except ValueError:
                key = record.url
            items.append((key, record))
        acked = send_acked(self.producer, self.topic, items, self.ack_timeout)
        for record in acked:
            RAW_PUBLISHED.labels(record.body_origin).inc()
        return acked


class LinkPublisher:
    """Publishes article links keyed by host (so one host's links are scraped by one process)."""

    def __init__(self, producer: KafkaProducer, topic: str, ack_timeout_seconds: float = 60.0) -> None:
        self.producer = producer
        self.topic = topic
        self.ack_timeout = ack_timeout_seconds

    def publish(self, links: Sequence[ArticleLink]) -> list[ArticleLink]:
        """Send links and wait for acks; returns those acknowledged."""
        acked = send_acked(self.producer, self.topic, [(host_key(link.url), link) for link in links],
                           self.ack_timeout)
        LINKS_PUBLISHED.inc(len(acked))
        return acked
