"""`certify evaluate --rules PACK DATA...`: decide every entity; text, JSON, CSV or XLSX.
Ends with the rows read, decided and refused on stderr; exit 3 when any row was refused or had
bad data, 4 when the pack has errors (nothing decided)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.commands.cluster import cluster_pool
from engine.commands.common import UsageError, data_files, finish, overrides, pack2, parse_as_of, say, worker_processes
from engine.evaluate.cluster import ClusterPool
from engine.core.files import STDOUT, check_output, open_output, output_path
from engine.evaluate.pipeline import RowCounts, cohort_workers, decide_files2
from engine.explain.whatif2 import annotate_what_it_takes
from engine.load.data import ReadOptions
from engine.report.format2_views import render_text2, write_csv2
from engine.report.compact import render_compact2, render_full2, stream_compact_json2, write_decisions2
from engine.report.parquet import ParquetColumns, render_row2, write_parquet
from engine.report.xlsx2 import write_xlsx2


def run_evaluate(pack_path: str, data: tuple[str, ...], as_of: str | None, fmt: str, lang: str, engine: str,
                 sets: tuple[str, ...], override_files: tuple[str, ...], output: str | None, workers: int,
                 what_it_takes: bool, input_format: str | None, view: str | None, read: ReadOptions,
                 trace: str = "full", cluster: str | None = None) -> int:
    # --cluster: the Dask cluster (engine.commands.cluster), connected to only when a batch is sent to it
    with cluster_pool(cluster, workers, lang) as pool:
        return _evaluate(pack_path, data, as_of, fmt, lang, engine, sets, override_files, output, workers,
                         what_it_takes, input_format, view, read, trace, pool)


def _evaluate(pack_path: str, data: tuple[str, ...], as_of: str | None, fmt: str, lang: str, engine: str,
              sets: tuple[str, ...], override_files: tuple[str, ...], output: str | None, workers: int,
              what_it_takes: bool, input_format: str | None, view: str | None, read: ReadOptions,
              trace: str, pool: ClusterPool | None) -> int:
    check_output(output)  # before any work: a batch must not be decided only to be lost
    if fmt in ("xlsx", "parquet") and not output:
        raise UsageError(f"--format {fmt} writes a file: add -o FILE.{fmt} (or -o - for standard output)")
    if trace == "compact" and fmt not in ("json", "parquet"):
        raise UsageError("--trace compact is for --format json (and parquet, which is always compact)",
                         param_hint="--trace")
    if fmt == "parquet":
        trace = "compact"  # the decisions table is made from compact records (engine.report.parquet)
    date = parse_as_of(as_of, lang)
    table = overrides(sets, override_files, lang)
    # every pack is decided by the format-2 pipeline; a format-1 pack is converted on load (W264)
    return _evaluate2(pack_path, data, date, table, fmt, lang, engine, output, workers, what_it_takes,
                      input_format, view, read, trace, pool)


def _evaluate2(pack_path: str, data: tuple[str, ...], date: dt.date, table: dict[str, Any], fmt: str, lang: str,
               engine: str, output: str | None, workers: int, what_it_takes: bool, input_format: str | None,
               view: str | None, read: ReadOptions, trace: str = "full", pool: ClusterPool | None = None) -> int:
    """`certify evaluate` on a format-2 pack: text (zh/en), JSON (full or compact), CSV, XLSX or
    Parquet, with --what-it-takes (engine.explain.whatif2), --workers and --cluster (a ranked batch is
    decided in one process: said on stderr)."""
    pack = pack2(pack_path, date, table, lang)
    problems: list[Any] = []
    counts = RowCounts()
    if fmt in ("json", "parquet"):
        # streamed: each decision is encoded (or made a table row) where it was decided, a worker
        # process with --workers, and written as it comes; memory stays flat however large the batch
        render = render_row2 if fmt == "parquet" else render_compact2 if trace == "compact" else render_full2
        stream = decide2_stream(pack, data_files(data, input_format), engine, problems, read, counts, workers, lang,
                                pool, render=render, what_it_takes=what_it_takes and fmt == "json")
        if fmt == "parquet":
            assert output
            with output_path(output) as tmp:
                write_parquet(stream, ParquetColumns.of2(pack), tmp, pack=pack)
        else:
            with open_output(output) as out:
                (stream_compact_json2 if trace == "compact" else write_decisions2)(stream, problems, out, rows=counts)
        return finish(problems, counts, lang)
    records, suggestions = decide2(pack, data_files(data, input_format), engine, problems, read, counts,
                                   workers, what_it_takes, lang, pool)
    if fmt == "xlsx":
        assert output
        with output_path(output) as tmp:
            write_xlsx2(records, pack, tmp, lang, suggestions)
        return finish(problems, counts, lang)
    with open_output(output, newline="" if fmt == "csv" else None) as out:
        if fmt == "csv":
            write_csv2(records, pack, out, lang, bom=bool(output) and output != STDOUT)
        else:
            render_text2(records, pack, out, lang, view=view or "auto", suggestions=suggestions)
    return finish(problems, counts, lang)


def decide2_stream(pack: Any, files: list[str], engine: str, problems: list[Any], read: ReadOptions,
                   counts: RowCounts, workers: int, lang: str, pool: ClusterPool | None = None,
                   render: Any = None, what_it_takes: bool = False) -> Any:
    """A format-2 batch's records as they are decided, or what `render` makes of each (not held: a
    JSON document or a Parquet table is written as they come)."""
    count = worker_processes(workers, lang)
    _say_cohort(pack, count, lang, pool)
    return decide_files2(pack, files, engine, problems, read=read, counts=counts, workers=count, cluster=pool,
                         annotate=annotate_what_it_takes if what_it_takes else None, render=render)


def _say_cohort(pack: Any, count: int, lang: str, pool: ClusterPool | None = None) -> None:
    if cohort_workers(pack, count) or (pool is not None and pack.cohort()):
        say("注意: 本规则包对整批对象排名，在一个进程中判定" if lang == "zh" else
            "note: this pack ranks the whole batch; it is decided in one process")


def decide2(pack: Any, files: list[str], engine: str, problems: list[Any], read: ReadOptions, counts: RowCounts,
            workers: int, what_it_takes: bool, lang: str,
            pool: ClusterPool | None = None) -> tuple[list[Any], dict[str, Any] | None]:
    """A format-2 batch decided (in `workers` processes, or on the cluster `pool`, unless it is ranked),
    with the suggestions of what it would take by entity id when asked (else None)."""
    count = worker_processes(workers, lang)
    _say_cohort(pack, count, lang, pool)
    annotate = annotate_what_it_takes if what_it_takes else None
    items = list(decide_files2(pack, files, engine, problems, read=read, counts=counts, workers=count, annotate=annotate,
                               cluster=pool))
    if annotate is None:
        return items, None
    return [r for r, _ in items], {r.entity_id: s for r, s in items if s is not None}
