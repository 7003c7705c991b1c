"""`certify lint`: what compiles but is probably wrong, each finding with its code and line."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.commands.lint import NOTE, Band, bands_from_yaml, check_bands, lint_document, lint_file
from engine.core.problems import CODES
from engine.load.yamlsafe import parse_yaml

from conftest import HUGUAN_PACK, ROOT

PACK = """\
format: 1
pack:
  id: lint-test
  version: "1.0.0"
  kind: eligibility
  entity: firm
  title: {{zh: 测试, en: test}}
  source: {{title: 测试用政策文件, number: 测试〔2024〕1号, date: "2024-01-01", seed: policy.txt}}
inputs:
  category:
    type: enum
    label: {{zh: 类别, en: category}}
    values:
      manufacturing: {{zh: 制造业, en: manufacturing}}
      agriculture: {{zh: 农业, en: agriculture}}
      services: {{zh: 服务业, en: services}}
  output:
    type: money
    unit: 万元
    label: {{zh: 年产值, en: output}}
  exporter:
    type: boolean
    label: {{zh: 出口企业, en: exporter}}
parameters:
  low:
    value: 5亿元
    cite: 五(一)
    quote: 年产值5亿元以上
    label: {{zh: 低, en: low}}
  high:
    value: 10亿元
    cite: 五(二)
    label: {{zh: 高, en: high}}
{extra_params}
criteria:
  id: root
  title: {{zh: 根, en: root}}
  cite: 五
  cases:
{cases}
  otherwise: not_met
flags:
  - {{id: large, cite: 五(二), title: {{zh: 优先, en: first}}, when: {{input: output, op: ">=", param: high}}}}
"""

POLICY = """\
测试用政策文件
一、总体要求
(一)指导思想。略。
五、认定标准
(一)制造业企业年产值5亿元以上。
(二)年产值10亿元以上的企业优先。
六、附则
"""


def case(i: int, when: str) -> str:
    return (f"    - when: {when}\n"
            f"      then: {{id: c{i}, cite: 五(一), title: {{zh: 情形{i}, en: case {i}}}, "
            f"test: {{input: output, op: \">=\", param: low}}}}\n")


def write(tmp_path: Path, whens: list[str], extra_params: str = "", policy: str | None = POLICY,
          replace: tuple[str, str] | None = None) -> Path:
    text = PACK.format(cases="".join(case(i + 1, w) for i, w in enumerate(whens)), extra_params=extra_params)
    if replace:
        assert replace[0] in text
        text = text.replace(*replace, 1)
    (tmp_path / "rules").mkdir(parents=True, exist_ok=True)
    pack = tmp_path / "rules" / "pack.yaml"
    pack.write_text(text, encoding="utf-8")
    if policy is not None:
        (tmp_path / "shared" / "seeds").mkdir(parents=True, exist_ok=True)
        (tmp_path / "shared" / "seeds" / "policy.txt").write_text(policy, encoding="utf-8")
    return pack


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    hits = [i + 1 for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()) if needle in line]
    return hits[nth - 1]


def codes(problems) -> list[tuple[str, int]]:
    return [(p.code, p.line) for p in problems]


SEED_TEXT = ROOT.parent / "shared" / "seeds" / "004_3906f5c9db5bee8f.txt"


def test_the_shipped_pack_lints_clean():
    problems = lint_file(str(HUGUAN_PACK))
    if not SEED_TEXT.exists():
        # A clone without shared/ beside it: citations cannot be checked, and lint says so.
        assert [p.code for p in problems] == ["W209"]
        return
    assert problems == []


def test_codes_are_registered():
    for code in ("W203", "W204", "W205", "W206", "W207", "W208", "W209"):
        assert code in CODES


# -- shadowed cases -----------------------------------------------------------------------------

ENUM = "{{input: category, op: {op}, values: [{values}]}}"


def enum(op: str, *values: str) -> str:
    return ENUM.format(op=op, values=", ".join(values)).replace("{{", "{").replace("}}", "}")


@pytest.mark.parametrize(("whens", "shadowed"), [
    # a later `in` inside an earlier `in`
    ([enum("in", "manufacturing", "agriculture"), enum("in", "agriculture")], [2]),
    # disjoint: both reachable
    ([enum("in", "manufacturing"), enum("in", "agriculture")], []),
    # not_in covers everything else
    ([enum("not_in", "services"), enum("in", "agriculture")], [2]),
    ([enum("not_in", "services"), enum("in", "services")], []),
    # covered by the union of two earlier cases, not by either alone
    ([enum("in", "manufacturing"), enum("in", "agriculture"), enum("in", "manufacturing", "agriculture")], [3]),
    # a condition that never holds at all
    (["{all: [" + enum("in", "manufacturing") + ", " + enum("in", "agriculture") + "]}"], [1]),
    # boolean combinations
    (["{any: [" + enum("in", "manufacturing") + ", {input: exporter, op: is_true}]}",
      "{all: [" + enum("in", "manufacturing") + ", {input: exporter, op: is_false}]}"], [2]),
    (["{any: [" + enum("in", "manufacturing") + ", {input: exporter, op: is_true}]}",
      "{all: [" + enum("in", "agriculture") + ", {input: exporter, op: is_false}]}"], []),
    (["{not: " + enum("in", "services") + "}", enum("in", "manufacturing")], [2]),
    # numbers against fixed thresholds
    (['{input: output, op: ">=", param: low}', '{input: output, op: ">=", param: high}'], [2]),
    (['{input: output, op: ">=", param: high}', '{input: output, op: ">=", param: low}'], []),
    (['{input: output, op: "<", param: low}', '{input: output, op: ">=", param: low}'], []),
    (['{input: output, op: "<=", param: low}', '{input: output, op: "<", param: low}'], [2]),
])
def test_shadowed_cases(tmp_path, whens, shadowed):
    pack = write(tmp_path, whens)
    problems = [p for p in lint_file(str(pack)) if p.code == "W204"]
    assert [(p.line) for p in problems] == [line_of(pack, "- when:", j) for j in shadowed]
    for p in problems:
        assert p.severity == "warning"
        assert "can never apply" in p.message and "criterion 'c" in p.message
    if shadowed == [3]:
        assert "earlier case 1, 2 already applies" in problems[0].message


def test_undecidable_cases_say_so(tmp_path):
    unset = "  undecided:\n    unset: 政策未给出数值\n    cite: 五(二)\n    label: {zh: 未定, en: unset}\n"
    pack = write(tmp_path, [enum("in", "manufacturing"), '{input: output, op: ">=", param: undecided}'],
                 extra_params=unset)
    notes = [p for p in lint_file(str(pack)) if p.code == "W205"]
    (note,) = notes
    assert note.severity == NOTE
    assert note.line == line_of(pack, "- when:", 2)
    assert "cannot decide whether case 2 of 'root' can apply: parameter 'undecided' has no value" in note.message
    dated = ('  later:\n    values: [{since: "2024-01-01", value: 1亿元}]\n    cite: 五(二)\n'
             '    label: {zh: 日期, en: dated}\n')
    pack = write(tmp_path, ['{input: output, op: ">=", param: later}', enum("in", "agriculture")],
                 extra_params=dated)
    (note,) = [p for p in lint_file(str(pack)) if p.code == "W205"]
    assert "earlier case(s) 1 cannot be checked (parameter 'later' has dated values)" in note.message


# -- citations ----------------------------------------------------------------------------------


def test_citations_found_in_the_source_text(tmp_path):
    pack = write(tmp_path, [enum("in", "manufacturing")])
    assert codes(lint_file(str(pack))) == []


def test_citation_to_a_missing_clause_or_section(tmp_path):
    pack = write(tmp_path, [enum("in", "manufacturing")], replace=("cite: 五(二)", "cite: 五(九)"))
    (problem,) = [p for p in lint_file(str(pack)) if p.code == "W203"]
    assert problem.line == line_of(pack, "cite: 五(九)")
    assert "clause (九) not found in section 五、 of policy.txt (clauses there: (一)(二))" in problem.message
    pack = write(tmp_path, [enum("in", "manufacturing")], replace=("cite: 五(二)", "cite: 七(二)"))
    (problem,) = [p for p in lint_file(str(pack)) if p.code == "W203"]
    assert "section 七、 not found in policy.txt (sections: 一、, 五、, 六、)" in problem.message


def test_a_quote_not_in_its_clause(tmp_path):
    pack = write(tmp_path, [enum("in", "manufacturing")], replace=("quote: 年产值5亿元以上", "quote: 年产值50亿元以上"))
    (problem,) = [p for p in lint_file(str(pack)) if p.code == "W203"]
    assert problem.line == line_of(pack, "quote: 年产值50亿元以上")
    # punctuation and full-width brackets do not matter
    policy = POLICY.replace("(一)制造业企业年产值5亿元以上。", "（一）制造业企业年产值5亿元以上，")
    pack = write(tmp_path, [enum("in", "manufacturing")], policy=policy)
    assert codes(lint_file(str(pack))) == []


def test_source_text_not_available_is_a_note(tmp_path):
    pack = write(tmp_path, [enum("in", "manufacturing")], policy=None)
    (note,) = lint_file(str(pack))
    assert note.code == "W209" and note.severity == NOTE
    assert note.line == line_of(pack, "seed: policy.txt")
    elsewhere = tmp_path / "texts"
    elsewhere.mkdir()
    (elsewhere / "policy.txt").write_text(POLICY, encoding="utf-8")
    assert lint_file(str(pack), str(elsewhere)) == []


# -- magnitudes ---------------------------------------------------------------------------------


def test_a_threshold_10_000_times_off(tmp_path):
    text = HUGUAN_PACK.read_text(encoding="utf-8").replace("value: 5000万元", "value: 5000元")
    pack = tmp_path / "huguan.yaml"
    pack.write_text(text, encoding="utf-8")
    problems = [p for p in lint_file(str(pack), str(ROOT.parent / "shared" / "seeds"))
                if p.code == "W208"]
    (problem,) = problems
    assert problem.line == line_of(pack, "value: 5000元")
    assert "less than one 万元" in problem.message and "'lead_output'" in problem.message


def test_a_threshold_far_from_its_siblings(tmp_path):
    text = HUGUAN_PACK.read_text(encoding="utf-8").replace("value: 2亿元", "value: 2万元")
    pack = tmp_path / "huguan.yaml"
    pack.write_text(text, encoding="utf-8")
    (problem,) = [p for p in lint_file(str(pack)) if p.code == "W208"]
    assert problem.line == line_of(pack, "value: 2万元")
    assert "2万元 on 'lead_output' is 2,500 times away" in problem.message


# -- bands --------------------------------------------------------------------------------------


def b(low, high, include_low=True, include_high=False) -> Band:
    return Band(None if low is None else Fraction(low), None if high is None else Fraction(high),
                include_low, include_high)


def test_bands_that_tile_are_clean():
    assert check_bands([b(None, 10), b(10, 20), b(20, None)]) == []
    assert check_bands([b(0, 10, True, True), b(10, 20, False, True)], domain=(Fraction(0), Fraction(20))) == []


def test_band_overlaps_gaps_and_empty_bands():
    found = check_bands([b(0, 10), b(8, 20)])
    assert [(f.code, f.index) for f in found] == [("W206", 1)]
    assert "band 2 [8, 20) overlaps band 1 [0, 10)" in found[0].message
    found = check_bands([b(0, 10, True, True), b(10, 20, True, False)])  # 10 is in both
    assert [(f.code, f.index) for f in found] == [("W206", 1)]
    found = check_bands([b(0, 10), b(12, 20)])
    assert [(f.code, f.index) for f in found] == [("W207", 1)]
    assert "a value of 10 to 12 falls in no band" in found[0].message
    found = check_bands([b(0, 10, True, False), b(10, 20, False, False)])  # 10 is in neither
    assert [(f.code, f.index) for f in found] == [("W207", 1)]
    assert "a value of 10 falls in no band" in found[0].message
    found = check_bands([b(5, 5, True, False), b(7, 3)])
    assert [(f.code, f.index) for f in found] == [("W206", 0), ("W206", 1)]
    found = check_bands([b(10, 20), b(20, 90)], domain=(Fraction(0), Fraction(100)))
    assert [f.code for f in found] == ["W207", "W207"]
    # given in any order: positions refer to the list as written
    assert [(f.code, f.index) for f in check_bands([b(20, 30), b(0, 10)])] == [("W207", 0)]


def test_bands_in_a_document_are_reported_on_their_line():
    text = ("scoring:\n  output_points:\n    unit: 万元\n    bands:\n"
            "      - {from: 0, to: 1亿元, points: 1}\n"
            "      - {from: 5000万元, to: 2亿元, points: 2}\n"
            "      - {from: 3亿元, points: 3}\n")
    problems = lint_document(parse_yaml(text, "bands.yaml"))
    assert codes(problems) == [("W206", 6), ("W207", 7)]
    scoring = ("inputs:\n  land_tax:\n    type: money\n    unit: 万元\n    label: {zh: 亩均税收, en: tax}\n"
               "indicators:\n  - id: tax\n    parts:\n      - id: tax_bands\n        bands:\n"
               "          input: land_tax\n          tiers:\n"
               "            - {from: 0, to: 10, include: \"[]\", points: 1}\n"
               "            - {from: 10, to: 20, points: 2}\n"
               "            - {from: 25, points: 3}\n")
    problems = lint_document(parse_yaml(scoring, "scoring.yaml"))
    assert codes(problems) == [("W206", 14), ("W207", 15)]
    assert "band 2 [10万元, 20万元) overlaps band 1 [0万元, 10万元]" in problems[0].message
    bands, errors = bands_from_yaml([{"from": "1亿元", "to": 20000, "include_to": True}], "万元")
    assert errors == [] and bands == [Band(Fraction(10**8), Fraction(2 * 10**8), True, True)]


# -- the command --------------------------------------------------------------------------------


def test_cli_exit_codes(tmp_path, tmp_path_factory):
    runner = CliRunner()
    clean = runner.invoke(main, ["lint", "--lang", "en", str(HUGUAN_PACK)])
    assert clean.exit_code == 0, clean.output
    pack = write(tmp_path, [enum("in", "manufacturing", "agriculture"), enum("in", "agriculture")])
    warned = runner.invoke(main, ["lint", "--lang", "en", str(pack)])
    assert warned.exit_code == 0
    assert f"{pack}:{line_of(pack, '- when:', 2)}:" in warned.output and "W204 warning" in warned.output
    assert runner.invoke(main, ["lint", "--lang", "en", "--strict", str(pack)]).exit_code == 1
    as_json = runner.invoke(main, ["lint", "--lang", "en", "--format", "json", str(pack)])
    assert "W204" in as_json.output
    # notes alone never fail, even with --strict
    noted = write(tmp_path_factory.mktemp("noted"), [enum("in", "manufacturing")], policy=None)
    result = runner.invoke(main, ["lint", "--lang", "en", "--strict", str(noted)])
    assert result.exit_code == 0 and "W209 note" in result.output
    # errors are validate's, with exit 1
    broken = write(tmp_path_factory.mktemp("broken"), [enum("in", "manufacturing")], replace=("value: 5亿元", "value: 5亿园"))
    result = runner.invoke(main, ["lint", "--lang", "en", str(broken)])
    assert result.exit_code == 1 and "E123" in result.output
    assert runner.invoke(main, ["lint", "--lang", "en", str(tmp_path / "nope.yaml")]).exit_code == 2
