"""Hypothesis strategies for hostile markup: HTML and feed documents built from odd pieces, and URLs."""

from __future__ import annotations

from hypothesis import strategies as st

# Text with the characters that break parsers: markup, entities, quotes, controls, surrogates' neighbours, RTL.
_ODD = st.sampled_from(["<", ">", "&", ";", "\"", "'", "=", "&#", "&#x", "]]>", "<![CDATA[", "<!--", "-->", "\x00",
                        "\x0b", "\u202e", "\ufeff", "\ufffd", "@", "a.", "é", "\u0627", "\n", " ", "\t", "/"])
text = st.lists(st.one_of(st.text(max_size=12), _ODD), max_size=30).map("".join)

_TAGS = st.sampled_from(["div", "p", "span", "table", "tr", "td", "th", "article", "main", "script", "style", "a",
                         "img", "br", "h1", "ul", "li", "o:p", "svg", "template", "iframe", "b"])
_ATTRS = st.sampled_from(['class="content"', 'colspan="9007199254740991"', 'rowspan=""', 'colspan="-1"',
                          'href="javascript:alert(1)"', 'src="data:image/png;base64,AAAA"', 'id="main"', "hidden",
                          'lang="fr"', 'style="x:expression(1)"', 'a="<>"'])


@st.composite
def html_fragment(draw, depth: int = 0) -> str:
    """Nested elements with odd attributes and text, sometimes left unclosed."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        if depth < 6 and draw(st.booleans()):
            tag = draw(_TAGS)
            attrs = " ".join(draw(st.lists(_ATTRS, max_size=3)))
            inner = draw(html_fragment(depth + 1))
            close = draw(st.sampled_from([f"</{tag}>", "", f"</{tag}"]))
            parts.append(f"<{tag} {attrs}>{inner}{close}")
        else:
            parts.append(draw(text))
    return "".join(parts)


@st.composite
def html_page(draw) -> str:
    """A page: sometimes a doctype and a head with metadata, then a body of hostile fragments around real text."""
    doctype = draw(st.sampled_from(["", "<!DOCTYPE html>", '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" />',
                                    '<?xml version="1.0"?><!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd">]>']))
    head = draw(st.sampled_from(["", "<head><title>Titre - Site</title></head>",
                                 '<head><script type="application/ld+json">{"@type": "NewsArticle", "author": '
                                 '{"name": "Ana"}}</script><meta property="og:title" content="T"></head>',
                                 '<head><script type="application/ld+json">' * 3 + "</head>"]))
    article = "<p>" + "Le gouvernement a présenté mardi un projet de loi sur la réforme des retraites. " * 3 + "</p>"
    return f"{doctype}<html>{head}<body>{draw(html_fragment())}<article>{article}{draw(html_fragment())}</article></body></html>"


@st.composite
def feed_document(draw) -> bytes:
    """RSS or Atom with hostile text in every field, sometimes a DOCTYPE, sometimes cut short."""
    def field() -> str:
        value = draw(text)
        return draw(st.sampled_from([value, f"<![CDATA[{value}]]>", value.replace("&", "&amp;").replace("<", "&lt;")]))

    items = "".join(
        f"<item><title>{field()}</title><link>https://n.example/{i}{field()}</link><guid>{field()}</guid>"
        f"<author>{field()}</author><description>{field()}</description><pubDate>{field()}</pubDate>"
        f"<content:encoded>{field()}</content:encoded></item>"
        for i in range(draw(st.integers(0, 3))))
    doctype = draw(st.sampled_from(["", '<!DOCTYPE rss SYSTEM "file:///etc/hosts">',
                                    '<!DOCTYPE rss [<!ENTITY e "C:\\data">]>']))
    document = (f'<?xml version="1.0" encoding="utf-8"?>{doctype}<rss version="2.0" '
                f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>{field()}</title>'
                f"<link>https://n.example/</link><language>{field()}</language>{items}</channel></rss>")
    if draw(st.booleans()):
        document = document[: draw(st.integers(0, len(document)))]
    return document.encode("utf-8", "surrogatepass")


_HOSTS = st.sampled_from(["news.example.com", "NEWS.Example.COM", "www.lemonde.fr", "bbc.co.uk", "127.0.0.1",
                          "xn--bcher-kva.example"])
_PATHS = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~%é", min_size=1, max_size=8),
                  max_size=4).map(lambda parts: "/" + "/".join(parts))
_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6).filter(
    lambda key: key not in ("utm", "pk", "at", "itm", "mtm", "hsa"))
_VALUES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", max_size=6)


@st.composite
def article_url(draw) -> tuple[str, str, str, list[tuple[str, str]]]:
    """(scheme, host, path, query pairs) of an article URL."""
    pairs = draw(st.lists(st.tuples(_KEYS, _VALUES), max_size=4, unique_by=lambda kv: kv[0]))
    return draw(st.sampled_from(["http", "https"])), draw(_HOSTS), draw(_PATHS), pairs


tracking_pairs = st.lists(st.tuples(st.sampled_from(["utm_source", "utm_medium", "UTM_Campaign", "fbclid", "gclid",
                                                     "at_medium", "xtor", "pk_kwd", "mc_cid"]), _VALUES),
                          max_size=4)
