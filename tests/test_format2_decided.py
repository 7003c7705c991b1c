"""Every yes/no of format 2 is decided by durable-rules, including the conditions inside values:
the `when:` of each case of a `cases` value (a hidden criterion `~when~VALUE~N`, decided in the
phase before the value) and the `where:` of a count / total / share (a ruleset of its own over one
member's fields, one fact per member, posted through the one adapter).

These tests fail if Python decides one of them in the evaluation path: a durable run must not
call the reference evaluator, and a value must follow what durable-rules answered (when the
meaning of durable's rules is turned around, the value turns with it)."""

from __future__ import annotations

import datetime as dt
import random
import textwrap
from fractions import Fraction

import pytest

import engine.evaluate.values as values_module
from engine.compile.build2 import build2
from engine.compile.model2 import WHERE
from engine.core.problems import ProblemsError
from engine.evaluate import reference
from engine.evaluate import run2
from engine.evaluate.run2 import evaluate2, subjects_from_dicts
from engine.load.yamlsafe import load_yaml_file

AS_OF = dt.date(2024, 6, 30)

PACK = """\
format: 2
pack: {id: decided, version: "1.0.0", entity: cluster, title: {zh: 集群评价}}
inputs:
  kind: {type: enum, label: {zh: 类型}, values: {industrial: {zh: 工业}, services: {zh: 服务}}}
  output: {type: money, unit: 万元, label: {zh: 产值}}
  firms:
    type: members
    label: {zh: 企业名单}
    fields:
      revenue: {type: money, unit: 万元, label: {zh: 收入}}
      listed: {type: boolean, label: {zh: 上市}}
parameters:
  big: {value: 500万元, cite: 一, label: {zh: 大企业标准}}
  output_min: {value: 1000万元, cite: 二, label: {zh: 产值标准}}
values:
  big_firms:
    label: {zh: 大企业数}
    unit: 家
    count: {members: firms, where: {any: [{field: revenue, op: ">=", param: big}, {field: listed, op: is_true}]}}
  big_revenue:
    label: {zh: 大企业收入合计}
    unit: 万元
    total: {members: firms, field: revenue, where: {field: revenue, op: ">=", param: big}}
  listed_share:
    label: {zh: 上市企业占比}
    unit: "%"
    share: {members: firms, where: {field: listed, op: is_true}}
  bonus:
    label: {zh: 加分}
    cases:
      - {when: {all: [{value: kind, op: in, values: [industrial]}, {value: output, op: ">=", param: output_min}]}, then: 10分}
      - {when: {value: big_firms, op: ">=", number: 2}, then: 5分}
    otherwise: 0分
criteria:
  passes:
    title: {zh: 加分达标}
    cite: 三
    test: {value: bonus, op: ">=", number: 5}
outcomes:
  decision: passes
"""

ROWS = [
    # industrial, output 1200万元: case 1; firms: 甲 big, 乙 listed, 丙 neither
    {"id": "c1", "kind": "industrial", "output": "1200万元", "firms": [
        {"name": "甲", "revenue": "600万元", "listed": "否"}, {"name": "乙", "revenue": "100万元", "listed": "是"},
        {"name": "丙", "revenue": "499万元", "listed": "否"}]},
    # services: case 2 (two big firms: 甲 500万元 counts, 以上 includes the number)
    {"id": "c2", "kind": "services", "output": "1200万元", "firms": [
        {"name": "甲", "revenue": "500万元", "listed": "否"}, {"name": "乙", "revenue": "100万元", "listed": "是"}]},
    # industrial below the output: case 2 does not hold either (one big firm): otherwise
    {"id": "c3", "kind": "industrial", "output": "999万元", "firms": [
        {"name": "甲", "revenue": "100万元", "listed": "否"}, {"name": "乙", "revenue": "900万元", "listed": "否"}]},
]


def _pack(tmp_path, text=PACK):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    doc, raw = load_yaml_file(str(path))
    return build2(doc, raw, AS_OF)


def _values(records, name):
    return [r.value(name).value for r in records]


def test_values_over_conditions_hand_computed_by_both_engines(tmp_path):
    pack = _pack(tmp_path)
    subjects, problems = subjects_from_dicts(pack, ROWS)
    assert problems == []
    for engine in ("durable", "reference"):
        records = evaluate2(pack, subjects, engine)
        assert _values(records, "big_firms") == [2, 2, 1]
        assert _values(records, "big_revenue") == [Fraction(600 * 10**4), Fraction(500 * 10**4), Fraction(900 * 10**4)]
        assert _values(records, "listed_share") == [Fraction(100, 3), 50, 0]
        assert _values(records, "bonus") == [10, 5, 0]
        assert [r.value("bonus").detail["case"] for r in records] == [1, 2, "otherwise"]
        assert [r.outcome.value for r in records] == ["pass", "pass", "fail"]
        by = "durable-rules" if engine == "durable" else "reference"
        assert records[0].value("bonus").steps[0].zh.endswith(f"{by} 判定成立")
        assert records[2].value("big_firms").detail["decided_by"] == by


def test_hidden_criteria_are_compiled_and_never_shown(tmp_path):
    pack = _pack(tmp_path)
    assert set(pack.hidden) == {"~when~bonus~1", "~when~bonus~2"}
    assert pack.values["bonus"].args.deciders == ("~when~bonus~1", "~when~bonus~2")
    # the second case reads a count: its condition is decided after the count, the value after it
    assert pack.hidden["~when~bonus~2"] > pack.values["big_firms"].phase
    assert pack.values["bonus"].phase > pack.hidden["~when~bonus~2"]
    assert set(pack.member_rules) == {"big_firms", "big_revenue", "listed_share"}
    subjects, _ = subjects_from_dicts(pack, ROWS)
    (record, *_) = evaluate2(pack, subjects)
    assert [c.id for c in record.criteria] == ["passes"]  # no hidden criterion in the record


def test_a_durable_run_never_calls_the_reference_evaluator(tmp_path, monkeypatch):
    pack = _pack(tmp_path)
    subjects, _ = subjects_from_dicts(pack, ROWS)

    def refuse(*_args, **_kw):
        raise AssertionError("Python decided a yes/no in a durable-rules run")

    monkeypatch.setattr(reference, "evaluate", refuse)
    monkeypatch.setattr(reference, "test_status", refuse)
    posted = []
    real = run2.DurableSession.decide

    def spy(self, slots):
        posted.append(slots)
        return real(self, slots)

    monkeypatch.setattr(run2.DurableSession, "decide", spy)
    records = evaluate2(pack, subjects, "durable")
    assert _values(records, "bonus") == [10, 5, 0]
    # one fact per member for each of the three member rulesets (3 + 2 + 2 members), and the stages
    member_facts = 3 * (3 + 2 + 2)
    stage_facts = len(pack.stages) * len(ROWS)
    assert len(posted) == member_facts + stage_facts


def test_values_follow_what_durable_answered(tmp_path):
    """Turn around what durable's rules mean (met ↔ not met) for the member condition of
    big_firms and for the first case of bonus: the values turn with them, so they are read from
    durable-rules, not recomputed in Python."""
    pack = _pack(tmp_path)
    flip = {"met": "not_met", "not_met": "met"}
    member_meta = pack.member_rules["big_firms"].pack.rule_meta
    for name, (what, ident, status, branch) in list(member_meta.items()):
        if ident == WHERE:
            member_meta[name] = (what, ident, flip.get(status, status), branch)
    for stage in pack.stages:
        for name, (what, ident, status, branch) in list(stage.pack.rule_meta.items()):
            if ident == "~when~bonus~1":
                stage.pack.rule_meta[name] = (what, ident, flip.get(status, status), branch)
    subjects, _ = subjects_from_dicts(pack, ROWS)
    records = evaluate2(pack, subjects, "durable")
    assert _values(records, "big_firms") == [1, 0, 1]  # 3 − 2, 2 − 2, 2 − 1
    # c1: case 1 now "does not hold", case 2 (1 big firm) does not: otherwise; c2: case 1 "holds"
    assert _values(records, "bonus") == [0, 10, 10]
    # the reference evaluator, deciding the unchanged compiled form, is not fooled
    assert _values(evaluate2(pack, subjects, "reference"), "bonus") == [10, 5, 0]


def test_no_python_decision_is_left_in_the_value_operations():
    """The comparisons that used to decide conditions in Python are gone from the computes: the
    conditions are only written out for the trace."""
    assert not hasattr(values_module, "decide")
    assert not hasattr(values_module, "_COMPARE")


def test_a_cycle_through_a_case_condition_names_the_value_not_its_hidden_criterion(tmp_path):
    pack_text = PACK.replace("{value: big_firms, op: \">=\", number: 2}", "{value: bonus, op: \">=\", number: 2}")
    with pytest.raises(ProblemsError) as caught:
        _pack(tmp_path, pack_text)
    (problem,) = [p for p in caught.value.problems if p.code == "E180"]
    assert "bonus → bonus" in problem.message and "~" not in problem.message


def _kleene_any(*parts):
    if True in parts:
        return True
    return None if None in parts else False


def test_durable_agrees_with_the_reference_and_a_hand_oracle_on_random_members(tmp_path):
    """200 clusters of 0 to 6 firms with revenue and listed each possibly missing: big_firms counts
    members with revenue ≥ 500万元 or listed (three-valued: a member that cannot be told makes the
    count unknown). Durable-rules, the reference evaluator and this oracle must agree."""
    rng = random.Random(20261203)
    pack = _pack(tmp_path)
    rows, want = [], []
    for i in range(200):
        firms, verdicts = [], []
        for j in range(rng.randint(0, 6)):
            revenue = rng.choice([None, 0, 499, 500, 501, 10**6])
            listed = rng.choice([None, True, False])
            firm = {"name": f"f{j}"}
            if revenue is not None:
                firm["revenue"] = f"{revenue}万元"
            if listed is not None:
                firm["listed"] = "是" if listed else "否"
            firms.append(firm)
            verdicts.append(_kleene_any(None if revenue is None else revenue >= 500, listed))
        rows.append({"id": f"c{i}", "kind": "services", "output": "1万元", "firms": firms})
        want.append(None if None in verdicts else sum(1 for v in verdicts if v))
    subjects, problems = subjects_from_dicts(pack, rows)
    assert problems == []
    durable = evaluate2(pack, subjects, "durable")
    got = [r.value("big_firms").value for r in durable]
    assert got == want
    assert got == [r.value("big_firms").value for r in evaluate2(pack, subjects, "reference")]
    assert {None, 0}.issubset(set(got)) and max(v for v in got if v is not None) >= 3  # the data reach every kind


RANK_PACK = """\
format: 2
pack: {id: last-place, version: "1.0.0", entity: zone, title: {zh: 园区排名}}
inputs:
  zone_type: {type: enum, label: {zh: 类型}, values: {k: {zh: 重点}, g: {zh: 一般}}}
  score: {type: count, unit: 个, label: {zh: 得分}}
  incident: {type: boolean, label: {zh: 较大事故}}
values:
  place:
    label: {zh: 名次}
    unit: 名
    rank: {of: score, within: zone_type, order: higher_first, ties: shared, last: vetoed}
  place_is_last:
    label: {zh: 列最后一名}
    placed_last: place
criteria:
  vetoed: {title: {zh: 发生较大事故列为最后一名}, test: {value: incident, op: is_true}}
  not_last: {title: {zh: 未列最后一名}, test: {value: place_is_last, op: is_false}}
outcomes:
  decision: not_last
"""

RANK_ROWS = [
    {"id": "a", "zone_type": "k", "score": 9, "incident": "否"},   # 1st of k
    {"id": "b", "zone_type": "k", "score": 5, "incident": "否"},   # 2nd, tied with c: both last (shared 1, 2, 2)
    {"id": "c", "zone_type": "k", "score": 5, "incident": "否"},
    {"id": "d", "zone_type": "g", "score": 9, "incident": "是"},   # forced last of g (a veto), above e by score
    {"id": "e", "zone_type": "g", "score": 1, "incident": "否"},
    {"id": "f", "zone_type": "g", "incident": "否"},               # no score: not ranked, not known
]


def test_placed_last_is_decided_by_durable(tmp_path):
    pack = _pack(tmp_path, RANK_PACK)
    assert set(pack.last_rules) == {"place_is_last"}
    subjects, problems = subjects_from_dicts(pack, RANK_ROWS)
    assert problems == []
    for engine in ("durable", "reference"):
        records = evaluate2(pack, subjects, engine)
        assert _values(records, "place") == [1, 2, 2, 2, 1, None]
        assert _values(records, "place_is_last") == [False, True, True, True, False, None]
        assert [r.outcome.value for r in records] == ["pass", "fail", "fail", "fail", "pass", "undetermined"]
        by = "durable-rules" if engine == "durable" else "reference"
        assert records[1].value("place_is_last").steps[0].zh == f"第 2 名（共 3 个）：是最后一名（由 {by} 判定）"
    # turn around what durable's rule means: the value follows durable, the reference is not fooled
    lpack = pack.last_rules["place_is_last"]
    flip = {"met": "not_met", "not_met": "met"}
    for name, (what, ident, status, branch) in list(lpack.rule_meta.items()):
        lpack.rule_meta[name] = (what, ident, flip.get(status, status), branch)
    assert _values(evaluate2(pack, subjects, "durable"), "place_is_last") == [True, False, False, False, True, None]
    assert _values(evaluate2(pack, subjects, "reference"), "place_is_last") == [False, True, True, True, False, None]
