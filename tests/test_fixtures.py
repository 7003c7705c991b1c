"""Every hand-worked town in fixtures/huguan-towns.yaml is decided exactly as its `expect` says,
by durable-rules and by the reference evaluator: the format-1 pack with the format-1 expectations
(tests/format1/; the format-2 pack and expectations are checked by its suite in rules/)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from engine.compile.model import CompiledPack
from engine.explain.batch import decide_files

from conftest import HUGUAN_TOWNS_F1 as HUGUAN_TOWNS, criterion

with open(HUGUAN_TOWNS, encoding="utf-8") as handle:
    TOWN_IDS = [e["id"] for e in yaml.safe_load(handle)["entities"]]

STATUS_OF_OUTCOME = {"pass": "met", "fail": "not_met", "undetermined": "unknown"}
FLAG_STATUS = {True: "met", False: "not_met", "unknown": "unknown"}
# The node whose met child is the town's "path" in the fixtures' `expect`.
PATH_PARENT = "concentration_output"


@pytest.fixture(scope="module", params=["durable", "reference"])
def decided(request: pytest.FixtureRequest, huguan_pack: CompiledPack) -> dict[str, dict[str, Any]]:
    problems: list = []
    records = list(decide_files(huguan_pack, [str(HUGUAN_TOWNS)], request.param, problems))
    assert problems == [], [p.as_dict() for p in problems]
    by_id = {r["entity"]["id"]: r for r in records}
    assert len(by_id) == len(records) == len(TOWN_IDS)
    return by_id


def test_fixture_file_has_all_towns() -> None:
    assert TOWN_IDS == [f"HG{i:02d}" for i in range(1, 28)]


@pytest.mark.parametrize("town_id", TOWN_IDS)
def test_town_decided_as_expected(town_id: str, decided: dict[str, dict[str, Any]],
                                  huguan_pack: CompiledPack) -> None:
    record = decided[town_id]
    expect = record["_expect"]
    why = expect.get("why", "")

    assert record["outcome"] == expect["outcome"], why

    for node_id, status in expect["criteria"].items():
        if node_id == huguan_pack.root.id:
            # the root's status is the outcome; it is not listed among the criteria
            assert STATUS_OF_OUTCOME[record["outcome"]] == status, why
        else:
            assert criterion(record, node_id)["status"] == status, f"{node_id}: {why}"

    flags = {f["id"]: f["status"] for f in record["flags"]}
    assert flags == {k: FLAG_STATUS[v] for k, v in expect["flags"].items()}, why

    if "path" in expect:
        parent = huguan_pack.node(PATH_PARENT)
        met = [c.id for c in parent.children if criterion(record, c.id)["status"] == "met"]
        assert met == [expect["path"]], why
        chosen = criterion(record, expect["path"])
        if chosen["kind"] == "cases":
            # the branch taken is a real case, and the criterion it applies is met
            assert chosen["branch"].startswith("case"), chosen["branch"]
            index = int(chosen["branch"][len("case"):]) - 1
            then = huguan_pack.node(expect["path"]).cases[index][1]
            assert criterion(record, then.id)["status"] == "met"
            assert chosen["branch_detail"]["en"].startswith(f"case {index + 1} applies")

    if expect["outcome"] == "undetermined":
        assert record["missing_inputs"], "an undetermined record must say what is missing"
    elif expect["outcome"] == "pass":
        assert record["missing_inputs"] == [], "nothing is missing for a town that passes"
