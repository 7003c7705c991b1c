"""Format-2 suites assert everything format-1 suites did (issue 12 item 10): scoring cohorts
(points, subtotals, totals, places, lower bounds, provisional places, awards paid, held and split),
targets (not yet due told apart from not applicable) and `path` (the criterion that carried the
decision, or the case a `cases` node took). Each check is shown to fail on a wrong expectation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.commands.migrate import run_migrate
from engine.commands.packtest import run_suite
from engine.evaluate.pipeline import pack_format

from conftest import ROOT

RULES = ROOT / "rules"
FORMAT1 = ROOT / "tests" / "format1"


def _pack2(name: str, folder: Path) -> str:
    """A shipped pack in format 2 in `folder`: the one in rules/ when it is format 2, else its
    format-1 original converted by `certify migrate`."""
    source = RULES / name if pack_format(str(RULES / name)) == 2 else (
        FORMAT1 / name if (FORMAT1 / name).exists() else RULES / name)
    out = folder / name
    if pack_format(str(source)) == 2:
        out.write_bytes(source.read_bytes())
    else:
        assert run_migrate(str(source), str(out), "en") == 0
    return name


def _run(folder: Path, suite: dict[str, Any]) -> dict[str, list[str]]:
    path = folder / "s.tests.yaml"
    path.write_text(yaml.safe_dump(suite, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = run_suite(str(path))
    assert not [p for p in result.problems if p.severity == "error"], [p.format() for p in result.problems]
    return {c.name: list(c.diffs) for c in result.cases}


ZONE = {"zone_type": "优化发展型", "county_policy_issued": "是", "major_incident": "否", "last_place_prior_year": "否",
        "sales_total": 300000, "sales_growth": "20%", "tax_total": 30000, "tax_growth": "20%",
        "specialty_share": "80%", "specialty_share_growth": "5%", "above_scale_tax": 20000,
        "above_scale_sales": 200000, "above_scale_land": "400亩", "standard_factory_area": 0, "revitalised_land": 0}
COUNTS = ["new_listed_firms", "new_little_giants", "new_neeq_listings", "new_unicorns", "new_unicorn_cultivation",
          "new_gazelles", "new_high_tech", "new_above_scale", "new_unicorn_seeds", "new_gazelle_cultivation",
          "new_tech_firms_attracted", "national_talents", "provincial_teams", "provincial_talents", "lvyang_leaders",
          "lvyang_phds", "renovation_projects", "major_projects_started"]


def _cohort() -> list[dict[str, Any]]:
    """P1 = P2 (tied first on the total and every tie-break), P3 one place behind on every ranked
    figure, P4 only its type (every figure missing: points 0, lower bounds, place provisional)."""
    full = {**ZONE, **{c: 0 for c in COUNTS}}
    weaker = {**full, "sales_total": 200000, "sales_growth": "10%", "tax_total": 20000, "tax_growth": "10%",
              "specialty_share": "70%", "specialty_share_growth": "4%", "above_scale_tax": 10000,
              "above_scale_sales": 100000}
    return [{"id": "P1", **full}, {"id": "P2", **full}, {"id": "P3", **weaker}, {"id": "P4", "zone_type": "优化发展型"}]


def test_a_scoring_cohort_checks_points_totals_places_and_awards(tmp_path: Path) -> None:
    pack = _pack2("yangzhou-zone-evaluation.yaml", tmp_path)
    right = {
        "awards_paid": "900万元",  # P1, P2 split places 1-2: (500 + 300) / 2 each; P3 100; P4 held
        "groups": {"optimised_development": {"awards_paid": 900, "ranked": 4, "order": ["P1", "P2", "P3", "P4"]}},
        "entities": {
            "P1": {"ranks": {"place": 1}, "subtotals": {"total": "60分"}, "points": {"scale": "10分"},
                   "award": {"status": "awarded", "amount": "400万元", "shared_with": 2, "group": "optimised_development"},
                   "provisional": False, "lower_bounds": []},
            "P3": {"ranks": {"place": 3}, "subtotals": {"total": "56分"}, "award": {"status": "awarded", "amount": 100}},
            "P4": {"ranks": {"place": 4}, "subtotals": {"total": "0分"}, "provisional": True, "outcome": "undetermined",
                   "lower_bounds": ["scale", "total"], "points": {"scale": "0分"},
                   "award": {"status": "pending", "held": "100万元"},
                   "criteria": {"no_county_policy": "unknown"}, "consequences": {"interview": True}},
        },
    }
    suite = {"pack": pack, "as_of": "2024-12-31", "cohorts": [{"name": "c", "entities": _cohort(), "expect": right}]}
    diffs = _run(tmp_path, suite)
    assert list(diffs) == ["c: cohort totals", "c: P1", "c: P3", "c: P4"]
    assert all(d == [] for d in diffs.values()), diffs

    wrong = {
        "awards_paid": "1000万元",
        "groups": {"optimised_development": {"awards_paid": "800万元", "ranked": 3, "order": ["P2", "P1", "P3", "P4"]},
                   "key_development": {"ranked": 0}},
        "entities": {
            "P1": {"ranks": {"place": 2}, "award": {"amount": "500万元", "shared_with": 1}, "provisional": True},
            "P4": {"lower_bounds": ["scale"], "subtotals": {"total": "0分"}, "provisional": False,
                   "award": {"status": "pending", "held": "300万元"}},
            "P9": {"ranks": {"place": 1}},
        },
    }
    suite["cohorts"][0]["expect"] = wrong
    diffs = _run(tmp_path, suite)
    assert diffs["c: cohort totals"] == [
        "awards_paid: expected 1000万元, got 900万元",
        "groups.optimised_development.awards_paid: expected 800万元, got 900万元",
        "groups.optimised_development.ranked: expected 3, got 4",
        "groups.optimised_development.order: expected ['P2', 'P1', 'P3', 'P4'], got ['P1', 'P2', 'P3', 'P4']",
        "groups.key_development: no entity in this cohort"]
    assert diffs["c: P1"] == ["ranks.place: expected 2, got 1名", "award.shared_with: expected 1, got 2",
                              "award.amount: expected 500万元, got 400万元", "provisional.place: expected True, got False"]
    assert diffs["c: P4"][0] == "award.held: expected 300万元, got 100万元"
    assert diffs["c: P4"][1:] == ["provisional.place: expected False, got True",
                                  "lower_bounds.total: expected exact, got a lower bound (missing " +
                                  diffs["c: P4"][2].split("(missing ")[1]]
    assert diffs["c: P9"] == ["no such entity in the cohort"]


def test_a_cohort_runs_with_set_and_reads_fixture_expectations(tmp_path: Path) -> None:
    """`set:` on a cohort (a choice, like --set); a fixture entity's own `expect:` is checked too."""
    pack = _pack2("yangzhou-zone-evaluation.yaml", tmp_path)
    rows = _cohort()
    rows[0]["expect"] = {"ranks": {"place": 1}}
    fixture = tmp_path / "zones.yaml"
    fixture.write_text(yaml.safe_dump({"entities": rows}, allow_unicode=True), encoding="utf-8")
    expect = {"entities": {"P2": {"award": {"amount": "500万元"}, "choices": {"rank_ties": "dense"}}}}
    suite = {"pack": pack, "as_of": "2024-12-31",
             "cohorts": [{"name": "c", "fixtures": ["zones.yaml"], "set": {"rank_ties": "dense"}, "expect": expect}]}
    diffs = _run(tmp_path, suite)
    assert diffs == {"c: cohort totals": [], "c: P1": [], "c: P2": ["award.amount: expected 500万元, got 400万元"]}
    rows[0]["expect"] = {"ranks": {"place": 2}}
    fixture.write_text(yaml.safe_dump({"entities": rows}, allow_unicode=True), encoding="utf-8")
    assert _run(tmp_path, suite)["c: P1"] == ["ranks.place: expected 2, got 1名"]
    # a `set:` the pack refuses fails the cohort with the reason
    suite["cohorts"][0]["set"] = {"total_ties": "shared"}
    assert _run(tmp_path, suite) == {"c": ["set: --set names no parameter or choice: 'total_ties'; did you mean 'rank_ties'?"]}


def test_targets_tell_not_yet_due_from_not_applicable(tmp_path: Path) -> None:
    pack = _pack2("tancheng-industrial-targets.yaml", tmp_path)
    entity = {"id": "T", "new_above_scale_2020": 31}
    right = {"outcome": "pass", "targets": {"new_above_scale_2020_target": "met", "new_above_scale_2021_target": "not_yet_due",
                                            "firms_over_10yi_target": "not_yet_due"}}
    suite = {"pack": pack, "as_of": "2021-06-30", "cases": [{"name": "mid 2021", "entity": entity, "expect": right}]}
    assert _run(tmp_path, suite) == {"mid 2021": []}
    wrong = {"targets": {"new_above_scale_2020_target": "not_yet_due", "new_above_scale_2021_target": "unknown",
                         "new_above_scale_2099_target": "met", "firms_over_10yi_target": "later"}}
    suite["cases"][0]["expect"] = wrong
    diffs = _run(tmp_path, suite)["mid 2021"]
    assert diffs[0].startswith("targets.new_above_scale_2020_target: expected not_yet_due, got met (value 31")
    assert diffs[1:] == ["targets.new_above_scale_2021_target: expected unknown, got not_yet_due (value unknown, target 30家)",
                         "targets.new_above_scale_2099_target: no such target",
                         "targets.firms_over_10yi_target: expected status must be one of met, not_met, not_yet_due, "
                         "not_applicable, unknown, not 'later'"]
    # a criterion not applicable for another reason than its due date is not "not yet due"
    suite["as_of"] = "2023-03-01"
    suite["cases"][0]["expect"] = {"targets": {"new_above_scale_2021_target": "unknown"}}
    assert _run(tmp_path, suite) == {"mid 2021": []}


def test_targets_assert_not_applicable_apart_from_not_yet_due(tmp_path: Path) -> None:
    """A target switched off by a choice (applies_when false) is `not_applicable` under `targets:`;
    one whose date has not come is `not_yet_due`; each fails when the other is expected."""
    pack = _pack2("huguan-town-targets.yaml", tmp_path)
    county = {"id": "C", "city_level_towns": [{"name": "青崖镇"}],
              "county_level_towns": [{"name": str(i)} for i in range(10)]}
    right = {"targets": {"city_level_towns_upper": "not_applicable", "city_level_towns_target": "met"}}
    suite = {"pack": pack, "as_of": "2025-01-31", "cases": [{"name": "due", "entity": county, "expect": right}]}
    assert _run(tmp_path, suite) == {"due": []}
    suite["cases"][0]["expect"] = {"targets": {"city_level_towns_upper": "not_yet_due"}}
    assert _run(tmp_path, suite) == {"due": ["targets.city_level_towns_upper: expected not_yet_due, got not_applicable"
                                             " (value 1个, target 2个)"]}
    # before its date the same target is not yet due, not "not applicable"
    suite["as_of"] = "2024-06-30"
    suite["cases"][0]["expect"] = {"targets": {"city_level_towns_target": "not_applicable"}}
    assert _run(tmp_path, suite)["due"][0].startswith(
        "targets.city_level_towns_target: expected not_applicable, got not_yet_due")

def test_path_names_the_criterion_met_or_the_case_taken(tmp_path: Path) -> None:
    pack = _pack2("huguan-specialized-town.yaml", tmp_path)
    town = {"id": "T", "lead_category": "light_industry_crafts", "lead_output": "3亿元", "leading_firms": 1,
            "supporting_firms": 10, "traditional_origin": "否"}
    suite = {"pack": pack, "as_of": "2024-06-30",
             "cases": [{"name": "a", "entity": town, "expect": {"path": "output_standard"}},
                       {"name": "b", "entity": town, "expect": {"path": {"output_standard": "case2"}}},
                       {"name": "c", "entity": town, "expect": {"path": "output_relaxed"}},
                       {"name": "d", "entity": town, "expect": {"path": {"output_standard": "case1",
                                                                         "nothing_here": "case1"}}},
                       {"name": "e", "entity": {**town, "lead_category": None}, "expect": {"path": {"output_standard": "case1"}}}]}
    diffs = _run(tmp_path, suite)
    assert diffs["a"] == [] and diffs["b"] == []
    assert diffs["c"] == ["path: expected criterion output_relaxed to be met, got not_met"]
    assert diffs["d"] == ["path.output_standard: expected case1, got case2",
                          "path.nothing_here: expected case1, got no such criterion"]
    assert diffs["e"] == ["path.output_standard: expected case1, got undecided1"]
