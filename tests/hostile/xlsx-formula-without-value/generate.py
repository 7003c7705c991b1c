"""An .xlsx written by a program that stores formulas without their results (no cached <v>): the
cell was silently "not given" before; now it is a problem at its address, the other rows decided."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROWS = ('<row r="1"><c r="A1" t="inlineStr"><is><t>编号</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>leading_firms</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>F1</t></is></c><c r="B2"><f>SUM(C2:D2)</f></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>F2</t></is></c><c r="B3"><f>1+1</f><v>2</v></c></row>')


def generate(folder: Path) -> None:
    helper = Path(__file__).resolve().parent.parent / "xlsx-dimension-bomb" / "generate.py"
    spec = importlib.util.spec_from_file_location("xlsx_writer", helper)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write(folder / "towns.xlsx", ROWS)


if __name__ == "__main__":
    generate(Path("."))
