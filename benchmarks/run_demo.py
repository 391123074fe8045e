"""Wall time of the default demo run, and how much of it is kernel start and imports.

Runs side by side on this machine, printing ratios:

1. papermill on a trivial notebook (kernel start + teardown), on one that only imports
   ``workbench``, and on one importing the heavy stack (mlflow, evidently, shap, fairlearn,
   sklearn) — the fixed cost every phase notebook would pay if it imported everything;
2. the full Prototype+Pilot demo run (``workbench run``) with ``--jobs 1`` and with the
   default jobs (independent phases overlap), each in a fresh project folder.

Usage: ``python benchmarks/run_demo.py [--repeat N]``. Not a test: numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parent.parent
HEAVY = "import mlflow, evidently, shap, fairlearn, sklearn.ensemble, pandas"


def _notebook(folder: Path, name: str, source: str) -> Path:
    book = new_notebook(cells=[new_code_cell(source)])
    book.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    path = folder / f"{name}.ipynb"
    nbformat.write(book, path)
    return path


def time_notebook(path: Path, repeat: int) -> float:
    """Median seconds for papermill to execute ``path``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        papermill.execute_notebook(str(path), str(path.with_suffix(".out.ipynb")), progress_bar=False, kernel_name="python3",
                                   extra_arguments=["--IPKernelApp.log_level=ERROR"])
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_run(jobs: int | None) -> tuple[float, dict]:
    """Seconds for a full demo run in a fresh project folder, and its manifest."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        shutil.copy(REPO / "workbench.yaml", project / "workbench.yaml")
        subprocess.run([sys.executable, "-m", "workbench.cli", "demo"], cwd=project, check=True, capture_output=True)
        args = [sys.executable, "-m", "workbench.cli", "run", "--run-id", "bench"] + (["--jobs", str(jobs)] if jobs else [])
        start = time.perf_counter()
        proc = subprocess.run(args, cwd=project, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode:
            raise SystemExit(f"demo run failed:\n{proc.stdout}\n{proc.stderr}")
        return elapsed, json.loads((project / "reports" / "bench" / "manifest.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        trivial = time_notebook(_notebook(folder, "trivial", "1 + 1"), args.repeat)
        light = time_notebook(_notebook(folder, "workbench", "import workbench"), args.repeat)
        heavy = time_notebook(_notebook(folder, "heavy", HEAVY), args.repeat)
    print(f"{'notebook':<38}{'seconds':>9}{'x trivial':>11}")
    for label, secs in (("trivial (kernel start only)", trivial), ("import workbench", light), ("import the heavy stack", heavy)):
        print(f"{label:<38}{secs:9.2f}{secs / trivial:11.2f}")

    serial, m1 = time_run(1)
    parallel, m2 = time_run(None)
    print(f"\n{'demo run (validate→train|baseline→evaluate→register)':<58}{'seconds':>9}")
    print(f"{'--jobs 1 (phases one after another)':<58}{serial:9.1f}")
    label = f"--jobs default ({m2['jobs']}: train and baseline overlap)"
    print(f"{label:<58}{parallel:9.1f}")
    print(f"{'ratio parallel / serial':<58}{parallel / serial:9.2f}")
    phases = m2["phases"]
    print(f"\n{'phase':<10}{'seconds':>9}{'kernel start share':>20}")
    for name, entry in phases.items():
        print(f"{name:<10}{entry['duration_s']:9.1f}{trivial / entry['duration_s']:19.0%}")
    fixed = trivial * len(phases)
    print(f"\nkernel start x {len(phases)} phases = {fixed:.1f}s = {fixed / parallel:.0%} of the default run "
          f"(heavy imports would add {(heavy - trivial) * len(phases):.1f}s if every phase paid them)")
    print(f"target: whole demo run < 60 s -> {'met' if parallel < 60 else 'NOT met'} ({parallel:.1f}s)")


if __name__ == "__main__":
    main()
