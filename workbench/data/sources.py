"""The configured datasets: reference and batches, read with checks, hashes and an audit trail.

Every read goes through :func:`read`, which schema-checks nothing by itself but records the
file's sha256 in the data-access log, so lineage can always say which bytes were used.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import data
from workbench.data import demo
from workbench.exceptions import ConfigError
from workbench.features import key_column, offline
from workbench.governance import audit

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.data import Schema, Table



def ensure_demo_data(config: Config) -> bool:
    """Generate the demo files when the config is the demo and they are missing."""
    if not config.demo:
        return False

    batches = Path(config.data.batches) if config.data.batches else config.data.reference.parent / "batches"
    if config.features is not None:
        views = {n: (Path(v.source), v.timestamp, list(v.fields)) for n, v in config.features.views.items()}
        return demo.ensure_feature_demo(config.data.reference, batches, views, key_column(config), timestamp=config.data.timestamp or "snapshot_date")
    return demo.ensure_demo(config.data.reference, batches)


def read(config: Config, path: str | Path, *, purpose: str) -> Table:
    """Read a dataset file and record the access (path, sha256, rows) in the audit log.

    With a ``features:`` section, the view fields the file lacks are joined from the feature store at
    each row's time (:func:`workbench.features.offline.enrich`); the access records which views and versions.
    """
    d = config.data
    parse = [d.timestamp] if d.timestamp and str(path).endswith((".csv", ".csv.gz")) else []
    table = data.load_table(path, parse_dates=parse)
    table = offline.enrich(config, table)
    views = {n: v["version"] for n, v in (table.features or {}).get("views", {}).items() if n in (table.features or {}).get("fetched", {})}
    audit.record(config.store, "data_access", str(table.path), sha256=table.sha256, rows=table.rows, purpose=purpose,
                 **({"feature_views": views} if views else {}))
    return table


def read_reference(config: Config) -> Table:
    """The reference (training) set."""
    ensure_demo_data(config)
    return read(config, config.data.reference, purpose="reference")


def schema(config: Config, frame: pd.DataFrame, *, source: str) -> Schema:
    """The schema the config declares, with omitted lists inferred from ``frame``."""
    d = config.data
    return data.infer_schema(
        frame, target=d.target, id=d.id, timestamp=d.timestamp, numeric=d.numeric,
        categorical=d.categorical, sensitive=d.sensitive, features=d.features, source=source,
    )


def _has_parts(path: Path) -> bool:
    return path.is_dir() and not path.name.startswith((".", "_")) and any(p.name.endswith(data.SUFFIXES) for p in path.iterdir())


def list_batches(config: Config) -> list[Path]:
    """Production batches, ordered by name (``data.batches``: a folder or a glob): files, and folders of parts in the folder."""
    ensure_demo_data(config)
    spec = config.data.batches
    if not spec:
        raise ConfigError(f"{config.source}: key 'data.batches' is not set. Fix: point it at a folder or glob of batches.")
    folder = Path(spec)
    if folder.is_dir():  # a file is a batch, and so is a folder of parts (one batch written by Spark or Dask)
        paths = [p for p in folder.iterdir() if p.name.endswith(data.SUFFIXES) or _has_parts(p)]
    else:
        paths = [Path(p) for p in glob.glob(spec) if p.endswith(data.SUFFIXES)]
    return sorted(paths, key=lambda p: p.name)
