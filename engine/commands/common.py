"""What every command shares: exit codes, messages on standard error, and the steps that end a
command early (a pack with errors, a bad --set, a refused --as-of).

A command is one function `run_<command>(...) -> int` in engine/commands/<command>.py; it returns
the exit code (README "Exit codes", `EXIT`). cli.py only parses the command line and calls it.
Nothing here knows about click: a command line error is `UsageError`, which cli.py turns into
click's own usage message (exit 2); `Stop` ends a command whose messages are already on stderr.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Any, NoReturn

from engine.core.problems import EngineError, ProblemsError, has_errors
from engine.evaluate.pipeline import STDIN, RowCounts, load_pack2, parse_overrides, spool_stdin, worker_count
from engine.report.problems import PROBLEM_RENDERERS

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


class UsageError(EngineError):
    """The command line asks for something that cannot be done (exit 2, with the usage line).
    `param_hint` names the option at fault (e.g. "--as-of"), when there is one."""

    def __init__(self, message: str, param_hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.param_hint = param_hint


def say(message: str) -> None:
    """A message for the person at the terminal: standard error, never mixed into the output."""
    print(message, file=sys.stderr, flush=True)


def stop(code: str, message: str = "") -> NoReturn:
    if message:
        say(message)
    raise Stop(EXIT[code])


def show_problems(problems: list[Any], lang: str) -> None:
    PROBLEM_RENDERERS["text"](problems, sys.stderr, lang)


def overrides(sets: tuple[str, ...], files: tuple[str, ...], lang: str = "en") -> dict[str, Any]:
    """--set and --overrides as one table; a malformed one is a usage error (exit 2)."""
    try:
        return parse_overrides(sets, files)
    except ValueError as error:
        raise UsageError(str(error))
    except ProblemsError as error:
        show_problems(error.problems, lang)
        stop("usage")


def _only_overrides(problems: list[Any], pack_path: str) -> bool:
    """True when every problem is in an override (--set or an --overrides file), none in the pack."""
    return bool(problems) and all(os.path.abspath(p.file) != os.path.abspath(pack_path) for p in problems)


def _refused(error: ProblemsError, path: str, lang: str, done_zh: str = "判定", done_en: str = "decided") -> NoReturn:
    """A pack (or its overrides) with errors: the problems, then exit 2 (overrides) or 4 (the pack)."""
    show_problems(error.problems, lang)
    if _only_overrides(error.problems, path):  # the pack is fine; the command line is not
        stop("usage", f"--set / --overrides 有错误，未作{done_zh}" if lang == "zh" else
             f"--set / --overrides has errors; nothing was {done_en}")
    stop("bad_pack", f"规则包 {path} 有错误，未作{done_zh}" if lang == "zh" else
         f"the rule pack {path} has errors; nothing was {done_en}")


def pack2(path: str, date: dt.date, overrides: dict[str, Any], lang: str = "en") -> Any:
    """The compiled pack (a format-1 pack converted on load, W264), or its problems on stderr and
    exit 4 (nothing is decided)."""
    try:
        pack = load_pack2(path, date, overrides)
    except ProblemsError as error:
        _refused(error, path, lang)
    if pack.warnings:
        show_problems(pack.warnings, lang)
    return pack


def parse_as_of(value: str | None, lang: str = "en") -> dt.date:
    """The --as-of date; defaulted to today with a warning naming the date (decisions depend on it)."""
    if value is None:
        today = dt.date.today()
        say(f"警告: 未给出 --as-of, 按今天 {today.isoformat()} 判定" if lang == "zh" else
            f"warning: no --as-of given; deciding as of today, {today.isoformat()}")
        return today
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{value!r} is not a date; write it as 2024-01-01", param_hint="--as-of")


def worker_processes(requested: int, lang: str = "en") -> int:
    count, capped = worker_count(requested)
    if capped:
        say(f"警告: --workers {requested} 超过可用的 {count} 个 CPU, 按 {count} 个进程判定" if lang == "zh" else
            f"warning: --workers {requested} is more than the {count} CPU(s) available; using {count}")
    return count


def data_files(data: tuple[str, ...], input_format: str | None) -> list[str]:
    """DATA arguments, with `-` (standard input, at most once) spooled to a file of its format."""
    if list(data).count(STDIN) > 1:
        raise UsageError("'-' (standard input) can be given once")
    return [spool_stdin(input_format) if file == STDIN else file for file in data]


def finish(problems: list[Any], counts: RowCounts, lang: str) -> int:
    """Problems and the row counts on stderr; exit 3 when any row was refused or had bad data."""
    if problems:
        show_problems(problems, lang)
    say(counts.line(lang))
    return EXIT["bad_data"] if (has_errors(problems) or counts.bad) else EXIT["ok"]
