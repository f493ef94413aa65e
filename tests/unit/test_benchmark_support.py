"""The benchmark helpers that decide what is measured: distinct articles, the network guard, percentiles."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _support():
    spec = importlib.util.spec_from_file_location("bench_support", REPO / "benchmarks" / "support.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{body}<p>Share</p></body></html>"


def test_unique_articles_keeps_the_pages_then_makes_copies_with_other_paragraphs() -> None:
    support = _support()
    sentences = {
        "a": ["The council voted on the new budget for schools and roads after a long debate in the town hall."] * 3,
        "b": ["The river flooded three villages overnight and rescue teams worked until the morning to help."] * 3,
        "c": ["The team won the final in extra time after a goal from the youngest player in the whole squad."] * 3,
    }
    pages = {key: _page(key, paras) for key, paras in sentences.items()}
    truth = {key: "\n".join(paras) for key, paras in sentences.items()}

    articles = support.unique_articles(pages, truth, 7)

    assert [(page_id, copy) for page_id, copy, _ in articles[:3]] == [("a", 0), ("b", 0), ("c", 0)]
    assert [html for _, _, html in articles[:3]] == list(pages.values())
    assert len(articles) == 7 and all(copy >= 1 for _, copy, _ in articles[3:])
    copies = [html for _, _, html in articles[3:]]
    assert all("<p>Share</p>" in html for html in copies)  # the page's chrome and markup stay
    pool = {s for paras in sentences.values() for s in paras}
    assert all(any(s in html for s in pool) for html in copies)  # long paragraphs come from the set's articles


def test_raw_pages_are_distinct_records_per_copy() -> None:
    support = _support()
    first, second = support.raw_page("abc", "<p>x</p>"), support.raw_page("abc", "<p>x</p>", copy=1)
    assert first.url != second.url and first.raw_id != second.raw_id and first.source == second.source


def test_network_guard_refuses_remote_hosts_and_allows_loopback() -> None:
    support = _support()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    original = socket.socket.connect
    try:
        with support.deny_remote_connections():
            with pytest.raises(ConnectionRefusedError, match="192.0.2.1"):
                socket.create_connection(("192.0.2.1", 80), timeout=1)
            with socket.create_connection(server.getsockname(), timeout=1):
                pass
        assert socket.socket.connect is original  # the guard is gone afterwards
    finally:
        server.close()


def test_percentile_interpolates_between_ranks() -> None:
    support = _support()
    assert support.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert support.percentile([5.0], 99) == 5.0
