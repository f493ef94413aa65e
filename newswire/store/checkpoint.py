"""SQLite WAL checkpoints on a background thread, off the path of the transactions that trigger them.

With SQLite's default automatic checkpoint, the commit that pushes the write-ahead log past 1,000 pages copies
every page in it back into the database file and syncs it, inside that commit: one dedupe decision in ~30 pays
for all of them (tens of milliseconds, which is the whole p99 of a decision; `benchmarks/dedupe_scaling.py`).
SQLite's documentation suggests the remedy used here: a separate connection runs PASSIVE checkpoints on a
timer (they never block readers or writers, and give way when another checkpoint runs), and the writing
connections keep an automatic checkpoint only as a much larger backstop, so the log stays bounded even if this
thread falls behind or stops.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

__all__ = ["WalCheckpointer", "BACKSTOP_PAGES"]

log = logging.getLogger(__name__)

# wal_autocheckpoint of the writing connections: 16,000 pages (64 MB at 4 KiB) — ten to a hundred times what
# the background thread lets the log reach, so it only fires when the thread is not keeping up.
BACKSTOP_PAGES = 16_000


class WalCheckpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` on its own connection every `interval` seconds until stopped."""

    def __init__(self, path: str, interval: float = 0.5) -> None:
        self.path = path
        self.interval = interval
        self.runs = 0  # checkpoints completed (for tests and curiosity)
        self.pages_copied = 0  # WAL frames copied back to the database file, summed over runs
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"wal-checkpoint:{path}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=1.0)
        try:
            while not self._stop.wait(self.interval):
                try:
                    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # a locked or vanished file: the backstop still bounds the log
                    log.debug("background checkpoint of %s failed: %s", self.path, exc)
                    continue
                self.runs += 1
                self.pages_copied += max(0, int(copied))
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the thread (and close its connection); waits for a checkpoint in progress to finish."""
        self._stop.set()
        self._thread.join(timeout=30)
