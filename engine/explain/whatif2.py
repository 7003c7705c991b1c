"""What it would take, for a format-2 pack: the smallest changes to an entity's data that make its
decision criterion met, each one verified by deciding the changed entity again.

Format 2 puts values (ratios, points, subtotals) between the data and the criteria, so a
requirement found on the criteria tree is often a requirement on a value ("创新能力小计 ≥ 20分"),
not on an input. The search has two steps:

1. The criteria tree of the decision (its stage's compiled form, the same tree durable-rules
   decides) gives the alternatives (`engine.explain.requirements.Search`, as format 1's search did):
   sets of requirements on slots — an interval for a number, allowed values for yes/no and enums.
   A requirement on a linked criterion (`{criterion: X}`, X's status read from its slot) is
   replaced by the alternatives of X's own tree, through links of links; one on a lookup-table
   slot (value − the row's threshold) becomes the same bound on the value, moved by the row.
2. Each requirement is met through the data: on an input, by the value nearest the current one
   (`requirements.concrete`); on a value, by moving one numeric input the value reads (through other
   values), searched outward from the current figure (doubling, then halving the interval to a
   hundredth of the input's unit — a whole one for counts), Python computing the value at every
   probe. An input read by several values is tried for each alternative separately, so a share
   can be raised by adding S&T staff *or* by lowering total staff.

Only changes whose changed entity really passes are listed (the reference evaluator decides it,
as format 1's suggestions are verified): fewest changed inputs first, none containing another.
A pack whose values read the whole batch (rank, rank points, cohort mean) gets no suggestions,
with the reason: one entity's place depends on every other entity's figures.

Nothing here is specific to a policy: the pack's tree, thresholds and value graph are the only
source. Limits (`MAX_PROBES`) bound the work per entity. A probe of a value computes only what that
value is made of, and only what the changed input feeds (the Runner's own computations); a search
along an input stops when the value stays unknown for want of figures that input does not feed.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Any, Iterable

from engine.compile.model import MET, NOT_MET
from engine.compile.model2 import Pack2
from engine.core.status import Outcome, Status
from engine.core.units import format_amount, fraction_json
from engine.evaluate.record2 import Record2
from engine.evaluate.run2 import Runner, Subject, _Env
from engine.explain.requirements import OneOf, Option, Range, Search, concrete, input_text, merge

MAX_PROBES = 1500  # evaluations of one changed entity, per entity
MAX_SUGGESTIONS = 5
_MAX_OPTIONS = 32  # alternatives kept while links are followed
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
    """Decides changed copies of one entity, counting the evaluations.

    A search on a value (`_search_input`) asks only for that value at each probe: `value` computes
    just the values it depends on (no criteria stage, no record), which is most of the work saved
    (profiled: a full evaluation with its record and every value's steps was 1.6 ms a probe, ~260
    probes an entity). A value that depends on a criterion is read from a full evaluation."""

    def __init__(self, pack: Pack2, subject: Subject):
        self.pack = pack
        self.subject = subject
        self.runner = _SlotRunner(pack)
        self.count = 0
        self._closures: dict[str, tuple[str, ...] | None] = {}
        self._bases: dict[Any, Any] = {}
        self._down: dict[Any, list[str]] = {}
        self._current: dict[str, Any] = {}  # the data a search starts from (set by _search_input)
        self.searched: dict[Any, list[dict[str, Any]]] = {}  # (input, slot, requirement, data) -> found

    def _tick(self) -> None:
        self.count += 1
        if self.count > MAX_PROBES:
            raise _Budget()

    def run(self, values: dict[str, Any]) -> tuple[Record2, dict[str, Any]]:
        self._tick()
        changed = dataclasses.replace(self.subject, values=values)
        record = self.runner.evaluate([changed])[0]
        return record, self.runner.slots[record.entity_id]

    def closure(self, name: str) -> tuple[str, ...] | None:
        """The values `name` is computed from (itself included) in evaluation order, or None when
        one of them reads a criterion (its status needs the stages decided)."""
        if name not in self._closures:
            seen = _reads(self.pack, name)
            # a criterion's status (a `cases` value's hidden `when` criteria too) needs its stage
            ok = not any(n in self.pack.criteria or n in self.pack.hidden for n in seen)
            self._closures[name] = tuple(n for n in self.pack.values if n in seen) if ok else None
        return self._closures[name]

    def base(self, values: dict[str, Any], slot: str) -> Any:
        """The values of `slot`'s closure computed once for `values`; each probe then recomputes
        only the values downstream of the input it changes."""
        key = (slot, id(values))
        env = self._bases.get(key)
        if env is None or env[0] is not values:
            order = self.closure(slot) or ()
            computed = _Env(self.pack, dataclasses.replace(self.subject, values=values))
            for each in order:
                self.runner._compute(each, [computed])  # the Runner's own computation, value by value
            env = self._bases[key] = (values, computed)
        return env[1]

    def value(self, values: dict[str, Any], slot: str, name: str) -> tuple[Any, tuple[str, ...]]:
        """(the slot of value `slot` as durable-rules would read it, the names it lacks when unknown)
        for `values`, which differ from the search's data only in input `name`."""
        order = self.closure(slot)
        if order is None:
            record, slots = self.run(values)
            return slots.get(slot), ()
        self._tick()
        base = self.base(self._current, slot)
        env = _Env(self.pack, dataclasses.replace(self.subject, values=values))
        env.computed = dict(base.computed)
        env.slots.update({k: v for k, v in base.slots.items() if k in self.pack.values})
        for each in self._downstream(name, order):
            env.slots.pop(each, None)
            self.runner._compute(each, [env])
        done = env.computed.get(slot)
        return env.slots.get(slot), (tuple(done.missing) if done is not None and done.value is None else ())

    def _downstream(self, name: str, order: tuple[str, ...]) -> list[str]:
        """The values of `order` that read input `name`, directly or through each other."""
        key = (name, order)
        if key not in self._down:
            hit = {name}
            for each in order:  # dependencies first
                if any(r in hit for r in self.pack.values[each].reads):
                    hit.add(each)
            self._down[key] = [n for n in order if n in hit]
        return self._down[key]

    def depends(self, name: str, missing: tuple[str, ...]) -> bool:
        """Whether any of `missing` is input `name` or a value computed from it."""
        return any(m == name or (m in self.pack.values and name in _value_inputs(self.pack, m)) for m in missing)


def _reads(pack: Pack2, name: str) -> set[str]:
    """`name` and every name it reads, through values (inputs, parameters, criteria are ends)."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in pack.values:
            stack.extend(pack.values[current].reads)
    return seen


def _value_inputs(pack: Pack2, name: str) -> list[str]:
    """The numeric inputs a value reads, directly or through other values, in document order."""
    seen = _reads(pack, name)
    return [n for n in pack.inputs if n in seen and pack.inputs[n].type in _NUMERIC]


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

    probe._current = values
    hopeless = False

    def holds(x: Fraction) -> dict[str, Any] | None:
        nonlocal hopeless
        trial = dict(values)
        trial[name] = int(x) if spec.type == "count" else x
        got, missing = probe.value(trial, slot, name)
        # unknown for want of figures that `name` does not feed: no figure of `name` makes it known
        hopeless = got is None and bool(missing) and not probe.depends(name, missing)
        return trial if req.contains(got) else None

    if current is None:
        got = holds(start)
        if got is not None:
            return [got]
        if hopeless:
            return out
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
            if hopeless:
                return out
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
                changed[slot] = concrete(spec, req, current.get(slot))
                next_plans.append((changed, why + [(slot, slot, req)]))
            elif slot in pack.values and isinstance(req, Range):
                for name in _value_inputs(pack, slot):
                    key = (name, slot, req, tuple(sorted((k, repr(v)) for k, v in current.items())))
                    if key not in probe.searched:  # the same search for another option: done once
                        probe.searched[key] = _search_input(probe, current, name, slot, req)
                    for changed in probe.searched[key]:
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
        "from_text": {lang: input_text(spec, before, lang) for lang in ("zh", "en")},
        "to_text": {lang: input_text(spec, after, lang) for lang in ("zh", "en")},
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
    """The criteria (shown ids) whose tests read each name; a lookup-table test reads the value it
    compares (its slot holds that value minus the row's threshold). Each id once per name: the
    steps of one phase, and an applicability wrapper with its body, carry the same node."""
    out: dict[str, dict[str, None]] = {}

    def visit(node: Any, owner: str | None, tables: dict[str, Any]) -> None:
        # a test without a shown id of its own (an applicability condition, the body of a
        # criterion that may not apply) is read for the nearest criterion above it that has one
        own = node.id if node.id and "~" not in node.id else owner
        if node.test is not None and own is not None:
            read = node.test.input
            names = (read.split("~")[2:] if read.startswith("~diff~") else
                     [tables[read][0]] if read in tables else [read])
            for name in names:
                out.setdefault(name, {})[own] = None
        for child in node.children:
            visit(child, own, tables)
        for when, then in node.cases:
            visit(when, own, tables)
            visit(then, own, tables)

    for stage in pack.stages:
        visit(stage.pack.root, None, stage.tables)
    return {name: list(ids) for name, ids in out.items()}


_MAX_LINK_DEPTH = 8  # links through links (a chain of criteria, each reading the next)


def _criterion_node(pack: Pack2, name: str) -> tuple[Any, Any]:
    """(the stage deciding top-level criterion `name`, its node there)."""
    stage = next(s for s in pack.stages if name in s.criteria)
    return stage, next(n for n in stage.pack.root.criteria() if n.id == name)


def _table_row(pack: Pack2, table_name: str, slots: dict[str, Any]) -> Fraction | None:
    """The threshold of the entity's row of a lookup table (None: a key not given, a missing row)."""
    table = pack.tables[table_name]
    keys = tuple(slots.get(k) for k in table.keys)
    return None if any(k is None for k in keys) else table.rows.get(keys)


def _resolve(pack: Pack2, slots: dict[str, Any], options: Iterable[Option], depth: int = 0) -> list[Option]:
    """Requirements the data can meet, from requirements on what a stage reads:

    - on a linked criterion's status (`{criterion: X}` reads X's slot, decided in an earlier
      stage): the requirements that give X that status, found on X's own tree, and so on through
      X's links; X is added to the route (`via`);
    - on a lookup-table slot (the compared value minus the row's threshold): the same bound on
      the value, moved by the threshold of the entity's row (unmet when the row cannot be told).
    """
    tables = {slot: spec for stage in pack.stages for slot, spec in stage.tables.items()}
    out: list[Option] = []
    for option in options:
        expanded = [Option((), option.via)]
        for slot, req in option.needs:
            subs: list[Option]
            if slot in pack.criteria and isinstance(req, OneOf) and not req.contains(slots.get(slot)):
                want = MET if Status.MET.value in req.allowed else NOT_MET if Status.NOT_MET.value in req.allowed else None
                if want is None or depth >= _MAX_LINK_DEPTH:
                    expanded = []  # a criterion cannot be made not applicable through its data here
                    break
                stage, node = _criterion_node(pack, slot)
                found = Search(stage.pack, slots).options(node, want)
                subs = [Option(o.needs, (slot,) + o.via) for o in _resolve(pack, slots, found, depth + 1)]
            elif slot.startswith("~diff~") and isinstance(req, Range):
                # a comparison of two names of the entity (`param:` naming a value or input): the
                # slot holds a − b; either one moves, the other kept at its figure
                _, _, a, b = slot.split("~")
                subs = []
                if isinstance(slots.get(b), (int, Fraction)) and not isinstance(slots.get(b), bool):
                    other = Fraction(slots[b])
                    subs.append(Option(((a, Range(None if req.lo is None else req.lo + other, req.lo_open,
                                                  None if req.hi is None else req.hi + other, req.hi_open)),)))
                if isinstance(slots.get(a), (int, Fraction)) and not isinstance(slots.get(a), bool):
                    other = Fraction(slots[a])
                    subs.append(Option(((b, Range(None if req.hi is None else other - req.hi, req.hi_open,
                                                  None if req.lo is None else other - req.lo, req.lo_open)),)))
                if not subs:
                    expanded = []
                    break
            elif slot in tables and isinstance(req, Range):
                value, table_name = tables[slot]
                row = _table_row(pack, table_name, slots)
                if row is None:
                    expanded = []
                    break
                subs = [Option(((value, Range(None if req.lo is None else req.lo + row, req.lo_open,
                                                None if req.hi is None else req.hi + row, req.hi_open)),))]
            else:
                subs = [Option(((slot, req),))]
            expanded = [m for a in expanded for b in subs if (m := merge(a, b)) is not None][:_MAX_OPTIONS]
            if not expanded:
                break
        out.extend(expanded)
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
    search = Search(stage.pack, slots)
    readers = _readers(pack)
    verified: list[tuple[tuple[Any, ...], frozenset[str], tuple[str, ...], dict[str, Any]]] = []
    try:
        for option in _resolve(pack, slots, search.options(node, MET)):
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


def describe(option: dict[str, Any], lang: str = "zh") -> str:
    """One line for a suggestion: "<input label> +<difference> (→ <new value>, ≥ <threshold>) [path: …]"."""
    parts = []
    for c in option["changes"]:
        label = c["label"].get(lang) or c["label"].get("zh") or c["input"]
        to = c["to_text"][lang]
        if c["kind"] in ("increase", "decrease"):
            need = c.get("requirement_text", {}).get(lang)
            parts.append(f"{label} {c['by_text'][lang]} (→ {to}{', ' + need if need else ''})")
        elif c["kind"] == "provide":
            need = c.get("requirement_text", {}).get(lang)
            word = "提供" if lang == "zh" else "provide"
            parts.append(f"{word} {label}: {need or to}")
        else:
            parts.append(f"{label}: {c['from_text'][lang]} → {to}")
    joiner = "; " if lang == "en" else ";"
    text = joiner.join(parts)
    if option.get("via"):
        path = " → ".join((v["title"].get(lang) or v["title"].get("zh") or v["id"]) for v in option["via"])
        text += f" [{'路径' if lang == 'zh' else 'path'}: {path}]"
    if option.get("discretionary"):
        text += " [酌情条款]" if lang == "zh" else " [discretionary]"
    return text


__all__ = ["MAX_PROBES", "MAX_SUGGESTIONS", "OneOf", "annotate_what_it_takes", "describe", "suggestions2", "what_it_takes2"]
