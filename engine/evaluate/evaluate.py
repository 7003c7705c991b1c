"""Evaluate stage: normalised values in, a verdict out, decided by durable-rules.

`Decider` turns an entity's values into the engine's fact (see `compile.project`), asks
durable-rules which rules fire, and reads the verdict from the names of the rules that fired.
It checks that exactly one decision and at most one status per criterion fired; anything else
is an engine fault and raises `DecisionError` rather than producing a wrong record.
"""

from __future__ import annotations

from typing import Any

from engine.evaluate import reference
from engine.evaluate.durable_adapter import DurableSession
from engine.evaluate.facts import Projector, applicable_ids
from engine.compile.model import OUTCOME_OF, CompiledPack, Verdict
from engine.core.problems import DecisionError

ENGINES = ("durable", "reference")


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
