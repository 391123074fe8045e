"""Config of the scale-out engine: ``executor:`` and its ``dask:`` options (README, 'Scale-out with Dask')."""

from __future__ import annotations

import re

from pydantic import Field

from workbench.config._base import _Strict

EXECUTORS = ("local", "dask-local")
# a Dask scheduler address as distributed's Client takes it: tcp://host:port (tls:// when the cluster uses TLS)
ADDRESS = re.compile(r"^(tcp|tls)://[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def check_executor(value: str) -> str:
    """``local``, ``dask-local`` or a scheduler address ``tcp://host:port``; anything else names the choices."""
    if value in EXECUTORS or ADDRESS.match(value):
        return value
    raise ValueError("must be 'local' (default), 'dask-local' (a local Dask cluster per command) or a Dask scheduler address "
                     "such as 'tcp://10.0.0.5:8786'")


class DaskConfig(_Strict):
    """How the Dask executors split and run the work (``executor: dask-local`` or ``tcp://...``)."""

    workers: int = Field(2, ge=1, le=512)  # dask-local: worker processes of the cluster the command starts
    threads_per_worker: int = Field(1, ge=1, le=64)  # dask-local: threads per worker process
    memory_limit: str = "auto"  # dask-local: per worker, as distributed takes it ("4GB"; "auto": the machine's memory / workers)
    partition_rows: int = Field(1_000_000, ge=1_000, le=100_000_000)  # rows per task (whole Parquet row groups; one CSV file is one task)
    connect_timeout_s: float = Field(30.0, gt=0, le=600)  # tcp://: how long to wait for the scheduler before failing
