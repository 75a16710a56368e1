# whisper-prod developer commands (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-unit test-api lint fmt typecheck bench demo cluster cluster-down clean

install: $(STAMP) ## create .venv with every package of the repo (editable) and the dev tools

$(STAMP): runtime/pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e 'runtime[tiny-en]' -r requirements-dev.txt
	touch $(STAMP)

lint: install ## ruff (lint + format check) and mypy strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install lint ## the whole test suite
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest -m unit

test-api: install
	$(BIN)/pytest -m api

bench: install ## benchmarks: ratios measured side by side in one run
	$(BIN)/python bench/runtime_throughput.py

demo: install ## the main job on one machine
	$(BIN)/python hack/demo.py

cluster cluster-down:
	@echo "The local control plane is not built yet (issue: 'A real Kubernetes control plane on one machine')." >&2
	@exit 2

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
