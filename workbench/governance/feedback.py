"""The feedback store: ratings and corrected labels keyed by prediction id, in ``<store>/feedback.db``.

Three sqlite tables (WAL, a busy timeout: the service's worker processes and the CLI write at once):

- ``predictions`` — every prediction feedback may name, indexed by :func:`index_predictions` (the score
  phase for a batch, the service's prediction log for online traffic): id, source, batch, run, model
  version, entity id (the config's ``data.id`` value), score, confidence, conformal set size, uncertainty;
- ``feedback`` — one row per rating or label: who gave it, when, explicit or implicit, from which file
  (path and sha256) or ``api``; one per (prediction, kind, person);
- ``queue`` and ``rounds`` — the review queue's draws (:mod:`workbench.governance.review_queue`).

The tables are append-only: triggers abort every UPDATE and DELETE, so a stored label cannot be rewritten
behind the audit trail. Each import, API call and queue round is one transaction and one ``feedback`` /
``feedback_queue`` event in the audit trail (rows, file, sha256); the audit record is written before the
commit, so a log that takes no record (:class:`~workbench.exceptions.AuditError`) stores nothing.

Feedback is checked whole before anything is stored (:mod:`workbench.governance._feedback_rows`): unknown
prediction ids, duplicates (in the store or twice in the input), labels of the wrong type for
``model.task``, ratings outside 1..5, bad modes or times are all reported at once, and nothing is stored.
"""

from __future__ import annotations

import contextlib
import io
import math
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.exceptions import DataError, FeedbackError, ParameterError
from workbench.governance import audit
from workbench.governance._feedback_rows import Problem, check_rows, check_stored, feedback_error, read_rows

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config

__all__ = ["FeedbackError", "Problem", "connect", "db_path", "import_file", "index_predictions", "labels_for", "record", "status",
           "transaction"]

DB_NAME = "feedback.db"
SCHEMA_VERSION = 1
SOURCES = ("batch", "online")
WAIT_S = 30.0  # how long a writer waits for another's transaction (sqlite busy timeout)
_CHUNK = 500   # ids per IN (...) query: below sqlite's bound-parameter limit
_TABLES = """
CREATE TABLE IF NOT EXISTS predictions (
  prediction_id TEXT PRIMARY KEY, source TEXT NOT NULL CHECK (source IN ('batch', 'online')), batch TEXT, run_id TEXT,
  model_version TEXT, entity_id TEXT, score REAL, confidence REAL, set_size INTEGER, uncertainty REAL, predicted_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS predictions_batch ON predictions(batch);
CREATE TABLE IF NOT EXISTS feedback (
  id INTEGER PRIMARY KEY, prediction_id TEXT NOT NULL REFERENCES predictions(prediction_id),
  kind TEXT NOT NULL CHECK (kind IN ('label', 'rating')), label REAL, rating REAL, given_by TEXT NOT NULL, given_at TEXT NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('explicit', 'implicit')), source TEXT NOT NULL, recorded_at TEXT NOT NULL,
  UNIQUE (prediction_id, kind, given_by));
CREATE TABLE IF NOT EXISTS rounds (
  round_id TEXT PRIMARY KEY, batch TEXT, budget INTEGER NOT NULL, control_share REAL NOT NULL, seed INTEGER NOT NULL,
  pool INTEGER NOT NULL, uncertain INTEGER NOT NULL, random INTEGER NOT NULL, queued_at TEXT NOT NULL, queued_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue (
  prediction_id TEXT PRIMARY KEY REFERENCES predictions(prediction_id), round_id TEXT NOT NULL REFERENCES rounds(round_id),
  reason TEXT NOT NULL CHECK (reason IN ('uncertain', 'random')), propensity REAL NOT NULL CHECK (propensity > 0 AND propensity <= 1),
  queued_at TEXT NOT NULL, queued_by TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS queue_round ON queue(round_id);
"""
_APPEND_ONLY = "".join(
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only: {verb} refused (audited data)'); END;\n"
    for table in ("predictions", "feedback", "rounds", "queue") for verb in ("UPDATE", "DELETE"))


def db_path(config: Config) -> Path:
    """The store's feedback database."""
    return config.store / DB_NAME


def connect(config: Config, *, wait_s: float = WAIT_S) -> sqlite3.Connection:
    """A connection to the feedback database (created on first use), in autocommit mode: use :func:`transaction`.

    Parameters
    ----------
    config : Config
        Its ``store`` holds ``feedback.db``.
    wait_s : float
        Seconds to wait for another process's write transaction before ``database is locked``.
    """
    path = db_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=wait_s, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(wait_s * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
        conn.execute("PRAGMA journal_mode = WAL")  # persistent: readers never block the writer, nor it them
        conn.executescript(f"BEGIN IMMEDIATE;\n{_TABLES}{_APPEND_ONLY}PRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;")
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (the write lock up front, so checks and writes see one state), commit or roll back; closes ``conn``."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # sqlite already rolled back after some errors (a full disk): a second ROLLBACK would hide them
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


def now() -> str:
    """The UTC time as the store writes it (ISO, microseconds: text order is time order)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def index_predictions(config: Config, frame: pd.DataFrame, *, source: str, batch: str | None = None, run_id: str | None = None,
                      wait_s: float = WAIT_S) -> int:
    """Index predictions so feedback can name them; return how many were new (already indexed ids are left as they are).

    Parameters
    ----------
    config : Config
        The project (its store, ``model.task``, ``serving.threshold``).
    frame : pandas.DataFrame
        Columns ``prediction_id``, ``score``, ``model_version``; optional ``entity_id``, ``confidence``, ``set_size``,
        ``uncertainty``, ``predicted_at`` (default: now). Binary task without them: ``confidence`` = max(score, 1 - score)
        and ``uncertainty`` = 1 - |score - threshold| / max(threshold, 1 - threshold) (1 at the decision threshold, 0 at
        a certain score), so the review queue has a near-threshold ranking; regression leaves them empty.
    source : {"batch", "online"}
        Where the predictions were made.
    batch, run_id : str, optional
        The batch name (what ``feedback queue --batch`` selects) and the scoring run; without ``batch``, a ``batch``
        column of the frame names each row's (the prediction log's ``online-<day>``).
    wait_s : float
        Busy timeout; the prediction log passes a short one so indexing never holds up its flushes.

    Raises
    ------
    DataError
        A required column is missing or a prediction id is empty.
    """
    if source not in SOURCES:
        raise ParameterError(f"source={source!r}: must be one of {', '.join(SOURCES)}.")
    missing = [c for c in ("prediction_id", "score", "model_version") if c not in frame]
    if missing:
        raise DataError(f"predictions to index lack column(s) {', '.join(missing)} (found {', '.join(map(str, frame.columns[:20]))}). "
                        "Fix: pass the scored frame with prediction_id, score and model_version.")
    rows = list(zip(*_index_columns(config, frame), strict=True))
    with transaction(connect(config, wait_s=wait_s)) as conn:
        before = conn.total_changes
        batches = frame["batch"].astype(str).tolist() if batch is None and "batch" in frame else [batch] * len(rows)
        conn.executemany("INSERT OR IGNORE INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         ((pid, source, name, run_id, *rest) for (pid, *rest), name in zip(rows, batches, strict=True)))
        return conn.total_changes - before


def _index_columns(config: Config, frame: pd.DataFrame) -> list[list[Any]]:
    """The predictions table's columns (from prediction_id on, source/batch/run left out) as lists of SQL values."""
    import numpy as np
    import pandas as pd

    ids = frame["prediction_id"]
    if ids.isna().any() or (ids.astype(str).str.strip() == "").any():
        raise DataError(f"predictions to index: {int(ids.isna().sum() + (ids.astype(str).str.strip() == '').sum())} empty prediction id(s). "
                        "Fix: give every scored row its prediction_id.")
    score = frame["score"].to_numpy(dtype=float)
    binary = config.model.task == "binary"
    t = config.serving.threshold

    def numbers(name: str, default: np.ndarray | None = None) -> list[Any]:
        values = frame[name].to_numpy(dtype=float) if name in frame else default
        return [None] * len(frame) if values is None else [None if math.isnan(v) else v for v in values.tolist()]

    def texts(name: str) -> list[Any]:  # an integer id read as float (a column with a gap) keeps its integer spelling
        return [None if pd.isna(v) else str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in frame[name].tolist()] \
            if name in frame else [None] * len(frame)

    stamp = now()
    when = [stamp] * len(frame)
    if "predicted_at" in frame:
        parsed = pd.to_datetime(frame["predicted_at"], utc=True, errors="coerce", format="mixed")
        when = [stamp if pd.isna(v) else v.isoformat(timespec="microseconds") for v in parsed.tolist()]
    sizes = [None if v is None else int(v) for v in numbers("set_size")]
    return [ids.astype(str).tolist(), texts("model_version"), texts("entity_id"), numbers("score"),
            numbers("confidence", np.maximum(score, 1.0 - score) if binary else None), sizes,
            numbers("uncertainty", 1.0 - np.abs(score - t) / max(t, 1.0 - t) if binary else None), when]


def import_file(config: Config, path: str | Path, *, actor: str | None = None) -> dict[str, Any]:
    """Store the feedback of a CSV, Parquet or JSON-lines file, all rows or none.

    Columns: ``prediction_id``; ``label`` and/or ``rating`` (1..5); optional ``given_by`` (default: ``actor``),
    ``given_at`` (ISO time, default now), ``mode`` (``explicit``, the default, or ``implicit``). Other columns (the
    review queue's score, reason…) are ignored. A row with a label and a rating stores two feedback rows.

    Parameters
    ----------
    config : Config
        The project: its store and ``model.task`` (what a label must be).
    path : str or Path
        The file (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``, ``.jsonl``, ``.ndjson``, ``.json`` as JSON lines).
    actor : str, optional
        Who gave feedback that names nobody (default: the audit actor, ``WORKBENCH_USER`` or the OS user).

    Returns
    -------
    dict
        ``stored`` (feedback rows), ``labels``, ``ratings``, ``rows`` (file rows), ``file``, ``sha256``.

    Raises
    ------
    FeedbackError
        (a :class:`~workbench.exceptions.DataError`) every problem of the file, by row (1 = the first row after the
        header) and column, with the fix; nothing was stored.
    DataError
        The file is unreadable, empty, or lacks the ``prediction_id`` column or both ``label`` and ``rating``.
    """
    import hashlib

    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise DataError(f"{path}: file not found. Fix: check the path (feedback files are CSV, Parquet or JSON lines).")
    data = path.read_bytes()  # read once: the sha256 recorded is of the bytes stored
    digest = hashlib.sha256(data).hexdigest()
    items = read_rows(path, io.BytesIO(data))
    return _store(config, items, actor=actor or audit.actor(), source=f"{path} sha256:{digest}", where=str(path), first=1,
                  subject=str(path), details={"file": str(path), "sha256": digest})


def record(config: Config, items: Any, *, actor: str, source: str = "api") -> dict[str, Any]:
    """Store feedback sent to the service (``POST /feedback``): checked and stored as :func:`import_file` does, all or nothing.

    Parameters
    ----------
    config : Config
        The project.
    items : dict or list
        One item, a list of items, or ``{"feedback": [...]}``; each item has the columns of :func:`import_file`.
    actor : str
        Who gave feedback that names nobody.
    source : str
        Recorded as each row's source and in the audit event.

    Raises
    ------
    FeedbackError
        Every problem, by item (0 = the first) and field; nothing was stored.
    """
    if isinstance(items, dict) and set(items) == {"feedback"}:
        items = items["feedback"]
    items = [items] if isinstance(items, dict) else items
    if not isinstance(items, list) or not items:
        raise feedback_error("the request", [Problem(0, "body", "no feedback items", 'send one item, a list of items or {"feedback": [...]}')],
                             row_word="item")
    return _store(config, items, actor=actor, source=source, where="the request", first=0, subject=source, details={"file": None,
                                                                                                                    "sha256": None})


def _store(config: Config, items: Sequence[Any], *, actor: str, source: str, where: str, first: int, subject: str,
           details: dict[str, Any]) -> dict[str, Any]:
    """Check ``items`` whole, then insert their feedback and write the audit event in one transaction."""
    row_word = "row" if first else "item"
    rows, problems, ids = check_rows(items, task=config.model.task, actor=actor, first=first)
    with transaction(connect(config)) as conn:
        problems = sorted(problems + check_stored(conn, rows, ids, chunk=_CHUNK), key=lambda p: p.row)
        if problems:
            raise feedback_error(where, problems, row_word=row_word)
        recorded = now()
        conn.executemany("INSERT INTO feedback (prediction_id, kind, label, rating, given_by, given_at, mode, source, recorded_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [(r.prediction_id, r.kind, r.label, r.rating, r.given_by, r.given_at, r.mode, source, recorded) for r in rows])
        out = {"stored": len(rows), "labels": sum(r.kind == "label" for r in rows), "ratings": sum(r.kind == "rating" for r in rows),
               "rows": len(items)}
        audit.record(config.store, "feedback", subject, project=config.project, **out, **details,
                     given_by=sorted({r.given_by for r in rows})[:20])
    return out | details


def labels_for(config: Config, prediction_ids: Sequence[str] | None = None, batch: str | None = None) -> pd.DataFrame:
    """The latest label per prediction, with the review queue's propensity and reason when it was drawn by the queue.

    Parameters
    ----------
    config : Config
        The project.
    prediction_ids : sequence of str, optional
        Only these predictions.
    batch : str, optional
        Only this batch.

    Returns
    -------
    pandas.DataFrame
        ``prediction_id``, ``batch``, ``source``, ``entity_id``, ``model_version``, ``score``, ``confidence``, ``label``,
        ``given_by``, ``given_at``, ``mode``, ``reason`` (``uncertain``/``random``; None when self-selected), ``round_id``,
        ``propensity`` (the probability the queue drew it: weight by its inverse; NaN when self-selected, so not usable
        for an unbiased estimate). A queue round drawn after another that covers the same batch turns the earlier round's
        draws into a census (propensity 1), since their labels were known when the later round drew from the rest
        (see :mod:`workbench.governance.review_queue`).
    """
    import pandas as pd

    conn = connect(config)
    try:
        where, params = ["f.kind = 'label'"], []
        if batch is not None:
            where.append("p.batch = ?")
            params.append(batch)
        if prediction_ids is not None:
            conn.execute("CREATE TEMP TABLE wanted (prediction_id TEXT PRIMARY KEY)")
            conn.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", ((str(p),) for p in prediction_ids))
            where.append("p.prediction_id IN (SELECT prediction_id FROM wanted)")
        frame = pd.read_sql_query(
            "SELECT * FROM (SELECT p.prediction_id, p.batch, p.source, p.entity_id, p.model_version, p.score, p.confidence, f.label, "
            "f.given_by, f.given_at, f.mode, q.reason, q.round_id, CASE WHEN EXISTS (SELECT 1 FROM rounds later JOIN rounds r "
            "ON r.round_id = q.round_id WHERE later.rowid > r.rowid AND (later.batch IS NULL OR later.batch = p.batch)) "
            "THEN 1.0 ELSE q.propensity END AS propensity, "
            "ROW_NUMBER() OVER (PARTITION BY f.prediction_id ORDER BY f.given_at DESC, f.id DESC) AS latest "
            "FROM feedback f JOIN predictions p ON p.prediction_id = f.prediction_id LEFT JOIN queue q ON q.prediction_id = f.prediction_id "
            f"WHERE {' AND '.join(where)}) WHERE latest = 1 ORDER BY prediction_id", conn, params=params)
    finally:
        conn.close()
    return frame.drop(columns="latest").astype({"propensity": float})


def status(config: Config) -> pd.DataFrame:
    """Per batch: predictions indexed, labelled, rated, queued, and queued still without a label (``open``)."""
    import pandas as pd

    conn = connect(config)
    try:
        return pd.read_sql_query(
            "SELECT p.batch, p.source, COUNT(*) AS predictions, SUM(l.prediction_id IS NOT NULL) AS labelled, "
            "SUM(r.prediction_id IS NOT NULL) AS rated, SUM(q.prediction_id IS NOT NULL) AS queued, "
            "SUM(q.prediction_id IS NOT NULL AND l.prediction_id IS NULL) AS open FROM predictions p "
            "LEFT JOIN (SELECT DISTINCT prediction_id FROM feedback WHERE kind = 'label') l ON l.prediction_id = p.prediction_id "
            "LEFT JOIN (SELECT DISTINCT prediction_id FROM feedback WHERE kind = 'rating') r ON r.prediction_id = p.prediction_id "
            "LEFT JOIN queue q ON q.prediction_id = p.prediction_id GROUP BY p.batch, p.source ORDER BY p.batch", conn)
    finally:
        conn.close()
