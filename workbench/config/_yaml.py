"""Safe YAML reading for the config: size-capped, duplicate keys refused, aliases bounded before anything is built.

Part of :mod:`workbench.config` (split out by noun); imports yaml only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.exceptions import ConfigError

MAX_CONFIG_BYTES = 1_000_000  # a config is a few KB; a bigger file is a mistake (or an attack)
MAX_CONFIG_NODES = 10_000  # values after expanding YAML aliases (*name); a config has a few hundred
MAX_CONFIG_DEPTH = 50  # nesting levels


def read_yaml(source: Path) -> dict[str, Any]:
    """Parse the file safely: size-capped, duplicate keys refused, aliases bounded before anything is built.

    The YAML is composed into nodes first (an alias is a reference to an already composed node,
    so this stays as small as the text) and checked there; Python objects are constructed
    only from a graph known to be small, so an alias bomb is refused without expanding it.
    """
    import yaml

    try:
        size = source.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{source}: config file is {size:,} bytes, more than the {MAX_CONFIG_BYTES:,} allowed. "
                              "Fix: point --config at the project's workbench.yaml (a few KB).")
        loader = yaml.SafeLoader(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the config ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not UTF-8 text. Fix: save the config as UTF-8.") from None
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_nodes(source, node, {}, 0)
        raw = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}: not valid YAML{where}. Fix the syntax and retry.") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to read. Fix: write the config as plain keys and values.") from None
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of keys (project, data, model, ...), got {type(raw).__name__}.")
    return raw


def _check_nodes(source: Path, node: Any, sizes: dict[int, int], depth: int) -> int:
    """The number of values ``node`` expands to (aliases counted at every use); refuse duplicate keys and bombs."""
    import yaml

    if id(node) in sizes:
        if sizes[id(node)] < 0:
            raise ConfigError(f"{source}: line {node.start_mark.line + 1}: a YAML alias refers to the value that contains it. "
                              "Fix: write the value out instead of the alias (*name).")
        return sizes[id(node)]
    if depth > MAX_CONFIG_DEPTH:
        raise ConfigError(f"{source}: line {node.start_mark.line + 1}: values nested more than {MAX_CONFIG_DEPTH} levels deep. "
                          "Fix: write the config as plain keys and values.")
    sizes[id(node)] = -1  # in progress: meeting it again is a cycle
    if isinstance(node, yaml.MappingNode):
        _refuse_duplicate_keys(source, node)
        children = [child for pair in node.value for child in pair]
    else:
        children = node.value if isinstance(node, yaml.SequenceNode) else []
    total = 1 + sum(_check_nodes(source, child, sizes, depth + 1) for child in children)
    if total > MAX_CONFIG_NODES:
        raise ConfigError(f"{source}: line {node.start_mark.line + 1}: the YAML expands to more than {MAX_CONFIG_NODES:,} values "
                          "(aliases (*name) repeat what their anchor (&name) holds). Fix: write the values out; a config needs no aliases.")
    sizes[id(node)] = total
    return total


def _refuse_duplicate_keys(source: Path, node: Any) -> None:
    """YAML keeps the last of two equal keys silently; a config must not (the first would be ignored)."""
    import yaml

    first: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue  # a merge key (<<) may repeat what it merges in; other non-scalar keys fail validation
        line = key.start_mark.line + 1
        if (key.tag, key.value) in first:
            raise ConfigError(f"{source}: line {line}: key '{key.value}' appears twice in the same mapping "
                              f"(first at line {first[key.tag, key.value]}). Fix: keep one of them; YAML would silently use the last.")
        first[key.tag, key.value] = line
