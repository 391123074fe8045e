"""The reference profile: the reference data summarised once per model version, saved without pickle."""

from __future__ import annotations

import json
import math
import os
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from workbench._io import _jsonable, atomic_path
from workbench.analyses.drift import _categorical as cat
from workbench.analyses.drift import _numeric as num
from workbench.exceptions import DataError, ParameterError

MODES = ("exact", "sketch")
SCHEMA_VERSION = 1
PSI_BINS = 10  # PSI and Jensen-Shannon of numeric columns use reference deciles
META_FILE = "profile.json"
_ARRAY_FIELDS = ("psi_edges", "psi_counts", "values", "edges", "counts")


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """One numeric reference column: moments, PSI deciles, and sorted values or the bin sketch."""

    name: str
    count: int  # non-missing values
    missing: int  # NaN and +/-inf
    mean: float
    std: float  # population standard deviation (ddof=0)
    psi_edges: np.ndarray
    psi_counts: np.ndarray
    values: np.ndarray | None = None  # exact mode: sorted non-missing values
    edges: np.ndarray | None = None  # sketch mode: reference values bounding the bins
    counts: np.ndarray | None = None  # sketch mode: reference count per bin, len(edges) + 1

    @cached_property
    def index(self) -> num.BinIndex:
        """The lookup that bins batch values over :attr:`edges` (built on first use)."""
        return num.BinIndex(self.edges if self.edges is not None else np.empty(0))


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """One categorical reference column: count per level (by name) and missing values."""

    name: str
    counts: dict[str, int]
    missing: int

    @property
    def count(self) -> int:
        """Non-missing values."""
        return sum(self.counts.values())


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """What the reference data looks like, per column; build with :func:`build_profile`.

    ``profile_id`` is unique per build (kept by :meth:`save`/:meth:`load`), so batch
    statistics computed against one profile are never compared with another.
    """

    mode: str
    bins: int
    rows: int
    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoricalProfile]
    profile_id: str

    @property
    def columns(self) -> list[str]:
        """Every profiled column: the numeric ones, then the categorical ones."""
        return [*self.numeric, *self.categorical]

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``profile.json`` and its ``arrays-<profile_id>.npz`` into ``folder``; return the folder.

        Each file is written to a temp path and renamed. The arrays go first under a name of
        their own and ``profile.json``, which names them, last: a reader sees the old profile or
        the new one, never a mix, and a failed save leaves the old one in place.
        """
        folder = Path(folder)
        arrays_name = f"arrays-{self.profile_id}.npz"
        arrays: dict[str, np.ndarray] = {}
        for i, col in enumerate(self.numeric.values()):
            for key in _ARRAY_FIELDS:
                if getattr(col, key) is not None:
                    arrays[f"n{i}_{key}"] = getattr(col, key)
        meta = {"schema_version": SCHEMA_VERSION, "kind": "workbench.drift.ReferenceProfile",
                "profile_id": self.profile_id, "mode": self.mode, "bins": self.bins, "rows": self.rows,
                "arrays": arrays_name,
                "numeric": [{"name": c.name, "count": c.count, "missing": c.missing, "mean": c.mean, "std": c.std}
                            for c in self.numeric.values()],
                "categorical": [{"name": c.name, "missing": c.missing, "counts": c.counts} for c in self.categorical.values()]}
        text = json.dumps(_jsonable(meta), indent=1, allow_nan=False) + "\n"  # fails before anything is written
        with atomic_path(folder / arrays_name) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        with atomic_path(folder / META_FILE) as tmp:
            tmp.write_text(text, encoding="utf-8")
        for old in folder.glob("arrays-*.npz"):
            if old.name != arrays_name:
                old.unlink(missing_ok=True)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> ReferenceProfile:
        """Read a profile written by :meth:`save`; raise :class:`DataError` naming a missing or bad file."""
        meta_path = Path(folder) / META_FILE
        if not meta_path.is_file():
            raise DataError(f"{meta_path}: no such file; save a profile there with ReferenceProfile.save(folder).")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise DataError(f"{meta_path}: schema_version {meta.get('schema_version')!r} is not {SCHEMA_VERSION}; "
                            "rebuild the profile with build_profile.")
        arrays_path = meta_path.parent / meta["arrays"]
        if not arrays_path.is_file():
            raise DataError(f"{arrays_path}: no such file, but {meta_path} names it; save the profile again.")
        with np.load(arrays_path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        numeric = {}
        for i, item in enumerate(meta["numeric"]):
            got = {key: arrays.get(f"n{i}_{key}") for key in _ARRAY_FIELDS}
            numeric[item["name"]] = NumericProfile(
                name=item["name"], count=item["count"], missing=item["missing"], mean=_float(item["mean"]),
                std=_float(item["std"]), **got)
        categorical = {item["name"]: CategoricalProfile(item["name"], dict(item["counts"]), item["missing"])
                       for item in meta["categorical"]}
        return cls(mode=meta["mode"], bins=meta["bins"], rows=meta["rows"], numeric=numeric,
                   categorical=categorical, profile_id=meta["profile_id"])


def build_profile(reference: pd.DataFrame, *, numeric: list[str], categorical: list[str], mode: str = "exact",
                  bins: int = 1000) -> ReferenceProfile:
    """Summarise the reference data once, for every later :func:`compare`.

    Parameters
    ----------
    reference : pandas.DataFrame
        The data the model was trained on.
    numeric, categorical : list of str
        The columns to monitor. Numeric values are read as float64; NaN and +/-inf count as
        missing. Categorical levels are compared by name (``str``); missing values are counted.
    mode : {"exact", "sketch"}
        ``"exact"`` keeps each numeric column's sorted values: KS and Wasserstein equal scipy's.
        ``"sketch"`` keeps counts over at most ``bins`` reference-quantile bins: a small profile
        and a batch pass of one bin lookup per value, within the error bounds of
        :func:`workbench.analyses.drift.compare`.
    bins : int
        Sketch bins per numeric column: ``bins`` reference-quantile bins, plus a bin of its own
        for each heavily tied value (a column with at most ``bins`` distinct values gets one per
        value, which makes its sketch exact).

    Returns
    -------
    ReferenceProfile

    Raises
    ------
    ValueError
        For an unknown ``mode``, a bad ``bins``, no columns, or a column listed twice.
    DataError
        When the reference has no rows, lacks a listed column, or a numeric column holds text.
    """
    numeric, categorical = _check_args(reference, numeric, categorical, mode, bins)
    profile_numeric = {name: _numeric_profile(reference, name, mode, bins) for name in numeric}
    profile_categorical = {name: CategoricalProfile(name, *cat.level_counts(reference[name])) for name in categorical}
    return ReferenceProfile(mode=mode, bins=bins, rows=len(reference), numeric=profile_numeric,
                            categorical=profile_categorical, profile_id=uuid.uuid4().hex)


def _check_args(reference: pd.DataFrame, numeric: list[str], categorical: list[str], mode: str,
                bins: int) -> tuple[list[str], list[str]]:
    """Validate build_profile's arguments; return the column lists without duplicates."""
    if mode not in MODES:
        raise ParameterError(f"The 'mode' parameter of build_profile must be one of {', '.join(map(repr, MODES))}. "
                         f"Got {mode!r} instead.")
    if not isinstance(bins, int | np.integer) or isinstance(bins, bool) or bins < 2:
        raise ParameterError(f"The 'bins' parameter of build_profile must be an int >= 2. Got {bins!r} instead.")
    numeric, categorical = list(dict.fromkeys(numeric)), list(dict.fromkeys(categorical))
    if not numeric and not categorical:
        raise ParameterError("build_profile needs at least one column: pass numeric=[...] and/or categorical=[...].")
    for name in numeric:
        if name in categorical:
            raise ParameterError(f"Column {name!r} is listed in both numeric and categorical; list it in one of them.")
    if len(reference) == 0:
        raise DataError("reference has 0 rows: a profile needs the data the model was trained on. "
                        "Pass a non-empty reference frame.")
    present = [str(c) for c in reference.columns]
    for key, names in (("numeric", numeric), ("categorical", categorical)):
        for name in names:
            if name not in reference.columns:
                raise DataError(f"reference has no column {name!r} (listed in {key}); its columns are: "
                                f"{', '.join(present)}. Fix the {key} list.")
    return numeric, categorical


def _numeric_profile(reference: pd.DataFrame, name: str, mode: str, bins: int) -> NumericProfile:
    """Profile one numeric column in the given mode."""
    raw = num.to_float(reference[name])
    if raw is None:
        raise DataError(f"reference column {name!r} is listed as numeric but holds text (e.g. "
                        f"{num.first_bad_text(reference[name])}); list it in categorical or fix the data.")
    kept, missing = num.finite(raw)
    values = np.sort(kept)
    mean, std = num.moments(values)
    psi_edges = num.distinct(num.quantile_values(values, PSI_BINS)) if values.size else np.empty(0)
    common = {"name": name, "count": int(values.size), "missing": missing, "mean": mean, "std": std}
    if mode == "exact":
        return NumericProfile(**common, psi_edges=psi_edges, psi_counts=num.counts_from_sorted(values, psi_edges),
                              values=values)
    edges = num.sketch_edges(values, bins)
    if edges.size:  # PSI bins must be unions of sketch bins, so their edges are sketch edges
        psi_edges = np.unique(edges[np.minimum(np.searchsorted(edges, psi_edges), edges.size - 1)])
    return NumericProfile(**common, psi_edges=psi_edges, psi_counts=num.counts_from_sorted(values, psi_edges),
                          edges=edges, counts=num.counts_from_sorted(values, edges))


def _float(value: float | None) -> float:
    """A float from JSON, where NaN was written as null."""
    return math.nan if value is None else float(value)
