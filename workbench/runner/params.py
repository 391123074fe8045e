"""Notebook parameters: introspection through papermill and validation before execution.

papermill pastes parameter names into code unchecked and only warns about unknown ones,
so the runner accepts only identifiers the notebook declares, with JSON-like values of
the declared type, finite numbers (NaN and Infinity are refused everywhere) and, for the
names in :data:`LIMITS`, values in their range or among their choices. :data:`LIMITS` is
the one place a phase parameter's range is declared (keyed by name, so every notebook that
declares ``confidence`` gets the same check); a test requires an entry for every numeric or
enumerated parameter of every phase notebook.
"""

from __future__ import annotations

import difflib
import json
import keyword
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.exceptions import ParameterError

_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "None": (type(None),)}


@dataclass(frozen=True)
class Limit:
    """The values a parameter may take: bounds (``gt``/``ge``/``lt``/``le``) or ``choices``; ``example`` is a valid value for the fix."""

    example: Any
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        """``> 0 and < 1``, or ``one of 'a', 'b'``."""
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        bounds = [(">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le)]
        return " and ".join(f"{op} {b:g}" for op, b in bounds if b is not None)

    def allows(self, value: Any) -> bool:
        """True when ``value`` is within the bounds or among the choices."""
        if self.choices:
            return value in self.choices
        return ((self.gt is None or value > self.gt) and (self.ge is None or value >= self.ge)
                and (self.lt is None or value < self.lt) and (self.le is None or value <= self.le))


# Every phase notebook's numeric or enumerated parameter, by name (tests/runner/test_params.py checks
# that each is here and that each notebook's default passes).
LIMITS: dict[str, Limit] = {
    "confidence": Limit(0.95, gt=0, lt=1),  # interval level
    "n_bootstrap": Limit(200, ge=10, le=100_000),  # fewer resamples give no interval; more only burn time
    "max_missing": Limit(0.5, ge=0, le=1),  # a share
    "min_group": Limit(30, ge=1),  # rows a group needs to be judged
    "sample": Limit(2000, ge=1),  # rows explained
    "evidently_sample": Limit(20000, ge=1),  # rows per side of the evidently report
    "n_jobs": Limit(2, ge=1),  # processes
    "top": Limit(3, ge=0, le=100),  # waterfall plots, one per row
    "bump": Limit("auto", choices=("auto", "major", "minor", "patch")),  # registry.versions.BUMPS
    "mode": Limit("exact", choices=("exact", "sketch")),  # analyses.drift MODES
    "missing": Limit("category", choices=("category", "error")),  # fairness.group_table
}


def declared(notebook: str | Path) -> dict[str, dict[str, Any]]:
    """The parameters a notebook declares: name → {type, default, help}."""
    import papermill

    found = papermill.inspect_notebook(str(notebook))
    return {name: {"type": p["inferred_type_name"], "default": p["default"], "help": p["help"]} for name, p in found.items()}


def declared_names(notebook: str | Path) -> list[str]:
    """The names a notebook's ``parameters`` cell assigns, in order, read without papermill (cheap inside a kernel)."""
    import ast

    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    source = next(("".join(c["source"]) for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])), "")
    names = []
    for node in ast.parse(source).body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets if isinstance(node, ast.Assign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``name=value`` from the command line; the value is JSON when it parses, else a string."""
    name, sep, raw = text.partition("=")
    if not sep:
        raise ParameterError(f"parameter {text!r} is not of the form name=value. Fix: pass it as -p NAME=VALUE, e.g. -p n_bootstrap=500.")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return name.strip(), value


def check_value(name: str, value: Any) -> None:
    """Refuse a name that is not an identifier and values that are not JSON-like literals."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ParameterError(f"parameter name {name!r} is not a Python identifier.")
    if _non_finite(value):
        raise ParameterError(f"parameter {name!r}: value {value!r} is not a finite number (NaN and Infinity are refused). "
                             f"Fix: pass a finite number, e.g. -p {name}={LIMITS[name].example if name in LIMITS else 1}.")
    if not _json_like(value):
        raise ParameterError(f"parameter {name!r}: value {value!r} is not a JSON-like literal (str, number, bool, null, list, dict).")


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    return isinstance(value, dict) and any(_non_finite(v) for v in value.values())


def _json_like(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(_json_like(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_like(v) for k, v in value.items())
    return False


def validate(notebook: str | Path, values: dict[str, Any], spec: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Check ``values`` against what ``notebook`` declares; return them unchanged when valid."""
    spec = declared(notebook) if spec is None else spec
    for name, value in values.items():
        check_value(name, value)
        if name not in spec:
            close = difflib.get_close_matches(name, list(spec), n=1)
            hint = f" — did you mean {close[0]!r}?" if close else "."
            raise ParameterError(
                f"{Path(notebook).name}: unknown parameter {name!r}{hint} "
                f"Declared parameters: {', '.join(sorted(spec)) or '(none)'}. Fix: use one of these names."
            )
        expected = spec[name]["type"]
        if expected in _TYPES and not _matches(value, expected):
            raise ParameterError(
                f"{Path(notebook).name}: parameter {name!r} must be {expected}, got {type(value).__name__} {value!r}. "
                f"Fix: pass a{'n' if expected == 'int' else ''} {expected} like the default, e.g. -p {name}={spec[name].get('default')}."
            )
        limit = LIMITS.get(name)
        if limit is not None and not limit.allows(value):
            raise ParameterError(
                f"{Path(notebook).name}: parameter {name!r} must be {limit.describe()}, got {value!r}. "
                f"Fix: pass a value in range, e.g. -p {name}={limit.example}."
            )
    return values


def _matches(value: Any, expected: str) -> bool:
    if expected != "bool" and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[expected])
