"""The durable path made cheaper per entity (issue 14, item 6), with nothing else changed:

- the direct loop reuses one durable session per rule group (assert, fire, retract) instead of
  creating and deleting a session per entity: the same rules fire as in a fresh session, the
  session is empty after each entity, and a failure retires the session;
- `Projector` writes the same fact slots as `fact_slots`;
- `Decider` reads each distinct set of fired rules once: the verdict is the one `_verdict`
  reads, and every caller gets its own copy.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_property import HUGUAN_PACK, raw_entities, under_test

import engine.evaluate.durable_adapter as adapter
from engine.core.problems import DecisionError
from engine.evaluate.durable_adapter import DurableSession
from engine.evaluate.evaluate import Decider
from engine.evaluate.facts import Projector, fact_slots
from engine.evaluate.normalize import normalise
from engine.evaluate.pipeline import load_pack
from engine.load.data import RawEntity, load_entities

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2024, 6, 30)
# format-1 eligibility packs: in rules/ until they move to format 2, then under tests/format1/
FORMAT1_PACKS = [p for p in sorted((ROOT / "rules").glob("*.yaml")) + sorted((ROOT / "tests" / "format1").glob("*.yaml"))
                 if not p.name.endswith(".tests.yaml") and p.read_text(encoding="utf-8").find("\nformat: 1") >= 0
                 and "kind: eligibility" in p.read_text(encoding="utf-8")]


def test_a_reused_session_fires_what_a_fresh_one_fires_and_is_left_empty() -> None:
    pack, _ = load_pack(str(HUGUAN_PACK), AS_OF)
    towns = [normalise(pack, e).values for e in load_entities(str(ROOT / "fixtures" / "huguan-towns.csv"), [])]
    reused = DurableSession(pack.ruleset, "reused", "direct")
    fresh = DurableSession(pack.ruleset, "fresh", "host")  # a new session per entity, deleted after
    sid = reused._live[0]
    for values in towns + towns[::-1] + [towns[0], towns[0], {}, {}]:  # the same fact twice in a row too
        slots = fact_slots(pack, values)
        assert reused.decide(slots) == fresh.decide(slots)
        assert adapter._engine_c.get_facts(reused._handle, sid) in ("[]", [], "")
    assert reused._live[0] == sid  # one session all along


def test_a_failure_retires_the_session_and_the_next_entity_is_decided_right(monkeypatch: pytest.MonkeyPatch) -> None:
    pack, _ = load_pack(str(HUGUAN_PACK), AS_OF)
    session = DurableSession(pack.ruleset, "retire", "direct")
    slots = fact_slots(pack, {})
    expected = DurableSession(pack.ruleset, "retire-host", "host").decide(slots)
    before = session._live[0]
    real = adapter._engine_c.retract_fact

    def broken(handle: Any, text: str) -> Any:
        raise RuntimeError("simulated engine fault")

    monkeypatch.setattr(adapter._engine_c, "retract_fact", broken)
    with pytest.raises(DecisionError, match="while firing rules"):
        session.decide(slots)
    monkeypatch.setattr(adapter._engine_c, "retract_fact", real)
    assert session._live[0] != before  # the session that still holds the fact is left alone
    assert session.decide(slots) == expected


def test_a_rule_queued_by_the_retraction_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # No compiled pattern is negative, so nothing can fire when the fact is retracted; were a rule
    # queued then, it would run for the next entity: the adapter refuses, and retires the session.
    pack, _ = load_pack(str(HUGUAN_PACK), AS_OF)
    session = DurableSession(pack.ruleset, "queued", "direct")
    slots = fact_slots(pack, {})
    real_retract, real_start = adapter._engine_c.retract_fact, adapter._engine_c.start_action_for_state
    retracted: list[bool] = []

    def retract(handle: Any, text: str) -> Any:
        retracted.append(True)
        return real_retract(handle, text)

    def start(handle: Any, state: Any) -> Any:
        return ("{}", '{"ghost": {}}') if retracted else real_start(handle, state)

    monkeypatch.setattr(adapter._engine_c, "retract_fact", retract)
    monkeypatch.setattr(adapter._engine_c, "start_action_for_state", start)
    before = session._live[0]
    with pytest.raises(DecisionError, match="retracted"):
        session.decide(slots)
    assert session._live[0] != before


NUMBER = st.one_of(st.none(), st.integers(-2**64, 2**64), st.fractions(max_denominator=1000),
                   st.integers(-10, 10).map(Fraction), st.integers(2**62 - 2, 2**62 + 2).map(Fraction),
                   st.integers(0, 10**10))
YES_NO = st.one_of(st.none(), st.booleans())
_PACKS: dict[Path, Any] = {}


def _pack(path: Path) -> Any:
    if path not in _PACKS:
        _PACKS[path] = load_pack(str(path), AS_OF)[0]
    return _PACKS[path]


@pytest.mark.parametrize("path", FORMAT1_PACKS, ids=lambda p: p.stem)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_projector_writes_what_fact_slots_writes(path: Path, data: st.DataObject) -> None:
    # values as normalise types them: yes/no, an enum's id, an exact number; or missing
    pack = _pack(path)
    values: dict[str, Any] = {}
    for test in pack.tests:
        if test.input in values:
            continue
        if test.op in ("attested", "is_true", "is_false"):
            value = data.draw(YES_NO, label=test.input)
        elif test.op in ("in", "not_in"):
            value = data.draw(st.one_of(st.none(), st.sampled_from(test.universe or ("x",))), label=test.input)
        else:
            value = data.draw(NUMBER, label=test.input)
        if value is not None:
            values[test.input] = value
    assert Projector(pack)(values) == fact_slots(pack, values)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_verdict_read_once_is_the_verdict_and_each_caller_gets_a_copy(data: st.DataObject) -> None:
    put = under_test(str(HUGUAN_PACK))
    fields = data.draw(raw_entities(put), label="fields")
    values = normalise(put.pack, RawEntity("g", 1, "G", None, fields)).values
    decider = _decider(put.pack)
    first = decider.decide(values)
    fired = decider._session.decide(fact_slots(put.pack, values))
    assert first.key() == decider._verdict(fired).key() == Decider(put.pack, "reference").decide(values).key()
    first.statuses.clear()
    first.flags.clear()
    assert decider.decide(values).key() == decider._verdict(fired).key()


_DECIDERS: dict[int, Decider] = {}


def _decider(pack: Any) -> Decider:
    if id(pack) not in _DECIDERS:
        _DECIDERS[id(pack)] = Decider(pack, "durable")
    return _DECIDERS[id(pack)]
