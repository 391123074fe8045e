"""The micro-batcher: one scoring thread that scores every request queued while it was busy in one call."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Any


class MicroBatcher:
    """One scoring thread that takes every request queued while it was busy and scores them in one call.

    A scikit-learn pipeline costs about the same for 1 row as for 100 (validation and dispatch per
    call, not per row), so under concurrent load, scoring the queued requests together multiplies
    throughput; with no load a request is scored alone, at once (no waiting window). The routing
    rule is per row (canary by id; a fallback applies to every row anyway), so the answers are the
    same as one call per request. Written here because no library batches in-process calls this way
    without a serving framework around it.
    """

    def __init__(self, fn: Any, *, max_records: int) -> None:
        self.fn = fn
        self.max_records = max_records
        self._queue: queue.Queue[tuple[list[dict[str, Any]], Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)

    def start(self) -> None:
        """Start the scoring thread."""
        self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def submit(self, records: list[dict[str, Any]]) -> Future:
        """Queue one request's records; the future gets its ``(status, payload, role)``."""
        future: Future = Future()
        self._queue.put((records, future))
        return future

    def _run(self) -> None:
        from threadpoolctl import threadpool_limits

        # One OpenMP thread for scoring: a tree ensemble's predict otherwise starts ~200 tiny two-thread tasks per
        # call, each stalling on a busy core (several times the CPU per request; benchmarks/serving.py). OpenMP's
        # thread count is per calling thread, so it is set here, in the thread that scores. --workers uses more cores.
        threadpool_limits(limits=1, user_api="openmp")
        while True:
            item = self._queue.get()
            if item is None:
                return
            items, total = [item], len(item[0])
            while total < self.max_records:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                items.append(nxt)
                total += len(nxt[0])
            try:
                answers = self.fn([records for records, _ in items])
            except Exception as exc:  # noqa: BLE001 - a bug must answer 500 to these requests, not kill the thread
                answers = [(500, {"detail": f"{type(exc).__name__}: {exc}"}, "none")] * len(items)
            for (_, future), answer in zip(items, answers, strict=True):
                if future.set_running_or_notify_cancel():  # a cancelled request (client gone, shutdown) is skipped
                    future.set_result(answer)
