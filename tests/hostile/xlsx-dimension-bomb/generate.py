"""A 1 kB .xlsx whose worksheet declares the dimension A1:XFD1048576 (16,384 columns × 1,048,576
rows) but holds three rows; a reader that trusts the declaration builds 17 billion cells."""

from __future__ import annotations

import zipfile
from pathlib import Path

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
ROWS = ('<row r="1"><c r="A1" t="inlineStr"><is><t>编号</t></is></c><c r="B1" t="inlineStr"><is><t>名称</t></is></c>'
        '<c r="C1" t="inlineStr"><is><t>leading_firms</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>D1</t></is></c><c r="B2" t="inlineStr"><is><t>甲镇</t></is></c>'
        '<c r="C2"><v>2</v></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>D2</t></is></c><c r="B3" t="inlineStr"><is><t>乙镇</t></is></c>'
        '<c r="C3"><v>0</v></c></row>')


def write(path: Path, rows: str, dimension: str = "A1:C3") -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{NS}" xmlns:r="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/>'
                   '</sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/'
                   '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", f'<worksheet xmlns="{NS}"><dimension ref="{dimension}"/>'
                   f"<sheetData>{rows}</sheetData></worksheet>")


def generate(folder: Path) -> None:
    write(folder / "towns.xlsx", ROWS, "A1:XFD1048576")


if __name__ == "__main__":
    generate(Path("."))
