import json

import jsonschema
import pytest

from newswire.record_schemas import SCHEMA_FILES, schema_documents
from newswire.records import RawArticle, RecordError, decode_raw, encode, utc_now
from tests.conftest import REPO


def test_shipped_schemas_match_the_models():
    """The JSON Schemas in the repo are what the code produces (regenerate with `newswire schemas --write`)."""
    for name, document in schema_documents().items():
        shipped = json.loads((REPO / "newswire" / "schemas" / name).read_text())
        assert shipped == document, f"{name} is stale: run `newswire schemas --write newswire/schemas`"


def _raw(**overrides):
    data = dict(raw_id="r1", url="https://example.com/a", source="test", fetched_at=utc_now(),
                content_type="text/plain", body="Some text.")
    data.update(overrides)
    return RawArticle(**data)


def test_raw_round_trip_validates_against_schema():
    raw = _raw()
    payload = encode(raw)
    jsonschema.validate(json.loads(payload), schema_documents()["raw-article.v1.json"])
    assert decode_raw(payload) == raw


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe not utf8", "not JSON"),
    (b"{truncated", "not JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (json.dumps({"schema_version": 2, "raw_id": "x"}).encode(), "unsupported schema_version 2"),
    (json.dumps({"schema_version": 1, "raw_id": "x"}).encode(), "invalid raw record"),
])
def test_invalid_messages_raise_record_error(payload, reason):
    with pytest.raises(RecordError, match=reason):
        decode_raw(payload)


def test_unknown_fields_are_ignored_for_forward_compatibility():
    data = json.loads(encode(_raw()))
    data["added_in_a_later_minor_version"] = True
    assert decode_raw(json.dumps(data).encode()).raw_id == "r1"


def test_every_record_has_a_schema_file():
    assert set(SCHEMA_FILES) == {"raw-article.v1.json", "clean-article.v1.json", "duplicate-article.v1.json",
                                 "article-link.v1.json"}
