"""Settings: sources and their precedence, secrets from files and a secrets directory, masking, TLS/SASL wiring."""

import json

import psycopg
import pytest

from newswire.cli import main
from newswire.kafka import client_config
from newswire.settings import SERVICE_SECTIONS, KafkaSettings, load_settings, masked


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
    config.write_text("store:\n  url: postgresql://u:s3cret@db/news?password=qs3cret\n  password: pgdirect-5\n"
                      "  sslpassword: keypass\nkafka:\n  sasl_password: hunter2\n  ssl_password: tlspass\n"
                      "  security_protocol: SASL_SSL\n  sasl_mechanism: PLAIN\n  sasl_username: u\n")
    printed = json.dumps(masked(load_settings(config)))
    for secret in ("s3cret", "qs3cret", "pgdirect-5", "keypass", "hunter2", "tlspass"):
        assert secret not in printed
    assert '"sasl_username": "u"' in printed  # only secrets are masked


def test_password_file_goes_to_libpq_url_encoded(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("p@ss/w:rd&x=1\n")
    config = tmp_path / "c.yaml"
    config.write_text(f"store:\n  url: postgresql://u@db/news\n  password_file: {secret}\n  sslmode: verify-full\n"
                      f"  sslrootcert: /etc/ca.pem\n")
    url = load_settings(config).store_url()
    params = psycopg.conninfo.conninfo_to_dict(url)
    assert params["password"] == "p@ss/w:rd&x=1"
    assert params["sslmode"] == "verify-full" and params["sslrootcert"] == "/etc/ca.pem"
    assert params["user"] == "u" and params["dbname"] == "news"


def test_sqlite_url_is_left_alone():
    assert load_settings(store={"url": "sqlite:///x.sqlite", "sslmode": "require"}).store_url() == "sqlite:///x.sqlite"


def test_unknown_keys_rejected(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("kafka:\n  bootstrap_server: typo:9092\n")
    with pytest.raises(Exception, match="bootstrap_server"):
        load_settings(config)


def test_secrets_directory_like_a_kubernetes_secret_mount(tmp_path, monkeypatch):
    # The kubelet's layout: a timestamped directory, a `..data` link to it, and one link per key.
    secrets = tmp_path / "secrets"
    version = secrets / "..2024_06_01_12_00_00.000000001"
    version.mkdir(parents=True)
    (version / "kafka__sasl_password").write_text("from-secret-dir\n")
    (version / "store__password").write_text("pg-secret\n")
    (secrets / "..data").symlink_to(version.name)
    for key in ("kafka__sasl_password", "store__password"):
        (secrets / key).symlink_to(f"..data/{key}")
    monkeypatch.setenv("NEWSWIRE_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("NEWSWIRE_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("NEWSWIRE_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("NEWSWIRE_KAFKA__SASL_USERNAME", "svc")
    settings = load_settings(store={"url": "postgresql://svc@db/news"})
    assert client_config(settings.kafka)["sasl_plain_password"] == "from-secret-dir"
    assert psycopg.conninfo.conninfo_to_dict(settings.store_url())["password"] == "pg-secret"
    # An environment variable still wins over the secrets directory.
    monkeypatch.setenv("NEWSWIRE_KAFKA__SASL_PASSWORD", "from-env")
    assert load_settings().kafka.sasl_password_value() == "from-env"


def test_missing_secrets_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="secrets directory"):
        load_settings(secrets_dir=tmp_path / "absent")


def test_sasl_needs_mechanism_and_credentials():
    with pytest.raises(ValueError, match="sasl_mechanism, kafka.sasl_username and kafka.sasl_password"):
        KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512")
    with pytest.raises(ValueError, match="use SASL_PLAINTEXT or SASL_SSL"):
        KafkaSettings(sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p")


def test_client_config_uses_kafka_python_names(tmp_path):
    key_password = tmp_path / "keypass"
    key_password.write_text("kp\n")
    sasl_password = tmp_path / "saslpass"
    sasl_password.write_text("sp\n")
    settings = KafkaSettings(security_protocol="SASL_SSL", ssl_cafile="/ca.pem", ssl_certfile="/c.pem",
                             ssl_keyfile="/c.key", ssl_password_file=key_password, ssl_check_hostname=False,
                             sasl_mechanism="SCRAM-SHA-256", sasl_username="u", sasl_password_file=sasl_password)
    config = client_config(settings)
    assert config["ssl_cafile"] == "/ca.pem" and config["ssl_certfile"] == "/c.pem"
    assert config["ssl_keyfile"] == "/c.key" and config["ssl_password"] == "kp"
    assert config["ssl_check_hostname"] is False
    assert (config["sasl_mechanism"], config["sasl_plain_username"], config["sasl_plain_password"]) == (
        "SCRAM-SHA-256", "u", "sp")
    plain = client_config(KafkaSettings())
    assert not any(key.startswith(("ssl_", "sasl_")) for key in plain)


def test_unreadable_secret_file_names_the_setting(tmp_path):
    settings = KafkaSettings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u",
                             sasl_password_file=tmp_path / "absent")
    with pytest.raises(ValueError, match="cannot read kafka.sasl_password from"):
        client_config(settings)


@pytest.mark.parametrize("command", sorted(SERVICE_SECTIONS))
def test_print_config_masks_every_secret(command, tmp_path, monkeypatch, capsys):
    """`newswire <command> --print-config` shows that service's sections and none of the secrets."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "kafka__ssl_password").write_text("dir-secret-9\n")
    pg_password = tmp_path / "pg"
    pg_password.write_text("file-secret-7\n")
    monkeypatch.setenv("NEWSWIRE_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("NEWSWIRE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NEWSWIRE_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("NEWSWIRE_KAFKA__SASL_USERNAME", "svc")
    monkeypatch.setenv("NEWSWIRE_KAFKA__SASL_PASSWORD", "env-secret-1")
    monkeypatch.setenv("NEWSWIRE_STORE__URL", "postgresql://svc:url-secret-2@db/news?sslpassword=url-secret-3")
    monkeypatch.setenv("NEWSWIRE_STORE__PASSWORD_FILE", str(pg_password))
    argv = [command, "--print-config"]
    if command in ("topics", "dedupe"):
        argv = [command, "list" if command == "topics" else "purge", "--print-config"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    printed = json.loads(out)
    assert set(printed) == set(SERVICE_SECTIONS[command])
    for secret in ("env-secret-1", "url-secret-2", "url-secret-3", "file-secret-7", "dir-secret-9"):
        assert secret not in out
    if "kafka" in printed:
        assert printed["kafka"]["sasl_password"] == "***" and printed["kafka"]["ssl_password"] == "***"
        assert printed["kafka"]["sasl_username"] == "svc"


def test_metrics_host_flag(capsys):
    assert main(["process", "--metrics-host", "127.0.0.1", "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["service"]["metrics_host"] == "127.0.0.1"
