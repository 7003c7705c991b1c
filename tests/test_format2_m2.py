"""Format 2, applicability, choices, links and outcomes (docs/format2.md "Criteria", "Choices",
"Outcomes"): all decided by durable-rules, the reference evaluator agreeing on every entity."""

from __future__ import annotations

import datetime as dt
import itertools
import textwrap

from engine.compile.build2 import build2
from engine.core.status import Outcome, Status
from engine.evaluate.run2 import evaluate2, subjects_from_dicts
from engine.load.yamlsafe import load_yaml_file

AS_OF = dt.date(2024, 6, 30)

PACK = """\
format: 2
pack: {id: demo-applies, version: "1.0.0", entity: cluster, title: {zh: 集群认定, en: cluster}}
inputs:
  procedure: {type: enum, label: {zh: 申报类型}, values: {new: {zh: 新申请}, re_review: {zh: 复核}}}
  output: {type: money, unit: 亿元, label: {zh: 产值}}
  services: {type: attestation, label: {zh: 公共服务}}
  green: {type: attestation, label: {zh: 绿色发展}}
  accident: {type: boolean, label: {zh: 重大事故}}
parameters:
  output_min: {value: 10亿元, cite: 三, label: {zh: 产值标准}}
choices:
  accident_rule:
    label: {zh: 发生事故是否一票否决}
    cite: 五
    options: {veto: {zh: 一票否决}, warn: {zh: 仅提醒}}
    default: veto
    reason: 原文未说明发生事故的后果；默认一票否决。
criteria:
  services_rereview:
    title: {zh: 复核须有公共服务}
    cite: 四
    applies_when: {value: procedure, op: in, values: [re_review]}
    not_applicable: {zh: 新申请不适用此项, en: not required for a new application}
    test: {attested: services}
  no_veto:
    title: {zh: 无一票否决情形}
    cite: 五
    any:
      - id: no_accident
        test: {value: accident, op: is_false}
      - id: veto_off
        test: {value: accident_rule, op: in, values: [warn]}
  certified:
    title: {zh: 认定}
    cite: 三
    all:
      - id: output_ok
        test: {value: output, op: ">=", param: output_min}
      - {criterion: services_rereview}
      - {criterion: no_veto}
      - id: green_rereview
        applies_when: {value: procedure, op: in, values: [re_review]}
        test: {attested: green}
  either:
    title: {zh: 任一}
    cite: 六
    any:
      - {criterion: services_rereview}
      - id: big
        test: {value: output, op: ">=", number: 100亿元}
outcomes:
  decision: certified
  flags:
    - {id: large, title: {zh: 规模大}, when: {value: output, op: ">=", number: 50亿元}}
  consequences:
    - {id: interview, title: {zh: 约谈}, cite: 七, when: {not: {criterion: no_veto}}}
"""


def _pack(tmp_path, overrides=None):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(PACK), encoding="utf-8")
    doc, raw = load_yaml_file(str(path))
    return build2(doc, raw, AS_OF, overrides)


BASE = {"id": "c1", "procedure": "new", "output": "12亿元", "services": False, "green": False, "accident": False}


def _one(pack, **fields):
    subjects, problems = subjects_from_dicts(pack, [{**BASE, **fields}])
    assert problems == []
    return evaluate2(pack, subjects)[0]


def test_not_applicable_inside_all_does_not_stop_it(tmp_path):
    pack = _pack(tmp_path)
    record = _one(pack)
    assert record.outcome is Outcome.PASS
    services = record.criterion("services_rereview")
    assert services.status is Status.NOT_APPLICABLE and services.reason["zh"] == "新申请不适用此项"
    assert record.criterion("green_rereview").status is Status.NOT_APPLICABLE
    assert record.criterion("green_rereview").reason["en"] == "does not apply"
    # inside any, it does not count: either rests on `big`
    assert record.criterion("either").status is Status.NOT_MET
    assert _one(pack, output="120亿元").criterion("either").status is Status.MET


def test_applicable_criterion_decides_and_unknown_applicability(tmp_path):
    pack = _pack(tmp_path)
    record = _one(pack, procedure="re_review")
    assert record.outcome is Outcome.FAIL and record.criterion("services_rereview").status is Status.NOT_MET
    assert _one(pack, procedure="re_review", services=True, green=True).outcome is Outcome.PASS
    unknown = _one(pack, procedure=None)
    assert unknown.criterion("services_rereview").status is Status.UNKNOWN
    assert unknown.outcome is Outcome.UNDETERMINED


def test_choices_default_and_set(tmp_path):
    pack = _pack(tmp_path)
    record = _one(pack, accident=True)
    assert record.outcome is Outcome.FAIL and record.note("interview").status is Status.MET
    assert record.note("interview").kind == "consequence"
    assert [(c.name, c.option, c.source) for c in record.choices] == [("accident_rule", "veto", "default")]
    relaxed = _pack(tmp_path, {"accident_rule": ("--set", "warn")})
    record = _one(relaxed, accident=True)
    assert record.outcome is Outcome.PASS and record.note("interview").status is Status.NOT_MET
    assert [(c.name, c.option, c.source) for c in record.choices] == [("accident_rule", "warn", "--set")]
    assert record.as_dict()["choices"] == [{"name": "accident_rule", "option": "warn", "source": "--set",
                                            "default": "veto"}]


def test_set_unknown_option_is_refused(tmp_path):
    import pytest

    from engine.core.problems import ProblemsError

    with pytest.raises(ProblemsError) as error:
        _pack(tmp_path, {"accident_rule": ("--set", "wran")})
    (problem,) = error.value.problems
    assert problem.code == "E182" and problem.file == "--set" and "did you mean 'warn'" in problem.message


def test_durable_matches_reference(tmp_path):
    pack = _pack(tmp_path)
    rows = []
    for i, combo in enumerate(itertools.product((None, "new", "re_review"), (None, "9亿元", "10亿元", "120亿元"),
                                                (None, True, False), (None, True, False), (None, True, False))):
        row = dict(zip(("procedure", "output", "services", "green", "accident"), combo))
        rows.append({"id": f"e{i}", **{k: v for k, v in row.items() if v is not None}})
    for overrides in (None, {"accident_rule": ("--set", "warn")}):
        pack = _pack(tmp_path, overrides)
        subjects, _ = subjects_from_dicts(pack, rows)
        durable = evaluate2(pack, subjects, "durable")
        ref = evaluate2(pack, subjects, "reference")
        seen = set()
        for a, b in zip(durable, ref):
            key = lambda r: (r.outcome, [(c.id, c.status, c.branch) for c in r.criteria],  # noqa: E731
                             [(n.id, n.status) for n in r.notes])
            assert key(a) == key(b)
            seen |= {(c.id, c.status) for c in a.criteria}
        assert ("services_rereview", Status.NOT_APPLICABLE) in seen and ("certified", Status.UNKNOWN) in seen
        assert {r.outcome for r in durable} == {Outcome.PASS, Outcome.FAIL, Outcome.UNDETERMINED}


SUITE = """\
pack: p.yaml
as_of: "2024-06-30"
cases:
  - name: 新申请不需公共服务
    entity: {id: c1, procedure: new, output: 12亿元, services: 否, green: 否, accident: 否}
    expect:
      outcome: pass
      criteria: {services_rereview: not_applicable, output_ok: met}
      consequences: {interview: false}
      flags: {large: false}
      choices: {accident_rule: veto}
  - name: 事故，仅提醒
    set: {accident_rule: warn}
    entity: {id: c2, procedure: new, output: 12亿元, accident: 是}
    expect: {outcome: pass, choices: {accident_rule: warn}, consequences: {interview: false}}
  - name: 两个对象一起判定
    entities:
      - {id: a, procedure: new, output: 12亿元, accident: 否}
      - {id: b, procedure: re_review, output: 9亿元, accident: 否}
    expect:
      a: {outcome: pass}
      b: {outcome: fail, criteria: {services_rereview: unknown, output_ok: not_met}}
  - name: 故意写错
    entity: {id: c3, procedure: new, output: 12亿元, accident: 否}
    expect: {outcome: fail, criteria: {output_ok: not_met}, values: {nothing: 3}}
"""


def test_certify_test_runs_a_format2_suite(tmp_path):
    from engine.commands.packtest import run_suite

    _pack(tmp_path)  # writes p.yaml
    suite = tmp_path / "p.tests.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    result = run_suite(str(suite))
    assert result.problems == []
    assert [c.passed for c in result.cases] == [True, True, True, False]
    # a criterion that differs says what it compared
    assert result.cases[3].diffs == ["outcome: expected fail, got pass",
                                    "criteria.output_ok: expected not_met, got met (value 12亿元, threshold 10亿元)",
                                    "values.nothing: expected 3, got no such item"]
    assert result.pack_id == "demo-applies"
    assert "not_applicable" in result.coverage["services_rereview"]


def test_a_variant_is_evaluated_with_its_provenance(tmp_path):
    from engine.evaluate.pipeline import load_pack2

    (tmp_path / "base.yaml").write_text(PACK, encoding="utf-8")
    (tmp_path / "v.yaml").write_text(
        "format: 2\npack: {id: demo-applies-province, version: \"1.1.0\", extends: base.yaml, title: {zh: 省级}}\n"
        "parameters:\n  output_min: {value: 8亿元, cite: 省三, label: {zh: 省产值标准}}\n", encoding="utf-8")
    pack = load_pack2(str(tmp_path / "v.yaml"), AS_OF)
    assert pack.params["output_min"].value == 8 * 10**8
    subjects, _ = subjects_from_dicts(pack, [{**BASE, "output": "9亿元"}])
    (record,) = evaluate2(pack, subjects)
    assert record.outcome is Outcome.PASS  # 9亿元 passes the province's 8亿元, not the base's 10亿元
    prov = record.provenance
    assert prov.pack_id == "demo-applies-province" and prov.pack_sha256 == pack.variant.sha256
    assert [f.rsplit("/", 1)[-1] for f, _ in prov.pack_files] == ["v.yaml", "base.yaml"]
    assert prov.replaced[0]["name"] == "output_min" and prov.replaced[0]["section"] == "parameters"
