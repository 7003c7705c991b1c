"""The workbench pages (Chinese, with an English switch; usable at phone width)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.web.guard import Refused, problems_response


def refused_page(request: Request, refused: Refused) -> Response:
    return problems_response(refused.status, refused.problems)


ROUTES: list[Route] = []
