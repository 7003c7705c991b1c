#!/usr/bin/env bash
# Install Debian's chromium for the HTML report browser test (tests/test_report_html.py).
# Does nothing when a chromium is already on PATH. Needs root (apt-get); without root it says
# so and exits 1, and the browser test is skipped with that reason.
set -euo pipefail
for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
        exit 0
    fi
done
if [ "$(id -u)" != "0" ]; then
    echo "install-chromium: not root; install Debian's chromium (apt-get install chromium) to run the browser test" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
command -v chromium >/dev/null
