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
PACKAGES := edge_agent firmware_protocol database ingest risk_engine cloud_api migrations

.PHONY: setup services venv lint typecheck test test-only soak demo migrate fuzz bench bench-protocol bench-ingest bench-risk bench-agent bench-api bench-policy bench-evidence bench-reports clean

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
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

test: setup lint typecheck test-only

# pytest exits 5 when it collected no test: for this suite that is a failure, said plainly.
test-only: venv
	@$(BIN)/python -m pytest -m "not soak" --cov --cov-report=term --durations=25 $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc
	$(BIN)/python scripts/coverage_floor.py

# The long runs: the soak-marked tests, then a thousand robots for half an hour through the whole
# deployment (bench/soak.py; SOAK_ARGS e.g. --robots 100 --minutes 5), figures into
# docs/benchmarks.md.
soak: setup
	$(BIN)/python -m pytest -m soak $(PYTEST_ARGS)
	$(BIN)/python bench/soak.py --output docs/benchmarks.md $(SOAK_ARGS)

# Coverage-guided fuzzing (atheris), seeded by fuzz/seeds.py: the protocol decoder, then the
# ingest's whole judging path on the real database (fuzz/fuzz_judge.py: a database of its own,
# every input rolled back). Inputs up to the protocol's 256 KiB payload. RSS limits: the idle
# target's + 128 MB (decoder ~70 MB; judge 110 MB, 160 MB in a run that first migrates its
# template). libFuzzer's -malloc_limit_mb is inert without sanitizer hooks: the judge target
# also caps its address space (RLIMIT_AS). The judge target runs ~20 instrumented inputs/s on
# two cores: its default run is an hour's worth. Past runs and findings: docs/benchmarks.md.
FUZZ_RUNS ?= 3000000
FUZZ_JUDGE_RUNS ?= 72000
FUZZ_RSS_LIMIT_MB ?= 200
FUZZ_JUDGE_RSS_LIMIT_MB ?= 290
FUZZ_MALLOC_LIMIT_MB ?= 64
FUZZ_JUDGE_FLAGS ?=
FUZZ_OPTIONS = -max_len=262144 -malloc_limit_mb=$(FUZZ_MALLOC_LIMIT_MB) -artifact_prefix=fuzz/crashes/
fuzz: setup
	$(BIN)/python -m pip install -q -e ".[fuzz]" 2>&1 | { grep -v "is ignored: it is neither" || true; }
	mkdir -p fuzz/crashes
	$(BIN)/python fuzz/seeds.py
	$(BIN)/python fuzz/fuzz_decode.py -atheris_runs=$(FUZZ_RUNS) $(FUZZ_OPTIONS) \
	  -rss_limit_mb=$(FUZZ_RSS_LIMIT_MB) fuzz/corpus/decode
	$(BIN)/python fuzz/fuzz_judge.py -atheris_runs=$(FUZZ_JUDGE_RUNS) $(FUZZ_OPTIONS) \
	  -rss_limit_mb=$(FUZZ_JUDGE_RSS_LIMIT_MB) -timeout=30 $(FUZZ_JUDGE_FLAGS) fuzz/corpus/judge
	$(BIN)/python fuzz/fuzz_judge.py --cleanup

bench-protocol: venv
	$(BIN)/python bench/protocol_bench.py --output docs/benchmarks.md

bench-ingest: setup
	$(BIN)/python bench/ingest_bench.py --output docs/benchmarks.md

bench-risk: setup
	$(BIN)/python bench/risk_bench.py --output docs/benchmarks.md

bench-policy: setup
	$(BIN)/python bench/policy_bench.py --output docs/benchmarks.md

bench-evidence: setup
	$(BIN)/python bench/evidence_bench.py --output docs/benchmarks.md

bench-reports: setup
	$(BIN)/python bench/reports_bench.py --output docs/benchmarks.md

bench-agent: setup
	$(BIN)/python bench/agent_bench.py --output docs/benchmarks.md

bench-api: setup
	$(BIN)/python -m pip install -q -e ".[bench]" 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(BIN)/python bench/api_bench.py --output docs/benchmarks.md

# Every benchmark, each against its baseline in the same run; figures go to docs/benchmarks.md.
bench: bench-protocol bench-ingest bench-risk bench-agent bench-api bench-policy bench-evidence bench-reports

migrate: setup
	$(BIN)/robocover migrate

# The whole story on the local services, every process as deployed, until Ctrl-C:
# `make demo DEMO_ARGS="--robots 12"`, or `DEMO_ARGS=--exit` to stop once it is told.
DEMO_ARGS ?=
demo: setup
	$(BIN)/robocover demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage htmlcov
