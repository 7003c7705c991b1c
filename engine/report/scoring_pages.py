"""Reviewer reports for scoring packs (`kind: scoring`): HTML, Markdown, and the CSV / XLSX table.

They render a `certify score` result (`engine.explain.scoring.Scorer.score`); nothing here decides or
computes a point. Per cohort: the ranking table (rank, zone, total, each indicator's points,
award, vetoes and consequences); per zone: its points by indicator as an inline SVG bar chart and
the arithmetic behind each indicator, as `certify score` prints it. The HTML is one file with
inline CSS and SVG: no script, no font or image download (a Content-Security-Policy forbids them).
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterable, TextIO

from engine.report.html import _Writer
from engine.report.page import CSS, page_head
from engine.report.scoring_text import (WORDS, _award_text, _l, _marks, part_line, render_score_csv, render_score_json,
                                        render_score_text)
from engine.report.sheet import Sheet

EXTRA = {
    "zh": {
        "report": "综合评价报告", "summary_h": "汇总", "zones": "参评集中区", "ranked": "参加排名",
        "stated": "奖励总额(原文)", "chart": "各指标得分", "problems_h": "数据问题", "record": "记录",
        "pack": "规则包", "source": "来源", "engine": "引擎", "override": "参数调整", "zones_h": "逐一评分",
        "awards_table": "奖励名次", "points_h": "得分", "status": "状态", "value": "取值", "note": "说明",
    },
    "en": {
        "report": "Scoring report", "summary_h": "Summary", "zones": "zones", "ranked": "ranked",
        "stated": "award total stated", "chart": "points by indicator", "problems_h": "Data problems",
        "record": "record", "pack": "rule pack", "source": "source", "engine": "engine", "override": "override",
        "zones_h": "Zones", "awards_table": "award places", "points_h": "points", "status": "status",
        "value": "value", "note": "note",
    },
}
_MARK = {"met": "✔", "not_met": "✘", "unknown": "?"}

SCORING_CSS = """
.rank{font-weight:700;white-space:nowrap}
.ranking th:nth-child(-n+3),.ranking td:nth-child(-n+3){white-space:nowrap}.ranking th{vertical-align:bottom}
.ranking td.num{text-align:right;white-space:nowrap}.ranking th.num{text-align:right}
.ranking tr.excluded td{background:#fff5f5}.ranking tr.provisional td{background:#fffbea}
.zone{border:1px solid var(--line);border-left:6px solid #0969da;border-radius:8px;padding:12px 16px;margin:16px 0;
page-break-inside:avoid}
.zone header{display:flex;gap:12px;align-items:center;flex-wrap:wrap}
.pill{white-space:nowrap;display:inline-block;border-radius:12px;padding:1px 10px;background:var(--bg);
border:1px solid var(--line);font-weight:600}
.pill.award{background:#dcf5e3;border-color:#9bd3ab}.pill.none{color:var(--muted)}
.zone .body{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}
.zone svg.chart{flex:0 0 auto}
.zone .lines{flex:1 1 420px;min-width:0}
.zone .lines h4{margin:6px 0 2px;font-size:14px}
.zone .lines ul{margin:0 0 4px;padding-left:20px}
.zone .lines li{font-family:ui-monospace,"Noto Sans Mono CJK SC",monospace;font-size:12.5px}
.zone .lines li{overflow-wrap:anywhere}
.marks{list-style:none;padding-left:0;margin:6px 0}
@media (max-width:600px){.zone{padding:10px}.zone .body{gap:8px}.scroll>table.ranking{min-width:960px}}
.marks .met{color:var(--fail)}.marks .unknown{color:var(--und)}.marks .not_met{color:var(--muted)}
"""

_BAR, _UNKNOWN, _TRACK = "#0969da", "#bf8700", "#eaeef2"


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _anchor(prefix: str, ident: str) -> str:
    return prefix + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in ident)


def _f(text: Any) -> float:
    try:
        return float(Fraction(str(text)))
    except (ValueError, ZeroDivisionError):
        return 0.0


def _short(title: Any, lang: str) -> str:
    return _l(title, lang).replace("指标", "") if lang == "zh" else _l(title, lang)


def zone_lines(z: dict[str, Any], lang: str, unit: str | None) -> list[tuple[str, list[str]]]:
    """Per indicator: its heading (points/max, cap) and the lines of arithmetic, as `certify score`
    prints them; then the award."""
    w = WORDS[lang]
    out = []
    for ind in z["indicators"]:
        cite = f" ({ind['cite']})" if ind.get("cite") else ""
        head = f"{_l(ind['title'], lang)}{cite}: {ind['points']}/{ind['max']}"
        if ind["status"] == "unknown":
            head += f" ({w['unknown']})"
        if ind["cap_applied"]:
            head += f" ({w['cap']} {ind['cap']}, {w['uncapped']} {ind['uncapped']})"
        out.append((head, [line for part in ind["parts"] for line in part_line(part, lang)]))
    return out


def _rank_text(z: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    if z["rank"] is None:
        return w["unranked"]
    return f"{z['rank']}" + ("*" if z["provisional"] else "")


def _chart(z: dict[str, Any], lang: str) -> str:
    """The zone's points by indicator: one bar per indicator over a track as long as its maximum."""
    inds = z["indicators"]
    scale = max((_f(i["max"]) for i in inds), default=1.0) or 1.0
    label_w, bar_w, row_h, top = 132, 260, 22, 6
    width, height = label_w + bar_w + 70, top * 2 + row_h * len(inds)
    name = f"{z['id']} {z.get('name') or ''}".strip()
    parts = [f'<svg class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(name)}: {_e(EXTRA[lang]["chart"])}" '
             f'data-zone="{_e(z["id"])}"><title>{_e(name)}: {_e(EXTRA[lang]["chart"])}</title>']
    for n, ind in enumerate(inds):
        y = top + n * row_h
        track = _f(ind["max"]) / scale * bar_w
        points = max(0.0, min(_f(ind["points"]), _f(ind["max"]) or _f(ind["points"])))
        bar = points / scale * bar_w
        colour = _UNKNOWN if ind["status"] == "unknown" else _BAR
        text = f"{ind['points']}/{ind['max']}" + ("?" if ind["status"] == "unknown" else "")
        parts.append(
            f'<g data-indicator="{_e(ind["id"])}">'
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12" fill="#1f2328">'
            f'{_e(_short(ind["title"], lang))}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{track:.1f}" height="14" fill="{_TRACK}"/>'
            f'<rect x="{label_w}" y="{y + 4}" width="{bar:.1f}" height="14" fill="{colour}"/>'
            f'<text x="{label_w + track + 6:.1f}" y="{y + 15}" font-size="12" fill="#57606a">{_e(text)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _provenance(result: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    x, rec = EXTRA[lang], result["record"]
    line = (f"{x['pack']} {rec['pack']} {rec['pack_version']} (sha256 {rec['pack_sha256'][:12]}) · "
            f"{WORDS[lang]['as_of']} {rec['as_of']} · {x['engine']} {rec['engine_version']} / {rec['decided_by']}")
    overrides = [f"{name} = {o['value']} ({o['from']})" for name, o in (rec.get("overrides") or {}).items()]
    return line, overrides


def render_score_html(result: dict[str, Any], out: TextIO, lang: str = "zh", pack_title: Any = None,
                      source: dict[str, Any] | None = None, problems: Iterable[Any] = ()) -> None:
    w, x = WORDS[lang], EXTRA[lang]
    unit = result.get("award_unit") or ""
    title = _l(pack_title, lang) or result["record"]["pack"]
    # Written as it is made: no zone's HTML is kept once it is out.
    out.write(page_head(f"{title} — {x['report']}", lang, CSS + SCORING_CSS))
    body = _Writer(out)
    body.append(f"<h1>{_e(title)} — {_e(x['report'])}</h1>")
    line, overrides = _provenance(result, lang)
    body.append(f'<p class="meta">{_e(line)}</p>')
    body.extend(f'<p class="meta override"><b>{_e(x["override"])}</b> {_e(o)}</p>' for o in overrides)
    if source:
        src = " · ".join(str(source[k]) for k in ("title", "number", "date") if source.get(k))
        body.append(f'<p class="meta">{_e(x["source"])}: {_e(src)}</p>')
    zones_n = sum(c["size"] for c in result["cohorts"]) + len(result.get("unassigned") or [])
    ranked_n = sum(c["ranked"] for c in result["cohorts"])
    body.append(f'<h2>{_e(x["summary_h"])}</h2><div class="cards">'
                f'<div class="card"><b>{zones_n}</b>{_e(x["zones"])}</div>'
                f'<div class="card"><b>{ranked_n}</b>{_e(x["ranked"])}</div>'
                f'<div class="card" data-count="awards_paid"><b>{_e(result["awards_paid"])}{_e(unit)}</b>'
                f'{_e(w["paid"])}</div>')
    if result.get("award_total_stated"):
        body.append(f'<div class="card"><b>{_e(result["award_total_stated"])}{_e(unit)}</b>{_e(x["stated"])}</div>')
    body.append("</div>")
    for cohort in result["cohorts"]:
        _cohort(cohort, lang, unit, body)
    if result.get("unassigned"):
        body.append(f'<h2>{_e(w["no_cohort"])}</h2><ul class="unassigned">')
        body.extend(f"<li>{_e(u['id'])} {_e(u.get('name') or '')}: {_e(u['why'])}</li>" for u in result["unassigned"])
        body.append("</ul>")
    probs = sorted(problems)
    if probs:
        body.append(f'<h2>{_e(x["problems_h"])}</h2><ul class="problems">')
        body.extend(f"<li>{_e(p.format())}</li>" for p in probs)
        body.append("</ul>")
    body.append(f'<h2>{_e(w["choices"])}</h2><div class="scroll"><table class="choices"><thead><tr><th></th><th>{_e(x["value"])}</th>'
                f'<th>{_e(x["note"])}</th></tr></thead><tbody>')
    for name, choice in result["choices"].items():
        body.append(f"<tr><td><code>{_e(name)}</code></td><td>{_e(json.dumps(choice['value'], ensure_ascii=False))}"
                    f"</td><td>{_e(choice.get('note') or '')}</td></tr>")
    body.append("</tbody></table></div>")
    out.write("\n</body>\n</html>\n")


def _cohort(cohort: dict[str, Any], lang: str, unit: str, body: _Writer | list[str]) -> None:
    w, x = WORDS[lang], EXTRA[lang]
    zones = cohort["zones"]
    inds = zones[0]["indicators"] if zones else []
    body.append(f'<section class="cohort" id="{_e(_anchor("cohort-", cohort["cohort"]))}" '
                f'data-cohort="{_e(cohort["cohort"])}">')
    body.append(f'<h2>{_e(_l(cohort["label"], lang))} ({cohort["ranked"]}/{cohort["size"]})</h2>')
    heads = "".join(f'<th class="num" title="{_e(_l(i["title"], lang))}">{_e(_short(i["title"], lang))}</th>'
                    for i in inds)
    body.append(f'<div class="scroll"><table class="ranking"><thead><tr><th>{_e(w["rank"])}</th><th>{_e(w["zone"])}</th>'
                f'<th class="num">{_e(w["total"])}</th>{heads}<th>{_e(w["award"])}</th><th>{_e(w["marks"])}</th>'
                "</tr></thead><tbody>")
    for z in zones:
        klass = "excluded" if z["award"]["status"] == "excluded" else "provisional" if z["provisional"] else ""
        total = z["total"] + ("?" if z["total_status"] == "unknown" else "")
        cells = "".join(f'<td class="num">{_e(z["points"][i["id"]])}{"?" if i["id"] in z["unknown_indicators"] else ""}'
                        "</td>" for i in inds)
        body.append(
            f'<tr class="{klass}" data-zone="{_e(z["id"])}" data-rank="{_e(z["rank"] if z["rank"] is not None else "")}" '
            f'data-total="{_e(z["total"])}" data-award="{_e(z["award"].get("amount") or "")}">'
            f'<td class="rank">{_e(_rank_text(z, lang))}</td>'
            f'<td><a href="#{_e(_anchor("zone-", z["id"]))}">{_e(z["id"])} {_e(z.get("name") or "")}</a></td>'
            f'<td class="num"><b>{_e(total)}</b></td>{cells}<td>{_e(_award_text(z["award"], unit, lang))}</td>'
            f'<td>{_e(_marks(z, lang))}</td></tr>')
    body.append("</tbody></table></div>")
    table = "; ".join(f"{a['place']}: {a['amount']}{unit}" for a in cohort.get("awards_table") or [])
    body.append(f'<p class="small">{_e(w["paid"])}: <b>{_e(cohort["awards_paid"])}{_e(unit)}</b>'
                + (f" · {_e(x['awards_table'])} {_e(table)}" if table else "") + "</p>")
    if any(z["provisional"] for z in zones):
        body.append(f'<p class="small">* {_e(w["provisional"])}</p>')
    for z in zones:
        _zone(z, lang, unit, body)
    body.append("</section>")


def _zone(z: dict[str, Any], lang: str, unit: str, body: _Writer | list[str]) -> None:
    w = WORDS[lang]
    rank = f"{w['place']}{z['rank']}/{z['of']}" if z["rank"] is not None else w["excluded_rank"]
    if z["provisional"]:
        rank += "*"
    award_class = "award" if z["award"]["status"] == "awarded" else "none"
    body.append(f'<section class="zone" id="{_e(_anchor("zone-", z["id"]))}" data-zone="{_e(z["id"])}" '
                f'data-rank="{_e(z["rank"] if z["rank"] is not None else "")}" data-total="{_e(z["total"])}">')
    body.append(f'<header><h3>{_e(z["id"])} {_e(z.get("name") or "")}</h3>'
                f'<span class="pill rank">{_e(rank)}</span>'
                f'<span class="pill total">{_e(w["total"])} {_e(z["total"])}/{_e(z["max"])}'
                f'{"?" if z["total_status"] == "unknown" else ""}</span>'
                f'<span class="pill {award_class}">{_e(w["award"])}: {_e(_award_text(z["award"], unit, lang))}</span>'
                f'<span class="small">{_e(z.get("source") or "")}</span></header>')
    if z["provisional"]:
        body.append(f'<p class="small">{_e(w["provisional"])}</p>')
    body.append(f'<div class="body">{_chart(z, lang)}<div class="lines">')
    for head, lines in zone_lines(z, lang, unit):
        body.append(f"<h4>{_e(head)}</h4><ul>" + "".join(f"<li>{_e(line)}</li>" for line in lines) + "</ul>")
    body.append("</div></div>")
    marks = [(v["status"], w["vetoes"], v) for v in z["vetoes"]] + [(c["status"], w["consequences"], c)
                                                                     for c in z["consequences"]]
    crit = z.get("criteria")
    if crit:
        status = {"pass": "met", "fail": "not_met", "undetermined": "unknown"}[crit["outcome"]]
        marks.append((status, w["criteria"], crit))
    body.append('<ul class="marks">')
    for status, kind, item in marks:
        body.append(f'<li class="{status}" data-status="{status}">{_MARK[status]} {_e(kind)} '
                    f'{_e(item.get("cite") or "")}: {_e(_l(item["title"], lang))}</li>')
    body.append("</ul>")
    if z.get("data_problems"):
        body.append('<ul class="small">' + "".join(f"<li>! {_e(p)}</li>" for p in z["data_problems"]) + "</ul>")
    body.append("</section>")


def _cell(text: Any) -> str:
    return ("" if text is None else str(text)).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _text_bar(points: str, maximum: str, scale: float, width: int = 30) -> str:
    full = round(max(0.0, _f(points)) / scale * width)
    track = round(_f(maximum) / scale * width)
    return "█" * min(full, track) + "░" * max(0, track - full)


def render_score_markdown(result: dict[str, Any], out: TextIO, lang: str = "zh", pack_title: Any = None,
                          source: dict[str, Any] | None = None, problems: Iterable[Any] = ()) -> None:
    """The same content as the HTML report; the chart is a bar of block characters per indicator."""
    w, x = WORDS[lang], EXTRA[lang]
    unit = result.get("award_unit") or ""
    title = _l(pack_title, lang) or result["record"]["pack"]
    line, overrides = _provenance(result, lang)
    lines: list[str] = [f"# {title} — {x['report']}", "", line, ""]
    lines += [f"**{x['override']}** {o}" for o in overrides] + ([""] if overrides else [])
    if source:
        lines += [f"{x['source']}: " + " · ".join(str(source[k]) for k in ("title", "number", "date") if source.get(k)), ""]
    lines.append(f"{w['paid']}: **{result['awards_paid']}{unit}**"
                 + (f" / {result['award_total_stated']}{unit}" if result.get("award_total_stated") else ""))
    lines.append("")
    for cohort in result["cohorts"]:
        zones = cohort["zones"]
        inds = zones[0]["indicators"] if zones else []
        lines += [f"## {_l(cohort['label'], lang)} ({cohort['ranked']}/{cohort['size']})", ""]
        lines.append("| " + " | ".join([w["rank"], w["zone"], w["total"], *(_short(i["title"], lang) for i in inds),
                                         w["award"], w["marks"]]) + " |")
        lines.append("|---:|---|---:|" + "---:|" * len(inds) + "---|---|")
        for z in zones:
            total = z["total"] + ("?" if z["total_status"] == "unknown" else "")
            cells = [z["points"][i["id"]] + ("?" if i["id"] in z["unknown_indicators"] else "") for i in inds]
            lines.append("| " + " | ".join(_cell(c) for c in [
                _rank_text(z, lang), f"{z['id']} {z.get('name') or ''}".strip(), f"**{total}**", *cells,
                _award_text(z["award"], unit, lang), _marks(z, lang)]) + " |")
        lines += ["", f"{w['paid']}: {cohort['awards_paid']}{unit}", ""]
        if any(z["provisional"] for z in zones):
            lines += [f"\\* {w['provisional']}", ""]
        for z in zones:
            rank = f"{w['place']}{z['rank']}/{z['of']}" if z["rank"] is not None else w["excluded_rank"]
            name = f" {z['name']}" if z.get("name") else ""
            lines += [f"### {z['id']}{name}: {rank}, {w['total']} {z['total']}/{z['max']}", ""]
            scale = max((_f(i["max"]) for i in z["indicators"]), default=1.0) or 1.0
            lines += [f"| {x['chart']} | {x['points_h']} | |", "|---|---:|---|"]
            for ind in z["indicators"]:
                lines.append(f"| {_cell(_l(ind['title'], lang))} | {ind['points']}/{ind['max']}"
                             f"{'?' if ind['status'] == 'unknown' else ''} | "
                             f"`{_text_bar(ind['points'], ind['max'], scale)}` |")
            lines.append("")
            for head, parts in zone_lines(z, lang, unit):
                lines.append(f"- {head}")
                lines += [f"  - `{p}`" for p in parts]
            lines.append(f"- {w['award']}: {_award_text(z['award'], unit, lang)}")
            for v in z["vetoes"]:
                lines.append(f"- {_MARK[v['status']]} {w['vetoes']} {v.get('cite') or ''}: {_l(v['title'], lang)}")
            for c in z["consequences"]:
                lines.append(f"- {_MARK[c['status']]} {w['consequences']} {c.get('cite') or ''}: {_l(c['title'], lang)}")
            crit = z.get("criteria")
            if crit:
                status = {"pass": "met", "fail": "not_met", "undetermined": "unknown"}[crit["outcome"]]
                lines.append(f"- {_MARK[status]} {w['criteria']} {crit.get('cite') or ''}: {_l(crit['title'], lang)}")
            lines += [f"- ! `{p}`" for p in z.get("data_problems") or []]
            lines.append("")
    for u in result.get("unassigned") or []:
        lines.append(f"- {u['id']} {u.get('name') or ''}: {w['no_cohort']} ({u['why']})")
    probs = sorted(problems)
    if probs:
        lines += ["", f"## {x['problems_h']}", ""] + [f"- `{p.format()}`" for p in probs]
    lines += ["", f"## {w['choices']}", "", f"| | {x['value']} | {x['note']} |", "|---|---|---|"]
    for name, choice in result["choices"].items():
        lines.append(f"| `{name}` | {_cell(json.dumps(choice['value'], ensure_ascii=False))} | "
                     f"{_cell(choice.get('note') or '')} |")
    out.write("\n".join(lines).rstrip("\n") + "\n")


_SCORE_XLSX = {
    "zh": {"sheet": "综合评价", "cohort": "类型", "rank": "名次", "id": "编号", "name": "名称", "total": "总分",
           "total_status": "总分是否完整", "known": "完整", "unknown": "有指标缺数据", "award": "奖励金额",
           "award_status": "奖励", "vetoes": "否决项", "consequences": "评价后果", "provisional": "暂定名次",
           "exact": "精确值说明", "yes": "是", "no": "否", "of": "满分"},
    "en": {"sheet": "scores", "cohort": "cohort", "rank": "rank", "id": "id", "name": "name", "total": "total",
           "total_status": "total complete", "known": "complete", "unknown": "indicator data missing",
           "award": "award amount", "award_status": "award", "vetoes": "vetoes", "consequences": "consequences",
           "provisional": "provisional rank", "exact": "exact values", "yes": "yes", "no": "no", "of": "max"},
}


def write_score_xlsx(result: dict[str, Any], path: str, lang: str = "zh") -> None:
    """The ranking as a workbook for officers: one row per zone with cohort, rank, total and each
    indicator's points as numbers (so they sort and add up), the award amount as a number in the
    award unit, then award, vetoes and consequences as words. Chinese headers unless lang is en;
    frozen header, autofilter, widths that fit the headers. Text cells stay text, never formulas."""
    from openpyxl import Workbook

    w, x = WORDS[lang], _SCORE_XLSX[lang]
    indicators: list[dict[str, Any]] = []
    for cohort in result["cohorts"]:
        if cohort["zones"]:
            indicators = cohort["zones"][0]["indicators"]
            break
    unit = result.get("award_unit") or ""
    header = [x["cohort"], x["rank"], x["id"], x["name"], x["total"],
              *(f"{_l(i['title'], lang)} ({x['of']} {i['max']})" for i in indicators),
              x["total_status"], f"{x['award']} ({unit})" if unit else x["award"], x["award_status"], x["vetoes"],
              x["consequences"], x["provisional"], x["exact"]]
    book = Workbook(write_only=True)
    sheet = Sheet(book, x["sheet"], header, "E2", [12, 6, 10, 16, 8])
    fill_of = {"known": None, "unknown": "unknown"}
    for cohort in result["cohorts"]:
        for z in cohort["zones"]:
            exacts: list[str] = []

            def number(text: Any, label: str, fill: str | None = None, unit_: str | None = None) -> Any:
                cell, exact = sheet.number(text, unit_, lang, fill)
                if exact:
                    exacts.append(f"{label} = {exact}")
                return cell

            cells = [sheet.text(_l(cohort.get("label"), lang) or cohort["cohort"]),
                     sheet.text(z["rank"]) if z["rank"] is not None else sheet.text(w["unranked"]),
                     sheet.text(z["id"]), sheet.text(z.get("name") or ""),
                     number(z["total"], x["total"], fill_of.get(z["total_status"]))]
            for ind in indicators:
                unknown = ind["id"] in z["unknown_indicators"]
                cells.append(number(z["points"].get(ind["id"]), _l(ind["title"], lang), "unknown" if unknown else None))
            amount = z["award"].get("amount")
            cells += [sheet.text(x.get(z["total_status"], z["total_status"])),
                      number(amount, x["award"], unit_=unit) if amount not in (None, "") else sheet.text(None),
                      sheet.text(_award_text(z["award"], unit, lang)),
                      sheet.text("; ".join(_l(v["title"], lang) for v in z["vetoes"] if v["status"] == "met")),
                      sheet.text("; ".join(_l(c["title"], lang) for c in z["consequences"] if c["status"] == "met")),
                      sheet.text(x["yes"] if z["provisional"] else x["no"]), sheet.text("; ".join(exacts))]
            sheet.append(cells)
    sheet.finish()
    book.save(path)


# ---------------------------------------------------------------------------------------------
# Every view of a scoring result, by format


@dataclass(frozen=True)
class ScoreView:
    """What the views of one scoring result may need besides the result itself."""

    lang: str = "zh"
    pack_title: Any = None
    source: dict[str, Any] | None = None
    problems: list[Any] = field(default_factory=list)
    counts: dict[str, int] | None = None  # rows read / decided / refused (the JSON view carries them)
    full: bool = False  # text: each entity's points item by item


# One renderer per format, each writing to an open text stream (XLSX is a file: write_score_xlsx).
SCORE_RENDERERS: dict[str, Callable[[dict[str, Any], TextIO, ScoreView], None]] = {
    "text": lambda result, out, v: render_score_text(result, out, v.lang, v.pack_title,
                                                     view="full" if v.full else "short"),
    "json": lambda result, out, v: render_score_json({**result, "counts": v.counts}, v.problems, out),
    "csv": lambda result, out, v: render_score_csv(result, out, v.lang),
    "markdown": lambda result, out, v: render_score_markdown(result, out, v.lang, v.pack_title, v.source, v.problems),
    "html": lambda result, out, v: render_score_html(result, out, v.lang, v.pack_title, v.source, v.problems),
}
