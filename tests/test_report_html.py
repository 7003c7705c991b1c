"""Reviewer reports: HTML (self-contained, checked in a real headless browser) and Markdown."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from engine.clauses import clause_text, load_clauses, parse_clauses

from conftest import HUGUAN_PACK, HUGUAN_TOWNS, ROOT

SEED = "004_3906f5c9db5bee8f.txt"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def _expected() -> dict[str, str]:
    towns = yaml.safe_load(HUGUAN_TOWNS.read_text(encoding="utf-8"))["entities"]
    return {t["id"]: t["expect"]["outcome"] for t in towns}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, cwd=ROOT)


class _Page(HTMLParser):
    """Entity sections and their outcome badges, as a reader of the page sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, str] = {}
        self.badges: dict[str, str] = {}
        self.options: dict[str, int] = {}
        self.external: list[str] = []
        self.scripts = 0
        self._entity: str | None = None
        self._badge = False
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href"):
            value = a.get(key) or ""
            if value and not value.startswith("#") and not value.startswith("data:"):
                self.external.append(value)
        if tag == "script":
            self.scripts += 1
        if tag == "link":
            self.external.append(str(a))
        if tag == "section" and "entity" in (a.get("class") or ""):
            self._entity = a["data-entity"]
            self.sections[self._entity] = a["data-outcome"] or ""
            self._depth = 0
        if self._entity and tag == "section":
            self._depth += 1
        if self._entity and tag == "span" and "outcome" in (a.get("class") or "").split():
            self._badge = True
        if self._entity and tag == "li" and "option" in (a.get("class") or ""):
            self.options[self._entity] = self.options.get(self._entity, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if self._entity and tag == "section":
            self._depth -= 1
            if self._depth == 0:
                self._entity = None
        if tag == "span":
            self._badge = False

    def handle_data(self, data: str) -> None:
        if self._badge and self._entity and data.strip():
            self.badges[self._entity] = data.strip()


OUTCOME_WORD = {"pass": "通过", "fail": "不通过", "undetermined": "无法判定"}


def _check_page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    expected = _expected()
    assert page.sections == expected
    assert page.badges == {k: OUTCOME_WORD[v] for k, v in expected.items()}
    for town, outcome in expected.items():
        if outcome != "pass":
            assert page.options.get(town, 0) >= 1, f"{town}: no 'what it would take'"
    return page


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    done = _cli("report", "--rules", str(HUGUAN_PACK), str(HUGUAN_TOWNS), "--as-of", "2024-06-30",
                "--what-it-takes", "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out


def test_html_is_self_contained_and_complete(report_html):
    text = report_html.read_text(encoding="utf-8")
    page = _check_page(text)
    assert page.external == [] and page.scripts == 0
    assert "<style>" in text and "http://" not in text and "https://" not in text
    assert "产业集聚度高" in text and "99,999万元" in text and "差距" in text
    # Batch summary: counts by outcome and the criteria that stand in the way most often.
    assert 'data-count="pass"><b>14<' in text and 'data-count="fail"><b>10<' in text
    assert 'data-count="undetermined"><b>3<' in text


def test_clause_text_comes_from_the_source_document(report_html):
    seed = ROOT.parent / "shared" / "seeds" / SEED
    text = report_html.read_text(encoding="utf-8")
    if not seed.is_file():
        assert "未找到政策原文" in text
        pytest.skip(f"source document {seed} not present")
    assert "(四)产业集聚度高。特色主导产业原则上限定在一个乡(镇)内" in text
    assert "(八)发展环境良好" in text
    assert "三、重点任务" not in text  # only the clauses cited


def test_clause_parsing():
    text = "一、总体要求\n(一)指导思想\n二、认定标准\n申请需满足以下条件。\n(一)甲。\n(二)乙条件。\n三、其他\n(一)丙。\n"
    clauses = parse_clauses(text)
    assert clause_text(clauses, "二(二)") == "(二)乙条件。"
    assert clause_text(clauses, "二（一）") == "(一)甲。"
    assert clause_text(clauses, "二") == "二、认定标准\n申请需满足以下条件。"
    assert clause_text(clauses, "三(一)") == "(一)丙。"
    assert clause_text(clauses, "四(一)") is None and clause_text(clauses, None) is None


def test_missing_source_is_omitted_gracefully(tmp_path):
    pack = tmp_path / "pack.yaml"
    shutil.copy(HUGUAN_PACK, pack)
    assert load_clauses(str(pack), SEED, [str(tmp_path)]) == {}  # not found in tmp
    assert load_clauses(str(pack), "../../etc/passwd") == {}
    out = tmp_path / "r.html"
    done = _cli("report", "--rules", str(pack), str(HUGUAN_TOWNS), "--as-of", "2024-06-30", "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert "未找到政策原文" in text and "(四)产业集聚度高。" not in text
    assert "未计算" in text  # what it would take was not asked for


def test_markdown_report(tmp_path):
    out = tmp_path / "r.md"
    done = _cli("report", "--rules", str(HUGUAN_PACK), str(HUGUAN_TOWNS), "--as-of", "2024-06-30",
                "--what-it-takes", "--lang", "en", "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Huguan county-level specialized town certification")
    assert "| PASS | 14 |" in text and "| FAIL | 10 |" in text and "| UNDETERMINED | 3 |" in text
    for town, outcome in _expected().items():
        assert f"### {town} " in text
        heading = next(line for line in text.splitlines() if line.startswith(f"### {town} "))
        assert heading.endswith({"pass": "PASS", "fail": "FAIL", "undetermined": "UNDETERMINED"}[outcome])
    assert "lead-industry annual output +1万元 (→ 100,000万元, ≥ 10亿元)" in text
    assert "**What it would take to pass:**" in text


def test_report_to_stdout_and_format_from_suffix(tmp_path):
    done = _cli("report", "--rules", str(HUGUAN_PACK), str(HUGUAN_TOWNS), "--as-of", "2024-06-30",
                "--format", "markdown")
    assert done.returncode == 0 and done.stdout.startswith("# 壶关县县级专业镇认定")
    done = _cli("report", "--rules", str(HUGUAN_PACK), str(HUGUAN_TOWNS), "--as-of", "2024-06-30")
    assert done.stdout.startswith("<!DOCTYPE html>")


def test_bad_rows_are_reported_in_the_report(tmp_path):
    out = tmp_path / "r.html"
    done = _cli("report", "--rules", str(HUGUAN_PACK), str(ROOT / "fixtures" / "huguan-bad-rows.csv"),
                "--as-of", "2024-06-30", "-o", str(out))
    assert done.returncode == 3
    text = out.read_text(encoding="utf-8")
    assert 'class="problems"' in text and "huguan-bad-rows.csv:" in text


def test_html_escapes_data(tmp_path):
    data = tmp_path / "x.yaml"
    data.write_text('- {id: "<b>X1</b>", name: "<script>alert(1)</script>", lead_category: manufacturing}\n',
                    encoding="utf-8")
    out = tmp_path / "r.html"
    _cli("report", "--rules", str(HUGUAN_PACK), str(data), "--as-of", "2024-06-30", "-o", str(out))
    text = out.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text


# ---------------------------------------------------------------------------------------------
# A real browser


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    script = ROOT / "scripts" / "install-chromium.sh"
    if hasattr(os, "geteuid") and os.geteuid() == 0 and script.exists():
        done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
        found = shutil.which("chromium")
        if found:
            return found
        pytest.skip(f"chromium could not be installed: {done.stderr.strip()[-300:]}")
    pytest.skip("chromium is not installed and this is not root (run scripts/install-chromium.sh as root)")


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180)


def test_report_in_headless_chromium(report_html, tmp_path):
    chromium = _chromium()
    url = report_html.resolve().as_uri()
    dom = _browser(chromium, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    _check_page(dom.stdout)  # the rendered DOM shows the right outcome for every fixture town
    shot_dir = Path(os.environ.get("CERTIFY_SCREENSHOT_DIR") or tmp_path)
    shot = shot_dir / "report.png"
    done = _browser(chromium, tmp_path / "profile-shot", "--window-size=1280,2000", f"--screenshot={shot}", url)
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000


def test_ranking_view_draws_svg_bars():
    import io

    from engine.report_html import ranking_from_scores, render_html

    result = {"cohorts": [{"cohort": "a", "label": {"zh": "甲类"}, "zones": [
        {"id": "Z1", "name": "一区", "rank": 1, "total": "87.5", "max": "100"},
        {"id": "Z2", "name": "二区", "rank": None, "total": "40", "max": "100"}]}]}
    rows = ranking_from_scores(result)
    out = io.StringIO()
    render_html([], out, ranking=rows)
    text = out.getvalue()
    assert "<svg" in text and 'width="262.5"' in text and "87.5 / 100" in text and "一区 (甲类)" in text
