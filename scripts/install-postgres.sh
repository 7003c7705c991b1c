#!/usr/bin/env bash
# Install Debian's postgresql package for the decision log's PostgreSQL tests (tests/test_audit.py,
# tests/postgres.py), when it is missing. The tests start their own private server from its
# binaries (a temporary cluster, a Unix socket only, run as the postgres user under root); the
# package's own cluster is not used. Needs root (apt-get); without root it names the package and
# exits 1, and the PostgreSQL tests skip, saying why.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install-postgres: not root; to run the PostgreSQL tests install: apt-get install postgresql" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# In a container without an init system the package's own service cannot start; that is fine:
# policy-rc.d answers "do not start services" for the length of the install.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
fi
trap 'if [ -n "$made_policy" ]; then rm -f "$policy"; fi' EXIT
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
