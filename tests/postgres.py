"""A private PostgreSQL server for the tests (the decision log's shared-database backend).

`start()` runs Debian's postgresql binaries (installed by scripts/install-postgres.sh, which
./test.sh runs as root) on a fresh cluster in a temporary folder: no TCP port (a Unix socket in
that folder only, so nothing collides with another server or another test run), trust
authentication for a superuser `certify`, fsync off (the data is thrown away). PostgreSQL
refuses to run as root, so under root the cluster is owned by and run as the `postgres` user
(which the Debian package creates), else `nobody`.

$CERTIFY_TEST_POSTGRES_URL names an existing server instead (its user must be allowed to create
databases). When neither works, `start()` raises Unavailable with the reason, and the tests that
need PostgreSQL are skipped saying it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

import sqlalchemy as sa

ENV = "CERTIFY_TEST_POSTGRES_URL"


class Unavailable(Exception):
    """PostgreSQL cannot be started here; the message says why."""


@dataclass
class Server:
    url: str  # a superuser on the `postgres` database
    stop: Callable[[], None] = field(default=lambda: None)
    created: list[str] = field(default_factory=list)

    def new_database(self) -> str:
        """A fresh empty database on this server; its URL."""
        name = f"certify_test_{os.getpid()}_{len(self.created)}"
        admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            admin.dispose()
        self.created.append(name)
        return sa.engine.make_url(self.url).set(database=name).render_as_string(hide_password=False)


def _binaries() -> str:
    """The folder holding initdb and pg_ctl (the newest Debian version, else PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
                   if p.split("/")[4].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(os.path.realpath(initdb))
    raise Unavailable("PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH); "
                      "./test.sh installs Debian's postgresql package when run as root "
                      "(or set CERTIFY_TEST_POSTGRES_URL to a server)")


def _run_as() -> dict[str, Any]:
    """subprocess options that drop root (PostgreSQL will not run as root)."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    raise Unavailable("running as root and there is no postgres or nobody user to run PostgreSQL as")


def start() -> Server:
    if os.environ.get(ENV):
        return Server(os.environ[ENV])
    bindir = _binaries()
    as_user = _run_as()
    folder = tempfile.mkdtemp(prefix="certify-pg-")
    data, sockets = os.path.join(folder, "data"), os.path.join(folder, "s")
    os.makedirs(sockets)
    if as_user:
        for path in (folder, sockets):
            os.chown(path, as_user["user"], as_user["group"])
    env = {**os.environ, "LC_ALL": "C", "HOME": folder}

    def run(*args: str, timeout: int = 120) -> None:
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd=folder,
                                  **as_user)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise Unavailable(f"{os.path.basename(args[0])} could not run: {error}")
        if done.returncode != 0:
            tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise Unavailable(f"{os.path.basename(args[0])} failed (exit {done.returncode}): {tail}")

    def stop() -> None:
        subprocess.run([os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "stop"], capture_output=True,
                       timeout=60, env=env, cwd=folder, **as_user)
        shutil.rmtree(folder, ignore_errors=True)

    try:
        run(os.path.join(bindir, "initdb"), "-D", data, "-U", "certify", "-A", "trust", "-E", "UTF8", "--no-locale")
        options = f"-k {sockets} -c listen_addresses='' -p 5432 -c fsync=off -c full_page_writes=off"
        run(os.path.join(bindir, "pg_ctl"), "-D", data, "-l", os.path.join(folder, "server.log"), "-o", options,
            "-w", "-t", "60", "start")
    except Unavailable as error:
        try:
            with open(os.path.join(folder, "server.log"), encoding="utf-8", errors="replace") as handle:
                log = " ".join(handle.read().strip().splitlines()[-3:])
        except OSError:
            log = ""
        stop()
        raise Unavailable(f"{error} {log}".strip()) from None
    # A test run that is killed never reaches stop(): a watchdog stops the server and removes its
    # folder once this process is gone (/proc, not kill -0, which a non-root watchdog cannot use on root).
    pg_ctl = os.path.join(bindir, "pg_ctl")
    watch = (f"while [ -d /proc/{os.getpid()} ]; do sleep 2; done; "
             f"{shlex.quote(pg_ctl)} -D {shlex.quote(data)} -m immediate stop; rm -rf {shlex.quote(folder)}")
    # started in the background of a shell that ends at once: nothing of ours is left running
    subprocess.run(["sh", "-c", f"( {watch} ) >/dev/null 2>&1 </dev/null &"], cwd="/", env=env, timeout=30,
                   start_new_session=True, **as_user)
    return Server(f"postgresql+psycopg://certify@/postgres?host={sockets}&port=5432", stop)
