"""The prediction log: every online prediction, exported later as a batch ``workbench monitor`` reads.

The service appends one JSON line per scoring pass to ``<store>/predictions/<project>/<UTC day>.jsonl``:
when, and per prediction (as parallel lists) the prediction id, the record as it was scored (the
fields sent — features, id, timestamp, sensitive columns — plus any features read from the feature
store for it), where its features came from (``feature_source``: request, online, offline or none),
the score, who served it and why the baseline did (``fallback``; None when it did not). Lines are
buffered and appended by a background thread under an exclusive ``flock`` (several worker processes
share the files); a line torn by a crash is skipped on export and counted (with the predictions it
held). The log is append-only and never retried (an append is not idempotent).

After each append the flushed predictions are indexed in the feedback store
(:func:`workbench.governance.feedback.index_predictions`, batch ``online-<UTC day>``, one transaction), so
``POST /feedback`` and ``workbench feedback import`` can name them. Indexing comes after the line is on disk
and waits at most :data:`INDEX_WAIT_S` for the database: a failure never loses or delays a log line. Predictions
whose indexing failed are retried with the next flush (up to :data:`MAX_PENDING` passes; beyond that the
oldest are dropped and counted in ``index_failed``).

:func:`export` turns a range of days into a Parquet batch with the record columns, ``prediction_id``
and ``feature_source`` (when logged), and joins labels that arrived later — by ``prediction_id``, or
by the config's id column — into the target column, so online traffic is monitored exactly like a
batch file.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import atomic_path
from workbench.data import load_table
from workbench.exceptions import DataError
from workbench.governance import audit, feedback

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config

PREDICTION_ID = "prediction_id"
FEATURE_SOURCE = "feature_source"  # request, online, offline or none: see workbench.serving.features
INDEX_WAIT_S = 1.0     # the feedback store's busy timeout for indexing: a long import elsewhere must not hold up the log
MAX_PENDING = 10_000   # scoring passes kept for another indexing try after a failure
_OPTIONAL = ("confidence", "set_size", "uncertainty")  # per-prediction lists a log line may carry, indexed when every line has them


def log_dir(config: Config) -> Path:
    """The project's prediction log folder."""
    return config.store / "predictions" / config.project


class PredictionLog:
    """Buffered, thread-safe appends to the day's log file (see the module docstring)."""

    def __init__(self, config: Config, *, flush_s: float = 0.5, index: bool = True) -> None:
        self.config = config
        self.folder = log_dir(config)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lines: list[str] = []
        self._entries: list[dict[str, Any]] = []  # the same passes, to index once their line is written
        self._pending: list[dict[str, Any]] = []  # written passes whose indexing failed: tried again next flush
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time: a caller's flush returns once what was queued is written and indexed
        self.index = index
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.flush_s = flush_s
        self._thread: threading.Thread | None = None
        self.written = 0
        self.failed = 0
        self.indexed = 0        # predictions indexed in the feedback store
        self.index_failed = 0   # scoring passes never indexed (dropped after MAX_PENDING)
        self.index_error = ""   # the last indexing error

    def append(self, entry: dict[str, Any]) -> None:
        """Queue one scoring pass for the next flush: ``predicted_at``, ``fallback`` and, per prediction, lists of equal
        length (``prediction_id``, ``record``, ``score``, ``model_version``…). One line per pass: one ``json.dumps`` call."""
        line = json.dumps(entry, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            self._lines.append(line)
            if self.index:
                self._entries.append(entry)
        if len(self._lines) >= 1000:
            self._wake.set()

    def start(self) -> None:
        """Start the flushing thread."""
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Flush what is queued and stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def flush(self) -> None:
        """Append the queued lines to today's file, then index their predictions in the feedback store."""
        with self._flushing:
            with self._lock:
                lines, self._lines = self._lines, []
                entries, self._entries = self._entries, []
            if lines:
                self._write(lines)
            if entries or self._pending:
                self._index(entries)

    def _write(self, lines: list[str]) -> None:
        path = self.folder / f"{datetime.now(UTC).date().isoformat()}.jsonl"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, "".join(lines).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            self.written += len(lines)
        except OSError:
            self.failed += len(lines)  # counted (and shown by /version); serving goes on
            raise

    def _index(self, entries: list[dict[str, Any]]) -> None:
        """Index the written passes (and those a failed try left); on failure keep them for the next flush."""
        work, self._pending = self._pending + entries, []
        try:
            frame = index_frame(self.config, work)
            feedback.index_predictions(self.config, frame, source="online", wait_s=INDEX_WAIT_S)
            self.indexed += len(frame)
        except Exception as exc:  # noqa: BLE001 - the store locked, full or broken: the log line is written, serving goes on
            self.index_error = f"{type(exc).__name__}: {exc}"[:500]
            self._pending = work[-MAX_PENDING:]
            self.index_failed += len(work) - len(self._pending)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_s)
            self._wake.clear()
            try:
                self.flush()
            except OSError:
                pass  # counted in self.failed; the next flush tries again with new lines


def index_frame(config: Config, entries: list[dict[str, Any]]) -> pd.DataFrame:
    """The predictions of logged passes as :func:`~workbench.governance.feedback.index_predictions` takes them, with a
    ``batch`` column: ``online-<UTC day of predicted_at>``."""
    import pandas as pd

    id_col = config.data.id
    columns: dict[str, list[Any]] = {k: [] for k in ("prediction_id", "score", "model_version", "entity_id", "predicted_at", "batch")}
    optional = [k for k in _OPTIONAL if entries and all(k in e for e in entries)]
    for k in optional:
        columns[k] = []
    for entry in entries:
        n = len(entry[PREDICTION_ID])
        when = str(entry.get("predicted_at") or datetime.now(UTC).isoformat())
        records = entry.get("record") or [{}] * n
        columns["prediction_id"] += entry[PREDICTION_ID]
        columns["score"] += entry["score"]
        columns["model_version"] += entry.get("model_version") or [None] * n
        columns["entity_id"] += [r.get(id_col) if id_col else None for r in records]
        columns["predicted_at"] += [when] * n
        columns["batch"] += [f"online-{when[:10]}"] * n
        for k in optional:
            columns[k] += entry[k]
    return pd.DataFrame(columns)


@dataclass(frozen=True)
class Exported:
    """What :func:`export` wrote."""

    path: Path
    rows: int
    labelled: int
    torn_lines: int
    days: list[str]


def export(config: Config, out: Path | None = None, *, since: date | None = None, until: date | None = None,
           labels: Path | None = None) -> Exported:
    """Write the logged predictions of ``[since, until]`` (UTC days) as a Parquet batch (see the module docstring)."""
    import pandas as pd

    folder = log_dir(config)
    files = sorted(p for p in folder.glob("*.jsonl") if _in_range(p.stem, since, until)) if folder.is_dir() else []
    rows, torn = [], 0
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
                batch = [{**record, PREDICTION_ID: pid} for record, pid in zip(entry["record"], entry[PREDICTION_ID], strict=True)]
                if FEATURE_SOURCE in entry:
                    batch = [{**row, FEATURE_SOURCE: source} for row, source in zip(batch, entry[FEATURE_SOURCE], strict=True)]
                rows += batch
            except (ValueError, KeyError, TypeError):
                torn += 1
    if not rows:
        span = f"between {since or 'the start'} and {until or 'today'}"
        raise DataError(f"{folder}: no predictions logged {span}. Fix: score some records with `workbench api` first, "
                        "or widen --since/--until.")
    frame = pd.DataFrame.from_records(rows)
    ts = config.data.timestamp
    if ts and ts in frame:
        frame[ts] = pd.to_datetime(frame[ts], errors="coerce", utc=True).dt.tz_localize(None)
    labelled = 0
    if labels is not None:
        frame, labelled = _join_labels(config, frame, labels)
    out = out or folder / "exports" / f"{files[0].stem}_{files[-1].stem}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        frame.to_parquet(tmp, index=False)
    audit.record(config.store, "predictions_export", str(out), rows=len(frame), labelled=labelled, days=[p.stem for p in files],
                 labels=str(labels) if labels else None)
    return Exported(out, len(frame), labelled, torn, [p.stem for p in files])


def _join_labels(config: Config, frame: pd.DataFrame, labels: Path) -> tuple[pd.DataFrame, int]:
    target, id_col = config.data.target, config.data.id
    table = load_table(labels)
    found = table.frame
    key = PREDICTION_ID if PREDICTION_ID in found else id_col if id_col and id_col in found and id_col in frame else None
    if key is None:
        raise DataError(f"{labels}: labels need a '{PREDICTION_ID}' column{f' or the id column {id_col!r}' if id_col else ''} to join on; "
                        f"found {', '.join(map(str, found.columns[:20]))}. Fix: add the prediction ids the service returned.")
    if target not in found:
        raise DataError(f"{labels}: labels have no target column '{target}' (data.target). Fix: name the label column '{target}'.")
    found = found[[key, target]].dropna(subset=[key]).drop_duplicates(subset=[key], keep="last")
    found = found.astype({key: frame[key].dtype}) if key == id_col else found
    merged = frame.drop(columns=[target], errors="ignore").merge(found, on=key, how="left")
    audit.record(config.store, "data_access", str(table.path), sha256=table.sha256, rows=table.rows, purpose="labels")
    return merged, int(merged[target].notna().sum())


def _in_range(stem: str, since: date | None, until: date | None) -> bool:
    try:
        day = date.fromisoformat(stem)
    except ValueError:
        return False
    return (since is None or day >= since) and (until is None or day <= until)
