"""The format-2 fact is compiled small (issue 14): tests that read the same name the same way share
one slot (compile.slot_key), and a stage's rules come with the units of fewest rules first (durable
scans its rules from the first for every action). Neither may change what durable decides."""

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


def _pack(monkeypatch: pytest.MonkeyPatch, shared: bool = True, small_first: bool = True):  # noqa: ANN202
    with monkeypatch.context() as m:
        if not shared:
            m.setattr(build2, "slot_key", lambda test: None)
        m.setattr(build2, "SMALL_FIRST", small_first)
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
    assert len(stage.tests) == 20 and len(fields) == 17
    by_input = {t.input: t.field for t in stage.tests}
    assert fields[by_input["lead_output"]] == 3 and fields[by_input["lead_category"]] == 2
    unshared = _pack(monkeypatch, shared=False).stages[0].pack
    assert len({t.field for t in unshared.tests}) == 20


def test_rules_come_small_units_first(monkeypatch: pytest.MonkeyPatch) -> None:
    stage = _pack(monkeypatch).stages[0].pack
    sizes = []
    for name in stage.ruleset:
        what, ident = stage.rule_meta[name][:2]
        if not sizes or sizes[-1][0] != (what, ident):
            sizes.append([(what, ident), 0])
        sizes[-1][1] += 1
    assert [n for _, n in sizes] == sorted(n for _, n in sizes)
    assert sizes[-1][0] == ("node", "county_specialized_town")  # the widest criterion last


def test_shared_slots_and_rule_order_decide_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _towns(300, 7)
    compact = _pack(monkeypatch)
    plain = _pack(monkeypatch, shared=False, small_first=False)
    assert set(compact.stages[0].pack.ruleset) == set(plain.stages[0].pack.ruleset)

    def decided(pack, engine: str) -> list:  # noqa: ANN001
        subjects, problems = subjects_from_dicts(pack, rows)
        assert not problems
        return [[(c.id, c.status, c.branch) for c in r.criteria] + [(n.id, n.status) for n in r.notes]
                for r in Runner(pack, engine).evaluate(subjects)]

    got = decided(compact, "durable")
    assert got == decided(plain, "durable") == decided(compact, "reference")
    assert len({tuple(g) for g in got}) > 20  # many different verdicts were compared
