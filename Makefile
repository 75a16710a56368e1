# whisper-prod developer commands (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install system-deps e2e-kind lint-deploy test test-unit test-api test-cluster lint fmt bench demo demo-runtime cluster cluster-down clean

install: $(STAMP) ## create .venv with every package of the repo (editable) and the dev tools

$(STAMP): runtime/pyproject.toml operator/pyproject.toml hack/localcluster/pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e 'runtime[tiny-en]' -e operator -e hack/localcluster -r requirements-dev.txt
	touch $(STAMP)

system-deps: ## Debian packages the tests use: prometheus and promtool (apt-get, as root or with sudo)
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { \
	  echo "installing Debian's prometheus package (server + promtool) for the monitoring tests"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

lint: install ## ruff (lint + format check) and mypy strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install system-deps lint ## the whole test suite
	$(BIN)/pytest

lint-deploy: install system-deps ## chart, alert rules, Lua health checks, terraform, Dockerfiles, CI workflow (no control plane)
	$(BIN)/pytest tests/deploy -m "not cluster"

test-unit: install
	$(BIN)/pytest -m unit

test-api: install
	$(BIN)/pytest -m api

bench: install ## benchmarks: ratios measured side by side in one run
	$(BIN)/python bench/runtime_throughput.py

demo: install ## the main job on one machine: control plane, CRDs, operator, examples/demo
	$(BIN)/python hack/demo.py

demo-runtime: install ## the runtime alone: serve tiny.en and transcribe the bundled calls
	$(BIN)/python hack/demo_runtime.py

e2e-kind: ## end to end on kind (needs Docker, kind, kubectl, helm; skips with the reason without Docker)
	bash hack/e2e-kind.sh

cluster: install ## the local control plane in the background; KUBECONFIG=.local-cluster/kubeconfig
	$(BIN)/local-cluster up

cluster-down: install ## stop every process `make cluster` started
	$(BIN)/local-cluster down

test-cluster: install
	$(BIN)/pytest -m cluster

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
