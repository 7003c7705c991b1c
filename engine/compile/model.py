"""The compiled form of a rule pack: plain data shared by every later stage.

Both decision paths — durable-rules and the plain-Python reference evaluator — read this one
structure, so a disagreement between them points at the durable compiler, not at two copies of
the policy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from engine.core.units import Unit, iso_date, parse_param_value, parse_unit

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"
STATUSES = (MET, NOT_MET, UNKNOWN)
PASS, FAIL, UNDETERMINED = "pass", "fail", "undetermined"
OUTCOME_OF = {MET: PASS, NOT_MET: FAIL, UNKNOWN: UNDETERMINED}

NUMERIC_TYPES = ("money", "count", "percent", "area")


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: str
    label: dict[str, str]
    unit: Unit | None = None
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    derived: tuple[str, tuple[str, ...]] | None = None  # ("ratio"|"sum"|"difference", operands)
    members: dict[str, "InputSpec"] | None = None  # type "members": the fields of each member record
    signed: bool = False  # may be negative (declared signed: true); else a negative value is a data problem

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_TYPES or self.derived is not None


def member_specs(spec: dict[str, Any]) -> dict[str, InputSpec]:
    """InputSpecs for the fields of a members input (its `fields:` as a pack writes them), which
    engine.evaluate.normalize reads for each member."""
    out = {}
    for name, written in (spec.get("fields") or {}).items():
        unit = parse_unit(written["unit"]) if "unit" in written else None
        out[name] = InputSpec(name, written["type"], written.get("label", {"zh": name}), unit, written.get("values", {}),
                              signed=written.get("signed") is True)
    return out


@dataclass(frozen=True)
class ParamSpec:
    name: str
    label: dict[str, str]
    cite: str
    quote: str | None
    value: Fraction | None  # base units; None when the policy sets no number
    unit: Unit | None
    written: str | None  # as the officer wrote it, e.g. "10亿元"
    since: str | None  # the date this value took effect, when the pack dates its values
    unset_reason: str | None = None
    overridden: str | None = None  # where an override came from (file or --set)
    unset_because: str | None = None  # for a derived threshold: the pack parameter that has no value


@dataclass(frozen=True)
class Test:
    """One comparison. `field` is its slot in the engine's fact."""

    field: str
    input: str
    op: str  # ">=", ">", "<=", "<", "=", "!=", "in", "not_in", "is_true", "is_false", "attested"
    param: str | None = None
    values: tuple[str, ...] = ()
    threshold: Fraction | None = None
    unset: bool = False  # the parameter has no value: the test is unknown whatever the data
    universe: tuple[str, ...] = ()  # for in / not_in: every declared value of the enum
    constant: str | None = None  # met / not_met when fixed at compile time (the as-of date vs a date)


@dataclass(frozen=True)
class Node:
    """A criterion (with an id) or an anonymous condition inside `when`/flags."""

    kind: str  # "test", "all", "any", "at_least", "not", "cases"
    id: str | None = None
    title: dict[str, str] = field(default_factory=dict)
    cite: str | None = None
    discretionary: dict[str, str] | None = None
    note: dict[str, str] | None = None
    test: Test | None = None
    children: tuple["Node", ...] = ()
    k: int = 0
    cases: tuple[tuple["Node", "Node"], ...] = ()
    otherwise: str = NOT_MET
    doc_path: tuple[Any, ...] = ()
    # An `at_least` counted (format 2): its children are decided in an earlier step, Python counts
    # them, and the node is decided on two tests of those counts — (met ≥ k, met + unknown ≥ k) —
    # instead of an expansion over every k of n. The children stay for explanations.
    count: tuple[Test, Test] | None = None

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()
        for when, then in self.cases:
            yield from when.walk()
            yield from then.walk()

    def criteria(self):
        """Nodes with ids, in document order."""
        return [n for n in self.walk() if n.id is not None]


@dataclass(frozen=True)
class Flag:
    id: str
    title: dict[str, str]
    cite: str | None
    note: dict[str, str] | None
    when: Node


@dataclass(frozen=True)
class PackMeta:
    id: str
    version: str
    kind: str
    entity: str
    title: dict[str, str]
    source: dict[str, str]
    effective: str | None
    notes: tuple[str, ...] = ()


@dataclass
class CompiledPack:
    meta: PackMeta
    file: str
    sha256: str
    as_of: dt.date
    inputs: dict[str, InputSpec]
    params: dict[str, ParamSpec]
    root: Node
    flags: tuple[Flag, ...]
    tests: tuple[Test, ...]
    ruleset: dict[str, Any] = field(default_factory=dict)  # durable-rules JSON
    rule_groups: int = 1  # facts asserted per entity (see compile.MAX_FIRINGS_PER_GROUP)
    rule_stats: tuple[int, int] = (0, 0)  # (rules, comparisons) before units were merged (compile._combined)
    rule_meta: dict[str, tuple[str, str, str, str | None]] = field(default_factory=dict)
    targets: tuple[dict[str, Any], ...] = ()  # targets packs: one entry per target node (engine.compile.targets)

    def node(self, node_id: str) -> Node:
        for n in self.root.walk():
            if n.id == node_id:
                return n
        raise KeyError(node_id)


@dataclass
class Verdict:
    """What a decision path decided for one entity: the part the two paths must agree on."""

    outcome: str
    statuses: dict[str, tuple[str, str | None]]  # node id -> (status, branch)
    flags: dict[str, str]  # flag id -> status

    def key(self) -> tuple[Any, ...]:
        return (self.outcome, sorted(self.statuses.items()), sorted(self.flags.items()))


def resolve_param(
    name: str, spec: dict[str, Any], as_of: dt.date, override: tuple[str, Any] | None = None
) -> ParamSpec:
    """The parameter's value in force on `as_of` (or the override an officer supplied)."""
    label, cite, quote = spec["label"], spec["cite"], spec.get("quote")
    written: Any = None
    since: str | None = None
    unset_reason: str | None = spec.get("unset")
    if override is not None:
        origin, written = override
        unset_reason = None
    elif "value" in spec:
        # A blank value (`value: ~`) is refused by validation (E143): "unset" is only ever
        # written out, so a reviewer is never told "the policy sets no number" for a typo.
        written = spec["value"]
    elif "values" in spec:
        in_force = [v for v in spec["values"] if iso_date(v["since"]) <= as_of]  # type: ignore[operator]
        if in_force:
            chosen = max(in_force, key=lambda v: v["since"])
            written, since = chosen["value"], chosen["since"]
        else:
            first = min(v["since"] for v in spec["values"])
            unset_reason = f"no value in force on {as_of.isoformat()} (the first takes effect {first})"
    if written is None:
        return ParamSpec(name, label, cite, quote, None, None, None, since, unset_reason or "unset",
                         unset_because=spec.get("unset_because"))
    value, unit, _ = parse_param_value(written)
    return ParamSpec(
        name, label, cite, quote, value, unit, str(written), since, None,
        override[0] if override else None,
    )
