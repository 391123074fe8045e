"""Federated learning and monitoring across data sites, with Flower: rows stay at their site, only updates travel.

- :mod:`~workbench.federated.train` — ``workbench federated train``: one Flower server process and one
  process per site (``sites:``), site admission by secret, TLS when configured, the encoder merged
  from per-site summaries, FedAvg (logistic/linear) or bagging of per-site trees, federated
  evaluation, and the aggregated model registered like any other version;
- :mod:`~workbench.federated.watch` — ``workbench federated monitor``: the same processes run the
  ``monitor`` task (statistics of :mod:`workbench.federated.monitoring`) on one batch per site;
- :mod:`~workbench.federated.site` — ``workbench federated site --site NAME``: a site marked
  ``remote: true`` joins a training or monitoring run from its own machine.

Process entry points (``python -m``): ``_server`` and ``_client`` (training), ``_monitor`` (monitoring).
Flower is imported only inside those processes.
"""

from __future__ import annotations

from workbench.federated.train import check, remote_sites, train

__all__ = ["check", "remote_sites", "train"]
