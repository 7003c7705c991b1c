"""Format-2 decisions as an officer's workbook (`certify evaluate --format xlsx` on a format-2 pack).

One row per entity: 编号, 名称, 结果 (coloured), then every criterion of the pack in document order
(its status, coloured) and — for a comparison — three number cells beside it: the value read, the
threshold in force and the gap when it is not met; then every value Python computed as a number
cell in the value's unit (`#,##0"万元"`, percentages as `%`, points as `分`); the award; the missing
data; the exact values a binary double cannot hold; the source row and the input's sha256.

The layout (bold wrapped header frozen with the key columns, autofilter, widths with CJK counted
double, text never a formula, the exact text in a cell comment) is engine.report.sheet's `Sheet`.
Rows are written as records arrive (openpyxl write-only mode): memory stays flat in rows.
Nothing here decides or computes a status: it shows the record.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any, Iterable, Mapping

from engine.compile.model2 import Pack2
from engine.core.status import Status
from engine.core.units import fraction_json, parse_unit
from engine.evaluate.record2 import Record2
from engine.explain.explain2 import is_lower_bound
from engine.explain.whatif2 import describe
from engine.report.format2_views import WORDS2, award_text, shown_value
from engine.report.sheet import XLSX_WORDS, Sheet

_COMPARISONS = (">=", ">", "<=", "<")
_FILLED = {"met": "met", "not_met": "not_met", "unknown": "unknown"}  # not applicable stays plain
_MORE = {"zh": {"award": "奖励", "award_amount": "奖励金额", "sheet": "认定结果"},
         "en": {"award": "award", "award_amount": "award amount", "sheet": "decisions"}}


def _label(text: Any, lang: str) -> str:
    if not text:
        return ""
    return text.get(lang) or text.get("zh") or next(iter(text.values()), "")


def criterion_columns(pack: Pack2, lang: str = "zh") -> list[tuple[str, str, bool]]:
    """(criterion id, header, whether it compares a number with a threshold), in document order;
    internal ids (with `~`) are never shown."""
    out = []
    for ident, info in pack.titles.items():
        if "~" in ident:
            continue
        title = f"{info.get('cite') or ''} {_label(info.get('title'), lang) or ident}".strip()
        out.append((ident, title, (info.get("test") or {}).get("op") in _COMPARISONS))
    return out


def _in_unit(value: Fraction, unit_name: str | None) -> tuple[str, str | None]:
    """(exact text of the number in the unit it is shown in, that unit's name)."""
    unit = parse_unit(unit_name) if unit_name else None
    if unit is None:
        return fraction_json(value), None
    return fraction_json(value / unit.factor), unit.name


def _gap(test: dict[str, Any], status: Status) -> Fraction | None:
    """How far a comparison found not met is from the threshold (positive), in base units."""
    value, threshold, op = test.get("value"), test.get("threshold"), test.get("op")
    if status is not Status.NOT_MET or not isinstance(value, (int, Fraction)) or isinstance(value, bool):
        return None
    if not isinstance(threshold, (int, Fraction)) or isinstance(threshold, bool):
        return None
    return Fraction(threshold) - Fraction(value) if op in (">=", ">") else Fraction(value) - Fraction(threshold)


def write_xlsx2(records: Iterable[Record2], pack: Pack2, path: str, lang: str = "zh",
                suggestions: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Write the workbook to `path` (the caller makes the write atomic); returns counts by outcome.
    `suggestions`: what it would take (engine.explain.whatif2) by entity id, one column."""
    from openpyxl import Workbook  # loaded only when a workbook is written (slow to import)

    w, x, more = WORDS2[lang], XLSX_WORDS[lang], _MORE[lang]
    sep = "：" if lang == "zh" else ": "
    columns = criterion_columns(pack, lang)
    header = [x["id"], x["name"], x["outcome"]]
    widths = [10, 12, 10]
    for _ident, title, numeric in columns:
        header.append(title)
        widths.append(10)
        if numeric:
            header += [f"{title}{sep}{x['value']}", f"{title}{sep}{x['threshold']}", f"{title}{sep}{x['gap']}"]
            widths += [14, 14, 12]
    values = list(pack.values.values())
    for v in values:
        header.append((_label(v.label, lang) or v.name) + (f"（{v.unit.name}）" if v.unit else ""))
        widths.append(12)
    if pack.awards is not None:
        header += [more["award"], more["award_amount"]]
        widths += [16, 14]
    header += [x["missing"]] + ([x["wit"]] if suggestions is not None else []) + [x["exact"], x["source"], x["sha"]]
    counts = {"pass": 0, "fail": 0, "undetermined": 0}
    book = Workbook(write_only=True)
    sheet = Sheet(book, more["sheet"], header, "D2", widths)
    for rec in records:
        exacts: list[str] = []

        def number(value: Any, unit_name: str | None, what: str, lower: bool = False) -> Any:
            if value is None:
                return sheet.text(None)
            if isinstance(value, bool) or isinstance(value, str):
                return sheet.text(shown_value(value, None, lang))
            if isinstance(value, dt.date):
                return sheet.text(value.isoformat())
            text, unit = _in_unit(Fraction(value), unit_name)
            cell, exact = sheet.number(text, unit, lang)
            if lower:  # a lower bound stays a number; its format shows it ≥
                cell.number_format = '"≥"' + (cell.number_format or "General")
                exacts.append(f"{what} ≥ {text}{unit or ''}")
            if exact:
                exacts.append(f"{what} = {exact}")
            return cell

        outcome = rec.outcome.value if rec.outcome else None
        if outcome:
            counts[outcome] += 1
        cells = [sheet.text(rec.entity_id), sheet.text(rec.entity_name or ""),
                 sheet.text(w[outcome] if outcome else w["none"], outcome)]
        by_id = {c.id: c for c in rec.criteria}
        for ident, title, numeric in columns:
            crit = by_id.get(ident)
            status = crit.status.value if crit else None
            cells.append(sheet.text(w[status], _FILLED.get(status)) if status else sheet.text(""))
            if not numeric:
                continue
            test = dict(crit.test or {}) if crit else {}
            unit = test.get("unit")
            cells.append(number(test.get("value"), unit, f"{title} {x['value']}"))
            cells.append(number(test.get("threshold"), unit, f"{title} {x['threshold']}"))
            gap = _gap(test, crit.status) if crit else None
            cells.append(number(gap, unit, f"{title} {x['gap']}"))
        computed = {v.name: v for v in rec.values}
        for v in values:
            got = computed.get(v.name)
            name = _label(v.label, lang) or v.name
            cells.append(number(got.value if got else None, v.unit.name if v.unit else None, name,
                                lower=got is not None and is_lower_bound(got)))
        if pack.awards is not None:
            award = rec.award
            cells.append(sheet.text(award_text(rec, lang) if award else ""))
            amount = award.amount if award is not None and award.status == "awarded" else None
            cells.append(number(amount, award.unit if award else None, more["award_amount"]))
        missing = [_label(pack.inputs[i].label, lang) or i for i in rec.missing_inputs if i in pack.inputs]
        cells.append(sheet.text(w["sep"].join(missing)))
        if suggestions is not None:
            wit = suggestions.get(rec.entity_id) or {}
            cells.append(sheet.text(" || ".join(describe(o, lang) for o in wit.get("options", []))))
        cells += [sheet.text("; ".join(exacts)), sheet.text(rec.where),
                  sheet.text(rec.provenance.input_sha256)]
        sheet.append(cells)
    sheet.finish()
    book.save(path)
    return counts
