# Every target creates or reuses the virtualenv by itself: `make run` and `make test`
# work on a fresh clone with nothing installed by hand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= workbench.yaml
PYTEST_ARGS ?=

.PHONY: run serve api test test-fast chromium prometheus redis lab bench lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,federated,dask]'
	touch $(STAMP)

# (Re)link the package when the venv was made for another checkout (CI caches the venv).
install: $(STAMP)
	@$(BIN)/python -c 'import pathlib, sys, workbench; sys.exit(pathlib.Path(workbench.__file__).resolve().parent != pathlib.Path("workbench").resolve())' \
		|| $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .

# `make run`: the lifecycle on the demo, the online feature store loaded (when the config has `features:`), then
# every demo batch monitored (MONITOR=0 skips it), then the report apps served until Ctrl-C (SERVE=0 skips it).
MONITOR ?= 1
SERVE ?= 1
SERVE_ARGS ?=

run: install
	$(BIN)/workbench run --config $(CONFIG)
	@if grep -q '^features:' $(CONFIG); then $(BIN)/workbench features materialize --config $(CONFIG); fi
	@if [ "$(MONITOR)" = 1 ]; then $(BIN)/workbench monitor --config $(CONFIG); fi
	@if [ "$(SERVE)" = 1 ]; then echo "Serving the report apps at http://127.0.0.1:8866/ (Ctrl-C to stop)"; \
		$(BIN)/workbench serve --config $(CONFIG) $(SERVE_ARGS); fi

serve: install
	$(BIN)/workbench serve --config $(CONFIG) $(SERVE_ARGS)

# `make api`: the online scoring service for the current champion on 127.0.0.1:8000 (Ctrl-C to stop).
API_ARGS ?=
api: install
	$(BIN)/workbench api --config $(CONFIG) $(API_ARGS)

# `make test`: the whole suite (what CI runs), after the lint and the import contracts.
test: lint chromium prometheus redis
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# `make test-fast`: the edit loop: unit tests only (no kernels, no MLflow runs, no browser), under 3 minutes.
test-fast: install
	$(BIN)/python -m pytest -m "not slow" -p no:cacheprovider $(PYTEST_ARGS)

# The browser tests drive Debian's chromium (`playwright install` cannot download browsers here).
chromium:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null \
		&& { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		     $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; } \
		&& test -x /usr/bin/chromium; } \
		|| { echo "error: /usr/bin/chromium is missing and could not be installed. Fix: apt-get install -y chromium" >&2; exit 1; }

# A real Prometheus scrapes the scoring service in tests/serving/test_prometheus.py. Best effort: where
# Debian's package cannot be installed, that one test is skipped with the reason.
prometheus:
	@test -x /usr/bin/prometheus || { command -v apt-get >/dev/null \
		&& { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		     $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus; } ; } \
		|| echo "warning: could not install Debian's prometheus; tests/serving/test_prometheus.py will be skipped" >&2

# A real Redis online feature store in tests/features and tests/serving (Debian's redis-server, started by
# the tests on a free loopback port). Best effort: where it cannot be installed, those tests skip with the reason.
redis:
	@test -x /usr/bin/redis-server || { command -v apt-get >/dev/null \
		&& { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		     $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends redis-server; } ; } \
		|| echo "warning: could not install Debian's redis-server; the Redis feature-store tests will be skipped" >&2

# JupyterLab refuses to start as root without --allow-root (containers and CI run as root).
lab: install
	$(BIN)/jupyter lab notebooks/ $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

bench: install
	$(BIN)/python benchmarks/run_demo.py

# `make lint`: ruff, then the import contracts between the parts (pyproject.toml, [tool.importlinter]).
lint: install
	$(BIN)/ruff check workbench tests benchmarks examples
	$(BIN)/lint-imports

clean:
	rm -rf reports/*/ .workbench data/demo
