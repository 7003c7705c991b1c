"""Ranking in n log n (issue 14, item 5): the places, ranks, tie lists and awards of the rewritten
code are those of the old quadratic code, on random cohorts with ties and missing values.

The oracles are small copies of the old code (format 1: `places()` and the ranking and awards of
`Scorer.score_cohort`; format 2: the awards loop of `Runner._awards`) or, for format 2's rank
points and rank, the definition itself (1 + how many are strictly better; tied = the others at
the same place, in cohort order). Also: `engine.core.jsontext.dumps_indented` writes the same
text as `json.dumps(indent=2)`."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.evaluate.points  # noqa: F401  (fills COMPUTE_COHORT)
from engine.evaluate.points import NAMED_MAX
from engine.compile.build2 import build2
from engine.compile.ops import OPS
from engine.core.jsontext import dumps_indented
from engine.core.status import Status
from engine.evaluate.ops import COMPUTE_COHORT
from engine.evaluate.record2 import AwardResult
from engine.evaluate.run2 import Runner, subjects_from_dicts
from engine.explain.scoring import (HIGHER_FIRST, LAST_PLACE, NO_AWARD, Scorer, load_scoring_pack, places)
from engine.compile.model import MET, UNKNOWN
from engine.load.entities import RawEntity
from engine.load.yamlsafe import load_yaml_file
from fakes2 import FakeContext, FakeEnv

F = Fraction
ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2024, 12, 31)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                            HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------
# Format 1: places()


def old_places(values: dict[str, Fraction], order: str, ties: str) -> dict[str, int]:
    """engine.explain.scoring.places before issue 14 (quadratic)."""
    better = (lambda a, b: a > b) if order == HIGHER_FIRST else (lambda a, b: a < b)
    distinct = sorted(set(values.values()), reverse=(order == HIGHER_FIRST))
    out = {}
    for ident, value in values.items():
        if ties == "dense":
            out[ident] = distinct.index(value) + 1
        else:
            out[ident] = 1 + sum(1 for other in values.values() if better(other, value))
    return out


@SETTINGS
@given(st.lists(st.fractions(min_value=-3, max_value=3, max_denominator=2), max_size=40),
       st.sampled_from(["higher_first", "lower_first"]), st.sampled_from(["shared", "dense"]))
def test_places_as_the_quadratic_code(values: list[Fraction], order: str, ties: str) -> None:
    keyed = {f"e{i}": v for i, v in enumerate(values)}
    assert places(keyed, order, ties) == old_places(keyed, order, ties)


# ---------------------------------------------------------------------------------------------
# Format 1: ranks and awards of a cohort

F1_PACK = """\
format: 1
pack:
  id: rank-property-f1
  version: "1.0.0"
  kind: scoring
  entity: firm
  effective: "2024-01-01"
  title: {zh: 排名性质测试, en: ranking property test}
  source: {title: 测试, date: "2024-01-01", seed: none}
inputs:
  region:
    type: enum
    label: {zh: 地区, en: region}
    values: {all: {zh: 全省, en: all}}
  output: {type: money, unit: 万元, label: {zh: 年产值, en: output}}
  quality: {type: count, unit: 项, label: {zh: 质量项目, en: quality items}}
  barred: {type: boolean, label: {zh: 失信, en: barred}}
  accident: {type: boolean, label: {zh: 事故, en: accident}}
parameters: {}
cohort: {by: region, cite: 测试}
total: {max: 20, cite: 测试}
choices:
  tie_break: {value: [quality_points], note: 测试}
indicators:
  - id: output_rank
    title: {zh: 年产值排名, en: output place}
    cite: 测试
    max: 10
    rank: {input: output, full: 10, step: 1, order: higher_first}
  - id: quality_points
    title: {zh: 质量项目, en: quality}
    cite: 测试
    max: 10
    items:
      - {input: quality, points: 2}
vetoes:
  - {id: barred_no_award, title: {zh: 失信不奖, en: barred}, cite: 测试, effect: no_award, when: {input: barred, op: is_true}}
  - {id: accident_last, title: {zh: 事故最后, en: accident}, cite: 测试, effect: last_place, when: {input: accident, op: is_true}}
awards:
  cite: 测试
  by_cohort:
    all:
      - {place: 1, amount: 100万元, title: {zh: 一等奖, en: first}}
      - {place: 2, amount: 50万元, title: {zh: 二等奖, en: second}}
      - {place: 3, amount: 30万元, title: {zh: 三等奖, en: third}}
      - {place: 5, amount: 10万元, title: {zh: 五等奖, en: fifth}}
"""

CHOICE_SETS = [
    {},
    {"choices.rank_ties": "dense", "choices.total_ties": "shared"},
    {"choices.award_pass_down": "false", "choices.missing_value": "exclude"},
    {"choices.rank_ties": "dense", "choices.award_pass_down": "false", "output_rank.order": "lower_first"},
]


class Packs:
    """Packs compiled once per module, with a short repr (hypothesis prints the arguments of a failing case)."""

    def __init__(self, build: Any):
        self.build, self.cache = build, {}

    def __getitem__(self, key: Any) -> Any:
        if key not in self.cache:
            self.cache[key] = self.build(key)
        return self.cache[key]

    def __repr__(self) -> str:
        return "<packs>"


@pytest.fixture(scope="module")
def f1_packs(tmp_path_factory: pytest.TempPathFactory) -> Packs:
    path = tmp_path_factory.mktemp("f1") / "pack.yaml"
    path.write_text(F1_PACK, encoding="utf-8")
    return Packs(lambda which: load_scoring_pack(str(path), AS_OF, {k: ("test", v) for k, v in CHOICE_SETS[which].items()})[0])


def old_rank_and_awards(scorer: Scorer, cohort: str, zones: list[Any]) -> dict[str, tuple[Any, ...]]:
    """The ranking and awards of Scorer.score_cohort before issue 14 (quadratic), abridged:
    (rank, award, the place of each rank part) by zone id."""
    sp, ch = scorer.sp, scorer.sp.choices
    rank_parts = [p for ind in sp.indicators for p in ind.parts if p.kind == "rank"]
    if ch["missing_value"] == "exclude":
        for zone in zones:
            needed = [p.rank.input for p in rank_parts if p.rank] + [
                i.input for ind in sp.indicators for p in ind.parts for i in p.items] + [
                p.bands_input for ind in sp.indicators for p in ind.parts if p.bands_input]
            zone.excluded = any(zone.values.get(n) is None for n in needed)
    ranked = [z for z in zones if not z.excluded]
    cohort_places, cohort_size = {}, {}
    for part in rank_parts:
        known = {z.entity.id: z.values.get(part.rank.input) for z in ranked}
        known_values = {k: Fraction(v) for k, v in known.items() if v is not None}
        cohort_places[part.id] = old_places(known_values, part.rank.order, part.rank.ties)
        cohort_size[part.id] = len(known_values)
    for zone in zones:
        zone.indicators = [scorer.score_indicator(ind, zone, cohort_places, cohort_size) for ind in sp.indicators]
        zone.total = sum((Fraction(i["points"]) for i in zone.indicators), Fraction(0))
        zone.unknown = [i["id"] for i in zone.indicators if i["status"] == "unknown"]
        zone.keys = {i["id"]: Fraction(i["points"]) for i in zone.indicators}
    tie_break = [t for t in (ch.get("tie_break") or []) if t in {i.id for i in sp.indicators}]
    last_vetoes = [v.id for v in sp.vetoes if v.effect == LAST_PLACE]

    def key(z: Any) -> tuple[Any, ...]:
        return (1 if any(z.vetoes.get(v) == MET for v in last_vetoes) else 0, -z.total, *(-z.keys[t] for t in tie_break))

    ranked.sort(key=lambda z: (key(z), z.entity.id))
    for z in ranked:
        z.rank = 1 + sum(1 for o in ranked if key(o) < key(z))
    amount_at = {a.place: a for a in sp.awards.get(cohort, ())}
    no_award_vetoes = [v.id for v in sp.vetoes if v.effect == NO_AWARD]
    awards: dict[str, Any] = {}

    def award_state(z: Any) -> str:
        if any(z.vetoes.get(v) == MET for v in no_award_vetoes):
            return "excluded"
        if any(z.vetoes.get(v) == UNKNOWN for v in no_award_vetoes + last_vetoes) or z.unknown:
            return "pending"
        return "eligible"

    pass_down = bool(ch["award_pass_down"])
    contenders = [z for z in ranked if (award_state(z) != "excluded" or not pass_down)]
    for z in ranked:
        state = award_state(z)
        if state == "excluded" and pass_down:
            awards[z.entity.id] = ("excluded", None, None)
            continue
        ahead = sum(1 for o in contenders if key(o) < key(z))
        tied = [o for o in contenders if key(o) == key(z)]
        occupied = range(ahead + 1, ahead + len(tied) + 1)
        pool = sum((amount_at[p].amount for p in occupied if p in amount_at), Fraction(0))
        if ch["total_ties"] == "split":
            amount = pool / len(tied) if tied else Fraction(0)
        else:
            amount = amount_at[ahead + 1].amount if (ahead + 1) in amount_at else Fraction(0)
        awards[z.entity.id] = ({"eligible": "awarded"}.get(state, state), ahead + 1, amount, len(tied))
    return {z.entity.id: (z.rank, awards.get(z.entity.id),
                          tuple(cohort_places[p.id].get(z.entity.id) for p in rank_parts)) for z in zones}


def new_award(view: dict[str, Any]) -> Any:
    """The view's award in the oracle's terms."""
    a = view["award"]
    factor = F(10000)  # the award unit is 万元 (base unit 元)
    if a["status"] == "excluded" and a["place"] is None:
        return ("excluded", None, None)
    if a["status"] == "excluded":
        return ("excluded", a["place"], F(a["forfeited"]) * factor if a.get("forfeited") else F(0))
    if a["status"] == "none":
        return None
    if a["status"] == "pending":
        return ("pending", a["place"], F(a["held"]) * factor)
    return ("awarded", a["place"], F(a["amount"]) * factor, a.get("shared_with") or 1)


ZONE = st.fixed_dictionaries({}, optional={
    "output": st.integers(0, 4).map(str), "quality": st.integers(0, 3).map(str),
    "barred": st.sampled_from(["是", "否"]), "accident": st.sampled_from(["否", "否", "否", "是"])})


@SETTINGS
@given(st.lists(ZONE, min_size=1, max_size=25), st.integers(0, len(CHOICE_SETS) - 1))
def test_format1_ranks_and_awards_as_the_quadratic_code(f1_packs: Packs, rows: list[dict[str, str]],
                                                        which: int) -> None:
    scorer = Scorer(f1_packs[which], "reference")
    entities = [RawEntity("t.yaml", i + 1, f"z{i:02d}", None, {"region": "all", **row}) for i, row in enumerate(rows)]
    old = old_rank_and_awards(scorer, "all", [scorer._prepare(e, "t") for e in entities])
    result = scorer.score_cohort("all", [scorer._prepare(e, "t") for e in entities])
    for view in result["zones"]:
        rank, award, part_places = old[view["id"]]
        assert view["rank"] == rank, view["id"]
        got_award = new_award(view)
        if award is not None and award[0] != "excluded" and award[2] == 0:
            award = None  # the view shows a zero amount as no award
        if award is not None and award[0] != "awarded":
            award = award[:3]  # only an award paid says how many share it
        assert got_award == award, (view["id"], view["award"])
        rank_places = tuple(p.get("place") for ind in view["indicators"] for p in ind["parts"] if p["kind"] == "rank")
        assert rank_places == part_places


# ---------------------------------------------------------------------------------------------
# Format 2: rank_points and rank against their definition


def _ctx() -> FakeContext:
    return FakeContext({"growth": ("number", "%"), "zone_type": ("enum", None), "bonded": ("criterion", None),
                        "total": ("number", None), "tb": ("number", None), "incident": ("boolean", None)})


def _expected_places(keys: dict[int, Any], dense: bool) -> dict[int, int]:
    distinct = sorted(set(keys.values()))
    return {i: (distinct.index(k) + 1 if dense else 1 + sum(1 for o in keys.values() if o < k)) for i, k in keys.items()}


F2_ROW = st.fixed_dictionaries({"zone_type": st.sampled_from(["k", "o"])}, optional={
    "growth": st.integers(-1, 2).map(F), "total": st.integers(0, 2).map(F), "tb": st.integers(0, 1).map(F),
    "incident": st.sampled_from([True, False, False, None]),
    "bonded": st.sampled_from([Status.MET, Status.NOT_MET, Status.NOT_MET, Status.NOT_MET])})


@SETTINGS
@given(st.lists(F2_ROW, min_size=1, max_size=60), st.sampled_from(["shared", "dense"]),
       st.sampled_from(["higher_first", "lower_first"]), st.booleans())
def test_format2_rank_points_places_and_ties_by_definition(rows: list[dict[str, Any]], ties: str, order: str,
                                                           exclude: bool) -> None:
    raw = {"of": "growth", "within": "zone_type", "order": order, "full": 10, "step": 1, "floor": 0, "ties": ties,
           "missing": "zero"}
    if exclude:
        raw.update(exclude="bonded", excluded_points=0)
    ctx = _ctx()
    args = OPS["rank_points"].parse(raw, ctx, ("values", "v", "rank_points"))
    assert ctx.problems == []
    rows = [{**r, "bonded": r.get("bonded", Status.NOT_MET)} for r in rows]
    got = COMPUTE_COHORT["rank_points"](args, [FakeEnv(dict(r), entity_id=f"e{i}") for i, r in enumerate(rows)])
    for group in ("k", "o"):
        members = [i for i, r in enumerate(rows) if r["zone_type"] == group]
        keys = {i: (-rows[i]["growth"] if order == "higher_first" else rows[i]["growth"]) for i in members
                if "growth" in rows[i] and not (exclude and rows[i]["bonded"] is Status.MET)}
        expected = _expected_places(keys, ties == "dense")
        for i in members:
            detail = got[i].detail
            if i not in expected:
                assert detail.get("place") is None
                continue
            assert detail["place"] == expected[i] and detail["of"] == len(keys)
            assert got[i].value == max(F(0), 10 - (expected[i] - 1))
            tied = [f"e{j}" for j in keys if j != i and expected[j] == expected[i]]
            assert detail["tied_with"] == tied[:NAMED_MAX] and detail.get("tied_count", len(tied)) == len(tied)


@SETTINGS
@given(st.lists(F2_ROW, min_size=1, max_size=60), st.sampled_from(["shared", "dense", "split"]))
def test_format2_rank_places_and_ties_by_definition(rows: list[dict[str, Any]], ties: str) -> None:
    ctx = _ctx()
    args = OPS["rank"].parse({"of": "total", "within": "zone_type", "order": "higher_first", "tie_break": ["tb"],
                              "last": "incident", "ties": ties}, ctx, ("values", "v", "rank"))
    assert ctx.problems == []
    got = COMPUTE_COHORT["rank"](args, [FakeEnv(dict(r), entity_id=f"e{i}") for i, r in enumerate(rows)])
    for group in ("k", "o"):
        members = [i for i, r in enumerate(rows) if r["zone_type"] == group]
        keys = {i: (1 if rows[i].get("incident") else 0, -rows[i]["total"], -rows[i]["tb"]) for i in members
                if "total" in rows[i] and "tb" in rows[i]}
        expected = _expected_places(keys, ties == "dense")
        lowest = max(expected.values()) if expected else None
        for i in members:
            if i not in expected:
                assert got[i].value is None
                continue
            detail = got[i].detail
            assert got[i].value == expected[i] and detail["last"] == (expected[i] == lowest)
            tied = [f"e{j}" for j in keys if j != i and expected[j] == expected[i]]
            assert detail["tied_with"] == tied[:NAMED_MAX] and detail.get("tied_count", len(tied)) == len(tied)
            not_ranked = [f"e{j}" for j in members if j not in keys]
            assert detail["not_ranked"] == not_ranked[:NAMED_MAX]
            assert detail.get("not_ranked_count", len(not_ranked)) == len(not_ranked)


# ---------------------------------------------------------------------------------------------
# Format 2: the awards loop of a batch


def old_awards(runner: Runner, envs: list[Any]) -> dict[int, AwardResult]:
    """engine.evaluate.run2.Runner._awards before issue 14 (quadratic)."""
    a = runner.pack.awards
    unit = a.unit.name if a.unit else None
    groups: dict[Any, list[Any]] = {}
    for env in envs:
        key = env.get(a.within) if a.within else (next(iter(a.by_group)) if len(a.by_group) == 1 else None)
        groups.setdefault(key, []).append(env)
    out: dict[int, AwardResult] = {}
    for key, members in groups.items():
        table = {p.place: p for p in a.by_group.get(str(key), ())} if key is not None else {}

        def state(env: Any) -> str:
            status = env.statuses.get(a.eligible, (Status.UNKNOWN, None, 0))[0] if a.eligible else Status.MET
            if status is Status.NOT_MET:
                return "excluded"
            detail = env.computed[a.place].detail if a.place in env.computed else {}
            own = bool(detail.get("lacking")) or ("forced_last" in detail and detail["forced_last"] is None)
            return "pending" if status is Status.UNKNOWN or own else "eligible"

        def split(env: Any) -> bool:
            place = env.computed.get(a.place)
            return place is not None and place.detail.get("ties") == "split"

        ranked = [e for e in members if e.get(a.place) is not None]
        contenders = [e for e in ranked if not (a.pass_down and state(e) == "excluded")]
        for env in members:
            if env not in ranked:
                out[id(env)] = AwardResult("none", key, None, None, unit)
                continue
            st_ = state(env)
            if st_ == "excluded" and a.pass_down:
                out[id(env)] = AwardResult("excluded", key, None, None, unit)
                continue
            place = 1 + sum(1 for o in contenders if o.get(a.place) < env.get(a.place))
            entry = table.get(place)
            title = entry.title if entry else None
            amount = entry.amount if entry else None
            shared_with = None
            if split(env):
                tied = sum(1 for o in contenders if o.get(a.place) == env.get(a.place)) or 1
                occupied = [table[p].amount for p in range(place, place + tied) if p in table]
                amount = sum(occupied, Fraction(0)) / tied if occupied else None
                shared_with = tied if tied > 1 else None
            if st_ == "excluded":
                out[id(env)] = AwardResult("excluded", key, place, None, unit, title, forfeited=amount)
            elif amount is None:
                out[id(env)] = AwardResult("none", key, None, None, unit)
            elif st_ == "pending":
                out[id(env)] = AwardResult("pending", key, place, None, unit, title, held=amount)
            else:
                out[id(env)] = AwardResult("awarded", key, place, amount, unit, title, shared_with=shared_with)
    return out


F2_PACK = textwrap.dedent("""\
    format: 2
    pack:
      id: rank-property-f2
      version: "1.0.0"
      entity: zone
      effective: "2024-01-01"
      title: {zh: 排名性质测试, en: ranking property test}
      source: {title: 测试, date: "2024-01-01"}
    inputs:
      zone_type:
        type: enum
        label: {zh: 类别, en: type}
        values: {key: {zh: 重点, en: key}, general: {zh: 一般, en: general}}
      output: {type: money, unit: 万元, label: {zh: 产值, en: output}}
      late: {type: boolean, label: {zh: 逾期, en: late}}
      accident: {type: boolean, label: {zh: 事故, en: accident}}
    choices:
      pass:
        label: {zh: 递补, en: pass down}
        cite: 测试
        options: {pass_down: {zh: 递补, en: passes}, vacant: {zh: 空缺, en: vacant}}
        default: pass_down
        reason: 测试。
    values:
      output_points:
        label: {zh: 产值得分, en: output points}
        unit: 分
        rank_points: {of: output, within: zone_type, order: higher_first, full: 10, step: 1, floor: 0, ties: shared,
                      missing: zero}
      place:
        label: {zh: 名次, en: place}
        rank: {of: output_points, within: zone_type, order: higher_first, ties: TIES, last: accident_last}
    criteria:
      accident_last:
        title: {zh: 事故列为最后, en: accident}
        cite: 测试
        test: {value: accident, op: is_true}
      eligible:
        title: {zh: 无逾期, en: not late}
        cite: 测试
        test: {value: late, op: is_false}
    outcomes:
      decision: eligible
      awards:
        place: place
        eligible: eligible
        pass_down: {choice: pass}
        by_group:
          key:
            - {place: 1, amount: 100万元, title: {zh: 一等奖, en: first}}
            - {place: 2, amount: 50万元, title: {zh: 二等奖, en: second}}
            - {place: 4, amount: 20万元, title: {zh: 四等奖, en: fourth}}
          general:
            - {place: 1, amount: 60万元, title: {zh: 一等奖, en: first}}
    """)


@pytest.fixture(scope="module")
def f2_packs(tmp_path_factory: pytest.TempPathFactory) -> Packs:
    folder = tmp_path_factory.mktemp("f2")

    def build(key: tuple[str, str]) -> Any:
        ties, option = key
        path = folder / f"{ties}.yaml"
        path.write_text(F2_PACK.replace("TIES", ties), encoding="utf-8")
        doc, _ = load_yaml_file(str(path))
        return build2(doc, path.read_bytes(), AS_OF, {"pass": ("test", option)})

    return Packs(build)


class CheckingRunner(Runner):
    def _awards(self, envs: list[Any]) -> dict[int, AwardResult]:
        new = super()._awards(envs)
        assert new == old_awards(self, envs)
        self.checked = len(new)
        return new


F2_ZONE = st.fixed_dictionaries({"zone_type": st.sampled_from(["key", "key", "general"])}, optional={
    "output": st.integers(0, 4).map(str), "late": st.sampled_from(["是", "否", "否"]),
    "accident": st.sampled_from(["否", "否", "否", "是"])})


@SETTINGS
@given(st.lists(F2_ZONE, min_size=1, max_size=25), st.sampled_from(["shared", "split", "dense"]),
       st.sampled_from(["pass_down", "vacant"]))
def test_format2_awards_as_the_quadratic_code(f2_packs: Packs, rows: list[dict[str, str]],
                                              ties: str, option: str) -> None:
    pack = f2_packs[(ties, option)]
    subjects, problems = subjects_from_dicts(pack, [{"id": f"z{i}", **r} for i, r in enumerate(rows)])
    assert not problems
    runner = CheckingRunner(pack, "reference")
    runner.evaluate(subjects)
    assert runner.checked == len(rows)


# ---------------------------------------------------------------------------------------------
# JSON text: indent=2 by the C encoder

JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
                      st.sampled_from(['{"a": [1, 2]}', "[],{}", 'x\\"]', "，、：", "\u2028", "\x00"]))
JSON_VALUES = st.recursive(JSON_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.one_of(st.text(max_size=5), st.sampled_from(["{", "],", '"'])), inner, max_size=4)),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_dumps_indented_writes_what_json_dumps_indent_2_writes(value: Any) -> None:
    assert dumps_indented(value) == json.dumps(value, ensure_ascii=False, indent=2)


def test_dumps_indented_non_string_keys_and_unknown_types() -> None:
    value = {1: [{}], 2.5: [[]], True: {"a": None}, None: (1,), "x": {False: 0}}
    assert dumps_indented(value) == json.dumps(value, ensure_ascii=False, indent=2)
    with pytest.raises(TypeError):
        dumps_indented({"a": [Fraction(1, 3)]})
    with pytest.raises(TypeError):
        dumps_indented({"a": Fraction(1, 3), "b": [1]})


# ---------------------------------------------------------------------------------------------
# bench/rank_scale.py runs (small N), on packs that validate


def test_the_ranking_bench_runs_on_valid_packs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from engine.validate.validate import validate_file

    sys.path.insert(0, str(ROOT / "bench"))
    import rank_scale

    for path in rank_scale.PACKS.values():
        assert not [p for p in validate_file(str(path))[2] if p.severity == "error"], path
    monkeypatch.setattr(rank_scale, "OUT", tmp_path)
    f1 = rank_scale.worker(1, 60, 1, "reference")  # the format-1 pack, converted on load
    f2 = rank_scale.worker(2, 60, 1, "reference")
    assert f1["ranked"] == 60 and f2["ranked"] == 60 and f1["awarded"] >= 1 and f2["awarded"] >= 1
    assert (tmp_path / "rank-f1-60.json").stat().st_size == f1["json_bytes"]
    assert (tmp_path / "rank-f2-60.json").stat().st_size == f2["json_bytes"]


def test_a_big_tie_names_twenty_and_counts_the_rest() -> None:
    ctx = _ctx()
    args = OPS["rank"].parse({"of": "total", "order": "higher_first"}, ctx, ("values", "v", "rank"))
    rows = [{"total": F(1)} for _ in range(50)] + [{} for _ in range(30)] + [{"total": F(2)}]
    got = COMPUTE_COHORT["rank"](args, [FakeEnv(dict(r), entity_id=f"e{i}") for i, r in enumerate(rows)])
    assert got[0].value == 2 and got[80].value == 1
    assert got[0].detail["tied_with"] == [f"e{j}" for j in range(1, 21)] and got[0].detail["tied_count"] == 49
    assert got[0].detail["not_ranked"] == [f"e{j}" for j in range(50, 70)] and got[0].detail["not_ranked_count"] == 30
    assert "e20 等 49 个 并列" in got[0].steps[0].zh and "e20 and 29 more" in got[0].steps[0].en
    assert "e69 等 30 个 未参加排名" in got[0].steps[1].zh
    assert "tied_count" not in got[80].detail and got[80].detail["tied_with"] == []
