"""The model-card app: what a model version is, how good and how fair it is (the answer: one sentence),
then the card itself, inline at its full height.

Cards come from :mod:`workbench.reports.model_card` (``versions(config)``, ``read(config, version)``,
``render_body(card)``): the app renders the stored card JSON with the card's own template (autoescaped,
styles scoped to ``.wb-card``, file paths shown as file names), so no frame of fixed height and no
server path is on the page. "Download this report" saves the card's standalone HTML page. While no
version has a card, the app says the card is not produced yet. A ``version`` in the URL must be one of
the listed versions.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from workbench.apps import _render as r
from workbench.apps._render import version_key
from workbench.apps._widgets import Frame
from workbench.apps.explain import listed
from workbench.exceptions import WorkbenchError
from workbench.reports import model_card

if TYPE_CHECKING:  # pragma: no cover
    from workbench.apps._context import AppContext
    from workbench.config import Config

METRICS = {"roc_auc": "AUC", "average_precision": "average precision", "f1": "F1", "r2": "R²", "rmse": "RMSE", "mae": "MAE",
           "mape": "MAPE", "brier": "Brier score", "log_loss": "log loss"}
COUNTS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def versions(ctx: AppContext) -> list[str]:
    """Versions with a card, newest first; empty when cards are not produced (yet)."""
    try:
        found = [str(v) for v in model_card.versions(ctx.config)]
    except WorkbenchError:
        return []
    return sorted(found, key=version_key, reverse=True)


def app(ctx: AppContext) -> Any:
    """The model-card app for the version in the URL (default: the newest)."""
    from IPython.display import HTML

    found = versions(ctx)
    if not found:
        return HTML(r.STYLE + r.not_produced("model card", "workbench run"))
    wanted = ctx.query.get("version", "")
    if wanted and wanted not in found:
        return HTML(r.STYLE + r.message(f"refused: model version {wanted!r} has no card. Fix: pick one of {', '.join(found)}.", "error"))
    return CardApp(ctx, found, wanted or found[0]).widget


def count(n: int) -> str:
    """``one``, ``two`` ... ``ten``, then digits."""
    return COUNTS[n] if 0 <= n < len(COUNTS) else f"{n:,}"


def estimator_words(name: str) -> str:
    """``HistGradientBoostingClassifier`` -> ``hist gradient boosting classifier``."""
    return " ".join(w.lower() if not w.isupper() else w for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", name)) or name


def failing_checks(card: dict[str, Any], config: Config) -> list[str]:
    """Fairness checks that failed on the holdout, each with the measure that failed (``gender & age_band equalized odds``)."""
    out = []
    for check in card.get("fairness", {}).get("checks", []):
        if check.get("passed") is not False:
            continue
        di, eo = check.get("disparate_impact"), check.get("equalized_odds_difference")
        measures = ([] if di is None or di >= config.thresholds.disparate_impact else ["disparate impact"]) + \
                   ([] if eo is None or eo <= config.thresholds.equalized_odds else ["equalized odds"])
        out.append(f"{check['attribute']} {listed(measures)}".strip())
    return out


def lead_sentence(card: dict[str, Any], config: Config) -> tuple[str, str, str]:
    """The app's answer: (sentence, kind, second line) from the card's JSON."""
    m, data, metrics = card["model"], card.get("training_data", {}), card.get("metrics", {})
    what = f"a {estimator_words(m['estimator'])}" if m.get("estimator") else f"a {m.get('task', '')} model".replace("a  ", "a ")
    trained = f" trained on {data['rows']:,} rows" if data.get("rows") else ""
    aliases = m.get("aliases") or []
    role = f"is the {listed(aliases)}" if aliases else "holds no alias (not in use)"
    parts = [f"Model v{m['version']}" + (f" ({m['semver']})" if m.get("semver") else "") + f", {what}{trained}, {role}"]
    primary = next((v for v in metrics.get("values", []) if v.get("metric") == metrics.get("primary")), None)
    if primary is not None and primary.get("value") is not None:
        parts.append(f"{metrics.get('dataset', 'holdout')} {METRICS.get(primary['metric'], primary['metric'].replace('_', ' '))} {primary['value']:.2f}")
    fairness = card.get("fairness", {})
    failing = failing_checks(card, config)
    if failing:
        parts.append(f"{count(len(failing))} fairness check{'s' if len(failing) > 1 else ''} fail{'s' if len(failing) == 1 else ''} ({'; '.join(failing)})")
    elif fairness.get("checks"):
        n = len(fairness["checks"])
        parts.append("its one fairness check passes" if n == 1 else f"all {count(n)} fairness checks pass")
    else:
        parts.append("fairness is not assessed")
    drift, kpis = card.get("drift", {}), card.get("kpis", {})
    more = []
    if drift.get("batch"):
        more.append(f"Latest monitored batch {str(drift['batch']).rsplit('.', 1)[0]}: {'drift alert' if drift.get('status') == 'alert' else 'no drift'}")
    off = [row for row in kpis.get("rows", []) if row.get("on_target") is False]
    if kpis.get("rows"):
        more.append(f"{len(off)} of {len(kpis['rows'])} KPIs off target" if off else "every KPI on target")
    kind = "warn" if failing or drift.get("status") == "alert" or off else "ok"
    return "; ".join(parts) + ".", kind, ("; ".join(more) + ".") if more else ""


class CardApp:
    """A version picker, the answer and the card."""

    def __init__(self, ctx: AppContext, found: list[str], chosen: str) -> None:
        import ipywidgets as w

        self.ctx, self.found = ctx, found
        self.frame = Frame("Model card", "What the model is for, how it was built and checked, and its limits.")
        self.version = w.Dropdown(options=[(f"v{v}", v) for v in found], value=chosen, description="Version",
                                  style={"description_width": "initial"}, layout=w.Layout(width="auto", min_width="160px", max_width="100%"))
        self.card = w.HTML(layout=w.Layout(width="100%"))
        self.card.add_class("wb-card-host")
        self.version.observe(self.frame.guard(lambda change: self.show(change["new"])), "value")
        self.frame.controls.children = [self.version]
        self.frame.body.children = [self.card]
        self.widget = self.frame.widget
        self.show(chosen)

    def show(self, version: str) -> None:
        """Render the card of ``version`` (re-checked against the listed versions)."""
        if version not in self.found:
            self.frame.error(f"refused: model version {version!r} has no card.")
            return
        self.frame.clear()
        try:
            card = model_card.read(self.ctx.config, version)
        except (WorkbenchError, OSError, ValueError) as exc:
            self.frame.error(f"The card of model version {version} cannot be read: {model_card.without_paths(exc)}")
            return
        self.card.value = render(card)
        sentence, kind, more = lead_sentence(card, self.ctx.config)
        self.frame.answer(sentence, kind=kind, more=more, detail=[self.card.value], filename=f"model-card-v{version}.html")
        self.frame.download.value = r.download_link(f"model-card-v{version}.html", model_card.render_html(card))


def render(card: dict[str, Any]) -> str:
    """The card as inline HTML (the card's template, autoescaped, styles scoped); its fields as lists when the template cannot render it."""
    import jinja2

    try:
        return model_card.render_body(card)
    except (jinja2.TemplateError, TypeError, KeyError, ValueError, AttributeError):  # an older card shape is still shown, field by field
        return f'<div class="wb-card">{fields_html(card)}</div>'


def fields_html(card: dict[str, Any], depth: int = 0) -> str:
    """A card dict as nested definition lists (escaped; paths shown as file names)."""
    parts = []
    for key, value in card.items():
        title = html.escape(str(key).replace("_", " "))
        if isinstance(value, dict):
            parts.append(f"<h{min(3 + depth, 6)}>{title}</h{min(3 + depth, 6)}>{fields_html(value, depth + 1)}")
        elif isinstance(value, list):
            items = "".join(f"<li>{fields_html(v, depth + 1) if isinstance(v, dict) else html.escape(model_card.without_paths(v))}</li>" for v in value)
            parts.append(f"<dt><b>{title}</b></dt><dd><ul>{items}</ul></dd>")
        else:
            parts.append(f"<dt><b>{title}</b></dt><dd>{html.escape(model_card.without_paths(value))}</dd>")
    return f"<dl>{''.join(parts)}</dl>"
