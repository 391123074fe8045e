"""Small helpers the apps' answers share: batch names as months, numbers rounded for sentences, coloured tiles.

Pure functions of stored values (no widgets), so tests and the status page can check the words.
"""

from __future__ import annotations

import html
import math
from typing import Any

# Tile colours: red (the answer's problem), amber (known or minor), green (fine), None (neutral).
COLOURS = {"red": "#c53030", "amber": "#b7791f", "green": "#2f855a", None: "#1a202c"}
SHARE_WORDS = {0.5: "half", 0.25: "a quarter", 0.75: "three quarters", 1.0: "all"}


def batch_label(name: Any) -> str:
    """A batch as people name it: ``2026-03.parquet`` -> ``2026-03``."""
    text = str(name or "").strip()
    for ext in (".parquet", ".csv", ".json"):
        if text.lower().endswith(ext):
            return text[: -len(ext)]
    return text


def number(value: Any, digits: int = 2) -> str:
    """A rate, ratio or score for a sentence: two decimals (``0.92``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "?"
    return "?" if math.isnan(v) else f"{v:.{digits}f}"


def pair(a: Any, b: Any, digits: int = 2) -> tuple[str, str]:
    """Two numbers rounded alike, with one more decimal when rounding would make different values look equal."""
    x, y = number(a, digits), number(b, digits)
    if x == y and x != "?" and float(a) != float(b):
        return number(a, digits + 1), number(b, digits + 1)
    return x, y


def against(value: Any, limit: float, digits: int = 2) -> str:
    """A value shown beside its pass mark: more decimals when rounding would put it on the limit (0.796 vs 0.8)."""
    text = number(value, digits)
    while text != "?" and float(text) == float(limit) and float(value) != float(limit) and digits < 4:
        digits += 1
        text = number(value, digits)
    return text


def share_words(share: float) -> str:
    """``0.5`` -> ``half``; other shares as a percentage."""
    return SHARE_WORDS.get(round(float(share), 4), f"{float(share):.0%}")


def listing(names: list[str], most: int = 3) -> str:
    """``a, b, c and 2 more``."""
    shown = [str(n) for n in names[:most]]
    rest = len(names) - len(shown)
    if rest > 0:
        return ", ".join(shown) + f" and {rest} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1] if shown else ""


def tiles(items: list[tuple[str, str, str | None]]) -> str:
    """Summary tiles ``(label, value, colour)`` with colour ``red``, ``amber``, ``green`` or None; class ``wb-kpis``/``wb-kpi``."""
    out = []
    for label, value, colour in items:
        out.append(f'<div class="wb-kpi wb-tile-{colour or "plain"}"><b style="color:{COLOURS.get(colour, COLOURS[None])}">{html.escape(value)}</b>'
                   f"<span>{html.escape(label)}</span></div>")
    return f'<div class="wb-kpis">{"".join(out)}</div>'
