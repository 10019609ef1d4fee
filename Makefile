# Two commands for a newcomer: `make run` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean-data

$(PY):
	@$(PYTHON) -c "import sys; assert sys.version_info >= (3, 11), sys.version" || { echo "Python 3.11+ is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

## make run: embedded PostgreSQL + Redis (unless DATABASE_URL/REDIS_URL), migrate, seed, web + worker + beat
run: $(STAMP)
	$(PY) -m scrm.launcher

## make test: the whole suite (embedded servers unless DATABASE_URL/REDIS_URL)
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## make bench: every benchmark script in bench/ (bench/README.md); BENCH_ARGS are passed to each
BENCH_SCRIPTS ?= $(filter-out bench/trivial_wsgi.py,$(wildcard bench/*.py))
bench: $(STAMP)
	@set -e; for script in $(BENCH_SCRIPTS); do echo "== $$script"; $(PY) $$script $(BENCH_ARGS); done

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean-data:
	rm -rf .data
