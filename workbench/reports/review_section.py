"""A review pack's section: a titled table, with a plain sentence when it is empty (see :mod:`workbench.reports.review`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass
class Section:
    """A titled table for the pack, with a plain sentence when it is empty."""

    title: str
    frame: pd.DataFrame
    empty: str
    note: str = ""

    def __len__(self) -> int:
        return len(self.frame)

    def _repr_html_(self) -> str:
        head = f"<h4>{self.title}</h4>"
        if self.frame.empty:
            return head + f"<p>{self.empty}</p>"
        table = self.frame.to_html(index=self.frame.index.name is not None, border=0, na_rep="–", float_format=lambda x: f"{x:.4g}")
        return head + table + (f"<p>{self.note}</p>" if self.note else "")
