"""Format-2 views read right (issue 12, "Done when"): a firm that fails only on a group minimum,
and one that passes only by a fast track, say so in the headline of every view; each value shows
the band taken with its endpoints, the points, the cap applied, a group's subtotal against its
minimum; a criterion that does not apply gives its reason; the choices in force and a validity
warning are shown.

The pack and firms are synthetic (tests/golden/format2/); the whole pages are pinned by the
golden files (tests/test_golden.py), these tests pin the facts that must never be lost.
"""

from __future__ import annotations

import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.evaluate.pipeline import decide_files2, load_pack2
from engine.explain.explain2 import explain2, headline

ROOT = Path(__file__).resolve().parent.parent
PACK = str(ROOT / "tests" / "golden" / "format2" / "firm-points.yaml")
FIRMS = str(ROOT / "tests" / "golden" / "format2" / "firms.yaml")
GROUP_ONLY_ZH = "不通过：仅因 第六条 创新能力小计 15分，低于最低要求 20分"
GROUP_ONLY_EN = "FAIL only on a group minimum: 第六条 innovation subtotal 15分, under the minimum of 20分"
FAST_TRACK_ZH = "通过：经 第八条 直接认定(获得国家级科技奖励)；第五条 按评分认定 不满足"
FAST_TRACK_EN = "PASS by 第八条 fast track (national science award); 第五条 by the score not met"


@pytest.fixture(scope="module")
def decided():
    pack = load_pack2(PACK, dt.date(2024, 6, 30), {})
    records = {r.entity_id: r for r in decide_files2(pack, [FIRMS], "durable", [])}
    return pack, records


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_headlines_name_the_group_minimum_and_the_fast_track(decided) -> None:
    pack, records = decided
    assert headline(pack, records["F2"])["zh"].startswith(GROUP_ONLY_ZH)
    assert headline(pack, records["F2"])["en"].startswith(GROUP_ONLY_EN)
    assert headline(pack, records["F3"])["zh"].startswith(FAST_TRACK_ZH)
    assert headline(pack, records["F3"])["en"].startswith(FAST_TRACK_EN)
    # the fast-track firm's score route failed on the score and on the group minimum: both named
    assert "0分 < 60分" in headline(pack, records["F3"])["zh"]
    assert "创新能力小计 0分，低于最低要求 20分" in headline(pack, records["F3"])["zh"]
    # a firm that passes by its score is a plain pass; one short of data is not called a failure
    assert headline(pack, records["F1"])["zh"] == "通过"
    assert headline(pack, records["F4"])["zh"].startswith("无法判定：第七条 上次复核合格：未提供认定意见")
    assert not headline(pack, records["F5"])["zh"].startswith("不通过")


def test_points_show_band_endpoints_cap_and_subtotal_against_minimum(decided) -> None:
    pack, records = decided
    values = {v.name: v for v in explain2(pack, records["F2"]).values}
    assert values["rd_points"].value["zh"] == "15分"
    assert values["rd_points"].band["zh"] == "[4%, 6%)（不低于4%且低于6%）"
    assert values["rd_points"].band["en"] == "[4%, 6%) (≥ 4% and < 6%)"
    assert values["innovation"].subtotal["zh"] == "小计 15分，最低要求 20分（未达到）"
    assert values["innovation"].meets_minimum is False and values["innovation"].cap is None
    capped = {v.name: v for v in explain2(pack, records["F1"]).values}["innovation"]
    assert capped.cap["zh"] == "上限 40分，已封顶（原 60分）" and capped.meets_minimum is True
    low = {v.name: v for v in explain2(pack, records["F3"]).values}["rd_points"]
    assert low.band["zh"] == "(-∞, 2%]（不超过2%）"  # an included upper end: 不超过


def test_not_applicable_reason_and_choices_in_force(decided) -> None:
    pack, records = decided
    view = explain2(pack, records["F2"])
    review = next(c for c in view.criteria if c.criterion.id == "review_ok")
    assert review.reason == {"zh": "新申请不适用此项", "en": "not required for a new application"}
    assert [(c["name"], c["option_id"], c["source"]) for c in view.choices] == [("patent_rounding", "capped", "default")]


class _Rows(HTMLParser):
    """The text of each element carrying data-entity, keyed by entity id (the overview rows)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}
        self.current: str | None = None
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-entity" in attrs:
            self.current = attrs["data-entity"]
            self.rows[self.current] = ""

    def handle_endtag(self, tag):
        if tag == "tr":
            self.current = None

    def handle_data(self, data):
        if self.current:
            self.rows[self.current] += data


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_and_markdown_read_right(lang: str, tmp_path: Path) -> None:
    group, fast = (GROUP_ONLY_ZH, FAST_TRACK_ZH) if lang == "zh" else (GROUP_ONLY_EN, FAST_TRACK_EN)
    page = tmp_path / "report.html"
    run("report", "--rules", PACK, FIRMS, "--as-of", "2024-06-30", "--lang", lang, "-o", str(page))
    parser = _Rows()
    parser.feed(page.read_text(encoding="utf-8"))
    assert group in parser.rows["F2"] and fast in parser.rows["F3"]
    html = page.read_text(encoding="utf-8")
    assert 'data-entity="F2" data-outcome="fail" data-only-group-minimum="true"' in html
    assert ('小计 15分，最低要求 20分（未达到）' if lang == "zh" else "subtotal 15分, minimum 20分 (not met)") in html
    md = run("report", "--rules", PACK, FIRMS, "--as-of", "2024-06-30", "--lang", lang, "--format", "markdown")
    assert group in md and fast in md


def test_a_validity_warning_is_in_the_page(tmp_path: Path) -> None:
    md = run("report", "--rules", PACK, FIRMS, "--as-of", "2026-06-30", "--format", "markdown")
    assert "> ⚠ **W180**" in md
    page = tmp_path / "report.html"
    run("report", "--rules", PACK, FIRMS, "--as-of", "2026-06-30", "-o", str(page))
    assert 'data-validity="warning"' in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_text_reads_right_short_and_full(lang: str) -> None:
    group, fast = (GROUP_ONLY_ZH, FAST_TRACK_ZH) if lang == "zh" else (GROUP_ONLY_EN, FAST_TRACK_EN)
    short = run("evaluate", "--rules", PACK, FIRMS, "--as-of", "2024-06-30", "--lang", lang)
    lines = {line.split(" ", 1)[0]: line for line in short.splitlines()}
    assert group in lines["F2"] and fast in lines["F3"]
    full = run("evaluate", "--rules", PACK, FIRMS, "--as-of", "2024-06-30", "--lang", lang, "--full")
    assert group in full and fast in full
    assert ("小计 15分，最低要求 20分（未达到）" if lang == "zh" else "subtotal 15 points, minimum 20 points (not met)") in full


def test_json_carries_the_headline() -> None:
    decisions = {d["id"]: d for d in json.loads(run("evaluate", "--rules", PACK, FIRMS, "--as-of", "2024-06-30",
                                                    "--format", "json"))["decisions"]}
    assert decisions["F2"]["headline"]["zh"].startswith(GROUP_ONLY_ZH)
    assert decisions["F2"]["headline"]["en"].startswith(GROUP_ONLY_EN)
    assert decisions["F3"]["headline"]["zh"].startswith(FAST_TRACK_ZH) and decisions["F3"]["outcome"] == "pass"
    assert [i for i, d in decisions.items() if d["fails_only_on_group_minimum"]] == ["F2"]
    group = next(v for v in decisions["F2"]["values"] if v["name"] == "innovation")
    assert (group["value"], group["detail"]["minimum"], group["detail"]["meets_minimum"]) == ("15", "20", False)


def test_an_input_comparison_is_explained_and_a_second_failure_is_not_only_the_minimum(tmp_path: Path) -> None:
    """A criterion comparing an input says what was read; a firm short on the group minimum and on
    another criterion is not said to fail only on the minimum."""
    text = Path(PACK).read_text(encoding="utf-8")
    assert "      - id: fast_track" in text
    text = text.replace("      - id: fast_track", "          - id: staff_limit\n"
                        "            title: {zh: 职工总数不超过50人, en: staff at most 50}\n            cite: 第九条\n"
                        "            test: {value: total_staff, op: \"<=\", number: 50人}\n      - id: fast_track", 1)
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    pack = load_pack2(str(tmp_path / "p.yaml"), dt.date(2024, 6, 30), {})
    records = {r.entity_id: r for r in decide_files2(pack, [FIRMS], "durable", [])}
    line = headline(pack, records["F2"])["zh"]
    assert "第九条 职工总数不超过50人：100人 > 50人 (要求 ≤ 50人)" in line
    assert line.startswith("不通过：第六条 创新能力小计不低于20分：小计 15分，最低要求 20分（未达到）；")
    assert not explain2(pack, records["F2"]).only_group_minimum


ZONES_PACK = str(ROOT / "tests" / "golden" / "format2" / "zone-ranking.yaml")
ZONES = str(ROOT / "tests" / "golden" / "format2" / "zones.yaml")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_place_is_shown_as_a_place_not_as_points(lang: str) -> None:
    """A rank's value is a place (1, 2, …): it has no unit, so it never reads `1分`."""
    pack = load_pack2(ZONES_PACK, dt.date(2024, 12, 31), {})
    assert pack.values["place"].unit is None and pack.values["total"].unit is not None
    full = run("evaluate", "--rules", ZONES_PACK, ZONES, "--as-of", "2024-12-31", "--full", "--lang", lang)
    label = "综合评价名次" if lang == "zh" else "place"
    assert f"    {label} = 1\n" in full and f"{label} = 1分" not in full
    decisions = json.loads(run("evaluate", "--rules", ZONES_PACK, ZONES, "--as-of", "2024-12-31", "--format", "json"))
    place = next(v for v in decisions["decisions"][0]["values"] if v["name"] == "place")
    assert (place["value"], place["unit"]) == ("1", None)


def test_score_csv_has_the_officers_headers_and_exact_numbers() -> None:
    import csv as _csv
    import io as _io

    text = run("score", "--rules", ZONES_PACK, ZONES, "--as-of", "2024-12-31", "--format", "csv")
    rows = list(_csv.reader(_io.StringIO(text)))
    assert rows[0][:7] == ["分组", "名次", "并列", "名次暂定", "编号", "名称", "综合得分（分）"]
    assert "奖励金额（万元）" in rows[0]
    by_id = {r[4]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert (by_id["Z2"]["名次"], by_id["Z2"]["并列"], by_id["Z2"]["综合得分（分）"]) == ("2", "是", "14")
    assert (by_id["Z1"]["奖励金额（万元）"], by_id["Z1"]["奖励状态"]) == ("300", "获奖")
    assert by_id["Z6"]["名次"] == "" and by_id["Z6"]["综合得分（分）"] == ""  # unknown: an empty cell, never 0
    z8 = by_id["Z8"]  # scored 0 on its missing tax: a lower bound, named; the award held, its amount given
    assert (z8["综合得分（分）"], z8["为下限（≥）的得分"], z8["奖励状态"], z8["奖励金额（万元）"]) == (
        "10", "综合得分；税收得分", "待定（暂留）", "50")
    en = run("score", "--rules", ZONES_PACK, ZONES, "--as-of", "2024-12-31", "--format", "csv", "--lang", "en")
    assert en.splitlines()[0].startswith("group,place,tied,provisional place,id,name,total (分)")


def test_a_lower_bound_is_marked_in_every_view(tmp_path: Path) -> None:
    """Z8 has no tax figure, scored 0 (`missing: zero`): its tax points and total are lower bounds."""
    args = ("--rules", ZONES_PACK, ZONES, "--as-of", "2024-12-31")
    zh = run("evaluate", *args, "--full")
    assert "    综合得分 ≥ 10分（下限：缺少 税收，按0分计）\n" in zh and "综合得分 = 10分\n" not in zh.split("Z8")[1]
    en = run("evaluate", *args, "--full", "--lang", "en")
    assert "total ≥ 10分 (lower bound: tax missing, scored 0)" in en
    score = run("score", *args)
    assert "1* | Z8 辛园区(缺税收) | ≥10 | 10 | ≥0 | 待定：名次暂定，暂留 50万元 | —" in score
    assert "≥ 下限：缺少数据的项按0分计（暂定）" in score
    assert "综合得分 (第五条): ≥10分" in run("score", *args, "--full")
    decisions = {d["id"]: d for d in json.loads(run("evaluate", *args, "--format", "json"))["decisions"]}
    flags = {v["name"]: v["lower_bound"] for v in decisions["Z8"]["values"]}
    assert flags == {"growth_points": False, "tax_points": True, "total": True, "place": False}
    assert not any(v["lower_bound"] for v in decisions["Z1"]["values"])
    scored = json.loads(run("score", *args, "--format", "json"))
    z8 = next(e for g in scored["groups"] for e in g["entities"] if e["id"] == "Z8")
    assert z8["lower_bounds"] == ["total", "tax_points"] and z8["award"]["status"] == "pending"
    page = tmp_path / "r.html"
    run("report", *args, "-o", str(page))
    assert "≥10分（下限：缺少 税收，按0分计）" in page.read_text(encoding="utf-8")
    from openpyxl import load_workbook

    book = tmp_path / "z.xlsx"
    run("evaluate", *args, "--format", "xlsx", "-o", str(book))
    sheet = load_workbook(book).active
    rows = list(sheet.iter_rows())
    col = {c.value: i for i, c in enumerate(rows[0])}
    z8_row = next(r for r in rows if r[0].value == "Z8")
    total = z8_row[col["综合得分（分）"]]
    assert total.value == 10 and total.number_format.startswith('"≥"')  # still a number, shown ≥10分
    assert not z8_row[col["产值增速排名得分（分）"]].number_format.startswith('"≥"')


LINKED = str(ROOT / "tests" / "golden" / "format2" / "linked-firms.yaml")
LINKED_DATA = str(ROOT / "tests" / "golden" / "format2" / "linked-firms-data.yaml")


def test_what_it_takes_follows_criterion_links_and_table_rows() -> None:
    """The decision reads its two criteria by link; one compares a sum with a lookup table by
    sector and region: the suggestions reach the inputs behind both, at the entity's own row."""
    from engine.evaluate.pipeline import entities
    from engine.evaluate.run2 import subject_of
    from engine.explain.whatif2 import what_it_takes2

    pack = load_pack2(LINKED, dt.date(2024, 6, 30), {})
    subjects = {s.id: s for s in (subject_of(pack, e)[0] for e, _ in entities([LINKED_DATA], []))}
    l1 = what_it_takes2(pack, subjects["L1"])  # livestock/coastal: 8,000万元; has 7,000万元
    changes = [[(c["input"], c["to"], c.get("through"), c["criteria"]) for c in o["changes"]] for o in l1["options"]]
    assert changes == [[("sales_main", "7000", "sales", ["scale_ok"])], [("sales_other", "2000", "sales", ["scale_ok"])]]
    assert l1["options"][0]["changes"][0]["requirement_text"]["zh"] == "年销售收入 ≥ 8,000万元"
    assert [v["id"] for v in l1["options"][0]["via"]] == ["scale_ok"]
    l3 = what_it_takes2(pack, subjects["L3"])  # livestock/mountain: 7,000万元, and 5 staff short
    assert [sorted(c["input"] for c in o["changes"]) for o in l3["options"]] == [["sales_main", "staff"],
                                                                                  ["sales_other", "staff"]]
    assert l3["options"][0]["changes"][0]["requirement_text"]["zh"] == "年销售收入 ≥ 7,000万元"
    assert all(o["verified_by"] == "reference evaluator" for o in l1["options"] + l3["options"])


def test_what_it_takes_names_each_reading_criterion_once() -> None:
    """An applicability condition and the body of a criterion that may not apply are read for
    that criterion; no id is listed twice for one input."""
    decisions = {d["id"]: d for d in json.loads(run("evaluate", "--rules", PACK, FIRMS, "--as-of", "2024-06-30",
                                                    "--what-it-takes", "--format", "json"))["decisions"]}
    readers = {c["input"]: c["criteria"] for o in decisions["F4"]["what_it_takes"]["options"] for c in o["changes"]}
    assert readers["last_review_passed"] == ["review_ok"] and readers["procedure"] == ["review_ok"]
    every = [c["criteria"] for d in decisions.values() for o in (d.get("what_it_takes") or {}).get("options", [])
             for c in o["changes"]]
    assert every and all(len(ids) == len(set(ids)) for ids in every)


def test_an_undetermined_headline_names_the_unset_parameter(tmp_path: Path) -> None:
    """A threshold the policy leaves open (`unset:`), directly or through a parameter scaled from
    it, is named with its clause and the pack's reason wherever the unknown is explained."""
    text = Path(LINKED).read_text(encoding="utf-8")
    written = "  staff_min: {value: 40人, cite: 第六条, label: {zh: 职工人数下限, en: minimum staff}}"
    assert written in text
    unset = "  staff_min: {unset: 原文未规定职工人数下限, cite: 第六条, label: {zh: 职工人数下限, en: minimum staff}}"
    (tmp_path / "unset.yaml").write_text(text.replace(written, unset), encoding="utf-8")
    args = ("--rules", str(tmp_path / "unset.yaml"), LINKED_DATA, "--as-of", "2024-06-30")
    lines = {line.split(" ", 1)[0]: line for line in run("evaluate", *args).splitlines()}
    assert lines["L2"].endswith("无法判定：第六条 职工人数达到下限：未知（参数 职工人数下限（第六条）未设定：原文未规定职工人数下限）")
    en = {line.split(" ", 1)[0]: line for line in run("evaluate", *args, "--lang", "en").splitlines()}
    assert "unknown (parameter minimum staff (第六条) is unset: 原文未规定职工人数下限)" in en["L2"]
    assert "? 第六条 职工人数达到下限: 未知（参数 职工人数下限（第六条）未设定" in run("evaluate", *args, "--full")
    scaled = ("  base_min: {unset: 原文未规定基准人数, cite: 第六条, label: {zh: 基准人数, en: base staff}}\n"
              "  staff_min: {scaled: {of: base_min, by: 80%}, cite: 第六条之二, label: {zh: 职工人数下限, en: minimum staff}}")
    (tmp_path / "scaled.yaml").write_text(text.replace(written, scaled), encoding="utf-8")
    pack = load_pack2(str(tmp_path / "scaled.yaml"), dt.date(2024, 6, 30), {})
    records = {r.entity_id: r for r in decide_files2(pack, [LINKED_DATA], "durable", [])}
    assert headline(pack, records["L2"])["zh"].endswith(
        "未知（参数 基准人数（第六条）未设定（职工人数下限 由它得出）：原文未规定基准人数）")


def test_trace_steps_name_inputs_values_and_groups_by_their_labels() -> None:
    """The steps Python recorded name the pack's inputs and values; every view shows their labels
    (and a rank's group by its option's label), in zh and en; the record keeps the names."""
    args = ("--rules", ZONES_PACK, ZONES, "--as-of", "2024-12-31")
    zh = run("evaluate", *args, "--full")
    assert "工业产值增速 12% 在 重点园区 中排第 2 名（共 4 个）：10分 − 1 × 1 = 9分" in zh
    assert "综合得分 19分，在 重点园区 中排第 1 名（共 4 个）" in zh
    assert "税收 缺少数据，按0分计：10分为下限（暂定）" in zh
    assert "output_growth" not in zh and "在 key 中" not in zh
    en = run("score", *args, "--full", "--lang", "en")
    assert "output growth 12%: place 2 of 4 in key zone: 10 − 1 × 1 = 9 points" in en
    assert "* 己园区(缺增速)" not in en and "Z6 not ranked (data missing): the place is provisional" in en
    firms = run("evaluate", "--rules", PACK, FIRMS, "--as-of", "2024-06-30", "--full")
    assert "综合得分 = 未知 (缺少 科技人员得分、创新能力小计)" in firms and "staff_points" not in firms
    data = json.loads(run("evaluate", *args, "--format", "json"))
    place = next(v for v in data["decisions"][0]["values"] if v["name"] == "growth_points")
    assert place["steps"][0] == {"zh": "工业产值增速 12% 在 重点园区 中排第 2 名（共 4 个）：10分 − 1 × 1 = 9分",
                                 "en": "output growth 12%: place 2 of 4 in key zone: 10 − 1 × 1 = 9 points"}
    pack = load_pack2(ZONES_PACK, dt.date(2024, 12, 31), {})
    record = next(iter(decide_files2(pack, [ZONES], "durable", [])))
    assert record.value("growth_points").steps[0].zh.startswith("output_growth 12% 在 key 中")  # the record: names


def test_a_diff_shows_a_lower_bound_as_one(tmp_path: Path) -> None:
    """Without `missing: zero` the zone lacking its tax figure has no points at all: the diff says
    its lower bounds became unknown (≥10分 → 未知), not that 10分 did."""
    from engine.commands.diff2 import diff_decisions2

    text = Path(ZONES_PACK).read_text(encoding="utf-8")
    assert "      missing: zero\n" in text
    (tmp_path / "new.yaml").write_text(text.replace("      missing: zero\n", "", 1), encoding="utf-8")
    date = dt.date(2024, 12, 31)
    result = diff_decisions2(load_pack2(ZONES_PACK, date, {}), load_pack2(str(tmp_path / "new.yaml"), date, {}), [ZONES])
    z8 = next(i for i in result["criteria_changes"] if i["entity"]["id"] == "Z8")
    moved = {v["name"]: (v["old_text"]["zh"], v["new_text"]["zh"]) for v in z8["values"]}
    assert moved["total"] == ("≥10分", "未知") and moved["tax_points"] == ("≥0分", "未知")


# ---------------------------------------------------------------------------------------------
# What the format-1 views showed and the format-2 views must show too (issue 12): the shipped
# Huguan pack (rules/, format 2) on towns copied from its fixture (tests/golden/format2/).

HUGUAN = str(ROOT / "rules" / "huguan-specialized-town.yaml")
TOWNS = str(ROOT / "tests" / "golden" / "format2" / "huguan-towns.yaml")
HG = ("--rules", HUGUAN, TOWNS, "--as-of", "2024-06-30")


@pytest.fixture(scope="module")
def towns():
    pack = load_pack2(HUGUAN, dt.date(2024, 6, 30), {})
    return pack, {r.entity_id: r for r in decide_files2(pack, [TOWNS], "durable", [])}


def test_a_failure_says_how_far_from_passing_against_the_threshold_as_written(towns) -> None:
    """HG05 has 99,999万元 against 10亿元: the threshold reads as the policy writes it (not
    100,000万元), the gap (差 1万元) is computed exactly by Python and kept in the record."""
    pack, records = towns
    c = records["HG05"].criterion("output_manufacturing")
    assert c.test["gap"] == 10000 and c.test["written"] == "10亿元" and c.test["threshold"] == 1000000000
    head = headline(pack, records["HG05"])
    assert "99,999万元 < 10亿元 (要求 ≥ 10亿元)，差 1万元" in head["zh"]
    assert "99,999万元 < 10亿元 (required ≥ 10亿元), short by 1万元" in head["en"]
    full = run("evaluate", *HG, "--full")
    assert "不满足（99,999万元 < 10亿元，须 ≥ 10亿元，差 1万元）" in full and "100,000万元" not in full
    assert "满足（120,000万元 ≥ 5,000万元）" in full  # written in the compared unit: grouped as the value
    data = json.loads(run("evaluate", *HG, "--format", "json"))
    hg05 = next(d for d in data["decisions"] if d["id"] == "HG05")
    test = next(c for c in hg05["criteria"] if c["id"] == "output_manufacturing")["test"]
    assert (test["threshold"], test["written"], test["gap"]) == ("1000000000", "10亿元", "10000")
    # --set: the value given is the one written; an amount in the compared unit reads in that unit
    eight = run("evaluate", *HG, "--set", "manufacturing_output_min=8亿元")
    assert "HG05 石磨镇 — 通过" in eight
    low = run("evaluate", *HG, "--set", "manufacturing_output_min=99999.5万元", "--full")
    assert "99,999万元 < 99,999.5万元，须 ≥ 99,999.5万元，差 0.5万元" in low


def test_attestation_evidence_is_shown_with_the_attestation(towns) -> None:
    """The issuing unit, date and document number given with an attestation reach the record
    (the earliest stage that reads them) and every view."""
    pack, records = towns
    c = records["HG23"].criterion("services")
    assert c.test["evidence"] == {"by": "县工信局", "date": "2024-04-10", "ref": "壶工信函〔2024〕31号"}
    assert headline(pack, records["HG23"])["zh"] == \
        "不通过：二(七) 公共服务完善：认定意见:否 (县工信局, 2024-04-10, 壶工信函〔2024〕31号)"
    assert "二(七) adequate public services: attested: no (县工信局, 2024-04-10, 壶工信函〔2024〕31号)" in \
        headline(pack, records["HG23"])["en"]
    full = run("evaluate", *HG, "--full")
    assert "✔ 二(八) 发展环境良好: 满足（依据: 县工信局, 2024-03-01, 壶工信函〔2024〕12号）" in full
    assert headline(pack, records["HG19"])["zh"] == "无法判定：二(三) 市场需求较大：未提供认定意见"


def test_discretionary_criteria_are_marked_and_a_pass_resting_on_one_says_so(towns) -> None:
    pack, records = towns
    assert records["HG01"].criterion("concentration_single_township").discretionary["zh"].startswith("原文为")
    assert headline(pack, records["HG01"])["zh"] == "通过（含酌情认定：二(四) 特色主导产业原则上限定在一个乡(镇)内）"
    assert headline(pack, records["HG07"])["zh"].endswith(
        "；含酌情认定：二(四) 特色主导产业原则上限定在一个乡(镇)内、二(四) 传统特色专业镇放宽认定(年产值不少于5000万元)")
    full = run("evaluate", *HG, "--full")
    assert "✔ 二(四) 特色主导产业原则上限定在一个乡(镇)内: 满足 [酌情条款]" in full
    assert "  经酌情条款满足(请审核确认): 二(四) 特色主导产业原则上限定在一个乡(镇)内\n" in full
    data = json.loads(run("evaluate", *HG, "--format", "json"))
    hg07 = next(d for d in data["decisions"] if d["id"] == "HG07")
    assert hg07["discretionary_met"] == ["concentration_single_township", "output_relaxed"]
    hg05 = next(d for d in data["decisions"] if d["id"] == "HG05")
    assert hg05["discretionary_met"] == ["concentration_single_township"]  # met, though the town fails
    assert next(c for c in hg07["criteria"] if c["id"] == "output_relaxed")["discretionary"]["en"].startswith("the text")


def test_the_short_line_lists_the_flags_raised(towns) -> None:
    short = run("evaluate", *HG)
    assert "HG01 青崖镇 — 通过（含酌情认定：二(四) 特色主导产业原则上限定在一个乡(镇)内） [标记: 二(五) 优先评定]\n" in short
    assert "HG05 石磨镇 — 不通过" in short and "HG05" not in short.split("[标记")[1].split("\n")[0]
    en = run("evaluate", *HG, "--lang", "en")
    assert "[flag: 二(五) assessed first]" in en


def test_report_pages_mark_discretionary_criteria_and_show_the_gap(tmp_path: Path) -> None:
    page = tmp_path / "r.md"
    run("report", *HG, "-o", str(page))
    text = page.read_text(encoding="utf-8")
    assert "特色主导产业原则上限定在一个乡(镇)内 _[酌情条款]_ | 认定意见:是 |" in text
    assert "制造业类产值达到10亿元以上 | 99,999万元 < 10亿元 (要求 ≥ 10亿元)，差 1万元 |" in text
    assert "公共服务完善 | 认定意见:否 (县工信局, 2024-04-10, 壶工信函〔2024〕31号) |" in text
    assert "- 经酌情条款满足(请审核确认): 二(四) 特色主导产业原则上限定在一个乡(镇)内" in text
    html = tmp_path / "r.html"
    run("report", *HG, "-o", str(html))
    assert 'data-criterion="output_relaxed" data-status="met" data-discretionary="true"' in html.read_text(encoding="utf-8")


def test_the_yangzhou_score_views_name_criteria_by_title_not_id() -> None:
    args = ("--rules", str(ROOT / "rules" / "yangzhou-zone-evaluation.yaml"), str(ROOT / "fixtures" / "yangzhou-zones.yaml"),
            "--as-of", "2024-12-31")
    for extra in ((), ("--lang", "en"), ("--full",), ("--format", "csv")):
        text = run("score", *args, *extra)
        assert "major_incident_last" not in text, extra
    assert "* 发生较大安全责任事故或较大突发环境事件:列为最后一名 未判定：名次暂定" in run("score", *args)
    # the full view lists every criterion and consequence of each zone, as format 1's did, a
    # comparison with the threshold as written ("超50亿元" is strict: at 50亿元 it must exceed it)
    full = run("score", *args, "--full")
    assert ("  ✘ 意见 (一)加强组织领导 年度开票销售超50亿元,可在县域内调剂1-2个科级编制: 不满足"
            "（500,000万元 ≤ 50亿元，须 > 50亿元，须超过该标准）\n") in full
    assert "  ✘ 后果 办法 约谈与调整 年度综合评价最后1名:约谈: 不满足\n" in full
