"""A small .xlsx whose shared-strings table holds 3,000,000 entries (51 MB unpacked, within the size
limit, so the count limit must stop it while it streams)."""

from __future__ import annotations

import zipfile
from pathlib import Path

COUNT = 3_000_000
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def generate(folder: Path) -> None:
    with zipfile.ZipFile(folder / "towns.xlsx", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{NS}" xmlns:r="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/>'
                   '</sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/'
                   '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                   '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                   'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", f'<worksheet xmlns="{NS}"><sheetData><row r="1"><c r="A1" t="s">'
                   '<v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c></row></sheetData></worksheet>')
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(f'<sst xmlns="{NS}"><si><t>id</t></si>'.encode())
            block = b"<si><t>a</t></si>" * 10_000
            for _ in range(COUNT // 10_000):
                part.write(block)
            part.write(b"</sst>")


if __name__ == "__main__":
    generate(Path("."))
