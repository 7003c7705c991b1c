"""The data readers lose nothing silently (issue 11 item 2, 7, 8; issue 10 items 6, 7): stray CSV
quotes, duplicate headers and keys, encodings, unknown columns, unreadable JSON values, limits."""

from __future__ import annotations

import datetime as dt
import io
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from engine.load.data import (MAX_CSV_COLUMNS, MAX_RECORD_CHARS, MAX_RECORD_LINES, PLAUSIBLE_SHARE, ReadOptions,
                         _gb_plausibility, load_entities, map_header)
from engine.evaluate.pipeline import load_pack
from engine.explain.batch import decide_files
from engine.core.problems import ERROR, WARNING, ProblemsError
from engine.core.units import AmountError, parse_amount, parse_unit

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_CSV = (ROOT / "fixtures" / "huguan-towns.csv").read_text(encoding="utf-8")
HEADER, ROW = FIXTURE_CSV.splitlines()[:2]
# Traditional Chinese as a Big5 export from Taiwan or Hong Kong would hold it.
TRADITIONAL = ("編號,名稱,lead_output\nHG01,青崖鎮,12億元\nHG02,長治市產業發展區,3億元\n"
               "HG03,製造業鄉鎮,1億元\nHG04,壺關縣龍泉鎮,5億元\n")


@pytest.fixture(scope="module")
def pack() -> Any:
    return load_pack(str(ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"), dt.date(2024, 6, 30))[0]


def load(path: Path, **options: Any) -> tuple[list[Any], list[Any]]:
    problems: list[Any] = []
    entities: list[Any] = []
    try:
        for entity in load_entities(str(path), problems, ReadOptions(**options)):
            entities.append(entity)
    except ProblemsError as error:
        problems.extend(error.problems)
    return entities, problems


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def where(problems: list[Any]) -> list[tuple[str, int]]:
    return [(p.code, p.line) for p in problems]


# ------------------------------------------------------------------------ stray quotes


def thousand_rows(stray_at: int) -> str:
    rest = ROW.split(",", 1)[1]
    rows = [f"T{i:04d},{rest}" for i in range(1, 1001)]
    rows[stray_at - 1] = '"' + rows[stray_at - 1]
    return "\n".join([HEADER] + rows) + "\n"


@pytest.mark.parametrize("stray_at", [3, 998, 1000])
def test_a_stray_quote_costs_its_row_only(pack: Any, tmp_path: Path, stray_at: int):
    path = write(tmp_path, "towns.csv", thousand_rows(stray_at))
    problems: list[Any] = []
    records = list(decide_files(pack, [str(path)], problems=problems))
    assert len(records) == 999 and all(r["outcome"] == "pass" for r in records)
    assert f"T{stray_at:04d}" not in {r["entity"]["id"] for r in records}
    assert where(problems) == [("E134", stray_at + 1)]  # the line where the quote opened
    assert problems[0].message_zh and "引号" in problems[0].message_zh


def test_quoted_cells_spanning_lines_are_read_as_excel_writes_them(tmp_path: Path):
    text = ('id,name,lead_output\nT1,"青崖镇\n（东区）",5亿元\nT2,"a ""quoted"" name",3亿元\n'
            'T3,"two\r\nline breaks\r\nhere",1亿元\n"T4",plain,2亿元\n')
    entities, problems = load(write(tmp_path, "towns.csv", text))
    assert problems == []
    assert [(e.id, e.name, e.line) for e in entities] == [
        ("T1", "青崖镇\n（东区）", 2), ("T2", 'a "quoted" name', 4), ("T3", "two\r\nline breaks\r\nhere", 5),
        ("T4", "plain", 8)]
    assert entities[0].positions["lead_output"] == (2, 3)  # a multi-line record points at its first line


def test_problems_in_a_multi_line_record_point_at_its_first_line(pack: Any, tmp_path: Path):
    text = 'id,name,lead_output\nT1,"青崖镇\n东区\n西区",十二亿\nT2,砚池镇,3亿元\n'
    problems: list[Any] = []
    records = list(decide_files(pack, [str(write(tmp_path, "towns.csv", text))], problems=problems))
    assert [r["entity"]["id"] for r in records] == ["T1", "T2"]
    assert [(p.code, p.line, p.col) for p in problems] == [("E131", 2, 3)]


@pytest.mark.parametrize("closes_at", [4, 10, 90])
def test_a_stray_quote_that_meets_a_later_quote_costs_its_row_only(pack: Any, tmp_path: Path, closes_at: int):
    # Row 3's name opens a quote and row `closes_at`'s name closes one: the record between them has
    # exactly the header's cells, but the rows swallowed in between would be decided as one town.
    rest = ROW.split(",", 2)[2]
    rows = [f"T{i:04d},镇{i},{rest}" for i in range(1, 1001)]
    rows[2] = rows[2].replace(",镇3,", ',"镇3,')
    rows[closes_at - 1] = rows[closes_at - 1].replace(f",镇{closes_at},", f',镇{closes_at}",')
    problems: list[Any] = []
    records = list(decide_files(pack, [str(write(tmp_path, "towns.csv", "\n".join([HEADER] + rows) + "\n"))],
                                problems=problems))
    assert len(records) == 999 and "T0003" not in {r["entity"]["id"] for r in records}
    assert where(problems) == [("E134", 4)]


@pytest.mark.parametrize("cut", [1, 5])
def test_a_short_row_is_refused_not_padded(pack: Any, tmp_path: Path, cut: int):
    lines = FIXTURE_CSV.splitlines()
    lines[2] = ",".join(lines[2].split(",")[:-cut])
    problems: list[Any] = []
    records = list(decide_files(pack, [str(write(tmp_path, "towns.csv", "\n".join(lines) + "\n"))], problems=problems))
    assert len(records) == len(lines) - 2 and lines[2].split(",")[0] not in {r["entity"]["id"] for r in records}
    assert where(problems) == [("E131", 3)] and problems[0].refused_row


def test_a_multi_line_record_short_of_cells_is_a_stray_quote(tmp_path: Path):
    # Excel writes every cell of a row; a quoted cell that closes lines later in a record with
    # fewer cells than the header is a stray quote that happened to meet another quote.
    text = 'id,name,lead_output\n"T1,x,1\nT2,y,2\nT3,"z",3\nT4,w,4\n'
    entities, problems = load(write(tmp_path, "towns.csv", text))
    assert [e.id for e in entities] == ["T2", "T3", "T4"]
    assert where(problems) == [("E134", 2)]


def test_a_quote_open_for_more_than_the_line_bound_is_stray(tmp_path: Path):
    lines = "\n".join(f"line {i}" for i in range(MAX_RECORD_LINES + 5))
    text = f'id,name,lead_output\nT1,"{lines}",1\nT2,y,2\n'
    entities, problems = load(write(tmp_path, "towns.csv", text))
    assert where(problems)[0] == ("E134", 2)
    assert "T2" in [e.id for e in entities]


# ------------------------------------------------------------------------ headers


def test_map_header_accepts_officers_headers_and_reports_duplicates(pack: Any):
    label = pack.inputs["lead_output"].label["zh"]
    mapped = map_header(["序号", "编号", "名称", label, "lead_output", "", "heritage.by"], "t.csv",
                        options=ReadOptions(pack=pack))
    assert mapped.keys == [None, "id", "name", None, None, None, "heritage.by"]
    assert [(p.code, p.line, p.col) for p in mapped.problems] == [("E135", 1, 5)]
    with pytest.raises(ProblemsError) as caught:
        map_header(["id", "编号", "x"], "t.csv")
    assert [p.code for p in caught.value.problems] == ["E135"]
    with pytest.raises(ProblemsError) as caught:
        map_header(["序号", "名称"], "t.csv")
    assert [p.code for p in caught.value.problems] == ["E111"]


def test_unknown_columns_are_reported_once_each_and_then_counted(pack: Any, tmp_path: Path):
    n = MAX_CSV_COLUMNS - 3
    header = ",".join(["id", "name", "lead_output"] + [f"extra_{i}" for i in range(n)])
    row = ",".join(str(i) for i in range(n))
    text = header + "\n" + "".join(f"T{r},镇,1亿元,{row}\n" for r in range(20))
    tracemalloc.start()
    try:
        entities, problems = load(write(tmp_path, "wide.csv", text), pack=pack)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(entities) == 20 and all(list(e.fields) == ["lead_output"] for e in entities)
    assert [p.code for p in problems] == ["E130"] * 21 and all(p.severity == WARNING for p in problems)
    assert str(n - 20) in problems[-1].message
    assert peak < 40 * 1024 * 1024  # unknown columns' values are not kept per row


def test_a_header_over_the_column_limit_is_refused(tmp_path: Path):
    header = ",".join(["id"] + [f"c{i}" for i in range(MAX_CSV_COLUMNS)])
    entities, problems = load(write(tmp_path, "wide.csv", header + "\nT1\n"))
    assert entities == [] and where(problems) == [("E138", 1)]


def test_a_line_over_the_record_limit_is_skipped_without_holding_it(tmp_path: Path):
    text = "id,lead_output\nT1," + "9" * (MAX_RECORD_CHARS * 4) + "\nT2,5\n"
    path = write(tmp_path, "long.csv", text)
    tracemalloc.start()
    try:
        entities, problems = load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e.id for e in entities] == ["T2"] and where(problems) == [("E138", 2)]
    assert peak < 3 * MAX_RECORD_CHARS * 4  # a few record-sized buffers, not the 4 MiB line


# ------------------------------------------------------------------------ encodings


def test_gb18030_is_plausible_and_big5_is_not():
    # Real bytes from Python's codecs: simplified text as GB18030 is common characters; the
    # traditional text's Big5 bytes read as GB18030 are mostly rare ones.
    assert _gb_plausibility(io.BytesIO(FIXTURE_CSV.encode("gb18030"))) > 0.99
    assert _gb_plausibility(io.BytesIO(TRADITIONAL.encode("big5"))) < PLAUSIBLE_SHARE - 0.2
    assert _gb_plausibility(io.BytesIO(FIXTURE_CSV.encode("utf-8"))) < 0.1


def test_gb18030_file_is_read_without_being_asked(tmp_path: Path):
    entities, problems = load(write(tmp_path, "towns.csv", FIXTURE_CSV.encode("gb18030")))
    utf8, _ = load(write(tmp_path, "utf8.csv", FIXTURE_CSV))
    assert problems == [] and [(e.id, e.name) for e in entities] == [(e.id, e.name) for e in utf8]


def test_big5_file_is_refused_as_doubtful_and_read_when_named(tmp_path: Path):
    path = write(tmp_path, "towns.csv", TRADITIONAL.encode("big5"))
    entities, problems = load(path)
    assert entities == [] and where(problems) == [("E136", 1)]
    assert "--encoding big5" in problems[0].message and "--encoding big5" in problems[0].message_zh
    entities, problems = load(path, encoding="big5")
    assert problems == [] and [e.name for e in entities] == ["青崖鎮", "長治市產業發展區", "製造業鄉鎮", "壺關縣龍泉鎮"]


def test_big5_amounts_in_traditional_units_are_read(pack: Any, tmp_path: Path):
    problems: list[Any] = []
    records = list(decide_files(pack, [str(write(tmp_path, "towns.csv", TRADITIONAL.encode("big5")))],
                                problems=problems, read=ReadOptions(encoding="big5")))
    assert problems == [] and len(records) == 4
    assert records[0]["criteria"]  # decided, with 12億元 read as 12亿元
    assert parse_amount("12億元", None)[0] == parse_amount("12亿元", None)[0]


def test_utf8_file_with_one_gbk_row_is_refused_at_its_first_bad_byte(tmp_path: Path):
    head = (HEADER + "\n" + ROW + "\n").encode("utf-8")
    content = head + "HG02,黎城镇,manufacturing\n".encode("gbk") + (ROW + "\n").encode("utf-8")
    entities, problems = load(write(tmp_path, "towns.csv", content))
    assert entities == [] and where(problems) == [("E136", 3)]
    assert f"byte {len(head) + 5} " in problems[0].message and "--encoding" in problems[0].message


def test_a_named_encoding_is_honoured_and_checked(tmp_path: Path):
    path = write(tmp_path, "towns.csv", "id,name\nT1,壶关镇\n")
    entities, problems = load(path, encoding="utf-8")
    assert problems == [] and entities[0].name == "壶关镇"
    entities, problems = load(path, encoding="ascii")
    assert where(problems) == [("E136", 2)] and "byte 11 " in problems[0].message
    entities, problems = load(path, encoding="no-such-codec")
    assert [p.code for p in problems] == ["E136"] and "utf-8" in problems[0].message


def test_json_and_yaml_honour_the_encoding_too(tmp_path: Path):
    names = ["青崖鎮", "長治市產業發展區", "製造業鄉鎮", "壺關縣龍泉鎮"]
    text = "[" + ",\n".join(f'{{"id": "T{i}", "name": "{n}"}}' for i, n in enumerate(names)) + "]"
    path = write(tmp_path, "towns.json", text.encode("big5"))
    assert [p.code for p in load(path)[1]] == ["E136"]
    entities, problems = load(path, encoding="big5")
    assert problems == [] and [e.name for e in entities] == names


# ------------------------------------------------------------------------ JSON


def test_json_values_that_cannot_be_read_cost_that_field_only(tmp_path: Path):
    text = ('[\n {"id": "J1", "lead_output": ' + "9" * 5000 + '},\n'
            ' {"id": "J2", "name": "\\ud800"},\n'
            ' {"id": "J3", "lead_output": NaN, "leading_firms": -Infinity},\n'
            ' {"id": "J4", "lead_output": "5\\u0000"},\n'
            ' {"id": "J5", "lead_output": "5亿元"}\n]\n')
    entities, problems = load(write(tmp_path, "towns.json", text))
    assert [(e.id, sorted(e.fields), e.name) for e in entities] == [
        ("J1", [], None), ("J2", [], None), ("J3", [], None), ("J4", [], None), ("J5", ["lead_output"], None)]
    assert [(p.code, p.line) for p in problems] == [("E139", 2), ("E139", 3), ("E139", 4), ("E139", 4), ("E139", 5)]
    assert all(p.message_zh for p in problems)


def test_json_duplicate_keys_are_errors_at_their_position(tmp_path: Path):
    text = ('{"entities": [\n {"id": "J1",\n  "lead_output": "1亿元",\n  "lead_output": "9亿元"},\n'
            ' {"id": "J2", "m": {"k": 1, "k": 2}, "lead_output": "2亿元"},\n {"id": "J3", "id": "J4"}\n]}\n')
    entities, problems = load(write(tmp_path, "towns.json", text))
    assert [(e.id, sorted(e.fields)) for e in entities] == [("J1", []), ("J2", ["lead_output"])]
    assert [(p.code, p.line, p.col) for p in problems if p.code == "E135"] == [("E135", 4, 3), ("E135", 5, 2),
                                                                                ("E135", 6, 15)]
    assert "line 3" in problems[0].message


def test_one_bad_json_entity_does_not_lose_the_others(tmp_path: Path):
    text = ('[\n {"id": "J1", "x": ' + "[" * 5000 + "]" * 5000 + '},\n {"id": "J2", "lead_output": tru},\n'
            ' {"id": "J3"}\n]\n')
    entities, problems = load(write(tmp_path, "towns.json", text))
    assert [e.id for e in entities] == ["J3"]
    assert [(p.code, p.line) for p in problems] == [("E103", 2), ("E101", 3)]


def test_json_text_that_cannot_be_followed_keeps_the_entities_before_it(tmp_path: Path):
    text = '[\n {"id": "J1"},\n {"id": "J2"}\n'  # the list is never closed
    problems: list[Any] = []
    got = []
    with pytest.raises(ProblemsError) as caught:
        for entity in load_entities(str(write(tmp_path, "towns.json", text)), problems):
            got.append(entity.id)
    assert got == ["J1", "J2"] and [p.code for p in caught.value.problems] == ["E101"]


# ------------------------------------------------------------------------ values


def test_scientific_notation_is_refused_with_the_number_written_out():
    with pytest.raises(AmountError) as caught:
        parse_amount("1e9元", parse_unit("万元"))
    assert "write 10亿元 or 1000000000元" in str(caught.value) and "10亿元 或 1000000000元" in caught.value.zh
    with pytest.raises(AmountError) as caught:
        parse_amount("1.23E+09", parse_unit("元"))
    assert "1230000000" in str(caught.value)
    with pytest.raises(AmountError):
        parse_amount("1e999999999元", None)  # refused before any big number is built


def test_unknown_fields_in_json_are_reported_once_per_file(pack: Any, tmp_path: Path):
    items = ",\n".join(f'{{"id": "J{i}", "remark": "x", "leading_firm": 2}}' for i in range(50))
    entities, problems = load(write(tmp_path, "towns.json", f"[\n{items}\n]\n"), pack=pack)
    assert len(entities) == 50
    assert sorted((p.code, p.severity) for p in problems) == [("E130", WARNING), ("E137", ERROR)]
