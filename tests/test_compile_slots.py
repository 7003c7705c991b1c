"""The format-2 fact is compiled small and cheap for durable-rules (issue 14): tests that read the
same name the same way share one slot (compile.slot_key); one-test criteria that always apply are
merged, one rule per combination of their statuses (compile._combined: durable fires one rule
where it fired several); and a stage's rules come with the units of fewest rules first (durable
scans its rules from the first for every action). None of it may change what durable decides."""

from __future__ import annotations

import datetime as dt
import random
import sys
from collections import Counter
from pathlib import Path

import pytest

from engine.compile import build2
from engine.evaluate.pipeline import load_pack2
from engine.evaluate.run2 import Runner, subjects_from_dicts

ROOT = Path(__file__).resolve().parent.parent
HUGUAN = ROOT / "rules" / "huguan-specialized-town.yaml"
AS_OF = dt.date(2024, 6, 30)


def _pack(monkeypatch: pytest.MonkeyPatch, shared: bool = True, small_first: bool = True, combine: int = 27):  # noqa: ANN202
    with monkeypatch.context() as m:
        if not shared:
            m.setattr(build2, "slot_key", lambda test: None)
        m.setattr(build2, "SMALL_FIRST", small_first)
        m.setattr(build2, "COMBINE", combine)
        return load_pack2(str(HUGUAN), AS_OF)


def _towns(n: int, seed: int) -> list[dict[str, str]]:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench import CATEGORIES, COLUMNS

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        row = {"id": f"T{i}"}
        for column in COLUMNS[2:19]:
            if rng.random() < 0.1:
                continue  # missing
            if column == "lead_category":
                row[column] = rng.choice(CATEGORIES)
            elif column == "lead_output":
                row[column] = f"{rng.choice([3000, 5000, 6000, 20000, 30000, 100000, 120000])}万元"
            elif column in ("leading_firms", "supporting_firms"):
                row[column] = str(rng.choice([0, 1, 2, 9, 10, 12]))
            else:
                row[column] = rng.choice(["是", "否"])
        rows.append(row)
    return rows


def test_tests_of_one_name_share_a_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    stage = _pack(monkeypatch).stages[0].pack
    fields = Counter(t.field for t in stage.tests)
    # lead_output is compared with three whole thresholds (>=): one slot; lead_category twice: one
    assert len(fields) == len(stage.tests) - 3
    by_input = {t.input: t.field for t in stage.tests}
    assert fields[by_input["lead_output"]] == 3 and fields[by_input["lead_category"]] == 2
    unshared = _pack(monkeypatch, shared=False).stages[0].pack
    assert len({t.field for t in unshared.tests}) == len(unshared.tests) == len(stage.tests)


def _units(stage) -> list[tuple[frozenset, int]]:  # noqa: ANN001
    """The ruleset's units in order: (the criteria a rule speaks for, how many rules in a row)."""
    out: list[list] = []
    for name in stage.ruleset:
        who = frozenset(stage.rule_meta[part][1] for part in name.split("|"))
        if not out or out[-1][0] != who:
            out.append([who, 0])
        out[-1][1] += 1
    return [(who, n) for who, n in out]


def test_rules_come_small_units_first(monkeypatch: pytest.MonkeyPatch) -> None:
    units = _units(_pack(monkeypatch).stages[0].pack)
    assert [n for _, n in units] == sorted(n for _, n in units)
    assert units[-1][0] == {"county_specialized_town"}  # the widest criterion last


def test_one_test_criteria_are_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    stage = _pack(monkeypatch).stages[0].pack
    merged = [who for who, _ in _units(stage) if len(who) > 1]
    assert {"heritage_criterion", "employment", "market"} & set().union(*merged)
    assert all(len(who) <= 3 for who in merged)  # 3 × 3 × 3 = 27 rules at most
    # never a criterion inside a case (it may not apply), nor a composite
    assert not {"output_manufacturing", "output_light_agri", "county_specialized_town", "concentration"} & set().union(*merged)
    # every rule a merged one stands for is still named, with what it says, for the readers
    parts = {part for name in stage.ruleset for part in name.split("|")}
    assert parts <= set(stage.rule_meta) and len(parts) > len(stage.ruleset) - sum(n for who, n in _units(stage) if len(who) > 1)
    plain = _pack(monkeypatch, combine=1).stages[0].pack
    assert set(plain.ruleset) == parts and plain.rule_meta == stage.rule_meta
    assert plain.rule_stats == stage.rule_stats  # what the pack's limits count does not change


def test_the_compact_forms_decide_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _towns(300, 7)
    compact = _pack(monkeypatch)
    plain = _pack(monkeypatch, shared=False, small_first=False, combine=1)

    def decided(pack, engine: str) -> list:  # noqa: ANN001
        subjects, problems = subjects_from_dicts(pack, rows)
        assert not problems
        return [[(c.id, c.status, c.branch) for c in r.criteria] + [(n.id, n.status) for n in r.notes]
                for r in Runner(pack, engine).evaluate(subjects)]

    got = decided(compact, "durable")
    assert got == decided(plain, "durable") == decided(compact, "reference")
    assert len({tuple(g) for g in got}) > 20  # many different verdicts were compared
    # durable fired fewer rules for the same statuses: one per merge
    session = Runner(compact, "durable")._sessions[id(compact.stages[0])]
    subjects, _ = subjects_from_dicts(compact, rows[:1])
    from engine.evaluate.facts import fact_slots
    from engine.evaluate.run2 import _Env

    slots = fact_slots(compact.stages[0].pack, _Env(compact, subjects[0]).slots)
    assert len(session._decide(slots)) < len(session.decide(slots))


def test_flipping_a_merged_rule_part_flips_the_status(monkeypatch: pytest.MonkeyPatch) -> None:
    """The statuses are read from the rules durable fired, merged or not: what a merged rule's
    part says, the record says."""
    pack = _pack(monkeypatch)
    stage = pack.stages[0].pack
    assert any("node.market." in name and "|" in name for name in stage.ruleset)
    flip = {"met": "not_met", "not_met": "met"}
    for name, (what, ident, status, branch) in list(stage.rule_meta.items()):
        if ident == "market":
            stage.rule_meta[name] = (what, ident, flip.get(status, status), branch)
    subjects, _ = subjects_from_dicts(pack, [{"id": "a", "market_demand": "是"}, {"id": "b", "market_demand": "否"}])
    got = [{c.id: c.status.value for c in r.criteria}["market"] for r in Runner(pack, "durable").evaluate(subjects)]
    assert got == ["not_met", "met"]
