"""bench/hot_path.py — issue 14: CPU per firm of `certify evaluate` on the D pack, one process.

    .venv/bin/python bench/hot_path.py                          # 1,000 and 20,000 firms, Parquet -> Parquet and -> JSON
    .venv/bin/python bench/hot_path.py --against /path/to/tree  # the same commands on another checkout, alternating
    .venv/bin/python bench/hot_path.py --quick                  # 200 and 2,000 firms

The firms are bench/firms.py's (rules/tech-sme-evaluation.yaml, typed Parquet). Each command is the
real `certify evaluate … --workers 1 -o FILE` in a fresh process, its CPU time (user + system) taken
from the parent's RUSAGE_CHILDREN. The cost per firm is the difference of two sizes divided by the
difference of their firm counts, so interpreter start, imports and the pack's compile drop out.

With `--against TREE` the same commands also run with TREE's engine (its `cli.py`, imported from
TREE) and the two alternate, so a change in the machine's load hits both alike; the outputs of the
two are compared byte for byte (the script exits 1 if they differ). CPU time is less moved by a
shared machine than wall time, but not unmoved: compare the two columns of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import firms  # noqa: E402  (bench/firms.py)

OUT = HERE / "out"
PACK = str(ROOT / "rules" / "tech-sme-evaluation.yaml")
AS_OF = "2024-06-30"
# the command in a fresh process, `cli` imported from the tree given first (this one or --against)
_RUN = ("import resource, subprocess, sys\n"
        "tree, args = sys.argv[1], sys.argv[2:]\n"
        "code = f'import sys; sys.path.insert(0, {tree!r}); from cli import run; sys.argv[0] = \"certify\"; sys.exit(run())'\n"
        "rc = subprocess.run([sys.executable, '-c', code, *args]).returncode\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(rc, u.ru_utime + u.ru_stime, u.ru_maxrss)")
FORMATS = {"parquet": ("--format", "parquet"), "json": ("--format", "json", "--trace", "full")}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(tree: Path, data: Path, fmt: str, out: Path) -> tuple[float, float]:
    """(CPU seconds, peak RSS MB) of one `certify evaluate` in a fresh process."""
    args = ["evaluate", "--rules", PACK, str(data), "--as-of", AS_OF, *FORMATS[fmt], "--workers", "1", "-o", str(out)]
    done = subprocess.run([sys.executable, "-c", _RUN, str(tree), *args], capture_output=True, text=True, check=False)
    rc, cpu, rss = done.stdout.split()
    if int(rc) not in (0, 3):
        raise SystemExit(f"failed ({rc}): {' '.join(args)}\n{done.stderr[-2000:]}")
    return float(cpu), int(rss) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20240630)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each command (the least CPU is kept)")
    parser.add_argument("--against", type=Path, help="another checkout to measure in the same run (before)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.small, args.large = 200, 2_000
    OUT.mkdir(exist_ok=True)
    trees = {"this": ROOT} | ({"against": args.against.resolve()} if args.against else {})
    sizes = (args.small, args.large)
    for n in sizes:
        data = OUT / f"hot-firms-{n}.parquet"
        if not data.exists():
            say(f"writing {n} firms to {data}")
            firms.write_parquet(data, n, args.seed)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()[0]
    cpu: dict[str, float] = {}
    rss: dict[str, float] = {}
    same = True
    for _ in range(args.rounds):
        for fmt in FORMATS:
            for n in sizes:
                outs = []
                for name, tree in trees.items():  # alternating: the same load for both trees
                    out = OUT / f"hot-{name}-{n}.{fmt}"
                    say(f"{name}: {n} firms -> {fmt}")
                    c, r = run(tree, OUT / f"hot-firms-{n}.parquet", fmt, out)
                    key = f"{name} {fmt} {n}"
                    cpu[key] = min(cpu.get(key, c), c)
                    rss[key] = max(rss.get(key, r), r)
                    outs.append(out.read_bytes() if fmt == "json" else _table(out))
                same = same and all(o == outs[0] for o in outs)
    small, large = sizes
    results = {"started": started, "load_before": load, "load_after": os.getloadavg()[0], "cpu": cpu, "rss_mb": rss,
               "identical": same}
    (OUT / "hot-path.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    head = " | ".join(trees)
    print(f"| CPU per firm, µs (({large:,} − {small:,} firms) ÷ {large - small:,}) | {head} |")
    print("|---|" + "---:|" * len(trees))
    for fmt in FORMATS:
        cells = [f"{(cpu[f'{t} {fmt} {large}'] - cpu[f'{t} {fmt} {small}']) / (large - small) * 1e6:,.0f}" for t in trees]
        print(f"| Parquet → {'Parquet' if fmt == 'parquet' else 'JSON (full traces)'} | {' | '.join(cells)} |")
    for fmt in FORMATS:
        cells = [f"{cpu[f'{t} {fmt} {large}']:.2f} s / {rss[f'{t} {fmt} {large}']:.0f} MB" for t in trees]
        print(f"| whole command, {large:,} firms → {fmt}: CPU / peak RSS | {' | '.join(cells)} |")
    if args.against:
        print(f"\noutputs of the two trees identical: {'yes' if same else 'NO'}")
    print(f"run {started}; load average {load:.1f} before, {results['load_after']:.1f} after")
    sys.exit(0 if same else 1)


def _table(path: Path) -> bytes:
    """A Parquet file's rows and schema (the file's bytes name the writer's version: not compared)."""
    table = pq.read_table(path)
    return json.dumps([str(table.schema), table.to_pylist()], default=str).encode()


if __name__ == "__main__":
    main()
