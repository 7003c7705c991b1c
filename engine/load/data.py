"""Load stage for entity data: YAML, JSON and CSV files of towns, zones or firms.

A file holds one entity, a list of entities, or `{entities: [...]}`. CSV may be UTF-8, UTF-8 with
a BOM, or GBK/GB18030 (what Excel saves on Chinese Windows); any other encoding is named with
`--encoding`. A row that cannot be used is reported with its line and skipped; every other row is
still returned. Nothing is dropped or garbled silently: a runaway quote, a duplicate column or key,
a byte that does not fit the encoding, an unreadable value each becomes a problem with a code and
a position.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections import deque
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Iterator

from engine.core.problems import Problem, ProblemsError, shown
from engine.load.entities import (MAX_CSV_COLUMNS, MAX_JSON_DEPTH, FieldChecker, RawEntity, ReadOptions, _fatal, _p,
                                  _Unreadable, entity_from_item, map_header)
from engine.load.parquet import parquet_entities
from engine.load.spreadsheet import xls_entities, xlsx_entities
from engine.load.yamlsafe import parse_yaml, read_limited

MAX_DATA_BYTES = 512 * 1024 * 1024
# A CSV record (one row, with the lines a quoted cell spans) is at most this long. Excel puts line
# breaks inside quoted cells (addresses, notes), so a record may span lines, but a quote that
# has not closed within these bounds is a stray quote, not a cell: it would otherwise swallow
# every row after it into one name.
MAX_RECORD_CHARS = 1024 * 1024
MAX_RECORD_LINES = 100
# One cell: Python's csv limit (csv.field_size_limit()), applied to unquoted rows too.
MAX_CELL_CHARS = 131_072
# Python refuses to turn longer digit strings into int (sys.int_info.str_digits_check_threshold);
# no amount has anywhere near this many digits.
MAX_JSON_INT_DIGITS = 4000

# ---------------------------------------------------------------------------------------------
# Encodings

_CHUNK = 1 << 20
_PLAUSIBILITY_SAMPLE = 4 << 20  # characters of a GB18030 reading looked at to judge it
# Share of the non-ASCII characters of a GB18030 reading that must be common simplified Chinese
# (GB2312 level-1 hanzi and its punctuation rows). Real GBK text scores above 0.95; Big5 bytes read
# as GB18030 score about 0.4 (Big5 trail bytes 0x40-0x7E land in GBK's rare extension area), and
# UTF-8 bytes read as GB18030 lower still.
PLAUSIBLE_SHARE = 0.8


@lru_cache(maxsize=1)
def _common_simplified() -> frozenset[str]:
    """GB2312 rows 1-3 (punctuation, full-width forms) and level 1 (the 3,755 most used hanzi),
    taken from Python's own codec so no table is copied into this file."""
    chars = set()
    for lead in list(range(0xA1, 0xA4)) + list(range(0xB0, 0xD8)):
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return frozenset(chars)


def _codec_name(requested: str, file: str) -> str:
    try:
        name = codecs.lookup(requested).name
    except LookupError:
        raise _fatal(file, 1, 1, "E136", f"unknown encoding {shown(requested)} given with --encoding; "
                     "use utf-8, gbk, gb18030 or big5",
                     f"--encoding 给出的编码 {shown(requested)} 无法识别, 请使用 utf-8、gbk、gb18030 或 big5")
    return "utf-8-sig" if name == "utf-8" else name  # a BOM is never part of the first header


def _first_bad_byte(handle: IO[bytes], encoding: str) -> int | None:
    """Offset of the first byte that does not decode in `encoding`, or None; memory stays flat."""
    decoder = codecs.getincrementaldecoder(encoding)()
    handle.seek(0)
    base = 0
    while True:
        chunk = handle.read(_CHUNK)
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            return base - pending + error.start
        if not chunk:
            # utf-8-sig keeps a lone partial BOM (b"\xef") buffered even when told the input
            # has ended, instead of raising: it is a bad byte all the same.
            left = len(decoder.getstate()[0])
            return base - left if left else None
        base += len(chunk)


def _non_ascii_before(handle: IO[bytes], offset: int) -> bool:
    handle.seek(0)
    left = offset
    while left > 0:
        chunk = handle.read(min(_CHUNK, left))
        if not chunk:
            break
        if not chunk.isascii():
            return True
        left -= len(chunk)
    return False


def _line_at(handle: IO[bytes], offset: int) -> int:
    handle.seek(0)
    line, left = 1, offset
    while left > 0:
        chunk = handle.read(min(_CHUNK, left))
        if not chunk:
            break
        line += chunk.count(b"\n")
        left -= len(chunk)
    return line


def _gb_plausibility(handle: IO[bytes]) -> float:
    common = _common_simplified()
    handle.seek(0)
    decoder = codecs.getincrementaldecoder("gb18030")(errors="replace")
    seen = hits = read = 0
    while read < _PLAUSIBILITY_SAMPLE and (chunk := handle.read(_CHUNK)):
        read += len(chunk)
        for char in decoder.decode(chunk):
            if char >= "\x80":
                seen += 1
                hits += char in common
    return hits / seen if seen else 1.0


def choose_encoding(handle: IO[bytes], file: str, requested: str | None = None) -> str:
    """The encoding of a data file, checked over the whole file, or refuse it (E136).

    With `requested` (--encoding) every byte must decode in it. Otherwise UTF-8 (BOM or not);
    a file that is not UTF-8 is read as GB18030 (⊇ GBK) only when that reading is plausible
    Chinese text; a file that starts as UTF-8 and then has other bytes mixes encodings."""
    if requested:
        encoding = _codec_name(requested, file)
        bad = _first_bad_byte(handle, encoding)
        if bad is None:
            return encoding
        line = _line_at(handle, bad)
        raise _fatal(file, line, 1, "E136",
                     f"byte {bad} (line {line}) is not valid {requested}; the file is not in the encoding "
                     "given with --encoding (or mixes encodings): save it again in one encoding",
                     f"第 {bad} 字节 (第 {line} 行) 不是有效的 {requested} 编码; 文件与 --encoding 指定的编码不符"
                     "(或混用了多种编码), 请以同一种编码重新保存")
    bad = _first_bad_byte(handle, "utf-8-sig")
    if bad is None:
        return "utf-8-sig"
    line = _line_at(handle, bad)
    if _non_ascii_before(handle, bad):
        raise _fatal(file, line, 1, "E136",
                     f"byte {bad} (line {line}) is not valid UTF-8, but the text before it is UTF-8: the file "
                     "mixes encodings (a row pasted from a GBK file?); save it again as UTF-8, or name the "
                     "encoding with --encoding",
                     f"第 {bad} 字节 (第 {line} 行) 不是有效的 UTF-8, 而此前的内容是 UTF-8: 文件混用了多种编码"
                     "(可能从 GBK 文件粘贴了行); 请整体另存为 UTF-8, 或用 --encoding 指明编码")
    if _first_bad_byte(handle, "gb18030") is None and _gb_plausibility(handle) >= PLAUSIBLE_SHARE:
        return "gb18030"
    raise _fatal(file, line, 1, "E136",
                 f"the encoding is doubtful: byte {bad} (line {line}) is not UTF-8, and read as GBK/GB18030 "
                 "the text is mostly unusual characters (Big5 traditional Chinese, or mixed encodings?); name the encoding with "
                 "--encoding big5 (or gbk, gb18030, utf-8)",
                 f"无法确定文件编码: 第 {bad} 字节 (第 {line} 行) 不是 UTF-8, 按 GBK/GB18030 读取又多为生僻字"
                 "(可能是繁体 Big5 编码, 或混用了多种编码); 请用 --encoding big5 (或 gbk、gb18030、utf-8) 指明编码")


def decode(raw: bytes, file: str, requested: str | None = None) -> tuple[str, str]:
    """Text and the encoding it was read with (see `choose_encoding`)."""
    if not raw.strip():
        raise _fatal(file, 1, 1, "E133", "file is empty: no entities", "文件为空: 没有任何对象")
    encoding = choose_encoding(io.BytesIO(raw), file, requested)
    return raw.decode(encoding), encoding


def _read_bytes(file: str) -> bytes:
    try:
        with open(file, "rb") as handle:
            raw = read_limited(handle, MAX_DATA_BYTES)  # not read(MAX + 1): that allocates 512 MiB
    except OSError as error:
        raise _fatal(file, 1, 1, "E100", f"cannot read file: {error.strerror}", f"无法读取文件: {error.strerror}")
    if len(raw) > MAX_DATA_BYTES:
        raise _too_large(file)
    return raw


def _too_large(file: str) -> ProblemsError:
    return _fatal(file, 1, 1, "E100", f"file is larger than {MAX_DATA_BYTES} bytes",
                  f"文件超过 {MAX_DATA_BYTES} 字节的上限")


def load_entities(file: str, problems: list[Problem], options: ReadOptions | None = None) -> Iterator[RawEntity]:
    """Entities in `file`; problems with single rows are appended to `problems`.

    Raises ProblemsError when the file as a whole cannot be read.
    """
    options = options or ReadOptions()
    suffix = Path(file).suffix.lower()
    if suffix == ".csv":
        yield from _csv_entities(file, None, problems, options)
        return
    if suffix == ".parquet":  # streamed by record batch (engine.load.parquet)
        yield from parquet_entities(file, problems, options)
        return
    raw = _read_bytes(file)
    if suffix in (".yaml", ".yml", ".json"):
        yield from _document_entities(file, raw, suffix, problems, options)
    elif suffix in (".xlsx", ".xlsm"):
        yield from xlsx_entities(file, raw, problems, options)
    elif suffix == ".xls":
        yield from xls_entities(file, raw, problems, options)
    else:
        raise _fatal(file, 1, 1, "E100", f"unknown data file type {shown(suffix)}; use .yaml, .json, .csv, .xlsx, .xls "
                     "or .parquet", f"无法识别的数据文件类型 {shown(suffix)}; 请使用 .yaml、.json、.csv、.xlsx、.xls 或 .parquet")


# ---------------------------------------------------------------------------------------------
# YAML and JSON documents


def _document_entities(file: str, raw: bytes, suffix: str, problems: list[Problem],
                       options: ReadOptions) -> Iterator[RawEntity]:
    text, _ = decode(raw, file, options.encoding)
    checker = FieldChecker(file, options, "field")
    if suffix == ".json":
        yield from _json_entities(file, text, problems, checker)
    else:
        yield from _yaml_entities(file, text, problems, checker)
    problems.extend(checker.finish())


def _yaml_entities(file: str, text: str, problems: list[Problem], checker: FieldChecker) -> Iterator[RawEntity]:
    doc = parse_yaml(text, file)
    value, positions = doc.value, doc.positions
    prefix: tuple[Any, ...] = ()
    single = False
    if isinstance(value, dict) and "entities" in value:
        extra = sorted(str(k) for k in value if k != "entities")
        if extra:
            line = positions.get((extra[0],), (1, 1))
            problems.append(_p(file, line[0], line[1], "E130", f"unknown top-level field {shown(extra[0])}; expected only entities",
                               f"未知的顶层字段 {shown(extra[0])}; 顶层只应有 entities"))
        value, prefix = value["entities"], ("entities",)
    elif isinstance(value, dict):
        value, single = [value], True
    if not isinstance(value, list):
        raise _fatal(file, 1, 1, "E133", "expected a list of entities or {entities: [...]}",
                     "应为对象列表或 {entities: [...]}")
    if not value:
        raise _fatal(file, 1, 1, "E133", "the file has no entities", "文件中没有任何对象")
    for index, item in enumerate(value):
        path = () if single else prefix + (index,)
        line, col = positions.get(path, positions.get((), (1, 1)))
        if not isinstance(item, dict):
            problems.append(_p(file, line, col, "E131", f"entity #{index + 1} is not a mapping of field: value",
                               f"第 {index + 1} 个对象不是 字段: 值 的映射", refused_row=True))
            continue
        where = {k: positions.get(path + (k,), (line, col)) for k in item}
        entity = entity_from_item(file, line, f"entity #{index + 1}", f"第 {index + 1} 个对象", dict(item),
                                      problems, where, checker)
        if entity is not None:
            yield entity


class _Bad(Exception):
    def __init__(self, pos: int, en: str, zh: str):
        super().__init__(en)
        self.pos, self.en, self.zh = pos, en, zh


_WS = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_SCALAR = re.compile(r'[^\s,:\[\]{}"]+')
_BRACKET_OR_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


class _JsonText:
    """JSON text walked element by element, so one bad entity (too deep, a syntax error inside
    it, a duplicate key) is reported alone and the others are still read. The walk only finds
    where values begin and end; json's own decoder reads each entity."""

    def __init__(self, file: str, text: str):
        self.file, self.text = file, text
        self._at = (0, 1)  # (offset, line) of the last position asked for: positions mostly grow
        self.duplicates: list[str] = []
        self.decoder = json.JSONDecoder(parse_float=Decimal, parse_int=self._int, parse_constant=self._constant,
                                        object_pairs_hook=self._object, strict=False)

    @staticmethod
    def _int(text: str) -> Any:
        if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
            return _Unreadable(f"is an integer of {len(text)} digits, far beyond any amount",
                               f"是 {len(text)} 位的整数, 远超任何金额的范围")
        return int(text)

    @staticmethod
    def _constant(text: str) -> Any:
        return _Unreadable(f"is {text}, which is not a number; write the value, or leave the field out",
                           f"为 {text}, 不是数值; 请填写实际数值, 或删去该字段")

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                self.duplicates.append(key)
            out[key] = value
        return out

    def where(self, pos: int) -> tuple[int, int]:
        offset, line = self._at
        if pos < offset:
            offset, line = 0, 1
        line += self.text.count("\n", offset, pos)
        self._at = (pos, line)
        start = self.text.rfind("\n", 0, pos) + 1
        return line, pos - start + 1

    def ws(self, i: int) -> int:
        return _WS.match(self.text, i).end()  # type: ignore[union-attr]

    def skip(self, i: int) -> tuple[int, int, list[tuple[str, int]]]:
        """End of the value starting at `i`, its depth, and its own keys (if an object) with
        their offsets. Raises _Bad where the text cannot be followed."""
        text, n = self.text, len(self.text)
        depth = deepest = 0
        keys: list[tuple[str, int]] = []
        stack: list[str] = []
        previous = ""
        while True:
            i = self.ws(i)
            if i >= n:
                raise _Bad(i, "unexpected end of file (a bracket or brace is not closed)",
                           "文件意外结束 (有括号未闭合)")
            c = text[i]
            if c == '"':
                match = _STRING.match(text, i)
                if not match:
                    raise _Bad(i, "a string is not closed", "字符串未闭合")
                if depth == 1 and stack[-1] == "{" and previous in "{,":
                    try:
                        keys.append((json.loads(match.group(), strict=False), i))
                    except ValueError:
                        raise _Bad(i, "a key is not valid JSON text", "键不是有效的 JSON 文本")
                i = match.end()
            elif c in "[{":
                stack.append(c)
                depth += 1
                deepest = max(deepest, depth)
                i += 1
                if depth > MAX_JSON_DEPTH:
                    # Refused anyway: only its end is needed, found by brackets alone.
                    return self._end_of_deep(i, depth), deepest + 1, keys
            elif c in "]}":
                if not stack or {"]": "[", "}": "{"}[c] != stack.pop():
                    raise _Bad(i, f"unexpected {c!r}", f"意外的 {c!r}")
                depth -= 1
                i += 1
            elif c in ",:":
                if depth == 0:
                    raise _Bad(i, f"unexpected {c!r}", f"意外的 {c!r}")
                i += 1
            else:
                match = _SCALAR.match(text, i)
                if not match:
                    raise _Bad(i, f"unexpected character {shown(c)}", f"意外的字符 {shown(c)}")
                i = match.end()
            previous = c
            if depth == 0:
                return i, deepest, keys

    def _end_of_deep(self, i: int, depth: int) -> int:
        for match in _BRACKET_OR_STRING.finditer(self.text, i):
            token = match.group()
            if token in "[{":
                depth += 1
            elif token in "]}":
                depth -= 1
                if depth == 0:
                    return match.end()
        raise _Bad(len(self.text), "unexpected end of file (a bracket or brace is not closed)",
                   "文件意外结束 (有括号未闭合)")

    def expect(self, i: int, char: str) -> int:
        i = self.ws(i)
        if i >= len(self.text) or self.text[i] != char:
            found = "the end of the file" if i >= len(self.text) else shown(self.text[i])
            raise _Bad(i, f"expected {char!r} but found {found}", f"此处应为 {char!r}, 实际为 {found}")
        return i + 1

    def array_items(self, i: int) -> Iterator[tuple[int, int, int, list[tuple[str, int]]]]:
        """(start, end, depth, keys) of each item of the array at `i` (just after its `[`)."""
        i = self.ws(i)
        if i < len(self.text) and self.text[i] == "]":
            self.end = i + 1
            return
        while True:
            start = self.ws(i)
            end, depth, keys = self.skip(start)
            yield start, end, depth, keys
            i = self.ws(end)
            if i < len(self.text) and self.text[i] == "]":
                self.end = i + 1
                return
            i = self.expect(i, ",")

    def decode(self, start: int) -> Any:
        self.duplicates = []
        return self.decoder.raw_decode(self.text, start)[0]


def _json_entities(file: str, text: str, problems: list[Problem], checker: FieldChecker) -> Iterator[RawEntity]:
    doc = _JsonText(file, text)

    def bad(error: _Bad) -> ProblemsError:
        line, col = doc.where(error.pos)
        return _fatal(file, line, col, "E101", f"JSON syntax error: {error.en}", f"JSON 语法错误: {error.zh}")

    try:
        i = doc.ws(0)
        if i >= len(text):
            raise _fatal(file, 1, 1, "E133", "file is empty: no entities", "文件为空: 没有任何对象")
        if text[i] == "[":
            items: Iterator[Any] = doc.array_items(i + 1)
            count = yield from _json_items(doc, items, problems, checker, "")
        elif text[i] == "{":
            end, depth, keys = doc.skip(i)
            if "entities" not in [k for k, _ in keys]:
                count = yield from _json_items(doc, iter([(i, end, depth, keys)]), problems, checker, None)
                doc.end = end
            else:
                count = yield from _json_wrapped(doc, i, problems, checker)
        else:
            raise _fatal(file, *doc.where(i), "E133", "expected a list of entities or {entities: [...]}",
                         "应为对象列表或 {entities: [...]}")
        rest = doc.ws(doc.end)
        if rest < len(text):
            raise _Bad(rest, "extra text after the data", "数据之后还有多余内容")
    except _Bad as error:
        raise bad(error)
    if not count:
        raise _fatal(file, 1, 1, "E133", "the file has no entities", "文件中没有任何对象")


def _json_wrapped(doc: _JsonText, i: int, problems: list[Problem], checker: FieldChecker) -> Iterator[RawEntity]:
    """{"entities": [...], ...}: the list is walked item by item, other keys are reported."""
    file, text = doc.file, doc.text
    i = doc.expect(i, "{")
    count, seen = 0, set()
    while True:
        i = doc.ws(i)
        if text.startswith("}", i) and not seen:
            i += 1
            break
        key_at = i
        match = _STRING.match(text, i)
        if not match:
            raise _Bad(i, "expected a key in double quotes", "此处应为双引号括起的键")
        key = json.loads(match.group(), strict=False)
        i = doc.expect(match.end(), ":")
        i = doc.ws(i)
        if key in seen:
            problems.append(_p(file, *doc.where(key_at), "E135", f"duplicate top-level key {shown(key)}; the second is ignored",
                               f"顶层键 {shown(key)} 重复; 第二个已忽略"))
            i, _, _ = doc.skip(i)
        elif key == "entities" and text.startswith("[", i):
            count = yield from _json_items(doc, doc.array_items(i + 1), problems, checker, "entities")
            i = doc.end
        elif key == "entities":
            raise _fatal(file, *doc.where(i), "E133", "entities must be a list", "entities 应为列表")
        else:
            problems.append(_p(file, *doc.where(key_at), "E130", f"unknown top-level field {shown(key)}; expected only entities",
                               f"未知的顶层字段 {shown(key)}; 顶层只应有 entities"))
            i, _, _ = doc.skip(i)
        seen.add(key)
        i = doc.ws(i)
        if text.startswith("}", i):
            i += 1
            break
        i = doc.expect(i, ",")
    doc.end = i
    return count


def _json_items(doc: _JsonText, items: Iterator[Any], problems: list[Problem], checker: FieldChecker,
                prefix: str | None) -> Iterator[RawEntity]:
    file = doc.file
    count = 0
    for index, (start, end, depth, keys) in enumerate(items):
        count += 1
        line, col = doc.where(start)
        where, where_zh = f"entity #{index + 1}", f"第 {index + 1} 个对象"
        if depth > MAX_JSON_DEPTH:
            problems.append(_p(file, line, col, "E103", f"{where} is nested deeper than {MAX_JSON_DEPTH} levels; it is skipped",
                               f"{where_zh}嵌套超过 {MAX_JSON_DEPTH} 层; 已跳过", refused_row=True))
            continue
        try:
            value = doc.decode(start)
        except json.JSONDecodeError as error:
            at = doc.where(error.pos)
            problems.append(_p(file, at[0], at[1], "E101", f"JSON syntax error in {where}: {error.msg}; it is skipped",
                               f"{where_zh}存在 JSON 语法错误: {error.msg}; 已跳过", refused_row=True))
            continue
        except RecursionError:
            problems.append(_p(file, line, col, "E103", f"{where} is nested too deeply to read; it is skipped",
                               f"{where_zh}嵌套过深, 无法读取; 已跳过", refused_row=True))
            continue
        if not isinstance(value, dict):
            problems.append(_p(file, line, col, "E131", f"{where} is not a mapping of field: value",
                               f"{where_zh}不是 字段: 值 的映射", refused_row=True))
            continue
        positions: dict[str, tuple[int, int]] = {}
        repeated: dict[str, tuple[int, int]] = {}
        for key, offset in keys:
            if key in positions:
                repeated.setdefault(key, doc.where(offset))
            else:
                positions[key] = doc.where(offset)
        for key, at in repeated.items():
            problems.append(_p(file, at[0], at[1], "E135",
                               f"{where}: key {shown(key)} appears twice (first at line {positions[key][0]}); neither "
                               "value is used, since which one counts would be a guess",
                               f"{where_zh}: 键 {shown(key)} 出现两次 (第一次在第 {positions[key][0]} 行); "
                               "无法判断以哪个为准, 两个值都不使用"))
            if key == "id":
                value = {}
            value.pop(key, None)
        nested = [k for k in doc.duplicates if k not in repeated]
        if nested:
            problems.append(_p(file, line, col, "E135",
                               f"{where}: key {shown(nested[0])} appears twice inside one of its values; that field "
                               "is not used",
                               f"{where_zh}: 某个值内部的键 {shown(nested[0])} 出现两次; 该字段不予使用"))
            for key in list(value):
                if _mentions(value[key], set(nested)):
                    del value[key]
        entity = entity_from_item(file, line, where, where_zh, value, problems, positions, checker)
        if entity is not None:
            yield entity
    return count


def _mentions(value: Any, keys: set[str], depth: int = 0) -> bool:
    if depth > MAX_JSON_DEPTH:
        return False
    if isinstance(value, dict):
        return any(k in keys or _mentions(v, keys, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(v, keys, depth + 1) for v in value)
    return False


# ---------------------------------------------------------------------------------------------
# CSV


_TOO_LONG = object()
_SENTINEL = "\ue000end-of-line\ue001"  # private-use characters: never in an officer's file


class _Lines:
    """Physical lines of a text file with their numbers. Lines read ahead for a quoted cell that
    turned out to be a stray quote are put back and read again as rows of their own."""

    def __init__(self, handle: IO[str]):
        self.handle = handle
        self.number = 0
        self.back: deque[tuple[int, Any]] = deque()

    def take(self) -> tuple[int, Any] | None:
        if self.back:
            return self.back.popleft()
        text = self.handle.readline(MAX_RECORD_CHARS + 1)
        if not text:
            return None
        self.number += 1
        if len(text) > MAX_RECORD_CHARS:
            # Skip the rest of the line without holding it: memory stays bounded.
            while text and not text.endswith(("\n", "\r")):
                text = self.handle.readline(_CHUNK)
            return self.number, _TOO_LONG
        return self.number, text

    def put_back(self, lines: list[tuple[int, Any]]) -> None:
        self.back.extendleft(reversed(lines))


def _csv_records(lines: _Lines, file: str, problems: list[Problem], width: list[int]) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) of each CSV record. `width[0]` is the header's width once known.

    A record whose quoted cell runs past the end of its line is accepted only when the cell
    closes within MAX_RECORD_LINES lines and MAX_RECORD_CHARS characters, every quote in it is
    well formed (and they pair up), and the record has exactly the header's number of cells
    (Excel writes every cell of a row). Otherwise the quote is a stray one: it is reported at the line where it
    opened (E134), that line is skipped, and the lines after it are read as rows again."""
    while True:
        first = lines.take()
        if first is None:
            return
        number, text = first
        if text is _TOO_LONG:
            if not width:
                raise _fatal(file, number, 1, "E138",
                             f"the header row is longer than {MAX_RECORD_CHARS} characters "
                             f"(at most {MAX_CSV_COLUMNS} columns are read)",
                             f"表头行超过 {MAX_RECORD_CHARS} 个字符 (最多读取 {MAX_CSV_COLUMNS} 列)")
            problems.append(_too_long(file, number))
            continue
        if '"' not in text:
            cells = text.rstrip("\r\n").split(",")
            if len(text) > MAX_CELL_CHARS and max(map(len, cells)) > MAX_CELL_CHARS:
                problems.append(_cell_too_long(file, number))
                continue
            yield number, cells
            continue
        taken = [first]
        state = {"chars": len(text), "too_long": False}

        def feed() -> Iterator[str]:
            yield text
            while len(taken) < MAX_RECORD_LINES and state["chars"] <= MAX_RECORD_CHARS:
                nxt = lines.take()
                if nxt is None:
                    return
                if nxt[1] is _TOO_LONG:
                    state["too_long"] = True
                    taken.append(nxt)
                    return
                taken.append(nxt)
                state["chars"] += len(nxt[1])
                yield nxt[1]

        try:
            row = next(csv.reader(feed(), strict=True))
            error = None
        except csv.Error as caught:
            row, error = None, str(caught)
        if row is not None and len(taken) == 1:
            yield number, row
            continue
        # Quotes come in pairs in a well-formed record; a bare quote inside an unquoted cell (which
        # the csv module keeps as text) is what a stray quote meeting the next row's quotes leaves.
        if (row is not None and width and len(row) == width[0] and sum(t.count('"') for _, t in taken) % 2 == 0
                and not _swallows_rows(row, width[0])):
            yield number, row
            continue
        if len(taken) == 1 and error is not None and "field larger" in error:
            problems.append(_cell_too_long(file, number))
            continue
        if len(taken) == 1 and error is not None and "unexpected end of data" not in error:
            # A quote that is not well formed on a line of its own ("a"b): read as before,
            # leniently, unless a quote is still open at the end of the line (the sentinel line
            # would then be read into the cell).
            try:
                lenient = next(csv.reader([text, _SENTINEL]))
            except csv.Error:
                lenient = None
            if lenient is not None and not any(_SENTINEL in cell for cell in lenient):
                yield number, lenient
                continue
        lines.put_back(taken[1:])
        problems.append(_p(
            file, number, 1, "E134",
            f"line {number}: a quote (\") opens a cell that does not close on this line (nor as a well-formed "
            f"cell within {MAX_RECORD_LINES} lines); this row is skipped and the next lines are read as rows. "
            "Remove the stray quote, or close it",
            f"第 {number} 行: 引号 (\") 开始的单元格在本行内没有闭合 (在 {MAX_RECORD_LINES} 行内也不构成完整单元格); "
            "本行已跳过, 其后各行照常读取。请删除多余的引号, 或补全闭合引号", refused_row=True))


def _swallows_rows(row: list[str], width: int) -> bool:
    """A stray quote that meets a quote in a later row makes a record with exactly the header's
    cells, whose multi-line cell then holds at least a row's worth of separators (width - 1: the
    rest of the first row and the start of the last). The rows in between would be decided as one
    entity on the wrong values, so such a record is refused (loudly) rather than read. An officer's
    multi-line note with that many commas is refused too; the message says how to fix either.
    Below MIN_SWALLOW_WIDTH columns a note with a few commas is too likely, so narrow files are
    not checked this way (docs/robustness.md says so)."""
    if width < MIN_SWALLOW_WIDTH:
        return False
    return sum(cell.count(",") for cell in row if "\n" in cell or "\r" in cell) >= width - 1


MIN_SWALLOW_WIDTH = 5


def _too_long(file: str, number: int) -> Problem:
    return _p(file, number, 1, "E138",
              f"line {number}: the row is longer than {MAX_RECORD_CHARS} characters; it is skipped",
              f"第 {number} 行: 该行超过 {MAX_RECORD_CHARS} 个字符; 已跳过", refused_row=True)


def _cell_too_long(file: str, number: int) -> Problem:
    return _p(file, number, 1, "E138",
              f"line {number}: a cell is longer than {MAX_CELL_CHARS} characters; the row is skipped",
              f"第 {number} 行: 有单元格超过 {MAX_CELL_CHARS} 个字符; 该行已跳过", refused_row=True)


def _csv_open(file: str, options: ReadOptions) -> IO[str]:
    """The file as text, its encoding checked over the whole file first (memory stays flat)."""
    try:
        handle = open(file, "rb")
    except OSError as error:
        raise _fatal(file, 1, 1, "E100", f"cannot read file: {error.strerror}", f"无法读取文件: {error.strerror}")
    with handle:
        try:
            handle.seek(0, 2)
            size = handle.tell()
        except OSError:
            size = 0
        if size > MAX_DATA_BYTES:
            raise _too_large(file)
        handle.seek(0)
        if not handle.read(1 << 16).strip():
            raise _fatal(file, 1, 1, "E133", "file is empty: no entities", "文件为空: 没有任何对象")
        encoding = choose_encoding(handle, file, options.encoding)
    return open(file, encoding=encoding, newline="")


def _csv_entities(file: str, raw: bytes | None, problems: list[Problem], options: ReadOptions) -> Iterator[RawEntity]:
    """Rows streamed from the file (or from `raw` when given), so a large batch is never held
    in memory whole."""
    if raw is not None:
        text, _ = decode(raw, file, options.encoding)
        source: IO[str] = io.StringIO(text, newline="")
    else:
        source = _csv_open(file, options)
    with source:
        try:
            yield from _csv_rows(file, _Lines(source), problems, options)
        except UnicodeDecodeError as error:  # the file changed after its encoding was checked
            raise _fatal(file, 1, 1, "E136", f"the file is not valid {error.encoding} text: {error.reason}",
                         f"文件不是有效的 {error.encoding} 文本")


def _csv_rows(file: str, lines: _Lines, problems: list[Problem], options: ReadOptions) -> Iterator[RawEntity]:
    width: list[int] = []
    records = _csv_records(lines, file, problems, width)
    for header_line, header in records:
        if any(h.strip() for h in header):
            break
    else:
        raise _fatal(file, 1, 1, "E133", "the file has no rows", "文件中没有任何行")
    mapped = map_header(header, file, header_line, options)
    problems.extend(mapped.problems)
    keys = mapped.keys
    width.append(len(keys))
    seen_any = False
    for number, row in records:
        if not any(cell.strip() for cell in row):
            continue
        seen_any = True
        if len(row) > len(keys):
            problems.append(_p(file, number, 1, "E131", f"line {number}: the row has {len(row)} cells but the header has {len(keys)}",
                               f"第 {number} 行: 该行有 {len(row)} 个单元格, 而表头只有 {len(keys)} 列", refused_row=True))
            continue
        if len(row) < len(keys):
            # A short row is refused, not padded: a cell left out in the middle would shift every
            # value after it into the wrong column and decide the entity on the wrong numbers.
            problems.append(_p(
                file, number, 1, "E131",
                f"line {number}: the row has {len(row)} cells but the header has {len(keys)}; the row is skipped "
                "(write an empty cell, ,, for a value not given)",
                f"第 {number} 行: 该行只有 {len(row)} 个单元格, 而表头有 {len(keys)} 列; 该行已跳过 "
                "(未提供的值请留空单元格, 即 ,,)", refused_row=True))
            continue
        item: dict[str, Any] = {}
        positions: dict[str, tuple[int, int]] = {}
        for column, (key, cell) in enumerate(zip(keys, row), 1):
            if key is None:
                continue  # unknown, ignored or duplicated: its values are not kept
            cell = cell.strip()
            if cell:
                item[key] = cell
                positions[key] = (number, column)
        entity = entity_from_item(file, number, f"the row at line {number}", f"第 {number} 行", item,
                                      problems, positions)
        if entity is not None:
            yield entity
    if not seen_any:
        raise _fatal(file, 1, 1, "E133", "the file has a header but no entities", "文件只有表头, 没有任何对象")
