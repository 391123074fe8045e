"""Model cards: one per registered model version, generated at registration and refreshed after monitoring.

A card gathers what is recorded about a version (never recomputed): intended use and users,
training data (source, sha256, size, period), features, holdout metrics with intervals, the
fairness summary, the top SHAP features, the current drift status and KPIs, known
limitations, the semantic version and changelog, and approvals from the audit log. It is
validated against ``workbench/reports/schemas/model_card.schema.json`` (the documented shape), written
atomically to ``<store>/cards/<project>/v<version>/model_card.{json,html}`` (HTML from the
Jinja2 template ``workbench/reports/templates/model_card.html.j2``) and logged to MLflow as artifacts
(``model_card/``) of the version's run; the version's tags and description say where it is.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench._io import read_json, write_json, write_text
from workbench.exceptions import ModelCardError
from workbench.registry.store import client_for
from workbench.reports import card_sources

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "model_card.schema.json"
TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "model_card.html.j2"
BODY_TEMPLATE = "model_card_body.html.j2"  # the content, included by TEMPLATE and shown inline by the model-card app
_PATH = re.compile(r"(?<![\w.:/])(?:[A-Za-z]:)?[\\/](?:[\w.@+~-]+[\\/])+[\w.@+~-]+")  # an absolute POSIX or Windows path
ARTIFACT_PATH = "model_card"
TAG = "workbench.model_card"
CARD_JSON, CARD_HTML = "model_card.json", "model_card.html"  # in folder(config, version)



def folder(config: Config, version: str) -> Path:
    """Where the card of a version is stored."""
    return config.store / "cards" / config.project / f"v{version}"


def _resolve(config: Config, version: str | None) -> str:
    if version is not None:
        return str(version)
    champion = registry.alias_version(config, "champion")
    if champion is None:
        raise ModelCardError(f"model {config.project!r} has no champion yet, so no model card: not produced yet - run `workbench run`.")
    return str(champion.version)


def read(config: Config, version: str | None = None) -> dict[str, Any]:
    """The stored card (JSON) of ``version`` (None = the champion's).

    Raises
    ------
    ModelCardError
        When the card has not been produced yet.
    """
    v = _resolve(config, version)
    path = folder(config, v) / CARD_JSON
    if not path.is_file():
        raise ModelCardError(f"model card of {config.project} v{v} not produced yet - run `workbench run` (expected {path}).")
    return read_json(path)


def html_path(config: Config, version: str | None = None) -> Path:
    """The HTML card of ``version`` (None = the champion's); ModelCardError when not produced yet."""
    v = _resolve(config, version)
    path = folder(config, v) / CARD_HTML
    if not path.is_file():
        raise ModelCardError(f"model card of {config.project} v{v} not produced yet - run `workbench run` (expected {path}).")
    return path


def versions(config: Config) -> list[str]:
    """Registered model versions that have a card, in version order."""
    root = config.store / "cards" / config.project
    if not root.is_dir():
        return []
    registered = {str(mv.version) for mv in registry.candidate_versions(config)}
    found = [p.name[1:] for p in root.iterdir() if p.name.startswith("v") and (p / CARD_JSON).is_file()]
    return sorted((v for v in found if v in registered), key=int)


def schema() -> dict[str, Any]:
    """The documented JSON schema of a card."""
    return read_json(SCHEMA_FILE)


def validate(card: dict[str, Any]) -> None:
    """Check a card against the schema; ModelCardError naming the first bad field."""
    import fastjsonschema

    try:
        _validator()(card)
    except fastjsonschema.JsonSchemaValueException as exc:
        where = exc.name.removeprefix("data").lstrip(".") or "(top level)"
        raise ModelCardError(f"model card field {where!r}: {exc.message}. Fix the card builder (workbench/reports/card_sources.py).") from None


@functools.cache
def _validator() -> Any:
    # fastjsonschema compiles the schema once; jsonschema would cost seconds of import in every kernel.
    import fastjsonschema

    return fastjsonschema.compile(schema())


def generate(config: Config, version: str | None = None, *, intended_use: str = "", users: str = "", out_of_scope: str = "",
             limitations: str = "") -> dict[str, Any]:
    """Build, validate, store and log the card of ``version`` (None = the champion); return it.

    Parameters
    ----------
    config : Config
        The project.
    version : str or None
        The registered version number.
    intended_use, users, out_of_scope, limitations : str
        Authored text (``users`` and ``limitations`` comma- or newline-separated). Empty keeps
        what the version's existing card says, else a default derived from the config.
    """
    from filelock import FileLock

    v = _resolve(config, version)
    target = folder(config, v)
    target.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target / ".lock")):  # monitoring refreshes while a person may regenerate
        previous = _previous(target)
        card = card_sources.collect(config, v, previous=previous, intended_use=intended_use, users=users,
                                    out_of_scope=out_of_scope, limitations=limitations)
        card = {"schema_version": SCHEMA_VERSION, **card}
        validate(card)
        _write(config, target, card)
    return card


def _previous(target: Path) -> dict[str, Any] | None:
    path = target / CARD_JSON
    return read_json(path) if path.is_file() else None


def render_html(card: dict[str, Any]) -> str:
    """The card as a standalone HTML page (Jinja2 template, autoescaped; file paths shown as file names)."""
    return _environment().get_template(TEMPLATE).render(card=card)


def render_body(card: dict[str, Any]) -> str:
    """The card's content as an HTML fragment with its styles scoped to ``.wb-card`` (for a page that shows it inline)."""
    return _environment().get_template(BODY_TEMPLATE).render(card=card)


@functools.cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    env.filters.update(num=_num, filename=file_name, nopath=without_paths)
    return env


def file_name(path: Any) -> str:
    """The last part of a path or URL (``/srv/data/reference.parquet`` -> ``reference.parquet``): cards show no server paths."""
    return re.split(r"[\\/]", str(path).rstrip("/\\"))[-1]


def without_paths(text: Any) -> str:
    """Free text with every absolute path replaced by its file name."""
    return _PATH.sub(lambda m: file_name(m.group(0)), str(text))


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def _write(config: Config, target: Path, card: dict[str, Any]) -> None:
    """JSON and HTML atomically, then MLflow: artifacts on the version's run, tags and description on the version."""
    json_path = write_json(target / CARD_JSON, card)
    html = write_text(target / CARD_HTML, render_html(card))
    client = client_for(config)
    version = card["model"]["version"]
    mv = client.get_model_version(config.project, version)
    if mv.run_id:
        client.log_artifact(mv.run_id, str(json_path), ARTIFACT_PATH)
        client.log_artifact(mv.run_id, str(html), ARTIFACT_PATH)
        client.set_tag(mv.run_id, TAG, f"{ARTIFACT_PATH}/model_card.html")
    where = f"runs:/{mv.run_id}/{ARTIFACT_PATH}/model_card.html" if mv.run_id else str(html)
    client.set_model_version_tag(config.project, version, TAG, where)
    client.set_model_version_tag(config.project, version, TAG + "_file", str(html))
    client.set_model_version_tag(config.project, version, TAG + "_generated", card["generated"])
    entry = mv.tags.get(registry.TAG + "changelog", "")
    client.update_model_version(config.project, version, description=(
        f"{entry}\n\nModel card ({card['generated']}): {where} (also {html})").strip())


def summary(card: dict[str, Any]) -> Any:
    """A short HTML view of a card for notebooks: the sections and their headline values."""
    from html import escape

    from IPython.display import HTML

    m, d = card["model"], card["drift"]
    rows = [("model", f"{m['name']} v{m['version']} ({m['semver']}), aliases: {', '.join(m['aliases']) or 'none'}"),
            ("training data", f"{card['training_data']['rows']:,} rows, {card['training_data']['period']['start']} .. {card['training_data']['period']['end']}"),
            ("primary metric", f"{card['metrics']['primary']} {_num(card['metrics']['values'][0]['value'])}"),
            ("fairness", f"{card['fairness']['status']}; failed: {', '.join(card['fairness']['failed_attributes']) or 'none'}"),
            ("top SHAP features", ", ".join(f["feature"] for f in card["explanations"]["top_features"])),
            ("drift", d["status"] + (f" (batch {d['batch']})" if d.get("batch") else "")),
            *_privacy_row(card.get("privacy")),
            ("limitations", f"{len(card['limitations'])} listed"), ("approvals", f"{len(card['approvals'])} event(s)")]
    body = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{escape(v)}</td></tr>" for k, v in rows)
    return HTML(f"<table>{body}</table>")


def _privacy_row(section: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The summary's privacy line: the features' epsilon and loss, and the private releases (none without a privacy section)."""
    if not section:
        return []
    private = [f"{r['release']} ε {_num(r['epsilon'])}" for r in section["releases"] if r["private"]]
    loss = f", {section['metric']} loss {_num(section['loss'], 3)}" if section.get("loss") is not None else ""
    return [("privacy", f"private: {', '.join(private) or 'nothing'}{loss}")]
