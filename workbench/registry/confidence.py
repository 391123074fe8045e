"""A version's confidence record: its calibration map and conformal quantile, kept as a version tag.

The evaluate phase fits both on the holdout (``confidence.json``); registration copies the
candidate's record onto the version and the baseline's onto the baseline, so the score phase, the
online service and the monitor phases read one record per version without opening a run folder.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.registry.versions import TAG

CONFIDENCE_TAG = TAG + "confidence"  # JSON {"calibration": …, "conformal": …}; absent on versions registered before issue 16


def record_of(tags: dict[str, str]) -> dict[str, Any] | None:
    """The confidence record on a version's tags, or None when it has none."""
    raw = tags.get(CONFIDENCE_TAG)
    return json.loads(raw) if raw else None


def tag_for(record: dict[str, Any] | None) -> dict[str, str]:
    """The tag holding ``record`` (nothing for None)."""
    return {CONFIDENCE_TAG: json.dumps(record, sort_keys=True, separators=(",", ":"))} if record else {}
