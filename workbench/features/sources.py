"""Checks of the feature view source files with pyarrow alone (no Feast): what Feast itself does not check.

Feast accepts declared types that do not match the file (and then returns all nulls online), and picks
one of two rows with the same key and event time arbitrarily, independently per view and between the
offline and online stores. So every view source is checked here before anything is applied,
materialized or joined: the file exists and is Parquet, the key, event-time and field columns are
there, each field's type matches its declaration, event times are timestamps, and (key, event time)
is unique. Each check names the file, the column and the config key to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import sha256_file
from workbench.exceptions import DataError
from workbench.features.definitions import key_column

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from workbench.config import Config, ViewConfig


@dataclass(frozen=True)
class SourceInfo:
    """What the checks learned about one view's source file."""

    view: str
    path: Path
    sha256: str
    rows: int
    key_type: str  # "string" or "int64"
    oldest: datetime | None
    newest: datetime | None


def _kind(t: pa.DataType) -> str | None:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_integer(t):
        return "int64"
    if pa.types.is_floating(t):
        return "float64"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_timestamp(t):
        return "timestamp"
    return None


# Checked sources by (path, size, mtime, what was declared): every dataset read and every offline fallback of the service
# re-checks the sources, and re-reading and re-hashing an unchanged file each time is wasted I/O. A rewrite changes the
# size or the nanosecond mtime, so it is checked again.
_CHECKED: dict[tuple[Any, ...], SourceInfo] = {}


def check_view(config: Config, name: str, view: ViewConfig, key: str) -> SourceInfo:
    """Check one view's source (module docstring); raise :class:`DataError` naming file, column and key."""
    path = Path(view.source)
    try:
        st = path.stat()
        memo = (name, str(path), st.st_size, st.st_mtime_ns, key, view.timestamp, tuple(sorted(view.fields.items())))
    except OSError:
        memo = None
    if memo is not None and memo in _CHECKED:
        return _CHECKED[memo]
    info = _check_view(name, view, key)
    if memo is not None:
        _CHECKED[memo] = info
    return info


def _check_view(name: str, view: ViewConfig, key: str) -> SourceInfo:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = Path(view.source)
    where = f"features.views.{name}"
    if not path.is_file():
        raise DataError(f"{path}: the source of feature view '{name}' does not exist ({where}.source). Fix: point {where}.source at a Parquet file.")
    if not path.name.endswith((".parquet", ".pq")):
        raise DataError(f"{path}: feature view sources must be Parquet files ({where}.source). Fix: convert it, e.g. "
                        "pandas.read_csv(...).to_parquet(...), and point the key at the .parquet file.")
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # a truncated or non-Parquet file
        raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc}) ({where}.source). Fix: rewrite the file.") from exc
    names = schema.names
    needed = {key: "features.entity.key", view.timestamp: f"{where}.timestamp", **{f: f"{where}.fields" for f in view.fields}}
    missing = [f"'{c}' ({k})" for c, k in needed.items() if c not in names]
    if missing:
        raise DataError(f"{path}: feature view '{name}' needs column(s) {', '.join(missing)} that the file lacks; it has {', '.join(names)}. "
                        "Fix: correct the config key named, or add the column to the file.")
    key_type = _kind(schema.field(key).type)
    if key_type not in ("string", "int64"):
        raise DataError(f"{path}: the entity key column '{key}' is {schema.field(key).type}; keys must be text or integers (features.entity.key). "
                        "Fix: store the key as text.")
    if _kind(schema.field(view.timestamp).type) != "timestamp":
        raise DataError(f"{path}: column '{view.timestamp}' ({where}.timestamp) is {schema.field(view.timestamp).type}, not a timestamp. "
                        "Fix: write it as a datetime column (pandas.to_datetime).")
    wrong = [f"'{f}' is {schema.field(f).type} but declared {t}" for f, t in view.fields.items() if _kind(schema.field(f).type) != t]
    if wrong:
        raise DataError(f"{path}: feature view '{name}': {'; '.join(wrong)} ({where}.fields). "
                        "Fix: declare the file's type (string, int64, float64, bool), or cast the column in the file.")
    table = pq.read_table(path, columns=[key, view.timestamp])
    if table.num_rows == 0:
        raise DataError(f"{path}: the source of feature view '{name}' has no rows ({where}.source). Fix: point it at a file with data.")
    if table.column(key).null_count:
        raise DataError(f"{path}: {table.column(key).null_count} row(s) of feature view '{name}' have no entity key '{key}'. Fix: drop or fill them.")
    stamps = table.column(view.timestamp)
    if stamps.null_count:
        raise DataError(f"{path}: {stamps.null_count} row(s) of feature view '{name}' have no event time '{view.timestamp}'. Fix: drop or fill them.")
    frame = table.to_pandas()
    dup = frame.duplicated([key, view.timestamp], keep=False)
    if dup.any():
        example = frame.loc[dup, key].iloc[0]
        raise DataError(f"{path}: feature view '{name}' has {int(dup.sum())} rows sharing an entity key and event time (e.g. {key}={example!r}); "
                        "Feast would pick one at random, differently online and offline. Fix: keep one row per key and event time.")
    bounds = pc.min_max(stamps)
    return SourceInfo(view=name, path=path, sha256=sha256_file(path), rows=table.num_rows, key_type=key_type,
                      oldest=_utc(bounds["min"].as_py()), newest=_utc(bounds["max"].as_py()))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_all(config: Config) -> dict[str, SourceInfo]:
    """Check every view's source; also that all views agree on the key's type."""
    assert config.features is not None
    key = key_column(config)
    infos = {name: check_view(config, name, view, key) for name, view in config.features.views.items()}
    types = {i.key_type for i in infos.values()}
    if len(types) > 1:
        listing = ", ".join(f"{n}: {i.key_type}" for n, i in infos.items())
        raise DataError(f"the entity key '{key}' has different types across feature view sources ({listing}). Fix: store it with one type (text) everywhere.")
    return infos
