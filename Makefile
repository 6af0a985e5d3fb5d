# The two commands: `make run` and `make test`. Both bootstrap first (scripts/bootstrap.sh:
# .venv, pinned requirements, ffmpeg, redis-server, a local Redis), so they are the whole set-up.
# HOST, PORT, REDIS_URL, DATABASE_URL and everything else config.py reads come from the
# environment or the command line: `PORT=5123 make run` or `make run PORT=5123` (make passes
# both to the scripts as they are; it sets no defaults of its own, so unset stays unset).

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test lint fmt migrate migration bench bootstrap clean distclean help

help:
	@echo "make run        serve the site and the media worker at http://HOST:PORT/ (127.0.0.1:5000)"
	@echo "make test       the whole test suite, in parallel (PYTEST_ARGS='-k ...' to narrow it, TEST_WORKERS=n)"
	@echo "make lint       ruff check + ruff format --check + lint-imports (the layers, pyproject.toml)"
	@echo "make fmt        ruff format + ruff check --fix"
	@echo "make migrate    flask db upgrade"
	@echo "make migration  flask db migrate -m \"\$$m\" (a new migration from the models)"
	@echo "make bench      every bench/*.py"
	@echo "make clean      caches and test output (keeps .venv and instance/); distclean also .venv"

bootstrap:
	@scripts/bootstrap.sh

run: bootstrap
	@scripts/run.sh

test:
	@scripts/bootstrap.sh --test
	@scripts/test.sh $(PYTEST_ARGS)

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

fmt: bootstrap
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: bootstrap
	APP_ENV=$${APP_ENV:-development} $(BIN)/flask db upgrade

migration: bootstrap
	@test -n "$(m)" || { echo 'usage: make migration m="what changed"' >&2; exit 2; }
	APP_ENV=$${APP_ENV:-development} $(BIN)/flask db migrate -m "$(m)"

bench: bootstrap
	@shopt -s nullglob; benches=(bench/*.py); \
	if (( $${#benches[@]} == 0 )); then echo "no benchmarks yet (bench/*.py)"; exit 0; fi; \
	for bench in "$${benches[@]}"; do echo "==> $$bench"; $(BIN)/python "$$bench" || exit $$?; done

clean:
	rm -rf .pytest_cache .ruff_cache .import_linter_cache test-results
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
