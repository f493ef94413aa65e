"""The service shell: logging, the /metrics + /healthz + /readyz endpoint, and SIGTERM handling.

`/healthz` answers 200 while the main loop has beaten within its liveness window; it never looks at Kafka or the
database, so an outage of either makes a service NotReady without a restart storm. `/readyz` answers 200 only
while the service says it is connected and working (`Health.set_ready`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from newswire import __version__
from newswire.metrics import BUILD_INFO, LOOP_HEARTBEAT

__all__ = ["Health", "StatusServer", "configure_logging", "install_stop_handlers", "retry_until_stopped",
           "EXIT_GRACE_EXCEEDED"]

log = logging.getLogger(__name__)


class Health:
    """Liveness (a heartbeat from the main loop) and readiness (set by the service), shared with the endpoint."""

    def __init__(self, service: str, liveness_window_seconds: float = 120.0) -> None:
        self.service = service
        self.liveness_window = liveness_window_seconds
        self._beat = time.monotonic()
        self._ready = False
        self._reason = "starting"

    def beat(self) -> None:
        """Record one iteration of the main loop."""
        self._beat = time.monotonic()
        LOOP_HEARTBEAT.labels(self.service).set(time.time())

    def set_ready(self, ready: bool, reason: str = "") -> None:
        """Say whether the service is connected and doing its work."""
        if ready != self._ready:
            log.info("readiness changed", extra={"ready": ready, "reason": reason, "service": self.service})
        self._ready, self._reason = ready, reason

    def alive(self) -> tuple[bool, str]:
        age = time.monotonic() - self._beat
        return age <= self.liveness_window, f"last loop iteration {age:.1f}s ago"

    def ready(self) -> tuple[bool, str]:
        return self._ready, self._reason or "ready"


T = TypeVar("T")


def retry_until_stopped(action: Callable[[], T], *, stop: threading.Event, errors: tuple[type[BaseException], ...],
                        first_delay: float, max_delay: float, health: Health, what: str) -> T | None:
    """Call `action` until it succeeds or `stop` is set; None if stopped first.

    After each failure in `errors` the service stays alive but NotReady (a dependency outage must not cause a
    restart storm), logs the failure and waits, doubling the wait up to `max_delay`.
    """
    delay = first_delay
    while not stop.is_set():
        health.beat()
        try:
            return action()
        except errors as exc:
            health.set_ready(False, f"{what}: {exc}")
            log.warning("%s, retrying in %.1fs: %s", what, delay, exc)
            stop.wait(delay)
            delay = min(delay * 2, max_delay)
    return None


class StatusServer:
    """Serves /metrics, /healthz and /readyz from a daemon thread."""

    def __init__(self, health: Health, host: str, port: int) -> None:
        self.health = health
        handler = _make_handler(health)
        server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
        self._server = server_class((host, port), handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="status-http", daemon=True)

    def start(self) -> "StatusServer":
        BUILD_INFO.info({"version": __version__})
        self._thread.start()
        log.info("status endpoint listening", extra={"host": self.host, "port": self.port})
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _IPv6Server(ThreadingHTTPServer):
    """Binds an IPv6 address; "::" also accepts IPv4 clients where the system allows dual-stack sockets."""

    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        if self.server_address[0] == "::":
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def _make_handler(health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/livez"):
                self._status(*health.alive())
            elif path == "/readyz":
                self._status(*health.ready())
            else:
                self._send(404, b"not found\n", "text/plain")

        def _status(self, ok: bool, detail: str) -> None:
            body = json.dumps({"status": "ok" if ok else "fail", "service": health.service, "detail": detail})
            self._send(200 if ok else 503, body.encode() + b"\n", "application/json")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # keep probes out of the logs
            pass

    return Handler


def install_stop_handlers(stop: threading.Event, grace_seconds: float | None = None) -> None:
    """Set `stop` on SIGTERM and SIGINT; a second signal exits at once.

    With `grace_seconds`, the first signal also arms a watchdog: a process still running that long after it
    (a batch stuck on an unreachable broker or store) exits with status 70, so the grace period holds even
    when the polite path does not. Nothing committed is lost: uncommitted records are consumed again.
    """

    def handle(signum: int, _frame: object) -> None:
        if stop.is_set():
            log.warning("second signal, exiting now", extra={"signal": signum})
            sys.exit(128 + signum)
        log.info("stop requested, finishing in-flight work", extra={"signal": signum, "grace_seconds": grace_seconds})
        stop.set()
        if grace_seconds is not None:
            threading.Thread(target=_exit_after, args=(grace_seconds,), name="shutdown-watchdog",
                             daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)


EXIT_GRACE_EXCEEDED = 70  # EX_SOFTWARE: told apart from a clean stop (0) and a crash (1) in the logs of the runtime


def _exit_after(grace_seconds: float) -> None:
    time.sleep(grace_seconds)
    log.error("still running %.1fs after the stop signal, exiting without finishing", grace_seconds,
              extra={"grace_seconds": grace_seconds})
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_GRACE_EXCEEDED)


_STD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STD_ATTRS})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STD_ATTRS)
        return f"{base} {extras}" if extras else base


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Log to stderr, as text for people or JSON lines with stable keys for collectors."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        formatter: logging.Formatter = _JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kafka", "trafilatura", "htmldate", "urllib3", "charset_normalizer"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
