"""The one routing rule, for a batch file and for an online request alike.

1. **Champion.** Every row is scored by the champion (loaded and predicting through its circuit
   breaker). If it cannot serve — not loaded, a failed hash check, an error while predicting, or
   its breaker open — the **baseline** scores every row instead and the reason is returned
   (``fallback``); only when the baseline fails too is the request or batch refused.
2. **Canary.** With ``canary.share`` above 0, a challenger registered and no fallback, the rows
   :func:`workbench.governance.canary.route` picks (deterministic by id: a customer always lands on the
   same arm) are served the challenger's score; the champion's score of every row is kept
   (``champion_scores``) so the arms can be compared on the same rows once labels arrive. A failing
   challenger never fails anything: its rows keep the champion's score and the reason is returned.

3. **Features unavailable.** Rows whose features neither feature store could supply
   (:mod:`workbench.serving.features`) skip the champion: the baseline scores them with what the record
   carried (``skip_champion`` gives the reason), and :func:`combine` puts them back among the other rows.

Missing feature columns are the input's fault (:class:`DataError`): they never count against a
breaker, and when the baseline lacks them too the error names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.analyses.estimation import annotate as annotate_rows
from workbench.exceptions import DataError, ServingError
from workbench.governance import canary
from workbench.serving import resilience
from workbench.serving.metrics import fallback_reason

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from workbench.config import Config
    from workbench.serving.models import ModelSource, Served


@dataclass
class Routed:
    """Scores and, per row, who served them; plus what happened (fallback, canary)."""

    scores: np.ndarray
    champion_scores: np.ndarray
    role: np.ndarray
    version: np.ndarray
    semver: np.ndarray
    arm: np.ndarray
    model: dict[str, Any]
    fallback: dict[str, Any]
    canary: dict[str, Any] = field(default_factory=dict)
    reasons: np.ndarray | None = None  # per row: why the baseline scored it (None: it did not); set by combine()

    def reason(self, i: int) -> str | None:
        """Why the baseline scored row ``i`` (None when it did not)."""
        return self.reasons[i] if self.reasons is not None else self.fallback["reason"]

    def counts(self) -> dict[str, dict[Any, int]]:
        """Predictions per (version, role), fallbacks per reason label and rows per canary arm (the metrics)."""
        out: dict[str, dict[Any, int]] = {"predictions": {}, "fallbacks": {}, "canary": {}}
        for v, r, a in zip(self.version.tolist(), self.role.tolist(), self.arm.tolist(), strict=True):
            out["predictions"][(v, r)] = out["predictions"].get((v, r), 0) + 1
            out["canary"][a] = out["canary"].get(a, 0) + 1
        if self.reasons is not None:
            for reason in self.reasons.tolist():
                if reason:
                    label = fallback_reason(reason)
                    out["fallbacks"][label] = out["fallbacks"].get(label, 0) + 1
        elif self.fallback["used"]:
            out["fallbacks"][fallback_reason(self.fallback["reason"])] = len(self.scores)
        return out


def route(frame: pd.DataFrame, source: ModelSource, config: Config, *, keys: pd.Series | None = None, routed_by: str | None = None,
          skip_champion: str | None = None) -> Routed:
    """Score ``frame`` by the routing rule (module docstring); ``keys`` are the ids the canary routes by (else row positions).

    ``skip_champion``: why the champion must not score these rows (rule 3); the baseline does, with that reason.
    """
    import numpy as np

    n = len(frame)
    try:
        if skip_champion is not None:
            raise _Skipped(skip_champion)
        served, scores = _score(source, "champion", frame)
        fallback: dict[str, Any] = {"used": False, "reason": None}
    except Exception as exc:  # any failure of the champion (tampered file, open breaker, bug) triggers the fallback
        reason = skip_champion if isinstance(exc, _Skipped) else describe("champion", exc)
        try:
            served, scores = _score(source, "baseline", frame)
        except Exception as exc2:
            raise ServingError(f"{reason}; the baseline fallback failed too: {type(exc2).__name__}: {exc2}") from exc2
        fallback = {"used": True, "reason": reason}
    out = Routed(scores=scores, champion_scores=scores.copy() if not fallback["used"] else np.full(n, np.nan),
                 role=np.full(n, served.role, dtype=object), version=np.full(n, served.version, dtype=object),
                 semver=np.full(n, served.semver, dtype=object), arm=np.full(n, canary.CHAMPION, dtype=object),
                 model={"version": served.version, "semver": served.semver, "role": served.role}, fallback=fallback)
    out.canary = _canary(frame, source, config, out, keys, routed_by)
    return out


class _Skipped(Exception):
    """The champion is not asked (rule 3)."""


def combine(parts: list[tuple[list[int], Routed]], n: int) -> Routed:
    """One :class:`Routed` for ``n`` rows scored in several passes: ``parts`` are (row positions, their Routed), the first
    part the main pass (its model, fallback and canary describe the whole); each row keeps its own fallback reason."""
    import numpy as np

    first = parts[0][1]
    out = Routed(scores=np.full(n, np.nan), champion_scores=np.full(n, np.nan), role=np.empty(n, dtype=object),
                 version=np.empty(n, dtype=object), semver=np.empty(n, dtype=object), arm=np.empty(n, dtype=object),
                 model=first.model, fallback=first.fallback, canary=first.canary, reasons=np.full(n, None, dtype=object))
    for rows, part in parts:
        at = np.asarray(rows, dtype=int)
        for name in ("scores", "champion_scores", "role", "version", "semver", "arm"):
            getattr(out, name)[at] = getattr(part, name)
        out.reasons[at] = part.reasons if part.reasons is not None else part.fallback["reason"]
    return out


def annotate(routed: Routed, source: ModelSource, config: Config) -> dict[str, np.ndarray]:
    """Each row's calibrated confidence and conformal set or interval, from the record of the version that scored it.

    See :func:`workbench.analyses.estimation.annotate`; rows of a version without a record get the raw score.
    """
    import numpy as np

    task, threshold = config.model.task, config.serving.threshold
    out: dict[str, np.ndarray] = {}
    for version in dict.fromkeys(routed.version.tolist()):
        rows = routed.version == version
        part = annotate_rows(routed.scores[rows], source.confidence_of(version), task=task, threshold=threshold)
        for name, values in part.items():
            if name not in out:
                out[name] = np.empty(len(routed.scores), dtype=values.dtype)
            out[name][rows] = values
    return out


def describe(role: str, exc: BaseException) -> str:
    """One line saying why ``role`` did not serve."""
    if isinstance(exc, resilience.CircuitBreakerError):
        cause = exc.__context__
        if cause is not None and not isinstance(cause, resilience.CircuitBreakerError):  # this call tripped it
            return f"{role} failed: {type(cause).__name__}: {cause}; circuit breaker opened"
        return f"{role} skipped: circuit breaker open (it lets a trial call through after resilience.reset_timeout_s)"
    return f"{role} failed: {type(exc).__name__}: {exc}"


def _score(source: ModelSource, role: str, frame: pd.DataFrame) -> tuple[Served, np.ndarray]:
    import numpy as np

    served = source.get(role)
    missing = [c for c in served.schema.features if c not in frame.columns]
    if missing:
        raise DataError(f"input lacks feature column(s) {', '.join(missing)} that model v{served.version} needs")
    return served, np.asarray(source.predict(served, frame), dtype=float)


def _canary(frame: pd.DataFrame, source: ModelSource, config: Config, out: Routed, keys: pd.Series | None,
            routed_by: str | None) -> dict[str, Any]:
    import pandas as pd

    share = config.canary.share
    if out.fallback["used"]:
        return {"used": False, "reason": "the baseline scored the batch"}
    if share <= 0:
        return {"used": False, "reason": "canary.share is 0"}
    challenger = source.version_of("challenger")  # read once: an alias move mid-pass must not change the answer
    if challenger is None:
        return {"used": False, "reason": "no challenger registered"}
    keys = keys.reset_index(drop=True) if keys is not None else pd.Series(range(len(frame)))
    mask = canary.route(keys, share, salt=config.project)
    info = {"used": True, "share": share, "routed_by": routed_by or "row position", "rows": int(mask.sum()), "reason": None}
    if not mask.any():
        return info | {"version": challenger[0], "semver": challenger[1]}
    try:
        served, scores = _score(source, "challenger", frame[mask])
    except Exception as exc:  # a broken challenger never fails the batch: the champion keeps serving
        return {"used": False, "reason": describe("challenger", exc), "share": share}
    out.scores[mask] = scores
    out.role[mask], out.version[mask], out.semver[mask], out.arm[mask] = "challenger", served.version, served.semver, canary.CHALLENGER
    return info | {"version": served.version, "semver": served.semver}
