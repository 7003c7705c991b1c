#!/usr/bin/env bash
# Set up (if needed), validate the bundled rule packs, and evaluate the bundled fixtures,
# printing each town's decision and why.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
.venv/bin/certify validate rules/
.venv/bin/certify evaluate --rules rules/huguan-specialized-town.yaml fixtures/huguan-towns.yaml --as-of 2024-06-30 "$@"
