"""The worker loop: consume raw records → run the pipeline → write the store → publish → commit.

Offsets are committed only after the store write and the broker's acknowledgement of every record produced for
the batch (clean, duplicate or dead letter). Three outcomes are kept apart: a Drop is normal and counted; a
retriable failure (store or broker unavailable) stops the batch, commits what was fully handled, seeks back and
retries with backoff; any other error makes the record poison: it goes to the dead-letter topic with its original
bytes and headers naming the stage and error, and the worker moves on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from newswire import __version__
from newswire.kafka import dead_letter_headers
from newswire.metrics import (BATCH_SECONDS, DEAD_LETTERS, DUPLICATES, LANGUAGES, PUBLISH_SECONDS,
                              RECORDS_CONSUMED, RECORDS_PROCESSED, RETRIES, STORE_SECONDS)
from newswire.records import RecordError, decode_raw, encode
from newswire.service import Health
from newswire.settings import ProcessorSettings, TopicSettings
from newswire.store import Store, StoreUnavailable
from processors.article import Article, Drop, to_clean, to_duplicate
from processors.pipeline import Pipeline
from processors.stage import StageFailed

__all__ = ["Worker", "WorkerStats", "Retriable"]

log = logging.getLogger(__name__)

PROCESSOR_VERSION = f"newswire-{__version__}"


class Retriable(Exception):
    """A failure of a dependency (store, broker): the record is fine, try again later."""


@dataclass
class WorkerStats:
    """Counts of outcomes since the worker started."""

    outcomes: Tally = field(default_factory=Tally)
    batches: int = 0

    def total(self) -> int:
        return sum(self.outcomes.values())


@dataclass
class _Pending:
    """What a batch has produced and must see acknowledged before its offsets are committed."""

    futures: list[Any] = field(default_factory=list)
    article_ids: list[str] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)


class Worker:
    """One consumer-group member processing raw records; `run()` until stopped."""

    def __init__(self, *, consumer: KafkaConsumer, producer: KafkaProducer, store: Store, pipeline: Pipeline,
                 topics: TopicSettings, options: ProcessorSettings, health: Health | None = None,
                 stop: threading.Event | None = None) -> None:
        self.consumer = consumer
        self.producer = producer
        self.store = store
        self.pipeline = pipeline
        self.topics = topics
        self.options = options
        self.health = health or Health("processor")
        self.stop = stop or threading.Event()
        self.stats = WorkerStats()
        self._backoff = options.retry_backoff_seconds
        self._next_purge = time.monotonic() + options.purge_interval_seconds

    # -- loop -----------------------------------------------------------------------------------------------
    def run(self, *, max_records: int | None = None, end_offsets: dict[TopicPartition, int] | None = None,
            idle_timeout_seconds: float | None = None) -> WorkerStats:
        """Process until stopped, or until `max_records` handled, `end_offsets` reached, or idle too long."""
        last_progress = time.monotonic()
        while not self.stop.is_set():
            self.health.beat()
            batch = self.consumer.poll(timeout_ms=self.options.poll_timeout_ms,
                                       max_records=self.options.batch_size)
            if batch:
                self.handle_batch(batch)
                last_progress = time.monotonic()
            else:
                self.health.set_ready(bool(self.consumer.assignment()), "waiting for records")
            self._purge_when_due()
            if max_records is not None and self.stats.total() >= max_records:
                break
            if end_offsets is not None and self._reached(end_offsets):
                break
            if idle_timeout_seconds is not None and time.monotonic() - last_progress > idle_timeout_seconds:
                break
        return self.stats

    def _purge_when_due(self) -> None:
        """Every `purge_interval_seconds`, drop dedupe/story/template state past the retention window."""
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + self.options.purge_interval_seconds
        try:
            deleted = self.store.purge_state(timedelta(days=self.options.retention_days))
            log.info("purged state older than %s days: %s", self.options.retention_days, deleted)
        except StoreUnavailable as exc:
            log.warning("purge skipped, store unavailable: %s", exc)

    def _reached(self, end_offsets: dict[TopicPartition, int]) -> bool:
        return all(self.consumer.position(tp) >= end for tp, end in end_offsets.items())

    def handle_batch(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Handle one poll's records; commit what was fully handled; seek back and back off on failure."""
        started = time.perf_counter()
        pending = _Pending()
        handled: dict[TopicPartition, int] = {}
        failure: Retriable | None = None
        for tp, messages in batch.items():
            for message in messages:
                RECORDS_CONSUMED.inc()
                try:
                    outcome = self._handle(message, pending)
                except Retriable as exc:
                    failure = exc
                    break
                self.stats.outcomes[outcome] += 1
                RECORDS_PROCESSED.labels(outcome).inc()
                handled[tp] = message.offset + 1
            if failure:
                break
        try:
            self._complete(pending, handled)
        except Retriable as exc:
            failure = failure or exc
            handled = {}
        self.stats.batches += 1
        BATCH_SECONDS.observe(time.perf_counter() - started)
        if failure is None:
            self._backoff = self.options.retry_backoff_seconds
            self.health.set_ready(True)
            return
        # Seek every partition of the batch back to its first record not fully handled, then wait.
        for tp, messages in batch.items():
            if messages:
                self.consumer.seek(tp, handled.get(tp, messages[0].offset))
        self.health.set_ready(False, f"retrying after: {failure}")
        log.warning("retriable failure, retrying in %.1fs: %s", self._backoff, failure)
        self.stop.wait(self._backoff)
        self._backoff = min(self._backoff * 2, self.options.retry_backoff_max_seconds)

    def _complete(self, pending: _Pending, handled: dict[TopicPartition, int]) -> None:
        """Wait for the broker's acks, remember what was published, then commit the handled offsets."""
        started = time.perf_counter()
        try:
            self.producer.flush(timeout=60)
            for future in pending.futures:
                future.get(timeout=0)
        except KafkaError as exc:
            RETRIES.labels("publish").inc()
            raise Retriable(f"publish failed: {exc}") from exc
        PUBLISH_SECONDS.observe(time.perf_counter() - started)
        try:
            self.store.mark_published(pending.article_ids, pending.duplicate_ids)
        except StoreUnavailable as exc:
            # The records are out; at worst they are published again after a restart. Offsets can still advance.
            log.warning("could not mark records as published: %s", exc)
        if not handled:
            return
        offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in handled.items()}
        try:
            self.consumer.commit(offsets)
        except CommitFailedError as exc:
            # The group rebalanced: another member will re-handle these records, idempotently.
            log.warning("offset commit rejected after a rebalance: %s", exc)
        except KafkaError as exc:
            RETRIES.labels("commit").inc()
            log.warning("offset commit failed, records will be re-handled: %s", exc)

    # -- one record -----------------------------------------------------------------------------------------
    def _handle(self, message: Any, pending: _Pending) -> str:
        try:
            raw = decode_raw(message.value)
        except RecordError as exc:
            return self._dead_letter(message, "decode", exc, pending)
        try:
            result = self.pipeline.process(raw)
        except StageFailed as exc:
            if isinstance(exc.error, StoreUnavailable):
                RETRIES.labels("store").inc()
                raise Retriable(str(exc.error)) from exc
            log.warning("stage failed, record to dead letters: %s", exc,
                        extra={"stage": exc.stage, "partition": message.partition, "offset": message.offset})
            return self._dead_letter(message, exc.stage, exc.error, pending)
        except ValueError as exc:  # the record's URL cannot be canonicalised
            return self._dead_letter(message, "identify", exc, pending)
        if isinstance(result, Drop):
            log.info("dropped %s: %s %s", raw.url, result.reason, result.detail,
                     extra={"stage": result.stage, "raw_id": raw.raw_id})
            return "dropped"
        try:
            return self._store_and_publish(result, message, pending)
        except StoreUnavailable as exc:
            RETRIES.labels("store").inc()
            raise Retriable(str(exc)) from exc

    def _store_and_publish(self, article: Article, message: Any, pending: _Pending) -> str:
        headers = [("newswire.raw_id", article.raw.raw_id.encode())]
        if article.duplicate is not None:
            duplicate = to_duplicate(article, PROCESSOR_VERSION)
            with STORE_SECONDS.labels("duplicate").time():
                write = self.store.write_duplicate(duplicate)
            DUPLICATES.labels(duplicate.kind).inc()
            if write.needs_publish:
                pending.futures.append(self.producer.send(self.topics.duplicates, key=duplicate.duplicate_of,
                                                          value=encode(duplicate), headers=headers))
                pending.duplicate_ids.append(duplicate.raw_id)
            return "duplicate"
        clean = to_clean(article, PROCESSOR_VERSION)
        with STORE_SECONDS.labels("article").time():
            write = self.store.write_article(clean)
        LANGUAGES.labels(clean.language).inc()
        if write.needs_publish:
            pending.futures.append(self.producer.send(self.topics.clean, key=clean.article_id, value=encode(clean),
                                                      headers=headers))
            pending.article_ids.append(clean.article_id)
        return "clean"

    def _dead_letter(self, message: Any, stage: str, error: BaseException, pending: _Pending) -> str:
        DEAD_LETTERS.labels(stage, type(error).__name__).inc()
        headers = dead_letter_headers(stage=stage, error=error, topic=message.topic, partition=message.partition,
                                      offset=message.offset, original=message.headers or ())
        pending.futures.append(self.producer.send(self.topics.dead_letter, key=message.key,
                                                  value=message.value, headers=headers))
        return "dead_letter"
