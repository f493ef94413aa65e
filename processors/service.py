"""The processor service: wires settings into a consumer, producer, store, pipeline and worker, and runs it."""

from __future__ import annotations

import logging
import threading
import time

from kafka import TopicPartition

from newswire.kafka import make_consumer, make_producer
from newswire.service import Health, retry_until_stopped
from newswire.settings import Settings
from newswire.store import Store, StoreUnavailable, open_store
from processors.output import TransactionalOutput, transactional_id_for
from processors.pipeline import build_pipeline
from processors.worker import Worker, WorkerStats

__all__ = ["run_processor", "run_replay"]

log = logging.getLogger(__name__)

# Bounded prefetch: the consumer buffers at most this much raw HTML ahead of the worker (memory per worker).
# A record larger than the per-partition limit is still fetched whole (the broker returns the first batch
# regardless), so this never blocks a partition.
FETCH_LIMITS = {"fetch_max_bytes": 4 * 1024 * 1024, "max_partition_fetch_bytes": 1024 * 1024}


def _worker(settings: Settings, consumer, store: Store, health: Health, stop: threading.Event, *,
            group_id: str, index: int = 0) -> Worker:
    """A worker over `consumer` with its own transactional producer and the production pipeline."""
    options = settings.processor
    transactional_id = transactional_id_for(group_id, options.transactional_id_prefix, index)
    output = TransactionalOutput(
        lambda: make_producer(settings.kafka, transactional_id=transactional_id,
                              transaction_timeout_ms=options.transaction_timeout_ms),
        commit_timeout_seconds=options.commit_timeout_seconds, beat=health.beat)
    log.info("transactional producer %s", transactional_id)
    return Worker(consumer=consumer, output=output, store=store, pipeline=build_pipeline(store, options),
                  topics=settings.topics, options=options, health=health, stop=stop)


def _close(worker: Worker, grace_seconds: float) -> None:
    try:
        worker.output.close(timeout_seconds=min(10.0, grace_seconds))
    finally:
        worker.consumer.close(autocommit=False)


def run_processor(settings: Settings, *, health: Health, stop: threading.Event, store: Store | None = None,
                  max_records: int | None = None, idle_exit_seconds: float | None = None,
                  index: int = 0) -> WorkerStats:
    """Consume the raw topic in the processor group until stopped (SIGTERM finishes the batch and commits)."""
    own_store = store is None
    options = settings.processor
    store = store or retry_until_stopped(lambda: open_store(settings.store_url()), stop=stop,
                                         errors=(StoreUnavailable,), first_delay=options.retry_backoff_seconds,
                                         max_delay=options.retry_backoff_max_seconds, health=health,
                                         what="store unreachable")
    if store is None:
        return WorkerStats()
    consumer = make_consumer(settings.kafka, settings.processor.group_id, [settings.topics.raw],
                             session_timeout_ms=settings.processor.session_timeout_ms,
                             heartbeat_interval_ms=max(500, settings.processor.session_timeout_ms // 3), **FETCH_LIMITS)
    worker = _worker(settings, consumer, store, health, stop, group_id=settings.processor.group_id, index=index)
    log.info("processor started", extra={"group": settings.processor.group_id, "topic": settings.topics.raw,
                                         "stages": ",".join(worker.pipeline.names)})
    try:
        return worker.run(max_records=max_records, idle_timeout_seconds=idle_exit_seconds)
    finally:
        _close(worker, settings.service.shutdown_grace_seconds)
        if own_store:
            store.close()
        log.info("processor stopped: %s", dict(worker.stats.outcomes))


def run_replay(settings: Settings, *, health: Health, stop: threading.Event, group_id: str,
               from_timestamp_ms: int | None = None, follow: bool = False) -> WorkerStats:
    """Re-process the raw topic from the beginning (or a time) in a fresh group; stops at the end unless follow."""
    store = open_store(settings.store_url())
    consumer = make_consumer(settings.kafka, group_id, **FETCH_LIMITS)
    partitions = [TopicPartition(settings.topics.raw, p)
                  for p in sorted(consumer.partitions_for_topic(settings.topics.raw) or ())]
    if not partitions:
        raise SystemExit(f"topic {settings.topics.raw} has no partitions (run `newswire topics ensure`)")
    consumer.assign(partitions)
    if from_timestamp_ms is None:
        consumer.seek_to_beginning(*partitions)
    else:
        found = consumer.offsets_for_times({tp: from_timestamp_ms for tp in partitions})
        ends = consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, found[tp].offset if found.get(tp) else ends[tp])
    end_offsets = None if follow else consumer.end_offsets(partitions)
    worker = _worker(settings, consumer, store, health, stop, group_id=group_id)
    started = time.monotonic()
    log.info("replay started", extra={"group": group_id, "partitions": len(partitions),
                                      "records": sum(end_offsets.values()) if end_offsets else "follow"})
    try:
        return worker.run(end_offsets=end_offsets)
    finally:
        _close(worker, settings.service.shutdown_grace_seconds)
        store.close()
        log.info("replay finished in %.1fs: %s", time.monotonic() - started, dict(worker.stats.outcomes))
