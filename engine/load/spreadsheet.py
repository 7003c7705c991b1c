"""Spreadsheets: read entities from XLSX and XLS (decisions are written by engine.report.tables).

Reading (.xlsx with our own streaming reader, .xls with xlrd): the first worksheet. The header
is the first row, among the first 20 non-empty ones, that names an id column (`id`, `编号`, or
`序号` when there is no id), so title rows, merged titles and a unit line above it are skipped
(with a W160 note naming the row taken). Columns are named like CSV columns — `id`/`编号`,
`name`/`名称`, and one per input by its id or Chinese or English label (mapped when the entity is
normalised), with optional evidence columns such as `heritage.by`. A row that cannot be used is
reported with its row number and skipped; a cell that cannot be used (NaN, #DIV/0!, a formula
without a cached value) is reported with its address (Sheet1!C4) and treated as missing. Cell
values keep their exact meaning: whole numbers stay integers, decimals become exact decimals (the
shortest text of the stored double, never a binary float), dates become YYYY-MM-DD.

`write_entities_xlsx` writes entity data back as a workbook this reader reads (tests, fixtures).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
import zipfile
import zlib
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Sequence
from xml.parsers import expat

from engine.load.entities import HEADER_ALIASES, IGNORED_HEADERS, RawEntity, ReadOptions, entity_from_item, map_header
from engine.core.problems import ERROR, WARNING, Problem, ProblemsError, shown
from engine.core.units import parse_unit

# Limits on what a workbook may make us read. Each is checked while the file is streamed (never
# trusting a declared <dimension> or a zip entry's declared size), so a small hostile file is
# refused after bounded work. To raise one, change it here; docs/robustness.md lists them.
MAX_COLUMNS = 4096                       # columns with values (Excel's own maximum is 16,384)
MAX_ROWS = 1_048_576                     # Excel's own maximum
MAX_CELLS = 5_000_000                    # <c> elements in the sheet, empty ones included
MAX_UNCOMPRESSED = 256 * 1024 * 1024     # bytes of XML read from the zip (sheet, strings, styles…)
MAX_ZIP_MEMBERS = 10_000
MAX_SHARED_STRINGS = 1_000_000
MAX_SHARED_STRING_CHARS = 32 * 1024 * 1024
MAX_CELL_CHARS = 32_767                  # Excel's own limit for one cell's text
MAX_STYLES = 100_000                     # cell formats (Excel allows 64,000)
MAX_XLS_BYTES = 64 * 1024 * 1024         # .xls is read whole by xlrd: memory follows the file size
MAX_HEADER_SCAN = 20                     # non-empty rows searched for the header row

_UNIT_LINE = re.compile(r"(?:^|[\s,，;；(（])(?:计量)?单位\s*[:：]\s*([^\s,，;；)）]{1,8})")  # not 填报单位：

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")


class _Refused(Exception):
    """A whole-file refusal raised inside expat callbacks; turned into ProblemsError outside."""

    def __init__(self, problem: Problem):
        self.problem = problem


def _p(file: str, code: str, en: str, zh: str, line: int = 1, col: int = 1, path: str = "",
       severity: str = ERROR, refused_row: bool = False) -> Problem:
    return Problem(file, line, col, code, en, path=path, severity=severity, message_zh=zh, refused_row=refused_row)


def _col_letters(col: int) -> str:
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _address(sheet: str, row: int, col: int) -> str:
    return f"{sheet}!{_col_letters(col)}{row}"


_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})$")


def _parse_ref(ref: str) -> tuple[int, int] | None:
    match = _REF.match(ref)
    if not match:
        return None
    col = 0
    for ch in match.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return int(match.group(2)), col


def _number(text: str) -> Any:
    """An XLSX/XLS number as an exact value: the shortest decimal that reads back as the stored
    double (Excel stores binary doubles), an int when whole. None when not a finite number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    number = Decimal(repr(value))
    return int(number) if number == number.to_integral_value() and abs(number) < 10**18 else number


def _cell_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        number = _number(repr(value))
        return str(value) if number is None else number
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return value
    return str(value).strip()


class _Bad:
    """A cell whose value cannot be used; the problem is reported if the row is a data row."""

    __slots__ = ("code", "en", "zh")

    def __init__(self, code: str, en: str, zh: str):
        self.code, self.en, self.zh = code, en, zh


# ---------------------------------------------------------------------------------------------
# XLSX: our own streaming reader over the zip's XML parts (expat, no DTDs), so every limit is
# checked as bytes arrive and nothing a file declares about its own size is trusted.


class _Zip:
    def __init__(self, file: str, raw: bytes):
        self.file = file
        self.used = 0
        if raw.startswith(_OLE_MAGIC):
            if _ENCRYPTED in raw:
                raise ProblemsError([_p(file, "E160", "the workbook is password-protected (encrypted); remove the "
                                        "password in Excel (File > Info > Protect Workbook) and save it again",
                                        "工作簿设置了打开密码（已加密），无法读取。请在 Excel 中取消密码（文件 > 信息 > "
                                        "保护工作簿）后重新保存。")])
            raise ProblemsError([_p(file, "E160", "this is an old-format Excel file (.xls) named .xlsx; rename it "
                                    "to .xls, or save it as .xlsx in Excel",
                                    "该文件是旧版 Excel 格式（.xls），但扩展名为 .xlsx。请把扩展名改为 .xls，"
                                    "或在 Excel 中另存为 .xlsx。")])
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(raw))
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError) as error:
            head = raw[:512].lstrip()
            what = ("it looks like HTML or text, perhaps a web page saved under a spreadsheet name"
                    if head[:1] == b"<" or not raw.startswith(b"PK") else "the zip is damaged")
            raise ProblemsError([_p(file, "E160", f"not a readable .xlsx workbook ({type(error).__name__}: "
                                    f"{what}); open it in Excel and save it as .xlsx",
                                    "不是可读取的 .xlsx 工作簿（文件已损坏，或并非 Excel 文件）。请在 Excel 中打开，"
                                    "另存为 .xlsx 后再导入。")])
        # A damaged directory can put a part before the start of the file (zipfile adds the offset
        # of the whole zip, read from its last record, to each part's own: a wrong last record makes
        # it negative) or past its end; opening that part would fail with "negative seek value".
        outside = [i.filename for i in infos if not 0 <= i.header_offset < len(raw)]
        if outside:
            raise ProblemsError([_p(file, "E160", f"not a readable .xlsx workbook (the zip is damaged: its directory "
                                    f"places the part {shown(outside[0])} outside the file); open it in Excel and save "
                                    "it as .xlsx", "不是可读取的 .xlsx 工作簿（压缩包已损坏：目录中部件 "
                                    f"{shown(outside[0])} 的位置在文件之外）。请在 Excel 中打开，另存为 .xlsx 后再导入。")])
        if len(infos) > MAX_ZIP_MEMBERS:
            raise ProblemsError([_p(file, "E161", f"the workbook has {len(infos)} parts; at most {MAX_ZIP_MEMBERS} are read",
                                    f"工作簿包含 {len(infos)} 个部件，超过上限 {MAX_ZIP_MEMBERS}，已拒绝读取。")])
        self.infos = {i.filename: i for i in infos}

    def has(self, name: str) -> bool:
        return name in self.infos

    def check_declared(self, names: Sequence[str]) -> None:
        declared = sum(self.infos[n].file_size for n in names if n in self.infos)
        if declared > MAX_UNCOMPRESSED:
            raise ProblemsError([_p(self.file, "E161", f"the workbook unpacks to {declared:,} bytes of XML; at most "
                                    f"{MAX_UNCOMPRESSED:,} are read (a zip bomb, or split the workbook)",
                                    f"工作簿解压后有 {declared:,} 字节，超过上限 {MAX_UNCOMPRESSED:,} 字节"
                                    "（可能是压缩炸弹；如确为数据，请拆分工作簿）。")])

    def chunks(self, name: str) -> Iterator[bytes]:
        """The part's bytes in chunks, counted against the budget while they are inflated."""
        info = self.infos[name]
        try:
            with self.zip.open(info) as stream:
                got = 0
                while True:
                    chunk = stream.read(1 << 16)
                    if not chunk:
                        break
                    got += len(chunk)
                    self.used += len(chunk)
                    if self.used > MAX_UNCOMPRESSED or got > info.file_size:
                        raise ProblemsError([_p(self.file, "E161", f"the part {shown(name)} unpacks to more than the "
                                                f"{MAX_UNCOMPRESSED:,} bytes read, or more than it declares (a zip bomb?)",
                                                f"工作簿部件 {shown(name)} 解压后超过上限 {MAX_UNCOMPRESSED:,} 字节，"
                                                "或超过其声明的大小（可能是压缩炸弹），已拒绝读取。")])
                    yield chunk
        # ValueError: a seek the damaged zip asks for that the file cannot do (checked above; kept as a guard)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as error:
            encrypted = isinstance(error, RuntimeError) and "encrypt" in str(error).lower()
            raise ProblemsError([_p(self.file, "E160", f"the workbook is damaged: part {shown(name)} cannot be unpacked "
                                    f"({type(error).__name__}{', encrypted' if encrypted else ''}); open it in Excel "
                                    "and save it again", f"工作簿已损坏：部件 {shown(name)} 无法解压。请在 Excel 中打开并"
                                    "重新保存后再导入。")])


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def _attr(attrs: dict[str, str], name: str) -> str | None:
    for key, value in attrs.items():
        if _local(key) == name:
            return value
    return None


def _parser(file: str, part: str) -> Any:
    parser = expat.ParserCreate()
    parser.buffer_text = True

    def refuse(*_: Any) -> None:
        raise _Refused(_p(file, "E160", f"the part {shown(part)} has a DOCTYPE or entity declaration, which "
                          "workbooks never need; refused", f"工作簿部件 {shown(part)} 含有 DOCTYPE 或实体声明"
                          "（正常的 Excel 文件不会有），已拒绝读取。"))

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    return parser


def _parse(zf: _Zip, part: str, parser: Any, after_chunk: Callable[[], Iterator[Any]] | None = None) -> Iterator[Any]:
    try:
        for chunk in zf.chunks(part):
            parser.Parse(chunk, False)
            if after_chunk is not None:
                yield from after_chunk()
        parser.Parse(b"", True)
        if after_chunk is not None:
            yield from after_chunk()
    except expat.ExpatError as error:
        raise ProblemsError([_p(zf.file, "E160", f"the workbook is damaged: XML error in part {shown(part)} at line "
                                f"{error.lineno}: {expat.ErrorString(error.code)}", f"工作簿已损坏：部件 {shown(part)} "
                                f"第 {error.lineno} 行的 XML 有误。请在 Excel 中打开并重新保存后再导入。")])
    except _Refused as refused:
        raise ProblemsError([refused.problem])


def _run(zf: _Zip, part: str, parser: Any) -> None:
    for _ in _parse(zf, part, parser):
        pass


def _resolve(base: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts = base.split("/")[:-1]
    for piece in target.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


def _workbook_parts(zf: _Zip) -> tuple[str, str, str | None, str | None, bool]:
    """(first sheet's name, its part, shared strings part, styles part, 1904 dates)."""
    file = zf.file
    workbook = "xl/workbook.xml"
    if not zf.has(workbook):
        raise ProblemsError([_p(file, "E160", "the zip holds no Excel workbook (xl/workbook.xml): not an .xlsx file "
                                "(a .docx, .ods or another zip?)", "压缩包中没有 Excel 工作簿（xl/workbook.xml），"
                                "不是 .xlsx 文件。请在 Excel 中另存为 .xlsx。")])
    rels_part = "xl/_rels/workbook.xml.rels"
    zf.check_declared([workbook, rels_part])
    sheets: list[tuple[str, str | None]] = []
    state = {"date1904": False}
    parser = _parser(file, workbook)

    def start(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "sheet" and len(sheets) < 1:
            sheets.append((attrs.get("name") or "Sheet1", _attr(attrs, "id")))
        elif local == "workbookPr" and attrs.get("date1904") in ("1", "true"):
            state["date1904"] = True

    parser.StartElementHandler = start
    _run(zf, workbook, parser)
    rels: dict[str, str] = {}
    by_type: dict[str, str] = {}
    if zf.has(rels_part):
        parser = _parser(file, rels_part)

        def rel(name: str, attrs: dict[str, str]) -> None:
            if _local(name) == "Relationship" and len(rels) < MAX_ZIP_MEMBERS:
                target = _resolve(workbook, attrs.get("Target") or "")
                rels[attrs.get("Id") or ""] = target
                by_type.setdefault((attrs.get("Type") or "").rsplit("/", 1)[-1], target)

        parser.StartElementHandler = rel
        _run(zf, rels_part, parser)
    if not sheets:
        raise ProblemsError([_p(file, "E133", "the workbook has no worksheets", "工作簿中没有工作表。")])
    sheet_name, rid = sheets[0]
    sheet_part = rels.get(rid or "", "xl/worksheets/sheet1.xml")
    if not zf.has(sheet_part):
        raise ProblemsError([_p(file, "E160", f"the first worksheet ({shown(sheet_name)}) is missing from the file",
                                f"工作簿中缺少第一个工作表（{shown(sheet_name)}）的内容，文件可能已损坏。")])
    strings = by_type.get("sharedStrings", "xl/sharedStrings.xml")
    styles = by_type.get("styles", "xl/styles.xml")
    return (sheet_name, sheet_part, strings if zf.has(strings) else None, styles if zf.has(styles) else None,
            state["date1904"])


def _shared_strings(zf: _Zip, part: str) -> list[Any]:
    file = zf.file
    strings: list[Any] = []
    state = {"in_si": 0, "in_t": False, "in_rph": 0, "len": 0, "total": 0}
    buf: list[str] = []
    parser = _parser(file, part)

    def start(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "si":
            state["in_si"], state["len"] = 1, 0
            buf.clear()
        elif local == "rPh":
            state["in_rph"] += 1  # phonetic guide text (furigana) is not part of the value
        elif local == "t" and state["in_si"] and not state["in_rph"]:
            state["in_t"] = True

    def end(name: str) -> None:
        local = _local(name)
        if local == "t":
            state["in_t"] = False
        elif local == "rPh":
            state["in_rph"] -= 1
        elif local == "si":
            state["in_si"] = 0
            if len(strings) >= MAX_SHARED_STRINGS:
                raise _Refused(_p(file, "E163", f"the workbook has more than {MAX_SHARED_STRINGS:,} shared strings; "
                                  "refused", f"工作簿的共享字符串超过 {MAX_SHARED_STRINGS:,} 个，已拒绝读取。"))
            if state["len"] > MAX_CELL_CHARS:
                strings.append(_Bad("E164", f"its text is longer than {MAX_CELL_CHARS:,} characters",
                                    f"文字超过 {MAX_CELL_CHARS:,} 个字符"))
            else:
                strings.append("".join(buf))
            buf.clear()

    def text(data: str) -> None:
        if not state["in_t"]:
            return
        state["len"] += len(data)
        state["total"] += len(data)
        if state["total"] > MAX_SHARED_STRING_CHARS:
            raise _Refused(_p(file, "E163", f"the shared strings hold more than {MAX_SHARED_STRING_CHARS:,} "
                              "characters; refused", f"工作簿的共享字符串总长超过 {MAX_SHARED_STRING_CHARS:,} 个字符，"
                              "已拒绝读取。"))
        if state["len"] <= MAX_CELL_CHARS:
            buf.append(data)

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    _run(zf, part, parser)
    return strings


_QUOTED = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def _is_percent_format(code: str) -> bool:
    """A number format that shows the stored number times 100 with a % sign ("0%", "0.00%")."""
    return "%" in _QUOTED.sub("", code)


def _percent_text(number: Any) -> str:
    """The text an officer sees in a percent-formatted cell, exactly: 0.205 → "20.5%"."""
    return f"{_plain(Decimal(number) * 100)}%"


def _plain(number: Any) -> str:
    """An exact decimal without exponent: Decimal("1E+5") → "100000"."""
    text = format(Decimal(number).normalize(), "f")
    return text


def _cell_formats(zf: _Zip, part: str) -> list[str | None]:
    """For each cell format (the `s` of a cell), "date", "percent" or None: a number stored under a
    percent format is a hundredth of what the officer sees (20.5% is stored 0.205), so it is read as
    the text shown, "20.5%", never as the bare 0.205."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

    file = zf.file
    custom: dict[int, str] = {}
    xfs: list[str | None] = []
    state = {"in_xfs": False}
    parser = _parser(file, part)

    def start(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "numFmt" and len(custom) < MAX_STYLES:
            with contextlib.suppress(ValueError, TypeError):
                custom[int(attrs.get("numFmtId", ""))] = (attrs.get("formatCode") or "")[:256]
        elif local == "cellXfs":
            state["in_xfs"] = True
        elif local == "xf" and state["in_xfs"]:
            if len(xfs) >= MAX_STYLES:
                raise _Refused(_p(file, "E161", f"the workbook has more than {MAX_STYLES:,} cell formats; refused",
                                  f"工作簿的单元格格式超过 {MAX_STYLES:,} 个，已拒绝读取。"))
            try:
                ident = int(attrs.get("numFmtId", "0"))
            except ValueError:
                ident = 0
            code = custom.get(ident, BUILTIN_FORMATS.get(ident, "General")) or ""
            xfs.append("date" if code and is_date_format(code) else "percent" if _is_percent_format(code) else None)

    def end(name: str) -> None:
        if _local(name) == "cellXfs":
            state["in_xfs"] = False

    parser.StartElementHandler, parser.EndElementHandler = start, end
    _run(zf, part, parser)
    return xfs


Row = tuple[int, dict[int, Any]]  # sheet row number, {column: value or _Bad}


def _sheet_rows(zf: _Zip, part: str, strings: list[Any], formats: list[str | None], date1904: bool) -> Iterator[Row]:
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

    file = zf.file
    epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
    done: list[Row] = []
    st: dict[str, Any] = {"row": 0, "col": 0, "cells": 0, "cur": None, "type": "n", "style": 0, "formula": False,
                          "value": None, "capture": False, "in_is": False, "rph": 0, "len": 0}
    cells: dict[int, Any] = {}
    buf: list[str] = []

    def too_big(en: str, zh: str) -> _Refused:
        return _Refused(_p(file, "E162", en, zh, st["row"], min(st["col"], 1 << 20)))

    def start(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "row":
            number = attrs.get("r")
            st["row"] = int(number) if number and number.isdigit() else st["row"] + 1
            st["col"] = 0
            cells.clear()
            if st["row"] > MAX_ROWS:
                raise too_big(f"the sheet has a row numbered {st['row']:,}; at most {MAX_ROWS:,} rows are read",
                              f"工作表的行号达到 {st['row']:,}，超过上限 {MAX_ROWS:,} 行，已拒绝读取。")
        elif local == "c":
            st["cells"] += 1
            if st["cells"] > MAX_CELLS:
                raise too_big(f"the sheet has more than {MAX_CELLS:,} cells; refused",
                              f"工作表的单元格超过 {MAX_CELLS:,} 个，已拒绝读取。")
            ref = _parse_ref(attrs.get("r") or "")
            st["col"] = ref[1] if ref else st["col"] + 1
            st["type"] = attrs.get("t") or "n"
            try:
                st["style"] = int(attrs.get("s") or 0)
            except ValueError:
                st["style"] = 0
            st["formula"], st["value"], st["cur"] = False, None, True
        elif st["cur"] is None:
            return
        elif local == "f":
            st["formula"] = True
        elif local == "v":
            st["capture"], st["len"] = True, 0
            buf.clear()
        elif local == "is":
            st["in_is"], st["len"] = True, 0
            buf.clear()
        elif local == "rPh":
            st["rph"] += 1
        elif local == "t" and st["in_is"] and not st["rph"]:
            st["capture"] = True

    def text(data: str) -> None:
        if st["capture"]:
            st["len"] += len(data)
            if st["len"] <= MAX_CELL_CHARS:
                buf.append(data)

    def end(name: str) -> None:
        local = _local(name)
        if local == "v":
            st["capture"] = False
            st["value"] = "".join(buf) if st["len"] <= MAX_CELL_CHARS else _Bad(
                "E164", f"its text is longer than {MAX_CELL_CHARS:,} characters", f"文字超过 {MAX_CELL_CHARS:,} 个字符")
        elif local == "t" and st["in_is"]:
            st["capture"] = False
        elif local == "rPh":
            st["rph"] -= 1
        elif local == "is":
            st["in_is"] = False
            st["value"] = "".join(buf) if st["len"] <= MAX_CELL_CHARS else _Bad(
                "E164", f"its text is longer than {MAX_CELL_CHARS:,} characters", f"文字超过 {MAX_CELL_CHARS:,} 个字符")
        elif local == "c":
            st["cur"] = None
            value = _decode()
            if value is None or value == "":
                return
            if st["col"] > MAX_COLUMNS:
                raise too_big(f"the sheet has a value in column {_col_letters(min(st['col'], 1 << 20))}; at most "
                              f"{MAX_COLUMNS:,} columns are read", f"工作表在第 {_col_letters(min(st['col'], 1 << 20))} "
                              f"列有数据，超过上限 {MAX_COLUMNS:,} 列，已拒绝读取。")
            cells[st["col"]] = value
        elif local == "row":
            if cells:
                done.append((st["row"], dict(cells)))
            cells.clear()

    def _decode() -> Any:
        kind, raw = st["type"], st["value"]
        if isinstance(raw, _Bad):
            return raw
        if raw is None:
            if st["formula"]:
                return _Bad("E166", "the formula has no cached value: open the file in Excel and save it, then export "
                            "again", "公式没有缓存值：请在 Excel 中打开并保存后再导出")
            return None
        if kind == "s":
            try:
                index = int(raw)
                return strings[index] if 0 <= index < len(strings) else _Bad(
                    "E160", f"it refers to shared string {index}, which the workbook does not have",
                    f"引用了不存在的共享字符串 {index}（文件可能已损坏）")
            except ValueError:
                return _Bad("E160", "its shared-string reference is not a number", "共享字符串引用无效（文件可能已损坏）")
        if kind in ("str", "inlineStr"):
            return raw.strip()
        if kind == "b":
            return raw.strip() in ("1", "true")
        if kind == "e":
            return _Bad("E167", f"it holds the error value {shown(raw.strip())}; correct the formula or the value",
                        f"单元格是错误值 {shown(raw.strip())}，请修正公式或数值")
        if kind == "d":
            return raw.strip()[:10] if re.match(r"\d{4}-\d\d-\d\d(T00:00(:00(\.0+)?)?)?$", raw.strip()) else raw.strip()
        number = _number(raw.strip())
        if number is None:
            return _Bad("E165", f"it holds {shown(raw.strip())}, which is not a finite number",
                        f"单元格的值 {shown(raw.strip())} 不是有效的数字（NaN、无穷大等）")
        kind = formats[st["style"]] if 0 <= st["style"] < len(formats) else None
        if kind == "percent":
            return _percent_text(number)
        if kind == "date":
            try:
                return _cell_value(from_excel(float(number), epoch))
            except (ValueError, OverflowError, TypeError):
                return _Bad("E165", f"it holds the date serial {shown(raw.strip())}, which is not a valid date",
                            f"日期序号 {shown(raw.strip())} 不是有效的日期")
        return number

    def flush() -> Iterator[Row]:
        if done:
            rows = list(done)
            done.clear()
            yield from rows

    parser = _parser(file, part)
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    yield from _parse(zf, part, parser, flush)


def _xlsx_rows(file: str, raw: bytes) -> tuple[str, Iterator[Row]]:
    zf = _Zip(file, raw)
    sheet_name, sheet_part, strings_part, styles_part, date1904 = _workbook_parts(zf)
    zf.check_declared([p for p in (sheet_part, strings_part, styles_part) if p])
    strings = _shared_strings(zf, strings_part) if strings_part else []
    formats = _cell_formats(zf, styles_part) if styles_part else []
    return sheet_name, _sheet_rows(zf, sheet_part, strings, formats, date1904)


# ---------------------------------------------------------------------------------------------
# XLS (Excel 97-2003) through xlrd, which reads the file whole: its size is bounded first.


def _xls_rows(file: str, raw: bytes) -> tuple[str, Iterator[Row]]:
    try:
        import xlrd
    except ImportError:  # a declared dependency; an install without it gets a message, not a traceback
        raise ProblemsError([_p(file, "E160", "reading .xls needs the xlrd package (pip install xlrd), or save the "
                                "file as .xlsx", "读取 .xls 文件需要安装 xlrd（pip install xlrd），或在 Excel 中另存为 .xlsx。")])

    if len(raw) > MAX_XLS_BYTES:
        raise ProblemsError([_p(file, "E161", f"the .xls file has {len(raw):,} bytes; at most {MAX_XLS_BYTES:,} are "
                                "read (save it as .xlsx, which is read as it streams)",
                                f".xls 文件有 {len(raw):,} 字节，超过上限 {MAX_XLS_BYTES:,} 字节。请在 Excel 中另存为 "
                                ".xlsx 后再导入。")])
    if raw[:4] == b"PK\x03\x04":
        raise ProblemsError([_p(file, "E160", "this is an .xlsx workbook named .xls; rename it to .xlsx",
                                "该文件是 .xlsx 格式，但扩展名为 .xls。请把扩展名改为 .xlsx。")])
    try:
        # formatting_info: to see which numbers are shown as percentages (stored 0.205, shown 20.5%)
        book = xlrd.open_workbook(file_contents=raw, on_demand=True, formatting_info=True, logfile=io.StringIO())
        sheet = book.sheet_by_index(0)
    except Exception as error:  # xlrd raises its own errors, struct, index and value errors on damaged files
        encrypted = "encrypt" in str(error).lower()
        en = ("the workbook is password-protected (encrypted); remove the password in Excel and save it again"
              if encrypted else f"not a readable .xls workbook ({type(error).__name__}); open it in Excel and save "
              "it as .xlsx")
        zh = ("工作簿设置了打开密码（已加密），无法读取。请在 Excel 中取消密码后重新保存。" if encrypted else
              "不是可读取的 .xls 工作簿（文件已损坏，或并非 Excel 文件）。请在 Excel 中打开，另存为 .xlsx 后再导入。")
        raise ProblemsError([_p(file, "E160", en, zh)])
    if sheet.nrows > MAX_ROWS or sheet.ncols > MAX_COLUMNS or sheet.nrows * sheet.ncols > MAX_CELLS:
        raise ProblemsError([_p(file, "E162", f"the sheet has {sheet.nrows:,} rows × {sheet.ncols:,} columns; at most "
                                f"{MAX_ROWS:,} rows, {MAX_COLUMNS:,} columns and {MAX_CELLS:,} cells are read",
                                f"工作表有 {sheet.nrows:,} 行 × {sheet.ncols:,} 列，超过上限（{MAX_ROWS:,} 行、"
                                f"{MAX_COLUMNS:,} 列、{MAX_CELLS:,} 个单元格），已拒绝读取。")])

    def rows() -> Iterator[Row]:
        try:
            for r in range(sheet.nrows):
                cells: dict[int, Any] = {}
                for c, cell in enumerate(sheet.row(r), start=1):
                    value: Any = None
                    if cell.ctype == xlrd.XL_CELL_TEXT:
                        value = cell.value.strip() if len(cell.value) <= MAX_CELL_CHARS else _Bad(
                            "E164", f"its text is longer than {MAX_CELL_CHARS:,} characters",
                            f"文字超过 {MAX_CELL_CHARS:,} 个字符")
                    elif cell.ctype == xlrd.XL_CELL_NUMBER:
                        value = _number(repr(cell.value))
                        if value is None:
                            value = _Bad("E165", f"it holds {shown(repr(cell.value))}, which is not a finite number",
                                         f"单元格的值 {shown(repr(cell.value))} 不是有效的数字")
                        elif _xls_percent(book, cell):
                            value = _percent_text(value)
                    elif cell.ctype == xlrd.XL_CELL_DATE:
                        try:
                            value = _cell_value(xlrd.xldate_as_datetime(cell.value, book.datemode))
                        except Exception:  # xlrd's XLDateError family, OverflowError
                            value = _Bad("E165", f"it holds the date serial {shown(repr(cell.value))}, which is not a "
                                         "valid date", f"日期序号 {shown(repr(cell.value))} 不是有效的日期")
                    elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                        value = bool(cell.value)
                    elif cell.ctype == xlrd.XL_CELL_ERROR:
                        text = xlrd.error_text_from_code.get(cell.value, "#?")
                        value = _Bad("E167", f"it holds the error value {shown(text)}; correct the formula or the value",
                                     f"单元格是错误值 {shown(text)}，请修正公式或数值")
                    if value is not None and value != "":
                        cells[c] = value
                if cells:
                    yield r + 1, cells
        finally:
            book.release_resources()

    return sheet.name, rows()


def _xls_percent(book: Any, cell: Any) -> bool:
    try:
        xf = book.xf_list[cell.xf_index]
        fmt = book.format_map.get(xf.format_key)
    except (IndexError, AttributeError, TypeError):
        return False
    return fmt is not None and _is_percent_format(fmt.format_str or "")


# ---------------------------------------------------------------------------------------------
# Rows to entities: find the header below any title rows, map its names, build entities.


def _alias(text: str) -> str | None:
    return HEADER_ALIASES.get(text) or HEADER_ALIASES.get(text.casefold())


def _is_header(cells: dict[int, Any]) -> bool:
    """Whether this row is the header: it names an id column (id, 编号) or a 序号 column."""
    for value in cells.values():
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            text = str(value).strip()
            if _alias(text) == "id" or text in IGNORED_HEADERS:
                return True
    return False


_HEADER_UNIT = re.compile(r"^(?P<name>.+?)\s*[（(]\s*(?:单位\s*[:：]\s*)?(?P<unit>[^（）()]{1,8}?)\s*[)）]$")


def _header_texts(cells: dict[int, Any]) -> tuple[list[str], dict[int, str]]:
    """The header's texts by column (for engine.load.data.map_header, the one place headers are
    understood) and the unit of each column whose header ends in one: "特色主导产业年产值（万元）" is
    the input's label, and that column's bare numbers are read in 万元 ("120000万元"), never
    silently in the input's declared unit. A parenthesis that is not a unit stays part of the name.
    When 序号 is the only id-like column, it is the id (a running number is unique in the sheet)."""
    texts = [""] * max(cells)
    for col, value in cells.items():
        if not isinstance(value, (_Bad, bool)) and value is not None:
            texts[col - 1] = str(value).strip()
    units: dict[int, str] = {}
    for index, text in enumerate(texts):
        if not text or _alias(text) or text in IGNORED_HEADERS:
            continue
        match = _HEADER_UNIT.match(text)
        if match and parse_unit(match.group("unit")) is not None and match.group("name").strip():
            texts[index] = match.group("name").strip()
            units[index + 1] = match.group("unit").strip()
    if not any(_alias(t) == "id" for t in texts):
        first = next(i for i, t in enumerate(texts) if t in IGNORED_HEADERS)
        texts[first] = "编号"
    return texts, units


_TOTAL_WORDS = {"合计", "总计", "小计", "累计", "total", "subtotal", "grandtotal"}
_NOTE_ROW = re.compile(r"^(注|备注|说明|填表人|填报人|审核人|负责人|联系人|联系电话|制表人?|填表日期|填报日期)\s*[:：]")


def _not_an_entity(item: dict[str, Any]) -> str | None:
    """The text that marks a row as a total: 合计 (总计, 小计) in a row whose id is empty or 合计 itself."""
    ident = str(item.get("id") or "").strip()
    if not ident or ident.replace(" ", "").casefold() in _TOTAL_WORDS:
        for value in item.values():
            if isinstance(value, str) and value.replace(" ", "").casefold() in _TOTAL_WORDS:
                return value
    return None


def _rows_entities(file: str, sheet: str, rows: Iterator[Row], problems: list[Problem],
                   options: ReadOptions | None = None) -> Iterator[RawEntity]:
    texts: list[str] | None = None
    keys: list[str | None] = []
    units: dict[int, str] = {}
    header_row = 0
    titles: list[tuple[int, str]] = []
    seen_any = False
    for row_number, cells in rows:
        if texts is None:
            if not any(not isinstance(v, _Bad) for v in cells.values()):
                continue
            if not _is_header(cells):
                titles.append((row_number, " ".join(str(v) for _, v in sorted(cells.items())
                                                    if not isinstance(v, _Bad))[:200]))
                if len(titles) >= MAX_HEADER_SCAN:
                    break
                continue
            header_row = row_number
            texts, units = _header_texts(cells)
            if titles:
                problems.append(_title_note(file, sheet, header_row, titles))
            mapped = map_header(texts, file, header_row, options)  # unknown columns reported once, here
            problems.extend(mapped.problems)
            keys = mapped.keys
            continue
        seen_any = True
        only = list(cells.values())
        if len(only) == 1 and isinstance(only[0], str) and _NOTE_ROW.match(only[0]):
            problems.append(_p(file, "W161", f"row {row_number} is a note ({shown(only[0])}), not an entity: skipped",
                               f"第 {row_number} 行是表尾说明（{shown(only[0])}），不是参评对象，已跳过。", row_number, 1,
                               _address(sheet, row_number, 1), severity=WARNING))
            continue
        item: dict[str, Any] = {}
        positions: dict[str, tuple[int, int]] = {}
        orphan = None
        for col, value in sorted(cells.items()):
            if isinstance(value, _Bad):
                problems.append(_p(file, value.code, f"cell {_address(sheet, row_number, col)}: {value.en}; the value "
                                   "is treated as missing", f"单元格 {_address(sheet, row_number, col)}：{value.zh}；"
                                   "该值按缺失处理。", row_number, col, _address(sheet, row_number, col)))
                continue
            if col > len(texts) or not texts[col - 1]:
                orphan = orphan or col
                continue
            key = keys[col - 1]
            if key is None:
                continue  # 序号, an unknown or a duplicated column: reported once with the header
            if col in units and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                value = f"{_plain(value)}{units[col]}"
            item[key] = value
            positions[key] = (row_number, col)
        if orphan is not None:
            where = _address(sheet, row_number, orphan)
            problems.append(_p(file, "E131", f"row {row_number} has a value in a column without a header ({where}); "
                               "the row is skipped", f"第 {row_number} 行在没有表头的列（{where}）中有数据，该行未读取。"
                               "请补上表头或删除该值。", row_number, orphan, where, refused_row=True))
            continue
        if not item:
            continue
        skipped = _not_an_entity(item)
        if skipped:
            where = _address(sheet, row_number, 1)
            problems.append(_p(file, "W161", f"row {row_number} is a total row ({shown(skipped)}), not an entity: "
                               "skipped", f"第 {row_number} 行是合计行（{shown(skipped)}），不是参评对象，已跳过。",
                               row_number, 1, where, severity=WARNING))
            continue
        entity = entity_from_item(file, row_number, f"row {row_number}", f"第 {row_number} 行", item, problems,
                                  positions)
        if entity is not None:
            yield entity
    if texts is None:
        if titles:
            raise ProblemsError([_p(file, "E111", f"no header row with an id column (id, 编号 or 序号) in the first "
                                    f"{len(titles)} rows of sheet {shown(sheet)}",
                                    f"工作表 {shown(sheet)} 的前 {len(titles)} 行中没有找到含“编号”（或 id、序号）列的表头行。"
                                    "请在表头中加上“编号”列。")])
        raise ProblemsError([_p(file, "E133", f"the first worksheet ({shown(sheet)}) is empty",
                                f"第一个工作表（{shown(sheet)}）是空的。")])
    if not seen_any:
        raise ProblemsError([_p(file, "E133", "the worksheet has a header but no entities",
                                "工作表只有表头，没有数据行。", header_row)])


def _title_note(file: str, sheet: str, row: int, titles: list[tuple[int, str]]) -> Problem:
    numbers = ", ".join(str(n) for n, _ in titles)
    units = [m.group(1) for _, t in titles for m in [_UNIT_LINE.search(t)] if m]
    unit_en = (f"; the title says the unit is {shown(units[0])}, but bare numbers are read in each input's own "
               "unit as the pack declares it: check that they agree") if units else ""
    unit_zh = (f"；标题注明单位为 {shown(units[0])}，但不带单位的数字按规则包为各项规定的单位读取，请核对二者是否一致"
               ) if units else ""
    return _p(file, "W160", f"the header is row {row} of sheet {shown(sheet)}; row(s) {numbers} above it were read as "
              f"titles and skipped{unit_en}", f"表头取工作表 {shown(sheet)} 的第 {row} 行；其上的第 {numbers} 行视为标题，"
              f"未作为数据读取{unit_zh}。", row, 1, _address(sheet, row, 1), severity=WARNING)


def xlsx_entities(file: str, raw: bytes, problems: list[Problem], options: ReadOptions | None = None) -> Iterator[RawEntity]:
    """Entities in an .xlsx file (bytes already read); row and cell problems are appended to
    `problems`; a file that cannot be read at all raises ProblemsError."""
    if not raw.strip():
        raise ProblemsError([_p(file, "E133", "file is empty: no entities", "文件是空的，没有数据。")])
    sheet, rows = _xlsx_rows(file, raw)
    yield from _rows_entities(file, sheet, rows, problems, options)


def xls_entities(file: str, raw: bytes, problems: list[Problem], options: ReadOptions | None = None) -> Iterator[RawEntity]:
    """Entities in an Excel 97-2003 .xls file, read with xlrd."""
    if not raw.strip():
        raise ProblemsError([_p(file, "E133", "file is empty: no entities", "文件是空的，没有数据。")])
    sheet, rows = _xls_rows(file, raw)
    yield from _rows_entities(file, sheet, rows, problems, options)


def write_entities_xlsx(entities: Iterable[dict[str, Any]], path: str, headers: dict[str, str] | None = None) -> None:
    """Write entity data (id, name, fields) to a workbook that `xlsx_entities` reads back.
    `headers` renames columns (e.g. input id → its Chinese label)."""
    from openpyxl import Workbook

    rows = [dict(e) for e in entities]
    names: dict[str, None] = {"id": None, "name": None}
    for r in rows:
        for k in r:
            if k != "expect":
                names.setdefault(k, None)
    headers = headers or {}
    book = Workbook()
    sheet = book.active
    sheet.append([headers.get(k, k) for k in names])
    for r in rows:
        values = []
        for k in names:
            v = r.get(k)
            if isinstance(v, dict):
                v = v.get("value")
            if isinstance(v, Decimal):
                v = str(v)
            values.append(v)
        sheet.append(values)
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    book.save(path)
