"""Writing the demo files: formats, :class:`DemoFiles`, :func:`generate` and :func:`ensure_demo`.

Part of :mod:`workbench.data.demo` (see its docstring for the files and their contents).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench._io import atomic_path
from workbench.data.demo._generate import DEFAULT_SEED, MONTHS, N_BATCH, N_REFERENCE, batch_months, make_frame
from workbench.exceptions import DemoFormatError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class DemoFiles:
    """Paths of one generated demo: the reference file and the batches in month order."""

    reference: Path
    batches: list[Path]


def generate(out_dir: str | os.PathLike[str], *, seed: int = DEFAULT_SEED,
             n_reference: int = N_REFERENCE, n_batch: int = N_BATCH, months: int = MONTHS,
             fmt: str = "parquet") -> DemoFiles:
    """Write the demo reference and monthly batches under ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Folder to write ``reference.<fmt>`` and ``batches/YYYY-MM.<fmt>`` into.
    seed : int, default DEFAULT_SEED
        Demo seed; the same seed gives the same files.
    n_reference, n_batch : int, default 8000, 2000
        Rows in the reference file and in each batch.
    months : int, default 8
        Number of monthly batches, from 2026-01 on.
    fmt : {"parquet", "csv"}, default "parquet"
        File format.

    Returns
    -------
    DemoFiles
        The written paths, batches in month order.

    Raises
    ------
    DemoFormatError
        (a ``ValueError``) if ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt not in FORMATS:
        raise DemoFormatError(f"The 'fmt' parameter of generate must be one of "
                              f"{list(FORMATS)}. Got {fmt!r} instead.")
    out = Path(out_dir)
    reference = _write(make_frame(n_reference, seed=seed), out / f"reference.{fmt}")
    batches = _write_batches(out / "batches", fmt, seed, n_reference, n_batch, months)
    return DemoFiles(reference=reference, batches=batches)


def ensure_demo(reference: str | os.PathLike[str], batches: str | os.PathLike[str], *,
                seed: int = DEFAULT_SEED) -> bool:
    """Generate the demo into ``reference`` and ``batches`` when either is missing.

    The reference's suffix (``.parquet`` or ``.csv``) decides both formats. Only what is
    missing is written, never over existing files (the demo is deterministic, so parts
    agree). A lock file beside the reference makes concurrent calls safe.

    Parameters
    ----------
    reference : path-like
        The reference file, e.g. ``data/demo/reference.parquet``.
    batches : path-like
        The batches folder; missing when absent or without a file of that format.
    seed : int, default DEFAULT_SEED
        Demo seed (sizes are the defaults of :func:`generate`).

    Returns
    -------
    bool
        True if anything was generated, False if both already existed.

    Raises
    ------
    DemoFormatError
        (a ``ValueError``) if the reference's suffix is not ``.parquet`` or ``.csv``.
    """
    from filelock import FileLock

    reference, batches = Path(reference), Path(batches)
    fmt = reference.suffix.lstrip(".")
    if fmt not in FORMATS:
        raise DemoFormatError(f"The demo reference {str(reference)!r} must end in one of "
                              f"{['.' + f for f in FORMATS]}. Got {reference.suffix!r} instead.")
    reference.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(reference.parent / f".{reference.name}.lock"):
        need_reference = not reference.exists()
        need_batches = not (batches.is_dir() and any(batches.glob(f"*.{fmt}")))
        if need_reference:
            _write(make_frame(N_REFERENCE, seed=seed), reference)
        if need_batches:
            _write_batches(batches, fmt, seed, N_REFERENCE, N_BATCH, MONTHS)
    return need_reference or need_batches


def _write_batches(folder: Path, fmt: str, seed: int, n_reference: int, n_batch: int,
                   months: int) -> list[Path]:
    """Write one batch per month into ``folder``; ids continue after the reference's."""
    paths = []
    for i, month in enumerate(batch_months(months)):
        frame = make_frame(n_batch, month=month, seed=seed, first_id=n_reference + 1 + i * n_batch)
        paths.append(_write(frame, folder / f"{month}.{fmt}"))
    return paths


def _write(df: pd.DataFrame, path: Path) -> Path:
    """Atomically write ``df`` as Parquet or CSV, chosen by the suffix of ``path``."""
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            df.to_csv(tmp, index=False, date_format="%Y-%m-%d", lineterminator="\n")
        else:
            df.to_parquet(tmp, index=False, engine="pyarrow")
    return path


def ensure_feature_demo(reference: str | os.PathLike[str], batches: str | os.PathLike[str], views: dict[str, tuple[Path, str, list[str]]],
                        key: str, *, timestamp: str = "snapshot_date", seed: int = DEFAULT_SEED) -> bool:
    """The demo laid out for a feature store: entity files plus one Parquet source per feature view.

    The same rows as :func:`ensure_demo`, split by column: ``reference`` and the ``batches`` keep the
    key, the time, the label and every column no view holds (the entity frames a team's label table
    gives); each view ``{name: (source path, event-time column, fields)}`` gets the key, the event time
    (the snapshot date as a UTC timestamp) and its fields, for every reference and batch row.
    Only missing files are written; a lock beside the reference makes concurrent calls safe.
    """
    from filelock import FileLock

    reference, batches = Path(reference), Path(batches)
    if reference.suffix != ".parquet":
        raise DemoFormatError(f"The feature-store demo reference {str(reference)!r} must end in '.parquet'. Got {reference.suffix!r} instead.")
    reference.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(reference.parent / f".{reference.name}.lock"):
        months = batch_months(MONTHS)
        targets = [reference, *(batches / f"{m}.parquet" for m in months), *(source for source, _, _ in views.values())]
        if all(p.exists() for p in targets):
            return False
        import pandas as pd

        frames = [make_frame(N_REFERENCE, seed=seed)]
        frames += [make_frame(N_BATCH, month=m, seed=seed, first_id=N_REFERENCE + 1 + i * N_BATCH) for i, m in enumerate(months)]
        fields = {f for _, _, fs in views.values() for f in fs}
        for frame, path in zip(frames, [reference, *(batches / f"{m}.parquet" for m in months)], strict=True):
            if not path.exists():
                _write(frame[[c for c in frame.columns if c not in fields]], path)
        everything = pd.concat(frames, ignore_index=True)
        stamps = pd.to_datetime(everything[timestamp]).dt.tz_localize("UTC")
        for source, ts, fs in views.values():
            if not source.exists():
                view = pd.DataFrame({key: everything[key].to_numpy(), ts: stamps.to_numpy()})
                for f in fs:
                    view[f] = everything[f].to_numpy()
                _write(view, source)
    return True
