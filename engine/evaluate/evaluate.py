"""Evaluate stage: normalised values in, a verdict out, decided by durable-rules.

`Decider` turns an entity's values into the engine's fact (see `compile.project`), asks
durable-rules which rules fire, and reads the verdict from the names of the rules that fired.
It checks that exactly one decision and at most one status per criterion fired; anything else
is an engine fault and raises `DecisionError` rather than producing a wrong record.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from engine.evaluate import reference
from engine.compile.compile import CLAMP, MISSING, MISSING_TEXT, project
from engine.evaluate.durable_adapter import DurableSession
from engine.compile.model import OUTCOME_OF, CompiledPack, Node, Test, Verdict
from engine.core.problems import DecisionError

ENGINES = ("durable", "reference")


def fact_slots(pack: CompiledPack, values: dict[str, Any]) -> dict[str, Any]:
    slots: dict[str, Any] = {}
    for test in pack.tests:
        slots.update(project(test, values.get(test.input)))
    return slots


def _whole_projection(test: Test) -> tuple[str, str, str] | None:
    """(input, slot, negated slot) for a comparison whose threshold is whole: a whole value
    projects to itself (floor and ceil of an integer are the integer), so `Projector` can skip
    `project`'s exact arithmetic for it. None for every other test."""
    if test.unset or test.op not in (">=", ">", "<=", "<") or test.threshold is None or test.threshold.denominator != 1:
        return None
    return test.input, test.field, test.field + "n"


class Projector:
    """`fact_slots`, faster: the same slots (tests/test_durable_speed.py holds it to fact_slots on
    random values), with the common cases (a yes/no, an enum, a whole amount against a whole
    threshold) written out and everything else left to `compile.project`."""

    def __init__(self, pack: CompiledPack):
        self.yes_no: list[tuple[str, str]] = []
        self.enums: list[tuple[str, str]] = []
        self.whole: list[tuple[str, str, str, Test]] = []
        self.other: list[Test] = []
        for test in pack.tests:
            if test.unset:
                continue  # project gives no slot
            if test.op in ("attested", "is_true", "is_false"):
                self.yes_no.append((test.input, test.field))
            elif test.op in ("in", "not_in"):
                self.enums.append((test.input, test.field))
            elif (whole := _whole_projection(test)) is not None:
                self.whole.append((*whole, test))
            else:
                self.other.append(test)

    def __call__(self, values: dict[str, Any]) -> dict[str, Any]:
        slots: dict[str, Any] = {}
        get = values.get
        for name, field_name in self.yes_no:
            value = get(name)
            slots[field_name] = 2 if value is None else (1 if value else 0)
        for name, field_name in self.enums:
            value = get(name)
            slots[field_name] = MISSING_TEXT if value is None else value
        for name, field_name, negated, test in self.whole:
            value = get(name)
            if value is None:
                slots[field_name] = MISSING
                slots[negated] = MISSING
                continue
            if type(value) is int or (type(value) is Fraction and value.denominator == 1):
                whole = int(value)
                if -CLAMP <= whole <= CLAMP:
                    slots[field_name] = whole
                    slots[negated] = -whole
                    continue
            slots.update(project(test, value))
        for test in self.other:
            slots.update(project(test, get(test.input)))
        return slots


class Decider:
    """Decides entities for one compiled pack, with durable-rules or the reference evaluator."""

    def __init__(self, pack: CompiledPack, engine: str = "durable"):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}")
        self.pack = pack
        self.engine = engine
        self._session = (DurableSession(pack.ruleset, pack.meta.id, groups=pack.rule_groups)
                         if engine == "durable" else None)
        self._slots = Projector(pack)
        # The verdict is a function of the fired rules alone, and a pack has few distinct sets
        # of them: each is read (and checked) once, then copied. Bounded: past the limit, read anew.
        self._read: dict[tuple[str, ...], Verdict] = {}

    READ_CACHE = 4096

    def decide(self, values: dict[str, Any]) -> Verdict:
        if self._session is None:
            return reference.evaluate(self.pack, values)
        fired = tuple(self._session.decide(self._slots(values)))
        known = self._read.get(fired)
        if known is None:
            known = self._verdict(list(fired))
            if len(self._read) < self.READ_CACHE:
                self._read[fired] = known
        return Verdict(known.outcome, dict(known.statuses), dict(known.flags))

    def _verdict(self, fired: list[str]) -> Verdict:
        outcome: str | None = None
        statuses: dict[str, tuple[str, str | None]] = {}
        flags: dict[str, str] = {}
        for name in fired:
            what, ident, status, branch = self.pack.rule_meta[name]
            if what == "group":
                continue  # a group's always-firing rule (compile.emit_ruleset): no status
            if what == "decision":
                if outcome not in (None, OUTCOME_OF[status]):
                    raise DecisionError(f"two decisions fired: {outcome} and {OUTCOME_OF[status]}")
                outcome = OUTCOME_OF[status]
            elif what == "node":
                # Several rules may express one status (one per term); two statuses is a fault.
                if statuses.get(ident, (status, branch)) != (status, branch):
                    raise DecisionError(f"criterion {ident} fired twice: {statuses[ident]} and {status}")
                statuses[ident] = (status, branch)
            else:
                if flags.get(ident, status) != status:
                    raise DecisionError(f"flag {ident} fired as {flags[ident]} and {status}")
                flags[ident] = status
        if outcome is None:
            raise DecisionError("no decision rule fired")
        missing_flags = [f.id for f in self.pack.flags if f.id not in flags]
        if missing_flags:
            raise DecisionError(f"no rule fired for flag(s) {missing_flags}")
        # Every applicable criterion must have got a status: a criterion the rules skipped would
        # otherwise vanish from the record (and a parent's status would rest on nothing shown).
        expected = applicable_ids(self.pack.root, statuses)
        missing = [i for i in expected if i not in statuses]
        if missing:
            raise DecisionError(f"no status fired for applicable criterion {missing[0]!r}"
                                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        extra = sorted(set(statuses) - set(expected))
        if extra:
            raise DecisionError(f"a status fired for criterion {extra[0]!r}, which does not apply")
        return Verdict(outcome, statuses, flags)


def applicable_ids(root: Node, statuses: dict[str, tuple[str, str | None]]) -> list[str]:
    """Ids of the criteria that apply, given the statuses found so far: every criterion except
    those under a case that does not apply. The root's status is the decision, so it is not
    listed — unless it is a cases node, whose branch is recorded like any criterion's."""
    out: list[str] = []
    stack: list[tuple[Node, bool]] = [(root, True)]
    while stack:
        node, is_root = stack.pop()
        if node.id is not None and (not is_root or node.kind == "cases"):
            out.append(node.id)
        if node.kind == "cases":
            branch = (statuses.get(node.id or "") or (None, None))[1]
            if branch and branch.startswith("case"):
                stack.append((node.cases[int(branch[4:]) - 1][1], False))
            continue
        if node.count is not None:
            continue  # a counted at_least: its children were decided in an earlier step
        stack.extend((child, False) for child in reversed(node.children))
    return out
