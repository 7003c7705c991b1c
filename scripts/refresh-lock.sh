#!/usr/bin/env bash
# Re-lock: write requirements-lock.txt anew with the newest versions that pyproject.toml allows
# (runtime + the test and bench extras, exact versions with the sha256 of every file, for Python 3.10-3.12),
# then install them into a separate venv, .venv-refresh (your .venv is left alone), and run the
# test suite there. Extra arguments go to pytest:
#     scripts/refresh-lock.sh                 # re-lock everything to the newest allowed
#     scripts/refresh-lock.sh -x -k yaml      # ... and run only some tests
#     PYTHON=python3.12 scripts/refresh-lock.sh
#     KEEP=1 scripts/refresh-lock.sh          # keep pinned versions, only add what pyproject added
# The locking tool (uv, a version pinned below) goes into a throwaway venv, never into the
# project's dependencies. If the tests pass, review `git diff requirements-lock.txt` and commit it;
# ./setup.sh then rebuilds every .venv from it. If they fail, `git checkout requirements-lock.txt`
# goes back to the lock that passed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
UV_VERSION="${UV_VERSION:-0.13.9}"
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
"$PYTHON" -m venv "$tools/venv"
"$tools/venv/bin/python" -m pip install --quiet "uv==$UV_VERSION"
upgrade=(--upgrade)
if [ -n "${KEEP:-}" ]; then upgrade=(); fi
"$tools/venv/bin/uv" pip compile --quiet pyproject.toml --extra test --extra bench --generate-hashes --universal \
    --python-version 3.10 "${upgrade[@]}" --output-file requirements-lock.txt \
    --custom-compile-command "scripts/refresh-lock.sh"
echo "refresh-lock: requirements-lock.txt written; testing it in .venv-refresh" >&2
rm -rf .venv-refresh
"$PYTHON" -m venv .venv-refresh
.venv-refresh/bin/python -m pip install --quiet --use-pep517 --require-hashes -r requirements-lock.txt
.venv-refresh/bin/python -m pip install --quiet --no-deps -e .
if ! .venv-refresh/bin/python -m pytest "$@"; then
    echo "refresh-lock: the tests FAILED against the new lock; see above, or go back with: git checkout requirements-lock.txt" >&2
    exit 1
fi
echo "refresh-lock: the tests pass against the new lock; review 'git diff requirements-lock.txt' and commit it" >&2
