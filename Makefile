# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := app

.PHONY: run test lint bench translations run-prod clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

translations/zh_Hans_CN/LC_MESSAGES/messages.mo: translations/zh_Hans_CN/LC_MESSAGES/messages.po $(BIN)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d translations

setup: $(BIN)/.installed translations/zh_Hans_CN/LC_MESSAGES/messages.mo

## make run: set up, migrate, seed demo data and serve the embedded default (SQLite, in-process tasks)
run: setup
	$(BIN)/flask db upgrade
	$(BIN)/flask demo seed
	@echo ""
	@echo "Foodtrace is serving on http://127.0.0.1:$(PORT)  (Ctrl-C stops it)"
	@echo ""
	IN_PROCESS_BEAT=true $(BIN)/gunicorn --workers 1 --threads 8 --bind 127.0.0.1:$(PORT) \
		--access-logfile - "app:create_app()"

## make run-prod: the production form on this machine (PostgreSQL, Redis, Celery worker and beat,
## the MQTT subscriber, gunicorn) started together by honcho from the Procfile; env overrides each
run-prod: setup
	@export DATABASE_URL="$${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/foodtrace}" \
		CELERY_BROKER_URL="$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}" \
		RATE_LIMIT_STORAGE_URL="$${RATE_LIMIT_STORAGE_URL:-redis://127.0.0.1:6379/1}" \
		PROMETHEUS_MULTIPROC_DIR="$${PROMETHEUS_MULTIPROC_DIR:-$(CURDIR)/instance/prometheus}" \
		BIND="$${BIND:-127.0.0.1:$(PORT)}" PATH="$(CURDIR)/$(BIN):$$PATH"; \
	mkdir -p "$$PROMETHEUS_MULTIPROC_DIR" && rm -f "$$PROMETHEUS_MULTIPROC_DIR"/*.db; \
	flask db create && flask db upgrade && flask demo seed && \
	echo "Foodtrace (production form) on http://$$BIND" && exec honcho start -f Procfile

## make test: set up, lint, run every test
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

## make bench: every benchmark in bench/; figures go to bench/results.json and bench/RESULTS.md
bench: setup
	set -e; for script in bench/*.py; do \
		case $$script in */harness.py|*/__init__.py) continue;; esac; \
		echo "== $$script"; $(BIN)/python $$script; \
	done

## make translations: re-extract strings and merge them into the zh_CN catalogue
translations: setup
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -o translations/messages.pot \
		--ignore-dirs=".venv instance tests bench" --no-location --sort-output --omit-header .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --width 100
	$(BIN)/python translations/merge_pending.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
