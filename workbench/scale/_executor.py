"""Executors: where the per-partition work runs — in this process, on a local Dask cluster, or on a team's cluster.

``local`` (the default) runs the tasks one after the other in this process and folds each result
into the running total as it comes, so memory holds one partition plus the total. ``dask-local``
starts a :class:`distributed.LocalCluster` (worker processes on 127.0.0.1) for the command and
stops it after; ``tcp://host:port`` connects to a running Dask scheduler. On Dask the tasks are
mapped over the partitions and their results are merged pairwise on the workers (a tree
reduction), so only the final result travels to the client. Dask, not the workbench, schedules,
retries the tasks of a worker that died (their inputs are file paths, so any worker can redo them)
and spills; we only choose what a task is.

A command that runs notebooks starts its ``dask-local`` cluster once and passes the scheduler's
address to the kernels in ``WORKBENCH_DASK_ADDRESS`` (:func:`cluster`), so the phases connect to it
instead of starting a cluster each.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.exceptions import ExecutorError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import DaskConfig

T = TypeVar("T")
R = TypeVar("R")
ADDRESS_ENV = "WORKBENCH_DASK_ADDRESS"  # a dask-local cluster the running command started (see cluster())


class LocalExecutor:
    """Run tasks one after the other in this process (``executor: local``)."""

    name = "local"

    def map(self, fn: Callable[..., R], items: Sequence[Any], *args: Any) -> list[R]:
        """``[fn(item, *args) for item in items]``."""
        return [fn(item, *args) for item in items]

    def map_reduce(self, fn: Callable[..., T], items: Sequence[Any], merge: Callable[[T, T], T], *args: Any) -> T:
        """``fn`` over ``items`` folded with ``merge`` as results come (one partition's result alive at a time)."""
        if not items:
            raise ValueError("map_reduce needs at least one item")
        return functools.reduce(merge, (fn(item, *args) for item in items))

    def workers(self) -> int:
        """How many tasks run at once."""
        return 1


class DaskExecutor:
    """Run tasks on a Dask cluster through a :class:`distributed.Client`; results merge on the workers."""

    def __init__(self, client: Any, name: str) -> None:
        self.client, self.name = client, name

    def map(self, fn: Callable[..., R], items: Sequence[Any], *args: Any) -> list[R]:
        """``fn(item, *args)`` for every item on the cluster, results in item order."""
        return self.client.gather(self._mapped(fn, items, args))

    def map_reduce(self, fn: Callable[..., T], items: Sequence[Any], merge: Callable[[T, T], T], *args: Any) -> T:
        """``fn`` over ``items`` on the workers, merged pairwise in item order (a tree), gathered once."""
        if not items:
            raise ValueError("map_reduce needs at least one item")
        level = self._mapped(fn, items, args)
        while len(level) > 1:  # neighbours merge, so the result is the same fold order every time
            paired = [self.client.submit(merge, level[i], level[i + 1], pure=False) for i in range(0, len(level) - 1, 2)]
            level = paired + ([level[-1]] if len(level) % 2 else [])
        return self.client.gather(level[0])

    def _mapped(self, fn: Callable[..., Any], items: Sequence[Any], args: tuple[Any, ...]) -> list[Any]:
        """One future per item: ``fn(item, *args)``, each argument shared once (see :meth:`_share`)."""
        shared = [self._share(a) for a in args]
        return self.client.map(fn, list(items), *[[s] * len(items) for s in shared], pure=False)

    def _share(self, arg: Any) -> Any:
        """A large argument (a profile) goes to every worker once; small collections travel in the task graph.

        distributed's scatter takes a list, tuple or dict as many items to scatter one by one, so those stay as they are.
        """
        # hash=False: a content-keyed scatter of the same profile in a second call can race the release of the first key (a hang)
        return arg if isinstance(arg, list | tuple | dict | set | str) else self.client.scatter(arg, broadcast=True, hash=False)

    def workers(self) -> int:
        """Worker threads in the cluster now."""
        return max(1, sum(self.client.nthreads().values()))


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ExecutorError("the Dask executor needs the 'distributed' package. Fix: pip install 'workbench[dask]', "
                            "or set executor: local.") from exc
    return distributed


def _local_cluster(options: DaskConfig) -> Any:
    import logging

    distributed = _distributed()
    # processes: one GIL per worker; 127.0.0.1: nothing listens beyond this machine; its HTTP endpoints (metrics, the
    # dashboard when bokeh is installed) on a free loopback port: the default 8787 may be taken by another cluster
    return distributed.LocalCluster(n_workers=options.workers, threads_per_worker=options.threads_per_worker,
                                    memory_limit=options.memory_limit, processes=True, host="127.0.0.1",
                                    dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)


@contextlib.contextmanager
def cluster(spec: str, options: DaskConfig) -> Iterator[str | None]:
    """For ``dask-local``, a LocalCluster for the duration of a command, its address in ``WORKBENCH_DASK_ADDRESS``.

    Yields the scheduler address (None for other executors, which need nothing started). Child
    processes (the notebooks' kernels) inherit the variable and connect to this cluster.
    """
    if spec != "dask-local" or os.environ.get(ADDRESS_ENV):
        yield os.environ.get(ADDRESS_ENV) if spec == "dask-local" else None
        return
    with _local_cluster(options) as local:
        os.environ[ADDRESS_ENV] = local.scheduler_address
        try:
            yield local.scheduler_address
        finally:
            os.environ.pop(ADDRESS_ENV, None)


@contextlib.contextmanager
def open_executor(spec: str, options: DaskConfig) -> Iterator[LocalExecutor | DaskExecutor]:
    """The executor ``spec`` names (the config's ``executor:``), closed on exit.

    ``dask-local`` uses the cluster the command started (``WORKBENCH_DASK_ADDRESS``), else starts
    one for this block. A ``tcp://`` scheduler that does not answer within ``dask.connect_timeout_s``
    raises :class:`ExecutorError` naming the address and the fix.
    """
    if spec == "local":
        yield LocalExecutor()
        return
    distributed = _distributed()
    address = os.environ.get(ADDRESS_ENV) if spec == "dask-local" else spec
    with contextlib.ExitStack() as stack:
        if address is None:
            address = stack.enter_context(_local_cluster(options)).scheduler_address
        try:
            client = stack.enter_context(distributed.Client(address, timeout=f"{options.connect_timeout_s}s",
                                                            set_as_default=False))
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"cannot reach the Dask scheduler at {address} ({exc}). Fix: start it (`dask scheduler`, then "
                                "`dask worker ADDRESS` per machine), check the address in the config's 'executor' key, "
                                "or set executor: local.") from exc
        yield DaskExecutor(client, spec)
