"""Config sections of differential privacy and federated training (README, 'Privacy: DP and federated sites')."""

from __future__ import annotations

import ipaddress
import math
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from workbench.config._base import _Strict

RELEASES = ("drift", "fairness")  # aggregate releases that can be made private


class Budget(_Strict):
    """A total privacy budget: every private release of a dataset spends from it (basic composition)."""

    epsilon: float = Field(gt=0.0, le=1000.0, allow_inf_nan=False)  # NaN would compare false with every spend: a budget never exceeded
    delta: float = Field(0.0, ge=0.0, lt=1.0, allow_inf_nan=False)


class PrivateFeatures(_Strict):
    """Feature extraction with per-row Laplace noise (local DP) on these columns, at this epsilon."""

    columns: list[str] = Field(min_length=1)
    epsilon: float = Field(gt=0.0, le=1000.0, allow_inf_nan=False)

    @field_validator("columns")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        twice = sorted({c for c in value if value.count(c) > 1})
        if twice:  # a column listed twice is one column of the frame: the noise split k would be counted wrong downstream
            raise ValueError(f"column(s) {', '.join(twice)} listed more than once: list each column once")
        return value


class PrivacyConfig(_Strict):
    """Differential privacy with OpenDP: budgets, private releases, private features."""

    budget: Budget = Field(default_factory=lambda: Budget(epsilon=10.0))  # total per dataset (each reference or batch file)
    datasets: dict[str, Budget] = Field(default_factory=dict)  # per dataset file name: a budget of its own
    releases: dict[Literal["drift", "fairness"], float] = Field(default_factory=dict)  # release -> epsilon it spends; absent: exact
    bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)  # declared [lower, upper] per numeric column (sums, features)
    features: PrivateFeatures | None = None
    utility_epsilons: list[float] = Field(default_factory=lambda: [0.5, 1.0, 2.0, 8.0], min_length=1)

    def budget_for(self, dataset: str) -> Budget:
        """The budget of a dataset: its ``datasets`` entry (by name, or by the file name of a path), else ``budget``."""
        name = str(dataset)
        if name in self.datasets:
            return self.datasets[name]
        return self.datasets.get(Path(name).name, self.budget)

    @field_validator("datasets")
    @classmethod
    def _file_names(cls, value: dict[str, Budget]) -> dict[str, Budget]:
        # a release looks its budget up by the dataset's file name: a key with a folder never matches, and that
        # dataset would silently get privacy.budget (usually larger) instead
        pathlike = [k for k in value if k != Path(k).name or not k.strip()]
        if pathlike:
            raise ValueError(f"keys are dataset file names, not paths: {', '.join(map(repr, pathlike))} would match no dataset. "
                             f"Fix: write {Path(pathlike[0]).name!r}")
        return value

    @field_validator("releases")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, eps in value.items() if not 0 < eps <= 1000]
        if bad:
            raise ValueError(f"epsilon of release(s) {', '.join(bad)} must be > 0 and <= 1000")
        return value

    @field_validator("bounds")
    @classmethod
    def _ordered(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        # hi - lo is the sensitivity: it must be finite too ([-1e308, 1e308] overflows)
        bad = [k for k, (lo, hi) in value.items() if not lo < hi or not math.isfinite(hi - lo)]
        if bad:
            raise ValueError(f"bounds of {', '.join(bad)} must be finite [lower, upper] with lower < upper and a finite width")
        return value

    @field_validator("utility_epsilons")
    @classmethod
    def _eps(cls, value: list[float]) -> list[float]:
        if any(not 0 < e <= 1000 for e in value):
            raise ValueError("every epsilon must be > 0 and <= 1000")
        return sorted(set(value))

    @model_validator(mode="after")
    def _features_bounded(self) -> PrivacyConfig:
        if self.features is not None:
            unbounded = [c for c in self.features.columns if c not in self.bounds]
            if unbounded:
                raise ValueError(f"privacy.features.columns {', '.join(unbounded)} need declared bounds: add "
                                 f"privacy.bounds.{unbounded[0]}: [lower, upper]")
        return self


class SiteConfig(_Strict):
    """One data site: its own training data (and optionally its batches); rows never leave it."""

    data: Path  # CSV or Parquet, relative paths against the config file
    batches: str | None = None  # folder or glob of the site's production batches (federated monitoring)
    token_env: str | None = None  # environment variable holding the site's secret; the server admits only known sites
    remote: bool = False  # runs on its own machine (`workbench federated site`): train/monitor wait for it instead of starting it

    @model_validator(mode="after")
    def _remote_has_secret(self) -> SiteConfig:
        if self.remote and not self.token_env:
            raise ValueError("a remote site needs token_env: the server and the site's machine must hold the same secret "
                             "(a per-run secret cannot reach another machine). Fix: add token_env: WB_SITE_<NAME>_TOKEN")
        return self


class TlsConfig(_Strict):
    """PEM files for Flower's gRPC channel (server side: ca, cert, key; sites need ca)."""

    ca: Path
    cert: Path
    key: Path


class FederatedConfig(_Strict):
    """Federated training with Flower across the configured sites."""

    strategy: Literal["fedavg", "bagging"] = "fedavg"  # fedavg: logistic/linear models; bagging: per-site trees
    rounds: int = Field(5, ge=1, le=1000)
    local_epochs: int = Field(1, ge=1, le=100)
    min_sites: int | None = Field(None, ge=1)  # a round needs this many sites (default: all of them)
    address: str = "127.0.0.1:9092"  # the Flower server; anything but loopback needs tls
    round_timeout_s: float = Field(120.0, gt=0.0, le=86400.0)
    tls: TlsConfig | None = None
    dp_epsilon: float | None = Field(None, gt=0.0, le=1000.0)  # federated monitoring: Laplace noise per site at this epsilon

    @model_validator(mode="after")
    def _loopback_or_tls(self) -> FederatedConfig:
        if self.tls is None and not loopback(self.address):
            raise ValueError(f"address {self.address!r} is not loopback: set federated.tls (ca, cert, key) "
                             "to serve Flower beyond this machine")
        return self


def loopback(address: str) -> bool:
    """Whether ``host:port`` names this machine only (localhost or a loopback IP)."""
    return is_loopback(address.rsplit(":", 1)[0].strip("[]"))


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (the apps' server binds check it too)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost, or "" (= every interface)
        return False


def resolve_site_paths(sites: dict[str, SiteConfig], federated: FederatedConfig,
                       base: Path) -> tuple[dict[str, SiteConfig], FederatedConfig]:
    """Site files, site batch folders or globs and TLS files, resolved against the config file's folder."""
    def absolute(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    resolved = {}
    for name, site in sites.items():
        found = site.batches
        if found is not None and not Path(found).is_absolute():
            found = str(base / found) if any(ch in found for ch in "*?[") else str((base / found).resolve())
        resolved[name] = site.model_copy(update={"data": absolute(site.data), "batches": found})
    if federated.tls is not None:
        tls = federated.tls
        federated = federated.model_copy(update={"tls": tls.model_copy(update={k: absolute(getattr(tls, k)) for k in ("ca", "cert", "key")})})
    return resolved, federated
