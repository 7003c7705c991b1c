"""Text and JSON views of decision records (what `certify evaluate` prints). Nothing here decides
anything. Problems have their own views (engine.report.problems)."""

from __future__ import annotations

import itertools
import json
from typing import Any, Iterable, TextIO

from engine.explain.records import Explainer, _missing_text, count_phrase, describe_test
from engine.core.problems import Problem
from engine.compile.targets import render_text_lines
from engine.explain.whatif import describe

OUTPUT_SCHEMA = "certify.evaluation/1"

WORDS = {
    "zh": {
        "pass": "通过", "fail": "不通过", "undetermined": "无法判定",
        "met": "满足", "not_met": "不满足", "unknown": "未知",
        "value": "数值", "threshold": "标准", "short": "差", "missing": "缺少",
        "attested_yes": "认定意见:是", "attested_no": "认定意见:否", "attested_none": "未提供认定意见",
        "discretionary": "酌情条款", "flags": "标记", "set": "是", "unset": "否",
        "record": "记录", "as_of": "评定基准日", "missing_header": "缺少的数据或认定",
        "policy_unset": "政策未规定具体数值", "na": "不适用", "data_problem": "数据问题",
        "summary": "合计", "engine": "引擎", "evidence": "依据", "path": "路径",
        "discretionary_met": "经酌情条款满足(请审核确认)", "strict": "须超过该标准",
        "list_sep": "、", "input_hash": "输入 sha256",
    },
    "en": {
        "pass": "PASS", "fail": "FAIL", "undetermined": "UNDETERMINED",
        "met": "met", "not_met": "not met", "unknown": "unknown",
        "value": "value", "threshold": "threshold", "short": "short by", "missing": "missing",
        "attested_yes": "attested: yes", "attested_no": "attested: no", "attested_none": "no attestation given",
        "discretionary": "discretionary", "flags": "flags", "set": "yes", "unset": "no",
        "record": "record", "as_of": "as of", "missing_header": "missing data or attestations",
        "policy_unset": "the policy sets no number", "na": "not applicable", "data_problem": "data problem",
        "summary": "total", "engine": "engine", "evidence": "evidence", "path": "path",
        "discretionary_met": "met on a discretionary path (a reviewer should confirm)",
        "strict": "must exceed the threshold", "list_sep": "; ", "input_hash": "input sha256",
    },
}
_MARK = {"met": "✔", "not_met": "✘", "unknown": "?", "not_yet_due": "…"}
_OP = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "=", "!=": "≠", "in": "∈", "not_in": "∉"}
VIEWS = ("auto", "full", "short")
_MORE = {"zh": "(每个对象一行；加 --full 显示每项条件的判定过程)",
         "en": "(one line per entity; --full shows every criterion)"}
_DECIDED_BY_ZH = {"reference evaluator": "参照求值器"}


def _label(label: dict[str, str] | None, lang: str) -> str:
    if not label:
        return ""
    return label.get(lang) or label.get("zh") or next(iter(label.values()))


def _test_text(test: dict[str, Any], status: str, lang: str) -> str:
    """A test as it reads in a report (kept for the HTML view): see `engine.explain.records.describe_test`."""
    return describe_test(test, status, lang)


def _criterion_text(c: dict[str, Any], lang: str) -> str:
    """One criterion of the tree: mark, clause, title, then what happened and what was required."""
    w = WORDS[lang]
    cite = f"{c['cite']} " if c.get("cite") else ""
    line = f"{_MARK[c.get('target_status') or c['status']]} {cite}{_label(c['title'], lang)}"
    if "test" in c:
        line += ": " + describe_test(c["test"], c["status"], lang)
    elif "count" in c:
        line += ": " + count_phrase(c["count"], lang)
    if c.get("branch_detail"):
        line += f" [{w['path']}: {_label(c['branch_detail'], lang)}]"
    if c.get("discretionary"):
        line += f" [{w['discretionary']}]"
    return line


def _entity_line(rec: dict[str, Any], lang: str) -> str:
    """`HG05 石磨镇 — 不通过：二(四) …`: who, and the headline (engine.explain.records) as the record has it."""
    ent = rec["entity"]
    name = f" {ent['name']}" if ent.get("name") else ""
    headline = _label(rec.get("headline"), lang) or WORDS[lang][rec["outcome"]]
    return f"{ent['id']}{name} — {headline}"


def _param_label(name: str, records: list[dict[str, Any]], labels: dict[str, Any] | None, lang: str) -> str:
    if labels and labels.get(name):
        return _label(labels[name], lang)
    for rec in records:
        for c in rec.get("criteria", []):
            if (c.get("test") or {}).get("parameter") == name and c["test"].get("parameter_label"):
                return _label(c["test"]["parameter_label"], lang)
    return name


def _header(rec: dict[str, Any], out: TextIO, lang: str, pack_title: dict[str, str] | None,
            param_labels: dict[str, Any] | None) -> None:
    w = WORDS[lang]
    prov = rec["record"]
    title = _label(pack_title, lang) if pack_title else prov["pack"]
    out.write(f"{title} — {prov['pack']} {prov['pack_version']} "
              f"(sha256 {prov['pack_sha256'][:12]}), {w['as_of']} {prov['as_of']}\n")
    for name, o in (prov.get("overrides") or {}).items():
        label = _param_label(name, [rec], param_labels, lang)
        if lang == "zh":
            out.write(f"  参数临时改为: {label} = {o['value']} (来自 {o['from']})\n")
        else:
            out.write(f"  override {name} ({label}) = {o['value']} ({o['from']})\n")


def render_text(records: Iterable[dict[str, Any]], out: TextIO, lang: str = "zh",
                pack_title: dict[str, str] | None = None, view: str = "auto",
                param_labels: dict[str, Any] | None = None) -> dict[str, int]:
    """The decisions as text. `view`: "full" (every criterion, value, threshold and gap), "short"
    (one line per entity: its headline), or "auto": full for a single entity, short for a batch.
    Records are rendered as they arrive (auto looks ahead at most one record)."""
    w = WORDS[lang]
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    stream = iter(records)
    if view == "auto":
        ahead = [r for r in (next(stream, None), next(stream, None)) if r is not None]
        view = "short" if len(ahead) > 1 else "full"
        stream = itertools.chain(ahead, stream)
    first = True
    for rec in stream:
        counts[rec["outcome"]] += 1
        if first:
            _header(rec, out, lang, pack_title, param_labels)
            if view == "short":
                out.write(f"{_MORE[lang]}\n")
            out.write("\n")
            first = False
        if view == "short":
            _render_short(rec, out, lang)
        else:
            _render_full(rec, out, lang)
    if view == "short" and not first:
        out.write("\n")
    out.write(f"{w['summary']}: " + ", ".join(f"{w[k]} {v}" for k, v in counts.items()) + "\n")
    return counts


def _flags_set(rec: dict[str, Any], lang: str) -> list[str]:
    return [f"{f['cite']} {_label(f['title'], lang)}".strip() if f.get("cite") else _label(f["title"], lang)
            for f in rec.get("flags", []) if f["status"] == "met"]


def _render_what_it_takes(rec: dict[str, Any], out: TextIO, lang: str, indent: str) -> None:
    if rec.get("what_it_takes") is None:
        return
    wit = rec["what_it_takes"]
    out.write(f"{indent}{'如何才能通过' if lang == 'zh' else 'what it would take'}:\n")
    for i, option in enumerate(wit.get("options", []), 1):
        out.write(f"{indent}  {i}. {describe(option, lang)}\n")
    if not wit.get("options"):
        out.write(f"{indent}  {_label(wit.get('note'), lang)}\n")


def _render_short(rec: dict[str, Any], out: TextIO, lang: str) -> None:
    w = WORDS[lang]
    line = _entity_line(rec, lang)
    flags = _flags_set(rec, lang)
    if flags:
        line += f" [{w['flags']}: {w['list_sep'].join(flags)}]"
    out.write(line + "\n")
    _render_what_it_takes(rec, out, lang, "    ")


def _render_full(rec: dict[str, Any], out: TextIO, lang: str) -> None:
    w = WORDS[lang]
    prov = rec["record"]
    out.write(_entity_line(rec, lang) + "\n")
    by_id = {c["id"]: c for c in rec["criteria"]}
    for c in rec["criteria"]:
        out.write("  " * (c["depth"] + 1) + _criterion_text(c, lang) + "\n")
    if rec["missing_inputs"]:
        names = [_missing_text(m, Explainer._cites_reading(m, rec["criteria"]), lang) for m in rec["missing_inputs"]]
        out.write(f"  {w['missing_header']}: " + w["list_sep"].join(names) + "\n")
    _render_what_it_takes(rec, out, lang, "  ")
    if rec["discretionary_met"]:
        judged = [f"{by_id[i].get('cite') or ''} {_label(by_id[i]['title'], lang)}".strip() if i in by_id else i
                  for i in rec["discretionary_met"]]
        out.write(f"  {w['discretionary_met']}: {w['list_sep'].join(judged)}\n")
    if rec.get("targets"):
        for text in render_text_lines(rec["targets"], lang):
            out.write(f"  {text}\n")
    for f in rec["flags"]:
        state = {"met": w["set"], "not_met": w["unset"], "unknown": w["unknown"]}[f["status"]]
        cite = f"{f['cite']} " if f.get("cite") else ""
        out.write(f"  {w['flags']}: {cite}{_label(f['title'], lang)} — {state}\n")
    for p in rec["data_problems"]:
        message = p.get("message_zh") or p["message"] if lang == "zh" else p["message"]
        out.write(f"  {w['data_problem']}: {p['code']} {message}\n")
    decided_by = _DECIDED_BY_ZH.get(prov["decided_by"], prov["decided_by"]) if lang == "zh" else prov["decided_by"]
    out.write(f"  {w['record']}: {w['input_hash']} {prov['input_sha256'][:12]}, "
              f"{w['engine']} {prov['engine_version']} / {decided_by}\n\n")


def evaluation_json(records: list[dict[str, Any]], problems: list[Problem],
                    rows: Any = None) -> dict[str, Any]:
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    for rec in records:
        counts[rec["outcome"]] += 1
    if rows is not None:  # a pipeline.RowCounts: read / decided / refused
        counts.update(rows.as_dict())
    return {
        "schema": OUTPUT_SCHEMA,
        "counts": counts,
        "decisions": [{k: v for k, v in r.items() if not k.startswith("_")} for r in records],
        "problems": [p.as_dict() for p in sorted(problems)],
    }


def encode_record(record: dict[str, Any]) -> tuple[str, str]:
    """(outcome, JSON text) of one decision: the form workers send back (see decide_files)."""
    body = {k: v for k, v in record.items() if not k.startswith("_")}
    # Key order is fixed by how explain builds a record, so output is deterministic unsorted.
    return record["outcome"], json.dumps(body, ensure_ascii=False)


def stream_evaluation_json(records: Iterable[Any], problems: list[Problem], out: TextIO,
                           rows: Any = None, schema: str = OUTPUT_SCHEMA) -> dict[str, int]:
    """The same document as `evaluation_json`, written record by record (memory stays flat).

    Takes records, or (outcome, JSON text) pairs from `encode_record`. `rows` (a
    pipeline.RowCounts, complete once the records are consumed) adds read / decided / refused.
    `schema`: the compact document's (engine.report.compact) for compact records."""
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    out.write('{\n  "schema": "%s",\n  "decisions": [' % schema)
    first = True
    for rec in records:
        outcome, text = rec if isinstance(rec, tuple) else encode_record(rec)
        counts[outcome] += 1
        out.write(("\n    " if first else ",\n    ") + text)
        first = False
    if rows is not None:
        counts.update(rows.as_dict())
    out.write("\n  ],\n  \"counts\": " + json.dumps(counts))
    out.write(",\n  \"problems\": " + json.dumps([p.as_dict() for p in sorted(problems)], ensure_ascii=False))
    out.write("\n}\n")
    return counts
