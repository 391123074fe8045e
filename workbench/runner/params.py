"""Notebook parameters: introspection through papermill and validation before execution.

papermill pastes parameter names into code unchecked and only warns about unknown ones,
so the runner accepts only identifiers the notebook declares, with JSON-like values of
the declared type.
"""

from __future__ import annotations

import difflib
import json
import keyword
from pathlib import Path
from typing import Any

from workbench.exceptions import ParameterError

_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "None": (type(None),)}


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
        raise ParameterError(f"parameter {text!r} is not of the form name=value (e.g. -p n_bootstrap=500).")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return name.strip(), value


def check_value(name: str, value: Any) -> None:
    """Refuse a name that is not an identifier and values that are not JSON-like literals."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ParameterError(f"parameter name {name!r} is not a Python identifier.")
    if not _json_like(value):
        raise ParameterError(f"parameter {name!r}: value {value!r} is not a JSON-like literal (str, number, bool, null, list, dict).")


def _json_like(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return not (isinstance(value, float) and value != value)
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
                f"Declared parameters: {', '.join(sorted(spec)) or '(none)'}."
            )
        expected = spec[name]["type"]
        if expected in _TYPES and not _matches(value, expected):
            raise ParameterError(
                f"{Path(notebook).name}: parameter {name!r} must be {expected}, got {type(value).__name__} {value!r}."
            )
    return values


def _matches(value: Any, expected: str) -> bool:
    if expected != "bool" and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[expected])
