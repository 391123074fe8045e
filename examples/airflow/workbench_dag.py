"""Airflow DAGs for a workbench project: the lifecycle, daily monitoring with the retrain event loop, weekly scheduled retraining.

An example to copy into your Airflow ``dags/`` folder, not a dependency: the workbench does not
install Airflow, and this file imports it only when Airflow loads it (README, "Scheduling").

Three DAGs, one task per phase of the runner's DAG (``workbench/runner/dag.py``):

- ``workbench_lifecycle`` (triggered by hand): validate, train, baseline, evaluate, register,
  responsible, model_card;
- ``workbench_monitor`` (daily): score, drift, fairness, explain, impact, card on the newest batch,
  then the event loop ``workbench retrain --trigger event --gate``;
- ``workbench_retrain`` (weekly): ``workbench retrain --trigger scheduled --gate``.

Two styles for the phases, chosen by the environment variable ``WORKBENCH_AIRFLOW_STYLE``:

- ``papermill`` (default): the papermill provider's ``PapermillOperator`` runs each phase notebook
  in the kernel ``WORKBENCH_KERNEL``, with the parameters the runner gives it: ``config``,
  ``run_id`` (empty: the phase records a standalone run and reads its inputs from the latest run
  where the upstream phase succeeded) and, for ``score``, ``batch`` (the DAG parameter; empty: the
  newest file under ``data.batches``). Executed notebooks go to ``WORKBENCH_PROJECT/airflow/DAG/RUN/``,
  a folder the DAG's first task creates.
- ``cli``: a ``BashOperator`` runs ``workbench run --phases NAME`` per lifecycle phase, so every
  phase gets the runner's parameter checks, run manifest, MLflow parent run and HTML report;
  monitoring is one task, ``workbench monitor`` (every batch under ``data.batches``), as the CLI
  runs the monitor phases together.

Overlap: ``max_active_runs=1`` keeps a DAG from starting a run while its previous run is still going;
the ``workbench`` commands also hold the project's lock file (the one the cron and systemd recipes in
examples/scheduling/ use) and wait for it, so they never write the store while another job does.
Retries: two, ten minutes apart (a kernel that died, a lock held longer than an hour).

On the Airflow workers: the project folder, the workbench installed in its own virtualenv, and a
kernel from that virtualenv for the papermill style:
``/srv/churn/.venv/bin/python -m ipykernel install --user --name workbench``; and for that style
``pip install apache-airflow-providers-papermill`` in Airflow's environment.
"""

from __future__ import annotations

import os
import shlex
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

try:
    from airflow.sdk import DAG  # Airflow 3
except ImportError:
    try:
        from airflow import DAG  # Airflow 2
    except ImportError:  # not under Airflow (tests/ops read the task tables below): no DAG is built
        DAG = None

STYLES = ("papermill", "cli")
STYLE = os.environ.get("WORKBENCH_AIRFLOW_STYLE", "papermill")
PROJECT = Path(os.environ.get("WORKBENCH_PROJECT", "/srv/churn"))  # the folder holding workbench.yaml
CONFIG = os.environ.get("WORKBENCH_CONFIG", str(PROJECT / "workbench.yaml"))
WORKBENCH = os.environ.get("WORKBENCH_BIN", str(PROJECT / ".venv" / "bin" / "workbench"))
# The phase notebooks of the workbench checkout the runner uses (workbench/runner/dag.py); the demo's project folder is that checkout.
NOTEBOOKS = Path(os.environ.get("WORKBENCH_NOTEBOOKS", str(PROJECT / "notebooks")))
KERNEL = os.environ.get("WORKBENCH_KERNEL", "workbench")  # a kernel whose Python has the workbench installed
LOCK = os.environ.get("WORKBENCH_LOCK", str(PROJECT / ".workbench.lock"))  # shared with examples/scheduling/
LOCK_WAIT_S = 3600  # a command waits this long for another job to release the store, then fails (and is retried)

# The runner's two DAGs (workbench/runner/dag.py; tests/ops checks they agree): phase, notebook, upstream phases.
LIFECYCLE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("validate", "10_validate.ipynb", ()),
    ("train", "20_train.ipynb", ("validate",)),
    ("baseline", "25_baseline.ipynb", ("validate",)),
    ("evaluate", "30_evaluate.ipynb", ("train", "baseline")),
    ("register", "40_register.ipynb", ("evaluate",)),
    ("responsible", "45_responsible.ipynb", ("register",)),
    ("model_card", "48_model_card.ipynb", ("responsible",)),
)
MONITOR: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("score", "50_score.ipynb", ()),
    ("drift", "60_drift.ipynb", ("score",)),
    ("fairness", "70_fairness.ipynb", ("score",)),
    ("explain", "75_explain.ipynb", ("drift",)),
    ("impact", "80_impact.ipynb", ("score",)),
    ("card", "85_card.ipynb", ("drift", "fairness", "explain", "impact")),
)
# Parameters beyond config and run_id, per phase (each must be declared in the notebook's parameters cell).
PHASE_PARAMS: dict[str, dict[str, Any]] = {
    "score": {"batch": "{{ params.batch }}"},  # templated by Airflow from the DAG parameter below
    "drift": {"mode": "exact"},  # or "sketch" for very large batches
}
SCHEDULES = {"workbench_lifecycle": None, "workbench_monitor": "@daily", "workbench_retrain": "@weekly"}
PARAMS = {"workbench_monitor": {"batch": ""}}  # a batch file to score; empty: the newest under data.batches
DEFAULT_ARGS = {
    "owner": "ml-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(hours=4),
}

Task = tuple[str, dict[str, Any], tuple[str, ...]]  # operator ("papermill" or "bash"), its keyword arguments, upstream task ids


def outputs(dag_id: str) -> str:
    """The folder of one DAG run's executed notebooks (templated by Airflow)."""
    return f"{PROJECT}/airflow/{dag_id}/{{{{ run_id }}}}"


def prepare_task(dag_id: str) -> dict[str, Any]:
    """Keyword arguments of the ``BashOperator`` creating :func:`outputs` (papermill refuses to write into a missing folder)."""
    return {"task_id": "prepare", "bash_command": shlex.join(["mkdir", "-p", outputs(dag_id)])}


def papermill_task(dag_id: str, phase: str, notebook: str) -> dict[str, Any]:
    """Keyword arguments of the ``PapermillOperator`` running one phase notebook, with the parameters the runner passes."""
    return {
        "task_id": phase,
        "input_nb": str(NOTEBOOKS / notebook),
        "output_nb": f"{outputs(dag_id)}/{notebook}",
        "kernel_name": KERNEL,
        "parameters": {"config": CONFIG, "run_id": "", **PHASE_PARAMS.get(phase, {})},
    }


def cli_task(task_id: str, *args: str) -> dict[str, Any]:
    """Keyword arguments of the ``BashOperator`` running one ``workbench`` command while holding the project's lock."""
    command = shlex.join(["flock", "--wait", str(LOCK_WAIT_S), LOCK, WORKBENCH, *args, "--config", CONFIG])
    return {"task_id": task_id, "bash_command": command}


def tasks(style: str = STYLE) -> dict[str, list[Task]]:
    """Every DAG's tasks in ``style`` (``papermill`` or ``cli``), by DAG id."""
    if style not in STYLES:
        raise ValueError(f"WORKBENCH_AIRFLOW_STYLE is {style!r}; expected one of {', '.join(STYLES)}")
    if style == "papermill":  # the roots wait for the task that creates the run's notebook folder
        lifecycle = [("bash", prepare_task("workbench_lifecycle"), ())]
        lifecycle += [("papermill", papermill_task("workbench_lifecycle", p, nb), needs or ("prepare",)) for p, nb, needs in LIFECYCLE]
        monitor = [("bash", prepare_task("workbench_monitor"), ())]
        monitor += [("papermill", papermill_task("workbench_monitor", p, nb), needs or ("prepare",)) for p, nb, needs in MONITOR]
    else:
        lifecycle = [("bash", cli_task(p, "run", "--phases", p), needs) for p, _, needs in LIFECYCLE]
        monitor = [("bash", cli_task("monitor", "monitor"), ())]
    monitor.append(("bash", cli_task("retrain_event", "retrain", "--trigger", "event", "--gate"), (monitor[-1][1]["task_id"],)))
    retrain = [("bash", cli_task("retrain_scheduled", "retrain", "--trigger", "scheduled", "--gate"), ())]
    return {"workbench_lifecycle": lifecycle, "workbench_monitor": monitor, "workbench_retrain": retrain}


def build(dag_id: str, style: str = STYLE) -> Any:
    """The Airflow DAG ``dag_id``: its tasks from :func:`tasks`, wired by their upstream phases."""
    try:
        from airflow.providers.standard.operators.bash import BashOperator  # Airflow 3 (the standard provider)
    except ImportError:
        from airflow.operators.bash import BashOperator  # Airflow 2

    operators: dict[str, Any] = {"bash": BashOperator}
    if style == "papermill":  # the cli style needs no papermill provider
        from airflow.providers.papermill.operators.papermill import PapermillOperator

        operators["papermill"] = PapermillOperator
    with DAG(dag_id, schedule=SCHEDULES[dag_id], start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=1,
             default_args=DEFAULT_ARGS, params=PARAMS.get(dag_id, {}), tags=["workbench", style]) as dag:
        made = {kwargs["task_id"]: operators[kind](**kwargs) for kind, kwargs, _ in tasks(style)[dag_id]}
        for _, kwargs, upstream in tasks(style)[dag_id]:
            for name in upstream:
                made[name] >> made[kwargs["task_id"]]
    return dag


if DAG is not None:
    for _dag_id in SCHEDULES:
        globals()[_dag_id] = build(_dag_id)
