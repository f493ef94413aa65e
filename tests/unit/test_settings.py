import pytest

from newswire.settings import load_settings, masked


def test_file_then_environment_precedence(tmp_path, monkeypatch):
    config = tmp_path / "newswire.yaml"
    config.write_text("kafka:\n  bootstrap_servers: file:9092\ntopics:\n  partitions: 3\n"
                      "store:\n  url: postgresql://u:s3cret@db/news\n")
    settings = load_settings(config)
    assert settings.kafka.bootstrap_servers == "file:9092"
    assert settings.topics.partitions == 3
    monkeypatch.setenv("NEWSWIRE_KAFKA__BOOTSTRAP_SERVERS", "env:9092")
    assert load_settings(config).kafka.bootstrap_servers == "env:9092"


def test_settings_are_frozen():
    settings = load_settings()
    with pytest.raises(Exception):
        settings.kafka.bootstrap_servers = "x"  # type: ignore[misc]


def test_secrets_masked(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("store:\n  url: postgresql://u:s3cret@db/news\nkafka:\n  sasl_password: hunter2\n")
    printed = str(masked(load_settings(config)))
    assert "s3cret" not in printed and "hunter2" not in printed


def test_password_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("fromfile\n")
    config = tmp_path / "c.yaml"
    config.write_text(f"store:\n  url: postgresql://u@db/news\n  password_file: {secret}\n")
    assert load_settings(config).store_url() == "postgresql://u:fromfile@db/news"


def test_unknown_keys_rejected(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("kafka:\n  bootstrap_server: typo:9092\n")
    with pytest.raises(Exception, match="bootstrap_server"):
        load_settings(config)
