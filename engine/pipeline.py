"""The stages in order — load → validate → compile → evaluate → explain — for callers that want
whole results (the CLI, the pack test runner, benchmarks). Rendering is left to `report`.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator

from .compile import CompileError, build, parse_param_value
from .data import ReadOptions, load_entities
from .evaluate import Decider
from .explain import Explainer
from .model import CompiledPack
from .normalize import normalise
from .problems import ERROR, Problem, ProblemsError, clip, has_errors, shown
from .units import AmountError
from .validate import check_document, validate_file
from .yamlsafe import Document, load_yaml_file


def parse_overrides(pairs: Iterable[str], files: Iterable[str] = ()) -> dict[str, tuple[str, Any]]:
    """`name=value` pairs (from --set) and override files ({name: value}) for parameter values."""
    out: dict[str, tuple[str, Any]] = {}
    for file in files:
        doc, _ = load_yaml_file(file)
        if not isinstance(doc.value, dict):
            raise ProblemsError([doc.problem("E112", "an override file maps parameter names to values",
                                             message_zh="覆盖文件应写成 参数名: 数值 的映射")])
        for name, value in doc.value.items():
            out[name] = (file, value)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set expects name=value, such as manufacturing_output_min=8亿元, not {pair!r}")
        out[name.strip()] = ("--set", value.strip())
    return out


def _override_unit_problems(doc: Document, overrides: dict[str, tuple[str, Any]]) -> list[Problem]:
    """An override must measure what its parameter is compared with (8亿元 for money, not 200亩).

    The pack is checked again with the overrides in place of the written values, so an override
    gets exactly the unit checks (E122) a value written in the pack gets.
    """
    params = dict(doc.value.get("parameters") or {})
    for name, (_, value) in overrides.items():
        kept = {k: v for k, v in params[name].items() if k not in ("value", "values", "unset")}
        params[name] = {**kept, "value": value}
    patched = Document(doc.file, {**doc.value, "parameters": params}, doc.positions)
    out = []
    for problem in check_document(patched):
        # units (E122), digits the engine compares exactly (E140), signs (E141), blanks (E143)
        if problem.code not in ("E122", "E140", "E141", "E143"):
            continue
        for name, (origin, value) in overrides.items():
            if f"parameter {name!r}" in problem.message:
                out.append(Problem(origin, 1, 1, problem.code, f"override {name}={shown(str(value))}: {problem.message}",
                                   message_zh=f"覆盖值 {name}={shown(str(value))}：{problem.message_zh or problem.message}"))
                break
    return out


def load_pack(path: str, as_of: dt.date, overrides: dict[str, tuple[str, Any]] | None = None) -> tuple[CompiledPack, list[Problem]]:
    """Validate and compile a pack. Raises ProblemsError if it has errors; returns warnings."""
    doc, raw, problems = validate_file(path)
    if doc is None or has_errors(problems):
        raise ProblemsError(problems)
    if doc.value["pack"]["kind"] == "scoring":
        # A scoring pack's criteria are only a side part of it (ranks and awards are the point);
        # deciding them alone would look like a complete answer. Mirrors `certify score`'s check.
        raise ProblemsError([doc.problem("E112", "this pack is kind: scoring; use certify score "
                                         "(or certify report) to rank and score it", ("pack", "kind"),
                                         message_zh="这是计分类规则包（kind: scoring）；请用 certify score"
                                         "（或 certify report）计分和排名")])
    overrides = overrides or {}
    params = doc.value.get("parameters") or {}
    bad = []
    for name, (origin, value) in overrides.items():
        if name not in params:
            bad.append(Problem(origin, 1, 1, "E120", f"override for unknown parameter {shown(name)} in pack {path}",
                               message_zh=f"覆盖项 {shown(name)} 不是规则包 {path} 中的参数"))
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            bad.append(Problem(origin, 1, 1, "E143", f"override {name}: the value is blank; write a number such as 8亿元",
                               message_zh=f"覆盖值 {name} 为空；请填写数值，如 8亿元"))
            continue
        try:
            parse_param_value(value)
        except AmountError as error:
            bad.append(Problem(origin, 1, 1, "E123", f"override {name}: {clip(error)}",
                               message_zh=f"覆盖值 {name} 无法读取：{shown(value)}；请写成数字加单位，如 8亿元、60%"))
    if not bad and overrides:
        bad = _override_unit_problems(doc, overrides)
    if bad:
        raise ProblemsError(bad)
    try:
        pack = build(doc, raw, as_of, overrides)
    except CompileError as error:
        raise ProblemsError([Problem(path, 1, 1, error.code, str(error), message_zh=error.message_zh)])
    return pack, [p for p in problems if p.severity != ERROR]


@dataclass
class BatchResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unreadable_files: list[str] = field(default_factory=list)
    rejected_rows: int = 0


def _decide_chunk(state: dict[str, Any], chunk: list[Any]) -> list[tuple[dict[str, Any], list[Problem]]]:
    decider, explainer, pack = state["decider"], state["explainer"], state["pack"]
    out = []
    for entity, where in chunk:
        normalised = normalise(pack, entity)
        verdict = decider.decide(normalised.values)
        record = explainer.explain(entity.id, entity.name, entity.fields, normalised, verdict, where)
        if entity.expect is not None:
            record["_expect"] = entity.expect
        if state.get("what_it_takes") and record["outcome"] != "pass":
            from .whatif import what_it_takes  # the smallest verified changes that would make it pass

            record["what_it_takes"] = what_it_takes(pack, normalised.values)
        render = state.get("render")
        out.append((render(record) if render else record, normalised.problems))
    return out


_WORKER: dict[str, Any] = {}
IN_FLIGHT_PER_WORKER = 3  # chunks queued per worker: enough to keep it busy, bounded memory


def _worker_init(pack: CompiledPack, engine: str, what_it_takes: bool = False, render: Any = None) -> None:
    # One durable Host per worker process: durable-rules is not safe to share across processes.
    _WORKER.update(pack=pack, decider=Decider(pack, engine), explainer=Explainer(pack, engine),
                   what_it_takes=what_it_takes, render=render)


def _worker_run(chunk: list[Any]) -> list[tuple[dict[str, Any], list[Problem]]]:
    return _decide_chunk(_WORKER, chunk)


def entities(files: Iterable[str], problems: list[Problem],
             read: ReadOptions | None = None) -> Iterator[tuple[Any, str]]:
    """Every entity in `files` with its file:line, duplicates of an earlier id reported and skipped.
    `read` says how files are read (encoding, the pack whose columns are expected)."""
    seen: dict[str, str] = {}
    for file in files:
        try:
            for entity in load_entities(file, problems, read):
                where = f"{entity.file}:{entity.line}"
                if entity.id in seen:
                    problems.append(Problem(entity.file, entity.line, 1, "E132",
                                            f"duplicate entity id {shown(entity.id)} (first at {seen[entity.id]}); "
                                            "this one is skipped",
                                            message_zh=f"对象编号 {shown(entity.id)} 重复（首次出现在 {seen[entity.id]}）；"
                                            "这一条已跳过"))
                    continue
                seen[entity.id] = where
                yield entity, where
        except ProblemsError as error:
            problems.extend(error.problems)


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
                 read: ReadOptions | None = None) -> Iterator[Any]:
    """Decide every entity in `files`, in input order; problems are appended to `problems`.

    A file that cannot be read is reported and skipped; a row that cannot be used is reported
    and skipped; every other entity is decided. With `workers` > 1 the entities are decided in
    that many processes (0 = one per core), each with its own durable Host; the records come
    back in input order and are identical to a single-process run. With `what_it_takes`, each
    record that does not pass gets a "what_it_takes" key (see `engine.whatif`). With `render`
    (a module-level function, so worker processes can use it) each record is rendered where it
    was decided and the rendered value is yielded: sending text back from a worker is far
    cheaper than sending the record. `read` sets the data files' encoding and whether unknown
    columns that look like misspelt inputs are allowed; columns are checked against `pack`.
    """
    problems = problems if problems is not None else []
    entities_iter = entities(files, problems, replace(read or ReadOptions(), pack=pack))
    if workers == 0:
        workers = os.cpu_count() or 1
    if workers <= 1:
        state = {"pack": pack, "decider": Decider(pack, engine), "explainer": Explainer(pack, engine),
                 "what_it_takes": what_it_takes, "render": render}
        for chunk in _chunks(entities_iter, chunk_size):
            for record, found in _decide_chunk(state, chunk):
                problems.extend(found)
                yield record
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    # At most a few chunks per worker in flight: Pool.imap would read the whole input ahead and
    # hold every finished result, so memory would grow with the batch.
    limit = IN_FLIGHT_PER_WORKER * workers
    with mp.get_context(method).Pool(workers, _worker_init, (pack, engine, what_it_takes, render)) as pool:
        pending: deque[Any] = deque()
        for chunk in _chunks(entities_iter, chunk_size):
            pending.append(pool.apply_async(_worker_run, (chunk,)))
            while len(pending) >= limit:
                for record, found in pending.popleft().get():
                    problems.extend(found)
                    yield record
        while pending:
            for record, found in pending.popleft().get():
                problems.extend(found)
                yield record
