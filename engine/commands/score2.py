"""`certify score --rules PACK DATA...` on a format-2 pack: the ranking by group with each
indicator's points, the award, vetoes and consequences (engine.report.score2); text, JSON or CSV.
A format-1 scoring pack is engine.commands.score."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.commands.common import data_files, finish, pack2
from engine.core.files import open_output
from engine.evaluate.pipeline import RowCounts, decide_files2
from engine.load.data import ReadOptions
from engine.report.score2 import render_score_csv2, render_score_text2, write_score_json2


def run_score2(pack_path: str, data: tuple[str, ...], date: dt.date, table: dict[str, Any], fmt: str, lang: str,
               engine: str, output: str | None, input_format: str | None, full: bool, read: ReadOptions) -> int:
    pack = pack2(pack_path, date, table, lang)
    problems: list[Any] = []
    counts = RowCounts()
    records = list(decide_files2(pack, data_files(data, input_format), engine, problems, read=read, counts=counts))
    with open_output(output, newline="" if fmt == "csv" else None) as out:
        if fmt == "csv":
            render_score_csv2(records, pack, out, lang)
        elif fmt == "json":
            write_score_json2(records, pack, problems, out, rows=counts)
        else:
            render_score_text2(records, pack, out, lang, full=full)
    return finish(problems, counts, lang)
