"""The adapter's two loops over durable-rules — its own Host loop and the direct loop the engine
uses by default — fire exactly the same rules, and the adapter turns durable's failures into
DecisionError instead of a silent wrong answer."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_property import HUGUAN_PACK, raw_entities, under_test

from engine.load.data import RawEntity
from engine.evaluate.durable_adapter import DurableSession
from engine.evaluate.facts import fact_slots
from engine.evaluate.normalize import normalise
from engine.core.problems import DecisionError

_SESSIONS: dict[str, DurableSession] = {}


def session(loop: str) -> DurableSession:
    if loop not in _SESSIONS:
        _SESSIONS[loop] = DurableSession(under_test(str(HUGUAN_PACK)).pack.ruleset, f"t-{loop}", loop)
    return _SESSIONS[loop]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_direct_and_host_loops_fire_identical_rules(data: st.DataObject) -> None:
    put = under_test(str(HUGUAN_PACK))
    fields = data.draw(raw_entities(put), label="fields")
    slots = fact_slots(put.pack, normalise(put.pack, RawEntity("g", 1, "G", None, fields)).values)
    direct = session("direct").decide(slots)
    host = session("host").decide(slots)
    assert direct == host
    assert sum(1 for name in direct if name.startswith("decision.")) >= 1


def test_sessions_are_deleted_so_more_than_1024_entities_work() -> None:
    # durable allows 1024 live sessions per ruleset; a leak would fail with MemoryError here.
    put = under_test(str(HUGUAN_PACK))
    slots = fact_slots(put.pack, {})
    for loop in ("direct", "host"):
        fresh = DurableSession(put.pack.ruleset, f"leak-{loop}", loop)
        results = {tuple(fresh.decide(slots)) for _ in range(1100)}
        assert len(results) == 1


@pytest.mark.parametrize("loop", DurableSession.LOOPS)
def test_a_fact_no_rule_matches_is_an_error_not_silence(loop: str) -> None:
    ruleset = {"only": {"all": [{"m": {"$and": [{"kind": "entity"}, {"x": 1}]}}], "run": "only"}}
    with pytest.raises(DecisionError, match="no rule matched"):
        DurableSession(ruleset, "nomatch", loop).decide({"x": 2})


def test_a_ruleset_durable_refuses_is_an_error() -> None:
    nested = {"$or": [{"$and": [{"$gte": {f"x{i}": 1}}, {f"y{i}": 1}]} for i in range(20)]}
    ruleset = {"r": {"all": [{"m": {"$and": [{"kind": "entity"}, nested]}}], "run": "r"}}
    with pytest.raises(DecisionError, match="refused the compiled ruleset"):
        DurableSession(ruleset, "refused")


def test_unknown_loop_is_rejected() -> None:
    with pytest.raises(ValueError):
        DurableSession({"r": {"all": [{"m": {"kind": "entity"}}], "run": "r"}}, "x", "threads")


def _wide_pack(tmp_path, n: int):
    inputs = "".join(f"  a{i}:\n    type: attestation\n    label: {{zh: 条件{i}}}\n" for i in range(n))
    # two halves: one list may hold at most 48 criteria (E150), a pack 80 tests (E151)
    nodes = "".join(
        f"    - id: half{h}\n      cite: 一\n      all:\n"
        + "".join(f"        - id: c{i}\n          cite: 一\n          test: {{attested: a{i}}}\n"
                  for i in range(h * n // 2, (h + 1) * n // 2))
        for h in range(2)
    )
    text = (
        "format: 1\npack:\n  id: wide\n  version: \"1.0.0\"\n  kind: eligibility\n  entity: firm\n"
        "  title: {zh: 宽}\n  source: {title: 测试, seed: none.txt}\ninputs:\n" + inputs
        + "parameters: {}\ncriteria:\n  id: root\n  cite: 一\n  all:\n" + nodes
    )
    path = tmp_path / "wide.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_packs_wider_than_durables_activation_queue_are_split_into_groups(tmp_path) -> None:
    # durable-rules fails an assert with error 303 once more than 64 activations queue on one
    # fact (and its stack of pending conditions holds 64); 80 criteria must therefore be decided over
    # several facts, and still agree.
    import datetime as dt

    from engine.evaluate.evaluate import Decider
    from engine.evaluate.pipeline import load_pack

    pack, _ = load_pack(str(_wide_pack(tmp_path, 80)), dt.date(2024, 1, 1))
    assert pack.rule_groups >= 2
    durable, reference = Decider(pack, "durable"), Decider(pack, "reference")
    all_yes = {f"a{i}": True for i in range(80)}
    cases = [all_yes, {}, {**all_yes, "a79": False}, {k: v for k, v in all_yes.items() if k != "a3"}]
    outcomes = []
    for values in cases:
        verdict = durable.decide(values)
        assert verdict.key() == reference.decide(values).key()
        assert len(verdict.statuses) == 82  # 80 criteria and the two halves
        outcomes.append(verdict.outcome)
    assert outcomes == ["pass", "undetermined", "fail", "undetermined"]
