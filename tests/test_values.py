"""Format-2 value operations: each parser (engine/compile/values.py) and each compute
(engine/evaluate/values.py), exactly, with their steps, missing names and reasons.

The parsers and computes are pure functions of a ParseContext and an Env; the fakes below
implement those protocols (engine/compile/ops.py, engine/evaluate/ops.py) as the format-2
builder does: names with a sort and a unit, amounts through engine.core.units.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

import engine.compile.values  # noqa: F401  (fills OPS)
import engine.evaluate.values  # noqa: F401  (fills COMPUTE)
from engine.commands.packtest import run_suite
from engine.compile.ops import OPS
from engine.core.problems import CODES
from engine.core.status import Status
from engine.core.units import Unit, parse_amount, parse_unit
from engine.evaluate.ops import COMPUTE, COMPUTE_COHORT, Computed
from engine.evaluate.values import integer_root, simplest_between
from engine.load.yamlsafe import load_yaml_file
from engine.compile.build2 import build2
from engine.evaluate.record2 import ValueResult
from engine.evaluate.run2 import evaluate2, subjects_from_dicts
from fakes2 import FakeContext, FakeEnv

U = parse_unit


NAMES: dict[str, tuple[str, Unit | None]] = {
    "tech_staff": ("number", U("人")), "total_staff": ("number", U("人")),
    "output": ("number", U("万元")), "output_2021": ("number", U("万元")), "output_2022": ("number", U("万元")),
    "output_2023": ("number", U("万元")), "land": ("number", U("亩")), "rd_ratio": ("number", U("%")),
    "rate_per_mu": ("param", U("万元/亩")), "share_param": ("param", U("%")), "min_output": ("param", U("万元")),
    "sector": ("enum", None), "registered_on": ("date", None), "firms": ("members", None),
    "fast_track": ("criterion", None), "bonus": ("param", U("万元")),
}


def parse(key: str, body: Any, declared: str | None = None, **kw: Any) -> tuple[Any, FakeContext]:
    ctx = FakeContext(dict(NAMES), declared=declared, **kw)
    return OPS[key].parse(body, ctx, ("values", "v", key)), ctx


def run(key: str, body: Any, values: dict[str, Any], declared: str | None = None, **kw: Any) -> Computed:
    args, ctx = parse(key, body, declared, **kw)
    assert ctx.problems == [], ctx.problems
    return COMPUTE[key](args, FakeEnv(values))


def wan(n: int | str) -> Fraction:
    return Fraction(n) * 10**4


def decided(values: dict[str, Any], rows: list[dict[str, Any]], inputs: dict[str, Any] | None = None,
            parameters: dict[str, Any] | None = None, choices: dict[str, Any] | None = None,
            criteria: dict[str, Any] | None = None, tmp: Path | None = None,
            as_of: dt.date = dt.date(2024, 6, 30)) -> list[dict[str, ValueResult]]:
    """The values of a small format-2 pack, evaluated whole: conditions (a `cases` when, a member
    `where`) are compiled and decided by durable-rules, never by a compute function. The reference
    evaluator must find the same values; the durable records are returned (one dict per row)."""
    doc = {"format": 2, "pack": {"id": "t", "version": "1.0.0", "entity": "firm", "title": {"zh": "测试"}},
           "inputs": {"signed": {"type": "attestation", "label": {"zh": "承诺"}}, **(inputs or {})},
           "parameters": parameters or {}, "choices": choices or {}, "values": values,
           "criteria": {"done": {"title": {"zh": "已承诺"}, "cite": "一", "test": {"attested": "signed"}}, **(criteria or {})},
           "outcomes": {"decision": "done"}}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(tmp or folder) / "pack.yaml"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        document, raw = load_yaml_file(str(path))
    pack = build2(document, raw, as_of)
    subjects, problems = subjects_from_dicts(pack, rows)
    assert problems == [], problems
    durable, reference = evaluate2(pack, subjects, "durable"), evaluate2(pack, subjects, "reference")
    out = []
    for d, r in zip(durable, reference):
        for a, b in zip(d.values, r.values):
            assert (a.value, a.missing, a.reason) == (b.value, b.missing, b.reason), a.name
            if "decided_by" in a.detail:
                assert (a.detail["decided_by"], b.detail["decided_by"]) == ("durable-rules", "reference")
        out.append({v.name: v for v in d.values})
    return out


# ---------------------------------------------------------------------------------------------
# ratio


def test_ratio_in_percent_is_exact_and_traced() -> None:
    c = run("ratio", {"of": "tech_staff", "per": "total_staff"}, {"tech_staff": 8, "total_staff": 40}, "%")
    assert c.value == 20
    assert c.steps[0].zh == "8人 ÷ 40人 = 20%"
    assert c.steps[0].en == "8 ÷ 40 = 20%"
    assert c.missing == () and c.reason is None


def test_ratio_without_percent_is_a_plain_ratio_and_thirds_stay_exact() -> None:
    c = run("ratio", {"of": "tech_staff", "per": "total_staff"}, {"tech_staff": 1, "total_staff": 3})
    assert c.value == Fraction(1, 3)
    assert "≈0.3333" in c.steps[0].zh


def test_ratio_of_unlike_quantities_takes_their_unit() -> None:
    args, ctx = parse("ratio", {"of": "output", "per": "land"}, "万元/亩")
    assert ctx.problems == [] and args.dimension == "money/area"
    c = COMPUTE["ratio"](args, FakeEnv({"output": wan(300), "land": Fraction(50) * Fraction(2000, 3)}))
    assert c.value == Fraction(90)  # 元 per 平方米: 300万元 / 50亩
    assert c.steps[0].zh.endswith("= 6万元/亩")


def test_ratio_by_zero_is_unknown_with_the_reason() -> None:
    c = run("ratio", {"of": "tech_staff", "per": "total_staff"}, {"tech_staff": 8, "total_staff": 0}, "%")
    assert c.value is None and c.missing == ()
    assert c.reason is not None and c.reason.zh == "分母为0"


def test_ratio_with_an_unknown_operand_names_it() -> None:
    c = run("ratio", {"of": "tech_staff", "per": "total_staff"}, {"tech_staff": 8}, "%")
    assert c.value is None and c.missing == ("total_staff",)


def test_ratio_declaring_the_wrong_dimension_is_e184() -> None:
    _, ctx = parse("ratio", {"of": "tech_staff", "per": "total_staff"}, "万元")
    assert ctx.codes() == ["E184"]
    _, ctx = parse("ratio", {"of": "output", "per": "land"}, "%")
    assert ctx.codes() == ["E184"]


@pytest.mark.parametrize("body", [["tech_staff", "total_staff"], {"of": "tech_staff"},
                                  {"of": "tech_staff", "per": "total_staff", "by": "x"}])
def test_ratio_malformed_is_e190(body: Any) -> None:
    _, ctx = parse("ratio", body, "%")
    assert "E190" in ctx.codes()


# ---------------------------------------------------------------------------------------------
# sum, difference, product


def test_sum_adds_exactly_in_base_units() -> None:
    c = run("sum", ["output_2021", "output_2022"], {"output_2021": wan("0.1"), "output_2022": wan("0.2")})
    assert c.value == 3000  # 0.3万元, no binary float
    assert c.steps[0].zh == "0.1万元 + 0.2万元 = 0.3万元"


def test_sum_of_money_and_percent_is_e184() -> None:
    _, ctx = parse("sum", ["output", "rd_ratio"])
    assert ctx.codes() == ["E184"]


@pytest.mark.parametrize("key,body", [("sum", []), ("sum", list(f"a{i}" for i in range(49))), ("max", ["output"]),
                                      ("mean", ["output"]), ("best_of", [])])
def test_operand_count_is_e191(key: str, body: list[str]) -> None:
    _, ctx = parse(key, body)
    assert ctx.codes() == ["E191"]


def test_a_sum_of_one_is_a_slot_to_fill() -> None:
    assert run("sum", ["output"], {"output": wan(3)}).value == wan(3)


def test_sum_not_a_list_is_e190() -> None:
    _, ctx = parse("sum", "output")
    assert ctx.codes() == ["E190"]


def test_difference_may_be_negative_and_names_missing() -> None:
    c = run("difference", {"of": "output_2022", "minus": "output_2023"},
            {"output_2022": wan(100), "output_2023": wan(130)})
    assert c.value == -wan(30)
    assert c.steps[0].zh == "100万元 − 130万元 = -30万元"
    c = run("difference", {"of": "output_2022", "minus": "output_2023"}, {})
    assert c.value is None and c.missing == ("output_2022", "output_2023")


def test_product_by_a_percent_constant() -> None:
    args, ctx = parse("product", {"of": "min_output", "by": "70%"})
    assert ctx.problems == [] and args.dimension == "money" and args.reads() == ("min_output",)
    c = COMPUTE["product"](args, FakeEnv({"min_output": wan(1000)}))
    assert c.value == wan(700)
    assert c.steps[0].zh == "1,000万元 × 70% = 700万元"


def test_product_by_a_parameter_and_by_a_plain_number() -> None:
    c = run("product", {"of": "output", "by": "share_param"}, {"output": wan(200), "share_param": Fraction(15)})
    assert c.value == wan(30)
    c = run("product", {"of": "output", "by": 2}, {"output": wan(200)})
    assert c.value == wan(400)


def test_product_by_a_rate_per_unit() -> None:
    args, ctx = parse("product", {"of": "land", "by": "rate_per_mu"}, "万元")
    assert ctx.problems == [] and args.dimension == "money"
    c = COMPUTE["product"](args, FakeEnv({"land": Fraction(50) * Fraction(2000, 3), "rate_per_mu": Fraction(15)}))
    assert c.value == wan(50)  # 50亩 × 1万元/亩 (15 元/平方米)


def test_product_of_money_by_money_is_e184_and_a_bad_constant_e123() -> None:
    _, ctx = parse("product", {"of": "output", "by": "bonus"})
    assert ctx.codes() == ["E184"]
    _, ctx = parse("product", {"of": "output", "by": "七成"})
    assert "E123" in ctx.codes()


def test_product_unknown_parameter_is_missing() -> None:
    c = run("product", {"of": "output", "by": "share_param"}, {"output": wan(200)})
    assert c.value is None and c.missing == ("share_param",)


# ---------------------------------------------------------------------------------------------
# min, max, best_of


@pytest.mark.parametrize("key,value,taken", [("max", wan(130), "output_2023"), ("best_of", wan(130), "output_2023"),
                                             ("min", wan(100), "output_2021")])
def test_extremes_name_what_they_took(key: str, value: Fraction, taken: str) -> None:
    c = run(key, ["output_2021", "output_2022", "output_2023"],
            {"output_2021": wan(100), "output_2022": wan(120), "output_2023": wan(130)})
    assert c.value == value and c.detail["taken"] == taken
    assert f"取 {taken}" in c.steps[0].zh and f"taken: {taken}" in c.steps[0].en


def test_a_tie_takes_the_first_listed() -> None:
    c = run("best_of", ["output_2022", "output_2021"], {"output_2021": wan(100), "output_2022": wan(100)})
    assert c.detail["taken"] == "output_2022"


def test_max_with_an_unknown_operand_is_unknown() -> None:
    c = run("max", ["output_2021", "output_2022"], {"output_2021": wan(100)})
    assert c.value is None and c.missing == ("output_2022",)


# ---------------------------------------------------------------------------------------------
# bounds


def test_a_result_beyond_the_engine_slots_is_unknown_with_a_reason() -> None:
    big = Fraction(6 * 10**17)
    c = run("sum", ["output_2021", "output_2022"], {"output_2021": big, "output_2022": big})
    assert c.value is None and c.missing == ()
    assert c.reason is not None and "18" in c.reason.zh
    c = run("sum", ["output_2021", "output_2022"], {"output_2021": big, "output_2022": Fraction(0)})
    assert c.value == big


def value_ops() -> list[str]:
    """The operations of engine/compile/values.py (other tests register operations of their own)."""
    return [k for k, d in OPS.items() if d.parse.__module__ == "engine.compile.values"]


def test_every_parser_has_a_compute() -> None:
    assert len(value_ops()) == 17
    for key in value_ops():
        assert key in (COMPUTE_COHORT if OPS[key].cohort else COMPUTE), key


def test_codes_of_this_module_are_documented() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for code in ("E190", "E191", "E192", "E193", "E194"):
        assert code in CODES
        assert f"| {code} |" in readme


# ---------------------------------------------------------------------------------------------
# mean, growth, cagr


def test_mean_over_given_years_is_exact() -> None:
    c = run("mean", ["output_2021", "output_2022"], {"output_2021": wan(100), "output_2022": wan(115)})
    assert c.value == wan("107.5")
    assert c.steps[0].zh == "（100万元 + 115万元）÷ 2 = 107.5万元"
    c = run("mean", ["output_2021", "output_2022", "output_2023"],
            {"output_2021": Fraction(1), "output_2022": Fraction(1), "output_2023": Fraction(2)})
    assert c.value == Fraction(4, 3)


def test_growth_in_percent_signed_and_its_reasons() -> None:
    c = run("growth", {"from": "output_2021", "to": "output_2022"}, {"output_2021": wan(100), "output_2022": wan(90)})
    assert c.value == -10
    assert c.steps[0].zh == "（90万元 − 100万元）÷ 100万元 = -10%"
    c = run("growth", {"from": "output_2021", "to": "output_2022"}, {"output_2021": 0, "output_2022": wan(90)})
    assert c.value is None and c.reason is not None and "分母为0" in c.reason.zh
    c = run("growth", {"from": "output_2021", "to": "output_2022"}, {"output_2021": -wan(1), "output_2022": wan(90)})
    assert c.value is None and c.reason is not None
    _, ctx = parse("growth", {"from": "output_2021", "to": "output_2022"}, "万元")
    assert ctx.codes() == ["E184"]
    _, ctx = parse("growth", {"from": "output_2021"})
    assert ctx.codes() == ["E190"]


def test_cagr_with_a_rational_root_is_the_rate_exactly() -> None:
    args, ctx = parse("cagr", {"from": "output_2021", "to": "output_2023", "years": 3}, "%")
    assert ctx.problems == [] and args.dimension == "percent"
    c = COMPUTE["cagr"](args, FakeEnv({"output_2021": wan(100), "output_2023": wan("133.1")}))
    assert c.value == 10 and c.detail["exact"] is True and c.detail["factor"] == "1.331"
    assert args.factor_of(Fraction(10)) == Fraction(1331, 1000)
    assert c.steps[1].zh == "年均复合增长率 = 1.331^(1/3) − 1 = 10%"


def test_cagr_just_below_the_edge_is_below_every_threshold_it_is_below() -> None:
    args, _ = parse("cagr", {"from": "output_2021", "to": "output_2023", "years": 3}, "%")
    c = COMPUTE["cagr"](args, FakeEnv({"output_2021": wan(100), "output_2023": Fraction(1330999)}))
    assert c.detail["exact"] is False and c.detail["approx_percent"] == "10.00"
    assert "≈ 10.00%" in c.steps[1].zh
    # decided as the factor would be: 1.330999 < 1.1^3, so below 10% — and above 9.9999% (≈ 9.9999725%)
    assert c.value < 10 and Fraction(1330999, 1000000) < args.factor_of(Fraction(10))
    assert c.value > Fraction(99999, 10000) and Fraction(1330999, 1000000) > args.factor_of(Fraction(99999, 10000))


@pytest.mark.parametrize("start,end,years", [(3, 5, 2), (100, 101, 7), (7, 3, 3), (1, 10**12, 50), (999, 1000, 1),
                                             (10**6, 10**6 + 1, 12)])
def test_cagr_agrees_with_the_factor_on_every_threshold_near_it(start: int, end: int, years: int) -> None:
    args, _ = parse("cagr", {"from": "output_2021", "to": "output_2023", "years": years}, "%")
    c = COMPUTE["cagr"](args, FakeEnv({"output_2021": Fraction(start), "output_2023": Fraction(end)}))
    factor = Fraction(end, start)
    rate = c.value
    assert rate is not None
    # thresholds around the rate at every scale down to 18 decimals: the value is on the side the factor says
    for places in range(0, 19):
        step = Fraction(1, 10**places)
        base = math.floor(rate / step) * step
        for t in (base - step, base, base + step):
            if t > -100:
                assert (rate >= t) == (factor >= args.factor_of(t)), (t, places)
                assert (rate > t) == (factor > args.factor_of(t)), (t, places)


@pytest.mark.parametrize("years", [0, -1, 2.5, "3", True, 51])
def test_cagr_years_must_be_a_whole_number_from_1_to_50(years: Any) -> None:
    _, ctx = parse("cagr", {"from": "output_2021", "to": "output_2023", "years": years}, "%")
    assert ctx.codes() == ["E193"]


def test_cagr_without_years_and_non_positive_values() -> None:
    _, ctx = parse("cagr", {"from": "output_2021", "to": "output_2023"}, "%")
    assert ctx.codes() == ["E190"]
    for start, end in ((0, 5), (-5, 5), (5, -5)):
        c = run("cagr", {"from": "output_2021", "to": "output_2023", "years": 2},
                {"output_2021": Fraction(start), "output_2023": Fraction(end)}, "%")
        assert c.value is None and c.reason is not None
    c = run("cagr", {"from": "output_2021", "to": "output_2023", "years": 2},
            {"output_2021": Fraction(5), "output_2023": Fraction(0)}, "%")
    assert c.value == -100 and c.detail["approx_percent"] == "-100.00"


# ---------------------------------------------------------------------------------------------
# days_since, years_since


@pytest.mark.parametrize("registered,as_of,years,days", [
    (dt.date(2021, 6, 30), dt.date(2024, 6, 30), 3, 1096),
    (dt.date(2021, 7, 1), dt.date(2024, 6, 30), 2, 1095),
    (dt.date(2020, 2, 29), dt.date(2021, 2, 28), 0, 365),
    (dt.date(2020, 2, 29), dt.date(2021, 3, 1), 1, 366),
    (dt.date(2024, 6, 30), dt.date(2024, 6, 30), 0, 0),
])
def test_whole_years_and_days_to_the_evaluation_date(registered: dt.date, as_of: dt.date, years: int, days: int) -> None:
    for key, expected in (("years_since", years), ("days_since", days)):
        args, ctx = parse(key, {"date": "registered_on"})
        assert ctx.problems == []
        c = COMPUTE[key](args, FakeEnv({"registered_on": registered}, as_of=as_of))
        assert c.value == expected, key


def test_a_date_after_the_evaluation_date_is_unknown_with_the_reason() -> None:
    args, _ = parse("years_since", {"date": "registered_on"})
    c = COMPUTE["years_since"](args, FakeEnv({"registered_on": dt.date(2024, 7, 1)}))
    assert c.value is None and c.reason is not None and "晚于评价日" in c.reason.zh
    c = COMPUTE["years_since"](args, FakeEnv({}))
    assert c.value is None and c.missing == ("registered_on",)


def test_since_reads_a_date_and_counts_in_years() -> None:
    _, ctx = parse("days_since", {"date": "output"})
    assert ctx.codes() == ["E183"]
    args, ctx = parse("years_since", {"date": "registered_on"}, "年")
    assert ctx.problems == [] and args.unit == U("年")
    _, ctx = parse("years_since", {"date": "registered_on"}, "万元")
    assert ctx.codes() == ["E184"]


# ---------------------------------------------------------------------------------------------
# count, total, share over members


FIRM_FIELDS = {
    "revenue": {"type": "money", "unit": "万元"},
    "sector": {"type": "enum", "values": {"manufacturing": {"zh": "制造业"}, "services": {"zh": "服务业"}}},
    "listed": {"type": "boolean"},
    "founded": {"type": "date"},
    "staff": {"type": "count", "unit": "人"},
}
FIRMS = [
    {"name": "甲", "revenue": wan(600), "sector": "manufacturing", "listed": True, "founded": dt.date(2020, 1, 1), "staff": 50},
    {"name": "乙", "revenue": wan(400), "sector": "manufacturing", "listed": False, "founded": dt.date(2015, 1, 1), "staff": 30},
    {"name": "丙", "revenue": wan(900), "sector": "services", "listed": False, "founded": dt.date(2022, 5, 1), "staff": 10},
    {"name": "丁", "revenue": wan(500), "sector": "manufacturing", "listed": True, "founded": dt.date(2019, 7, 1), "staff": 20},
]
REVENUE_OVER_MIN = {"field": "revenue", "op": ">=", "param": "min_output"}
FIRMS_INPUT = {"firms": {"type": "members", "label": {"zh": "企业"}, "fields": FIRM_FIELDS}}
MIN_OUTPUT = {"min_output": {"value": "500万元", "cite": "一", "label": {"zh": "产值下限"}}}


def firm_row(firm: dict[str, Any]) -> dict[str, Any]:
    """A member as a data file writes it."""
    out: dict[str, Any] = {}
    for key, value in firm.items():
        if isinstance(value, bool):
            out[key] = "是" if value else "否"
        elif isinstance(value, dt.date):
            out[key] = value.isoformat()
        elif key == "revenue":
            out[key] = f"{value / 10**4}万元"
        else:
            out[key] = value
    return out


def members_run(key: str, body: Any, firms: list[dict[str, Any]], min_output: str | None = "500万元",
                declared: str | None = None) -> ValueResult:
    spec: dict[str, Any] = {"label": {"zh": "成员计数"}, key: body}
    if declared:
        spec["unit"] = declared
    params = {"min_output": {**MIN_OUTPUT["min_output"], "value": min_output}} if min_output else \
        {"min_output": {"unset": "原文未规定", "cite": "一", "label": {"zh": "产值下限"}}}
    (got,) = decided({"v": spec}, [{"id": "e1", "signed": "是", "firms": [firm_row(f) for f in firms]}],
                     inputs=FIRMS_INPUT, parameters=params)
    return got["v"]


def test_count_with_a_parameter_lists_every_members_verdict() -> None:
    c = members_run("count", {"members": "firms", "where": REVENUE_OVER_MIN}, FIRMS)
    assert c.value == 3  # 500万元 >= 500万元 counts: 以上 includes the number
    assert c.detail["counted"] == ["甲", "丙", "丁"] and c.detail["not_counted"] == ["乙"]
    assert [v["verdict"] for v in c.detail["verdicts"]] == ["met", "not_met", "met", "met"]
    assert c.steps[1].zh == "乙：revenue 400万元 ≥ min_output 500万元 → 不计入"
    assert c.steps[-2].zh == "各成员是否计入由 durable-rules 判定" and c.detail["decided_by"] == "durable-rules"
    assert c.steps[-1].zh == "计入 3 个（共 4 个）"


def test_count_with_all_any_not_over_several_fields() -> None:
    where = {"all": [REVENUE_OVER_MIN,
                     {"any": [{"field": "sector", "op": "in", "values": ["manufacturing"]},
                              {"field": "listed", "op": "is_true"}]},
                     {"not": {"field": "founded", "op": "within_years_before", "years": 3}}]}
    c = members_run("count", {"members": "firms", "where": where}, FIRMS)
    # 甲: founded 2020-01-01 is not within 3 years of 2024-06-30; 丙: services, not listed; 丁 counts
    assert c.detail["counted"] == ["甲", "丁"] and c.value == 2


def test_count_with_a_literal_and_without_a_condition() -> None:
    c = members_run("count", {"members": "firms", "where": {"field": "staff", "op": ">", "number": 20}}, FIRMS)
    assert c.value == 2
    c = members_run("count", {"members": "firms"}, FIRMS)
    assert c.value == 4 and "decided_by" not in c.detail  # no condition: nothing to decide


def test_a_member_without_the_field_makes_the_count_unknown_and_is_named() -> None:
    firms = FIRMS + [{"name": "戊", "sector": "services"}]
    c = members_run("count", {"members": "firms", "where": REVENUE_OVER_MIN}, firms)
    assert c.value is None and c.missing == ("firms",)
    assert c.detail["unknown"] == ["戊"] and c.detail["verdicts"][-1]["lacking"] == ["revenue"]
    assert c.reason is not None and "戊" in c.reason.zh
    # ... unless the condition is decided without it
    where = {"any": [{"field": "sector", "op": "in", "values": ["services"]}, REVENUE_OVER_MIN]}
    c = members_run("count", {"members": "firms", "where": where}, firms)
    assert c.value == 4


def test_an_unset_parameter_leaves_the_count_unknown_naming_it() -> None:
    # an unset parameter has no unit: a money field compared with it is unknown, not E184
    c = members_run("count", {"members": "firms", "where": REVENUE_OVER_MIN}, FIRMS, min_output=None)
    assert c.value is None and c.missing == ("min_output",)
    assert c.detail["unknown"] == ["甲", "乙", "丙", "丁"]


def test_a_member_date_after_a_fixed_date() -> None:
    c = members_run("count", {"members": "firms", "where": {"field": "founded", "op": "on_or_after",
                                                             "date": "2019-07-01"}}, FIRMS)
    assert c.detail["counted"] == ["甲", "丙", "丁"]  # 丁 founded 2019-07-01: on or after includes the day


def test_total_sums_a_field_over_members_meeting_the_condition() -> None:
    c = members_run("total", {"members": "firms", "field": "revenue",
                              "where": {"field": "sector", "op": "in", "values": ["manufacturing"]}}, FIRMS)
    assert c.value == wan(1500)
    assert c.steps[-1].zh == "计入 3 个，合计 1,500万元"
    firms = FIRMS + [{"name": "戊", "sector": "manufacturing"}, {"name": "己", "sector": "services"}]
    c = members_run("total", {"members": "firms", "field": "revenue",
                              "where": {"field": "sector", "op": "in", "values": ["manufacturing"]}}, firms)
    assert c.value is None and "戊" in c.reason.zh and "己" not in c.reason.zh  # type: ignore[union-attr]


def test_share_in_percent_and_an_empty_list() -> None:
    c = members_run("share", {"members": "firms", "where": {"field": "listed", "op": "is_true"}}, FIRMS, declared="%")
    assert c.value == 50 and c.steps[-1].zh == "2 ÷ 4 = 50%"
    c = members_run("share", {"members": "firms", "where": {"field": "listed", "op": "is_true"}}, [], declared="%")
    assert c.value is None and c.reason is not None and "分母为0" in c.reason.zh


def test_a_member_field_compared_with_a_value_of_the_entity() -> None:
    """`param:` naming a value of the entity (not a parameter): Python writes field − value into a
    slot of each member's fact, durable-rules compares it with 0."""
    values = {"bar": {"label": {"zh": "门槛"}, "unit": "万元", "product": {"of": "base", "by": "50%"}},
              "v": {"label": {"zh": "达到门槛的企业"}, "count": {"members": "firms",
                                                          "where": {"field": "revenue", "op": ">", "param": "bar"}}}}
    inputs = {**FIRMS_INPUT, "base": {"type": "money", "unit": "万元", "label": {"zh": "基数"}}}
    rows = [{"id": "e1", "signed": "是", "base": "1000万元", "firms": [firm_row(f) for f in FIRMS]},
            {"id": "e2", "signed": "是", "base": "1200万元", "firms": [firm_row(f) for f in FIRMS]},
            {"id": "e3", "signed": "是", "firms": [firm_row(f) for f in FIRMS]}]
    got = decided(values, rows, inputs=inputs)
    assert got[0]["v"].value == 2 and got[0]["v"].detail["counted"] == ["甲", "丙"]  # 500万元 > 500万元 does not hold
    assert got[1]["v"].value == 1  # > 600万元: only 丙 (900万元)
    assert got[2]["v"].value is None and got[2]["v"].missing == ("bar",)


@pytest.mark.parametrize("body,code", [
    ({"members": "firms", "where": {"field": "revenu", "op": ">=", "param": "min_output"}}, "E192"),
    ({"members": "firms", "field": "sector"}, "E192"),
    ({"members": "firms", "field": "turnover"}, "E192"),
    ({"members": "firms", "where": {"field": "revenue", "op": "in", "values": ["x"]}}, "E194"),
    ({"members": "firms", "where": {"field": "revenue", "op": ">="}}, "E194"),
    ({"members": "firms", "where": {"field": "revenue", "op": ">=", "param": "min_output", "number": 3}}, "E194"),
    ({"members": "firms", "where": {"field": "listed", "op": "is_true", "number": 1}}, "E194"),
    ({"members": "firms", "where": {"field": "sector", "op": "in", "values": ["manufacture"]}}, "E125"),
    ({"members": "firms", "where": {"field": "founded", "op": "within_years_before", "years": 0}}, "E193"),
    ({"members": "firms", "where": {"field": "founded", "op": "on_or_before", "date": "2024-13-01"}}, "E194"),
    ({"members": "firms", "where": {"all": []}}, "E194"),
    ({"members": "firms", "where": {"field": "revenue", "op": ">=", "param": "share_param"}}, "E184"),
    ({"members": "firms", "where": "revenue >= 500"}, "E194"),
    ({"members": "firms", "whre": {}}, "E190"),
    ({"members": "output"}, "E183"),
])
def test_member_problems(body: dict[str, Any], code: str) -> None:
    key = "total" if "field" in body else "count"
    ctx = FakeContext(dict(NAMES), members={"firms": FIRM_FIELDS, "output": {}})
    OPS[key].parse(body, ctx, ("values", "v", key))
    assert code in ctx.codes(), ctx.problems


def test_did_you_mean_for_a_member_field() -> None:
    _, ctx = parse("count", {"members": "firms", "where": {"field": "revenu", "op": ">=", "param": "min_output"}},
                   members={"firms": FIRM_FIELDS})
    assert "did you mean 'revenue'" in ctx.problems[0][2] and "是否应为 'revenue'" in ctx.problems[0][3]


def test_members_reads_its_parameters() -> None:
    args, _ = parse("count", {"members": "firms", "where": REVENUE_OVER_MIN}, members={"firms": FIRM_FIELDS})
    assert args.reads() == ("firms", "min_output")


# ---------------------------------------------------------------------------------------------
# cohort_mean


COHORT_NAMES = {**NAMES, "zone_type": ("enum", None), "growth": ("number", U("%"))}


def cohort(body: Any, rows: list[tuple[str, Any, Any]]) -> list[Computed]:
    ctx = FakeContext(dict(COHORT_NAMES))
    args = OPS["cohort_mean"].parse(body, ctx, ("values", "m", "cohort_mean"))
    assert ctx.problems == [] and OPS["cohort_mean"].cohort
    envs = [FakeEnv({"zone_type": zone, "growth": growth}, entity_id=ident) for ident, zone, growth in rows]
    return COMPUTE_COHORT["cohort_mean"](args, envs)


def test_cohort_mean_within_groups() -> None:
    out = cohort({"of": "growth", "within": "zone_type"},
                 [("a", "key", Fraction(10)), ("b", "key", Fraction(15)), ("c", "other", Fraction(1)),
                  ("d", "key", Fraction(20))])
    assert [c.value for c in out] == [15, 15, 1, 15]
    assert out[0].detail["entities"] == ["a", "b", "d"]
    assert out[0].steps[0].zh == "zone_type 为 key 的3 个对象的 growth 平均值：45% ÷ 3 = 15%"


def test_cohort_mean_over_the_whole_batch_is_exact() -> None:
    out = cohort({"of": "growth"}, [("a", None, Fraction(1)), ("b", None, Fraction(1)), ("c", None, Fraction(2))])
    assert [c.value for c in out] == [Fraction(4, 3)] * 3


def test_a_group_with_a_missing_value_has_no_mean_and_names_who_lacks_it() -> None:
    out = cohort({"of": "growth", "within": "zone_type"},
                 [("a", "key", Fraction(10)), ("b", "key", None), ("c", "other", Fraction(1)), ("d", None, Fraction(3))])
    assert out[0].value is None and out[0].missing == () and "b" in out[0].reason.zh  # type: ignore[union-attr]
    assert out[1].value is None and out[1].missing == ("growth",)
    assert out[2].value == 1
    assert out[3].value is None and out[3].missing == ("zone_type",)


def test_cohort_mean_problems() -> None:
    ctx = FakeContext(dict(COHORT_NAMES))
    OPS["cohort_mean"].parse({"of": "growth", "within": "growth"}, ctx, ("values", "m", "cohort_mean"))
    assert ctx.codes() == ["E183"]
    ctx = FakeContext(dict(COHORT_NAMES))
    OPS["cohort_mean"].parse({"of": "growth", "by": "zone_type"}, ctx, ("values", "m", "cohort_mean"))
    assert ctx.codes() == ["E190"]


# ---------------------------------------------------------------------------------------------
# cases


CASE_NAMES = {**NAMES, "procedure": ("choice", None), "livestock_min": ("param", U("万元")),
              "forestry_min": ("param", U("万元")), "certified": ("boolean", None)}
SECTOR_CASES = [
    {"when": {"value": "sector", "op": "in", "values": ["livestock"]}, "then": "livestock_min"},
    {"when": {"value": "sector", "op": "in", "values": ["forestry"]}, "then": "forestry_min"},
]


CASE_INPUTS = {
    "sector": {"type": "enum", "label": {"zh": "行业"},
               "values": {"livestock": {"zh": "畜牧"}, "forestry": {"zh": "林业"}, "crops": {"zh": "种植"}}},
    "output": {"type": "money", "unit": "万元", "label": {"zh": "产值"}},
    "certified": {"type": "attestation", "label": {"zh": "已认证"}},
    "registered_on": {"type": "date", "label": {"zh": "注册日期"}},
    "track": {"type": "enum", "label": {"zh": "快速通道"}, "values": {"yes": {"zh": "是"}, "no": {"zh": "否"}}},
    "track_applies": {"type": "boolean", "label": {"zh": "适用快速通道"}},
}
CASE_CRITERIA = {"fast_track": {"title": {"zh": "快速通道"}, "cite": "二", "test": {"value": "track", "op": "in", "values": ["yes"]},
                                "applies_when": {"value": "track_applies", "op": "is_true"},
                                "not_applicable": {"zh": "不适用快速通道"}}}


def cases_run(body: Any, row: dict[str, Any], otherwise: Any = None, declared: str | None = "万元",
              livestock_min: str | None = "8000万元", procedure: str = "new") -> ValueResult:
    spec: dict[str, Any] = {"label": {"zh": "适用标准"}, "cases": body}
    if declared:
        spec["unit"] = declared
    if otherwise is not None:
        spec["otherwise"] = otherwise
    params = {"livestock_min": {"value": livestock_min, "cite": "三", "label": {"zh": "畜牧标准"}} if livestock_min
              else {"unset": "原文未规定", "cite": "三", "label": {"zh": "畜牧标准"}},
              "forestry_min": {"value": "10000万元", "cite": "三", "label": {"zh": "林业标准"}}}
    choices = {"procedure": {"label": {"zh": "程序"}, "cite": "四", "options": {"new": {"zh": "新申请"}, "re_review": {"zh": "复审"}},
                             "default": procedure, "reason": "原文未说明"}}
    (got,) = decided({"v": spec}, [{"id": "e1", "signed": "是", **row}], inputs=CASE_INPUTS, parameters=params,
                     choices=choices, criteria=CASE_CRITERIA)
    return got["v"]


def test_cases_take_the_first_that_holds() -> None:
    c = cases_run(SECTOR_CASES, {"sector": "forestry"})
    assert c.value == wan(10000)
    assert c.detail == {"case": 2, "taken": "forestry_min", "value": "100000000", "decided_by": "durable-rules"}
    assert c.steps[0].zh == "情形 1：sector forestry 属于 [livestock]：durable-rules 判定不成立"
    assert c.steps[1].zh == "情形 2：sector forestry 属于 [forestry]：durable-rules 判定成立"
    assert c.steps[-1].zh == "取 forestry_min 10,000万元"


def test_cases_otherwise_and_no_case() -> None:
    c = cases_run(SECTOR_CASES, {"sector": "crops"}, otherwise="5000万元")
    assert c.value == wan(5000) and c.detail["case"] == "otherwise"
    c = cases_run(SECTOR_CASES, {"sector": "crops"})
    assert c.value is None and c.reason is not None and "otherwise" in c.reason.zh


def test_an_undecided_earlier_case_leaves_the_value_unknown() -> None:
    c = cases_run(SECTOR_CASES, {})
    assert c.value is None and c.missing == ("sector",)
    assert c.steps[0].zh == "情形 1：sector 未知 属于 [livestock]：durable-rules 判定无法判定"
    # a case taking a parameter the policy leaves unset (no unit: not E184) is unknown, naming it
    c = cases_run(SECTOR_CASES, {"sector": "livestock"}, livestock_min=None)
    assert c.value is None and c.missing == ("livestock_min",)
    assert cases_run(SECTOR_CASES, {"sector": "forestry"}, livestock_min=None).value == wan(10000)


def test_cases_over_criteria_booleans_choices_and_numbers() -> None:
    body = [
        {"when": {"criterion": "fast_track"}, "then": "0万元"},
        {"when": {"all": [{"attested": "certified"}, {"value": "procedure", "op": "in", "values": ["re_review"]}]},
         "then": "livestock_min"},
        {"when": {"value": "output", "op": ">", "param": "forestry_min"}, "then": "forestry_min"},
    ]
    base = {"certified": "是", "output": "20000万元", "track_applies": "是"}
    assert cases_run(body, {**base, "track": "yes"}).value == 0
    assert cases_run(body, {**base, "track": "no"}).value == wan(10000)
    c = cases_run(body, {**base, "track": "no"}, procedure="re_review")
    assert c.value == wan(8000) and c.detail["case"] == 2
    c = cases_run(body, base)
    assert c.value is None and c.missing == ("fast_track",)  # the core names the inputs behind it
    assert c.steps[0].zh == "情形 1：条件 fast_track 无法判定：durable-rules 判定无法判定"
    c = cases_run(body, {**base, "track": "yes", "track_applies": "否"})
    assert c.detail["case"] == 3  # a criterion that does not apply does not hold
    c = cases_run(body, {**base, "track": "no", "output": "10000万元"}, otherwise="1万元")
    assert c.detail["case"] == "otherwise"  # 10,000万元 > 10,000万元 does not hold


def test_cases_comparing_two_names_of_the_entity() -> None:
    """`param:` naming an input (not a parameter): durable-rules compares output − base with 0."""
    body = [{"when": {"value": "output", "op": ">=", "param": "base"}, "then": "forestry_min"}]
    inputs = {**CASE_INPUTS, "base": {"type": "money", "unit": "万元", "label": {"zh": "基数"}}}
    rows = [{"id": "a", "signed": "是", "output": "300万元", "base": "300万元"},
            {"id": "b", "signed": "是", "output": "299.99万元", "base": "300万元"},
            {"id": "c", "signed": "是", "output": "300万元"}]
    params = {"forestry_min": {"value": "10000万元", "cite": "三", "label": {"zh": "林业标准"}}}
    got = decided({"v": {"label": {"zh": "标准"}, "unit": "万元", "cases": body, "otherwise": "1万元"}}, rows,
                  inputs=inputs, parameters=params)
    assert [g["v"].value for g in got] == [wan(10000), wan(1), None]
    assert got[2]["v"].missing == ("base",)


@pytest.mark.parametrize("body,beside,code", [
    ("sector", None, "E190"),
    ([], None, "E191"),
    ([{"when": {"value": "sector", "op": "in", "values": ["x"]}}], None, "E190"),
    ([{"when": {"value": "sector", "op": ">=", "param": "livestock_min"}, "then": "livestock_min"}], None, "E183"),
    ([{"when": {"value": "procedure", "op": "in", "values": ["renewal"]}, "then": "livestock_min"}], None, "E125"),
    ([{"when": {"value": "sector", "op": "in", "values": ["x"]}, "then": "30%"}], None, "E184"),
    ([{"when": {"value": "sector", "op": "in", "values": ["x"]}, "then": "livestock_min"}], "30%", "E184"),
    ([{"when": {"sector": "x"}, "then": "livestock_min"}], None, "E194"),
    ([{"when": {"value": "sector", "op": "is", "values": ["x"]}, "then": "livestock_min"}], None, "E194"),
    ([{"when": {"value": "registered_on", "op": "on_or_before", "as_of": True}, "then": "livestock_min"},
      {"when": {"value": "registered_on", "op": "on_or_before"}, "then": "livestock_min"}], None, "E194"),
])
def test_cases_problems(body: Any, beside: Any, code: str) -> None:
    ctx = FakeContext(dict(CASE_NAMES), declared="万元", beside={"otherwise": beside} if beside else {},
                      choices={"procedure": ("new", "re_review")})
    OPS["cases"].parse(body, ctx, ("values", "v", "cases"))
    assert code in ctx.codes(), ctx.problems


def test_cases_reads_conditions_and_outcomes_and_declares_otherwise() -> None:
    ctx = FakeContext(dict(CASE_NAMES), declared="万元", beside={"otherwise": "bonus"})
    args = OPS["cases"].parse(SECTOR_CASES, ctx, ("values", "v", "cases"))
    assert args.reads() == ("sector", "livestock_min", "forestry_min", "bonus")
    assert OPS["cases"].beside == ("otherwise",)


# ---------------------------------------------------------------------------------------------
# The worked examples (docs/examples/format2/values-*.yaml): every value parsed without a problem
# and computed for one entity as the comment in the file says. (The format-2 builder's own test
# validates and decides them whole once it reads packs.)

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples" / "format2"
_SORT = {"money": "number", "count": "number", "percent": "number", "area": "number", "number": "number",
         "enum": "enum", "boolean": "boolean", "attestation": "boolean", "date": "date", "members": "members"}
_VALUE_KEYS = ("label", "unit", "cite", "note", "slot")


def example_context(doc: dict[str, Any]) -> tuple[FakeContext, dict[str, Any]]:
    names: dict[str, tuple[str, Unit | None]] = {}
    members: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {}
    for name, spec in (doc.get("inputs") or {}).items():
        unit = U(spec["unit"]) if "unit" in spec else (U("%") if spec["type"] == "percent" else None)
        names[name] = (_SORT[spec["type"]], unit)
        if spec["type"] == "members":
            members[name] = spec["fields"]
    for name, spec in (doc.get("parameters") or {}).items():
        value, unit = parse_amount(spec["value"], None)
        names[name] = ("param", unit)
        params[name] = value
    for name, spec in (doc.get("values") or {}).items():
        names[name] = ("number", U(spec["unit"]) if "unit" in spec else None)
    for name in doc.get("criteria") or {}:
        names[name] = ("criterion", None)
    return FakeContext(names, members=members), params


def example_values(doc: dict[str, Any]) -> list[tuple[str, str, Any, FakeContext]]:
    """(name, op, parsed args, context) of every value, in the order written (dependency order)."""
    ctx, _ = example_context(doc)
    out = []
    for name, spec in doc["values"].items():
        (key,) = [k for k in spec if k not in _VALUE_KEYS and k not in ("otherwise",)]
        ctx.declared = U(spec["unit"]) if "unit" in spec else None
        ctx.besides = {k: v for k, v in spec.items() if k in OPS[key].beside}
        out.append((name, key, OPS[key].parse(spec[key], ctx, ("values", name, key)), ctx))
    assert ctx.problems == [], ctx.problems
    return out


def D(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


EXAMPLE_CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "values-ratio.yaml": ({"tech_staff": 8, "total_staff": 40}, {"staff_share": 20}),
    "values-sum.yaml": ({"rd_internal": wan(60), "rd_external": wan(45)}, {"rd_total": wan(105)}),
    "values-difference.yaml": ({"output_2022": wan(1000), "output_2023": wan(1600)}, {"output_increase": wan(600)}),
    "values-product.yaml": ({"output": wan(25)}, {"mixed_output_min": wan(21), "output_margin": wan(4)}),
    "values-min.yaml": ({"revenue_2022": wan(1800), "revenue_2023": wan(2500)}, {"revenue_smaller": wan(1800)}),
    "values-max.yaml": ({"revenue_2022": wan(1800), "revenue_2023": wan(2500)}, {"revenue_larger": wan(2500)}),
    "values-best_of.yaml": ({"rd_to_revenue": Fraction(4), "rd_to_cost": Fraction(6)}, {"rd_intensity": 6}),
    "values-mean.yaml": ({"output_2022": wan(40), "output_2023": wan(61)}, {"output_mean": wan("50.5")}),
    "values-growth.yaml": ({"revenue_2022": wan(2000), "revenue_2023": wan(2200)}, {"revenue_growth": 10}),
    "values-cagr.yaml": ({"revenue_2020": wan(1000), "revenue_2023": wan(1331)}, {"revenue_cagr": 10}),
    "values-count.yaml": ({"firms": [
        {"name": "甲", "revenue": wan(2500), "sector": "manufacturing", "closed": False},
        {"name": "乙", "revenue": wan(2000), "sector": "manufacturing", "closed": True},
        {"name": "丙", "revenue": wan(1999), "sector": "manufacturing", "closed": False},
        {"name": "丁", "revenue": wan(9000), "sector": "services", "closed": False},
        {"name": "戊", "revenue": wan(2000), "sector": "manufacturing", "closed": False}]}, {"firms_above_size": 2}),
    "values-total.yaml": ({"projects": [
        {"name": "A", "investment": wan(6000), "status": "started"},
        {"name": "B", "investment": wan(5000), "status": "done"},
        {"name": "C", "investment": wan(4500), "status": "started"},
        {"name": "D", "status": "planned"}]}, {"investment_under_way": wan(10500)}),
    "values-share.yaml": ({"firms": [
        {"name": "A", "high_tech_until": D("2024-06-30")}, {"name": "B", "high_tech_until": D("2024-06-29")},
        {"name": "C", "high_tech_until": D("2026-01-01")}, {"name": "D", "high_tech_until": D("2020-01-01")}]},
        {"high_tech_share": 50}),
    "values-days_since.yaml": ({"production_start": D("2024-01-02")}, {"days_in_production": 180}),
    "values-years_since.yaml": ({"registered_on": D("2023-06-30")}, {"years_registered": 1}),
    "values-cases.yaml": ({"farm_type": "livestock", "output": wan(60)}, {"output_min": wan(50), "output_margin": wan(10)}),
}


# the data rows of the examples whose conditions durable-rules decides (the pack is run whole)
EXAMPLE_ROWS: dict[str, dict[str, Any]] = {
    "values-count.yaml": {"firms": [
        {"name": "甲", "revenue": "2500万元", "sector": "manufacturing", "closed": "否"},
        {"name": "乙", "revenue": "2000万元", "sector": "manufacturing", "closed": "是"},
        {"name": "丙", "revenue": "1999万元", "sector": "manufacturing", "closed": "否"},
        {"name": "丁", "revenue": "9000万元", "sector": "services", "closed": "否"},
        {"name": "戊", "revenue": "2000万元", "sector": "manufacturing", "closed": "否"}]},
    "values-total.yaml": {"projects": [
        {"name": "A", "investment": "6000万元", "status": "started"},
        {"name": "B", "investment": "5000万元", "status": "done"},
        {"name": "C", "investment": "4500万元", "status": "started"},
        {"name": "D", "status": "planned"}]},
    "values-share.yaml": {"firms": [
        {"name": "A", "high_tech_until": "2024-06-30"}, {"name": "B", "high_tech_until": "2024-06-29"},
        {"name": "C", "high_tech_until": "2026-01-01"}, {"name": "D", "high_tech_until": "2020-01-01"}]},
    "values-cases.yaml": {"farm_type": "livestock", "output": "60万元"},
}


def example_files() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("values-*.yaml") if not p.name.endswith(".tests.yaml"))


def test_every_value_operation_has_an_example() -> None:
    assert {f"values-{k}.yaml" for k in value_ops()} <= set(example_files())


@pytest.mark.parametrize("name", [n for n in example_files() if n in EXAMPLE_CASES])
def test_example_values_compute_as_written(name: str) -> None:
    doc, raw = load_yaml_file(str(EXAMPLES / name))
    inputs, expected = EXAMPLE_CASES[name]
    if name in EXAMPLE_ROWS:
        # a condition (member where, case when) is decided by durable-rules: the pack is run whole
        pack = build2(doc, raw, dt.date(2024, 6, 30))
        subjects, problems = subjects_from_dicts(pack, [{"id": "e1", **EXAMPLE_ROWS[name]}])
        assert problems == []
        for engine in ("durable", "reference"):
            (record,) = evaluate2(pack, subjects, engine)
            for value_name, want in expected.items():
                assert record.value(value_name).value == want, (engine, value_name, record.value(value_name))
        return
    _, params = example_context(doc.value)
    env = FakeEnv({**inputs, **params})
    checked = []
    for value_name, key, args, _ctx in example_values(doc.value):
        computed = COMPUTE[key](args, env)
        env.values[value_name] = computed.value
        if value_name in expected:
            assert computed.value == expected[value_name], (value_name, computed)
            assert computed.steps and all(s.zh and s.en for s in computed.steps)
            checked.append(value_name)
    assert sorted(checked) == sorted(expected)


def test_the_cohort_mean_example_over_a_batch() -> None:
    doc, _ = load_yaml_file(str(EXAMPLES / "values-cohort_mean.yaml"))
    _, params = example_context(doc.value)
    rows = [("z1", "key", 12), ("z2", "key", 8), ("z3", "general", 5), ("z4", "key", 13)]
    envs = [FakeEnv({"zone_type": z, "output_growth": Fraction(g), **params}, entity_id=i) for i, z, g in rows]
    parsed = example_values(doc.value)
    (_, key, args, _), (_, key2, args2, _) = parsed
    for env, computed in zip(envs, COMPUTE_COHORT[key](args, envs)):
        env.values["group_growth"] = computed.value
        env.values["growth_gap"] = COMPUTE[key2](args2, env).value
    assert [e.values["group_growth"] for e in envs] == [11, 11, 5, 11]
    assert [e.values["growth_gap"] for e in envs] == [1, -3, 0, 2]


def test_cases_over_dates_relative_to_the_evaluation_date() -> None:
    body = [{"when": {"value": "registered_on", "op": "within_years_before", "years": 3}, "then": "livestock_min"},
            {"when": {"value": "registered_on", "op": "on_or_before", "date": "2010-12-31"}, "then": "forestry_min"}]
    assert cases_run(body, {"registered_on": "2021-06-30"}).value == wan(8000)  # 3 years to the day
    assert cases_run(body, {"registered_on": "2021-06-29"}, otherwise="1万元").value == wan(1)
    assert cases_run(body, {"registered_on": "2010-12-31"}).value == wan(10000)
    assert cases_run(body, {"registered_on": "2024-07-01"}, otherwise="1万元").value == wan(1)  # after as_of


# ---------------------------------------------------------------------------------------------
# The examples, whole: each values-*.yaml is validated by the format-2 builder and decided by its
# suite, by durable-rules and by the reference evaluator, with every other example, in
# tests/test_docs_examples.py (test_example_validates_clean_and_its_suite_passes).


def test_an_example_suite_fails_on_a_wrong_value(tmp_path: Path) -> None:
    (tmp_path / "values-cagr.yaml").write_text((EXAMPLES / "values-cagr.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    text = (EXAMPLES / "values-cagr.tests.yaml").read_text(encoding="utf-8")
    (tmp_path / "s.tests.yaml").write_text(text.replace("{revenue_cagr: 10%}", "{revenue_cagr: 10.01%}")
                                           .replace("expect: {outcome: fail}", "expect: {outcome: pass}"), encoding="utf-8")
    result = run_suite(str(tmp_path / "s.tests.yaml"))
    assert [c.passed for c in result.cases] == [False, False, True]


# ---------------------------------------------------------------------------------------------
# The exact helpers behind cagr


@pytest.mark.parametrize("n,k", [(0, 3), (1, 2), (8, 3), (9, 3), (10**30, 3), (10**30 - 1, 3), (2**200 + 1, 7), (3, 50)])
def test_integer_root_is_the_floor_of_the_root(n: int, k: int) -> None:
    r = integer_root(n, k)
    assert r**k <= n < (r + 1) ** k


@pytest.mark.parametrize("lo,hi,want", [(Fraction(1, 3), Fraction(1, 2), Fraction(1, 2)),
                                        (Fraction(31, 100), Fraction(32, 100), Fraction(5, 16)),
                                        (Fraction(-32, 100), Fraction(-31, 100), Fraction(-5, 16)),
                                        (Fraction(-1, 7), Fraction(1, 9), Fraction(0)),
                                        (Fraction(27, 10), Fraction(28, 10), Fraction(11, 4)),
                                        (Fraction(3), Fraction(3), Fraction(3))])
def test_simplest_between(lo: Fraction, hi: Fraction, want: Fraction) -> None:
    got = simplest_between(lo, hi)
    assert got == want and lo <= got <= hi
    # no rational of a smaller denominator lies in the interval
    for den in range(1, got.denominator):
        assert not any(lo <= Fraction(num, den) <= hi for num in range(math.floor(lo * den) - 1, math.ceil(hi * den) + 2))
