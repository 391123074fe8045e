"""The demo split over data sites, for federated training and monitoring: which rows a site holds, its files, its config.

Part of :mod:`workbench.data.demo`. :func:`split_rows` is pure and seeded (the federated tests
split with it too); :func:`write_sites` writes each site's training file and batches (every
feature column, as the flat demo has them); :func:`write_sites_config` writes the project config
that trains and monitors across them.
"""

from __future__ import annotations

import os
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import write_text
from workbench.data.demo._files import _write, ensure_demo
from workbench.data.demo._generate import MONTHS, batch_months
from workbench.exceptions import ConfigError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from workbench.config import Config

SPLITS = ("iid", "skewed")
SITE_SEED = 17
MAX_SITES = 26  # sites are named a, b, c, ...
SITES_CONFIG = "workbench.sites.yaml"
FEDERATED = {"rounds": 5, "address": "127.0.0.1:9092"}


@dataclass(frozen=True)
class SiteFiles:
    """One site's files: its training data and its batches folder (one file per demo month)."""

    data: Path
    batches: Path
    rows: int


def site_names(n_sites: int) -> list[str]:
    """``["a", "b", ...]``, ``n_sites`` long (2 to :data:`MAX_SITES`)."""
    if not isinstance(n_sites, int) or not 2 <= n_sites <= MAX_SITES:
        raise ParameterError(f"The 'sites' parameter must be a whole number from 2 to {MAX_SITES}. Got {n_sites!r} instead.")
    return list(string.ascii_lowercase[:n_sites])


def skewed_shares(n_sites: int) -> tuple[list[float], list[float]]:
    """Each site's share of the positive rows and of the other rows in the skewed split.

    Site a takes 60 % of the positives and 20 % of the others; the other positives go to b, c, ... in
    linearly falling shares (weights n - 1/2, n - 3/2, ..., 3/2), the other rows evenly. Three sites:
    positives 60 / 25 / 15 %, others 20 / 40 / 40 % (on the demo, churn shares about 0.55, 0.21, 0.14).
    """
    rest = range(1, len(site_names(n_sites)))
    weights = [n_sites - i + 0.5 for i in rest]
    positive = [0.60] + [0.40 * w / sum(weights) for w in weights]
    other = [0.20] + [0.80 / (n_sites - 1)] * (n_sites - 1)
    return positive, other


def split_rows(target: Any, n_sites: int = 3, split: str = "iid", *, seed: int | Sequence[int] = SITE_SEED) -> dict[str, np.ndarray]:
    """Which rows each site holds: ``{site: sorted row positions}``; every row goes to exactly one site.

    Parameters
    ----------
    target : array-like
        The label of each row (1 = positive, e.g. churned); ``iid`` uses only its length.
    n_sites : int, default 3
        Number of sites (2 to 26), named a, b, c, ...
    split : {"iid", "skewed"}, default "iid"
        ``iid``: a seeded shuffle dealt to the sites in turn. ``skewed``: by the target, shares as
        :func:`skewed_shares` says, each row placed by one seeded uniform draw.
    seed : int or sequence of int, default SITE_SEED
        Seed of ``numpy.random.default_rng``; the same seed gives the same split.

    Returns
    -------
    dict of str to numpy.ndarray
        Row positions per site, ascending (a site's file keeps the original row order).

    Raises
    ------
    ParameterError
        If ``split`` is not one of :data:`SPLITS` or ``n_sites`` is out of range.
    """
    import numpy as np

    names = site_names(n_sites)
    if split not in SPLITS:
        raise ParameterError(f"The 'split' parameter must be one of {list(SPLITS)}. Got {split!r} instead.")
    positive = np.asarray(target) == 1
    rng = np.random.default_rng(seed)
    # One generator, the permutation drawn first in both splits: the skewed draws are the ones the
    # federated tests' numbers (README, 'Federated training') were measured on.
    order = rng.permutation(len(positive))
    if split == "iid":
        return {s: np.sort(order[i::n_sites]) for i, s in enumerate(names)}
    draw = rng.random(len(positive))
    pos, other = (np.round(np.cumsum(shares)[:-1], 12) for shares in skewed_shares(n_sites))  # 0.2 + 0.4 is 0.6, not 0.6000000000000001
    site_of = np.where(positive, np.digitize(draw, pos), np.digitize(draw, other))
    return {s: np.flatnonzero(site_of == i) for i, s in enumerate(names)}


def write_sites(folder: str | os.PathLike[str], reference: str | os.PathLike[str], batches: Sequence[str | os.PathLike[str]],
                n_sites: int = 3, split: str = "iid", *, target: str = "churned", seed: int = SITE_SEED) -> dict[str, SiteFiles]:
    """Split a reference file and its batches over ``n_sites`` sites: ``<folder>/<site>/train.parquet`` and ``<site>/batches/``.

    The reference's rows go to the sites' training files (:func:`split_rows` with ``seed``); every
    batch is split the same way with its own seed (``[seed, k]`` for the k-th batch, from 1) into
    ``<site>/batches/<batch stem>.parquet``. Every column is kept; files are written atomically, and
    existing ones replaced (the split is deterministic).

    Returns
    -------
    dict of str to SiteFiles
        Per site: its training file, its batches folder and its training rows.
    """
    import pandas as pd

    folder = Path(folder)
    frame = pd.read_parquet(reference)
    out = {}
    for site, rows in split_rows(frame[target], n_sites, split, seed=seed).items():
        out[site] = SiteFiles(_write(frame.iloc[rows], folder / site / "train.parquet"), folder / site / "batches", len(rows))
    for k, path in enumerate(map(Path, batches), start=1):
        batch = pd.read_parquet(path)
        for site, rows in split_rows(batch[target], n_sites, split, seed=[seed, k]).items():
            _write(batch.iloc[rows], folder / site / "batches" / f"{path.stem}.parquet")
    return out


def sites_config_path(config: Config) -> Path:
    """Where :func:`write_sites_config` writes: :data:`SITES_CONFIG` beside the config file."""
    return config.source.parent / SITES_CONFIG


def write_sites_config(config: Config, n_sites: int = 3, split: str = "iid", *, force: bool = False) -> tuple[Path, dict[str, SiteFiles]]:
    """Split the demo over sites next to the demo config and write the config that trains across them.

    Beside ``config``'s file: the joined demo (every feature column) in ``data/demo/reference.parquet`` and
    ``data/demo/batches/`` when missing, as :func:`generate` writes it; its split in ``data/demo/sites/<site>/``
    (:func:`write_sites`); then, last and atomically, :data:`SITES_CONFIG`: the config's own keys with
    ``demo: false`` (nothing is regenerated), no ``features:`` (the files carry every feature column, so no
    store is read), ``data:`` at the joined demo (the pooled rows: what the central checks and commands
    read), ``sites:`` naming each site's file and batches, and ``federated:`` (rounds 5 on 127.0.0.1:9092,
    unless the config sets them).

    Returns
    -------
    tuple of (Path, dict of str to SiteFiles)
        The written config and each site's files.

    Raises
    ------
    ConfigError
        If ``config`` is not the demo (``demo: true``), or the sites config exists and ``force`` is False;
        nothing is written then.
    """
    import yaml

    if not config.demo:
        raise ConfigError(f"{config.source}: 'workbench demo --sites' splits the generated demo, and this config is not the demo "
                          "(demo: false). Fix: pass the demo's config (demo: true), e.g. the shipped workbench.yaml.")
    target = sites_config_path(config)
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists. Fix: pass --force to overwrite it (and the site files under data/demo/sites), "
                          "or use it as it is.")
    names = site_names(n_sites)
    if split not in SPLITS:
        raise ParameterError(f"The 'split' parameter must be one of {list(SPLITS)}. Got {split!r} instead.")
    base = config.source.parent
    flat = base / "data" / "demo"  # the joined demo (every feature column), as `generate` writes it
    ensure_demo(flat / "reference.parquet", flat / "batches")
    months = batch_months(MONTHS)
    files = write_sites(flat / "sites", flat / "reference.parquet", [flat / "batches" / f"{m}.parquet" for m in months],
                        n_sites, split, target=config.data.target)
    raw = yaml.safe_load(config.source.read_text(encoding="utf-8"))
    raw.pop("features", None)
    raw["demo"] = False
    raw["data"] = (raw.get("data") or {}) | {"reference": "data/demo/reference.parquet", "batches": "data/demo/batches"}
    raw["sites"] = {s: {"data": files[s].data.relative_to(base).as_posix(), "batches": files[s].batches.relative_to(base).as_posix()}
                    for s in names}
    raw["federated"] = FEDERATED | (raw.get("federated") or {})
    header = (f"# The demo split over {n_sites} data sites ({split}), written by `workbench demo --sites {n_sites} --split {split}`.\n"
              "# The federated commands read each site's file and batches (sites:); data: is every site's rows pooled (central commands).\n")
    write_text(target, header + yaml.safe_dump(raw, sort_keys=False))
    return target, files
