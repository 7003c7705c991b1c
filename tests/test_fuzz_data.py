"""Fuzz targets for the data readers (CSV, JSON, YAML data files), with hypothesis.

Each reader raises only the project's own errors (ProblemsError), never a traceback, and keeps
what it can: a CSV written by Python's csv module reads back exactly (quotes, commas and line
breaks inside cells included), and a stray quote costs only its own row.

Bounded for CI (a few dozen examples each). To run them longer, scale the examples:
    CERTIFY_FUZZ_SCALE=200 .venv/bin/python -m pytest tests/test_fuzz_data.py -p no:randomly
(see docs/robustness.md).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.load.data import MAX_RECORD_LINES, ReadOptions, load_entities
from engine.core.problems import ProblemsError

SCALE = max(1, int(os.environ.get("CERTIFY_FUZZ_SCALE", "1")))
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "big5", "gbk")


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples * SCALE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def read(path: Path, encoding: str | None = None) -> tuple[list[Any], list[Any], bool]:
    """(entities, problems, refused): every entity returned before a whole-file refusal counts."""
    problems: list[Any] = []
    entities: list[Any] = []
    try:
        for entity in load_entities(str(path), problems, ReadOptions(encoding=encoding)):
            entities.append(entity)
    except ProblemsError as error:
        assert error.problems
        return entities, problems + list(error.problems), True
    return entities, problems, False


# Cell text an officer's spreadsheet can hold: CJK, quotes, commas, line breaks, spaces.
CELL = st.lists(st.sampled_from(list('ab 1,"\n\r壶关镇亿元是否—（）') + ["\r\n"]), max_size=12).map("".join)
IDS = st.from_regex(r"T[0-9]{1,4}", fullmatch=True)


@fuzz(60)
@given(st.lists(st.tuples(IDS, CELL, CELL), min_size=1, max_size=12, unique_by=lambda r: r[0]))
@example([("T1", 'a "quoted", name', "line\nbreak")])
@example([("T1", '"', '"\n"')])
def test_csv_written_by_the_csv_module_reads_back_exactly(tmp_path_factory: Any, rows: list[tuple[str, str, str]]):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["id", "name", "note"])
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("csv") / "towns.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    entities, problems, refused = read(path)
    assert not refused and problems == []
    assert [(e.id, e.name or "", e.fields.get("note", "")) for e in entities] == [
        (i, n.strip(), c.strip()) for i, n, c in rows]


# Rows whose cells hold no quote or line break of their own (commas, and so quoted cells, are
# still drawn). A stray quote meeting cells that do can pair up with their quotes into a record
# that is well formed CSV; no reader can tell that from a real multi-line cell.
PLAIN_CELL = st.text(alphabet=st.sampled_from(list("ab 1,壶关镇亿元是否—（）")), max_size=12)


@fuzz(60)
@given(st.lists(st.tuples(IDS, PLAIN_CELL), min_size=2, max_size=12, unique_by=lambda r: r[0]), st.data())
def test_a_stray_quote_costs_only_its_row(tmp_path_factory: Any, rows: list[tuple[str, str]], data: Any):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["id", "name"])
    lines = []
    for row in rows:
        line = io.StringIO(newline="")
        csv.writer(line).writerow(row)
        lines.append(line.getvalue())
    bad = data.draw(st.integers(0, len(rows) - 1), label="row with the stray quote")
    lines[bad] = '"' + lines[bad]
    path = tmp_path_factory.mktemp("csv") / "towns.csv"
    path.write_bytes((buffer.getvalue() + "".join(lines)).encode("utf-8"))
    entities, problems, refused = read(path)
    assert not refused
    kept = {e.id for e in entities}
    # Every row but the one with the stray quote is kept (its own id is read as part of a cell).
    assert {i for n, (i, _) in enumerate(rows) if n != bad} <= kept
    assert all(p.code.startswith("E") for p in problems)


@fuzz(80)
@given(st.binary(max_size=400), st.sampled_from([None, *ENCODINGS]))
@example(b'id,name\n"T1,a\nT2,b\n', None)
@example(b"id,name\n" + b'"x\n' * (MAX_RECORD_LINES + 3), None)
@example("编号,名称\nT1,壶关镇\n".encode("gbk") + b"\xff", None)
def test_csv_bytes_raise_only_problems(tmp_path_factory: Any, content: bytes, encoding: str | None):
    path = tmp_path_factory.mktemp("csv") / "towns.csv"
    path.write_bytes(b"id,name,lead_output\n" + content)
    read(path, encoding)


BIG = "<BIGINT>"  # written into JSON as a 5,000-digit integer (Python will not build one from text)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.floats()
    | st.sampled_from([BIG, "\ud800", "5\x00", "1e9元", "12亿元"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["id", "name", "entities", "lead_output", "x"]) | st.text(max_size=3),
                      inner, max_size=4),
    max_leaves=10,
)


@fuzz(80)
@given(JSON_VALUES, st.sampled_from([None, "utf-8", "gb18030"]))
@example([{"id": "A", "x": BIG}], None)
@example({"entities": [{"id": "A"}], "entities ": 1}, None)
def test_json_documents_raise_only_problems(tmp_path_factory: Any, value: Any, encoding: str | None):
    path = tmp_path_factory.mktemp("json") / "towns.json"
    text = json.dumps(value, ensure_ascii=True, allow_nan=True).replace(json.dumps(BIG), "9" * 5000)
    path.write_text(text, encoding="utf-8")
    read(path, encoding)


@fuzz(80)
@given(st.lists(st.fixed_dictionaries({"id": IDS}, optional={"name": st.text(max_size=5),
                                                             "lead_output": st.sampled_from(["12亿元", "3", "1e9元"])}),
                min_size=1, max_size=6, unique_by=lambda d: d["id"]),
       st.data())
def test_json_mutated_bytes_raise_only_problems_and_keep_earlier_entities(tmp_path_factory: Any, items: list[Any],
                                                                          data: Any):
    text = "[\n" + ",\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n]\n"
    raw = bytearray(text.encode("utf-8"))
    at = data.draw(st.integers(0, len(raw) - 1), label="offset")
    raw[at:at + 1] = data.draw(st.sampled_from([b"", b"{", b"[", b'"', b",", b"\x00", b"\\", b"}"]), label="byte")
    path = tmp_path_factory.mktemp("json") / "towns.json"
    path.write_bytes(bytes(raw))
    entities, problems, _ = read(path)
    if [p.code for p in problems] == ["E136"]:
        return  # the damage split a UTF-8 character: the file's encoding is refused, by design
    # Entities wholly before the damage are still read.
    before = [i["id"] for i in items if text.encode("utf-8").find(json.dumps(i, ensure_ascii=False).encode("utf-8"))
              + len(json.dumps(i, ensure_ascii=False).encode("utf-8")) + 2 < at]
    assert set(before) <= {e.id for e in entities}


@fuzz(60)
@given(JSON_VALUES, st.data())
def test_yaml_data_raises_only_problems(tmp_path_factory: Any, value: Any, data: Any):
    try:
        text = yaml.safe_dump(value, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return
    if text and data.draw(st.booleans(), label="mutate"):
        at = data.draw(st.integers(0, len(text) - 1), label="offset")
        text = text[:at] + data.draw(st.sampled_from(["&a ", "*a", "!!python/object ", ": ", "- ", "\t", "{", "\x00"]),
                                     label="insert") + text[at:]
    path = tmp_path_factory.mktemp("yaml") / "towns.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    read(path)
