"""`certify score --rules PACK DATA...`: score, rank and award every entity with a scoring pack
(one cohort per type); text, JSON or CSV."""

from __future__ import annotations

from typing import Any

from engine.commands.common import data_files, finish, overrides, parse_as_of, scoring_pack
from engine.core.files import check_output, open_output
from engine.commands.score2 import run_score2
from engine.evaluate.pipeline import RowCounts, pack_format
from engine.explain.scoring import score_files
from engine.load.data import ReadOptions
from engine.report.scoring_pages import SCORE_RENDERERS, ScoreView


def run_score(pack_path: str, data: tuple[str, ...], fmt: str, lang: str, as_of: str | None, engine: str,
              output: str | None, sets: tuple[str, ...], override_files: tuple[str, ...],
              input_format: str | None, full: bool, read: ReadOptions) -> int:
    check_output(output)
    date = parse_as_of(as_of, lang)
    table = overrides(sets, override_files, lang)
    if pack_format(pack_path) == 2:  # points, ranks and awards are values of a format-2 pack
        return run_score2(pack_path, data, date, table, fmt, lang, engine, output, input_format, full, read)
    pack = scoring_pack(pack_path, date, table, lang)
    problems: list[Any] = []
    counts = RowCounts()
    result = score_files(pack, data_files(data, input_format), engine, problems, read=read, counts=counts)
    view = ScoreView(lang, pack.meta.title, problems=problems, counts=counts.as_dict(), full=full)
    with open_output(output, newline="" if fmt == "csv" else None) as out:
        SCORE_RENDERERS[fmt if fmt in ("json", "csv") else "text"](result, out, view)
    return finish(problems, counts, lang)
