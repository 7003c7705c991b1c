"""Format-2 packs with amounts the engine cannot read get a problem at their line, never a traceback.
(Found with 200头, before 头/只/羽 were count units; 吨 is a weight, which the engine does not measure.)"""

from __future__ import annotations

import textwrap

from click.testing import CliRunner

from cli import main

PACK = """\
format: 2
pack: {id: farm, version: "1.0.0", entity: farm, title: {zh: 家庭农场}}
inputs:
  pigs: {type: count, unit: 家, label: {zh: 生猪存栏}}
parameters:
  pigs_min: {value: 200吨, cite: 三(二), label: {zh: 生猪存栏下限}}
  pigs_mixed: {scaled: {of: pigs_min, by: 70%}, cite: 三(四), label: {zh: 种养结合类下限}}
criteria:
  enough: {test: {value: pigs, op: ">=", param: pigs_min}}
outcomes: {decision: enough}
"""


def test_an_unknown_unit_in_a_parameter_is_e123_at_its_line(tmp_path):
    path = tmp_path / "farm.yaml"
    path.write_text(textwrap.dedent(PACK), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert f"{path}:6:" in result.output and "E123" in result.output and "吨" in result.output
    assert "Traceback" not in result.output


UNIT_PACK = """\
format: 2
pack: {id: safety, version: "1.0.0", entity: firm, title: {zh: 安全生产}}
inputs:
  accidents: {type: count, unit: 起, label: {zh: 事故数}}
  output: {type: count, unit: 万元, label: {zh: 产值}}
  firms:
    type: members
    label: {zh: 企业}
    fields:
      incidents: {type: count, unit: 起, label: {zh: 事故}}
      intensity: {type: money, unit: 万元/亩, label: {zh: 亩均投资}}
criteria:
  safe: {test: {value: accidents, op: "<=", number: 0}}
outcomes: {decision: safe}
"""


def test_an_unknown_unit_of_an_input_or_member_field_is_refused_at_its_line(tmp_path):
    """起 is not a unit the engine knows: every figure of the column would be unreadable. Refused
    where it is written, with the Chinese message (format 1 did; format 2 let it pass)."""
    path = tmp_path / "safety.yaml"
    path.write_text(UNIT_PACK, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.startswith(str(path))]
    assert len(lines) == 3, result.output
    assert lines[0].startswith(f"{path}:4:28: E112") and "accidents 的单位 '起' 无法识别" in lines[0]
    assert lines[1].startswith(f"{path}:5:25: E122") and "output 的类型是数量，但单位 '万元' 计量的是金额" in lines[1]
    assert lines[2].startswith(f"{path}:10:32: E112") and "firms.incidents 的单位 '起'" in lines[2]
