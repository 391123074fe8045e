"""The review queue: which predictions a person should label next, drawn so estimates from their labels stay unbiased.

**Why a random share.** Labels asked for only where the model is unsure (near the decision threshold) tell a lot
about the model's hard cases and nothing unbiased about the rest: accuracy measured on them is far below the batch's,
and no reweighting can fix it, because every confident prediction had probability 0 of being reviewed (no
*positivity*). So each round is two strata:

- **uncertain** — the ``(1 − c)·budget`` unlabelled predictions of the pool with the highest ``uncertainty``
  (ties by prediction id, unknown uncertainty never): every one of them is reviewed, a census, propensity 1;
- **random** — ``c·budget`` (rounded up, at least 1; ``c`` = ``feedback.control_share`` ≥ 0.1) drawn uniformly
  without replacement from the *rest* of the pool, each with propensity ``n_random / (pool − n_uncertain)``.

Every prediction in the pool then had a known, positive probability of review, so the Horvitz–Thompson estimator —
each reviewed prediction weighted by ``1 / propensity`` — gives unbiased totals (errors, positives, losses) for the
pool and for any part of it fixed in advance (one batch, one segment); that is what
:func:`workbench.analyses.estimation.ipw_metrics` computes from :func:`workbench.governance.feedback.labels_for`.
Feedback nobody asked for (a customer's complaint) has no propensity: it is kept, but it is self-selected and left
out of weighted estimates.

**The pool** is every indexed prediction (of one batch, with ``--batch``) not queued in an earlier round. Predictions
that already carry a self-reported label stay in it (leaving them out would make the random stratum a sample of the
*un*-reported ones, biased in the very way self-selection is); they are not picked as uncertain (their label is known,
a reviewer's time is not spent on them) and, when the random stratum draws one, its label is used and nobody is asked.

**Later rounds.** A round draws from what earlier rounds left, so once a later round covers a batch the earlier
rounds' draws in it are a census of the part removed from the pool: :func:`~workbench.governance.feedback.labels_for`
reports them with propensity 1 and the latest round's draws with theirs, which keeps the combined estimate unbiased.

The estimate assumes the reviewers label what they are given (a queued item left unlabelled is missing at random
within its stratum) and that a batch is complete before it is queued (predictions indexed after a round were not
in its pool).
"""

from __future__ import annotations

import math
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from workbench.exceptions import DataError, ParameterError
from workbench.governance import audit, feedback

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config

COLUMNS = ["prediction_id", "batch", "entity_id", "score", "confidence", "reason", "propensity", "labelled"]
MIN_CONTROL_SHARE = 0.1


def shares(budget: int, control_share: float, *, pool: int, candidates: int) -> tuple[int, int]:
    """``(n_uncertain, n_random)`` for a round: the random stratum gets ``ceil(c·budget)`` (at least 1), the uncertain one the
    rest while it has unlabelled candidates with a known uncertainty; a pool smaller than the budget is taken whole."""
    wanted_random = max(1, math.ceil(round(control_share * budget, 9)))  # round: 0.1 * 30 is 3.0000000000000004
    uncertain = max(0, min(budget - wanted_random, candidates, pool))
    return uncertain, min(budget - uncertain, pool - uncertain)


def propose(config: Config, *, budget: int, batch: str | None = None, control_share: float | None = None, seed: int | None = None,
            actor: str | None = None) -> pd.DataFrame:
    """Draw a review round (see the module docstring), record it (``queue``, ``rounds``, the audit trail) and return it.

    Parameters
    ----------
    config : Config
        The project; ``feedback.control_share`` is the random share unless ``control_share`` is given.
    budget : int
        Predictions to draw (1 or more).
    batch : str, optional
        Draw from this batch only (default: every indexed prediction).
    control_share : float, optional
        Share drawn uniformly at random, 0.1 to 1.
    seed : int, optional
        Seed of the random draw (default: a random one); recorded, so the round can be reproduced.
    actor : str, optional
        Who queued it (default: the audit actor).

    Returns
    -------
    pandas.DataFrame
        One row per drawn prediction: ``prediction_id``, ``batch``, ``entity_id``, ``score``, ``confidence``, ``reason``
        (``uncertain`` or ``random``), ``propensity``, ``labelled`` (a label is already stored: nobody needs to review it);
        ``attrs`` holds ``round_id``, ``pool`` and ``seed``. Empty (and nothing recorded) when the pool is empty.

    Raises
    ------
    ParameterError
        ``budget`` below 1 or ``control_share`` outside 0.1..1.
    DataError
        ``batch`` names no indexed prediction.
    """
    import numpy as np
    import pandas as pd

    share = config.feedback.control_share if control_share is None else control_share
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ParameterError(f"budget={budget!r}: must be a whole number of predictions, 1 or more. Fix: pass e.g. --budget 50.")
    if not MIN_CONTROL_SHARE <= share <= 1.0:
        raise ParameterError(f"control_share={share!r}: must be between {MIN_CONTROL_SHARE} and 1 (below {MIN_CONTROL_SHARE:.0%} the "
                             "random stratum is too small for unbiased estimates). Fix: pass e.g. --control-share 0.2.")
    seed = secrets.randbits(32) if seed is None else int(seed)
    actor = actor or audit.actor()
    with feedback.transaction(feedback.connect(config)) as conn:
        pool = pd.read_sql_query(
            "SELECT p.prediction_id, p.batch, p.entity_id, p.score, p.confidence, p.uncertainty, "
            "EXISTS (SELECT 1 FROM feedback f WHERE f.prediction_id = p.prediction_id AND f.kind = 'label') AS labelled "
            "FROM predictions p WHERE (? IS NULL OR p.batch = ?) "
            "AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.prediction_id = p.prediction_id) ORDER BY p.prediction_id",
            conn, params=[batch, batch]).astype({"labelled": bool, "score": float, "confidence": float, "uncertainty": float})
        if pool.empty:
            _refuse_unknown_batch(conn, batch)
            return pd.DataFrame(columns=COLUMNS)
        candidates = pool[~pool["labelled"] & pool["uncertainty"].notna()]
        n_uncertain, n_random = shares(budget, share, pool=len(pool), candidates=len(candidates))
        # a stable sort on (uncertainty desc, prediction_id): the uncertain stratum is a fixed rule of the pool, a census
        uncertain = candidates.sort_values(["uncertainty", "prediction_id"], ascending=[False, True], kind="stable").head(n_uncertain)
        rest = pool.drop(index=uncertain.index)
        drawn = rest.iloc[np.sort(np.random.default_rng(seed).choice(len(rest), size=n_random, replace=False))]
        picked = pd.concat([uncertain.assign(reason="uncertain", propensity=1.0),
                            drawn.assign(reason="random", propensity=n_random / len(rest) if len(rest) else 1.0)], ignore_index=True)
        round_id = _record(conn, config, picked, batch=batch, budget=budget, share=share, seed=seed, pool=len(pool), actor=actor)
    out = picked[COLUMNS].reset_index(drop=True)
    out.attrs.update(round_id=round_id, pool=len(pool), seed=seed)
    return out


def _refuse_unknown_batch(conn: sqlite3.Connection, batch: str | None) -> None:
    """An empty pool because the batch was never indexed is a mistake (a typo), not "nothing to review"."""
    if batch is None or conn.execute("SELECT 1 FROM predictions WHERE batch = ? LIMIT 1", [batch]).fetchone():
        return
    names = [r[0] for r in conn.execute("SELECT DISTINCT batch FROM predictions WHERE batch IS NOT NULL ORDER BY batch LIMIT 21")]
    known = ", ".join(names[:20]) + (" …" if len(names) > 20 else "") if names else "none yet"
    raise DataError(f"batch {batch!r} has no indexed predictions (indexed batches: {known}). "
                    "Fix: pick one of those, or score the batch first (`workbench monitor --batch FILE`).")


def _record(conn: sqlite3.Connection, config: Config, picked: pd.DataFrame, *, batch: str | None, budget: int, share: float, seed: int,
            pool: int, actor: str) -> str:
    """Insert the round and its draws, then audit it (inside the caller's transaction: an audit failure stores nothing)."""
    when = feedback.now()
    round_id = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    counts = picked["reason"].value_counts()
    n_uncertain, n_random = int(counts.get("uncertain", 0)), int(counts.get("random", 0))
    conn.execute("INSERT INTO rounds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (round_id, batch, budget, share, seed, pool, n_uncertain, n_random, when, actor))
    conn.executemany("INSERT INTO queue VALUES (?, ?, ?, ?, ?, ?)",
                     [(pid, round_id, reason, float(p), when, actor)
                      for pid, reason, p in zip(picked["prediction_id"], picked["reason"], picked["propensity"], strict=True)])
    random_p = float(picked.loc[picked["reason"] == "random", "propensity"].iloc[0]) if n_random else None
    audit.record(config.store, "feedback_queue", config.project, round_id=round_id, batch=batch, budget=budget, control_share=share,
                 seed=seed, pool=pool, uncertain=n_uncertain, random=n_random, random_propensity=random_p,
                 already_labelled=int(picked["labelled"].sum()), queued_by=actor)
    return round_id


def open_items(config: Config, batch: str | None = None) -> int:
    """Queued predictions (of ``batch``, or all) that have no label yet: the reviewers' backlog."""
    conn = feedback.connect(config)
    try:
        return int(conn.execute(
            "SELECT COUNT(*) FROM queue q JOIN predictions p ON p.prediction_id = q.prediction_id WHERE (? IS NULL OR p.batch = ?) "
            "AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.prediction_id = q.prediction_id AND f.kind = 'label')",
            [batch, batch]).fetchone()[0])
    finally:
        conn.close()
