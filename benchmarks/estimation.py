"""Performance estimation without labels: our CBPE against NannyML's CBPE on the same 1M-row batch.

Data (seeded): five features, N(0, 1) in the reference and shifted in the batch (means +0.5,
-0.3, 0, 0.2, 0 and the first feature's spread x1.3); labels from a fixed logistic truth, and a
model whose score IS that truth, so its probabilities are calibrated by construction and both
estimators get ``probs = scores`` (NannyML with its ``NoopCalibrator``, so neither calibrates).
Reference and batch are written to one Parquet folder; both contenders read the same files.

Ours runs in this process; NannyML runs in a subprocess of a separate interpreter (it cannot go in
the project's environment: it wants pandas < 3 by practice, an undeclared statsmodels, LightGBM,
FLAML and usage telemetry, switched off here with ``NML_DISABLE_USAGE_LOGGING=1``), given by
``--nannyml-python``; without it, ours is printed alone. Times are the best of ``--repeat``
runs of fit (on the reference) and estimate (on the whole batch, one chunk), after the data is in
memory. Agreement: each metric's ``|ours - NannyML|``, beside the realised value from the labels.

Set up NannyML (once): ``python3.11 -m venv /tmp/nml-venv && /tmp/nml-venv/bin/pip install nannyml
statsmodels 'pandas<3'``.
Usage: ``python benchmarks/estimation.py [--rows 1000000] [--reference-rows 50000] [--repeat 3]
[--nannyml-python /tmp/nml-venv/bin/python]``. Not a test: numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")
WEIGHTS = np.array([1.0, -0.8, 0.5, 0.3, -0.2])
SHIFT, SPREAD = np.array([0.5, -0.3, 0.0, 0.2, 0.0]), np.array([1.3, 1.0, 1.0, 1.0, 1.0])

NANNYML = r"""
import json, sys, time, warnings
import pandas as pd
import nannyml as nml
from nannyml.calibration import NoopCalibrator
warnings.simplefilter("ignore")
folder, repeat = sys.argv[1], int(sys.argv[2])
ref = pd.read_parquet(f"{folder}/reference.parquet")
batch = pd.read_parquet(f"{folder}/batch.parquet").drop(columns="y_true")
metrics = ["roc_auc", "accuracy", "precision", "recall", "f1"]
fit, est = [], []
for _ in range(repeat):
    cbpe = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true", problem_type="classification_binary",
                    metrics=metrics, chunk_number=1, calibrator=NoopCalibrator())
    t = time.perf_counter(); cbpe.fit(ref); fit.append(time.perf_counter() - t)
    t = time.perf_counter(); result = cbpe.estimate(batch); est.append(time.perf_counter() - t)
    frame = result.filter(period="analysis").to_df()  # the result also holds the reference chunk
assert len(frame) == 1, len(frame)
out = {"fit": min(fit), "estimate": min(est), "version": nml.__version__, "pandas": pd.__version__,
       "value": {m: float(frame[(m, "value")].iloc[0]) for m in metrics},
       "se": {m: float(frame[(m, "sampling_error")].iloc[0]) for m in metrics}}
print(json.dumps(out))
"""


def make(n: int, rng: np.random.Generator, batch: bool) -> pd.DataFrame:
    """``n`` rows of (y_true, y_pred_proba, y_pred): the score is the true P(y=1 | x)."""
    x = rng.normal(size=(n, WEIGHTS.size))
    if batch:
        x = x * SPREAD + SHIFT
    score = 1.0 / (1.0 + np.exp(-(-0.4 + x @ WEIGHTS)))
    y = (rng.uniform(size=n) < score).astype(np.int64)
    return pd.DataFrame({"y_true": y, "y_pred_proba": score, "y_pred": (score >= 0.5).astype(np.int64)})


def realised(frame: pd.DataFrame) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

    y, s, p = frame["y_true"], frame["y_pred_proba"], frame["y_pred"]
    return {"roc_auc": roc_auc_score(y, s), "accuracy": accuracy_score(y, p), "precision": precision_score(y, p),
            "recall": recall_score(y, p), "f1": f1_score(y, p)}


def ours(folder: Path, repeat: int) -> dict:
    from workbench.analyses.estimation._cbpe import CBPE

    ref, batch = pd.read_parquet(folder / "reference.parquet"), pd.read_parquet(folder / "batch.parquet")
    y, s_ref = ref["y_true"].to_numpy(), ref["y_pred_proba"].to_numpy()
    scores = batch["y_pred_proba"].to_numpy()
    fit, est = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        cbpe = CBPE(threshold=0.5).fit(y, s_ref, s_ref)
        fit.append(time.perf_counter() - t)
        t = time.perf_counter()
        result = cbpe.estimate(scores, scores)
        est.append(time.perf_counter() - t)
    return {"fit": min(fit), "estimate": min(est), "value": {m: result[m]["value"] for m in METRICS},
            "se": {m: result[m]["se"] for m in METRICS}, "reference": {m: result[m]["reference"] for m in METRICS}}


def nannyml(python: str, folder: Path, repeat: int) -> dict | str:
    """NannyML's numbers from its own interpreter, or why there are none."""
    if not Path(python).exists():
        return f"no NannyML interpreter at {python}; see the module docstring to set one up"
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
    proc = subprocess.run([python, "-c", NANNYML, str(folder), str(repeat)], capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        return "NannyML failed: " + (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nannyml-python", default="/tmp/nml-venv/bin/python")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    ref, batch = make(args.reference_rows, rng, batch=False), make(args.rows, rng, batch=True)
    print(f"estimation benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"numpy {np.__version__}, pandas {pd.__version__}")
    print(f"reference {len(ref):,} rows, batch {len(batch):,} rows (covariate shift; calibrated scores: probs = scores)\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ref.to_parquet(folder / "reference.parquet")
        batch.to_parquet(folder / "batch.parquet")
        mine = ours(folder, args.repeat)
        theirs = nannyml(args.nannyml_python, folder, args.repeat)
    truth = realised(batch)

    print(f"{'contender':28s} {'fit s':>8s} {'estimate s':>11s}")
    print(f"{'ours (workbench CBPE)':28s} {mine['fit']:8.3f} {mine['estimate']:11.3f}")
    if isinstance(theirs, str):
        print(f"NannyML: {theirs}")
    else:
        print(f"{'NannyML ' + theirs['version'] + ' CBPE':28s} {theirs['fit']:8.3f} {theirs['estimate']:11.3f}")
        print(f"ratio NannyML / ours: fit {theirs['fit'] / mine['fit']:.1f}x, estimate {theirs['estimate'] / mine['estimate']:.1f}x")
    target = "met" if mine["estimate"] <= 2.0 else "MISSED"
    print(f"target: estimate {args.rows:,} rows in <= 2 s -> {target} ({mine['estimate']:.3f} s)\n")

    head = f"{'metric':10s} {'realised':>9s} {'ours':>9s} {'ours se':>9s} {'reference':>9s}"
    if not isinstance(theirs, str):
        head += f" {'NannyML':>9s} {'NML se':>9s} {'|ours-NML|':>11s}"
    print(head)
    for m in METRICS:
        line = f"{m:10s} {truth[m]:9.4f} {mine['value'][m]:9.4f} {mine['se'][m]:9.5f} {mine['reference'][m]:9.4f}"
        if not isinstance(theirs, str):
            line += f" {theirs['value'][m]:9.4f} {theirs['se'][m]:9.5f} {abs(mine['value'][m] - theirs['value'][m]):11.2e}"
        print(line)
    if not isinstance(theirs, str):
        worst = max(abs(mine["value"][m] - theirs["value"][m]) for m in METRICS)
        print(f"\nestimates agree to {worst:.1e} (largest |ours - NannyML| over the five metrics)")
    spread_check(rng, args.rows, mine, theirs)
    dle(rng, args.reference_rows, args.rows, args.repeat)


def dle(rng: np.random.Generator, reference_rows: int, rows: int, repeat: int) -> None:
    """DLE (regression) on the same sizes: fit, estimate, and the estimates beside the realised MAE and RMSE."""
    from workbench.analyses.estimation import DLE

    def frame(n: int, shift: float) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        x1, x2, c = rng.normal(shift, 1, n), rng.normal(0, 1, n), rng.choice(list("abcd"), n)
        pred = 3 * x1 - 2 * x2
        return pd.DataFrame({"x1": x1, "x2": x2, "c": c}), pred + rng.normal(0, 1 + np.abs(x1) + (c == "a"), n), pred

    x, y, p = frame(reference_rows, 0.0)
    start = time.perf_counter()
    model = DLE().fit(x, y, p)
    fit = time.perf_counter() - start
    xb, yb, pb = frame(rows, 0.3)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        est = model.estimate(xb, pb)
        times.append(time.perf_counter() - start)
    truth = {"mae": float(np.abs(yb - pb).mean()), "rmse": float(np.sqrt(((yb - pb) ** 2).mean()))}
    print(f"\nDLE (regression, noise growing with |x1| and in one category; batch shifted 0.3 sd): fit {fit:.2f} s, "
          f"estimate {rows:,} rows {min(times):.2f} s (best of {repeat}; above 200,000 rows from a seeded sample) -> "
          f"{'met' if min(times) <= 2.0 else 'MISSED'}")
    for m in ("mae", "rmse"):
        print(f"{m:10s} realised {truth[m]:.4f}  estimated {est[m]['value']:.4f}  se {est[m]['se']:.5f}  reference {est[m]['reference']:.4f}")


def spread_check(rng: np.random.Generator, rows: int, mine: dict, theirs: dict | str, chunk: int = 5000, chunks: int = 300) -> None:
    """Which sampling error is right: the realised metrics' spread over batch chunks against each se at that size."""
    values = {m: [] for m in METRICS}
    for _ in range(chunks):
        for m, v in realised(make(chunk, rng, batch=True)).items():
            values[m].append(v)
    scale = np.sqrt(rows / chunk)
    print(f"\nsampling error at {chunk:,} rows: the realised metric's standard deviation over {chunks} batch chunks, and each se")
    print(f"{'metric':10s} {'spread':>8s} {'ours':>8s}" + ("" if isinstance(theirs, str) else f" {'NannyML':>8s}"))
    for m in METRICS:
        line = f"{m:10s} {np.std(values[m], ddof=1):8.4f} {mine['se'][m] * scale:8.4f}"
        print(line + ("" if isinstance(theirs, str) else f" {theirs['se'][m] * scale:8.4f}"))


if __name__ == "__main__":
    main()
