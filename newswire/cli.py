"""The `newswire` command line: services (poll, process, run), topics, offline processing, tail and replay."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from newswire import __version__
from newswire.service import Health, StatusServer, configure_logging, install_stop_handlers
from newswire.settings import Settings, load_settings, masked

__all__ = ["main", "build_parser"]

log = logging.getLogger("newswire")


def build_parser() -> argparse.ArgumentParser:
    # Global options are accepted before or after the command (`newswire process --bootstrap ...`).
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--config", metavar="FILE", help="YAML config file (env: NEWSWIRE_CONFIG)")
    common.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka bootstrap servers (kafka.bootstrap_servers)")
    common.add_argument("--store", metavar="URL", help="store URL: a SQLite path or postgresql://... (store.url)")
    common.add_argument("--metrics-port", type=int, metavar="PORT", help="port of /metrics, /healthz, /readyz; 0 off")
    common.add_argument("--metrics-host", metavar="ADDRESS",
                        help="address the status port binds to, e.g. 127.0.0.1 or :: (service.metrics_host)")
    common.add_argument("--log-format", choices=["text", "json"], help="log as text or JSON lines")
    common.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    common.add_argument("--print-config", action="store_true", help="print the effective settings (secrets masked)")
    parser = argparse.ArgumentParser(prog="newswire", description=__doc__, parents=[common])
    parser.add_argument("--version", action="version", version=f"newswire {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    topics = sub.add_parser("topics", parents=[common], help="manage Kafka topics")
    topics_sub = topics.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    topics_sub.add_parser("ensure", parents=[common], help="create the topics that are missing")
    topics_sub.add_parser("list", parents=[common], help="list newswire's topics and their partitions")

    poll = sub.add_parser("poll", parents=[common], help="poll feeds and publish raw articles (service)")
    poll.add_argument("--feeds", metavar="FILE", help="YAML list of feeds (poller.feeds_file)")
    poll.add_argument("--once", action="store_true", help="poll every feed once and exit")

    process = sub.add_parser("process", parents=[common], help="consume raw articles, process, store and publish (service)")
    process.add_argument("--group-id", help="consumer group (processor.group_id)")
    process.add_argument("--max-records", type=int, help="exit after handling this many records")
    process.add_argument("--idle-exit", type=float, metavar="SECONDS", help="exit after this long without records")
    process.add_argument("--workers", type=int, default=1, metavar="N",
                         help="start N consumer processes (each serves its status endpoint on metrics port + i)")

    scrape = sub.add_parser("scrape", parents=[common],
                            help="fetch article pages from the links topic (service), or the URLs given")
    scrape.add_argument("urls", nargs="*", metavar="URL", help="one-off URLs to scrape instead of the links topic")
    scrape.add_argument("--print", dest="print_records", action="store_true",
                        help="with URLs: print the raw records as JSON lines instead of publishing them")
    scrape.add_argument("--source", default="cli", help="with URLs: source name recorded in the raw records")
    scrape.add_argument("--group-id", help="consumer group (scraper.group_id)")
    scrape.add_argument("--max-records", type=int, help="exit after handling this many links")
    scrape.add_argument("--idle-exit", type=float, metavar="SECONDS", help="exit after this long without links")

    opml = sub.add_parser("opml-import", parents=[common], help="convert an OPML subscription list to a feeds file")
    opml.add_argument("opml", metavar="FILE", help="OPML file to read")
    opml.add_argument("--output", metavar="FILE", help="write the YAML here instead of printing it")

    run = sub.add_parser("run", parents=[common], help="poller and processor together, for one machine")
    run.add_argument("--feeds", metavar="FILE", help="YAML list of feeds (poller.feeds_file)")

    pf = sub.add_parser("process-file", parents=[common], help="run the processing stages on local files, print JSON lines")
    pf.add_argument("paths", nargs="+", metavar="PATH", help="HTML or text files; - for stdin")
    pf.add_argument("--source", default="file", help="source name recorded in the output")
    pf.add_argument("--explain", action="store_true", help="show each removed line and why, on stderr")
    pf.add_argument("--all", action="store_true", help="also print a JSON line for dropped and failed inputs")

    tail = sub.add_parser("tail", parents=[common], help="follow the clean topic and print records")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    tail.add_argument("--max", type=int, metavar="N", help="stop after N records")
    tail.add_argument("--language", action="append", metavar="CODE", help="only these languages (repeatable)")
    tail.add_argument("--timeout", type=float, metavar="SECONDS", help="stop after this long without records")
    tail.add_argument("--topic", help="another topic to follow (e.g. the duplicates topic)")

    replay = sub.add_parser("replay", parents=[common], help="re-process the raw topic in a fresh consumer group")
    replay.add_argument("--from", dest="from_time", metavar="TIME",
                        help="ISO 8601 time to start from (default: the beginning)")
    replay.add_argument("--group-id", help="consumer group (default: a new newswire-replay-<time> group)")
    replay.add_argument("--follow", action="store_true", help="keep going after reaching the end")

    dedupe = sub.add_parser("dedupe", parents=[common], help="maintain the dedupe and template state in the store")
    dedupe_sub = dedupe.add_subparsers(dest="dedupe_command", metavar="ACTION", required=True)
    purge = dedupe_sub.add_parser("purge", parents=[common], help="delete state older than the retention window")
    purge.add_argument("--older-than-days", type=float, metavar="DAYS",
                       help="retention window (default: processor.retention_days)")

    schemas = sub.add_parser("schemas", parents=[common], help="print or write the JSON Schemas of the records")
    schemas.add_argument("--write", metavar="DIR", help="write one file per record into DIR")
    return parser


_GLOBAL_DEFAULTS = {"config": None, "bootstrap": None, "store": None, "metrics_port": None, "metrics_host": None,
                    "log_format": None, "log_level": None, "print_config": False}


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if args.bootstrap:
        overrides["kafka"] = {"bootstrap_servers": args.bootstrap}
    if args.store:
        overrides["store"] = {"url": args.store}
    service: dict[str, Any] = {}
    if args.metrics_port is not None:
        service["metrics_port"] = args.metrics_port
    if args.metrics_host:
        service["metrics_host"] = args.metrics_host
    if args.log_format:
        service["log_format"] = args.log_format
    if args.log_level:
        service["log_level"] = args.log_level
    if service:
        overrides["service"] = service
    if getattr(args, "feeds", None):
        overrides["poller"] = {"feeds_file": args.feeds}
    if getattr(args, "group_id", None) and args.command == "process":
        overrides["processor"] = {"group_id": args.group_id}
    if getattr(args, "group_id", None) and args.command == "scrape":
        overrides["scraper"] = {"group_id": args.group_id}
    # Sources are deep-merged: a flag replaces one field of its section, not the section.
    return load_settings(args.config or os.environ.get("NEWSWIRE_CONFIG"), **overrides)


class _Service:
    """Status endpoint + stop handling around a service's main function."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.health = Health(name, settings.service.liveness_window_seconds)
        self.stop = threading.Event()
        install_stop_handlers(self.stop, settings.service.shutdown_grace_seconds)
        self.server = None
        if settings.service.metrics_port:
            self.server = StatusServer(self.health, settings.service.metrics_host,
                                       settings.service.metrics_port).start()

    def close(self) -> None:
        if self.server:
            self.server.stop()


def _feeds_file(settings: Settings) -> Path:
    if settings.poller.feeds_file is None:
        raise SystemExit("no feeds file: pass --feeds FILE or set poller.feeds_file")
    return settings.poller.feeds_file


def cmd_topics(settings: Settings, args: argparse.Namespace) -> int:
    from newswire.kafka import ensure_topics, make_consumer, wait_for_broker

    wait_for_broker(settings.kafka)
    if args.topics_command == "ensure":
        for topic, state in ensure_topics(settings.kafka, settings.topics).items():
            print(f"{topic}\t{state}")
        return 0
    consumer = make_consumer(settings.kafka, None)
    try:
        for topic in sorted(consumer.topics()):
            if topic.startswith("__"):
                continue
            print(f"{topic}\t{len(consumer.partitions_for_topic(topic) or ())} partitions")
    finally:
        consumer.close()
    return 0


def cmd_poll(settings: Settings, args: argparse.Namespace) -> int:
    from ingest.service import run_poller

    service = _Service(settings, "poller")
    try:
        results = run_poller(settings, _feeds_file(settings), health=service.health, stop=service.stop,
                             once=args.once)
    finally:
        service.close()
    if args.once:
        published = sum(r.published for r in results)
        links = sum(r.links for r in results)
        failed = [r for r in results
                  if r.result in ("http_error", "parse_error", "timeout", "refused", "fetch_error")]
        print(f"polled {len(results)} feeds: {published} new entries published, {links} links for the scraper, "
              f"{len(failed)} failed", file=sys.stderr)
    return 0


EXIT_RECYCLE = 3  # a worker process that handled `processor.recycle_after_records` records and wants replacing


def _process_child(settings_data: dict, index: int, max_records: int | None, idle_exit: float | None) -> None:
    """One worker process of `newswire process`; exits with EXIT_RECYCLE when due for recycling."""
    settings = Settings.model_validate(settings_data)
    configure_logging(settings.service.log_level, settings.service.log_format)
    from processors.service import run_processor

    recycle = settings.processor.recycle_after_records if max_records is None else 0
    service = _Service(settings, f"processor-{index}")
    try:
        stats = run_processor(settings, health=service.health, stop=service.stop,
                              max_records=max_records or recycle or None, idle_exit_seconds=idle_exit, index=index)
    finally:
        service.close()
    print(f"processor-{index} processed {stats.total()} records: {dict(stats.outcomes)}", file=sys.stderr)
    if recycle and stats.total() >= recycle and not service.stop.is_set():
        sys.exit(EXIT_RECYCLE)


def _process_many(settings: Settings, args: argparse.Namespace) -> int:
    """Supervise N worker processes: pass SIGTERM/SIGINT on, and replace a worker that exits to be recycled."""
    import multiprocessing
    import signal

    context = multiprocessing.get_context("spawn")
    # Fewer glibc malloc arenas: the workers' threads (Kafka I/O, status server) otherwise fragment memory.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")

    def start(index: int):
        data = settings.model_dump()  # Python mode: secrets stay SecretStr (a JSON dump would mask them)
        if settings.service.metrics_port:
            data["service"]["metrics_port"] = settings.service.metrics_port + index
        child = context.Process(target=_process_child, name=f"processor-{index}",
                                args=(data, index, args.max_records, args.idle_exit))
        child.start()
        return child

    children = [start(index) for index in range(args.workers)]
    log.info("started %d processor processes", len(children), extra={"pids": [c.pid for c in children]})
    stop = threading.Event()
    install_stop_handlers(stop)
    recycled = 0
    while not stop.is_set():
        for index, child in enumerate(children):
            if child.exitcode == EXIT_RECYCLE:
                recycled += 1
                log.info("recycling %s (bounded memory): starting a fresh process", child.name,
                         extra={"recycled": recycled})
                children[index] = start(index)
        if not any(c.is_alive() for c in children):
            break
        stop.wait(0.5)
    for child in children:
        if child.is_alive():
            os.kill(child.pid, signal.SIGTERM)
    for child in children:
        child.join(settings.service.shutdown_grace_seconds + 5)
        if child.is_alive():
            log.error("processor %s did not stop in time, killing it", child.name)
            child.kill()
            child.join()
    failed = [c.name for c in children if c.exitcode not in (0, EXIT_RECYCLE, -signal.SIGTERM)]
    if failed:
        log.error("processor processes failed: %s", ", ".join(failed))
    return 1 if failed else 0


def cmd_process(settings: Settings, args: argparse.Namespace) -> int:
    """The processor. Several workers, or one that recycles itself, run under a supervisor process."""
    if args.workers > 1 or (settings.processor.recycle_after_records and args.max_records is None):
        return _process_many(settings, args)  # the supervisor never loads the pipeline: it stays small
    from processors.service import run_processor

    service = _Service(settings, "processor")
    try:
        stats = run_processor(settings, health=service.health, stop=service.stop, max_records=args.max_records,
                              idle_exit_seconds=args.idle_exit)
    finally:
        service.close()
    print(f"processed {stats.total()} records: {dict(stats.outcomes)}", file=sys.stderr)
    return 0


def cmd_scrape(settings: Settings, args: argparse.Namespace) -> int:
    if not args.urls:
        from ingest.service import run_scraper

        service = _Service(settings, "scraper")
        try:
            stats = run_scraper(settings, health=service.health, stop=service.stop, max_records=args.max_records,
                                idle_exit_seconds=args.idle_exit)
        finally:
            service.close()
        print(f"scraped {stats.total()} links: {dict(stats.outcomes)}", file=sys.stderr)
        return 0
    from ingest.publish import RawPublisher
    from ingest.service import scrape_urls
    from newswire.kafka import make_producer
    from newswire.records import encode

    producer = None if args.print_records else make_producer(settings.kafka)
    failed = 0
    try:
        for outcome in scrape_urls(settings, args.urls, source=args.source):
            url = outcome.link.url if outcome.link else "?"
            if outcome.raw is None:
                failed += 1
                print(f"{url}: {outcome.result}: {outcome.failure}", file=sys.stderr)
            elif producer is None:
                sys.stdout.write(encode(outcome.raw).decode("utf-8") + "\n")
            elif RawPublisher(producer, settings.topics.raw).publish([outcome.raw]):
                print(f"{url}: published {outcome.raw.raw_id} to {settings.topics.raw}", file=sys.stderr)
            else:
                failed += 1
                print(f"{url}: not acknowledged by the broker", file=sys.stderr)
    finally:
        if producer is not None:
            producer.close(timeout=10)
    return 1 if failed else 0


def cmd_opml_import(settings: Settings, args: argparse.Namespace) -> int:
    from ingest.sources import feeds_to_yaml, parse_opml

    text = feeds_to_yaml(parse_opml(Path(args.opml).read_bytes()))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from ingest.service import run_poller
    from newswire.kafka import ensure_topics, wait_for_broker
    from newswire.store import open_store
    from processors.service import run_processor

    feeds = _feeds_file(settings)
    wait_for_broker(settings.kafka)
    ensure_topics(settings.kafka, settings.topics)
    service = _Service(settings, "run")
    store = open_store(settings.store_url())
    poller_health = Health("poller")
    poller = threading.Thread(
        target=run_poller, name="poller", daemon=True,
        kwargs=dict(settings=settings, feeds_file=feeds, health=poller_health, stop=service.stop,
                    store=open_store(settings.store_url())))
    poller.start()
    from ingest.service import run_scraper

    scraper = threading.Thread(target=run_scraper, name="scraper", daemon=True,
                               kwargs=dict(settings=settings, health=Health("scraper"), stop=service.stop))
    scraper.start()
    log.info("running poller, scraper and processor; Ctrl-C or SIGTERM to stop")
    try:
        run_processor(settings, health=service.health, stop=service.stop, store=store)
    finally:
        service.stop.set()
        poller.join(timeout=settings.service.shutdown_grace_seconds)
        scraper.join(timeout=settings.service.shutdown_grace_seconds)
        store.close()
        service.close()
    return 0


def cmd_process_file(settings: Settings, args: argparse.Namespace) -> int:
    from newswire.records import encode
    from newswire.store import open_store
    from processors.offline import process_files
    from processors.pipeline import build_pipeline

    store = open_store(args.store or "sqlite:///:memory:")
    pipeline = build_pipeline(store, settings.processor)
    failures = 0
    for outcome in process_files(args.paths, pipeline, store, source=args.source):
        if outcome.record is not None:
            sys.stdout.write(encode(outcome.record).decode("utf-8") + "\n")
        else:
            failures += outcome.outcome == "error"
            print(f"{outcome.path}: {outcome.outcome}: {outcome.reason}", file=sys.stderr)
            if args.all:
                sys.stdout.write(json.dumps({"path": outcome.path, "outcome": outcome.outcome,
                                             "reason": outcome.reason}) + "\n")
        if args.explain and outcome.article is not None:
            _explain(outcome)
    store.close()
    return 1 if failures else 0


def _explain(outcome: Any) -> None:
    """Why the record looks the way it does: removed lines with reasons, language, topic and country evidence."""
    from processors.article import Drop, article_from_raw
    from processors.chrome.explain import explain
    from processors.classify import explain_countries, explain_topics
    from processors.stages.extract import ExtractText

    article = outcome.article
    out = sys.stderr
    print(f"# {outcome.path}: {outcome.outcome}; language {article.language} "
          f"({article.language_confidence:.2f}, evidence: {article.language_evidence}); title: {article.title!r}; "
          f"authors: {list(article.authors)}", file=out)
    extracted = ExtractText()(article_from_raw(article.raw))
    if not isinstance(extracted, Drop):
        for line, reason in explain(extracted):
            print(f"  - [{reason}] {line[:160]}", file=out)
    for topic in explain_topics(article.text or "", article.title, article.language)[:6]:
        terms = ", ".join(f"{t}×{n:g}" for t, n, _ in topic.terms[:6])
        print(f"  topic {topic.code} {topic.label} (score {topic.score:.2f}): {terms}", file=out)
    for country in explain_countries(article.text or "", article.title, article.language)[:6]:
        forms = ", ".join(f"{f}×{n:g}" for f, _, n in country.forms[:5])
        print(f"  country {country.code} {'kept' if country.kept else 'weak'} ({country.evidence:.1f}): {forms}",
              file=out)


def cmd_tail(settings: Settings, args: argparse.Namespace) -> int:
    from kafka import TopicPartition

    from newswire.kafka import make_consumer

    topic = args.topic or settings.topics.clean
    consumer = make_consumer(settings.kafka, None)
    stop = threading.Event()
    install_stop_handlers(stop)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            print(f"topic {topic} does not exist", file=sys.stderr)
            return 2
        consumer.assign(partitions)
        if args.from_beginning:
            consumer.seek_to_beginning(*partitions)
        else:
            consumer.seek_to_end(*partitions)
        wanted = set(args.language or ())
        printed = 0
        last = time.monotonic()
        while not stop.is_set():
            batch = consumer.poll(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    last = time.monotonic()
                    if wanted:
                        try:
                            if json.loads(message.value).get("language") not in wanted:
                                continue
                        except ValueError:
                            continue
                    sys.stdout.write(message.value.decode("utf-8", "replace") + "\n")
                    printed += 1
                    if args.max and printed >= args.max:
                        sys.stdout.flush()
                        return 0
            sys.stdout.flush()
            if args.timeout is not None and time.monotonic() - last > args.timeout:
                break
    finally:
        consumer.close(autocommit=False)
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from processors.service import run_replay

    start_ms = None
    if args.from_time:
        when = datetime.fromisoformat(args.from_time)
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        start_ms = int(when.timestamp() * 1000)
    group = args.group_id or f"newswire-replay-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}"
    service = _Service(settings, "replay")
    try:
        stats = run_replay(settings, health=service.health, stop=service.stop, group_id=group,
                           from_timestamp_ms=start_ms, follow=args.follow)
    finally:
        service.close()
    print(f"replayed {stats.total()} records in group {group}: {dict(stats.outcomes)}", file=sys.stderr)
    return 0


def cmd_dedupe(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timedelta

    from newswire.store import open_store

    days = args.older_than_days if args.older_than_days is not None else settings.processor.retention_days
    store = open_store(settings.store_url())
    try:
        for table, deleted in store.purge_state(timedelta(days=days)).items():
            print(f"{table}\t{deleted} rows deleted")
    finally:
        store.close()
    return 0


def cmd_schemas(settings: Settings, args: argparse.Namespace) -> int:
    from newswire.record_schemas import schema_documents

    documents = schema_documents()
    if args.write:
        out = Path(args.write)
        out.mkdir(parents=True, exist_ok=True)
        for name, document in documents.items():
            (out / name).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
            print(out / name)
    else:
        print(json.dumps(documents, indent=2, ensure_ascii=False))
    return 0


COMMANDS = {
    "topics": cmd_topics,
    "poll": cmd_poll,
    "process": cmd_process,
    "scrape": cmd_scrape,
    "opml-import": cmd_opml_import,
    "run": cmd_run,
    "process-file": cmd_process_file,
    "tail": cmd_tail,
    "replay": cmd_replay,
    "dedupe": cmd_dedupe,
    "schemas": cmd_schemas,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `newswire` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, default in _GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    if args.command == "process-file":
        args_store = args.store
        args.store = None  # process-file's store defaults to memory, not the service store
        settings = _settings(args)
        args.store = args_store
    else:
        settings = _settings(args)
    configure_logging(settings.service.log_level, settings.service.log_format)
    if args.print_config:
        print(json.dumps(masked(settings, args.command), indent=2))
        return 0
    if not args.command:
        parser.print_help()
        return 2
    from newswire.kafka import KafkaAccessDenied, KafkaUnavailable

    try:
        if _uses_kafka(args):
            _check_kafka(settings)
        return COMMANDS[args.command](settings, args)
    except (KafkaAccessDenied, KafkaUnavailable) as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130


def _uses_kafka(args: argparse.Namespace) -> bool:
    if args.command == "scrape":
        return not (args.urls and args.print_records)
    return args.command in ("topics", "poll", "process", "run", "tail", "replay")


def _check_kafka(settings: Settings) -> None:
    """Fail fast with a clear message when the broker refuses our TLS/SASL settings (kafka-python would only
    time out after kafka.bootstrap_timeout_ms with "Unable to bootstrap"). A broker that does not answer yet is
    left to the command, which waits for it as it always does."""
    from newswire.kafka import KafkaUnavailable, check_broker

    try:
        check_broker(settings.kafka, timeout_seconds=min(5.0, settings.kafka.bootstrap_timeout_ms / 1000))
    except KafkaUnavailable as exc:
        log.warning("%s; waiting for it", exc)


if __name__ == "__main__":
    sys.exit(main())
