"""The worker loop: consume raw records → pipeline → store write → publish and commit in one transaction.

Each batch is one Kafka transaction (`processors/output.py`): the clean, duplicate and dead-letter records it
produced and the consumed raw offsets commit together, so a consumer reading the output topics with
`read_committed` sees each record exactly once, even across crashes, restarts and rebalances. The store write
comes first and is idempotent (deterministic ids, stored decisions, a `published` flag set only after the
transaction committed), so a batch redone after a crash writes nothing new and publishes each record again only
if its earlier transaction did not commit.

Three outcomes are kept apart: a Drop is normal and counted; a retriable failure (store or broker unavailable)
commits what was fully handled, seeks the rest back and retries with backoff; any other error makes the record
poison: it goes to the dead-letter topic, in the same transaction, with its original bytes and headers naming the
stage and error, and the worker moves on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from newswire import __version__
from newswire.failpoints import failpoint
from newswire.kafka import MAX_RECORD_BYTES, dead_letter_headers
from newswire.metrics import (BATCH_SECONDS, CONSUMER_LAG, DEAD_LETTERS, DUPLICATES, FETCH_TO_CLEAN_SECONDS, LANGUAGES,
                              PUBLICATION_TO_CLEAN_SECONDS, PUBLISH_SECONDS, RECORDS_CONSUMED, RECORDS_PROCESSED,
                              RETRIES, STORE_SECONDS, TOPICS)
from newswire.records import RecordError, decode_raw, encode
from newswire.service import Health, retry_until_stopped
from newswire.settings import ProcessorSettings, TopicSettings
from newswire.store import Store, StoreUnavailable
from processors.article import Article, Drop, to_clean, to_duplicate
from processors.output import TransactionalOutput, TransactionFailed
from processors.pipeline import Pipeline
from processors.stage import StageFailed

__all__ = ["Worker", "WorkerStats", "Retriable"]

log = logging.getLogger(__name__)

PROCESSOR_VERSION = f"newswire-{__version__}"
LAG_INTERVAL_SECONDS = 5.0


class RecordTooLarge(ValueError):
    """An output record larger than the topics accept; the raw record goes to the dead-letter topic."""


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
    """What a batch has produced in its open transaction, to remember once it commits."""

    article_ids: list[str] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)
    fetched_at: list[datetime] = field(default_factory=list)
    published_at: list[datetime] = field(default_factory=list)


class Worker:
    """One consumer-group member processing raw records; `run()` until stopped."""

    def __init__(self, *, consumer: KafkaConsumer, output: TransactionalOutput, store: Store, pipeline: Pipeline,
                 topics: TopicSettings, options: ProcessorSettings, health: Health | None = None,
                 stop: threading.Event | None = None) -> None:
        self.consumer = consumer
        self.output = output
        self.store = store
        self.pipeline = pipeline
        self.topics = topics
        self.options = options
        self.health = health or Health("processor")
        self.stop = stop or threading.Event()
        self.stats = WorkerStats()
        self._backoff = options.retry_backoff_seconds
        self._next_purge = time.monotonic() + options.purge_interval_seconds
        self._next_lag = 0.0
        self._failing = False
        self._lag_labels: set[tuple[str, str]] = set()

    # -- loop -----------------------------------------------------------------------------------------------
    def run(self, *, max_records: int | None = None, end_offsets: dict[TopicPartition, int] | None = None,
            idle_timeout_seconds: float | None = None) -> WorkerStats:
        """Process until stopped, or until `max_records` handled, `end_offsets` reached, or idle too long."""
        if retry_until_stopped(self.output.start, stop=self.stop, errors=(KafkaError, OSError),
                               first_delay=self.options.retry_backoff_seconds,
                               max_delay=self.options.retry_backoff_max_seconds, health=self.health,
                               what="transactional producer not ready") is None:
            return self.stats
        last_progress = time.monotonic()
        while not self.stop.is_set():
            self.health.beat()
            batch = self.consumer.poll(timeout_ms=self.options.poll_timeout_ms,
                                       max_records=self.options.batch_size)
            if batch:
                failpoint("worker.consumed")
                self.handle_batch(batch)
                last_progress = time.monotonic()
            elif not self._failing:  # during an outage, readiness stays false until a batch succeeds
                self.health.set_ready(bool(self.consumer.assignment()), "waiting for records")
            self._export_lag()
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

    def _export_lag(self) -> None:
        """Export each owned partition's lag (high watermark − position) from what the fetcher already knows."""
        if time.monotonic() < self._next_lag:
            return
        self._next_lag = time.monotonic() + LAG_INTERVAL_SECONDS
        labels: set[tuple[str, str]] = set()
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = self.consumer.position(tp, timeout_ms=1000)
            except Exception:  # noqa: BLE001 - a position lookup failing during a rebalance is not an error
                continue
            if position is None:
                continue
            label = (tp.topic, str(tp.partition))
            CONSUMER_LAG.labels(*label).set(max(0, highwater - position))
            labels.add(label)
        for gone in self._lag_labels - labels:  # partitions this worker no longer owns
            CONSUMER_LAG.remove(*gone)
        self._lag_labels = labels

    def _reached(self, end_offsets: dict[TopicPartition, int]) -> bool:
        return all(self.consumer.position(tp) >= end for tp, end in end_offsets.items())

    def handle_batch(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Handle one poll's records in one transaction; on failure seek back what did not commit and back off."""
        started = time.perf_counter()
        pending = _Pending()
        handled: dict[TopicPartition, int] = {}
        outcomes: Tally = Tally()
        failure: Exception | None = None
        try:
            self.output.begin()
        except TransactionFailed as exc:
            RETRIES.labels("publish").inc()
            failure = exc
        if failure is None:
            for tp, messages in batch.items():
                for message in messages:
                    RECORDS_CONSUMED.inc()
                    try:
                        outcomes[self._handle(message, pending)] += 1
                    except Retriable as exc:
                        failure = exc
                        break
                    handled[tp] = message.offset + 1
                if failure:
                    break
            try:
                self._commit(pending, handled)
            except TransactionFailed as exc:
                RETRIES.labels("publish").inc()
                failure, handled, outcomes = exc, {}, Tally()
        for outcome, count in outcomes.items():
            self.stats.outcomes[outcome] += count
            RECORDS_PROCESSED.labels(outcome).inc(count)
        self.stats.batches += 1
        BATCH_SECONDS.observe(time.perf_counter() - started)
        self._failing = failure is not None
        if failure is None:
            self._backoff = self.options.retry_backoff_seconds
            self.health.set_ready(True)
            return
        # Seek every partition of the batch back to its first record not committed, then wait.
        for tp, messages in batch.items():
            if messages:
                self.consumer.seek(tp, handled.get(tp, messages[0].offset))
        self.health.set_ready(False, f"retrying after: {failure}")
        log.warning("retriable failure, retrying in %.1fs: %s", self._backoff, failure)
        self.stop.wait(self._backoff)
        self._backoff = min(self._backoff * 2, self.options.retry_backoff_max_seconds)

    def _commit(self, pending: _Pending, handled: dict[TopicPartition, int]) -> None:
        """Commit the batch's transaction with its offsets; then remember what was published."""
        started = time.perf_counter()
        self.output.flush()
        failpoint("worker.published")
        self.output.commit(handled, self.consumer.group_metadata())
        failpoint("worker.committed")
        PUBLISH_SECONDS.observe(time.perf_counter() - started)
        now = datetime.now(timezone.utc)
        for fetched in pending.fetched_at:
            FETCH_TO_CLEAN_SECONDS.observe(_seconds_since(fetched, now))
        for published in pending.published_at:
            PUBLICATION_TO_CLEAN_SECONDS.observe(_seconds_since(published, now))
        try:
            self.store.mark_published(pending.article_ids, pending.duplicate_ids)
        except StoreUnavailable as exc:
            # The records are committed; only a replay in a new group could publish them again.
            log.warning("could not mark records as published: %s", exc)

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
        except (ValueError, TypeError, UnicodeError) as exc:  # a record that cannot be serialised or stored
            log.warning("output failed, record to dead letters: %r", exc,
                        extra={"partition": message.partition, "offset": message.offset})
            return self._dead_letter(message, "output", exc, pending)

    def _store_and_publish(self, article: Article, message: Any, pending: _Pending) -> str:
        headers = [("newswire.raw_id", article.raw.raw_id.encode())]
        if article.duplicate is not None:
            duplicate = to_duplicate(article, PROCESSOR_VERSION)
            with STORE_SECONDS.labels("duplicate").time():
                write = self.store.write_duplicate(duplicate)
            failpoint("worker.stored")
            DUPLICATES.labels(duplicate.kind).inc()
            if write.needs_publish:
                self.output.send(self.topics.duplicates, key=duplicate.duplicate_of, value=encode(duplicate),
                                 headers=headers)
                pending.duplicate_ids.append(duplicate.raw_id)
                pending.fetched_at.append(article.raw.fetched_at)
            return "duplicate"
        clean = to_clean(article, PROCESSOR_VERSION)
        value = encode(clean)
        if len(value) > MAX_RECORD_BYTES:  # the broker would refuse it, and a refused send poisons the producer
            return self._dead_letter(message, "publish", RecordTooLarge(
                f"clean record of {len(value)} bytes exceeds {MAX_RECORD_BYTES}"), pending)
        with STORE_SECONDS.labels("article").time():
            write = self.store.write_article(clean)
        failpoint("worker.stored")
        LANGUAGES.labels(clean.language).inc()
        for code in {topic.code for topic in clean.topics if topic.code.endswith("000000")}:
            TOPICS.labels(code).inc()
        if write.needs_publish:
            self.output.send(self.topics.clean, key=clean.article_id, value=value, headers=headers)
            pending.article_ids.append(clean.article_id)
            pending.fetched_at.append(article.raw.fetched_at)
            if clean.published_at is not None:
                pending.published_at.append(clean.published_at)
        return "clean"

    def _dead_letter(self, message: Any, stage: str, error: BaseException, pending: _Pending) -> str:
        DEAD_LETTERS.labels(stage, type(error).__name__).inc()
        headers = dead_letter_headers(stage=stage, error=error, topic=message.topic, partition=message.partition,
                                      offset=message.offset, original=message.headers or ())
        self.output.send(self.topics.dead_letter, key=message.key, value=message.value, headers=headers)
        return "dead_letter"


def _seconds_since(moment: datetime, now: datetime) -> float:
    """Seconds from `moment` (naive means UTC) to `now`, never negative (clocks of other hosts drift)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (now - moment).total_seconds())
