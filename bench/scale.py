"""bench/scale.py — issue 14 items 1, 2 and 4 (part): compact traces and Parquet, measured in one run.

    .venv/bin/python bench/scale.py                       # 40,000 towns; 1,000,000 firms
    .venv/bin/python bench/scale.py --firms 20000         # fewer firms (the machine is shared)
    .venv/bin/python bench/scale.py --quick               # 2,000 towns, 1,000 firms: a smoke test
    .venv/bin/python bench/scale.py --profile             # also cProfile 5,000 firms CSV -> Parquet

Every configuration is the real command line (`certify evaluate …`) in a fresh process: the wall
time is the whole process (interpreter start, imports, pack compile, read, decide, write), the
peak RSS that of the largest process (the parent, or a worker with --workers 2).

A. Towns (rules/huguan-specialized-town.yaml, bench/bench.py's generator): CSV -> JSON with full
   traces and with compact traces, 1 process and --workers 2; the size of each output; and
   `certify explain` of the compact output compared byte for byte with the full output.
B. Firms (rules/tech-sme-evaluation.yaml, the D pack; bench/firms.py): the same firms as CSV and as
   typed Parquet; CSV -> Parquet and Parquet -> Parquet with --workers 2; the two decision tables
   compared (every column but `where`, which names the file). Exit 1 if anything differs.

Outputs go to bench/out/ (gitignored); the Markdown table to stdout, progress to stderr, every raw
number to bench/out/scale-results.json.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.append(str(ROOT))
import firms  # noqa: E402  (bench/firms.py)
from bench import write_towns  # noqa: E402  (bench/bench.py: the towns of the throughput bench)

OUT = HERE / "out"
CERTIFY = str(ROOT / ".venv" / "bin" / "certify")
TOWNS_PACK = str(ROOT / "rules" / "huguan-specialized-town.yaml")
FIRMS_PACK = str(ROOT / "rules" / "tech-sme-evaluation.yaml")
AS_OF = "2024-06-30"
_MEASURE = ("import resource, subprocess, sys, time\n"
            "t = time.perf_counter(); rc = subprocess.run(sys.argv[1:]).returncode; wall = time.perf_counter() - t\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(rc, wall, u.ru_maxrss, u.ru_utime + u.ru_stime)")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure(*args: str) -> dict:
    """Run one command in a fresh process; its exit code, wall seconds, peak RSS (MB) and CPU seconds
    (user + system, of the process and its workers: less moved by other load on a shared machine)."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True, check=False)
    rc, wall, rss, cpu = done.stdout.split()
    if int(rc) not in (0, 3):
        raise SystemExit(f"failed ({rc}): {' '.join(args)}\n{done.stderr[-2000:]}")
    return {"rc": int(rc), "wall": float(wall), "rss_mb": int(rss) / 1024, "cpu": float(cpu)}


def towns(n: int, seed: int) -> dict:
    data = OUT / f"scale-towns-{n}.csv"
    if not data.exists():
        say(f"writing {n} towns to {data}")
        write_towns(data, n, seed)
    results: dict = {"n": n}
    for trace in ("full", "compact"):
        for workers in ("1", "2"):
            out = OUT / f"scale-towns-{n}-{trace}-w{workers}.json"
            say(f"towns: {trace} traces, {workers} process(es)")
            row = measure(CERTIFY, "evaluate", "--rules", TOWNS_PACK, str(data), "--as-of", AS_OF, "--format", "json",
                          "--trace", trace, "--workers", workers, "-o", str(out))
            row["bytes"] = out.stat().st_size
            results[f"{trace}-w{workers}"] = row
    expanded = OUT / f"scale-towns-{n}-expanded.json"
    say("towns: certify explain of the compact output")
    results["explain"] = measure(CERTIFY, "explain", str(OUT / f"scale-towns-{n}-compact-w2.json"), "--rules", TOWNS_PACK,
                                 "-o", str(expanded))
    full = (OUT / f"scale-towns-{n}-full-w2.json").read_bytes()
    results["explain"]["identical"] = expanded.read_bytes() == full
    results["workers_identical"] = (OUT / f"scale-towns-{n}-compact-w1.json").read_bytes() == \
        (OUT / f"scale-towns-{n}-compact-w2.json").read_bytes()
    return results


def firm_tables(n: int, seed: int) -> dict:
    csv_path, parquet_path = OUT / f"scale-firms-{n}.csv", OUT / f"scale-firms-{n}.parquet"
    results: dict = {"n": n}
    if not csv_path.exists() or not parquet_path.exists():
        say(f"writing {n} firms to {csv_path} and {parquet_path}")
        start = time.perf_counter()
        firms.write_csv(csv_path, n, seed)
        firms.write_parquet(parquet_path, n, seed)
        results["generate_s"] = time.perf_counter() - start
    results["csv_bytes"], results["parquet_bytes"] = csv_path.stat().st_size, parquet_path.stat().st_size
    for source in (csv_path, parquet_path):
        kind = source.suffix[1:]
        out = OUT / f"scale-firms-{n}-from-{kind}.parquet"
        say(f"firms: {kind} -> parquet, --workers 2")
        row = measure(CERTIFY, "evaluate", "--rules", FIRMS_PACK, str(source), "--as-of", AS_OF, "--format", "parquet",
                      "--workers", "2", "-o", str(out))
        row["bytes"] = out.stat().st_size
        results[f"{kind}-parquet"] = row
    a = pq.read_table(OUT / f"scale-firms-{n}-from-csv.parquet").drop(["where"])
    b = pq.read_table(OUT / f"scale-firms-{n}-from-parquet.parquet").drop(["where"])
    results["tables_identical"] = a.equals(b)
    results["rows"] = a.num_rows
    outcomes = a.column("outcome").to_pylist()
    results["outcomes"] = {k: outcomes.count(k) for k in ("pass", "fail", "undetermined")}
    return results


def profile_firms(n: int, seed: int) -> Path:
    """cProfile of one process deciding n firms CSV -> Parquet (the profile doubles the times)."""
    from cli import main  # noqa: PLC0415  (the profiled command, in this process)

    data = OUT / f"scale-firms-{n}.csv"
    if not data.exists():
        firms.write_csv(data, n, seed)
    profile = cProfile.Profile()
    profile.enable()
    try:
        main(["evaluate", "--rules", FIRMS_PACK, str(data), "--as-of", AS_OF, "--format", "parquet",
              "-o", str(OUT / "scale-profile.parquet")], standalone_mode=False)
    except SystemExit:  # the command ends with its exit code
        pass
    finally:
        profile.disable()
    path = OUT / "profile-firms.txt"
    with open(path, "w", encoding="utf-8") as out:
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
    return path


def table(r: dict) -> str:
    t = r["towns"]
    lines = ["| measure | value |", "|---|---:|"]
    for trace in ("full", "compact"):
        for workers in ("1", "2"):
            row = t[f"{trace}-w{workers}"]
            lines.append(f"| towns N={t['n']:,}, CSV → JSON, {trace} traces, {workers} process(es): wall / CPU / "
                         f"entities/s / output / peak RSS | {row['wall']:.2f} s / {row['cpu']:.2f} s / "
                         f"{t['n'] / row['wall']:,.0f} / {row['bytes'] / 2**20:.1f} MiB / {row['rss_mb']:.0f} MB |")
    lines.append(f"| compact ÷ full, output bytes (2 processes) | "
                 f"{t['compact-w2']['bytes'] / t['full-w2']['bytes']:.3f} |")
    lines.append(f"| full ÷ compact, wall / CPU (2 processes) | {t['full-w2']['wall'] / t['compact-w2']['wall']:.2f}× / "
                 f"{t['full-w2']['cpu'] / t['compact-w2']['cpu']:.2f}× |")
    lines.append(f"| certify explain of the compact output: wall / identical to the full output | "
                 f"{t['explain']['wall']:.2f} s / {'yes' if t['explain']['identical'] else 'NO'} |")
    f = r.get("firms")
    if f:
        lines.append(f"| firms N={f['n']:,}: CSV / Parquet input size | {f['csv_bytes'] / 2**20:.1f} MiB / "
                     f"{f['parquet_bytes'] / 2**20:.1f} MiB |")
        for kind in ("csv", "parquet"):
            row = f[f"{kind}-parquet"]
            lines.append(f"| firms N={f['n']:,}, {kind.upper()} → Parquet, 2 processes: wall / CPU / entities/s / "
                         f"peak RSS | {row['wall']:.2f} s / {row['cpu']:.2f} s / {f['n'] / row['wall']:,.0f} / "
                         f"{row['rss_mb']:.0f} MB |")
        lines.append(f"| decisions table from Parquet = from CSV (every column but `where`, {f['rows']:,} rows) | "
                     f"{'yes' if f['tables_identical'] else 'NO'} |")
        lines.append(f"| firms outcome mix | pass {f['outcomes']['pass']:,}, fail {f['outcomes']['fail']:,}, "
                     f"undetermined {f['outcomes']['undetermined']:,} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--towns", type=int, default=40_000)
    parser.add_argument("--firms", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240630)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-only", action="store_true", help="only the profile of 5,000 firms")
    args = parser.parse_args()
    if args.profile_only:
        OUT.mkdir(exist_ok=True)
        say(f"profile: {profile_firms(5_000, args.seed)}")
        return
    if args.quick:
        args.towns, args.firms = 2_000, 1_000
    OUT.mkdir(exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    results = {"started": started, "load_before": os.getloadavg(), "towns": towns(args.towns, args.seed)}
    if args.firms:
        results["firms"] = firm_tables(args.firms, args.seed)
    results["load_after"] = os.getloadavg()
    (OUT / "scale-results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(results))
    print(f"\nrun {started}; load average {results['load_before'][0]:.1f} before, {results['load_after'][0]:.1f} after")
    if args.profile:
        say(f"profile: {profile_firms(5_000, args.seed)}")
    ok = results["towns"]["explain"]["identical"] and results["towns"]["workers_identical"] and \
        results.get("firms", {}).get("tables_identical", True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
