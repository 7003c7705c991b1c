"""Command line: `certify validate`, `certify evaluate`, `certify schema`.

The click functions only parse options and choose a renderer; the engine package decides.
Exit codes are documented in README ("Exit codes") and listed in `EXIT`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from engine import ENGINE_VERSION
from engine.evaluate import ENGINES
from engine.pipeline import decide_files, load_pack, parse_overrides
from engine.problems import DecisionError, EngineError, ProblemsError, has_errors
from engine.outputs import progress
from engine.report import PROBLEM_RENDERERS, encode_record, render_text, stream_evaluation_json
from engine.validate import validate_file

EXIT = {
    "ok": 0,          # everything decided / every pack clean
    "problems": 1,    # validate: a pack has errors; test: a case failed
    "usage": 2,       # bad command line (click's own code)
    "bad_data": 3,    # evaluate: some data could not be used; the rest was decided
    "bad_pack": 4,    # evaluate: the rule pack has errors; nothing was decided
    "engine": 5,      # the decision engine misbehaved; no record was written for it
}


def _overrides(sets: tuple[str, ...], files: tuple[str, ...]) -> dict[str, Any]:
    """--set and --overrides as one table; a malformed one is a usage error (exit 2)."""
    try:
        return parse_overrides(sets, files)
    except ValueError as error:
        raise click.UsageError(str(error))
    except ProblemsError as error:
        PROBLEM_RENDERERS["text"](error.problems, sys.stderr)
        sys.exit(EXIT["usage"])


def _pack(path: str, date: dt.date, overrides: dict[str, Any]) -> Any:
    """The compiled pack, or its problems on stderr and exit 4 (nothing is decided)."""
    try:
        return load_pack(path, date, overrides)[0]
    except ProblemsError as error:
        PROBLEM_RENDERERS["text"](error.problems, sys.stderr)
        click.echo(f"the rule pack {path} has errors; nothing was decided", err=True)
        sys.exit(EXIT["bad_pack"])


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
    from engine.data import ReadOptions

    found = click.get_current_context().meta.get("read_options", {})
    return ReadOptions(encoding=found.get("encoding") or None,
                       allow_unknown_columns=bool(found.get("allow_unknown_columns")))


def _as_of(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write it as 2024-01-01", param_hint="--as-of")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(ENGINE_VERSION, prog_name="certify")
def main() -> None:
    """Rules-as-code certification for local industrial policy."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(sorted(PROBLEM_RENDERERS)), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Treat warnings as problems (exit 1).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the messages (codes are the same in both).")
@click.option("--show-ignored", is_flag=True, help="Also list the findings a pack silences (lint: {ignore: ...}), with their reasons.")
def validate(paths: tuple[str, ...], fmt: str, strict: bool, lang: str = "zh", show_ignored: bool = False) -> None:
    """Check rule packs: syntax, schema, references, units. Exit 0 clean, 1 problems, 2 usage."""
    from engine.lint import IGNORED, apply_ignores, collect_packs

    files, missing, problems = collect_packs(paths)  # refused paths (E175, W213) are problems, never read
    if missing:
        raise click.UsageError(f"no such file or folder: {missing[0]}")
    for file in files:
        doc, _, found = validate_file(file)
        problems.extend(apply_ignores(doc, found) if doc is not None else found)
    ignored = sum(1 for p in problems if p.severity == IGNORED)
    problems = [p for p in problems if show_ignored or p.severity != IGNORED]
    PROBLEM_RENDERERS[fmt](problems, sys.stdout, lang)
    live = [p for p in problems if p.severity != IGNORED]
    if fmt == "text":
        errors = sum(1 for p in live if p.severity == "error")
        click.echo(f"已检查 {len(files)} 个规则包：{errors} 个错误，{len(live) - errors} 个警告，{ignored} 个已忽略"
                   if lang == "zh" else
                   f"{len(files)} pack(s) checked: {errors} error(s), {len(live) - errors} warning(s), "
                   f"{ignored} ignored", err=True)
    failed = has_errors(problems) or (strict and bool(live))
    sys.exit(EXIT["problems"] if failed else EXIT["ok"])


@main.command()
@click.option("--rules", "pack_path", required=True, type=click.Path(), help="The rule pack (YAML).")
@click.argument("data", nargs=-1, required=True, type=click.Path())
@click.option("--as-of", "as_of", help="Decide as on this date (YYYY-MM-DD); default today.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "xlsx"]), default="text", show_default=True,
              help="csv / xlsx: one row per entity, a column per criterion (xlsx needs -o).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--engine", type=click.Choice(ENGINES), default="durable", show_default=True,
              help="durable decides; reference is the plain-Python check.")
@click.option("--what-it-takes", "what_it_takes", is_flag=True,
              help="Add to each record that does not pass the smallest changes that would make it pass.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a parameter, e.g. manufacturing_output_min=8亿元.")
@click.option("--overrides", "override_files", multiple=True, type=click.Path(), help="YAML file of parameter: value overrides.")
@click.option("--output", "-o", type=click.Path(), help="Write to this file instead of standard output.")
@click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True,
              help="Decide in this many processes (0 = one per core); output order is unchanged.")
@click.option("--full", "view", flag_value="full",
              help="Text: every criterion with its value, threshold and gap (the default for a single entity).")
@click.option("--summary", "view", flag_value="short",
              help="Text: one line per entity with its headline reason (the default for a batch).")
@data_read_options
def evaluate(pack_path: str, data: tuple[str, ...], as_of: str | None, fmt: str, lang: str, engine: str,
             sets: tuple[str, ...], override_files: tuple[str, ...], output: str | None, workers: int,
             what_it_takes: bool = False, view: str | None = None) -> None:
    """Decide every entity in DATA files (YAML, JSON, CSV, XLSX) with the rule pack."""
    date = _as_of(as_of)
    overrides = _overrides(sets, override_files)
    pack = _pack(pack_path, date, overrides)
    problems: list[Any] = []
    streaming_to_terminal = not output and fmt in ("text", "json") and sys.stdout.isatty()
    # JSON is encoded where each entity is decided (in the worker processes with --workers).
    render = encode_record if fmt == "json" else None
    records = progress(decide_files(pack, data, engine, problems, workers=workers, what_it_takes=what_it_takes,
                                    render=render, read=_read_options()),
                       enabled=not streaming_to_terminal)
    if fmt in ("csv", "xlsx"):
        _write_batch(fmt, records, output, pack, lang, problems)
    target = output + ".partial" if output else None
    out = open(target, "w", encoding="utf-8") if target else sys.stdout
    try:
        if fmt == "json":
            stream_evaluation_json(records, problems, out)
        else:
            render_text(records, out, lang, pack.meta.title, view=view or "auto",
                        param_labels={name: p.label for name, p in pack.params.items()})
    except DecisionError as error:
        click.echo(f"decision engine fault: {error}", err=True)
        if target:
            out.close()
            os.remove(target)  # a partial result must not be mistaken for a complete one
        sys.exit(EXIT["engine"])
    finally:
        if target and not out.closed:
            out.close()
    if output and target:
        os.replace(target, output)  # never leave a half-written result under the real name
    if problems:
        PROBLEM_RENDERERS["text"](problems, sys.stderr)
    bad = has_errors(problems)
    sys.exit(EXIT["bad_data"] if bad else EXIT["ok"])


def _write_batch(fmt: str, records: Any, output: str | None, pack: Any, lang: str, problems: list[Any],
                 clauses: dict[str, str] | None = None) -> None:
    """Write a report or result table (atomically), report problems, and exit with the batch's code."""
    from engine.outputs import write_report

    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx writes a file: add -o FILE.xlsx")
    try:
        write_report(fmt, records, output, pack, lang, problems, clauses)
    except DecisionError as error:
        click.echo(f"decision engine fault: {error}", err=True)
        sys.exit(EXIT["engine"])
    if problems:
        PROBLEM_RENDERERS["text"](problems, sys.stderr)
    sys.exit(EXIT["bad_data"] if has_errors(problems) else EXIT["ok"])


@main.command()
@click.option("--rules", "pack_path", required=True, type=click.Path(), help="The rule pack (YAML).")
@click.argument("data", nargs=-1, required=True, type=click.Path())
@click.option("--output", "-o", type=click.Path(), help="Write the report here (default: standard output).")
@click.option("--format", "fmt", type=click.Choice(["html", "markdown", "csv", "xlsx"]),
              help="Default: from the -o suffix (.html .md .csv .xlsx), else html.")
@click.option("--as-of", "as_of", help="Decide as on this date (YYYY-MM-DD); default today.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--engine", type=click.Choice(ENGINES), default="durable", show_default=True)
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a parameter.")
@click.option("--overrides", "override_files", multiple=True, type=click.Path(), help="YAML file of overrides.")
@click.option("--what-it-takes", "what_it_takes", is_flag=True,
              help="Show, for each entity that does not pass, the smallest changes that would make it pass.")
@click.option("--sources", "sources", multiple=True, type=click.Path(),
              help="Folder holding the policy text named by pack.source.seed (default: shared/seeds/ above the pack).")
@click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True)
@data_read_options
def report(pack_path: str, data: tuple[str, ...], output: str | None, fmt: str | None, as_of: str | None, lang: str,
           engine: str, sets: tuple[str, ...], override_files: tuple[str, ...], what_it_takes: bool,
           sources: tuple[str, ...], workers: int) -> None:
    """A reviewer report (HTML, Markdown) or result table (CSV, XLSX) for every entity in DATA.
    For a scoring pack (kind: scoring): per cohort the ranking, and per zone its points by indicator."""
    from engine.clauses import load_clauses
    from engine.outputs import report_format
    from engine.scoring import is_scoring_file

    date = _as_of(as_of)
    overrides = _overrides(sets, override_files)
    if is_scoring_file(pack_path):
        _score_report(pack_path, data, date, overrides, report_format(fmt, output), output, lang, engine)
    pack = _pack(pack_path, date, overrides)
    fmt = report_format(fmt, output)
    clauses = load_clauses(pack_path, pack.meta.source.get("seed"), sources) if fmt in ("html", "markdown") else {}
    problems: list[Any] = []
    records = progress(decide_files(pack, data, engine, problems, workers=workers, what_it_takes=what_it_takes,
                                    read=_read_options()))
    _write_batch(fmt, records, output, pack, lang, problems, clauses)


def _load_scoring(pack_path: str, date: dt.date, overrides: dict[str, Any]) -> Any:
    from engine.scoring import load_scoring_pack

    try:
        return load_scoring_pack(pack_path, date, overrides)[0]
    except ProblemsError as error:
        PROBLEM_RENDERERS["text"](error.problems, sys.stderr)
        click.echo(f"the rule pack {pack_path} has errors; nothing was scored", err=True)
        sys.exit(EXIT["bad_pack"])


def _score_files(pack: Any, data: tuple[str, ...], engine: str, problems: list[Any]) -> dict[str, Any]:
    from engine.scoring import score_files

    try:
        return score_files(pack, data, engine, problems, read=_read_options())
    except DecisionError as error:
        click.echo(f"decision engine fault: {error}", err=True)
        sys.exit(EXIT["engine"])


def _score_report(pack_path: str, data: tuple[str, ...], date: dt.date, overrides: dict[str, Any], fmt: str,
                  output: str | None, lang: str, engine: str) -> None:
    """`certify report` for a scoring pack: score, render, report problems, exit with the batch's code."""
    from engine.outputs import atomic_path, atomic_text
    from engine.report_scoring import render_score_html, render_score_markdown, write_score_xlsx
    from engine.scoring_report import render_score_csv

    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx writes a file: add -o FILE.xlsx")
    pack = _load_scoring(pack_path, date, overrides)
    problems: list[Any] = []
    result = _score_files(pack, data, engine, problems)

    def render(out: Any) -> None:
        if fmt == "csv":
            render_score_csv(result, out, lang)
        elif fmt == "markdown":
            render_score_markdown(result, out, lang, pack.meta.title, dict(pack.meta.source), problems)
        else:
            render_score_html(result, out, lang, pack.meta.title, dict(pack.meta.source), problems)

    if fmt == "xlsx" and output:
        with atomic_path(output) as tmp:
            write_score_xlsx(result, tmp, lang)
    elif output:
        with atomic_text(output, newline="" if fmt == "csv" else None) as handle:
            render(handle)
    else:
        render(sys.stdout)
    if problems:
        PROBLEM_RENDERERS["text"](problems, sys.stderr)
    sys.exit(EXIT["bad_data"] if has_errors(problems) else EXIT["ok"])


@main.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--junit", type=click.Path(), help="Also write a JUnit XML report here (for CI systems).")
@click.option("--coverage", is_flag=True, help="Report which criteria were seen met, not met and unknown.")
@click.option("--require-full-coverage", is_flag=True, help="Fail when a criterion was not seen in all three statuses.")
@click.option("--engine", type=click.Choice(ENGINES), default="durable", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the report (codes and the JSON/JUnit field names are the same in both).")
def test_command(paths: tuple[str, ...], fmt: str, junit: str | None, coverage: bool,
                 require_full_coverage: bool, engine: str, lang: str = "zh") -> None:
    """Run the pack test suites (*.tests.yaml) in PATHS (default: rules/). Exit 1 on any failure
    or when no test ran."""
    from engine.packtest import SuiteResult, collect_suites, coverage_gaps, run_suite
    from engine.report import render_junit, render_suites_text, suites_json

    suites, refused = collect_suites(list(paths) or ["rules"])
    if paths and not suites:
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            raise click.UsageError(f"no such file or folder: {missing[0]}")
    try:
        results = [SuiteResult(p.file, problems=[p]) for p in refused] + [run_suite(s, engine) for s in suites]
    except DecisionError as error:
        click.echo(f"decision engine fault: {error}", err=True)
        sys.exit(EXIT["engine"])
    if fmt == "json":
        json.dump(suites_json(results), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        render_suites_text(results, sys.stdout, show_coverage=coverage or require_full_coverage, lang=lang)
    if junit:
        render_junit(results, junit, lang)
    ran = sum(len(r.cases) for r in results)
    failed = sum(1 for r in results for c in r.cases if not c.passed)
    broken = any(p.severity == "error" for r in results for p in r.problems)
    gaps = any(coverage_gaps(r) for r in results) if require_full_coverage else False
    if ran == 0:
        click.echo("没有运行任何测试用例" if lang == "zh" else "no test case ran", err=True)
    sys.exit(EXIT["problems"] if (failed or broken or gaps or ran == 0) else EXIT["ok"])


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
    from engine.lint import IGNORED, NOTE, collect_packs, lint_file

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
        click.echo(f"已检查 {len(files)} 个规则包：{errors} 个错误，{warnings} 个警告，{notes} 个提示，{ignored} 个已忽略"
                   if lang == "zh" else
                   f"{len(files)} pack(s) linted: {errors} error(s), {warnings} warning(s), {notes} note(s), "
                   f"{ignored} ignored", err=True)
    failed = has_errors(problems) or (strict and any(p.severity not in ("error", NOTE, IGNORED) for p in problems))
    sys.exit(EXIT["problems"] if failed else EXIT["ok"])


@main.command()
@click.argument("old")
@click.argument("new")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True),
              help="Entities to decide with both versions (repeatable).")
@click.option("--as-of", "as_of", help="Decide as on this date (YYYY-MM-DD); default today.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--engine", type=click.Choice(ENGINES), default="durable", show_default=True)
@click.option("--fail-on-change", is_flag=True, help="Exit 1 when any entity changes outcome (scoring: rank or award).")
@click.option("--output", "-o", type=click.Path(), help="Write to this file instead of standard output.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the summary and messages (the JSON is the same in both).")
def diff(old: str, new: str, data: tuple[str, ...], as_of: str | None, fmt: str, engine: str,
         fail_on_change: bool, output: str | None, lang: str = "zh") -> None:
    """The impact of an edit: decide DATA with two versions of a pack (paths, or git REV:PATH such
    as HEAD~1:rules/pack.yaml) and explain which entities change outcome and why."""
    from engine.diff import DIFF_RENDERERS, DiffSourceError, diff_files

    date = _as_of(as_of)
    try:
        result = diff_files(old, new, data, date, engine)
    except DiffSourceError as error:
        raise click.UsageError(str(error))
    except ProblemsError as error:
        PROBLEM_RENDERERS["text"](error.problems, sys.stderr, lang)
        click.echo("规则包的某个版本有错误，未作比较" if lang == "zh" else
                   "a version of the rule pack has errors; nothing was compared", err=True)
        sys.exit(EXIT["bad_pack"])
    except DecisionError as error:
        click.echo(f"decision engine fault: {error}", err=True)
        sys.exit(EXIT["engine"])
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            DIFF_RENDERERS[fmt](result, handle, lang)
    else:
        DIFF_RENDERERS[fmt](result, sys.stdout, lang)
    counts = result["counts"]  # scoring packs: a changed rank or award counts as a changed outcome
    changed = counts.get("outcome_changed", counts.get("rank_changed", 0) + counts.get("award_changed", 0))
    sys.exit(EXIT["problems"] if (fail_on_change and changed) else EXIT["ok"])


@main.command()
@click.option("--rules", "pack_path", required=True, type=click.Path(), help="The scoring pack (YAML, kind: scoring).")
@click.argument("data", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--as-of", "as_of", help="Evaluate as on this date (YYYY-MM-DD); default today.")
@click.option("--engine", type=click.Choice(ENGINES), default="durable", show_default=True)
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Override a parameter or scoring setting, e.g. awards.key_development.1=700万元, "
                   "sales_growth_rank.weight=50%, '*.step=1', choices.award_pass_down=false.")
@click.option("--overrides", "override_files", multiple=True, type=click.Path(), help="YAML file of name: value overrides.")
@click.option("--output", "-o", type=click.Path(), help="Write to this file instead of standard output.")
@click.option("--full", is_flag=True, help="Text: after the tables, every entity's points item by item.")
@data_read_options
def score(pack_path: str, data: tuple[str, ...], fmt: str, lang: str, as_of: str | None, engine: str,
          output: str | None, sets: tuple[str, ...] = (), override_files: tuple[str, ...] = (),
          full: bool = False) -> None:
    """Score, rank and award every entity in DATA with a scoring pack (one cohort per type)."""
    from engine.scoring_report import render_score_csv, render_score_json, render_score_text

    date = _as_of(as_of)
    overrides = _overrides(sets, override_files)
    pack = _load_scoring(pack_path, date, overrides)
    problems: list[Any] = []
    result = _score_files(pack, data, engine, problems)
    out = open(output, "w", encoding="utf-8", newline="" if fmt == "csv" else None) if output else sys.stdout
    try:
        if fmt == "json":
            render_score_json(result, problems, out)
        elif fmt == "csv":
            render_score_csv(result, out, lang)
        else:
            render_score_text(result, out, lang, pack.meta.title, view="full" if full else "short")
    finally:
        if output:
            out.close()
    if problems:
        PROBLEM_RENDERERS["text"](problems, sys.stderr)
    sys.exit(EXIT["bad_data"] if has_errors(problems) else EXIT["ok"])


@main.command()
@click.option("--output", "-o", type=click.Path(), help="Write the schema here instead of standard output.")
def schema(output: str | None) -> None:
    """Print the JSON Schema of the rule pack format (for editors and CI)."""
    from engine.validate import schema as pack_schema

    text = json.dumps(pack_schema(), ensure_ascii=False, indent=2) + "\n"
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)


def run() -> None:  # console-script entry point: turn our own errors into messages, not traces
    try:
        main()
    except EngineError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT["problems"])


if __name__ == "__main__":
    run()
