"""Format 1 as an input dialect: a `format: 1` pack is read by converting it to format 2 on load,
then decided by the format-2 pipeline (issue 12 item 12). Read this way today: by
`engine.evaluate.pipeline.load_pack2` (so `certify test` runs a format-1 suite through the format-2
runner, its expectations converted), and by `certify migrate`'s check (engine.compile.check
`format1_checked`). The other commands still read format 1 with the format-1 stack until it is
retired.

Reading it: the YAML is read safely by engine.load.yamlsafe (duplicate keys, aliases, tags
refused); its shape is checked against the format-1 schema (engine/validate/schema/
rulepack.schema.json: E110-E112 at file:line:col, in English and Chinese); then it is converted by
engine.load.format1 `convert`, the converter behind `certify migrate`. Every part of the converted
pack keeps the position of the format-1 part it came from, so what the format-2 checks find later
(an unknown name, a unit that does not match) points at the line the officer wrote. A construct
format 2 cannot state is E200-E204, as for `certify migrate`. A converted pack carries W264:
it was read as format 1, and `certify migrate` writes it as format 2.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.problems import WARNING, Problem, ProblemsError, has_errors
from engine.load.format1 import Conversion, convert, is_format1
from engine.load.yamlsafe import Document
from engine.validate.schema_report import schema_problems

__all__ = ["Read1", "is_format1", "read_format1", "format1_problems", "read_as_format1"]


@dataclass
class Read1:
    """A format-1 pack read as format 2: the converted document, the conversion (names renamed,
    the format-1 kind: a suite's format-1 expectations are converted with it) and W264."""

    document: Document
    conversion: Conversion
    warning: Problem


def read_as_format1(doc: Document) -> Problem:
    """W264 for a format-1 pack, at its `format:` line."""
    return doc.problem("W264", "this pack is format 1: it was converted to format 2 on load and decided by the "
                       "format-2 pipeline; `certify migrate` writes it as format 2", ("format",), WARNING,
                       "本规则包为格式 1：已在读取时转换为格式 2 后判定；可用 certify migrate 改写为格式 2")


def format1_problems(doc: Document) -> tuple[Read1 | None, list[Problem]]:
    """The format-1 pack `doc` read as format 2, or None with the problems that stop it (its shape
    against the format-1 schema, or what the conversion cannot state); never raises for them."""
    problems = schema_problems(doc)
    if has_errors(problems):
        return None, sorted(set(problems))
    try:
        conversion = convert(doc)
    except (AttributeError, TypeError, KeyError, ValueError, IndexError):
        # a shape the schema lets through and the converter cannot read: say so at the pack
        return None, [doc.problem("E200", "this format-1 pack cannot be converted to format 2 as written; "
                                  "check it against docs/format2.md \"Format 1\"", ("format",),
                                  message_zh="本格式 1 规则包无法按所写内容转换为格式 2；请对照 docs/format2.md"
                                  "“Format 1”检查")]
    if not conversion.ok:
        return None, sorted(set(problems + conversion.problems))
    return Read1(conversion.document, conversion, read_as_format1(doc)), sorted(set(problems + conversion.problems))


def read_format1(doc: Document) -> Read1:
    """The format-1 pack `doc` read as format 2; ProblemsError with every problem that stops it."""
    read, problems = format1_problems(doc)
    if read is None:
        raise ProblemsError(problems)
    return read
