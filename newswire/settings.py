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


class PollerSettings(_Section):
    feeds_file: Path | None = None
    interval_seconds: float = Field(900.0, gt=0, description="Default time between two checks of a feed.")
    min_interval_seconds: float = 60.0
    max_interval_seconds: float = 86_400.0
    workers: int = Field(4, ge=1)
    max_entries_per_fetch: int = Field(1000, ge=1)


class ProcessorSettings(_Section):
    group_id: str = "newswire-processor"
    batch_size: int = Field(100, ge=1, description="Largest number of records taken by one poll.")
    poll_timeout_ms: int = 1000
    retry_backoff_seconds: float = 1.0
    retry_backoff_max_seconds: float = 30.0


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
