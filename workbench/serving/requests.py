"""The request schema of ``POST /predict``, generated from a registered version's feature schema.

A record is a JSON object with exactly the version's feature columns (each required; ``null`` is a
missing value the model imputes), plus, optionally, the id column (the canary routes by it and the
prediction log keeps it to join labels later), the timestamp column and the sensitive columns (kept
in the log for the fairness audit). Numeric features take JSON numbers only (not strings, not
booleans, never NaN or infinity); categorical ones take strings, integers or booleans. Anything
else — an unknown column, a missing one, a wrong type — is refused with the record and the field
named. Column names need not be Python identifiers: the schema is a ``TypedDict`` keyed by the
column names themselves, validated by pydantic's compiled core.

With a feature store (``features:`` in the config), the features its views hold are optional: a
record may carry only the entity key (``{"customer_id": "C0012345"}``) and the service reads what it
lacks from the store (:mod:`workbench.serving.features`). A record that lacks any of them must carry
the key (422 otherwise); the fields it does send keep their strict types.

The body is one record, a list of records, or ``{"records": [...]}``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, TypeAdapter, ValidationError
from typing_extensions import NotRequired, TypedDict  # noqa: UP035 - pydantic needs typing_extensions' TypedDict before 3.12

if TYPE_CHECKING:  # pragma: no cover
    from workbench.data.dataset import Schema

FLOAT32_MAX = 3.4028234663852886e38  # tree models score in float32: a larger number would fail the model, not the request


def _finite32(value: float | int | None) -> float | int | None:
    if value is not None and not -FLOAT32_MAX <= value <= FLOAT32_MAX:  # also False for NaN; never overflows for big ints
        raise ValueError("NaN, infinity or a number beyond ±3.4e38 is not a value: send null for a missing value")
    return value


_INT64 = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]  # pandas holds ids and codes as int64
_NUMBER = Annotated[StrictInt | StrictFloat | None, AfterValidator(_finite32)]
_CATEGORY = StrictStr | _INT64 | StrictBool | None
_KEY = StrictStr | _INT64 | None


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
    numeric: tuple[str, ...] = ()
    fetchable: tuple[str, ...] = ()  # features the feature store supplies when a record lacks them
    key: str | None = None  # the entity key they are read by

    def json_schema(self) -> dict[str, Any]:
        """The body's JSON schema (OpenAPI 3.1): one record, a list, or ``{"records": [...]}``."""
        record = TypeAdapter(self.record).json_schema()
        many = {"type": "array", "items": record, "minItems": 1}
        return {"oneOf": [record, many, {"type": "object", "properties": {"records": many}, "required": ["records"],
                                         "additionalProperties": False}]}

    def parse(self, body: bytes, *, max_records: int) -> list[dict[str, Any]]:
        """Validated records from a request body; raises :class:`BadRequest` (never anything else)."""
        try:
            if body[:1] == b"[":  # the common case: pydantic-core parses and validates in one pass
                try:
                    return self._check(self.adapter.validate_json(body), max_records)
                except ValidationError as exc:
                    errors = exc.errors(include_url=False)
                    if not any(e["type"] == "json_invalid" for e in errors):
                        raise BadRequest(*_refusal(errors, max_records)) from None
            try:
                payload = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadRequest(400, [{"field": "body", "msg": f"not valid JSON ({exc}). Send a JSON object or a list of objects."}]) from exc
            except RecursionError:
                raise BadRequest(400, [{"field": "body", "msg": "JSON nested too deeply. Send flat records."}]) from None
            if isinstance(payload, dict) and set(payload) == {"records"}:
                payload = payload["records"]
            try:
                return self._check(self.adapter.validate_python(payload if isinstance(payload, list) else [payload]), max_records)
            except ValidationError as exc:
                raise BadRequest(*_refusal(exc.errors(include_url=False), max_records)) from None
        except (ValueError, OverflowError, TypeError, RecursionError) as exc:  # a value pydantic itself chokes on
            if isinstance(exc, BadRequest):
                raise
            raise BadRequest(422, [{"field": "body", "msg": f"a value cannot be read: {type(exc).__name__}: {str(exc)[:200]}"}]) from None

    def _check(self, records: list[dict[str, Any]], max_records: int) -> list[dict[str, Any]]:
        if not records:
            raise BadRequest(422, [{"field": "records", "msg": "no records: send at least one"}])
        if self.fetchable:
            errors = []
            for i, record in enumerate(records):
                if record.get(self.key) is None and (lacking := [f for f in self.fetchable if f not in record]):
                    errors.append({"record": i, "field": self.key, "type": "missing",
                                   "msg": f"missing: the record lacks {', '.join(lacking)} (feature store fields) and has no '{self.key}' "
                                          f"to read them by. Fix: send '{self.key}', or send those features in the record"})
                    if len(errors) >= 50:
                        break
            if errors:
                raise BadRequest(422, errors)
        return records


def _refusal(errors: list[dict[str, Any]], max_records: int) -> tuple[int, list[dict[str, Any]]]:
    """Status and named errors for a failed validation: too many records is 413, an empty list 422."""
    top = [e for e in errors if not e.get("loc")]
    if top and top[0]["type"] == "too_long":
        return 413, [{"field": "records", "msg": f"more than {max_records} records; at most {max_records} per request "
                      "(serving.max_records). Split the request."}]
    if top and top[0]["type"] == "too_short":
        return 422, [{"field": "records", "msg": "no records: send at least one"}]
    return 422, _errors(errors)


def build(schema: Schema, version: str, *, max_records: int = 1000, store_fields: tuple[str, ...] | list[str] = (),
          key: str | None = None) -> RequestSchema:
    """The request schema of a version whose training schema is ``schema`` (at most ``max_records`` per request).

    ``store_fields`` are the fields the feature store's views hold and ``key`` the entity key they are read
    by: those of the version's features become optional, and a record lacking one must carry the key.
    """
    held = set(store_fields) if key else set()
    fetchable = tuple(c for c in schema.features if c in held)
    fields: dict[str, Any] = {c: NotRequired[t] if c in held else t
                              for c in schema.features for t in [_NUMBER if c in schema.numeric else _CATEGORY]}
    keys = (schema.id, key) if fetchable else (schema.id,)
    optional = list(dict.fromkeys(c for c in (*keys, schema.timestamp, *schema.sensitive) if c and c not in fields))
    for column in optional:
        fields[column] = NotRequired[_KEY if column in keys else StrictStr if column == schema.timestamp else _CATEGORY]
    record = TypedDict(f"RecordV{version}", fields)  # type: ignore[misc]  # functional form: keys need not be identifiers
    extra: dict[str, Any] = {}
    if fetchable:  # OpenAPI: either the key, or every feature the store would supply
        extra = {"anyOf": [{"required": [key]}, {"required": list(fetchable)}],
                 "description": f"Features {', '.join(fetchable)} come from the feature store by '{key}' when the record lacks them; "
                                "fields sent are used as given."}
    record.__pydantic_config__ = ConfigDict(extra="forbid", title=f"Record for model version {version}",  # type: ignore[attr-defined]
                                            json_schema_extra=extra or None)
    adapter = TypeAdapter(Annotated[list[record], Field(min_length=1, max_length=max_records)])  # a long list fails fast
    return RequestSchema(str(version), tuple(schema.features), tuple(optional), adapter, record, tuple(schema.numeric), fetchable,
                         key if fetchable else None)


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
        msg = "NaN, infinity or a number beyond ±3.4e38 is not a value: send null for a missing value"
    elif error.get("type") == "value_error":
        msg = str(error.get("ctx", {}).get("error", msg))
    return {"record": record, "field": column or ("body" if record is None else f"records[{record}]"), "msg": msg, "type": error.get("type"),
            "field_kind": error.get("type")}
