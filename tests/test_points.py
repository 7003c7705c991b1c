"""Format-2 points operations: parsing (engine/compile/points.py) and computing
(engine/evaluate/points.py), against a small fake of the builder's ParseContext and of an Env.

The fakes implement exactly the protocols of engine/compile/ops.py and engine/evaluate/ops.py;
the real ones are the format-2 builder's (h1). Rank and rank points are also checked against
today's format-1 scoring (engine/explain/scoring.py) on the Yangzhou fixtures.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from engine.compile import points as cp
from engine.compile.build2 import build2, check_pack2
from engine.compile.ops import OPS
from engine.core.problems import CODES
from engine.core.status import Outcome, Status
from engine.core.units import fraction_json, parse_amount
import engine.evaluate.points  # noqa: F401  (fills COMPUTE and COMPUTE_COHORT with the points operations)
from engine.evaluate.ops import COMPUTE, COMPUTE_COHORT, Computed
from engine.evaluate.run2 import evaluate2, subjects_from_dicts
from engine.load.yamlsafe import load_yaml_file
from fakes2 import FakeContext, FakeEnv

F = Fraction
AS_OF = dt.date(2024, 12, 31)  # the as-of date of compute()


# ---------------------------------------------------------------------------------------------
# The fakes of the builder's ParseContext and of an Env are in tests/fakes2.py (shared with test_values)


def parse(key: str, raw: Any, ctx: FakeContext, *, clean: bool = True) -> Any:
    args = OPS[key].parse(raw, ctx, ("values", "v", key))
    if clean:
        assert ctx.problems == [], ctx.problems
    return args


def compute(key: str, args: Any, **values: Any) -> Computed:
    return COMPUTE[key](args, FakeEnv(dict(values), as_of=AS_OF))


def money(text: str) -> Fraction:
    return parse_amount(text, None)[0]


# ---------------------------------------------------------------------------------------------
# Registry and codes


def test_points_operations_are_registered_as_points() -> None:
    for key in ("bands", "map", "weighted", "group", "per_unit", "items", "baseline_step", "deductions"):
        assert OPS[key].points and not OPS[key].cohort, key
        assert key in COMPUTE, key


def test_codes_e195_to_e199_are_declared_and_in_the_readme(root: Any) -> None:
    readme = (root / "README.md").read_text(encoding="utf-8")
    for code in ("E195", "E196", "E197", "E198", "E199"):
        assert code in CODES, code
        assert f"| {code} |" in readme, code


# ---------------------------------------------------------------------------------------------
# bands: D indicator 1, 科技人员 share, lower end included ("(含)")

D_STAFF = {"of": "staff_share", "bands": [
    {"at_least": "30%", "points": 20},
    {"at_least": "25%", "below": "30%", "points": 16},
    {"at_least": "20%", "below": "25%", "points": 12},
    {"at_least": "15%", "below": "20%", "points": 8},
    {"at_least": "10%", "below": "15%", "points": 4},
    {"below": "10%", "points": 0},
]}


def staff_ctx() -> FakeContext:
    return FakeContext({"staff_share": ("number", "%"), "cost_ratio": ("number", "%"), "pts_param": ("param", None)})


@pytest.mark.parametrize("share, points, band", [
    ("30%", 20, 0), ("29.99%", 16, 1), ("25%", 16, 1), ("24.999%", 12, 2), ("20%", 12, 2), ("15%", 8, 3),
    ("10%", 4, 4), ("9.99%", 0, 5), ("0%", 0, 5), ("100%", 20, 0),
])
def test_bands_every_edge_of_d_staff(share: str, points: int, band: int) -> None:
    args = parse("bands", D_STAFF, staff_ctx())
    result = compute("bands", args, staff_share=parse_amount(share, None)[0])
    assert result.value == points
    assert result.detail["band"] == band


def test_bands_step_and_detail_name_the_endpoints() -> None:
    args = parse("bands", D_STAFF, staff_ctx())
    result = compute("bands", args, staff_share=F(22))
    assert result.steps[0].zh == "22% 落在 [20%, 25%) 档：12分"
    assert result.steps[0].en == "22% is in band [20%, 25%): 12 points"
    assert result.detail["low"] == 20 and result.detail["low_included"] is True
    assert result.detail["high"] == 25 and result.detail["high_included"] is False
    assert compute("bands", args, staff_share=F(31)).steps[0].zh == "31% 落在 [30%, +∞) 档：20分"
    assert compute("bands", args, staff_share=F(3)).steps[0].zh == "3% 落在 (-∞, 10%) 档：0分"


def test_bands_at_most_and_above_lower_is_better() -> None:
    # Lower is better: energy use per unit, at most 0.5 → 10; above 0.5 up to 1 → 5; above 1 → 0.
    ctx = FakeContext({"energy": ("number", None)})
    args = parse("bands", {"of": "energy", "bands": [
        {"at_most": 0.5, "points": 10}, {"above": 0.5, "at_most": 1, "points": 5}, {"above": 1, "points": "0分"}]}, ctx)
    assert [compute("bands", args, energy=F(x)).value for x in ("0.5", "0.51", "1", "1.01")] == [10, 5, 5, 0]
    assert compute("bands", args, energy=F(1)).steps[0].zh == "1 落在 (0.5, 1] 档：5分"


def test_bands_unknown_value_is_unknown_and_named() -> None:
    result = compute("bands", parse("bands", D_STAFF, staff_ctx()))
    assert result.value is None and result.missing == ("staff_share",)
    assert "staff_share" in result.reason.zh


def test_bands_overlap_is_e195_naming_both_bands() -> None:
    ctx = staff_ctx()
    parse("bands", {"of": "staff_share", "bands": [
        {"at_least": "30%", "points": 20}, {"at_least": "25%", "at_most": "30%", "points": 16},
        {"below": "25%", "points": 0}]}, ctx, clean=False)
    assert ctx.codes() == ["E195"]
    assert "[30%, +∞)" in ctx.problems[0][2] and "[25%, 30%]" in ctx.problems[0][2]
    assert ctx.problems[0][1] == ("values", "v", "bands", "bands", 1)


def test_bands_touching_ends_do_not_overlap_but_a_shared_point_does() -> None:
    ctx = staff_ctx()
    parse("bands", {"of": "staff_share", "bands": [{"below": "10%", "points": 0}, {"at_least": "10%", "points": 1}]}, ctx)
    ctx = staff_ctx()
    parse("bands", {"of": "staff_share", "bands": [{"at_most": "10%", "points": 0}, {"at_least": "10%", "points": 1}]},
          ctx, clean=False)
    assert ctx.codes() == ["E195"]


def test_bands_gap_is_e196_unless_otherwise() -> None:
    gappy = {"of": "staff_share", "bands": [{"at_least": "30%", "points": 20}, {"above": "10%", "below": "30%", "points": 5}]}
    ctx = staff_ctx()
    parse("bands", gappy, ctx, clean=False)
    assert ctx.codes() == ["E196"]
    assert "(-∞, 10%]" in ctx.problems[0][2]
    ctx = staff_ctx()
    parse("bands", {"of": "staff_share", "bands": [{"below": "10%", "points": 0}, {"above": "10%", "points": 1}]}, ctx,
          clean=False)
    assert ctx.codes() == ["E196"] and "no band holds 10%" in ctx.problems[0][2]
    ctx = staff_ctx()
    args = parse("bands", {**gappy, "otherwise": 0}, ctx)
    result = compute("bands", args, staff_share=F(10))
    assert result.value == 0 and result.detail["otherwise"] is True
    assert result.steps[0].zh == "10% 不在所列各档：其他情形 0分"


def test_bands_empty_or_doubly_stated_band_is_e197() -> None:
    ctx = staff_ctx()
    parse("bands", {"of": "staff_share", "bands": [{"at_least": "30%", "below": "20%", "points": 1}], "otherwise": 0},
          ctx, clean=False)
    assert ctx.codes() == ["E197"]
    ctx = staff_ctx()
    parse("bands", {"of": "staff_share", "bands": [{"at_least": "3%", "above": "2%", "points": 1}], "otherwise": 0},
          ctx, clean=False)
    assert "E197" in ctx.codes()


def test_bands_points_from_a_parameter_are_read_at_evaluation() -> None:
    ctx = staff_ctx()
    args = parse("bands", {"of": "staff_share", "bands": [{"at_least": "10%", "points": "pts_param"}], "otherwise": 0}, ctx)
    assert args.reads() == ("staff_share", "pts_param")
    assert compute("bands", args, staff_share=F(12), pts_param=F(7)).value == 7
    unset = compute("bands", args, staff_share=F(12))
    assert unset.value is None and unset.missing == ("pts_param",)


def test_bands_endpoint_in_the_wrong_unit_is_reported() -> None:
    ctx = staff_ctx()
    parse("bands", {"of": "staff_share", "bands": [{"at_least": "30万元", "points": 1}], "otherwise": 0}, ctx, clean=False)
    assert ctx.codes() == ["E184"]


# ---------------------------------------------------------------------------------------------
# map


def test_map_from_enum_and_boolean() -> None:
    ctx = FakeContext({"ip_class": ("enum", None), "has_lab": ("boolean", None)})
    args = parse("map", {"of": "ip_class", "points": {"i_class": 30, "ii_class": 6}, "otherwise": 0}, ctx)
    assert compute("map", args, ip_class="i_class").value == 30
    assert compute("map", args, ip_class="ii_class").steps[0].zh == "ip_class 为 ii_class：6分"
    none = compute("map", args, ip_class="none")
    assert none.value == 0 and none.detail["taken"] is None
    assert compute("map", args).missing == ("ip_class",)
    yes_no = parse("map", {"of": "has_lab", "points": {True: 5, "否": 0}}, ctx)
    assert compute("map", yes_no, has_lab=True).value == 5
    assert compute("map", yes_no, has_lab=False).value == 0
    assert compute("map", yes_no, has_lab=True).steps[0].zh == "has_lab 为 是：5分"


def test_map_without_otherwise_is_unknown_for_an_unlisted_option() -> None:
    ctx = FakeContext({"ip_class": ("enum", None)})
    args = parse("map", {"of": "ip_class", "points": {"i_class": 30}}, ctx)
    result = compute("map", args, ip_class="other")
    assert result.value is None and "otherwise" in result.reason.en


def test_map_highest_takes_the_first_item_held() -> None:
    # D indicator 3: ≥1 I类 → 30; ≥4 II类 → 24; 3 → 18; …; none → 0 (criteria decided by durable-rules).
    names = {f"c{i}": ("criterion", None) for i in range(5)}
    ctx = FakeContext(names)
    args = parse("map", {"highest": [{"when": "c0", "points": 30}, {"when": "c1", "points": 24},
                                     {"when": "c2", "points": 18}], "otherwise": 0}, ctx)
    assert args.reads() == ("c0", "c1", "c2")
    met, no = Status.MET, Status.NOT_MET
    assert compute("map", args, c0=no, c1=met, c2=met).value == 24
    assert compute("map", args, c0=no, c1=met, c2=met).detail["taken"] == 1
    assert compute("map", args, c0=no, c1=no, c2=no).value == 0
    assert compute("map", args, c0=Status.NOT_APPLICABLE, c1=no, c2=met).value == 18
    assert compute("map", args, c0=met, c1=Status.UNKNOWN).value == 30  # the first holds: later ones do not matter
    undecided = compute("map", args, c0=no, c1=Status.UNKNOWN, c2=met)
    assert undecided.value is None and undecided.missing == ("c1",)


def test_map_needs_one_form() -> None:
    ctx = FakeContext({"x": ("enum", None)})
    parse("map", {"otherwise": 0}, ctx, clean=False)
    assert ctx.codes() == ["E111"]
    ctx = FakeContext({"x": ("number", None)})
    parse("map", {"of": "x", "points": {"a": 1}}, ctx, clean=False)
    assert ctx.codes() == ["E183"]


# ---------------------------------------------------------------------------------------------
# weighted and group


def test_weighted_is_exact_and_traced() -> None:
    ctx = FakeContext({"a": ("number", "分"[:0] or None), "b": ("number", None)})
    args = parse("weighted", [{"of": "a", "weight": "60%"}, {"of": "b", "weight": "40%"}], ctx)
    result = compute("weighted", args, a=F(10), b=F(19, 2))
    assert result.value == F(98, 10)
    assert result.steps[0].zh == "10分 × 60% + 9.5分 × 40% = 9.8分"
    assert compute("weighted", args, a=F(10)).missing == ("b",)


def test_weighted_weight_out_of_range_is_e198() -> None:
    ctx = FakeContext({"a": ("number", None)})
    parse("weighted", [{"of": "a", "weight": "0%"}], ctx, clean=False)
    parse("weighted", [{"of": "a", "weight": "120%"}], ctx, clean=False)
    assert ctx.codes() == ["E198", "E198"]


def group_ctx() -> FakeContext:
    return FakeContext({"a": ("number", None), "b": ("number", None), "c": ("number", None), "g_min": ("param", None)})


def test_group_subtotal_cap_and_minimum() -> None:
    args = parse("group", {"of": ["a", "b", "c"], "cap": 30, "minimum": "g_min"}, group_ctx())
    assert args.reads() == ("a", "b", "c", "g_min")
    low = compute("group", args, a=F(8), b=F(6), c=F(4), g_min=F(20))
    assert low.value == 18
    assert low.detail["meets_minimum"] is False and low.detail["minimum"] == 20 and low.detail["cap_applied"] is False
    assert low.steps[-1].zh == "小计 18分，最低要求 20分（未达到）"
    high = compute("group", args, a=F(20), b=F(10), c=F(5), g_min=F(20))
    assert high.value == 30 and high.detail["uncapped"] == 35 and high.detail["cap_applied"] is True
    assert high.steps[1].zh == "超过上限 30分，计 30分"
    at_cap = compute("group", args, a=F(20), b=F(10), c=F(0), g_min=F(20))
    assert at_cap.detail["cap_applied"] is False and at_cap.detail["meets_minimum"] is True


def test_group_unknown_part_and_unset_minimum() -> None:
    args = parse("group", {"of": ["a", "b"], "minimum": "g_min"}, group_ctx())
    part = compute("group", args, a=F(3), g_min=F(1))
    assert part.value is None and part.missing == ("b",) and part.detail["known_subtotal"] == 3
    unset = compute("group", args, a=F(3), b=F(4))
    assert unset.value == 7 and "meets_minimum" not in unset.detail
    assert unset.steps[-1].zh == "小计 7分，最低要求未设定"


def test_group_refuses_a_part_listed_twice_and_a_minimum_above_the_cap() -> None:
    ctx = group_ctx()
    parse("group", {"of": ["a", "a"], "cap": 10, "minimum": 12}, ctx, clean=False)
    assert sorted(ctx.codes()) == ["E112", "E198"]


def _brute_bands(spec: list[tuple[int | None, bool, int | None, bool]]) -> tuple[bool, bool]:
    """(some value in two bands, some value in none) by trying every half-integer in range."""
    bands = [cp.Band(None if lo is None else F(lo), li, None if hi is None else F(hi), hi_inc, F(0))
             for lo, li, hi, hi_inc in spec]
    probes = [F(k, 2) for k in range(-4, 25)]
    counts = [sum(1 for b in bands if b.holds(x)) for x in probes]
    return any(c > 1 for c in counts), any(c == 0 for c in counts)


def test_bands_overlap_and_gap_checks_agree_with_trying_every_value() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    end = st.one_of(st.none(), st.integers(0, 10))
    band = st.tuples(end, st.booleans(), end, st.booleans())

    @hypothesis.settings(max_examples=300, deadline=None)
    @hypothesis.given(st.lists(band, min_size=1, max_size=4))
    def check(spec: list[tuple[int | None, bool, int | None, bool]]) -> None:
        raw = []
        for lo, li, hi, hi_inc in spec:
            item: dict[str, Any] = {"points": 1}
            if lo is not None:
                item["at_least" if li else "above"] = lo
            if hi is not None:
                item["at_most" if hi_inc else "below"] = hi
            raw.append(item)
        ctx = FakeContext({"x": ("number", None)})
        parse("bands", {"of": "x", "bands": raw}, ctx, clean=False)
        codes = set(ctx.codes())
        nonempty = [s for s in spec if cp._nonempty(cp.Band(*(None if v is None else F(v) if not isinstance(v, bool) else v
                                                                for v in s), F(0)))]
        overlap, gap = _brute_bands(nonempty)
        assert ("E195" in codes) == overlap, (spec, ctx.problems)
        if nonempty:
            assert ("E196" in codes) == gap, (spec, ctx.problems)
        assert ("E197" in codes) == (len(nonempty) < len(spec) or any(s[0] is None and s[2] is None for s in spec))

    check()


# ---------------------------------------------------------------------------------------------
# per_unit and items: Yangzhou 办法 5 and 8


def capacity_ctx() -> FakeContext:
    return FakeContext({"factory_area": ("number", "万平方米"), "land": ("number", "亩"), "firms": ("number", "家"),
                        "gazelles": ("number", "家"), "seeds": ("number", "家")},
                       choices={"step_rounding": ("whole", "proportional"), "bad_choice": ("whole", "round_half")})


def test_per_unit_whole_and_proportional_steps() -> None:
    ctx = capacity_ctx()
    whole = parse("per_unit", {"of": "factory_area", "per": "1万平方米", "points": 1, "cap": 10, "steps": "whole"}, ctx)
    area = money("1.8万平方米")
    result = compute("per_unit", whole, factory_area=area)
    assert result.value == 1 and result.detail["counted"] == 1 and result.detail["units"] == F(18, 10)
    assert result.steps[0].zh == "factory_area 1.8万平方米 ÷ 1万平方米 = 1.8，只计整数 1 个单位 × 1分 = 1分"
    prop = parse("per_unit", {"of": "factory_area", "per": "1万平方米", "points": 1, "steps": "proportional"}, ctx)
    assert compute("per_unit", prop, factory_area=area).value == F(18, 10)
    capped = compute("per_unit", whole, factory_area=money("12.5万平方米"))
    assert capped.value == 10 and capped.detail["uncapped"] == 12 and capped.detail["cap_applied"] is True


def test_per_unit_steps_from_a_choice() -> None:
    ctx = capacity_ctx()
    args = parse("per_unit", {"of": "land", "per": "50亩", "points": 2, "steps": {"choice": "step_rounding"}}, ctx)
    assert args.reads() == ("land", "step_rounding")
    assert compute("per_unit", args, land=money("120亩"), step_rounding="whole").value == 4
    assert compute("per_unit", args, land=money("120亩"), step_rounding="proportional").value == F(24, 5)
    ctx = capacity_ctx()
    parse("per_unit", {"of": "land", "per": "50亩", "points": 2, "steps": {"choice": "bad_choice"}}, ctx, clean=False)
    assert ctx.codes() == ["E199"]


def test_per_unit_refuses_missing_steps_zero_per_and_negative_points() -> None:
    ctx = capacity_ctx()
    parse("per_unit", {"of": "land", "per": "50亩", "points": 2}, ctx, clean=False)
    assert ctx.codes() == ["E111"]
    ctx = capacity_ctx()
    parse("per_unit", {"of": "land", "per": "0亩", "points": -2, "steps": "whole"}, ctx, clean=False)
    assert ctx.codes() == ["E198", "E198"]
    ctx = capacity_ctx()
    parse("per_unit", {"of": "land", "per": "50亩", "points": 2, "steps": "round"}, ctx, clean=False)
    assert ctx.codes() == ["E199"]


def test_items_per_item_held_with_a_cap() -> None:
    ctx = capacity_ctx()
    args = parse("items", {"items": [{"of": "firms", "points": 3}, {"of": "gazelles", "points": 1},
                                     {"of": "seeds", "points": 0.5}], "cap": 10}, ctx)
    assert args.reads() == ("firms", "gazelles", "seeds")
    result = compute("items", args, firms=F(1), gazelles=F(2), seeds=F(3))
    assert result.value == F(13, 2) and result.detail["cap_applied"] is False
    assert [s.zh for s in result.steps] == ["firms 1家 × 3分 = 3分", "gazelles 2家 × 1分 = 2分", "seeds 3家 × 0.5分 = 1.5分",
                                           "合计 6.5分"]
    over = compute("items", args, firms=F(3), gazelles=F(2), seeds=F(0))
    assert over.value == 10 and over.detail["uncapped"] == 11 and over.steps[-1].zh == "超过上限 10分，计 10分"
    unknown = compute("items", args, firms=F(1), seeds=F(1))
    assert unknown.value is None and unknown.missing == ("gazelles",) and unknown.detail["known_subtotal"] == F(7, 2)


def test_items_with_per_and_a_list_with_cap_beside() -> None:
    class Beside(FakeContext):
        def beside(self, key: str) -> Any:
            return {"cap": 10}.get(key)

    ctx = Beside(capacity_ctx().names, capacity_ctx().choices)
    args = parse("items", [{"of": "factory_area", "per": "1万平方米", "points": 1, "steps": "whole"},
                           {"of": "land", "per": "50亩", "points": 2, "steps": "whole"}], ctx)
    assert args.cap == 10
    assert compute("items", args, factory_area=money("1.8万平方米"), land=money("120亩")).value == 5
    ctx = capacity_ctx()
    parse("items", {"items": [{"of": "firms", "points": 3}, {"of": "firms", "points": 3}]}, ctx, clean=False)
    assert ctx.codes() == ["E112"]


# ---------------------------------------------------------------------------------------------
# baseline_step: J and H


def j_ctx() -> FakeContext:
    return FakeContext({"new_firms": ("number", "家"), "tax_growth": ("number", "%"), "investment": ("number", "万元"),
                        "county_growth": ("number", "%"), "growth": ("number", "%")})


def test_baseline_step_new_firms_three_to_ten_plus_two_each() -> None:
    # J: new firms entering: 3 → 10; < 3 → 0; +2 per extra firm (no cap).
    args = parse("baseline_step", {"of": "new_firms", "baseline": 3, "points": 10, "above": {"per": 1, "points": 2},
                                   "steps": "whole", "zero_below": 3}, j_ctx())
    assert [compute("baseline_step", args, new_firms=F(n)).value for n in (0, 2, 3, 4, 7)] == [0, 0, 10, 12, 18]
    two = compute("baseline_step", args, new_firms=F(2))
    assert two.detail["zero_below_applied"] is True and two.steps[0].zh == "2家 低于 3家：0分"
    seven = compute("baseline_step", args, new_firms=F(7))
    assert seven.detail["steps_counted"] == 4 and seven.detail["direction"] == "above"


def test_baseline_step_asymmetric_whole_steps_with_cap_and_floor() -> None:
    # J: sales growth against the county average: equal → 10; +1 per 4 pp above; −1 per 3 pp below.
    args = parse("baseline_step", {"of": "growth", "baseline": "county_growth", "points": 10,
                                   "above": {"per": "4%", "points": 1}, "below": {"per": "3%", "points": 1},
                                   "steps": "whole", "cap": 12, "floor": 0}, j_ctx())
    assert args.reads() == ("growth", "county_growth")

    def at(growth: str) -> Computed:
        return compute("baseline_step", args, growth=money(growth), county_growth=F(8))

    assert at("8%").value == 10 and at("8%").steps[0].zh == "8% 等于基准 8%：10分"
    assert at("11.9%").value == 10  # 3.9 pp above: no whole step
    assert at("12%").value == 11
    assert at("16%").value == 12 and at("16%").detail["cap_applied"] is False
    assert at("30%").value == 12 and at("30%").detail["cap_applied"] is True and at("30%").detail["uncapped"] == 15
    assert at("5%").value == 9 and at("5.1%").value == 10
    assert at("-40%").value == 0 and at("-40%").detail["floor_applied"] is True
    assert at("12%").steps[0].zh == ("12% 高于基准 8% 4%，每 4% +1分：4% ÷ 4% = 1 档；10分 + 1 × 1分 = 11分")
    assert compute("baseline_step", args, growth=F(9)).missing == ("county_growth",)


def test_baseline_step_proportional_h_investment() -> None:
    # H: equal to last year → 2; ±0.1 per ±2 pp of change; cap 4 (the floor is an open point: a choice).
    args = parse("baseline_step", {"of": "growth", "baseline": "0%", "points": 2, "above": {"per": "2%", "points": 0.1},
                                   "below": {"per": "2%", "points": 0.1}, "steps": "proportional", "cap": 4}, j_ctx())
    assert compute("baseline_step", args, growth=F(3)).value == F(215, 100)
    assert compute("baseline_step", args, growth=F(-50)).value == F(-1, 2)  # no floor written: can fall below 0
    assert compute("baseline_step", args, growth=F(50)).value == 4


def test_baseline_step_needs_a_side_and_steps() -> None:
    ctx = j_ctx()
    parse("baseline_step", {"of": "growth", "baseline": "0%", "points": 2}, ctx, clean=False)
    assert ctx.codes() == ["E111"]
    ctx = j_ctx()
    parse("baseline_step", {"of": "growth", "baseline": "0%", "points": 2, "above": {"per": "0%", "points": 1},
                            "cap": 1, "floor": 2}, ctx, clean=False)
    assert sorted(ctx.codes()) == ["E111", "E198", "E198"]


# ---------------------------------------------------------------------------------------------
# deductions: J investment intensity


def test_deductions_per_event_with_floor() -> None:
    ctx = FakeContext({"low_projects": ("number", "个"), "violations": ("number", "次")})
    args = parse("deductions", {"start": 10, "per_event": {"of": "low_projects", "points": 3}, "floor": 0}, ctx)
    assert [compute("deductions", args, low_projects=F(n)).value for n in (0, 1, 3, 4)] == [10, 7, 1, 0]
    four = compute("deductions", args, low_projects=F(4))
    assert four.detail["floor_applied"] is True and four.detail["deducted"] == 12
    assert four.steps[0].zh == "10分 − 4 × 3分 = -2分" and four.steps[1].zh == "低于下限 0分，计 0分"
    two = parse("deductions", {"start": 10, "per_event": [{"of": "low_projects", "points": 3},
                                                          {"of": "violations", "points": 1}]}, ctx)
    assert compute("deductions", two, low_projects=F(1), violations=F(2)).value == 5
    assert compute("deductions", two, low_projects=F(1)).missing == ("violations",)


# ---------------------------------------------------------------------------------------------
# rank_points and rank


def cohort(key: str, args: Any, rows: list[dict[str, Any]]) -> list[Computed]:
    envs = [FakeEnv(dict(row), entity_id=str(row.get("id", i))) for i, row in enumerate(rows)]
    return COMPUTE_COHORT[key](args, envs)


def rank_ctx() -> FakeContext:
    return FakeContext({"growth": ("number", "%"), "zone_type": ("enum", None), "bonded": ("criterion", None),
                        "total": ("number", None), "tb": ("number", None), "incident": ("boolean", None),
                        "excl_choice": ("choice", None)},
                       choices={"rank_ties": ("shared", "dense"), "excl_choice": ("0", "full", "1.5分"),
                                "bad": ("0", "half")})


def test_rank_points_places_ties_floor_and_groups() -> None:
    args = parse("rank_points", {"of": "growth", "within": "zone_type", "order": "higher_first", "full": 10, "step": 0.5,
                                 "floor": 0, "ties": {"choice": "rank_ties"}}, rank_ctx())
    assert OPS["rank_points"].cohort and "rank_points" in COMPUTE_COHORT
    assert args.reads() == ("growth", "zone_type", "rank_ties")
    rows = [{"id": "a", "growth": F(30), "zone_type": "k"}, {"id": "b", "growth": F(20), "zone_type": "k"},
            {"id": "c", "growth": F(20), "zone_type": "k"}, {"id": "d", "growth": F(5), "zone_type": "k"},
            {"id": "e", "growth": F(1), "zone_type": "o"}]
    shared = cohort("rank_points", args, [{**r, "rank_ties": "shared"} for r in rows])
    assert [c.value for c in shared] == [10, F(19, 2), F(19, 2), F(17, 2), 10]
    assert [c.detail["place"] for c in shared] == [1, 2, 2, 4, 1]
    assert shared[1].detail["tied_with"] == ["c"] and shared[1].detail["of"] == 4
    assert shared[1].steps[0].zh == "growth 20% 在 k 中排第 2 名（共 4 个，与 c 并列）：10分 − 0.5 × 1 = 9.5分"
    dense = cohort("rank_points", args, [{**r, "rank_ties": "dense"} for r in rows])
    assert [c.detail["place"] for c in dense] == [1, 2, 2, 3, 1]
    steep = parse("rank_points", {"of": "growth", "order": "lower_first", "full": 1, "step": 0.5, "floor": 0,
                                  "ties": "shared"}, rank_ctx())
    low = cohort("rank_points", steep, rows)
    assert [c.value for c in low] == [0, 0, 0, F(1, 2), 1]  # one group; lowest first
    assert low[0].detail["floor_applied"] is True and low[0].detail["place"] == 5


def test_rank_points_missing_value_unknown_or_zero() -> None:
    rows = [{"id": "a", "growth": F(3)}, {"id": "b"}, {"id": "c", "growth": F(1)}]
    unknown = parse("rank_points", {"of": "growth", "order": "higher_first", "full": 10, "step": 1, "ties": "shared"},
                    rank_ctx())
    got = cohort("rank_points", unknown, rows)
    assert [c.value for c in got] == [10, None, 9] and got[1].missing == ("growth",)
    zero = parse("rank_points", {"of": "growth", "order": "higher_first", "full": 10, "step": 1, "ties": "shared",
                                 "missing": "zero"}, rank_ctx())
    got = cohort("rank_points", zero, rows)
    assert [c.value for c in got] == [10, 0, 9]
    assert got[1].missing == ("growth",) and got[1].detail["provisional"] is True and got[1].detail["place"] is None


def test_rank_points_exclusion_takes_no_place() -> None:
    # 银川 H1: the 综合保税区 does not take part; what it gets is a choice.
    args = parse("rank_points", {"of": "growth", "order": "higher_first", "full": 3, "step": 0.2, "ties": "shared",
                                 "exclude": "bonded", "excluded_points": {"choice": "excl_choice"}}, rank_ctx())
    assert args.reads() == ("growth", "bonded", "excl_choice")
    met, no = Status.MET, Status.NOT_MET
    rows = [{"id": "a", "growth": F(1), "bonded": no}, {"id": "z", "growth": F(99), "bonded": met},
            {"id": "b", "growth": F(2), "bonded": no}]
    for option, expected in (("0", 0), ("full", 3), ("1.5分", F(3, 2))):
        got = cohort("rank_points", args, [{**r, "excl_choice": option} for r in rows])
        assert [c.value for c in got] == [F(28, 10), expected, 3]
        assert got[1].detail["excluded"] is True and got[1].detail["place"] is None and got[0].detail["of"] == 2
    undecided = cohort("rank_points", args, [{**rows[0], "excl_choice": "0"}, {**rows[1], "bonded": Status.UNKNOWN,
                                                                               "excl_choice": "0"}])
    assert undecided[1].value is None and undecided[0].detail["undecided"] == ["z"]
    ctx = rank_ctx()
    parse("rank_points", {"of": "growth", "order": "higher_first", "full": 3, "step": 0.2, "ties": "shared",
                          "exclude": "bonded"}, ctx, clean=False)
    assert ctx.codes() == ["E111"]
    ctx = rank_ctx()
    parse("rank_points", {"of": "growth", "order": "best", "full": 3, "step": -1, "ties": "shared",
                          "exclude": "bonded", "excluded_points": {"choice": "bad"}}, ctx, clean=False)
    assert sorted(ctx.codes()) == ["E198", "E199", "E199"]


def test_rank_with_tie_break_last_and_ties() -> None:
    args = parse("rank", {"of": "total", "within": "zone_type", "order": "higher_first", "tie_break": ["tb"],
                          "last": "incident"}, rank_ctx())
    assert OPS["rank"].cohort and not OPS["rank"].points
    assert args.reads() == ("total", "zone_type", "tb", "incident")
    rows = [{"id": "a", "total": F(90), "tb": F(1), "incident": True, "zone_type": "k"},
            {"id": "b", "total": F(60), "tb": F(5), "incident": False, "zone_type": "k"},
            {"id": "c", "total": F(60), "tb": F(7), "incident": False, "zone_type": "k"},
            {"id": "d", "total": F(60), "tb": F(7), "incident": False, "zone_type": "k"},
            {"id": "e", "total": F(50), "tb": F(0), "incident": False, "zone_type": "k"},
            {"id": "f", "total": F(10), "tb": F(0), "incident": False, "zone_type": "o"}]
    got = cohort("rank", args, rows)
    assert [c.value for c in got] == [5, 3, 1, 1, 4, 1]
    assert got[0].detail["forced_last"] is True and got[0].detail["last"] is True
    assert got[0].steps[0].zh == "incident 成立：列为最后"
    assert got[2].detail["tied_with"] == ["d"] and got[5].detail["last"] is True
    dense = parse("rank", {"of": "total", "order": "higher_first", "tie_break": [{"of": "tb", "order": "lower_first"}],
                           "ties": "dense"}, rank_ctx())
    got = cohort("rank", dense, rows)
    assert [c.value for c in got] == [1, 2, 3, 3, 4, 5]
    unknown = cohort("rank", args, [rows[1], {**rows[2], "total": None}, {**rows[3], "incident": None}])
    assert unknown[1].value is None and unknown[0].detail["provisional"] is True
    assert unknown[2].value == 1 and unknown[2].detail["forced_last"] is None  # ranked by its points, provisional


# ---------------------------------------------------------------------------------------------
# Equivalence with format-1 scoring (engine/explain/scoring.py) on the Yangzhou pack


ROOT = Path(__file__).resolve().parent.parent
YZ_PACK = str(ROOT / "tests" / "format1" / "rules" / "yangzhou-zone-evaluation.yaml")
YZ_ZONES = str(ROOT / "fixtures" / "yangzhou-zones.yaml")
YZ_AS_OF = dt.date(2024, 12, 31)


def yangzhou_format2(sp: Any, choices: dict[str, str]) -> tuple[FakeContext, list[tuple[str, str, Any]]]:
    """The Yangzhou indicators as format-2 values, in dependency order: (name, op, args)."""
    names: dict[str, tuple[str, str | None]] = {}
    for name, spec in sp.decisions.inputs.items():
        sort = "enum" if spec.type == "enum" else "boolean" if spec.type == "boolean" else "number"
        names[name] = (sort, spec.unit.name if spec.unit else None)
    ctx = FakeContext(names, choices={"rank_ties": ("shared", "dense"), "step_rounding": ("whole", "proportional")})
    plan: list[tuple[str, str, Any]] = []

    def add(name: str, key: str, raw: Any) -> None:
        ctx.names[name] = ("number", None)
        plan.append((name, key, parse(key, raw, ctx)))

    for ind in sp.indicators:
        inner = []
        for part in ind.parts:
            if part.kind == "rank":
                rule = part.rank
                raw = {"of": rule.input, "within": sp.cohort_input, "order": rule.order, "full": fraction_json(rule.full),
                       "step": fraction_json(rule.step), "ties": {"choice": "rank_ties"}, "missing": "zero"}
                if rule.floor is not None:
                    raw["floor"] = fraction_json(rule.floor)
                add(part.id, "rank_points", raw)
            elif part.kind == "items":
                items = []
                for item in part.items:
                    entry: dict[str, Any] = {"of": item.input, "points": fraction_json(item.points)}
                    if item.per is not None:
                        entry.update(per=item.per_text, steps={"choice": "step_rounding"})
                    items.append(entry)
                add(part.id + "_items", "items", {"items": items})
            inner.append(part.id if part.kind == "rank" else part.id + "_items")
        if ind.weighted:
            add(ind.id + "_weighted", "weighted", [{"of": n, "weight": fraction_json(p.weight * 100) + "%"} for n, p in zip(inner, ind.parts)])
            inner = [ind.id + "_weighted"]
        group: dict[str, Any] = {"of": inner}
        if ind.cap is not None:
            group["cap"] = fraction_json(ind.cap)
        add(ind.id, "group", group)
    add("total", "group", {"of": [ind.id for ind in sp.indicators]})
    last = [v.id for v in sp.vetoes if v.effect == "last_place"]
    assert last == ["major_incident_last"]
    ctx.names["major_incident_last"] = ("criterion", None)
    add("place", "rank", {"of": "total", "within": sp.cohort_input, "order": "higher_first",
                          "tie_break": list(sp.choices["tie_break"]), "last": "major_incident_last"})
    return ctx, plan


def run_format2(sp: Any, zones_file: str, choices: dict[str, str]) -> dict[str, dict[str, Computed]]:
    from engine.evaluate.normalize import normalise
    from engine.evaluate.pipeline import entities

    from engine.evaluate.evaluate import Decider

    problems: list[Any] = []
    rows = [entity for entity, _ in entities([zones_file], problems)]
    decider = Decider(sp.decisions, "reference")
    envs = []
    for entity in rows:
        values = dict(normalise(sp.decisions, entity).values)
        # the veto is decided as format 1 decides it (a yes/no, here from the compiled pack)
        values["major_incident_last"] = Status(decider.decide(values).flags["major_incident_last"])
        values = {k: (Fraction(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in values.items()}
        values.update(choices)
        envs.append(FakeEnv(values, entity_id=entity.id))
    _, plan = yangzhou_format2(sp, {})
    out: dict[str, dict[str, Computed]] = {env.entity_id: {} for env in envs}
    for name, key, args in plan:
        if OPS[key].cohort:
            results = COMPUTE_COHORT[key](args, envs)
        else:
            results = [COMPUTE[key](args, env) for env in envs]
        for env, result in zip(envs, results):
            env.values[name] = result.value
            out[env.entity_id][name] = result
    return out


def compare_with_format1(zones_file: str, choices: dict[str, str]) -> int:
    from engine.explain.scoring import load_scoring_pack, score_files, zone_index

    # format 1 reads its choices when the pack is built: set them as `--set choices.NAME=` does
    sp, _ = load_scoring_pack(YZ_PACK, YZ_AS_OF, {f"choices.{k}": ("test", v) for k, v in choices.items()})
    assert {k: sp.choices[k] for k in choices} == choices
    problems: list[Any] = []
    zones = zone_index(score_files(sp, [zones_file], "reference", problems))
    mine = run_format2(sp, zones_file, choices)
    assert set(mine) == set(zones)
    for zone_id, zone in zones.items():
        got = mine[zone_id]
        for ind in zone["indicators"]:
            for part in ind["parts"]:
                if part["kind"] == "rank":
                    expected = F(part["rank_points"]) if part["rank_points"] is not None else F(0)
                    assert got[part["id"]].value == expected, (zone_id, part["id"])
                    assert got[part["id"]].detail["place"] == part["place"], (zone_id, part["id"])
                    assert got[part["id"]].detail["of"] == part["of"], (zone_id, part["id"])
            assert got[ind["id"]].value == F(ind["points"]), (zone_id, ind["id"])
            assert got[ind["id"]].detail["cap_applied"] == ind["cap_applied"], (zone_id, ind["id"])
        assert got["total"].value == F(zone["total"]), zone_id
        assert got["place"].value == zone["rank"], zone_id
        assert got["place"].detail["last"] == zone["last"], zone_id
        assert got["place"].detail["of"] == zone["of"], zone_id
    return len(zones)


@pytest.mark.parametrize("ties, rounding", [("shared", "whole"), ("dense", "proportional")])
def test_rank_points_and_rank_reproduce_format1_scoring_on_the_yangzhou_fixtures(ties: str, rounding: str) -> None:
    assert compare_with_format1(YZ_ZONES, {"rank_ties": ties, "step_rounding": rounding}) == 14


def test_rank_points_and_rank_reproduce_format1_scoring_on_generated_cohorts(tmp_path: Any) -> None:
    # The fixture zones with their ranked figures redrawn from a few values, so ties are common,
    # and incidents moved around: each run is compared zone by zone with format 1.
    import random

    import yaml

    doc = yaml.safe_load(Path(YZ_ZONES).read_text(encoding="utf-8"))
    rng = random.Random(20261203)
    ranked = {"sales_growth": ["5%", "10%", "10%", "25%", "-3%"], "tax_total": [100, 200, 200, 50000],
              "specialty_share": ["50%", "60%", "60%"], "above_scale_tax": [1000, 2000, 2000], "new_listed_firms": [0, 1, 4],
              "standard_factory_area": ["0.5万平方米", "1.8万平方米", "12万平方米"], "major_incident": ["是", "否", "否", "否"]}
    for run in range(6):
        for zone in doc["entities"]:
            for name, options in ranked.items():
                if rng.random() < 0.7:
                    zone[name] = rng.choice(options)
        path = tmp_path / f"zones{run}.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        ties = ("shared", "dense")[run % 2]
        assert compare_with_format1(str(path), {"rank_ties": ties, "step_rounding": ("whole", "proportional")[run // 3]}) == 14


# ---------------------------------------------------------------------------------------------
# Through the real format-2 builder (engine/compile/build2.py) and runner (engine/evaluate/run2.py)


POINTS_PACK = """\
format: 2
pack:
  id: demo-points
  version: "1.0.0"
  entity: zone
  title: {zh: 计分演示, en: points demo}
  effective: "2020-01-01"
inputs:
  zone_type: {type: enum, label: {zh: 类型}, values: {k: {zh: 重点}, o: {zh: 优化}}}
  growth: {type: percent, signed: true, unit: "%", label: {zh: 增幅}}
  staff_share: {type: percent, unit: "%", label: {zh: 科技人员占比}}
  incident: {type: boolean, label: {zh: 发生较大事故}}
parameters:
  group_min: {value: 20分, cite: 第六条, label: {zh: 小计最低要求}}
choices:
  rank_ties:
    label: {zh: 并列名次}
    cite: 办法 1
    options: {shared: {zh: 并列顺延}, dense: {zh: 并列连续}}
    default: shared
    reason: 原文未规定。
values:
  staff_points:
    label: {zh: 科技人员得分}
    bands: {of: staff_share, bands: [{at_least: 30%, points: 20}, {at_least: 10%, below: 30%, points: 10}, {below: 10%, points: 0}]}
  growth_points:
    label: {zh: 增幅排名得分}
    rank_points: {of: growth, within: zone_type, order: higher_first, full: 10, step: 0.5, floor: 0, ties: {choice: rank_ties}}
  subtotal:
    label: {zh: 小计}
    group: {of: [staff_points, growth_points], cap: 25, minimum: group_min}
  place:
    label: {zh: 名次}
    unit: 名
    rank: {of: subtotal, within: zone_type, order: higher_first, last: placed_last}
criteria:
  placed_last:
    title: {zh: 发生较大事故列为最后一名}
    cite: 办法 10
    test: {value: incident, op: is_true}
  meets_minimum:
    title: {zh: 小计达到最低要求}
    cite: 第六条
    test: {value: subtotal, op: ">=", param: group_min}
outcomes:
  decision: meets_minimum
"""


def test_points_ops_through_the_format2_builder_and_runner(tmp_path: Any) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(POINTS_PACK), encoding="utf-8")
    doc, raw = load_yaml_file(str(path))
    assert check_pack2(doc, dt.date(2024, 12, 31)) == []
    pack = build2(doc, raw, dt.date(2024, 12, 31), None)
    rows = [{"id": "a", "zone_type": "k", "growth": "9%", "staff_share": "35%", "incident": True},
            {"id": "b", "zone_type": "k", "growth": "5%", "staff_share": "12%", "incident": False},
            {"id": "c", "zone_type": "k", "growth": "5%", "staff_share": "5%", "incident": False}]
    subjects, problems = subjects_from_dicts(pack, rows)
    assert problems == []
    a, b, c = evaluate2(pack, subjects)
    assert a.value("staff_points").value == 20 and a.value("growth_points").value == 10
    assert a.value("subtotal").value == 25  # 30 capped at 25
    assert a.value("place").value == 3  # placed last by the criterion
    assert b.value("growth_points").value == F(19, 2) and c.value("growth_points").value == F(19, 2)
    assert b.value("subtotal").value == F(39, 2) and b.outcome is Outcome.FAIL
    assert [b.value("place").value, c.value("place").value] == [1, 2]
    assert a.outcome is Outcome.PASS
    assert a.criterion("placed_last").status is Status.MET


def test_points_problems_through_the_format2_builder_point_at_the_line(tmp_path: Any) -> None:
    text = textwrap.dedent(POINTS_PACK).replace("{at_least: 10%, below: 30%, points: 10}", "{above: 10%, below: 30%, points: 10}")
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    doc, _ = load_yaml_file(str(path))
    found = [(p.code, p.line) for p in check_pack2(doc, dt.date(2024, 12, 31))]
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if "above: 10%" in row)
    assert [code for code, _ in found] == ["E196"] and found[0][1] == line


def test_yangzhou_converted_by_migrate_decides_places_as_format1_with_missing_zero() -> None:
    # The lead's converter (engine/load/format1.py) refuses missing_value: zero (E201); written as
    # `missing: zero` on each rank_points value, the converted pack built by build2 and run by run2
    # gives every zone format 1's total and place (K08 lacks a figure: 0 points there, ranked).
    from engine.evaluate.pipeline import entities
    from engine.evaluate.run2 import subject_of
    from engine.explain.scoring import load_scoring_pack, score_files, zone_index
    from engine.load.format1 import convert

    doc, _ = load_yaml_file(YZ_PACK)
    conversion = convert(doc)
    value = conversion.document.value
    value.get("outcomes", {}).pop("consequences", None)  # they read result_last (E202): not points
    rank_values = [spec["rank_points"] for spec in value["values"].values() if "rank_points" in spec]
    assert len(rank_values) == 8
    for spec in rank_values:
        spec["missing"] = "zero"
    pack = build2(conversion.document, b"", YZ_AS_OF, None)
    subjects = [subject_of(pack, entity)[0] for entity, _ in entities([YZ_ZONES], [])]
    records = {r.entity_id: r for r in evaluate2(pack, subjects)}
    sp, _ = load_scoring_pack(YZ_PACK, YZ_AS_OF)
    zones = zone_index(score_files(sp, [YZ_ZONES], "reference", []))
    assert set(records) == set(zones)
    for ident, zone in zones.items():
        assert records[ident].value("total").value == F(zone["total"]), ident
        assert records[ident].value("place").value == zone["rank"], ident


# ---------------------------------------------------------------------------------------------
# Missing figures scored 0 (format 1's missing_value: zero): lower bounds, provisional places,
# held awards; tied places splitting their awards; "placed last" as a value


def test_items_per_unit_and_bands_score_a_missing_figure_zero_as_a_lower_bound() -> None:
    ctx = capacity_ctx()
    args = parse("items", {"items": [{"of": "firms", "points": 3}, {"of": "gazelles", "points": 1}], "cap": 10,
                           "missing": "zero"}, ctx)
    got = compute("items", args, firms=F(2))
    assert got.value == 6 and got.missing == ("gazelles",) and got.detail["provisional"] is True
    assert got.steps[1].zh == "gazelles 缺少数据，记0分" and got.steps[-1].zh == "gazelles 缺少数据，按0分计：6分为下限（暂定）"
    assert compute("items", args, firms=F(2), gazelles=F(1)).missing == ()  # nothing missing: known
    # without missing: zero the points are unknown, never 0
    plain = parse("items", {"items": [{"of": "firms", "points": 3}, {"of": "gazelles", "points": 1}]}, capacity_ctx())
    assert compute("items", plain, firms=F(2)).value is None
    per = parse("per_unit", {"of": "land", "per": "50亩", "points": 2, "steps": "whole", "missing": "zero"}, capacity_ctx())
    got = compute("per_unit", per)
    assert got.value == 0 and got.missing == ("land",) and got.detail["provisional"] is True
    bands = parse("bands", {**D_STAFF, "missing": "zero"}, staff_ctx())
    got = compute("bands", bands)
    assert got.value == 0 and got.missing == ("staff_share",)
    assert compute("bands", bands, staff_share=money("31%")).value == 20
    ctx = capacity_ctx()
    parse("items", {"items": [{"of": "firms", "points": 3}], "missing": "ignore"}, ctx, clean=False)
    assert ctx.codes() == ["E199"]


SCORED_PACK = """\
format: 2
pack: {id: scored, version: "1.0.0", entity: zone, title: {zh: 计分与奖励}, effective: "2020-01-01"}
inputs:
  zone_type: {type: enum, label: {zh: 类型}, values: {k: {zh: 重点}}}
  growth: {type: percent, unit: "%", label: {zh: 增幅}}
  firms: {type: count, unit: 家, label: {zh: 新增企业}}
  incident: {type: boolean, label: {zh: 发生较大事故}}
parameters:
  total_min: {value: 10分, cite: 第六条, label: {zh: 总分最低要求}}
values:
  growth_points:
    label: {zh: 增幅排名得分}
    rank_points: {of: growth, within: zone_type, order: higher_first, full: 10, step: 1, ties: shared, missing: zero}
  firm_points:
    label: {zh: 企业培育得分}
    items: {items: [{of: firms, points: 2}], cap: 10, missing: zero}
  total:
    label: {zh: 总分}
    group: {of: [growth_points, firm_points]}
  place:
    label: {zh: 名次}
    unit: 名
    rank: {of: total, within: zone_type, order: higher_first, ties: split, last: placed_last}
  place_is_last:
    label: {zh: 列最后一名}
    placed_last: place
criteria:
  placed_last:
    title: {zh: 发生较大事故列为最后一名}
    test: {value: incident, op: is_true}
  high_total:
    title: {zh: 总分达到要求}
    test: {value: total, op: ">=", param: total_min}
outcomes:
  decision: high_total
  awards:
    place: place
    by_group:
      k:
        - {place: 1, amount: 500万元}
        - {place: 2, amount: 300万元}
        - {place: 3, amount: 100万元}
  consequences:
    - {id: interview, title: {zh: 最后一名约谈}, when: {value: place_is_last, op: is_true}}
"""


def _scored(rows: list[dict[str, Any]], tmp_path: Any) -> dict[str, Any]:
    path = tmp_path / "scored.yaml"
    path.write_text(SCORED_PACK, encoding="utf-8")
    doc, raw = load_yaml_file(str(path))
    assert check_pack2(doc, dt.date(2024, 12, 31)) == []
    pack = build2(doc, raw, dt.date(2024, 12, 31), None)
    subjects, problems = subjects_from_dicts(pack, rows)
    assert problems == []
    return {r.entity_id: r for r in evaluate2(pack, subjects)}


def test_a_missing_figure_gives_a_lower_bound_total_a_provisional_place_and_a_held_award(tmp_path: Any) -> None:
    rows = [{"id": "a", "zone_type": "k", "growth": "9%", "firms": 1, "incident": False},
            {"id": "b", "zone_type": "k", "firms": 5, "incident": False},            # growth missing: 0, lower bound
            {"id": "c", "zone_type": "k", "growth": "5%", "firms": 0, "incident": False}]
    got = _scored(rows, tmp_path)
    a, b, c = got["a"], got["b"], got["c"]
    assert [a.value("total").value, b.value("total").value, c.value("total").value] == [12, 10, 9]
    assert b.value("growth_points").missing == ("growth",) and b.value("total").missing == ("growth",)
    assert b.value("total").detail["provisional"] is True and a.value("total").missing == ()
    # ranked on the lower bound, as format 1 does; its place is provisional, the others' are not
    assert [a.value("place").value, b.value("place").value, c.value("place").value] == [1, 2, 3]
    assert b.value("place").detail["provisional"] is True and a.value("place").detail["provisional"] is False
    assert b.value("place").steps[-1].zh == "growth 缺少数据，按下限排名：名次暂定"
    assert (b.award.status, b.award.place, b.award.amount, b.award.held) == ("pending", 2, None, 300 * 10**4)
    assert (a.award.status, a.award.amount) == ("awarded", 500 * 10**4)
    # durable-rules never reads a lower bound as the value: the total test is unknown for b
    assert b.criterion("high_total").status is Status.UNKNOWN and a.criterion("high_total").status is Status.MET
    assert c.criterion("high_total").status is Status.NOT_MET
    # placed last as a value, read by a consequence
    assert [r.value("place_is_last").value for r in (a, b, c)] == [False, False, True]
    assert {r.entity_id: {n.id: n.status for n in r.notes}["interview"] for r in (a, b, c)} == {
        "a": Status.NOT_MET, "b": Status.NOT_MET, "c": Status.MET}


def test_tied_places_split_the_awards_of_the_places_they_occupy(tmp_path: Any) -> None:
    rows = [{"id": "a", "zone_type": "k", "growth": "9%", "firms": 1, "incident": False},
            {"id": "b", "zone_type": "k", "growth": "9%", "firms": 1, "incident": False},
            {"id": "c", "zone_type": "k", "growth": "5%", "firms": 0, "incident": True},   # placed last
            {"id": "d", "zone_type": "k", "growth": "1%", "firms": 0, "incident": False}]
    got = _scored(rows, tmp_path)
    assert [got[i].value("place").value for i in "abcd"] == [1, 1, 4, 3]
    for ident in "ab":  # places 1 and 2: (500 + 300) / 2 each
        award = got[ident].award
        assert (award.status, award.place, award.amount, award.shared_with) == ("awarded", 1, 400 * 10**4, 2)
    assert (got["d"].award.status, got["d"].award.place, got["d"].award.amount) == ("awarded", 3, 100 * 10**4)
    assert got["d"].award.shared_with is None and got["c"].award.status == "none"
    assert got["c"].value("place_is_last").value is True and got["c"].value("place").detail["forced_last"] is True
