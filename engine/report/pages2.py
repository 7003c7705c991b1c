"""The reviewer report of format-2 decisions: one self-contained HTML page, or Markdown.

Per entity: the headline (a firm that fails only on a group minimum, or passes only by a fast
track, says so), every value with what a reviewer checks — the value, the band taken with its
endpoints, the points, the cap applied, a group's subtotal against its minimum ("小计 15分，最低要求
20分（未达到）") and the steps Python computed — then every criterion as durable-rules decided it,
with the reason of each that does not apply. At the top: the choices in force (with where each
came from) and, when the evaluation date is outside the pack's validity, the warning.

The facts come from engine.explain.explain2; nothing here decides or computes anything.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, TextIO

from engine.compile.model2 import Pack2
from engine.core.problems import Problem
from engine.evaluate.record2 import Record2
from engine.explain.explain2 import RecordView, ValueView, explain2, label
from engine.explain.whatif2 import describe
from engine.report.page import CSS, escape, page_head

OUTCOMES = ("pass", "fail", "undetermined")
_MARK = {"met": "✔", "not_met": "✘", "unknown": "?", "not_applicable": "–"}
CSS2 = CSS + """
tr.not_applicable td{color:var(--muted)}
.validity{border:2px solid var(--fail);padding:6px 10px;background:#fff5f5}
td.steps{font-size:12px;color:var(--muted)}
td.num{text-align:right;white-space:nowrap}
.minimum.not_met{color:var(--fail);font-weight:bold}
"""
WORDS = {
    "zh": {"report": "认定审核报告", "pack": "规则包", "as_of": "评定基准日", "engine": "引擎", "source": "来源",
           "summary_h": "批次汇总", "entities_h": "逐一审核", "total": "合计", "entity": "对象", "outcome": "结果",
           "wit": "如何才能通过", "wit_none": "未找到只改数据就能通过的办法",
           "why": "结论与主要原因", "pass": "通过", "fail": "不通过", "undetermined": "无法判定", "none": "未指定结论",
           "met": "满足", "not_met": "不满足", "unknown": "未知", "not_applicable": "不适用",
           "choices_h": "待定事项的取值", "choice": "事项", "option": "取值", "from": "来源", "cite": "条款",
           "default": "默认", "validity_h": "有效期提示",
           "values_h": "计算值（由 Python 精确计算）", "value": "名称", "amount": "数值", "band": "所在档（端点）",
           "cap": "上限", "subtotal": "小计与最低要求", "steps": "计算过程",
           "criteria_h": "条件（由 durable-rules 判定）", "criteria_ref_h": "条件（由参照求值器判定）",
           "status": "状态", "criterion": "条件", "basis": "判定依据", "na": "不适用原因",
           "notes_h": "标记与后果", "flag": "标记", "consequence": "后果",
           "record": "记录", "input_hash": "输入 sha256", "computed_by": "计算值由 Python 计算", "problems_h": "数据问题",
           "only_group": "仅因小计未达最低要求而不通过", "by_route": "经其他途径通过",
           "discretionary": "酌情条款", "discretionary_met": "经酌情条款满足(请审核确认)"},
    "en": {"report": "Certification review report", "pack": "rule pack", "as_of": "as of", "engine": "engine",
           "source": "source", "summary_h": "Batch summary", "entities_h": "Entities", "total": "total",
           "wit": "what it would take", "wit_none": "no change to the data alone was found",
           "entity": "entity", "outcome": "outcome", "why": "outcome and main reason", "pass": "PASS", "fail": "FAIL",
           "undetermined": "UNDETERMINED", "none": "no decision named", "met": "met", "not_met": "not met",
           "unknown": "unknown", "not_applicable": "not applicable", "choices_h": "Choices in force",
           "choice": "open point", "option": "option", "from": "from", "cite": "clause", "default": "default",
           "validity_h": "Validity", "values_h": "Values (computed exactly by Python)", "value": "value",
           "amount": "amount", "band": "band taken (ends)", "cap": "cap", "subtotal": "subtotal and minimum",
           "steps": "steps", "criteria_h": "Criteria (decided by durable-rules)",
           "criteria_ref_h": "Criteria (decided by the reference evaluator)", "status": "status",
           "criterion": "criterion", "basis": "basis", "na": "why not applicable", "notes_h": "Flags and consequences",
           "flag": "flag", "consequence": "consequence", "record": "record", "input_hash": "input sha256",
           "computed_by": "values computed by Python", "problems_h": "Data problems",
           "only_group": "fails only on a group minimum", "by_route": "passes by another route",
           "discretionary": "discretionary", "discretionary_met": "met on a discretionary path (a reviewer should confirm)"},
}


def _source(choice: Mapping[str, Any], lang: str) -> str:
    return WORDS[lang]["default"] if choice["source"] == "default" else str(choice["source"])


def _outcome(view: RecordView) -> str:
    return view.record.outcome.value if view.record.outcome else "none"


def _anchor(ident: str) -> str:
    return "entity-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in ident)


def _counts(views: list[RecordView]) -> dict[str, int]:
    counts = {k: 0 for k in OUTCOMES}
    for v in views:
        if v.record.outcome:
            counts[v.record.outcome.value] += 1
    return counts


def _value_cells(v: ValueView, lang: str) -> list[str]:
    band = (v.band or v.taken or {}).get(lang, "")
    return [label(v.label, lang), v.cite or "", v.value[lang], band, (v.cap or {}).get(lang, ""),
            (v.subtotal or {}).get(lang, "")]


def _judged(v: RecordView, lang: str) -> list[str]:
    """经酌情条款满足(请审核确认): the 酌情 criteria met, for the reviewer to confirm (or nothing)."""
    if not v.discretionary_met:
        return []
    sep = "、" if lang == "zh" else "; "
    return [f"{WORDS[lang]['discretionary_met']}: {sep.join(t[lang] for t in v.discretionary_met)}"]


# ---------------------------------------------------------------------------------------------
# HTML


def _wit_lines(wit: Mapping[str, Any] | None, lang: str) -> list[str] | None:
    """The suggestions of one record (engine.explain.whatif2) as lines, or None when none were asked."""
    if wit is None:
        return None
    if wit.get("options"):
        return [describe(o, lang) for o in wit["options"]]
    return [label(wit["note"], lang)] if wit.get("note") else []


def render_html2(records: Iterable[Record2], pack: Pack2, out: TextIO, lang: str = "zh",
                 problems: Iterable[Problem] = (), suggestions: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Write the page; returns the counts by outcome. `suggestions`: what it would take by entity id."""
    suggestions = suggestions or {}
    w = WORDS[lang]
    views = [explain2(pack, r) for r in records]
    title = label(pack.meta.title, lang) or pack.meta.id
    out.write(page_head(f"{title} — {w['report']}", lang, CSS2))
    part = lambda text: out.write(text + "\n")  # noqa: E731
    part(f"<h1>{escape(title)} — {escape(w['report'])}</h1>")
    if views:
        prov = views[0].record.provenance
        decided = views[0].record.criteria[0].decided_by if views[0].record.criteria else ""
        part(f'<p class="meta">{escape(w["pack"])} {escape(prov.pack_id)} {escape(prov.pack_version)} (sha256 {escape(prov.pack_sha256[:12])}) · '
             f'{escape(w["as_of"])} {escape(prov.as_of)} · {escape(w["engine"])} {escape(prov.engine_version)} / {escape(decided)}</p>')
    src = " · ".join(str(pack.meta.source[k]) for k in ("title", "number", "date") if pack.meta.source.get(k))
    if src:
        part(f'<p class="meta">{escape(w["source"])}: {escape(src)}</p>')
    validity = views[0].validity if views else ()
    if validity:
        part(f'<div class="validity" data-validity="warning"><h2>{escape(w["validity_h"])}</h2><ul>')
        for v in validity:
            part(f"<li>⚠ {escape(v['code'])} {escape(v['zh'] if lang == 'zh' else v['en'])}</li>")
        part("</ul></div>")
    if views and views[0].choices:
        part(f'<h2>{escape(w["choices_h"])}</h2><div class="scroll"><table class="choices"><thead><tr>'
             f'<th>{w["choice"]}</th><th>{w["cite"]}</th><th>{w["option"]}</th><th>{w["from"]}</th></tr></thead><tbody>')
        for c in views[0].choices:
            part(f'<tr data-choice="{escape(c["name"])}" data-option="{escape(c["option_id"])}"><td>{escape(label(c["label"], lang))}</td>'
                 f'<td class="cite">{escape(c["cite"] or "")}</td><td>{escape(label(c["option"], lang))} <code>{escape(c["option_id"])}</code></td>'
                 f'<td>{escape(_source(c, lang))}</td></tr>')
        part("</tbody></table></div>")
    counts = _counts(views)
    part(f'<h2>{escape(w["summary_h"])}</h2><div class="cards">')
    part(f'<div class="card"><b>{len(views)}</b>{escape(w["total"])}</div>')
    for k in OUTCOMES:
        part(f'<div class="card {k}" data-count="{k}"><b>{counts[k]}</b>{escape(w[k])}</div>')
    part("</div>")
    part(f'<div class="scroll"><table class="overview"><thead><tr><th>{w["entity"]}</th><th>{w["outcome"]}</th>'
         f'<th>{w["why"]}</th></tr></thead><tbody>')
    for v in views:
        rec, outcome = v.record, _outcome(v)
        part(f'<tr data-entity="{escape(rec.entity_id)}" data-outcome="{outcome}">'
             f'<td><a href="#{escape(_anchor(rec.entity_id))}">{escape(rec.entity_id)} {escape(rec.entity_name or "")}</a></td>'
             f'<td><span class="badge {outcome}">{escape(w[outcome])}</span></td><td>{escape(v.headline[lang])}</td></tr>')
    part("</tbody></table></div>")
    probs = sorted(problems)
    if probs:
        part(f'<h2>{escape(w["problems_h"])}</h2><ul class="problems">')
        for p in probs:
            part(f"<li>{escape(p.format(lang))}</li>")
        part("</ul>")
    part(f'<h2>{escape(w["entities_h"])}</h2>')
    for v in views:
        _entity_html(v, pack, lang, part, suggestions.get(v.record.entity_id))
    out.write("\n</body>\n</html>\n")
    return counts


def _entity_html(v: RecordView, pack: Pack2, lang: str, part: Any, wit: Mapping[str, Any] | None = None) -> None:
    w = WORDS[lang]
    rec, outcome = v.record, _outcome(v)
    extra = ' data-only-group-minimum="true"' if v.only_group_minimum else ""
    part(f'<section class="entity {outcome}" id="{escape(_anchor(rec.entity_id))}" data-entity="{escape(rec.entity_id)}" '
         f'data-outcome="{outcome}"{extra}>')
    name = f" {escape(rec.entity_name)}" if rec.entity_name else ""
    part(f'<header><h3>{escape(rec.entity_id)}{name}</h3><span class="badge {outcome} outcome">{escape(w[outcome])}</span>'
         f'<span class="small">{escape(rec.where)}</span></header>')
    part(f'<p class="why">{escape(v.headline[lang])}</p>')
    lines = _wit_lines(wit, lang)
    if lines is not None:
        items = "".join(f"<li>{escape(line)}</li>" for line in lines) if lines else f"<li>{escape(w['wit_none'])}</li>"
        part(f'<div class="wit" data-what-it-takes="{len((wit or {}).get("options", []))}"><h4>{escape(w["wit"])}</h4>'
             f'<ol>{items}</ol></div>')
    if v.values:
        part(f'<h4>{escape(w["values_h"])}</h4><div class="scroll"><table class="values"><thead><tr>'
             f'<th>{w["value"]}</th><th>{w["cite"]}</th><th>{w["amount"]}</th><th>{w["band"]}</th><th>{w["cap"]}</th>'
             f'<th>{w["subtotal"]}</th><th>{w["steps"]}</th></tr></thead><tbody>')
        for x in v.values:
            cells = _value_cells(x, lang)
            minimum = "" if x.meets_minimum is None else (" met" if x.meets_minimum else " not_met")
            steps = "<br>".join(escape(s[lang]) for s in x.steps)
            part(f'<tr data-value="{escape(x.name)}" data-op="{escape(x.op)}"><td>{escape(cells[0])}</td><td class="cite">{escape(cells[1])}</td>'
                 f'<td class="num">{escape(cells[2])}</td><td>{escape(cells[3])}</td><td>{escape(cells[4])}</td>'
                 f'<td class="minimum{minimum}">{escape(cells[5])}</td><td class="steps">{steps}</td></tr>')
        part("</tbody></table></div>")
    if v.criteria:
        decided = rec.criteria[0].decided_by
        part(f'<h4>{escape(w["criteria_h"] if decided == "durable-rules" else w["criteria_ref_h"])}</h4>'
             f'<div class="scroll"><table class="checklist"><thead><tr><th>{w["status"]}</th><th>{w["cite"]}</th>'
             f'<th>{w["criterion"]}</th><th>{w["basis"]}</th><th>{w["na"]}</th></tr></thead><tbody>')
        for c in v.criteria:
            cr = c.criterion
            status = cr.status.value
            basis = "" if c.reason else c.facts[lang]
            judged = (f' <span class="tag" title="{escape(label(c.discretionary, lang))}">[{escape(w["discretionary"])}]</span>'
                      if c.discretionary else "")
            attr = ' data-discretionary="true"' if c.discretionary else ""
            part(f'<tr class="{status}" data-criterion="{escape(cr.id)}" data-status="{status}"{attr}>'
                 f'<td class="st {status}">{_MARK[status]} {escape(w[status])}</td><td class="cite">{escape(cr.cite or "")}</td>'
                 f'<td style="padding-left:{0.5 + 1.2 * cr.depth:.1f}em">{escape(label(cr.title, lang) or cr.id)}{judged}</td>'
                 f'<td>{escape(basis)}</td><td>{escape(label(c.reason, lang))}</td></tr>')
        part("</tbody></table></div>")
    extras = _judged(v, lang) + [f"{w[n.kind] if n.kind in w else n.kind}: {(n.cite + ' ') if n.cite else ''}"
                                 f"{label(n.title, lang) or n.id} — {w[n.status.value]}" for n in rec.notes]
    prov = rec.provenance
    extras.append(f"{w['record']}: {w['input_hash']} {prov.input_sha256[:12]}, {w['engine']} {prov.engine_version} / "
                  f"{rec.criteria[0].decided_by if rec.criteria else ''}; {w['computed_by']}")
    part('<ul class="small">' + "".join(f"<li>{escape(e)}</li>" for e in extras) + "</ul>")
    part("</section>")


# ---------------------------------------------------------------------------------------------
# Markdown


def _cell(text: Any) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def render_markdown2(records: Iterable[Record2], pack: Pack2, out: TextIO, lang: str = "zh",
                     problems: Iterable[Problem] = (), suggestions: Mapping[str, Any] | None = None) -> dict[str, int]:
    w = WORDS[lang]
    suggestions = suggestions or {}
    views = [explain2(pack, r) for r in records]
    title = label(pack.meta.title, lang) or pack.meta.id
    lines = [f"# {title} — {w['report']}", ""]
    if views:
        prov = views[0].record.provenance
        decided = views[0].record.criteria[0].decided_by if views[0].record.criteria else ""
        lines += [f"{w['pack']} `{prov.pack_id}` {prov.pack_version} (sha256 `{prov.pack_sha256[:12]}`) · "
                  f"{w['as_of']} {prov.as_of} · {w['engine']} {prov.engine_version} / {decided}", ""]
    src = " · ".join(str(pack.meta.source[k]) for k in ("title", "number", "date") if pack.meta.source.get(k))
    if src:
        lines += [f"{w['source']}: {src}", ""]
    for v in (views[0].validity if views else ()):
        lines += [f"> ⚠ **{v['code']}** {v['zh'] if lang == 'zh' else v['en']}", ""]
    if views and views[0].choices:
        lines += [f"## {w['choices_h']}", "", f"| {w['choice']} | {w['cite']} | {w['option']} | {w['from']} |",
                  "|---|---|---|---|"]
        lines += [f"| {_cell(label(c['label'], lang))} | {_cell(c['cite'])} | {_cell(label(c['option'], lang))} "
                  f"(`{c['option_id']}`) | {_cell(_source(c, lang))} |" for c in views[0].choices]
        lines.append("")
    counts = _counts(views)
    lines += [f"## {w['summary_h']}", "", f"| {w['outcome']} | {w['total']} |", "|---|---:|"]
    lines += [f"| {w[k]} | {counts[k]} |" for k in OUTCOMES] + [f"| {w['total']} | {len(views)} |", ""]
    lines += [f"| {w['entity']} | {w['outcome']} | {w['why']} |", "|---|---|---|"]
    lines += [f"| {_cell(v.record.entity_id + ' ' + (v.record.entity_name or ''))} | **{w[_outcome(v)]}** | "
              f"{_cell(v.headline[lang])} |" for v in views]
    lines.append("")
    probs = sorted(problems)
    if probs:
        lines += [f"## {w['problems_h']}", ""] + [f"- {_cell(p.format(lang))}" for p in probs] + [""]
    lines += [f"## {w['entities_h']}", ""]
    for v in views:
        rec = v.record
        lines += [f"### {rec.entity_id} {rec.entity_name or ''}: {w[_outcome(v)]}".rstrip(), "", v.headline[lang], ""]
        wit_lines = _wit_lines(suggestions.get(rec.entity_id), lang)
        if wit_lines is not None:
            lines += [f"{w['wit']}:", ""] + ([f"{i}. {_cell(t)}" for i, t in enumerate(wit_lines, start=1)]
                                             or [f"- {w['wit_none']}"]) + [""]
        if v.values:
            lines += [f"{w['values_h']}:", "", f"| {w['value']} | {w['cite']} | {w['amount']} | {w['band']} | {w['cap']} | "
                      f"{w['subtotal']} | {w['steps']} |", "|---|---|---:|---|---|---|---|"]
            for x in v.values:
                cells = [_cell(c) for c in _value_cells(x, lang)]
                if x.meets_minimum is False:
                    cells[5] = f"**{cells[5]}**"
                steps = "<br>".join(_cell(s[lang]) for s in x.steps)
                lines.append("| " + " | ".join(cells) + f" | {steps} |")
            lines.append("")
        if v.criteria:
            decided = rec.criteria[0].decided_by
            lines += [f"{w['criteria_h'] if decided == 'durable-rules' else w['criteria_ref_h']}:", "",
                      f"| {w['status']} | {w['cite']} | {w['criterion']} | {w['basis']} | {w['na']} |", "|---|---|---|---|---|"]
            for c in v.criteria:
                cr = c.criterion
                status = cr.status.value
                basis = "" if c.reason else c.facts[lang]
                pad = "　" * cr.depth
                judged = f" _[{w['discretionary']}]_" if c.discretionary else ""
                lines.append(f"| {_MARK[status]} {w[status]} | {_cell(cr.cite)} | {pad}{_cell(label(cr.title, lang) or cr.id)}"
                             f"{judged} | {_cell(basis)} | {_cell(label(c.reason, lang))} |")
            lines.append("")
        lines += [f"- {_cell(text)}" for text in _judged(v, lang)]
        for n in rec.notes:
            lines.append(f"- {w[n.kind] if n.kind in w else n.kind}: {(n.cite + ' ') if n.cite else ''}"
                         f"{label(n.title, lang) or n.id} — {w[n.status.value]}")
        prov = rec.provenance
        lines += [f"- {w['record']}: {w['input_hash']} `{prov.input_sha256[:12]}`, "
                  f"{rec.criteria[0].decided_by if rec.criteria else ''}; {w['computed_by']}", ""]
    out.write("\n".join(lines).rstrip("\n") + "\n")
    return counts


__all__ = ["render_html2", "render_markdown2"]
