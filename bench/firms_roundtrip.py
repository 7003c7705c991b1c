"""bench/firms_roundtrip.py — issue 14's done-when: a Parquet round trip of the D pack over 1,000,000
generated firms matches the CSV path.

    .venv/bin/python bench/firms_roundtrip.py                 # 1,000,000 firms (writes ~0.2 GB of input)
    .venv/bin/python bench/firms_roundtrip.py --n 20000       # fewer
    .venv/bin/python bench/firms_roundtrip.py --workers 1     # one process

The same generated firms (bench/firms.py, seeded) are written as CSV text and as typed Parquet, and
each is decided by the real command line in a fresh process:

    certify evaluate --rules rules/tech-sme-evaluation.yaml FIRMS.{csv,parquet} --format parquet --workers 2

Then the two decision tables are compared row group by row group (memory stays flat), every
column but `where` (which names the input file); the run exits 1 if they differ anywhere. Each
run's wall time, CPU (user + system of the process and its workers) and peak RSS (the largest
process) are printed with the load average, and kept in bench/out/roundtrip-<N>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import firms  # noqa: E402  (bench/firms.py)
from scale import AS_OF, CERTIFY, FIRMS_PACK, OUT, measure, say  # noqa: E402  (bench/scale.py)


def same_tables(a: Path, b: Path) -> tuple[bool, int, dict[str, int]]:
    """Whether two decision tables hold the same rows (every column but `where`), read a batch
    at a time; the rows compared and the outcome mix."""
    fa, fb = pq.ParquetFile(a), pq.ParquetFile(b)
    if fa.metadata.num_rows != fb.metadata.num_rows or fa.schema_arrow.names != fb.schema_arrow.names:
        return False, 0, {}
    columns = [n for n in fa.schema_arrow.names if n != "where"]
    rows = 0
    outcomes = {"pass": 0, "fail": 0, "undetermined": 0}
    for x, y in zip(fa.iter_batches(batch_size=16_384, columns=columns), fb.iter_batches(batch_size=16_384, columns=columns)):
        if not x.equals(y):
            return False, rows, outcomes
        rows += x.num_rows
        for outcome in x.column(columns.index("outcome")).to_pylist():
            if outcome in outcomes:
                outcomes[outcome] += 1
    return rows == fa.metadata.num_rows, rows, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240630)
    parser.add_argument("--workers", default="2")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    n = args.n
    csv_path, parquet_path = OUT / f"roundtrip-firms-{n}.csv", OUT / f"roundtrip-firms-{n}.parquet"
    results: dict = {"n": n, "workers": args.workers, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                     "load_before": os.getloadavg()}
    if not csv_path.exists() or not parquet_path.exists():
        say(f"writing {n:,} firms to {csv_path} and {parquet_path}")
        start = time.perf_counter()
        firms.write_csv(csv_path, n, args.seed)
        firms.write_parquet(parquet_path, n, args.seed)
        results["generate_s"] = time.perf_counter() - start
    results["csv_bytes"], results["parquet_bytes"] = csv_path.stat().st_size, parquet_path.stat().st_size
    for source in (parquet_path, csv_path):
        kind = source.suffix[1:]
        out = OUT / f"roundtrip-{n}-from-{kind}.parquet"
        say(f"firms: {kind} -> parquet, --workers {args.workers} (load {os.getloadavg()[0]:.1f})")
        row = measure(CERTIFY, "evaluate", "--rules", FIRMS_PACK, str(source), "--as-of", AS_OF, "--format", "parquet",
                      "--workers", args.workers, "-o", str(out))
        row["bytes"] = out.stat().st_size
        row["load_after"] = os.getloadavg()
        results[f"{kind}-parquet"] = row
        say(f"  {row['wall']:.1f} s wall, {row['cpu']:.1f} s CPU, {row['rss_mb']:.0f} MB")
    say("comparing the two decision tables")
    same, rows, outcomes = same_tables(OUT / f"roundtrip-{n}-from-csv.parquet", OUT / f"roundtrip-{n}-from-parquet.parquet")
    results.update(identical=same, rows=rows, outcomes=outcomes, load_after=os.getloadavg())
    (OUT / f"roundtrip-{n}.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print("| measure | value |\n|---|---:|")
    print(f"| firms N={n:,}: CSV / Parquet input | {results['csv_bytes'] / 2**20:.1f} MiB / {results['parquet_bytes'] / 2**20:.1f} MiB |")
    for kind in ("parquet", "csv"):
        row = results[f"{kind}-parquet"]
        print(f"| {kind.upper()} → Parquet, --workers {args.workers}: wall / CPU / firms/s / peak RSS | "
              f"{row['wall']:.1f} s / {row['cpu']:.1f} s / {n / row['wall']:,.0f} / {row['rss_mb']:.0f} MB |")
    print(f"| decisions table from Parquet = from CSV (every column but `where`, {rows:,} rows) | "
          f"{'yes' if same else 'NO'} |")
    print(f"| outcome mix | pass {outcomes.get('pass', 0):,}, fail {outcomes.get('fail', 0):,}, "
          f"undetermined {outcomes.get('undetermined', 0):,} |")
    print(f"\nrun {results['started']}; load average {results['load_before'][0]:.1f} before, "
          f"{results['load_after'][0]:.1f} after")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
