"""Kafka wiring: producer, consumer and admin clients from settings, topic creation, dead-letter headers."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Iterable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.serializer import Serializer

from newswire import __version__
from newswire.settings import KafkaSettings, TopicSettings

__all__ = [
    "TopicSpec",
    "topic_specs",
    "client_config",
    "make_producer",
    "make_consumer",
    "make_admin",
    "ensure_topics",
    "dead_letter_headers",
    "wait_for_broker",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]


def topic_specs(topics: TopicSettings) -> list[TopicSpec]:
    """The topics newswire uses, with their partition counts and configs."""
    week = str(7 * 24 * 3600 * 1000)
    month = str(30 * 24 * 3600 * 1000)
    common = {"retention.ms": week, "max.message.bytes": str(16 * 1024 * 1024)}
    return [
        TopicSpec(topics.links, topics.partitions, topics.replication_factor, {"retention.ms": week}),
        TopicSpec(topics.raw, topics.partitions, topics.replication_factor, common),
        TopicSpec(topics.clean, topics.partitions, topics.replication_factor, {**common, "retention.ms": month}),
        TopicSpec(topics.duplicates, topics.partitions, topics.replication_factor, common),
        TopicSpec(topics.dead_letter, topics.dead_letter_partitions, topics.replication_factor,
                  {**common, "retention.ms": month}),
    ]


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    """Connection options shared by every client (bootstrap, client id, TLS and SASL)."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": settings.request_timeout_ms,
        "bootstrap_timeout_ms": settings.bootstrap_timeout_ms,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        config.update(ssl_cafile=_str(settings.ssl_cafile), ssl_certfile=_str(settings.ssl_certfile),
                      ssl_keyfile=_str(settings.ssl_keyfile), ssl_check_hostname=True)
    if settings.security_protocol.startswith("SASL"):
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
        if settings.sasl_password_file:
            password = settings.sasl_password_file.read_text().strip()
        config.update(sasl_mechanism=settings.sasl_mechanism, sasl_plain_username=settings.sasl_username,
                      sasl_plain_password=password)
    return config


def _str(value: object) -> str | None:
    return str(value) if value else None


class _KeySerializer(Serializer):
    """Message keys: str encoded as UTF-8, bytes as they are."""

    def serialize(self, topic: str, headers: Any, data: str | bytes | None) -> bytes | None:
        return data.encode("utf-8") if isinstance(data, str) else data


def make_producer(settings: KafkaSettings, **overrides: Any) -> KafkaProducer:
    """An idempotent producer (acks=all) with compression; fails loudly if idempotence cannot hold."""
    config = client_config(settings)
    config.update(
        enable_idempotence=True,
        acks="all",
        compression_type=None if settings.compression_type == "none" else settings.compression_type,
        linger_ms=5,
        max_request_size=16 * 1024 * 1024,
        key_serializer=_KeySerializer(),
    )
    config.update(overrides)
    return KafkaProducer(**config)


def make_consumer(settings: KafkaSettings, group_id: str | None, topics: Iterable[str] = (),
                  **overrides: Any) -> KafkaConsumer:
    """A consumer with manual commits that never auto-creates topics."""
    config = client_config(settings)
    config.update(
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        allow_auto_create_topics=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    config.update(overrides)
    consumer = KafkaConsumer(**config)
    topics = list(topics)
    if topics:
        consumer.subscribe(topics)
    return consumer


def make_admin(settings: KafkaSettings) -> KafkaAdminClient:
    return KafkaAdminClient(**client_config(settings))


def ensure_topics(kafka: KafkaSettings, topics: TopicSettings) -> dict[str, str]:
    """Create missing topics; returns {topic: 'created' | 'exists'}. Existing topics are left as they are."""
    admin = make_admin(kafka)
    try:
        existing = set(admin.list_topics())
        result: dict[str, str] = {}
        for spec in topic_specs(topics):
            if spec.name in existing:
                result[spec.name] = "exists"
                continue
            try:
                admin.create_topics({spec.name: {"num_partitions": spec.partitions,
                                                 "replication_factor": spec.replication_factor,
                                                 "configs": spec.configs}}, wait_for_metadata=True)
                result[spec.name] = "created"
            except TopicAlreadyExistsError:
                result[spec.name] = "exists"
            log.info("topic %s: %s", spec.name, result[spec.name],
                     extra={"topic": spec.name, "partitions": spec.partitions})
        return result
    finally:
        admin.close()


def dead_letter_headers(*, stage: str, error: BaseException | str, topic: str, partition: int, offset: int,
                        original: Iterable[tuple[str, bytes]] = ()) -> list[tuple[str, bytes]]:
    """Headers of a dead-letter record: where it came from and why it failed (plus the original headers)."""
    error_class = type(error).__name__ if isinstance(error, BaseException) else "Error"
    message = str(error)[:2000]
    headers = [
        ("newswire.dlq.stage", stage.encode()),
        ("newswire.dlq.error_class", error_class.encode()),
        ("newswire.dlq.error_message", message.encode("utf-8", "replace")),
        ("newswire.dlq.source_topic", topic.encode()),
        ("newswire.dlq.source_partition", str(partition).encode()),
        ("newswire.dlq.source_offset", str(offset).encode()),
        ("newswire.dlq.worker_version", __version__.encode()),
        ("newswire.dlq.failed_at", str(int(time.time() * 1000)).encode()),
    ]
    return headers + [(k, v) for k, v in original if not k.startswith("newswire.dlq.")]


def wait_for_broker(settings: KafkaSettings, timeout_seconds: float = 60.0) -> None:
    """Block until the broker answers a metadata request, or raise KafkaError after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    delay = 0.5
    while True:
        try:
            admin = make_admin(settings)
            try:
                admin.list_topics()
                return
            finally:
                admin.close()
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("broker not reachable yet (%s), retrying", exc)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
