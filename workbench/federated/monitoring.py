"""Federated monitoring: drift and fairness of a batch spread over data sites, without pooling its rows.

The server sends the champion's drift profile (and the sensitive columns' known levels) to every
site (:func:`champion`, :func:`champion_to_arrays`); each site computes its statistics against it
(:func:`site_payload`) and sends numpy arrays and scalars only, as Flower's NumPy messages carry;
the server merges them (:func:`merge_payloads`) and decides (:func:`compare`) with the drift
phase's rule and the fairness phase's group metrics.

What a site sends, per profiled column: counts of values and missing values, and

* exact mode: **each numeric column's sorted values** (individual values, detached from their
  rows, but values): the merged result is the pooled one bit for bit. Use it between sites that
  may see each other's values;
* sketch mode: the count per profile bin (plus the sums of the values outside the reference
  range): the one to use across organisations;
* categorical level counts, and per group of each sensitive column (and their intersection) the
  four confusion counts TN, FP, FN, TP of the champion's decisions on the site's labelled rows.

With ``federated.dp_epsilon`` every site adds Laplace noise (OpenDP) to every count before
sending: its row count and ``k - 1`` histograms (one per column it has, one per fairness
attribute) each change by one count when one row is added or removed, so the release has L1
sensitivity ``k`` and each count gets noise of scale ``b = k / epsilon`` (variance ``2 b^2``). The
server adds the sites' counts, so a merged count carries every site's noise (``n_sites`` times the
variance), then clips negative counts to 0. Exact mode is refused with DP (sorted values cannot be
noised); levels and groups outside the reference's count as one ``"(other levels)"``, and the sums
beyond the reference range are not sent (the Wasserstein part there is left out).
"""

from __future__ import annotations

import glob
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench._io import atomic_path, write_json
from workbench.analyses import drift, fairness
from workbench.analyses.privacy import laplace
from workbench.config import PrivacyConfig
from workbench.data import sources
from workbench.data.dataset import Schema
from workbench.exceptions import ConfigError, DataError, ParameterError, PhaseError
from workbench.federated import _profile
from workbench.governance import privacy_ledger
from workbench.registry import estimators
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from workbench.config import Config

Arrays = list["np.ndarray"]
Scalars = dict[str, Any]
DRIFT_SHARE = 0.5  # as the drift phase: the dataset drifts when at least this share of its columns drifted
MIN_GROUP = 30  # as the fairness phase: smaller groups are reported but not judged
DP_BINS = _profile.DP_BINS  # sketch bins per numeric column under DP: every bin gets noise, so fewer, fuller bins
FEDERATED_FILE = "federated.json"
_PARTS = "wbmon.parts"  # scalar: JSON of how many arrays each part has, in the order the arrays come


@dataclass(frozen=True, eq=False)
class Champion:
    """What the sites compute against: the champion's drift profile and the sensitive columns' reference levels."""

    version: str
    profile: drift.ReferenceProfile
    sensitive: list[str]
    groups: dict[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class FederatedStats:
    """The sites' statistics merged: drift :class:`BatchStats`, fairness :class:`GroupCounts` (None: no site counted)."""

    drift: drift.BatchStats
    fairness: fairness.GroupCounts | None
    sites: list[dict[str, Any]]
    dp_epsilon: float | None = None
    noise_scale: float | None = None


@dataclass(frozen=True, eq=False)
class FederatedResult:
    """The drift decision and fairness tables of the merged statistics."""

    drift: drift.DriftResult
    groups: pd.DataFrame | None
    disparity: pd.DataFrame | None
    stats: FederatedStats
    fairness_status: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: verdict, sites, noise, fairness status."""
        failed = [] if self.disparity is None else self.disparity.loc[self.disparity["passed"].eq(False).fillna(False).astype(bool),
                                                                       "attribute"].astype(str).tolist()
        return {"drift": self.drift.to_dict()["dataset"], "sites": self.stats.sites, "mode": self.stats.drift.mode,
                "dp_epsilon": self.stats.dp_epsilon, "noise_scale": self.stats.noise_scale,
                "merged_variance_per_count": None if self.stats.noise_scale is None else
                sum(2 * x["noise_scale"] ** 2 for x in self.stats.sites),  # each site adds Laplace(b) noise: variance 2 b^2
                "fairness": {**self.fairness_status, "failed_attributes": failed}}


def champion(config: Config, *, mode: str = "exact", bins: int | None = None, alias: str = "champion") -> Champion:
    """The champion's drift profile (cached per version beside the drift phase's) and sensitive levels (server side).

    The profile is built on first use from the champion's registered training data, refused if
    its bytes changed since registration; ``groups`` are the sorted levels of each sensitive
    column there (the fixed groups of DP fairness counts). ``bins``: sketch bins per numeric
    column (default 1000, or 50 when ``federated.dp_epsilon`` is set: each bin gets noise).

    A champion trained across sites (``workbench federated train``) has no reference file: its
    sketch profile and sensitive levels were computed by the sites at training and stored with
    the version (:mod:`workbench.federated._profile`), with the bins chosen then. Asking for
    exact mode, or for other bins, is a :class:`ParameterError`.
    """
    import numpy as np
    from filelock import FileLock

    if mode not in ("exact", "sketch"):
        raise ParameterError(f"The 'mode' parameter of champion must be 'exact' or 'sketch'. Got {mode!r} instead.")
    mv = registry.alias_version(config, alias)
    if mv is None:
        raise PhaseError(f"model {config.project!r} has no {alias} version. Fix: run `workbench run` first.")
    tags = dict(mv.tags)
    if registry.federated_sites(tags) is not None:  # no reference file: the profile its sites computed at training
        fed = _profile.for_version(config, mv, mode=mode, bins=bins)
        return Champion(str(mv.version), fed.profile, [c for c in config.data.sensitive if c in fed.groups], fed.groups)
    bins = bins or (DP_BINS if config.federated.dp_epsilon is not None else 1000)
    schema = Schema.from_dict(json.loads(tags[registry.TAG + "schema"]))
    path = Path(tags.get(registry.TAG + "data_path", str(config.data.reference)))
    table = sources.read(config, path, purpose="federated monitoring profile")
    if table.sha256 != tags[registry.TAG + "data_sha256"]:
        raise PhaseError(f"{path}: the reference data changed since the champion was registered. "
                         "Fix: restore the file, or register a new champion trained on it.")
    # the drift phase's cache folder for its own (default) profiles, a folder of its own for other bins
    folder = config.store / "profiles" / config.project / f"v{mv.version}" / (mode if mode == "exact" or bins == 1000 else f"sketch-{bins}")
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder.parent / ".lock")):
        if not (folder / "profile.json").exists():
            numeric = [c for c in schema.features if c in schema.numeric]
            drift.build_profile(table.frame, numeric=numeric, categorical=[c for c in schema.features if c not in numeric],
                                mode=mode, bins=bins).save(folder)
    sensitive = [c for c in config.data.sensitive if c in table.frame.columns]
    groups = {c: np.unique(np.asarray(table.frame[c].dropna().unique())) for c in sensitive}
    return Champion(str(mv.version), drift.ReferenceProfile.load(folder), sensitive, groups)


def champion_to_arrays(champ: Champion) -> tuple[Arrays, Scalars]:
    """The champion as arrays and scalars for the sites; :func:`champion_from_arrays` rebuilds it exactly."""
    arrays, scalars = drift.profile_to_arrays(champ.profile)
    levels = [champ.groups[c] for c in champ.sensitive]
    scalars.update({"wbmon.version": champ.version, "wbmon.sensitive": json.dumps(champ.sensitive),
                    "wbmon.groups_text": json.dumps([lev.dtype == object for lev in levels]), _PARTS: json.dumps([len(arrays), len(levels)])})
    return [*arrays, *(lev.astype(str) if lev.dtype == object else lev for lev in levels)], scalars


def champion_from_arrays(arrays: Arrays, scalars: Scalars) -> Champion:
    """The :class:`Champion` :func:`champion_to_arrays` sent; :class:`DataError` when malformed."""
    try:
        n_profile, n_groups = json.loads(str(scalars[_PARTS]))
        sensitive, text = json.loads(str(scalars["wbmon.sensitive"])), json.loads(str(scalars["wbmon.groups_text"]))
        if n_profile + n_groups != len(arrays) or len(sensitive) != n_groups:
            raise ValueError(f"{len(arrays)} arrays for {n_profile} profile and {n_groups} group arrays")
        groups = {c: arrays[n_profile + i].astype(object) if text[i] else arrays[n_profile + i] for i, c in enumerate(sensitive)}
        version = str(scalars["wbmon.version"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"the champion sent by the server is malformed ({exc}). Fix: send what champion_to_arrays returns.") from exc
    return Champion(version, drift.profile_from_arrays(arrays[:n_profile], scalars), sensitive, groups)


def site_batch(config: Config, site: str, batch: str | Path, *, batches_only: bool = False) -> Path:
    """The batch file of ``site``: a file name (or stem) among ``sites.<site>.batches``, or (not ``batches_only``) a path to a file.

    A site process answering the server passes ``batches_only``: the server names a batch, the site
    decides which of its files that is (a path from the server could point at any file the site can read).
    """
    if site not in config.sites:
        raise ConfigError(f"{config.source}: no site {site!r} under 'sites'; the sites are: {', '.join(config.sites) or '(none)'}. "
                          "Fix: add it to sites: or pass one of these.")
    if batches_only and (str(batch) != Path(str(batch)).name or str(batch) in ("", ".", "..")):
        raise DataError(f"site {site!r}: batch {str(batch)!r} is a path, but a site reads only the files under sites.{site}.batches. "
                        f"Fix: pass --batch the file name (e.g. {Path(str(batch)).name!r}).")
    path = Path(batch).expanduser()
    path = path if path.is_absolute() else config.source.parent / path
    if not batches_only and path.is_file():
        return path.resolve()
    spec = config.sites[site].batches
    if not spec:
        raise ConfigError(f"{config.source}: key 'sites.{site}.batches' is not set, and {batch} is not a file. "
                          "Fix: point it at the site's folder or glob of batches.")
    found = [p for p in (Path(spec).iterdir() if Path(spec).is_dir() else map(Path, glob.glob(spec)))
             if p.is_file() and str(batch) in (p.name, p.stem, p.name.split(".")[0])]
    if len(found) != 1:
        raise DataError(f"site {site!r}: {'no' if not found else len(found)} batch file(s) named {str(batch)!r} under {spec}. "
                        "Fix: pass the file name of one of the site's batches (sites." + site + ".batches).")
    return found[0].resolve()


def site_payload(config: Config, site: str, batch: str | Path, champ: Champion, *, model: Any | None = None,
                 dp_epsilon: float | None = None, batches_only: bool = False) -> tuple[Arrays, Scalars]:
    """What one site sends: its batch's drift statistics and fairness counts against the champion, as arrays and scalars.

    Parameters
    ----------
    config : Config
        The project config (the site's entry under ``sites:``, thresholds, sensitive columns).
    site : str
        The site's name under ``sites:``.
    batch : str or Path
        A batch file name among the site's batches, or a path.
    champ : Champion
        From :func:`champion_from_arrays` (what the server sent).
    model : LoadedVersion, optional
        The champion (``workbench.registry.load(config, "champion")``) to score the site's labelled
        rows for the fairness counts; None: drift only.
    dp_epsilon : float, optional
        Laplace noise on every count at this epsilon (``federated.dp_epsilon``), spent from the
        batch's privacy budget first; sketch-mode profiles only.
    batches_only : bool
        Refuse a path: read only under ``sites.<site>.batches`` (what a site process answering the server does).

    Returns
    -------
    arrays, scalars
        Numeric and unicode arrays; scalars ``site``, ``batch``, ``sha256``, ``rows``, ``version``, ``profile_id``,
        ``dp_epsilon`` and ``noise_scale`` (0.0: none), ``fairness`` (counted, or why not), and the layouts.
    """
    if dp_epsilon is not None and champ.profile.mode == "exact":
        raise ParameterError("federated.dp_epsilon is set, but the drift profile is in exact mode, which ships each column's sorted "
                             "values: values cannot be noised. Fix: monitor in sketch mode (bin counts), or unset federated.dp_epsilon.")
    path = site_batch(config, site, batch, batches_only=batches_only)
    table = sources.read(config, path, purpose=f"federated monitoring at site {site}")
    frame, profile = table.frame, champ.profile
    stats = drift.batch_stats(frame, profile)
    # +/-inf per numeric column: missing here, but values if another site's text makes the pooled column text
    infinite = {n: _infinite(frame[n]) for n in profile.numeric if stats.columns[n].state == "present"}
    counts, status = _group_counts(config, frame, champ, model, domain=dp_epsilon is not None)
    meta: Scalars = {"site": site, "batch": path.name, "sha256": table.sha256, "version": champ.version,
                     "profile_id": profile.profile_id, "dp_epsilon": 0.0, "noise_scale": 0.0, "fairness": status}
    if dp_epsilon is not None:
        budget = (config.privacy or PrivacyConfig()).budget_for(path.name)
        privacy_ledger.spend(config.store, dataset=path.name, sha256=table.sha256, release=f"federated monitoring at site {site}",
                             epsilon=float(dp_epsilon), budget_epsilon=budget.epsilon, budget_delta=budget.delta)
        stats, counts, scale = _privatize(stats, counts, profile, float(dp_epsilon))
        infinite = {}
        meta.update(dp_epsilon=float(dp_epsilon), noise_scale=scale)
    arrays, scalars = drift.stats_to_arrays(stats)
    more, layout = fairness.counts_to_arrays(counts) if counts is not None else ([], {})
    parts = {"drift": len(arrays), "fairness": len(more)}
    arrays += more
    scalars.update(layout)
    scalars.update(meta, rows=int(stats.rows), **{"wbmon.infinite": json.dumps(infinite), _PARTS: json.dumps(parts)})
    return arrays, scalars


def merge_payloads(payloads: list[tuple[Arrays, Scalars]], champ: Champion) -> FederatedStats:
    """The sites' payloads merged: what the pooled rows would give (exactly so without DP).

    Raises :class:`ParameterError` when a payload was computed against another profile or model
    version, a site sent twice, or the sites mix noised and exact counts; :class:`DataError`
    when a payload is malformed or its counts do not add up.
    """
    if not payloads:
        raise ParameterError("merge_payloads needs at least one site's payload. Got none.")
    epsilons = {float(s.get("dp_epsilon", 0.0)) for _, s in payloads}
    if len(epsilons) > 1:
        raise ParameterError(f"the sites sent counts at different dp_epsilon ({sorted(epsilons)}; 0 = exact). "
                             "Fix: give every site the same federated.dp_epsilon.")
    dp = epsilons.pop() or None
    stats, counts, infinite, sites = [], [], [], []
    for arrays, s in payloads:
        site = str(s.get("site"))
        if s.get("version") != champ.version or s.get("profile_id") != champ.profile.profile_id:
            raise ParameterError(f"site {site!r} computed its statistics against model version {s.get('version')} / profile "
                                 f"{s.get('profile_id')}, not v{champ.version} / {champ.profile.profile_id}. Fix: resend the champion to it.")
        if site in (x["site"] for x in sites):
            raise ParameterError(f"site {site!r} sent its statistics twice. Fix: one payload per site.")
        part, group_counts = read_payload(arrays, s)
        stats.append(part)
        counts += [group_counts] if group_counts is not None else []
        infinite.append({str(k): int(v) for k, v in json.loads(str(s["wbmon.infinite"])).items()})
        problems = {n: ("missing column" if c.state == "absent" else "type changed") for n, c in part.columns.items()
                    if c.state != "present" or c.retyped}
        sites.append({"site": site, "batch": str(s.get("batch")), "sha256": str(s.get("sha256")), "rows": part.rows,
                      "fairness": str(s.get("fairness")), "noise_scale": float(s.get("noise_scale", 0.0)), "problems": problems})
    merged = drift.merge_sites(stats, champ.profile, infinite=infinite)
    total = None
    for c in counts:
        total = c if total is None else total.merge(c)
    if dp is not None:  # post-processing of the noisy sums: clip once, after the sites' noise had the chance to cancel
        merged = drift.with_counts(merged, champ.profile, drift.count_vectors(merged, champ.profile), rows=merged.rows, clip=True)
        total = None if total is None else total.clipped()
    return FederatedStats(merged, total, sites, dp, max(x["noise_scale"] for x in sites) or None)


def read_payload(arrays: Arrays, scalars: Scalars) -> tuple[drift.BatchStats, fairness.GroupCounts | None]:
    """One site's drift statistics and fairness counts (None: not counted) from its payload, checked.

    Raises :class:`DataError` when the payload is malformed or, without noise, its counts do not add up.
    """
    noisy = bool(float(scalars.get("dp_epsilon", 0.0)))
    try:
        parts = json.loads(str(scalars[_PARTS]))
        n_drift, n_fair = int(parts["drift"]), int(parts["fairness"])
        if n_drift + n_fair != len(arrays):
            raise ValueError(f"{len(arrays)} arrays, expected {n_drift + n_fair}")
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"the payload of site {scalars.get('site')!r} is malformed ({exc}). Fix: send what site_payload returns.") from exc
    stats = drift.stats_from_arrays(arrays[:n_drift], scalars)
    if not noisy:
        drift.check_sums(stats)
    return stats, fairness.counts_from_arrays(arrays[n_drift:], scalars, noisy=noisy) if n_fair else None


def compare(config: Config, merged: FederatedStats, champ: Champion) -> FederatedResult:
    """The drift decision of the drift phase and the group metrics of the fairness phase, on the merged statistics."""
    t = config.thresholds
    result = drift.compare(champ.profile, merged.drift, alpha=t.data_drift, min_effect_numeric=t.drift_effect,
                           min_effect_categorical=t.drift_effect, min_rows=t.min_batch_rows, max_missing=t.max_missing_share,
                           max_missing_increase=t.missing_share_increase, drift_share=DRIFT_SHARE)
    c = merged.fairness
    if c is None:
        reasons = "; ".join(f"{x['site']}: {x['fairness']}" for x in merged.sites)
        return FederatedResult(result, None, None, merged, {"status": fairness.NOT_ASSESSABLE, "reason": f"no site counted ({reasons})"})
    positives = int(c.counts[0][:, 2:].sum())
    if positives in (0, c.rows):
        return FederatedResult(result, None, None, merged, {"status": fairness.NOT_ASSESSABLE,
                                                            "reason": "every labelled row has one label (one class)"})
    min_group = MIN_GROUP
    if merged.noise_scale:  # a group's count sums 4 cells' Laplace(b) noise per site: sd sqrt(8 sum b^2); below 4 sd it may be noise alone
        min_group += math.ceil(4 * math.sqrt(8 * sum(x["noise_scale"] ** 2 for x in merged.sites)))
    groups = fairness.group_table_from_counts(c, min_group=min_group, n_bootstrap=200, seed=config.model.seed)  # as the fairness phase
    disparity = fairness.disparity(groups, di_threshold=t.disparate_impact, eo_threshold=t.equalized_odds)
    return FederatedResult(result, groups, disparity, merged, {"status": "assessed", "rows": c.rows, "attributes": list(c.columns),
                                                               "min_group": min_group})


def save(result: FederatedResult, folder: str | Path) -> dict[str, Path]:
    """Write the result's tables and summaries into ``folder`` (each to a temp path, then renamed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tables = {catalog.COLUMNS_FILE: result.drift.columns, catalog.GROUPS_FILE: result.groups, catalog.DISPARITY_FILE: result.disparity}
    written = {}
    for name, table in tables.items():
        if table is not None:
            with atomic_path(folder / name) as tmp:
                table.to_parquet(tmp, index=False)
            written[name] = folder / name
    written[catalog.DATA_DRIFT_FILE] = write_json(folder / catalog.DATA_DRIFT_FILE, {**result.drift.to_dict(), "drift_share": DRIFT_SHARE})
    written[FEDERATED_FILE] = write_json(folder / FEDERATED_FILE, result.to_dict())  # last: its presence means all is written
    return written


def _infinite(series: pd.Series) -> int:
    """How many +/-inf values (or texts that parse as such) a numeric column holds."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_float_dtype(series.dtype):
        return int(np.isinf(series.to_numpy()).sum())
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return 0
    return int(np.isinf(pd.to_numeric(series.astype(object), errors="coerce").to_numpy(dtype=float, na_value=np.nan)).sum())


def _group_counts(config: Config, frame: pd.DataFrame, champ: Champion, model: Any, *,
                  domain: bool) -> tuple[fairness.GroupCounts | None, str]:
    """The site's fairness counts (the champion's decisions on its labelled rows), or None and why not."""
    sensitive, target = champ.sensitive, config.data.target
    if model is None:
        return None, "not counted: no model to score with"
    if str(model.version) != champ.version:
        raise ParameterError(f"the site scored with model version {model.version}, but the champion is v{champ.version}. "
                             "Fix: load the champion the server sent.")
    lacking = [c for c in [*sensitive, target] if c not in frame.columns]
    why = ("fairness metrics are defined for binary tasks" if config.model.task != "binary" else
           "no sensitive columns configured (data.sensitive)" if not sensitive else f"the batch lacks column(s) {', '.join(lacking)}")
    if config.model.task != "binary" or not sensitive or lacking:
        return None, f"not counted: {why}"
    labelled = frame[frame[target].notna()]
    if labelled.empty:
        return None, "not counted: no labels in this batch yet"
    import pandas as pd

    problem = fairness.label_problem(pd.concat([labelled[target], pd.Series([0, 1])]))  # both classes added: only the encoding is checked
    if problem:
        return None, f"not counted: labels: {problem}"
    schema = Schema.from_dict(model.schema)
    absent = [c for c in schema.features if c not in labelled.columns]
    if absent:  # scored as in the pooled batch, where this site's rows have no value there
        labelled = labelled.assign(**dict.fromkeys(absent, float("nan")))
    scores = estimators.predict(model.model, labelled, schema, config.model.task)
    counts = fairness.group_counts(fairness.binary_labels(labelled[target]), None, labelled[sensitive], scores=scores,
                                   domain=champ.groups if domain else None)
    return counts, "counted" + (f" (scored without column(s) {', '.join(absent)}, as missing values)" if absent else "")


def _privatize(stats: drift.BatchStats, counts: fairness.GroupCounts | None, profile: drift.ReferenceProfile,
               epsilon: float) -> tuple[drift.BatchStats, fairness.GroupCounts | None, float]:
    """Laplace noise on every count: rows, one histogram per present column and per fairness attribute (L1 sensitivity k)."""
    import numpy as np

    vectors = drift.count_vectors(stats, profile)
    fair = [] if counts is None else [*counts.counts, *([counts.combo_counts] if len(counts.columns) > 1 else [])]
    flat = [np.array([stats.rows]), *vectors.values(), *(c.ravel() for c in fair)]
    # one row added or removed changes the row count and one count of each histogram by one: L1 sensitivity k.
    # Rounded but not clipped: the server adds the sites' counts, then clips (the noise cancels instead of piling up).
    noisy = np.rint(laplace(np.concatenate(flat).astype(float), sensitivity=float(len(flat)), epsilon=epsilon)).astype(np.int64)
    pieces = np.split(noisy, np.cumsum([v.size for v in flat])[:-1])
    stats = drift.with_counts(stats, profile, dict(zip(vectors, pieces[1:], strict=False)), rows=int(pieces[0][0]))
    if counts is not None:
        rest = [p.reshape(-1, 4) for p in pieces[1 + len(vectors):]]
        counts = replace(counts, counts=tuple(rest[:len(counts.columns)]),
                         combo_counts=rest[-1] if len(counts.columns) > 1 else counts.combo_counts)
    return stats, counts, len(flat) / epsilon
