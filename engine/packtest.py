"""Pack test cases: YAML files beside each pack that say what it must decide.

A suite is `rules/<pack>.tests.yaml`:

    pack: huguan-specialized-town.yaml      # relative to the suite file
    as_of: "2024-06-30"
    fixtures: [../fixtures/huguan-towns.yaml]   # entities that carry an `expect:` block
    cases:                                   # and/or inline cases
      - name: 制造业恰好10亿元
        as_of: "2024-06-30"                  # optional, overrides the suite's
        entity: {id: T1, lead_category: manufacturing, lead_output: 10亿元, ...}
        expect:
          outcome: pass                      # pass | fail | undetermined
          criteria: {output_manufacturing: met}   # the root's id means the outcome
          path: output_standard              # this criterion must be met
          flags: {priority_assessment: true} # true | false | unknown
          missing_inputs: [lead_output]      # exactly these are named as missing

The runner is used by `certify test` and by pytest (tests/test_pack_suites.py), so CI and
officers run the same cases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .data import RawEntity, load_entities
from .evaluate import Decider
from .explain import Explainer
from .model import MET, NOT_MET, STATUSES, UNKNOWN, CompiledPack
from .normalize import normalise
from .pipeline import load_pack
from .problems import Problem, ProblemsError
from .yamlsafe import iso_date, load_yaml_file

_FLAG_WORDS = {True: MET, False: NOT_MET, "unknown": UNKNOWN, None: UNKNOWN}
_OUTCOME_STATUS = {"pass": MET, "fail": NOT_MET, "undetermined": UNKNOWN}
_SUITE_KEYS = {"pack", "as_of", "fixtures", "cases", "cohorts"}  # cohorts: scoring packs (engine.scoring_suite)
_CASE_KEYS = {"name", "as_of", "entity", "expect"}
_EXPECT_KEYS = {"outcome", "criteria", "path", "flags", "missing_inputs", "why"}


@dataclass
class CaseResult:
    suite: str
    name: str
    source: str
    passed: bool
    diffs: list[str] = field(default_factory=list)
    outcome: str | None = None


@dataclass
class SuiteResult:
    file: str
    pack_id: str | None = None
    cases: list[CaseResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    coverage: dict[str, set[str]] = field(default_factory=dict)  # criterion or flag id -> statuses seen
    coverage_ids: list[str] = field(default_factory=list)


def compare(record: dict[str, Any], expect: dict[str, Any], pack: CompiledPack) -> list[str]:
    """Readable differences between a decision record and what the case expects."""
    diffs: list[str] = []
    unknown_keys = sorted(set(expect) - _EXPECT_KEYS)
    if unknown_keys:
        diffs.append(f"unknown expect field(s) {unknown_keys}; allowed: {sorted(_EXPECT_KEYS)}")
    if "outcome" in expect and expect["outcome"] != record["outcome"]:
        diffs.append(f"outcome: expected {expect['outcome']}, got {record['outcome']}")
    statuses = {c["id"]: c["status"] for c in record["criteria"]}
    statuses[pack.root.id or ""] = _OUTCOME_STATUS[record["outcome"]]
    for ident, want in (expect.get("criteria") or {}).items():
        if want not in STATUSES:
            diffs.append(f"criteria.{ident}: expected status must be met, not_met or unknown, not {want!r}")
        elif ident not in statuses:
            known = ident in {n.id for n in pack.root.walk()}
            diffs.append(f"criteria.{ident}: expected {want}, got "
                         + ("not applicable (its case does not apply)" if known else "no such criterion"))
        elif statuses[ident] != want:
            detail = next((c for c in record["criteria"] if c["id"] == ident), {})
            test = detail.get("test", {})
            extra = ""
            if test:
                extra = f" (value {test.get('text', test.get('value'))}, threshold {test.get('threshold_text')})"
            diffs.append(f"criteria.{ident}: expected {want}, got {statuses[ident]}{extra}")
    if "path" in expect and statuses.get(expect["path"]) != MET:
        diffs.append(f"path: expected criterion {expect['path']} to be met, got "
                     f"{statuses.get(expect['path'], 'not applicable')}")
    flags = {f["id"]: f["status"] for f in record["flags"]}
    for ident, want in (expect.get("flags") or {}).items():
        want_status = _FLAG_WORDS.get(want, str(want))
        if flags.get(ident) != want_status:
            diffs.append(f"flags.{ident}: expected {want_status}, got {flags.get(ident, 'no such flag')}")
    if "missing_inputs" in expect:
        got = sorted(m.get("input") or f"parameter:{m.get('parameter')}" for m in record["missing_inputs"])
        if sorted(expect["missing_inputs"]) != got:
            diffs.append(f"missing_inputs: expected {sorted(expect['missing_inputs'])}, got {got}")
    return diffs


def _problem(doc_file: str, message: str, code: str = "E112") -> Problem:
    return Problem(doc_file, 1, 1, code, message)


def run_suite(path: str, engine: str = "durable") -> SuiteResult:
    result = SuiteResult(path)
    try:
        doc, _ = load_yaml_file(path)
    except ProblemsError as error:
        result.problems.extend(error.problems)
        return result
    suite = doc.value
    if not isinstance(suite, dict) or "pack" not in suite:
        result.problems.append(doc.problem("E111", "a test suite needs pack: <file> and fixtures or cases"))
        return result
    for key in sorted(set(suite) - _SUITE_KEYS):
        result.problems.append(doc.problem("E110", f"unknown field {key!r} (allowed: {sorted(_SUITE_KEYS)})", (key,)))
    if "cohorts" in suite:
        from .scoring_suite import run_scoring_suite

        run_scoring_suite(path, doc, result, engine)
        return result
    base = Path(path).parent
    pack_path = str(base / suite["pack"])
    default_as_of = iso_date(suite.get("as_of")) or dt.date.today()
    packs: dict[dt.date, tuple[CompiledPack, Decider, Explainer]] = {}

    def pack_for(as_of: dt.date) -> tuple[CompiledPack, Decider, Explainer]:
        if as_of not in packs:
            pack, _ = load_pack(pack_path, as_of)
            packs[as_of] = (pack, Decider(pack, engine), Explainer(pack, engine))
        return packs[as_of]

    try:
        pack, _, _ = pack_for(default_as_of)
    except ProblemsError as error:
        result.problems.extend(error.problems)
        return result
    result.pack_id = pack.meta.id
    result.coverage_ids = [n.id for n in pack.root.criteria() if n.id] + [f"flag:{f.id}" for f in pack.flags]
    result.coverage = {ident: set() for ident in result.coverage_ids}

    def run_one(name: str, source: str, entity: RawEntity, expect: dict[str, Any], as_of: dt.date) -> None:
        pack, decider, explainer = pack_for(as_of)
        normalised = normalise(pack, entity)
        verdict = decider.decide(normalised.values)
        record = explainer.explain(entity.id, entity.name, entity.fields, normalised, verdict, source)
        diffs = compare(record, expect, pack)
        for problem in normalised.problems:
            if problem.severity == "error":
                diffs.append(f"data problem: {problem.message}")
        result.cases.append(CaseResult(path, name, source, not diffs, diffs, record["outcome"]))
        root_id = pack.root.id or ""
        result.coverage.setdefault(root_id, set()).add(_OUTCOME_STATUS[record["outcome"]])
        for c in record["criteria"]:
            result.coverage.setdefault(c["id"], set()).add(c["status"])
        for f in record["flags"]:
            result.coverage.setdefault(f"flag:{f['id']}", set()).add(f["status"])

    for rel in suite.get("fixtures") or []:
        file = str(base / rel)
        problems: list[Problem] = []
        try:
            for entity in load_entities(file, problems):
                if entity.expect is None:
                    continue
                label = f"{entity.id} {entity.name or ''}".strip()
                run_one(label, f"{entity.file}:{entity.line}", entity, entity.expect, default_as_of)
        except ProblemsError as error:
            problems.extend(error.problems)
        result.problems.extend(p for p in problems if p.severity == "error")
    for index, case in enumerate(suite.get("cases") or []):
        where = doc.where(("cases", index))
        source = f"{path}:{where[0]}"
        if not isinstance(case, dict) or not isinstance(case.get("entity"), dict) or not isinstance(case.get("expect"), dict):
            result.problems.append(doc.problem("E111", "a case needs entity: {...} and expect: {...}", ("cases", index)))
            continue
        for key in sorted(set(case) - _CASE_KEYS):
            result.problems.append(doc.problem("E110", f"unknown field {key!r} in a case", ("cases", index, key)))
        fields = {k: v for k, v in case["entity"].items() if k not in ("id", "name")}
        ident = str(case["entity"].get("id", f"case{index + 1}"))
        entity = RawEntity(path, where[0], ident, case["entity"].get("name"), fields)
        as_of = iso_date(case.get("as_of")) or default_as_of
        run_one(str(case.get("name") or ident), source, entity, case["expect"], as_of)
    return result


def coverage_gaps(result: SuiteResult) -> dict[str, list[str]]:
    """Criteria (and flags) not seen in every status, with the statuses never seen."""
    gaps = {}
    for ident in result.coverage_ids:
        missing = [s for s in STATUSES if s not in result.coverage.get(ident, set())]
        if missing:
            gaps[ident] = missing
    return gaps


def find_suites(paths: list[str]) -> list[str]:
    files: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            files.extend(str(f) for f in sorted(p.rglob("*.tests.yaml")))
        elif p.exists():
            files.append(str(p))
    return files
