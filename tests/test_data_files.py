"""Entity data files (CSV in UTF-8 / BOM / GBK, JSON, YAML) through load_pack + decide_files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from engine.compile.model import CompiledPack
from engine.evaluate.pipeline import load_pack
from engine.explain.batch import decide_files
from engine.core.problems import ERROR, WARNING, Problem, has_errors
from engine.load.yamlsafe import load_yaml_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PACK = ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"
AS_OF = dt.date(2024, 6, 30)
CSV_IDS = ["HG01", "HG02", "HG03", "HG05", "HG10", "HG17"]


@pytest.fixture(scope="module")
def pack() -> CompiledPack:
    compiled, warnings = load_pack(str(PACK), AS_OF)
    assert warnings == []
    return compiled


@pytest.fixture(scope="module")
def expected() -> dict[str, str]:
    """Hand-worked outcome of every town in huguan-towns.yaml, by id."""
    doc, _ = load_yaml_file(str(FIXTURES / "huguan-towns.yaml"))
    return {e["id"]: e["expect"]["outcome"] for e in doc.value["entities"]}


def decide(pack: CompiledPack, *files: Path | str, engine: str = "durable") -> tuple[list[dict[str, Any]], list[Problem]]:
    problems: list[Problem] = []
    records = list(decide_files(pack, [str(f) for f in files], engine, problems))
    return records, problems


def outcomes(records: list[dict[str, Any]]) -> dict[str, str]:
    return {r["entity"]["id"]: r["outcome"] for r in records}


def statuses(record: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in record["criteria"]}


def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["entity"]["id"]: r for r in records}


# ---------------------------------------------------------------------------- encodings


def test_csv_utf8_matches_hand_worked_outcomes(pack, expected):
    records, problems = decide(pack, FIXTURES / "huguan-towns.csv")
    assert problems == []
    assert [r["entity"]["id"] for r in records] == CSV_IDS
    assert outcomes(records) == {i: expected[i] for i in CSV_IDS}
    assert by_id(records)["HG01"]["entity"]["name"] == "青崖镇"


def test_gbk_file_really_is_gbk():
    raw = (FIXTURES / "huguan-towns-gbk.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    # same text (the GBK export has CRLF line ends, as Excel writes them)
    utf8 = (FIXTURES / "huguan-towns.csv").read_text(encoding="utf-8")
    assert raw.decode("gbk").splitlines() == utf8.splitlines()


def test_csv_gbk_and_bom_decide_identically_to_utf8(pack, tmp_path):
    utf8, p1 = decide(pack, FIXTURES / "huguan-towns.csv")
    gbk, p2 = decide(pack, FIXTURES / "huguan-towns-gbk.csv")
    bom_file = tmp_path / "huguan-towns-bom.csv"
    bom_file.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "huguan-towns.csv").read_bytes())
    bom, p3 = decide(pack, bom_file)
    assert p1 == p2 == p3 == []
    for other in (gbk, bom):
        assert [r["entity"]["id"] for r in other] == CSV_IDS  # the BOM did not eat the id column
        for a, b in zip(utf8, other):
            assert a["outcome"] == b["outcome"]
            assert statuses(a) == statuses(b)
            assert a["entity"]["name"] == b["entity"]["name"]  # Chinese names decoded correctly
            # same fields, so the same input hash
            assert a["record"]["input_sha256"] == b["record"]["input_sha256"]


def test_csv_plain_number_means_the_declared_unit(pack):
    records, _ = decide(pack, FIXTURES / "huguan-towns.csv")
    hg03 = by_id(records)["HG03"]
    test = next(c["test"] for c in hg03["criteria"] if c["id"] == "output_light_agri")
    assert test["value"] == "28000" and test["unit"] == "万元"


def test_csv_empty_cell_is_missing_and_undetermined(pack):
    records, _ = decide(pack, FIXTURES / "huguan-towns.csv")
    hg17 = by_id(records)["HG17"]
    assert hg17["outcome"] == "undetermined"
    assert statuses(hg17)["output_manufacturing"] == "unknown"
    assert any(m.get("input") == "lead_output" for m in hg17["missing_inputs"])


def test_json_file(pack, expected):
    records, problems = decide(pack, FIXTURES / "huguan-towns.json")
    assert problems == []
    assert outcomes(records) == {i: expected[i] for i in ("HG01", "HG11", "HG22")}
    hg11 = by_id(records)["HG11"]
    # the JSON integer 5000 is 5000万元: exactly at the relaxed boundary
    assert statuses(hg11)["relaxed_output"] == "met"
    assert statuses(hg11)["output_manufacturing"] == "not_met"
    # attestations given as evidence mappings are read
    hg22 = by_id(records)["HG22"]
    assert hg22["outcome"] == "pass"


def test_yaml_and_csv_agree_on_shared_ids(pack):
    yaml_records, problems = decide(pack, FIXTURES / "huguan-towns.yaml")
    assert problems == []
    csv_records, _ = decide(pack, FIXTURES / "huguan-towns.csv")
    yaml_by_id = by_id(yaml_records)
    for rec in csv_records:
        assert statuses(rec) == statuses(yaml_by_id[rec["entity"]["id"]])


# ---------------------------------------------------------------------------- bad rows


def test_bad_rows_are_reported_and_good_rows_still_decided(pack):
    records, problems = decide(pack, FIXTURES / "huguan-bad-rows.csv")
    bad = sorted((p.line, p.code, p.path) for p in problems if p.severity == ERROR)
    assert bad == [(3, "E131", "HB02"), (5, "E131", "HB04")]
    assert all(p.file == str(FIXTURES / "huguan-bad-rows.csv") for p in problems)
    messages = {p.path: p.message for p in problems}
    assert "lead_output" in messages["HB02"] and "十二亿" in messages["HB02"]
    assert "supporting_firms" in messages["HB04"] and "-3" in messages["HB04"]

    got = by_id(records)
    assert got["HB01"]["outcome"] == "pass"
    assert got["HB03"]["outcome"] == "pass"
    assert got["HB05"]["outcome"] == "fail"
    assert got["HB01"]["flags"][0]["status"] == "met"
    assert got["HB05"]["flags"][0]["status"] == "met"
    assert statuses(got["HB05"])["supporting_firm_count"] == "not_met"
    assert got["HB01"]["data_problems"] == [] and got["HB03"]["data_problems"] == []


def test_bad_values_are_not_guessed(pack):
    records, _ = decide(pack, FIXTURES / "huguan-bad-rows.csv")
    got = by_id(records)
    for ident, criterion in (("HB02", "output_manufacturing"), ("HB04", "supporting_firm_count")):
        rec = got.get(ident)
        if rec is None:
            continue  # skipping a bad row entirely is also acceptable
        assert rec["outcome"] != "pass"
        assert statuses(rec)[criterion] == "unknown"
        assert [p["code"] for p in rec["data_problems"]] == ["E131"]
        test = next(c["test"] for c in rec["criteria"] if c["id"] == criterion)
        assert test["value"] is None


# ---------------------------------------------------------------------------- empty files


@pytest.mark.parametrize(
    ("name", "content", "codes"),
    [
        ("empty.csv", b"", {"E133"}),
        ("header-only.csv", None, {"E133"}),
        ("empty.yaml", b"", {"E133", "E100"}),
        ("comments.yaml", b"# nothing here\n", {"E133", "E100"}),
        ("no-entities.yaml", b"entities: []\n", {"E133"}),
        ("empty.json", b"", {"E133", "E100"}),
    ],
)
def test_empty_files_are_reported_without_raising(pack, tmp_path, name, content, codes):
    path = tmp_path / name
    if content is None:
        content = (FIXTURES / "huguan-towns.csv").read_bytes().splitlines(keepends=True)[0]
    path.write_bytes(content)
    records, problems = decide(pack, path, FIXTURES / "huguan-towns.json")
    assert len(problems) == 1
    assert problems[0].code in codes
    assert problems[0].file == str(path)
    assert problems[0].severity == ERROR
    # the other file is still decided
    assert [r["entity"]["id"] for r in records] == ["HG01", "HG11", "HG22"]


def test_missing_file_is_reported_and_skipped(pack, tmp_path):
    records, problems = decide(pack, tmp_path / "absent.csv", FIXTURES / "huguan-towns.csv")
    assert [p.code for p in problems] == ["E100"]
    assert len(records) == len(CSV_IDS)


# ---------------------------------------------------------------------------- duplicate ids


def test_duplicate_ids_across_files_keep_the_first(pack, tmp_path):
    lines = (FIXTURES / "huguan-towns.csv").read_text(encoding="utf-8").splitlines()
    # HG01 again, now below every threshold, so keeping the wrong copy would change the outcome
    changed = lines[1].replace("12亿元", "100万元")
    assert changed != lines[1]
    second = tmp_path / "second.csv"
    second.write_text("\n".join([lines[0], changed, "HG99,新镇" + lines[2][len("HG02,砚池镇"):]]) + "\n", encoding="utf-8")
    records, problems = decide(pack, FIXTURES / "huguan-towns.csv", second)
    assert [(p.code, p.file, p.line) for p in problems] == [("E132", str(second), 2)]
    assert "HG01" in problems[0].message and "huguan-towns.csv:2" in problems[0].message
    ids = [r["entity"]["id"] for r in records]
    assert ids.count("HG01") == 1
    assert ids[-1] == "HG99"  # rows after the duplicate are still read
    hg01 = by_id(records)["HG01"]
    assert hg01["outcome"] == "pass"
    assert hg01["entity"]["source"].endswith("huguan-towns.csv:2")


def test_duplicate_id_within_one_file(pack, tmp_path):
    lines = (FIXTURES / "huguan-towns.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "dup.csv"
    path.write_text("\n".join([lines[0], lines[1], lines[2], lines[1]]) + "\n", encoding="utf-8")
    records, problems = decide(pack, path)
    assert [(p.code, p.line) for p in problems] == [("E132", 4)]
    assert [r["entity"]["id"] for r in records] == ["HG01", "HG02"]


# ---------------------------------------------------------------------------- unknown columns, wrong units


def test_misspelt_column_is_one_error_with_did_you_mean(pack, tmp_path):
    # Issue 10 item 6: one problem for the column (not one per row), and an error: a near-miss of
    # an input leaves every town undetermined, which must not pass as exit 0.
    text = (FIXTURES / "huguan-towns.csv").read_text(encoding="utf-8").replace(",lead_output,", ",lead_outptu,", 1)
    path = tmp_path / "typo.csv"
    path.write_text(text, encoding="utf-8")
    records, problems = decide(pack, path)
    assert [(p.code, p.line, p.col, p.severity) for p in problems] == [("E137", 1, 4, ERROR)]
    assert "did you mean 'lead_output'" in problems[0].message and "--allow-unknown-columns" in problems[0].message
    assert "lead_output" in problems[0].message_zh
    # the value under the misspelt name is not used: lead_output is missing; every row is decided
    assert len(records) == len(CSV_IDS)
    for rec in records:
        assert statuses(rec)["relaxed_output"] == "unknown"


def test_misspelt_column_allowed_explicitly_is_one_warning(pack, tmp_path):
    from engine.load.data import ReadOptions

    text = (FIXTURES / "huguan-towns.csv").read_text(encoding="utf-8").replace(",lead_output,", ",lead_outptu,", 1)
    path = tmp_path / "typo.csv"
    path.write_text(text, encoding="utf-8")
    problems: list[Problem] = []
    records = list(decide_files(pack, [str(path)], problems=problems, read=ReadOptions(allow_unknown_columns=True)))
    assert [(p.code, p.line, p.col, p.severity) for p in problems] == [("E130", 1, 4, WARNING)]
    assert not has_errors(problems) and len(records) == len(CSV_IDS)


def test_unrelated_unknown_column_is_one_warning_and_its_values_are_not_kept(pack, tmp_path):
    text = (FIXTURES / "huguan-towns.csv").read_text(encoding="utf-8").splitlines()
    text = [text[0] + ",备注"] + [line + ",见附件" for line in text[1:]]
    path = tmp_path / "extra.csv"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    records, problems = decide(pack, path)
    assert [(p.code, p.line, p.severity) for p in problems] == [("E130", 1, WARNING)]
    assert all("备注" not in r["entity"].get("fields", {}) for r in records)


def test_officers_id_and_name_headers_and_row_numbers(pack, tmp_path):
    text = (FIXTURES / "huguan-towns.csv").read_text(encoding="utf-8").splitlines()
    header = text[0].replace("id,name,", "编号,名称,", 1)
    lines = ["序号," + header] + [f"{i}," + line for i, line in enumerate(text[1:], 1)]
    path = tmp_path / "zh.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records, problems = decide(pack, path)
    assert problems == []
    assert [r["entity"]["id"] for r in records] == CSV_IDS
    plain, _ = decide(pack, FIXTURES / "huguan-towns.csv")
    assert outcomes(records) == outcomes(plain)
    assert [r["entity"]["name"] for r in records] == [r["entity"]["name"] for r in plain]


def test_duplicate_column_is_an_error_and_neither_copy_is_read(pack, tmp_path):
    text = (FIXTURES / "huguan-towns.csv").read_text(encoding="utf-8").splitlines()
    lines = [text[0] + ",lead_output"] + [line + ",99亿元" for line in text[1:]]
    path = tmp_path / "dup.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records, problems = decide(pack, path)
    width = text[0].count(",") + 2
    assert [(p.code, p.line, p.col, p.severity) for p in problems] == [("E135", 1, width, ERROR)]
    assert "column 4" in problems[0].message
    assert len(records) == len(CSV_IDS)
    assert all(statuses(r)["relaxed_output"] == "unknown" for r in records)


def test_area_where_money_is_expected_is_e131_and_unknown(pack, tmp_path):
    text = (FIXTURES / "huguan-towns.csv").read_text(encoding="utf-8").replace(",12亿元,", ",50亩,", 1)
    path = tmp_path / "mu.csv"
    path.write_text(text, encoding="utf-8")
    records, problems = decide(pack, path)
    assert [(p.code, p.line, p.path, p.severity) for p in problems] == [("E131", 2, "HG01", ERROR)]
    assert "50亩" in problems[0].message
    hg01 = by_id(records)["HG01"]
    assert hg01["outcome"] != "pass"
    assert statuses(hg01)["output_manufacturing"] == "unknown"
    assert statuses(hg01)["relaxed_output"] == "unknown"
    # the other rows are unaffected
    assert by_id(records)["HG02"]["outcome"] == "pass"


def test_yaml_data_with_unknown_field_and_bad_value(pack, tmp_path):
    path = tmp_path / "towns.yaml"
    path.write_text(
        "entities:\n"
        "  - id: T1\n"
        "    lead_category: manufacturing\n"
        "    lead_output: 12亿元\n"
        "    leading_firm: 2\n"  # misspelt
        "    supporting_firms: many\n",
        encoding="utf-8",
    )
    records, problems = decide(pack, path)
    found = sorted((p.code, p.line, p.severity) for p in problems)
    assert found == [("E131", 6, ERROR), ("E137", 5, ERROR)]  # a near-miss of an input is an error
    assert "did you mean 'leading_firms'" in next(p.message for p in problems if p.code == "E137")
    assert len(records) == 1 and records[0]["outcome"] != "pass"


def test_entity_without_id_is_skipped(pack, tmp_path):
    path = tmp_path / "noid.yaml"
    path.write_text("- name: 无名镇\n  lead_category: manufacturing\n- id: T2\n  lead_output: 1亿元\n", encoding="utf-8")
    records, problems = decide(pack, path)
    assert [(p.code, p.line) for p in problems] == [("E131", 1)]
    assert [r["entity"]["id"] for r in records] == ["T2"]


def test_problems_in_json_data_point_at_their_line(tmp_path):
    import datetime as dt

    from engine.evaluate.pipeline import load_pack
    from engine.explain.batch import decide_files

    data = tmp_path / "towns.json"
    data.write_text('{"entities": [\n  {"id": "J1", "lead_output": "12亿元"},\n  {"id": "J2",\n'
                    '   "lead_output": "十二亿"},\n  {"id": "J1"}\n]}\n', encoding="utf-8")
    pack, _ = load_pack("tests/format1/rules/huguan-specialized-town.yaml", dt.date(2024, 6, 30))
    problems: list = []
    records = list(decide_files(pack, [str(data)], problems=problems))
    assert [r["entity"]["id"] for r in records] == ["J1", "J2"]
    assert records[1]["entity"]["source"].endswith("towns.json:3")
    lines = {p.code: p.line for p in problems}
    assert lines == {"E131": 4, "E132": 5}
