"""What the server refuses, and how: every refusal is a problem record with a code (E230-E239),
in English and Chinese, never a stack trace.

Limits. A request body is read at most `max_body` bytes (the Content-Length is checked first, the
stream is cut at the limit either way); a batch decides at most `max_rows` rows; JSON is nested
at most MAX_JSON_DEPTH deep (a deeper document is refused before it is walked).

Who may ask. On 127.0.0.1 (the default) anyone on this machine. On any other address the server
needs a token (`--token` or CERTIFY_TOKEN) or configured users (`--users FILE`: each a name and
the sha256 of that person's token), and says so at start: API clients send
`Authorization: Bearer TOKEN`; a browser opens any page once with `?token=TOKEN` and keeps it in
an HttpOnly, SameSite=Strict cookie. With users configured every request needs a user's token (on
127.0.0.1 too): the name is whom each decision is logged as handed to.

Cross-site requests. A browser on another site can post a form to this server (it cannot post
JSON without a CORS preflight, which this server never answers). So: a request that changes
anything and carries an Origin header must come from this server's own origin, and every form the
pages post carries a per-browser token that must equal its cookie (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

from engine.core.problems import Problem, ProblemsError, shown
from engine.load.yamlsafe import load_yaml_file

MAX_BODY_BYTES = 20 * 1024 * 1024  # an XLSX of a county's firms is well under 1 MiB
MAX_ROWS = 20_000
MAX_JSON_DEPTH = 32  # a decide request is 4 deep ({entities: [{members: [{...}]}]}); 32 is generous
TOKEN_COOKIE = "certify_token"
CSRF_COOKIE = "certify_csrf"
CSRF_FIELD = "csrf"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
USER_KEY = "certify.user"  # in a request's scope: the configured user its token names


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


def given_token(request: Request) -> str:
    """The token a request carries: the Authorization header, else the cookie, else ?token=."""
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(TOKEN_COOKIE, "")
    return given or request.query_params.get("token", "")


def token_ok(request: Request, token: str | None) -> bool:
    """Whether the request carries the server's token (always true when it has none)."""
    if not token:
        return True
    return hmac.compare_digest(given_token(request).encode(), token.encode())


USER_NAME = re.compile(r"^[\w.@\-\u4e00-\u9fff]{1,64}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Users:
    """Configured users (`certify serve --users FILE`): each a name and the sha256 of its token.

        users:
          wang.li: {token_sha256: 5e88…}      # printf %s 'the token' | sha256sum
          赵敏: {token_sha256: 2cf2…}

    The file holds no token, only hashes, so it is not itself a secret; a token is compared by its
    hash (hmac.compare_digest over every user, so the time taken does not say which one nearly matched)."""

    by_hash: dict[str, str] = field(default_factory=dict)  # token sha256 -> name

    def __bool__(self) -> bool:
        return bool(self.by_hash)

    def names(self) -> list[str]:
        return sorted(self.by_hash.values())

    def who(self, token: str) -> str | None:
        if not token:
            return None
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest().encode()
        found = None
        for known, name in self.by_hash.items():
            if hmac.compare_digest(known.encode(), digest):
                found = name
        return found

    @classmethod
    def load(cls, path: str) -> "Users":
        """Read a users file; E246 (at its file:line) for anything that is not a named user with a
        token hash, two users with one hash, or no user at all."""
        doc, _ = load_yaml_file(path, max_bytes=1024 * 1024)
        value = doc.value
        problems: list[Problem] = []

        def bad(where: tuple[Any, ...], en: str, zh: str) -> None:
            line, col = doc.where(where)
            problems.append(Problem(path, line, col, "E246", en, message_zh=zh))

        users = value.get("users") if isinstance(value, dict) else None
        if not isinstance(users, dict) or not users:
            bad(("users",), "the users file needs `users:`, each user a name with {token_sha256: <64 hex digits>}",
                "用户文件须有 users:，每个用户为 名称: {token_sha256: <64 位十六进制>}")
            raise ProblemsError(problems)
        by_hash: dict[str, str] = {}
        for name, spec in users.items():
            name = str(name)
            digest = spec.get("token_sha256") if isinstance(spec, dict) else None
            if not USER_NAME.match(name):
                bad(("users", name), f"user name {shown(name)} is not a plain name (letters, digits, . _ - @, "
                    "Chinese; at most 64)", f"用户名 {shown(name)} 不是简单名称（字母、数字、. _ - @、汉字，最多 64 个）")
            elif not isinstance(digest, str) or not SHA256_HEX.match(digest.lower()):
                bad(("users", name), f"user {name}: token_sha256 must be the sha256 of the token, 64 hex digits "
                    "(printf %s TOKEN | sha256sum)", f"用户 {name}：token_sha256 须为令牌的 sha256 值（64 位十六进制；"
                    "printf %s 令牌 | sha256sum）")
            elif digest.lower() in by_hash:
                bad(("users", name), f"users {by_hash[digest.lower()]} and {name} have the same token",
                    f"用户 {by_hash[digest.lower()]} 与 {name} 的令牌相同")
            else:
                by_hash[digest.lower()] = name
        if problems:
            raise ProblemsError(problems)
        return cls(by_hash)


def unauthorised() -> Refused:
    return refuse(401, "E236", "this server needs a token (its own, or a configured user's): send Authorization: Bearer TOKEN "
                  "(a browser: open a page once with ?token=TOKEN)",
                  "此服务需要令牌（服务令牌或已配置用户的令牌）：请求头 Authorization: Bearer 令牌（浏览器：首次打开页面时加 ?token=令牌）")


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
