"""The privacy budget ledger: spends compose, the release past the budget is refused naming what remains, racing processes never overspend."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from workbench.config import Config
from workbench.exceptions import BudgetExceeded, ParameterError
from workbench.governance import audit, privacy_ledger

SHA = "ab" * 32
OTHER_SHA = "cd" * 32


def _spend(store: Path, epsilon: float, *, sha: str = SHA, dataset: str = "2026-03.parquet", release: str = "drift",
           budget: float = 3.0, **kwargs: object) -> dict:
    return privacy_ledger.spend(store, dataset=dataset, sha256=sha, release=release, epsilon=epsilon, budget_epsilon=budget, **kwargs)


def test_spends_compose_by_addition_and_the_release_past_the_budget_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert _spend(store, 1.0, run_id="r1") == {"dataset": "2026-03.parquet", "sha256": SHA, "release": "drift", "epsilon": 1.0, "delta": 0.0,
                                               "spent": 1.0, "spent_delta": 0.0, "remaining": 2.0, "budget": 3.0}
    assert _spend(store, 1.5, release="fairness")["remaining"] == 0.5
    with pytest.raises(BudgetExceeded) as err:
        _spend(store, 0.75)
    assert str(err.value) == (f"privacy budget of dataset 2026-03.parquet (sha256 {SHA[:12]}) exceeded: release 'drift' asks epsilon 0.75, "
                              "0.5 of 3 remain (2.5 spent by 2 release(s)); nothing was released. Fix: raise privacy.budget.epsilon "
                              "(or privacy.datasets.2026-03.parquet.epsilon) in the config, or release with a smaller epsilon.")
    assert err.value.exit_code == 1
    assert _spend(store, 0.5)["remaining"] == 0.0  # what remains can still be spent, exactly
    events = audit.read(store)
    assert [e["action"] for e in events] == ["privacy.spend", "privacy.spend", "privacy.refused", "privacy.spend"]
    assert events[0]["subject"] == "2026-03.parquet" and events[0]["details"] == {
        "sha256": SHA, "release": "drift", "epsilon": 1.0, "delta": 0.0, "spent": 1.0, "spent_delta": 0.0, "budget_epsilon": 3.0,
        "budget_delta": 0.0, "run_id": "r1"}
    assert audit.verify(store).ok


def test_float_sums_that_fill_the_budget_exactly_are_not_refused(tmp_path: Path) -> None:
    for eps in (0.1, 0.2, 0.7):  # 0.1 + 0.2 + 0.7 is 1.0000000000000002 in floats
        _spend(tmp_path, eps, budget=1.0)
    with pytest.raises(BudgetExceeded):
        _spend(tmp_path, 1e-6, budget=1.0)


def test_the_dataset_is_its_content_hash_not_its_name(tmp_path: Path) -> None:
    _spend(tmp_path, 2.0, dataset="batch.parquet")
    with pytest.raises(BudgetExceeded) as err:
        _spend(tmp_path, 2.0, dataset="copy-of-batch.parquet")  # the same bytes under another name: the same budget
    assert "asks epsilon 2, 1 of 3 remain (2 spent by 1 release(s))" in str(err.value)
    assert _spend(tmp_path, 2.0, dataset="batch.parquet", sha=OTHER_SHA)["spent"] == 2.0  # the file changed: a new dataset
    assert [(r["dataset"], r["sha256"], r["releases"], r["epsilon_spent"], r["refused"]) for r in privacy_ledger.ledger(tmp_path)] == [
        ("batch.parquet", SHA, 1, 2.0, 1), ("batch.parquet", OTHER_SHA, 1, 2.0, 0)]


def test_a_delta_budget_is_spent_and_refused_like_epsilon(tmp_path: Path) -> None:
    _spend(tmp_path, 0.5, delta=1e-6, budget_delta=1.5e-6)
    with pytest.raises(BudgetExceeded) as err:
        _spend(tmp_path, 0.5, delta=1e-6, budget_delta=1.5e-6)
    assert str(err.value) == (f"privacy budget of dataset 2026-03.parquet (sha256 {SHA[:12]}) exceeded: release 'drift' asks delta 1e-06, "
                              "5e-07 of 1.5e-06 remain (1e-06 spent by 1 release(s)); nothing was released. Fix: raise privacy.budget.delta "
                              "(or privacy.datasets.2026-03.parquet.delta) in the config, or release with a smaller delta.")
    row = privacy_ledger.ledger(tmp_path)[0]
    assert (row["epsilon_spent"], row["delta_spent"], row["budget_delta"]) == (0.5, 1e-6, 1.5e-6)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"epsilon": 0.0}, "The 'epsilon' parameter of spend must be a finite number > 0. Got 0.0 instead."),
    ({"epsilon": float("nan")}, "The 'epsilon' parameter of spend must be a finite number > 0. Got nan instead."),
    ({"delta": -1e-9}, "The 'delta' parameter of spend must be a finite number >= 0. Got -1e-09 instead."),
    ({"sha": ""}, "The 'sha256' parameter of spend must be the dataset's content hash. Got '' instead."),
], ids=["zero", "nan", "negative-delta", "no-hash"])
def test_spend_refuses_bad_arguments_and_records_nothing(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ParameterError) as err:
        _spend(tmp_path, **({"epsilon": 1.0} | kwargs))
    assert str(err.value) == message
    assert audit.read(tmp_path) == []


def _race(store: str, worker: int, barrier: multiprocessing.synchronize.Barrier, results: multiprocessing.queues.Queue) -> None:
    barrier.wait()
    outcomes = []
    for attempt in range(4):
        try:
            privacy_ledger.spend(Path(store), dataset="big.parquet", sha256=SHA, release=f"w{worker}-{attempt}", epsilon=0.5, budget_epsilon=5.0)
            outcomes.append("spent")
        except BudgetExceeded:
            outcomes.append("refused")
    results.put(outcomes)


@pytest.mark.timeout(120)
def test_processes_racing_to_spend_never_exceed_the_budget(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters, as separate `workbench` commands would be
    barrier, results = ctx.Barrier(8), ctx.Queue()
    workers = [ctx.Process(target=_race, args=(str(store), i, barrier, results)) for i in range(8)]
    for proc in workers:
        proc.start()
    outcomes = [outcome for _ in workers for outcome in results.get(timeout=100)]
    for proc in workers:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    assert outcomes.count("spent") == 10 and outcomes.count("refused") == 22  # 32 asks of 0.5 against a budget of 5
    [row] = privacy_ledger.ledger(store)
    assert (row["releases"], row["epsilon_spent"], row["refused"]) == (10, 5.0, 22)
    spends = [e["details"]["spent"] for e in audit.read(store) if e["action"] == "privacy.spend"]
    assert spends == [0.5 * i for i in range(1, 11)]  # each spend saw every earlier one: none was checked against a stale sum
    assert audit.verify(store).ok


def test_the_budget_of_a_dataset_is_its_own_entry_else_the_total(tmp_path: Path) -> None:
    config = Config(project="p", store=tmp_path / "store", data={"reference": str(tmp_path / "r.parquet"), "target": "y"},
                    privacy={"budget": {"epsilon": 4.0}, "datasets": {"2026-03.parquet": {"epsilon": 1.0, "delta": 1e-6}}})
    assert config.privacy.budget_for("2026-03.parquet").epsilon == 1.0
    assert config.privacy.budget_for(str(tmp_path / "batches" / "2026-03.parquet")).delta == 1e-6  # a path: by its file name
    assert config.privacy.budget_for("2026-04.parquet").model_dump() == {"epsilon": 4.0, "delta": 0.0}
