"""Review packs executed like phases: ``notebooks/reviews/<cadence>.ipynb`` into a run folder of kind ``review``.

The manifest, the executed notebook and its HTML (code hidden) land in ``reports/<run_id>/`` so
reviews are found like any other run; the notebook itself only reads recorded results.
SIGINT and SIGTERM stop it like a phase run: the kernel dies and the run is ``interrupted``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from workbench.reports import manifest, review
from workbench.runner import interrupt
from workbench.runner.execute import execute_notebook, export_html

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def run(config: Config, cadence: str, as_of: str) -> dict[str, Any]:
    """Execute the review notebook into a new run folder; return the final manifest."""
    since, until = review.window(cadence, as_of)
    run_id = manifest.new_run_id("review")
    run_dir = config.reports / run_id
    (run_dir / "notebooks").mkdir(parents=True)
    values = {"config": str(config.source), "run_id": run_id, "as_of": as_of}
    notebook = f"notebooks/{cadence}.ipynb"
    data = manifest.new(run_id, kind="review", config=config, phases={cadence: notebook},
                        extra={"review": {"cadence": cadence, "as_of": as_of, "since": since.isoformat(), "until": until.isoformat()},
                               "parameters": {cadence: values}, "runner": manifest.runner()})
    entry = data["phases"][cadence]
    entry["status"], entry["started"] = "running", manifest.now()
    manifest.write(run_dir, data)
    t0 = time.perf_counter()
    with interrupt.Stop() as stop:
        error = execute_notebook(review.NOTEBOOKS / f"{cadence}.ipynb", run_dir / notebook, values,
                                 kernel=config.runner.kernel, timeout=config.runner.timeout_s)
        export_html(run_dir / notebook, run_dir / "html" / f"{cadence}.html")
    status = "interrupted" if error and stop.signum else "failed" if error else "succeeded"
    if status == "interrupted":
        error, data["signal"] = f"interrupted by {stop.name}; {error}", stop.name
    entry.update({"status": status, "ended": manifest.now(), "duration_s": round(time.perf_counter() - t0, 3),
                  "error": error, "html": f"html/{cadence}.html"})
    data.update({"status": entry["status"], "ended": entry["ended"], "duration_s": entry["duration_s"]})
    manifest.write(run_dir, data)
    return data
