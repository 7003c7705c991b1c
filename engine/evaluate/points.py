"""Format-2 points operations (bands, map, per_unit, rank_points, group…): how each is computed (a function registered with `@computes`).

See docs/format2.md for the language and engine/evaluate/ops.py for the registry. Points are
arithmetic: exact Fractions, each step shown in Chinese and English ("22% 落在 [20%, 25%) 档：
12分"), with the facts a view or a suite needs in `detail` (the band and its endpoints, the cap
and whether it applied, the step count, the place). Every yes/no a rule reads (a `when`, an
`exclude`, a `last`) was decided by durable-rules before; here it is only read.

Unknown: a rule whose operand is unknown is unknown (`value=None`) and lists the names it
could not read in `missing` (the builder maps a value's name to the inputs it depends on).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from engine.compile.points import (
    Amount,
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
    WeightedArgs,
)
from engine.core.status import Status
from engine.core.units import Unit, format_amount, format_number
from engine.evaluate.ops import Computed, Env, Step, computes


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

    def get(self, name: str) -> Any:
        value = self.env.get(name)
        if value is None and name not in self.missing:
            self.missing.append(name)
        return value

    def number(self, name: str) -> Fraction | None:
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

    def unknown(self, steps: list[Step] | tuple[Step, ...] = (), reason: Step | None = None,
                detail: dict[str, Any] | None = None) -> Computed:
        if reason is None and self.missing:
            names = "、".join(self.missing)
            reason = Step(f"{names} 未知，无法计分", f"{', '.join(self.missing)} unknown: no points can be computed")
        return Computed(None, tuple(steps), tuple(self.missing), reason, detail or {})


# ---------------------------------------------------------------------------------------------
# bands


@computes("bands")
def compute_bands(args: BandsArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    value = r.number(args.of)
    if value is None:
        return r.unknown()
    shown = shown_value(value, args.unit)
    for index, band in enumerate(args.bands):
        if not band.holds(value):
            continue
        points = r.amount(band.points)
        text = args.text(band)
        detail = {"value": value, "band": index, "band_text": text, "low": band.low, "low_included": band.low_included,
                  "high": band.high, "high_included": band.high_included, "points": points}
        if points is None:
            return r.unknown(detail=detail)
        zh, en = pts(points)
        return Computed(points, (Step(f"{shown} 落在 {text} 档：{zh}", f"{shown} is in band {text}: {en}"),), detail=detail)
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
                zh, en = pts(points)
                return Computed(points, (Step(f"{args.of} 为 {shown[0]}：{zh}", f"{args.of} is {shown[1]}: {en}"),),
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
            zh, en = pts(points)
            return Computed(points, (Step(f"所具备的最高一项：{condition}：{zh}", f"highest item held: {condition}: {en}"),),
                            detail={"taken": index, "condition": condition, "points": points})
    return _otherwise(r, args.otherwise, {"taken": None}, Step("所列各项均不具备", "none of the listed items held"))


def _otherwise(r: _Reader, amount: Amount | None, detail: dict[str, Any], why: Step) -> Computed:
    if amount is None:
        return r.unknown(reason=Step(f"{why.zh}，且未规定其他情形的分值", f"{why.en}, and no `otherwise` points"), detail=detail)
    points = r.amount(amount)
    if points is None:
        return r.unknown(detail=detail)
    zh, en = pts(points)
    return Computed(points, (Step(f"{why.zh}：其他情形 {zh}", f"{why.en}: otherwise {en}"),), detail={**detail, "points": points})


# ---------------------------------------------------------------------------------------------
# weighted


@computes("weighted")
def compute_weighted(args: WeightedArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    values = [(name, r.number(name), weight) for name, weight in args.parts]
    if r.missing:
        return r.unknown()
    total = sum((v * w for _, v, w in values if v is not None), Fraction(0))
    terms_zh = " + ".join(f"{pts(v)[0]} × {pct(w)}" for _, v, w in values if v is not None)
    terms_en = " + ".join(f"{format_number(v)} × {pct(w)}" for _, v, w in values if v is not None)
    zh, en = pts(total)
    return Computed(total, (Step(f"{terms_zh} = {zh}", f"{terms_en} = {en}"),),
                    detail={"parts": [{"of": n, "points": v, "weight": w, "weighted": v * w} for n, v, w in values if v is not None]})


# ---------------------------------------------------------------------------------------------
# group


@computes("group")
def compute_group(args: GroupArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    values = [(name, r.number(name)) for name in args.parts]
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
    steps = [Step(" + ".join(pts(v)[0] for _, v in values if v is not None) + f" = 小计 {pts(subtotal)[0]}",
                  " + ".join(format_number(v) for _, v in values if v is not None) + f" = subtotal {pts(subtotal)[1]}")]
    value = subtotal
    capped = cap is not None and subtotal > cap
    if capped:
        assert cap is not None
        value = cap
        steps.append(Step(f"超过上限 {pts(cap)[0]}，计 {pts(cap)[0]}", f"over the cap of {pts(cap)[1]}: {pts(cap)[1]}"))
    detail.update(subtotal=value, uncapped=subtotal, cap_applied=capped)
    if args.minimum is not None and minimum is None:
        steps.append(Step(f"小计 {pts(value)[0]}，最低要求未设定", f"subtotal {pts(value)[1]}, minimum not set"))
    if minimum is not None:
        meets = value >= minimum
        detail["meets_minimum"] = meets
        word_zh, word_en = ("已达到", "met") if meets else ("未达到", "not met")
        steps.append(Step(f"小计 {pts(value)[0]}，最低要求 {pts(minimum)[0]}（{word_zh}）",
                          f"subtotal {pts(value)[1]}, minimum {pts(minimum)[1]} ({word_en})"))
    return Computed(value, tuple(steps), detail=detail)


# ---------------------------------------------------------------------------------------------
# per_unit and items


def _cap_step(value: Fraction, cap: Fraction | None) -> tuple[Fraction, bool, Step | None]:
    if cap is not None and value > cap:
        return cap, True, Step(f"超过上限 {pts(cap)[0]}，计 {pts(cap)[0]}", f"over the cap of {pts(cap)[1]}: {pts(cap)[1]}")
    return value, False, None


def _per_unit_points(rule: PerUnit, r: _Reader) -> tuple[Fraction | None, Step | None, dict[str, Any]]:
    """(points before any cap, the step, detail) for one per-unit rule; None when unknown."""
    value = r.number(rule.of)
    per = r.amount(rule.per)
    each = r.amount(rule.points)
    steps = r.option(rule.steps) if rule.steps is not None else None
    if value is None or each is None or (rule.per is not None and (per is None or steps is None)):
        return None, None, {"of": rule.of, "value": value}
    shown = shown_value(value, rule.unit)
    if per is None:
        points = value * each
        return points, Step(f"{rule.of} {shown} × {pts(each)[0]} = {pts(points)[0]}",
                            f"{rule.of} {shown} × {pts(each)[1]} = {pts(points)[1]}"), \
            {"of": rule.of, "value": value, "units": value, "counted": value, "points_each": each, "points": points}
    units = value / per
    counted = Fraction(math.floor(units)) if steps == "whole" else units
    points = counted * each
    per_text = shown_value(per, rule.unit)
    if steps == "whole" and counted != units:
        zh = (f"{rule.of} {shown} ÷ {per_text} = {format_number(units)}，只计整数 {format_number(counted)} 个单位"
              f" × {pts(each)[0]} = {pts(points)[0]}")
        en = (f"{rule.of} {shown} ÷ {per_text} = {format_number(units)}, whole units only: {format_number(counted)}"
              f" × {pts(each)[1]} = {pts(points)[1]}")
    else:
        zh = f"{rule.of} {shown} ÷ {per_text} = {format_number(counted)} × {pts(each)[0]} = {pts(points)[0]}"
        en = f"{rule.of} {shown} ÷ {per_text} = {format_number(counted)} × {pts(each)[1]} = {pts(points)[1]}"
    return points, Step(zh, en), {"of": rule.of, "value": value, "per": per, "units": units, "counted": counted,
                                  "steps": steps, "points_each": each, "points": points}


@computes("per_unit")
def compute_per_unit(args: PerUnitArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    points, step, detail = _per_unit_points(args.rule, r)
    cap = r.amount(args.cap)
    if points is None or step is None or r.missing:
        return r.unknown(detail=detail)
    value, capped, cap_step = _cap_step(points, cap)
    detail.update(uncapped=points, cap=cap, cap_applied=capped)
    return Computed(value, (step,) + ((cap_step,) if cap_step else ()), detail=detail)


@computes("items")
def compute_items(args: ItemsArgs, env: Env) -> Computed:  # type: ignore[override]
    r = _Reader(env)
    lines, steps, known = [], [], Fraction(0)
    for rule in args.items:
        points, step, detail = _per_unit_points(rule, r)
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
        steps.append(Step(f"合计 {pts(known)[0]}", f"total {pts(known)[1]}"))
    value, capped, cap_step = _cap_step(known, cap)
    if cap_step:
        steps.append(cap_step)
    detail_all.update(uncapped=known, cap_applied=capped)
    return Computed(value, tuple(steps), detail=detail_all)


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
        steps_list.append(Step(f"超过上限 {pts(cap)[0]}，计 {pts(cap)[0]}", f"over the cap of {pts(cap)[1]}: {pts(cap)[1]}"))
    if floor is not None and points < floor:
        points = floor
        detail["floor_applied"] = True
        steps_list.append(Step(f"低于下限 {pts(floor)[0]}，计 {pts(floor)[0]}", f"below the floor of {pts(floor)[1]}: {pts(floor)[1]}"))
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
        steps.append(Step(f"低于下限 {pts(floor)[0]}，计 {pts(floor)[0]}", f"below the floor of {pts(floor)[1]}: {pts(floor)[1]}"))
    return Computed(points, tuple(steps), detail={
        "start": start, "events": [{"of": name, "count": n, "points_each": each} for name, n, each in events],
        "deducted": deducted, "floor": floor, "floor_applied": floored, "points": points})


__all__ = ["compute_bands", "compute_baseline_step", "compute_deductions", "compute_group", "compute_items", "compute_map",
           "compute_per_unit", "compute_weighted", "pct", "pts", "shown_value"]
