#!/usr/bin/env bash
# Set up (if needed), then run the main job on the bundled rule packs and fixtures:
#   1. validate every pack in rules/;
#   2. decide the Huguan sample towns and print why each passed, failed or is undetermined
#      (extra options go to this step, e.g. ./run.sh --lang en, ./run.sh --format json);
#   3. score and rank the Yangzhou sample zones;
#   4. run every pack's test suite (all fixtures of all ten packs) with criterion coverage.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
certify=.venv/bin/certify
echo "== 1. certify validate rules/"
$certify validate rules/
echo
echo "== 2. certify evaluate: Huguan county-level specialized towns (壶政办发〔2023〕25号 二)"
$certify evaluate --rules rules/huguan-specialized-town.yaml fixtures/huguan-towns.yaml --as-of 2024-06-30 "$@"
echo
echo "== 3. certify score: Yangzhou industrial concentration zones (综合评价办法)"
$certify score --rules rules/yangzhou-zone-evaluation.yaml fixtures/yangzhou-zones.yaml --as-of 2024-12-31
echo
echo "== 4. certify test rules/ --coverage"
$certify test rules/ --coverage
