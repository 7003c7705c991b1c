"""The worked examples of the format-2 reference (docs/examples/format2/, README "Rule pack
reference"): every example validates, every example has a suite that both engines pass, every
construct of the language has an example, and the YAML the README and docs/ quote from an example
is that example's text, so the documentation cannot drift from what the engine accepts.

(values-*.yaml are also computed one by one in tests/test_values.py; the variant-*.yaml pair is
decided end to end in tests/test_variants.py.)"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

import engine.compile.points  # noqa: F401  (fills OPS)
import engine.compile.values  # noqa: F401  (fills OPS)
from cli import main
from engine.commands.packtest import run_suite
from engine.compile.build2 import check_pack2
from engine.compile.ops import OPS
from engine.load.yamlsafe import load_yaml_file

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples" / "format2"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def example_packs() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.yaml") if not p.name.endswith(".tests.yaml"))


def plain(value: Any) -> Any:
    """The document as plain dicts and lists (the loader's nodes keep their positions)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def load(name: str) -> dict[str, Any]:
    doc, _ = load_yaml_file(str(EXAMPLES / name))
    return plain(doc.value)


# ---------------------------------------------------------------------------------------------
# Every example validates and is decided by its suite


def test_certify_validate_accepts_the_examples_folder() -> None:
    result = CliRunner().invoke(main, ["validate", str(EXAMPLES)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", [n for n in example_packs() if not n.startswith("variant-")])
def test_example_validates_clean_and_its_suite_passes(name: str) -> None:
    """Every example (values-* too) but the variants (tests/test_variants.py decides those)."""
    doc, _ = load_yaml_file(str(EXAMPLES / name))
    assert check_pack2(doc, dt.date(2024, 6, 30)) == []
    suite = EXAMPLES / name.replace(".yaml", ".tests.yaml")
    assert suite.exists(), f"{suite.name}: every example has a suite"
    for engine in ("durable", "reference"):
        result = run_suite(str(suite), engine)
        assert result.problems == []
        assert len(result.cases) >= 2
        assert [(c.name, c.diffs) for c in result.cases if not c.passed] == [], engine


def test_a_cohort_example_suite_fails_on_a_wrong_place(tmp_path: Path) -> None:
    (tmp_path / "ranks-rank.yaml").write_text((EXAMPLES / "ranks-rank.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    text = (EXAMPLES / "ranks-rank.tests.yaml").read_text(encoding="utf-8")
    assert "K3: {outcome: pass, ranks: {place: 2}}" in text
    (tmp_path / "s.tests.yaml").write_text(text.replace("K3: {outcome: pass, ranks: {place: 2}}",
                                                        "K3: {outcome: pass, ranks: {place: 3}}"), encoding="utf-8")
    result = run_suite(str(tmp_path / "s.tests.yaml"))
    assert [c.passed for c in result.cases] == [False, True, True]
    assert result.cases[0].diffs == ["K3: ranks.place: expected 3, got 2"]


# ---------------------------------------------------------------------------------------------
# One example per construct


def test_every_points_and_rank_operation_has_an_example() -> None:
    points = [k for k, d in OPS.items() if d.parse.__module__ == "engine.compile.points"]
    assert set(points) >= {"bands", "map", "per_unit", "items", "rank_points", "baseline_step", "deductions",
                           "weighted", "group", "rank", "placed_last"}
    want = {f"points-{k}.yaml" if OPS[k].points else f"ranks-{k}.yaml" for k in points}
    assert want <= set(example_packs())


def nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every criterion node of a tree, the tree's own root included."""
    if not isinstance(node, dict):
        return
    yield node
    for key in ("all", "any"):
        for child in node.get(key) or []:
            yield from nodes(child)
    if "at_least" in node:
        for child in node["at_least"].get("of") or []:
            yield from nodes(child)
    if "not" in node:
        yield from nodes(node["not"])
    for case in node.get("cases") or []:
        yield from nodes(case.get("then"))


def constructs(doc: dict[str, Any]) -> set[str]:
    """The constructs of the language a pack uses, by name (as the README's reference lists them)."""
    used: set[str] = set()
    pack = doc.get("pack") or {}
    used |= {f"pack.{k}" for k in ("until", "superseded_by", "extends") if k in pack}
    for spec in (doc.get("inputs") or {}).values():
        used.add(f"input.{spec.get('type')}")
        if spec.get("signed"):
            used.add("input.signed")
    for spec in (doc.get("parameters") or {}).values():
        used |= {f"parameter.{k}" for k in ("value", "values", "unset", "table", "scaled", "in_force") if k in spec}
        if "missing" in (spec.get("table") or {}):
            used.add("parameter.table.missing")
    if doc.get("choices"):
        used.add("choices")
    for spec in (doc.get("values") or {}).values():
        used |= {f"value.{k}" for k in spec if k in OPS}
        if isinstance(spec.get("map"), dict) and "highest" in spec["map"]:
            used.add("value.map.highest")
        if any(isinstance(v, dict) and v.get("missing") == "zero" for v in spec.values()):
            used.add("value.missing.zero")
    for root in (doc.get("criteria") or {}).values():
        for node in nodes(root):
            used |= {f"criterion.{k}" for k in ("all", "any", "at_least", "not", "cases", "criterion", "applies_when",
                                                "due", "tolerance", "discretionary") if k in node}
            test = node.get("test") or {}
            if "op" in test:
                used.add(f"test.{test['op']}")
            used |= {f"test.{k}" for k in ("attested", "each", "valid_on") if k in test}
    outcomes = doc.get("outcomes") or {}
    used |= {f"outcomes.{k}" for k in ("flags", "consequences", "awards") if k in outcomes}
    return used


LANGUAGE = {
    "pack.until", "pack.superseded_by", "pack.extends",
    "input.money", "input.count", "input.percent", "input.area", "input.enum", "input.boolean",
    "input.attestation", "input.date", "input.members", "input.signed",
    "parameter.value", "parameter.values", "parameter.unset", "parameter.table", "parameter.table.missing",
    "parameter.scaled", "parameter.in_force", "choices",
    "value.map.highest", "value.missing.zero",
    "criterion.all", "criterion.any", "criterion.at_least", "criterion.not", "criterion.cases",
    "criterion.criterion", "criterion.applies_when", "criterion.due", "criterion.tolerance",
    "criterion.discretionary",
    "test.>=", "test.<=", "test.!=", "test.in", "test.is_true", "test.is_false", "test.attested", "test.each",
    "test.on_or_after", "test.on_or_before", "test.within_years_before", "test.valid_on",
    "outcomes.flags", "outcomes.consequences", "outcomes.awards",
}


def test_every_construct_of_the_language_has_an_example() -> None:
    used: set[str] = set()
    for name in example_packs():
        used |= constructs(load(name))
    values = {f"value.{k}" for k in OPS if OPS[k].parse.__module__ in ("engine.compile.values", "engine.compile.points")}
    assert (LANGUAGE | values) - used == set()


# ---------------------------------------------------------------------------------------------
# The documentation names every example, and what it quotes is the example's text

EXAMPLE_MARK = re.compile(r"<!-- example: (\S+) -->\s*\n```yaml\n(.*?)```", re.S)


def test_every_example_is_named_in_the_documentation() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS)
    assert [n for n in example_packs() if n not in text] == []


def quoted_blocks() -> list[tuple[str, str, str]]:
    out = []
    for doc in DOCS:
        for match in EXAMPLE_MARK.finditer(doc.read_text(encoding="utf-8")):
            out.append((doc.name, match.group(1), match.group(2)))
    return out


def test_the_readme_quotes_its_examples() -> None:
    quoted = {name for doc, name, _ in quoted_blocks() if doc == "README.md"}
    assert len(quoted) >= 20, sorted(quoted)


@pytest.mark.parametrize("doc,name,block", quoted_blocks(), ids=lambda v: v if len(v) < 60 else "")
def test_a_quoted_example_is_the_file_s_text(doc: str, name: str, block: str) -> None:
    """A block marked `<!-- example: FILE -->` is a run of whole lines of that file (an excerpt may
    leave lines out with a line `# …`, which splits it into runs that must appear in order)."""
    source = (EXAMPLES / name).read_text(encoding="utf-8").splitlines()
    runs: list[list[str]] = [[]]
    for line in block.splitlines():
        if line.strip() == "# …":
            runs.append([])
        else:
            runs[-1].append(line)
    start = 0
    for run in [r for r in runs if r]:
        found = next((i for i in range(start, len(source) - len(run) + 1) if source[i:i + len(run)] == run), None)
        assert found is not None, f"{doc}: the block quoted from {name} is not its text from line {start + 1}:\n" + "\n".join(run)
        start = found + len(run)
