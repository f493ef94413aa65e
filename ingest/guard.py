"""The address guard: which hosts a fetch may connect to, enforced on the socket actually opened.

A URL is checked before any request (scheme, literal address), and the connection classes below resolve the host
themselves, refuse the whole name if any resolved address is not public, connect to one validated address while
keeping the name for the Host header, SNI and certificate checks, and check the socket's peer address once more.
The check therefore holds after every redirect (each hop opens or reuses a guarded connection) and against DNS
rebinding (the address validated is the address connected to). Addresses in the allow-list pass (tests need
127.0.0.1; an operator may allow an internal mirror).

The connection classes also register their sockets with the current fetch's `Deadline`, which shuts them down
when the fetch's total time is spent: a server dripping one byte per read timeout cannot hold a fetch open. Name
resolution is inside that deadline too: `getaddrinfo` cannot be interrupted, so it runs on a small shared pool of
resolver threads and the fetch stops waiting for it when the connect timeout or the deadline (the shorter) runs
out; a resolver that hangs costs one pool thread, never the fetch.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout
from typing import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

__all__ = ["AddressRefused", "AddressGuard", "Deadline", "GuardedAdapter", "ResolveTimeout", "refusal_reason"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[tuple[int, str]]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """The guard refused a URL or an address; `reason` is a bounded label (loopback, private, scheme, ...).

    Deliberately not an OSError, so that urllib3 and requests let it through instead of retrying or wrapping it.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, NAT64, 6to4, Teredo client), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Why `ip` must not be fetched from, or None for a public unicast address."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        reason = refusal_reason(inner)
        if reason:
            return reason
        if ip.ipv4_mapped is not None:
            return None
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"  # includes the cloud metadata address 169.254.169.254
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "cgnat"  # also Alibaba's metadata address 100.100.100.200
    if ip.is_private:
        return "private"  # RFC 1918, unique-local (fd00:ec2::254 metadata), documentation, benchmarking
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


# Resolutions run here so that a fetch can stop waiting for one. Bounded: if every thread is stuck in a hanging
# resolver, later resolutions queue and time out instead of piling up threads.
_RESOLVER_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="resolve")


class ResolveTimeout(Exception):
    """Name resolution did not answer in time (the connect timeout or the fetch's total deadline)."""


def _system_resolver(host: str, port: int) -> list[tuple[int, str]]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys((family, sockaddr[0]) for family, _, _, _, sockaddr in infos))


class AddressGuard:
    """Decides which URLs and addresses may be fetched; `allow` lists networks that always pass."""

    def __init__(self, allow: Iterable[str] = (), schemes: Iterable[str] = ("http", "https"),
                 resolver: Resolver | None = None) -> None:
        self.allow = tuple(ipaddress.ip_network(n, strict=False) for n in allow)
        self.schemes = frozenset(s.lower() for s in schemes)
        self.resolver = resolver or _system_resolver

    def _allowed(self, ip: IPAddress) -> bool:
        inner = _embedded_ipv4(ip)
        return any(ip in net or (inner is not None and inner in net) for net in self.allow)

    def check_ip(self, address: str, host: str = "") -> None:
        """Raise AddressRefused unless `address` is public or allow-listed."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if self._allowed(ip):
            return
        reason = refusal_reason(ip)
        if reason:
            raise AddressRefused(reason, f"refused {reason} address {ip}" + (f" for {host}" if host else ""))

    def check_url(self, url: str) -> None:
        """Refuse a URL whose scheme is not allowed or whose host is a literal refused address."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in self.schemes:
            raise AddressRefused("scheme", f"refused scheme {parts.scheme!r} in {url}")
        host = parts.hostname
        if not host:
            raise AddressRefused("invalid_url", f"no host in {url}")
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return  # a name: checked when resolved, at connection time
        self.check_ip(host, host)

    def resolve(self, host: str, port: int, timeout: float | None = None) -> list[tuple[int, str]]:
        """Resolve `host`; refuse it if ANY address is refused (a mixed answer is how rebinding starts).

        With `timeout`, raise ResolveTimeout when the resolver has not answered after that many seconds.
        """
        host = host.strip("[]")
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            literal = True
        except ValueError:
            literal = False
        if literal:
            addresses = [(socket.AF_INET6 if ":" in host else socket.AF_INET, host)]
        elif timeout is None:
            addresses = list(self.resolver(host, port))
        else:
            future = _RESOLVER_POOL.submit(self.resolver, host, port)
            try:
                addresses = list(future.result(timeout=max(timeout, 0.0)))
            except FutureTimeout:
                future.cancel()
                raise ResolveTimeout(f"resolving {host} took more than {timeout:.1f}s") from None
        if not addresses:
            raise socket.gaierror(f"no address for {host}")
        for _, address in addresses:
            self.check_ip(address, host)
        return addresses


class Deadline:
    """The total time one fetch may take; shuts down the sockets registered with it when that time is up."""

    _current = threading.local()

    def __init__(self, seconds: float) -> None:
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.expired = False
        self._ends_at = time.monotonic() + max(seconds, 0.0)
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "Deadline":
        Deadline._current.value = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        Deadline._current.value = None

    @classmethod
    def remaining(cls) -> float | None:
        """Seconds left to the current thread's deadline (0 once expired), or None without one."""
        deadline = getattr(cls._current, "value", None)
        if deadline is None:
            return None
        return 0.0 if deadline.expired else max(0.0, deadline._ends_at - time.monotonic())

    @classmethod
    def register(cls, sock: socket.socket | None) -> None:
        """Put `sock` under the current thread's deadline, if there is one."""
        deadline = getattr(cls._current, "value", None)
        if deadline is None or sock is None:
            return
        with deadline._lock:
            if deadline.expired:
                _shutdown(sock)
            else:
                deadline._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _GuardedConnectionMixin:
    guard: AddressGuard

    def _new_conn(self) -> socket.socket:  # replaces urllib3's resolve-and-connect
        host, port = self._dns_host, self.port  # type: ignore[attr-defined]
        connect_timeout = self.timeout  # type: ignore[attr-defined]
        limits = [t for t in (connect_timeout, Deadline.remaining()) if isinstance(t, (int, float))]
        try:
            addresses = self.guard.resolve(host, port, timeout=min(limits) if limits else None)
        except ResolveTimeout as exc:
            raise ConnectTimeoutError(self, str(exc)) from exc
        except socket.gaierror as exc:
            raise NameResolutionError(host, self, exc) from exc  # type: ignore[arg-type]
        error: Exception | None = None
        for family, address in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            Deadline.register(sock)
            try:
                for option in self.socket_options or ():  # type: ignore[attr-defined]
                    sock.setsockopt(*option)
                if self.timeout is not None:  # type: ignore[attr-defined]
                    sock.settimeout(self.timeout)  # type: ignore[attr-defined]
                sock.connect((address, port))
                self.guard.check_ip(sock.getpeername()[0], host)  # the address actually connected to
                return sock
            except socket.timeout:
                sock.close()
                error = ConnectTimeoutError(self, f"connection to {host} timed out")
            except OSError as exc:
                sock.close()
                error = NewConnectionError(self, f"failed to connect to {host}: {exc}")  # type: ignore[arg-type]
            except AddressRefused:
                sock.close()
                raise
        assert error is not None
        raise error

    def request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        Deadline.register(getattr(self, "sock", None))  # a kept-alive connection reused by this fetch
        return super().request(*args, **kwargs)  # type: ignore[misc]


class GuardedAdapter(HTTPAdapter):
    """A requests transport whose every connection goes through `guard`."""

    def __init__(self, guard: AddressGuard, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.guard = guard
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        attrs = {"guard": self.guard}
        http_conn = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), attrs)
        https_conn = type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), attrs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
        }
