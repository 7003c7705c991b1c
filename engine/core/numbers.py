"""Exact numbers shared by every stage: the comparison operators of a test, and the engine's integer slots.

Every comparison is between Fractions (never floats). durable-rules compares integers, so a
threshold reaches it as the numerator of a Fraction scaled to a whole number: the slot rules below
say which thresholds can be compared exactly, and what to tell an officer when one cannot.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from engine.core.problems import shown
from engine.core.units import Unit

COMPARE = {  # the comparison operators of a test, exactly (Fractions)
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}

# A threshold t = T/S reaches the engine as its numerator T (engine.compile.compile.project), so
# T — not the size of t — must fit the slot: 100000000.00000000000001元 is a modest amount whose T
# is 10^22. Officers are told the limit as digits: a threshold written in its base unit (元,
# 平方米, %, …) has at most SLOT_DIGITS digits counting its decimals; then |T| < 10^18 <
# THRESHOLD_LIMIT (2^60, in engine.compile.compile), and every clamped value stays on the right
# side of it.
SLOT_DIGITS = 18


# A computed value (a format-1 derived input, a format-2 value) is held to the same size as a
# threshold: |value| below 10^18 in its base unit, and a denominator below the square of that,
# which keeps every later product and comparison cheap and exact. Beyond that it is unknown, with
# OUT_OF_BOUNDS as the reason, in both formats (docs/format2.md "Format 1").
VALUE_LIMIT = Fraction(10**SLOT_DIGITS)
VALUE_MAX_DENOMINATOR = 10 ** (2 * SLOT_DIGITS)
OUT_OF_BOUNDS = (f"the result is beyond what the engine compares exactly (at most {SLOT_DIGITS} digits in its base unit)",
                 f"结果超出可精确比较的范围（以基本单位计最多 {SLOT_DIGITS} 位数字），无法判定")


def value_in_bounds(value: Fraction, max_denominator: int = VALUE_MAX_DENOMINATOR) -> bool:
    """Whether a computed value is within VALUE_LIMIT and its denominator below `max_denominator`."""
    return abs(value) < VALUE_LIMIT and value.denominator < max_denominator


def slot_digits(value: Fraction) -> int | None:
    """How many digits `value` needs written as a decimal in its base unit (leading zeros and a
    trailing zero fraction not counted: 12.5 → 3, 0.001 → 1, 300 → 3), or None when it has no
    finite decimal form (thirds of a 亩 in 平方米)."""
    num, den = abs(value.numerator), value.denominator
    d, places = den, 0
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d != 1:
        return None
    while den != 1 and 10**places % den:
        places += 1
    return len(str(num * 10**places // den))


def slot_fits(value: Fraction) -> bool:
    """Whether a threshold is compared exactly by the engine's integer slots."""
    digits = slot_digits(value)
    if digits is None:
        return abs(value.numerator) < 10**SLOT_DIGITS and value.denominator < 10**SLOT_DIGITS
    return digits <= SLOT_DIGITS


def slot_message(written: Any, value: Fraction, unit: Unit | None) -> tuple[str, str]:
    """(English, Chinese) explanation of why a threshold does not fit, in officer terms."""
    base = {"money": "元", "area": "平方米", "percent": "%", "count": "个"}.get(unit.dimension, "") if unit else ""
    digits = slot_digits(value)
    need = f"{digits} digits" if digits is not None else "more digits than that"
    need_zh = f"共 {digits} 位数字" if digits is not None else "位数更多"
    where = f" when written in {base}" if base else ""
    where_zh = f"换算为{base}后" if base else ""
    return (
        f"{shown(str(written))} needs {need}{where} (counting its decimals); a threshold may have at "
        f"most {SLOT_DIGITS} so that every comparison with it is exact: round it, or check for a typo",
        f"{shown(str(written))}{where_zh}{need_zh}（含小数位）；阈值最多 {SLOT_DIGITS} 位数字，"
        "才能保证每次比较都精确。请减少小数位数，或检查是否写错。",
    )
