"""Publishing raw records: send a batch, wait for the broker's acknowledgements, report what was acked."""

from __future__ import annotations

import logging
from typing import Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError

from newswire.metrics import RAW_PUBLISHED
from newswire.records import RawArticle, encode
from newswire.urls import canonical_url

__all__ = ["RawPublisher"]

log = logging.getLogger(__name__)


class RawPublisher:
    """Publishes raw articles keyed by canonical URL (so one article always lands on one partition)."""

    def __init__(self, producer: KafkaProducer, topic: str, ack_timeout_seconds: float = 60.0) -> None:
        self.producer = producer
        self.topic = topic
        self.ack_timeout = ack_timeout_seconds

    def publish(self, records: Sequence[RawArticle]) -> list[RawArticle]:
        """Send records and wait for acks; returns those acknowledged.

        A record missing from the result has an unknown outcome: the caller must not mark it as published, so
        that the next poll sends it again (downstream dedupe absorbs the possible duplicate).
        """
        futures = []
        for record in records:
            try:
                key = canonical_url(record.url)
            except ValueError:
                key = record.url
            futures.append((record, self.producer.send(self.topic, key=key, value=encode(record))))
        try:
            self.producer.flush(timeout=self.ack_timeout)
        except KafkaError as exc:
            log.warning("flush did not complete: %s", exc)
        acked: list[RawArticle] = []
        failed = 0
        for record, future in futures:
            try:
                future.get(timeout=0)
                acked.append(record)
                RAW_PUBLISHED.labels(record.body_origin).inc()
            except KafkaError as exc:
                failed += 1
                log.warning("raw record not acknowledged: %s", exc, extra={"url": record.url})
        if failed:
            log.warning("%d of %d raw records not acknowledged", failed, len(records), extra={"topic": self.topic})
        return acked
