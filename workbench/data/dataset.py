"""Datasets: load CSV or Parquet tables, infer their schema and check their quality.

Callers pass plain arguments (no config import); messages name the config key of a column.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import _jsonable, sha256_file
from workbench.data._files import csv_header, part_files, parts_sha256, quoted, reading, refuse_repeated_names
from workbench.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
_ROLES = ("target", "id", "timestamp", "sensitive", "numeric", "categorical", "features")
_KINDS = {**dict.fromkeys(["integer", "floating", "mixed-integer-float", "decimal"], "numeric"),
          **dict.fromkeys(["datetime", "datetime64", "date"], "datetime"), "boolean": "bool"}


@dataclass(frozen=True, eq=False)
class Table:
    """A dataset read from one file (or a folder of parts), with the hex sha256 of its bytes (see :func:`load_table`)."""

    path: Path
    frame: pd.DataFrame = field(repr=False)
    sha256: str
    rows: int
    columns: list[str]
    features: dict[str, Any] | None = field(default=None, repr=False)  # views joined from the feature store (workbench.features.offline)


@dataclass(frozen=True)
class Schema:
    """Column roles, model ``features``, and each column's kind in ``dtypes``."""

    target: str | None = None
    id: str | None = None
    timestamp: str | None = None
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    sensitive: list[str] = field(default_factory=list)
    dtypes: dict[str, str] = field(default_factory=dict)

    @property
    def declared(self) -> dict[str, str]:
        """Every column with a role, mapped to the config key that declares it."""
        keys: dict[str, str] = {}
        for role, value in ((r, getattr(self, r)) for r in _ROLES):
            for column in [value] if isinstance(value, str) else value or []:
                keys.setdefault(column, f"data.{role}")
        return keys

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict with ``schema_version``."""
        return {"schema_version": SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Build a schema from :meth:`to_dict` output; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class Check:
    """One quality finding; ``keys`` are the config keys that can fix it."""

    name: str
    column: str | None
    severity: str
    message: str
    value: Any = None
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class QualityReport:
    """Every check :func:`check_quality` fired; ``passed`` when none is an error."""

    source: str
    rows: int
    columns: list[str]
    checks: list[Check]
    passed: bool

    @property
    def errors(self) -> list[Check]:
        """Checks with severity ``error``."""
        return [c for c in self.checks if c.severity == "error"]

    @property
    def warnings(self) -> list[Check]:
        """Checks with severity ``warning``."""
        return [c for c in self.checks if c.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict with ``schema_version``."""
        return _jsonable({"schema_version": SCHEMA_VERSION, **asdict(self)})

    def to_frame(self) -> pd.DataFrame:
        """Return the checks as a DataFrame, one row per check, for notebooks."""
        import pandas as pd

        names = ["name", "column", "severity", "message", "value"]
        return pd.DataFrame([asdict(c) for c in self.checks], columns=names)

    def raise_for_errors(self) -> QualityReport:
        """Raise :class:`DataError` naming every error; return ``self`` when there is none."""
        if not self.errors:
            return self
        keys = " / ".join(dict.fromkeys(k for c in self.errors for k in c.keys))
        fix = f"Fix the file or the config ({keys})." if keys else "Fix the file."
        problems = "; ".join(c.message for c in self.errors)
        raise DataError(f"{self.source}: {_n(len(self.errors), 'data error')}: {problems}. {fix}")


def load_table(path: str | os.PathLike[str], *, parse_dates: Iterable[str] = ()) -> Table:
    """Read a CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) file.

    pandas infers CSV types (text stays text); only ``parse_dates`` columns become dates.
    The frame has a default index (named Parquet index levels become columns). Raises
    :class:`DataError` for an unsupported suffix, or a missing, unreadable or empty file.

    A folder is one dataset written in parts (``part-0.parquet``, ...: what Spark, Dask and
    partitioned exports write): its data files are read in name order and stacked, and its
    sha256 is taken over each part's name and sha256 (:func:`~workbench.data._files.parts_sha256`).
    """
    import pandas as pd
    import pyarrow.parquet as pq

    if Path(path).is_dir():
        return _load_parts(Path(path), parse_dates)
    path, fmt = _checked_path(path)
    with reading(path, fmt):
        if fmt == "CSV":  # low_memory=False: chunked type inference warns on mixed columns
            refuse_repeated_names(path, csv_header(path))
            frame = pd.read_csv(path, low_memory=False)
        else:  # the footer check fails with a clearer message than read_parquet gives
            refuse_repeated_names(path, pq.read_metadata(path).schema.to_arrow_schema().names)
            frame = pd.read_parquet(path)
            frame = frame.reset_index(drop=all(n is None for n in frame.index.names))
    _require_rows(path, len(frame), frame.columns)
    for column in parse_dates:
        _require(list(frame.columns), column, "parse_dates", path, "list only these in {key}")
        with reading(path, f"dates in column '{column}'"):
            frame[column] = pd.to_datetime(frame[column])
    return Table(path=path, frame=frame, sha256=sha256_file(path), rows=len(frame),
                 columns=[str(c) for c in frame.columns])


def _load_parts(folder: Path, parse_dates: Iterable[str]) -> Table:
    """A folder of parts as one table (see :func:`load_table`)."""
    import pandas as pd

    parts = part_files(folder, SUFFIXES)
    frames = [load_table(p, parse_dates=parse_dates).frame for p in parts]
    for part, other in zip(parts[1:], frames[1:], strict=True):  # a column missing from some parts is not "missing values"
        if list(other.columns) != list(frames[0].columns):
            raise DataError(f"{part}: its columns differ from {parts[0].name}'s (only in one of them: "
                            f"{quoted(sorted(set(map(str, other.columns)) ^ set(map(str, frames[0].columns))), 10)}; or in another order). "
                            "Fix: write every part of the batch with the same columns, in the same order.")
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return Table(path=folder, frame=frame, sha256=parts_sha256(parts, sha256_file), rows=len(frame), columns=[str(c) for c in frame.columns])


def read_columns(path: str | os.PathLike[str]) -> list[str]:
    """Return a file's column names without reading its data; errors as :func:`load_table` (a folder: its first part's)."""
    import pandas as pd
    import pyarrow.parquet as pq

    if Path(path).is_dir():
        return read_columns(part_files(Path(path), SUFFIXES)[0])
    path, fmt = _checked_path(path)
    with reading(path, fmt):
        if fmt == "CSV":
            refuse_repeated_names(path, csv_header(path))
            head = pd.read_csv(path, nrows=1)
            columns, rows = [str(c) for c in head.columns], len(head)
        else:  # load_table turns named index levels into leading columns
            metadata = pq.read_metadata(path)
            schema, rows = metadata.schema.to_arrow_schema(), metadata.num_rows
            refuse_repeated_names(path, schema.names)
            index = [str(c) for c in (schema.pandas_metadata or {}).get("index_columns", [])]
            columns = [c for c in index if c in schema.names and "__index_level_" not in c]
            columns += [n for n in schema.names if n not in index]
    _require_rows(path, rows, columns)
    return columns


def infer_schema(frame: pd.DataFrame, *, target: str | None, id: str | None = None,
                 timestamp: str | None = None, numeric: Iterable[str] | None = None,
                 categorical: Iterable[str] | None = None, sensitive: Iterable[str] = (),
                 features: Iterable[str] | None = None, source: str = "<data>") -> Schema:
    """Work out column roles and kinds; raise :class:`DataError` for a bad declaration.

    Parameters
    ----------
    target, id, timestamp : str or None
        Role columns: never features, never inferred as numeric or categorical.
    numeric, categorical : iterable of str, optional
        Inferred when omitted: numbers are numeric; text, category and bool are categorical.
    sensitive : iterable of str
        Columns for fairness analysis; features only when listed in ``features``.
    features : iterable of str, optional
        Model inputs; numeric + categorical minus sensitive by default, in frame order.
    """
    columns = list(frame.columns)
    roles = {c: f"data.{k}" for k, c in zip(_ROLES[:3], (target, id, timestamp), strict=True) if c is not None}
    given = zip(_ROLES[3:], (sensitive, numeric, categorical, features), strict=True)
    lists = {k: list(dict.fromkeys([v] if isinstance(v, str) else v or [])) for k, v in given}
    for column, key in roles.items():
        _require(columns, column, key, source, "set {key} to one of these columns")
    for role, names in lists.items():
        for column in names:
            _require(columns, column, f"data.{role}", source, "use only these columns in {key}")
            other = "data.numeric" if role == "categorical" and column in lists["numeric"] else (
                roles.get(column) if role != "sensitive" else None)
            if other:
                raise DataError(f"{source}: column '{column}' is in data.{role} and in {other}. "
                                f"Fix: keep it in one of them.")
    kinds = {c: _kind(frame[c]) for c in columns}
    free = [c for c in columns if c not in roles]
    num = lists["numeric"] if numeric is not None else [
        c for c in free if kinds[c] == "numeric" and c not in lists["categorical"]]
    cat = lists["categorical"] if categorical is not None else [
        c for c in free if kinds[c] in ("categorical", "bool") and c not in num]
    for column in num:
        _require_numeric(frame[column], column, source)
    feats = lists["features"] if features is not None else [
        c for c in columns if (c in num or c in cat) and c not in lists["sensitive"]]
    for column in (c for c in feats if c not in num and c not in cat):
        raise DataError(f"{source}: column '{column}' (data.features) is neither numeric nor "
                        f"categorical. Fix: add it to data.numeric or data.categorical.")
    return Schema(target=target, id=id, timestamp=timestamp, numeric=num, categorical=cat,
                  features=feats, sensitive=lists["sensitive"], dtypes=kinds)


def check_quality(frame: pd.DataFrame, schema: Schema, *, source: str | os.PathLike[str],
                  reference: Schema | None = None,
                  reference_categories: Mapping[str, Iterable[str]] | None = None,
                  max_missing: float = 0.5, require_target: bool = True) -> QualityReport:
    """Check a dataset against its schema; report problems instead of raising them.

    Parameters
    ----------
    reference : Schema, optional
        The training-time schema whose column kinds must not change (default ``schema``).
    reference_categories : mapping, optional
        Levels seen in the reference (:func:`category_levels`); new levels warn.
    max_missing : float
        Share of missing values above which a column is an error; any missing warns.
    require_target : bool
        False for batches whose labels arrive late: a missing target is info, not an error.
    """
    checks = [Check("empty", None, "error", "the data has no rows", 0)] if len(frame) == 0 else []
    checks += _check_columns(frame, schema, reference or schema, require_target)
    if len(frame):
        checks += _check_missing(frame, schema, max_missing, require_target)
        checks += _check_values(frame, schema, reference_categories or {})
    return QualityReport(source=str(source), rows=len(frame), columns=[str(c) for c in frame],
                         checks=checks, passed=all(c.severity != "error" for c in checks))


def category_levels(frame: pd.DataFrame, schema: Schema) -> dict[str, list[str]]:
    """Return the sorted observed levels, as text and without NaN, of each categorical column."""
    return {c: sorted(_levels(frame[c])) for c in schema.categorical if c in frame.columns}


def _checked_path(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """Return the path and its format, or raise for a bad suffix or a missing/empty file."""
    path = Path(path)
    name = path.name.lower()
    fmt = "CSV" if name.endswith(SUFFIXES[:2]) else "Parquet" if name.endswith(SUFFIXES[2:]) else ""
    if not fmt:
        suffix = f"'{path.suffix}'" if path.suffix else "(no suffix)"
        raise DataError(f"{path}: unsupported file type {suffix}; supported suffixes are "
                        f"{', '.join(SUFFIXES)}. Fix: save the data as CSV or Parquet.")
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "file not found"
        raise DataError(f"{path}: {what}. Fix: check the path, or create the file.")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes). Fix: write a header and at least "
                        f"one row, or point at another file.")
    return path, fmt


def _require_rows(path: Path, rows: int, columns: Iterable[Any]) -> None:
    if rows == 0:
        raise DataError(f"{path}: file has columns ({quoted(list(columns), 20, '')}) but no "
                        f"rows. Fix: add rows, or point at a file with data.")


def _require(columns: list[Any], column: Any, key: str, source: Any, fix: str) -> None:
    if column not in columns:
        raise DataError(f"{source}: column '{column}' ({key}) not found; columns are: "
                        f"{quoted(columns, 20, '')}. Fix: {fix.format(key=key)}.")


def _require_numeric(series: pd.Series, column: str, source: str) -> None:
    """Raise when a column declared numeric holds values that are not numbers."""
    import pandas as pd

    kind = _kind(series)
    values = pd.Series([] if kind in ("numeric", "bool") else series.dropna().unique(), dtype=object)
    bad = values if kind == "datetime" else values[pd.to_numeric(values, errors="coerce").isna()]
    if len(bad):
        raise DataError(f"{source}: column '{column}' (data.numeric) holds non-numeric values, "
                        f"e.g. {quoted(sorted(map(str, bad)), 3)}. Fix: move it to "
                        f"data.categorical, or clean the values.")


def _kind(series: pd.Series) -> str:
    """numeric, categorical, datetime or bool; object columns are judged by their values."""
    from pandas.api import types

    dtype = series.dtype
    if types.is_object_dtype(dtype):
        return _KINDS.get(types.infer_dtype(series, skipna=True), "categorical")
    if types.is_bool_dtype(dtype):
        return "bool"
    if types.is_datetime64_any_dtype(dtype) or types.is_timedelta64_dtype(dtype):
        return "datetime"
    return "numeric" if types.is_numeric_dtype(dtype) else "categorical"


def _levels(series: pd.Series) -> set[str]:
    """Distinct values as text; 1.0 reads '1' so ints widened to float by NaN still match."""
    return {str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
            for v in series.dropna().unique()}


def _check_columns(frame: pd.DataFrame, schema: Schema, expected: Schema,
                   require_target: bool) -> Iterator[Check]:
    """Missing and undeclared columns; changed kinds (ignoring all-missing, read as float)."""
    declared = schema.declared
    for column, key in ((c, k) for c, k in declared.items() if c not in frame.columns):
        if column == schema.target and not require_target:
            yield Check("no_target", column, "info",
                        f"target column '{column}' is absent (labels may arrive later)")
        else:
            yield Check("missing_column", column, "error", f"column '{column}' is missing",
                        keys=(key,))
    extra = [str(c) for c in frame.columns
             if c not in declared and c not in schema.dtypes and c not in expected.dtypes]
    if extra:
        yield Check("extra_columns", None, "warning",
                    f"{_n(len(extra), 'column')} not in the schema: {quoted(extra)}", extra)
    for column, was in expected.dtypes.items():
        now = _kind(frame[column]) if column in frame and frame[column].notna().any() else was
        if now != was:
            yield Check("dtype_change", column, "error", f"column '{column}' changed type from {was} to {now}",
                        {"from": was, "to": now}, ("data.numeric", "data.categorical"))


def _check_missing(frame: pd.DataFrame, schema: Schema, max_missing: float,
                   require_target: bool) -> Iterator[Check]:
    """Share of missing values per column, and missing labels."""
    for column, count in frame.isna().sum().items():
        share = float(count / len(frame))
        message = f"column '{column}' has {_n(int(count), 'missing value')} ({share * 100:.3g}%)"
        if count and column == schema.target:
            yield Check("missing_target", column, "error" if require_target else "info",
                        f"target {message}", share)
        elif share > max_missing:
            yield Check("missing_values", column, "error", f"{message}, more than the {max_missing * 100:.3g}% allowed",
                        share, tuple(v for k, v in schema.declared.items() if k == column))
        elif count:
            yield Check("missing_values", column, "warning", message, share)


def _check_values(frame: pd.DataFrame, schema: Schema,
                  reference_categories: Mapping[str, Iterable[str]]) -> Iterator[Check]:
    """Constant columns, numbers out of range, categories the reference never had, and repeated ids."""
    yield from _check_finite(frame, schema)
    for column in frame.columns if len(frame) > 1 else []:  # one row is always constant
        values = frame[column].dropna().unique()
        if len(values) == 1:
            yield Check("constant", str(column), "warning",
                        f"column '{column}' is constant ('{values[0]}')", str(values[0]))
    for column in (c for c in schema.categorical if c in frame and c in reference_categories):
        new = sorted(_levels(frame[column]) - {str(v) for v in reference_categories[column]})
        if new:
            noun = "category" if len(new) == 1 else "categories"
            yield Check("unseen_categories", column, "warning", f"column '{column}' has "
                        f"{len(new)} {noun} not seen in the reference: {quoted(new)}", len(new))
    repeated = frame[schema.id].dropna() if schema.id is not None and schema.id in frame else ()
    repeated = repeated[repeated.duplicated()] if len(repeated) else ()
    if len(repeated):
        examples = quoted(sorted({str(v) for v in repeated}), 5)
        message = f"column '{schema.id}' has {_n(len(repeated), 'duplicate id')}, e.g. {examples}"
        yield Check("duplicate_ids", schema.id, "error", message, len(repeated), ("data.id",))


def _check_finite(frame: pd.DataFrame, schema: Schema) -> Iterator[Check]:
    """Numbers a model cannot use: inf, or beyond float32's range (scikit-learn's trees cast to float32, so 1e308 becomes inf)."""
    import numpy as np
    import pandas as pd

    limit = float(np.finfo(np.float32).max)
    target = [schema.target] if schema.target in frame and _kind(frame[schema.target]) == "numeric" else []
    for column in (c for c in [*schema.numeric, *target] if c in frame):
        values = pd.to_numeric(frame[column], errors="coerce").astype(float)
        bad = values[values.abs() > limit]  # inf too; NaN compares False (missing is checked elsewhere)
        if len(bad):
            examples = quoted([f"{v:g}" for v in dict.fromkeys(bad.tolist())], 3)
            yield Check("non_finite", str(column), "error", f"column '{column}' has {_n(len(bad), 'infinite or too large value')} "
                        f"(beyond ±{limit:.3g}), e.g. {examples}", len(bad))


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
