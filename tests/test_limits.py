"""Bounded work (engine/limits.py): every limit has its code, `validate` refuses before any
compile, `compile.build` refuses on its own, the packs at the limits compile and decide the
same in both engines, the measures bound the real compile, and the shipped packs have room."""

from __future__ import annotations

import datetime as dt
import random
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.validate import limits
from engine.compile import check as compile_check
from engine.compile.compile import build
from engine.evaluate.evaluate import Decider
from engine.core.problems import ProblemsError
from engine.compile.check import check_document
from engine.load.yamlsafe import parse_yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import limit_packs  # noqa: E402  (bench/limit_packs.py: the worst packs at the limits)

AS_OF = dt.date(2024, 6, 30)


def _codes(text: str) -> set[str]:
    return {p.code for p in check_document(parse_yaml(text, "pack.yaml")) if p.severity == "error"}


def _pack_text(criteria: dict[str, Any], n: int) -> str:
    return limit_packs._pack(criteria, n)


def _leaf(i: int) -> dict[str, Any]:
    return {"id": f"c{i}", "cite": "一", "test": {"input": f"x{i}", "op": ">=", "param": "floor"}}


@pytest.mark.parametrize("op", [">=", ">", "<=", "<", "=", "!=", "in", "not_in", "is_true", "is_false", "attested"])
@pytest.mark.parametrize("universe", [0, 1, 2, 5])
def test_the_measure_of_a_test_is_the_compilers_encoding(op: str, universe: int) -> None:
    # validate cannot import the compiler, so limits keeps its own table of the sizes of
    # compile._literal; this pins the two together for every operator and status set
    from fractions import Fraction

    from engine.compile.compile import _literal
    from engine.compile.model import Test

    values = tuple(f"v{i}" for i in range(universe))
    test = Test("t0", "x", op, "p", values[:1], Fraction(1), False, values, None)
    for status_set, (terms, patterns, atoms, overlap) in limits._literal_sizes(op, universe):
        alternatives = _literal(test, status_set)
        assert (terms, overlap) == (1, 0)
        assert (patterns, atoms) == (len(alternatives), max(len(a) for a in alternatives)), (op, universe, status_set)


@pytest.mark.parametrize("code, text", [
    ("E150", limit_packs.wide_all(limits.MAX_GROUP + 1)),
    ("E151", limit_packs.many_tests(limits.MAX_TESTS + 1)),
    ("E152", limit_packs.deep(limits.MAX_DEPTH + 1)),
    ("E153", limit_packs.product(10, 4)),  # an all of 4 anys of 10: 10^4 conjunctions
    ("E157", _pack_text({"id": "r", "cite": "一", "at_least": {"k": -1, "of": [_leaf(0), _leaf(1)]}}, 2)),
    ("E157", _pack_text({"id": "r", "cite": "一", "at_least": {"k": 0, "of": [_leaf(0), _leaf(1)]}}, 2)),
    ("E157", _pack_text({"id": "r", "cite": "一", "at_least": {"k": 3, "of": [_leaf(0), _leaf(1)]}}, 2)),
    # at_least 2 of 4 anys of 2: every combination that holds fires (the compiler is asked)
    ("E158", _pack_text({"id": "r", "cite": "一", "at_least": {"k": 2, "of": [
        {"id": f"g{g}", "cite": "一", "any": [_leaf(2 * g), _leaf(2 * g + 1)]} for g in range(4)]}}, 8)),
])
def test_each_limit_has_its_code_in_both_languages(code: str, text: str) -> None:
    problems = [p for p in check_document(parse_yaml(text, "pack.yaml")) if p.code == code]
    assert problems, _codes(text)
    for problem in problems:
        assert problem.message_zh and problem.message_zh != problem.message
        assert "limit" in problem.message and "上限" in problem.message_zh or code == "E157"
        assert problem.line > 1  # points into the pack, at the node


def test_the_node_the_count_and_the_limit_are_named() -> None:
    text = limit_packs.product(10, 4)
    (problem,) = [p for p in check_document(parse_yaml(text, "pack.yaml")) if p.code == "E153"]
    import re

    count = int(re.search(r"up to (\d+)", problem.message).group(1))
    assert count >= 10**4 and f"the limit is {limits.MAX_TERMS}" in problem.message
    assert "'n" in problem.message  # the criterion's id
    assert "拆" in problem.message_zh  # how to restructure


def test_validate_refuses_before_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    # validate never reaches the expanding compiler: make it explode if it did
    import engine.compile.compile as compile_module

    monkeypatch.setattr(compile_module.Exprs, "_build", lambda *a: pytest.fail("validate expanded the pack"))
    assert "E153" in _codes(limit_packs.product(10, 4))
    assert {"E150", "E151"} <= _codes(limit_packs.wide_all(2000))


@pytest.mark.parametrize("text, code", [
    (limit_packs.product(10, 4), "E153"),
    (limit_packs.wide_all(500), "E150"),
])
def test_compile_without_validate_refuses_too(text: str, code: str) -> None:
    with pytest.raises(ProblemsError) as refused:
        build(parse_yaml(text, "pack.yaml"), text.encode(), AS_OF)
    assert code in {p.code for p in refused.value.problems}


def test_simplification_never_starts_on_an_unbounded_expression() -> None:
    from engine.compile.compile import CompileError, d_and, d_or

    wide = [{i: frozenset(("met",))} for i in range(200)]
    with pytest.raises(CompileError):
        d_and(wide, [{200 + i: frozenset(("met",))} for i in range(200)])  # 40,000 terms
    assert len(d_or(wide)) == 200


@pytest.mark.parametrize("family", sorted(limit_packs.FAMILIES))
def test_packs_at_the_limits_compile_and_both_engines_agree(family: str) -> None:
    size, text = limit_packs.at_limit(family)
    assert size > 1
    assert not limit_packs.accepted(limit_packs.FAMILIES[family](size + 1)) or family in ("deep",)
    pack = build(parse_yaml(text, "pack.yaml"), text.encode(), AS_OF)
    durable, reference = Decider(pack, "durable"), Decider(pack, "reference")
    for values in limit_packs.entities(pack, 12):
        assert durable.decide(values).key() == reference.decide(values).key()


def _random_node(rng: random.Random, depth: int, counter: list[int]) -> dict[str, Any]:
    counter[0] += 1
    ident = f"n{counter[0]}"
    if depth == 0 or rng.random() < 0.3:
        i = rng.randrange(6)
        if rng.random() < 0.3:
            return {"id": ident, "cite": "一", "test": {"input": "kind", "op": "in", "values": [f"v{i}"]}}
        return {"id": ident, "cite": "一", "test": {"input": f"x{i}", "op": rng.choice([">=", "<", "="]), "param": "floor"}}
    kind = rng.choice(["all", "any", "at_least", "not", "cases"])
    kids = [_random_node(rng, depth - 1, counter) for _ in range(rng.randint(1, 4))]
    if kind in ("all", "any"):
        return {"id": ident, "cite": "一", kind: kids}
    if kind == "at_least":
        return {"id": ident, "cite": "一", "at_least": {"k": rng.randint(1, len(kids)), "of": kids}}
    if kind == "not":
        return {"id": ident, "cite": "一", "not": kids[0]}
    when = {"input": "kind", "op": "in", "values": [f"v{rng.randrange(6)}"]}
    return {"id": ident, "cite": "一", "cases": [{"when": when, "then": k} for k in kids],
            "otherwise": rng.choice(["met", "not_met", "unknown"])}


def test_the_measures_bound_what_the_compiler_builds() -> None:
    rng = random.Random(11)
    for _ in range(60):
        criteria = _random_node(rng, 3, [0])
        text = limit_packs._pack(criteria, 6, enum=True)
        doc = parse_yaml(text, "pack.yaml")
        if _codes(text):
            continue
        measured = limits.measure(doc.value)
        pack = build(doc, text.encode(), AS_OF)
        guards = sum(1 for name in pack.ruleset if name.startswith("group."))
        assert len(pack.ruleset) - guards <= measured["rules"]
        atoms = sum(len(rule["all"][0]["m"]["$and"]) for name, rule in pack.ruleset.items() if not name.startswith("group."))
        assert atoms <= measured["atoms"]
        durable, reference = Decider(pack, "durable"), Decider(pack, "reference")
        for values in limit_packs.entities(pack, 6, seed=rng.randrange(1000)):
            assert durable.decide(values).key() == reference.decide(values).key()


def test_the_shipped_packs_have_room() -> None:
    for path in sorted((ROOT / "rules").glob("*.yaml")):
        if path.name.endswith(".tests.yaml"):
            continue
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
        lowered = limits._lowered(value, compile_check._lower)
        m = limits.measure(lowered)
        assert m["group"][0] <= 0.85 * limits.MAX_GROUP, path.name
        assert m["tests"] <= 0.5 * limits.MAX_TESTS, path.name
        assert m["depth"][0] <= 0.5 * limits.MAX_DEPTH, path.name
        assert m["terms"][0] <= 0.2 * limits.MAX_TERMS, path.name
        assert m["simplify"] <= 0.1 * limits.MAX_SIMPLIFY, path.name
        assert m["rules"] <= 0.25 * limits.MAX_RULES, path.name
        assert m["atoms"] <= 0.25 * limits.MAX_ATOMS, path.name


@pytest.mark.parametrize("edit, where", [
    (("step: 0.5, order: higher_first}", "step: -0.5, order: higher_first}"), "rank.step"),
    (("full: 10, step: 0.5", "full: -10, step: 0.5"), "rank.full"),
    (("weight: 60%", "weight: -60%"), "weight"),
    (("weight: 60%", "weight: 0%"), "weight"),
    (("\n    max: 10\n", "\n    max: -10\n"), "max"),
    (("\n  max: 100\n", "\n  max: 0\n"), "total.max"),
])
def test_scoring_numbers_with_a_sign_by_meaning_are_checked(edit: tuple[str, str], where: str) -> None:
    text = (ROOT / "tests" / "format1" / "rules" / "yangzhou-zone-evaluation.yaml").read_text(encoding="utf-8")
    assert edit[0] in text
    problems = check_document(parse_yaml(text.replace(edit[0], edit[1], 1), "pack.yaml"))
    wrong = [p for p in problems if p.code == "E112" and p.path.endswith(where)]
    assert wrong and wrong[0].message_zh and "must be" in wrong[0].message
    assert not [p for p in check_document(parse_yaml(text, "pack.yaml")) if p.severity == "error"]
