#!/usr/bin/env bash
# One-time setup: a virtual environment in .venv with the engine and its test tools, installed from
# requirements-lock.txt (exact versions, each file's sha256 checked), so a release elsewhere cannot
# change what a fresh clone runs. pyproject.toml keeps the compatible ranges for people who
# install the package; scripts/refresh-lock.sh moves the lock to the newest versions they allow.
#
# Needs Python 3.10-3.12 and a C compiler (durable-rules is a source package whose C core is
# compiled once; pip caches the built wheel). The interpreter is $PYTHON if set, else the first
# supported one of python3, python3.12, python3.11, python3.10 on PATH.
#
# An existing .venv is kept only if it works, was made from that same interpreter, and was
# installed from the current lock and pyproject.toml; otherwise it is rebuilt from scratch (a
# .venv that is not a virtual environment at all is left alone, with the command to run).
# pip's output goes to .venv/install.log and is shown only if the install fails.
set -euo pipefail
cd "$(dirname "$0")"
LOCK=requirements-lock.txt
IMPORTS="durable, engine, yaml, jsonschema, click, openpyxl, xlrd, starlette, uvicorn, multipart, ruamel.yaml, sqlalchemy, psycopg, pyarrow, dask, distributed, zen, pytest, hypothesis, importlinter, httpx, playwright"
# The range pyproject.toml's requires-python allows (">=3.10,<3.13").
MIN_MINOR=10
MAX_MINOR=12

say() { echo "setup: $*" >&2; }

# "3.11" if the interpreter $1 runs and is a supported version, else nothing.
supported_version() {
    "$1" -c "import sys; v = sys.version_info
print(f'{v[0]}.{v[1]}' if v[0] == 3 and $MIN_MINOR <= v[1] <= $MAX_MINOR else '')" 2>/dev/null || true
}

# The installation an interpreter belongs to (a venv's python answers with the one it was made from).
base_of() {
    "$1" -c "import os, sys; print(os.path.realpath(sys.base_prefix))" 2>/dev/null || true
}

if [ -n "${PYTHON:-}" ]; then
    if [ -z "$(supported_version "$PYTHON")" ]; then
        found="$("$PYTHON" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo "not runnable")"
        say "PYTHON=$PYTHON is Python $found; certify needs Python 3.$MIN_MINOR-3.$MAX_MINOR."
        say "run: PYTHON=python3.12 ./setup.sh   (or any python3.$MIN_MINOR-3.$MAX_MINOR on your machine)"
        exit 1
    fi
else
    for candidate in python3 python3.12 python3.11 python3.10; do
        if command -v "$candidate" >/dev/null 2>&1 && [ -n "$(supported_version "$candidate")" ]; then
            PYTHON="$candidate"
            break
        fi
    done
    if [ -z "${PYTHON:-}" ]; then
        say "no Python 3.$MIN_MINOR-3.$MAX_MINOR found (python3 is $(python3 --version 2>&1 || echo missing))."
        say "install one (e.g. apt-get install python3.11 python3.11-venv), then run: PYTHON=python3.11 ./setup.sh"
        exit 1
    fi
fi
want_base="$(base_of "$PYTHON")"

# Why the existing .venv cannot be kept, or nothing if it can.
venv_problem() {
    if [ ! -f .venv/pyvenv.cfg ]; then
        echo "it is not a virtual environment"
    elif [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "pass" 2>/dev/null; then
        echo "its python does not run (made on another machine, or its interpreter was removed)"
    elif [ -z "$(supported_version .venv/bin/python)" ]; then
        echo "it was made with Python $(.venv/bin/python -c 'import sys; print(sys.version.split()[0])'), not 3.$MIN_MINOR-3.$MAX_MINOR"
    elif [ "$(base_of .venv/bin/python)" != "$want_base" ]; then
        echo "it was made with $(base_of .venv/bin/python), not $PYTHON ($want_base)"
    fi
}

# What the installed .venv was made from: the interpreter, the lock and pyproject.toml.
stamp() {
    { echo "$want_base"; cat "$LOCK" pyproject.toml; } | "$PYTHON" -c \
        "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"
}

if [ -e .venv ]; then
    problem="$(venv_problem)"
    if [ -n "$problem" ] && [ ! -f .venv/pyvenv.cfg ]; then
        say ".venv exists but $problem; move it away, then run ./setup.sh again:"
        say "    mv .venv .venv.old && ./setup.sh"
        exit 1
    fi
    if [ -n "$problem" ]; then
        say "rebuilding .venv: $problem"
        rm -rf .venv
    elif [ "$(cat .venv/.installed 2>/dev/null)" != "$(stamp)" ]; then
        # A fresh venv, not an upgrade in place: packages the new lock dropped must go too.
        say "rebuilding .venv: $LOCK or pyproject.toml changed since it was installed"
        rm -rf .venv
    elif ! .venv/bin/python -c "import $IMPORTS" 2>/dev/null; then
        say "rebuilding .venv: it is missing packages"
        rm -rf .venv
    fi
fi

if [ ! -e .venv ]; then
    say "setting up .venv with $PYTHON ($want_base) from $LOCK (the first run compiles durable-rules; a minute or two)..."
    "$PYTHON" -m venv .venv
    if ! { .venv/bin/python -m pip install --use-pep517 --require-hashes -r "$LOCK" \
           && .venv/bin/python -m pip install --no-deps -e .; } > .venv/install.log 2>&1; then
        cat .venv/install.log >&2
        say "install failed; the log above is also in .venv/install.log. Fix the cause and run ./setup.sh again"
        say "(it starts over; to start over by hand: rm -rf .venv && ./setup.sh)"
        rm -f .venv/.installed
        exit 1
    fi
    if ! .venv/bin/python -c "import $IMPORTS" 2>>.venv/install.log; then
        tail -5 .venv/install.log >&2
        say "installed, but the packages do not import; see .venv/install.log"
        exit 1
    fi
    stamp > .venv/.installed
fi
