"""Spreadsheets: XLSX in (label or id headers), XLSX and CSV out, bad rows, atomic files."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from typing import Any

import pytest
import yaml

openpyxl = pytest.importorskip("openpyxl")

from engine.data import load_entities  # noqa: E402
from engine.pipeline import decide_files  # noqa: E402
from engine.spreadsheet import write_entities_xlsx  # noqa: E402

from conftest import HUGUAN_PACK, HUGUAN_TOWNS, ROOT  # noqa: E402


def _towns() -> list[dict[str, Any]]:
    return yaml.safe_load(HUGUAN_TOWNS.read_text(encoding="utf-8"))["entities"]


def _label_headers(pack: Any, every: int = 2) -> dict[str, str]:
    """Every other input by its Chinese label, the rest by English label or id."""
    headers = {}
    for i, (name, spec) in enumerate(pack.inputs.items()):
        if i % 3 == 0:
            headers[name] = spec.label["zh"]
        elif i % 3 == 1:
            headers[name] = spec.label["en"]
    return headers


def _statuses(records: list[dict[str, Any]]) -> dict[str, tuple[str, dict[str, str]]]:
    return {r["entity"]["id"]: (r["outcome"], {c["id"]: c["status"] for c in r["criteria"]}) for r in records}


def test_fixture_batch_round_trips_through_xlsx(tmp_path, huguan_pack):
    path = tmp_path / "towns.xlsx"
    write_entities_xlsx(_towns(), str(path), _label_headers(huguan_pack))
    header = [c.value for c in next(openpyxl.load_workbook(path).active.iter_rows())]
    assert "主导产业类别" in header and "lead-industry annual output" in header  # labels, not ids
    problems: list[Any] = []
    from_xlsx = list(decide_files(huguan_pack, [str(path)], "durable", problems))
    from_yaml = list(decide_files(huguan_pack, [str(HUGUAN_TOWNS)], "durable", []))
    assert problems == []
    assert len(from_xlsx) == 27
    assert _statuses(from_xlsx) == _statuses(from_yaml)
    expected = {t["id"]: t["expect"]["outcome"] for t in _towns()}
    assert {r["entity"]["id"]: r["outcome"] for r in from_xlsx} == expected
    assert from_xlsx[0]["entity"]["source"] == f"{path}:2"


def test_xlsx_cells_keep_exact_values_and_bad_rows_are_reported(tmp_path, huguan_pack):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([])  # a blank row before the header is skipped
    sheet.append(["id", "name", "主导产业类别", "特色主导产业年产值", "leading_firms", "supporting_firms", "heritage",
                  "heritage.by"])
    sheet.append(["A1", "甲镇", "制造业", 100000, 2, 15.0, "是", "县工信局"])
    sheet.append(["A2", "乙镇", "manufacturing", 99999.5, -3, 15, True, None])
    sheet.append([None, "无编号", "制造业", 1, 1, 1, "是", None])
    sheet.append(["A4", "丁镇", "制造业", "十二亿", 1, 10, "否", None])
    path = tmp_path / "bad.xlsx"
    book.save(path)
    problems: list[Any] = []
    records = {r["entity"]["id"]: r for r in decide_files(huguan_pack, [str(path)], "reference", problems)}
    assert set(records) == {"A1", "A2", "A4"}  # the row without an id is reported and skipped
    messages = sorted((p.line, p.code) for p in problems if p.code != "E130")
    assert (5, "E131") in messages  # row 5 (no id)
    assert (4, "E131") in messages  # -3 firms, row 4
    assert (6, "E131") in messages  # 十二亿, row 6
    a1 = {c["id"]: c for c in records["A1"]["criteria"]}
    assert a1["output_manufacturing"]["status"] == "met"  # 100000万元 = 10亿元 exactly
    assert a1["heritage"]["test"]["evidence"] == {"by": "县工信局"}
    a2 = {c["id"]: c for c in records["A2"]["criteria"]}
    assert a2["output_manufacturing"]["test"]["value"] == "99999.5"  # exact, not a binary float
    assert a2["output_manufacturing"]["status"] == "not_met"


def test_xlsx_without_id_column_or_unreadable(tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["name", "x"])
    book.active.append(["a", 1])
    path = tmp_path / "noid.xlsx"
    book.save(path)
    problems: list[Any] = []
    with pytest.raises(Exception) as info:
        list(load_entities(str(path), problems))
    assert "E111" in str(getattr(info.value, "problems", info.value))
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(Exception) as info:
        list(load_entities(str(junk), problems))
    assert "E100" in str(getattr(info.value, "problems", info.value))


def test_csv_headers_may_be_labels(tmp_path, huguan_pack):
    text = ("id,name,主导产业类别,lead-industry annual output,leading_firms,supporting_firms,历史传承厚重,历史传承厚重.by\n"
            "C1,丙镇,制造业,12亿元,2,15,是,县工信局\n")
    path = tmp_path / "labels.csv"
    path.write_text(text, encoding="gbk")
    problems: list[Any] = []
    rec = list(decide_files(huguan_pack, [str(path)], "reference", problems))[0]
    assert problems == []
    crit = {c["id"]: c for c in rec["criteria"]}
    assert crit["output_manufacturing"]["status"] == "met"
    assert crit["heritage"]["test"]["evidence"] == {"by": "县工信局"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, cwd=ROOT)


def test_evaluate_writes_xlsx_and_csv_results(tmp_path):
    out = tmp_path / "results.xlsx"
    done = _cli("evaluate", "--rules", str(HUGUAN_PACK), str(HUGUAN_TOWNS), "--as-of", "2024-06-30",
                "--format", "xlsx", "-o", str(out), "--what-it-takes")
    assert done.returncode == 0, done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["results.xlsx"]  # no temporary file left behind
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[:4] == ("id", "name", "outcome", "结果")
    assert any(h and "[output_manufacturing]" in h for h in header)
    assert "如何才能通过" in header
    expected = {t["id"]: t["expect"]["outcome"] for t in _towns()}
    assert {r[0]: r[2] for r in body} == expected
    hg05 = next(r for r in body if r[0] == "HG05")
    assert hg05[header.index(next(h for h in header if h and "[output_manufacturing]" in h))] == "不满足"
    assert "+1万元" in hg05[header.index("如何才能通过")]

    csv_out = tmp_path / "results.csv"
    done = _cli("evaluate", "--rules", str(HUGUAN_PACK), str(HUGUAN_TOWNS), "--as-of", "2024-06-30",
                "--format", "csv", "-o", str(csv_out), "--lang", "en")
    assert done.returncode == 0, done.stderr
    raw = csv_out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM for Excel
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][:4] == ["id", "name", "outcome", "result"]
    assert {r[0]: r[2] for r in table[1:]} == expected


def test_xlsx_needs_an_output_file():
    done = _cli("evaluate", "--rules", str(HUGUAN_PACK), str(HUGUAN_TOWNS), "--format", "xlsx")
    assert done.returncode == 2 and "-o" in done.stderr


def test_report_command_writes_xlsx_from_xlsx(tmp_path, huguan_pack):
    data = tmp_path / "in.xlsx"
    write_entities_xlsx(_towns(), str(data), _label_headers(huguan_pack))
    out = tmp_path / "out.xlsx"
    done = _cli("report", "--rules", str(HUGUAN_PACK), str(data), "--as-of", "2024-06-30", "-o", str(out))
    assert done.returncode == 0, done.stderr
    body = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))[1:]
    assert len(body) == 27


def test_unreadable_data_is_reported_and_the_table_still_replaces_the_file_whole(tmp_path):
    out = tmp_path / "keep.csv"
    out.write_text("old", encoding="utf-8")
    done = _cli("evaluate", "--rules", str(HUGUAN_PACK), str(tmp_path / "missing.yaml"), "--format", "csv",
                "-o", str(out))
    assert done.returncode == 3 and "E100" in done.stderr
    assert out.read_text(encoding="utf-8-sig").startswith("id,name,outcome")
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]  # no stray temporary file


def test_atomic_path_leaves_the_old_file_when_writing_fails(tmp_path):
    from engine.outputs import atomic_text

    out = tmp_path / "report.html"
    out.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_text(str(out)) as handle:
            handle.write("half")
            raise RuntimeError("engine fault")
    assert out.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_spreadsheet_formula_text_is_not_a_formula(tmp_path, huguan_pack):
    from engine.spreadsheet import result_columns, write_results_xlsx

    recs = list(decide_files(huguan_pack, [str(HUGUAN_TOWNS)], "reference"))[:1]
    recs[0]["entity"]["name"] = "=HYPERLINK(\"http://x\")"
    path = tmp_path / "f.xlsx"
    write_results_xlsx(recs, str(path), result_columns(recs))
    cell = openpyxl.load_workbook(path).active["B2"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
