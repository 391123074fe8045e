"""Config changes in the audit trail: the first use of a changed ``workbench.yaml`` is recorded.

Training (registration) and scoring call :func:`note_config`; when the validated config's hash
differs from the last one seen in this store, an audit event ``config_change`` names the keys
that changed (old and new values), and the new config is kept in ``<store>/configs/<sha256>.json``
so any later change can be diffed. Derived retrain configs (``<store>/retrain/...``) are not
project config changes and are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench._io import read_json, write_json
from workbench.governance import audit

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def note_config(config: Config) -> dict[str, Any] | None:
    """Record a ``config_change`` event when the config differs from the last one used; return it (else None)."""
    from filelock import FileLock

    if config.source.parent.parent == config.store / "retrain":
        return None
    folder = config.store / "configs"
    folder.mkdir(parents=True, exist_ok=True)
    sha, body = config.sha256(), config.model_dump(mode="json", exclude={"source"})
    with FileLock(str(folder / ".lock")):
        last = read_json(folder / "last.json") if (folder / "last.json").exists() else None
        if last and last["sha256"] == sha:
            return None
        before = read_json(folder / f"{last['sha256']}.json") if last and (folder / f"{last['sha256']}.json").exists() else {}
        write_json(folder / f"{sha}.json", body)
        write_json(folder / "last.json", {"sha256": sha, "source": str(config.source)})
        old, new = _flat(before), _flat(body)
        changes = {k: {"old": old.get(k), "new": v} for k, v in new.items() if old.get(k) != v} if before else {}
        changes |= {k: {"old": v, "new": None} for k, v in old.items() if k not in new}
        return audit.record(config.store, "config_change", str(config.source), sha256=sha, previous=last["sha256"] if last else None,
                            changed=changes, reason="first use of this config" if last is None else f"{len(changes)} key(s) changed")


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value and key not in ("roles", "params"):  # roles/params compare as a whole
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[prefix + key] = value
    return out
