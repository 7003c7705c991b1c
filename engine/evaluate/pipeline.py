"""What a batch needs before deciding: the pack loaded (load → validate → compile, with --set
overrides), the data files read into entities with rows counted, standard input spooled, and the
number of worker processes; format-2 packs are decided here too (`decide_files2`). Deciding and
explaining a format-1 batch is engine.explain.batch (`decide_files`); rendering is left to `report`.

Counting rows (`RowCounts`). Every batch ends with how many rows (entities) were read, decided
and refused, and the exit code is 3 when any was refused. A *refused* row is one a reader read
but could not turn into an entity to decide (a malformed CSV row, a row with no id, a duplicate
id…). Readers report it the way they report any problem, with one flag set:

    problems.append(Problem(file, row, col, "E131", "…", message_zh="…", refused_row=True))
    continue  # the row is skipped

`entities()` looks at the problems a reader appended while it produced each entity: every one
flagged `refused_row` counts one refused row (so a reader flags exactly one problem per refused
row). Problems without the flag (a bad value treated as missing, an unknown column) do not
refuse the row: it is decided with those values unknown. `decide_files` (engine.explain.batch)
counts decided rows.
So `read == decided + refused` once a batch has been consumed, except for files that could not
be read at all (`unreadable_files`: their rows were never read).

Standard input. A DATA argument `-` is spooled to a private temporary file (bounded like any
data file) with the suffix of its format: `--input-format`, else sniffed from the first bytes
(`PK` zip: xlsx; `{` or `[`: json; a first line with a comma and no `: `: csv; else yaml).
Records and problems name it `-`.
"""

from __future__ import annotations

import re

import dataclasses
import multiprocessing as mp
import signal
import sqlite3
from collections import deque
import datetime as dt
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

from engine.compile.build2 import build2
from engine.compile.compile import CompileError, build
from engine.compile.model2 import Pack2
from engine.load.data import MAX_DATA_BYTES, ReadOptions, load_entities
from engine.compile.model import CompiledPack
from engine.evaluate.cluster import ClusterPool
from engine.evaluate.record2 import Record2
from engine.evaluate.run2 import Runner, Subject, subject_of
from engine.core.problems import ERROR, Problem, ProblemsError, clip, has_errors, shown
from engine.core.units import AmountError, parse_param_value
from engine.compile.check import check_document, validate_file
from engine.load.variants import resolve as resolve_variant
from engine.validate.dialect1 import read_format1
from engine.load.yamlsafe import Document, load_yaml_file
from engine.core.files import register_temporary


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


_BARE_NUMBER = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?$")


def _written_unit(spec: Any) -> str:
    """The unit a parameter is written in in the pack (家 for `value: 1家`), or ''."""
    if not isinstance(spec, dict):
        return ""
    written = spec.get("value")
    if written is None and isinstance(spec.get("values"), list) and spec["values"]:
        first = spec["values"][0]
        written = first.get("value") if isinstance(first, dict) else None
    if not isinstance(written, str):
        return ""
    return re.sub(r"^[-+\d,.\s]+", "", written).strip()


def load_pack(path: str, as_of: dt.date, overrides: dict[str, tuple[str, Any]] | None = None) -> tuple[CompiledPack, list[Problem]]:
    """Validate and compile a pack. Raises ProblemsError if it has errors; returns warnings."""
    doc, raw, problems = validate_file(path)
    if doc is None or has_errors(problems):
        raise ProblemsError(problems)
    if doc.value.get("format") == 2:
        # The format-2 path is load_pack2 (engine.compile.build2); this command has no format-2 view yet.
        raise ProblemsError([doc.problem("E112", "this is a format-2 pack: certify validate, evaluate, test and report read it; "
                                         "this command does not yet", ("format",),
                                         message_zh="这是格式 2 的规则包：certify validate、evaluate、test 和 report 可以读取；"
                                         "本命令暂不支持")])
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
            unit = _written_unit(params[name])
            if unit and isinstance(value, str) and _BARE_NUMBER.match(value.strip()):
                # Tell the officer the unit this parameter is written in, not a money example.
                bad.append(Problem(origin, 1, 1, "E123",
                                   f"override {name}: {shown(value)} has no unit; the pack writes this parameter in "
                                   f"{unit}: write {value.strip()}{unit}",
                                   message_zh=f"覆盖值 {name} 没有单位：{shown(value)}；规则包中该参数的单位是 {unit}，"
                                              f"请写成 {value.strip()}{unit}"))
                continue
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


@dataclass
class RowCounts:
    """Rows of a batch: read by the readers, decided, refused (see the module docstring)."""

    read: int = 0
    decided: int = 0
    refused: int = 0
    unreadable_files: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"read": self.read, "decided": self.decided, "refused": self.refused}

    def line(self, lang: str = "zh") -> str:
        """The one-line summary a batch ends with (on stderr)."""
        if lang == "zh":
            text = f"{self.read} 行读取, {self.decided} 行已判定, {self.refused} 行被拒"
            text += " (见上)" if self.refused else ""
            if self.unreadable_files:
                text += f"; {self.unreadable_files} 个文件无法读取 (见上)"
            return text
        text = f"{self.read} rows read, {self.decided} decided, {self.refused} refused"
        text += " (see above)" if self.refused else ""
        if self.unreadable_files:
            text += f"; {self.unreadable_files} file(s) could not be read (see above)"
        return text

    @property
    def bad(self) -> bool:
        return bool(self.refused or self.unreadable_files)


STDIN = "-"
INPUT_FORMATS = ("csv", "json", "yaml", "xlsx")
_SPOOLED: dict[str, str] = {}  # spooled temporary file -> the name shown for it ("-")


def sniff_format(head: bytes) -> str:
    """The data format of a file from its first bytes (see the module docstring)."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"["):
        return "json"
    first = text.split(b"\n", 1)[0]
    if b"," in first and b": " not in first and not first.startswith((b"-", b"#")):
        return "csv"
    return "yaml"


def spool_stdin(input_format: str | None = None, stream: Any = None) -> str:
    """Copy standard input to a private temporary file named for its format; returns its path.
    The copy stops one byte past the data size limit, so the reader refuses it as too large."""
    source = stream if stream is not None else sys.stdin.buffer
    import atexit

    folder = tempfile.mkdtemp(prefix="certify-stdin-")
    register_temporary(folder)  # removed if the run is interrupted
    atexit.register(shutil.rmtree, folder, True)
    raw = os.path.join(folder, "stdin")
    with open(raw, "wb") as out:
        left = MAX_DATA_BYTES + 1
        while left > 0 and (chunk := source.read(min(1 << 20, left))):
            out.write(chunk)
            left -= len(chunk)
    if input_format is None:
        with open(raw, "rb") as handle:
            input_format = sniff_format(handle.read(4096))
    path = os.path.join(folder, "stdin." + input_format)
    os.replace(raw, path)
    _SPOOLED[path] = STDIN
    return path


def _shown_as(problem: Problem, path: str, name: str) -> Problem:
    return dataclasses.replace(problem, file=name) if problem.file == path else problem


class SeenIds:
    """The entity ids met so far in a batch, each with where it was first met: an exact check for
    duplicates whose memory does not grow with the batch.

    The latest `MEMORY` ids are held in a dict. When it is full they are spilled to a SQLite table
    on disk (a private temporary file, removed when the batch ends or is interrupted), and a bit
    is set for each in a fixed bitmap of `FILTER_BITS` bits indexed by the id's hash. An id not in
    the dict is looked up on disk only when its bit is set: a clear bit proves it was never
    spilled; a set bit may be another id's (a collision), so the table answers exactly. Memory is
    therefore at most MEMORY ids plus FILTER_BITS / 8 bytes (16 MiB) plus SQLite's page cache
    (2 MiB), whatever the number of entities; the disk holds every id once. No duplicate is
    missed and none is invented: every answer is an exact comparison of ids."""

    MEMORY = 65_536
    FILTER_BITS = 1 << 27

    def __init__(self) -> None:
        self._recent: dict[str, str] = {}
        self._db: Any = None
        self._folder: str | None = None
        self._filter: bytearray | None = None
        self._mask = self.FILTER_BITS - 1

    def first(self, ident: str) -> str | None:
        """Where `ident` was first met (file:line), or None if it was not met before."""
        where = self._recent.get(ident)
        if where is not None or self._filter is None:
            return where
        bit = hash(ident) & self._mask
        if not self._filter[bit >> 3] & (1 << (bit & 7)):
            return None
        row = self._db.execute("SELECT at FROM ids WHERE id = ?", (ident,)).fetchone()
        return row[0] if row else None

    def add(self, ident: str, where: str) -> None:
        self._recent[ident] = where
        if len(self._recent) >= self.MEMORY:
            self._spill()

    def _spill(self) -> None:
        if self._db is None:
            self._folder = tempfile.mkdtemp(prefix="certify-ids-")
            register_temporary(self._folder)  # removed if the run is interrupted
            self._db = sqlite3.connect(os.path.join(self._folder, "ids.sqlite"), isolation_level=None)
            self._db.execute("PRAGMA journal_mode = OFF")
            self._db.execute("PRAGMA synchronous = OFF")
            self._db.execute("PRAGMA cache_size = -2048")  # KiB: the page cache stays small
            self._db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY, at TEXT NOT NULL) WITHOUT ROWID")
            self._filter = bytearray(self.FILTER_BITS // 8)
        assert self._filter is not None
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO ids VALUES (?, ?)", self._recent.items())
        self._db.execute("COMMIT")
        mask, bits = self._mask, self._filter
        for ident in self._recent:
            bit = hash(ident) & mask
            bits[bit >> 3] |= 1 << (bit & 7)
        self._recent.clear()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._recent.clear()
        self._filter = None


def entities(files: Iterable[str], problems: list[Problem], read: ReadOptions | None = None,
             counts: RowCounts | None = None) -> Iterator[tuple[Any, str]]:
    """Every entity in `files` with its file:line, duplicates of an earlier id reported and skipped
    (`SeenIds`: exact, in bounded memory). `read` says how files are read (encoding, the pack whose
    columns are expected). Rows read and refused are added to `counts` (see the module docstring)."""
    counts = counts if counts is not None else RowCounts()
    seen = SeenIds()
    try:
        yield from _entities(files, problems, read, counts, seen)
    finally:
        seen.close()


def _entities(files: Iterable[str], problems: list[Problem], read: ReadOptions | None, counts: RowCounts,
              seen: SeenIds) -> Iterator[tuple[Any, str]]:

    def account(start: int, path: str, name: str) -> None:
        for index in range(start, len(problems)):
            if path != name:
                problems[index] = _shown_as(problems[index], path, name)
            if problems[index].refused_row:
                counts.read += 1
                counts.refused += 1

    for file in files:
        path = spool_stdin() if file == STDIN else file
        name = _SPOOLED.get(path, path)
        start = len(problems)
        try:
            for entity in load_entities(path, problems, read):
                account(start, path, name)
                counts.read += 1
                entity.file = name
                where = f"{entity.file}:{entity.line}"
                first = seen.first(entity.id)
                if first is not None:
                    problems.append(Problem(entity.file, entity.line, 1, "E132",
                                            f"duplicate entity id {shown(entity.id)} (first at {first}); "
                                            "this one is skipped",
                                            message_zh=f"对象编号 {shown(entity.id)} 重复（首次出现在 {first}）；"
                                            "这一条已跳过",
                                            refused_row=True))
                    counts.refused += 1
                    start = len(problems)
                    continue
                start = len(problems)
                seen.add(entity.id, where)
                yield entity, where
                start = len(problems)
            account(start, path, name)
        except ProblemsError as error:
            account(start, path, name)
            counts.unreadable_files += 1
            problems.extend(_shown_as(p, path, name) for p in error.problems)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_count(requested: int) -> tuple[int, bool]:
    """(processes to use, whether `requested` was capped): 0 means one per CPU; more processes
    than CPUs only add memory and start-up, so the count is capped at the CPUs available."""
    cpus = available_cpus()
    if requested == 0:
        return cpus, False
    return (cpus, True) if requested > cpus else (requested, False)


def pack_format(path: str) -> int | None:
    """The `format:` of a pack file (1 or 2), or None when it cannot be read (the format-1 path then
    reports why, as it always has)."""
    try:
        doc, _ = load_yaml_file(path, max_bytes=4 * 1024 * 1024)
    except ProblemsError:
        return None
    return doc.value.get("format") if isinstance(doc.value, dict) else None


def load_pack2(path: str, as_of: dt.date, overrides: dict[str, tuple[str, Any]] | None = None) -> Pack2:
    """Read and compile a pack. Raises ProblemsError with every error; warnings (W180) are on
    `pack.warnings`. A format-1 pack is converted on load (engine.validate.dialect1) and carries
    W264; `pack.format1` holds what was converted."""
    doc, raw = load_yaml_file(path, max_bytes=4 * 1024 * 1024)
    if not (isinstance(doc.value, dict) and doc.value.get("format") == 2):
        # format 1 (or no format at all): read as an input dialect, converted on load; W264 says so
        read = read_format1(doc)
        pack = build2(read.document, raw, as_of, overrides)
        pack.format1 = read
        pack.warnings = [read.warning, *pack.warnings]
        return pack
    doc, variant = resolve_variant(doc, raw)  # pack.extends: the merged document (engine.load.variants)
    pack = build2(doc, raw, as_of, overrides)
    if variant is not None:
        pack.variant = variant
        pack.sha256 = variant.sha256  # one hash over every file of the chain
    return pack


Annotate = Callable[[Pack2, Subject, Record2], Any]  # see decide_files2
Render = Callable[[Pack2, Record2, Any], Any]  # see decide_files2


def decide_files2(pack: Pack2, files: Iterable[str], engine: str = "durable", problems: list[Problem] | None = None,
                  read: ReadOptions | None = None, counts: RowCounts | None = None,
                  chunk_size: int = 256, workers: int = 1, annotate: Annotate | None = None,
                  runner: Runner | None = None, cluster: ClusterPool | None = None,
                  render: Render | None = None) -> Iterator[Any]:
    """Every entity in `files`, decided in input order. A pack with a cohort value (rank …) is
    evaluated as one batch (every entity is one cohort); otherwise in chunks, so memory stays flat.
    With `workers` > 1 (0 = one per CPU) the chunks of a pack without a cohort value are decided in
    that many processes, each with its own durable sessions; the records come back in input order
    and are the same as in one process. A cohort pack is always one batch in one process: every
    entity's rank reads every other entity's figures (`cohort_workers` says so to the caller).
    With `annotate` (a module-level function, so worker processes can call it) each item yielded is
    `(record, annotate(pack, subject, record))`, computed where the entity was decided: a later stage
    (what it would take, engine.explain.whatif2) adds to a record without this stage importing it.
    With `cluster` (engine.evaluate.cluster) the chunks are decided on a Dask cluster instead of
    `workers` local processes, with the same records in the same order.
    With `render` (a module-level function of a later stage: the JSON text of a decision, a table
    row) each item yielded is `render(pack, record, annotation or None)`, made where the entity was
    decided: with workers only that crosses back to this process, not the record."""
    problems = problems if problems is not None else []
    counts = counts if counts is not None else RowCounts()
    stream = entities(files, problems, dataclasses.replace(read or ReadOptions(), pack=pack), counts)
    workers = worker_count(workers)[0]
    if cluster is not None and not pack.cohort():
        yield from _take2(cluster.ordered(_state2, (pack, engine, annotate, render), _chunk2,
                                          _chunks(stream, cluster.partition_size)),
                          problems, counts)
        return
    if workers > 1 and not pack.cohort():
        yield from _decide_parallel2(pack, stream, engine, problems, counts, chunk_size, workers, annotate, render)
        return
    # `runner`: one kept by a long-running caller (certify serve): its durable sessions are registered once
    runner = runner or Runner(pack, engine)
    size = None if pack.cohort() else chunk_size
    batch: list[Subject] = []

    def flush() -> Iterator[Any]:
        for item in _finish2(pack, batch, runner.evaluate(batch), annotate, render):
            counts.decided += 1
            yield item
        batch.clear()

    for entity, _where in stream:
        subject, found = subject_of(pack, entity)
        problems.extend(found)
        batch.append(subject)
        if size is not None and len(batch) >= size:
            yield from flush()
    yield from flush()


def cohort_workers(pack: Pack2, workers: int) -> bool:
    """True when more than one worker was asked for a pack that is decided in one process anyway
    (a cohort value: rank, rank_points, cohort_mean read the whole batch)."""
    return workers != 1 and pack.cohort()


_WORKER2: dict[str, Any] = {}
_IN_FLIGHT_PER_WORKER = 3  # chunks queued per worker: enough to keep it busy, memory bounded


def _finish2(pack: Pack2, subjects: Sequence[Subject], records: Sequence[Record2], annotate: Annotate | None,
             render: Render | None) -> list[Any]:
    """The items decide_files2 yields for decided subjects: records, (record, annotation) pairs, or
    what `render` makes of them."""
    if render is not None:
        if annotate is not None:
            return [render(pack, r, annotate(pack, s, r)) for s, r in zip(subjects, records)]
        return [render(pack, r, None) for r in records]
    if annotate is not None:
        return [(r, annotate(pack, s, r)) for s, r in zip(subjects, records)]
    return list(records)


def _state2(pack: Pack2, engine: str, annotate: Annotate | None = None, render: Render | None = None) -> dict[str, Any]:
    # durable-rules is not safe to share across processes: one Runner (its sessions) per worker
    return {"pack": pack, "runner": Runner(pack, engine), "annotate": annotate, "render": render}


def _worker_init2(pack: Pack2, engine: str, annotate: Annotate | None = None, render: Render | None = None) -> None:
    # The parent handles SIGINT and stops the pool with SIGTERM, which must simply end a worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _WORKER2.update(_state2(pack, engine, annotate, render))


def _worker_chunk2(chunk: list[Any]) -> tuple[list[Any], list[Problem]]:
    return _chunk2(_WORKER2, chunk)


def _chunk2(state: dict[str, Any], chunk: list[Any]) -> tuple[list[Any], list[Problem]]:
    pack, runner, annotate = state["pack"], state["runner"], state["annotate"]
    subjects, problems = [], []
    for entity in chunk:
        subject, found = subject_of(pack, entity)
        problems.extend(found)
        subjects.append(subject)
    return _finish2(pack, subjects, runner.evaluate(subjects), annotate, state.get("render")), problems


def _chunks(stream: Iterator[tuple[Any, str]], size: int) -> Iterator[list[Any]]:
    """The entities of `stream` in lists of `size` (the last one shorter)."""
    chunk: list[Any] = []
    for entity, _where in stream:
        chunk.append(entity)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _take2(results: Iterable[tuple[list[Any], list[Problem]]], problems: list[Problem],
           counts: RowCounts) -> Iterator[Any]:
    """The records of decided chunks, in order, their problems kept and their rows counted."""
    for records, found in results:
        problems.extend(found)
        for record in records:
            counts.decided += 1
            yield record


def _decide_parallel2(pack: Pack2, stream: Iterator[tuple[Any, str]], engine: str, problems: list[Problem],
                      counts: RowCounts, chunk_size: int, workers: int, annotate: Annotate | None,
                      render: Render | None = None) -> Iterator[Any]:
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    limit = _IN_FLIGHT_PER_WORKER * workers  # never the whole input ahead (Pool.imap would read it all)

    with mp.get_context(method).Pool(workers, _worker_init2, (pack, engine, annotate, render)) as pool:
        pending: deque[Any] = deque()
        for chunk in _chunks(stream, chunk_size):
            pending.append(pool.apply_async(_worker_chunk2, (chunk,)))
            while len(pending) >= limit:
                yield from _take2([pending.popleft().get()], problems, counts)
        while pending:
            yield from _take2([pending.popleft().get()], problems, counts)
