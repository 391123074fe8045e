"""The validate phase (``10_validate``): the reference set's quality report, and each batch checked against it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench import data
from workbench._io import read_json
from workbench.data import sources
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.data.dataset import QualityReport
    from workbench.runner.context import PhaseContext

def reference(phase: PhaseContext, *, max_missing: float = 0.5) -> QualityReport:
    """Check the reference set and save the report (the caller raises on errors)."""
    table = sources.read_reference(phase.config)
    schema = sources.schema(phase.config, table.frame, source=str(table.path))
    report = data.check_quality(table.frame, schema, source=str(table.path), max_missing=max_missing, require_target=True)
    levels = data.category_levels(table.frame, schema)
    phase.save_json(catalog.QUALITY_FILE, {"dataset": {"path": str(table.path), "sha256": table.sha256, "rows": table.rows},
                                   "schema": schema.to_dict(), "categories": levels, "report": report.to_dict()})
    phase.log_metrics({"reference_rows": table.rows, "quality_errors": len(report.errors),
                       "quality_warnings": len(report.warnings)})
    return report


def batches(phase: PhaseContext, *, max_missing: float = 0.5) -> pd.DataFrame:
    """Check every configured batch against the reference schema; one row per batch."""
    import pandas as pd

    ref = read_json(phase.dir / catalog.QUALITY_FILE)
    schema = data.Schema.from_dict(ref["schema"])
    rows: list[dict[str, Any]] = []
    for path in sources.list_batches(phase.config) if phase.config.data.batches else []:
        table = sources.read(phase.config, path, purpose="validate batch")
        report = data.check_quality(table.frame, schema, source=str(path), reference=schema,
                                    reference_categories=ref["categories"], max_missing=max_missing, require_target=False)
        rows.append({"batch": path.name, "rows": table.rows, "sha256": table.sha256, "passed": report.passed,
                     "errors": len(report.errors), "warnings": len(report.warnings),
                     "problems": "; ".join(c.message for c in report.errors + report.warnings)[:500]})
    frame = pd.DataFrame(rows, columns=["batch", "rows", "sha256", "passed", "errors", "warnings", "problems"])
    phase.save_json(catalog.BATCHES_FILE, {"batches": rows})
    return frame
