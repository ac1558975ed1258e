# Yingji — the two commands: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
YINGJI := $(BIN)/yingji
WEB_DIST := src/yingji/web_dist/index.html
WEB_SOURCES := $(shell find web/src web/index.html web/vite.config.ts web/package.json -type f 2>/dev/null)

.PHONY: run test e2e install web web-test api-types lint check-migrations lock clean

run: install $(WEB_DIST)  ## install, build the web app, check the port is free, migrate, seed the demo, serve (warnings only)
	$(YINGJI) serve --check-port
	$(YINGJI) db upgrade
	$(YINGJI) seed demo
	YINGJI_LOG_LEVEL=$${YINGJI_LOG_LEVEL:-WARNING} $(YINGJI) serve

test: install web-test  ## install and pass the whole suite in two workers (browser tests: make e2e)
	$(BIN)/python -m pytest -q -n $${YINGJI_TEST_WORKERS:-2} -m "not e2e"

e2e: install $(WEB_DIST)  ## browser tests in Debian's Chromium (apt-get install chromium)
	$(BIN)/python -m pytest -q -m e2e tests/e2e

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web: $(WEB_DIST)

$(WEB_DIST): web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

web-test: web/node_modules/.package-lock.json
	cd web && npm test

api-types: install web/node_modules/.package-lock.json  ## regenerate the web app's API types from the OpenAPI document
	$(YINGJI) openapi -o var/openapi.json
	cd web && npm run api:types

lint: install  ## formatting, lint rules, strict types, layer contracts, migration drift
	$(BIN)/ruff format --check src tests migrations $(wildcard bench)
	$(BIN)/ruff check src tests migrations $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(MAKE) check-migrations
	$(MAKE) api-types
	git diff --exit-code --stat web/src/api/schema.d.ts  # stale: run make api-types and commit

check-migrations: install  ## models and the Alembic history must agree
	rm -f var/drift-check.db
	YINGJI_DATABASE_URL=sqlite+aiosqlite:///var/drift-check.db $(YINGJI) db upgrade
	YINGJI_DATABASE_URL=sqlite+aiosqlite:///var/drift-check.db $(YINGJI) db check
	rm -f var/drift-check.db

lock:  ## re-resolve pinned Python dependencies after editing pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) web/node_modules src/yingji/web_dist var
