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
    """``dask scheduler`` + ``workers`` single-thread ``dask worker`` processes on 127.0.0.1, in their own sessions.

    Each worker runs under its nanny, as ``dask worker ADDRESS`` does by default on a team's
    cluster (the test kills workers, so it runs them without); the nanny sets Dask's
    ``pre-spawn-environ`` (``MALLOC_TRIM_THRESHOLD_``) in its worker as LocalCluster does.
    """

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
            self._start(f"w{i}", "worker", self.address, "--name", f"w{i}", "--nthreads", "1", "--host", "127.0.0.1",
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

def cpu_s() -> float:
    """CPU seconds this process has used (user + system, every thread: Arrow decodes in its own threads)."""
    times = os.times()
    return times.user + times.system


def child(spec: dict) -> dict:
    """Time ``drift_stats`` of ``spec['batch']`` on ``spec['executor']``; peaks and CPU per process; Dask's per-task times."""
    import pandas as pd

    from tests.scale.conftest import CATEGORICAL, NUMERIC
    from workbench import scale
    from workbench.analyses import drift
    from workbench.config import DaskConfig
    from workbench.scale import stats

    if spec.get("untrimmed"):  # Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in their workers; None removes it
        import dask

        dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
    profile = drift.build_profile(pd.read_parquet(spec["reference"]), numeric=NUMERIC, categorical=CATEGORICAL, mode=spec["mode"])
    began = time.perf_counter()
    listed = scale.partitions(scale.batch_files(spec["batch"]), spec["rows_per_task"])  # what drift_stats does first, on the client
    out = {"listing_s": time.perf_counter() - began, "tasks": len(listed), "files": len({p.path for p in listed}),
           "client_before_mb": reset_peak()}  # the client's peak from here: cluster start (dask-local) and the run
    began = time.perf_counter()
    with scale.open_executor(spec["executor"], DaskConfig(partition_rows=spec["rows_per_task"])) as executor:
        out["start_s"] = time.perf_counter() - began  # dask-local: the LocalCluster's start; tcp://: connecting
        client = getattr(executor, "client", None)
        remote = _prepare(client, spec["executor"].startswith("tcp://"), out) if client is not None else None
        began, cpu = time.perf_counter(), cpu_s()
        merged = stats.drift_stats(executor, profile, spec["batch"], rows_per_task=spec["rows_per_task"])
        out["compute_s"], out["client_cpu_s"], out["client_peak_mb"] = time.perf_counter() - began, cpu_s() - cpu, peak_mb()
        if remote is not None:
            out |= _collect(client, remote)
        began = time.perf_counter()
    out["close_s"] = time.perf_counter() - began
    if spec.get("tiny"):  # the fixed cost of a run: listing, profile scatter, one task's round trip, gather
        out["fixed_s"] = statistics.median(_fixed(spec, profile) for _ in range(5))
    result = drift.compare(profile, merged).columns
    out["rows"] = merged.rows
    out["result"] = {"statistic": result["statistic"].tolist(), "p_value": result["p_value"].tolist(), "drifted": result["drifted"].tolist()}
    return out


def _fixed(spec: dict, profile) -> float:  # noqa: ANN001
    """Seconds of ``drift_stats`` on a one-task batch, on a client of its own (connecting not counted).

    A client of its own as each monitor phase has: a second ``drift_stats`` with the same profile
    on one executor hangs (its re-scatter reuses the released key; see the README's scale-out section).
    """
    from workbench import scale
    from workbench.config import DaskConfig
    from workbench.scale import stats

    with scale.open_executor(spec["executor"], DaskConfig()) as executor:
        began = time.perf_counter()
        stats.drift_stats(executor, profile, spec["tiny"], rows_per_task=spec["rows_per_task"])
        return time.perf_counter() - began


def _prepare(client, tcp: bool, out: dict) -> dict:  # noqa: ANN001
    """Warm the workers (imports), reset their peaks, note their CPU so far and start recording the task stream."""
    from distributed import get_task_stream

    began = time.perf_counter()
    out["idle_mb"] = sorted(client.run(_warm).values())
    out["trim"] = sorted({str(v) for v in client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()})
    out["warm_s"] = time.perf_counter() - began
    client.run(reset_peak)  # each worker's peak during this run only (a tcp:// worker lives across runs)
    if tcp:
        client.run_on_scheduler(reset_peak)
    stream = get_task_stream(client=client)
    stream.__enter__()
    return {"stream": stream, "tcp": tcp, "cpu": client.run(cpu_s), "scheduler_cpu": client.run_on_scheduler(cpu_s) if tcp else 0.0}


def _collect(client, remote: dict) -> dict:  # noqa: ANN001
    """Per worker (and scheduler) peak RSS and CPU of the run, and the tasks' compute times."""
    cpu = client.run(cpu_s)
    remote["stream"].__exit__(None, None, None)
    out = {"worker_peak_mb": sorted(client.run(peak_mb).values()), "worker_cpu_s": sum(cpu[w] - remote["cpu"][w] for w in cpu)}
    if remote["tcp"]:
        out["scheduler_peak_mb"] = client.run_on_scheduler(peak_mb)
        out["scheduler_cpu_s"] = client.run_on_scheduler(cpu_s) - remote["scheduler_cpu"]
    return out | _task_times(remote["stream"].data)


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


EXECUTORS = (("local", "local (in process)"), ("dask-local", "dask-local, 2 workers"),
             ("untrimmed", "  same, MALLOC_TRIM unset"), ("tcp", "tcp://, scheduler + 2 workers"))


def side_by_side(runs: dict[str, list[dict]], starts: list[float], rows: int, mode: str) -> None:
    local = med(runs["local"], "compute_s")
    print(f"{'executor':<30} {'start s':>8} {'imports s':>9} {'stats s':>8} {'x local':>8} {'total s':>8} {'x local':>8} {'CPU s':>7} "
          f"{'client peak MB':>15} {'worker peaks MB':>16} {'sched. MB':>9}")
    for name, label in EXECUTORS:
        rs = runs[name]
        start = statistics.median(starts) if name == "tcp" else med(rs, "start_s")
        warm, compute = (med(rs, "warm_s") if name != "local" else 0.0), med(rs, "compute_s")
        total = (start if name != "tcp" else 0.0) + warm + compute
        cpu = statistics.median(r["client_cpu_s"] + r.get("worker_cpu_s", 0.0) + r.get("scheduler_cpu_s", 0.0) for r in rs)
        sched = f"{max(r['scheduler_peak_mb'] for r in rs):.0f}" if name == "tcp" else ("-" if name == "local" else "in client")
        print(f"{label:<30} {start:8.2f} {warm:9.2f} {compute:8.2f} {compute / local:8.2f} {total:8.2f} {total / local:8.2f} {cpu:7.1f} "
              f"{max(r['client_peak_mb'] for r in rs):15.0f} {peaks(rs, 'worker_peak_mb'):>16} {sched:>9}")
    trims = ", ".join(f"{name} {'/'.join(sorted({t for r in rs for t in r['trim']}))}" for name, rs in runs.items() if name != "local")
    diff = same_results([r for rs in runs.values() for r in rs])
    print(f"  MALLOC_TRIM_THRESHOLD_ in the workers: {trims}")
    print(f"  {mode}: every executor flags the same columns; max |difference| of a statistic or p-value between runs: {diff:.3g}"
          f"{' (bit-identical)' if diff == 0 else ''}")


def projection(runs: dict[str, list[dict]], start_s: float, rows: int, partition_rows: int, file_rows: int) -> None:
    """Per-partition cost measured on the cluster, and the time for 1B rows on N workers."""
    tcp = runs["tcp"]
    millions = rows / 1e6
    cpu = statistics.median(r["worker_cpu_s"] for r in tcp) / millions  # per 1M rows: what a worker with its own core spends
    wall = statistics.median(sum(r["partition_s"]) for r in tcp) / millions  # the tasks' time here, sharing 2 cores
    lean = statistics.median(r["worker_cpu_s"] for r in runs["untrimmed"]) / millions
    local_cpu, local_wall = (statistics.median(r[k] for r in runs["local"]) / millions for k in ("client_cpu_s", "compute_s"))
    merge = statistics.median(statistics.median(r["merge_s"]) for r in tcp)
    listing = statistics.median(r["listing_s"] / r["files"] for r in tcp)
    fixed = med(tcp, "fixed_s")
    print(f"per-partition cost, seconds per 1M rows per worker thread ({partition_rows / 1e6:g}M-row partitions, sketch):")
    print(f"  tcp:// workers (Dask's defaults): CPU {cpu:.3f}, task wall time here {wall:.3f} (Dask's task stream; 2 workers, the "
          "client and the scheduler share 2 cores)")
    print(f"  dask-local workers with MALLOC_TRIM_THRESHOLD_ unset: CPU {lean:.3f} (Dask's nannies set it to 65536 in their workers: "
          f"glibc hands freed memory back to the OS and faults it in again for the next arrays; {cpu / lean:.2f}x the CPU)")
    print(f"  local executor (one process, merges included): CPU {local_cpu:.3f}, wall {local_wall:.3f}")
    print(f"merge of two partitions' statistics on a worker: {merge * 1000:.1f} ms; client-side listing of the Parquet metadata: "
          f"{listing * 1000:.2f} ms per file; fixed cost of a run (a one-task batch: listing, profile scatter, round trip, gather): "
          f"{fixed:.3f} s")
    depth = math.ceil(math.log2(math.ceil(rows / partition_rows)))
    model = math.ceil(rows / file_rows) * listing + millions * cpu / 2 + (depth + 1) * fixed
    print(f"check, {millions:g}M rows on 2 workers: the model below gives {model:.2f} s, measured {med(tcp, 'compute_s'):.2f} s "
          f"(the difference: the 2 cores are shared with the client, the scheduler and, today, other processes)")
    big = 1_000_000_000
    tasks = math.ceil(big / partition_rows)
    depth = math.ceil(math.log2(tasks))
    files = math.ceil(big / file_rows)
    print(f"\nprojection for 1B rows, sketch mode, {partition_rows / 1e6:g}M-row partitions ({tasks} tasks, tree depth {depth}), "
          f"{file_rows / 1e6:g}M-row files ({files} files), N single-thread workers each on its own core:")
    print("  time = cluster start + files x listing + (rows / 1M) x cost_per_1M / N + (tree depth + 1) x fixed cost of a round trip")
    print(f"       = {start_s:.1f} + {files} x {listing:.5f} + {big // 1_000_000} x {cpu:.3f} / N + {depth + 1} x {fixed:.3f}")
    print(f"  {'N workers':>10} {'seconds':>9} {'minutes':>8} {'cost ' + format(lean, '.3f') + ' (trim unset) s':>28} "
          f"{'cost ' + format(wall, '.3f') + ' (wall here) s':>27}")
    for n in (1, 2, 8, 32, 128):
        rest = start_s + files * listing + (depth + 1) * fixed
        seconds = rest + big / 1e6 * cpu / n
        print(f"  {n:>10} {seconds:9.1f} {seconds / 60:8.2f} {rest + big / 1e6 * lean / n:28.1f} {rest + big / 1e6 * wall / n:27.1f}")
    print(f"  local executor (one process, no cluster): {big // 1_000_000} x {local_wall:.3f} = {big / 1e6 * local_wall:.0f} s "
          f"({big / 1e6 * local_wall / 60:.1f} min) at the wall time measured here")
    print("  cluster start: as measured for 2 processes here (0 for a running cluster); assumes the files are read at the speed "
          "measured here (page cache; from object storage add the transfer) and a scheduler that keeps up (2 tasks per partition)")


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
              f"{info['seconds']:.1f} s; generator peak RSS {peak_mb():.0f} MB ({before:.0f} MB before: imports + demo; it holds "
              "one chunk of <= 1M rows at a time, whatever --rows)")
        print(f"runs: each a fresh process; side by side in turns, median of {args.repeat}; partitions of {args.partition_rows:,} rows "
              "(dask.partition_rows); workers: 1 thread each\n")
        spec = {"reference": str(files.reference), "batch": str(batch), "rows_per_task": args.partition_rows}
        runs = {mode: {name: [] for name, _ in EXECUTORS} for mode in modes}
        starts = []
        for _ in range(args.repeat):
            for mode in modes:
                runs[mode]["local"].append(measure(spec | {"executor": "local", "mode": mode}))
                runs[mode]["dask-local"].append(measure(spec | {"executor": "dask-local", "mode": mode}))
                runs[mode]["untrimmed"].append(measure(spec | {"executor": "dask-local", "mode": mode, "untrimmed": True}))
            starts.append(tcp.start())
            try:
                for mode in modes:
                    runs[mode]["tcp"].append(measure(spec | {"executor": tcp.address, "mode": mode, "tiny": str(files.batches[4])}))
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
              "its start: a team's cluster is already running); peaks: VmHWM of each process, reset when the run starts; CPU s: user "
              "+ system seconds of the client, the workers and the scheduler during stats")
        print(f"on this {os.cpu_count()}-core machine a cluster with Dask's defaults is slower than local (the x local columns), as "
              "expected: its 2 worker processes share the cores with the client and the scheduler, pay process start, imports and "
              "transfers, and Dask's MALLOC_TRIM_THRESHOLD_ costs each partition more CPU (below); a cluster pays off with more cores "
              "or machines (the projection below, from the measured per-partition cost)\n")
        if "sketch" in modes:
            projection(runs["sketch"], statistics.median(starts), info["rows"], args.partition_rows, info["rows"] // info["files"])
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
    cases = [("sketch", info["row_group"], size) for size in sizes]  # exact: its peak follows the batch (the runs below)
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
