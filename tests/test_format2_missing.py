"""Format 2 records: `missing_inputs` lists only the absent inputs that a criterion which applies
needs (or a value no criterion reads, such as a score), and each unknown criterion's `missing`
names them, through the values it reads (K2: a crop farm is not told its pig count is missing)."""

from __future__ import annotations

import datetime as dt
import textwrap

from engine.compile.build2 import build2
from engine.core.status import Status
from engine.evaluate.run2 import evaluate2, subjects_from_dicts
from engine.load.yamlsafe import load_yaml_file

AS_OF = dt.date(2024, 6, 30)

PACK = """\
format: 2
pack: {id: farms, version: "1.0.0", entity: farm, title: {zh: 家庭农场}}
inputs:
  farm_type: {type: enum, label: {zh: 类型}, values: {crops: {zh: 种植}, livestock: {zh: 养殖}}}
  area: {type: area, unit: 亩, label: {zh: 面积}}
  pigs: {type: count, unit: 头, label: {zh: 生猪出栏}}
  revenue: {type: money, unit: 万元, label: {zh: 收入}}
  cost: {type: money, unit: 万元, label: {zh: 成本}}
  awards: {type: count, unit: 项, label: {zh: 获奖项数}}
parameters:
  area_min: {value: 10亩, cite: 一, label: {zh: 面积下限}}
  pigs_min: {value: 200头, cite: 二, label: {zh: 生猪下限}}
values:
  margin:
    label: {zh: 收支差}
    unit: 万元
    difference: {of: revenue, minus: cost}
  bonus:
    label: {zh: 加分}
    per_unit: {of: awards, per: 1项, points: 2, steps: whole}
criteria:
  crops_ok:
    title: {zh: 种植规模}
    cite: 一
    applies_when: {value: farm_type, op: in, values: [crops]}
    not_applicable: {zh: 非种植类}
    test: {value: area, op: ">=", param: area_min}
  livestock_ok:
    title: {zh: 养殖规模}
    cite: 二
    applies_when: {value: farm_type, op: in, values: [livestock]}
    not_applicable: {zh: 非养殖类}
    test: {value: pigs, op: ">=", param: pigs_min}
  margin_ok:
    title: {zh: 不亏损}
    cite: 三
    test: {value: margin, op: ">=", number: 0万元}
  entry:
    title: {zh: 入库}
    cite: 四
    all: [{criterion: crops_ok}, {criterion: livestock_ok}, {criterion: margin_ok}]
outcomes:
  decision: entry
"""


def _records(tmp_path, rows):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(PACK), encoding="utf-8")
    doc, raw = load_yaml_file(str(path))
    pack = build2(doc, raw, AS_OF)
    subjects, problems = subjects_from_dicts(pack, rows)
    assert problems == []
    durable = evaluate2(pack, subjects)
    assert [r.missing_inputs for r in durable] == [r.missing_inputs for r in evaluate2(pack, subjects, "reference")]
    return {r.entity_id: r for r in durable}


def test_missing_inputs_are_those_an_applicable_criterion_needs(tmp_path):
    got = _records(tmp_path, [
        {"id": "crop", "farm_type": "crops", "area": "12亩", "cost": "3万元", "awards": "1项"},
        {"id": "pig", "farm_type": "livestock", "revenue": "9万元", "cost": "3万元", "awards": "0项"},
        {"id": "none", "area": "12亩", "revenue": "9万元", "cost": "3万元"},
    ])
    crop, pig, none = got["crop"], got["pig"], got["none"]
    # a crop farm: no pig count asked; revenue is missing through the value margin
    assert crop.missing_inputs == ("revenue",)
    assert crop.criterion("livestock_ok").status is Status.NOT_APPLICABLE
    assert crop.criterion("margin_ok").status is Status.UNKNOWN and crop.criterion("margin_ok").missing == ("revenue",)
    assert crop.criterion("entry").missing == ("revenue",)
    in_json = {c["id"]: c.get("missing") for c in crop.as_dict()["criteria"]}
    assert in_json["margin_ok"] == ["revenue"] and in_json["crops_ok"] is None
    assert crop.as_dict()["missing_inputs"] == ["revenue"]
    # a pig farm without its count: pigs, not area
    assert pig.missing_inputs == ("pigs",) and pig.criterion("livestock_ok").missing == ("pigs",)
    # type unknown: whether either applies is unknown, so the type and what either would need;
    # the score (read by no criterion) reports its own missing input
    assert none.missing_inputs == ("awards", "farm_type", "pigs")
    assert none.criterion("crops_ok").missing == ("farm_type",)
    assert none.criterion("livestock_ok").missing == ("farm_type", "pigs")
    # met and not met criteria name nothing
    assert crop.criterion("crops_ok").status is Status.MET and crop.criterion("crops_ok").missing == ()
