"""Views of a `certify test` run (engine.commands.packtest): text, JSON and JUnit XML. They live
with the suites they render (a suite result is a commands-stage record); nothing here decides anything."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, TextIO

from engine.commands.packtest import coverage_gaps, line_text
from engine.core.problems import clip
from engine.core.files import atomic_path


def render_suites_text(results: list[Any], out: TextIO, show_coverage: bool = False, lang: str = "en") -> None:
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
    with atomic_path(path) as tmp:
        junit_tree(results, lang).write(tmp, encoding="utf-8", xml_declaration=True)
