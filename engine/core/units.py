"""Units and amounts, exactly.

Officers write "10亿元", "5000万元", "35%", "50亩". Every amount becomes a `Fraction` in the
base unit of its dimension (元, 平方米, 1 for counts, percentage points for percent), so no
binary floating point ever touches money or a threshold. 1 亩 = 2000/3 平方米 exactly.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from engine.core.problems import shown


@dataclass(frozen=True)
class Unit:
    name: str
    dimension: str  # "money", "area", "count", "percent", "ratio", or "money/area" ...
    factor: Fraction  # how many base units one of this unit is


_SIMPLE: dict[str, tuple[str, Fraction]] = {
    "元": ("money", Fraction(1)),
    "万元": ("money", Fraction(10**4)),
    "亿元": ("money", Fraction(10**8)),
    "平方米": ("area", Fraction(1)),
    "m2": ("area", Fraction(1)),
    "万平方米": ("area", Fraction(10**4)),
    "亩": ("area", Fraction(2000, 3)),
    "%": ("percent", Fraction(1)),
    "个百分点": ("percent", Fraction(1)),
    "百分点": ("percent", Fraction(1)),
    "倍": ("ratio", Fraction(1)),
    "分": ("points", Fraction(1)),  # format 2: points are a unit of their own dimension
}
# Count units all share one dimension: a "家" of firms and a "个" of platforms are both counts.
# A period counted in whole months (a loan term "不超过两年" is 24个月) is a count too.
# Whole days and years since a date (format 2 `days_since`, `years_since`) are counts as well.
# Head of livestock (头 of pigs, 只 of sheep, 羽 of poultry: K2's family-farm standards) are
# counts too: a farm's 200头 and 2000羽 are each compared only with a threshold written in the
# same measure word by the policy, and the input declares which.
for _name in ("家", "个", "户", "项", "人", "名", "家次", "批", "件", "次", "座", "所", "个月", "天", "年",
              "头", "只", "羽"):
    _SIMPLE[_name] = ("count", Fraction(1))

# Short forms officers use in spreadsheets and data ("12亿", "5000万").
_AMOUNT_ALIASES = {"亿": "亿元", "万": "万元",
                   # Traditional forms, as a Big5 file (read with --encoding big5) writes them.
                   "億元": "亿元", "億": "亿元", "萬元": "万元", "萬": "万元", "畝": "亩", "萬平方米": "万平方米",
                   "個": "个", "項": "项", "戶": "户", "個月": "个月", "頭": "头", "隻": "只"}

UNIT_NAMES = sorted(_SIMPLE) + ["<unit>/<unit>"]


def parse_unit(name: str) -> Unit | None:
    """A unit by name, including ratios such as 万元/亩. None if unknown."""
    name = name.strip()
    if name in _SIMPLE:
        dim, factor = _SIMPLE[name]
        return Unit(name, dim, factor)
    if "/" in name:
        top, _, bottom = name.partition("/")
        a, b = parse_unit(top), parse_unit(bottom)
        if a is None or b is None or "/" in a.dimension or "/" in b.dimension:
            return None
        return Unit(name, f"{a.dimension}/{b.dimension}", a.factor / b.factor)
    return None


DIMENSION_OF_TYPE = {"money": "money", "count": "count", "percent": "percent", "area": "area"}

_NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
# Matched against stripped text. The unit is greedy with no trailing \s*: the former lazy
# `.*?` followed by `\s*$` backtracked quadratically on text like "1x<100000 spaces>y"
# (half a minute for one 100 kB cell).
_AMOUNT_RE = re.compile(rf"^(?P<num>{_NUMBER})\s*(?P<unit>[^\d\s].*)?$")
# Longer text is refused before any parsing, and shown shortened: an amount is a few dozen
# characters, and a 100 kB cell should not be echoed whole into every problem message.
MAX_AMOUNT_TEXT = 1000


class AmountError(ValueError):
    """Text that is not an amount; the message says what was expected (`str` in English, `zh`
    in Chinese for officers)."""

    def __init__(self, message: str, zh: str = ""):
        super().__init__(message)
        self.zh = zh or message


# Decimals such as 1E+999999999 (YAML 1.0e+999999999, JSON 1e999999999) would take minutes and
# gigabytes to turn into an exact Fraction; no amount in a policy or a data file is near 10^100.
MAX_EXPONENT = 100


def _exact(number: Decimal, shown: str) -> Fraction:
    if not number.is_finite():
        raise AmountError(f"{shown} is not a finite number", f"{shown} 不是有限的数")
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if abs(exponent) > 2 * MAX_EXPONENT or (number and abs(number.adjusted()) > MAX_EXPONENT):
        raise AmountError(f"{shown} is out of range for an amount (beyond 10^{MAX_EXPONENT})",
                          f"{shown} 超出数量的范围 (超过 10^{MAX_EXPONENT})")
    return Fraction(number)


def _check_length(text: str) -> None:
    if len(text) > MAX_AMOUNT_TEXT:
        raise AmountError(
            f"{text[:20]!r}… is {len(text)} characters long; an amount is at most {MAX_AMOUNT_TEXT}",
            f"{text[:20]!r}… 长达 {len(text)} 个字符; 数量最多 {MAX_AMOUNT_TEXT} 个字符",
        )


def to_fraction(value: Any) -> Fraction:
    """An exact number from int, Decimal or numeric text. Never accepts a binary float."""
    if isinstance(value, bool):
        raise AmountError(f"{value!r} is a yes/no value, not a number", f"{value!r} 是 是/否 值, 不是数")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, Decimal):
        return _exact(value, str(value))
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        # Binary floats only arrive from callers that built data in Python; go through repr so
        # 0.1 means the 0.1 that was typed, not 0.1000000000000000055...
        if value != value or value in (float("inf"), float("-inf")):
            raise AmountError(f"{value!r} is not a finite number")
        return _exact(Decimal(repr(value)), repr(value))
    if isinstance(value, str):
        _check_length(value)
        text = value.strip().replace(",", "").replace("，", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise AmountError(f"{_shown(value)} is not a number", f"{_shown(value)} 不是数")
        return _exact(number, repr(value))
    raise AmountError(f"{_shown(value)} is not a number", f"{_shown(value)} 不是数")


def _shown(value: Any) -> str:
    return shown(value)


_SCIENTIFIC_RE = re.compile(r"^(?P<num>[-+]?\d+(?:\.\d+)?[eE][-+]?\d+)\s*(?P<unit>[^\d\s].*)?$")
_LARGE_UNITS = (("亿元", 10**8), ("万元", 10**4))


def _plain(number: Fraction) -> str:
    return _terminating(number) or str(number)


def _scientific(value: str, match: re.Match[str]) -> AmountError:
    """Scientific notation (`1e9元`, `1.23E+09`) is refused, not read: Excel saves a number in a
    narrow cell as it displays it, so 1,234,567,890 becomes "1.23E+09" in the CSV. Reading that
    exactly would certify a rounded value without a word; the officer writes the number out."""
    unit_text = (match.group("unit") or "").strip()
    unit_text = _AMOUNT_ALIASES.get(unit_text, unit_text)
    decimal = Decimal(match.group("num"))  # the pattern admits only finite decimal text
    number = Fraction(decimal) if abs(decimal.adjusted()) <= MAX_EXPONENT else None
    if number is None:
        example_en, example_zh = "write it out, such as 10亿元 or 1000000000元", "请写出完整数值, 如 10亿元 或 1000000000元"
    else:
        unit = parse_unit(unit_text) if unit_text else None
        forms = [f"{_plain(number)}{unit_text}"]
        if unit is not None and unit.dimension == "money":
            base = number * unit.factor
            forms = [f"{_plain(base / f)}{name}" for name, f in _LARGE_UNITS if base >= f] [:1] + [f"{_plain(base)}元"]
        example = " or ".join(forms)
        example_en, example_zh = f"write {example}", f"请写作 {' 或 '.join(forms)}"
    return AmountError(
        f"{_shown(value)} is in scientific notation, which is not read (a spreadsheet may have saved a rounded "
        f"display); {example_en}",
        f"{_shown(value)} 是科学计数法, 不予读取 (表格软件可能只保存了四舍五入后的显示值); {example_zh}")


def parse_amount(value: Any, default_unit: Unit | None) -> tuple[Fraction, Unit]:
    """Parse "12亿元", "5,000万元", "35%", 120000 (in `default_unit`).

    Returns the value in base units of the unit's dimension and the unit it was written in.
    """
    if isinstance(value, str):
        _check_length(value)
        text = value.replace("，", ",").strip()
        match = _AMOUNT_RE.match(text)
        if not match:
            raise AmountError(
                f"{_shown(value)} is not an amount; write a number with an optional unit, "
                "such as 10亿元, 5000万元, 35% or 50亩",
                f"{_shown(value)} 不是数量; 请写数字加单位, 如 10亿元、5000万元、35% 或 50亩",
            )
        scientific = _SCIENTIFIC_RE.match(text)
        if scientific:
            raise _scientific(value, scientific)
        number = to_fraction(match.group("num"))
        unit_text = (match.group("unit") or "").strip()
        if unit_text:
            unit_text = _AMOUNT_ALIASES.get(unit_text, unit_text)
            unit = parse_unit(unit_text)
            if unit is None:
                raise AmountError(
                    f"{_shown(value)}: unknown unit {_shown(unit_text)}; known units include "
                    "元, 万元, 亿元, 亩, 平方米, 万平方米, %, 家, 个",
                    f"{_shown(value)}: 无法识别的单位 {_shown(unit_text)}; 可用单位有 "
                    "元、万元、亿元、亩、平方米、万平方米、%、家、个",
                )
            return number * unit.factor, unit
        if default_unit is None:
            raise AmountError(f"{_shown(value)} has no unit; write it with one, such as 10亿元",
                              f"{_shown(value)} 没有单位; 请加上单位, 如 10亿元")
        return number * default_unit.factor, default_unit
    number = to_fraction(value)
    if default_unit is None:
        raise AmountError(f"{_shown(value)} has no unit; write it with one, such as 10亿元",
                          f"{_shown(value)} 没有单位; 请加上单位, 如 10亿元")
    return number * default_unit.factor, default_unit


def format_amount(base_value: Fraction, unit: Unit | None, lang: str = "zh") -> str:
    """Render a base-unit value in `unit`, grouping digits: 1,000万元."""
    if unit is None:
        return format_number(base_value)
    shown = base_value / unit.factor if unit.factor != 1 else base_value
    text = format_number(shown)
    if unit.dimension == "count" and lang == "en":
        return text
    return f"{text}{unit.name}" if unit.name != "%" else f"{text}%"


def _terminating(value: Fraction) -> str | None:
    """The exact decimal text of `value` if it has one ("12.5"), else None."""
    d, k5 = value.denominator, 0
    if d == 1:  # a whole number (most amounts, counts and points)
        return str(value.numerator)
    k2 = (d & -d).bit_length() - 1  # the power of 2 in d
    d >>= k2
    while d % 5 == 0:
        d, k5 = d // 5, k5 + 1
    if d != 1:
        return None
    places = max(k2, k5)
    scaled = abs(value.numerator) * 10**places // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    whole, frac = (digits[:-places], digits[-places:]) if places else (digits, "")
    frac = frac.rstrip("0")
    sign = "-" if value < 0 else ""
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def format_number(value: Fraction) -> str:
    """Exact when the value has a decimal form (digits grouped), else ≈ to 4 places."""
    if value.denominator == 1:
        return f"{value.numerator:,}"
    text = _terminating(value)
    if text is None:
        approx = Decimal(value.numerator) / Decimal(value.denominator)
        return "≈" + f"{approx:,.4f}"
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    grouped = f"{int(whole):,}"
    return f"{sign}{grouped}.{frac}" if frac else f"{sign}{grouped}"


def fraction_json(value: Fraction) -> str:
    """A lossless text for JSON output: "12.5" when decimal, else "1/3"."""
    text = _terminating(value)
    return text if text is not None else f"{value.numerator}/{value.denominator}"


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def iso_date(value: Any) -> _dt.date | None:
    """A YYYY-MM-DD text (or a date) as a date, else None."""
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def parse_param_value(written: Any) -> tuple[Fraction, Unit | None, str]:
    """(value in base units, unit, dimension) of a parameter value as written."""
    date = iso_date(written) if isinstance(written, str) else None
    if date is not None:
        return Fraction(date.toordinal()), None, "date"
    if isinstance(written, bool):
        raise AmountError(f"{written!r} is a yes/no value, not an amount")
    value, unit = parse_amount(written, None)
    return value, unit, unit.dimension
