# Two entry points (README): `make run` and `make test`. Everything else is a building block.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test test-fast test-postgres test-worker test-sqlite setup browser-deps services

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

## Set up and run the console on the embedded defaults (SQLite, var/lake, a real worker on the filesystem broker).
# make run PORT=8010 (ADDR=0.0.0.0 to listen beyond this machine)
ADDR ?= 127.0.0.1
PORT ?= 8000

run: setup
	$(BIN)/python manage.py run_console $(ADDR):$(PORT)

## Debian's Chromium for the browser tests (never a downloaded browser).
browser-deps:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## PostgreSQL and Redis on 127.0.0.1, started if they are down.
services:
	@bash .ci/services.sh

## The whole suite: PostgreSQL + Redis + real Celery workers + Chromium, then the SQLite pass of the embedded defaults.
test: setup browser-deps services test-postgres test-worker test-sqlite

## The inner loop: the PostgreSQL pass without the real-worker and browser tests (make test runs them all).
test-fast: setup services
	$(BIN)/python -m pytest -n 3 -m "not worker and not browser"

# Three pytest-xdist processes (on two cores: much of a test is waiting on PostgreSQL, a third process fills
# those waits) for everything but the real-worker tests; the browser tests that start no worker run here.
# --durations lists the slowest tests in CI's log.
test-postgres:
	@echo "== $@ starts at $$(date -u +%T)"
	$(BIN)/python -m pytest -n 3 -m "not worker" --durations=15

# The real-worker tests, after the busy pass: three processes, one test file each at a time (--dist loadfile:
# a file's tests share their set-up), each with its own database, broker prefix, var folder and workers. Most
# of their time is waiting on a worker, a kill or a stopped Redis, so three overlap without sharing a CPU-bound
# neighbour's timings.
test-worker:
	@echo "== $@ starts at $$(date -u +%T)"
	$(BIN)/python -m pytest -n 3 --dist loadfile -m "worker" --durations=15

test-sqlite:
	@echo "== $@ starts at $$(date -u +%T)"
	DATABASE_URL=sqlite:///var/test-sqlite/console.sqlite3 $(BIN)/python -m pytest -n 2 -m "not postgres_only and not browser and not worker" --parity-suites -q
