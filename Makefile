# Every target creates or reuses the virtualenv by itself: `make run` and `make test`
# work on a fresh clone with nothing installed by hand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= workbench.yaml
PYTEST_ARGS ?=

.PHONY: run test lab bench lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# (Re)link the package when the venv was made for another checkout (CI caches the venv).
install: $(STAMP)
	@$(BIN)/python -c 'import pathlib, sys, workbench; sys.exit(pathlib.Path(workbench.__file__).resolve().parent != pathlib.Path("workbench").resolve())' \
		|| $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .

run: install
	$(BIN)/workbench run --config $(CONFIG)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: install
	$(BIN)/jupyter lab notebooks/

bench: install
	$(BIN)/python benchmarks/run_demo.py

lint: install
	$(BIN)/ruff check workbench tests benchmarks

clean:
	rm -rf reports/*/ .workbench data/demo
