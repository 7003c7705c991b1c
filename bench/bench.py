"""Benchmark of the Huguan pack (format 2, rules/): durable-rules path vs the reference evaluator.

    .venv/bin/python bench/bench.py                 # full run: N=40,000 (+ a 10,000 run for memory)
    .venv/bin/python bench/bench.py --quick         # smoke test: N=600 (+ 150)
    .venv/bin/python bench/bench.py --n 20000 --seed 7 --profile
    .venv/bin/python bench/bench.py --limits        # worst packs at the limits of engine/limits.py
    .venv/bin/python bench/bench.py --ranking       # one cohort ranked at 1k / 10k / 100k (bench/rank_scale.py)

What it does:

1. Generates N synthetic Huguan towns (seeded) as a UTF-8 CSV in bench/out/, in the fixture
   layout (id, name, every pack input in pack order, plus two evidence columns). The target mix is
   ~60% pass, ~25% fail, ~15% undetermined across the three lead-industry categories, with
   missing values both where they decide the outcome and where they do not; the mix actually
   realised is what the engines decide, and is printed.
2. Runs every configuration in a fresh subprocess (so each peak RSS, read with
   resource.getrusage(RUSAGE_SELF).ru_maxrss, belongs to that configuration alone), on the
   format-2 path `certify evaluate` takes (engine.evaluate.run2, engine.evaluate.pipeline):
   - baseline: imports, pack compiled, a Runner built (its durable sessions), no entities;
   - decide:   entities read and normalised *before* the clock starts; the timed loop is the
               Runner deciding each town (its values, each criteria stage's fact decided by
               durable-rules or the reference evaluator), no record built;
   - e2e:      decide_files2 (read CSV -> normalise -> decide -> record) with each decision
               encoded as the full JSON document's text where it was decided (render_full2) and
               written as it comes (write_decisions2: `certify evaluate --format json`), timed
               from the first read to the closed output file; run at the small N and at N.
3. Prints a Markdown table. With --profile it also runs cProfile over the end-to-end path of
   both engines (in-process, min(N, 5000) towns) and writes the top 25 lines by cumulative and
   by own time to bench/out/profile-<engine>.txt.

All rows are single-process except the extra "K processes" rows, which use decide_files2(workers=K)
(--workers, default one per CPU; --workers 1 skips them).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PACK = ROOT / "rules" / "huguan-specialized-town.yaml"  # format 2 (the format-1 original: tests/format1/rules/)
AS_OF = dt.date(2024, 6, 30)
ENGINES = ("durable", "reference")

sys.path.insert(0, str(ROOT))

# ---------------------------------------------------------------------------------------------
# Synthetic towns

CATEGORIES = ("manufacturing", "light_industry_crafts", "specialty_agriculture")
CATEGORY_WEIGHTS = (0.4, 0.3, 0.3)
# Standard-path output thresholds in 万元 (10亿元 and 2亿元); the relaxed path needs 5000万元.
STANDARD_MIN = {"manufacturing": 100_000, "light_industry_crafts": 20_000, "specialty_agriculture": 20_000}
RELAXED_MIN = 5_000
CORE_ATTESTATIONS = ("heritage", "employment_driver", "market_demand", "single_township",
                     "supporting_capacity", "distinctive_products", "public_services", "environment")
RELAXED_ATTESTATIONS = ("traditional_origin", "industry_influence", "prospects_considered")
COLUMNS = ("id", "name", "lead_category", "lead_output", "leading_firms", "supporting_firms",
           "heritage", "employment_driver", "market_demand", "single_township", "supporting_capacity",
           "traditional_origin", "industry_influence", "prospects_considered", "distinctive_products",
           "public_services", "environment", "has_tech_centre", "has_distinguished_firm",
           "heritage.by", "heritage.date")
NAME_PARTS = ("青", "崖", "砚", "池", "椒", "岭", "石", "磨", "龙", "泉", "桥", "上", "下", "东", "西",
              "南", "北", "店", "树", "掌", "晋", "庄", "黄", "山", "河", "口", "百", "尺", "集", "店")
AUTHORITIES = ("县工信局", "县农业农村局", "县文旅局", "县商务局")
YES = ("是", "是", "是", "是", "符合", "yes")
NO = ("否", "否", "否", "不符合", "no")


def _money(rng: random.Random, wan: int) -> str:
    """An amount of 万元 written the way officers write it."""
    style = rng.random()
    if style < 0.35 and wan % 1000 == 0:
        return f"{wan / 10_000:g}亿元"
    if style < 0.5 and wan % 1000 == 0:
        return f"{wan / 10_000:g}亿"
    if style < 0.8:
        return f"{wan}万元"
    return str(wan)  # bare number = the input's unit, 万元


def _count(rng: random.Random, n: int, unit: str) -> str:
    return f"{n}{unit}" if rng.random() < 0.1 else str(n)


def _output(rng: random.Random, lo: int, hi: int) -> int:
    """An output in [lo, hi) 万元; now and then exactly on a threshold."""
    if rng.random() < 0.05:
        return lo
    value = rng.randrange(lo, hi)
    return value - value % 100 if rng.random() < 0.7 else value


def town(rng: random.Random, index: int) -> dict[str, str]:
    category = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
    standard = STANDARD_MIN[category]
    row: dict[str, str] = {
        "id": f"HGB{index:06d}",
        "name": "".join(rng.choices(NAME_PARTS, k=2)) + rng.choice(("镇", "乡")),
        "lead_category": category,
        "leading_firms": _count(rng, rng.randint(1, 8), "家"),
        "supporting_firms": _count(rng, rng.randint(10, 400), "户"),
        "has_tech_centre": rng.choice(("是", "否", "否")),
        "has_distinguished_firm": rng.choice(("是", "否", "否")),
    }
    for name in CORE_ATTESTATIONS:
        row[name] = rng.choice(YES)
    relaxed = rng.random() < 0.15
    if relaxed:  # passes only through the relaxed path: 5000万元 <= output < the standard minimum
        row["lead_output"] = _money(rng, _output(rng, RELAXED_MIN, standard))
        for name in RELAXED_ATTESTATIONS:
            row[name] = rng.choice(YES)
    else:
        row["lead_output"] = _money(rng, _output(rng, standard, standard * 8))
        for name in RELAXED_ATTESTATIONS:  # irrelevant on the standard path; often left out
            row[name] = rng.choice(("", "", "是", "否"))
    if rng.random() < 0.5:
        row["heritage.by"] = rng.choice(AUTHORITIES)
        row["heritage.date"] = f"2024-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}"
    for flag in ("has_tech_centre", "has_distinguished_firm"):
        if rng.random() < 0.08:  # a missing flag input does not change eligibility
            row[flag] = ""

    roll = rng.random()
    if roll < 0.60:
        pass  # pass as generated
    elif roll < 0.85:  # fail: break one or two conditions (a missing value elsewhere is harmless)
        for _ in range(rng.choice((1, 1, 2))):
            how = rng.random()
            if how < 0.35:
                row[rng.choice(CORE_ATTESTATIONS)] = rng.choice(NO)
            elif how < 0.6:  # below the standard minimum and not on the relaxed path
                row["lead_output"] = _money(rng, _output(rng, 1_000, standard))
                row[rng.choice(RELAXED_ATTESTATIONS)] = rng.choice(NO)
            elif how < 0.8:
                row["supporting_firms"] = _count(rng, rng.randint(0, 9), "户")
            else:
                row["leading_firms"] = "0"
        if rng.random() < 0.2:
            row[rng.choice(CORE_ATTESTATIONS)] = ""
    else:  # undetermined: a value that matters is missing
        for _ in range(rng.choice((1, 1, 2))):
            row[rng.choice(CORE_ATTESTATIONS + ("lead_output", "lead_output", "leading_firms",
                                               "supporting_firms", "lead_category"))] = ""
    return row


def write_towns(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        for index in range(1, n + 1):
            writer.writerow(town(rng, index))


# ---------------------------------------------------------------------------------------------
# Workers (each runs in its own process)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _load():
    from engine.evaluate.pipeline import load_pack2

    started = time.perf_counter()
    pack = load_pack2(str(PACK), AS_OF)
    return pack, time.perf_counter() - started


def _rules(pack) -> int:  # noqa: ANN001 - engine.compile.model2.Pack2
    """Rules in the compiled rulesets of the pack's criteria stages."""
    return sum(len(stage.pack.ruleset) for stage in pack.stages)


def _deciding(runner):  # noqa: ANN001, ANN202 - engine.evaluate.run2.Runner
    """`runner`, made to stop where the decision ends: each entity's statuses and flags instead of
    its record (the record is explaining, timed in the e2e and stage rows)."""
    runner._record = lambda env, award=None: (env.statuses, env.notes)  # this runner's only
    return runner


def _verdict_key(pack, decided) -> tuple:  # noqa: ANN001
    """Outcome, every criterion's status and branch, every flag's status: what two engines must agree on."""
    statuses, notes = decided
    outcome = statuses.get(pack.decision, (None,))[0] if pack.decision else None
    return (str(outcome), tuple(sorted((k, str(st), branch) for k, (st, branch, _phase) in statuses.items())),
            tuple(sorted((k, str(st)) for k, st in notes.items())))


_OUTCOME = {"met": "pass", "not_met": "fail"}  # the decision's status, as an outcome (else undetermined)


def worker_baseline(engine: str) -> dict:
    from engine.evaluate.run2 import Runner

    pack, load_s = _load()
    Runner(pack, engine)
    return {"pack_load_s": load_s, "rules": _rules(pack)}


def worker_decide(engine: str, csv_path: str) -> dict:
    from engine.load.data import load_entities
    from engine.evaluate.run2 import Runner, subject_of

    pack, load_s = _load()
    problems: list = []
    subjects = [subject_of(pack, entity)[0] for entity in load_entities(csv_path, problems)]
    runner = _deciding(Runner(pack, engine))
    fired_counts: list[int] = []
    for session in runner._sessions.values():
        # Count actions per entity: wrap each stage session's decide (one extra call and len()
        # per entity and stage, well under 0.1% of a durable decision).
        inner = session.decide

        def counted(slots, inner=inner):  # noqa: ANN001, ANN202
            fired = inner(slots)
            fired_counts.append(len(fired))
            return fired

        session.decide = counted
    evaluate = runner.evaluate
    verdicts = []
    append = verdicts.append
    started = time.perf_counter()
    for subject in subjects:
        append(evaluate([subject])[0])
    elapsed = time.perf_counter() - started
    digest = hashlib.sha256()
    outcomes = {"pass": 0, "fail": 0, "undetermined": 0}
    for decided in verdicts:
        key = _verdict_key(pack, decided)
        outcomes[_OUTCOME.get(key[0], "undetermined")] += 1
        digest.update(repr(key).encode())
    out = {"n": len(subjects), "seconds": elapsed, "per_s": len(subjects) / elapsed, "pack_load_s": load_s,
           "rules": _rules(pack), "outcomes": outcomes, "verdicts_sha256": digest.hexdigest()}
    if fired_counts:
        per_entity = [sum(fired_counts[i:i + len(runner._sessions)])
                      for i in range(0, len(fired_counts), len(runner._sessions))]
        out["actions"] = {"mean": statistics.fmean(per_entity), "min": min(per_entity), "max": max(per_entity)}
    return out


def worker_e2e(engine: str, csv_path: str, out_path: str, workers: str = "1") -> dict:
    from engine.evaluate.pipeline import decide_files2
    from engine.report.compact import render_full2, write_decisions2

    pack, load_s = _load()
    problems: list = []
    started = time.perf_counter()
    with open(out_path, "w", encoding="utf-8") as out:
        # As `certify evaluate --format json` does: each decision is encoded where it is decided
        # (in the workers when there are several), and the text is written in input order.
        counts = write_decisions2(decide_files2(pack, [csv_path], engine, problems, workers=int(workers),
                                                render=render_full2), problems, out)
    elapsed = time.perf_counter() - started
    n = sum(counts[k] for k in ("pass", "fail", "undetermined"))
    return {"n": n, "seconds": elapsed, "per_s": n / elapsed, "pack_load_s": load_s,
            "rules": _rules(pack), "outcomes": {k: counts[k] for k in ("pass", "fail", "undetermined")},
            "problems": len(problems), "out_bytes": os.path.getsize(out_path), "workers": int(workers),
            # the largest of the worker processes (0 when single-process)
            "children_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def worker_stages(engine: str, csv_path: str) -> dict:
    """The end-to-end loop of decide_files2, written out, with a clock around each stage."""
    from engine.load.data import load_entities
    from engine.evaluate.run2 import Runner, subject_of
    from engine.report.compact import render_full2

    pack, load_s = _load()
    runner = Runner(pack, engine)
    clock = time.perf_counter
    spent = dict.fromkeys(("read CSV", "normalise", "decide", "record", "JSON encode", "write"), 0.0)
    recorded = [0.0]
    make_record = runner._record

    def timed_record(env, award=None):  # noqa: ANN001, ANN202
        t = clock()
        record = make_record(env, award)
        recorded[0] += clock() - t
        return record

    runner._record = timed_record  # this runner's only
    n = 0
    with open(os.devnull, "w", encoding="utf-8") as out:
        entities = iter(load_entities(csv_path, []))
        while True:
            t0 = clock()
            entity = next(entities, None)
            t1 = clock()
            spent["read CSV"] += t1 - t0
            if entity is None:
                break
            subject, _ = subject_of(pack, entity)
            t2 = clock()
            recorded[0] = 0.0
            record = runner.evaluate([subject])[0]
            t3 = clock()
            _, text = render_full2(pack, record)
            t4 = clock()
            out.write(text + "\n")
            t5 = clock()
            spent["normalise"] += t2 - t1
            spent["decide"] += t3 - t2 - recorded[0]
            spent["record"] += recorded[0]
            spent["JSON encode"] += t4 - t3
            spent["write"] += t5 - t4
            n += 1
    return {"n": n, "us_per_entity": {k: 1e6 * v / n for k, v in spent.items()}, "pack_load_s": load_s}


def run_worker(argv: list[str]) -> None:
    mode, engine, *rest = argv
    result = {"baseline": worker_baseline, "decide": worker_decide, "e2e": worker_e2e,
              "stages": worker_stages}[mode](engine, *rest)
    result.update(mode=mode, engine=engine, peak_rss_mb=_peak_rss_mb())
    print(json.dumps(result))


def spawn(*args: str) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", *args],
                          cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"worker {args} failed with exit code {done.returncode}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started  # interpreter start + imports + compile + run
    return result


# ---------------------------------------------------------------------------------------------
# Profiling (in-process, optional)


def profile_e2e(engine: str, csv_path: Path, n: int) -> Path:
    import cProfile
    import io
    import pstats

    from engine.evaluate.pipeline import decide_files2, load_pack2
    from engine.report.compact import render_full2, write_decisions2

    pack = load_pack2(str(PACK), AS_OF)
    out_path = OUT / f"profile-{engine}.json"
    profiler = cProfile.Profile()
    profiler.enable()
    problems: list = []
    with open(out_path, "w", encoding="utf-8") as out:
        write_decisions2(decide_files2(pack, [str(csv_path)], engine, problems, render=render_full2), problems, out)
    profiler.disable()
    text = io.StringIO()
    text.write(f"# cProfile, end to end, engine={engine}, {n} towns\n")
    for key in ("cumulative", "tottime"):
        text.write(f"\n## sorted by {key}, top 25\n")
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(key).print_stats(25)
    report = OUT / f"profile-{engine}.txt"
    report.write_text(text.getvalue(), encoding="utf-8")
    return report


# ---------------------------------------------------------------------------------------------
# Main


def _git_state() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    done = subprocess.run(["git", "status", "--porcelain", "--", "engine", "rules", "cli.py"], cwd=ROOT,
                          capture_output=True, text=True)
    dirty = [line[3:] for line in done.stdout.splitlines() if line.strip()]
    return git("rev-parse", "--short", "HEAD") + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")


def table(results: dict, n: int, n_small: int) -> str:
    def cell(engine: str, fmt) -> str:
        return fmt(results[engine])

    rows = [
        ("rules in the compiled rulesets", lambda r: f"{r['decide']['rules']}", lambda r: "— (walks the same compiled pack)"),
        (f"decide only, entities/s (N={n:,}, 1 process)", lambda r: f"{r['decide']['per_s']:,.0f}", None),
        ("decide only, µs/entity", lambda r: f"{1e6 / r['decide']['per_s']:,.1f}", None),
        ("actions (rules fired) per entity, mean [min–max]",
         lambda r: "{mean:.2f} [{min}–{max}]".format(**r["decide"]["actions"]), lambda r: "— (no actions)"),
        (f"end to end, entities/s (N={n:,})", lambda r: f"{r['e2e']['per_s']:,.0f}", None),
        (f"end to end wall, N={n:,} (read CSV → … → JSON document closed)", lambda r: f"{r['e2e']['seconds']:.2f} s", None),
        (f"whole process wall, N={n:,} (+ interpreter, imports, pack compile)", lambda r: f"{r['e2e']['process_s']:.2f} s", None),
        ("pack load + compile", lambda r: f"{r['e2e']['pack_load_s']:.2f} s", None),
        (f"end to end wall, N={n_small:,}", lambda r: f"{r['e2e_small']['seconds']:.2f} s", None),
        ("peak RSS, baseline (pack compiled, no entities)", lambda r: f"{r['baseline']['peak_rss_mb']:.1f} MB", None),
        (f"peak RSS, end to end N={n_small:,}", lambda r: f"{r['e2e_small']['peak_rss_mb']:.1f} MB", None),
        (f"peak RSS, end to end N={n:,}", lambda r: f"{r['e2e']['peak_rss_mb']:.1f} MB", None),
        (f"peak RSS growth per 1,000 towns ({n_small:,} → {n:,})",
         lambda r: f"{(r['e2e']['peak_rss_mb'] - r['e2e_small']['peak_rss_mb']) / ((n - n_small) / 1000):.2f} MB", None),
        (f"peak RSS, decide only N={n:,} (all normalised values held)", lambda r: f"{r['decide']['peak_rss_mb']:.1f} MB", None),
        (f"JSON written (full traces), N={n:,}", lambda r: f"{r['e2e']['out_bytes'] / 2**20:.1f} MiB", None),
    ]
    if "par" in results["durable"]:
        k = results["durable"]["par"]["workers"]
        rows += [
            (f"**{k} processes** (decide_files2 workers={k}): end to end wall, N={n:,}",
             lambda r: f"{r['par']['seconds']:.2f} s", None),
            (f"{k} processes: end to end entities/s, N={n:,}", lambda r: f"{r['par']['per_s']:,.0f}", None),
            (f"{k} processes: end to end wall, N={n_small:,}", lambda r: f"{r['par_small']['seconds']:.2f} s", None),
            (f"{k} processes: peak RSS parent / largest worker, N={n_small:,}",
             lambda r: f"{r['par_small']['peak_rss_mb']:.0f} / {r['par_small']['children_peak_rss_mb']:.0f} MB", None),
            (f"{k} processes: peak RSS parent / largest worker, N={n:,}",
             lambda r: f"{r['par']['peak_rss_mb']:.0f} / {r['par']['children_peak_rss_mb']:.0f} MB", None),
        ]
    lines = ["| measure | durable-rules | reference evaluator |", "|---|---:|---:|"]
    for label, fmt, ref_fmt in rows:
        lines.append(f"| {label} | {cell('durable', fmt)} | {(ref_fmt or fmt)(results['reference'])} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# --limits: the worst packs engine/limits.py still accepts (bench/limit_packs.py)


def limits_worker(family: str, decisions: int) -> None:
    """One pack at the limits, in this fresh process: validate, compile (the durable rulesets
    included), then decide `decisions` entities; print one JSON line. The packs are written in
    format 1 (bench/limit_packs.py) and read as every command reads them, converted on load to
    format 2 (engine.validate.dialect1, engine.compile.build2); a pack the format-2 builder refuses
    is reported with its codes. Times are this process's CPU time (time.process_time), so that a
    busy machine does not inflate them: what they measure is the work, as on an idle machine of
    the same speed."""
    sys.path.insert(0, str(HERE))
    from limit_packs import at_limit, entities
    from engine.compile.build2 import build2
    from engine.compile.check import format1_checked
    from engine.core.problems import ProblemsError
    from engine.evaluate.run2 import Runner, Subject
    from engine.validate.dialect1 import read_format1
    from engine.validate.limits import measure
    from engine.load.yamlsafe import parse_yaml

    size, text = at_limit(family)
    started = time.process_time()
    doc = parse_yaml(text, f"{family}.yaml")
    problems = format1_checked(doc, AS_OF)
    validated = time.process_time()
    base = {"family": family, "size": size, "errors": sum(p.severity == "error" for p in problems),
            "validate_s": validated - started,
            "estimate": {k: (v[0] if isinstance(v, tuple) else v) for k, v in measure(doc.value).items() if k != "bad_k"}}
    try:
        pack = build2(read_format1(doc).document, text.encode("utf-8"), AS_OF)
    except ProblemsError as refused:
        print(json.dumps({**base, "refused": sorted({p.code for p in refused.problems if p.severity == "error"}),
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return
    durable = _deciding(Runner(pack, "durable"))
    compiled = time.process_time()
    reference = _deciding(Runner(pack, "reference"))
    times, agree = [], True
    for i, values in enumerate(entities(pack, decisions)):
        subject = Subject(f"e{i}", values)
        t0 = time.process_time()
        decided = durable.evaluate([subject])[0]
        times.append(time.process_time() - t0)
        agree = agree and _verdict_key(pack, decided) == _verdict_key(pack, reference.evaluate([subject])[0])
    print(json.dumps({
        **base, "compile_s": compiled - validated,
        # the first decision warms the engine's caches up: reported apart
        "decide_first_ms": 1000 * times[0], "decide_median_ms": 1000 * statistics.median(times[1:]),
        "decide_p99_ms": 1000 * sorted(times[1:])[int(0.99 * (len(times) - 2))], "decide_max_ms": 1000 * max(times[1:]),
        "rules": _rules(pack), "groups": sum(stage.pack.rule_groups for stage in pack.stages), "agree": agree,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def run_limits(decisions: int) -> None:
    sys.path.insert(0, str(HERE))
    from limit_packs import FAMILIES
    from engine.validate import limits

    rows = []
    for family in FAMILIES:
        done = subprocess.run([sys.executable, __file__, "--limits-worker", family, str(decisions)],
                              capture_output=True, text=True, check=True, cwd=ROOT)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{family}: " + (f"refused as format 2 ({', '.join(row['refused'])})" if "refused" in row else
                               f"compile {row['compile_s']:.2f} s, decide max {row['decide_max_ms']:.1f} ms"), file=sys.stderr)
    print(f"\n## Packs at the limits (engine/limits.py: group {limits.MAX_GROUP}, tests {limits.MAX_TESTS}, "
          f"depth {limits.MAX_DEPTH}, terms {limits.MAX_TERMS}, simplify {limits.MAX_SIMPLIFY:,}, "
          f"rules {limits.MAX_RULES}, comparisons {limits.MAX_ATOMS:,}), {decisions} entities each\n")
    print("| pack (size) | validate s | compile s (with durable ruleset) | decide: first / median / p99 / max ms "
          "| rules | groups | engines agree | peak MB |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for r in rows:
        if "refused" in r:  # the format-2 builder refuses what format 1's limits let through
            print(f"| {r['family']} ({r['size']}) | {r['validate_s']:.3f} | refused as format 2: "
                  f"{', '.join(r['refused'])} | — | — | — | — | {r['peak_rss_mb']:.0f} |")
            continue
        print(f"| {r['family']} ({r['size']}) | {r['validate_s']:.3f} | {r['compile_s']:.3f} | "
              f"{r['decide_first_ms']:.1f} / {r['decide_median_ms']:.2f} / {r['decide_p99_ms']:.2f} / "
              f"{r['decide_max_ms']:.2f} | {r['rules']} | {r['groups']} | "
              f"{'yes' if r['agree'] else 'NO'} | {r['peak_rss_mb']:.0f} |")
    decided = [r for r in rows if "refused" not in r]
    worst_compile = max((r["compile_s"] for r in decided), default=0.0)
    worst_decide = max((r["decide_max_ms"] for r in decided), default=0.0)
    print(f"\nWorst compile {worst_compile:.2f} s (target < 1 s); worst decide {worst_decide:.2f} ms (target < 10 ms). "
          "Times are CPU seconds of the measuring process (time.process_time).")
    print(f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end, "
          f"Python {sys.version.split()[0]}.")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        run_worker(sys.argv[2:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--limits-worker":
        limits_worker(sys.argv[2], int(sys.argv[3]))
        return
    if "--limits" in sys.argv[1:]:
        run_limits(200)
        return
    if "--ranking" in sys.argv[1:]:  # ranking one cohort at 1k / 10k / 100k (bench/rank_scale.py)
        import rank_scale
        rank_scale.main_args([a for a in sys.argv[1:] if a != "--ranking"])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40_000, help="towns for the main run (default 40000)")
    parser.add_argument("--small-n", type=int, default=10_000,
                        help="towns for the second end-to-end run, for memory flatness (default 10000)")
    parser.add_argument("--seed", type=int, default=20240630, help="random seed for the towns")
    parser.add_argument("--quick", action="store_true", help="smoke test: N=600, small N=150")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes for the extra parallel end-to-end rows (decide_files2(workers=K)); "
                             "1 = single-process only (default: one per CPU)")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile the end-to-end path of both engines (min(N, 5000) towns)")
    args = parser.parse_args()
    n, n_small = (600, 150) if args.quick else (args.n, args.small_n)
    workers = args.workers
    if n_small >= n:
        n_small = max(1, n // 4)

    OUT.mkdir(parents=True, exist_ok=True)
    big, small = OUT / f"towns-{n}.csv", OUT / f"towns-{n_small}.csv"
    started = time.perf_counter()
    write_towns(big, n, args.seed)
    write_towns(small, n_small, args.seed + 1)
    print(f"generated {n:,} + {n_small:,} towns (seed {args.seed}) in {time.perf_counter() - started:.1f} s "
          f"-> {big.relative_to(ROOT)}, {small.relative_to(ROOT)}", file=sys.stderr)

    results: dict[str, dict] = {}
    for engine in ENGINES:
        r = results[engine] = {}
        r["baseline"] = spawn("baseline", engine)
        r["decide"] = spawn("decide", engine, str(big))
        print(f"{engine}: decide {r['decide']['per_s']:,.0f}/s", file=sys.stderr)
        r["stages"] = spawn("stages", engine, str(small))
        r["e2e_small"] = spawn("e2e", engine, str(small), str(OUT / f"decisions-{engine}-{n_small}.json"))
        r["e2e"] = spawn("e2e", engine, str(big), str(OUT / f"decisions-{engine}-{n}.json"))
        print(f"{engine}: end to end {r['e2e']['per_s']:,.0f}/s, {r['e2e']['seconds']:.1f} s", file=sys.stderr)
        if workers > 1:
            r["par_small"] = spawn("e2e", engine, str(small), str(OUT / f"decisions-{engine}-{n_small}-w{workers}.json"),
                                   str(workers))
            r["par"] = spawn("e2e", engine, str(big), str(OUT / f"decisions-{engine}-{n}-w{workers}.json"), str(workers))
            print(f"{engine}: end to end, {workers} processes: {r['par']['per_s']:,.0f}/s, "
                  f"{r['par']['seconds']:.1f} s", file=sys.stderr)

    d, ref = results["durable"], results["reference"]
    agree = d["decide"]["verdicts_sha256"] == ref["decide"]["verdicts_sha256"]
    outcomes = d["e2e"]["outcomes"]
    mix = ", ".join(f"{k} {v:,} ({100 * v / n:.1f}%)" for k, v in outcomes.items())

    print(f"\n## Huguan pack (format 2, {PACK.relative_to(ROOT)}), N={n:,} synthetic towns (seed {args.seed})\n")
    print(table(results, n, n_small))
    print(f"\nOutcome mix (N={n:,}): {mix}. Data problems reported: {d['e2e']['problems']:,}.")
    print(f"durable and reference verdicts (outcome, every criterion status and branch, flags) "
          f"{'agree on all' if agree else 'DISAGREE on some of the'} {n:,} towns.")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, engine at {_git_state()}; each configuration "
          f"in a fresh process; rows without a process count are single-process.")
    print(f"\nWhere the time goes, single process, µs per entity (the decide_files2 loop written out with a "
          f"clock around each stage, N={n_small:,}, output to /dev/null):\n")
    stages = list(d["stages"]["us_per_entity"])
    print("| stage | durable-rules | reference evaluator |\n|---|---:|---:|")
    for stage in stages + ["total"]:
        def us(r, stage=stage):
            per = r["stages"]["us_per_entity"]
            return sum(per.values()) if stage == "total" else per[stage]
        print(f"| {stage} | {us(d):,.1f} | {us(ref):,.1f} |")
    (OUT / f"results-{n}.json").write_text(json.dumps(results, indent=2), encoding="utf-8")

    # The peer: the same towns decided by GoRules zen-engine (bench/zen_peer.py), one process.
    peer = subprocess.run([sys.executable, str(HERE / "zen_peer.py"), "--csv", str(big)], cwd=ROOT,
                          capture_output=True, text=True)
    print("\n" + peer.stdout.strip())
    if peer.returncode != 0:
        sys.stderr.write(peer.stderr)
        agree = False

    if args.profile:
        pn = min(n, 5000)
        pfile = OUT / f"towns-profile-{pn}.csv"
        write_towns(pfile, pn, args.seed + 2)
        for engine in ENGINES:
            report = profile_e2e(engine, pfile, pn)
            print(f"profile ({engine}, {pn} towns): {report.relative_to(ROOT)}", file=sys.stderr)
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
