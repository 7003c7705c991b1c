"""The format-2 evaluate → record → output path made cheaper (issue 14), with nothing else changed:

- each criteria stage's fact is written by a `Projector` built once per pack: the same slots as
  `fact_slots` on random values for every stage of every format-2 pack in rules/;
- the Runner reads each distinct set of fired rules once: the records are the ones a Runner that
  reads every set anew gives (and durable-rules is still asked for every entity);
- what each unknown criterion needs is worked out once per node and entity: the same records as
  the walk that started afresh for every criterion.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.evaluate import run2
from engine.evaluate.evaluate import Projector, fact_slots
from engine.evaluate.pipeline import decide_files2, load_pack2

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2024, 6, 30)
FORMAT2_PACKS = [p for p in sorted((ROOT / "rules").glob("*.yaml"))
                 if not p.name.endswith(".tests.yaml") and "\nformat: 2" in p.read_text(encoding="utf-8")]
_PACKS: dict[Path, Any] = {}

YES_NO = st.one_of(st.none(), st.booleans())
NUMBER = st.one_of(st.none(), st.integers(-10**12, 10**12),
                   st.builds(Fraction, st.integers(-10**12, 10**12), st.integers(1, 10**4)))


def _pack(path: Path) -> Any:
    if path not in _PACKS:
        _PACKS[path] = load_pack2(str(path), AS_OF)
    return _PACKS[path]


def test_there_are_format2_packs() -> None:
    assert len(FORMAT2_PACKS) >= 5


@pytest.mark.parametrize("path", FORMAT2_PACKS, ids=lambda p: p.stem)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_projector_writes_what_fact_slots_writes_for_every_stage(path: Path, data: st.DataObject) -> None:
    pack = _pack(path)
    for stage in pack.stages:
        values: dict[str, Any] = {}
        for test in stage.pack.tests:
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
        assert Projector(stage.pack)(values) == fact_slots(stage.pack, values)


def _old_needs(runner: run2.Runner, node: Any, env: Any, seen: set[str]) -> list[str]:
    """What a criterion node needs, as worked out before issue 14: a fresh walk per criterion."""
    status = env.statuses.get(node.id) if node.id is not None else None
    if status is not None and status[0] is run2.Status.NOT_APPLICABLE:
        return []
    if node.kind == "test":
        if node.test.unset or node.test.input.startswith("~count:"):
            return []
        return list(runner._absent(node.test.input, env, {}))
    if node.kind == "cases":
        branch = status[1] if status is not None and node.id not in runner._na_reason else None
        whens, thens = [w for w, _ in node.cases], [t for _, t in node.cases]
        if branch and branch.startswith("case"):
            n = int(branch[4:])
            parts = whens[:n] + [thens[n - 1]]
        elif branch and branch.startswith("undecided"):
            parts = whens[:int(branch[9:])]
        elif branch == "otherwise":
            parts = whens
        else:
            parts = whens + thens
        return [i for part in parts for i in _old_needs(runner, part, env, seen)]
    return [i for child in node.children for i in _old_needs(runner, child, env, seen)]


FIXTURES = [(ROOT / "rules" / "tech-sme-evaluation.yaml", ROOT / "fixtures" / "tech-sme-firms.yaml"),
            (ROOT / "rules" / "huguan-specialized-town.yaml", ROOT / "fixtures" / "huguan-towns.csv")]


@pytest.mark.parametrize("pack_path,data", [f for f in FIXTURES if f[1].exists()], ids=lambda p: p.stem)
def test_records_are_the_same_without_the_fired_set_cache(pack_path: Path, data: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pack = _pack(pack_path)
    cached = [r.as_dict() for r in decide_files2(pack, [str(data)])]
    asked = []
    real = run2.DurableSession.decide

    def spy(self: Any, slots: Any) -> Any:
        asked.append(1)
        return real(self, slots)

    monkeypatch.setattr(run2.Runner, "READ_CACHE", 0)  # every fired set read anew
    monkeypatch.setattr(run2.DurableSession, "decide", spy)
    fresh = [r.as_dict() for r in decide_files2(pack, [str(data)])]
    assert fresh == cached
    assert len(asked) >= len(cached) * len(pack.stages)  # durable-rules decided every entity, every stage


@pytest.mark.parametrize("pack_path,data", [f for f in FIXTURES if f[1].exists()], ids=lambda p: p.stem)
def test_what_each_criterion_needs_is_the_fresh_walk(pack_path: Path, data: Path) -> None:
    pack = _pack(pack_path)
    runner = run2.Runner(pack)
    seen_missing = 0
    real_record = runner._record

    def check(env: Any, award: Any = None) -> Any:
        nonlocal seen_missing
        record = real_record(env, award)
        for c in record.criteria:
            if c.status is run2.Status.UNKNOWN and c.id in runner._nodes:
                assert c.missing == tuple(sorted(set(_old_needs(runner, runner._nodes[c.id], env, set()))))
                seen_missing += bool(c.missing)
        needed: set[str] = set()
        for name in pack.criteria:
            if name in runner._nodes and name in env.statuses:
                needed.update(_old_needs(runner, runner._nodes[name], env, set()))
        for name in runner._unread_values:
            needed.update(runner._absent(name, env, {}))
        assert record.missing_inputs == tuple(sorted(needed))
        return record

    runner._record = check  # type: ignore[method-assign]
    records = list(decide_files2(pack, [str(data)], runner=runner))
    assert records and seen_missing  # some criterion was unknown for want of an input
