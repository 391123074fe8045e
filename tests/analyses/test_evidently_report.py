"""evidently's report, judged by the workbench rule, counts the same drifted columns as the workbench engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.analyses import drift, evidently_report


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_evidently_counts_what_the_engine_counts() -> None:
    rng = np.random.default_rng(3)
    n, m = 3000, 1500
    reference = pd.DataFrame({"shifted": rng.normal(0, 1, n), "small": rng.normal(0, 1, n), "same": rng.normal(0, 1, n),
                              "plan": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]), "region": rng.choice(["n", "s"], n)})
    batch = pd.DataFrame({"shifted": rng.normal(0.5, 1, m), "small": rng.normal(0.06, 1, m), "same": rng.normal(0, 1, m),
                          "plan": rng.choice(["a", "b", "c"], m, p=[0.3, 0.3, 0.4]), "region": rng.choice(["n", "s"], m)})
    numeric, categorical = ["shifted", "small", "same"], ["plan", "region"]
    ours = drift.compare(drift.build_profile(reference, numeric=numeric, categorical=categorical), batch, alpha=0.05)
    _, info = evidently_report.build_report(reference, batch, numeric=numeric, categorical=categorical, alpha=0.05)
    drifted = ours.columns.loc[ours.columns["drifted"], "column"].tolist()
    assert drifted == ["shifted", "plan"]
    assert info["method"] == "workbench" and info["drifted_columns"] == ours.dataset["drifted_columns"] == 2
    assert sorted(info["drifted"]) == sorted(drifted)
    _, default = evidently_report.build_report(reference, batch, numeric=numeric, categorical=categorical)
    assert default["method"] == "evidently default" and default["drifted"] is None
