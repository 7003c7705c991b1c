"""Batch outputs: the report formats (one renderer per format) and a progress counter.

Output files are opened through engine.core.files (`check_output` before any work, `open_output` /
`output_path` when writing): atomic replacement, write-through for devices, clean-up on a signal.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Iterable, Iterator, TextIO

from engine.compile.model import CompiledPack
from engine.core.files import STDOUT, open_output, output_path
from engine.core.clauses import clauses_for
from engine.report.html import render_html
from engine.report.markdown import render_markdown
from engine.report.tables import stream_columns, write_results_csv, write_results_xlsx

REPORT_FORMATS = ("html", "markdown", "csv", "xlsx")
# Whole-batch pages by format (csv and xlsx stream their rows instead: see write_report).
PAGE_RENDERERS = {"html": render_html, "markdown": render_markdown}
SUFFIX_FORMAT = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown",
                 ".csv": "csv", ".xlsx": "xlsx"}


def progress(records: Iterable[dict[str, Any]], stream: TextIO | None = None,
             interval: float = 0.2, enabled: bool = True) -> Iterator[dict[str, Any]]:
    """Pass records through; on a terminal, keep a one-line counter on stderr up to date.
    (Callers streaming results to the same terminal pass enabled=False.)"""
    stream = stream if stream is not None else sys.stderr
    try:
        live = enabled and stream.isatty()
    except (AttributeError, ValueError):
        live = False
    if not live:
        yield from records
        return
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    n, last, started = 0, 0.0, time.monotonic()
    width = 0
    for rec in records:
        n += 1
        outcome = rec[0] if isinstance(rec, tuple) else rec.get("outcome", "undetermined")  # encoded or a record
        counts[outcome] = counts.get(outcome, 0) + 1
        now = time.monotonic()
        if now - last >= interval:
            last = now
            rate = n / max(now - started, 1e-9)
            line = (f"decided {n:,} (pass {counts['pass']:,}, fail {counts['fail']:,}, "
                    f"undetermined {counts['undetermined']:,}) {rate:,.0f}/s")
            width = max(width, len(line))
            stream.write("\r" + line.ljust(width))
            stream.flush()
        yield rec
    if width:
        stream.write("\r" + " " * width + "\r")
        stream.flush()


def report_format(fmt: str | None, output: str | None) -> str:
    """The format asked for, else the one the output file's suffix implies, else html."""
    if fmt:
        return fmt
    if output and output != STDOUT:
        return SUFFIX_FORMAT.get(os.path.splitext(output)[1].lower(), "html")
    return "html"


def write_report(fmt: str, records: Iterable[dict[str, Any]], output: str | None, pack: CompiledPack,
                 lang: str = "zh", problems: list[Any] | None = None, clauses: dict[str, str] | None = None,
                 stdout: TextIO | None = None) -> dict[str, int]:
    """Render `records` as html / markdown / csv / xlsx to `output` (atomically) or stdout."""
    problems = problems if problems is not None else []
    stdout = stdout if stdout is not None else sys.stdout
    criteria = [n for n in pack.root.criteria() if n is not pack.root]
    to_file = bool(output) and output != STDOUT
    if fmt == "xlsx":
        if not output:
            raise ValueError("xlsx output needs a file: use -o FILE.xlsx (or -o - for standard output)")
        columns, stream = stream_columns(records, criteria)  # rows are written as they are decided
        with output_path(output) as tmp:
            return write_results_xlsx(stream, tmp, columns, lang)
    if fmt == "csv":
        columns, stream = stream_columns(records, criteria)
        if to_file:
            with open_output(output, newline="") as handle:
                return write_results_csv(stream, handle, columns, lang)
        return write_results_csv(stream, stdout, columns, lang, bom=False)
    recs = list(records)  # the summary comes first, so the whole batch is needed
    cited = clauses_for(recs, clauses or {})
    # Eligibility records carry no ranking: scoring packs have their own report (engine.report.scoring_pages).
    kwargs = dict(lang=lang, pack_title=pack.meta.title, source=dict(pack.meta.source), clauses=cited,
                  problems=problems)
    render = PAGE_RENDERERS.get(fmt)
    if render is None:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(REPORT_FORMATS)}")
    if to_file:
        with open_output(output) as handle:
            return render(recs, handle, **kwargs)
    return render(recs, stdout, **kwargs)
