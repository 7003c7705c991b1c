"""Bounded work: the limits a rule pack must stay inside, measured from its shape before compiling.

Why. The compiler turns every criterion into disjunctions of flat conjunctions (one durable rule
per conjunction, see compile.py). Some small packs expand enormously: an `all` of 4 `any`-of-10
groups is 10^4 conjunctions for "met" alone; an `all` of 500 criteria is 500 rules of up to 500
comparisons each. Such packs used to validate clean and then hang in compile or die inside
durable-rules. Here each pack is measured from its tree — sizes multiplied and added as the
compiler would, before anything is expanded — and `validate` refuses it with a code saying
which node, the count, the limit and how to restructure. `compile.build` runs the same
measure first, so even a caller that skips validation cannot start the expensive work.

Every bound is an upper bound: the compiler's simplification only ever makes the real numbers
smaller. The limits are chosen so that a pack inside all of them compiles (durable ruleset
included) in well under a second and decides an entity in well under 10 ms; `bench/bench.py
--limits` builds the worst packs at the limits and measures that (numbers in bench/README.md).
To raise a limit, change its constant here and re-run that bench mode.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any, Callable

from engine.core.problems import Problem, shown

# Each limit and its code. docs/robustness.md lists them with how to raise them.
# Measured with bench/limit_packs.py: a cases of 64 enum branches, or an all of 64 enum tests,
# needs more of durable-rules' 64-entry condition stack than one rule group has (compile refuses
# them, E126); at 48 every shape tried compiles. The widest shipped list has 39 (Lianyungang).
MAX_GROUP = 48  # E150: criteria (or cases) in one all / any / at_least / cases list
# Each test is up to 2 of the 255 properties durable-rules allows in one fact, and each criterion
# one action per entity (~20 us): 80 keeps the worst pack near 2 ms a decision.
MAX_TESTS = 80  # E151: tests decided per entity (criteria and flags; the as-of date is folded)
MAX_DEPTH = 12  # E152: criteria / conditions nested inside each other
MAX_TERMS = 1000  # E153: conjunctions in one criterion's met, not-met or unknown expression
MAX_SIMPLIFY = 2_000_000  # E154: term comparisons the compiler's simplification may need
MAX_RULES = 2000  # E155: engine rules for the whole pack (durable-rules itself stops at 4096)
MAX_ATOMS = 40_000  # E156: comparisons across all engine rules (what durable-rules must index)
# E157: at_least k outside 1..(number of criteria listed)
# E158: rules of one criterion that can fire at once (compile.MAX_FIRINGS_PER_GROUP; durable-rules
# queues at most 64 activations on a fact). Only at_least overlaps; when the shape-only estimate is
# over, validate asks the compiler itself (cheap once every other limit holds).
MAX_FIRINGS = 56

SATURATE = 10**15  # sizes are capped here so that absurd packs cost no big-integer arithmetic

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"

# (terms, patterns, atoms per pattern, may overlap): terms are conjunctions of the DNF; patterns
# are engine rules (a literal can need two alternatives); atoms are comparisons in one rule.
# The fourth number is 1 when the conjunctions may overlap (several rules fire at once).
Size = tuple[int, int, int, int]
TRUE: Size = (1, 1, 0, 0)
FALSE: Size = (0, 0, 0, 0)


def _cap(x: int) -> int:
    return x if x < SATURATE else SATURATE


class Measure:
    """The pack's measures; `cost` counts the simplification work as the compiler would do it."""

    def __init__(self) -> None:
        self.cost = 0
        self.max_terms = 0
        self.max_terms_at: tuple[Any, ...] = ()
        self.rules = 0
        self.atoms = 0
        self.firings = 0  # the most rules of one criterion that can fire at once
        self.firings_at: tuple[Any, ...] = ()
        self.where: tuple[Any, ...] = ("criteria",)

    def _seen(self, size: Size) -> Size:
        if size[0] > self.max_terms:
            self.max_terms, self.max_terms_at = size[0], self.where
        return size

    def and_(self, *parts: Size) -> Size:
        """d_and: multiplies sizes; each partial product is simplified (pairwise comparisons)."""
        t, p, w, o = TRUE
        for pt, pp, pw, po in parts:
            t, p, w, o = _cap(t * pt), _cap(p * pp), w + pw, max(o, po)
            self.cost = _cap(self.cost + t * t)
            self._seen((t, p, w, o))
            if t == 0:
                return FALSE
        return t, p, w, o

    def or_(self, *parts: Size) -> Size:
        t = _cap(sum(x[0] for x in parts))
        p = _cap(sum(x[1] for x in parts))
        w = max((x[2] for x in parts), default=0)
        o = max((x[3] for x in parts), default=0)  # the compiler's ORs are of exclusive parts
        self.cost = _cap(self.cost + t * t)
        return self._seen((t, p, w, o))

    def at_least(self, j: int, parts: list[Size]) -> Size:
        """d_at_least: the OR over every j-combination of the ANDs (elementary symmetric sums)."""
        if j <= 0:
            return TRUE
        n = len(parts)
        if j > n:
            return FALSE
        # e[i] = sum over i-subsets of the product of terms (and of patterns)
        et, ep = [1] + [0] * j, [1] + [0] * j
        for pt, pp, _, _ in parts:
            for i in range(j, 0, -1):
                et[i] = _cap(et[i] + et[i - 1] * pt)
                ep[i] = _cap(ep[i] + ep[i - 1] * pp)
        w = sum(sorted((x[2] for x in parts), reverse=True)[:j])
        combos = _cap(_comb(n, j))
        # each combination is an AND of j parts (j-1 partial products), then one OR of them all
        self.cost = _cap(self.cost + combos * j * max(x[0] for x in parts) ** 2 + et[j] * et[j])
        # several combinations can hold at once, unless there is only one (j = n)
        o = max(x[3] for x in parts) if j == n else 1
        return self._seen((et[j], ep[j], w, o))


def _comb(n: int, k: int) -> int:
    out = 1
    for i in range(k):
        out = _cap(out * (n - i) // (i + 1))
    return out


# A node's sizes: for each status set the compiler may ask for, its Size.
Sizes = dict[frozenset[str], Size]
S_M, S_N, S_U = frozenset((MET,)), frozenset((NOT_MET,)), frozenset((UNKNOWN,))
S_MU, S_NU = frozenset((MET, UNKNOWN)), frozenset((NOT_MET, UNKNOWN))


@lru_cache(maxsize=None)
def _literal_sizes(op: str, universe: int) -> tuple[tuple[frozenset[str], Size], ...]:
    """Patterns and atoms of one test's literal for each status set: the sizes of the compiler's
    encoding (compile._literal) for a test of `op` listing one of `universe` declared values.
    tests/test_limits.py compares this table with compile._literal itself, so that a change to
    the encoding cannot leave the measure behind (validate comes before compile: no import)."""
    out = []
    for status_set in (S_M, S_N, S_U, S_MU, S_NU, frozenset((MET, NOT_MET))):
        out.append((status_set, (1, *_literal_shape(op, universe, status_set), 0)))
    return tuple(out)


def _literal_shape(op: str, universe: int, status_set: frozenset[str]) -> tuple[int, int]:
    """(alternatives, most atoms in one) of compile._literal for one test and status set."""
    if op in ("in", "not_in"):
        # outcomes: the one listed value, the universe - 1 others, or missing; a set of them is
        # one equality when it holds one outcome, else "none of the excluded ones"
        inside = min(1, universe)
        others = universe - inside
        met, not_met = (inside, others) if op == "in" else (others, inside)
        count = {MET: met, NOT_MET: not_met, UNKNOWN: 1}
        included = sum(count[s] for s in status_set)
        if included == 1:
            return 1, 1
        return 1, sum(count[s] for s in (MET, NOT_MET, UNKNOWN) if s not in status_set)
    if op in ("=", "!="):
        eq, ne = (MET, NOT_MET) if op == "=" else (NOT_MET, MET)
        if status_set == frozenset((eq, UNKNOWN)):
            return 2, 1  # equal, or missing: two rules
        if status_set == frozenset((ne,)):
            return 1, 2  # not equal and not missing
        return 1, 1
    if op in ("attested", "is_true", "is_false", ">=", ">", "<=", "<"):
        return 1, 1  # one comparison for every set of statuses (compile._literal says why)
    return 2, 1  # an operator the table does not know: assume the worse case


class _Walker:
    """Mirrors compile.Exprs and compile.emit_ruleset on sizes instead of expressions."""

    def __init__(self, doc: dict[str, Any], as_of: dt.date | None):
        self.m = Measure()
        self.inputs = doc.get("inputs") or {}
        self.derived = doc.get("derived") or {}
        self.as_of = as_of
        self.memo: dict[tuple[int, bool], list[Sizes]] = {}
        self.case_memo: dict[tuple[int, str], Any] = {}

    # -- one test ------------------------------------------------------------------------------
    def leaf(self, raw: dict[str, Any]) -> list[Sizes]:
        if "attested" in raw:
            op, universe = "attested", 0
        else:
            op = raw.get("op")
            spec = self.inputs.get(raw.get("input")) or {}
            universe = len(spec.get("values") or {}) if op in ("in", "not_in") else 0
            if (self.derived.get(raw.get("input")) or {}).get("as_of"):
                # compared with the fixed as-of date: a constant, met or not met (compile folds it)
                return [{S_M: TRUE, S_N: FALSE, S_U: FALSE, S_MU: TRUE, S_NU: FALSE},
                        {S_M: FALSE, S_N: TRUE, S_U: FALSE, S_MU: FALSE, S_NU: TRUE}]
        return [dict(_literal_sizes(str(op), universe))]

    # -- composites ------------------------------------------------------------------------
    def first(self, kids: list[Sizes], pick: frozenset[str], before: frozenset[str],
              after: frozenset[str] | None = None) -> Size:
        """compile._first: incremental products of the children before (and after) each one."""
        m = self.m
        prefix = [TRUE]
        for kid in kids[:-1]:
            prefix.append(m.and_(prefix[-1], kid[before]))
        suffix = [TRUE] * len(kids)
        if after is not None:
            for i in range(len(kids) - 2, -1, -1):
                suffix[i] = m.and_(kids[i + 1][after], suffix[i + 1])
        return m.or_(*(m.and_(kid[pick], prefix[i], suffix[i]) if after is not None else m.and_(kid[pick], prefix[i])
                       for i, kid in enumerate(kids)))

    def combine(self, kind: str, kids: list[Sizes], k: int = 0) -> Sizes:
        """compile.Exprs._build, on sizes."""
        m = self.m
        if kind == "not":
            (c,) = kids
            return {S_M: c[S_N], S_N: c[S_M], S_U: c[S_U], S_MU: c[S_NU], S_NU: c[S_MU]}
        if kind == "all":
            return {S_M: m.and_(*(c[S_M] for c in kids)), S_N: self.first(kids, S_N, S_MU),
                    S_U: self.first(kids, S_U, S_M, S_MU), S_MU: m.and_(*(c[S_MU] for c in kids)),
                    S_NU: self.first(kids, S_NU, S_M)}
        if kind == "any":
            return {S_M: self.first(kids, S_M, S_NU), S_N: m.and_(*(c[S_N] for c in kids)),
                    S_U: self.first(kids, S_U, S_N, S_NU), S_MU: self.first(kids, S_MU, S_N),
                    S_NU: m.and_(*(c[S_NU] for c in kids))}
        if kind == "at_least":
            size = len(kids)
            mu = m.at_least(k, [c[S_MU] for c in kids])
            nu = m.at_least(size - k + 1, [c[S_NU] for c in kids])
            return {S_M: m.at_least(k, [c[S_M] for c in kids]),
                    S_N: m.at_least(size - k + 1, [c[S_N] for c in kids]),
                    S_U: m.and_(nu, mu), S_MU: mu, S_NU: nu}
        raise ValueError(kind)

    def cases(self, whens: list[Sizes], thens: list[Sizes], otherwise: str) -> tuple[Sizes, list[tuple[Size, Sizes | None, str]]]:
        m = self.m
        parts: dict[str, list[Size]] = {MET: [], NOT_MET: [], UNKNOWN: []}
        branches: list[tuple[Size, Sizes | None, str]] = []
        prefix = TRUE
        for when, then in zip(whens, thens):
            selector = m.and_(prefix, when[S_M])
            branches.append((selector, then, ""))
            branches.append((m.and_(prefix, when[S_U]), None, UNKNOWN))
            prefix = m.and_(prefix, when[S_N])
        branches.append((prefix, None, otherwise))
        unions: dict[frozenset[str], list[Size]] = {S_MU: [], S_NU: []}
        for selector, then, status in branches:
            if then is None:
                parts[status].append(selector)
                for union in (S_MU, S_NU):
                    if status in union:
                        unions[union].append(selector)
            else:
                parts[MET].append(m.and_(selector, then[S_M]))
                parts[NOT_MET].append(m.and_(selector, then[S_N]))
                parts[UNKNOWN].append(m.and_(selector, then[S_U]))
                for union in (S_MU, S_NU):
                    unions[union].append(m.and_(selector, then[union]))
        return {S_M: m.or_(*parts[MET]), S_N: m.or_(*parts[NOT_MET]), S_U: m.or_(*parts[UNKNOWN]),
                S_MU: m.or_(*unions[S_MU]), S_NU: m.or_(*unions[S_NU])}, branches

    def case_options(self, raw: dict[str, Any], path: tuple[Any, ...]) -> list[tuple[Sizes, list[tuple[Size, Sizes | None, str]]]]:
        key = (id(raw), "cases")
        if key not in self.case_memo:
            whens: list[list[Sizes]] = []
            for i, c in enumerate(raw["cases"]):
                opts = self.options(c["when"], path + ("cases", i, "when"), True)
                whens.append(opts if len(opts) > 1 and sum(len(w) > 1 for w in whens) < 4 else [_max_of(opts)])
            thens = [self.node(c["then"], path + ("cases", i, "then")) for i, c in enumerate(raw["cases"])]
            combos: list[list[Sizes]] = [[]]
            for opts in whens:
                combos = [r + [o] for r in combos for o in opts]
            self.m.where = path
            self.case_memo[key] = [self.cases(combo, thens, raw.get("otherwise", NOT_MET)) for combo in combos]
        return self.case_memo[key]

    # -- nodes ---------------------------------------------------------------------------------
    def node(self, raw: dict[str, Any], path: tuple[Any, ...], condition: bool = False) -> Sizes:
        """The node's sizes: the maximum, status by status, over its constants' values."""
        return _max_of(self.options(raw, path, condition))

    def options(self, raw: dict[str, Any], path: tuple[Any, ...], condition: bool) -> list[Sizes]:
        # Memoised per node, as compile.Exprs is: the cost counted is the compiler's cost.
        key = (id(raw), condition)
        if key not in self.memo:
            self.m.where = path
            self.memo[key] = self._options(raw, path, condition)
        return self.memo[key]

    def _options(self, raw: dict[str, Any], path: tuple[Any, ...], condition: bool) -> list[Sizes]:
        if not condition and "test" in raw:
            return self.leaf(raw["test"])
        for kind in ("all", "any", "not"):
            if kind in raw:
                kids = [raw[kind]] if kind == "not" else list(raw[kind])
                step = (kind,) if kind == "not" else None
                return self._spread(kind, [(c, path + (step or (kind, i))) for i, c in enumerate(kids)], condition)
        if not condition and "at_least" in raw:
            of = raw["at_least"]["of"]
            return self._spread("at_least", [(c, path + ("at_least", "of", i)) for i, c in enumerate(of)],
                                condition, k=int(raw["at_least"]["k"]))
        if not condition and "cases" in raw:
            return [sizes for sizes, _ in self.case_options(raw, path)]
        return self.leaf(raw)  # a condition's test

    def _spread(self, kind: str, kids: list[tuple[dict[str, Any], tuple[Any, ...]]], condition: bool,
                k: int = 0) -> list[Sizes]:
        # Children with constants give two size options; enumerate only a few (up to 2^4), and
        # collapse the rest to their maximum, which is still an upper bound.
        sizes: list[list[Sizes]] = []
        spread = 0
        for c, p in kids:
            opts = self.options(c, p, condition)
            if len(opts) > 1 and spread < 4:
                sizes.append(opts)
                spread += 1
            else:
                sizes.append([_max_of(opts)])
        self.m.where = kids[0][1][:-1] if kids else ()
        results: list[list[Sizes]] = [[]]
        for opts in sizes:
            results = [r + [o] for r in results for o in opts]
        return [self.combine(kind, r, k) for r in results]

    # -- emit_ruleset ------------------------------------------------------------------------
    def add(self, applicable: Size, selector: Size, expr: Size | None = None) -> None:
        size = self.m.and_(applicable, selector) if expr is None else self.m.and_(applicable, selector, expr)
        self.m.rules = _cap(self.m.rules + size[1])
        self.m.atoms = _cap(self.m.atoms + size[1] * (size[2] + 2))
        # compile.emit_ruleset checks the terms pairwise for overlap, and counts the firings
        self.m.cost = _cap(self.m.cost + size[0] * size[0])
        firings = 1 if size[3] == 0 and size[1] == size[0] else size[1]
        if firings > self.m.firings:
            self.m.firings, self.m.firings_at = firings, self.m.where

    def emit(self, raw: dict[str, Any], path: tuple[Any, ...], applicable: Size, is_root: bool) -> None:
        if "cases" in raw:
            # Rules for each value of the constants in the conditions; the most of them counts.
            before_rules, before_atoms = self.m.rules, self.m.atoms
            most_rules, most_atoms = before_rules, before_atoms
            options = self.case_options(raw, path)
            for _, branches in options:
                self.m.rules, self.m.atoms = before_rules, before_atoms
                for selector, then, _status in branches:
                    if then is None:
                        self.add(applicable, selector)
                    else:
                        for key in (S_M, S_N, S_U):
                            self.add(applicable, selector, then[key])
                most_rules, most_atoms = max(most_rules, self.m.rules), max(most_atoms, self.m.atoms)
            self.m.rules, self.m.atoms = most_rules, most_atoms
            for case, c in enumerate(raw["cases"]):
                selectors = [branches[2 * case][0] for _, branches in options]
                selector = tuple(max(x[i] for x in selectors) for i in range(4))
                self.emit(c["then"], path + ("cases", case, "then"), self.m.and_(applicable, selector), False)  # type: ignore[arg-type]
            return
        self.m.where = path
        if not is_root and "id" in raw:
            sizes = self.node(raw, path)
            self.m.where = path
            for key in (S_M, S_N, S_U):
                self.add(applicable, TRUE, sizes[key])
        for kind in ("all", "any"):
            for i, child in enumerate(raw.get(kind) or []):
                self.emit(child, path + (kind, i), applicable, False)
        if isinstance(raw.get("at_least"), dict):
            for i, child in enumerate(raw["at_least"]["of"]):
                self.emit(child, path + ("at_least", "of", i), applicable, False)
        if isinstance(raw.get("not"), dict):
            self.emit(raw["not"], path + ("not",), applicable, False)


def _max_of(options: list[Sizes]) -> Sizes:
    if len(options) == 1:
        return options[0]
    return {key: tuple(max(o[key][i] for o in options) for i in range(4)) for key in options[0]}  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# The cheap measures: group sizes, tests, depth (no multiplication involved)


class Shape:
    def __init__(self, constants: set[str] | None = None) -> None:
        self.constants = constants or set()
        self.tests = 0
        self.depth = 0
        self.deepest: tuple[Any, ...] = ()
        self.group = 0
        self.widest: tuple[Any, ...] = ()
        self.bad_k: list[tuple[tuple[Any, ...], int, int]] = []

    def walk(self, raw: Any, path: tuple[Any, ...], depth: int, condition: bool) -> None:
        if not isinstance(raw, dict):
            return
        if depth > self.depth:
            self.depth, self.deepest = depth, path
        if (not condition and isinstance(raw.get("test"), dict)) or (condition and not ({"all", "any", "not"} & set(raw))):
            test = raw["test"] if not condition else raw
            if test.get("input") not in self.constants:  # the as-of date against a date is folded
                self.tests += 1
            return
        lists: list[tuple[list[Any], tuple[Any, ...], bool]] = []
        for kind in ("all", "any"):
            if isinstance(raw.get(kind), list):
                lists.append((raw[kind], path + (kind,), condition))
        if not condition and isinstance(raw.get("at_least"), dict) and isinstance(raw["at_least"].get("of"), list):
            of, k = raw["at_least"]["of"], raw["at_least"].get("k")
            lists.append((of, path + ("at_least", "of"), False))
            if isinstance(k, int) and not isinstance(k, bool) and not 1 <= k <= len(of):
                self.bad_k.append((path + ("at_least", "k"), k, len(of)))
        if isinstance(raw.get("not"), dict):
            self.walk(raw["not"], path + ("not",), depth + 1, condition)
        if not condition and isinstance(raw.get("cases"), list):
            cases = raw["cases"]
            self._group(len(cases), path + ("cases",))
            for i, case in enumerate(cases):
                if isinstance(case, dict):
                    self.walk(case.get("when"), path + ("cases", i, "when"), depth + 1, True)
                    self.walk(case.get("then"), path + ("cases", i, "then"), depth + 1, False)
        for items, where, cond in lists:
            self._group(len(items), where)
            for i, child in enumerate(items):
                self.walk(child, where + (i,), depth + 1, cond)

    def _group(self, size: int, path: tuple[Any, ...]) -> None:
        if size > self.group:
            self.group, self.widest = size, path


# ---------------------------------------------------------------------------------------------
# The check


def _lowered(doc: dict[str, Any], lower: Callable[[dict[str, Any]], dict[str, Any]] | None) -> dict[str, Any] | None:
    """A targets pack as the criteria tree compile will build (its shape does not depend on the
    date), or None when the pack is too broken to lower (its other problems are reported) or when
    no `lower` (the compiler's, engine.compile.targets) was given: validate alone cannot measure it."""
    if (doc.get("pack") or {}).get("kind") != "targets" or "targets" not in doc:
        return doc
    if lower is None:
        return None
    try:
        return lower(doc)
    except Exception:  # noqa: BLE001 - a pack broken enough to fail lowering has problems reported already
        return None


def problem_maker(document: Any) -> Callable[..., Problem]:
    """Problems placed in a parsed document (engine.load.yamlsafe.Document), in both languages."""
    import dataclasses

    def make(code: str, message: str, path: tuple[Any, ...], message_zh: str = "") -> Problem:
        return dataclasses.replace(document.problem(code, message, path), message_zh=message_zh)

    return make


def measure(doc: dict[str, Any], expand: bool = True) -> dict[str, Any]:
    """Every measure of a (lowered) pack document, with where the largest of each is."""
    derived = doc.get("derived") or {}
    shape = Shape({name for name, spec in derived.items() if isinstance(spec, dict) and spec.get("as_of")})
    shape.walk(doc.get("criteria"), ("criteria",), 1, False)
    for i, flag in enumerate(doc.get("flags") or []):
        if isinstance(flag, dict):
            shape.walk(flag.get("when"), ("flags", i, "when"), 1, True)
    out: dict[str, Any] = {"group": (shape.group, shape.widest), "tests": shape.tests,
                           "depth": (shape.depth, shape.deepest), "bad_k": shape.bad_k}
    if not expand or shape.group > MAX_GROUP or shape.depth > MAX_DEPTH or shape.tests > MAX_TESTS or shape.bad_k:
        return out  # the expansion measures would only repeat (and cost) what is refused already
    walker = _Walker(doc, None)
    criteria = doc.get("criteria")
    if isinstance(criteria, dict):
        walker.emit(criteria, ("criteria",), TRUE, True)
        for key in (S_M, S_N, S_U):
            walker.add(TRUE, TRUE, walker.node(criteria, ("criteria",))[key])
    for i, flag in enumerate(doc.get("flags") or []):
        if isinstance(flag, dict) and isinstance(flag.get("when"), dict):
            sizes = walker.node(flag["when"], ("flags", i, "when"), True)
            for key in (S_M, S_N, S_U):
                walker.add(TRUE, TRUE, sizes[key])
    m = walker.m
    out.update(terms=(m.max_terms, m.max_terms_at), simplify=m.cost, rules=m.rules, atoms=m.atoms,
               firings=(m.firings, m.firings_at))
    return out


def _node_name(doc: dict[str, Any], path: tuple[Any, ...]) -> str:
    """The id of the criterion at `path` (or of its nearest enclosing one), for messages."""
    node: Any = doc
    name = ""
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            name = node["id"]
    return shown(name) if name else "(the pack)"


def limit_problems(doc: dict[str, Any], problem: Callable[..., Problem] | None = None, document: Any = None,
                   lower: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                   overlap: Callable[[Any], str | None] | None = None) -> list[Problem]:
    """Problems for every limit the pack exceeds. `problem(code, message, path, message_zh=...)`
    makes a Problem at a path of the original document; or give the parsed `document`.
    What only the compiler can say is passed in by the compile stage (engine.compile.check):
    `lower` turns a targets pack into its criteria tree (without it a targets pack is not
    measured here), `overlap(document)` compiles the pack and returns the compiler's words when
    it refuses it for rules firing at once (without it E158 is not decided here)."""
    if problem is None:
        problem = problem_maker(document)
    lowered = _lowered(doc, lower)
    if lowered is None:
        return []
    targets = lowered is not doc
    measures = measure(lowered)
    out: list[Problem] = []

    def where(path: tuple[Any, ...]) -> tuple[Any, ...]:
        return ("targets",) if targets and path[:1] == ("criteria",) else path

    size, path = measures["group"]
    if size > MAX_GROUP:
        name = _node_name(lowered, path)
        out.append(problem(
            "E150",
            f"criterion {name} lists {size} criteria in one group; the limit is {MAX_GROUP}. "
            "Split it into named sub-criteria of at most "
            f"{MAX_GROUP} each (an all of alls, or an any of anys, means the same)",
            where(path),
            message_zh=f"条件 {name} 的一组里列了 {size} 项,上限是 {MAX_GROUP} 项。请拆成若干个带 id 的子条件"
            f"(每个不超过 {MAX_GROUP} 项;“全部满足”套“全部满足”、“任一满足”套“任一满足”,含义不变)。"))
    depth, path = measures["depth"]
    if depth > MAX_DEPTH:
        name = _node_name(lowered, path)
        out.append(problem(
            "E152",
            f"criteria are nested {depth} levels deep at {name}; the limit is {MAX_DEPTH}. "
            "Flatten it: an all inside an all (or an any inside an any) can be one list, "
            "and a not of a not is the criterion itself",
            where(path),
            message_zh=f"条件 {name} 处嵌套了 {depth} 层,上限是 {MAX_DEPTH} 层。请减少嵌套:"
            "“全部满足”里的“全部满足”(或“任一满足”里的“任一满足”)可以合成一组,两个“不满足”相互抵消。"))
    if measures["tests"] > MAX_TESTS:
        count = measures["tests"]
        out.append(problem(
            "E151",
            f"the pack decides {count} tests per entity; the limit is {MAX_TESTS} in one pack. "
            "Split it into several packs (rule groups decided one after another), "
            "or use a derived value instead of repeating a test",
            where(("criteria",)),
            message_zh=f"本规则包共有 {count} 项比较(test),上限是 {MAX_TESTS} 项。请拆成几个规则包分别评审,"
            "或用派生值(derived)代替重复的比较。"))
    for kpath, k, n in measures["bad_k"]:
        name = _node_name(lowered, kpath)
        out.append(problem(
            "E157",
            f"at_least k={k} in {name}, but it lists {n} criteria: k must be from 1 to {n} "
            f"(k={n} is all of them, k=1 is any of them)",
            where(kpath),
            message_zh=f"条件 {name} 的 at_least 写了 k={k},但只列了 {n} 项:k 应在 1 到 {n} 之间"
            f"(k={n} 即全部满足,k=1 即任一满足)。"))
    if "terms" not in measures:
        return out
    terms, path = measures["terms"]
    if terms > MAX_TERMS:
        name = _node_name(lowered, path)
        shown_terms = f"{terms}" if terms < SATURATE else f"more than {SATURATE}"
        out.append(problem(
            "E153",
            f"criterion {name} expands to up to {shown_terms} alternative conjunctions for the engine; "
            f"the limit is {MAX_TERMS}. An all of several anys multiplies their sizes (4 anys of 10 "
            "is 10^4): give the anys their own ids and decide them in separate rule groups, or "
            "write the combinations that matter explicitly",
            where(path),
            message_zh=f"条件 {name} 展开后最多有 {shown_terms} 种组合,上限是 {MAX_TERMS}。"
            "“全部满足”里套几个“任一满足”时,组合数相乘(4 组各 10 项即 10^4 种):请把各组拆成带 id 的"
            "子条件,分规则包评审,或只写出真正需要的组合。"))
    firings, fpath = measures["firings"]
    if firings > MAX_FIRINGS and not out and document is not None and overlap is not None:
        # Only an at_least overlaps, and the shape-only estimate of that overlap is far above what
        # simplification leaves: every other limit holds, so the real compile is cheap — ask it.
        problem_text = overlap(document)
        if problem_text is not None:
            name = _node_name(lowered, fpath)
            out.append(problem(
                "E158",
                f"criterion {name} could fire more than {MAX_FIRINGS} engine rules at once, the limit "
                f"(the compiler says: {problem_text}). An at_least of many criteria overlaps (every combination that holds "
                "fires): list fewer criteria in it, or write it as an any of alls of the combinations that matter",
                where(fpath),
                message_zh=f"条件 {name} 可能同时触发的引擎规则超过上限 {MAX_FIRINGS} 条。at_least 列的条件多时,"
                "每个成立的组合都会触发:请减少其中的条件,或改写成“任一满足”下的几个“全部满足”组合。"))
    checks = (
        ("E154", measures["simplify"], MAX_SIMPLIFY, "term comparisons to simplify", "化简所需的比较次数"),
        ("E155", measures["rules"], MAX_RULES, "engine rules", "引擎规则条数"),
        ("E156", measures["atoms"], MAX_ATOMS, "comparisons across its engine rules", "引擎规则中的比较总数"),
    )
    for code, count, limit, what, what_zh in checks:
        if count > limit:
            shown_count = f"{count}" if count < SATURATE else f"more than {SATURATE}"
            out.append(problem(
                code,
                f"the pack needs up to {shown_count} {what}; the limit is {limit}. Split the largest "
                "criteria into named sub-criteria, or the pack into several packs decided one after another",
                where(("criteria",)),
                message_zh=f"本规则包最多需要 {shown_count} {what_zh},上限是 {limit}。请把最大的条件拆成带 id 的"
                "子条件,或把规则包拆成几个分别评审。"))
    return out
