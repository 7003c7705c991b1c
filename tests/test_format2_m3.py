"""Format 2: lookup-table parameters (one durable test: Python writes value − the row's threshold, durable compares it with 0),
scaled parameters, tolerance and due dates on targets (docs/format2.md "Parameters", "Targets")."""

from __future__ import annotations

import datetime as dt
import itertools
import textwrap

import pytest

from engine.compile.build2 import build2, check_pack2
from engine.core.problems import ProblemsError
from engine.core.status import Outcome, Status
from engine.evaluate.run2 import evaluate2, subjects_from_dicts
from engine.load.yamlsafe import load_yaml_file

AS_OF = dt.date(2024, 6, 30)

PACK = """\
format: 2
pack: {id: demo-tables, version: "1.0.0", entity: firm, title: {zh: 龙头企业}}
inputs:
  sector: {type: enum, label: {zh: 行业}, values: {livestock: {zh: 畜牧}, forestry: {zh: 林业}, comprehensive: {zh: 综合}}}
  region: {type: enum, label: {zh: 地区}, values: {coastal: {zh: 沿海}, mountain: {zh: 山区}}}
  sales: {type: money, unit: 万元, label: {zh: 年销售收入}}
  crop_output: {type: money, unit: 万元, label: {zh: 种植业产值}}
  emissions: {type: percent, unit: "%", label: {zh: 能耗下降率}, signed: true}
parameters:
  sales_min:
    label: {zh: 年销售收入标准}
    cite: 第五条
    table:
      keys: [sector, region]
      unit: 万元
      rows:
        livestock: {coastal: 8000, mountain: 7000}
        forestry: {coastal: 10000, mountain: 7000}
      missing: {comprehensive: 原文"综合"类标准缺失(来源截断)，不予判定}
  crop_min: {value: 1000万元, cite: 三, label: {zh: 种植业标准}}
  mixed_min:
    label: {zh: 种养结合类标准}
    cite: 三(四)
    scaled: {of: crop_min, by: 70%}
  drop_target: {value: 5%, cite: 七, label: {zh: 下降目标}}
  drop_tolerance: {value: 0.5%, cite: 七, label: {zh: 容差}}
  open_tolerance: {unset: 原文未规定容差, cite: 七, label: {zh: 未定容差}}
criteria:
  sales_ok:
    title: {zh: 销售收入达到标准}
    cite: 第五条
    test: {value: sales, op: ">=", param: sales_min}
  mixed_ok:
    title: {zh: 种养结合}
    cite: 三(四)
    test: {value: crop_output, op: ">=", param: mixed_min}
  emissions_2025:
    title: {zh: 2025年能耗下降}
    cite: 七
    due: "2025-12-31"
    test: {value: emissions, op: ">=", param: drop_target}
  emissions_2023:
    title: {zh: 2023年能耗下降}
    cite: 七
    due: "2023-12-31"
    tolerance: drop_tolerance
    test: {value: emissions, op: ">=", param: drop_target}
  emissions_open:
    title: {zh: 容差未定}
    cite: 七
    tolerance: open_tolerance
    test: {value: emissions, op: ">=", param: drop_target}
outcomes:
  decision: sales_ok
"""


def _pack(tmp_path, text=PACK, as_of=AS_OF):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    doc, raw = load_yaml_file(str(path))
    return build2(doc, raw, as_of)


def _records(pack, rows, engine="durable"):
    subjects, problems = subjects_from_dicts(pack, rows)
    assert [p for p in problems if p.severity == "error"] == []
    return evaluate2(pack, subjects, engine)


def test_table_threshold_by_the_entitys_row(tmp_path):
    pack = _pack(tmp_path)
    rows = [{"id": "a", "sector": "livestock", "region": "coastal", "sales": "8000万元"},
            {"id": "b", "sector": "livestock", "region": "coastal", "sales": "7999万元"},
            {"id": "c", "sector": "livestock", "region": "mountain", "sales": "7999万元"},
            {"id": "d", "sector": "forestry", "region": "coastal", "sales": "9000万元"},
            {"id": "e", "sector": "comprehensive", "region": "coastal", "sales": "99999万元"},
            {"id": "f", "region": "coastal", "sales": "99999万元"}]
    got = {r.entity_id: r.criterion("sales_ok").status for r in _records(pack, rows)}
    assert got == {"a": Status.MET, "b": Status.NOT_MET, "c": Status.MET, "d": Status.NOT_MET,
                   "e": Status.UNKNOWN, "f": Status.UNKNOWN}
    records = {r.entity_id: r for r in _records(pack, rows)}
    assert records["e"].criterion("sales_ok").reason["zh"] == '原文"综合"类标准缺失(来源截断)，不予判定'
    assert records["f"].criterion("sales_ok").reason["zh"] == "缺少行业，无法确定适用的标准"
    # one durable test per table comparison: the row is named in the trace, with its threshold
    a, c, e = records["a"].criterion("sales_ok"), records["c"].criterion("sales_ok"), records["e"].criterion("sales_ok")
    assert a.test["row"] == ["livestock", "coastal"] and a.test["threshold"] == 8000 * 10**4 and a.test["value"] == 8000 * 10**4
    assert c.test["row"] == ["livestock", "mountain"] and c.test["threshold"] == 7000 * 10**4
    assert e.test["row"] == ["comprehensive", "coastal"] and "threshold" not in e.test
    stage = pack.stages[0]
    assert [t.input for t in stage.pack.tests] == ["~table:sales_min:sales"] + [t.input for t in stage.pack.tests[1:]]
    assert sum(1 for t in stage.pack.tests if t.param == "sales_min") == 1


def test_scaled_parameter(tmp_path):
    pack = _pack(tmp_path)
    assert pack.params["mixed_min"].value == 700 * 10**4
    got = [r.criterion("mixed_ok").status for r in _records(pack, [{"id": "a", "crop_output": "700万元"},
                                                                    {"id": "b", "crop_output": "699.99万元"}])]
    assert got == [Status.MET, Status.NOT_MET]


def test_due_and_tolerance(tmp_path):
    pack = _pack(tmp_path)
    records = _records(pack, [{"id": "a", "emissions": "4.5%"}, {"id": "b", "emissions": "4.49%"}])
    a, b = records
    assert a.criterion("emissions_2025").status is Status.NOT_APPLICABLE
    assert a.criterion("emissions_2025").reason == {"zh": "未到期", "en": "not yet due"}
    assert a.criterion("emissions_2023").status is Status.MET  # within 0.5% of 5%
    assert b.criterion("emissions_2023").status is Status.NOT_MET
    assert a.criterion("emissions_open").status is Status.UNKNOWN  # an unset tolerance decides nothing
    later = _pack(tmp_path, as_of=dt.date(2026, 1, 1))
    assert _records(later, [{"id": "a", "emissions": "4.5%"}])[0].criterion("emissions_2025").status is Status.NOT_MET


def test_durable_matches_reference(tmp_path):
    pack = _pack(tmp_path)
    rows = [{"id": f"e{i}", **{k: v for k, v in zip(("sector", "region", "sales", "emissions"), combo) if v is not None}}
            for i, combo in enumerate(itertools.product((None, "livestock", "forestry", "comprehensive"),
                                                        (None, "coastal", "mountain"),
                                                        (None, "6999万元", "7000万元", "8000万元", "10000万元"),
                                                        (None, "-1%", "4.5%", "5%")))]
    durable, reference = _records(pack, rows), _records(pack, rows, "reference")
    key = lambda r: (r.outcome, [(c.id, c.status, c.branch) for c in r.criteria])  # noqa: E731
    assert [key(r) for r in durable] == [key(r) for r in reference]
    assert {r.outcome for r in durable} == {Outcome.PASS, Outcome.FAIL, Outcome.UNDETERMINED}


def test_table_problems(tmp_path):
    text = PACK.replace("forestry: {coastal: 10000, mountain: 7000}", "forestry: {coastal: 10000, mountian: 7000}")
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    doc, _ = load_yaml_file(str(path))
    codes = [(p.code, p.line) for p in check_pack2(doc, AS_OF)]
    assert ("E182", 18) in codes and ("E111", 16) in codes  # the misspelt region, and the row it leaves out
    with pytest.raises(ProblemsError):
        _pack(tmp_path, text)


# ---------------------------------------------------------------------------------------------
# Cohort barrier: a rank over the batch reads a criterion (placed last when vetoed), and a
# criterion reads the rank. A tiny cohort operation of this test's own (h3 lands the real one).

from dataclasses import dataclass as _dataclass  # noqa: E402
from fractions import Fraction  # noqa: E402
from typing import Any  # noqa: E402

from engine.compile.ops import OPS, op  # noqa: E402
from engine.evaluate.ops import Computed, Step, computes_cohort  # noqa: E402


@_dataclass(frozen=True)
class _Rank:
    of: str
    last: str

    def reads(self) -> tuple[str, ...]:
        return (self.of, self.last)


if "h1_test_rank" not in OPS:
    @op("h1_test_rank", cohort=True)
    def _parse_rank(raw: Any, ctx: Any, path: tuple[Any, ...]) -> _Rank:
        return _Rank(ctx.ref(raw["of"], path + ("of",)), ctx.ref(raw["last"], path + ("last",), sorts=("criterion",)))

    @computes_cohort("h1_test_rank")
    def _compute_rank(args: _Rank, envs: Any) -> list[Computed]:
        def key(env: Any) -> tuple[int, Fraction]:
            last = env.get(args.last) is Status.MET
            return (1 if last else 0, -(env.get(args.of) or Fraction(0)))
        order = sorted(envs, key=key)
        place = {id(env): i for i, env in enumerate(order, start=1)}
        return [Computed(Fraction(place[id(env)]), steps=(Step(f"第{place[id(env)]}名", f"place {place[id(env)]}"),))
                for env in envs]


COHORT = """\
format: 2
pack: {id: demo-rank, version: "1.0.0", entity: zone, title: {zh: 排名}}
inputs:
  output: {type: money, unit: 亿元, label: {zh: 产值}}
  accident: {type: boolean, label: {zh: 重大事故}}
values:
  place:
    label: {zh: 名次}
    h1_test_rank: {of: output, last: vetoed}
criteria:
  vetoed:
    title: {zh: 发生重大事故}
    cite: 十
    test: {value: accident, op: is_true}
  top_two:
    title: {zh: 前两名}
    cite: 十一
    test: {value: place, op: "<=", number: 2}
outcomes:
  decision: top_two
"""


def test_cohort_barrier_orders_values_and_criteria(tmp_path):
    pack = _pack(tmp_path, COHORT)
    assert pack.values["place"].phase == 2 and pack.criteria == {"vetoed": 1, "top_two": 3}
    rows = [{"id": "a", "output": "30亿元", "accident": True}, {"id": "b", "output": "20亿元", "accident": False},
            {"id": "c", "output": "10亿元", "accident": False}, {"id": "d", "output": "5亿元", "accident": False}]
    for engine in ("durable", "reference"):
        records = {r.entity_id: r for r in _records(pack, rows, engine)}
        assert {k: r.value("place").value for k, r in records.items()} == {"a": 4, "b": 1, "c": 2, "d": 3}
        assert {k: r.outcome for k, r in records.items()} == {"a": Outcome.FAIL, "b": Outcome.PASS,
                                                              "c": Outcome.PASS, "d": Outcome.FAIL}


AWARDS = COHORT.replace("""outcomes:
  decision: top_two
""", """choices:
  award_pass_down:
    label: {zh: 不能获奖者的名额是否顺延}
    cite: 办法 10
    options: {pass_down: {zh: 由后一名递补}, vacant: {zh: 名额空缺}}
    default: pass_down
    reason: 原文未说明；默认顺延。
outcomes:
  decision: top_two
  awards:
    place: place
    eligible: award_ok
    pass_down: {choice: award_pass_down}
    total: 1000万元
    by_group:
      all: [{place: 1, amount: 600万元, title: {zh: 一等奖}}, {place: 2, amount: 400万元, title: {zh: 二等奖}}]
""").replace("""criteria:
""", """criteria:
  award_ok:
    title: {zh: 可以获奖}
    cite: 办法 10
    not: {test: {value: accident, op: is_true}}
""")


def test_awards_pass_down_or_stay_vacant(tmp_path):
    text = AWARDS.replace("not: {test: {value: accident, op: is_true}}", "not: {test: {value: late, op: is_true}}")
    text = text.replace("  accident: {type: boolean, label: {zh: 重大事故}}\n",
                        "  accident: {type: boolean, label: {zh: 重大事故}}\n  late: {type: boolean, label: {zh: 逾期报送}}\n")
    rows = [{"id": "a", "output": "30亿元", "accident": False, "late": True},
            {"id": "b", "output": "20亿元", "accident": True, "late": False},
            {"id": "c", "output": "10亿元", "accident": False, "late": False},
            {"id": "d", "output": "5亿元", "accident": False, "late": False}]
    # places: a 1, c 2, d 3, b 4 (vetoed: last); a may not take an award (late)
    pack = _pack(tmp_path, text)
    got = {r.entity_id: (r.award.status, r.award.place, r.award.amount) for r in _records(pack, rows)}
    assert got == {"a": ("excluded", None, None), "c": ("awarded", 1, 600 * 10**4),
                   "d": ("awarded", 2, 400 * 10**4), "b": ("none", None, None)}
    path = tmp_path / "p.yaml"
    doc, raw = load_yaml_file(str(path))
    vacant = build2(doc, raw, AS_OF, {"award_pass_down": ("--set", "vacant")})
    records = {r.entity_id: r for r in _records(vacant, rows)}
    got = {k: (r.award.status, r.award.place, r.award.amount) for k, r in records.items()}
    assert got == {"a": ("excluded", 1, None), "c": ("awarded", 2, 400 * 10**4), "d": ("none", None, None),
                   "b": ("none", None, None)}
    assert records["a"].award.forfeited == 600 * 10**4
    assert records["c"].as_dict()["award"]["amount"] == "4000000"
    rows[0]["late"] = None  # eligibility unknown: a's award is held, nobody moves up
    records = {r.entity_id: r for r in _records(pack, rows)}
    assert (records["a"].award.status, records["a"].award.held) == ("pending", 600 * 10**4)
    assert records["c"].award.amount == 400 * 10**4
    for engine in ("durable", "reference"):
        assert [r.award for r in _records(pack, rows, engine)] == [records[k].award for k in "abcd"]


def test_award_in_views_and_suites(tmp_path):
    import io

    from engine.commands.packtest import run_suite
    from engine.report.format2_views import render_text2

    pack = _pack(tmp_path, AWARDS)
    rows = [{"id": "a", "output": "30亿元", "accident": False}, {"id": "b", "output": "20亿元", "accident": False}]
    out = io.StringIO()
    render_text2(_records(pack, rows), pack, out, "zh", view="full")
    assert "奖励（金额由 Python 计算）: 一等奖 600万元（奖励名次 1）" in out.getvalue()
    (tmp_path / "p.tests.yaml").write_text(
        "pack: p.yaml\nas_of: \"2024-06-30\"\ncases:\n  - name: 两区\n    entities:\n"
        "      - {id: a, output: 30亿元, accident: 否}\n      - {id: b, output: 20亿元, accident: 否}\n"
        "    expect:\n      a: {award: {status: awarded, place: 1, amount: 600万元}, ranks: {place: 1}}\n"
        "      b: {award: {amount: 600万元}}\n", encoding="utf-8")
    result = run_suite(str(tmp_path / "p.tests.yaml"))
    assert result.problems == [] and len(result.cases) == 1
    assert result.cases[0].diffs == ["b: award.amount: expected 600万元, got 400万元"]


DATES = """\
format: 2
pack: {id: demo-dates, version: "1.0.0", entity: firm, title: {zh: 日期}}
inputs:
  hte_valid_until: {type: date, label: {zh: 高企证书有效期至}}
  award_date: {type: date, label: {zh: 获奖日期}}
  cert_from: {type: date, label: {zh: 证书起}}
  cert_until: {type: date, label: {zh: 证书止}}
  rd_2022: {type: percent, unit: "%", label: {zh: 2022研发占比}}
  rd_2023: {type: percent, unit: "%", label: {zh: 2023研发占比}}
parameters:
  rd_min: {value: 3%, cite: 五, label: {zh: 研发占比下限}}
  deadline: {value: "2024-03-31", cite: 六, label: {zh: 截止日期}}
criteria:
  hte_valid:
    title: {zh: 高企证书在评价日有效}
    cite: 四
    test: {date: hte_valid_until, op: on_or_after, as_of: true}
  recent_award:
    title: {zh: 近3年获奖}
    cite: 四
    test: {date: award_date, op: within_years_before, years: 3}
  certificate:
    title: {zh: 证书在评价日有效}
    cite: 四
    test: {valid_on: {from: cert_from, until: cert_until}}
  rd_each_year:
    title: {zh: 每年研发占比不低于3%}
    cite: 五
    test: {each: [rd_2022, rd_2023], op: ">=", param: rd_min}
  before_deadline:
    title: {zh: 截止日期前获奖}
    cite: 六
    test: {date: award_date, op: on_or_before, param: deadline}
"""


def test_date_and_each_tests(tmp_path):
    pack = _pack(tmp_path, DATES)
    rows = [{"id": "a", "hte_valid_until": "2024-06-30", "award_date": "2021-06-30", "cert_from": "2024-06-30",
             "cert_until": "2024-06-30", "rd_2022": "3%", "rd_2023": "3.5%"},
            {"id": "b", "hte_valid_until": "2024-06-29", "award_date": "2021-06-29", "cert_from": "2024-07-01",
             "cert_until": "2025-01-01", "rd_2022": "2.9%", "rd_2023": "9%"},
            {"id": "c", "award_date": "2024-07-01", "cert_from": "2024-01-01", "rd_2023": "9%"}]
    for engine in ("durable", "reference"):
        got = {r.entity_id: {c.id: c.status.value for c in r.criteria} for r in _records(pack, rows, engine)}
        assert got["a"] == {"hte_valid": "met", "recent_award": "met", "certificate": "met", "rd_each_year": "met",
                            "before_deadline": "met"}
        assert got["b"] == {"hte_valid": "not_met", "recent_award": "not_met", "certificate": "not_met",
                            "rd_each_year": "not_met", "before_deadline": "met"}
        # an award after the evaluation date is not "within the last 3 years"; a missing end is unknown
        assert got["c"] == {"hte_valid": "unknown", "recent_award": "not_met", "certificate": "unknown",
                            "rd_each_year": "unknown", "before_deadline": "not_met"}


# Members reach an operation as a list of dicts (the Env contract, engine.evaluate.ops.Env):
# {"name": ..., field: Fraction | date | str | bool | None}.

@_dataclass(frozen=True)
class _Count:
    members: str

    def reads(self) -> tuple[str, ...]:
        return (self.members,)


if "h1_test_members" not in OPS:
    @op("h1_test_members")
    def _parse_members(raw: Any, ctx: Any, path: tuple[Any, ...]) -> _Count:
        return _Count(ctx.ref(raw["members"], path + ("members",), sorts=("members",)))

    from engine.evaluate.ops import computes  # noqa: E402

    @computes("h1_test_members")
    def _compute_members(args: _Count, env: Any) -> Computed:
        members = env.get(args.members)
        if members is None:
            return Computed(None, missing=(args.members,))
        big = [m for m in members if m["revenue"] is not None and m["revenue"] >= 10**8
               and m["listed_on"] is not None and m["listed_on"] <= env.as_of]
        return Computed(Fraction(len(big)), detail={"members": [m["name"] for m in big],
                                                    "types": sorted({type(v).__name__ for m in members for v in m.values()})})


MEMBERS = """\
format: 2
pack: {id: demo-members, version: "1.0.0", entity: cluster, title: {zh: 成员}}
inputs:
  firms:
    type: members
    label: {zh: 成员企业}
    fields:
      revenue: {type: money, unit: 万元, label: {zh: 营业收入}}
      listed_on: {type: date, label: {zh: 入规日期}}
parameters:
  big_firms_min: {value: 2家, cite: 三, label: {zh: 亿元以上企业数}}
values:
  big_firms:
    label: {zh: 营业收入1亿元以上的企业数}
    unit: 家
    h1_test_members: {members: firms}
criteria:
  enough_big_firms:
    title: {zh: 亿元企业不少于2家}
    cite: 三
    test: {value: big_firms, op: ">=", param: big_firms_min}
"""


def test_members_reach_operations_as_records(tmp_path):
    pack = _pack(tmp_path, MEMBERS)
    rows = [{"id": "c", "firms": [{"name": "甲", "revenue": "1.2亿元", "listed_on": "2020-01-01"},
                                  {"name": "乙", "revenue": "10000万元", "listed_on": "2024-06-30"},
                                  {"name": "丙", "revenue": "9999万元", "listed_on": "2020-01-01"},
                                  {"name": "丁", "listed_on": "2024-07-01"}]}]
    (record,) = _records(pack, rows)
    v = record.value("big_firms")
    assert v.value == 2 and v.detail["members"] == ["甲", "乙"]
    assert v.detail["types"] == ["Fraction", "NoneType", "date", "str"]
    assert record.criterion("enough_big_firms").status is Status.MET


def test_awards_with_the_rank_of_engine_compile_points(tmp_path):
    """The award test's pack with h3's `rank` (engine/compile/points.py) in place of this test's op."""
    if "rank" not in OPS:
        pytest.skip("rank not registered")
    text = AWARDS.replace("h1_test_rank: {of: output, last: vetoed}", "rank: {of: output, within: kind, order: higher_first, last: vetoed}")
    text = text.replace("  accident: {type: boolean, label: {zh: 重大事故}}\n",
                        "  accident: {type: boolean, label: {zh: 重大事故}}\n"
                        "  kind: {type: enum, label: {zh: 类别}, values: {all: {zh: 全部}, other: {zh: 其他}}}\n")
    pack = _pack(tmp_path, text)
    assert pack.awards.within == "kind" and pack.values["place"].cohort
    rows = [{"id": "a", "output": "30亿元", "accident": True, "kind": "all"},
            {"id": "b", "output": "20亿元", "accident": False, "kind": "all"},
            {"id": "c", "output": "10亿元", "accident": False, "kind": "all"},
            {"id": "x", "output": "90亿元", "accident": False, "kind": "other"}]
    for engine in ("durable", "reference"):
        records = {r.entity_id: r for r in _records(pack, rows, engine)}
        assert {k: r.value("place").value for k, r in records.items()} == {"a": 3, "b": 1, "c": 2, "x": 1}
        assert {k: (r.award.status, r.award.amount) for k, r in records.items()} == {
            "a": ("excluded", None), "b": ("awarded", 600 * 10**4), "c": ("awarded", 400 * 10**4),
            "x": ("none", None)}  # no award table for "other"


def test_csv_view(tmp_path):
    import csv
    import io

    from engine.report.format2_views import write_csv2

    pack = _pack(tmp_path, AWARDS)
    rows = [{"id": "a", "output": "30亿元", "accident": False}, {"id": "b", "output": "20亿元", "accident": False}]
    out = io.StringIO()
    write_csv2(_records(pack, rows), pack, out, "zh")
    table = list(csv.reader(io.StringIO(out.getvalue())))
    assert table[0] == ["id", "名称", "结论", "可以获奖", "发生重大事故", "前两名", "名次", "奖励（金额由 Python 计算）"]
    assert table[1] == ["a", "", "通过", "满足", "不满足", "满足", "1", "一等奖 600万元（奖励名次 1）"]
