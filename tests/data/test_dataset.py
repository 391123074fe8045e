"""Behaviour of workbench.data on real CSV and Parquet files written with pandas."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.data import (
    Check,
    QualityReport,
    Schema,
    Table,
    category_levels,
    check_quality,
    infer_schema,
    load_table,
    read_columns,
)
from workbench.exceptions import DataError

SUPPORTED = ".csv, .csv.gz, .parquet, .pq"
READ_FIX = "Fix: re-export the file (CSV as UTF-8), check it is complete, or correct the values."


def reference_frame() -> pd.DataFrame:
    """A clean labelled set: no missing values, no constant columns, unique ids."""
    return pd.DataFrame({
        "customer_id": ["C001", "C002", "C003", "C004"],
        "snapshot_date": ["2024-01-31", "2024-01-31", "2024-02-29", "2024-02-29"],
        "age": [34, 51, 29, 42],
        "monthly": [20.5, 35.0, 12.25, 50.0],
        "plan": ["basic", "pro", "basic", "team"],
        "gender": ["f", "m", "m", "f"],
        "churned": [0, 1, 0, 1],
    })


def reference_schema(frame: pd.DataFrame | None = None) -> Schema:
    return infer_schema(reference_frame() if frame is None else frame, target="churned",
                        id="customer_id", timestamp="snapshot_date", sensitive=["gender"],
                        source="ref.csv")


def write(frame: pd.DataFrame, path) -> None:
    if str(path).endswith((".parquet", ".pq")):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)


def names(checks: list[Check]) -> list[tuple[str, str | None, str]]:
    return [(c.name, c.column, c.severity) for c in checks]


# --- loading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ref.csv", "ref.csv.gz", "ref.parquet", "ref.pq", "REF.CSV"])
def test_load_table_reads_every_supported_format(tmp_path, name):
    path = tmp_path / name
    write(reference_frame(), path)
    table = load_table(path)
    assert isinstance(table, Table)
    assert table.path == path
    assert table.rows == 4
    assert table.columns == list(reference_frame().columns)
    pd.testing.assert_frame_equal(table.frame, reference_frame())
    assert table.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "frame" not in repr(table)


def test_csv_gz_is_really_decompressed(tmp_path):
    path = tmp_path / "ref.csv.gz"
    write(reference_frame(), path)
    assert gzip.decompress(path.read_bytes()).startswith(b"customer_id,")
    assert load_table(path).frame["plan"].tolist() == ["basic", "pro", "basic", "team"]


def test_same_content_same_hash_and_one_changed_byte_changes_it(tmp_path):
    first, second, third = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    write(reference_frame(), first)
    write(reference_frame(), second)
    data = bytearray(first.read_bytes())
    data[-3] = ord("9") if data[-3] != ord("9") else ord("8")
    third.write_bytes(bytes(data))
    assert load_table(first).sha256 == load_table(second).sha256
    assert load_table(first).sha256 != load_table(third).sha256


def test_ids_stay_text_and_dates_are_parsed_only_when_asked(tmp_path):
    path = tmp_path / "ref.csv"
    write(reference_frame(), path)
    frame = load_table(path).frame
    assert frame["customer_id"].dtype == object
    assert frame["snapshot_date"].dtype == object
    parsed = load_table(path, parse_dates=["snapshot_date"]).frame
    assert parsed["snapshot_date"].tolist()[0] == pd.Timestamp("2024-01-31")
    assert pd.api.types.is_datetime64_any_dtype(parsed["snapshot_date"])


def test_mixed_type_column_in_a_long_csv_is_read_without_dtype_warning(tmp_path):
    path = tmp_path / "long.csv"
    rows = [f"{i},1" for i in range(300_000)] + ["x,1"]
    path.write_text("code,flag\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' chunked inference would raise DtypeWarning
        frame = load_table(path).frame
    assert frame["code"].dtype == object
    assert frame["code"].iloc[-1] == "x"


def test_named_parquet_index_becomes_a_column_and_an_unnamed_one_is_dropped(tmp_path):
    indexed, filtered = tmp_path / "indexed.parquet", tmp_path / "filtered.parquet"
    reference_frame().set_index("customer_id").to_parquet(indexed)
    reference_frame().iloc[1:].to_parquet(filtered)
    table = load_table(indexed)
    assert table.columns == list(reference_frame().columns)
    assert table.frame.index.equals(pd.RangeIndex(4))
    assert load_table(filtered).frame.index.equals(pd.RangeIndex(3))
    assert load_table(filtered).columns == list(reference_frame().columns)


@pytest.mark.parametrize("name", ["ref.csv", "ref.csv.gz", "ref.parquet", "indexed.parquet",
                                  "filtered.parquet"])
def test_read_columns_agrees_with_load_table(tmp_path, name):
    path = tmp_path / name
    frame = reference_frame()
    frame = frame.set_index(["customer_id", "plan"]) if name == "indexed.parquet" else frame
    frame = frame.iloc[2:] if name == "filtered.parquet" else frame
    write(frame, path)
    assert read_columns(path) == load_table(path).columns


def test_parse_dates_names_a_missing_or_unparseable_column(tmp_path):
    path = tmp_path / "ref.csv"
    write(reference_frame().assign(snapshot_date=["2024-01-31", "soon", "2024-02-29", "x"]), path)
    with pytest.raises(DataError) as missing:
        load_table(path, parse_dates=["date"])
    assert str(missing.value) == (
        f"{path}: column 'date' (parse_dates) not found; columns are: customer_id, "
        "snapshot_date, age, monthly, plan, gender, churned. Fix: list only these in parse_dates.")
    with pytest.raises(DataError) as bad:
        load_table(path, parse_dates=["snapshot_date"])
    assert str(bad.value) == (
        f"{path}: cannot read dates in column 'snapshot_date' (time data \"soon\" doesn't match "
        f"format \"%Y-%m-%d\", at position 1). {READ_FIX}")


# --- loading errors (the same from load_table and read_columns) ---------------------------------

READERS = pytest.mark.parametrize("read", [load_table, read_columns], ids=["load", "columns"])


@READERS
@pytest.mark.parametrize("name, shown", [("data.json", "'.json'"), ("data.csv.bz2", "'.bz2'"),
                                         ("data", "(no suffix)")])
def test_unsupported_suffix(tmp_path, read, name, shown):
    path = tmp_path / name
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read(path)
    assert str(err.value) == (f"{path}: unsupported file type {shown}; supported suffixes are "
                              f"{SUPPORTED}. Fix: save the data as CSV or Parquet.")
    assert err.value.exit_code == 2


@READERS
def test_missing_file(tmp_path, read):
    path = tmp_path / "nope.parquet"
    with pytest.raises(DataError) as err:
        read(path)
    assert str(err.value) == f"{path}: file not found. Fix: check the path, or create the file."


@READERS
def test_an_empty_folder_is_a_batch_without_parts(tmp_path, read):  # a folder is a batch written in parts (tests/scale)
    path = tmp_path / "batch.csv"
    path.mkdir()
    (path / "notes.txt").write_text("not data")
    with pytest.raises(DataError) as err:
        read(path)
    assert str(err.value) == (f"{path}: a folder with no data files (.csv, .csv.gz, .parquet, .pq). Fix: write the batch's parts there, "
                              "or point at one file.")


@READERS
@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet"])
def test_zero_byte_file(tmp_path, read, name):
    path = tmp_path / name
    path.touch()
    with pytest.raises(DataError) as err:
        read(path)
    assert str(err.value) == (f"{path}: file is empty (0 bytes). Fix: write a header and at "
                              "least one row, or point at another file.")


@READERS
@pytest.mark.parametrize("name", ["header.csv", "header.parquet"])
def test_file_with_columns_but_no_rows(tmp_path, read, name):
    path = tmp_path / name
    write(reference_frame().iloc[:0][["age", "plan"]], path)
    with pytest.raises(DataError) as err:
        read(path)
    assert str(err.value) == (f"{path}: file has columns (age, plan) but no rows. Fix: add rows, "
                              "or point at a file with data.")


@READERS
def test_corrupt_parquet(tmp_path, read):
    path = tmp_path / "broken.parquet"
    write(reference_frame(), path)
    path.write_bytes(path.read_bytes()[:-20])  # truncated: the footer is gone
    with pytest.raises(DataError) as err:
        read(path)
    assert str(err.value) == (
        f"{path}: cannot read Parquet (Parquet magic bytes not found in footer. Either the file "
        f"is corrupted or this is not a parquet file). {READ_FIX}")


def test_malformed_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_table(path)
    assert str(err.value) == (f"{path}: cannot read CSV (Error tokenizing data. C error: Expected "
                              f"2 fields in line 3, saw 3). {READ_FIX}")


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(DataError) as err:
        load_table(path)
    assert str(err.value) == f"{path}: cannot read CSV (Not a gzipped file (b'a,')). {READ_FIX}"


def test_csv_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("name,city\nJos\xe9,M\xfcnchen\n".encode("latin-1"))
    with pytest.raises(DataError) as err:
        load_table(path)
    assert str(err.value) == (f"{path}: cannot read CSV ('utf-8' codec can't decode byte 0xe9 in "
                              f"position 13: invalid continuation byte). {READ_FIX}")


# --- schema ----------------------------------------------------------------------------------


def test_infer_schema_from_dtypes():
    schema = reference_schema()
    assert schema == Schema(
        target="churned", id="customer_id", timestamp="snapshot_date",
        numeric=["age", "monthly"], categorical=["plan", "gender"],
        features=["age", "monthly", "plan"], sensitive=["gender"],
        dtypes={"customer_id": "categorical", "snapshot_date": "categorical", "age": "numeric",
                "monthly": "numeric", "plan": "categorical", "gender": "categorical",
                "churned": "numeric"})


def test_infer_schema_kinds_bool_datetime_category_and_object_numbers():
    frame = pd.DataFrame({
        "flag": [True, False, True], "when": pd.to_datetime(["2024-01-01"] * 3),
        "tier": pd.Categorical(["a", "b", "a"]), "boxed": pd.Series([1, 2.5, None], dtype=object),
        "y": [1, 0, 1]})
    schema = infer_schema(frame, target="y")
    assert schema.dtypes == {"flag": "bool", "when": "datetime", "tier": "categorical",
                             "boxed": "numeric", "y": "numeric"}
    assert (schema.numeric, schema.categorical) == (["boxed"], ["flag", "tier"])
    assert schema.features == ["flag", "tier", "boxed"]


def test_explicit_lists_win_and_sensitive_can_be_a_listed_feature():
    schema = infer_schema(reference_frame(), target="churned", id="customer_id",
                          numeric=["monthly"], categorical=["plan", "gender", "age"],
                          sensitive="gender", features=["monthly", "plan", "gender"])
    assert schema.numeric == ["monthly"]
    assert schema.categorical == ["plan", "gender", "age"]
    assert schema.sensitive == ["gender"]
    assert schema.features == ["monthly", "plan", "gender"]


def test_explicit_numeric_leaves_the_rest_to_inference():
    schema = infer_schema(reference_frame(), target="churned", numeric=["age"])
    assert schema.numeric == ["age"]
    assert schema.categorical == ["customer_id", "snapshot_date", "plan", "gender"]
    assert "monthly" not in schema.features


def test_sensitive_columns_are_not_features_by_default():
    schema = infer_schema(reference_frame(), target="churned", id="customer_id",
                          sensitive=["gender", "age"])
    assert schema.features == ["snapshot_date", "monthly", "plan"]
    assert "gender" in schema.categorical and "age" in schema.numeric


@pytest.mark.parametrize("kwargs, label, fix", [
    ({"target": "churn"}, "data.target", "set data.target to one of these columns"),
    ({"target": "churned", "id": "churn"}, "data.id", "set data.id to one of these columns"),
    ({"target": "churned", "numeric": ["a", "churn"]}, "data.numeric",
     "use only these columns in data.numeric"),
    ({"target": "churned", "sensitive": ["churn"]}, "data.sensitive",
     "use only these columns in data.sensitive"),
])
def test_missing_declared_column_message(kwargs, label, fix):
    frame = pd.DataFrame({"a": [1], "b": ["x"], "c": [0.5]})
    if kwargs["target"] == "churned":
        frame["churned"] = [1]
    with pytest.raises(DataError) as err:
        infer_schema(frame, source="data/ref.csv", **kwargs)
    columns = ", ".join(frame.columns)
    assert str(err.value) == (f"data/ref.csv: column 'churn' ({label}) not found; columns are: "
                              f"{columns}. Fix: {fix}.")


def test_exact_message_from_the_brief():
    frame = pd.DataFrame({"a": [1], "b": [2], "c": [3]})
    with pytest.raises(DataError) as err:
        infer_schema(frame, target="churn")
    assert str(err.value) == ("<data>: column 'churn' (data.target) not found; columns are: a, b, "
                              "c. Fix: set data.target to one of these columns.")


def test_long_column_lists_are_shortened():
    frame = pd.DataFrame({f"c{i}": [i] for i in range(25)})
    with pytest.raises(DataError) as err:
        infer_schema(frame, target="y")
    listed = ", ".join(f"c{i}" for i in range(20))
    assert f"columns are: {listed} and 5 more. Fix:" in str(err.value)


def test_numeric_column_with_text_is_refused():
    frame = reference_frame().assign(age=["34", "n/a?", "29", "old"])
    with pytest.raises(DataError) as err:
        infer_schema(frame, target="churned", numeric=["age", "monthly"], source="ref.csv")
    assert str(err.value) == ("ref.csv: column 'age' (data.numeric) holds non-numeric values, "
                              "e.g. 'n/a?', 'old'. Fix: move it to data.categorical, or clean "
                              "the values.")


def test_numeric_text_that_parses_is_accepted():
    frame = pd.DataFrame({"n": ["1", "2.5", None], "y": [0, 1, 0]})
    assert infer_schema(frame, target="y", numeric=["n"]).numeric == ["n"]


@pytest.mark.parametrize("kwargs, message", [
    ({"numeric": ["age", "churned"]}, "column 'churned' is in data.numeric and in data.target. "
                                      "Fix: keep it in one of them."),
    ({"numeric": ["age"], "categorical": ["plan", "age"]},
     "column 'age' is in data.categorical and in data.numeric. Fix: keep it in one of them."),
    ({"features": ["snapshot_date"]}, "column 'snapshot_date' (data.features) is neither "
     "numeric nor categorical. Fix: add it to data.numeric or data.categorical."),
])
def test_conflicting_roles_are_refused(kwargs, message):
    frame = reference_frame().assign(snapshot_date=pd.to_datetime(reference_frame().snapshot_date))
    with pytest.raises(DataError) as err:
        infer_schema(frame, target="churned", source="ref.csv", **kwargs)
    assert str(err.value) == f"ref.csv: {message}"


def test_schema_json_round_trip():
    schema = reference_schema()
    data = json.loads(json.dumps(schema.to_dict()))
    assert data["schema_version"] == 1
    assert Schema.from_dict(data) == schema
    assert Schema.from_dict({"target": "y", "later_key": 1}) == Schema(target="y")


def test_category_levels_are_sorted_text_without_nan():
    frame = pd.DataFrame({"plan": ["pro", None, "basic", "pro"], "code": [3.0, 1.0, np.nan, 1.0],
                          "y": [0, 1, 0, 1]})
    schema = infer_schema(frame, target="y", categorical=["plan", "code"], numeric=[])
    assert category_levels(frame, schema) == {"plan": ["basic", "pro"], "code": ["1", "3"]}


# --- quality ---------------------------------------------------------------------------------


def test_clean_frame_passes_with_no_findings():
    report = check_quality(reference_frame(), reference_schema(), source="ref.csv",
                           reference_categories=category_levels(reference_frame(),
                                                                reference_schema()))
    assert report.passed
    assert report.checks == []
    assert (report.source, report.rows, report.columns) == ("ref.csv", 4,
                                                            list(reference_frame().columns))
    report.raise_for_errors()


def test_empty_data_is_an_error():
    report = check_quality(reference_frame().iloc[:0], reference_schema(), source="b.csv")
    assert names(report.checks) == [("empty", None, "error")]
    assert not report.passed


def test_missing_declared_columns_are_errors_one_per_column():
    frame = reference_frame().drop(columns=["age", "gender"])
    report = check_quality(frame, reference_schema(), source="b.csv")
    assert names(report.errors) == [("missing_column", "gender", "error"),
                                    ("missing_column", "age", "error")]
    assert [c.keys for c in report.errors] == [("data.sensitive",), ("data.numeric",)]


def test_extra_columns_are_listed_in_one_warning():
    frame = reference_frame().assign(notes=["a", "b", "c", "d"], zip=[1, 2, 3, 4])
    report = check_quality(frame, reference_schema(), source="b.csv")
    assert report.passed
    [warning] = report.warnings
    assert (warning.name, warning.value) == ("extra_columns", ["notes", "zip"])
    assert warning.message == "2 columns not in the schema: 'notes', 'zip'"


def test_kind_change_versus_the_reference_is_an_error():
    batch = reference_frame().assign(monthly=["20.5", "35", "cheap", "50"], gender=[1, 0, 0, 1])
    report = check_quality(batch, reference_schema(), source="b.csv", reference=reference_schema())
    assert names(report.errors) == [("dtype_change", "monthly", "error"),
                                    ("dtype_change", "gender", "error")]
    assert report.errors[0].message == "column 'monthly' changed type from numeric to categorical"
    assert report.errors[0].value == {"from": "numeric", "to": "categorical"}


def test_all_missing_or_nan_widened_columns_keep_their_kind():
    batch = reference_frame().assign(plan=np.nan, age=[34.0, np.nan, 29.0, 42.0])
    report = check_quality(batch, reference_schema(), source="b.csv", max_missing=1.0)
    assert [c.name for c in report.checks] == ["missing_values", "missing_values"]


def test_missing_share_warns_and_errors_above_the_limit():
    batch = reference_frame().assign(age=[34, None, None, 35], monthly=[1.0, None, 2.0, 3.0])
    report = check_quality(batch, reference_schema(), source="b.csv", max_missing=0.4)
    assert names(report.checks) == [("missing_values", "age", "error"),
                                    ("missing_values", "monthly", "warning")]
    age, monthly = report.checks
    assert (age.value, monthly.value) == (0.5, 0.25)
    assert age.message == "column 'age' has 2 missing values (50%), more than the 40% allowed"
    assert age.keys == ("data.numeric",)
    assert check_quality(batch, reference_schema(), source="b.csv").passed
    assert monthly.message == "column 'monthly' has 1 missing value (25%)"


def test_missing_labels_are_errors_in_a_labelled_reference():
    frame = reference_frame().assign(churned=[0, None, 1, 1])
    report = check_quality(frame, reference_schema(), source="ref.csv")
    assert names(report.checks) == [("missing_target", "churned", "error")]
    assert report.checks[0].message == "target column 'churned' has 1 missing value (25%)"


def test_batch_without_labels_reports_info_not_error():
    batch = reference_frame().drop(columns="churned")
    report = check_quality(batch, reference_schema(), source="b.csv", require_target=False)
    assert report.passed
    assert names(report.checks) == [("no_target", "churned", "info")]
    strict = check_quality(batch, reference_schema(), source="b.csv")
    assert names(strict.errors) == [("missing_column", "churned", "error")]


def test_batch_with_some_labels_reports_info():
    batch = reference_frame().assign(churned=[0, None, None, 1])
    report = check_quality(batch, reference_schema(), source="b.csv", require_target=False)
    assert report.passed
    assert names(report.checks) == [("missing_target", "churned", "info")]


def test_constant_columns_warn_but_not_on_a_single_row():
    frame = reference_frame().assign(plan="basic")
    report = check_quality(frame, reference_schema(), source="b.csv")
    assert names(report.checks) == [("constant", "plan", "warning")]
    assert report.checks[0].message == "column 'plan' is constant ('basic')"
    one_row = check_quality(reference_frame().iloc[:1], reference_schema(), source="b.csv")
    assert one_row.checks == []


def test_unseen_categories_are_named_sorted_with_a_count():
    levels = category_levels(reference_frame(), reference_schema())
    new = [f"p{i:02d}" for i in range(12, 0, -1)]
    batch = pd.concat([reference_frame()] * 3, ignore_index=True).iloc[:12]
    batch = batch.assign(plan=new, customer_id=[f"C{i}" for i in range(12)])
    report = check_quality(batch, reference_schema(), source="b.csv", reference_categories=levels)
    [unseen] = [c for c in report.checks if c.name == "unseen_categories"]
    assert (unseen.column, unseen.severity, unseen.value) == ("plan", "warning", 12)
    assert unseen.message == ("column 'plan' has 12 categories not seen in the reference: 'p01', "
                              "'p02', 'p03', 'p04', 'p05', 'p06', 'p07', 'p08', 'p09', 'p10' "
                              "and 2 more")
    one = check_quality(reference_frame().assign(plan=["basic", "pro", "gold", "team"]),
                        reference_schema(), source="b.csv", reference_categories=levels)
    assert [c.message for c in one.checks] == [
        "column 'plan' has 1 category not seen in the reference: 'gold'"]


def test_integer_codes_widened_to_float_are_not_unseen():
    frame = pd.DataFrame({"code": [1, 2, 3], "y": [0, 1, 0]})
    schema = infer_schema(frame, target="y", categorical=["code"], numeric=[])
    batch = pd.DataFrame({"code": [1.0, np.nan, 3.0], "y": [0, 1, 1]})
    report = check_quality(batch, schema, source="b.csv",
                           reference_categories=category_levels(frame, schema))
    assert [c.name for c in report.checks] == ["missing_values"]


def test_duplicate_ids_are_errors_only_with_an_id_column():
    frame = reference_frame().assign(customer_id=["C1", "C2", "C1", "C1"])
    report = check_quality(frame, reference_schema(), source="b.csv")
    assert names(report.checks) == [("duplicate_ids", "customer_id", "error")]
    assert report.checks[0].message == "column 'customer_id' has 2 duplicate ids, e.g. 'C1'"
    no_id = infer_schema(frame, target="churned", categorical=["plan"])
    assert check_quality(frame, no_id, source="b.csv").passed


def test_raise_for_errors_names_the_source_every_column_and_the_fix():
    schema = Schema(target="churned", numeric=["age", "plan"], categorical=[],
                    features=["age", "plan"], dtypes={"plan": "numeric", "churned": "numeric"})
    frame = pd.DataFrame({"plan": ["basic", "pro"], "churned": [0, 1]})
    report = check_quality(frame, schema, source="data/x.csv")
    with pytest.raises(DataError) as err:
        report.raise_for_errors()
    assert str(err.value) == (
        "data/x.csv: 2 data errors: column 'age' is missing; column 'plan' changed type from "
        "numeric to categorical. Fix the file or the config (data.numeric / data.categorical).")
    assert err.value.exit_code == 2


def test_raise_for_errors_without_config_keys():
    report = check_quality(reference_frame().iloc[:0], reference_schema(), source="b.csv")
    with pytest.raises(DataError) as err:
        report.raise_for_errors()
    assert str(err.value) == "b.csv: 1 data error: the data has no rows. Fix the file."


def test_report_to_dict_is_json_and_to_frame_lists_the_checks():
    batch = reference_frame().assign(plan="basic", age=[34, None, 29, 42], extra=[1, 2, 3, 4])
    report = check_quality(batch, reference_schema(), source="b.csv")
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["schema_version"] == 1
    assert data["passed"] is True
    assert [c["name"] for c in data["checks"]] == ["extra_columns", "missing_values", "constant"]
    frame = report.to_frame()
    assert list(frame.columns) == ["name", "column", "severity", "message", "value"]
    assert frame["severity"].tolist() == ["warning", "warning", "warning"]
    assert isinstance(report, QualityReport) and report.errors == []


def test_importing_the_module_does_not_import_pandas():
    code = "import sys, workbench.data; print('pandas' in sys.modules, 'pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split() == ["False", "False"]


# --- properties --------------------------------------------------------------------------------

NAMES = st.text(alphabet="abcdefgh_", min_size=1, max_size=6)
NUMBERS = st.one_of(st.none(), st.integers(-1000, 1000), st.floats(allow_nan=True,
                                                                   allow_infinity=False))
TEXT = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "x y", "1"]))


@st.composite
def frames(draw):
    rows = draw(st.integers(1, 8))
    columns = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    data = {}
    for name in columns:
        values = st.lists(draw(st.sampled_from([NUMBERS, TEXT, st.booleans()])),
                          min_size=rows, max_size=rows)
        data[name] = draw(values)
    return pd.DataFrame(data)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames(), data=st.data())
def test_inferred_schema_is_consistent_and_checks_its_own_data(frame, data):
    columns = list(frame.columns)
    target = data.draw(st.sampled_from(columns))
    rest = [c for c in columns if c != target]
    key = data.draw(st.sampled_from([None, *rest]))
    sensitive = data.draw(st.lists(st.sampled_from(rest), unique=True)) if rest else []
    schema = infer_schema(frame, target=target, id=key, sensitive=sensitive)
    assert set(schema.features) | {c for c in (schema.target, schema.id) if c} <= set(columns)
    assert not set(schema.numeric) & set(schema.categorical)
    assert not set(schema.features) & ({target, key} | set(sensitive))
    assert Schema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema
    report = check_quality(frame, schema, source="p.csv", max_missing=1.0,
                           reference_categories=category_levels(frame, schema))
    huge = {c for c in schema.numeric + [target] if c in schema.numeric or schema.dtypes[c] == "numeric"
            if (pd.to_numeric(frame[c], errors="coerce").abs() > np.finfo(np.float32).max).any()}
    assert {c.column for c in report.errors if c.name == "non_finite"} == huge
    assert {c.name for c in report.errors} <= {"missing_target", "duplicate_ids", "non_finite"}
    assert not {c.name for c in report.checks} & {"dtype_change", "unseen_categories",
                                                  "missing_column", "extra_columns"}
    json.dumps(report.to_dict(), allow_nan=False)
