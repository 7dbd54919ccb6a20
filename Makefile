# Two commands for a newcomer: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi

.PHONY: run test lint format install worker scheduler bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when a requirements file changed.
$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	APP_ENV=$${APP_ENV:-development} $(BIN)/flask db upgrade
	APP_ENV=$${APP_ENV:-development} $(BIN)/flask crm sync-roles > /dev/null
	APP_ENV=$${APP_ENV:-development} $(BIN)/flask crm seed-demo --if-empty
	@echo ""
	@echo "  Portal:   http://$(HOST):$(PORT)/   (API docs: http://$(HOST):$(PORT)/api/v1/docs)"
	@echo "  Sign in:  admin@example.com / demo-password-2026"
	@echo "            (also sales@, support@, marketing@example.com, same password)"
	@echo ""
	APP_ENV=$${APP_ENV:-development} $(BIN)/flask run --host $(HOST) --port $(PORT)

# Runs against DATABASE_URL / REDIS_URL when set (CI), else SQLite with inline jobs.
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

worker: $(STAMP)
	$(BIN)/python worker.py

scheduler: $(STAMP)
	$(BIN)/rq cron app.periodic --url "$${REDIS_URL:?set REDIS_URL}"

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache instance/*.db
