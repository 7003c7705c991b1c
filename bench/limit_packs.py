"""Rule packs at the limits of engine/limits.py: the worst shapes `validate` still accepts.

Used by `bench/bench.py --limits` (compile time and per-entity decide time of each) and by
tests/test_limits.py (each of them validates clean, compiles, and both engines agree on it).

Each family is a shape with one size parameter; `at_limit(family)` finds the largest size that
validates clean, so the packs follow the limits when a constant in engine/limits.py changes.
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any, Callable

import yaml

ENUM_VALUES = 64


def _pack(criteria: dict[str, Any], numeric: int, attested: int = 0, enum: bool = False) -> str:
    inputs: dict[str, Any] = {f"x{i}": {"type": "money", "unit": "万元", "label": {"zh": f"金额{i}"}} for i in range(numeric)}
    inputs.update({f"a{i}": {"type": "attestation", "label": {"zh": f"证明{i}"}} for i in range(attested)})
    if enum:
        inputs["kind"] = {"type": "enum", "label": {"zh": "类别"},
                          "values": {f"v{i}": {"zh": f"类{i}"} for i in range(ENUM_VALUES)}}
    doc = {
        "format": 1,
        "pack": {"id": "limits", "version": "1.0.0", "kind": "eligibility", "entity": "firm",
                 "title": {"zh": "极限规则包", "en": "pack at the limits"},
                 "source": {"title": "生成", "seed": "generated.txt"}},
        "inputs": inputs,
        "parameters": {"floor": {"value": "100万元", "cite": "一", "label": {"zh": "下限"}}},
        "criteria": criteria,
    }
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


class _Ids:
    def __init__(self) -> None:
        self.n = 0
        self.tests = 0

    def node(self, **body: Any) -> dict[str, Any]:
        self.n += 1
        return {"id": f"n{self.n}", "cite": "一", **body}

    def leaf(self) -> dict[str, Any]:
        self.tests += 1
        return self.node(test={"input": f"x{self.tests - 1}", "op": ">=", "param": "floor"})


def wide_all(n: int) -> str:
    """One `all` of n criteria (E150 criteria per group)."""
    ids = _Ids()
    return _pack(ids.node(all=[ids.leaf() for _ in range(n)]), n)


def wide_any(n: int) -> str:
    """One `any` of n criteria."""
    ids = _Ids()
    return _pack(ids.node(any=[ids.leaf() for _ in range(n)]), n)


def many_tests(n: int) -> str:
    """n criteria in `all`s of at most 40 (E151 tests per pack)."""
    ids = _Ids()
    groups = [ids.node(all=[ids.leaf() for _ in range(min(40, n - g))]) for g in range(0, n, 40)]
    return _pack(ids.node(all=groups), n)


def product(width: int, groups: int = 3) -> str:
    """An `all` of `groups` `any`s of `width` criteria each: met is width^groups conjunctions (E153)."""
    ids = _Ids()
    return _pack(ids.node(all=[ids.node(any=[ids.leaf() for _ in range(width)]) for _ in range(groups)]),
                 width * groups)


def product_pairs(groups: int) -> str:
    """An `all` of `any`s of 2: met is 2^groups conjunctions."""
    return product(2, groups)


def at_least_half(n: int) -> str:
    """at_least n/2 of n (the combinations grow fastest in the middle)."""
    ids = _Ids()
    return _pack(ids.node(at_least={"k": max(1, n // 2), "of": [ids.leaf() for _ in range(n)]}), n)


def deep(depth: int) -> str:
    """Alternating all / any, two children per level, `depth` levels (E152)."""
    ids = _Ids()

    def level(d: int) -> dict[str, Any]:
        if d == 1:
            return ids.leaf()
        return ids.node(**{("all" if d % 2 else "any"): [ids.leaf(), level(d - 1)]})

    return _pack(level(depth), depth)


def cases(n: int) -> str:
    """A `cases` of n branches, each an enum condition then a criterion."""
    ids = _Ids()
    branches = [{"when": {"input": "kind", "op": "in", "values": [f"v{i % ENUM_VALUES}"]}, "then": ids.leaf()}
                for i in range(n)]
    return _pack(ids.node(cases=branches, otherwise="not_met"), n, enum=True)


def enum_tests(n: int) -> str:
    """An `all` of n `not_in` tests on a 64-value enum (many comparisons per rule)."""
    ids = _Ids()
    kids = [ids.node(test={"input": "kind", "op": "not_in", "values": [f"v{i % ENUM_VALUES}"]}) for i in range(n)]
    return _pack(ids.node(all=kids), 0, enum=True)


FAMILIES: dict[str, Callable[[int], str]] = {
    "wide_all": wide_all,
    "wide_any": wide_any,
    "many_tests": many_tests,
    "product": product,
    "product_pairs": product_pairs,
    "at_least_half": at_least_half,
    "deep": deep,
    "cases": cases,
    "enum_tests": enum_tests,
}


def accepted(text: str) -> bool:
    """Whether `certify validate` accepts the pack (no errors)."""
    from engine.core.problems import has_errors
    from engine.compile.check import check_document
    from engine.load.yamlsafe import parse_yaml

    return not has_errors(check_document(parse_yaml(text, "limits.yaml")))


TOPS = {"deep": 30}  # deeper YAML than this is refused by the reader anyway (E103)


def at_limit(family: str, top: int = 400) -> tuple[int, str]:
    """The largest size of `family` (up to `top`) that validates clean, and its pack."""
    make = FAMILIES[family]
    lo, hi = 1, TOPS.get(family, top)  # accepted(lo) holds; find the largest accepted
    if not accepted(make(lo)):
        raise ValueError(f"{family}: even size 1 is refused")
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if accepted(make(mid)):
            lo = mid
        else:
            hi = mid - 1
    return lo, make(lo)


def entities(pack: Any, n: int, seed: int = 1) -> list[dict[str, Any]]:
    """n random normalised entities for a compiled pack: values met, not met and missing."""
    rng = random.Random(seed)
    # the worst cases for the engine first: every value met, every value not met, every value missing
    money = [name for name, spec in pack.inputs.items() if spec.type == "money"]
    out: list[dict[str, Any]] = [
        {name: Fraction(1_500_000) for name in money} | {name: True for name, spec in pack.inputs.items() if spec.type == "attestation"},
        {name: Fraction(500_000) for name in money} | {name: False for name, spec in pack.inputs.items() if spec.type == "attestation"},
        {},
    ]
    out += [{name: f"v{i}" for name, spec in pack.inputs.items() if spec.type == "enum"} for i in range(3)]
    for _ in range(max(0, n - len(out))):
        values: dict[str, Any] = {}
        for name, spec in pack.inputs.items():
            if rng.random() < 0.1:
                continue
            if spec.type == "money":
                values[name] = Fraction(rng.choice((50, 100, 150))) * 10_000
            elif spec.type == "attestation":
                values[name] = rng.random() < 0.8
            elif spec.type == "enum":
                values[name] = rng.choice(list(spec.values))
        out.append(values)
    return out
