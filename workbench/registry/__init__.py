"""The model registry: the MLflow store, model versions, aliases, semver, changelog, lineage, skops files
and the one estimator table.

``from workbench import registry`` gives the model-version API of :mod:`workbench.registry.versions`
(``registry.load``, ``registry.alias_version``, ``registry.resolve``…); the other modules are
imported by name: :mod:`~workbench.registry.store`, :mod:`~workbench.registry.models`,
:mod:`~workbench.registry.estimators`, :mod:`~workbench.registry.changelog`,
:mod:`~workbench.registry.lineage`.
"""

from __future__ import annotations

from workbench.registry.versions import (
    BUMPS,
    TAG,
    LoadedVersion,
    alias_version,
    baseline_for,
    candidate_versions,
    client_tags,
    create_baseline,
    create_version,
    federated_sites,
    from_file,
    load,
    next_semver,
    resolve,
    set_alias,
    try_load,
    version_file,
)

__all__ = ["BUMPS", "TAG", "LoadedVersion", "alias_version", "baseline_for", "candidate_versions", "client_tags", "create_baseline",
           "create_version", "federated_sites", "from_file", "load", "next_semver", "resolve", "set_alias", "try_load",
           "version_file"]
