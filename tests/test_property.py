"""Property: durable-rules and the reference evaluator decide every entity identically.

Thousands of generated entities per pack, with raw values drawn from everything an officer's
spreadsheet can hold: missing keys, None, blanks, amounts exactly at, just below and just above
every threshold of the pack in every unit that can express them, random amounts, plain numbers,
Decimals, floats, wrong types and units, yes/no in many spellings, enum ids, labels and garbage.
Each entity is normalised once and decided by both paths; the verdicts (outcome, every criterion
status and branch, every flag) must be identical.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from engine.load.data import RawEntity
from engine.evaluate.evaluate import Decider
from engine.compile.model import CompiledPack, InputSpec, Verdict
from engine.evaluate.normalize import normalise
from engine.evaluate.pipeline import load_pack

from conftest import AS_OF, HUGUAN_PACK, HUGUAN_TOWNS, ROOT

VALID_PACKS = sorted((ROOT / "tests" / "packs" / "valid").glob("*.yaml"))
ABSENT = object()  # the key is left out of the entity

# Units an officer may write, per dimension, with their size in base units (元, 平方米, 1, %).
# Deliberately spelled out here rather than read from engine.core.units.
UNITS: dict[str, dict[str, Fraction]] = {
    "money": {"元": Fraction(1), "万元": Fraction(10**4), "亿元": Fraction(10**8),
              "万": Fraction(10**4), "亿": Fraction(10**8)},
    "area": {"平方米": Fraction(1), "m2": Fraction(1), "万平方米": Fraction(10**4), "亩": Fraction(2000, 3)},
    "percent": {"%": Fraction(1), "个百分点": Fraction(1), "百分点": Fraction(1)},
    "count": {"家": Fraction(1), "户": Fraction(1), "个": Fraction(1), "项": Fraction(1), "人": Fraction(1)},
}
WRONG_DIMENSION = {
    "money": ["50亩", "35%", "3家", "2万平方米"],
    "area": ["3000万", "12亿元", "5%", "7户"],
    "percent": ["3亩", "5万元", "2家"],
    "count": ["50亩", "3万元", "10%"],
}
MISSING = [ABSENT, None, "", "   "]
JUNK = ["abc", "NaN", "nan", "Infinity", "-Infinity", "十亿", "十二亿元", True, False, "是", [], {},
        {"value": 1}, "1e5", "10亿元以上", "约5000万元", "12,0000万元", "1.2.3", "--5", Decimal("NaN"),
        Decimal("Infinity"), float("nan"), float("inf"), Decimal("1E+999999999"), "1" * 60,
        10**30, -10**30, Decimal("1E+50"), Decimal("-1E+40"), "9" * 25 + "万元", Decimal("1E-60")]
TRUE_WORDS = [True, "是", "yes", "YES", " 是 ", "true", "True", "y", "1", 1, "√", "有", "符合", "满足", "t"]
FALSE_WORDS = [False, "否", "no", "No", " 否", "false", "False", "n", "0", 0, "×", "无", "不符合", "不满足", "f"]
YES_NO_JUNK = ["maybe", "garbage", "是的", "yes!", 2, -1, "2", "ok", "none", Decimal("1.0"), 1.0, [], "是/否"]


def decimal_text(value: Fraction) -> str | None:
    """The exact decimal text of `value`, or None when it has none (thirds of a 亩...)."""
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d != 1:
        return None
    with localcontext() as ctx:
        ctx.prec = 80
        return format(Decimal(value.numerator) / Decimal(value.denominator), "f")


def thresholds_of(pack: CompiledPack, name: str) -> list[Fraction]:
    """Every parameter value (base units) that a test compares input `name` with."""
    found = {t.threshold for t in pack.tests if t.input == name and t.threshold is not None}
    assert found <= {p.value for p in pack.params.values()}
    return sorted(found)


def amount_forms(value: Fraction, dimension: str, own: Fraction) -> list[Any]:
    """`value` (base units) written every way the officer might: with each unit that expresses it
    exactly, as a plain int / Decimal / text / float in the input's own unit."""
    forms: list[Any] = []
    for unit, factor in UNITS[dimension].items():
        text = decimal_text(value / factor)
        if text is not None:
            forms.append(f"{text}{unit}")
    in_own = value / own
    text = decimal_text(in_own)
    if in_own.denominator == 1:
        forms.append(int(in_own))
    if text is not None:
        forms += [Decimal(text), text, f" {text} "]
        as_float = float(in_own)
        if Fraction(Decimal(repr(as_float))) == in_own:
            forms.append(as_float)
        if in_own >= 1000 and in_own.denominator == 1:
            forms.append(f"{int(in_own):,}{next(iter(UNITS[dimension]))}" if own == 1 else f"{int(in_own):,}")
    return forms


def near_forms(pack: CompiledPack, spec: InputSpec, tight: bool = False) -> list[Any]:
    """Raw values at, just below and just above every threshold `spec` is compared with
    (with `tight`, only those less than one base unit away: where rounding would show)."""
    assert spec.unit is not None
    dimension = spec.unit.dimension
    own = UNITS[dimension][spec.unit.name]
    points: set[Fraction] = set() if tight else {Fraction(0)}
    for t in thresholds_of(pack, spec.name):
        # sub-unit steps (half a yuan, a fen) catch rounding in the engine's integer comparison
        steps = {Fraction(1), own, own / 100, Fraction(1, 2), Fraction(1, 100)} if dimension != "count" \
            else {Fraction(1)}
        if tight:
            steps = {s for s in steps if s < 1}
        else:
            points |= {2 * t, t / 2}
        points |= {t} | {t + s for s in steps} | {t - s for s in steps}
    if dimension == "count":
        points = {p for p in points if p >= 0 and p.denominator == 1}
    return sorted({repr(f): f for p in sorted(points) for f in amount_forms(p, dimension, own)}.values(), key=repr)


def numeric_good(pack: CompiledPack, spec: InputSpec) -> st.SearchStrategy[Any]:
    assert spec.unit is not None
    dimension = spec.unit.dimension
    near = near_forms(pack, spec)
    tight = near_forms(pack, spec, tight=True)
    units = list(UNITS[dimension])
    random_text = st.builds(lambda n, u: f"{n}{u}",
                            st.one_of(st.integers(0, 10**6),
                                      st.decimals(0, 10**5, places=2, allow_nan=False, allow_infinity=False)),
                            st.sampled_from(units))
    plain = st.integers(0, 10**7) if dimension == "count" else st.one_of(
        st.integers(-10, 10**9), st.decimals(-10, 10**7, places=6, allow_nan=False, allow_infinity=False))
    return st.one_of(st.sampled_from(tight), st.sampled_from(near), random_text, plain)


def numeric_bad(spec: InputSpec) -> st.SearchStrategy[Any]:
    assert spec.unit is not None
    wrong = WRONG_DIMENSION[spec.unit.dimension] + JUNK
    if spec.type == "count":
        wrong += [-3, "-3", 2.5, "2.5", Decimal("2.5"), "3.5家", "-1户"]
    return st.sampled_from(MISSING + wrong)


def yes_no(lean: bool | None) -> st.SearchStrategy[Any]:
    if lean is None:
        return st.sampled_from(TRUE_WORDS + FALSE_WORDS)
    return st.sampled_from(TRUE_WORDS if lean else FALSE_WORDS)


def attestation_evidence(lean: bool | None) -> st.SearchStrategy[Any]:
    return st.builds(lambda v, by: {"value": v, "by": by, "date": "2024-03-01"}, yes_no(lean),
                     st.sampled_from(["县工信局", "县文旅局"]))


def enum_good(spec: InputSpec) -> st.SearchStrategy[Any]:
    forms: list[Any] = []
    for ident, label in spec.values.items():
        forms += [ident, f" {ident} ", label.get("zh"), label.get("en")]
    return st.sampled_from([f for f in forms if f])


def enum_bad(spec: InputSpec) -> st.SearchStrategy[Any]:
    junk = [i.upper() for i in spec.values] + [i[:-1] for i in spec.values]
    return st.sampled_from(MISSING + junk + ["garbage", "其他", 1, True, "manufacturing;agriculture", [], "?"])


@dataclass
class PackUnderTest:
    pack: CompiledPack
    durable: Decider
    reference: Decider
    good: dict[str, dict[bool | None, st.SearchStrategy[Any]]]  # input -> lean -> values that normalise
    bad: dict[str, st.SearchStrategy[Any]]  # input -> missing, wrong type or wrong unit
    anything: dict[str, st.SearchStrategy[Any]]  # input -> good or bad
    seeds: list[dict[str, Any]]


LEANS = (None, True, False)


def good_for(pack: CompiledPack, spec: InputSpec) -> dict[bool | None, st.SearchStrategy[Any]]:
    """Strategies built once (hypothesis re-validates every new strategy object it draws from)."""
    if spec.type == "attestation":
        return {lean: st.one_of(yes_no(lean), yes_no(lean), attestation_evidence(lean)) for lean in LEANS}
    if spec.type == "boolean":
        return {lean: yes_no(lean) for lean in LEANS}
    if spec.type == "enum":
        strategy = enum_good(spec)
    elif spec.type in ("money", "area", "percent", "count"):
        strategy = numeric_good(pack, spec)
    else:  # not used by the packs under test; still give it something
        strategy = st.one_of(st.text(max_size=5), st.integers())
    return {lean: strategy for lean in LEANS}


def bad_for(spec: InputSpec) -> st.SearchStrategy[Any]:
    if spec.type in ("money", "area", "percent", "count"):
        return numeric_bad(spec)
    if spec.type == "enum":
        return enum_bad(spec)
    extra = [{"value": None}, {"by": "县工信局"}, {"value": "是", "whatever": 1}] if spec.type == "attestation" else []
    return st.sampled_from(MISSING + YES_NO_JUNK + JUNK[:8] + extra)


@functools.cache
def under_test(path: str) -> PackUnderTest:
    pack, _ = load_pack(path, AS_OF)
    inputs = {n: s for n, s in pack.inputs.items() if s.derived is None}
    seeds: list[dict[str, Any]] = []
    if Path(path) == HUGUAN_PACK:
        with open(HUGUAN_TOWNS, encoding="utf-8") as handle:
            seeds = [{k: v for k, v in e.items() if k in inputs} for e in yaml.safe_load(handle)["entities"]]
    good = {n: good_for(pack, s) for n, s in inputs.items()}
    bad = {n: bad_for(s) for n, s in inputs.items()}
    return PackUnderTest(pack, Decider(pack, "durable"), Decider(pack, "reference"), good, bad,
                         {n: st.one_of(good[n][None], bad[n]) for n in inputs}, seeds)


@st.composite
def raw_entities(draw: st.DrawFn, put: PackUnderTest) -> dict[str, Any]:
    names = sorted(put.good)
    if put.seeds and draw(st.booleans()):
        # a hand-worked town with a few fields changed: keeps the decision near its boundaries
        fields = dict(draw(st.sampled_from(put.seeds)))
        for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
            fields[name] = draw(put.anything[name])
    else:
        lean = draw(st.sampled_from([None, True, False]))  # yes/no fields lean one way or not at all
        wild_percent = draw(st.sampled_from([0, 5, 20, 60, 100]))
        fields = {}
        for name in names:
            wild = draw(st.integers(0, 99)) < wild_percent
            fields[name] = draw(put.bad[name] if wild else put.good[name][lean])
    return {k: v for k, v in fields.items() if v is not ABSENT}


def both(put: PackUnderTest, fields: dict[str, Any]) -> tuple[Verdict, Verdict]:
    normalised = normalise(put.pack, RawEntity("generated", 1, "G1", None, fields))
    return put.durable.decide(normalised.values), put.reference.decide(normalised.values)


def check_agreement(put: PackUnderTest, fields: dict[str, Any]) -> None:
    durable, reference = both(put, fields)
    assert durable.key() == reference.key(), f"fields: {fields!r}"
    # the verdict covers every flag, and the outcome follows the root
    assert set(durable.flags) == {f.id for f in put.pack.flags}


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_durable_and_reference_agree_on_huguan(data: st.DataObject) -> None:
    put = under_test(str(HUGUAN_PACK))
    check_agreement(put, data.draw(raw_entities(put), label="fields"))


@pytest.mark.parametrize("path", VALID_PACKS, ids=lambda p: p.stem)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_durable_and_reference_agree_on_valid_packs(path: Path, data: st.DataObject) -> None:
    put = under_test(str(path))
    check_agreement(put, data.draw(raw_entities(put), label="fields"))


# ---------------------------------------------------------------------------------------------
# The generator is not degenerate: it reaches every outcome and every interesting branch, so
# agreement above is agreement on real decisions, not on "everything unknown".

# no shrinking: any example that reaches the target will do
FIND_SETTINGS = settings(max_examples=5000, database=None, deadline=None, phases=[Phase.generate],
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def reachable(path: Path, condition) -> dict[str, Any]:
    put = under_test(str(path))
    return find(raw_entities(put), lambda fields: condition(both(put, fields)[1]), settings=FIND_SETTINGS)


TARGETS = [
    (HUGUAN_PACK, "output_standard", ("met", "case1")),
    (HUGUAN_PACK, "output_standard", ("met", "case2")),
    (HUGUAN_PACK, "output_standard", ("not_met", "case1")),
    (HUGUAN_PACK, "output_standard", ("unknown", "undecided1")),
    (HUGUAN_PACK, "output_relaxed", ("met", None)),
    (HUGUAN_PACK, "leading_firm", ("not_met", None)),
    (ROOT / "tests/packs/valid/cases-otherwise-unknown.yaml", "category_threshold", ("unknown", "otherwise")),
    (ROOT / "tests/packs/valid/cases-otherwise-unknown.yaml", "category_threshold", ("met", "case2")),
    (ROOT / "tests/packs/valid/cases-otherwise-unknown.yaml", "category_threshold", ("unknown", "undecided1")),
    (ROOT / "tests/packs/valid/not.yaml", "no_major_accident", ("met", None)),
    (ROOT / "tests/packs/valid/not.yaml", "not_dishonest", ("unknown", None)),
    (ROOT / "tests/packs/valid/at-least.yaml", "staff_count", ("met", None)),
]


@pytest.mark.parametrize("path", [HUGUAN_PACK, *VALID_PACKS], ids=lambda p: p.stem)
@pytest.mark.parametrize("outcome", ["pass", "fail", "undetermined"])
def test_generator_reaches_every_outcome(path: Path, outcome: str) -> None:
    fields = reachable(path, lambda verdict: verdict.outcome == outcome)
    assert isinstance(fields, dict)


@pytest.mark.parametrize(("path", "node_id", "status"), TARGETS,
                         ids=[f"{p.stem}-{n}-{s[0]}-{s[1]}" for p, n, s in TARGETS])
def test_generator_reaches_interesting_branches(path: Path, node_id: str, status: tuple[str, str | None]) -> None:
    reachable(path, lambda verdict: verdict.statuses.get(node_id) == status)


def test_generator_writes_every_threshold_exactly_and_just_below() -> None:
    put = under_test(str(HUGUAN_PACK))
    spec = put.pack.inputs["lead_output"]
    forms = near_forms(put.pack, spec)
    assert {"10亿元", "999999999元", "99999.99万元", "5000万元", "4999.99万元", "2亿元"} <= set(forms)
    assert {100000, Decimal("4999.99"), "20000"} <= set(f for f in forms if not isinstance(f, float))
    values = {normalise(put.pack, RawEntity("g", 1, "G", None, {"lead_output": f})).values.get("lead_output")
              for f in forms}
    for param in ("manufacturing_output_min", "light_agri_output_min", "relaxed_output_min"):
        target = put.pack.params[param].value
        assert {target, target - 1, target + 1, target - 100, target + 100} <= values, param
    counts = near_forms(put.pack, put.pack.inputs["supporting_firms"])
    assert {9, 10, 11, "10户", "9家"} <= set(counts) and all(not isinstance(c, int) or c >= 0 for c in counts)
