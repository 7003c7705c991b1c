#!/usr/bin/env bash
# One-time setup: a virtual environment in .venv with the engine and its test tools.
# Needs only Python 3.10-3.12 and a C compiler (durable-rules compiles its C core on install).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import durable, engine, yaml, jsonschema, click, openpyxl, pytest, hypothesis" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[test]"
    touch .venv/.installed
fi
