"""The workbench pages: Packs (each pack's parameters in force, choices and criteria, cited and
quoted), Decide (upload -> table -> explanation -> download). Chinese by default, English by the
switch in the header (?lang=en, kept in a cookie); one column that fits a phone, wide tables in
their own scrolling box.

Everything shown is escaped here (`e`), or by the report stage's renderers for the explanation
pages (the same record and view as `certify report`). Every form carries the browser's check token
(guard.csrf_token) and is refused without it (E237). Every page works without script; the edit
page's one script (engine/web/script.py, served from here) checks a value as it is typed.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import logging
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from engine.commands.diff_common import why_text
from engine.compile.model2 import Pack2
from engine.core.problems import Problem, ProblemsError
from engine.core.units import format_amount
from engine.evaluate.pipeline import RowCounts
from engine.explain.whatif2 import describe
from engine.report.format2_views import award_text, shown_value
from engine.report.html import render_html
from engine.report.outputs import write_report
from engine.report.pages2 import render_html2
from engine.report.score2 import score_groups, score_plan
from engine.report.xlsx2 import write_xlsx2
from engine.web.api import as_of_date, data_name, diff_text, run_decide, validate_text
from engine.web.edit import Conflict, EditError, edit_text, opened_diff, remember, save
from engine.web.edit import sha256 as edit_sha
from engine.web.guard import (CSRF_COOKIE, CSRF_FIELD, USER_KEY, Refused, cross_site, csrf_ok, csrf_token, problem, read_body,
                              refuse)
from engine.web.script import EDIT_JS
from engine.web.service import Batch, Catalog, PackEntry, compiled, decide, pack_chain, pack_detail
from engine.web.store import BATCH_ID, Kept, document_sha256

LANG_COOKIE = "certify_lang"
# seconds: a batch decided within this goes straight to its table (CERTIFY_PROGRESS_AFTER: tests show the progress page)
WAIT_BEFORE_PROGRESS = float(os.environ.get("CERTIFY_PROGRESS_AFTER", "2.0"))
log = logging.getLogger("certify.web")
BATCHES_KEPT = 50

CSS = """
*{box-sizing:border-box}
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;margin:0;color:#1b1b1b;
 background:#f6f7f9;line-height:1.5;font-size:16px}
header{background:#1f3b5a;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center}
header a{color:#fff}
header .lang{margin-left:auto}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.4rem 0 .8rem}
h2{font-size:1.1rem;margin:1.2rem 0 .5rem}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;background:#fff;border:1px solid #dde1e6;border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{padding:.45rem .6rem;border-bottom:1px solid #e6e8eb;text-align:left;vertical-align:top}
th{background:#eef1f5;white-space:nowrap}
.meta{color:#555;font-size:.9rem}
.pass{color:#17623a;font-weight:600}.fail{color:#a11d1d;font-weight:600}.undetermined{color:#8a5a00;font-weight:600}
form.card,.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:1rem;margin:.8rem 0}
label{display:block;margin:.5rem 0 .2rem;font-weight:600}
input,select,button{font-size:1rem;padding:.45rem;max-width:100%}
button{background:#1f3b5a;color:#fff;border:0;border-radius:4px;padding:.55rem 1.1rem;margin-top:.8rem}
.filters a{margin-right:.8rem}
.problem{background:#fff4f4;border-left:4px solid #a11d1d;padding:.5rem .8rem;margin:.4rem 0}
ul.tree{padding-left:1.1rem}
pre{white-space:pre-wrap;word-break:break-all;font-size:.85rem}
a.edit{margin-left:.5rem;font-size:.9rem}
output#live-check{display:block;min-height:1.5rem}
input[aria-invalid=true]{border:2px solid #a11d1d}
button:disabled{background:#8a96a3}
blockquote{margin:.2rem 0;color:#444;border-left:3px solid #c9d1da;padding-left:.6rem}
@media (max-width:40rem){main{padding:.6rem}th,td{padding:.35rem .4rem}}
"""

WORDS = {
    "zh": {"app": "政策认定工作台", "packs": "规则包", "decide": "判定", "switch": "English", "id": "编号",
           "title": "名称", "version": "版本", "format": "格式", "entity": "对象", "effective": "生效日期",
           "parameters": "参数（现行值）", "value": "数值", "cite": "条款", "quote": "原文", "choices": "待定事项（选项）",
           "default": "默认", "options": "选项", "reason": "理由", "criteria": "认定条件", "source": "政策来源",
           "decide_with": "用此规则包判定", "as_of": "判定日期", "data": "数据文件（XLSX、CSV、JSON、YAML）",
           "pack": "规则包", "submit": "上传并判定", "name": "名称", "outcome": "结果", "why": "主要原因",
           "all": "全部", "pass": "通过", "fail": "未通过", "undetermined": "无法判定", "search": "按名称或编号搜索",
           "find": "搜索", "sort": "排序", "download": "下载", "open": "查看说明", "rows": "行",
           "read": "读取", "decided": "已判定", "refused": "被拒", "problems": "数据问题", "back": "返回列表",
           "no_batch": "该批次已不在服务器上（服务器只保留最近的批次），请重新上传。", "refused_h": "请求未被接受",
           "unset": "未规定", "since": "起", "none": "无", "line": "行", "edit": "修改", "current": "现行值",
           "new_value": "新数值", "impact_data": "用于查看影响的数据（可不选：用最近一次上传的数据）", "check": "查看影响", "user": "用户",
           "checking": "正在检查…", "check_failed": "暂时无法检查；保存时服务器会再次检查。",
           "save": "保存", "impact": "对已载入数据的影响", "changed": "结果改变", "no_change": "没有对象的结果改变。",
           "impact_over": "影响将按最近上传的数据计算：", "impact_none": "尚未上传数据：可在此选择数据文件以查看影响。",
           "checked": "检查结果", "deciding": "正在判定…", "scores": "得分与排名", "place": "名次", "award": "奖励", "score_note": "名次后 = 表示并列，* 表示暂定（同组有对象缺数据）；点击名称查看每项得分的计算过程。", "what_it_takes": "怎样才能通过（已验证的修改）", "valid": "检查通过，没有问题。", "saved": "已保存，版本", "commit": "提交"},
    "en": {"app": "Policy workbench", "packs": "Packs", "decide": "Decide", "switch": "中文", "id": "id",
           "title": "title", "version": "version", "format": "format", "entity": "entity", "effective": "effective",
           "parameters": "Parameters (values in force)", "value": "value", "cite": "clause", "quote": "policy text",
           "choices": "Choices (open points)", "default": "default", "options": "options", "reason": "reason",
           "criteria": "Criteria", "source": "Source", "decide_with": "Decide with this pack", "as_of": "as of",
           "data": "data file (XLSX, CSV, JSON, YAML)", "pack": "pack", "submit": "Upload and decide", "name": "name",
           "outcome": "outcome", "why": "main reason", "all": "all", "pass": "pass", "fail": "fail",
           "undetermined": "undetermined", "search": "search by name or id", "find": "Search", "sort": "sort",
           "download": "Download", "open": "explanation", "rows": "rows", "read": "read", "decided": "decided",
           "refused": "refused", "problems": "data problems", "back": "back to the table",
           "no_batch": "This batch is no longer on the server (only recent batches are kept); upload it again.",
           "refused_h": "Request not accepted", "unset": "not set", "since": "since", "none": "none", "line": "line",
           "edit": "Edit", "current": "value in force", "new_value": "new value",
           "impact_data": "data to show the impact over (optional: the last upload is used)", "check": "Show the impact", "user": "user",
           "checking": "Checking…", "check_failed": "Could not check just now; the server checks again when you save.",
           "save": "Save", "impact": "Impact on the loaded data", "changed": "outcome changed",
           "no_change": "No entity changes outcome.", "impact_over": "The impact is computed over the last upload:",
           "impact_none": "No data uploaded yet: choose a data file here to see the impact.", "checked": "Check", "deciding": "Deciding…", "scores": "Scores and ranking", "place": "place", "award": "award", "score_note": "= after a place: tied; *: provisional (an entity of the group lacks data). Open a name for each points value with its steps.", "what_it_takes": "What it would take (verified changes)",
           "valid": "No problems found.", "saved": "Saved, version", "commit": "commit"},
}


def e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
    return asked if asked in WORDS else "zh"


def label(value: Any, lang: str) -> str:
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("zh") or value.get("en") or "")
    return "" if value is None else str(value)


def page(request: Request, title: str, body: str, status: int = 200, refresh: int | None = None,
         script: str | None = None) -> HTMLResponse:
    """A whole page: header (nav, language switch), the body; sets the language and form-token cookies."""
    lang = lang_of(request)
    w = WORDS[lang]
    other = "en" if lang == "zh" else "zh"
    query = {k: v for k, v in request.query_params.items() if k != "token"}  # the cookie keeps it; no link shows it
    query["lang"] = other
    switch = f"{request.url.path}?{urlencode(query)}"
    text = (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            f"script-src 'self'; connect-src 'self'; form-action 'self'; img-src data:\">"
            + (f'<meta http-equiv="refresh" content="{refresh}">' if refresh else "") +
            f"<title>{e(title)} — {e(w['app'])}</title><style>{CSS}</style></head><body>"
            f'<header><strong>{e(w["app"])}</strong><a href="/">{e(w["packs"])}</a><a href="/decide">{e(w["decide"])}</a>'
            + (f'<span class="user" id="user">{e(w["user"])}: {e(request.scope[USER_KEY])}</span>'
               if request.scope.get(USER_KEY) else "")
            + f'<a class="lang" href="{e(switch)}" hreflang="{other}">{e(w["switch"])}</a></header>'
            f"<main><h1>{e(title)}</h1>{body}</main>"
            + (f'<script src="{e(script)}"></script>' if script else "") + "</body></html>")
    response = HTMLResponse(text, status_code=status)
    response.set_cookie(LANG_COOKIE, lang, samesite="lax")
    if not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, _csrf(request), httponly=True, samesite="strict")
    return response


def _csrf(request: Request) -> str:
    if not hasattr(request.state, "csrf"):
        request.state.csrf = csrf_token(request)
    return str(request.state.csrf)


def _csrf_field(request: Request) -> str:
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{e(_csrf(request))}">'


def problems_html(problems: Iterable[Problem], lang: str) -> str:
    out = []
    for p in problems:
        first, _, rest = p.text(lang).partition("\n")
        detail = f"<pre>{e(rest)}</pre>" if rest else ""
        out.append(f'<div class="problem {e(p.severity)}"><b>{e(p.code)}</b> {e(p.file)}:{p.line}:{p.col} — {e(first)}{detail}</div>')
    return "".join(out)


def refused_page(request: Request, refused: Refused) -> Response:
    lang = lang_of(request)
    _csrf(request)
    return page(request, WORDS[lang]["refused_h"], problems_html(refused.problems, lang), refused.status)


def _bench(request: Request) -> Any:
    return request.app.state.workbench


def _entry(request: Request, ident: str) -> PackEntry:
    entry = _bench(request).catalog.get(ident)
    if entry is None:
        raise refuse(404, "E233", f"no pack with id {ident[:80]!r} is served here", f"没有编号为 {ident[:80]!r} 的规则包")
    return entry


# ---------------------------------------------------------------------------------------------
# Packs


async def packs_page(request: Request) -> Response:
    lang = lang_of(request)
    _csrf(request)
    w = WORDS[lang]
    rows = "".join(
        f'<tr><td><a href="/packs/{e(p.id)}">{e(label(p.title, lang) or p.id)}</a></td><td>{e(p.id)}</td>'
        f"<td>{e(p.version)}</td><td>{e(p.entity)}</td><td>{e(p.effective)}</td><td>{p.format}</td></tr>"
        for p in _bench(request).catalog.entries())
    table = (f'<div class="scroll"><table><thead><tr><th>{e(w["title"])}</th><th>{e(w["id"])}</th><th>{e(w["version"])}</th>'
             f'<th>{e(w["entity"])}</th><th>{e(w["effective"])}</th><th>{e(w["format"])}</th></tr></thead>'
             f"<tbody>{rows}</tbody></table></div>")
    return page(request, w["packs"], table)


def _criteria_html(node: Any, lang: str, depth: int = 0) -> str:
    """A criteria tree as written (format 1's root node, or format 2's map of named criteria)."""
    if depth > 12:
        return ""
    if isinstance(node, dict) and "id" not in node and depth == 0 and all(isinstance(v, dict) for v in node.values()):
        return '<ul class="tree">' + "".join(
            f"<li><b>{e(name)}</b>{_criteria_html(spec, lang, depth + 1)}</li>" for name, spec in node.items()) + "</ul>"
    if not isinstance(node, dict):
        return ""
    parts = []
    title = label(node.get("title"), lang)
    head = " ".join(x for x in (f"<b>{e(title)}</b>" if title else "", f'<span class="meta">{e(node.get("cite"))}</span>'
                                if node.get("cite") else "") if x)
    if head:
        parts.append(head)
    test = node.get("test")
    if isinstance(test, dict):
        parts.append(f'<span class="meta"> — {e(", ".join(f"{k}: {v}" for k, v in test.items()))}</span>')
    children = []
    for key in ("all", "any", "at_least", "cases"):
        items = node.get(key)
        if isinstance(items, dict):
            items = items.get("of")
        if isinstance(items, list):
            children += [f"<li>{_criteria_html(child.get('then', child) if isinstance(child, dict) else child, lang, depth + 1)}</li>"
                         for child in items]
    if isinstance(node.get("not"), dict):
        children.append(f"<li>not: {_criteria_html(node['not'], lang, depth + 1)}</li>")
    body = " ".join(parts)
    return body + (f'<ul class="tree">{"".join(children)}</ul>' if children else "")


async def pack_page(request: Request) -> Response:
    lang = lang_of(request)
    _csrf(request)
    w = WORDS[lang]
    entry = _entry(request, request.path_params["pack_id"])
    as_of = dt.date.today()
    try:
        pack = await run_in_threadpool(compiled, _bench(request).catalog, entry, as_of, {})
        trouble: list[Problem] = []
    except ProblemsError as error:
        pack, trouble = None, error.problems
    detail = pack_detail(entry, pack)
    source = detail.get("source") or {}
    out = [f'<p class="meta">{e(entry.id)} · {e(w["version"])} {e(entry.version)} · sha256 {e(entry.sha256[:12])} · '
           f'{e(w["effective"])} {e(entry.effective or "—")}</p>']
    if isinstance(source, dict) and source:
        out.append(f'<p class="meta">{e(w["source"])}: {e(" · ".join(str(source[k]) for k in ("title", "number", "date") if source.get(k)))}</p>')
    out.append(problems_html(trouble, lang))
    if request.query_params.get("saved"):
        commit = request.query_params.get("commit")
        out.append(f'<p class="card pass" id="saved">{e(w["saved"])} {e(request.query_params["saved"])}'
                   + (f' · {e(w["commit"])} {e(commit)}' if commit else "") + "</p>")
    out.append(f'<p><a href="/decide?pack={e(entry.id)}">{e(w["decide_with"])} →</a></p>')
    rows = []
    for p in detail["parameters"]:
        value = p["value"] if p["value"] not in (None, "") else f'{w["unset"]}: {p.get("unset") or ""}'
        since = f' <span class="meta">({e(w["since"])} {e(p["since"])})</span>' if p.get("since") else ""
        edit = (f' <a class="edit" href="/packs/{e(entry.id)}/edit?{urlencode({"param": p["name"]})}">{e(w["edit"])}</a>'
                if p.get("editable") else "")
        rows.append(f'<tr id="param-{e(p["name"])}"><td>{e(label(p["label"], lang) or p["name"])}<div class="meta">{e(p["name"])}</div></td>'
                    f'<td>{e(value)}{since}{edit}</td><td>{e(p["cite"])}</td>'
                    f'<td>{"<blockquote>" + e(p["quote"]) + "</blockquote>" if p.get("quote") else ""}</td></tr>')
    out.append(f'<h2>{e(w["parameters"])}</h2><div class="scroll"><table><thead><tr><th>{e(w["name"])}</th><th>{e(w["value"])}</th>'
               f'<th>{e(w["cite"])}</th><th>{e(w["quote"])}</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>')
    if detail["choices"]:
        rows = []
        for c in detail["choices"]:
            options = c["options"] if isinstance(c["options"], dict) else {}
            shown = "<br>".join(f"{e(k)}: {e(label(v, lang))}" for k, v in options.items())
            edit = f' <a class="edit" href="/packs/{e(entry.id)}/edit?{urlencode({"choice": c["name"]})}">{e(w["edit"])}</a>'
            rows.append(f'<tr id="choice-{e(c["name"])}"><td>{e(label(c["label"], lang) or c["name"])}</td><td>{shown}</td><td>{e(c["default"])}{edit}</td>'
                        f'<td>{e(c["cite"])}</td><td>{e(c["reason"])}</td></tr>')
        out.append(f'<h2>{e(w["choices"])}</h2><div class="scroll"><table><thead><tr><th>{e(w["name"])}</th><th>{e(w["options"])}</th>'
                   f'<th>{e(w["default"])}</th><th>{e(w["cite"])}</th><th>{e(w["reason"])}</th></tr></thead>'
                   f'<tbody>{"".join(rows)}</tbody></table></div>')
    out.append(f'<h2>{e(w["criteria"])}</h2><div class="card">{_criteria_html(detail["criteria"], lang)}</div>')
    return page(request, label(entry.title, lang) or entry.id, "".join(out))


# ---------------------------------------------------------------------------------------------
# Decide: upload -> table -> explanation -> download


async def decide_form(request: Request) -> Response:
    lang = lang_of(request)
    w = WORDS[lang]
    chosen = request.query_params.get("pack", "")
    options = "".join(f'<option value="{e(p.id)}"{" selected" if p.id == chosen else ""}>{e(label(p.title, lang) or p.id)}</option>'
                      for p in _bench(request).catalog.entries())
    form = (f'<form class="card" method="post" action="/decide" enctype="multipart/form-data">{_csrf_field(request)}'
            f'<label for="pack">{e(w["pack"])}</label><select id="pack" name="pack">{options}</select>'
            f'<label for="as_of">{e(w["as_of"])}</label><input id="as_of" name="as_of" type="date" required '
            f'value="{dt.date.today().isoformat()}">'
            f'<label for="data">{e(w["data"])}</label><input id="data" name="data" type="file" required '
            f'accept=".xlsx,.xls,.csv,.json,.yaml,.yml">'
            f'<div><button type="submit">{e(w["submit"])}</button></div></form>')
    return page(request, w["decide"], form)


async def decide_post(request: Request) -> Response:
    bench = _bench(request)
    await read_body(request, bench.limits.max_body)
    form = await request.form(max_files=1, max_fields=10)
    submitted = form.get(CSRF_FIELD)
    if not csrf_ok(request, submitted if isinstance(submitted, str) else None):
        raise cross_site()
    entry = _entry(request, str(form.get("pack") or ""))
    upload = form.get("data")
    if upload is None or isinstance(upload, str):
        raise refuse(400, "E235", "choose a data file to upload", "请选择要上传的数据文件")
    data = await upload.read()
    as_of = as_of_date(form.get("as_of") or None)
    name = data_name(upload.filename or "", data[:4096])
    # decided in the background (the API's own steps: the same reading, limits and log); the batch's
    # page shows the rows decided so far until it is done
    job = Job(entry=entry, data_name=name)
    ident = secrets.token_urlsafe(12)
    _remember(bench, ident, job)

    def work() -> None:
        try:
            chain = _chain_or_none(entry) if bench.store is not None else []
            job.batch = run_decide(request, entry, data, name, as_of, {}, bench.who(request), True, job.counts)
            if bench.store is not None and chain and chain[0]["sha256"] == entry.sha256:
                _keep(bench, ident, job.batch, chain)
        except Refused as refused:
            job.refused = refused
        except Exception:  # noqa: BLE001 - shown as E239, never a trace; the trace goes to the log
            log.exception("deciding %s failed", name)
            job.refused = Refused(500, [problem("E239", "the server could not decide this batch (the server's log has the details)",
                                                "服务器未能判定这批数据（详情见服务器日志）")])
        finally:
            job.done.set()

    threading.Thread(target=work, name=f"decide-{ident}", daemon=True).start()
    await run_in_threadpool(job.done.wait, WAIT_BEFORE_PROGRESS)  # a small batch goes straight to its table
    return RedirectResponse(f"/batches/{ident}", status_code=303)


@dataclass
class Job:
    """A batch being decided for the pages: its live row counts, then the batch or why it was refused."""

    entry: PackEntry
    data_name: str
    counts: RowCounts = field(default_factory=RowCounts)
    done: threading.Event = field(default_factory=threading.Event)
    batch: Batch | None = None
    refused: Refused | None = None
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))


def _remember(bench: Any, ident: str, job: Job) -> None:
    bench.batches[ident] = job
    while len(bench.batches) > BATCHES_KEPT:
        bench.batches.pop(next(iter(bench.batches)))


def _chain_or_none(entry: PackEntry) -> list[dict[str, str]]:
    """The pack's files to keep with its batch; none (the batch is kept in memory only) if they
    cannot be read: keeping a batch never stops it being decided."""
    try:
        return pack_chain(entry.path)
    except (OSError, UnicodeDecodeError):
        log.exception("reading %s to keep its batch failed", entry.file)
        return []


def _keep(bench: Any, ident: str, batch: Batch, chain: list[dict[str, str]]) -> None:
    """Keep a decided batch in the data folder (engine/web/store.py), so it survives a restart."""
    folder = os.path.dirname(batch.entry.path)
    kept = Kept(id=ident, created=dt.datetime.now(dt.timezone.utc), pack_id=batch.entry.id, pack_file=batch.entry.file,
                pack_sha256=batch.entry.sha256, pack_files=chain, as_of=batch.as_of,
                overrides={k: v for k, v in batch.overrides.items()}, data_name=batch.data_name, what_it_takes=True,
                document_sha256=document_sha256(batch.document, [folder]),
                size=len(batch.data) + sum(len(f["text"].encode("utf-8")) for f in chain))
    try:
        bench.store.keep(kept, batch.data)
    except OSError:  # the page still has it in memory; only a restart loses it
        log.exception("keeping batch %s in %s failed", ident, bench.store.folder)


def _restore(bench: Any, ident: str) -> Job | None:
    """A batch kept in the data folder, decided again in the background from what was kept (the
    pack as served if its files are unchanged, else the kept text in a private folder); refused
    with E245 if it does not come out as the officer was shown it. Not logged again."""
    found = bench.store.get(ident) if bench.store is not None else None
    if found is None:
        return None
    kept, data = found
    served = bench.catalog.get(kept.pack_id)
    unchanged = served is not None and served.file == kept.pack_file and [
        (f["name"], f["sha256"]) for f in _chain_or_none(served)] == [(f["name"], f["sha256"]) for f in kept.pack_files]
    job = Job(entry=served if served is not None else _kept_entry(kept), data_name=kept.data_name)
    job.created = kept.created

    def work() -> None:
        folder = None
        try:
            catalog, entry = bench.catalog, served
            if not unchanged:
                folder = tempfile.mkdtemp(prefix="certify-kept-")
                for item in kept.pack_files:
                    with open(os.path.join(folder, os.path.basename(item["name"])), "w", encoding="utf-8",
                              newline="") as handle:
                        handle.write(item["text"])
                catalog = Catalog(folder)
                entry = catalog.get(kept.pack_id)
            if entry is None:
                raise _not_again(kept, "the kept pack text cannot be read", "保存的规则包文本无法读取")
            overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in kept.overrides.items()}
            batch = decide(catalog, entry, data, kept.data_name, kept.as_of, overrides, bench.limits.max_rows,
                           kept.what_it_takes, counts=job.counts)
            if document_sha256(batch.document, [os.path.dirname(entry.path)]) != kept.document_sha256:
                raise _not_again(kept, "decided again it does not come out as it was shown (another engine version?)",
                                 "重新判定的结果与当时显示的不同（引擎版本已更新？）")
            job.batch = batch
        except ProblemsError as error:
            job.refused = _not_again(kept, "its pack no longer compiles: " + (error.problems[0].message if error.problems else ""),
                                     "其规则包已无法编译：" + (error.problems[0].message_zh if error.problems else ""))
        except Refused as refused:
            job.refused = refused
        except Exception:  # noqa: BLE001 - shown as E239, never a trace; the trace goes to the log
            log.exception("restoring batch %s failed", ident)
            job.refused = Refused(500, [problem("E239", "the server could not restore this batch (the server's log has the details)",
                                                "服务器未能恢复这批数据（详情见服务器日志）")])
        finally:
            if folder is not None:
                for name in os.listdir(folder):
                    os.remove(os.path.join(folder, name))
                os.rmdir(folder)
            job.done.set()

    threading.Thread(target=work, name=f"restore-{ident}", daemon=True).start()
    return job


def _kept_entry(kept: Kept) -> PackEntry:
    """What the pages show of a kept batch's pack while it is decided again (the pack is no longer served)."""
    return PackEntry(id=kept.pack_id, version="", format=0, title={}, entity="", kind="", file=kept.pack_file,
                     path=kept.pack_file, sha256=kept.pack_sha256, effective="")


def _not_again(kept: Kept, en: str, zh: str) -> Refused:
    return refuse(409, "E245", f"batch {kept.data_name} ({kept.pack_id}, kept {kept.created:%Y-%m-%d %H:%M} UTC) cannot be "
                  f"shown again: {en}; upload the data again", f"批次 {kept.data_name}（{kept.pack_id}，保存于 "
                  f"{kept.created:%Y-%m-%d %H:%M} UTC）无法再次显示：{zh}；请重新上传数据")


def progress_page(request: Request, job: Job) -> Response:
    lang = lang_of(request)
    w = WORDS[lang]
    counts = job.counts
    body = (f'<p class="meta">{e(label(job.entry.title, lang))} · {e(job.data_name)}</p>'
            f'<p><progress id="progress" aria-label="{e(w["deciding"])}"></progress></p>'
            f'<p id="progress-counts">{counts.read} {e(w["read"])}, {counts.decided} {e(w["decided"])}, '
            f'{counts.refused} {e(w["refused"])}</p>')
    response = page(request, w["deciding"], body, refresh=1)
    return response


class _Pending(Exception):
    def __init__(self, job: Job):
        self.job = job


async def _batch(request: Request) -> Batch:
    """The batch the URL names: in memory, or kept in the data folder (decided again, once, after a
    restart). Raises _Pending while it is being decided (each page then shows the progress)."""
    bench = _bench(request)
    ident = request.path_params["batch_id"]
    job = bench.batches.get(ident)
    if job is None and BATCH_ID.match(ident):
        with bench.restoring:
            job = bench.batches.get(ident)
            if job is None:
                job = _restore(bench, ident)
                if job is not None:
                    _remember(bench, ident, job)
        if job is not None:
            await run_in_threadpool(job.done.wait, WAIT_BEFORE_PROGRESS)
    if job is None:
        raise refuse(404, "E233", WORDS["en"]["no_batch"], WORDS["zh"]["no_batch"])
    if not job.done.is_set():
        raise _Pending(job)
    if job.refused is not None:
        raise job.refused
    assert job.batch is not None
    return job.batch


def rows_of(batch: Batch, lang: str) -> list[dict[str, Any]]:
    """One row per decision: index, id, name, outcome, the headline reason."""
    out = []
    for index, (record, doc) in enumerate(zip(batch.records, batch.document["decisions"])):
        if batch.format == 2:
            ident, name, outcome = record.entity_id, record.entity_name, doc.get("outcome")
        else:
            ident, name, outcome = doc["entity"]["id"], doc["entity"].get("name"), doc["outcome"]
        why = doc.get("headline")
        out.append({"index": index, "id": ident, "name": name or "", "outcome": outcome or "",
                    "why": label(why, lang) if isinstance(why, dict) else (why or "")})
    return out


async def batch_page(request: Request) -> Response:
    lang = lang_of(request)
    _csrf(request)
    w = WORDS[lang]
    try:
        batch = await _batch(request)
    except _Pending as pending:
        return progress_page(request, pending.job)
    ident = request.path_params["batch_id"]
    rows = rows_of(batch, lang)
    wanted = request.query_params.get("outcome", "")
    query = request.query_params.get("q", "").strip()
    sort = request.query_params.get("sort", "")
    if wanted:
        rows = [r for r in rows if r["outcome"] == wanted]
    if query:
        rows = [r for r in rows if query.lower() in (r["name"] + " " + r["id"]).lower()]
    if sort in ("id", "name", "outcome"):
        rows.sort(key=lambda r: (r[sort], r["index"]))
    counts = batch.document["counts"]
    base = f"/batches/{ident}"
    filters = " ".join(
        f'<a href="{base}?{urlencode({"outcome": o, "q": query, "sort": sort})}"'
        f'{" aria-current=page" if o == wanted else ""}>{e(w[o] if o else w["all"])}'
        f'{" (" + str(counts.get(o, 0)) + ")" if o else ""}</a>' for o in ("", "pass", "fail", "undetermined"))
    search = (f'<form method="get" action="{base}"><input type="hidden" name="outcome" value="{e(wanted)}">'
              f'<input name="q" value="{e(query)}" placeholder="{e(w["search"])}" aria-label="{e(w["search"])}"> '
              f'<button type="submit">{e(w["find"])}</button></form>')

    def head(key: str) -> str:
        return f'<th><a href="{base}?{urlencode({"outcome": wanted, "q": query, "sort": key})}">{e(w[key])}</a></th>'

    body = "".join(
        f'<tr data-outcome="{e(r["outcome"])}"><td>{e(r["id"])}</td><td><a href="{base}/entities/{r["index"]}">{e(r["name"] or r["id"])}</a></td>'
        f'<td class="{e(r["outcome"])}">{e(w.get(r["outcome"], r["outcome"]))}</td><td>{e(r["why"])}</td></tr>' for r in rows)
    table = (f'<div class="scroll"><table id="decisions"><thead><tr>{head("id")}{head("name")}{head("outcome")}'
             f'<th>{e(w["why"])}</th></tr></thead><tbody>{body}</tbody></table></div>')
    meta = (f'<p class="meta">{e(label(batch.entry.title, lang))} · {e(w["as_of"])} {batch.as_of.isoformat()} · '
            f'{e(batch.data_name)} · {counts.get("read", 0)} {e(w["read"])}, {counts.get("decided", 0)} {e(w["decided"])}, '
            f'{counts.get("refused", 0)} {e(w["refused"])}</p>')
    if isinstance(batch.pack, Pack2) and score_plan(batch.pack).total is not None:
        meta += f'<p><a id="scores" href="{base}/scores">{e(w["scores"])} →</a></p>'
    downloads = (f'<p>{e(w["download"])}: <a href="{base}/download.xlsx">XLSX</a> · <a href="{base}/download.html">HTML</a> · '
                 f'<a href="{base}/download.json">JSON</a></p>')
    problems = (f'<h2>{e(w["problems"])}</h2>{problems_html(batch.problems, lang)}' if batch.problems else "")
    return page(request, w["decide"], meta + f'<p class="filters">{filters}</p>' + search + table + downloads + problems)


def report_html(batch: Batch, records: list[Any], lang: str) -> str:
    """The report page of `certify report` for these records (the same record and view)."""
    out = io.StringIO()
    if batch.format == 2:
        render_html2(records, batch.pack, out, lang, batch.problems)
    else:
        meta = batch.pack.meta
        render_html(records, out, lang, meta.title, dict(meta.source), None, batch.problems)
    return out.getvalue()


async def entity_page(request: Request) -> Response:
    lang = lang_of(request)
    try:
        batch = await _batch(request)
    except _Pending as pending:
        return progress_page(request, pending.job)
    try:
        record = batch.records[int(request.path_params["index"])]
    except (ValueError, IndexError):
        raise refuse(404, "E233", "no such entity in this batch", "该批次中没有此对象")
    text = report_html(batch, [record], lang)
    back = f'/batches/{request.path_params["batch_id"]}'
    nav = f'<p style="margin:.5rem 1rem"><a href="{e(back)}">← {e(WORDS[lang]["back"])}</a></p>'
    text = text.replace("<body>\n", "<body>\n" + nav, 1)
    if batch.format == 2 and record.entity_id in batch.suggestions:
        text = text.replace("</body>", _suggestions_html(batch.suggestions[record.entity_id], lang) + "</body>", 1)
    return HTMLResponse(text)


def _suggestions_html(found: dict[str, Any], lang: str) -> str:
    """What it would take (engine.explain.whatif2): each verified option in words."""
    w = WORDS[lang]
    options = [f"<li>{e(describe(option, lang))}</li>" for option in found.get("options", [])]
    note = f'<p class="meta">{e(label(found.get("note"), lang))}</p>' if found.get("note") else ""
    listed = f'<ol>{"".join(options)}</ol>' if options else ""
    return f'<section id="what-it-takes" style="margin:1rem"><h2>{e(w["what_it_takes"])}</h2>{listed}{note}</section>'



async def download(request: Request) -> Response:
    lang = lang_of(request)
    try:
        batch = await _batch(request)
    except _Pending as pending:
        return progress_page(request, pending.job)
    kind = request.path_params["kind"]
    stem = os.path.splitext(batch.data_name)[0] + f"-{batch.entry.id}"
    if kind == "json":
        response: Response = JSONResponse(batch.document)
    elif kind == "html":
        response = HTMLResponse(report_html(batch, batch.records, lang))
    elif kind == "xlsx":
        data = await run_in_threadpool(_xlsx, batch, lang)
        response = Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    else:
        raise refuse(404, "E233", "downloads are .xlsx, .html or .json", "可下载 .xlsx、.html 或 .json")
    # RFC 6266: an ASCII name for old clients, the real (often Chinese) name as UTF-8
    fallback = stem.encode("ascii", "replace").decode("ascii").replace("?", "_")
    response.headers["content-disposition"] = (f'attachment; filename="{fallback}.{kind}"; '
                                               f"filename*=UTF-8''{quote(stem)}.{kind}")
    return response


def _xlsx(batch: Batch, lang: str) -> bytes:
    folder = tempfile.mkdtemp(prefix="certify-xlsx-")
    path = os.path.join(folder, "out.xlsx")
    try:
        if isinstance(batch.pack, Pack2):
            write_xlsx2(batch.records, batch.pack, path, lang)
        else:
            write_report("xlsx", batch.records, path, batch.pack, lang, batch.problems)
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)


# ---------------------------------------------------------------------------------------------
# Edit a parameter (or a choice's default): check -> impact -> save


def _edit_target(request: Request, form: Any = None) -> tuple[str, str]:
    source = form if form is not None else request.query_params
    if source.get("choice"):
        return "choices", str(source.get("choice"))
    return "parameters", str(source.get("param") or "")


@dataclass
class Latest:
    """The last data uploaded for a pack: the impact of an edit is shown over it."""

    data: bytes
    data_name: str
    as_of: dt.date
    created: dt.datetime


def _latest_batch(request: Request, entry: PackEntry) -> Latest | None:
    """The newest batch decided with this pack, in memory or kept in the data folder."""
    bench = _bench(request)
    found: Latest | None = None
    for job in reversed(list(bench.batches.values())):
        batch = job.batch
        if batch is not None and batch.entry.id == entry.id and batch.data:
            found = Latest(batch.data, batch.data_name, batch.as_of, job.created)
            break
    kept = bench.store.latest_for(entry.id) if bench.store is not None else None
    if kept is not None and (found is None or kept[0].created > found.created):
        found = Latest(kept[1], kept[0].data_name, kept[0].as_of, kept[0].created)
    return found


def _edit_form(request: Request, entry: PackEntry, section: str, name: str, current: str, opened: str,
               typed: str, as_of: str, lang: str) -> str:
    w = WORDS[lang]
    which = "choice" if section == "choices" else "param"
    # data-*: what the script asks the validate API about while the value is typed (engine/web/script.py)
    return (f'<form class="card" method="post" action="/packs/{e(entry.id)}/edit" enctype="multipart/form-data" '
            f'data-pack="{e(entry.id)}" data-which="{which}" data-name="{e(name)}">'
            f'{_csrf_field(request)}<input type="hidden" name="{which}" value="{e(name)}">'
            f'<input type="hidden" name="sha256" value="{e(opened)}">'
            f'<p class="meta">{e(w["current"])}: <b>{e(current)}</b></p>'
            f'<label for="value">{e(w["new_value"])}</label><input id="value" name="value" value="{e(typed)}" required '
            f'autocomplete="off" aria-describedby="live-check">'
            f'<output id="live-check" for="value" aria-live="polite" data-state="" data-valid="{e(w["valid"])}" '
            f'data-checking="{e(w["checking"])}" data-failed="{e(w["check_failed"])}"></output>'
            f'<label for="as_of">{e(w["as_of"])}</label><input id="as_of" name="as_of" type="date" value="{e(as_of)}">'
            f'<label for="data">{e(w["impact_data"])}</label><input id="data" name="data" type="file" '
            f'accept=".xlsx,.xls,.csv,.json,.yaml,.yml">'
            f'<div><button type="submit" name="action" value="check">{e(w["check"])}</button> '
            f'<button type="submit" name="action" value="save">{e(w["save"])}</button></div></form>')


async def edit_page(request: Request) -> Response:
    lang = lang_of(request)
    w = WORDS[lang]
    entry = _entry(request, request.path_params["pack_id"])
    section, name = _edit_target(request)
    with open(entry.path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        probe = edit_text(text, section, name, "0")  # where it is, and that it can be edited
    except EditError as error:
        raise refuse(400, "E235", str(error), error.message_zh)
    current = probe.old_value
    opened = remember(text)
    latest = _latest_batch(request, entry)
    as_of = latest.as_of.isoformat() if latest else dt.date.today().isoformat()
    note = (f'<p class="meta">{e(w["impact_over"])} {e(latest.data_name)}</p>' if latest else
            f'<p class="meta">{e(w["impact_none"])}</p>')
    title = f'{w["edit"]}: {probe.label}' + (f" ({probe.cite})" if probe.cite else "")
    return page(request, title, note + _edit_form(request, entry, section, name, current, opened, current, as_of, lang),
                script=EDIT_JS_PATH)


def _impact_html(result: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    rows = []
    for change in result.get("outcome_changes", []):
        entity = change["entity"]
        causes = "; ".join(
            f'{label(c.get("title"), lang) or c["id"]} ({c.get("cite") or ""}): {why_text(c.get("why", ""), lang)}'
            for c in change.get("criteria", []) if c.get("cause"))
        rows.append(f'<tr class="changed"><td>{e(entity.get("id"))}</td><td>{e(entity.get("name"))}</td>'
                    f'<td>{e(w.get(change["old_outcome"], change["old_outcome"]))} → '
                    f'{e(w.get(change["new_outcome"], change["new_outcome"]))}</td><td>{e(causes)}</td></tr>')
    counts = result.get("counts", {})
    head = (f'<h2>{e(w["impact"])}</h2><p class="meta">{counts.get("entities", 0)} · '
            f'{e(w["changed"])} {counts.get("outcome_changed", len(rows))}</p>')
    if not rows:
        return head + f'<p>{e(w["no_change"])}</p>'
    return head + (f'<div class="scroll"><table id="impact"><thead><tr><th>{e(w["id"])}</th><th>{e(w["name"])}</th>'
                   f'<th>{e(w["outcome"])}</th><th>{e(w["why"])}</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


async def edit_post(request: Request) -> Response:
    lang = lang_of(request)
    w = WORDS[lang]
    bench = _bench(request)
    await read_body(request, bench.limits.max_body)
    form = await request.form(max_files=1, max_fields=20)
    submitted = form.get(CSRF_FIELD)
    if not csrf_ok(request, submitted if isinstance(submitted, str) else None):
        raise cross_site()
    entry = _entry(request, request.path_params["pack_id"])
    section, name = _edit_target(request, form)
    typed = str(form.get("value") or "")
    opened = str(form.get("sha256") or "")
    as_of = as_of_date(form.get("as_of") or dt.date.today().isoformat())
    with open(entry.path, encoding="utf-8") as handle:
        text = handle.read()
    if edit_sha(text) != opened:
        raise _conflict(text, opened)
    try:
        edited = edit_text(text, section, name, typed)
    except EditError as error:
        raise refuse(400, "E235", str(error), error.message_zh)
    problems = await run_in_threadpool(validate_text, edited.text.encode("utf-8"), entry.file, str(bench.catalog.folder))
    errors = [p for p in problems if p.severity == "error"]
    upload = form.get("data")
    data, data_file = b"", ""
    if upload is not None and not isinstance(upload, str):
        data = await upload.read()
        data_file = data_name(upload.filename or "", data[:4096])
    latest = _latest_batch(request, entry)
    if not data and latest is not None:
        data, data_file = latest.data, latest.data_name
    impact = ""
    if data and not errors:
        try:
            result = await run_in_threadpool(diff_text, entry, edited.text.encode("utf-8"), data, as_of, data_file)
            impact = _impact_html(result, lang)
        except Refused as refused:
            impact = problems_html(refused.problems, lang)
    if form.get("action") == "save" and not errors:
        message = (f"{entry.id} {edited.new_version}: {name} {edited.old_value} → {edited.new_value}"
                   + (f" ({edited.cite})" if edited.cite else "") + " — saved in the workbench")
        try:
            commit = await run_in_threadpool(save, entry.path, opened, edited.text, message,
                                             request.scope.get(USER_KEY))
        except Conflict as conflict:
            raise _conflict_from(conflict)
        query = urlencode({"saved": edited.new_version, "commit": commit[:12]})
        return RedirectResponse(f"/packs/{entry.id}?{query}#param-{name}", status_code=303)
    checked = (problems_html(problems, lang) if problems else f'<p class="pass">{e(w["valid"])}</p>')
    body = (f'<h2>{e(w["checked"])}</h2>{checked}{impact}'
            + _edit_form(request, entry, section, name, edited.old_value, opened, typed, as_of.isoformat(), lang))
    title = f'{w["edit"]}: {edited.label}' + (f" ({edited.cite})" if edited.cite else "")
    return page(request, title, body, 422 if errors else 200, script=EDIT_JS_PATH)


def _conflict(current: str, opened: str) -> Refused:
    return _conflict_from(Conflict(edit_sha(current), opened_diff(opened, current)))


def _conflict_from(conflict: Conflict) -> Refused:
    shown = f"\n{conflict.diff}" if conflict.diff else ""
    return refuse(409, "E238", "the pack was saved by someone else since you opened it; nothing was saved. Their change:" + shown,
                  "规则包在您打开之后已被他人保存；本次未保存。对方的修改：" + shown)


# ---------------------------------------------------------------------------------------------
# Scores and rankings (format 2 packs with points): per group, by place; each row opens the
# entity's explanation, where every points value shows the steps Python computed


def _amount(value: Any, lang: str) -> str:
    if value is None:
        return "?"
    if isinstance(value, bool):
        return shown_value(value, None, lang)
    return format_amount(Fraction(value), None, lang)


async def scores_page(request: Request) -> Response:
    lang = lang_of(request)
    w = WORDS[lang]
    try:
        batch = await _batch(request)
    except _Pending as pending:
        return progress_page(request, pending.job)
    if not isinstance(batch.pack, Pack2) or score_plan(batch.pack).total is None:
        raise refuse(404, "E233", "this pack gives no points or ranking", "该规则包不计分、不排名")
    pack = batch.pack
    plan, groups = score_groups(batch.records, pack)
    index = {id(r): i for i, r in enumerate(batch.records)}
    base = f'/batches/{request.path_params["batch_id"]}'
    heads = [w["place"], w["name"], label(pack.values[plan.total].label, lang) or plan.total]
    heads += [label(pack.values[n].label, lang) or n for n in plan.indicators] + [w["award"]]
    out = []
    for key, rows in groups:
        within = pack.inputs.get(plan.within) if plan.within else None
        title = (label(within.values.get(str(key)), lang) if within is not None and within.values and str(key) in within.values
                 else ("" if key is None else str(key)))
        body = []
        for row in rows:
            rec = row["record"]
            place = "—" if row["place"] is None else (f'{row["place"]}{"=" if row["tied_with"] else ""}'
                                                     f'{"*" if row["provisional"] else ""}')
            award = "—" if rec.award is None or rec.award.status == "none" else award_text(rec, lang)
            cells = [place, f'<a href="{base}/entities/{index[id(rec)]}">{e(row["name"] or row["id"])}</a>',
                     e(("≥" if plan.total in row["lower"] else "") + _amount(row["total"], lang))]  # ≥: a lower bound
            cells += [e(("≥" if n in row["lower"] else "") + _amount(row["points"][n], lang)) for n in plan.indicators] + [e(award)]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        out.append((f"<h2>{e(title)}</h2>" if title else "")
                   + '<div class="scroll"><table class="scores"><thead><tr>' + "".join(f"<th>{e(h)}</th>" for h in heads)
                   + f'</tr></thead><tbody>{"".join(body)}</tbody></table></div>')
    note = f'<p class="meta">{e(w["score_note"])}</p>'
    return page(request, w["scores"], note + "".join(out) + f'<p><a href="{base}">← {e(w["back"])}</a></p>')


EDIT_JS_PATH = "/static/edit.js"


async def edit_script(request: Request) -> Response:
    return Response(EDIT_JS, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


ROUTES: list[Route] = [
    Route(EDIT_JS_PATH, edit_script, methods=["GET"]),
    Route("/", packs_page, methods=["GET"]),
    Route("/packs/{pack_id}", pack_page, methods=["GET"]),
    Route("/packs/{pack_id}/edit", edit_page, methods=["GET"]),
    Route("/packs/{pack_id}/edit", edit_post, methods=["POST"]),
    Route("/decide", decide_form, methods=["GET"]),
    Route("/decide", decide_post, methods=["POST"]),
    Route("/batches/{batch_id}", batch_page, methods=["GET"]),
    Route("/batches/{batch_id}/entities/{index}", entity_page, methods=["GET"]),
    Route("/batches/{batch_id}/scores", scores_page, methods=["GET"]),
    Route("/batches/{batch_id}/download.{kind}", download, methods=["GET"]),
]
