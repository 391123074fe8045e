"""The runner: plans the phase DAG and executes each phase notebook with papermill.

Independent phases run in parallel (``jobs`` workers, default = cores). Every executed
notebook is written to a temp path and renamed into ``reports/<run_id>/notebooks/``, also
when it fails, and the manifest records each phase's outcome. Failure is decided from the
exception papermill or nbclient raises, never from the output notebook: a dead kernel or a
timeout leaves cells that look completed.

SIGINT and SIGTERM stop a run (:mod:`~workbench.runner.interrupt`): its kernels are killed,
running phases and the run become ``interrupted``, their MLflow runs ``KILLED``, and the exit
code is 128 + the signal (130, 143). An error of the runner itself (disk full, a read-only
folder) kills the kernels, records the run as ``failed`` where it still can, and is raised.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from workbench._io import write_text
from workbench.data import preflight, sources
from workbench.exceptions import ParameterError, WorkbenchError
from workbench.registry import estimators, store
from workbench.registry.versions import alias_version, federated_sites
from workbench.reports import catalog, manifest
from workbench.runner import dag as phases_mod
from workbench.runner import interrupt
from workbench.runner import params as params_mod

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.runner.dag import Phase


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run."""

    run_id: str
    run_dir: Path
    manifest: dict[str, Any]

    @property
    def ok(self) -> bool:
        """True when every planned phase succeeded."""
        return self.manifest["status"] == "succeeded"

    @property
    def exit_code(self) -> int:
        """0 when all phases succeeded, 128 + the signal when interrupted (130, 143), else 1."""
        if self.manifest["status"] == "interrupted" and self.manifest.get("signal") in signal.Signals.__members__:
            return 128 + signal.Signals[self.manifest["signal"]].value
        return 0 if self.ok else 1


def assign_params(values: dict[str, Any], specs: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Give each ``name=value`` to every planned phase that declares it; refuse unknown names."""
    per_phase: dict[str, dict[str, Any]] = {name: {} for name in specs}
    for name, value in values.items():
        params_mod.check_value(name, value)
        takers = [phase for phase, spec in specs.items() if name in spec and name not in ("config", "run_id")]
        if not takers:
            known = sorted({n for spec in specs.values() for n in spec} - {"config", "run_id"})
            raise ParameterError(f"unknown parameter {name!r} for phases {', '.join(specs)}. Declared: {', '.join(known)}. "
                                 "Fix: pass one of the declared names with -p NAME=VALUE.")
        for phase in takers:
            per_phase[phase][name] = value
    return per_phase


def run(config: Config, *, phases: list[str] | None = None, jobs: int | None = None, run_id: str | None = None,
        params: dict[str, Any] | None = None, kind: str = "train", out: TextIO = sys.stderr) -> RunResult:
    """Validate, plan and execute a run; see the module docstring.

    Everything that can be refused (phase names, parameters, run id, model params) is
    checked before anything is written.
    """
    if jobs is not None and jobs < 1:
        raise ParameterError(f"--jobs must be 1 or more, got {jobs}. Fix: pass --jobs 1 or more, or leave it out (default: the number of cores).")
    planned = phases_mod.select(phases, phases_mod.DAGS[kind])
    specs = {p.name: params_mod.declared(p.path) for p in planned}
    per_phase = assign_params(params or {}, specs)
    for p in planned:
        params_mod.validate(p.path, per_phase[p.name], specs[p.name])
    preflight.check(config)
    estimators.check_config(config)
    if kind == "monitor":
        refuse_federated_champion(config)
    run_id = manifest.check_run_id(run_id) if run_id else manifest.new_run_id(kind)
    run_dir = config.reports / run_id
    if run_dir.exists():
        raise ParameterError(f"run {run_id!r} already exists in {config.reports}. Fix: choose another --run-id.")
    sources.ensure_demo_data(config)
    experiment_id = store.init_store(config)  # once, serially, before anything runs in parallel
    interrupt.reap(config)  # earlier runs whose runner died become interrupted
    if kind == "monitor" and alias_version(config, "champion") is None:
        raise WorkbenchError(f"model {config.project!r} has no champion to monitor yet. Fix: run `workbench run` first.")
    (run_dir / "notebooks").mkdir(parents=True)
    with interrupt.Stop() as stop:
        parent = store.client_for(config).create_run(experiment_id, run_name=run_id, tags={"workbench.run_id": run_id, "workbench.kind": kind})
        data = manifest.new(run_id, kind=kind, config=config, phases={p.name: f"notebooks/{p.notebook}" for p in planned},
                            extra={"mlflow_parent_run_id": parent.info.run_id, "mlflow_experiment_id": experiment_id,
                                   "parameters": per_phase, "jobs": jobs or config.runner.jobs or os.cpu_count() or 1,
                                   "runner": manifest.runner()})
        manifest.write(run_dir, data)
        _share_cores(data["jobs"])
        _Executor(config, run_dir, data, planned, per_phase, out, stop).execute(data["jobs"])
    return RunResult(run_id, run_dir, data)


def refuse_federated_champion(config: Config) -> None:
    """Refuse (ParameterError, exit 2) to monitor centrally a champion trained across sites: it has no reference file.

    The score and drift phases compare a batch with the champion's training data; a version from
    ``workbench federated train`` has only the sketch profile its sites computed, which the
    federated monitor uses. Checked before anything is written (no store yet: no champion).
    """
    if not config.tracking_uri and not (config.store / "mlflow.db").is_file():
        return
    mv = alias_version(config, "champion")
    sites = federated_sites(dict(mv.tags)) if mv is not None else None
    if sites is not None:
        raise ParameterError(f"model {config.project!r} v{mv.version} (champion, {mv.tags.get('workbench.semver', '?')}) was trained across sites "
                             f"({', '.join(sites)}) by `workbench federated train`: it has no reference file for the score and drift phases "
                             "to compare a batch with, only the sketch profile its sites computed. Fix: monitor it where the data lives: "
                             "`workbench federated monitor --batch NAME --mode sketch` (or promote a centrally trained version).")


class _Executor:
    """Runs ready phases on a thread pool; the main thread alone writes the manifest."""

    def __init__(self, config: Config, run_dir: Path, data: dict[str, Any], planned: list[Phase],
                 per_phase: dict[str, dict[str, Any]], out: TextIO, stop: interrupt.Stop) -> None:
        self.config, self.run_dir, self.data, self.planned = config, run_dir, data, planned
        self.per_phase, self.out, self.t0, self.stop = per_phase, out, time.perf_counter(), stop

    def execute(self, jobs: int) -> None:
        running: dict[Future[str | None], Phase] = {}
        pool = ThreadPoolExecutor(max_workers=jobs)
        try:
            while True:
                self._skip_blocked()
                for phase in self._ready(running.values()):
                    self._set(phase.name, "running")
                    running[pool.submit(self._run_phase, phase)] = phase
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    phase = running.pop(future)
                    error = future.result()
                    self._set(phase.name, *self._outcome(error))
                if self.stop.signum:  # phases queued behind the pool's workers never start
                    for future in [f for f in running if f.cancel()]:
                        self._set(running.pop(future).name, "skipped", f"skipped: run interrupted by {self.stop.name}")
        except BaseException as exc:
            interrupt.kill_kernels()  # an error of the runner itself: no kernel outlives it
            pool.shutdown(wait=True, cancel_futures=True)
            self._abort(exc)
            if isinstance(exc, OSError) and not exc.filename:  # name the folder it could not write
                raise OSError(exc.errno, exc.strerror, str(self.run_dir)) from exc
            raise
        pool.shutdown(wait=True)
        self._close()

    def _outcome(self, error: str | None) -> tuple[str, str | None]:
        if error and self.stop.signum:
            return "interrupted", f"interrupted by {self.stop.name}; {error}"
        return ("failed" if error else "succeeded"), error

    def _ready(self, running: Any) -> list[Phase]:
        if self.stop.signum:
            return []
        busy = {p.name for p in running}
        status = {n: e["status"] for n, e in self.data["phases"].items()}
        return [p for p in self.planned if status[p.name] == "pending" and p.name not in busy
                and all(status[u] == "succeeded" for u in phases_mod.upstream_in(p, self.planned))]

    def _skip_blocked(self) -> None:
        status = {n: e["status"] for n, e in self.data["phases"].items()}
        for p in self.planned:
            bad = [u for u in phases_mod.upstream_in(p, self.planned) if status[u] in ("failed", "skipped", "interrupted")]
            if status[p.name] == "pending" and bad:
                self._set(p.name, "skipped", f"skipped: upstream phase {bad[0]!r} {status[bad[0]]}")
                status[p.name] = "skipped"

    def _set(self, name: str, status: str, error: str | None = None) -> None:
        entry = self.data["phases"][name]
        entry["status"] = status
        if status == "running":
            entry["started"], entry["_t"] = manifest.now(), time.perf_counter()
        else:
            entry["ended"] = manifest.now()
            start = entry.pop("_t", None)
            entry["duration_s"] = round(time.perf_counter() - start, 3) if start else 0.0
            entry["error"] = error
            if status in ("succeeded", "failed"):
                entry["html"] = f"html/{Path(entry['notebook']).stem}.html"
        manifest.write(self.run_dir, {**self.data, "phases": _public(self.data["phases"])})
        took = f"{entry['duration_s']:6.1f}s" if entry.get("duration_s") is not None else ""
        print(f"[{time.perf_counter() - self.t0:6.1f}s] {name:<11} {status:<9} {took} {error or ''}".rstrip(), file=self.out, flush=True)

    def _run_phase(self, phase: Phase) -> str | None:
        values = {"config": str(self.config.source), "run_id": self.run_dir.name, **self.per_phase[phase.name]}
        output = self.run_dir / "notebooks" / phase.notebook
        error = execute_notebook(phase.path, output, values, kernel=self.config.runner.kernel, timeout=self.config.runner.timeout_s)
        export_html(output, self.run_dir / "html" / f"{output.stem}.html")
        if error and self.stop.signum:
            interrupt.kill_mlflow_phase(self.config, self.run_dir / phase.name)
        elif error:
            _fail_mlflow_run(self.config, self.run_dir / phase.name)
        return error

    def _close(self) -> None:
        if self.stop.signum:
            for name, entry in self.data["phases"].items():
                if entry["status"] == "pending":
                    self._set(name, "skipped", f"skipped: run interrupted by {self.stop.name}")
            self.data["signal"] = self.stop.name
        statuses = [e["status"] for e in self.data["phases"].values()]
        self.data["status"] = ("interrupted" if self.stop.signum else
                               "succeeded" if all(s == "succeeded" for s in statuses) else "failed")
        self.data["ended"] = manifest.now()
        self.data["duration_s"] = round(time.perf_counter() - self.t0, 3)
        manifest.write(self.run_dir, self.data)
        state = {"succeeded": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}[self.data["status"]]
        store.client_for(self.config).set_terminated(self.data["mlflow_parent_run_id"], state)

    def _abort(self, exc: BaseException) -> None:
        """Record a run the runner itself could not finish, as far as the disk and the store still allow."""
        error = f"runner error: {type(exc).__name__}: {exc}"
        self.data.update(manifest.interrupted(self.data, error, ended=manifest.now()), status="failed", error=error)
        try:
            manifest.write(self.run_dir, {**self.data, "phases": _public(self.data["phases"])})
            store.client_for(self.config).set_terminated(self.data["mlflow_parent_run_id"], "FAILED")
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass


def _share_cores(jobs: int) -> None:
    """Give each kernel its share of the cores: OpenMP (HistGradientBoosting) spin-waits and
    slows down many-fold when parallel kernels each start one thread per core."""
    share = str(max(1, (os.cpu_count() or 1) // max(1, jobs)))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, share)


def _public(phases: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n: {k: v for k, v in e.items() if not k.startswith("_")} for n, e in phases.items()}


def execute_notebook(template: Path, output: Path, values: dict[str, Any], *, kernel: str, timeout: int) -> str | None:
    """Execute one notebook into ``output`` (via a temp file); return None or the error text."""
    import papermill

    tmp = output.with_name(f".{output.stem}.partial.ipynb")  # papermill wants .ipynb
    try:
        papermill.execute_notebook(str(template), str(tmp), parameters=values, kernel_name=kernel, progress_bar=False,
                                   execution_timeout=timeout, cwd=str(template.parent), log_output=False,
                                   # ipykernel 7 warns on every start that loopback TCP is unencrypted
                                   extra_arguments=["--IPKernelApp.log_level=ERROR"], kernel_manager_class=_quiet_kernel_manager())
        return None
    except papermill.PapermillExecutionError as exc:
        return f"{exc.ename}: {exc.evalue} (cell {exc.exec_count}); see {output}"
    except Exception as exc:  # dead kernel, timeout, missing kernel: nbclient raises these directly
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'no message'}; see {output}"
    finally:
        if tmp.exists():
            os.replace(tmp, output)


@functools.cache
def _quiet_kernel_manager() -> type:
    """A kernel manager that does not interrupt a kernel it is about to shut down.

    jupyter_client sends SIGINT before every shutdown request, so an idle kernel logs
    ``KeyboardInterrupt caught in kernel`` at ERROR on every normal end of a notebook. The
    shutdown request (and the kill after its grace period) stops the kernel anyway, also one
    still busy after a timeout (nbclient interrupts that one itself first).
    """
    from jupyter_client.manager import AsyncKernelManager

    class QuietShutdownKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            await super()._async_launch_kernel(kernel_cmd, **kw)
            interrupt.track_kernel(getattr(self.provisioner, "pgid", None))  # so a signal can stop it

        async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            pgid = getattr(self.provisioner, "pgid", None)
            try:
                await super()._async_shutdown_kernel(now=now, restart=restart)
            finally:
                interrupt.untrack_kernel(pgid)

        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return QuietShutdownKernelManager


def export_html(notebook: Path, target: Path) -> Path | None:
    """HTML of an executed notebook with code hidden, for people; None if it cannot be exported."""
    import nbformat
    from nbconvert import HTMLExporter

    if not notebook.exists():
        return None
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    return write_text(target, body)


def _fail_mlflow_run(config: Config, phase_dir: Path) -> None:
    marker = phase_dir / catalog.MLFLOW_RUN_ID_FILE
    if marker.exists():
        store.client_for(config).set_terminated(marker.read_text().strip(), "FAILED")
