"""The reference profile of a federated model: computed by the sites at training, stored with the version.

A model trained by ``workbench federated train`` has no single reference file (its lineage's
``data_path`` is ``federated:a,b,c``), so the drift profile every monitor compares with is built
by the sites themselves, after the training rounds and before the version is registered, in
sketch mode and without sending a row (:mod:`workbench.analyses.drift._federated` has the
statistics and the stated approximation):

1. ``profile_quantiles``: per numeric column its count and values at 1001 quantile levels
   (and its distinct values when at most ``bins``); the server merges them into sketch and PSI
   edges (:func:`merge_quantiles`);
2. ``profile_counts``: per numeric column the exact counts over those edges, missing values,
   count, mean and centred sum of squares; per categorical column its level counts; per
   sensitive column its levels (the fairness group domain); the server adds them up
   (:func:`merge_counts`) into a ``ReferenceProfile(mode="sketch")`` whose counts are the pooled
   counts exactly.

What leaves a site: counts, moments, 1001 of its values per numeric column (quantiles: values,
not rows, as the encoder summary's levels are), and its categorical and sensitive levels.
:func:`store` writes the profile where the drift phase and
:func:`workbench.federated.monitoring.champion` look first, ``<store>/profiles/<project>/v<N>/sketch/``
(with ``federated.json``: the sensitive columns' levels and the sites), as one folder renamed into place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import read_json, write_json
from workbench.analyses import drift
from workbench.analyses.drift import _categorical as cat
from workbench.analyses.drift import _numeric as num
from workbench.exceptions import DataError, ParameterError
from workbench.federated import _profile_store

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from workbench.analyses.drift import ReferenceProfile
    from workbench.config import Config

Arrays = list["np.ndarray"]
COLUMNS = "wb.profile.columns"  # the server's ask: JSON {"numeric": [...], "categorical": [...]}
BINS = "wb.profile.bins"  # sketch bins per numeric column
META = "wb.profile"  # a site's answer: JSON of the scalars that go with its arrays
FILE, DEFAULT_BINS, DP_BINS = _profile_store.FILE, _profile_store.DEFAULT_BINS, _profile_store.DP_BINS


@dataclass(frozen=True, eq=False)
class FederatedProfile:
    """The drift profile the sites computed, the sensitive columns' levels, and the sites that took part."""

    profile: ReferenceProfile
    sensitive: list[str]
    groups: dict[str, np.ndarray]
    sites: list[str]


def columns(spec: dict[str, Any]) -> dict[str, list[str]]:
    """The profiled columns of an encoder spec: the model's numeric and categorical features."""
    schema = spec["schema"]
    numeric = [c for c in schema["features"] if c in schema["numeric"]]
    return {"numeric": numeric, "categorical": [c for c in schema["features"] if c not in numeric]}


def _sorted_values(frame: pd.DataFrame, col: str, site: str) -> tuple[np.ndarray, int]:
    """A numeric column's finite values, sorted, and its missing count (NaN and +/-inf), as build_profile reads them."""
    import numpy as np


    if col not in frame.columns:
        raise DataError(f"site {site!r}: its data has no column {col!r}, a feature of the model. Fix: give every site file the model's columns.")
    raw = num.to_float(frame[col])
    if raw is None:
        raise DataError(f"site {site!r}: column {col!r} is numeric in the model's schema but holds text (e.g. {num.first_bad_text(frame[col])}). "
                        "Fix: correct the site's data.")
    kept, missing = num.finite(raw)
    return np.sort(kept), missing


def site_quantiles(frame: pd.DataFrame, cols: dict[str, list[str]], bins: int, *, site: str) -> tuple[Arrays, dict[str, Any]]:
    """Pass 1 at a site: per numeric column its quantile summary and (few) distinct values; counts in the scalars."""
    import numpy as np


    arrays, count, few = [], [], []
    for col in cols["numeric"]:
        values, _ = _sorted_values(frame, col, site)
        quantiles, distinct = drift.quantile_summary(values, bins)
        arrays += [quantiles, distinct if distinct is not None else np.empty(0)]
        count.append(int(values.size))
        few.append(distinct is not None)
    return arrays, {META: json.dumps({"count": count, "few": few})}


def site_counts(frame: pd.DataFrame, cols: dict[str, list[str]], edges: Arrays, sensitive: list[str], *,
                site: str) -> tuple[Arrays, dict[str, Any]]:
    """Pass 2 at a site: exact counts over the agreed edges, moments, level counts and sensitive levels."""
    import numpy as np


    if len(edges) != len(cols["numeric"]):
        raise DataError(f"site {site!r}: the server sent {len(edges)} edge arrays for {len(cols['numeric'])} numeric columns.")
    arrays: Arrays = []
    numeric: dict[str, list[Any]] = {"count": [], "missing": [], "mean": [], "m2": []}
    for col, col_edges in zip(cols["numeric"], edges, strict=True):
        values, missing = _sorted_values(frame, col, site)
        arrays.append(num.counts_from_sorted(values, np.asarray(col_edges, dtype=float)).astype(np.int64))
        mean = float(values.mean()) if values.size else 0.0
        numeric["count"].append(int(values.size))
        numeric["missing"].append(int(missing))
        numeric["mean"].append(mean)
        numeric["m2"].append(float(((values - mean) ** 2).sum()))
    cat_missing = []
    for col in cols["categorical"]:
        if col not in frame.columns:
            raise DataError(f"site {site!r}: its data has no column {col!r}, a feature of the model. Fix: give every site file the model's columns.")
        counts, missing = cat.level_counts(frame[col])
        arrays += [np.array(list(counts), dtype=str), np.array(list(counts.values()), dtype=np.int64)]
        cat_missing.append(missing)
    present = [c for c in sensitive if c in frame.columns]
    text = []
    for col in present:
        levels = np.unique(np.asarray(frame[col].dropna().unique()))
        text.append(levels.dtype == object)
        arrays.append(levels.astype(str) if levels.dtype == object else levels)
    meta = {"numeric": numeric, "categorical_missing": cat_missing, "sensitive": present, "text": text, "rows": len(frame)}
    return arrays, {META: json.dumps(meta)}


def _meta(site: str, scalars: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(str(scalars[META]))
    except (KeyError, ValueError) as exc:
        raise DataError(f"site {site!r} sent a malformed profile answer ({exc}). Fix: run the same workbench version at every site.") from exc


def merge_quantiles(answers: dict[str, tuple[Arrays, dict[str, Any]]], cols: dict[str, list[str]], bins: int) -> tuple[Arrays, Arrays]:
    """Pass 1 at the server: per numeric column the sketch edges and the PSI edges (a subset of them)."""

    per_site = {}
    for site, (arrays, scalars) in answers.items():
        meta = _meta(site, scalars)
        if len(arrays) != 2 * len(cols["numeric"]) or len(meta["count"]) != len(cols["numeric"]):
            raise DataError(f"site {site!r} sent {len(arrays)} arrays for {len(cols['numeric'])} numeric columns. Fix: run the same workbench version at every site.")
        per_site[site] = (arrays, meta)
    edges, psi = [], []
    for i, _ in enumerate(cols["numeric"]):
        summaries = [(m["count"][i], a[2 * i], a[2 * i + 1] if m["few"][i] else None) for a, m in per_site.values()]
        e, p = drift.federated_edges(summaries, bins)
        edges.append(e)
        psi.append(p)
    return edges, psi


def merge_counts(answers: dict[str, tuple[Arrays, dict[str, Any]]], cols: dict[str, list[str]], edges: Arrays, psi: Arrays,
                 bins: int) -> FederatedProfile:
    """Pass 2 at the server: the sites' counts added up into the sketch profile, and the sensitive levels united."""
    import uuid

    import numpy as np


    n_num, n_cat = len(cols["numeric"]), len(cols["categorical"])
    counts = [np.zeros(e.size + 1, dtype=np.int64) for e in edges]
    moments: list[list[tuple[int, float, float]]] = [[] for _ in range(n_num)]
    missing = [0] * (n_num + n_cat)
    levels: list[dict[str, int]] = [{} for _ in range(n_cat)]
    groups: dict[str, list[tuple[np.ndarray, bool]]] = {}
    rows = 0
    for site, (arrays, scalars) in sorted(answers.items()):
        meta = _meta(site, scalars)
        num_meta, present = meta["numeric"], meta["sensitive"]
        if len(arrays) != n_num + 2 * n_cat + len(present):
            raise DataError(f"site {site!r} sent {len(arrays)} arrays, expected {n_num + 2 * n_cat + len(present)}. Fix: run the same workbench version at every site.")
        for i in range(n_num):
            got = np.asarray(arrays[i], dtype=np.int64)
            if got.shape != counts[i].shape or int(got.sum()) != num_meta["count"][i] or got.min(initial=0) < 0:
                raise DataError(f"site {site!r}: its counts of column {cols['numeric'][i]!r} do not add up. Fix: run the same workbench version at every site.")
            counts[i] += got
            moments[i].append((num_meta["count"][i], num_meta["mean"][i], num_meta["m2"][i]))
            missing[i] += int(num_meta["missing"][i])
        for j in range(n_cat):
            names, values = arrays[n_num + 2 * j], arrays[n_num + 2 * j + 1]
            levels[j] = cat.add_counts(levels[j], {str(k): int(v) for k, v in zip(names.tolist(), values.tolist(), strict=True)})
            missing[n_num + j] += int(meta["categorical_missing"][j])
        for k, col in enumerate(present):
            groups.setdefault(col, []).append((arrays[n_num + 2 * n_cat + k], bool(meta["text"][k])))
        rows += int(meta["rows"])
    numeric = {}
    for i, name in enumerate(cols["numeric"]):
        _, mean, std = drift.merge_moments(moments[i])
        numeric[name] = drift.numeric_from_counts(name, edges=edges[i], psi_edges=psi[i], counts=counts[i], missing=missing[i],
                                                  mean=mean, std=std)
    categorical = {name: drift.CategoricalProfile(name, levels[j], missing[n_num + j]) for j, name in enumerate(cols["categorical"])}
    profile = drift.ReferenceProfile(mode="sketch", bins=bins, rows=rows, numeric=numeric, categorical=categorical, profile_id=uuid.uuid4().hex)
    return FederatedProfile(profile, list(groups), {c: _union(parts) for c, parts in groups.items()}, sorted(answers))


def _union(parts: list[tuple[np.ndarray, bool]]) -> np.ndarray:
    """The sorted levels of a sensitive column over the sites (text at any site: text, as pandas would pool them)."""
    import numpy as np

    if any(text for _, text in parts):
        return np.unique(np.concatenate([a.astype(str) for a, _ in parts])).astype(object)
    return np.unique(np.concatenate([a for a, _ in parts]))


def save(fed: FederatedProfile, folder: Path) -> Path:
    """Write ``federated.json`` then the profile (``profile.json`` last) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    groups = {c: {"text": lev.dtype == object, "dtype": "object" if lev.dtype == object else str(lev.dtype), "levels": lev.tolist()}
              for c, lev in fed.groups.items()}
    write_json(folder / FILE, {"schema_version": 1, "sites": fed.sites, "sensitive": fed.sensitive, "groups": groups,
                               "profile_id": fed.profile.profile_id})
    fed.profile.save(folder)
    return folder


def load(folder: Path) -> FederatedProfile:
    """Read what :func:`save` wrote; :class:`DataError` naming the missing file."""
    import numpy as np


    _profile_store.require_files(folder)
    meta = read_json(folder / FILE)
    profile = drift.ReferenceProfile.load(folder)
    if meta.get("profile_id") != profile.profile_id:
        raise DataError(f"{folder}: {FILE} belongs to profile {meta.get('profile_id')}, not {profile.profile_id}. Fix: train the federated model again.")
    groups = {c: np.array(g["levels"], dtype=object if g["text"] else g["dtype"]) for c, g in meta["groups"].items()}
    return FederatedProfile(profile, list(meta["sensitive"]), groups, list(meta["sites"]))


def for_version(config: Config, mv: Any, *, mode: str, bins: int | None = None) -> FederatedProfile:
    """The stored profile of a version trained across sites; sketch mode only (:class:`ParameterError` naming the fix otherwise)."""
    from filelock import FileLock

    where = _profile_store.check_mode(config, mv, mode)
    with FileLock(str(where.parent / ".lock")):
        fed = load(where)
    if bins is not None and bins != fed.profile.bins:
        sites = ", ".join(fed.sites)
        raise ParameterError(f"model {config.project!r} v{mv.version} was trained across sites ({sites}): its profile has {fed.profile.bins} "
                             f"bins per numeric column, computed by the sites at training, and {bins} cannot be rebuilt without a reference "
                             "file. Fix: leave bins unset.")
    return fed
