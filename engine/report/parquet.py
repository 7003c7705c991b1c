"""`certify evaluate --format parquet -o FILE.parquet`: the decisions as a table for a data warehouse.

One row per entity, in input order: `id`, `name`, `where` (file:line), `outcome`, then for each
criterion of the pack in document order `ID__status` (met / not_met / unknown / not_applicable;
empty when the criterion was not reached: a case that did not apply), and for a criterion that
compares a value `ID__value` (the value compared) and `ID__gap` (how far a comparison not met is
from its threshold). Format-2 packs add one `NAME__value` column per value (points, totals,
places…), `missing_inputs` (the inputs that stand in the way) and, with awards, `award__status`
and `award__amount`.

Numbers are exact text, as in the JSON records ("12.5", "14/3": a ratio need not be a finite
decimal, and a float would not be exact). Format-1 values and gaps are in the input's unit (the
full record's `test.value`), format-2 ones in the base unit of their dimension (元, %, 分, days for
a date's gap), like the format-2 JSON record. The schema's metadata names the pack (id, version,
sha256), the as-of date and the engine: the titles, citations and thresholds are the pack's.

Rows are written in row groups of `ROW_GROUP` entities as they come (memory stays flat).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from engine import ENGINE_VERSION
from engine.compile.model import CompiledPack
from engine.compile.model2 import Pack2
from engine.core.status import Status
from engine.evaluate.record2 import Record2, json_value
from engine.report.compact import gap_of

ROW_GROUP = 16_384  # rows buffered before a row group is written: bounds the writer's memory
TABLE_SCHEMA = "certify.decisions.parquet/1"


@dataclass
class ParquetColumns:
    """The columns of the decisions table of one pack."""

    criteria: list[str]  # criterion ids in document order
    tested: set[str]  # those that compare a value (get __value and __gap columns)
    values: list[str] = field(default_factory=list)  # format 2: value names
    awards: bool = False
    missing: bool = False  # format 2: the record lists the missing inputs
    meta: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of1(cls, pack: CompiledPack) -> "ParquetColumns":
        nodes = [n for n in pack.root.walk() if n.id is not None and (n is not pack.root or n.test is not None)]
        ids = list(dict.fromkeys(n.id for n in nodes if n.id))
        return cls(ids, {n.id for n in nodes if n.test is not None and n.id}, meta={
            "pack": pack.meta.id, "pack_version": pack.meta.version, "pack_sha256": pack.sha256,
            "as_of": pack.as_of.isoformat()})

    @classmethod
    def of2(cls, pack: Pack2) -> "ParquetColumns":
        ids = [i for i in pack.titles if "~" not in i]
        tested = {i for i in ids if pack.titles[i].get("test")}
        return cls(ids, tested, list(pack.values), pack.awards is not None, True, meta={
            "pack": pack.meta.id, "pack_version": pack.meta.version, "pack_sha256": pack.sha256,
            "as_of": pack.as_of.isoformat()})

    def names(self) -> list[str]:
        out = ["id", "name", "where", "outcome"]
        for c in self.criteria:
            out.append(f"{c}__status")
            if c in self.tested:
                out += [f"{c}__value", f"{c}__gap"]
        out += [f"{v}__value" for v in self.values]
        if self.awards:
            out += ["award__status", "award__amount"]
        return out

    def schema(self) -> pa.Schema:
        fields = [pa.field(n, pa.string()) for n in self.names()]
        if self.missing:
            fields.append(pa.field("missing_inputs", pa.list_(pa.string())))
        meta = {"schema": TABLE_SCHEMA, "engine_version": ENGINE_VERSION, **self.meta}
        return pa.schema(fields, metadata={k: str(v) for k, v in meta.items()})


_SHOWN: dict[Any, str] = {}  # exact text of the amounts met so far: they repeat (counts, points, thresholds)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Fraction)):
        text = _SHOWN.get(value)
        if text is None:
            if len(_SHOWN) > 100_000:  # bounded: memory stays flat
                _SHOWN.clear()
            text = _SHOWN[value] = json_value(value)
        return text
    return str(json_value(value))


def _row1(compact: Mapping[str, Any]) -> dict[str, Any]:
    """A format-1 compact record (engine.explain.compact) as a row."""
    entity = compact["entity"]
    row: dict[str, Any] = {"id": entity["id"], "name": entity.get("name"), "where": entity.get("source"),
                           "outcome": compact["outcome"]}
    for c in compact["criteria"]:
        row[f"{c['id']}__status"] = c["status"]
        row[f"{c['id']}__value"] = _text(c.get("value"))
        row[f"{c['id']}__gap"] = _text(c.get("gap"))
    return row


class Row(dict):  # type: ignore[type-arg]
    """A decisions-table row made where the entity was decided (`render_row2`)."""


def render_row2(pack: Pack2, rec: Record2, wit: Any = None) -> Row:
    """A format-2 record's row, for engine.evaluate.pipeline `decide_files2(render=…)`: made in the
    worker process that decided it, so only the row crosses to the writer."""
    return Row(_row2(rec))


_COLUMNS: dict[str, tuple[str, str, str]] = {}  # a criterion's or value's column names: the same every row


def _columns(ident: str) -> tuple[str, str, str]:
    names = _COLUMNS.get(ident)
    if names is None:
        if len(_COLUMNS) > 100_000:  # bounded: memory stays flat whatever packs a server reads
            _COLUMNS.clear()
        names = _COLUMNS[ident] = (f"{ident}__status", f"{ident}__value", f"{ident}__gap")
    return names


def _row2(rec: Record2) -> dict[str, Any]:
    row: dict[str, Any] = {"id": rec.entity_id, "name": rec.entity_name, "where": rec.where,
                           "outcome": rec.outcome.value if rec.outcome else None}
    for c in rec.criteria:
        status_column, value_column, gap_column = _columns(c.id)
        row[status_column] = c.status.value
        if c.test:
            value = c.test.get("value")
            row[value_column] = _text(value.value if isinstance(value, Status) else value)
            row[gap_column] = _text(gap_of(c))
    for v in rec.values:
        row[_columns(v.name)[1]] = _text(v.value)
    if rec.award is not None:
        row["award__status"] = rec.award.status
        row["award__amount"] = _text(rec.award.amount)
    row["missing_inputs"] = list(rec.missing_inputs)
    return row


def write_parquet(records: Iterable[Any], columns: ParquetColumns, path: str, pack: Any = None,
                  suggestions: Mapping[str, Any] | None = None) -> int:
    """Write the decisions table; returns the rows written. `records`: format-2 `Record2`s or their
    rows (`render_row2`), or format-1 compact records. (`suggestions`, what it would take, has no column: it is in the JSON.)"""
    schema = columns.schema()
    names = [f.name for f in schema]
    buffer: dict[str, list[Any]] = {n: [] for n in names}
    written = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        def flush() -> None:
            if buffer["id"]:
                writer.write_table(pa.table({n: pa.array(buffer[n], type=schema.field(n).type) for n in names},
                                            schema=schema))
                for n in names:
                    buffer[n].clear()

        for rec in records:
            row = rec if isinstance(rec, Row) else _row2(rec) if isinstance(rec, Record2) else _row1(rec)
            for n in names:
                buffer[n].append(row.get(n))
            written += 1
            if len(buffer["id"]) >= ROW_GROUP:
                flush()
        flush()
    return written
