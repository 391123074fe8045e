"""The layout is the architecture: no import cycles between workbench modules, imports at module top, small modules.

Import-linter (``make lint``) checks the arrows between the parts; these tests check what it does
not: that every import between workbench modules is at module top (so a cycle cannot hide in a
function), that the module graph has no cycle (counting the package ``__init__`` every import
runs), and that modules stay small.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "workbench"
MODULES = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p for p in sorted(PACKAGE.rglob("*.py"))}
MAX_LINES = 420  # STYLE.md: "aim for modules under ~400 lines; split by noun when one grows"


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(tree: ast.Module) -> list[tuple[ast.stmt, bool]]:
    """Every import statement that runs, with whether it sits at module top (TYPE_CHECKING blocks left out)."""
    found: list[tuple[ast.stmt, bool]] = []

    def walk(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, top))
            walk(child, top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)))

    walk(tree, True)
    return found


def _targets(node: ast.stmt) -> list[str]:
    """The workbench modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "workbench"]
    if not isinstance(node, ast.ImportFrom) or node.level or not node.module or node.module.split(".")[0] != "workbench":
        return []
    return [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names]


def _graph() -> dict[str, set[str]]:
    """Module -> modules it imports at load time, including the packages whose ``__init__`` those imports run."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for node, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _targets(node):
                parts = target.split(".")
                mine = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}  # its own packages (and itself)
                ancestors = {".".join(parts[:i]) for i in range(2, len(parts))} - mine
                graph[name] |= ({target} | ancestors) & set(MODULES)
    return graph


def test_imports_between_workbench_modules_are_at_module_top() -> None:
    inside = [f"{path.relative_to(REPO)}:{node.lineno}" for name, path in MODULES.items() if name != "workbench"
              for node, top in _imports(ast.parse(path.read_text(encoding="utf-8"))) if not top and _targets(node)]
    assert inside == [], "import these at module top, so an import cycle shows: " + ", ".join(inside)


def test_there_is_no_import_cycle_between_workbench_modules() -> None:
    try:
        graphlib.TopologicalSorter(_graph()).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = _graph()
    assert "workbench.registry.versions" in graph["workbench.phases.register"]
    assert "workbench.registry" in graph["workbench.governance.actions"]  # importing registry.versions runs registry/__init__
    graph["workbench.registry.versions"].add("workbench.phases.register")
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(graph).prepare()


@pytest.mark.parametrize("part", [
    "cli", "runner", "data", "registry", "analyses", "phases", "governance", "reports", "apps", "serving", "features", "federated", "scale"])
def test_every_part_is_a_subpackage(part: str) -> None:
    assert (PACKAGE / part / "__init__.py").is_file()


def test_top_level_modules_are_only_the_shared_floor() -> None:
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "_io.py", "exceptions.py"]
    assert sorted(p.name for p in (PACKAGE / "config").glob("*.py")) == [  # the config floor, split by noun
        "__init__.py", "_base.py", "_estimation.py", "_privacy.py", "_scale.py", "_yaml.py"]


def test_every_phase_notebook_has_its_phase_module() -> None:
    from workbench.runner import dag

    names = sorted(p.name for p in dag.LIFECYCLE + dag.MONITOR)
    assert names == sorted(p.stem for p in (PACKAGE / "phases").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(REPO)} has {lines} lines: split it by noun"


def test_every_error_class_derives_from_the_one_root() -> None:
    from workbench import exceptions

    classes = {name: path for name, path in MODULES.items() for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.ClassDef) and (node.name.endswith("Error") or node.name in ("PermissionDenied", "RunRefused"))}
    assert set(classes) == {"workbench.exceptions"}, f"error classes belong in workbench/exceptions.py: {sorted(classes)}"
    for obj in vars(exceptions).values():
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, exceptions.WorkbenchError)
