"""Entities as every data reader builds them: the record (`RawEntity`), how files are read
(`ReadOptions`), column headers and fields checked against the pack once per file (`map_header`,
`FieldChecker`), and one mapping of fields turned into an entity with its unusable values reported
(`entity_from_item`). Shared by the text readers (engine.load.data) and the workbook readers
(engine.load.spreadsheet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.core.problems import ERROR, WARNING, Problem, ProblemsError, shown

RESERVED = ("id", "name", "expect")
MAX_CSV_COLUMNS = 10_000
# JSON data nests a few levels (members lists of records); a deeper element is refused alone.
MAX_JSON_DEPTH = 64
# Unknown columns are listed one by one up to this many, then counted: a file with 10,000 stray
# columns should give a readable report, not 10,000 lines.
MAX_UNKNOWN_LISTED = 20
# How alike (difflib ratio) an unknown column must be to an input's id or label to count as a
# misspelling of it: lead_ouput / lead_output is 0.95, has_tech_center / has_tech_centre 0.93.
NEAR_MISS = 0.75


# Header aliases officers use: 编号 (number) for id, 名称 (name); 序号 (row number) is ignored.
# Their traditional forms too, for a file read with --encoding big5.
HEADER_ALIASES = {"id": "id", "编号": "id", "編號": "id", "name": "name", "名称": "name", "名稱": "name",
                  "expect": "expect"}
IGNORED_HEADERS = {"序号", "序號"}
_EVIDENCE_KEYS = ("by", "date", "ref", "note")


@dataclass
class RawEntity:
    file: str
    line: int  # line where the entity starts (its first line, also for a multi-line CSV record)
    id: str
    name: str | None
    fields: dict[str, Any]
    expect: dict[str, Any] | None = None
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadOptions:
    """How data files are read. `pack` lets a reader check columns and fields once per file (an
    unknown column is reported once, not on every row, and its values are not kept)."""

    pack: Any = None
    encoding: str | None = None  # None: UTF-8, else GBK/GB18030 when that is plausible
    allow_unknown_columns: bool = False  # a near-miss of an input is then a warning, not an error


def _p(file: str, line: int, col: int, code: str, en: str, zh: str, severity: str = ERROR, path: str = "",
       refused_row: bool = False) -> Problem:
    return Problem(file, line, col, code, en, path, severity, message_zh=zh, refused_row=refused_row)


def _fatal(file: str, line: int, col: int, code: str, en: str, zh: str) -> ProblemsError:
    return ProblemsError([_p(file, line, col, code, en, zh)])


# ---------------------------------------------------------------------------------------------
# Columns and fields, checked against the pack once per file


_LABEL_CACHE: dict[int, tuple[Any, dict[str, str]]] = {}


def label_ids(pack: Any) -> dict[str, str]:
    """Casefolded zh/en labels of the pack's (non-derived) inputs → input id. Column headers may
    name an input by its label instead of its id. Built once per pack (it was a measurable share
    of each entity's time in bench/)."""
    cached = _LABEL_CACHE.get(id(pack))
    if cached is not None and cached[0] is pack:
        return cached[1]
    out: dict[str, str] = {}
    for name, spec in pack.inputs.items():
        if spec.derived is None:
            for text in spec.label.values():
                out.setdefault(str(text).strip().casefold(), name)
    _LABEL_CACHE[id(pack)] = (pack, out)
    return out


def resolve_field(pack: Any, key: str) -> str | None:
    """The input id a column or field names (its id, its zh/en label, or `input.by` evidence of
    an attestation), or None when the pack has no such input."""
    inputs, labels = pack.inputs, label_ids(pack)
    if key in inputs and inputs[key].derived is None:
        return key
    if key.strip().casefold() in labels:
        return labels[key.strip().casefold()]
    base, dot, sub = key.partition(".")
    if dot:
        base = base if base in inputs else labels.get(base.strip().casefold(), "")
        spec = inputs.get(base)
        if spec is not None and spec.derived is None and spec.type == "attestation" and sub in _EVIDENCE_KEYS:
            return base
    return None


class FieldChecker:
    """Decides, once per name and file, whether a column or field is kept, and reports each
    unknown one once (E130 warning, with its did-you-mean). A near-miss of an input's id or label
    (`lead_ouput`) is an error (E137): the value would otherwise be silently unused and every
    criterion that needs it undetermined; `allow_unknown_columns` makes it a warning."""

    def __init__(self, file: str, options: ReadOptions, what: str = "column"):
        self.file, self.options, self.what = file, options, what
        self.pack = options.pack
        self.decided: dict[str, bool] = {}
        self.listed = 0
        self.unlisted: list[tuple[str, bool]] = []  # (name, near miss) beyond MAX_UNKNOWN_LISTED
        self.first_unlisted: tuple[int, int] | None = None
        self.problems: list[Problem] = []
        self._choices: tuple[str, ...] | None = None

    def _near(self, key: str) -> str | None:
        """The input id or label `key` is a near-miss of (difflib ratio ≥ NEAR_MISS), or None.

        difflib on every pair took 3.4 s for a 10,000-column header; a pair can only reach the
        cutoff if enough of the key's characters occur in the choice at all (difflib's matches
        are at most that count), so the others are never compared."""
        import difflib

        if self._choices is None:
            names = [n for n, s in self.pack.inputs.items() if s.derived is None]
            labels = [str(t) for s in self.pack.inputs.values() if s.derived is None for t in s.label.values()]
            self._choices = tuple(dict.fromkeys(names + labels))
            self._postings: dict[str, list[int]] = {}
            for index, choice in enumerate(self._choices):
                for char in set(choice):
                    self._postings.setdefault(char, []).append(index)
        hits: dict[int, int] = {}
        for char in key:
            for index in self._postings.get(char, ()):
                hits[index] = hits.get(index, 0) + 1
        need = NEAR_MISS / 2
        candidates = [self._choices[i] for i, h in hits.items() if h >= need * (len(key) + len(self._choices[i]))]
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=NEAR_MISS) if candidates else []
        return close[0] if close else None

    def keep(self, key: str, line: int, col: int) -> bool:
        if self.pack is None:
            return True
        known = self.decided.get(key)
        if known is not None:
            return known
        ok = resolve_field(self.pack, key) is not None
        self.decided[key] = ok
        if not ok:
            self._unknown(key, line, col)
        return ok

    def _unknown(self, key: str, line: int, col: int) -> None:
        near = self._near(key)
        error = near is not None and not self.options.allow_unknown_columns
        if self.listed >= MAX_UNKNOWN_LISTED:
            self.unlisted.append((key, error))
            self.first_unlisted = self.first_unlisted or (line, col)
            return
        self.listed += 1
        what_zh = "列" if self.what == "column" else "字段"
        if near is not None:
            hint, hint_zh = f"; did you mean {near!r}?", f"; 是否应为 {near!r}?"
            if error:
                self.problems.append(_p(
                    self.file, line, col, "E137",
                    f"unknown {self.what} {shown(key)}{hint} Its values are not used, so the criteria that need "
                    f"{near!r} cannot be decided; correct the {self.what} name, or pass --allow-unknown-columns "
                    "if it really is extra",
                    f"未知{what_zh} {shown(key)}{hint_zh} 其中的数值不会被使用, 需要 {near!r} 的条件将无法判定; "
                    f"请更正{what_zh}名, 如确属多余, 可加 --allow-unknown-columns"))
                return
        else:
            hint = hint_zh = ""
        self.problems.append(_p(
            self.file, line, col, "E130",
            f"unknown {self.what} {shown(key)}{hint}; it is ignored (in every row)",
            f"未知{what_zh} {shown(key)}{hint_zh}; 已忽略 (所有行)", WARNING))

    def finish(self) -> list[Problem]:
        """The problems found, with one line for the unknown names beyond the listed ones."""
        if self.unlisted:
            line, col = self.first_unlisted or (1, 1)
            errors = sum(1 for _, e in self.unlisted if e)
            sample = ", ".join(shown(k, 20) for k, _ in self.unlisted[:5])
            what_zh = "列" if self.what == "column" else "字段"
            self.problems.append(_p(
                self.file, line, col, "E137" if errors else "E130",
                f"{len(self.unlisted)} more unknown {self.what}s ({sample}, …) are ignored"
                + (f"; {errors} of them look like misspelt inputs" if errors else ""),
                f"另有 {len(self.unlisted)} 个未知{what_zh} ({sample}, …) 已忽略"
                + (f"; 其中 {errors} 个疑似输入名拼写错误" if errors else ""),
                ERROR if errors else WARNING))
            self.unlisted = []
        out, self.problems = self.problems, []
        return out


@dataclass
class HeaderMap:
    """What each column of a header row holds: `keys[i]` is the field name for column i (`id`,
    `name`, `expect` or the header text of an input), or None when the column is not read (empty,
    序号, unknown, duplicated). `problems` are the header's own problems."""

    keys: list[str | None]
    problems: list[Problem]


def map_header(header: list[Any], file: str, line: int = 1, options: ReadOptions | None = None,
               checker: FieldChecker | None = None) -> HeaderMap:
    """The one place a header row of a CSV file or a worksheet is understood.

    Accepts `id`/`编号` and `name`/`名称`, ignores `序号` (a row number) silently, and maps each
    other column to a pack input by its id or zh/en label (when `options.pack` is given). A
    duplicated column is an error (E135) and neither copy is read: which value would count is
    a guess. Raises ProblemsError when the header cannot be used (no id column, id duplicated,
    too many columns)."""
    options = options or ReadOptions()
    checker = checker or FieldChecker(file, options)
    texts = ["" if h is None else str(h).strip() for h in header]
    if len(texts) > MAX_CSV_COLUMNS:
        raise _fatal(file, line, 1, "E138", f"the header row has {len(texts)} columns; at most {MAX_CSV_COLUMNS} are read",
                     f"表头有 {len(texts)} 列, 最多读取 {MAX_CSV_COLUMNS} 列")
    problems: list[Problem] = []
    keys: list[str | None] = []
    for text in texts:
        alias = HEADER_ALIASES.get(text) or HEADER_ALIASES.get(text.casefold())
        if alias:
            keys.append(alias)
        elif not text or text in IGNORED_HEADERS:
            keys.append(None)
        else:
            keys.append(text)
    # Two columns for the same thing (twice `lead_output`, or the id and the label of one input).
    first_of: dict[str, int] = {}
    dropped: set[str] = set()
    for index, key in enumerate(keys):
        if key is None:
            continue
        same = key
        if options.pack is not None and key not in RESERVED:
            same = resolve_field(options.pack, key) or key
            if "." in key and same != key:
                same = same + "." + key.partition(".")[2]
        if same in first_of:
            first = first_of[same]
            problems.append(_p(
                file, line, index + 1, "E135",
                f"column {index + 1} ({shown(texts[index])}) repeats column {first + 1} ({shown(texts[first])}); "
                "neither is read, since which value counts would be a guess: delete one of them",
                f"第 {index + 1} 列 ({shown(texts[index])}) 与第 {first + 1} 列 ({shown(texts[first])}) 重复; "
                "无法判断以哪一列为准, 两列都不读取: 请删除其中一列"))
            dropped.add(same)
        else:
            first_of[same] = index
    if "id" in dropped:
        raise ProblemsError(problems)
    if "id" not in first_of:
        raise ProblemsError(problems + [_p(file, line, 1, "E111", "the header row has no id column (id or 编号)",
                                           "表头没有编号列 (id 或 编号)")])
    out: list[str | None] = []
    for index, key in enumerate(keys):
        if key is None or key in dropped:
            out.append(None)
            continue
        if options.pack is not None and key not in RESERVED:
            same = resolve_field(options.pack, key)
            if same is not None and ("." in key and same + "." + key.partition(".")[2] in dropped or same in dropped):
                out.append(None)
                continue
            if not checker.keep(key, line, index + 1):
                out.append(None)
                continue
        out.append(key)
    return HeaderMap(out, problems + checker.finish())


# ---------------------------------------------------------------------------------------------
# Entry point



# ---------------------------------------------------------------------------------------------
# Values that cannot be used, whatever the format


class _Unreadable:
    """A JSON value that parses but cannot be used (NaN, a 5,000-digit integer)."""

    def __init__(self, en: str, zh: str):
        self.en, self.zh = en, zh


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


_EITHER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # one search for the usual clean text


def _bad_text(text: str) -> tuple[str, str] | None:
    if not _EITHER.search(text):
        return None
    if _SURROGATE.search(text):
        return ("contains a lone surrogate (\\ud800-\\udfff), which is not a character",
                "含有单独的代理码 (\\ud800-\\udfff), 不是有效字符")
    if _CONTROL.search(text):
        return "contains a control character (such as NUL)", "含有控制字符 (如 NUL)"
    return None


def _unusable(value: Any, depth: int = 0) -> tuple[str, str] | None:
    """Why `value` (or a part of it) cannot be used, or None."""
    if isinstance(value, _Unreadable):
        return value.en, value.zh
    if isinstance(value, str):
        return _bad_text(value)
    if depth > MAX_JSON_DEPTH:
        return "is nested too deeply", "嵌套过深"
    if isinstance(value, dict):
        for key, item in value.items():
            why = (_bad_text(key) if isinstance(key, str) else None) or _unusable(item, depth + 1)
            if why:
                return why
    elif isinstance(value, list):
        for item in value:
            why = _unusable(item, depth + 1)
            if why:
                return why
    return None


def _entity_from_mapping(file: str, line: int, index: int, item: dict[str, Any], problems: list[Problem]) -> RawEntity | None:
    """The entity of one spreadsheet row or document item (`index` counts from 0)."""
    return entity_from_item(file, line, f"entity #{index + 1}", f"第 {index + 1} 个对象", dict(item), problems)


def entity_from_item(file: str, line: int, where: str, where_zh: str, item: dict[str, Any],
                     problems: list[Problem], positions: dict[str, tuple[int, int]] | None = None,
                     checker: FieldChecker | None = None) -> RawEntity | None:
    """The entity of one row or item, or None (reported) when it has no usable id. Fields whose
    value cannot be used at all (NaN, a lone surrogate, a 5,000-digit integer) are reported (E139)
    and left out; with `checker`, fields the pack does not know are reported once and left out.
    `where`/`where_zh` name the row or item in messages."""
    positions = positions or {}
    for key in list(item):
        at = positions.get(key, (line, 1))
        why = (_bad_text(key) if isinstance(key, str) else None) or _unusable(item[key])
        if why:
            problems.append(_p(file, at[0], at[1], "E139", f"{where}: field {shown(key)} {why[0]}; it is not used",
                               f"{where_zh}: 字段 {shown(key)} {why[1]}; 该值不予使用"))
            del item[key]
    ident = item.get("id")
    if ident is None or (isinstance(ident, str) and not ident.strip()) or isinstance(ident, (dict, list)):
        problems.append(_p(file, line, 1, "E131", f"{where} has no id; give every entity an id",
                           f"{where_zh}没有编号 (id); 请为每个对象填写编号", refused_row=True))
        return None
    name = item.get("name")
    expect = item.get("expect")
    fields = {}
    for key, value in item.items():
        if key in RESERVED:
            continue
        if checker is not None:
            at = positions.get(key, (line, 1))
            if not checker.keep(str(key), at[0], at[1]):
                continue
        fields[key] = value
    entity = RawEntity(file, line, str(ident).strip(), None if name is None else str(name), fields,
                       expect if isinstance(expect, dict) else None)
    entity.positions = {k: positions.get(k, (line, 1)) for k in item}
    return entity


# ---------------------------------------------------------------------------------------------
# YAML and JSON documents


