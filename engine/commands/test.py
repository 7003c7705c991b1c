"""`certify test [PATHS]`: run the pack test suites (*.tests.yaml; default rules/). Exit 1 on any
failure, on a broken suite, on a coverage gap with --require-full-coverage, or when no test ran."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.commands.common import EXIT, UsageError, say
from engine.commands.packtest import collect_suites, coverage_gaps, run_suite
from engine.commands.suite_results import SuiteResult
from engine.commands.suite_views import render_junit, render_suites_text, suites_json
from engine.core.files import check_output, output_path


def run_test(paths: tuple[str, ...], fmt: str, junit: str | None, coverage: bool,
             require_full_coverage: bool, engine: str, lang: str) -> int:
    check_output(junit)
    suites, refused = collect_suites(list(paths) or ["rules"])
    if paths and not suites:
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            raise UsageError(f"no such file or folder: {missing[0]}")
    results = [SuiteResult(p.file, problems=[p]) for p in refused] + [run_suite(s, engine) for s in suites]
    if fmt == "json":
        json.dump(suites_json(results), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        render_suites_text(results, sys.stdout, show_coverage=coverage or require_full_coverage, lang=lang)
    if junit:
        with output_path(junit) as tmp:
            render_junit(results, tmp, lang)
    ran = sum(len(r.cases) for r in results)
    failed = sum(1 for r in results for c in r.cases if not c.passed)
    broken = any(p.severity == "error" for r in results for p in r.problems)
    gaps = any(coverage_gaps(r) for r in results) if require_full_coverage else False
    if ran == 0:
        say("没有运行任何测试用例" if lang == "zh" else "no test case ran")
    return EXIT["problems"] if (failed or broken or gaps or ran == 0) else EXIT["ok"]
