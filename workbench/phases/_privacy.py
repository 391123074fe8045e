"""Private releases of the phases: the ledger spend, the record a report shows, and the private training features.

Every private release follows one order, so nothing is released without its spend and nothing is
half-written: the noisy table is computed in memory, its epsilon is spent from the dataset's
budget (:func:`workbench.governance.privacy_ledger.spend`, which refuses with
:class:`~workbench.governance.privacy_ledger.BudgetExceeded` and so fails the phase before
anything is written), then the release is written (atomically) with its record ``privacy.json``.
A dataset is a file: its name is for people, its sha256 is its identity in the ledger.

Private features (``privacy.features``) are released once per reference file and settings: the
noisy columns of every reference row are kept in ``<store>/privacy/features/`` and reused by the
train and baseline phases and by later runs on the same file, so one release spends its epsilon
once (reusing a released table is post-processing; drawing fresh noise would spend again).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import atomic_path, read_json, write_json
from workbench.analyses import privacy
from workbench.exceptions import DataError
from workbench.governance import privacy_ledger

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.data.dataset import Table

FEATURES = "features"  # the ledger's release name of private feature extraction


def release_epsilon(config: Config, release: str) -> float | None:
    """The epsilon ``privacy.releases.<release>`` spends, or None when that release is exact."""
    return config.privacy.releases.get(release) if config.privacy is not None else None


def spend(config: Config, *, dataset: str, sha256: str, release: str, epsilon: float, run_id: str | None) -> dict[str, Any]:
    """Spend ``epsilon`` of the dataset's budget (``privacy.datasets.<name>``, else ``privacy.budget``); BudgetExceeded when it would exceed it."""
    budget = config.privacy.budget_for(dataset)
    return privacy_ledger.spend(config.store, dataset=dataset, sha256=sha256, release=release, epsilon=float(epsilon),
                                budget_epsilon=budget.epsilon, budget_delta=budget.delta, run_id=run_id)


def record(release: str, parts: list[Any], spent: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """What ``privacy.json`` says about a release: its mechanisms, epsilon, sensitivity and scale per part, and the ledger spend."""
    return {"release": release, "private": True, "mechanism": parts[0].mechanism, "epsilon": sum(p.epsilon for p in parts),
            "delta": sum(p.delta for p in parts), "parts": [p.to_dict() for p in parts], "dataset": spent["dataset"],
            "sha256": spent["sha256"], "spent": spent["spent"], "remaining": spent["remaining"], "budget": spent["budget"], **extra}


def private_training(config: Config, table: Table, train: pd.DataFrame, *, run_id: str | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``train`` with the ``privacy.features`` columns replaced by their released noisy values, and the record of that release.

    The release covers every row of the reference file (clamped to ``privacy.bounds``, Laplace of
    scale ``len(columns) * (hi - lo) / epsilon`` per value, see
    :func:`workbench.analyses.privacy.privatize_features`); it is made on first use and spent in
    the ledger once, then read back by every phase and run that trains on the same file with the
    same settings. The holdout is not touched: the model is judged on the features it will score.
    """
    from filelock import FileLock

    feats = config.privacy.features
    columns, epsilon = list(feats.columns), float(feats.epsilon)
    bounds = {c: tuple(float(v) for v in config.privacy.bounds[c]) for c in columns}
    _check_columns(table, columns)
    # with a feature store the values come from its sources too: a changed source is a new release
    settings = {"sha256": table.sha256, "columns": columns, "bounds": bounds, "epsilon": epsilon,
                "feature_sources": (table.features or {}).get("sources", {})}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    folder = config.store / "privacy" / FEATURES
    folder.mkdir(parents=True, exist_ok=True)
    path, meta = folder / f"{table.sha256[:16]}-{key}.parquet", folder / f"{table.sha256[:16]}-{key}.json"
    with FileLock(str(folder / ".lock")):  # train and baseline prepare in parallel: the first releases, the other reuses
        if path.is_file() and meta.is_file():
            released, facts = _read_release(path, columns), {**read_json(meta), "reused": True}
        else:
            released, facts = _release(config, table, columns, bounds, epsilon, run_id, path, meta)
    rows = table.frame.index.get_indexer(train.index)
    private = train.assign(**{c: released[c].to_numpy()[rows] for c in columns})
    return private, facts


def _release(config: Config, table: Table, columns: list[str], bounds: dict[str, tuple[float, float]], epsilon: float,
             run_id: str | None, path: Path, meta: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Privatize the reference's columns, spend, then write the noisy columns and their record (in that order)."""
    released, release = privacy.privatize_features(table.frame[columns], columns=columns, bounds=bounds, epsilon=epsilon)
    spent = spend(config, dataset=table.path.name, sha256=table.sha256, release=FEATURES, epsilon=epsilon, run_id=run_id)
    facts = record(FEATURES, [release], spent, columns=columns, bounds={c: list(b) for c, b in bounds.items()}, rows=len(released),
                   released_by=run_id)
    with atomic_path(path) as tmp:
        released[columns].reset_index(drop=True).to_parquet(tmp, index=False)
    write_json(meta, facts)
    return released[columns].reset_index(drop=True), {**facts, "reused": False}


def _read_release(path: Path, columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.read_parquet(path, columns=columns)


def _check_columns(table: Table, columns: list[str]) -> None:
    """Every private feature must be a numeric column of the reference."""
    from pandas.api.types import is_numeric_dtype

    missing = [c for c in columns if c not in table.frame.columns]
    if missing:
        raise DataError(f"{table.path}: privacy.features.columns names {', '.join(missing)}, not columns of the reference. "
                        f"Fix: list columns of {table.path.name} (it has {', '.join(map(str, table.frame.columns))}).")
    text = [c for c in columns if not is_numeric_dtype(table.frame[c])]
    if text:
        raise DataError(f"{table.path}: privacy.features.columns {', '.join(text)} are not numeric (Laplace noise needs numbers). "
                        "Fix: list numeric columns only in privacy.features.columns.")


CELLS = ("tn", "fp", "fn", "tp")  # a row's confusion cell: one per row and attribute


def private_groups(table: pd.DataFrame, reference: pd.DataFrame, *, epsilon: float, min_group: int) -> tuple[pd.DataFrame, Any]:
    """A fairness group table rebuilt from Laplace-noised confusion counts; the release.

    Each group's four cells (TN, FP, FN, TP) are read back from ``table`` (exactly: the rates are
    ratios of them). The released groups are the reference's (``reference``, the holdout table),
    so which groups appear does not depend on the batch; a batch group the reference lacks is
    counted in one ``(other levels)`` group per attribute. A row falls in one cell of one group
    per attribute, so the cells of ``a`` attributes have L1 sensitivity ``a``: they are released
    in long form (one count per group and cell) by
    :func:`workbench.analyses.privacy.private_group_counts`. ``count``, ``positives``, the rates
    and ``status`` are recomputed from the noisy cells (post-processing); the bootstrap intervals
    are not (they would describe sampling, not the added noise): they are NaN, and ``noise_scale``
    is the Laplace scale of every cell.
    """
    import numpy as np
    import pandas as pd

    cells = _cells_of(table)
    keys = reference[["attribute", "group"]].astype(str).drop_duplicates()
    other = pd.DataFrame({"attribute": keys["attribute"].unique(), "group": privacy.OTHER})
    fixed = pd.concat([keys, other], ignore_index=True)
    known = pd.MultiIndex.from_frame(cells[["attribute", "group"]]).isin(pd.MultiIndex.from_frame(keys))
    cells.loc[~known, "group"] = privacy.OTHER
    cells = cells.groupby(["attribute", "group"], sort=False, as_index=False)[list(CELLS)].sum()
    cells = fixed.merge(cells, on=["attribute", "group"], how="left").fillna({c: 0.0 for c in CELLS})
    long = cells.melt(id_vars=["attribute", "group"], value_vars=list(CELLS), var_name="cell", value_name="n")
    noisy, release = privacy.private_group_counts(long, count_columns=["n"], epsilon=epsilon)
    wide = noisy.pivot_table(index=["attribute", "group"], columns="cell", values="n", sort=False).reset_index()
    out = fixed.merge(wide, on=["attribute", "group"], how="left")
    tn, fp, fn, tp = (out[c].to_numpy(dtype=float) for c in CELLS)
    n, pos = tn + fp + fn + tp, fn + tp
    div = lambda a, b: np.divide(a, b, out=np.full_like(a, np.nan), where=b > 0)  # noqa: E731
    acc = div(tp + tn, n)
    rates = {"selection_rate": div(fp + tp, n), "tpr": div(tp, tp + fn), "fpr": div(fp, fp + tn), "accuracy": acc, "error_rate": 1.0 - acc}
    out["count"], out["positives"] = n.astype("int64"), pos.astype("int64")
    for name, values in rates.items():
        out[name], out[f"{name}_low"], out[f"{name}_high"] = values, np.nan, np.nan
    out["status"] = np.where(n < min_group, f"excluded: fewer than {min_group} rows", np.where(pos == 0, "excluded: no positive labels", "ok"))
    out["epsilon"], out["noise_scale"] = release.epsilon, release.scale
    order = [c for c in table.columns if c in out.columns]
    return out[order + [c for c in (*CELLS, "epsilon", "noise_scale") if c not in order]], release


def _cells_of(table: pd.DataFrame) -> pd.DataFrame:
    """``attribute, group, tn, fp, fn, tp`` of a group table (TP = TPR x positives, FP = FPR x negatives, rounded: exact)."""
    import numpy as np

    n, pos = table["count"].to_numpy(dtype=float), table["positives"].to_numpy(dtype=float)
    neg = n - pos
    tp = np.where(pos > 0, np.rint(np.nan_to_num(table["tpr"].to_numpy(dtype=float)) * pos), 0.0)
    fp = np.where(neg > 0, np.rint(np.nan_to_num(table["fpr"].to_numpy(dtype=float)) * neg), 0.0)
    return table[["attribute", "group"]].astype(str).assign(tn=neg - fp, fp=fp, fn=pos - tp, tp=tp).reset_index(drop=True)
