"""Reviewer report in Markdown (GitHub-flavoured tables): the same content as the HTML report.

Renders decision records only; nothing here decides anything.
"""

from __future__ import annotations

from typing import Any, Iterable, TextIO

from engine.report.text import WORDS, _label
from engine.report.html import EXTRA, OUTCOMES, _MARK, _value_cells, reasons, summary
from engine.explain.whatif import describe


def _cell(text: Any) -> str:
    return ("" if text is None else str(text)).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(records: Iterable[dict[str, Any]], out: TextIO, lang: str = "zh",
                    pack_title: dict[str, str] | None = None, source: dict[str, Any] | None = None,
                    clauses: dict[str, str] | None = None, problems: Iterable[Any] = (),
                    ranking: list[dict[str, Any]] | None = None) -> dict[str, int]:
    recs = list(records)
    w, x = WORDS[lang], EXTRA[lang]
    info = summary(recs)
    clauses = clauses or {}
    title = _label(pack_title, lang) if pack_title else (recs[0]["record"]["pack"] if recs else "")
    lines: list[str] = [f"# {title} — {x['report']}", ""]
    if recs:
        prov = recs[0]["record"]
        lines.append(f"{x['pack']} `{prov['pack']}` {prov['pack_version']} (sha256 `{prov['pack_sha256'][:12]}`) · "
                     f"{w['as_of']} {prov['as_of']} · {w['engine']} {prov['engine_version']} / {prov['decided_by']}")
        for name, o in (prov.get("overrides") or {}).items():
            lines.append(f"\n**override** {name} = {o['value']} ({o['from']})")
        lines.append("")
    if source:
        lines += [f"{x['source']}: " + " · ".join(str(source[k]) for k in ("title", "number", "date") if source.get(k)), ""]
    lines += [f"## {x['summary_h']}", "", f"| {x['outcome']} | {x['count']} |", "|---|---:|"]
    for k in OUTCOMES:
        lines.append(f"| {w[k]} | {info['counts'].get(k, 0)} |")
    lines += [f"| {x['total']} | {info['total']} |", ""]
    if info["failing"]:
        lines += [f"### {x['most_failed']}", "", f"| {x['cite']} | {x['criterion']} | {x['not_met_n']} | {x['unknown_n']} |",
                  "|---|---|---:|---:|"]
        for f in info["failing"]:
            lines.append(f"| {_cell(f.get('cite'))} | {_cell(_label(f['title'], lang))} | {f['not_met']} | {f['unknown']} |")
        lines.append("")
    lines += [f"| {x['entity']} | {x['outcome']} | {x['why']} |", "|---|---|---|"]
    for rec in recs:
        ent = rec["entity"]
        lines.append(f"| {_cell(ent['id'])} {_cell(ent.get('name') or '')} | **{w[rec['outcome']]}** | "
                     f"{_cell(reasons(rec, lang))} |")
    lines.append("")
    if ranking:
        lines += [f"## {x['ranking_h']}", "", f"| {x['rank']} | {x['entity']} | {x['score']} |", "|---:|---|---:|"]
        for r in ranking:
            lines.append(f"| {r.get('rank')} | {_cell(r.get('id'))} {_cell(r.get('name') or '')} | "
                         f"{_cell(r.get('score_text') or r.get('score'))} |")
        lines.append("")
    probs = sorted(problems)
    if probs:
        lines += [f"## {x['problems_h']}", ""] + [f"- `{p.format()}`" for p in probs] + [""]
    lines += [f"## {x['entities_h']}", ""]
    for rec in recs:
        ent = rec["entity"]
        name = f" {ent['name']}" if ent.get("name") else ""
        lines += [f"### {ent['id']}{name}: {w[rec['outcome']]}", "", reasons(rec, lang), "",
                  f"| {x['status']} | {x['cite']} | {x['criterion']} | {x['value_h']} | {x['threshold_h']} | "
                  f"{x['gap']} | {x['path_h']} | {x['missing_h']} |",
                  "|---|---|---|---|---|---|---|---|"]
        for c in rec["criteria"]:
            value, threshold, gap = _value_cells(c, lang)
            title = "　" * c["depth"] + _label(c["title"], lang)
            if c.get("discretionary"):
                title += f" _[{w['discretionary']}]_"
            path = _label(c.get("branch_detail"), lang) if c.get("branch_detail") else ""
            lines.append(f"| {_MARK[c['status']]} {w[c['status']]} | {_cell(c.get('cite'))} | {_cell(title)} | "
                         f"{_cell(value)} | {_cell(threshold)} | {_cell(gap)} | {_cell(path)} | "
                         f"{_cell(', '.join(c.get('missing') or []))} |")
        lines.append("")
        if rec.get("missing_inputs"):
            lines.append(f"**{w['missing_header']}:**")
            for m in rec["missing_inputs"]:
                if "parameter" in m:
                    lines.append(f"- {_label(m['label'], lang)} ({m['parameter']}: {w['policy_unset']})")
                else:
                    lines.append(f"- {_label(m['label'], lang)} (`{m['input']}`) — {m.get('why', '')}")
            lines.append("")
        if rec["outcome"] != "pass":
            wit = rec.get("what_it_takes")
            lines.append(f"**{x['what']}:**")
            if wit is None:
                lines.append(f"_{x['not_asked']}_")
            elif wit.get("options"):
                lines += [f"{i}. {describe(o, lang)}" for i, o in enumerate(wit["options"], 1)]
                lines.append(f"\n_{x['verified']}_")
            else:
                blocked = "; ".join(f"{_label(b['label'], lang)} ({b.get('cite') or ''})" for b in wit.get("blocked_by", []))
                lines.append(x["what_none"] + (f" — {x['blocked']} {blocked}" if blocked else ""))
            lines.append("")
        for f in rec.get("flags", []):
            state = {"met": w["set"], "not_met": w["unset"], "unknown": w["unknown"]}[f["status"]]
            lines.append(f"- {w['flags']}: {f.get('cite') or ''} {_label(f['title'], lang)} — {state}")
        for p in rec.get("data_problems", []):
            lines.append(f"- {w['data_problem']}: {p['code']} {p['message']}")
        prov = rec["record"]
        lines += [f"- {w['record']}: {w['input_hash']} `{prov['input_sha256'][:12]}`, {prov['decided_by']}", ""]
    lines += [f"## {x['clauses_h']}", ""]
    if clauses:
        for cite, text in clauses.items():
            lines += [f"> **{cite}** " + text.replace("\n", "\n> "), ""]
    else:
        lines += [f"_{x['clause_missing']}_", ""]
    out.write("\n".join(lines).rstrip("\n") + "\n")
    return info["counts"]
