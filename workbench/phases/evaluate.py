"""The evaluate phase (``30_evaluate``): candidate, baseline and champion scored on the holdout and compared.

Metrics with bootstrap intervals, paired comparisons and the decision rule come from
:mod:`workbench.analyses.evaluation`; this phase loads the models, scores the holdout, saves
the results and, in a governed retrain, compares the candidate with the champion on the rows
the champion never trained on (``unseen.json``). With ``model.estimator: auto`` the report also
shows how the candidate was chosen: the train phase's cross-validated leaderboard. With
``privacy.features`` it shows what the private features cost: the utility table
(:func:`privacy_utility`, ``privacy_utility.parquet``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench._io import read_json
from workbench.analyses import privacy
from workbench.analyses.evaluation import (
    HIGHER_IS_BETTER,
    PRIMARY,
    Evaluation,
    comparison_verdict,
    decide,
    metric_functions,
    metrics_with_ci,
    paired_difference,
)
from workbench.data import frames, sources
from workbench.data.dataset import Schema
from workbench.exceptions import PhaseError, WorkbenchError
from workbench.phases import _confidence
from workbench.registry import estimators, models
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.runner.context import PhaseContext

__all__ = ["Evaluation", "PrivacyUtility", "confidence", "evaluate", "leaderboard", "plot", "privacy_utility", "unseen_by_champion"]


def evaluate(phase: PhaseContext, *, n_bootstrap: int = 200, confidence: float = 0.95) -> Evaluation:
    """Score the holdout with candidate, baseline and champion; compare; decide."""
    import numpy as np
    import pandas as pd

    cfg, task = phase.config, phase.config.model.task
    train_dir = phase.input_dir("train")
    holdout = pd.read_parquet(train_dir / catalog.HOLDOUT_FILE)
    schema = Schema.from_dict(phase.input_result("train")["schema"])
    y = frames.target(holdout, schema, task).to_numpy()
    scores = {"candidate": estimators.predict(_load(phase, "train"), holdout, schema, task),
              "baseline": estimators.predict(_load(phase, "baseline"), holdout, schema, task)}
    notes = []
    champion = registry.try_load(cfg, "champion")
    if champion is not None:
        missing = sorted(set(champion.features) - set(holdout.columns))
        if missing:
            notes.append(f"champion v{champion.version} not comparable: holdout lacks its features {missing}")
        else:
            scores["champion"] = estimators.predict(champion.model, holdout, Schema.from_dict(champion.schema), task)
    kw = {"n_bootstrap": n_bootstrap, "confidence": confidence, "seed": cfg.model.seed}
    metrics = {name: metrics_with_ci(y, np.asarray(s), task, **kw) for name, s in scores.items()}
    comparisons = {f"candidate_vs_{other}": paired_difference(y, scores["candidate"], scores[other], task, **kw)
                   for other in scores if other != "candidate"}
    decision = decide(task, comparisons["candidate_vs_baseline"], comparisons.get("candidate_vs_champion"))
    decision["confidence"] = str(confidence)
    phase.log_metrics({f"{m}_{k}": v["value"] for m, ms in metrics.items() for k, v in ms.items()})
    return Evaluation(task, len(holdout), metrics, comparisons, decision, notes)


def confidence(phase: PhaseContext) -> _confidence.ConfidenceReport:
    """Calibration and conformal sets of candidate and baseline, fitted on the holdout; saved as ``confidence.json``.

    See :mod:`workbench.phases._confidence`. Registration puts each model's record on its version,
    where the score phase and the online service read it.
    """
    import pandas as pd

    task = phase.config.model.task
    holdout = pd.read_parquet(phase.input_dir("train") / catalog.HOLDOUT_FILE)
    schema = Schema.from_dict(phase.input_result("train")["schema"])
    y = frames.target(holdout, schema, task).to_numpy()
    scores = {role: estimators.predict(_load(phase, upstream), holdout, schema, task) for role, upstream in (("candidate", "train"), ("baseline", "baseline"))}
    report = _confidence.fit(phase.config, y, scores)
    phase.save_json(catalog.CONFIDENCE_FILE, report.to_dict())
    phase.log_metrics(_confidence.metrics(report))
    return report


def leaderboard(phase: PhaseContext) -> pd.DataFrame:
    """How the candidate was chosen: the train phase's leaderboard (``model.estimator: auto``), else its one named estimator."""
    import pandas as pd

    path = phase.input_dir("train") / catalog.LEADERBOARD_FILE
    train = phase.input_result("train")
    if "selection" in train and path.is_file():
        return pd.read_parquet(path)
    name = train.get("estimator_name") or train["model"]["estimator"]
    return pd.DataFrame([{"rank": 1, "estimator": name, "chosen": True, "note": "named in model.estimator: no selection"}])


@dataclass(frozen=True)
class PrivacyUtility:
    """The utility table of private features (None when ``privacy.features`` is not set) and what it means."""

    table: pd.DataFrame | None
    note: str

    def _repr_html_(self) -> str:
        from html import escape

        head = "<h3>Privacy: utility of private features</h3>"
        if self.table is None:
            return f"{head}<p>{escape(self.note)}</p>"
        shown = self.table.assign(epsilon=self.table["epsilon"].map(lambda e: "clean" if e != e else f"{e:g}"))
        return f"{head}<p>{escape(self.note)}</p>" + shown.round(4).to_html(index=False, na_rep="–")


def privacy_utility(phase: PhaseContext) -> PrivacyUtility:
    """Holdout metric with clean vs private features at each ``privacy.utility_epsilons`` (and the configured epsilon); ``privacy_utility.parquet``.

    The candidate's own estimator and parameters are refitted on the train phase's split of the
    reference (re-read, hash-checked, split the same way) with the ``privacy.features`` columns
    privatized at each epsilon, and scored on the same holdout, clean (``metric``: the model
    trained on private features scores clean rows, as in production) and privatized too
    (``metric_private_holdout``); ``loss`` is the clean row's metric minus the private one. The
    table is computed by the data team from clean data: it is not itself a private release and
    spends no budget. Each metric is one noise draw on one split, so small losses are noise.
    """
    cfg = phase.config
    if cfg.privacy is None or cfg.privacy.features is None:
        return PrivacyUtility(None, "privacy.features is not configured: the model trained on clean features, so there is no utility cost to show.")
    trained = phase.input_result("train")
    schema = Schema.from_dict(trained["schema"])
    table = sources.read(cfg, trained["data"]["path"], purpose="privacy utility table")
    if table.sha256 != trained["data"]["sha256"]:
        raise PhaseError(f"{table.path}: the reference changed since the train phase read it (sha256 {table.sha256[:12]}… vs "
                         f"{trained['data']['sha256'][:12]}…). Fix: run the train DAG again (`workbench run`).")
    train, holdout = frames.split(table.frame, schema, cfg, source=str(table.path))
    feats, task = cfg.privacy.features, cfg.model.task
    columns = list(feats.columns)
    score = functools.partial(_fit_and_score, task=task, name=trained["estimator_name"], params=trained.get("params") or {},
                              seed=cfg.model.seed, schema=schema)
    epsilons = sorted({*cfg.privacy.utility_epsilons, float(feats.epsilon)})
    primary = PRIMARY[task]
    out = privacy.utility_table(train, holdout, fit_and_score=score, columns=columns, bounds={c: tuple(cfg.privacy.bounds[c]) for c in columns},
                                epsilons=epsilons, greater_is_better=HIGHER_IS_BETTER[primary])
    out = out.assign(metric_name=primary, configured=out["epsilon"].eq(float(feats.epsilon)))
    phase.save_table(catalog.PRIVACY_UTILITY_FILE, out)
    phase.log_metrics({f"privacy_{primary}_clean" if e != e else f"privacy_{primary}_eps_{e:g}": m for e, m in zip(out["epsilon"], out["metric"], strict=True)})
    at = out[out["configured"]].iloc[0]
    note = (f"Holdout {primary} of {trained['estimator_name']} trained with {', '.join(columns)} clean and with Laplace noise "
            f"(privacy.features: epsilon {feats.epsilon:g} per row, bounds from privacy.bounds). At epsilon {feats.epsilon:g} it loses "
            f"{at['loss']:.4f}. Computed by the data team from clean data: this table is not a private release.")
    return PrivacyUtility(out, note)


def _fit_and_score(train: pd.DataFrame, holdout: pd.DataFrame, *, task: str, name: str, params: dict[str, Any], seed: int, schema: Schema) -> float:
    """The candidate's estimator fitted on ``train``, its primary metric on ``holdout``."""
    pipeline = estimators.pipeline_for(task, name, params, seed, schema)
    pipeline.fit(frames.features(train, schema), frames.target(train, schema, task))
    y = frames.target(holdout, schema, task).to_numpy()
    return float(metric_functions(task)[PRIMARY[task]](y, estimators.predict(pipeline, holdout, schema, task)))


def _load(phase: PhaseContext, upstream: str) -> Any:
    logged = phase.input_result(upstream)["model"]
    return models.load_model(logged["uri"], logged["sha256"], label=f"{upstream} model", tracking_uri=phase.config.mlflow_uri)


def plot(phase: PhaseContext, evaluation: Evaluation) -> Any:
    """Bar chart of each model's primary metric with its interval; saved as ``metrics.png``."""
    from IPython.display import Image
    from matplotlib.figure import Figure

    primary = PRIMARY[evaluation.task]
    names = list(evaluation.metrics)
    vals = [evaluation.metrics[n][primary] for n in names]
    fig = Figure(figsize=(5.5, 3.2))
    ax = fig.subplots()
    err = [[v["value"] - v["low"] for v in vals], [v["high"] - v["value"] for v in vals]]
    ax.bar(names, [v["value"] for v in vals], yerr=err, capsize=6, color=["#2b6cb0", "#a0aec0", "#dd6b20"][: len(names)])
    ax.set_ylabel(f"holdout {primary}")
    ax.set_title(f"{primary} with {int(round(100 * _level(evaluation)))}% bootstrap intervals")
    low = min(v["low"] for v in vals if v["low"] == v["low"]) if primary == "roc_auc" else 0
    ax.set_ylim(max(0.0, low - 0.05) if primary == "roc_auc" else 0, None)
    path = phase.save_figure(catalog.METRICS_PLOT, fig)
    return Image(filename=str(path))


def _level(evaluation: Evaluation) -> float:
    return float(evaluation.decision.get("confidence", 0.95))


def unseen_by_champion(phase: PhaseContext, retrain_window: str = "") -> dict[str, Any]:
    """In a governed retrain: the candidate against the champion on holdout rows the champion never trained on.

    The retrain's holdout is a fresh split of the training window (``retrain_window``: the
    ``window.json`` the retrain wrote), so part of it was in the champion's training set, which
    flatters the champion; this comparison leaves those rows out, overall and on the rows that
    came from the window's batches. Needs ``data.id``. Saved as ``unseen.json``; outside a
    retrain (empty ``retrain_window``) nothing is computed or saved.
    """
    if not retrain_window:
        return {"status": "not computed: not a governed retrain"}
    window = read_json(Path(retrain_window))
    out = (_unseen(phase, window) if phase.config.data.id else None) or {"status": "not computed: needs data.id and a champion"}
    phase.save_json(catalog.UNSEEN_FILE, out)
    return out


def _unseen(phase: PhaseContext, window: dict[str, Any]) -> dict[str, Any] | None:
    import pandas as pd

    cfg, task, id_col = phase.config, phase.config.model.task, phase.config.data.id
    champion = registry.alias_version(cfg, "champion")
    if champion is None:
        return None
    tags = champion.tags
    try:
        seen_file = catalog.get_run(cfg, tags.get(registry.TAG + "run_id", "?")).phase_dir("train") / catalog.HOLDOUT_FILE
    except WorkbenchError:  # a missing or invalid run id: the holdout is gone either way
        seen_file = cfg.reports / "?" / "train" / catalog.HOLDOUT_FILE
    if not seen_file.is_file():
        return {"status": f"not computed: the champion's holdout {seen_file} is gone"}
    champion_data = sources.read(cfg, tags[registry.TAG + "data_path"], purpose="retrain evidence").frame[id_col].astype(str)
    trained_on = set(champion_data) - set(pd.read_parquet(seen_file, columns=[id_col])[id_col].astype(str))
    holdout = pd.read_parquet(phase.input_dir("train") / catalog.HOLDOUT_FILE)
    unseen = holdout[~holdout[id_col].astype(str).isin(trained_on)]
    batch_ids: set[str] = set()
    for src in window["sources"][1 if cfg.retrain.reference else 0:]:
        batch_ids |= set(sources.read(cfg, src["path"], purpose="retrain evidence").frame[id_col].astype(str))
    primary = PRIMARY[task]
    out: dict[str, Any] = {"status": "compared", "primary_metric": primary}
    loaded = registry.load(cfg, str(champion.version))
    schema = Schema.from_dict(phase.input_result("train")["schema"])
    models_ = {"challenger": (_load(phase, "train"), schema), "champion": (loaded.model, Schema.from_dict(loaded.schema))}
    fn = metric_functions(task)[primary]
    for name, rows in (("unseen_by_champion", unseen), ("window_batches", unseen[unseen[id_col].astype(str).isin(batch_ids)])):
        if len(rows) < 30:
            out[name] = {"rows": len(rows), "status": "too few rows"}
            continue
        y = frames.target(rows, schema, task).to_numpy()
        scores = {role: estimators.predict(model, rows, s, task) for role, (model, s) in models_.items()}
        diff = paired_difference(y, scores["challenger"], scores["champion"], task, seed=cfg.model.seed)
        verdict = comparison_verdict(diff)
        out[name] = {"rows": len(rows), "challenger": float(fn(y, scores["challenger"])), "champion": float(fn(y, scores["champion"])),
                     "challenger_vs_champion": diff, "verdict": verdict if verdict.startswith("no") else f"challenger {verdict}"}
    return out
