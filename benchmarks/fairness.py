"""Per-group fairness metrics on 1M rows: workbench.analyses.fairness.group_table vs fairlearn's MetricFrame.

Five metrics (selection rate, TPR, FPR, accuracy, error rate) for two sensitive columns and
their intersection. fairlearn needs one MetricFrame per attribute (three); ours is one call
and also computes 200-replicate bootstrap intervals. "identical" compares every per-group
figure to 1e-12.

    .venv/bin/python benchmarks/fairness.py [--rows 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def make(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    s = pd.DataFrame({"gender": rng.choice(["female", "male"], rows),
                      "age_band": rng.choice(["18-29", "30-44", "45-59", "60+"], rows)})
    y = rng.integers(0, 2, rows)
    return y, np.where(rng.random(rows) < 0.8, y, 1 - y), s


def fairlearn_tables(y: np.ndarray, p: np.ndarray, s: pd.DataFrame) -> dict[str, pd.DataFrame]:
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score, zero_one_loss

    metrics = {"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate,
               "accuracy": accuracy_score, "error_rate": zero_one_loss}
    out = {}
    for cols in (["gender"], ["age_band"], ["gender", "age_band"]):
        by = MetricFrame(metrics=metrics, y_true=y, y_pred=p, sensitive_features=s[cols]).by_group
        if len(cols) > 1:
            by.index = [" & ".join(f"{c}={v}" for c, v in zip(cols, k, strict=True)) for k in by.index]
        out[" & ".join(cols)] = by
    return out


def identical(ours: pd.DataFrame, theirs: dict[str, pd.DataFrame]) -> bool:
    for attribute, by in theirs.items():
        mine = ours[ours["attribute"] == attribute].set_index("group").loc[by.index, by.columns]
        if not np.allclose(mine.to_numpy(float), by.to_numpy(float), rtol=0, atol=1e-12):
            return False
    return True


def best(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from workbench.analyses.fairness import group_table

    y, p, s = make(args.rows)
    t_fl, theirs = best(lambda: fairlearn_tables(y, p, s), args.repeats)
    t_ours, ours = best(lambda: group_table(y, p, s, n_bootstrap=0), args.repeats)
    t_ci, ours_ci = best(lambda: group_table(y, p, s, n_bootstrap=200), args.repeats)
    print(f"{args.rows:,} rows, 2 sensitive columns + intersection (14 groups), 5 metrics, best of {args.repeats}")
    print(f"{'implementation':<44}{'seconds':>9}{'vs fairlearn':>14}  identical")
    print(f"{'fairlearn MetricFrame (3 frames)':<44}{t_fl:>9.3f}{1.0:>13.1f}x  -")
    print(f"{'workbench group_table, no intervals':<44}{t_ours:>9.3f}{t_fl / t_ours:>13.1f}x  {identical(ours, theirs)}")
    print(f"{'workbench group_table, 200 bootstrap CIs':<44}{t_ci:>9.3f}{t_fl / t_ci:>13.1f}x  {identical(ours_ci, theirs)}")


if __name__ == "__main__":
    main()
