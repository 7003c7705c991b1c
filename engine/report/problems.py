"""Views of problems (text, JSON, GitHub workflow commands), in a registry keyed by format name
so the CLI can list and pick them. Nothing here decides anything."""

from __future__ import annotations

import json
from typing import Callable, Iterable, TextIO

from engine.core.problems import Problem


def render_problems_text(problems: Iterable[Problem], out: TextIO, lang: str = "en") -> None:
    for p in sorted(problems):
        out.write(p.format(lang) + "\n")


def render_problems_json(problems: Iterable[Problem], out: TextIO, lang: str = "en") -> None:
    json.dump({"schema": "certify.problems/1", "problems": [p.as_dict() for p in sorted(problems)]},
              out, ensure_ascii=False, indent=2)
    out.write("\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice", "ignored": "notice"}


def render_problems_github(problems: Iterable[Problem], out: TextIO, lang: str = "en") -> None:
    """GitHub Actions workflow commands, so a pull request shows each problem on its line:
    `::error file=F,line=L,col=C,title=CODE::message` (escaped as the runner expects)."""
    for p in sorted(problems):
        level = _GITHUB_LEVEL.get(p.severity, "warning")
        where = f" [{p.path}]" if p.path else ""
        out.write(f"::{level} file={_escape_property(p.file)},line={p.line},col={p.col},"
                  f"title={_escape_property(p.code)}::{_escape_data(p.text(lang) + where)}\n")


PROBLEM_RENDERERS: dict[str, Callable[..., None]] = {  # (problems, out, lang="en")
    "text": render_problems_text,
    "json": render_problems_json,
    "github": render_problems_github,
}
