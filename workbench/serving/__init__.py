"""The online scoring service and what the batch score phase shares with it.

- :mod:`~workbench.serving.resilience` — retries (tenacity) and circuit breakers (pybreaker) with
  breaker state shared across worker processes, built from the ``resilience:`` config keys;
- :mod:`~workbench.serving.routing` — the one routing rule: champion, canary arm, fallback to the
  baseline; used by ``workbench api`` and by the batch score phase;
- :mod:`~workbench.serving.models` — the served versions, loaded hash-checked, swapped without a
  restart when an alias moves;
- :mod:`~workbench.serving.requests` — the request schema, generated from a version's feature schema;
- :mod:`~workbench.serving.features` — features a request lacks, read from the feature store by the
  documented fallback rule (online store, offline store, baseline);
- :mod:`~workbench.serving.predlog` — the prediction log, exported as a batch ``workbench monitor`` reads;
- :mod:`~workbench.serving.metrics` — Prometheus metrics (a server's ``/metrics`` or a textfile);
- :mod:`~workbench.serving.app` — the FastAPI application, scoring on the micro-batching thread of
  :mod:`~workbench.serving.batcher`;
- :mod:`~workbench.serving.deploy` — container and Kubernetes files per registered version.

Nothing is imported here, so ``import workbench.serving.routing`` stays light.
"""

# How ``workbench api`` hands the config, the token and the bind to uvicorn's workers.
CONFIG_ENV, TOKEN_ENV, LOOPBACK_ENV = "WORKBENCH_CONFIG", "WORKBENCH_API_TOKEN", "WORKBENCH_API_LOOPBACK"
