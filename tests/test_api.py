"""The HTTP API v1 of `certify serve`, over HTTP against the running server (tests/webserver.py).

Deciding must give the document `certify evaluate --format json` gives for the same pack, data and
date; every refusal is a problem record with its code (E230-E239), never a trace.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml

from engine.audit.log import DecisionLog
from engine.core.problems import CODES
from webserver import ROOT, Server, running

RULES = ROOT / "rules"
# the format-1 originals of the packs rules/ ships in format 2 (tests/format1/README.md): the format-1 cases
FORMAT1 = ROOT / "tests" / "format1" / "rules"
FIXTURES = ROOT / "fixtures"
EXAMPLES = ROOT / "docs" / "examples" / "format2"
AS_OF = "2024-06-30"
API = "/api/v1"


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pack folder: three shipped packs (format 1 and 2), a variant with its template (the
    worked example of docs/format2.md), and a symlink that leads out of it."""
    folder = tmp_path_factory.mktemp("packs")
    for source in (FORMAT1 / "huguan-specialized-town.yaml", RULES / "tech-sme-evaluation.yaml",
                   FORMAT1 / "yangzhou-zone-evaluation.yaml"):
        shutil.copy(source, folder / source.name)
    for name in ("variant-template.yaml", "variant-province.yaml"):
        shutil.copy(EXAMPLES / name, folder / name)
    outside = tmp_path_factory.mktemp("outside") / "secret.yaml"
    outside.write_text("format: 1\npack: {id: secret-pack, version: '1'}\n", encoding="utf-8")
    (folder / "secret.yaml").symlink_to(outside)
    return folder


@pytest.fixture(scope="module")
def server(packs: Path) -> Iterator[Server]:
    yield from running(packs, "--max-upload-mb", "1", "--max-rows", "50")


def cli_json(pack: Path, data: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "evaluate", "--rules", str(pack), str(data),
                           "--as-of", AS_OF, "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 3), done.stderr
    return json.loads(done.stdout)


def same_but_paths(doc: dict[str, Any], served: Path, data_name: str) -> dict[str, Any]:
    """A CLI document with the paths the server does not show: the data file by its name only,
    the pack file as the server read it."""
    text = json.dumps(doc, ensure_ascii=False)
    text = text.replace(str(FIXTURES / data_name), data_name).replace(str(RULES / served.name), str(served))
    text = text.replace(str(FORMAT1 / served.name), str(served))
    return json.loads(text)


def codes(response: httpx.Response) -> list[str]:
    return [p["code"] for p in response.json()["problems"]]


def test_list_packs_names_each_served_pack_by_id_and_not_the_one_outside(server: Server) -> None:
    response = httpx.get(server.url + API + "/packs")
    assert response.status_code == 200
    packs = {p["id"]: p for p in response.json()["packs"]}
    assert set(packs) == {"huguan-specialized-town", "tech-sme-evaluation", "yangzhou-zone-evaluation",
                          "example-sme-template", "example-sme-province"}
    assert packs["tech-sme-evaluation"]["format"] == 2
    assert packs["huguan-specialized-town"]["title"]["zh"] == "壶关县县级专业镇认定"
    assert len(packs["huguan-specialized-town"]["sha256"]) == 64
    assert "path" not in packs["huguan-specialized-town"]  # the server's own paths are not handed out


def test_get_pack_gives_parameters_in_force_with_citations(server: Server) -> None:
    response = httpx.get(server.url + API + "/packs/huguan-specialized-town", params={"as_of": AS_OF})
    assert response.status_code == 200
    pack = response.json()
    param = {p["name"]: p for p in pack["parameters"]}["manufacturing_output_min"]
    assert param["value"] == "10亿元" and param["cite"] == "二(四)" and "10亿元以上" in param["quote"]
    assert pack["as_of"] == AS_OF and pack["criteria"]


@pytest.mark.parametrize("ident", ["../secret", "secret-pack", "..%2F..%2Fetc%2Fpasswd", "%2e%2e"])
def test_a_pack_id_is_never_a_path(server: Server, ident: str) -> None:
    response = httpx.get(server.url + API + "/packs/" + ident)
    assert response.status_code == 404
    assert codes(response) == ["E233"]


def test_decide_an_uploaded_file_gives_the_cli_json_document_format1(server: Server, packs: Path) -> None:
    data = FIXTURES / "huguan-towns.yaml"
    with data.open("rb") as handle:
        response = httpx.post(server.url + API + "/packs/huguan-specialized-town/decide",
                              data={"as_of": AS_OF}, files={"data": ("huguan-towns.yaml", handle)}, timeout=120)
    assert response.status_code == 200, response.text
    expected = same_but_paths(cli_json(FORMAT1 / "huguan-specialized-town.yaml", data), packs / "huguan-specialized-town.yaml",
                              "huguan-towns.yaml")
    assert response.json() == expected
    # decided as format 2 (the pack converted on load), as the command line decides it
    assert response.json()["schema"] == "certify.evaluation/2"
    outcomes = {d["id"]: d["outcome"] for d in response.json()["decisions"]}
    assert outcomes["HG05"] == "fail" and outcomes["HG01"] == "pass"


def test_decide_an_uploaded_file_gives_the_cli_json_document_format2(server: Server, packs: Path) -> None:
    data = FIXTURES / "tech-sme-firms.yaml"
    with data.open("rb") as handle:
        response = httpx.post(server.url + API + "/packs/tech-sme-evaluation/decide",
                              data={"as_of": AS_OF}, files={"data": ("tech-sme-firms.yaml", handle)}, timeout=120)
    assert response.status_code == 200, response.text
    expected = same_but_paths(cli_json(RULES / "tech-sme-evaluation.yaml", data), packs / "tech-sme-evaluation.yaml",
                              "tech-sme-firms.yaml")
    assert response.json() == expected
    assert response.json()["counts"]["decided"] >= 2


def test_decide_json_entities_with_an_override(server: Server) -> None:
    town = {"id": "T1", "name": "试验镇", "lead_category": "manufacturing", "lead_output": "9亿元"}
    url = server.url + API + "/packs/huguan-specialized-town/decide"
    plain = httpx.post(url, json={"as_of": AS_OF, "entity": town}, timeout=60).json()
    lowered = httpx.post(url, json={"as_of": AS_OF, "entities": [town], "set": {"manufacturing_output_min": "8亿元"}},
                         timeout=60).json()

    def output_test(doc: dict[str, Any]) -> str:
        [decision] = doc["decisions"]
        assert (decision["id"], decision["name"], decision["where"]) == ("T1", "试验镇", "request.json:1")
        return {c["id"]: c["status"] for c in decision["criteria"]}["output_manufacturing"]

    assert output_test(plain) == "not_met"  # 9亿元 < 10亿元
    assert output_test(lowered) == "met"  # 9亿元 >= 8亿元


def test_every_decision_handed_out_is_in_the_decision_log(server: Server) -> None:
    log = DecisionLog(server.log_url)
    try:
        before = log.count()
        health = httpx.get(server.url + API + "/health").json()
        towns = [{"id": f"L{i}", "name": f"日志镇{i}", "lead_category": "manufacturing", "lead_output": f"{9 + i}亿元"}
                 for i in range(3)]
        doc = httpx.post(server.url + API + "/packs/huguan-specialized-town/decide", timeout=60,
                         json={"as_of": AS_OF, "entities": towns, "set": {"manufacturing_output_min": "8亿元"}}).json()
        assert log.count() == before + 3
        logged = log.entries(newest_first=True, limit=3)[::-1]
        assert [e.entity_id for e in logged] == ["L0", "L1", "L2"]
        assert [e.outcome for e in logged] == [d["outcome"] for d in doc["decisions"]]
        assert {e.pack_id for e in logged} == {"huguan-specialized-town"} and {e.who for e in logged} == {"127.0.0.1"}
        assert logged[0].overrides == {"manufacturing_output_min": "8亿元"}
        assert httpx.get(server.url + API + "/health").json()["logged"] == health["logged"] + 3
    finally:
        log.close()


def test_a_bad_override_is_a_problem_with_its_code(server: Server) -> None:
    response = httpx.post(server.url + API + "/packs/huguan-specialized-town/decide", timeout=60,
                          json={"as_of": AS_OF, "entities": [], "set": {"no_such_parameter": "8亿元"}})
    assert response.status_code == 422
    assert codes(response) == ["E182"]  # --set names no parameter or choice


def test_a_format1_scoring_pack_is_decided_as_the_cli_decides_it(server: Server, packs: Path) -> None:
    # format 1 refused a scoring pack here (E112: certify score); converted on load, its points,
    # ranks and awards are values of a format-2 pack, decided as `certify evaluate` decides them
    data = FIXTURES / "yangzhou-zones.yaml"
    with data.open("rb") as handle:
        response = httpx.post(server.url + API + "/packs/yangzhou-zone-evaluation/decide",
                              data={"as_of": "2024-12-31"}, files={"data": ("yangzhou-zones.yaml", handle)}, timeout=120)
    assert response.status_code == 200, response.text
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "evaluate", "--rules",
                           str(FORMAT1 / "yangzhou-zone-evaluation.yaml"), str(data), "--as-of", "2024-12-31",
                           "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = same_but_paths(json.loads(done.stdout), packs / "yangzhou-zone-evaluation.yaml", "yangzhou-zones.yaml")
    assert response.json() == expected
    assert response.json()["counts"]["decided"] == len(response.json()["decisions"]) > 10
    assert "traceback" not in response.text.lower()


@pytest.mark.parametrize("body,code", [
    ({"entities": []}, "E235"),  # no as_of
    ({"as_of": "30/06/2024", "entities": []}, "E235"),
    ({"as_of": AS_OF, "entities": "T1"}, "E235"),
    ({"as_of": AS_OF, "entities": [{"id": f"T{i}"} for i in range(51)]}, "E234"),  # --max-rows 50
])
def test_malformed_decide_requests_are_problems(server: Server, body: dict[str, Any], code: str) -> None:
    response = httpx.post(server.url + API + "/packs/huguan-specialized-town/decide", json=body, timeout=60)
    assert response.status_code in (400, 413)
    assert codes(response) == [code]
    assert code in CODES


def test_problems_name_the_client_file_never_a_server_path(server: Server) -> None:
    rows = "id,name,lead_category,lead_output\nD1,甲,manufacturing,12亿元\nD1,乙,manufacturing,12亿元\n"
    response = httpx.post(server.url + API + "/packs/huguan-specialized-town/decide", timeout=60,
                          data={"as_of": AS_OF}, files={"data": ("dup.csv", rows.encode())})
    [problem] = response.json()["problems"]
    assert problem["code"] == "E132" and problem["file"] == "dup.csv" and "dup.csv:2" in problem["message_zh"]
    assert "certify-web-" not in response.text


def test_too_many_rows_in_an_uploaded_csv_is_refused(server: Server) -> None:
    header = "id,name,lead_category,lead_output\n"
    rows = "".join(f"T{i},镇{i},manufacturing,12亿元\n" for i in range(60))
    response = httpx.post(server.url + API + "/packs/huguan-specialized-town/decide", timeout=60,
                          data={"as_of": AS_OF}, files={"data": ("towns.csv", (header + rows).encode())})
    assert response.status_code == 413 and codes(response) == ["E234"]


def test_oversized_and_deeply_nested_json_are_refused(server: Server) -> None:
    url = server.url + API + "/packs/huguan-specialized-town/decide"
    big = b'{"as_of": "2024-06-30", "entities": [' + b'{"id": "x"},' * 200_000 + b'{"id": "y"}]}'
    response = httpx.post(url, content=big, headers={"content-type": "application/json"}, timeout=60)
    assert response.status_code == 413 and codes(response) == ["E230"]
    deep = b'{"as_of": "2024-06-30", "entities": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    response = httpx.post(url, content=deep, headers={"content-type": "application/json"}, timeout=60)
    assert response.status_code == 400 and codes(response) == ["E232"]
    nested = {"as_of": AS_OF, "entities": [{"id": "x", "members": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]}
    response = httpx.post(url, json=nested, timeout=60)
    assert response.status_code == 400 and codes(response) == ["E232"]
    response = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"}, timeout=60)
    assert response.status_code == 400 and codes(response) == ["E231"]


def test_a_cross_site_post_is_refused(server: Server) -> None:
    response = httpx.post(server.url + API + "/packs/huguan-specialized-town/decide", timeout=60,
                          json={"as_of": AS_OF, "entities": []}, headers={"Origin": "http://evil.example"})
    assert response.status_code == 403 and codes(response) == ["E237"]
    same = httpx.post(server.url + API + "/packs/huguan-specialized-town/decide", timeout=60,
                      json={"as_of": AS_OF, "entities": []}, headers={"Origin": server.url})
    assert same.status_code == 200


def test_validate_a_pack_text(server: Server) -> None:
    text = (FORMAT1 / "huguan-specialized-town.yaml").read_text(encoding="utf-8")
    good = httpx.post(server.url + API + "/validate", content=text.encode(), timeout=60).json()
    assert good == {"valid": True, "problems": []}
    broken = text.replace("value: 10亿元", "value: 10亿亩", 1)
    bad = httpx.post(server.url + API + "/validate", json={"text": broken}, timeout=60).json()
    assert bad["valid"] is False
    [problem] = [p for p in bad["problems"] if p["severity"] == "error"]
    line = next(i for i, row in enumerate(broken.splitlines(), start=1) if "10亿亩" in row)
    assert problem["file"] == "pack.yaml" and problem["line"] == line and problem["code"] == "E123"


def test_diff_of_a_lowered_threshold_names_the_entities_that_change(server: Server) -> None:
    text = (FORMAT1 / "huguan-specialized-town.yaml").read_text(encoding="utf-8").replace("value: 10亿元", "value: 8亿元", 1)
    towns = yaml.safe_load((FIXTURES / "huguan-towns.yaml").read_text(encoding="utf-8"))["entities"]
    response = httpx.post(server.url + API + "/packs/huguan-specialized-town/diff", timeout=120,
                          json={"as_of": AS_OF, "text": text, "entities": towns})
    assert response.status_code == 200, response.text
    result = response.json()
    changed = {(row["entity"]["id"], row["old_outcome"], row["new_outcome"]) for row in result["outcome_changes"]}
    assert changed == {("HG05", "fail", "pass"), ("HG06", "fail", "pass")}
    assert result["new"]["label"] == "huguan-specialized-town.yaml"  # no server paths


def test_validate_one_value_of_a_served_pack_as_the_edit_page_types_it(server: Server) -> None:
    """{pack, param, value}: the served file with that value changed, checked as certify validate
    checks it; problems at file:line:col of the served file's name."""
    url = server.url + API + "/validate"
    text = (FORMAT1 / "huguan-specialized-town.yaml").read_text(encoding="utf-8")
    wrong = httpx.post(url, json={"pack": "huguan-specialized-town", "param": "manufacturing_output_min",
                                  "value": "8000亩"}, timeout=60).json()
    assert wrong["valid"] is False
    assert wrong["line"] == next(i for i, row in enumerate(text.splitlines(), 1) if "value: 10亿元" in row)
    [problem] = [p for p in wrong["problems"] if p["severity"] == "error"]
    assert (problem["code"], problem["file"]) == ("E122", "huguan-specialized-town.yaml")
    assert problem["line"] > 1 and problem["col"] > 1 and problem["message_zh"]
    good = httpx.post(url, json={"pack": "huguan-specialized-town", "param": "manufacturing_output_min",
                                 "value": "8亿元"}, timeout=60).json()
    assert good == {"valid": True, "line": wrong["line"], "problems": []}
    # nothing the field can hold is refused as a request: an empty value is a problem shown like the others
    empty = httpx.post(url, json={"pack": "huguan-specialized-town", "param": "manufacturing_output_min", "value": ""},
                       timeout=60).json()
    assert empty["valid"] is False and [p["code"] for p in empty["problems"]] == ["E235"]
    # a variant's value is checked with its base beside it (alone it would not load: E205)
    variant = httpx.post(url, json={"pack": "example-sme-province", "param": "staff_max", "value": "200人"},
                         timeout=60).json()
    assert variant == {"valid": True, "line": 12, "problems": []}
    unit = httpx.post(url, json={"pack": "example-sme-province", "param": "staff_max", "value": "200亩"},
                      timeout=60).json()
    assert [(p["code"], p["file"]) for p in unit["problems"]] == [("E184", "variant-template.yaml")]
    assert (FORMAT1 / "huguan-specialized-town.yaml").read_text(encoding="utf-8") == text  # nothing saved
    assert codes(httpx.post(url, json={"pack": "no-such-pack", "param": "x", "value": "1"}, timeout=60)) == ["E233"]
    assert codes(httpx.post(url, json={"pack": "huguan-specialized-town", "param": ["x"], "value": "1"},
                            timeout=60)) == ["E235"]


def test_diff_of_a_variant_pack_reads_its_base(server: Server, packs: Path) -> None:
    """A variant (pack.extends) is diffed with its base beside it; the base's own change shows
    through where the variant does not replace it."""
    text = (packs / "variant-province.yaml").read_text(encoding="utf-8").replace("value: 300人", "value: 200人")
    firms = [{"id": "F1", "name": "甲公司", "tech_staff": 30, "total_staff": 250, "sales": "5000万元"},
             {"id": "F2", "name": "乙公司", "tech_staff": 30, "total_staff": 150, "sales": "5000万元"}]
    response = httpx.post(server.url + API + "/packs/example-sme-province/diff", timeout=120,
                          json={"as_of": AS_OF, "text": text, "entities": firms})
    assert response.status_code == 200, response.text
    result = response.json()
    assert [(p["name"], p["old"], p["new"]) for p in result["pack_changes"]["parameters"]] == [("staff_max", "300人", "200人")]
    [change] = result["outcome_changes"]
    assert (change["entity"]["id"], change["old_outcome"], change["new_outcome"]) == ("F1", "pass", "fail")
    [cause] = [c for c in change["criteria"] if c["cause"]]
    assert cause["id"] == "small_staff" and "300人 → 200人" in cause["why"]
    assert str(packs) not in response.text and "certify-diff-" not in response.text  # no server paths
    # a variant text whose base is not served: the problem names the file, not a server path
    orphan = text.replace("extends: variant-template.yaml", "extends: no-such-template.yaml")
    refused = httpx.post(server.url + API + "/packs/example-sme-province/diff", timeout=120,
                         json={"as_of": AS_OF, "text": orphan, "entities": firms})
    assert refused.status_code == 422 and "E205" in codes(refused)
    assert "certify-diff-" not in refused.text


def test_openapi_document_lists_every_route(server: Server) -> None:
    doc = httpx.get(server.url + API + "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert {API + "/packs", API + "/packs/{pack_id}", API + "/packs/{pack_id}/decide", API + "/validate",
            API + "/packs/{pack_id}/diff"} <= set(doc["paths"])


def test_other_addresses_need_a_token(packs: Path) -> None:
    refused = Server(packs, host="0.0.0.0").start(wait=False)
    assert refused.process is not None
    assert refused.process.wait(60) == 2
    refused.stop()
    assert "--token" in refused.stderr
    server = Server(packs, host="0.0.0.0", env={"CERTIFY_TOKEN": "s3cret-token"}).start()
    try:
        assert httpx.get(server.url + API + "/packs").status_code == 401
        assert codes(httpx.get(server.url + API + "/packs")) == ["E236"]
        wrong = httpx.get(server.url + API + "/packs", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert httpx.get(server.url + API + "/packs", headers=server.headers()).status_code == 200
    finally:
        server.stop()
    assert "token" in server.stderr.lower() or "令牌" in server.stderr


def test_configured_users_each_named_in_the_log(packs: Path, tmp_path: Path) -> None:
    """--users: every request needs one user's token (on 127.0.0.1 too); each decision is logged
    as handed to that user by name; a browser keeps the user's token from ?token= and the pages
    name the user; a users file that cannot be used stops the server at start (E246, file:line)."""
    users = tmp_path / "users.yaml"
    tokens = {"wang.li": "token-of-wang-li", "赵敏": "token-of-zhao-min"}
    users.write_text("# who may use this workbench\nusers:\n" + "".join(
        f"  {name}: {{token_sha256: {hashlib.sha256(token.encode()).hexdigest()}}}\n" for name, token in tokens.items()),
        encoding="utf-8")
    server = Server(packs, "--users", str(users)).start()
    try:
        url = server.url + API + "/packs/huguan-specialized-town/decide"
        towns = yaml.safe_load((FIXTURES / "huguan-towns.yaml").read_text(encoding="utf-8"))["entities"]
        body = {"as_of": AS_OF, "entities": [dict(t, **{k: v.isoformat() for k, v in t.items() if hasattr(v, "isoformat")})
                                             for t in towns[:2]]}
        assert codes(httpx.post(url, json=body, timeout=120)) == ["E236"]
        assert codes(httpx.post(url, json=body, timeout=120, headers={"Authorization": "Bearer nope"})) == ["E236"]
        for name, token in tokens.items():
            done = httpx.post(url, json=body, timeout=120, headers={"Authorization": f"Bearer {token}"})
            assert done.status_code == 200, done.text
        with httpx.Client(timeout=60) as browser:
            first = browser.get(server.url + "/", params={"token": tokens["赵敏"]})
            assert first.status_code == 200 and "赵敏" in first.text
            assert tokens["赵敏"] not in first.text  # not in the language switch, nor anywhere on the page
            assert browser.get(server.url + "/decide").status_code == 200  # the cookie carries it on
        assert httpx.get(server.url + "/").status_code == 401
    finally:
        server.stop()
    log = DecisionLog(server.log_url)
    try:
        handed = [(e.who, e.entity_id) for e in log.entries()]
    finally:
        log.close()
    ids = [t["id"] for t in towns[:2]]
    assert handed == [("wang.li", i) for i in ids] + [("赵敏", i) for i in ids]
    assert "wang.li" in server.stderr and "赵敏" in server.stderr  # named at start
    # a users file that cannot be used
    broken = tmp_path / "broken-users.yaml"
    broken.write_text("users:\n  wang.li: {token_sha256: 1234}\n", encoding="utf-8")
    refused = Server(packs, "--users", str(broken)).start(wait=False)
    assert refused.process is not None and refused.process.wait(60) == 2
    refused.stop()
    assert f"{broken}:2:" in refused.stderr and "E246" in refused.stderr
