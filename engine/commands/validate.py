"""`certify validate PATHS`: check rule packs (syntax, schema, references, units; format 2 also
what parsing its values and stages finds). Exit 0 clean, 1 problems."""

from __future__ import annotations

import sys

from engine.commands.common import EXIT, UsageError, say
from engine.commands.lint import IGNORED, apply_ignores, collect_packs
from engine.compile.build2 import check_pack2
from engine.core.problems import has_errors
from engine.report.problems import PROBLEM_RENDERERS
from engine.compile.check import validate_file


def run_validate(paths: tuple[str, ...], fmt: str, strict: bool, lang: str, show_ignored: bool) -> int:
    files, missing, problems = collect_packs(paths)  # refused paths (E175, W213) are problems, never read
    if missing:
        raise UsageError(f"no such file or folder: {missing[0]}")
    for file in files:
        doc, _, found = validate_file(file)
        if doc is not None and isinstance(doc.value, dict) and doc.value.get("format") == 2 and not has_errors(found):
            found = check_pack2(doc)  # format 2: also what parsing the values and the stages finds
        problems.extend(apply_ignores(doc, found) if doc is not None else found)
    ignored = sum(1 for p in problems if p.severity == IGNORED)
    problems = [p for p in problems if show_ignored or p.severity != IGNORED]
    PROBLEM_RENDERERS[fmt](problems, sys.stdout, lang)
    live = [p for p in problems if p.severity != IGNORED]
    if fmt == "text":
        errors = sum(1 for p in live if p.severity == "error")
        say(f"已检查 {len(files)} 个规则包：{errors} 个错误，{len(live) - errors} 个警告，{ignored} 个已忽略"
            if lang == "zh" else
            f"{len(files)} pack(s) checked: {errors} error(s), {len(live) - errors} warning(s), {ignored} ignored")
    failed = has_errors(problems) or (strict and bool(live))
    return EXIT["problems"] if failed else EXIT["ok"]
