"""Report stage: views of decision records and of problems. Nothing here decides anything.

Renderers sit in a registry keyed by format name so the CLI can list and pick them.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Callable, Iterable, TextIO

from engine.explain.explain import Explainer, _missing_text, count_phrase, describe_test
from engine.core.problems import Problem, clip

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
    """A test as it reads in a report (kept for the HTML view): see `engine.explain.explain.describe_test`."""
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
    """`HG05 石磨镇 — 不通过：二(四) …`: who, and the headline (engine.explain.explain) as the record has it."""
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
    from engine.explain.whatif import describe

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
        from engine.compile.targets import render_text_lines

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
                           rows: Any = None) -> dict[str, int]:
    """The same document as `evaluation_json`, written record by record (memory stays flat).

    Takes records, or (outcome, JSON text) pairs from `encode_record`. `rows` (a
    pipeline.RowCounts, complete once the records are consumed) adds read / decided / refused."""
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    out.write('{\n  "schema": "%s",\n  "decisions": [' % OUTPUT_SCHEMA)
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


_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice", "ignored": "notice"}


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
    from engine.commands.packtest import coverage_gaps, line_text

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
    from engine.commands.packtest import coverage_gaps, line_text

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


def _source(source: str) -> tuple[str, str | None]:
    """`path:line` as (path, line); a source without a line number stays whole."""
    path, sep, line = source.rpartition(":")
    return (path, line) if sep and line.isdigit() else (source, None)


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def junit_tree(results: list[Any], lang: str = "en") -> Any:
    """The JUnit XML of a test run, as Jenkins and GitLab read it (tests/junit.xsd follows the
    structure of Jenkins' junit-10.xsd): per suite `name`, `tests`, `failures`, `errors`,
    `skipped`, `time`, `file`; per case `classname`, `name`, `time`, and `file` / `line` in
    attributes of their own. A suite that could not be loaded is one test in error (its
    problems in one `<error>`); a suite refused with a warning only (W213) is one skipped test."""
    import xml.etree.ElementTree as ET

    from engine.commands.packtest import line_text

    root = ET.Element("testsuites", name="certify test")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for s in results:
        errors = [p for p in s.problems if p.severity == "error"]
        others = [p for p in s.problems if p.severity != "error"]
        counts = {"tests": len(s.cases) + (1 if s.problems else 0),
                  "failures": sum(1 for c in s.cases if not c.passed),
                  "errors": 1 if errors else 0,
                  "skipped": 1 if others and not errors else 0}
        node = ET.SubElement(root, "testsuite", name=s.pack_id or s.file,
                             **{k: str(v) for k, v in counts.items()},
                             time=_seconds(s.time), file=s.file)
        if s.problems:
            case = ET.SubElement(node, "testcase", classname=s.pack_id or s.file, name="load", time="0.000",
                                 file=s.file)
            first = min(s.problems)
            case.set("line", str(first.line))
            tag = "error" if errors else "skipped"
            ET.SubElement(case, tag, message=clip(first.text(lang), 300), type=first.code).text = \
                "\n".join(p.format(lang) for p in sorted(s.problems))
        for c in s.cases:
            file, line = _source(c.source)
            case = ET.SubElement(node, "testcase", classname=s.pack_id or s.file, name=c.name,
                                 time=_seconds(c.time), file=file)
            if line is not None:
                case.set("line", line)
            if not c.passed:
                lines = [line_text(d, lang) for d in c.diffs] or ["failed"]
                ET.SubElement(case, "failure", message=clip(lines[0], 300), type="expectation").text = "\n".join(lines)
        for key in totals:
            totals[key] += counts[key]
        total_time += s.time
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(totals[key]))
    root.set("time", _seconds(total_time))
    return ET.ElementTree(root)


def render_junit(results: list[Any], path: str, lang: str = "en") -> None:
    """Write the JUnit report to `path` (atomically: a CI reader never sees half a file)."""
    from engine.report.outputs import atomic_path

    with atomic_path(path) as tmp:
        junit_tree(results, lang).write(tmp, encoding="utf-8", xml_declaration=True)
