"""An .xlsx whose numeric cells hold NaN and inf (a traceback before): each is a problem at its cell
(Sheet1!C2, Sheet1!C3), read as missing; the other rows are decided."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROWS = ('<row r="1"><c r="A1" t="inlineStr"><is><t>编号</t></is></c><c r="B1" t="inlineStr"><is><t>名称</t></is></c>'
        '<c r="C1" t="inlineStr"><is><t>leading_firms</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>N1</t></is></c><c r="C2"><v>NaN</v></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>N2</t></is></c><c r="C3"><v>-inf</v></c></row>'
        '<row r="4"><c r="A4" t="inlineStr"><is><t>N3</t></is></c><c r="C4"><v>0</v></c></row>')


def generate(folder: Path) -> None:
    helper = Path(__file__).resolve().parent.parent / "xlsx-dimension-bomb" / "generate.py"
    spec = importlib.util.spec_from_file_location("xlsx_writer", helper)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write(folder / "towns.xlsx", ROWS)


if __name__ == "__main__":
    generate(Path("."))
