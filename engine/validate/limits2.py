"""Bounded work for format-2 packs (docs/format2.md): the shape limits of format 1
(engine.validate.limits) measured on format 2's criteria trees, before anything is compiled.

Format 2 compiles each criteria phase on its own (engine.compile.build2), so the expansion limits
(E151 tests per entity, E153-E156, E158) are checked there, on the stages the compiler really
builds; what can be told from the tree alone is checked here, at its line:

- E150: more than MAX_GROUP items in one all / any / at_least / cases list (a criterion's or a
  condition's): durable-rules' condition stack overflows on such a list decided in one group;
- E152: criteria and conditions nested deeper than MAX_DEPTH;
- E157: an `at_least` whose k is not from 1 to the number of criteria listed (k = 3 of 2 could
  never be met: a typo, not a policy).
"""

from __future__ import annotations

from typing import Any

from engine.core.problems import Problem
from engine.load.yamlsafe import Document
from engine.validate.limits import MAX_DEPTH, MAX_GROUP

Path = tuple[Any, ...]


class _Shape:
    def __init__(self) -> None:
        self.widest: tuple[int, Path, str] = (0, (), "")
        self.deepest: tuple[int, Path, str] = (0, (), "")
        self.bad_k: list[tuple[Path, Any, int, str]] = []

    def group(self, size: int, path: Path, name: str) -> None:
        if size > self.widest[0]:
            self.widest = (size, path, name)

    def node(self, node: Any, path: Path, depth: int, name: str) -> None:
        """A criterion tree node (format 2: test, criterion, all, any, at_least, not, cases)."""
        if not isinstance(node, dict):
            return
        if isinstance(node.get("id"), str):
            name = node["id"]
        if depth > self.deepest[0]:
            self.deepest = (depth, path, name)
        if "applies_when" in node:
            self.condition(node["applies_when"], path + ("applies_when",), depth + 1, name)
        for kind in ("all", "any"):
            if isinstance(node.get(kind), list):
                self.group(len(node[kind]), path + (kind,), name)
                for i, child in enumerate(node[kind]):
                    self.node(child, path + (kind, i), depth + 1, name)
        at_least = node.get("at_least")
        if isinstance(at_least, dict) and isinstance(at_least.get("of"), list):
            of, k = at_least["of"], at_least.get("k")
            self.group(len(of), path + ("at_least", "of"), name)
            if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(of):
                self.bad_k.append((path + ("at_least", "k"), k, len(of), name))
            for i, child in enumerate(of):
                self.node(child, path + ("at_least", "of", i), depth + 1, name)
        if isinstance(node.get("not"), dict):
            self.node(node["not"], path + ("not",), depth + 1, name)
        if isinstance(node.get("cases"), list):
            self.group(len(node["cases"]), path + ("cases",), name)
            for i, case in enumerate(node["cases"]):
                if isinstance(case, dict):
                    self.condition(case.get("when"), path + ("cases", i, "when"), depth + 1, name)
                    self.node(case.get("then"), path + ("cases", i, "then"), depth + 1, name)

    def condition(self, cond: Any, path: Path, depth: int, name: str) -> None:
        """A condition (`applies_when`, `when`): all / any / not over tests."""
        if not isinstance(cond, dict):
            return
        if depth > self.deepest[0]:
            self.deepest = (depth, path, name)
        for kind in ("all", "any"):
            if isinstance(cond.get(kind), list) and "op" not in cond:
                self.group(len(cond[kind]), path + (kind,), name)
                for i, child in enumerate(cond[kind]):
                    self.condition(child, path + (kind, i), depth + 1, name)
        if isinstance(cond.get("not"), dict):
            self.condition(cond["not"], path + ("not",), depth + 1, name)


def shape_problems2(doc: Document) -> list[Problem]:
    """E150, E152, E157 for a format-2 pack, each at the list, node or k it is about."""
    value = doc.value if isinstance(doc.value, dict) else {}
    shape = _Shape()
    criteria = value.get("criteria")
    for name, node in (criteria.items() if isinstance(criteria, dict) else ()):
        shape.node(node, ("criteria", name), 1, str(name))
    outcomes = value.get("outcomes") if isinstance(value.get("outcomes"), dict) else {}
    for section in ("flags", "consequences"):
        rules = outcomes.get(section)
        for i, rule in enumerate(rules if isinstance(rules, list) else ()):
            if isinstance(rule, dict):
                shape.condition(rule.get("when"), ("outcomes", section, i, "when"), 1, str(rule.get("id", section)))
    out: list[Problem] = []
    size, path, name = shape.widest
    if size > MAX_GROUP:
        out.append(doc.problem(
            "E150", f"criterion {name!r} lists {size} items in one group; the limit is {MAX_GROUP}. Split it into "
            f"criteria of at most {MAX_GROUP} each (an all of alls, or an any of anys, means the same)", path, "error",
            f"条件 {name!r} 的一组里列了 {size} 项，上限是 {MAX_GROUP} 项。请拆成若干个子条件（每个不超过 {MAX_GROUP} 项；"
            "“全部满足”套“全部满足”、“任一满足”套“任一满足”，含义不变）"))
    depth, path, name = shape.deepest
    if depth > MAX_DEPTH:
        out.append(doc.problem(
            "E152", f"criteria are nested {depth} levels deep in {name!r}; the limit is {MAX_DEPTH}. Flatten it: an "
            "all inside an all (or an any inside an any) can be one list, and a not of a not is the criterion itself",
            path, "error",
            f"条件 {name!r} 处嵌套了 {depth} 层，上限是 {MAX_DEPTH} 层。请减少嵌套：“全部满足”里的“全部满足”"
            "（或“任一满足”里的“任一满足”）可以合成一组，两个“不满足”相互抵消"))
    for path, k, n, name in shape.bad_k:
        out.append(doc.problem(
            "E157", f"at_least k={k} in {name!r}, but it lists {n} criteria: k must be a whole number from 1 to {n} "
            f"(k={n} is all of them, k=1 is any of them)", path, "error",
            f"条件 {name!r} 的 at_least 写了 k={k}，但只列了 {n} 项：k 应为 1 到 {n} 之间的整数"
            f"（k={n} 即全部满足，k=1 即任一满足）"))
    return out
