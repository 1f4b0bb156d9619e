# Two commands: `make run` (install, then serve on SQLite with demo data) and `make test`.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 5000

.PHONY: install run scheduler test test-postgres lint translations bench bench-quick

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pybabel compile -f -d webapp/translations

run: install
	$(BIN)/flask --app webapp:create_app run --host 127.0.0.1 --port $(PORT)

# Fires due BPMN timers (overdue reminders, escalation); run beside `make run`, any number of copies.
scheduler: install
	$(BIN)/python -m workflows.scheduler --interval 60

# Every test: SQLite, and PostgreSQL at TEST_POSTGRES_URL (default the local server's `test` database).
test: install
	$(BIN)/python -m pytest -q -rs --junitxml=test-output/junit.xml

lint: install
	$(BIN)/ruff check workflows webapp tests

translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k form_text -k N_ --no-location -o webapp/translations/messages.pot .
	$(BIN)/pybabel update -i webapp/translations/messages.pot -d webapp/translations -l en --no-fuzzy-matching

# Benchmarks of issue #6 (figures in BENCHMARKS.md): SQLite and PostgreSQL (BENCH_POSTGRES_URL) at 1k/10k/100k projects.
bench: install
	$(BIN)/python -m bench

bench-quick: install
	$(BIN)/python -m bench --quick
