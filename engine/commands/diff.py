"""The impact of an edit: two versions of a pack decide the same entities, and the differences
are explained — which entities change outcome, which criteria changed status, and which
parameter or criterion definition moved between the versions.

A version is a file path or a git revision and path (`HEAD~1:rules/pack.yaml`, read with
`git show`, as in a pull request: `certify diff origin/main:rules/x.yaml rules/x.yaml --data …`).
Each version is validated and compiled as `certify evaluate` would; both decide every entity
with the same engine and as-of date; the result is plain data (`certify.diff/1`) rendered as
text, JSON or Markdown (for a pull-request comment).

Why an entity changed: each criterion whose status differs is listed; the *causes* are those
among them with no changed criterion below them (the leaves of the change), and each cause
names what moved — a parameter's value (10亿元 → 8亿元), the criterion's own definition, or the
criterion appearing / disappearing. Composite criteria above a cause are consequences.

Scoring packs (`kind: scoring`, engine/scoring.py) are compared on what they decide: each
entity's rank, total, award, indicator points, vetoes and consequences; the pack changes list
parameters, indicators, award tables and choices that differ.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Any, Iterable, TextIO

from engine.commands.common import EXIT, parse_as_of
from engine.commands.diff_common import (NOT_APPLICABLE, DiffSourceError, Version, compared_or_stop,  # noqa: F401
                                         criteria_changes, param_changes, read_version, reason_opening, reason_text,
                                         render_entity_changes, sort_changes, version_side, why_text)
# the names diff.py has always used (engine.commands.diff2 still imports some from here)
from engine.commands.diff_common import cause_text as _cause_text, entity_name as _name, item_name as _named
from engine.commands.diff_common import lang_text as _t, md_cell as _md, moved_text as _moved, param_name as _param_name
from engine.commands.diff_common import pack_change_lines as _pack_change_lines, signature as _signature
from engine.commands.diff_common import status_word as _word, summary_line as _summary, transition_text as _transition
from engine.compile.model import CompiledPack
from engine.core.files import check_output, open_output
from engine.evaluate.pipeline import load_pack
from engine.explain.batch import decide_files
from engine.core.problems import Problem, plain
from engine.report.scoring_text import _award_text
from engine.explain.scoring import is_scoring_document, load_scoring_pack, score_files, zone_index
from engine.compile.check import validate_file

DIFF_SCHEMA = "certify.diff/1"


def pack_changes(old: CompiledPack, new: CompiledPack) -> dict[str, Any]:
    old_flags = {f.id: f for f in old.flags}
    new_flags = {f.id: f for f in new.flags}
    return {
        "parameters": param_changes(old, new),
        **criteria_changes({n.id: n for n in old.root.criteria()}, {n.id: n for n in new.root.criteria()}),
        "flags_added": [i for i in new_flags if i not in old_flags],
        "flags_removed": [i for i in old_flags if i not in new_flags],
        "flags_changed": [i for i in new_flags if i in old_flags
                          and _signature(old_flags[i].when) != _signature(new_flags[i].when)],
    }


# ---------------------------------------------------------------------------------------------
# What changed in the decisions


def _statuses(record: dict[str, Any], pack: CompiledPack) -> dict[str, str]:
    out = {c["id"]: c["status"] for c in record["criteria"]}
    for ident in record.get("not_applicable", []):
        out.setdefault(ident, NOT_APPLICABLE)
    out[pack.root.id or ""] = {"pass": "met", "fail": "not_met", "undetermined": "unknown"}[record["outcome"]]
    return out


def _descendants(pack: CompiledPack) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for node in pack.root.criteria():
        out[node.id or ""] = {n.id for n in node.walk() if n.id and n is not node}
    return out


def _reason(ident: str, changes: dict[str, Any], old_c: dict[str, Any] | None, new_c: dict[str, Any] | None,
            old_pack: CompiledPack, new_pack: CompiledPack) -> str:
    params = {p["name"]: p for p in changes["parameters"]}
    parts = reason_opening(ident, changes)
    if isinstance(parts, str):
        return parts
    node = new_pack.node(ident) if ident in {n.id for n in new_pack.root.criteria()} else None
    if node is not None and node.test is not None and node.test.param in params:
        p = params[node.test.param]
        parts.append(f"parameter {p['name']} ({p['cite']}): {p['old']} → {p['new']}")
    test = (new_c or old_c or {}).get("test") or {}
    if test.get("text") or test.get("value") is not None:
        parts.append(f"value {test.get('text', test.get('value'))}")
    return reason_text(parts, node)


def _entity_diff(old_rec: dict[str, Any], new_rec: dict[str, Any], old_pack: CompiledPack, new_pack: CompiledPack,
                 changes: dict[str, Any], below: dict[str, set[str]]) -> dict[str, Any] | None:
    a, b = _statuses(old_rec, old_pack), _statuses(new_rec, new_pack)
    order = [n.id for n in new_pack.root.criteria()] + [n.id for n in old_pack.root.criteria()
                                                        if n.id not in {m.id for m in new_pack.root.criteria()}]
    moved = [i for i in order if i and a.get(i, NOT_APPLICABLE) != b.get(i, NOT_APPLICABLE)]
    old_flags = {f["id"]: f["status"] for f in old_rec["flags"]}
    new_flags = {f["id"]: f["status"] for f in new_rec["flags"]}
    flag_titles = {f["id"]: f.get("title") for f in old_rec["flags"] + new_rec["flags"]}
    flags = [{"id": i, "title": flag_titles.get(i), "old": old_flags.get(i), "new": new_flags.get(i)}
             for i in sorted(set(old_flags) | set(new_flags)) if old_flags.get(i) != new_flags.get(i)]
    if not moved and not flags and old_rec["outcome"] == new_rec["outcome"]:
        return None
    moved_set = set(moved)
    old_by_id = {c["id"]: c for c in old_rec["criteria"]}
    new_by_id = {c["id"]: c for c in new_rec["criteria"]}
    criteria = []
    for ident in moved:
        cause = not (below.get(ident, set()) & moved_set)
        old_c, new_c = old_by_id.get(ident), new_by_id.get(ident)
        item: dict[str, Any] = {
            "id": ident, "cite": (new_c or old_c or {}).get("cite"), "title": (new_c or old_c or {}).get("title"),
            "old": a.get(ident, NOT_APPLICABLE), "new": b.get(ident, NOT_APPLICABLE), "cause": cause,
        }
        if cause:
            item["why"] = _reason(ident, changes, old_c, new_c, old_pack, new_pack)
            test_old, test_new = (old_c or {}).get("test") or {}, (new_c or {}).get("test") or {}
            if test_old or test_new:
                item["test"] = {
                    "input": (test_new or test_old).get("input"),
                    "value": (test_new or test_old).get("value"),
                    "value_text": (test_new or test_old).get("text"),
                    "parameter": (test_new or test_old).get("parameter"),
                    "old_threshold": test_old.get("threshold"), "new_threshold": test_new.get("threshold"),
                    "old_threshold_text": test_old.get("threshold_text"),
                    "new_threshold_text": test_new.get("threshold_text"),
                }
        criteria.append(item)
    return {
        "entity": new_rec["entity"],
        "old_outcome": old_rec["outcome"], "new_outcome": new_rec["outcome"],
        "criteria": criteria, "flags": flags,
    }


def diff_decisions(old_pack: CompiledPack, new_pack: CompiledPack, data: Iterable[str], engine: str = "durable",
                   old_label: str | None = None, new_label: str | None = None) -> dict[str, Any]:
    """Decide every entity in `data` with both versions and explain the differences."""
    files = list(data)
    old_problems: list[Problem] = []
    new_problems: list[Problem] = []
    old_records = {r["entity"]["id"]: r for r in decide_files(old_pack, files, engine, old_problems)}
    new_records = list(decide_files(new_pack, files, engine, new_problems))
    changes = pack_changes(old_pack, new_pack)
    below = _descendants(new_pack)
    for ident, ids in _descendants(old_pack).items():
        below.setdefault(ident, set()).update(ids)
    found = [_entity_diff(old_records[r["entity"]["id"]], r, old_pack, new_pack, changes, below)
             for r in new_records if r["entity"]["id"] in old_records]
    outcome_changes, detail_changes, transitions = sort_changes(f for f in found if f is not None)
    problems = sorted(set(old_problems) | set(new_problems))
    return {
        "schema": DIFF_SCHEMA,
        "old": version_side(old_pack, old_label), "new": version_side(new_pack, new_label),
        "as_of": new_pack.as_of.isoformat(), "engine": engine,
        "pack_changes": changes,
        "counts": {"entities": len(new_records), "outcome_changed": len(outcome_changes),
                   "criteria_changed_only": len(detail_changes), "transitions": transitions},
        "outcome_changes": outcome_changes,
        "criteria_changes": detail_changes,
        "problems": [p.as_dict() for p in problems],
    }


def _is_scoring(path: str) -> bool:
    return is_scoring_document(validate_file(path)[0])


def diff_scoring(old_sp: Any, new_sp: Any, data: Iterable[str], engine: str = "durable",
                 old_label: str | None = None, new_label: str | None = None) -> dict[str, Any]:
    """Score the same entities with two versions of a scoring pack; compare ranks, totals, awards."""

    def unit(sp: Any) -> str | None:
        return sp.award_unit.name if sp.award_unit else None

    files = list(data)
    old_problems: list[Problem] = []
    new_problems: list[Problem] = []
    old_zones = zone_index(score_files(old_sp, files, engine, old_problems))
    new_zones = zone_index(score_files(new_sp, files, engine, new_problems))
    changes = pack_changes(old_sp.decisions, new_sp.decisions)
    old_ind = {i.id: repr(i) for i in old_sp.indicators}
    new_ind = {i.id: repr(i) for i in new_sp.indicators}
    changes["indicators_changed"] = [i for i in new_ind if i in old_ind and old_ind[i] != new_ind[i]]
    changes["indicators_added"] = [i for i in new_ind if i not in old_ind]
    changes["indicators_removed"] = [i for i in old_ind if i not in new_ind]
    changes["awards_changed"] = sorted(c for c in set(old_sp.awards) | set(new_sp.awards)
                                       if repr(old_sp.awards.get(c)) != repr(new_sp.awards.get(c)))
    changes["choices_changed"] = sorted(k for k in set(old_sp.choices) | set(new_sp.choices)
                                        if old_sp.choices.get(k) != new_sp.choices.get(k))
    rows = []
    counts = {"entities": len(new_zones), "rank_changed": 0, "award_changed": 0, "total_changed": 0}
    for ident, z in new_zones.items():
        o = old_zones.get(ident)
        if o is None:
            continue
        row: dict[str, Any] = {"entity": {"id": ident, "name": z.get("name"), "source": z.get("source")}}
        award = lambda x: (x["award"].get("status"), x["award"].get("place"), x["award"].get("amount"))  # noqa: E731
        for key, a, b in (("rank", o["rank"], z["rank"]), ("total", o["total"], z["total"]),
                          ("award", award(o), award(z))):
            if a != b:
                row[key] = {"old": a, "new": b}
                counts[f"{key}_changed"] += 1
        if "award" in row:  # as the score view words it (一等奖 600万元), for the text and Markdown views
            row["award"].update({f"{side}_text": {lang: _award_text(x["award"], unit(sp), lang) for lang in ("zh", "en")}
                                 for side, x, sp in (("old", o, old_sp), ("new", z, new_sp))})
        points = {i: {"old": o["points"].get(i), "new": z["points"].get(i)}
                  for i in sorted(set(o["points"]) | set(z["points"])) if o["points"].get(i) != z["points"].get(i)}
        if points:
            row["points"] = points
        for key in ("vetoes", "consequences"):
            before = {v["id"]: v["status"] for v in o[key]}
            moved = [{"id": v["id"], "old": before.get(v["id"]), "new": v["status"]}
                     for v in z[key] if before.get(v["id"]) != v["status"]]
            if moved:
                row[key] = moved
        if len(row) > 1:
            rows.append(row)

    def side(sp: Any, label: str | None) -> dict[str, Any]:
        return {"label": label or sp.decisions.file, "pack": sp.meta.id, "version": sp.meta.version,
                "sha256": sp.decisions.sha256}

    # Titles of what the ids above name (the new version's, else the old one's), so that a Chinese
    # view says 规模总量指标, not scale.
    titles: dict[str, dict[str, Any]] = {"indicators": {}, "cohorts": {}, "vetoes": {}, "consequences": {}}
    for sp in (old_sp, new_sp):
        titles["indicators"].update({i.id: dict(i.title) for i in sp.indicators})
        titles["vetoes"].update({v.id: dict(v.title) for v in sp.vetoes})
        titles["consequences"].update({v.id: dict(v.title) for v in sp.consequences})
        cohorts = sp.decisions.inputs[sp.cohort_input].values if sp.cohort_input in sp.decisions.inputs else {}
        titles["cohorts"].update({c: dict(label) for c, label in cohorts.items() if isinstance(label, dict)})

    return {
        "schema": DIFF_SCHEMA, "kind": "scoring",
        "old": side(old_sp, old_label), "new": side(new_sp, new_label),
        "as_of": new_sp.decisions.as_of.isoformat(), "engine": engine,
        "pack_changes": changes, "counts": counts, "entity_changes": rows, "titles": titles,
        "problems": [p.as_dict() for p in sorted(set(old_problems) | set(new_problems))],
    }


def diff_files(old_spec: str, new_spec: str, data: Iterable[str], as_of: dt.date, engine: str = "durable",
               cwd: str | None = None) -> dict[str, Any]:
    """`certify diff`: read both versions (paths or REV:PATH), compile, decide, compare.
    Raises DiffSourceError for a version that cannot be read, ProblemsError for a pack with errors."""
    with tempfile.TemporaryDirectory(prefix="certify-diff-") as workdir:
        old_v = read_version(old_spec, workdir, cwd)
        new_v = read_version(new_spec, workdir, cwd)
        if _is_scoring(old_v.path) and _is_scoring(new_v.path):
            old_sp, _ = load_scoring_pack(old_v.path, as_of)
            new_sp, _ = load_scoring_pack(new_v.path, as_of)
            return diff_scoring(old_sp, new_sp, data, engine, old_v.label, new_v.label)
        old_pack, _ = load_pack(old_v.path, as_of)
        new_pack, _ = load_pack(new_v.path, as_of)
        return diff_decisions(old_pack, new_pack, data, engine, old_v.label, new_v.label)


def _scoring_lines(result: dict[str, Any], lang: str = "en") -> tuple[str, list[str], list[tuple[str, list[str]]]]:
    t = lambda en, zh: _t(lang, en, zh)  # noqa: E731
    c, old, new = result["counts"], result["old"], result["new"]
    head = f"{old['pack']} {old['version']} ({old['label']}) → {new['pack']} {new['version']} ({new['label']})"
    if lang == "zh":
        summary = (f"{head}，评估日期 {result['as_of']}：{c['entities']} 个对象中，{c['rank_changed']} 个名次改变，"
                   f"{c['award_changed']} 个奖励改变，{c['total_changed']} 个总分改变")
    else:
        summary = (f"{head}, as of {result['as_of']}: of {c['entities']} entities, {c['rank_changed']} change rank, "
                   f"{c['award_changed']} change award, {c['total_changed']} change total")
    ch = result["pack_changes"]
    titles = result.get("titles", {})

    def named(kind: str, ident: str) -> str:  # zh: the title an officer knows; en: the id, as _named
        return _named({"id": ident, "title": titles.get(kind, {}).get(ident)}, lang)

    lines = _pack_change_lines(ch, lang)
    lines += [f"{t('indicator changed: ', '指标改变：')}{named('indicators', i)}" for i in ch["indicators_changed"]]
    lines += [f"{t('indicator added: ', '新增指标：')}{named('indicators', i)}" for i in ch["indicators_added"]]
    lines += [f"{t('indicator removed: ', '删除指标：')}{named('indicators', i)}" for i in ch["indicators_removed"]]
    lines += [f"{t('award table changed: ', '奖励表改变：')}{named('cohorts', i)}" for i in ch["awards_changed"]]
    lines += [f"{t('choice changed: ', '选项改变：')}{i}" for i in ch["choices_changed"]]
    words = {"rank": t("rank", "名次"), "total": t("total", "总分"), "award": t("award", "奖励"),
             "vetoes": t("veto", "否决项"), "consequences": t("consequence", "后果")}
    rows = []
    for row in result["entity_changes"]:
        parts = []
        for key in ("rank", "total", "award"):
            if key in row:
                old_v, new_v = row[key]["old"], row[key]["new"]
                if key == "award" and "old_text" in row[key]:
                    old_v, new_v = row[key]["old_text"][lang], row[key]["new_text"][lang]
                parts.append(f"{words[key]} {old_v} → {new_v}")
        parts += [f"{named('indicators', i)} {t('points', '得分')} {v['old']} → {v['new']}"
                  for i, v in row.get("points", {}).items()]
        parts += [f"{words[k]} {named(k, v['id'])}: {_word(v['old'], lang)} → {_word(v['new'], lang)}"
                  for k in ("vetoes", "consequences") for v in row.get(k, [])]
        rows.append((_name(row["entity"]), parts))
    return summary, lines, rows


def render_diff_text(result: dict[str, Any], out: TextIO, lang: str = "en") -> None:
    t = lambda en, zh: _t(lang, en, zh)  # noqa: E731
    if result.get("kind") == "scoring":
        summary, lines, rows = _scoring_lines(result, lang)
        out.write(summary + "\n" + t("pack changes:", "规则包的改动：") + "\n" + "".join(f"  {line}\n" for line in lines))
        out.write(t("entity changes:\n", "对象的变化：\n") if rows else t("entity changes: none\n", "对象的变化：无\n"))
        for name, parts in rows:
            out.write(f"  {name}: " + t("; ", "；").join(parts) + "\n")
        return
    out.write(_summary(result, lang) + "\n")
    render_entity_changes(result, out, lang, _pack_change_lines(result["pack_changes"], lang),
                          (t("outcome changes", "结果改变"), t("criteria changes (same outcome)", "条件状态改变（结果不变）")))


def render_diff_markdown(result: dict[str, Any], out: TextIO, lang: str = "en") -> None:
    """A pull-request comment: summary, pack changes, then one row per changed entity."""
    t = lambda en, zh: _t(lang, en, zh)  # noqa: E731
    if result.get("kind") == "scoring":
        summary, lines, rows = _scoring_lines(result, lang)
        out.write(f"### certify diff: `{_md(result['old']['pack'])}`\n\n{_md(summary)}\n\n")
        out.write("".join(f"- {_md(line)}\n" for line in lines) + ("\n" if lines else ""))
        if rows:
            out.write(t("| entity | changes |", "| 对象 | 变化 |") + "\n|---|---|\n")
            out.write("".join(f"| {_md(n)} | {'<br>'.join(_md(p) for p in parts)} |\n" for n, parts in rows))
        return
    c = result["counts"]
    old, new = result["old"], result["new"]
    out.write(f"### certify diff: `{_md(old['pack'])}` {old['version']} → {new['version']}\n\n")
    trans = ", ".join(f"{_transition(k, lang)}: {v}" for k, v in sorted(c["transitions"].items()))
    if lang == "zh":
        out.write(f"**{c['entities']} 个对象中有 {c['outcome_changed']} 个结果改变**"
                  + (f"（{trans}）" if trans else "") + f" · 评估日期 {result['as_of']} · "
                  f"`{_md(old['label'])}` → `{_md(new['label'])}`\n\n")
    else:
        out.write(f"**{c['outcome_changed']} of {c['entities']} entities change outcome**"
                  + (f" ({trans})" if trans else "") + f" · as of {result['as_of']} · "
                  f"`{_md(old['label'])}` → `{_md(new['label'])}`\n\n")
    changes = result["pack_changes"]
    if changes["parameters"]:
        out.write(t("| parameter | clause | old | new |", "| 参数 | 条款 | 原值 | 新值 |") + "\n|---|---|---|---|\n")
        for p in changes["parameters"]:
            name = _md(_param_name(p, lang)) if lang == "zh" else f"`{p['name']}`"
            out.write(f"| {name} | {_md(plain(p['cite']))} | {_md(p['old'])} | {_md(p['new'])} |\n")
        out.write("\n")
    other = _pack_change_lines(changes, lang)[len(changes["parameters"]):]
    for line in other:
        out.write(f"- {_md(line)}\n")
    if other:
        out.write("\n")
    if result["outcome_changes"]:
        out.write(t("| entity | old | new | why |", "| 对象 | 原结果 | 新结果 | 原因 |") + "\n|---|---|---|---|\n")
        for item in result["outcome_changes"]:
            why = "<br>".join(_md(_cause_text(x, lang)) for x in item["criteria"] if x["cause"]) or "—"
            out.write(f"| {_md(_name(item['entity']))} | {_word(item['old_outcome'], lang)} | "
                      f"{_word(item['new_outcome'], lang)} | {why} |\n")
        out.write("\n")
    else:
        out.write(t("No entity changes outcome.\n\n", "没有对象的结果改变。\n\n"))
    if result["criteria_changes"]:
        summary_line = t(f"{c['criteria_changed_only']} entities change criteria but not outcome",
                         f"{c['criteria_changed_only']} 个对象的条件状态改变，但结果不变")
        out.write(f"<details><summary>{summary_line}</summary>\n\n"
                  + t("| entity | outcome | criteria |", "| 对象 | 结果 | 条件 |") + "\n|---|---|---|\n")
        for item in result["criteria_changes"]:
            why = "<br>".join(_md(_cause_text(x, lang)) for x in item["criteria"] if x["cause"])
            why = why or "<br>".join(f"{t('flag', '标记')} {_md(_named(f, lang))}: {_moved(f, lang)}"
                                     for f in item["flags"])
            out.write(f"| {_md(_name(item['entity']))} | {_word(item['new_outcome'], lang)} | {why} |\n")
        out.write("\n</details>\n")
    if result["problems"]:
        out.write(t(f"\n{len(result['problems'])} data problem(s) reported; run `certify evaluate` to see them.\n",
                    f"\n数据中有 {len(result['problems'])} 个问题；请运行 `certify evaluate` 查看。\n"))


def render_diff_json(result: dict[str, Any], out: TextIO, lang: str = "en") -> None:
    import json

    json.dump(result, out, ensure_ascii=False, indent=2)
    out.write("\n")


DIFF_RENDERERS = {"text": render_diff_text, "json": render_diff_json, "markdown": render_diff_markdown}


def run_diff(old: str, new: str, data: tuple[str, ...], as_of: str | None, fmt: str, engine: str,
             fail_on_change: bool, output: str | None, lang: str) -> int:
    """`certify diff OLD NEW --data ...`: exit 1 with --fail-on-change when an outcome changed."""
    check_output(output)
    date = parse_as_of(as_of, lang)
    result = compared_or_stop(lambda: diff_files(old, new, data, date, engine), lang)
    with open_output(output) as out:
        DIFF_RENDERERS[fmt](result, out, lang)
    counts = result["counts"]  # scoring packs: a changed rank or award counts as a changed outcome
    changed = counts.get("outcome_changed", counts.get("rank_changed", 0) + counts.get("award_changed", 0))
    return EXIT["problems"] if (fail_on_change and changed) else EXIT["ok"]
