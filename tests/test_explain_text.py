"""How explanations read: what happened and what was required, one headline per decision, titles
that follow the threshold in force, no internal ids in Chinese, short and full views."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from engine.explain.records import describe_test
from engine.evaluate.pipeline import load_pack
from engine.report.text import render_text
from engine.validate.validate import validate_file
from engine.load.yamlsafe import load_yaml_file

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"
TOWNS = ROOT / "fixtures" / "huguan-towns.yaml"


def evaluate(*args: Any) -> Any:
    result = CliRunner().invoke(main, ["evaluate", *[str(a) for a in args]], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def huguan(*options: str) -> str:
    return evaluate("--rules", PACK, TOWNS, "--as-of", "2024-06-30", *options).stdout


# ------------------------------------------------------------------ comparisons read as facts


def test_a_failed_comparison_says_what_happened_and_what_was_required(decide, town, criterion_of):
    town["lead_output"] = "99999万元"
    record = decide(town)
    test = criterion_of(record, "output_manufacturing")["test"]
    assert describe_test(test, "not_met", "zh") == "99,999万元 < 10亿元 (要求 ≥ 10亿元), 差 1万元"
    assert describe_test(test, "not_met", "en") == "99,999万元 < 10亿元 (required ≥ 10亿元), short by 1万元"


def test_met_and_unknown_comparisons(decide, town, criterion_of):
    met = criterion_of(decide(town), "output_manufacturing")
    assert describe_test(met["test"], met["status"], "zh") == "120,000万元 ≥ 10亿元"
    del town["lead_output"]
    unknown = criterion_of(decide(town), "output_manufacturing")
    assert describe_test(unknown["test"], unknown["status"], "zh") == "未提供 (要求 ≥ 10亿元)"
    assert describe_test(unknown["test"], unknown["status"], "en") == "not given (required ≥ 10亿元)"


def test_enum_boolean_and_attestation_failures_say_what_was_required(decide, town, criterion_of):
    town["lead_category"] = "specialty_agriculture"
    town["heritage"] = "否"
    record = decide(town)
    heritage = criterion_of(record, "heritage")
    assert describe_test(heritage["test"], "not_met", "zh") == "认定意见:否 (要求 是)"
    assert describe_test(heritage["test"], "not_met", "en") == "attested: no (required yes)"
    # the case condition on the category, rendered as a test the way a criterion on it would be
    case = {"operator": "in", "value": "specialty_agriculture", "value_label": {"zh": "特优农业", "en": "specialty agriculture"},
            "value_labels": [{"zh": "制造业", "en": "manufacturing"}]}
    assert describe_test(case, "not_met", "zh") == "特优农业 ∉ {制造业} (要求 ∈ {制造业})"
    assert describe_test(case, "met", "zh").startswith("特优农业 ∈")
    boolean = {"operator": "is_true", "value": False}
    assert describe_test(boolean, "not_met", "zh") == "否 (要求 是)"
    assert describe_test({"operator": "is_true", "value": None}, "unknown", "en") == "not given (required yes)"


DATED = """\
format: 1
pack:
  id: dated-title-pack
  version: "1.0.0"
  kind: eligibility
  entity: firm
  effective: "2023-01-01"
  title: {zh: 日期与分段标准测试, en: dated test pack}
  source: {title: 测试, number: 测试〔2024〕2号, date: "2023-01-01", seed: none.txt}
inputs:
  output: {type: money, unit: 万元, label: {zh: 年产值, en: output}}
  founded: {type: date, label: {zh: 成立日期, en: founded}}
  lab: {type: boolean, label: {zh: 设有研发机构, en: has a lab}}
parameters:
  output_min:
    values:
      - {since: "2023-01-01", value: 2亿元}
      - {since: "2024-01-01", value: 1.5亿元}
    cite: 二(一)
    label: {zh: 年产值下限, en: minimum output}
  founded_before: {value: "2020-01-01", cite: 二(二), label: {zh: 成立日期上限, en: founded before}}
criteria:
  id: root
  title: {zh: 条件, en: conditions}
  cite: 二
  all:
    - id: output_ok
      cite: 二(一)
      title: {zh: "年产值达到{output_min}以上", en: "output at least {output_min}"}
      test: {input: output, op: ">=", param: output_min}
    - id: old_enough
      cite: 二(二)
      title: {zh: "{founded_before}前成立", en: "founded before {founded_before}"}
      test: {input: founded, op: "<", param: founded_before}
    - id: has_lab
      cite: 二(三)
      title: {zh: 设有研发机构, en: has a lab}
      test: {input: lab, op: is_true}
"""


@pytest.fixture
def dated_pack(tmp_path: Path) -> Path:
    path = tmp_path / "dated.yaml"
    path.write_text(DATED, encoding="utf-8")
    return path


def firm(tmp_path: Path, **fields: Any) -> Path:
    path = tmp_path / "firm.json"
    path.write_text(json.dumps({"id": "F1", "name": "甲公司", **fields}, ensure_ascii=False), encoding="utf-8")
    return path


def test_dates_show_as_dates_and_gaps_in_days(dated_pack: Path, tmp_path: Path):
    data = firm(tmp_path, output="3亿元", founded="2020-03-01", lab=True)
    record = json.loads(evaluate("--rules", dated_pack, data, "--as-of", "2024-06-30", "--format", "json").stdout)
    decision = record["decisions"][0]
    founded = next(c for c in decision["criteria"] if c["id"] == "old_enough")
    # the format-1 pack is read as format 2: the record keeps the dates as dates, the gap in days
    assert founded["test"] == {"name": "founded", "op": "<", "value": "2020-03-01", "unit": None,
                               "threshold": "2020-01-01", "param": "founded_before", "gap": "60"}
    assert decision["headline"]["zh"] == ("不通过：二(二) 2020-01-01前成立：2020-03-01 ≥ 2020-01-01 (要求 < 2020-01-01)，"
                                          "晚 60 天")
    assert decision["headline"]["en"].endswith("(required < 2020-01-01), 60 days too late")
    text = evaluate("--rules", dated_pack, data, "--as-of", "2024-06-30").stdout
    assert "✘ 二(二) 2020-01-01前成立: 不满足（2020-03-01 ≥ 2020-01-01，须 < 2020-01-01，晚 60 天）" in text


def test_titles_follow_the_dated_value_in_force(dated_pack: Path, tmp_path: Path):
    data = firm(tmp_path, output="1.8亿元", founded="2019-03-01", lab=False)
    before = evaluate("--rules", dated_pack, data, "--as-of", "2023-06-30").stdout
    after = evaluate("--rules", dated_pack, data, "--as-of", "2024-06-30").stdout
    assert "✘ 二(一) 年产值达到2亿元以上: 不满足（18,000万元 < 2亿元，须 ≥ 2亿元，差 2,000万元）" in before
    assert "✔ 二(一) 年产值达到1.5亿元以上: 满足（18,000万元 ≥ 1.5亿元）" in after
    assert "1.5亿元" not in before and "2亿元" not in after
    assert "✘ 二(三) 设有研发机构: 不满足" in after


def test_titles_follow_a_set_override():
    text = huguan("--set", "manufacturing_output_min=8亿元", "--full")
    assert "✔ 二(四) 制造业类产值达到8亿元以上: 满足（99,999万元 ≥ 8亿元）" in text
    assert "10亿元" not in text  # no title still quotes the number that was replaced
    english = huguan("--set", "manufacturing_output_min=8亿元", "--full", "--lang", "en")
    assert "manufacturing output at least 8亿元: met (99,999万元 ≥ 8亿元)" in english
    assert "at least 10 supporting firms" in english  # counts read without a measure word in English


def test_an_unknown_title_placeholder_is_E120_with_did_you_mean(tmp_path: Path):
    path = tmp_path / "typo.yaml"
    path.write_text(DATED.replace("{output_min}以上", "{output_mn}以上"), encoding="utf-8")
    problems = validate_file(str(path))[2]
    found = [p for p in problems if p.code == "E120"]
    assert len(found) == 1, problems
    line = DATED.splitlines().index(next(l for l in DATED.splitlines() if "{output_min}以上" in l)) + 1
    assert found[0].line == line
    assert "output_min" in found[0].message and "did you mean" in found[0].message
    assert "{output_min}" in found[0].message_zh


# ------------------------------------------------------------------ headlines


def test_every_decision_has_a_headline_in_the_record():
    data = json.loads(huguan("--format", "json"))
    by_id = {d["id"]: d for d in data["decisions"]}
    for d in data["decisions"]:
        assert set(d["headline"]) == {"zh", "en"}
        word = {"pass": "通过", "fail": "不通过：", "undetermined": "无法判定："}[d["outcome"]]
        assert d["headline"]["zh"].startswith(word), d["headline"]
    assert by_id["HG05"]["headline"]["zh"] == (
        "不通过：二(四) 制造业类产值达到10亿元以上：99,999万元 < 10亿元 (要求 ≥ 10亿元)，差 1万元；"
        "另一途径 二(四) 传统特色专业镇放宽认定(年产值不少于5000万元) 亦不满足")
    assert by_id["HG05"]["headline"]["en"].startswith(
        "FAIL: 二(四) manufacturing output at least 10亿元: 99,999万元 < 10亿元 (required ≥ 10亿元), short by 1万元")
    # the standard path is named first, then the relaxed (discretionary) alternative that also failed
    assert by_id["HG12"]["headline"]["zh"].startswith("不通过：二(四) 制造业类产值")
    assert by_id["HG21"]["headline"]["zh"] == ("无法判定：二(四) 按类别的产值标准：缺少 主导产业类别；"
                                               "另一途径 二(四) 传统特色专业镇放宽认定(年产值不少于5000万元) 亦不满足")
    assert by_id["HG19"]["headline"]["zh"] == "无法判定：二(三) 市场需求较大：未提供认定意见"


def test_a_headline_counts_the_other_failures_and_bounds_the_missing_list(decide, town):
    town["heritage"] = "否"
    town["environment"] = "否"
    town["lead_output"] = "1亿元"
    headline = decide(town)["headline"]
    assert headline["zh"] == "不通过：二(一) 历史传承厚重，认定意见:否；另有 2 项条件不满足"
    empty = decide({})
    assert re.fullmatch(r"无法判定：缺少 .+ 等 \d+ 项", empty["headline"]["zh"]), empty["headline"]
    assert empty["headline"]["zh"].count("、") == 2  # three named, then the count


# ------------------------------------------------------------------ no internal ids in Chinese


def test_chinese_output_shows_no_internal_id_or_english_key():
    doc, _ = load_yaml_file(str(PACK))
    pack = doc.value
    ids: set[str] = set(pack["inputs"]) | set(pack["parameters"]) | {f["id"] for f in pack["flags"]}

    def walk(node: dict[str, Any]) -> None:
        ids.add(node["id"])
        for child in node.get("all", []) + node.get("any", []):
            walk(child)
        for case in node.get("cases", []):
            walk(case["then"])
            for v in case["when"].get("values", []):
                ids.add(v)

    walk(pack["criteria"])
    for text in (huguan("--full"), huguan(), huguan("--full", "--set", "manufacturing_output_min=8亿元")):
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
        assert not (words & ids), sorted(words & ids)
        assert "reference evaluator" not in text and "override" not in text


# ------------------------------------------------------------------ short and full views


def test_batches_default_to_one_line_per_entity_and_full_on_request():
    short, full = huguan(), huguan("--full")
    assert len(short.splitlines()) == 27 + 3  # header, 27 towns, hint, total
    assert len(full.splitlines()) > 20 * 27
    assert huguan("--summary") == short
    assert "✘ 二(四) 制造业类产值达到10亿元以上: 不满足（99,999万元 < 10亿元，须 ≥ 10亿元，差 1万元）" in full


def test_render_text_is_a_pure_view_of_records(huguan_pack, decide, town):
    records = [decide(town, entity_id="A"), decide(town, entity_id="B")]
    out = io.StringIO()
    render_text(records, out, "zh", view="full")
    assert out.getvalue().count("✔ 二(一) 历史传承厚重") == 2
    one = io.StringIO()
    render_text(records[:1], one, "zh")  # auto: one entity gets the full tree
    assert "✔ 二(一) 历史传承厚重" in one.getvalue()


def test_dated_pack_loads(dated_pack: Path):
    pack, _ = load_pack(str(dated_pack), dt.date(2023, 6, 30))
    node = pack.node("output_ok")
    assert node.title == {"zh": "年产值达到2亿元以上", "en": "output at least 2亿元"}
