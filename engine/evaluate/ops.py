"""Computing format-2 values: one function per operation, keyed as in `engine.compile.ops`.

A value is arithmetic, so Python computes it, exactly (Fraction), and says how in `steps`; the
yes/no questions that read it are decided by durable-rules afterwards. A value that cannot be
computed is unknown (`value=None`) and names what is missing or why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import FrozenInstanceError, dataclass, field
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


class Step:
    """One line of a value's trace, ready to show: "8 ÷ 40 = 20%", "落在 [20%, 25%) 档：12分".

    `Step(zh, en)` holds the text; `Step.later(make, *args)` holds what it is made of and writes
    it (`make(*args) -> (zh, en)`) the first time `zh` or `en` is read: a decisions table reads
    no step, and writing every amount of every step in words was a third of computing a value
    (issue 14). `make` reads only its arguments (a closure is refused: the variables it would read
    may change before the text is written), and the arguments must not change afterwards (values,
    tuples, the pack's own records; never the entity's Env). Either way a step is the same value:
    equal, hashed, shown and pickled by its text, and read-only."""

    __slots__ = ("_zh", "_en", "_make")

    def __init__(self, zh: str, en: str) -> None:
        set_ = object.__setattr__
        set_(self, "_zh", zh)
        set_(self, "_en", en)
        set_(self, "_make", None)

    @classmethod
    def later(cls, make: Callable[..., tuple[str, str]], *args: Any) -> "Step":
        if make.__closure__ is not None:
            raise TypeError(f"a step's text ({make.__qualname__}) must take what it reads as arguments, not read "
                            "variables that may change before it is written")
        step = object.__new__(cls)
        set_ = object.__setattr__
        set_(step, "_zh", None)
        set_(step, "_en", None)
        set_(step, "_make", (make, args))
        return step

    def _write(self) -> None:
        made = self._make
        if made is not None:
            zh, en = made[0](*made[1])
            set_ = object.__setattr__
            set_(self, "_zh", zh)
            set_(self, "_en", en)
            set_(self, "_make", None)

    @property
    def zh(self) -> str:
        if self._make is not None:
            self._write()
        return self._zh  # type: ignore[return-value]

    @property
    def en(self) -> str:
        if self._make is not None:
            self._write()
        return self._en  # type: ignore[return-value]

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.zh, self.en) == (other.zh, other.en)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.zh, self.en))

    def __repr__(self) -> str:
        return f"Step(zh={self.zh!r}, en={self.en!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Step, (self.zh, self.en))


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
