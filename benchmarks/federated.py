"""Federated training across three sites through real Flower processes vs training on the pooled rows.

The demo's reference is dealt into three site files (IID, seeded); ``workbench.federated.train``
runs one Flower server and three site processes on loopback, 5 rounds of FedAvg of the logistic
model (1 local epoch), federated evaluation each round, then logs and registers the model in a
fresh sqlite MLflow store. Its wall time is split by the events the processes report: process
start-up (spawn -> every site admitted), the summary step (merged encoder), the rounds, the
registration, and the shutdown. Pooled training is what a team with all rows in one place runs:
read the three files, fit the same preprocessing and ``LogisticRegression`` (lbfgs, to
convergence), score the pooled holdout. Both are printed side by side with ratios, and the AUC
of both models on the same pooled holdout.

Usage: ``python benchmarks/federated.py [--repeat 3] [--rounds 5]``. Not a test: numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SITES = ("a", "b", "c")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_project(folder: Path, rounds: int, port: int) -> Path:
    """Demo data dealt into three site files, and a config training across them."""
    import numpy as np
    import pandas as pd

    from workbench.data import demo

    demo.generate(folder / "demo")
    frame = pd.read_parquet(folder / "demo" / "reference.parquet")
    order = np.random.default_rng(17).permutation(len(frame))
    sites = {}
    for i, site in enumerate(SITES):
        path = folder / f"site-{site}.parquet"
        frame.iloc[np.sort(order[i::3])].to_parquet(path, index=False)
        sites[site] = {"data": str(path)}
    config = yaml.safe_load((REPO / "workbench.yaml").read_text())
    config.pop("features", None)
    config["demo"] = False
    config["data"] |= {"reference": str(folder / "demo" / "reference.parquet"), "batches": str(folder / "demo" / "batches")}
    config |= {"sites": sites, "federated": {"address": f"127.0.0.1:{port}", "rounds": rounds, "round_timeout_s": 60}}
    path = folder / "workbench.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def federated_run(path: Path) -> dict[str, float]:
    """One federated training; seconds of each part, from the processes' events."""
    from workbench import federated
    from workbench.config import load_config

    config = load_config(path)
    marks: dict[str, float] = {}

    def on_event(event: dict, fleet) -> None:  # noqa: ANN001
        marks.setdefault("spawn", fleet.started)
        marks.setdefault(event["event"], event["t"])  # the first of each kind
        if event["event"] == "evaluated":
            marks["last_round"] = event["t"]

    start = time.time()
    result = federated.train(config, on_event=on_event)
    end = time.time()
    return {"total": end - start, "startup": marks["ready"] - marks["spawn"], "summary": marks["spec"] - marks["ready"],
            "rounds": marks["last_round"] - marks["spec"], "shutdown": marks["done"] - marks["last_round"],
            "register": result["timing"]["register_s"], "prepare": marks["spawn"] - start,
            "auc": result["evaluation"]["metrics"]["roc_auc"]}


def pooled_run(path: Path) -> dict[str, float]:
    """Read the three files and fit the same preprocessing and LogisticRegression on the pooled training rows."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline

    from workbench.config import load_config
    from workbench.data import frames, load_table, sources
    from workbench.federated import _encoding

    config = load_config(path)
    start = time.time()
    parts = []
    for site in SITES:
        frame = load_table(config.sites[site].data).frame
        schema = sources.schema(config, frame, source=site)
        parts.append(frames.split(frame, schema, config))
    train, holdout = (pd.concat([p[i] for p in parts], ignore_index=True) for i in (0, 1))
    read = time.time()
    spec = {"schema": schema.to_dict()}
    model = Pipeline([("pre", _encoding.unfitted(spec)), ("lr", LogisticRegression(max_iter=2000))])
    model.fit(frames.features(train, schema), train["churned"])
    fit = time.time()
    auc = roc_auc_score(holdout["churned"], model.predict_proba(frames.features(holdout, schema))[:, 1])
    return {"read": read - start, "fit": fit - read, "total": fit - start, "auc": auc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    fed, pooled = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-federated-") as tmp:
            path = make_project(Path(tmp), args.rounds, free_port())
            pooled.append(pooled_run(path))
            fed.append(federated_run(path))
    f = {k: statistics.median(r[k] for r in fed) for k in fed[0]}
    p = {k: statistics.median(r[k] for r in pooled) for k in pooled[0]}
    print(f"three sites, {args.rounds} rounds of FedAvg (1 local epoch) vs pooled training; median of {args.repeat}\n")
    print(f"{'federated (workbench.federated.train)':<52}{'seconds':>8}{'share':>8}")
    for key, label in (("prepare", "checks, run folder, store"), ("startup", "process start-up: spawn -> every site admitted"),
                       ("summary", "summary step (merged encoder)"), ("rounds", f"{args.rounds} rounds (fit + federated evaluation)"),
                       ("shutdown", "shutdown (sites told to leave)"), ("register", "model logged and registered (MLflow)")):
        print(f"  {label:<50}{f[key]:>8.2f}{f[key] / f['total']:>8.0%}")
    print(f"  {'whole run':<50}{f['total']:>8.2f}{1:>8.0%}\n")
    print(f"{'pooled (read 3 files, fit LogisticRegression)':<52}{'seconds':>8}")
    print(f"  {'read and split':<50}{p['read']:>8.2f}\n  {'fit (same preprocessing, lbfgs)':<50}{p['fit']:>8.2f}")
    print(f"  {'whole':<50}{p['total']:>8.2f}\n")
    print(f"ratio federated whole run / pooled:            {f['total'] / p['total']:8.1f}x")
    print(f"ratio federated without start-up and MLflow / pooled:  {(f['summary'] + f['rounds']) / p['total']:4.1f}x")
    print(f"process start-up share of the federated run:   {f['startup'] / f['total']:8.0%}")
    print(f"holdout ROC AUC: federated {f['auc']:.4f} (binned, federated evaluation) vs pooled {p['auc']:.4f}")


if __name__ == "__main__":
    main()
