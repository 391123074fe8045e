"""Governance: the audit trail, roles and permissions, approvals, alias actions, retrain requests and canary routing.

Modules (import them directly; this package imports none of them, so every part can write to
the audit trail without pulling in the rest):

- :mod:`~workbench.governance.audit` — the append-only, hash-chained audit trail (imports no other part);
- :mod:`~workbench.governance.roles` — roles and the permission matrix;
- :mod:`~workbench.governance.approvals` — pending approvals and their evidence;
- :mod:`~workbench.governance.actions` — approve, reject, promote, rollback;
- :mod:`~workbench.governance.intents` — alias moves bracketed by an intent record and the verb's commit record;
- :mod:`~workbench.governance.alias_history` — which version held an alias when, and moves never committed;
- :mod:`~workbench.governance.consistency` — MLflow aliases against the audit log (``audit verify``, ``audit reconcile``);
- :mod:`~workbench.governance.config_log` — config changes recorded in the audit trail;
- :mod:`~workbench.governance.requests` — retrain requests awaiting a person;
- :mod:`~workbench.governance.canary` — the deterministic canary routing rule.

Every verb checks the actor's role first (a refusal is audited as ``denied``), acts on the MLflow
registry under the registry lock — an ``intent`` record first, then the alias moves, then the verb's
audit event (``approve``, ``reject``, ``promote``, ``rollback``; subject ``project/version``; details with
``semver``, ``reason`` and the ``intent`` it commits) and, for
promotions and rollbacks, a changelog entry. Alias moves are recorded in those events, so the
tamper-evident audit log is also the alias history.
"""
