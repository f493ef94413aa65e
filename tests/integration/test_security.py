"""Secured connections on real servers: Kafka with SASL (SCRAM, PLAIN) and TLS listeners, PostgreSQL over TLS.

The Kafka tests start a second, separate broker (deploy/kafka-secure: own state dir in the test's temp dir, own
ports) once for the module, with SCRAM credentials written at storage-format time and certificates made by
openssl. They show the services connecting with the right credentials and being refused, quickly and with a
clear message, with wrong ones.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from newswire.kafka import (KafkaAccessDenied, check_broker, ensure_topics, make_consumer, make_producer,
                            refusal_reason)
from newswire.settings import KafkaSettings, StoreSettings, TopicSettings, load_settings
from tests.conftest import IN_CI, REPO

SECURE_SCRIPT = REPO / "deploy" / "kafka-secure"


# -- the secure broker --------------------------------------------------------------------------------------
def _free_port_block(size: int = 5) -> int:
    """A base port with `size` consecutive free ports above it (the secure broker's listeners)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + size >= 65535:
            continue
        try:
            sockets = []
            for port in range(base, base + size):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no block of free ports found")


class SecureBroker:
    """Addresses and credential files of a running deploy/kafka-secure broker."""

    def __init__(self, home: Path, base_port: int) -> None:
        self.home = home
        self.env = {**os.environ, "NEWSWIRE_KAFKA_SECURE_HOME": str(home),
                    "NEWSWIRE_KAFKA_SECURE_PORT": str(base_port), "PYTHON": sys.executable}
        self.sasl = f"127.0.0.1:{base_port}"
        self.sasl_ssl = f"127.0.0.1:{base_port + 3}"
        self.ssl = f"127.0.0.1:{base_port + 4}"
        self.username = "newswire"
        self.password_file = home / "secrets" / "password"
        self.ca = home / "tls" / "ca.pem"
        self.client_cert = home / "tls" / "client.pem"
        self.client_key = home / "tls" / "client.key"
        self.client_key_password_file = home / "secrets" / "client_key_password"

    def scram(self, mechanism: str = "SCRAM-SHA-512", password: str | None = None, **extra) -> KafkaSettings:
        """Settings for the SASL_PLAINTEXT listener (the password from its file unless one is given)."""
        secret = {"sasl_password": password} if password is not None else {"sasl_password_file": self.password_file}
        return KafkaSettings(bootstrap_servers=self.sasl, security_protocol="SASL_PLAINTEXT",
                             sasl_mechanism=mechanism, sasl_username=self.username, **secret, **extra)

    def env_for(self, settings: KafkaSettings) -> dict[str, str]:
        """NEWSWIRE_KAFKA__* variables for a `newswire` subprocess using `settings`."""
        env = {"NEWSWIRE_KAFKA__BOOTSTRAP_SERVERS": settings.bootstrap_servers,
               "NEWSWIRE_KAFKA__SECURITY_PROTOCOL": settings.security_protocol}
        for name in ("sasl_mechanism", "sasl_username", "sasl_password_file", "ssl_cafile"):
            value = getattr(settings, name)
            if value is not None:
                env[f"NEWSWIRE_KAFKA__{name.upper()}"] = str(value)
        if settings.sasl_password is not None:
            env["NEWSWIRE_KAFKA__SASL_PASSWORD"] = settings.sasl_password.get_secret_value()
        return env


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory) -> SecureBroker:
    """One secure broker for the module; fails under CI=true when it cannot start, skips elsewhere."""
    missing = [tool for tool in ("java", "openssl") if not _which(tool)]
    libs_cached = any((Path(os.environ.get("NEWSWIRE_CACHE", Path.home() / ".cache" / "newswire"))).glob(
        "kafka-*/libs/.complete"))
    if missing or (not libs_cached and not _which("mvn")):
        message = f"cannot start the secure broker: missing {missing or ['mvn and cached Kafka jars']}"
        if IN_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    broker = SecureBroker(tmp_path_factory.mktemp("kafka-secure"), _free_port_block())
    started = subprocess.run([str(SECURE_SCRIPT), "start"], env=broker.env, capture_output=True, text=True,
                             timeout=240)
    if started.returncode != 0:
        subprocess.run([str(SECURE_SCRIPT), "stop"], env=broker.env, capture_output=True, timeout=60)
        message = f"deploy/kafka-secure start failed:\n{started.stderr[-3000:]}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    assert started.stdout.strip() == broker.sasl
    yield broker
    subprocess.run([str(SECURE_SCRIPT), "stop"], env=broker.env, capture_output=True, timeout=90)


def _which(tool: str) -> bool:
    from shutil import which

    return which(tool) is not None


def _topics() -> TopicSettings:
    suffix = uuid.uuid4().hex[:8]
    return TopicSettings(raw=f"s.raw.{suffix}", clean=f"s.clean.{suffix}", duplicates=f"s.dup.{suffix}",
                         dead_letter=f"s.dlq.{suffix}", links=f"s.links.{suffix}", partitions=2)


def _round_trip(settings: KafkaSettings) -> list[bytes]:
    """Create a topic, produce two records through make_producer and read them back through make_consumer."""
    topics = _topics()
    ensure_topics(settings, topics)
    producer = make_producer(settings)
    try:
        for value in (b"one", b"two"):
            producer.send(topics.raw, key="k", value=value).get(timeout=30)
    finally:
        producer.close(timeout=10)
    consumer = make_consumer(settings, f"g-{topics.raw}", [topics.raw])
    seen: list[bytes] = []
    try:
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:
            for messages in consumer.poll(timeout_ms=500).values():
                seen.extend(m.value for m in messages)
    finally:
        consumer.close(autocommit=False)
    return sorted(seen)


def _newswire(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newswire.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _base_env(tmp_path: Path, topics: TopicSettings) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSWIRE_")}
    env.update({
        "NEWSWIRE_TOPICS__RAW": topics.raw, "NEWSWIRE_TOPICS__CLEAN": topics.clean,
        "NEWSWIRE_TOPICS__DUPLICATES": topics.duplicates, "NEWSWIRE_TOPICS__DEAD_LETTER": topics.dead_letter,
        "NEWSWIRE_TOPICS__LINKS": topics.links, "NEWSWIRE_TOPICS__PARTITIONS": "2",
        "NEWSWIRE_STORE__URL": f"sqlite:///{tmp_path / 'store.sqlite'}",
        "NEWSWIRE_PROCESSOR__GROUP_ID": f"g-{topics.raw}", "NEWSWIRE_PROCESSOR__POLL_TIMEOUT_MS": "300",
        # A refused connection must fail long before this: it is not a timeout.
        "NEWSWIRE_KAFKA__BOOTSTRAP_TIMEOUT_MS": "120000",
    })
    return env


# -- SASL ----------------------------------------------------------------------------------------------------
@pytest.mark.kafka
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
def test_round_trip_with_sasl(secure_kafka, mechanism):
    assert _round_trip(secure_kafka.scram(mechanism)) == [b"one", b"two"]


@pytest.mark.kafka
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "PLAIN"])
def test_wrong_password_is_refused_with_a_clear_error(secure_kafka, mechanism):
    with pytest.raises(KafkaAccessDenied, match=f"SASL {mechanism} authentication as 'newswire' failed"):
        check_broker(secure_kafka.scram(mechanism, password="not-the-password"), timeout_seconds=2)


@pytest.mark.kafka
def test_plaintext_client_on_a_sasl_listener_is_refused(secure_kafka):
    with pytest.raises(KafkaAccessDenied, match="may require TLS or SASL"):
        check_broker(KafkaSettings(bootstrap_servers=secure_kafka.sasl), timeout_seconds=2)


@pytest.mark.kafka
def test_topics_ensure_with_scram(secure_kafka, tmp_path):
    topics = _topics()
    env = {**_base_env(tmp_path, topics), **secure_kafka.env_for(secure_kafka.scram())}
    ok = _newswire("topics", "ensure", env=env)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert f"{topics.raw}\tcreated" in ok.stdout

    # Wrong password: non-zero exit within seconds (the subprocess timeout is far below the 120 s bootstrap
    # timeout), a message naming the cause, and the password nowhere in the output.
    env["NEWSWIRE_KAFKA__SASL_PASSWORD"] = "wrong-password-42"
    env.pop("NEWSWIRE_KAFKA__SASL_PASSWORD_FILE")
    refused = _newswire("topics", "ensure", env=env, timeout=45)
    assert refused.returncode == 1
    assert "refused the connection: SASL SCRAM-SHA-512 authentication as 'newswire' failed" in refused.stderr
    assert "wrong-password-42" not in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.kafka
def test_process_reaches_ready_with_scram_and_exits_with_wrong_password(secure_kafka, tmp_path):
    topics = _topics()
    settings = secure_kafka.scram()
    ensure_topics(settings, topics)
    env = {**_base_env(tmp_path, topics), **secure_kafka.env_for(settings)}
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "newswire.cli", "process", "--metrics-port", str(port),
                             "--metrics-host", "127.0.0.1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while _get(f"http://127.0.0.1:{port}/readyz") != 200 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.3)
        assert _get(f"http://127.0.0.1:{port}/readyz") == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]

    env["NEWSWIRE_KAFKA__SASL_PASSWORD"] = "wrong-password-43"
    env.pop("NEWSWIRE_KAFKA__SASL_PASSWORD_FILE")
    refused = _newswire("process", "--metrics-port", "0", env=env, timeout=45)
    assert refused.returncode == 1
    assert "SASL SCRAM-SHA-512 authentication as 'newswire' failed" in refused.stderr
    assert "wrong-password-43" not in refused.stderr


# -- TLS -----------------------------------------------------------------------------------------------------
def _other_ca(directory: Path) -> Path:
    """A CA certificate that signed nothing the broker or the database uses."""
    key, cert = directory / "other-ca.key", directory / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=unrelated CA", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert


@pytest.mark.kafka
def test_round_trip_with_sasl_over_tls(secure_kafka):
    settings = KafkaSettings(bootstrap_servers=secure_kafka.sasl_ssl, security_protocol="SASL_SSL",
                             ssl_cafile=secure_kafka.ca, sasl_mechanism="SCRAM-SHA-512",
                             sasl_username=secure_kafka.username, sasl_password_file=secure_kafka.password_file)
    assert _round_trip(settings) == [b"one", b"two"]


@pytest.mark.kafka
def test_round_trip_with_mutual_tls_and_an_encrypted_client_key(secure_kafka):
    settings = KafkaSettings(bootstrap_servers=secure_kafka.ssl, security_protocol="SSL",
                             ssl_cafile=secure_kafka.ca, ssl_certfile=secure_kafka.client_cert,
                             ssl_keyfile=secure_kafka.client_key,
                             ssl_password_file=secure_kafka.client_key_password_file)
    assert _round_trip(settings) == [b"one", b"two"]


@pytest.mark.kafka
def test_untrusted_broker_certificate_is_refused(secure_kafka, tmp_path):
    settings = KafkaSettings(bootstrap_servers=secure_kafka.sasl_ssl, security_protocol="SASL_SSL",
                             ssl_cafile=_other_ca(tmp_path), sasl_mechanism="SCRAM-SHA-512",
                             sasl_username=secure_kafka.username, sasl_password_file=secure_kafka.password_file)
    with pytest.raises(KafkaAccessDenied, match="certificate is not trusted"):
        check_broker(settings, timeout_seconds=2)


@pytest.mark.kafka
def test_mutual_tls_without_a_client_certificate_is_refused(secure_kafka):
    settings = KafkaSettings(bootstrap_servers=secure_kafka.ssl, security_protocol="SSL", ssl_cafile=secure_kafka.ca)
    with pytest.raises(KafkaAccessDenied, match="did not accept our client certificate"):
        check_broker(settings, timeout_seconds=2)


def test_refusal_reason_tells_unreachable_from_refused():
    settings = KafkaSettings()
    assert refusal_reason(settings, ["Connection lost: KafkaConnectionError: 111 ECONNREFUSED"]) is None
    assert refusal_reason(settings, []) is None
    assert "certificate is not trusted" in refusal_reason(
        settings, ["Handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"])


# -- PostgreSQL over TLS --------------------------------------------------------------------------------------
def _store_url(dsn: str, **tls) -> str:
    return load_settings(store=StoreSettings(url=dsn, **tls).model_dump()).store_url()


def _server_has_tls(dsn: str) -> bool:
    import psycopg

    try:
        psycopg.connect(dsn, sslmode="require", connect_timeout=5).close()
        return True
    except psycopg.OperationalError as exc:
        if "does not support SSL" in str(exc):
            return False
        raise


@pytest.fixture
def tls_postgres_dsn(postgres_dsn) -> str:
    if not _server_has_tls(postgres_dsn):
        message = "the PostgreSQL server has ssl=off (Debian's default cluster has ssl=on with a snakeoil cert)"
        if IN_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    return postgres_dsn


@pytest.mark.postgres
def test_postgres_connection_is_encrypted_with_sslmode_require(tls_postgres_dsn):
    from newswire.store import open_store

    store = open_store(_store_url(tls_postgres_dsn, sslmode="require"))
    try:
        row = store.db.query_one("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert row[0] is True and row[1].startswith("TLS")
        assert store.db.ssl_in_use
    finally:
        store.close()
    plain = open_store(_store_url(tls_postgres_dsn, sslmode="disable"))
    try:
        assert plain.db.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")[0] is False
    finally:
        plain.close()


@pytest.mark.postgres
def test_postgres_server_certificate_from_another_ca_is_refused(tls_postgres_dsn, tmp_path):
    from newswire.store import StoreUnavailable, open_store

    with pytest.raises(StoreUnavailable, match="certificate verify failed"):
        open_store(_store_url(tls_postgres_dsn, sslmode="verify-full", sslrootcert=_other_ca(tmp_path)))
