"""The officer-facing XLSX worksheet: bold wrapped header, widths that fit it (CJK counted double),
frozen header and key columns, an autofilter over every row, cells colour-filled by outcome or
status, text that stays text (never a formula), and numbers written exactly (`number_cell`). The
decisions workbook (engine.report.xlsx2) and format 1's tables and scoring workbook use it. Needs
openpyxl, imported only when a workbook is written (it is slow to import).
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from fractions import Fraction
from typing import Any

_FILL = {"pass": "DCF5E3", "fail": "FBE3E1", "undetermined": "FFF4CC",
         "met": "DCF5E3", "not_met": "FBE3E1", "unknown": "FFF4CC"}
_HEADER_FILL = "EAEEF2"
# Excel holds numbers as binary doubles, shown to 15 significant digits. A cell gets the number
# (so sorting, filters and SUM work) and a format showing the exact decimal places; where the
# double is not the exact value — a non-terminating fraction such as 100000/3, or more than 15
# significant digits — the exact text goes in a comment on the cell and in the row's "exact
# values" column, so nothing is silently rounded.
_MAX_PLACES = 10
_FRACTION_PLACES = 4


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: CJK and full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def number_cell(text: Any, unit: str | None = None) -> tuple[Any, str | None, str | None]:
    """(cell value, number format, exact text when the cell's double is not exact) for an exact
    decimal or fraction written as text ("99999", "12.5", "100000/3") in `unit`; (text, None, None)
    when it is not a number."""
    if isinstance(text, bool) or text is None:
        return text, None, None
    raw = str(text).strip()
    exact: str | None = None
    try:
        if "/" in raw:
            fraction = Fraction(raw)
            number: float = float(fraction)
            places = _FRACTION_PLACES
            exact = raw
            if fraction.denominator == 1:
                places, exact = 0, None
        else:
            decimal = Decimal(raw)
            if not decimal.is_finite():
                return raw, None, None
            places = min(max(0, -decimal.as_tuple().exponent), _MAX_PLACES)  # type: ignore[operator]
            number = float(decimal)
            if Decimal(repr(number)) != decimal:
                exact = raw
    except (ValueError, ArithmeticError, OverflowError):
        return raw, None, None
    if number in (float("inf"), float("-inf")):
        return raw, None, None
    unit = (unit or "").replace('"', "")
    if unit == "%":
        return number / 100, "0" + ("." + "0" * places if places else "") + "%", exact and f"{exact}%"
    body = "#,##0" + ("." + "0" * places if places else "")
    if isinstance(number, float) and number.is_integer() and abs(number) < 2**53 and exact is None:
        number = int(number)
    return number, body + (f'"{unit}"' if unit else ""), exact and f"{exact}{unit}"


XLSX_WORDS = {
    "zh": {"id": "编号", "name": "名称", "outcome": "结果", "value": "数值", "threshold": "标准", "gap": "差距",
           "missing": "缺少的数据或认定", "wit": "如何才能通过", "exact": "精确值说明", "source": "来源",
           "sha": "input_sha256", "exact_is": "精确值", "sheet": "认定结果"},
    "en": {"id": "id", "name": "name", "outcome": "outcome", "value": "value", "threshold": "threshold", "gap": "gap",
           "missing": "missing data or attestations", "wit": "what it would take", "exact": "exact values",
           "source": "source", "sha": "input_sha256", "exact_is": "exact value", "sheet": "decisions"},
}


class Sheet:
    """A write-only worksheet with the officer-facing layout: bold wrapped header, widths that fit
    it (CJK counted double), frozen header and key columns, an autofilter over every row."""

    def __init__(self, book: Any, title: str, header: list[str], freeze: str, widths: list[int] | None = None):
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Alignment, Font, PatternFill
        from openpyxl.utils import get_column_letter

        self.cell_type = WriteOnlyCell
        self.sheet = book.create_sheet(title)
        self.columns = len(header)
        self.rows = 1
        self.fills = {k: PatternFill("solid", fgColor=v) for k, v in _FILL.items()}
        for i, h in enumerate(header, start=1):
            wanted = max(display_width(h) + 2, (widths or [])[i - 1] if widths and i <= len(widths) else 8)
            self.sheet.column_dimensions[get_column_letter(i)].width = min(wanted, 40)
        self.sheet.freeze_panes = freeze
        cells = []
        for h in header:
            cell = WriteOnlyCell(self.sheet, value=h)
            cell.data_type = "s"
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor=_HEADER_FILL)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            cells.append(cell)
        self.sheet.append(cells)
        self.last = get_column_letter(max(1, len(header)))

    def text(self, value: Any, fill: str | None = None) -> Any:
        cell = self.cell_type(self.sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # text stays text: never a formula
        if fill:
            cell.fill = self.fills[fill]
        return cell

    def number(self, text: Any, unit: str | None = None, lang: str = "zh", fill: str | None = None) -> tuple[Any, str | None]:
        """A number cell for exact text; the exact text when the cell cannot hold it exactly."""
        from openpyxl.comments import Comment

        value, fmt, exact = number_cell(text, unit)
        cell = self.text(value, fill)
        if fmt:
            cell.number_format = fmt
        if exact:
            cell.comment = Comment(f"{XLSX_WORDS[lang]['exact_is']} {exact}", "certify")
        return cell, exact

    def append(self, cells: list[Any]) -> None:
        self.sheet.append(cells)
        self.rows += 1

    def finish(self) -> None:
        self.sheet.auto_filter.ref = f"A1:{self.last}{self.rows}"
