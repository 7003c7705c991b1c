"""Shared fixtures: the repository root, the compiled Huguan pack, and a whole-pipeline decider."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

import pytest
from postgres import Unavailable, start as start_postgres

from engine.load.data import RawEntity
from engine.evaluate.evaluate import Decider
from engine.explain.records import Explainer
from engine.compile.model import CompiledPack
from engine.evaluate.normalize import normalise
from engine.evaluate.pipeline import load_pack

ROOT = Path(__file__).resolve().parent.parent
HUGUAN_PACK = ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"
HUGUAN_TOWNS = ROOT / "fixtures" / "huguan-towns.yaml"
# The same towns with their format-1 expectations (criteria under format-1 names), beside the
# format-1 original of the pack (HUGUAN_PACK): rules/ and fixtures/ are format 2.
HUGUAN_TOWNS_F1 = ROOT / "tests" / "format1" / "fixtures" / "huguan-towns.yaml"
AS_OF = dt.date(2024, 6, 30)

# A manufacturing town that meets every condition on the standard path (12亿元 >= 10亿元) and
# not on the relaxed one (its three relaxed-path attestations are 否). Tests copy and edit it.
PASSING_MANUFACTURING_TOWN: dict[str, Any] = {
    "lead_category": "manufacturing",
    "lead_output": "12亿元",
    "leading_firms": 2,
    "supporting_firms": 15,
    "heritage": "是",
    "employment_driver": "是",
    "market_demand": "是",
    "single_township": "是",
    "supporting_capacity": "是",
    "traditional_origin": "否",
    "industry_influence": "否",
    "prospects_considered": "否",
    "distinctive_products": "是",
    "public_services": "是",
    "environment": "是",
    "has_tech_centre": False,
    "has_distinguished_firm": False,
}

DecideFn = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def huguan_pack() -> CompiledPack:
    pack, warnings = load_pack(str(HUGUAN_PACK), AS_OF)
    assert warnings == [], warnings
    return pack


@pytest.fixture
def town() -> dict[str, Any]:
    """A fresh copy of PASSING_MANUFACTURING_TOWN to edit."""
    return dict(PASSING_MANUFACTURING_TOWN)


@pytest.fixture(scope="session")
def decide(huguan_pack: CompiledPack) -> DecideFn:
    """decide(fields, pack=huguan_pack, engine="durable", entity_id="T1") -> decision record.

    Runs the whole pipeline on a dict of raw fields: RawEntity -> normalise -> Decider.decide ->
    Explainer.explain. Deciders are cached per (pack, engine); durable sessions are per entity.
    """
    deciders: dict[tuple[int, str], tuple[CompiledPack, Decider, Explainer]] = {}

    def run(fields: dict[str, Any], pack: CompiledPack | None = None, engine: str = "durable",
            entity_id: str = "T1") -> dict[str, Any]:
        pack = pack or huguan_pack
        key = (id(pack), engine)
        if key not in deciders:
            # keep the pack in the value so its id() cannot be reused while cached
            deciders[key] = (pack, Decider(pack, engine), Explainer(pack, engine))
        _, decider, explainer = deciders[key]
        entity = RawEntity("test", 1, entity_id, None, dict(fields))
        normalised = normalise(pack, entity)
        verdict = decider.decide(normalised.values)
        return explainer.explain(entity_id, None, entity.fields, normalised, verdict, "test:1")

    return run


def criterion(record: dict[str, Any], criterion_id: str) -> dict[str, Any]:
    """The record's entry for one criterion (fails the test if it is absent)."""
    found = [c for c in record["criteria"] if c["id"] == criterion_id]
    assert len(found) == 1, f"criterion {criterion_id} appears {len(found)} times in the record"
    return found[0]


@pytest.fixture(scope="session")
def criterion_of() -> Callable[[dict[str, Any], str], dict[str, Any]]:
    return criterion


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden text outputs in tests/golden/ from the current output "
                          "(then read the diff before committing)")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def postgres_server() -> Any:
    """A private PostgreSQL server for the session (tests/postgres.py), or a skip naming why not."""
    try:
        server = start_postgres()
    except Unavailable as error:
        pytest.skip(f"PostgreSQL unavailable: {error}")
    yield server
    server.stop()
