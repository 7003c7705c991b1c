"""`certify evaluate` and `certify schema` through click's CliRunner.

The pack is the format-1 Huguan pack of tests/format1/rules/: every command reads it by converting
it to format 2 on load (W264) and decides it with the format-2 pipeline, so the output checked here
is format 2's (certify.evaluation/2). Its expectations are those of fixtures/huguan-towns.yaml
(format-2 criterion names, which the converted pack keeps)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from engine import ENGINE_VERSION
from engine.load.yamlsafe import load_yaml_file

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"
TOWNS = ROOT / "fixtures" / "huguan-towns.yaml"
BAD_ROWS = ROOT / "fixtures" / "huguan-bad-rows.csv"
AS_OF = "2024-06-30"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def run(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def evaluate(*extra: str | Path, data: tuple[str | Path, ...] = (TOWNS,)):
    return run("evaluate", "--rules", PACK, *data, "--as-of", AS_OF, *extra)


@pytest.fixture(scope="module")
def towns() -> dict[str, dict[str, Any]]:
    doc, _ = load_yaml_file(str(TOWNS))  # format-2 expectations: the converted pack's criterion names
    return {e["id"]: e for e in doc.value["entities"]}


@pytest.fixture(scope="module")
def json_run():
    result = evaluate("--format", "json")
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def evaluation(json_run) -> dict[str, Any]:
    return json.loads(json_run.stdout)


# ---------------------------------------------------------------------------- text


def test_text_output_in_chinese(towns):
    result = evaluate()
    assert result.exit_code == 0, result.output
    words = {"pass": "通过", "fail": "不通过", "undetermined": "无法判定"}
    lines = result.stdout.splitlines()
    for ident, town in towns.items():
        # a batch is shown one line per entity: who, the outcome, and the headline reason
        head = f"{ident} {town['name']} — {words[town['expect']['outcome']]}"
        assert any(line.startswith(head) for line in lines), head
    assert "壶关县县级专业镇认定" in result.stdout  # the pack's Chinese title
    assert "PASS" not in result.stdout


def test_text_output_in_english(towns):
    result = evaluate("--lang", "en")
    assert result.exit_code == 0
    words = {"pass": "PASS", "fail": "FAIL", "undetermined": "UNDETERMINED"}
    lines = result.stdout.splitlines()
    for ident, town in towns.items():
        head = f"{ident} {town['name']} — {words[town['expect']['outcome']]}"
        assert any(line.startswith(head) for line in lines), head
    assert "无法判定" not in result.stdout and "不通过" not in result.stdout
    assert "Huguan county-level specialized town certification" in result.stdout


def test_text_summary_counts(towns):
    result = evaluate("--lang", "en")
    expected = {k: sum(t["expect"]["outcome"] == k for t in towns.values()) for k in ("pass", "fail", "undetermined")}
    assert result.stdout.rstrip().splitlines()[-1] == (
        f"total: PASS {expected['pass']}, FAIL {expected['fail']}, UNDETERMINED {expected['undetermined']}"
    )


# ---------------------------------------------------------------------------- JSON


def test_json_shape(evaluation, towns):
    assert evaluation["schema"] == "certify.evaluation/2"
    decisions = evaluation["decisions"]
    assert [d["id"] for d in decisions] == list(towns)
    assert evaluation["problems"] == []
    counts = {k: sum(d["outcome"] == k for d in decisions) for k in ("pass", "fail", "undetermined")}
    assert evaluation["counts"] == {**counts, "read": len(towns), "decided": len(towns), "refused": 0}
    assert sum(counts.values()) == len(towns)
    for d in decisions:
        assert d["outcome"] in {"pass", "fail", "undetermined"}
        assert d["format"] == 2
        assert d["outcome"] == towns[d["id"]]["expect"]["outcome"]
        assert d["criteria"], d["id"]
        for c in d["criteria"]:
            assert {"id", "cite", "status"} <= set(c)
            assert c["status"] in {"met", "not_met", "unknown", "not_applicable"}
            assert isinstance(c["id"], str) and c["id"]
        assert not any(k.startswith("_") for k in d)  # internal keys (expectations) are not written


def test_json_criteria_match_hand_worked_statuses(evaluation, towns):
    checked = 0
    for d in evaluation["decisions"]:
        got = {c["id"]: c["status"] for c in d["criteria"]}
        for ident, status in (towns[d["id"]]["expect"].get("criteria") or {}).items():
            assert got[ident] == status, (d["id"], ident)  # the root is listed too (its status is the outcome)
            checked += 1
    assert checked > len(towns)


def test_json_record_provenance(evaluation):
    pack_sha = hashlib.sha256(PACK.read_bytes()).hexdigest()
    input_hashes = set()
    for d in evaluation["decisions"]:
        rec = d["provenance"]
        assert rec["pack_id"] == "huguan-specialized-town"
        assert rec["pack_version"] == "1.0.0"
        assert SHA256.match(rec["pack_sha256"])
        assert rec["pack_sha256"] == pack_sha
        assert rec["engine_version"] == ENGINE_VERSION
        assert rec["as_of"] == AS_OF
        assert SHA256.match(rec["input_sha256"])
        assert rec["pack_file"] == str(PACK)
        input_hashes.add(rec["input_sha256"])
    assert len(input_hashes) == len(evaluation["decisions"])  # each town's own input


def test_json_is_deterministic(json_run):
    again = evaluate("--format", "json")
    assert again.exit_code == 0
    assert again.stdout_bytes == json_run.stdout_bytes


def test_output_file(tmp_path, json_run):
    out = tmp_path / "out.json"
    result = evaluate("--format", "json", "--output", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert out.read_bytes() == json_run.stdout_bytes


# ---------------------------------------------------------------------------- exit codes


def test_bad_rows_exit_3_and_good_rows_are_decided():
    result = evaluate("--format", "json", data=(BAD_ROWS,))
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    got = {d["id"]: d["outcome"] for d in data["decisions"]}
    assert got["HB01"] == "pass" and got["HB03"] == "pass" and got["HB05"] == "fail"
    assert got.get("HB02") != "pass" and got.get("HB04") != "pass"
    assert sorted((p["code"], p["line"]) for p in data["problems"]) == [("E131", 3), ("E131", 5)]
    assert "huguan-bad-rows.csv:3:" in result.stderr


def test_warnings_alone_exit_0(tmp_path):
    text = (ROOT / "fixtures" / "huguan-towns.csv").read_text(encoding="utf-8").replace(",has_tech_centre,", ",备注,")
    path = tmp_path / "towns.csv"
    path.write_text(text, encoding="utf-8")
    result = evaluate(data=(path,))
    assert result.exit_code == 0
    assert result.stderr.count("E130 警告") == 1  # one warning for the column, not one per row; in Chinese by default


def test_misspelt_column_exits_3_unless_allowed(tmp_path):
    text = (ROOT / "fixtures" / "huguan-towns.csv").read_text(encoding="utf-8").replace(",has_tech_centre,", ",has_tech_center,")
    path = tmp_path / "towns.csv"
    path.write_text(text, encoding="utf-8")
    result = evaluate(data=(path,))
    assert result.exit_code == 3
    assert result.stderr.count("E137") == 1 and "has_tech_centre" in result.stderr
    allowed = evaluate("--allow-unknown-columns", "--lang", "en", data=(path,))
    assert allowed.exit_code == 0 and allowed.stderr.count("E130 warning") == 1


def test_missing_data_file_exit_3(tmp_path):
    result = evaluate(data=(tmp_path / "absent.csv", TOWNS))
    assert result.exit_code == 3
    assert "E100" in result.stderr
    assert "HG01" in result.stdout


def test_broken_pack_exit_4():
    # a format-1 pack with two criteria named sector_ok: read as format 2, whose names share one
    # namespace (E181), at the second id as format 1 reported it (E121 line 46)
    broken = ROOT / "tests" / "packs" / "broken" / "E121-duplicate-id.yaml"
    result = run("evaluate", "--rules", broken, TOWNS, "--as-of", AS_OF)
    assert result.exit_code == 4
    assert result.stdout == ""
    assert "E121-duplicate-id.yaml:46:7: E181 错误" in result.stderr and "未作判定" in result.stderr
    english = run("evaluate", "--rules", broken, TOWNS, "--as-of", AS_OF, "--lang", "en")
    assert "46:7: E181 error" in english.stderr and "nothing was decided" in english.stderr


@pytest.mark.parametrize("bad", ["2024-13-45", "30/06/2024", "yesterday"])
def test_bad_as_of_exit_2(bad):
    result = CliRunner().invoke(main, ["evaluate", "--rules", str(PACK), str(TOWNS), "--as-of", bad])
    assert result.exit_code == 2
    assert "--as-of" in result.output


@pytest.mark.parametrize(
    ("setting", "code"),
    [("noequals", None), ("no_such_param=1亿元", "E182"), ("manufacturing_output_min=很多", "E123"),
     ("manufacturing_output_min=800000000", "E123")],  # a threshold needs its unit
)
def test_bad_set_is_rejected(setting, code):
    result = CliRunner().invoke(main, ["evaluate", "--rules", str(PACK), str(TOWNS), "--as-of", AS_OF, "--set", setting,
                                       "--lang", "en"])
    assert result.exit_code in (2, 4)
    assert result.stdout == ""  # nothing was decided
    if code:
        assert f"--set:1:1: {code} error" in result.stderr


@pytest.mark.parametrize(
    "setting", ["manufacturing_output_min=200亩", "manufacturing_output_min=35%", "supporting_firms_min=5亿元"]
)
def test_set_in_the_wrong_unit_is_refused(setting):
    # 200亩 is an area: compared with a money input it would make 9.9999亿元 towns pass.
    result = CliRunner().invoke(main, ["evaluate", "--rules", str(PACK), str(TOWNS), "--as-of", AS_OF, "--set", setting,
                                       "--lang", "en"])
    assert result.exit_code == 2  # the command line is wrong, not the pack
    assert result.stdout == ""
    assert f"--set:1:1: E184 error: override {setting.split('=')[0]}=" in result.stderr
    assert str(PACK) + ":" not in result.stderr.replace(str(PACK) + ":6:1: W264", "")  # no problem in the pack


def test_override_of_an_unset_parameter_is_unit_checked(tmp_path):
    import datetime as dt

    from engine.evaluate.pipeline import load_pack
    from engine.core.problems import ProblemsError

    minimal = (ROOT / "tests" / "packs" / "valid" / "minimal.yaml").read_text(encoding="utf-8")
    assert "    value: 2亿元\n" in minimal
    pack = tmp_path / "unset.yaml"
    pack.write_text(minimal.replace("    value: 2亿元\n", "    unset: 政策未规定具体数值\n"), encoding="utf-8")
    compiled, warnings = load_pack(str(pack), dt.date(2024, 6, 30), {"output_min": ("--set", "3亿元")})
    assert compiled.params["output_min"].overridden == "--set"
    with pytest.raises(ProblemsError) as caught:
        load_pack(str(pack), dt.date(2024, 6, 30), {"output_min": ("--set", "200亩")})
    assert [p.code for p in caught.value.problems] == ["E122"]


# ---------------------------------------------------------------------------- overrides and engines


def _threshold(decision: dict[str, Any], ident: str) -> dict[str, Any]:
    return next(c for c in decision["criteria"] if c["id"] == ident)["test"]


def test_set_override_is_recorded_and_applied(evaluation):
    result = evaluate("--format", "json", "--set", "manufacturing_output_min=8亿元")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    before = {d["id"]: d for d in evaluation["decisions"]}
    after = {d["id"]: d for d in data["decisions"]}
    # HG05: manufacturing 9.9999亿 failed against 10亿 and passes against 8亿
    assert before["HG05"]["outcome"] == "fail"
    assert after["HG05"]["outcome"] == "pass"
    # the comparison records the parameter and the threshold as it was given
    assert _threshold(before["HG05"], "output_manufacturing") == {
        "name": "lead_output", "op": ">=", "value": "999990000", "unit": "万元", "threshold": "1000000000",
        "param": "manufacturing_output_min", "written": "10亿元", "gap": "10000"}
    assert _threshold(after["HG05"], "output_manufacturing")["threshold"] == "800000000"
    assert _threshold(after["HG05"], "output_manufacturing")["written"] == "8亿元"
    # the hash of the pack file does not change
    assert after["HG05"]["provenance"]["pack_sha256"] == before["HG05"]["provenance"]["pack_sha256"]


def test_set_override_shown_in_text():
    # the criterion's title quotes the threshold in force (the pack writes 制造业类产值达到10亿元以上)
    result = evaluate("--set", "manufacturing_output_min=8亿元", "--full")
    assert "✔ 二(四) 制造业类产值达到8亿元以上: 满足（99,999万元 ≥ 8亿元）" in result.stdout  # HG05
    assert "10亿元以上" not in result.stdout
    english = evaluate("--set", "manufacturing_output_min=8亿元", "--lang", "en", "--full")
    assert "manufacturing output at least 8亿元" in english.stdout and "at least 10亿元" not in english.stdout


def test_override_file(tmp_path):
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("supporting_firms_min: 20户\n", encoding="utf-8")
    result = evaluate("--format", "json", "--overrides", str(overrides))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    first = data["decisions"][0]
    assert _threshold(first, "supporting_firm_count")["written"] == "20户"
    got = {d["id"]: d["outcome"] for d in data["decisions"]}
    assert got["HG01"] == "fail"  # 15 supporting firms < 20


def test_reference_engine_agrees_with_durable(evaluation):
    result = evaluate("--format", "json", "--engine", "reference")
    assert result.exit_code == 0
    reference = json.loads(result.stdout)
    assert reference["counts"] == evaluation["counts"]
    for durable, ref in zip(evaluation["decisions"], reference["decisions"], strict=True):
        assert ref["id"] == durable["id"]
        assert ref["outcome"] == durable["outcome"]
        assert [(c["id"], c["status"]) for c in ref["criteria"]] == [(c["id"], c["status"]) for c in durable["criteria"]]
        assert [n["status"] for n in ref["notes"]] == [n["status"] for n in durable["notes"]]
        assert {c["decided_by"] for c in ref["criteria"] + ref["notes"]} == {"reference"}
        assert {c["decided_by"] for c in durable["criteria"] + durable["notes"]} == {"durable-rules"}


def test_workers_give_the_same_output():
    args = ("--format", "json")
    one = evaluate(*args, data=(TOWNS, BAD_ROWS))
    many = evaluate(*args, "--workers", "3", data=(TOWNS, BAD_ROWS))
    assert one.exit_code == many.exit_code == 3
    assert many.stdout_bytes == one.stdout_bytes
    # On a machine with fewer than 3 CPUs the count is capped, with a warning; otherwise stderr is the same.
    stderr = "".join(line for line in many.stderr.splitlines(True) if "--workers 3" not in line)
    assert stderr == one.stderr


# ---------------------------------------------------------------------------- schema, version


def test_schema_command_prints_the_pack_schema():
    result = run("schema")
    assert result.exit_code == 0
    on_disk = json.loads((ROOT / "engine" / "validate" / "schema" / "rulepack.schema.json").read_text(encoding="utf-8"))
    assert json.loads(result.stdout) == on_disk


def test_schema_command_output_file(tmp_path):
    out = tmp_path / "schema.json"
    assert run("schema", "--output", str(out)).exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(run("schema").stdout)


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert ENGINE_VERSION in result.stdout
