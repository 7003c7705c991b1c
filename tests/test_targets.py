"""Targets packs (pack.kind: targets): due dates by --as-of, dated and unset parameters,
overrides, member counting, relative targets, and exact attainment and gaps.

The packs are the real ones in rules/ (policy lives there, never in engine/); a few tests write
a small pack of their own to isolate one mechanism."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.validate.validate import validate_file

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
FORMAT1 = ROOT / "tests" / "format1" / "rules"  # the format-1 targets packs (kind: targets), kept for format 1
ENGINE = ROOT / "engine"


def evaluate(pack: Path | str, entity: dict | str, as_of: str, tmp_path: Path, *extra: str,
             engine: str = "durable") -> dict:
    """One entity decided through the CLI, as JSON."""
    if isinstance(entity, dict):
        data = tmp_path / f"entity-{abs(hash(json.dumps(entity, sort_keys=True, ensure_ascii=False)))}.json"
        data.write_text(json.dumps(entity, ensure_ascii=False), encoding="utf-8")
        entity = str(data)
    result = CliRunner().invoke(main, ["evaluate", "--rules", str(pack), entity, "--as-of", as_of,
                                       "--format", "json", "--engine", engine, *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)["decisions"]
    return record


def target(record: dict, ident: str) -> dict:
    """The criterion a format-1 target became when the pack was converted on load (format 2 names it
    ID_target when ID is also an input's or value's name): status, and the comparison in `test`
    (value and threshold in base units, the threshold as written, the gap). A target not yet due
    does not apply (not_applicable, reason 未到期)."""
    by_id = {c["id"]: c for c in record["criteria"]}
    return by_id.get(f"{ident}_target") or by_id[ident]


NOT_YET_DUE = {"zh": "未到期", "en": "not yet due"}


def criterion(record: dict, ident: str) -> dict:
    return next(c for c in record["criteria"] if c["id"] == ident)


ENGINES = pytest.mark.parametrize("engine", ["durable", "reference"])


# ---------------------------------------------------------------------------------------------
# Due or not yet due, by the as-of date

@ENGINES
def test_a_target_is_not_yet_due_the_day_before_its_deadline_and_due_on_it(tmp_path, engine):
    pack = FORMAT1 / "tancheng-industrial-targets.yaml"
    entity = {"id": "T", "new_above_scale_2020": 29}
    before = evaluate(pack, entity, "2020-12-30", tmp_path, engine=engine)
    assert target(before, "new_above_scale_2020")["status"] == "not_applicable"
    assert target(before, "new_above_scale_2020")["reason"] == NOT_YET_DUE
    assert before["outcome"] == "pass"  # nothing is due yet: not yet due is neutral
    on = evaluate(pack, entity, "2020-12-31", tmp_path, engine=engine)
    assert target(on, "new_above_scale_2020")["status"] == "not_met"
    assert target(on, "new_above_scale_2021")["reason"] == NOT_YET_DUE
    assert on["outcome"] == "fail"
    assert target(on, "new_above_scale_2020")["test"]["gap"] == "1"
    assert on["headline"]["zh"].endswith("29家 < 30家 (要求 ≥ 30家)，差 1家")


# ---------------------------------------------------------------------------------------------
# Dated parameter values

DATED_PACK = """\
format: 1
pack:
  id: dated-target
  version: "1.0.0"
  kind: targets
  entity: county
  title: {zh: 按日期生效的目标值, en: a target whose value changes on a date}
  source: {title: test, seed: none.txt}
inputs:
  towns: {type: count, unit: 个, label: {zh: 专业镇个数, en: towns}}
parameters:
  towns_min:
    values:
      - {since: "2024-01-01", value: 8个}
      - {since: "2025-01-01", value: 10个}
    cite: 一(二)
    label: {zh: 专业镇目标数, en: towns target}
targets:
  - id: towns
    title: {zh: 专业镇个数, en: towns}
    cite: 一(二)
    measure: towns
    target: towns_min
    period: by_date
    deadline: "2024-06-30"
"""


@ENGINES
def test_a_dated_parameter_value_is_chosen_by_as_of_and_named_in_the_trace(tmp_path, engine):
    pack = tmp_path / "dated.yaml"
    pack.write_text(DATED_PACK, encoding="utf-8")
    entity = {"id": "C", "towns": 9}
    early = evaluate(pack, entity, "2024-12-31", tmp_path, engine=engine)
    view = target(early, "towns")
    assert (view["status"], view["test"]["written"], view["test"]["param"]) == ("met", "8个", "towns_min")
    late = evaluate(pack, entity, "2025-01-01", tmp_path, engine=engine)
    view = target(late, "towns")
    assert (view["status"], view["test"]["written"], view["test"]["threshold"]) == ("not_met", "10个", "10")
    assert late["outcome"] == "fail"
    assert view["test"]["gap"] == "1"


def test_per_year_targets_take_the_value_in_force_at_each_year_end(tmp_path):
    record = evaluate(FORMAT1 / "tancheng-industrial-targets.yaml",
                      {"id": "T", "new_above_scale_2021": 35, "new_above_scale_2022": 35}, "2023-03-01", tmp_path)
    y2021, y2022 = target(record, "new_above_scale_2021"), target(record, "new_above_scale_2022")
    # each year reads its own copy of the parameter, holding the value in force on 31 December
    assert (y2021["status"], y2021["test"]["written"], y2021["test"]["param"]) == ("met", "30家", "new_above_scale_min__2021")
    assert (y2022["status"], y2022["test"]["written"], y2022["test"]["param"]) == ("not_met", "40家", "new_above_scale_min__2022")
    assert y2022["test"]["gap"] == "5"


# ---------------------------------------------------------------------------------------------
# Unset parameters, and supplying them (--set, --overrides)

PARK = FORMAT1 / "jiangxi-park-targets.yaml"
PARK_ENTITY = {"id": "P", "internal_green_ratio": "18%", "green_coverage": "40%", "base_investment": 100000,
               "base_output": 150000, "base_land_area": 500, "investment": 300000, "output": 450000,
               "land_area": 750}


def test_an_unset_parameter_leaves_its_criterion_undetermined_and_is_w201():
    _, _, problems = validate_file(str(PARK))
    assert [(p.code, p.severity) for p in problems] == [("W201", "warning")]
    assert "internal_green_ratio_tolerance" in problems[0].message


@ENGINES
def test_unset_tolerance_is_undetermined_with_the_reason(tmp_path, engine):
    record = evaluate(PARK, PARK_ENTITY, "2016-03-01", tmp_path, engine=engine)
    assert record["outcome"] == "undetermined"
    view = criterion(record, "internal_green_ratio_met")
    assert view["status"] == "unknown"
    assert "threshold" not in view["test"]  # the policy sets no number: there is none to compare with
    assert record["missing_inputs"] == []  # nothing is missing from the data
    assert "接近20%" in record["headline"]["zh"]


@ENGINES
def test_set_and_override_file_decide_the_unset_parameter(tmp_path, engine):
    by_set = evaluate(PARK, PARK_ENTITY, "2016-03-01", tmp_path, "--set", "internal_green_ratio_tolerance=2个百分点",
                      engine=engine)
    assert by_set["outcome"] == "pass"
    view = criterion(by_set, "internal_green_ratio_met")
    assert view["status"] == "met" and view["test"]["threshold"] == "18"  # 20% less the tolerance of 2 points
    file = tmp_path / "overrides.yaml"
    file.write_text("internal_green_ratio_tolerance: 1个百分点\n", encoding="utf-8")
    by_file = evaluate(PARK, PARK_ENTITY, "2016-03-01", tmp_path, "--overrides", str(file), engine=engine)
    assert by_file["outcome"] == "fail"
    view = criterion(by_file, "internal_green_ratio_met")
    assert view["status"] == "not_met" and view["test"]["threshold"] == "19"
    assert view["test"]["gap"] == "1"


def test_unset_flag_thresholds_are_decided_once_supplied(tmp_path):
    pack = FORMAT1 / "lianyungang-four-highs.yaml"
    project = {"id": "P", "in_zone": "是", "investment": 30000, "land_area": 60, "annual_output": 90000,
               "annual_tax": 4500, "local_employees": 320}
    record = evaluate(pack, project, "2024-06-30", tmp_path)
    assert {f["id"]: f["status"] for f in record["notes"] if f["kind"] == "flag"} == {"four_highs": "unknown"}
    sets = ["--set", "investment_intensity_min=500万元/亩", "--set", "output_per_mu_min=1500万元/亩",
            "--set", "tax_per_mu_min=75万元/亩", "--set", "local_employment_min=321人"]
    record = evaluate(pack, project, "2024-06-30", tmp_path, *sets)
    assert {f["id"]: f["status"] for f in record["notes"] if f["kind"] == "flag"} == {"four_highs": "not_met"}
    assert record["outcome"] == "pass"  # a flag never changes the outcome


# ---------------------------------------------------------------------------------------------
# Counting members

@ENGINES
def test_counting_targets_name_the_members_that_counted(tmp_path, engine):
    result = CliRunner().invoke(main, ["evaluate", "--rules", str(FORMAT1 / "yangzhou-zone-targets.yaml"),
                                       str(ROOT / "fixtures" / "yangzhou-city.yaml"), "--as-of", "2026-03-01",
                                       "--format", "json", "--engine", engine])
    assert result.exit_code == 0, result.output
    record = next(d for d in json.loads(result.stdout)["decisions"] if d["id"] == "YZ01")
    values = {v["name"]: v for v in record["values"]}  # a count is a value; its members are in its detail
    over_100 = values["zones_over_100yi"]["detail"]
    assert over_100["counted"] == [f"示例集中区{i:02d}" for i in range(1, 8)]
    verdict = {v["name"]: v for v in over_100["verdicts"]}["示例集中区16"]  # 超 excludes it
    assert verdict["verdict"] == "not_met" and "100亿元" in verdict["tests"][0]
    over_50 = values["zones_over_50yi"]
    assert over_50["value"] == "16" and len(over_50["detail"]["counted"]) == 16
    assert len(values["zone_count"]["detail"]["counted"]) == 28


def test_a_member_without_its_figure_makes_the_count_unknown_and_is_named(tmp_path):
    record = evaluate(FORMAT1 / "lianyungang-zone-targets.yaml",
                      {"id": "L", "zones": [{"name": "甲", "taxable_sales": "60亿元"}, {"name": "乙"}]},
                      "2026-03-01", tmp_path)
    view = target(record, "zones_over_10yi")
    assert view["status"] == "unknown"
    members = next(v for v in record["values"] if v["name"] == "zones_over_10yi")["detail"]
    assert members["unknown"] == ["乙"] and members["counted"] == ["甲"]
    assert {v["name"]: v.get("lacking") for v in members["verdicts"]}["乙"] == ["taxable_sales"]


# ---------------------------------------------------------------------------------------------
# Relative target: the zones' growth at least 2 points above the city's

@ENGINES
@pytest.mark.parametrize("zones, city, status", [("12%", "10%", "met"), ("11.99%", "10%", "not_met"),
                                                 ("2%", "0%", "met"), ("-3%", "-5.01%", "met"),
                                                 ("-3%", "-4.99%", "not_met")])
def test_relative_target_at_the_boundary(tmp_path, engine, zones, city, status):
    record = evaluate(FORMAT1 / "lianyungang-zone-targets.yaml",
                      {"id": "L", "zone_sales_growth_2021": zones, "city_sales_growth_2021": city},
                      "2022-01-01", tmp_path, engine=engine)
    assert target(record, "growth_margin_2021")["status"] == status


# ---------------------------------------------------------------------------------------------
# Attainment and gap, exactly

def test_attainment_and_gap_are_exact(tmp_path):
    record = evaluate(FORMAT1 / "tancheng-industrial-targets.yaml",
                      {"id": "T", "industrial_output_2019": "100亿元", "industrial_output_2022": "133亿元",
                       "pharma_output": "9.99亿元", "new_above_scale_2020": 29},
                      "2023-03-01", tmp_path)
    growth = target(record, "output_growth")["test"]
    assert growth["value"] == "133" and target(record, "output_growth")["status"] == "not_met"
    assert (growth["threshold"], growth["gap"]) == ("133.1", "0.1")
    pharma = target(record, "pharma_output")["test"]  # 9.99亿元 against 10亿元, in 元
    assert (pharma["value"], pharma["threshold"], pharma["gap"]) == ("999000000", "1000000000", "1000000")
    firms = target(record, "new_above_scale_2020")["test"]
    assert (firms["value"], firms["threshold"], firms["gap"]) == ("29", "30", "1")


# ---------------------------------------------------------------------------------------------
# Policy lives in rules/, not in the engine

def test_no_pack_id_or_policy_text_in_the_engine():
    pack_ids = [re.search(r"^  id: (\S+)", p.read_text(encoding="utf-8"), re.M).group(1)
                for p in RULES.glob("*.yaml") if not p.name.endswith(".tests.yaml")]
    quotes = []
    for p in RULES.glob("*.yaml"):
        quotes += re.findall(r"^\s+quote: (\S+)", p.read_text(encoding="utf-8"), re.M)
    for source in ENGINE.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        tree = ast.parse(text)
        doc = ast.get_docstring(tree, clean=False)
        if doc:  # a module docstring may show a file format with an example pack name
            text = text.replace(doc, "")
        for ident in pack_ids:
            assert ident not in text, (source.name, ident)
        for quote in quotes:
            assert quote not in text, (source.name, quote)


# ---------------------------------------------------------------------------------------------
# Pack suites: expect.targets and case-level set

def test_suite_expect_targets_and_set_report_readable_differences(tmp_path):
    from engine.commands.packtest import run_suite

    (tmp_path / "pack.yaml").write_text((FORMAT1 / "jiangxi-park-targets.yaml").read_text(encoding="utf-8"),
                                        encoding="utf-8")
    suite = tmp_path / "pack.tests.yaml"
    suite.write_text(
        'pack: pack.yaml\nas_of: "2016-03-01"\ncases:\n'
        "  - name: right\n"
        "    set: {internal_green_ratio_tolerance: 2个百分点}\n"
        "    entity: {id: A, green_coverage: 35%, internal_green_ratio: 18%}\n"
        "    expect: {targets: {green_coverage: met, internal_green_ratio: met, output_per_mu_doubled: unknown}}\n"
        "  - name: wrong\n"
        "    entity: {id: B, green_coverage: 35%, internal_green_ratio: 18%}\n"
        "    expect: {targets: {internal_green_ratio: met, nothing_here: met, green_coverage: done}}\n"
        "  - name: bad set\n"
        "    set: {no_such_parameter: 1%}\n"
        "    entity: {id: C}\n"
        "    expect: {outcome: pass}\n",
        encoding="utf-8")
    result = run_suite(str(suite))
    assert not result.problems
    right, wrong, bad = result.cases
    assert right.passed, right.diffs
    assert not wrong.passed
    assert "targets.internal_green_ratio: expected met, got unknown (value 18%, target unset)" in wrong.diffs
    assert "targets.nothing_here: no such target" in wrong.diffs
    assert any(d.startswith("targets.green_coverage: expected status must be one of") for d in wrong.diffs)
    # the format-1 pack is read as format 2 (converted on load): format 2's words for an unknown name
    assert not bad.passed and "names no parameter or choice: 'no_such_parameter'" in bad.diffs[0]
