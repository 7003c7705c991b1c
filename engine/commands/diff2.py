"""`certify diff` for two versions of a format-2 pack: both decide the same entities (same engine,
same as-of date) and the differences are explained — which entities change outcome, place or
award, which criteria changed status, and why.

The result has the shape of format 1's `certify.diff/1` (engine.commands.diff: `pack_changes`,
`outcome_changes`, `criteria_changes`, each criterion with `cause` and `why`) plus what format 2
adds: the values whose definition changed, the choices in force, and per entity the values that
moved (`values`), its place and its award. A criterion is a *cause* when no criterion below it
changed; its `why` names what moved: its own definition, a parameter it compares with, or the
value it reads (old → new) with what moved upstream of that value (a parameter, a choice, a
value's definition), found by walking the value's reads in the new pack.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Any, Iterable, TextIO

from engine.commands.common import EXIT, parse_as_of
from engine.commands.diff import (NOT_APPLICABLE, _cause_text, _md, _name, _pack_change_lines,
                                  _summary, _t, _word, compared_or_stop, criteria_changes,
                                  param_changes, read_version, reason_opening, reason_text, render_entity_changes,
                                  sort_changes, version_side)
from engine.compile.model import Node
from engine.compile.model2 import Pack2
from engine.core.files import check_output, open_output
from engine.core.problems import Problem, plain
from engine.evaluate.pipeline import decide_files2, load_pack2
from engine.evaluate.record2 import Record2, json_value
from engine.explain.explain2 import is_lower_bound, threshold_text
from engine.report.format2_views import award_text, shown_value, value_text

DIFF_SCHEMA2 = "certify.diff/1"  # the same shape as format 1's, with `format: 2` and the additions above


def _nodes(pack: Pack2) -> dict[str, Node]:
    """Every named criterion node of every stage (internal `~` ids left out)."""
    return {n.id: n for stage in pack.stages for n in stage.pack.root.criteria() if n.id and "~" not in n.id}


def _below(pack: Pack2) -> dict[str, set[str]]:
    return {ident: {m.id for m in node.walk() if m.id and m is not node} for ident, node in _nodes(pack).items()}


def _value_def(pack: Pack2, name: str) -> Any:
    v = pack.values[name]
    return (v.op, repr(v.args), v.unit.name if v.unit else None)


def pack_changes2(old: Pack2, new: Pack2) -> dict[str, Any]:
    old_notes, new_notes = old.notes, new.notes
    return {
        "parameters": param_changes(old, new),
        **criteria_changes(_nodes(old), _nodes(new)),
        "flags_added": [i for i in new_notes if i not in old_notes],
        "flags_removed": [i for i in old_notes if i not in new_notes],
        "flags_changed": [],  # a flag's condition is compiled into its stage; its status changes are listed per entity
        "values_added": [n for n in new.values if n not in old.values],
        "values_removed": [n for n in old.values if n not in new.values],
        "values_changed": [n for n in new.values if n in old.values and _value_def(old, n) != _value_def(new, n)],
        "choices_changed": [{"name": n, "old": old.choices[n].option if n in old.choices else None,
                             "new": new.choices[n].option if n in new.choices else None}
                            for n in list(new.choices) + [m for m in old.choices if m not in new.choices]
                            if (old.choices.get(n) and old.choices[n].option) != (new.choices.get(n) and new.choices[n].option)],
    }


def _upstream(pack: Pack2, name: str, changes: dict[str, Any]) -> list[str]:
    """What moved upstream of value `name`: changed parameters, choices and value definitions it reads
    (transitively), in the English phrases `why_text` translates."""
    params = {p["name"]: p for p in changes["parameters"]}
    choices = {c["name"]: c for c in changes["choices_changed"]}
    changed_values = set(changes["values_changed"]) | set(changes["values_added"])
    seen: set[str] = set()
    out: list[str] = []
    stack = [name]
    while stack:
        current = stack.pop(0)
        if current in seen:
            continue
        seen.add(current)
        if current in params:
            p = params[current]
            out.append(f"parameter {current} ({plain(p['cite'] or '')}): {p['old']} → {p['new']}")
        elif current in choices:
            c = choices[current]
            out.append(f"parameter {current}: {c['old']} → {c['new']}")
        elif current in pack.values:
            if current in changed_values:
                out.append(f"definition changed: {current}")
            stack.extend(pack.values[current].reads)
    return out


def _shown(rec: Record2 | None, name: str, lang: str = "zh") -> str | None:
    if rec is None:
        return None
    for v in rec.values:
        if v.name == name:
            return value_text(v, lang)
    return None


def _reason(ident: str, changes: dict[str, Any], old_rec: Record2, new_rec: Record2, new: Pack2) -> str:
    parts = reason_opening(ident, changes)
    if isinstance(parts, str):
        return parts
    node = _nodes(new).get(ident)
    test = node.test if node is not None else None
    params = {p["name"]: p for p in changes["parameters"]}
    if test is not None and test.param in params:
        p = params[test.param]
        parts.append(f"parameter {p['name']} ({plain(p['cite'] or '')}): {p['old']} → {p['new']}")
    if test is not None and test.input in new.values:
        before, after = _shown(old_rec, test.input), _shown(new_rec, test.input)
        if before != after:
            parts.append(f"value {test.input} {before} → {after}")
            parts += [u for u in _upstream(new, test.input, changes) if u not in parts]
    elif parts and test is not None:  # an input compared with a moved threshold: the value it had, as format 1 says
        seen = _criterion(new_rec, ident) or _criterion(old_rec, ident)
        if seen is not None and seen.test and seen.test.get("value") is not None:
            parts.append(f"value {shown_value(seen.test['value'], seen.test.get('unit'), 'zh')}")
    return reason_text(parts, node)


def _criterion(rec: Record2, ident: str) -> Any:
    return next((c for c in rec.criteria if c.id == ident), None)


def _test_change(old_c: Any, new_c: Any) -> dict[str, Any] | None:
    """A cause's comparison in both versions (format 1's `test`): the value compared, the
    threshold (exact, and as the policy writes it) and how far from passing, old and new."""
    old_t, new_t = (old_c.test if old_c else None) or {}, (new_c.test if new_c else None) or {}
    either = new_t or old_t
    if not either or either.get("op") not in (">=", ">", "<=", "<"):
        return None
    unit = either.get("unit")

    def text(t: dict[str, Any], lang: str) -> str | None:
        return threshold_text(t, unit, lang) if t.get("threshold") is not None else None

    return {"input": either.get("name"), "value": json_value(either.get("value")),
            "value_text": shown_value(either.get("value"), unit, "zh") if either.get("value") is not None else None,
            "parameter": either.get("param"),
            "old_threshold": json_value(old_t.get("threshold")), "new_threshold": json_value(new_t.get("threshold")),
            "old_threshold_text": text(old_t, "zh"), "new_threshold_text": text(new_t, "zh"),
            "old_gap": json_value(old_t.get("gap")), "new_gap": json_value(new_t.get("gap"))}


def _statuses(rec: Record2) -> dict[str, str]:
    return {c.id: c.status.value for c in rec.criteria}


def _award(rec: Record2) -> dict[str, Any] | None:
    if rec.award is None:
        return None
    return {"status": rec.award.status, "place": rec.award.place, "amount": json_value(rec.award.amount),
            "text": {lang: award_text(rec, lang) for lang in ("zh", "en")}}


def _place(rec: Record2, new: Pack2) -> Any:
    rank = next((n for n, v in new.values.items() if v.op == "rank"), None)
    if rank is None:
        return None
    value = next((v.value for v in rec.values if v.name == rank), None)
    return int(value) if value is not None else None  # a place is a whole number


def _entity_diff(old_rec: Record2, new_rec: Record2, old: Pack2, new: Pack2, changes: dict[str, Any],
                 below: dict[str, set[str]]) -> dict[str, Any] | None:
    a, b = _statuses(old_rec), _statuses(new_rec)
    order = [c.id for c in new_rec.criteria] + [c.id for c in old_rec.criteria if c.id not in b]
    moved = [i for i in order if a.get(i, NOT_APPLICABLE) != b.get(i, NOT_APPLICABLE)]
    old_notes = {n.id: n for n in old_rec.notes}
    new_notes = {n.id: n for n in new_rec.notes}
    flags = [{"id": i, "title": dict((new_notes.get(i) or old_notes[i]).title),
              "old": old_notes[i].status.value if i in old_notes else None,
              "new": new_notes[i].status.value if i in new_notes else None}
             for i in list(new_notes) + [j for j in old_notes if j not in new_notes]
             if (old_notes[i].status if i in old_notes else None) != (new_notes[i].status if i in new_notes else None)]
    old_values = {v.name: v for v in old_rec.values}
    values = []
    for v in new_rec.values:
        before = old_values.get(v.name)
        # a lower bound that becomes the value (the figure given), or the reverse, changed too
        if before is None or before.value != v.value or is_lower_bound(before) != is_lower_bound(v):
            values.append({"name": v.name, "label": dict(v.label), "unit": v.unit,
                           "old": json_value(before.value) if before else None, "new": json_value(v.value),
                           "old_text": {lang: value_text(before, lang) if before else None for lang in ("zh", "en")},
                           "new_text": {lang: value_text(v, lang) for lang in ("zh", "en")}})
    award_old, award_new = _award(old_rec), _award(new_rec)
    place_old, place_new = _place(old_rec, old), _place(new_rec, new)
    outcome_old = old_rec.outcome.value if old_rec.outcome else None
    outcome_new = new_rec.outcome.value if new_rec.outcome else None
    award_moved = (award_old or {}).get("text") != (award_new or {}).get("text")
    if not moved and not flags and not values and outcome_old == outcome_new and not award_moved and place_old == place_new:
        return None
    moved_set = set(moved)
    old_by_id = {c.id: c for c in old_rec.criteria}
    new_by_id = {c.id: c for c in new_rec.criteria}
    criteria = []
    for ident in moved:
        c = new_by_id.get(ident) or old_by_id[ident]
        cause = not (below.get(ident, set()) & moved_set)
        item: dict[str, Any] = {"id": ident, "cite": c.cite, "title": dict(c.title),
                                "old": a.get(ident, NOT_APPLICABLE), "new": b.get(ident, NOT_APPLICABLE), "cause": cause}
        if cause:
            item["why"] = _reason(ident, changes, old_rec, new_rec, new)
            compared = _test_change(old_by_id.get(ident), new_by_id.get(ident))
            if compared is not None:
                item["test"] = compared
        criteria.append(item)
    out: dict[str, Any] = {
        "entity": {"id": new_rec.entity_id, "name": new_rec.entity_name, "where": new_rec.where},
        "old_outcome": outcome_old, "new_outcome": outcome_new, "criteria": criteria, "flags": flags,
        "values": values,
    }
    if place_old != place_new:
        out["place"] = {"old": place_old, "new": place_new}
    if award_moved:
        out["award"] = {"old": award_old, "new": award_new}
    return out


def diff_decisions2(old: Pack2, new: Pack2, data: Iterable[str], engine: str = "durable",
                    old_label: str | None = None, new_label: str | None = None) -> dict[str, Any]:
    """Decide every entity in `data` with both versions and explain the differences."""
    files = list(data)
    old_problems: list[Problem] = []
    new_problems: list[Problem] = []
    old_records = {r.entity_id: r for r in decide_files2(old, files, engine, old_problems)}
    new_records = list(decide_files2(new, files, engine, new_problems))
    changes = pack_changes2(old, new)
    below = _below(new)
    for ident, ids in _below(old).items():
        below.setdefault(ident, set()).update(ids)
    found = [f for rec in new_records if rec.entity_id in old_records
             and (f := _entity_diff(old_records[rec.entity_id], rec, old, new, changes, below)) is not None]
    place_changed = sum("place" in f for f in found)
    award_changed = sum("award" in f for f in found)
    outcome_changes, detail_changes, transitions = sort_changes(found)
    return {
        "schema": DIFF_SCHEMA2, "format": 2,
        "old": version_side(old, old_label), "new": version_side(new, new_label),
        "as_of": new.as_of.isoformat(), "engine": engine,
        "pack_changes": changes,
        "counts": {"entities": len(new_records), "outcome_changed": len(outcome_changes),
                   "criteria_changed_only": len(detail_changes), "transitions": transitions,
                   "place_changed": place_changed, "award_changed": award_changed},
        "outcome_changes": outcome_changes,
        "criteria_changes": detail_changes,
        "problems": [p.as_dict() for p in sorted(set(old_problems) | set(new_problems))],
    }


def diff_files2(old_spec: str, new_spec: str, data: Iterable[str], as_of: dt.date, engine: str = "durable",
                cwd: str | None = None) -> dict[str, Any]:
    """Both versions read (paths or REV:PATH, as format 1), built, decided and compared. Raises
    DiffSourceError for a version that cannot be read, ProblemsError for a pack with errors."""
    with tempfile.TemporaryDirectory(prefix="certify-diff-") as workdir:
        old_v = read_version(old_spec, workdir, cwd)
        new_v = read_version(new_spec, workdir, cwd)
        old = load_pack2(old_v.path, as_of)
        new = load_pack2(new_v.path, as_of)
        return diff_decisions2(old, new, data, engine, old_v.label, new_v.label)


def run_diff_any(old: str, new: str, data: tuple[str, ...], as_of: str | None, fmt: str, engine: str,
                 fail_on_change: bool, output: str | None, lang: str) -> int:
    """`certify diff`: two versions of a pack decided by the format-2 pipeline (a format-1 version
    is converted on load, so a format-1 pack and its migrated format-2 version can be compared)."""
    check_output(output)
    date = parse_as_of(as_of, lang)
    result = compared_or_stop(lambda: diff_files2(old, new, data, date, engine), lang)
    with open_output(output) as out:
        DIFF_RENDERERS2[fmt](result, out, lang)
    return EXIT["problems"] if (fail_on_change and changed_count2(result)) else EXIT["ok"]


def changed_count2(result: dict[str, Any]) -> int:
    """Entities whose outcome, place or award changed (for --fail-on-change)."""
    c = result["counts"]
    return c["outcome_changed"] + sum(1 for item in result["criteria_changes"] if "place" in item or "award" in item)


# ---------------------------------------------------------------------------------------------
# Views (the format-1 lines, plus what format 2 adds)


def _extra_pack_lines(changes: dict[str, Any], lang: str) -> list[str]:
    t = lambda en, zh: _t(lang, en, zh)  # noqa: E731
    lines = [f"{t('value definition changed: ', '计算值定义改变：')}{n}" for n in changes["values_changed"]]
    lines += [f"{t('value added: ', '新增计算值：')}{n}" for n in changes["values_added"]]
    lines += [f"{t('value removed: ', '删除计算值：')}{n}" for n in changes["values_removed"]]
    lines += [f"{t('choice', '待定选项')} {c['name']}: {c['old']} → {c['new']}" for c in changes["choices_changed"]]
    return lines


def _item_lines(item: dict[str, Any], lang: str) -> list[str]:
    """Place, award and the values that moved, for one entity."""
    t = lambda en, zh: _t(lang, en, zh)  # noqa: E731
    lines = []
    if "place" in item:
        lines.append(f"{t('place', '名次')} {_or_dash(item['place']['old'])} → {_or_dash(item['place']['new'])}")
    if "award" in item:
        old, new = item["award"]["old"], item["award"]["new"]
        lines.append(f"{t('award', '奖励')} {(old or {}).get('text', {}).get(lang, '—')} → "
                     f"{(new or {}).get('text', {}).get(lang, '—')}")
    for v in item["values"]:
        label = (v["label"].get(lang) or v["label"].get("zh") or v["name"]) if v["label"] else v["name"]
        lines.append(f"{label}: {v['old_text'][lang] or '—'} → {v['new_text'][lang]}")
    return lines


def _or_dash(value: Any) -> str:
    return "—" if value is None else str(value)


def _summary2(result: dict[str, Any], lang: str) -> str:
    """Format 1's summary, but an entity whose outcome stands may have changed in its values, place
    or award, not only in its criteria: said so."""
    c = result["counts"]
    text = _summary(result, lang, ("otherwise", "结果不变但有其他改变"))
    if c["place_changed"] or c["award_changed"]:
        text += (f"；{c['place_changed']} 个名次改变，{c['award_changed']} 个奖励改变" if lang == "zh" else
                 f"; {c['place_changed']} change place, {c['award_changed']} change award")
    return text


def render_diff_text2(result: dict[str, Any], out: TextIO, lang: str = "en") -> None:
    t = lambda en, zh: _t(lang, en, zh)  # noqa: E731
    out.write(_summary2(result, lang) + "\n")
    lines = _pack_change_lines(result["pack_changes"], lang) + _extra_pack_lines(result["pack_changes"], lang)
    render_entity_changes(result, out, lang, lines,
                          (t("outcome changes", "结果改变"), t("other changes (same outcome)", "其他改变（结果不变）")),
                          _item_lines)


def render_diff_markdown2(result: dict[str, Any], out: TextIO, lang: str = "en") -> None:
    """A pull-request comment: summary, pack changes, one row per entity that changed."""
    t = lambda en, zh: _t(lang, en, zh)  # noqa: E731
    old, new = result["old"], result["new"]
    out.write(f"### certify diff: `{_md(old['pack'])}` {old['version']} → {new['version']}\n\n"
              f"{_md(_summary2(result, lang))}\n\n")
    lines = _pack_change_lines(result["pack_changes"], lang) + _extra_pack_lines(result["pack_changes"], lang)
    out.write("".join(f"- {_md(line)}\n" for line in lines) + ("\n" if lines else ""))
    rows = result["outcome_changes"] + result["criteria_changes"]
    if not rows:
        out.write(t("No entity changes.\n", "没有对象发生变化。\n"))
        return
    out.write(t("| entity | old | new | why | also |", "| 对象 | 原结果 | 新结果 | 原因 | 其他变化 |") + "\n|---|---|---|---|---|\n")
    for item in rows:
        why = "<br>".join(_md(_cause_text(x, lang)) for x in item["criteria"] if x["cause"]) or "—"
        also = "<br>".join(_md(line) for line in _item_lines(item, lang)) or "—"
        out.write(f"| {_md(_name(item['entity']))} | {_word(item['old_outcome'], lang)} | "
                  f"{_word(item['new_outcome'], lang)} | {why} | {also} |\n")


def render_diff_json2(result: dict[str, Any], out: TextIO, lang: str = "en") -> None:
    import json

    json.dump(result, out, ensure_ascii=False, indent=2)
    out.write("\n")


DIFF_RENDERERS2 = {"text": render_diff_text2, "json": render_diff_json2, "markdown": render_diff_markdown2}

__all__ = ["DIFF_RENDERERS2", "changed_count2", "run_diff_any", "diff_decisions2", "diff_files2", "pack_changes2"]
