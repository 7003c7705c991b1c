"""Hostile input: bombs, deep nesting, huge fields and odd bytes are refused or reported with a
clear code, in bounded memory, and never crash or hang the process.

Bounds are on work, never on seconds (speed belongs in bench/, and a shared CI machine makes any
time limit flaky): the peak of Python allocations measured with tracemalloc (generous: 200 MB;
the failures they guard against took gigabytes), and what was read and decided. The quadratic
and exponential regressions below are each also pinned where they were fixed: a length or count
limit that refuses the input before the expensive step, which these tests assert by its code and
number.
"""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import pytest

from engine.load import data as data_module
from engine.load.data import MAX_CSV_COLUMNS, load_entities
from engine.evaluate.pipeline import load_pack
from engine.explain.batch import decide_files
from engine.core.problems import ProblemsError
from engine.core.units import MAX_AMOUNT_TEXT, AmountError, parse_amount, parse_unit
from engine.validate.validate import validate_file
from engine.load.yamlsafe import (
    MAX_ALIAS_VALUES,
    MAX_DEPTH,
    MAX_PACK_VALUES,
    MAX_SCALAR,
    load_yaml_file,
    parse_yaml,
)

ROOT = Path(__file__).resolve().parent.parent
HUGUAN = ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"
HUGUAN_TEXT = HUGUAN.read_text(encoding="utf-8")
AS_OF = dt.date(2024, 6, 30)
PEAK_BYTES = 200 * 1024 * 1024


def bounded(call: Callable[[], Any], peak: int = PEAK_BYTES) -> Any:
    """Run call() and assert it allocated less than `peak` bytes at its peak."""
    tracemalloc.start()
    try:
        result = call()
    finally:
        _, high = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert high < peak, f"allocated {high / 2**20:.0f} MB at peak"
    return result


def refused(call: Callable[[], Any], **limits: Any) -> list[Any]:
    """The problems of the ProblemsError that call() must raise, within the bounds."""
    def run() -> list[Any]:
        with pytest.raises(ProblemsError) as caught:
            call()
        return list(caught.value.problems)

    problems = bounded(run, **limits)
    assert problems
    return problems


def codes(problems: list[Any]) -> list[str]:
    return [p.code for p in problems]


def billion_laughs(levels: int, fanout: int) -> str:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fanout) + "]")
    return "\n".join(lines) + "\n"


def write(folder: Path, name: str, content: bytes | str) -> str:
    path = folder / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return str(path)


def load(file: str) -> tuple[list[Any], list[Any]]:
    """(entities, problems) of a data file; a whole-file ProblemsError becomes its problems."""
    problems: list[Any] = []
    try:
        return list(load_entities(file, problems)), problems
    except ProblemsError as error:
        return [], problems + list(error.problems)


@pytest.fixture(scope="module")
def pack() -> Any:
    return load_pack(str(HUGUAN), AS_OF)[0]


def decide(pack: Any, file: str) -> tuple[list[dict[str, Any]], list[Any]]:
    problems: list[Any] = []
    records = list(decide_files(pack, [file], "reference", problems))
    return records, problems


# ------------------------------------------------------------------------ alias bombs


@pytest.mark.parametrize("levels", [10, 30])
def test_billion_laughs_pack_is_refused_before_expansion(tmp_path: Path, levels: int):
    file = write(tmp_path, "bomb.yaml", billion_laughs(levels, 10))
    problems = refused(lambda: load_pack(file, AS_OF))
    assert codes(problems) == ["E103"]
    assert "alias" in problems[0].message


def test_billion_laughs_data_file_is_refused_before_expansion(tmp_path: Path):
    file = write(tmp_path, "towns.yaml", "- id: T1\n  notes: " + "{"
                 + ", ".join(billion_laughs(12, 10).strip().splitlines()) + "}\n")
    entities, problems = bounded(lambda: load(file))
    assert entities == [] and codes(problems) == ["E103"]


def test_alias_expansion_below_the_value_limit_is_still_refused():
    # Regression: 9^6 = 531441 values passed the 2-million value limit and took
    # 4 s and 300 MB to build from under 400 bytes; aliases may now add at most MAX_ALIAS_VALUES values.
    text = billion_laughs(6, 9)
    assert len(text) < 400
    problems = refused(lambda: parse_yaml(text, "b.yaml"), peak=20 * 2**20)
    assert codes(problems) == ["E103"] and str(MAX_ALIAS_VALUES) in problems[0].message


def test_modest_alias_expansion_is_accepted():
    doc = bounded(lambda: parse_yaml(billion_laughs(4, 9), "b.yaml"))  # 6561 values
    assert len(doc.value["a3"]) == 9


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n", "- &a [1, *a]\n"])
def test_recursive_alias_is_refused(text: str):
    assert codes(refused(lambda: parse_yaml(text, "r.yaml"))) == ["E103"]


# ------------------------------------------------------------------------ nesting


@pytest.mark.parametrize("opening,closing", [("[", "]"), ("{a: ", "}")])
def test_yaml_nesting_of_100000_is_refused(tmp_path: Path, opening: str, closing: str):
    file = write(tmp_path, "deep.yaml", "x: " + opening * 100_000 + "1" + closing * 100_000 + "\n")
    problems = refused(lambda: load_pack(file, AS_OF))
    assert codes(problems) == ["E103"] and str(MAX_DEPTH) in problems[0].message


def test_block_nesting_is_refused():
    text = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * (MAX_DEPTH + 5) + "v\n"
    assert codes(refused(lambda: parse_yaml(text, "deep.yaml"))) == ["E103"]


@pytest.mark.parametrize("content", [b"[" * 100_000 + b"]" * 100_000,
                                     b'{"a":' * 100_000 + b"1" + b"}" * 100_000])
def test_json_nesting_of_100000_is_refused(tmp_path: Path, content: bytes):
    file = write(tmp_path, "deep.json", content)
    entities, problems = bounded(lambda: load(file))
    assert entities == [] and codes(problems) == ["E103"]


def test_yaml_data_nesting_of_100000_is_refused(tmp_path: Path):
    file = write(tmp_path, "deep.yaml", b"[" * 100_000 + b"]" * 100_000)
    entities, problems = bounded(lambda: load(file))
    assert entities == [] and codes(problems) == ["E103"]


# ------------------------------------------------------------------------ sizes


def test_pack_over_the_size_limit_is_e100(tmp_path: Path):
    file = write(tmp_path, "big.yaml", HUGUAN_TEXT + "# " + "x" * (5 * 2**20) + "\n")
    doc, _, problems = bounded(lambda: validate_file(file))
    assert doc is None and codes(problems) == ["E100"] and "larger than" in problems[0].message


def test_pack_with_too_many_values_is_refused(tmp_path: Path):
    # Regression: 1.9 million values fit in a 3.7 MB pack (under the 4 MiB limit) and took 45 s
    # and 2.4 GB to compose and check. Packs, suites and override files are now limited to
    # MAX_PACK_VALUES values, refused while streaming the events.
    text = HUGUAN_TEXT.replace("pack:\n", "pack:\n  notes: [" + "1," * 1_900_000 + "1]\n", 1)
    file = write(tmp_path, "many.yaml", text)
    problems = refused(lambda: load_pack(file, AS_OF))
    assert codes(problems) == ["E103"] and str(MAX_PACK_VALUES) in problems[0].message


def test_very_long_string_in_a_pack_is_refused(tmp_path: Path):
    text = HUGUAN_TEXT.replace("pack:\n", "pack:\n  notes: ['" + "长" * (MAX_SCALAR + 1) + "']\n", 1)
    file = write(tmp_path, "long.yaml", text)
    problems = refused(lambda: load_pack(file, AS_OF))
    assert codes(problems) == ["E103"] and str(MAX_SCALAR) in problems[0].message


def test_data_file_over_the_size_limit_is_e100(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(data_module, "MAX_DATA_BYTES", 1024)
    for name in ("towns.yaml", "towns.json", "towns.csv"):
        file = write(tmp_path, name, b"id,x\n" + b"T1,1\n" * 1000)
        entities, problems = bounded(lambda: load(file))
        assert entities == [] and codes(problems) == ["E100"], name


def test_reading_a_small_file_does_not_allocate_the_size_limit(tmp_path: Path):
    # Regression: handle.read(MAX + 1) made CPython allocate the whole limit up front: 512 MiB
    # for every data file and 64 MiB for every pack, a MemoryError under ulimit -v.
    yaml_file = write(tmp_path, "towns.yaml", "- id: T1\n  lead_output: 5\n")
    json_file = write(tmp_path, "towns.json", '[{"id": "T1", "lead_output": 5}]')
    bounded(lambda: load(yaml_file), peak=8 * 2**20)
    bounded(lambda: load(json_file), peak=8 * 2**20)
    bounded(lambda: load_yaml_file(yaml_file), peak=8 * 2**20)


# ------------------------------------------------------------------------ CSV


def test_csv_with_a_huge_field_reports_that_row(pack: Any, tmp_path: Path):
    file = write(tmp_path, "towns.csv", b"id,lead_output\nT1," + b"1" * 10**6 + b"\nT2,5\n")
    records, problems = bounded(lambda: decide(pack, file))
    assert [r["entity"]["id"] for r in records] == ["T2"]
    assert codes(problems) == ["E138"] and "line 2" in problems[0].message and problems[0].line == 2


def test_csv_with_a_long_amount_is_one_bad_value(pack: Any, tmp_path: Path):
    # Regression: the amount pattern backtracked quadratically on "1<spaces>x<spaces>y": one
    # 100 kB cell (under the csv field limit) took half a minute.
    cell = b"1" + b" " * 50_000 + b"x" + b" " * 50_000 + b"y"
    file = write(tmp_path, "towns.csv", b"id,lead_output\nT1," + cell + b"\nT2,5\n")
    records, problems = bounded(lambda: decide(pack, file))
    assert [r["entity"]["id"] for r in records] == ["T1", "T2"]
    assert codes(problems) == ["E131"] and len(problems[0].message) < 500


def test_a_long_amount_is_refused_with_a_short_message():
    with pytest.raises(AmountError) as caught:
        bounded(lambda: parse_amount("1x" + " " * 100_000 + "y", parse_unit("万元")), peak=2**20)
    assert str(MAX_AMOUNT_TEXT) in str(caught.value) and len(str(caught.value)) < 200


@pytest.mark.parametrize("data_row", [True, False])
def test_csv_with_a_million_columns_is_refused(tmp_path: Path, data_row: bool):
    # Regression: every row looked up each cell's column with header.index(), quadratic in the
    # width: a 10^6-column file with one full row did not finish in 20 minutes.
    n = 10**6
    header = ",".join(["id"] + [f"c{i}" for i in range(n)])
    row = "T1," + (",".join("1" for _ in range(n)) if data_row else "2")
    file = write(tmp_path, "wide.csv", header + "\n" + row + "\n")
    entities, problems = bounded(lambda: load(file))
    assert entities == [] and codes(problems) == ["E138"] and str(MAX_CSV_COLUMNS) in problems[0].message


def test_csv_at_the_column_limit_is_read_in_bounded_memory(pack: Any, tmp_path: Path):
    n = MAX_CSV_COLUMNS - 2
    header = ",".join(["id", "lead_output"] + [f"c{i}" for i in range(n)])
    rows = "".join(f"T{r},5," + ",".join("1" for _ in range(n)) + "\n" for r in range(3))
    file = write(tmp_path, "wide.csv", header + "\n" + rows)
    records, problems = bounded(lambda: decide(pack, file))
    assert len(records) == 3
    assert {p.code for p in problems} == {"E130"}  # the unknown columns, as warnings


def test_gbk_file_with_invalid_bytes_is_e100(tmp_path: Path):
    content = "id,name,lead_output\nT1,壶关镇,5\n".encode("gbk") + b"\xff\xfe\x80\x81\n"
    file = write(tmp_path, "towns.csv", content)
    entities, problems = bounded(lambda: load(file))
    assert entities == [] and codes(problems) == ["E136"] and "--encoding" in problems[0].message


def test_gbk_file_is_read(tmp_path: Path):
    file = write(tmp_path, "towns.csv", "id,name,lead_output\nT1,壶关镇,5\n".encode("gbk"))
    entities, problems = load(file)
    assert [e.name for e in entities] == ["壶关镇"] and problems == []


# ------------------------------------------------------------------------ NUL bytes


def test_nul_bytes_in_csv_are_bad_values_not_crashes(pack: Any, tmp_path: Path):
    file = write(tmp_path, "towns.csv", b"id,lead_output\nT1,5\x00\nT2,\x00\x00\nT3,5\n")
    records, problems = bounded(lambda: decide(pack, file))
    assert [r["entity"]["id"] for r in records] == ["T1", "T2", "T3"]
    assert codes(problems) == ["E139", "E139"]  # the value is refused as it is read


def test_nul_bytes_in_yaml_data_are_syntax_errors(tmp_path: Path):
    entities, problems = bounded(lambda: load(write(tmp_path, "towns.yaml", b"- id: T1\n  lead_output: 5\x00\n")))
    assert entities == [] and codes(problems) == ["E101"]


def test_nul_byte_in_a_json_string_is_that_value_refused(tmp_path: Path):
    # Issue 11 item 7: one bad value, not the whole file; the entity is still read without it.
    content = b'[{"id": "T1", "lead_output": "5\x00"},\n {"id": "T2", "lead_output": "5"}]'
    entities, problems = bounded(lambda: load(write(tmp_path, "towns.json", content)))
    assert [(e.id, sorted(e.fields)) for e in entities] == [("T1", []), ("T2", ["lead_output"])]
    assert [(p.code, p.line, p.col) for p in problems] == [("E139", 1, 15)]


def test_nul_byte_in_a_pack_is_e101(tmp_path: Path):
    file = write(tmp_path, "nul.yaml", HUGUAN_TEXT.replace("pack:\n", "pack:\x00\n", 1))
    assert codes(refused(lambda: load_pack(file, AS_OF))) == ["E101"]


def test_escaped_nul_in_json_is_a_bad_value(pack: Any, tmp_path: Path):
    file = write(tmp_path, "towns.json", b'[{"id": "T1", "lead_output": "5\\u0000"}]')
    records, problems = bounded(lambda: decide(pack, file))
    assert len(records) == 1 and codes(problems) == ["E139"]
