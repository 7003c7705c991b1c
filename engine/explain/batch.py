"""Batches decided and explained: every entity of the data files, in input order, in one process
or several. Each entity is normalised and decided (engine.evaluate) and its decision record
written with reasons (engine.explain.records), optionally with what it would take to pass
(engine.explain.whatif). Loading the pack, reading the data and counting rows are in
engine.evaluate.pipeline (see its docstring for how rows are counted).
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import signal
from collections import deque
from typing import Any, Callable, Iterable, Iterator

from engine.compile.model import CompiledPack
from engine.core.problems import Problem
from engine.evaluate.cluster import ClusterPool
from engine.evaluate.evaluate import Decider
from engine.evaluate.normalize import normalise
from engine.evaluate.pipeline import RowCounts, entities, worker_count
from engine.explain.compact import CompactExplainer
from engine.explain.records import Explainer
from engine.explain.whatif import what_it_takes as _what_it_takes
from engine.load.data import ReadOptions


def _decide_chunk(state: dict[str, Any], chunk: list[Any]) -> list[tuple[dict[str, Any], list[Problem]]]:
    decider, explainer, pack = state["decider"], state["explainer"], state["pack"]
    out = []
    for entity, where in chunk:
        normalised = normalise(pack, entity)
        verdict = decider.decide(normalised.values)
        if isinstance(explainer, CompactExplainer):  # --trace compact (engine.explain.compact)
            record = explainer.compact(entity.id, entity.name, entity.fields, normalised, verdict, where)
        else:
            record = explainer.explain(entity.id, entity.name, entity.fields, normalised, verdict, where)
        if entity.expect is not None:
            record["_expect"] = entity.expect
        if state.get("what_it_takes") and record["outcome"] != "pass":
            # the smallest verified changes that would make it pass
            record["what_it_takes"] = _what_it_takes(pack, normalised.values)
        render = state.get("render")
        out.append((render(record) if render else record, normalised.problems))
    return out


_WORKER: dict[str, Any] = {}
IN_FLIGHT_PER_WORKER = 3  # chunks queued per worker: enough to keep it busy, bounded memory


def _explainer(pack: CompiledPack, engine: str, trace: str) -> Explainer | CompactExplainer:
    return CompactExplainer(pack, engine) if trace == "compact" else Explainer(pack, engine)


def _state(pack: CompiledPack, engine: str, what_it_takes: bool = False, render: Any = None,
           decider: Decider | None = None, trace: str = "full") -> dict[str, Any]:
    # One durable Host per worker process: durable-rules is not safe to share across processes.
    return {"pack": pack, "decider": decider or Decider(pack, engine), "explainer": _explainer(pack, engine, trace),
            "what_it_takes": what_it_takes, "render": render}


def _worker_init(pack: CompiledPack, engine: str, what_it_takes: bool = False, render: Any = None,
                 trace: str = "full") -> None:
    # The parent handles SIGINT (a terminal sends it to the whole group) and stops the pool with
    # SIGTERM, which must simply end a worker (the parent's handler was inherited by fork).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _WORKER.update(_state(pack, engine, what_it_takes, render, trace=trace))


def _worker_run(chunk: list[Any]) -> list[tuple[dict[str, Any], list[Problem]]]:
    return _decide_chunk(_WORKER, chunk)


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def decide_files(pack: CompiledPack, files: Iterable[str], engine: str = "durable",
                 problems: list[Problem] | None = None, workers: int = 1,
                 chunk_size: int = 256, what_it_takes: bool = False,
                 render: Callable[[dict[str, Any]], Any] | None = None,
                 read: ReadOptions | None = None, counts: RowCounts | None = None,
                 decider: Decider | None = None, trace: str = "full",
                 cluster: ClusterPool | None = None) -> Iterator[Any]:
    """Decide every entity in `files`, in input order; problems are appended to `problems`.

    A file that cannot be read is reported and skipped; a row that cannot be used is reported
    and skipped; every other entity is decided. With `workers` > 1 the entities are decided in
    that many processes (0 = one per core), each with its own durable Host; the records come
    back in input order and are identical to a single-process run. With `what_it_takes`, each
    record that does not pass gets a "what_it_takes" key (see `engine.explain.whatif`). With `render`
    (a module-level function, so worker processes can use it) each record is rendered where it
    was decided and the rendered value is yielded: sending text back from a worker is far
    cheaper than sending the record. `read` sets the data files' encoding and whether unknown
    columns that look like misspelt inputs are allowed; columns are checked against `pack`.
    Rows read, decided and refused are added to `counts`. `trace="compact"` makes compact records
    (engine.explain.compact) instead of full ones. With `cluster` (engine.evaluate.cluster) the
    chunks are decided on a Dask cluster instead, with the same records in the same order.
    """
    problems = problems if problems is not None else []
    counts = counts if counts is not None else RowCounts()
    entities_iter = entities(files, problems, dataclasses.replace(read or ReadOptions(), pack=pack), counts)
    workers = worker_count(workers)[0]
    if cluster is not None:
        results = cluster.ordered(_state, (pack, engine, what_it_takes, render, None, trace), _decide_chunk,
                                  _chunks(entities_iter, cluster.partition_size))
        yield from _take(results, problems, counts)
        return
    if workers <= 1:
        # `decider`: one kept by a long-running caller (certify serve): registering the ruleset costs ~0.1 s
        state = _state(pack, engine, what_it_takes, render, decider, trace)
        yield from _take((_decide_chunk(state, chunk) for chunk in _chunks(entities_iter, chunk_size)),
                         problems, counts)
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    # At most a few chunks per worker in flight: Pool.imap would read the whole input ahead and
    # hold every finished result, so memory would grow with the batch.
    limit = IN_FLIGHT_PER_WORKER * workers
    with mp.get_context(method).Pool(workers, _worker_init, (pack, engine, what_it_takes, render, trace)) as pool:
        pending: deque[Any] = deque()
        for chunk in _chunks(entities_iter, chunk_size):
            pending.append(pool.apply_async(_worker_run, (chunk,)))
            while len(pending) >= limit:
                yield from _take([pending.popleft().get()], problems, counts)
        while pending:
            yield from _take([pending.popleft().get()], problems, counts)


def _take(results: Iterable[list[tuple[Any, list[Problem]]]], problems: list[Problem],
          counts: RowCounts) -> Iterator[Any]:
    """The records of decided chunks, in order, their problems kept and their rows counted."""
    for result in results:
        for record, found in result:
            problems.extend(found)
            counts.decided += 1
            yield record


# ---------------------------------------------------------------------------------------------
# Format 2 (docs/format2.md): one pack, evaluated in phases over the whole batch
