#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
# The HTML report test opens the page in a real headless browser; install Debian's chromium when
# we can (root). Without it that one test is skipped with the reason, and everything else runs.
scripts/install-chromium.sh || echo "chromium not installed: the browser test will be skipped" >&2
.venv/bin/python -m pytest "$@"
