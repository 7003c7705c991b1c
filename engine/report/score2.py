"""`certify score` on a format-2 pack: per group (the rank's `within`) a ranking table — place, entity,
total, each indicator's points, award, vetoes and consequences — then, with --full, every entity's
points indicator by indicator with the steps Python computed and its rank details. Text (zh / en)
and JSON.

What is a "total" and what are its "indicators" is read from the pack, never written here: the
total is what the first `rank` value ranks by (without a rank, the last points value no other
points value reads), the indicators are the points values the total is made of. Places, ties,
provisional marks and awards are the record's (engine.evaluate.points `rank`, run2 awards): a
place is marked `*` when the record says it is provisional (an entity of the group not ranked for
missing data, or an undecided `last`), `=` when it is shared. Nothing here decides or computes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable, Mapping, TextIO

from engine.compile.model2 import Pack2
from engine.core.jsontext import Stream, dump_indented
from engine.core.problems import Problem
from engine.core.status import Status
from engine.core.units import format_amount, fraction_json, parse_unit
from engine.evaluate.record2 import Record2, json_value
from engine.explain.explain2 import is_lower_bound, labelled_step
from engine.report.format2_views import WORDS2, award_text, comparison_text, decision_dict, shown_value, write_value_lines

SCORE_SCHEMA2 = "certify.score/2"

_MARK = {"met": "✔", "not_met": "✘", "unknown": "?", "not_applicable": "–"}
_W = {
    "zh": {"place": "名次", "entity": "对象", "total": "总分", "award": "奖励", "notes": "否决与后果",
           "not_ranked": "未排名", "all": "全体", "awards_total": "奖励合计", "held": "暂缓发放",
           "provisional": "* {why}", "shared": "= 并列名次", "unknown": "? 未知（缺数据）",
           "full_hint": "（加 --full 显示每个对象的逐项计分过程）", "place_of": "排第{place}/{of}",
           "not_ranked_long": "未参加排名", "unknown_note": "（未知）", "none": "—", "sep": "；",
           "choices": "待定选项", "default": "默认", "rank_steps": "名次",
           "lower": "≥ 下限：缺少数据的项按0分计（暂定）"},
    "en": {"place": "place", "entity": "entity", "total": "total", "award": "award", "notes": "vetoes and consequences",
           "not_ranked": "not ranked", "all": "all", "awards_total": "awards in total", "held": "held",
           "provisional": "* {why}", "shared": "= shared place", "unknown": "? unknown (data missing)",
           "full_hint": "(--full shows every entity's points item by item)", "place_of": "place {place} of {of}",
           "not_ranked_long": "not ranked", "unknown_note": " (unknown)", "none": "—", "sep": "; ",
           "choices": "choices", "default": "default", "rank_steps": "place",
           "lower": "≥ a lower bound: a missing figure scored 0 (provisional)"},
}


def _label(text: Mapping[str, str] | None, lang: str) -> str:
    if not text:
        return ""
    return text.get(lang) or text.get("zh") or next(iter(text.values()), "")


@dataclass(frozen=True)
class ScorePlan:
    """Which values of the pack the score view shows: the rank, the total, the indicators."""

    rank: str | None
    total: str | None
    indicators: tuple[str, ...]
    within: str | None  # the input that splits the batch into groups (the rank's `within`)


def score_plan(pack: Pack2) -> ScorePlan:
    rank = next((n for n, v in pack.values.items() if v.op == "rank"), None)
    points = [n for n, v in pack.values.items() if v.points]
    total: str | None = None
    within = None
    if rank is not None:
        args = pack.values[rank].args
        total, within = args.of, args.within
    elif points:
        read_by_points = {r for n in points for r in pack.values[n].reads}
        sinks = [n for n in points if n not in read_by_points]
        total = sinks[-1] if sinks else points[-1]
        within = next((getattr(pack.values[n].args, "within", None) for n in points
                       if getattr(pack.values[n].args, "within", None)), None)
    indicators: tuple[str, ...] = ()
    if total is not None and total in pack.values:
        indicators = tuple(n for n in pack.values[total].reads if n in pack.values and pack.values[n].points)
    if not indicators:
        indicators = tuple(n for n in points if n != total)
    return ScorePlan(rank, total, indicators, within)


def _group_of(rec: Record2, plan: ScorePlan) -> Any:
    """The entity's group: from its rank, its award, or a rank-points value that placed it."""
    values = {v.name: v for v in rec.values}
    if plan.rank and plan.rank in values and "group" in values[plan.rank].detail:
        return values[plan.rank].detail["group"]
    if rec.award is not None and rec.award.group is not None:
        return rec.award.group
    for v in rec.values:
        if v.op == "rank_points" and v.detail.get("group") is not None:
            return v.detail["group"]
    return None


def _group_label(pack: Pack2, plan: ScorePlan, key: Any, lang: str) -> str:
    if key is None:
        return _W[lang]["all"] if plan.within is None else _W[lang]["not_ranked"]
    spec = pack.inputs.get(plan.within) if plan.within else None
    if spec is not None and spec.values and str(key) in spec.values:
        return _label(spec.values[str(key)], lang)
    return shown_value(key, None, lang)


def _row(rec: Record2, pack: Pack2, plan: ScorePlan) -> dict[str, Any]:
    """One entity's line, as data (the text and JSON views both read it)."""
    values = {v.name: v for v in rec.values}
    rank = values.get(plan.rank) if plan.rank else None
    detail = dict(rank.detail) if rank is not None else {}
    place = rank.value if rank is not None and rank.value is not None else None
    notes = []
    statuses = rec.statuses()
    rank_args = pack.values[plan.rank].args if plan.rank else None
    last = getattr(rank_args, "last", None)
    if last and last in statuses and statuses[last] in (Status.MET, Status.UNKNOWN):
        notes.append({"id": last, "title": dict(pack.titles.get(last, {}).get("title") or {}),
                      "status": statuses[last].value})
    eligible = pack.awards.eligible if pack.awards is not None else None
    if eligible and eligible in statuses and statuses[eligible] in (Status.NOT_MET, Status.UNKNOWN) and eligible != last:
        notes.append({"id": eligible, "title": dict(pack.titles.get(eligible, {}).get("title") or {}),
                      "status": statuses[eligible].value})
    for n in rec.notes:
        if n.status in (Status.MET, Status.UNKNOWN):
            notes.append({"id": n.id, "title": dict(n.title), "status": n.status.value})
    return {
        "id": rec.entity_id, "name": rec.entity_name, "group": _group_of(rec, plan),
        "place": int(place) if place is not None else None,
        "provisional": bool(detail.get("provisional")), "tied_with": list(detail.get("tied_with") or []),
        "not_ranked": list(detail.get("not_ranked") or []), "forced_last": detail.get("forced_last"),
        "of": detail.get("of"),
        "total": values[plan.total].value if plan.total in values else None,
        "points": {n: values[n].value if n in values else None for n in plan.indicators},
        # the values shown whose number is only a lower bound (a figure scored 0): marked ≥
        "lower": [n for n in ((plan.total,) if plan.total else ()) + plan.indicators
                  if n in values and is_lower_bound(values[n])],
        "notes": notes, "record": rec,
    }


def score_groups(records: Iterable[Record2], pack: Pack2) -> tuple[ScorePlan, list[tuple[Any, list[dict[str, Any]]]]]:
    """(the plan, [(group key, rows)]): groups in order of first appearance, rows by place (entities
    without a place after, in input order)."""
    plan = score_plan(pack)
    groups: dict[Any, list[dict[str, Any]]] = {}
    for rec in records:
        row = _row(rec, pack, plan)
        groups.setdefault(row["group"], []).append(row)
    out = []
    for key, rows in groups.items():
        ordered = sorted((r for r in rows if r["place"] is not None), key=lambda r: r["place"])
        ordered += [r for r in rows if r["place"] is None]
        out.append((key, ordered))
    return plan, out


def _points(value: Any, lang: str, lower: bool = False) -> str:
    if value is None:
        return "?"
    text = format_amount(Fraction(value), None, lang) if not isinstance(value, bool) else shown_value(value, None, lang)
    return "≥" + text if lower else text


def _place_text(row: dict[str, Any]) -> str:
    if row["place"] is None:
        return "—"
    return f"{row['place']}{'=' if row['tied_with'] else ''}{'*' if row['provisional'] else ''}"


def _award_cell(rec: Record2, lang: str) -> str:
    if rec.award is None or rec.award.status == "none":
        return "—"
    return award_text(rec, lang)


def _notes_cell(row: dict[str, Any], lang: str) -> str:
    w = _W[lang]
    if not row["notes"]:
        return w["none"]
    parts = []
    for n in row["notes"]:
        text = _label(n["title"], lang) or n["id"]
        if n["status"] != "met":  # a veto that holds is named; anything else says its status
            text += ("：" if lang == "zh" else ": ") + WORDS2[lang][n["status"]]
        parts.append(text)
    return w["sep"].join(parts)


def _value_label(pack: Pack2, name: str, lang: str) -> str:
    return _label(pack.values[name].label, lang) or name


def render_score_text2(records: Iterable[Record2], pack: Pack2, out: TextIO, lang: str = "zh", full: bool = False) -> None:
    w, words = _W[lang], WORDS2[lang]
    records = list(records)
    plan, groups = score_groups(records, pack)
    if records:
        prov = records[0].provenance
        out.write(f"{_label(pack.meta.title, lang) or prov.pack_id} — {prov.pack_id} {prov.pack_version} "
                  f"(sha256 {prov.pack_sha256[:12]}), {words['as_of']} {prov.as_of}\n")
        for v in records[0].validity:
            out.write(f"  ⚠ {v['code']} {v['zh'] if lang == 'zh' else v['en']}\n")
        for c in records[0].choices:
            option = _label(pack.choices[c.name].options.get(c.option), lang) or c.option
            source = w["default"] if c.source == "default" else c.source
            out.write(f"  {w['choices']}: {_label(c.label, lang) or c.name} = {option} ({c.option}, {source})\n")
    if not full:
        out.write(w["full_hint"] + "\n")
    head = [w["place"], w["entity"], (_value_label(pack, plan.total, lang) if plan.total else w["total"])]
    head += [_value_label(pack, n, lang) for n in plan.indicators]
    head += [w["award"], w["notes"]] if pack.awards is not None else [w["notes"]]
    unit = parse_unit(pack.awards.unit.name) if pack.awards is not None and pack.awards.unit else None
    grand = Fraction(0)
    for key, rows in groups:
        ranked = sum(1 for r in rows if r["place"] is not None)
        out.write(f"\n== {_group_label(pack, plan, key, lang)} ({ranked}/{len(rows)}) ==\n")
        out.write(" | ".join(head) + "\n")
        paid, held = Fraction(0), Fraction(0)
        for row in rows:
            rec = row["record"]
            cells = [_place_text(row), f"{row['id']} {row['name'] or ''}".strip(),
                     _points(row["total"], lang, plan.total in row["lower"])]
            cells += [_points(row["points"][n], lang, n in row["lower"]) for n in plan.indicators]
            if pack.awards is not None:
                cells.append(_award_cell(rec, lang))
                if rec.award is not None and rec.award.status == "awarded" and rec.award.amount is not None:
                    paid += rec.award.amount
                if rec.award is not None and rec.award.status == "pending" and rec.award.held is not None:
                    held += rec.award.held
            cells.append(_notes_cell(row, lang))
            out.write(" | ".join(cells) + "\n")
        if pack.awards is not None:
            line = f"{w['awards_total']}: {format_amount(paid, unit, lang)}"
            if held:
                line += f" ({w['held']} {format_amount(held, unit, lang)})"
            out.write(line + "\n")
            grand += paid
        marks = []
        if any(r["tied_with"] for r in rows):
            marks.append(w["shared"])
        why = sorted({s for r in rows if r["provisional"] for s in _provisional_reasons(r, pack, plan, lang)})
        if why:
            marks.append(w["provisional"].format(why=w["sep"].join(why)))
        if any(r["lower"] for r in rows):
            marks.append(w["lower"])
        if any(r["total"] is None or None in r["points"].values() for r in rows):
            marks.append(w["unknown"])
        for m in marks:
            out.write(m + "\n")
    if pack.awards is not None and len(groups) > 1:
        stated = f" / {format_amount(pack.awards.total, unit, lang)}" if pack.awards.total is not None else ""
        out.write(f"\n{w['awards_total']}: {format_amount(grand, unit, lang)}{stated}\n")
    if full:
        for _key, rows in groups:
            for row in rows:
                _render_entity(row, pack, plan, out, lang)


def _provisional_reasons(row: dict[str, Any], pack: Pack2, plan: ScorePlan, lang: str) -> list[str]:
    """Why a place is provisional, as the rank's own steps say it (its last steps)."""
    rec: Record2 = row["record"]
    if not plan.rank:
        return []
    rank = next((v for v in rec.values if v.name == plan.rank), None)
    if rank is None:
        return []
    return [labelled_step(pack, plan.rank, s.zh if lang == "zh" else s.en, lang) for s in rank.steps if "暂定" in s.zh]


def _render_entity(row: dict[str, Any], pack: Pack2, plan: ScorePlan, out: TextIO, lang: str) -> None:
    w = _W[lang]
    rec: Record2 = row["record"]
    values = {v.name: v for v in rec.values}
    place = (w["place_of"].format(place=row["place"], of=row["of"]) if row["place"] is not None
             else w["not_ranked_long"])
    total = _points(row["total"], lang, plan.total in row["lower"]) if plan.total else ""
    out.write(f"\n{rec.entity_id} {rec.entity_name or ''}: {place}{'*' if row['provisional'] else ''}, "
              f"{_value_label(pack, plan.total, lang) if plan.total else w['total']} {total}\n")
    shown = list(plan.indicators) + ([plan.total] if plan.total else []) + ([plan.rank] if plan.rank else [])
    for name in shown:
        v = values.get(name)
        if v is None:
            continue
        spec = pack.values[name]
        cite = f" ({spec.cite})" if getattr(spec, "cite", None) else ""
        text = shown_value(v.value, v.unit, lang) if name != plan.rank else (_points(v.value, lang) if v.value is not None else "?")
        if is_lower_bound(v):
            text = "≥" + text
        write_value_lines(pack, v, f"  {_value_label(pack, name, lang)}{cite}: {text}", out, lang, "    ")
    if rec.award is not None and rec.award.status != "none":
        out.write(f"  {_W[lang]['award']}: {award_text(rec, lang)}\n")
    # every criterion of the pack (vetoes, award eligibility, the decision) and every consequence or
    # flag, met or not, as format 1's score view listed them; a comparison with what it compared,
    # the threshold as written and how far from passing
    words = WORDS2[lang]
    for c in rec.criteria:
        if c.id not in pack.criteria:
            continue
        cite = f"{c.cite} " if c.cite else ""
        line = f"  {_MARK[c.status.value]} {cite}{_label(c.title, lang) or c.id}: {words[c.status.value]}"
        if c.reason:
            line += f" ({_label(c.reason, lang)})"
        elif c.test and c.test.get("op") in (">=", ">", "<=", "<", "=", "!=") and "threshold" in c.test:
            line += comparison_text(c.status.value, c.test, lang)
        out.write(line + "\n")
    for n in rec.notes:
        cite = f"{n.cite} " if n.cite else ""
        out.write(f"  {_MARK[n.status.value]} {words[n.kind]} {cite}{_label(n.title, lang) or n.id}: {words[n.status.value]}\n")


def score_json2(records: Iterable[Record2], pack: Pack2, problems: list[Problem], rows: Any = None,
                lazy: bool = False) -> dict[str, Any]:
    """The score as JSON data. `lazy`: each group's entities and the decisions are `Stream`s, made
    while engine.core.jsontext writes them (write_score_json2), so no more than one entity's dict
    is held at a time."""
    records = list(records)
    plan, groups = score_groups(records, pack)
    listed = Stream if lazy else list
    out_groups = []
    for key, members in groups:
        out_groups.append({
            "group": json_value(key),
            "entities": listed({
                "id": r["id"], "name": r["name"], "place": r["place"], "provisional": r["provisional"],
                "tied_with": r["tied_with"], "not_ranked_in_group": r["not_ranked"], "placed_last": r["forced_last"],
                "ranked_among": r["of"], "total": json_value(r["total"]),
                "points": {n: json_value(v) for n, v in r["points"].items()},
                "lower_bounds": r["lower"],
                "award": ({k: json_value(v) for k, v in vars(r["record"].award).items()}
                          if r["record"].award is not None else None),
                "notes": r["notes"],
            } for r in members),
        })
    prov = records[0].provenance if records else None
    return {
        "schema": SCORE_SCHEMA2,
        "pack": {"id": pack.meta.id, "version": pack.meta.version, "sha256": pack.sha256,
                 "as_of": pack.as_of.isoformat(), "engine_version": prov.engine_version if prov else None},
        "rank": plan.rank, "total": plan.total, "indicators": list(plan.indicators), "within": plan.within,
        "choices": [{"name": c.name, "option": c.option, "source": c.source} for c in (records[0].choices if records else ())],
        "groups": out_groups,
        "decisions": listed(decision_dict(r, pack) for r in records),
        "counts": rows.as_dict() if rows is not None else {"decided": len(records)},
        "problems": [p.as_dict() for p in sorted(problems)],
    }


_CSV = {
    "zh": {"group": "分组", "place": "名次", "tied": "并列", "provisional": "名次暂定", "id": "编号", "name": "名称",
           "lower": "为下限（≥）的得分", "award": "奖励", "amount": "奖励金额", "award_status": "奖励状态",
           "notes": "否决与后果", "yes": "是", "no": "否",
           "status": {"awarded": "获奖", "pending": "待定（暂留）", "excluded": "不能获奖", "none": "无"}},
    "en": {"group": "group", "place": "place", "tied": "tied", "provisional": "provisional place", "id": "id",
           "name": "name", "lower": "lower bounds (≥)", "award": "award",
           "amount": "award amount", "award_status": "award status", "notes": "vetoes and consequences",
           "yes": "yes", "no": "no",
           "status": {"awarded": "awarded", "pending": "pending (held)", "excluded": "not eligible", "none": "none"}},
}


def _exact(value: Any, unit: Any) -> str:
    """A number for a spreadsheet: exact ("12.5", or "1/3" where no decimal is exact), in the unit
    its header names, no digit grouping and no unit; an unknown value is an empty cell."""
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value)
    return fraction_json(Fraction(value) / unit.factor if unit is not None else Fraction(value))


def render_score_csv2(records: Iterable[Record2], pack: Pack2, out: TextIO, lang: str = "zh") -> None:
    """One row per entity, groups and places as the text view orders them: the group, place (with
    tied / provisional as their own columns), the total and each indicator exactly in its unit,
    which of them are lower bounds, the award (title, amount in the award unit — the amount held
    when pending — and status), vetoes and consequences. Headers are the officer's labels with the
    unit in brackets."""
    w = _W[lang]
    c = _CSV[lang]
    plan, groups = score_groups(records, pack)
    shown = ([plan.total] if plan.total else []) + list(plan.indicators)
    units = {n: pack.values[n].unit for n in shown}
    head = [c["group"], c["place"], c["tied"], c["provisional"], c["id"], c["name"]]
    bracket = "（{}）" if lang == "zh" else " ({})"
    head += [_value_label(pack, n, lang) + (bracket.format(units[n].name) if units[n] is not None else "") for n in shown]
    head.append(c["lower"])
    award_unit = parse_unit(pack.awards.unit.name) if pack.awards is not None and pack.awards.unit else None
    if pack.awards is not None:
        head += [c["award"], c["amount"] + (bracket.format(award_unit.name) if award_unit is not None else ""), c["award_status"]]
    head.append(c["notes"])
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(head)
    for key, rows in groups:
        for row in rows:
            rec: Record2 = row["record"]
            values = {v.name: v for v in rec.values}
            cells = [_group_label(pack, plan, key, lang), "" if row["place"] is None else str(row["place"]),
                     c["yes"] if row["tied_with"] else c["no"], c["yes"] if row["provisional"] else c["no"],
                     rec.entity_id, rec.entity_name or ""]
            cells += [_exact(values[n].value if n in values else None, units[n]) for n in shown]  # ≥: the next column
            cells.append(w["sep"].join(_value_label(pack, n, lang) for n in shown
                                       if n in values and values[n].value is not None and values[n].missing))
            if pack.awards is not None:
                a = rec.award
                status = a.status if a is not None else "none"
                amount = a.amount if a is not None and status == "awarded" else a.held if a is not None and status == "pending" else None
                cells += [_label(a.title, lang) if a is not None and status in ("awarded", "pending") else "",
                          _exact(amount, award_unit), c["status"].get(status, status)]
            notes = _notes_cell(row, lang)
            cells.append("" if notes == w["none"] else notes)
            writer.writerow(cells)


def write_score_json2(records: Iterable[Record2], pack: Pack2, problems: list[Problem], out: TextIO, rows: Any = None) -> None:
    # = json.dump(indent=2), C-encoded, written entity by entity
    dump_indented(score_json2(records, pack, problems, rows, lazy=True), out)
    out.write("\n")


__all__ = ["SCORE_SCHEMA2", "ScorePlan", "render_score_csv2", "render_score_text2", "score_groups", "score_json2",
           "score_plan", "write_score_json2"]
