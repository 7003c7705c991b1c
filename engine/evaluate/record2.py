"""The decision record of one entity under a format-2 pack: typed, frozen, and JSON-able.

It says who did what: every criterion, flag and consequence was decided by durable-rules (or by
the reference evaluator when it was asked for), every value computed by Python, with its steps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any, Mapping

from engine.core.status import Outcome, Status
from engine.core.units import fraction_json
from engine.evaluate.ops import Step

DECIDED_BY = {"durable": "durable-rules", "reference": "reference"}
COMPUTED_BY = "python"


@dataclass(frozen=True)
class Provenance:
    pack_id: str
    pack_version: str
    pack_sha256: str
    pack_file: str
    engine_version: str
    as_of: str
    input_sha256: str  # of the entity's fields as read (canonical JSON)
    # pack.extends (engine.load.variants): every file of the chain with its sha256 (pack_sha256 is
    # then one hash over them), and each replaced or added name with the file it came from
    pack_files: tuple[tuple[str, str], ...] = ()
    replaced: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True)
class CriterionResult:
    id: str
    status: Status
    branch: str | None  # the case taken by a `cases` node (case1, undecided2, otherwise), else None
    decided_by: str  # "durable-rules" (or "reference")
    phase: int
    top: bool  # a top-level criterion (else a part of one)
    title: Mapping[str, str] = field(default_factory=dict)
    cite: str | None = None
    reason: Mapping[str, str] | None = None  # why not applicable
    depth: int = 0  # nesting under its top-level criterion
    # a single comparison: {"name", "op", "value", "unit", "threshold", "param", "values"} (value as read)
    test: Mapping[str, Any] | None = None
    # when unknown: the inputs absent from the data that it needs (through values and linked criteria)
    missing: tuple[str, ...] = ()
    # the pack's 酌情 note ({zh, en}): a criterion the reviewer may judge; a pass resting on one says so
    discretionary: Mapping[str, str] | None = None


@dataclass(frozen=True)
class ValueResult:
    name: str
    value: Any  # Fraction, str, bool, dt.date, or None when unknown
    unit: str | None
    steps: tuple[Step, ...]
    missing: tuple[str, ...]
    reason: Step | None
    op: str
    phase: int
    label: Mapping[str, str] = field(default_factory=dict)
    detail: Mapping[str, Any] = field(default_factory=dict)
    computed_by: str = COMPUTED_BY


def _builder(cls: type) -> Any:
    """A constructor of the frozen dataclass `cls` taking every field positionally, in order: the
    object its __init__ makes (the same fields, equality, repr and pickling, still frozen), with
    the fields set in one step instead of one object.__setattr__ each (a frozen __init__ pays
    that per field: 5.7 µs against 1.8 for a criterion, and a record has dozens)."""
    names = tuple(f.name for f in fields(cls))
    new = object.__new__

    def build(*values: Any) -> Any:
        if len(values) != len(names):
            raise TypeError(f"{cls.__name__} takes {len(names)} fields, {len(values)} given")
        obj = new(cls)
        obj.__dict__.update(zip(names, values))
        return obj

    return build


criterion_result = _builder(CriterionResult)
value_result = _builder(ValueResult)


@dataclass(frozen=True)
class NoteResult:
    """A flag or a consequence."""

    id: str
    kind: str
    status: Status
    decided_by: str
    title: Mapping[str, str] = field(default_factory=dict)
    cite: str | None = None


@dataclass(frozen=True)
class ChoiceInForce:
    name: str
    option: str
    source: str  # "default", "--set", or the overrides file
    default: str
    label: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AwardResult:
    """The entity's award: eligibility decided by durable-rules (the `eligible` criterion), the
    place in the award table and the amount computed by Python."""

    status: str  # "awarded", "pending" (eligibility unknown: the amount is held), "excluded", "none"
    group: str | None
    place: int | None  # the place in the award table (after passing down)
    amount: Fraction | None
    unit: str | None
    title: Mapping[str, str] | None = None
    held: Fraction | None = None  # pending: what it would take
    forfeited: Fraction | None = None  # excluded without pass_down: the award left vacant
    shared_with: int | None = None  # tied on a rank with ties: split: how many share the places' amounts
    computed_by: str = COMPUTED_BY


@dataclass(frozen=True)
class Record2:
    entity_id: str
    entity_name: str | None
    where: str
    provenance: Provenance
    outcome: Outcome | None  # None when the pack names no decision
    decision: str | None  # the criterion whose status is the outcome
    criteria: tuple[CriterionResult, ...]
    values: tuple[ValueResult, ...]
    notes: tuple[NoteResult, ...]
    choices: tuple[ChoiceInForce, ...]
    validity: tuple[Mapping[str, str], ...] = ()  # W180: {"code", "en", "zh"}
    # inputs absent or unusable in the data that a criterion which applies needs (or a value no
    # criterion reads, such as a score): not those of criteria that do not apply
    missing_inputs: tuple[str, ...] = ()
    award: AwardResult | None = None  # when the pack has outcomes.awards

    def criterion(self, ident: str) -> CriterionResult:
        for c in self.criteria:
            if c.id == ident:
                return c
        raise KeyError(ident)

    def value(self, name: str) -> ValueResult:
        for v in self.values:
            if v.name == name:
                return v
        raise KeyError(name)

    def note(self, ident: str) -> NoteResult:
        for n in self.notes:
            if n.id == ident:
                return n
        raise KeyError(ident)

    def statuses(self) -> dict[str, Status]:
        return {c.id: c.status for c in self.criteria}

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (amounts as exact text: "12.5", or "1/3" when not a finite decimal)."""
        return {
            "format": 2,
            "id": self.entity_id,
            "name": self.entity_name,
            "where": self.where,
            "outcome": self.outcome.value if self.outcome else None,
            "decision": self.decision,
            "provenance": {**vars(self.provenance), "pack_files": [list(f) for f in self.provenance.pack_files],
                           "replaced": [dict(r) for r in self.provenance.replaced]},
            "validity": [dict(v) for v in self.validity],
            "choices": [{"name": c.name, "option": c.option, "source": c.source, "default": c.default}
                        for c in self.choices],
            "criteria": [{"id": c.id, "status": c.status.value, "branch": c.branch, "decided_by": c.decided_by,
                          "phase": c.phase, "top": c.top, "depth": c.depth, "title": dict(c.title), "cite": c.cite,
                          **({"discretionary": dict(c.discretionary)} if c.discretionary else {}),
                          **({"reason": dict(c.reason)} if c.reason else {}),
                          **({"test": json_value(c.test)} if c.test else {}),
                          **({"missing": list(c.missing)} if c.missing else {})} for c in self.criteria],
            "values": [{"name": v.name, "value": json_value(v.value), "unit": v.unit, "op": v.op, "phase": v.phase,
                        "computed_by": v.computed_by, "steps": [{"zh": s.zh, "en": s.en} for s in v.steps],
                        "missing": list(v.missing),
                        "reason": {"zh": v.reason.zh, "en": v.reason.en} if v.reason else None,
                        "detail": {k: json_value(x) for k, x in v.detail.items()}} for v in self.values],
            "notes": [{"id": n.id, "kind": n.kind, "status": n.status.value, "decided_by": n.decided_by,
                       "title": dict(n.title), "cite": n.cite} for n in self.notes],
            "missing_inputs": list(self.missing_inputs),
            **({"award": {k: json_value(v) for k, v in vars(self.award).items()}} if self.award else {}),
        }


ORDERED = (">=", ">", "<=", "<")


def comparison_gap(status: Status, test: Mapping[str, Any]) -> Fraction | int | None:
    """How far a comparison durable-rules found not met is from passing (arithmetic, by Python):
    threshold − value for ≥ and >, value − threshold for ≤ and <, in the value's base unit; whole
    days between two dates. None when met, unknown, or not an ordered comparison of two numbers.
    A gap of 0 is a strict comparison (>, <) that the value reaches but must pass."""
    if status is not Status.NOT_MET or test.get("op") not in ORDERED:
        return None
    value, threshold = test.get("value"), test.get("threshold")
    above = test["op"] in (">=", ">")
    if isinstance(value, dt.date) and isinstance(threshold, dt.date):
        return (threshold - value).days if above else (value - threshold).days
    if isinstance(value, bool) or isinstance(threshold, bool) \
            or not isinstance(value, (int, Fraction)) or not isinstance(threshold, (int, Fraction)):
        return None
    return Fraction(threshold) - Fraction(value) if above else Fraction(value) - Fraction(threshold)


def json_value(value: Any) -> Any:
    """A value for JSON, exactly: Fractions as text, dates ISO, lists and mappings element-wise."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, Fraction)):
        return fraction_json(Fraction(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Status):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return str(value)
