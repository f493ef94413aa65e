"""HTTP fetching with bounded time, size and reach.

- connect and read timeouts, plus a total deadline enforced by shutting the socket down (`guard.Deadline`), so a
  server dripping bytes cannot hold a fetch past it;
- a body cap counted after decompression while streaming, so a small gzip body that expands past the cap (a
  "gzip bomb") is refused without being held in memory; gzip files served as-is (sitemap.xml.gz) are inflated
  under the same cap by `gunzip_capped`;
- redirects followed by hand, at most `max_redirects`, each hop checked by the address guard, loops and
  https→http downgrades refused;
- the address guard on every connection (see `ingest.guard`); environment proxies are ignored, because a proxy
  would connect on our behalf where the guard cannot see;
- conditional GET validators sent when known.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import requests

from ingest.guard import AddressGuard, AddressRefused, Deadline, GuardedAdapter
from newswire.metrics import FETCH_ERRORS, FETCH_SECONDS
from newswire.settings import HttpSettings

__all__ = ["FetchError", "FetchResult", "Fetcher", "gunzip_capped", "retry_after_seconds"]

_REDIRECTS = {301, 302, 303, 307, 308}
# Failure kinds worth retrying later; the others are permanent for this URL.
RETRIABLE_KINDS = frozenset({"timeout", "connection", "server_error", "rate_limited"})


class FetchError(Exception):
    """A fetch that failed; `kind` is a bounded label.

    Kinds: timeout, connection, server_error (5xx), rate_limited (429), http_error (other 4xx), too_large,
    refused (address guard or scheme), redirects (too many), redirect_loop, downgrade, invalid_url, publish.
    """

    def __init__(self, kind: str, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after

    @property
    def retriable(self) -> bool:
        return self.kind in RETRIABLE_KINDS


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_seconds: float
    wire_bytes: int
    redirects: int = 0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def gunzip_capped(data: bytes, max_bytes: int) -> bytes:
    """Inflate a gzip file, refusing output past `max_bytes` (raises FetchError too_large or invalid)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise FetchError("invalid", f"corrupt gzip data: {exc}") from exc
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise FetchError("too_large", f"gzip content expands past {max_bytes} bytes")
    return out


def _status_error(url: str, response: requests.Response) -> FetchError:
    status = response.status_code
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    if status == 429:
        return FetchError("rate_limited", f"HTTP 429 from {url}", status, retry_after)
    if status >= 500:
        return FetchError("server_error", f"HTTP {status} from {url}", status, retry_after)
    return FetchError("http_error", f"HTTP {status} from {url}", status, retry_after)


class Fetcher:
    """A pooled HTTP client with newswire's limits; `target` labels its metrics (feed, page, robots)."""

    def __init__(self, settings: HttpSettings, guard: AddressGuard | None = None) -> None:
        self.settings = settings
        self.guard = guard or AddressGuard(settings.allow_networks, settings.allowed_schemes)
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies from the environment: they would bypass the guard
        adapter = GuardedAdapter(self.guard, pool_connections=32, pool_maxsize=32, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = settings.user_agent
        self.session.headers["Accept-Encoding"] = "gzip, deflate"

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
            accept: str = "*/*", max_bytes: int | None = None, target: str = "page") -> FetchResult:
        """GET `url`; raises FetchError on refusal, timeout, oversize body, connection failure or HTTP >= 400."""
        started = time.monotonic()
        try:
            with Deadline(self.settings.total_timeout_seconds) as deadline:
                expired = FetchError("timeout", f"{url} exceeded the total deadline of "
                                                f"{self.settings.total_timeout_seconds}s")
                try:
                    result = self._get(url, etag, last_modified, accept, max_bytes or self.settings.max_bytes,
                                       started)
                except FetchError as exc:
                    if deadline.expired and exc.kind in ("connection", "timeout"):
                        raise expired from exc
                    raise
                if deadline.expired:  # the shutdown can look like a clean end of headers or body: never trust it
                    raise expired
                return result
        except FetchError as exc:
            FETCH_ERRORS.labels(target, exc.kind).inc()
            raise
        finally:
            FETCH_SECONDS.labels(target).observe(time.monotonic() - started)

    def _get(self, url: str, etag: str | None, last_modified: str | None, accept: str, max_bytes: int,
             started: float) -> FetchResult:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current, seen = url, {url}
        for hop in range(self.settings.max_redirects + 1):
            response = self._request(current, headers)
            with response:
                if response.status_code not in _REDIRECTS:
                    return self._read(url, current, response, max_bytes, started, hop)
                location = response.headers.get("Location")
                if not location:
                    raise FetchError("http_error", f"HTTP {response.status_code} without Location from {current}",
                                     response.status_code)
            target = urljoin(current, location.strip())
            if urlsplit(current).scheme == "https" and urlsplit(target).scheme == "http":
                raise FetchError("downgrade", f"refused redirect from https to http: {current} -> {target}")
            if target in seen:
                raise FetchError("redirect_loop", f"redirect loop at {target} (from {url})")
            seen.add(target)
            current = target
        raise FetchError("redirects", f"more than {self.settings.max_redirects} redirects from {url}")

    def _request(self, url: str, headers: dict[str, str]) -> requests.Response:
        s = self.settings
        try:
            self.guard.check_url(url)
            return self.session.get(url, headers=headers, stream=True, allow_redirects=False,
                                    timeout=(s.connect_timeout_seconds, s.read_timeout_seconds))
        except AddressRefused as exc:
            kind = "invalid_url" if exc.reason == "invalid_url" else "refused"
            raise FetchError(kind, str(exc)) from exc
        except requests.exceptions.Timeout as exc:
            raise FetchError("timeout", f"timed out fetching {url}: {exc}") from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema, ValueError) as exc:
            raise FetchError("invalid_url", f"invalid URL {url!r}: {exc}") from exc
        except requests.exceptions.RequestException as exc:
            raise FetchError("connection", f"cannot fetch {url}: {exc}") from exc

    def _read(self, url: str, final_url: str, response: requests.Response, max_bytes: int, started: float,
              redirects: int) -> FetchResult:
        if response.status_code >= 400:
            raise _status_error(final_url, response)
        declared = response.headers.get("Content-Length")
        encoded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
        if declared and declared.isdigit() and int(declared) > max_bytes and not encoded:
            raise FetchError("too_large", f"{final_url} declares {declared} bytes, cap is {max_bytes}")
        chunks: list[bytes] = []
        size = 0
        try:
            # urllib3 (>= 2.6) inflates at most about `amt` bytes per read, so memory stays bounded by the chunk.
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError("too_large", f"{final_url} body exceeds {max_bytes} bytes"
                                                  + (" after decompression" if encoded else ""))
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:
            kind = "timeout" if "timed out" in str(exc).lower() else "connection"
            raise FetchError(kind, f"reading {final_url} failed: {exc}") from exc
        wire = response.raw.tell() if hasattr(response.raw, "tell") else size
        return FetchResult(url=url, final_url=final_url, status=response.status_code,
                           headers={k.lower(): v for k, v in response.headers.items()}, body=b"".join(chunks),
                           elapsed_seconds=time.monotonic() - started, wire_bytes=int(wire or size),
                           redirects=redirects)
