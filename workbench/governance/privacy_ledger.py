"""The privacy budget ledger: every private release spends epsilon from its dataset's budget, in the audit trail.

A dataset is known by its content hash (sha256): the same bytes under another file name share
one budget, and a changed file is a new dataset. The name is for people. Spends compose by
addition (basic composition): a dataset released three times at epsilon 1 has spent 3.

:func:`spend` checks the sum of the dataset's earlier ``privacy.spend`` events against its
budget and appends the new one, both under the ledger's lock, so processes releasing at once
never spend past the budget together. The spend is recorded before the release is published:
a release that fails afterwards still counts (conservative). A refused release is audited
(``privacy.refused``) and raises :class:`BudgetExceeded` naming what remains.

The spending is read from the audit trail only after its hash chain verifies: an edited spend
record would otherwise hand budget back. A log that does not verify, or a store that cannot be
written, raises :class:`~workbench.exceptions.AuditError` and nothing is spent.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from workbench.exceptions import AuditError, BudgetExceeded, ParameterError
from workbench.governance import audit

__all__ = ["BudgetExceeded", "ledger", "spend"]

SPEND = "privacy.spend"
REFUSED = "privacy.refused"
TOLERANCE = 1e-9  # float sums of epsilons (0.1 + 0.2) must not refuse a release that exactly fills the budget


def spend(store: Path, *, dataset: str, sha256: str, release: str, epsilon: float, delta: float = 0.0, budget_epsilon: float,
          budget_delta: float = 0.0, run_id: str | None = None) -> dict[str, Any]:
    """Spend ``epsilon`` (and ``delta``) of a dataset's budget for one release, or refuse it.

    Parameters
    ----------
    store : Path
        The store folder (its audit trail holds the ledger).
    dataset : str
        The dataset's name for people (e.g. its file name).
    sha256 : str
        The dataset's content hash: its identity in the ledger.
    release : str
        What is released (e.g. ``drift``, ``fairness``).
    epsilon, delta : float
        What the release spends.
    budget_epsilon, budget_delta : float
        The dataset's total budget (``PrivacyConfig.budget_for``).
    run_id : str, optional
        The run that releases, recorded with the spend.

    Returns
    -------
    dict
        ``dataset, sha256, release, epsilon, delta, spent, spent_delta, remaining, budget``
        (``spent`` includes this release).

    Raises
    ------
    BudgetExceeded
        The release would take the dataset past its budget; it is audited as refused and nothing is spent.
    AuditError
        The audit trail does not verify (edited, records missing) or the store cannot be written; nothing is spent.
    """
    _check(epsilon=epsilon, delta=delta, budget_epsilon=budget_epsilon, budget_delta=budget_delta, sha256=sha256)
    epsilon, delta, budget_epsilon, budget_delta = float(epsilon), float(delta), float(budget_epsilon), float(budget_delta)
    try:
        with _lock(store):
            return _spend(store, dataset=dataset, sha256=sha256, release=release, epsilon=epsilon, delta=delta,
                          budget_epsilon=budget_epsilon, budget_delta=budget_delta, run_id=run_id)
    except OSError as exc:  # a read-only store, a full disk: the spend is not recorded, so nothing may be released
        raise AuditError(f"privacy ledger in {store}: cannot record the spend of release {release!r} on dataset {dataset} "
                         f"({type(exc).__name__}: {exc}); nothing was spent or released. Fix: make the store folder writable "
                         "(config key store) and run again.") from exc


def _spend(store: Path, *, dataset: str, sha256: str, release: str, epsilon: float, delta: float, budget_epsilon: float,
           budget_delta: float, run_id: str | None) -> dict[str, Any]:
    """The check and the spend of :func:`spend`; the caller holds the ledger's lock."""
    earlier = [e["details"] for e in _trusted(store, outcome="nothing was spent or released") if e["action"] == SPEND and e["details"].get("sha256") == sha256]
    spent = math.fsum(float(d["epsilon"]) for d in earlier)
    spent_delta = math.fsum(float(d.get("delta", 0.0)) for d in earlier)
    over_eps = spent + epsilon > budget_epsilon + TOLERANCE
    if over_eps or spent_delta + delta > budget_delta + TOLERANCE:
        audit.record(store, REFUSED, dataset, sha256=sha256, release=release, epsilon=epsilon, delta=delta, spent=spent,
                     spent_delta=spent_delta, budget_epsilon=budget_epsilon, budget_delta=budget_delta, run_id=run_id)
        raise BudgetExceeded(_refusal(dataset, sha256, release, len(earlier), *(
            ("epsilon", epsilon, spent, budget_epsilon) if over_eps else ("delta", delta, spent_delta, budget_delta))))
    audit.record(store, SPEND, dataset, sha256=sha256, release=release, epsilon=epsilon, delta=delta, spent=spent + epsilon,
                 spent_delta=spent_delta + delta, budget_epsilon=budget_epsilon, budget_delta=budget_delta, run_id=run_id)
    return {"dataset": dataset, "sha256": sha256, "release": release, "epsilon": epsilon, "delta": delta, "spent": spent + epsilon,
            "spent_delta": spent_delta + delta, "remaining": max(0.0, budget_epsilon - spent - epsilon), "budget": budget_epsilon}


def ledger(store: Path) -> list[dict[str, Any]]:
    """Per dataset (sha256), in order of first spend: what its private releases spent.

    Returns
    -------
    list of dict
        ``dataset`` (the latest name), ``sha256``, ``releases`` (count), ``epsilon_spent``,
        ``delta_spent``, ``budget_epsilon`` and ``budget_delta`` (as of the latest spend),
        ``refused`` (releases refused), ``last`` (time of the latest spend).
    """
    rows: dict[str, dict[str, Any]] = {}
    for event in _trusted(store, outcome="the spending it would show is unknown"):
        if event["action"] not in (SPEND, REFUSED):
            continue
        d = event["details"]
        row = rows.setdefault(d["sha256"], {"dataset": event["subject"], "sha256": d["sha256"], "releases": 0, "epsilons": [], "deltas": [],
                                            "budget_epsilon": d["budget_epsilon"], "budget_delta": d["budget_delta"], "refused": 0,
                                            "last": None})
        if event["action"] == REFUSED:
            row["refused"] += 1
            continue
        row["releases"] += 1
        row["epsilons"].append(float(d["epsilon"]))
        row["deltas"].append(float(d.get("delta", 0.0)))
        row.update(dataset=event["subject"], budget_epsilon=d["budget_epsilon"], budget_delta=d["budget_delta"], last=event["ts"])
    return [{"dataset": r["dataset"], "sha256": r["sha256"], "releases": r["releases"], "epsilon_spent": math.fsum(r.pop("epsilons")),
             "delta_spent": math.fsum(r.pop("deltas")), "budget_epsilon": r["budget_epsilon"], "budget_delta": r["budget_delta"],
             "refused": r["refused"], "last": r["last"]} for r in rows.values()]


def _trusted(store: Path, *, outcome: str) -> list[dict[str, Any]]:
    """The audit trail's events once its hash chain checks out: spends are read from it, so an edited one must not count.

    Without the check, a ``privacy.spend`` record edited to a smaller epsilon (same size, so the
    head file still matches) would give budget back. A torn tail (a crash in the middle of an
    append) leaves the complete records trustworthy: they are read, and appending refuses
    until ``workbench audit repair``.
    """
    # under the audit trail's own lock: other processes append (data access) at any time, and a log read before a
    # head written after looks like deleted records. Released before the spend is appended (audit.record takes it).
    if not audit.log_path(store).exists() and not audit.head_path(store).exists():  # no trail, no spend; reading creates no store
        return []
    lock = audit._lock(store)  # noqa: SLF001 - the ledger is the audit trail's reader in the same package
    try:
        lock.acquire()
    except OSError:  # a store this process cannot write (a viewer's `privacy budget`): it cannot spend either, so read as is
        lock = None
    try:
        check = audit.verify(store)
        events = audit.read(store) if check.ok or check.torn else []
    finally:
        if lock is not None:
            lock.release()
    if not check.ok and not check.torn:
        raise AuditError(f"{audit.log_path(store)}: {check.problem}. The privacy ledger reads the budget spent from this log, "
                         f"so it cannot be trusted; {outcome}. Fix: run `workbench audit verify`; restore the log from a backup.")
    for number, event in enumerate(events, start=1):
        d = event.get("details")
        if event.get("action") in (SPEND, REFUSED) and not (isinstance(d, dict) and {"sha256", "epsilon", "budget_epsilon", "budget_delta"} <= d.keys()):
            raise AuditError(f"{audit.log_path(store)}: record {number} ({event.get('action')} {event.get('subject')}) lacks the "
                             "ledger's fields (sha256, epsilon, budget). Fix: run `workbench audit verify`; restore the log from a backup.")
    return events


def _refusal(dataset: str, sha256: str, release: str, releases: int, what: str, asked: float, spent: float, budget: float) -> str:
    remaining = max(0.0, budget - spent)
    return (f"privacy budget of dataset {dataset} (sha256 {sha256[:12]}) exceeded: release {release!r} asks {what} {asked:.6g}, "
            f"{remaining:.6g} of {budget:.6g} remain ({spent:.6g} spent by {releases} release(s)); nothing was released. "
            f"Fix: raise privacy.budget.{what} (or privacy.datasets.{dataset}.{what}) in the config, or release with a smaller {what}.")


def _check(**values: Any) -> None:
    sha = values.pop("sha256")
    if not isinstance(sha, str) or not sha.strip():
        raise ParameterError(f"The 'sha256' parameter of spend must be the dataset's content hash. Got {sha!r} instead.")
    for name, value in values.items():
        positive = name in ("epsilon", "budget_epsilon")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise ParameterError(f"The {name!r} parameter of spend must be a finite number {'> 0' if positive else '>= 0'}. Got {value!r} instead.")


def _lock(store: Path):  # noqa: ANN202
    """The ledger's lock: the budget check and the spend it allows are one step for every process."""
    from filelock import FileLock

    path = Path(store) / "privacy_ledger.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path))
