"""`certify report --rules PACK DATA...`: a reviewer report (HTML, Markdown) or result table (CSV,
XLSX) for every entity; for a scoring pack, per cohort the ranking and per zone its points."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.commands.evaluate import decide2
from engine.commands.common import UsageError, data_files, finish, overrides, pack2, parse_as_of
from engine.core.files import STDOUT, check_output, open_output, output_path
from engine.evaluate.pipeline import RowCounts
from engine.load.data import ReadOptions
from engine.report.outputs import report_format
from engine.report.format2_views import write_csv2
from engine.report.pages2 import render_html2, render_markdown2
from engine.report.xlsx2 import write_xlsx2


def run_report(pack_path: str, data: tuple[str, ...], output: str | None, fmt: str | None, as_of: str | None,
               lang: str, engine: str, sets: tuple[str, ...], override_files: tuple[str, ...], what_it_takes: bool,
               sources: tuple[str, ...], workers: int, input_format: str | None, read: ReadOptions) -> int:
    check_output(output)
    fmt = report_format(fmt, output)
    if fmt == "xlsx" and not output:
        raise UsageError("--format xlsx writes a file: add -o FILE.xlsx (or -o - for standard output)")
    date = parse_as_of(as_of, lang)
    table = overrides(sets, override_files, lang)
    # every pack is reported by the format-2 pipeline; a format-1 pack is converted on load (W264)
    return _report2(pack_path, data, date, table, fmt, output, lang, engine, input_format, read, what_it_takes,
                    workers)


def _report2(pack_path: str, data: tuple[str, ...], date: dt.date, table: dict[str, Any], fmt: str,
             output: str | None, lang: str, engine: str, input_format: str | None, read: ReadOptions,
             what_it_takes: bool = False, workers: int = 1) -> int:
    """`certify report` for a format-2 pack: the HTML or Markdown page (engine.report.pages2), or the
    CSV / XLSX table as `certify evaluate` writes it."""
    pack = pack2(pack_path, date, table, lang)
    problems: list[Any] = []
    counts = RowCounts()
    records, suggestions = decide2(pack, data_files(data, input_format), engine, problems, read, counts,
                                   workers, what_it_takes, lang)
    if fmt == "xlsx":
        assert output
        with output_path(output) as tmp:
            write_xlsx2(records, pack, tmp, lang, suggestions)
    else:
        with open_output(output, newline="" if fmt == "csv" else None) as out:
            if fmt == "csv":
                write_csv2(records, pack, out, lang, bom=bool(output) and output != STDOUT)
            else:
                (render_html2 if fmt == "html" else render_markdown2)(records, pack, out, lang, problems, suggestions)
    return finish(problems, counts, lang)
