"""The peer (issue 14, item 6): the Huguan pack decided by GoRules zen-engine, next to durable-rules
and the reference evaluator, on the same generated towns, in one run.

    .venv/bin/python bench/zen_peer.py                  # N=40,000 towns (bench.py's generator), one core
    .venv/bin/python bench/zen_peer.py --n 5000
    .venv/bin/python bench/zen_peer.py --write-graph    # rewrite bench/huguan-zen.json from GRAPH below

The zen decision is `bench/huguan-zen.json`: a JDM graph (input -> one expression node -> output)
written by hand from rules/huguan-specialized-town.yaml. It answers what certify's verdict holds:
every criterion's status in three values (met / not_met / unknown: a missing figure is unknown,
never false), the branch of the `cases` node, the decision and the priority flag. Thresholds are
in 元, as certify holds money (10亿元 = 1,000,000,000). Inputs are certify's normalised values
(amounts parsed, 是/符合/yes read as true), so all three engines decide the same facts.

What is timed, per engine, one process, one core, towns read and normalised before the clock:
- durable:   the format-2 pack (rules/huguan-specialized-town.yaml) decided as `certify evaluate`
             decides it (engine.evaluate.run2.Runner: each criteria stage's fact projected,
             durable's C matching, the fired rules read into every criterion's status and branch
             and the flag's status — the full trace of the decision), no record built;
- reference: the same with the reference evaluator deciding the same compiled stages;
- zen:       the values turned into zen's context, ZenEngine.evaluate(key, context) on an engine
             holding the graph (no zen trace: the statuses are its outputs), the result read into
             the same form; also zen's evaluate alone, with zen's own trace on, and through
             ZenDecision.evaluate (create_decision), which costs far more per call.
Every town's zen answer must equal durable's (outcome, every status and branch, the flag) and
durable's must equal the reference's: the run exits non-zero otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GRAPH_FILE = HERE / "huguan-zen.json"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"

# ---------------------------------------------------------------------------------------------
# The graph, as written into bench/huguan-zen.json


def _attested(field: str) -> str:
    return f"{field} == true ? 'met' : ({field} == false ? 'not_met' : 'unknown')"


def _at_least(field: str, threshold: int) -> str:
    return f"{field} == null ? 'unknown' : ({field} >= {threshold} ? 'met' : 'not_met')"


def _all(*names: str) -> str:
    no = " or ".join(f"$.{n} == 'not_met'" for n in names)
    unknown = " or ".join(f"$.{n} == 'unknown'" for n in names)
    return f"({no}) ? 'not_met' : (({unknown}) ? 'unknown' : 'met')"


def _any(*names: str) -> str:
    yes = " or ".join(f"$.{n} == 'met'" for n in names)
    unknown = " or ".join(f"$.{n} == 'unknown'" for n in names)
    return f"({yes}) ? 'met' : (({unknown}) ? 'unknown' : 'not_met')"


MANUFACTURING = "lead_category == 'manufacturing'"
LIGHT_AGRI = "(lead_category == 'light_industry_crafts' or lead_category == 'specialty_agriculture')"
EXPRESSIONS = [  # (key, expression), in dependency order: a later one reads an earlier one as $.key
    ("heritage", _attested("heritage")),
    ("employment", _attested("employment_driver")),
    ("market", _attested("market_demand")),
    ("concentration_single_township", _attested("single_township")),
    ("concentration_capacity", _attested("supporting_capacity")),
    # cases: the first `when` that holds picks the criterion; an unknown category leaves it undecided
    ("output_standard_branch", f"lead_category == null ? 'undecided1' : ({MANUFACTURING} ? 'case1' : "
                               f"({LIGHT_AGRI} ? 'case2' : 'otherwise'))"),
    ("output_manufacturing", f"$.output_standard_branch == 'case1' ? ({_at_least('lead_output', 1_000_000_000)}) : null"),
    ("output_light_agri", f"$.output_standard_branch == 'case2' ? ({_at_least('lead_output', 200_000_000)}) : null"),
    ("output_standard", "$.output_standard_branch == 'case1' ? $.output_manufacturing : "
                        "($.output_standard_branch == 'case2' ? $.output_light_agri : "
                        "($.output_standard_branch == 'otherwise' ? 'not_met' : 'unknown'))"),
    ("relaxed_origin", _attested("traditional_origin")),
    ("relaxed_influence", _attested("industry_influence")),
    ("relaxed_prospects", _attested("prospects_considered")),
    ("relaxed_output", _at_least("lead_output", 50_000_000)),
    ("output_relaxed", _all("relaxed_origin", "relaxed_influence", "relaxed_prospects", "relaxed_output")),
    ("concentration_output", _any("output_standard", "output_relaxed")),
    ("concentration", _all("concentration_single_township", "concentration_capacity", "concentration_output")),
    ("leading_firm_count", _at_least("leading_firms", 1)),
    ("supporting_firm_count", _at_least("supporting_firms", 10)),
    ("leading_firm", _all("leading_firm_count", "supporting_firm_count")),
    ("products", _attested("distinctive_products")),
    ("services", _attested("public_services")),
    ("environment", _attested("environment")),
    ("county_specialized_town", _all("heritage", "employment", "market", "concentration", "leading_firm",
                                     "products", "services", "environment")),
    ("priority_assessment", "(has_tech_centre == true or has_distinguished_firm == true) ? 'met' : "
                            "((has_tech_centre == null or has_distinguished_firm == null) ? 'unknown' : 'not_met')"),
]
OUTCOME = {MET: "pass", NOT_MET: "fail", UNKNOWN: "undetermined"}
ROOT_ID, FLAG_ID, CASES_ID = "county_specialized_town", "priority_assessment", "output_standard"
NOT_CRITERIA = {ROOT_ID, FLAG_ID, "output_standard_branch"}


def graph() -> dict:
    expressions = [{"id": key, "key": key, "value": value} for key, value in EXPRESSIONS]
    return {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "request", "position": {"x": 0, "y": 0}, "content": {}},
            {"id": "huguan", "type": "expressionNode", "name": "壶关县县级专业镇认定 (huguan-specialized-town 1.0.0)",
             "position": {"x": 300, "y": 0}, "content": {"expressions": expressions, "passThrough": False}},
            {"id": "response", "type": "outputNode", "name": "response", "position": {"x": 600, "y": 0}, "content": {}},
        ],
        "edges": [{"id": "e1", "sourceId": "request", "targetId": "huguan", "type": "edge"},
                  {"id": "e2", "sourceId": "huguan", "targetId": "response", "type": "edge"}],
    }


# ---------------------------------------------------------------------------------------------
# Reading each engine's answer as one comparable key

# The graph keeps the format-1 names; the format-2 pack renamed two criteria (one namespace).
RENAMED = {"heritage": "heritage_criterion", "environment": "environment_criterion"}


def context(values: dict) -> dict:
    """certify's normalised values as zen's context: exact amounts as integers (floats only if
    not whole: zen's numbers are decimals), missing as absent."""
    out = {}
    for key, value in values.items():
        if isinstance(value, Fraction):
            value = int(value) if value.denominator == 1 else float(value)
        out[key] = value
    return out


def verdict(result: dict) -> tuple:
    """zen's result as (outcome, ((criterion, status, branch), ...), flag status)."""
    statuses = {RENAMED.get(key, key): (status, None) for key, status in result.items()
                if key not in NOT_CRITERIA - {ROOT_ID} and status is not None}
    statuses[CASES_ID] = (result[CASES_ID], result["output_standard_branch"])
    return OUTCOME[result[ROOT_ID]], tuple(sorted((k, *v) for k, v in statuses.items())), result[FLAG_ID]


def certify_key(decided: tuple) -> tuple:
    """certify's statuses (format 2: every criterion's status and branch, the flag's status) in
    the same form as `verdict`."""
    statuses, notes = decided
    root = statuses[ROOT_ID][0].value
    listed = tuple(sorted((k, st.value, branch) for k, (st, branch, _phase) in statuses.items() if "~" not in k))
    return OUTCOME[root if root in OUTCOME else UNKNOWN], listed, notes[FLAG_ID].value


# ---------------------------------------------------------------------------------------------
# The run


def huguan_pack() -> Path:
    return ROOT / "rules" / "huguan-specialized-town.yaml"


class Decide:
    """One town through certify's format-2 decision path, as `certify evaluate` decides it
    (engine.evaluate.run2.Runner: the values of each phase, then each criteria stage decided by
    durable-rules, or by the reference evaluator): normalised values in, every criterion's status
    and branch and every flag's status out. No record is built (that is not the decision)."""

    def __init__(self, pack, engine: str):  # noqa: ANN001 - engine.compile.model2.Pack2
        from engine.evaluate import run2

        self.pack = pack
        self.runner = run2.Runner(pack, engine)
        self.env = run2._Env
        assert not pack.values and not pack.member_rules, "the peer's pack has values: compute them here too"

    def __call__(self, subject):  # noqa: ANN001, ANN204
        env = self.env(self.pack, subject)
        env.decided_by = self.runner.decided_by
        for stage in self.pack.stages:
            self.runner._count(stage, env)
            self.runner._decide(stage, env)
        return env.statuses, env.notes


def _timed(fn, items) -> tuple[list, float]:  # noqa: ANN001
    out = []
    append = out.append
    started = time.process_time()
    for item in items:
        append(fn(item))
    return out, time.process_time() - started


def run(n: int, seed: int, csv_path: Path | None = None, rounds: int = 3) -> dict:
    import datetime as dt

    import zen

    from bench import write_towns  # bench.py's generator: the same towns as the main benchmark
    from engine.evaluate.pipeline import load_pack2
    from engine.evaluate.run2 import subject_of
    from engine.load.data import load_entities

    pack = load_pack2(str(huguan_pack()), dt.date(2024, 6, 30))
    if csv_path is None:
        csv_path = HERE / "out" / f"towns-{n}.csv"
        write_towns(csv_path, n, seed)
    subjects = [subject_of(pack, e)[0] for e in load_entities(str(csv_path), [])]
    values = [s.values for s in subjects]
    content = json.loads(GRAPH_FILE.read_text(encoding="utf-8"))
    # The engine with the graph under a key (a static loader) is zen's fast path from Python: it
    # keeps the loaded decision; ZenDecision.evaluate (create_decision) cost ~10x more per call here.
    engine = zen.ZenEngine({"loader": {"type": "static", "content": {"huguan": content}}})
    decision = zen.ZenEngine().create_decision(json.dumps(content))
    durable, reference = Decide(pack, "durable"), Decide(pack, "reference")

    def evaluate(ctx: dict, options: dict | None = None) -> dict:
        return engine.evaluate("huguan", ctx, options) if options else engine.evaluate("huguan", ctx)

    traced = {"trace": True}
    # warm up each engine on a few towns (first calls compile and allocate)
    for s in subjects[:50]:
        durable(s), reference(s), evaluate(context(s.values)), decision.evaluate(context(s.values))
    results: dict = {"n": len(values), "rounds": rounds, "seconds": {}, "all_rounds": {},
                     "pack": {"format": 2, "stages": len(pack.stages),
                              "rules": sum(len(st.pack.ruleset) for st in pack.stages),
                              "slots": sum(len({t.field for t in st.pack.tests}) for st in pack.stages)}}
    got: dict = {}
    contexts = [context(v) for v in values]
    sample = contexts[:5000]
    runs = {
        "durable": (durable, subjects),
        "reference": (reference, subjects),
        "zen": (lambda v: verdict(evaluate(context(v))["result"]), values),
        "zen evaluate only": (evaluate, contexts),
        "zen evaluate, zen trace on": (lambda c: evaluate(c, traced), contexts),
        "zen via ZenDecision.evaluate": (decision.evaluate, sample),
    }
    # The engines take turns, `rounds` times over all the towns, and each keeps its fastest
    # round: on a shared machine a burst of load then hits every engine alike, not one of them.
    for _ in range(rounds):
        for name, (fn, items) in runs.items():
            out, seconds = _timed(fn, items)
            seconds *= len(values) / len(items)
            results["all_rounds"].setdefault(name, []).append(seconds)
            if name in ("durable", "reference", "zen"):
                got[name] = out
    results["seconds"] = {name: min(s) for name, s in results["all_rounds"].items()}
    keys = {"zen": got["zen"], "durable": [certify_key(d) for d in got["durable"]],
            "reference": [certify_key(d) for d in got["reference"]]}
    results["zen_equals_durable"] = sum(a == b for a, b in zip(keys["zen"], keys["durable"]))
    results["durable_equals_reference"] = sum(a == b for a, b in zip(keys["durable"], keys["reference"]))
    first_diff = next((i for i, (a, b) in enumerate(zip(keys["zen"], keys["durable"])) if a != b), None)
    if first_diff is not None:
        results["first_difference"] = {"town": first_diff, "values": {k: str(x) for k, x in values[first_diff].items()},
                                       "zen": repr(keys["zen"][first_diff]), "durable": repr(keys["durable"][first_diff])}
    outcomes: dict[str, int] = {}
    for key in keys["durable"]:
        outcomes[key[0]] = outcomes.get(key[0], 0) + 1
    results["outcomes"] = outcomes
    results["per_s"] = {k: len(values) / s for k, s in results["seconds"].items()}
    results["us"] = {k: 1e6 * s / len(values) for k, s in results["seconds"].items()}
    return results


def table(r: dict) -> str:
    per, us = r["per_s"], r["us"]
    lines = [f"GoRules zen-engine as the peer: the Huguan pack, N={r['n']:,} generated towns, decide only, one process "
             f"(CPU time; the engines take turns, best of {r['rounds']} rounds each), towns normalised before the clock\n",
             "| engine | towns/s | µs/town |", "|---|---:|---:|"]
    for k in ("durable", "reference", "zen", "zen evaluate only", "zen evaluate, zen trace on", "zen via ZenDecision.evaluate"):
        lines.append(f"| {k} | {per[k]:,.0f} | {us[k]:.1f} |")
    lines.append(f"\n**durable ÷ zen = {per['durable'] / per['zen']:.2f}**, reference ÷ zen = {per['reference'] / per['zen']:.2f} "
                 f"(towns/s per core; zen = context + evaluate + verdict, the same unit of work as the others). "
                 f"Against zen's evaluate alone: durable {per['durable'] / per['zen evaluate only']:.2f}, "
                 f"reference {per['reference'] / per['zen evaluate only']:.2f}.")
    lines.append(f"zen's verdict equals durable's on {r['zen_equals_durable']:,} of {r['n']:,} towns; durable's equals "
                 f"the reference's on {r['durable_equals_reference']:,}. Outcomes: "
                 + ", ".join(f"{k} {v:,}" for k, v in sorted(r["outcomes"].items())) + ".")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=20240630)
    parser.add_argument("--csv", type=Path, default=None, help="decide these towns instead of generating N")
    parser.add_argument("--rounds", type=int, default=3, help="turns each engine takes over all the towns (best kept)")
    parser.add_argument("--write-graph", action="store_true", help=f"rewrite {GRAPH_FILE.name} and stop")
    args = parser.parse_args(argv)
    if args.write_graph:
        GRAPH_FILE.write_text(json.dumps(graph(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return 0
    r = run(args.n, args.seed, args.csv, args.rounds)
    print(table(r))
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end.")
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / f"zen-{r['n']}.json").write_text(json.dumps(r, indent=2, ensure_ascii=False), encoding="utf-8")
    ok = r["zen_equals_durable"] == r["n"] == r["durable_equals_reference"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
