"""The validator against the broken and valid test packs, and `certify validate` on the command line.

Every file in tests/packs/broken/ states, in `# expect: CODE line N` (and `# also: ...`) header
comments, which problem a correct validator reports for its one defect. The 0-byte
E100-empty.yaml has no header; it expects E100 on line 1 (see tests/packs/README.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.core.problems import ERROR, WARNING, has_errors
from engine.validate.validate import validate_file

ROOT = Path(__file__).resolve().parent.parent
PACKS = ROOT / "tests" / "packs"
BROKEN = sorted((PACKS / "broken").glob("*.yaml"))
VALID = sorted((PACKS / "valid").glob("*.yaml"))
RULES = sorted(p for p in (ROOT / "rules").glob("*.yaml") if not p.name.endswith(".tests.yaml"))

_HEADER = re.compile(r"^#\s*(?P<kind>expect|also):\s*(?P<code>[EW]\d{3})\s+line\s+(?P<line>\d+)\b")


def header_expectations(path: Path) -> tuple[tuple[str, int], list[tuple[str, int]]]:
    """(expected (code, line), [also (code, line), ...]) from the file's leading comment lines."""
    raw = path.read_bytes()
    if not raw.strip():
        return ("E100", 1), []  # the empty file cannot carry a header
    expect: tuple[str, int] | None = None
    also: list[tuple[str, int]] = []
    # The header is ASCII even in the GBK file, so decode leniently and stop at the first non-comment.
    for text in raw.decode("utf-8", errors="replace").splitlines():
        if not text.startswith("#"):
            break
        match = _HEADER.match(text)
        if match is None:
            continue
        item = (match["code"], int(match["line"]))
        if match["kind"] == "expect":
            assert expect is None, f"{path.name} has two # expect lines"
            expect = item
        else:
            also.append(item)
    assert expect is not None, f"{path.name} has no '# expect: CODE line N' header"
    return expect, also


def test_the_pack_folders_are_populated():
    assert len(BROKEN) >= 30
    assert {p.name for p in VALID} >= {"minimal.yaml", "at-least.yaml", "not.yaml", "cases-otherwise-unknown.yaml"}
    assert RULES, "rules/ holds no pack"
    # Every broken pack's expected code matches the code in its file name.
    for path in BROKEN:
        (code, _), _ = header_expectations(path)
        assert path.name.startswith(code + "-"), path.name


def test_header_parser_reads_also_lines():
    expect, also = header_expectations(PACKS / "broken" / "E120-unknown-param.yaml")
    assert expect == ("E120", 50)
    assert also == [("W200", 33)]
    assert header_expectations(PACKS / "broken" / "E100-empty.yaml") == (("E100", 1), [])


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_broken_pack_reports_its_expected_problem(path: Path):
    (code, line), also = header_expectations(path)
    doc, _, problems = validate_file(str(path))
    found = {(p.code, p.line) for p in problems}
    assert (code, line) in found, [p.format() for p in problems]
    for item in also:
        assert item in found, (item, [p.format() for p in problems])

    # Every problem points into this file at a real position.
    for p in problems:
        assert p.file == str(path)
        assert p.line >= 1 and p.col >= 1
        assert p.severity in (ERROR, WARNING)

    # No error beyond those the header lists. (E111-input-without-type may get a second E111 on
    # the same line, see tests/packs/README.md; matching on (code, line) allows exactly that.)
    allowed = {(code, line), *also}
    unexpected = [p.format() for p in problems if p.severity == ERROR and (p.code, p.line) not in allowed]
    assert unexpected == []

    if code.startswith("E"):
        assert has_errors(problems), "a pack with an E defect must be rejected"
        expected = [p for p in problems if (p.code, p.line) == (code, line)]
        assert all(p.severity == ERROR for p in expected)
    else:
        assert not has_errors(problems), "a pack with only a W defect must still be usable"
        assert doc is not None
        expected = [p for p in problems if (p.code, p.line) == (code, line)]
        assert all(p.severity == WARNING for p in expected)

    if code in ("E100", "E101", "E102", "E103"):
        assert doc is None, "a file that cannot be read or parsed has no document"


@pytest.mark.parametrize("path", VALID + RULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_valid_pack_has_no_problems(path: Path):
    doc, raw, problems = validate_file(str(path))
    # W201 is the one allowed warning in rules/: a parameter the policy deliberately leaves
    # without a number (`unset:` with the reason) — never filled in by guessing.
    allowed = ("W201",) if path.parent.name == "rules" else ()
    assert [p.format() for p in problems if p.code not in allowed] == []
    assert doc is not None
    assert raw == path.read_bytes()


# --------------------------------------------------------------------------------------------
# certify validate


def run(*args: str):
    """The CLI in English (the default is Chinese; tests/test_messages.py checks both)."""
    return CliRunner().invoke(main, [args[0], "--lang", "en", *args[1:]], catch_exceptions=False)


def test_cli_validate_rules_folder_is_clean():
    result = run("validate", str(ROOT / "rules"))
    assert result.exit_code == 0, result.output
    # the only problems are W201 warnings: parameters the policy leaves without a number (unset:)
    warnings = [line for line in result.stdout.splitlines() if line.strip()]
    assert all(" W201 warning: " in line for line in warnings), warnings
    assert re.search(rf"\b[1-9]\d* pack\(s\) checked: 0 error\(s\), {len(warnings)} warning\(s\)", result.stderr)


def test_cli_validate_broken_pack_exits_1_with_location_and_code():
    path = PACKS / "broken" / "E121-duplicate-id.yaml"
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert re.search(re.escape(str(path)) + r":46:\d+: E121 error", result.stdout), result.stdout
    assert "1 error(s)" in result.stderr


def test_cli_validate_folder_with_one_broken_pack_fails(tmp_path: Path):
    (tmp_path / "good.yaml").write_bytes((PACKS / "valid" / "minimal.yaml").read_bytes())
    (tmp_path / "bad.yaml").write_bytes((PACKS / "broken" / "E125-undeclared-enum-value.yaml").read_bytes())
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1
    assert f"{tmp_path / 'bad.yaml'}:45:" in result.stdout
    assert "good.yaml" not in result.stdout
    assert "2 pack(s) checked: 1 error(s)" in result.stderr


def test_cli_validate_warning_only_pack_exits_0_unless_strict():
    path = str(PACKS / "broken" / "W202-no-cite.yaml")
    result = run("validate", path)
    assert result.exit_code == 0
    assert "W202 warning" in result.stdout
    assert run("validate", "--strict", path).exit_code == 1


def test_cli_validate_json_format():
    path = PACKS / "broken" / "E120-unknown-param.yaml"
    result = run("validate", "--format", "json", str(path))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["schema"] == "certify.problems/1"
    problems = data["problems"]
    for p in problems:
        assert {"code", "line", "col", "path", "message", "file", "severity"} <= set(p)
        assert isinstance(p["line"], int) and isinstance(p["col"], int)
    by_code = {p["code"]: p for p in problems}
    assert by_code["E120"]["line"] == 50
    assert by_code["E120"]["path"] == "criteria.all[1].test.param"
    assert by_code["E120"]["severity"] == "error"
    assert "output_min" in by_code["E120"]["message"]  # the did-you-mean hint
    assert by_code["W200"]["line"] == 33
    assert by_code["W200"]["severity"] == "warning"


def test_cli_validate_json_clean_pack():
    result = run("validate", "--format", "json", str(PACKS / "valid" / "minimal.yaml"))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["problems"] == []


def test_cli_validate_missing_path_is_a_usage_error(tmp_path: Path):
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "no-such-pack.yaml")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.output
