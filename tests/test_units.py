"""engine.core.units: amounts as exact Fractions in base units (元, 平方米, counts, percentage points)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from engine.core.units import AmountError, format_amount, format_number, fraction_json, parse_amount, parse_unit

YUAN = parse_unit("元")
WAN = parse_unit("万元")
YI = parse_unit("亿元")
MU = parse_unit("亩")
SQM = parse_unit("平方米")
PERCENT = parse_unit("%")
JIA = parse_unit("家")


def exact(value: object) -> Fraction:
    assert type(value) is Fraction, f"{value!r} is {type(value).__name__}, not Fraction"
    return value  # type: ignore[return-value]


# ---------------------------------------------------------------------------- parse_amount


def test_ten_yi_yuan_is_exactly_a_billion_yuan():
    value, unit = parse_amount("10亿元", None)
    assert exact(value) == 10**9
    assert unit.name == "亿元" and unit.dimension == "money"


@pytest.mark.parametrize(
    ("text", "base", "unit_name"),
    [
        ("5,000万元", 5 * 10**7, "万元"),
        ("5000万", 5 * 10**7, "万元"),  # 万 is short for 万元
        ("12亿", 12 * 10**8, "亿元"),
        ("2.5亿元", 250_000_000, "亿元"),
        ("9.9999亿元", 999_990_000, "亿元"),
        ("99999万元", 999_990_000, "万元"),
        ("1,234,567元", 1_234_567, "元"),
        ("  3.5亿元 ", 350_000_000, "亿元"),
        ("5，000万元", 5 * 10**7, "万元"),  # full-width comma
    ],
)
def test_money_amounts(text: str, base: int, unit_name: str):
    value, unit = parse_amount(text, None)
    assert exact(value) == base
    assert unit.name == unit_name
    assert unit.dimension == "money"


def test_same_amount_in_different_units_is_equal():
    assert parse_amount("9.9999亿元", None)[0] == parse_amount("99999万元", None)[0]
    assert parse_amount("0.5亿元", None)[0] == parse_amount("5000万元", None)[0]


def test_percent():
    value, unit = parse_amount("35%", None)
    assert exact(value) == 35
    assert unit.dimension == "percent"
    assert exact(parse_amount("12.5%", None)[0]) == Fraction(25, 2)


def test_mu_is_exactly_two_thousand_thirds_square_metres():
    value, unit = parse_amount("50亩", None)
    assert exact(value) == Fraction(100000, 3)
    assert unit.dimension == "area"
    assert exact(parse_amount("3亩", None)[0]) == 2000  # no rounding on the way
    assert exact(parse_amount("1.5万平方米", None)[0]) == 15000


def test_counts():
    value, unit = parse_amount("12家", None)
    assert exact(value) == 12 and unit.dimension == "count"
    # every count unit shares one dimension
    assert parse_unit("户").dimension == parse_unit("个").dimension == "count"


@pytest.mark.parametrize("text, base, unit_name", [("200头", 200, "头"), ("100只", 100, "只"),
                                                   ("2,000羽", 2000, "羽"), ("20頭", 20, "头")])
def test_head_of_livestock_are_counts(text: str, base: int, unit_name: str):
    # K2 (扬州 family farms): 生猪 200头, 肉羊 100只, 蛋禽 2000羽
    value, unit = parse_amount(text, None)
    assert value == base and unit.name == unit_name and unit.dimension == "count"
    assert format_amount(value, unit) == text.replace(",", "").replace("頭", "头").replace("2000", "2,000")


def test_bare_number_uses_the_default_unit():
    assert exact(parse_amount("28000", WAN)[0]) == 280_000_000
    assert exact(parse_amount(28000, WAN)[0]) == 280_000_000
    assert exact(parse_amount(Decimal("0.25"), YI)[0]) == 25_000_000
    value, unit = parse_amount("5000", WAN)
    assert unit is WAN
    # an explicit unit wins over the default
    value, unit = parse_amount("2亿元", WAN)
    assert exact(value) == 200_000_000 and unit.name == "亿元"


def test_bare_number_without_default_unit_is_an_error():
    with pytest.raises(AmountError, match="no unit"):
        parse_amount("5000", None)
    with pytest.raises(AmountError, match="no unit"):
        parse_amount(5000, None)


def test_unknown_unit_error_names_the_unit_and_the_known_ones():
    with pytest.raises(AmountError) as caught:
        parse_amount("5吨", None)
    message = str(caught.value)
    assert "unknown unit '吨'" in message
    assert "万元" in message and "亩" in message
    with pytest.raises(AmountError, match="unknown unit '亿元以上'"):
        parse_amount("2亿元以上", None)


@pytest.mark.parametrize("text", ["二亿元", "十二亿", "abc", "", "亿元", "1.2.3亿元"])
def test_not_an_amount(text: str):
    with pytest.raises(AmountError):
        parse_amount(text, WAN)


@pytest.mark.parametrize("value", [True, False, float("nan"), float("inf"), Decimal("NaN"), None, [1]])
def test_non_numbers_are_rejected(value: object):
    with pytest.raises(AmountError):
        parse_amount(value, WAN)


def test_results_are_never_floats():
    inputs = ["10亿元", "5,000万元", "35%", "50亩", "2.5亿元", "0.1亿元", "28000", 5000, Decimal("0.1"), 0.1]
    for raw in inputs:
        value, _ = parse_amount(raw, WAN)
        exact(value)
    # a Python float is taken as the decimal it was typed as, not its binary expansion
    assert parse_amount(0.1, YI)[0] == 10_000_000
    assert parse_amount("0.1亿元", None)[0] == 10_000_000


def test_amount_error_is_a_value_error():
    assert issubclass(AmountError, ValueError)


# ---------------------------------------------------------------------------- units


def test_parse_unit_ratio_and_unknown():
    ratio = parse_unit("万元/亩")
    assert ratio is not None
    assert ratio.dimension == "money/area"
    assert ratio.factor == Fraction(10**4) / Fraction(2000, 3) == 15
    assert parse_unit("吨") is None
    assert parse_unit("万元/吨") is None
    assert parse_unit("万元/亩/年") is None


# ---------------------------------------------------------------------------- format_amount


@pytest.mark.parametrize(
    ("base", "unit", "text"),
    [
        (Fraction(10**9), YI, "10亿元"),
        (Fraction(5 * 10**7), WAN, "5,000万元"),
        (Fraction(1_200_000_000), WAN, "120,000万元"),
        (Fraction(250_000_000), YI, "2.5亿元"),
        (Fraction(999_990_000), YI, "9.9999亿元"),
        (Fraction(100000, 3), MU, "50亩"),
        (Fraction(35), PERCENT, "35%"),
        (Fraction(25, 2), PERCENT, "12.5%"),
        (Fraction(12), JIA, "12家"),
        (Fraction(-1_500_000), YUAN, "-1,500,000元"),
    ],
)
def test_format_amount(base: Fraction, unit, text: str):
    assert format_amount(base, unit) == text


def test_format_amount_round_trips_through_parse_amount():
    for text in ["10亿元", "2.5亿元", "5,000万元", "50亩", "35%", "12家"]:
        value, unit = parse_amount(text, None)
        assert format_amount(value, unit) == text


def test_format_count_in_english_has_no_chinese_unit():
    assert format_amount(Fraction(12), JIA, lang="en") == "12"
    assert format_amount(Fraction(12), JIA, lang="zh") == "12家"


def test_format_non_terminating_is_marked_approximate():
    # 100 平方米 in 亩 is 0.15 亩 exactly; 1 平方米 is 3/2000 亩 = 0.0015; 1/3 元 has no decimal form
    assert format_amount(Fraction(100), MU) == "0.15亩"
    assert format_amount(Fraction(1, 3), YUAN) == "≈0.3333元"
    assert format_number(Fraction(2, 3)) == "≈0.6667"
    assert format_amount(Fraction(1234), None) == "1,234"


def test_fraction_json_is_lossless():
    assert fraction_json(Fraction(25, 2)) == "12.5"
    assert fraction_json(Fraction(100000, 3)) == "100000/3"
    assert fraction_json(Fraction(-7, 4)) == "-1.75"
    assert fraction_json(Fraction(10**9)) == "1000000000"
