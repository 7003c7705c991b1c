"""Bounded work for format-2 packs: E150, E152, E157 from the tree at their line (validate), E151
from the tests a phase decides, compiler refusals under format 1's codes (engine.validate.limits2,
engine.compile.build2)."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.compile.build2 import build2, check_pack2
from engine.core.problems import ProblemsError
from engine.load.yamlsafe import parse_yaml
from engine.validate.limits import MAX_DEPTH, MAX_GROUP, MAX_TESTS

AS_OF = dt.date(2024, 6, 30)


def _pack(criteria: list[str], inputs: int = 4) -> str:
    lines = ["format: 2", 'pack: {id: lim, version: "1.0.0", entity: firm, title: {zh: 限}}', "inputs:"]
    lines += [f"  a{i}: {{type: boolean, label: {{zh: a{i}}}}}" for i in range(inputs)]
    lines += ["criteria:"] + criteria + ["outcomes: {decision: c}"]
    return "\n".join(lines) + "\n"


def _problems(text: str) -> list[tuple[str, int]]:
    doc = parse_yaml(text, "p.yaml")
    return [(p.code, p.line) for p in check_pack2(doc, AS_OF) if p.severity == "error"]


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize("k", [0, 3])
def test_at_least_k_outside_1_to_n_is_e157(k):
    text = _pack(["  c:", "    title: {zh: c}", "    cite: x",
                  f"    at_least: {{k: {k}, of: [{{test: {{value: a0, op: is_true}}}}, {{test: {{value: a1, op: is_true}}}}]}}"])
    assert _problems(text) == [("E157", _line(text, "at_least"))]
    with pytest.raises(ProblemsError):
        build2(parse_yaml(text, "p.yaml"), text.encode(), AS_OF)


def test_a_list_over_the_group_limit_is_e150_at_the_list():
    n = MAX_GROUP + 1
    text = _pack(["  c:", "    title: {zh: c}", "    cite: x", "    any:"]
                 + [f"      - {{test: {{value: a{i}, op: is_true}}}}" for i in range(n)], inputs=n)
    assert _problems(text) == [("E150", _line(text, "    any:"))]


def test_nesting_over_the_depth_limit_is_e152():
    lines = ["  c:", "    title: {zh: c}", "    cite: x"]
    indent = "    "
    for _ in range(MAX_DEPTH):
        lines.append(f"{indent}all:")
        lines.append(f"{indent}  - test: {{value: a0, op: is_true}}")
        lines.append(f"{indent}  - ")
        indent += "    "
    lines[-1] = lines[-1] + "test: {value: a1, op: is_true}"
    text = _pack(lines)
    assert [c for c, _ in _problems(text)] == ["E152"]


def test_a_phase_deciding_too_many_tests_is_e151():
    n = MAX_TESTS + 1
    criteria = ["  c:", "    title: {zh: c}", "    cite: x", "    all:"]
    criteria += [f"      - {{id: g{j}, all: [" + ", ".join(f"{{test: {{value: a{i}, op: is_true}}}}" for i in range(j * 27, min(n, j * 27 + 27)))
                 + "]}" for j in range((n + 26) // 27)]
    text = _pack(criteria, inputs=n)
    assert _problems(text) == [("E151", _line(text, "  c:"))]


def test_the_shipped_format2_packs_are_inside_the_limits():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "rules"
    for path in sorted(root.glob("*.yaml")):
        if path.name.endswith(".tests.yaml"):
            continue
        text = path.read_text(encoding="utf-8")
        if not text.lstrip().startswith("format: 2") and "\nformat: 2" not in text:
            continue
        doc = parse_yaml(text, str(path))
        assert not [p for p in check_pack2(doc, AS_OF) if p.code.startswith("E15")], path.name
