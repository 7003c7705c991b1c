"""What it would take: suggestions computed from the pack, verified, minimal, and shown."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from fractions import Fraction
from typing import Any


from engine.load.data import RawEntity, load_entities
from engine.evaluate.evaluate import Decider
from engine.evaluate.normalize import normalise
from engine.evaluate.pipeline import load_pack
from engine.explain.batch import decide_files
from engine.evaluate.reference import evaluate
from engine.explain.whatif import describe, what_it_takes

from conftest import AS_OF, HUGUAN_PACK, HUGUAN_TOWNS, ROOT

PACKS = ROOT / "tests" / "packs" / "valid"


def _apply(pack: Any, values: dict[str, Any], option: dict[str, Any]) -> dict[str, Any]:
    """The entity's values with an option's changes, rebuilt from the JSON-ready record text."""
    out = dict(values)
    for change in option["changes"]:
        spec = pack.inputs[change["input"]]
        to = change["to"]
        if isinstance(to, str) and spec.unit is not None:
            out[change["input"]] = Fraction(to) * spec.unit.factor
            if spec.type == "count":
                out[change["input"]] = int(out[change["input"]])
        else:
            out[change["input"]] = to
    return out


def _fixture_towns(pack: Any) -> list[tuple[RawEntity, Any]]:
    return [(e, normalise(pack, e)) for e in load_entities(str(HUGUAN_TOWNS), [])]


def test_every_non_passing_fixture_town_gets_verified_suggestions(huguan_pack):
    decider = Decider(huguan_pack, "durable")
    seen = 0
    for entity, normalised in _fixture_towns(huguan_pack):
        verdict = evaluate(huguan_pack, normalised.values)
        result = what_it_takes(huguan_pack, normalised.values)
        if verdict.outcome == "pass":
            assert result["options"] == [] or all(o["changes"] for o in result["options"])
            continue
        seen += 1
        assert result["options"], f"{entity.id}: no suggestion"
        for option in result["options"]:
            changed = _apply(huguan_pack, normalised.values, option)
            # Both decision paths agree that the suggestion passes.
            assert evaluate(huguan_pack, changed).outcome == "pass", (entity.id, describe(option))
            assert decider.decide(changed).outcome == "pass", (entity.id, describe(option))
            # Minimal: undoing any one of its changes no longer passes.
            for change in option["changes"]:
                undone = dict(changed)
                if entity.fields.get(change["input"]) is None and change["input"] not in normalised.values:
                    undone.pop(change["input"])
                else:
                    undone[change["input"]] = normalised.values[change["input"]]
                assert evaluate(huguan_pack, undone).outcome != "pass", (entity.id, change["input"])
    assert seen == 13


def test_no_suggestion_contains_another(huguan_pack):
    for entity, normalised in _fixture_towns(huguan_pack):
        options = what_it_takes(huguan_pack, normalised.values)["options"]
        sets = [frozenset(c["input"] for c in o["changes"]) for o in options]
        for i, a in enumerate(sets):
            for j, b in enumerate(sets):
                assert i == j or not a < b, entity.id


def _town(pack: Any, town_id: str) -> Any:
    for entity, normalised in _fixture_towns(pack):
        if entity.id == town_id:
            return normalised
    raise KeyError(town_id)


def test_just_below_the_threshold_needs_the_difference(huguan_pack):
    # HG05: manufacturing at 99,999万元 against 10亿元; relaxed path blocked by origin 否.
    result = what_it_takes(huguan_pack, _town(huguan_pack, "HG05").values)
    first = result["options"][0]
    assert [c["input"] for c in first["changes"]] == ["lead_output"]
    change = first["changes"][0]
    assert change["kind"] == "increase"
    assert (change["from"], change["to"], change["by"]) == ("99999", "100000", "1")
    assert change["by_text"]["zh"] == "+1万元"
    assert change["requirement_text"]["zh"] == "≥ 10亿元"
    assert [v["id"] for v in first["via"]] == ["output_standard", "output_manufacturing"]
    # The relaxed path: one attestation, marked discretionary.
    relaxed = [o for o in result["options"] if any(v["id"] == "output_relaxed" for v in o["via"])]
    assert relaxed and relaxed[0]["discretionary"]
    assert [c["input"] for c in relaxed[0]["changes"]] == ["traditional_origin"]
    assert relaxed[0]["changes"][0]["to"] is True
    # Reclassifying the industry comes after changes of the same size that keep the category.
    kinds = [o["changes"][0]["kind"] for o in result["options"]]
    assert kinds.index("reclassify") > kinds.index("increase")


def test_missing_value_is_asked_for_with_each_path(huguan_pack):
    # HG17: manufacturing, output missing, relaxed path attested: either 10亿元 or (relaxed) 5000万元.
    result = what_it_takes(huguan_pack, _town(huguan_pack, "HG17").values)
    texts = [describe(o, "en") for o in result["options"]]
    assert result["options"][0]["changes"][0]["kind"] == "provide"
    assert any("≥ 10亿元" in t for t in texts) and any("≥ 5000万元" in t for t in texts), texts


def test_strict_operator_and_counts_and_at_least():
    pack, _ = load_pack(str(PACKS / "at-least.yaml"), AS_OF)
    values = normalise(pack, RawEntity("t", 1, "F1", None, {"rd_ratio": "1%", "patents": 2, "staff": 10,
                                                             "has_lab": False})).values
    result = what_it_takes(pack, values)
    assert evaluate(pack, values).outcome == "fail"
    # at least 2 of 4: every suggestion changes exactly two inputs, and each is verified.
    assert result["options"] and all(len(o["changes"]) == 2 for o in result["options"])
    for option in result["options"]:
        assert evaluate(pack, _apply(pack, values, option)).outcome == "pass"
    patents = [c for o in result["options"] for c in o["changes"] if c["input"] == "patents"]
    assert patents and patents[0]["to"] == "5" and patents[0]["by_text"]["en"] == "+3"


def test_not_and_not_in(tmp_path):
    pack, _ = load_pack(str(PACKS / "not.yaml"), AS_OF)
    values = normalise(pack, RawEntity("t", 1, "P1", None, {"land_area": "60亩", "major_accident": True,
                                                             "dishonest": "否", "industry": "real_estate"})).values
    result = what_it_takes(pack, values)
    assert len(result["options"]) == 1
    changes = {c["input"]: c for c in result["options"][0]["changes"]}
    assert set(changes) == {"major_accident", "industry"}
    assert changes["major_accident"]["to"] is False
    assert changes["industry"]["to"] != "real_estate"


UNSET_PACK = """\
format: 1
pack:
  id: test-unset
  version: "1.0.0"
  kind: eligibility
  entity: firm
  effective: "2024-01-01"
  title: {zh: 未定数值测试, en: unset parameter test}
  source: {title: 测试, number: 测试1号, date: "2024-01-01", seed: none.txt}
inputs:
  output:
    type: money
    unit: 万元
    label: {zh: 产值, en: output}
parameters:
  output_min:
    unset: 政策未给出数值
    cite: 一(一)
    label: {zh: 产值下限, en: minimum output}
criteria:
  id: ok
  title: {zh: 条件, en: conditions}
  cite: 一
  all:
    - id: output_enough
      cite: 一(一)
      title: {zh: 产值达标, en: output enough}
      test: {input: output, op: ">", param: output_min}
"""


def test_blocked_by_an_unset_parameter(tmp_path):
    path = tmp_path / "unset.yaml"
    path.write_text(UNSET_PACK, encoding="utf-8")
    pack, _ = load_pack(str(path), AS_OF)
    result = what_it_takes(pack, {"output": Fraction(10**9)})
    assert result["options"] == []
    assert [b["parameter"] for b in result["blocked_by"]] == ["output_min"]


def test_records_carry_suggestions_only_when_asked(huguan_pack):
    plain = list(decide_files(huguan_pack, [str(HUGUAN_TOWNS)], "reference"))
    assert all("what_it_takes" not in r for r in plain)
    asked = list(decide_files(huguan_pack, [str(HUGUAN_TOWNS)], "durable", what_it_takes=True))
    for rec in asked:
        assert ("what_it_takes" in rec) == (rec["outcome"] != "pass")
    json.dumps(asked, ensure_ascii=False)  # JSON-ready
    # Same results from worker processes.
    parallel = list(decide_files(huguan_pack, [str(HUGUAN_TOWNS)], "durable", workers=2, chunk_size=5,
                                 what_it_takes=True))
    assert [r.get("what_it_takes") for r in parallel] == [r.get("what_it_takes") for r in asked]


def test_cli_text_and_json_show_suggestions(tmp_path):
    base = [sys.executable, str(ROOT / "cli.py"), "evaluate", "--rules", str(HUGUAN_PACK), str(HUGUAN_TOWNS),
            "--as-of", "2024-06-30", "--what-it-takes"]
    text = subprocess.run(base, capture_output=True, text=True, cwd=ROOT)
    assert text.returncode == 0, text.stderr
    assert "如何才能通过" in text.stdout and "特色主导产业年产值 +1万元" in text.stdout
    out = tmp_path / "d.json"
    done = subprocess.run(base + ["--format", "json", "-o", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    hg05 = next(d for d in doc["decisions"] if d["id"] == "HG05")
    assert hg05["what_it_takes"]["options"][0]["changes"][0]["to"] == "100000"
    no_flag = subprocess.run(base[:-1] + ["--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert "what_it_takes" not in no_flag.stdout


def test_no_policy_terms_in_whatif():
    source = (ROOT / "engine" / "explain" / "whatif.py").read_text(encoding="utf-8")
    for term in ("lead_output", "manufacturing", "专业镇", "huguan", "亿元"):
        assert term not in source


def test_as_of_is_respected():
    pack, _ = load_pack(str(HUGUAN_PACK), dt.date(2024, 6, 30), {"manufacturing_output_min": ("--set", "8亿元")})
    values = normalise(pack, RawEntity("t", 1, "X", None, {
        "lead_category": "manufacturing", "lead_output": "7亿元", "leading_firms": 2, "supporting_firms": 15,
        **{k: "是" for k in ("heritage", "employment_driver", "market_demand", "single_township",
                             "supporting_capacity", "distinctive_products", "public_services", "environment")},
        "traditional_origin": "否", "industry_influence": "否", "prospects_considered": "否"})).values
    first = what_it_takes(pack, values)["options"][0]["changes"][0]
    assert first["to"] == "80000" and first["requirement_text"]["zh"] == "≥ 8亿元"
