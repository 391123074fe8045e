"""Reading and checking feedback rows before anything is stored (see :mod:`workbench.governance.feedback`).

Every problem of the input is collected — each with its row (a file's first row after the header is 1; a request's
first item is 0), column, what is wrong and the fix — and raised at once as one :class:`~workbench.exceptions.FeedbackError`, so a reviewer
fixes a file in one pass and a half-valid file stores nothing.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import numbers
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from workbench.data._files import reading
from workbench.exceptions import DataError, FeedbackError

FIELDS = ("prediction_id", "label", "rating", "given_by", "given_at", "mode")
MODES = ("explicit", "implicit")
MAX_LISTED = 20       # problems spelled out in a message; the count covers all
MAX_GIVEN_BY = 256    # characters of a reviewer's name
_BINARY = {"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0, "false": 0.0, "true": 1.0}
_LABEL_FIX = {"binary": "write 0 or 1 (or false/true)", "regression": "write the observed value as a number"}


@dataclass(frozen=True)
class Problem:
    """One problem of one row: ``code`` is ``unknown``, ``duplicate`` or ``invalid`` (what a caller may act on)."""

    row: int
    column: str | None
    message: str
    fix: str
    code: str = "invalid"

    def where(self, row_word: str = "row") -> str:
        """``row 2, column 'label'``."""
        return f"{row_word} {self.row}" + (f", column '{self.column}'" if self.column else "")

    def text(self, row_word: str = "row") -> str:
        """``row 2, column 'label': ... Fix: ...``."""
        return f"{self.where(row_word)}: {self.message}. Fix: {self.fix}"


def feedback_error(where: str, problems: list[Problem], *, row_word: str = "row") -> FeedbackError:
    """The error for ``problems``: every one in ``problems``, the first :data:`MAX_LISTED` in the message (those that share a
    column and a fix listed together, the fix said once)."""
    groups: dict[tuple[str | None, str], list[Problem]] = {}
    for problem in problems[:MAX_LISTED]:
        groups.setdefault((problem.column, problem.fix), []).append(problem)
    listed = "; ".join("; ".join(f"{p.where(row_word)}: {p.message}" for p in group) + f". Fix: {fix}" for (_, fix), group in groups.items())
    more = f"; and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return FeedbackError(f"{count} in {where}, nothing stored: {listed}{more}", problems)


@dataclass(frozen=True)
class Row:
    """One feedback row to store (a file row with a label and a rating gives two)."""

    row: int
    prediction_id: str
    kind: str
    label: float | None
    rating: float | None
    given_by: str
    given_at: str
    mode: str


def read_rows(path: Path, data: IO[bytes]) -> list[dict[str, Any]]:
    """The rows of a CSV, Parquet or JSON-lines feedback file as dicts (CSV values stay text: ids keep their leading zeros).

    A JSON line that is not an object is kept as is and reported by :func:`check_rows`.
    """
    import pandas as pd

    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        with reading(path, "CSV"):
            text = (gzip.decompress(data.read()) if name.endswith(".gz") else data.read()).decode("utf-8-sig")
            header = next(csv.reader(text.splitlines()[:1]), [])
            _refuse_repeats(path, header)
            items = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False).to_dict("records")
    elif name.endswith((".parquet", ".pq")):
        with reading(path, "Parquet"):
            frame = pd.read_parquet(data)
            header = [str(c) for c in frame.columns]
            items = frame.to_dict("records")
    elif name.endswith((".jsonl", ".ndjson", ".json")):
        with reading(path, "JSON lines"):
            items = [_json(line) for line in data.read().decode("utf-8-sig").splitlines() if line.strip()]
        header = list(dict.fromkeys(k for item in items if isinstance(item, dict) for k in item))
    else:
        raise DataError(f"{path}: unsupported file type '{path.suffix}'. Fix: save feedback as .csv, .parquet or .jsonl (JSON lines).")
    if not items:
        raise DataError(f"{path}: no feedback rows. Fix: add rows with prediction_id and label or rating.")
    if "prediction_id" not in header or not {"label", "rating"} & set(header):
        need = "a 'prediction_id' column" if "prediction_id" not in header else "a 'label' or 'rating' column"
        raise DataError(f"{path}: no {need.removeprefix('a ')}; found {', '.join(map(str, header[:20])) or 'no columns'}. "
                        f"Fix: feedback files need {need} (the review queue's CSV has both prediction_id and label).")
    return items


def _json(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return line  # not an object: check_rows names its row


def _refuse_repeats(path: Path, header: list[str]) -> None:
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise DataError(f"{path}: column(s) {', '.join(twice)} appear more than once in the header. Fix: keep one of each.")


def check_rows(items: list[Any], *, task: str, actor: str, first: int = 1) -> tuple[list[Row], list[Problem], dict[int, str]]:
    """Parse and check every item (a dict) without the store.

    Returns the rows to store, every problem found, and each item's prediction id by row number (rows with other
    problems too: :func:`check_stored` reports an unknown id beside them).
    """
    rows: list[Row] = []
    problems: list[Problem] = []
    ids: dict[int, str] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for number, item in enumerate(items, start=first):
        if not isinstance(item, dict):
            problems.append(Problem(number, None, f"not an object ({type(item).__name__})",
                                    "write one object with prediction_id and label or rating per row"))
            continue
        if not _blank(item.get("prediction_id")):
            ids[number] = str(item["prediction_id"]).strip()
        found, bad = _parse(item, number, task=task, actor=actor, strict=first == 0)
        problems += bad
        for row in found:
            key = (row.prediction_id, row.kind, row.given_by)
            if key in seen:
                problems.append(Problem(number, "prediction_id", f"repeats row {seen[key]} ({row.kind} by {row.given_by!r} on prediction "
                                        f"{row.prediction_id!r})", "keep one of them", "duplicate"))
            else:
                seen[key] = number
                rows.append(row)
    return rows, problems, ids


def _parse(item: dict[str, Any], number: int, *, task: str, actor: str, strict: bool) -> tuple[list[Row], list[Problem]]:
    """The rows one item gives and its problems."""
    problems: list[Problem] = []

    def bad(column: str, message: str, fix: str) -> None:
        problems.append(Problem(number, column, message, fix))

    if strict:
        for key in item:
            if key not in FIELDS:
                bad(str(key), "unknown field", f"send only {', '.join(FIELDS)}")
    pid = item.get("prediction_id")
    if _blank(pid):
        bad("prediction_id", "empty", "give the prediction_id the service or the scored batch returned")
    label = None if _blank(item.get("label")) else _label(item["label"], task)
    if label is None and not _blank(item.get("label")):
        bad("label", f"{_shown(item['label'])} is not a {'binary label' if task == 'binary' else 'finite number'}", _LABEL_FIX[task])
    rating = None if _blank(item.get("rating")) else _number(item["rating"])
    if not _blank(item.get("rating")) and (rating is None or not 1 <= rating <= 5):
        bad("rating", f"{_shown(item['rating'])} is not a rating from 1 to 5", "rate from 1 (bad) to 5 (good)")
    if _blank(item.get("label")) and _blank(item.get("rating")):
        bad("label", "no label and no rating", "fill in label or rating, or drop the row")
    mode = "explicit" if _blank(item.get("mode")) else str(item["mode"]).strip().lower()
    if mode not in MODES:
        bad("mode", f"{_shown(item['mode'])} is not a mode", "write explicit or implicit (empty: explicit)")
    given_at = _when(item.get("given_at"))
    if given_at is None:
        bad("given_at", f"{_shown(item['given_at'])} is not an ISO time", "write e.g. 2026-05-01T12:00:00Z (empty: now)")
    given_by = actor if _blank(item.get("given_by")) else str(item["given_by"]).strip()
    if len(given_by) > MAX_GIVEN_BY or any(ord(c) < 32 for c in given_by):
        bad("given_by", f"{len(given_by)} characters or control characters", f"name the reviewer in at most {MAX_GIVEN_BY} printable characters")
    if problems:
        return [], problems
    base = {"row": number, "prediction_id": str(pid).strip(), "given_by": given_by, "given_at": given_at, "mode": mode}
    rows = [Row(kind="label", label=label, rating=None, **base)] if label is not None else []
    return rows + ([Row(kind="rating", label=None, rating=rating, **base)] if rating is not None else []), []


def check_stored(conn: sqlite3.Connection, rows: list[Row], ids: dict[int, str], *, chunk: int = 500) -> list[Problem]:
    """Problems only the store can see: prediction ids it never indexed (``ids``: by row), feedback it already holds
    (same prediction, kind and person)."""
    distinct = list(dict.fromkeys(ids.values()))
    known: set[str] = set()
    stored: set[tuple[str, str, str]] = set()
    for start in range(0, len(distinct), chunk):
        part = distinct[start:start + chunk]
        marks = ",".join("?" * len(part))
        known.update(r[0] for r in conn.execute(f"SELECT prediction_id FROM predictions WHERE prediction_id IN ({marks})", part))
        stored.update(conn.execute(f"SELECT prediction_id, kind, given_by FROM feedback WHERE prediction_id IN ({marks})", part))
    problems = [Problem(row, "prediction_id", f"{pid!r} is not a known prediction",
                        "use an id the service returned or the score phase indexed (a typo, or a batch not scored yet)", "unknown")
                for row, pid in ids.items() if pid not in known]
    for r in rows:
        if (r.prediction_id, r.kind, r.given_by) in stored:
            problems.append(Problem(r.row, "prediction_id", f"{r.kind} by {r.given_by!r} on prediction {r.prediction_id!r} is already stored",
                                    "drop the row (feedback is append-only: a second opinion comes from another given_by)", "duplicate"))
    return problems


def _blank(value: Any) -> bool:
    """None, NaN, NaT, pandas NA or an empty string: the column was left empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return math.isnan(float(value))
    return type(value).__name__ in ("NAType", "NaTType")


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b"


def _label(value: Any, task: str) -> float | None:
    """The label as stored (a float), or None when it is not a label of ``task``."""
    if task == "binary":
        if _is_bool(value):
            return float(bool(value))
        if isinstance(value, str):
            return _BINARY.get(value.strip().lower())
        return float(value) if isinstance(value, numbers.Real) and float(value) in (0.0, 1.0) else None
    return None if _is_bool(value) else _number(value)


def _number(value: Any) -> float | None:
    """A finite number (text is parsed), else None."""
    if _is_bool(value):
        return None
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value) if isinstance(value, numbers.Real) else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _when(value: Any) -> str | None:
    """``given_at`` as stored (UTC ISO, microseconds; empty: now), or None when it is no time."""
    if _blank(value):
        return datetime.now(UTC).isoformat(timespec="microseconds")
    when = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="microseconds")


def _shown(value: Any) -> str:
    """A value as a message quotes it (bounded)."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
