#!/usr/bin/env python3
"""Stdlib-only helper for deploy/kafka-local.

Subcommands:
  cluster-id                 print a new KRaft cluster id (urlsafe base64 of uuid4 bytes, no padding,
                             i.e. the same format as `kafka-storage.sh random-uuid`)
  check  [--bootstrap H:P]   one readiness probe; exit 0 if a Kafka broker answers, 1 if nothing
                             listens on the port, 3 if something listens but does not answer as Kafka
  wait   [--bootstrap H:P] [--timeout S] [--pid PID]
                             probe until ready (exit 0), the deadline passes (exit 1) or PID dies (exit 2)

"Ready" means a real protocol round trip: ApiVersions (v0) followed by a Metadata request
(non-flexible v1..v8) whose answer lists at least one broker. A bare TCP connect is not enough:
the broker opens its socket before it processes requests.
"""
from __future__ import annotations

import argparse
import base64
import os
import socket
import struct
import sys
import time
import uuid

API_METADATA = 3
API_VERSIONS = 18
CLIENT_ID = b"newswire-kafka-ready"


class NotKafka(Exception):
    """Something answered on the port, but not like a ready Kafka broker."""


def cluster_id() -> str:
    """A random KRaft cluster id, drawn again when it starts with "-" as Kafka's own `Uuid.randomUuid` does: the
    storage tool would read such an id as an option ("--cluster-id: expected one argument"), 1 format in 64."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cid.startswith("-"):
            return cid


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise NotKafka("connection closed by peer")
        buf += chunk
    return bytes(buf)


def _request(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    # request header v1: api_key, api_version, correlation_id, client_id (nullable string)
    header = struct.pack(">hhih", api_key, version, corr, len(CLIENT_ID)) + CLIENT_ID
    msg = header + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    if size < 4 or size > 64 * 1024 * 1024:
        raise NotKafka(f"implausible response size {size}")
    resp = _recv_exact(sock, size)
    (rcorr,) = struct.unpack_from(">i", resp, 0)  # response header v0
    if rcorr != corr:
        raise NotKafka(f"correlation id mismatch ({rcorr} != {corr})")
    return resp[4:]


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        vals = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return vals if len(vals) > 1 else vals[0]

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s


def probe(host: str, port: int, timeout: float = 5.0) -> dict:
    """One round trip. Returns {"brokers": [...], "cluster_id": ..., "metadata_version": ...}.

    Raises ConnectionRefusedError/OSError when nothing listens, NotKafka/socket.timeout otherwise.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        try:
            r = _Reader(_request(sock, API_VERSIONS, 0, 1, b""))
            err = r.take(">h")
            if err != 0:
                raise NotKafka(f"ApiVersions error code {err}")
            ranges = {}
            for _ in range(r.take(">i")):
                key, lo, hi = r.take(">hhh")
                ranges[key] = (lo, hi)
        except struct.error as exc:
            raise NotKafka(f"unparseable ApiVersions response: {exc}") from None
        if API_METADATA not in ranges:
            raise NotKafka("broker does not advertise the Metadata API")
        lo, hi = ranges[API_METADATA]
        version = max(lo, 4)
        if version > min(hi, 8):
            # only flexible (v9+) versions left; ApiVersions answered, so call it ready
            return {"brokers": [], "cluster_id": None, "metadata_version": None}
        body = struct.pack(">i", 0)                # topics: empty array -> no topic metadata
        body += struct.pack(">?", False)           # allow_auto_topic_creation (v4+)
        if version >= 8:
            body += struct.pack(">??", False, False)  # include_*_authorized_operations
        try:
            r = _Reader(_request(sock, API_METADATA, version, 2, body))
            r.take(">i")  # throttle_time_ms (v3+)
            brokers = []
            for _ in range(r.take(">i")):
                node_id = r.take(">i")
                bhost = r.string()
                bport = r.take(">i")
                r.string()  # rack (v1+)
                brokers.append((node_id, bhost, bport))
            cid = r.string()  # cluster_id (v2+)
        except struct.error as exc:
            raise NotKafka(f"unparseable Metadata response: {exc}") from None
        if not brokers:
            raise NotKafka("Metadata lists no live broker yet")
        return {"brokers": brokers, "cluster_id": cid, "metadata_version": version}


def _split(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.rpartition(":")
    return host or "127.0.0.1", int(port)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still "exists"; treat it as dead
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("cluster-id")
    for name in ("check", "wait"):
        p = sub.add_parser(name)
        p.add_argument("--bootstrap", default="127.0.0.1:9092")
        p.add_argument("--probe-timeout", type=float, default=5.0)
        p.add_argument("-q", "--quiet", action="store_true")
        if name == "wait":
            p.add_argument("--timeout", type=float, default=90.0)
            p.add_argument("--interval", type=float, default=0.5)
            p.add_argument("--pid", type=int, default=None, help="give up early if this process exits")
    args = ap.parse_args(argv)

    if args.cmd == "cluster-id":
        print(cluster_id())
        return 0

    host, port = _split(args.bootstrap)

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"kafka_ready: {msg}", file=sys.stderr)

    if args.cmd == "check":
        try:
            info = probe(host, port, args.probe_timeout)
        except (ConnectionRefusedError, socket.gaierror) as exc:
            say(f"nothing listening on {host}:{port} ({exc})")
            return 1
        except (NotKafka, OSError) as exc:
            say(f"{host}:{port} is listening but not answering as a ready Kafka broker: {exc}")
            return 3
        say(f"broker ready at {host}:{port}: {info}")
        return 0

    deadline = time.monotonic() + args.timeout
    last = "no attempt made"
    while True:
        if args.pid is not None and not _pid_alive(args.pid):
            say(f"broker process {args.pid} exited ({last})")
            return 2
        try:
            info = probe(host, port, min(args.probe_timeout, max(0.5, deadline - time.monotonic())))
            say(f"broker ready at {host}:{port}: {info}")
            return 0
        except (NotKafka, OSError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            say(f"gave up after {args.timeout:.0f}s; last error: {last}")
            return 1
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
