"""A changed threshold changes decisions with no code change: by editing the pack, or by an
override on the command line (--set), and the record says which pack and which override."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine.compile.model import CompiledPack
from engine.evaluate.pipeline import load_pack, parse_overrides

from conftest import AS_OF, HUGUAN_PACK, criterion

ORIGINAL_LINE = "value: 10亿元"
RELAXED_LINE = "value: 8亿元"


@pytest.fixture(scope="module")
def lowered_pack(tmp_path_factory: pytest.TempPathFactory) -> CompiledPack:
    text = HUGUAN_PACK.read_text(encoding="utf-8")
    assert text.count(ORIGINAL_LINE) == 1
    changed = text.replace(ORIGINAL_LINE, RELAXED_LINE)
    assert changed != text and RELAXED_LINE in changed and ORIGINAL_LINE not in changed
    path = tmp_path_factory.mktemp("packs") / "huguan-8yi.yaml"
    path.write_text(changed, encoding="utf-8")
    pack, warnings = load_pack(str(path), AS_OF)
    assert warnings == []
    assert pack.params["manufacturing_output_min"].written == "8亿元"
    return pack


@pytest.fixture(scope="module")
def overridden_pack() -> CompiledPack:
    overrides = parse_overrides(["manufacturing_output_min=8亿元"])
    pack, _ = load_pack(str(HUGUAN_PACK), AS_OF, overrides)
    return pack


ENGINES = ["durable", "reference"]
CASES = [
    # output, outcome with 10亿元, outcome with 8亿元
    ("9亿元", "fail", "pass"),
    ("7亿元", "fail", "fail"),
    ("12亿元", "pass", "pass"),
    ("8亿元", "fail", "pass"),  # exactly the new threshold: >= includes it
    ("79999.99万元", "fail", "fail"),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("output", "before", "after"), CASES)
def test_edited_pack_moves_the_manufacturing_threshold(decide, town, huguan_pack, lowered_pack, engine,
                                                       output, before, after):
    town["lead_output"] = output  # relaxed-path attestations stay 否
    original = decide(town, huguan_pack, engine)
    edited = decide(town, lowered_pack, engine)
    assert original["outcome"] == before
    assert edited["outcome"] == after
    assert criterion(original, "output_manufacturing")["status"] == {"pass": "met", "fail": "not_met"}[before]
    assert criterion(edited, "output_manufacturing")["status"] == {"pass": "met", "fail": "not_met"}[after]
    assert criterion(edited, "output_relaxed")["status"] == "not_met"
    assert criterion(edited, "output_manufacturing")["test"]["threshold"] == "80000"  # 万元
    assert criterion(original, "output_manufacturing")["test"]["threshold"] == "100000"
    assert edited["record"]["overrides"] == {}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("output", "before", "after"), CASES)
def test_override_moves_the_manufacturing_threshold(decide, town, huguan_pack, overridden_pack, engine,
                                                    output, before, after):
    town["lead_output"] = output
    original = decide(town, huguan_pack, engine)
    overridden = decide(town, overridden_pack, engine)
    assert original["outcome"] == before
    assert overridden["outcome"] == after
    assert original["record"]["overrides"] == {}
    assert overridden["record"]["overrides"] == {
        "manufacturing_output_min": {"value": "8亿元", "from": "--set"}
    }
    test = criterion(overridden, "output_manufacturing")["test"]
    assert test["parameter_overridden_by"] == "--set"
    assert test["threshold"] == "80000" and test["threshold_text"] == "8亿元"
    assert "parameter_overridden_by" not in criterion(original, "output_manufacturing")["test"]
    # an override of one parameter leaves the others alone
    assert criterion(overridden, "relaxed_output")["test"]["threshold"] == "5000"


def test_override_of_the_light_threshold_does_not_touch_manufacturing(decide, town):
    pack, _ = load_pack(str(HUGUAN_PACK), AS_OF, parse_overrides(["light_agri_output_min=8亿元"]))
    town["lead_output"] = "9亿元"
    assert decide(town, pack)["outcome"] == "fail"
    town["lead_category"] = "light_industry_crafts"
    assert decide(town, pack)["outcome"] == "pass"
    town["lead_output"] = "7亿元"
    assert decide(town, pack)["outcome"] == "fail"


def test_pack_sha256_identifies_the_pack_file(decide, town, huguan_pack, lowered_pack, overridden_pack):
    original = decide(town, huguan_pack)["record"]
    edited = decide(town, lowered_pack)["record"]
    overridden = decide(town, overridden_pack)["record"]
    assert original["pack_sha256"] == hashlib.sha256(HUGUAN_PACK.read_bytes()).hexdigest()
    assert edited["pack_sha256"] == hashlib.sha256(Path(lowered_pack.file).read_bytes()).hexdigest()
    assert edited["pack_sha256"] != original["pack_sha256"]
    # the override leaves the file, and so its hash, unchanged; the record names the override instead
    assert overridden["pack_sha256"] == original["pack_sha256"]
    assert overridden["overrides"] != original["overrides"]
