"""Helpers the benchmarks share: the AEB pages as raw records, fresh stores, percentiles, a network guard.

Not a benchmark itself. `throughput.py` and `end_to_end.py` import it (the folder is put on `sys.path` by them).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Iterator, Sequence

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from extraction_aeb import load_pages, score, shared_dir  # noqa: E402  (re-exported for the benchmarks)
from newswire.records import RawArticle, utc_now  # noqa: E402

__all__ = ["load_pages", "score", "shared_dir", "raw_page", "unique_articles", "fresh_store_url", "percentile",
           "deny_remote_connections"]


def raw_page(page_id: str, html: str, *, copy: int = 0) -> RawArticle:
    """A raw record for one AEB page, as the scraper would publish it: one source per page (the AEB pages come
    from many sites, so no template is shared), a URL and raw id unique to (page, copy)."""
    return RawArticle(raw_id=uuid.uuid4().hex, url=f"https://aeb.example.org/{copy}/{page_id}",
                      source=f"aeb-{page_id[:12]}", fetched_at=utc_now(), content_type="text/html", body=html,
                      body_origin="page")


@contextlib.contextmanager
def fresh_store_url(base: str | None) -> Iterator[str]:
    """A store URL with no state: a new SQLite file when `base` is None or a `sqlite:` URL, otherwise a new
    PostgreSQL database next to the one `base` names (the role needs CREATEDB), dropped on exit."""
    if not base or base.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="newswire-bench-") as workdir:
            yield f"sqlite:///{Path(workdir) / 'bench.sqlite'}"
        return
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    name = f"newswire_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(base)
    params["dbname"] = name
    try:
        yield _postgres_url(params)
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _postgres_url(params: dict) -> str:
    """A postgresql:// URL for libpq parameters (what `newswire --store` and `open_store` accept)."""
    from urllib.parse import quote

    user = quote(str(params.get("user", "")), safe="")
    password = quote(str(params["password"]), safe="") if params.get("password") else ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = params.get("host", "127.0.0.1")
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{auth}{host}{port}/{params['dbname']}"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@contextlib.contextmanager
def deny_remote_connections() -> Iterator[None]:
    """Refuse every socket connection except to loopback, so no extractor under test fetches anything (an
    extractor that quietly downloads images or a page would be measured on the network, not on the HTML)."""
    original = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host not in _LOOPBACK:
            raise ConnectionRefusedError(f"benchmark: network access to {host} refused")
        return original(sock, address)

    socket.socket.connect = guarded  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]


def unique_articles(pages: dict[str, str], truth: dict[str, str], count: int,
                    seed: int = 7) -> list[tuple[str, int, str]]:
    """`count` (page id, copy number, html) of distinct articles: the AEB pages first, then copies of them whose long
    paragraphs are replaced by paragraphs drawn from other articles of the set in the same language.

    A stream of the same 181 pages again would be all duplicates after the first round (and a duplicate skips the
    story stage and the store's article write), so a sustained run would measure the cheap path. The copies keep
    each page's markup, chrome and length, with new body text: extraction, chrome, language, topics, dedupe
    and story do the work a new article needs.
    """
    import random

    from lxml import html as lxml_html

    from processors.stages.language import detect_language

    rng = random.Random(seed)
    pools: dict[str, list[str]] = {}
    language: dict[str, str] = {}
    for page_id, body in truth.items():
        language[page_id] = detect_language(body)[0] if body else "und"
        paragraphs = [p.strip() for p in body.split("\n") if len(p.strip()) >= 80]
        pools.setdefault(language[page_id], []).extend(paragraphs)
    articles = [(page_id, 0, html) for page_id, html in list(pages.items())[:count]]
    ids = list(pages)
    copy = 0
    while len(articles) < count:
        copy += 1
        for page_id in ids:
            if len(articles) >= count:
                break
            pool = pools.get(language[page_id]) or pools.get("en") or []
            tree = lxml_html.fromstring(pages[page_id])
            for paragraph in tree.iter("p"):
                if pool and len(paragraph.text_content()) >= 60:
                    for child in list(paragraph):
                        paragraph.remove(child)
                    paragraph.text = rng.choice(pool)
            articles.append((page_id, copy, lxml_html.tostring(tree, encoding="unicode")))
    return articles
