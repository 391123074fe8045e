"""What every app starts from: the project config, the visitor's query string and the run choices.

The query string and widget values are untrusted: a run id is checked for its shape
(:func:`workbench.reports.manifest.check_run_id`) and must name a stored run in which the app's
phase succeeded; anything else is refused with a message, never looked up as a path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from workbench._io import apply_safe_env
from workbench.config import load_config as _load
from workbench.exceptions import RunRefused, WorkbenchError
from workbench.reports import catalog
from workbench.reports.manifest import check_run_id

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.reports.catalog import RunInfo

CONFIG_ENV = "WORKBENCH_CONFIG"
MAX_QUERY = 2000  # longer query strings are ignored: nothing an app accepts is that long



@dataclass(frozen=True)
class Choice:
    """One monitored run as the pickers show it: its batch and the model version that scored it."""

    run_id: str
    batch: str
    version: str
    semver: str
    role: str
    started: str
    info: Any = field(repr=False, compare=False)

    @property
    def model(self) -> str:
        """The scoring model as the summary tiles show it: ``v1 (1.0.0)``, or ``?`` when unknown."""
        return f"v{self.version} ({self.semver})" if self.version else "?"

    @property
    def label(self) -> str:
        """What the run picker shows."""
        version = f"v{self.version}" if self.version else "v?"
        # When the batch was checked, not the run id: people tell two checks of one batch apart by their time.
        when = self.started[:16].replace("T", " ") if self.started else self.run_id
        return f"{self.batch} · model {version}{' (fallback)' if self.role == 'baseline' else ''} · checked {when}{' UTC' if self.started else ''}"


class AppContext:
    """The config, the visitor's query parameters and the stored runs, read once per visit."""

    def __init__(self, config: Config, query: dict[str, str]) -> None:
        self.config = config
        self.query = query
        self._runs: list[RunInfo] | None = None
        self._choices: dict[str, list[Choice]] = {}

    @property
    def base_url(self) -> str:
        """The server's base URL (Voila passes it to the kernel)."""
        return os.environ.get("VOILA_BASE_URL", "/")

    def runs(self) -> list[RunInfo]:
        """Every readable run, oldest first."""
        if self._runs is None:
            self._runs = catalog.list_runs(self.config)
        return self._runs

    def choices(self, phase: str) -> list[Choice]:
        """Runs in which ``phase`` succeeded, newest first."""
        if phase not in self._choices:
            self._choices[phase] = [_choice(info) for info in reversed(self.runs()) if info.phase_status(phase) == "succeeded"]
        return self._choices[phase]

    def pick(self, phase: str, run_id: str | None = None) -> Choice:
        """The run to show: ``run_id`` (else the URL's ``run``) validated against the stored runs, else the newest.

        Raises
        ------
        RunRefused
            When the id is malformed (e.g. a path) or names no run in which ``phase`` succeeded.
        """
        wanted = run_id if run_id is not None else self.query.get("run", "")
        options = self.choices(phase)
        if not wanted:
            if not options:
                raise RunRefused(f"no run with {phase} results yet")
            return options[0]
        try:
            check_run_id(wanted)
        except WorkbenchError as exc:
            raise RunRefused(f"refused: {exc}") from None
        for choice in options:
            if choice.run_id == wanted:
                return choice
        raise RunRefused(f"refused: run {wanted!r} has no {phase} catalog. Fix: pick a run from the list (`workbench runs` lists them).")


def _choice(info: RunInfo) -> Choice:
    try:
        score = info.read("score") or {}
    except (OSError, ValueError):
        score = {}
    batch = str(score.get("batch", {}).get("name", "")).rsplit(".", 1)[0] or info.manifest.get("kind", "run")
    model = score.get("model", {})
    return Choice(info.run_id, batch, str(model.get("version", "")), str(model.get("semver", "")), str(model.get("role", "")),
                  info.manifest.get("started", ""), info)


def query_params() -> dict[str, str]:
    """The visitor's query parameters (first value of each), or ``{}`` outside Voila.

    A pre-heated kernel waits here until a visitor arrives (Voila then sends the request's
    query string); everything before this call ran ahead of time.
    """
    if "VOILA_PREHEAT" not in os.environ and "QUERY_STRING" not in os.environ:
        return {}
    from voila.utils import get_query_string

    text = get_query_string() or ""
    if len(text) > MAX_QUERY:
        return {}
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=False).items() if key != "token"}


def load_config(config: str = "") -> Config:
    """The project config: ``config`` when given, else ``$WORKBENCH_CONFIG`` (set by ``workbench serve``)."""
    apply_safe_env()
    path = config or os.environ.get(CONFIG_ENV, "")
    if not path:
        raise WorkbenchError(f"no project config: start the apps with `workbench serve` (it sets ${CONFIG_ENV}), or pass config=PATH.")
    return _load(path)


def context(config: str = "", run: str = "") -> AppContext:
    """Everything an app needs for one visit: the config, the query (``run`` overrides the URL's) and the runs."""
    query = query_params()
    if run:
        query["run"] = run
    return AppContext(load_config(config), query)
