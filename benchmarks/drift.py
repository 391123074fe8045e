"""Data-drift engine vs evidently and plain scipy: time, peak memory and decisions, side by side.

On the same seeded data (15 numeric columns of mixed shapes, some with NaNs, 5 categorical
with 3-12 levels; the batch has a few planted shifts) at each size, every contender runs in a
fresh subprocess: our exact mode (profile cached, and cold: build + compare), our sketch mode
against a cached profile (build and load times shown separately), evidently's DataDriftPreset
with default methods and with ``num_method="ks", cat_method="chisquare"``, and plain scipy
(``ks_2samp`` + ``chi2_contingency`` per column). Then a 10M-row batch is written to Parquet
and monitored in chunks with ``batch_stats_from_parquet`` + sketch mode.

Memory: the parent samples the child's RSS every 2 ms while the contender runs (extra RSS =
peak - RSS just before), and the child repeats the run under ``tracemalloc`` (Python-side
peak, numpy buffers included). Imports and data loading happen before the measurement.

Usage: ``python benchmarks/drift.py [--sizes 100000,300000,1000000] [--skip-10m]``.
Not a test: numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
SHAPES = ["normal", "lognormal", "exponential", "uniform", "bimodal", "counts"] * 2 + ["normal", "lognormal", "uniform"]
NUMERIC = [f"num{i:02d}" for i in range(15)]
LEVELS = [3, 5, 8, 10, 12]
CATEGORICAL = [f"cat{j}" for j in range(5)]
WITH_NANS = {"num01", "num04", "num08", "num11", "num14"}
PLANTED = {  # column -> (how the batch differs, shift applied in standard deviations / share moved)
    "num00": "mean +0.2 sd", "num01": "scale x1.15", "num06": "mean +0.07 sd", "num11": "counts: Poisson 4 -> 4.3",
    "num14": "mean +0.02 sd (tiny)", "cat1": "6% of rows moved to the last level",
    "cat2": "0.5% moved to the last level (tiny)", "cat4": "new level 'NEW' on 1.5% of rows",
}
OURS = ["ours exact, cached profile", "ours exact, cold (build + compare)", "ours sketch, cached profile"]
OTHERS = ["evidently DataDriftPreset default", "evidently ks + chisquare", "scipy ks_2samp + chi2_contingency"]


# ---------------------------------------------------------------- data

def _numeric(shape: str, n: int, rng: np.random.Generator, column: str, batch: bool) -> np.ndarray:
    shift = {"num00": 0.2, "num06": 0.07, "num14": 0.02}.get(column, 0.0) if batch else 0.0
    if shape == "normal":
        x = rng.normal(10, 2, n) + 2 * shift
    elif shape == "lognormal":
        x = rng.lognormal(0, 1, n) * (1.15 if batch and column == "num01" else 1.0) + 2.16 * shift
    elif shape == "exponential":
        x = rng.exponential(3, n)
    elif shape == "uniform":
        x = rng.uniform(-1, 1, n) + 0.577 * shift
    elif shape == "bimodal":
        x = np.where(rng.random(n) < 0.4, rng.normal(-2, 1, n), rng.normal(3, 1.5, n))
    else:
        x = rng.poisson(4.3 if batch and column == "num11" else 4.0, n).astype(np.float64)
    if column in WITH_NANS:
        x[rng.random(n) < 0.03] = np.nan
    return x


def _categorical(levels: int, n: int, rng: np.random.Generator, column: str, batch: bool) -> np.ndarray:
    p = 1 / np.arange(1, levels + 1)
    p /= p.sum()
    moved = {"cat1": 0.06, "cat2": 0.005}.get(column, 0.0) if batch else 0.0
    p = (1 - moved) * p + moved * np.eye(levels)[-1]
    names = np.array([f"L{i}" for i in range(levels)] + ["NEW"], dtype=object)
    codes = rng.choice(levels, n, p=p)
    if batch and column == "cat4":
        codes[rng.random(n) < 0.015] = levels
    return names[codes]


def make_frame(n: int, seed: int, *, batch: bool) -> pd.DataFrame:
    """``n`` rows of the 20 benchmark columns (the batch with the planted shifts)."""
    rng = np.random.default_rng(seed)
    data = {c: _numeric(s, n, rng, c, batch) for c, s in zip(NUMERIC, SHAPES, strict=True)}
    data.update({c: _categorical(k, n, rng, c, batch) for c, k in zip(CATEGORICAL, LEVELS, strict=True)})
    return pd.DataFrame(data)


def write_data(folder: Path, n: int) -> None:
    """Reference and batch of ``n`` rows each, as Parquet."""
    make_frame(n, 1, batch=False).to_parquet(folder / "reference.parquet", index=False)
    make_frame(n, 2, batch=True).to_parquet(folder / "batch.parquet", index=False)


def write_big_batch(path: Path, rows: int, chunk: int = 1_000_000) -> None:
    """A ``rows``-row batch written 1M rows (one row group) at a time, never whole in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for i in range(0, rows, chunk):
        table = pa.Table.from_pandas(make_frame(min(chunk, rows - i), 100 + i // chunk, batch=True), preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


# ---------------------------------------------------------------- contenders (run inside a worker)

def _ours(mode: str, cached: bool, ref: pd.DataFrame, bat: pd.DataFrame) -> tuple:
    from workbench.analyses.drift import ReferenceProfile, build_profile, compare

    if not cached:
        return (lambda: _ours_rows(compare(build_profile(ref, numeric=NUMERIC, categorical=CATEGORICAL, mode=mode), bat))), {}
    start = time.perf_counter()
    profile = build_profile(ref, numeric=NUMERIC, categorical=CATEGORICAL, mode=mode)
    built = time.perf_counter()
    folder = tempfile.mkdtemp()
    profile.save(folder)
    saved = time.perf_counter()
    profile = ReferenceProfile.load(folder)
    loaded = time.perf_counter()
    info = {"build_s": built - start, "load_s": loaded - saved,
            "profile_mb": sum(f.stat().st_size for f in Path(folder).iterdir()) / 2**20}
    return (lambda: _ours_rows(compare(profile, bat))), info


def _ours_rows(result) -> dict:
    rows = result.columns.set_index("column")
    return {"drift": rows["drifted"].to_dict(), "statistic": rows["statistic"].to_dict(), "p_value": rows["p_value"].to_dict(),
            "effect": rows["effect_size"].to_dict()}


def _evidently(ref: pd.DataFrame, bat: pd.DataFrame, **methods: str) -> tuple:
    import warnings

    warnings.simplefilter("ignore")
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)

    def run() -> dict:
        snapshot = Report([DataDriftPreset(**methods)]).run(Dataset.from_pandas(bat, data_definition=definition),
                                                            Dataset.from_pandas(ref, data_definition=definition))
        return _evidently_flags(snapshot.dict())

    return run, {}


def _evidently_flags(snapshot: dict) -> dict:
    """Per-column drift flags and scores from a snapshot's ValueDrift metrics."""
    p_value_methods = {"ks", "chisquare", "z", "K-S p_value", "chi-square p_value", "Z-test p_value"}
    flags, scores, methods = {}, {}, {}
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            value, threshold, method = metric["value"], config["threshold"], config["method"]
            flags[config["column"]] = bool(value < threshold if method in p_value_methods else value >= threshold)
            scores[config["column"]], methods[config["column"]] = value, f"{method} {'<' if method in p_value_methods else '>='} {threshold}"
    return {"drift": flags, "score": scores, "method": methods}


def _scipy(ref: pd.DataFrame, bat: pd.DataFrame) -> tuple:
    from scipy import stats

    def run() -> dict:
        flags, d, p = {}, {}, {}
        for column in NUMERIC:
            result = stats.ks_2samp(ref[column].dropna(), bat[column].dropna())
            d[column], p[column], flags[column] = result.statistic, result.pvalue, bool(result.pvalue < 0.05)
        for column in CATEGORICAL:
            table = pd.concat([ref[column].value_counts(), bat[column].value_counts()], axis=1).fillna(0)
            result = stats.chi2_contingency(table.to_numpy().T)
            d[column], p[column], flags[column] = result.statistic, result.pvalue, bool(result.pvalue < 0.05)
        return {"drift": flags, "statistic": d, "p_value": p}

    def check(out: dict) -> dict:  # after timing: scipy's normalised Wasserstein, for the equality check
        out["wasserstein"] = {c: stats.wasserstein_distance(ref[c].dropna(), bat[c].dropna()) / np.std(ref[c].dropna())
                              for c in NUMERIC}
        return out

    return run, {"check": check}


def _big(ref: pd.DataFrame, path: str) -> tuple:
    from workbench.analyses.drift import batch_stats_from_parquet, build_profile, compare

    start = time.perf_counter()
    profile = build_profile(ref, numeric=NUMERIC, categorical=CATEGORICAL, mode="sketch")
    info = {"build_s": time.perf_counter() - start}
    return (lambda: _ours_rows(compare(profile, batch_stats_from_parquet(path, profile, chunk_rows=1_000_000)))), info


def worker(name: str, folder: str) -> None:
    """Set up one contender, wait for the parent's go, run it timed, then again under tracemalloc."""
    import scipy.spatial.distance  # noqa: F401 - imports are not what is measured
    import scipy.stats  # noqa: F401

    ref = pd.read_parquet(Path(folder) / "reference.parquet")
    if name == "ours sketch, 10M rows from Parquet":
        run, info = _big(ref, str(Path(folder) / "big.parquet"))
        del ref
    else:
        bat = pd.read_parquet(Path(folder) / "batch.parquet")
        run, info = {
            OURS[0]: lambda: _ours("exact", True, ref, bat), OURS[1]: lambda: _ours("exact", False, ref, bat),
            OURS[2]: lambda: _ours("sketch", True, ref, bat), OTHERS[0]: lambda: _evidently(ref, bat),
            OTHERS[1]: lambda: _evidently(ref, bat, num_method="ks", cat_method="chisquare"),
            OTHERS[2]: lambda: _scipy(ref, bat),
        }[name]()
    check = info.pop("check", None)
    gc.collect()
    _trim()
    print("READY", flush=True)
    sys.stdin.readline()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    out = run()
    seconds = time.perf_counter() - start
    print("DONE", flush=True)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = check(out) if check else out
    gc.collect()
    tracemalloc.start()
    run()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print("RESULT " + json.dumps({"seconds": seconds, "tracemalloc_mb": traced / 2**20, **info, "out": out,
                                  "maxrss_mb": after / 1024, "maxrss_grew": after > before}), flush=True)


def _trim() -> None:
    """Give freed heap memory back to the OS, so the RSS before the run is the live data only."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # pragma: no cover - not glibc
        pass


def measure(name: str, folder: Path) -> dict:
    """Run ``name`` in a fresh subprocess, sampling its RSS every 2 ms while it runs."""
    import psutil

    child = subprocess.Popen([sys.executable, __file__, "--worker", name, "--data", str(folder)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    process = psutil.Process(child.pid)
    if child.stdout.readline().strip() != "READY":
        raise RuntimeError(f"{name}: worker failed to start")
    baseline = peak = process.memory_info().rss
    done = threading.Event()
    threading.Thread(target=lambda: (child.stdout.readline(), done.set()), daemon=True).start()
    child.stdin.write("go\n")
    child.stdin.flush()
    while not done.wait(0.002):
        peak = max(peak, process.memory_info().rss)
    lines = [line for line in child.stdout.read().splitlines() if line.startswith("RESULT ")]
    if child.wait() != 0 or not lines:
        raise RuntimeError(f"{name}: worker failed")
    result = json.loads(lines[-1][len("RESULT "):])
    if result.pop("maxrss_grew"):
        peak = max(peak, result["maxrss_mb"] * 2**20)
    return {**result, "rss_extra_mb": (peak - baseline) / 2**20, "rss_peak_mb": peak / 2**20}


# ---------------------------------------------------------------- report

def report_size(n: int, results: dict[str, dict]) -> None:
    """Print one size's table, the equality check and where the decisions differ from ours."""
    base = results[OTHERS[0]]["seconds"]
    ours = results[OURS[0]]["out"]
    print(f"\n== {n:,} rows x 20 columns (reference and batch the same size) ==")
    print(f"{'contender':44} {'seconds':>8} {'x evidently':>12} {'extra RSS MB':>13} {'tracemalloc MB':>15} "
          f"{'drifted':>8} {'agree w/ ours':>14}")
    for name, result in results.items():
        flags = result["out"]["drift"]
        agree = sum(flags[c] == ours["drift"][c] for c in flags)
        print(f"{name:44} {result['seconds']:8.2f} {base / result['seconds']:12.1f} {result['rss_extra_mb']:13.0f} "
              f"{result['tracemalloc_mb']:15.0f} {sum(flags.values()):>5}/20 {agree:>11}/20")
    for name in (OURS[0], OURS[2]):
        info = results[name]
        print(f"  {name}: profile build {info['build_s']:.2f}s, load {info['load_s']:.3f}s, on disk {info['profile_mb']:.1f} MB")
    scipy_out = results[OTHERS[2]]["out"]
    dd = max(abs(ours["statistic"][c] - scipy_out["statistic"][c]) for c in NUMERIC)
    dp = max(abs(ours["p_value"][c] - scipy_out["p_value"][c]) for c in NUMERIC)
    dw = max(abs(ours["effect"][c] - scipy_out["wasserstein"][c]) for c in NUMERIC)
    rule = {c: scipy_out["p_value"][c] < 0.05 and scipy_out["wasserstein"][c] >= 0.05 for c in NUMERIC}
    same = sum(rule[c] == ours["drift"][c] for c in NUMERIC)
    print(f"  exact vs scipy, numeric columns: max |dD| = {dd:.1e}, max |dp| = {dp:.1e}, max |dW/sd| = {dw:.1e}; "
          f"our rule on scipy's numbers gives the same decision on {same}/15")
    for name, result in results.items():
        if name == OURS[0]:
            continue
        flags = result["out"]["drift"]
        for c in [c for c in flags if flags[c] != ours["drift"][c]]:
            why = result["out"]["method"][c] + f" = {result['out']['score'][c]:.3g}" if "method" in result["out"] else (
                f"p = {result['out']['p_value'][c]:.2g}")
            print(f"  differs: {name}: {c} ({PLANTED.get(c, 'no change')}) ours {ours['drift'][c]} "
                  f"(p = {ours['p_value'][c]:.2g}, effect {ours['effect'][c]:.3f}), theirs {flags[c]} ({why})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--skip-10m", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.data)
    print(f"drift benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"numpy {np.__version__}, pandas {pd.__version__}")
    print("planted in the batch: " + "; ".join(f"{c} {what}" for c, what in PLANTED.items()))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in [int(s) for s in args.sizes.split(",")]:
            write_data(folder, n)
            report_size(n, {name: measure(name, folder) for name in OURS + OTHERS})
        if not args.skip_10m:
            big(folder)


def big(folder: Path) -> None:
    """The 10M-row batch from Parquet in 1M-row chunks, sketch mode against a 1M-row reference."""
    write_data(folder, 1_000_000)
    start = time.perf_counter()
    write_big_batch(folder / "big.parquet", 10_000_000)
    size = (folder / "big.parquet").stat().st_size / 2**20
    print(f"\n== 10,000,000-row batch from Parquet ({size:.0f} MB, 10 row groups, written in {time.perf_counter() - start:.0f}s), "
          "sketch mode, 1M-row chunks ==")
    result = measure("ours sketch, 10M rows from Parquet", folder)
    flags = result["out"]["drift"]
    print(f"seconds {result['seconds']:.2f} ({10_000_000 / result['seconds'] / 1e6:.1f}M rows/s; profile build "
          f"{result['build_s']:.2f}s), peak RSS {result['rss_peak_mb']:.0f} MB, extra RSS {result['rss_extra_mb']:.0f} MB, "
          f"tracemalloc peak {result['tracemalloc_mb']:.0f} MB, drifted: {', '.join(c for c in flags if flags[c])}")


if __name__ == "__main__":
    main()
