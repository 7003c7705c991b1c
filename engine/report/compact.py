"""Compact decision records (issue 14: `certify evaluate --trace compact`) for format-2 packs, the
compact JSON documents of both formats, and their expansion back to the full ones
(`certify explain RECORDS --rules PACK`).

A full format-2 record (engine.evaluate.record2 `Record2.as_dict`) repeats for every entity what
the pack says: each criterion's title, citation, phase, depth and the static part of its test,
each value's unit, operation and phase, each flag's title. A compact record keeps what was
decided and computed for this entity and names the pack by its sha256 (`provenance.pack_sha256`):

    criteria: [{"id", "status", "branch"?, "value"?, "row"?, "threshold"? (a table row's), "gap"?,
                "reason"? (why unknown), "missing"?}]
    values:   [{"name", "value", "steps"?, "missing"?, "reason"?, "detail"?}]
    notes:    [{"id", "status"}]

plus the record's provenance, choices, validity, missing inputs, award, headline and
what-it-takes as in the full record, and `decided_by` once. `gap` (how far a comparison not met
is from its threshold, in the value's base unit; whole days for dates) and an attestation's
`evidence` (issuing unit, date, document number) are the entity's: kept here, put back into the
test of the full record; the threshold as the policy writes it and a criterion's 酌情 note are the
pack's. Expansion puts the pack's parts back in the full record's
key order, so the expanded document is the full one byte for byte (tests/test_compact.py).
Values keep their steps (the arithmetic of this entity, in words): recomputing them would be a
second evaluation, not an expansion.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from fractions import Fraction
from json.encoder import encode_basestring as _encode  # the C one when available, as json.dumps uses
from typing import Any, Iterable, Iterator, Mapping, TextIO

from engine.compile.model2 import Pack2
from engine.core.problems import Problem
from engine.core.status import Status
from engine.evaluate.record2 import COMPUTED_BY, Record2, json_value
from engine.evaluate.run2 import unit_name
from engine.explain.compact import COMPACT_EVALUATION_SCHEMA, CompactExplainer
from engine.explain.explain2 import criterion_nodes, fails_only_on_group_minimum, headline, labelled_step
from engine.core.jsontext import RawJSON, dumps_indented
from engine.report.format2_views import OUTPUT_SCHEMA2, decision_json2, discretionary_met_ids
from engine.report.text import OUTPUT_SCHEMA, encode_record, stream_evaluation_json

COMPACT_EVALUATION_SCHEMA2 = "certify.evaluation.compact/2"
TRACES = ("full", "compact")


class Static2:
    """What a format-2 pack says about each criterion, value and note, once per pack: the parts a
    compact record leaves out and an expansion puts back."""

    def __init__(self, pack: Pack2):
        self.pack = pack
        self.phase: dict[str, int] = {}
        for stage in pack.stages:
            for node in stage.pack.root.walk():
                if node.id is not None:
                    self.phase.setdefault(node.id, stage.phase)
        self.na_reason = {ident: a.reason for stage in pack.stages for ident, a in stage.applicability.items()}
        self.nodes = criterion_nodes(pack)
        self.texts: dict[Any, str] = {}  # the pack's part of each criterion, encoded (`_criteria_text`)

    def award_title(self, group: Any, place: Any) -> Any:
        """The title of a place in the award table of a group (None: no such place)."""
        awards = self.pack.awards
        if awards is None or group is None or place is None:
            return None
        for entry in awards.by_group.get(str(group), ()):
            if str(entry.place) == str(place):
                return json_value(entry.title)
        return None

    def test(self, ident: str, compact: Mapping[str, Any]) -> dict[str, Any] | None:
        """The criterion's test as the full record shows it (engine.evaluate.run2 `_test_view`)."""
        spec = self.pack.titles.get(ident, {}).get("test")
        if not spec:
            return None
        name = spec["name"]
        out: dict[str, Any] = {"name": name, "op": spec["op"], "value": compact.get("value"),
                               "unit": unit_name(self.pack, name)}
        if spec.get("table"):
            out["row"] = compact.get("row")
            if "threshold" in compact:
                out["threshold"] = compact["threshold"]
        if spec.get("threshold") is not None:
            threshold = spec["threshold"]
            if self.pack.inputs.get(name) is not None and self.pack.inputs[name].type == "date":
                threshold = dt.date.fromordinal(int(threshold))
            out["threshold"] = json_value(threshold)
        if spec.get("param"):
            out["param"] = spec["param"]
        if spec.get("values"):
            out["values"] = list(spec["values"])
        if spec.get("written"):
            out["written"] = spec["written"]
        if compact.get("gap") is not None:
            out["gap"] = json_value(compact["gap"])
        if compact.get("evidence"):
            out["evidence"] = dict(compact["evidence"])
        return out


def gap_of(c: Any) -> Any:
    """How far a comparison not met is from its threshold (base unit, exact text; whole days for
    dates), as the record has it (engine.evaluate.record2 `comparison_gap`), or None."""
    gap = (c.test or {}).get("gap")
    if gap is None:
        return None
    return gap if isinstance(gap, int) else json_value(gap)  # days stay a number, amounts exact text


def compact_record2(rec: Record2, static: Static2, wit: Any = None) -> dict[str, Any]:
    """The compact form of one format-2 record (see the module docstring)."""
    pack = static.pack
    full_prov = rec.provenance
    decided_by = rec.criteria[0].decided_by if rec.criteria else (rec.notes[0].decided_by if rec.notes else None)
    criteria = []
    for c in rec.criteria:
        item: dict[str, Any] = {"id": c.id, "status": c.status.value}
        if c.branch is not None:
            item["branch"] = c.branch
        if c.test:
            if c.test.get("value") is not None:
                item["value"] = json_value(c.test["value"])
            if "row" in c.test:
                item["row"] = json_value(c.test["row"])
                if "threshold" in c.test:
                    item["threshold"] = json_value(c.test["threshold"])
            gap = gap_of(c)
            if gap is not None:
                item["gap"] = gap
            if c.test.get("evidence"):  # the entity's: who attested, when, under which document
                item["evidence"] = dict(c.test["evidence"])
        if c.reason and c.status is not Status.NOT_APPLICABLE:
            item["reason"] = dict(c.reason)
        if c.missing:
            item["missing"] = list(c.missing)
        criteria.append(item)
    values = []
    for v in rec.values:
        item = {"name": v.name, "value": json_value(v.value)}
        if v.steps:
            item["steps"] = [{"zh": s.zh, "en": s.en} for s in v.steps]
        if v.missing:
            item["missing"] = list(v.missing)
        if v.reason:
            item["reason"] = {"zh": v.reason.zh, "en": v.reason.en}
        if v.detail:
            item["detail"] = {k: json_value(x) for k, x in v.detail.items()}
        values.append(item)
    out: dict[str, Any] = {
        "format": 2, "trace": "compact", "id": rec.entity_id, "name": rec.entity_name, "where": rec.where,
        "outcome": rec.outcome.value if rec.outcome else None, "decision": rec.decision,
        "provenance": {**vars(full_prov), "pack_files": [list(f) for f in full_prov.pack_files],
                       "replaced": [dict(r) for r in full_prov.replaced]},
        "validity": [dict(v) for v in rec.validity],
        "choices": [{"name": c.name, "option": c.option, "source": c.source, "default": c.default} for c in rec.choices],
        "decided_by": decided_by,
        "criteria": criteria,
        "values": values,
        "notes": [{"id": n.id, "status": n.status.value} for n in rec.notes],
        "missing_inputs": list(rec.missing_inputs),
    }
    if rec.award is not None:  # the award's title is the award table's (the pack's), by group and place
        out["award"] = {k: json_value(x) for k, x in vars(rec.award).items() if k != "title"}
    if wit is not None:
        out["what_it_takes"] = wit
    out["headline"] = headline(pack, rec, static.nodes)
    out["fails_only_on_group_minimum"] = fails_only_on_group_minimum(pack, rec, static.nodes)
    return out


def expand_record2(compact: Mapping[str, Any], static: Static2) -> dict[str, Any]:
    """The full record (`Record2.as_dict` with the headline, as `certify evaluate --format json`
    writes it) of a compact one."""
    pack = static.pack
    decided_by = compact.get("decided_by")
    criteria = []
    for c in compact["criteria"]:
        ident = c["id"]
        info = pack.titles.get(ident, {})
        status = c["status"]
        reason = static.na_reason.get(ident) if status == Status.NOT_APPLICABLE.value else c.get("reason")
        test = static.test(ident, c)
        criteria.append({"id": ident, "status": status, "branch": c.get("branch"), "decided_by": decided_by,
                         "phase": static.phase.get(ident, 0), "top": bool(info.get("top")), "depth": info.get("depth", 0),
                         "title": dict(info.get("title") or {}), "cite": info.get("cite"),
                         **({"discretionary": dict(info["discretionary"])} if info.get("discretionary") else {}),
                         **({"reason": dict(reason)} if reason else {}),
                         **({"test": test} if test else {}),
                         **({"missing": list(c["missing"])} if c.get("missing") else {})})
    values = []
    for v in compact["values"]:
        name = v["name"]
        spec = pack.values[name]
        # the steps and reason as every view shows them: inputs and values named by their labels
        # (engine.report.format2_views `decision_dict`), from the steps as computed
        steps = [{lang: labelled_step(pack, name, step[lang], lang) for lang in ("zh", "en")} for step in v.get("steps", [])]
        reason = v.get("reason")
        if reason:
            reason = {lang: labelled_step(pack, name, reason[lang], lang) for lang in ("zh", "en")}
        values.append({"name": name, "value": v["value"], "unit": spec.unit.name if spec.unit else None,
                       "op": spec.op, "phase": spec.phase, "computed_by": COMPUTED_BY, "steps": steps,
                       "missing": list(v.get("missing", [])), "reason": reason, "detail": dict(v.get("detail", {})),
                       # a number that names what it lacks is only a lower bound (explain2 `is_lower_bound`)
                       "lower_bound": v["value"] is not None and bool(v.get("missing"))})
    notes = [{"id": n["id"], "kind": pack.notes[n["id"]].kind, "status": n["status"], "decided_by": decided_by,
              "title": dict(pack.notes[n["id"]].title), "cite": pack.notes[n["id"]].cite} for n in compact["notes"]]
    out: dict[str, Any] = {
        "format": 2, "id": compact["id"], "name": compact["name"], "where": compact["where"],
        "outcome": compact["outcome"], "decision": compact["decision"], "provenance": compact["provenance"],
        "validity": compact["validity"], "choices": compact["choices"], "criteria": criteria, "values": values,
        "notes": notes, "missing_inputs": compact["missing_inputs"],
    }
    if "award" in compact:
        award = dict(compact["award"])
        out["award"] = {**{k: award[k] for k in ("status", "group", "place", "amount", "unit")},
                        "title": static.award_title(award.get("group"), award.get("place")),
                        **{k: v for k, v in award.items() if k not in ("status", "group", "place", "amount", "unit")}}
    out["discretionary_met"] = discretionary_met_ids(criteria)
    if "what_it_takes" in compact:
        out["what_it_takes"] = compact["what_it_takes"]
    out["headline"] = compact["headline"]
    out["fails_only_on_group_minimum"] = compact["fails_only_on_group_minimum"]
    return out


_STATICS: dict[int, Static2] = {}


def static2(pack: Pack2) -> Static2:
    """The pack's `Static2`, built once per pack in each process (a worker renders many chunks)."""
    found = _STATICS.get(id(pack))
    if found is None or found.pack is not pack:
        if len(_STATICS) >= 8:  # a long-running process sees few packs; never many kept
            _STATICS.clear()
        found = _STATICS[id(pack)] = Static2(pack)
    return found


Rendered = tuple[str | None, str]  # (outcome, the decision's JSON text)


def render_compact2(pack: Pack2, rec: Record2, wit: Any = None) -> Rendered:
    """A decision of the compact document, encoded (engine.evaluate.pipeline `decide_files2(render=…)`:
    done where the entity was decided, a worker process with --workers)."""
    body = compact_record2(rec, static2(pack), wit)
    return body["outcome"], json.dumps(body, ensure_ascii=False)


def render_full2(pack: Pack2, rec: Record2, wit: Any = None) -> Rendered:
    """A decision of the full document (engine.report.format2_views `decision_json2`), encoded as it
    stands in the document json.dump(indent=2) writes (`write_decisions2`). The criteria, most of
    the text, are written by `_criteria_text`: the same text, the pack's parts encoded once."""
    static = static2(pack)
    d = decision_json2(rec, pack, static.nodes, wit, criteria=RawJSON(_criteria_text(rec.criteria, static)))
    return d["outcome"], dumps_indented(d, depth=2)


# A decision stands at depth 2 of the document (json.dump indent=2): its criteria list at 3, each
# criterion at 4, a criterion's keys at 5, those of its title or test at 6.
_B3, _B4, _B5 = "\n" + " " * 6, "\n" + " " * 8, "\n" + " " * 10
_NULL = "null"


_B6 = "\n" + " " * 12
_REPEATING = (bool, str, Status, type(None))  # test values that repeat from entity to entity
_NUMBERS: dict[Any, str] = {}  # exact text of the numbers met (thresholds, counts repeat); bounded


def _int(value: Any) -> str:
    return str(value) if type(value) is int else dumps_indented(value)


def _value_text(value: Any) -> str:
    """A test's entry as json.dumps writes `json_value(value)` at depth 6 of the document."""
    if value is None:
        return _NULL
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _encode(value)
    if isinstance(value, (int, Fraction)):
        text = _NUMBERS.get(value)
        if text is None:
            if len(_NUMBERS) >= 65536:
                _NUMBERS.clear()
            text = _NUMBERS[value] = _encode(json_value(value))
        return text
    return dumps_indented(json_value(value), depth=6)


def _test_text(test: Mapping[str, Any]) -> str:
    """A criterion's test (`json_value(c.test)`) as it stands at depth 5 of the document."""
    if not test:
        return "{}"
    return "{" + ",".join(f"{_B6}{_encode(k)}: {_value_text(v)}" for k, v in test.items()) + _B5 + "}"


def _criteria_text(criteria: Iterable[Any], static: Static2) -> str:
    """`criteria` (engine.evaluate.record2 `CriterionResult`s) as json.dump(indent=2) writes the
    `criteria` list of `Record2.as_dict` at depth 3 of the document, byte for byte (tests/test_compact.py,
    tests/test_hot_path.py). What each criterion shows of the pack (top, depth, title, cite) is
    encoded once per pack and process."""
    items = []
    texts = static.texts
    for c in criteria:
        key = (c.id, c.top, c.depth, c.cite, tuple(c.title.items()))
        whole = None
        if not c.reason and (not c.test or type(c.test.get("value")) in _REPEATING and "row" not in c.test
                             and "values" not in c.test and "evidence" not in c.test):
            # a criterion whose test read a yes/no, an option or nothing: few texts, each kept whole
            whole = (key, c.status, c.branch, c.decided_by, c.phase, c.missing,
                     tuple(c.test.items()) if c.test else None)
            text = texts.get(whole)
            if text is not None:
                items.append(text)
                continue
        tail = texts.get(key)
        if tail is None:
            tail = (f',{_B5}"top": {"true" if c.top else "false"},{_B5}"depth": {_int(c.depth)},'
                    f'{_B5}"title": {dumps_indented(dict(c.title), depth=5)},'
                    f'{_B5}"cite": {_NULL if c.cite is None else dumps_indented(c.cite)}'
                    + (f',{_B5}"discretionary": {dumps_indented(dict(c.discretionary), depth=5)}' if c.discretionary else ""))
            if len(texts) < 4096:
                texts[key] = tail
        text = (f'{{{_B5}"id": {_encode(c.id)},{_B5}"status": {_encode(c.status.value)},'
                f'{_B5}"branch": {_NULL if c.branch is None else _encode(c.branch)},'
                f'{_B5}"decided_by": {_encode(c.decided_by)},{_B5}"phase": {_int(c.phase)}{tail}')
        if c.reason:
            text += f',{_B5}"reason": {dumps_indented(dict(c.reason), depth=5)}'
        if c.test:
            text += f',{_B5}"test": {_test_text(c.test)}'
        if c.missing:
            text += f',{_B5}"missing": {dumps_indented(list(c.missing), depth=5)}'
        text += _B4 + "}"
        if whole is not None and len(texts) < 4096:
            texts[whole] = text
        items.append(text)
    if not items:
        return "[]"
    return "[" + _B4 + ("," + _B4).join(items) + _B3 + "]"


def _started(items: Iterable[Any]) -> Iterator[Any]:
    """`items`, with the first one already taken: a batch that fails before anything is decided
    (a cluster that cannot be reached, E260) leaves the output empty, as it did when the whole
    document was written at the end."""
    stream = iter(items)
    head = list(itertools.islice(stream, 1))
    return itertools.chain(head, stream)


def write_decisions2(items: Iterable[Rendered], problems: list[Problem], out: TextIO, rows: Any = None) -> dict[str, int]:
    """The full format-2 document, byte for byte as json.dump(evaluation_json2(…), indent=2) writes it
    (engine.report.format2_views `evaluation_json2`), written as the decisions come (`render_full2`): memory stays flat."""
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    items = _started(items)  # nothing is written before the first decision (or the end)
    out.write('{\n  "schema": ' + json.dumps(OUTPUT_SCHEMA2) + ',\n  "decisions": [')
    first = True
    for outcome, text in items:
        if outcome:
            counts[outcome] += 1
        out.write(("\n    " if first else ",\n    ") + text)
        first = False
    out.write("]" if first else "\n  ]")
    if rows is not None:
        counts.update(rows.as_dict())
    out.write(',\n  "counts": ' + _indented(counts, "  "))
    out.write(',\n  "problems": ' + _indented([p.as_dict() for p in sorted(problems)], "  ") + "\n}\n")
    return counts


def stream_compact_json2(items: Iterable[Rendered], problems: list[Problem], out: TextIO,
                         rows: Any = None) -> dict[str, int]:
    """A format-2 batch as a compact document, one decision a line (`render_compact2`), written as
    they come (memory stays flat): {"schema", "trace", "decisions", "counts", "problems"}."""
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    items = _started(items)  # nothing is written before the first decision (or the end)
    out.write('{"schema": "%s", "trace": "compact", "decisions": [' % COMPACT_EVALUATION_SCHEMA2)
    first = True
    for outcome, text in items:
        if outcome:
            counts[outcome] += 1
        out.write(("\n" if first else ",\n") + text)
        first = False
    if rows is not None:
        counts.update(rows.as_dict())
    out.write('\n], "counts": ' + json.dumps(counts))
    out.write(', "problems": ' + json.dumps([p.as_dict() for p in sorted(problems)], ensure_ascii=False) + "}\n")
    return counts


def stream_compact_json1(records: Iterable[Any], problems: list[Problem], out: TextIO, rows: Any = None) -> dict[str, int]:
    """A format-1 batch of compact records (engine.explain.compact), laid out as the full document."""
    return stream_evaluation_json(records, problems, out, rows=rows, schema=COMPACT_EVALUATION_SCHEMA)


def encode_compact1(record: dict[str, Any]) -> tuple[str, str]:
    """(outcome, JSON text) of a compact format-1 record, made in the worker that decided it."""
    return encode_record(record)


# ---------------------------------------------------------------------------------------------
# Expansion of whole documents, streamed: a compact document is written one decision a line, and
# read back the same way, so `certify explain` holds one record at a time however large the batch.

_DECISION_START = ('{"schema": "certify.decision.compact/1"', '{"format": 2, "trace": "compact"')


class CompactDocument:
    """A compact document read from lines: `schema`, then `decisions()` (a generator), then `rest()`
    (its counts and problems, once the decisions are read). A document not laid out one decision a
    line (re-indented by another tool) is parsed whole."""

    def __init__(self, lines: Iterable[str]):
        self._lines = iter(lines)
        head: list[str] = []
        self._first: str | None = None
        for line in self._lines:
            if line.lstrip().startswith(_DECISION_START):
                self._first = line
                break
            head.append(line)
        self._head = "".join(head)
        self._tail: list[str] = []
        self._whole: dict[str, Any] | None = None
        if self._first is None:  # no decision on a line of its own: the document read whole
            self._whole = json.loads(self._head)
            self.schema = self._whole.get("schema") if isinstance(self._whole, dict) else None
        else:
            found = re.search(r'"schema": "([^"]+)"', self._head)
            self.schema = found.group(1) if found else None

    def is_compact(self) -> bool:
        if self._whole is not None and not isinstance(self._whole.get("decisions"), list):
            return False
        return self.schema in (COMPACT_EVALUATION_SCHEMA, COMPACT_EVALUATION_SCHEMA2)

    def decisions(self) -> Iterator[dict[str, Any]]:
        if self._whole is not None:
            yield from self._whole["decisions"]
            return
        line = self._first
        while line is not None:
            text = line.strip()
            if not self._tail and text.startswith(_DECISION_START):
                yield json.loads(text.removesuffix(","))
            else:
                self._tail.append(line)
            line = next(self._lines, None)

    def rest(self) -> dict[str, Any]:
        """{"counts", "problems"} of the document (call once the decisions are read)."""
        whole = self._whole if self._whole is not None else json.loads(self._head + "".join(self._tail))
        return {"counts": whole.get("counts") or {}, "problems": whole.get("problems") or []}


def write_expanded1(decisions: Iterable[Mapping[str, Any]], rest: Any, explainer: CompactExplainer, out: TextIO) -> None:
    """The full format-1 document of a compact one, as `certify evaluate --format json` writes it
    (engine.report.text `stream_evaluation_json`); `rest()` gives the counts and problems."""
    out.write('{\n  "schema": "%s",\n  "decisions": [' % OUTPUT_SCHEMA)
    first = True
    for d in decisions:
        _, text = encode_record(explainer.expand(d))
        out.write(("\n    " if first else ",\n    ") + text)
        first = False
    tail = rest()
    out.write("\n  ],\n  \"counts\": " + json.dumps(tail["counts"]))
    out.write(",\n  \"problems\": " + json.dumps(tail["problems"], ensure_ascii=False))
    out.write("\n}\n")


def _indented(value: Any, prefix: str) -> str:
    """`value` as json.dump(indent=2) writes it nested under `prefix` (every line but the first)."""
    return json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n" + prefix)


def write_expanded2(decisions: Iterable[Mapping[str, Any]], rest: Any, static: Static2, out: TextIO) -> None:
    """The full format-2 document of a compact one, byte for byte as `certify evaluate --format json`
    writes it (json.dump with indent=2 of engine.report.format2_views `evaluation_json2`), one record at a time."""
    out.write('{\n  "schema": ' + json.dumps(OUTPUT_SCHEMA2) + ',\n  "decisions": [')
    first = True
    for d in decisions:
        out.write(("\n    " if first else ",\n    ") + _indented(expand_record2(d, static), "    "))
        first = False
    out.write("]" if first else "\n  ]")
    tail = rest()
    out.write(',\n  "counts": ' + _indented(tail["counts"], "  "))
    out.write(',\n  "problems": ' + _indented(tail["problems"], "  ") + "\n}\n")
