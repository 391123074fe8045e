"""The explain phase (``75_explain``): SHAP explanations of a scored batch and of the reference, and their drift.

Explanations come from :mod:`workbench.analyses.explain`; this phase writes data (Parquet/JSON)
and server-rendered PNGs, so apps and reviews read them without recomputing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.analyses import explain
from workbench.phases._inputs import Reference, reference, scored_batch
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.runner.context import PhaseContext

__all__ = ["Reference", "explanations", "importance_with_error", "reference", "scored_batch"]


def explanations(phase: PhaseContext, ref: Reference, batch: pd.DataFrame, *, role: str = "champion",
                 sample: int = 2000, n_jobs: int = 2, top: int = 3, ids: str = "") -> dict[str, Any]:
    """SHAP explanations of the batch and of the reference holdout, their drift, and plots.

    Importance on a sample carries its sampling error: the standard error of each feature's
    mean |SHAP value| over the explained rows (``stderr`` in ``importance.parquet``).
    Local explanations are identified by the configured id column (``data.id``; without one, by
    the row number, 1 = the batch's first row): ``local.parquet`` holds every explained row's id,
    score and per-feature contribution, and waterfalls named by id are drawn for the ``top``
    highest-risk rows and for every id in ``ids`` (comma-separated); ids not in the batch are
    listed, not fatal.
    """
    import pandas as pd
    from IPython.display import Image, display

    cfg = phase.config
    model = registry.load(cfg, role).model
    features = ref.schema.features
    kw = {"features": features, "sample": sample, "seed": cfg.model.seed, "n_jobs": n_jobs}
    batch_expl = explain.explain(model, batch, **kw)
    ref_expl = explain.explain(model, ref.scored, **kw)
    drift_columns = pd.read_parquet(phase.input_dir("drift") / catalog.COLUMNS_FILE)
    ranking = explain.explanation_drift(ref_expl, batch_expl, data_drift=drift_columns)
    phase.save_table(catalog.IMPORTANCE_FILE, importance_with_error(batch_expl))
    phase.save_table(catalog.EXPLANATION_DRIFT_FILE, ranking.reset_index())
    figures = {catalog.IMPORTANCE_PLOT: explain.plot_importance(batch_expl)}
    ids_of = row_ids(batch, cfg.data.id)
    local = []
    if batch_expl.values is not None:
        figures[catalog.BEESWARM_PLOT] = explain.plot_beeswarm(batch_expl)
        drawn = list(explain.top_rows(batch_expl, batch["score"], k=top))
        local.append(local_table(batch_expl, batch["score"], ids_of, drawn))
        for col in (c for c in cfg.data.sensitive if c in batch.columns):
            phase.save_table(catalog.importance_by_file(col), batch_expl.by_segment(batch.loc[batch_expl.values.index, col]).reset_index())
    missing_ids = _explain_ids(phase, model, batch, ids, kw, local, ids_of)
    local_summary = _save_local(phase, local, figures, id_column=str(ids_of.name), output=batch_expl.output)
    for name, fig in figures.items():
        display(Image(filename=str(phase.save_figure(name, fig))))
    summary = {"batch": batch_expl.to_dict(), "reference": ref_expl.to_dict(), "top_features": batch_expl.importance().head(5).index.tolist(),
               "sample_note": f"explained {batch_expl.n_explained:,} of {batch_expl.n_rows:,} batch rows (seeded sample); "
                              "importance.parquet gives each feature's standard error", "ids_not_found": missing_ids, "local": local_summary}
    if not batch_expl.additivity_ok and batch_expl.values is not None:
        summary["warning"] = f"SHAP additivity failed (max error {batch_expl.additivity_max_error:.2e})"
    phase.save_json(catalog.EXPLAIN_FILE, summary)
    return summary


def importance_with_error(expl: Any) -> pd.DataFrame:
    """Mean |SHAP| per feature with its sampling standard error (permutation: no per-row values)."""
    import numpy as np

    out = expl.importance().rename("importance").to_frame()
    if expl.values is not None:
        out["stderr"] = expl.values.abs().std(ddof=1).reindex(out.index) / np.sqrt(max(1, len(expl.values)))
    return out.rename_axis("feature").reset_index()


def row_ids(batch: pd.DataFrame, id_column: str | None) -> pd.Series:
    """Each row's id as text, named after the id column; without one, the row number (1 = first row), named ``""``."""
    import pandas as pd

    if id_column and id_column in batch.columns:
        return batch[id_column].astype(str).rename(id_column)
    return pd.Series([str(i + 1) for i in range(len(batch))], index=batch.index, name="")


def local_table(expl: Any, scores: pd.Series, ids: pd.Series, drawn: list[Any]) -> pd.DataFrame:
    """Long form, one row per explained row and feature: ``id``, ``rank`` (by score in the whole batch,
    1 = highest), ``score``, ``base``, ``feature``, ``value`` (the feature's value, as text),
    ``contribution`` and ``draw`` (a waterfall is drawn for this row)."""
    values = expl.values
    score = scores.astype(float)
    rank = score.rank(ascending=False, method="first").astype(int)
    long = values.rename_axis("row").reset_index().melt(id_vars="row", var_name="feature", value_name="contribution")
    data = expl.data.astype(object).where(expl.data.notna(), None).rename_axis("row").reset_index().melt(id_vars="row", var_name="feature", value_name="value")
    long = long.merge(data, on=["row", "feature"], how="left")
    long["value"] = [_text(v) for v in long["value"]]
    long["id"], long["score"], long["rank"] = ids.reindex(long["row"]).to_numpy(), score.reindex(long["row"]).to_numpy(), rank.reindex(long["row"]).to_numpy()
    long["base"], long["draw"] = float(expl.base_value), long["row"].isin(drawn).to_numpy()
    long["order"] = -long["contribution"].abs()
    long = long.sort_values(["rank", "order"], kind="stable")
    return long[["row", "id", "rank", "score", "base", "feature", "value", "contribution", "draw"]].reset_index(drop=True)


def file_key(identifier: str) -> str:
    """A file-name-safe key for an id: the id itself when safe, else a cleaned prefix and a hash (unique per id)."""
    import hashlib
    import re

    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", identifier)[:60].strip("._") or "id"
    return safe if safe == identifier else f"{safe}-{hashlib.sha256(identifier.encode()).hexdigest()[:8]}"


def _text(value: Any) -> str:
    if value is None:
        return "missing"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _save_local(phase: PhaseContext, parts: list[pd.DataFrame], figures: dict[str, Any], *, id_column: str, output: str) -> dict[str, Any] | None:
    """``local.parquet`` and the waterfalls of the drawn rows, named by id (the file name is in the table)."""
    import pandas as pd

    if not parts:
        return None
    table = pd.concat(parts, ignore_index=True)
    table["draw"] = table.groupby("id")["draw"].transform("any")
    table = table.drop_duplicates(["id", "feature"], keep="first")
    files = {i: catalog.waterfall_plot("id", file_key(i)) for i in table.loc[table["draw"], "id"].unique()}
    table["waterfall"] = table["id"].map(files)
    for identifier, name in files.items():
        rows = table[table["id"] == identifier]
        figures[name] = explain.plot_waterfall(_one(rows, output), 0, label=f"{id_column} {identifier}" if id_column else f"row {identifier}")
    phase.save_table(catalog.LOCAL_FILE, table.drop(columns=["row", "draw"]))
    return {"id_column": id_column or None, "rows": int(table["id"].nunique()), "drawn": list(files)}


def _one(rows: pd.DataFrame, output: str) -> Any:
    """One stored row's explanation (for its waterfall): values and feature values from the long table."""
    import pandas as pd

    values = pd.DataFrame([rows["contribution"].to_numpy()], columns=rows["feature"].tolist())
    data = pd.DataFrame([rows["value"].to_numpy()], columns=rows["feature"].tolist(), dtype=object)
    return explain.Explanation("stored", values, float(rows["base"].iloc[0]), data, 1, 1, None, None, output)


def _explain_ids(phase: PhaseContext, model: Any, batch: pd.DataFrame, ids: str, kw: dict[str, Any], local: list[pd.DataFrame],
                 ids_of: pd.Series) -> list[str]:
    """Local explanations of the rows a person asked for by id (added to ``local``); returns the ids not found."""
    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    id_col = phase.config.data.id
    if not wanted or not id_col or id_col not in batch.columns:
        return wanted if wanted and not id_col else []
    rows = batch[ids_of.isin(wanted)]
    if len(rows):
        expl = explain.explain(model, rows, **{**kw, "sample": len(rows), "n_jobs": 1})
        if expl.values is not None:
            local.append(local_table(expl, batch["score"], ids_of, list(expl.values.index)))
    return sorted(set(wanted) - set(ids_of[ids_of.isin(wanted)]))
