# robocover: `make demo` and `make test` set up whatever is missing, then run.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := agent,ros,cloud,dev
# The venv is rebuilt only when the project's dependencies change.
DEPS_HASH := $(shell cat pyproject.toml | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(DEPS_HASH)
PACKAGES := edge_agent firmware_protocol ingest risk_engine cloud_api migrations

.PHONY: setup services venv lint typecheck test test-only soak demo migrate fuzz bench bench-protocol bench-ingest bench-risk bench-agent clean

setup: services venv

services:
	@bash scripts/services-up.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip 2>&1 | { grep -v "is ignored: it is neither" || true; }
	@$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]" 2>&1 | { grep -v "is ignored: it is neither" || true; }
	@rm -f $(VENV)/.installed-* && touch $@
	@echo "[venv] installed robocover[$(EXTRAS)] into $(VENV)"

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

test: setup lint typecheck test-only

# pytest exits 5 when it collected no test: for this suite that is a failure, said plainly.
test-only: venv
	@$(BIN)/python -m pytest -m "not soak" --cov --cov-report=term $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc
	$(BIN)/python scripts/coverage_floor.py

soak: setup
	$(BIN)/python -m pytest -m soak $(PYTEST_ARGS)

# Coverage-guided fuzzing of the protocol decoder (atheris); see docs/benchmarks.md for past runs.
FUZZ_RUNS ?= 3000000
fuzz: venv
	$(BIN)/python -m pip install -q -e ".[fuzz]" 2>&1 | { grep -v "is ignored: it is neither" || true; }
	mkdir -p fuzz/crashes
	$(BIN)/python fuzz/fuzz_decode.py -atheris_runs=$(FUZZ_RUNS) -max_len=8192 -artifact_prefix=fuzz/crashes/

bench-protocol: venv
	$(BIN)/python bench/protocol_bench.py --output docs/benchmarks.md

bench-ingest: setup
	$(BIN)/python bench/ingest_bench.py --output docs/benchmarks.md

bench-risk: setup
	$(BIN)/python bench/risk_bench.py --output docs/benchmarks.md

bench-agent: setup
	$(BIN)/python bench/agent_bench.py --output docs/benchmarks.md

# Every benchmark, each against its baseline in the same run; figures go to docs/benchmarks.md.
bench: bench-protocol bench-ingest bench-risk bench-agent

migrate: setup
	$(BIN)/robocover migrate

demo: setup
	$(BIN)/robocover demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage htmlcov
