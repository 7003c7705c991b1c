"""Load on the workbench API: C concurrent clients deciding batches over HTTP against a real
`certify serve` (issue 13, item 6).

    .venv/bin/python bench/web_load.py                       # 50 clients x 10 batches of 20 towns
    .venv/bin/python bench/web_load.py --clients 50 --requests 10 --batch 20 --pack huguan-specialized-town

Each client posts `--requests` times `POST /api/v1/packs/{pack}/decide` with `--batch` entities
(the fixture's towns, ids made unique per request) and waits for the answer before the next. The
server is started as its own process on a free port, with the shipped rules/ folder, and stopped
at the end. Reported (Markdown on stdout, every raw number in bench/out/web-load.json):
decisions/s over the wall time of the whole run, request latency p50/p90/p99/max, requests that
did not answer 200, decisions handed out (the sum of `counts.decided` over the answers), and the
server's count of decision-log rows written (`GET /api/v1/health` -> `logged`), the rows the log
holds afterwards, and then `certify replay` over that whole log (issue 13's done-when: every record
reproduced): how many were replayed, reproduced, differ, cannot be replayed, and how long it took.

The log is a fresh SQLite file, bench/out/web-load.sqlite (removed before the run), unless
`--log URL` names another; `--postgres` starts a private PostgreSQL server for the run (as the
tests do: tests/postgres.py, Debian's binaries, a Unix socket only) and logs there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def client(number: int, url: str, towns: list[dict[str, Any]], requests: int, batch: int, as_of: str,
                 latencies: list[float], failures: list[str], decided: list[int], session: httpx.AsyncClient) -> None:
    for r in range(requests):
        entities = []
        for i in range(batch):
            town = dict(towns[(number * requests + r + i) % len(towns)])
            town["id"] = f"c{number}-r{r}-{i}-{town['id']}"
            entities.append(town)
        started = time.perf_counter()
        try:
            response = await session.post(url, json={"as_of": as_of, "entities": entities})
        except httpx.HTTPError as error:
            failures.append(f"{type(error).__name__}: {error}")
            continue
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            failures.append(f"{response.status_code}: {response.text[:200]}")
            continue
        decided.append(int(response.json()["counts"]["decided"]))


async def run(args: argparse.Namespace, base: str) -> dict[str, Any]:
    towns = yaml.safe_load((ROOT / args.data).read_text(encoding="utf-8"))["entities"]
    towns = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in t.items()} for t in towns]
    url = f"{base}/api/v1/packs/{args.pack}/decide"
    latencies: list[float] = []
    failures: list[str] = []
    decided: list[int] = []
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(timeout=600, limits=limits) as session:
        # one warm-up request: the pack is compiled once, before the clock starts
        await session.post(url, json={"as_of": args.as_of, "entities": towns[:1]})
        before = (await session.get(f"{base}/api/v1/health")).json().get("logged")
        started = time.perf_counter()
        await asyncio.gather(*(client(n, url, towns, args.requests, args.batch, args.as_of, latencies, failures, decided,
                                      session) for n in range(args.clients)))
        wall = time.perf_counter() - started
        after = (await session.get(f"{base}/api/v1/health")).json().get("logged")
    latencies.sort()
    total = sum(decided)
    return {
        "clients": args.clients, "requests_per_client": args.requests, "entities_per_request": args.batch,
        "pack": args.pack, "wall_s": wall, "requests_ok": len(decided), "requests_failed": len(failures),
        "failures": failures[:10], "decisions": total, "decisions_per_s": total / wall if wall else 0.0,
        "latency_s": {"p50": percentile(latencies, 0.5), "p90": percentile(latencies, 0.9),
                      "p99": percentile(latencies, 0.99), "max": latencies[-1] if latencies else float("nan")},
        "log_rows_written": (after - before) if isinstance(after, int) and isinstance(before, int) else None,
    }


def log_rows(url: str) -> int | None:
    """Rows in the decision log's decisions table (read directly, not through the server)."""
    import sqlalchemy as sa  # only the bench needs it here; the server has its own engine
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM certify_decisions").scalar_one())
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def run_replay(url: str) -> dict[str, Any]:
    """`certify replay` over the whole log, as its own process (as an officer would run it)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "replay", "--db", url, "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    try:
        counts = json.loads(done.stdout)["counts"]
    except (ValueError, KeyError):
        counts = None
    return {"exit": done.returncode, "wall_s": wall, "counts": counts,
            "stderr": done.stderr.strip().splitlines()[-3:] if done.returncode else []}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=10, help="requests per client")
    parser.add_argument("--batch", type=int, default=20, help="entities per request")
    parser.add_argument("--pack", default="huguan-specialized-town")
    parser.add_argument("--data", default="fixtures/huguan-towns.yaml")
    parser.add_argument("--as-of", dest="as_of", default="2024-06-30")
    parser.add_argument("--serve-arg", dest="serve_args", action="append", default=[],
                        help="extra argument for certify serve (repeatable), e.g. --serve-arg=--max-rows=100")
    parser.add_argument("--log", dest="log_url", metavar="URL",
                        help="the decision log (default: a fresh bench/out/web-load.sqlite)")
    parser.add_argument("--postgres", action="store_true",
                        help="log to a private PostgreSQL server started for the run (tests/postgres.py)")
    parser.add_argument("--no-replay", dest="replay", action="store_false",
                        help="do not run certify replay over the log at the end")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    pg = None
    if args.postgres:
        sys.path.insert(0, str(ROOT))
        from tests import postgres  # the tests' private server: a temporary cluster on a Unix socket
        pg = postgres.start()
        args.log_url = pg.new_database()
    elif not args.log_url:
        path = OUT / "web-load.sqlite"
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        args.log_url = f"sqlite:///{path}"
    port = free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port), "--packs",
                               str(ROOT / "rules"), "--log", args.log_url, "--data-dir", str(OUT / "web-load-data"),
                               *args.serve_args], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        result = asyncio.run(run(args, base))
        server.terminate()
        server.communicate(timeout=30)
        result["log"] = "postgresql (private server)" if pg else args.log_url.split(":", 1)[0]
        result["log_rows_after"] = log_rows(args.log_url)
        result["replay"] = run_replay(args.log_url) if args.replay else None
    finally:
        if server.poll() is None:
            server.terminate()
            server.communicate(timeout=30)
        if pg is not None:
            pg.stop()
    result["machine"] = {"nproc": os.cpu_count(), "python": platform.python_version(),
                         "load_before": os.getloadavg()[0]}
    result["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                      text=True).stdout.strip()
    (OUT / "web-load.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    lat = result["latency_s"]
    print(f"| clients × requests × entities | {args.clients} × {args.requests} × {args.batch} |")
    print("|---|---:|")
    print(f"| decisions handed out | {result['decisions']:,} |")
    print(f"| requests ok / failed | {result['requests_ok']} / {result['requests_failed']} |")
    print(f"| wall time | {result['wall_s']:.1f} s |")
    print(f"| decisions/s | {result['decisions_per_s']:,.0f} |")
    print(f"| request latency p50 / p90 / p99 / max | {lat['p50']:.2f} / {lat['p90']:.2f} / {lat['p99']:.2f} / {lat['max']:.2f} s |")
    print(f"| decision log | {result['log']} |")
    print(f"| decision-log rows written (server's count) | {result['log_rows_written']} |")
    print(f"| rows in the log afterwards (with the warm-up's one) | {result['log_rows_after']} |")
    replayed = result["replay"]
    if replayed is not None:
        c = replayed["counts"] or {}
        print(f"| certify replay: replayed / reproduced / differ / cannot | {c.get('replayed')} / {c.get('reproduced')}"
              f" / {c.get('differs')} / {c.get('cannot')} (exit {replayed['exit']}) |")
        print(f"| certify replay wall time | {replayed['wall_s']:.1f} s |")
    replay_ok = replayed is None or replayed["exit"] == 0
    return 0 if result["requests_failed"] == 0 and replay_ok else 1


if __name__ == "__main__":
    sys.exit(main())
