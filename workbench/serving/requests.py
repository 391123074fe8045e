"""The request schema of ``POST /predict``, generated from a registered version's feature schema.

A record is a JSON object with exactly the version's feature columns (each required; ``null`` is a
missing value the model imputes), plus, optionally, the id column (the canary routes by it and the
prediction log keeps it to join labels later), the timestamp column and the sensitive columns (kept
in the log for the fairness audit). Numeric features take JSON numbers only (not strings, not
booleans, never NaN or infinity); categorical ones take strings, integers or booleans. Anything
else — an unknown column, a missing one, a wrong type — is refused with the record and the field
named. Column names need not be Python identifiers: the schema is a ``TypedDict`` keyed by the
column names themselves, validated by pydantic's compiled core.

The body is one record, a list of records, or ``{"records": [...]}``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, TypeAdapter, ValidationError
from typing_extensions import NotRequired, TypedDict  # noqa: UP035 - pydantic needs typing_extensions' TypedDict before 3.12

if TYPE_CHECKING:  # pragma: no cover
    from workbench.data.dataset import Schema

_NUMBER = Annotated[StrictInt | StrictFloat | None, Field(allow_inf_nan=False)]
_CATEGORY = StrictStr | StrictInt | StrictBool | None
_KEY = StrictStr | StrictInt | None


class BadRequest(ValueError):
    """A request the schema refuses: ``status`` (400, 413, 422) and ``errors`` naming record and field."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e.get('field') or 'body'}: {e['msg']}" for e in errors))
        self.status = status
        self.errors = errors


@dataclass(frozen=True)
class RequestSchema:
    """The validator of one version's records, and its JSON schema for the OpenAPI page."""

    version: str
    features: tuple[str, ...]
    optional: tuple[str, ...]
    adapter: Any
    record: Any

    def json_schema(self) -> dict[str, Any]:
        """The body's JSON schema (OpenAPI 3.1): one record, a list, or ``{"records": [...]}``."""
        record = TypeAdapter(self.record).json_schema()
        many = {"type": "array", "items": record, "minItems": 1}
        return {"oneOf": [record, many, {"type": "object", "properties": {"records": many}, "required": ["records"],
                                         "additionalProperties": False}]}

    def parse(self, body: bytes, *, max_records: int) -> list[dict[str, Any]]:
        """Validated records from a request body; raises :class:`BadRequest`."""
        if body[:1] == b"[":  # the common case: pydantic-core parses and validates in one pass
            try:
                records = self.adapter.validate_json(body)
            except ValidationError as exc:
                if not any(e["type"] == "json_invalid" for e in exc.errors()):
                    if not exc.errors()[0]["loc"] and exc.errors()[0]["type"] == "too_short":
                        raise BadRequest(422, [{"field": "records", "msg": "no records: send at least one"}]) from None
                    raise BadRequest(422, _errors(exc.errors(include_url=False))) from None
            else:
                if not records:
                    raise BadRequest(422, [{"field": "records", "msg": "no records: send at least one"}])
                if len(records) > max_records:
                    raise BadRequest(413, [{"field": "records", "msg": f"{len(records)} records; at most {max_records} per request "
                                            "(serving.max_records). Split the request."}])
                return records
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(400, [{"field": "body", "msg": f"not valid JSON ({exc}). Send a JSON object or a list of objects."}]) from exc
        except RecursionError:
            raise BadRequest(400, [{"field": "body", "msg": "JSON nested too deeply. Send flat records."}]) from None
        if isinstance(payload, dict) and set(payload) == {"records"}:
            payload = payload["records"]
        records = payload if isinstance(payload, list) else [payload]
        if not records:
            raise BadRequest(422, [{"field": "records", "msg": "no records: send at least one"}])
        if len(records) > max_records:
            raise BadRequest(413, [{"field": "records", "msg": f"{len(records)} records; at most {max_records} per request "
                                    "(serving.max_records). Split the request."}])
        try:
            return self.adapter.validate_python(records)
        except ValidationError as exc:
            raise BadRequest(422, _errors(exc.errors(include_url=False))) from None


def build(schema: Schema, version: str) -> RequestSchema:
    """The request schema of a version whose training schema is ``schema``."""
    fields: dict[str, Any] = {c: _NUMBER if c in schema.numeric else _CATEGORY for c in schema.features}
    optional = [c for c in (schema.id, schema.timestamp, *schema.sensitive) if c and c not in fields]
    for column in optional:
        fields[column] = NotRequired[_KEY if column == schema.id else StrictStr if column == schema.timestamp else _CATEGORY]
    record = TypedDict(f"RecordV{version}", fields)  # type: ignore[misc]  # functional form: keys need not be identifiers
    record.__pydantic_config__ = ConfigDict(extra="forbid", title=f"Record for model version {version}")  # type: ignore[attr-defined]
    return RequestSchema(str(version), tuple(schema.features), tuple(optional), TypeAdapter(list[record]), record)


def _errors(raw: list[dict[str, Any]], limit: int = 50) -> list[dict[str, Any]]:
    """One error per record and field (a union's members each report; they say one thing)."""
    out: dict[tuple[Any, Any], dict[str, Any]] = {}
    for error in raw:
        one = _error(error)
        key = (one["record"], one["field"])
        if key in out:
            if out[key]["type"] in _TYPE_ERRORS and one["type"] in _TYPE_ERRORS:
                out[key]["msg"] = f"wrong type: expected {_EXPECTED.get(out[key]['field_kind'], 'another type')}, got {error.get('input')!r}"
            continue
        out[key] = one
        if len(out) >= limit:
            break
    for value in out.values():
        value.pop("field_kind", None)
    return list(out.values())


_TYPE_ERRORS = {"int_type", "float_type", "string_type", "bool_type"}
_EXPECTED = {"int_type": "a number", "float_type": "a number", "string_type": "a string, integer or boolean"}


def _error(error: dict[str, Any]) -> dict[str, Any]:
    loc = list(error.get("loc", ()))
    record = loc[0] if loc and isinstance(loc[0], int) else None
    names = [str(p) for p in loc[1:] if isinstance(p, str)]
    column = names[0] if names else None
    msg = error.get("msg", "invalid")
    if error.get("type") == "extra_forbidden":
        msg = "unknown column: the model does not use it. Fix: remove it (or check its spelling)"
    elif error.get("type") == "missing":
        msg = "missing column: the model needs it (send null for a missing value)"
    elif error.get("type") == "finite_number" or (isinstance(error.get("input"), float) and not math.isfinite(error["input"])):
        msg = "NaN or infinity is not a value: send null for a missing value"
    return {"record": record, "field": column or ("body" if record is None else f"records[{record}]"), "msg": msg, "type": error.get("type"),
            "field_kind": error.get("type")}
