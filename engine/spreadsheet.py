"""Spreadsheets: read entities from XLSX, write decisions to XLSX or CSV.

Reading: the first worksheet; its first non-empty row is the header. Columns are named like CSV
columns — `id`, `name`, and one per input, by the input's id or its Chinese or English label
(labels are mapped to ids when the entity is normalised), with optional attestation evidence
columns such as `heritage.by`. A row that cannot be used is reported with its row number and
skipped; every other row is returned. Cell values keep their exact meaning: whole numbers stay
integers, decimals become exact decimals (never binary floats), dates become YYYY-MM-DD.

Writing: one row per entity — id, name, outcome — and one column per criterion holding its
status (met / not met / unknown / not applicable), then the missing inputs and, when computed,
what it would take to pass. Needs openpyxl (a dependency of the package) only for XLSX.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any, Iterable, Iterator, Sequence

from .data import RawEntity, _entity_from_mapping
from .problems import Problem, ProblemsError

MAX_COLUMNS = 4096


def _cell_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        number = Decimal(repr(value))  # the shortest text that reads back as this cell's number
        return int(number) if number == number.to_integral_value() and abs(number) < 10**18 else number
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return value
    text = str(value).strip()
    return text


def xlsx_entities(file: str, raw: bytes, problems: list[Problem]) -> Iterator[RawEntity]:
    """Entities in an .xlsx file (bytes already read); row problems are appended to `problems`."""
    try:
        from openpyxl import load_workbook
    except ImportError:  # pragma: no cover - openpyxl is a declared dependency
        raise ProblemsError([Problem(file, 1, 1, "E100", "reading .xlsx needs openpyxl (pip install openpyxl)")])
    if not raw.strip():
        raise ProblemsError([Problem(file, 1, 1, "E133", "file is empty: no entities")])
    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as error:  # zipfile, XML and openpyxl errors all mean "not a workbook we can read"
        raise ProblemsError([Problem(file, 1, 1, "E100", f"not a readable .xlsx workbook: {type(error).__name__}")])
    try:
        if not book.worksheets:
            raise ProblemsError([Problem(file, 1, 1, "E133", "the workbook has no worksheets")])
        sheet = book.worksheets[0]
        header: list[str] | None = None
        seen_any = False
        for row_number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = list(row[:MAX_COLUMNS])
            if not any(c is not None and str(c).strip() for c in cells):
                continue
            if header is None:
                header = ["" if c is None else str(c).strip() for c in cells]
                if "id" not in header:
                    raise ProblemsError([Problem(file, row_number, 1, "E111", "the header row has no id column")])
                continue
            seen_any = True
            extra = [i for i, c in enumerate(cells) if i >= len(header) or not header[i]]
            if any(cells[i] is not None and str(cells[i]).strip() for i in extra):
                problems.append(Problem(file, row_number, 1, "E131",
                                        f"row {row_number} has a value in a column without a header"))
                continue
            item: dict[str, Any] = {}
            columns: dict[str, int] = {}
            for index, (name, cell) in enumerate(zip(header, cells)):
                value = _cell_value(cell)
                if not name or value is None or value == "":
                    continue
                item[name] = value
                columns[name] = index + 1
            entity = _entity_from_mapping(file, row_number, row_number - 2, item, problems)
            if entity is not None:
                entity.positions = {k: (row_number, columns[k]) for k in item}
                yield entity
        if header is None:
            raise ProblemsError([Problem(file, 1, 1, "E133", "the first worksheet is empty")])
        if not seen_any:
            raise ProblemsError([Problem(file, 1, 1, "E133", "the worksheet has a header but no entities")])
    finally:
        book.close()


# ---------------------------------------------------------------------------------------------
# Results


def result_columns(records: Sequence[dict[str, Any]], criteria: Sequence[Any] = ()) -> list[tuple[str, str]]:
    """(criterion id, header text) in pack order. `criteria` are the pack's criterion nodes (ids,
    titles, cites); without them, the order the records show them in."""
    seen: dict[str, str] = {}
    for node in criteria:
        seen.setdefault(node.id, f"{node.cite or ''} {node.title.get('zh') or node.id} [{node.id}]".strip())
    for rec in records:
        for c in rec["criteria"]:
            seen.setdefault(c["id"], f"{c.get('cite') or ''} {c['title'].get('zh') or c['id']} [{c['id']}]".strip())
    return list(seen.items())


def result_rows(records: Iterable[dict[str, Any]], columns: list[tuple[str, str]], lang: str = "zh") -> Iterator[list[Any]]:
    from .report import WORDS, _label
    from .whatif import describe

    w = WORDS[lang]
    for rec in records:
        status = {c["id"]: c["status"] for c in rec["criteria"]}
        cells: list[Any] = [rec["entity"]["id"], rec["entity"].get("name") or "", rec["outcome"], w[rec["outcome"]]]
        for ident, _ in columns:
            cells.append(w[status[ident]] if ident in status else (w["na"] if ident in rec.get("not_applicable", []) else ""))
        cells.append("; ".join(_label(m["label"], lang) for m in rec.get("missing_inputs", [])))
        wit = rec.get("what_it_takes")
        cells.append(" || ".join(describe(o, lang) for o in wit.get("options", [])) if wit else "")
        cells.append(rec["entity"].get("source") or "")
        cells.append(rec["record"]["input_sha256"])
        yield cells


def header_row(columns: list[tuple[str, str]], lang: str = "zh") -> list[str]:
    tail = {"zh": ["缺少的数据或认定", "如何才能通过", "来源", "input_sha256"],
            "en": ["missing data or attestations", "what it would take", "source", "input_sha256"]}[lang]
    return ["id", "name", "outcome", "结果" if lang == "zh" else "result"] + [h for _, h in columns] + tail


def _safe_text(value: Any) -> Any:
    """Spreadsheet programs run cells that start with = + - @ as formulas; quote such text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_results_csv(records: Iterable[dict[str, Any]], out: io.TextIOBase | Any, columns: list[tuple[str, str]],
                      lang: str = "zh", bom: bool = True) -> dict[str, int]:
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    if bom:
        out.write("\ufeff")  # Excel on Windows reads UTF-8 only with a BOM
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header_row(columns, lang))
    for rec, row in _with_rows(records, columns, lang):
        counts[rec["outcome"]] += 1
        writer.writerow([_safe_text(c) for c in row])
    return counts


def _with_rows(records: Iterable[dict[str, Any]], columns: list[tuple[str, str]], lang: str) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    for rec in records:
        yield rec, next(result_rows([rec], columns, lang))


_FILL = {"pass": "DCF5E3", "fail": "FBE3E1", "undetermined": "FFF4CC",
         "met": "DCF5E3", "not_met": "FBE3E1", "unknown": "FFF4CC"}


def write_results_xlsx(records: Iterable[dict[str, Any]], path: str, columns: list[tuple[str, str]],
                       lang: str = "zh") -> dict[str, int]:
    """Write the workbook to `path` (the caller makes the write atomic)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    from .report import WORDS

    w = WORDS[lang]
    status_of_word = {w[k]: k for k in ("met", "not_met", "unknown")}
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    book = Workbook(write_only=True)
    sheet = book.create_sheet("decisions" if lang == "en" else "认定结果")
    header = header_row(columns, lang)
    for i, h in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = 12 if 4 < i <= 4 + len(columns) else 16
    sheet.freeze_panes = "C2"
    bold = Font(bold=True)
    row_cells = []
    for h in header:
        cell = WriteOnlyCell(sheet, value=h)
        cell.font = bold
        cell.data_type = "s"
        row_cells.append(cell)
    sheet.append(row_cells)
    fills = {k: PatternFill("solid", fgColor=v) for k, v in _FILL.items()}
    for rec, row in _with_rows(records, columns, lang):
        counts[rec["outcome"]] += 1
        cells = []
        for index, value in enumerate(row):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text stays text: never a formula
            key = rec["outcome"] if index in (2, 3) else status_of_word.get(value) if 4 <= index < 4 + len(columns) else None
            if key:
                cell.fill = fills[key]
            cells.append(cell)
        sheet.append(cells)
    book.save(path)
    return counts


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
