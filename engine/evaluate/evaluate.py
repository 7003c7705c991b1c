"""Evaluate stage: normalised values in, a verdict out, decided by durable-rules.

`Decider` turns an entity's values into the engine's fact (see `compile.project`), asks
durable-rules which rules fire, and reads the verdict from the names of the rules that fired.
It checks that exactly one decision and at most one status per criterion fired; anything else
is an engine fault and raises `DecisionError` rather than producing a wrong record.
"""

from __future__ import annotations

from typing import Any

from engine.evaluate import reference
from engine.compile.compile import project
from engine.evaluate.durable_adapter import DurableSession
from engine.compile.model import OUTCOME_OF, CompiledPack, Node, Verdict
from engine.core.problems import DecisionError

ENGINES = ("durable", "reference")


def fact_slots(pack: CompiledPack, values: dict[str, Any]) -> dict[str, Any]:
    slots: dict[str, Any] = {}
    for test in pack.tests:
        slots.update(project(test, values.get(test.input)))
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

    def decide(self, values: dict[str, Any]) -> Verdict:
        if self._session is None:
            return reference.evaluate(self.pack, values)
        fired = self._session.decide(fact_slots(self.pack, values))
        return self._verdict(fired)

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
