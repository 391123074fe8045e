"""Building the demo frames: constants, scenario state, and the seeded draws of each column.

Part of :mod:`workbench.data.demo` (see its docstring for the data and the planted scenarios).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

DEFAULT_SEED = 20261126
N_REFERENCE, N_BATCH, MONTHS = 8000, 2000, 8
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

MONTHLY_CHARGES_SD = 25.9  # population sd of monthly_charges in the reference (measured)

SCENARIOS: dict[str, dict] = {
    "no_drift": {"months": ["2026-01", "2026-02"]},
    "data_drift": {"start": "2026-03", "columns": ["monthly_charges", "contract"],
                   "monthly_charges_sd_per_month": 0.25, "month_to_month_share_per_month": 0.02},
    "concept_drift": {
        "month": "2026-05",
        "changes": {
            "tenure_months": "coefficient -0.04 -> 0 and new-customer step 2.0 -> 0 (tenure stops mattering)",
            "contract": "two-year effect -1.8 -> +0.2 (two-year no longer protects)",
            "support_calls": "step at 4+ calls 2.0 -> 0",
            "internet_service x contract": "fiber x month-to-month interaction 1.5 -> 0",
        },
    },
    "bias_shift": {"month": "2026-07", "column": "age_band", "group": "60+", "logit_uplift": 4.5,
                   "only_contracts": ["one-year", "two-year"]},
}

_AGE_P, _REGION_P = (0.22, 0.30, 0.26, 0.22), (0.24, 0.22, 0.20, 0.18, 0.16)
_CONTRACT_P = (0.45, 0.30, 0.25)  # reference mix; drift moves share into month-to-month
# Per age band: internet (DSL, fiber, none) mix and additive tenure / session-minutes offsets.
_AGE_PROFILE = {
    "18-29": {"internet": (0.33, 0.50, 0.17), "tenure": -2.0, "session": 3.0},
    "30-44": {"internet": (0.34, 0.48, 0.18), "tenure": 0.0, "session": 1.0},
    "45-59": {"internet": (0.35, 0.44, 0.21), "tenure": 1.0, "session": -1.0},
    "60+": {"internet": (0.38, 0.38, 0.24), "tenure": 2.0, "session": -3.0},
}
_TENURE_MEAN = {"month-to-month": 12.0, "one-year": 30.0, "two-year": 46.0}
_CHARGE_BASE = {"DSL": 50.0, "fiber": 78.0, "none": 22.0}
_SESSION_MEAN = {"DSL": 28.0, "fiber": 36.0, "none": 10.0}
_PAYMENT_P = (0.33, 0.20, 0.23, 0.24)

_REFERENCE_RELATION = {
    "intercept": -2.9, "tenure": -0.04, "support": 0.2, "e_check": 0.9, "products": -0.5,
    "session": -0.03, "internet": {"DSL": 0.0, "fiber": 0.6, "none": -0.8},
    "new_customer": 2.0, "support_step": 2.0, "fiber_m2m": 1.5, "session_u": 0.004,
    "contract": {"month-to-month": 1.4, "one-year": -0.4, "two-year": -1.8},
}
_CONCEPT_RELATION = {
    **_REFERENCE_RELATION,
    "contract": {"month-to-month": 1.4, "one-year": -0.4, "two-year": 0.2},
    "tenure": 0.0,
    "new_customer": 0.0,
    "support_step": 0.0,
    "fiber_m2m": 0.0,
}


def batch_months(months: int = MONTHS) -> list[str]:
    """Return the batch month labels, ``["2026-01", "2026-02", ...]``, ``months`` long."""
    import pandas as pd

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
    import pandas as pd

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
    import numpy as np

    rng = np.random.default_rng([seed, _month_key(month)])
    state = scenario_state(month)
    df = _demographics(rng, n)
    _add_services(df, rng, state["drift_steps"])
    _add_usage(df, rng, state["drift_steps"])
    df["churned"] = _draw_label(df, rng, state)
    df.insert(0, "snapshot_date", _dates(rng, n, month))
    df = df.sort_values("snapshot_date", kind="stable", ignore_index=True)
    df.insert(0, "customer_id", [f"C{i:07d}" for i in range(first_id, first_id + n)])
    return df[list(COLUMNS)]


def _month_key(month: str | None) -> int:
    """``YYYYMM`` as an int (0 for the reference): the per-file part of the seed."""
    import pandas as pd

    return 0 if month is None else int(pd.Period(month, "M").strftime("%Y%m"))


def _dates(rng: np.random.Generator, n: int, month: str | None) -> pd.Series:
    """Uniform dates inside ``month``, or inside the six reference months."""
    import numpy as np
    import pandas as pd

    months = REFERENCE_MONTHS if month is None else (month,)
    periods = [pd.Period(m, "M") for m in months]
    which = rng.integers(0, len(periods), n)
    starts = np.array([p.start_time for p in periods], dtype="datetime64[ns]")[which]
    days = np.array([p.days_in_month for p in periods])[which]
    offsets = np.floor(rng.random(n) * days).astype("int64")
    return pd.Series(starts + offsets.astype("timedelta64[D]"), name="snapshot_date")


def _demographics(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Gender, age band and region, independent of each other."""
    import pandas as pd

    return pd.DataFrame({
        "gender": rng.choice(CATEGORIES["gender"], n).astype(object),
        "age_band": rng.choice(CATEGORIES["age_band"], n, p=_AGE_P).astype(object),
        "region": rng.choice(CATEGORIES["region"], n, p=_REGION_P).astype(object),
    })


def _pick(rng: np.random.Generator, levels: tuple[str, ...], p: np.ndarray) -> np.ndarray:
    """Draw one level per row from row-wise probabilities ``p`` (rows x levels)."""
    import numpy as np

    idx = (rng.random(len(p))[:, None] > np.cumsum(p, axis=1)[:, :-1]).sum(axis=1)
    return np.asarray(levels, dtype=object)[idx]


def _by_age(df: pd.DataFrame, key: str) -> np.ndarray:
    """Per-row value of ``_AGE_PROFILE[age_band][key]``."""
    import numpy as np

    return np.array([_AGE_PROFILE[band][key] for band in df["age_band"]])


def _contract_p(drift_steps: int) -> list[float]:
    """Contract mix; month-to-month gains a share per drift step, the others keep their ratio."""
    import numpy as np

    step = SCENARIOS["data_drift"]["month_to_month_share_per_month"]
    m2m = min(_CONTRACT_P[0] + step * drift_steps, 0.95)
    rest = np.array(_CONTRACT_P[1:]) / sum(_CONTRACT_P[1:]) * (1.0 - m2m)
    return [m2m, *rest]


def _add_services(df: pd.DataFrame, rng: np.random.Generator, drift_steps: int) -> None:
    """Contract, tenure, internet service, products and payment method."""
    import numpy as np

    n, contract_p = len(df), _contract_p(drift_steps)
    df["contract"] = rng.choice(CATEGORIES["contract"], n, p=contract_p).astype(object)
    mean = df["contract"].map(_TENURE_MEAN).to_numpy() + _by_age(df, "tenure")
    df["tenure_months"] = np.clip(np.rint(rng.gamma(2.0, mean / 2.0)), 1, 72).astype("int64")
    internet_p = np.array([_AGE_PROFILE[band]["internet"] for band in df["age_band"]])
    df["internet_service"] = _pick(rng, CATEGORIES["internet_service"], internet_p)
    has_net = (df["internet_service"] != "none").to_numpy()
    df["num_products"] = np.minimum(1 + rng.poisson(0.7 + 0.6 * has_net), 5).astype("int64")
    df["payment_method"] = rng.choice(CATEGORIES["payment_method"], n, p=_PAYMENT_P).astype(object)


def _add_usage(df: pd.DataFrame, rng: np.random.Generator, drift_steps: int) -> None:
    """Charges, support calls and session minutes, from services and age."""
    import numpy as np

    n = len(df)
    shift = SCENARIOS["data_drift"]["monthly_charges_sd_per_month"] * drift_steps
    base = df["internet_service"].map(_CHARGE_BASE).to_numpy()
    charges = base + 9.0 * (df["num_products"].to_numpy() - 1) + rng.normal(0.0, 7.0, n)
    df["monthly_charges"] = np.round(np.maximum(charges + shift * MONTHLY_CHARGES_SD, 15.0), 2)
    total = df["tenure_months"] * df["monthly_charges"] * rng.normal(1.0, 0.04, n)
    df["total_charges"] = np.where(rng.random(n) < 0.01, np.nan, np.round(total, 2))
    fiber = (df["internet_service"] == "fiber").to_numpy()
    m2m = (df["contract"] == "month-to-month").to_numpy()
    df["support_calls"] = rng.poisson(0.8 + 0.6 * fiber + 0.4 * m2m).astype("int64")
    mean = df["internet_service"].map(_SESSION_MEAN).to_numpy() + _by_age(df, "session")
    df["avg_session_minutes"] = np.round(rng.gamma(4.0, np.maximum(mean, 4.0) / 4.0), 1)


def _logit(df: pd.DataFrame, relation: dict) -> np.ndarray:
    """Churn log-odds of each row under ``relation``."""
    r = relation
    return (r["intercept"] + df["contract"].map(r["contract"]).to_numpy()
            + r["tenure"] * (df["tenure_months"].to_numpy() - 24)
            + r["support"] * (df["support_calls"].to_numpy() - 1.5)
            + r["e_check"] * (df["payment_method"] == "electronic_check").to_numpy()
            + df["internet_service"].map(r["internet"]).to_numpy()
            + r["products"] * (df["num_products"].to_numpy() - 2)
            + r["session"] * (df["avg_session_minutes"].to_numpy() - 30)
            + _nonlinear(df, r))


def _nonlinear(df: pd.DataFrame, r: dict) -> np.ndarray:
    """Steps and an interaction a linear model cannot fit, so boosting beats the baseline."""
    tenure, calls = df["tenure_months"].to_numpy(), df["support_calls"].to_numpy()
    fiber_m2m = (df["internet_service"] == "fiber").to_numpy() & (df["contract"] == "month-to-month").to_numpy()
    return (r["new_customer"] * (tenure < 4) + r["support_step"] * ((calls >= 4) - 0.1)
            + r["fiber_m2m"] * (fiber_m2m - 0.2)
            + r["session_u"] * ((df["avg_session_minutes"].to_numpy() - 30) ** 2 - 150))


def _draw_label(df: pd.DataFrame, rng: np.random.Generator, state: dict) -> np.ndarray:
    """Bernoulli churn label from the relation (and uplift) active in the month."""
    import numpy as np

    logit = _logit(df, _CONCEPT_RELATION if state["concept_drift"] else _REFERENCE_RELATION)
    if state["bias_shift"]:
        bias = SCENARIOS["bias_shift"]
        hit = (df[bias["column"]] == bias["group"]).to_numpy() & df["contract"].isin(bias["only_contracts"]).to_numpy()
        logit = logit + bias["logit_uplift"] * hit
    return (rng.random(len(df)) < 1.0 / (1.0 + np.exp(-logit))).astype("int64")
