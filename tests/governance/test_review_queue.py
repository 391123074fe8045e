"""The review queue: an uncertain census plus a random control stratum whose propensities make weighted estimates unbiased."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.config import Config
from workbench.exceptions import DataError, ParameterError
from workbench.governance import audit, feedback, review_queue


def _config(tmp_path: Path, *, task: str = "binary", share: float = 0.1) -> Config:
    return Config(project="p", store=tmp_path / "store", data={"reference": str(tmp_path / "r.parquet"), "target": "y", "id": "cid"},
                  model={"task": task}, feedback={"control_share": share})


def _scores(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(n)


def _indexed(tmp_path: Path, n: int = 300, *, batch: str = "2026-03", prefix: str = "p", **kw: object) -> Config:
    config = _config(tmp_path, **kw)
    frame = pd.DataFrame({"prediction_id": [f"{prefix}{i:04d}" for i in range(n)], "score": _scores(n), "model_version": "1",
                          "entity_id": range(n)})
    feedback.index_predictions(config, frame, source="batch", batch=batch)
    return config


def _queued(config: Config) -> pd.DataFrame:
    with sqlite3.connect(feedback.db_path(config)) as conn:
        return pd.read_sql_query("SELECT * FROM queue ORDER BY prediction_id", conn)


@pytest.mark.parametrize(("budget", "share", "expected"), [(20, 0.1, (18, 2)), (30, 0.1, (27, 3)), (5, 0.1, (4, 1)), (1, 0.1, (0, 1)),
                                                            (10, 0.25, (7, 3)), (10, 1.0, (0, 10))])
def test_the_random_stratum_gets_its_share_rounded_up_and_at_least_one(budget: int, share: float, expected: tuple[int, int]) -> None:
    assert review_queue.shares(budget, share, pool=1000, candidates=1000) == expected


def test_a_small_pool_is_taken_whole_and_missing_uncertainty_goes_to_the_random_stratum() -> None:
    assert review_queue.shares(50, 0.1, pool=12, candidates=12) == (12, 0)
    assert review_queue.shares(50, 0.1, pool=30, candidates=5) == (5, 25)
    assert review_queue.shares(20, 0.1, pool=300, candidates=0) == (0, 20)


def test_a_round_reviews_the_most_uncertain_and_a_random_control_share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_USER", "rita")
    config = _indexed(tmp_path)
    drawn = review_queue.propose(config, budget=20, seed=7)
    assert list(drawn.columns) == review_queue.COLUMNS and drawn.attrs["pool"] == 300 and drawn.attrs["seed"] == 7
    scores = pd.Series(_scores(300), index=[f"p{i:04d}" for i in range(300)])
    nearest = (scores - 0.5).abs().sort_values().index[:18].tolist()
    uncertain = drawn[drawn["reason"] == "uncertain"]
    assert uncertain["prediction_id"].tolist() == nearest and (uncertain["propensity"] == 1.0).all()
    random = drawn[drawn["reason"] == "random"]
    assert len(random) == 2 and not set(random["prediction_id"]) & set(nearest)
    assert random["propensity"].tolist() == [pytest.approx(2 / 282)] * 2
    queued = _queued(config)
    assert sorted(queued["prediction_id"]) == sorted(drawn["prediction_id"]) and set(queued["queued_by"]) == {"rita"}
    assert set(queued["round_id"]) == {drawn.attrs["round_id"]}
    event = audit.read(config.store)[-1]
    assert (event["action"], event["subject"], event["actor"]) == ("feedback_queue", "p", "rita")
    assert {k: event["details"][k] for k in ("round_id", "budget", "control_share", "seed", "pool", "uncertain", "random")} == \
        {"round_id": drawn.attrs["round_id"], "budget": 20, "control_share": 0.1, "seed": 7, "pool": 300, "uncertain": 18, "random": 2}
    assert review_queue.open_items(config) == 20 and review_queue.open_items(config, batch="other") == 0


def test_the_same_seed_draws_the_same_round_and_a_later_round_skips_the_queued(tmp_path: Path) -> None:
    one, two = _indexed(tmp_path / "a"), _indexed(tmp_path / "b")
    first = review_queue.propose(one, budget=30, control_share=0.5, seed=3)
    assert first["prediction_id"].tolist() == review_queue.propose(two, budget=30, control_share=0.5, seed=3)["prediction_id"].tolist()
    second = review_queue.propose(one, budget=30, control_share=0.5, seed=3)
    assert not set(first["prediction_id"]) & set(second["prediction_id"]) and second.attrs["pool"] == 270
    assert second.loc[second["reason"] == "random", "propensity"].iloc[0] == pytest.approx(15 / 255)


def test_horvitz_thompson_totals_are_unbiased_where_the_labelled_sample_is_not(tmp_path: Path) -> None:
    """Why the random share: the queue's labels estimate the batch's error count without bias only when weighted."""
    n, reps = 400, 150
    template = _indexed(tmp_path / "template", n)
    scores = _scores(n)
    errors = pd.Series((np.random.default_rng(1).random(n) < scores) != (scores >= 0.5), index=[f"p{i:04d}" for i in range(n)])
    weighted, naive, hits = [], [], pd.Series(0, index=errors.index)
    for rep in range(reps):
        store = tmp_path / f"rep{rep}"
        store.mkdir()
        shutil.copy(feedback.db_path(template), store / feedback.DB_NAME)
        drawn = review_queue.propose(template.model_copy(update={"store": store}), budget=40, control_share=0.25, seed=rep)
        err = errors[drawn["prediction_id"]].to_numpy()
        weighted.append(float((err / drawn["propensity"].to_numpy()).sum()))
        naive.append(err.mean() * n)
        hits[drawn.loc[drawn["reason"] == "random", "prediction_id"]] += 1
    se = np.std(weighted, ddof=1) / np.sqrt(reps)
    assert abs(np.mean(weighted) - errors.sum()) < 4 * se
    assert np.mean(naive) - errors.sum() > 20 * np.std(naive, ddof=1) / np.sqrt(reps)  # the uncertain cases are wrong far more often
    rest = hits[hits.index.difference(drawn.loc[drawn["reason"] == "uncertain", "prediction_id"])]
    closeness = pd.Series(np.abs(scores - 0.5), index=errors.index)[rest.index].sort_values()
    for half in (closeness.index[:185], closeness.index[185:]):  # near the threshold or not, the same stated chance of review
        assert rest[half].mean() / reps == pytest.approx(10 / 370, rel=0.15)


def test_self_reported_labels_stay_in_the_random_pool_but_are_never_asked_for(tmp_path: Path) -> None:
    config = _indexed(tmp_path, 50)
    scores = pd.Series(_scores(50), index=[f"p{i:04d}" for i in range(50)])
    most_uncertain = (scores - 0.5).abs().idxmin()
    feedback.record(config, [{"prediction_id": pid, "label": 1} for pid in scores.index[:45]], actor="customer")
    drawn = review_queue.propose(config, budget=50, seed=0)
    assert len(drawn) == 50 and drawn.attrs["pool"] == 50
    assert set(drawn.loc[drawn["reason"] == "uncertain", "prediction_id"]) == set(scores.index[45:])
    assert most_uncertain in scores.index[:45] and drawn.set_index("prediction_id").loc[most_uncertain, "reason"] == "random"
    assert drawn["labelled"].sum() == 45 and review_queue.open_items(config) == 5  # the five nobody labelled yet
    labels = feedback.labels_for(config).set_index("prediction_id")
    assert labels.loc[most_uncertain, "propensity"] == 1.0 and labels.loc[most_uncertain, "reason"] == "random"


def test_a_later_round_over_the_batch_makes_the_earlier_draws_a_census(tmp_path: Path) -> None:
    config = _indexed(tmp_path)
    feedback.index_predictions(config, pd.DataFrame({"prediction_id": ["other1", "other2"], "score": [0.5, 0.9], "model_version": "1"}),
                               source="online", batch="online-2026-05-01")
    first = review_queue.propose(config, budget=10, batch="2026-03", control_share=0.5, seed=1)
    picked = first.loc[first["reason"] == "random", "prediction_id"].tolist()
    feedback.record(config, [{"prediction_id": pid, "label": 0} for pid in picked], actor="ann")
    assert feedback.labels_for(config)["propensity"].tolist() == [pytest.approx(5 / 295)] * 5
    review_queue.propose(config, budget=2, batch="online-2026-05-01", seed=1)  # another batch: round 1 stands
    assert feedback.labels_for(config)["propensity"].tolist() == [pytest.approx(5 / 295)] * 5
    review_queue.propose(config, budget=10, batch="2026-03", seed=1)
    assert feedback.labels_for(config)["propensity"].tolist() == [1.0] * 5


def test_regression_without_uncertainty_draws_everything_at_random(tmp_path: Path) -> None:
    config = _indexed(tmp_path, 100, task="regression")
    drawn = review_queue.propose(config, budget=10, seed=0)
    assert set(drawn["reason"]) == {"random"} and drawn["propensity"].tolist() == [pytest.approx(0.1)] * 10


def test_bad_arguments_and_an_unknown_batch_are_refused_and_an_empty_pool_records_nothing(tmp_path: Path) -> None:
    config = _indexed(tmp_path, 5)
    with pytest.raises(ParameterError) as err:
        review_queue.propose(config, budget=0)
    assert str(err.value) == "budget=0: must be a whole number of predictions, 1 or more. Fix: pass e.g. --budget 50."
    with pytest.raises(ParameterError) as err:
        review_queue.propose(config, budget=5, control_share=0.05)
    assert str(err.value) == ("control_share=0.05: must be between 0.1 and 1 (below 10% the random stratum is too small for unbiased "
                              "estimates). Fix: pass e.g. --control-share 0.2.")
    with pytest.raises(DataError) as err:
        review_queue.propose(config, budget=5, batch="2026-3")
    assert str(err.value) == ("batch '2026-3' has no indexed predictions (indexed batches: 2026-03). Fix: pick one of those, or score the "
                              "batch first (`workbench monitor --batch FILE`).")
    assert len(review_queue.propose(config, budget=10, seed=0)) == 5
    events = len(audit.read(config.store))
    empty = review_queue.propose(config, budget=10, batch="2026-03")
    assert empty.empty and list(empty.columns) == review_queue.COLUMNS and len(audit.read(config.store)) == events
    assert len(_queued(config)) == 5
