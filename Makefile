# Penguins MLOps Workbook. `make run` runs the whole local pipeline; `make test` runs every test.
# Both create the virtual environment and install the pinned dependencies first when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: setup run test test-slow figures export clean lab mlflow bench lock readme docs preview test-docs

setup: $(STAMP)

$(STAMP): requirements/dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -r requirements/dev.txt
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	@touch $(STAMP)

run: setup
	$(BIN)/workbook run

test: setup
	cd nbs && ../$(BIN)/nbdev_test --n_workers 2 --timing
	$(BIN)/python -m pytest tests -q -m "not slow"

# The whole pipeline end to end (cold, cached, gated, killed and resumed, tuned), the model-build template, the longest
# job and endpoint checks (batch transform, training under the toolkit, SIGTERM drain) and every notebook in a kernel; each test's time is listed at the end.
test-slow: setup
	$(BIN)/python -m pytest tests -q -m slow --durations=0 --durations-min=1

# The committed figures in images/, redrawn by the notebooks that explain them (slow cells included, a few minutes):
# the only command that writes images/. Everything else draws into the settings' figures folder (store/figures).
FIGURE_NOTEBOOKS := 01_eda 03_training 03a_tuning 03c_automl 04_evaluation 04a_bias_explainability 06a_deployment 06e_safe_deployment 07f_monitoring_traffic 08_pipeline
figures: setup
	for nb in $(FIGURE_NOTEBOOKS); do WORKBOOK_FIGURES_DIR=$(CURDIR)/images $(BIN)/nbdev_test --flags slow --path nbs/$$nb.ipynb || exit 1; done

export: setup
	cd nbs && ../$(BIN)/nbdev_export

clean: setup
	cd nbs && ../$(BIN)/nbdev_clean

lab: setup
	$(BIN)/jupyter lab --ip 127.0.0.1 --notebook-dir nbs

mlflow: setup
	$(BIN)/workbook mlflow

bench: setup
	$(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements/bench.txt
	$(BIN)/python -m bench

# The dependencies are declared in pyproject.toml; each set is pinned for Python 3.11 in requirements/.
lock: setup
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --quiet -o requirements/runtime.txt
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --quiet -o requirements/dev.txt
	$(BIN)/uv pip compile pyproject.toml --extra bench --python-version 3.11 --quiet -o requirements/bench.txt
	$(BIN)/uv pip compile pyproject.toml --extra docs -c requirements/dev.txt --python-version 3.11 --quiet -o requirements/docs.txt
	$(BIN)/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['pipeline']))" \
	  | $(BIN)/uv pip compile - --python-version 3.11 --quiet -o requirements/pipeline.txt

# README.md is generated from nbs/index.ipynb (its markdown cells, links made relative to the root); edit the notebook.
readme: setup
	$(BIN)/python -m docs readme

# The course's site in _docs/: one page per notebook (code, API entries of the exported functions, figures from images/),
# built from the notebooks as committed, without running them.
docs: setup
	$(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements/docs.txt
	$(BIN)/python -m docs build

# Serves the built site on http://127.0.0.1:$(DOCS_PORT)/.
DOCS_PORT ?= 8000
preview: docs
	$(BIN)/python -m docs serve $(DOCS_PORT)

# Opens every page of the built site in Chromium (the system's: `chromium`, or CHROMIUM=/path/to/chrome).
test-docs: docs
	@if [ -z "$$CHROMIUM" ] && ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "make test-docs needs Chromium: sudo apt-get install chromium (Debian), or set CHROMIUM=/path/to/chrome"; exit 1; fi; \
	fi
	$(BIN)/python -m pytest -q docs/test_site.py
