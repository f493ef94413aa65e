"""Test support for ingest: misbehaving raw-socket servers, settings that let fetches reach 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable

from newswire.settings import HttpSettings

LOOPBACK = ("127.0.0.1/32",)


def http_settings(**overrides) -> HttpSettings:
    """HttpSettings allowing 127.0.0.1 only, with short limits so misbehaviour tests stay fast."""
    values = dict(allow_networks=LOOPBACK, connect_timeout_seconds=2.0, read_timeout_seconds=2.0,
                  total_timeout_seconds=5.0, user_agent="newswire-test/1.0 (+https://example.org/bot)")
    values.update(overrides)
    return HttpSettings(**values)


class RawServer:
    """A loopback TCP server whose `serve(conn)` writes whatever bytes, at whatever pace, it likes."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self._serve = serve
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            self._serve(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._stopped.set()
        self._sock.close()


def drip(headers_first: bool, interval: float = 0.05, seconds: float = 10.0) -> Callable[[socket.socket], None]:
    """A server that sends one byte every `interval` (of the body, or of the headers themselves)."""

    def serve(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
        if headers_first:
            conn.sendall(head)
            payload = b"x" * 100000
        else:
            payload = head + b"x" * 100000
        end = time.monotonic() + seconds
        for byte in payload:
            if time.monotonic() > end:
                return
            conn.sendall(bytes([byte]))
            time.sleep(interval)

    return serve
