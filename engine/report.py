"""Report stage: views of decision records and of problems. Nothing here decides anything.

Renderers sit in a registry keyed by format name so the CLI can list and pick them.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, TextIO

from .problems import Problem

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
        "discretionary_met": "经酌情条款满足", "strict": "须超过该标准",
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
        "discretionary_met": "met on a discretionary path", "strict": "must exceed the threshold",
    },
}
_MARK = {"met": "✔", "not_met": "✘", "unknown": "?", "not_yet_due": "…"}
_OP = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "=", "!=": "≠", "in": "∈", "not_in": "∉"}


def _label(label: dict[str, str] | None, lang: str) -> str:
    if not label:
        return ""
    return label.get(lang) or label.get("zh") or next(iter(label.values()))


def _test_text(test: dict[str, Any], status: str, lang: str) -> str:
    w = WORDS[lang]
    op = test.get("operator")
    if op == "attested" or op in ("is_true", "is_false"):
        value = test.get("value")
        text = w["attested_none"] if value is None else (w["attested_yes"] if value else w["attested_no"])
        if op == "is_false" and value is not None:
            text = w["attested_no"] if value else w["attested_yes"]
        ev = test.get("evidence")
        if ev:
            text += " (" + ", ".join(ev[k] for k in ("by", "date", "ref") if k in ev) + ")"
        return text
    value = test.get("text") or (
        _label(test.get("value_label"), lang) if test.get("value_label") else test.get("value"))
    shown = f"{w['missing']} {_label(test.get('label'), lang)}" if test.get("value") is None else str(value)
    if op in ("in", "not_in"):
        choices = "、".join(_label(v, lang) for v in test.get("value_labels", []))
        return f"{shown} {_OP[op]} {{{choices}}}"
    if test.get("threshold") is None:
        return f"{shown} {_OP.get(op, op)} ? ({w['policy_unset']})"
    text = f"{shown} {_OP.get(op, op)} {test.get('threshold_text')}"
    if test.get("gap_text"):
        text += f" — {w['short']} {test['gap_text']}"
    if test.get("gap_note"):
        text += f" ({w['strict']})"
    return text


def render_text(records: Iterable[dict[str, Any]], out: TextIO, lang: str = "zh",
                pack_title: dict[str, str] | None = None) -> dict[str, int]:
    w = WORDS[lang]
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    first = True
    for rec in records:
        counts[rec["outcome"]] += 1
        prov = rec["record"]
        if first:
            title = _label(pack_title, lang) if pack_title else prov["pack"]
            out.write(f"{title} — {prov['pack']} {prov['pack_version']} "
                      f"(sha256 {prov['pack_sha256'][:12]}), {w['as_of']} {prov['as_of']}\n")
            if prov.get("overrides"):
                for name, o in prov["overrides"].items():
                    out.write(f"  override {name} = {o['value']} ({o['from']})\n")
            out.write("\n")
            first = False
        ent = rec["entity"]
        name = f" {ent['name']}" if ent.get("name") else ""
        out.write(f"{ent['id']}{name}: {w[rec['outcome']]}\n")
        for c in rec["criteria"]:
            indent = "  " * (c["depth"] + 1)
            cite = f"{c['cite']} " if c.get("cite") else ""
            line = f"{indent}{_MARK[c.get('target_status') or c['status']]} {cite}{_label(c['title'], lang)}"
            if "test" in c:
                line += ": " + _test_text(c["test"], c["status"], lang)
            if c.get("branch_detail"):
                line += f" [{w['path']}: {_label(c['branch_detail'], lang)}]"
            if c.get("discretionary"):
                line += f" [{w['discretionary']}]"
            out.write(line + "\n")
        if rec["missing_inputs"]:
            names = []
            for m in rec["missing_inputs"]:
                if "parameter" in m:
                    names.append(f"{_label(m['label'], lang)} ({m['parameter']}: {w['policy_unset']})")
                else:
                    names.append(f"{_label(m['label'], lang)} ({m['input']})")
            out.write(f"  {w['missing_header']}: " + "; ".join(names) + "\n")
        if rec.get("what_it_takes") is not None:
            from .whatif import describe

            wit = rec["what_it_takes"]
            out.write(f"  {'如何才能通过' if lang == 'zh' else 'what it would take'}:\n")
            for i, option in enumerate(wit.get("options", []), 1):
                out.write(f"    {i}. {describe(option, lang)}\n")
            if not wit.get("options"):
                out.write(f"    {_label(wit.get('note'), lang)}\n")
        if rec["discretionary_met"]:
            out.write(f"  {w['discretionary_met']}: {', '.join(rec['discretionary_met'])}\n")
        if rec.get("targets"):
            from .targets import render_text_lines

            for text in render_text_lines(rec["targets"], lang):
                out.write(f"  {text}\n")
        for f in rec["flags"]:
            state = {"met": w["set"], "not_met": w["unset"], "unknown": w["unknown"]}[f["status"]]
            cite = f"{f['cite']} " if f.get("cite") else ""
            out.write(f"  {w['flags']}: {cite}{_label(f['title'], lang)} — {state}\n")
        for p in rec["data_problems"]:
            out.write(f"  {w['data_problem']}: {p['code']} {p['message']}\n")
        out.write(f"  {w['record']}: input sha256 {prov and rec['record']['input_sha256'][:12]}, "
                  f"{w['engine']} {prov['engine_version']} / {prov['decided_by']}\n\n")
    out.write(f"{w['summary']}: " + ", ".join(f"{w[k]} {v}" for k, v in counts.items()) + "\n")
    return counts


def evaluation_json(records: list[dict[str, Any]], problems: list[Problem]) -> dict[str, Any]:
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    for rec in records:
        counts[rec["outcome"]] += 1
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


def stream_evaluation_json(records: Iterable[Any], problems: list[Problem], out: TextIO) -> dict[str, int]:
    """The same document as `evaluation_json`, written record by record (memory stays flat).

    Takes records, or (outcome, JSON text) pairs from `encode_record`."""
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    out.write('{\n  "schema": "%s",\n  "decisions": [' % OUTPUT_SCHEMA)
    first = True
    for rec in records:
        outcome, text = rec if isinstance(rec, tuple) else encode_record(rec)
        counts[outcome] += 1
        out.write(("\n    " if first else ",\n    ") + text)
        first = False
    out.write("\n  ],\n  \"counts\": " + json.dumps(counts))
    out.write(",\n  \"problems\": " + json.dumps([p.as_dict() for p in sorted(problems)], ensure_ascii=False))
    out.write("\n}\n")
    return counts


def render_problems_text(problems: Iterable[Problem], out: TextIO, lang: str = "en") -> None:
    for p in sorted(problems):
        out.write(p.format(lang) + "\n")


def render_problems_json(problems: Iterable[Problem], out: TextIO, lang: str = "en") -> None:
    json.dump({"schema": "certify.problems/1", "problems": [p.as_dict() for p in sorted(problems)]},
              out, ensure_ascii=False, indent=2)
    out.write("\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def render_problems_github(problems: Iterable[Problem], out: TextIO, lang: str = "en") -> None:
    """GitHub Actions workflow commands, so a pull request shows each problem on its line:
    `::error file=F,line=L,col=C,title=CODE::message` (escaped as the runner expects)."""
    for p in sorted(problems):
        level = _GITHUB_LEVEL.get(p.severity, "warning")
        where = f" [{p.path}]" if p.path else ""
        out.write(f"::{level} file={_escape_property(p.file)},line={p.line},col={p.col},"
                  f"title={_escape_property(p.code)}::{_escape_data(p.text(lang) + where)}\n")


PROBLEM_RENDERERS: dict[str, Callable[..., None]] = {  # (problems, out, lang="en")
    "text": render_problems_text,
    "json": render_problems_json,
    "github": render_problems_github,
}


# ---------------------------------------------------------------------------------------------
# Pack test suites


def render_suites_text(results: list[Any], out: TextIO, show_coverage: bool = False, lang: str = "en") -> None:
    from .packtest import coverage_gaps, line_text

    zh = lang == "zh"
    total = failed = 0
    for suite in results:
        out.write(f"{suite.file} ({suite.pack_id or ('规则包未加载' if zh else 'pack not loaded')})\n")
        for p in suite.problems:
            out.write(f"  {p.format(lang)}\n")
        for case in suite.cases:
            total += 1
            if case.passed:
                out.write(f"  {'通过' if zh else 'ok  '}  {case.name}\n")
            else:
                failed += 1
                out.write(f"  {'失败' if zh else 'FAIL'}  {case.name}  ({case.source})\n")
                for diff in case.diffs:
                    out.write(f"          - {line_text(diff, lang)}\n")
        if show_coverage and suite.coverage_ids:
            gaps = coverage_gaps(suite)
            full = len(suite.coverage_ids) - len(gaps)
            if zh:
                out.write(f"  覆盖：{full}/{len(suite.coverage_ids)} 个条件和标记的 满足、不满足、未知 三种状态都已测到\n")
            else:
                out.write(f"  coverage: {full}/{len(suite.coverage_ids)} criteria and flags seen met, not met and unknown\n")
            for ident, missing in gaps.items():
                out.write(f"    {ident}: {'从未出现 ' if zh else 'never '}{', '.join(missing)}\n")
    out.write(f"通过 {total - failed} 项，失败 {failed} 项\n" if zh else f"{total - failed} passed, {failed} failed\n")


def suites_json(results: list[Any]) -> dict[str, Any]:
    from .packtest import coverage_gaps, line_text

    return {
        "schema": "certify.tests/1",
        "suites": [
            {
                "file": s.file,
                "pack": s.pack_id,
                "problems": [p.as_dict() for p in s.problems],
                "cases": [{"name": c.name, "source": c.source, "passed": c.passed, "outcome": c.outcome,
                           "diffs": [str(d) for d in c.diffs], "diffs_zh": [line_text(d, "zh") for d in c.diffs]}
                          for c in s.cases],
                "coverage": {k: sorted(v) for k, v in s.coverage.items()},
                "coverage_gaps": coverage_gaps(s),
            }
            for s in results
        ],
        "passed": sum(1 for s in results for c in s.cases if c.passed),
        "failed": sum(1 for s in results for c in s.cases if not c.passed),
    }


def render_junit(results: list[Any], path: str) -> None:
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites")
    for s in results:
        node = ET.SubElement(root, "testsuite", name=s.pack_id or s.file, tests=str(len(s.cases)),
                             failures=str(sum(1 for c in s.cases if not c.passed)),
                             errors=str(len(s.problems)))
        for p in s.problems:
            case = ET.SubElement(node, "testcase", classname=s.file, name=f"load {p.code}")
            ET.SubElement(case, "error", message=p.message).text = p.format()
        for c in s.cases:
            case = ET.SubElement(node, "testcase", classname=s.pack_id or s.file, name=c.name, file=c.source)
            if not c.passed:
                ET.SubElement(case, "failure", message=c.diffs[0] if c.diffs else "failed").text = "\n".join(c.diffs)
    tmp = path + ".tmp"
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    import os

    os.replace(tmp, path)
