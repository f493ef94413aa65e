"""Every Prometheus metric newswire exports, in one namespace, with bounded labels.

Labels never carry a URL, an article id or an exception message: only stage names, outcomes, reasons, kinds,
languages, error classes and configured source names. `docs/metrics.md` documents each metric.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

__all__ = [
    "BUILD_INFO",
    "FEED_POLLS",
    "FEED_POLL_SECONDS",
    "FEED_ENTRIES",
    "FEED_LAST_SUCCESS",
    "FEED_INTERVAL",
    "FETCH_BYTES",
    "RAW_PUBLISHED",
    "FETCH_SECONDS",
    "FETCH_ERRORS",
    "FEEDS_IN_BACKOFF",
    "LINKS_PUBLISHED",
    "SCRAPES",
    "ROBOTS_REFUSALS",
    "HOST_WAIT_SECONDS",
    "RECORDS_CONSUMED",
    "RECORDS_PROCESSED",
    "STAGE_SECONDS",
    "STAGE_RESULTS",
    "DROPS",
    "DEAD_LETTERS",
    "BUDGET_EXCEEDED",
    "DUPLICATES",
    "LANGUAGES",
    "TOPICS",
    "STORE_SECONDS",
    "PUBLISH_SECONDS",
    "BATCH_SECONDS",
    "RETRIES",
    "LOOP_HEARTBEAT",
    "CONSUMER_LAG",
    "FETCH_TO_CLEAN_SECONDS",
    "PUBLICATION_TO_CLEAN_SECONDS",
    "TRANSACTIONS",
]

NS = "newswire"
_STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_FRESHNESS_BUCKETS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 3 * 86_400, 7 * 86_400)
_IO_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

BUILD_INFO = Info("build", "Version of the running newswire code.", namespace=NS)

# Ingest.
FEED_POLLS = Counter("feed_polls_total", "Feed polls by result (new_content, no_new_entries, not_modified, "
                     "http_error, parse_error, timeout, refused, fetch_error, publish_error).", ["result"], namespace=NS)
FEED_POLL_SECONDS = Histogram("feed_poll_duration_seconds", "Time to fetch and parse one feed.",
                              namespace=NS, buckets=_IO_BUCKETS)
FEED_ENTRIES = Counter("feed_entries_total", "Feed entries seen, new or already published.", ["result"],
                       namespace=NS)
FEED_LAST_SUCCESS = Gauge("feed_last_success_timestamp_seconds", "Unix time of the last successful poll.",
                          ["source"], namespace=NS)
# Lets the stalled-source alert tell a quiet source (long adaptive interval) from a stalled one.
FEED_INTERVAL = Gauge("feed_interval_seconds", "Current time between two checks of a source (configured, adaptive "
                      "or from the feed's TTL), set after each successful poll.", ["source"], namespace=NS)
FETCH_BYTES = Counter("fetch_bytes_total", "Bytes received by fetches, before decompression.", ["kind"],
                      namespace=NS)
RAW_PUBLISHED = Counter("raw_published_total", "Raw article records acknowledged by the broker.", ["origin"],
                        namespace=NS)
FETCH_SECONDS = Histogram("fetch_duration_seconds", "Time of one HTTP fetch, redirects included, by target "
                          "(feed, sitemap, page, robots).", ["target"], namespace=NS, buckets=_IO_BUCKETS)
FETCH_ERRORS = Counter("fetch_errors_total", "Failed fetches by target and kind (timeout, refused, too_large, "
                       "server_error, rate_limited, http_error, connection, redirects, ...).", ["target", "kind"],
                       namespace=NS)
FEEDS_IN_BACKOFF = Gauge("feeds_in_backoff", "Feeds whose last check failed and that wait for a retry.",
                         namespace=NS)
LINKS_PUBLISHED = Counter("links_published_total", "Article links acknowledged by the broker on the links topic.",
                          namespace=NS)
SCRAPES = Counter("scrapes_total", "Links handled by the scraper, by result (ok, robots_disallowed, retried, "
                  "held, dead_letter).", ["result"], namespace=NS)
ROBOTS_REFUSALS = Counter("robots_refusals_total", "Fetches not made because of robots.txt, by reason "
                          "(disallowed, unreachable).", ["reason"], namespace=NS)
HOST_WAIT_SECONDS = Histogram("host_wait_duration_seconds", "Time a fetch waited for its host's politeness delay "
                              "or concurrency slot.", namespace=NS, buckets=_IO_BUCKETS)

# Processing.
RECORDS_CONSUMED = Counter("records_consumed_total", "Records taken from the raw topic.", namespace=NS)
RECORDS_PROCESSED = Counter("records_processed_total", "Raw records fully handled, by outcome "
                            "(clean, duplicate, dropped, dead_letter).", ["outcome"], namespace=NS)
STAGE_SECONDS = Histogram("stage_duration_seconds", "Time spent in one processing stage per record.", ["stage"],
                          namespace=NS, buckets=_STAGE_BUCKETS)
STAGE_RESULTS = Counter("stage_results_total", "Stage results (ok, drop, error).", ["stage", "result"],
                        namespace=NS)
DROPS = Counter("drops_total", "Records dropped by a stage, by reason.", ["stage", "reason"], namespace=NS)
DEAD_LETTERS = Counter("dead_letters_total", "Records sent to the dead-letter topic.", ["stage", "error"],
                       namespace=NS)
BUDGET_EXCEEDED = Counter("record_budget_exceeded_total", "Records refused by a per-record budget, by stage and "
                          "limit (body_chars, html_elements, html_depth, table_cells, time, memory); each is also a "
                          "dead letter.", ["stage", "limit"], namespace=NS)
DUPLICATES = Counter("duplicates_total", "Duplicates detected, by kind.", ["kind"], namespace=NS)
LANGUAGES = Counter("articles_by_language_total", "Clean articles by detected language.", ["language"],
                    namespace=NS)
# Top level only (17 IPTC codes), so the label stays bounded whatever the tagger's depth.
TOPICS = Counter("articles_by_topic_total", "Clean articles by IPTC Media Topics top-level code (an article with "
                 "topics under several top-level codes counts once under each).", ["topic"], namespace=NS)
STORE_SECONDS = Histogram("store_write_duration_seconds", "Time of one store write.", ["operation"],
                          namespace=NS, buckets=_IO_BUCKETS)
PUBLISH_SECONDS = Histogram("publish_flush_duration_seconds", "Time to flush a batch to the broker.",
                            namespace=NS, buckets=_IO_BUCKETS)
BATCH_SECONDS = Histogram("batch_duration_seconds", "Time to handle one consumed batch end to end.",
                          namespace=NS, buckets=_IO_BUCKETS)
RETRIES = Counter("retries_total", "Retriable failures (broker, store), by operation.", ["operation"],
                  namespace=NS)
LOOP_HEARTBEAT = Gauge("loop_heartbeat_timestamp_seconds", "Unix time of the last main-loop iteration.",
                       ["service"], namespace=NS)
CONSUMER_LAG = Gauge("consumer_lag_records", "Records of an assigned partition not yet consumed (end offset minus "
                     "position), exported by each processor for the partitions it owns.", ["topic", "partition"],
                     namespace=NS)
FETCH_TO_CLEAN_SECONDS = Histogram("fetch_to_clean_seconds", "Time from the raw record's fetch to the broker's "
                                   "acknowledgement of its clean or duplicate record.", namespace=NS,
                                   buckets=_IO_BUCKETS + (120, 300, 900, 3600))
PUBLICATION_TO_CLEAN_SECONDS = Histogram("publication_to_clean_seconds", "Time from the article's declared "
                                         "publication to its clean record's acknowledgement (freshness).",
                                         namespace=NS, buckets=_FRESHNESS_BUCKETS)
TRANSACTIONS = Counter("transactions_total", "Processor producer transactions by result (committed, aborted).",
                       ["result"], namespace=NS)
