#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
.venv/bin/python -m pytest "$@"
