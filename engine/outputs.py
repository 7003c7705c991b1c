"""Writing batch outputs: atomic files, a progress counter, and the report/result formats.

Every output file is written to a temporary file beside it and moved into place with
`os.replace`, so a reader never sees half a report and a failed run leaves the old file intact.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from typing import Any, Iterable, Iterator, TextIO

from .model import CompiledPack

REPORT_FORMATS = ("html", "markdown", "csv", "xlsx")
SUFFIX_FORMAT = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown",
                 ".csv": "csv", ".xlsx": "xlsx"}


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """A temporary path in the target's folder; moved onto `path` only if the block succeeds."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".partial", dir=folder)
    os.close(fd)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the permissions a plain open() would give, not mkstemp's 0600
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_text(path: str, newline: str | None = None) -> Iterator[TextIO]:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline=newline) as handle:
            yield handle


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
    if output:
        return SUFFIX_FORMAT.get(os.path.splitext(output)[1].lower(), "html")
    return "html"


def write_report(fmt: str, records: Iterable[dict[str, Any]], output: str | None, pack: CompiledPack,
                 lang: str = "zh", problems: list[Any] | None = None, clauses: dict[str, str] | None = None,
                 stdout: TextIO | None = None) -> dict[str, int]:
    """Render `records` as html / markdown / csv / xlsx to `output` (atomically) or stdout."""
    from .spreadsheet import stream_columns, write_results_csv, write_results_xlsx

    problems = problems if problems is not None else []
    stdout = stdout if stdout is not None else sys.stdout
    criteria = [n for n in pack.root.criteria() if n is not pack.root]
    if fmt == "xlsx":
        if not output:
            raise ValueError("xlsx output needs a file: use -o FILE.xlsx")
        columns, stream = stream_columns(records, criteria)  # rows are written as they are decided
        with atomic_path(output) as tmp:
            return write_results_xlsx(stream, tmp, columns, lang)
    if fmt == "csv":
        columns, stream = stream_columns(records, criteria)
        if output:
            with atomic_text(output, newline="") as handle:
                return write_results_csv(stream, handle, columns, lang)
        return write_results_csv(stream, stdout, columns, lang, bom=False)
    recs = list(records)  # the summary comes first, so the whole batch is needed
    from .clauses import clauses_for

    cited = clauses_for(recs, clauses or {})
    # Eligibility records carry no ranking: scoring packs have their own report (engine.report_scoring).
    kwargs = dict(lang=lang, pack_title=pack.meta.title, source=dict(pack.meta.source), clauses=cited,
                  problems=problems)
    if fmt == "html":
        from .report_html import render_html as render
    elif fmt == "markdown":
        from .report_md import render_markdown as render
    else:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(REPORT_FORMATS)}")
    if output:
        with atomic_text(output) as handle:
            return render(recs, handle, **kwargs)
    return render(recs, stdout, **kwargs)
