# tradebot: `make run` runs the bot, `make test` runs the tests. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

# Tests run on a real PostgreSQL and Redis (.ci/services starts the local ones when they are down).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tradebot
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: run test install install-dev bench lint schema clean help
.DEFAULT_GOAL := help

help:
	@echo "make run    - set up and run the whole bot at http://127.0.0.1:8000 (embedded SQLite + Redis, paper exchange)"
	@echo "make test   - set up and run the test suite on PostgreSQL + Redis"
	@echo "make bench  - run every benchmark in benchmarks/"
	@echo "make lint   - ruff over the whole repository"
	@echo "make schema - write the OpenAPI schema to docs/openapi.yaml (fails on warnings)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

run: install
	$(PY) manage.py runbot

test: install-dev
	PYTHONPATH=. $(BIN)/lint-imports
	.ci/services
	.ci/browser
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS)

bench: install-dev
	.ci/services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) benchmarks/run_all.py

lint: install-dev
	$(BIN)/ruff check .
	PYTHONPATH=. $(BIN)/lint-imports

schema: install
	$(PY) manage.py spectacular --file docs/openapi.yaml --fail-on-warn --validate

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis staticfiles
