"""Variants: a format-2 pack that `extends` another (a national template with a provincial part).

`pack.extends: base.yaml` takes the base pack whole. The variant may replace any parameter and
any choice, and a value or criterion only where the base marks it `slot: true` (the template says
which parts a jurisdiction may rewrite); it may add new names of every section; it appends flags
and consequences. Inputs are never replaced (the data an entity reports is the template's), and
neither is `outcomes.decision` or `outcomes.awards` (a variant with another decision is another
policy, not a variant of this one).

This runs in the load stage, before validation: the result is one merged document that every
later stage reads as if it were one pack, plus a `Variant` record of where each part came from,
which the decision record carries. A problem in a merged part still points at the file and line
where that part is written (`MergedDocument.problem`).

`slot:` is a load-stage word: it is checked here and removed from the merged document, so the
later stages never see it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.core.problems import ERROR, Problem, ProblemsError, shown
from engine.load.yamlsafe import Document, Path, format_path, load_yaml_file

# A base is named by a plain file name in the variant's own folder: no folders, no `..`, so a
# pack can never make the engine read a file outside the folder being checked (as E175).
BASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$")
MAX_CHAIN = 4  # variant → base → base of base …: a provincial part of a national template is 2

REPLACEABLE = ("parameters", "choices")  # any entry may be replaced
SLOTTED = ("values", "criteria")  # an entry may be replaced only if the base marks it `slot: true`
ADD_ONLY = ("inputs",)  # new entries may be added, none replaced
APPENDED = ("flags", "consequences")  # outcomes lists: the variant's entries are added after the base's
FIXED_OUTCOMES = ("decision", "awards")

Reader = Callable[[str], tuple[Document, bytes]]


@dataclass(frozen=True)
class Replaced:
    section: str
    name: str
    base_file: str  # where the replaced entry was written
    variant_file: str  # where its replacement is written


@dataclass(frozen=True)
class Added:
    section: str
    name: str
    file: str


@dataclass(frozen=True)
class Variant:
    """Where the parts of a merged pack came from, for the decision record and the trace."""

    files: tuple[str, ...]  # the variant first, then its base, then the base's base …
    sha256s: tuple[str, ...]  # of each file's bytes, in the same order
    replaced: tuple[Replaced, ...]
    added: tuple[Added, ...]

    @property
    def sha256(self) -> str:
        """One hash over every file of the chain, in order: changing any of them changes it."""
        digest = hashlib.sha256()
        for file, sha in zip(self.files, self.sha256s):
            digest.update(f"{os.path.basename(file)}\0{sha}\n".encode())
        return digest.hexdigest()

    def origin(self, section: str, name: str) -> Replaced | Added | None:
        for item in (*self.replaced, *self.added):
            if item.section == section and item.name == name:
                return item
        return None


@dataclass
class MergedDocument(Document):
    """A pack merged from several files. `origins` maps a path prefix to the file its part came
    from (the longest prefix wins); `file` is the variant's, which is what the officer ran."""

    origins: dict[Path, str] = field(default_factory=dict)

    def file_of(self, path: Path) -> str:
        path = tuple(path)
        while path:
            if path in self.origins:
                return self.origins[path]
            path = path[:-1]
        return self.origins.get((), self.file)

    def problem(self, code: str, message: str, path: Path = (), severity: str = ERROR,
                message_zh: str = "") -> Problem:
        line, col = self.where(path)
        return Problem(self.file_of(path), line, col, code, message, format_path(path), severity, message_zh)


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _strip_slots(value: dict[str, Any]) -> dict[str, Any]:
    """The document without `slot:` on values and criteria (later stages do not know the word)."""
    out = dict(value)
    for section in SLOTTED:
        entries = out.get(section)
        if isinstance(entries, dict):
            out[section] = {name: ({k: v for k, v in body.items() if k != "slot"} if isinstance(body, dict) else body)
                            for name, body in entries.items()}
    return out


def _slot_problems(doc: Document) -> list[Problem]:
    problems = []
    value = doc.value if isinstance(doc.value, dict) else {}
    for section in SLOTTED:
        entries = value.get(section)
        if not isinstance(entries, dict):
            continue
        for name, body in entries.items():
            if isinstance(body, dict) and "slot" in body and body["slot"] is not True:
                problems.append(doc.problem(
                    "E209", f"{section}.{name}: slot must be true (or left out), found {shown(body['slot'])}",
                    (section, name, "slot"),
                    message_zh=f"{section}.{name} 的 slot 只能写 true（表示变体可替换此项），或者不写；现为 {shown(body['slot'])}"))
    return problems


def _base_path(doc: Document, name: Any) -> tuple[str | None, list[Problem]]:
    where = ("pack", "extends")
    if not isinstance(name, str) or not BASE_NAME.match(name):
        return None, [doc.problem(
            "E205", f"pack.extends must be the file name of a pack in the same folder (base.yaml), found {shown(name)}",
            where, message_zh=f"pack.extends 须为同一文件夹中规则包的文件名（如 base.yaml），不能含路径；现为 {shown(name)}")]
    folder = os.path.dirname(os.path.abspath(doc.file))
    path = os.path.join(folder, name)
    if os.path.dirname(os.path.realpath(path)) != os.path.realpath(folder):
        return None, [doc.problem(
            "E205", f"pack.extends {name} leads out of the folder {folder} (a symlink): not read",
            where, message_zh=f"pack.extends 所指的 {name} 是指向文件夹之外的链接，未读取")]
    if not os.path.isfile(path):
        return None, [doc.problem(
            "E205", f"pack.extends: no pack named {name} next to this one",
            where, message_zh=f"pack.extends：本规则包所在文件夹中没有 {name}")]
    # Named as the officer named the variant (relative stays relative), so records do not
    # depend on the folder the engine ran in.
    return os.path.join(os.path.dirname(doc.file), name), []


def resolve(doc: Document, raw: bytes, read: Reader = load_yaml_file) -> tuple[Document, Variant | None]:
    """The pack `doc` with its base merged in (or `doc` itself, minus `slot:` keys, if it extends
    nothing). Raises ProblemsError with every problem found in the chain."""
    merged, variant, _slots = _resolve(doc, raw, read, (os.path.realpath(doc.file),))
    return merged, variant


Slots = dict[str, set[str]]


def _marked(value: dict[str, Any]) -> Slots:
    """Names a document marks `slot: true`, by section."""
    slots: Slots = {}
    for section in SLOTTED:
        entries = value.get(section)
        if isinstance(entries, dict):
            slots[section] = {n for n, b in entries.items() if isinstance(b, dict) and b.get("slot") is True}
    return slots


def _resolve(doc: Document, raw: bytes, read: Reader,
             chain: tuple[str, ...]) -> tuple[Document, Variant | None, Slots]:
    problems = _slot_problems(doc)
    value = doc.value if isinstance(doc.value, dict) else None
    pack = value.get("pack") if value else None
    if value is None or not isinstance(pack, dict) or "extends" not in pack:
        if problems:
            raise ProblemsError(problems)
        if value is None:
            return doc, None, {}
        return Document(doc.file, _strip_slots(value), doc.positions), None, _marked(value)

    base_file, found = _base_path(doc, pack["extends"])
    problems += found
    if problems:
        raise ProblemsError(problems)
    assert base_file is not None
    real = os.path.realpath(base_file)
    if real in chain:
        names = " → ".join(os.path.basename(f) for f in (*chain, real))
        raise ProblemsError([doc.problem(
            "E207", f"packs extend each other in a cycle: {names}", ("pack", "extends"),
            message_zh=f"规则包相互继承，形成循环：{names}")])
    if len(chain) >= MAX_CHAIN:
        raise ProblemsError([doc.problem(
            "E207", f"more than {MAX_CHAIN} packs extend one another; a variant extends a template, which may extend one more",
            ("pack", "extends"),
            message_zh=f"继承层级超过 {MAX_CHAIN} 层；变体继承模板，模板至多再继承一层")])

    base_doc, base_raw = read(base_file)
    base_value = base_doc.value if isinstance(base_doc.value, dict) else {}
    if base_value.get("format") != 2 or value.get("format") != 2:
        raise ProblemsError([doc.problem(
            "E206", "pack.extends works between format-2 packs only (format: 2 in both files)",
            ("pack", "extends"),
            message_zh="只有格式 2 的规则包之间可以继承（两个文件都须写 format: 2）")])
    base_merged, base_variant, base_slots = _resolve(base_doc, base_raw, read, (*chain, real))
    return _merge(doc, raw, base_merged, base_raw, base_variant, base_slots, value)


def _positions_under(positions: dict[Path, tuple[int, int]], prefix: Path) -> dict[Path, tuple[int, int]]:
    n = len(prefix)
    return {p: at for p, at in positions.items() if p[:n] == prefix}


def _merge(doc: Document, raw: bytes, base: Document, base_raw: bytes, base_variant: Variant | None,
           base_slots: Slots, value: dict[str, Any]) -> tuple[Document, Variant, Slots]:
    base_value: dict[str, Any] = base.value
    problems: list[Problem] = []
    replaced: list[Replaced] = list(base_variant.replaced) if base_variant else []
    added: list[Added] = list(base_variant.added) if base_variant else []
    # Where each part of the base came from (a base may itself be merged).
    origins = dict(base.origins) if isinstance(base, MergedDocument) else {(): base.file}
    moved: dict[Path, Path] = {}  # a variant's path -> its path in the merged document (appended outcomes)
    # A replacement stays a slot (for a variant of this variant) only if it says so itself.
    slots = {section: set(names) for section, names in base_slots.items()}
    for section, names in _marked(value).items():
        slots.setdefault(section, set()).update(names)

    out: dict[str, Any] = {k: v for k, v in base_value.items()}
    # The variant is its own pack: its id, version and title; what it leaves out (entity,
    # source, effective …) is the template's.
    pack = dict(base_value.get("pack") or {})
    pack.update({k: v for k, v in value["pack"].items() if k != "extends"})
    out["pack"] = pack
    for key in value["pack"]:
        if key != "extends":
            origins[("pack", key)] = doc.file

    for section, entries in value.items():
        if section in ("format", "pack"):
            continue
        if section == "outcomes":
            out["outcomes"] = _merge_outcomes(doc, base_value.get("outcomes"), entries, origins, moved, problems)
            continue
        if section not in (*REPLACEABLE, *SLOTTED, *ADD_ONLY) or not isinstance(entries, dict):
            problems.append(doc.problem(
                "E209", f"a variant cannot contain {shown(section)}: it may replace or add parameters, choices, "
                        "values and criteria, add inputs, and add flags and consequences",
                (section,),
                message_zh=f"变体中不能写 {shown(section)}：变体只能替换或新增参数、选项、数值和判定项，新增输入项，以及新增标记和后果"))
            continue
        merged_section = dict(base_value.get(section) or {})
        for name, body in entries.items():
            if name in merged_section:
                if section in ADD_ONLY or (section in SLOTTED and name not in base_slots.get(section, set())):
                    why_en = ("inputs are never replaced: the data an entity reports is the template's"
                              if section in ADD_ONLY else f"the base does not mark {section}.{name} as `slot: true`")
                    why_zh = ("输入项不可替换：实体报送的数据以模板为准" if section in ADD_ONLY
                              else f"模板未将 {section}.{name} 标为可替换（slot: true）")
                    problems.append(doc.problem(
                        "E209", f"{section}.{name} cannot be replaced by a variant: {why_en}", (section, name),
                        message_zh=f"变体不能替换 {section}.{name}：{why_zh}"))
                    continue
                replaced.append(Replaced(section, str(name), origins_file(origins, (section, name)), doc.file))
            else:
                added.append(Added(section, str(name), doc.file))
            merged_section[name] = body
            origins[(section, name)] = doc.file
            if section in SLOTTED and not (isinstance(body, dict) and body.get("slot") is True):
                slots.get(section, set()).discard(name)
        out[section] = merged_section

    if problems:
        raise ProblemsError(problems)
    positions = dict(base.positions)
    for path, file in origins.items():
        if file == doc.file and path and path not in moved.values():
            for p in list(positions):
                if p[:len(path)] == path:
                    del positions[p]
            positions.update(_positions_under(doc.positions, path))
    for written, at in moved.items():
        n = len(written)
        positions.update({at + p[n:]: where for p, where in doc.positions.items() if p[:n] == written})
    files = (doc.file, *(base_variant.files if base_variant else (base.file,)))
    shas = (_sha(raw), *(base_variant.sha256s if base_variant else (_sha(base_raw),)))
    merged = MergedDocument(doc.file, _strip_slots(out), positions, origins)
    return merged, Variant(files, shas, tuple(replaced), tuple(added)), slots


def origins_file(origins: dict[Path, str], path: Path) -> str:
    path = tuple(path)
    while path:
        if path in origins:
            return origins[path]
        path = path[:-1]
    return origins[()]



def _merge_outcomes(doc: Document, base: Any, entries: Any, origins: dict[Path, str],
                    moved: dict[Path, Path], problems: list[Problem]) -> Any:
    merged = dict(base or {})
    if not isinstance(entries, dict):
        return merged
    for key, body in entries.items():
        if key in FIXED_OUTCOMES or key not in APPENDED:
            problems.append(doc.problem(
                "E209", f"outcomes.{key} cannot be changed by a variant (a variant may add flags and consequences)",
                ("outcomes", key),
                message_zh=f"变体不能修改 outcomes.{key}（变体只能新增 flags 标记和 consequences 后果）"))
            continue
        base_list = list(merged.get(key) or [])
        ids = {item.get("id") for item in base_list if isinstance(item, dict)}
        offset = len(base_list)
        for i, item in enumerate(body if isinstance(body, list) else []):
            item_id = item.get("id") if isinstance(item, dict) else None
            if item_id in ids:
                problems.append(doc.problem(
                    "E208", f"outcomes.{key}: id {shown(item_id)} is already used by the base pack",
                    ("outcomes", key, i, "id"),
                    message_zh=f"outcomes.{key}：编号 {shown(item_id)} 已在模板中使用"))
                continue
            base_list.append(item)
            origins[("outcomes", key, offset)] = doc.file
            moved[("outcomes", key, i)] = ("outcomes", key, offset)
            offset += 1
        merged[key] = base_list
    return merged
