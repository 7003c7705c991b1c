"""`certify evaluate --cluster local` against `--workers 2`, on the same generated data, in one run.

    .venv/bin/python bench/cluster.py                 # 40,000 Huguan towns (format 1), CSV -> JSON full
    .venv/bin/python bench/cluster.py --n 5000 --repeat 1
    .venv/bin/python bench/cluster.py --pack rules/tech-sme-evaluation.yaml --n 4000   # format 2, generated firms

Each configuration is the real command in a fresh process (`certify evaluate … -o FILE`), timed
from start to exit (interpreter, imports, pack compile and, for the cluster, starting the
LocalCluster of 2 worker processes are inside the time). The configurations alternate
(workers, cluster, workers, cluster, …) so that a change in the machine's load hits both alike;
the table gives every run and the ratio of the medians. Every output must be byte-identical to
the single-process one (the run exits non-zero otherwise). Also measured: how long starting and
stopping a LocalCluster of 2 workers takes on its own. The Markdown table goes to stdout.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))  # bench.py: the town generator the main benchmark uses

from bench import write_towns  # noqa: E402

CERTIFY = [sys.executable, str(ROOT / "cli.py")]
AS_OF = "2024-12-31"


def firms(path: Path, n: int) -> None:
    """`n` firms for the tech-sme pack: the fixture's firms over and over, ids of their own."""
    doc = yaml.safe_load((ROOT / "fixtures" / "tech-sme-firms.yaml").read_text(encoding="utf-8"))
    base = [{k: v for k, v in firm.items() if k != "expect"} for firm in doc["entities"]]
    rows = [dict(base[i % len(base)], id=f"F{i:07d}") for i in range(n)]
    path.write_text(json.dumps({"entities": rows}, ensure_ascii=False), encoding="utf-8")


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(CERTIFY + args, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 3):  # 3: some rows had bad data (decided anyway)
        sys.exit(f"certify {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return wall


def cluster_start() -> float:
    """Seconds to start a LocalCluster of 2 workers (ready for work) and stop it again."""
    code = ("import time; t = time.perf_counter()\n"
            "from engine.evaluate.cluster import ClusterPool\n"
            "pool = ClusterPool('local', 2); pool.client(); pool.close()\n"
            "print(time.perf_counter() - t)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", default="rules/huguan-specialized-town.yaml")
    parser.add_argument("--n", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each parallel configuration (alternating)")
    parser.add_argument("--seed", type=int, default=20240630)
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    tech = "tech-sme" in options.pack
    data = OUT / (f"cluster-firms-{options.n}.json" if tech else f"cluster-towns-{options.n}.csv")
    if not data.exists():
        firms(data, options.n) if tech else write_towns(data, options.n, options.seed)
    common = ["evaluate", "--rules", options.pack, str(data), "--as-of", AS_OF, "--format", "json", "-o"]
    print(f"data: {data.name}, {data.stat().st_size / 2**20:.1f} MiB", file=sys.stderr)
    single_out = OUT / "cluster-single.json"
    single = timed(common + [str(single_out)])
    print(f"single process: {single:.2f} s", file=sys.stderr)
    runs: dict[str, list[float]] = {"workers": [], "cluster": []}
    extra = {"workers": ["--workers", "2"], "cluster": ["--cluster", "local", "--workers", "2"]}
    for _ in range(options.repeat):
        for name in ("workers", "cluster"):
            out = OUT / f"cluster-{name}.json"
            runs[name].append(timed(common + [str(out)] + extra[name]))
            print(f"{name}: {runs[name][-1]:.2f} s", file=sys.stderr)
            if not filecmp.cmp(out, single_out, shallow=False):
                sys.exit(f"{name}: the output differs from the single-process output")
    start = cluster_start()
    workers, cluster = statistics.median(runs["workers"]), statistics.median(runs["cluster"])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    load = os.getloadavg()[0]
    print(f"| {options.n:,} entities, {Path(options.pack).name}, CSV/JSON → JSON full, whole command wall | seconds |")
    print("|---|---:|")
    print(f"| 1 process | {single:.2f} |")
    print(f"| `--workers 2` (runs: {', '.join(f'{t:.2f}' for t in runs['workers'])}) | {workers:.2f} |")
    print(f"| `--cluster local --workers 2` (runs: {', '.join(f'{t:.2f}' for t in runs['cluster'])}) | {cluster:.2f} |")
    print(f"| of which starting and stopping the LocalCluster (measured alone) | {start:.2f} |")
    print(f"| **cluster ÷ workers** (medians; above 1 = the cluster is slower) | **{cluster / workers:.2f}** |")
    print(f"\nOutputs byte-identical to the single-process run. Engine at {commit}; "
          f"{os.cpu_count()} CPUs; load average {load:.1f} at the end.")


if __name__ == "__main__":
    main()
