"""Builds the Grafana dashboard `dashboards/newswire.json` from a short description of its panels.

Run `python deploy/grafana/dashboard.py` after changing a panel; tests/deploy/test_grafana.py fails when the JSON
is not what this script writes, and checks that every expression names only metrics that `newswire/metrics.py`
defines. Panels are grouped in rows; every query goes through the `datasource` variable, so the same dashboard
works with the provisioned Prometheus (docker-compose) and with any other (Kubernetes).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Panel", "Row", "ROWS", "build", "OUTPUT"]

OUTPUT = Path(__file__).resolve().parent / "dashboards" / "newswire.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Panel:
    """One panel: its title, kind, what it shows, its queries as (PromQL, legend) pairs and its unit."""

    title: str
    description: str
    targets: tuple[tuple[str, str], ...]
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 12
    stacked: bool = False


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


def _quantiles(metric: str, by: str = "", qs: tuple[float, ...] = (0.5, 0.95, 0.99)) -> tuple[tuple[str, str], ...]:
    group = f"le, {by}" if by else "le"
    suffix = f" {{{{{by}}}}}" if by else ""
    return tuple((f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket[{RATE}])))", f"p{round(q * 100)}{suffix}")
                 for q in qs)


ROWS: tuple[Row, ...] = (
    Row("Overview", (
        Panel("Clean articles / min", "Clean articles published per minute, all processors.",
              (("sum(rate(newswire_records_processed_total{outcome=\"clean\"}[5m])) * 60", "clean"),),
              kind="stat", width=4),
        Panel("Services up", "Scrape targets answering, per job.",
              (("sum by (job) (up{job=~\"newswire-.+\"})", "{{job}}"),), kind="stat", width=5),
        Panel("Raw records waiting", "Consumer lag summed over the raw topic's partitions.",
              (("sum(newswire_consumer_lag_records)", "lag"),), kind="stat", width=5),
        Panel("Dead letters (1h)", "Records sent to the dead-letter topic in the last hour, processors and scraper.",
              (("sum(increase(newswire_dead_letters_total[1h])) + "
                "(sum(increase(newswire_scrapes_total{result=\"dead_letter\"}[1h])) or vector(0))", "dead letters"),),
              kind="stat", width=5),
        Panel("Freshness p50", "Median time from an article's publication to its clean record.",
              (("histogram_quantile(0.5, sum by (le) (rate(newswire_publication_to_clean_seconds_bucket[1h])))",
                "p50"),), kind="stat", unit="s", width=5),
    )),
    Row("Throughput", (
        Panel("Pipeline flow", "Records per second through each step: feeds to the raw and links topics, the scraper, "
              "the processors.",
              (("sum by (origin) (rate(newswire_raw_published_total[$__rate_interval]))", "raw published ({{origin}})"),
               ("sum(rate(newswire_links_published_total[$__rate_interval]))", "links published"),
               ("sum(rate(newswire_scrapes_total{result=\"ok\"}[$__rate_interval]))", "pages scraped"),
               ("sum(rate(newswire_records_consumed_total[$__rate_interval]))", "raw consumed")),
              unit="reqps"),
        Panel("Throughput per stage", "Records handled by each processing stage per second, by result.",
              (("sum by (stage, result) (rate(newswire_stage_results_total[$__rate_interval]))",
                "{{stage}} {{result}}"),), unit="reqps"),
        Panel("Outcomes", "Raw records fully handled, by outcome.",
              (("sum by (outcome) (rate(newswire_records_processed_total[$__rate_interval]))", "{{outcome}}"),),
              unit="reqps", stacked=True),
        Panel("Drops by reason", "Records a stage dropped on purpose (too short, no main text...).",
              (("sum by (stage, reason) (rate(newswire_drops_total[$__rate_interval]))", "{{stage}}: {{reason}}"),),
              unit="reqps", stacked=True),
        Panel("Duplicates by kind", "Duplicates detected: same canonical URL, same text, near-identical text.",
              (("sum by (kind) (rate(newswire_duplicates_total[$__rate_interval]))", "{{kind}}"),),
              unit="reqps", stacked=True),
        Panel("Languages", "Clean articles by detected language over the dashboard's time range.",
              (("sort_desc(sum by (language) (increase(newswire_articles_by_language_total[$__range])))",
                "{{language}}"),), kind="piechart", width=6),
        Panel("Topics", "Clean articles by IPTC Media Topics top-level code over the dashboard's time range.",
              (("sort_desc(sum by (topic) (increase(newswire_articles_by_topic_total[$__range])))", "{{topic}}"),),
              kind="bargauge", width=6),
    )),
    Row("Kafka", (
        Panel("Consumer lag per partition", "Records of each raw-topic partition not yet consumed, as the processor "
              "that owns it sees them.",
              (("max by (topic, partition) (newswire_consumer_lag_records)", "{{topic}}[{{partition}}]"),)),
        Panel("Producer transactions", "Processor transactions (one per batch), committed or aborted.",
              (("sum by (result) (rate(newswire_transactions_total[$__rate_interval]))", "{{result}}"),),
              unit="reqps"),
        Panel("Retries by operation", "Retriable failures (store, publish, commit) the processors backed off from.",
              (("sum by (operation) (rate(newswire_retries_total[$__rate_interval]))", "{{operation}}"),),
              unit="reqps"),
        Panel("Publish flush", "Time to flush a batch's records to the broker.",
              _quantiles("newswire_publish_flush_duration_seconds", qs=(0.5, 0.95)), unit="s"),
    )),
    Row("Latency", (
        Panel("Stage duration p95", "95th percentile of each stage's time per record.",
              _quantiles("newswire_stage_duration_seconds", "stage", (0.95,)), unit="s"),
        Panel("Fetch to clean", "From the raw record's fetch to the broker's ack of its clean or duplicate record.",
              _quantiles("newswire_fetch_to_clean_seconds"), unit="s"),
        Panel("Batch duration", "Time to handle one consumed batch end to end.",
              _quantiles("newswire_batch_duration_seconds"), unit="s"),
        Panel("Store write p95", "Time of one store write, by operation.",
              _quantiles("newswire_store_write_duration_seconds", "operation", (0.95,)), unit="s"),
    )),
    Row("Fetching", (
        Panel("Feed polls by result", "Feed checks: new content, nothing new, not modified, and the failures.",
              (("sum by (result) (rate(newswire_feed_polls_total[$__rate_interval]))", "{{result}}"),),
              unit="reqps", stacked=True),
        Panel("Fetch errors by kind", "Failed fetches by target (feed, sitemap, page, robots) and kind.",
              (("sum by (target, kind) (rate(newswire_fetch_errors_total[$__rate_interval]))", "{{target}} {{kind}}"),),
              unit="reqps", stacked=True),
        Panel("Fetch error ratio", "Share of fetches that failed, by target (alert above 30%).",
              (("sum by (target) (rate(newswire_fetch_errors_total[$__rate_interval])) / "
                "sum by (target) (rate(newswire_fetch_duration_seconds_count[$__rate_interval]))", "{{target}}"),),
              unit="percentunit"),
        Panel("Fetch duration p95", "Time of one HTTP fetch, redirects included, by target.",
              _quantiles("newswire_fetch_duration_seconds", "target", (0.95,)), unit="s"),
        Panel("Scrapes by result", "Links the scraper handled: scraped, refused by robots.txt, retried, dead-lettered.",
              (("sum by (result) (rate(newswire_scrapes_total[$__rate_interval]))", "{{result}}"),), unit="reqps"),
        Panel("Politeness", "Fetches refused by robots.txt, and the 95th percentile wait for a host's turn.",
              (("sum by (reason) (rate(newswire_robots_refusals_total[$__rate_interval]))", "robots {{reason}}"),
               ("histogram_quantile(0.95, sum by (le) (rate(newswire_host_wait_duration_seconds_bucket[$__rate_interval])))",
                "host wait p95 (s)")), unit="short"),
        Panel("Bytes fetched", "Bytes received by fetches, before decompression, by kind.",
              (("sum by (kind) (rate(newswire_fetch_bytes_total[$__rate_interval]))", "{{kind}}"),), unit="Bps"),
        Panel("Feeds in backoff", "Sources whose last check failed, waiting for a retry; and the poll duration p95.",
              (("sum(newswire_feeds_in_backoff)", "in backoff"),
               ("histogram_quantile(0.95, sum by (le) (rate(newswire_feed_poll_duration_seconds_bucket[$__rate_interval])))",
                "poll p95 (s)"),
               ("sum by (result) (rate(newswire_feed_entries_total[$__rate_interval]))", "entries {{result}} /s"))),
    )),
    Row("Dead letters", (
        Panel("Dead letters by stage and error", "Raw records the processors sent to the dead-letter topic.",
              (("sum by (stage, error) (rate(newswire_dead_letters_total[$__rate_interval]))", "{{stage}} {{error}}"),),
              unit="reqps", stacked=True),
        Panel("Dead-letter ratio", "Share of consumed raw records dead-lettered (alert above 5%), and of the links "
              "the scraper finished with (alert above 25%).",
              (("sum(rate(newswire_dead_letters_total[$__rate_interval])) / "
                "sum(rate(newswire_records_consumed_total[$__rate_interval]))", "processors"),
               ("sum(rate(newswire_scrapes_total{result=\"dead_letter\"}[$__rate_interval])) / "
                "sum(rate(newswire_scrapes_total{result!=\"retried\"}[$__rate_interval]))", "scraper")),
              unit="percentunit"),
    )),
    Row("Freshness and liveness", (
        Panel("Publication to clean", "Time from an article's declared publication to its clean record (freshness).",
              _quantiles("newswire_publication_to_clean_seconds", qs=(0.5, 0.9)), unit="s"),
        Panel("Time since last successful poll", "Per source; the stalled-source alert fires at three intervals.",
              (("time() - max by (source) (newswire_feed_last_success_timestamp_seconds)", "{{source}}"),), unit="s"),
        Panel("Main-loop heartbeat age", "Seconds since each service's main loop last turned (alert above 300 s).",
              (("time() - newswire_loop_heartbeat_timestamp_seconds", "{{service}} {{instance}}"),), unit="s"),
        Panel("Running versions", "newswire version of each scrape target.",
              (("count by (version) (newswire_build_info)", "{{version}}"),), kind="stat"),
    )),
)


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict:
    height = 5 if panel.kind == "stat" else 8
    custom = {"stacking": {"mode": "normal" if panel.stacked else "none"}, "fillOpacity": 10 if panel.stacked else 0}
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit, **({"custom": custom} if panel.kind == "timeseries" else {})},
                        "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}} if panel.kind != "stat" else
                   {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"},
        "targets": [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(panel.targets)],
    }


def build() -> dict:
    """The dashboard as Grafana's JSON model."""
    panels: list[dict] = []
    panel_id, y = 1, 0
    for row in ROWS:
        panels.append({"id": panel_id, "type": "row", "title": row.title, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        panel_id, y, x, row_height = panel_id + 1, y + 1, 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, row_height = 0, y + row_height, 0
            panels.append(_panel(panel, panel_id, x, y))
            panel_id += 1
            x += panel.width
            row_height = max(row_height, panels[-1]["gridPos"]["h"])
        y += row_height
    return {
        "uid": "newswire",
        "title": "newswire",
        "description": "Throughput, outcomes, lag, latency, fetching, dead letters and freshness of the newswire "
                       "pipeline (docs/metrics.md explains every metric).",
        "tags": ["newswire"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "label": "Prometheus", "type": "datasource",
                                 "query": "prometheus", "current": {}, "hide": 0, "refresh": 1}]},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT}", file=sys.stderr)
