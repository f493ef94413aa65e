"""The Grafana dashboard and its provisioning: up to date with its generator, every query through the datasource
variable, valid PromQL naming only metrics that exist, and the areas an operator needs all covered."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import yaml

from tests.deploy.support import COMPOSE_FILE, GRAFANA, metric_names, run_promtool, unknown_metrics

pytestmark = pytest.mark.deploy

DASHBOARD = GRAFANA / "dashboards" / "newswire.json"


def _generator():
    spec = importlib.util.spec_from_file_location("newswire_dashboard", GRAFANA / "dashboard.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _panels() -> list[dict]:
    return [p for p in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"] if p["type"] != "row"]


def _expressions() -> list[str]:
    return [target["expr"] for panel in _panels() for target in panel["targets"]]


def test_dashboard_json_is_what_the_generator_writes():
    assert DASHBOARD.read_text(encoding="utf-8") == _generator().render(), \
        "deploy/grafana/dashboards/newswire.json is stale: run python deploy/grafana/dashboard.py"


def test_every_panel_queries_prometheus_through_the_datasource_variable():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "datasource"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in _panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"
        assert 0 <= panel["gridPos"]["x"] and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_panel_expressions_name_only_metrics_that_exist():
    assert unknown_metrics(_expressions()) == {}


def test_panel_expressions_are_valid_promql(tmp_path):
    # promtool parses rule expressions: each query becomes a recording rule, Grafana's variables become ranges.
    rules = [{"record": f"newswire:dashboard_query_{i}",
              "expr": expr.replace("$__rate_interval", "1m").replace("$__range", "6h")}
             for i, expr in enumerate(_expressions())]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_covers_what_operators_watch():
    used = set().union(*(metric_names(expr) for expr in _expressions()))
    wanted = {
        "throughput per stage": "newswire_stage_results_total",
        "outcomes": "newswire_records_processed_total",
        "duplicates by kind": "newswire_duplicates_total",
        "languages": "newswire_articles_by_language_total",
        "topics": "newswire_articles_by_topic_total",
        "lag": "newswire_consumer_lag_records",
        "latency percentiles": "newswire_fetch_to_clean_seconds_bucket",
        "fetch results": "newswire_feed_polls_total",
        "fetch errors": "newswire_fetch_errors_total",
        "dead letters": "newswire_dead_letters_total",
        "freshness": "newswire_publication_to_clean_seconds_bucket",
    }
    missing = {area: metric for area, metric in wanted.items() if metric not in used}
    assert missing == {}


def test_provisioning_points_grafana_at_prometheus_and_the_dashboard_folder():
    (datasource,) = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())[
        "datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "newswire.yml").read_text())["providers"]
    # The provider reads the folder compose mounts the dashboards on.
    grafana = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["grafana"]
    mounts = dict(volume.split(":")[:2][::-1] for volume in grafana["volumes"] if volume.startswith("./"))
    assert mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
