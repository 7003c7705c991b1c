#!/usr/bin/env bash
# Install what the HTML report's browser tests (tests/test_report_html.py) use, from Debian's
# packages: chromium (the browser), fonts-noto-cjk (Chinese fonts: without one every Chinese
# character is a box and the page shows its font note instead) and poppler-utils (pdftotext and
# pdftoppm read the printed PDF). Installs only what is missing; needs root (apt-get). Without
# root it names the packages and exits 1, and the tests that need them skip, saying why.
set -euo pipefail
need=()
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    need+=(chromium)
fi
if ! { command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh family | grep -q .; }; then
    need+=(fonts-noto-cjk)
fi
if ! command -v pdftotext >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; then
    need+=(poppler-utils)
fi
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install-chromium: not root; to run the browser tests install: apt-get install ${need[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
command -v chromium >/dev/null || command -v chromium-browser >/dev/null
