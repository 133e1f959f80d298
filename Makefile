# Two commands set everything up on a fresh machine:
#   make run    the app on the embedded default (SQLite, in-process tasks, demo data)
#   make test   lint, type-check and the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1:8000

.PHONY: install run db test lint format worker relay consumer chaos benchmark clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo_data
	$(PY) manage.py runserver $(HOST)

# PostgreSQL's database of DATABASE_URL, created if missing (before the first migrate).
db: install
	$(PY) manage.py create_database

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

test: lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

worker: install
	$(VENV)/bin/celery -A config worker --loglevel=INFO

relay: install
	$(PY) manage.py relay_outbox --follow

consumer: install
	$(PY) manage.py consume_events

# The chaos test alone (PostgreSQL and Redis from DATABASE_URL / REDIS_URL), with a
# longer load than CI's 40 s: make chaos CHAOS_SECONDS=200
CHAOS_SECONDS ?= 200
chaos: install
	CHAOS_SECONDS=$(CHAOS_SECONDS) REQUIRE_SERVICES=1 $(VENV)/bin/pytest -s tests/chaos

# ~3 minutes on PostgreSQL (DATABASE_URL's server, else 127.0.0.1:5432), a private
# redis-server, gunicorn and a Celery worker; prints the table of docs/performance.md.
# BENCH_ARGS=--smoke for the 10-second check CI runs; --help for the options.
benchmark: install
	$(PY) -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .mypy_cache .ruff_cache
