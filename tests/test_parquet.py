"""Parquet (issue 14): data files read by row batch with the CSV path's typing, unit checks and
bad-row reporting; `--format parquet` writes the decisions table. The D pack over generated firms
decides the same from CSV and from Parquet (the bench does it at scale)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import engine.report.parquet as parquet_writer
from cli import main

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import firms  # noqa: E402  (bench/firms.py: the generated firms the bench decides)

PACK = ROOT / "rules" / "tech-sme-evaluation.yaml"
AS_OF = "2024-06-30"


def run(*args: object) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _same_decision(record: dict) -> dict:
    """A record without where it was read from and the hash of its cells as read (a Parquet cell
    is typed: 5000.5, not "5000.5")."""
    out = dict(record)
    out.pop("where")
    out["provenance"] = {k: v for k, v in record["provenance"].items() if k != "input_sha256"}
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("firms")
    csv_path, parquet_path = folder / "firms.csv", folder / "firms.parquet"
    firms.write_csv(csv_path, 240, seed=11)
    firms.write_parquet(parquet_path, 240, seed=11, row_group=50)  # several row groups
    return csv_path, parquet_path


def test_parquet_decides_as_csv(tmp_path: Path, generated: tuple[Path, Path]) -> None:
    csv_path, parquet_path = generated
    assert pq.ParquetFile(parquet_path).num_row_groups == 5
    from_csv, from_parquet = tmp_path / "c.json", tmp_path / "p.json"
    assert run("evaluate", "--rules", PACK, csv_path, "--as-of", AS_OF, "--format", "json", "-o", from_csv).exit_code == 0
    assert run("evaluate", "--rules", PACK, parquet_path, "--as-of", AS_OF, "--format", "json", "-o", from_parquet).exit_code == 0
    a = json.loads(from_csv.read_text(encoding="utf-8"))
    b = json.loads(from_parquet.read_text(encoding="utf-8"))
    assert a["counts"] == b["counts"] and a["counts"]["decided"] == 240
    assert {"pass", "fail", "undetermined"} <= {d["outcome"] for d in a["decisions"]}
    assert [_same_decision(d) for d in a["decisions"]] == [_same_decision(d) for d in b["decisions"]]
    assert b["decisions"][0]["where"].endswith("firms.parquet:1")


def test_parquet_round_trip_of_the_decisions_table(tmp_path: Path, generated: tuple[Path, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """CSV -> Parquet and Parquet -> Parquet give the same table (but for `where`), written in row
    groups as the rows come, and its statuses are the JSON records'."""
    monkeypatch.setattr(parquet_writer, "ROW_GROUP", 64)
    csv_path, parquet_path = generated
    one, two, records = tmp_path / "one.parquet", tmp_path / "two.parquet", tmp_path / "r.json"
    assert run("evaluate", "--rules", PACK, csv_path, "--as-of", AS_OF, "--format", "parquet", "-o", one).exit_code == 0
    assert run("evaluate", "--rules", PACK, parquet_path, "--as-of", AS_OF, "--format", "parquet", "-o", two).exit_code == 0
    run("evaluate", "--rules", PACK, csv_path, "--as-of", AS_OF, "--format", "json", "-o", records)
    a, b = pq.read_table(one), pq.read_table(two)
    assert pq.ParquetFile(one).num_row_groups == 4
    assert a.drop(["where"]).equals(b.drop(["where"]))
    meta = {k.decode(): v.decode() for k, v in a.schema.metadata.items()}
    assert meta["pack"] == "tech-sme-evaluation" and len(meta["pack_sha256"]) == 64 and meta["as_of"] == AS_OF
    rows = a.to_pylist()
    decisions = json.loads(records.read_text(encoding="utf-8"))["decisions"]
    assert [r["id"] for r in rows] == [d["id"] for d in decisions]
    for row, d in zip(rows, decisions):
        assert row["outcome"] == d["outcome"]
        for c in d["criteria"]:
            assert row[f"{c['id']}__status"] == c["status"]
        for v in d["values"]:
            assert row[f"{v['name']}__value"] == (None if v["value"] is None else str(v["value"]))
        assert row["missing_inputs"] == d["missing_inputs"]
    # a size limit exceeded shows how far: 581 staff against 不超过500人
    over = [r for r in rows if r["size_staff__status"] == "not_met"]
    assert over and all(int(r["size_staff__gap"]) == int(r["size_staff__value"]) - 500 for r in over)


def test_format1_pack_to_parquet(tmp_path: Path) -> None:
    pack = ROOT / "rules" / "huguan-specialized-town.yaml"
    out = tmp_path / "towns.parquet"
    assert run("evaluate", "--rules", pack, ROOT / "fixtures" / "huguan-towns.csv", "--as-of", AS_OF,
               "--format", "parquet", "-o", out).exit_code == 0
    rows = {r["id"]: r for r in pq.read_table(out).to_pylist()}
    assert len(rows) == 6
    failed = [r for r in rows.values() if r["outcome"] == "fail"]
    assert failed
    gaps = [k for r in failed for k, v in r.items() if k.endswith("__gap") and v is not None]
    assert gaps  # a town below a threshold: its gap is in the table


def _bad_file(path: Path) -> None:
    table = pa.table({
        "id": ["B1", None, "B3", "B4", "B1", "B6"],
        "total_staff": [100, 100, 100, 100, 100, 100],
        "tech_staff": [30, 30, 30, 30, 30, 30],
        "sales_revenue": ["5000万元", "5000万元", "十二亿", "5000万元", "5000万元", "50亩"],
        "total_costs": [4500.0, 4500.0, 4500.0, float("nan"), 4500.0, 4500.0],
        "rd_expense": [300.0, 300.0, 300.0, 300.0, 300.0, 300.0],
        "resident_enterprise": [True] * 6,
        "has_led_standard": [False] * 6,
    })
    pq.write_table(table, path, row_group_size=2)


def test_bad_rows_are_reported_and_the_rest_decided(tmp_path: Path) -> None:
    data, out = tmp_path / "bad.parquet", tmp_path / "out.json"
    _bad_file(data)
    result = run("evaluate", "--rules", PACK, data, "--as-of", AS_OF, "--format", "json", "-o", out)
    assert result.exit_code == 3
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["counts"]["read"] == 6 and doc["counts"]["decided"] == 4 and doc["counts"]["refused"] == 2
    assert [d["id"] for d in doc["decisions"]] == ["B1", "B3", "B4", "B6"]
    by_line = {(p["line"], p["code"]) for p in doc["problems"]}
    assert (2, "E131") in by_line or any(p["line"] == 2 and p.get("refused_row") for p in doc["problems"])  # no id
    assert any(p["line"] == 5 and p["code"] == "E132" for p in doc["problems"])  # B1 again
    assert any(p["line"] == 3 and "十二亿" in p["message"] for p in doc["problems"])  # not an amount
    assert any(p["line"] == 4 and "nan" in p["message"] for p in doc["problems"])  # NaN: not a finite number
    assert any(p["line"] == 6 and "50亩" in p["message"] for p in doc["problems"])  # wrong unit
    decided = {d["id"]: d for d in doc["decisions"]}
    assert "sales_revenue" in decided["B3"]["missing_inputs"] and "total_costs" in decided["B4"]["missing_inputs"]
    assert "sales_revenue" not in decided["B1"]["missing_inputs"]


def test_a_column_of_lists_is_not_read_and_a_damaged_file_is_refused(tmp_path: Path) -> None:
    data, out = tmp_path / "lists.parquet", tmp_path / "out.json"
    pq.write_table(pa.table({"id": ["L1"], "total_staff": [[1, 2]], "tech_staff": [3]}), data)
    result = run("evaluate", "--rules", PACK, data, "--as-of", AS_OF, "--format", "json", "-o", out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert any(p["code"] == "E257" and "total_staff" in p["message"] for p in doc["problems"])
    assert doc["counts"]["decided"] == 1 and "total_staff" in doc["decisions"][0]["missing_inputs"]
    assert result.exit_code in (0, 3)
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(b"PAR1 not really parquet PAR1")
    result = run("evaluate", "--rules", PACK, damaged, "--as-of", AS_OF, "--format", "json", "-o", out)
    assert result.exit_code == 3
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert any(p["code"] == "E257" for p in doc["problems"])


def test_parquet_output_needs_a_file() -> None:
    result = CliRunner().invoke(main, ["evaluate", "--rules", str(PACK), str(ROOT / "fixtures" / "tech-sme-firms.yaml"),
                                       "--as-of", AS_OF, "--format", "parquet"])
    assert result.exit_code == 2
