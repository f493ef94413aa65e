"""Prometheus artifacts: the scrape config and the alert rules pass promtool, every rule has a unit test and a
runbook section, and every expression names metrics that newswire defines."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import REPO
from tests.deploy.support import PROMETHEUS, run_promtool, unknown_metrics

pytestmark = pytest.mark.deploy

ALERTS = PROMETHEUS / "alerts.yml"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
RUNBOOK = REPO / "docs" / "runbook.md"


def _rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_promtool_check_config():
    result = run_promtool("check", "config", PROMETHEUS / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_rules():
    result = run_promtool("check", "rules", ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


def test_promtool_unit_tests_of_the_rules_pass():
    assert RULE_TESTS, "no rule tests in deploy/prometheus/tests"
    result = run_promtool("test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_required_alerts_exist():
    names = {rule["alert"] for rule in _rules()}
    required = {"NewswireFeedStalled", "NewswireConsumerLagGrowing", "NewswireConsumerStalled",
                "NewswireDeadLetterRateHigh", "NewswireNoCleanOutput", "NewswireFetchErrorRatioHigh",
                "NewswireServiceDown"}
    assert required <= names, required - names


def test_every_alert_fires_in_a_unit_test_and_has_a_runbook_section():
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    headings = set(re.findall(r"^## (\S+)\s*$", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE))
    for rule in _rules():
        name = rule["alert"]
        assert name in firing, f"{name}: no unit test where it fires"
        assert name in quiet, f"{name}: no unit test where it stays quiet"
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["runbook_url"] == f"docs/runbook.md#{name.lower()}", name
        assert name in headings, f"{name}: no '## {name}' section in docs/runbook.md"
        assert rule["annotations"].get("summary") and rule["annotations"].get("description"), name


def test_rule_expressions_name_only_metrics_that_exist():
    assert unknown_metrics([rule["expr"] for rule in _rules()]) == {}


def test_scrape_jobs_match_what_the_rules_select():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"newswire-poller", "newswire-scraper", "newswire-processor"} <= jobs
    assert config["rule_files"] == ["alerts.yml"]
    # Replicas of one compose service are found through DNS, one target each.
    processor = next(job for job in config["scrape_configs"] if job["job_name"] == "newswire-processor")
    assert processor["dns_sd_configs"][0]["names"] == ["processor"]
    assert processor["dns_sd_configs"][0]["port"] == 9400
