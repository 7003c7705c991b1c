#!/usr/bin/env bash
# One-time setup: a virtual environment in .venv with the engine and its test tools.
# Needs only Python 3.10-3.12 and a C compiler (durable-rules compiles its C core on install).
# Reinstalls when pyproject.toml changes. pip's output goes to .venv/install.log and is shown
# only if the install fails.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import durable, engine, yaml, jsonschema, click, openpyxl, pytest, hypothesis" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
    echo "setting up .venv (first run compiles durable-rules; this takes a minute)..." >&2
    if ! { .venv/bin/python -m pip install --quiet --upgrade pip \
           && .venv/bin/python -m pip install --quiet -e ".[test]"; } > .venv/install.log 2>&1; then
        cat .venv/install.log >&2
        echo "setup failed; the log above is also in .venv/install.log" >&2
        exit 1
    fi
    touch .venv/.installed
fi
