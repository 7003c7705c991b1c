"""Ranking at scale (issue 14, item 5): one cohort of N entities ranked on one indicator, by the one
pipeline every command runs (rank_points, rank and awards in engine.evaluate.run2), at N = 1,000 /
10,000 / 100,000, for a pack written in format 2 and one written in format 1 (read as every command
reads it: converted on load, engine.validate.dialect1).

    .venv/bin/python bench/rank_scale.py                       # 1k, 10k, 100k; reference evaluator
    .venv/bin/python bench/rank_scale.py --sizes 1000,10000 --engine durable
    .venv/bin/python bench/bench.py --ranking                  # the same, from the main bench

Each (pack format, N) runs in a fresh process and reports CPU seconds (time.process_time) of
`evaluate` (Runner.evaluate: values, criteria, ranks, awards, records) and, inside it, `ranking`
(the rank_points and rank computations and the awards loop), and `json` (the score written as
`certify score --format json` writes it, to a file), and the process's peak RSS.
The data (seeded): values drawn from N/3 levels (ties everywhere), 3% without the figure (scored
0, the place provisional: format 1's missing_value: zero, format 2's `missing: zero`), 5% barred
from awards, 0.1% placed last by a veto. The packs are bench/packs/rank-scale-f{1,2}.yaml.
(Format 1's own scorer, engine.explain.scoring, is retired: `--formats 1` is the format-1 pack
through the format-2 pipeline.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PACKS = {1: HERE / "packs" / "rank-scale-f1.yaml", 2: HERE / "packs" / "rank-scale-f2.yaml"}
AS_OF = dt.date(2024, 12, 31)
sys.path.insert(0, str(ROOT))


def rows(n: int, seed: int) -> list[dict[str, str]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        row = {"id": f"F{i:06d}", "region": "all", "output": str(rnd.randrange(max(2, n // 3))),
               "barred": "是" if rnd.random() < 0.05 else "否", "accident": "是" if rnd.random() < 0.001 else "否"}
        if rnd.random() < 0.03:
            del row["output"]
        out.append(row)
    return out


class Clock:
    """CPU seconds spent inside the wrapped functions (not counting nested wrapped calls twice)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.depth = 0

    def wrap(self, fn):  # noqa: ANN001, ANN201
        def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if self.depth:
                return fn(*args, **kwargs)
            self.depth += 1
            started = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.process_time() - started
                self.depth -= 1
        return timed


def worker(fmt: int, n: int, seed: int, engine: str) -> dict:
    """One cohort of `n` ranked with the pack written in format `fmt` (1: converted on load)."""
    from engine.commands.common import pack2
    from engine.evaluate import ops, run2
    from engine.report.score2 import write_score_json2

    pack = pack2(str(PACKS[fmt]), AS_OF, {})
    subjects, problems = run2.subjects_from_dicts(pack, rows(n, seed))
    assert not problems, problems[:3]
    ranking = Clock()
    saved = {op: ops.COMPUTE_COHORT[op] for op in ("rank_points", "rank")}
    runner = run2.Runner(pack, engine)
    runner._awards = ranking.wrap(runner._awards)  # this runner's only
    try:
        for op, compute in saved.items():
            ops.COMPUTE_COHORT[op] = ranking.wrap(compute)
        t0 = time.process_time()
        records = runner.evaluate(subjects)
        t1 = time.process_time()
    finally:
        ops.COMPUTE_COHORT.update(saved)
    path = OUT / f"rank-f{fmt}-{n}.json"
    with open(path, "w", encoding="utf-8") as out:
        write_score_json2(records, pack, [], out)
    t2 = time.process_time()
    return {"evaluate": t1 - t0, "ranking": ranking.seconds, "json": t2 - t1, "json_bytes": path.stat().st_size,
            "ranked": sum(1 for r in records for v in r.values if v.op == "rank" and v.value is not None),
            "awarded": sum(1 for r in records if r.award is not None and r.award.status == "awarded")}


def spawn(fmt: int, n: int, seed: int, engine: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--worker", str(fmt), str(n), str(seed), engine],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(sizes: list[int], seed: int, engine: str, formats: tuple[int, ...] = (1, 2)) -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict = {"engine": engine, "seed": seed, "sizes": sizes, "formats": formats, "f1": {}, "f2": {}}
    for n in sizes:
        for fmt in formats:
            r = results[f"f{fmt}"][n] = spawn(fmt, n, seed, engine)
            print(f"format {fmt}, N={n:,}: {json.dumps(r)}", file=sys.stderr)
    print(table(results))
    (OUT / "rank-scale.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return results


def table(results: dict) -> str:
    sizes = results["sizes"]
    lines = [f"Ranking one cohort on one indicator, CPU seconds ({results['engine']} engine for the yes/no; "
             f"each cell a fresh process; ratio = this N ÷ the previous N, n log n ≈ 10–12 per tenfold N)\n",
             "| measure | " + " | ".join(f"N={n:,}" for n in sizes) + " | " + " | ".join(
                 f"ratio {b:,} ÷ {a:,}" for a, b in zip(sizes, sizes[1:])) + " |",
             "|---|" + "---:|" * (2 * len(sizes) - 1)]
    rows_ = [(f"f{f}", key, f"{'format-1 pack, converted on load' if f == 1 else 'format-2 pack'}: {label}")
             for f in (1, 2) for key, label in (
                 ("ranking", "rank_points + rank + awards loop"),
                 ("evaluate", "Runner.evaluate (values, criteria, ranks, awards, records)"),
                 ("json", "JSON written (`certify score --format json`)"),
                 ("peak_rss_mb", "peak RSS, MB (the whole process)"))]
    formats = results.get("formats", (1, 2))
    for fmt, key, label in rows_:
        if int(fmt[1]) not in formats:
            continue
        vals = [results[fmt][n][key] for n in sizes]
        ratios = [b / a if a > 0 else float("nan") for a, b in zip(vals, vals[1:])]
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in vals) + " | "
                     + " | ".join(f"{r:.1f}" for r in ratios) + " |")
    mib = "; ".join(f"format-{f} pack " + " / ".join(f"{results[f'f{f}'][n]['json_bytes'] / 2**20:,.0f}" for n in sizes)
                    for f in formats)
    lines.append(f"\nJSON written, MiB: {mib}. "
                 f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end.")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        fmt, n, seed, engine = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        result = worker(fmt, n, seed, engine)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    main_args(sys.argv[1:])


def main_args(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="cohort sizes (default 1000,10000,100000)")
    parser.add_argument("--seed", type=int, default=20241231)
    parser.add_argument("--engine", choices=("reference", "durable"), default="reference",
                        help="who decides the yes/no (the ranking is the same code either way; default reference)")
    parser.add_argument("--formats", default="1,2", help="pack formats to run (default 1,2)")
    args = parser.parse_args(argv)
    run([int(s) for s in args.sizes.split(",")], args.seed, args.engine, tuple(int(f) for f in args.formats.split(",")))


if __name__ == "__main__":
    main()
