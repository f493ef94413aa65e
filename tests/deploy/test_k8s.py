"""The Kubernetes manifests, parsed and checked for what matters: images, commands the CLI accepts, probes on the
status port, resources, non-root pods, secrets referenced (never included), a grace period longer than the
service's, PodDisruptionBudgets, the metrics Service, and KEDA scaling that matches the topic settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from newswire.cli import build_parser
from newswire.settings import load_settings
from tests.deploy.support import K8S, load_yaml_documents

pytestmark = pytest.mark.deploy

COMPONENTS = ("poller", "scraper", "processor")


def _manifests() -> list[dict]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [doc for name in kustomization["resources"] for doc in load_yaml_documents(K8S / name)]


def _by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in _manifests() if doc["kind"] == kind}


def _config_map() -> dict[str, str]:
    return _by_kind("ConfigMap")["newswire-config"]["data"]


def _settings(tmp_path: Path):
    data = _config_map()
    (tmp_path / "newswire.yaml").write_text(data["newswire.yaml"])
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "kafka__sasl_password").write_text("from-the-secret")
    (secrets / "store__password").write_text("from-the-secret")
    return load_settings(tmp_path / "newswire.yaml", secrets_dir=secrets)


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk
    (image,) = kustomization["images"]
    assert image["name"] == "newswire" and image["newTag"] not in ("", "latest")


def test_no_secret_values_in_the_manifests():
    assert "Secret" not in {doc["kind"] for doc in _manifests()}
    for doc in _manifests():
        assert "password:" not in yaml.safe_dump(doc).replace("password: {", ""), doc["metadata"]["name"]


def test_the_config_map_is_a_valid_settings_file_and_feeds_file(tmp_path):
    from ingest.sources import load_feeds

    settings = _settings(tmp_path)
    assert settings.kafka.sasl_password_value() == "from-the-secret"
    assert settings.service.metrics_port == 9400 and settings.service.metrics_host == "0.0.0.0"
    (tmp_path / "feeds.yaml").write_text(_config_map()["feeds.yaml"])
    assert load_feeds(tmp_path / "feeds.yaml")
    assert str(settings.poller.feeds_file) == "/etc/newswire/config/feeds.yaml"


@pytest.mark.parametrize("component", COMPONENTS)
def test_deployment(component, tmp_path):
    settings = _settings(tmp_path)
    deployment = _by_kind("Deployment")[f"newswire-{component}"]
    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert labels["app.kubernetes.io/component"] == component
    (container,) = pod["containers"]
    assert container["image"] == "newswire"  # the tag comes from kustomization.yaml's images
    build_parser().parse_args(container["args"])  # a command the CLI accepts
    assert container["args"][0] == {"poller": "poll", "scraper": "scrape", "processor": "process"}[component]

    (port,) = container["ports"]
    assert port == {"name": "metrics", "containerPort": settings.service.metrics_port, "protocol": "TCP"}
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert container[probe]["httpGet"] == {"path": path, "port": "metrics"}, probe
    # Liveness gives the loop at least its own window before a restart.
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 60

    resources = container["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys() and "memory" in resources["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["terminationGracePeriodSeconds"] > settings.service.shutdown_grace_seconds

    env = {e["name"]: e["value"] for e in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert env["NEWSWIRE_CONFIG"] == f"{mounts['config']}/newswire.yaml"
    assert volumes["config"]["configMap"]["name"] == "newswire-config"
    assert env["NEWSWIRE_SECRETS_DIR"] == mounts["secrets"]
    assert volumes["secrets"]["secret"]["secretName"] == "newswire-secrets"
    assert str(settings.kafka.ssl_cafile).startswith(mounts["tls"] + "/")


def test_processor_replicas_come_from_keda_only():
    deployment = _by_kind("Deployment")["newswire-processor"]
    assert "replicas" not in deployment["spec"]
    (scaled,) = _by_kind("ScaledObject").values()
    assert scaled["spec"]["scaleTargetRef"]["name"] == "newswire-processor"


def test_keda_scales_on_the_processors_lag_up_to_the_partition_count(tmp_path):
    settings = _settings(tmp_path)
    (scaled,) = _by_kind("ScaledObject").values()
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == settings.processor.group_id
    assert trigger["metadata"]["topic"] == settings.topics.raw
    assert trigger["metadata"]["bootstrapServers"] == settings.kafka.bootstrap_servers
    assert int(trigger["metadata"]["lagThreshold"]) > 0
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"] == settings.topics.partitions
    assert trigger["authenticationRef"]["name"] in _by_kind("TriggerAuthentication")


def test_disruption_budgets_select_the_scaled_deployments():
    budgets = _by_kind("PodDisruptionBudget")
    deployments = _by_kind("Deployment")
    for component in ("scraper", "processor"):
        budget = budgets[f"newswire-{component}"]
        pods = deployments[f"newswire-{component}"]["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= pods.items()
        assert budget["spec"]["maxUnavailable"] == 1


def test_metrics_service_selects_every_service_pod_on_the_named_port():
    service = _by_kind("Service")["newswire-metrics"]
    (port,) = service["spec"]["ports"]
    assert port["name"] == "metrics" and port["targetPort"] == "metrics" and port["port"] == 9400
    for deployment in _by_kind("Deployment").values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), deployment["metadata"]["name"]
    (monitor,) = load_yaml_documents(K8S / "monitoring" / "servicemonitor.yaml")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


def test_topics_job_runs_topics_ensure():
    job = _by_kind("Job")["newswire-topics"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["topics", "ensure"]
    build_parser().parse_args(container["args"])
