"""What it would take, for a format-2 pack: the smallest changes to an entity's data that make its
decision criterion met, each one verified by deciding the changed entity again.

Format 2 puts values (ratios, points, subtotals) between the data and the criteria, so a
requirement found on the criteria tree is often a requirement on a value ("创新能力小计 ≥ 20分"),
not on an input. The search has two steps:

1. The criteria tree of the decision (its stage's compiled form, the same tree durable-rules
   decides) gives the alternatives, exactly as format 1's `engine.explain.whatif._Search` does:
   sets of requirements on slots — an interval for a number, allowed values for yes/no and enums.
2. Each requirement is met through the data: on an input, by the value nearest the current one
   (`whatif._concrete`); on a value, by moving one numeric input the value reads (through other
   values), searched outward from the current figure (doubling, then halving the interval to a
   hundredth of the input's unit — a whole one for counts), Python computing the value at every
   probe. An input read by several values is tried for each alternative separately, so a share
   can be raised by adding S&T staff *or* by lowering total staff.

Only changes whose changed entity really passes are listed (the reference evaluator decides it,
as format 1's suggestions are verified): fewest changed inputs first, none containing another.
A pack whose values read the whole batch (rank, rank points, cohort mean) gets no suggestions,
with the reason: one entity's place depends on every other entity's figures.

Nothing here is specific to a policy: the pack's tree, thresholds and value graph are the only
source. Limits (`MAX_PROBES`) bound the work per entity.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Any, Iterable

from engine.compile.model import MET
from engine.compile.model2 import Pack2
from engine.core.status import Outcome
from engine.core.units import format_amount, fraction_json
from engine.evaluate.record2 import Record2
from engine.evaluate.run2 import Runner, Subject
from engine.explain.whatif import MAX_SUGGESTIONS, OneOf, Option, Range, _concrete, _Search, _show, describe

MAX_PROBES = 1500  # evaluations of one changed entity, per entity
_DOUBLINGS = 64
_NUMERIC = ("money", "count", "percent", "area", "number")
_SYMBOL = {(False, True): "≥", (True, True): ">", (False, False): "≤", (True, False): "<"}


class _SlotRunner(Runner):
    """A Runner that also keeps each entity's slots (inputs, values, statuses as durable reads them)."""

    def __init__(self, pack: Pack2):
        super().__init__(pack, "reference")
        self.slots: dict[str, dict[str, Any]] = {}

    def _record(self, env: Any, award: Any = None) -> Record2:  # type: ignore[override]
        record = super()._record(env, award)
        self.slots[record.entity_id] = dict(env.slots)
        return record


class _Budget(Exception):
    pass


class _Probe:
    """Decides changed copies of one entity, counting the evaluations."""

    def __init__(self, pack: Pack2, subject: Subject):
        self.pack = pack
        self.subject = subject
        self.runner = _SlotRunner(pack)
        self.count = 0

    def run(self, values: dict[str, Any]) -> tuple[Record2, dict[str, Any]]:
        self.count += 1
        if self.count > MAX_PROBES:
            raise _Budget()
        changed = dataclasses.replace(self.subject, values=values)
        record = self.runner.evaluate([changed])[0]
        return record, self.runner.slots[record.entity_id]


def _value_inputs(pack: Pack2, name: str) -> list[str]:
    """The numeric inputs a value reads, directly or through other values, in document order."""
    seen: set[str] = set()
    found: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in pack.values:
            stack.extend(pack.values[current].reads)
        elif current in pack.inputs and pack.inputs[current].type in _NUMERIC:
            found.add(current)
    return [n for n in pack.inputs if n in found]


def _resolution(spec: Any) -> Fraction:
    if spec.type == "count":
        return Fraction(1)
    return (spec.unit.factor if spec.unit is not None else Fraction(1)) / 100


def _search_input(probe: _Probe, values: dict[str, Any], name: str, slot: str, req: Range) -> list[dict[str, Any]]:
    """Values of input `name` nearest its current one that put `slot` in `req` (one per direction)."""
    spec = probe.pack.inputs[name]
    step = _resolution(spec)
    current = values.get(name)
    start = Fraction(current) if current is not None else Fraction(0)
    out = []

    def holds(x: Fraction) -> dict[str, Any] | None:
        trial = dict(values)
        trial[name] = int(x) if spec.type == "count" else x
        _, slots = probe.run(trial)
        return trial if req.contains(slots.get(slot)) else None

    if current is None:
        got = holds(start)
        if got is not None:
            return [got]
    for direction in (1, -1):
        last_bad, first_good, found = start, None, None
        delta = step
        for _ in range(_DOUBLINGS):
            x = start + direction * delta
            if x < 0 and not spec.signed:
                x = Fraction(0)
            if spec.type == "count":
                x = Fraction(math.floor(x) if direction > 0 else math.ceil(x))
            found = holds(x)
            if found is not None:
                first_good = x
                break
            if x == 0 and direction < 0 and not spec.signed:
                break
            last_bad = x
            delta *= 2
        if first_good is None or found is None:
            continue
        # halve the interval between the last failing and the first passing figure
        while abs(first_good - last_bad) > step:
            mid = (first_good + last_bad) / 2
            if spec.type == "count":
                mid = Fraction(math.floor(mid) if direction > 0 else math.ceil(mid))
                if mid in (first_good, last_bad):
                    break
            else:
                mid = (mid / step).__floor__() * step if direction > 0 else (mid / step).__ceil__() * step
                if mid in (first_good, last_bad):
                    break
            got = holds(mid)
            if got is not None:
                first_good, found = mid, got
            else:
                last_bad = mid
        out.append(found)
    return out


def _plans(pack: Pack2, probe: _Probe, values: dict[str, Any], slots: dict[str, Any],
           option: Option) -> list[tuple[dict[str, Any], list[tuple[str, str, Any]]]]:
    """Changed input values that meet every requirement of `option`, each with what each changed
    input was changed for: [(input values, [(input, slot, requirement)])]."""
    plans: list[tuple[dict[str, Any], list[tuple[str, str, Any]]]] = [(dict(values), [])]
    for slot, req in option.needs:
        if req.contains(slots.get(slot)):
            continue
        next_plans = []
        for current, why in plans:
            if slot in pack.inputs:
                spec = pack.inputs[slot]
                changed = dict(current)
                changed[slot] = _concrete(spec, req, current.get(slot))
                next_plans.append((changed, why + [(slot, slot, req)]))
            elif slot in pack.values and isinstance(req, Range):
                for name in _value_inputs(pack, slot):
                    for changed in _search_input(probe, current, name, slot, req):
                        next_plans.append((changed, why + [(name, slot, req)]))
        plans = next_plans[:8]  # a few alternatives per requirement keep the work bounded
        if not plans:
            return []
    return plans


def _requirement_text(pack: Pack2, slot: str, req: Any, lang: str) -> str | None:
    if not isinstance(req, Range):
        return None
    unit = pack.values[slot].unit if slot in pack.values else getattr(pack.inputs.get(slot), "unit", None)
    parts = []
    if req.lo is not None:
        parts.append(f"{_SYMBOL[(req.lo_open, True)]} {req.lo_text or format_amount(req.lo, unit, lang)}")
    if req.hi is not None:
        parts.append(f"{_SYMBOL[(req.hi_open, False)]} {req.hi_text or format_amount(req.hi, unit, lang)}")
    if not parts:
        return None
    if slot in pack.values:
        label = pack.values[slot].label
        name = (label.get(lang) or label.get("zh") or slot) if label else slot
        return f"{name} " + (" 且 " if lang == "zh" else " and ").join(parts)
    return (" 且 " if lang == "zh" else " and ").join(parts)


def _json(spec: Any, value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    number = Fraction(value)
    return fraction_json(number / spec.unit.factor) if spec.unit is not None else fraction_json(number)


def _change(pack: Pack2, name: str, before: Any, after: Any, slot: str, req: Any,
            readers: dict[str, list[str]]) -> dict[str, Any]:
    spec = pack.inputs[name]
    kind = "provide" if before is None else ("attest" if spec.type == "attestation" else "set")
    if spec.type == "enum" and before is not None:
        kind = "reclassify"
    change: dict[str, Any] = {
        "input": name, "label": spec.label, "type": spec.type, "kind": kind,
        "from": _json(spec, before), "to": _json(spec, after),
        "from_text": {lang: _show(spec, before, lang) for lang in ("zh", "en")},
        "to_text": {lang: _show(spec, after, lang) for lang in ("zh", "en")},
        "criteria": readers.get(slot, []),
    }
    if slot != name:
        change["through"] = slot  # the value this input was changed for
    if before is not None and spec.type in _NUMERIC:
        delta = Fraction(after) - Fraction(before)
        change["kind"] = "increase" if delta > 0 else "decrease"
        change["by"] = _json(spec, abs(delta))
        change["by_text"] = {lang: ("+" if delta > 0 else "-") + format_amount(abs(delta), spec.unit, lang)
                             for lang in ("zh", "en")}
    texts = {lang: _requirement_text(pack, slot, req, lang) for lang in ("zh", "en")}
    if texts["zh"]:
        change["requirement_text"] = texts
    return change


def _readers(pack: Pack2) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for stage in pack.stages:
        for node in stage.pack.root.criteria():
            if node.test is not None and node.id and "~" not in node.id:
                out.setdefault(node.test.input, []).append(node.id)
    return out


def what_it_takes2(pack: Pack2, subject: Subject, limit: int = MAX_SUGGESTIONS) -> dict[str, Any]:
    """Verified suggestions that make the entity's decision criterion met (JSON-ready, the shape of
    format 1's `what_it_takes`: options, each with changes, via, discretionary, verified_by)."""
    if pack.cohort():
        return {"options": [], "note": {"zh": "本规则包按批次排名，一个对象的结果取决于其他对象的数据，不给出修改建议",
                                         "en": "this pack ranks the batch: one entity's result depends on the others' "
                                               "figures, so no change is suggested"}}
    if pack.decision is None:
        return {"options": [], "note": {"zh": "规则包未指定结论条件", "en": "the pack names no decision"}}
    probe = _Probe(pack, subject)
    values = dict(subject.values)
    record, slots = probe.run(values)
    if record.outcome is Outcome.PASS:
        return {"options": []}
    stage = next(s for s in pack.stages if pack.decision in s.criteria)
    node = next(n for n in stage.pack.root.criteria() if n.id == pack.decision)
    search = _Search(stage.pack, slots)
    readers = _readers(pack)
    verified: list[tuple[tuple[Any, ...], frozenset[str], tuple[str, ...], dict[str, Any]]] = []
    try:
        for option in search.options(node, MET):
            for changed_values, why in _plans(pack, probe, values, slots, option):
                changed = {n for n in pack.inputs if changed_values.get(n) != values.get(n)}
                if not changed:
                    continue
                outcome, _ = probe.run(changed_values)
                if outcome.outcome is not Outcome.PASS:
                    continue
                keys = frozenset(changed)
                via = tuple(i for i in option.via if i in pack.titles and "~" not in i)
                if any(prev < keys or (prev == keys and prev_via == via) for _, prev, prev_via, _ in verified):
                    continue
                verified = [v for v in verified if not keys < v[1]]
                reason = {name: (slot, req) for name, slot, req in why}
                changes = [_change(pack, n, values.get(n), changed_values[n], *reason.get(n, (n, None)), readers)
                           for n in pack.inputs if n in changed]
                discretionary = any(pack.titles[i].get("discretionary") for i in via)
                entry = {
                    "changes": changes,
                    "via": [{"id": i, "title": pack.titles[i].get("title") or {}, "cite": pack.titles[i].get("cite"),
                             "discretionary": bool(pack.titles[i].get("discretionary"))} for i in via],
                    "discretionary": discretionary, "verified_by": "reference evaluator",
                }
                reclassify = sum(1 for c in changes if c["kind"] == "reclassify")
                verified.append(((len(changed), reclassify, discretionary, len(verified)), keys, via, entry))
    except _Budget:
        pass  # what was verified before the budget ran out is still true
    verified.sort(key=lambda v: v[0])
    result: dict[str, Any] = {"options": [v[3] for v in verified[:limit]]}
    if len(verified) > limit:
        result["more"] = len(verified) - limit
    if not verified:
        result["note"] = {"zh": "没有找到只改数据就能通过的办法", "en": "no change to the data alone was found that makes it pass"}
    if probe.count > MAX_PROBES:
        result["truncated"] = True
    return result


def suggestions2(pack: Pack2, subjects: Iterable[Subject], records: Iterable[Record2]) -> dict[str, dict[str, Any]]:
    """what_it_takes2 for every record that does not pass, by entity id."""
    by_id = {s.id: s for s in subjects}
    return {r.entity_id: what_it_takes2(pack, by_id[r.entity_id]) for r in records
            if r.outcome is not None and r.outcome is not Outcome.PASS and r.entity_id in by_id}





def annotate_what_it_takes(pack: Pack2, subject: Subject, record: Record2) -> dict[str, Any] | None:
    """For engine.evaluate.pipeline.decide_files2(annotate=…): the suggestions of a record that
    does not pass (computed where the entity was decided, in a worker process with --workers)."""
    if record.outcome is None or record.outcome is Outcome.PASS:
        return None
    return what_it_takes2(pack, subject)
__all__ = ["MAX_PROBES", "OneOf", "annotate_what_it_takes", "describe", "suggestions2", "what_it_takes2"]
