"""Explain stage: a verdict plus the values it was made on become a decision record.

The record is plain data (JSON-ready, exact numbers as text); every view — text, JSON, and later
Markdown or HTML — renders it. Statuses, branches and the outcome come from the verdict the
decision engine produced; this stage only adds what a reviewer needs to read it: values,
thresholds, gaps, the path taken, missing evidence, citations and provenance.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from fractions import Fraction
from typing import Any

from engine import ENGINE_VERSION
from engine.evaluate.durable_adapter import DURABLE_VERSION
from engine.compile.model import MET, NOT_MET, UNKNOWN, CompiledPack, Node, Test, Verdict
from engine.evaluate.normalize import Normalised
from engine.evaluate.reference import test_status
from engine.compile.targets import views as target_views
from engine.core.jsontext import canonical
from engine.core.units import format_amount, fraction_json
from engine.load.yamlsafe import iso_date

RECORD_SCHEMA = "certify.decision/1"
LANGS = ("zh", "en")
_STATUS_OF_OUTCOME = {"pass": MET, "fail": NOT_MET, "undetermined": UNKNOWN}
_OP_TEXT = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "=", "!=": "≠", "in": "∈", "not_in": "∉"}


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
        if spec.type in ("boolean", "attestation", "date"):
            view["type"] = spec.type
        if value is None:
            view["value"] = None
            return view
        if spec.type == "date" and isinstance(value, (Fraction, int)) and not isinstance(value, bool):
            # normalise keeps a date as its day ordinal; a reader wants the date
            text = _date_text(value)
            view["value"] = text
            view["text"] = text
            view["type"] = "date"
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
            view["parameter_label"] = param.label
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
                if spec.type == "date" or (param.unit is None and iso_date(param.written) is not None):
                    view["threshold"] = view["threshold_text"] = _date_text(param.value)
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
            if view.get("type") == "date":
                view["gap_days"] = int(gap)  # a date is off by whole days
                view["gap_text"] = f"{int(gap)}天"
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
                missing.setdefault(key, {"parameter": name, "label": param.label, "cite": param.cite,
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
            if node.kind == "at_least":
                kids = [verdict.statuses.get(c.id or "", (UNKNOWN, None))[0] for c in node.children]
                item["count"] = {"k": node.k, "of": len(kids), "met": kids.count(MET), "not_met": kids.count(NOT_MET)}
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
        missing_inputs = list(missing.values()) if verdict.outcome == "undetermined" else []
        return {
            "schema": RECORD_SCHEMA,
            "entity": {"id": entity_id, "name": name, "source": source},
            "outcome": verdict.outcome,
            "headline": self.headline(verdict, criteria, missing_inputs, discretionary),
            "criteria": criteria,
            "not_applicable": not_applicable,
            "missing_inputs": missing_inputs,
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

    # -- the one-line reason ---------------------------------------------------------------------
    def headline(self, verdict: Verdict, criteria: list[dict[str, Any]], missing: list[dict[str, Any]],
                 discretionary: list[str]) -> dict[str, str]:
        """{zh, en}: the outcome and the one reason a reviewer reads first.

        fail: the most decisive criterion not met — descending from the root, the first criterion
        not met in document order (under an `any`, an alternative that is not discretionary first:
        the standard path before the relaxed one), down to a test, an at-least count or a case;
        with its clause, what happened and what was required. undetermined: the inputs,
        attestations and unset parameters that stand in the way, each with its clauses. pass: the
        discretionary judgements the pass rests on, if any."""
        by_id = {c["id"]: c for c in criteria}
        outcome = verdict.outcome
        if outcome == "fail":
            root = self.pack.root

            def status(node: Node) -> str | None:
                if node is root:
                    return NOT_MET
                return by_id[node.id]["status"] if node.id in by_id else None

            node = self._decisive(root, status)
            item = by_id.get(node.id or "")
            top = [c for c in root.children if status(c) == NOT_MET]
            others = max(0, len(top) - 1)
            out = {}
            for lang in LANGS:
                w = PHRASES[lang]
                reason = _criterion_reason(item, lang) if item else w["not_met"]
                if others:
                    reason += w["others"].format(n=others)
                out[lang] = f"{w['fail']}{w['colon']}{reason}"
            return out
        if outcome == "undetermined":
            out = {}
            for lang in LANGS:
                w = PHRASES[lang]
                parts = [_missing_text(m, self._cites_reading(m, criteria), lang) for m in missing]
                shown = w["list_sep"].join(parts[:MAX_HEADLINE_ITEMS])
                if len(parts) > MAX_HEADLINE_ITEMS:
                    shown += w["more"].format(n=len(parts))
                out[lang] = f"{w['undetermined']}{w['colon']}{w['missing']} {shown}" if parts else w["undetermined"]
            return out
        out = {}
        for lang in LANGS:
            w = PHRASES[lang]
            judged = [f"{by_id[i].get('cite') or ''} {_label(by_id[i]['title'], lang)}".strip()
                      for i in discretionary if i in by_id]
            out[lang] = w["pass"] + (w["judged"].format(items=w["list_sep"].join(judged)) if judged else "")
        return out

    def _decisive(self, node: Node, status: Any) -> Node:
        if node.test is not None or node.kind in ("at_least", "not"):
            return node
        if node.kind == "cases":
            for _, then in node.cases:
                if status(then) == NOT_MET:
                    return self._decisive(then, status)
            return node  # no case applies ("otherwise: not_met")
        failing = [c for c in node.children if c.id is not None and status(c) == NOT_MET]
        if node.kind == "any":
            failing = [c for c in failing if not c.discretionary] or failing
        return self._decisive(failing[0], status) if failing else node

    @staticmethod
    def _cites_reading(m: dict[str, Any], criteria: list[dict[str, Any]]) -> list[str]:
        cites: list[str] = []
        for c in criteria:
            if c["status"] != UNKNOWN or not c.get("cite"):
                continue
            test = c.get("test") or {}
            reads = (m.get("input") is not None and (test.get("input") == m["input"] or m["input"] in c.get("missing", ()))) \
                or (m.get("parameter") is not None and test.get("threshold") is None
                    and (test.get("parameter") == m["parameter"] or m["parameter"] in str(test.get("parameter"))))
            if reads and c["cite"] not in cites:
                cites.append(c["cite"])
        if not cites and m.get("cite"):
            cites.append(m["cite"])  # an unset parameter read through a derived threshold: its own clause
        return cites


# ---------------------------------------------------------------------------------------------
# Phrases: how a criterion reads. Pure functions of a record's parts, shared by the record's
# headline and the text view (engine.report.text), so the two never say it differently.

MAX_HEADLINE_ITEMS = 3
_NEGATED = {">=": "<", ">": "≤", "<=": ">", "<": "≥", "=": "≠", "!=": "=", "in": "∉", "not_in": "∈"}
PHRASES = {
    "zh": {
        "pass": "通过", "fail": "不通过", "undetermined": "无法判定", "colon": "：", "sep": ", ",
        "list_sep": "、", "required": "要求", "short": "差", "not_given": "未提供", "invalid": "数据无效",
        "not_computable": "无法计算", "unset": "政策未规定具体数值", "yes": "是", "no": "否",
        "attested_yes": "认定意见:是", "attested_no": "认定意见:否", "attested_none": "未提供认定意见",
        "strict": "须超过该标准", "early": "早 {n} 天", "late": "晚 {n} 天", "not_met": "不满足",
        "count": "满足 {met}/{of} 项 (要求至少 {k} 项)", "negated": "不满足其反面条件",
        "others": "；另有 {n} 项条件不满足", "more": " 等 {n} 项", "missing": "缺少",
        "judged": "（含酌情认定：{items}）", "attestation_of": "{label}的认定意见", "param_of": "{label}的数值(政策未规定)",
    },
    "en": {
        "pass": "PASS", "fail": "FAIL", "undetermined": "UNDETERMINED", "colon": ": ", "sep": ", ",
        "list_sep": "; ", "required": "required", "short": "short by", "not_given": "not given",
        "invalid": "invalid data", "not_computable": "cannot be computed", "unset": "the policy sets no number",
        "yes": "yes", "no": "no", "attested_yes": "attested: yes", "attested_no": "attested: no",
        "attested_none": "no attestation given", "strict": "must exceed the threshold",
        "early": "{n} days too early", "late": "{n} days too late", "not_met": "not met",
        "count": "{met} of {of} met (required at least {k})", "negated": "its opposite holds",
        "others": "; {n} more condition(s) not met", "more": " ({n} in all)", "missing": "missing",
        "judged": " (includes a discretionary judgement: {items})", "attestation_of": "attestation: {label}",
        "param_of": "a value for {label} (the policy sets none)",
    },
}


def _label(label: Any, lang: str) -> str:
    if not label:
        return ""
    if isinstance(label, str):
        return label
    return label.get(lang) or label.get("zh") or next(iter(label.values()))


def _date_text(value: Any) -> str:
    try:
        return dt.date.fromordinal(int(value)).isoformat()
    except (ValueError, OverflowError):
        return fraction_json(Fraction(value))


def missing_word(test: dict[str, Any], lang: str) -> str:
    """Why a value is not there, in words: not given, invalid (see the data problems), or a derived
    value that cannot be computed."""
    w = PHRASES[lang]
    why = str(test.get("why_missing") or "not given")
    if why.startswith("invalid"):
        return w["invalid"]
    if why in ("not given", "empty", "missing"):
        return w["not_given"]
    return w["not_computable"]


def describe_test(test: dict[str, Any], status: str, lang: str = "zh", brief: bool = False) -> str:
    """What happened and what was required, e.g. `99,999万元 < 10亿元 (要求 ≥ 10亿元), 差 1万元`.

    met: `12亿元 ≥ 10亿元`; unknown: `未提供 (要求 ≥ 10亿元)`. `brief` (headlines) leaves out the
    requirement when the relation already says it."""
    w = PHRASES[lang]
    sep = "，" if (brief and lang == "zh") else w["sep"]
    op = test.get("operator")
    value = test.get("value")
    need = ""
    if op == "attested":
        text = w["attested_none"] if value is None else (w["attested_yes"] if value else w["attested_no"])
        ev = test.get("evidence")
        if ev and value is not None:
            text += " (" + ", ".join(str(ev[k]) for k in ("by", "date", "ref") if k in ev) + ")"
        if status != MET:
            need = f"{w['required']} {w['yes']}"
        return text + (f" ({need})" if need and not brief else "")
    if op in ("is_true", "is_false"):
        wanted = op == "is_true"
        text = missing_word(test, lang) if value is None else (w["yes"] if value else w["no"])
        if status != MET:
            need = f"{w['required']} {w['yes'] if wanted else w['no']}"
        return text + (f" ({need})" if need else "")
    if op in ("in", "not_in"):
        choices = "{" + ("、" if lang == "zh" else ", ").join(_label(v, lang) for v in test.get("value_labels", [])) + "}"
        need = f"{w['required']} {_OP_TEXT[op]} {choices}"
        if value is None:
            return f"{missing_word(test, lang)} ({need})"
        shown = _label(test.get("value_label"), lang) if test.get("value_label") else str(value)
        if status == MET:
            return f"{shown} {_OP_TEXT[op]} {choices}"
        if status == NOT_MET:
            return f"{shown} {_NEGATED[op]} {choices}" + ("" if brief else f" ({need})")
        return f"{shown} ({need})"
    sign = _OP_TEXT.get(op or "", op or "")
    threshold = test.get("threshold_text") if test.get("threshold") is not None else None
    need = f"{w['required']} {sign} {threshold if threshold is not None else '?'}"
    if threshold is None:
        need += f": {w['unset']}"
    if value is None:
        return f"{missing_word(test, lang)} ({need})"
    shown = test.get("text") or str(value)
    if threshold is None or status == UNKNOWN:
        return f"{shown} ({need})"
    if status == MET:
        return f"{shown} {sign} {threshold}"
    text = f"{shown} {_NEGATED.get(op or '', sign)} {threshold}" + ("" if brief else f" ({need})")
    if test.get("gap_note"):
        return text + sep + w["strict"]
    if test.get("gap_days") is not None:
        return text + sep + w["early" if op in (">=", ">") else "late"].format(n=test["gap_days"])
    if test.get("gap_text"):
        return text + f"{sep}{w['short']} {test['gap_text']}"
    return text


def count_phrase(count: dict[str, Any], lang: str) -> str:
    return PHRASES[lang]["count"].format(**count)


def _criterion_reason(item: dict[str, Any], lang: str) -> str:
    """`二(四) 制造业类产值达到10亿元以上，99,999万元 < 10亿元，差 1万元` — a criterion not met."""
    w = PHRASES[lang]
    head = f"{item.get('cite') or ''} {_label(item['title'], lang)}".strip()
    joiner = "，" if lang == "zh" else ": "
    if "test" in item:
        return f"{head}{joiner}{describe_test(item['test'], item['status'], lang, brief=True)}"
    if "count" in item:
        return f"{head}{joiner}{count_phrase(item['count'], lang)}"
    if item.get("branch") == "otherwise":
        return f"{head}{joiner}{_label(item.get('branch_detail'), lang)}"
    return f"{head}{joiner}{w['not_met']}"


def _missing_text(m: dict[str, Any], cites: list[str], lang: str) -> str:
    w = PHRASES[lang]
    label = _label(m.get("label"), lang) or (m.get("input") or m.get("parameter") or "")
    if "parameter" in m:
        text = w["param_of"].format(label=label)
    elif m.get("attestation"):
        text = w["attestation_of"].format(label=label)
    else:
        text = label
    return f"{text} ({', '.join(cites)})" if cites else text
