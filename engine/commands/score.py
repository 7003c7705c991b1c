"""`certify score --rules PACK DATA...`: score, rank and award every entity with a scoring pack
(one cohort per type); text, JSON or CSV."""

from __future__ import annotations

from engine.commands.common import overrides, parse_as_of
from engine.core.files import check_output
from engine.commands.score2 import run_score2
from engine.load.data import ReadOptions


def run_score(pack_path: str, data: tuple[str, ...], fmt: str, lang: str, as_of: str | None, engine: str,
              output: str | None, sets: tuple[str, ...], override_files: tuple[str, ...],
              input_format: str | None, full: bool, read: ReadOptions) -> int:
    check_output(output)
    date = parse_as_of(as_of, lang)
    table = overrides(sets, override_files, lang)
    # points, ranks and awards are values of a format-2 pack; a format-1 scoring pack is converted on load (W264)
    return run_score2(pack_path, data, date, table, fmt, lang, engine, output, input_format, full, read)
