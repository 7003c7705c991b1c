"""Compact traces (issue 14): `certify evaluate --format json --trace compact` then `certify explain
--rules PACK` gives back the full document, byte for byte, on every fixture of every pack with a
suite (format 2: rules/, docs/examples/format2/; format 1: tests/format1/rules/); the
compact document is smaller, names the pack by its sha256, and is refused with another pack."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "records.schema.json").read_text(encoding="utf-8"))


def _inline(doc: dict) -> list[tuple[str, list[dict]]]:
    """The entities a suite writes inline: single ones pooled (first of each id), each cohort alone."""
    single: dict[str, dict] = {}
    cohorts = []
    for i, case in enumerate(doc.get("cases") or []):
        if not isinstance(case, dict) or case.get("set"):
            continue  # a case with --set decides under other parameters
        if isinstance(case.get("entity"), dict):
            single.setdefault(str(case["entity"].get("id")), case["entity"])
        if isinstance(case.get("entities"), list):
            cohorts.append((f"cohort{i}", case["entities"]))
    return ([("inline", list(single.values()))] if single else []) + cohorts


def _cases() -> list[tuple[Path, object, str]]:
    """(pack, fixture file or inline entities, as-of) for every fixture and inline entity a suite names."""
    out: list[tuple[Path, object, str]] = []
    for folder in ("rules", "tests/format1/rules", "docs/examples/format2"):
        for suite in sorted((ROOT / folder).glob("*.tests.yaml")):
            doc = yaml.safe_load(suite.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or "pack" not in doc:
                continue
            pack = suite.parent / doc["pack"]
            pack_doc = yaml.safe_load(pack.read_text(encoding="utf-8"))
            if pack_doc.get("pack", {}).get("kind") == "scoring":
                continue  # certify score's, not evaluate's
            as_of = str(doc.get("as_of", "2024-06-30"))
            fixtures: list[str] = list(doc.get("fixtures") or [])
            for fixture in dict.fromkeys(fixtures):
                out.append((pack, (suite.parent / fixture).resolve(), as_of))
            for name, entities in _inline(doc):
                out.append((pack, (name, entities), as_of))
    for huguan in (ROOT / "rules" / "huguan-specialized-town.yaml",
                   ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"):  # format 2 and format 1
        for name in ("huguan-towns.csv", "huguan-towns.json", "huguan-towns-gbk.csv", "huguan-bad-rows.csv"):
            if huguan.exists() and (ROOT / "fixtures" / name).exists():
                out.append((huguan, ROOT / "fixtures" / name, "2024-06-30"))
    out.append((ROOT / "docs/examples/format2/variant-province.yaml", ROOT / "fixtures/example-variant-firms.yaml",
                "2024-06-30"))
    return out


def _id(case: tuple[Path, object, str]) -> str:
    pack, source, _ = case
    fmt = "f1" if "format1" in str(pack) else "f2"
    return f"{fmt}:{pack.stem}:{source.name if isinstance(source, Path) else source[0]}"  # type: ignore[index]


CASES = _cases()


def run(*args: object) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_there_are_fixtures_of_both_formats() -> None:
    formats = {yaml.safe_load(p.read_text(encoding="utf-8")).get("format", 1) for p, _, _ in CASES}
    assert formats == {1, 2}
    assert len(CASES) >= 60


@pytest.mark.parametrize("pack, fixture, as_of", CASES, ids=[_id(c) for c in CASES])
def test_compact_expands_to_the_full_record(tmp_path: Path, pack: Path, fixture: object, as_of: str) -> None:
    if not isinstance(fixture, Path):
        data = tmp_path / "entities.yaml"
        data.write_text(yaml.safe_dump(fixture[1], allow_unicode=True), encoding="utf-8")  # type: ignore[index]
        fixture = data
    full, compact, expanded = tmp_path / "full.json", tmp_path / "compact.json", tmp_path / "expanded.json"
    first = run("evaluate", "--rules", pack, fixture, "--as-of", as_of, "--format", "json", "-o", full)
    assert first.exit_code in (0, 3), first.output
    second = run("evaluate", "--rules", pack, fixture, "--as-of", as_of, "--format", "json", "--trace", "compact",
                 "-o", compact)
    assert second.exit_code == first.exit_code, second.output
    third = run("explain", compact, "--rules", pack, "-o", expanded)
    assert third.exit_code == 0, third.output
    assert expanded.read_bytes() == full.read_bytes()
    doc = json.loads(compact.read_text(encoding="utf-8"))
    jsonschema.validate(doc, SCHEMA)
    jsonschema.validate(json.loads(full.read_text(encoding="utf-8")), SCHEMA)
    if doc["decisions"]:
        assert compact.stat().st_size < full.stat().st_size
        text = compact.read_text(encoding="utf-8")
        # titles and citations are left to the pack
        assert '"title"' not in text and '"cite"' not in text


def test_compact_names_criteria_with_value_threshold_and_gap(tmp_path: Path) -> None:
    pack = ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"  # the format-1 original
    out = tmp_path / "c.json"
    run("evaluate", "--rules", pack, ROOT / "fixtures" / "huguan-towns.csv", "--as-of", "2024-06-30",
        "--format", "json", "--trace", "compact", "-o", out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    # read as format 2 (converted on load): format 2's compact records
    assert doc["schema"] == "certify.evaluation.compact/2"
    failed = {d["id"]: c for d in doc["decisions"] for c in d["criteria"] if c["status"] == "not_met" and "gap" in c}
    assert failed, "a town below a threshold shows its gap"
    # HG05: 99,999万元 against 10亿元, 1万元 short (base units: 元; the threshold is the pack's parameter,
    # left to the pack as titles are)
    assert failed["HG05"] == {"id": "output_manufacturing", "status": "not_met", "value": "999990000", "gap": "10000"}
    assert all(d["provenance"]["pack_sha256"] for d in doc["decisions"])


def test_compact_format2_gap_and_table_row(tmp_path: Path) -> None:
    pack = ROOT / "rules" / "tech-sme-evaluation.yaml"
    out = tmp_path / "c.json"
    run("evaluate", "--rules", pack, ROOT / "fixtures" / "tech-sme-firms.yaml", "--as-of", "2024-06-30",
        "--format", "json", "--trace", "compact", "-o", out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["schema"] == "certify.evaluation.compact/2"
    for d in doc["decisions"]:
        assert d["provenance"]["pack_sha256"]
        for c in d["criteria"]:
            assert set(c) <= {"id", "status", "branch", "value", "row", "threshold", "gap", "reason", "missing"}
    gaps = [c for d in doc["decisions"] for c in d["criteria"] if "gap" in c]
    assert gaps and all(c["status"] == "not_met" for c in gaps)


def test_explain_refuses_another_pack(tmp_path: Path) -> None:
    pack = ROOT / "rules" / "tech-sme-evaluation.yaml"
    out = tmp_path / "c.json"
    run("evaluate", "--rules", pack, ROOT / "fixtures" / "tech-sme-firms.yaml", "--as-of", "2024-06-30",
        "--format", "json", "--trace", "compact", "-o", out)
    changed = tmp_path / "tech-sme-evaluation.yaml"
    changed.write_text(pack.read_text(encoding="utf-8") + "\n# a comment changes the sha256\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["explain", str(out), "--rules", str(changed)])
    assert result.exit_code == 4
    assert "E255" in result.output


def test_explain_refuses_a_full_document(tmp_path: Path) -> None:
    pack = ROOT / "rules" / "tech-sme-evaluation.yaml"
    out = tmp_path / "f.json"
    run("evaluate", "--rules", pack, ROOT / "fixtures" / "tech-sme-firms.yaml", "--as-of", "2024-06-30",
        "--format", "json", "-o", out)
    result = CliRunner().invoke(main, ["explain", str(out), "--rules", str(pack)])
    assert result.exit_code == 2
    assert "E256" in result.output


def test_compact_with_overrides_and_workers(tmp_path: Path) -> None:
    """Overrides travel in the format-1 record (and --set is given again for format 2); two
    workers give the same compact document."""
    pack = ROOT / "rules" / "tech-sme-evaluation.yaml"
    data = ROOT / "fixtures" / "tech-sme-firms.yaml"
    full, one, two, back = (tmp_path / n for n in ("f.json", "c1.json", "c2.json", "e.json"))
    common = ["--rules", pack, data, "--as-of", "2024-06-30", "--format", "json", "--set", "score_min=50分"]
    assert run("evaluate", *common, "-o", full).exit_code in (0, 3)
    run("evaluate", *common, "--trace", "compact", "-o", one)
    run("evaluate", *common, "--trace", "compact", "--workers", "2", "-o", two)
    assert one.read_bytes() == two.read_bytes()
    assert run("explain", one, "--rules", pack, "--set", "score_min=50分", "-o", back).exit_code == 0
    assert back.read_bytes() == full.read_bytes()


def test_trace_compact_needs_json() -> None:
    result = CliRunner().invoke(main, ["evaluate", "--rules", str(ROOT / "rules" / "tech-sme-evaluation.yaml"),
                                       str(ROOT / "fixtures" / "tech-sme-firms.yaml"), "--as-of", "2024-06-30",
                                       "--trace", "compact"])
    assert result.exit_code == 2


@pytest.mark.parametrize("pack, data", [
    ("rules/huguan-specialized-town.yaml", "fixtures/huguan-towns.csv"),
    ("rules/tech-sme-evaluation.yaml", "fixtures/tech-sme-firms.yaml"),
])
def test_compact_keeps_what_it_takes(tmp_path: Path, pack: str, data: str) -> None:
    full, compact, back = tmp_path / "f.json", tmp_path / "c.json", tmp_path / "e.json"
    common = ["--rules", ROOT / pack, ROOT / data, "--as-of", "2024-06-30", "--format", "json", "--what-it-takes"]
    run("evaluate", *common, "-o", full)
    run("evaluate", *common, "--trace", "compact", "-o", compact)
    assert "what_it_takes" in compact.read_text(encoding="utf-8")
    assert run("explain", compact, "--rules", ROOT / pack, "-o", back).exit_code == 0
    assert back.read_bytes() == full.read_bytes()


def test_explain_reads_a_reindented_document(tmp_path: Path) -> None:
    """A compact document another tool re-indented (no longer one decision a line) is read whole."""
    pack = ROOT / "rules" / "tech-sme-evaluation.yaml"
    full, compact, again, back = (tmp_path / n for n in ("f.json", "c.json", "r.json", "e.json"))
    common = ["--rules", pack, ROOT / "fixtures" / "tech-sme-firms.yaml", "--as-of", "2024-06-30", "--format", "json"]
    run("evaluate", *common, "-o", full)
    run("evaluate", *common, "--trace", "compact", "-o", compact)
    again.write_text(json.dumps(json.loads(compact.read_text(encoding="utf-8")), indent=4, ensure_ascii=False),
                     encoding="utf-8")
    assert run("explain", again, "--rules", pack, "-o", back).exit_code == 0
    assert back.read_bytes() == full.read_bytes()
