"""Requirements on an entity's data that give a criterion the status wanted, found on a compiled
criteria tree (engine.compile.model), for "what it would take" (engine.explain.whatif2).

Every node says which *requirements* on the slots it reads would make it met (or not met, for
`not` and for the cases that must not apply): a `Range` for a number, a `OneOf` (allowed values)
for yes/no and enums. Requirements combine as the tree does — all = every child's at once, any =
one child's, at_least = k children's, cases = this case applies (the earlier ones do not) and its
`then` is met — and contradictory combinations drop out (`merge`); `Search` keeps the cheapest
`Option`s of each node (fewest requirements the current values do not meet). `concrete` gives the
value satisfying a requirement nearest the current one; `input_text` shows an input's value as an
officer reads it. Nothing here is specific to a policy: the tree and its thresholds are the only
source.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from typing import Any, Iterable

from engine.compile.model import MET, NOT_MET, CompiledPack, Node, Test
from engine.core.units import format_amount

MAX_OPTIONS_PER_NODE = 64  # requirement sets kept per node while combining (cheapest first)


@dataclass(frozen=True)
class Range:
    """Numeric requirement in base units: lo ≤ v ≤ hi (bounds optional, each open or closed)."""

    lo: Fraction | None = None
    lo_open: bool = False
    hi: Fraction | None = None
    hi_open: bool = False
    lo_text: str | None = field(default=None, compare=False)  # the bound as the pack writes it
    hi_text: str | None = field(default=None, compare=False)

    def meet(self, other: "Range") -> "Range | None":
        lo, lo_open, lo_text = self.lo, self.lo_open, self.lo_text
        if other.lo is not None and (lo is None or other.lo > lo or (other.lo == lo and other.lo_open)):
            lo, lo_open, lo_text = other.lo, other.lo_open, other.lo_text
        hi, hi_open, hi_text = self.hi, self.hi_open, self.hi_text
        if other.hi is not None and (hi is None or other.hi < hi or (other.hi == hi and other.hi_open)):
            hi, hi_open, hi_text = other.hi, other.hi_open, other.hi_text
        if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_open or hi_open))):
            return None
        return Range(lo, lo_open, hi, hi_open, lo_text, hi_text)

    def contains(self, value: Any) -> bool:
        if value is None or isinstance(value, (bool, str)):
            return False
        v = Fraction(value)
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        if self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)):
            return False
        return True


@dataclass(frozen=True)
class OneOf:
    """Requirement on a yes/no or enum input: one of these values."""

    allowed: frozenset

    def meet(self, other: "OneOf") -> "OneOf | None":
        both = self.allowed & other.allowed
        return OneOf(both) if both else None

    def contains(self, value: Any) -> bool:
        return value is not None and value in self.allowed


Requirement = Any  # Range | OneOf


@dataclass(frozen=True)
class Option:
    """Requirements on inputs that together make a node have the wanted status."""

    needs: tuple[tuple[str, Requirement], ...]  # sorted by input name
    via: tuple[str, ...] = ()  # criteria chosen where the tree offers alternatives (any / cases)

    def as_dict(self) -> dict[str, Requirement]:
        return dict(self.needs)


def merge(a: Option, b: Option) -> Option | None:
    needs = dict(a.needs)
    for name, req in b.needs:
        if name in needs:
            mine = needs[name]
            if type(mine) is not type(req):
                return None
            joined = mine.meet(req)
            if joined is None:
                return None
            needs[name] = joined
        else:
            needs[name] = req
    return Option(tuple(sorted(needs.items())), a.via + tuple(v for v in b.via if v not in a.via))


def test_requirements(test: Test, want: str, text: str | None = None) -> list[Requirement]:
    """Alternatives on the test's input that give the test status `want` (met / not_met)."""
    if test.unset:
        return []  # the policy sets no number: no data makes this test met or not met
    op = test.op
    if op in ("attested", "is_true", "is_false"):
        yes = (op != "is_false") == (want == MET)
        return [OneOf(frozenset([yes]))]
    if op in ("in", "not_in"):
        inside = frozenset(test.values)
        outside = frozenset(test.universe) - inside
        chosen = inside if (op == "in") == (want == MET) else outside
        return [OneOf(chosen)] if chosen else []
    t = test.threshold
    if t is None:
        return []
    at_least, above = Range(lo=t, lo_text=text), Range(lo=t, lo_open=True, lo_text=text)
    at_most, below = Range(hi=t, hi_text=text), Range(hi=t, hi_open=True, hi_text=text)
    exactly = Range(t, False, t, False, text, text)
    met = {">=": [at_least], ">": [above], "<=": [at_most], "<": [below], "=": [exactly], "!=": [below, above]}
    not_met = {">=": [below], ">": [at_most], "<=": [above], "<": [at_least], "=": [below, above], "!=": [exactly]}
    return (met if want == MET else not_met).get(op, [])


class Search:
    def __init__(self, pack: CompiledPack, values: dict[str, Any]):
        self.pack = pack
        self.values = values

    def cost(self, option: Option) -> int:
        return sum(1 for name, req in option.needs if not req.contains(self.values.get(name)))

    def keep(self, options: Iterable[Option]) -> list[Option]:
        unique: dict[tuple[Any, ...], Option] = {}
        for o in options:
            unique.setdefault((o.needs, o.via), o)
        ranked = sorted(unique.values(), key=lambda o: (self.cost(o), len(o.via), len(o.needs)))
        return ranked[:MAX_OPTIONS_PER_NODE]

    def all_of(self, groups: list[list[Option]]) -> list[Option]:
        result = [Option(())]
        for group in groups:
            result = self.keep(m for a in result for b in group if (m := merge(a, b)) is not None)
            if not result:
                return []
        return result

    def options(self, node: Node, want: str) -> list[Option]:
        other = NOT_MET if want == MET else MET
        if node.kind == "test":
            assert node.test is not None
            test = node.test
            text = self.pack.params[test.param].written if test.param else None
            return [Option(((test.input, req),)) for req in test_requirements(test, want, text)]
        if node.kind == "not":
            return self.options(node.children[0], other)
        kids = node.children
        if node.kind in ("all", "any"):
            conjunctive = (node.kind == "all") == (want == MET)
            if conjunctive:
                return self.all_of([self.options(c, want) for c in kids])
            return self.keep(Option(o.needs, (c.id,) + o.via if c.id else o.via)
                             for c in kids for o in self.options(c, want))
        if node.kind == "at_least":
            need = node.k if want == MET else len(kids) - node.k + 1
            if need <= 0:
                return [Option(())]
            found: list[Option] = []
            for chosen in combinations(kids, need):
                found.extend(self.all_of([self.options(c, want) for c in chosen]))
            return self.keep(found)
        if node.kind == "cases":
            found = []
            earlier: list[list[Option]] = []
            for when, then in node.cases:
                then_tag = (then.id,) if then.id else ()
                for o in self.all_of(earlier + [self.options(when, MET), self.options(then, want)]):
                    found.append(Option(o.needs, then_tag + o.via))
                earlier.append(self.options(when, NOT_MET))
            if node.otherwise == want:
                found.extend(self.all_of(earlier))
            return self.keep(found)
        return []


def _step(spec: Any) -> Fraction:
    if spec.type == "count":
        return Fraction(1)
    if spec.type == "date":
        return Fraction(1)
    return (spec.unit.factor if spec.unit is not None else Fraction(1)) / 100


def concrete(spec: Any, req: Requirement, current: Any) -> Any:
    """The value satisfying `req` nearest the current one."""
    if isinstance(req, OneOf):
        if len(req.allowed) == 1:
            return next(iter(req.allowed))
        order = list(spec.values) if spec.values else sorted(req.allowed, key=str)
        return next(v for v in order if v in req.allowed)
    step = _step(spec)
    whole = spec.type in ("count", "date")
    value: Fraction | None = None
    below_lo = req.lo is not None and (current is None or not Range(req.lo, req.lo_open).contains(current))
    above_hi = req.hi is not None and current is not None and not Range(hi=req.hi, hi_open=req.hi_open).contains(current)
    if below_lo and req.lo is not None:
        value = req.lo + (step if req.lo_open else 0)
        if whole:
            value = Fraction(math.floor(req.lo) + 1 if req.lo_open else math.ceil(req.lo))
    elif above_hi or (current is None and req.hi is not None):
        assert req.hi is not None
        value = req.hi - (step if req.hi_open else 0)
        if whole:
            value = Fraction(math.ceil(req.hi) - 1 if req.hi_open else math.floor(req.hi))
    elif current is None:
        value = Fraction(0)
    if value is None:
        value = Fraction(current)
    return int(value) if spec.type == "count" else value


def input_text(spec: Any, value: Any, lang: str = "zh") -> str | None:
    if value is None:
        return None
    if spec.type == "date":
        return dt.date.fromordinal(int(value)).isoformat()
    if isinstance(value, bool):
        return {"zh": "是", "en": "yes"}[lang] if value else {"zh": "否", "en": "no"}[lang]
    if spec.type == "enum":
        return spec.values.get(value, {}).get(lang) or str(value)
    if isinstance(value, (int, Fraction)):
        return format_amount(Fraction(value), spec.unit, lang)
    return str(value)
