"""Soak: feed a processor continuously and report how its memory grows.

Publishes real news pages (`../shared/datasets/scrapinghub-aeb/`, each page re-published under new URLs with a
changing paragraph, so the worker sees a steady mix of new articles and near duplicates) to fresh topics on the
broker at a fixed rate, runs `newswire process` on them, and samples the resident memory (RSS) of every worker
process every few seconds. After a warm-up it fits a line to each worker's RSS and prints the growth per hour as
a share of its warm RSS (target: under 10 % per hour), the peak RSS, the throughput and how many times workers
were recycled (`processor.recycle_after_records`).

    .venv/bin/python benchmarks/soak.py                                  # 30 minutes at 20 articles/s
    .venv/bin/python benchmarks/soak.py --minutes 5 --rate 30 --recycle 2000 --workers 2

Needs the local broker (`deploy/kafka-local start`); the store is a fresh SQLite file unless --store is given.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import KafkaProducer  # noqa: E402

from newswire.kafka import ensure_topics  # noqa: E402
from newswire.records import RawArticle, encode  # noqa: E402
from newswire.settings import KafkaSettings, TopicSettings  # noqa: E402

SHARED = Path(os.environ.get("NEWSWIRE_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def _pages() -> list[str]:
    html = SHARED / "datasets" / "scrapinghub-aeb" / "html"
    return [gzip.decompress(p.read_bytes()).decode("utf-8", errors="replace") for p in sorted(html.glob("*.gz"))]


def _feed(bootstrap: str, topic: str, rate: float, stop: threading.Event, sent: list[int]) -> None:
    """Publish at `rate` records per second until stopped; every page comes back with a new URL and paragraph."""
    pages = _pages()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, compression_type="gzip",
                             max_request_size=16 * 1024 * 1024)
    started = time.monotonic()
    n = 0
    try:
        while not stop.is_set():
            due = started + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                stop.wait(delay)
                continue
            page = pages[n % len(pages)]
            round_ = n // len(pages)
            body = page.replace("</body>", f"<p>Update {round_}: report number {n} from the desk.</p></body>", 1)
            record = RawArticle(raw_id=uuid.uuid4().hex, url=f"https://soak{n % 7}.example/{round_}/{n}",
                                source="soak", fetched_at=datetime.now(timezone.utc), content_type="text/html",
                                body=body)
            producer.send(topic, key=record.url.encode(), value=encode(record))
            n += 1
            sent[0] = n
    finally:
        producer.flush(timeout=30)
        producer.close(timeout=10)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _is_worker(pid: int) -> bool:
    """A worker process (not the supervisor, not multiprocessing's resource tracker)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return "multiprocessing" in cmdline and "spawn_main" in cmdline


def _slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS (MB) against time, in MB per hour."""
    if len(samples) < 3:
        return 0.0
    xs, ys = [t for t, _ in samples], [m for _, m in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var * 3600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=3.0, help="excluded from the growth fit")
    parser.add_argument("--rate", type=float, default=20.0, help="articles per second offered")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--recycle", type=int, default=None,
                        help="processor.recycle_after_records (default: the settings default)")
    parser.add_argument("--bootstrap", default=os.environ.get("NEWSWIRE_TEST_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--store", default=None, help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="newswire-soak-"))
    suffix = uuid.uuid4().hex[:8]
    topics = TopicSettings(raw=f"soak.raw.{suffix}", clean=f"soak.clean.{suffix}", duplicates=f"soak.dup.{suffix}",
                           dead_letter=f"soak.dlq.{suffix}", links=f"soak.links.{suffix}", partitions=2)
    ensure_topics(KafkaSettings(bootstrap_servers=args.bootstrap), topics)
    env = dict(os.environ, NEWSWIRE_KAFKA__BOOTSTRAP_SERVERS=args.bootstrap, NEWSWIRE_TOPICS__RAW=topics.raw,
               NEWSWIRE_TOPICS__CLEAN=topics.clean, NEWSWIRE_TOPICS__DUPLICATES=topics.duplicates,
               NEWSWIRE_TOPICS__DEAD_LETTER=topics.dead_letter, NEWSWIRE_TOPICS__LINKS=topics.links,
               NEWSWIRE_STORE__URL=args.store or f"sqlite:///{workdir / 'soak.sqlite'}",
               NEWSWIRE_PROCESSOR__GROUP_ID=f"soak-{suffix}", NEWSWIRE_SERVICE__METRICS_PORT="0")
    if args.recycle is not None:
        env["NEWSWIRE_PROCESSOR__RECYCLE_AFTER_RECORDS"] = str(args.recycle)
    log_path = workdir / "processor.log"
    with log_path.open("wb") as log_file:
        processor = subprocess.Popen([sys.executable, "-m", "newswire.cli", "process", "--workers",
                                      str(args.workers)], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    stop, sent = threading.Event(), [0]
    feeder = threading.Thread(target=_feed, args=(args.bootstrap, topics.raw, args.rate, stop, sent), daemon=True)
    feeder.start()
    started = time.monotonic()
    end = started + args.minutes * 60
    samples: dict[int, list[tuple[float, float]]] = {}
    print(f"soak: {args.minutes:.0f} min at {args.rate:.0f}/s, {args.workers} worker(s), log {log_path}",
          file=sys.stderr)
    next_report = started + 60
    try:
        while time.monotonic() < end and processor.poll() is None:
            now = time.monotonic() - started
            workers = [pid for pid in _children(processor.pid) if _is_worker(pid)] or [processor.pid]
            for pid in workers:
                rss = _rss_mb(pid)
                if rss is not None:
                    samples.setdefault(pid, []).append((now, rss))
            if time.monotonic() >= next_report:
                current = {pid: s[-1][1] for pid, s in samples.items() if s and s[-1][0] >= now - 1}
                print(f"  {now / 60:5.1f} min: sent {sent[0]}, worker RSS MB "
                      f"{', '.join(f'{m:.0f}' for m in current.values())}", file=sys.stderr)
                next_report += 60
            time.sleep(args.sample_seconds)
    finally:
        stop.set()
        feeder.join(timeout=30)
        processor.send_signal(signal.SIGTERM)
        try:
            processor.wait(timeout=60)
        except subprocess.TimeoutExpired:
            processor.kill()
    elapsed = time.monotonic() - started
    warm = args.warmup_minutes * 60
    rows = []
    for pid, series in sorted(samples.items(), key=lambda item: item[1][0][0]):
        steady = [(t, m) for t, m in series if t >= warm] or series
        base = steady[0][1]
        slope = _slope_per_hour(steady)
        rows.append({"pid": pid, "from_min": round(series[0][0] / 60, 1), "to_min": round(series[-1][0] / 60, 1),
                     "warm_rss_mb": round(base, 1), "peak_rss_mb": round(max(m for _, m in series), 1),
                     "growth_mb_per_hour": round(slope, 1),
                     "growth_pct_per_hour": round(100 * slope / base, 1) if base else None})
    log_text = log_path.read_text(errors="replace")
    processed = sum(int(line.split(" processed ")[1].split()[0]) for line in log_text.splitlines()
                    if " processed " in line and "records:" in line)
    summary = {"minutes": round(elapsed / 60, 1), "offered_rate": args.rate, "sent": sent[0],
               "workers": args.workers, "recycles": log_text.count("recycling processor-"),
               "processed_by_exited_workers": processed, "processes": rows,
               "max_growth_pct_per_hour": max((r["growth_pct_per_hour"] or 0 for r in rows
                                               if r["to_min"] - max(r["from_min"], warm / 60) >= 5), default=None),
               "peak_rss_mb": max((r["peak_rss_mb"] for r in rows), default=None)}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
