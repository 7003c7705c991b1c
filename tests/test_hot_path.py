"""The format-2 evaluate → record → output path made cheaper (issue 14), with nothing else changed:

- each criteria stage's fact is written by a `Projector` built once per pack: the same slots as
  `fact_slots` on random values for every stage of every format-2 pack in rules/;
- the Runner reads each distinct set of fired rules once: the records are the ones a Runner that
  reads every set anew gives (and durable-rules is still asked for every entity);
- what each unknown criterion needs is worked out once per node and entity, and not at all for a
  node none of whose inputs is absent: the same records as the walk that started afresh for every
  criterion (the code before issue 14, kept here as the oracle);
- duplicate ids are found exactly with a bounded number of ids in memory;
- a value's steps are written when first read (`Step.later`): the same steps, and a decisions
  table, which reads none, writes none.
"""

from __future__ import annotations

import datetime as dt
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.evaluate import run2
from engine.evaluate.facts import Projector, fact_slots
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


def _old_absent(runner: run2.Runner, name: str, env: Any, seen: set[str]) -> list[str]:
    """The inputs absent behind a name, as worked out before issue 14."""
    if name in seen:
        return []
    seen.add(name)
    pack = runner.pack
    if name.startswith("~diff~"):
        _, _, a, b = name.split("~")
        return _old_absent(runner, a, env, seen) + _old_absent(runner, b, env, seen)
    if name.startswith("~table:"):
        _, table, value = name.split(":", 2)
        return _old_absent(runner, value, env, seen) + [k for key in pack.tables[table].keys
                                                        for k in _old_absent(runner, key, env, seen)]
    if name in pack.inputs:
        return [name] if env.get(name) is None else []
    if name in pack.values:
        done = env.computed.get(name)
        if done is None or done.value is not None:
            return []
        return [i for m in done.missing for i in _old_absent(runner, m, env, seen)]
    if (name in pack.criteria or name in pack.hidden) and name in runner._nodes:
        status = env.statuses.get(name)
        if status is None or status[0] is not run2.Status.UNKNOWN:
            return []
        return _old_needs(runner, runner._nodes[name], env, seen)
    return []


def _old_needs(runner: run2.Runner, node: Any, env: Any, seen: set[str]) -> list[str]:
    """What a criterion node needs, as worked out before issue 14: a fresh walk per criterion."""
    status = env.statuses.get(node.id) if node.id is not None else None
    if status is not None and status[0] is run2.Status.NOT_APPLICABLE:
        return []
    if node.kind == "test":
        if node.test.unset or node.test.input.startswith("~count:"):
            return []
        return _old_absent(runner, node.test.input, env, seen)
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
            (ROOT / "rules" / "huguan-specialized-town.yaml", ROOT / "fixtures" / "huguan-towns.csv"),
            (ROOT / "rules" / "tech-sme-evaluation.yaml", ROOT / "bench" / "firms.py")]  # 400 generated firms


@pytest.fixture(autouse=True)
def _generated(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The case named bench/firms.py decides 400 firms that script generates (written to tmp_path)."""
    if "data" in request.fixturenames and request.getfixturevalue("data").name == "firms.py":
        sys.path.insert(0, str(ROOT / "bench"))
        try:
            import firms  # bench/firms.py
        finally:
            sys.path.remove(str(ROOT / "bench"))
        firms.write_csv(tmp_path / "firms.csv", 400, seed=3)


@pytest.mark.parametrize("pack_path,data", [f for f in FIXTURES if f[1].exists()], ids=lambda p: p.stem)
def test_records_are_the_same_without_the_fired_set_cache(pack_path: Path, data: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "firms.csv" if data.name == "firms.py" else data
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
def test_what_each_criterion_needs_is_the_fresh_walk(pack_path: Path, data: Path, tmp_path: Path) -> None:
    data = tmp_path / "firms.csv" if data.name == "firms.py" else data
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
            needed.update(_old_absent(runner, name, env, set()))
        assert record.missing_inputs == tuple(sorted(needed))
        return record

    runner._record = check  # type: ignore[method-assign]
    records = list(decide_files2(pack, [str(data)], runner=runner))
    assert records and seen_missing  # some criterion was unknown for want of an input


def _duplicates(rows: list[str], tmp_path: Path, name: str) -> list[tuple[int, str]]:
    from engine.evaluate.pipeline import RowCounts, entities
    from engine.load.data import ReadOptions

    data = tmp_path / name
    data.write_text("id,name\n" + "".join(f"{r},n\n" for r in rows), encoding="utf-8")
    problems: list[Any] = []
    counts = RowCounts()
    kept = [e.id for e, _ in entities([str(data)], problems, ReadOptions(), counts)]
    assert counts.read == len(rows) and counts.refused == len(rows) - len(kept)
    return [(p.line, p.message) for p in problems if p.code == "E132"]


@pytest.mark.parametrize("memory,bits", [(3, 8), (5, 1 << 10), (1, 8)])
def test_duplicate_ids_are_found_exactly_in_bounded_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           memory: int, bits: int) -> None:
    """A batch far larger than the ids held in memory, with a bitmap so small that ids collide in
    it all the time: every duplicate is reported with where its id was first met, exactly as when
    every id is held, and no id is taken for a duplicate it is not."""
    import random

    from engine.evaluate.pipeline import SeenIds

    rng = random.Random(7)
    ids = [f"E{i:04d}" for i in range(300)]
    rows = ids + [rng.choice(ids) for _ in range(120)] + [f"X{i}" for i in range(50)] + ids[:7]
    rng.shuffle(rows)
    whole = _duplicates(rows, tmp_path, "whole.csv")  # MEMORY larger than the batch: one dict
    monkeypatch.setattr(SeenIds, "MEMORY", memory)
    monkeypatch.setattr(SeenIds, "FILTER_BITS", bits)
    spilled = _duplicates(rows, tmp_path, "whole.csv")
    assert spilled == whole
    assert len(whole) == len(rows) - len(set(rows))
    first = {}
    for line, ident in enumerate(rows, start=2):
        first.setdefault(ident, line)
    for line, message in whole:
        ident = rows[line - 2]
        assert f"first at {tmp_path / 'whole.csv'}:{first[ident]}" in message and first[ident] < line


def test_the_spilled_ids_are_removed_when_the_batch_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.evaluate.pipeline import SeenIds

    monkeypatch.setattr(SeenIds, "MEMORY", 4)
    folders: list[str] = []
    real_spill = SeenIds._spill

    def spill(self: SeenIds) -> None:
        real_spill(self)
        folders.append(str(self._folder))

    monkeypatch.setattr(SeenIds, "_spill", spill)
    assert _duplicates([f"A{i}" for i in range(20)] + ["A3"], tmp_path, "ids.csv") != []
    assert len(set(folders)) == 1 and len(folders) == 5  # spilled 5 times to one SQLite file
    assert not Path(folders[0]).exists()  # removed when the batch ended


SUITE_FIXTURES = sorted({(suite.parent / yaml.safe_load(suite.read_text(encoding="utf-8"))["pack"],
                          (suite.parent / fixture).resolve())
                         for folder in ("rules", "docs/examples/format2")
                         for suite in (ROOT / folder).glob("*.tests.yaml")
                         for fixture in (yaml.safe_load(suite.read_text(encoding="utf-8")) or {}).get("fixtures") or []
                         if "\nformat: 2" in (suite.parent / yaml.safe_load(suite.read_text(encoding="utf-8"))["pack"])
                         .read_text(encoding="utf-8")})


def test_the_full_text_is_what_json_dump_writes(tmp_path: Path) -> None:
    """render_full2 (the criteria put together from encoded pack parts) against json.dumps(indent=2)
    of decision_json2, nested as in the document, on every format-2 fixture and 400 generated firms."""
    import json

    from engine.report.compact import render_full2, static2
    from engine.report.format2_views import decision_json2

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import firms  # bench/firms.py
    finally:
        sys.path.remove(str(ROOT / "bench"))
    firms.write_csv(tmp_path / "firms.csv", 400, seed=5)
    cases = list(SUITE_FIXTURES) + [(ROOT / "rules" / "tech-sme-evaluation.yaml", tmp_path / "firms.csv")]
    assert len(cases) >= 8
    seen = 0
    for pack_path, data in cases:
        pack = load_pack2(str(pack_path), AS_OF)
        for rec in decide_files2(pack, [str(data)]):
            generic = json.dumps(decision_json2(rec, pack, static2(pack).nodes), ensure_ascii=False, indent=2)
            assert render_full2(pack, rec)[1] == generic.replace("\n", "\n    "), (pack_path.name, rec.entity_id)
            seen += 1
    assert seen >= 420


def test_the_record_builders_make_what_the_dataclasses_make() -> None:
    import dataclasses
    import pickle

    from engine.evaluate.record2 import CriterionResult, ValueResult, criterion_result, value_result
    from engine.evaluate.ops import Step

    args = ("c", run2.Status.NOT_MET, "case1", "durable-rules", 1, True, {"zh": "标题"}, "二", None, 2,
            {"name": "x", "op": ">=", "value": Fraction(3), "unit": "元"}, ("x",), {"zh": "酌情", "en": "judged"})
    built, made = criterion_result(*args), CriterionResult(*args)
    assert built == made and repr(built) == repr(made) and list(vars(built)) == list(vars(made))
    assert pickle.loads(pickle.dumps(built)) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.status = run2.Status.MET  # type: ignore[misc]
    with pytest.raises(TypeError):
        criterion_result(*args[:-1])  # every field, positionally
    vargs = ("v", Fraction(1, 3), "%", (Step("a", "b"),), (), None, "ratio", 0, {"zh": "比"}, {"k": 1}, "python")
    assert value_result(*vargs) == ValueResult(*vargs) and list(vars(value_result(*vargs))) == list(vars(ValueResult(*vargs)))


def test_a_step_written_later_is_the_step_written_now() -> None:
    import copy
    import dataclasses
    import pickle

    from engine.evaluate.ops import Step

    written: list[int] = []

    def text(a: Fraction, unit: str, written: list[int] = written) -> tuple[str, str]:
        written.append(1)
        return f"{a} {unit}", f"{a} in {unit}"

    later, now = Step.later(text, Fraction(1, 2), "元"), Step("1/2 元", "1/2 in 元")
    assert not written  # nothing is written until it is read
    assert later == now and hash(later) == hash(now) and repr(later) == repr(now) and later.zh == "1/2 元"
    assert later.en == "1/2 in 元" and len(written) == 1  # written once, on the first read
    assert pickle.loads(pickle.dumps(Step.later(text, Fraction(3), "亩"))) == Step("3 亩", "3 in 亩")
    assert copy.deepcopy(Step.later(text, Fraction(3), "亩")) == Step("3 亩", "3 in 亩")
    assert later != Step("1/2 元", "other") and {later, now} == {now}
    with pytest.raises(dataclasses.FrozenInstanceError):
        later.zh = "x"  # type: ignore[misc]
    name = "staff"
    with pytest.raises(TypeError):
        Step.later(lambda: (name, name))  # a closure would write what its variables hold later, not now


def test_a_decisions_table_writes_no_step_and_the_full_json_every_step(tmp_path: Path) -> None:
    """The Parquet row reads values, never their steps: computing a value holds its steps' parts
    and the words are written only for a view (here the full JSON), identical to the eager text."""
    from engine.report.parquet import render_row2

    pack = _pack(ROOT / "rules" / "tech-sme-evaluation.yaml")
    records = list(decide_files2(pack, [str(ROOT / "fixtures" / "tech-sme-firms.yaml")]))
    steps = [s for r in records for v in r.values for s in (*v.steps, *([v.reason] if v.reason else []))]
    for r in records:
        render_row2(pack, r)
    unwritten = [s for s in steps if s._make is not None]
    assert steps and len(unwritten) >= len(steps) // 2  # most steps of the D pack are written on demand
    dicts = [r.as_dict() for r in records]
    assert all(s._make is None for s in steps)  # the JSON wrote every step
    assert all(step["zh"] and step["en"] for d in dicts for v in d["values"] for step in v["steps"])


@settings(max_examples=300, deadline=None)
@given(value=st.fractions(max_denominator=10**6), low=st.one_of(st.none(), st.fractions(max_denominator=10**4)),
       high=st.one_of(st.none(), st.fractions(max_denominator=10**4)), low_in=st.booleans(), high_in=st.booleans())
def test_a_band_holds_a_value_as_its_own_comparison_says(value: Fraction, low: Any, high: Any, low_in: bool,
                                                          high_in: bool) -> None:
    from engine.compile.points import Band
    from engine.evaluate.points import in_band

    for v in (value, low, high):  # on the ends too, where included or not decides
        if v is not None:
            band = Band(low, low_in, high, high_in, Fraction(1))
            assert in_band(band, v) is band.holds(v)
            assert in_band(band, int(v)) is band.holds(Fraction(int(v)))  # whole numbers as ints
