"""HTTP API v1 (JSON): list packs, get a pack, decide entities, validate a pack text, diff two
versions of a pack over a data set. Every error is `{"problems": [...]}` (Problem.as_dict: code,
message, message_zh, file, line, col) with an HTTP status; never a stack trace.

Deciding returns exactly the document `certify evaluate --format json` writes for the same pack,
data and date (format 1: certify.evaluation/1; format 2: its own schema), so a client can move
between the command line and the server without a second format.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import tempfile
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine import ENGINE_VERSION
from engine.commands.diff import DiffSourceError
from engine.commands.diff2 import diff_files2
from engine.compile.build2 import check_pack2
from engine.core.problems import Problem, ProblemsError, has_errors
from engine.compile.check import validate_file
from engine.evaluate.pipeline import RowCounts, sniff_format
from engine.web.edit import EditError, edit_text
from engine.web.guard import Refused, parse_json, read_body, refuse
from engine.web.service import (DATA_SUFFIXES, DECIDE_LOCK, Batch, Catalog, PackEntry, TooManyRows, compiled, decide,
                                entities_file, pack_detail, safe_name, write_with_bases)

API = "/api/v1"
MAX_PACK_TEXT = 4 * 1024 * 1024


def _state(request: Request) -> Any:
    return request.app.state.workbench


def _entry(request: Request) -> PackEntry:
    ident = request.path_params["pack_id"]
    entry = _state(request).catalog.get(ident)
    if entry is None:
        raise refuse(404, "E233", f"no pack with id {ident[:80]!r} is served here (GET {API}/packs lists them)",
                     f"没有编号为 {ident[:80]!r} 的规则包（GET {API}/packs 列出全部）")
    return entry


def as_of_date(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise refuse(400, "E235", "as_of is required: the date to decide on, as 2024-06-30",
                     "缺少 as_of：判定所依据的日期，如 2024-06-30")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise refuse(400, "E235", f"as_of {value[:40]!r} is not a date; write it as 2024-06-30",
                     f"as_of {value[:40]!r} 不是日期；请写成 2024-06-30")


def _overrides(value: Any) -> dict[str, tuple[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, (str, int, float)) for v in value.values()):
        raise refuse(400, "E235", "set maps parameter names to values, as {\"manufacturing_output_min\": \"8亿元\"}",
                     "set 应为 参数名: 数值 的映射，如 {\"manufacturing_output_min\": \"8亿元\"}")
    return {str(k): ("set", v if isinstance(v, str) else str(v)) for k, v in value.items()}


def pack_problems(error: ProblemsError, entry: PackEntry) -> Refused:
    """A pack (or an override) with errors: 422 with its problems, file names only."""
    folder = os.path.dirname(entry.path) + os.sep
    return Refused(422, [dataclasses.replace(p, file=p.file.replace(folder, "")) for p in error.problems])


def run_decide(request: Request, entry: PackEntry, data: bytes, name: str, as_of: dt.date,
               overrides: dict[str, tuple[str, Any]], who: str, what_it_takes: bool = False,
               counts: RowCounts | None = None) -> Batch:
    """Decide and log every decision handed out."""
    state = _state(request)
    try:
        batch = decide(state.catalog, entry, data, name, as_of, overrides, state.limits.max_rows, what_it_takes,
                       on_decided=lambda decided, path: state.log(decided, path, who), counts=counts)
    except ProblemsError as error:
        raise pack_problems(error, entry)
    except TooManyRows:
        raise refuse(413, "E234", f"more than {state.limits.max_rows} rows; split the data into smaller files",
                     f"超过 {state.limits.max_rows} 行；请把数据拆成较小的文件")
    return batch


def data_name(filename: str, head: bytes) -> str:
    """The name a data file is read under: the client's (reduced to a plain name) when its suffix
    is one the readers know, else `data.<sniffed format>`."""
    name = safe_name(filename, "")
    if name and os.path.splitext(name)[1].lower() in DATA_SUFFIXES:
        return name
    return f"{os.path.splitext(name)[0] or 'data'}.{sniff_format(head)}"


async def decide_endpoint(request: Request) -> Response:
    """POST /api/v1/packs/{id}/decide — JSON {as_of, entities: [...] | entity: {...}, set: {...}},
    or multipart/form-data with `as_of` and a `data` file (XLSX, CSV, JSON, YAML as the CLI reads)."""
    entry = _entry(request)
    state = _state(request)
    body = await read_body(request, state.limits.max_body)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=20)
        upload = form.get("data")
        if upload is None or isinstance(upload, str):
            raise refuse(400, "E235", "the form needs a file field named data", "表单缺少名为 data 的文件")
        data = await upload.read()
        name = data_name(upload.filename or "", data[:4096])
        as_of = as_of_date(form.get("as_of"))
        overrides: dict[str, tuple[str, Any]] = {}
    elif ctype.startswith("application/json"):
        doc = parse_json(body)
        if not isinstance(doc, dict):
            raise refuse(400, "E235", "the body is a JSON object: {as_of, entities: [...]}",
                         "请求内容应为 JSON 对象：{as_of, entities: [...]}")
        entities = doc.get("entities", [doc["entity"]] if "entity" in doc else None)
        if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
            raise refuse(400, "E235", "entities is a list of objects ({id, name, input: value, …}), or entity one object",
                         "entities 应为对象列表（{id, name, 输入项: 数值, …}），或 entity 为单个对象")
        if len(entities) > state.limits.max_rows:
            raise refuse(413, "E234", f"more than {state.limits.max_rows} entities; send them in smaller batches",
                         f"超过 {state.limits.max_rows} 个对象；请分批发送")
        as_of = as_of_date(doc.get("as_of"))
        overrides = _overrides(doc.get("set"))
        data, name = entities_file(entities), "request.json"
    else:
        raise refuse(415, "E235", "send application/json or multipart/form-data",
                     "请以 application/json 或 multipart/form-data 发送")
    batch = await run_in_threadpool(run_decide, request, entry, data, name, as_of, overrides, state.who(request))
    return JSONResponse(batch.document)


async def list_packs(request: Request) -> Response:
    return JSONResponse({"packs": [e.summary() for e in _state(request).catalog.entries()]})


async def get_pack(request: Request) -> Response:
    """GET /api/v1/packs/{id}?as_of=2024-06-30 — the pack with its parameters' values in force."""
    entry = _entry(request)
    as_of = as_of_date(request.query_params.get("as_of", dt.date.today().isoformat()))
    try:
        pack = await run_in_threadpool(compiled, _state(request).catalog, entry, as_of, {})
    except ProblemsError as error:
        raise pack_problems(error, entry)
    return JSONResponse({**pack_detail(entry, pack), "as_of": as_of.isoformat()})


def validate_text(text: bytes, name: str = "pack.yaml", packs: str | None = None) -> list[Problem]:
    """`certify validate` on a pack text (written to a private file; problems name `name`). With
    `packs` (the served folder), the bases its `pack.extends` chain names are copied beside it, so a
    variant is checked with its base as it would be where it is served."""
    folder = tempfile.mkdtemp(prefix="certify-validate-")
    try:
        path = write_with_bases(text, name, folder, packs) if packs else os.path.join(folder, name)
        if not packs:
            with open(path, "wb") as handle:
                handle.write(text)
        doc, _, found = validate_file(path)
        if doc is not None and isinstance(doc.value, dict) and doc.value.get("format") == 2 and not has_errors(found):
            found = check_pack2(doc)
        prefix = folder + os.sep
        return [dataclasses.replace(p, file=p.file.replace(prefix, ""), message=p.message.replace(prefix, ""),
                                    message_zh=p.message_zh.replace(prefix, "")) for p in found]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_value(catalog: Catalog, entry: PackEntry, section: str, name: str, value: str) -> dict[str, Any]:
    """A parameter's value (section "parameters") or a choice's default ("choices") as the edit page
    would save it, checked by `certify validate`: the served file with that one value (and the
    version) changed, validated beside its bases. {valid, problems, line (where the value is)}."""
    with open(entry.path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        edited = edit_text(text, section, name, value)
    except EditError as error:
        # the value cannot even be written there (empty, several lines, no such parameter): a problem
        # at the pack file like any other, so the page shows it in the same place
        return {"valid": False, "line": None, "problems": [Problem(entry.file, 1, 1, "E235", str(error),
                                                                   message_zh=error.message_zh).as_dict()]}
    problems = validate_text(edited.text.encode("utf-8"), entry.file, str(catalog.folder))
    return {"valid": not has_errors(problems), "line": edited.line, "problems": [p.as_dict() for p in sorted(problems)]}


async def validate_endpoint(request: Request) -> Response:
    """POST /api/v1/validate — a pack text as the body (YAML); or JSON {"text": "...", "pack": id?}
    (with `pack`, the text is checked as that served pack's new version, beside its bases); or JSON
    {"pack": id, "param": name | "choice": name, "value": "8亿元"}: the served pack with that one
    value changed, as the edit page checks a value while it is typed."""
    body = await read_body(request, MAX_PACK_TEXT)
    state = _state(request)
    packs: str | None = None
    name = "pack.yaml"
    if request.headers.get("content-type", "").startswith("application/json"):
        doc = parse_json(body)
        if not isinstance(doc, dict):
            doc = {}
        if doc.get("pack") is not None:
            entry = _named_entry(request, doc.get("pack"))
            packs, name = str(state.catalog.folder), entry.file
            which = "choice" if "choice" in doc else "param"
            if which in doc or "value" in doc:
                target, value = doc.get(which), doc.get("value")
                if not isinstance(target, str) or not isinstance(value, (str, int, float)) or isinstance(value, bool):
                    raise refuse(400, "E235", "the body is {\"pack\": id, \"param\": name (or \"choice\"), \"value\": \"8亿元\"}",
                                 "请求内容应为 {\"pack\": 规则包编号, \"param\": 参数名（或 \"choice\"）, \"value\": \"8亿元\"}")
                section = "choices" if which == "choice" else "parameters"
                return JSONResponse(await run_in_threadpool(check_value, state.catalog, entry, section, target, str(value)))
        if not isinstance(doc.get("text"), str):
            raise refuse(400, "E235", "the body is {\"text\": \"<the pack YAML>\"}", "请求内容应为 {\"text\": \"<规则包 YAML>\"}")
        body = doc["text"].encode("utf-8")
    problems = await run_in_threadpool(validate_text, body, name, packs)
    return JSONResponse({"valid": not has_errors(problems), "problems": [p.as_dict() for p in sorted(problems)]})


def _named_entry(request: Request, ident: Any) -> PackEntry:
    entry = _state(request).catalog.get(ident) if isinstance(ident, str) else None
    if entry is None:
        shown = str(ident)[:80]
        raise refuse(404, "E233", f"no pack with id {shown!r} is served here (GET {API}/packs lists them)",
                     f"没有编号为 {shown!r} 的规则包（GET {API}/packs 列出全部）")
    return entry


async def diff_endpoint(request: Request) -> Response:
    """POST /api/v1/packs/{id}/diff — JSON {as_of, text: <the new version's YAML>, entities: [...]}:
    `certify diff` of the served version against `text` over the entities."""
    entry = _entry(request)
    state = _state(request)
    doc = parse_json(await read_body(request, state.limits.max_body))
    if not isinstance(doc, dict) or not isinstance(doc.get("text"), str) or not isinstance(doc.get("entities"), list):
        raise refuse(400, "E235", "the body is {as_of, text: <the new pack YAML>, entities: [...]}",
                     "请求内容应为 {as_of, text: <新版规则包 YAML>, entities: [...]}")
    as_of = as_of_date(doc.get("as_of"))
    return JSONResponse(await run_in_threadpool(diff_text, entry, doc["text"].encode("utf-8"),
                                                entities_file(doc["entities"]), as_of))


def diff_text(entry: PackEntry, new_text: bytes, data: bytes, as_of: dt.date, name: str = "request.json") -> dict[str, Any]:
    """`certify diff` of the served pack against a new text over a data file's bytes (`name`: its
    file name, whose suffix says how it is read)."""
    folder = tempfile.mkdtemp(prefix="certify-diff-")
    try:
        # The new version under the old one's name in a private folder, with the bases its
        # pack.extends chain names copied beside it (a variant is diffed with its base)
        new_path = write_with_bases(new_text, entry.file, folder, os.path.dirname(entry.path))
        data_path = os.path.join(folder, "data", safe_name(name, "request.json"))
        os.mkdir(os.path.dirname(data_path))
        with open(data_path, "wb") as handle:
            handle.write(data)
        try:
            with DECIDE_LOCK:  # durable-rules decides both versions: one thread at a time
                result = diff_files2(entry.path, new_path, [data_path], as_of)
        except DiffSourceError as error:
            raise refuse(400, error.code or "E235", str(error), error.message_zh)
        except ProblemsError as error:
            prefix = folder + os.sep
            raise Refused(422, [dataclasses.replace(p, file=p.file.replace(prefix, "new:").replace(
                os.path.dirname(entry.path) + os.sep, "")) for p in error.problems])
        text = _json_replace(result, {os.path.dirname(data_path) + os.sep: "", folder + os.sep: "",
                                      os.path.dirname(entry.path) + os.sep: ""})
        return text
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _json_replace(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in replacements.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _json_replace(v, replacements) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_replace(v, replacements) for v in value]
    return value


async def health(request: Request) -> Response:
    """Liveness, the engine version, and the decision-log rows this server has written (None
    while the log is not wired)."""
    bench = _state(request)
    return JSONResponse({"status": "ok", "engine_version": ENGINE_VERSION,
                         "logged": bench.logged if bench.log_wired else None})


async def openapi(request: Request) -> Response:
    return JSONResponse(OPENAPI)


_PROBLEMS = {"description": "problem records", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problems"}}}}
_ERRORS = {str(s): _PROBLEMS for s in (400, 401, 403, 404, 413, 415, 422)}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "certify workbench API", "version": "1", "description":
             "Decide entities with rules-as-code policy packs. Errors are problem records with codes (README code table)."},
    "paths": {
        f"{API}/packs": {"get": {"summary": "List the packs served", "responses": {"200": {"description": "packs"}}}},
        f"{API}/packs/{{pack_id}}": {"get": {
            "summary": "A pack: parameters in force at as_of (default today), choices, criteria",
            "parameters": [{"name": "pack_id", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "as_of", "in": "query", "schema": {"type": "string", "format": "date"}}],
            "responses": {"200": {"description": "the pack"}, **_ERRORS}}},
        f"{API}/packs/{{pack_id}}/decide": {"post": {
            "summary": "Decide one or many entities at an as-of date (the document of certify evaluate --format json)",
            "parameters": [{"name": "pack_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/DecideRequest"}},
                "multipart/form-data": {"schema": {"type": "object", "required": ["as_of", "data"], "properties": {
                    "as_of": {"type": "string", "format": "date"},
                    "data": {"type": "string", "format": "binary", "description": "XLSX, CSV, JSON or YAML"}}}}}},
            "responses": {"200": {"description": "decisions, counts, problems"}, **_ERRORS}}},
        f"{API}/packs/{{pack_id}}/diff": {"post": {
            "summary": "certify diff: the served version against a new text, over entities",
            "parameters": [{"name": "pack_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["as_of", "text", "entities"],
                            "properties": {"as_of": {"type": "string", "format": "date"}, "text": {"type": "string"},
                                           "entities": {"type": "array", "items": {"type": "object"}}}}}}},
            "responses": {"200": {"description": "certify.diff/1"}, **_ERRORS}}},
        f"{API}/validate": {"post": {
            "summary": "certify validate on a pack text, or on a served pack with one value changed",
            "description": "A YAML body, or JSON {text, pack?} (with pack: checked as that served pack's new version, "
                           "beside the bases its pack.extends chain names), or JSON {pack, param | choice, value}: the "
                           "served pack with that parameter's value (or choice's default) changed, as the edit page "
                           "checks a value while it is typed (the answer then also gives the value's line).",
            "requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}},
                                        "application/json": {"schema": {"type": "object", "properties": {
                                            "text": {"type": "string"}, "pack": {"type": "string"},
                                            "param": {"type": "string"}, "choice": {"type": "string"},
                                            "value": {"type": "string"}}}}}},
            "responses": {"200": {"description": "{valid, problems, line?}"}, **_ERRORS}}},
        f"{API}/health": {"get": {"summary": "Liveness and engine version", "responses": {"200": {"description": "ok"}}}},
    },
    "components": {
        "securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                      "description": "required when the server listens beyond 127.0.0.1"}},
        "schemas": {
            "DecideRequest": {"type": "object", "required": ["as_of"], "properties": {
                "as_of": {"type": "string", "format": "date"},
                "entities": {"type": "array", "items": {"type": "object"}},
                "entity": {"type": "object"},
                "set": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "parameter overrides, as --set"}}},
            "Problems": {"type": "object", "properties": {"problems": {"type": "array", "items": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "message_zh": {"type": "string"},
                "file": {"type": "string"}, "line": {"type": "integer"}, "col": {"type": "integer"},
                "severity": {"type": "string"}}}}}},
        },
    },
    "security": [{"token": []}, {}],
}

ROUTES: list[Route] = [
    Route(f"{API}/health", health, methods=["GET"]),
    Route(f"{API}/openapi.json", openapi, methods=["GET"]),
    Route(f"{API}/packs", list_packs, methods=["GET"]),
    Route(f"{API}/packs/{{pack_id}}", get_pack, methods=["GET"]),
    Route(f"{API}/packs/{{pack_id}}/decide", decide_endpoint, methods=["POST"]),
    Route(f"{API}/packs/{{pack_id}}/diff", diff_endpoint, methods=["POST"]),
    Route(f"{API}/validate", validate_endpoint, methods=["POST"]),
]
