# The two commands: `make run` starts the whole portal on this machine; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-quick fuzz-outside lint format lock services-stop clean help

help:
	@echo "make run    - start the portal with embedded Postgres and Redis (http://localhost:$${PORT:-8000}/)"
	@echo "make test   - run the whole test suite against real servers"
	@echo "make bench  - run the benchmarks (tests/bench/)"
	@echo "make bench-quick - every benchmark with small sizes, a smoke run under 3 minutes"
	@echo "make fuzz-outside - schemathesis' command line, all phases, against a fresh portal in use (issue 20)"
	@echo "make lint   - ruff check and format check"

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)
	@bash scripts/run-system-deps.sh
	$(PY) -m portal.launcher

test: $(STAMP)
	@bash scripts/test-system-deps.sh
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m tests.bench

bench-quick: $(STAMP)
	$(PY) -m tests.bench --quick

fuzz-outside: $(STAMP)
	$(PY) -m tests.fuzz_outside

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lock: $(STAMP)
	$(PY) -m pip install --quiet -r requirements.in
	$(PY) -m pip freeze --exclude-editable | grep -v -i -E "^(pytest|pytest-django|pytest-asyncio|factory.boy|faker|iniconfig|pluggy|ruff|moto|playwright|kubernetes-validate|kmock|schemathesis|hypothesis|jupyterhub|aiosmtpd|atpublic|import-linter|grimp)==" > requirements.txt

services-stop: $(STAMP)
	$(PY) -m portal.embedded stop

clean:
	rm -rf $(VENV) var/test .pytest_cache
