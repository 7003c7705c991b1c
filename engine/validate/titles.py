"""Placeholders in titles: `{parameter}` in a criterion's, flag's or target's title must name a parameter.

`制造业类产值达到{manufacturing_output_min}以上`: the compiler fills each placeholder with the value
in force (engine.compile.titles); here a placeholder that names no parameter is reported (E120, with
its did-you-mean). Only `{name}` with a parameter-like name is a placeholder; any other brace is
plain text.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Any, Iterable

from engine.core.suggest import did_you_mean

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _titled(value: dict[str, Any]) -> Iterable[tuple[Any, tuple[Any, ...]]]:
    """(title, path) of every criterion, flag and target in a pack document."""
    def walk(node: Any, path: tuple[Any, ...]) -> Iterable[tuple[Any, tuple[Any, ...]]]:
        if not isinstance(node, dict):
            return
        if "title" in node:
            yield node["title"], path + ("title",)
        for kind in ("all", "any"):
            for i, child in enumerate(node.get(kind) or []):
                yield from walk(child, path + (kind, i))
        if isinstance(node.get("at_least"), dict):
            for i, child in enumerate(node["at_least"].get("of") or []):
                yield from walk(child, path + ("at_least", "of", i))
        if isinstance(node.get("not"), dict):
            yield from walk(node["not"], path + ("not",))
        for i, case in enumerate(node.get("cases") or []):
            if isinstance(case, dict):
                yield from walk(case.get("then"), path + ("cases", i, "then"))

    yield from walk(value.get("criteria"), ("criteria",))
    for key in ("flags", "targets"):
        items = value.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and "title" in item:
                yield item["title"], (key, i, "title")


def check_title_placeholders(sem: Any) -> None:
    """E120 for a `{name}` in a title that names no parameter (validate's meaning pass)."""
    declared = sem.value.get("parameters")
    declared = declared if isinstance(declared, dict) else {}
    for title, path in _titled(sem.value):
        if not isinstance(title, dict):
            continue
        for lang, text in title.items():
            if not isinstance(text, str):
                continue
            for match in PLACEHOLDER.finditer(text):
                name = match.group(1)
                if name in declared:
                    continue
                hint = did_you_mean(name, declared)
                problem = sem.doc.problem(
                    "E120", f"title placeholder {{{name}}} names no parameter{hint}; write {{PARAMETER}} with "
                            "a name from parameters:, or drop the braces", path + (lang,))
                close = difflib.get_close_matches(name, list(declared), n=1, cutoff=0.6)
                zh_hint = f"，是否应为 {{{close[0]}}}?" if close else ""
                sem.problems.append(dataclasses.replace(
                    problem, message_zh=f"标题中的占位符 {{{name}}} 不是已声明的参数{zh_hint}。"
                                        "请写成 {参数名}(参数名见 parameters:),或去掉花括号。"))
