"""Format 2, points over conditions: `cases` over points values (E184 before: a points value read
before it was parsed measured nothing), and `map.highest[].when` / `rank_points.exclude` written
inline. An inline condition is a criterion of its own (`VALUE_when_N`, `VALUE_exclude`), decided by
durable-rules in the phase before the points, with the same checks as any criterion's."""

from __future__ import annotations

import datetime as dt
import textwrap
from fractions import Fraction

import pytest

from engine.compile.build2 import build2, check_pack2
from engine.core.problems import ProblemsError
from engine.core.status import Status
from engine.evaluate.run2 import evaluate2, subjects_from_dicts
from engine.load.yamlsafe import load_yaml_file

AS_OF = dt.date(2024, 6, 30)

PACK = """\
format: 2
pack: {id: inline-points, version: "1.0.0", entity: zone, title: {zh: 园区评价}}
inputs:
  zone_type: {type: enum, label: {zh: 类型}, values: {park: {zh: 园区}, town: {zh: 乡镇}}}
  level: {type: enum, label: {zh: 认定级别}, values: {national: {zh: 国家级}, provincial: {zh: 省级}, none: {zh: 无}}}
  output: {type: money, unit: 万元, label: {zh: 产值}}
  bonded: {type: boolean, label: {zh: 综合保税区}}
  staff: {type: count, unit: 人, label: {zh: 人数}}
parameters:
  staff_min: {value: 50人, cite: 二, label: {zh: 人数下限}}
values:
  level_points:
    label: {zh: 认定级别得分}
    cite: 三
    map:
      highest:
        - {when: {value: level, op: in, values: [national]}, points: 30}
        - {when: {all: [{value: level, op: in, values: [provincial]}, {value: staff, op: ">=", param: staff_min}]}, points: 20}
      otherwise: 0
  output_points:
    label: {zh: 产值排名得分}
    cite: 四
    rank_points: {of: output, order: higher_first, full: 10, step: 2, floor: 0, ties: shared,
                  exclude: {value: bonded, op: is_true}, excluded_points: 5}
  by_type:
    label: {zh: 按类型计分}
    cite: 五
    cases:
      - {when: {value: zone_type, op: in, values: [park]}, then: level_points}
      - {when: {value: zone_type, op: in, values: [town]}, then: 8分}
    otherwise: output_points
criteria:
  enough:
    title: {zh: 得分达标}
    cite: 六
    test: {value: by_type, op: ">=", number: 20}
outcomes:
  decision: enough
"""


def _pack(tmp_path, text=PACK):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    doc, raw = load_yaml_file(str(path))
    return doc, build2(doc, raw, AS_OF)


ROWS = [
    {"id": "z1", "zone_type": "park", "level": "national", "output": "900万元", "bonded": "否", "staff": "10人"},
    {"id": "z2", "zone_type": "park", "level": "provincial", "output": "800万元", "bonded": "是", "staff": "50人"},
    {"id": "z3", "zone_type": "park", "level": "provincial", "output": "700万元", "bonded": "否", "staff": "49人"},
    {"id": "z4", "zone_type": "park", "level": "provincial", "output": "600万元", "staff": "60人"},
    {"id": "z5", "zone_type": "park", "level": "provincial", "output": "500万元", "bonded": "否"},
    {"id": "z6", "zone_type": "town", "level": "none", "output": "400万元", "bonded": "否", "staff": "5人"},
]


def test_inline_conditions_are_criteria_decided_by_durable(tmp_path):
    doc, pack = _pack(tmp_path)
    assert check_pack2(doc, AS_OF) == []
    assert {"level_points_when_1", "level_points_when_2", "output_points_exclude"} <= set(pack.criteria)
    # the conditions come before the points that read them
    assert pack.criteria["level_points_when_2"] < pack.values["level_points"].phase
    assert pack.criteria["output_points_exclude"] < pack.values["output_points"].phase
    assert pack.values["by_type"].unit is not None and pack.values["by_type"].unit.name == "分"
    subjects, problems = subjects_from_dicts(pack, ROWS)
    assert problems == []
    durable = evaluate2(pack, subjects, "durable")
    reference = evaluate2(pack, subjects, "reference")
    key = lambda r: (r.outcome, [(c.id, c.status, c.branch) for c in r.criteria], [(v.name, v.value) for v in r.values])  # noqa: E731
    assert [key(r) for r in durable] == [key(r) for r in reference]
    got = {r.entity_id: r for r in durable}
    # highest: national 30; provincial with >= 50 staff 20 (50 included); 49 staff 0 (otherwise)
    assert got["z1"].value("level_points").value == 30
    assert got["z2"].value("level_points").value == 20
    assert got["z3"].value("level_points").value == 0
    assert got["z2"].criterion("level_points_when_2").status is Status.MET
    assert got["z2"].criterion("level_points_when_2").decided_by == "durable-rules"
    assert got["z3"].criterion("level_points_when_2").status is Status.NOT_MET
    # z5: staff unknown, so item 2 is undecided and the points are unknown (never 0)
    assert got["z5"].criterion("level_points_when_2").status is Status.UNKNOWN
    assert got["z5"].value("level_points").value is None
    # rank_points: z2 bonded, excluded with 5 points; z4's bonded unknown leaves its points unknown
    assert got["z2"].value("output_points").value == 5
    assert got["z2"].criterion("output_points_exclude").status is Status.MET
    assert got["z4"].criterion("output_points_exclude").status is Status.UNKNOWN
    assert got["z4"].value("output_points").value is None
    # cases over points: a park takes its level points, a town 8分
    assert got["z1"].value("by_type").value == 30 and got["z6"].value("by_type").value == 8
    assert [got[z].outcome.value for z in ("z1", "z2", "z3", "z6")] == ["pass", "pass", "fail", "fail"]


@pytest.mark.parametrize("edit, code", [
    (('{value: staff, op: ">=", param: staff_min}', '{value: staf, op: ">=", param: staff_min}'), "E182"),
    (("exclude: {value: bonded, op: is_true}", "exclude: {value: output, op: is_true}"), "E183"),
    (("param: staff_min}]}", "param: staff_mim}]}"), "E182"),
])
def test_inline_conditions_are_checked_at_their_line(tmp_path, edit, code):
    text = textwrap.dedent(PACK)
    old, new = edit
    assert old in text
    text = text.replace(old, new)
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    doc, raw = load_yaml_file(str(path))
    problems = [p for p in check_pack2(doc, AS_OF) if p.severity == "error"]
    line = next(i for i, l in enumerate(text.splitlines(), start=1) if new in l)
    assert [(p.code, p.line) for p in problems] == [(code, line)], [p.format() for p in problems]
    with pytest.raises(ProblemsError):
        build2(doc, raw, AS_OF)


def test_cases_mixing_points_and_money_is_still_e184(tmp_path):
    text = textwrap.dedent(PACK).replace("then: 8分}", "then: 8万元}")
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    doc, _ = load_yaml_file(str(path))
    assert [p.code for p in check_pack2(doc, AS_OF) if p.severity == "error"] == ["E184"]


CHOICE_PACK = """\
format: 2
pack: {id: excluded-choice, version: "1.0.0", entity: zone, title: {zh: 测试}}
inputs:
  output: {type: money, unit: 万元, label: {zh: 产值}}
  bonded: {type: boolean, label: {zh: 综合保税区}}
choices:
  bonded_points:
    label: {zh: 综合保税区得分}
    cite: 五
    options:
      full: {zh: 给满分}
      none: {zh: 不得分, points: 0}
      half: {zh: 得一半, points: 5分}
      part: {zh: 得1.5分, points: 1.5}
    default: half
    reason: 原文未说明综合保税区得几分
values:
  output_points:
    label: {zh: 产值排名得分}
    rank_points: {of: output, order: higher_first, full: 10, step: 2, floor: 0, ties: shared,
                  exclude: {value: bonded, op: is_true}, excluded_points: {choice: bonded_points}}
criteria:
  ok: {title: {zh: 达标}, cite: 一, test: {value: output_points, op: ">=", number: 6}}
outcomes: {decision: ok}
"""


@pytest.mark.parametrize("option,points", [(None, 5), ("none", 0), ("full", 10), ("part", Fraction(3, 2))])
def test_excluded_points_by_a_choice_whose_options_state_their_points(tmp_path, option, points):
    path = tmp_path / "p.yaml"
    path.write_text(CHOICE_PACK, encoding="utf-8")
    doc, raw = load_yaml_file(str(path))
    pack = build2(doc, raw, AS_OF, {"bonded_points": ("--set", option)} if option else None)
    rows = [{"id": "a", "output": "900万元", "bonded": "否"}, {"id": "z", "output": "5000万元", "bonded": "是"},
            {"id": "b", "output": "800万元", "bonded": "否"}]
    subjects, _ = subjects_from_dicts(pack, rows)
    for engine in ("durable", "reference"):
        records = evaluate2(pack, subjects, engine)
        # z takes no place: a is 1st (10), b 2nd (8); z gets the option's points
        assert [r.value("output_points").value for r in records] == [10, points, 8]


def test_an_option_without_points_is_e199_where_the_choice_is_read_as_points(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(CHOICE_PACK.replace("none: {zh: 不得分, points: 0}", "none: {zh: 不得分}"), encoding="utf-8")
    doc, _ = load_yaml_file(str(path))
    problems = check_pack2(doc, AS_OF)
    assert [(p.code, p.line) for p in problems] == [("E199", 21)]  # where excluded_points reads the choice
    assert "none" in problems[0].message_zh and "points" in problems[0].message_zh
