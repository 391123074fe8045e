"""Governance sub-commands: ``audit verify|log|access``, ``approvals``, ``approve``, ``reject``,
``promote``, ``rollback``, ``retrain``, ``aliases`` and ``whoami``.

Every handler checks the actor's role through :mod:`workbench.governance.roles` (a refusal
exits 3 and is audited).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from workbench import runner
from workbench.cli._common import config_arg, load
from workbench.governance import actions, alias_history, approvals, audit, roles
from workbench.runner import triggers


def register(sub: Any) -> dict[str, Any]:
    """Add the governance sub-commands to ``sub``; return ``{name: handler}``."""
    audit = sub.add_parser("audit", help="audit trail: verify the hash chain, list records, answer a data-access request")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    config_arg(actions.add_parser("verify", help="check the audit log's hash chain; names the first broken record"))
    log = actions.add_parser("log", help="list audit records, oldest first")
    config_arg(log)
    log.add_argument("--since", help="ISO date or time (UTC), e.g. 2026-05-01")
    log.add_argument("--action", help="one action, e.g. approve, rollback, data_access, denied")
    log.add_argument("--model", help="PROJECT or PROJECT/VERSION (default: every subject)")
    log.add_argument("--json", action="store_true", help="one JSON record per line")
    access = actions.add_parser("access", help="who read a dataset, when and why (a GDPR/CCPA data-access request)")
    config_arg(access)
    access.add_argument("--dataset", required=True, help="file path, file name or sha256 (12+ characters) of the dataset")
    access.add_argument("--json", action="store_true", help="one JSON record per line")

    approvals = sub.add_parser("approvals", help="challengers awaiting a decision, with their evidence")
    config_arg(approvals)
    approvals.add_argument("--all", action="store_true", help="also decided approvals")
    approvals.add_argument("--json", action="store_true", help="the approval files as JSON")
    for name, text in (("approve", "approve a challenger: it becomes champion (approver role)"),
                       ("reject", "reject a challenger, with a reason (approver role)"),
                       ("promote", "make any candidate version champion, with a reason (approver role)")):
        p = sub.add_parser(name, help=text)
        config_arg(p)
        p.add_argument("version", help="MLflow version number (e.g. 3) or semantic version (e.g. 1.1.0)")
        p.add_argument("--reason", default="", required=name != "approve", help="why; recorded in the audit log")
    back = sub.add_parser("rollback", help="restore the previous champion, with a reason (approver role)")
    config_arg(back)
    back.add_argument("--reason", required=True, help="why; recorded in the audit log and changelog")
    retrain = sub.add_parser("retrain", help="retrain a challenger on the data window and file a pending approval")
    config_arg(retrain)
    retrain.add_argument("--trigger", choices=("manual", "scheduled", "event"), default="manual",
                         help="manual (default); scheduled: only when the champion is older than retrain.max_age_days; "
                              "event: the pending drift retrain requests")
    retrain.add_argument("--reason", default="", help="why (manual trigger)")
    retrain.add_argument("--request", help="retrain for this request id (default: per trigger)")
    retrain.add_argument("--jobs", type=int, help="phases run in parallel (default: number of cores)")
    aliases = sub.add_parser("aliases", help="alias history: which version held champion/challenger/baseline, and when")
    config_arg(aliases)
    aliases.add_argument("--on", help="only the version holding --alias on this ISO date or time (UTC)")
    aliases.add_argument("--alias", default=None, help="one alias (default: all; with --on: champion)")
    whoami = sub.add_parser("whoami", help="the acting user (WORKBENCH_USER, else the OS user) and their role")
    config_arg(whoami)
    return {"audit": _audit, "approvals": _approvals, "approve": _approve, "reject": _reject, "promote": _promote,
            "rollback": _rollback, "retrain": _retrain, "aliases": _aliases, "whoami": _whoami}


def _load(args: argparse.Namespace, action: str, subject: str = "") -> Any:
    config = load(args)
    roles.require(config, action, subject)
    return config


def _audit(args: argparse.Namespace) -> int:
    if args.audit_command == "verify":
        config = _load(args, "view")
        result = audit.verify(config.store)
        if result.ok:
            print(f"audit log OK: {result.records} records, chain intact ({audit.log_path(config.store)})")
            return 0
        print(f"audit log BROKEN: {result.problem} ({audit.log_path(config.store)})", file=sys.stderr)
        return 1
    if args.audit_command == "access":
        config = _load(args, "audit_access", args.dataset)
        events = audit.access(config.store, args.dataset)
        audit.record(config.store, "access_report", args.dataset, records=len(events), reason="data-access request")
        if not events and not args.json:
            print(f"no recorded reads of {args.dataset!r}")
    else:
        config = _load(args, "view")
        events = audit.query(config.store, since=args.since, action=args.action, model=args.model)
    for e in events:
        print(json.dumps(e, sort_keys=True) if args.json else _line(e))
    return 0


def _line(event: dict[str, Any]) -> str:
    d = event["details"]
    keys = ("semver", "reason", "purpose", "sha256", "rows", "attempted", "required_role", "trigger", "batch", "run_id")
    facts = " ".join(f"{k}={str(d[k])[:60]!s}" for k in keys if d.get(k) not in (None, "", []))
    moves = ", ".join(f"{m['alias']}: {m['from'] or '-'} -> {m['to'] or '-'}" for m in d.get("alias_moves") or [])
    return f"{event['ts'][:19]}  {event['actor']:<12} {event['action']:<18} {event['subject']}  {facts}" + (f"  [{moves}]" if moves else "")


def _approvals(args: argparse.Namespace) -> int:
    config = _load(args, "view")
    found = approvals.list_approvals(config) if args.all else approvals.pending_approvals(config)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found:
        print("no pending approvals" if not args.all else "no approvals yet")
    for a in found:
        ev = a["evidence"]
        m = ev.get("metrics", {})
        primary = m.get("primary", "")
        canary = "; ".join(f"{c['batch']}: {c.get('verdict', c.get('status'))}" for c in ev.get("canary", [])) or "none yet"
        print(f"v{a['version']} ({a['semver']})  {a['status']:<9} trigger={a['trigger']} requested_by={a['requested_by']} {a['created'][:19]}\n"
              f"  holdout {primary}: challenger {_metric(m, 'candidate')}, champion {_metric(m, 'champion')}, baseline {_metric(m, 'baseline')}; "
              f"recommendation: {ev.get('decision', {}).get('recommendation', '-')}\n"
              f"  fairness failed: {', '.join(ev.get('fairness', {}).get('failed_attributes', [])) or 'none'}; "
              f"drift: {'; '.join(r for d in ev.get('drift', []) for r in d['reasons'])[:200] or '-'}\n  canary: {canary}\n"
              f"  rows the champion never trained on: {_unseen(ev.get('unseen', {}))}"
              + (f"\n  decision: {a['decision']['status']} by {a['decision']['actor']}: {a['decision']['reason']}" if a.get("decision") else ""))
    return 0


def _metric(metrics: dict[str, Any], role: str) -> str:
    return f"{metrics[role]['value']:.4f}" if role in metrics else "-"


def _unseen(found: dict[str, Any]) -> str:
    parts = [f"{name.replace('_', ' ')} ({r['rows']} rows): {r.get('verdict', r.get('status'))}"
             for name, r in found.items() if isinstance(r, dict)]
    return "; ".join(parts) or found.get("status", "-")


def _approve(args: argparse.Namespace) -> int:
    event = actions.approve(load(args), args.version, reason=args.reason)
    print(f"approved: {event['subject']} ({event['details']['semver']}) is now champion "
          f"(was v{event['details']['previous_champion']}); audit record {event['hash'][:12]}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    event = actions.promote(load(args), args.version, reason=args.reason)
    print(f"promoted: {event['subject']} ({event['details']['semver']}) is now champion (was v{event['details']['previous_champion']})")
    return 0


def _reject(args: argparse.Namespace) -> int:
    event = actions.reject(load(args), args.version, reason=args.reason)
    print(f"rejected: {event['subject']} ({event['details']['semver']}); the champion is unchanged")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    event = actions.rollback(load(args), reason=args.reason)
    d = event["details"]
    print(f"rolled back: {event['subject']} ({d['semver']}) demoted; v{d['restored_version']} ({d['restored_semver']}) is champion again")
    return 0


def _retrain(args: argparse.Namespace) -> int:
    config = load(args)
    outcome = triggers.retrain(config, trigger=args.trigger, reason=args.reason, request_id=args.request, jobs=args.jobs)
    if outcome.run is not None:
        print(runner.summary(outcome.run, config))
    print(f"retrain ({args.trigger}): {outcome.message}")
    return outcome.exit_code


def _aliases(args: argparse.Namespace) -> int:
    config = _load(args, "view")
    if args.on:
        alias = args.alias or "champion"
        version = alias_history.champion_on(config, args.on, alias)
        print(f"{alias} on {args.on}: " + (f"v{version}" if version else "none"))
        return 0
    for row in alias_history.alias_history(config, args.alias):
        print(f"{row['ts'][:19]}  {row['alias']:<10} {row['previous'] or '-':>4} -> {row['version'] or '-':<4} "
              f"{row['action']:<9} by {row['actor']}: {row['reason']}")
    return 0


def _whoami(args: argparse.Namespace) -> int:
    config = load(args)
    role = roles.role_of(config)
    note = " (no roles section: everyone is admin)" if config.roles is None else ""
    print(f"{audit.actor()}: {role or 'no role'}{note}")
    return 0
