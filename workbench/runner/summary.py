"""The text printed at the end of a run: folder, each phase's status and time, the verdict and the version."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.runner.execute import RunResult


def summary(result: RunResult, config: Config) -> str:
    """The text printed at the end of a run: folder, each phase's status and time, the version."""
    lines = [f"run {result.run_id}: {result.manifest['status']} in {result.manifest.get('duration_s', 0):.1f}s",
             f"  folder:   {result.run_dir}"]
    for name, entry in result.manifest["phases"].items():
        took = f"{entry['duration_s']:.1f}s" if entry.get("duration_s") is not None else "-"
        lines.append(f"  {name:<11} {entry['status']:<9} {took:>7}  {entry.get('error') or ''}".rstrip())
    run = catalog.RunInfo(result.run_id, result.run_dir, result.manifest)
    verdict = run.read("drift", catalog.VERDICT_FILE)
    if verdict is not None:
        lines.append(_verdict_line(verdict))
    r, card = run.read("register"), run.read("model_card")
    if r is not None:
        aliases = (card or {}).get("aliases") or r["aliases"]
        due = ", not champion yet: its model card was not produced" if r.get("pending") == "champion" and "champion" not in aliases else ""
        lines.append(f"  model:    {r['model_name']} v{r['version']} (semver {r['semver']}, {', '.join(aliases) or 'no alias'}{due})")
    elif card is not None:  # a run of the later pilot phases only
        lines.append(f"  model:    {config.project} v{card['version']} (semver {card['semver']}, {', '.join(card.get('aliases', [])) or 'no alias'})")
    lines.append(f"  mlflow:   mlflow ui --backend-store-uri {config.mlflow_uri}")
    return "\n".join(lines)


def _verdict_line(v: dict[str, Any]) -> str:
    drifted = v["drifted_columns"]
    columns = f" ({len(drifted)} column(s) drifted: {', '.join(drifted)})" if drifted else ""
    parts = [f"batch {v['batch']['name']}: data drift {'YES' if v['data_drift'] else 'no'}{columns}",
             f"concept drift {'YES' if v['concept_drift'] else 'no'}", f"feature drift {'YES' if v['feature_drift'] else 'no'}"]
    if v["fallback"]["used"]:
        parts.append("scored by the BASELINE (champion failed)")
    if v.get("retrain_request"):
        parts.append(f"retrain request {v['retrain_request']['id']} filed")
    return "  verdict:  " + "; ".join(parts)
