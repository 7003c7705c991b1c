"""Every view the command line prints or writes, pinned by a golden file in tests/golden/.

Each view is produced through the CLI (`certify evaluate | report | score | diff | test | lint |
validate`) on the bundled packs and fixtures, so a change to how any output reads shows up here
as a diff of the whole output. When the change is deliberate, regenerate every golden file with
the one command

    .venv/bin/python -m pytest tests/test_golden.py --update-golden

and read `git diff tests/golden/` before committing (a view that no longer exists leaves its
golden file behind: delete it by hand).

What is pinned (see VIEWS for the exact command of each file):
- the format-1 packs of tests/format1/rules/ as every command now reads them: converted to format
  2 on load (W264 on stderr) and shown by the format-2 views (the files without the `format2.`
  prefix; format 1's own views are no longer produced):
- evaluate: text zh/en, short/full (Huguan towns), `--set`, one town; JSON (certify.evaluation/2),
  CSV zh/en, XLSX; what it would take (text and JSON);
  the problems of bad rows on stderr; a targets pack (Huguan town targets: text, JSON);
- report: HTML (the page source) and Markdown, zh/en, with "what it would take"; XLSX;
- score (Yangzhou zones): text short/full zh, short en, JSON, CSV; report HTML, Markdown, XLSX;
- diff: an eligibility pack (text zh/en, Markdown, JSON) and a scoring pack (text, Markdown);
- test: the shipped Huguan suites (text with coverage, JSON, JUnit XML) and a suite with a
  failing case and a broken suite (text, JUnit XML);
- format 2 (tests/golden/format2/, a synthetic pack and firms): evaluate text zh/en short/full and
  JSON, report HTML and Markdown zh/en, the validity warning (text, Markdown), and `certify test`
  of its hand-computed suite asserting points and subtotals (text with coverage, JUnit XML);
  what it would take (text zh short / en full, JSON, report Markdown; through criterion links and
  a lookup table: tests/golden/format2/linked-firms.yaml), the workbook (XLSX), and a
  synthetic ranked pack (tests/golden/format2/zone-ranking.yaml): score (text zh short / en full,
  JSON, CSV zh/en), evaluate --full and the workbook (lower bounds marked ≥, a place without 分) and diff of two versions of each pack (text zh/en, Markdown, JSON; a ranked pack's places);
  the shipped format-2 Huguan pack (rules/) on tests/golden/format2/huguan-towns.yaml: evaluate
  text zh/en short/full, JSON, CSV, XLSX, report HTML/Markdown, diff (10亿元 → 8亿元; text, JSON),
  showing what format 1's views showed: the 酌情 mark and the pass resting on it, flags on the
  short line, the gap (差 1万元), the threshold as written (10亿元) and attestation evidence;
  the shipped Yangzhou pack's score (text zh/en short);
- validate and lint: problems as text zh/en, JSON and GitHub annotations; `certify schema`.

Masked, because they truly vary: sha256 hashes (of packs and inputs), the engine and
durable-rules versions, JUnit's timings, and the temporary folder the tests write in (`<tmp>`).
Everything else is compared exactly. XLSX files are pinned as text (sheet names, frozen panes,
every cell's value and number format), not as bytes (the zip carries its creation time); JSON is
pinned pretty-printed in its own key order (and the evaluation stream is checked to be one
decision per line); JUnit XML pretty-printed.

Only named packs and fixtures are used, never a whole folder: a new pack in rules/ must not
change these files.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from xml.dom import minidom

import openpyxl
import pytest
from click.testing import CliRunner

from cli import main
from engine import ENGINE_VERSION

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
REGENERATE = ".venv/bin/python -m pytest tests/test_golden.py --update-golden"

HUGUAN = "tests/format1/rules/huguan-specialized-town.yaml"
TOWNS = "fixtures/huguan-towns.yaml"
TOWNS_CSV = "fixtures/huguan-towns.csv"  # 6 towns: pass, fail, undetermined, relaxed path
HG05 = "tests/golden/hg05.yaml"  # one town: the full view is the default
AS_OF = "2024-06-30"
YANGZHOU = "tests/format1/rules/yangzhou-zone-evaluation.yaml"
ZONES = "fixtures/yangzhou-zones.yaml"
Y_AS_OF = "2024-12-31"
TARGETS = "tests/format1/rules/huguan-town-targets.yaml"
COUNTY = "fixtures/huguan-county.yaml"
PACK2 = "tests/golden/format2/firm-points.yaml"  # synthetic format-2 pack and firms
FIRMS2 = "tests/golden/format2/firms.yaml"
SUITES = ("tests/format1/rules/huguan-specialized-town.tests.yaml", "tests/format1/rules/huguan-town-targets.tests.yaml")
BROKEN = ("tests/packs/broken/E120-unknown-param.yaml", "tests/packs/broken/E123-chinese-numeral.yaml",
          "tests/packs/broken/W200-unused-parameter.yaml", "tests/packs/broken/W202-no-cite.yaml")


# ---------------------------------------------------------------------------------------------
# Masking and shaping


def mask(text: str, tmp: Path | None = None) -> str:
    """Hide what truly varies between runs and machines; nothing else."""
    if tmp is not None:
        text = text.replace(str(tmp), "<tmp>")
    text = re.sub(r"\b[0-9a-f]{64}\b", "<sha256>", text)
    text = re.sub(r"(sha256 `?)[0-9a-f]{12}\b", r"\1<hash>", text)
    engine = re.escape(ENGINE_VERSION)
    text = re.sub(rf"\b{engine} / durable-rules( [0-9][0-9.]*[0-9])?", "<versions>", text)
    text = re.sub(r"durable-rules [0-9][0-9.]*[0-9]", "durable-rules <version>", text)
    text = re.sub(rf'("engine_version": ")[^"]*"', r'\1<version>"', text)
    return re.sub(r'\btime="[0-9.]+"', 'time="<t>"', text)


def pretty_json(text: str) -> str:
    return json.dumps(json.loads(text), ensure_ascii=False, indent=1) + "\n"


def pretty_xml(text: str) -> str:
    return minidom.parseString(text.encode("utf-8")).toprettyxml(indent=" ")


def xlsx_text(path: Path) -> str:
    """A workbook as text: per sheet its name, size and frozen panes, then every row, cells
    separated by ' | ', a number followed by its number format when that is not General."""
    book = openpyxl.load_workbook(path)
    lines = []
    for sheet in book.worksheets:
        lines.append(f"== sheet {sheet.title!r}: {sheet.max_row} rows x {sheet.max_column} columns, "
                     f"frozen at {sheet.freeze_panes}")
        for row in sheet.iter_rows():
            cells = []
            for cell in row:
                value = "" if cell.value is None else str(cell.value)
                if not isinstance(cell.value, str) and cell.value is not None and cell.number_format != "General":
                    value += f" [{cell.number_format}]"
                cells.append(value)
            lines.append(" | ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The views


@dataclass(frozen=True)
class View:
    """One golden file: the certify command line that makes it ({out} is a file in the test's
    temporary folder, {tmp} the folder), where the view is read from and how it is shaped."""

    args: tuple[str, ...]
    read: str = "stdout"  # stdout | stderr | out (the file {out})
    shape: Callable[[str], str] | None = None
    exit_code: int = 0
    prepare: Callable[[Path], None] | None = None  # writes input files into {tmp} first


def _changed_pack(source: str, name: str, edits: list[tuple[str, str]]) -> Callable[[Path], None]:
    """A second version of a shipped pack in {tmp}/name, each edit applied exactly once."""

    def write(tmp: Path) -> None:
        text = (ROOT / source).read_text(encoding="utf-8")
        for old, new in edits:
            assert text.count(old) >= 1, f"{source} no longer contains {old!r}: update tests/test_golden.py"
            text = text.replace(old, new)
        (tmp / name).write_text(text, encoding="utf-8")

    return write


def _failing_suite(tmp: Path) -> None:
    """A suite folder with one right case, one wrong on purpose, and a suite that cannot load."""
    rules = tmp / "rules"
    rules.mkdir()
    (rules / "huguan-specialized-town.yaml").write_bytes((ROOT / HUGUAN).read_bytes())
    (rules / "good.tests.yaml").write_text(
        "pack: huguan-specialized-town.yaml\nas_of: '2024-06-30'\ncases:\n"
        "  - name: 缺数据无法判定\n"
        "    entity: {id: T1, lead_category: manufacturing, lead_output: 1亿元}\n"
        "    expect: {outcome: undetermined}\n"
        "  - name: 故意写错的期望\n"
        "    entity: {id: T2, lead_category: manufacturing, lead_output: 1亿元}\n"
        "    expect: {outcome: pass, criteria: {output_manufacturing: met}}\n", encoding="utf-8")
    (rules / "broken.tests.yaml").write_text("pack: [1\n", encoding="utf-8")


HUGUAN_8YI = _changed_pack(HUGUAN, "huguan-8yi.yaml", [("    value: 10亿元\n", "    value: 8亿元\n")])
YANGZHOU_V2 = _changed_pack(YANGZHOU, "yangzhou-v2.yaml", [
    ("        weight: 60%\n", "        weight: 50%\n"), ("        weight: 40%\n", "        weight: 50%\n"),
    ("{place: 1, amount: 600万元", "{place: 1, amount: 700万元")])

EVALUATE = ("evaluate", "--rules", HUGUAN, TOWNS, "--as-of", AS_OF)
EVALUATE_CSV = ("evaluate", "--rules", HUGUAN, TOWNS_CSV, "--as-of", AS_OF)
# The policy texts the reports quote: a copy in the repository, so a page reads the same in a clone
# with ../shared/seeds beside it and in one without (the search falls back to that folder).
SOURCES = "tests/golden/sources"
REPORT = ("report", "--rules", HUGUAN, TOWNS_CSV, "--as-of", AS_OF, "--what-it-takes", "--sources", SOURCES)
SCORE = ("score", "--rules", YANGZHOU, ZONES, "--as-of", Y_AS_OF)
SCORE_REPORT = ("report", "--rules", YANGZHOU, ZONES, "--as-of", Y_AS_OF, "--sources", SOURCES)
TARGETS_EVAL = ("evaluate", "--rules", TARGETS, COUNTY, "--as-of", Y_AS_OF)
EVALUATE2 = ("evaluate", "--rules", PACK2, FIRMS2, "--as-of", AS_OF)
REPORT2 = ("report", "--rules", PACK2, FIRMS2, "--as-of", AS_OF)
DIFF = ("diff", HUGUAN, "{tmp}/huguan-8yi.yaml", "--data", TOWNS, "--as-of", AS_OF)
ZONES2 = ("tests/golden/format2/zone-ranking.yaml", "tests/golden/format2/zones.yaml")
SCORE2 = ("score", "--rules", ZONES2[0], ZONES2[1], "--as-of", Y_AS_OF)
# a second version of the synthetic format-2 pack: a higher score minimum, more points in one R&D band
PACK2_V2 = _changed_pack(PACK2, "firm-points-v2.yaml", [
    ("version: \"1.0.0\"", "version: \"1.1.0\""), ("score_min: {value: 60分", "score_min: {value: 70分"),
    ("- {at_least: 4%, below: 6%, points: 15}", "- {at_least: 4%, below: 6%, points: 20}")])
ZONES2_V2 = _changed_pack(ZONES2[0], "zone-ranking-v2.yaml", [
    ("version: \"1.0.0\"", "version: \"1.1.0\""), ("- {at_least: 5000万元, points: 10}", "- {at_least: 5000万元, points: 4}")])
DIFF2 = ("diff", PACK2, "{tmp}/firm-points-v2.yaml", "--data", FIRMS2, "--as-of", AS_OF)
# the shipped format-2 Huguan pack (rules/) on towns that show what format 1's views showed: 酌情
# criteria and the pass resting on them, flags on the short line, the gap and the threshold as
# written (10亿元, not 100,000万元), attestation evidence (issuing unit, date, document number)
HUGUAN2 = "rules/huguan-specialized-town.yaml"
TOWNS2 = "tests/golden/format2/huguan-towns.yaml"
EVALUATE_HG2 = ("evaluate", "--rules", HUGUAN2, TOWNS2, "--as-of", AS_OF)
REPORT_HG2 = ("report", "--rules", HUGUAN2, TOWNS2, "--as-of", AS_OF)
HUGUAN2_8YI = _changed_pack(HUGUAN2, "huguan2-8yi.yaml", [("    value: 10亿元\n", "    value: 8亿元\n")])
DIFF_HG2 = ("diff", HUGUAN2, "{tmp}/huguan2-8yi.yaml", "--data", TOWNS2, "--as-of", AS_OF)
YANGZHOU2 = ("score", "--rules", "rules/yangzhou-zone-evaluation.yaml", ZONES, "--as-of", Y_AS_OF)

VIEWS: dict[str, View] = {
    # evaluate, text (the names of the first five files predate this table)
    "huguan-towns.zh.short.txt": View((*EVALUATE, "--lang", "zh")),
    "huguan-towns.zh.full.txt": View((*EVALUATE, "--lang", "zh", "--full")),
    "huguan-towns.en.short.txt": View((*EVALUATE, "--lang", "en")),
    "huguan-towns.en.full.txt": View((*EVALUATE, "--lang", "en", "--full")),
    "huguan-towns.zh.set-8yi.short.txt": View((*EVALUATE, "--lang", "zh", "--set", "manufacturing_output_min=8亿元")),
    "hg05.zh.default.txt": View(("evaluate", "--rules", HUGUAN, HG05, "--as-of", AS_OF, "--lang", "zh")),
    # evaluate, machine formats
    "evaluate.json": View((*EVALUATE_CSV, "--format", "json"), shape=pretty_json),
    "evaluate.zh.csv": View((*EVALUATE_CSV, "--format", "csv")),
    "evaluate.en.csv": View((*EVALUATE_CSV, "--format", "csv", "--lang", "en")),
    "evaluate.zh.xlsx.txt": View((*EVALUATE_CSV, "--format", "xlsx", "-o", "{out}.xlsx"), read="out"),
    # what it would take
    "what-it-takes.zh.short.txt": View((*EVALUATE_CSV, "--what-it-takes")),
    "what-it-takes.en.full.txt": View((*EVALUATE_CSV, "--what-it-takes", "--lang", "en", "--full")),
    "what-it-takes.json": View((*EVALUATE_CSV, "--what-it-takes", "--format", "json"), shape=pretty_json),
    # problems with the data, on stderr (exit 3: some rows refused)
    "bad-rows.zh.stderr.txt": View(("evaluate", "--rules", HUGUAN, "fixtures/huguan-bad-rows.csv", "--as-of", AS_OF),
                                   read="stderr", exit_code=3),
    "bad-rows.en.stderr.txt": View(("evaluate", "--rules", HUGUAN, "fixtures/huguan-bad-rows.csv", "--as-of", AS_OF,
                                    "--lang", "en"), read="stderr", exit_code=3),
    # a targets pack
    "targets.zh.full.txt": View((*TARGETS_EVAL, "--full")),
    "targets.en.short.txt": View((*TARGETS_EVAL, "--lang", "en")),
    "targets.json": View((*TARGETS_EVAL, "--format", "json"), shape=pretty_json),
    # report (the page source; the policy texts from tests/golden/sources, see SOURCES)
    "report.zh.html": View((*REPORT, "-o", "{out}.html"), read="out"),
    "report.en.html": View((*REPORT, "--lang", "en", "-o", "{out}.html"), read="out"),
    "report.zh.md": View((*REPORT, "-o", "{out}.md"), read="out"),
    "report.en.md": View((*REPORT, "--lang", "en", "-o", "{out}.md"), read="out"),
    "report.zh.xlsx.txt": View((*REPORT, "-o", "{out}.xlsx"), read="out"),
    # score and its reports
    "score.zh.short.txt": View(SCORE),
    "score.zh.full.txt": View((*SCORE, "--full")),
    "score.en.short.txt": View((*SCORE, "--lang", "en")),
    "score.json": View((*SCORE, "--format", "json"), shape=pretty_json),
    "score.zh.csv": View((*SCORE, "--format", "csv")),
    "score-report.zh.html": View((*SCORE_REPORT, "-o", "{out}.html"), read="out"),
    "score-report.zh.md": View((*SCORE_REPORT, "-o", "{out}.md"), read="out"),
    "score-report.zh.xlsx.txt": View((*SCORE_REPORT, "-o", "{out}.xlsx"), read="out"),
    # diff: two versions of a pack
    "diff.zh.txt": View(DIFF, prepare=HUGUAN_8YI),
    "diff.en.txt": View((*DIFF, "--lang", "en"), prepare=HUGUAN_8YI),
    "diff.zh.md": View((*DIFF, "--format", "markdown"), prepare=HUGUAN_8YI),
    "diff.json": View((*DIFF, "--format", "json"), prepare=HUGUAN_8YI),
    "diff-score.zh.txt": View(("diff", YANGZHOU, "{tmp}/yangzhou-v2.yaml", "--data", ZONES, "--as-of", Y_AS_OF),
                              prepare=YANGZHOU_V2),
    "diff-score.zh.md": View(("diff", YANGZHOU, "{tmp}/yangzhou-v2.yaml", "--data", ZONES, "--as-of", Y_AS_OF,
                              "--format", "markdown"), prepare=YANGZHOU_V2),
    # test: the shipped suites, and a folder with a failing case and a broken suite
    "test.zh.txt": View(("test", *SUITES, "--coverage")),
    "test.json": View(("test", *SUITES, "--format", "json"), shape=pretty_json),
    "test.junit.xml": View(("test", *SUITES, "--junit", "{out}.xml"), read="out", shape=pretty_xml),
    "test-failing.zh.txt": View(("test", "{tmp}/rules"), exit_code=1, prepare=_failing_suite),
    "test-failing.en.txt": View(("test", "{tmp}/rules", "--lang", "en"), exit_code=1, prepare=_failing_suite),
    "test-failing.junit.xml": View(("test", "{tmp}/rules", "--junit", "{out}.xml"), read="out", shape=pretty_xml,
                                   exit_code=1, prepare=_failing_suite),
    # format 2 (a synthetic pack: points in bands, a capped group with a minimum, a fast track, a
    # criterion for re-reviews only, a choice): a firm failing only on the group minimum (F2) and
    # one passing only by the fast track (F3) must read right in every view
    "format2.zh.short.txt": View(EVALUATE2),
    "format2.en.short.txt": View((*EVALUATE2, "--lang", "en")),
    "format2.zh.full.txt": View((*EVALUATE2, "--full")),
    "format2.en.full.txt": View((*EVALUATE2, "--full", "--lang", "en")),
    "format2.json": View((*EVALUATE2, "--format", "json"), shape=pretty_json),
    "format2.report.zh.html": View((*REPORT2, "-o", "{out}.html"), read="out"),
    "format2.report.en.html": View((*REPORT2, "--lang", "en", "-o", "{out}.html"), read="out"),
    "format2.report.zh.md": View((*REPORT2, "-o", "{out}.md"), read="out"),
    "format2.report.en.md": View((*REPORT2, "--lang", "en", "-o", "{out}.md"), read="out"),
    "format2.expired.zh.md": View(("report", "--rules", PACK2, FIRMS2, "--as-of", "2026-06-30", "-o", "{out}.md"),
                                  read="out"),
    "format2.test.zh.txt": View(("test", "tests/golden/format2/firm-points.tests.yaml", "--coverage")),
    "format2.test.junit.xml": View(("test", "tests/golden/format2/firm-points.tests.yaml", "--junit", "{out}.xml"),
                                   read="out", shape=pretty_xml),
    "format2.expired.zh.txt": View(("evaluate", "--rules", PACK2, FIRMS2, "--as-of", "2026-06-30"), read="stdout"),
    # format 2: what it would take (through values: a subtotal's minimum met by one input), the
    # officer's workbook, the score view of a ranked pack (ties, a veto placing last, a zone
    # without a figure making the others' places provisional, awards), diff of two versions
    "format2.what-it-takes.zh.short.txt": View((*EVALUATE2, "--what-it-takes")),
    "format2.what-it-takes.en.full.txt": View((*EVALUATE2, "--what-it-takes", "--full", "--lang", "en")),
    "format2.what-it-takes.json": View((*EVALUATE2, "--what-it-takes", "--format", "json"), shape=pretty_json),
    "format2.what-it-takes.report.zh.md": View((*REPORT2, "--what-it-takes", "-o", "{out}.md"), read="out"),
    "format2.zh.xlsx.txt": View((*EVALUATE2, "--format", "xlsx", "-o", "{out}.xlsx"), read="out"),
    "format2.score.zh.short.txt": View(SCORE2),
    "format2.score.en.full.txt": View((*SCORE2, "--full", "--lang", "en")),
    "format2.score.json": View((*SCORE2, "--format", "json"), shape=pretty_json),
    "format2.score.zh.csv": View((*SCORE2, "--format", "csv")),
    "format2.score.en.csv": View((*SCORE2, "--format", "csv", "--lang", "en")),
    "format2.zones.zh.xlsx.txt": View(("evaluate", "--rules", *ZONES2, "--as-of", Y_AS_OF, "--format", "xlsx",
                                       "-o", "{out}.xlsx"), read="out"),
    "format2.what-it-takes.links.zh.txt": View(("evaluate", "--rules", "tests/golden/format2/linked-firms.yaml",
                                                "tests/golden/format2/linked-firms-data.yaml", "--as-of", AS_OF,
                                                "--what-it-takes")),
    "format2.zones.zh.full.txt": View(("evaluate", "--rules", *ZONES2, "--as-of", Y_AS_OF, "--full")),
    "format2.diff.zh.txt": View(DIFF2, prepare=PACK2_V2),
    "format2.diff.en.txt": View((*DIFF2, "--lang", "en"), prepare=PACK2_V2),
    "format2.diff.zh.md": View((*DIFF2, "--format", "markdown"), prepare=PACK2_V2),
    "format2.diff.json": View((*DIFF2, "--format", "json"), prepare=PACK2_V2),
    "format2.diff-score.zh.txt": View(("diff", ZONES2[0], "{tmp}/zone-ranking-v2.yaml", "--data", ZONES2[1],
                                       "--as-of", Y_AS_OF), prepare=ZONES2_V2),
    # format 2, the shipped Huguan pack: every view shows the 酌情 mark, the gap, the threshold as
    # written, attestation evidence and (the short line) the flags raised
    "format2.huguan.zh.short.txt": View(EVALUATE_HG2),
    "format2.huguan.en.short.txt": View((*EVALUATE_HG2, "--lang", "en")),
    "format2.huguan.zh.full.txt": View((*EVALUATE_HG2, "--full")),
    "format2.huguan.en.full.txt": View((*EVALUATE_HG2, "--full", "--lang", "en")),
    "format2.huguan.json": View((*EVALUATE_HG2, "--format", "json"), shape=pretty_json),
    "format2.huguan.zh.csv": View((*EVALUATE_HG2, "--format", "csv")),
    "format2.huguan.zh.xlsx.txt": View((*EVALUATE_HG2, "--format", "xlsx", "-o", "{out}.xlsx"), read="out"),
    "format2.huguan.report.zh.html": View((*REPORT_HG2, "-o", "{out}.html"), read="out"),
    "format2.huguan.report.zh.md": View((*REPORT_HG2, "-o", "{out}.md"), read="out"),
    "format2.huguan.report.en.md": View((*REPORT_HG2, "--lang", "en", "-o", "{out}.md"), read="out"),
    "format2.huguan.zh.not-relaxed.short.txt": View((*EVALUATE_HG2, "--set", "relaxed_path=not_used")),
    "format2.huguan.diff.zh.txt": View(DIFF_HG2, prepare=HUGUAN2_8YI),
    "format2.huguan.diff.json": View((*DIFF_HG2, "--format", "json"), prepare=HUGUAN2_8YI),
    # format 2, the shipped Yangzhou pack's score: the footnote names major_incident_last by its title
    "format2.yangzhou.score.zh.short.txt": View(YANGZHOU2),
    "format2.yangzhou.score.en.short.txt": View((*YANGZHOU2, "--lang", "en")),
    "format2.yangzhou.score.zh.full.txt": View((*YANGZHOU2, "--full")),
    # the JSON Schema of the pack format (for editors)
    "schema.json": View(("schema",)),
    # validate and lint (--sources: an empty folder, so the answer does not depend on the machine)
    "validate.zh.txt": View(("validate", *BROKEN[:2]), exit_code=1),
    "validate.en.txt": View(("validate", *BROKEN[:2], "--lang", "en"), exit_code=1),
    "lint.zh.txt": View(("lint", *BROKEN, "--sources", "{tmp}"), exit_code=1),
    "lint.en.txt": View(("lint", *BROKEN, "--sources", "{tmp}", "--lang", "en"), exit_code=1),
    "lint.json": View(("lint", *BROKEN, "--sources", "{tmp}", "--format", "json"), shape=pretty_json, exit_code=1),
    "lint.github.txt": View(("lint", *BROKEN, "--sources", "{tmp}", "--format", "github"), exit_code=1),
}


def render(view: View, tmp: Path) -> str:
    """Run the view's command in the repository root (paths in the output stay relative)."""
    if view.prepare:
        view.prepare(tmp)
    out = tmp / "out"
    args = [a.replace("{out}", str(out)).replace("{tmp}", str(tmp)) for a in view.args]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == view.exit_code, f"certify {' '.join(args)}\n{result.output}"
    if view.read == "out":
        written = next(tmp.glob("out.*"))
        if written.suffix == ".xlsx":
            return mask(xlsx_text(written), tmp)
        text = written.read_text(encoding="utf-8")
    else:
        text = result.stdout if view.read == "stdout" else result.stderr
    if view.shape:
        text = view.shape(text)
    return mask(text, tmp)


def check(name: str, got: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.write_text(got, encoding="utf-8", newline="")
        return
    assert path.exists(), f"{path} is missing: run {REGENERATE}"
    with path.open(encoding="utf-8", newline="") as file:  # CSV row ends are part of the view
        want = file.read()
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), name, "now", n=1))
        pytest.fail(f"the view {name} changed (if deliberate: {REGENERATE}; then read git diff tests/golden/)\n"
                    f"{diff[:6000]}")


@pytest.fixture
def in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_view_matches_its_golden(name: str, tmp_path: Path, in_root: None, update_golden: bool) -> None:
    check(name, render(VIEWS[name], tmp_path), update_golden)


def test_one_town_defaults_to_the_full_tree(tmp_path: Path, in_root: None) -> None:
    assert "  ✘ 二(四) 产业集聚度高" in render(VIEWS["hg05.zh.default.txt"], tmp_path)


def test_the_compact_stream_is_one_decision_per_line(tmp_path: Path, in_root: None) -> None:
    """The full JSON golden is written indented (json.dump indent=2, as format 2 writes it); the
    compact stream (`--trace compact`) keeps one record per line, so a reader can take the records
    one at a time, in the order of the data."""
    result = CliRunner().invoke(main, [*EVALUATE_CSV, "--format", "json", "--trace", "compact"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    records = [json.loads(line.rstrip(",")) for line in lines if line.startswith('{"format": 2, "trace": "compact"')]
    assert [r["id"] for r in records] == ["HG01", "HG02", "HG03", "HG05", "HG10", "HG17"]
    assert json.loads(result.stdout)["decisions"] == records


def test_masking_hides_only_what_varies() -> None:
    line = ("记录: 输入 sha256 0a9f76fa04d2, 引擎 " + ENGINE_VERSION + " / durable-rules 2.0.28 "
            '"engine_version": "' + ENGINE_VERSION + '", 99,999万元 < 10亿元 (sha256 `390cd10ffeb6`) time="0.148"')
    assert mask(line) == ('记录: 输入 sha256 <hash>, 引擎 <versions> "engine_version": "<version>", '
                          '99,999万元 < 10亿元 (sha256 `<hash>`) time="<t>"')
    assert mask("a" * 64) == "<sha256>" and mask("a" * 63) == "a" * 63


def test_every_golden_file_has_a_view() -> None:
    """A golden file nobody checks would rot silently (hg05.yaml is input, not a view)."""
    files = {p.name for p in GOLDEN.iterdir() if p.is_file()} - {"hg05.yaml"}
    assert files == set(VIEWS), f"stale: {sorted(files - set(VIEWS))}, missing: {sorted(set(VIEWS) - files)}"
