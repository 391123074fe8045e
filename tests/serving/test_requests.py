"""The request schema: generated from a version's features, strict types, every problem named by record and field."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.data.dataset import Schema
from workbench.serving import requests

SCHEMA = Schema(target="y", id="customer id", timestamp="ts", numeric=["age", "monthly charges"], categorical=["plan", "class"],
                features=["age", "monthly charges", "plan", "class"], sensitive=["gender"])
RECORD = {"age": 40, "monthly charges": 12.5, "plan": "basic", "class": None}


def _parse(body: object | bytes, limit: int = 100) -> list[dict]:
    return requests.build(SCHEMA, "7", max_records=limit).parse(body if isinstance(body, bytes) else json.dumps(body).encode(), max_records=limit)


def test_columns_need_not_be_identifiers_and_optional_columns_are_optional() -> None:
    assert _parse(RECORD) == [RECORD]
    full = RECORD | {"customer id": "c-1", "ts": "2026-01-01", "gender": "f"}
    assert _parse({"records": [full, RECORD]}) == [full, RECORD]
    assert _parse([RECORD, RECORD]) == [RECORD, RECORD]


@pytest.mark.parametrize(("change", "field", "status"), [
    ({"age": "40"}, "age", 422),
    ({"age": True}, "age", 422),
    ({"monthly charges": float("nan")}, "monthly charges", 422),
    ({"monthly charges": float("inf")}, "monthly charges", 422),
    ({"plan": 1.5}, "plan", 422),
    ({"plan": {"a": 1}}, "plan", 422),
    ({"unknown": 1}, "unknown", 422),
    ({"ts": 5}, "ts", 422),
    ({"age": 1e300}, "age", 422),            # finite, but beyond float32: a tree model would fail on it (and trip the breaker)
    ({"age": 10**400}, "age", 422),          # an int no float holds
    ({"customer id": 2**70}, "customer id", 422),
    ({"plan": -(2**64)}, "plan", 422),
])
def test_wrong_values_name_their_field(change: dict, field: str, status: int) -> None:
    with pytest.raises(requests.BadRequest) as err:
        _parse(json.dumps([RECORD, RECORD | change]).encode())
    assert err.value.status == status
    assert [(e["record"], e["field"]) for e in err.value.errors] == [(1, field)]


def test_missing_columns_and_body_shapes() -> None:
    with pytest.raises(requests.BadRequest) as err:
        _parse({k: v for k, v in RECORD.items() if k != "plan"})
    assert err.value.errors[0]["field"] == "plan" and "missing column" in err.value.errors[0]["msg"]
    for body, status in ((b"", 400), (b"\xff\xfe", 400), (b"[" * 200_000, 400), (b"[]", 422), (b'"text"', 422), (b"[[1]]", 422)):
        with pytest.raises(requests.BadRequest) as err:
            _parse(body)
        assert err.value.status == status, body
    with pytest.raises(requests.BadRequest) as err:
        _parse([RECORD] * 101)
    assert err.value.status == 413 and "serving.max_records" in err.value.errors[0]["msg"]


def test_the_openapi_schema_lists_required_features_and_optional_keys() -> None:
    body = requests.build(SCHEMA, "7").json_schema()
    record = body["oneOf"][0]
    assert set(record["required"]) == set(SCHEMA.features) and record["additionalProperties"] is False
    assert {"customer id", "ts", "gender"} <= set(record["properties"])


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3), max_leaves=10))
def test_any_json_is_either_accepted_or_refused_with_a_4xx(payload: object) -> None:
    try:
        _parse(json.dumps(payload).encode())
    except requests.BadRequest as err:
        assert err.status in (400, 413, 422)
        assert all(e["field"] for e in err.errors)


def test_a_huge_list_fails_fast_with_413() -> None:
    with pytest.raises(requests.BadRequest) as err:
        _parse(b"[" + b",".join([b"{}"] * 300_000) + b"]", limit=1000)
    assert err.value.status == 413 and len(err.value.errors) == 1


def _store_parse(body: object, *, key: str = "customer id") -> list[dict]:
    schema = requests.build(SCHEMA, "7", store_fields=["age", "plan", "not a model feature"], key=key)
    return schema.parse(json.dumps(body).encode(), max_records=10)


def test_with_a_feature_store_its_fields_are_optional_when_the_record_carries_the_key() -> None:
    only_key = {"customer id": "c-1", "monthly charges": 3.5, "class": None}
    assert _store_parse([only_key, RECORD]) == [only_key, RECORD]  # the key alone, or every feature (no key needed)
    assert _store_parse({"customer id": 7, "age": 40, "monthly charges": 1, "class": "x"})[0]["age"] == 40
    assert _store_parse({"cid": 7, "monthly charges": 1, "class": "x"}, key="cid") == [{"cid": 7, "monthly charges": 1, "class": "x"}]


@pytest.mark.parametrize(("record", "field", "msg"), [
    ({"monthly charges": 1, "class": "x"}, "customer id",
     "missing: the record lacks age, plan (feature store fields) and has no 'customer id' to read them by. "
     "Fix: send 'customer id', or send those features in the record"),
    ({"customer id": None, "age": 1, "monthly charges": 1, "class": "x"}, "customer id",
     "missing: the record lacks plan (feature store fields) and has no 'customer id' to read them by. "
     "Fix: send 'customer id', or send those features in the record"),
    ({"customer id": "c-1", "class": "x"}, "monthly charges", "missing column: the model needs it (send null for a missing value)"),
    ({"customer id": "c-1", "age": "forty", "monthly charges": 1, "class": "x"}, "age", "wrong type: expected a number, got 'forty'"),
    ({"customer id": "c-1", "not a model feature": 1, "monthly charges": 1, "class": "x"}, "not a model feature",
     "unknown column: the model does not use it. Fix: remove it (or check its spelling)"),
])
def test_with_a_feature_store_a_record_needs_the_key_or_the_features_and_sent_fields_keep_their_types(record: dict, field: str, msg: str) -> None:
    with pytest.raises(requests.BadRequest) as err:
        _store_parse([RECORD, record])
    assert err.value.status == 422
    assert [(e["record"], e["field"], e["msg"]) for e in err.value.errors] == [(1, field, msg)]


def test_the_openapi_schema_says_the_key_or_the_store_fields() -> None:
    record = requests.build(SCHEMA, "7", store_fields=["age", "plan"], key="customer id").json_schema()["oneOf"][0]
    assert set(record["required"]) == {"monthly charges", "class"} and {"age", "plan", "customer id"} <= set(record["properties"])
    assert record["anyOf"] == [{"required": ["customer id"]}, {"required": ["age", "plan"]}]
    assert "'customer id'" in record["description"]
    assert "anyOf" not in requests.build(SCHEMA, "7").json_schema()["oneOf"][0]  # no store: every feature required, as before
