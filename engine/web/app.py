"""The Starlette application of `certify serve`, and `serve` itself (uvicorn).

Every request passes one gate (`_gate`): the token when the server has one (E236), the origin of
anything that is not a GET (E237). Refusals anywhere become problem records (`Refused`); any other
exception becomes E239 with no trace in the response (the trace goes to the server's log).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response

from engine.audit.log import DecisionLog, LogError, data_folder, inputs_by_id
from engine.core.problems import Problem, ProblemsError
from engine.web import api, pages
from engine.web.guard import (TOKEN_COOKIE, USER_KEY, Limits, Refused, Users, cross_site, given_token, is_local, problem,
                              problems_response, same_origin, token_ok, unauthorised)
from engine.web.service import Batch, Catalog
from engine.web.store import BatchStore

log = logging.getLogger("certify.web")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def log_decisions(batch: Batch, data_path: str, who: str) -> int:
    """No log (tests of the app that need none): nothing is written."""
    return 0


def decision_logger(log: DecisionLog) -> Callable[[Batch, str, str], int]:
    """Every decision handed out goes to the decision log (engine/audit) with its input as read,
    the overrides and whom it was handed to, before the answer leaves the server. A log that
    refuses the write refuses the request (503): no decision is handed out unlogged."""

    def write(batch: Batch, data_path: str, who: str) -> int:
        if not batch.records:
            return 0
        try:
            return len(log.append_batch(batch.records, inputs_by_id(batch.pack, [data_path]), who=who,
                                        overrides=batch.overrides))
        except LogError as error:
            raise Refused(503, error.problems)

    return write


@dataclass
class Workbench:
    """What the routes share: the pack folder, the limits, the token, the batches kept for the pages."""

    catalog: Catalog
    limits: Limits = field(default_factory=Limits)
    token: str | None = None
    logger: Callable[[Batch, str, str], int] = log_decisions
    batches: dict[str, Any] = field(default_factory=dict)  # pages.Job by id: the batches decided for the pages
    store: BatchStore | None = None  # the batches kept in the data folder (they survive a restart); None: memory only
    logged: int = 0
    restoring: threading.Lock = field(default_factory=threading.Lock)
    users: Users = field(default_factory=Users)  # configured users: each request names one by its token
    _count_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def log_wired(self) -> bool:
        return self.logger is not log_decisions

    def who(self, request: Request) -> str:
        """Who asked, for the log: the configured user the token names, else the client's address."""
        user = request.scope.get(USER_KEY)
        if user:
            return str(user)
        client = request.client
        return f"{client.host}" if client else "unknown"

    def admit(self, request: Request) -> bool:
        """Whether the request may be served; with users configured, it names its user (USER_KEY)."""
        if self.users:
            given = given_token(request)
            name = self.users.who(given)
            if name is not None:
                request.scope[USER_KEY] = name
                return True
            return bool(self.token) and token_ok(request, self.token)  # the shared token still works (who: the address)
        return token_ok(request, self.token)

    def log(self, batch: Batch, data_path: str, who: str) -> None:
        written = self.logger(batch, data_path, who)  # not `self.logged += …`: that reads the count before the slow write
        with self._count_lock:
            self.logged += written


class _Gate(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        bench: Workbench = request.app.state.workbench
        try:
            if not bench.admit(request):
                raise unauthorised()
            if request.method not in SAFE_METHODS and not same_origin(request):
                raise cross_site()
        except Refused as refused:
            return problems_response(refused.status, refused.problems)
        response = await call_next(request)
        if (bench.token or bench.users) and request.query_params.get("token") and not request.url.path.startswith(api.API):
            # a browser opened a page with ?token=: keep it (the server's, or the user's) for the next pages
            response.set_cookie(TOKEN_COOKIE, request.query_params["token"], httponly=True, samesite="strict")
        return response


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    if not request.url.path.startswith(api.API):
        return pages.refused_page(request, exc)
    return problems_response(exc.status, exc.problems)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, a method not allowed) as problem records."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        found = problem("E233", f"nothing here: {request.url.path[:120]} (GET {api.API}/openapi.json lists the API)",
                        f"此地址不存在：{request.url.path[:120]}（GET {api.API}/openapi.json 列出全部接口）")
    else:
        found = problem("E235", f"{request.method} is not accepted here ({exc.status_code})",
                        f"此地址不接受 {request.method} 请求（{exc.status_code}）")
    return await _refused(request, Refused(exc.status_code, [found]))


async def _failed(request: Request, exc: Exception) -> Response:
    log.exception("request failed: %s %s", request.method, request.url.path)
    found: list[Problem] = [problem("E239", "the server could not complete this request; nothing was decided or saved "
                                    "(the server's log has the details)",
                                    "服务器未能完成此请求；未作判定、未保存（详情见服务器日志）")]
    return problems_response(500, found)


def create_app(packs: str = "rules", token: str | None = None, limits: Limits | None = None,
               logger: Callable[[Batch, str, str], int] | None = None, store: BatchStore | None = None,
               users: Users | None = None) -> Starlette:
    app = Starlette(routes=api.ROUTES + pages.ROUTES, middleware=[Middleware(_Gate)],
                    exception_handlers={Refused: _refused, HTTPException: _http_error, Exception: _failed})
    app.state.workbench = Workbench(Catalog(packs), limits or Limits(), token, logger or log_decisions, store=store,
                                    users=users or Users())
    return app


def start_message(host: str, port: int, packs: str, count: int, token: str | None, lang: str = "zh",
                  users: Users | None = None) -> str:
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    names = ", ".join(users.names()) if users else ""
    if is_local(host) and not users:
        return (f"certify serve: {url} （规则包目录 {packs}，{count} 个规则包；仅本机可访问）" if lang == "zh" else
                f"certify serve: {url} (packs: {packs}, {count} pack(s); only this machine can connect)")
    if is_local(host):
        return (f"certify serve: {url} （规则包目录 {packs}，{count} 个规则包；仅本机可访问）\n"
                f"  已配置用户 {names}：每个请求都须带其中一人的令牌（浏览器首次打开 {url}?token=令牌）" if lang == "zh" else
                f"certify serve: {url} (packs: {packs}, {count} pack(s); only this machine can connect)\n"
                f"  users configured ({names}): every request needs one of their tokens (a browser opens {url}?token=TOKEN once)")
    who_zh = f"已配置用户 {names} 之一的令牌" if users else "令牌"
    who_en = f"one of the configured users' tokens ({names})" if users else "the token"
    return (f"certify serve: {url} （规则包目录 {packs}，{count} 个规则包）\n"
            f"  监听 {host}：其他机器可以访问，每个请求都须带{who_zh}（Authorization: Bearer 令牌；浏览器首次打开 {url}?token=令牌）"
            if lang == "zh" else
            f"certify serve: {url} (packs: {packs}, {count} pack(s))\n"
            f"  listening on {host}: other machines can connect; every request needs {who_en} "
            f"(Authorization: Bearer TOKEN; a browser opens {url}?token=TOKEN once)")


def serve(host: str, port: int, packs: str, token: str | None, limits: Limits, lang: str = "zh",
          log_url: str | None = None, data_dir: str | None = None, keep_batches: int = 50,
          batch_days: int = 7, users_file: str | None = None) -> int:
    """Run the server until interrupted. Refuses (exit 2) a non-local address without a token or
    users, and a users file that cannot be read (E246)."""
    users = Users()
    if users_file:
        try:
            users = Users.load(users_file)
        except ProblemsError as error:
            print("\n".join(p.format(lang) for p in error.problems), file=sys.stderr)
            return 2
    if not is_local(host) and not token and not users:
        print("certify serve: 只在 127.0.0.1 上无需令牌；监听其他地址请给出 --token（或环境变量 CERTIFY_TOKEN）"
              "或 --users 用户文件" if lang == "zh" else
              "certify serve: only 127.0.0.1 is served without a token; give --token (or CERTIFY_TOKEN) or --users FILE "
              "to listen on " + host, file=sys.stderr)
        return 2
    folder = data_dir if data_dir is not None else str(data_folder())
    try:
        log = DecisionLog(log_url, data_dir=data_dir)
    except ProblemsError as error:
        print("\n".join(p.format(lang) for p in error.problems), file=sys.stderr)
        return 2
    try:
        store = BatchStore(folder, kept=keep_batches, max_age=dt.timedelta(days=batch_days))
    except OSError as error:
        print(f"certify serve: 数据目录 {folder} 无法使用：{error}" if lang == "zh" else
              f"certify serve: the data folder {folder} cannot be used: {error}", file=sys.stderr)
        return 2
    app = create_app(packs, token, limits, decision_logger(log), store, users)
    count = len(app.state.workbench.catalog.entries())
    print(start_message(host, port, packs, count, token, lang, users), file=sys.stderr, flush=True)
    print(f"  判定日志: {log.shown}" if lang == "zh" else f"  decision log: {log.shown}", file=sys.stderr, flush=True)
    print(f"  批次保存在: {store.folder}（最多 {keep_batches} 批，保留 {batch_days} 天）" if lang == "zh" else
          f"  batches kept in: {store.folder} (at most {keep_batches}, for {batch_days} days)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
    return 0
