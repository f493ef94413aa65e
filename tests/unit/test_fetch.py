"""Hardened fetching against the local server: guard, redirects, size cap, gzip bomb, slow drip, charset."""

from __future__ import annotations

import gzip
import ipaddress
import socket
import threading
import time

import pytest

from ingest.charset import decode_page
from ingest.guard import AddressGuard, refusal_reason
from ingest.http import FetchError, Fetcher, gunzip_capped, retry_after_seconds
from tests.conftest import Route
from tests.ingest_support import RawServer, drip, http_settings


@pytest.fixture
def fetcher():
    f = Fetcher(http_settings())
    yield f
    f.close()


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.1", "private"),
    ("172.16.5.4", "private"), ("169.254.169.254", "link_local"), ("fe80::1", "link_local"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("100.64.0.1", "cgnat"), ("100.100.100.200", "cgnat"),
    ("0.0.0.0", "unspecified"), ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link_local"),
    ("64:ff9b::7f00:1", "loopback"), ("2002:0a00:0001::1", "private"), ("fd00:ec2::254", "private"),
    ("240.0.0.1", "private"), ("8.8.8.8", None), ("2606:4700:4700::1111", None), ("::ffff:8.8.8.8", None),
])
def test_refusal_reasons(address, reason):
    assert refusal_reason(ipaddress.ip_address(address)) == reason


def test_guard_refuses_loopback_without_allow_list(http_server):
    http_server.routes["/feed"] = Route(200, b"ok")
    fetcher = Fetcher(http_settings(allow_networks=()))
    with pytest.raises(FetchError) as err:
        fetcher.get(http_server.url("/feed"))
    assert err.value.kind == "refused" and "loopback" in str(err.value)
    # A name resolving to loopback is refused at connection time, too.
    with pytest.raises(FetchError) as err:
        fetcher.get(f"http://localhost:{http_server.port}/feed")
    assert err.value.kind == "refused"
    assert http_server.requests == []  # nothing ever reached the server


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/admin",
                                    "http://[::ffff:127.0.0.2]/", "http://127.0.0.2:{port}/x",
                                    "file:///etc/passwd", "gopher://127.0.0.1/"])
def test_guard_refuses_a_redirect_into_a_private_address(http_server, fetcher, target):
    http_server.routes["/r"] = Route(302, b"", {"Location": target.format(port=http_server.port)})
    with pytest.raises(FetchError) as err:
        fetcher.get(http_server.url("/r"))
    assert err.value.kind == "refused"
    assert [path for path, _ in http_server.requests] == ["/r"]


def test_connection_goes_to_the_validated_address_with_the_name_kept(http_server):
    """A name is resolved once by the guard; the socket connects to that very address, Host stays the name."""
    http_server.routes["/page"] = Route(200, b"hello")
    answers = {"news.test": [(socket.AF_INET, "127.0.0.1")], "evil.test": [(socket.AF_INET, "10.0.0.5")],
               "mixed.test": [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "10.0.0.5")]}
    guard = AddressGuard(allow=["127.0.0.1/32"], resolver=lambda host, port: answers[host])
    fetcher = Fetcher(http_settings(), guard=guard)
    result = fetcher.get(f"http://news.test:{http_server.port}/page")
    assert result.body == b"hello"
    assert http_server.requests[-1][1]["host"] == f"news.test:{http_server.port}"
    for name in ("evil.test", "mixed.test"):  # a mixed answer is refused whole: rebinding starts that way
        with pytest.raises(FetchError) as err:
            fetcher.get(f"http://{name}:{http_server.port}/page")
        assert err.value.kind == "refused"
    assert len(http_server.requests) == 1


def test_redirects_followed_and_limited(http_server, fetcher):
    for i in range(8):
        http_server.routes[f"/hop{i}"] = Route(301, b"", {"Location": f"/hop{i + 1}"})
    http_server.routes["/hop8"] = Route(200, b"end")
    with pytest.raises(FetchError) as err:
        fetcher.get(http_server.url("/hop0"))  # 8 redirects > max_redirects (5)
    assert err.value.kind == "redirects"
    result = fetcher.get(http_server.url("/hop4"))
    assert result.body == b"end" and result.redirects == 4 and result.final_url.endswith("/hop8")


def test_redirect_loop(http_server, fetcher):
    http_server.routes["/a"] = Route(302, b"", {"Location": "/b"})
    http_server.routes["/b"] = Route(302, b"", {"Location": "/a"})
    with pytest.raises(FetchError) as err:
        fetcher.get(http_server.url("/a"))
    assert err.value.kind == "redirect_loop"
    assert len(http_server.requests) == 2


def test_size_cap(http_server):
    fetcher = Fetcher(http_settings(max_bytes=100_000))
    http_server.routes["/big"] = Route(200, b"x" * 200_000)
    http_server.routes["/ok"] = Route(200, b"x" * 90_000)
    with pytest.raises(FetchError) as err:
        fetcher.get(http_server.url("/big"))
    assert err.value.kind == "too_large"
    assert len(fetcher.get(http_server.url("/ok")).body) == 90_000


def test_gzip_bomb_refused(http_server):
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=6)  # 64 MiB in about 64 KiB
    assert len(bomb) < 100_000
    http_server.routes["/bomb"] = Route(200, bomb, {"Content-Encoding": "gzip", "Content-Type": "text/html"})
    fetcher = Fetcher(http_settings(max_bytes=1_000_000))
    with pytest.raises(FetchError) as err:
        fetcher.get(http_server.url("/bomb"))
    assert err.value.kind == "too_large" and "decompression" in str(err.value)
    # The same bomb served as a .gz file (sitemaps) is refused by the capped inflater.
    with pytest.raises(FetchError) as err:
        gunzip_capped(bomb, 1_000_000)
    assert err.value.kind == "too_large"
    assert gunzip_capped(gzip.compress(b"<urlset/>"), 1_000) == b"<urlset/>"


def test_gzip_body_within_cap_is_inflated(http_server, fetcher):
    http_server.routes["/gz"] = Route(200, gzip.compress(b"<rss/>" * 1000), {"Content-Encoding": "gzip"})
    result = fetcher.get(http_server.url("/gz"))
    assert result.body == b"<rss/>" * 1000 and result.wire_bytes < 1000


@pytest.mark.parametrize("headers_first", [True, False], ids=["body-drip", "header-drip"])
def test_slow_drip_hits_the_total_deadline(headers_first):
    server = RawServer(drip(headers_first, interval=0.05))
    fetcher = Fetcher(http_settings(total_timeout_seconds=0.6, read_timeout_seconds=2.0))
    started = time.monotonic()
    try:
        with pytest.raises(FetchError) as err:
            fetcher.get(server.url("/slow"))
    finally:
        server.close()
    assert err.value.kind == "timeout" and "deadline" in str(err.value)
    assert time.monotonic() - started < 5  # far less than the 10 s the server would drip for


def test_http_errors_carry_kind_and_retry_after(http_server, fetcher):
    http_server.routes["/busy"] = Route(429, b"", {"Retry-After": "120"})
    http_server.routes["/down"] = Route(503, b"", {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    http_server.routes["/gone"] = Route(410, b"")
    with pytest.raises(FetchError) as err:
        fetcher.get(http_server.url("/busy"))
    assert (err.value.kind, err.value.retry_after, err.value.retriable) == ("rate_limited", 120.0, True)
    with pytest.raises(FetchError) as err:
        fetcher.get(http_server.url("/down"))
    assert err.value.kind == "server_error" and err.value.retry_after > 10**8
    with pytest.raises(FetchError) as err:
        fetcher.get(http_server.url("/gone"))
    assert err.value.kind == "http_error" and not err.value.retriable


def test_retry_after_forms():
    assert retry_after_seconds("30") == 30.0
    assert retry_after_seconds("Thu, 01 Jan 1970 00:00:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


@pytest.mark.parametrize("body, content_type, expected", [
    ('<meta charset="iso-8859-1"><p>mööse</p>'.encode("latin-1"), None, "mööse"),  # trafilatura#231
    ("<p>Ça a été déjà vu</p>".encode("cp1252"), "text/html; charset=windows-1252", "Ça a été déjà vu"),
    ("<p>Ça a été déjà vu, évidemment, à l'été</p>".encode("utf-8"), "text/html", "Ça a été déjà vu"),
    ("<p>Привет, как дела? Это новости дня и погода</p>".encode("cp1251"), "text/html", "Привет"),
    ("\ufeff<p>naïve</p>".encode("utf-8"), "text/html; charset=latin-1", "naïve"),  # the BOM wins
])
def test_page_charset(body, content_type, expected):
    text, _ = decode_page(body, content_type)
    assert expected in text


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS LocalServer for the name news.test, with a self-signed certificate (needs the openssl CLI)."""
    import shutil
    import ssl
    import subprocess

    from tests.conftest import LocalServer

    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not available to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=news.test", "-addext", "subjectAltName=DNS:news.test"],
                   check=True, capture_output=True)
    server = LocalServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server._httpd.socket = context.wrap_socket(server._httpd.socket, server_side=True)
    yield server, cert
    server.close()


def test_https_pinned_address_keeps_sni_and_certificate_check_and_refuses_downgrade(tls_server):
    server, cert = tls_server
    server.routes["/page"] = Route(200, b"secure")
    server.routes["/down"] = Route(302, b"", {"Location": f"http://news.test:{server.port}/page"})
    guard = AddressGuard(allow=["127.0.0.1/32"], resolver=lambda host, port: [(socket.AF_INET, "127.0.0.1")])
    fetcher = Fetcher(http_settings(), guard=guard)
    fetcher.session.verify = str(cert)  # the certificate names news.test, not 127.0.0.1: SNI/hostname kept
    assert fetcher.get(f"https://news.test:{server.port}/page").body == b"secure"
    with pytest.raises(FetchError) as err:
        fetcher.get(f"https://news.test:{server.port}/down")
    assert err.value.kind == "downgrade"
    fetcher.session.verify = True  # an untrusted certificate is refused, never retried insecurely
    with pytest.raises(FetchError) as err:
        fetcher.get(f"https://news.test:{server.port}/page")
    assert err.value.kind == "connection"


def test_slow_name_resolution_is_inside_the_total_deadline(http_server):
    """A resolver that hangs (a dead DNS server) cannot hold a fetch past its total deadline."""
    http_server.routes["/page"] = Route(200, b"hello")
    release = threading.Event()

    def hanging_resolver(host, port):
        release.wait(10)
        return [(socket.AF_INET, "127.0.0.1")]

    guard = AddressGuard(allow=["127.0.0.1/32"], resolver=hanging_resolver)
    fetcher = Fetcher(http_settings(total_timeout_seconds=0.5, connect_timeout_seconds=5.0), guard=guard)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError) as err:
            fetcher.get(f"http://slow-dns.test:{http_server.port}/page")
        elapsed = time.monotonic() - started
    finally:
        release.set()
        fetcher.close()
    print(f"hanging resolver: fetch gave up after {elapsed:.2f}s (deadline 0.5s, connect timeout 5s)")
    assert err.value.kind == "timeout" and elapsed < 2.0
    assert http_server.requests == []
    # A resolver that answers within the deadline is used as before.
    quick = Fetcher(http_settings(total_timeout_seconds=2.0),
                    guard=AddressGuard(allow=["127.0.0.1/32"], resolver=lambda h, p: [(socket.AF_INET, "127.0.0.1")]))
    try:
        assert quick.get(f"http://quick-dns.test:{http_server.port}/page").body == b"hello"
    finally:
        quick.close()
