import pytest

from newswire.urls import article_id_for, canonical_url


@pytest.mark.parametrize("url, expected", [
    ("HTTP://Example.COM:80/a/b/?utm_source=x&b=2&a=1#frag", "http://example.com/a/b?a=1&b=2"),
    ("https://example.com:443/news/?fbclid=abc&gclid=1", "https://example.com/news"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
    ("https://example.com/a?utm_medium=rss&id=7&utm_campaign=c", "https://example.com/a?id=7"),
])
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_tracking_variants_share_one_article_id():
    plain = "https://news.example.org/2024/06/story.html"
    variants = [plain + "?utm_source=x", plain + "#comments", "https://NEWS.example.org/2024/06/story.html",
                plain + "?fbclid=1&utm_medium=social"]
    ids = {article_id_for(canonical_url(u)) for u in [plain, *variants]}
    assert len(ids) == 1
    assert len(ids.pop()) == 32


def test_canonical_is_idempotent():
    url = "https://example.com/A/b/?z=1&a=%7E&utm_term=x"
    once = canonical_url(url)
    assert canonical_url(once) == once


@pytest.mark.parametrize("bad", ["ftp://example.com/x", "not a url", "javascript:alert(1)", "https:///nohost"])
def test_rejects_non_http(bad):
    with pytest.raises(ValueError):
        canonical_url(bad)
