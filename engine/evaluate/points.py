"""Format-2 points operations (bands, map, per_unit, rank_points, group…): how each is computed (a function registered with `@computes`).

See docs/format2.md for the language and engine/evaluate/ops.py for the registry. Points are
arithmetic: exact Fractions, each step shown in Chinese and English ("22% 落在 [20%, 25%) 档：
12分"), with the facts a view or a suite needs in `detail` (the band and its endpoints, the cap
and whether it applied, the step count, the place). Every yes/no a rule reads (a `when`, an
`exclude`, a `last`) was decided by durable-rules before; here it is only read.

Unknown: a rule whose operand is unknown is unknown (`value=None`) and lists the names it
could not read in `missing` (the builder maps a value's name to the inputs it depends on).

A lower bound (format 1's scoring `missing_value: zero`): with `missing: zero`, a missing figure
scores 0 and the points are a lower bound, provisional - a value AND the names it lacks in
`missing` (`detail["provisional"]`). Env.get gives such a value as unknown, so no other operation
and no criterion reads it as if it were known; a weighted sum, a group and a rank, whose result is
again a lower bound (points are never negative) or a provisional place, read it through
`Env.lower_bound` and carry the names on.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Sequence

from engine.compile.points import (
    Amount,
    Band,
    BandsArgs,
    BaselineStepArgs,
    ChoiceRef,
    DeductionsArgs,
    GroupArgs,
    ItemsArgs,
    MapArgs,
    Option,
    PerUnit,
    PerUnitArgs,
    PlacedLastArgs,
    RankArgs,
    RankPointsArgs,
    WeightedArgs,
    option_points,
)
from engine.core.problems import DecisionError
from engine.core.status import Status
from engine.core.units import Unit, format_amount, format_number
from engine.evaluate.ops import Computed, Env, Step, computes, computes_cohort


def pts(value: Fraction) -> tuple[str, str]:
    """Points as shown: ("12分", "12 points")."""
    text = format_number(value)
    return f"{text}分", f"{text} point{'' if value == 1 else 's'}"


def pct(weight: Fraction) -> str:
    return f"{format_number(weight * 100)}%"


def shown_value(value: Any, unit: Unit | None) -> str:
    if isinstance(value, Fraction):
        return format_amount(value, unit)
    return str(value)


class _Reader:
    """Reads names and amounts from an Env, remembering every name that was unknown."""

    def __init__(self, env: Env):
        self.env = env
        self.missing: list[str] = []
        self.partial: list[str] = []  # names lacking behind a lower bound read (a figure scored 0)

    def get(self, name: str) -> Any:
        value = self.env.get(name)
        if value is None and name not in self.missing:
            self.missing.append(name)
        return value

    def number(self, name: str, *, lower_bound: bool = False) -> Fraction | None:
        """A number; with `lower_bound`, a lower bound (a value with a figure scored 0) counts as
        the number, and what it lacks is remembered in `partial`."""
        if lower_bound:
            read = getattr(self.env, "lower_bound", None)  # a fake Env in a test may not have it
            bound = read(name) if read is not None else None
            if bound is not None:
                self.partial.extend(n for n in bound[1] if n not in self.partial)
                return Fraction(bound[0])
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
            raise TypeError(f"{name} is not a number: {value!r}")  # the builder checks sorts (E183)
        return Fraction(value)

    def amount(self, amount: Amount | None) -> Fraction | None:
        if amount is None or isinstance(amount, Fraction):
            return amount
        return self.number(amount.name)

    def option(self, option: Option) -> str | None:
        if isinstance(option, ChoiceRef):
            value = self.get(option.name)
            return None if value is None else str(value)
        return option

    def holds(self, name: str) -> bool | None:
        """A condition: True / False, None when unknown. Not applicable does not hold."""
        value = self.get(name)
        if isinstance(value, bool):
            return value
        if value is None or value == Status.UNKNOWN:
            if name not in self.missing:
                self.missing.append(name)
            return None
        return value == Status.MET

    def figure(self, name: str, zero: bool) -> Fraction | None:
        """A scored figure: with `zero` (missing: zero), a missing one is 0 and remembered in
        `partial`; otherwise as `number`."""
        value = self.number(name, lower_bound=zero)
        if value is None and zero:
            self.missing.remove(name)
            if name not in self.partial:
                self.partial.append(name)
            return None
        return value

    def result(self, value: Fraction, steps: list[Step] | tuple[Step, ...], detail: dict[str, Any]) -> Computed:
        """A computed value: known, or a lower bound when a figure it reads was scored 0."""
        if not self.partial:
            return Computed(value, tuple(steps), detail=detail)
        partial = tuple(self.partial)
        return Computed(value, tuple(steps) + (Step.later(_lower_bound_text, partial, value),),
                        partial, None, {**detail, "provisional": True})

    def unknown(self, steps: list[Step] | tuple[Step, ...] = (), reason: Step | None = None,
                detail: dict[str, Any] | None = None) -> Computed:
        missing = tuple(self.missing)
        if reason is None and missing:
            reason = Step.later(_no_points_text, missing)
        return Computed(None, tuple(steps), missing, reason, detail or {})


def _lower_bound_text(partial: tuple[str, ...], value: Fraction) -> tuple[str, str]:
    zh, en = pts(value)
    return (f"{'、'.join(partial)} 缺少数据，按0分计：{zh}为下限（暂定）",
            f"{', '.join(partial)} missing, scored 0: {en} is a lower bound (provisional)")


def _no_points_text(missing: tuple[str, ...]) -> tuple[str, str]:
    return f"{'、'.join(missing)} 未知，无法计分", f"{', '.join(missing)} unknown: no points can be computed"


# ---------------------------------------------------------------------------------------------
# bands


@computes("bands")
def compute_bands(args: BandsArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    value = r.figure(args.of, r.option(args.missing) == "zero")
    if value is None:
        if r.partial and not r.missing:
            return r.result(Fraction(0), (Step(f"{args.of} 缺少数据，记0分", f"{args.of} missing: 0 points"),),
                            {"value": None, "band": None, "points": Fraction(0)})
        return r.unknown()
    for index, band in enumerate(args.bands):
        if not in_band(band, value):
            continue
        points = r.amount(band.points)
        text = _band_text(args, band)
        detail = {"value": value, "band": index, "band_text": text, "low": band.low, "low_included": band.low_included,
                  "high": band.high, "high_included": band.high_included, "points": points}
        if points is None:
            return r.unknown(detail=detail)
        return Computed(points, (Step.later(_in_band_text, value, args.unit, text, points),), detail=detail)
    shown = shown_value(value, args.unit)
    detail = {"value": value, "band": None, "otherwise": True}
    if args.otherwise is None:  # the parser refuses gaps (E196); only a rounding-free value can land here
        return r.unknown(reason=Step(f"{shown} 不在任何一档", f"{shown} is in no band"), detail=detail)
    points = r.amount(args.otherwise)
    if points is None:
        return r.unknown(detail=detail)
    zh, en = pts(points)
    detail["points"] = points
    return Computed(points, (Step(f"{shown} 不在所列各档：其他情形 {zh}", f"{shown} is in no listed band: otherwise {en}"),),
                    detail=detail)


def in_band(band: Band, value: Fraction) -> bool:
    """`band.holds(value)`, compared in whole numbers: a − b has the sign of a.n × b.d − b.n × a.d
    (denominators are positive), so each end costs two integer products instead of a Fraction
    comparison (the bands of a pack are tried for every entity)."""
    n, d = value.numerator, value.denominator
    low, high = band.low, band.high
    if low is not None:
        above = n * low.denominator - low.numerator * d
        if above < 0 or (above == 0 and not band.low_included):
            return False
    if high is not None:
        below = high.numerator * d - n * high.denominator
        if below < 0 or (below == 0 and not band.high_included):
            return False
    return True


# a band as written, per band of the pack (the same for every entity), by the identities of the
# band and its unit: hashing them hashes their Fractions, which costs more than writing it; bounded
_BAND_TEXT: dict[tuple[int, int], tuple[Band, Unit | None, str]] = {}


def _band_text(args: BandsArgs, band: Band) -> str:
    unit = args.unit
    key = (id(band), id(unit))
    known = _BAND_TEXT.get(key)
    if known is None or known[0] is not band or known[1] is not unit:  # an id is reused only once its object is gone
        if len(_BAND_TEXT) > 4096:  # bounded: a long-running server compiles many packs
            _BAND_TEXT.clear()
        known = _BAND_TEXT[key] = (band, unit, args.text(band))
    return known[2]


def _in_band_text(value: Fraction, unit: Unit | None, text: str, points: Fraction) -> tuple[str, str]:
    shown = shown_value(value, unit)
    zh, en = pts(points)
    return f"{shown} 落在 {text} 档：{zh}", f"{shown} is in band {text}: {en}"


# ---------------------------------------------------------------------------------------------
# map


@computes("map")
def compute_map(args: MapArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    if args.of is not None:
        value = r.get(args.of)
        if value is None:
            return r.unknown()
        key = value if isinstance(value, bool) else str(value)
        shown = ("是" if key else "否", "yes" if key else "no") if isinstance(key, bool) else (key, key)
        for option, amount in args.points:
            if option == key and type(option) is type(key):
                points = r.amount(amount)
                if points is None:
                    return r.unknown(detail={"value": value, "taken": option})
                return Computed(points, (Step.later(_map_text, args.of, shown, points),),
                                detail={"value": value, "taken": option, "points": points})
        return _otherwise(r, args.otherwise, {"value": value, "taken": None},
                          Step(f"{args.of} 为 {shown[0]}，未列出", f"{args.of} is {shown[1]}, not listed"))
    for index, (condition, amount) in enumerate(args.highest):
        holds = r.holds(condition)
        if holds is None:
            # An earlier item unknown: which one is the first that holds cannot be told.
            return r.unknown(reason=Step(f"无法确定最高一项：{condition} 未判定", f"cannot tell the highest item held: {condition} undecided"),
                             detail={"taken": None, "undecided": condition})
        if holds:
            points = r.amount(amount)
            if points is None:
                return r.unknown(detail={"taken": index, "condition": condition})
            return Computed(points, (Step.later(_highest_text, condition, points),),
                            detail={"taken": index, "condition": condition, "points": points})
    return _otherwise(r, args.otherwise, {"taken": None}, Step("所列各项均不具备", "none of the listed items held"))


def _otherwise(r: _Reader, amount: Amount | None, detail: dict[str, Any], why: Step) -> Computed:
    if amount is None:
        return r.unknown(reason=Step(f"{why.zh}，且未规定其他情形的分值", f"{why.en}, and no `otherwise` points"), detail=detail)
    points = r.amount(amount)
    if points is None:
        return r.unknown(detail=detail)
    return Computed(points, (Step.later(_otherwise_text, why, points),), detail={**detail, "points": points})


def _map_text(of: str, shown: tuple[str, str], points: Fraction) -> tuple[str, str]:
    zh, en = pts(points)
    return f"{of} 为 {shown[0]}：{zh}", f"{of} is {shown[1]}: {en}"


def _highest_text(condition: str, points: Fraction) -> tuple[str, str]:
    zh, en = pts(points)
    return f"所具备的最高一项：{condition}：{zh}", f"highest item held: {condition}: {en}"


def _otherwise_text(why: Step, points: Fraction) -> tuple[str, str]:
    zh, en = pts(points)
    return f"{why.zh}：其他情形 {zh}", f"{why.en}: otherwise {en}"


# ---------------------------------------------------------------------------------------------
# weighted


@computes("weighted")
def compute_weighted(args: WeightedArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    values = [(name, r.number(name, lower_bound=True), weight) for name, weight in args.parts]
    if r.missing:
        return r.unknown()
    total = sum((v * w for _, v, w in values if v is not None), Fraction(0))
    terms = tuple((v, w) for _, v, w in values if v is not None)
    return r.result(total, (Step.later(_weighted_text, terms, total),),
                    {"parts": [{"of": n, "points": v, "weight": w, "weighted": v * w} for n, v, w in values if v is not None]})


def _weighted_text(terms: tuple[tuple[Fraction, Fraction], ...], total: Fraction) -> tuple[str, str]:
    zh, en = pts(total)
    return (" + ".join(f"{pts(v)[0]} × {pct(w)}" for v, w in terms) + f" = {zh}",
            " + ".join(f"{format_number(v)} × {pct(w)}" for v, w in terms) + f" = {en}")


# ---------------------------------------------------------------------------------------------
# group


@computes("group")
def compute_group(args: GroupArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    values = [(name, r.number(name, lower_bound=True)) for name in args.parts]
    cap = r.amount(args.cap)
    # An unset minimum (a parameter the policy leaves blank) leaves the subtotal known: only the
    # criterion testing the minimum is unknown, and durable-rules decides that.
    minimum = args.minimum if isinstance(args.minimum, Fraction) or args.minimum is None else env.get(args.minimum.name)
    known = sum((v for _, v in values if v is not None), Fraction(0))
    detail: dict[str, Any] = {"parts": {n: v for n, v in values}, "cap": cap, "minimum": minimum}
    if r.missing:
        detail["known_subtotal"] = known  # a lower bound when every part is non-negative
        return r.unknown(detail=detail)
    subtotal = known
    steps = [Step.later(_subtotal_text, tuple(v for _, v in values if v is not None), subtotal)]
    value = subtotal
    capped = cap is not None and subtotal > cap
    if capped:
        assert cap is not None
        value = cap
        steps.append(Step.later(_over_cap_text, cap))
    detail.update(subtotal=value, uncapped=subtotal, cap_applied=capped)
    if args.minimum is not None and minimum is None:
        steps.append(Step.later(_no_minimum_text, value))
    if minimum is not None and not r.partial:
        meets = value >= minimum
        detail["meets_minimum"] = meets
        steps.append(Step.later(_minimum_text, value, minimum, meets))
    return r.result(value, steps, detail)


def _subtotal_text(values: tuple[Fraction, ...], subtotal: Fraction) -> tuple[str, str]:
    return (" + ".join(pts(v)[0] for v in values) + f" = 小计 {pts(subtotal)[0]}",
            " + ".join(format_number(v) for v in values) + f" = subtotal {pts(subtotal)[1]}")


def _over_cap_text(cap: Fraction) -> tuple[str, str]:
    return f"超过上限 {pts(cap)[0]}，计 {pts(cap)[0]}", f"over the cap of {pts(cap)[1]}: {pts(cap)[1]}"


def _below_floor_text(floor: Fraction) -> tuple[str, str]:
    return f"低于下限 {pts(floor)[0]}，计 {pts(floor)[0]}", f"below the floor of {pts(floor)[1]}: {pts(floor)[1]}"


def _no_minimum_text(value: Fraction) -> tuple[str, str]:
    return f"小计 {pts(value)[0]}，最低要求未设定", f"subtotal {pts(value)[1]}, minimum not set"


def _minimum_text(value: Fraction, minimum: Fraction, meets: bool) -> tuple[str, str]:
    word_zh, word_en = ("已达到", "met") if meets else ("未达到", "not met")
    return (f"小计 {pts(value)[0]}，最低要求 {pts(minimum)[0]}（{word_zh}）",
            f"subtotal {pts(value)[1]}, minimum {pts(minimum)[1]} ({word_en})")


# ---------------------------------------------------------------------------------------------
# per_unit and items


def _cap_step(value: Fraction, cap: Fraction | None) -> tuple[Fraction, bool, Step | None]:
    if cap is not None and value > cap:
        return cap, True, Step.later(_over_cap_text, cap)
    return value, False, None


def _per_unit_points(rule: PerUnit, r: _Reader, zero: bool = False) -> tuple[Fraction | None, Step | None, dict[str, Any]]:
    """(points before any cap, the step, detail) for one per-unit rule; None when unknown. With
    `zero` (missing: zero) a missing figure scores 0 and is remembered in `r.partial`."""
    value = r.figure(rule.of, zero)
    if value is None and rule.of in r.partial:
        return Fraction(0), Step(f"{rule.of} 缺少数据，记0分", f"{rule.of} missing: 0 points"), \
            {"of": rule.of, "value": None, "points": Fraction(0), "missing": True}
    per = r.amount(rule.per)
    each = r.amount(rule.points)
    steps = r.option(rule.steps) if rule.steps is not None else None
    if value is None or each is None or (rule.per is not None and (per is None or steps is None)):
        return None, None, {"of": rule.of, "value": value}
    if per is None:
        points = value * each
        return points, Step.later(_per_unit_text, rule, value, None, None, None, each, points), \
            {"of": rule.of, "value": value, "units": value, "counted": value, "points_each": each, "points": points}
    units = value / per
    counted = Fraction(math.floor(units)) if steps == "whole" else units
    points = counted * each
    return points, Step.later(_per_unit_text, rule, value, per, units, counted, each, points), \
        {"of": rule.of, "value": value, "per": per, "units": units, "counted": counted,
         "steps": steps, "points_each": each, "points": points}


def _per_unit_text(rule: PerUnit, value: Fraction, per: Fraction | None, units: Fraction | None,
                   counted: Fraction | None, each: Fraction, points: Fraction) -> tuple[str, str]:
    shown = shown_value(value, rule.unit)
    if per is None:
        return (f"{rule.of} {shown} × {pts(each)[0]} = {pts(points)[0]}",
                f"{rule.of} {shown} × {pts(each)[1]} = {pts(points)[1]}")
    assert units is not None and counted is not None
    per_text = shown_value(per, rule.unit)
    if counted != units:  # whole steps only, and the value is not a whole number of them
        return ((f"{rule.of} {shown} ÷ {per_text} = {format_number(units)}，只计整数 {format_number(counted)} 个单位"
                 f" × {pts(each)[0]} = {pts(points)[0]}"),
                (f"{rule.of} {shown} ÷ {per_text} = {format_number(units)}, whole units only: {format_number(counted)}"
                 f" × {pts(each)[1]} = {pts(points)[1]}"))
    return (f"{rule.of} {shown} ÷ {per_text} = {format_number(counted)} × {pts(each)[0]} = {pts(points)[0]}",
            f"{rule.of} {shown} ÷ {per_text} = {format_number(counted)} × {pts(each)[1]} = {pts(points)[1]}")


@computes("per_unit")
def compute_per_unit(args: PerUnitArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    points, step, detail = _per_unit_points(args.rule, r, r.option(args.missing) == "zero")
    cap = r.amount(args.cap)
    if points is None or step is None or r.missing:
        return r.unknown(detail=detail)
    value, capped, cap_step = _cap_step(points, cap)
    detail.update(uncapped=points, cap=cap, cap_applied=capped)
    return r.result(value, (step,) + ((cap_step,) if cap_step else ()), detail)


@computes("items")
def compute_items(args: ItemsArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    lines, steps, known = [], [], Fraction(0)
    zero = r.option(args.missing) == "zero"
    for rule in args.items:
        points, step, detail = _per_unit_points(rule, r, zero)
        lines.append(detail)
        if points is not None and step is not None:
            known += points
            steps.append(step)
    cap = r.amount(args.cap)
    detail_all: dict[str, Any] = {"items": lines, "cap": cap}
    if r.missing:
        detail_all["known_subtotal"] = known
        return r.unknown(steps, detail=detail_all)
    if len(lines) > 1:
        steps.append(Step.later(_total_text, known))
    value, capped, cap_step = _cap_step(known, cap)
    if cap_step:
        steps.append(cap_step)
    detail_all.update(uncapped=known, cap_applied=capped)
    return r.result(value, steps, detail_all)


def _total_text(known: Fraction) -> tuple[str, str]:
    return f"合计 {pts(known)[0]}", f"total {pts(known)[1]}"


# ---------------------------------------------------------------------------------------------
# baseline_step


@computes("baseline_step")
def compute_baseline_step(args: BaselineStepArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    value = r.number(args.of)
    baseline, base_points = r.amount(args.baseline), r.amount(args.points)
    cap, floor, zero_below = r.amount(args.cap), r.amount(args.floor), r.amount(args.zero_below)
    side = args.above if value is not None and baseline is not None and value > baseline else args.below
    per = r.amount(side.per) if side is not None else None
    each = r.amount(side.points) if side is not None else None
    mode = r.option(args.steps) if args.steps is not None else None
    if r.missing or value is None or baseline is None or base_points is None:
        return r.unknown()
    shown, base_shown = shown_value(value, args.unit), shown_value(baseline, args.unit)
    detail: dict[str, Any] = {"value": value, "baseline": baseline, "baseline_points": base_points, "cap": cap,
                              "floor": floor, "zero_below": zero_below, "zero_below_applied": False,
                              "cap_applied": False, "floor_applied": False}
    if zero_below is not None and value < zero_below:
        z = shown_value(zero_below, args.unit)
        detail.update(points=Fraction(0), zero_below_applied=True, direction=None, steps_counted=Fraction(0))
        return Computed(Fraction(0), (Step(f"{shown} 低于 {z}：0分", f"{shown} is below {z}: 0 points"),), detail=detail)
    difference = value - baseline
    direction = "above" if difference > 0 else "below" if difference < 0 else None
    steps_list: list[Step] = []
    points = base_points
    counted = Fraction(0)
    if direction is None or side is None:
        word = ("等于", "equals") if direction is None else (("高于", "is above") if direction == "above" else ("低于", "is below"))
        steps_list.append(Step(f"{shown} {word[0]}基准 {base_shown}：{pts(points)[0]}",
                               f"{shown} {word[1]} the baseline {base_shown}: {pts(points)[1]}"))
    else:
        assert per is not None and each is not None
        units = abs(difference) / per
        counted = Fraction(math.floor(units)) if mode == "whole" else units
        change = counted * each
        points = base_points + change if direction == "above" else base_points - change
        sign = "+" if direction == "above" else "−"
        word = ("高于", "above") if direction == "above" else ("低于", "below")
        per_text, diff_text = shown_value(per, args.unit), shown_value(abs(difference), args.unit)
        whole = mode == "whole" and counted != units
        count_zh = f"{format_number(units)}，只计整档 {format_number(counted)}" if whole else format_number(counted)
        count_en = f"{format_number(units)}, whole steps only: {format_number(counted)}" if whole else format_number(counted)
        steps_list.append(Step(
            f"{shown} {word[0]}基准 {base_shown} {diff_text}，每 {per_text} {sign}{pts(each)[0]}：{diff_text} ÷ {per_text} = "
            f"{count_zh} 档；{pts(base_points)[0]} {sign} {format_number(counted)} × {pts(each)[0]} = {pts(points)[0]}",
            f"{shown} is {diff_text} {word[1]} the baseline {base_shown}, {sign}{pts(each)[1]} per {per_text}: "
            f"{diff_text} ÷ {per_text} = {count_en} steps; {format_number(base_points)} {sign} {format_number(counted)} × "
            f"{format_number(each)} = {pts(points)[1]}"))
    detail.update(direction=direction, difference=difference, steps_counted=counted, uncapped=points)
    if cap is not None and points > cap:
        points = cap
        detail["cap_applied"] = True
        steps_list.append(Step.later(_over_cap_text, cap))
    if floor is not None and points < floor:
        points = floor
        detail["floor_applied"] = True
        steps_list.append(Step.later(_below_floor_text, floor))
    detail["points"] = points
    return Computed(points, tuple(steps_list), detail=detail)


# ---------------------------------------------------------------------------------------------
# deductions


@computes("deductions")
def compute_deductions(args: DeductionsArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    start, floor = r.amount(args.start), r.amount(args.floor)
    events = [(name, r.number(name), r.amount(each)) for name, each in args.events]
    if r.missing or start is None:
        return r.unknown()
    deducted = sum((n * each for _, n, each in events if n is not None and each is not None), Fraction(0))
    terms_zh = " − ".join(f"{format_number(n)} × {pts(each)[0]}" for _, n, each in events if n is not None and each is not None)
    terms_en = " − ".join(f"{format_number(n)} × {format_number(each)}" for _, n, each in events if n is not None and each is not None)
    points = start - deducted
    steps = [Step(f"{pts(start)[0]} − {terms_zh} = {pts(points)[0]}", f"{format_number(start)} − {terms_en} = {pts(points)[1]}")]
    floored = floor is not None and points < floor
    if floored:
        assert floor is not None
        points = floor
        steps.append(Step.later(_below_floor_text, floor))
    return Computed(points, tuple(steps), detail={
        "start": start, "events": [{"of": name, "count": n, "points_each": each} for name, n, each in events],
        "deducted": deducted, "floor": floor, "floor_applied": floored, "points": points})


# ---------------------------------------------------------------------------------------------
# rank_points and rank


def _places(keys: dict[int, tuple[Any, ...]], ties: str) -> dict[int, int]:
    """Place of each entity (1 = best) from sort keys, smaller key = better: shared places skip
    after a tie (1, 2, 2, 4), dense ones do not (1, 2, 2, 3). As engine.explain.scoring.places."""
    if ties == "dense":
        distinct = sorted(set(keys.values()))
        index = {key: i + 1 for i, key in enumerate(distinct)}
        return {i: index[key] for i, key in keys.items()}
    ordered = sorted(keys.values())
    out = {}
    for i, key in keys.items():
        # 1 + how many have a strictly better key (bisect on the sorted keys: n log n)
        out[i] = 1 + _count_less(ordered, key)
    return out


# An entity's record names at most this many others it is tied with, or that were not ranked or
# not decided, and counts the rest: listing every one would make a cohort's records grow with the
# square of a tie (3,000 firms without the figure, all tied last, named 3,000 times each).
NAMED_MAX = 20


def _names(ids: list[str], total: int) -> tuple[str, str]:
    """The names as the trace writes them (zh, en), with how many more when some are left out."""
    zh, en = "、".join(ids), ", ".join(ids)
    if total > len(ids):
        zh, en = f"{zh} 等 {total} 个", f"{en} and {total - len(ids)} more"
    return zh, en


def _tied(envs: Sequence[Env], peers: list[int], i: int) -> tuple[list[str], int]:
    """The first NAMED_MAX others at the entity's place, and how many others there are."""
    named: list[str] = []
    for j in peers:
        if j != i:
            named.append(envs[j].entity_id)
            if len(named) == NAMED_MAX:
                break
    return named, len(peers) - 1


def _by_place(places: dict[int, int]) -> dict[int, list[int]]:
    """The entities at each place, in the order of `places`: who an entity is tied with is read
    from its own place's list, not by scanning every entity again (that was n² over a cohort)."""
    out: dict[int, list[int]] = {}
    for i, place in places.items():
        out.setdefault(place, []).append(i)
    return out


def _count_less(ordered: list[tuple[Any, ...]], key: tuple[Any, ...]) -> int:
    lo, hi = 0, len(ordered)
    while lo < hi:
        mid = (lo + hi) // 2
        if ordered[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _group_label(group: Any) -> str:
    return "全体" if group is None else str(group)


def _sign(order: str | None, value: Fraction) -> Fraction:
    return -value if order == "higher_first" else value


@computes_cohort("rank_points")
def compute_rank_points(args: RankPointsArgs, envs: Sequence[Env]) -> list[Computed]:  # type: ignore[override]
    results: list[Computed | None] = [None] * len(envs)
    readers = [_Reader(env) for env in envs]
    groups: dict[Any, list[int]] = {}
    values: dict[int, Fraction] = {}
    excluded: dict[int, bool] = {}
    for i, (env, r) in enumerate(zip(envs, readers)):
        if args.within is not None:
            group = r.get(args.within)
            if group is None:
                results[i] = r.unknown(reason=Step(f"{args.within} 未知，无法确定参与排名的分组",
                                                   f"{args.within} unknown: no group to be ranked in"))
                continue
        else:
            group = None
        groups.setdefault(group, []).append(i)
        if args.exclude is not None:
            held = r.holds(args.exclude)
            if held is None:
                results[i] = r.unknown(reason=Step(f"{args.exclude} 未判定：不知是否参加排名",
                                                   f"{args.exclude} undecided: whether it is ranked is not known"),
                                       detail={"excluded": None})
                continue
            excluded[i] = held
            if held:
                continue
        value = env.get(args.of)
        if value is not None:
            values[i] = Fraction(value)
    for group, members in groups.items():
        first = readers[members[0]]
        order, ties, missing = first.option(args.order), first.option(args.ties), first.option(args.missing)
        full, step, floor = first.amount(args.full), first.amount(args.step), first.amount(args.floor)
        ranked = {i: (_sign(order, values[i]),) for i in members if i in values and results[i] is None}
        places = _places(ranked, ties or "shared")
        sharing = _by_place(places)
        undecided = [envs[i].entity_id for i in members if results[i] is not None]
        for i in members:
            if results[i] is not None:
                continue
            r = readers[i]
            if first.missing or order is None or ties is None or full is None or step is None or missing is None:
                r.missing.extend(n for n in first.missing if n not in r.missing)
                results[i] = r.unknown()
                continue
            base = {"group": group, "of": len(ranked), "full": full, "step": step, "floor": floor, "ties": ties}
            if undecided:
                base["undecided"] = undecided[:NAMED_MAX]  # entities whose exclusion is unknown: places may change
                if len(undecided) > NAMED_MAX:
                    base["undecided_count"] = len(undecided)
            if excluded.get(i):
                results[i] = _excluded(args, r, full, base)
                continue
            if i not in places:
                value_missing = Step(f"{args.of} 未知，不参加排名", f"{args.of} unknown: not ranked")
                if missing == "zero":
                    results[i] = Computed(Fraction(0), (Step(f"{value_missing.zh}，记0分（暂定）",
                                                             f"{value_missing.en}, 0 points (provisional)"),),
                                          (args.of,), None, {**base, "place": None, "provisional": True, "points": Fraction(0)})
                else:
                    r.missing.append(args.of)
                    results[i] = r.unknown(detail={**base, "place": None})
                continue
            place = places[i]
            tied, tied_count = _tied(envs, sharing[place], i)
            points = full - step * (place - 1)
            shown = shown_value(values[i], args.unit)
            names_zh, names_en = _names(tied, tied_count)
            tie_zh = f"，与 {names_zh} 并列" if tied else ""
            tie_en = f", tied with {names_en}" if tied else ""
            steps = [Step(f"{args.of} {shown} 在 {_group_label(group)} 中排第 {place} 名（共 {len(ranked)} 个{tie_zh}）："
                          f"{pts(full)[0]} − {format_number(step)} × {place - 1} = {pts(points)[0]}",
                          f"{args.of} {shown}: place {place} of {len(ranked)} in {_group_label(group)}{tie_en}: "
                          f"{format_number(full)} − {format_number(step)} × {place - 1} = {pts(points)[1]}")]
            floored = floor is not None and points < floor
            if floored:
                assert floor is not None
                points = floor
                steps.append(Step.later(_below_floor_text, floor))
            detail = {**base, "place": place, "value": values[i], "tied_with": tied, "floor_applied": floored, "points": points}
            if tied_count > len(tied):
                detail["tied_count"] = tied_count
            results[i] = Computed(points, tuple(steps), detail=detail)
    return [c if c is not None else Computed(None) for c in results]


def _excluded(args: RankPointsArgs, r: _Reader, full: Fraction, base: dict[str, Any]) -> Computed:
    if isinstance(args.excluded_points, ChoiceRef):
        option = r.get(args.excluded_points.name)
        read = dict(args.excluded_points.points).get(option) if option is not None else None
        points = full if read == "full" else read if isinstance(read, Fraction) else None
    else:
        points = r.amount(args.excluded_points)
    detail = {**base, "place": None, "excluded": True}
    if points is None:
        return r.unknown(detail=detail)
    detail["points"] = points
    return Computed(points, (Step(f"{args.exclude} 成立：不参加排名，计 {pts(points)[0]}",
                                  f"{args.exclude} holds: not ranked, {pts(points)[1]}"),), detail=detail)


@computes_cohort("rank")
def compute_rank(args: RankArgs, envs: Sequence[Env]) -> list[Computed]:  # type: ignore[override]
    results: list[Computed | None] = [None] * len(envs)
    readers = [_Reader(env) for env in envs]
    groups: dict[Any, list[int]] = {}
    keys: dict[int, tuple[Any, ...]] = {}
    last: dict[int, bool | None] = {}
    shown: dict[int, str] = {}
    lacking: dict[int, list[str]] = {}
    for i, (env, r) in enumerate(zip(envs, readers)):
        group = r.get(args.within) if args.within is not None else None
        if args.within is not None and group is None:
            results[i] = r.unknown(reason=Step(f"{args.within} 未知，无法确定参与排名的分组",
                                               f"{args.within} unknown: no group to be ranked in"))
            continue
        order = r.option(args.order)
        # A lower bound (a figure scored 0, format 1's missing_value: zero) is ranked as it stands,
        # and the place is provisional, as format 1 ranks it.
        value = r.number(args.of, lower_bound=True)
        breaks = [(r.number(t.of, lower_bound=True), r.option(t.order)) for t in args.tie_break]
        lacking[i] = list(r.partial)
        last[i] = r.holds(args.last) if args.last is not None else False
        groups.setdefault(group, []).append(i)
        if value is None or order is None or any(v is None or o is None for v, o in breaks):
            results[i] = r.unknown(reason=Step(f"{'、'.join(r.missing)} 未知，不参加排名",
                                               f"{', '.join(r.missing)} unknown: not ranked"))
            continue
        # An undecided `last` ranks the entity by its points (as format 1 does) and says so.
        keys[i] = (1 if last[i] else 0, _sign(order, value), *(_sign(o, v) for v, o in breaks if v is not None))
        shown[i] = shown_value(value, args.unit)
    for group, members in groups.items():
        ranked = {i: keys[i] for i in members if i in keys}
        ties = readers[members[0]].option(args.ties) or "shared"
        places = _places(ranked, "dense" if ties == "dense" else "shared")
        sharing = _by_place(places)
        lowest = max(places.values()) if places else None
        not_ranked_all = [envs[i].entity_id for i in members if i not in ranked]
        not_ranked = not_ranked_all[:NAMED_MAX]
        not_ranked_zh, not_ranked_en = _names(not_ranked, len(not_ranked_all))
        for i in members:
            if i not in places:
                continue
            place = places[i]
            tied, tied_count = _tied(envs, sharing[place], i)
            names_zh, names_en = _names(tied, tied_count)
            tie_zh = f"，与 {names_zh} 并列" if tied else ""
            tie_en = f", tied with {names_en}" if tied else ""
            steps = []
            if last[i]:
                steps.append(Step(f"{args.last} 成立：列为最后", f"{args.last} holds: placed last"))
            steps.append(Step(f"{args.of} {shown[i]}，在 {_group_label(group)} 中排第 {place} 名（共 {len(ranked)} 个{tie_zh}）",
                              f"{args.of} {shown[i]}: place {place} of {len(ranked)} in {_group_label(group)}{tie_en}"))
            provisional = last[i] is None or bool(not_ranked) or bool(lacking.get(i))
            if last[i] is None:
                steps.append(Step(f"{args.last} 未判定：名次暂定", f"{args.last} undecided: the place is provisional"))
            if lacking.get(i):
                names = lacking[i]
                steps.append(Step(f"{'、'.join(names)} 缺少数据，按下限排名：名次暂定",
                                  f"{', '.join(names)} missing: ranked on a lower bound, the place is provisional"))
            if not_ranked:
                steps.append(Step(f"{not_ranked_zh} 未参加排名（数据不全）：名次暂定",
                                  f"{not_ranked_en} not ranked (data missing): the place is provisional"))
            detail = {
                "place": place, "of": len(ranked), "group": group, "last": place == lowest, "forced_last": last[i],
                "tied_with": tied, "ties": ties, "provisional": provisional, "not_ranked": not_ranked,
                "lacking": lacking.get(i, [])}
            if tied_count > len(tied):
                detail["tied_count"] = tied_count
            if len(not_ranked_all) > len(not_ranked):
                detail["not_ranked_count"] = len(not_ranked_all)
            results[i] = Computed(Fraction(place), tuple(steps), detail=detail)
    return [c if c is not None else Computed(None) for c in results]


@computes("placed_last")
def compute_placed_last(args: PlacedLastArgs, env: Env) -> Computed:  # type: ignore[override]
    """Yes when the entity's place is the last of its group (a place forced last, or the lowest
    by points): as format 1's `result_last`, provisional places included."""
    r = _Reader(env)
    place = r.number(args.of)
    read = getattr(env, "detail", None)  # the facts the rank computed (engine.evaluate.run2._Env)
    detail = read(args.of) if read is not None else {}
    if place is None or "last" not in detail:
        return r.unknown(reason=None if place is None else Step(f"{args.of} 不是名次", f"{args.of} is not a place"))
    if args.rules is None:
        raise DecisionError(f"placed_last of {args.of!r} was not compiled: only durable-rules (or the reference "
                            "evaluator checking it) decides whether a place is the last")
    verdict = env.member_verdicts(args.rules)  # one status: whether the place is the group's last
    if not verdict or verdict[0] not in (Status.MET, Status.NOT_MET):
        raise DecisionError(f"placed_last of {args.of!r} was not decided ({verdict!r})")
    last, of, by = verdict[0] is Status.MET, detail.get("of"), env.decided_by
    zh = f"第 {format_number(place)} 名（共 {of} 个）：{'是' if last else '不是'}最后一名（由 {by} 判定）"
    en = f"place {format_number(place)} of {of}: {'' if last else 'not '}the last (decided by {by})"
    if detail.get("provisional"):
        zh, en = zh + "（名次暂定）", en + " (the place is provisional)"
    return Computed(last, (Step(zh, en),), detail={"place": place, "of": of, "last": last,
                                                   "provisional": bool(detail.get("provisional")), "decided_by": by})


__all__ = ["compute_bands", "compute_baseline_step", "compute_deductions", "compute_group", "compute_items", "compute_map",
           "compute_per_unit", "compute_placed_last", "compute_rank", "compute_rank_points", "compute_weighted", "pct", "pts", "shown_value"]
