"""The standard evidently ``DataDriftPreset`` HTML report for a batch, beside our own engine's.

evidently drops missing values silently, ignores columns missing from the current data and
aborts on an empty column, so inputs are checked here first (our engine reports those
columns explicitly) and only usable columns are handed over. Large frames are sampled
(seeded) to ``sample`` rows; the sample sizes are stated in a banner inside the report.

With ``alpha`` given, every column is judged by the workbench engine's own rule (a column
drifts when its p-value is below ``alpha`` AND its effect size reaches the threshold, see
:mod:`workbench.analyses.drift`), registered with evidently as a stattest: the report then
counts the same drifted columns as the drift app, on the same (unsampled) rows. Without it,
evidently's default tests and thresholds apply.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.analyses.drift import _categorical as cat
from workbench.analyses.drift import _numeric as num
from workbench.analyses.drift._distance import jensen_shannon

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def usable_columns(reference: pd.DataFrame, batch: pd.DataFrame, columns: list[str]) -> tuple[list[str], dict[str, str]]:
    """Columns evidently can handle, and why each other column was left out."""
    usable, left_out = [], {}
    for col in columns:
        if col not in batch.columns:
            left_out[col] = "missing from the batch"
        elif batch[col].notna().sum() == 0 or reference[col].notna().sum() == 0:
            left_out[col] = "no values"
        elif batch[col].nunique(dropna=True) < 1:
            left_out[col] = "no values"
        else:
            usable.append(col)
    return usable, left_out


def build_report(reference: pd.DataFrame, batch: pd.DataFrame, *, numeric: list[str], categorical: list[str],
                 sample: int = 20_000, seed: int = 0, alpha: float | None = None, min_effect_numeric: float = 0.05,
                 min_effect_categorical: float = 0.05, drift_share: float = 0.5, min_rows: int = 30) -> tuple[str, dict[str, Any]]:
    """Run evidently's data-drift preset; return its HTML (with a banner stating the samples) and what was compared.

    ``alpha`` (None: evidently's defaults) applies the workbench rule with the two effect thresholds.
    The returned dict names the ``method``, the ``drifted_columns`` count and the ``drifted`` columns.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    cols, left_out = usable_columns(reference, batch, numeric + categorical)
    ref, cur = _sample(reference[cols], sample, seed), _sample(batch[cols], sample, seed)
    definition = DataDefinition(numerical_columns=[c for c in numeric if c in cols],
                                categorical_columns=[c for c in categorical if c in cols])
    decided: dict[str, bool] = {}
    options: dict[str, Any] = {"drift_share": drift_share}
    if alpha is not None:
        options.update(method=_workbench_stattest(alpha, min_rows, decided), num_threshold=min_effect_numeric, cat_threshold=min_effect_categorical)
    snapshot = Report([DataDriftPreset(**options)]).run(Dataset.from_pandas(cur, data_definition=definition),
                                                        Dataset.from_pandas(ref, data_definition=definition))
    method = (f"the workbench rule (p-value below {alpha:g} and effect size at least {min_effect_numeric:g} for numeric, "
              f"{min_effect_categorical:g} for categorical columns)" if alpha is not None else "evidently's default tests and thresholds")
    note = (f"evidently DataDriftPreset on a seeded sample: {len(ref):,} of {len(reference):,} reference rows and "
            f"{len(cur):,} of {len(batch):,} batch rows; each column judged by {method}."
            + (f" Left out (reported by the workbench engine instead): {', '.join(f'{c} ({r})' for c, r in left_out.items())}." if left_out else ""))
    count, share = _drifted(snapshot)
    return _with_banner(_html(snapshot), note), {"reference_rows": len(ref), "batch_rows": len(cur), "sampled": len(ref) < len(reference) or len(cur) < len(batch),
            "columns": cols, "left_out": left_out, "drifted_share": share, "drifted_columns": count,
            "drifted": [c for c in cols if decided.get(c)] if alpha is not None else None,
            "method": "workbench" if alpha is not None else "evidently default", "alpha": alpha,
            "min_effect_numeric": min_effect_numeric, "min_effect_categorical": min_effect_categorical}


def _sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=n, random_state=seed) if len(frame) > n else frame


def _html(snapshot: Any) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        snapshot.save_html(str(out))
        return out.read_text(encoding="utf-8")


def _with_banner(html: str, note: str) -> str:
    import html as html_mod

    banner = (f'<div style="font:14px sans-serif;padding:8px 12px;background:#fff8e1;border-bottom:1px solid #e0c060">'
              f"{html_mod.escape(note)}</div>")
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + banner, html, count=1)


def _drifted(snapshot: Any) -> tuple[int | None, float | None]:
    """evidently's drifted-column count and share."""
    for metric in snapshot.dict().get("metrics", []):
        if metric.get("metric_name", "").startswith("DriftedColumnsCount"):
            return int(metric["value"]["count"]), float(metric["value"]["share"])
    return None, None


def _workbench_stattest(alpha: float, min_rows: int, decided: dict[str, bool]) -> Any:
    """The workbench engine's per-column rule as an evidently stattest (registered once per ``alpha``); records each decision in ``decided``."""
    import numpy as np
    from evidently.legacy.calculations.stattests.registry import StatTest, register_stattest
    from evidently.legacy.core import ColumnType

    def rule(reference: Any, current: Any, feature_type: Any, threshold: float) -> tuple[float, bool]:
        if feature_type == ColumnType.Numerical:
            ref, cur = (np.sort(num.finite(num.to_float(s))[0]) for s in (reference, current))
            d, w = num.ks_wasserstein(ref, cur)
            std = float(np.std(ref))
            effect = w / std if std > 0 else (0.0 if w == 0 else float("nan"))
            p_value, rows = num.ks_pvalue(d, len(ref), len(cur)), min(len(ref), len(cur))
        else:
            ref_counts, cur_counts, _ = cat.aligned(cat.level_counts(reference)[0], cat.level_counts(current)[0])
            p_value, effect = cat.chi2_test(ref_counts, cur_counts)[1], jensen_shannon(ref_counts, cur_counts)
            rows = int(min(ref_counts.sum(), cur_counts.sum()))
        drifted = bool(rows >= min_rows and p_value < alpha and effect >= threshold)  # NaN effect (constant reference): never
        decided[str(reference.name)] = drifted
        return float(effect), drifted

    test = StatTest(name=f"workbench_rule_p{alpha:g}", display_name=f"workbench rule: p < {alpha:g} and effect size (Wasserstein normed / Jensen-Shannon)",
                    allowed_feature_types=[ColumnType.Numerical, ColumnType.Categorical], default_threshold=0.05)
    register_stattest(test, rule)  # the latest registration wins, so ``decided`` is this report's
    return test
