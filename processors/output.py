"""The processor's output: a transactional producer that commits a batch's records and its consumed offsets together.

Every batch is one Kafka transaction (KIP-98): the clean, duplicate and dead-letter records it produced and the
raw-topic offsets it consumed (sent with the consumer's group metadata, KIP-447) become visible to `read_committed`
consumers atomically, or not at all. A worker that lost its partitions while paused (a zombie) is fenced by the
group generation: its offset commit is refused and its transaction aborted, so its output never appears.

kafka-python's `commit_transaction()` and `send_offsets_to_transaction()` wait without a time limit. A worker must
keep its liveness heartbeat going and must not hang forever on a broker that does not answer, so this module
drives the same transaction-manager requests itself and waits in short slices with a deadline. When the deadline
passes, or on a fatal error, the producer is thrown away and a new one is initialised under the same
transactional id: that fences the old producer epoch and aborts whatever it left open (the Jepsen/Bufstream
advice: re-create producers on indefinite errors). The private attributes used are pinned with kafka-python
(`>=3.0.11,<3.1` in pyproject.toml).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any, Callable, Mapping

from kafka import KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.producer.transaction_manager import TransactionState
from kafka.structs import OffsetAndMetadata

from newswire.metrics import TRANSACTIONS

__all__ = ["TransactionFailed", "TransactionalOutput", "transactional_id_for"]

log = logging.getLogger(__name__)


class TransactionFailed(Exception):
    """The batch's transaction did not commit; its records are invisible and its offsets not advanced."""


def transactional_id_for(group_id: str, prefix: str | None, index: int = 0) -> str:
    """The transactional id of one processor process.

    With a configured `prefix` (a pod name in a StatefulSet, a fixed name per host) the id is stable across
    restarts, so a restarted worker fences its predecessor and aborts its open transaction at once. Without one
    it is unique to this process (host and pid): two processes can never fence each other by mistake, and a
    crashed worker's open transaction is aborted by the broker after `transaction_timeout_ms`.
    """
    base = prefix or f"{group_id}-{socket.gethostname()}-{os.getpid()}"
    return f"{base}-{index}"


class TransactionalOutput:
    """One transaction per batch over a producer that is re-created when it cannot go on."""

    def __init__(self, factory: Callable[[], KafkaProducer], *, commit_timeout_seconds: float,
                 beat: Callable[[], None] = lambda: None) -> None:
        self._factory = factory
        self._commit_timeout = commit_timeout_seconds
        self._beat = beat
        self.producer: KafkaProducer | None = None
        self._open = False

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> TransactionalOutput:
        """Create the producer and initialise its transactional state (fences older epochs of the same id)."""
        producer = self._factory()
        try:
            producer.init_transactions()
        except BaseException:
            producer.close(timeout=0)
            raise
        self.producer = producer
        self._open = False
        return self

    def close(self, timeout_seconds: float) -> None:
        """Abort an unfinished transaction and close the producer."""
        if self.producer is None:
            return
        if self._open:
            self.abort()
        if self.producer is not None:
            self.producer.close(timeout=timeout_seconds)
            self.producer = None

    # -- one batch ----------------------------------------------------------------------------------------
    def begin(self) -> None:
        """Open the batch's transaction, first re-creating the producer if an earlier failure dropped it."""
        try:
            if self.producer is None:
                self.start()
            assert self.producer is not None
            self.producer.begin_transaction()
        except KafkaError as exc:
            self._replace(f"begin failed: {exc!r}")
            raise TransactionFailed(f"could not begin a transaction: {exc}") from exc
        self._open = True

    def send(self, topic: str, *, key: Any, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
        assert self.producer is not None and self._open
        return self.producer.send(topic, key=key, value=value, headers=headers)

    def flush(self) -> None:
        """Wait until every record of the open transaction is in the broker's log (not yet visible)."""
        assert self.producer is not None
        try:
            self.producer.flush(timeout=self._commit_timeout)
        except KafkaError as exc:
            raise TransactionFailed(f"records not acknowledged: {exc}") from exc

    def commit(self, offsets: Mapping[TopicPartition, int], group_metadata: Any) -> None:
        """Add `offsets` (next offset to read, per partition) to the transaction and commit it."""
        assert self.producer is not None and self._open
        manager = self.producer._transaction_manager
        deadline = time.monotonic() + self._commit_timeout
        try:
            if offsets:
                committed = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()}
                self._wait(manager.send_offsets_to_transaction(committed, group_metadata), deadline, "offsets")
            self._wait(manager.begin_commit(), deadline, "commit")
        except (KafkaError, TransactionFailed) as exc:
            TRANSACTIONS.labels("aborted").inc()
            self.abort()
            raise TransactionFailed(f"transaction not committed: {exc}") from exc
        self._open = False
        TRANSACTIONS.labels("committed").inc()

    def abort(self) -> None:
        """Abort the open transaction; if the producer cannot, replace it (which aborts through fencing)."""
        if self.producer is None:
            return
        manager = self.producer._transaction_manager
        try:
            if manager._current_state in (TransactionState.IN_TRANSACTION, TransactionState.ABORTABLE_ERROR):
                self._wait(manager.begin_abort(), time.monotonic() + self._commit_timeout, "abort")
            self._open = False
        except (KafkaError, TransactionFailed) as exc:
            self._replace(f"abort failed: {exc!r}")

    # -- internals ----------------------------------------------------------------------------------------
    def _wait(self, result: Any, deadline: float, what: str) -> None:
        assert self.producer is not None
        self.producer._sender.wakeup()
        while not result.wait(timeout_ms=500):
            self._beat()
            if time.monotonic() > deadline:
                raise TransactionFailed(f"transaction {what} timed out after {self._commit_timeout:.0f}s")

    def _replace(self, reason: str) -> None:
        """Drop the producer; the next `begin()` starts a new one under the same id, fencing the old epoch."""
        log.warning("re-creating the transactional producer: %s", reason)
        if self.producer is not None:
            try:
                self.producer.close(timeout=0)
            except Exception:  # noqa: BLE001 - a broken producer may fail to close; it is being discarded
                log.debug("closing the broken producer failed", exc_info=True)
        self.producer = None
        self._open = False

