# dtwin: `make run` starts the whole system, `make test` runs every check and test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench db-start db-stop db-status clean

$(STAMP): requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

run: $(STAMP)
	scripts/run.sh

test: $(STAMP)
	scripts/test.sh

# Every benchmark with its reference, side by side (docs/benchmarks.md); BENCH_ARGS=--quick
bench: $(STAMP)
	$(VENV)/bin/python bench/run.py $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

db-start:
	@scripts/localdb.sh start

db-stop:
	@scripts/localdb.sh stop

db-status:
	@scripts/localdb.sh status

clean: db-stop
	rm -rf $(VENV) .pgdata staticfiles prediction_out .local
