# Two commands set everything up on a fresh machine:
#   make run    the app on the embedded default (SQLite, in-process tasks, demo data)
#   make test   lint, type-check and the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1:8000

.PHONY: install lock run db test lint format worker relay consumer chaos benchmark clean

# Every install reads the lock (uv.lock, from pyproject.toml): the versions CI tested,
# hashes checked, so a new release of anything (ruff and mypy included) changes nothing
# until `make lock` says so. uv reads the lock; it is the one tool installed by pip.
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
LOCKED := $(UV) export --quiet --frozen --no-emit-project

$(UV):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q uv==$(UV_VERSION)

# What running needs, nothing more (`make run`).
$(VENV)/.installed-run: pyproject.toml uv.lock | $(UV)
	$(LOCKED) -o $(VENV)/run.txt
	$(UV) pip install -q --python $(PY) -r $(VENV)/run.txt
	$(UV) pip install -q --python $(PY) --no-deps -e .
	touch $@

# And the tools that test it (`make test`).
$(VENV)/.installed-dev: $(VENV)/.installed-run
	$(LOCKED) --extra dev -o $(VENV)/dev.txt
	$(UV) pip install -q --python $(PY) -r $(VENV)/dev.txt
	touch $@

# axe-core for the browser tests' accessibility checks: test-only JavaScript from npm,
# at the version tests/browser/package-lock.json holds (npm ci), never on a page.
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/browser --ignore-scripts --no-audit --no-fund --loglevel=error \
		&& touch $@; \
	else \
		echo "npm is missing (apt-get install npm): the browser tests will be skipped"; \
	fi

install: $(VENV)/.installed-dev $(AXE)

# After a change of pyproject.toml's dependencies, or to take new releases: make lock
# (UPGRADE=1: every package to its newest allowed version).
lock: | $(UV)
	$(UV) lock $(if $(UPGRADE),--upgrade)

run: $(VENV)/.installed-run
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo_data
	$(PY) manage.py runserver $(HOST)

# PostgreSQL's database of DATABASE_URL, created if missing (before the first migrate).
db: $(VENV)/.installed-run
	$(PY) manage.py create_database

lint: install
	$(UV) lock --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

test: lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

worker: $(VENV)/.installed-run
	$(VENV)/bin/celery -A config worker --loglevel=INFO

relay: $(VENV)/.installed-run
	$(PY) manage.py relay_outbox --follow

consumer: $(VENV)/.installed-run
	$(PY) manage.py consume_events

# The chaos test alone (PostgreSQL and Redis from DATABASE_URL / REDIS_URL), with a
# longer load than CI's 20 s: make chaos CHAOS_SECONDS=200
CHAOS_SECONDS ?= 200
chaos: install
	CHAOS_SECONDS=$(CHAOS_SECONDS) REQUIRE_SERVICES=1 $(VENV)/bin/pytest -s tests/chaos

# ~3 minutes on PostgreSQL (DATABASE_URL's server, else 127.0.0.1:5432), a private
# redis-server, gunicorn and a Celery worker; prints the table of docs/performance.md.
# BENCH_ARGS=--smoke for the 10-second check CI runs; --help for the options.
benchmark: install
	$(PY) -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .mypy_cache .ruff_cache tests/browser/node_modules
