"""Scale-out: monitoring statistics of a 20M-row Parquet batch on `local`, `dask-local` and a `tcp://` cluster, side by side.

The batch is the demo's May batch grown to ``--rows`` rows (``tests/scale/conftest.grown``: resampled,
numeric values jittered, holes and a new level), written in ``--files`` Parquet files of
``--row-group``-row groups, one generated chunk at a time (the generator never holds the batch).
Every measured run is a fresh child process that builds the profile from the demo reference and
times ``workbench.scale.stats.drift_stats``; peak RSS per process is Linux's ``VmHWM``, reset in the
client, each worker and the scheduler when the run starts:

1. side by side, in turns (median of ``--repeat``): ``local`` (one partition at a time in the
   process), ``dask-local`` with 2 single-thread workers (the LocalCluster's start timed apart)
   and a ``tcp://`` cluster (a ``dask scheduler`` and two ``dask worker`` processes on loopback,
   started by this script per repeat and stopped by PID; start timed apart), in sketch and exact
   mode; wall time, peak RSS of the client, each worker and the scheduler;
2. worker peak RSS against the partition size (``dask.partition_rows`` and the row-group size)
   and against the batch size at a fixed partition size (``dask-local``, a fresh cluster per run);
3. the per-partition cost (seconds per 1M rows per worker thread, from Dask's task stream), the
   merge time, and the projected time for 1B rows on N workers.

Usage: ``python benchmarks/scale.py [--rows 20000000] [--repeat 3] [--keep]`` (~10 min at the
defaults on 2 cores). Not a test: numbers are printed, not asserted. Data go to a temporary
folder under /tmp, deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent
MB = 1024 * 1024


def peak_mb() -> float:
    """This process's peak RSS in MB since it started or since :func:`reset_peak` (Linux: ``VmHWM`` of /proc/self/status).

    Not ``ru_maxrss``: Linux carries the parent's peak into a child across fork and exec (a child
    of a 3 GB parent reports >= 3 GB), and it cannot be reset between runs of a long-lived worker.
    """
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def reset_peak() -> float:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0); returns the current RSS in MB."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return _current_mb()


def _current_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MB


def _warm() -> float:
    """On a worker: import what a task imports (one-off per worker), then its RSS in MB."""
    import pyarrow.parquet  # noqa: F401

    import workbench.analyses.drift  # noqa: F401
    import workbench.scale.stats  # noqa: F401
    return _current_mb()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- data -------------------------------------------------------------------------------------------------------------

def write_batch(source: Path, folder: Path, *, rows: int, files: int, row_group: int, seed: int = 11) -> dict:
    """``rows`` grown demo rows as ``files`` Parquet files of ``row_group``-row groups, one chunk (<= ~1M rows) in memory at a time."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.scale.conftest import grown

    base = pd.read_parquet(source)
    per_file = rows // files
    row_group = min(row_group, per_file)
    chunk = min(per_file, row_group * max(1, 1_000_000 // row_group))  # whole row groups per chunk
    schema = pa.Table.from_pandas(grown(base, 10_000, seed=seed), preserve_index=False).schema
    folder.mkdir(parents=True)
    start = time.perf_counter()
    for i in range(files):
        with pq.ParquetWriter(folder / f"part-{i:03d}.parquet", schema) as writer:
            for j, lo in enumerate(range(0, per_file, chunk)):
                frame = grown(base, min(chunk, per_file - lo), seed=seed + 1000 * i + j)
                writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), row_group_size=row_group)
                del frame
    return {"seconds": time.perf_counter() - start, "bytes": sum(p.stat().st_size for p in folder.iterdir()),
            "rows": per_file * files, "row_group": row_group, "files": files}


def rewrite(folder: Path, out: Path, row_group: int) -> Path:
    """The same rows with ``row_group``-row groups (one file in memory at a time)."""
    import pyarrow.parquet as pq

    out.mkdir(parents=True)
    for path in sorted(folder.glob("*.parquet")):
        pq.write_table(pq.read_table(path), out / path.name, row_group_size=row_group)
    return out


def first_files(folder: Path, out: Path, count: int) -> Path:
    """A batch of the first ``count`` files of ``folder`` (symbolic links: no copy)."""
    out.mkdir(parents=True)
    for path in sorted(folder.glob("*.parquet"))[:count]:
        (out / path.name).symlink_to(path)
    return out


# ---- the tcp:// cluster: processes started here, stopped by PID (the pattern of tests/scale/test_cluster.py) ----------

class TcpCluster:
    """``dask scheduler`` + ``workers`` single-thread ``dask worker`` processes on 127.0.0.1 (no nanny), in their own sessions."""

    def __init__(self, logs: Path, workers: int, memory_limit: str) -> None:
        self.logs, self.workers, self.memory_limit = logs, workers, memory_limit
        self.procs: dict[str, subprocess.Popen] = {}
        self.address = f"tcp://127.0.0.1:{free_port()}"

    def _start(self, name: str, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with (self.logs / f"{name}.log").open("a") as out:
            self.procs[name] = subprocess.Popen([str(BIN / "dask"), *args], stdout=out, stderr=subprocess.STDOUT, env=env,
                                                start_new_session=True)

    def start(self) -> float:
        """Start every process and wait until the workers have joined; the seconds it took."""
        from distributed import Client

        began = time.perf_counter()
        self._start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", self.address.rsplit(":", 1)[1], "--no-dashboard")
        for i in range(1, self.workers + 1):  # all at once: the workers retry until the scheduler listens
            self._start(f"w{i}", "worker", self.address, "--name", f"w{i}", "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                        "--no-dashboard", "--memory-limit", self.memory_limit)
        with Client(self.address, timeout="60s", set_as_default=False) as client:
            client.wait_for_workers(self.workers, timeout=120)
        return time.perf_counter() - began

    def stop(self) -> None:
        """SIGTERM each process group (SIGKILL after 20 s), workers first."""
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=20)
        self.procs.clear()


# ---- one measured run (a child process) -------------------------------------------------------------------------------

def child(spec: dict) -> dict:
    """Time ``drift_stats`` of ``spec['batch']`` on ``spec['executor']``; peaks per process; Dask's per-task times."""
    import pandas as pd

    from tests.scale.conftest import CATEGORICAL, NUMERIC
    from workbench import scale
    from workbench.analyses import drift
    from workbench.config import DaskConfig
    from workbench.scale import stats

    profile = drift.build_profile(pd.read_parquet(spec["reference"]), numeric=NUMERIC, categorical=CATEGORICAL, mode=spec["mode"])
    began = time.perf_counter()
    listed = scale.partitions(scale.batch_files(spec["batch"]), spec["rows_per_task"])  # what drift_stats does first, on the client
    out = {"listing_s": time.perf_counter() - began, "tasks": len(listed), "files": len({p.path for p in listed}),
           "client_before_mb": reset_peak()}  # the client's peak from here: cluster start (dask-local) and the run
    began = time.perf_counter()
    with scale.open_executor(spec["executor"], DaskConfig(partition_rows=spec["rows_per_task"])) as executor:
        out["start_s"] = time.perf_counter() - began  # dask-local: the LocalCluster's start; tcp://: connecting
        client = getattr(executor, "client", None)
        if client is not None:
            began = time.perf_counter()
            out["idle_mb"] = sorted(client.run(_warm).values())
            out["warm_s"] = time.perf_counter() - began
            client.run(reset_peak)  # each worker's peak during this run only (a tcp:// worker lives across runs)
            if spec["executor"].startswith("tcp://"):
                client.run_on_scheduler(reset_peak)
        began = time.perf_counter()
        if client is None:
            merged = stats.drift_stats(executor, profile, spec["batch"], rows_per_task=spec["rows_per_task"])
        else:
            from distributed import get_task_stream

            with get_task_stream(client=client) as stream:
                merged = stats.drift_stats(executor, profile, spec["batch"], rows_per_task=spec["rows_per_task"])
        out["compute_s"] = time.perf_counter() - began
        out["client_peak_mb"] = peak_mb()
        if client is not None:
            out["worker_peak_mb"] = sorted(client.run(peak_mb).values())
            if spec["executor"].startswith("tcp://"):
                out["scheduler_peak_mb"] = client.run_on_scheduler(peak_mb)
            out |= _task_times(stream.data)
        began = time.perf_counter()
    out["close_s"] = time.perf_counter() - began
    result = drift.compare(profile, merged).columns
    out["rows"] = merged.rows
    out["result"] = {"statistic": result["statistic"].tolist(), "p_value": result["p_value"].tolist(), "drifted": result["drifted"].tolist()}
    return out


def _task_times(records: list[dict]) -> dict:
    """Compute seconds of the partition tasks and of the merges, from Dask's task stream."""
    from distributed.utils import key_split

    times: dict[str, list[float]] = {"partition_drift_stats": [], "merge_stats": []}  # key_split drops the leading "_"
    for record in records:
        name = key_split(record["key"])
        if name in times:
            times[name].append(sum(s["stop"] - s["start"] for s in record["startstops"] if s["action"] == "compute"))
    return {"partition_s": times["partition_drift_stats"], "merge_s": times["merge_stats"]}


def measure(spec: dict) -> dict:
    """Run :func:`child` in a fresh interpreter: nothing an earlier run allocated or imported counts."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, env=env, check=False)
    if proc.returncode:
        raise RuntimeError(f"run {spec} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- reporting ----------------------------------------------------------------------------------------------------------

def med(runs: list[dict], key: str) -> float:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else float("nan")


def peaks(runs: list[dict], key: str) -> str:
    """Per-process peaks (MB), the largest over the repeats, as ``a / b``."""
    lists = [r[key] for r in runs if key in r]
    return " / ".join(f"{max(v):.0f}" for v in zip(*lists, strict=True)) if lists else "-"


def same_results(runs: list[dict]) -> float:
    """The largest |difference| of any statistic or p-value between runs (0.0: identical)."""
    first = runs[0]["result"]
    worst = 0.0
    for run in runs[1:]:
        assert run["result"]["drifted"] == first["drifted"], "the executors disagree on which columns drifted"
        for key in ("statistic", "p_value"):
            worst = max([worst] + [abs(a - b) for a, b in zip(run["result"][key], first[key], strict=True) if a == a and b == b])
    return worst


def side_by_side(runs: dict[str, list[dict]], starts: list[float], rows: int, mode: str) -> None:
    local = med(runs["local"], "compute_s")
    print(f"{'executor':<30} {'start s':>8} {'imports s':>9} {'stats s':>8} {'x local':>8} {'total s':>8} {'x local':>8} {'client peak MB':>15} "
          f"{'worker peaks MB':>16} {'sched. MB':>9} {'M rows/s':>9}")
    for name, label in (("local", "local (in process)"), ("dask-local", "dask-local, 2 workers"), ("tcp", "tcp://, scheduler + 2 workers")):
        rs = runs[name]
        start = statistics.median(starts) if name == "tcp" else med(rs, "start_s")
        warm, compute = (med(rs, "warm_s") if name != "local" else 0.0), med(rs, "compute_s")
        total = (start if name != "tcp" else 0.0) + warm + compute
        sched = f"{max(r['scheduler_peak_mb'] for r in rs):.0f}" if name == "tcp" else ("in client" if name == "dask-local" else "-")
        print(f"{label:<30} {start:8.2f} {warm:9.2f} {compute:8.2f} {compute / local:8.2f} {total:8.2f} {total / local:8.2f} "
              f"{max(r['client_peak_mb'] for r in rs):15.0f} {peaks(rs, 'worker_peak_mb'):>16} {sched:>9} {rows / 1e6 / compute:9.2f}")
    diff = same_results([r for rs in runs.values() for r in rs])
    print(f"  {mode}: the three executors flag the same columns; max |difference| of a statistic or p-value between runs: {diff:.3g}"
          f"{' (bit-identical)' if diff == 0 else ''}")


def projection(tcp: list[dict], local: list[dict], start_s: float, rows: int, partition_rows: int, file_rows: int) -> None:
    """Per-partition cost and merge time measured on the cluster, and the time for 1B rows on N workers."""
    part = statistics.median(sum(r["partition_s"]) / (rows / 1e6) for r in tcp)  # seconds per 1M rows on one worker thread
    merge = statistics.median(statistics.median(r["merge_s"]) for r in tcp)
    local_cost = med(local, "compute_s") / (rows / 1e6)
    listing = statistics.median(r["listing_s"] / r["files"] for r in tcp)
    tasks = math.ceil(rows / partition_rows)
    model = rows / 1e6 * part / 2 + math.ceil(math.log2(tasks)) * merge
    measured = med(tcp, "compute_s") - statistics.median(r["listing_s"] for r in tcp)
    overhead = max(0.0, measured - model)
    print(f"per-partition cost, from Dask's task stream on the tcp:// cluster (2 single-thread workers on 2 cores): {part:.3f} s per 1M rows "
          f"per worker thread (local, one thread, merges included: {local_cost:.3f} s)")
    print(f"merge of two partitions' statistics on a worker: {merge * 1000:.1f} ms (median); client-side listing of the Parquet "
          f"metadata: {listing * 1000:.1f} ms per file")
    print(f"check at {rows / 1e6:g}M rows on 2 workers: model {model:.2f} s vs measured {measured:.2f} s (stats minus listing) -> "
          f"fixed overhead per run (scatter, scheduling, gather) {overhead:.2f} s")
    big = 1_000_000_000
    tasks = math.ceil(big / partition_rows)
    depth = math.ceil(math.log2(tasks))
    files = math.ceil(big / file_rows)
    print(f"\nprojection for 1B rows, sketch mode, {partition_rows / 1e6:g}M-row partitions ({tasks} tasks, tree depth {depth}), "
          f"{file_rows / 1e6:g}M-row files ({files} files):")
    print("  time = cluster start + files x listing + (rows / 1M) x cost_per_1M / N + depth x merge + overhead")
    print(f"       = {start_s:.1f} + {files} x {listing:.4f} + 1000 x {part:.3f} / N + {depth} x {merge:.4f} + {overhead:.2f}")
    print(f"  {'N workers':>10} {'seconds':>9} {'minutes':>8}   (cluster start: measured for 2 local processes; 0 for a running cluster)")
    for n in (1, 2, 8, 32, 128):
        seconds = start_s + files * listing + 1000 * part / n + depth * merge + overhead
        print(f"  {n:>10} {seconds:9.1f} {seconds / 60:8.2f}")
    print(f"  local executor (one thread, no cluster): 1000 x {local_cost:.3f} = {1000 * local_cost:.0f} s "
          f"({1000 * local_cost / 60:.1f} min)")
    print("  assumes each worker has its own core and reads its files at the speed measured here (page cache; from object "
          "storage add the transfer), the scheduler keeping up with ~2 tasks per partition")


# ---- main -------------------------------------------------------------------------------------------------------------

def main() -> None:  # noqa: PLR0915 (a script: one section per measurement)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--row-group", type=int, default=250_000)
    parser.add_argument("--partition-rows", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="250000,500000,1000000,2000000", help="partition sizes for the memory runs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", default="sketch,exact")
    parser.add_argument("--skip-memory", action="store_true", help="only the side-by-side runs")
    parser.add_argument("--keep", action="store_true", help="keep the generated data (the folder is printed)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    import psutil

    from workbench.data import demo

    modes = args.modes.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="wb-scale-", dir="/tmp"))
    began = time.perf_counter()
    tcp = TcpCluster(root, 2, str(psutil.virtual_memory().total // 2))  # as dask-local's "auto": the machine's memory / workers
    try:
        files = demo.generate(root / "demo")
        before = peak_mb()
        info = write_batch(files.batches[4], root / "batch", rows=args.rows, files=args.files, row_group=args.row_group)
        batch = root / "batch"
        print(f"scale-out benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
              f"{psutil.virtual_memory().total / 1024**3:.0f} GB, Python {sys.version.split()[0]}, load average before "
              f"{os.getloadavg()[0]:.1f}")
        print(f"batch: {info['rows']:,} rows x 15 columns (6 numeric + 6 categorical profiled), {info['files']} Parquet files of "
              f"{info['rows'] // info['files']:,} rows in {info['row_group']:,}-row groups, {info['bytes'] / MB:.0f} MB, written in "
              f"{info['seconds']:.1f} s; generator peak RSS {peak_mb():.0f} MB ({before:.0f} MB before: imports + demo)")
        print(f"runs: each a fresh process; side by side in turns, median of {args.repeat}; partitions of {args.partition_rows:,} rows "
              "(dask.partition_rows); workers: 1 thread each\n")
        spec = {"reference": str(files.reference), "batch": str(batch), "rows_per_task": args.partition_rows}
        runs = {mode: {"local": [], "dask-local": [], "tcp": []} for mode in modes}
        starts = []
        for _ in range(args.repeat):
            for mode in modes:
                runs[mode]["local"].append(measure(spec | {"executor": "local", "mode": mode}))
                runs[mode]["dask-local"].append(measure(spec | {"executor": "dask-local", "mode": mode}))
            starts.append(tcp.start())
            try:
                for mode in modes:
                    runs[mode]["tcp"].append(measure(spec | {"executor": tcp.address, "mode": mode}))
            finally:
                tcp.stop()
        for mode in modes:
            print(f"== {mode} mode, {info['rows']:,} rows ==")
            side_by_side(runs[mode], starts, info["rows"], mode)
            print()
        print("start: dask-local = LocalCluster up + client connected (per command); tcp:// = scheduler and worker processes "
              "started until both workers joined (once per cluster; connecting took "
              f"{med(runs[modes[0]]['tcp'], 'start_s'):.2f} s); imports: pandas/pyarrow/workbench on each worker, once per worker "
              "process; stats: drift_stats (listing, tasks, tree merge, gather); total = start + imports + stats (tcp:// without "
              "its start: a team's cluster is already running); peaks: VmHWM of each process, reset when the run starts\n")
        if "sketch" in modes:
            projection(runs["sketch"]["tcp"], runs["sketch"]["local"], statistics.median(starts), info["rows"], args.partition_rows,
                       info["rows"] // info["files"])
        if not args.skip_memory:
            memory_runs(spec, batch, root, info, sizes, modes)
    finally:
        tcp.stop()
        if args.keep:
            print(f"\ndata kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nwhole benchmark: {(time.perf_counter() - began) / 60:.1f} min; load average after {os.getloadavg()[0]:.1f}")


def memory_runs(spec: dict, batch: Path, root: Path, info: dict, sizes: list[int], modes: list[str]) -> None:
    """Worker peak RSS against the partition size and the batch size (dask-local, a fresh cluster each run)."""
    print(f"\n== worker peak RSS vs partition size (dask-local, 2 workers, a fresh cluster per run, {info['rows']:,} rows) ==")
    print(f"{'mode':<7} {'row group':>10} {'partition':>10} {'tasks':>6} {'stats s':>8} {'worker idle MB':>15} {'worker peaks MB':>16} "
          f"{'peak - idle':>12} {'client peak MB':>15}")
    variants = {info["row_group"]: batch}
    cases = [(mode, info["row_group"], size) for mode in modes for size in sizes]
    cases += [("sketch", size, size) for size in sizes if size != info["row_group"] and size <= info["rows"] // info["files"]]
    for mode, group, size in cases:
        if group not in variants:
            variants[group] = rewrite(batch, root / f"batch-rg{group}", group)
        _memory_row(spec | {"executor": "dask-local", "mode": mode, "batch": str(variants[group]), "rows_per_task": size}, mode, group)
    print(f"\n== worker peak RSS vs batch size (dask-local, 2 workers, {spec['rows_per_task']:,}-row partitions) ==")
    half = first_files(batch, root / "batch-half", info["files"] // 2)
    for mode in modes:
        for path in (half, batch):
            _memory_row(spec | {"executor": "dask-local", "mode": mode, "batch": str(path)}, mode, info["row_group"])


def _memory_row(spec: dict, mode: str, group: int) -> None:
    run = measure(spec)
    idle, peak = run["idle_mb"], run["worker_peak_mb"]
    extra = " / ".join(f"{p - i:.0f}" for p, i in zip(peak, idle, strict=True))
    print(f"{mode:<7} {group:>10,} {spec['rows_per_task']:>10,} {run['tasks']:>6} {run['compute_s']:8.2f} "
          f"{' / '.join(f'{i:.0f}' for i in idle):>15} {' / '.join(f'{p:.0f}' for p in peak):>16} {extra:>12} "
          f"{run['client_peak_mb']:15.0f}   ({run['rows']:,} rows)")


if __name__ == "__main__":  # LocalCluster's worker processes re-import this module: nothing may run on import
    main()
