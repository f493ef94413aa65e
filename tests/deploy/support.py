"""Helpers for the deployment checks: promtool, the metrics newswire defines, metric names inside PromQL."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import IN_CI, REPO

DEPLOY = REPO / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
K8S = DEPLOY / "k8s"
COMPOSE_FILE = REPO / "docker-compose.yml"
# Metrics that Prometheus itself attaches to every target; expressions may use them besides newswire's own.
STANDARD_METRICS = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})


def promtool() -> str:
    """Path of promtool (Debian package `prometheus`); skips locally, fails under CI=true when it is missing."""
    path = shutil.which("promtool")
    if path is None:
        message = "promtool is not installed (apt-get install prometheus; .ci/run installs it)"
        if IN_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    return path


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), *map(str, args)], capture_output=True, text=True, timeout=120)


def load_yaml_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def newswire_metrics() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every metric of `newswire/metrics.py`: full name -> (type, label names)."""
    import newswire.metrics as module

    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for attribute in module.__all__:
        metric = getattr(module, attribute)
        (described,) = metric.describe()
        found[described.name] = (described.type, tuple(metric._labelnames))
    return found


def exposed_series_names() -> set[str]:
    """The series names the metrics appear under in the exposition format (`_total`, `_bucket`, `_info`...)."""
    suffixes = {"counter": ("_total", "_created"), "gauge": ("",), "info": ("_info",),
                "histogram": ("_bucket", "_count", "_sum", "_created"), "summary": ("", "_count", "_sum", "_created")}
    return {name + suffix for name, (kind, _) in newswire_metrics().items() for suffix in suffixes[kind]}


_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
_KEYWORDS = frozenset({"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring", "group_left",
                       "group_right", "inf", "nan", "Inf", "NaN"})


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers left once strings, label matchers, ranges, grouping
    clauses, function calls and keywords are taken out."""
    text = _GROUPING.sub(" ", _BRACKETS.sub(" ", _BRACES.sub(" ", _STRINGS.sub('""', expr))))
    return {name for name in _IDENTIFIER.findall(text) if name not in _KEYWORDS}


def unknown_metrics(expressions: list[str]) -> dict[str, set[str]]:
    """Expressions naming a metric newswire does not define and Prometheus does not add, with those names."""
    known = exposed_series_names() | STANDARD_METRICS
    return {expr: names for expr in expressions if (names := metric_names(expr) - known)}
