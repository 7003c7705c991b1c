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
