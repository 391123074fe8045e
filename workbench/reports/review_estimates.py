"""The weekly review's section on performance estimated without labels: unlabelled batches whose estimate dropped, and the review queue.

Read from the monitor runs' ``drift/estimate.json`` (through :mod:`workbench.reports.estimate_summary`)
and the feedback store's review queue; nothing is recomputed. :func:`estimates` is offered as
``workbench.reports.review.estimates`` beside the pack's other sections.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from workbench.reports import catalog
from workbench.reports.estimate_summary import Summary, dropped, summarise
from workbench.reports.review_section import Section

if find_spec("workbench.governance.review_queue") is not None:
    from workbench.governance import review_queue
else:  # an installation without the feedback store's queue still reviews the rest, and says so
    review_queue = None

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.reports.catalog import RunInfo
    from workbench.reports.review import Review

TITLE = "Unlabelled batches whose estimated performance dropped"
NO_QUEUE = "Review queue: not available (workbench.governance.review_queue is not installed)."


def estimates(review: Review) -> Section:
    """Unlabelled batches monitored in the window whose estimated performance dropped, and the size of the review queue.

    Dropped (:func:`workbench.reports.estimate_summary.dropped`): worse than its alert threshold, or
    worse than the previous batch's estimate (in batch order, monitored up to the window's end) by
    more than its band. Unlabelled: no labels joined yet (reviewed feedback, when compared, is shown).
    Counts ``unlabelled_batches``, ``estimate_drops`` and ``review_queue`` (None: not available).
    """
    import pandas as pd

    upto = catalog.latest_per_batch(review.config, "drift", name=catalog.ESTIMATE_FILE,
                                    runs=catalog.list_runs(review.config, kind="monitor", until=review.until))
    inside = {r.run_id for r in review.monitor_runs}
    rows: list[dict[str, Any]] = []
    unlabelled, previous = 0, (None, "")
    for b in upto:
        s = _estimate(b)
        if s is not None and b.run_id in inside and s.source != "labels":
            unlabelled += 1
            why = dropped(s, *previous)
            if why:
                rows.append({"run_id": b.run_id, "batch": b.name, "metric": s.metric, "estimated": s.value, "low": s.low, "high": s.high,
                             "alert_threshold": s.alert_threshold, "previous_estimate": previous[0].value if previous[0] else None,
                             "why": "; ".join(why), "feedback": s.realised if s.source == "feedback" else None})
        previous = (s, _label(b.name)) if s is not None else previous
    queue, said = queue_size(review.config)
    review.counts |= {"unlabelled_batches": unlabelled, "estimate_drops": len(rows), "review_queue": queue}
    none = (f"No unlabelled batch's estimated performance dropped in this window ({unlabelled} unlabelled batch{'es' * (unlabelled != 1)} "
            "monitored)." if unlabelled else "No unlabelled batch with a performance estimate was monitored in this window.")
    return Section(TITLE, pd.DataFrame(rows), f"{none} {said}", f"{said} Labels (or reviewed feedback) will tell whether a drop is real.")


def _label(name: str) -> str:
    """A batch file's name as the pack writes it: ``2026-03.parquet`` -> ``2026-03``."""
    return name.rsplit(".", 1)[0] if "." in name else name


def _estimate(info: RunInfo) -> Summary | None:
    """The batch's stored estimate; None when torn or of another shape."""
    try:
        return summarise(info.read("drift", catalog.ESTIMATE_FILE))
    except (OSError, ValueError):  # a torn file leaves the batch out of this section, not the review
        return None


def queue_size(config: Config) -> tuple[int | None, str]:
    """Predictions waiting in the review queue for a human label, and a sentence saying so (None and :data:`NO_QUEUE` without the queue)."""
    if review_queue is None:
        return None, NO_QUEUE
    n = int(review_queue.open_items(config))
    return n, f"Review queue: {n} prediction{'s' * (n != 1)} {'waits' if n == 1 else 'wait'} for a human label (`workbench feedback queue`)."
