"""Business KPIs: the ``kpis:`` config section and their values on a labelled batch.

A KPI is a formula over a batch's outcomes. For a binary task the outcomes are the cells of
the confusion matrix at the KPI's decision threshold (``tp``, ``fp``, ``tn``, ``fn`` and their
sums); for regression, error sums (``mae``, ``rmse``, ``wape``, ``mape``, ``bias`` ...). Named
constants (``values:``, e.g. a contact cost or a campaign's save rate) turn them into money or
customers. The demo's KPIs::

    churn_reduction          save_rate * tp / actual_positive               (higher is better)
    cost_per_saved_customer  contact_cost * predicted_positive / (save_rate * tp)   (lower)
    forecast_accuracy        1 - wape                                        (regression only)

Each KPI has a ``target``, a ``direction`` and a ``baseline``: ``model`` (the default) computes
it from the registered ``baseline`` model on the same batch, a number is taken as given. The
``gap`` is signed so that a positive gap always means "still to go" (``target - current`` when
higher is better, ``current - target`` when lower is better). Intervals come from a seeded
percentile bootstrap over the batch's rows.

The ``kpis:`` section's shape is validated with the config (:class:`workbench.config.KpiConfig`);
its formulas are parsed here, as a pre-flight check (:func:`check`) that runs before anything
executes, and evaluated with ``simpleeval`` (no ``eval``). Pure: KPI specs and outcomes in, numbers out.
"""

from __future__ import annotations

import ast
import math
from typing import TYPE_CHECKING, Any, Protocol

from workbench.exceptions import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd


class Kpi(Protocol):
    """What a KPI spec provides (the config's ``kpis:`` entries, :class:`workbench.config.KpiConfig`)."""

    name: str
    label: str
    unit: str
    formula: str
    direction: str
    target: float
    baseline: float | str
    values: dict[str, float]
    threshold: float
    task: str | None

# Outcome variables a formula may use, per task (documented in the README's KPI section).
VARIABLES: dict[str, tuple[str, ...]] = {
    "binary": ("n", "tp", "fp", "tn", "fn", "actual_positive", "actual_negative", "predicted_positive", "predicted_negative"),
    "regression": ("n", "mae", "rmse", "wape", "mape", "bias", "actual_sum", "actual_mean", "predicted_sum", "abs_error_sum"),
}
FUNCTIONS = ("abs", "min", "max", "sqrt", "log", "exp")
_ALLOWED_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Constant, ast.Call, ast.IfExp, ast.Compare,
                  ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
COLUMNS = ["kpi", "label", "unit", "direction", "baseline", "baseline_source", "target", "current", "gap", "ci_low", "ci_high",
           "improvement", "on_target", "rows", "model_version", "model_semver", "model_role", "batch"]


def formula_names(formula: str) -> set[str]:
    """The names a formula reads; ValueError for invalid syntax or anything beyond arithmetic."""
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"formula {formula!r} is not a valid expression ({exc.msg})") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ValueError(f"formula {formula!r}: {type(node).__name__.lower()} is not allowed (use arithmetic, comparisons and {', '.join(FUNCTIONS)})")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
            raise ValueError(f"formula {formula!r}: only the functions {', '.join(FUNCTIONS)} may be called")
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def inferred_task(kpi: Kpi) -> str | None:
    """The task whose outcome variables the formula uses (None when it uses only shared ones like ``n``)."""
    names = formula_names(kpi.formula) - set(kpi.values)
    only_binary = names & (set(VARIABLES["binary"]) - set(VARIABLES["regression"]))
    only_regression = names & (set(VARIABLES["regression"]) - set(VARIABLES["binary"]))
    if only_binary and only_regression:
        raise ValueError(f"KPI {kpi.name!r}: formula mixes binary ({', '.join(sorted(only_binary))}) and regression "
                         f"({', '.join(sorted(only_regression))}) outcome variables")
    return "binary" if only_binary else "regression" if only_regression else None


def applies_to(kpi: Kpi, task: str) -> bool:
    """True when the KPI is meant for (and computable on) a model of this task."""
    return (kpi.task or inferred_task(kpi)) in (task, None)


def problems(kpis: list[Kpi], task: str) -> list[str]:
    """Every problem of the ``kpis:`` section for a model of ``task``, each naming its key (empty when all is well)."""
    found = []
    for i, kpi in enumerate(kpis):
        try:
            formula_names(kpi.formula)
        except ValueError as exc:
            found.append(f"key 'kpis.{i}.formula': {exc}.")
            continue
        try:
            _check(kpi, task)
        except ValueError as exc:
            found.append(f"key 'kpis.{i}': {exc}.")
    return found


def _check(kpi: Kpi, task: str) -> None:
    known = set(kpi.values) | set(FUNCTIONS) | set(VARIABLES["binary"]) | set(VARIABLES["regression"])
    unknown = sorted(formula_names(kpi.formula) - known)
    if unknown:
        raise ValueError(f"KPI {kpi.name!r}: formula uses unknown name(s) {', '.join(unknown)}; define them under 'values' "
                         f"or use outcome variables: binary {', '.join(VARIABLES['binary'])}; regression {', '.join(VARIABLES['regression'])}")
    clash = sorted(set(kpi.values) & (set(VARIABLES["binary"]) | set(VARIABLES["regression"])))
    if clash:
        raise ValueError(f"KPI {kpi.name!r}: 'values' redefines outcome variable(s) {', '.join(clash)}; rename them")
    inferred = inferred_task(kpi)
    if kpi.task is None and inferred not in (None, task):
        raise ValueError(f"KPI {kpi.name!r}: formula uses {inferred} outcome variables but model.task is {task!r}; "
                         f"fix the formula or add 'task: {inferred}' to keep it for {inferred} models only")
    if kpi.task is not None and inferred not in (None, kpi.task):
        raise ValueError(f"KPI {kpi.name!r}: 'task: {kpi.task}' but the formula uses {inferred} outcome variables")


def check(kpis: list[Kpi], task: str, *, source: Any) -> None:
    """Pre-flight: refuse the ``kpis:`` section of config file ``source`` with every problem named (exit 2)."""
    found = problems(kpis, task)
    if len(found) == 1:
        raise ConfigError(f"{source}: {found[0]}")
    if found:
        raise ConfigError(f"{source}: {len(found)} problems: " + " ".join(f"({n}) {p}" for n, p in enumerate(found, start=1)))


def outcome_sums(y: np.ndarray, pred: np.ndarray, task: str, threshold: float) -> np.ndarray:
    """Per-row quantities whose column sums give every outcome variable (see :func:`variables`)."""
    import numpy as np

    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    if task == "binary":
        flagged, actual = pred >= threshold, y >= 0.5
        return np.column_stack([flagged & actual, flagged & ~actual, ~flagged & ~actual, ~flagged & actual]).astype(float)
    err = pred - y
    nonzero = y != 0
    ratio = np.divide(np.abs(err), np.abs(y), out=np.zeros_like(err), where=nonzero)
    return np.column_stack([np.ones_like(y), np.abs(err), err**2, err, y, np.abs(y), pred, ratio, nonzero.astype(float)])


def variables(sums: np.ndarray, task: str) -> dict[str, np.ndarray]:
    """Outcome variables from summed per-row quantities; ``sums`` is (replicates, quantities) or 1-D."""
    import numpy as np

    s = np.atleast_2d(sums).T
    if task == "binary":
        tp, fp, tn, fn = s
        return {"n": tp + fp + tn + fn, "tp": tp, "fp": fp, "tn": tn, "fn": fn, "actual_positive": tp + fn,
                "actual_negative": fp + tn, "predicted_positive": tp + fp, "predicted_negative": tn + fn}
    n, abs_err, sq_err, err, y, abs_y, pred, ratio, nonzero = s
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"n": n, "mae": abs_err / n, "rmse": np.sqrt(sq_err / n), "wape": abs_err / abs_y, "mape": ratio / nonzero,
                "bias": err / n, "actual_sum": y, "actual_mean": y / n, "predicted_sum": pred, "abs_error_sum": abs_err}


def evaluate(kpi: Kpi, values: dict[str, Any]) -> float:
    """The formula's value for scalar outcome variables; NaN when undefined (a division by zero)."""
    return _Formula(kpi)(values)


class _Formula:
    """A KPI formula parsed once by simpleeval (a sandboxed evaluator: names, arithmetic and a few functions only)."""

    def __init__(self, kpi: Kpi) -> None:
        import simpleeval

        funcs = {"abs": abs, "min": min, "max": max, "sqrt": math.sqrt, "log": math.log, "exp": math.exp}
        self.constants = dict(kpi.values)
        self.evaluator = simpleeval.SimpleEval(functions=funcs)
        self.parsed = self.evaluator.parse(kpi.formula)

    def __call__(self, values: dict[str, Any]) -> float:
        self.evaluator.names = {k: float(v) for k, v in values.items()} | self.constants
        try:
            result = self.evaluator.eval("", previously_parsed=self.parsed)
        except (ZeroDivisionError, ValueError, OverflowError):
            return float("nan")
        result = float(result)
        return result if math.isfinite(result) else float("nan")


def bootstrap(kpi: Kpi, rows: np.ndarray, task: str, *, n_bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the KPI over rows resampled with replacement (seeded).

    Every outcome variable is a function of column sums, so one replicate is a vector of
    resampling counts times ``rows``; for the confusion matrix the counts of the four cells
    are drawn directly from a multinomial, which is the same distribution and independent of n.
    """
    import numpy as np

    n = len(rows)
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    if task == "binary":
        sums = rng.multinomial(n, rows.sum(axis=0) / n, size=n_bootstrap).astype(float)
    else:
        chunk = max(1, 2_000_000 // n)  # bound memory: replicates x rows index matrix per chunk
        parts = [rows[rng.integers(0, n, size=(min(chunk, n_bootstrap - i), n))].sum(axis=1) for i in range(0, n_bootstrap, chunk)]
        sums = np.concatenate(parts)
    values = variables(sums, task)
    formula = _Formula(kpi)
    draws = np.array([formula({k: v[i] for k, v in values.items()}) for i in range(n_bootstrap)])
    draws = draws[np.isfinite(draws)]
    if len(draws) < n_bootstrap // 2:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail))


def value(kpi: Kpi, y: np.ndarray, pred: np.ndarray, task: str) -> float:
    """The KPI on one set of labels and predictions (scores for binary tasks)."""
    sums = outcome_sums(y, pred, task, kpi.threshold).sum(axis=0)
    return evaluate(kpi, {k: v[0] for k, v in variables(sums, task).items()})


def gap(kpi: Kpi, current: float) -> float:
    """Distance still to go to the target: positive = not there yet, whatever the direction."""
    return kpi.target - current if kpi.direction == "higher" else current - kpi.target


def improvement(kpi: Kpi, current: float, baseline: float) -> float:
    """How much better than the baseline: positive = better, whatever the direction."""
    return current - baseline if kpi.direction == "higher" else baseline - current


def table(kpis: list[Kpi], task: str, y: np.ndarray, score: np.ndarray, baseline_score: np.ndarray | None, *,
          context: dict[str, Any] | None = None, n_bootstrap: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per applicable KPI: baseline, target, current, gap with its interval (see the module docstring).

    Parameters
    ----------
    kpis : list of Kpi
        The configured KPIs; those meant for another task are left out.
    task : str
        ``binary`` or ``regression``.
    y, score : array
        Labels and the model's predictions on the labelled rows of the batch.
    baseline_score : array or None
        The baseline model's predictions on the same rows (needed for ``baseline: model``).
    context : dict
        Columns added to every row (``model_version``, ``batch`` ...).
    n_bootstrap, seed : int
        Bootstrap replicates for the interval, and their seed.
    """
    import numpy as np
    import pandas as pd

    rows = []
    for kpi in (k for k in kpis if applies_to(k, task)):
        current = value(kpi, y, score, task)
        per_row = outcome_sums(y, score, task, kpi.threshold)
        low, high = bootstrap(kpi, per_row, task, n_bootstrap=n_bootstrap, seed=seed)
        if kpi.baseline == "model":
            base = value(kpi, y, baseline_score, task) if baseline_score is not None else float("nan")
            source = "baseline model" if baseline_score is not None else "baseline model unavailable"
        else:
            base, source = float(kpi.baseline), "given"
        g = gap(kpi, current)
        rows.append({"kpi": kpi.name, "label": kpi.label or kpi.name, "unit": kpi.unit, "direction": kpi.direction, "baseline": base,
                     "baseline_source": source, "target": kpi.target, "current": current, "gap": g, "ci_low": low, "ci_high": high,
                     "improvement": improvement(kpi, current, base), "on_target": bool(np.isfinite(g) and g <= 0), "rows": len(y)})
    out = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in (context or {})] if not rows else None)
    for key, val in (context or {}).items():
        out[key] = val
    return out.reindex(columns=COLUMNS + [c for c in out.columns if c not in COLUMNS])
