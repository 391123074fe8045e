"""Preprocessing without pooling: per-site summaries merged into one encoder spec every site encodes with.

Each site summarises its training rows (:func:`site_summary`): per numeric column the count of
values, their sum and their centred sum of squares (about the site's own mean: the same
information as a sum of squares, without its cancellation error); per categorical column its
levels and whether values are missing; the target's class counts (binary) or count, sum and
centred sum of squares (regression). :func:`merge` combines them exactly (Chan's parallel
formulas) into a spec, and :func:`preprocessor` turns the spec into the fitted scikit-learn
column transformer a pooled fit would give: numeric columns imputed with the pooled mean, then
standardised with the pooled mean and variance *after* imputation; categorical columns imputed
with ``"(missing)"`` and one-hot encoded over the union of levels. The transformer is the
registry's (:func:`workbench.registry.estimators.build_pipeline`) with mean instead of median
imputation, because a median cannot be merged from summaries.

What leaves a site here: counts, sums, centred sums of squares and the categorical levels it
holds (a level seen once at one site is still shared: drop rare levels before federating when
they identify someone).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from workbench.data import frames
from workbench.exceptions import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.data.dataset import Schema

MISSING_LEVEL = "(missing)"  # what the registry's pipeline imputes categorical gaps with


def site_summary(train: pd.DataFrame, schema: Schema, task: str) -> dict[str, Any]:
    """The aggregate statistics of one site's training rows (no row, no value of a row)."""
    x = frames.features(train, schema)
    numeric, levels, missing = {}, {}, {}
    for col in schema.features:
        values = x[col]
        if col in schema.numeric:
            observed = values.dropna().to_numpy(dtype=float)
            mean = float(observed.mean()) if len(observed) else 0.0
            numeric[col] = {"count": int(len(observed)), "mean": mean, "m2": float(((observed - mean) ** 2).sum())}
        else:
            levels[col] = sorted({str(v) for v in values.dropna()})
        missing[col] = bool(values.isna().any())
    y = frames.target(train, schema, task)
    if task == "binary":
        target: dict[str, Any] = {"classes": {str(k): int(v) for k, v in y.value_counts().sort_index().items()}}
    else:
        ys = y.to_numpy(dtype=float)
        target = {"count": int(len(ys)), "mean": float(ys.mean()), "m2": float(((ys - ys.mean()) ** 2).sum())}
    return {"schema": schema.to_dict(), "rows": int(len(train)), "numeric": numeric, "levels": levels, "missing": missing, "target": target}


def _pool(parts: list[dict[str, float]]) -> tuple[int, float, float]:
    """Count, mean and centred sum of squares of the union of the parts (Chan et al.)."""
    count = sum(p["count"] for p in parts)
    if count == 0:
        return 0, math.nan, math.nan
    mean = sum(p["count"] * p["mean"] for p in parts) / count
    m2 = sum(p["m2"] + p["count"] * (p["mean"] - mean) ** 2 for p in parts)
    return count, mean, m2


def merge(summaries: dict[str, dict[str, Any]], task: str) -> dict[str, Any]:
    """One encoder spec from every site's :func:`site_summary`; DataError when the sites disagree on the columns."""
    first_site, first = next(iter(summaries.items()))
    keys = ("features", "numeric", "categorical", "target")
    for site, summary in summaries.items():
        for key in keys:
            mine, theirs = summary["schema"][key], first["schema"][key]
            if mine != theirs:
                raise DataError(f"site {site!r} and site {first_site!r} disagree on data.{key}: {_difference(key, site, mine, first_site, theirs)}. "
                                f"Fix: give every site file the same columns and types, or declare data.{key} in the config.")
    schema = dict(first["schema"])
    rows = sum(s["rows"] for s in summaries.values())
    mean, var = {}, {}
    for col in (c for c in schema["features"] if c in schema["numeric"]):
        count, m, m2 = _pool([s["numeric"][col] for s in summaries.values()])
        if count == 0:
            raise DataError(f"numeric column {col!r} has no value at any site. Fix: drop it from the features (data.features).")
        mean[col] = m
        var[col] = m2 / rows  # mean imputation adds (rows - count) values at the mean: they add rows, not squares
    levels = {col: sorted(set().union(*(s["levels"][col] for s in summaries.values())))
              for col in schema["features"] if col not in schema["numeric"]}
    missing = {col: any(s["missing"][col] for s in summaries.values()) for col in schema["features"]}
    spec: dict[str, Any] = {"task": task, "schema": schema, "rows": rows, "mean": mean, "var": var, "levels": levels, "missing": missing}
    if task == "binary":
        classes: dict[str, int] = {}
        for s in summaries.values():
            for k, n in s["target"]["classes"].items():
                classes[k] = classes.get(k, 0) + n
        spec["classes"] = classes
        spec["positive_share"] = classes.get("1", 0) / rows
    else:
        count, m, m2 = _pool([s["target"] for s in summaries.values()])
        spec["target_mean"], spec["target_var"] = m, m2 / count
    return spec


def _difference(key: str, site: str, mine: Any, other_site: str, theirs: Any) -> str:
    """What two sites' schema entries ``key`` differ in, by column (two lists of 60 columns are unreadable side by side)."""
    if not (isinstance(mine, list) and isinstance(theirs, list)):
        return f"{mine!r} at site {site!r}, {theirs!r} at site {other_site!r}"
    only_mine, only_theirs = [c for c in mine if c not in theirs], [c for c in theirs if c not in mine]
    what = "numeric" if key == "numeric" else ("categorical" if key == "categorical" else "features")
    parts = [f"{what} only at site {s!r}: {', '.join(map(str, cols[:20]))}{' …' if len(cols) > 20 else ''}"
             for s, cols in ((site, only_mine), (other_site, only_theirs)) if cols]
    return "; ".join(parts) or f"the same columns in another order ({', '.join(map(str, mine[:20]))} vs {', '.join(map(str, theirs[:20]))})"


def numeric_features(spec: dict[str, Any]) -> list[str]:
    """The numeric model inputs, in feature order."""
    return [c for c in spec["schema"]["features"] if c in spec["schema"]["numeric"]]


def categorical_features(spec: dict[str, Any]) -> list[str]:
    """The categorical model inputs, in feature order."""
    return [c for c in spec["schema"]["features"] if c not in spec["schema"]["numeric"]]


def example(spec: dict[str, Any], rows: int | None = None) -> pd.DataFrame:
    """A frame built from the spec alone (means and levels, no site's row): fits the encoder, and is the logged input example.

    Each categorical column cycles through its levels (and a gap where a site had one), so the
    one-hot encoder sees exactly the pooled levels.
    """
    import numpy as np
    import pandas as pd

    cats = categorical_features(spec)
    cycles = {c: list(spec["levels"][c]) + ([np.nan] if spec["missing"][c] else []) for c in cats}
    n = rows or max([1, *(len(v) for v in cycles.values())])
    out: dict[str, Any] = {}
    for col in spec["schema"]["features"]:
        if col in cycles:
            values = cycles[col] or [np.nan]
            out[col] = pd.Series([values[i % len(values)] for i in range(n)], dtype=object)
        else:
            out[col] = pd.Series([spec["mean"][col]] * n, dtype=float)
    return pd.DataFrame(out)


def unfitted(spec: dict[str, Any]) -> Any:
    """The column transformer the spec describes, not fitted (the registry's, with mean imputation)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return ColumnTransformer(
        [("num", Pipeline([("impute", SimpleImputer(strategy="mean")), ("scale", StandardScaler())]), numeric_features(spec)),
         ("cat", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value=MISSING_LEVEL)),
                           ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]), categorical_features(spec))],
        remainder="drop",
        verbose_feature_names_out=False,
    )


def preprocessor(spec: dict[str, Any]) -> Any:
    """The fitted column transformer of the spec: equal to one fitted on the pooled training rows."""
    import numpy as np

    numeric = numeric_features(spec)
    pre = unfitted(spec)
    pre.fit(example(spec))  # the structure and the levels; the statistics are set from the spec below
    if numeric:
        means = np.array([spec["mean"][c] for c in numeric], dtype=float)
        var = np.array([spec["var"][c] for c in numeric], dtype=float)
        steps = pre.named_transformers_["num"]
        steps["impute"].statistics_ = means
        scaler = steps["scale"]
        scaler.mean_, scaler.var_ = means, var
        eps, n = np.finfo(np.float64).eps, float(spec["rows"])
        constant = var <= n * eps * var + (n * means * eps) ** 2  # StandardScaler's test for a constant column (scale 1)
        scaler.scale_ = np.where(constant, 1.0, np.sqrt(var))
        scaler.n_samples_seen_ = np.int64(spec["rows"])
    return pre

