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
from itertools import combinations, product
from typing import Any

from engine.compile.model import (
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
    member_specs,
    resolve_param,
)
from engine.compile import targets
from engine.validate.limits import limit_problems
from engine.core.numbers import COMPARE, slot_fits, slot_message
from engine.core.problems import ProblemsError
from engine.core.units import parse_unit
from engine.compile.titles import fill_title
from engine.load.yamlsafe import Document

ENTITY_KIND = "entity"
# Values beyond this are clamped before they reach the engine (its integers saturate at 2^63).
# Thresholds are validated to lie well inside it, so clamping never changes a comparison.
CLAMP = 2**62
THRESHOLD_LIMIT = 2**60
# Thresholds reach the engine as integer slots of at most SLOT_DIGITS digits (engine.core.numbers).


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
        members = member_specs(spec) if spec["type"] == "members" else None
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
    # (rules firing at once are checked below, on the real rules: CompileError, E126)
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
    # Titles quoting a target follow its value in force, as criteria titles do (engine.compile.titles).
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


def slot_key(test: Test) -> tuple[Any, ...] | None:
    """What a test's slots hold, as a key: tests with the same key project any value to the same
    slots (see `project`), so they can share them. None for a test with no slot (unset)."""
    if test.unset:
        return None
    op = test.op
    if op in ("attested", "is_true", "is_false"):
        return (test.input, "yes/no")
    if op in ("in", "not_in"):
        return (test.input, "enum")
    assert test.threshold is not None
    scale = test.threshold.denominator
    if op in ("=", "!="):
        return (test.input, "equal", scale)
    return (test.input, "floor" if op in _FLOOR_OPS else "ceil", scale)


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
# No simplification is started on more conjunctions than this (engine/limits.py refuses packs
# long before: a caller that skips validation still cannot make the compiler hang).
MAX_SIMPLIFY_INPUT = 20_000


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
        if both == ALL3:
            out.pop(key, None)
        else:
            out[key] = both
    return out


def _subsumes(general: Term, specific: Term) -> bool:
    return all(k in specific and specific[k] <= v for k, v in general.items())


def _frozen(term: Term) -> frozenset[tuple[int, frozenset[str]]]:
    return frozenset(term.items())


def _drop_subsumed(terms: DNF) -> DNF:
    """Terms no other term covers. Only terms whose tests are a subset can cover one, so terms are
    grouped by their set of tests: disjoint forms (most of what the compiler builds) compare few."""
    groups: dict[frozenset[int], list[Term]] = {}
    for term in terms:
        groups.setdefault(frozenset(term), []).append(term)
    kept: DNF = []
    for term in terms:
        keys = frozenset(term)
        covered = False
        for other_keys, others in groups.items():
            if other_keys <= keys and any(o is not term and o != term and _subsumes(o, term) for o in others):
                covered = True
                break
        if not covered:
            kept.append(term)
    return kept


# Merging compares the terms on the same tests pairwise; past this many of them it is skipped
# (measured on the shipped packs it saves about 2% of the rules, at a quadratic cost).
MERGE_GROUP = 32


def _merge(terms: DNF) -> tuple[DNF, bool]:
    """Merge terms equal but for one test: {a:M, b:x} + {a:U, b:x} -> {a:{M,U}, b:x}. Only terms
    on the same tests can merge, so only those are compared."""
    position: dict[frozenset[int], list[int]] = {}
    for i, term in enumerate(terms):
        position.setdefault(frozenset(term), []).append(i)
    used = [False] * len(terms)
    merged: DNF = []
    changed = False
    for i, a in enumerate(terms):
        if used[i]:
            continue
        same = position[frozenset(a)]
        if len(same) > MERGE_GROUP:
            merged.append(a)
            continue
        for j in same:
            if j <= i or used[j]:
                continue
            b = terms[j]
            if a.keys() != b.keys():
                break  # a lost a test in an earlier merge: the next pass merges it further
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
    return merged, changed


def _simplify(terms: DNF) -> DNF:
    if len(terms) > MAX_SIMPLIFY_INPUT:
        # engine/limits.py refuses such packs first (E153); this guards callers that skip it
        raise CompileError(f"an expression has {len(terms)} conjunctions before simplification; "
                           f"the limit is {MAX_SIMPLIFY_INPUT}")
    out = list({_frozen(t): t for t in terms}.values())
    while True:
        # a term covering another overlaps it, so disjoint terms (the usual case) need no search
        out, changed = _merge(out if _disjoint(out) else _drop_subsumed(out))
        if not changed:
            break
        out = list({_frozen(t): t for t in out}.values())
    if len(out) > MAX_TERMS:
        raise CompileError(f"an expression needs more than {MAX_TERMS} rules")
    return out


def d_and(*parts: DNF) -> DNF:
    result: DNF = TRUE
    for part in parts:
        if len(result) * len(part) > MAX_SIMPLIFY_INPUT:
            raise CompileError(f"an expression would have {len(result) * len(part)} conjunctions; "
                               f"the limit is {MAX_SIMPLIFY_INPUT}")
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
    if math.comb(len(parts), j) > MAX_SIMPLIFY_INPUT:
        raise CompileError(f"at least {j} of {len(parts)} has {math.comb(len(parts), j)} combinations; "
                           f"the limit is {MAX_SIMPLIFY_INPUT}")
    return d_or(*(d_and(*combo) for combo in combinations(parts, j)))


def _first(kids: list[Exprs5], pick: frozenset[str], before: frozenset[str] | None,
           after: frozenset[str] | None = None) -> DNF:
    """OR over i of: child i's `pick` DNF, the children before it in `before`, and (when given)
    the children after it in `after`. The disjuncts are mutually exclusive. The products of the
    children before (and after) are built incrementally: n products, not n^2."""
    n = len(kids)
    prefix: list[DNF] = [TRUE]
    for kid in kids[:-1]:
        prefix.append(d_and(prefix[-1], kid[before]) if before is not None else TRUE)
    suffix: list[DNF] = [TRUE] * n
    if after is not None:
        for i in range(n - 2, -1, -1):
            suffix[i] = d_and(kids[i + 1][after], suffix[i + 1])
    parts = []
    for i, kid in enumerate(kids):
        parts.append(d_and(kid[pick], prefix[i], suffix[i]) if after is not None else d_and(kid[pick], prefix[i]))
    return d_or(*parts)


S_M, S_N, S_U = frozenset((MET,)), frozenset((NOT_MET,)), frozenset((UNKNOWN,))
S_MU, S_NU = frozenset((MET, UNKNOWN)), frozenset((NOT_MET, UNKNOWN))
# A node's DNFs for met, not met, unknown, and the two unions the composites need
Exprs5 = dict[frozenset[str], DNF]


class Exprs:
    """Memoised (met, not met, unknown) DNFs per node.

    Besides the three statuses each node also gets "met or unknown" and "not met or unknown",
    built from the children's own (an all is met-or-unknown when every child is): that keeps
    their size the product of the children's, where the union of two DNFs would be their sum
    left to simplification. engine/limits.py measures a pack by these same formulas."""

    def __init__(self, tests: tuple[Test, ...]):
        # by the test itself: tests may share a slot (slot_key), each is a variable of its own
        self.index = {t: i for i, t in enumerate(tests)}
        self.memo: dict[int, Exprs5] = {}

    def of(self, node: Node) -> tuple[DNF, DNF, DNF]:
        e = self.of5(node)
        return e[S_M], e[S_N], e[S_U]

    def of5(self, node: Node) -> Exprs5:
        key = id(node)
        if key not in self.memo:
            self.memo[key] = self._build(node)
        return self.memo[key]

    def _build(self, node: Node) -> Exprs5:
        if node.kind == "test":
            assert node.test is not None
            if node.test.unset:
                return {S_M: FALSE, S_N: FALSE, S_U: TRUE, S_MU: TRUE, S_NU: TRUE}
            if node.test.constant is not None:
                if node.test.constant == MET:
                    return {S_M: TRUE, S_N: FALSE, S_U: FALSE, S_MU: TRUE, S_NU: FALSE}
                return {S_M: FALSE, S_N: TRUE, S_U: FALSE, S_MU: FALSE, S_NU: TRUE}
            i = self.index[node.test]
            return {s: [{i: s}] for s in (S_M, S_N, S_U, S_MU, S_NU)}
        if node.count is not None:
            # counted at_least: low = met count, high = met + unknown count (never missing).
            # met ⇔ low ≥ k; not met ⇔ high < k; unknown ⇔ low < k ≤ high (low ≤ high always).
            low, high = (self.index[t] for t in node.count)
            return {S_M: [{low: S_M}], S_N: [{high: S_N}], S_U: [{low: S_N, high: S_M}],
                    S_MU: [{high: S_M}], S_NU: [{low: S_N}]}
        kids = [self.of5(c) for c in node.children]
        if node.kind == "not":
            c = kids[0]
            return {S_M: c[S_N], S_N: c[S_M], S_U: c[S_U], S_MU: c[S_NU], S_NU: c[S_MU]}
        # The "first child that ..." forms below keep every status's terms disjoint, so exactly
        # one rule fires per criterion: durable-rules fails an assert (error 303) once more than
        # 64 rule activations queue up on one fact, and each activation costs an action.
        if node.kind == "all":
            return {
                S_M: d_and(*(c[S_M] for c in kids)),
                S_N: _first(kids, pick=S_N, before=S_MU),
                S_U: _first(kids, pick=S_U, before=S_M, after=S_MU),
                S_MU: d_and(*(c[S_MU] for c in kids)),
                S_NU: _first(kids, pick=S_NU, before=S_M),
            }
        if node.kind == "any":
            return {
                S_M: _first(kids, pick=S_M, before=S_NU),
                S_N: d_and(*(c[S_N] for c in kids)),
                S_U: _first(kids, pick=S_U, before=S_N, after=S_NU),
                S_MU: _first(kids, pick=S_MU, before=S_N),
                S_NU: d_and(*(c[S_NU] for c in kids)),
            }
        if node.kind == "at_least":
            k, size = node.k, len(kids)
            at_least_k_mu = d_at_least(k, [c[S_MU] for c in kids])  # fewer than size-k+1 not met
            at_least_nu = d_at_least(size - k + 1, [c[S_NU] for c in kids])  # fewer than k met
            return {
                S_M: d_at_least(k, [c[S_M] for c in kids]),
                S_N: d_at_least(size - k + 1, [c[S_N] for c in kids]),
                S_U: d_and(at_least_nu, at_least_k_mu),
                S_MU: at_least_k_mu,
                S_NU: at_least_nu,
            }
        parts: dict[str, list[DNF]] = {MET: [], NOT_MET: [], UNKNOWN: []}
        unions: dict[frozenset[str], list[DNF]] = {S_MU: [], S_NU: []}
        for branch, selector, then in self.branches(node):
            if then is None:
                status = node.otherwise if branch == "otherwise" else UNKNOWN
                parts[status].append(selector)
                for union in (S_MU, S_NU):
                    if status in union:
                        unions[union].append(selector)
            else:
                t = self.of5(then)
                for status, key in ((MET, S_M), (NOT_MET, S_N), (UNKNOWN, S_U)):
                    parts[status].append(d_and(selector, t[key]))
                for union in (S_MU, S_NU):
                    unions[union].append(d_and(selector, t[union]))
        return {S_M: d_or(*parts[MET]), S_N: d_or(*parts[NOT_MET]), S_U: d_or(*parts[UNKNOWN]),
                S_MU: d_or(*unions[S_MU]), S_NU: d_or(*unions[S_NU])}

    def branches(self, node: Node) -> list[tuple[str, DNF, Node | None]]:
        """(branch name, selector, node applied) for a cases node, in order."""
        key = (id(node), "branches")
        if key in self.memo:  # type: ignore[comparison-overlap]
            return self.memo[key]  # type: ignore[index,return-value]
        out: list[tuple[str, DNF, Node | None]] = []
        prefix = TRUE
        for i, (when, then) in enumerate(node.cases, start=1):
            w = self.of5(when)
            out.append((f"case{i}", d_and(prefix, w[S_M]), then))
            out.append((f"undecided{i}", d_and(prefix, w[S_U]), None))
            prefix = d_and(prefix, w[S_N])
        out.append(("otherwise", prefix, None))
        self.memo[key] = out  # type: ignore[index,assignment]
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
        included = [v for status in allowed for v in universe[status]]
        if len(included) == 1:
            # one outcome: one equality, not a chain of "none of the others" (durable's stack)
            return [[{f: included[0]}]]
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
    # Every set of statuses is ONE comparison: the sentinel lies above every value on both slots,
    # so the high side of f includes "unknown" and the high side of n excludes it (and the other
    # way round for n). One condition per status matters to durable-rules: with two, the first
    # of "met" (f >= T) also matched unknown values, and a chain of such rules overflowed its
    # stack of pending conditions (error 303, see MAX_ALPHA_STACK).
    table = {
        frozenset((UNKNOWN,)): [[{f: MISSING}]],
        frozenset((MET, NOT_MET)): [[{"$lt": {f: MISSING}}]],
    }
    if high:
        table[frozenset((MET,))] = [[{flip[met_cmp]: {n: -big_t}}]]
        table[frozenset((NOT_MET,))] = [[{not_cmp: {f: big_t}}]]
        table[frozenset((MET, UNKNOWN))] = [[{met_cmp: {f: big_t}}]]
        table[frozenset((NOT_MET, UNKNOWN))] = [[{flip[not_cmp]: {n: -big_t}}]]
    else:
        table[frozenset((MET,))] = [[{met_cmp: {f: big_t}}]]
        table[frozenset((NOT_MET,))] = [[{flip[not_cmp]: {n: -big_t}}]]
        table[frozenset((NOT_MET, UNKNOWN))] = [[{not_cmp: {f: big_t}}]]
        table[frozenset((MET, UNKNOWN))] = [[{flip[met_cmp]: {n: -big_t}}]]
    return table[allowed]


def _atom_lists(term: Term, tests: tuple[Test, ...],
                cache: dict[tuple[int, frozenset[str]], list[list[dict[str, Any]]]] | None = None,
                ) -> list[list[dict[str, Any]]]:
    alternatives: list[list[dict[str, Any]]] = [[]]
    for index in sorted(term):
        if cache is None:
            options = _literal(tests[index], term[index])
        else:
            key = (index, term[index])
            if key not in cache:
                cache[key] = _literal(tests[index], term[index])
            options = cache[key]
        alternatives = [a + o for a in alternatives for o in options]
    return alternatives


def _split_key(terms: DNF, used: frozenset[int]) -> int | None:
    """A test every term restricts (and not yet split on), or None: the first in test order."""
    for key in sorted(terms[0]):
        if key not in used and all(key in t for t in terms):
            return key
    return None


def _disjoint(terms: DNF, used: frozenset[int] = frozenset()) -> bool:
    """Whether no two terms can hold at once. Terms are split on a test they all restrict: terms
    whose sets for it exclude each other cannot overlap, so only the rest are compared — the
    compiler's "first child that ..." forms split all the way down, in about n log n steps."""
    if len(terms) < 2:
        return True
    key = _split_key(terms, used)
    if key is None:
        return _pairwise_disjoint(terms, terms)
    parts: dict[frozenset[str], DNF] = {}
    for term in terms:
        parts.setdefault(term[key], []).append(term)
    used = used | {key}
    sets = list(parts)
    return all(_disjoint(parts[v], used) for v in sets) and all(
        _disjoint_between(parts[a], parts[b], used) for i, a in enumerate(sets) for b in sets[i + 1:] if a & b)


def _disjoint_between(one: DNF, other: DNF, used: frozenset[int]) -> bool:
    key = _split_key(one + other, used)
    if key is None:
        return _pairwise_disjoint(one, other)
    ones: dict[frozenset[str], DNF] = {}
    others: dict[frozenset[str], DNF] = {}
    for term in one:
        ones.setdefault(term[key], []).append(term)
    for term in other:
        others.setdefault(term[key], []).append(term)
    used = used | {key}
    return all(_disjoint_between(ones[a], others[b], used) for a in ones for b in others if a & b)


def _pairwise_disjoint(one: DNF, other: DNF) -> bool:
    same = one is other
    for i, a in enumerate(one):
        for b in (other[i + 1:] if same else other):
            if not any(k in b and not (a[k] & b[k]) for k in a):
                return False
    return True


# durable-rules fails an assert (error 303, measured) once more than 64 activations queue on one
# fact. Criteria are split into groups whose worst case stays below that, and each group is
# decided on its own fact in its own session (durable_adapter). A small pack is one group.
MAX_FIRINGS_PER_GROUP = 56


# durable-rules walks its condition tree (alpha network) depth first with a fixed stack of 64
# pending nodes (events.c, MAX_STACK_SIZE; error 303 when it overflows): each node pushes every
# child whose condition the fact matches. Measured: an all of 45 money criteria in one group
# (46 firings, inside the firing budget) overflowed it when every value was missing, and so did
# a cases of 32 enum branches, whose rules branch at every case. Groups are therefore also
# sized by an upper bound of that stack (_alpha_stack), keeping a few entries spare.
MAX_ALPHA_STACK = 60


def _atom_parts(atom: dict[str, Any]) -> tuple[str, str, Any]:
    """(slot, operator, constant) of one atom: {f: c} or {"$op": {f: c}}."""
    (key, value), = atom.items()
    if key.startswith("$"):
        (slot, constant), = value.items()
        return slot, key, constant
    return key, "=", value


_MATCH = {
    "=": lambda v, c: v == c, "$neq": lambda v, c: v != c,
    "$lt": lambda v, c: v < c, "$lte": lambda v, c: v <= c,
    "$gt": lambda v, c: v > c, "$gte": lambda v, c: v >= c,
}


def _most_matching(atoms: list[tuple[str, str, Any]]) -> int:
    """How many of these sibling conditions one fact can match at once: per test, the most any
    single value matches (tried at every constant, its neighbours and the sentinel), added over
    tests. A test's two slots are taken together: n holds -f, or the sentinel when f does."""
    by_test: dict[str, list[tuple[bool, str, Any]]] = {}
    slots = {slot for slot, _, _ in atoms}
    for slot, op, constant in atoms:
        negated = slot.endswith("n") and (slot[:-1] in slots or slot[:-1].startswith("t"))
        by_test.setdefault(slot[:-1] if negated else slot, []).append((negated, op, constant))
    total = 0
    for conditions in by_test.values():
        if all(isinstance(c, int) and not isinstance(c, bool) for _, _, c in conditions):
            near = {(-c if negated else c) + d for negated, _, c in conditions for d in (-1, 0, 1)}
            candidates: set[Any] = near | {MISSING}
        else:
            candidates = {c for _, _, c in conditions} | {"\x00 none of them"}
        best = 0
        for v in candidates:
            count = 0
            for negated, op, c in conditions:
                value = (MISSING if v == MISSING else -v) if negated else v
                try:
                    count += bool(_MATCH[op](value, c))
                except TypeError:
                    count += 1  # text against a number: count it, to be safe
            best = max(best, count)
        total += best
    return total


def _alpha_stack(patterns: list[list[dict[str, Any]]]) -> tuple[int, int]:
    """(how many of this unit's first conditions one fact can match at once, the most its
    subtrees can add below them): what the unit can push on durable's stack. A node pushes its
    matching children, and the walk goes on from one of them, so a subtree needs (matching
    children - 1) + the most any child's subtree needs."""
    trie: dict[Any, Any] = {}
    for atoms in patterns:
        node = trie
        for atom in atoms:
            node = node.setdefault(_atom_parts(atom), {})

    def bound(node: dict[Any, Any]) -> int:
        if not node:
            return 1
        return _most_matching(list(node)) - 1 + max(bound(child) for child in node.values())

    return _most_matching(list(trie)), max((bound(child) for child in trie.values()), default=0)


# A combined rule's name joins the names of the rules it stands for (durable_adapter splits it).
COMBINED = "|"


def _combined(units: list[Any], bounds: list[int], always: list[bool], limit: int
              ) -> tuple[list[Any], list[int], list[bool]]:
    """Units merged into units of one rule per combination of their rules (issue 14: each rule
    durable-rules fires costs an action, the largest part of a decision; a rule more costs little).

    Only units that fire exactly one rule for every fact are merged — not inside a case that may not
    apply (it fires none then), and no two of their rules can hold at once (bound 1) — so exactly one
    combination fires, and it says what each of its units' rules would have said: its name is theirs
    joined by COMBINED, the adapter splits it, and the readers see the same fired rules. Smallest
    units first, as many together as keep the product at most `limit` rules; a merge durable's
    condition stack could not take is not made. Only units whose every rule is one condition (a
    criterion that is one test) are merged: measured on the Huguan pack (bench/README.md), merging
    composites too made durable's condition network branch more and cost more than it saved."""
    order = sorted((i for i in range(len(units)) if always[i] and bounds[i] == 1 and 1 < len(units[i]) <= limit // 2
                    and all(len(atoms) == 1 for _, _, atoms in units[i])),
                   key=lambda i: len(units[i]))
    batches: list[list[int]] = []
    size = 0
    for i in order:
        if batches and size * len(units[i]) <= limit:
            batches[-1].append(i)
            size *= len(units[i])
        else:
            batches.append([i])
            size = len(units[i])
    merged: dict[int, Any] = {}  # first unit of a batch -> the merged unit; the others dropped
    dropped: set[int] = set()
    for batch in batches:
        if len(batch) < 2:
            continue
        unit = []
        for combo in product(*(units[i] for i in batch)):
            assert not any(COMBINED in n for n, _, _ in combo)
            name = COMBINED.join(n for n, _, _ in combo)
            unit.append((name, [(n, info) for n, info, _ in combo], [a for _, _, atoms in combo for a in atoms]))
        width, depth = _alpha_stack([atoms for _, _, atoms in unit])
        if width + depth > MAX_ALPHA_STACK // 2:
            continue
        merged[batch[0]] = unit
        dropped.update(batch[1:])
    keep = [i for i in range(len(units)) if i not in dropped]
    return ([merged.get(i, units[i]) for i in keep], [bounds[i] for i in keep], [always[i] for i in keep])


def emit_ruleset(
    pack: CompiledPack, decision: bool = True, small_first: bool = False, combine: int = 1,
) -> tuple[dict[str, Any], dict[str, tuple[str, str, str, str | None]]]:
    """The durable-rules ruleset, and for each rule name: (what, id, status, branch).

    `decision=False` (a format-2 stage, engine.compile.build2): the root is only a list of the
    stage's criteria, each decided as a unit of its own; no rule decides the root itself.
    `small_first`: the rules of the units with fewest rules come first (cheaper for durable).
    `combine` > 1: units that always fire one rule are merged, up to that many rules each (`_combined`).
    Sets `pack.rule_stats`: (rules, comparisons) as if no unit were merged: what the limits count.

    Sets `pack.rule_groups`: how many facts (one per group) the adapter asserts per entity."""
    exprs = Exprs(pack.tests)
    literals: dict[tuple[int, frozenset[str]], list[list[dict[str, Any]]]] = {}  # _literal per (test, statuses)
    # unit = one criterion, the decision, or one flag: [(name, (what, id, status, branch), atoms)]
    units: list[list[tuple[str, tuple[str, str, str, str | None], list[dict[str, Any]]]]] = []
    bounds: list[int] = []

    always: list[bool] = []  # whether one of the unit's rules fires for every fact (not inside a case)

    def start_unit(applicable: DNF = TRUE) -> None:
        units.append([])
        bounds.append(0)
        always.append(applicable == TRUE)

    def add(what: str, ident: str, status: str, branch: str | None, dnf: DNF) -> None:
        base = f"{what}.{ident}.{status}" + (f".{branch}" if branch else "")
        patterns = [atoms for term in dnf for atoms in _atom_lists(term, pack.tests, literals)]
        for count, atoms in enumerate(patterns):
            units[-1].append((f"{base}#{count}", (what, ident, status, branch), atoms))
        # worst case for this status: every pattern at once, unless the terms exclude each other
        worst = 1 if _disjoint(dnf) and len(patterns) == len(dnf) else len(patterns)
        # Exactly one (branch, status) of a unit holds, so the unit's worst case is the largest.
        bounds[-1] = max(bounds[-1], worst)

    def visit(node: Node, applicable: DNF, is_root: bool) -> None:
        if node.kind == "cases":
            start_unit(applicable)
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
            start_unit(applicable)
            for status, e in zip((MET, NOT_MET, UNKNOWN), exprs.of(node)):
                add("node", node.id, status, None, d_and(applicable, e))
        if node.count is not None:
            return  # a counted at_least: its children were decided in an earlier step
        for child in node.children:
            visit(child, applicable, False)

    visit(pack.root, TRUE, True)
    if decision:
        start_unit()
        for outcome_status, e in zip((MET, NOT_MET, UNKNOWN), exprs.of(pack.root)):
            add("decision", pack.root.id or "root", outcome_status, None, e)
    for flag in pack.flags:
        start_unit()
        for status, e in zip((MET, NOT_MET, UNKNOWN), exprs.of(flag.when)):
            add("flag", flag.id, status, None, e)

    plain = (sum(len(u) for u in units), sum(len(atoms) for u in units for _, _, atoms in u))
    if combine > 1 and plain[0] <= 2000:  # a pack near durable's 4096 rules is left as it is
        units, bounds, always = _combined(units, bounds, always, combine)

    rules: dict[str, Any] = {}
    meta: dict[str, tuple[str, str, str, str | None]] = {}
    group, budget, stack = 0, 0, 0
    covered: set[int] = set()  # groups with a unit that fires for every fact
    placed: list[tuple[int, list[tuple[str, tuple[str, str, str, str | None], list[dict[str, Any]]]]]] = []
    for unit, bound, fires in zip(units, bounds, always):
        if bound > MAX_FIRINGS_PER_GROUP:
            raise CompileError(f"criterion {unit[0][1][1]!r} could fire {bound} rules at once; "
                               f"durable-rules allows {MAX_FIRINGS_PER_GROUP}: simplify it")
        width, depth = _alpha_stack([atoms for _, _, atoms in unit])
        if width + depth > MAX_ALPHA_STACK:
            raise CompileError(f"criterion {unit[0][1][1]!r} may need {width + depth} pending engine conditions "
                               f"at once; durable-rules allows {MAX_ALPHA_STACK}: split it into sub-criteria")
        # Units of one group can share conditions (their subtrees then merge), so what their rules
        # add below the first condition adds up too; a rule of one condition adds nothing there.
        need = width + max(depth - 1, 0)
        if budget + bound > MAX_FIRINGS_PER_GROUP or stack + need + 1 > MAX_ALPHA_STACK:
            group, budget, stack = group + 1, 0, 0
        budget += bound
        stack += need
        if fires:
            covered.add(group)
        placed.append((group, unit))
    # A group holding only criteria inside cases that do not apply would match nothing, and
    # durable-rules cannot end such a session safely (durable_adapter): give each such group one
    # rule that always fires and records nothing (meta "group", skipped by the evaluator).
    guards = []
    for uncovered in sorted(set(range(group + 1)) - covered):
        name = f"group.g{uncovered}"
        guards.append((uncovered, [(name, ("group", f"g{uncovered}", "", None), [])]))
    if small_first:
        # durable-rules finds each queued action by scanning the rules from the first, once per
        # action and twice more per fact (events.c getNextResultInState): with the units of
        # fewest rules first, most of those scans stop early. Which rules fire does not change.
        placed = guards + sorted(placed, key=lambda gu: len(gu[1]))
    else:
        placed += guards
    for in_group, unit in placed:
        for name, info, atoms in unit:
            pattern_atoms = [{"kind": ENTITY_KIND}, {"g": in_group}] + atoms
            rules[name] = {"all": [{"m": {"$and": pattern_atoms}}], "run": name}
            if isinstance(info, list):  # a combined rule: the rules it stands for are what is read
                meta.update(info)
            else:
                meta[name] = info
    pack.rule_groups = group + 1
    # every rule has two more conditions (kind, g); a group's guard rule only those
    pack.rule_stats = (plain[0] + len(guards), plain[1] + 2 * (plain[0] + len(guards)))
    if len(rules) > 4000:
        raise CompileError(f"the pack needs {len(rules)} engine rules; durable-rules allows 4096")
    return rules, meta
