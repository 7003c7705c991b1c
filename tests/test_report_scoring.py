"""`certify report` for scoring packs: per cohort the ranking, per zone an SVG chart of its points by
indicator and the arithmetic `certify score` prints; checked against the scoring result itself."""

from __future__ import annotations

import datetime as dt
import io
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.explain.scoring import load_scoring_pack, score_files
from engine.report.scoring_text import _award_text, render_score_text

from conftest import ROOT
from test_report_html import _browser, _chromium

PACK = ROOT / "tests" / "format1" / "rules" / "yangzhou-zone-evaluation.yaml"
ZONES = ROOT / "fixtures" / "yangzhou-zones.yaml"
AS_OF = "2024-12-31"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def result() -> dict:
    sp, _ = load_scoring_pack(str(PACK), dt.date.fromisoformat(AS_OF))
    problems: list = []
    out = score_files(sp, [str(ZONES)], "durable", problems)
    assert not problems
    return out


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scoring-report") / "report.html"
    done = run("report", "--rules", str(PACK), str(ZONES), "--as-of", AS_OF, "-o", str(out))
    assert done.exit_code == 0, done.output
    return out


class _Page(HTMLParser):
    """Ranking rows (their cells' text), zone sections and the SVG charts inside them."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.row_attrs: dict[str, dict[str, str | None]] = {}
        self.sections: list[str] = []
        self.svgs: dict[str, int] = {}
        self.external: list[str] = []
        self.scripts = 0
        self._row: str | None = None
        self._cell: list[str] | None = None
        self._zone: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href", "xlink:href"):
            value = a.get(key) or ""
            if value and not value.startswith("#"):
                self.external.append(value)
        if tag in ("script", "link", "iframe", "img", "object"):
            self.scripts += 1
        if tag == "tr" and a.get("data-zone"):
            self._row = a["data-zone"]
            self.rows[self._row] = []
            self.row_attrs[self._row] = a
        if tag == "td" and self._row:
            self._cell = []
        if tag == "section" and "zone" in (a.get("class") or "").split():
            self._zone = a["data-zone"]
            self.sections.append(self._zone or "")
        if tag == "svg" and self._zone:
            self.svgs[self._zone] = self.svgs.get(self._zone, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self.rows[self._row].append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr":
            self._row = None
        if tag == "section":
            self._zone = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _zones(result: dict) -> list[dict]:
    return [z for c in result["cohorts"] for z in c["zones"]]


def test_html_ranking_matches_the_scoring_result(report_html, result):
    text = report_html.read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    zones = _zones(result)
    assert len(zones) >= 12
    assert set(page.rows) == {z["id"] for z in zones}  # every zone has a ranking row ...
    assert sorted(page.sections) == sorted(z["id"] for z in zones)  # ... and a section
    unit = result["award_unit"]
    awarded = [z for z in zones if z["award"]["status"] == "awarded"]
    others = [z for z in zones if z["award"]["status"] != "awarded"]
    assert len(awarded) >= 3 and others
    for z in awarded[:4] + others[:2]:
        cells = page.rows[z["id"]]
        rank, name, total = cells[0], cells[1], cells[2]
        assert rank.rstrip("*") == str(z["rank"]) and name.startswith(z["id"])
        assert total.rstrip("?") == z["total"]
        indicators = [i["id"] for i in z["indicators"]]
        assert [c.rstrip("?") for c in cells[3:3 + len(indicators)]] == [z["points"][i] for i in indicators]
        assert cells[3 + len(indicators)] == _award_text(z["award"], unit, "zh")
        attrs = page.row_attrs[z["id"]]
        assert attrs["data-rank"] == str(z["rank"]) and attrs["data-total"] == z["total"]
        assert attrs["data-award"] == (z["award"].get("amount") or "")
    for z in zones:
        assert page.svgs.get(z["id"]) == 1, z["id"]  # one chart per zone
    # Self-contained: no script, no external resource, no URL at all.
    assert page.external == [] and page.scripts == 0
    assert "http://" not in text and "https://" not in text and "<style>" in text
    assert "default-src 'none'" in text


def test_html_has_each_zones_arithmetic_as_certify_score_prints_it(report_html, result):
    text = report_html.read_text(encoding="utf-8")
    import html

    printed = io.StringIO()
    render_score_text(result, printed, "zh")
    lines = [line.strip() for line in printed.getvalue().splitlines() if line.startswith("    ")]
    assert len(lines) > 50
    for line in lines:
        assert html.escape(line, quote=True) in text, line
    assert "(上限 10, 原计 15)" in text  # caps
    assert "年度开票销售增幅 18% 排第3/8 → 9 × 60% = 5.4" in text  # value, place in cohort, formula


def test_markdown_report(result, tmp_path):
    out = tmp_path / "report.md"
    done = run("report", "--rules", str(PACK), str(ZONES), "--as-of", AS_OF, "--format", "markdown", "-o", str(out))
    assert done.exit_code == 0, done.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# 扬州市工业集中区年度综合评价")
    for z in _zones(result):
        assert f"### {z['id']} " in text
        row = next(line for line in text.splitlines() if line.startswith(f"| {z['rank'] if z['rank'] else ''}")
                   and f" {z['id']} " in line)
        assert f"**{z['total']}" in row
    printed = io.StringIO()
    render_score_text(result, printed, "zh")
    for line in printed.getvalue().splitlines():
        if line.startswith("    "):
            assert f"`{line.strip()}`" in text, line
    # to standard output too, and in English
    done = run("report", "--rules", str(PACK), str(ZONES), "--as-of", AS_OF, "--format", "markdown", "--lang", "en")
    assert done.exit_code == 0 and done.stdout.startswith("# Yangzhou industrial concentration zones")


def test_report_csv_and_xlsx_for_a_scoring_pack(tmp_path):
    done = run("report", "--rules", str(PACK), str(ZONES), "--as-of", AS_OF, "-o", str(tmp_path / "r.csv"))
    assert done.exit_code == 0, done.output
    assert (tmp_path / "r.csv").read_text(encoding="utf-8").startswith("cohort,rank,id,name,total")
    done = run("report", "--rules", str(PACK), str(ZONES), "--as-of", AS_OF, "-o", str(tmp_path / "r.xlsx"))
    assert done.exit_code == 0, done.output
    from openpyxl import load_workbook

    rows = list(load_workbook(tmp_path / "r.xlsx").active.iter_rows(values_only=True))
    assert rows[0][:5] == ("类型", "名次", "编号", "名称", "总分") and len(rows) == 15
    first = rows[1]
    assert first[1] == 1 and isinstance(first[4], (int, float))  # rank and total are numbers: they sort and add up
    assert all(isinstance(v, (int, float)) for v in first[5:13])  # points per indicator
    awarded = next(r for r in rows[1:] if r[14] is not None)
    assert isinstance(awarded[14], (int, float)) and rows[0][14] == "奖励金额 (万元)"


def test_report_records_overrides(tmp_path):
    out = tmp_path / "r.html"
    done = run("report", "--rules", str(PACK), str(ZONES), "--as-of", AS_OF, "--set",
               "awards.key_development.1=700万元", "-o", str(out))
    assert done.exit_code == 0, done.output
    text = out.read_text(encoding="utf-8")
    assert "awards.key_development.1 = 700万元 (--set)" in text and "一等奖 700万元" in text


def test_scoring_report_in_headless_chromium(report_html, result, tmp_path):
    chromium = _chromium()
    url = report_html.resolve().as_uri()
    dom = _browser(chromium, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = _Page()
    page.feed(dom.stdout)
    assert set(page.rows) == {z["id"] for z in _zones(result)}
    assert 'data-zone="K01"' in dom.stdout and page.svgs.get("K01") == 1
    shot_dir = Path(os.environ.get("CERTIFY_SCREENSHOT_DIR") or tmp_path)
    shot = shot_dir / "scoring-report.png"
    done = _browser(chromium, tmp_path / "profile-shot", "--window-size=1280,2000", f"--screenshot={shot}", url)
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
