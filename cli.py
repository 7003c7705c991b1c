"""Command line: `certify validate | evaluate | report | score | test | lint | diff | schema | migrate | serve | log | replay`.

This module only parses: each click function reads its options and calls one `run_<command>`
function of engine/commands/<command>.py (`serve`: engine/web/app.py), which does the work and returns the exit code (README
"Exit codes", `EXIT`). `_command` turns the errors every command can meet into messages and codes:
a command line the command refuses (`UsageError`, click's usage message, exit 2), an output that
cannot be written (E170-E173, exit 2), a fault of the decision engine (exit 5). SIGINT / SIGTERM
end the run with 130 / 143, temporary files removed and workers stopped
(engine.core.files.install_signal_handlers).

Streams: with a machine format (`--format json`, `csv`, …) standard output carries only that
format; banners, warnings, progress, problems and counts go to standard error.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, NoReturn

import click

from engine import ENGINE_VERSION
from engine.commands.audit import OUTCOMES, Selection, run_log, run_replay
from engine.commands.common import EXIT, Stop, UsageError, say
from engine.commands.diff2 import run_diff_any as run_diff  # format 2 or 1, by the versions' format
from engine.commands.evaluate import run_evaluate
from engine.commands.explain import run_explain
from engine.commands.lint import run_lint
from engine.commands.migrate import run_migrate
from engine.commands.report import run_report
from engine.commands.schema import run_schema
from engine.commands.score import run_score
from engine.commands.test import run_test
from engine.commands.validate import run_validate
from engine.core.files import OutputError, install_signal_handlers
from engine.core.problems import DecisionError, EngineError
from engine.evaluate.run2 import ENGINES
from engine.evaluate.pipeline import INPUT_FORMATS
from engine.load.data import ReadOptions
from engine.report.problems import PROBLEM_RENDERERS
from engine.web.app import serve as run_serve
from engine.web.guard import Limits

__all__ = ["EXIT", "main", "run"]


def _command(work: Callable[..., int], lang: str = "en", /, **options: Any) -> NoReturn:
    """Run one command's work function and exit with its code; errors become messages."""
    try:
        code = work(**options)
    except Stop as stop:
        code = stop.code
    except UsageError as error:  # click prints the usage line and exits 2
        if error.param_hint:
            raise click.BadParameter(error.message, param_hint=error.param_hint)
        raise click.UsageError(error.message)
    except OutputError as error:
        say(error.problem.format(lang))
        code = EXIT["usage"]
    except DecisionError as error:
        say(f"decision engine fault: {error}")
        code = EXIT["engine"]
    sys.exit(code)


# ---------------------------------------------------------------------------------------------
# Options shared by several commands


def _store_read_option(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    ctx.meta.setdefault("read_options", {})[param.name] = value


def data_read_options(command: Any) -> Any:
    """--encoding and --allow-unknown-columns for a command that reads data files; the values
    reach the command through `_read_options()`, so the click function's signature is unchanged."""
    command = click.option("--allow-unknown-columns", "allow_unknown_columns", is_flag=True, expose_value=False,
                           callback=_store_read_option,
                           help="Accept a column that looks like a misspelt input (a warning, not an error).")(command)
    return click.option("--encoding", "encoding", metavar="CODEC", expose_value=False, callback=_store_read_option,
                        help="Encoding of CSV/JSON/YAML data files (utf-8, gbk, gb18030, big5, …); "
                             "default: UTF-8, or GBK/GB18030 when that reads as plausible Chinese.")(command)


def _read_options() -> ReadOptions:
    found = click.get_current_context().meta.get("read_options", {})
    return ReadOptions(encoding=found.get("encoding") or None,
                       allow_unknown_columns=bool(found.get("allow_unknown_columns")))


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


# ---------------------------------------------------------------------------------------------
# evaluate


@main.command()
@click.option("--rules", "pack_path", required=True, type=click.Path(), help="The rule pack (YAML).")
@click.argument("data", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--as-of", "as_of", help=_AS_OF_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "xlsx", "parquet"]), default="text",
              show_default=True, help="csv / xlsx / parquet: one row per entity, a column per criterion (xlsx and "
              "parquet need -o).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--engine", type=click.Choice(ENGINES), default="durable", show_default=True,
              help="durable decides; reference is the plain-Python check.")
@click.option("--trace", type=click.Choice(["full", "compact"]), default="full", show_default=True,
              help="JSON records: full, or compact (criteria by id; titles, citations and labels left to the pack, "
              "named by its sha256; certify explain expands them).")
@click.option("--what-it-takes", "what_it_takes", is_flag=True,
              help="Add to each record that does not pass the smallest changes that would make it pass.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a parameter, e.g. manufacturing_output_min=8亿元.")
@click.option("--overrides", "override_files", multiple=True, type=click.Path(), help="YAML file of parameter: value overrides.")
@click.option("--output", "-o", type=click.Path(allow_dash=True), help=_OUTPUT_HELP)
@click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True, help=_WORKERS_HELP)
@click.option("--cluster", metavar="local|ADDRESS",
              help="Decide on a Dask cluster: 'local' starts one on this machine (one worker process per CPU, "
                   "or --workers N), tcp://host:8786 uses a running scheduler's workers; same output as one process.")
@_INPUT_FORMAT
@click.option("--full", "view", flag_value="full",
              help="Text: every criterion with its value, threshold and gap (the default for a single entity).")
@click.option("--summary", "view", flag_value="short",
              help="Text: one line per entity with its headline reason (the default for a batch).")
@data_read_options
def evaluate(pack_path: str, data: tuple[str, ...], as_of: str | None, fmt: str, lang: str, engine: str,
             sets: tuple[str, ...], override_files: tuple[str, ...], output: str | None, workers: int,
             what_it_takes: bool = False, input_format: str | None = None, view: str | None = None,
             trace: str = "full", cluster: str | None = None) -> None:
    """Decide every entity in DATA with the rule pack. DATA: YAML, JSON, CSV or XLSX files; '-' reads
    standard input (format: --input-format, else sniffed). Ends with the rows read, decided and
    refused on stderr; exit 3 when any row was refused or had bad data."""
    _command(run_evaluate, lang, pack_path=pack_path, data=data, as_of=as_of, fmt=fmt, lang=lang, engine=engine,
             sets=sets, override_files=override_files, output=output, workers=workers,
             what_it_takes=what_it_takes, input_format=input_format, view=view, read=_read_options(), trace=trace,
             cluster=cluster)


# ---------------------------------------------------------------------------------------------
# explain


@main.command()
@click.argument("records", type=click.Path(allow_dash=True))
@click.option("--rules", "pack_path", required=True, type=click.Path(), help="The rule pack the records name.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Format 2: the parameter overrides the batch was decided with (its records do not list them).")
@click.option("--output", "-o", type=click.Path(allow_dash=True), help=_OUTPUT_HELP)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def explain(records: str, pack_path: str, sets: tuple[str, ...], output: str | None, lang: str) -> None:
    """Expand compact decision records (certify evaluate --trace compact) to the full JSON records,
    with the pack they name (its sha256 must match)."""
    _command(run_explain, lang, records=records, pack_path=pack_path, sets=sets, output=output, lang=lang)


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
             sources=sources, workers=workers, input_format=input_format, read=_read_options())


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


# ---------------------------------------------------------------------------------------------
# score


@main.command()
@click.option("--rules", "pack_path", required=True, type=click.Path(), help="The scoring pack (YAML: format 1 kind: scoring, or a format-2 pack with points and a rank).")
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
             output=output, sets=sets, override_files=override_files, input_format=input_format, full=full,
             read=_read_options())


# ---------------------------------------------------------------------------------------------
# schema


@main.command()
@click.option("--output", "-o", type=click.Path(allow_dash=True), help=_OUTPUT_HELP)
@click.option("--pack-format", type=click.Choice(["1", "2"]), default="1", show_default=True,
              help="Which pack format: 1, or 2 (the schema of engine/validate/schema/rulepack2.schema.json).")
def schema(output: str | None, pack_format: str) -> None:
    """Print the JSON Schema of the rule pack format (for editors and CI)."""
    _command(run_schema, output=output, pack_format=int(pack_format))


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
@click.option("--users", "users_file", type=click.Path(dir_okay=False, exists=True), envvar="CERTIFY_USERS",
              help="Configured users (env CERTIFY_USERS): a YAML file `users: {NAME: {token_sha256: HEX}}`; every "
                   "request then needs one user's token, and the decision log names that user as whom it went to.")
@click.option("--max-upload-mb", "max_upload_mb", type=click.IntRange(min=1), default=20, show_default=True,
              help="Largest request body (an uploaded data file), in MiB.")
@click.option("--max-rows", "max_rows", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="Most rows (entities) one request may decide.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--log", "log_url", envvar="CERTIFY_LOG_URL", metavar="URL",
              help="Decision log: sqlite:///PATH or postgresql://USER@HOST/DB (env CERTIFY_LOG_URL; "
                   "default: decisions.sqlite in the data folder). Every decision handed out is logged.")
@click.option("--data-dir", "data_dir", type=click.Path(file_okay=False),
              help="The data folder: the default decision log, and the batches the pages decided, kept so that "
                   "they survive a restart (env CERTIFY_DATA; default ./data).")
@click.option("--keep-batches", "keep_batches", type=click.IntRange(min=1), default=50, show_default=True,
              help="Most batches kept in the data folder (the oldest go first; 512 MiB at most together).")
@click.option("--batch-days", "batch_days", type=click.IntRange(min=1), default=7, show_default=True,
              help="Days a kept batch is kept.")
def serve(host: str, port: int, packs: str, token: str | None, max_upload_mb: int, max_rows: int, lang: str,
          log_url: str | None = None, data_dir: str | None = None, keep_batches: int = 50, batch_days: int = 7,
          users_file: str | None = None) -> None:
    """The officer's workbench: a local web app and the HTTP API (/api/v1, OpenAPI at /api/v1/openapi.json)."""
    _command(run_serve, lang, host=host, port=port, packs=packs, token=token,
             limits=Limits(max_body=max_upload_mb * 1024 * 1024, max_rows=max_rows), lang=lang, log_url=log_url,
             data_dir=data_dir, keep_batches=keep_batches, batch_days=batch_days, users_file=users_file)


# ---------------------------------------------------------------------------------------------
# log, replay: the decision log (engine/audit)


def _log_options(command: Any) -> Any:
    """--db, --data-dir and the filters `certify log` and `certify replay` share."""
    for option in reversed([
        click.option("--db", envvar="CERTIFY_LOG_URL", metavar="URL",
                     help="The decision log: sqlite:///PATH or postgresql://USER@HOST/DB (env CERTIFY_LOG_URL); "
                          "default: decisions.sqlite in the data folder."),
        click.option("--data-dir", "data_dir", type=click.Path(file_okay=False),
                     help="The data folder (env CERTIFY_DATA; default ./data)."),
        click.option("--pack", "pack", metavar="ID", help="Only decisions made with this pack id."),
        click.option("--entity", "entity", metavar="ID", help="Only decisions about this entity id."),
        click.option("--outcome", type=click.Choice(OUTCOMES), help="Only decisions with this outcome."),
        click.option("--who", metavar="WHO", help="Only decisions handed to this person or client."),
        click.option("--as-of", "as_of", metavar="DATE", help="Only decisions made as of this date (YYYY-MM-DD)."),
        click.option("--since", metavar="TIME", help="Only decisions logged at or after this date or time (UTC "
                                                      "unless a zone is written: 2024-06-30T08:00+08:00)."),
        click.option("--until", metavar="TIME", help="Only decisions logged before this date or time."),
        click.option("--limit", type=int, metavar="N", help="Only the newest N of them."),
        click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True),
    ]):
        command = option(command)
    return command


@main.command("log")
@_log_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--records", is_flag=True, help="JSON: each entry with its full decision record and input.")
def log_command(db: str | None, data_dir: str | None, pack: str | None, entity: str | None, outcome: str | None,
                who: str | None, as_of: str | None, since: str | None, until: str | None, limit: int | None,
                lang: str, fmt: str, records: bool) -> None:
    """List the decisions handed out (the decision log), oldest first; filters narrow it."""
    selection = Selection(pack, entity, outcome, who, as_of, since, until, limit)
    _command(run_log, lang, db=db, data_dir=data_dir, selection=selection, fmt=fmt, records=records, lang=lang,
             out=sys.stdout, err=sys.stderr)


@main.command()
@_log_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def replay(db: str | None, data_dir: str | None, pack: str | None, entity: str | None, outcome: str | None,
           who: str | None, as_of: str | None, since: str | None, until: str | None, limit: int | None,
           lang: str, fmt: str) -> None:
    """Decide logged decisions again, from the pack text, date, overrides and input the log kept;
    names each that no longer reproduces (E242) or cannot be replayed (E243). Exit 0 when every
    one reproduces, 1 otherwise."""
    selection = Selection(pack, entity, outcome, who, as_of, since, until, limit)
    _command(run_replay, lang, db=db, data_dir=data_dir, selection=selection, fmt=fmt, lang=lang,
             out=sys.stdout, err=sys.stderr)


def run() -> None:  # console-script entry point: turn our own errors into messages, not traces
    install_signal_handlers()
    try:
        main()
    except EngineError as error:
        say(f"error: {error}")
        sys.exit(EXIT["problems"])


if __name__ == "__main__":
    run()
