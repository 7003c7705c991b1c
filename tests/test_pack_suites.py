"""The pack test suites beside the rule packs run under pytest too, so CI and officers run the
same cases; and the runner itself reports failures readably and fails when nothing ran."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.commands.packtest import coverage_gaps, find_suites, run_suite

ROOT = Path(__file__).resolve().parent.parent
SUITES = find_suites([str(ROOT / "rules")])


def test_every_pack_has_a_suite():
    packs = sorted(p.name for p in (ROOT / "rules").glob("*.yaml") if not p.name.endswith(".tests.yaml"))
    suites = sorted(Path(s).name.replace(".tests.yaml", ".yaml") for s in SUITES)
    assert packs == suites


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: Path(s).name)
def test_suite_passes_with_full_coverage(suite):
    result = run_suite(suite)
    assert not result.problems, [p.format() for p in result.problems]
    assert result.cases, "the suite ran no case"
    failures = {c.name: c.diffs for c in result.cases if not c.passed}
    assert failures == {}
    assert coverage_gaps(result) == {}


def _write_suite(tmp_path: Path, expect: str) -> Path:
    pack = (ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml").read_text(encoding="utf-8")
    (tmp_path / "pack.yaml").write_text(pack, encoding="utf-8")
    suite = tmp_path / "pack.tests.yaml"
    suite.write_text(
        "pack: pack.yaml\nas_of: \"2024-06-30\"\ncases:\n"
        "  - name: wrong on purpose\n"
        "    entity: {id: X1, lead_category: manufacturing, lead_output: 9亿元, leading_firms: 1,\n"
        "             supporting_firms: 10, heritage: 是, employment_driver: 是, market_demand: 是,\n"
        "             single_township: 是, supporting_capacity: 是, traditional_origin: 否,\n"
        "             industry_influence: 否, prospects_considered: 否, distinctive_products: 是,\n"
        "             public_services: 是, environment: 是}\n"
        f"    expect: {expect}\n",
        encoding="utf-8",
    )
    return suite


def test_wrong_expectation_fails_with_a_readable_difference(tmp_path):
    suite = _write_suite(tmp_path, "{outcome: pass, criteria: {output_manufacturing: met}}")
    result = run_suite(str(suite))
    (case,) = result.cases
    assert not case.passed
    assert "outcome: expected pass, got fail" in case.diffs
    assert any(d.startswith("criteria.output_manufacturing: expected met, got not_met") and "90,000万元" in d
               for d in case.diffs), case.diffs


def test_cli_exit_codes_and_junit(tmp_path):
    runner = CliRunner()
    bad = _write_suite(tmp_path, "{outcome: pass}")
    junit = tmp_path / "junit.xml"
    result = runner.invoke(main, ["test", "--lang", "en", str(bad), "--junit", str(junit)])
    assert result.exit_code == 1
    assert "FAIL  wrong on purpose" in result.output
    assert "<failure" in junit.read_text(encoding="utf-8")
    good = _write_suite(tmp_path, "{outcome: fail, criteria: {output_manufacturing: not_met}}")
    assert runner.invoke(main, ["test", "--lang", "en", str(good)]).exit_code == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(main, ["test", "--lang", "en", str(empty)])
    assert result.exit_code == 1  # no test ran is a failure, not a silent pass
