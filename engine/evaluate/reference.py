"""The plain-Python reference evaluator of a compiled pack.

It reads the same `CompiledPack` as the durable-rules path and applies Kleene three-valued logic
directly to the normalised values. It exists to be compared with durable-rules (the property
tests generate thousands of entities and demand identical verdicts), and as the fast path for
what-if analysis. It is deliberately written without looking at the durable expressions.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from engine.core.numbers import COMPARE
from engine.compile.model import MET, NOT_MET, OUTCOME_OF, UNKNOWN, CompiledPack, Node, Test, Verdict


def test_status(test: Test, values: dict[str, Any]) -> str:
    if test.unset:
        return UNKNOWN
    value = values.get(test.input)
    if value is None:
        return UNKNOWN
    op = test.op
    if op in ("attested", "is_true"):
        return MET if value else NOT_MET
    if op == "is_false":
        return NOT_MET if value else MET
    if op == "in":
        return MET if value in test.values else NOT_MET
    if op == "not_in":
        return NOT_MET if value in test.values else MET
    assert test.threshold is not None
    return MET if COMPARE[op](Fraction(value), test.threshold) else NOT_MET


def _combine_all(statuses: list[str]) -> str:
    if NOT_MET in statuses:
        return NOT_MET
    return UNKNOWN if UNKNOWN in statuses else MET


def _combine_any(statuses: list[str]) -> str:
    if MET in statuses:
        return MET
    return UNKNOWN if UNKNOWN in statuses else NOT_MET


class _Run:
    def __init__(self, values: dict[str, Any]):
        self.values = values
        self.statuses: dict[str, tuple[str, str | None]] = {}

    def status(self, node: Node, record: bool) -> str:
        """Status of `node`; records it (and its descendants) when the node is applicable."""
        branch: str | None = None
        if node.kind == "test":
            assert node.test is not None
            result = test_status(node.test, self.values)
        elif node.kind == "not":
            inner = self.status(node.children[0], record)
            result = {MET: NOT_MET, NOT_MET: MET, UNKNOWN: UNKNOWN}[inner]
        elif node.count is not None:
            # a counted at_least (format 2): its children were decided in an earlier step
            low, high = (test_status(t, self.values) for t in node.count)
            result = MET if low == MET else NOT_MET if high == NOT_MET else UNKNOWN
        elif node.kind in ("all", "any", "at_least"):
            kids = [self.status(c, record) for c in node.children]
            if node.kind == "all":
                result = _combine_all(kids)
            elif node.kind == "any":
                result = _combine_any(kids)
            else:
                met, not_met = kids.count(MET), kids.count(NOT_MET)
                if met >= node.k:
                    result = MET
                elif not_met >= len(kids) - node.k + 1:
                    result = NOT_MET
                else:
                    result = UNKNOWN
        else:
            result, branch = self.cases(node, record)
        if record and node.id is not None:
            self.statuses[node.id] = (result, branch)
        return result

    def cases(self, node: Node, record: bool) -> tuple[str, str]:
        for i, (when, then) in enumerate(node.cases, start=1):
            condition = self.status(when, False)
            if condition == MET:
                return self.status(then, record), f"case{i}"
            if condition == UNKNOWN:
                return UNKNOWN, f"undecided{i}"
        return node.otherwise, "otherwise"


def evaluate(pack: CompiledPack, values: dict[str, Any]) -> Verdict:
    run = _Run(values)
    root_status = run.status(pack.root, True)
    if pack.root.kind != "cases":
        run.statuses.pop(pack.root.id or "", None)  # the root's status is the decision
    flags = {flag.id: _Run(values).status(flag.when, False) for flag in pack.flags}
    return Verdict(OUTCOME_OF[root_status], run.statuses, flags)
