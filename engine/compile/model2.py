"""The compiled form of a format-2 pack (docs/format2.md): typed, frozen where it can be.

A pack is evaluated in stages. Phases alternate: values (computed by Python) in even phases,
criteria (decided by durable-rules) in odd phases. Each criteria stage is an ordinary format-1
`CompiledPack` whose "inputs" are the inputs, values and earlier criteria it reads, so the one
durable compiler, the one adapter and the one reference evaluator decide every yes/no.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from engine.compile.model import CompiledPack, InputSpec, ParamSpec
from engine.compile.ops import OpArgs
from engine.core.units import Unit

FORMAT2 = 2
# The id given to the body of a `cases` criterion that may not apply (its wrapper holds the id).
CASES_BODY = "~cases"


@dataclass(frozen=True)
class PackMeta2:
    id: str
    version: str
    entity: str
    title: dict[str, str]
    source: dict[str, str]
    effective: str | None = None
    until: str | None = None
    superseded_by: str | None = None
    notes: tuple[str, ...] = ()
    kind: str = "format2"  # read by format-1 code that labels packs (there is no kind in format 2)


@dataclass(frozen=True)
class ChoiceDef:
    """An open point of the policy and the option in force (`source`: "default", "--set" or a file)."""

    name: str
    label: dict[str, str]
    cite: str | None
    options: dict[str, dict[str, str]]
    default: str
    reason: str
    option: str
    source: str


@dataclass(frozen=True)
class ValueDef:
    name: str
    label: dict[str, str]
    unit: Unit | None
    op: str  # the operation key (ratio, bands, rank, ...)
    args: OpArgs
    reads: tuple[str, ...]
    cohort: bool
    points: bool
    phase: int
    path: tuple[Any, ...]
    cite: str | None = None


@dataclass(frozen=True)
class Applicability:
    """A criterion that may not apply: its `cases` wrapper's "otherwise" branch means not applicable."""

    id: str
    reason: dict[str, str]


@dataclass(frozen=True)
class NoteRule:
    """A flag or a consequence: a yes/no over any name that does not change the outcome."""

    id: str
    kind: str  # "flag" or "consequence"
    title: dict[str, str]
    cite: str | None
    note: dict[str, str] | None
    phase: int


@dataclass(frozen=True)
class AwardPlace:
    place: int
    amount: Fraction
    title: dict[str, str] | None = None


@dataclass(frozen=True)
class AwardsDef:
    """`outcomes.awards`: amounts by place within a group, for entities the `eligible` criterion
    admits (decided by durable-rules); amounts are Python's. `pass_down`: when an entity is not
    eligible, the next eligible one takes its place in the award table (else the award stays vacant)."""

    place: str  # a rank value
    eligible: str | None  # a criterion
    pass_down: bool
    pass_down_choice: str | None  # the choice that set it, if any
    within: str | None  # the input that splits the batch into groups (the rank's `within`)
    by_group: dict[str, tuple[AwardPlace, ...]]
    total: Fraction | None
    unit: Unit | None
    cite: str | None = None


@dataclass(frozen=True)
class Count:
    """An `at_least` decided from counts (K3: at least 4 of 8 services). Its children are decided
    by durable-rules in an earlier step of the phase; Python counts them (not applicable counts as
    not met) into two slots, `low` = met and `high` = met + unknown; durable-rules then decides
    the node on `low ≥ k` (met) and `high ≥ k` (else not met). `level`: 0 when no counted
    at_least lies inside its children, else one more than the deepest inside."""

    id: str
    k: int
    children: tuple[str, ...]  # ids of the children (anonymous ones get ids with "~")
    low: str  # slot names
    high: str
    level: int
    below: tuple[str, ...]  # every id inside the children: dropped when the node itself does not apply


@dataclass
class CriteriaStage:
    """One durable ruleset: the criteria (and flags, consequences) of one phase."""

    phase: int
    criteria: tuple[str, ...]  # top-level criteria decided here
    notes: tuple[str, ...]  # flag / consequence ids decided here
    pack: CompiledPack  # root: an anonymous `all` of the criteria (its own status is not used)
    applicability: dict[str, Applicability] = field(default_factory=dict)
    # A comparison with a lookup-table parameter reads a slot Python fills before the stage is
    # decided: slot -> (the value compared, the table); the slot holds value − the row's threshold.
    tables: dict[str, tuple[str, str]] = field(default_factory=dict)
    # A phase with counted at_least nodes is decided in steps (several stages of one phase, in
    # order): the children of level-0 counts, then of level 1, ..., then the phase's criteria.
    # `counts`: every Count of the phase; `count_level`: the level counted before this step (-1: none).
    counts: tuple[Count, ...] = ()
    count_level: int = -1
    # A comparison of two names of the entity (`{value: a, op: ">=", param: b}` in a `cases`
    # condition, where b is a value or an input): slot -> (a, b); Python fills the slot with
    # a − b and durable-rules compares it with 0, as for a lookup table.
    diffs: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class MemberRules:
    """The `where:` of a count / total / share, compiled into a durable ruleset of its own over
    the fields of one member: each member is one fact, its yes/no decided by durable-rules (the
    reference evaluator in a reference run); Python only counts and adds. The ruleset's one
    criterion is `WHERE`."""

    value: str
    members: str  # the members input
    pack: CompiledPack
    # slot -> (member field, name of the entity): field − the entity's value (compared with 0)
    diffs: dict[str, tuple[str, str]] = field(default_factory=dict)


WHERE = "~where"
# `placed_last`: the one criterion of its ruleset, over the one slot BEHIND (how many places the
# entity is above the last place of its group: 0 when it is last), decided by durable-rules.
LAST, BEHIND = "~last", "~behind"


@dataclass
class Pack2:
    meta: PackMeta2
    file: str
    sha256: str
    as_of: dt.date
    inputs: dict[str, InputSpec]
    params: dict[str, ParamSpec]
    choices: dict[str, ChoiceDef]
    values: dict[str, ValueDef]  # in evaluation order (dependencies first)
    criteria: dict[str, int]  # top-level criterion -> its phase
    stages: list[CriteriaStage]
    decision: str | None
    notes: dict[str, NoteRule]
    titles: dict[str, dict[str, Any]]  # criterion id (nested too) -> {"title", "cite", "top"}
    format: int = FORMAT2
    warnings: list[Any] = field(default_factory=list)  # Problems that do not stop evaluation (W180 …)
    variant: Any = None  # engine.load.variants.Variant when the pack extends another (set by the loader)
    # engine.validate.dialect1.Read1 when the file is a format-1 pack converted on load (set by the
    # loader): its renamed criteria, for a format-1 suite's expectations
    format1: Any = None
    awards: AwardsDef | None = None
    tables: dict[str, Any] = field(default_factory=dict)  # lookup-table parameters (build2.Table)
    rule_groups: int = 1  # read by format-1 helpers that size work; stages carry their own
    # Hidden criteria: the `when` of each case of a `cases` value, named `~when~VALUE~N`, decided
    # by durable-rules in a stage like any criterion, never shown as a criterion (name -> phase).
    hidden: dict[str, int] = field(default_factory=dict)
    member_rules: dict[str, MemberRules] = field(default_factory=dict)  # value name -> its where ruleset
    last_rules: dict[str, CompiledPack] = field(default_factory=dict)  # placed_last value -> its ruleset

    @property
    def phases(self) -> int:
        top = ([v.phase for v in self.values.values()] + list(self.criteria.values()) + list(self.hidden.values())
               + [n.phase for n in self.notes.values()])
        return max(top, default=0) + 1

    def cohort(self) -> bool:
        """Whether some value reads the whole batch (so entities are evaluated together)."""
        return any(v.cohort for v in self.values.values())
