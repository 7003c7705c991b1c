"""Compile stage: a validated rule-pack document becomes a `CompiledPack`, including the
durable-rules ruleset that makes the decisions.

How a pack becomes rules. Every comparison ("test") gets a slot in the entity's fact. Every
criterion is three-valued, so for each criterion we build three boolean expressions over the
slots — met (M), not met (N) and unknown (U) — which are mutually exclusive and together cover
every fact. Composite criteria combine their children's expressions (Kleene logic), so the
engine never needs to chain facts: one fact per entity, one action per applicable criterion,
one for the decision and one per flag. That keeps the number of Python actions per entity —
the cost that dominates durable-rules — as small as the trace allows.

Numbers reach the engine as integers chosen per test so the engine's comparison is exact:
the threshold t = T/S (S its denominator) and the value v becomes floor(v·S) or ceil(v·S)
depending on the operator (see `project`). No float ever crosses into the engine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from fractions import Fraction
from itertools import combinations
from typing import Any

from .model import (
    MET,
    NOT_MET,
    UNKNOWN,
    CompiledPack,
    Flag,
    InputSpec,
    Node,
    PackMeta,
    ParamSpec,
    Test,
)
from . import targets
from .limits import limit_problems
from .problems import ProblemsError
from .units import AmountError, Unit, parse_amount, parse_unit
from .titles import fill_title
from .yamlsafe import Document, iso_date

ENTITY_KIND = "entity"
# Values beyond this are clamped before they reach the engine (its integers saturate at 2^63).
# Thresholds are validated to lie well inside it, so clamping never changes a comparison.
CLAMP = 2**62
THRESHOLD_LIMIT = 2**60
# A threshold t = T/S reaches the engine as its numerator T (see `project`), so T — not the size
# of t — must fit the slot: 100000000.00000000000001元 is a modest amount whose T is 10^22.
# Officers are told the limit as digits: a threshold written in its base unit (元, 平方米, %, …)
# has at most SLOT_DIGITS digits counting its decimals; then |T| < 10^18 < THRESHOLD_LIMIT, and
# every clamped value stays on the right side of it.
SLOT_DIGITS = 18


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
    from .problems import shown

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


# ---------------------------------------------------------------------------------------------
# Parameter values


def parse_param_value(written: Any) -> tuple[Fraction, Unit | None, str]:
    """(value in base units, unit, dimension) of a parameter value as written."""
    date = iso_date(written) if isinstance(written, str) else None
    if date is not None:
        return Fraction(date.toordinal()), None, "date"
    if isinstance(written, bool):
        raise AmountError(f"{written!r} is a yes/no value, not an amount")
    value, unit = parse_amount(written, None)
    return value, unit, unit.dimension


def resolve_param(
    name: str, spec: dict[str, Any], as_of: dt.date, override: tuple[str, Any] | None = None
) -> ParamSpec:
    """The parameter's value in force on `as_of` (or the override an officer supplied)."""
    label, cite, quote = spec["label"], spec["cite"], spec.get("quote")
    written: Any = None
    since: str | None = None
    unset_reason: str | None = spec.get("unset")
    if override is not None:
        origin, written = override
        unset_reason = None
    elif "value" in spec:
        # A blank value (`value: ~`) is refused by validation (E143): "unset" is only ever
        # written out, so a reviewer is never told "the policy sets no number" for a typo.
        written = spec["value"]
    elif "values" in spec:
        in_force = [v for v in spec["values"] if iso_date(v["since"]) <= as_of]  # type: ignore[operator]
        if in_force:
            chosen = max(in_force, key=lambda v: v["since"])
            written, since = chosen["value"], chosen["since"]
        else:
            first = min(v["since"] for v in spec["values"])
            unset_reason = f"no value in force on {as_of.isoformat()} (the first takes effect {first})"
    if written is None:
        return ParamSpec(name, label, cite, quote, None, None, None, since, unset_reason or "unset",
                         unset_because=spec.get("unset_because"))
    value, unit, _ = parse_param_value(written)
    return ParamSpec(
        name, label, cite, quote, value, unit, str(written), since, None,
        override[0] if override else None,
    )


# ---------------------------------------------------------------------------------------------
# Model building


def input_dimension(spec: InputSpec) -> str:
    if spec.derived is not None or spec.type in ("money", "count", "percent", "area"):
        return spec.unit.dimension if spec.unit else spec.type
    return spec.type


def build_inputs(doc: dict[str, Any]) -> dict[str, InputSpec]:
    inputs: dict[str, InputSpec] = {}
    for name, spec in doc["inputs"].items():
        unit = parse_unit(spec["unit"]) if "unit" in spec else None
        members = targets.member_specs(spec) if spec["type"] == "members" else None
        inputs[name] = InputSpec(name, spec["type"], spec["label"], unit, spec.get("values", {}), members=members,
                                 signed=spec.get("signed") is True)
    for name, spec in (doc.get("derived") or {}).items():
        extra = targets.derived_how(spec)
        if extra is not None:
            kind = "date" if extra[0] == "as_of" else "derived"
            unit = parse_unit(spec["unit"]) if "unit" in spec else None
            inputs[name] = InputSpec(name, kind, spec["label"], unit, {}, extra)
            continue
        if "ratio" in spec:
            how = ("ratio", (spec["ratio"]["of"], spec["ratio"]["per"]))
        elif "sum" in spec:
            how = ("sum", tuple(spec["sum"]))
        else:
            how = ("difference", (spec["difference"]["of"], spec["difference"]["minus"]))
        inputs[name] = InputSpec(name, "derived", spec["label"], parse_unit(spec["unit"]), {}, how)
    return inputs


class _Builder:
    def __init__(self, params: dict[str, ParamSpec], inputs: dict[str, InputSpec], as_of: dt.date | None = None):
        self.params = params
        self.inputs = inputs
        self.tests: list[Test] = []
        self.as_of = as_of

    def test(self, raw: dict[str, Any]) -> Test:
        field = f"t{len(self.tests)}"
        if "attested" in raw:
            test = Test(field, raw["attested"], "attested")
        else:
            op = raw["op"]
            param = raw.get("param")
            threshold, unset = None, False
            if param is not None:
                threshold = self.params[param].value
                unset = threshold is None
                if threshold is not None and not slot_fits(threshold):
                    message, message_zh = slot_message(self.params[param].written, threshold, self.params[param].unit)
                    error = SlotError(f"parameter {param!r}: {message}")
                    error.message_zh = f"参数 {param!r}：{message_zh}"
                    raise error
            universe = tuple(self.inputs[raw["input"]].values) if op in ("in", "not_in") else ()
            constant = None
            spec = self.inputs[raw["input"]]
            if spec.derived is not None and spec.derived[0] == "as_of" and threshold is not None and self.as_of:
                # The as-of date is fixed for a compiled pack, so "is the deadline reached" is a
                # constant: folding it keeps an `all` of N dated targets at one rule, not 2^N.
                from .reference import COMPARE

                constant = MET if COMPARE[op](Fraction(self.as_of.toordinal()), threshold) else NOT_MET
            test = Test(field, raw["input"], op, param, tuple(raw.get("values", ())), threshold, unset,
                        universe, constant)
        self.tests.append(test)
        return test

    def condition(self, raw: dict[str, Any], path: tuple[Any, ...]) -> Node:
        if "all" in raw:
            return Node("all", children=tuple(self.condition(c, path + ("all", i)) for i, c in enumerate(raw["all"])), doc_path=path)
        if "any" in raw:
            return Node("any", children=tuple(self.condition(c, path + ("any", i)) for i, c in enumerate(raw["any"])), doc_path=path)
        if "not" in raw:
            return Node("not", children=(self.condition(raw["not"], path + ("not",)),), doc_path=path)
        return Node("test", test=self.test(raw), doc_path=path)

    def node(self, raw: dict[str, Any], path: tuple[Any, ...]) -> Node:
        common = dict(
            id=raw["id"],
            title=fill_title(raw.get("title", {"zh": raw["id"]}), self.params),
            cite=raw.get("cite"),
            discretionary=raw.get("discretionary"),
            note=raw.get("note"),
            doc_path=path,
        )
        if "test" in raw:
            return Node("test", test=self.test(raw["test"]), **common)
        for kind in ("all", "any"):
            if kind in raw:
                kids = tuple(self.node(c, path + (kind, i)) for i, c in enumerate(raw[kind]))
                return Node(kind, children=kids, **common)
        if "at_least" in raw:
            of = raw["at_least"]["of"]
            kids = tuple(self.node(c, path + ("at_least", "of", i)) for i, c in enumerate(of))
            return Node("at_least", children=kids, k=raw["at_least"]["k"], **common)
        if "not" in raw:
            return Node("not", children=(self.node(raw["not"], path + ("not",)),), **common)
        cases = tuple(
            (
                self.condition(case["when"], path + ("cases", i, "when")),
                self.node(case["then"], path + ("cases", i, "then")),
            )
            for i, case in enumerate(raw["cases"])
        )
        return Node("cases", cases=cases, otherwise=raw.get("otherwise", NOT_MET), **common)


def build(
    document: Document,
    raw_bytes: bytes,
    as_of: dt.date,
    overrides: dict[str, tuple[str, Any]] | None = None,
) -> CompiledPack:
    """Build the compiled pack from a document that passed validation."""
    doc = document.value
    overrides = overrides or {}
    target_table: tuple[dict[str, Any], ...] = ()
    if doc["pack"]["kind"] == "targets" and "targets" in doc:
        doc, target_table, extra = targets.lower(doc, as_of, overrides)
        overrides = {**overrides, **extra}
    # Bounded work even for a caller that skipped validation: measure the tree before expanding it.
    too_big = [p for p in limit_problems(doc, document=document) if p.severity == "error"]
    if too_big:
        raise ProblemsError(too_big)
    meta_raw = doc["pack"]
    meta = PackMeta(
        meta_raw["id"], meta_raw["version"], meta_raw["kind"], meta_raw["entity"],
        meta_raw["title"], meta_raw["source"], meta_raw.get("effective"),
        tuple(meta_raw.get("notes", ())),
    )
    params = {
        name: resolve_param(name, spec, as_of, overrides.get(name))
        for name, spec in (doc.get("parameters") or {}).items()
    }
    inputs = build_inputs(doc)
    builder = _Builder(params, inputs, as_of)
    root = builder.node(doc["criteria"], ("criteria",))
    flags = tuple(
        Flag(f["id"], fill_title(f["title"], params), f.get("cite"), f.get("note"), builder.condition(f["when"], ("flags", i, "when")))
        for i, f in enumerate(doc.get("flags") or [])
    )
    # Titles quoting a target follow its value in force, as criteria titles do (engine.titles).
    target_table = tuple({**t, "title": fill_title(t["title"], params)} for t in target_table)
    pack = CompiledPack(
        meta=meta,
        file=document.file,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        as_of=as_of,
        inputs=inputs,
        params=params,
        root=root,
        flags=flags,
        tests=tuple(builder.tests),
        targets=target_table,
    )
    pack.ruleset, pack.rule_meta = emit_ruleset(pack)
    return pack


# ---------------------------------------------------------------------------------------------
# Projection: normalised values -> the integers and names in the engine's fact
#
# Every slot is always present: a missing value is written as a sentinel, never left out. That
# lets every set of a test's outcomes ("met or unknown", "not met or unknown" ...) be written as a
# flat conjunction of comparisons, which durable-rules handles without limit — its nested
# $and/$or groups are capped at 31 entries (error 113), so the compiler never nests them.

MISSING = CLAMP + 1  # numeric sentinel: above every clamped value and every threshold
MISSING_TEXT = "?"  # enum sentinel: ids match ^[a-z][a-z0-9_]*$, so "?" is never a value
_HIGH_OPS = (">=", ">")  # "met" is the high side
_FLOOR_OPS = (">=", "<")


def _scaled(value: Fraction, test: Test, rounding: str) -> int:
    assert test.threshold is not None
    scaled = Fraction(value) * test.threshold.denominator
    as_int = math.floor(scaled) if rounding == "floor" else math.ceil(scaled)
    return max(-CLAMP, min(CLAMP, as_int))


def project(test: Test, value: Any) -> dict[str, Any]:
    """The fact slots for one test given the entity's normalised value (None = unknown).

    This only re-encodes the value; which side of the threshold it lies on is the engine's
    decision. With t = T/S, v·S >= T ⇔ floor(v·S) >= T and v·S > T ⇔ ceil(v·S) > T, so rounding
    per operator keeps the engine's integer comparison exact. The second slot holds the negated
    value so that "not met or unknown" is also a single comparison.
    """
    f = test.field
    if test.unset:
        return {}
    op = test.op
    if op in ("attested", "is_true", "is_false"):
        return {f: 2 if value is None else (1 if value else 0)}
    if op in ("in", "not_in"):
        return {f: MISSING_TEXT if value is None else value}
    if op in ("=", "!="):
        if value is None:
            return {f: MISSING}
        scaled = Fraction(value) * test.threshold.denominator  # type: ignore[union-attr]
        # Clamped strictly inside ±2^61 so that 2·whole + 1 stays below MISSING (2^62 + 1): at
        # ±2^61 a value with a fraction encoded as the missing sentinel. |T| < 10^18 (slot_fits),
        # so a clamped value still differs from the threshold, as the true value does.
        whole = max(-(CLAMP // 2 - 1), min(CLAMP // 2 - 1, math.floor(scaled)))
        return {f: 2 * whole + (0 if scaled.denominator == 1 else 1)}
    if value is None:
        return {f: MISSING, f + "n": MISSING}
    as_int = _scaled(value, test, "floor" if op in _FLOOR_OPS else "ceil")
    return {f: as_int, f + "n": -as_int}


# ---------------------------------------------------------------------------------------------
# Three-valued expressions in disjunctive normal form
#
# A term maps a test's index to the set of its statuses it allows; a DNF is a list of terms.
# Terms of one DNF may overlap (two rules for the same status may both fire — the evaluator
# de-duplicates), but the met, not-met and unknown DNFs of one criterion never do.

ALL3 = frozenset((MET, NOT_MET, UNKNOWN))
Term = dict[int, frozenset[str]]
DNF = list[Term]
TRUE: DNF = [{}]
FALSE: DNF = []
MAX_TERMS = 3000


class CompileError(Exception):
    """The pack is valid but too large to express as durable rules."""

    code = "E126"
    message_zh = ""  # set by errors that carry their own Chinese message


class SlotError(CompileError):
    """A threshold (e.g. one a targets pack computes from a target and a tolerance) does not fit
    the engine's integer slots exactly. Validation refuses written ones (E140); this is the net
    for thresholds the compiler derives."""

    code = "E140"


def _t_and(a: Term, b: Term) -> Term | None:
    out = dict(a)
    for key, allowed in b.items():
        both = out.get(key, ALL3) & allowed
        if not both:
            return None
        out[key] = both
    return {k: v for k, v in out.items() if v != ALL3}


def _subsumes(general: Term, specific: Term) -> bool:
    return all(k in specific and specific[k] <= v for k, v in general.items())


def _simplify(terms: DNF) -> DNF:
    changed = True
    out = terms
    while changed:
        changed = False
        unique: DNF = []
        for term in out:
            if term not in unique:
                unique.append(term)
        kept = [t for i, t in enumerate(unique)
                if not any(j != i and _subsumes(o, t) and (o != t) for j, o in enumerate(unique))]
        # Merge terms equal but for one test: {a:M, b:x} + {a:U, b:x} -> {a:{M,U}, b:x}
        merged: DNF = []
        used = [False] * len(kept)
        for i, a in enumerate(kept):
            if used[i]:
                continue
            for j in range(i + 1, len(kept)):
                b = kept[j]
                if used[j] or a.keys() != b.keys():
                    continue
                diff = [k for k in a if a[k] != b[k]]
                if len(diff) == 1:
                    k = diff[0]
                    a = dict(a)
                    a[k] = a[k] | b[k]
                    if a[k] == ALL3:
                        del a[k]
                    used[j] = True
                    changed = True
            merged.append(a)
        out = merged
        if len(out) > MAX_TERMS:
            raise CompileError(f"an expression needs more than {MAX_TERMS} rules")
    return out


def d_and(*parts: DNF) -> DNF:
    result: DNF = TRUE
    for part in parts:
        combined: DNF = []
        for a in result:
            for b in part:
                term = _t_and(a, b)
                if term is not None:
                    combined.append(term)
        result = _simplify(combined)
        if not result:
            return FALSE
    return result


def d_or(*parts: DNF) -> DNF:
    return _simplify([t for part in parts for t in part])


def d_at_least(j: int, parts: list[DNF]) -> DNF:
    if j <= 0:
        return TRUE
    if j > len(parts):
        return FALSE
    return d_or(*(d_and(*combo) for combo in combinations(parts, j)))


def _first(kids: list[tuple[DNF, DNF, DNF]], pick: int, before: Any, after: Any) -> DNF:
    """OR over i of: child i has status `pick`, the children before it satisfy `before`, and
    (when given) the children after it satisfy `after`. The disjuncts are mutually exclusive."""
    parts = []
    for i, kid in enumerate(kids):
        conjuncts = [kid[pick]] + [before(*k) for k in kids[:i]]
        if after is not None:
            conjuncts += [after(*k) for k in kids[i + 1:]]
        parts.append(d_and(*conjuncts))
    return d_or(*parts)


class Exprs:
    """Memoised (met, not met, unknown) DNFs per node."""

    def __init__(self, tests: tuple[Test, ...]):
        self.index = {t.field: i for i, t in enumerate(tests)}
        self.memo: dict[int, tuple[DNF, DNF, DNF]] = {}

    def of(self, node: Node) -> tuple[DNF, DNF, DNF]:
        key = id(node)
        if key not in self.memo:
            self.memo[key] = self._build(node)
        return self.memo[key]

    def _build(self, node: Node) -> tuple[DNF, DNF, DNF]:
        if node.kind == "test":
            assert node.test is not None
            if node.test.unset:
                return FALSE, FALSE, TRUE
            if node.test.constant is not None:
                return (TRUE, FALSE, FALSE) if node.test.constant == MET else (FALSE, TRUE, FALSE)
            i = self.index[node.test.field]
            return ([{i: frozenset((MET,))}], [{i: frozenset((NOT_MET,))}], [{i: frozenset((UNKNOWN,))}])
        kids = [self.of(c) for c in node.children]
        if node.kind == "not":
            m, n, u = kids[0]
            return n, m, u
        # The "first child that ..." forms below keep every status's terms disjoint, so exactly
        # one rule fires per criterion: durable-rules fails an assert (error 303) once more than
        # 64 rule activations queue up on one fact, and each activation costs an action.
        if node.kind == "all":
            met = d_and(*(m for m, _, _ in kids))
            not_met = _first(kids, pick=1, before=lambda m, n, u: d_or(m, u), after=None)
            unknown = _first(kids, pick=2, before=lambda m, n, u: m, after=lambda m, n, u: d_or(m, u))
            return met, not_met, unknown
        if node.kind == "any":
            met = _first(kids, pick=0, before=lambda m, n, u: d_or(n, u), after=None)
            not_met = d_and(*(n for _, n, _ in kids))
            unknown = _first(kids, pick=2, before=lambda m, n, u: n, after=lambda m, n, u: d_or(n, u))
            return met, not_met, unknown
        if node.kind == "at_least":
            k, size = node.k, len(kids)
            met = d_at_least(k, [m for m, _, _ in kids])
            not_met = d_at_least(size - k + 1, [n for _, n, _ in kids])
            unknown = d_and(
                d_at_least(size - k + 1, [d_or(n, u) for _, n, u in kids]),
                d_at_least(k, [d_or(m, u) for m, _, u in kids]),
            )
            return met, not_met, unknown
        met_parts, not_parts, unk_parts = [], [], []
        for branch, selector, then in self.branches(node):
            if then is None:
                status = node.otherwise if branch == "otherwise" else UNKNOWN
                {MET: met_parts, NOT_MET: not_parts, UNKNOWN: unk_parts}[status].append(selector)
            else:
                tm, tn, tu = self.of(then)
                met_parts.append(d_and(selector, tm))
                not_parts.append(d_and(selector, tn))
                unk_parts.append(d_and(selector, tu))
        return d_or(*met_parts), d_or(*not_parts), d_or(*unk_parts)

    def branches(self, node: Node) -> list[tuple[str, DNF, Node | None]]:
        """(branch name, selector, node applied) for a cases node, in order."""
        out: list[tuple[str, DNF, Node | None]] = []
        prefix = TRUE
        for i, (when, then) in enumerate(node.cases, start=1):
            wm, wn, wu = self.of(when)
            out.append((f"case{i}", d_and(prefix, wm), then))
            out.append((f"undecided{i}", d_and(prefix, wu), None))
            prefix = d_and(prefix, wn)
        out.append(("otherwise", prefix, None))
        return out


# ---------------------------------------------------------------------------------------------
# Terms -> durable patterns


def _literal(test: Test, allowed: frozenset[str]) -> list[list[dict[str, Any]]]:
    """Alternatives (each a flat list of atoms) meaning "this test's status is in `allowed`"."""
    f, op = test.field, test.op
    if op in ("attested", "is_true", "is_false"):
        code = {MET: 0 if op == "is_false" else 1, NOT_MET: 1 if op == "is_false" else 0, UNKNOWN: 2}
        if len(allowed) == 1:
            return [[{f: code[next(iter(allowed))]}]]
        (excluded,) = ALL3 - allowed
        return [[{"$neq": {f: code[excluded]}}]]
    if op in ("in", "not_in"):
        inside = list(test.values)
        # Outcomes: each declared value, or missing. Any set of them is "none of the others".
        others = [v for v in test.universe if v not in inside]
        met_vals, not_vals = (inside, others) if op == "in" else (others, inside)
        universe = {MET: met_vals, NOT_MET: not_vals, UNKNOWN: [MISSING_TEXT]}
        excluded = [v for status in ALL3 - allowed for v in universe[status]]
        return [[{"$neq": {f: v}} for v in excluded]]
    assert test.threshold is not None
    big_t = int(test.threshold * test.threshold.denominator)
    if op in ("=", "!="):
        eq, ne = (MET, NOT_MET) if op == "=" else (NOT_MET, MET)
        atoms = {
            frozenset((eq,)): [[{f: 2 * big_t}]],
            frozenset((ne,)): [[{"$neq": {f: 2 * big_t}}, {"$lt": {f: MISSING}}]],
            frozenset((UNKNOWN,)): [[{f: MISSING}]],
            frozenset((eq, ne)): [[{"$lt": {f: MISSING}}]],
            frozenset((ne, UNKNOWN)): [[{"$neq": {f: 2 * big_t}}]],
            frozenset((eq, UNKNOWN)): [[{f: 2 * big_t}], [{f: MISSING}]],
        }
        return atoms[allowed]
    high = op in _HIGH_OPS
    strict = op in (">", "<")
    # met region on slot f: high ops: f >= T (or f > T); low ops: f <= T (or f < T)
    met_cmp = ("$gt" if strict else "$gte") if high else ("$lt" if strict else "$lte")
    not_cmp = ("$lte" if strict else "$lt") if high else ("$gte" if strict else "$gt")
    # the negated slot n = -f: f >= T ⇔ n <= -T and so on
    flip = {"$gt": "$lt", "$gte": "$lte", "$lt": "$gt", "$lte": "$gte"}
    n = f + "n"
    table = {
        frozenset((MET,)): [[{met_cmp: {f: big_t}}, {"$lt": {f: MISSING}}]],
        frozenset((NOT_MET,)): [[{not_cmp: {f: big_t}}, {"$lt": {f: MISSING}}]],
        frozenset((UNKNOWN,)): [[{f: MISSING}]],
        frozenset((MET, NOT_MET)): [[{"$lt": {f: MISSING}}]],
    }
    if high:
        table[frozenset((MET, UNKNOWN))] = [[{met_cmp: {f: big_t}}]]
        table[frozenset((NOT_MET, UNKNOWN))] = [[{flip[not_cmp]: {n: -big_t}}]]
    else:
        table[frozenset((NOT_MET, UNKNOWN))] = [[{not_cmp: {f: big_t}}]]
        table[frozenset((MET, UNKNOWN))] = [[{flip[met_cmp]: {n: -big_t}}]]
    return table[allowed]


def _atom_lists(term: Term, tests: tuple[Test, ...]) -> list[list[dict[str, Any]]]:
    alternatives: list[list[dict[str, Any]]] = [[]]
    for index in sorted(term):
        options = _literal(tests[index], term[index])
        alternatives = [a + o for a in alternatives for o in options]
    return alternatives


def _disjoint(terms: DNF) -> bool:
    for i, a in enumerate(terms):
        for b in terms[i + 1:]:
            if not any(k in b and not (a[k] & b[k]) for k in a):
                return False
    return True


# durable-rules fails an assert (error 303, measured) once more than 64 activations queue on one
# fact. Criteria are split into groups whose worst case stays below that, and each group is
# decided on its own fact in its own session (durable_adapter). A small pack is one group.
MAX_FIRINGS_PER_GROUP = 56


def emit_ruleset(
    pack: CompiledPack,
) -> tuple[dict[str, Any], dict[str, tuple[str, str, str, str | None]]]:
    """The durable-rules ruleset, and for each rule name: (what, id, status, branch).

    Sets `pack.rule_groups`: how many facts (one per group) the adapter asserts per entity."""
    exprs = Exprs(pack.tests)
    # unit = one criterion, the decision, or one flag: [(name, (what, id, status, branch), atoms)]
    units: list[list[tuple[str, tuple[str, str, str, str | None], list[dict[str, Any]]]]] = []
    bounds: list[int] = []

    def start_unit() -> None:
        units.append([])
        bounds.append(0)

    def add(what: str, ident: str, status: str, branch: str | None, dnf: DNF) -> None:
        base = f"{what}.{ident}.{status}" + (f".{branch}" if branch else "")
        patterns = [atoms for term in dnf for atoms in _atom_lists(term, pack.tests)]
        for count, atoms in enumerate(patterns):
            units[-1].append((f"{base}#{count}", (what, ident, status, branch), atoms))
        # worst case for this status: every pattern at once, unless the terms exclude each other
        worst = 1 if _disjoint(dnf) and len(patterns) == len(dnf) else len(patterns)
        # Exactly one (branch, status) of a unit holds, so the unit's worst case is the largest.
        bounds[-1] = max(bounds[-1], worst)

    def visit(node: Node, applicable: DNF, is_root: bool) -> None:
        if node.kind == "cases":
            start_unit()
            for branch, selector, then in exprs.branches(node):
                if then is None:
                    status = node.otherwise if branch == "otherwise" else UNKNOWN
                    add("node", node.id or "", status, branch, d_and(applicable, selector))
                else:
                    tm, tn, tu = exprs.of(then)
                    for status, e in ((MET, tm), (NOT_MET, tn), (UNKNOWN, tu)):
                        add("node", node.id or "", status, branch, d_and(applicable, selector, e))
            for _, selector, then in exprs.branches(node):
                if then is not None:
                    visit(then, d_and(applicable, selector), False)
            return
        if not is_root and node.id is not None:
            start_unit()
            for status, e in zip((MET, NOT_MET, UNKNOWN), exprs.of(node)):
                add("node", node.id, status, None, d_and(applicable, e))
        for child in node.children:
            visit(child, applicable, False)

    visit(pack.root, TRUE, True)
    start_unit()
    for outcome_status, e in zip((MET, NOT_MET, UNKNOWN), exprs.of(pack.root)):
        add("decision", pack.root.id or "root", outcome_status, None, e)
    for flag in pack.flags:
        start_unit()
        for status, e in zip((MET, NOT_MET, UNKNOWN), exprs.of(flag.when)):
            add("flag", flag.id, status, None, e)

    rules: dict[str, Any] = {}
    meta: dict[str, tuple[str, str, str, str | None]] = {}
    group, budget = 0, 0
    for unit, bound in zip(units, bounds):
        if bound > MAX_FIRINGS_PER_GROUP:
            raise CompileError(f"criterion {unit[0][1][1]!r} could fire {bound} rules at once; "
                               f"durable-rules allows {MAX_FIRINGS_PER_GROUP}: simplify it")
        if budget + bound > MAX_FIRINGS_PER_GROUP:
            group, budget = group + 1, 0
        budget += bound
        for name, info, atoms in unit:
            pattern_atoms = [{"kind": ENTITY_KIND}, {"g": group}] + atoms
            rules[name] = {"all": [{"m": {"$and": pattern_atoms}}], "run": name}
            meta[name] = info
    pack.rule_groups = group + 1
    if len(rules) > 4000:
        raise CompileError(f"the pack needs {len(rules)} engine rules; durable-rules allows 4096")
    return rules, meta
