# The two commands: `make run` (portal with live demo data) and `make test` (the whole suite).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install deps lint typecheck pytest bench clean lock

run: install
	$(BIN)/python scripts/devrun.py

test: deps lint typecheck pytest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e ".[dev]"
	@touch $@

deps: install
	@bash scripts/system-deps.sh

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy .

pytest: install
	$(BIN)/pytest --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

# make bench BENCH_ARGS="--store clickhouse": the log benches measure the ClickHouse store too.
bench: install
	@bash scripts/bench.sh $(BENCH_ARGS)

lock:
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

clean:
	rm -rf $(VENV) var/ test-output/ .coverage
