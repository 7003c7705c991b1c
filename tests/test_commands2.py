"""Format-2 commands beyond evaluate/report (issue 12): what it would take, the officer's workbook,
several worker processes, diff between two pack versions, and the score view with ranks, ties,
provisional places and awards.

Packs and data are the synthetic ones of tests/golden/format2/ (the whole views are pinned by
golden files in tests/test_golden.py); these tests pin the facts behind them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest

from engine.commands.diff2 import changed_count2, diff_decisions2
from engine.core.status import Outcome
from engine.evaluate.pipeline import cohort_workers, decide_files2, entities, load_pack2
from engine.evaluate.run2 import Runner, subject_of, subjects_from_dicts
from engine.explain.whatif2 import annotate_what_it_takes, what_it_takes2
from engine.report.format2_views import render_text2
from engine.report.score2 import render_score_text2, score_groups, score_json2
from engine.report.xlsx2 import write_xlsx2

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "format2"
PACK = str(GOLDEN / "firm-points.yaml")
FIRMS = str(GOLDEN / "firms.yaml")
ZONES_PACK = str(GOLDEN / "zone-ranking.yaml")
ZONES = str(GOLDEN / "zones.yaml")
AS_OF = dt.date(2024, 6, 30)


@pytest.fixture(scope="module")
def firms():
    pack = load_pack2(PACK, AS_OF, {})
    subjects = {s.id: s for s in (subject_of(pack, e)[0] for e, _ in entities([FIRMS], []))}
    return pack, subjects


def _apply(pack, subject, option):
    """The subject with the suggestion's changes applied (amounts back in base units)."""
    values = dict(subject.values)
    for change in option["changes"]:
        spec = pack.inputs[change["input"]]
        to = change["to"]
        if isinstance(to, str) and spec.type not in ("enum",):
            to = Fraction(to) * (spec.unit.factor if spec.unit else 1)
            to = int(to) if spec.type == "count" else to
        values[change["input"]] = to
    return dataclasses.replace(subject, values=values)


# ---------------------------------------------------------------------------------------------
# what it would take


def test_what_it_takes_goes_through_values_and_every_suggestion_passes(firms) -> None:
    pack, subjects = firms
    wit = what_it_takes2(pack, subjects["F2"])
    got = {tuple((c["input"], c["kind"], c["to"]) for c in o["changes"]) for o in wit["options"]}
    # F2 fails only on the innovation subtotal (15分 < 20分): R&D up to the next band edge (6%, not
    # 5.99%), one patent, or the fast track
    assert (("rd_ratio", "increase", "6"),) in got
    assert (("patents", "increase", "1"),) in got
    assert (("fast_track_award", "set", True),) in got
    rd = next(o for o in wit["options"] if o["changes"][0]["input"] == "rd_ratio")
    assert rd["changes"][0]["through"] == "innovation"
    assert rd["changes"][0]["requirement_text"]["zh"] == "创新能力小计 ≥ 20分"
    runner = Runner(pack, "durable")
    for option in wit["options"]:  # verified by the reference evaluator; durable-rules agrees
        assert runner.evaluate([_apply(pack, subjects["F2"], option)])[0].outcome is Outcome.PASS
    just_below = dataclasses.replace(subjects["F2"], values={**subjects["F2"].values, "rd_ratio": Fraction(599, 100)})
    assert runner.evaluate([just_below])[0].outcome is Outcome.FAIL  # 6% is the nearest figure that passes


def test_what_it_takes_asks_for_a_missing_attestation_and_skips_a_pass(firms) -> None:
    pack, subjects = firms
    wit = what_it_takes2(pack, subjects["F4"])
    first = wit["options"][0]["changes"]
    assert [(c["input"], c["kind"], c["to"]) for c in first] in ([("last_review_passed", "provide", True)],
                                                                   [("fast_track_award", "set", True)])
    assert any(c["input"] == "last_review_passed" and c["kind"] == "provide"
               for o in wit["options"] for c in o["changes"])
    records = Runner(pack).evaluate([subjects["F1"]])
    assert annotate_what_it_takes(pack, subjects["F1"], records[0]) is None  # F1 passes


def test_what_it_takes_refuses_a_ranked_batch_with_the_reason() -> None:
    pack = load_pack2(ZONES_PACK, dt.date(2024, 12, 31), {})
    subject = subject_of(pack, next(entities([ZONES], []))[0])[0]
    wit = what_it_takes2(pack, subject)
    assert wit["options"] == [] and "取决于其他对象" in wit["note"]["zh"]


def test_what_it_takes_in_the_text_view(firms) -> None:
    pack, subjects = firms
    records = list(decide_files2(pack, [FIRMS], "durable", [], annotate=annotate_what_it_takes))
    suggestions = {r.entity_id: s for r, s in records if s is not None}
    assert sorted(suggestions) == ["F2", "F4", "F5"]
    out = io.StringIO()
    render_text2([r for r, _ in records], pack, out, "zh", suggestions=suggestions)
    text = out.getvalue()
    assert "    如何才能通过:\n      1. " in text
    assert "研发费用占销售收入比例 +2% (→ 6%, 创新能力小计 ≥ 20分) [路径: 按评分认定]" in text


# ---------------------------------------------------------------------------------------------
# --workers


@pytest.mark.parametrize("pack_path,data", [(PACK, FIRMS), (str(ROOT / "rules" / "tech-sme-evaluation.yaml"),
                                                             str(ROOT / "fixtures" / "tech-sme-firms.yaml"))])
def test_workers_give_the_same_records_in_the_same_order(pack_path: str, data: str) -> None:
    pack = load_pack2(pack_path, AS_OF, {})
    one = [r.as_dict() for r in decide_files2(pack, [data], "durable", [])]
    problems: list = []
    two = [r.as_dict() for r in decide_files2(pack, [data], "durable", problems, workers=2, chunk_size=2)]
    assert one == two and len(one) >= 5
    with_wit = list(decide_files2(pack, [data], "durable", [], workers=2, chunk_size=2, annotate=annotate_what_it_takes))
    assert [r.as_dict() for r, _ in with_wit] == one


def test_a_ranked_batch_is_one_process_whatever_the_workers() -> None:
    pack = load_pack2(ZONES_PACK, dt.date(2024, 12, 31), {})
    assert cohort_workers(pack, 2) and not cohort_workers(load_pack2(PACK, AS_OF, {}), 2)
    one = [r.as_dict() for r in decide_files2(pack, [ZONES], "durable", [])]
    two = [r.as_dict() for r in decide_files2(pack, [ZONES], "durable", [], workers=2, chunk_size=2)]
    assert one == two


# ---------------------------------------------------------------------------------------------
# xlsx


def test_the_workbook_has_number_cells_units_gaps_and_exact_values(tmp_path: Path, firms) -> None:
    pack, _ = firms
    rows = [{"id": "F9", "name": "=HYPERLINK(\"x\")", "procedure": "new_application", "total_staff": 3, "tech_staff": 1,
             "rd_ratio": "4%", "patents": 0, "fast_track_award": False}]
    subjects, _ = subjects_from_dicts(pack, rows)
    records = list(decide_files2(pack, [FIRMS], "durable", [])) + Runner(pack).evaluate(subjects)
    path = tmp_path / "out.xlsx"
    counts = write_xlsx2(records, pack, str(path), "zh")
    assert counts == {"pass": 2, "fail": 2, "undetermined": 2}
    sheet = openpyxl.load_workbook(path).active
    assert sheet.freeze_panes == "D2" and sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}7"
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["编号", "名称", "结果"]
    rows = {r[0].value: r for r in sheet.iter_rows(min_row=2)}
    col = {h: i for i, h in enumerate(header)}
    f2 = rows["F2"]
    assert f2[col["第六条 创新能力小计不低于20分"]].value == "不满足"
    value, threshold, gap = (f2[col[f"第六条 创新能力小计不低于20分：{k}"]] for k in ("数值", "标准", "差距"))
    assert (value.value, threshold.value, gap.value) == (15, 20, 5) and gap.number_format == '#,##0"分"'
    share = f2[col["科技人员占比（%）"]]
    assert share.value == pytest.approx(0.3) and share.number_format.endswith("%")
    f9 = rows["F9"]
    assert f9[1].value == '=HYPERLINK("x")' and f9[1].data_type == "s"  # text, never a formula
    third = f9[col["科技人员占比（%）"]]
    assert third.comment is not None and "100/3%" in third.comment.text
    assert "科技人员占比 = 100/3%" in f9[col["精确值说明"]].value


# ---------------------------------------------------------------------------------------------
# score


@pytest.fixture(scope="module")
def zones():
    pack = load_pack2(ZONES_PACK, dt.date(2024, 12, 31), {})
    return pack, list(decide_files2(pack, [ZONES], "durable", []))


def test_score_groups_places_ties_last_and_provisional(zones) -> None:
    pack, records = zones
    plan, groups = score_groups(records, pack)
    assert (plan.rank, plan.total, plan.indicators, plan.within) == ("place", "total", ("growth_points", "tax_points"),
                                                                     "zone_type")
    key = {g: [(r["id"], r["place"], r["provisional"], r["tied_with"]) for r in rows] for g, rows in groups}
    assert key["key"] == [("Z1", 1, False, []), ("Z2", 2, False, ["Z3"]), ("Z3", 2, False, ["Z2"]), ("Z4", 4, False, [])]
    # Z6 has no growth figure: not ranked, the other two general zones' places provisional
    assert key["general"] == [("Z5", 1, True, []), ("Z7", 2, True, []), ("Z6", None, False, [])]
    out = io.StringIO()
    render_score_text2(records, pack, out, "zh")
    text = out.getvalue()
    assert "2= | Z2 乙园区(与丙并列) | 14 | 8 | 6 | 二等奖 200万元（奖励名次 2） | —" in text
    assert "4 | Z4 丁园区(重大事故) | 20 | 10 | 10 | 不能获奖（名额由后一名递补） | 发生重大安全事故(列为最后一名)；" in text
    assert "1* | Z5 戊园区 | 16 | 10 | 6 | 一等奖 100万元（奖励名次 1） | —" in text
    assert "— | Z6 己园区(缺增速) | ? | ? | 6 | — | —" in text
    assert "* Z6 未参加排名（数据不全）：名次暂定" in text


def test_score_json_lists_groups_and_rank_details(zones) -> None:
    pack, records = zones
    data = json.loads(json.dumps(score_json2(records, pack, [])))
    assert data["schema"] == "certify.score/2"
    key = next(g for g in data["groups"] if g["group"] == "key")
    z4 = next(e for e in key["entities"] if e["id"] == "Z4")
    assert (z4["place"], z4["placed_last"], z4["total"], z4["award"]["status"]) == (4, True, "20", "excluded")
    general = next(g for g in data["groups"] if g["group"] == "general")
    z5 = general["entities"][0]
    assert (z5["id"], z5["provisional"], z5["not_ranked_in_group"], z5["award"]["amount"]) == ("Z5", True, ["Z6"], "1000000")


# ---------------------------------------------------------------------------------------------
# diff


def test_diff_names_the_value_and_what_moved_upstream(tmp_path: Path) -> None:
    text = Path(PACK).read_text(encoding="utf-8")
    new_text = text.replace("score_min: {value: 60分", "score_min: {value: 70分", 1).replace(
        "- {at_least: 4%, below: 6%, points: 15}", "- {at_least: 4%, below: 6%, points: 20}", 1)
    assert new_text.count("70分") == 1 and "points: 20}" in new_text
    (tmp_path / "new.yaml").write_text(new_text, encoding="utf-8")
    old = load_pack2(PACK, AS_OF, {})
    new = load_pack2(str(tmp_path / "new.yaml"), AS_OF, {})
    result = diff_decisions2(old, new, [FIRMS])
    assert result["counts"]["outcome_changed"] == 1 and result["counts"]["transitions"] == {"fail→pass": 1}
    assert [p["name"] for p in result["pack_changes"]["parameters"]] == ["score_min"]
    assert result["pack_changes"]["values_changed"] == ["rd_points"]
    item = result["outcome_changes"][0]
    assert item["entity"]["id"] == "F2"
    causes = [c for c in item["criteria"] if c["cause"]]
    assert [c["id"] for c in causes] == ["innovation_ok"]
    assert causes[0]["why"] == "value innovation 15分 → 20分; definition changed: rd_points"
    assert {v["name"]: (v["old"], v["new"]) for v in item["values"]} == {
        "rd_points": ("15", "20"), "innovation": ("15", "20"), "score": ("65", "70")}
    assert changed_count2(result) == 1


def test_diff_of_a_ranked_pack_reports_places_and_awards(tmp_path: Path) -> None:
    text = Path(ZONES_PACK).read_text(encoding="utf-8")
    new_text = text.replace("- {at_least: 5000万元, points: 10}", "- {at_least: 5000万元, points: 4}", 1)
    assert new_text != text
    (tmp_path / "new.yaml").write_text(new_text, encoding="utf-8")
    date = dt.date(2024, 12, 31)
    result = diff_decisions2(load_pack2(ZONES_PACK, date, {}), load_pack2(str(tmp_path / "new.yaml"), date, {}), [ZONES])
    items = {i["entity"]["id"]: i for i in result["criteria_changes"]}
    # Z1 falls from 19 to 13 points: behind Z2 and Z3 (14), so third and no award
    assert items["Z1"]["place"] == {"old": 1, "new": 3}
    assert items["Z1"]["award"]["new"]["status"] == "none"
    assert items["Z2"]["place"] == {"old": 2, "new": 1}
    assert result["counts"]["outcome_changed"] == 0 and changed_count2(result) >= 3


# ---------------------------------------------------------------------------------------------
# the commands


def _cli(*args: str, code: int = 0) -> str:
    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.stdout


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_workers_on_the_command_line_change_nothing(fmt: str) -> None:
    base = ("evaluate", "--rules", PACK, FIRMS, "--as-of", "2024-06-30", "--format", fmt, "--what-it-takes")
    assert _cli(*base, "--workers", "2") == _cli(*base)


def test_diff_compares_a_format1_pack_with_its_format2_migration(tmp_path: Path) -> None:
    # both versions are read by the format-2 pipeline (the format-1 one converted on load): the
    # shipped format-2 Huguan pack, migrated from it, decides every town as it did
    out = _cli("diff", str(ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"),
               str(ROOT / "rules" / "huguan-specialized-town.yaml"), "--data", str(ROOT / "fixtures" / "huguan-towns.yaml"),
               "--as-of", "2024-06-30", "--lang", "en", "--fail-on-change")
    assert "0 of 27 entities change outcome" in out.splitlines()[0]
    # what the migration added is named: the choice that makes the relaxed path selectable
    assert "choice relaxed_path: None → available" in out


def test_diff_fails_on_a_changed_place_with_fail_on_change(tmp_path: Path) -> None:
    text = Path(ZONES_PACK).read_text(encoding="utf-8")
    (tmp_path / "new.yaml").write_text(text.replace("- {at_least: 5000万元, points: 10}",
                                                    "- {at_least: 5000万元, points: 4}", 1), encoding="utf-8")
    args = ("diff", ZONES_PACK, str(tmp_path / "new.yaml"), "--data", ZONES, "--as-of", "2024-12-31")
    _cli(*args)
    _cli(*args, "--fail-on-change", code=1)
    _cli("diff", ZONES_PACK, ZONES_PACK, "--data", ZONES, "--as-of", "2024-12-31", "--fail-on-change")
