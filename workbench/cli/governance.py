"""Governance sub-commands: ``audit verify|log|access|repair|reconcile``, ``approvals``, ``approve``,
``reject``, ``promote``, ``rollback``, ``retrain``, ``aliases`` and ``whoami``.

Every handler checks the actor's role through :mod:`workbench.governance.roles` (a refusal
exits 3 and is audited). Text a user passes (``--dataset``, ``--reason``, ``--model``…) is
checked against :data:`LIMITS` before anything else: too long, or holding control characters,
exits 2 with nothing audited.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from typing import Any

from workbench import runner
from workbench.cli._common import config_arg, load
from workbench.cli.gate import add_threshold_args
from workbench.exceptions import AuditError, ParameterError
from workbench.governance import actions, alias_history, approvals, audit, consistency, gate, intents, roles
from workbench.runner import triggers

# Longest value (characters) of each option that takes free text; a path may be as long as PATH_MAX.
LIMITS = {"dataset": 4096, "reason": 2000, "model": 256, "action": 64, "since": 64, "version": 64, "request": 256, "on": 64,
          "alias": 64}


def register(sub: Any) -> dict[str, Any]:
    """Add the governance sub-commands to ``sub``; return ``{name: handler}``."""
    audit = sub.add_parser("audit", help="audit trail: verify the hash chain, list records, answer a data-access request")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    config_arg(actions.add_parser("verify", help="check the audit log's hash chain and that the MLflow aliases match it; "
                                                 "names the first broken record and every divergence"))
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
    repair = actions.add_parser("repair", help="remove a torn last record (a crash or full disk mid-append) and record the repair (admin)")
    config_arg(repair)
    repair.add_argument("--reason", required=True, help="why; recorded in the repair record")
    reconcile = actions.add_parser("reconcile", help="record the MLflow aliases as they are, closing uncommitted alias moves (admin)")
    config_arg(reconcile)
    reconcile.add_argument("--reason", required=True, help="why; recorded in the reconcile record")

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
    retrain.add_argument("--gate", action="store_true", help="judge the new challenger with `workbench gate` (against the champion) "
                                                             "before filing the approval; a failure files none and exits 1")
    add_threshold_args(retrain)
    retrain.add_argument("--dry-run", action="store_true", help="print what would run (due or not, why, the data window, the gate) "
                                                                "and change nothing")
    aliases = sub.add_parser("aliases", help="alias history: which version held champion/challenger/baseline, and when")
    config_arg(aliases)
    aliases.add_argument("--on", help="only the version holding --alias on this ISO date or time (UTC)")
    aliases.add_argument("--alias", default=None, help="one alias (default: all; with --on: champion)")
    whoami = sub.add_parser("whoami", help="the acting user (WORKBENCH_USER, else the OS user) and their role")
    config_arg(whoami)
    handlers = {"audit": _audit, "approvals": _approvals, "approve": _approve, "reject": _reject, "promote": _promote,
                "rollback": _rollback, "retrain": _retrain, "aliases": _aliases, "whoami": _whoami}
    return {name: _bounded(handler) for name, handler in handlers.items()}


def _bounded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``handler``, refusing over-long or multi-line option values first (exit 2, nothing read or audited)."""
    @functools.wraps(handler)
    def checked(args: argparse.Namespace) -> int:
        for name, limit in LIMITS.items():
            value = getattr(args, name, None)
            if not isinstance(value, str):
                continue
            flag = name if name == "version" else f"--{name}"
            if len(value) > limit:
                raise ParameterError(f"{flag} is {len(value)} characters long (at most {limit}). Fix: pass a shorter value"
                                     + (" (a file name or a sha256 prefix of 12+ characters)." if name == "dataset" else "."))
            if not value.isprintable():
                raise ParameterError(f"{flag} holds a control character (e.g. a newline): {_printable(value[:60])!r}. "
                                     "Fix: pass one line of text.")
        return handler(args)
    return checked


def _printable(text: Any) -> str:
    """``text`` with control characters escaped, so a recorded value cannot rewrite the terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))


def _load(args: argparse.Namespace, action: str, subject: str = "") -> Any:
    config = load(args)
    roles.require(config, action, subject)
    return config


def _audit(args: argparse.Namespace) -> int:
    if args.audit_command == "verify":
        return _verify(_load(args, "view"))
    if args.audit_command in ("repair", "reconcile"):
        return _repair(args)
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


def _verify(config: Any) -> int:
    """The chain, then the MLflow aliases against the log (under the registry lock, so no verb is half-way)."""
    result, where = audit.verify(config.store), audit.log_path(config.store)
    if not result.ok:
        print(f"audit log BROKEN: {result.problem} ({where})", file=sys.stderr)
    try:
        with intents.registry_lock(config, timeout=120):
            problems = consistency.divergences(config)
    except AuditError:  # records unreadable: the chain problem above says which
        return 1
    for problem in problems:
        print(f"aliases DIVERGE: {problem} Fix: `workbench audit reconcile --reason \"...\"` (admin) records the aliases "
              "as MLflow holds them; `workbench promote` moves the champion back.", file=sys.stderr)
    if result.ok and not problems:
        print(f"audit log OK: {result.records} records, chain intact, aliases match ({where})")
        return 0
    return 1


def _repair(args: argparse.Namespace) -> int:
    config = load(args)
    roles.require(config, "audit_repair", str(audit.log_path(config.store)))
    if args.audit_command == "repair":
        event = audit.repair(config.store, reason=args.reason)
        d = event["details"]
        print(f"audit log repaired: removed {d['torn_bytes']} torn bytes after record {d['records_kept']} (kept in {d['torn_saved']}); "
              f"{d['records_lost']} counted record(s) lost; repair record {event['hash'][:12]}")
        return 0
    with intents.registry_lock(config, timeout=120):
        event = consistency.reconcile(config, reason=args.reason)
    if event is None:
        print("aliases already match the audit log: nothing to reconcile")
        return 0
    moves = ", ".join(f"{m['alias']} {m['from'] or '-'} -> {m['to'] or '-'}" for m in event["details"]["alias_moves"]) or "none"
    print(f"reconciled: recorded alias moves [{moves}], closed {len(event['details']['resolves'])} uncommitted intent(s); "
          f"record {event['hash'][:12]}")
    return 0


def _line(event: dict[str, Any]) -> str:
    d = event["details"]
    keys = ("semver", "reason", "purpose", "sha256", "rows", "attempted", "required_role", "trigger", "batch", "run_id")
    facts = " ".join(f"{k}={_printable(str(d[k])[:60])}" for k in keys if d.get(k) not in (None, "", []))
    moves = ", ".join(f"{m['alias']}: {m['from'] or '-'} -> {m['to'] or '-'}" for m in d.get("alias_moves") or [])
    return (f"{event['ts'][:19]}  {_printable(event['actor']):<12} {_printable(event['action']):<18} {_printable(event['subject'][:200])}  "
            f"{facts}" + (f"  [{_printable(moves)}]" if moves else ""))


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
    if not args.gate and (args.min_delta is not None or args.max_fairness_gap is not None):
        raise ParameterError("--min-delta and --max-fairness-gap set the gate's thresholds. Fix: add --gate, or leave them out.")
    limits = gate.thresholds(config, args.min_delta, args.max_fairness_gap) if args.gate else None  # refused before anything runs
    if args.dry_run:
        return _retrain_plan(config, args, limits)
    judge = None if limits is None else functools.partial(_judge, config, limits)
    outcome = triggers.retrain(config, trigger=args.trigger, reason=args.reason, request_id=args.request, jobs=args.jobs, gate=judge)
    if outcome.run is not None:
        print(runner.summary(outcome.run, config))
    if outcome.status == "gate failed":  # the gate's one line (and what became of the version) is the error
        print(outcome.message, file=sys.stderr)
    else:
        print(f"retrain ({args.trigger}): {outcome.message}")
    return outcome.exit_code


def _judge(config: Any, limits: gate.Thresholds, version: str, facts: dict[str, Any]) -> gate.GateResult:
    return gate.check(config, version=version, against="champion", min_delta=limits.min_delta, max_fairness_gap=limits.max_fairness_gap,
                      context=facts)


def _retrain_plan(config: Any, args: argparse.Namespace, limits: gate.Thresholds | None) -> int:
    """``--dry-run``: the plan, and nothing run, written or recorded."""
    roles.require(config, "view", f"{config.project} (retrain dry run)")
    plan = triggers.plan(config, trigger=args.trigger, reason=args.reason, request_id=args.request)
    lines = plan.lines()
    if plan.due and limits is not None:
        lines += [f"  then: the gate against the champion: {limits.describe()}",
                  "  then: passed -> a pending approval request carrying the gate's result (`workbench approvals`); "
                  "failed -> no approval, exit 1"]
    elif plan.due:
        lines.append("  then: a pending approval request for the new challenger (`workbench approvals`); nothing is promoted")
    print("\n".join([*lines, "dry run: nothing was run, written or recorded"]))
    return 0


def _aliases(args: argparse.Namespace) -> int:
    config = _load(args, "view")
    if args.on:
        alias = args.alias or "champion"
        version = alias_history.champion_on(config, args.on, alias)
        print(f"{alias} on {args.on}: " + (f"v{version}" if version else "none"))
        doubtful = alias_history.uncommitted(config, alias, before=args.on)
    else:
        for row in alias_history.alias_history(config, args.alias):
            print(f"{row['ts'][:19]}  {row['alias']:<10} {row['previous'] or '-':>4} -> {row['version'] or '-':<4} "
                  f"{row['action']:<9} by {_printable(row['actor'])}: {_printable(row['reason'])}")
        doubtful = alias_history.uncommitted(config, args.alias)
    for intent in doubtful:
        print(f"UNCERTAIN: {alias_history.describe(intent)}: the move may have happened. Fix: `workbench audit verify`, then "
              "`workbench audit reconcile --reason \"...\"` (admin).", file=sys.stderr)
    return 1 if doubtful else 0


def _whoami(args: argparse.Namespace) -> int:
    config = load(args)
    role = roles.role_of(config)
    note = " (no roles section: everyone is admin)" if config.roles is None else ""
    print(f"{audit.actor()}: {role or 'no role'}{note}")
    return 0
