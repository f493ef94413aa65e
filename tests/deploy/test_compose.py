"""docker-compose.yml without Docker: valid against the Compose Specification's JSON Schema, laid out as the
operations guide says, and every newswire command it names run once against the real broker and PostgreSQL,
with the environment it gives adapted to the test services (tests never reach the internet: the example feeds
are served from a local server under their own names)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import jsonschema
import pytest
import yaml

from newswire.cli import build_parser
from tests.conftest import REPO, Route, _reset_postgres, seed_texts
from tests.deploy.support import COMPOSE_FILE
from tests.feeds import rss
from tests.kafka_io import read_topic

pytestmark = pytest.mark.deploy

SCHEMA = REPO / "tests" / "fixtures" / "compose-spec.schema.json"
NEWSWIRE_IMAGE = "newswire:local"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _interpolate(value: str, environ: dict[str, str]) -> str:
    """Compose's ${VAR} and ${VAR:-default} interpolation."""
    return _VARIABLE.sub(lambda m: environ.get(m.group(1)) or (m.group(2) or ""), value)


def _newswire_services(compose: dict) -> dict[str, dict]:
    return {name: service for name, service in compose["services"].items()
            if service.get("image") == NEWSWIRE_IMAGE}


def _host_ports(service: dict) -> list[int]:
    ports: list[int] = []
    for mapping in service.get("ports", []):
        host = str(mapping).rsplit(":", 1)[0]
        first, _, last = host.partition("-")
        ports.extend(range(int(first), int(last or first) + 1))
    return ports


def test_compose_file_is_valid_against_the_compose_specification():
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(_compose())]
    assert errors == []
    # The schema does reject what compose would reject.
    broken = _compose()
    broken["services"]["poller"]["restrat"] = "always"
    assert any("restrat" in e.message for e in validator.iter_errors(broken))


def test_compose_runs_the_whole_stack():
    services = _compose()["services"]
    assert {"kafka", "postgres", "topics", "poller", "scraper", "processor", "prometheus", "grafana"} <= set(services)
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert kafka["healthcheck"]["test"]
    assert services["processor"]["deploy"]["replicas"] == 2
    for name in ("poller", "scraper", "processor"):
        depends = services[name]["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully", name
        assert depends["kafka"]["condition"] == "service_healthy", name
    assert services["poller"]["volumes"] == ["./deploy/feeds.example.yaml:/etc/newswire/feeds.yaml:ro"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]


def test_host_ports_never_clash_and_each_replica_gets_one():
    services = _compose()["services"]
    taken: list[int] = []
    for name, service in services.items():
        ports = _host_ports(service)
        if ports:  # a published port per replica, or `docker compose up` fails on the second one
            assert len(ports) >= service.get("deploy", {}).get("replicas", 1), name
        taken.extend(ports)
    assert len(taken) == len(set(taken))
    # Every long-running newswire service publishes its status port.
    assert all(_host_ports(services[name]) for name in ("poller", "scraper", "processor"))


def test_bind_mounts_exist_and_images_are_pinned():
    for name, service in _compose()["services"].items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), name
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                assert (REPO / volume.split(":")[0]).exists(), f"{name}: {volume}"


def test_every_newswire_command_parses():
    services = _newswire_services(_compose())
    assert set(services) == {"topics", "poller", "scraper", "processor"}
    for name, service in services.items():
        build_parser().parse_args(service["command"])
        assert service["build"]["dockerfile"] == "deploy/Dockerfile", name


# -- running the commands ----------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _local_feeds(http_server, tmp_path: Path) -> tuple[Path, int]:
    """The example feeds under their own names, served locally: even ones with full content (published as raw
    articles), odd ones with links to article pages (published for the scraper). Returns the file and the
    number of articles."""
    examples = yaml.safe_load((REPO / "deploy" / "feeds.example.yaml").read_text())["feeds"]
    texts = list(seed_texts().values())
    feeds = []
    for i, example in enumerate(examples):
        text = f"Dépêche {example['name']}.\n" + texts[i % len(texts)]
        page = f"/{example['name']}/article"
        entry = {"link": http_server.url(page), "title": f"{example['name']} article", "text": text}
        http_server.routes[f"/{example['name']}/rss"] = Route(200, rss([entry]), {"Content-Type": "application/rss+xml"})
        paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n") if p.strip())
        html = f"<html><head><title>{entry['title']}</title></head><body><article>{paragraphs}</article></body></html>"
        http_server.routes[page] = Route(200, html.encode(), {"Content-Type": "text/html; charset=utf-8"})
        feeds.append({**example, "url": http_server.url(f"/{example['name']}/rss"),
                      "publish": "raw" if i % 2 == 0 else "links"})
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump({"feeds": feeds}))
    return path, len(feeds)


def _command(service: dict, feeds: Path) -> list[str]:
    """The service's command, with paths that compose bind-mounts from the example feeds pointing at `feeds`."""
    targets = {volume.split(":")[1]: volume.split(":")[0] for volume in service.get("volumes", [])}
    executable = Path(sys.executable).with_name("newswire")
    prefix = [str(executable)] if executable.exists() else [sys.executable, "-m", "newswire.cli"]
    return prefix + [str(feeds) if targets.get(arg) == "./deploy/feeds.example.yaml" else arg
                     for arg in service["command"]]


def _environment(service: dict, overrides: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    env.update({key: _interpolate(str(value), os.environ) for key, value in service["environment"].items()})
    env.update(overrides)
    return env


@pytest.mark.kafka
@pytest.mark.postgres
def test_every_compose_command_runs_against_the_broker_and_postgres(kafka_bootstrap, postgres_dsn, topic_settings,
                                                                     http_server, tmp_path):
    compose = _compose()
    services = _newswire_services(compose)
    feeds, articles = _local_feeds(http_server, tmp_path)
    _reset_postgres(postgres_dsn)
    suffix = uuid.uuid4().hex[:8]
    test_services = {
        "NEWSWIRE_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "NEWSWIRE_STORE__URL": postgres_dsn,
        "NEWSWIRE_TOPICS__RAW": topic_settings.raw, "NEWSWIRE_TOPICS__CLEAN": topic_settings.clean,
        "NEWSWIRE_TOPICS__DUPLICATES": topic_settings.duplicates,
        "NEWSWIRE_TOPICS__DEAD_LETTER": topic_settings.dead_letter, "NEWSWIRE_TOPICS__LINKS": topic_settings.links,
        "NEWSWIRE_PROCESSOR__GROUP_ID": f"compose-processor-{suffix}",
        "NEWSWIRE_SCRAPER__GROUP_ID": f"compose-scraper-{suffix}",
        "NEWSWIRE_HTTP__ALLOW_NETWORKS": '["127.0.0.1/32"]',  # the "internet" is the loopback test server
        "NEWSWIRE_SCRAPER__HOST_MIN_DELAY_SECONDS": "0.1",
    }
    # The test database's password is in its DSN; the compose password variable is for the compose database.
    test_env = lambda service, port: {k: v for k, v in _environment(service, {  # noqa: E731
        **test_services, "NEWSWIRE_SERVICE__METRICS_PORT": str(port)}).items() if k != "NEWSWIRE_STORE__PASSWORD"}

    # The one-shot topic creation runs to completion first, as compose's depends_on orders it.
    topics = subprocess.run(_command(services["topics"], feeds), env=test_env(services["topics"], 0),
                            capture_output=True, text=True, timeout=120)
    assert topics.returncode == 0, topics.stderr[-3000:]
    assert f"{topic_settings.raw}\tcreated" in topics.stdout

    # Then the long-running services, each replica on its own status port.
    running: list[tuple[str, int, subprocess.Popen]] = []
    try:
        for name in ("poller", "scraper", "processor"):
            for _ in range(services[name].get("deploy", {}).get("replicas", 1)):
                port = _free_port()
                process = subprocess.Popen(_command(services[name], feeds), env=test_env(services[name], port),
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                running.append((name, port, process))
        started = time.monotonic()
        deadline = started + 120
        while time.monotonic() < deadline and not all(_status(port, "/readyz") == 200 for _, port, _ in running):
            assert all(p.poll() is None for _, _, p in running), "a service exited early"
            time.sleep(0.5)
        assert {name: _status(port, "/readyz") for name, port, _ in running} == {
            name: 200 for name, _, _ in running}
        assert all(_status(port, "/healthz") == 200 for _, port, _ in running)
        print(f"all {len(running)} services ready after {time.monotonic() - started:.1f}s")
        handled: list = []
        while time.monotonic() < deadline + 60 and len(handled) < articles:
            time.sleep(1)  # near-identical seed texts make some duplicates: count both outputs
            handled = (read_topic(kafka_bootstrap, topic_settings.clean, settle=0.5)
                       + read_topic(kafka_bootstrap, topic_settings.duplicates, settle=0.5))
        assert len(handled) == articles
        print(f"{articles} articles handled after {time.monotonic() - started:.1f}s")
    finally:
        for _, _, process in running:
            process.send_signal(signal.SIGTERM)
        outputs = {f"{name}:{port}": process.communicate(timeout=60) for name, port, process in running}
    assert {key: process.returncode for (name, port, process), key in zip(running, outputs)} == {
        key: 0 for key in outputs}, {key: err[-2000:] for key, (_, err) in outputs.items()}
    # Half the example feeds went through the scraper (every processor replica was ready, so each was assigned
    # partitions of the raw topic).
    scraped = {json.loads(m.value)["source"] for m in read_topic(kafka_bootstrap, topic_settings.links, timeout=3)}
    assert len(scraped) == articles // 2
