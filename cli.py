"""Command line: `certify validate | evaluate | report | score | test | lint | diff | schema | migrate | serve`.

Each click function only parses its options and calls one `run_*` function, which does the work
and returns the exit code (README "Exit codes", `EXIT`). `_command` turns the errors every
command can meet into messages and codes: an output that cannot be written (E170-E173, exit 2),
a fault of the decision engine (exit 5). SIGINT / SIGTERM end the run with 130 / 143, temporary
files removed and workers stopped (engine.core.files.install_signal_handlers).

Streams: with a machine format (`--format json`, `csv`, …) standard output carries only that
format; banners, warnings, progress, problems and counts go to standard error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn

import click

from engine import ENGINE_VERSION
from engine.evaluate.evaluate import ENGINES
from engine.core.files import STDOUT, OutputError, check_output, install_signal_handlers, open_output, output_path
from engine.report.outputs import progress, report_format, write_report
from engine.commands.migrate import run_migrate
from engine.compile.build2 import check_pack2
from engine.evaluate.pipeline import (INPUT_FORMATS, STDIN, RowCounts, decide_files2, load_pack, load_pack2, pack_format,
                                      parse_overrides, spool_stdin, worker_count)
from engine.explain.batch import decide_files
from engine.report.format2_views import render_text2, write_csv2, write_json2
from engine.report.pages2 import render_html2, render_markdown2
from engine.core.problems import DecisionError, EngineError, ProblemsError, has_errors
from engine.report.problems import PROBLEM_RENDERERS
from engine.report.text import encode_record, render_text, stream_evaluation_json
from engine.validate.validate import schema as pack_schema, validate_file
from engine.commands.diff import DIFF_RENDERERS, DiffSourceError, diff_files
from engine.commands.lint import IGNORED, NOTE, apply_ignores, collect_packs, lint_file
from engine.commands.packtest import collect_suites, coverage_gaps, run_suite
from engine.commands.suite_results import SuiteResult
from engine.commands.suite_views import render_junit, render_suites_text, suites_json
from engine.core.clauses import load_clauses
from engine.explain.scoring import is_scoring_file, load_scoring_pack, score_files
from engine.load.data import ReadOptions
from engine.report.scoring_pages import SCORE_RENDERERS, ScoreView, write_score_xlsx
from engine.web.app import serve as run_serve
from engine.web.guard import Limits

EXIT = {
    "ok": 0,          # everything decided / every pack clean
    "problems": 1,    # validate: a pack has errors; test: a case failed
    "usage": 2,       # bad command line (click's own code), or an output that cannot be written
    "bad_data": 3,    # evaluate: some data could not be used (rows refused or values bad); the rest was decided
    "bad_pack": 4,    # evaluate: the rule pack has errors; nothing was decided
    "engine": 5,      # the decision engine misbehaved; no record was written for it
}


class Stop(Exception):
    """End the command with this exit code (its messages are already on stderr)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def _say(message: str) -> None:
    click.echo(message, err=True)


def _stop(code: str, message: str = "") -> NoReturn:
    if message:
        _say(message)
    raise Stop(EXIT[code])


def _command(work: Callable[..., int], lang: str = "en", /, **options: Any) -> NoReturn:
    """Run one command's work function and exit with its code; errors become messages."""
    try:
        code = work(**options)
    except Stop as stop:
        code = stop.code
    except OutputError as error:
        _say(error.problem.format(lang))
        code = EXIT["usage"]
    except DecisionError as error:
        _say(f"decision engine fault: {error}")
        code = EXIT["engine"]
    sys.exit(code)


# ---------------------------------------------------------------------------------------------
# Options shared by several commands


def _overrides(sets: tuple[str, ...], files: tuple[str, ...], lang: str = "en") -> dict[str, Any]:
    """--set and --overrides as one table; a malformed one is a usage error (exit 2)."""
    try:
        return parse_overrides(sets, files)
    except ValueError as error:
        raise click.UsageError(str(error))
    except ProblemsError as error:
        PROBLEM_RENDERERS["text"](error.problems, sys.stderr, lang)
        _stop("usage")


def _only_overrides(problems: list[Any], pack_path: str) -> bool:
    """True when every problem is in an override (--set or an --overrides file), none in the pack."""
    return bool(problems) and all(os.path.abspath(p.file) != os.path.abspath(pack_path) for p in problems)


def _pack(path: str, date: dt.date, overrides: dict[str, Any], lang: str = "en") -> Any:
    """The compiled pack, or its problems on stderr and exit 4 (nothing is decided)."""
    try:
        return load_pack(path, date, overrides)[0]
    except ProblemsError as error:
        PROBLEM_RENDERERS["text"](error.problems, sys.stderr, lang)
        if _only_overrides(error.problems, path):  # the pack is fine; the command line is not
            _stop("usage", "--set / --overrides 有错误，未作判定" if lang == "zh" else
                  "--set / --overrides has errors; nothing was decided")
        _stop("bad_pack", f"规则包 {path} 有错误，未作判定" if lang == "zh" else
              f"the rule pack {path} has errors; nothing was decided")


def _store_read_option(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    ctx.meta.setdefault("read_options", {})[param.name] = value


def data_read_options(command: Any) -> Any:
    """--encoding and --allow-unknown-columns for a command that reads data files; the values
    reach the readers through `_read_options()`, so the command's own signature is unchanged."""
    command = click.option("--allow-unknown-columns", "allow_unknown_columns", is_flag=True, expose_value=False,
                           callback=_store_read_option,
                           help="Accept a column that looks like a misspelt input (a warning, not an error).")(command)
    return click.option("--encoding", "encoding", metavar="CODEC", expose_value=False, callback=_store_read_option,
                        help="Encoding of CSV/JSON/YAML data files (utf-8, gbk, gb18030, big5, …); "
                             "default: UTF-8, or GBK/GB18030 when that reads as plausible Chinese.")(command)


def _read_options() -> Any:
    found = click.get_current_context().meta.get("read_options", {})
    return ReadOptions(encoding=found.get("encoding") or None,
                       allow_unknown_columns=bool(found.get("allow_unknown_columns")))


def _as_of(value: str | None, lang: str = "en") -> dt.date:
    """The --as-of date; defaulted to today with a warning naming the date (decisions depend on it)."""
    if value is None:
        today = dt.date.today()
        _say(f"警告: 未给出 --as-of, 按今天 {today.isoformat()} 判定" if lang == "zh" else
             f"warning: no --as-of given; deciding as of today, {today.isoformat()}")
        return today
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write it as 2024-01-01", param_hint="--as-of")


def _workers(requested: int, lang: str = "en") -> int:
    count, capped = worker_count(requested)
    if capped:
        _say(f"警告: --workers {requested} 超过可用的 {count} 个 CPU, 按 {count} 个进程判定" if lang == "zh" else
             f"warning: --workers {requested} is more than the {count} CPU(s) available; using {count}")
    return count


def _data(data: tuple[str, ...], input_format: str | None) -> list[str]:
    """DATA arguments, with `-` (standard input, at most once) spooled to a file of its format."""
    if list(data).count(STDIN) > 1:
        raise click.UsageError("'-' (standard input) can be given once")
    return [spool_stdin(input_format) if file == STDIN else file for file in data]


def _finish(problems: list[Any], counts: RowCounts, lang: str) -> int:
    """Problems and the row counts on stderr; exit 3 when any row was refused or had bad data."""
    if problems:
        PROBLEM_RENDERERS["text"](problems, sys.stderr, lang)
    _say(counts.line(lang))
    return EXIT["bad_data"] if (has_errors(problems) or counts.bad) else EXIT["ok"]


_AS_OF_HELP = "Decide as on this date (YYYY-MM-DD); default today, with a warning naming the date."
_DATA_HELP = ("DATA files: YAML, JSON, CSV, XLSX; '-' reads standard input, whose format is --input-format or, "
              "if not given, sniffed from its first bytes (zip: xlsx; { or [: json; a comma in the first line: csv; "
              "else yaml).")
_INPUT_FORMAT = click.option("--input-format", type=click.Choice(INPUT_FORMATS),
                             help="Format of '-' (standard input); default: sniffed.")
_OUTPUT_HELP = ("Write to this file instead of standard output ('-' = standard output). Written to a temporary "
                "file and moved into place; FIFOs and devices are written through, symlinks to their target.")
_WORKERS_HELP = ("Decide in this many processes (0 = one per CPU; capped at the CPUs available); "
                 "output order is unchanged.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(ENGINE_VERSION, prog_name="certify")
def main() -> None:
    """Rules-as-code certification for local industrial policy."""


# ---------------------------------------------------------------------------------------------
# validate


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(sorted(PROBLEM_RENDERERS)), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Treat warnings as problems (exit 1).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the messages (codes are the same in both).")
@click.option("--show-ignored", is_flag=True, help="Also list the findings a pack silences (lint: {ignore: ...}), with their reasons.")
def validate(paths: tuple[str, ...], fmt: str, strict: bool, lang: str = "zh", show_ignored: bool = False) -> None:
    """Check rule packs: syntax, schema, references, units. Exit 0 clean, 1 problems, 2 usage."""
    _command(run_validate, lang, paths=paths, fmt=fmt, strict=strict, lang=lang, show_ignored=show_ignored)


def run_validate(paths: tuple[str, ...], fmt: str, strict: bool, lang: str, show_ignored: bool) -> int:
    files, missing, problems = collect_packs(paths)  # refused paths (E175, W213) are problems, never read
    if missing:
        raise click.UsageError(f"no such file or folder: {missing[0]}")
    for file in files:
        doc, _, found = validate_file(file)
        if doc is not None and isinstance(doc.value, dict) and doc.value.get("format") == 2 and not has_errors(found):
            found = check_pack2(doc)  # format 2: also what parsing the values and the stages finds
        problems.extend(apply_ignores(doc, found) if doc is not None else found)
    ignored = sum(1 for p in problems if p.severity == IGNORED)
    problems = [p for p in problems if show_ignored or p.severity != IGNORED]
    PROBLEM_RENDERERS[fmt](problems, sys.stdout, lang)
    live = [p for p in problems if p.severity != IGNORED]
    if fmt == "text":
        errors = sum(1 for p in live if p.severity == "error")
        _say(f"已检查 {len(files)} 个规则包：{errors} 个错误，{len(live) - errors} 个警告，{ignored} 个已忽略"
             if lang == "zh" else
             f"{len(files)} pack(s) checked: {errors} error(s), {len(live) - errors} warning(s), {ignored} ignored")
    failed = has_errors(problems) or (strict and bool(live))
    return EXIT["problems"] if failed else EXIT["ok"]


# ---------------------------------------------------------------------------------------------
# evaluate


@main.command()
@click.option("--rules", "pack_path", required=True, type=click.Path(), help="The rule pack (YAML).")
@click.argument("data", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--as-of", "as_of", help=_AS_OF_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "xlsx"]), default="text", show_default=True,
              help="csv / xlsx: one row per entity, a column per criterion (xlsx needs -o).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--engine", type=click.Choice(ENGINES), default="durable", show_default=True,
              help="durable decides; reference is the plain-Python check.")
@click.option("--what-it-takes", "what_it_takes", is_flag=True,
              help="Add to each record that does not pass the smallest changes that would make it pass.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a parameter, e.g. manufacturing_output_min=8亿元.")
@click.option("--overrides", "override_files", multiple=True, type=click.Path(), help="YAML file of parameter: value overrides.")
@click.option("--output", "-o", type=click.Path(allow_dash=True), help=_OUTPUT_HELP)
@click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True, help=_WORKERS_HELP)
@_INPUT_FORMAT
@click.option("--full", "view", flag_value="full",
              help="Text: every criterion with its value, threshold and gap (the default for a single entity).")
@click.option("--summary", "view", flag_value="short",
              help="Text: one line per entity with its headline reason (the default for a batch).")
@data_read_options
def evaluate(pack_path: str, data: tuple[str, ...], as_of: str | None, fmt: str, lang: str, engine: str,
             sets: tuple[str, ...], override_files: tuple[str, ...], output: str | None, workers: int,
             what_it_takes: bool = False, input_format: str | None = None, view: str | None = None) -> None:
    """Decide every entity in DATA with the rule pack. DATA: YAML, JSON, CSV or XLSX files; '-' reads
    standard input (format: --input-format, else sniffed). Ends with the rows read, decided and
    refused on stderr; exit 3 when any row was refused or had bad data."""
    _command(run_evaluate, lang, pack_path=pack_path, data=data, as_of=as_of, fmt=fmt, lang=lang, engine=engine,
             sets=sets, override_files=override_files, output=output, workers=workers,
             what_it_takes=what_it_takes, input_format=input_format, view=view)


def run_evaluate(pack_path: str, data: tuple[str, ...], as_of: str | None, fmt: str, lang: str, engine: str,
                 sets: tuple[str, ...], override_files: tuple[str, ...], output: str | None, workers: int,
                 what_it_takes: bool, input_format: str | None, view: str | None) -> int:
    check_output(output)  # before any work: a batch must not be decided only to be lost
    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx writes a file: add -o FILE.xlsx (or -o - for standard output)")
    date = _as_of(as_of, lang)
    overrides = _overrides(sets, override_files, lang)
    if pack_format(pack_path) == 2:
        return _evaluate2(pack_path, data, date, overrides, fmt, lang, engine, output, workers, what_it_takes,
                          input_format, view)
    pack = _pack(pack_path, date, overrides, lang)
    workers = _workers(workers, lang)
    files = _data(data, input_format)
    problems: list[Any] = []
    counts = RowCounts()
    to_stdout = not output or output == STDOUT
    streaming_to_terminal = to_stdout and fmt in ("text", "json") and sys.stdout.isatty()
    # JSON is encoded where each entity is decided (in the worker processes with --workers).
    render = encode_record if fmt == "json" else None
    records = progress(decide_files(pack, files, engine, problems, workers=workers, what_it_takes=what_it_takes,
                                    render=render, read=_read_options(), counts=counts),
                       enabled=not streaming_to_terminal)
    if fmt in ("csv", "xlsx"):
        write_report(fmt, records, output, pack, lang, problems)
    else:
        with open_output(output) as out:
            if fmt == "json":
                stream_evaluation_json(records, problems, out, rows=counts)
            else:
                render_text(records, out, lang, pack.meta.title, view=view or "auto",
                            param_labels={name: p.label for name, p in pack.params.items()})
    return _finish(problems, counts, lang)


def _pack2(path: str, date: dt.date, overrides: dict[str, Any], lang: str = "en") -> Any:
    """The compiled format-2 pack, or its problems on stderr and exit 4 (nothing is decided)."""
    try:
        pack = load_pack2(path, date, overrides)
    except ProblemsError as error:
        PROBLEM_RENDERERS["text"](error.problems, sys.stderr, lang)
        if _only_overrides(error.problems, path):
            _stop("usage", "--set / --overrides 有错误，未作判定" if lang == "zh" else
                  "--set / --overrides has errors; nothing was decided")
        _stop("bad_pack", f"规则包 {path} 有错误，未作判定" if lang == "zh" else
              f"the rule pack {path} has errors; nothing was decided")
    if pack.warnings:
        PROBLEM_RENDERERS["text"](pack.warnings, sys.stderr, lang)
    return pack


def _evaluate2(pack_path: str, data: tuple[str, ...], date: dt.date, overrides: dict[str, Any], fmt: str, lang: str,
               engine: str, output: str | None, workers: int, what_it_takes: bool, input_format: str | None,
               view: str | None) -> int:
    """`certify evaluate` on a format-2 pack: text (zh/en) or JSON."""
    if fmt not in ("text", "json", "csv"):
        raise click.UsageError("format-2 packs are shown as text, json or csv for now (--format xlsx: not yet)")
    if what_it_takes:
        raise click.UsageError("--what-it-takes is not available for format-2 packs yet")
    if workers != 1:
        _say("注意: 格式 2 规则包在一个进程中判定" if lang == "zh" else "note: format-2 packs are decided in one process")
    pack = _pack2(pack_path, date, overrides, lang)
    files = _data(data, input_format)
    problems: list[Any] = []
    counts = RowCounts()
    records = list(decide_files2(pack, files, engine, problems, read=_read_options(), counts=counts))
    with open_output(output) as out:
        if fmt == "json":
            write_json2(records, problems, out, rows=counts, pack=pack)
        elif fmt == "csv":
            write_csv2(records, pack, out, lang)
        else:
            render_text2(records, pack, out, lang, view=view or "auto")
    return _finish(problems, counts, lang)


# ---------------------------------------------------------------------------------------------
# report


@main.command()
@click.option("--rules", "pack_path", required=True, type=click.Path(), help="The rule pack (YAML).")
@click.argument("data", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--output", "-o", type=click.Path(allow_dash=True), help=_OUTPUT_HELP)
@click.option("--format", "fmt", type=click.Choice(["html", "markdown", "csv", "xlsx"]),
              help="Default: from the -o suffix (.html .md .csv .xlsx), else html.")
@click.option("--as-of", "as_of", help=_AS_OF_HELP)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--engine", type=click.Choice(ENGINES), default="durable", show_default=True)
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a parameter.")
@click.option("--overrides", "override_files", multiple=True, type=click.Path(), help="YAML file of overrides.")
@click.option("--what-it-takes", "what_it_takes", is_flag=True,
              help="Show, for each entity that does not pass, the smallest changes that would make it pass.")
@click.option("--sources", "sources", multiple=True, type=click.Path(),
              help="Folder holding the policy text named by pack.source.seed (default: shared/seeds/ above the pack).")
@click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True, help=_WORKERS_HELP)
@_INPUT_FORMAT
@data_read_options
def report(pack_path: str, data: tuple[str, ...], output: str | None, fmt: str | None, as_of: str | None, lang: str,
           engine: str, sets: tuple[str, ...], override_files: tuple[str, ...], what_it_takes: bool,
           sources: tuple[str, ...], workers: int, input_format: str | None = None) -> None:
    """A reviewer report (HTML, Markdown) or result table (CSV, XLSX) for every entity in DATA
    ('-' reads standard input). For a scoring pack (kind: scoring): per cohort the ranking, and
    per zone its points by indicator."""
    _command(run_report, lang, pack_path=pack_path, data=data, output=output, fmt=fmt, as_of=as_of, lang=lang,
             engine=engine, sets=sets, override_files=override_files, what_it_takes=what_it_takes,
             sources=sources, workers=workers, input_format=input_format)


def run_report(pack_path: str, data: tuple[str, ...], output: str | None, fmt: str | None, as_of: str | None,
               lang: str, engine: str, sets: tuple[str, ...], override_files: tuple[str, ...], what_it_takes: bool,
               sources: tuple[str, ...], workers: int, input_format: str | None) -> int:
    check_output(output)
    fmt = report_format(fmt, output)
    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx writes a file: add -o FILE.xlsx (or -o - for standard output)")
    date = _as_of(as_of, lang)
    overrides = _overrides(sets, override_files, lang)
    if pack_format(pack_path) == 2:
        return _report2(pack_path, data, date, overrides, fmt, output, lang, engine, input_format)
    if is_scoring_file(pack_path):
        return _score_report(pack_path, data, date, overrides, fmt, output, lang, engine, input_format)
    pack = _pack(pack_path, date, overrides, lang)
    workers = _workers(workers, lang)
    files = _data(data, input_format)
    clauses = load_clauses(pack_path, pack.meta.source.get("seed"), sources) if fmt in ("html", "markdown") else {}
    problems: list[Any] = []
    counts = RowCounts()
    records = progress(decide_files(pack, files, engine, problems, workers=workers, what_it_takes=what_it_takes,
                                    read=_read_options(), counts=counts))
    write_report(fmt, records, output, pack, lang, problems, clauses)
    return _finish(problems, counts, lang)


def _report2(pack_path: str, data: tuple[str, ...], date: dt.date, overrides: dict[str, Any], fmt: str,
             output: str | None, lang: str, engine: str, input_format: str | None) -> int:
    """`certify report` for a format-2 pack: the HTML or Markdown page (engine.report.pages2)."""
    if fmt not in ("html", "markdown"):
        raise click.UsageError("format-2 packs are reported as html or markdown for now (csv/xlsx: not yet)")
    pack = _pack2(pack_path, date, overrides, lang)
    problems: list[Any] = []
    counts = RowCounts()
    records = list(decide_files2(pack, _data(data, input_format), engine, problems, read=_read_options(), counts=counts))
    with open_output(output) as out:
        (render_html2 if fmt == "html" else render_markdown2)(records, pack, out, lang, problems)
    return _finish(problems, counts, lang)


def _load_scoring(pack_path: str, date: dt.date, overrides: dict[str, Any], lang: str = "en") -> Any:
    try:
        return load_scoring_pack(pack_path, date, overrides)[0]
    except ProblemsError as error:
        PROBLEM_RENDERERS["text"](error.problems, sys.stderr, lang)
        if _only_overrides(error.problems, pack_path):
            _stop("usage", "--set / --overrides 有错误，未作评分" if lang == "zh" else
                  "--set / --overrides has errors; nothing was scored")
        _stop("bad_pack", f"规则包 {pack_path} 有错误，未作评分" if lang == "zh" else
              f"the rule pack {pack_path} has errors; nothing was scored")


def _score_report(pack_path: str, data: tuple[str, ...], date: dt.date, overrides: dict[str, Any], fmt: str,
                  output: str | None, lang: str, engine: str, input_format: str | None) -> int:
    """`certify report` for a scoring pack: score, render, report problems; returns the exit code."""
    pack = _load_scoring(pack_path, date, overrides, lang)
    problems: list[Any] = []
    counts = RowCounts()
    result = score_files(pack, _data(data, input_format), engine, problems, read=_read_options(), counts=counts)

    if fmt == "xlsx":
        assert output
        with output_path(output) as tmp:
            write_score_xlsx(result, tmp, lang)
    else:
        view = ScoreView(lang, pack.meta.title, dict(pack.meta.source), problems)
        with open_output(output, newline="" if fmt == "csv" else None) as out:
            SCORE_RENDERERS[fmt if fmt in ("csv", "markdown") else "html"](result, out, view)
    return _finish(problems, counts, lang)


# ---------------------------------------------------------------------------------------------
# test


@main.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--junit", type=click.Path(allow_dash=True),
              help="Also write a JUnit XML report here (for CI systems); written as -o is.")
@click.option("--coverage", is_flag=True, help="Report which criteria were seen met, not met and unknown.")
@click.option("--require-full-coverage", is_flag=True, help="Fail when a criterion was not seen in all three statuses.")
@click.option("--engine", type=click.Choice(ENGINES), default="durable", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the report (codes and the JSON/JUnit field names are the same in both).")
def test_command(paths: tuple[str, ...], fmt: str, junit: str | None, coverage: bool,
                 require_full_coverage: bool, engine: str, lang: str = "zh") -> None:
    """Run the pack test suites (*.tests.yaml) in PATHS (default: rules/). Exit 1 on any failure
    or when no test ran."""
    _command(run_test, lang, paths=paths, fmt=fmt, junit=junit, coverage=coverage,
             require_full_coverage=require_full_coverage, engine=engine, lang=lang)


def run_test(paths: tuple[str, ...], fmt: str, junit: str | None, coverage: bool,
             require_full_coverage: bool, engine: str, lang: str) -> int:
    check_output(junit)
    suites, refused = collect_suites(list(paths) or ["rules"])
    if paths and not suites:
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            raise click.UsageError(f"no such file or folder: {missing[0]}")
    results = [SuiteResult(p.file, problems=[p]) for p in refused] + [run_suite(s, engine) for s in suites]
    if fmt == "json":
        json.dump(suites_json(results), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        render_suites_text(results, sys.stdout, show_coverage=coverage or require_full_coverage, lang=lang)
    if junit:
        with output_path(junit) as tmp:
            render_junit(results, tmp, lang)
    ran = sum(len(r.cases) for r in results)
    failed = sum(1 for r in results for c in r.cases if not c.passed)
    broken = any(p.severity == "error" for r in results for p in r.problems)
    gaps = any(coverage_gaps(r) for r in results) if require_full_coverage else False
    if ran == 0:
        _say("没有运行任何测试用例" if lang == "zh" else "no test case ran")
    return EXIT["problems"] if (failed or broken or gaps or ran == 0) else EXIT["ok"]


# ---------------------------------------------------------------------------------------------
# lint


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(sorted(PROBLEM_RENDERERS)), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Treat warnings as problems (exit 1); notes never fail.")
@click.option("--sources", type=click.Path(file_okay=False),
              help="Folder holding the policy text named by pack.source.seed (default: shared/seeds/ above the pack).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the messages (codes are the same in both).")
@click.option("--show-ignored", is_flag=True, help="Also list the findings a pack silences (lint: {ignore: ...}), with their reasons.")
def lint(paths: tuple[str, ...], fmt: str, strict: bool, sources: str | None, lang: str = "zh",
         show_ignored: bool = False) -> None:
    """Validate, then look for what compiles but is probably wrong: shadowed cases, citations not
    in the source text, overlapping or gapped bands, suspicious magnitudes. Exit 0 / 1 / 2 as validate."""
    _command(run_lint, lang, paths=paths, fmt=fmt, strict=strict, sources=sources, lang=lang,
             show_ignored=show_ignored)


def run_lint(paths: tuple[str, ...], fmt: str, strict: bool, sources: str | None, lang: str,
             show_ignored: bool) -> int:
    files, missing, problems = collect_packs(paths)  # refused paths (E175, W213) are problems, never read
    if missing:
        raise click.UsageError(f"no such file or folder: {missing[0]}")
    problems += [p for file in files for p in lint_file(file, sources)]
    ignored = sum(1 for p in problems if p.severity == IGNORED)
    problems = [p for p in problems if show_ignored or p.severity != IGNORED]
    PROBLEM_RENDERERS[fmt](problems, sys.stdout, lang)
    if fmt == "text":
        errors = sum(1 for p in problems if p.severity == "error")
        notes = sum(1 for p in problems if p.severity == NOTE)
        warnings = sum(1 for p in problems if p.severity == "warning")
        _say(f"已检查 {len(files)} 个规则包：{errors} 个错误，{warnings} 个警告，{notes} 个提示，{ignored} 个已忽略"
             if lang == "zh" else
             f"{len(files)} pack(s) linted: {errors} error(s), {warnings} warning(s), {notes} note(s), {ignored} ignored")
    failed = has_errors(problems) or (strict and any(p.severity not in ("error", NOTE, IGNORED) for p in problems))
    return EXIT["problems"] if failed else EXIT["ok"]


# ---------------------------------------------------------------------------------------------
# diff


@main.command()
@click.argument("old")
@click.argument("new")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True),
              help="Entities to decide with both versions (repeatable).")
@click.option("--as-of", "as_of", help=_AS_OF_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--engine", type=click.Choice(ENGINES), default="durable", show_default=True)
@click.option("--fail-on-change", is_flag=True, help="Exit 1 when any entity changes outcome (scoring: rank or award).")
@click.option("--output", "-o", type=click.Path(allow_dash=True), help=_OUTPUT_HELP)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the summary and messages (the JSON is the same in both).")
def diff(old: str, new: str, data: tuple[str, ...], as_of: str | None, fmt: str, engine: str,
         fail_on_change: bool, output: str | None, lang: str = "zh") -> None:
    """The impact of an edit: decide DATA with two versions of a pack (paths, or git REV:PATH such
    as HEAD~1:rules/pack.yaml; a REV starting with '-' is refused, E174) and explain which
    entities change outcome and why."""
    _command(run_diff, lang, old=old, new=new, data=data, as_of=as_of, fmt=fmt, engine=engine,
             fail_on_change=fail_on_change, output=output, lang=lang)


def run_diff(old: str, new: str, data: tuple[str, ...], as_of: str | None, fmt: str, engine: str,
             fail_on_change: bool, output: str | None, lang: str) -> int:
    check_output(output)
    date = _as_of(as_of, lang)
    try:
        result = diff_files(old, new, data, date, engine)
    except DiffSourceError as error:
        if error.code:  # a refusal with a code: the message says it all
            _stop("usage", error.message_zh if lang == "zh" else str(error))
        raise click.UsageError(str(error))
    except ProblemsError as error:
        PROBLEM_RENDERERS["text"](error.problems, sys.stderr, lang)
        _stop("bad_pack", "规则包的某个版本有错误，未作比较" if lang == "zh" else
              "a version of the rule pack has errors; nothing was compared")
    with open_output(output) as out:
        DIFF_RENDERERS[fmt](result, out, lang)
    counts = result["counts"]  # scoring packs: a changed rank or award counts as a changed outcome
    changed = counts.get("outcome_changed", counts.get("rank_changed", 0) + counts.get("award_changed", 0))
    return EXIT["problems"] if (fail_on_change and changed) else EXIT["ok"]


# ---------------------------------------------------------------------------------------------
# score


@main.command()
@click.option("--rules", "pack_path", required=True, type=click.Path(), help="The scoring pack (YAML, kind: scoring).")
@click.argument("data", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--as-of", "as_of", help="Evaluate as on this date (YYYY-MM-DD); default today, with a warning.")
@click.option("--engine", type=click.Choice(ENGINES), default="durable", show_default=True)
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Override a parameter or scoring setting, e.g. awards.key_development.1=700万元, "
                   "sales_growth_rank.weight=50%, '*.step=1', choices.award_pass_down=false.")
@click.option("--overrides", "override_files", multiple=True, type=click.Path(), help="YAML file of name: value overrides.")
@click.option("--output", "-o", type=click.Path(allow_dash=True), help=_OUTPUT_HELP)
@_INPUT_FORMAT
@click.option("--full", is_flag=True, help="Text: after the tables, every entity's points item by item.")
@data_read_options
def score(pack_path: str, data: tuple[str, ...], fmt: str, lang: str, as_of: str | None, engine: str,
          output: str | None, sets: tuple[str, ...] = (), override_files: tuple[str, ...] = (),
          input_format: str | None = None, full: bool = False) -> None:
    """Score, rank and award every entity in DATA with a scoring pack (one cohort per type);
    '-' reads standard input."""
    _command(run_score, lang, pack_path=pack_path, data=data, fmt=fmt, lang=lang, as_of=as_of, engine=engine,
             output=output, sets=sets, override_files=override_files, input_format=input_format, full=full)


def run_score(pack_path: str, data: tuple[str, ...], fmt: str, lang: str, as_of: str | None, engine: str,
              output: str | None, sets: tuple[str, ...], override_files: tuple[str, ...],
              input_format: str | None, full: bool = False) -> int:
    check_output(output)
    date = _as_of(as_of, lang)
    overrides = _overrides(sets, override_files, lang)
    pack = _load_scoring(pack_path, date, overrides, lang)
    problems: list[Any] = []
    counts = RowCounts()
    result = score_files(pack, _data(data, input_format), engine, problems, read=_read_options(), counts=counts)
    view = ScoreView(lang, pack.meta.title, problems=problems, counts=counts.as_dict(), full=full)
    with open_output(output, newline="" if fmt == "csv" else None) as out:
        SCORE_RENDERERS[fmt if fmt in ("json", "csv") else "text"](result, out, view)
    return _finish(problems, counts, lang)


# ---------------------------------------------------------------------------------------------
# schema


@main.command()
@click.option("--output", "-o", type=click.Path(allow_dash=True), help=_OUTPUT_HELP)
def schema(output: str | None) -> None:
    """Print the JSON Schema of the rule pack format (for editors and CI)."""
    _command(run_schema, output=output)


def run_schema(output: str | None) -> int:
    check_output(output)
    with open_output(output) as out:
        out.write(json.dumps(pack_schema(), ensure_ascii=False, indent=2) + "\n")
    return EXIT["ok"]


# ---------------------------------------------------------------------------------------------
# migrate


@main.command()
@click.argument("pack_path", metavar="PACK", type=click.Path())
@click.option("--output", "-o", type=click.Path(allow_dash=True), help=_OUTPUT_HELP)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def migrate(pack_path: str, output: str | None, lang: str) -> None:
    """Write a format-1 pack as a format-2 pack (docs/format2.md); nothing is written when part of it
    cannot be converted (E200-E204)."""
    _command(run_migrate, lang, pack_path=pack_path, output=output, lang=lang)


# ---------------------------------------------------------------------------------------------
# serve


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but 127.0.0.1 / localhost needs --token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--packs", "packs", default="rules", show_default=True, type=click.Path(file_okay=False, exists=True),
              help="The folder of rule packs to serve (each pack is named by its pack.id).")
@click.option("--token", envvar="CERTIFY_TOKEN", help="Token every request must carry (env CERTIFY_TOKEN).")
@click.option("--max-upload-mb", "max_upload_mb", type=click.IntRange(min=1), default=20, show_default=True,
              help="Largest request body (an uploaded data file), in MiB.")
@click.option("--max-rows", "max_rows", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="Most rows (entities) one request may decide.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def serve(host: str, port: int, packs: str, token: str | None, max_upload_mb: int, max_rows: int, lang: str) -> None:
    """The officer's workbench: a local web app and the HTTP API (/api/v1, OpenAPI at /api/v1/openapi.json)."""
    _command(run_serve, lang, host=host, port=port, packs=packs, token=token,
             limits=Limits(max_body=max_upload_mb * 1024 * 1024, max_rows=max_rows), lang=lang)


def run() -> None:  # console-script entry point: turn our own errors into messages, not traces
    install_signal_handlers()
    try:
        main()
    except EngineError as error:
        _say(f"error: {error}")
        sys.exit(EXIT["problems"])


if __name__ == "__main__":
    run()
