"""Text (zh / en) and JSON views of format-2 decision records (engine.evaluate.record2).

Nothing here decides or computes anything: each line shows what the record holds, saying which
part was decided by durable-rules and which computed by Python.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import os
from fractions import Fraction
from typing import Any, Iterable, Mapping, TextIO

from engine.compile.model2 import Pack2
from engine.core.problems import Problem
from engine.core.status import Status
from engine.core.units import format_amount, parse_unit
from engine.evaluate.record2 import Record2
from engine.explain.explain2 import (branch_text, criterion_nodes, discretionary_mark, discretionary_met, evidence_text,
                                     fails_only_on_group_minimum, gap_text, headline, is_lower_bound, labelled_step,
                                     lower_bound_note, missing_names, name_label, threshold_text,
                                     unset_parameter)
from engine.explain.whatif2 import describe

OUTPUT_SCHEMA2 = "certify.evaluation/2"
VIEWS = ("auto", "full", "short")

WORDS2 = {
    "zh": {"pass": "通过", "fail": "不通过", "undetermined": "无法判定", "none": "（规则包未指定结论条件）",
           "met": "满足", "not_met": "不满足", "unknown": "未知", "not_applicable": "不适用",
           "as_of": "评定基准日", "values": "计算值（由 Python 精确计算）", "criteria": "条件（由 durable-rules 判定）",
           "criteria_ref": "条件（由参照求值器判定）", "flag": "标记", "consequence": "后果", "choices": "待定选项",
           "default": "默认", "missing": "缺少", "unknown_value": "未知", "yes": "是", "no": "否",
           "missing_inputs": "缺少的数据", "evidence": "依据", "path": "路径", "discretionary_met": "经酌情条款满足(请审核确认)",
           "award": "奖励（金额由 Python 计算）", "more": "（每个对象一行；加 --full 显示每项条件和计算值）",
           "sep": "、", "summary": "合计", "variant": "变体", "extends": "继承", "replaced": "替换",
           "added": "新增", "written_in": "原在", "now_in": "改在", "wit": "如何才能通过",
           "wit_more": "另有 {n} 种办法（见 --format json）", "section": {"parameters": "参数", "choices": "待定选项",
           "values": "计算值", "criteria": "条件", "inputs": "输入项"}},
    "en": {"pass": "PASS", "fail": "FAIL", "undetermined": "UNDETERMINED", "none": "(the pack names no decision)",
           "met": "met", "not_met": "not met", "unknown": "unknown", "not_applicable": "not applicable",
           "as_of": "as of", "values": "values (computed exactly by Python)", "criteria": "criteria (decided by durable-rules)",
           "criteria_ref": "criteria (decided by the reference evaluator)", "flag": "flag", "consequence": "consequence",
           "choices": "choices", "default": "default", "missing": "missing", "unknown_value": "unknown", "yes": "yes",
           "no": "no", "missing_inputs": "missing data", "evidence": "evidence", "path": "path",
           "discretionary_met": "met on a discretionary path (a reviewer should confirm)", "award": "award (amount computed by Python)", "more": "(one line per entity; --full shows every criterion and value)",
           "sep": "; ", "summary": "total", "variant": "variant", "extends": "extends", "replaced": "replaced",
           "added": "added", "written_in": "was in", "now_in": "now in", "wit": "what it would take",
           "wit_more": "{n} more (see --format json)", "section": {"parameters": "parameter",
           "choices": "choice", "values": "value", "criteria": "criterion", "inputs": "input"}},
}
_MARK = {"met": "✔", "not_met": "✘", "unknown": "?", "not_applicable": "–"}
_OP = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "=", "!=": "≠"}
_NEGATED = {">=": "<", ">": "≤", "<=": ">", "<": "≥", "=": "≠", "!=": "="}


def comparison_text(status: str, test: Mapping[str, Any], lang: str, missing: str | None = None) -> str:
    """What a comparison found: （12% ≥ 10%） when it holds, （5% < 10%，须 ≥ 10%，差 5%） when it
    does not (how far from passing), （数值未知，须 ≥ 10%） when the value is unknown. The threshold
    reads as the policy writes it (10亿元, not 100,000万元)."""
    value = shown_value(test["value"], test["unit"], lang)
    threshold = threshold_text(test, test["unit"], lang)
    op = test["op"]
    if status == "met":
        return f"（{value} {_OP[op]} {threshold}）" if lang == "zh" else f" ({value} {_OP[op]} {threshold})"
    if status == "not_met" and test["value"] is not None:
        gap = gap_text(test, test["unit"], lang)
        return (f"（{value} {_NEGATED[op]} {threshold}，须 {_OP[op]} {threshold}{'，' + gap if gap else ''}）" if lang == "zh"
                else f" ({value} {_NEGATED[op]} {threshold}; required {_OP[op]} {threshold}{'; ' + gap if gap else ''})")
    if missing:  # unknown for want of data: which input (format 1's 缺少 特色主导产业年产值)
        return (f"（缺少 {missing}，须 {_OP[op]} {threshold}）" if lang == "zh" else
                f" (missing {missing}; required {_OP[op]} {threshold})")
    return (f"（数值未知，须 {_OP[op]} {threshold}）" if lang == "zh" else
            f" (value unknown; required {_OP[op]} {threshold})")


def _label(label: Mapping[str, str] | None, lang: str) -> str:
    if not label:
        return ""
    return label.get(lang) or label.get("zh") or next(iter(label.values()), "")


def shown_value(value: Any, unit: str | None, lang: str) -> str:
    """A value as an officer reads it: an amount in its unit, a date, yes/no, an option."""
    w = WORDS2[lang]
    if value is None:
        return w["unknown_value"]
    if isinstance(value, bool):
        return w["yes"] if value else w["no"]
    if isinstance(value, (int, Fraction)):
        return format_amount(Fraction(value), parse_unit(unit) if unit else None, lang)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def value_text(v: Any, lang: str) -> str:
    """A value of a record as the views show it: ≥ before a lower bound (a figure scored 0)."""
    return ("≥" if is_lower_bound(v) else "") + shown_value(v.value, v.unit, lang)


def _header(rec: Record2, pack: Pack2, out: TextIO, lang: str) -> None:
    w = WORDS2[lang]
    prov = rec.provenance
    out.write(f"{_label(pack.meta.title, lang) or prov.pack_id} — {prov.pack_id} {prov.pack_version} "
              f"(sha256 {prov.pack_sha256[:12]}), {w['as_of']} {prov.as_of}\n")
    for v in rec.validity:
        out.write(f"  ⚠ {v['code']} {v['zh'] if lang == 'zh' else v['en']}\n")
    if prov.pack_files:
        _variant_lines(prov, out, lang)
    for c in rec.choices:
        option = _label(pack.choices[c.name].options.get(c.option), lang) or c.option
        source = w["default"] if c.source == "default" else c.source
        out.write(f"  {w['choices']}: {_label(c.label, lang) or c.name} = {option} ({c.option}, {source})\n")


def _variant_lines(prov: Any, out: TextIO, lang: str) -> None:
    """Where a variant's parts came from: the chain of files, then each replaced or added name."""
    w = WORDS2[lang]
    chain = f" {w['extends']} ".join(f"{os.path.basename(f)} (sha256 {s[:12]})" for f, s in prov.pack_files)
    out.write(f"  {w['variant']}: {chain}\n")
    for r in prov.replaced:
        what = w["section"].get(r["section"], r["section"])
        if "added_in" in r:
            out.write(f"    {w['added']} {what} {r['name']}: {os.path.basename(r['added_in'])}\n")
        else:
            out.write(f"    {w['replaced']} {what} {r['name']}: {w['written_in']} {os.path.basename(r['from'])}, "
                      f"{w['now_in']} {os.path.basename(r['in'])}\n")


def render_what_it_takes(wit: Mapping[str, Any] | None, out: TextIO, lang: str, indent: str = "    ") -> None:
    """The suggestions of one record (engine.explain.whatif2), numbered, as format 1 shows them."""
    if not wit:
        return
    w = WORDS2[lang]
    if not wit.get("options"):
        if wit.get("note"):
            out.write(f"{indent}{w['wit']}: {_label(wit['note'], lang)}\n")
        return
    out.write(f"{indent}{w['wit']}:\n")
    for i, option in enumerate(wit["options"], start=1):
        out.write(f"{indent}  {i}. {describe(option, lang)}\n")
    if wit.get("more"):
        out.write(f"{indent}  {w['wit_more'].format(n=wit['more'])}\n")


def render_record(rec: Record2, pack: Pack2, out: TextIO, lang: str = "zh", nodes: Any = None,
                  wit: Mapping[str, Any] | None = None) -> None:
    """One entity, in full: every value with its steps, every criterion, flag and consequence."""
    w = WORDS2[lang]
    nodes = criterion_nodes(pack) if nodes is None else nodes
    name = f" {rec.entity_name}" if rec.entity_name else ""
    out.write(f"\n{rec.entity_id}{name} — {headline(pack, rec, nodes)[lang]}\n")  # h8: the headline (explain2)
    if rec.values:
        out.write(f"  {w['values']}:\n")
        for v in rec.values:
            if is_lower_bound(v):  # a lower bound is never shown as the value
                line = (f"    {_label(v.label, lang) or v.name} ≥ {shown_value(v.value, v.unit, lang)}"
                        f"{lower_bound_note(pack, v, lang)}")
            else:
                line = f"    {_label(v.label, lang) or v.name} = {shown_value(v.value, v.unit, lang)}"
            write_value_lines(pack, v, line, out, lang, "        ")
    if rec.criteria:
        decided_by = rec.criteria[0].decided_by
        out.write(f"  {w['criteria'] if decided_by == 'durable-rules' else w['criteria_ref']}:\n")
        for c in rec.criteria:
            cite = f"{c.cite} " if c.cite else ""
            line = f"    {'  ' * c.depth}{_MARK[c.status.value]} {cite}{_label(c.title, lang) or c.id}: {w[c.status.value]}"
            if c.reason:
                line += f" ({_label(c.reason, lang)})"
            elif c.test and c.test.get("op") in _OP and "threshold" in c.test:
                missing = missing_names(pack, c.missing, lang) if c.status.value == "unknown" and c.missing else None
                line += comparison_text(c.status.value, c.test, lang, missing)
            elif (unset := unset_parameter(pack, c)) is not None:  # the policy leaves the threshold open
                line += f"（{unset['zh']}）" if lang == "zh" else f" ({unset['en']})"
            elif (evidence := evidence_text(c.test)) is not None:  # who attested, when, under which document
                line += f"（{w['evidence']}: {evidence}）" if lang == "zh" else f" ({w['evidence']}: {evidence})"
            if (path := branch_text(pack, c, nodes, lang)) is not None:  # the case taken, as format 1 showed it
                line += f" [{w['path']}: {path}]"
            if c.discretionary:
                line += f" {discretionary_mark(c, lang)}"
            out.write(line + "\n")
    judged = discretionary_met(rec)
    if judged:
        out.write(f"  {w['discretionary_met']}: {w['sep'].join(_title(c, lang) for c in judged)}\n")
    for n in rec.notes:
        out.write(f"  {w[n.kind]}: {_label(n.title, lang) or n.id}: {w[n.status.value]}\n")
    if rec.award is not None:
        out.write(f"  {w['award']}: {award_text(rec, lang)}\n")
    if rec.missing_inputs:
        labels = [_label(pack.inputs[i].label, lang) or i for i in rec.missing_inputs]
        out.write(f"  {w['missing_inputs']}: {w['sep'].join(labels)}\n")
    render_what_it_takes(wit, out, lang, "  ")


def _title(c: Any, lang: str) -> str:
    return " ".join(x for x in (c.cite, _label(c.title, lang) or c.id) if x)


def flags_set(rec: Record2, lang: str) -> list[str]:
    """The flags raised on an entity (met), by clause and title: the short line lists them, as
    format 1's did ([标记: 二(五) 优先评定]); a flag never changes the outcome."""
    return [_title(n, lang) for n in rec.notes if n.kind == "flag" and n.status.value == "met"]


def write_value_lines(pack: Pack2, v: Any, line: str, out: TextIO, lang: str, indent: str) -> None:
    """A value's line (`line`: its label and amount as the view words it), then why it is unknown
    (the names it lacks, or the reason) and each step of its trace, names given by their labels."""
    w = WORDS2[lang]
    if v.value is None and v.missing:
        line += f" ({w['missing']} {w['sep'].join(name_label(pack, n, lang) for n in v.missing)})"
    elif v.value is None and v.reason:
        line += f" ({labelled_step(pack, v.name, v.reason.zh if lang == 'zh' else v.reason.en, lang)})"
    out.write(line + "\n")
    for step in v.steps:
        out.write(f"{indent}{labelled_step(pack, v.name, step.zh if lang == 'zh' else step.en, lang)}\n")


def award_text(rec: Record2, lang: str) -> str:
    a = rec.award
    assert a is not None
    title = _label(a.title, lang)
    if a.status == "awarded":
        return f"{title} {shown_value(a.amount, a.unit, lang)}".strip() + (f"（奖励名次 {a.place}）" if lang == "zh" else f" (award place {a.place})")
    if a.status == "pending":
        held = shown_value(a.held, a.unit, lang)
        # held for the entity's own provisional place (ranked on a lower bound, or its `last`
        # undecided), else because whether it may take an award is unknown
        own = any(v.op == "rank" and v.value is not None and (v.detail.get("lacking") or
                                                              ("forced_last" in v.detail and v.detail["forced_last"] is None))
                  for v in rec.values)
        if own:
            return f"待定：名次暂定，暂留 {held}" if lang == "zh" else f"pending: the place is provisional, {held} held"
        return f"待定：能否获奖尚无法判定，暂留 {held}" if lang == "zh" else f"pending: eligibility unknown, {held} held"
    if a.status == "excluded":
        if a.forfeited is not None:
            left = shown_value(a.forfeited, a.unit, lang)
            return f"不能获奖（名额空缺 {left}）" if lang == "zh" else f"not eligible (the award of {left} stays vacant)"
        return "不能获奖（名额由后一名递补）" if lang == "zh" else "not eligible (the award passes down)"
    return "无" if lang == "zh" else "none"


def render_text2(records: Iterable[Record2], pack: Pack2, out: TextIO, lang: str = "zh", view: str = "auto",
                 suggestions: Mapping[str, Any] | None = None) -> dict[str, int]:
    """`suggestions`: what it would take (engine.explain.whatif2) by entity id, shown under each record."""
    records = list(records)
    suggestions = suggestions or {}
    w = WORDS2[lang]
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    if view == "auto":
        view = "full" if len(records) <= 1 else "short"
    if records:
        _header(records[0], pack, out, lang)
    nodes = criterion_nodes(pack)
    for rec in records:
        if rec.outcome:
            counts[rec.outcome.value] += 1
        if view == "full":
            render_record(rec, pack, out, lang, nodes, suggestions.get(rec.entity_id))
        else:  # h8: the headline says why (a group minimum, a fast track), engine.explain.explain2
            name = f" {rec.entity_name}" if rec.entity_name else ""
            flags = flags_set(rec, lang)
            shown_flags = f" [{w['flag']}: {w['sep'].join(flags)}]" if flags else ""
            out.write(f"{rec.entity_id}{name} — {headline(pack, rec, nodes)[lang]}{shown_flags}\n")
            render_what_it_takes(suggestions.get(rec.entity_id), out, lang)
    if view == "short" and records:
        out.write(w["more"] + "\n")
    out.write(f"{w['summary']}: " + ", ".join(f"{w[k]} {v}" for k, v in counts.items()) + "\n")
    return counts


def decision_dict(rec: Record2, pack: Pack2 | None = None) -> dict[str, Any]:
    """The record as JSON, each value flagged `lower_bound` (a number that is only a lower bound:
    a figure scored 0, provisional), as the text views mark it ≥; with the pack, the steps name
    inputs and values by their labels, as every view shows them (`name` fields keep the names)."""
    d = rec.as_dict()
    d["discretionary_met"] = discretionary_met_ids(d["criteria"])
    for v, out in zip(rec.values, d.get("values") or []):
        out["lower_bound"] = is_lower_bound(v)
        if pack is not None:
            out["steps"] = [{lang: labelled_step(pack, v.name, step[lang], lang) for lang in ("zh", "en")}
                            for step in out.get("steps") or []]
            if out.get("reason"):
                out["reason"] = {lang: labelled_step(pack, v.name, out["reason"][lang], lang) for lang in ("zh", "en")}
    return d


def discretionary_met_ids(criteria: Iterable[Mapping[str, Any]]) -> list[str]:
    """The 酌情 criteria (a reviewer's judgement) an entity meets, from its record's JSON
    criteria: format 1's `discretionary_met`, for a reviewer to confirm."""
    return [c["id"] for c in criteria if c.get("discretionary") and c["status"] == "met"]


def decision_json2(rec: Record2, pack: Pack2 | None = None, nodes: Any = None, wit: Any = None,
                   criteria: Any = None) -> dict[str, Any]:
    """One decision of the JSON document: the record (`decision_dict`), what it would take when
    given, and with the pack the headline (`nodes`: explain2 `criterion_nodes`, once per pack).
    `criteria`: the record's criteria already encoded (engine.report.compact `render_full2`)."""
    d = decision_dict(rec if criteria is None else dataclasses.replace(rec, criteria=()), pack)
    if criteria is not None:
        d["criteria"] = criteria
        # decision_dict saw no criteria: the 酌情 ones met, from the record (same place in the dict)
        d["discretionary_met"] = [c.id for c in rec.criteria if c.discretionary and c.status is Status.MET]
    if wit is not None:
        d["what_it_takes"] = wit  # only with --what-it-takes, on records that do not pass
    if pack is not None:  # h8: the headline of each decision, as the text and HTML views say it
        nodes = criterion_nodes(pack) if nodes is None else nodes
        d["headline"] = headline(pack, rec, nodes)
        d["fails_only_on_group_minimum"] = fails_only_on_group_minimum(pack, rec, nodes)
    return d


def evaluation_json2(records: Iterable[Record2], problems: list[Problem], rows: Any = None,
                     pack: Pack2 | None = None, suggestions: Mapping[str, Any] | None = None) -> dict[str, Any]:
    nodes = criterion_nodes(pack) if pack is not None else None
    decisions = [decision_json2(r, pack, nodes, suggestions.get(r.entity_id) if suggestions else None) for r in records]
    counts: dict[str, int] = {"pass": 0, "fail": 0, "undetermined": 0}
    for d in decisions:
        if d["outcome"]:
            counts[d["outcome"]] += 1
    if rows is not None:
        counts.update(rows.as_dict())
    return {"schema": OUTPUT_SCHEMA2, "decisions": decisions, "counts": counts,
            "problems": [p.as_dict() for p in sorted(problems)]}


def write_csv2(records: Iterable[Record2], pack: Pack2, out: TextIO, lang: str = "zh", bom: bool = False) -> None:
    """One row per entity: outcome, each top-level criterion's status, each value exactly (in its
    unit, as the text view shows it), the award; headers are the officer's labels. `bom` for a
    file: Excel on Windows reads UTF-8 only with a byte-order mark (not on standard output, where
    another program reads it)."""
    w = WORDS2[lang]
    if bom:
        out.write("\ufeff")
    records = list(records)
    tops = [c for c, phase in pack.criteria.items()]
    head = ["id", "名称" if lang == "zh" else "name", "结论" if lang == "zh" else "outcome"]
    head += [_label(pack.titles.get(c, {}).get("title"), lang) or c for c in tops]
    head += [(_label(v.label, lang) or v.name) + (f"（{v.unit.name}）" if v.unit else "") for v in pack.values.values()]
    if pack.awards is not None:
        head.append(w["award"])
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(head)
    for rec in records:
        statuses = rec.statuses()
        values = {v.name: v for v in rec.values}
        row = [rec.entity_id, rec.entity_name or "", w[rec.outcome.value] if rec.outcome else ""]
        row += [w[statuses[c].value] if c in statuses else "" for c in tops]
        for name in pack.values:
            v = values.get(name)
            # digits not grouped in a cell (a spreadsheet would split 1,000 into two columns)
            row.append("" if v is None or v.value is None else
                       ("≥" if is_lower_bound(v) else "") + shown_value(v.value, v.unit, lang).replace(",", ""))
        if pack.awards is not None:
            row.append(award_text(rec, lang) if rec.award else "")
        writer.writerow(row)
