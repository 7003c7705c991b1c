"""Messages for officers are in Chinese and English: every problem validate, lint and the test
runner produce carries a Chinese `message_zh` that is not the English text, the CLI speaks
Chinese by default and English with `--lang en`, and codes are the same in both."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.commands.lint import Band, check_bands, lint_file
from engine.commands.packtest import line_text, run_suite
from engine.validate.validate import validate_file

ROOT = Path(__file__).resolve().parent.parent
BROKEN = sorted((ROOT / "tests" / "packs" / "broken").glob("*.yaml"))
SHIPPED = sorted(p for p in (ROOT / "rules").glob("*.yaml") if not p.name.endswith(".tests.yaml"))
CJK = re.compile(r"[\u4e00-\u9fff]")


def _check_bilingual(problems):
    assert problems
    for p in problems:
        assert p.message_zh, f"{p.code} has no Chinese message: {p.message}"
        assert p.message_zh != p.message, f"{p.code}: Chinese message is the English one: {p.message}"
        assert CJK.search(p.message_zh), p.message_zh
        assert p.format("zh").startswith(p.location() + f": {p.code} ")
        assert p.format("en").startswith(p.location() + f": {p.code} ")


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_every_broken_pack_problem_has_a_chinese_message(path):
    _check_bilingual(validate_file(str(path))[2])


def test_lint_findings_on_the_shipped_packs_are_bilingual():
    problems = [p for pack in SHIPPED for p in lint_file(str(pack))]
    _check_bilingual(problems)


def test_band_findings_are_bilingual():
    findings = check_bands([Band(0, 10), Band(5, 20), Band(30, 40), Band(50, 50)])
    assert {f.code for f in findings} == {"W206", "W207"}
    for f in findings:
        assert CJK.search(f.message_zh) and f.message_zh != f.message


def test_schema_messages_name_the_type_to_write(tmp_path):
    pack = tmp_path / "pack.yaml"
    pack.write_text("format: 1\npack: [1, 2]\n", encoding="utf-8")
    problems = validate_file(str(pack))[2]
    _check_bilingual(problems)
    assert any("映射" in p.message_zh for p in problems if p.path == "pack")


def test_a_misspelt_field_suggests_the_right_one(tmp_path):
    text = (ROOT / "tests" / "packs" / "valid" / "minimal.yaml").read_text(encoding="utf-8")
    pack = tmp_path / "pack.yaml"
    pack.write_text(text.replace("  annual_output:\n    type: money", "  annual_output:\n    tpye: money"),
                    encoding="utf-8")
    problems = [p for p in validate_file(str(pack))[2] if p.code == "E110"]
    assert problems and "是否应为 'type'？" in problems[0].message_zh
    assert "did you mean 'type'?" in problems[0].message


def test_suite_problems_and_failure_lines_are_bilingual(tmp_path):
    suite = tmp_path / "x.tests.yaml"
    (tmp_path / "pack.yaml").write_bytes((ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml").read_bytes())
    suite.write_text(
        "pack: pack.yaml\nas_of: '2024-06-30'\nextra: 1\n"
        "cases:\n"
        "  - name: wrong on purpose\n"
        "    entity: {id: T1, lead_category: manufacturing, lead_output: 1亿元}\n"
        "    expect: {outcome: pass, criteria: {no_such: met}}\n",
        encoding="utf-8")
    result = run_suite(str(suite), "reference")
    _check_bilingual(result.problems)
    (case,) = result.cases
    assert not case.passed
    zh = [line_text(d, "zh") for d in case.diffs]
    assert any(line.startswith("outcome：应为 pass，实际为 ") for line in zh), zh
    assert any("没有这个条件" in line for line in zh), zh
    assert all(not CJK.search(line_text(d, "en").split(":")[0]) for d in case.diffs)


def _messages(output: str) -> list[str]:
    """The message part of each problem line (after `CODE severity: `)."""
    return [m.group(1) for m in re.finditer(r": [EW]\d{3} \S+: (.*)", output)]


def test_cli_speaks_chinese_by_default_and_english_with_lang_en():
    broken = str(ROOT / "tests" / "packs" / "broken" / "E120-unknown-param.yaml")
    runner = CliRunner()
    for command in ("validate", "lint"):
        zh = runner.invoke(main, [command, broken])
        en = runner.invoke(main, [command, "--lang", "en", broken])
        assert zh.exit_code == en.exit_code == 1
        codes = re.findall(r": ([EW]\d{3}) ", zh.output)
        assert codes and codes == re.findall(r": ([EW]\d{3}) ", en.output)  # same codes, same order
        assert all(CJK.search(m) for m in _messages(zh.output))
        assert "未知参数 'output_mn'；是否应为 'output_min'？" in zh.output
        assert _messages(en.output) and not any(CJK.search(m) for m in _messages(en.output))
        assert "unknown parameter 'output_mn'; did you mean 'output_min'?" in en.output


def test_cli_test_and_diff_speak_both_languages(tmp_path):
    runner = CliRunner()
    suite = str(ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.tests.yaml")
    assert "通过" in runner.invoke(main, ["test", suite, "--engine", "reference"]).output
    assert " passed, 0 failed" in runner.invoke(main, ["test", "--lang", "en", suite, "--engine", "reference"]).output
    pack = ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"
    changed = tmp_path / "changed.yaml"
    changed.write_text(pack.read_text(encoding="utf-8").replace("value: 10亿元", "value: 8亿元", 1), encoding="utf-8")
    towns = str(ROOT / "fixtures" / "huguan-towns.yaml")
    args = ["diff", str(pack), str(changed), "--data", towns, "--as-of", "2024-06-30", "--engine", "reference"]
    zh = runner.invoke(main, args)
    en = runner.invoke(main, args + ["--lang", "en"])
    assert zh.exit_code == en.exit_code == 0, zh.output
    assert "个结果改变" in zh.output and "规则包的改动" in zh.output
    assert "entities change outcome" in en.output and not CJK.search(en.output.splitlines()[0].split(": ")[-1])


def test_data_and_override_problems_are_bilingual(tmp_path):
    """A sample of data problems (bad rows, a duplicate id) and override problems."""
    from engine.evaluate.pipeline import load_pack, parse_overrides
    from engine.explain.batch import decide_files
    from engine.core.problems import ProblemsError
    import datetime as dt

    pack = load_pack(str(ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"), dt.date(2024, 6, 30))[0]
    twice = tmp_path / "twice.yaml"
    twice.write_text("- {id: T1, lead_output: 十亿}\n- {id: T1, lead_output: 1亿元}\n", encoding="utf-8")
    problems: list = []
    list(decide_files(pack, [str(ROOT / "fixtures" / "huguan-bad-rows.csv"), str(twice)], "reference", problems))
    assert {"E131", "E132"} <= {p.code for p in problems}
    _check_bilingual(problems)
    for sets in (["no_such_parameter=1亿元"], ["manufacturing_output_min=十亿"]):
        with pytest.raises(ProblemsError) as error:
            load_pack(str(ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"), dt.date(2024, 6, 30),
                      parse_overrides(sets))
        _check_bilingual(error.value.problems)
