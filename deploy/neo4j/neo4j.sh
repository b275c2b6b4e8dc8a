#!/usr/bin/env bash
# Run the castlegate local Neo4j (real 5.26 Community server from Maven Central jars).
#
#   deploy/neo4j/neo4j.sh start|stop|status|install [--port N] [--home DIR] [--timeout S]
#
# `start` prints only the Bolt URI on stdout, e.g.  export NEO4J_URI=$(deploy/neo4j/neo4j.sh start)
# All logic lives in service/neo4j_local.py; this wrapper only picks the interpreter
# and working directory so it can be called from anywhere.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

# Prefer the repo's venv: the launcher needs the neo4j driver to probe Bolt.
if [[ -x "$repo_root/.venv/bin/python" ]]; then
    python="$repo_root/.venv/bin/python"
else
    python="$(command -v python3 || true)"
    if [[ -z "$python" ]]; then
        echo "neo4j.sh: no $repo_root/.venv/bin/python and no python3 on PATH" >&2
        exit 1
    fi
fi

export PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m service.neo4j_local "$@"
