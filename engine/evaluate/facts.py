"""What durable-rules is given and what it must answer, for one compiled criteria pack (the
shared compiled form, engine.compile.model): an entity's values projected onto the fact's integer
slots (`fact_slots`, and `Projector`, the same slots written faster), and the criteria a verdict
must give a status (`applicable_ids`). Format 2's Runner (engine.evaluate.run2) decides every
criteria stage through these.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from engine.compile.compile import CLAMP, MISSING, MISSING_TEXT, project
from engine.compile.model import CompiledPack, Node, Test


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
