"""HTML extraction benchmark on the Scrapinghub Article Extraction Benchmark (AEB) pages.

Prints precision, recall and F1 of the article body for trafilatura alone (`trafilatura.extract(html,
include_comments=False)`, as the AEB's own runner calls it) and for newswire's HTML path (`extract_html` then the
chrome cleaner), in the same run, with pages per second for both.

Scoring follows the AEB's definition (its `evaluate.py`): texts are tokenised with `\\w+` (Unicode), cut into
overlapping 4-token shingles, and per page true/false positives and false negatives are counted over the shingle
multisets and normalised to sum to 1 (so long pages weigh no more than short ones); precision is the mean over
pages with a prediction, recall the mean over pages with a truth, and F1 their harmonic mean.

    python benchmarks/extraction_aeb.py [--limit N] [--repeat R] [--shared PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_TOKEN = re.compile(r"\w+", re.UNICODE)


def shared_dir() -> Path:
    """The shared folder: `NEWSWIRE_SHARED`, else `../shared` next to the repository."""
    return Path(os.environ.get("NEWSWIRE_SHARED") or ROOT.parent / "shared")


def load_pages(limit: int | None = None, shared: Path | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(html by page id, true article body by page id), pages in a stable order, optionally the first `limit`."""
    base = (shared or shared_dir()) / "datasets" / "scrapinghub-aeb"
    truth = json.loads((base / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)[:limit] if limit else sorted(truth)
    pages = {}
    for page_id in ids:
        with gzip.open(base / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as handle:
            pages[page_id] = handle.read()
    return pages, {page_id: truth[page_id].get("articleBody") or "" for page_id in ids}


def _shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i:i + n])


def page_counts(true: str, predicted: str) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) of one page over 4-token shingles."""
    expected, got = _shingles(true), _shingles(predicted)
    tp = sum((expected & got).values())
    fp = sum((got - expected).values())
    fn = sum((expected - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def score(truth: dict[str, str], predicted: dict[str, str | None]) -> dict[str, float]:
    """Precision, recall and F1 as the AEB defines them (means over pages, then the harmonic mean)."""
    counts = [page_counts(truth[key], predicted.get(key) or "") for key in truth]

    def precision(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (0.0 if tp == fp == 0 else tp / (tp + fp))

    def recall(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (0.0 if tp == fn == 0 else tp / (tp + fn))

    p = statistics.mean(precision(*c) for c in counts if c[0] + c[1] > 0)
    r = statistics.mean(recall(*c) for c in counts if c[0] + c[2] > 0)
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def trafilatura_alone(html: str) -> str | None:
    """The baseline, called as the AEB's runner calls it."""
    import trafilatura

    return trafilatura.extract(html, include_comments=False)


def newswire_html_path(html: str) -> str | None:
    """newswire's HTML path: extraction with metadata, then the chrome cleaner."""
    from processors.chrome import strip_chrome
    from processors.extraction.html import extract_html

    extracted = extract_html(html)
    if extracted is None:
        return None
    return strip_chrome(extracted.text, title=extracted.title, site_name=extracted.site_name,
                        authors=extracted.authors).text


def compare(pages: dict[str, str], truth: dict[str, str], repeat: int = 3) -> dict[str, dict[str, float]]:
    """Scores and speed of both extractors.

    Timing is per page and interleaved (trafilatura, then newswire, on the same page), keeping each page's fastest
    of `repeat` runs: on a shared machine, load changes then hit both systems alike instead of whichever ran last.
    """
    systems: dict[str, Callable[[str], str | None]] = {"trafilatura": trafilatura_alone,
                                                        "newswire": newswire_html_path}
    for html in list(pages.values())[:3]:
        for extractor in systems.values():
            extractor(html)  # imports, lazy tables, phrase files
    best: dict[str, dict[str, float]] = {name: {} for name in systems}
    outputs: dict[str, dict[str, str | None]] = {name: {} for name in systems}
    for _ in range(max(1, repeat)):
        for key, html in pages.items():
            for name, extractor in systems.items():
                started = time.perf_counter()
                outputs[name][key] = extractor(html)
                elapsed = time.perf_counter() - started
                best[name][key] = min(best[name].get(key, elapsed), elapsed)
    results = {}
    for name in systems:
        seconds = sum(best[name].values())
        results[name] = {**score(truth, outputs[name]), "pages_per_second": len(pages) / seconds,
                         "seconds": seconds}
    return results


def _report(results: dict[str, dict[str, float]], n_pages: int) -> Iterable[str]:
    yield f"AEB article bodies, {n_pages} pages (4-token shingles, AEB scoring)"
    yield f"{'system':<12} {'precision':>9} {'recall':>9} {'F1':>9} {'pages/s':>9}"
    for name, m in results.items():
        yield f"{name:<12} {m['precision']:>9.4f} {m['recall']:>9.4f} {m['f1']:>9.4f} {m['pages_per_second']:>9.1f}"
    base, ours = results["trafilatura"], results["newswire"]
    yield (f"newswire vs trafilatura: F1 {100 * (ours['f1'] - base['f1']):+.2f} pt, recall "
           f"{100 * (ours['recall'] - base['recall']):+.2f} pt, time {100 * (ours['seconds'] / base['seconds'] - 1):+.1f} %")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages (sorted by id)")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs per system (best is kept)")
    parser.add_argument("--shared", type=Path, default=None, help="the shared folder (default: ../shared)")
    args = parser.parse_args(argv)
    pages, truth = load_pages(args.limit, args.shared)
    results = compare(pages, truth, args.repeat)
    for line in _report(results, len(pages)):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
