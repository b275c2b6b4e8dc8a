# castlegate: the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CG := $(VENV)/bin/castlegate
PORT ?= 8000
# the test suite's own Neo4j: its own state folder and port, so it never touches a
# server you started yourself with `castlegate neo4j start`
TEST_NEO4J_HOME ?= $(CURDIR)/.neo4j-test
TEST_NEO4J_PORT ?= 7688
PYTEST_ARGS ?=
# Installs are locked (README "Set up"): requirements/lock.txt pins every dependency of
# the project and its [test] and [bench] extras, the build backend and uv, with hashes;
# requirements/build.txt is its build-tool part, installed first. Both are written by
# `make lock`, the one upgrade command.
LOCK := requirements/lock.txt
BUILD_LOCK := requirements/build.txt
UV := $(VENV)/bin/uv
# The map page (/ui, README "Map page") is built here, not committed: `npm ci` installs
# exactly ui/package-lock.json (exact versions, sha512 integrity; no package install
# scripts run), esbuild bundles it into service/ui_dist, which serve answers from and the
# wheel ships. Rebuilt when a source or the lock changes; Debian's npm is installed when missing.
UI_SOURCES := ui/package.json ui/package-lock.json ui/build.mjs $(wildcard ui/src/*)
UI_BUNDLE := service/ui_dist/index.html
# one resolution for CPython 3.11 on Linux x86-64 (CI's and the image's platform); the
# hashes cover every published file of each pinned version
UV_COMPILE := $(UV) pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock"

.PHONY: install lock run test redis-server chromium ui neo4j-install gephi-toolkit openapi bench clean

install: $(VENV)/.installed $(UI_BUNDLE)

# the venv with the locked build tools (setuptools, uv): sdists in the lock and the
# project itself are built with them, never with an unpinned download
$(VENV)/.tools: $(BUILD_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes --no-deps -r $(BUILD_LOCK)
	touch $@

$(VENV)/.installed: pyproject.toml setup.py $(LOCK) $(VENV)/.tools
	$(PY) -m pip install -q --require-hashes --no-deps --no-build-isolation -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $@

# the one upgrade command: re-resolves everything to the newest versions the bounds in
# pyproject.toml and requirements/build.in allow; commit the result once `make test` passes
lock: $(VENV)/.tools
	$(UV_COMPILE) --upgrade pyproject.toml requirements/build.in --extra test --extra bench -o $(LOCK)
	$(UV_COMPILE) requirements/build.in -c $(LOCK) -o $(BUILD_LOCK)

# the embedded default (sqlite) with the demo network loaded
run: install
	$(CG) demo
	$(CG) serve --port $(PORT)

# $(call apt-install,COMMAND,PACKAGE): Debian's PACKAGE, installed with apt when COMMAND is
# missing (root, or password-less sudo); a clear message when it cannot be
apt-install = command -v $(1) >/dev/null 2>&1 || { \
	  echo "$(1) not found: installing Debian's $(2) (apt-get update; apt-get install)"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else echo "make: cannot install $(2): not root and no password-less sudo;" \
	    "install it (Debian: apt-get install $(2)) and run again" >&2; exit 1; fi; \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "make: cannot install $(2): no apt-get here; install $(2) and run again" >&2; \
	    exit 1; fi; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) \
	    || { echo "make: installing $(2) with apt-get failed (see above)" >&2; exit 1; }; \
	  command -v $(1) >/dev/null 2>&1 \
	    || { echo "make: $(1) is still not on PATH after apt-get install" >&2; exit 1; }; \
	}

$(UI_BUNDLE): $(UI_SOURCES)
	@$(call apt-install,npm,npm)
	cd ui && npm ci --ignore-scripts --no-audit --no-fund && npm run build

# the map page again, whatever make thinks is up to date
ui:
	rm -f $(UI_BUNDLE)
	$(MAKE) $(UI_BUNDLE)

# the tests need Debian's redis-server (the job queue's broker)
redis-server:
	@$(call apt-install,redis-server,redis-server)

# the map page's tests drive Debian's chromium, headless (Playwright launches it by path:
# no browser download)
chromium:
	@$(call apt-install,chromium,chromium)

neo4j-install: install
	$(CG) neo4j install

# Gephi's own toolkit (Maven Central, one self-contained 80 MB jar in ~/.m2), which the
# suite opens the exports with (tests/export/gephi); the plain artifact's dependencies
# name a repository outside Maven Central, the "all" jar has none
gephi-toolkit:
	mvn -q -B dependency:get -Dartifact=org.gephi:gephi-toolkit:0.10.1:jar:all -Dtransitive=false

# everything: deps (the map page built), the Neo4j jars, a real Neo4j, a real Redis (the
# suite starts Debian's redis-server itself, on a free port), Gephi's toolkit, Debian's
# chromium for the map page's browser tests, the whole suite; Neo4j is stopped after
test: install redis-server chromium gephi-toolkit
	@export CASTLEGATE_NEO4J_HOME=$(TEST_NEO4J_HOME) CASTLEGATE_NEO4J_PORT=$(TEST_NEO4J_PORT); \
	uri=$$($(CG) neo4j start) || exit 1; \
	trap '$(CG) neo4j stop' EXIT; \
	NEO4J_URI=$$uri CASTLEGATE_REQUIRE_NEO4J=1 CASTLEGATE_REQUIRE_REDIS=1 CASTLEGATE_REQUIRE_GEPHI=1 \
	  CASTLEGATE_REQUIRE_BROWSER=1 \
	  $(PY) -m pytest $(PYTEST_ARGS)

openapi: install
	$(CG) openapi

# every benchmark, one after the other (each writes its table to bench/results/; about two
# hours on 2 cores); BENCHES=analysis make bench runs one. The speed ones (issue 11) first.
BENCHES ?= analysis mixing cached_reads ingest streaming responsiveness load audits bombs faults polarization_limit summary
bench: install redis-server neo4j-install
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "wrk not found: installing Debian's wrk (cached_reads measures with it)"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=; else sudo="sudo -n"; fi; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk \
	    || { echo "make: installing wrk failed; install it and run again" >&2; exit 1; }; }
	@set -e; for b in $(BENCHES); do echo "== bench.$$b"; $(PY) -m bench.$$b; done

clean:
	rm -rf $(VENV) .pytest_cache .neo4j-test ui/node_modules service/ui_dist
