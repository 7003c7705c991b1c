#!/usr/bin/env bash
# Set up (if needed), then run the main job on the bundled rule packs and fixtures:
#   1. validate every pack in rules/;
#   2. decide the Huguan sample towns and print why each passed, failed or is undetermined
#      (extra options go to this step, e.g. ./run.sh --lang en, ./run.sh --format json);
#   3. score and rank the Yangzhou sample zones;
#   4. run every pack's test suite (every pack in rules/, all in format 2: fixtures, cases and
#      scoring cohorts) with criterion coverage.
#
# Streams: banners and setup messages go to standard error. With a machine format for step 2
# (--format json / csv / xlsx) standard output carries only step 2's output, so
# `./run.sh --format json | python -m json.tool` works: steps 1, 3 and 4 then print to stderr.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh >&2
certify=.venv/bin/certify

machine=no
previous=""
for arg in "$@"; do
    case "$arg" in
        --format=text) ;;
        --format=*) machine=yes ;;
    esac
    if [ "$previous" = "--format" ] && [ "$arg" != "text" ]; then
        machine=yes
    fi
    previous="$arg"
done

# Steps other than 2: their standard output goes to stderr when stdout is promised to step 2.
other() {
    if [ "$machine" = yes ]; then "$@" >&2; else "$@"; fi
}
banner() {
    echo "$@" >&2
}

banner "== 1. certify validate rules/"
other $certify validate rules/
banner
banner "== 2. certify evaluate: Huguan county-level specialized towns (壶政办发〔2023〕25号 二)"
$certify evaluate --rules rules/huguan-specialized-town.yaml fixtures/huguan-towns.yaml --as-of 2024-06-30 "$@"
banner
banner "== 3. certify score: Yangzhou industrial concentration zones (综合评价办法)"
other $certify score --rules rules/yangzhou-zone-evaluation.yaml fixtures/yangzhou-zones.yaml --as-of 2024-12-31
banner
banner "== 4. certify test rules/ --coverage"
other $certify test rules/ --coverage
