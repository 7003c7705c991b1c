"""Pack test suites for scoring packs: a cohort of entities and what its scoring must give.

A suite for a `kind: scoring` pack holds `cohorts` instead of (or beside) `cases`:

    pack: yangzhou-zone-evaluation.yaml
    as_of: "2024-12-31"
    cohorts:
      - name: 全市集中区(夹具)
        fixtures: [../fixtures/yangzhou-zones.yaml]   # entities, scored together
        entities: [{id: X1, zone_type: ..., ...}]       # and/or inline entities
        expect:
          awards_paid: "3000"                # in the pack's award unit (万元), exact
          cohorts: {key_development: {awards_paid: "2000", ranked: 9}}
          zones:
            K01:
              rank: 2                        # null for an unranked entity
              total: "81"                    # exact decimal text
              points: {scale: "10", tax: "9.7"}
              award: "600"                   # amount, or none / excluded / pending
              vetoes: {no_county_policy: false}        # true | false | unknown
              consequences: {interview: true}
              criteria: pass                 # the pack's ordinary criteria: pass | fail | undetermined
              provisional: false
              unknown_indicators: [scale]

Each zone's expectation is one case; the cohort-level expectation is another. A format-1 suite is
now converted on load and run by engine.commands.packtest like a format-2 one (its cohorts through
engine.commands.suite_cohorts), so nothing calls `run_scoring_suite` any more.
"""

from __future__ import annotations

import datetime as dt
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from engine.core.problems import Problem, ProblemsError
from engine.load.yamlsafe import Document, iso_date
from engine.commands.suite_cohorts import cohort_entities, cohort_usable
from engine.commands.suite_results import CaseResult
from engine.explain.scoring import Scorer, load_scoring_pack, zone_index

_COHORT_KEYS = {"name", "as_of", "fixtures", "entities", "expect"}
_EXPECT_KEYS = {"awards_paid", "cohorts", "zones"}
_ZONE_KEYS = {"rank", "total", "points", "award", "vetoes", "consequences", "criteria", "provisional",
              "unknown_indicators", "last", "why"}
_WORD = {True: "met", False: "not_met", "unknown": "unknown", None: "unknown"}


def _same_number(want: Any, got: Any) -> bool:
    try:
        return Fraction(str(want)) == Fraction(str(got))
    except (ValueError, ZeroDivisionError):
        return False


def compare_zone(zone: dict[str, Any], expect: dict[str, Any]) -> list[str]:
    diffs: list[str] = []
    extra = sorted(set(expect) - _ZONE_KEYS)
    if extra:
        diffs.append(f"unknown expect field(s) {extra}; allowed: {sorted(_ZONE_KEYS)}")
    if "rank" in expect and expect["rank"] != zone["rank"]:
        diffs.append(f"rank: expected {expect['rank']}, got {zone['rank']}")
    if "total" in expect and not _same_number(expect["total"], zone["total"]):
        diffs.append(f"total: expected {expect['total']}, got {zone['total']}")
    for ident, want in (expect.get("points") or {}).items():
        got = zone["points"].get(ident)
        if got is None:
            diffs.append(f"points.{ident}: no such indicator")
        elif not _same_number(want, got):
            diffs.append(f"points.{ident}: expected {want}, got {got}")
    if "award" in expect:
        award = zone["award"]
        want = expect["award"]
        if isinstance(want, str) and want in ("none", "excluded", "pending"):
            if award["status"] != want:
                diffs.append(f"award: expected {want}, got {award['status']} {award.get('amount') or ''}".rstrip())
        elif award.get("amount") is None or not _same_number(want, award["amount"]):
            diffs.append(f"award: expected {want}, got {award.get('amount') or award['status']}")
    for key in ("vetoes", "consequences"):
        statuses = {v["id"]: v["status"] for v in zone[key]}
        for ident, want in (expect.get(key) or {}).items():
            want_status = _WORD.get(want, str(want))
            if statuses.get(ident) != want_status:
                diffs.append(f"{key}.{ident}: expected {want_status}, got {statuses.get(ident, 'no such item')}")
    if "criteria" in expect:
        got = (zone.get("criteria") or {}).get("outcome")
        if got != expect["criteria"]:
            diffs.append(f"criteria: expected {expect['criteria']}, got {got}")
    for key in ("provisional", "last"):
        if key in expect and bool(expect[key]) != bool(zone[key]):
            diffs.append(f"{key}: expected {expect[key]}, got {zone[key]}")
    if "unknown_indicators" in expect and sorted(expect["unknown_indicators"]) != sorted(zone["unknown_indicators"]):
        diffs.append(f"unknown_indicators: expected {sorted(expect['unknown_indicators'])}, "
                     f"got {sorted(zone['unknown_indicators'])}")
    return diffs


def run_scoring_suite(path: str, doc: Document, result: Any, engine: str = "durable") -> None:
    """Fill `result` (a suite_results.SuiteResult) from the suite's cohorts."""
    suite = doc.value
    base = Path(path).parent
    pack_path = str(base / suite["pack"])
    default_as_of = iso_date(suite.get("as_of")) or dt.date.today()
    packs: dict[dt.date, Any] = {}

    def pack_for(as_of: dt.date) -> Any:
        if as_of not in packs:
            packs[as_of] = load_scoring_pack(pack_path, as_of)[0]
        return packs[as_of]

    try:
        sp = pack_for(default_as_of)
    except ProblemsError as error:
        result.problems.extend(error.problems)
        return
    result.pack_id = sp.meta.id
    root = sp.decisions.root
    result.coverage_ids = ([root.id] if sp.has_criteria and root.id else []) + [f"veto:{v.id}" for v in sp.vetoes]
    result.coverage = {ident: set() for ident in result.coverage_ids}
    for index, cohort in enumerate(suite.get("cohorts") or []):
        source = f"{path}:{doc.where(('cohorts', index))[0]}"
        if not cohort_usable(doc, index, _COHORT_KEYS, result.problems):
            continue
        name = str(cohort.get("name") or f"cohort {index + 1}")
        as_of = iso_date(cohort.get("as_of")) or default_as_of
        sp = pack_for(as_of)
        problems: list[Problem] = []
        entities = [(e, f"{e.file}:{e.line}") for e in cohort_entities(path, doc, index, problems)]
        started = time.perf_counter()
        scored = Scorer(sp, engine).score(entities)
        seconds = time.perf_counter() - started  # the cohort is scored at once: its totals case carries the time
        problems.extend(scored.pop("problems"))
        result.problems.extend(p for p in problems if p.severity == "error")
        zones = zone_index(scored)
        for z in zones.values():
            if z.get("criteria") and root.id in result.coverage:
                status = {"pass": "met", "fail": "not_met", "undetermined": "unknown"}[z["criteria"]["outcome"]]
                result.coverage[root.id].add(status)
            for v in z["vetoes"]:
                result.coverage.setdefault(f"veto:{v['id']}", set()).add(v["status"])
        expect = cohort["expect"]
        diffs: list[str] = []
        extra = sorted(set(expect) - _EXPECT_KEYS)
        if extra:
            diffs.append(f"unknown expect field(s) {extra}; allowed: {sorted(_EXPECT_KEYS)}")
        if "awards_paid" in expect and not _same_number(expect["awards_paid"], scored["awards_paid"]):
            diffs.append(f"awards_paid: expected {expect['awards_paid']}, got {scored['awards_paid']}")
        by_cohort = {c["cohort"]: c for c in scored["cohorts"]}
        for cohort_id, want in (expect.get("cohorts") or {}).items():
            got = by_cohort.get(cohort_id)
            if got is None:
                diffs.append(f"cohorts.{cohort_id}: no entity in this cohort")
                continue
            for key, value in want.items():
                if key == "awards_paid" and not _same_number(value, got["awards_paid"]):
                    diffs.append(f"cohorts.{cohort_id}.awards_paid: expected {value}, got {got['awards_paid']}")
                elif key == "ranked" and value != got["ranked"]:
                    diffs.append(f"cohorts.{cohort_id}.ranked: expected {value}, got {got['ranked']}")
                elif key == "order" and value != [z["id"] for z in got["zones"]]:
                    diffs.append(f"cohorts.{cohort_id}.order: expected {value}, got {[z['id'] for z in got['zones']]}")
        result.cases.append(CaseResult(path, f"{name}: cohort totals", source, not diffs, diffs, time=seconds))
        for zone_id, want in (expect.get("zones") or {}).items():
            zone = zones.get(str(zone_id))
            zdiffs = ["no such entity in the cohort"] if zone is None else compare_zone(zone, want or {})
            result.cases.append(CaseResult(path, f"{name}: {zone_id}", source, not zdiffs, zdiffs,
                                           None if zone is None else f"rank {zone['rank']}"))


# ---------------------------------------------------------------------------------------------
# Format 2: a cohort's totals (engine.commands.packtest runs the cohort and checks each entity's
# expectation with compare2)
#
#     cohorts:
#       - name: 全市集中区
#         fixtures: [../fixtures/yangzhou-zones.yaml]
#         entities: [{id: P1, ...}]
#         set: {total_ties: shared}
#         expect:
#           awards_paid: 3000万元            # every award paid (status awarded), in any amount unit
#           groups:                          # per group of the rank (its `within`)
#             key_development: {awards_paid: 2000万元, ranked: 9, order: [K02, K01, ...]}
#           entities:
#             K02: {ranks: {place: 1}, subtotals: {total: 89.8分}, award: {status: excluded}}

