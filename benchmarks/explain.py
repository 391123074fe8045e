"""SHAP TreeExplainer called directly (one process) vs ``workbench.analyses.explain.explain(n_jobs=2)``.

On the demo data (``workbench.demo.make_frame``) at each size, a 100-iteration
HistGradientBoosting classifier is fitted once; then both contenders explain every row:
shap's ``TreeExplainer(model).shap_values(X)`` on the transformed matrix, and ours (transform,
fork 2 workers, additivity check, one-hot aggregation). Printed: seconds, ratio and the max
absolute difference between shap's values summed per source column and ours (0 = identical).

Usage: ``python benchmarks/explain.py [--sizes 10000,50000]``. Not a test: numbers are printed.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from workbench.analyses import explain
from workbench.data import demo, frames, infer_schema
from workbench.registry import estimators


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=PendingDeprecationWarning)  # shap's import, via matplotlib
    import shap
    from sklearn.ensemble import HistGradientBoostingClassifier

    print(f"{'rows':>7} {'shap direct s':>14} {'ours n_jobs=2 s':>16} {'ratio':>6} {'max abs diff':>13} additivity")
    for n in (int(s) for s in args.sizes.split(",")):
        frame = demo.make_frame(n, month=None)
        schema = infer_schema(frame, target="churned", id="customer_id", timestamp="snapshot_date",
                              sensitive=["gender", "age_band"])
        x = frames.features(frame, schema)
        pipe = estimators.build_pipeline(schema, HistGradientBoostingClassifier(max_iter=100, random_state=0), scale=False)
        with threadpool_limits(1):
            pipe.fit(x, frames.target(frame, schema, "binary"))
            xt = pipe[:-1].transform(x)
            start = time.perf_counter()
            direct = shap.TreeExplainer(pipe[-1]).shap_values(xt)
            t_direct = time.perf_counter() - start
            start = time.perf_counter()
            ours = explain.explain(pipe, x, features=schema.features, sample=n, n_jobs=2)
            t_ours = time.perf_counter() - start
        sources = np.array(explain.source_columns(pipe))
        summed = np.column_stack([direct[:, sources == c].sum(axis=1) for c in ours.values.columns])
        diff = float(np.max(np.abs(summed - ours.values.to_numpy())))
        print(f"{n:>7} {t_direct:>14.2f} {t_ours:>16.2f} {t_direct / t_ours:>6.2f} {diff:>13.2e} "
              f"{ours.additivity_ok} (max err {ours.additivity_max_error:.1e})")


if __name__ == "__main__":
    main()
