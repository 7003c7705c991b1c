"""Compact decision records for format-1 packs (issue 14: `certify evaluate --trace compact`).

A full record (engine.explain.records) repeats, for every entity, what the pack already says:
titles, citations, labels, thresholds and their written text, the headline's phrases. A compact
record keeps only what was decided and what it was decided on, and names the pack by its sha256:

    {"schema": "certify.decision.compact/1", "entity": {...}, "outcome": "fail",
     "criteria": [{"id": "manufacturing", "status": "not_met", "value": "99999", "param": "manufacturing_output_min",
                   "gap": "1"}, ...],                  # value, param, gap, branch only where there are some
     "flags": {"priority": "met"}, "inputs": {...}, "notes": {...}, "evidence": {...}, "counted": {...},
     "data_problems": [...], "record": {... provenance, pack_sha256, input_sha256 ...}}

`value` and `gap` are exact decimal text in the input's unit, as the full record's `test.value` and
`test.gap`; `param` is the parameter the criterion compares with (the threshold is the pack's).
`inputs` holds the values the explanation reads that no criterion of this record carries (the
inputs of a `cases` condition, a target's measure), `notes` why an input is missing, `evidence`
the attestation evidence, `counted` which members a count counted.

Expanding (`expand`) rebuilds the verdict and the normalised values from the compact record and
runs the same explainer as the full path, so the expanded record is the full record, byte for
byte (tests/test_compact.py checks it on every fixture). Nothing is decided again: the statuses
and branches are the ones durable-rules decided, read back from the record.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any, Mapping

from engine.compile.model import MET, UNKNOWN, CompiledPack, Node, Verdict
from engine.core.units import fraction_json
from engine.evaluate.normalize import Normalised
from engine.explain.records import Explainer, input_hash

COMPACT_SCHEMA = "certify.decision.compact/1"
COMPACT_EVALUATION_SCHEMA = "certify.evaluation.compact/1"
_STATUS_OF_OUTCOME = {"pass": MET, "fail": "not_met", "undetermined": UNKNOWN}
_ORDERED = (">=", ">", "<=", "<")


class _DataProblem:
    """A data problem read back from a compact record: the explainer only asks for its dict."""

    def __init__(self, data: Mapping[str, Any]):
        self._data = dict(data)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)


def encode_value(spec: Any, value: Any) -> Any:
    """An input's normalised value as the full record shows it (`test.value`): exact decimal text in
    the input's unit, a date as ISO text, yes/no as a boolean, an option as its name."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if spec.type == "date" and isinstance(value, (Fraction, int)):
        return dt.date.fromordinal(int(value)).isoformat()
    if isinstance(value, (Fraction, int)):
        number = Fraction(value)
        return fraction_json(number / spec.unit.factor) if spec.unit is not None else fraction_json(number)
    raise TypeError(f"input {spec!r}: a value of type {type(value).__name__} has no compact form")


def decode_value(spec: Any, value: Any) -> Any:
    """The inverse of `encode_value`: the normalised value (amounts in base units, dates as ordinals)."""
    if value is None or isinstance(value, bool):
        return value
    if spec.type == "date":
        return dt.date.fromisoformat(value).toordinal()
    if spec.type in ("enum",) or not isinstance(value, str):
        return value
    number = Fraction(value)
    return number * spec.unit.factor if spec.unit is not None else number


def _read_inputs(pack: CompiledPack) -> tuple[str, ...]:
    """Every input the explanation may read: a test's (criteria, `cases` conditions) and a target's measure."""
    names = [n.test.input for n in pack.root.walk() if n.test is not None]
    names += [t["measure"] for t in pack.targets]
    return tuple(dict.fromkeys(names))


class CompactExplainer:
    """Builds compact records (`compact`) and expands them back to full ones (`expand`) for one pack."""

    def __init__(self, pack: CompiledPack, engine: str = "durable"):
        self.pack = pack
        self.explainer = Explainer(pack, engine)
        self.nodes: dict[str, Node] = {n.id: n for n in pack.root.walk() if n.id is not None}
        self.read = _read_inputs(pack)

    def compact(self, entity_id: str, name: str | None, fields: dict[str, Any], normalised: Normalised,
                verdict: Verdict, source: str = "", input_sha256: str | None = None) -> dict[str, Any]:
        pack = self.pack
        values = normalised.values
        criteria: list[dict[str, Any]] = []
        carried: set[str] = set()
        plan = self.explainer._plan
        i = 0
        while i < len(plan):
            node, _static, skip, _subtree = plan[i]
            found = verdict.statuses.get(node.id or "")
            if found is None and node is pack.root:
                found = (_STATUS_OF_OUTCOME[verdict.outcome], None)
            if found is None:
                i = skip  # a case that does not apply: its whole subtree is not applicable
                continue
            i += 1
            status, branch = found
            item: dict[str, Any] = {"id": node.id, "status": status}
            if branch:
                item["branch"] = branch
            test = node.test
            if test is not None:
                spec = pack.inputs[test.input]
                value = values.get(test.input)
                carried.add(test.input)
                if value is not None:
                    item["value"] = encode_value(spec, value)
                if test.param is not None:
                    item["param"] = test.param
                threshold = pack.params[test.param].value if test.param is not None else None
                if status == "not_met" and threshold is not None and value is not None and test.op in _ORDERED \
                        and not isinstance(value, bool):
                    gap = (threshold - Fraction(value)) if test.op in (">=", ">") else (Fraction(value) - threshold)
                    unit = spec.unit or pack.params[test.param or ""].unit
                    item["gap"] = fraction_json(gap / unit.factor) if unit else fraction_json(gap)
            criteria.append(item)
        record: dict[str, Any] = {"schema": COMPACT_SCHEMA, "entity": {"id": entity_id, "name": name, "source": source},
                                  "outcome": verdict.outcome, "criteria": criteria, "flags": dict(verdict.flags)}
        extra = {k: encode_value(pack.inputs[k], values[k]) for k in self.read
                 if k not in carried and values.get(k) is not None}
        if extra:
            record["inputs"] = extra
        for key in ("notes", "evidence", "counted"):
            part = getattr(normalised, key)
            if part:
                record[key] = dict(part)
        record["data_problems"] = [p.as_dict() for p in normalised.problems]
        prov = dict(self.explainer.provenance)
        prov["input_sha256"] = input_sha256 if input_sha256 is not None else input_hash(entity_id, name, fields)
        record["record"] = prov
        return record

    def expand(self, compact: Mapping[str, Any]) -> dict[str, Any]:
        """The full record of a compact one (same pack, as-of date and overrides)."""
        pack = self.pack
        values: dict[str, Any] = {}
        statuses: dict[str, tuple[str, str | None]] = {}
        for item in compact["criteria"]:
            statuses[item["id"]] = (item["status"], item.get("branch"))
            node = self.nodes.get(item["id"])
            if node is not None and node.test is not None and item.get("value") is not None:
                values[node.test.input] = decode_value(pack.inputs[node.test.input], item["value"])
        for key, value in (compact.get("inputs") or {}).items():
            values[key] = decode_value(pack.inputs[key], value)
        normalised = Normalised(values, dict(compact.get("evidence") or {}),
                                [_DataProblem(p) for p in compact.get("data_problems") or ()],  # type: ignore[misc]
                                dict(compact.get("notes") or {}), dict(compact.get("counted") or {}))
        verdict = Verdict(compact["outcome"], statuses, dict(compact.get("flags") or {}))
        entity = compact["entity"]
        full = self.explainer.explain(entity["id"], entity.get("name"), {}, normalised, verdict, entity.get("source", ""))
        full["record"] = dict(compact["record"])  # provenance and input hash as recorded when decided
        if "what_it_takes" in compact:
            full["what_it_takes"] = compact["what_it_takes"]
        return full
