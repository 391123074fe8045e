"""Widgets every app shares: the frame (title, status line), the run/batch and model-version pickers.

Widget values come back from the browser, so the run picker re-validates the chosen id
(:meth:`AppContext.pick`) before anything is read, and a callback that fails shows a message
in the status line instead of a traceback.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.apps import _render as r
from workbench.apps._context import RunRefused
from workbench.apps._render import version_key
from workbench.exceptions import WorkbenchError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.apps._context import AppContext, Choice


def start(ctx: AppContext, phase: str, what: str, build: Callable[[AppContext, list[Choice], Choice], Any], *, command: str = "workbench monitor") -> Any:
    """The app's widget, or a plain HTML message (visible without JavaScript) when it cannot be shown."""
    from IPython.display import HTML

    choices = ctx.choices(phase)
    if not choices:
        return HTML(r.STYLE + r.not_produced(what, command))
    try:
        chosen = ctx.pick(phase)
    except RunRefused as exc:
        return HTML(r.STYLE + r.message(str(exc), "error"))
    return build(ctx, choices, chosen).widget


class Frame:
    """Title, the pickers row, a status line, the answer (one sentence and one chart), the body and a download link.

    Every app leads with its answer for the chosen batch (:meth:`answer`), then the detail in
    ``body``; the same answer and the detail parts make the self-contained download.
    """

    def __init__(self, title: str, subtitle: str = "") -> None:
        import ipywidgets as w

        self.name = title
        # The notebook's markdown cell carries the page title; this line says what the app answers.
        self.title = w.HTML(r.STYLE + f'<div class="wb-app" title="{html.escape(title)}" style="color:#4a5568;font-size:15px">{html.escape(subtitle)}</div>')
        self.status = w.HTML()
        self.controls = w.HBox(layout=w.Layout(flex_flow="row wrap"))  # no gap=: ipywidgets 8.1 Layout has no such trait (a warning)
        self.controls.add_class("wb-controls")
        self.lead = w.HTML()
        self.chart = image()
        self.chart.layout.display = "none"  # until an answer comes with a chart (an empty image shows a broken-image icon)
        self.body = w.VBox()
        self.download = w.HTML()
        self.download.add_class("wb-download")
        self.widget = w.VBox([self.title, self.controls, self.status, self.lead, self.chart, self.body, self.download],
                             layout=w.Layout(max_width="1100px", width="100%"))
        self.widget.add_class("wb-app")

    def answer(self, sentence: str, *, kind: str = "info", more: str = "", chart: bytes | None = None, detail: list[str] | None = None,
               filename: str = "report.html") -> None:
        """Show the app's answer (one sentence, one chart) and offer it with ``detail`` (HTML parts) as a download."""
        self.lead.value = r.lead(sentence, kind, more)
        if chart is not None:
            self.chart.value = chart
        self.chart.layout.display = None if chart is not None else "none"
        parts = [self.lead.value] + ([r.inline_png(chart, sentence)] if chart is not None else []) + list(detail or [])
        self.download.value = r.download_link(filename, r.document(self.name, parts))

    def error(self, text: str) -> None:
        """Show a problem in the status line."""
        self.status.value = r.message(text, "error")

    def clear(self) -> None:
        """Clear the status line."""
        self.status.value = ""

    def guard(self, fn: Callable[..., None]) -> Callable[..., None]:
        """Wrap a callback so a failure becomes a message, not a traceback."""
        def wrapped(*args: Any) -> None:
            if args and isinstance(args[0], dict) and getattr(args[0].get("owner"), "_wb_quiet", False):
                return  # the app is setting this picker itself (see set_options)
            try:
                fn(*args)
            except (WorkbenchError, OSError, ValueError, KeyError) as exc:
                self.error(f"Could not show this selection: {exc}")

        return wrapped


class RunPicker:
    """A run/batch dropdown (newest first) filtered by a model-version dropdown."""

    def __init__(self, ctx: AppContext, phase: str, choices: list[Choice], chosen: Choice, on_change: Callable[[Choice], None], frame: Frame) -> None:
        import ipywidgets as w

        self.ctx, self.phase, self.choices, self.on_change, self.frame = ctx, phase, choices, on_change, frame
        semver = {c.version: c.semver for c in choices if c.version}
        versions = sorted(semver, key=version_key, reverse=True)
        self.version = w.Dropdown(options=[("all versions", "")] + [(f"v{v} ({semver[v]})" if semver[v] else f"v{v}", v) for v in versions],
                                  value="", description="Model", layout=w.Layout(width="220px"))
        self.run = w.Dropdown(options=self._options(""), value=chosen.run_id, description="Run / batch", layout=w.Layout(width="560px"),
                              style={"description_width": "initial"})
        self.run.observe(frame.guard(self._run_changed), "value")
        self.version.observe(frame.guard(self._version_changed), "value")
        self.widgets = [self.run, self.version]

    def _options(self, version: str) -> list[tuple[str, str]]:
        return [(c.label, c.run_id) for c in self.choices if not version or c.version == version]

    def _version_changed(self, change: dict) -> None:
        current = self.run.value
        set_options(self.run, self._options(change["new"]), current)
        if self.run.value != current and self.run.value:
            self._run_changed({"new": self.run.value})

    def _run_changed(self, change: dict) -> None:
        if not change["new"]:
            return
        self.frame.clear()
        try:
            choice = self.ctx.pick(self.phase, str(change["new"]))
        except RunRefused as exc:
            self.frame.error(str(exc))
            return
        self.on_change(choice)


class LazyTabs:
    """Tabs whose content is (re)built only when shown, so a run change renders one tab, not all."""

    def __init__(self, pages: dict[str, Callable[[], list[Any]]], frame: Frame) -> None:
        import ipywidgets as w

        self.pages = pages
        self.names = list(pages)
        self.boxes = [w.VBox() for _ in pages]
        self.tab = w.Tab(children=self.boxes, titles=self.names)
        self.fresh: set[int] = set()
        self.tab.observe(frame.guard(lambda change: self.render()), "selected_index")

    def invalidate(self) -> None:
        """Forget what was rendered (the run changed) and render the visible tab."""
        self.fresh.clear()
        self.render()

    def render(self) -> None:
        """Build the visible tab when it is not up to date."""
        index = self.tab.selected_index or 0
        if index not in self.fresh:
            self.boxes[index].children = self.pages[self.names[index]]()
            self.fresh.add(index)


def set_options(dropdown: Any, options: list, prefer: Any = None) -> None:
    """Replace a dropdown's options, keeping ``prefer`` when still offered, without firing its callbacks."""
    values = [o[1] if isinstance(o, tuple) else o for o in options]
    dropdown._wb_quiet = True
    try:
        dropdown.options = options
        dropdown.value = prefer if prefer in values else (values[0] if values else None)
    finally:
        dropdown._wb_quiet = False


def image() -> Any:
    """A PNG image widget shown at its natural size (never stretched), shrinking to fit narrow windows."""
    import ipywidgets as w

    widget = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto"))

    def natural_width(change: dict) -> None:
        # A PNG's width is the big-endian integer at bytes 16-19 (its IHDR chunk).
        data = bytes(change["new"][:24])  # ipywidgets may hand over a memoryview
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            widget.width = str(int.from_bytes(data[16:20], "big"))

    widget.observe(natural_width, "value")
    return widget
