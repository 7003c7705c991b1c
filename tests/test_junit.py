"""`certify test --junit`: XML that Jenkins and GitLab accept. Checked against tests/junit.xsd (the
structure of Jenkins' junit-10.xsd, see the comment there) by a small reader of that XSD — every
element, attribute, required attribute, attribute type and child it declares — and by lxml's full
XML Schema validator when lxml is installed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parent.parent
XSD = Path(__file__).resolve().parent / "junit.xsd"
XS = "{http://www.w3.org/2001/XMLSchema}"
PACK = ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"
BUILTIN = {"xs:string": r".*", "xs:nonNegativeInteger": r"[0-9]+", "xs:positiveInteger": r"0*[1-9][0-9]*"}


class Schema:
    """The subset of XML Schema that tests/junit.xsd uses, read from the file itself."""

    def __init__(self, path: Path):
        root = ET.parse(path).getroot()
        self.patterns = dict(BUILTIN)
        for simple in root.iter(f"{XS}simpleType"):
            self.patterns[simple.get("name")] = simple.find(f"{XS}restriction/{XS}pattern").get("value")
        self.types = {c.get("name"): c for c in root.findall(f"{XS}complexType")}
        self.elements = {}
        for element in root.findall(f"{XS}element"):
            self.elements[element.get("name")] = element.find(f"{XS}complexType") if element.get("type") is None \
                else self.types[element.get("type")]

    def check(self, node: ET.Element, where: str = "") -> list[str]:
        where = f"{where}/{node.tag}"
        if node.tag not in self.elements:
            return [f"{where}: element not in the schema"]
        ctype = self.elements[node.tag]
        errors = []
        declared = {a.get("name"): a for a in ctype.iter(f"{XS}attribute")}
        for name, value in node.attrib.items():
            if name not in declared:
                errors.append(f"{where}: attribute {name!r} not allowed")
            elif not re.fullmatch(self.patterns[declared[name].get("type")], value):
                errors.append(f"{where}: {name}={value!r} is not a {declared[name].get('type')}")
        errors += [f"{where}: required attribute {n!r} missing" for n, a in declared.items()
                   if a.get("use") == "required" and n not in node.attrib]
        allowed = {ref.get("ref") for ref in ctype.iter(f"{XS}element")}
        errors += [f"{where}: child {child.tag!r} not allowed" for child in node if child.tag not in allowed]
        if (node.text or "").strip() and ctype.get("mixed") != "true":
            errors.append(f"{where}: text not allowed")
        for child in node:
            errors += self.check(child, where)
        return errors


def _validate(xml: Path) -> None:
    assert Schema(XSD).check(ET.parse(xml).getroot()) == []
    try:
        from lxml import etree
    except ImportError:
        return
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(etree.parse(str(xml))), schema.error_log


def test_the_schema_reader_refuses_what_the_schema_does():
    schema = Schema(XSD)
    bad = ET.fromstring('<testsuites><testsuite name="x" tests="1" failures="0" errors="0" time="1.5">'
                        '<testcase name="a" classname="c" time="0.1" file="r.yaml:12"/>'
                        '<testcase name="b" classname="c" time="soon" line="0"><oops/></testcase>'
                        '</testsuite><testsuite name="y" failures="0" errors="0" time="0"/></testsuites>')
    errors = schema.check(bad)
    assert any("time='soon'" in e for e in errors) and any("line='0'" in e for e in errors)
    assert any("child 'oops'" in e for e in errors) and any("'tests' missing" in e for e in errors)
    good = ET.fromstring('<testsuites><testsuite name="x" tests="1" failures="0" errors="0" time="1.5">'
                         '<testcase name="a" classname="c" time="0.100" file="r.yaml" line="12"/>'
                         '</testsuite></testsuites>')
    assert schema.check(good) == []


@pytest.fixture()
def run(tmp_path: Path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / PACK.name).write_bytes(PACK.read_bytes())
    (rules / "good.tests.yaml").write_text(
        f"pack: {PACK.name}\nas_of: '2024-06-30'\ncases:\n"
        "  - name: right\n"
        "    entity: {id: T1, lead_category: manufacturing, lead_output: 1亿元}\n"
        "    expect: {outcome: undetermined}\n"
        "  - name: wrong on purpose\n"
        "    entity: {id: T2, lead_category: manufacturing, lead_output: 1亿元}\n"
        "    expect: {outcome: pass}\n", encoding="utf-8")
    (rules / "outside.tests.yaml").write_text("pack: ../../secret.yaml\ncases: []\n", encoding="utf-8")
    (rules / "broken.tests.yaml").write_text("pack: [1\n", encoding="utf-8")
    junit = tmp_path / "junit.xml"
    result = CliRunner().invoke(main, ["test", str(rules), "--junit", str(junit), "--engine", "reference",
                                       "--lang", "en"])
    return result, junit, rules


def test_junit_is_valid_and_counts_right(run):
    result, junit, rules = run
    assert result.exit_code == 1, result.output
    _validate(junit)
    root = ET.parse(junit).getroot()
    suites = {Path(s.get("file")).name: s for s in root.findall("testsuite")}
    assert set(suites) == {"good.tests.yaml", "outside.tests.yaml", "broken.tests.yaml"}
    for name in ("outside.tests.yaml", "broken.tests.yaml"):  # a suite that cannot load: 1 test, 1 error
        s = suites[name]
        assert (s.get("tests"), s.get("failures"), s.get("errors")) == ("1", "0", "1"), name
        (case,) = s.findall("testcase")
        assert case.find("error") is not None and case.get("file") == str(rules / name)
    assert suites["outside.tests.yaml"].find("testcase/error").get("type") == "E175"
    assert suites["broken.tests.yaml"].find("testcase/error").get("type") == "E101"
    good = suites["good.tests.yaml"]
    assert (good.get("tests"), good.get("failures"), good.get("errors")) == ("2", "1", "0")
    right, wrong = good.findall("testcase")
    text = (rules / "good.tests.yaml").read_text(encoding="utf-8").splitlines()
    assert right.get("file") == str(rules / "good.tests.yaml")  # the path alone ...
    assert text[int(right.get("line")) - 1].strip() == "- name: right"  # ... and the line on its own
    assert text[int(wrong.get("line")) - 1].strip() == "- name: wrong on purpose"
    assert right.find("failure") is None
    assert wrong.find("failure").get("message").startswith("outcome: expected pass, got undetermined")
    for node in [root, *root.iter("testsuite"), *root.iter("testcase")]:
        assert float(node.get("time")) >= 0
    assert float(good.get("time")) >= float(right.get("time")) + float(wrong.get("time"))
    assert root.get("tests") == "4" and root.get("failures") == "1" and root.get("errors") == "2"


def test_junit_of_the_shipped_suites_is_valid(tmp_path):
    junit = tmp_path / "junit.xml"
    suites = [str(ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.tests.yaml"),
              str(ROOT / "tests" / "format1" / "rules" / "yangzhou-zone-evaluation.tests.yaml")]  # eligibility and scoring
    result = CliRunner().invoke(main, ["test", *suites, "--junit", str(junit), "--engine", "reference"])
    assert result.exit_code == 0, result.output
    _validate(junit)
    root = ET.parse(junit).getroot()
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in root.findall("testsuite")) > 10
    assert root.get("failures") == root.get("errors") == "0"
    assert all(":" not in Path(c.get("file")).name for c in root.iter("testcase"))
