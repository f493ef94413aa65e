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
    "MAX_RECORD_BYTES",
    "TopicSpec",
    "topic_specs",
    "client_config",
    "make_producer",
    "make_consumer",
    "make_admin",
    "ensure_topics",
    "dead_letter_headers",
    "wait_for_broker",
    "check_broker",
    "refusal_reason",
    "KafkaAccessDenied",
    "KafkaUnavailable",
]

log = logging.getLogger(__name__)

# Topics accept 16 MiB messages (`topic_specs`), and so does the producer. A single record above MAX_RECORD_BYTES
# (margin for headers and batch overhead) is refused before sending: the broker would reject it, and a rejected
# send can leave a kafka-python producer failing every later send. Callers dead-letter such records instead.
MAX_REQUEST_BYTES = 16 * 1024 * 1024
MAX_RECORD_BYTES = 15 * 1024 * 1024


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
    """Connection options shared by every client (producer, consumer, admin): bootstrap, client id, TLS, SASL.

    The names are kafka-python 3.0's. TLS options are set only for SSL / SASL_SSL, SASL options only for
    SASL_*; secrets in files are read here, at connection time, so a rotated secret is used by the next client.
    """
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": settings.request_timeout_ms,
        "bootstrap_timeout_ms": settings.bootstrap_timeout_ms,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        config.update(ssl_cafile=_str(settings.ssl_cafile), ssl_certfile=_str(settings.ssl_certfile),
                      ssl_keyfile=_str(settings.ssl_keyfile), ssl_password=settings.ssl_password_value(),
                      ssl_crlfile=_str(settings.ssl_crlfile), ssl_check_hostname=settings.ssl_check_hostname)
    if settings.security_protocol.startswith("SASL"):
        config.update(sasl_mechanism=settings.sasl_mechanism, sasl_plain_username=settings.sasl_username,
                      sasl_plain_password=settings.sasl_password_value())
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
        max_request_size=MAX_REQUEST_BYTES,
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
    """An admin client with the same connection and security options as the producers and consumers."""
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


class KafkaUnavailable(KafkaError):
    """No broker answered within the time allowed; it may come up later."""

    retriable = True


class KafkaAccessDenied(KafkaError):
    """A broker answered but refused the connection (TLS or SASL): retrying with the same settings cannot help."""

    retriable = False


# Connection errors kafka-python logs that mean "nothing listens there (yet)": worth retrying.
_UNREACHABLE = ("ECONNREFUSED", "Connection refused", "timed out", "Name or service not known",
                "Temporary failure in name resolution", "No route to host", "ENETUNREACH", "EHOSTUNREACH")


class _ConnectionErrors(logging.Handler):
    """Collects kafka-python's connection error messages during one bootstrap attempt.

    kafka-python 3.0 reports a failed bootstrap only as "Unable to bootstrap"; the reason is in its log. And
    a wrong SASL password shows up there as "socket disconnected": the broker sends its authentication error
    and closes at once, and kafka-python drops the bytes that arrive together with the end of the stream.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "Connection lost" in message or "Connection failed" in message or "Handshake failed" in message:
            self.messages.append(message.rsplit(">: ", 1)[-1][:300])


def refusal_reason(settings: KafkaSettings, messages: Iterable[str]) -> str | None:
    """Why the broker refused us, with a hint at the settings to check; None when nothing answered at all."""
    messages = list(messages)
    answered = [m for m in messages if not any(marker in m for marker in _UNREACHABLE)]
    if not answered:
        return None
    last = answered[-1]
    text = " ".join(answered)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        hint = "the broker's certificate is not trusted: check kafka.ssl_cafile and kafka.ssl_check_hostname"
    elif "BAD_CERTIFICATE" in text or "CERTIFICATE_REQUIRED" in text or "UNKNOWN_CA" in text:
        hint = "the broker did not accept our client certificate: check kafka.ssl_certfile and kafka.ssl_keyfile"
    elif "Handshake failed" in text or "SSL" in text:
        hint = "the TLS handshake failed: does the listener speak TLS (kafka.security_protocol)?"
    elif "UnsupportedSaslMechanism" in text:
        hint = "the broker does not offer kafka.sasl_mechanism"
    elif settings.security_protocol.startswith("SASL"):
        hint = (f"SASL {settings.sasl_mechanism} authentication as {settings.sasl_username!r} failed: check "
                "kafka.sasl_username, kafka.sasl_password and kafka.sasl_mechanism (or the listener's protocol)")
    else:
        hint = (f"the listener does not accept {settings.security_protocol} clients: it may require TLS or SASL "
                "(kafka.security_protocol)")
    return f"{hint} (last error: {last})"


def check_broker(settings: KafkaSettings, timeout_seconds: float = 5.0) -> None:
    """One connection attempt with an admin client. Raises KafkaAccessDenied when a broker answers but refuses
    the connection, KafkaUnavailable when none answers within `timeout_seconds`."""
    attempt = settings.model_copy(update={"bootstrap_timeout_ms": max(500, int(timeout_seconds * 1000))})
    errors = _ConnectionErrors()
    kafka_log = logging.getLogger("kafka")
    kafka_log.addHandler(errors)
    try:
        admin = make_admin(attempt)
        try:
            admin.list_topics()
            return
        finally:
            admin.close()
    except KafkaError as exc:
        failure: KafkaError = exc
    finally:
        kafka_log.removeHandler(errors)
    where = f"{settings.bootstrap_servers} ({settings.security_protocol}"
    where += f", {settings.sasl_mechanism} as {settings.sasl_username!r})" if settings.sasl_mechanism else ")"
    reason = refusal_reason(settings, errors.messages)
    if reason is not None:
        raise KafkaAccessDenied(f"Kafka at {where} refused the connection: {reason}")
    last = errors.messages[-1] if errors.messages else str(failure)
    raise KafkaUnavailable(f"no Kafka broker answered at {where} (last error: {last})")


def wait_for_broker(settings: KafkaSettings, timeout_seconds: float = 60.0) -> None:
    """Block until the broker answers a metadata request. Raises KafkaAccessDenied at once when the broker
    refuses our TLS or SASL settings, KafkaUnavailable when none answered within `timeout_seconds`."""
    deadline = time.monotonic() + timeout_seconds
    delay = 0.5
    while True:
        try:
            check_broker(settings, timeout_seconds=min(5.0, max(1.0, deadline - time.monotonic())))
            return
        except KafkaUnavailable as exc:
            if time.monotonic() > deadline:
                raise KafkaUnavailable(f"{exc} after {timeout_seconds:.0f}s") from None
            log.warning("broker not reachable yet (%s), retrying", exc)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
