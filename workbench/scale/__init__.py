"""Scale-out: the batch statistics and the fan-outs of monitoring, on this process or a Dask cluster.

``executor:`` in the config chooses where (:func:`open_executor`): ``local`` (default: in this
process, one partition at a time), ``dask-local`` (a LocalCluster the command starts and stops) or
``tcp://host:8786`` (a team's running Dask scheduler). What runs there:

- :func:`stats.drift_stats` / :func:`stats.group_counts` (``from workbench.scale import stats``; kept out
  of this module so the command line imports no numpy): a batch's drift statistics and fairness group
  counts, per partition (workers read their Parquet row groups from the path) and tree-reduced
  with the analyses' own merge; exact mode equals the in-memory result bit for bit;
- :func:`monitor_projects`: ``workbench monitor --all-projects DIR``, one task per project.

Dask is the engine (scheduling, retries of a dead worker's tasks, spilling); this part only says
what a task is. Install it with ``pip install 'workbench[dask]'``.
"""

from __future__ import annotations

from workbench.scale._executor import ADDRESS_ENV, DaskExecutor, ExecutorError, LocalExecutor, cluster, open_executor
from workbench.scale._partitions import Partition, batch_files, partitions
from workbench.scale.projects import ProjectOutcome, find_projects, monitor_projects

__all__ = ["ADDRESS_ENV", "DaskExecutor", "ExecutorError", "LocalExecutor", "Partition", "ProjectOutcome", "batch_files", "cluster",
           "find_projects", "monitor_projects", "open_executor", "partitions"]
