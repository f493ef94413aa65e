"""HTTP fetching with bounded time and size: connect/read timeouts, a total deadline and a body-size cap.

Bodies are streamed and decompressed incrementally, so a small compressed body that expands past the cap is
refused without being held in memory whole. Conditional GET validators are sent when known.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

from newswire.settings import HttpSettings

__all__ = ["FetchError", "FetchResult", "Fetcher"]


class FetchError(Exception):
    """A fetch that failed; `kind` is a bounded label (timeout, too_large, http_error, connection, invalid_url)."""

    def __init__(self, kind: str, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_seconds: float
    wire_bytes: int

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class Fetcher:
    """A pooled HTTP client with newswire's limits."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        self.session = requests.Session()
        self.session.max_redirects = settings.max_redirects
        self.session.headers["User-Agent"] = settings.user_agent
        self.session.headers["Accept-Encoding"] = "gzip, deflate"

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
            accept: str = "*/*") -> FetchResult:
        """GET `url`; raises FetchError on timeout, oversize body, connection failure or HTTP >= 400."""
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        s = self.settings
        started = time.monotonic()
        deadline = started + s.total_timeout_seconds
        try:
            response = self.session.get(url, headers=headers, stream=True,
                                        timeout=(s.connect_timeout_seconds, s.read_timeout_seconds))
        except requests.exceptions.Timeout as exc:
            raise FetchError("timeout", f"timed out connecting to {url}: {exc}") from exc
        except requests.exceptions.TooManyRedirects as exc:
            raise FetchError("redirects", f"more than {s.max_redirects} redirects from {url}") from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise FetchError("invalid_url", f"invalid URL {url!r}: {exc}") from exc
        except requests.exceptions.RequestException as exc:
            raise FetchError("connection", f"cannot fetch {url}: {exc}") from exc
        with response:
            if response.status_code >= 400:
                raise FetchError("http_error", f"HTTP {response.status_code} from {url}", response.status_code,
                                 _retry_after(response.headers.get("Retry-After")))
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > s.max_bytes:
                raise FetchError("too_large", f"{url} declares {declared} bytes, cap is {s.max_bytes}")
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in response.iter_content(chunk_size=64 * 1024):
                    size += len(chunk)
                    if size > s.max_bytes:
                        raise FetchError("too_large", f"{url} body exceeds {s.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise FetchError("timeout", f"{url} exceeded the total deadline of "
                                                    f"{s.total_timeout_seconds}s")
                    chunks.append(chunk)
            except requests.exceptions.RequestException as exc:
                raise FetchError("timeout" if "timed out" in str(exc) else "connection",
                                 f"reading {url} failed: {exc}") from exc
            wire = response.raw.tell() if hasattr(response.raw, "tell") else size
            return FetchResult(url=url, final_url=response.url, status=response.status_code,
                               headers={k.lower(): v for k, v in response.headers.items()}, body=b"".join(chunks),
                               elapsed_seconds=time.monotonic() - started, wire_bytes=int(wire or size))
