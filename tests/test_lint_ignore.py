"""Silencing lint findings with a reason (`lint: {ignore: ...}` in a pack), `--show-ignored`, stale
entries (W214), and `--format github` workflow annotations."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from cli import main
from engine.commands.lint import IGNORED, lint_file

ROOT = Path(__file__).resolve().parent.parent
FOUR_HIGHS = ROOT / "tests" / "format1" / "rules" / "lianyungang-four-highs.yaml"
UNSET = ["investment_intensity_min", "output_per_mu_min", "tax_per_mu_min", "local_employment_min"]


def _pack(tmp_path: Path, block: str) -> Path:
    """The four-highs pack (four deliberate W201) with its lint block replaced by `block`."""
    text = FOUR_HIGHS.read_text(encoding="utf-8")
    text = text[: text.index("\nlint:\n")] + "\n" + block
    path = tmp_path / "pack.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _w201(problems):
    return {re.sub(r"^parameters\.", "", p.path): p.severity for p in problems if p.code == "W201"}


def test_the_shipped_packs_silence_their_deliberate_warnings_with_reasons():
    problems = lint_file(str(FOUR_HIGHS))
    assert _w201(problems) == {name: IGNORED for name in UNSET}
    for p in problems:
        if p.severity == IGNORED:
            assert "(ignored: 政策未给出数值" in p.message and "（已忽略：政策未给出数值" in p.message_zh


def test_without_the_block_the_warnings_are_back(tmp_path):
    assert _w201(lint_file(str(_pack(tmp_path, "")))) == {name: "warning" for name in UNSET}


def test_a_code_wide_reason_silences_every_finding_of_that_code(tmp_path):
    pack = _pack(tmp_path, 'lint:\n  ignore:\n    W201: "政策未给出数值, 待主管部门确定"\n')
    assert _w201(lint_file(str(pack))) == {name: IGNORED for name in UNSET}


def test_a_per_finding_reason_silences_only_that_finding(tmp_path):
    pack = _pack(tmp_path, "lint:\n  ignore:\n    W201:\n      tax_per_mu_min: 原文只说亩均税收高\n"
                           "      parameters.local_employment_min: 原文只说本地就业高\n")
    assert _w201(lint_file(str(pack))) == {"investment_intensity_min": "warning", "output_per_mu_min": "warning",
                                           "tax_per_mu_min": IGNORED, "local_employment_min": IGNORED}


def test_a_reason_is_mandatory(tmp_path):
    for block in ("lint:\n  ignore:\n    W201: ''\n", "lint:\n  ignore:\n    W201: ~\n",
                  "lint:\n  ignore:\n    W201: {tax_per_mu_min: ' '}\n", "lint:\n  ignore:\n    W201: [tax_per_mu_min]\n"):
        problems = lint_file(str(_pack(tmp_path, block)))
        bad = [p for p in problems if p.code == "E112" and p.path.startswith("lint.ignore")]
        assert bad, (block, problems)
        assert all(p.severity != IGNORED for p in problems)


def test_errors_cannot_be_silenced(tmp_path):
    problems = lint_file(str(_pack(tmp_path, "lint:\n  ignore:\n    E120: 不要报错\n")))
    assert any(p.code == "E112" and p.path.startswith("lint.ignore") for p in problems)


def test_a_stale_entry_is_reported(tmp_path):
    pack = _pack(tmp_path, "lint:\n  ignore:\n    W201:\n      tax_per_mu_min: 原文只说亩均税收高\n"
                           "      no_such_parameter: 早已删除\n    W204: 没有这种情况\n")
    stale = [p for p in lint_file(str(pack)) if p.code == "W214"]
    assert sorted(p.path for p in stale) == ["lint.ignore.W201.no_such_parameter", "lint.ignore.W204"]
    assert all(p.severity == "warning" and p.message_zh for p in stale)


def test_cli_hides_silenced_findings_unless_asked(tmp_path):
    runner = CliRunner()
    for command in ("validate", "lint"):
        plain = runner.invoke(main, [command, "--strict", "--lang", "en", str(FOUR_HIGHS)])
        assert plain.exit_code == 0, plain.output
        assert "W201" not in plain.stdout and "4 ignored" in plain.output
        shown = runner.invoke(main, [command, "--strict", "--show-ignored", "--lang", "en", str(FOUR_HIGHS)])
        assert shown.exit_code == 0
        assert shown.stdout.count(" W201 ignored: ") == 4 and "政策未给出数值" in shown.stdout
    bare = _pack(tmp_path, "")
    assert runner.invoke(main, ["lint", "--strict", str(bare)]).exit_code == 1
    assert runner.invoke(main, ["validate", "--strict", str(bare)]).exit_code == 1


def test_github_annotations(tmp_path):
    broken = ROOT / "tests" / "packs" / "broken" / "E120-unknown-param.yaml"
    result = CliRunner().invoke(main, ["validate", "--format", "github", "--lang", "en", str(broken)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"::error file={broken},line=50,col=46,title=E120::unknown parameter 'output_mn'; did you mean " \
           "'output_min'? [criteria.all[1].test.param]" in lines
    assert any(line.startswith(f"::warning file={broken},line=33,col=3,title=W200::") for line in lines)
    assert all(line.startswith("::") for line in lines)
    lint = CliRunner().invoke(main, ["lint", "--format", "github", "--show-ignored", str(FOUR_HIGHS)])
    assert lint.stdout.count("::notice ") >= 4 and "title=W201::" in lint.stdout


def test_github_annotations_escape_what_the_runner_reads():
    from engine.core.problems import Problem
    from engine.report.problems import render_problems_github
    import io

    out = io.StringIO()
    render_problems_github([Problem("a,b:c.yaml", 3, 4, "E112", "50% of\nit")], out)
    assert out.getvalue() == "::error file=a%2Cb%3Ac.yaml,line=3,col=4,title=E112::50%25 of%0Ait\n"
