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
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Any, Mapping, Sequence

from engine.core.numbers import OUT_OF_BOUNDS, SLOT_DIGITS, VALUE_LIMIT, VALUE_MAX_DENOMINATOR, value_in_bounds
from engine.compile.values import Cagr, Case, Cases, CohortMean, Combine, Cond, Difference, Growth, Members, Product, Ratio, Since, Test
from engine.core.problems import DecisionError
from engine.core.status import Status
from engine.core.units import Unit, format_amount, format_number, fraction_json
from engine.evaluate.ops import Computed, Env, Step, computes, computes_cohort

# |value| below this in its base unit, as a threshold (E140); a denominator below the square of it
# keeps every later product and comparison cheap and exact (engine.core.numbers: format 1's
# derived values are held to the same bounds).
LIMIT = VALUE_LIMIT
MAX_DENOMINATOR = VALUE_MAX_DENOMINATOR


def show(value: Fraction, unit: Unit | None, lang: str = "zh") -> str:
    return format_amount(value, unit, lang) if unit is not None else format_number(value)


def number(value: Any) -> Fraction | None:
    """A numeric value from the Env as a Fraction (ints allowed); None for unknown or non-numbers."""
    if type(value) is Fraction:
        return value  # immutable: the same number, not a copy
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


def bounded(value: Fraction, steps: tuple[Step, ...], detail: dict[str, Any],
            max_denominator: int = MAX_DENOMINATOR) -> Computed:
    """The result, or unknown when it is beyond what the engine compares exactly."""
    if not value_in_bounds(value, max_denominator):
        return unknown_because(OUT_OF_BOUNDS[1], OUT_OF_BOUNDS[0], steps, detail)
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
    return bounded(result, (Step.later(_ratio_text, args, a, b, result),), {"operands": operands})


def _ratio_text(args: Ratio, a: Fraction, b: Fraction, result: Fraction) -> tuple[str, str]:
    return (f"{show(a, args.of_unit)} ÷ {show(b, args.per_unit)} = {show(result, args.unit)}",
            f"{show(a, args.of_unit, 'en')} ÷ {show(b, args.per_unit, 'en')} = {show(result, args.unit, 'en')}")


def _added(args: Combine, values: Sequence[Fraction]) -> tuple[str, str]:
    """The addition of the values read written out in Chinese and English (sum and mean show the
    same terms)."""
    zh = " + ".join(show(v, u) for v, u in zip(values, args.units))
    en = " + ".join(show(v, u, "en") for v, u in zip(values, args.units))
    return zh, en


@computes("sum")
def compute_sum(args: Combine, env: Env) -> Computed:  # type: ignore[override]
    got = read(env, args.names)
    if got.missing:
        return unknown_for(got.missing, "合计", "sum")
    result = sum(got.values, Fraction(0))
    return bounded(result, (Step.later(_sum_text, args, tuple(got.values), result),),
                   {"operands": dict(zip(args.names, map(fraction_json, got.values)))})


def _sum_text(args: Combine, values: tuple[Fraction, ...], result: Fraction) -> tuple[str, str]:
    zh, en = _added(args, values)
    return f"{zh} = {show(result, args.unit)}", f"{en} = {show(result, args.unit, 'en')}"


@computes("difference")
def compute_difference(args: Difference, env: Env) -> Computed:  # type: ignore[override]
    got = read(env, args.reads())
    if got.missing:
        return unknown_for(got.missing, "差额", "difference")
    a, b = got.values
    result = a - b
    return bounded(result, (Step.later(_difference_text, args, a, b, result),),
                   {"operands": {"of": fraction_json(a), "minus": fraction_json(b)}})


def _difference_text(args: Difference, a: Fraction, b: Fraction, result: Fraction) -> tuple[str, str]:
    ua, ub = args.units
    return (f"{show(a, ua)} − {show(b, ub)} = {show(result, args.unit)}",
            f"{show(a, ua, 'en')} − {show(b, ub, 'en')} = {show(result, args.unit, 'en')}")


@computes("product")
def compute_product(args: Product, env: Env) -> Computed:  # type: ignore[override]
    got = read(env, args.reads())
    if got.missing:
        return unknown_for(got.missing, "乘积", "product")
    a = got.values[0]
    by = got.values[1] if args.by_name else args.by_value
    assert by is not None
    result = a * by * args.by_scale
    return bounded(result, (Step.later(_product_text, args, a, by, result),),
                   {"operands": {"of": fraction_json(a), "by": fraction_json(by)}})


def _product_text(args: Product, a: Fraction, by: Fraction, result: Fraction) -> tuple[str, str]:
    return (f"{show(a, args.of_unit)} × {show(by, args.by_unit)} = {show(result, args.unit)}",
            f"{show(a, args.of_unit, 'en')} × {show(by, args.by_unit, 'en')} = {show(result, args.unit, 'en')}")


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
    steps = (Step.later(_extreme_text, args, tuple(got.values), result, taken, zh_word, en_word),)
    return bounded(result, steps, {"taken": taken,
                                   "operands": dict(zip(args.names, map(fraction_json, got.values)))})


def _extreme_text(args: Combine, values: tuple[Fraction, ...], result: Fraction, taken: str, zh_word: str,
                  en_word: str) -> tuple[str, str]:
    listed_zh = "，".join(_pairs(args.names, values, args.units, "zh"))
    listed_en = ", ".join(_pairs(args.names, values, args.units, "en"))
    return (f"{zh_word}（{listed_zh}）= {show(result, args.unit)}，取 {taken}",
            f"{en_word}({listed_en}) = {show(result, args.unit, 'en')}, taken: {taken}")


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
    n = len(got.values)
    result = sum(got.values, Fraction(0)) / n
    return bounded(result, (Step.later(_mean_text, args, tuple(got.values), result),),
                   {"operands": dict(zip(args.names, map(fraction_json, got.values)))})


def _mean_text(args: Combine, values: tuple[Fraction, ...], result: Fraction) -> tuple[str, str]:
    zh, en = _added(args, values)
    n = len(values)
    return f"（{zh}）÷ {n} = {show(result, args.unit)}", f"({en}) ÷ {n} = {show(result, args.unit, 'en')}"


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
    if a <= 0:  # the text of the steps that say why there is no rate
        shown_zh, shown_en = _growth_shown(a, b, ua, ub)
    if a == 0:
        return unknown_because("分母为0（基期值为0）", "the denominator is 0 (the starting value is 0)",
                               (Step(f"{shown_zh}：分母为0", f"{shown_en}: the denominator is 0"),), {"operands": operands})
    if a < 0:
        return unknown_because("基期值为负数，增长率无意义", "the starting value is negative: a growth rate means nothing",
                               (Step(f"{shown_zh}：基期值为负数", f"{shown_en}: the starting value is negative"),),
                               {"operands": operands})
    result = (b - a) / a * 100
    return bounded(result, (Step.later(_growth_text, args, a, b, result),), {"operands": operands})


def _growth_shown(a: Fraction, b: Fraction, ua: Unit | None, ub: Unit | None) -> tuple[str, str]:
    return (f"（{show(b, ub)} − {show(a, ua)}）÷ {show(a, ua)}",
            f"({show(b, ub, 'en')} − {show(a, ua, 'en')}) ÷ {show(a, ua, 'en')}")


def _growth_text(args: Growth, a: Fraction, b: Fraction, result: Fraction) -> tuple[str, str]:
    shown_zh, shown_en = _growth_shown(a, b, *args.units)
    return f"{shown_zh} = {show(result, args.unit)}", f"{shown_en} = {show(result, args.unit, 'en')}"


def approx_rate(rate: Fraction) -> Decimal:
    """A rate in percent to two places: for showing only, never compared."""
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(rate.numerator) / Decimal(rate.denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def integer_root(n: int, k: int) -> int:
    """floor(n^(1/k)) for n >= 0, in integers."""
    if n < 2:
        return n
    root = 1 << ((n.bit_length() + k - 1) // k)  # above the root
    while True:
        smaller = ((k - 1) * root + n // root ** (k - 1)) // k
        if smaller >= root:
            return root
        root = smaller


def simplest_between(lo: Fraction, hi: Fraction) -> Fraction:
    """The rational with the smallest denominator in [lo, hi] (lo <= hi)."""
    if lo <= 0 <= hi:
        return Fraction(0)
    if hi < 0:
        return -simplest_between(-hi, -lo)
    whole = math.floor(lo)
    if whole == lo:
        return lo
    if whole + 1 <= hi:
        return Fraction(whole + 1)
    return whole + 1 / simplest_between(1 / (hi - whole), 1 / (lo - whole))


# The compound rate (a value in %) decides exactly against every threshold with a denominator up to
# this: written amounts (decimals) and every threshold the engine holds (engine/compile SLOT_DIGITS).
CAGR_SEPARATES = 10**30


def compound_rate(factor: Fraction, years: int) -> tuple[Fraction, bool] | None:
    """(rate in %, exact) for factor^(1/years) − 1; None if no precision tried separates it."""
    num, den = factor.numerator, factor.denominator
    rn, rd = integer_root(num, years), integer_root(den, years)
    if rn**years == num and rd**years == den:
        return (Fraction(rn, rd) - 1) * 100, True  # a rational root: the rate exactly
    for digits in (80, 160, 320):
        with localcontext() as ctx:
            ctx.prec = digits
            root = Fraction((Decimal(num) / Decimal(den)) ** (Decimal(1) / Decimal(years)))
        margin = root / 10 ** (digits - 10) + Fraction(1, 10**digits)
        lo, hi = max(root - margin, Fraction(0)), root + margin
        if not (lo**years <= factor <= hi**years):
            continue  # the interval does not hold the root for certain: more digits
        # The true rate lies in [low, high] and is irrational; when the simplest rational in the
        # interval has a denominator beyond CAGR_SEPARATES, no threshold lies inside, so that
        # rational and the true rate are on the same side of each.
        low, high = (lo - 1) * 100, (hi - 1) * 100
        simplest = simplest_between(low, high)
        if simplest.denominator > CAGR_SEPARATES:
            return simplest, False
    return None


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
    factor_step = Step(f"增长倍数 {show(b, ub)} ÷ {show(a, ua)} = {format_number(factor)}",
                       f"growth factor {show(b, ub, 'en')} ÷ {show(a, ua, 'en')} = {format_number(factor)}")
    detail = {"operands": operands, "factor": fraction_json(factor), "years": args.years}
    if abs(factor) >= LIMIT or factor.denominator >= MAX_DENOMINATOR:
        return bounded(factor, (factor_step,), detail)  # out of bounds: unknown with the reason
    found = compound_rate(factor, args.years)
    if found is None:
        return unknown_because("年均复合增长率无法精确判定", "the compound growth rate cannot be placed exactly",
                               (factor_step,), detail)
    rate, exact = found
    shown_rate = show(rate, args.unit) if exact else f"≈ {approx_rate(rate)}%"
    rate_step = Step(
        f"年均复合增长率 = {format_number(factor)}^(1/{args.years}) − 1 {'= ' if exact else ''}{shown_rate}"
        + ("" if exact else "（与任一阈值比较均与精确值一致）"),
        f"compound annual growth = {format_number(factor)}^(1/{args.years}) − 1 {'= ' if exact else ''}{shown_rate}"
        + ("" if exact else " (on the same side of every threshold as the exact rate)"))
    return bounded(rate, (factor_step, rate_step), {**detail, "exact": exact, "approx_percent": str(approx_rate(rate))},
                   max_denominator=CAGR_SEPARATES**3)


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
    steps = (Step.later(_since_text, args.date, day, env.as_of, result, zh, en),)
    return bounded(Fraction(result), steps, {"date": day.isoformat(), "as_of": env.as_of.isoformat()})


def _since_text(name: str, day: dt.date, as_of: dt.date, result: int, zh: str, en: str) -> tuple[str, str]:
    return (f"{name} {day.isoformat()} 至评价日 {as_of.isoformat()}：{result} {zh}",
            f"{name} {day.isoformat()} to the evaluation date {as_of.isoformat()}: {result} {en}")


@computes("days_since")
def compute_days_since(args: Since, env: Env) -> Computed:  # type: ignore[override]
    return _since(args, env)


@computes("years_since")
def compute_years_since(args: Since, env: Env) -> Computed:  # type: ignore[override]
    return _since(args, env)


# ---------------------------------------------------------------------------------------------
# Conditions: written out for the trace. Whether one holds is never decided here: each `cases`
# condition is a hidden criterion and each member condition a compiled ruleset, decided by
# durable-rules (engine.compile.build2, engine.evaluate.run2); this only shows what was compared.

_SYMBOL = {">=": ("≥", "≥"), ">": (">", ">"), "<=": ("≤", "≤"), "<": ("<", "<"), "=": ("=", "="), "!=": ("≠", "≠"),
           "in": ("属于", "in"), "not_in": ("不属于", "not in"), "is_true": ("为是", "is yes"),
           "is_false": ("为否", "is no"), "on_or_before": ("不晚于", "on or before"),
           "on_or_after": ("不早于", "on or after"), "met": ("满足", "is met")}
_STATUS_WORDS = {Status.MET: ("成立", "holds", "met"), Status.NOT_MET: ("不成立", "does not hold", "not_met"),
                 Status.UNKNOWN: ("无法判定", "cannot tell", "unknown")}


@dataclass
class Described:
    zh: list[str]
    en: list[str]
    missing: list[str]  # names of the pack read that are unknown (parameters, tested names)
    lacking: list[str]  # member fields read that are unknown


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day `years` earlier; 29 Feb falls back to 28 Feb."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _describe_test(test: Test, get: Any, env: Env) -> Described:
    """The test with its operands as read (`get(subject)`: a member field or a name; parameters
    from env), and which of them are unknown; no comparison is made."""
    raw = get(test.subject)
    sym_zh, sym_en = _SYMBOL.get(test.op, (test.op, test.op))
    missing: list[str] = []
    known = True
    if test.kind == "number":
        value = number(raw)
        threshold = test.amount
        if test.param is not None:
            threshold = number(env.get(test.param))
            if threshold is None:
                missing.append(test.param)
        known = value is not None
        left_zh = show(value, test.unit) if value is not None else "未知"
        left_en = show(value, test.unit, "en") if value is not None else "unknown"
        right_zh = show(threshold, test.unit) if threshold is not None else f"{test.param}（未知）"
        right_en = show(threshold, test.unit, "en") if threshold is not None else f"{test.param} (unknown)"
        if test.param is not None:
            right_zh, right_en = f"{test.param} {right_zh}", f"{test.param} {right_en}"
        zh, en = f"{test.subject} {left_zh} {sym_zh} {right_zh}", f"{test.subject} {left_en} {sym_en} {right_en}"
    elif test.kind == "enum":
        value = raw if isinstance(raw, str) else None
        known = value is not None
        listed = "、".join(test.values)
        zh = f"{test.subject} {value if value is not None else '未知'} {sym_zh} [{listed}]"
        en = f"{test.subject} {value if value is not None else 'unknown'} {sym_en} [{', '.join(test.values)}]"
    elif test.kind == "boolean":
        value_b = raw if isinstance(raw, bool) else None
        known = value_b is not None
        shown_zh = {True: "是", False: "否", None: "未知"}[value_b]
        shown_en = {True: "yes", False: "no", None: "unknown"}[value_b]
        zh, en = f"{test.subject} {shown_zh}，{sym_zh}", f"{test.subject} {shown_en}, {sym_en}"
    elif test.kind == "criterion":
        status = raw.value if isinstance(raw, Status) else raw
        known = status is not None and status != Status.UNKNOWN.value
        words = {"met": ("满足", "met"), "not_met": ("不满足", "not met"), "not_applicable": ("不适用", "not applicable")}
        word_zh, word_en = words.get(str(status), ("无法判定", "unknown"))
        zh, en = f"条件 {test.subject} {word_zh}", f"criterion {test.subject} {word_en}"
    else:  # dates
        day = as_date(raw)
        known = day is not None
        if test.op == "within_years_before":
            assert test.years is not None
            start = years_before(env.as_of, test.years)
            zh = f"{test.subject} {day or '未知'} 在评价日 {env.as_of} 前 {test.years} 年内（{start} 至 {env.as_of}）"
            en = f"{test.subject} {day or 'unknown'} within {test.years} years before {env.as_of} ({start} to {env.as_of})"
        else:
            ref = env.as_of if test.as_of else dt.date.fromisoformat(str(test.date))
            ref_zh = f"评价日 {ref}" if test.as_of else str(ref)
            ref_en = f"the evaluation date {ref}" if test.as_of else str(ref)
            zh = f"{test.subject} {day or '未知'} {sym_zh} {ref_zh}"
            en = f"{test.subject} {day or 'unknown'} {sym_en} {ref_en}"
    lacking: list[str] = []
    if not known:
        (lacking if test.member else missing).append(test.subject)
    return Described([zh], [en], missing, lacking)


def describe(cond: Cond, get: Any, env: Env) -> Described:
    """A condition written out with what it read (all / any / not kept), for the trace."""
    if cond.test is not None:
        return _describe_test(cond.test, get, env)
    parts = [describe(p, get, env) for p in cond.parts]
    zh = [t for p in parts for t in p.zh]
    en = [t for p in parts for t in p.en]
    missing = [n for p in parts for n in p.missing]
    lacking = [n for p in parts for n in p.lacking]
    if cond.kind == "not":
        return Described([f"并非（{'；'.join(zh)}）"], [f"not ({'; '.join(en)})"], missing, lacking)
    joined_zh, joined_en = ("；且 ".join(zh), "; and ".join(en)) if cond.kind == "all" else ("；或 ".join(zh), "; or ".join(en))
    return Described([joined_zh] if zh else [], [joined_en] if en else [], missing, lacking)


# ---------------------------------------------------------------------------------------------
# Over member lists


def member_record(item: Any, index: int) -> tuple[str, Mapping[str, Any]]:
    """(name, fields) of one member: format 1's normalised record {name, values, notes} or a
    plain mapping of fields with `name` or `id`."""
    if isinstance(item, Mapping) and isinstance(item.get("values"), Mapping):
        return str(item.get("name") or f"#{index}"), item["values"]
    if isinstance(item, Mapping):
        return str(item.get("name") or item.get("id") or f"#{index}"), item
    return f"#{index}", {}


def _members(args: Members, env: Env) -> Computed:
    items = env.get(args.members)
    if not isinstance(items, list):
        return unknown_for((args.members,), "成员列表", "members")
    statuses: list[Status] | None = None
    if args.where is not None:
        if args.rules is None:
            raise DecisionError(f"the member condition of {args.members!r} was not compiled: only durable-rules "
                                "(or the reference evaluator checking it) decides whether a member counts")
        statuses = env.member_verdicts(args.rules)
        if statuses is None or len(statuses) != len(items):
            raise DecisionError(f"{len(items)} members of {args.members!r} but "
                                f"{'no' if statuses is None else len(statuses)} decisions")
    counted, not_counted, undecided = [], [], []
    verdicts: list[dict[str, Any]] = []
    steps: list[Step] = []
    total = Fraction(0)
    missing: list[str] = []
    lacking_total: list[str] = []
    for i, item in enumerate(items, start=1):
        name, fields = member_record(item, i)
        if args.where is None or statuses is None:
            holds: bool | None = True
            text = Described(["无条件"], ["no condition"], [], [])
        else:
            holds = {Status.MET: True, Status.NOT_MET: False}.get(statuses[i - 1])
            text = describe(args.where, fields.get, env)
            if holds is None:
                missing += text.missing
        amount = None
        if args.key == "total" and holds:
            assert args.field is not None
            amount = number(fields.get(args.field))
            if amount is None:
                lacking_total.append(name)
        word_zh = {True: "计入", False: "不计入", None: "无法判定"}[holds]
        word_en = {True: "counted", False: "not counted", None: "cannot tell"}[holds]
        entry: dict[str, Any] = {"name": name, "verdict": {True: "met", False: "not_met", None: "unknown"}[holds],
                                 "tests": text.zh}
        if holds is None and text.lacking:
            entry["lacking"] = text.lacking
        add_zh = add_en = ""
        if args.key == "total" and holds:
            entry[args.field or "value"] = fraction_json(amount) if amount is not None else None
            add_zh = f"，{args.field} {show(amount, args.field_unit) if amount is not None else '未知'}"
            add_en = f", {args.field} {show(amount, args.field_unit, 'en') if amount is not None else 'unknown'}"
            if amount is not None:
                total += amount
        verdicts.append(entry)
        (counted if holds else not_counted if holds is False else undecided).append(name)
        steps.append(Step(f"{name}：{'；'.join(text.zh)} → {word_zh}{add_zh}",
                          f"{name}: {'; '.join(text.en)} → {word_en}{add_en}"))
    detail: dict[str, Any] = {"members": args.members, "counted": counted, "not_counted": not_counted,
                              "unknown": undecided, "verdicts": verdicts}
    if args.where is not None:
        by = env.decided_by
        detail["decided_by"] = by
        steps.append(Step(f"各成员是否计入由 {by} 判定", f"whether each member counts was decided by {by}"))
    missing_names = tuple(dict.fromkeys(missing))
    if missing_names:
        # an unset parameter or an unknown name decides no member
        return Computed(None, tuple(steps), missing=missing_names, detail=detail)
    if undecided or lacking_total:
        names = undecided + lacking_total
        field_zh = f"（缺少 {args.field}）" if lacking_total and not undecided else ""
        return Computed(None, tuple(steps), missing=(args.members,), detail=detail, reason=Step(
            f"{len(names)} 个成员无法判定{field_zh}：{'、'.join(names[:10])}{' 等' if len(names) > 10 else ''}",
            f"{len(names)} member(s) cannot be decided: {', '.join(names[:10])}{' …' if len(names) > 10 else ''}"))
    if args.key == "count":
        result = Fraction(len(counted))
        steps.append(Step(f"计入 {len(counted)} 个（共 {len(items)} 个）", f"{len(counted)} of {len(items)} counted"))
    elif args.key == "total":
        result = total
        steps.append(Step(f"计入 {len(counted)} 个，合计 {show(result, args.unit)}",
                          f"{len(counted)} counted, total {show(result, args.unit, 'en')}"))
    else:
        if not items:
            return unknown_because("分母为0（成员列表为空）", "the denominator is 0 (the member list is empty)",
                                   tuple(steps), detail)
        result = Fraction(len(counted), len(items)) * 100
        steps.append(Step(f"{len(counted)} ÷ {len(items)} = {show(result, args.unit)}",
                          f"{len(counted)} ÷ {len(items)} = {show(result, args.unit, 'en')}"))
    return bounded(result, tuple(steps), detail)


@computes("count")
def compute_count(args: Members, env: Env) -> Computed:  # type: ignore[override]
    return _members(args, env)


@computes("total")
def compute_total(args: Members, env: Env) -> Computed:  # type: ignore[override]
    return _members(args, env)


@computes("share")
def compute_share(args: Members, env: Env) -> Computed:  # type: ignore[override]
    return _members(args, env)


# ---------------------------------------------------------------------------------------------
# The batch


@computes_cohort("cohort_mean")
def compute_cohort_mean(args: CohortMean, envs: Sequence[Env]) -> list[Computed]:  # type: ignore[override]
    """The mean of `of` over the entities of the batch in the same `within` group. A group in
    which any entity lacks the value has no mean: leaving that entity out would change the
    reference every other entity is compared with, without a word."""
    groups: dict[Any, list[int]] = {}
    keys: list[Any] = []
    for i, env in enumerate(envs):
        key = env.get(args.within) if args.within else "*"
        keys.append(key)
        if key is not None:
            groups.setdefault(key, []).append(i)
    values = [number(env.get(args.of)) for env in envs]
    out: list[Computed] = []
    for i, env in enumerate(envs):
        key = keys[i]
        if key is None:
            out.append(unknown_for((str(args.within),), "所属分组", "group"))
            continue
        members = groups[key]
        group_zh = f"{args.within} 为 {key} 的" if args.within else "本批"
        group_en = f"with {args.within} {key}" if args.within else "in the batch"
        lacking = [envs[j].entity_id for j in members if values[j] is None]
        detail: dict[str, Any] = {"group": key if args.within else None, "entities": [envs[j].entity_id for j in members]}
        if lacking:
            shown_ids = "、".join(lacking[:10]) + (" 等" if len(lacking) > 10 else "")
            own_missing = (args.of,) if values[i] is None else ()
            out.append(Computed(None, missing=own_missing, detail={**detail, "lacking": lacking}, reason=Step(
                f"{group_zh}{len(members)} 个对象中 {len(lacking)} 个缺少 {args.of}（{shown_ids}），无法计算平均值",
                f"{len(lacking)} of the {len(members)} entities {group_en} lack {args.of} "
                f"({', '.join(lacking[:10])}{' …' if len(lacking) > 10 else ''}): no mean")))
            continue
        total = sum((values[j] for j in members), Fraction(0))  # type: ignore[misc]
        result = total / len(members)
        steps = (Step(f"{group_zh}{len(members)} 个对象的 {args.of} 平均值：{show(total, args.of_unit)} ÷ {len(members)} "
                      f"= {show(result, args.unit)}",
                      f"mean of {args.of} over the {len(members)} entities {group_en}: {show(total, args.of_unit, 'en')} "
                      f"÷ {len(members)} = {show(result, args.unit, 'en')}"),)
        out.append(bounded(result, steps, detail))
    return out


# ---------------------------------------------------------------------------------------------
# cases


def _then(case: Case, env: Env) -> tuple[Fraction | None, str | None]:
    if case.then_name is None:
        return case.then_value, None
    return number(env.get(case.then_name)), case.then_name


@computes("cases")
def compute_cases(args: Cases, env: Env) -> Computed:  # type: ignore[override]
    """The first case whose condition holds. Each condition is a hidden criterion decided by
    durable-rules before this value (engine.compile.build2); here its status is only read."""
    if len(args.deciders) != len(args.cases):
        raise DecisionError("a cases value whose conditions were not compiled: only durable-rules (or the reference "
                            "evaluator checking it) decides which case applies")
    by = env.decided_by
    steps: list[Step] = []
    for i, (case, decider) in enumerate(zip(args.cases, args.deciders), start=1):
        status = env.get(decider)
        if not isinstance(status, Status) or status is Status.NOT_APPLICABLE:
            raise DecisionError(f"the condition of case {i} was not decided ({status!r})")
        text = describe(case.when, env.get, env)
        word_zh, word_en, word = _STATUS_WORDS[status]
        steps.append(Step(f"情形 {i}：{'；'.join(text.zh)}：{by} 判定{word_zh}",
                          f"case {i}: {'; '.join(text.en)}: {by} decided it {word_en}"))
        if status is Status.UNKNOWN:
            # as criteria's cases: an earlier case that cannot be decided leaves the choice open
            missing = tuple(dict.fromkeys(text.missing + text.lacking))
            return Computed(None, tuple(steps), missing=missing, detail={"case": None, "decided_by": by},
                            reason=None if missing else Step("无法确定适用哪一情形", "cannot tell which case applies"))
        if status is Status.MET:
            return _taken(args, case, env, steps, i, by)
    if args.otherwise is None:
        return unknown_because("没有适用的情形（未写 otherwise）", "no case applies (the value writes no otherwise)",
                               tuple(steps), {"case": None, "decided_by": by})
    steps.append(Step("以上情形均不适用：取 otherwise", "no case applies: otherwise"))
    return _taken(args, args.otherwise, env, steps, "otherwise", by)


def _taken(args: Cases, case: Case, env: Env, steps: list[Step], which: Any, by: str) -> Computed:
    value, name = _then(case, env)
    if value is None:
        assert name is not None
        return Computed(None, tuple(steps), missing=(name,), detail={"case": which, "decided_by": by})
    steps.append(Step.later(_taken_text, args, name, value))
    return bounded(value, tuple(steps), {"case": which, "decided_by": by, **({"taken": name} if name else {})})


def _taken_text(args: Cases, name: str | None, value: Fraction) -> tuple[str, str]:
    label = f"{name} " if name else ""
    return f"取 {label}{show(value, args.unit)}", f"takes {label}{show(value, args.unit, 'en')}"
