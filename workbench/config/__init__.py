"""The project config (``workbench.yaml``): pydantic models for the public contract.

Relative paths resolve against the folder of the config file, so a project folder can
live anywhere. Every problem pydantic finds goes into one :class:`~workbench.exceptions.ConfigError`
whose message names the file, each key and the fix; the CLI turns it into exit code 2
before anything runs or is written. This module imports only pydantic and yaml: checks that
read data files or know the estimators and KPI formulas are pre-flight checks of their parts.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationError, field_validator

from workbench.config._base import _Strict
from workbench.config._estimation import EstimationConfig, FeedbackConfig
from workbench.config._privacy import FederatedConfig, PrivacyConfig, SiteConfig, resolve_site_paths
from workbench.config._privacy import is_loopback as is_loopback  # re-exported: apps server, federated site
from workbench.config._privacy import loopback as loopback
from workbench.config._scale import DaskConfig, check_executor
from workbench.config._yaml import read_yaml as _read_yaml
from workbench.exceptions import ConfigError

DEFAULT_CONFIG = "workbench.yaml"
OPERATIONAL = {"executor", "dask"}  # where the work runs, not what it computes: left out of the config hash (lineage)

# Named scikit-learn estimators a config may ask for, per task: here (not in training) so a typo is refused at config time.
ESTIMATORS: dict[str, tuple[str, ...]] = {
    "binary": ("hist_gradient_boosting", "random_forest", "logistic_regression", "gradient_boosting"),
    "regression": ("hist_gradient_boosting", "random_forest", "ridge", "gradient_boosting"),
}
BASELINES: dict[str, tuple[str, ...]] = {
    "binary": ("logistic_regression", "dummy"),
    "regression": ("ridge", "dummy"),
}


class DataConfig(_Strict):
    """Where the data lives and what its columns mean."""

    reference: Path
    batches: str | None = None
    target: str
    id: str | None = None
    timestamp: str | None = None
    numeric: list[str] | None = None
    categorical: list[str] | None = None
    sensitive: list[str] = Field(default_factory=list)
    features: list[str] | None = None


class ModelConfig(_Strict):
    """The estimator to train and the static baseline kept as a fallback."""

    task: Literal["binary", "regression"] = "binary"
    estimator: str = "auto"  # or a name in workbench.registry.estimators; auto: chosen by cross-validation
    params: dict[str, Any] = Field(default_factory=dict)
    baseline: str | None = None  # default per task: see workbench.registry.estimators.DEFAULT_BASELINE
    test_size: float = Field(0.25, gt=0.0, lt=1.0)
    seed: int = 42


class Thresholds(_Strict):
    """Monitoring thresholds (the seed's defaults).

    ``data_drift`` is the significance level of the drift tests and ``drift_effect`` the smallest
    effect size that counts as drift (both 0.05, as when ``data_drift`` served as both).
    """

    data_drift: float = Field(0.05, gt=0.0, lt=1.0)
    drift_effect: float = Field(0.05, ge=0.0, le=1.0)  # normalised Wasserstein / Jensen-Shannon distance
    missing_share_increase: float = Field(0.05, ge=0.0, le=1.0)  # batch missing share above the reference's by more: alert
    max_missing_share: float = Field(0.5, ge=0.0, le=1.0)  # a batch missing share above this: alert, whatever the reference
    min_batch_rows: int = Field(30, ge=1)  # fewer rows: every monitoring statistic is "insufficient data"
    invalid_share: float = Field(0.01, ge=0.0, lt=1.0)  # share of a numeric feature's values that are not numbers; above: refused
    concept_drift: float = Field(0.1, gt=0.0)
    feature_drift: float = Field(0.02, gt=0.0)
    disparate_impact: float = Field(0.8, gt=0.0, le=1.0)
    equalized_odds: float = Field(0.1, ge=0.0, le=1.0)


class RunnerConfig(_Strict):
    """How the runner executes phase notebooks."""

    jobs: int | None = Field(None, ge=1)
    timeout_s: int = Field(900, ge=1)
    kernel: str = "python3"


ROLES = ("viewer", "data_scientist", "approver", "admin")  # ordered: each role may do what the ones before it may


class RetrainConfig(_Strict):
    """When and on what data a governed retrain runs (``workbench retrain``)."""

    max_age_days: int | None = Field(None, ge=1)  # scheduled trigger: the champion is older than this
    window: int = Field(3, ge=0)  # latest labelled, monitored batches added to the training data
    reference: bool = True  # keep the reference rows in the training window


class CanaryConfig(_Strict):
    """Share of each scored batch routed to the challenger, chosen deterministically by id."""

    share: float = Field(0.0, ge=0.0, lt=1.0)


class ResilienceConfig(_Strict):
    """Retries and circuit breakers around model loads, predictions and feature reads (``workbench api`` and the score phase)."""

    attempts: int = Field(3, ge=1, le=20)  # tries of a transient failure (locked sqlite, OSError, timeout), first one included
    max_wait_s: float = Field(2.0, gt=0.0, le=300.0)  # cap of one back-off wait (full jitter: uniform in [0, min(cap, base * 2^n)])
    total_s: float = Field(10.0, gt=0.0, le=3600.0)  # no new try after this much time in total
    fail_max: int = Field(5, ge=1)  # consecutive failures that open a breaker
    reset_timeout_s: float = Field(30.0, gt=0.0)  # an open breaker lets a trial call through after this
    success_threshold: int = Field(3, ge=1)  # successes in half-open that close it again


class ServingConfig(_Strict):
    """The online scoring service, ``workbench api``."""

    port: int = Field(8000, ge=1, le=65535)
    threshold: float = Field(0.5, gt=0.0, lt=1.0)  # binary: a score at or above it is label 1
    max_records: int = Field(1000, ge=1)  # records per request
    max_body_bytes: int = Field(1_000_000, ge=1024)  # larger bodies get 413
    alias_poll_s: float = Field(2.0, gt=0.0)  # how often the served versions are checked against the aliases
    log_predictions: bool = True  # append every prediction to <store>/predictions/<project>/


_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"  # a Feast object name (and a Python identifier)
_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(value: Any) -> int:
    """``"400d"``, ``"12h"``, ``"90m"``, ``"30s"``, ``"2w"`` or a number of seconds, as whole seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 400d, 12h or 3600 (seconds)")
    if isinstance(value, int | float):
        seconds = value
    elif isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", value)):
        seconds = float(m.group(1)) * _DURATION[m.group(2) or "s"]
    else:
        raise ValueError(f"expected a duration such as 400d, 12h or 3600 (seconds), not {value!r}")
    if not 0 < seconds < 100 * 365 * 86400:
        raise ValueError("must be more than 0 seconds and less than 100 years")
    return int(seconds)


class EntityConfig(_Strict):
    """The entity the feature views are keyed by (a customer, an account…)."""

    name: str = Field("entity", pattern=_NAME)
    key: str | None = None  # the join key column; default: data.id


class ViewConfig(_Strict):
    """One feature view: a Parquet file of (key, event time, fields), versioned as MAJOR.MINOR."""

    source: Path
    timestamp: str = "event_timestamp"  # the event time column of the source
    ttl: Annotated[int, BeforeValidator(_duration)] = 365 * 86400  # a value older than this is stale (point-in-time joins: not used)
    version: str = Field(pattern=r"^\d{1,6}\.\d{1,6}$")  # bump MINOR for compatible changes (added fields, ttl), MAJOR otherwise
    fields: dict[str, Literal["string", "int64", "float64", "bool"]]
    description: str = ""

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):  # version: 2  ->  "2.0"
            return f"{value}.0"
        if isinstance(value, float):  # YAML reads 1.10 as 1.1: quote versions with a two-digit minor
            return repr(value)
        return value

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("list at least one field (name: type)")
        bad = [name for name in value if not str(name).strip()]
        if bad:
            raise ValueError("field names must not be empty")
        return value

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def _check_features(value: FeaturesConfig) -> FeaturesConfig:
    seen: dict[str, str] = {}
    for view_name, view in value.views.items():
        if not re.fullmatch(_NAME, view_name):
            raise ValueError(f"view name '{view_name}' must be letters, digits and underscores, starting with a letter")
        if view.timestamp in view.fields:
            raise ValueError(f"view '{view_name}': the timestamp column '{view.timestamp}' cannot also be a field")
        for field in view.fields:
            if field in seen:
                raise ValueError(f"field '{field}' is in views '{seen[field]}' and '{view_name}': a field may belong to one view only")
            seen[field] = view_name
    return value


class FeaturesConfig(_Strict):
    """The feature store (Feast): entity, online store and versioned feature views."""

    entity: EntityConfig = Field(default_factory=EntityConfig)
    online: str = "sqlite"  # sqlite (embedded, in the store) or redis://host:port[/db]
    views: dict[str, ViewConfig]
    staleness_check: bool = True  # the weekly review alerts when a view's newest event is older than its ttl

    @field_validator("online")
    @classmethod
    def _online(cls, value: str) -> str:
        if value == "sqlite" or re.fullmatch(r"rediss?://(?:[^@/\s]*@)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}(?:/\d{1,2})?/?", value):
            return value
        raise ValueError("expected sqlite or a Redis URL such as redis://127.0.0.1:6379/0")

    @field_validator("views")
    @classmethod
    def _some_views(cls, value: dict[str, ViewConfig]) -> dict[str, ViewConfig]:
        if not value:
            raise ValueError("define at least one feature view")
        return value


class KpiConfig(_Strict):
    """One business KPI of the ``kpis:`` section; its formula is checked by :mod:`workbench.analyses.kpis` before anything runs."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    label: str = ""
    description: str = ""
    unit: str = ""
    formula: str
    direction: Literal["higher", "lower"]
    target: float
    baseline: float | Literal["model"] = "model"
    values: dict[str, float] = Field(default_factory=dict)
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    task: Literal["binary", "regression"] | None = None
    volume: float | None = Field(None, gt=0.0)  # units the KPI's value applies to per period (e.g. churners a month): the status page's cost per period
    volume_unit: str = ""
    period: Literal["day", "week", "month", "quarter", "year"] = "month"

    @property
    def display(self) -> str:
        """The label, else the name."""
        return self.label or self.name


def _unique_kpis(kpis: list[KpiConfig]) -> list[KpiConfig]:
    names = [k.name for k in kpis]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"KPI name(s) {', '.join(twice)} used more than once; names must be unique")
    return kpis


class Config(_Strict):
    """The whole ``workbench.yaml``; paths are absolute once loaded."""

    project: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    store: Path = Path(".workbench")
    reports: Path = Path("reports")
    tracking_uri: str | None = None
    demo: bool = False
    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    kpis: Annotated[list[KpiConfig], AfterValidator(_unique_kpis)] = Field(default_factory=list)  # business KPIs
    # people -> role; absent: everyone is admin (a local project); present: enforced, "*" sets everyone else's role
    roles: dict[str, Literal["viewer", "data_scientist", "approver", "admin"]] | None = None
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    canary: CanaryConfig = Field(default_factory=CanaryConfig)
    resilience: ResilienceConfig = Field(default_factory=ResilienceConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    estimation: EstimationConfig = Field(default_factory=EstimationConfig)
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)
    features: Annotated[FeaturesConfig, AfterValidator(_check_features)] | None = None  # the feature store (see README, 'Feature store')
    privacy: PrivacyConfig | None = None  # differential privacy (README, 'Privacy: DP and federated sites')
    sites: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")], SiteConfig] = Field(default_factory=dict)  # data sites
    federated: FederatedConfig = Field(default_factory=FederatedConfig)
    # where batch statistics and fan-outs run (README, 'Scale-out with Dask'): local | dask-local | tcp://host:8786
    executor: Annotated[str, AfterValidator(check_executor)] = "local"
    dask: DaskConfig = Field(default_factory=DaskConfig)
    source: Path = Field(default=Path(DEFAULT_CONFIG), exclude=True)

    @field_validator("store", "reports")
    @classmethod
    def _not_empty(cls, value: Path) -> Path:
        if not str(value).strip():
            raise ValueError("must be a non-empty path")
        return value

    @property
    def mlflow_uri(self) -> str:
        """The MLflow tracking URI: the configured one, else the embedded sqlite store."""
        return self.tracking_uri or f"sqlite:///{self.store / 'mlflow.db'}"

    def sha256(self) -> str:
        """Hash of the validated config (not the file's bytes), for lineage."""
        payload = json.dumps(self.model_dump(mode="json", exclude=OPERATIONAL), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


def find_config(path: str | Path = DEFAULT_CONFIG) -> Path:
    """Locate a config file.

    An absolute path or one that exists from the working directory is used as is; a bare
    relative path is otherwise searched for in the parent folders (as git finds ``.git``),
    so a notebook opened in ``notebooks/`` finds the project's ``workbench.yaml``.
    """
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or candidate.exists():
        return candidate.resolve()
    for folder in Path.cwd().resolve().parents:
        if (folder / candidate).is_file():
            return (folder / candidate).resolve()
    raise ConfigError(
        f"{path}: config file not found in {Path.cwd()} or its parent folders. "
        f"Fix: pass --config PATH or create {DEFAULT_CONFIG} (see README, 'Config keys')."
    )


def load_config(path: str | Path = DEFAULT_CONFIG) -> Config:
    """Read, validate and resolve a config file (its shape only: pydantic and yaml).

    What needs the data files, the estimator table or the KPI formulas is checked by the
    pre-flight checks (:func:`workbench.data.preflight.check`, :func:`workbench.registry.estimators.check_config`,
    :func:`workbench.analyses.kpis.check`), which the command line runs before anything executes.

    Parameters
    ----------
    path : str or Path
        The YAML file; see :func:`find_config` for how a relative path is found.

    Raises
    ------
    ConfigError
        Naming the file, and every key pydantic refused with the fix.
    """
    source = find_config(path)
    raw = _read_yaml(source)
    try:
        config = Config.model_validate({**raw, "source": source})
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from None
    return _resolve_paths(config, source.parent)


def _describe(source: Path, exc: ValidationError) -> str:
    """Every problem pydantic found, on one line: file, then each key, its problem and the fix."""
    problems = [_problem(err) for err in exc.errors()]
    if len(problems) == 1:
        return f"{source}: {problems[0]}"
    return f"{source}: {len(problems)} problems: " + " ".join(f"({n}) {p}" for n, p in enumerate(problems, start=1))


def _problem(err: Any) -> str:
    loc = [str(part) for part in err["loc"]]
    key = ".".join(loc)
    if err["type"] == "extra_forbidden":
        return f"unknown key '{key}'{_suggest(loc)}."
    if err["type"] == "missing":
        return f"missing required key '{key}'. Fix: add it (see README, 'Config keys')."
    got, msg = err.get("input"), str(err["msg"])
    # only the first letter: a message names columns, keys and variables whose case matters ("Value error, ..." reads on)
    return f"key '{key}': {msg[:1].lower() + msg[1:]} (got {got!r}). Fix the value in the config."


def _suggest(loc: list[str]) -> str:
    model: type[BaseModel] = Config
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    valid = [name for name in model.model_fields if name != "source"]
    close = difflib.get_close_matches(loc[-1], valid, n=1)
    hint = f" — did you mean '{close[0]}'?" if close else ""
    return f"{hint} Valid keys here: {', '.join(valid)}"


def _resolve_paths(config: Config, base: Path) -> Config:
    def absolute(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    batches = config.data.batches
    if batches is not None and not Path(batches).is_absolute():
        batches = str((base / batches).resolve()) if not _is_glob(batches) else str(base / batches)
    data = config.data.model_copy(update={"reference": absolute(config.data.reference), "batches": batches})
    features = config.features
    if features is not None:
        views = {n: v.model_copy(update={"source": absolute(v.source)}) for n, v in features.views.items()}
        features = features.model_copy(update={"views": views})
    sites, federated = resolve_site_paths(config.sites, config.federated, base)
    return config.model_copy(
        update={"store": absolute(config.store), "reports": absolute(config.reports), "data": data, "features": features,
                "sites": sites, "federated": federated}
    )


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def did_you_mean(name: str, valid: list[str] | tuple[str, ...]) -> str:
    """`` Did you mean 'x'?`` for the closest valid name, or an empty string."""
    close = difflib.get_close_matches(name, list(valid), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""
