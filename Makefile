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

.PHONY: install run test neo4j-install openapi bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

# the embedded default (sqlite) with the demo network loaded
run: install
	$(CG) demo
	$(CG) serve --port $(PORT)

neo4j-install: install
	$(CG) neo4j install

# everything: deps, the Neo4j jars, a real Neo4j, the whole suite; Neo4j is stopped after
test: install
	@export CASTLEGATE_NEO4J_HOME=$(TEST_NEO4J_HOME) CASTLEGATE_NEO4J_PORT=$(TEST_NEO4J_PORT); \
	uri=$$($(CG) neo4j start) || exit 1; \
	trap '$(CG) neo4j stop' EXIT; \
	NEO4J_URI=$$uri CASTLEGATE_REQUIRE_NEO4J=1 $(PY) -m pytest $(PYTEST_ARGS)

openapi: install
	$(CG) openapi

clean:
	rm -rf $(VENV) .pytest_cache .neo4j-test
