# Two commands: `make run` (install, then serve on SQLite with demo data) and `make test`.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 5000

.PHONY: install run scheduler test fuzz test-fast test-postgres lint translations bench bench-quick bench-third-party bench-submit modeler

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Reinstalls only when pyproject.toml changed (the stamp is older), recompiles translations only when
# the catalogue changed.
install: $(VENV)/.installed webapp/translations/en/LC_MESSAGES/messages.mo

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

webapp/translations/en/LC_MESSAGES/messages.mo: webapp/translations/en/LC_MESSAGES/messages.po | $(VENV)/.installed
	$(BIN)/pybabel compile -f -d webapp/translations

# Demo data (organisations, users with the demo password, projects) is asked for here: the app's default is none.
run: install
	ZS_DEMO_DATA=$${ZS_DEMO_DATA:-1} $(BIN)/flask --app webapp:create_app run --host 127.0.0.1 --port $(PORT)

# Fires due BPMN timers (overdue reminders, escalation); run beside `make run`, any number of copies.
scheduler: install
	$(BIN)/python -m workflows.commands.scheduler --interval 60

# Every test: SQLite, and PostgreSQL at TEST_POSTGRES_URL (default the local server's `postgres`
# database, where scratch databases are made), in parallel (one worker per core; a test file stays on one
# worker, so its module fixtures such as the browser are made once).
test: install
	$(BIN)/python -m pytest -q -rs -n auto --dist loadfile --junitxml=test-output/junit.xml

# The quick loop while coding: engine, model, forms, rules and service tests on SQLite (under a minute).
FAST_TESTS = tests/test_architecture.py tests/test_script_engine_security.py tests/test_bpmn_model.py \
	tests/test_forms.py tests/test_rewards.py tests/test_diagram.py tests/test_migrations.py tests/test_i18n.py \
	tests/test_model_versions.py tests/test_service.py tests/test_timers.py tests/test_return_modes.py \
	tests/test_complaints.py tests/test_metrics.py tests/test_inbox.py
test-fast: install
	$(BIN)/python -m pytest -q -n auto -m "not postgres and not browser" -p no:cacheprovider $(FAST_TESTS)

# A longer fuzz campaign than `make test` runs: the seeded form fuzzer (tests/test_fuzz.py) with more
# requests per route, and the schema-driven run on /api/v1 with more examples; SQLite and PostgreSQL.
ZS_FUZZ_EXAMPLES ?= 200
ZS_FUZZ_API_EXAMPLES ?= 200
fuzz: install
	ZS_FUZZ_EXAMPLES=$(ZS_FUZZ_EXAMPLES) ZS_FUZZ_API_EXAMPLES=$(ZS_FUZZ_API_EXAMPLES) $(BIN)/python -m pytest -q -rs \
		-p no:cacheprovider tests/test_fuzz.py tests/test_service_api.py -k "fuzz or malformed"

lint: install
	$(BIN)/ruff check workflows webapp tests

translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k form_text -k N_ --no-location -o webapp/translations/messages.pot .
	$(BIN)/pybabel update -i webapp/translations/messages.pot -d webapp/translations -l en --no-fuzzy-matching

# Benchmarks (figures in BENCHMARKS.md): SQLite and PostgreSQL (BENCH_POSTGRES_URL) at 1k/10k/100k projects.
bench: install
	$(BIN)/python -m bench

bench-quick: install
	$(BIN)/python -m bench --quick

# A step of the SpiffArena-style models of tests/models/ vs a step of the investment model.
bench-third-party: install
	$(BIN)/python -m bench.third_party_steps --dbs sqlite,postgres

# SQL statements, commits and ms of one task submit, cold and warm (BENCHMARKS.md).
bench-submit: install
	$(BIN)/python -m bench.submit_statements --dbs sqlite,postgres

# The browser process editor: bpmn-js, dmn-js and the properties panel (webapp/modeler/package.json,
# versions pinned by its package-lock.json) built by esbuild into webapp/static/modeler/. The built files
# are committed, so `make run` and CI need no npm; run this after changing webapp/modeler/ or upgrading.
modeler:
	cd webapp/modeler && npm ci --no-audit --no-fund && node build.mjs && node licenses.mjs
