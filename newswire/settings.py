"""Typed, frozen settings: defaults, then a YAML config file, then a secrets directory, then NEWSWIRE_* variables.

Nested fields use a double underscore in the environment: `NEWSWIRE_KAFKA__BOOTSTRAP_SERVERS=broker:9092`,
`NEWSWIRE_STORE__URL=postgresql://...`. Secrets can come from files (`*_file` settings, read when a connection
is made) or from a directory of one file per setting ($NEWSWIRE_SECRETS_DIR, a mounted Kubernetes Secret), and
are masked by `masked()` when printed. Settings are read once at start-up (`load_settings`) and passed down
explicitly; `SERVICE_SECTIONS` says which sections each service reads. docs/security.md has examples.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (BaseSettings, NestedSecretsSettingsSource, SettingsConfigDict,
                               YamlConfigSettingsSource)

__all__ = [
    "KafkaSettings",
    "TopicSettings",
    "StoreSettings",
    "HttpSettings",
    "PollerSettings",
    "ScraperSettings",
    "ProcessorSettings",
    "ServiceSettings",
    "Settings",
    "load_settings",
    "masked",
    "mask_secrets",
    "read_secret",
    "with_query_options",
    "SERVICE_SECTIONS",
    "SECRETS_DIR_VARIABLE",
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def read_secret(value: SecretStr | None, file: Path | None, what: str) -> str | None:
    """A secret from its file (read at each call, so a rotated Kubernetes Secret is picked up) or its value."""
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read {what} from {file}: {exc.strerror}") from exc
    return value.get_secret_value() if value is not None else None


class KafkaSettings(_Section):
    """Connection to the Kafka cluster; the TLS and SASL fields map one to one onto kafka-python's options."""

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "newswire"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_cafile: Path | None = Field(None, description="PEM file of the CA(s) that signed the brokers' certificates; "
                                    "the system store when unset.")
    ssl_certfile: Path | None = Field(None, description="PEM client certificate (chain), for mutual TLS.")
    ssl_keyfile: Path | None = Field(None, description="PEM private key of the client certificate.")
    ssl_password: SecretStr | None = Field(None, description="Password of an encrypted ssl_keyfile.")
    ssl_password_file: Path | None = None
    ssl_crlfile: Path | None = Field(None, description="PEM certificate revocation list to check brokers against.")
    ssl_check_hostname: bool = Field(True, description="Check that the broker certificate names the host dialled.")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None
    # gzip needs no extra library on producers or consumers.
    compression_type: Literal["gzip", "none"] = "gzip"
    request_timeout_ms: int = 30_000
    bootstrap_timeout_ms: int = 30_000

    @model_validator(mode="after")
    def _security_is_complete(self) -> "KafkaSettings":
        sasl = self.security_protocol.startswith("SASL")
        if sasl and (self.sasl_mechanism is None or not self.sasl_username
                     or (self.sasl_password is None and self.sasl_password_file is None)):
            raise ValueError(f"kafka.security_protocol {self.security_protocol} needs kafka.sasl_mechanism, "
                             "kafka.sasl_username and kafka.sasl_password (or kafka.sasl_password_file)")
        if not sasl and self.sasl_mechanism is not None:
            raise ValueError(f"kafka.sasl_mechanism is set but kafka.security_protocol is {self.security_protocol}; "
                             "use SASL_PLAINTEXT or SASL_SSL")
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ValueError("kafka.ssl_keyfile needs kafka.ssl_certfile (the client certificate it belongs to)")
        return self

    def sasl_password_value(self) -> str | None:
        return read_secret(self.sasl_password, self.sasl_password_file, "kafka.sasl_password")

    def ssl_password_value(self) -> str | None:
        return read_secret(self.ssl_password, self.ssl_password_file, "kafka.ssl_password")


class TopicSettings(_Section):
    raw: str = "news.raw.v1"
    clean: str = "news.clean.v1"
    duplicates: str = "news.duplicates.v1"
    dead_letter: str = "news.dlq.v1"
    links: str = "news.links.v1"
    partitions: int = Field(6, ge=1, description="Partitions for raw, links, clean and duplicates.")
    dead_letter_partitions: int = Field(1, ge=1)
    replication_factor: int = Field(1, ge=1)


class StoreSettings(_Section):
    """Where articles and state live; the ssl* fields are libpq's connection parameters, passed to psycopg."""

    # A file path or sqlite:///path for SQLite; postgresql://user:pass@host/db for PostgreSQL.
    url: str = "sqlite:///newswire.sqlite"
    password: SecretStr | None = Field(None, description="PostgreSQL password, instead of one in the URL.")
    password_file: Path | None = Field(None, description="Read the PostgreSQL password from this file.")
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = Field(
        None, description="libpq sslmode; verify-full checks the CA and the host name (libpq's default is prefer).")
    sslrootcert: Path | None = Field(None, description="PEM file of the CA that signed the server certificate.")
    sslcert: Path | None = Field(None, description="PEM client certificate, for certificate authentication.")
    sslkey: Path | None = Field(None, description="Private key of the client certificate.")
    sslpassword: SecretStr | None = Field(None, description="Password of an encrypted sslkey.")
    sslpassword_file: Path | None = None
    connect_timeout_seconds: int = Field(10, ge=1, description="libpq connect_timeout.")

    def connection_options(self) -> dict[str, str]:
        """libpq parameters given next to the URL (TLS options and the password from settings or a file)."""
        options: dict[str, str] = {"connect_timeout": str(self.connect_timeout_seconds)}
        password = read_secret(self.password, self.password_file, "store.password")
        if password is not None:
            options["password"] = password
        if self.sslmode is not None:
            options["sslmode"] = self.sslmode
        for name in ("sslrootcert", "sslcert", "sslkey"):
            value = getattr(self, name)
            if value is not None:
                options[name] = str(value)
        sslpassword = read_secret(self.sslpassword, self.sslpassword_file, "store.sslpassword")
        if sslpassword is not None:
            options["sslpassword"] = sslpassword
        return options


class HttpSettings(_Section):
    user_agent: str = Field("newswire/0.1 (news ingestion)", description="Set a contact URL or address for site owners.")
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 20.0
    total_timeout_seconds: float = 60.0
    max_bytes: int = Field(15 * 1024 * 1024, description="Largest body accepted, after decompression.")
    max_redirects: int = 5
    allowed_schemes: tuple[str, ...] = Field(("http", "https"), description="URL schemes a fetch may use.")
    allow_networks: tuple[str, ...] = Field((), description="CIDR networks the address guard lets through even "
                                            "though they are private, loopback, link-local... (e.g. 127.0.0.1/32).")


class PollerSettings(_Section):
    feeds_file: Path | None = None
    interval_seconds: float = Field(900.0, gt=0, description="Default time between two checks of a feed.")
    min_interval_seconds: float = 60.0
    max_interval_seconds: float = 86_400.0
    workers: int = Field(4, ge=1)
    max_entries_per_fetch: int = Field(1000, ge=1)
    adaptive_interval: bool = Field(True, description="Derive each feed's interval from how often it publishes.")
    adaptive_factor: float = Field(0.5, gt=0, description="Interval as a fraction of the mean time between entries.")
    max_child_sitemaps: int = Field(20, ge=0, description="Child sitemaps of a sitemap index read per check.")


class ScraperSettings(_Section):
    group_id: str = "newswire-scraper"
    batch_size: int = Field(20, ge=1, description="Links taken by one poll of the links topic.")
    poll_timeout_ms: int = 1000
    max_poll_interval_ms: int = Field(600_000, description="Kafka's limit on the time between two polls.")
    workers: int = Field(8, ge=1, description="Pages fetched at once, across hosts.")
    host_min_delay_seconds: float = Field(1.0, ge=0, description="Least time between two requests to one host.")
    host_max_concurrency: int = Field(1, ge=1, description="Most requests in flight to one host.")
    max_crawl_delay_seconds: float = Field(30.0, ge=0, description="Cap on a robots.txt Crawl-delay.")
    respect_robots: bool = True
    robots_cache_seconds: float = Field(3600.0, gt=0, le=86_400, description="How long a robots.txt is reused.")
    robots_error_retry_seconds: float = Field(300.0, gt=0, description="How long an unreachable robots.txt "
                                              "(5xx, timeout) blocks its host before it is fetched again.")
    held_topic: str | None = Field(None, description="Topic where links wait while their host's robots.txt is "
                                                     "unreachable; default '<topics.links>.held'.")
    max_hold_seconds: float = Field(172_800.0, gt=0, description="Longest a link waits for its host's robots.txt "
                                                                 "before it is dead-lettered (robots_unreachable).")
    max_attempts: int = Field(3, ge=1, description="Tries of a retriable failure before the link is dead-lettered.")
    retry_backoff_seconds: float = Field(2.0, ge=0)
    retry_backoff_max_seconds: float = Field(60.0, ge=0)


class ProcessorSettings(_Section):
    group_id: str = "newswire-processor"
    batch_size: int = Field(100, ge=1, description="Largest number of records taken by one poll.")
    poll_timeout_ms: int = 1000
    retry_backoff_seconds: float = 1.0
    retry_backoff_max_seconds: float = 30.0
    retention_days: float = Field(30.0, gt=0, description="Dedupe, story and template state older than this is "
                                  "purged; copies further apart than this are not recognised.")
    purge_interval_seconds: float = Field(3600.0, gt=0, description="How often each worker purges old state.")
    transactional_id_prefix: str | None = Field(
        None, description="Stable transactional id prefix of this processor (e.g. the pod name of a StatefulSet): a "
        "restarted worker then fences its predecessor and aborts its open transaction at once. Unset: unique per "
        "process (group, host, pid), and a crashed worker's open transaction is aborted after the timeout below.")
    transaction_timeout_ms: int = Field(30_000, ge=1000, description="Broker-side limit on an open transaction; "
                                        "bounds how long a crashed worker's partitions stay blocked.")
    commit_timeout_seconds: float = Field(30.0, gt=0, description="How long a batch waits for its transaction to "
                                          "commit before the producer is re-created and the batch redone.")
    session_timeout_ms: int = Field(10_000, ge=1000, description="Consumer-group session timeout: how soon a "
                                    "crashed or frozen worker's partitions move to another worker.")
    recycle_after_records: int = Field(50_000, ge=0, description="Restart a worker process after this many records to "
                                       "bound memory growth (0: never); used by the `process` supervisor.")
    # Per-record budgets (processors/budget.py): a record over one is dead-lettered with the limit it crossed.
    record_time_budget_seconds: float = Field(20.0, ge=0, description="Wall-clock time one record may spend in the "
                                              "pure stages (extract, language, topics); 0 turns the deadline off.")
    max_body_chars: int = Field(5_000_000, ge=1, description="Largest raw body processed, in characters.")
    max_html_attributes: int = Field(1000, ge=1, description="Most attributes in one start tag (libxml2's check "
                                     "of repeated attributes is quadratic in their number).")
    max_html_elements: int = Field(200_000, ge=1, description="Most elements in a page's tree.")
    max_html_depth: int = Field(200, ge=2, le=255, description="Deepest element nesting accepted; libxml2 silently "
                                "drops content nested 256 levels deep, so such pages are refused, not truncated.")
    max_table_cells: int = Field(200_000, ge=1, description="Most table cells in a page once colspan/rowspan are "
                                 "expanded (each capped at 100, as trafilatura does).")


class ServiceSettings(_Section):
    """The shell every long-running service shares: status endpoint, logging, shutdown."""

    metrics_host: str = Field("0.0.0.0", description="Address the /metrics, /healthz and /readyz port binds to: "
                              "0.0.0.0 (all IPv4), :: (all IPv6 and IPv4), or one interface such as 127.0.0.1.")
    metrics_port: int = Field(9400, ge=0, description="Port of /metrics, /healthz and /readyz; 0 disables.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    shutdown_grace_seconds: float = Field(25.0, gt=0, description="After SIGTERM: time to finish the batch, commit "
                                          "and flush before the process exits anyway (keep it below Kubernetes' "
                                          "terminationGracePeriodSeconds).")
    liveness_window_seconds: float = Field(120.0, gt=0, description="/healthz fails when the main loop has not "
                                           "completed an iteration for this long.")


class Settings(BaseSettings):
    """All settings of all services; each service reads the sections it needs."""

    model_config = SettingsConfigDict(env_prefix="NEWSWIRE_", env_nested_delimiter="__", frozen=True, extra="forbid")

    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    store: StoreSettings = StoreSettings()
    http: HttpSettings = HttpSettings()
    poller: PollerSettings = PollerSettings()
    scraper: ScraperSettings = ScraperSettings()
    processor: ProcessorSettings = ProcessorSettings()
    service: ServiceSettings = ServiceSettings()

    def store_url(self) -> str:
        """The store URL to connect with: for PostgreSQL, the URL plus libpq parameters from the store section
        (TLS, the password from `store.password` / `store.password_file`) as URL query parameters, which
        psycopg passes to libpq. Holds the password: never log it (print `masked()` instead)."""
        if not self.store.url.startswith(("postgresql://", "postgres://")):
            return self.store.url
        return with_query_options(self.store.url, self.store.connection_options())


def with_query_options(url: str, options: dict[str, str]) -> str:
    """`url` with `options` merged into its query string (an option already in the URL is replaced)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in options]
    return urlunsplit(parts._replace(query=urlencode(query + sorted(options.items()), quote_via=quote)))


SECRETS_DIR_VARIABLE = "NEWSWIRE_SECRETS_DIR"

# The sections each command reads: `--print-config` shows only these, so each service sees its own settings.
SERVICE_SECTIONS: dict[str, tuple[str, ...]] = {
    "poll": ("kafka", "topics", "store", "http", "poller", "service"),
    "scrape": ("kafka", "topics", "http", "scraper", "service"),
    "process": ("kafka", "topics", "store", "processor", "service"),
    "replay": ("kafka", "topics", "store", "processor", "service"),
    "run": ("kafka", "topics", "store", "http", "poller", "scraper", "processor", "service"),
    "topics": ("kafka", "topics"),
    "tail": ("kafka", "topics"),
    "dedupe": ("store", "processor"),
}


def load_settings(config_file: str | Path | None = None, secrets_dir: str | Path | None = None,
                  **overrides: Any) -> Settings:
    """Read settings: defaults < config file < secrets dir < NEWSWIRE_* variables < explicit overrides (the CLI).

    The secrets dir (`secrets_dir`, else $NEWSWIRE_SECRETS_DIR) holds one file per setting, named like the
    variable without its prefix: `kafka__sasl_password`, `store__password`, as a Kubernetes Secret mounted as a
    volume gives them.
    """
    path = Path(config_file) if config_file else None
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    secrets = secrets_dir or os.environ.get(SECRETS_DIR_VARIABLE) or None
    if secrets is not None and not Path(secrets).is_dir():
        raise FileNotFoundError(f"secrets directory not found: {secrets}")

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                       file_secret_settings):
            sources = [init_settings, env_settings]
            if secrets is not None:
                sources.append(NestedSecretsSettingsSource(file_secret_settings, secrets_dir=secrets,
                                                           secrets_prefix="", secrets_nested_delimiter="__"))
            if path is not None:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
            return tuple(sources)

    loaded = _Loaded(**overrides)
    return Settings.model_validate(loaded.model_dump())


MASK = "***"
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_QUERY_PASSWORD = re.compile(r"([?&](?:ssl)?password=)[^&\s]*", re.IGNORECASE)
_SECRET_KEY = re.compile(r"password|secret|token", re.IGNORECASE)


def mask_secrets(value: Any, key: str = "") -> Any:
    """`value` with secrets replaced by '***': values of keys naming a password, secret or token (not the *_file
    paths), and passwords inside URLs (user:password@ and ?password=)."""
    if isinstance(value, dict):
        return {k: mask_secrets(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(v, key) for v in value]
    if value and _SECRET_KEY.search(key) and not key.endswith("_file"):
        return MASK
    if isinstance(value, str):
        return _QUERY_PASSWORD.sub(rf"\1{MASK}", _URL_PASSWORD.sub(rf"\1{MASK}@", value))
    return value


def masked(settings: Settings, command: str | None = None) -> dict[str, Any]:
    """Settings as a plain dict for printing, secrets masked; with `command`, only the sections it reads."""
    data = settings.model_dump(mode="json")
    sections = SERVICE_SECTIONS.get(command or "")
    if sections is not None:
        data = {name: data[name] for name in sections}
    return mask_secrets(data)
