"""Compile stage, format 2: a loaded `Document` becomes a `Pack2` (engine.compile.model2).

What happens, in order:

1. the document is checked (engine.validate.format2: schema, one namespace, references of
   criteria and outcomes); errors stop here;
2. parameters are resolved on the as-of date, `--set` applied to parameters and choices;
3. each value is parsed by the parser of its one operation (`OPS`, engine.compile.ops), which
   asks this builder — the `ParseContext` — for references, amounts and units;
4. the dependency graph of values and criteria is built from what each reads; a cycle is E180
   naming it; each name gets its phase (values even, criteria odd: a criterion reading a value
   comes after it, a value reading a criterion comes after that);
5. the criteria (and flags, consequences) of each odd phase are compiled by the format-1 compiler
   into one durable ruleset, the values and earlier criteria they read being slots like inputs.

The variants merge (the lead's `extends`) runs before this, so it takes a Document, not a path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
import hashlib
from fractions import Fraction
from typing import Any

import engine.compile.points  # noqa: F401  (fills OPS with the points operations)
import engine.compile.values  # noqa: F401  (fills OPS with the value operations)
from engine.compile.compile import CompileError, emit_ruleset, slot_key
from engine.compile.model import (MET, NOT_MET, CompiledPack, Flag, InputSpec, Node, PackMeta, ParamSpec, Test, member_specs,
                                  resolve_param)
from engine.compile.model2 import (BEHIND, CASES_BODY, LAST, WHERE, Applicability, AwardPlace, AwardsDef, ChoiceDef, Count, CriteriaStage, MemberRules, NoteRule, Pack2,
                                   PackMeta2, ValueDef)
from engine.compile.ops import OPS, OpArgs, Path
from engine.compile.points import PlacedLastArgs
from engine.compile.values import Cases, Cond, Members
from engine.compile.titles import fill_title
from engine.core.numbers import slot_fits, slot_message
from engine.core.graph import cycles
from engine.core.problems import clip, ERROR, WARNING, Problem, ProblemsError, has_errors, kind_zh, shown
from engine.core.status import Status
from engine.core.units import AmountError, Unit, format_amount, parse_amount, parse_param_value, parse_unit, to_fraction
from engine.validate.limits import MAX_ATOMS, MAX_RULES, MAX_TESTS
from engine.load.yamlsafe import Document, iso_date
from engine.validate.format2 import (AS_OF, DATE_OPS, NameTable, check_format2, condition_reads, name_table,
                                     node_reads, param_reads)
from engine.validate.schema_report import did_you_mean, did_you_mean_zh

VALUE_KEYS = ("label", "unit", "cite", "note", "slot")  # a value's own fields; the other key is its operation
SMALL_FIRST = True  # emit_ruleset: the units of fewest rules first (durable scans its rules per action)
COMBINE = 27  # emit_ruleset: one-test criteria that always fire merged, up to this many rules a merge
STATUS_UNIVERSE = (Status.MET.value, Status.NOT_MET.value, Status.NOT_APPLICABLE.value)
NOT_DUE = {"zh": "未到期", "en": "not yet due"}


class _Context:
    """The ParseContext (engine.compile.ops) given to every operation's parser."""

    def __init__(self, doc: Document, table: NameTable, inputs: dict[str, InputSpec], params: dict[str, ParamSpec],
                 choices: dict[str, ChoiceDef]):
        self.doc = doc
        self.table = table
        self.inputs = inputs
        self.params = params
        self.choices = choices
        self.problems: list[Problem] = []
        self.reads: set[str] = set()  # every name referred to while parsing the current value
        self.spec: dict[str, Any] = {}  # the value being parsed (for declared_unit and beside)
        self.tables: dict[str, Table] = {}  # parameters written as a lookup table

    # -- ParseContext --------------------------------------------------------------------------

    def ref(self, raw: Any, path: Path, *, sorts: tuple[str, ...] = ("number",)) -> str:
        name = self.table.check(raw, path, sorts)
        self.problems += self.table.problems
        self.table.problems.clear()
        if name is not None:
            self.reads.add(name)
        return name if name is not None else str(raw)

    def amount(self, raw: Any, path: Path, *, unit: Unit | None = None) -> Fraction:
        try:
            value, written = parse_amount(raw, unit)
        except AmountError as error:
            self.problem("E123", path, f"cannot read the amount {shown(raw)}: {error}",
                         f"无法读取数额 {shown(raw)}：{error.zh}")
            return Fraction(0)
        if unit is not None and written.dimension != unit.dimension:
            self.problem("E184", path, f"{shown(raw)} measures {written.dimension}, but {unit.dimension} is needed here",
                         f"{shown(raw)} 计量的是{kind_zh(written.dimension)}，此处需要{kind_zh(unit.dimension)}")
        if not slot_fits(value):
            en, zh = slot_message(raw, value, written)
            self.problem("E140", path, en, zh)
        return value

    def unit_of(self, name: str) -> Unit | None:
        if name in self.params:
            return self.params[name].unit
        d = self.table.names.get(name)
        return d.unit if d else None

    def members_fields(self, name: str) -> dict[str, Any]:
        spec = self.inputs.get(name)
        return dict(spec.members or {}) if spec is not None else {}

    def choice_options(self, name: str) -> tuple[str, ...]:
        choice = self.choices.get(name)
        return tuple(choice.options) if choice else ()

    def unset(self, name: str) -> bool:
        spec = self.params.get(name)
        return spec is not None and spec.value is None and spec.unit is None and name not in self.tables

    def option_points(self, name: str, option: str) -> Any:
        choice = self.choices.get(name)
        spec = choice.options.get(option) if choice else None
        return spec.get("points") if isinstance(spec, dict) else None

    def declared_unit(self) -> Unit | None:
        unit = self.spec.get("unit")
        return parse_unit(unit) if isinstance(unit, str) else None

    def beside(self, key: str) -> Any:
        return self.spec.get(key)

    def problem(self, code: str, path: Path, en: str, zh: str) -> None:
        severity = WARNING if code.startswith("W") else ERROR
        self.problems.append(self.doc.problem(code, en, path, severity, zh))


# ---------------------------------------------------------------------------------------------
# Criteria: format-2 trees as format-1 Nodes over one stage's slots


class _Tests:
    """Builds the Nodes and Tests of one criteria stage (slot names t0, t1, … are per stage)."""

    def __init__(self, ctx: _Context, as_of: dt.date, titles: dict[str, dict[str, Any]]):
        self.ctx = ctx
        self.as_of = as_of
        self.tests: list[Test] = []
        self.applicability: dict[str, Applicability] = {}
        self.titles = titles
        self.may_not_apply: set[str] = set()  # top-level criteria that can be not applicable (links read them)
        self.tolerance: str | None = None  # the `tolerance:` of the node whose test is being built
        self.table_slots: dict[str, tuple[str, str]] = {}  # slot -> (value compared, table parameter)
        self.counts: list[Count] = []  # at_least nodes decided from counts, inner ones first
        self.diff_slots: dict[str, tuple[str, str]] = {}  # slot -> (a, b): Python fills a − b
        self.count_kids: dict[str, tuple[Node, ...]] = {}  # their children, decided a step earlier
        self.slots: dict[tuple[Any, ...], str] = {}  # slot_key -> the slot its tests share
        self._anonymous = 0

    def anonymous(self, what: str) -> str:
        """An id for a `cases` node the pack gives none: every cases node records the branch taken
        (durable-rules and the reference evaluator alike), so it needs one. Ids with "~" are
        internal and never shown."""
        self._anonymous += 1
        return f"~{what}{self._anonymous}"

    def _add(self, **kw: Any) -> Node:
        # Tests that read the same name and project it the same way share one slot of the fact
        # (compile.slot_key): durable-rules' cost grows with the fact's size, and each action
        # carries the whole fact (issue 14). The compiler treats the tests as separate variables
        # still, which is sound: it only means some combinations can never occur.
        test = Test(field="", **kw)
        key = slot_key(test)
        name = self.slots.get(key) if key is not None else None
        if name is None:
            name = f"t{len(self.tests)}"
            if key is not None:
                self.slots[key] = name
        test = dataclasses.replace(test, field=name)
        self.tests.append(test)
        return Node("test", test=test)

    def _threshold(self, raw: dict[str, Any], name: str, path: Path) -> tuple[Fraction | None, str | None, bool]:
        """(threshold, parameter, unset) of a comparison written with param:, number:, as_of: or on:."""
        ctx = self.ctx
        unit = ctx.unit_of(name)
        if "param" in raw:
            spec = ctx.params.get(raw["param"])
            if spec is None:
                return None, raw["param"], True
            if spec.value is not None:
                pdim = spec.unit.dimension if spec.unit else ("date" if spec.written and iso_date(spec.written) else None)
                ndim = unit.dimension if unit else (ctx.table.sort_of(name) if ctx.table.sort_of(name) == "date" else None)
                if pdim and ndim and pdim != ndim:
                    ctx.problem("E184", path + ("param",),
                                f"{name!r} measures {ndim} but parameter {raw['param']!r} measures {pdim}",
                                f"单位不一致：{name!r} 计量的是{kind_zh(ndim)}，而参数 {raw['param']!r} 计量的是{kind_zh(pdim)}")
                if not slot_fits(spec.value):
                    en, zh = slot_message(spec.written, spec.value, spec.unit)
                    ctx.problem("E140", path + ("param",), en, zh)
            value = spec.value
            if self.tolerance is not None and value is not None:
                # `tolerance: P` on the node: met within P of the threshold (≥ target − P, ≤ target + P)
                tol = ctx.params.get(self.tolerance)
                if tol is None or tol.value is None:
                    return None, raw["param"], True
                if tol.unit and spec.unit and tol.unit.dimension != spec.unit.dimension:
                    ctx.problem("E184", path + ("param",), f"tolerance {self.tolerance!r} measures {tol.unit.dimension}, "
                                f"but {raw['param']!r} measures {spec.unit.dimension}",
                                f"容差 {self.tolerance!r} 计量的是{kind_zh(tol.unit.dimension)}，而 {raw['param']!r} "
                                f"计量的是{kind_zh(spec.unit.dimension)}")
                value = value - tol.value if raw.get("op") in (">=", ">") else value + tol.value
                if not slot_fits(value):
                    en, zh = slot_message(f"{spec.written} ± {tol.written}", value, spec.unit)
                    ctx.problem("E140", path + ("param",), en, zh)
            return value, raw["param"], value is None
        if raw.get("as_of") is True:
            return Fraction(self.as_of.toordinal()), None, False
        if "on" in raw:
            day = iso_date(raw["on"])
            return (Fraction(day.toordinal()) if day else None), None, day is None
        if "number" in raw:
            if unit is None and not isinstance(raw["number"], bool):
                # a value without a unit (a place, a count of years): a bare number
                try:
                    return to_fraction(raw["number"]), None, False
                except AmountError:
                    pass
            return ctx.amount(raw["number"], path + ("number",), unit=unit), None, False
        ctx.problem("E111", path, "a comparison needs param: NAME (or number: for a figure the policy states)",
                    "比较需要 param: 参数名（或政策原文给出的数字 number:）")
        return None, None, True

    def test(self, raw: dict[str, Any], path: Path) -> Node:
        ctx = self.ctx
        if "attested" in raw:
            return self._add(input=raw["attested"], op="attested")
        if "valid_on" in raw:
            today = Fraction(self.as_of.toordinal())
            return Node("all", children=(
                self._add(input=raw["valid_on"]["from"], op="<=", threshold=today),
                self._add(input=raw["valid_on"]["until"], op=">=", threshold=today)))
        if "each" in raw:
            kids = []
            for name in raw["each"]:
                threshold, param, unset = self._threshold(raw, name, path)
                kids.append(self._add(input=name, op=raw["op"], param=param, threshold=threshold, unset=unset))
            return Node("all", children=tuple(kids))
        if "date" in raw:
            name, op = raw["date"], raw["op"]
            if op == "within_years_before":
                years = raw.get("years")
                if not isinstance(years, int):
                    ctx.problem("E111", path, "within_years_before needs years: N", "within_years_before 需要 years: 年数")
                    years = 0
                start = _years_before(self.as_of, years)
                return Node("all", children=(
                    self._add(input=name, op=">=", threshold=Fraction(start.toordinal())),
                    self._add(input=name, op="<=", threshold=Fraction(self.as_of.toordinal()))))
            cmp = DATE_OPS.get(op)
            if cmp is None:
                ctx.problem("E124", path + ("op",), f"operator {shown(op)} does not compare dates; use one of "
                            f"{', '.join(DATE_OPS)}, within_years_before",
                            f"运算符 {shown(op)} 不能比较日期；请使用 {', '.join(DATE_OPS)} 或 within_years_before")
                cmp = ">="
            threshold, param, unset = self._threshold(raw, name, path)
            return self._add(input=name, op=cmp, param=param, threshold=threshold, unset=unset)
        name, op = raw["value"], raw["op"]
        sort = ctx.table.sort_of(name)
        if op in ("in", "not_in"):
            values = tuple(raw.get("values") or ())
            if sort == "choice":
                choice = ctx.choices[name]
                universe = tuple(choice.options)
                inside = choice.option in values
                constant = MET if inside == (op == "in") else NOT_MET  # a choice is fixed for a compiled pack
            else:
                universe = tuple(ctx.inputs[name].values) if name in ctx.inputs else ()
                constant = None
            for i, v in enumerate(values):
                if v not in universe:
                    ctx.problem("E125", path + ("values", i),
                                f"{shown(v)} is not a value of {name!r}{did_you_mean(v, universe)} (declared: {', '.join(universe)})",
                                f"{shown(v)} 不是 {name!r} 的取值{did_you_mean_zh(v, universe)}（已声明：{', '.join(universe)}）")
            if "values" not in raw:
                ctx.problem("E111", path, f"{op} needs values: [...]", f"{op} 需要 values: [...]")
            return self._add(input=name, op=op, values=values, universe=universe, constant=constant)
        if op in ("is_true", "is_false"):
            return self._add(input=name, op=op)
        if op not in (">=", ">", "<=", "<", "=", "!="):
            ctx.problem("E124", path + ("op",), f"operator {shown(op)} does not apply to {name!r}",
                        f"运算符 {shown(op)} 不适用于 {name!r}")
            op = ">="
        if raw.get("param") in ctx.tables:
            return self._table_test(ctx.tables[raw["param"]], name, op, path)
        threshold, param, unset = self._threshold(raw, name, path)
        if threshold is None and not unset:
            unset = True
        return self._add(input=name, op=op, param=param, threshold=threshold, unset=unset)

    def _table_test(self, table: "Table", name: str, op: str, path: Path) -> Node:
        """A comparison with a lookup-table parameter: ONE test. Python picks the row of the
        entity's keys and writes the slot `value − that row's threshold` (exact arithmetic, the row
        named in the trace); durable-rules compares the slot with 0, so it still decides the
        yes/no. A key missing from the data, a row the table lists as missing (or does not have),
        or a missing value leave the slot empty: unknown. (One case per row, as first built, made
        the compiler's unknown-handling expand over every pair of rows: E126 on K5's 9 × 2 table.)"""
        ctx = self.ctx
        unit = ctx.unit_of(name)
        if unit and table.unit and unit.dimension != table.unit.dimension:
            ctx.problem("E184", path + ("param",), f"{name!r} measures {unit.dimension} but the table {table.name!r} "
                        f"measures {table.unit.dimension}",
                        f"单位不一致：{name!r} 计量的是{kind_zh(unit.dimension)}，而查找表 {table.name!r} 计量的是"
                        f"{kind_zh(table.unit.dimension)}")
        slot = f"~table:{table.name}:{name}"
        self.table_slots[slot] = (name, table.name)
        return self._add(input=slot, op=op, param=table.name, threshold=Fraction(0))

    def _universe(self, key: str) -> tuple[str, ...]:
        if key in self.ctx.choices:
            return tuple(self.ctx.choices[key].options)
        spec = self.ctx.inputs.get(key)
        return tuple(spec.values) if spec is not None else ()

    def link(self, name: str, parent: str = "") -> Node:
        """{criterion: X}: X's status, decided in an earlier stage, read from its slot. When X may
        not apply, the link does not apply either: met inside `all`, not met elsewhere (as any
        criterion that does not apply), unknown when X is unknown."""
        met = self._add(input=name, op="in", values=(Status.MET.value,), universe=STATUS_UNIVERSE)
        if name not in self.may_not_apply:
            return met
        applies = self._add(input=name, op="not_in", values=(Status.NOT_APPLICABLE.value,), universe=STATUS_UNIVERSE)
        return Node("cases", id=self.anonymous("link"), cases=((applies, met),), otherwise=MET if parent == "all" else NOT_MET)

    def condition(self, raw: dict[str, Any], path: Path, parent: str = "") -> Node:
        for kind in ("all", "any"):
            if isinstance(raw.get(kind), list) and "op" not in raw:
                return Node(kind, children=tuple(self.condition(c, path + (kind, i), kind) for i, c in enumerate(raw[kind])),
                            doc_path=path)
        if "not" in raw:
            return Node("not", children=(self.condition(raw["not"], path + ("not",), "not"),), doc_path=path)
        if "criterion" in raw:
            return dataclasses.replace(self.link(raw["criterion"], parent), doc_path=path)
        return dataclasses.replace(self.test(raw, path), doc_path=path)

    def node(self, raw: dict[str, Any], path: Path, ident: str | None, parent: str, top: bool = False,
             depth: int = 0) -> Node:
        params = self.ctx.params
        title = fill_title(raw.get("title", {"zh": ident} if ident else {}), params)
        common = dict(id=ident, title=title, cite=raw.get("cite"), discretionary=raw.get("discretionary"),
                      note=raw.get("note"), doc_path=path)
        if ident is not None:
            self.titles[ident] = {"title": title, "cite": raw.get("cite"), "top": top, "depth": depth}
            if raw.get("discretionary"):  # 酌情: every view marks it, and a pass that rests on it says so
                self.titles[ident]["discretionary"] = dict(raw["discretionary"])
        if "test" in raw:
            self.tolerance = raw.get("tolerance")
            try:
                inner = self.test(raw["test"], path + ("test",))
            finally:
                self.tolerance = None
            if inner.kind == "test":
                node = dataclasses.replace(inner, **common)
            else:
                node = Node("all", children=inner.children, **common)
        elif "criterion" in raw:
            linked = self.link(raw["criterion"], parent)
            if linked.kind == "cases" and ident is None:
                common["id"] = linked.id
            node = dataclasses.replace(linked, **common)
        elif "all" in raw or "any" in raw:
            kind = "all" if "all" in raw else "any"
            kids = tuple(self.node(c, path + (kind, i), c.get("id"), kind, depth=depth + 1) for i, c in enumerate(raw[kind]))
            node = Node(kind, children=kids, **common)
        elif "at_least" in raw:
            of = raw["at_least"]["of"]
            mark = len(self.counts)
            kids = tuple(self.node(c, path + ("at_least", "of", i), c.get("id"), "at_least", depth=depth + 1) for i, c in enumerate(of))
            node = self._counted(kids, raw["at_least"]["k"], common, self.counts[mark:])
        elif "not" in raw:
            node = Node("not", children=(self.node(raw["not"], path + ("not",), raw["not"].get("id"), "not", depth=depth + 1),), **common)
        else:
            cases = tuple((self.condition(c["when"], path + ("cases", i, "when")),
                           self.node(c["then"], path + ("cases", i, "then"), c["then"].get("id"), "cases",
                                     depth=depth + 1))
                          for i, c in enumerate(raw["cases"]))
            if ident is None:
                common["id"] = self.anonymous("cases")
            node = Node("cases", cases=cases, otherwise=raw.get("otherwise", NOT_MET), **common)
        if ident is not None and node.kind == "test" and node.test is not None and node.test.input != AS_OF:
            t = node.test
            if t.input in self.table_slots:  # the record shows the value and its row's threshold
                name, table_name = self.table_slots[t.input]
                self.titles[ident]["table"] = table_name
                self.titles[ident]["test"] = {"name": name, "op": t.op, "param": table_name, "threshold": None,
                                              "values": (), "table": table_name}
            else:
                self.titles[ident]["test"] = {"name": t.input, "op": t.op, "param": t.param, "threshold": t.threshold,
                                              "values": t.values, "written": self.written(t)}
        return self._applicability(raw, path, node, parent)

    def written(self, t: Test) -> str | None:
        """The threshold as the policy writes it (10亿元, where the value compared is in 万元): the
        parameter's value as written (or as given with --set), when the test compares with exactly
        that amount (not one moved by a tolerance, nor one scaled from another parameter: 70% ×
        10亿元 is no amount). The exact value stays the threshold; this is how views show it."""
        spec = self.ctx.params.get(t.param) if t.param else None
        if spec is None or spec.value is None or spec.unit is None or t.threshold != spec.value:
            return None
        try:
            value, _unit = parse_amount(spec.written, None)
        except AmountError:
            return None
        return str(spec.written).strip() if value == spec.value else None

    def from_cond(self, cond: Cond, path: Path, fields: dict[str, InputSpec] | None = None) -> Node:
        """A condition already read and checked by its value's parser (engine.compile.values
        `Cond`: a `cases` when, or a member `where` when `fields` is given) as Nodes that
        durable-rules decides. A `{criterion: X}` holds only when X is met: not applicable does not
        hold (docs/format2.md, `cases`), so a link is compiled as outside `all`."""
        if cond.kind in ("all", "any"):
            return Node(cond.kind, children=tuple(self.from_cond(c, path, fields) for c in cond.parts), doc_path=path)
        if cond.kind == "not":
            return Node("not", children=(self.from_cond(cond.parts[0], path, fields),), doc_path=path)
        test = cond.test
        assert test is not None, "a condition with a problem stops the build before its criteria"
        ctx = self.ctx
        subject = test.subject
        if test.kind == "criterion":
            return dataclasses.replace(self.link(subject, ""), doc_path=path)
        if test.kind == "boolean":
            return self._add(input=subject, op=test.op)
        if test.kind == "enum":
            if not test.member and subject in ctx.choices:
                choice = ctx.choices[subject]
                inside = choice.option in test.values
                return self._add(input=subject, op=test.op, values=test.values, universe=tuple(choice.options),
                                 constant=MET if inside == (test.op == "in") else NOT_MET)
            spec = (fields or {}).get(subject) if test.member else ctx.inputs.get(subject)
            universe = tuple(spec.values) if spec is not None else ()
            return self._add(input=subject, op=test.op, values=test.values, universe=universe)
        if test.kind == "date":
            if test.op == "within_years_before":
                assert test.years is not None
                start = _years_before(self.as_of, test.years)
                return Node("all", children=(
                    self._add(input=subject, op=">=", threshold=Fraction(start.toordinal())),
                    self._add(input=subject, op="<=", threshold=Fraction(self.as_of.toordinal()))))
            day = self.as_of if test.as_of else dt.date.fromisoformat(str(test.date))
            return self._add(input=subject, op=DATE_OPS[test.op], threshold=Fraction(day.toordinal()))
        # numbers: a literal, a parameter (a lookup table too), or another name of the entity
        if test.param is None:
            return self._add(input=subject, op=test.op, threshold=test.amount)
        if test.param in ctx.params:
            if test.param in ctx.tables and not test.member:
                return self._table_test(ctx.tables[test.param], subject, test.op, path)
            if test.member:  # the parser checked the field's dimension against the parameter
                spec = ctx.params[test.param]
                if spec.value is not None and not slot_fits(spec.value):
                    en, zh = slot_message(spec.written, spec.value, spec.unit)
                    ctx.problem("E140", path, en, zh)
                return self._add(input=subject, op=test.op, param=test.param, threshold=spec.value,
                                 unset=spec.value is None)
            threshold, param, unset = self._threshold({"param": test.param, "op": test.op}, subject, path)
            return self._add(input=subject, op=test.op, param=param, threshold=threshold, unset=unset or threshold is None)
        # a value or an input of the entity: durable-rules compares subject − other with 0
        slot = f"~diff~{subject}~{test.param}"
        self.diff_slots[slot] = (subject, test.param)
        return self._add(input=slot, op=test.op, threshold=Fraction(0))

    def hidden(self, name: str, cond: Cond, path: Path) -> Node:
        """The `when` of one case of a `cases` value: a hidden criterion (never shown as one; the
        value's trace says which case durable-rules found to hold)."""
        return dataclasses.replace(self.from_cond(cond, path), id=name, doc_path=path)

    def inline(self, cond: "Inline") -> Node:
        """A condition written inside a points value (`map.highest[].when`, `rank_points.exclude`):
        a criterion of its own, decided by durable-rules in the phase before the value."""
        node = self.condition(cond.when, cond.path)
        self.titles[cond.name] = {"title": cond.title, "cite": cond.cite, "top": True, "depth": 0}
        if node.kind == "test" and node.test is not None and node.test.input != AS_OF:
            t = node.test
            self.titles[cond.name]["test"] = {"name": t.input, "op": t.op, "param": t.param, "threshold": t.threshold,
                                              "values": t.values, "written": self.written(t)}
        return dataclasses.replace(node, id=cond.name, title=cond.title, cite=cond.cite)

    def _counted(self, kids: tuple[Node, ...], k: int, common: dict[str, Any], inside: list[Count]) -> Node:
        """An `at_least` decided from counts (model2.Count): written out, "at least k of n" needs a
        rule per combination of k children for each status, and the unknown status a product of
        two such sums (E126 on 4 of 8). Counted, it is two tests, however many children."""
        ident = common["id"] or self.anonymous("at_least")
        named = []
        for i, kid in enumerate(kids, start=1):
            named.append(kid if kid.id is not None else dataclasses.replace(kid, id=f"{ident}~{i}"))
        low = self._add(input=f"~count:{ident}:met", op=">=", threshold=Fraction(k))
        high = self._add(input=f"~count:{ident}:possible", op=">=", threshold=Fraction(k))
        assert low.test is not None and high.test is not None
        below = tuple(n.id for kid in named for n in kid.walk() if n.id is not None)
        level = max((c.level for c in inside), default=-1) + 1
        self.counts.append(Count(ident, k, tuple(n.id or "" for n in named), low.test.input, high.test.input,
                                 level, below))
        self.count_kids[ident] = tuple(named)
        return Node("at_least", children=tuple(named), k=k, count=(low.test, high.test), **{**common, "id": ident})

    def _applicability(self, raw: dict[str, Any], path: Path, node: Node, parent: str) -> Node:
        """`applies_when` / `due`: the node becomes `cases: [{when: applies, then: body}]` whose
        "otherwise" branch is recorded as not applicable. Inside `all` it counts as met (it does not
        stop the parent), inside `any` / `at_least` (or anywhere else) as not met (it does not count);
        an unknown applicability makes the node unknown (the undecided branch)."""
        conditions = []
        reason = raw.get("not_applicable")
        if "applies_when" in raw:
            conditions.append(self.condition(raw["applies_when"], path + ("applies_when",)))
        if "due" in raw:
            due = iso_date(raw["due"])
            assert due is not None  # the schema checked the form
            reached = self.as_of >= due  # the as-of date is fixed for a compiled pack: a constant
            conditions.append(self._add(input=AS_OF, op=">=", threshold=Fraction(due.toordinal()),
                                        constant=MET if reached else NOT_MET))
            if not reached:
                reason = NOT_DUE
        if not conditions:
            return node
        when = conditions[0] if len(conditions) == 1 else Node("all", children=tuple(conditions))
        # A `cases` body keeps an id of its own so that the case taken is still recorded.
        ident = node.id if node.id is not None else self.anonymous("applies")
        body = dataclasses.replace(node, id=f"{ident}{CASES_BODY}" if node.kind == "cases" else None)
        wrapper = Node("cases", id=ident, title=node.title, cite=node.cite, discretionary=node.discretionary,
                       note=node.note, cases=((when, body),), otherwise=MET if parent == "all" else NOT_MET,
                       doc_path=node.doc_path)
        self.applicability[ident] = Applicability(ident, reason or {"zh": "不适用", "en": "does not apply"})
        return wrapper


@dataclass(frozen=True)
class Table:
    """A parameter written as a lookup table (K5: sector × region): a threshold per row of keys."""

    name: str
    keys: tuple[str, ...]
    unit: Unit | None
    rows: dict[tuple[str, ...], Fraction]
    missing: dict[tuple[str, ...], str]


def _table(name: str, spec: dict[str, Any], doc: dict[str, Any], add: Any) -> Table:
    table = spec["table"]
    path: Path = ("parameters", name, "table")
    keys = tuple(table["keys"])
    unit = parse_unit(table["unit"]) if isinstance(table.get("unit"), str) else None
    if "unit" in table and unit is None:
        add("E112", path + ("unit",), f"unknown unit {shown(table['unit'])}", f"未知单位 {shown(table['unit'])}")
    options: list[tuple[str, ...]] = []
    for i, key in enumerate(keys):
        inp = (doc.get("inputs") or {}).get(key)
        choice = (doc.get("choices") or {}).get(key)
        if isinstance(inp, dict) and inp.get("type") == "enum":
            options.append(tuple(inp.get("values") or ()))
        elif isinstance(choice, dict):
            options.append(tuple(choice.get("options") or ()))
        else:
            add("E183", path + ("keys", i), f"table key {shown(key)} must be an enum input or a choice",
                f"查找表的键 {shown(key)} 必须是枚举输入项或待定选项")
            options.append(())
    rows: dict[tuple[str, ...], Fraction] = {}
    missing = {tuple(str(k).split(".")): str(v) for k, v in (table.get("missing") or {}).items()}

    def amount(raw: Any, where: Path) -> Fraction | None:
        try:
            value, written = parse_amount(raw, unit)
        except AmountError as error:
            add("E123", where, f"cannot read the amount {shown(raw)}: {error}", f"无法读取数额 {shown(raw)}：{error.zh}")
            return None
        if unit is not None and written.dimension != unit.dimension:
            add("E184", where, f"{shown(raw)} measures {written.dimension}, the table {unit.dimension}",
                f"{shown(raw)} 计量的是{kind_zh(written.dimension)}，而查找表计量的是{kind_zh(unit.dimension)}")
        if not slot_fits(value):
            en, zh = slot_message(raw, value, written)
            add("E140", where, en, zh)
        return value

    for first, row in table["rows"].items():
        if options and options[0] and first not in options[0]:
            add("E182", path + ("rows", first), f"{shown(first)} is not a value of {keys[0]!r}{did_you_mean(first, options[0])}",
                f"{shown(first)} 不是 {keys[0]!r} 的取值{did_you_mean_zh(first, options[0])}")
        if len(keys) == 1:
            value = amount(row, path + ("rows", first))
            if value is not None:
                rows[(first,)] = value
            continue
        if not isinstance(row, dict):
            add("E112", path + ("rows", first), f"a table with two keys maps each {keys[0]} to {{{keys[1]}: amount}}",
                f"两个键的查找表中，每个 {keys[0]} 应写成 {{{keys[1]}: 数额}}")
            continue
        for second, raw in row.items():
            if len(options) > 1 and options[1] and second not in options[1]:
                add("E182", path + ("rows", first, second),
                    f"{shown(second)} is not a value of {keys[1]!r}{did_you_mean(second, options[1])}",
                    f"{shown(second)} 不是 {keys[1]!r} 的取值{did_you_mean_zh(second, options[1])}")
            value = amount(raw, path + ("rows", first, second))
            if value is not None:
                rows[(first, second)] = value
    # every row of the keys' values is given, or listed under `missing` with the reason
    grid: list[tuple[str, ...]] = [()]
    for opts in options:
        grid = [g + (o,) for g in grid for o in opts]
    for row_key in grid:
        if row_key not in rows and row_key not in missing and row_key[:1] not in missing:
            add("E111", path + ("rows",), f"table {name!r} has no row for {' × '.join(row_key)}: give it, or list it "
                "under missing: with the reason (the policy states no number for it)",
                f"查找表 {name!r} 缺少 {' × '.join(row_key)} 这一行：请补上，或在 missing: 中列出并说明原因")
    return Table(name, keys, unit, rows, missing)


def _awards(raw: Any, ctx: _Context, values: dict[str, ValueDef], criteria: dict[str, int],
            choices: dict[str, ChoiceDef]) -> AwardsDef | None:
    path: Path = ("outcomes", "awards")
    if not isinstance(raw, dict):
        ctx.problem("E112", path, "awards is a mapping: place, eligible, pass_down, total, by_group",
                    "awards 应写成映射：place、eligible、pass_down、total、by_group")
        return None
    allowed = {"place", "eligible", "pass_down", "total", "by_group", "within", "cite"}
    for key in sorted(set(raw) - allowed):
        ctx.problem("E110", path + (key,), f"unknown field {shown(key)}{did_you_mean(key, allowed)} (allowed here: "
                    f"{', '.join(sorted(allowed))})", f"未知字段 {shown(key)}{did_you_mean_zh(key, allowed)}"
                    f"（此处允许的字段：{', '.join(sorted(allowed))}）")
    place = ctx.ref(raw.get("place"), path + ("place",), sorts=("number",))
    if place not in values and place in ctx.table.names:
        ctx.problem("E183", path + ("place",), f"{place!r} must be a value (a rank)", f"{place!r} 必须是计算值（名次）")
    eligible = ctx.ref(raw["eligible"], path + ("eligible",), sorts=("criterion",)) if "eligible" in raw else None
    pass_down, pass_down_choice = True, None
    written = raw.get("pass_down", True)
    if isinstance(written, dict) and "choice" in written:
        pass_down_choice = ctx.ref(written["choice"], path + ("pass_down", "choice"), sorts=("choice",))
        option = choices[pass_down_choice].option if pass_down_choice in choices else "pass_down"
        pass_down = option in ("pass_down", "true", "yes")
    elif isinstance(written, bool):
        pass_down = written
    else:
        ctx.problem("E112", path + ("pass_down",), "pass_down is true, false or {choice: NAME}",
                    "pass_down 应写 true、false 或 {choice: 名称}")
    within = raw.get("within")
    if within is not None:
        within = ctx.ref(within, path + ("within",), sorts=("enum",))
    elif place in values:
        within = getattr(values[place].args, "within", None)
    unit: Unit | None = None
    by_group: dict[str, tuple[AwardPlace, ...]] = {}
    for group, places in (raw.get("by_group") or {}).items():
        out = []
        for i, entry in enumerate(places if isinstance(places, list) else []):
            where = path + ("by_group", group, i)
            if not isinstance(entry, dict) or not isinstance(entry.get("place"), int) or "amount" not in entry:
                ctx.problem("E112", where, "an award is {place: N, amount: 600万元, title: {zh: 一等奖}}",
                            "每项奖励应写成 {place: 名次, amount: 600万元, title: {zh: 一等奖}}")
                continue
            try:
                amount, written_unit = parse_amount(entry["amount"], unit)
            except AmountError as error:
                ctx.problem("E123", where + ("amount",), f"cannot read the amount {shown(entry['amount'])}: {error}",
                            f"无法读取数额 {shown(entry['amount'])}：{error.zh}")
                continue
            unit = unit or written_unit
            out.append(AwardPlace(entry["place"], amount, entry.get("title")))
        by_group[str(group)] = tuple(sorted(out, key=lambda a: a.place))
    total = None
    if "total" in raw:
        try:
            total, total_unit = parse_amount(raw["total"], unit)
            unit = unit or total_unit
        except AmountError as error:
            ctx.problem("E123", path + ("total",), f"cannot read the amount {shown(raw['total'])}: {error}",
                        f"无法读取数额 {shown(raw['total'])}：{error.zh}")
        else:
            # W212 (as format 1): the places of every group, added up, are the total the policy states
            paid = sum((p.amount for places in by_group.values() for p in places), Fraction(0))
            if paid != total:
                ctx.problem("W212", path + ("total",), f"the award table adds up to {format_amount(paid, total_unit, 'en')}, "
                            f"not the stated total {shown(raw['total'])}",
                            f"奖励表合计为 {format_amount(paid, total_unit)}，与写明的总额 {shown(raw['total'])} 不符；请核对")
    return AwardsDef(place, eligible, pass_down, pass_down_choice, within, by_group, total, unit, raw.get("cite"))


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


# ---------------------------------------------------------------------------------------------
# The builder


def build2(document: Document, raw_bytes: bytes, as_of: dt.date,
           overrides: dict[str, tuple[str, Any]] | None = None) -> Pack2:
    """The compiled pack. Raises ProblemsError with every error found; warnings (W180 …) are on
    `pack.warnings`. `overrides` maps a parameter or choice name to (origin, value) (`--set`)."""
    problems = check_format2(document)
    if has_errors(problems):
        raise ProblemsError(problems)
    doc: dict[str, Any] = document.value
    overrides = overrides or {}
    table = name_table(document)
    ctx_problems: list[Problem] = []

    def add(code: str, path: Path, en: str, zh: str, file: str | None = None) -> None:
        if file is not None and file != document.file:
            severity = WARNING if code.startswith("W") else ERROR
            ctx_problems.append(Problem(file, 1, 1, code, en, severity=severity, message_zh=zh))
        else:
            ctx_problems.append(document.problem(code, en, path, WARNING if code.startswith("W") else ERROR, zh))

    # overrides: parameters and choices only
    param_overrides: dict[str, tuple[str, Any]] = {}
    choice_overrides: dict[str, tuple[str, Any]] = {}
    params_raw = doc.get("parameters") or {}
    choices_raw = doc.get("choices") or {}
    for name, (origin, value) in overrides.items():
        if name in params_raw:
            param_overrides[name] = (origin, value)
        elif name in choices_raw:
            choice_overrides[name] = (origin, value)
        else:
            known = list(params_raw) + list(choices_raw)
            add("E182", (), f"--set names no parameter or choice: {shown(name)}{did_you_mean(name, known)}",
                f"--set 的名称不是参数或待定选项：{shown(name)}{did_you_mean_zh(name, known)}", origin)

    params: dict[str, ParamSpec] = {}
    tables: dict[str, Table] = {}
    for name, spec in params_raw.items():
        override = param_overrides.get(name)
        if override is not None:
            try:
                parse_param_value(override[1])
            except AmountError as error:
                add("E123", (), f"override {name}: {error}", f"覆盖值 {name} 无法读取：{shown(override[1])}", override[0])
                override = None
        try:
            if "scaled" in spec and override is None:
                base = params_raw.get(spec["scaled"]["of"])
                params[name] = _scaled(name, spec, base, as_of, param_overrides.get(spec["scaled"]["of"]), add)
            elif "in_force" in spec and override is None:
                of = spec["in_force"]["of"]
                params[name] = _in_force(name, spec, params_raw.get(of), param_overrides.get(of), add)
            elif "table" in spec and override is None:
                tables[name] = _table(name, spec, doc, add)
                params[name] = ParamSpec(name, spec["label"], spec["cite"], spec.get("quote"), None, tables[name].unit,
                                         "table", None, None)
            else:
                params[name] = resolve_param(name, spec, as_of, override)
                if override is not None and _other_dimension(params[name], resolve_param(name, spec, as_of)):
                    # 200亩 for a threshold in 亿元: the command line is wrong, not the pack, so the problem
                    # names the override (exit 2) and the pack keeps its own value meanwhile (no second
                    # problem at each comparison reading it)
                    own = resolve_param(name, spec, as_of)
                    add("E184", (), f"override {name}={shown(override[1])} measures {params[name].unit.dimension}, "
                        f"but the parameter measures {own.unit.dimension}",
                        f"覆盖值 {name}={shown(override[1])} 计量的是{kind_zh(params[name].unit.dimension)}，"
                        f"而该参数计量的是{kind_zh(own.unit.dimension)}", override[0])
                    params[name] = own
                elif override is not None and params[name].value is not None and not slot_fits(params[name].value):
                    # a 30-digit override: named at the override, as above (else E140 at each comparison)
                    en, zh = slot_message(params[name].written, params[name].value, params[name].unit)
                    add("E140", (), f"override {name}: {en}", f"覆盖值 {name}：{zh}", override[0])
                    params[name] = resolve_param(name, spec, as_of)
        except AmountError as error:  # an amount in a unit the engine does not know (200头): a problem, not a traceback
            add("E123", ("parameters", name, "value") if "value" in spec else ("parameters", name),
                f"parameter {name}: {clip(error, 160)}", f"参数 {name} 的数值无法读取（{clip(error, 120)}）；请写已知单位的数额")
            params[name] = ParamSpec(name, spec.get("label") or {}, spec.get("cite") or "", spec.get("quote"), None,
                                     None, None, None)

    choices: dict[str, ChoiceDef] = {}
    for name, spec in choices_raw.items():
        option, source = spec["default"], "default"
        if name in choice_overrides:
            origin, value = choice_overrides[name]
            if value in spec["options"]:
                option, source = str(value), origin
            else:
                add("E182", (), f"--set {name}={shown(value)}: not an option of {name!r} "
                    f"({', '.join(spec['options'])}){did_you_mean(str(value), spec['options'])}",
                    f"--set {name}={shown(value)}：不是 {name!r} 的选项（{', '.join(spec['options'])}）"
                    f"{did_you_mean_zh(str(value), spec['options'])}", origin)
        choices[name] = ChoiceDef(name, spec["label"], spec.get("cite"), spec["options"], spec["default"], spec["reason"],
                                  option, source)

    inputs: dict[str, InputSpec] = {}
    for name, spec in (doc.get("inputs") or {}).items():
        unit = parse_unit(spec["unit"]) if "unit" in spec else None
        members = member_specs(spec) if spec["type"] == "members" else None
        inputs[name] = InputSpec(name, spec["type"], spec["label"], unit, spec.get("values", {}), members=members,
                                 signed=spec.get("signed") is True)

    ctx = _Context(document, table, inputs, params, choices)
    ctx.tables = tables

    # A points value without a declared unit is in 分 (set below when it is parsed); the name table
    # knows it now, so a value read before it is parsed (`cases` over points values) measures points.
    for name, spec in (doc.get("values") or {}).items():
        d = table.names.get(name)
        if isinstance(spec, dict) and d is not None and d.unit is None and any(k in OPS and OPS[k].points for k in spec):
            table.names[name] = dataclasses.replace(d, unit=parse_unit("分"))
    inline = _inline_conditions(doc, table, ctx)

    # values: each one operation, parsed by its own parser
    parsed: dict[str, tuple[str, OpArgs, Unit | None, dict[str, Any]]] = {}
    for name, spec in (doc.get("values") or {}).items():
        path: Path = ("values", name)
        # Keys an operation reads beside itself (`otherwise:` beside `cases:`) are not operations.
        beside = {b for k in spec if k in OPS for b in OPS[k].beside}
        keys = [k for k in spec if k not in VALUE_KEYS and k not in beside]
        unit = None
        if "unit" in spec:
            unit = parse_unit(spec["unit"])
            if unit is None:
                ctx.problem("E112", path + ("unit",), f"unknown unit {shown(spec['unit'])}",
                            f"未知单位 {shown(spec['unit'])}；请使用 元、万元、亩、%、家、分 等")
        if len(keys) != 1 or keys[0] not in OPS:
            unknown = [k for k in keys if k not in OPS]
            if unknown:
                k = unknown[0]
                ctx.problem("E112", path + (k,), f"unknown operation {shown(k)}{did_you_mean(k, OPS)} "
                            f"(known: {', '.join(sorted(OPS)) or 'none yet'})",
                            f"未知的计算方式 {shown(k)}{did_you_mean_zh(k, OPS)}（可用：{'、'.join(sorted(OPS)) or '暂无'}）")
            else:
                ctx.problem("E112", path, "a value is exactly one operation (ratio, sum, bands, …); "
                            f"this one has {len(keys)}: {', '.join(keys) or 'none'}",
                            f"每个计算值只能写一种计算方式（ratio、sum、bands 等）；这里写了 {len(keys)} 种")
            continue
        key = keys[0]
        ctx.reads = set()
        ctx.spec = spec
        args = OPS[key].parse(_named(spec[key], key, name, inline), ctx, path + (key,))
        if unit is None and OPS[key].points:
            unit = parse_unit("分")
        elif unit is None and key != "rank" and getattr(getattr(args, "unit", None), "dimension", None) == "points":
            unit = args.unit  # `cases` over points values: points too (a rank's `unit` is its `of`'s: a place has none)
        parsed[name] = (key, args, unit, spec)

    # The `when` of every case of a `cases` value is a hidden criterion, decided by durable-rules
    # in the phase before the value (docs/format2.md "What decides what"); the value reads their
    # statuses. Hidden names hold "~", which no name of a pack can (they never meet a pack's own).
    hidden: dict[str, tuple[Cond, Path]] = {}
    for name, (key, args, unit, spec) in list(parsed.items()):
        if isinstance(args, Cases):
            deciders = []
            for i, case in enumerate(args.cases, start=1):
                hidden_name = f"~when~{name}~{i}"
                hidden[hidden_name] = (case.when, ("values", name, key, i - 1, "when"))
                deciders.append(hidden_name)
            parsed[name] = (key, dataclasses.replace(args, deciders=tuple(deciders)), unit, spec)
        elif isinstance(args, Members) and args.where is not None:
            parsed[name] = (key, dataclasses.replace(args, rules=name), unit, spec)
        elif isinstance(args, PlacedLastArgs):
            parsed[name] = (key, dataclasses.replace(args, rules=name), unit, spec)

    # the graph: what each value and criterion reads (values and criteria only)
    criteria_raw: dict[str, Any] = doc.get("criteria") or {}
    outcomes = doc.get("outcomes") or {}
    graph: dict[str, list[str]] = {}
    kind_of: dict[str, str] = {}
    for name, (key, args, unit, spec) in parsed.items():
        kind_of[name] = "value"
        reads = args.reads()
        if isinstance(args, Cases):  # what its conditions read, their hidden criteria read
            reads = args.deciders + tuple(c.then_name for c in args.cases + (args.otherwise,) if c and c.then_name)
        graph[name] = [r for r in dict.fromkeys(reads) if r in parsed or r in criteria_raw or r in inline or r in hidden]
    for name, node in criteria_raw.items():
        kind_of[name] = "criterion"
        graph[name] = [r for r, _, _ in node_reads(node, ("criteria", name)) if r in parsed or r in criteria_raw or r in inline]
        graph[name] = list(dict.fromkeys(graph[name]))
    for name, cond in inline.items():
        kind_of[name] = "criterion"
        graph[name] = list(dict.fromkeys(r for r, _, _ in condition_reads(cond.when, cond.path)
                                         if r in parsed or r in criteria_raw or r in inline))
    for name, (cond, _) in hidden.items():
        kind_of[name] = "criterion"
        graph[name] = [r for r in dict.fromkeys(cond.reads()) if r in parsed or r in criteria_raw or r in inline]
    for cycle in cycles(graph):
        shown_cycle = [n for n in cycle if n not in hidden]  # a case's condition is its value's
        first = shown_cycle[0]
        where = ("values", first) if kind_of[first] == "value" else ("criteria", first)
        text = " → ".join(shown_cycle)
        ctx.problem("E180", where, f"these names are defined in terms of each other: {text}; a value or criterion "
                    "cannot depend on itself — break the cycle", f"以下名称相互依赖，构成循环：{text}；计算值或条件不能依赖自身，请断开循环")
    problems = problems + ctx_problems + ctx.problems
    if has_errors(problems):
        raise ProblemsError(problems)

    phase: dict[str, int] = {}
    for name in _postorder(graph):
        reads = graph[name]
        if kind_of[name] == "value":
            phase[name] = max([0] + [phase[r] + (0 if kind_of[r] == "value" else 1) for r in reads])
        else:
            phase[name] = max([1] + [phase[r] + (1 if kind_of[r] == "value" else 2) for r in reads])

    values: dict[str, ValueDef] = {}
    for name in _postorder(graph):
        if kind_of[name] != "value":
            continue
        key, args, unit, spec = parsed[name]
        op = OPS[key]
        values[name] = ValueDef(name, spec["label"], unit, key, args, tuple(dict.fromkeys(args.reads())), op.cohort,
                                op.points, phase[name], ("values", name), spec.get("cite"))

    # flags and consequences: a phase after everything their condition reads
    notes: dict[str, NoteRule] = {}
    note_raw: dict[str, dict[str, Any]] = {}
    for section, kind in (("flags", "flag"), ("consequences", "consequence")):
        for i, rule in enumerate(outcomes.get(section) or []):
            reads = [r for r, _, _ in condition_reads(rule["when"], ("outcomes", section, i, "when"))
                     if r in phase]
            p = max([1] + [phase[r] + (1 if kind_of[r] == "value" else 2) for r in reads])
            notes[rule["id"]] = NoteRule(rule["id"], kind, fill_title(rule["title"], params), rule.get("cite"),
                                         rule.get("note"), p)
            note_raw[rule["id"]] = {**rule, "_path": ("outcomes", section, i, "when")}

    meta_raw = doc["pack"]
    meta = PackMeta2(meta_raw["id"], meta_raw["version"], meta_raw["entity"], meta_raw["title"],
                     meta_raw.get("source", {}), meta_raw.get("effective"), meta_raw.get("until"),
                     meta_raw.get("superseded_by"), tuple(meta_raw.get("notes", ())))
    meta1 = PackMeta(meta.id, meta.version, "format2", meta.entity, meta.title, meta.source, meta.effective, meta.notes)
    sha = hashlib.sha256(raw_bytes).hexdigest()
    titles: dict[str, dict[str, Any]] = {}
    stages: list[CriteriaStage] = []
    crit_phase = {n: phase[n] for n in list(criteria_raw) + list(inline)}
    hidden_phase = {n: phase[n] for n in hidden}
    may_not_apply = {n for n, raw in criteria_raw.items() if "applies_when" in raw or "due" in raw}

    def place(name: str) -> Path:
        """Where a criterion of a stage is written (a hidden one: its case's `when`)."""
        if name in hidden:
            return hidden[name][1]
        return inline[name].path if name in inline else ("criteria", name)

    for p in sorted(set(crit_phase.values()) | set(hidden_phase.values()) | {n.phase for n in notes.values()}):
        builder = _Tests(ctx, as_of, titles)
        builder.may_not_apply = may_not_apply
        names = tuple(n for n in crit_phase if crit_phase[n] == p) + tuple(n for n in hidden if hidden_phase[n] == p)
        kids = tuple(builder.node(criteria_raw[n], ("criteria", n), n, "top", top=True) if n in criteria_raw
                     else builder.hidden(n, *hidden[n]) if n in hidden
                     else builder.inline(inline[n]) for n in names)
        # as an officer reads them: a case's condition is named by its value
        shown_names = tuple(dict.fromkeys(n.split("~")[2] + "（cases）" if n in hidden else n for n in names))
        here = tuple(i for i, n in notes.items() if n.phase == p)
        flags = tuple(Flag(i, notes[i].title, notes[i].cite, notes[i].note,
                           builder.condition(note_raw[i]["when"], note_raw[i]["_path"])) for i in here)
        counts = tuple(builder.counts)
        top = max((c.level for c in counts), default=-1) + 1
        # steps of the phase: the children of the counted at_least nodes of each level, then the criteria
        roots = [Node("all", children=tuple(kid for c in counts if c.level == level for kid in builder.count_kids[c.id]))
                 for level in range(top)] + [Node("all", children=kids)]
        step_packs = [CompiledPack(meta=meta1, file=document.file, sha256=sha, as_of=as_of, inputs=inputs, params=params,
                                   root=root, flags=flags if j == top else (), tests=tuple(builder.tests))
                      for j, root in enumerate(roots)]
        try:
            for stage_pack in step_packs:
                stage_pack.ruleset, stage_pack.rule_meta = emit_ruleset(stage_pack, decision=False, small_first=SMALL_FIRST, combine=COMBINE)
        except CompileError as error:
            # Point at the criteria of this phase; the compiler's own words say which limit was hit.
            where = place(names[0]) if names else ("outcomes",)
            ctx.problem(_limit_code(error), where,
                        f"the criteria {', '.join(shown_names) or '(flags)'} are too large for the engine: {error}; move "
                        "parts of a large any / all into criteria of their own and read them with {criterion: NAME}",
                        error.message_zh or f"条件 {'、'.join(shown_names) or '（标记）'} 展开后过于庞大，引擎无法处理（{error}）；"
                        "请把很大的 any / all 中的部分拆成单独的条件，再用 {criterion: 名称} 引用")
            continue
        decided = sum(1 for t in builder.tests if t.constant is None and not t.unset)
        if decided > MAX_TESTS:
            ctx.problem("E151", place(names[0]) if names else ("outcomes",),
                        f"the criteria {', '.join(shown_names) or '(flags)'} decide {decided} tests per entity in one phase; "
                        f"the limit is {MAX_TESTS}. Use a value (a count, a sum) instead of repeating a test, or split "
                        "the pack", f"条件 {'、'.join(shown_names) or '（标记）'} 在同一阶段共有 {decided} 项比较，上限是 "
                        f"{MAX_TESTS} 项。请用计算值（计数、求和）代替重复的比较，或拆分规则包")
        for j, stage_pack in enumerate(step_packs):
            stages.append(CriteriaStage(p, names if j == top else (), here if j == top else (), stage_pack,
                                        dict(builder.applicability), dict(builder.table_slots), counts, j - 1,
                                        dict(builder.diff_slots)))
    member_rules = _member_rules(values, inputs, ctx, as_of, meta1, document.file, sha)
    last_rules = {}
    for name, value in values.items():
        if isinstance(value.args, PlacedLastArgs):
            # "is the place the last of its group": BEHIND ≤ 0, decided by durable-rules
            test = Test(field="t0", input=BEHIND, op="<=", threshold=Fraction(0))
            lpack = CompiledPack(meta=meta1, file=document.file, sha256=sha, as_of=as_of, inputs={}, params=params,
                                 root=Node("all", children=(Node("test", id=LAST, test=test),)), flags=(), tests=(test,))
            lpack.ruleset, lpack.rule_meta = emit_ruleset(lpack, decision=False)
            last_rules[name] = lpack
    if has_errors(ctx.problems):
        raise ProblemsError(problems + ctx.problems)

    # what the pack needs, counted before compile merged units (merging is the engine's business)
    rules = sum(stage.pack.rule_stats[0] for stage in stages)
    atoms = sum(stage.pack.rule_stats[1] for stage in stages)
    for code, count, limit, what, what_zh in (("E155", rules, MAX_RULES, "engine rules", "引擎规则条数"),
                                             ("E156", atoms, MAX_ATOMS, "comparisons across its engine rules",
                                              "引擎规则中的比较总数")):
        if count > limit:
            ctx.problem(code, ("criteria",), f"the pack needs {count} {what}; the limit is {limit}. Split the largest "
                        "criteria into criteria of their own, or the pack into several packs",
                        f"本规则包需要 {count} {what_zh}，上限是 {limit}。请把最大的条件拆成单独的条件，或把规则包拆成几个")
    awards = _awards(outcomes.get("awards"), ctx, values, crit_phase, choices) if outcomes.get("awards") else None
    if has_errors(ctx.problems):
        raise ProblemsError(problems + ctx.problems)
    pack = Pack2(meta=meta, file=document.file, sha256=sha, as_of=as_of, inputs=inputs, params=params, choices=choices,
                 values=values, criteria=crit_phase, stages=stages, decision=outcomes.get("decision"), notes=notes,
                 titles=titles, awards=awards, tables=tables, hidden=hidden_phase, member_rules=member_rules,
                 last_rules=last_rules)
    pack.warnings = ([p for p in problems + ctx.problems if p.severity != ERROR] + validity_warnings(document, meta, as_of)
                     + _unread(document, parsed, {**criteria_raw, **{n: {"applies_when": c.when} for n, c in inline.items()}},
                               outcomes))
    return pack


def _member_rules(values: dict[str, ValueDef], inputs: dict[str, InputSpec], ctx: _Context, as_of: dt.date,
                  meta1: PackMeta, file: str, sha: str) -> dict[str, MemberRules]:
    """The `where:` of each count / total / share, compiled into a ruleset of its own over one
    member's fields (one fact per member): durable-rules decides whether each member counts."""
    out: dict[str, MemberRules] = {}
    for name, value in values.items():
        args = value.args
        if not isinstance(args, Members) or args.where is None:
            continue
        path = value.path + (value.op, "where")
        fields = dict(inputs[args.members].members or {}) if args.members in inputs else {}
        builder = _Tests(ctx, as_of, {})
        root = dataclasses.replace(builder.from_cond(args.where, path, fields), id=WHERE)
        mpack = CompiledPack(meta=meta1, file=file, sha256=sha, as_of=as_of, inputs=fields, params=ctx.params,
                             root=Node("all", children=(root,)), flags=(), tests=tuple(builder.tests))
        try:
            mpack.ruleset, mpack.rule_meta = emit_ruleset(mpack, decision=False, small_first=SMALL_FIRST)
        except CompileError as error:
            ctx.problem(_limit_code(error), path, f"the member condition of {name} is too large for the engine: {error}",
                        error.message_zh or f"{name} 的成员条件展开后过于庞大，引擎无法处理（{error}）；请简化条件")
            continue
        out[name] = MemberRules(name, args.members, mpack, dict(builder.diff_slots))
    return out


def _limit_code(error: CompileError) -> str:
    """The bounded-work code of a compiler refusal (format 1's names for them), else its own."""
    text = str(error)
    if "at once" in text:
        return "E158"  # rules of one criterion that could fire at once
    if "rules" in text and "more than" in text:
        return "E153"  # one expression's conjunctions
    if "conjunctions" in text or "combinations" in text:
        return "E154"  # the simplification's work
    if "engine rules" in text:
        return "E155"
    return error.code


@dataclass(frozen=True)
class Inline:
    """A condition written inline where a points value reads a yes/no (docs/format2.md "points"):
    compiled as a criterion named after its place, `VALUE_when_N` or `VALUE_exclude`."""

    name: str
    when: dict[str, Any]
    path: Path
    title: dict[str, str]
    cite: str | None
    value: str
    where: tuple[Any, ...]  # ("highest", i) or ("exclude",) inside the operation


def _inline_conditions(doc: dict[str, Any], table: NameTable, ctx: _Context) -> dict[str, Inline]:
    """Inline conditions of `map.highest[].when` and `rank_points.exclude`, each a criterion
    claimed in the name table (its references checked as any criterion's)."""
    out: dict[str, Inline] = {}
    for vname, spec in (doc.get("values") or {}).items():
        if not isinstance(spec, dict):
            continue
        label = spec.get("label") if isinstance(spec.get("label"), dict) else {"zh": vname}
        found: list[tuple[str, dict[str, Any], Path, dict[str, str], tuple[Any, ...]]] = []
        body = spec.get("map")
        if isinstance(body, dict) and isinstance(body.get("highest"), list):
            for i, item in enumerate(body["highest"]):
                if isinstance(item, dict) and isinstance(item.get("when"), dict):
                    found.append((f"{vname}_when_{i + 1}", item["when"], ("values", vname, "map", "highest", i, "when"),
                                  {"zh": f"{label.get('zh', vname)}：第 {i + 1} 项的条件",
                                   "en": f"{label.get('en', vname)}: condition of item {i + 1}"}, ("highest", i)))
        body = spec.get("rank_points")
        if isinstance(body, dict) and isinstance(body.get("exclude"), dict):
            found.append((f"{vname}_exclude", body["exclude"], ("values", vname, "rank_points", "exclude"),
                          {"zh": f"{label.get('zh', vname)}：不参加排名的条件",
                           "en": f"{label.get('en', vname)}: not ranked when"}, ("exclude",)))
        for name, when, path, title, where in found:
            while name in table.names:  # a name the pack uses itself stays the pack's
                name += "_"
            table.claim(name, "criteria", "criterion", path)
            for ref, rpath, sorts in condition_reads(when, path):
                table.check(ref, rpath, sorts)
            for ref, rpath in param_reads(when, path):
                table.check(ref, rpath, ("param",))
            out[name] = Inline(name, when, path, title, spec.get("cite"), vname, where)
    ctx.problems += table.problems
    table.problems.clear()
    return out


def _named(raw: Any, key: str, value: str, inline: dict[str, Inline]) -> Any:
    """The operation as its parser reads it: each inline condition replaced by its criterion's name."""
    mine = [c for c in inline.values() if c.value == value]
    if not mine or not isinstance(raw, dict):
        return raw
    out = dict(raw)
    for c in mine:
        if key == "map" and c.where[0] == "highest":
            items = list(out["highest"])
            items[c.where[1]] = {**items[c.where[1]], "when": c.name}
            out["highest"] = items
        elif key == "rank_points" and c.where == ("exclude",):
            out["exclude"] = c.name
    return out


def _other_dimension(given: ParamSpec, own: ParamSpec) -> bool:
    """True when an override measures another thing than the parameter's own value (both with a unit)."""
    return bool(given.unit and own.unit and given.unit.dimension != own.unit.dimension)


def _scaled(name: str, spec: dict[str, Any], base: Any, as_of: dt.date, base_override: Any, add: Any) -> ParamSpec:
    """`scaled: {of: P, by: 70%}`: P's value in force times the factor (a percent is a fraction)."""
    label, cite = spec["label"], spec["cite"]
    if not isinstance(base, dict) or "scaled" in base or "table" in base:
        add("E183", ("parameters", name, "scaled", "of"), "scaled: of must name a parameter with a value",
            "scaled 的 of 必须是一个有数值的参数")
        return ParamSpec(name, label, cite, spec.get("quote"), None, None, None, None, "invalid")
    of = resolve_param(spec["scaled"]["of"], base, as_of, base_override)
    try:
        factor, unit = parse_amount(spec["scaled"]["by"], parse_unit("倍"))
    except AmountError as error:
        add("E123", ("parameters", name, "scaled", "by"), f"cannot read {shown(spec['scaled']['by'])}: {error}",
            f"无法读取 {shown(spec['scaled']['by'])}：{error.zh}")
        return ParamSpec(name, label, cite, spec.get("quote"), None, None, None, None, "invalid")
    if unit.dimension == "percent":
        factor = factor / 100
    if of.value is None:
        return ParamSpec(name, label, cite, spec.get("quote"), None, of.unit, None, of.since, of.unset_reason,
                         unset_because=of.name)
    value = of.value * factor
    written = f"{spec['scaled']['by']} × {of.written}"
    return ParamSpec(name, label, cite, spec.get("quote"), value, of.unit, written, of.since)


def _in_force(name: str, spec: dict[str, Any], base: Any, base_override: Any, add: Any) -> ParamSpec:
    """`in_force: {of: P, on: DATE}`: P's value in force on DATE (not on the as-of date), or the
    override of P when one is given (`--set P=…` reaches every copy, as it does in format 1)."""
    label, cite = spec["label"], spec["cite"]
    on = iso_date(spec["in_force"]["on"])
    if not isinstance(base, dict) or not ({"value", "values", "unset"} & set(base)) or on is None:
        add("E183", ("parameters", name, "in_force", "of"), "in_force: of must name a parameter with a value, "
            "dated values or unset, and on a date", "in_force 的 of 必须是有数值（或分日期数值、unset）的参数，on 必须是日期")
        return ParamSpec(name, label, cite, spec.get("quote"), None, None, None, None, "invalid")
    of = resolve_param(spec["in_force"]["of"], base, on, base_override)
    if of.value is None:
        return ParamSpec(name, label, cite, spec.get("quote"), None, of.unit, None, of.since,
                         f"{spec['in_force']['of']} 在 {on.isoformat()} 无有效值 / {of.unset_reason}", unset_because=of.name)
    return ParamSpec(name, label, cite, spec.get("quote"), of.value, of.unit, of.written, of.since, None, of.overridden)


def _unread(document: Document, parsed: dict[str, Any], criteria: dict[str, Any], outcomes: dict[str, Any]) -> list[Problem]:
    """W181: a parameter or choice nothing reads (a typo elsewhere, or a clause not yet written)."""
    doc = document.value
    read: set[str] = set()
    for key, args, _, _ in parsed.values():
        read.update(args.reads())
    for name, node in criteria.items():
        read.update(r for r, _, _ in node_reads(node, ()))
        read.update(r for r, _ in param_reads(node, ()))
    for section in ("flags", "consequences"):
        for rule in outcomes.get(section) or []:
            read.update(r for r, _, _ in condition_reads(rule.get("when"), ()))
            read.update(r for r, _ in param_reads(rule.get("when"), ()))
    awards = outcomes.get("awards")
    if isinstance(awards, dict) and isinstance(awards.get("pass_down"), dict):
        read.add(str(awards["pass_down"].get("choice")))
    for spec in (doc.get("parameters") or {}).values():  # scaled: {of: P}; table keys
        if isinstance(spec, dict) and isinstance(spec.get("scaled"), dict):
            read.add(str(spec["scaled"].get("of")))
        if isinstance(spec, dict) and isinstance(spec.get("in_force"), dict):
            read.add(str(spec["in_force"].get("of")))
        if isinstance(spec, dict) and isinstance(spec.get("table"), dict):
            read.update(str(k) for k in spec["table"].get("keys") or ())
    out = []
    for section, what, what_zh in (("parameters", "parameter", "参数"), ("choices", "choice", "待定选项")):
        for name in doc.get(section) or {}:
            if name not in read:
                out.append(document.problem("W181", f"{what} {name!r} is declared but nothing reads it",
                                            (section, name), WARNING,
                                            f"{what_zh} {name!r} 已声明，但没有任何计算值或条件使用它；请删除它或在规则中引用"))
    return out


def validity_warnings(document: Document, meta: PackMeta2, as_of: dt.date) -> list[Problem]:
    """W180: the as-of date is outside the pack's effective..until window."""
    out = []
    effective, until = iso_date(meta.effective), iso_date(meta.until)
    if effective is not None and as_of < effective:
        out.append(document.problem("W180", f"the pack takes effect on {meta.effective}; evaluating as of {as_of} is "
                                    "before it is in force", ("pack", "effective"), WARNING,
                                    f"本规则包 {meta.effective} 起施行；按 {as_of} 评价时尚未生效"))
    if until is not None and as_of > until:
        by = f", superseded by {meta.superseded_by}" if meta.superseded_by else ""
        by_zh = f"，由 {meta.superseded_by} 取代" if meta.superseded_by else ""
        out.append(document.problem("W180", f"the pack ceased to apply after {meta.until}{by}; evaluating as of {as_of}",
                                    ("pack", "until"), WARNING, f"本规则包 {meta.until} 后已失效{by_zh}；按 {as_of} 评价"))
    return out


def check_pack2(document: Document, as_of: dt.date | None = None) -> list[Problem]:
    """Every problem of a format-2 pack, as `certify validate` shows them: the document's own checks
    and what compiling it finds (operations, units, cycles), built as of `as_of` (today)."""
    try:
        pack = build2(document, b"", as_of or dt.date.today())
    except ProblemsError as error:
        return sorted(set(error.problems))
    return sorted(set(p for p in pack.warnings if p.code != "W180"))


# ---------------------------------------------------------------------------------------------
# Graph helpers


def _postorder(graph: dict[str, list[str]]) -> list[str]:
    """Names with everything they read first (the graph has no cycle)."""
    done: set[str] = set()
    out: list[str] = []
    for start in graph:
        if start in done:
            continue
        stack = [(start, iter(graph[start]))]
        done.add(start)
        while stack:
            name, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                out.append(name)
            elif nxt not in done:
                done.add(nxt)
                stack.append((nxt, iter(graph[nxt])))
    return out
