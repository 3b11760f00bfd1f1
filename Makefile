# One Makefile for people and CI alike. `make demo` then `make test` on a fresh machine.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-slow lint bench clean stop

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## The main job: generate a few nights, run each through the Airflow DAG, print the marts.
demo: install
	$(BIN)/equity demo

## The test suite (real PostgreSQL, real dbt, real GX, the real DAG), two workers: most of a test's
## time is PostgreSQL, dbt and Airflow start-up, which overlap well. Each worker has its own embedded
## server and Airflow home; every test gets its own database (tests/conftest.py).
test: install
	$(BIN)/pytest -m "not bench and not slow" -n 2 --dist loadscope --durations=15

## The longest end-to-end runs (marked `slow`: ten nights through the DAG each, equal to a clean run):
## kept out of `make test` so that it stays under 15 minutes; CI runs them after it (.ci/run).
test-slow: install
	$(BIN)/pytest -m "slow and not bench" -n 2 --dist load --durations=5

lint: install
	$(BIN)/ruff check plugins dags tests

## Benchmarks (not part of the test suite); figures go to docs/benchmarks.md.
bench: install
	$(BIN)/pytest -m bench -s

stop:
	$(BIN)/equity stop

clean: stop
	rm -rf .equity landing
	find plugins -name '*.nbi' -delete -o -name '*.nbc' -delete  # numba's caches of the line passes
