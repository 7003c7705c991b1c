"""Format 2: `at_least` decided from counts. Written out, "at least k of n" needs a rule per
combination for each status (E126 on 4 of 8). Now its children are decided by durable-rules in
an earlier step of the phase, Python counts them (met; met or unknown), and durable-rules decides
the node on those two counts. Checked against a Kleene oracle and the reference evaluator."""

from __future__ import annotations

import datetime as dt
import random
import textwrap

from engine.compile.build2 import build2
from engine.core.status import Outcome, Status
from engine.evaluate.run2 import evaluate2, subjects_from_dicts
from engine.load.yamlsafe import load_yaml_file

AS_OF = dt.date(2024, 6, 30)

PACK = """\
format: 2
pack: {id: demo-at-least, version: "1.0.0", entity: base, title: {zh: 基地}}
inputs:
  kind: {type: enum, label: {zh: 类型}, values: {a: {zh: 甲}, b: {zh: 乙}}}
  x: {type: money, unit: 万元, label: {zh: 投资}}
%(services)s
parameters:
  x_min: {value: 100万元, cite: 三, label: {zh: 投资下限}}
criteria:
  services:
    title: {zh: 8项服务中至少提供4项}
    cite: 四
    at_least:
      k: 4
      of:
        - {id: s1_ok, test: {value: s1, op: is_true}}
        - {id: s2_ok, test: {value: s2, op: is_true}}
        - {id: s3_ok, test: {value: s3, op: is_true}}
        - {id: s4_ok, test: {value: s4, op: is_true}}
        - {id: s5_ok, test: {value: s5, op: is_true}}
        - {id: s6_ok, test: {value: s6, op: is_true}}
        - {test: {value: s7, op: is_true}}
        - id: s8_ok
          applies_when: {value: kind, op: in, values: [a]}
          not_applicable: {zh: 乙类不要求}
          test: {value: s8, op: is_true}
  nested:
    title: {zh: 嵌套}
    cite: 五
    at_least:
      k: 2
      of:
        - at_least: {k: 1, of: [{test: {value: s1, op: is_true}}, {test: {value: s2, op: is_true}}]}
        - {id: three, at_least: {k: 2, of: [{test: {value: s3, op: is_true}}, {test: {value: s4, op: is_true}},
                                            {test: {value: s5, op: is_true}}]}}
        - {id: invest, test: {value: x, op: ">=", param: x_min}}
  gated:
    title: {zh: 甲类另需}
    cite: 六
    cases:
      - when: {value: kind, op: in, values: [a]}
        then: {id: inner, at_least: {k: 1, of: [{id: g1, test: {value: s6, op: is_true}}, {id: g2, test: {value: s7, op: is_true}}]}}
    otherwise: met
  certified:
    title: {zh: 认定}
    cite: 七
    all: [{criterion: services}, {criterion: nested}, {criterion: gated}]
outcomes:
  decision: certified
"""
SERVICES = "\n".join(f"  s{i}: {{type: boolean, label: {{zh: 服务{i}}}}}" for i in range(1, 9))


def _pack(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(PACK % {"services": SERVICES}), encoding="utf-8")
    doc, raw = load_yaml_file(str(path))
    return build2(doc, raw, AS_OF)


M, N, U = Status.MET, Status.NOT_MET, Status.UNKNOWN


def _kleene_at_least(k: int, statuses: list[Status]) -> Status:
    met = statuses.count(M)
    possible = met + statuses.count(U)
    return M if met >= k else N if possible < k else U


def _yes(row, name):
    return {None: U, True: M, False: N}[row.get(name)]


def _oracle(row) -> dict[str, Status]:
    kind = row.get("kind")
    s = {i: _yes(row, f"s{i}") for i in range(1, 9)}
    # s8 applies to kind a only; not applicable does not count; unknown kind leaves it unknown
    s8 = s[8] if kind == "a" else N if kind == "b" else U
    services = _kleene_at_least(4, [s[1], s[2], s[3], s[4], s[5], s[6], s[7], s8])
    x = row.get("x")
    invest = U if x is None else (M if x >= 100 else N)
    nested = _kleene_at_least(2, [_kleene_at_least(1, [s[1], s[2]]), _kleene_at_least(2, [s[3], s[4], s[5]]), invest])
    gated = M if kind == "b" else U if kind is None else _kleene_at_least(1, [s[6], s[7]])
    all3 = [services, nested, gated]
    certified = N if N in all3 else U if U in all3 else M
    return {"services": services, "nested": nested, "gated": gated, "certified": certified}


def _rows(n: int, seed: int):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        row = {"id": f"b{i}"}
        for j in range(1, 9):
            v = rng.choice([None, True, False, True])
            if v is not None:
                row[f"s{j}"] = "是" if v else "否"
        kind = rng.choice([None, "a", "b"])
        if kind:
            row["kind"] = kind
        x = rng.choice([None, 99, 100, 500])
        if x is not None:
            row["x"] = f"{x}万元"
        rows.append(row)
    return rows


def _plain(row):
    out = {k: (v == "是" if k.startswith("s") else v) for k, v in row.items()}
    if "x" in out:
        out["x"] = int(out["x"].removesuffix("万元"))
    return out


def test_at_least_4_of_8_compiles_small_and_decides_by_counting(tmp_path):
    pack = _pack(tmp_path)
    # steps of the one criteria phase: level-0 children, level-1 children, the criteria
    steps = [s for s in pack.stages if s.phase == 1]
    assert [s.count_level for s in steps] == [-1, 0, 1]
    assert sum(len(s.pack.ruleset) for s in pack.stages) < 200
    rows = _rows(400, seed=5)
    subjects, problems = subjects_from_dicts(pack, rows)
    assert problems == []
    durable, reference = evaluate2(pack, subjects, "durable"), evaluate2(pack, subjects, "reference")
    key = lambda r: (r.outcome, [(c.id, c.status, c.branch) for c in r.criteria])  # noqa: E731
    assert [key(r) for r in durable] == [key(r) for r in reference]
    seen = set()
    for row, record in zip(rows, durable):
        want = _oracle(_plain(row))
        got = {name: record.criterion(name).status for name in want}
        assert got == want, (row, got, want)
        seen.update((name, st) for name, st in got.items())
    assert {("services", s) for s in (M, N, U)} <= seen and {("nested", s) for s in (M, N, U)} <= seen
    assert {r.outcome for r in durable} == {Outcome.PASS, Outcome.FAIL, Outcome.UNDETERMINED}


def test_the_unknown_case_of_4_of_8(tmp_path):
    # 3 provided, s7 not reported, 3 not provided, s8 not applicable: 4 could still be met -> unknown
    pack = _pack(tmp_path)
    row = {"id": "k", "kind": "b", "x": "100万元", "s1": "是", "s2": "是", "s3": "是", "s4": "否", "s5": "否",
           "s6": "否"}
    record = evaluate2(pack, subjects_from_dicts(pack, [row])[0])[0]
    assert record.criterion("services").status is U
    assert record.criterion("s8_ok").status is Status.NOT_APPLICABLE
    # the children are listed with their own statuses; the anonymous one (s7) is internal
    assert [c.id for c in record.criteria if c.id.startswith("s")][:8] == [
        "services", "s1_ok", "s2_ok", "s3_ok", "s4_ok", "s5_ok", "s6_ok", "s8_ok"]
    assert not any("~" in c.id for c in record.criteria)
    # s7 reported: provided makes 4 (met), not provided leaves 3 (not met)
    record = evaluate2(pack, subjects_from_dicts(pack, [{**row, "s7": "是"}])[0])[0]
    assert record.criterion("services").status is M and record.outcome is Outcome.PASS
    record = evaluate2(pack, subjects_from_dicts(pack, [{**row, "s7": "否"}])[0])[0]
    assert record.criterion("services").status is N and record.outcome is Outcome.FAIL


def test_children_of_an_at_least_that_does_not_apply_are_not_listed(tmp_path):
    pack = _pack(tmp_path)
    rows = [{"id": "b", "kind": "b", "s6": "是"}, {"id": "a", "kind": "a", "s6": "是"}]
    b, a = evaluate2(pack, subjects_from_dicts(pack, rows)[0])
    ids_b, ids_a = {c.id for c in b.criteria}, {c.id for c in a.criteria}
    assert "inner" not in ids_b and "g1" not in ids_b and "g2" not in ids_b
    assert {"inner", "g1", "g2"} <= ids_a and a.criterion("inner").status is M
