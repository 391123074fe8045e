"""The standard evidently ``DataDriftPreset`` HTML report for a batch, beside our own engine's.

evidently drops missing values silently, ignores columns missing from the current data and
aborts on an empty column, so inputs are checked here first (our engine reports those
columns explicitly) and only usable columns are handed over. Large frames are sampled
(seeded) to ``sample`` rows; the sample sizes are stated in a banner inside the report.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
                 sample: int = 20_000, seed: int = 0) -> tuple[str, dict[str, Any]]:
    """Run evidently's data-drift preset; return its HTML (with a banner stating the samples) and what was compared."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    cols, left_out = usable_columns(reference, batch, numeric + categorical)
    ref, cur = _sample(reference[cols], sample, seed), _sample(batch[cols], sample, seed)
    definition = DataDefinition(numerical_columns=[c for c in numeric if c in cols],
                                categorical_columns=[c for c in categorical if c in cols])
    snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(cur, data_definition=definition),
                                               Dataset.from_pandas(ref, data_definition=definition))
    note = (f"evidently DataDriftPreset on a seeded sample: {len(ref):,} of {len(reference):,} reference rows and "
            f"{len(cur):,} of {len(batch):,} batch rows."
            + (f" Left out (reported by the workbench engine instead): {', '.join(f'{c} ({r})' for c, r in left_out.items())}." if left_out else ""))
    return _with_banner(_html(snapshot), note), {"reference_rows": len(ref), "batch_rows": len(cur), "sampled": len(ref) < len(reference) or len(cur) < len(batch),
            "columns": cols, "left_out": left_out, "drifted_share": _drifted_share(snapshot)}


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


def _drifted_share(snapshot: Any) -> float | None:
    for metric in snapshot.dict().get("metrics", []):
        if metric.get("metric_name", "").startswith("DriftedColumnsCount"):
            return float(metric["value"]["share"])
    return None
