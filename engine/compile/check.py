"""A format-1 pack checked as far as the compiler can say: validation (engine.validate) and the
bounded-work limits that need the compiler (engine.validate.limits): a targets pack measured as
the criteria tree compile lowers it to, and E158, rules of one criterion firing at once, decided
by compiling the pack when the shape-only estimate is over.

This is the check every command uses (`check_document`, `validate_file`); the validate stage
alone (engine.validate.validate) comes before the compiler and cannot import it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.compile.build2 import check_pack2
from engine.compile.compile import CompileError, build
from engine.compile.targets import lower
from engine.core.problems import Problem, has_errors
from engine.load.yamlsafe import Document
from engine.validate import validate
from engine.validate.dialect1 import format1_problems
from engine.validate.limits import limit_problems


def _lower(doc: dict[str, Any]) -> dict[str, Any]:
    return lower(doc, dt.date.today())[0]  # the tree's shape does not depend on the date


def overlap_refused(document: Document) -> str | None:
    """The compiler's own words when it refuses the pack for rules firing at once, else None."""
    try:
        build(document, b"", dt.date.today())
    except CompileError as error:
        return str(error) if "at once" in str(error) else None
    except Exception:  # noqa: BLE001 - any other fault is reported by the stages that own it
        return None
    return None


def check_document(doc: Document) -> list[Problem]:
    """Every problem of a pack document: validation, then the limits only the compiler can measure."""
    problems = validate.check_document(doc)
    if not isinstance(doc.value, dict) or doc.value.get("format") == 2:
        return problems  # format 2 measures its own (engine.compile.build2)
    try:
        problems += limit_problems(doc.value, document=doc, lower=_lower, overlap=overlap_refused)
    except (AttributeError, TypeError, KeyError, ValueError):
        if not has_errors(problems):
            raise
    return sorted(set(problems))


def validate_file(path: str) -> tuple[Document | None, bytes, list[Problem]]:
    """Load and check one pack (engine.validate.validate.validate_file, then the compiler's limits);
    never raises for problems in the file."""
    doc, raw, problems = validate.validate_file(path)
    if doc is None or not isinstance(doc.value, dict) or doc.value.get("format") == 2:
        return doc, raw, problems
    try:
        extra = limit_problems(doc.value, document=doc, lower=_lower, overlap=overlap_refused)
    except (AttributeError, TypeError, KeyError, ValueError):
        if not has_errors(problems):
            raise
        extra = []
    return doc, raw, sorted(set(problems + extra))


def format1_checked(doc: Document, as_of: dt.date | None = None) -> list[Problem]:
    """Every problem of a format-1 pack read as format 2 (engine.validate.dialect1: its shape
    against the format-1 schema, the conversion, then the format-2 builder's checks on the
    converted pack, each at the format-1 file's line), with W264 when it can be read."""
    read, problems = format1_problems(doc)
    if read is None:
        return problems
    return sorted(set(problems + [read.warning] + check_pack2(read.document, as_of)))
