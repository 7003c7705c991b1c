"""Reviewer report as one self-contained HTML file: inline CSS, no script, no network.

It renders decision records (the dicts `engine.explain.records` builds, optionally with the
"what_it_takes" key from `engine.explain.whatif`); nothing here decides anything. The page has a batch
summary (counts by outcome, the criteria that fail most often, one line per entity) and, per
entity, a checklist of every applicable criterion — status, value, threshold, gap, the path
taken, missing evidence and the clause cited, with the clause's text when the source document
is available — then what it would take to pass.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from typing import Any, Iterable, TextIO

from engine.report.page import CSS, page_head
from engine.report.page import escape as _e
from engine.report.text import WORDS, _label, _test_text
from engine.explain.whatif import describe

EXTRA = {
    "zh": {
        "report": "认定审核报告", "summary_h": "批次汇总", "entities_h": "逐一审核", "count": "数量",
        "entity": "对象", "outcome": "结果", "why": "主要原因", "criterion": "条件", "status": "状态",
        "cite": "条款", "most_failed": "未通过的原因:最常不满足或无法判断的条件", "not_met_n": "不满足次数", "unknown_n": "未知次数",
        "what": "如何才能通过", "what_none": "没有只改数据就能通过的办法", "blocked": "受阻于",
        "clauses_h": "引用条款原文", "clause_missing": "未找到政策原文,仅显示条款编号",
        "gap": "差距", "source": "来源", "pack": "规则包", "problems_h": "数据问题", "all_met": "全部条件满足",
        "failed_on": "不满足", "unknown_on": "无法判断", "verified": "已由参考评估器验证可通过",
        "more": "另有 {n} 种办法", "ranking_h": "排名", "rank": "名次", "score": "得分", "not_asked": "未计算(使用 --what-it-takes)",
        "total": "合计", "value_h": "数值", "threshold_h": "标准", "path_h": "路径", "missing_h": "缺少",
    },
    "en": {
        "report": "Certification review report", "summary_h": "Batch summary", "entities_h": "Entities",
        "count": "count", "entity": "entity", "outcome": "outcome", "why": "main reason", "criterion": "criterion",
        "status": "status", "cite": "clause", "most_failed": "Why entities did not pass: the criteria most often not met or unknown",
        "not_met_n": "not met", "unknown_n": "unknown", "what": "What it would take to pass",
        "what_none": "no change to the data alone makes it pass", "blocked": "blocked by",
        "clauses_h": "Clauses cited", "clause_missing": "the policy text was not found; only clause numbers are shown",
        "gap": "gap", "source": "source", "pack": "rule pack", "problems_h": "Data problems",
        "all_met": "every condition met", "failed_on": "not met", "unknown_on": "cannot tell",
        "verified": "verified to pass by the reference evaluator", "more": "{n} more ways",
        "ranking_h": "Ranking", "rank": "rank", "score": "score", "not_asked": "not computed (use --what-it-takes)",
        "total": "total", "value_h": "value", "threshold_h": "threshold", "path_h": "path", "missing_h": "missing",
    },
}
OUTCOMES = ("pass", "fail", "undetermined")
_MARK = {"met": "✔", "not_met": "✘", "unknown": "?"}

def blocking(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """Criteria that stand in the way of a pass: not met or unknown, and so is every criterion
    above them (a failed alternative under a met "any" does not stand in the way)."""
    if rec["outcome"] == "pass":
        return []
    chain: list[bool] = []  # per depth: is the chain down to here blocking?
    out = []
    for c in rec["criteria"]:
        del chain[c["depth"]:]
        here = c["status"] != "met" and (not chain or chain[-1])
        chain.append(here)
        if here:
            out.append(c)
    return out


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by outcome and, per criterion, how often it was not met / unknown."""
    counts = {k: 0 for k in OUTCOMES}
    not_met: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    info: dict[str, dict[str, Any]] = {}
    for rec in records:
        counts[rec["outcome"]] = counts.get(rec["outcome"], 0) + 1
        for c in rec["criteria"]:
            info.setdefault(c["id"], {"id": c["id"], "title": c["title"], "cite": c.get("cite"), "depth": c["depth"]})
        for c in blocking(rec):  # counted only where it stands in the way of a pass
            if c["status"] == "not_met":
                not_met[c["id"]] += 1
            else:
                unknown[c["id"]] += 1
    ranked = sorted((i for i in info if not_met[i] or unknown[i]),
                    key=lambda i: (-not_met[i], -unknown[i], list(info).index(i)))
    failing = [{**info[i], "not_met": not_met[i], "unknown": unknown[i]} for i in ranked]
    return {"counts": counts, "total": len(records), "failing": failing}


def reasons(rec: dict[str, Any], lang: str) -> str:
    """The top-level criteria that decided a non-pass (or 'every condition met')."""
    x = EXTRA[lang]
    if rec["outcome"] == "pass":
        return x["all_met"]
    chain = blocking(rec)
    want = "not_met" if rec["outcome"] == "fail" else "unknown"
    # The most specific criteria in the way: those with no blocking criterion below them.
    leaves = [c for i, c in enumerate(chain)
              if c["status"] == want and not (i + 1 < len(chain) and chain[i + 1]["depth"] > c["depth"])]
    parts = []
    for c in leaves or [c for c in chain if c["status"] == want]:
        text = f"{c.get('cite') or ''} {_label(c['title'], lang)}".strip()
        t = c.get("test")
        if t and t.get("operator") not in ("attested", "is_true", "is_false"):
            # what happened and what was required, as in the text view ("99,999万元 < 10亿元 (要求 ≥ 10亿元), 差 1万元"),
            # never the value beside the bare requirement ("99,999万元 ≥ 10亿元" read as a claim)
            text += ("：" if lang == "zh" else ": ") + _test_text(t, c["status"], lang)
        parts.append(text)
    word = x["failed_on"] if rec["outcome"] == "fail" else x["unknown_on"]
    return word + ": " + "; ".join(parts)


def _value_cells(c: dict[str, Any], lang: str) -> tuple[str, str, str]:
    t = c.get("test")
    if not t:
        return "", "", ""
    w = WORDS[lang]
    op = t.get("operator")
    if op in ("attested", "is_true", "is_false"):
        return _test_text(t, c["status"], lang), "", ""
    if t.get("value") is None:
        value = f"{w['missing']}"
    else:
        value = t.get("text") or (_label(t.get("value_label"), lang) if t.get("value_label") else str(t.get("value")))
    if op in ("in", "not_in"):
        sym = "∈" if op == "in" else "∉"
        threshold = f"{sym} {{{'、'.join(_label(v, lang) for v in t.get('value_labels', []))}}}"
    elif t.get("threshold") is None and t.get("parameter"):
        threshold = f"? ({w['policy_unset']})"
    else:
        sym = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "=", "!=": "≠"}.get(op, op or "")
        threshold = f"{sym} {t.get('threshold_text') or t.get('threshold') or ''}"
    gap = t.get("gap_text") or ""
    if t.get("gap_note"):
        gap = (gap + " " if gap else "") + f"({w['strict']})"
    return value, threshold, gap


def _first_option(rec: dict[str, Any], lang: str) -> str:
    wit = rec.get("what_it_takes")
    if rec["outcome"] == "pass" or wit is None:
        return "<td></td>"
    if not wit.get("options"):
        return f'<td>{_e(EXTRA[lang]["what_none"])}</td>'
    shown = [_e(describe(o, lang)) for o in wit["options"][:2]]
    more = len(wit["options"]) - len(shown) + wit.get("more", 0)
    tail = f'<br><span class="small">{_e(EXTRA[lang]["more"].format(n=more))}</span>' if more > 0 else ""
    joiner = "<br><b>或</b> " if lang == "zh" else "<br><b>or</b> "
    return f'<td>{joiner.join(shown)}{tail}</td>'


class _Clauses:
    def __init__(self, clauses: dict[str, str]):
        self.text = clauses
        self.ids = {cite: f"clause-{i + 1}" for i, cite in enumerate(clauses)}

    def link(self, cite: str | None) -> str:
        if not cite:
            return ""
        if cite in self.ids:
            return (f'<a href="#{self.ids[cite]}" title="{_e(self.text[cite])}">{_e(cite)}</a>')
        return _e(cite)


def _entity(rec: dict[str, Any], lang: str, clauses: _Clauses, out: _Writer | list[str]) -> None:
    w, x = WORDS[lang], EXTRA[lang]
    ent, outcome = rec["entity"], rec["outcome"]
    anchor = "entity-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in ent["id"])
    out.append(f'<section class="entity {outcome}" id="{_e(anchor)}" data-entity="{_e(ent["id"])}" '
               f'data-outcome="{outcome}">')
    name = f" {_e(ent['name'])}" if ent.get("name") else ""
    out.append(f'<header><h3>{_e(ent["id"])}{name}</h3>'
               f'<span class="badge {outcome} outcome">{_e(w[outcome])}</span>'
               f'<span class="small">{_e(ent.get("source") or "")}</span></header>')
    out.append(f'<p class="why">{_e(reasons(rec, lang))}</p>')
    out.append(f'<div class="scroll"><table class="checklist"><thead><tr><th>{x["status"]}</th><th>{x["cite"]}</th>'
               f'<th>{x["criterion"]}</th><th>{x["value_h"]}</th><th>{x["threshold_h"]}</th><th>{x["gap"]}</th>'
               f'<th>{x["path_h"]}</th><th>{x["missing_h"]}</th></tr></thead><tbody>')
    for c in rec["criteria"]:
        value, threshold, gap = _value_cells(c, lang)
        pad = c["depth"] * 1.2
        tags = ""
        if c.get("discretionary"):
            tags += f' <span class="tag" title="{_e(_label(c["discretionary"], lang))}">{_e(w["discretionary"])}</span>'
        ev = (c.get("test") or {}).get("evidence")
        if ev and c["status"] != "unknown":
            value += " (" + ", ".join(ev[k] for k in ("by", "date", "ref") if k in ev) + ")"
        path = _label(c.get("branch_detail"), lang) if c.get("branch_detail") else ""
        label = _label((c.get("test") or {}).get("label"), lang)
        missing = ", ".join(label if c.get("test") and label else m for m in (c.get("missing") or []))
        out.append(
            f'<tr class="{c["status"]}" data-criterion="{_e(c["id"])}" data-status="{c["status"]}">'
            f'<td class="st {c["status"]}" title="{_e(w[c["status"]])}">{_MARK[c["status"]]} {_e(w[c["status"]])}</td>'
            f'<td class="cite">{clauses.link(c.get("cite"))}</td>'
            f'<td style="padding-left:{0.5 + pad:.1f}em">{_e(_label(c["title"], lang))}{tags}</td>'
            f'<td>{_e(value)}</td><td>{_e(threshold)}</td><td>{_e(gap)}</td><td>{_e(path)}</td>'
            f'<td>{_e(missing)}</td></tr>')
    out.append("</tbody></table></div>")
    if rec.get("missing_inputs"):
        out.append(f'<div class="missing"><h4>{_e(w["missing_header"])}</h4><ul>')
        for m in rec["missing_inputs"]:
            if "parameter" in m:
                out.append(f"<li>{_e(_label(m['label'], lang))} ({_e(m['parameter'])}: {_e(w['policy_unset'])})</li>")
            else:
                kind = f" [{w['evidence']}]" if m.get("attestation") else ""
                out.append(f"<li>{_e(_label(m['label'], lang))} <code>{_e(m['input'])}</code>{_e(kind)} — "
                           f"{_e(m.get('why', ''))}</li>")
        out.append("</ul></div>")
    if outcome != "pass":
        out.append(f'<div class="what"><h4>{_e(x["what"])}</h4>')
        wit = rec.get("what_it_takes")
        if wit is None:
            out.append(f'<p class="small">{_e(x["not_asked"])}</p>')
        elif wit.get("options"):
            out.append("<ol>")
            for o in wit["options"]:
                out.append(f'<li class="option">{_e(describe(o, lang))}</li>')
            out.append("</ol>")
            more = f" · {x['more'].format(n=wit['more'])}" if wit.get("more") else ""
            out.append(f'<p class="small">{_e(x["verified"])}{_e(more)}</p>')
        else:
            blocked = "; ".join(f"{_label(b['label'], lang)} ({b.get('cite') or ''})" for b in wit.get("blocked_by", []))
            out.append(f"<p>{_e(x['what_none'])}{(' — ' + _e(x['blocked']) + ' ' + _e(blocked)) if blocked else ''}</p>")
        out.append("</div>")
    extras = []
    if rec.get("discretionary_met"):  # by clause and title, as in the text view (officers never see ids)
        by_id = {c["id"]: c for c in rec["criteria"]}
        judged = [f"{by_id[i].get('cite') or ''} {_label(by_id[i]['title'], lang)}".strip() if i in by_id else i
                  for i in rec["discretionary_met"]]
        extras.append(f"{w['discretionary_met']}: {w['list_sep'].join(judged)}")
    for f in rec.get("flags", []):
        state = {"met": w["set"], "not_met": w["unset"], "unknown": w["unknown"]}[f["status"]]
        extras.append(f"{w['flags']}: {f.get('cite') or ''} {_label(f['title'], lang)} — {state}")
    for p in rec.get("data_problems", []):
        extras.append(f"{w['data_problem']}: {p['code']} {p['message']}")
    prov = rec["record"]
    extras.append(f"{w['record']}: {w['input_hash']} {prov['input_sha256'][:12]}, {w['engine']} "
                  f"{prov['engine_version']} / {prov['decided_by']}")
    out.append("<ul class=\"small\">" + "".join(f"<li>{_e(e)}</li>" for e in extras) + "</ul>")
    out.append("</section>")


def ranking_from_scores(result: dict[str, Any], lang: str = "zh") -> list[dict[str, Any]]:
    """Rows for the ranking view from a `certify score` result (cohorts of zones)."""
    rows = []
    for cohort in result.get("cohorts", []):
        label = _label(cohort.get("label"), lang) or cohort.get("cohort")
        for z in cohort.get("zones", []):
            rows.append({"rank": z.get("rank") if z.get("rank") is not None else "—", "id": z["id"],
                         "name": f"{z.get('name') or ''} ({label})".strip(), "score": z.get("total"),
                         "max": z.get("max"), "score_text": f"{z.get('total')} / {z.get('max')}"})
    return rows


def _ranking(ranking: list[dict[str, Any]] | None, lang: str, out: _Writer | list[str]) -> None:
    """An optional ranking view (rows of {rank, id, name, score, max}); a plain SVG bar per row."""
    if not ranking:
        return
    x = EXTRA[lang]
    top = max((float(Fraction(str(r.get("max") or r.get("score") or 0))) for r in ranking), default=0) or 1.0
    out.append(f'<h2>{_e(x["ranking_h"])}</h2><div class="scroll"><table class="ranking"><thead><tr><th>{x["rank"]}</th>'
               f'<th>{x["entity"]}</th><th>{x["score"]}</th><th></th></tr></thead><tbody>')
    for r in ranking:
        try:
            score = float(Fraction(str(r.get("score") or 0)))
        except (ValueError, ZeroDivisionError):
            score = 0.0
        width = max(0.0, min(1.0, score / top)) * 300
        out.append(f'<tr><td>{_e(r.get("rank"))}</td><td>{_e(r.get("id"))} {_e(r.get("name") or "")}</td>'
                   f'<td>{_e(r.get("score_text") or r.get("score"))}</td><td><svg width="300" height="12" '
                   f'role="img" aria-label="{_e(r.get("score"))}"><rect width="{width:.1f}" height="12" '
                   f'fill="#0969da"/></svg></td></tr>')
    out.append("</tbody></table></div>")


def render_html(records: Iterable[dict[str, Any]], out: TextIO, lang: str = "zh",
                pack_title: dict[str, str] | None = None, source: dict[str, Any] | None = None,
                clauses: dict[str, str] | None = None, problems: Iterable[Any] = (),
                ranking: list[dict[str, Any]] | None = None) -> dict[str, int]:
    """Write the report; returns the counts by outcome. `clauses` maps a cite to its text.

    The summary at the top needs every record first, so the records are kept; their HTML is not:
    each part is written to `out` as soon as it is made (a 10,000-town report never holds the
    page).
    """
    recs = list(records)
    w, x = WORDS[lang], EXTRA[lang]
    info = summary(recs)
    cited = _Clauses(clauses or {})
    title = _label(pack_title, lang) if pack_title else (recs[0]["record"]["pack"] if recs else "")
    out.write(page_head(f"{title} — {x['report']}", lang, CSS))
    body = _Writer(out)
    body.append(f"<h1>{_e(title)} — {_e(x['report'])}</h1>")
    if recs:
        prov = recs[0]["record"]
        line = (f"{x['pack']} {prov['pack']} {prov['pack_version']} (sha256 {prov['pack_sha256'][:12]}) · "
                f"{w['as_of']} {prov['as_of']} · {w['engine']} {prov['engine_version']} / {prov['decided_by']}")
        body.append(f'<p class="meta">{_e(line)}</p>')
        for name, o in (prov.get("overrides") or {}).items():
            body.append(f'<p class="meta"><b>override</b> {_e(name)} = {_e(o["value"])} ({_e(o["from"])})</p>')
    if source:
        src = " · ".join(str(source[k]) for k in ("title", "number", "date") if source.get(k))
        body.append(f'<p class="meta">{_e(x["source"])}: {_e(src)}</p>')
    body.append(f'<h2>{_e(x["summary_h"])}</h2><div class="cards">')
    body.append(f'<div class="card"><b>{info["total"]}</b>{_e(x["total"])}</div>')
    for k in OUTCOMES:
        body.append(f'<div class="card {k}" data-count="{k}"><b>{info["counts"].get(k, 0)}</b>{_e(w[k])}</div>')
    body.append("</div>")
    if info["failing"]:
        most = max(f["not_met"] + f["unknown"] for f in info["failing"]) or 1
        body.append(f'<h3>{_e(x["most_failed"])}</h3><div class="scroll"><table class="failing"><thead><tr>'
                    f'<th>{x["cite"]}</th><th>{x["criterion"]}</th><th>{x["not_met_n"]}</th><th>{x["unknown_n"]}</th>'
                    "<th></th></tr></thead><tbody>")
        for f in info["failing"]:
            bar = (f'<span class="bar" style="width:{120 * f["not_met"] / most:.0f}px"></span>'
                   f'<span class="bar unk" style="width:{120 * f["unknown"] / most:.0f}px"></span>')
            body.append(f'<tr><td class="cite">{cited.link(f.get("cite"))}</td>'
                        f'<td>{_e(_label(f["title"], lang))}</td>'
                        f'<td>{f["not_met"]}</td><td>{f["unknown"]}</td><td>{bar}</td></tr>')
        body.append("</tbody></table></div>")
    show_what = any("what_it_takes" in r for r in recs)
    what_head = f'<th>{x["what"]}</th>' if show_what else ""
    body.append(f'<div class="scroll"><table class="overview"><thead><tr><th>{x["entity"]}</th><th>{x["outcome"]}</th>'
                f'<th>{x["why"]}</th>{what_head}</tr></thead><tbody>')
    for rec in recs:
        ent = rec["entity"]
        anchor = "entity-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in ent["id"])
        body.append(f'<tr data-entity="{_e(ent["id"])}" data-outcome="{rec["outcome"]}">'
                    f'<td><a href="#{_e(anchor)}">{_e(ent["id"])} {_e(ent.get("name") or "")}</a></td>'
                    f'<td><span class="badge {rec["outcome"]}">{_e(w[rec["outcome"]])}</span></td>'
                    f'<td>{_e(reasons(rec, lang))}</td>{_first_option(rec, lang) if show_what else ""}</tr>')
    body.append("</tbody></table></div>")
    _ranking(ranking, lang, body)
    probs = sorted(problems)
    if probs:
        body.append(f'<h2>{_e(x["problems_h"])}</h2><ul class="problems">')
        body.extend(f"<li>{_e(p.format())}</li>" for p in probs)
        body.append("</ul>")
    body.append(f'<h2>{_e(x["entities_h"])}</h2>')
    for rec in recs:
        _entity(rec, lang, cited, body)
    body.append(f'<h2>{_e(x["clauses_h"])}</h2>')
    if cited.text:
        for cite, text in cited.text.items():
            body.append(f'<blockquote id="{cited.ids[cite]}"><b>{_e(cite)}</b> {_e(text)}</blockquote>')
    else:
        body.append(f'<p class="small">{_e(x["clause_missing"])}</p>')
    out.write("\n</body>\n</html>\n")
    return info["counts"]


class _Writer:
    """What the page builders append to: a list's append/extend that writes each part at once."""

    def __init__(self, out: TextIO):
        self.out = out

    def append(self, part: str) -> None:
        self.out.write(part)
        self.out.write("\n")

    def extend(self, parts: Iterable[str]) -> None:
        for part in parts:
            self.append(part)
