# Penguins MLOps Workbook. `make run` runs the whole local pipeline; `make test` runs every test.
# Both create the virtual environment and install the pinned dependencies first when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.9.30
export SAGEMAKER_SUPPRESS_V2_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONWARNINGS := ignore::DeprecationWarning

.PHONY: setup run test export clean lab mlflow bench lock

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements.txt
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	@touch $(STAMP)

run: setup
	$(BIN)/workbook run

test: setup
	cd nbs && ../$(BIN)/nbdev_test --n_workers 2 --timing
	$(BIN)/python -m pytest tests -q

export: setup
	cd nbs && ../$(BIN)/nbdev_export

clean: setup
	cd nbs && ../$(BIN)/nbdev_clean

lab: setup
	$(BIN)/jupyter lab --ip 127.0.0.1 --notebook-dir nbs

mlflow: setup
	$(BIN)/workbook mlflow

bench: setup
	$(BIN)/python -m bench

lock: setup
	$(BIN)/uv pip compile requirements.in --python-version 3.11 --quiet -o requirements.txt
