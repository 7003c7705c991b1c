"""The pack folder and deciding a batch, for the API and the pages.

Packs. The server serves the packs of one folder (default rules/): every `*.yaml` that is not a
test suite and that declares `pack.id`. A request names a pack by that id, which is looked up in
the folder's listing: an id is never joined to a path, so no request can name a file outside the
folder (a symlink that leads out of the folder is not listed either).

Deciding. The same pipeline as `certify evaluate`: the pack is loaded as the CLI loads it
(load_pack / load_pack2, with overrides), the data are read from files by the same readers
(entities posted as JSON are written to a private temporary file first, so they meet exactly
the checks a data file meets), and the document returned is the one `certify evaluate --format
json` writes. Temporary paths are replaced by the name the client gave the data.

durable-rules is not safe to share between threads, and the server answers requests on a
thread pool: deciding is serialised by one lock (one CPU does the work either way).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from engine.compile.model import CompiledPack
from engine.compile.model2 import Pack2
from engine.core.problems import Problem, ProblemsError
from engine.evaluate.evaluate import Decider
from engine.evaluate.pipeline import RowCounts, decide_files2, load_pack, load_pack2
from engine.evaluate.run2 import Runner
from engine.explain.whatif2 import annotate_what_it_takes
from engine.explain.batch import decide_files
from engine.load.data import ReadOptions
from engine.load.variants import BASE_NAME, MAX_CHAIN
from engine.load.yamlsafe import load_yaml_file
from engine.report.format2_views import evaluation_json2
from engine.report.text import evaluation_json

PACK_MAX_BYTES = 4 * 1024 * 1024
DATA_SUFFIXES = (".csv", ".xlsx", ".xls", ".json", ".yaml", ".yml")
_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


@dataclass(frozen=True)
class PackEntry:
    id: str
    version: str
    format: int
    title: dict[str, str]
    entity: str
    kind: str  # format 1: eligibility / targets / scoring; format 2: "" (there is no kind)
    file: str  # the file name inside the folder (what the pages show)
    path: str  # the absolute path (never shown, never taken from a request)
    sha256: str
    effective: str

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "format": self.format, "title": self.title,
                "entity": self.entity, "kind": self.kind or None, "file": self.file, "sha256": self.sha256,
                "effective": self.effective}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class Catalog:
    """The packs of one folder, listed by id; re-read when a file changes (size or mtime)."""

    def __init__(self, folder: str):
        self.folder = Path(folder).resolve()
        self._seen: dict[str, tuple[tuple[int, int], PackEntry | None]] = {}
        self._lock = threading.Lock()

    def _files(self) -> list[Path]:
        out = []
        for path in sorted(self.folder.glob("*.yaml")):
            if path.name.endswith(".tests.yaml"):
                continue
            try:
                real = path.resolve(strict=True)
            except OSError:
                continue
            if real.parent != self.folder or not real.is_file():  # a symlink out of the folder
                continue
            out.append(real)
        return out

    def _read(self, path: Path) -> PackEntry | None:
        try:
            raw = path.read_bytes()
            if len(raw) > PACK_MAX_BYTES:
                return None
            doc, _ = load_yaml_file(str(path), max_bytes=PACK_MAX_BYTES)
        except (OSError, ProblemsError):
            return None
        value = doc.value if isinstance(doc.value, dict) else {}
        pack = value.get("pack") if isinstance(value.get("pack"), dict) else None
        if pack is None or not isinstance(pack.get("id"), str):
            return None
        title = pack.get("title") if isinstance(pack.get("title"), dict) else {}
        return PackEntry(id=pack["id"], version=_text(pack.get("version")), format=value.get("format") or 1,
                         title={k: _text(v) for k, v in title.items()}, entity=_text(pack.get("entity")),
                         kind=_text(pack.get("kind")), file=path.name, path=str(path),
                         sha256=hashlib.sha256(raw).hexdigest(), effective=_text(pack.get("effective")))

    def entries(self) -> list[PackEntry]:
        with self._lock:
            current: dict[str, tuple[tuple[int, int], PackEntry | None]] = {}
            for path in self._files():
                stat = path.stat()
                key = (stat.st_mtime_ns, stat.st_size)
                known = self._seen.get(str(path))
                current[str(path)] = known if known and known[0] == key else (key, self._read(path))
            self._seen = current
            entries = [entry for _, entry in current.values() if entry is not None]
        first: dict[str, PackEntry] = {}
        for entry in entries:  # two files with one id: the first by file name is served
            first.setdefault(entry.id, entry)
        return list(first.values())

    def get(self, ident: str) -> PackEntry | None:
        for entry in self.entries():
            if entry.id == ident:
                return entry
        return None

    def generation(self) -> str:
        """A fingerprint of every pack file in the folder (a variant reads its base's file)."""
        with self._lock:
            return hashlib.sha256(repr(sorted((p, k) for p, (k, _) in self._seen.items())).encode()).hexdigest()


@dataclass
class Batch:
    """One decided batch: the JSON document of `certify evaluate --format json`, and what the
    pages need to render it (the pack and the records as the report stage takes them)."""

    entry: PackEntry
    as_of: dt.date
    pack: Any  # CompiledPack or Pack2
    records: list[Any]  # format 1: record dicts; format 2: Record2
    problems: list[Problem]
    counts: RowCounts
    document: dict[str, Any]
    data_name: str
    overrides: dict[str, tuple[str, Any]] = field(default_factory=dict)
    data: bytes = b""  # the data as uploaded: the impact of an edit is shown over the last batch
    suggestions: dict[str, Any] = field(default_factory=dict)  # format 2: what it would take, by entity id

    @property
    def format(self) -> int:
        """The format of the records: 2 for every batch decided now (a format-1 pack is converted
        on load); a kept batch shown again says what it was decided with."""
        return 2 if isinstance(self.pack, Pack2) else self.entry.format


class TooManyRows(Exception):
    pass


DECIDE_LOCK = threading.Lock()
_PACKS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_PACKS_KEPT = 32


def compiled(catalog: Catalog, entry: PackEntry, as_of: dt.date, overrides: dict[str, tuple[str, Any]]) -> Any:
    """The compiled pack (cached by file contents, date and overrides). Raises ProblemsError."""
    key = (entry.path, entry.sha256, catalog.generation(), as_of,
           tuple(sorted((k, json.dumps(v, default=str)) for k, v in overrides.items())))
    with DECIDE_LOCK:
        if key in _PACKS:
            _PACKS.move_to_end(key)
            return _PACKS[key]
    pack = load_pack2(entry.path, as_of, overrides)  # a format-1 pack is converted on load (W264)
    with DECIDE_LOCK:
        _PACKS[key] = pack
        while len(_PACKS) > _PACKS_KEPT:
            _PACKS.popitem(last=False)
    return pack


def _extends(path: str) -> str | None:
    try:
        doc, _ = load_yaml_file(path, max_bytes=PACK_MAX_BYTES)
    except ProblemsError:
        return None
    pack = doc.value.get("pack") if isinstance(doc.value, dict) else None
    base = pack.get("extends") if isinstance(pack, dict) else None
    return base if isinstance(base, str) and BASE_NAME.match(base) else None


def pack_chain(path: str) -> list[dict[str, str]]:
    """The pack file and the bases its `pack.extends` chain names (same folder), as
    [{name, sha256, text}], the pack first: what a kept batch needs to be decided again."""
    out: list[dict[str, str]] = []
    folder = os.path.dirname(path)
    current = path
    for _ in range(MAX_CHAIN + 1):
        raw = Path(current).read_bytes()
        out.append({"name": os.path.basename(current), "sha256": hashlib.sha256(raw).hexdigest(),
                    "text": raw.decode("utf-8")})
        base = _extends(current)
        if base is None or any(f["name"] == base for f in out):
            break
        current = os.path.join(folder, base)
        if not os.path.isfile(current):
            break
    return out


def write_with_bases(text: bytes, name: str, folder: str, packs: str) -> str:
    """Write a pack text as `name` into the private `folder`, with the files its `pack.extends`
    chain names copied beside it from the served folder `packs` (a variant is checked, compiled and
    diffed with its base, as it is where it is served). Returns the path written. A base that is
    not a plain file of `packs` is not copied: loading then says so (E205), as it would there."""
    path = os.path.join(folder, name)
    with open(path, "wb") as handle:
        handle.write(text)
    served = os.path.realpath(packs)
    current = path
    for _ in range(MAX_CHAIN + 1):
        base = _extends(current)
        if base is None:
            break
        source, target = os.path.join(served, base), os.path.join(folder, base)
        real = os.path.realpath(source)
        if os.path.exists(target) or os.path.dirname(real) != served or not os.path.isfile(real):
            break  # a cycle (already copied), or no such file in the folder: the loader reports it
        shutil.copyfile(real, target)
        current = target
    return path


def safe_name(name: str, default: str) -> str:
    """A client's file name reduced to a plain name (no folders), or `default`."""
    base = os.path.basename((name or "").replace("\\", "/"))
    base = _SAFE_NAME.sub("_", base).strip("._")[:80]
    return base or default


_DECIDERS: dict[int, tuple[Any, Any]] = {}  # id(pack) -> (pack, its Decider or Runner), for the packs kept


def _decider(pack: Any) -> Any:
    """The pack's durable sessions, registered once per compiled pack (about 0.1 s each time, and
    durable-rules never frees a registered ruleset). Called under DECIDE_LOCK."""
    kept = _DECIDERS.get(id(pack))
    if kept is None or kept[0] is not pack:
        kept = (pack, Runner(pack, "durable") if isinstance(pack, Pack2) else Decider(pack, "durable"))
        _DECIDERS[id(pack)] = kept
        alive = {id(p) for p in _PACKS.values()}
        for ident in [i for i in _DECIDERS if i not in alive and i != id(pack)]:
            del _DECIDERS[ident]
    return kept[1]


def _records(pack: Any, files: list[str], problems: list[Problem], counts: RowCounts, max_rows: int,
             what_it_takes: bool = False) -> Iterator[Any]:
    """Records in input order; with `what_it_takes`, format 2 yields (record, suggestions or None)
    and format 1's records carry a "what_it_takes" key (as `certify evaluate --what-it-takes`)."""
    if isinstance(pack, Pack2):
        stream: Iterable[Any] = decide_files2(pack, files, "durable", problems, read=ReadOptions(), counts=counts,
                                              runner=_decider(pack),
                                              annotate=annotate_what_it_takes if what_it_takes else None)
    else:
        stream = decide_files(pack, files, "durable", problems, read=ReadOptions(), counts=counts,
                              decider=_decider(pack), what_it_takes=what_it_takes)
    for record in stream:
        if counts.read > max_rows:
            raise TooManyRows()
        yield record


def decide(catalog: Catalog, entry: PackEntry, data: bytes, data_name: str, as_of: dt.date,
           overrides: dict[str, tuple[str, Any]] | None = None, max_rows: int = 20_000,
           what_it_takes: bool = False, on_decided: Callable[[Batch, str], Any] | None = None,
           counts: RowCounts | None = None) -> Batch:
    """Decide every entity in `data` (the bytes of a data file named `data_name`). Raises
    ProblemsError when the pack (or an override) has errors, TooManyRows past `max_rows`.
    `what_it_takes` (the pages): each entity that does not pass gets its verified suggestions.
    `on_decided(batch, data_path)` is called while the data file still exists (the decision log
    reads each entity's input from it, as the readers read it). `counts` is updated as rows are read
    and decided (the pages show it while a long batch runs)."""
    overrides = overrides or {}
    pack = compiled(catalog, entry, as_of, overrides)
    folder = tempfile.mkdtemp(prefix="certify-web-")
    try:
        path = os.path.join(folder, data_name)
        with open(path, "wb") as handle:
            handle.write(data)
        problems: list[Problem] = []
        counts = counts if counts is not None else RowCounts()
        with DECIDE_LOCK:
            records = list(_records(pack, [path], problems, counts, max_rows, what_it_takes))
        suggestions: dict[str, Any] = {}
        if what_it_takes and isinstance(pack, Pack2):
            suggestions = {r.entity_id: found for r, found in records if found is not None}
            records = [r for r, _ in records]
        prefix = folder + os.sep
        # the temporary folder is never shown: not in a problem's file, nor in its message ("first at …")
        problems = [dataclasses.replace(p, file=p.file.replace(prefix, ""), message=p.message.replace(prefix, ""),
                                        message_zh=p.message_zh.replace(prefix, "")) for p in problems]
        if isinstance(pack, Pack2):
            records = [dataclasses.replace(r, where=r.where.replace(prefix, "")) for r in records]
            document = evaluation_json2(records, problems, counts, pack)
        else:
            records = [_unprefixed(r, prefix) for r in records]
            document = evaluation_json(records, problems, counts)
        batch = Batch(entry, as_of, pack, records, problems, counts, document, data_name, overrides, data, suggestions)
        if on_decided is not None:
            on_decided(batch, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return batch


def _unprefixed(record: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A format-1 record with the temporary folder taken out of where its entity was read."""
    entity = record.get("entity")
    if isinstance(entity, dict) and isinstance(entity.get("source"), str):
        record = {**record, "entity": {**entity, "source": entity["source"].replace(prefix, "")}}
    return record


def entities_file(entities: list[Any]) -> bytes:
    """Entities posted as JSON, as a JSON data file the readers read (`{"entities": [...]}`)."""
    return json.dumps({"entities": entities}, ensure_ascii=False).encode("utf-8")


def pack_detail(entry: PackEntry, pack: CompiledPack | Pack2 | None) -> dict[str, Any]:
    """A pack for the API and the pages: what it is, and each parameter with its value in force
    (as compiled for the as-of date), cited; choices with their options and default; the
    criteria as written (titles, citations, tests)."""
    doc, _ = load_yaml_file(entry.path, max_bytes=PACK_MAX_BYTES)
    value = doc.value
    params = []
    for name, spec in (value.get("parameters") or {}).items():
        compiled_spec = pack.params.get(name) if pack is not None else None
        spec = spec if isinstance(spec, dict) else {}
        params.append({"name": name, "label": spec.get("label") or {}, "cite": spec.get("cite"),
                       "quote": spec.get("quote"),
                       "value": getattr(compiled_spec, "written", None) if compiled_spec else spec.get("value"),
                       "since": getattr(compiled_spec, "since", None) if compiled_spec else None,
                       "unset": spec.get("unset"), "values": spec.get("values"),
                       "editable": "value" in spec and not isinstance(spec.get("value"), (dict, list)),
                       "line": doc.where(("parameters", name))[0]})
    choices = []
    for name, spec in (value.get("choices") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        choices.append({"name": name, "label": spec.get("label") or {}, "cite": spec.get("cite"),
                        "options": spec.get("options"), "default": spec.get("default"), "reason": spec.get("reason")})
    meta = value.get("pack") or {}
    return json.loads(json.dumps({
        **entry.summary(), "source": meta.get("source"), "until": meta.get("until"), "notes": meta.get("notes"),
        "inputs": value.get("inputs"), "parameters": params, "choices": choices,
        "criteria": value.get("criteria"), "outcomes": value.get("outcomes"), "values": value.get("values"),
    }, ensure_ascii=False, default=str))
