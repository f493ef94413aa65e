"""Typed, frozen settings: defaults, then a YAML config file, then NEWSWIRE_* environment variables.

Nested fields use a double underscore in the environment: `NEWSWIRE_KAFKA__BOOTSTRAP_SERVERS=broker:9092`,
`NEWSWIRE_STORE__URL=postgresql://...`. Secrets can come from files (`*_file` settings), and are masked by
`masked()` when printed. Settings are read once at start-up (`load_settings`) and passed down explicitly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict, YamlConfigSettingsSource

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
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "newswire"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None
    # gzip needs no extra library on producers or consumers.
    compression_type: Literal["gzip", "none"] = "gzip"
    request_timeout_ms: int = 30_000
    bootstrap_timeout_ms: int = 30_000


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
    # A file path or sqlite:///path for SQLite; postgresql://user:pass@host/db for PostgreSQL.
    url: str = "sqlite:///newswire.sqlite"
    password_file: Path | None = Field(None, description="Read the PostgreSQL password from this file.")


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
    recycle_after_records: int = Field(0, ge=0, description="Restart a worker process after this many records to "
                                       "bound memory growth (0: never); used by the `process` supervisor.")


class ServiceSettings(_Section):
    metrics_host: str = "0.0.0.0"
    metrics_port: int = Field(9400, ge=0, description="Port of /metrics, /healthz and /readyz; 0 disables.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    shutdown_grace_seconds: float = 25.0


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
        """The store URL with the password from `store.password_file` filled in."""
        url = self.store.url
        if self.store.password_file and url.startswith("postgres"):
            password = self.store.password_file.read_text().strip()
            url = re.sub(r"^(postgres(?:ql)?://[^:/@]+)(?::[^@]*)?@", rf"\1:{password}@", url)
        return url


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings: defaults < config file < NEWSWIRE_* variables < explicit overrides (from the CLI)."""
    path = Path(config_file) if config_file else None
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                       file_secret_settings):
            sources = [init_settings, env_settings]
            if path is not None:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
            return (*sources, file_secret_settings)

    loaded = _Loaded(**overrides)
    return Settings.model_validate(loaded.model_dump())


_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def masked(settings: Settings) -> dict[str, Any]:
    """Settings as a plain dict for printing, with passwords and secrets replaced by '***'."""
    data = settings.model_dump(mode="json")

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ("***" if v and ("password" in k and not k.endswith("_file")) else scrub(v))
                    for k, v in value.items()}
        if isinstance(value, str):
            return _URL_PASSWORD.sub(r"\1***@", value)
        return value

    return scrub(data)
