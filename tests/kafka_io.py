"""Reading and writing test topics directly on the real broker."""

from __future__ import annotations

import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def read_topic(bootstrap: str, topic: str, expected: int | None = None, timeout: float = 20.0,
               settle: float = 1.0, isolation: str = "read_committed") -> list:
    """All records of `topic` visible under `isolation`, waiting until `expected` arrive or `timeout` passes.

    With `expected=None`, reads until the end offsets taken at the start are reached and nothing new arrived for
    `settle` seconds.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             isolation_level=isolation, auto_offset_reset="earliest")
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: list = []
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=200)
            for messages in batch.values():
                records.extend(messages)
            if batch:
                quiet_since = time.monotonic()
            if expected is not None and len(records) >= expected:
                # give extra records a moment to show up, so "exactly N" checks mean something
                extra_deadline = time.monotonic() + settle
                while time.monotonic() < extra_deadline:
                    for messages in consumer.poll(timeout_ms=200).values():
                        records.extend(messages)
                break
            if (expected is None and time.monotonic() - quiet_since > settle
                    and all(consumer.position(tp) >= ends[tp] for tp in partitions)):
                break
        return records
    finally:
        consumer.close(autocommit=False)


def produce(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
    """Send (key, value) pairs and wait for the acks."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=10_000)
    try:
        for key, value in items:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)
