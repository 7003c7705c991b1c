"""Explain stage: a verdict plus the values it was made on become a decision record.

The record is plain data (JSON-ready, exact numbers as text); every view — text, JSON, and later
Markdown or HTML — renders it. Statuses, branches and the outcome come from the verdict the
decision engine produced; this stage only adds what a reviewer needs to read it: values,
thresholds, gaps, the path taken, missing evidence, citations and provenance.
"""

from __future__ import annotations

import hashlib
import json
import re
from fractions import Fraction
from typing import Any

from . import ENGINE_VERSION
from .durable_adapter import DURABLE_VERSION
from .model import MET, NOT_MET, UNKNOWN, CompiledPack, Node, Test, Verdict
from .normalize import Normalised
from .reference import test_status
from .targets import views as target_views
from .units import format_amount, fraction_json

RECORD_SCHEMA = "certify.decision/1"
_STATUS_OF_OUTCOME = {"pass": MET, "fail": NOT_MET, "undetermined": UNKNOWN}
_OP_TEXT = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "=", "!=": "≠", "in": "∈", "not_in": "∉"}


def canonical(value: Any) -> Any:
    """JSON-ready, with exact numbers as text, for hashing and output."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, Fraction):
        return fraction_json(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def input_hash(entity_id: str, name: str | None, fields: dict[str, Any]) -> str:
    body = json.dumps(canonical({"id": entity_id, "name": name, "fields": fields}),
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def provenance(pack: CompiledPack, engine: str) -> dict[str, Any]:
    overrides = {n: {"value": p.written, "from": p.overridden} for n, p in pack.params.items() if p.overridden}
    return {
        "pack": pack.meta.id,
        "pack_version": pack.meta.version,
        "pack_sha256": pack.sha256,
        "pack_file": pack.file,
        "engine_version": ENGINE_VERSION,
        "decided_by": f"durable-rules {DURABLE_VERSION}" if engine == "durable" else "reference evaluator",
        "as_of": pack.as_of.isoformat(),
        "overrides": overrides,
    }


class Explainer:
    def __init__(self, pack: CompiledPack, engine: str = "durable"):
        self.pack = pack
        self.provenance = provenance(pack, engine)
        self._static: dict[str, dict[str, Any]] = {}
        # The criteria in reading order with their constant parts, built once per pack:
        # (node, constant fields, index after its subtree, ids in its subtree).
        self._plan: list[tuple[Node, dict[str, Any], int, list[str]]] = []
        self._build_plan(pack.root, 0)

    def _build_plan(self, node: Node, depth: int) -> None:
        # The root's status is the outcome, so it is not listed — unless the whole pack is one
        # test: then its value, threshold and gap are the explanation.
        listed = node.id is not None and (node is not self.pack.root or node.test is not None)
        if listed:
            static: dict[str, Any] = {"id": node.id, "title": node.title, "cite": node.cite,
                                      "status": None, "depth": depth, "kind": node.kind}
            if node.discretionary:
                static["discretionary"] = node.discretionary
            at = len(self._plan)
            self._plan.append((node, static, 0, [n.id for n in node.walk() if n.id]))
            depth += 1
        for child in node.children:
            self._build_plan(child, depth)
        for _, then in node.cases:
            self._build_plan(then, depth)
        if listed:
            entry = self._plan[at]
            self._plan[at] = (entry[0], entry[1], len(self._plan), entry[3])

    def value_view(self, input_name: str, value: Any) -> dict[str, Any]:
        spec = self.pack.inputs[input_name]
        view: dict[str, Any] = {"input": input_name, "label": spec.label}
        if value is None:
            view["value"] = None
            return view
        if isinstance(value, Fraction) or (isinstance(value, int) and not isinstance(value, bool)):
            number = Fraction(value)
            if spec.unit is not None:
                view["value"] = fraction_json(number / spec.unit.factor)
                view["unit"] = spec.unit.name
                view["text"] = format_amount(number, spec.unit)
            else:
                view["value"] = fraction_json(number)
                view["text"] = fraction_json(number)
        elif isinstance(value, bool):
            view["value"] = value
        else:
            view["value"] = value
            if spec.type == "enum" and value in spec.values:
                view["value_label"] = spec.values[value]
        return view

    def _static_view(self, test: Test) -> dict[str, Any]:
        """The parts of a test's view that do not depend on the entity, built once per test."""
        cached = self._static.get(test.field)
        if cached is not None:
            return cached
        view: dict[str, Any] = {"operator": test.op}
        spec = self.pack.inputs[test.input]
        if test.param is not None:
            param = self.pack.params[test.param]
            view["parameter"] = test.param
            view["parameter_cite"] = param.cite
            if param.since:
                view["parameter_since"] = param.since
            if param.overridden:
                view["parameter_overridden_by"] = param.overridden
            if param.value is None:
                view["threshold"] = None
                view["threshold_unset"] = param.unset_reason
            else:
                unit = spec.unit or param.unit
                view["threshold"] = fraction_json(param.value / unit.factor) if unit else fraction_json(param.value)
                view["threshold_text"] = param.written or ""
        if test.values:
            view["values"] = list(test.values)
            view["value_labels"] = [spec.values.get(v, {"zh": v}) for v in test.values]
        self._static[test.field] = view
        return view

    def test_view(self, test: Test, values: dict[str, Any], normalised: Normalised,
                  status: str, value_views: dict[str, dict[str, Any]]) -> dict[str, Any]:
        value = values.get(test.input)
        if test.input not in value_views:
            value_views[test.input] = self.value_view(test.input, value)
        view = {**value_views[test.input], **self._static_view(test)}
        if test.input in normalised.evidence:
            view["evidence"] = normalised.evidence[test.input]
        if value is None:
            view["why_missing"] = normalised.notes.get(test.input, "not given")
        if test.input in getattr(normalised, "counted", {}):
            view["members"] = normalised.counted[test.input]  # which members counted
        threshold = self.pack.params[test.param].value if test.param is not None else None
        # The gap is shown for a comparison the engine found not met: how far from passing.
        if status == NOT_MET and threshold is not None and value is not None and test.op in (">=", ">", "<=", "<"):
            spec = self.pack.inputs[test.input]
            unit = spec.unit or self.pack.params[test.param or ""].unit
            gap = (threshold - Fraction(value)) if test.op in (">=", ">") else (Fraction(value) - threshold)
            view["gap"] = fraction_json(gap / unit.factor) if unit else fraction_json(gap)
            view["gap_text"] = format_amount(gap, unit) if unit else fraction_json(gap)
            if gap == 0:
                view["gap_note"] = "must be strictly beyond the threshold (超过)"
        return view

    def explain(self, entity_id: str, name: str | None, fields: dict[str, Any], normalised: Normalised,
                verdict: Verdict, source: str = "") -> dict[str, Any]:
        values = normalised.values
        criteria: list[dict[str, Any]] = []
        not_applicable: list[str] = []
        missing: dict[str, dict[str, Any]] = {}
        value_views: dict[str, dict[str, Any]] = {}

        def note_missing(test: Test) -> None:
            if test.unset:
                param = self.pack.params[test.param or ""]
                name = param.unset_because or test.param
                if name in self.pack.params:
                    param = self.pack.params[name]
                key = f"parameter:{name}"
                missing.setdefault(key, {"parameter": name, "label": param.label,
                                         "why": "the policy sets no number", "detail": param.unset_reason})
            elif values.get(test.input) is None:
                spec = self.pack.inputs[test.input]
                missing.setdefault(test.input, {"input": test.input, "label": spec.label,
                                                "why": normalised.notes.get(test.input, "not given"),
                                                "attestation": spec.type == "attestation"})

        plan = self._plan
        i = 0
        while i < len(plan):
            node, static, skip, subtree = plan[i]
            found = verdict.statuses.get(node.id or "")
            if found is None and node is self.pack.root:
                found = (_STATUS_OF_OUTCOME[verdict.outcome], None)
            if found is None:
                not_applicable.extend(subtree)  # a case that does not apply, and all below it
                i = skip
                continue
            i += 1
            status, branch = found
            item: dict[str, Any] = dict(static)
            item["status"] = status
            if branch:
                item["branch"] = branch
                item["branch_detail"] = self.branch_detail(node, branch, values)
            if node.test is not None:
                item["test"] = self.test_view(node.test, values, normalised, status, value_views)
                if status == UNKNOWN:
                    note_missing(node.test)
                    item["missing"] = [node.test.input] if not node.test.unset else []
            elif node.kind == "cases" and branch and branch.startswith("undecided"):
                when = node.cases[int(branch[len("undecided"):]) - 1][0]
                item["missing"] = []
                for sub in when.walk():
                    if sub.test is not None and test_status(sub.test, values) == UNKNOWN:
                        note_missing(sub.test)
                        item["missing"].append(sub.test.input)
            criteria.append(item)

        discretionary = [c["id"] for c in criteria if c.get("discretionary") and c["status"] == MET]
        flags = [
            {"id": f.id, "title": f.title, "cite": f.cite, "status": verdict.flags.get(f.id, UNKNOWN),
             "note": f.note}
            for f in self.pack.flags
        ]
        record = dict(self.provenance)
        record["input_sha256"] = input_hash(entity_id, name, fields)
        return {
            "schema": RECORD_SCHEMA,
            "entity": {"id": entity_id, "name": name, "source": source},
            "outcome": verdict.outcome,
            "criteria": criteria,
            "not_applicable": not_applicable,
            "missing_inputs": list(missing.values()) if verdict.outcome == "undetermined" else [],
            "unknown_inputs": list(missing.values()),
            "discretionary_met": discretionary,
            "flags": flags,
            "data_problems": [p.as_dict() for p in normalised.problems],
            "record": record,
            **({"targets": target_views(self.pack, values, verdict, getattr(normalised, "counted", {}), normalised.notes,
                                        criteria)}
               if self.pack.targets else {}),
        }

    def branch_detail(self, node: Node, branch: str, values: dict[str, Any]) -> dict[str, Any]:
        if branch == "otherwise":
            return {"zh": "无适用情形", "en": "no case applies", "otherwise": node.otherwise}
        index = int(re.sub(r"\D", "", branch)) - 1
        when = node.cases[index][0]
        label = self.condition_text(when)
        if branch.startswith("case"):
            return {"zh": f"适用情形{index + 1}:{label['zh']}", "en": f"case {index + 1} applies: {label['en']}"}
        return {"zh": f"无法判断是否适用情形{index + 1}:{label['zh']}",
                "en": f"cannot tell whether case {index + 1} applies: {label['en']}"}

    def condition_text(self, node: Node) -> dict[str, str]:
        if node.test is not None:
            t = node.test
            spec = self.pack.inputs[t.input]
            zh, en = spec.label.get("zh", t.input), spec.label.get("en", t.input)
            if t.values:
                zh_vals = "、".join(spec.values.get(v, {}).get("zh", v) for v in t.values)
                en_vals = ", ".join(spec.values.get(v, {}).get("en", v) for v in t.values)
                return {"zh": f"{zh} {_OP_TEXT[t.op]} {{{zh_vals}}}", "en": f"{en} {_OP_TEXT[t.op]} {{{en_vals}}}"}
            if t.param:
                written = self.pack.params[t.param].written or "?"
                return {"zh": f"{zh} {_OP_TEXT[t.op]} {written}", "en": f"{en} {_OP_TEXT[t.op]} {written}"}
            return {"zh": zh, "en": en}
        joiner = {"all": (" 且 ", " and "), "any": (" 或 ", " or "), "not": ("非 ", "not ")}[node.kind]
        parts = [self.condition_text(c) for c in node.children]
        if node.kind == "not":
            return {"zh": joiner[0] + parts[0]["zh"], "en": joiner[1] + parts[0]["en"]}
        return {"zh": joiner[0].join(p["zh"] for p in parts), "en": joiner[1].join(p["en"] for p in parts)}
