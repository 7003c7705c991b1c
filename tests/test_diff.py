"""`certify diff`: two versions of a pack over the same towns — which towns change outcome and why.

The towns that must flip when 10亿 becomes 8亿 are computed here without the engine: a small
hand-written reading of the Huguan policy (three-valued, as fixtures/README.md describes) is run
over the raw fixture YAML with each threshold."""

from __future__ import annotations

import json
import os
import re
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from engine.commands.diff import diff_decisions, diff_files, read_version, DiffSourceError
from engine.evaluate.pipeline import load_pack

from conftest import AS_OF, HUGUAN_PACK, HUGUAN_TOWNS

YI, WAN = Fraction(10**8), Fraction(10**4)


# ---------------------------------------------------------------------------------------------
# An independent reading of the policy (no engine code)


def amount(raw: Any) -> Fraction | None:
    """Yuan from 12亿元 / 9.9999亿元 / 99999万元 / 28000 (a bare number is 万元)."""
    if raw is None:
        return None
    match = re.fullmatch(r"([\d.]+)\s*(亿元|亿|万元|万|元)?", str(raw).strip())
    assert match, raw
    factor = {"亿元": YI, "亿": YI, "万元": WAN, "万": WAN, "元": 1, None: WAN}[match.group(2)]
    return Fraction(match.group(1)) * factor


def t_and(*xs: bool | None) -> bool | None:
    return False if False in xs else (None if None in xs else True)


def t_or(*xs: bool | None) -> bool | None:
    return True if True in xs else (None if None in xs else False)


def at_least(value: Fraction | int | None, bound: Fraction) -> bool | None:
    return None if value is None else Fraction(value) >= bound


def attested(town: dict[str, Any], key: str) -> bool | None:
    value = town.get(key)
    if isinstance(value, dict):
        value = value.get("value")
    return None if value is None else value in ("是", True)


def hand_outcome(town: dict[str, Any], manufacturing_min: Fraction) -> str:
    output = amount(town.get("lead_output"))
    category = town.get("lead_category")
    if category is None:
        standard = None
    elif category == "manufacturing":
        standard = at_least(output, manufacturing_min)
    else:
        standard = at_least(output, 2 * YI)
    relaxed = t_and(attested(town, "traditional_origin"), attested(town, "industry_influence"),
                    attested(town, "prospects_considered"), at_least(output, 5000 * WAN))
    root = t_and(
        attested(town, "heritage"), attested(town, "employment_driver"), attested(town, "market_demand"),
        attested(town, "single_township"), attested(town, "supporting_capacity"), t_or(standard, relaxed),
        at_least(town.get("leading_firms"), Fraction(1)), at_least(town.get("supporting_firms"), Fraction(10)),
        attested(town, "distinctive_products"), attested(town, "public_services"), attested(town, "environment"),
    )
    return {True: "pass", False: "fail", None: "undetermined"}[root]


TOWNS = yaml.safe_load(HUGUAN_TOWNS.read_text(encoding="utf-8"))["entities"]


def test_the_hand_reading_agrees_with_the_fixture_expectations():
    # guards the independent computation below: it must reproduce every hand-derived outcome
    for town in TOWNS:
        assert hand_outcome(town, 10 * YI) == town["expect"]["outcome"], town["id"]


@pytest.fixture(scope="module")
def lowered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = HUGUAN_PACK.read_text(encoding="utf-8")
    assert text.count("value: 10亿元") == 1
    path = tmp_path_factory.mktemp("diff") / "huguan-8yi.yaml"
    path.write_text(text.replace("value: 10亿元", "value: 8亿元").replace('version: "1.0.0"', 'version: "1.1.0"'),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def result(lowered: Path) -> dict[str, Any]:
    return diff_files(str(HUGUAN_PACK), str(lowered), [str(HUGUAN_TOWNS)], AS_OF)


def test_10yi_to_8yi_names_exactly_the_towns_that_flip(result):
    expected = {t["id"] for t in TOWNS if hand_outcome(t, 10 * YI) != hand_outcome(t, 8 * YI)}
    assert expected, "the fixture should contain towns between 8亿 and 10亿 that depend on the threshold"
    for town in TOWNS:
        if town["id"] in expected:  # what the issue says they are
            assert town["lead_category"] == "manufacturing"
            assert 8 * YI <= amount(town["lead_output"]) < 10 * YI
    flipped = {c["entity"]["id"] for c in result["outcome_changes"]}
    assert flipped == expected
    assert result["counts"]["outcome_changed"] == len(expected)
    assert result["counts"]["transitions"] == {"fail→pass": len(expected)}


def test_each_flip_says_why(result):
    assert result["pack_changes"]["parameters"] == [{
        "name": "manufacturing_output_min", "cite": "二(四)",
        "label": {"zh": "制造业类主导产业产值下限", "en": "minimum lead-industry output, manufacturing"},
        "old": "10亿元", "new": "8亿元",
    }]
    assert result["old"]["version"] == "1.0.0" and result["new"]["version"] == "1.1.0"
    for change in result["outcome_changes"]:
        causes = [c for c in change["criteria"] if c["cause"]]
        assert [c["id"] for c in causes] == ["output_manufacturing"]
        (cause,) = causes
        assert (cause["old"], cause["new"]) == ("not_met", "met")
        assert "manufacturing_output_min (二(四)): 10亿元 → 8亿元" in cause["why"]
        assert cause["test"]["old_threshold"] == "100000" and cause["test"]["new_threshold"] == "80000"
        # the composite criteria above the cause are listed as consequences
        consequences = {c["id"] for c in change["criteria"] if not c["cause"]}
        assert {"output_standard", "concentration_output", "concentration"} <= consequences


def test_a_town_that_passes_anyway_is_a_criteria_only_change(result):
    # a manufacturing town in [8亿, 10亿) that already passes on the relaxed path
    expected = {t["id"] for t in TOWNS if t.get("lead_category") == "manufacturing"
                and t.get("lead_output") is not None and 8 * YI <= amount(t["lead_output"]) < 10 * YI
                and hand_outcome(t, 10 * YI) == hand_outcome(t, 8 * YI)}
    assert {c["entity"]["id"] for c in result["criteria_changes"]} == expected


def test_the_same_pack_has_no_changes():
    pack, _ = load_pack(str(HUGUAN_PACK), AS_OF)
    same = diff_decisions(pack, pack, [str(HUGUAN_TOWNS)], "reference")
    assert same["counts"]["outcome_changed"] == 0 and same["outcome_changes"] == [] and same["criteria_changes"] == []
    assert all(not v for v in same["pack_changes"].values())


def test_a_changed_operator_is_named_as_a_definition_change(tmp_path):
    text = HUGUAN_PACK.read_text(encoding="utf-8")
    line = 'test: {input: lead_output, op: ">=", param: manufacturing_output_min}'
    assert text.count(line) == 1
    strict = tmp_path / "strict.yaml"
    strict.write_text(text.replace(line, line.replace('">="', '">"')), encoding="utf-8")
    towns = tmp_path / "towns.yaml"
    base = next(t for t in TOWNS if t["id"] == "HG04")  # exactly 10亿元, passes with >=
    towns.write_text(yaml.safe_dump({"entities": [{k: v for k, v in base.items() if k != "expect"}]},
                                    allow_unicode=True), encoding="utf-8")
    result = diff_files(str(HUGUAN_PACK), str(strict), [str(towns)], AS_OF, "reference")
    (change,) = result["outcome_changes"]
    assert (change["old_outcome"], change["new_outcome"]) == ("pass", "fail")
    (cause,) = [c for c in change["criteria"] if c["cause"]]
    assert cause["id"] == "output_manufacturing"
    assert "definition changed: lead_output >= manufacturing_output_min → lead_output > manufacturing_output_min" \
        in cause["why"]
    assert result["pack_changes"]["criteria_changed"][0]["id"] == "output_manufacturing"


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def test_git_revisions_and_the_cli_views(tmp_path, lowered):
    repo = tmp_path / "repo"
    (repo / "rules").mkdir(parents=True)
    pack = repo / "rules" / "huguan.yaml"
    pack.write_text(HUGUAN_PACK.read_text(encoding="utf-8"), encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "10亿")
    pack.write_text(lowered.read_text(encoding="utf-8"), encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "8亿")
    runner = CliRunner()
    cwd = os.getcwd()
    try:
        os.chdir(repo)
        args = ["diff", "--lang", "en", "HEAD~1:rules/huguan.yaml", "HEAD:rules/huguan.yaml", "--data", str(HUGUAN_TOWNS),
                "--as-of", "2024-06-30", "--engine", "reference"]
        text = runner.invoke(main, args)
        markdown = runner.invoke(main, args + ["--format", "markdown"])
        as_json = runner.invoke(main, args + ["--format", "json"])
        failing = runner.invoke(main, args + ["--fail-on-change"])
        bad_rev = runner.invoke(main, ["diff", "--lang", "en", "nosuchrev:rules/huguan.yaml", "HEAD:rules/huguan.yaml",
                                       "--data", str(HUGUAN_TOWNS)])
    finally:
        os.chdir(cwd)
    assert text.exit_code == 0, text.output
    assert "2 of 27 entities change outcome (fail→pass: 2)" in text.output
    assert "parameter manufacturing_output_min (二(四)): 10亿元 → 8亿元" in text.output
    assert "HG05 石磨镇: fail → pass" in text.output
    assert markdown.exit_code == 0
    assert "\n- parameter manufacturing_output_min (二(四)): 10亿元 → 8亿元\n" in markdown.output
    assert "| HG05 石磨镇 | fail | pass | 二(四) output_manufacturing: not_met → met" in markdown.output
    data = json.loads(as_json.output)
    assert data["schema"] == "certify.diff/1" and data["old"]["label"] == "HEAD~1:rules/huguan.yaml"
    assert failing.exit_code == 1
    assert bad_rev.exit_code == 2 and "git show nosuchrev:rules/huguan.yaml failed" in bad_rev.output


def test_a_version_with_errors_compares_nothing(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(HUGUAN_PACK.read_text(encoding="utf-8").replace("value: 10亿元", "value: 10亿园"),
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["diff", "--lang", "en", str(HUGUAN_PACK), str(broken), "--data", str(HUGUAN_TOWNS)])
    assert result.exit_code == 4
    assert "E123" in result.output


def test_a_spec_that_is_neither_file_nor_revision(tmp_path):
    with pytest.raises(DiffSourceError, match="neither a file nor a git revision"):
        read_version("no-such-file.yaml", str(tmp_path))


def test_scoring_packs_compare_ranks_totals_and_awards(tmp_path):
    pack = HUGUAN_PACK.parent / "yangzhou-zone-evaluation.yaml"
    zones = HUGUAN_TOWNS.parent / "yangzhou-zones.yaml"
    if not pack.exists() or not zones.exists():
        pytest.skip("the Yangzhou scoring pack is not in this checkout")
    text = pack.read_text(encoding="utf-8")
    line = "rank: {input: sales_total, full: 10, step: 0.5, order: higher_first}"
    assert text.count(line) == 1
    changed = tmp_path / "yangzhou-step1.yaml"
    changed.write_text(text.replace(line, line.replace("step: 0.5", "step: 2")), encoding="utf-8")
    result = diff_files(str(pack), str(changed), [str(zones)], AS_OF, "reference")
    assert result["kind"] == "scoring"
    assert len(result["pack_changes"]["indicators_changed"]) == 1
    assert result["counts"]["total_changed"] > 0
    for row in result["entity_changes"]:
        assert set(row) - {"entity"} <= {"rank", "total", "award", "points", "vetoes", "consequences"}
    same = diff_files(str(pack), str(pack), [str(zones)], AS_OF, "reference")
    assert same["entity_changes"] == [] and same["counts"]["total_changed"] == 0
    # the command line reads both versions as format 2 (converted on load): the rank is a value
    out = CliRunner().invoke(main, ["diff", "--lang", "en", str(pack), str(changed), "--data", str(zones), "--engine",
                                    "reference", "--as-of", "2024-12-31"])
    assert out.exit_code == 0 and "value definition changed: sales_total_rank" in out.output
    assert "  K02 甲二工业集中区: fail → fail\n    invoiced sales: 9.5分 → 8分\n" in out.output
    assert "    total score: 89.8分 → 89.2分\n" in out.output
