"""Reading data files: one error shape for every way a read fails, and the header checks pandas cannot make."""

from __future__ import annotations

import collections
import contextlib
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from workbench.exceptions import DataError


@contextlib.contextmanager
def reading(path: Path, what: str) -> Iterator[None]:
    """Turn the many ways a read can fail into one DataError naming the file."""
    import pyarrow

    try:
        yield
    except (OSError, ValueError, TypeError, EOFError, zlib.error, pyarrow.ArrowException) as exc:
        lines = str(exc).split(". You might")[0].strip().splitlines() or [type(exc).__name__]
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else lines[0]
        raise DataError(f"{path}: cannot read {what} ({reason.rstrip('.')}). "
                        "Fix: re-export the file (CSV as UTF-8), check it is complete, or correct the values.") from exc


def csv_header(path: Path) -> list[str]:
    """The header row as written (pandas renames a repeated name 'x' to 'x.1', so it cannot tell)."""
    import csv
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as handle:
        try:
            return next(csv.reader(handle), [])
        except csv.Error:  # e.g. a field over csv's size limit: pandas reports the file as it sees it
            return []


def refuse_repeated_names(path: Path, names: Iterable[str]) -> None:
    """Raise :class:`DataError` naming every column name the header holds more than once."""
    repeated = sorted(name for name, count in collections.Counter(names).items() if count > 1)
    if repeated:
        what = f"column name {quoted(repeated)} appears" if len(repeated) == 1 else f"column names {quoted(repeated)} appear"
        raise DataError(f"{path}: {what} more than once in the header (pandas would rename the copies to "
                        f"'{repeated[0]}.1' and use them as other columns). Fix: rename or drop the repeated columns.")


def quoted(names: list[Any], limit: int = 10, quote: str = "'") -> str:
    """``'a', 'b' and 3 more``: at most ``limit`` names, then a count."""
    shown = ", ".join(f"{quote}{n}{quote}" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def part_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The data files of a batch written as a folder of parts (``part-0.parquet``, ...), in name order.

    One format per folder: a mix of CSV and Parquet parts, or a folder without data files, is a
    :class:`DataError` naming the folder and the fix. Hidden files and Spark's ``_SUCCESS`` markers are skipped.
    """
    parts = sorted((p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(suffixes) and not p.name.startswith((".", "_"))),
                   key=lambda p: p.name)
    if not parts:
        raise DataError(f"{folder}: a folder with no data files ({', '.join(suffixes)}). Fix: write the batch's parts there, "
                        "or point at one file.")
    kinds = {"CSV" if p.name.lower().endswith(suffixes[:2]) else "Parquet" for p in parts}
    if len(kinds) > 1:
        raise DataError(f"{folder}: parts in both CSV and Parquet. Fix: write every part of a batch in one format.")
    return parts


def parts_sha256(parts: list[Path], digest_of: Any) -> str:
    """One sha256 for a folder of parts: over each part's name and sha256, in name order (renaming a part changes it)."""
    import hashlib

    return hashlib.sha256("".join(f"{p.name}\0{digest_of(p)}\n" for p in parts).encode()).hexdigest()
