"""Decisions as tables: CSV and XLSX, one row per entity — id, name, outcome — and one column per
criterion holding its status (met / not met / unknown / not applicable), then the missing inputs
and, when computed, what it would take to pass. Needs openpyxl (a dependency of the package) only
for XLSX; the worksheet layout is engine.report.sheet's.
"""

from __future__ import annotations

import csv
import io
import itertools
from typing import Any, Iterable, Iterator, Sequence

from engine.explain.whatif import describe
from engine.report.sheet import XLSX_WORDS, Sheet
from engine.report.text import WORDS, _label

_COMPARISONS = (">=", ">", "<=", "<", "=", "!=")


class Column(tuple):
    """(criterion id, header text) — what CSV output needs — plus `numeric`: the criterion compares
    a value with a threshold, so the XLSX gives it value, threshold and gap columns beside its status;
    and its zh/en title and clause for the XLSX headers."""

    numeric: bool
    title: dict[str, str]
    cite: str

    def __new__(cls, ident: str, header: str, numeric: bool = False, title: dict[str, str] | None = None,
                cite: str = "") -> "Column":
        self = super().__new__(cls, (ident, header))
        self.numeric, self.title, self.cite = numeric, dict(title or {}), cite
        return self


def result_columns(records: Sequence[dict[str, Any]], criteria: Sequence[Any] = ()) -> list[Column]:
    """Columns in pack order. `criteria` are the pack's criterion nodes (ids, titles, cites);
    without them, the order the records show them in."""
    seen: dict[str, Column] = {}
    for node in criteria:
        test = getattr(node, "test", None)
        numeric = bool(node.kind == "test" and test is not None and test.op in _COMPARISONS
                       and (test.param or test.threshold is not None))
        seen.setdefault(node.id, Column(node.id, f"{node.cite or ''} {node.title.get('zh') or node.id} [{node.id}]".strip(),
                                        numeric, node.title, node.cite or ""))
    for rec in records:
        for c in rec["criteria"]:
            if c["id"] not in seen:
                numeric = (c.get("test") or {}).get("operator") in _COMPARISONS
                seen[c["id"]] = Column(c["id"], f"{c.get('cite') or ''} {c['title'].get('zh') or c['id']} [{c['id']}]".strip(),
                                       numeric, c["title"], c.get("cite") or "")
    return list(seen.values())


def stream_columns(records: Iterable[dict[str, Any]], criteria: Sequence[Any] = ()) -> tuple[list[Column], Iterator[dict[str, Any]]]:
    """Columns from the pack and the first record, and the records again (first one included), so a
    writer can start before the batch is decided: memory stays flat in rows."""
    it = iter(records)
    first = next(it, None)
    if first is None:
        return result_columns([], criteria), iter(())
    return result_columns([first], criteria), itertools.chain([first], it)


def result_rows(records: Iterable[dict[str, Any]], columns: list[tuple[str, str]], lang: str = "zh") -> Iterator[list[Any]]:
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


def _title(col: Column, lang: str) -> str:
    title = col.title.get(lang) or col.title.get("zh") or col[0]
    return f"{col.cite} {title}".strip()


def xlsx_header(columns: Sequence[Column], lang: str = "zh") -> list[str]:
    x = XLSX_WORDS[lang]
    header = [x["id"], x["name"], x["outcome"]]
    for col in columns:
        title = _title(col, lang)
        header.append(title)
        if getattr(col, "numeric", False):
            sep = "：" if lang == "zh" else ": "
            header += [f"{title}{sep}{x['value']}", f"{title}{sep}{x['threshold']}", f"{title}{sep}{x['gap']}"]
    return header + [x["missing"], x["wit"], x["exact"], x["source"], x["sha"]]


def write_results_xlsx(records: Iterable[dict[str, Any]], path: str, columns: Sequence[tuple[str, str]],
                       lang: str = "zh") -> dict[str, int]:
    """Write the workbook to `path` (the caller makes the write atomic). Records are consumed one at a
    time (openpyxl write-only mode): memory stays flat in rows. Per criterion: its status and, for a
    comparison, its value, threshold and gap as numbers in the input's unit."""
    from openpyxl import Workbook  # openpyxl is loaded only when a workbook is written (it is slow to import)

    w, x = WORDS[lang], XLSX_WORDS[lang]
    cols = [c if isinstance(c, Column) else Column(c[0], c[1]) for c in columns]
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    book = Workbook(write_only=True)
    widths = [10, 12, 10] + [w_ for c in cols for w_ in ([10, 14, 14, 12] if c.numeric else [10])]
    sheet = Sheet(book, x["sheet"], xlsx_header(cols, lang), "D2", widths)
    for rec in records:
        outcome = rec["outcome"]
        counts[outcome] += 1
        by_id = {c["id"]: c for c in rec["criteria"]}
        exacts: list[str] = []
        cells = [sheet.text(rec["entity"]["id"]), sheet.text(rec["entity"].get("name") or ""),
                 sheet.text(w[outcome], outcome)]
        for col in cols:
            crit = by_id.get(col[0])
            if crit is None:
                cells.append(sheet.text(w["na"] if col[0] in rec.get("not_applicable", []) else ""))
            else:
                cells.append(sheet.text(w[crit["status"]], crit["status"]))
            if not col.numeric:
                continue
            test = (crit or {}).get("test") or {}
            unit = test.get("unit")
            for key, word in (("value", x["value"]), ("threshold", x["threshold"]), ("gap", x["gap"])):
                if test.get(key) is None or isinstance(test.get(key), (dict, list)):
                    cells.append(sheet.text(None))
                    continue
                cell, exact = sheet.number(test[key], unit, lang)
                cells.append(cell)
                if exact:
                    exacts.append(f"{_title(col, lang)} {word} = {exact}")
        wit = rec.get("what_it_takes")
        cells += [sheet.text("; ".join(_label(m["label"], lang) for m in rec.get("missing_inputs", []))),
                  sheet.text(" || ".join(describe(o, lang) for o in wit.get("options", [])) if wit else ""),
                  sheet.text("; ".join(exacts)), sheet.text(rec["entity"].get("source") or ""),
                  sheet.text(rec["record"]["input_sha256"])]
        sheet.append(cells)
    sheet.finish()
    book.save(path)
    return counts
