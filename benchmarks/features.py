"""Feature store: online lookups, materialization of the demo views, and what Feast's import costs and who pays it.

1. Online lookups of 1 / 100 / 1,000 demo customers (two views, ten fields) side by side, the contenders
   interleaved on the same random ids: Feast's ``get_online_features`` on sqlite and on Redis
   (``OnlineFeatures(reader="feast")``), the direct Redis reader (``OnlineFeatures``, the default with
   Redis), and the same rows read from the views' Parquet files with a pyarrow filter (and from frames
   loaded once, a floor). p50 / p95 in ms, client CPU, ratios against Feast on Redis; the direct and Feast readers
   must return the same Lookup (checked on the 10 warm-up samples of each size).
2. Materialization of the demo views (24,000 customers x 2 views), sqlite and Redis:
   ``workbench features materialize`` in a fresh process (wall and CPU time, and the seconds it reports) into an
   empty store and then again over a full one, and the in-process steps of one run.
3. Import cost: ``import feast`` as is, through the workbench helper (``_feast.feast()``, typeguard's
   instrumentation skipped), and a scoring worker's start (import, open, first lookup) per reader.
4. Which lifecycle phases pay that import: ``workbench run`` twice and ``workbench monitor`` on a batch it
   has never seen, every kernel reporting (through a ``sitecustomize`` on PYTHONPATH) whether it imported
   Feast and from where; plus each phase's time in the cold and the warm run.

A ``redis-server`` is started on a free loopback port (no persistence) and stopped by its PID at the end.
Usage: ``python benchmarks/features.py [--reps 400] [--repeat 3] [--skip-phases]`` (~8 min; ~2 min with --skip-phases).
Not a test: numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
       "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}
NOW = datetime(2026, 11, 1, tzinfo=UTC)  # materialized until; the lookups' "now"
HOOK = """
import json, os, sys, traceback
def _say(**what):  # one line per event, written at once (a kernel may be killed before atexit)
    with open(os.environ["WB_FEAST_LOG"], "a") as fh:
        fh.write(json.dumps({"pid": os.getpid(), **what}) + "\\n")
class _Watch:  # the first phase module a kernel imports is its notebook's (later ones are that module's imports)
    phase = via = None
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if cls.phase is None and name.startswith("workbench.phases.") and not name.rsplit(".", 1)[1].startswith("_"):
            cls.phase = name.rsplit(".", 1)[1]
            _say(phase=cls.phase)
        if name == "feast" and cls.via is None:
            cls.via = [f"{os.path.basename(f.filename)[:-3]}.{f.name}" for f in traceback.extract_stack() if "/workbench/" in f.filename]
            _say(via=cls.via)
        return None
sys.meta_path.insert(0, _Watch)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("redis-server did not start")


def project(folder: Path, online: str, name: str = "") -> Path:
    """The demo project on the feature store, its state in ``.workbench-<name>`` (the data shared)."""
    cfg = yaml.safe_load((REPO / "workbench.yaml").read_text())
    name = name or ("sqlite" if online == "sqlite" else "redis")
    cfg["store"], cfg["reports"], cfg["features"]["online"] = f".workbench-{name}", f"reports-{name}", online
    path = folder / f"workbench-{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str, float]:
    """Wall seconds, stdout, and CPU seconds (user + system) of the process and its children."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env or ENV, capture_output=True, text=True)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, proc.stdout, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


# 1. online lookups ----------------------------------------------------------------------------------------------

def lookups(paths: dict[str, Path], reps: int) -> None:
    import pyarrow.parquet as pq

    from workbench.config import load_config
    from workbench.features.online import OnlineFeatures

    sqlite, redis = load_config(paths["sqlite"]), load_config(paths["redis"])
    readers = {"Feast, sqlite": OnlineFeatures(sqlite, reader="feast"), "Feast, Redis": OnlineFeatures(redis, reader="feast"),
               "direct Redis reader": OnlineFeatures(redis)}
    assert readers["direct Redis reader"].reader == "redis"
    key = readers["Feast, sqlite"].key
    views = {n: (v.source, v.timestamp, list(v.fields)) for n, v in sqlite.features.views.items()}
    loaded = {n: pd.read_parquet(src, columns=[key, ts, *fs]).sort_values(ts).drop_duplicates(key, keep="last").set_index(key)[fs]
              for n, (src, ts, fs) in views.items()}

    def parquet(ids: list[str]) -> pd.DataFrame:
        parts = []
        for src, ts, fs in views.values():
            got = pq.read_table(src, columns=[key, ts, *fs], filters=[(key, "in", ids)]).to_pandas()
            parts.append(got.sort_values(ts).drop_duplicates(key, keep="last").set_index(key).reindex(ids)[fs].reset_index(drop=True))
        return pd.concat(parts, axis=1)

    contenders = {**{k: (lambda ids, r=r: r.lookup(ids, now=NOW)) for k, r in readers.items()}, "Parquet files, pyarrow filter": parquet,
                  "frames in memory, reindex (floor)": lambda ids: pd.concat([f.reindex(ids).reset_index(drop=True) for f in loaded.values()], axis=1)}
    everyone = loaded["customer_profile"].index.tolist()
    rng = random.Random(0)
    print(f"online lookups at {NOW.date()}, two views (10 fields), {len(everyone):,} customers; contenders interleaved on the same random ids")
    print(f"{'entities':>8}  {'contender':<36}{'p50 ms':>9}{'p95 ms':>9}{'CPU ms':>9}{'x Feast-Redis p95':>19}  reps")
    p95s: dict[tuple[int, str], float] = {}
    for n in (1, 100, 1000):
        count = reps if n < 1000 else max(20, reps // 6)
        times: dict[str, list[float]] = {k: [] for k in contenders}
        cpu: dict[str, float] = dict.fromkeys(contenders, 0.0)
        same = True
        for rep in range(count + 10):
            ids = rng.sample(everyone, n)
            got = {}
            for name, fn in sorted(contenders.items(), key=lambda _: rng.random()):  # a fresh order each round
                started, clock = time.perf_counter(), time.process_time()
                got[name] = fn(ids)
                if rep >= 10:  # the first 10 rounds warm up
                    times[name].append(time.perf_counter() - started)
                    cpu[name] += time.process_time() - clock
            if rep < 10:
                a, b = got["direct Redis reader"], got["Feast, Redis"]
                same = same and a.results == b.results and a.frame.equals(b.frame) and (a.frame.dtypes == b.frame.dtypes).all()
        base = pct(times["Feast, Redis"], 95)
        for name, values in times.items():
            p50, p95 = statistics.median(values) * 1e3, pct(values, 95) * 1e3
            p95s[n, name] = p95
            print(f"{n:>8}  {name:<36}{p50:9.2f}{p95:9.2f}{cpu[name] / len(values) * 1e3:9.2f}{base * 1e3 / p95:18.1f}x  {len(values)}")
        print(f"{'':>8}  direct reader's Lookup identical to Feast's (frame, dtypes, results) on the first 10 samples: {same}")
    for name in ("Feast, Redis", "direct Redis reader"):
        p95 = p95s[100, name]
        print(f"target: p95 <= 2 ms for 100 entities from Redis -> {name}: {'met' if p95 <= 2 else 'NOT met'} ({p95:.2f} ms)")


# 2. materialization ---------------------------------------------------------------------------------------------

STEPS = """
import sys, time, json
t = {}
s = time.perf_counter(); from workbench.config import load_config; from workbench.features import _feast, sources, store; from workbench.data import sources as ds
t["import workbench"] = time.perf_counter() - s
config = load_config(sys.argv[1]); s = time.perf_counter(); ds.ensure_demo_data(config); t["demo files present?"] = time.perf_counter() - s
s = time.perf_counter(); _feast.feast(); t["import feast (helper)"] = time.perf_counter() - s
s = time.perf_counter(); infos = sources.check_all(config); t["check the sources (pyarrow)"] = time.perf_counter() - s
s = time.perf_counter(); store._apply(config); t["apply (unchanged: a no-op)"] = time.perf_counter() - s
s = time.perf_counter(); fs = _feast.open_store(config); t["open the store (FeatureStore, imports dask)"] = time.perf_counter() - s
from datetime import datetime, UTC
start, end = min(i.oldest for i in infos.values()), datetime(2026, 11, 1, tzinfo=UTC)
s = time.perf_counter(); _feast.materialize(fs, start, end); t["Feast materialize"] = time.perf_counter() - s
print(json.dumps(t))
"""


def materialization(folder: Path, paths: dict[str, Path], repeat: int) -> None:
    print(f"\nmaterialize the demo views until {NOW.date()} (24,000 customers x 2 views, 10 fields): `workbench features materialize`, fresh process each")
    print(f"{'online':<8}{'run':<28}{'wall s':>8}{'CPU s':>8}{'reported s':>12}")
    for kind, path in paths.items():
        for i in range(repeat):
            label = "empty store (applies first)" if i == 0 else "again, over a full store"
            wall, out, cpu = run([str(BIN / "workbench"), "features", "materialize", "--config", str(path), "--until", NOW.date().isoformat()], folder)
            reported = float(re.search(r"in ([\d.]+) s", out).group(1))
            print(f"{kind:<8}{label:<28}{wall:8.2f}{cpu:8.2f}{reported:12.2f}")
    for kind, path in paths.items():
        _, out, _ = run([sys.executable, "-c", STEPS, str(path)], folder)
        steps = json.loads(out.strip().splitlines()[-1])
        print(f"  {kind}, one run in process, by step: " + "; ".join(f"{k} {v:.2f}s" for k, v in steps.items()))
    print("target: materialize demo <= 5 s (the reported figure: open the store + Feast's materialize)")


# 3. import cost -------------------------------------------------------------------------------------------------

WORKER = """
import sys, time, json
s = time.perf_counter(); from workbench.config import load_config; from workbench.features.online import OnlineFeatures
config = load_config(sys.argv[1]); a = time.perf_counter()
of = OnlineFeatures(config, reader=sys.argv[2]); b = time.perf_counter(); of.lookup([sys.argv[3]]); c = time.perf_counter()
print(json.dumps({"import workbench": a - s, "open (import feast, FeatureStore)": b - a, "first lookup": c - b}))
"""


def imports(folder: Path, paths: dict[str, Path], repeat: int, some_id: str) -> None:
    print("\nimport cost, fresh process each, median of", repeat)
    rows = {"import feast (as is: typeguard instruments ~240 functions)": "import feast",
            "workbench helper _feast.feast() (typeguard skipped)": "from workbench.features import _feast; _feast.feast()",
            "import workbench.features (no Feast)": "import workbench.features"}
    plain = None
    for label, code in rows.items():
        wrapped = f"import time; s = time.perf_counter(); {code}; print(time.perf_counter() - s)"
        secs = statistics.median(float(run([sys.executable, "-c", wrapped], folder)[1].split()[-1]) for _ in range(repeat))
        plain = plain or secs
        print(f"  {label:<62}{secs:7.2f} s  x{plain / secs:5.1f}")
    for kind, reader in (("sqlite", "feast"), ("redis", "feast"), ("redis", "redis")):
        got = [json.loads(run([sys.executable, "-c", WORKER, str(paths[kind]), reader, some_id], folder)[1].strip().splitlines()[-1]) for _ in range(repeat)]
        parts = "; ".join(f"{k} {statistics.median(g[k] for g in got) * (1e3 if 'lookup' in k else 1):.2f}{' ms' if 'lookup' in k else ' s'}" for k in got[0])
        print(f"  scoring worker start, {kind} via {reader}: {parts}")


# 4. which phases pay it -----------------------------------------------------------------------------------------

def phases(folder: Path) -> None:
    hook = folder / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(textwrap.dedent(HOOK))
    log = folder / "feast-imports.jsonl"
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(hook), ENV["PYTHONPATH"]]), "WB_FEAST_LOG": str(log)}
    batches = sorted((folder / "data" / "demo" / "entities" / "batches").glob("*.parquet"))
    new = folder / "new-batch.parquet"  # a batch never seen: the last one's rows in another order (other bytes, other cache key)
    pd.read_parquet(batches[-1]).sample(frac=1, random_state=1).to_parquet(new, index=False)
    path = project(folder, "sqlite", "phases")  # a fresh store: nothing applied, no offline-join cache
    print("\nwhich phases import Feast (a fresh sqlite project; each kernel reports its phase and its Feast import as they happen)")
    print(f"{'run':<44}{'wall s':>8}  phases that imported Feast (via) / phases that did not")
    durations = {}
    for label, args in (("workbench run (fresh store: cache empty)", ["run", "--run-id", "cold"]),
                        ("workbench run again (offline-join cache warm)", ["run", "--run-id", "warm"]),
                        ("workbench monitor --batch <a new batch file>", ["monitor", "--batch", str(new)])):
        log.unlink(missing_ok=True)
        wall, _, _ = run([str(BIN / "workbench"), *args, "--config", str(path)], folder, env)
        events = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        by_pid: dict[int, dict] = {}
        for event in events:
            by_pid.setdefault(event["pid"], {}).update(event)
        paid = [f"{r.get('phase', 'the command itself')} ({' > '.join(r['via'][-3:])})" for r in by_pid.values() if "via" in r]
        free = sorted(r["phase"] for r in by_pid.values() if "phase" in r and "via" not in r)
        print(f"{label:<44}{wall:8.1f}  {', '.join(paid) or 'none'} / {', '.join(free) or '-'}")
        if args[0] == "run":
            manifest = json.loads((folder / "reports-phases" / args[2] / "manifest.json").read_text())
            durations[args[2]] = {n: e["duration_s"] for n, e in manifest["phases"].items()}
    print("  phase seconds, cold run vs warm run: " + "; ".join(f"{n} {durations['cold'][n]:.1f} vs {durations['warm'][n]:.1f}" for n in durations["cold"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400, help="measured lookups per contender and size (1,000 entities: a sixth)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh-process runs for materialize and imports")
    parser.add_argument("--skip-phases", action="store_true", help="skip the two demo runs and the monitor run (~4 min)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    load = os.getloadavg()
    print(f"features benchmark, {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"load average before {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
        folder = Path(tmp)
        redis, url = start_redis(folder)
        try:
            out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()
            print(f"redis-server {next((w for w in out if w.startswith('v=')), '?')[2:]} on {url} (pid {redis.pid})")
            paths = {"sqlite": project(folder, "sqlite"), "redis": project(folder, url)}
            materialization(folder, paths, args.repeat)
            some_id = pd.read_parquet(folder / "data/demo/features/customer_profile.parquet", columns=["customer_id"])["customer_id"].iloc[0]
            imports(folder, paths, args.repeat, some_id)
            lookups(paths, args.reps)
            if not args.skip_phases:
                phases(folder)
        finally:
            redis.terminate()
            redis.wait(10)
    load = os.getloadavg()
    print(f"load average after {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")


if __name__ == "__main__":
    main()
