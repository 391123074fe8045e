"""The drift phase (``60_drift``): data, concept and feature drift of one scored batch against the champion.

The batch is compared with the champion's cached reference (:mod:`workbench.phases._inputs`);
the statistics come from :mod:`workbench.analyses.drift` and :mod:`workbench.analyses.concept`.
When any threshold is crossed a retrain request is filed (it waits for a person). The drift
history across all monitored batches is rebuilt from the results catalog after each batch.

A batch of fewer than ``thresholds.min_batch_rows`` rows (30) is too small for any statistic:
column drift, missing shares, prediction drift and performance are all "insufficient data", so
it raises no drift alert and files no retrain request (a missing or retyped column, which does
not depend on size, is still an alert).

With ``privacy.releases.drift`` the distributions published for the drift app
(``distributions.parquet``) hold Laplace-noised batch counts and the bounded columns
(``privacy.bounds``) get noisy means (``private_means.parquet``); the release's epsilon is spent
from the batch file's budget first, and recorded in ``privacy.json``. A refused spend fails the
phase before any drift result is written: the exact distributions are not published instead (a
release configured private that cannot be made private is not released). The per-column tests,
the verdict and the evidently report stay exact: they are the data team's working results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses import concept, drift, evidently_report, privacy
from workbench.governance import audit, requests
from workbench.phases import _estimate, _inputs, _privacy, _scale
from workbench.phases._inputs import Reference, reference, reference_frame
from workbench.registry import versions
from workbench.reports import catalog, history

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.runner.context import PhaseContext

__all__ = ["ALERT_STATUSES", "Reference", "concept_drift", "data_drift", "estimate_performance", "evidently_html", "plot", "private_release",
           "record_history", "reference", "scored_batch", "verdict"]

# Column statuses that raise an alert on their own, whatever the dataset-level verdict.
ALERT_STATUSES = ("high missing share", "empty column", "type changed", "missing column")
DRIFT_SHARE = 0.5  # the dataset drifts when at least this share of its columns drifted
MISSING_INCREASE = "missing share increased"  # an alert too, with both shares in its reason


def scored_batch(phase: PhaseContext) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The scored batch as it arrived (a numeric column stored as text stays text, to be named "type changed")."""
    return _inputs.scored_batch(phase, as_read=True)


def data_drift(phase: PhaseContext, ref: Reference, batch: pd.DataFrame) -> Any:
    """Per-column drift and the dataset verdict, saved as ``columns.parquet`` and ``data_drift.json``.

    With a Dask ``executor:`` the batch statistics come from the cluster (:mod:`workbench.phases._scale`),
    the same exactly in exact mode. The reference vs batch distributions go to ``distributions.parquet``: private with
    ``privacy.releases.drift`` (:func:`private_release`, spent before anything here is written).
    """
    t = phase.config.thresholds
    stats = _scale.drift_stats(phase, ref.profile)  # None: executor local, the frame below
    result = drift.compare(ref.profile, batch if stats is None else stats, alpha=t.data_drift, min_effect_numeric=t.drift_effect,
                           min_effect_categorical=t.drift_effect, min_rows=t.min_batch_rows, max_missing=t.max_missing_share,
                           max_missing_increase=t.missing_share_increase, drift_share=DRIFT_SHARE)
    # reference vs batch share per bin or category, for the drift app's feature picker
    distributions = drift.distribution_table(ref.profile, batch)
    released = private_release(phase, distributions, batch)
    phase.save_table(catalog.COLUMNS_FILE, result.columns)
    if released is None:
        phase.save_table(catalog.DISTRIBUTIONS_FILE, distributions)
    else:
        phase.save_table(catalog.DISTRIBUTIONS_FILE, released["distributions"])
        if released["means"] is not None:
            phase.save_table(catalog.PRIVATE_MEANS_FILE, released["means"])
        phase.save_json(catalog.PRIVACY_FILE, released["record"])  # last: a record means its tables are in place
    phase.save_json(catalog.DATA_DRIFT_FILE, {**result.to_dict(), "drift_share": DRIFT_SHARE, "executor": _scale.where(phase.config)})
    phase.log_metrics({"drifted_columns": result.dataset["drifted_columns"], "drifted_share": result.dataset["drifted_share"]})
    return result


def private_release(phase: PhaseContext, distributions: pd.DataFrame, batch: pd.DataFrame) -> dict[str, Any] | None:
    """The private drift release of the batch (None when ``privacy.releases.drift`` is not set), spent but not yet written.

    The release's epsilon is split evenly between the noisy batch counts of the distributions
    and, when ``privacy.bounds`` names columns of the batch, their noisy means; the reference
    counts stay exact (the reference is another dataset, with a budget of its own, and a person
    sees its distributions in the train phase anyway). The spend goes to the batch file's budget
    (:func:`workbench.phases._privacy.spend`): BudgetExceeded names the remaining epsilon and fails the phase.
    """
    epsilon = _privacy.release_epsilon(phase.config, "drift")
    if epsilon is None:
        return None
    facts = phase.input_result("score")["batch"]
    bounds = {c: tuple(b) for c, b in phase.config.privacy.bounds.items() if c in batch.columns}
    share = epsilon / 2 if bounds else epsilon
    noisy, parts = privacy.private_distribution(distributions, epsilon=share)
    releases = [parts]
    means = None
    if bounds:
        means, part = privacy.private_means(batch, bounds=bounds, epsilon=epsilon - share)
        releases.append(part)
    spent = _privacy.spend(phase.config, dataset=facts["name"], sha256=facts["sha256"], release="drift", epsilon=epsilon, run_id=phase.run_id)
    record = _privacy.record("drift", releases, spent, tables=[catalog.DISTRIBUTIONS_FILE] + ([catalog.PRIVATE_MEANS_FILE] if bounds else []),
                             not_private=["the reference counts and shares", "the per-column tests", "the verdict", "the evidently report"])
    phase.log_metrics({"privacy_drift_epsilon": epsilon, "privacy_budget_remaining": spent["remaining"]})
    return {"distributions": noisy, "means": means, "record": record}


def concept_drift(phase: PhaseContext, ref: Reference, batch: pd.DataFrame, *, role: str = "champion") -> dict[str, Any]:
    """Prediction drift, performance change and residual (feature) drift; saved as ``concept.json``.

    ``role`` is the model that scored the batch (``baseline`` after a fallback): the batch is
    compared with that model's scores on the reference holdout. Residual drift is tested
    per feature at alpha / number of features (Bonferroni), so ten clean features do not
    give a ~40 % chance of some false alarm in every batch.
    """
    cfg, task = phase.config, phase.config.model.task
    scored = ref.scored_by[role]
    pred = concept.prediction_drift(scored["score"].to_numpy(), batch["score"].to_numpy(), task=task,
                                    threshold=cfg.thresholds.concept_drift, min_rows=cfg.thresholds.min_batch_rows)
    labelled = batch[batch["y"].notna()]
    perf = concept.performance_change(scored["y"].to_numpy(), scored["score"].to_numpy(),
                                      labelled["y"].to_numpy() if len(labelled) else None,
                                      labelled["score"].to_numpy() if len(labelled) else None, task=task, seed=cfg.model.seed,
                                      min_labels=cfg.thresholds.min_batch_rows)
    residuals = None
    if perf.get("status", "ok") == "ok" and len(labelled):
        import pandas as pd

        # as the model saw them: text that is not a number is missing (the score phase allowed a few, per row)
        labelled = labelled.assign(**{c: pd.to_numeric(labelled[c].astype(object), errors="coerce") for c in ref.numeric if c in labelled})
        alpha = cfg.thresholds.data_drift / max(1, len(ref.schema.features))
        residuals = concept.residual_drift(scored, labelled, features=ref.schema.features, numeric=ref.numeric, task=task,
                                           threshold=cfg.thresholds.feature_drift, alpha=alpha)
        phase.save_table(catalog.FEATURE_DRIFT_FILE, residuals)
    verdict = concept.concept_verdict(pred, perf, residuals)
    out = {"scored_by": role, "prediction_drift": pred, "performance": perf, "verdict": verdict}
    phase.save_json(catalog.CONCEPT_FILE, out)
    phase.log_metrics({"score_psi": pred["psi"], "concept_drift": float(verdict["concept_drift"]),
                       "feature_drift": float(verdict["feature_drift"])} | ({"performance_delta": perf["difference"]} if "difference" in perf else {}))
    return out


def estimate_performance(phase: PhaseContext, ref: Reference, batch: pd.DataFrame, *, role: str = "champion") -> Any:
    """Performance estimated without labels (CBPE or DLE), realised beside it when labels or feedback exist; ``estimate.json``.

    See :mod:`workbench.phases._estimate`. With labels, the reliability table (is the model right
    as often as it says, by confidence bucket) is saved as ``reliability.parquet``.
    """
    out, reliability = _estimate.estimate(phase.config, ref, batch, role=role)
    phase.save_json(catalog.ESTIMATE_FILE, out)
    if reliability is not None:
        phase.save_table(catalog.RELIABILITY_FILE, reliability)
    metric = out["metric"]
    logged = {f"estimated_{m}": e["value"] for m, e in out["estimated"].items()} | {"estimate_alert": float(out["alert"]),
                                                                                  "concept_drift_likely": float(out["concept_drift_likely"])}
    phase.log_metrics({k: float(v) for k, v in logged.items() if v == v})
    return _estimate.Shown(out, reliability, metric)


def evidently_html(phase: PhaseContext, ref: Reference, batch: pd.DataFrame, *, sample: int = 20_000) -> dict[str, Any]:
    """The evidently DataDriftPreset HTML for the same batch, judged by the same per-column rule, saved as ``evidently.html``.

    What it counted (and with which rule) is saved as ``evidently.json``, for the drift app to set beside its own count.
    """
    from pandas.api.types import is_numeric_dtype

    table = reference_frame(phase.config, dict(versions.alias_version(phase.config, "champion").tags))
    retyped = [c for c in ref.numeric if c in batch and not is_numeric_dtype(batch[c])]  # "type changed" in columns.parquet
    t = phase.config.thresholds
    html, info = evidently_report.build_report(table, batch, numeric=[c for c in ref.numeric if c not in retyped],
                                               categorical=ref.categorical, sample=sample, seed=phase.config.model.seed,
                                               alpha=t.data_drift, min_effect_numeric=t.drift_effect, min_effect_categorical=t.drift_effect,
                                               drift_share=DRIFT_SHARE, min_rows=t.min_batch_rows)
    path = phase.save_text(catalog.EVIDENTLY_FILE, html)
    phase.save_json(catalog.EVIDENTLY_SUMMARY_FILE, {**info, "type_changed": retyped})
    return {"path": str(path), **info, "type_changed": retyped}


def verdict(phase: PhaseContext, ref: Reference, scored: dict[str, Any], data: Any, concept_result: dict[str, Any],
            estimate: Any = None) -> dict[str, Any]:
    """The batch's overall verdict; files a retrain request when a threshold is crossed.

    ``estimate`` (from :func:`estimate_performance`): an estimate below its alert threshold is a
    reason, and so is realised performance outside the estimate's band (likely concept drift).
    """
    estimate = getattr(estimate, "result", estimate)
    reasons = []
    if data.dataset["drift"]:
        reasons.append(f"data drift in {data.dataset['drifted_columns']} of {data.dataset['columns']} columns")
    bad = data.columns[data.columns["status"].isin(ALERT_STATUSES)]
    if len(bad):
        reasons.append("data problems: " + ", ".join(f"{r.column} ({r.status})" for r in bad.itertuples()))
    rose = data.columns[data.columns["status"] == MISSING_INCREASE]
    if len(rose):
        limit = phase.config.thresholds.missing_share_increase
        reasons.append(f"{MISSING_INCREASE} by more than {limit:.0%} (thresholds.missing_share_increase): " + ", ".join(
            f"{r.column} {r.missing_share_reference:.1%} -> {r.missing_share_batch:.1%}" for r in rose.itertuples()))
    reasons += concept_result["verdict"]["reasons"]
    if estimate and estimate.get("alert"):
        reasons.append(estimate["alert_reason"])
    if estimate and estimate.get("concept_drift_likely") and not concept_result["verdict"]["concept_drift"]:
        reasons.append(estimate["concept_drift_reason"])
    rows, least = int(data.dataset["n_batch"]), phase.config.thresholds.min_batch_rows
    notes = list(concept_result["verdict"].get("notes", []))
    if rows < least:
        notes.insert(0, f"insufficient data: {rows} rows, fewer than thresholds.min_batch_rows ({least}); no statistic assessed")
    out = {"batch": scored["batch"], "model": {"version": ref.version, "semver": ref.semver},
           "data_drift": bool(data.dataset["drift"]), "concept_drift": concept_result["verdict"]["concept_drift"],
           "feature_drift": concept_result["verdict"]["feature_drift"], "alert": bool(reasons), "reasons": reasons,
           "drifted_columns": data.columns.loc[data.columns["drifted"], "column"].tolist(), "fallback": scored["fallback"],
           "insufficient_data": rows < least, "rows": rows, "notes": notes}
    if estimate:
        out["estimate"] = {"metric": estimate["metric"], "value": estimate["estimated"][estimate["metric"]]["value"], "alert": estimate["alert"],
                           "concept_drift_likely": estimate["concept_drift_likely"]}
    if reasons:
        out["retrain_request"] = requests.request(phase.config, trigger="drift", run_id=phase.run_id, reasons=reasons,
                                                 model_version=ref.version, batch=scored["batch"]["name"])
        audit.record(phase.config.store, "retrain_request", f"{phase.config.project}/{ref.version}", reasons=reasons, run_id=phase.run_id)
    phase.save_json(catalog.VERDICT_FILE, out)
    return out


def plot(phase: PhaseContext, ref: Reference, batch: pd.DataFrame, data: Any) -> Any:
    """Effect size per column against its threshold, and the score distributions; saved as ``drift.png``."""
    import numpy as np
    from IPython.display import Image
    from matplotlib.figure import Figure

    cols = data.columns.sort_values("effect_size", ascending=True)
    fig = Figure(figsize=(10, 0.3 * len(cols) + 2.5))
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    colors = np.where(cols["drifted"], "#c53030", "#a0aec0")
    left.barh(cols["column"], cols["effect_size"].fillna(0), color=colors)
    left.axvline(float(cols["effect_threshold"].iloc[0]), color="black", linestyle="--", linewidth=1, label="effect threshold")
    left.set_xlabel("effect size (normalised Wasserstein / Jensen–Shannon)")
    left.legend(loc="lower right", fontsize=8)
    left.set_title("Data drift per column (red: drifted)")
    bins = np.linspace(0, 1, 21) if phase.config.model.task == "binary" else 30
    right.hist(ref.scored["score"], bins=bins, density=True, alpha=0.5, label="reference (holdout)")
    right.hist(batch["score"], bins=bins, density=True, alpha=0.5, label="batch")
    right.set_title("Model score distribution")
    right.legend(fontsize=8)
    fig.tight_layout()
    return Image(filename=str(phase.save_figure(catalog.DRIFT_PLOT, fig)))


def record_history(phase: PhaseContext) -> pd.DataFrame:
    """Drift history across every monitored batch (this one included): tables and a plot; returns the dataset-level table."""
    dataset, columns = history.build(phase.config, phase.dir)
    phase.save_table(catalog.HISTORY_FILE, dataset)
    phase.save_table(catalog.HISTORY_COLUMNS_FILE, columns)
    if not dataset.empty:
        phase.save_figure(catalog.HISTORY_PLOT, history.plot(dataset, columns))
    estimates = history.estimates(phase.config, phase.dir)
    phase.save_table(catalog.ESTIMATE_HISTORY_FILE, estimates)
    if not estimates.empty:
        phase.save_figure(catalog.ESTIMATE_PLOT, history.estimate_plot(estimates))
    return dataset
