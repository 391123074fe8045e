"""The context a phase notebook works in: its config, run folder, MLflow run and outputs.

Under the runner, the run folder and the MLflow parent run already exist and the runner
owns the manifest. Run by hand (JupyterLab, plain papermill, nbval) with an empty
``run_id``, the phase opens a standalone run of kind ``notebook`` and records its own
status, so later phases and apps find its results the same way.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import apply_safe_env, atomic_path, write_json, write_text
from workbench.config import load_config
from workbench.data import preflight
from workbench.registry.store import use_store
from workbench.reports import catalog, manifest
from workbench.runner import dag
from workbench.runner.params import declared_names

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config

RESULT_SCHEMA_VERSION = 1


@dataclass
class PhaseContext:
    """Where one phase reads its inputs and writes its catalog."""

    name: str
    config: Config
    run_id: str
    run_dir: Path
    params: dict[str, Any]
    standalone: bool
    mlflow_run_id: str | None = None
    saved: list[str] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        """This phase's results folder."""
        return self.run_dir / self.name

    def input_dir(self, phase: str) -> Path:
        """Results of an upstream phase: this run's, else the latest run where it succeeded."""
        return catalog.phase_dir(self.config, phase, run_id=self.run_id)

    def input_result(self, phase: str) -> dict[str, Any]:
        """The ``result.json`` of an upstream phase."""
        return catalog.phase_result(self.config, phase, run_id=self.run_id)

    def save_json(self, name: str, obj: Any) -> Path:
        """Write a JSON result (stamped with a schema version) and log it to MLflow."""
        payload = {"schema_version": RESULT_SCHEMA_VERSION, **obj} if isinstance(obj, dict) else obj
        return self._logged(write_json(self.dir / name, payload))

    def save_text(self, name: str, text: str) -> Path:
        """Write a text result (HTML, Markdown) atomically and log it to MLflow."""
        return self._logged(write_text(self.dir / name, text))

    def save_table(self, name: str, frame: pd.DataFrame) -> Path:
        """Write a Parquet table atomically and log it to MLflow."""
        with atomic_path(self.dir / name) as tmp:
            frame.to_parquet(tmp, index=False)
        return self._logged(self.dir / name)

    def save_figure(self, name: str, figure: Any) -> Path:
        """Write a matplotlib figure as PNG and log it to MLflow."""
        with atomic_path(self.dir / name) as tmp:
            figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        return self._logged(self.dir / name)

    def _logged(self, path: Path) -> Path:
        import mlflow

        if self.mlflow_run_id:
            mlflow.log_artifact(str(path), artifact_path=self.name)
        self.saved.append(path.name)
        return path

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """Log numeric metrics to this phase's MLflow run."""
        import mlflow

        clean = {k: float(v) for k, v in metrics.items() if v is not None}
        if clean:
            mlflow.log_metrics(clean)

    def finish(self, summary: dict[str, Any] | None = None) -> Path:
        """Write ``result.json`` (marking the phase done) and close the MLflow run."""
        import mlflow

        path = self.save_json(catalog.RESULT_FILE, {"phase": self.name, "run_id": self.run_id, **(summary or {})})
        mlflow.end_run("FINISHED")
        if self.standalone:
            _mark_standalone(self.run_dir, self.name, "succeeded")
        return path


def start_phase(name: str, *, config: str | Path, run_id: str = "", params: dict[str, Any] | None = None) -> PhaseContext:
    """Open a phase: load the config, find or create the run folder, start the MLflow run.

    Parameters
    ----------
    name : str
        The phase (a name in :data:`workbench.runner.dag.BY_NAME`).
    config, run_id : str
        The notebook's ``config`` and ``run_id`` parameters; an empty ``run_id`` opens a standalone run.
    params : dict, optional
        The phase's other parameters, logged to MLflow and recorded with its results. By default
        they are read where papermill injected them: the value of every name the phase notebook's
        ``parameters`` cell declares, so a notebook never lists its parameters twice.
    """
    apply_safe_env()
    cfg = load_config(config)
    preflight.check(cfg)
    if params is None:
        params = injected_params(name, namespace=_caller_namespace())
    standalone = not run_id
    run_id = manifest.check_run_id(run_id) if run_id else _new_standalone(cfg, name)
    ctx = PhaseContext(name, cfg, run_id, cfg.reports / run_id, dict(params), standalone)
    ctx.dir.mkdir(parents=True, exist_ok=True)
    ctx.mlflow_run_id = _start_mlflow(ctx)
    return ctx


def injected_params(name: str, *, namespace: dict[str, Any]) -> dict[str, Any]:
    """The values of the parameters phase ``name``'s notebook declares (``config`` and ``run_id`` aside), from ``namespace``."""
    phase = dag.BY_NAME.get(name)
    if phase is None:
        return {}
    return {key: namespace[key] for key in declared_names(phase.path) if key not in ("config", "run_id") and key in namespace}


def _caller_namespace() -> dict[str, Any]:
    """Where the notebook's parameters live: the kernel's user namespace, else the caller's globals (a plain script)."""
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else sys._getframe(2).f_globals


def _new_standalone(config: Config, name: str) -> str:
    run_id = manifest.new_run_id("notebook")
    run_dir = config.reports / run_id
    run_dir.mkdir(parents=True)
    manifest.write(run_dir, manifest.new(run_id, kind="notebook", config=config, phases={name: ""}))
    _mark_standalone(run_dir, name, "running")
    return run_id


def _mark_standalone(run_dir: Path, name: str, status: str) -> None:
    data = manifest.read(run_dir)
    entry = data["phases"][name]
    entry["status"] = status
    entry["started" if status == "running" else "ended"] = manifest.now()
    if status != "running":
        data["status"], data["ended"] = status, entry["ended"]
    manifest.write(run_dir, data)


def _start_mlflow(ctx: PhaseContext) -> str:
    import mlflow

    use_store(ctx.config)
    if mlflow.active_run() is not None:
        mlflow.end_run()
    parent = manifest.read(ctx.run_dir).get("mlflow_parent_run_id")
    tags = {"workbench.run_id": ctx.run_id, "workbench.phase": ctx.name}
    if parent:
        tags["mlflow.parentRunId"] = parent
    run = mlflow.start_run(run_name=ctx.name, tags=tags)
    (ctx.dir / "mlflow_run_id").write_text(run.info.run_id)
    scalar = {k: v for k, v in ctx.params.items() if isinstance(v, (str, int, float, bool))}
    if scalar:
        mlflow.log_params(scalar)
    return run.info.run_id
