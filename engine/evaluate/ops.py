"""Computing format-2 values: one function per operation, keyed as in `engine.compile.ops`.

A value is arithmetic, so Python computes it, exactly (Fraction), and says how in `steps`; the
yes/no questions that read it are decided by durable-rules afterwards. A value that cannot be
computed is unknown (`value=None`) and names what is missing or why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Mapping, Protocol, Sequence

from engine.compile.ops import OpArgs


class Env(Protocol):
    """One entity at one point of its evaluation."""

    as_of: dt.date
    entity_id: str

    def get(self, name: str) -> Any:
        """The current value of a name: Fraction (numbers, points, ranks), str (enum, choice
        option), bool (boolean, attestation), dt.date, list[dict[str, Any]] (members, each
        field normalised to its declared type), engine.core.status.Status (criteria), or None
        when unknown. Parameters give their value in force (Fraction or None when unset)."""
        ...

    def member_verdicts(self, rules: str) -> Sequence[Any] | None:
        """For a count / total / share with `where:` (its `rules` key): each member's status
        (engine.core.status.Status), decided by durable-rules on the compiled member ruleset
        before the value is computed; None when the member list is unknown. For `placed_last`:
        one status, whether the entity's place is the last of its group."""
        ...


@dataclass(frozen=True)
class Step:
    """One line of a value's trace, ready to show: "8 ÷ 40 = 20%", "落在 [20%, 25%) 档：12分"."""

    zh: str
    en: str


@dataclass(frozen=True)
class Computed:
    value: Any  # Fraction, or None when unknown
    steps: tuple[Step, ...] = ()
    missing: tuple[str, ...] = ()  # input names whose absence made it unknown
    reason: Step | None = None  # why unknown when nothing is missing (分母为0, the row of a table is missing)
    detail: Mapping[str, Any] = field(default_factory=dict)  # structured facts for views and suites: band, cap_applied, taken, place…


Compute = Callable[[OpArgs, Env], Computed]
ComputeCohort = Callable[[OpArgs, Sequence[Env]], list[Computed]]

COMPUTE: dict[str, Compute] = {}
COMPUTE_COHORT: dict[str, ComputeCohort] = {}


def computes(key: str) -> Callable[[Compute], Compute]:
    def register(fn: Compute) -> Compute:
        if key in COMPUTE:
            raise ValueError(f"operation {key!r} computed twice")
        COMPUTE[key] = fn
        return fn

    return register


def computes_cohort(key: str) -> Callable[[ComputeCohort], ComputeCohort]:
    def register(fn: ComputeCohort) -> ComputeCohort:
        if key in COMPUTE_COHORT:
            raise ValueError(f"operation {key!r} computed twice")
        COMPUTE_COHORT[key] = fn
        return fn

    return register
