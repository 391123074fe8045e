"""What the federated processes say to each other: message keys, the site-admission proof, jobs and events.

Every Flower message between the server and a site carries a task name under :data:`TASK` in its
config (``summary``, ``fit``, ``evaluate``, or a task a site client adds, such as ``monitor``).
Only model parameters, aggregate statistics and metrics travel: no message holds a row.

Admission: when a site process connects, the server sends a fresh random nonce; the site answers
with its name and ``HMAC-SHA256(secret, "<site>:<nonce>")``. The secret never travels and a proof
cannot be replayed (a new nonce per connection). Secrets reach the processes on their standard
input, never on a command line or in a file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
import time
from typing import Any

TASK = "wb.task"  # the task a message asks for
SPEC = "wb.spec"  # the encoder spec (JSON) every site encodes its rows with
ROUND = "wb.round"
EPOCHS = "wb.epochs"
TREES = "wb.trees"  # bagging: trees this site grows
SUMMARY = "wb.summary"  # a site's summary (JSON) in its answer to the summary task
NONCE, SITE, PROOF = "wb.nonce", "wb.site", "wb.proof"
ADMIT = "admit"
SITE_ERROR = "wb.error"  # a site that cannot do a task (a bad file, a missing batch, a spent budget) answers with why, instead of dying unheard
EVENT_PREFIX = "@@wbfed "  # a line a process prints on stdout for the orchestrator (JSON after the prefix)


def new_secret() -> str:
    """A per-run site secret (256 bits), for sites without ``token_env``."""
    return secrets.token_hex(32)


def new_nonce() -> str:
    """A fresh admission challenge."""
    return secrets.token_hex(16)


def proof(secret: str, site: str, nonce: str) -> str:
    """What a site answers to an admission challenge."""
    return hmac.new(secret.encode(), f"{site}:{nonce}".encode(), hashlib.sha256).hexdigest()


def verify(secret: str, site: str, nonce: str, answer: Any) -> bool:
    """True when ``answer`` is the proof of ``site`` for ``nonce`` (constant-time comparison)."""
    return isinstance(answer, str) and hmac.compare_digest(proof(secret, site, nonce), answer)


def read_job() -> dict[str, Any]:
    """The job a process was started with: one JSON object on standard input."""
    return json.loads(sys.stdin.read())


def emit(event: str, **fields: Any) -> None:
    """Print an event line for the orchestrator (wall-clock time ``t`` included, so start-up can be measured)."""
    line = json.dumps({"event": event, "t": time.time(), **fields}, default=str)
    print(EVENT_PREFIX + line, flush=True)


def parse_event(line: str) -> dict[str, Any] | None:
    """The event on an output line, or None for any other line."""
    if not line.startswith(EVENT_PREFIX):
        return None
    try:
        return json.loads(line[len(EVENT_PREFIX):])
    except json.JSONDecodeError:
        return None


def exit_now(code: int) -> None:
    """End a federated process at once: gRPC's threads make an ordinary interpreter exit slow (seconds) or hang."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
