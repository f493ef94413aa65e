"""Property tests of URL identity: canonical_url is idempotent, blind to tracking parameters, parameter order and
host case; anything that is not an http(s) URL is a ValueError."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from newswire.urls import article_id_for, canonical_url
from tests.fuzz.strategies import article_url, tracking_pairs


def _url(scheme: str, host: str, path: str, pairs: list[tuple[str, str]]) -> str:
    query = urlencode(pairs)
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


@given(article_url())
def test_canonical_url_is_idempotent(parts):
    once = canonical_url(_url(*parts))
    assert canonical_url(once) == once


@given(article_url(), tracking_pairs, st.randoms(use_true_random=False))
def test_identity_ignores_tracking_order_and_host_case(parts, tracking, rng):
    scheme, host, path, pairs = parts
    mixed = pairs + tracking
    rng.shuffle(mixed)
    plain = canonical_url(_url(scheme, host, path, pairs))
    assert canonical_url(_url(scheme, host.upper(), path, mixed)) == plain
    assert article_id_for(canonical_url(_url(scheme, host.swapcase(), path, mixed[::-1]))) == article_id_for(plain)


@given(st.text(max_size=200))
def test_any_string_is_canonical_or_a_value_error(value):
    try:
        result = canonical_url(value)
    except ValueError:
        return
    assert result.startswith(("http://", "https://", "file:"))
