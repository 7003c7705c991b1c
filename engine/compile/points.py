"""Format-2 points operations (bands, map, per_unit, rank_points, group…): how each is read from a pack (a parser registered with `@op`).

See docs/format2.md for the language and engine/compile/ops.py for the registry. Each parser
returns a frozen dataclass whose `reads()` names everything it depends on; computing is in
engine/evaluate/points.py. Problems go through the ParseContext and parsing goes on, so an
officer sees every problem of a pack in one pass.

Amounts: points are written `12`, `0.5` or `0.5分`; amounts compared with the value (band
endpoints, `per`, `baseline`) are written as officers write them (`30%`, `1万平方米`, `30万元`),
a bare number being in the unit of the value read. Where an amount may be a parameter (points,
caps, floors, steps, baselines, a group's minimum) it is written as the parameter's name and
read at evaluation time, so a dated parameter or `--set` is honoured. Band endpoints are
literal: the overlap and gap checks (E195, E196) need them at parse time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from engine.compile.ops import ParseContext, Path, op
from engine.core.units import Unit, format_amount, parse_unit

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
POINTS = Unit("分", "points", Fraction(1))
PERCENT = parse_unit("%")
# What a bare number is in when the value read has no unit (a count without a unit, an index).
PLAIN = Unit("", "number", Fraction(1))

HIGHER_FIRST, LOWER_FIRST = "higher_first", "lower_first"
ORDERS = (HIGHER_FIRST, LOWER_FIRST)
TIES = ("shared", "dense")
STEPS = ("whole", "proportional")
# What a missing figure scores (format 1's scoring `missing_value`): `unknown` (the points are
# unknown), or `zero` (it scores 0 and the points are a lower bound, provisional: the value keeps
# the names it lacks in `missing`, and only points operations that can carry a lower bound - a
# weighted sum, a group, a rank - read it; every other reader, durable-rules included, sees it
# unknown).
MISSING = ("unknown", "zero")

# A condition (`when`, `exclude`, `last`) is a yes/no decided by durable-rules before the points
# are computed: a criterion, or a boolean/attestation input read as it is.
CONDITION_SORTS = ("criterion", "boolean")
AMOUNT_SORTS = ("param", "number")


# ---------------------------------------------------------------------------------------------
# Pieces shared by the operations


@dataclass(frozen=True)
class Ref:
    """An amount read at evaluation time: a parameter (its value in force) or a numeric name."""

    name: str


@dataclass(frozen=True)
class ChoiceRef:
    """An option given by a pack choice (`steps: {choice: step_rounding}`). `points`: for a
    choice read as points (`excluded_points`), each option's points ("full" or an amount)."""

    name: str
    points: tuple[tuple[str, Fraction | str], ...] = ()


Amount = Fraction | Ref
Option = str | ChoiceRef


def _names(*things: Any) -> tuple[str, ...]:
    """The names among amounts, options and plain names, in order, once each."""
    out: list[str] = []

    def add(thing: Any) -> None:
        if isinstance(thing, (Ref, ChoiceRef)):
            thing = thing.name
        if isinstance(thing, str) and thing not in out:
            out.append(thing)
        elif isinstance(thing, (tuple, list)):
            for item in thing:
                add(item)

    for thing in things:
        add(thing)
    return tuple(out)


def _chosen(option: Option | None) -> ChoiceRef | None:
    """The choice an option is read from (a name the rule reads), None for a word written as is."""
    return option if isinstance(option, ChoiceRef) else None


def _problem(ctx: ParseContext, code: str, path: Path, en: str, zh: str) -> None:
    ctx.problem(code, path, en, zh)


def _fields(raw: Any, ctx: ParseContext, path: Path, op_name: str, required: tuple[str, ...],
            optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of an operation written as a mapping; unknown (E110), missing (E111) and a
    non-mapping (E112) are reported, and whatever is usable is returned."""
    if not isinstance(raw, dict):
        _problem(ctx, "E112", path, f"{op_name}: expected a mapping with {', '.join(required)}",
                 f"{op_name}：应写成包含 {'、'.join(required)} 的映射")
        return {}
    for key in raw:
        if key not in required and key not in optional:
            allowed = ", ".join(required + optional)
            _problem(ctx, "E110", path + (key,), f"{op_name}: unknown field {key!r} (allowed: {allowed})",
                     f"{op_name}：未知字段 {key!r}（可用字段：{allowed}）")
    for key in required:
        if key not in raw:
            _problem(ctx, "E111", path, f"{op_name}: field {key!r} is required", f"{op_name}：缺少必填字段 {key!r}")
    return raw


def _name(raw: Any, ctx: ParseContext, path: Path, sorts: tuple[str, ...]) -> str:
    return ctx.ref(raw, path, sorts=sorts)


def _amount(raw: Any, ctx: ParseContext, path: Path, unit: Unit | None, *, allow_ref: bool = True) -> Amount:
    """A literal amount in `unit` (a bare number is in `unit`), or a parameter / numeric name."""
    if isinstance(raw, str) and NAME_RE.match(raw.strip()):
        if allow_ref:
            return Ref(ctx.ref(raw.strip(), path, sorts=AMOUNT_SORTS))
        _problem(ctx, "E112", path, f"a literal amount is needed here, not the name {raw!r}",
                 f"此处须写明数值，不能写名称 {raw!r}")
        return Fraction(0)
    if isinstance(raw, bool) or raw is None or isinstance(raw, (dict, list)):
        _problem(ctx, "E123", path, f"expected an amount, not {type(raw).__name__}", "此处应为数值（如 12、0.5分、30%）")
        return Fraction(0)
    return ctx.amount(raw, path, unit=unit or PLAIN)


def _points(raw: Any, ctx: ParseContext, path: Path) -> Amount:
    """Points: `12`, `0.5`, `0.5分`, or a parameter's name."""
    if isinstance(raw, str) and raw.strip().endswith("分"):
        raw = raw.strip()[:-1].strip()
    return _amount(raw, ctx, path, POINTS)


def _nonnegative(value: Amount, ctx: ParseContext, path: Path, what_en: str, what_zh: str, *,
                 positive: bool = False) -> None:
    """A literal that must not be negative (or must be positive): E198."""
    if isinstance(value, Fraction) and (value < 0 or (positive and value == 0)):
        need_en, need_zh = ("greater than 0", "大于0") if positive else ("0 or more", "不小于0")
        _problem(ctx, "E198", path, f"{what_en} must be {need_en}, not {value}",
                 f"{what_zh}须{need_zh}，不能为 {value}")


def _option(raw: Any, ctx: ParseContext, path: Path, what: str, allowed: tuple[str, ...]) -> Option:
    """A word from `allowed`, or `{choice: NAME}` whose options are all in `allowed` (E199)."""
    if isinstance(raw, dict) and set(raw) == {"choice"}:
        name = ctx.ref(raw["choice"], path + ("choice",), sorts=("choice",))
        bad = [o for o in ctx.choice_options(name) if o not in allowed]
        if bad:
            _problem(ctx, "E199", path + ("choice",),
                     f"{what}: choice {name!r} has options {bad} that this rule cannot use (allowed: {', '.join(allowed)})",
                     f"{what}：选项 {name!r} 中的 {'、'.join(map(str, bad))} 不能用于此处（可用：{'、'.join(allowed)}）")
        return ChoiceRef(name)
    if raw not in allowed:
        _problem(ctx, "E199", path, f"{what}: {raw!r} is not one of {', '.join(allowed)} (or {{choice: NAME}})",
                 f"{what}：{raw!r} 不是可用的取值（{'、'.join(allowed)}，或 {{choice: 名称}}）")
        return allowed[0]
    return raw


def interval_text(low: Fraction | None, low_included: bool, high: Fraction | None, high_included: bool,
                  unit: Unit | None) -> str:
    """[20%, 25%) — the band as an interval, endpoints in the unit of the value."""
    left = "(-∞" if low is None else ("[" if low_included else "(") + format_amount(low, unit)
    right = "+∞)" if high is None else format_amount(high, unit) + ("]" if high_included else ")")
    return f"{left}, {right}"


# ---------------------------------------------------------------------------------------------
# bands


@dataclass(frozen=True)
class Band:
    low: Fraction | None  # None: no lower end
    low_included: bool
    high: Fraction | None  # None: no upper end
    high_included: bool
    points: Amount

    def holds(self, value: Fraction) -> bool:
        if self.low is not None and (value < self.low or (value == self.low and not self.low_included)):
            return False
        if self.high is not None and (value > self.high or (value == self.high and not self.high_included)):
            return False
        return True


@dataclass(frozen=True)
class BandsArgs:
    of: str
    bands: tuple[Band, ...]
    otherwise: Amount | None
    unit: Unit | None  # the unit of `of`, to show the endpoints
    missing: Option = "unknown"  # MISSING: what a missing `of` scores

    def reads(self) -> tuple[str, ...]:
        return _names(self.of, [b.points for b in self.bands], self.otherwise, _chosen(self.missing))

    def text(self, band: Band) -> str:
        return interval_text(band.low, band.low_included, band.high, band.high_included, self.unit)


def _lower_key(band: Band) -> tuple[int, Fraction, int]:
    """Sort key of a lower end: -∞ first, then by value, an included end before an excluded one."""
    if band.low is None:
        return (0, Fraction(0), 0)
    return (1, band.low, 0 if band.low_included else 1)


def _overlap(a: Band, b: Band) -> bool:
    """Whether one value lies in both (non-empty) bands: their intersection, from the tighter
    lower end to the tighter upper end, holds a value."""
    lows = [(x.low, x.low_included) for x in (a, b) if x.low is not None]
    highs = [(x.high, x.high_included) for x in (a, b) if x.high is not None]
    if not lows or not highs:
        return True  # unbounded on one side: the intersection of two non-empty bands is not empty
    lo = max(lows, key=lambda e: (e[0], not e[1]))  # at equal values an excluded end is tighter
    hi = min(highs, key=lambda e: (e[0], e[1]))
    return lo[0] < hi[0] or (lo[0] == hi[0] and lo[1] and hi[1])


def _nonempty(band: Band) -> bool:
    if band.low is None or band.high is None:
        return True
    return band.low < band.high or (band.low == band.high and band.low_included and band.high_included)


Gap = tuple[Fraction | None, bool, Fraction | None, bool]


def band_gaps(bands: tuple[Band, ...]) -> list[Gap]:
    """The stretches of the number line no band holds, as (low, low_included, high, high_included),
    found by sweeping the bands in order of their lower ends."""
    gaps: list[Gap] = []
    reach: tuple[Fraction, bool] | None = None  # covered up to here (value, included); None: nothing yet
    for band in sorted((b for b in bands if _nonempty(b)), key=_lower_key):
        if reach is None:
            if band.low is not None:
                gaps.append((None, False, band.low, not band.low_included))
        elif band.low is not None:
            end, included = reach
            if band.low > end or (band.low == end and not included and not band.low_included):
                gaps.append((end, not included, band.low, not band.low_included))
        if band.high is None:
            return gaps  # covered to +∞
        if reach is None or band.high > reach[0] or (band.high == reach[0] and band.high_included):
            reach = (band.high, band.high_included)
    if reach is None:
        return [(None, False, None, False)]
    gaps.append((reach[0], not reach[1], None, False))
    return gaps


def _band(raw: Any, ctx: ParseContext, path: Path, unit: Unit | None) -> Band | None:
    fields = _fields(raw, ctx, path, "bands", ("points",), ("at_least", "above", "below", "at_most"))
    if not fields:
        return None
    for a, b in (("at_least", "above"), ("below", "at_most")):
        if a in fields and b in fields:
            _problem(ctx, "E197", path, f"a band states its end twice: {a} and {b}",
                     f"同一档的端点写了两次：{a} 与 {b}")
    if not any(k in fields for k in ("at_least", "above", "below", "at_most")):
        _problem(ctx, "E197", path, "a band states no endpoint (write at_least/above and/or below/at_most)",
                 "此档未写端点（请写 at_least/above 和/或 below/at_most）")

    def end(key: str) -> Fraction | None:
        if key not in fields:
            return None
        value = _amount(fields[key], ctx, path + (key,), unit, allow_ref=False)
        return value if isinstance(value, Fraction) else None

    low_key = "at_least" if "at_least" in fields else "above"
    high_key = "at_most" if "at_most" in fields else "below"
    band = Band(end(low_key), low_key == "at_least", end(high_key), high_key == "at_most",
                _points(fields.get("points", 0), ctx, path + ("points",)))
    if not _nonempty(band):
        _problem(ctx, "E197", path, "this band holds no value (its lower end is not below its upper end)",
                 "此档不含任何数值（下端点不低于上端点）")
    return band


@op("bands", points=True)
def parse_bands(raw: Any, ctx: ParseContext, path: Path) -> BandsArgs:
    fields = _fields(raw, ctx, path, "bands", ("of", "bands"), ("otherwise", "missing"))
    of = _name(fields.get("of"), ctx, path + ("of",), ("number",))
    unit = ctx.unit_of(of)
    raw_bands = fields.get("bands")
    bands: list[Band] = []
    if raw_bands is not None and not isinstance(raw_bands, list) or raw_bands == []:
        _problem(ctx, "E112", path + ("bands",), "bands: expected a non-empty list of bands", "bands：应为非空的分档列表")
    elif isinstance(raw_bands, list):
        for i, item in enumerate(raw_bands):
            band = _band(item, ctx, path + ("bands", i), unit)
            if band is not None:
                bands.append(band)
    otherwise = _points(fields["otherwise"], ctx, path + ("otherwise",)) if "otherwise" in fields else None
    args = BandsArgs(of, tuple(bands), otherwise, unit, _missing(fields, ctx, path))
    good = [b for b in bands if _nonempty(b)]
    for i, a in enumerate(good):
        for b in good[i + 1:]:
            if _overlap(a, b):
                _problem(ctx, "E195", path + ("bands", bands.index(b)),
                         f"bands {args.text(a)} and {args.text(b)} overlap: a value in both would get two scores",
                         f"分档 {args.text(a)} 与 {args.text(b)} 重叠：同一数值会落入两档")
    if otherwise is None and good:
        for gap in band_gaps(tuple(good)):
            text = interval_text(*gap, unit)
            if gap[0] is not None and gap[0] == gap[2]:
                text = format_amount(gap[0], unit)
            _problem(ctx, "E196", path + ("bands",),
                     f"no band holds {text}: add a band for it, or `otherwise:` with the points",
                     f"没有一档包含 {text}：请补上该档，或写 otherwise: 给出分值")
    return args


# ---------------------------------------------------------------------------------------------
# map


@dataclass(frozen=True)
class MapArgs:
    of: str | None  # an enum or yes/no name (the `points:` form)
    points: tuple[tuple[str | bool, Amount], ...]  # option -> points
    highest: tuple[tuple[str, Amount], ...]  # (condition, points), the first that holds is taken
    otherwise: Amount | None

    def reads(self) -> tuple[str, ...]:
        return _names(self.of, [p for _, p in self.points], [c for c, _ in self.highest], [p for _, p in self.highest],
                      self.otherwise)


_YES = {"yes", "true", "是"}
_NO = {"no", "false", "否"}


def _map_key(key: Any) -> str | bool:
    if isinstance(key, bool):
        return key
    text = str(key)
    if text.lower() in _YES:
        return True
    if text.lower() in _NO:
        return False
    return text


@op("map", points=True)
def parse_map(raw: Any, ctx: ParseContext, path: Path) -> MapArgs:
    fields = _fields(raw, ctx, path, "map", (), ("of", "points", "highest", "otherwise"))
    of: str | None = None
    table: list[tuple[str | bool, Amount]] = []
    highest: list[tuple[str, Amount]] = []
    if ("highest" in fields) == ("points" in fields):
        _problem(ctx, "E111", path, "map: write either {of: NAME, points: {...}} or highest: [{when: COND, points: N}, ...]",
                 "map：请写 {of: 名称, points: {...}} 或 highest: [{when: 条件, points: 分值}, ...] 其中之一")
    if "points" in fields:
        of = _name(fields.get("of"), ctx, path + ("of",), ("enum", "boolean", "choice"))
        if not isinstance(fields["points"], dict) or not fields["points"]:
            _problem(ctx, "E112", path + ("points",), "map: points must map each option to its points",
                     "map：points 应写成“取值: 分值”的映射")
        else:
            for key, value in fields["points"].items():
                table.append((_map_key(key), _points(value, ctx, path + ("points", key))))
    elif "of" in fields:
        _problem(ctx, "E110", path + ("of",), "map: `of` goes with `points:`, not with `highest:`",
                 "map：of 只与 points 一起使用，不与 highest 一起使用")
    if "highest" in fields:
        items = fields["highest"]
        if not isinstance(items, list) or not items:
            _problem(ctx, "E112", path + ("highest",), "map: highest must be a non-empty list of {when, points}",
                     "map：highest 应为非空的 {when, points} 列表")
        else:
            for i, item in enumerate(items):
                where = path + ("highest", i)
                f = _fields(item, ctx, where, "map.highest", ("when", "points"))
                if f:
                    highest.append((_name(f.get("when"), ctx, where + ("when",), CONDITION_SORTS),
                                    _points(f.get("points", 0), ctx, where + ("points",))))
    otherwise = _points(fields["otherwise"], ctx, path + ("otherwise",)) if "otherwise" in fields else None
    return MapArgs(of, tuple(table), tuple(highest), otherwise)


# ---------------------------------------------------------------------------------------------
# weighted


@dataclass(frozen=True)
class WeightedArgs:
    parts: tuple[tuple[str, Fraction], ...]  # (points name, weight as a fraction: 60% -> 3/5)

    def reads(self) -> tuple[str, ...]:
        return _names([name for name, _ in self.parts])


@op("weighted", points=True)
def parse_weighted(raw: Any, ctx: ParseContext, path: Path) -> WeightedArgs:
    parts: list[tuple[str, Fraction]] = []
    if not isinstance(raw, list) or not raw:
        _problem(ctx, "E112", path, "weighted: expected a non-empty list of {of: NAME, weight: 60%}",
                 "weighted：应为非空的 {of: 名称, weight: 60%} 列表")
        return WeightedArgs(())
    for i, item in enumerate(raw):
        where = path + (i,)
        f = _fields(item, ctx, where, "weighted", ("of", "weight"))
        if not f:
            continue
        name = _name(f.get("of"), ctx, where + ("of",), ("number",))
        weight = _amount(f.get("weight"), ctx, where + ("weight",), PERCENT, allow_ref=False)
        weight = weight / 100 if isinstance(weight, Fraction) else Fraction(0)
        if not 0 < weight <= 1:
            _problem(ctx, "E198", where + ("weight",), f"weight must be more than 0% and at most 100%, not {weight * 100}%",
                     f"权重须大于0%且不超过100%，不能为 {weight * 100}%")
        parts.append((name, weight))
    return WeightedArgs(tuple(parts))


# ---------------------------------------------------------------------------------------------
# group


@dataclass(frozen=True)
class GroupArgs:
    parts: tuple[str, ...]
    cap: Amount | None
    minimum: Amount | None

    def reads(self) -> tuple[str, ...]:
        return _names(list(self.parts), self.cap, self.minimum)


@op("group", points=True)
def parse_group(raw: Any, ctx: ParseContext, path: Path) -> GroupArgs:
    fields = _fields(raw, ctx, path, "group", ("of",), ("cap", "minimum"))
    parts: list[str] = []
    names = fields.get("of")
    if "of" in fields and (not isinstance(names, list) or not names):
        _problem(ctx, "E112", path + ("of",), "group: `of` must list the points it adds up", "group：of 应列出要相加的各项分值")
    elif isinstance(names, list):
        for i, name in enumerate(names):
            parts.append(_name(name, ctx, path + ("of", i), ("number",)))
        seen = set()
        for i, name in enumerate(parts):
            if name in seen:
                _problem(ctx, "E112", path + ("of", i), f"group: {name!r} is listed twice (it would be counted twice)",
                         f"group：{name!r} 列了两次（会被重复计分）")
            seen.add(name)
    cap = _points(fields["cap"], ctx, path + ("cap",)) if "cap" in fields else None
    minimum = _points(fields["minimum"], ctx, path + ("minimum",)) if "minimum" in fields else None
    if cap is not None:
        _nonnegative(cap, ctx, path + ("cap",), "cap", "上限")
    if minimum is not None:
        _nonnegative(minimum, ctx, path + ("minimum",), "minimum", "最低要求")
    if isinstance(cap, Fraction) and isinstance(minimum, Fraction) and minimum > cap:
        _problem(ctx, "E198", path + ("minimum",), f"minimum {minimum} is above the cap {cap}: no entity can meet it",
                 f"最低要求 {minimum}分 高于上限 {cap}分：任何对象都无法达到")
    return GroupArgs(tuple(parts), cap, minimum)


# ---------------------------------------------------------------------------------------------
# per_unit and items


@dataclass(frozen=True)
class PerUnit:
    """Points for each `per` of a value (each 1万平方米: 1分), whole steps or proportional."""

    of: str
    per: Amount | None  # None: each unit counted as it is (a count of firms)
    points: Amount
    steps: Option | None  # None only when `per` is None
    unit: Unit | None

    def names(self) -> tuple[str, ...]:
        return _names(self.of, self.per, self.points, _chosen(self.steps))


def _per_unit(fields: dict[str, Any], ctx: ParseContext, path: Path, *, need_per: bool) -> PerUnit:
    of = _name(fields.get("of"), ctx, path + ("of",), ("number",))
    unit = ctx.unit_of(of)
    per: Amount | None = None
    if "per" in fields:
        per = _amount(fields["per"], ctx, path + ("per",), unit)
        _nonnegative(per, ctx, path + ("per",), "per", "计量单位 per", positive=True)
    elif need_per:
        _problem(ctx, "E111", path, "per_unit: field 'per' is required", "per_unit：缺少必填字段 'per'")
    points = _points(fields.get("points", 0), ctx, path + ("points",))
    _nonnegative(points, ctx, path + ("points",), "points", "每单位分值")
    steps: Option | None = None
    if "steps" in fields:
        steps = _option(fields["steps"], ctx, path + ("steps",), "steps", STEPS)
    elif per is not None:
        # Whether 1.8万平方米 earns 1 or 1.8 points is the policy's to say (or a choice): never assumed.
        _problem(ctx, "E111", path, "steps is required with per: whole, proportional or {choice: NAME}",
                 "写了 per 时须写 steps：whole（只计整数单位）、proportional（按比例）或 {choice: 名称}")
    return PerUnit(of, per, points, steps, unit)


@dataclass(frozen=True)
class PerUnitArgs:
    rule: PerUnit
    cap: Amount | None
    missing: Option = "unknown"  # MISSING: what a missing `of` scores

    def reads(self) -> tuple[str, ...]:
        return _names(self.rule.names(), self.cap, _chosen(self.missing))


@op("per_unit", points=True)
def parse_per_unit(raw: Any, ctx: ParseContext, path: Path) -> PerUnitArgs:
    fields = _fields(raw, ctx, path, "per_unit", ("of", "per", "points"), ("cap", "steps", "missing"))
    rule = _per_unit(fields, ctx, path, need_per=False)
    return PerUnitArgs(rule, _cap(fields, ctx, path), _missing(fields, ctx, path))


def _missing(fields: dict[str, Any], ctx: ParseContext, path: Path) -> Option:
    return _option(fields.get("missing", "unknown"), ctx, path + ("missing",), "missing", MISSING)


def _cap(fields: dict[str, Any], ctx: ParseContext, path: Path, key: str = "cap") -> Amount | None:
    if key not in fields:
        return None
    cap = _points(fields[key], ctx, path + (key,))
    _nonnegative(cap, ctx, path + (key,), key, "上限" if key == "cap" else "下限")
    return cap


@dataclass(frozen=True)
class ItemsArgs:
    items: tuple[PerUnit, ...]
    cap: Amount | None
    missing: Option = "unknown"  # MISSING: what an item whose figure is missing scores

    def reads(self) -> tuple[str, ...]:
        return _names([i.names() for i in self.items], self.cap, _chosen(self.missing))


@op("items", points=True, beside=("cap",))
def parse_items(raw: Any, ctx: ParseContext, path: Path) -> ItemsArgs:
    """`items: [{of: new_listed_firms, points: 3}, ...]` with `cap:` beside it, or the whole rule
    as a mapping `{items: [...], cap: 10, missing: zero}`."""
    missing: Option = "unknown"
    if isinstance(raw, dict):
        fields = _fields(raw, ctx, path, "items", ("items",), ("cap", "missing"))
        listed, cap_fields, cap_path = fields.get("items"), fields, path
        missing = _missing(fields, ctx, path)
    else:
        listed = raw
        beside = _beside(ctx, "cap")
        cap_fields, cap_path = ({"cap": beside} if beside is not None else {}), path[:-1]
    items: list[PerUnit] = []
    if not isinstance(listed, list) or not listed:
        _problem(ctx, "E112", path, "items: expected a non-empty list of {of: NAME, points: N}",
                 "items：应为非空的 {of: 名称, points: 分值} 列表")
    else:
        for i, item in enumerate(listed):
            where = path + (i,) if not isinstance(raw, dict) else path + ("items", i)
            f = _fields(item, ctx, where, "items", ("of", "points"), ("per", "steps"))
            if f:
                items.append(_per_unit(f, ctx, where, need_per=False))
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.of in seen:
                _problem(ctx, "E112", path + (i,), f"items: {item.of!r} is listed twice (it would be counted twice)",
                         f"items：{item.of!r} 列了两次（会被重复计分）")
            seen.add(item.of)
    return ItemsArgs(tuple(items), _cap(cap_fields, ctx, cap_path), missing)


def _beside(ctx: ParseContext, key: str) -> Any:
    beside = getattr(ctx, "beside", None)
    return beside(key) if beside is not None else None


# ---------------------------------------------------------------------------------------------
# baseline_step


@dataclass(frozen=True)
class StepRule:
    per: Amount
    points: Amount


@dataclass(frozen=True)
class BaselineStepArgs:
    of: str
    baseline: Amount
    points: Amount
    above: StepRule | None
    below: StepRule | None
    steps: Option | None
    cap: Amount | None
    floor: Amount | None
    zero_below: Amount | None
    unit: Unit | None

    def reads(self) -> tuple[str, ...]:
        parts = [self.of, self.baseline, self.points, _chosen(self.steps), self.cap, self.floor, self.zero_below]
        for s in (self.above, self.below):
            if s is not None:
                parts += [s.per, s.points]
        return _names(*parts)


@op("baseline_step", points=True)
def parse_baseline_step(raw: Any, ctx: ParseContext, path: Path) -> BaselineStepArgs:
    fields = _fields(raw, ctx, path, "baseline_step", ("of", "baseline", "points"),
                     ("above", "below", "steps", "cap", "floor", "zero_below"))
    of = _name(fields.get("of"), ctx, path + ("of",), ("number",))
    unit = ctx.unit_of(of)
    baseline = _amount(fields.get("baseline", 0), ctx, path + ("baseline",), unit)
    points = _points(fields.get("points", 0), ctx, path + ("points",))
    sides: dict[str, StepRule | None] = {"above": None, "below": None}
    for side in sides:
        if side not in fields:
            continue
        where = path + (side,)
        f = _fields(fields[side], ctx, where, f"baseline_step.{side}", ("per", "points"))
        if f:
            per = _amount(f.get("per", 1), ctx, where + ("per",), unit)
            _nonnegative(per, ctx, where + ("per",), "per", "每档幅度 per", positive=True)
            step_points = _points(f.get("points", 0), ctx, where + ("points",))
            _nonnegative(step_points, ctx, where + ("points",), "points per step", "每档分值")
            sides[side] = StepRule(per, step_points)
    if not any(sides.values()):
        _problem(ctx, "E111", path, "baseline_step: write above: {per, points} and/or below: {per, points}",
                 "baseline_step：请写 above: {per, points} 和/或 below: {per, points}")
    steps: Option | None = None
    if "steps" in fields:
        steps = _option(fields["steps"], ctx, path + ("steps",), "steps", STEPS)
    elif any(sides.values()):
        _problem(ctx, "E111", path, "baseline_step: steps is required: whole, proportional or {choice: NAME}",
                 "baseline_step：须写 steps：whole（只计整档）、proportional（按比例）或 {choice: 名称}")
    cap, floor = _cap(fields, ctx, path), _cap(fields, ctx, path, "floor") if "floor" in fields else None
    if isinstance(cap, Fraction) and isinstance(floor, Fraction) and floor > cap:
        _problem(ctx, "E198", path + ("floor",), f"floor {floor} is above the cap {cap}",
                 f"下限 {floor}分 高于上限 {cap}分")
    zero_below = _amount(fields["zero_below"], ctx, path + ("zero_below",), unit) if "zero_below" in fields else None
    return BaselineStepArgs(of, baseline, points, sides["above"], sides["below"], steps, cap, floor, zero_below, unit)


# ---------------------------------------------------------------------------------------------
# deductions


@dataclass(frozen=True)
class DeductionsArgs:
    start: Amount
    events: tuple[tuple[str, Amount], ...]  # (count of events, points deducted per event)
    floor: Amount | None

    def reads(self) -> tuple[str, ...]:
        return _names(self.start, [[n, p] for n, p in self.events], self.floor)


@op("deductions", points=True)
def parse_deductions(raw: Any, ctx: ParseContext, path: Path) -> DeductionsArgs:
    fields = _fields(raw, ctx, path, "deductions", ("start", "per_event"), ("floor",))
    start = _points(fields.get("start", 0), ctx, path + ("start",))
    _nonnegative(start, ctx, path + ("start",), "start", "起始分")
    listed = fields.get("per_event")
    entries = listed if isinstance(listed, list) else [listed] if listed is not None else []
    events: list[tuple[str, Amount]] = []
    for i, entry in enumerate(entries):
        where = path + ("per_event", i) if isinstance(listed, list) else path + ("per_event",)
        f = _fields(entry, ctx, where, "deductions.per_event", ("of", "points"))
        if f:
            per_event = _points(f.get("points", 0), ctx, where + ("points",))
            _nonnegative(per_event, ctx, where + ("points",), "points per event", "每次扣分")
            events.append((_name(f.get("of"), ctx, where + ("of",), ("number",)), per_event))
    return DeductionsArgs(start, tuple(events), _cap(fields, ctx, path, "floor"))


# ---------------------------------------------------------------------------------------------
# rank_points and rank: over the entities of a batch (cohort operations)


RANK_MISSING = MISSING


@dataclass(frozen=True)
class RankPointsArgs:
    """Points by place within a group: full − step × (place − 1), not below `floor`."""

    of: str
    within: str | None
    order: Option
    full: Amount
    step: Amount
    floor: Amount | None
    ties: Option
    exclude: str | None  # a condition: an entity for which it holds takes no place
    excluded_points: Amount | ChoiceRef | None  # what an excluded entity gets
    missing: Option  # unknown: a missing value is unknown; zero: it takes no place and scores 0 (provisional)
    unit: Unit | None

    def reads(self) -> tuple[str, ...]:
        return _names(self.of, self.within, _chosen(self.order), self.full, self.step, self.floor, _chosen(self.ties),
                      self.exclude, self.excluded_points, _chosen(self.missing))


def _excluded_points(raw: Any, ctx: ParseContext, path: Path) -> Amount | ChoiceRef:
    """Points for an excluded entity: an amount, a parameter, or `{choice: NAME}` whose options
    are amounts of points (`0`, `1.5分`) or `full` (the full points of the rule)."""
    if isinstance(raw, dict) and set(raw) == {"choice"}:
        name = ctx.ref(raw["choice"], path + ("choice",), sorts=("choice",))
        table: list[tuple[str, Fraction | str]] = []
        for option in ctx.choice_options(name):
            # an option states its points (`none: {zh: 不得分, points: 0}`): option keys are names
            written = ctx.option_points(name, option)
            read = option_points(written) if written is not None and option != "full" else option_points(option)
            if read is None:
                _problem(ctx, "E199", path + ("choice",),
                         f"excluded_points: option {option!r} of choice {name!r} states no points: name it `full` or "
                         f"write points: on it ({option}: {{zh: …, points: 0}})",
                         f"excluded_points：待定选项 {name!r} 的选项 {option!r} 没有写明分值；请命名为 full（满分），"
                         f"或在该选项下写 points（例如 {option}: {{zh: …, points: 0}}）")
                continue
            table.append((option, read))
        return ChoiceRef(name, tuple(table))
    points = _points(raw, ctx, path)
    _nonnegative(points, ctx, path, "excluded_points", "排除对象的分值")
    return points


def option_points(option: Any) -> Fraction | str | None:
    """A choice option read as points: "full", or an amount ("0", "1.5分"); None if neither."""
    text = str(option).strip()
    if text == "full":
        return "full"
    if text.endswith("分"):
        text = text[:-1]
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value >= 0 else None


@op("rank_points", points=True, cohort=True)
def parse_rank_points(raw: Any, ctx: ParseContext, path: Path) -> RankPointsArgs:
    fields = _fields(raw, ctx, path, "rank_points", ("of", "order", "full", "step", "ties"),
                     ("within", "floor", "exclude", "excluded_points", "missing"))
    of = _name(fields.get("of"), ctx, path + ("of",), ("number",))
    within = _name(fields["within"], ctx, path + ("within",), ("enum",)) if "within" in fields else None
    order = _option(fields.get("order", HIGHER_FIRST), ctx, path + ("order",), "order", ORDERS)
    full = _points(fields.get("full", 0), ctx, path + ("full",))
    step = _points(fields.get("step", 0), ctx, path + ("step",))
    _nonnegative(full, ctx, path + ("full",), "full", "满分")
    _nonnegative(step, ctx, path + ("step",), "step", "每名次递减分值")
    floor = _cap(fields, ctx, path, "floor")
    ties = _option(fields.get("ties", "shared"), ctx, path + ("ties",), "ties", TIES)
    exclude = _name(fields["exclude"], ctx, path + ("exclude",), CONDITION_SORTS) if "exclude" in fields else None
    excluded: Amount | ChoiceRef | None = None
    if "excluded_points" in fields:
        excluded = _excluded_points(fields["excluded_points"], ctx, path + ("excluded_points",))
        if exclude is None:
            _problem(ctx, "E111", path, "rank_points: excluded_points without exclude", "rank_points：写了 excluded_points 但未写 exclude")
    elif exclude is not None:
        # What an excluded member gets is the policy's to say (银川: open), never assumed.
        _problem(ctx, "E111", path, "rank_points: exclude needs excluded_points (an amount, `full` by a choice, or {choice: NAME})",
                 "rank_points：写了 exclude 时须写 excluded_points（分值，或 {choice: 名称}）")
    missing = _option(fields.get("missing", "unknown"), ctx, path + ("missing",), "missing", RANK_MISSING)
    return RankPointsArgs(of, within, order, full, step, floor, ties, exclude, excluded, missing, ctx.unit_of(of))


@dataclass(frozen=True)
class TieBreak:
    of: str
    order: Option


RANK_TIES = ("shared", "dense", "split")


@dataclass(frozen=True)
class RankArgs:
    """The place of each entity within its group: by `of`, then each tie-break in turn; an
    entity for which `last` holds is placed after every other."""

    of: str
    within: str | None
    order: Option
    tie_break: tuple[TieBreak, ...]
    ties: Option
    last: str | None
    unit: Unit | None

    def reads(self) -> tuple[str, ...]:
        return _names(self.of, self.within, _chosen(self.order), [[t.of, _chosen(t.order)] for t in self.tie_break],
                      _chosen(self.ties), self.last)


@op("rank", cohort=True)
def parse_rank(raw: Any, ctx: ParseContext, path: Path) -> RankArgs:
    fields = _fields(raw, ctx, path, "rank", ("of",), ("within", "order", "tie_break", "ties", "last"))
    of = _name(fields.get("of"), ctx, path + ("of",), ("number",))
    within = _name(fields["within"], ctx, path + ("within",), ("enum",)) if "within" in fields else None
    if "order" not in fields:
        _problem(ctx, "E111", path, "rank: order is required (higher_first or lower_first)",
                 "rank：须写 order（higher_first 数值大者在前，或 lower_first）")
    order = _option(fields.get("order", HIGHER_FIRST), ctx, path + ("order",), "order", ORDERS)
    tie_break: list[TieBreak] = []
    listed = fields.get("tie_break") or []
    if not isinstance(listed, list):
        _problem(ctx, "E112", path + ("tie_break",), "rank: tie_break is a list of names (or {of: NAME, order: ...})",
                 "rank：tie_break 应为名称列表（或 {of: 名称, order: ...}）")
        listed = []
    for i, item in enumerate(listed):
        where = path + ("tie_break", i)
        if isinstance(item, dict):
            f = _fields(item, ctx, where, "rank.tie_break", ("of",), ("order",))
            tie_break.append(TieBreak(_name(f.get("of"), ctx, where + ("of",), ("number",)),
                                      _option(f.get("order", HIGHER_FIRST), ctx, where + ("order",), "order", ORDERS)))
        else:
            tie_break.append(TieBreak(_name(item, ctx, where, ("number",)), HIGHER_FIRST))
    # `split` places tied entities as `shared` does; the awards of the places they occupy are
    # split among them by outcomes.awards.
    ties = _option(fields.get("ties", "shared"), ctx, path + ("ties",), "ties", RANK_TIES)
    last = _name(fields["last"], ctx, path + ("last",), CONDITION_SORTS) if fields.get("last") is not None else None
    return RankArgs(of, within, order, tuple(tie_break), ties, last, ctx.unit_of(of))


@dataclass(frozen=True)
class PlacedLastArgs:
    """Whether the entity holds the last place of its group in a `rank` value (format 1's
    `result_last`): yes/no, read by criteria, flags and consequences with `op: is_true`."""

    of: str
    # The key of the ruleset that decides it (Pack2.last_rules, set by engine.compile.build2):
    # Python gives the distance to the group's last place, durable-rules decides whether it is 0.
    rules: str | None = None

    def reads(self) -> tuple[str, ...]:
        return (self.of,)


@op("placed_last")
def parse_placed_last(raw: Any, ctx: ParseContext, path: Path) -> PlacedLastArgs:
    """`placed_last: place` (the name of a rank value), or `{of: place}`."""
    if isinstance(raw, dict):
        raw = _fields(raw, ctx, path, "placed_last", ("of",)).get("of")
        path = path + ("of",)
    return PlacedLastArgs(_name(raw, ctx, path, ("number",)))
