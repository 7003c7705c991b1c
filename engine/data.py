"""Load stage for entity data: YAML, JSON and CSV files of towns, zones or firms.

A file holds one entity, a list of entities, or `{entities: [...]}`. CSV may be UTF-8, UTF-8 with
a BOM, or GBK/GB18030 (what Excel saves on Chinese Windows). A row that cannot be used is
reported with its row or line and skipped; every other row is still returned.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from .problems import Problem, ProblemsError
from .yamlsafe import parse_yaml, read_limited

MAX_DATA_BYTES = 512 * 1024 * 1024
RESERVED = ("id", "name", "expect")
MAX_CSV_COLUMNS = 10_000


@dataclass
class RawEntity:
    file: str
    line: int  # line (YAML) or row (CSV, 1 = header) where the entity starts
    id: str
    name: str | None
    fields: dict[str, Any]
    expect: dict[str, Any] | None = None
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)


def decode(raw: bytes, file: str) -> tuple[str, str]:
    """Text and the encoding it was read with. UTF-8 (BOM or not) first, then GB18030 ⊇ GBK."""
    if not raw.strip():
        raise ProblemsError([Problem(file, 1, 1, "E133", "file is empty: no entities")])
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ProblemsError([Problem(file, 1, 1, "E100", "file is neither UTF-8 nor GBK text")])


def _read_bytes(file: str) -> bytes:
    try:
        with open(file, "rb") as handle:
            raw = read_limited(handle, MAX_DATA_BYTES)  # not read(MAX + 1): that allocates 512 MiB
    except OSError as error:
        raise ProblemsError([Problem(file, 1, 1, "E100", f"cannot read file: {error.strerror}")])
    if len(raw) > MAX_DATA_BYTES:
        raise ProblemsError([Problem(file, 1, 1, "E100", f"file is larger than {MAX_DATA_BYTES} bytes")])
    return raw


def load_entities(file: str, problems: list[Problem]) -> Iterator[RawEntity]:
    """Entities in `file`; problems with single rows are appended to `problems`.

    Raises ProblemsError when the file as a whole cannot be read.
    """
    suffix = Path(file).suffix.lower()
    if suffix == ".csv":
        yield from _csv_entities(file, None, problems)
        return
    raw = _read_bytes(file)
    if suffix in (".yaml", ".yml", ".json"):
        yield from _document_entities(file, raw, suffix, problems)
    elif suffix in (".xlsx", ".xlsm"):
        from .spreadsheet import xlsx_entities  # loaded only when needed

        yield from xlsx_entities(file, raw, problems)
    elif suffix == ".xls":
        from .spreadsheet import xls_entities

        yield from xls_entities(file, raw, problems)
    else:
        raise ProblemsError(
            [Problem(file, 1, 1, "E100", f"unknown data file type {suffix!r}; use .yaml, .json, .csv, .xlsx or .xls")]
        )


def _document_entities(file: str, raw: bytes, suffix: str, problems: list[Problem]) -> Iterator[RawEntity]:
    text, _ = decode(raw, file)
    positions: dict[tuple[Any, ...], tuple[int, int]] = {}
    if suffix == ".json":
        try:
            value = json.loads(text, parse_float=Decimal, parse_constant=lambda c: c)
        except json.JSONDecodeError as error:
            raise ProblemsError([Problem(file, error.lineno, error.colno, "E101", f"JSON syntax error: {error.msg}")])
        except RecursionError:
            raise ProblemsError([Problem(file, 1, 1, "E103", "nesting is too deep to read")])
        positions = _json_positions(text, file)
    else:
        doc = parse_yaml(text, file)
        value, positions = doc.value, doc.positions
    prefix: tuple[Any, ...] = ()
    single = False
    if isinstance(value, dict) and "entities" in value:
        extra = sorted(k for k in value if k != "entities")
        if extra:
            line = positions.get((extra[0],), (1, 1))
            problems.append(Problem(file, line[0], line[1], "E130", f"unknown top-level field {extra[0]!r}; expected only entities"))
        value, prefix = value["entities"], ("entities",)
    elif isinstance(value, dict):
        value, single = [value], True
    if not isinstance(value, list):
        raise ProblemsError([Problem(file, 1, 1, "E133", "expected a list of entities or {entities: [...]}")])
    if not value:
        raise ProblemsError([Problem(file, 1, 1, "E133", "the file has no entities")])
    for index, item in enumerate(value):
        path = () if single else prefix + (index,)
        line, col = positions.get(path, positions.get((), (1, 1)))
        if not isinstance(item, dict):
            problems.append(Problem(file, line, col, "E131", f"entity #{index + 1} is not a mapping of field: value"))
            continue
        entity = _entity_from_mapping(file, line, index, item, problems)
        if entity is not None:
            entity.positions = {k: positions.get(path + (k,), (line, col)) for k in item}
            yield entity


def _json_positions(text: str, file: str) -> dict[tuple[Any, ...], tuple[int, int]]:
    """Line and column of each value in a JSON file, so its problems point at a line too.

    json.loads keeps no positions; valid JSON is (nearly) YAML, so the safe YAML reader — with
    its limits — recovers them. The values themselves still come from json.loads; when the YAML
    reader cannot follow the text, problems fall back to line 1."""
    try:
        return parse_yaml(text, file).positions
    except (ProblemsError, ValueError):
        return {}


def _entity_from_mapping(file: str, line: int, index: int, item: dict[str, Any], problems: list[Problem]) -> RawEntity | None:
    ident = item.get("id")
    if ident is None or (isinstance(ident, str) and not ident.strip()):
        problems.append(Problem(file, line, 1, "E131", f"entity #{index + 1} has no id; give every entity an id"))
        return None
    name = item.get("name")
    expect = item.get("expect")
    fields = {k: v for k, v in item.items() if k not in RESERVED}
    return RawEntity(file, line, str(ident).strip(), None if name is None else str(name), fields,
                     expect if isinstance(expect, dict) else None)


def _sniff_encoding(file: str) -> str:
    """utf-8-sig or gb18030, checked over the whole file in chunks so memory stays flat."""
    import codecs

    try:
        size = os.path.getsize(file)
        handle = open(file, "rb")
    except OSError as error:
        raise ProblemsError([Problem(file, 1, 1, "E100", f"cannot read file: {error.strerror}")])
    if size > MAX_DATA_BYTES:
        handle.close()
        raise ProblemsError([Problem(file, 1, 1, "E100", f"file is larger than {MAX_DATA_BYTES} bytes")])
    with handle:
        head = handle.read(1 << 16)
        if not head.strip():
            raise ProblemsError([Problem(file, 1, 1, "E133", "file is empty: no entities")])
        for encoding in ("utf-8-sig", "gb18030"):
            decoder = codecs.getincrementaldecoder(encoding)()
            handle.seek(0)
            try:
                while chunk := handle.read(1 << 20):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
                return encoding
            except UnicodeDecodeError:
                continue
    raise ProblemsError([Problem(file, 1, 1, "E100", "file is neither UTF-8 nor GBK text")])


def _csv_entities(file: str, raw: bytes | None, problems: list[Problem]) -> Iterator[RawEntity]:
    """Rows streamed from the file (or from `raw` when given), so a large batch is never held
    in memory whole."""
    if raw is not None:
        text, _ = decode(raw, file)
        source: Any = io.StringIO(text, newline="")
    else:
        source = open(file, encoding=_sniff_encoding(file), newline="")
    with source:
        yield from _csv_rows(file, csv.reader(source), problems)


def _csv_rows(file: str, reader: Any, problems: list[Problem]) -> Iterator[RawEntity]:
    try:
        header = next(reader)
    except StopIteration:
        raise ProblemsError([Problem(file, 1, 1, "E133", "the file has no rows")])
    except csv.Error as error:
        raise ProblemsError([Problem(file, 1, 1, "E101", f"CSV error: {error}")])
    header = [h.strip() for h in header]
    # A header of 10^6 columns (hostile or a broken export) would make every row cost a million
    # field checks and warnings; no policy data has anywhere near this many inputs.
    if len(header) > MAX_CSV_COLUMNS:
        raise ProblemsError([Problem(file, 1, 1, "E100", f"the header row has {len(header)} columns; "
                                     f"at most {MAX_CSV_COLUMNS} are read")])
    # Column numbers by name, looked up once: header.index() per cell was quadratic in the width.
    column_of: dict[str, int] = {}
    for number, name in enumerate(header, 1):
        column_of.setdefault(name, number)
    if "id" not in header:
        raise ProblemsError([Problem(file, 1, 1, "E111", "the header row has no id column")])
    seen_any = False
    row_number = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            row_number += 1
            problems.append(Problem(file, row_number, 1, "E131", f"row {row_number}: CSV error: {error}"))
            continue
        row_number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        seen_any = True
        if len(row) > len(header):
            problems.append(Problem(file, row_number, 1, "E131",
                                    f"row {row_number} has {len(row)} cells but the header has {len(header)}"))
            continue
        item = {h: c.strip() for h, c in zip(header, row) if h}
        item = {k: v for k, v in item.items() if v != ""}
        entity = _entity_from_mapping(file, row_number, row_number - 2, item, problems)
        if entity is not None:
            entity.positions = {k: (row_number, column_of[k]) for k in item}
            yield entity
    if not seen_any:
        raise ProblemsError([Problem(file, 1, 1, "E133", "the file has a header but no entities")])
