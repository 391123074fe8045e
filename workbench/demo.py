"""Seeded, deterministic generator of the demo customer-churn dataset.

The demo is one reference (training) file and one production batch per month::

    <out_dir>/reference.<fmt>          rows dated 2025-07-01 .. 2025-12-31
    <out_dir>/batches/2026-01.<fmt>    rows dated within 2026-01
    ...
    <out_dir>/batches/2026-08.<fmt>    rows dated within 2026-08

Every file is a pure function of ``(seed, month, n, first id)``: its random generator is
``numpy.random.default_rng([seed, YYYYMM])`` (``[seed, 0]`` for the reference), so files are
identical across runs (same bytes for CSV, same content for Parquet) and independent of one
another.

Columns
-------
``customer_id``  str, ``"C0000001"`` ..., unique across the whole demo (reference first,
then the batches in month order). ``snapshot_date`` datetime64 (midnight) inside its month.
Numeric features: ``tenure_months`` (int, 1..72), ``monthly_charges`` (float, >= 15),
``total_charges`` (float, ~ tenure x monthly x N(1, 0.04), ~1% NaN), ``support_calls``
(int), ``num_products`` (int, 1..5), ``avg_session_minutes`` (float). Categorical
features (str): ``contract``, ``payment_method``, ``internet_service``, ``region``.
Sensitive attributes (str): ``gender``, ``age_band``. Label: ``churned`` (int 0/1,
about 26% in the reference). Levels are listed in :data:`CATEGORIES`.

Features are correlated: contract drives tenure; internet service and products drive
charges; age drives internet service, support calls and session time.

The label is Bernoulli(sigmoid(logit)) with the *reference relation*::

    logit = -1.0 + contract {month-to-month: +0.9, one-year: -0.3, two-year: -1.2}
            - 0.035 (tenure_months - 24) + 0.025 (monthly_charges - 65)
            + 0.40 (support_calls - 1.5) + 0.45 [payment_method == electronic_check]
            + internet {fiber: +0.3, none: -0.4} - 0.25 (num_products - 2)
            - 0.02 (avg_session_minutes - 30)

Gender and region have no effect on the label; age only acts through the features.

Planted scenarios (see :data:`SCENARIOS`; later tests refer to them by name)
---------------------------------------------------------------------------
1. ``no_drift`` -- 2026-01 and 2026-02 are drawn from exactly the reference
   distribution with the reference relation: no data, concept or bias drift.
2. ``data_drift`` -- gradual covariate drift from 2026-03 on. With ``k`` = months since
   2026-03 plus one (2026-03: 1, 2026-04: 2, ...): the mean of ``monthly_charges`` rises by
   ``0.25 k`` reference standard deviations (``0.25 k x 20.0``; the shift also carries into
   ``total_charges``), and the share of ``contract == month-to-month`` rises by ``0.05 k``
   from 0.45 (the other two contracts keep their ratio), which shortens tenure. Labels
   still follow the reference relation given the features, so the churn rate rises.
3. ``concept_drift`` -- abrupt, from 2026-05 on (persisting): the contract effect reverses
   (month-to-month: -0.9, one-year: +0.3, two-year: +1.2), ``support_calls`` stops mattering
   (coefficient 0) and price sensitivity rises from 0.025 to 0.07 per currency unit; the
   other terms and the intercept are unchanged. Feature distributions follow only the
   ongoing gradual drift. A model trained on the reference loses about 0.2 ROC AUC on
   2026-05 against 2026-04.
4. ``bias_shift`` -- from 2026-07 on (persisting): customers with ``age_band == "60+"`` get
   +2.0 on the logit, not explained by any feature. A reference-trained model's true
   positive rate for that group drops well below the other groups' (before 2026-07 it is
   in line with them).

Each gender x age_band intersection has well over 50 rows in a 2,000-row batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from workbench._io import atomic_path

__all__ = [
    "CATEGORIES",
    "COLUMNS",
    "DEFAULT_SEED",
    "FORMATS",
    "REFERENCE_MONTHS",
    "SCENARIOS",
    "DemoFiles",
    "batch_months",
    "ensure_demo",
    "generate",
    "make_frame",
    "scenario_state",
]

DEFAULT_SEED = 20261126
FORMATS = ("parquet", "csv")
FIRST_BATCH_MONTH = "2026-01"
REFERENCE_MONTHS = ("2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12")

CATEGORIES: dict[str, tuple[str, ...]] = {
    "contract": ("month-to-month", "one-year", "two-year"),
    "payment_method": ("electronic_check", "mailed_check", "bank_transfer", "credit_card"),
    "internet_service": ("DSL", "fiber", "none"),
    "region": ("north", "south", "east", "west", "central"),
    "gender": ("female", "male"),
    "age_band": ("18-29", "30-44", "45-59", "60+"),
}
NUMERIC = ("tenure_months", "monthly_charges", "total_charges", "support_calls",
           "num_products", "avg_session_minutes")
COLUMNS = ("customer_id", "snapshot_date", *NUMERIC, "contract", "payment_method",
           "internet_service", "region", "gender", "age_band", "churned")

MONTHLY_CHARGES_SD = 20.0  # reference standard deviation of monthly_charges (measured)

SCENARIOS: dict[str, dict] = {
    "no_drift": {"months": ["2026-01", "2026-02"]},
    "data_drift": {
        "start": "2026-03",
        "columns": ["monthly_charges", "contract"],
        "monthly_charges_sd_per_month": 0.25,
        "month_to_month_share_per_month": 0.05,
    },
    "concept_drift": {
        "month": "2026-05",
        "changes": {
            "contract": "effect reversed",
            "support_calls": "coefficient 0.40 -> 0",
            "monthly_charges": "coefficient 0.025 -> 0.07",
        },
    },
    "bias_shift": {"month": "2026-07", "column": "age_band", "group": "60+", "logit_uplift": 2.0},
}

_AGE_P = (0.22, 0.30, 0.26, 0.22)
_REGION_P = (0.24, 0.22, 0.20, 0.18, 0.16)
# Per age band: month-to-month share, internet (DSL, fiber, none) mix, and additive
# tenure / session-minutes / support-call-rate offsets. Older customers are more loyal.
_AGE_PROFILE = {
    "18-29": {"m2m": 0.55, "internet": (0.30, 0.55, 0.15), "tenure": 0.0, "session": 6.0, "support": 0.0},
    "30-44": {"m2m": 0.47, "internet": (0.33, 0.52, 0.15), "tenure": 2.0, "session": 2.0, "support": 0.0},
    "45-59": {"m2m": 0.42, "internet": (0.36, 0.44, 0.20), "tenure": 4.0, "session": 0.0, "support": 0.1},
    "60+": {"m2m": 0.30, "internet": (0.40, 0.25, 0.35), "tenure": 8.0, "session": -4.0, "support": 0.3},
}
_ONE_YEAR_OF_REST = 0.55  # one-year share of the non-month-to-month contracts
_TENURE_MEAN = {"month-to-month": 12.0, "one-year": 30.0, "two-year": 46.0}
_CHARGE_BASE = {"DSL": 50.0, "fiber": 78.0, "none": 22.0}
_SESSION_MEAN = {"DSL": 28.0, "fiber": 36.0, "none": 10.0}
_PAYMENT_P = (0.33, 0.20, 0.23, 0.24)

_REFERENCE_RELATION = {
    "intercept": -1.0,
    "contract": {"month-to-month": 0.9, "one-year": -0.3, "two-year": -1.2},
    "tenure": -0.035,
    "charges": 0.025,
    "support": 0.40,
    "e_check": 0.45,
    "internet": {"DSL": 0.0, "fiber": 0.3, "none": -0.4},
    "products": -0.25,
    "session": -0.02,
}
_CONCEPT_RELATION = {
    **_REFERENCE_RELATION,
    "contract": {"month-to-month": -0.9, "one-year": 0.3, "two-year": 1.2},
    "support": 0.0,
    "charges": 0.07,
}


@dataclass(frozen=True)
class DemoFiles:
    """Paths of one generated demo: the reference file and the batches in month order."""

    reference: Path
    batches: list[Path] = field(default_factory=list)


def batch_months(months: int = 8) -> list[str]:
    """Return the batch month labels, ``["2026-01", "2026-02", ...]``, ``months`` long."""
    start = pd.Period(FIRST_BATCH_MONTH, "M")
    return [str(start + i) for i in range(months)]


def scenario_state(month: str | None) -> dict:
    """Describe which planted scenarios are active in a month.

    Parameters
    ----------
    month : str or None
        ``"YYYY-MM"`` of a batch, or None for the reference.

    Returns
    -------
    dict
        ``{"drift_steps": k, "concept_drift": bool, "bias_shift": bool}`` where ``k`` is
        0 before the data-drift start and 1, 2, ... from its first month on.
    """
    if month is None:
        return {"drift_steps": 0, "concept_drift": False, "bias_shift": False}
    period = pd.Period(month, "M")
    start = pd.Period(SCENARIOS["data_drift"]["start"], "M")
    return {
        "drift_steps": max(0, (period - start).n + 1),
        "concept_drift": period >= pd.Period(SCENARIOS["concept_drift"]["month"], "M"),
        "bias_shift": period >= pd.Period(SCENARIOS["bias_shift"]["month"], "M"),
    }


def make_frame(n: int, *, month: str | None = None, seed: int = DEFAULT_SEED,
               first_id: int = 1) -> pd.DataFrame:
    """Draw ``n`` demo customers for one month (or the reference when ``month`` is None).

    Parameters
    ----------
    n : int
        Number of rows.
    month : str or None, default None
        ``"YYYY-MM"`` of a production batch; None draws the reference (2025-07..2025-12).
    seed : int, default DEFAULT_SEED
        Demo seed; the generator is ``default_rng([seed, YYYYMM])`` (``[seed, 0]`` for None).
    first_id : int, default 1
        Number of the first ``customer_id``; ids run consecutively in date order.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`COLUMNS`, sorted by ``snapshot_date``.
    """
    rng = np.random.default_rng([seed, 0 if month is None else int(month.replace("-", ""))])
    state = scenario_state(month)
    df = _demographics(rng, n)
    _add_services(df, rng, state["drift_steps"])
    _add_usage(df, rng, state["drift_steps"])
    df["churned"] = _draw_label(df, rng, state)
    df.insert(0, "snapshot_date", _dates(rng, n, month))
    df = df.sort_values("snapshot_date", kind="stable", ignore_index=True)
    df.insert(0, "customer_id", [f"C{i:07d}" for i in range(first_id, first_id + n)])
    return df[list(COLUMNS)]


def _dates(rng: np.random.Generator, n: int, month: str | None) -> pd.Series:
    """Uniform dates inside ``month``, or inside the six reference months."""
    months = REFERENCE_MONTHS if month is None else (month,)
    periods = [pd.Period(m, "M") for m in months]
    which = rng.integers(0, len(periods), n)
    starts = np.array([p.start_time for p in periods], dtype="datetime64[ns]")[which]
    days = np.array([p.days_in_month for p in periods])[which]
    offsets = np.floor(rng.random(n) * days).astype("int64")
    return pd.Series(starts + offsets.astype("timedelta64[D]"), name="snapshot_date")


def _demographics(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Gender, age band and region, independent of each other."""
    return pd.DataFrame({
        "gender": rng.choice(CATEGORIES["gender"], n).astype(object),
        "age_band": rng.choice(CATEGORIES["age_band"], n, p=_AGE_P).astype(object),
        "region": rng.choice(CATEGORIES["region"], n, p=_REGION_P).astype(object),
    })


def _pick(rng: np.random.Generator, levels: tuple[str, ...], p: np.ndarray) -> np.ndarray:
    """Draw one level per row from row-wise probabilities ``p`` (rows x levels)."""
    idx = (rng.random(len(p))[:, None] > np.cumsum(p, axis=1)[:, :-1]).sum(axis=1)
    return np.asarray(levels, dtype=object)[idx]


def _profile(df: pd.DataFrame, key: str) -> np.ndarray:
    """Per-row value of ``_AGE_PROFILE[age_band][key]``."""
    return np.array([_AGE_PROFILE[band][key] for band in df["age_band"]])


def _contract_p(df: pd.DataFrame, drift_steps: int) -> np.ndarray:
    """Row-wise contract mix; month-to-month gains a share per drift step, the rest keep their ratio."""
    step = SCENARIOS["data_drift"]["month_to_month_share_per_month"]
    m2m = np.minimum(_profile(df, "m2m") + step * drift_steps, 0.95)
    rest = 1.0 - m2m
    return np.column_stack([m2m, _ONE_YEAR_OF_REST * rest, (1 - _ONE_YEAR_OF_REST) * rest])


def _add_services(df: pd.DataFrame, rng: np.random.Generator, drift_steps: int) -> None:
    """Contract, tenure, internet service, products and payment method."""
    n = len(df)
    df["contract"] = _pick(rng, CATEGORIES["contract"], _contract_p(df, drift_steps))
    mean = df["contract"].map(_TENURE_MEAN).to_numpy() + _profile(df, "tenure")
    df["tenure_months"] = np.clip(np.rint(rng.gamma(2.0, mean / 2.0)), 1, 72).astype("int64")
    internet_p = np.array([_AGE_PROFILE[band]["internet"] for band in df["age_band"]])
    df["internet_service"] = _pick(rng, CATEGORIES["internet_service"], internet_p)
    has_net = (df["internet_service"] != "none").to_numpy()
    df["num_products"] = np.minimum(1 + rng.poisson(0.7 + 0.6 * has_net), 5).astype("int64")
    df["payment_method"] = rng.choice(CATEGORIES["payment_method"], n, p=_PAYMENT_P).astype(object)


def _add_usage(df: pd.DataFrame, rng: np.random.Generator, drift_steps: int) -> None:
    """Charges, support calls and session minutes, from services and age."""
    n = len(df)
    shift = SCENARIOS["data_drift"]["monthly_charges_sd_per_month"] * drift_steps
    base = df["internet_service"].map(_CHARGE_BASE).to_numpy()
    charges = base + 9.0 * (df["num_products"].to_numpy() - 1) + rng.normal(0.0, 7.0, n)
    df["monthly_charges"] = np.round(np.maximum(charges + shift * MONTHLY_CHARGES_SD, 15.0), 2)
    total = df["tenure_months"] * df["monthly_charges"] * rng.normal(1.0, 0.04, n)
    df["total_charges"] = np.where(rng.random(n) < 0.01, np.nan, np.round(total, 2))
    fiber = (df["internet_service"] == "fiber").to_numpy()
    m2m = (df["contract"] == "month-to-month").to_numpy()
    rate = 0.8 + 0.6 * fiber + 0.4 * m2m + _profile(df, "support")
    df["support_calls"] = rng.poisson(rate).astype("int64")
    mean = df["internet_service"].map(_SESSION_MEAN).to_numpy() + _profile(df, "session")
    df["avg_session_minutes"] = np.round(rng.gamma(4.0, np.maximum(mean, 4.0) / 4.0), 1)


def _logit(df: pd.DataFrame, relation: dict) -> np.ndarray:
    """Churn log-odds of each row under ``relation``."""
    r = relation
    return (r["intercept"] + df["contract"].map(r["contract"]).to_numpy()
            + r["tenure"] * (df["tenure_months"].to_numpy() - 24)
            + r["charges"] * (df["monthly_charges"].to_numpy() - 65)
            + r["support"] * (df["support_calls"].to_numpy() - 1.5)
            + r["e_check"] * (df["payment_method"] == "electronic_check").to_numpy()
            + df["internet_service"].map(r["internet"]).to_numpy()
            + r["products"] * (df["num_products"].to_numpy() - 2)
            + r["session"] * (df["avg_session_minutes"].to_numpy() - 30))


def _draw_label(df: pd.DataFrame, rng: np.random.Generator, state: dict) -> np.ndarray:
    """Bernoulli churn label from the relation (and uplift) active in the month."""
    logit = _logit(df, _CONCEPT_RELATION if state["concept_drift"] else _REFERENCE_RELATION)
    if state["bias_shift"]:
        bias = SCENARIOS["bias_shift"]
        logit = logit + bias["logit_uplift"] * (df[bias["column"]] == bias["group"]).to_numpy()
    return (rng.random(len(df)) < 1.0 / (1.0 + np.exp(-logit))).astype("int64")


def generate(out_dir: str | os.PathLike[str], *, seed: int = DEFAULT_SEED,
             n_reference: int = 8000, n_batch: int = 2000, months: int = 8,
             fmt: str = "parquet") -> DemoFiles:
    """Write the demo reference and monthly batches under ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Folder to write ``reference.<fmt>`` and ``batches/YYYY-MM.<fmt>`` into.
    seed : int, default DEFAULT_SEED
        Demo seed; the same seed gives the same files.
    n_reference, n_batch : int, default 8000, 2000
        Rows in the reference file and in each batch.
    months : int, default 8
        Number of monthly batches, from 2026-01 on.
    fmt : {"parquet", "csv"}, default "parquet"
        File format.

    Returns
    -------
    DemoFiles
        The written paths, batches in month order.

    Raises
    ------
    ValueError
        If ``fmt`` is not one of :data:`FORMATS`.
    """
    _check_format(fmt)
    out = Path(out_dir)
    reference = _write_reference(out / f"reference.{fmt}", seed, n_reference)
    batches = _write_batches(out / "batches", fmt, seed, n_reference, n_batch, months)
    return DemoFiles(reference=reference, batches=batches)


def ensure_demo(reference: str | os.PathLike[str], batches: str | os.PathLike[str], *,
                seed: int = DEFAULT_SEED) -> bool:
    """Generate the demo into ``reference`` and ``batches`` when either is missing.

    The reference file's suffix (``.parquet`` or ``.csv``) decides the format of both.
    Only what is missing is written (nothing existing is overwritten); the demo is
    deterministic, so the parts agree. A lock file beside the reference makes
    concurrent calls safe: one process generates, the others wait and find the files.

    Parameters
    ----------
    reference : path-like
        The reference file, e.g. ``data/demo/reference.parquet``.
    batches : path-like
        The batches folder; it counts as missing when absent or without a file of
        the reference's format.
    seed : int, default DEFAULT_SEED
        Demo seed.

    Returns
    -------
    bool
        True if anything was generated, False if both already existed.

    Raises
    ------
    ValueError
        If the reference's suffix is not one of :data:`FORMATS`.
    """
    from filelock import FileLock

    reference, batches = Path(reference), Path(batches)
    fmt = reference.suffix.lstrip(".").lower()
    _check_format(fmt, what=f"format of {str(reference)!r} (its suffix)")
    reference.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(reference.parent / f".{reference.name}.lock"):
        need_reference = not reference.exists()
        need_batches = not (batches.is_dir() and any(batches.glob(f"*.{fmt}")))
        if need_reference:
            _write_reference(reference, seed, 8000)
        if need_batches:
            _write_batches(batches, fmt, seed, 8000, 2000, 8)
    return need_reference or need_batches


def _check_format(fmt: str, what: str = "'fmt' parameter") -> None:
    """Refuse a file format other than parquet or csv."""
    if fmt not in FORMATS:
        raise ValueError(f"The {what} must be one of {list(FORMATS)}. Got {fmt!r} instead.")


def _write_reference(path: Path, seed: int, n: int) -> Path:
    """Write the reference frame to ``path`` (format from its suffix)."""
    _write(make_frame(n, month=None, seed=seed), path)
    return path


def _write_batches(folder: Path, fmt: str, seed: int, n_reference: int, n_batch: int,
                   months: int) -> list[Path]:
    """Write one batch per month into ``folder``; ids continue after the reference's."""
    paths = []
    for i, month in enumerate(batch_months(months)):
        frame = make_frame(n_batch, month=month, seed=seed, first_id=n_reference + 1 + i * n_batch)
        paths.append(_write(frame, folder / f"{month}.{fmt}"))
    return paths


def _write(df: pd.DataFrame, path: Path) -> Path:
    """Atomically write ``df`` as Parquet or CSV, chosen by the suffix of ``path``."""
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            df.to_csv(tmp, index=False, date_format="%Y-%m-%d", lineterminator="\n")
        else:
            df.to_parquet(tmp, index=False, engine="pyarrow")
    return path
