"""Format 2 core (docs/format2.md): names, problems with file:line:col, staged evaluation where
durable-rules decides every criterion over value slots and the reference evaluator agrees."""

from __future__ import annotations

import datetime as dt
import itertools
import textwrap
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pytest

from engine.compile.build2 import build2, check_pack2
from engine.compile.ops import OPS, op
from engine.core.problems import ProblemsError
from engine.core.status import Outcome, Status
from engine.evaluate.ops import COMPUTE, Computed, Step, computes
from engine.evaluate.run2 import Runner, evaluate2, subjects_from_dicts
from engine.load.yamlsafe import load_yaml_file

AS_OF = dt.date(2024, 6, 30)


# A tiny operation of this test's own, so the core is tested without the value operations.
@dataclass(frozen=True)
class _Share:
    of: str
    per: str

    def reads(self) -> tuple[str, ...]:
        return (self.of, self.per)


if "h1_test_share" not in OPS:
    @op("h1_test_share")
    def _parse_share(raw: Any, ctx: Any, path: tuple[Any, ...]) -> _Share:
        return _Share(ctx.ref(raw["of"], path + ("of",)), ctx.ref(raw["per"], path + ("per",)))

    @computes("h1_test_share")
    def _compute_share(args: _Share, env: Any) -> Computed:
        a, b = env.get(args.of), env.get(args.per)
        missing = tuple(n for n, v in ((args.of, a), (args.per, b)) if v is None)
        if missing:
            return Computed(None, missing=missing)
        if b == 0:
            return Computed(None, reason=Step("分母为0", "the denominator is 0"))
        value = Fraction(a) / Fraction(b) * 100
        return Computed(value, steps=(Step(f"{a} ÷ {b} = {value}%", f"{a} / {b} = {value}%"),))


PACK = """\
format: 2
pack:
  id: demo-format2
  version: "1.0.0"
  entity: firm
  title: {zh: 演示, en: demo}
  effective: "2020-01-01"
inputs:
  tech_staff: {type: count, unit: 人, label: {zh: 科技人员}}
  total_staff: {type: count, unit: 人, label: {zh: 职工总数}}
  revenue: {type: money, unit: 万元, label: {zh: 销售收入}}
  sector: {type: enum, label: {zh: 行业}, values: {mfg: {zh: 制造业}, svc: {zh: 服务业}}}
  no_accident: {type: attestation, label: {zh: 无重大事故}}
parameters:
  share_min: {value: 10%, cite: 第六条, label: {zh: 科技人员占比下限}}
  revenue_min: {value: 500万元, cite: 第六条, label: {zh: 销售收入下限}}
values:
  staff_share:
    label: {zh: 科技人员占比}
    unit: "%"
    h1_test_share: {of: tech_staff, per: total_staff}
criteria:
  staff_ok:
    title: {zh: 科技人员占比不低于10%}
    cite: 第六条
    test: {value: staff_share, op: ">=", param: share_min}
  certified:
    title: {zh: 认定}
    cite: 第六条
    all:
      - {criterion: staff_ok}
      - id: revenue_ok
        test: {value: revenue, op: ">=", param: revenue_min}
      - id: safe
        test: {attested: no_accident}
      - id: sector_ok
        test: {value: sector, op: in, values: [mfg]}
outcomes:
  decision: certified
  flags:
    - id: large
      title: {zh: 规模较大}
      when: {value: revenue, op: ">=", number: 5000万元}
"""


def _doc(tmp_path, text: str, name: str = "p.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_yaml_file(str(path))


def _pack(tmp_path, text: str = PACK, **kw: Any):
    doc, raw = _doc(tmp_path, text)
    return build2(doc, raw, kw.pop("as_of", AS_OF), kw.pop("overrides", None))


def _codes(tmp_path, text: str) -> list[tuple[str, int, int, str]]:
    doc, _ = _doc(tmp_path, text)
    return [(p.code, p.line, p.col, p.message) for p in check_pack2(doc, AS_OF)]


FIRM = {"id": "f1", "tech_staff": 12, "total_staff": 100, "revenue": "800万元", "sector": "mfg", "no_accident": True}


def test_phases_and_durable_decides(tmp_path):
    pack = _pack(tmp_path)
    assert [v.phase for v in pack.values.values()] == [0]
    assert pack.criteria == {"staff_ok": 1, "certified": 3}  # certified links staff_ok: a later stage
    subjects, problems = subjects_from_dicts(pack, [FIRM])
    assert problems == []
    (record,) = evaluate2(pack, subjects)
    assert record.outcome is Outcome.PASS
    assert record.criterion("staff_ok").status is Status.MET
    assert record.criterion("staff_ok").decided_by == "durable-rules"
    assert record.value("staff_share").value == Fraction(12)
    assert record.value("staff_share").computed_by == "python"
    assert record.note("large").status is Status.NOT_MET
    assert record.provenance.pack_id == "demo-format2" and len(record.provenance.input_sha256) == 64
    assert record.as_dict()["values"][0]["value"] == "12"


def test_met_not_met_unknown(tmp_path):
    pack = _pack(tmp_path)
    rows = [
        FIRM,
        {**FIRM, "id": "low", "tech_staff": 9},  # 9% < 10%
        {**FIRM, "id": "edge", "tech_staff": 10},  # exactly 10%: 不低于 includes it
        {k: v for k, v in FIRM.items() if k != "tech_staff"} | {"id": "nostaff"},
        {**FIRM, "id": "zero", "total_staff": 0},  # the share is unknown (分母为0)
        {**FIRM, "id": "svc", "sector": "svc"},
    ]
    subjects, _ = subjects_from_dicts(pack, rows)
    records = {r.entity_id: r for r in evaluate2(pack, subjects)}
    assert records["f1"].outcome is Outcome.PASS
    assert records["low"].outcome is Outcome.FAIL and records["low"].criterion("staff_ok").status is Status.NOT_MET
    assert records["edge"].outcome is Outcome.PASS
    assert records["nostaff"].outcome is Outcome.UNDETERMINED
    assert records["nostaff"].value("staff_share").missing == ("tech_staff",)
    assert records["zero"].criterion("staff_ok").status is Status.UNKNOWN
    assert records["zero"].value("staff_share").reason.zh == "分母为0"
    assert records["svc"].outcome is Outcome.FAIL and records["svc"].criterion("sector_ok").status is Status.NOT_MET


def test_durable_matches_reference_on_generated_entities(tmp_path):
    pack = _pack(tmp_path)
    rows = []
    for i, (staff, total, revenue, sector, safe) in enumerate(itertools.product(
            (None, 0, 9, 10, 11), (None, 0, 100), (None, "499.99万元", "500万元", "5000万元"), (None, "mfg", "svc"),
            (None, True, False))):
        row = {"id": f"e{i}", "tech_staff": staff, "total_staff": total, "revenue": revenue, "sector": sector,
               "no_accident": safe}
        rows.append({k: v for k, v in row.items() if v is not None})
    subjects, _ = subjects_from_dicts(pack, rows)
    durable = evaluate2(pack, subjects, "durable")
    ref = evaluate2(pack, subjects, "reference")
    assert len(durable) == len(rows) == 5 * 3 * 4 * 3 * 3
    for a, b in zip(durable, ref):
        assert (a.outcome, [(c.id, c.status, c.branch) for c in a.criteria], [(n.id, n.status) for n in a.notes]) == \
               (b.outcome, [(c.id, c.status, c.branch) for c in b.criteria], [(n.id, n.status) for n in b.notes])
    assert {r.outcome for r in durable} == {Outcome.PASS, Outcome.FAIL, Outcome.UNDETERMINED}


def test_validity_warning(tmp_path):
    pack = _pack(tmp_path, PACK.replace('effective: "2020-01-01"', 'effective: "2020-01-01"\n  until: "2023-12-31"\n'
                                        '  superseded_by: demo-2024'))
    assert [p.code for p in pack.warnings] == ["W180"]
    subjects, _ = subjects_from_dicts(pack, [FIRM])
    (record,) = evaluate2(pack, subjects)
    assert record.validity[0]["code"] == "W180" and "demo-2024" in record.validity[0]["zh"]


# ---------------------------------------------------------------------------------------------
# Problems, each at file:line:col


def test_e181_duplicate_name_names_both_places(tmp_path):
    text = PACK.replace("  revenue_min: {value", "  tech_staff: {value: 1人, cite: x, label: {zh: x}}\n  revenue_min: {value")
    (problem,) = [p for p in _codes(tmp_path, text) if p[0] == "E181"]
    assert problem[1:3] == (16, 3)
    assert "inputs (line 9, col 3)" in problem[3]


def test_e182_unknown_name_with_did_you_mean(tmp_path):
    text = PACK.replace("test: {value: revenue, op:", "test: {value: revenu, op:")
    (problem,) = [p for p in _codes(tmp_path, text) if p[0] == "E182"]
    assert problem[1] == 33 and "did you mean 'revenue'" in problem[3]
    text = PACK.replace("h1_test_share: {of: tech_staff,", "h1_test_share: {of: tech_staf,")
    (problem,) = [p for p in _codes(tmp_path, text) if p[0] == "E182"]
    assert problem[1:3] == (21, 21) and "did you mean 'tech_staff'" in problem[3]


def test_e183_wrong_sort(tmp_path):
    text = PACK.replace("h1_test_share: {of: tech_staff,", "h1_test_share: {of: staff_ok,")
    (problem,) = [p for p in _codes(tmp_path, text) if p[0] == "E183"]
    assert problem[1:3] == (21, 21) and "criterion" in problem[3]
    text = PACK.replace("- {criterion: staff_ok}", "- {criterion: revenue}")
    assert [p[0] for p in _codes(tmp_path, text)] == ["E183"]


def test_e180_cycle_named(tmp_path):
    text = PACK.replace("h1_test_share: {of: tech_staff, per: total_staff}",
                        "h1_test_share: {of: tech_staff, per: loop_b}\n"
                        "  loop_b:\n    label: {zh: b}\n    h1_test_share: {of: tech_staff, per: staff_share}")
    (problem,) = [p for p in _codes(tmp_path, text) if p[0] == "E180"]
    assert "staff_share → loop_b → staff_share" in problem[3]
    assert problem[1:3] == (18, 3)
    # through a criterion: a value reading a criterion that reads the value
    text = PACK.replace("h1_test_share: {of: tech_staff, per: total_staff}", "h1_test_share: {of: tech_staff, per: x}")
    text = text.replace("parameters:", "parameters:\n  x_unused: {value: 1人, cite: x, label: {zh: x}}", 1)
    assert "E182" in [p[0] for p in _codes(tmp_path, text)]


def test_e184_unit_mismatch(tmp_path):
    text = PACK.replace("test: {value: revenue, op: \">=\", param: revenue_min}",
                        "test: {value: revenue, op: \">=\", param: share_min}")
    (problem,) = [p for p in _codes(tmp_path, text) if p[0] == "E184"]
    assert problem[1] == 33 and "money" in problem[3] and "percent" in problem[3]
    text = PACK.replace("number: 5000万元", "number: 30%")
    assert [p[0] for p in _codes(tmp_path, text)] == ["E184"]


def test_unknown_operation(tmp_path):
    text = PACK.replace("h1_test_share: {of", "h1_test_shar: {of")
    (problem,) = _codes(tmp_path, text)
    assert problem[0] == "E112" and "did you mean 'h1_test_share'" in problem[3]


def test_build_refuses_with_problems(tmp_path):
    with pytest.raises(ProblemsError) as error:
        _pack(tmp_path, PACK.replace("{criterion: staff_ok}", "{criterion: staff_okk}"))
    assert [p.code for p in error.value.problems] == ["E182"]


def test_runner_is_reusable_and_reference_engine(tmp_path):
    pack = _pack(tmp_path)
    runner = Runner(pack)
    subjects, _ = subjects_from_dicts(pack, [FIRM])
    assert runner.evaluate(subjects)[0].outcome is Outcome.PASS
    assert runner.evaluate(subjects)[0].outcome is Outcome.PASS
    assert Runner(pack, "reference").evaluate(subjects)[0].criterion("certified").decided_by == "reference"
    assert "h1_test_share" in COMPUTE


# ---------------------------------------------------------------------------------------------
# The command line: validate and evaluate route a format-2 pack


def test_cli_validate_and_evaluate(tmp_path):
    import json

    from click.testing import CliRunner

    import cli

    pack = tmp_path / "demo.yaml"
    pack.write_text(PACK, encoding="utf-8")
    data = tmp_path / "firms.yaml"
    data.write_text("- {id: f1, name: 甲公司, tech_staff: 12, total_staff: 100, revenue: 800万元, sector: mfg, "
                    "no_accident: true}\n- {id: f2, tech_staff: 5, total_staff: 100, revenue: 800万元, sector: mfg, "
                    "no_accident: true}\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli.main, ["validate", str(pack)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli.main, ["evaluate", "--rules", str(pack), str(data), "--as-of", "2024-06-30"])
    assert result.exit_code == 0, result.output
    assert "f1 甲公司 — 通过" in result.output and "f2 — 不通过：第六条 科技人员占比不低于10%：5% < 10%" in result.output
    result = runner.invoke(cli.main, ["evaluate", "--rules", str(pack), str(data), "--as-of", "2024-06-30",
                                      "--full", "--lang", "en"])
    assert "criteria (decided by durable-rules)" in result.output and "12 / 100 = 12%" in result.output
    result = runner.invoke(cli.main, ["evaluate", "--rules", str(pack), str(data), "--as-of", "2024-06-30",
                                      "--format", "json"])
    doc = json.loads(result.output[:result.output.rindex("}") + 1])
    assert [d["outcome"] for d in doc["decisions"]] == ["pass", "fail"]
    assert doc["decisions"][1]["criteria"][0] == {
        "id": "staff_ok", "status": "not_met", "branch": None, "decided_by": "durable-rules", "phase": 1,
        "top": True, "depth": 0, "title": {"zh": "科技人员占比不低于10%"}, "cite": "第六条",
        "test": {"name": "staff_share", "op": ">=", "value": "5", "unit": "%", "threshold": "10", "param": "share_min",
                 "written": "10%", "gap": "5"}}
    broken = tmp_path / "broken.yaml"
    broken.write_text(PACK.replace("{criterion: staff_ok}", "{criterion: staff_okk}"), encoding="utf-8")
    result = runner.invoke(cli.main, ["validate", str(broken)])
    assert result.exit_code == 1 and f"{broken}:31:10: E182" in result.output and "是否应为 'staff_ok'" in result.output
    result = runner.invoke(cli.main, ["evaluate", "--rules", str(broken), str(data), "--as-of", "2024-06-30"])
    assert result.exit_code == 4


def test_problems_are_bilingual(tmp_path):
    import re

    texts = [
        PACK.replace("  revenue_min: {value", "  tech_staff: {value: 1人, cite: x, label: {zh: x}}\n  revenue_min: {value"),
        PACK.replace("test: {value: revenue, op:", "test: {value: revenu, op:"),
        PACK.replace("- {criterion: staff_ok}", "- {criterion: revenue}"),
        PACK.replace("number: 5000万元", "number: 30%"),
        PACK.replace("test: {value: revenue, op: \">=\", param: revenue_min}", "test: {value: revenue, op: \">=\", param: share_min}"),
        PACK.replace("h1_test_share: {of: tech_staff, per: total_staff}", "h1_test_share: {of: tech_staff, per: loop_b}\n"
                     "  loop_b:\n    label: {zh: b}\n    h1_test_share: {of: tech_staff, per: staff_share}"),
    ]
    seen = set()
    for text in texts:
        doc, _ = _doc(tmp_path, text)
        for p in check_pack2(doc, AS_OF):
            seen.add(p.code)
            assert p.message_zh and p.message_zh != p.message and re.search(r"[\u4e00-\u9fff]", p.message_zh), p
    assert seen == {"E180", "E181", "E182", "E183", "E184"}


def test_with_the_value_operations_of_engine_compile_values(tmp_path):
    """The same pack with h2's `ratio` (engine/compile/values.py) in place of this test's op."""
    if "ratio" not in OPS:
        pytest.skip("ratio not registered")
    pack = _pack(tmp_path, PACK.replace("h1_test_share:", "ratio:"))
    rows = [FIRM, {**FIRM, "id": "low", "tech_staff": 9}, {**FIRM, "id": "zero", "total_staff": 0}]
    subjects, _ = subjects_from_dicts(pack, rows)
    durable = evaluate2(pack, subjects)
    assert [r.outcome for r in durable] == [Outcome.PASS, Outcome.FAIL, Outcome.UNDETERMINED]
    assert durable[0].value("staff_share").value == 12 and durable[0].value("staff_share").steps
    reference = evaluate2(pack, subjects, "reference")
    assert [r.statuses() for r in durable] == [r.statuses() for r in reference]


def test_suite_checks_values_exactly(tmp_path):
    from engine.commands.packtest import run_suite

    (tmp_path / "p.yaml").write_text(PACK, encoding="utf-8")
    suite = tmp_path / "p.tests.yaml"
    suite.write_text("pack: p.yaml\nas_of: \"2024-06-30\"\ncases:\n"
                     "  - name: ok\n    entity: {id: f1, tech_staff: 12, total_staff: 100, revenue: 800万元, sector: mfg, no_accident: 是}\n"
                     "    expect: {outcome: pass, values: {staff_share: 12%}, flags: {large: false}}\n"
                     "  - name: wrong value\n    entity: {id: f2, tech_staff: 1, total_staff: 3, revenue: 800万元}\n"
                     "    expect: {values: {staff_share: 33.33%}, missing_inputs: [no_accident, sector]}\n"
                     "  - name: unknown\n    entity: {id: f3, tech_staff: 1, total_staff: 0}\n"
                     "    expect: {values: {staff_share: unknown}, outcome: undetermined}\n", encoding="utf-8")
    result = run_suite(str(suite))
    assert result.problems == []
    assert [c.passed for c in result.cases] == [True, False, True]
    assert result.cases[1].diffs == ["values.staff_share: expected 33.33%, got ≈33.3333%"]


def test_suite_expectations_may_say_why(tmp_path):
    # as format-1 suites: `why` carries the hand computation; it is read, not compared
    from engine.commands.packtest import run_suite

    (tmp_path / "p.yaml").write_text(PACK, encoding="utf-8")
    suite = tmp_path / "p.tests.yaml"
    firm = "{id: f1, tech_staff: 12, total_staff: 100, revenue: 800万元, sector: mfg, no_accident: 是}"
    suite.write_text("pack: p.yaml\nas_of: \"2024-06-30\"\ncases:\n"
                     f"  - name: ok\n    entity: {firm}\n"
                     "    expect: {outcome: pass, why: \"12 ÷ 100 = 12% ≥ 10%\"}\n"
                     f"  - name: wrong, with why\n    entity: {firm}\n"
                     "    expect: {outcome: fail, why: \"12% is enough: this case is wrong on purpose\"}\n"
                     f"  - name: misspelt\n    entity: {firm}\n"
                     "    expect: {outcome: pass, whyy: \"typo\"}\n", encoding="utf-8")
    result = run_suite(str(suite))
    assert result.problems == []
    assert [c.passed for c in result.cases] == [True, False, False]
    assert result.cases[1].diffs == ["outcome: expected fail, got pass"]
    assert "unknown expect field(s) ['whyy']" in result.cases[2].diffs[0]


def test_w181_parameter_nothing_reads(tmp_path):
    text = PACK.replace("parameters:\n", "parameters:\n  spare_min: {value: 1人, cite: 第七条, label: {zh: 备用}}\n", 1)
    problems = _codes(tmp_path, text)
    assert [(p[0], p[1]) for p in problems] == [("W181", 15)]
    assert "spare_min" in problems[0][3]


def test_a_criterion_too_large_for_the_engine_is_refused(tmp_path):
    # an any of 10 anonymous pairs: its unknown status alone needs more than 3000 rules (E153, format 1's
    # code for an expansion too large; E126 before)
    # (an at_least 5 of 12, the former example, is now decided from counts: test_at_least_counted)
    lines = ["format: 2", 'pack: {id: big, version: "1.0.0", entity: firm, title: {zh: 大}}', "inputs:"]
    lines += [f"  a{i}: {{type: money, unit: 万元, label: {{zh: a{i}}}}}" for i in range(20)]
    lines += ["parameters:", "  m: {value: 1万元, cite: x, label: {zh: m}}", "criteria:", "  c:", "    title: {zh: c}",
              "    cite: x", "    any:"]
    lines += [f"      - all: [{{test: {{value: a{2 * i}, op: \">=\", param: m}}}}, "
              f"{{test: {{value: a{2 * i + 1}, op: \">=\", param: m}}}}]" for i in range(10)]
    problems = _codes(tmp_path, "\n".join(lines) + "\n")  # refused by the compiler's bounds, not expanded
    assert [(p[0], p[1]) for p in problems] == [("E153", 27)] and "{criterion: NAME}" in problems[0][3]
