"""engine.load.yamlsafe: the safe reader every rule pack and YAML data file goes through."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.compile.build2 import build2
from engine.core.problems import ProblemsError
from engine.evaluate.run2 import evaluate2, subjects_from_dicts
from engine.validate.validate import validate_file
import yaml

from engine.load import yamlsafe
from engine.load.yamlsafe import MAX_DEPTH, load_yaml_file, parse_yaml, read_text

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "tests" / "packs" / "valid" / "minimal.yaml"


def problems_of(text: str) -> list[Any]:
    with pytest.raises(ProblemsError) as caught:
        parse_yaml(text, "doc.yaml")
    problems = caught.value.problems
    assert problems, "ProblemsError without problems"
    return problems


def walk(value: Any):
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


# ---------------------------------------------------------------------------- duplicate keys


def test_duplicate_key_reported_at_second_occurrence():
    problems = problems_of("a: 1\nb: 2\na: 3\n")
    assert [(p.code, p.line, p.col) for p in problems] == [("E102", 3, 1)]
    assert "'a'" in problems[0].message


def test_nested_duplicate_key_has_line_column_and_path():
    text = "pack:\n  id: first\n  title: t\n  id: second\n"
    (problem,) = problems_of(text)
    assert (problem.code, problem.line, problem.col, problem.path) == ("E102", 4, 3, "pack.id")


def test_every_duplicate_key_is_reported_in_one_pass():
    text = "x: 1\nx: 2\ny:\n  z: 1\n  z: 2\n"
    problems = problems_of(text)
    assert sorted((p.code, p.line) for p in problems) == [("E102", 2), ("E102", 5)]


def test_integer_and_text_keys_that_collide_are_duplicates():
    (problem,) = problems_of("1: a\n'1': b\n")
    assert (problem.code, problem.line) == ("E102", 2)


def test_distinct_keys_are_accepted_with_positions():
    doc = parse_yaml("a: 1\nb:\n  c: [x, y]\n", "doc.yaml")
    assert doc.value == {"a": 1, "b": {"c": ["x", "y"]}}
    assert doc.where(("b", "c")) == (3, 3)
    assert doc.where(("b", "c", 1)) == (3, 10)
    assert doc.where(("b", "missing")) == (2, 1)  # nearest ancestor


# ---------------------------------------------------------------------------- exact numbers


def test_decimals_are_decimal_from_source_text():
    doc = parse_yaml("a: 0.1\nb: 1.10\nc: -2.5\nd: [0.3, 7]\n", "doc.yaml")
    assert doc.value["a"] == Decimal("0.1")
    assert isinstance(doc.value["a"], Decimal)
    assert doc.value["a"] + Decimal("0.2") == Decimal("0.3")  # no binary float in the way
    assert str(doc.value["b"]) == "1.10"  # the text as written, not a float's repr
    assert doc.value["c"] == Decimal("-2.5")
    assert doc.value["d"] == [Decimal("0.3"), 7]
    assert isinstance(doc.value["d"][1], int)
    assert not any(isinstance(v, float) for v in walk(doc.value))


def test_no_float_anywhere_in_a_real_pack():
    doc, _ = load_yaml_file(str(ROOT / "fixtures" / "huguan-towns.yaml"))
    assert not any(isinstance(v, float) for v in walk(doc.value))


def test_special_floats_and_dates_stay_text():
    doc = parse_yaml("a: .inf\nb: .nan\nc: 2024-01-01\n", "doc.yaml")
    assert doc.value == {"a": ".inf", "b": ".nan", "c": "2024-01-01"}


# ---------------------------------------------------------------------------- refused features


def billion_laughs(levels: int = 10, fanout: int = 10) -> str:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fanout) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused():
    # 10 levels of 10 aliases: 10**10 values once expanded. It must be refused (and quickly;
    # the test would hang or run out of memory if the aliases were expanded).
    problems = problems_of(billion_laughs(10, 10))
    assert [p.code for p in problems] == ["E103"]
    assert "alias" in problems[0].message
    assert 1 <= problems[0].line <= 10


def test_billion_laughs_pack_is_refused_by_validate(tmp_path: Path):
    # The bomb as a flow mapping on one line under pack.notes (line 9 of the copied pack).
    bomb = "{" + ", ".join(billion_laughs(10, 10).strip().splitlines()) + "}"
    text = MINIMAL.read_text(encoding="utf-8").replace("  entity: firm\n", f"  entity: firm\n  notes: {bomb}\n")
    path = tmp_path / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    doc, _, problems = validate_file(str(path))
    assert doc is None
    assert [(p.code, p.line) for p in problems] == [("E103", 9)]


def test_modest_alias_use_is_accepted():
    doc = parse_yaml("base: &b {unit: 万元, type: money}\ncopy: *b\n", "doc.yaml")
    assert doc.value["copy"] == {"unit": "万元", "type": "money"}
    assert doc.value["copy"] is not doc.value["base"]  # built separately, not shared


def test_nesting_200_levels_is_refused():
    problems = problems_of("x: " + "[" * 200 + "]" * 200 + "\n")
    assert [p.code for p in problems] == ["E103"]
    assert str(MAX_DEPTH) in problems[0].message


def test_block_nesting_200_levels_is_refused():
    text = "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "leaf\n"
    problems = problems_of(text)
    assert [p.code for p in problems] == ["E103"]


def test_nesting_within_the_limit_is_accepted():
    doc = parse_yaml("[" * 50 + "1" + "]" * 50, "doc.yaml")
    value = doc.value
    for _ in range(49):
        value = value[0]
    assert value == [1]


def test_extreme_nesting_does_not_crash_the_process():
    # The C composer recurses on the C stack: 100,000 nested brackets used to kill the
    # interpreter (SIGSEGV). Run it in a child process so a regression fails this test only.
    code = (
        "from engine.load.yamlsafe import parse_yaml\n"
        "from engine.core.problems import ProblemsError\n"
        "try:\n"
        "    parse_yaml('[' * 100000 + ']' * 100000, 'deep.yaml')\n"
        "except ProblemsError as e:\n"
        "    print(e.problems[0].code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "E103"


# The nesting decision is ours, taken from the text before PyYAML reads it: PyYAML 6.0.4 (its
# bundled libyaml) began refusing 1,000-deep flow nesting itself, as a syntax error (E101), so
# the code an officer got depended on which PyYAML pip had resolved.
DEEP_TEXTS = {
    "flow sequences": "x: " + "[" * 100_000 + "1" + "]" * 100_000 + "\n",
    "flow mappings": "x: " + "{a: " * 100_000 + "1" + "}" * 100_000 + "\n",
    "json": '{"a":' * 100_000 + "1" + "}" * 100_000,
    "compact block entries": "- " * 100_000 + "x\n",
    "compact block keys": "- " + "? " * 100_000 + "x\n",
    "block indentation": "".join("  " * i + f"k{i}:\n" for i in range(2000)) + "  " * 2000 + "v\n",
    "tagged and anchored": "a: &x !!seq " + "[" * 100_000 + "\n",
}


@pytest.mark.parametrize("name", sorted(DEEP_TEXTS))
def test_deep_nesting_is_refused_before_pyyaml_reads_the_text(name: str, monkeypatch: pytest.MonkeyPatch):
    def pyyaml_must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("PyYAML was asked to read a text the pre-scan should have refused")

    monkeypatch.setattr(yamlsafe.yaml, "parse", pyyaml_must_not_run)
    monkeypatch.setattr(yamlsafe.yaml, "compose", pyyaml_must_not_run)
    problems = problems_of(DEEP_TEXTS[name])
    assert [p.code for p in problems] == ["E103"] and problems[0].line <= MAX_DEPTH + 2
    assert str(MAX_DEPTH) in problems[0].message and str(MAX_DEPTH) in problems[0].message_zh


@pytest.mark.parametrize("text", [
    'x: "' + "[" * 200 + '"\n',                        # brackets inside quotes
    "x: '" + "{" * 200 + "'\n",
    "x: |\n  " + "[" * 200 + "\n  " + "- " * 200 + "\n",  # inside a block scalar
    "x: a[b" + "[" * 200 + "\n",                        # inside a plain scalar
    "x: 1  # " + "[" * 200 + "\n",                      # in a comment
    '[{"a":"' + "]" * 5 + "[" * 200 + '"}]',               # compact JSON, brackets in a string
    "x: [it's, " + "'[[[[' ]\n" ,
    "x: \"a\n  " + "[" * 200 + '"\n',                  # a quoted scalar over two lines
])
def test_brackets_that_are_text_do_not_count_as_nesting(text: str):
    parse_yaml(text, "doc.yaml")


def test_nesting_estimate_never_exceeds_the_real_depth_of_the_shipped_files():
    # The text pre-scan may count fewer levels than PyYAML (the exact event pre-scan follows), never
    # more: counting more would refuse a file that nests within the limit.
    class Deepest(yamlsafe._NestingScan):
        deepest = 0

        def deeper(self, column: int) -> None:
            self.deepest = max(self.deepest, len(self.block) + self.flow)

    files = [p for pattern in ("rules/*.yaml", "fixtures/*.yaml", "fixtures/*.json", "tests/**/*.yaml")
             for p in ROOT.glob(pattern)]
    assert len(files) > 20
    checked = 0
    for path in files:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        try:
            events = list(yaml.parse(text, Loader=yaml.SafeLoader))
        except yaml.YAMLError:
            continue
        depth = real = 0
        for event in events:
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                real = max(real, depth)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
        scan = Deepest(10**9)
        scan.scan(text)
        assert real - 3 <= scan.deepest <= real, path
        checked += 1
    assert checked > 20


@pytest.mark.parametrize(
    "text",
    [
        "x: !!python/object:os.system {}\n",
        "x: !!python/object/apply:os.system [echo hi]\n",
        "x: !!python/name:os.system ''\n",
        "x: !custom 1\n",
    ],
)
def test_python_and_custom_tags_are_refused(text: str):
    problems = problems_of(text)
    assert [(p.code, p.line) for p in problems] == [("E103", 1)]
    assert "tag" in problems[0].message


def test_merge_keys_are_refused():
    problems = problems_of("base: &b {a: 1}\nchild:\n  <<: *b\n  c: 2\n")
    assert [(p.code, p.line) for p in problems] == [("E103", 3)]


# ---------------------------------------------------------------------------- unreadable files


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"# only a comment\n# and another\n"])
def test_empty_file_is_e100(tmp_path: Path, content: bytes):
    path = tmp_path / "empty.yaml"
    path.write_bytes(content)
    with pytest.raises(ProblemsError) as caught:
        load_yaml_file(str(path))
    assert [(p.code, p.line, p.col) for p in caught.value.problems] == [("E100", 1, 1)]


def test_missing_file_is_e100(tmp_path: Path):
    with pytest.raises(ProblemsError) as caught:
        load_yaml_file(str(tmp_path / "absent.yaml"))
    assert [p.code for p in caught.value.problems] == ["E100"]


def test_gbk_pack_is_e100_saying_utf8(tmp_path: Path):
    data = MINIMAL.read_text(encoding="utf-8").encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the test input really is not UTF-8
    path = tmp_path / "gbk.yaml"
    path.write_bytes(data)
    doc, raw, problems = validate_file(str(path))
    assert doc is None
    assert [(p.code, p.line) for p in problems] == [("E100", 1)]
    assert "UTF-8" in problems[0].message


def test_utf8_with_bom_is_read(tmp_path: Path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.read_bytes())
    doc, raw, problems = validate_file(str(path))
    assert problems == []
    assert doc is not None and doc.value["pack"]["id"] == "minimal-test-pack"
    assert raw.startswith(b"\xef\xbb\xbf")  # the hash is over the bytes as saved


def test_file_over_the_size_limit_is_e100():
    with pytest.raises(ProblemsError) as caught:
        read_text("big.yaml", b"a: 1\n" * 10, max_bytes=20)
    assert [p.code for p in caught.value.problems] == ["E100"]
    assert "limit" in caught.value.problems[0].message


def test_syntax_error_is_e101_at_problem_mark():
    problems = problems_of("a: [1, 2\nb: 3\n")
    assert [p.code for p in problems] == ["E101"]
    assert problems[0].line == 2


# ---------------------------------------------------------------------------- YAML 1.1 booleans as keys


def test_a_bare_on_key_is_read_as_written_not_as_true():
    """YAML 1.1 reads a bare on / yes / no as a boolean; a key is always a name, so it is read as
    written (the bare `on:` of `in_force` used to be the key True, refused as E112)."""
    doc = parse_yaml('in_force: {of: p, on: "2022-12-31"}\nyes: 1\n"no": 2\nflag: on\n', "doc.yaml")
    assert doc.value == {"in_force": {"of": "p", "on": "2022-12-31"}, "yes": 1, "no": 2, "flag": True}
    assert doc.where(("in_force", "on")) == (1, 19)  # the key keeps its position


def test_a_bare_on_in_in_force_takes_the_value_in_force_that_day(tmp_path: Path):
    pack_text = """\
format: 2
pack: {id: t, version: "1.0.0", entity: firm, title: {zh: 测试}}
inputs:
  n: {type: count, unit: 家, label: {zh: 企业数}}
parameters:
  n_min:
    label: {zh: 下限}
    cite: 一
    values: [{since: "2020-01-01", value: 3家}, {since: "2023-01-01", value: 5家}]
  n_min__2022:
    label: {zh: 2022年下限}
    cite: 一
    in_force: {of: n_min, on: "2022-12-31"}
criteria:
  ok: {title: {zh: 达标}, cite: 一, test: {value: n, op: ">=", param: n_min__2022}}
outcomes: {decision: ok}
"""
    path = tmp_path / "p.yaml"
    path.write_text(pack_text, encoding="utf-8")
    doc, raw = load_yaml_file(str(path))
    pack = build2(doc, raw, dt.date(2024, 6, 30))
    assert pack.params["n_min__2022"].value == 3  # in force on 2022-12-31; 5家 only from 2023
    subjects, _ = subjects_from_dicts(pack, [{"id": "a", "n": "4家"}])
    assert evaluate2(pack, subjects)[0].outcome.value == "pass"
