"""Format-2 value operations (ratio, sum, growth, count over members, dates…): how each is read from a pack (a parser registered with `@op`).

See docs/format2.md ("Values") for the language and engine/compile/ops.py for the registry.

Every parser gets the body written under its key, checks its shape (E190), its number of
operands (E191), member fields (E192), year counts (E193) and conditions (E194), checks the
dimensions of its operands and of the unit the value declares (E184), and returns a frozen
dataclass whose `reads()` names everything it reads. Each dataclass carries `unit` (the unit the
result is shown in, None for a plain number) and `dimension` (what the result measures), so the
core can check the tests that read the value without asking the operation again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable, Mapping

from engine.compile.ops import OpArgs, ParseContext, Path, op
from engine.core.problems import kind_zh, shown
from engine.core.units import AmountError, Unit, parse_amount, parse_unit

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Operand lists are read by people: past this a pack should name intermediate values (the same
# limit as criteria in one list, engine/validate/limits.py MAX_GROUP).
MAX_OPERANDS = 48
# A compound growth over more years than this is no policy's; (1+t)^years would also outgrow the
# engine's exact slots long before.
MAX_YEARS = 50
# Member conditions nest like criteria (MAX_DEPTH).
MAX_DEPTH = 12

PERCENT = Unit("%", "percent", Fraction(1))
NUMERIC_SORTS = ("number", "param")
# Dimensionless results: a plain number, a count, a ratio of like quantities (倍).
_PLAIN = {None, "count", "ratio", "number"}
_BASE_UNIT = {"money": "元", "area": "平方米", "percent": "%"}


def dimension_of(unit: Unit | None) -> str | None:
    return None if unit is None else unit.dimension


def same_dimension(a: str | None, b: str | None) -> bool:
    """Whether two dimensions may be added or compared: counts, ratios and plain numbers are all
    dimensionless; a percent is not (it is held in percentage points, 30% is 30)."""
    if a in _PLAIN and b in _PLAIN:
        return True
    return a == b


def _dim_zh(dim: str | None) -> str:
    if dim in _PLAIN:
        return "数值"
    return "/".join(kind_zh(d) for d in str(dim).split("/"))


def _dim_en(dim: str | None) -> str:
    return "a plain number" if dim in _PLAIN else str(dim)


def is_name(raw: Any) -> bool:
    return isinstance(raw, str) and NAME_RE.match(raw) is not None


# ---------------------------------------------------------------------------------------------
# Shape checks shared by the parsers


def _mapping(raw: Any, ctx: ParseContext, path: Path, key: str, required: tuple[str, ...],
             optional: tuple[str, ...] = (), example: str = "") -> dict[str, Any] | None:
    """The body as a mapping with exactly the keys allowed, or None after reporting E190."""
    if not isinstance(raw, Mapping):
        ctx.problem("E190", path, f"{key} is written as a mapping such as {example}, not {shown(raw)}",
                    f"{key} 应写成映射，例如 {example}，而不是 {shown(raw)}")
        return None
    ok = True
    for k in raw:
        if k not in required and k not in optional:
            allowed = ", ".join(required + optional)
            ctx.problem("E190", path + (k,), f"{key} has no key {shown(k)} (it takes {allowed})",
                        f"{key} 没有 {shown(k)} 这一项（可用：{allowed}）")
            ok = False
    for k in required:
        if k not in raw:
            ctx.problem("E190", path, f"{key} needs {k}: (for example {example})",
                        f"{key} 缺少 {k}:（例如 {example}）")
            ok = False
    return dict(raw) if ok else None


def _operand_list(raw: Any, ctx: ParseContext, path: Path, key: str, least: int = 2) -> list[str] | None:
    if not isinstance(raw, list):
        ctx.problem("E190", path, f"{key} is written as a list of names such as [a, b], not {shown(raw)}",
                    f"{key} 应写成名称列表，例如 [a, b]，而不是 {shown(raw)}")
        return None
    if not least <= len(raw) <= MAX_OPERANDS:
        ctx.problem("E191", path, f"{key} takes {least} to {MAX_OPERANDS} operands, not {len(raw)}",
                    f"{key} 需要 {least} 至 {MAX_OPERANDS} 个运算项，而不是 {len(raw)} 个")
        return None
    return list(raw)


def _refs(raws: Iterable[Any], ctx: ParseContext, path: Path) -> tuple[tuple[str, ...], tuple[Unit | None, ...]]:
    names = tuple(ctx.ref(r, path + (i,), sorts=NUMERIC_SORTS) for i, r in enumerate(raws))
    return names, tuple(ctx.unit_of(n) for n in names)


def _same_dims(names: tuple[str, ...], units: tuple[Unit | None, ...], ctx: ParseContext, path: Path,
               key: str) -> str | None:
    """The common dimension of the operands, reporting E184 for the first that differs."""
    first = dimension_of(units[0])
    for i, (name, unit) in enumerate(zip(names, units)):
        if not same_dimension(first, dimension_of(unit)):
            ctx.problem("E184", path + (i,),
                        f"{key}: {name} measures {_dim_en(dimension_of(unit))} but {names[0]} measures "
                        f"{_dim_en(first)}; they cannot be combined",
                        f"{key}：{name} 计量的是{_dim_zh(dimension_of(unit))}，而 {names[0]} 计量的是"
                        f"{_dim_zh(first)}，二者不能相加或比较")
            break
    return first


def _result_unit(ctx: ParseContext, path: Path, key: str, dim: str | None,
                 operand_unit: Unit | None = None) -> Unit | None:
    """The unit the value is shown in: the declared one, checked against the dimension the
    operation computes (E184), else the operands' own unit."""
    declared = ctx.declared_unit()
    if declared is None:
        if operand_unit is not None and same_dimension(operand_unit.dimension, dim):
            return operand_unit
        base = _BASE_UNIT.get(dim or "")
        return parse_unit(base) if base else None
    if not same_dimension(declared.dimension, dim):
        ctx.problem("E184", path, f"{key} gives {_dim_en(dim)}, but the value declares unit {declared.name} "
                    f"({_dim_en(declared.dimension)})",
                    f"{key} 的结果是{_dim_zh(dim)}，而该值声明的单位是 {declared.name}（{_dim_zh(declared.dimension)}）")
    return declared


# ---------------------------------------------------------------------------------------------
# Arithmetic: ratio, sum, difference, product, min, max, best_of


@dataclass(frozen=True)
class Ratio:
    of: str
    per: str
    of_unit: Unit | None
    per_unit: Unit | None
    scale: Fraction  # 100 when a ratio of like quantities is shown in %, else 1
    unit: Unit | None
    dimension: str | None

    def reads(self) -> tuple[str, ...]:
        return (self.of, self.per)


@op("ratio")
def parse_ratio(raw: Any, ctx: ParseContext, path: Path) -> Ratio:
    body = _mapping(raw, ctx, path, "ratio", ("of", "per"), example="{of: tech_staff, per: total_staff}") or {}
    of = ctx.ref(body.get("of"), path + ("of",), sorts=NUMERIC_SORTS) if "of" in body else ""
    per = ctx.ref(body.get("per"), path + ("per",), sorts=NUMERIC_SORTS) if "per" in body else ""
    of_unit, per_unit = (ctx.unit_of(of) if of else None), (ctx.unit_of(per) if per else None)
    a, b = dimension_of(of_unit), dimension_of(per_unit)
    declared = ctx.declared_unit()
    if same_dimension(a, b):
        # A share of like quantities is a pure number; declared in % it is shown (and held) in
        # percentage points, as every percent is.
        dim = "percent" if declared is not None and declared.dimension == "percent" else "ratio"
        scale = Fraction(100) if dim == "percent" else Fraction(1)
    else:
        dim = f"{a or 'count'}/{b or 'count'}"
        scale = Fraction(1)  # base units over base units: 万元/亩 is held in 元/平方米
    unit = _result_unit(ctx, path, "ratio", dim)
    if unit is None and "/" in dim and of_unit is not None and per_unit is not None:
        unit = Unit(f"{of_unit.name}/{per_unit.name}", dim, of_unit.factor / per_unit.factor)
    return Ratio(of, per, of_unit, per_unit, scale, unit, dim)


@dataclass(frozen=True)
class Combine:
    """sum, min, max, best_of, mean: one operation over a list of like operands."""

    key: str
    names: tuple[str, ...]
    units: tuple[Unit | None, ...]
    unit: Unit | None
    dimension: str | None

    def reads(self) -> tuple[str, ...]:
        return self.names


def _parse_combine(key: str, raw: Any, ctx: ParseContext, path: Path) -> Combine:
    raws = _operand_list(raw, ctx, path, key) or []
    names, units = _refs(raws, ctx, path)
    dim = _same_dims(names, units, ctx, path, key) if names else None
    return Combine(key, names, units, _result_unit(ctx, path, key, dim, units[0] if units else None), dim)


@op("sum")
def parse_sum(raw: Any, ctx: ParseContext, path: Path) -> Combine:
    return _parse_combine("sum", raw, ctx, path)


@op("min")
def parse_min(raw: Any, ctx: ParseContext, path: Path) -> Combine:
    return _parse_combine("min", raw, ctx, path)


@op("max")
def parse_max(raw: Any, ctx: ParseContext, path: Path) -> Combine:
    return _parse_combine("max", raw, ctx, path)


@op("best_of")
def parse_best_of(raw: Any, ctx: ParseContext, path: Path) -> Combine:
    return _parse_combine("best_of", raw, ctx, path)


@op("mean")
def parse_mean(raw: Any, ctx: ParseContext, path: Path) -> Combine:
    return _parse_combine("mean", raw, ctx, path)


@dataclass(frozen=True)
class Difference:
    of: str
    minus: str
    units: tuple[Unit | None, Unit | None]
    unit: Unit | None
    dimension: str | None

    def reads(self) -> tuple[str, ...]:
        return (self.of, self.minus)


@op("difference")
def parse_difference(raw: Any, ctx: ParseContext, path: Path) -> Difference:
    body = _mapping(raw, ctx, path, "difference", ("of", "minus"), example="{of: output_2023, minus: output_2022}") or {}
    raws = [body.get("of"), body.get("minus")] if body else []
    names, units = _refs(raws, ctx, path) if raws else ((), ())
    dim = _same_dims(names, units, ctx, path, "difference") if names else None
    unit = _result_unit(ctx, path, "difference", dim, units[0] if units else None)
    if not names:
        return Difference("", "", (None, None), unit, dim)
    return Difference(names[0], names[1], (units[0], units[1]), unit, dim)


@dataclass(frozen=True)
class Product:
    of: str
    of_unit: Unit | None
    by_name: str | None  # a parameter or value; None when `by` is a constant
    by_value: Fraction | None  # the constant as written, in its base unit (70% is 70)
    by_unit: Unit | None
    by_scale: Fraction  # 1/100 for a percent (70% multiplies by 0.7), else 1
    unit: Unit | None
    dimension: str | None

    def reads(self) -> tuple[str, ...]:
        return (self.of,) + ((self.by_name,) if self.by_name else ())


@op("product")
def parse_product(raw: Any, ctx: ParseContext, path: Path) -> Product:
    body = _mapping(raw, ctx, path, "product", ("of", "by"), example="{of: crop_output_min, by: 70%}") or {}
    of = ctx.ref(body.get("of"), path + ("of",), sorts=NUMERIC_SORTS) if body else ""
    of_unit = ctx.unit_of(of) if of else None
    by_name, by_value, by_unit = None, None, None
    by = body.get("by")
    if is_name(by):
        by_name = ctx.ref(by, path + ("by",), sorts=NUMERIC_SORTS)
        by_unit = ctx.unit_of(by_name)
    elif body:
        # a bare number multiplies as it is (倍): `by: 2`
        by_value = ctx.amount(by, path + ("by",), unit=parse_unit("倍"))
        if isinstance(by, str):
            try:
                by_unit = parse_amount(by, parse_unit("倍"))[1]
            except AmountError:
                by_unit = None  # ctx.amount reported it
        else:
            by_unit = parse_unit("倍")
    a, b = dimension_of(of_unit), dimension_of(by_unit)
    scale = Fraction(1, 100) if b == "percent" else Fraction(1)
    if b in _PLAIN or b == "percent":
        dim: str | None = a
    elif b is not None and "/" in b and same_dimension(b.split("/")[1], a):
        dim = b.split("/")[0]  # 50亩 × 30万元/亩 is money
    elif a is not None and "/" in a and same_dimension(a.split("/")[1], b):
        dim = a.split("/")[0]
    else:
        dim = a
        ctx.problem("E184", path + ("by",), f"product: {of} ({_dim_en(a)}) cannot be multiplied by {_dim_en(b)}; "
                    "multiply by a percent, a plain number or a rate per unit of it",
                    f"product：{of}（{_dim_zh(a)}）不能乘以{_dim_zh(b)}；只能乘以百分比、纯数或按其单位计的比率")
    unit = _result_unit(ctx, path, "product", dim, of_unit)
    return Product(of, of_unit, by_name, by_value, by_unit, scale, unit, dim)


# ---------------------------------------------------------------------------------------------
# Over time: growth, cagr (mean is above, with the other lists of like operands)


@dataclass(frozen=True)
class Growth:
    start: str  # `from:` (a Python keyword)
    end: str  # `to:`
    units: tuple[Unit | None, Unit | None]
    unit: Unit | None
    dimension: str | None

    def reads(self) -> tuple[str, ...]:
        return (self.start, self.end)


def _from_to(key: str, raw: Any, ctx: ParseContext, path: Path, optional: tuple[str, ...] = (),
             example: str = "{from: output_2021, to: output_2022}") -> tuple[dict[str, Any], tuple[str, ...], tuple[Unit | None, ...]]:
    body = _mapping(raw, ctx, path, key, ("from", "to"), optional, example=example) or {}
    if "from" not in body or "to" not in body:
        return body, (), ()
    names, units = _refs([body["from"], body["to"]], ctx, path)
    _same_dims(names, units, ctx, path, key)
    return body, names, units


@op("growth")
def parse_growth(raw: Any, ctx: ParseContext, path: Path) -> Growth:
    _, names, units = _from_to("growth", raw, ctx, path)
    unit = _result_unit(ctx, path, "growth", "percent") or PERCENT
    if not names:
        return Growth("", "", (None, None), unit, "percent")
    return Growth(names[0], names[1], (units[0], units[1]), unit, "percent")


@dataclass(frozen=True)
class Cagr:
    """Compound annual growth, held exactly as the growth factor to ÷ from (an n-th root is not
    exact). Its `dimension` is "growth_factor", not percent, so a test reading it cannot be
    compiled as an ordinary percent comparison by mistake: the core compares the factor with
    `factor_of(threshold)` = (1 + t)^years, which is exact (≥ 10% over 3 years is ≥ 1.331)."""

    start: str
    end: str
    years: int
    units: tuple[Unit | None, Unit | None]
    unit: Unit | None  # how it is shown: %, rounded with ≈
    dimension: str = "growth_factor"

    def reads(self) -> tuple[str, ...]:
        return (self.start, self.end)

    def factor_of(self, percent: Fraction) -> Fraction:
        """The growth factor a compound rate of `percent` (in percentage points: 10 for 10%)
        gives over the years: the exact threshold for the factor. Monotone for rates above
        −100%, so `cagr >= t` ⇔ factor >= factor_of(t)."""
        return (1 + Fraction(percent) / 100) ** self.years


@op("cagr")
def parse_cagr(raw: Any, ctx: ParseContext, path: Path) -> Cagr:
    body, names, units = _from_to("cagr", raw, ctx, path, ("years",) , "{from: output_2019, to: output_2022, years: 3}")
    years = body.get("years")
    if "years" not in body and body:
        ctx.problem("E190", path, "cagr needs years: (for example {from: output_2019, to: output_2022, years: 3})",
                    "cagr 缺少 years:（例如 {from: output_2019, to: output_2022, years: 3}）")
        years = 1
    elif body and (isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= MAX_YEARS):
        ctx.problem("E193", path + ("years",), f"years of a compound growth is a whole number from 1 to {MAX_YEARS}, "
                    f"not {shown(years)}", f"复合增长的年数应为 1 至 {MAX_YEARS} 的整数，而不是 {shown(years)}")
        years = 1
    unit = _result_unit(ctx, path, "cagr", "percent") or PERCENT
    if not names:
        return Cagr("", "", 1, (None, None), unit)
    return Cagr(names[0], names[1], int(years or 1), (units[0], units[1]), unit)


# ---------------------------------------------------------------------------------------------
# Dates: days_since, years_since


@dataclass(frozen=True)
class Since:
    key: str  # days_since | years_since
    date: str
    unit: Unit | None
    dimension: str = "count"

    def reads(self) -> tuple[str, ...]:
        return (self.date,)


def _parse_since(key: str, raw: Any, ctx: ParseContext, path: Path) -> Since:
    body = _mapping(raw, ctx, path, key, ("date",), example="{date: registered_on}") or {}
    name = ctx.ref(body["date"], path + ("date",), sorts=("date",)) if "date" in body else ""
    word = "天" if key == "days_since" else "年"
    unit = _result_unit(ctx, path, key, "count") or parse_unit(word)
    return Since(key, name, unit)


@op("days_since")
def parse_days_since(raw: Any, ctx: ParseContext, path: Path) -> Since:
    return _parse_since("days_since", raw, ctx, path)


@op("years_since")
def parse_years_since(raw: Any, ctx: ParseContext, path: Path) -> Since:
    return _parse_since("years_since", raw, ctx, path)
