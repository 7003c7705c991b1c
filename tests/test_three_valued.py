"""Three-valued logic end to end: missing data makes a decision undetermined only when it matters,
the record names what is missing, and a near miss says how far short it is."""

from __future__ import annotations

import pytest

from conftest import criterion

ENGINES = ["durable", "reference"]
TOP_LEVEL_ATTESTATIONS = [
    # (input, the criterion it decides)
    ("heritage", "heritage"),
    ("employment_driver", "employment"),
    ("market_demand", "market"),
    ("single_township", "concentration_single_township"),
    ("supporting_capacity", "concentration_capacity"),
    ("distinctive_products", "products"),
    ("public_services", "services"),
    ("environment", "environment"),
]


def missing_names(record):
    return [m.get("input") or m.get("parameter") for m in record["missing_inputs"]]


@pytest.mark.parametrize("engine", ENGINES)
def test_base_town_passes(decide, town, engine):
    record = decide(town, engine=engine)
    assert record["outcome"] == "pass"
    assert record["missing_inputs"] == [] and record["unknown_inputs"] == []


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("blank", ["absent", None, "", "   "])
def test_missing_output_is_undetermined_and_named(decide, town, engine, blank):
    if blank == "absent":
        del town["lead_output"]
    else:
        town["lead_output"] = blank
    record = decide(town, engine=engine)
    assert record["outcome"] == "undetermined"
    assert missing_names(record) == ["lead_output"]
    (entry,) = record["missing_inputs"]
    assert entry["attestation"] is False
    assert entry["why"] == ("not given" if blank == "absent" else "empty")
    assert criterion(record, "output_manufacturing")["status"] == "unknown"
    assert criterion(record, "output_manufacturing")["missing"] == ["lead_output"]
    assert criterion(record, "concentration_output")["status"] == "unknown"
    assert criterion(record, "concentration")["status"] == "unknown"
    assert criterion(record, "leading_firm")["status"] == "met"


@pytest.mark.parametrize("engine", ENGINES)
def test_unreadable_output_is_undetermined_with_reason(decide, town, engine):
    town["lead_output"] = "十二亿"  # Chinese numerals are not guessed at
    record = decide(town, engine=engine)
    assert record["outcome"] == "undetermined"
    assert missing_names(record) == ["lead_output"]
    assert record["missing_inputs"][0]["why"].startswith("invalid:")
    assert [p["code"] for p in record["data_problems"]] == ["E131"]


@pytest.mark.parametrize("engine", ENGINES)
def test_known_failure_beats_unknown(decide, town, engine):
    del town["lead_output"]
    town["supporting_firms"] = 5
    record = decide(town, engine=engine)
    assert record["outcome"] == "fail"
    assert criterion(record, "supporting_firm_count")["status"] == "not_met"
    assert criterion(record, "leading_firm")["status"] == "not_met"
    assert criterion(record, "concentration")["status"] == "unknown"
    gap = criterion(record, "supporting_firm_count")["test"]
    assert gap["gap"] == "5" and gap["gap_text"] == "5户"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("attestation", "criterion_id"), TOP_LEVEL_ATTESTATIONS)
def test_missing_attestation_is_undetermined_and_named(decide, town, engine, attestation, criterion_id):
    del town[attestation]
    record = decide(town, engine=engine)
    assert record["outcome"] == "undetermined"
    assert missing_names(record) == [attestation]
    assert record["missing_inputs"][0]["attestation"] is True
    item = criterion(record, criterion_id)
    assert item["status"] == "unknown" and item["missing"] == [attestation]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("attestation", "criterion_id"), TOP_LEVEL_ATTESTATIONS)
def test_attestation_no_fails(decide, town, engine, attestation, criterion_id):
    town[attestation] = "否"
    record = decide(town, engine=engine)
    assert record["outcome"] == "fail"
    assert criterion(record, criterion_id)["status"] == "not_met"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("attestation", ["traditional_origin", "industry_influence", "prospects_considered"])
def test_missing_relaxed_attestation_does_not_matter_when_standard_path_met(decide, town, engine, attestation):
    town.update(traditional_origin="是", industry_influence="是", prospects_considered="是")
    del town[attestation]
    record = decide(town, engine=engine)
    assert record["outcome"] == "pass"
    assert criterion(record, "output_relaxed")["status"] == "unknown"
    assert criterion(record, "output_standard")["status"] == "met"
    assert record["missing_inputs"] == []
    assert [u["input"] for u in record["unknown_inputs"]] == [attestation]


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_category_passes_by_relaxed_path(decide, town, engine):
    del town["lead_category"]
    town.update(lead_output="12亿元", traditional_origin="是", industry_influence="是", prospects_considered="是")
    record = decide(town, engine=engine)
    assert record["outcome"] == "pass"
    standard = criterion(record, "output_standard")
    assert standard["status"] == "unknown"
    assert standard["branch"] == "undecided1"
    assert standard["missing"] == ["lead_category"]
    assert criterion(record, "output_relaxed")["status"] == "met"
    assert criterion(record, "relaxed_output")["status"] == "met"
    assert criterion(record, "concentration_output")["status"] == "met"
    # no case was chosen, so neither category threshold was applied
    assert {"output_manufacturing", "output_light_agri"} <= set(record["not_applicable"])
    assert record["missing_inputs"] == []


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_category_without_relaxed_path_is_undetermined(decide, town, engine):
    del town["lead_category"]
    record = decide(town, engine=engine)
    assert record["outcome"] == "undetermined"
    assert missing_names(record) == ["lead_category"]
    assert criterion(record, "output_relaxed")["status"] == "not_met"


@pytest.mark.parametrize("engine", ENGINES)
def test_gap_for_one_wan_short(decide, town, engine):
    town["lead_output"] = "99999万元"
    record = decide(town, engine=engine)
    assert record["outcome"] == "fail"
    item = criterion(record, "output_manufacturing")
    assert item["status"] == "not_met"
    test = item["test"]
    assert test["unit"] == "万元"
    assert test["value"] == "99999" and test["threshold"] == "100000"
    assert test["gap"] == "1"
    assert test["gap_text"] == "1万元"
    # the relaxed floor (5000万元) is met, so it has no gap
    relaxed = criterion(record, "relaxed_output")
    assert relaxed["status"] == "met" and "gap" not in relaxed["test"]


@pytest.mark.parametrize("engine", ENGINES)
def test_gap_below_one_yuan_precision(decide, town, engine):
    town["lead_output"] = "999999999元"  # one yuan short of 10亿元
    item = criterion(decide(town, engine=engine), "output_manufacturing")
    assert item["status"] == "not_met"
    assert item["test"]["gap"] == "0.0001"  # 1元 in 万元, exactly
    assert item["test"]["gap_text"] == "0.0001万元"


def test_a_pack_whose_root_is_a_single_test_still_names_the_missing_input(tmp_path):
    import datetime as dt

    from engine.evaluate.pipeline import load_pack
    from engine.explain.batch import decide_files

    pack_file = tmp_path / "one.yaml"
    pack_file.write_text(
        "format: 1\npack: {id: one, version: \"1.0.0\", kind: eligibility, entity: firm, title: {zh: 一},\n"
        "  source: {title: t, seed: x.txt}}\ninputs:\n  a: {type: attestation, label: {zh: 甲}}\n"
        "parameters: {}\ncriteria: {id: root, cite: 一, test: {attested: a}}\n", encoding="utf-8")
    data = tmp_path / "d.yaml"
    data.write_text("entities: [{id: X}, {id: Y, a: 是}]\n", encoding="utf-8")
    pack, _ = load_pack(str(pack_file), dt.date(2024, 1, 1))
    first, second = decide_files(pack, [str(data)])
    assert first["outcome"] == "undetermined"
    assert [m["input"] for m in first["missing_inputs"]] == ["a"]
    assert second["outcome"] == "pass" and second["missing_inputs"] == []


def test_a_one_test_pack_lists_its_criterion_with_value_and_threshold(tmp_path):
    import datetime as dt

    from engine.evaluate.pipeline import load_pack
    from engine.explain.batch import decide_files

    pack_file = tmp_path / "one.yaml"
    pack_file.write_text(
        "format: 1\npack: {id: one, version: \"1.0.0\", kind: eligibility, entity: firm, title: {zh: 一},\n"
        "  source: {title: t, seed: x.txt}}\ninputs:\n  loan: {type: money, unit: 万元, label: {zh: 贷款额}}\n"
        "parameters:\n  loan_max: {value: 200万元, cite: 八, label: {zh: 上限}}\n"
        "criteria: {id: root, cite: 八, test: {input: loan, op: \"<=\", param: loan_max}}\n", encoding="utf-8")
    data = tmp_path / "d.yaml"
    data.write_text("entities: [{id: X, loan: 250万元}]\n", encoding="utf-8")
    pack, _ = load_pack(str(pack_file), dt.date(2024, 1, 1))
    (record,) = decide_files(pack, [str(data)])
    assert record["outcome"] == "fail"
    (criterion,) = record["criteria"]
    assert criterion["id"] == "root" and criterion["status"] == "not_met"
    assert criterion["test"]["gap_text"] == "50万元"


def test_evaluating_a_scoring_pack_points_to_certify_score():
    import datetime as dt

    import pytest

    from engine.evaluate.pipeline import load_pack
    from engine.core.problems import ProblemsError

    with pytest.raises(ProblemsError) as caught:
        load_pack("tests/format1/rules/yangzhou-zone-evaluation.yaml", dt.date(2024, 12, 31))
    (problem,) = caught.value.problems
    assert problem.code == "E112" and "certify score" in problem.message and problem.line > 1
