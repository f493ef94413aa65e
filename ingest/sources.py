"""The configured sources: a YAML list of feeds, validated into frozen objects."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["FeedSource", "load_feeds"]


class FeedSource(BaseModel):
    """One feed to poll."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Short stable name, used as the record's `source` and in metrics.")
    url: str
    language: str | None = Field(None, description="Declared language, used when the text is too short.")
    interval_seconds: float | None = Field(None, gt=0, description="Override of the poller's default interval.")
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"feed URL must be http(s): {value!r}")
        return value


def load_feeds(path: str | Path) -> list[FeedSource]:
    """Read `feeds:` from a YAML file (a bare list is accepted too); names must be unique."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    items = data.get("feeds", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a list of feeds under 'feeds:'")
    feeds = [FeedSource.model_validate(item) for item in items]
    names = [f.name for f in feeds]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate feed names: {', '.join(duplicates)}")
    return [f for f in feeds if f.enabled]
