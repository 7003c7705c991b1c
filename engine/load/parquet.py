"""Load stage for Parquet data files (`.parquet`): entities streamed by record batch (memory stays
flat however many row groups the file has), read exactly as a CSV file is.

The columns are a CSV file's: `id` (or `编号`), `name` (or `名称`), one per input by its id or its
Chinese or English label, attestation evidence columns; the header is checked by the same
`map_header` (unknown columns reported once, a near-miss of an input an error, a duplicate
refused). Each cell becomes what a CSV cell or a JSON value would be, and is then typed and
unit-checked by the same normalisation:

- text as written (`12亿元`, `是`), a boolean as yes/no, an integer as a bare number (in the
  input's declared unit, as a bare number in CSV);
- a floating-point cell as the shortest decimal that reads back as the same double (`0.1`, not
  `0.1000000000000000055…`: what any tool that wrote it displays), a decimal cell exactly;
- a date cell as its ISO date; a timestamp at midnight as its date (any other time is refused by
  the date check as text would be);
- NaN or infinity: that value is reported (not a finite number) and treated as missing.

A row's position is its row number in the file (the first row is 1), reported as `file:row`.
A row with no id, a duplicate id, a value that cannot be used: reported with the row, and every
other row is decided (engine.evaluate.pipeline counts them). A column of a type that holds no
scalar (a list, a struct, binary) is reported once (E257) and not read; a file that is not
Parquet, or is damaged, is E257 for the whole file.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from engine.core.problems import Problem, ProblemsError
from engine.load.entities import RawEntity, ReadOptions, _fatal, _p, entity_from_item, map_header

BATCH_ROWS = 8192  # rows converted at a time (a row group is read in batches of this size)
MAX_PARQUET_BYTES = 4 * 1024 * 1024 * 1024  # columnar and compressed: a province's firms fit well under this


def _scalar_type(kind: pa.DataType) -> bool:
    return not (pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
                or pa.types.is_fixed_size_binary(kind) or pa.types.is_dictionary(kind) and not
                _scalar_type(kind.value_type))


def cell(value: Any) -> Any:
    """A Parquet cell as a CSV cell or a JSON value would give it (see the module docstring)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return value  # reported by the normalisation (not a finite number) and treated as missing
        return format(Decimal(repr(value)), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def parquet_entities(file: str, problems: list[Problem], options: ReadOptions) -> Iterator[RawEntity]:
    try:
        source = pq.ParquetFile(file)
    except OSError as error:
        raise _fatal(file, 1, 1, "E100", f"cannot read file: {error}", f"无法读取文件: {error}")
    except (pa.ArrowException, ValueError) as error:
        raise _fatal(file, 1, 1, "E257", f"not a readable Parquet file: {error}", f"不是可读取的 Parquet 文件: {error}")
    if source.metadata.num_rows == 0:
        raise _fatal(file, 1, 1, "E133", "the file has a header but no entities", "文件只有表头, 没有任何对象")
    schema = source.schema_arrow
    mapped = map_header(list(schema.names), file, 1, options)
    problems.extend(mapped.problems)
    keys = list(mapped.keys)
    for index, f in enumerate(schema):
        if keys[index] is not None and not _scalar_type(f.type):
            problems.append(_p(file, 1, index + 1, "E257",
                               f"column {f.name!r} holds {f.type}, not one value per row; it is not read",
                               f"列 {f.name!r} 的类型为 {f.type}，不是每行一个值；该列不读取"))
            keys[index] = None
    wanted = [i for i, k in enumerate(keys) if k is not None]
    columns = [schema.names[i] for i in wanted]
    number = 0
    try:
        for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=columns, use_threads=False):
            data = [batch.column(j).to_pylist() for j in range(batch.num_columns)]
            for r in range(batch.num_rows):
                number += 1
                item: dict[str, Any] = {}
                positions: dict[str, tuple[int, int]] = {}
                for j, i in enumerate(wanted):
                    value = cell(data[j][r])
                    if value is not None:
                        key = keys[i]
                        item[key] = value
                        positions[key] = (number, i + 1)
                entity = entity_from_item(file, number, f"row {number}", f"第 {number} 行", item, problems, positions)
                if entity is not None:
                    yield entity
    except (pa.ArrowException, OSError) as error:
        raise ProblemsError([_p(file, number + 1, 1, "E257", f"row {number + 1}: the file is damaged: {error}",
                                f"第 {number + 1} 行: 文件已损坏: {error}")])
