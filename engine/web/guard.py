"""What the server refuses, and how: every refusal is a problem record with a code (E230-E239),
in English and Chinese, never a stack trace.

Limits. A request body is read at most `max_body` bytes (the Content-Length is checked first, the
stream is cut at the limit either way); a batch decides at most `max_rows` rows; JSON is nested
at most MAX_JSON_DEPTH deep (a deeper document is refused before it is walked).

Who may ask. On 127.0.0.1 (the default) anyone on this machine. On any other address the server
needs a token (`--token` or CERTIFY_TOKEN) and says so at start: API clients send
`Authorization: Bearer TOKEN`; a browser opens any page once with `?token=TOKEN` and keeps it in
an HttpOnly, SameSite=Strict cookie.

Cross-site requests. A browser on another site can post a form to this server (it cannot post
JSON without a CORS preflight, which this server never answers). So: a request that changes
anything and carries an Origin header must come from this server's own origin, and every form the
pages post carries a per-browser token that must equal its cookie (double submit).
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

from engine.core.problems import Problem

MAX_BODY_BYTES = 20 * 1024 * 1024  # an XLSX of a county's firms is well under 1 MiB
MAX_ROWS = 20_000
MAX_JSON_DEPTH = 32  # a decide request is 4 deep ({entities: [{members: [{...}]}]}); 32 is generous
TOKEN_COOKIE = "certify_token"
CSRF_COOKIE = "certify_csrf"
CSRF_FIELD = "csrf"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class Limits:
    max_body: int = MAX_BODY_BYTES
    max_rows: int = MAX_ROWS


class Refused(Exception):
    """A request the server will not serve: the HTTP status and the problems that say why."""

    def __init__(self, status: int, problems: list[Problem]):
        super().__init__(problems[0].message if problems else str(status))
        self.status = status
        self.problems = problems


def problem(code: str, message: str, message_zh: str, where: str = "request") -> Problem:
    return Problem(where, 1, 1, code, message, message_zh=message_zh)


def refuse(status: int, code: str, message: str, message_zh: str) -> Refused:
    return Refused(status, [problem(code, message, message_zh)])


def problems_response(status: int, problems: list[Problem]) -> JSONResponse:
    return JSONResponse({"problems": [p.as_dict() for p in problems]}, status_code=status)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (E230, 413) past `limit` bytes without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # noqa: SLF001 - Starlette's own cache: request.form() then reads this copy
    return body


def too_large(limit: int) -> Refused:
    mib = limit / (1024 * 1024)
    return refuse(413, "E230", f"the request is larger than the server accepts ({mib:g} MiB); split the data into smaller files",
                  f"请求超过服务器允许的大小（{mib:g} MiB）；请把数据拆成较小的文件")


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def too_deep() -> Refused:
    return refuse(400, "E232", f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep",
                  f"JSON 嵌套超过 {MAX_JSON_DEPTH} 层")


def parse_json(body: bytes) -> Any:
    """A JSON request body: malformed is E231, too deep E232 (json's own recursion limit too)."""
    try:
        value = json.loads(body.decode("utf-8"))
    except RecursionError:
        raise too_deep()
    except (UnicodeDecodeError, ValueError) as error:
        raise refuse(400, "E231", f"the request body is not JSON (UTF-8): {str(error)[:200]}",
                     f"请求内容不是 JSON（UTF-8）：{str(error)[:200]}")
    if _depth(value) > MAX_JSON_DEPTH:
        raise too_deep()
    return value


def is_local(host: str) -> bool:
    return host in LOCAL_HOSTS


def token_ok(request: Request, token: str | None) -> bool:
    """Whether the request carries the server's token (always true when it has none)."""
    if not token:
        return True
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(TOKEN_COOKIE, "")
    given = given or request.query_params.get("token", "")
    return hmac.compare_digest(given.encode(), token.encode())


def unauthorised() -> Refused:
    return refuse(401, "E236", "this server needs its token: send Authorization: Bearer TOKEN (a browser: open a page once with ?token=TOKEN)",
                  "此服务需要令牌：请求头 Authorization: Bearer 令牌（浏览器：首次打开页面时加 ?token=令牌）")


def cross_site() -> Refused:
    return refuse(403, "E237", "a request from another site (or a form without this page's check token) is refused; reload the page and try again",
                  "来自其他网站的请求（或缺少本页校验码的表单）已拒绝；请刷新页面后重试")


def same_origin(request: Request) -> bool:
    """A request with an Origin (every browser sends one on a cross-site POST) must be ours."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or a same-origin GET
        return True
    parts = urlsplit(origin)
    return bool(parts.netloc) and parts.netloc == request.headers.get("host", "")


def csrf_token(request: Request) -> str:
    """This browser's form token (its cookie), or a new one the response must set."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def csrf_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and bool(submitted) and hmac.compare_digest(cookie.encode(), str(submitted).encode())
