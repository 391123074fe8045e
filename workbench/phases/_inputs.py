"""What the monitor phases compare a batch with: the model's cached reference, and the scored batch.

Reference statistics are computed once per model version and cached in
``<store>/profiles/<project>/v<version>/``: the holdout scored by that version (and by the
baseline) with its labels, and the drift profile of the training data (built on first use, only
the drift phase needs it). The scored batch is re-read and hash-checked, with the score
phase's predictions joined; its numeric features are given as the model saw them (text the score
phase let through, recorded per row in ``data_issues``, as missing), except for the drift phase,
which compares the batch as it arrived so that a retyped column is named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench._io import atomic_path
from workbench.analyses import drift
from workbench.data import frames, sources
from workbench.data.dataset import Schema
from workbench.exceptions import PhaseError
from workbench.registry import estimators
from workbench.registry.store import client_for
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.runner.context import PhaseContext

SCORED_HOLDOUT = {"champion": "reference_scored.parquet", "baseline": "reference_scored_baseline.parquet"}


@dataclass
class Reference:
    """What a batch is compared with: the champion's cached reference statistics."""

    version: str
    semver: str
    schema: Schema
    scored_by: dict[str, pd.DataFrame]
    folder: Path
    mode: str = "exact"
    config: Config | None = field(default=None, repr=False)

    @cached_property
    def profile(self) -> Any:
        """The data-drift profile of the training data, built on first use (only the drift phase needs it)."""
        from filelock import FileLock

        with FileLock(str(self.folder / ".lock")):
            if not (self.folder / self.mode / "profile.json").exists():
                tags = dict(client_for(self.config).get_model_version(self.config.project, self.version).tags)
                drift.build_profile(reference_frame(self.config, tags), numeric=self.numeric, categorical=self.categorical,
                                    mode=self.mode).save(self.folder / self.mode)
        return drift.ReferenceProfile.load(self.folder / self.mode)

    @property
    def scored(self) -> pd.DataFrame:
        """The holdout with labels (``y``) and the champion's scores (``score``)."""
        return self.scored_by["champion"]

    @property
    def numeric(self) -> list[str]:
        """Numeric model features."""
        return [c for c in self.schema.features if c in self.schema.numeric]

    @property
    def categorical(self) -> list[str]:
        """Categorical model features."""
        return [c for c in self.schema.features if c not in self.schema.numeric]


def reference(config: Config, *, mode: str = "exact", alias: str = "champion") -> Reference:
    """The reference statistics of the version holding ``alias`` (or of version number ``alias``), built on first use and cached per version.

    ``scored_by["champion"]`` holds that version's own scores on its holdout (the champion when
    monitoring; a new challenger when audited at registration), ``scored_by["baseline"]`` the baseline's.
    """
    from filelock import FileLock

    mv = registry.alias_version(config, alias) if not alias.isdigit() else registry.resolve(config, alias)  # an alias or a version number
    if mv is None:
        raise PhaseError(f"model {config.project!r} has no {alias} version. Fix: run `workbench run` first.")
    tags = mv.tags
    schema = Schema.from_dict(json.loads(tags[registry.TAG + "schema"]))
    folder = config.store / "profiles" / config.project / f"v{mv.version}"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".lock")):
        for role, name in SCORED_HOLDOUT.items():
            # a first version is audited before it becomes champion, when no baseline is registered yet
            if not (folder / name).exists() and (role == "champion" or registry.alias_version(config, role) is not None):
                _score_holdout(config, tags, schema, folder / name, str(mv.version) if role == "champion" else role)
    import pandas as pd

    scored = {role: pd.read_parquet(folder / name) for role, name in SCORED_HOLDOUT.items() if (folder / name).exists()}
    return Reference(str(mv.version), tags.get(registry.TAG + "semver", ""), schema, scored, folder, mode, config)


def reference_frame(config: Config, tags: dict[str, str]) -> pd.DataFrame:
    """The training data of the version, refused if its bytes changed since registration (or absent: trained across sites)."""
    sites = registry.federated_sites(tags)
    if sites is not None:
        raise PhaseError(f"model {config.project!r} was trained across sites ({', '.join(sites)}) by `workbench federated train`: it has no "
                         "reference file to compare a batch with. Fix: `workbench federated monitor --batch NAME --mode sketch`.")
    path = Path(tags.get(registry.TAG + "data_path", str(config.data.reference)))
    table = sources.read(config, path, purpose="reference profile")
    if table.sha256 != tags[registry.TAG + "data_sha256"]:
        raise PhaseError(f"{path}: the reference data changed since the champion was registered "
                         f"(sha256 {table.sha256[:12]}… vs {tags[registry.TAG + 'data_sha256'][:12]}…). "
                         "Fix: restore the file, or register a new champion trained on it.")
    return table.frame


def _score_holdout(config: Config, tags: dict[str, str], schema: Schema, target: Path, alias: str) -> None:
    """Score the champion's holdout (its labels kept) with the model holding ``alias``.

    The baseline's scores are kept too: when a batch falls back to the baseline, its
    prediction drift is measured against the baseline's own reference scores.
    """
    import pandas as pd

    holdout_path = config.reports / tags.get(registry.TAG + "run_id", "") / "train" / catalog.HOLDOUT_FILE
    if holdout_path.is_file():
        holdout = pd.read_parquet(holdout_path)
    else:  # reports cleaned up: the split is deterministic, so recompute it
        holdout = frames.split(reference_frame(config, tags), schema, config)[1]
    model = registry.load(config, alias)
    scored = frames.features(holdout, schema)
    for col in (c for c in schema.sensitive if c not in scored):  # for the fairness audit
        scored[col] = holdout[col].to_numpy()
    scored["y"] = frames.target(holdout, schema, config.model.task).to_numpy()
    scored["score"] = estimators.predict(model.model, holdout, schema, config.model.task)
    with atomic_path(target) as tmp:
        scored.reset_index(drop=True).to_parquet(tmp, index=False)


def scored_batch(phase: PhaseContext, *, as_read: bool = False) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The batch the score phase scored (re-read and hash-checked) with its predictions joined.

    Numeric features stored as text are converted as the model saw them (not a number: missing),
    unless ``as_read``.
    """
    import pandas as pd

    result = phase.input_result("score")
    table = sources.read(phase.config, result["batch"]["path"], purpose="drift")
    if table.sha256 != result["batch"]["sha256"]:
        raise PhaseError(f"{table.path}: the batch changed after it was scored. Fix: score it again (`workbench monitor --batch`).")
    predictions = pd.read_parquet(phase.input_dir("score") / catalog.PREDICTIONS_FILE)
    frame = table.frame.reset_index(drop=True)
    frame["score"], frame["y"] = predictions["score"].to_numpy(), predictions["label"].to_numpy()
    if "prediction_id" in predictions:  # runs since issue 16: feedback joins by it
        frame["prediction_id"] = predictions["prediction_id"].to_numpy()
    if not as_read:
        checked = result.get("schema_check", {}).get("columns", {})
        for col in (c for c in checked if c in frame and not pd.api.types.is_numeric_dtype(frame[c])):
            frame[col] = pd.to_numeric(frame[col].astype(object), errors="coerce").astype(float)
    return frame, result
