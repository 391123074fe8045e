"""Online scoring: ``workbench api`` against MLflow's scoring server for the same champion, side by side.

1. Trains the demo project once in a throwaway folder (``workbench run``, ~40 s; ``--project DIR``
   reuses a trained one), starts ``workbench api`` and ``mlflow models serve`` (one worker each,
   loopback) for ``models:/churn-demo@champion``, and checks that both give the same answers. MLflow
   3.17 loads a skops model only with ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true``, so its server gets that.
2. Drives each with a bounded load generator (asyncio + httpx, fixed concurrency, warm-up first):
   1-record and 100-record requests, the two servers alternating (A B B A A B B A), and reports
   throughput, p50 and p99 latency and each server's CPU time per request (its process tree's
   user + system time). The generator runs in this process, on the same 2 cores.
3. Times, in-process, the resilience layer on a healthy call (breaker + retry) and the fallback
   decision with the champion's breaker open (``breaker.call`` and ``routing.route`` end to end).

Usage: ``python benchmarks/serving.py [--concurrency 8] [--requests 2000] [--project DIR] [--quick] [--omp-threads N]``.
Not a test: numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
       "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")])}  # `mlflow models serve` execs `uvicorn` from PATH


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """A server in its own process group (stopped with everything it spawned)."""
    with open(log, "wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)
            return


def wait_ready(proc: subprocess.Popen, url: str, log: Path, timeout: float = 300) -> float:
    """Seconds from now until ``url`` answers 200."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}) before {url} answered:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - began
        time.sleep(0.1)
    raise SystemExit(f"{url} not ready after {timeout}s:\n{log.read_text()[-3000:]}")


def train(folder: Path) -> float:
    shutil.copy(REPO / "workbench.yaml", folder / "workbench.yaml")
    began = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "--config", str(folder / "workbench.yaml")], cwd=folder, env=ENV,
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"demo run failed:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - began


async def drive(url: str, bodies: list[bytes], concurrency: int, n: int, warmup: int) -> tuple[float, list[float]]:
    """Send ``n`` requests (after ``warmup``) from ``concurrency`` workers; wall seconds and per-request latencies."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits, headers={"content-type": "application/json"}) as client:
        async def run(count: int) -> list[float]:
            nxt, out = iter(range(count)), []

            async def worker() -> None:
                for i in nxt:
                    began = time.perf_counter()
                    response = await client.post(url, content=bodies[i % len(bodies)])
                    out.append(time.perf_counter() - began)
                    if response.status_code != 200:
                        raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return out

        await run(warmup)
        began = time.perf_counter()
        latencies = await run(n)
        return time.perf_counter() - began, latencies


def bodies_for(frame: pd.DataFrame, features: list[str], size: int, count: int = 40) -> tuple[list[bytes], list[bytes]]:
    """``count`` request bodies of ``size`` rows each: (workbench, MLflow)."""
    wb, mlf = [], []
    for k in range(count):
        rows = frame.iloc[[(k * size + j) % len(frame) for j in range(size)]]
        records = json.loads(rows.to_json(orient="records", date_format="iso"))  # NaN -> null
        wb.append(json.dumps(records[0] if size == 1 else records).encode())
        mlf.append(json.dumps({"dataframe_records": [{c: r[c] for c in features} for r in records]}).encode())
    return wb, mlf


def same_model(frame: pd.DataFrame, features: list[str], wb_url: str, mlf_url: str, model_uri: str) -> str:
    """Both servers on the same rows: MLflow's pyfunc answers ``predict`` (labels), ours scores and labels."""
    import mlflow.sklearn

    rows = frame.head(1000)
    wb_body, mlf_body = bodies_for(rows, features, 100, count=10)
    wb = [p for body in wb_body for p in httpx.post(wb_url, content=body, timeout=60).json()["predictions"]]
    mlf = [p for body in mlf_body for p in httpx.post(mlf_url, content=body, timeout=60, headers={"content-type": "application/json"}).json()["predictions"]]
    proba = mlflow.sklearn.load_model(model_uri).predict_proba(rows[features])[:, 1]  # the artifact MLflow serves, loaded here
    diff = np.abs(np.array([p["score"] for p in wb]) - proba).max()
    agree = sum(p["label"] == label for p, label in zip(wb, mlf, strict=True))
    return (f"same model: labels agree on {agree}/{len(rows)} rows (MLflow's server answers predict(), i.e. labels); max |score diff| "
            f"workbench API vs predict_proba of the artifact MLflow serves = {diff:.1e}")


def per_call_us(fn, n: int) -> float:
    began = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - began) / n * 1e6


def resilience_bench(project: Path, n: int) -> dict[str, float]:
    """Per-call microseconds of the resilience layer and of the fallback decision (in-process, no HTTP)."""
    from workbench.config import load_config
    from workbench.serving import resilience, routing
    from workbench.serving.models import ModelSource

    config = load_config(project / "workbench.yaml")
    with tempfile.TemporaryDirectory() as tmp:  # breaker state and its audit events go here, not to the project's store
        scratch = config.model_copy(update={"store": Path(tmp)})
        policy, breaker = config.resilience, resilience.Breaker(scratch, "bench")

        def trivial() -> int:
            return 1

        def failing() -> None:
            raise OSError("champion down (benchmark)")

        def refused() -> None:
            with contextlib.suppress(resilience.CircuitBreakerError):
                tripped.call(trivial)

        out = {"direct": min(per_call_us(trivial, n) for _ in range(3))}
        out["breaker"] = min(per_call_us(lambda: breaker.call(trivial), n) for _ in range(3)) - out["direct"]
        out["retry"] = min(per_call_us(lambda: resilience.retry(policy, "op", trivial), n) for _ in range(3)) - out["direct"]
        out["both"] = min(per_call_us(lambda: breaker.call(resilience.retry, policy, "op", trivial), n) for _ in range(3)) - out["direct"]
        tripped = resilience.Breaker(scratch, "bench-open")
        for _ in range(policy.fail_max):
            with contextlib.suppress(OSError, resilience.CircuitBreakerError):
                tripped.call(failing)
        out["open"] = min(per_call_us(refused, n // 10) for _ in range(3))

        source = ModelSource(config)
        source.breakers = {role: resilience.Breaker(scratch, role) for role in source.breakers}
        source.refresh()
        schema = source.schema_of("champion") or source.schema_of("baseline")
        cols = [*schema[1].features, schema[1].id]
        frame = pd.read_parquet(sorted(Path(config.data.batches).glob("*.parquet"))[-1])[cols].head(1)

        def timed(fn, reps: int = 300) -> float:
            fn()
            return statistics.median(per_call_us(fn, 1) for _ in range(reps)) / 1000

        out["route_closed_ms"] = timed(lambda: routing.route(frame, source, config))
        for _ in range(policy.fail_max):
            with contextlib.suppress(OSError, resilience.CircuitBreakerError):
                source.breakers["champion"].call(failing)
        if not routing.route(frame, source, config).fallback["used"]:
            raise RuntimeError("the champion's breaker did not open")
        pairs = [(per_call_us(lambda: routing.route(frame, source, config), 1), per_call_us(lambda: source.predict(source.get("baseline"), frame), 1))
                 for _ in range(300)]  # interleaved: a busy neighbour slows both alike
        out["route_open_ms"], out["baseline_ms"] = (statistics.median(p[i] for p in pairs) / 1000 for i in (0, 1))
        out["decision_ms"] = statistics.median(a - b for a, b in pairs) / 1000
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per scenario and server (after a warm-up)")
    parser.add_argument("--project", type=Path, help="an already trained demo project folder (default: train one in a temp folder)")
    parser.add_argument("--quick", action="store_true", help="300 requests per scenario and server, 10k micro-benchmark calls")
    parser.add_argument("--omp-threads", type=int, help="set OMP_NUM_THREADS for both servers and this process (default: unset, as shipped)")
    args = parser.parse_args()
    if args.omp_threads:
        os.environ["OMP_NUM_THREADS"] = ENV["OMP_NUM_THREADS"] = str(args.omp_threads)
    load_before = os.getloadavg()
    sys.path.insert(0, str(REPO))
    n, calls = (300, 10_000) if args.quick else (args.requests, 100_000)
    tmp = tempfile.TemporaryDirectory(prefix="bench-serving-")
    work = Path(tmp.name)
    procs: list[subprocess.Popen] = []
    try:
        project = args.project.resolve() if args.project else work
        if not args.project:
            print(f"training the demo project in {project} ...", flush=True)
            print(f"workbench run: {train(project):.1f}s", flush=True)
        from workbench.config import load_config

        config = load_config(project / "workbench.yaml")
        model_uri = f"models:/{config.project}@champion"
        wb_port, mlf_port = free_port(), free_port()
        wb_log, mlf_log = work / "workbench-api.log", work / "mlflow-serve.log"
        procs.append(start([sys.executable, "-m", "workbench.cli", "api", "--config", str(project / "workbench.yaml"), "--port", str(wb_port)],
                           wb_log, ENV))
        wb_ready = wait_ready(procs[-1], f"http://127.0.0.1:{wb_port}/ready", wb_log)
        # MLflow 3.17 refuses skops models unless MLFLOW_ALLOW_PICKLE_DESERIALIZATION is true: it reads the trusted types from the MLmodel file
        mlf_env = {**ENV, "MLFLOW_TRACKING_URI": config.mlflow_uri, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"}
        procs.append(start([str(BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local", "-p", str(mlf_port),
                            "-h", "127.0.0.1"], mlf_log, mlf_env))
        mlf_ready = wait_ready(procs[-1], f"http://127.0.0.1:{mlf_port}/ping", mlf_log)
        os.environ.update(MLFLOW_TRACKING_URI=config.mlflow_uri, MLFLOW_ALLOW_PICKLE_DESERIALIZATION="true")

        import mlflow

        version = mlflow.MlflowClient().get_model_version_by_alias(config.project, "champion")
        features = json.loads(version.tags["workbench.schema"])["features"]
        batch = sorted(Path(config.data.batches).glob("*.parquet"))[-1]
        frame = pd.read_parquet(batch).drop(columns=[config.data.target])
        urls = {"workbench": f"http://127.0.0.1:{wb_port}/predict", "mlflow": f"http://127.0.0.1:{mlf_port}/invocations"}
        print(f"servers: workbench api ready in {wb_ready:.1f}s, mlflow models serve ready in {mlf_ready:.1f}s (process start -> 200); "
              f"one uvicorn worker each; champion v{version.version}; rows from {batch.name} ({len(frame)} rows, {len(features)} features)")
        print(same_model(frame, features, urls["workbench"], urls["mlflow"], model_uri), flush=True)

        results: dict[tuple[int, str], tuple[float, list[float], float]] = {}
        trees = {name: [psutil.Process(p.pid), *psutil.Process(p.pid).children(recursive=True)] for name, p in zip(urls, procs, strict=True)}
        for size in (1, 100):
            bodies = dict(zip(("workbench", "mlflow"), bodies_for(frame, features, size), strict=True))
            for order in [("workbench", "mlflow"), ("mlflow", "workbench")] * 2:  # A B B A A B B A: neither always goes first
                for server in order:
                    cpu = sum(sum(p.cpu_times()[:2]) for p in trees[server])
                    secs, lat = asyncio.run(drive(urls[server], bodies[server], args.concurrency, n // 4, warmup=max(10, n // 40)))
                    cpu = (sum(sum(p.cpu_times()[:2]) for p in trees[server]) - cpu) * 1000 / (n // 4 + max(10, n // 40))
                    prev = results.get((size, server), (0.0, [], 0.0))
                    results[size, server] = (prev[0] + secs, prev[1] + lat, prev[2] + cpu / 4)
        out = resilience_bench(project, calls)
    finally:
        for proc in reversed(procs):
            stop(proc)
        tmp.cleanup()

    print(f"\nload average (1/5/15 min) before {'/'.join(f'{x:.1f}' for x in load_before)}, after {'/'.join(f'{x:.1f}' for x in os.getloadavg())}"
          f"; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"load: concurrency {args.concurrency}, {4 * (n // 4)} requests per scenario and server (4 rounds, A B B A A B B A), "
          "generator in this process on the same 2 cores")
    print(f"{'scenario':<22}{'server':<14}{'req/s':>9}{'records/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}")
    ratios = {}
    for size in (1, 100):
        row = {}
        for server in ("workbench", "mlflow"):
            secs, lat, cpu = results[size, server]
            row[server] = (len(lat) / secs, len(lat) * size / secs, pct(lat, 50), pct(lat, 99), cpu)
        ratios[size] = [w / m for w, m in zip(row["workbench"], row["mlflow"], strict=True)]
        label = f"{size} record{'s' if size > 1 else ''} / request"
        for server, name in (("workbench", label), ("mlflow", "")):
            rps, recs, p50, p99, cpu = row[server]
            print(f"{name:<22}{server:<14}{rps:9.1f}{recs:11.0f}{p50:9.2f}{p99:9.2f}{cpu:12.2f}")
        print(f"{'':<22}{'ratio wb/mlf':<14}" + "".join(f"{r:{w}.2f}" for r, w in zip(ratios[size], (9, 11, 9, 9, 12), strict=True)))

    print(f"server CPU per request, MLflow / workbench (each server is GIL-bound to about one core: roughly the throughput ratio when neither "
          f"is starved of CPU): 1 record {1 / ratios[1][4]:.2f}x, 100 records {1 / ratios[100][4]:.2f}x")
    print(f"\nresilience, in-process, {calls:,} calls of a trivial function (direct call {out['direct']:.2f} us)")
    print(f"{'wrapper':<52}{'overhead us/call':>17}")
    for key, label in (("breaker", "Breaker.call(fn)"), ("retry", "resilience.retry(policy, op, fn)"),
                       ("both", "Breaker.call(retry, policy, op, fn)"), ("open", "open breaker: Breaker.call -> CircuitBreakerError")):
        print(f"{label:<52}{out[key]:17.1f}")
    print(f"\nrouting.route on 1 row, median of 300: champion breaker closed {out['route_closed_ms']:.2f} ms, open (baseline serves) "
          f"{out['route_open_ms']:.2f} ms; the baseline's own scoring {out['baseline_ms']:.2f} ms -> fallback decision in route "
          f"{out['decision_ms']:.2f} ms (median of paired differences)")

    p99, rps1, recs100 = ratios[1][3], ratios[1][0], ratios[100][1]
    decision = max(out["open"] / 1000, out["decision_ms"])
    print(f"\ntarget: p99 single-record <= 0.5x MLflow's -> {verdict(p99 <= 0.5)} ({p99:.2f}x)")
    print(f"target: throughput >= 2x MLflow's -> 1 record: {verdict(rps1 >= 2)} ({rps1:.2f}x req/s); 100 records: {verdict(recs100 >= 2)} "
          f"({recs100:.2f}x records/s)")
    print(f"target: resilience overhead (breaker + retry) < 100 us -> {verdict(out['both'] < 100)} ({out['both']:.1f} us)")
    print(f"target: fallback decision < 1 ms -> {verdict(decision < 1)} ({decision:.3f} ms, the larger of the open breaker's refusal "
          "and route's extra time over the baseline alone)")


if __name__ == "__main__":
    main()
