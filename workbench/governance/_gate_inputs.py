"""What the gate compares: the candidate version, the reference it is judged against, and one holdout both are scored on.

The holdout is the candidate's own: the train phase's split of the run that registered it
(``reports/<run_id>/train/holdout.parquet``), or, when that folder was cleaned up, the same
deterministic split recomputed from the version's training data after its sha256 check. Every
model is loaded through :func:`workbench.registry.load` (hash-checked skops files, no pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.data import frames, sources
from workbench.data.dataset import Schema
from workbench.exceptions import DataError, ParameterError, RegistryError, WorkbenchError
from workbench.registry import estimators, models
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from workbench.config import Config

AGAINST = ("champion", "baseline")
# The evaluate phase's defaults (notebooks/30_evaluate.ipynb parameters); a run that overrode them records its values in the manifest.
EVALUATE_DEFAULTS = {"n_bootstrap": 200, "confidence": 0.95}


@dataclass(frozen=True)
class Model:
    """One registered model as the gate uses it."""

    version: str
    semver: str
    model: Any
    schema: Schema

    @property
    def label(self) -> str:
        """``v3 (1.1.0)``."""
        return f"v{self.version} ({self.semver})"


@dataclass(frozen=True)
class Holdout:
    """The rows every model is scored on, with where they came from and the evaluate phase's bootstrap settings."""

    frame: pd.DataFrame
    source: str
    y: np.ndarray
    n_bootstrap: int
    confidence: float


def candidate(config: Config, ref: str | None) -> Any:
    """The version to gate: ``ref`` (number, semver or alias), else the ``challenger``, else the newest candidate version."""
    if config.tracking_uri is None and not (config.store / "mlflow.db").is_file():  # asking MLflow would create an empty store
        raise ParameterError(f"model {config.project!r} has no registered version to gate. Fix: run `workbench run` first.")
    if ref:
        try:
            mv = registry.resolve(config, ref)
        except RegistryError as exc:
            raise ParameterError(f"--version: {exc}") from exc
    else:
        mv = registry.alias_version(config, "challenger")
        if mv is None:
            found = registry.candidate_versions(config)
            if not found:
                raise ParameterError(f"model {config.project!r} has no registered version to gate. Fix: run `workbench run` first.")
            mv = found[-1]
    if mv.tags.get(registry.TAG + "kind") != "candidate":
        raise ParameterError(f"--version {ref}: v{mv.version} ({mv.tags.get(registry.TAG + 'semver', '?')}) is a "
                             f"{mv.tags.get(registry.TAG + 'kind', 'foreign')} version, not a trained candidate. "
                             "Fix: pass a candidate's version number or semantic version.")
    return mv


def reference(config: Config, against: str) -> Any:
    """The version holding alias ``against``; ParameterError (exit 2) naming the fix when there is none."""
    if against not in AGAINST:
        raise ParameterError(f"--against {against!r} is not valid. Valid: {', '.join(AGAINST)}.")
    mv = registry.alias_version(config, against)
    if mv is None:
        fix = ("run `workbench run` (the first accepted version becomes champion), or gate --against baseline" if against == "champion"
               else "the baseline is registered beside the first champion: run `workbench run` first")
        raise ParameterError(f"model {config.project!r} has no {against} to compare with. Fix: {fix}.")
    return mv


def load(config: Config, mv: Any) -> Model:
    """A registered version loaded after its hash check."""
    loaded = registry.load(config, str(mv.version))
    return Model(str(loaded.version), loaded.semver, loaded.model, Schema.from_dict(loaded.schema))


def run_baseline(config: Config, mv: Any) -> Model | None:
    """The static baseline trained in the candidate's own run (what its evaluate phase compared with), or None when the run is gone."""
    run = _run(config, mv.tags.get(registry.TAG + "run_id", ""))
    logged = (run.read("baseline") or {}).get("model") if run is not None else None
    if not logged:
        return None
    model = models.load_model(logged["uri"], logged["sha256"], label=f"baseline of run {run.run_id}", tracking_uri=config.mlflow_uri)
    return Model(f"run {run.run_id}", "baseline", model, Schema.from_dict(json.loads(mv.tags[registry.TAG + "schema"])))


def holdout(config: Config, mv: Any) -> Holdout:
    """The candidate's holdout with its labels (see the module docstring)."""
    import pandas as pd

    tags = mv.tags
    schema = Schema.from_dict(json.loads(tags[registry.TAG + "schema"]))
    run = _run(config, tags.get(registry.TAG + "run_id", ""))
    overrides = ((run.manifest.get("parameters") or {}).get("evaluate") or {}) if run is not None else {}
    params = {**EVALUATE_DEFAULTS, **{k: v for k, v in overrides.items() if k in EVALUATE_DEFAULTS}}
    path = run.phase_dir("train") / catalog.HOLDOUT_FILE if run is not None else None
    if path is not None and path.is_file():
        frame, source = pd.read_parquet(path), str(path)
    else:
        frame, source = _split_again(config, tags, schema), f"{tags.get(registry.TAG + 'data_path')} (split again: the run folder is gone)"
    y = frames.target(frame, schema, config.model.task).to_numpy()
    return Holdout(frame, source, y, int(params["n_bootstrap"]), float(params["confidence"]))


def scores(config: Config, model: Model, rows: Holdout, *, role: str) -> np.ndarray:
    """``model``'s scores on the holdout; ParameterError when the holdout lacks features the model needs."""
    import numpy as np

    missing = sorted(set(model.schema.features) - set(rows.frame.columns))
    if missing:
        raise ParameterError(f"{role} {model.label} is not comparable: the candidate's holdout lacks its features {missing}. "
                             "Fix: gate --against baseline, or compare versions trained on the same feature schema.")
    return np.asarray(estimators.predict(model.model, rows.frame, model.schema, config.model.task))


def _run(config: Config, run_id: str) -> catalog.RunInfo | None:
    try:
        return catalog.get_run(config, run_id) if run_id else None
    except WorkbenchError:  # an invalid or missing run id: the folder is gone either way
        return None


def _split_again(config: Config, tags: dict[str, str], schema: Schema) -> pd.DataFrame:
    """The train phase's split, recomputed from the version's training data (refused when its bytes changed)."""
    path = tags.get(registry.TAG + "data_path", "")
    if not path or registry.federated_sites(tags) is not None:
        raise DataError(f"v{tags.get(registry.TAG + 'semver', '?')}: its run folder is gone and it has no training file to split again "
                        "(trained across sites?). Fix: gate a version whose run folder is in `reports`.")
    table = sources.read(config, path, purpose="gate holdout")
    if table.sha256 != tags[registry.TAG + "data_sha256"]:
        raise DataError(f"{path}: the training data changed since the version was registered (sha256 {table.sha256[:12]}… vs "
                        f"{tags[registry.TAG + 'data_sha256'][:12]}…), so its holdout cannot be rebuilt. Fix: restore the file.")
    return frames.split(table.frame, schema, config, source=path)[1]
