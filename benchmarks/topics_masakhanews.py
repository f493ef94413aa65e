"""Benchmark: macro-F1 of the top IPTC topic on MasakhaNews dev (English, French) and the per-article cost.

Run: `.venv/bin/python benchmarks/topics_masakhanews.py [--confusion]`. Prints macro-F1 per language (target ≥ 0.80;
the top topic over all 17 IPTC codes against the label: the headline figure), then the
mean milliseconds per article of topics + countries, and of language + topics + countries when the language stage
exists (target < 5 ms for an article of typical length). Timings exclude the one-off loading of the data files.
It also prints how often the label is among the level-1 topics given (up to 4): a downstream consumer filters on
topic codes, not on the first one only. `--confusion` also prints, per label, where its articles went (label rows, predicted level-1 codes as columns).
"""

from __future__ import annotations

import collections
import importlib.util
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from processors.classify import find_countries, tag_topics  # noqa: E402
from processors.classify.evaluation import MASAKHANEWS_LANGUAGES, load_masakhanews, measure  # noqa: E402


def _per_article_ms(rows, work, repeat: int = 3) -> float:
    for row in rows[:20]:
        work(row)  # warm: data files and stemmer caches load once per process
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for row in rows:
            work(row)
        best = min(best, (time.perf_counter() - started) / len(rows) * 1000)
    return best


def _print_confusion(rows, language) -> None:
    table = collections.Counter()
    for row in rows:
        topics = [t.code for t in tag_topics(row.text, row.headline, language) if t.code.endswith("000000")]
        table[(row.label, topics[0][:2] if topics else "--")] += 1
    columns = sorted({p for _, p in table})
    print("  label          " + " ".join(c.rjust(3) for c in columns))
    for label in sorted({g for g, _ in table}):
        print(f"  {label:<14} " + " ".join(str(table[(label, c)] or ".").rjust(3) for c in columns))


def main() -> int:
    """Print the figures; exit 0."""
    language_stage = importlib.util.find_spec("processors.stages.language") is not None
    if language_stage:
        from processors.stages.language import detect_language
    for folder, language in sorted(MASAKHANEWS_LANGUAGES.items()):
        rows = load_masakhanews(folder)
        result = measure(rows, language)
        per_label = ", ".join(f"{label} {f1:.3f}" for label, f1 in sorted(result.per_label.items()))
        print(f"{folder}: macro-F1 {result.macro_f1:.3f} over {result.articles} articles ({per_label})")
        print(f"{folder}: the label is among the level-1 topics given for {100 * result.label_given:.1f} % of the "
              f"articles")
        if "--confusion" in sys.argv[1:]:
            _print_confusion(rows, language)
        chars = statistics.median(len(r.text) for r in rows)
        both = _per_article_ms(rows, lambda r: (tag_topics(r.text, r.headline, language),
                                                find_countries(r.text, r.headline, language)))
        print(f"{folder}: topics + countries {both:.2f} ms per article (median {chars:.0f} characters)")
        if language_stage:
            def full(r):
                detected, _ = detect_language(r.text)
                return tag_topics(r.text, r.headline, detected), find_countries(r.text, r.headline, detected)
            print(f"{folder}: language + topics + countries {_per_article_ms(rows, full):.2f} ms per article")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
