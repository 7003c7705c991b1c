"""The text views pinned by golden files: the Huguan sample towns, zh and en, short and full.

A change to how an explanation reads shows up here as a diff of the whole output. When the
change is deliberate, regenerate and read the diff before committing:

    .venv/bin/python -m pytest tests/test_golden.py --update-golden
    git diff tests/golden/

Hashes (pack and input sha256) and the engine versions are masked, so editing a pack's comments
or upgrading durable-rules does not touch the goldens; everything else is compared exactly.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
PACK = ROOT / "rules" / "huguan-specialized-town.yaml"
TOWNS = ROOT / "fixtures" / "huguan-towns.yaml"
HG05 = ROOT / "tests" / "golden" / "hg05.yaml"  # one town: the full view is the default

CASES = {
    "huguan-towns.zh.short.txt": ("--lang", "zh"),
    "huguan-towns.zh.full.txt": ("--lang", "zh", "--full"),
    "huguan-towns.en.short.txt": ("--lang", "en"),
    "huguan-towns.en.full.txt": ("--lang", "en", "--full"),
    "huguan-towns.zh.set-8yi.short.txt": ("--lang", "zh", "--set", "manufacturing_output_min=8亿元"),
}


def masked(text: str) -> str:
    text = re.sub(r"sha256 [0-9a-f]{12}", "sha256 <hash>", text)
    return re.sub(r"((?:引擎|engine) )\S+ / .*$", r"\1<versions>", text, flags=re.M)


def render(*options: str, data: Path = TOWNS) -> str:
    result = CliRunner().invoke(main, ["evaluate", "--rules", str(PACK), str(data), "--as-of", "2024-06-30",
                                       *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return masked(result.stdout)


def check(name: str, got: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.write_text(got, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run pytest tests/test_golden.py --update-golden"
    want = path.read_text(encoding="utf-8")
    if got != want:
        import difflib

        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), name, "now", n=1))
        pytest.fail(f"the text view changed (if deliberate: pytest tests/test_golden.py --update-golden)\n{diff[:6000]}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_huguan_text_views_match_their_goldens(name: str, update_golden: bool) -> None:
    check(name, render(*CASES[name]), update_golden)


def test_one_town_defaults_to_the_full_tree(update_golden: bool) -> None:
    text = render("--lang", "zh", data=HG05)
    check("hg05.zh.default.txt", text, update_golden)
    assert "  ✘ 二(四) 产业集聚度高" in text  # the tree, without asking for --full
