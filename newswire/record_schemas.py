"""JSON Schema documents of the wire records, generated from the models in `newswire.records`."""

from __future__ import annotations

from typing import Any

from newswire.records import ArticleLink, CleanArticle, DuplicateArticle, RawArticle

__all__ = ["SCHEMA_FILES", "schema_documents"]

SCHEMA_FILES = {
    "article-link.v1.json": ArticleLink,
    "raw-article.v1.json": RawArticle,
    "clean-article.v1.json": CleanArticle,
    "duplicate-article.v1.json": DuplicateArticle,
}


def schema_documents() -> dict[str, dict[str, Any]]:
    """{file name: JSON Schema (draft 2020-12)} for every record published on a topic."""
    documents = {}
    for name, model in SCHEMA_FILES.items():
        schema = model.model_json_schema(mode="serialization")
        documents[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://newswire.dev/schemas/{name}",
            **schema,
        }
    return documents
