"""Format-2 value operations (ratio, sum, growth, count over members, dates…): how each is computed (a function registered with `@computes`).

See docs/format2.md ("Values") for the language and engine/evaluate/ops.py for the registry.

Every function is pure: it reads the names its arguments list from the `Env` and returns a
`Computed` with the exact value (Fraction), the steps an officer reads ("8人 ÷ 40人 = 20%"), the
names that were unknown (`missing`: the names read, inputs or values; the core expands a value to
the inputs behind it), or a reason when nothing is missing (分母为0), and a `detail` dict for
views and suites (`taken` for min/max/best_of, members' verdicts for counts…). A result the
engine cannot compare exactly (beyond 18 digits in its base unit, as thresholds, E140) is
unknown with that reason, never an error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Any, Sequence

from engine.compile.compile import SLOT_DIGITS
from engine.compile.values import Cagr, Combine, Difference, Growth, Product, Ratio, Since
from engine.core.units import Unit, format_amount, format_number, fraction_json
from engine.evaluate.ops import Computed, Env, Step, computes

# |value| below this in its base unit, as a threshold (E140); a denominator below the square of it
# keeps every later product and comparison cheap and exact.
LIMIT = Fraction(10**SLOT_DIGITS)
MAX_DENOMINATOR = 10 ** (2 * SLOT_DIGITS)


def show(value: Fraction, unit: Unit | None, lang: str = "zh") -> str:
    return format_amount(value, unit, lang) if unit is not None else format_number(value)


def number(value: Any) -> Fraction | None:
    """A numeric value from the Env as a Fraction (ints allowed); None for unknown or non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    return None


@dataclass
class Operands:
    values: list[Fraction]
    missing: tuple[str, ...]


def read(env: Env, names: Sequence[str]) -> Operands:
    values, missing = [], []
    for name in names:
        value = number(env.get(name))
        if value is None:
            missing.append(name)
        else:
            values.append(value)
    return Operands(values, tuple(dict.fromkeys(missing)))


def unknown_for(missing: tuple[str, ...], what_zh: str, what_en: str, detail: dict[str, Any] | None = None) -> Computed:
    names = "、".join(missing)
    return Computed(None, (Step(f"{what_zh}：{names} 未知", f"{what_en}: {', '.join(missing)} unknown"),),
                    missing=missing, detail=detail or {})


def unknown_because(zh: str, en: str, steps: tuple[Step, ...] = (), detail: dict[str, Any] | None = None) -> Computed:
    return Computed(None, steps, reason=Step(zh, en), detail=detail or {})


def bounded(value: Fraction, steps: tuple[Step, ...], detail: dict[str, Any]) -> Computed:
    """The result, or unknown when it is beyond what the engine compares exactly."""
    if abs(value) >= LIMIT or value.denominator >= MAX_DENOMINATOR:
        return unknown_because(
            f"结果超出可精确比较的范围（以基本单位计最多 {SLOT_DIGITS} 位数字），无法判定",
            f"the result is beyond what the engine compares exactly (at most {SLOT_DIGITS} digits in its base unit)",
            steps, detail)
    return Computed(value, steps, detail={**detail, "value": fraction_json(value)})


def _pairs(names: Sequence[str], values: Sequence[Fraction], units: Sequence[Unit | None], lang: str) -> list[str]:
    return [f"{n} {show(v, u, lang)}" for n, v, u in zip(names, values, units)]


# ---------------------------------------------------------------------------------------------
# Arithmetic


@computes("ratio")
def compute_ratio(args: Ratio, env: Env) -> Computed:  # type: ignore[override]
    got = read(env, args.reads())
    if got.missing:
        return unknown_for(got.missing, "比值", "ratio")
    a, b = got.values
    operands = {"of": fraction_json(a), "per": fraction_json(b)}
    if b == 0:
        return unknown_because("分母为0", "the denominator is 0",
                               (Step(f"{show(a, args.of_unit)} ÷ {show(b, args.per_unit)}：分母为0",
                                     f"{show(a, args.of_unit, 'en')} ÷ {show(b, args.per_unit, 'en')}: the denominator is 0"),),
                               {"operands": operands})
    result = a / b * args.scale
    steps = (Step(f"{show(a, args.of_unit)} ÷ {show(b, args.per_unit)} = {show(result, args.unit)}",
                  f"{show(a, args.of_unit, 'en')} ÷ {show(b, args.per_unit, 'en')} = {show(result, args.unit, 'en')}"),)
    return bounded(result, steps, {"operands": operands})


@computes("sum")
def compute_sum(args: Combine, env: Env) -> Computed:  # type: ignore[override]
    got = read(env, args.names)
    if got.missing:
        return unknown_for(got.missing, "合计", "sum")
    result = sum(got.values, Fraction(0))
    zh = " + ".join(show(v, u) for v, u in zip(got.values, args.units))
    en = " + ".join(show(v, u, "en") for v, u in zip(got.values, args.units))
    steps = (Step(f"{zh} = {show(result, args.unit)}", f"{en} = {show(result, args.unit, 'en')}"),)
    return bounded(result, steps, {"operands": dict(zip(args.names, map(fraction_json, got.values)))})


@computes("difference")
def compute_difference(args: Difference, env: Env) -> Computed:  # type: ignore[override]
    got = read(env, args.reads())
    if got.missing:
        return unknown_for(got.missing, "差额", "difference")
    a, b = got.values
    result = a - b
    ua, ub = args.units
    steps = (Step(f"{show(a, ua)} − {show(b, ub)} = {show(result, args.unit)}",
                  f"{show(a, ua, 'en')} − {show(b, ub, 'en')} = {show(result, args.unit, 'en')}"),)
    return bounded(result, steps, {"operands": {"of": fraction_json(a), "minus": fraction_json(b)}})


@computes("product")
def compute_product(args: Product, env: Env) -> Computed:  # type: ignore[override]
    got = read(env, args.reads())
    if got.missing:
        return unknown_for(got.missing, "乘积", "product")
    a = got.values[0]
    by = got.values[1] if args.by_name else args.by_value
    assert by is not None
    result = a * by * args.by_scale
    steps = (Step(f"{show(a, args.of_unit)} × {show(by, args.by_unit)} = {show(result, args.unit)}",
                  f"{show(a, args.of_unit, 'en')} × {show(by, args.by_unit, 'en')} = {show(result, args.unit, 'en')}"),)
    return bounded(result, steps, {"operands": {"of": fraction_json(a), "by": fraction_json(by)}})


def _extreme(args: Combine, env: Env, larger: bool, zh_word: str, en_word: str) -> Computed:
    got = read(env, args.names)
    if got.missing:
        # The larger of a known 5 and an unknown is not known: the unknown may be larger.
        return unknown_for(got.missing, zh_word, en_word)
    index = 0
    for i, v in enumerate(got.values):
        if (v > got.values[index]) if larger else (v < got.values[index]):
            index = i  # the first listed wins a tie: the trace names one, always the same
    taken, result = args.names[index], got.values[index]
    listed_zh = "，".join(_pairs(args.names, got.values, args.units, "zh"))
    listed_en = ", ".join(_pairs(args.names, got.values, args.units, "en"))
    steps = (Step(f"{zh_word}（{listed_zh}）= {show(result, args.unit)}，取 {taken}",
                  f"{en_word}({listed_en}) = {show(result, args.unit, 'en')}, taken: {taken}"),)
    return bounded(result, steps, {"taken": taken,
                                   "operands": dict(zip(args.names, map(fraction_json, got.values)))})


@computes("max")
def compute_max(args: Combine, env: Env) -> Computed:  # type: ignore[override]
    return _extreme(args, env, True, "较大者", "max")


@computes("min")
def compute_min(args: Combine, env: Env) -> Computed:  # type: ignore[override]
    return _extreme(args, env, False, "较小者", "min")


@computes("best_of")
def compute_best_of(args: Combine, env: Env) -> Computed:  # type: ignore[override]
    return _extreme(args, env, True, "择优", "best of")


@computes("mean")
def compute_mean(args: Combine, env: Env) -> Computed:  # type: ignore[override]
    got = read(env, args.names)
    if got.missing:
        return unknown_for(got.missing, "平均值", "mean")
    total = sum(got.values, Fraction(0))
    result = total / len(got.values)
    zh = " + ".join(show(v, u) for v, u in zip(got.values, args.units))
    en = " + ".join(show(v, u, "en") for v, u in zip(got.values, args.units))
    n = len(got.values)
    steps = (Step(f"（{zh}）÷ {n} = {show(result, args.unit)}", f"({en}) ÷ {n} = {show(result, args.unit, 'en')}"),)
    return bounded(result, steps, {"operands": dict(zip(args.names, map(fraction_json, got.values)))})


# ---------------------------------------------------------------------------------------------
# Over time


@computes("growth")
def compute_growth(args: Growth, env: Env) -> Computed:  # type: ignore[override]
    got = read(env, args.reads())
    if got.missing:
        return unknown_for(got.missing, "增长率", "growth")
    a, b = got.values
    ua, ub = args.units
    operands = {"from": fraction_json(a), "to": fraction_json(b)}
    shown_zh = f"（{show(b, ub)} − {show(a, ua)}）÷ {show(a, ua)}"
    shown_en = f"({show(b, ub, 'en')} − {show(a, ua, 'en')}) ÷ {show(a, ua, 'en')}"
    if a == 0:
        return unknown_because("分母为0（基期值为0）", "the denominator is 0 (the starting value is 0)",
                               (Step(f"{shown_zh}：分母为0", f"{shown_en}: the denominator is 0"),), {"operands": operands})
    if a < 0:
        return unknown_because("基期值为负数，增长率无意义", "the starting value is negative: a growth rate means nothing",
                               (Step(f"{shown_zh}：基期值为负数", f"{shown_en}: the starting value is negative"),),
                               {"operands": operands})
    result = (b - a) / a * 100
    steps = (Step(f"{shown_zh} = {show(result, args.unit)}", f"{shown_en} = {show(result, args.unit, 'en')}"),)
    return bounded(result, steps, {"operands": operands})


def approx_rate(factor: Fraction, years: int) -> Decimal:
    """factor^(1/years) − 1 in percent, to two places: for showing only, never compared."""
    with localcontext() as ctx:
        ctx.prec = 40
        if factor == 0:
            return Decimal(-100).quantize(Decimal("0.01"))
        root = (Decimal(factor.numerator) / Decimal(factor.denominator)) ** (Decimal(1) / Decimal(years))
        return ((root - 1) * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@computes("cagr")
def compute_cagr(args: Cagr, env: Env) -> Computed:  # type: ignore[override]
    got = read(env, args.reads())
    if got.missing:
        return unknown_for(got.missing, "年均复合增长率", "compound annual growth")
    a, b = got.values
    ua, ub = args.units
    operands = {"from": fraction_json(a), "to": fraction_json(b), "years": args.years}
    if a <= 0:
        return unknown_because("基期值不为正数，复合增长率无意义" if a < 0 else "分母为0（基期值为0）",
                               "the starting value is not positive: a compound growth rate means nothing"
                               if a < 0 else "the denominator is 0 (the starting value is 0)",
                               detail={"operands": operands})
    if b < 0:
        return unknown_because("末期值为负数，复合增长率无意义", "the final value is negative: a compound growth rate means nothing",
                               detail={"operands": operands})
    factor = b / a
    rate = approx_rate(factor, args.years)
    steps = (
        Step(f"增长倍数 {show(b, ub)} ÷ {show(a, ua)} = {format_number(factor)}",
             f"growth factor {show(b, ub, 'en')} ÷ {show(a, ua, 'en')} = {format_number(factor)}"),
        Step(f"年均复合增长率 = {format_number(factor)}^(1/{args.years}) − 1 ≈ {rate}%"
             f"（按倍数精确比较：≥ t 即倍数 ≥ (1+t)^{args.years}）",
             f"compound annual growth = {format_number(factor)}^(1/{args.years}) − 1 ≈ {rate}% "
             f"(compared exactly as the factor: ≥ t means factor ≥ (1+t)^{args.years})"),
    )
    out = bounded(factor, steps, {"operands": operands, "factor": fraction_json(factor), "years": args.years,
                                  "approx_percent": str(rate)})
    return out


# ---------------------------------------------------------------------------------------------
# Dates


def as_date(value: Any) -> dt.date | None:
    """A date from the Env (dt.date), or a day number as format 1 normalises dates."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, Fraction)) and not isinstance(value, bool) and Fraction(value).denominator == 1:
        ordinal = int(value)
        if 1 <= ordinal <= dt.date.max.toordinal():
            return dt.date.fromordinal(ordinal)
    return None


def whole_years(start: dt.date, end: dt.date) -> int:
    """Whole years from start to end: a year is complete on its anniversary (29 Feb: on 1 Mar)."""
    years = end.year - start.year
    if (end.month, end.day) < (start.month, start.day):
        years -= 1
    return years


def _since(args: Since, env: Env) -> Computed:
    day = as_date(env.get(args.date))
    if day is None:
        return unknown_for((args.date,), "日期", "date")
    if day > env.as_of:
        return unknown_because(f"{args.date} {day.isoformat()} 晚于评价日 {env.as_of.isoformat()}",
                               f"{args.date} {day.isoformat()} is after the evaluation date {env.as_of.isoformat()}",
                               detail={"date": day.isoformat(), "as_of": env.as_of.isoformat()})
    if args.key == "days_since":
        result, zh, en = (env.as_of - day).days, "天", "days"
    else:
        result, zh, en = whole_years(day, env.as_of), "整年", "whole years"
    steps = (Step(f"{args.date} {day.isoformat()} 至评价日 {env.as_of.isoformat()}：{result} {zh}",
                  f"{args.date} {day.isoformat()} to the evaluation date {env.as_of.isoformat()}: {result} {en}"),)
    return bounded(Fraction(result), steps, {"date": day.isoformat(), "as_of": env.as_of.isoformat()})


@computes("days_since")
def compute_days_since(args: Since, env: Env) -> Computed:  # type: ignore[override]
    return _since(args, env)


@computes("years_since")
def compute_years_since(args: Since, env: Env) -> Computed:  # type: ignore[override]
    return _since(args, env)
