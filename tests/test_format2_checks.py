"""Format 2: W212 (the award table against the stated total, as format 1 checks it) and the
editor schema `certify schema --pack-format 2` (engine/validate/schema/rulepack2.schema.json)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.commands.schema import pack_schema2
from engine.compile.build2 import check_pack2
from engine.load.yamlsafe import load_yaml_file, parse_yaml
from engine.validate.schema_report import schema_problems

ROOT = Path(__file__).resolve().parent.parent
AWARDS = ROOT / "docs" / "examples" / "format2" / "outcomes-awards.yaml"
SCHEMA2 = ROOT / "engine" / "validate" / "schema" / "rulepack2.schema.json"


def _problems(text: str) -> list:
    doc = parse_yaml(text, "awards.yaml")
    return check_pack2(doc, dt.date(2024, 6, 30))


def test_the_award_table_adding_up_to_the_total_has_no_warning():
    text = AWARDS.read_text(encoding="utf-8")
    assert "total: 1500万元" in text  # 600 + 400 (one group) + 500 (the other)
    assert [p.code for p in _problems(text)] == []


def test_w212_when_the_award_table_does_not_add_up_to_the_total():
    text = AWARDS.read_text(encoding="utf-8")
    line = text.splitlines().index("    total: 1500万元") + 1
    problems = _problems(text.replace("total: 1500万元", "total: 0.16亿元"))
    assert [(p.code, p.line, p.severity) for p in problems] == [("W212", line, "warning")]
    # the table is shown in the unit of the stated total: 1,500万元 = 0.15亿元
    assert problems[0].message_zh == "奖励表合计为 0.15亿元，与写明的总额 '0.16亿元' 不符；请核对"


def test_schema_command_for_format_2_is_the_file_editors_read():
    result = CliRunner().invoke(main, ["schema", "--pack-format", "2"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads(SCHEMA2.read_text(encoding="utf-8")) == pack_schema2()
    # format 1 stays the default
    assert json.loads(CliRunner().invoke(main, ["schema"]).output)["properties"]["format"] != {"const": 2}


def _format2_packs() -> list[Path]:
    files = sorted((ROOT / "rules").glob("*.yaml")) + sorted((ROOT / "docs" / "examples" / "format2").glob("*.yaml"))
    out = []
    for f in files:
        if f.name.endswith(".tests.yaml"):
            continue
        doc, _ = load_yaml_file(str(f))
        if doc.value.get("format") == 2:
            out.append(f)
    return out


def test_every_shipped_format_2_pack_is_valid_under_the_editor_schema():
    packs = _format2_packs()
    assert len(packs) > 40
    schema = pack_schema2()
    for f in packs:
        doc, _ = load_yaml_file(str(f))
        assert schema_problems(doc, schema) == [], f


def test_the_editor_schema_flags_a_misspelt_operation_and_two_operations():
    doc, _ = load_yaml_file(str(ROOT / "docs" / "examples" / "format2" / "values-ratio.yaml"))
    schema = pack_schema2()
    (name, spec), = doc.value["values"].items()
    for broken in ({k if k != "ratio" else "ration": v for k, v in spec.items()},
                   {**spec, "sum": ["a", "b"]}):
        bad = copy.deepcopy(doc.value)
        bad["values"][name] = broken
        assert schema_problems(type(doc)(doc.file, bad, doc.positions), schema), broken


@pytest.mark.parametrize("extends,ok", [(True, True), (False, False)])
def test_only_a_variant_may_leave_out_inputs_and_entity(extends, ok):
    pack = {"id": "v", "version": "1.0.0", "title": {"zh": "变体"}}
    if extends:
        pack["extends"] = "base.yaml"
    doc = parse_yaml(json.dumps({"format": 2, "pack": pack}, ensure_ascii=False), "v.yaml")
    assert (schema_problems(doc, pack_schema2()) == []) is ok
