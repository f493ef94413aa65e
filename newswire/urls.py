"""Canonical URLs and the ids derived from them.

Two URLs that name the same article must canonicalise to the same string: scheme and host lower-cased, default
ports, fragments and tracking parameters removed, query parameters sorted, a trailing slash on a non-root path
dropped, a Google AMP cache URL unwrapped to the publisher's URL. w3lib (Scrapy's URL library) does the
percent-encoding and query sorting; the rest is news-specific. An AMP or mobile page's own address
(`amp.`/`m.` hosts, `/amp` paths) is mapped to the article's when the page declares its canonical link, which the
extract stage adopts; guessing it from the URL alone would merge pages that are not the same.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url as _w3lib_canonicalize

__all__ = ["TRACKING_PARAMS", "TRACKING_PREFIXES", "canonical_url", "article_id_for", "host_of"]

# Parameters that identify a campaign or a click, never the article.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "ref", "ref_src", "ref_url", "cmpid", "xtor", "at_medium", "at_campaign", "ito", "ncid",
        "ocid", "sr_share", "smid", "src", "s_cid", "cid", "wt_mc", "wt.mc_id", "__twitter_impression", "amp",
        "outputtype", "share", "taid", "spm", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "rss", "feed",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "at_", "itm_", "__hs")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _unwrap_amp_cache(url: str) -> str:
    """The publisher's URL behind a Google AMP cache URL (`https://<x>.cdn.ampproject.org/c/s/host/path`)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not (host == "cdn.ampproject.org" or host.endswith(".cdn.ampproject.org")):
        return url
    segments = parts.path.lstrip("/").split("/")
    # /c/ (document) or /v/ (viewer), then optional /s/ for https, then the publisher's host and path
    if len(segments) < 2 or segments[0] not in ("c", "v"):
        return url
    secure = segments[1] == "s"
    rest = segments[2:] if secure else segments[1:]
    if not rest or not rest[0]:
        return url
    query = f"?{parts.query}" if parts.query else ""
    return f"{'https' if secure else 'http'}://{'/'.join(rest)}{query}"


def canonical_url(url: str) -> str:
    """Return the canonical form of an absolute http(s) (or file) URL; raises ValueError for anything else."""
    url = _unwrap_amp_cache(url.strip())
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file" and parts.path:  # local files given to `newswire process-file`
        return urlunsplit(("file", "", parts.path, "", ""))
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url[:200]!r}")
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = "&".join(
        pair for pair in parts.query.split("&") if pair and not _is_tracking(pair.split("=", 1)[0])
    )
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    rebuilt = urlunsplit((scheme, netloc, path, query, ""))
    # w3lib sorts the query, normalises percent-encoding and drops the fragment.
    return _w3lib_canonicalize(rebuilt, keep_fragments=False)


def article_id_for(canonical: str) -> str:
    """Stable article id: the first 128 bits of SHA-256 of the canonical URL, as 32 hex characters."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def host_of(url: str) -> str:
    """Lower-cased host of a URL, or '' when it has none."""
    return (urlsplit(url).hostname or "").lower()
