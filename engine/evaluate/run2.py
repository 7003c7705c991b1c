"""Evaluate stage, format 2: a batch of entities through the phases of a `Pack2`.

Phases alternate (engine.compile.model2): in an even phase Python computes the values of that
phase, in dependency order, exactly and traced (`COMPUTE`, engine.evaluate.ops); in an odd phase
durable-rules decides the criteria, flags and consequences of that phase from one fact per
entity whose slots hold the inputs, the values and the statuses decided before. A value that
reads the whole batch (`OpDef.cohort`: rank, rank_points, cohort_mean) is a barrier: the batch is
evaluated phase by phase and value by value, so every entity has everything the cohort value
reads before it is computed over all of them.

`engine="reference"` decides the same compiled stages with the plain-Python reference evaluator
instead of durable-rules; the tests demand identical records from both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Mapping, Sequence

import engine.evaluate.points  # noqa: F401  (fills COMPUTE with the points operations)
import engine.evaluate.values  # noqa: F401  (fills COMPUTE with the value operations)
from engine import ENGINE_VERSION
from engine.compile.model import Node
from engine.compile.model2 import BEHIND, CASES_BODY, LAST, WHERE, CriteriaStage, MemberRules, Pack2
from engine.core.problems import DecisionError, Problem
from engine.core.status import Outcome, Status
from engine.evaluate import reference
from engine.evaluate.durable_adapter import DurableSession
from engine.evaluate.facts import Projector, applicable_ids, fact_slots
from engine.evaluate.normalize import normalise
from engine.evaluate.ops import COMPUTE, COMPUTE_COHORT, Computed
from engine.evaluate.record2 import (COMPUTED_BY, DECIDED_BY, AwardResult, ChoiceInForce, NoteResult, Provenance, Record2,
                                     comparison_gap, criterion_result, value_result)
from engine.load.data import RawEntity

ENGINES = ("durable", "reference")
OUTCOME_OF = {Status.MET: Outcome.PASS, Status.NOT_MET: Outcome.FAIL, Status.UNKNOWN: Outcome.UNDETERMINED,
              # a decision criterion that does not apply decides nothing
              Status.NOT_APPLICABLE: Outcome.UNDETERMINED}


@dataclass
class Subject:
    """One entity to evaluate: its normalised input values (engine.evaluate.normalize forms:
    amounts as Fractions in base units, counts as int, dates as ordinals, members as records)."""

    id: str
    values: dict[str, Any]
    name: str | None = None
    where: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)  # as read, for the input hash
    notes: Mapping[str, str] = field(default_factory=dict)  # input -> why it is missing
    # attestation -> who attested, when, under which document ({by, date, ref, note}), as read
    evidence: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def subject_of(pack: Pack2, entity: RawEntity) -> tuple[Subject, list[Problem]]:
    """A data row read by engine.load.data, normalised to the pack's inputs."""
    normalised = normalise(pack, entity)  # type: ignore[arg-type]  (reads only .inputs)
    return (Subject(entity.id, normalised.values, entity.name, f"{entity.file}:{entity.line}", entity.fields,
                    normalised.notes, normalised.evidence), normalised.problems)


def subjects_from_dicts(pack: Pack2, rows: Iterable[Mapping[str, Any]], file: str = "<data>") -> tuple[list[Subject], list[Problem]]:
    """Rows written as in a YAML data file ({id, name?, field: value …}), normalised."""
    out, problems = [], []
    for i, row in enumerate(rows, start=1):
        fields = {k: v for k, v in row.items() if k not in ("id", "name")}
        entity = RawEntity(file, i, str(row.get("id", f"#{i}")), row.get("name"), fields)
        subject, found = subject_of(pack, entity)
        out.append(subject)
        problems += found
    return out, problems


class _Env:
    """One entity during its evaluation: the Env an operation's compute reads
    (engine.evaluate.ops.Env), and the slots durable-rules reads."""

    def __init__(self, pack: Pack2, subject: Subject):
        self.pack = pack
        self.subject = subject
        self.as_of: dt.date = pack.as_of
        self.entity_id = subject.id
        self.slots: dict[str, Any] = dict(subject.values)
        self.slots["as_of"] = Fraction(pack.as_of.toordinal())
        for name, choice in pack.choices.items():
            self.slots[name] = choice.option
        self.computed: dict[str, Computed] = {}
        self.decided_by = "durable-rules"  # who decides yes/no for this run (set by the Runner)
        self.verdicts: dict[str, list[Status] | None] = {}  # member rules -> each member's status
        self.statuses: dict[str, tuple[Status, str | None, int]] = {}  # id -> (status, branch, phase)
        self.notes: dict[str, Status] = {}

    def get(self, name: str) -> Any:
        pack = self.pack
        if name == "as_of":
            return self.as_of
        if name in pack.values:
            done = self.computed.get(name)
            # a lower bound (points with a figure scored 0) is not the value: read it with lower_bound
            return done.value if done is not None and not done.missing else None
        if name in pack.params:
            return pack.params[name].value
        if name in pack.choices:
            return pack.choices[name].option
        if name in self.statuses:
            return self.statuses[name][0]
        if name in pack.criteria:
            return None  # not decided yet: the dependency order never asks this
        spec = pack.inputs.get(name)
        if spec is None:
            raise KeyError(name)
        return _env_value(spec, self.subject.values.get(name))

    def member_verdicts(self, rules: str) -> list[Status] | None:
        """Whether each member meets a count's `where`, as durable-rules decided it (None: the
        member list is unknown)."""
        if rules not in self.verdicts:
            raise DecisionError(f"the members of {rules!r} were not decided before the value was computed")
        return self.verdicts[rules]

    def detail(self, name: str) -> Mapping[str, Any]:
        """The facts a value's computation recorded (a rank's `last`, `of`, `provisional`)."""
        done = self.computed.get(name)
        return done.detail if done is not None else {}

    def lower_bound(self, name: str) -> tuple[Any, tuple[str, ...]] | None:
        """(value, the names it lacks) of a value that is a lower bound (engine.evaluate.points)."""
        done = self.computed.get(name)
        if done is None or done.value is None or not done.missing:
            return None
        return done.value, tuple(done.missing)

    def set_value(self, name: str, computed: Computed) -> None:
        self.computed[name] = computed
        value = computed.value
        if value is None or computed.missing:  # unknown, or a lower bound: durable-rules sees it unknown
            self.slots.pop(name, None)
        elif isinstance(value, dt.date):
            self.slots[name] = Fraction(value.toordinal())
        else:
            self.slots[name] = value

    def set_status(self, ident: str, status: Status, branch: str | None, phase: int) -> None:
        self.statuses[ident] = (status, branch, phase)
        if ident in self.pack.criteria:
            # A linked criterion reads "met", "not_met", "not_applicable"; unknown is the missing slot.
            if status is Status.UNKNOWN:
                self.slots.pop(ident, None)
            else:
                self.slots[ident] = status.value


def _env_value(spec: Any, value: Any) -> Any:
    """An input as an operation reads it: Fraction, str, bool, dt.date, list of member dicts."""
    if value is None:
        return None
    if spec.type == "date":
        return dt.date.fromordinal(int(value))
    if spec.type == "members":
        out = []
        for member in value:
            row: dict[str, Any] = {"name": member["name"]}
            for fname, fspec in (spec.members or {}).items():
                row[fname] = _env_value(fspec, member["values"].get(fname))
            out.append(row)
        return out
    if type(value) is int:
        return _fraction_of(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    return value


_WHOLE: dict[int, Fraction] = {}  # the Fraction of each whole number met (counts repeat); bounded


def _fraction_of(value: int) -> Fraction:
    """Fraction(value), made once per number: a Fraction is immutable, and an entity's counts are
    read several times (by the values, the test views) and repeat from entity to entity."""
    known = _WHOLE.get(value)
    if known is None:
        if len(_WHOLE) > 65_536:
            _WHOLE.clear()
        known = _WHOLE[value] = Fraction(value)
    return known


class Runner:
    """Evaluates batches with one compiled pack (one durable session per criteria stage)."""

    def __init__(self, pack: Pack2, engine: str = "durable"):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}")
        self.pack = pack
        self.engine = engine
        self.decided_by = DECIDED_BY[engine]
        self._sessions = {
            id(stage): DurableSession(stage.pack.ruleset, f"{pack.meta.id}-p{stage.phase}-{stage.count_level + 1}",
                                      groups=stage.pack.rule_groups)
            for stage in pack.stages} if engine == "durable" else {}
        self._member_sessions = {
            key: DurableSession(rules.pack.ruleset, f"{pack.meta.id}-{key}-members", groups=rules.pack.rule_groups)
            for key, rules in pack.member_rules.items()} if engine == "durable" else {}
        self._last_sessions = {key: DurableSession(lpack.ruleset, f"{pack.meta.id}-{key}-last")
                               for key, lpack in pack.last_rules.items()} if engine == "durable" else {}
        self._order = {ident: i for i, ident in enumerate(pack.titles)}  # records list criteria in document order
        self._na_reason = {ident: a.reason for stage in pack.stages for ident, a in stage.applicability.items()}
        # every criterion node by id (an applicability wrapper under its own id), for what each needs
        self._nodes: dict[str, Node] = {}
        for stage in pack.stages:
            for node in stage.pack.root.walk():
                if node.id is not None:
                    self._nodes.setdefault(node.id, node)
        self._unread_values = _values_no_criterion_reads(pack, self._nodes)
        # every input each node (and each name) could need, whatever the entity: a node none of
        # whose inputs is absent needs nothing, and is not walked (`_needs`)
        self._reach: dict[Any, frozenset[str]] = {}
        for stage in pack.stages:
            for node in stage.pack.root.walk():
                self._node_reach(node)
        # nodes whose needs are their inputs that are absent, with no walk: every test below them
        # reads an input itself (no value, linked criterion, table or difference between) and no
        # `cases` picks a part; the ids below them, any of which, not applicable, is walked instead
        self._plain: dict[int, tuple[str, ...]] = {}
        for stage in pack.stages:
            for node in stage.pack.root.walk():
                self._plain_ids(node)
        # Per-pack constants, built once (not per entity): the fact's projection of each stage,
        # the static part of each criterion's test view, the choices and W180 notes every record
        # repeats, and how each fired set of rules reads (see `_read_fired`).
        self._projectors = {id(stage): Projector(stage.pack) for stage in pack.stages} if engine == "durable" else {}
        self._fired_read: dict[tuple[int, tuple[str, ...]], tuple[tuple[tuple[str, Status, str | None], ...],
                                                                    tuple[tuple[str, Status], ...]]] = {}
        self._views = {ident: self._static_view(info.get("test")) for ident, info in pack.titles.items()}
        # what the pack says of each criterion, read once: (top, title, cite, depth, discretionary,
        # its lookup table, why it may not apply, its node, the static part of its test view)
        self._static: dict[str, tuple[Any, ...]] = {}
        for ident, info in pack.titles.items():
            table = info.get("table")
            self._static[ident] = (bool(info.get("top")), info.get("title") or None, info.get("cite"), info.get("depth", 0),
                                   info.get("discretionary"), pack.tables.get(table) if isinstance(table, str) else None,
                                   self._na_reason.get(ident), self._nodes.get(ident), self._views.get(ident))
        # each set of criteria decided, in document order with their static parts (see `_record`)
        self._sorted: dict[tuple[str, ...], list[tuple[str, tuple[Any, ...]]]] = {}
        self._choices = tuple(ChoiceInForce(c.name, c.option, c.source, c.default, c.label) for c in pack.choices.values())
        self._validity = tuple({"code": p.code, "en": p.message, "zh": p.message_zh or p.message}
                               for p in pack.warnings if p.code == "W180")
        variant = pack.variant
        self._variant: tuple[tuple[tuple[str, str], ...], tuple[dict[str, str], ...]] = ((), ())
        if variant is not None:
            self._variant = (tuple(zip(variant.files, variant.sha256s)),
                             tuple({"section": r.section, "name": r.name, "from": r.base_file, "in": r.variant_file}
                                   for r in variant.replaced)
                             + tuple({"section": a.section, "name": a.name, "added_in": a.file} for a in variant.added))

    def evaluate(self, subjects: Sequence[Subject]) -> list[Record2]:
        """Every subject's record, in order. The batch is one cohort for rank-like values."""
        pack = self.pack
        envs = [_Env(pack, s) for s in subjects]
        for env in envs:
            env.decided_by = self.decided_by
        stages: dict[int, list[CriteriaStage]] = {}  # a phase with counted at_least nodes has several steps
        for stage in pack.stages:
            stages.setdefault(stage.phase, []).append(stage)
        by_phase: dict[int, list[str]] = {}
        for name, v in pack.values.items():  # already in dependency order
            by_phase.setdefault(v.phase, []).append(name)
        for phase in range(pack.phases):
            for name in by_phase.get(phase, ()):
                self._compute(name, envs)
            for env in envs:
                for stage in stages.get(phase, ()):
                    self._count(stage, env)
                    self._decide(stage, env)
                if stages.get(phase):
                    self._drop_unapplied(stages[phase][-1], env)
        awards = self._awards(envs) if pack.awards is not None else {}
        return [self._record(env, awards.get(id(env))) for env in envs]

    def _awards(self, envs: list[_Env]) -> dict[int, AwardResult]:
        """Amounts by place within each group, in place order over the entities that may take one
        (the `eligible` criterion, decided by durable-rules; unknown holds the award, pending, as
        does a provisional place). Entities tied on a rank whose ties are `split` share the
        amounts of the places they occupy, in equal parts (format 1's total_ties: split)."""
        a = self.pack.awards
        assert a is not None
        unit = a.unit.name if a.unit else None
        groups: dict[str | None, list[_Env]] = {}
        for env in envs:
            key = env.get(a.within) if a.within else (next(iter(a.by_group)) if len(a.by_group) == 1 else None)
            groups.setdefault(key, []).append(env)
        out: dict[int, AwardResult] = {}
        for key, members in groups.items():
            table = {p.place: p for p in a.by_group.get(str(key), ())} if key is not None else {}

            def state(env: _Env) -> str:
                status = env.statuses.get(a.eligible, (Status.UNKNOWN, None, 0))[0] if a.eligible else Status.MET
                if status is Status.NOT_MET:
                    return "excluded"
                # the entity's own place is provisional (format 1 holds these): ranked on a lower
                # bound, or its `last` undecided; a place provisional only because another entity
                # could not be ranked is paid
                detail = env.computed[a.place].detail if a.place in env.computed else {}
                own = bool(detail.get("lacking")) or ("forced_last" in detail and detail["forced_last"] is None)
                return "pending" if status is Status.UNKNOWN or own else "eligible"

            def split(env: _Env) -> bool:
                place = env.computed.get(a.place)
                return place is not None and place.detail.get("ties") == "split"

            # Each place read once; the contenders' places sorted once: an award place is 1 + how
            # many contenders are placed strictly better (a bisect), the tied ones a second (n log n).
            at = {id(e): e.get(a.place) for e in members}
            ranked = [e for e in members if at[id(e)] is not None]
            states = {id(e): state(e) for e in ranked}
            contenders = sorted(at[id(e)] for e in ranked if not (a.pass_down and states[id(e)] == "excluded"))
            table_places = sorted(table)
            for env in members:
                mine = at[id(env)]
                if mine is None:
                    out[id(env)] = AwardResult("none", key, None, None, unit)
                    continue
                st = states[id(env)]
                if st == "excluded" and a.pass_down:
                    out[id(env)] = AwardResult("excluded", key, None, None, unit)
                    continue
                place = 1 + bisect_left(contenders, mine)
                entry = table.get(place)
                title = entry.title if entry else None
                amount = entry.amount if entry else None
                shared_with = None
                if split(env):
                    tied = (bisect_right(contenders, mine) - bisect_left(contenders, mine)) or 1
                    occupied = [table[p].amount for p in table_places if place <= p < place + tied]
                    amount = sum(occupied, Fraction(0)) / tied if occupied else None
                    shared_with = tied if tied > 1 else None
                if st == "excluded":
                    out[id(env)] = AwardResult("excluded", key, place, None, unit, title, forfeited=amount)
                elif amount is None:
                    out[id(env)] = AwardResult("none", key, None, None, unit)
                elif st == "pending":
                    out[id(env)] = AwardResult("pending", key, place, None, unit, title, held=amount)
                else:
                    out[id(env)] = AwardResult("awarded", key, place, amount, unit, title, shared_with=shared_with)
        return out

    def _members(self, rules: MemberRules, env: _Env) -> list[Status] | None:
        """Each member's yes/no on a count's `where`: one fact per member, its fields as slots
        (and field − the entity's value for a comparison with a name of the entity), decided by
        durable-rules (the reference evaluator in a reference run) on the compiled ruleset."""
        items = env.subject.values.get(rules.members)
        if not isinstance(items, list):
            return None
        out = []
        for item in items:
            slots = dict(item.get("values") or {}) if isinstance(item, Mapping) else {}
            for slot, (member_field, name) in rules.diffs.items():
                a, b = slots.get(member_field), env.slots.get(name)
                if _numeric(a) and _numeric(b):
                    slots[slot] = Fraction(a) - Fraction(b)
            if self.engine == "reference":
                status = reference.evaluate(rules.pack, slots).statuses[WHERE][0]
            else:
                fired = self._member_sessions[rules.value].decide(fact_slots(rules.pack, slots))
                found = {rules.pack.rule_meta[r][2] for r in fired if rules.pack.rule_meta[r][0] == "node"}
                if len(found) != 1:
                    raise DecisionError(f"the member condition of {rules.value!r} fired {sorted(found) or 'nothing'}")
                status = found.pop()
            out.append(Status(status))
        return out

    def _last(self, name: str, envs: list[_Env]) -> None:
        """`placed_last`: Python finds the last place of each group of the rank (the largest place
        held in it) and how far above it each entity is; durable-rules decides whether that is 0."""
        value = self.pack.values[name]
        of = value.args.of  # type: ignore[attr-defined]
        places: list[tuple[Any, Fraction] | None] = []
        lowest: dict[Any, Fraction] = {}
        for env in envs:
            place, detail = env.get(of), env.detail(of)
            if not _numeric(place) or "group" not in detail:
                places.append(None)
                continue
            group = detail["group"]
            places.append((group, Fraction(place)))
            lowest[group] = max(lowest.get(group, Fraction(place)), Fraction(place))
        lpack = self.pack.last_rules[name]
        for env, held in zip(envs, places):
            if held is None:
                env.verdicts[name] = None
                continue
            slots = {BEHIND: lowest[held[0]] - held[1]}
            if self.engine == "reference":
                status = reference.evaluate(lpack, slots).statuses[LAST][0]
            else:
                fired = self._last_sessions[name].decide(fact_slots(lpack, slots))
                found = {lpack.rule_meta[r][2] for r in fired if lpack.rule_meta[r][0] == "node"}
                if len(found) != 1:
                    raise DecisionError(f"placed_last {name!r} fired {sorted(found) or 'nothing'}")
                status = found.pop()
            env.verdicts[name] = [Status(status)]

    def _compute(self, name: str, envs: list[_Env]) -> None:
        value = self.pack.values[name]
        rules = self.pack.member_rules.get(name)
        if rules is not None:
            for env in envs:
                env.verdicts[name] = self._members(rules, env)
        if name in self.pack.last_rules:
            self._last(name, envs)
        try:
            if value.cohort:
                results = COMPUTE_COHORT[value.op](value.args, envs)
                if len(results) != len(envs):
                    raise DecisionError(f"value {name!r}: {value.op} gave {len(results)} results for {len(envs)} entities")
            else:
                compute = COMPUTE[value.op]
                results = [compute(value.args, env) for env in envs]
        except KeyError as error:
            raise DecisionError(f"value {name!r}: no compute registered for operation {value.op!r} ({error})") from error
        for env, result in zip(envs, results):
            env.set_value(name, result)

    def _row(self, table_name: str, env: _Env) -> tuple[tuple[Any, ...], Fraction | None]:
        """The entity's keys into a lookup table and the threshold of that row (None: a key not
        given, or a row the policy lacks)."""
        table = self.pack.tables[table_name]
        keys = tuple(env.get(k) for k in table.keys)
        if any(k is None for k in keys):
            return keys, None
        return keys, table.rows.get(keys)

    def _fill_tables(self, stage: CriteriaStage, env: _Env) -> None:
        """Arithmetic before the stage is decided: each table comparison's slot is the value minus
        its row's threshold (durable-rules compares it with 0), or empty (unknown)."""
        for slot, (name, table_name) in stage.tables.items():
            value = env.get(name)
            _, threshold = self._row(table_name, env)
            if value is None or threshold is None or isinstance(value, (Status, str, bool, dt.date)):
                env.slots.pop(slot, None)
            else:
                env.slots[slot] = Fraction(value) - threshold
        for slot, (a, b) in stage.diffs.items():  # a − b, compared with 0 by durable-rules
            left, right = env.slots.get(a), env.slots.get(b)
            if _numeric(left) and _numeric(right):
                env.slots[slot] = Fraction(left) - Fraction(right)
            else:
                env.slots.pop(slot, None)

    def _count(self, stage: CriteriaStage, env: _Env) -> None:
        """Arithmetic between two steps of a phase: for each at_least of the level just decided,
        how many children are met (low) and how many are met or unknown (high). Not met and not
        applicable do not count. Durable-rules then decides the node on these counts."""
        for count in stage.counts:
            if count.level != stage.count_level:
                continue
            statuses = [env.statuses.get(c, (Status.UNKNOWN, None, 0))[0] for c in count.children]
            met = sum(1 for st in statuses if st is Status.MET)
            unknown = sum(1 for st in statuses if st is Status.UNKNOWN)
            env.slots[count.low] = met
            env.slots[count.high] = met + unknown

    @staticmethod
    def _drop_unapplied(stage: CriteriaStage, env: _Env) -> None:
        """The children of a counted at_least were decided before it; when the at_least itself does
        not apply (a case not taken), neither do they: their statuses are dropped, outer ones first."""
        for count in sorted(stage.counts, key=lambda c: -c.level):
            if count.id not in env.statuses:
                for ident in count.below:
                    env.statuses.pop(ident, None)

    # distinct fired sets read per stage and kept (a pack has few: one per combination of outcomes)
    READ_CACHE = 4096

    def _decide(self, stage: CriteriaStage, env: _Env) -> None:
        spack = stage.pack
        self._fill_tables(stage, env)
        if self.engine == "reference":
            verdict = reference.evaluate(spack, env.slots)
            sets, notes = self._reading(stage, dict(verdict.statuses), dict(verdict.flags))
        else:
            sets, notes = self._read_fired(stage, tuple(self._sessions[id(stage)].decide(
                self._projectors[id(stage)](env.slots))))
        phase = stage.phase
        for ident, st, branch in sets:
            env.set_status(ident, st, branch, phase)
        for ident, status in notes:
            env.notes[ident] = status

    def _reading(self, stage: CriteriaStage, statuses: Mapping[str, tuple[str, str | None]],
                 flags: Mapping[str, str]) -> tuple[tuple[tuple[str, Status, str | None], ...], tuple[tuple[str, Status], ...]]:
        """The statuses (id, status, branch) and notes a stage's decision sets, in order."""
        bodies = {i[:-len(CASES_BODY)]: b for i, (_, b) in statuses.items() if i.endswith(CASES_BODY)}
        counted = {c for count in stage.counts for c in (count.id, *count.children)}  # kept: counts read them
        sets = []
        for ident, (status, branch) in statuses.items():
            if ident.endswith(CASES_BODY):
                continue  # the branch of a `cases` criterion that may not apply: shown on the criterion
            if "~" in ident and ident not in stage.applicability and ident not in counted and ident not in self.pack.hidden:
                continue  # an anonymous `cases` node's own branch (build2 `_Tests.anonymous`)
            st = Status(status)
            applicability = stage.applicability.get(ident)
            if applicability is not None and branch == "otherwise":
                st, branch = Status.NOT_APPLICABLE, None
            elif applicability is not None:
                # the wrapper's own branch is not the policy's; a `cases` body's branch is
                branch = bodies.get(ident) if branch == "case1" else branch
            sets.append((ident, st, branch))
        return tuple(sets), tuple((ident, Status(status)) for ident, status in flags.items())

    def _read_fired(self, stage: CriteriaStage, fired: tuple[str, ...]) -> tuple[tuple[tuple[str, Status, str | None], ...],
                                                                                 tuple[tuple[str, Status], ...]]:
        """What the rules durable-rules fired for one entity say. The reading (and every check of
        `_durable`) is a function of the fired set alone, so each distinct set is read and checked
        once and kept (bounded: past READ_CACHE sets, each is read anew)."""
        key = (id(stage), fired)
        known = self._fired_read.get(key)
        if known is None:
            known = self._reading(stage, *self._durable(stage, fired))
            if len(self._fired_read) < self.READ_CACHE:
                self._fired_read[key] = known
        return known

    def _durable(self, stage: CriteriaStage, fired: Sequence[str]) -> tuple[dict[str, tuple[str, str | None]], dict[str, str]]:
        spack = stage.pack
        statuses: dict[str, tuple[str, str | None]] = {}
        flags: dict[str, str] = {}
        for rule in fired:
            what, ident, status, branch = spack.rule_meta[rule]
            if what == "group":
                continue
            if what == "node":
                if statuses.get(ident, (status, branch)) != (status, branch):
                    raise DecisionError(f"criterion {ident} fired twice: {statuses[ident]} and {status}")
                statuses[ident] = (status, branch)
            elif what == "flag":
                if flags.get(ident, status) != status:
                    raise DecisionError(f"{ident} fired as {flags[ident]} and {status}")
                flags[ident] = status
            else:
                raise DecisionError(f"unexpected rule {rule!r} in a format-2 stage")
        missing_flags = [f.id for f in spack.flags if f.id not in flags]
        if missing_flags:
            raise DecisionError(f"no rule fired for {missing_flags}")
        expected = applicable_ids(spack.root, statuses)
        missing = [i for i in expected if i not in statuses]
        if missing:
            raise DecisionError(f"no status fired for applicable criterion {missing[0]!r}")
        extra = sorted(set(statuses) - set(expected))
        if extra:
            raise DecisionError(f"a status fired for criterion {extra[0]!r}, which does not apply")
        return statuses, flags

    def _table_reason(self, table: Any, env: _Env) -> dict[str, str] | None:
        """Why a comparison with a lookup table is unknown: a key not given, or a row the policy lacks."""
        keys = tuple(env.get(k) for k in table.keys)
        missing = [k for k, v in zip(table.keys, keys) if v is None]
        if missing:
            labels = [(self.pack.inputs[k].label if k in self.pack.inputs else {"zh": k}) for k in missing]
            return {"zh": "缺少" + "、".join(lab.get("zh", k) for lab, k in zip(labels, missing)) + "，无法确定适用的标准",
                    "en": f"{', '.join(missing)} not given: the threshold that applies is unknown"}
        why = table.missing.get(keys) or table.missing.get(keys[:1])
        if why:
            return {"zh": why, "en": f"the policy gives no threshold for {' × '.join(keys)}: {why}"}
        return None

    def _name_reach(self, name: str) -> frozenset[str]:
        """Every input `name` reads, through values, linked criteria, tables and differences."""
        known = self._reach.get(name)
        if known is not None:
            return known
        self._reach[name] = frozenset()  # the names form no cycle; this only stops a repeat
        pack = self.pack
        out: frozenset[str] = frozenset()
        if name.startswith("~diff~"):
            _, _, a, b = name.split("~")
            out = self._name_reach(a) | self._name_reach(b)
        elif name.startswith("~table:"):
            _, table, value = name.split(":", 2)
            out = self._name_reach(value).union(*(self._name_reach(k) for k in pack.tables[table].keys))
        elif name in pack.inputs:
            out = frozenset((name,))
        elif name in pack.values:
            out = out.union(*(self._name_reach(r) for r in pack.values[name].reads))
        elif (name in pack.criteria or name in pack.hidden) and name in self._nodes:
            out = self._node_reach(self._nodes[name])
        self._reach[name] = out
        return out

    def _node_reach(self, node: Node) -> frozenset[str]:
        known = self._reach.get(id(node))
        if known is not None:
            return known
        out: frozenset[str] = frozenset()
        if node.kind == "test":
            if node.test is not None and not (node.test.unset or node.test.input.startswith("~count:")):
                out = self._name_reach(node.test.input)
        else:
            out = out.union(*(self._node_reach(c) for c in node.children),
                            *(self._node_reach(p) for pair in node.cases for p in pair))
        self._reach[id(node)] = out
        return out

    def _plain_ids(self, node: Node) -> tuple[str, ...] | None:
        """The ids in a node's subtree when its needs are read off its inputs (see `_plain`), else None."""
        key = id(node)
        if key in self._plain:
            return self._plain[key]
        pack = self.pack
        ids: tuple[str, ...] | None = (node.id,) if node.id is not None else ()
        if node.kind == "test":
            test = node.test
            if test is None or not (test.unset or test.input.startswith("~count:") or (
                    test.input in pack.inputs and test.input not in pack.values and test.input not in pack.params
                    and test.input not in pack.choices and test.input not in pack.criteria)):
                ids = None
        elif node.kind == "cases" or node.cases:
            ids = None
        else:
            for child in node.children:
                below = self._plain_ids(child)
                ids = None if below is None or ids is None else ids + below
        if ids is not None:
            self._plain[key] = ids
        return ids

    def _absent(self, name: str, env: _Env, memo: dict[Any, frozenset[str]]) -> frozenset[str]:
        """The inputs absent from the data behind `name`: the input itself, the missing operands of
        an unknown value (down to inputs), what an unknown linked criterion needs, a table's value
        and keys. Parameters, choices and the as-of date are never missing from the data.
        `memo` holds what each name and node of this entity needs (each is worked out once)."""
        known = memo.get(name)
        if known is not None:
            return known
        memo[name] = frozenset()  # the names form no cycle; this only stops a repeat while working
        pack = self.pack
        out: frozenset[str] = frozenset()
        if name.startswith("~diff~"):
            _, _, a, b = name.split("~")
            out = self._absent(a, env, memo) | self._absent(b, env, memo)
        elif name.startswith("~table:"):
            _, table, value = name.split(":", 2)
            out = self._absent(value, env, memo).union(*(self._absent(k, env, memo) for k in pack.tables[table].keys))
        elif name in pack.inputs:
            out = frozenset((name,)) if env.get(name) is None else out
        elif name in pack.values:
            done = env.computed.get(name)
            if done is not None and done.value is None:
                out = out.union(*(self._absent(m, env, memo) for m in done.missing))
        elif (name in pack.criteria or name in pack.hidden) and name in self._nodes:
            status = env.statuses.get(name)
            if status is not None and status[0] is Status.UNKNOWN:
                out = self._needs(self._nodes[name], env, memo)
        memo[name] = out
        return out

    def _needs(self, node: Node, env: _Env, memo: dict[Any, frozenset[str]]) -> frozenset[str]:
        """The absent inputs a criterion node reads where it applies: a part that does not apply,
        or a case not taken, is left out."""
        key = id(node)
        known = memo.get(key)
        if known is not None:
            return known
        out: frozenset[str] = frozenset()
        reach = self._reach.get(key)
        if reach is not None and reach.isdisjoint(memo[None]):
            memo[key] = out  # none of the inputs it could need is absent
            return out
        plain = self._plain.get(key)
        if plain is not None and reach is not None:
            statuses = env.statuses
            if not any(i in statuses and statuses[i][0] is Status.NOT_APPLICABLE for i in plain):
                memo[key] = out = reach & memo[None]  # the inputs its tests read that are absent
                return out
        status = env.statuses.get(node.id) if node.id is not None else None
        if status is not None and status[0] is Status.NOT_APPLICABLE:
            pass
        elif node.kind == "test":
            assert node.test is not None
            if not (node.test.unset or node.test.input.startswith("~count:")):
                out = self._absent(node.test.input, env, memo)
        elif node.kind == "cases":
            branch = status[1] if status is not None and node.id not in self._na_reason else None
            whens, thens = [w for w, _ in node.cases], [t for _, t in node.cases]
            if branch and branch.startswith("case"):
                n = int(branch[4:])
                parts = whens[:n] + [thens[n - 1]]
            elif branch and branch.startswith("undecided"):
                parts = whens[:int(branch[9:])]
            elif branch == "otherwise":
                parts = whens
            else:  # an applicability wrapper that applies, or an internal node whose branch is not kept
                parts = whens + thens
            out = out.union(*(self._needs(part, env, memo) for part in parts))
        else:
            out = out.union(*(self._needs(child, env, memo) for child in node.children))
        memo[key] = out
        return out

    def _static_view(self, test: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
        """The parts of a criterion's test view that are the pack's (the same for every entity):
        (name, op, where its value is read from, unit, table, the items after the unit)."""
        if not test:
            return None
        name = test["name"]
        pack = self.pack
        # where `_Env.get` finds the name (values, then choices, then inputs), read directly
        source = ("value" if name in pack.values else "choice" if name in pack.choices
                  else "input" if name in pack.inputs else None)
        tail: list[tuple[str, Any]] = []
        if test.get("threshold") is not None:
            threshold = test["threshold"]
            if pack.inputs.get(name) is not None and pack.inputs[name].type == "date":
                threshold = dt.date.fromordinal(int(threshold))
            tail.append(("threshold", threshold))
        if test.get("param"):
            tail.append(("param", test["param"]))
        return (name, test["op"], source, unit_name(pack, name), test.get("table"), tuple(tail), test.get("values"),
                test.get("written"))

    def _test_view(self, env: _Env, status: Status, static: tuple[Any, ...]) -> dict[str, Any]:
        """What a comparison compared, for explanations: the value as read, the threshold in force
        (and as the policy writes it), how far a comparison not met is from passing, and the
        evidence given with an attestation. `static`: the criterion's part from `_views`."""
        name, op, source, unit, table, tail, values, written = static
        value: Any = None
        if source == "value":
            done = env.computed.get(name)
            value = done.value if done is not None and not done.missing else None
        elif source == "input":
            raw = env.subject.values.get(name)
            value = None if raw is None else _env_value(self.pack.inputs[name], raw)
        elif source == "choice":
            value = self.pack.choices[name].option
        if isinstance(value, Status):
            value = value.value
        out = {"name": name, "op": op, "value": value, "unit": unit}
        if table:  # the row of the entity's keys, and its threshold when the policy gives one
            keys, threshold = self._row(table, env)
            out["row"] = [k for k in keys]
            if threshold is not None:
                out["threshold"] = threshold
        out.update(tail)
        if values:
            out["values"] = list(values)
        if written:
            out["written"] = written
        gap = comparison_gap(status, out) if status is Status.NOT_MET else None
        if gap is not None:
            out["gap"] = gap
        evidence = env.subject.evidence.get(name) if env.subject.evidence else None
        if evidence:
            out["evidence"] = dict(evidence)
        return out

    def _unlisted(self, ident: str) -> tuple[Any, ...]:
        """The static parts of a decided id the pack lists no title for (a hidden criterion)."""
        return (False, None, None, 0, None, None, self._na_reason.get(ident), self._nodes.get(ident), None)

    def _record(self, env: _Env, award: AwardResult | None = None) -> Record2:
        pack = self.pack
        subject = env.subject
        criteria = []
        order = self._order
        # what each criterion needs, worked out once per node; nothing when no input is absent
        # (every name `_absent` gives back is an input the data lacks)
        absent = frozenset(name for name in pack.inputs if subject.values.get(name) is None)
        memo: dict[Any, frozenset[str]] = {None: absent}
        keys = tuple(env.statuses)
        plan = self._sorted.get(keys)
        if plan is None:  # the criteria in document order: one sort per set of criteria decided
            plan = [(k, self._static.get(k) or self._unlisted(k)) for k in sorted(keys, key=lambda k: order.get(k, len(order)))
                    if "~" not in k]  # internal: anonymous nodes the pack gives no id
            if len(self._sorted) < self.READ_CACHE:
                self._sorted[keys] = plan
        statuses = env.statuses
        decided_by = self.decided_by
        unknown, not_applicable = Status.UNKNOWN, Status.NOT_APPLICABLE
        for ident, (top, title, cite, depth, discretionary, table, na_reason, node, view) in plan:
            status, branch, phase = statuses[ident]
            reason = None
            if status is not_applicable:
                reason = na_reason
            elif status is unknown and table is not None:
                reason = self._table_reason(table, env)
            missing: tuple[str, ...] = ()
            if absent and status is unknown and node is not None:
                missing = tuple(sorted(self._needs(node, env, memo)))
            criteria.append(criterion_result(ident, status, branch, decided_by, phase, top,
                                             title if title is not None else {}, cite, reason, depth,
                                             self._test_view(env, status, view) if view else None, missing,
                                             discretionary))
        values = []
        for name, computed in env.computed.items():
            v = pack.values[name]
            values.append(value_result(name, computed.value, v.unit.name if v.unit else None, tuple(computed.steps),
                                       tuple(computed.missing), computed.reason, v.op, v.phase, v.label,
                                       dict(computed.detail), COMPUTED_BY))
        notes = tuple(NoteResult(i, pack.notes[i].kind, st, self.decided_by, pack.notes[i].title, pack.notes[i].cite)
                      for i, st in env.notes.items())
        outcome = None
        if pack.decision is not None:
            status = env.statuses.get(pack.decision, (Status.UNKNOWN, None, 0))[0]
            outcome = OUTCOME_OF[status]
        provenance = Provenance(pack.meta.id, pack.meta.version, pack.sha256, pack.file, ENGINE_VERSION,
                                pack.as_of.isoformat(), input_sha256(subject.fields or subject.values),
                                *self._variant)
        needed: set[str] = set()
        if absent:
            for name in pack.criteria:
                if name in self._nodes and name in env.statuses:
                    needed.update(self._needs(self._nodes[name], env, memo))
            for name in self._unread_values:
                needed.update(self._absent(name, env, memo))
        missing = tuple(sorted(needed))
        return Record2(subject.id, subject.name, subject.where, provenance, outcome, pack.decision, tuple(criteria),
                       tuple(values), notes, self._choices, self._validity, missing, award)


def _values_no_criterion_reads(pack: Pack2, nodes: Mapping[str, Node]) -> tuple[str, ...]:
    """Values that no criterion reads, even through other values (scores, totals, places)."""
    reached: set[str] = set()
    todo = [name for node in nodes.values() for n in node.walk() if n.test is not None
            for name in (n.test.input.split("~")[2:] if n.test.input.startswith("~diff~") else [n.test.input.split(":")[-1]])]
    while todo:
        name = todo.pop()
        if name in reached or name not in pack.values:
            continue
        reached.add(name)
        todo.extend(pack.values[name].reads)
    return tuple(n for n in pack.values if n not in reached)


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, Fraction)) and not isinstance(value, bool)


def unit_name(pack: Pack2, name: str) -> str | None:
    """The unit of a value, input or parameter of the pack, by name (None when it has none)."""
    if name in pack.values:
        unit = pack.values[name].unit
    elif name in pack.inputs:
        unit = pack.inputs[name].unit
    elif name in pack.params:
        unit = pack.params[name].unit
    else:
        unit = None
    return unit.name if unit else None


def input_sha256(fields: Mapping[str, Any]) -> str:
    """The hash of an entity's fields as read: canonical JSON, keys sorted, exact text of numbers."""
    text = json.dumps(fields, ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def evaluate2(pack: Pack2, subjects: Sequence[Subject], engine: str = "durable") -> list[Record2]:
    """Convenience: one Runner, one batch."""
    return Runner(pack, engine).evaluate(subjects)

