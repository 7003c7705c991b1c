"""Replay: decide logged decisions again and say which no longer reproduce (`certify replay`).

Each logged decision is decided again from what the log kept: the pack's text as it was (stored
once per sha256), the as-of date, the overrides and the entity's input (its text is checked
against the input hash first). The new record is compared with the logged one, leaving out only
what may differ without the decision differing: where the input was read (file:line), where the
pack file was, and the engine and durable-rules versions (a newer engine that decides the same is
a reproduction; the report counts how many were decided by another engine version).

A pack whose values read the whole batch (rank, cohort mean) is decided again with the whole
logged batch, in its order, even when only some of its decisions were selected.

Outcomes: reproduced; differs (E242: the first differences are named, the outcome first);
cannot (E243: the pack's text is not in the log, the stored input does not match its hash, the
pack no longer compiles; E264: the record was written by the retired format-1 pipeline, whose
record shape is not written any more: decided again with the pack converted on load, the outcome
then and now are named).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from engine import ENGINE_VERSION
from engine.audit.log import DecisionLog, Filter, LogEntry
from engine.compile.model2 import Pack2
from engine.core.problems import Problem, ProblemsError, clip
from engine.evaluate.pipeline import load_pack2
from engine.evaluate.run2 import Runner, subject_of
from engine.load.entities import RawEntity

REPRODUCED, DIFFERS, CANNOT = "reproduced", "differs", "cannot"
MAX_DIFFERENCES = 5


@dataclass(frozen=True)
class Replayed:
    entry: LogEntry
    status: str  # reproduced | differs | cannot
    outcome_now: str | None = None
    differences: tuple[str, ...] = ()  # "criteria[2].status: 'met' -> 'not_met'", the outcome first
    problem: Problem | None = None  # E242 / E243

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.entry.id, "entity_id": self.entry.entity_id, "pack_id": self.entry.pack_id,
                "pack_version": self.entry.pack_version, "as_of": self.entry.as_of.isoformat(),
                "status": self.status, "outcome_then": self.entry.outcome, "outcome_now": self.outcome_now,
                "engine_version_then": self.entry.engine_version, "engine_version_now": ENGINE_VERSION,
                "differences": list(self.differences),
                "problem": self.problem.as_dict() if self.problem else None}


@dataclass
class Summary:
    reproduced: int = 0
    differs: int = 0
    cannot: int = 0
    other_engine_version: int = 0  # reproduced or not, logged by another engine version
    results: list[Replayed] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.reproduced + self.differs + self.cannot

    def add(self, result: Replayed) -> None:
        setattr(self, result.status, getattr(self, result.status) + 1)
        if result.entry.engine_version != ENGINE_VERSION:
            self.other_engine_version += 1
        self.results.append(result)

    def line(self, lang: str = "zh") -> str:
        if lang == "zh":
            text = f"重放 {self.total} 条判定：{self.reproduced} 条结果相同，{self.differs} 条不同，{self.cannot} 条无法重放"
            if self.other_engine_version:
                text += f"（其中 {self.other_engine_version} 条由其他引擎版本判定）"
            return text
        text = (f"{self.total} decision(s) replayed: {self.reproduced} reproduced, {self.differs} differ, "
                f"{self.cannot} cannot be replayed")
        if self.other_engine_version:
            text += f" ({self.other_engine_version} logged by another engine version)"
        return text


def _problem(entry: LogEntry, code: str, en: str, zh: str) -> Problem:
    return Problem(f"log#{entry.id}", 1, 1, code, f"{entry.entity_id} ({entry.pack_id} {entry.pack_version}, "
                   f"as of {entry.as_of.isoformat()}): {en}", message_zh=f"{entry.entity_id}（{entry.pack_id} "
                   f"{entry.pack_version}，判定日 {entry.as_of.isoformat()}）：{zh}")


def _cannot(entry: LogEntry, en: str, zh: str) -> Replayed:
    return Replayed(entry, CANNOT, problem=_problem(entry, "E243", en, zh))


def replay(log: DecisionLog, where: Filter | None = None, limit: int | None = None) -> Summary:
    """Decide again every selected logged decision (in log order); the summary lists each result."""
    summary = Summary()
    for result in replay_entries(log, log.entries(where, limit)):
        summary.add(result)
    summary.results.sort(key=lambda r: r.entry.id)
    return summary


def replay_entries(log: DecisionLog, entries: Iterable[LogEntry]) -> Iterator[Replayed]:
    groups: dict[tuple[Any, ...], list[LogEntry]] = {}
    for entry in entries:
        key = (entry.format, entry.pack_sha256, entry.as_of, entry.overrides_json, entry.engine)
        groups.setdefault(key, []).append(entry)
    for (fmt, sha, as_of, _overrides, engine), chosen in groups.items():
        files = log.pack_files(sha)
        if files is None:
            for entry in chosen:
                yield _cannot(entry, "the pack's text is not in the log (its file had changed before the decision "
                              "was logged)", "日志中没有该规则包的文本（记录判定前文件已被修改）")
            continue
        with tempfile.TemporaryDirectory(prefix="certify-replay-") as folder:
            for item in files:
                name = os.path.basename(item["name"])  # stored as a plain name; never a path out
                with open(os.path.join(folder, name), "w", encoding="utf-8", newline="") as handle:
                    handle.write(item["text"])
            path = os.path.join(folder, os.path.basename(files[0]["name"]))
            overrides = {name: ("log", value) for name, value in chosen[0].overrides.items()}
            try:
                pack = load_pack2(path, as_of, overrides)  # a format-1 pack is converted on load
            except ProblemsError as error:
                first = error.problems[0] if error.problems else None
                said = f"{first.code} {clip(first.message, 120)}" if first else ""
                for entry in chosen:
                    yield _cannot(entry, f"the pack no longer compiles: {said}", f"规则包已无法编译：{said}")
                continue
            if fmt == 2:
                yield from _replay2(log, pack, engine, chosen)
            else:
                yield from _replay1(pack, engine, chosen)


def _replay1(pack: Pack2, engine: str, chosen: list[LogEntry]) -> Iterator[Replayed]:
    """Entries logged by the retired format-1 pipeline: their records (format 1's shape) cannot be
    written again, so none is called reproduced. Each is decided again with its pack converted to
    format 2 on load, and E264 says so, with the outcome then and now (a different outcome is named
    first), so an officer sees which decisions would change."""
    usable = []
    for entry in chosen:
        if _input_ok(entry):
            usable.append(entry)
        else:
            yield _bad_input(entry)
    subjects = []
    for entry in usable:
        given = entry.input  # {"id", "name", "fields"}, as format 1 logged it
        file, line = _where({"where": str((entry.record.get("entity") or {}).get("source") or "log:1")}, "log")
        subjects.append(subject_of(pack, RawEntity(file, line, str(given["id"]), given.get("name"),
                                                   dict(given["fields"])))[0])
    records = Runner(pack, engine).evaluate(subjects) if subjects else []
    for entry, record in zip(usable, records):
        now = record.outcome.value if record.outcome else None
        then = entry.record.get("outcome")
        same = "the same outcome" if now == then else f"another outcome: {then!r} -> {now!r}"
        same_zh = "结果相同" if now == then else f"结果不同：{then!r} -> {now!r}"
        yield Replayed(entry, CANNOT, now, () if now == then else (f"outcome: {then!r} -> {now!r}",), _problem(
            entry, "E264", "logged by the retired format-1 pipeline: its record cannot be reproduced as written; "
            f"decided again with the pack converted to format 2 on load, it has {same}",
            f"由已停用的格式 1 流程记录：无法按原样重现；规则包在读取时转换为格式 2 后重新判定，{same_zh}"))


def _input_ok(entry: LogEntry) -> bool:
    return hashlib.sha256(entry.input_json.encode("utf-8")).hexdigest() == entry.input_sha256


def _bad_input(entry: LogEntry) -> Replayed:
    return _cannot(entry, "the stored input does not match its hash", "日志中保存的输入与其哈希值不符")


def _where(record: dict[str, Any], fallback: str) -> tuple[str, int]:
    file, _, line = str(record.get("where") or fallback).rpartition(":")
    return (file or fallback), (int(line) if line.isdigit() else 1)


def _replay2(log: DecisionLog, pack: Pack2, engine: str, chosen: list[LogEntry]) -> Iterator[Replayed]:
    if pack.cohort():  # ranks read the whole batch: decide every logged batch whole, in its order
        by_batch: dict[str, list[LogEntry]] = {}
        for entry in chosen:
            by_batch.setdefault(entry.batch, []).append(entry)
        runs = [(log.entries(Filter(batch=b)), {e.id for e in members}) for b, members in by_batch.items()]
    else:
        runs = [(chosen, {e.id for e in chosen})]
    runner = Runner(pack, engine)
    for batch, wanted in runs:
        batch = sorted(batch, key=lambda e: e.position) if pack.cohort() else batch
        bad = [e for e in batch if not _input_ok(e)]
        for entry in bad:
            if entry.id in wanted:
                yield _bad_input(entry)
        if bad and pack.cohort():  # a cohort is decided whole or not at all (ranks read every member)
            for entry in batch:
                if entry.id in wanted and entry not in bad:
                    yield _cannot(entry, "another input of its batch does not match its hash",
                                  "同批次另一条输入与其哈希值不符")
            continue
        batch = [e for e in batch if e not in bad]
        subjects = []
        for entry in batch:
            then = entry.record
            file, line = _where(then, "log")
            subject, _found = subject_of(pack, RawEntity(file, line, entry.entity_id, entry.entity_name, entry.input))
            subjects.append(subject)
        for entry, record in zip(batch, runner.evaluate(subjects)):
            if entry.id in wanted:
                yield _compare(entry, record.as_dict(), _comparable2)


def _comparable2(record: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k != "where"}
    prov = dict(out.get("provenance") or {})
    for key in ("pack_file", "engine_version"):
        prov.pop(key, None)
    prov["pack_files"] = [f[1] for f in prov.get("pack_files") or []]  # the hashes, not where they were
    prov["replaced"] = [{k: (os.path.basename(v) if k == "file" and isinstance(v, str) else v) for k, v in r.items()}
                        for r in prov.get("replaced") or []]
    out["provenance"] = prov
    return out


def _compare(entry: LogEntry, now: dict[str, Any], comparable: Any) -> Replayed:
    then = entry.record
    outcome_now = now.get("outcome")
    differences = []
    if outcome_now != then.get("outcome"):
        differences.append(f"outcome: {then.get('outcome')!r} -> {outcome_now!r}")
    differences += [d for d in _differences(comparable(then), comparable(now)) if not d.startswith("outcome:")]
    if not differences:
        return Replayed(entry, REPRODUCED, outcome_now)
    shown = differences[:MAX_DIFFERENCES]
    more = len(differences) - len(shown)
    tail_en = f" (and {more} more)" if more else ""
    tail_zh = f"（另有 {more} 处）" if more else ""
    return Replayed(entry, DIFFERS, outcome_now, tuple(differences), _problem(
        entry, "E242", "decided again, it differs: " + "; ".join(shown) + tail_en,
        "重新判定结果不同：" + "；".join(shown) + tail_zh))


def _differences(then: Any, now: Any, path: str = "") -> list[str]:
    if isinstance(then, dict) and isinstance(now, dict):
        out = []
        for key in list(then) + [k for k in now if k not in then]:
            where = f"{path}.{key}" if path else str(key)
            if key not in now:
                out.append(f"{where}: no longer there")
            elif key not in then:
                out.append(f"{where}: new")
            else:
                out += _differences(then[key], now[key], where)
        return out
    if isinstance(then, list) and isinstance(now, list):
        if len(then) != len(now):
            return [f"{path}: {len(then)} items -> {len(now)}"]
        out = []
        for i, (a, b) in enumerate(zip(then, now)):
            out += _differences(a, b, f"{path}[{i}]")
        return out
    if then != now:
        return [f"{path}: {clip(repr(then), 60)} -> {clip(repr(now), 60)}"]
    return []
