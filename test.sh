#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
# The HTML report tests open the page in a real headless browser (phone width, A4 print) with
# Chinese fonts; install Debian's chromium, fonts-noto-cjk and poppler-utils when we can (root).
# Without them those tests are skipped with the reason, and everything else runs.
scripts/install-chromium.sh || echo "browser packages missing: the browser tests will be skipped, saying why" >&2
# The decision log's tests run on SQLite and on a real PostgreSQL server, which they start from
# Debian's postgresql package (tests/postgres.py); install it when we can (root), else they skip.
scripts/install-postgres.sh || echo "postgresql missing: the PostgreSQL tests will be skipped, saying why" >&2
.venv/bin/python -m pytest "$@"
