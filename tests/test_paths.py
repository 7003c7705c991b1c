"""Paths validate, lint and test read: never outside the folder being checked (E175, not read),
never a FIFO or device (W213, skipped); a symlink that stays inside the folder is fine."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from cli import main
from engine.commands.lint import collect_packs
from engine.commands.packtest import collect_suites, run_suite

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "tests" / "packs" / "valid" / "minimal.yaml"
SECRET = "CORPUS-SECRET-4f9a1c"


def _tree(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    (rules / "sub").mkdir(parents=True)
    (rules / "real.yaml").write_bytes(MINIMAL.read_bytes())
    os.symlink(rules / "real.yaml", rules / "sub" / "alias.yaml")  # inside: read
    (tmp_path / "secret.yaml").write_text(f"token: {SECRET}\n", encoding="utf-8")
    os.symlink(tmp_path / "secret.yaml", rules / "leak.yaml")  # outside: refused
    os.mkfifo(rules / "pipe.yaml")  # would block a reader: skipped
    return rules


def test_collect_packs_refuses_outside_and_skips_non_regular(tmp_path):
    rules = _tree(tmp_path)
    files, missing, problems = collect_packs([str(rules)])
    assert sorted(Path(f).name for f in files) == ["alias.yaml", "real.yaml"] and missing == []
    assert sorted((Path(p.file).name, p.code, p.severity) for p in problems) == [
        ("leak.yaml", "E175", "error"), ("pipe.yaml", "W213", "warning")]
    # a file named on the command line: its own folder is the one being checked
    files, _, problems = collect_packs([str(rules / "leak.yaml")])
    assert files == [] and [p.code for p in problems] == ["E175"]


def test_cli_never_prints_the_secret(tmp_path):
    rules = _tree(tmp_path)
    for command in ("validate", "lint"):
        result = CliRunner().invoke(main, [command, "--lang", "en", str(rules)])
        assert result.exit_code == 1
        assert "E175" in result.output and "W213" in result.output and SECRET not in result.output


def test_a_suite_pack_outside_its_folder_is_not_read(tmp_path):
    rules = _tree(tmp_path)
    suite = rules / "x.tests.yaml"
    suite.write_text("pack: ../secret.yaml\ncases: []\n", encoding="utf-8")
    result = run_suite(str(suite))
    assert [p.code for p in result.problems] == ["E175"] and result.problems[0].line == 1
    assert SECRET not in result.problems[0].message + result.problems[0].message_zh
    os.symlink(tmp_path / "secret.yaml", rules / "y.tests.yaml")
    files, problems = collect_suites([str(rules)])
    assert [Path(f).name for f in files] == ["x.tests.yaml"] and [p.code for p in problems] == ["E175"]
