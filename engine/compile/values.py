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

import datetime as dt
import difflib
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
_BASE_UNIT = {"money": "元", "area": "平方米", "percent": "%", "points": "分"}


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


def written_amount(ctx: ParseContext, raw: Any, path: Path, default: Unit | None) -> tuple[Fraction, Unit | None]:
    """An amount and the unit it is written in (`default` for a bare number). The context reads
    it (E123, E140); whether its dimension fits is the operation's question (E184)."""
    try:
        unit = parse_amount(raw, default)[1] if not isinstance(raw, bool) else default
    except AmountError:
        unit = default  # ctx.amount reports why it cannot be read
    return ctx.amount(raw, path, unit=unit), unit


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
    # A sum of one is a slot a variant fills in (`score: {sum: [sales], slot: true}`); the smaller
    # of one, or the mean of one year, is a slip.
    raws = _operand_list(raw, ctx, path, key, least=1 if key == "sum" else 2) or []
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
        by_value, by_unit = written_amount(ctx, by, path + ("by",), parse_unit("倍"))
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
    """Compound annual growth (to ÷ from)^(1/years) − 1, in %. The growth factor to ÷ from is
    exact; its n-th root usually is not. The value is then a rational that lies strictly on the
    same side as the true rate of every threshold with a denominator up to 10^30 (every written
    amount and every threshold the engine holds), so "≥ 10%" decides exactly as to ÷ from ≥ 1.1³
    would; when the root is rational (1.331 over 3 years: 10%) the value is the rate itself. The
    factor and the rounded rate (≈) are in the trace."""

    start: str
    end: str
    years: int
    units: tuple[Unit | None, Unit | None]
    unit: Unit | None  # %, shown rounded with ≈ when the rate is not exact
    dimension: str = "percent"

    def reads(self) -> tuple[str, ...]:
        return (self.start, self.end)

    def factor_of(self, percent: Fraction) -> Fraction:
        """The growth factor a compound rate of `percent` (in percentage points: 10 for 10%)
        gives over the years. Monotone for rates above −100%: `cagr >= t` ⇔ factor >= factor_of(t)
        (what the value is chosen to agree with)."""
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


# ---------------------------------------------------------------------------------------------
# Conditions: over member fields (`where:` of count / total / share) and over names (`when:` of
# cases). Both are trees of all / any / not over tests, as criteria are written.

NUMERIC_OPS = (">=", ">", "<=", "<", "=", "!=")
ENUM_OPS = ("in", "not_in")
BOOL_OPS = ("is_true", "is_false")
DATE_OPS = ("on_or_before", "on_or_after", "within_years_before")
_NUMERIC_TYPES = ("money", "count", "percent", "area", "number")


@dataclass(frozen=True)
class Test:
    """One comparison: `subject` is a member field (in `where`) or a name (in `when`)."""

    subject: str
    op: str
    kind: str  # "number", "enum", "boolean", "date", "criterion"
    unit: Unit | None = None  # the subject's unit, for showing
    param: str | None = None  # compared with a parameter (or a value, in `when`)
    amount: Fraction | None = None  # compared with a literal the policy states
    values: tuple[str, ...] = ()  # in / not_in
    as_of: bool = False  # a date compared with the evaluation date
    date: str | None = None  # a date compared with a fixed date (ISO)
    years: int | None = None  # within_years_before
    member: bool = False  # subject is a member field (not a name of the pack)


@dataclass(frozen=True)
class Cond:
    kind: str  # "all", "any", "not", "test"
    parts: tuple["Cond", ...] = ()
    test: Test | None = None

    def tests(self) -> tuple[Test, ...]:
        if self.test is not None:
            return (self.test,)
        return tuple(t for p in self.parts for t in p.tests())

    def reads(self) -> tuple[str, ...]:
        """Names read outside the members: parameters, and in `when` the names tested."""
        out: list[str] = []
        for t in self.tests():
            if not t.member:
                out.append(t.subject)
            if t.param:
                out.append(t.param)
        return tuple(dict.fromkeys(n for n in out if n))


def _spec_get(spec: Any, key: str) -> Any:
    return spec.get(key) if isinstance(spec, Mapping) else getattr(spec, key, None)


def field_type(spec: Any) -> str:
    return str(_spec_get(spec, "type") or "")


def field_unit(spec: Any) -> Unit | None:
    unit = _spec_get(spec, "unit")
    if isinstance(unit, str):
        return parse_unit(unit)
    return unit if isinstance(unit, Unit) else None


def _close(name: Any, choices: Iterable[str]) -> tuple[str, str]:
    close = difflib.get_close_matches(str(name)[:200], list(choices), n=1, cutoff=0.6)
    return (f"; did you mean {close[0]!r}?", f"；是否应为 {close[0]!r}？") if close else ("", "")


class _CondReader:
    """Reads one condition tree. `fields` is given for member conditions (subjects are fields);
    None for `when` conditions (subjects are names of the pack)."""

    def __init__(self, ctx: ParseContext, where: str, fields: Mapping[str, Any] | None, members: str = ""):
        self.ctx, self.where, self.fields, self.members = ctx, where, fields, members

    def bad(self, path: Path, en: str, zh: str) -> Cond:
        self.ctx.problem("E194", path, f"{self.where}: {en}", f"{self.where}：{zh}")
        return Cond("all")  # parsing goes on; the pack is refused for the problem

    def read(self, raw: Any, path: Path, depth: int = 0) -> Cond:
        if depth > MAX_DEPTH:
            return self.bad(path, f"nested more than {MAX_DEPTH} levels", f"嵌套超过 {MAX_DEPTH} 层")
        if not isinstance(raw, Mapping):
            return self.bad(path, f"a condition is a mapping such as {{field: revenue, op: \">=\", param: p}}, not {shown(raw)}",
                            f"条件应写成映射，例如 {{field: revenue, op: \">=\", param: p}}，而不是 {shown(raw)}")
        for key in ("all", "any"):
            if key in raw:
                if len(raw) != 1 or not isinstance(raw[key], list) or not 1 <= len(raw[key]) <= MAX_OPERANDS:
                    return self.bad(path, f"{key} takes a list of 1 to {MAX_OPERANDS} conditions and nothing beside it",
                                    f"{key} 应为 1 至 {MAX_OPERANDS} 个条件的列表，且不能与其他键并列")
                return Cond(key, tuple(self.read(r, path + (key, i), depth + 1) for i, r in enumerate(raw[key])))
        if "not" in raw:
            if len(raw) != 1:
                return self.bad(path, "not takes one condition and nothing beside it", "not 只能包含一个条件，且不能与其他键并列")
            return Cond("not", (self.read(raw["not"], path + ("not",), depth + 1),))
        test = self.test(raw, path)
        return Cond("test", test=test) if test is not None else Cond("all")

    def test(self, raw: Mapping[str, Any], path: Path) -> Test | None:
        if self.fields is not None:
            return self.member_test(raw, path)
        return self.name_test(raw, path)

    def member_test(self, raw: Mapping[str, Any], path: Path) -> Test | None:
        assert self.fields is not None
        name = raw.get("field")
        if "field" not in raw:
            self.bad(path, "a member condition names a field: {field: revenue, op: \">=\", param: p}",
                     "成员条件应指明字段：{field: revenue, op: \">=\", param: p}")
            return None
        if name not in self.fields:
            en, zh = _close(name, self.fields)
            self.ctx.problem("E192", path + ("field",),
                             f"{self.where}: members {self.members} have no field {shown(name)}{en}",
                             f"{self.where}：成员列表 {self.members} 没有字段 {shown(name)}{zh}")
            return None
        spec = self.fields[name]
        ftype = field_type(spec)
        kind = "number" if ftype in _NUMERIC_TYPES else ("boolean" if ftype in ("boolean", "attestation") else ftype)
        return self.comparison(raw, path, str(name), kind, field_unit(spec) if kind == "number" else None,
                               ("field",), enum_values=tuple(_spec_get(spec, "values") or ()), member=True)

    def name_test(self, raw: Mapping[str, Any], path: Path) -> Test | None:
        if set(raw) == {"criterion"}:
            name = self.ctx.ref(raw["criterion"], path + ("criterion",), sorts=("criterion",))
            return Test(name, "met", "criterion")
        if set(raw) == {"attested"}:
            name = self.ctx.ref(raw["attested"], path + ("attested",), sorts=("boolean",))
            return Test(name, "is_true", "boolean")
        if "value" not in raw:
            self.bad(path, "a condition is {value: NAME, op: …}, {attested: NAME}, {criterion: NAME}, or all / any / not",
                     "条件应写成 {value: 名称, op: …}、{attested: 名称}、{criterion: 名称}，或 all / any / not")
            return None
        op_ = raw.get("op")
        if op_ not in NUMERIC_OPS + ENUM_OPS + BOOL_OPS + DATE_OPS:
            ops = " / ".join(NUMERIC_OPS + ENUM_OPS + BOOL_OPS + DATE_OPS)
            self.bad(path + ("op",), f"op is one of {ops}, not {shown(op_)}", f"op 应为 {ops} 之一，而不是 {shown(op_)}")
            return None
        sorts = {"in": ("enum", "choice"), "not_in": ("enum", "choice"), "is_true": ("boolean",),
                 "is_false": ("boolean",)}.get(str(op_), ("number", "param") if op_ in NUMERIC_OPS else ("date",))
        name = self.ctx.ref(raw["value"], path + ("value",), sorts=sorts)
        kind = {"enum": "enum", "choice": "enum", "boolean": "boolean", "date": "date"}.get(sorts[0], "number")
        enum_values: tuple[str, ...] = ()
        if kind == "enum":
            try:
                enum_values = tuple(self.ctx.choice_options(name))
            except (KeyError, LookupError, TypeError, ValueError):
                enum_values = ()  # an enum input: its values are checked by the core's schema
        return self.comparison(raw, path, name, kind, self.ctx.unit_of(name) if kind == "number" else None,
                               ("value",), enum_values=enum_values, member=False)

    def comparison(self, raw: Mapping[str, Any], path: Path, subject: str, kind: str, unit: Unit | None,
                   subject_keys: tuple[str, ...], enum_values: tuple[str, ...], member: bool) -> Test | None:
        op_ = raw.get("op")
        allowed = {"number": NUMERIC_OPS, "enum": ENUM_OPS, "boolean": BOOL_OPS, "date": DATE_OPS}.get(kind, ())
        if op_ not in allowed:
            self.bad(path + ("op",), f"{subject} ({kind or 'text'}) takes op {' / '.join(allowed) or 'none'}, "
                     f"not {shown(op_)}",
                     f"{subject}（{kind_zh(kind) if kind != 'number' else '数值'}）可用的 op 为 "
                     f"{' / '.join(allowed) or '无'}，而不是 {shown(op_)}")
            return None
        comparands = {"number": ("param", "number"), "enum": ("values",), "boolean": (),
                      "date": ("as_of", "date", "years")}[kind]
        extra = sorted(set(raw) - set(subject_keys) - {"op"} - set(comparands))
        if extra:
            self.bad(path + (extra[0],), f"{shown(extra[0])} does not belong in this test (it takes "
                     f"{', '.join(subject_keys + ('op',) + comparands)})",
                     f"{shown(extra[0])} 不属于此比较（可用：{'、'.join(subject_keys + ('op',) + comparands)}）")
            return None
        if kind == "number":
            if ("param" in raw) == ("number" in raw):
                self.bad(path, f"{subject} {op_} is compared with one of param: or number:", f"{subject} {op_} 应与 param: 或 number: 之一比较")
                return None
            if "param" in raw:
                param = self.ctx.ref(raw["param"], path + ("param",), sorts=("param", "number"))
                punit = self.ctx.unit_of(param)
                # a parameter the policy leaves without a number has no unit to check; the test is unknown
                if not self.ctx.unset(param) and not same_dimension(dimension_of(unit), dimension_of(punit)):
                    self.ctx.problem("E184", path + ("param",),
                                     f"{self.where}: {subject} measures {_dim_en(dimension_of(unit))} but {param} measures "
                                     f"{_dim_en(dimension_of(punit))}",
                                     f"{self.where}：{subject} 计量的是{_dim_zh(dimension_of(unit))}，而 {param} 计量的是"
                                     f"{_dim_zh(dimension_of(punit))}")
                return Test(subject, str(op_), kind, unit, param=param, member=member)
            amount = self.ctx.amount(raw["number"], path + ("number",), unit=unit or parse_unit("个"))
            return Test(subject, str(op_), kind, unit, amount=amount, member=member)
        if kind == "enum":
            values = raw.get("values")
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                self.bad(path + ("values",), f"{op_} takes values: a list of options such as [manufacturing]",
                         f"{op_} 需要 values：选项列表，例如 [manufacturing]")
                return None
            undeclared = [v for v in values if enum_values and v not in enum_values]
            if undeclared:
                en, zh = _close(undeclared[0], enum_values)
                self.ctx.problem("E125", path + ("values",), f"{self.where}: {subject} has no option {shown(undeclared[0])}{en}",
                                 f"{self.where}：{subject} 没有选项 {shown(undeclared[0])}{zh}")
            return Test(subject, str(op_), kind, values=tuple(values), member=member)
        if kind == "boolean":
            return Test(subject, str(op_), kind, member=member)
        # dates
        if op_ == "within_years_before":
            years = raw.get("years")
            if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= MAX_YEARS or len(raw) != len(subject_keys) + 2:
                self.ctx.problem("E193", path + ("years",), f"{self.where}: within_years_before takes years: a whole "
                                 f"number from 1 to {MAX_YEARS}", f"{self.where}：within_years_before 的 years 应为 1 至 {MAX_YEARS} 的整数")
                return None
            return Test(subject, str(op_), kind, years=years, as_of=True, member=member)
        if raw.get("as_of") is True and "date" not in raw and "years" not in raw:
            return Test(subject, str(op_), kind, as_of=True, member=member)
        date = raw.get("date")
        text = date.isoformat() if isinstance(date, dt.date) else date
        if "as_of" in raw or "years" in raw or not isinstance(text, str) or not _iso(text):
            self.bad(path, f"{op_} compares with as_of: true or date: \"2024-01-01\"",
                     f"{op_} 应与 as_of: true 或 date: \"2024-01-01\" 比较")
            return None
        return Test(subject, str(op_), kind, date=text, member=member)


def _iso(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def read_condition(raw: Any, ctx: ParseContext, path: Path, where: str,
                   fields: Mapping[str, Any] | None = None, members: str = "") -> Cond:
    return _CondReader(ctx, where, fields, members).read(raw, path)


# ---------------------------------------------------------------------------------------------
# Over member lists: count, total, share


@dataclass(frozen=True)
class Members:
    key: str  # count | total | share
    members: str
    where: Cond | None
    field: str | None  # total: the field summed
    field_unit: Unit | None
    unit: Unit | None
    dimension: str | None
    # The key of the compiled ruleset that decides `where` for each member (Pack2.member_rules,
    # set by engine.compile.build2): durable-rules decides every member's yes/no, Python counts.
    rules: str | None = None

    def reads(self) -> tuple[str, ...]:
        return (self.members,) + (self.where.reads() if self.where is not None else ())


def _parse_members(key: str, raw: Any, ctx: ParseContext, path: Path) -> Members:
    required = ("members", "field") if key == "total" else ("members",)
    example = ("{members: projects, field: investment, where: {field: status, op: in, values: [started]}}"
               if key == "total" else "{members: firms, where: {field: revenue, op: \">=\", param: revenue_min}}")
    if key == "share" and isinstance(raw, Mapping) and "where" not in raw and "members" in raw:
        ctx.problem("E190", path, "share needs where: (the share of members meeting it)",
                    "share 缺少 where:（满足该条件的成员所占比例）")
    body = _mapping(raw, ctx, path, key, required, ("where",), example=example) or {}
    members = ctx.ref(body["members"], path + ("members",), sorts=("members",)) if "members" in body else ""
    fields: Mapping[str, Any] = {}
    if members:
        try:
            fields = ctx.members_fields(members) or {}
        except (KeyError, LookupError, TypeError, ValueError):
            fields = {}  # not a members input: ctx.ref reported it
    where = read_condition(body["where"], ctx, path + ("where",), key, fields, members) if "where" in body else None
    field_name, funit = None, None
    dim: str | None = "count"
    if key == "total" and "field" in body:
        field_name = body["field"]
        if field_name not in fields:
            en, zh = _close(field_name, fields)
            ctx.problem("E192", path + ("field",), f"total: members {members} have no field {shown(field_name)}{en}",
                        f"total：成员列表 {members} 没有字段 {shown(field_name)}{zh}")
        elif field_type(fields[field_name]) not in _NUMERIC_TYPES:
            ctx.problem("E192", path + ("field",), f"total: field {field_name} is {field_type(fields[field_name])}, "
                        "not an amount that can be added", f"total：字段 {field_name} 的类型是"
                        f"{kind_zh(field_type(fields[field_name]))}，不是可以相加的数量")
        else:
            funit = field_unit(fields[field_name])
            dim = dimension_of(funit)
    if key == "share":
        dim = "percent"
    unit = _result_unit(ctx, path, key, dim, funit) or (PERCENT if key == "share" else None)
    return Members(key, members, where, field_name if isinstance(field_name, str) else None, funit, unit, dim)


@op("count")
def parse_count(raw: Any, ctx: ParseContext, path: Path) -> Members:
    return _parse_members("count", raw, ctx, path)


@op("total")
def parse_total(raw: Any, ctx: ParseContext, path: Path) -> Members:
    return _parse_members("total", raw, ctx, path)


@op("share")
def parse_share(raw: Any, ctx: ParseContext, path: Path) -> Members:
    return _parse_members("share", raw, ctx, path)


# ---------------------------------------------------------------------------------------------
# The batch: cohort_mean


@dataclass(frozen=True)
class CohortMean:
    of: str
    within: str | None  # an enum (or boolean) input grouping the batch; None: the whole batch
    of_unit: Unit | None
    unit: Unit | None
    dimension: str | None

    def reads(self) -> tuple[str, ...]:
        return (self.of,) + ((self.within,) if self.within else ())


@op("cohort_mean", cohort=True)
def parse_cohort_mean(raw: Any, ctx: ParseContext, path: Path) -> CohortMean:
    body = _mapping(raw, ctx, path, "cohort_mean", ("of",), ("within",), example="{of: output_growth, within: zone_type}") or {}
    of = ctx.ref(body["of"], path + ("of",), sorts=("number",)) if "of" in body else ""
    within = ctx.ref(body["within"], path + ("within",), sorts=("enum", "boolean")) if "within" in body else None
    of_unit = ctx.unit_of(of) if of else None
    dim = dimension_of(of_unit)
    return CohortMean(of, within, of_unit, _result_unit(ctx, path, "cohort_mean", dim, of_unit), dim)


# ---------------------------------------------------------------------------------------------
# cases: the first case whose condition holds


@dataclass(frozen=True)
class Case:
    when: Cond
    then_name: str | None
    then_value: Fraction | None


@dataclass(frozen=True)
class Cases:
    cases: tuple[Case, ...]
    otherwise: Case | None  # `when` unused; None when the value writes no otherwise
    unit: Unit | None
    dimension: str | None
    # One hidden criterion per case (engine.compile.build2 names them `~when~VALUE~N`): each
    # `when` is compiled into durable rules and decided before the value; the value only reads
    # their statuses to take the first case that holds.
    deciders: tuple[str, ...] = ()

    def reads(self) -> tuple[str, ...]:
        out: list[str] = []
        for case in self.cases:
            out += case.when.reads()
        for case in self.cases + ((self.otherwise,) if self.otherwise else ()):
            if case.then_name:
                out.append(case.then_name)
        return tuple(dict.fromkeys(out + list(self.deciders)))


_UNSET = "~unset"  # the dimension of an unset parameter's outcome: not compared


def _outcome(raw: Any, ctx: ParseContext, path: Path, declared: Unit | None) -> tuple[str | None, Fraction | None, str | None]:
    """(name, constant, dimension) of a `then:` or `otherwise:`."""
    if is_name(raw):
        name = ctx.ref(raw, path, sorts=NUMERIC_SORTS)
        # an unset parameter measures nothing known: the case taking it is unknown, never refused
        return name, None, (_UNSET if ctx.unset(name) else dimension_of(ctx.unit_of(name)))
    value, unit = written_amount(ctx, raw, path, declared or parse_unit("个"))
    return None, value, dimension_of(unit)


@op("cases", beside=("otherwise",))
def parse_cases(raw: Any, ctx: ParseContext, path: Path) -> Cases:
    declared = ctx.declared_unit()
    example = "[{when: {value: sector, op: in, values: [livestock]}, then: livestock_min}, ...]"
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_OPERANDS:
        if isinstance(raw, list):
            ctx.problem("E191", path, f"cases takes 1 to {MAX_OPERANDS} cases, not {len(raw)}",
                        f"cases 需要 1 至 {MAX_OPERANDS} 个情形，而不是 {len(raw)} 个")
        else:
            ctx.problem("E190", path, f"cases is a list such as {example}, not {shown(raw)}",
                        f"cases 应写成列表，例如 {example}，而不是 {shown(raw)}")
        raw = []
    cases: list[Case] = []
    dims: list[tuple[Path, str | None]] = []
    for i, item in enumerate(raw):
        body = _mapping(item, ctx, path + (i,), "cases", ("when", "then"), example="{when: …, then: …}")
        if body is None:
            continue
        when = read_condition(body["when"], ctx, path + (i, "when"), "cases")
        name, value, dim = _outcome(body["then"], ctx, path + (i, "then"), declared)
        cases.append(Case(when, name, value))
        dims.append((path + (i, "then"), dim))
    otherwise = None
    written = ctx.beside("otherwise")
    if written is not None:
        name, value, dim = _outcome(written, ctx, path[:-1] + ("otherwise",), declared)
        otherwise = Case(Cond("all"), name, value)
        dims.append((path[:-1] + ("otherwise",), dim))
    dims = [(where, dim) for where, dim in dims if dim != _UNSET]
    first = dims[0][1] if dims else (declared.dimension if declared else None)
    for where, dim in dims:
        if not same_dimension(first, dim):
            ctx.problem("E184", where, f"cases: every outcome measures the same thing; this one is {_dim_en(dim)}, "
                        f"the first {_dim_en(first)}", f"cases：各情形的结果应计量同一种量；此项是{_dim_zh(dim)}，"
                        f"第一项是{_dim_zh(first)}")
            break
    unit = _result_unit(ctx, path, "cases", first)
    return Cases(tuple(cases), otherwise, unit, first)
