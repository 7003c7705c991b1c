"""Variants (`pack.extends`): a provincial pack that takes a national template and replaces parts.

Each test writes a small base and variant into a temporary folder and checks the merged pack,
the provenance record, and that every refusal names the right file, line and code.
"""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.core.problems import ProblemsError
from engine.load.variants import MergedDocument, resolve
from engine.load.yamlsafe import load_yaml_file

BASE = """\
format: 2
pack:
  id: national-template
  version: "1.0.0"
  entity: firm
  title: {zh: 全国模板}
inputs:
  sales: {type: money, label: {zh: 销售收入}}
parameters:
  sales_min: {value: 2亿元, cite: 第二条, label: {zh: 销售收入上限}}
  staff_max: {value: 500人, cite: 第二条, label: {zh: 职工上限}}
values:
  score:
    slot: true
    label: {zh: 得分}
    sum: [sales]
  fixed:
    label: {zh: 固定}
    sum: [sales]
criteria:
  small: {test: {value: sales, op: "<=", param: sales_min}}
outcomes:
  decision: small
  flags:
    - {id: priority, title: {zh: 优先}, when: {criterion: small}}
"""


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def merged(path: str):
    doc, raw = load_yaml_file(path)
    return resolve(doc, raw)


def refused(path: str):
    with pytest.raises(ProblemsError) as caught:
        merged(path)
    return caught.value.problems


def test_a_pack_without_extends_is_itself_minus_slot_marks(tmp_path):
    doc, variant = merged(write(tmp_path, "base.yaml", BASE))
    assert variant is None
    assert doc.value["values"]["score"] == {"label": {"zh": "得分"}, "sum": ["sales"]}
    assert doc.value["parameters"]["sales_min"]["value"] == "2亿元"


def test_a_variant_replaces_parameters_and_slots_adds_names_and_appends_flags(tmp_path):
    base = write(tmp_path, "base.yaml", BASE)
    path = write(tmp_path, "jiangsu.yaml", """\
        format: 2
        pack:
          id: jiangsu-variant
          version: "1.1.0"
          extends: base.yaml
          title: {zh: 江苏实施细则}
        parameters:
          sales_min: {value: 3亿元, cite: 江苏 第三条, label: {zh: 销售收入上限}}
          bonus_min: {value: 10分, cite: 江苏 第四条, label: {zh: 加分下限}}
        values:
          score:
            label: {zh: 江苏得分}
            max: [sales, sales]
        outcomes:
          flags:
            - {id: jiangsu_priority, title: {zh: 江苏优先}, when: {criterion: small}}
        """)
    doc, variant = merged(path)
    value = doc.value
    assert value["pack"]["id"] == "jiangsu-variant" and value["pack"]["entity"] == "firm"
    assert "extends" not in value["pack"]
    assert value["parameters"]["sales_min"]["value"] == "3亿元"
    assert value["parameters"]["staff_max"]["value"] == "500人"  # the template's, untouched
    assert value["values"]["score"] == {"label": {"zh": "江苏得分"}, "max": ["sales", "sales"]}
    assert "slot" not in value["values"]["fixed"]
    assert [f["id"] for f in value["outcomes"]["flags"]] == ["priority", "jiangsu_priority"]
    assert value["outcomes"]["decision"] == "small"

    assert {(r.section, r.name, os.path.basename(r.base_file), os.path.basename(r.variant_file))
            for r in variant.replaced} == {("parameters", "sales_min", "base.yaml", "jiangsu.yaml"),
                                           ("values", "score", "base.yaml", "jiangsu.yaml")}
    assert {(a.section, a.name) for a in variant.added} == {("parameters", "bonus_min")}
    assert variant.files == (path, base)
    assert variant.sha256s == (hashlib.sha256(Path(path).read_bytes()).hexdigest(),
                               hashlib.sha256(Path(base).read_bytes()).hexdigest())

    # Problems in the merged pack point at the file and line where the part is written.
    assert isinstance(doc, MergedDocument)
    at_variant = doc.problem("E999", "x", ("parameters", "sales_min", "value"))
    assert (os.path.basename(at_variant.file), at_variant.line) == ("jiangsu.yaml", 8)
    at_base = doc.problem("E999", "x", ("parameters", "staff_max", "value"))
    assert (os.path.basename(at_base.file), at_base.line) == ("base.yaml", 11)
    appended = doc.problem("E999", "x", ("outcomes", "flags", 1, "id"))
    assert (os.path.basename(appended.file), appended.line) == ("jiangsu.yaml", 16)


def test_the_combined_hash_changes_when_the_base_changes(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    path = write(tmp_path, "v.yaml", "format: 2\npack: {id: v, version: '1', extends: base.yaml}\n")
    _, before = merged(path)
    write(tmp_path, "base.yaml", BASE.replace("2亿元", "2.5亿元"))
    _, after = merged(path)
    assert before.sha256s[0] == after.sha256s[0]
    assert before.sha256 != after.sha256


@pytest.mark.parametrize("section, body, words", [
    ("criteria", "small: {test: {value: sales, op: '<', param: sales_min}}", "slot: true"),
    ("values", "fixed: {label: {zh: x}, max: [sales]}", "slot: true"),
    ("inputs", "sales: {type: count, label: {zh: x}}", "inputs are never replaced"),
])
def test_what_the_template_does_not_open_cannot_be_replaced(tmp_path, section, body, words):
    write(tmp_path, "base.yaml", BASE)
    path = write(tmp_path, "v.yaml", f"format: 2\npack: {{id: v, version: '1', extends: base.yaml}}\n{section}:\n  {body}\n")
    [problem] = refused(path)
    assert problem.code == "E209" and words in problem.message
    assert (os.path.basename(problem.file), problem.line) == ("v.yaml", 4)
    assert "变体不能替换" in problem.message_zh


def test_the_decision_is_not_a_variant_s_to_change_and_flag_ids_stay_unique(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    path = write(tmp_path, "v.yaml", """\
        format: 2
        pack: {id: v, version: '1', extends: base.yaml}
        outcomes:
          decision: other
          flags:
            - {id: priority, title: {zh: 重复}, when: {criterion: small}}
        """)
    codes = sorted((p.code, p.line) for p in refused(path))
    assert codes == [("E208", 6), ("E209", 4)]


@pytest.mark.parametrize("name", ["../base.yaml", "sub/base.yaml", "/etc/passwd", "missing.yaml", 3])
def test_a_base_is_a_pack_file_next_to_the_variant(tmp_path, name):
    write(tmp_path, "base.yaml", BASE)
    path = write(tmp_path, "v.yaml", f"format: 2\npack: {{id: v, version: '1', extends: {name}}}\n")
    [problem] = refused(path)
    assert problem.code == "E205" and problem.line == 2


def test_a_symlinked_base_leading_out_of_the_folder_is_not_read(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    write(outside, "base.yaml", BASE)
    folder = tmp_path / "packs"
    folder.mkdir()
    os.symlink(outside / "base.yaml", folder / "base.yaml")
    path = write(folder, "v.yaml", "format: 2\npack: {id: v, version: '1', extends: base.yaml}\n")
    [problem] = refused(path)
    assert problem.code == "E205" and "symlink" in problem.message


def test_only_format_2_packs_extend(tmp_path):
    write(tmp_path, "base.yaml", BASE.replace("format: 2", "format: 1"))
    path = write(tmp_path, "v.yaml", "format: 2\npack: {id: v, version: '1', extends: base.yaml}\n")
    assert [p.code for p in refused(path)] == ["E206"]


def test_a_cycle_is_refused_naming_it(tmp_path):
    write(tmp_path, "a.yaml", "format: 2\npack: {id: a, version: '1', extends: b.yaml}\n")
    path = write(tmp_path, "b.yaml", "format: 2\npack: {id: b, version: '1', extends: a.yaml}\n")
    [problem] = refused(path)
    assert problem.code == "E207"
    assert "b.yaml → a.yaml → b.yaml" in problem.message and "循环" in problem.message_zh


def test_a_chain_longer_than_four_is_refused(tmp_path):
    write(tmp_path, "p0.yaml", BASE)
    for i in range(1, 6):
        write(tmp_path, f"p{i}.yaml", f"format: 2\npack: {{id: p{i}, version: '1', extends: p{i - 1}.yaml}}\n")
    assert [p.code for p in refused(str(tmp_path / "p5.yaml"))] == ["E207"]
    _, variant = merged(str(tmp_path / "p3.yaml"))  # three levels above the template is allowed
    assert len(variant.files) == 4


def test_a_variant_of_a_variant_keeps_provenance_and_slots(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    write(tmp_path, "province.yaml", """\
        format: 2
        pack: {id: province, version: '1', extends: base.yaml}
        parameters:
          sales_min: {value: 3亿元, cite: 省 第三条, label: {zh: 销售收入上限}}
        """)
    path = write(tmp_path, "city.yaml", """\
        format: 2
        pack: {id: city, version: '1', extends: province.yaml}
        parameters:
          staff_max: {value: 300人, cite: 市 第二条, label: {zh: 职工上限}}
        values:
          score: {label: {zh: 市得分}, max: [sales]}
        """)
    doc, variant = merged(path)
    assert doc.value["parameters"]["sales_min"]["value"] == "3亿元"
    assert doc.value["parameters"]["staff_max"]["value"] == "300人"
    assert [os.path.basename(f) for f in variant.files] == ["city.yaml", "province.yaml", "base.yaml"]
    origins = {(r.name, os.path.basename(r.variant_file)) for r in variant.replaced}
    assert origins == {("sales_min", "province.yaml"), ("staff_max", "city.yaml"), ("score", "city.yaml")}
    problem = doc.problem("E999", "x", ("parameters", "sales_min", "value"))
    assert os.path.basename(problem.file) == "province.yaml"


def test_a_replaced_slot_that_does_not_stay_a_slot_is_closed_to_the_next_variant(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    write(tmp_path, "province.yaml", """\
        format: 2
        pack: {id: province, version: '1', extends: base.yaml}
        values:
          score: {label: {zh: 省得分}, max: [sales]}
        """)
    path = write(tmp_path, "city.yaml", """\
        format: 2
        pack: {id: city, version: '1', extends: province.yaml}
        values:
          score: {label: {zh: 市得分}, min: [sales]}
        """)
    [problem] = refused(path)
    assert problem.code == "E209" and os.path.basename(problem.file) == "city.yaml"


def test_slot_must_be_true(tmp_path):
    path = write(tmp_path, "base.yaml", BASE.replace("slot: true", "slot: yes please"))
    [problem] = refused(path)
    assert problem.code == "E209" and problem.line == 14


# ---------------------------------------------------------------------------------------------
# End to end: the example template and its provincial variant (docs/examples/format2/variant-*).

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples" / "format2"
FIRMS = ROOT / "fixtures" / "example-variant-firms.yaml"


def certify(*args: str):
    return CliRunner().invoke(main, list(args))


def decisions(pack: Path) -> dict:
    result = certify("evaluate", "--rules", str(pack), str(FIRMS), "--as-of", "2024-06-30", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["decisions"]


def test_the_province_s_lower_staff_limit_decides_and_the_record_says_where_it_came_from():
    template = {d["id"]: d for d in decisions(EXAMPLES / "variant-template.yaml")}
    province = {d["id"]: d for d in decisions(EXAMPLES / "variant-province.yaml")}
    # F2 has 400 staff: within the template's 500, over the province's 300.
    assert template["F2"]["outcome"] == "pass" and province["F2"]["outcome"] == "fail"
    assert {k: d["outcome"] for k, d in template.items() if k != "F2"} == \
        {k: d["outcome"] for k, d in province.items() if k != "F2"}

    assert template["F2"]["provenance"]["pack_files"] == []
    prov = province["F2"]["provenance"]
    assert [Path(f).name for f, _ in prov["pack_files"]] == ["variant-province.yaml", "variant-template.yaml"]
    for f, sha in prov["pack_files"]:
        assert sha == hashlib.sha256(Path(f).read_bytes()).hexdigest()
    assert [(r["section"], r["name"], Path(r["from"]).name, Path(r["in"]).name) for r in prov["replaced"]] == \
        [("parameters", "staff_max", "variant-template.yaml", "variant-province.yaml")]
    assert prov["pack_sha256"] not in {sha for _, sha in prov["pack_files"]}  # the chain's hash


def test_the_text_view_names_the_chain_and_each_replaced_item():
    result = certify("evaluate", "--rules", str(EXAMPLES / "variant-province.yaml"), str(FIRMS),
                     "--as-of", "2024-06-30", "--lang", "zh")
    assert result.exit_code == 0, result.output
    assert "变体: variant-province.yaml" in result.stdout and "继承 variant-template.yaml" in result.stdout
    assert "替换 参数 staff_max: 原在 variant-template.yaml, 改在 variant-province.yaml" in result.stdout
    english = certify("evaluate", "--rules", str(EXAMPLES / "variant-province.yaml"), str(FIRMS),
                      "--as-of", "2024-06-30", "--lang", "en")
    assert "replaced parameter staff_max: was in variant-template.yaml, now in variant-province.yaml" in english.stdout


def test_validate_checks_the_merged_pack_and_points_into_the_variant(tmp_path):
    for name in ("variant-template.yaml", "variant-province.yaml"):
        (tmp_path / name).write_text((EXAMPLES / name).read_text(encoding="utf-8"), encoding="utf-8")
    assert certify("validate", str(tmp_path)).exit_code == 0
    text = (tmp_path / "variant-province.yaml").read_text(encoding="utf-8")
    (tmp_path / "variant-province.yaml").write_text(
        text + "values:\n  tech_share:\n    label: {zh: 占比}\n    unit: \"%\"\n    ratio: {of: tech_staf, per: total_staff}\n",
        encoding="utf-8")
    result = certify("validate", str(tmp_path / "variant-province.yaml"))
    assert result.exit_code != 0
    assert "variant-province.yaml:" in result.output and "E182" in result.output and "tech_staff" in result.output
