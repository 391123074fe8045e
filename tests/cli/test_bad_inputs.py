"""Bad input contract: each case ends in one clear line and exit code 2 with nothing written, or "not assessable" with the reason.

The command-line cases run the real ``workbench`` on the demo project; all are refused before
any kernel starts (config reading, pre-flight, parameter checks), so they are fast. The data
and fairness cases call the functions the phases call, on real frames.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import demo_config, workbench, write_config
from workbench.exceptions import ConfigError, DataError

BOMB = "\n".join(["project: bomb", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'] + [
    f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]) + "\n"


def _demo_yaml() -> str:
    base = demo_config()
    base["demo"] = False
    return yaml.safe_dump(base, sort_keys=False)


def _config_text(project: Path, text: str) -> None:
    (project / "workbench.yaml").write_text(text)


def _duplicate_key(project: Path) -> None:
    _config_text(project, _demo_yaml() + "project: other\n")


def _duplicate_nested_key(project: Path) -> None:
    _config_text(project, _demo_yaml() + "runner: {jobs: 1, jobs: 2}\n")


def _alias_bomb(project: Path) -> None:
    _config_text(project, BOMB)


def _recursive_alias(project: Path) -> None:
    _config_text(project, _demo_yaml() + "extra: &x [1, *x]\n")


def _deep_nesting(project: Path) -> None:
    _config_text(project, _demo_yaml() + "extra: " + "[" * 100 + "]" * 100 + "\n")


def _huge_config(project: Path) -> None:
    _config_text(project, _demo_yaml() + ("# padding\n" * 120_000))


def _duplicate_csv_header(project: Path) -> None:
    frame = pd.read_parquet(project / "data" / "demo" / "reference.parquet")
    frame.insert(3, "tenure_dup", frame["tenure_months"])
    frame.to_csv(project / "ref.csv", index=False)
    text = (project / "ref.csv").read_text().replace("tenure_dup", "tenure_months", 1)
    (project / "ref.csv").write_text(text)
    config = yaml.safe_load(_demo_yaml())
    write_config(project, data={**config["data"], "reference": "ref.csv"})


CONFIG = Path("workbench.yaml")
CASES = [
    ("duplicate-yaml-key", _duplicate_key, ["run"],
     "key 'project' appears twice in the same mapping (first at line 1). Fix: keep one of them"),
    ("duplicate-nested-yaml-key", _duplicate_nested_key, ["run"], "key 'jobs' appears twice in the same mapping"),
    ("yaml-alias-bomb", _alias_bomb, ["run"], "the YAML expands to more than 10,000 values"),
    ("yaml-recursive-alias", _recursive_alias, ["run"], "a YAML alias refers to the value that contains it. Fix: "),
    ("yaml-deep-nesting", _deep_nesting, ["run"], "values nested more than 50 levels deep. Fix: "),
    ("huge-config-file", _huge_config, ["run"], "allowed. Fix: point --config at the project's workbench.yaml"),
    ("duplicate-csv-header", _duplicate_csv_header, ["run"],
     "column name 'tenure_months' appears more than once in the header (pandas would rename the copies to 'tenure_months.1'"),
]
PARAMS = [
    ("confidence-2", ["run", "-p", "confidence=2"], "parameter 'confidence' must be > 0 and < 1, got 2. Fix: "),
    ("confidence-0", ["run", "-p", "confidence=0"], "parameter 'confidence' must be > 0 and < 1, got 0. Fix: "),
    ("confidence-infinity", ["run", "-p", "confidence=Infinity"], "parameter 'confidence': value inf is not a finite number"),
    ("confidence-nan", ["run", "-p", "confidence=NaN"], "parameter 'confidence': value nan is not a finite number"),
    ("confidence-overflow", ["run", "-p", "confidence=1e999"], "parameter 'confidence': value inf is not a finite number"),
    ("confidence-bool", ["run", "-p", "confidence=true"], "parameter 'confidence' must be float, got bool True. Fix: pass a float"),
    ("n-bootstrap-negative", ["run", "-p", "n_bootstrap=-5"], "parameter 'n_bootstrap' must be >= 10 and <= 100000, got -5."),
    ("n-bootstrap-huge", ["run", "-p", "n_bootstrap=1000000000"], "parameter 'n_bootstrap' must be >= 10 and <= 100000"),
    ("n-bootstrap-text", ["run", "-p", "n_bootstrap=many"], "parameter 'n_bootstrap' must be int, got str 'many'. Fix: pass an int"),
    ("n-bootstrap-float", ["run", "-p", "n_bootstrap=2.5"], "parameter 'n_bootstrap' must be int, got float 2.5."),
    ("sample-0", ["run", "-p", "sample=0"], "parameter 'sample' must be >= 1, got 0. Fix: pass a value in range, e.g. -p sample=2000."),
    ("min-group-0", ["run", "-p", "min_group=0"], "parameter 'min_group' must be >= 1, got 0."),
    ("max-missing-1.5", ["run", "-p", "max_missing=1.5"], "parameter 'max_missing' must be >= 0 and <= 1, got 1.5."),
    ("bump-unknown", ["run", "-p", "bump=huge"], "parameter 'bump' must be one of 'auto', 'major', 'minor', 'patch', got 'huge'."),
    ("not-name-value", ["run", "-p", "confidence"], "parameter 'confidence' is not of the form name=value"),
    ("monitor-top-negative", ["monitor", "-p", "top=-1"], "parameter 'top' must be >= 0 and <= 100, got -1."),
    ("monitor-n-jobs-0", ["monitor", "-p", "n_jobs=0"], "parameter 'n_jobs' must be >= 1, got 0."),
    ("monitor-mode-unknown", ["monitor", "-p", "mode=fast"], "parameter 'mode' must be one of 'exact', 'sketch', got 'fast'."),
    ("monitor-min-group-infinity", ["monitor", "-p", "min_group=-Infinity"], "parameter 'min_group': value -inf is not a finite number"),
    ("monitor-evidently-sample-0", ["monitor", "-p", "evidently_sample=0"], "parameter 'evidently_sample' must be >= 1, got 0."),
]


def _refused(project: Path, args: list[str], message: str) -> None:
    before = sorted(p.name for p in project.iterdir())
    proc = workbench(*args, cwd=project, timeout=120)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    assert message in lines[0], lines[0]
    assert "Fix" in lines[0], lines[0]
    assert sorted(p.name for p in project.iterdir()) == before  # no store, no reports


@pytest.mark.parametrize(("prepare", "args", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_or_data_file_exits_2_with_one_line(demo_project: Path, prepare, args: list[str], message: str) -> None:
    prepare(demo_project)
    _refused(demo_project, args, message)


@pytest.mark.parametrize(("args", "message"), [c[1:] for c in PARAMS], ids=[c[0] for c in PARAMS])
def test_bad_parameter_exits_2_with_one_line(demo_project: Path, args: list[str], message: str) -> None:
    _refused(demo_project, args, message)


def test_alias_bomb_is_refused_fast_and_small(tmp_path: Path) -> None:
    from workbench.config import load_config

    path = tmp_path / "workbench.yaml"
    path.write_text(BOMB)
    assert len(BOMB) < 1000  # 9 ** 9 = 387 million strings once expanded
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"line 6: the YAML expands to more than 10,000 values"):
        load_config(path)
    elapsed, (_, peak) = time.perf_counter() - t0, tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2.0 and peak < 20_000_000, (elapsed, peak)


def test_anchors_within_the_bound_and_merge_keys_still_work(tmp_path: Path) -> None:
    from workbench.config import load_config

    path = tmp_path / "workbench.yaml"
    path.write_text("project: p\ndata:\n  reference: ref.csv\n  target: y\n  sensitive: &groups [gender, age_band]\n"
                    "  categorical: *groups\nrunner:\n  <<: {jobs: 1, timeout_s: 30}\n  timeout_s: 60\n")
    config = load_config(path)
    assert config.data.categorical == ["gender", "age_band"] and (config.runner.jobs, config.runner.timeout_s) == (1, 60)


# --- data content: refused with the column / class counts named (the validate and train phases raise these)

def _reference(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"income": rng.normal(50, 10, rows), "tenure": rng.integers(1, 60, rows).astype(float),
                         "y": np.arange(rows) % 2})


@pytest.mark.parametrize("value", [np.inf, -np.inf, 1e308, -1e39], ids=["inf", "-inf", "1e308", "-1e39"])
def test_inf_or_huge_number_in_the_reference_is_a_validation_error_naming_the_column(value: float) -> None:
    from workbench.data import check_quality, infer_schema

    frame = _reference()
    frame.loc[[3, 7], "tenure"] = value
    report = check_quality(frame, infer_schema(frame, target="y"), source="ref.csv")
    assert [(c.name, c.column) for c in report.errors] == [("non_finite", "tenure")]
    with pytest.raises(DataError) as err:
        report.raise_for_errors()
    assert str(err.value) == (f"ref.csv: 1 data error: column 'tenure' has 2 infinite or too large values (beyond ±3.4e+38), "
                              f"e.g. '{value:g}'. Fix the file.")


def test_a_six_row_reference_cannot_be_split_and_says_why() -> None:
    from workbench.config import Config
    from workbench.data import frames, infer_schema

    frame = _reference(6)
    config = Config.model_validate({"project": "x", "data": {"reference": "ref.csv", "target": "y"}})
    with pytest.raises(DataError) as err:
        frames.split(frame, infer_schema(frame, target="y"), config, source="ref.csv")
    assert str(err.value) == ("ref.csv: too few rows to split with model.test_size 0.25: each class needs at least 2 rows in the "
                              "training part and in the holdout (short: holdout 0: 1, holdout 1: 1; labelled rows per class: 0: 3, "
                              "1: 3). Fix: add rows of the rarer class to the reference, or change model.test_size.")
    assert [len(p) for p in frames.split(_reference(40), infer_schema(frame, target="y"), config)] == [30, 10]


# --- fairness: "not assessable" with the reason, never an exception

def _scored(n: int = 600) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    rng = np.random.default_rng(1)
    groups = pd.Series(rng.choice(["a", "b"], n), name="gender")
    y = rng.integers(0, 2, n)
    scores = np.clip(0.3 + 0.4 * y + 0.15 * (groups == "a") + rng.normal(0, 0.15, n), 0, 1)
    return y, scores, groups


@pytest.mark.parametrize(("labels", "reason"), [
    (lambda y: np.ones_like(y), "every labelled row has label 1 (one class), so TPR and FPR cannot both be computed"),
    (lambda y: np.zeros_like(y), "every labelled row has label 0 (one class), so TPR and FPR cannot both be computed"),
    (lambda y: np.where(y == 1, "yes", "no"), "labels must be 0 or 1, found 'no', 'yes'. Fix: encode the positive class as 1 in data.target"),
], ids=["all-ones", "all-zeros", "yes-no"])
def test_one_class_or_text_labels_are_not_assessable_with_the_reason(labels, reason: str) -> None:
    from workbench.analyses import fairness

    y, scores, groups = _scored()
    assert fairness.label_problem(labels(y)) == reason
    out = fairness.threshold_suggestion(labels(y), scores, groups)
    assert out["status"].tolist() == [f"not assessable: {reason}"] * 2
    assert out[["selection_rate_after", "accuracy_after", "tpr_after"]].isna().all().all()


def test_excluded_groups_are_never_passed_to_threshold_optimizer() -> None:
    from workbench.analyses import fairness

    y, scores, groups = _scored()
    groups, y = groups.copy(), y.copy()
    groups[:5], y[:5] = "tiny", 1  # too few rows, and one class: fairlearn would say "Degenerate labels"
    groups[5:45], y[5:45] = "no_negatives", 1
    out = fairness.threshold_suggestion(y, scores, groups, min_group=30).set_index("group")
    assert out["status"].to_dict() == {"a": "ok", "b": "ok", "no_negatives": "excluded: no negative labels",
                                       "tiny": "excluded: fewer than 30 rows"}
    assert out.loc[["a", "b"], "selection_rate_after"].notna().all()
    assert out.loc[["tiny", "no_negatives"], ["selection_rate_after", "tpr_after"]].isna().all().all()


def test_one_included_group_is_not_assessable_not_an_error() -> None:
    from workbench.analyses import fairness

    y, scores, _ = _scored()
    groups = pd.Series(np.where(np.arange(len(y)) < 450, "a", "b"), name="gender")
    out = fairness.threshold_suggestion(y, scores, groups, min_group=300).set_index("group")
    assert out["status"].to_dict() == {"a": "not assessable: fewer than two groups with both classes and at least 300 rows",
                                       "b": "excluded: fewer than 300 rows"}
    assert out["selection_rate_after"].isna().all() and out["selection_rate_before"].notna().all()
