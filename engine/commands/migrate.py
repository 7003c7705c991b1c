"""`certify migrate PACK [-o OUT]`: write a format-1 pack as a format-2 pack.

The pack is read as every command reads a format-1 pack (engine.validate.dialect1: its shape
against the format-1 schema, the conversion, the format-2 checks of the converted pack; a pack
with errors is not converted: its meaning is not settled), then converted by `engine.load.format1`. When format 2 cannot state part of it yet
(E200-E204) nothing is written: a pack that silently lacks a rule would decide differently.
The written file is YAML an officer can read and edit: sections and keys in the order of
docs/format2.md, Chinese as written, a test or a {zh, en} label on one line when it is short.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from decimal import Decimal
from typing import Any

import yaml

from engine.core.problems import Problem, has_errors
from engine.core.problems import ProblemsError
from engine.load.format1 import convert, is_format1
from engine.load.yamlsafe import load_yaml_file
from engine.core.files import check_output, open_output
from engine.report.problems import PROBLEM_RENDERERS
from engine.compile.check import format1_checked

OK, PROBLEMS = 0, 1
FLOW_WIDTH = 100  # a mapping or list of scalars shorter than this is written on one line


class _Dumper(yaml.SafeDumper):
    """Block style for the structure, one line for a short leaf (a test, a label, a band). A list
    is indented under its key (`all:` then `  - id: ...`), so its depth reads from the indentation
    (and the loader's nesting pre-scan counts it)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, Decimal, dt.date))


def _short(value: Any) -> bool:
    if isinstance(value, dict):
        items = list(value.items())
        return all(_scalar(v) or (isinstance(v, list) and all(_scalar(x) for x in v)) for _, v in items) and \
            sum(len(str(k)) + len(str(v)) + 4 for k, v in items) <= FLOW_WIDTH
    if isinstance(value, list):
        return all(_scalar(v) for v in value) and sum(len(str(v)) + 2 for v in value) <= FLOW_WIDTH
    return False


def _represent_dict(dumper: yaml.SafeDumper, value: dict[str, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=_short(value) or None)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=_short(value) or None)


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    # as written in the format-1 file (0.5, 0.25): exact, never through a binary float
    return dumper.represent_scalar("tag:yaml.org,2002:float", format(value, "f"))


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(Decimal, _represent_decimal)


def dump_pack(value: dict[str, Any], source: str) -> str:
    """The converted pack as YAML text, with a header saying where it came from."""
    body = yaml.dump(value, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000, indent=2,
                     default_flow_style=False)
    header = (f"# 由格式1规则包 {os.path.basename(source)} 转换而来 (certify migrate); 格式说明见 docs/format2.md\n"
              f"# Converted from the format-1 pack {os.path.basename(source)} by certify migrate (docs/format2.md)\n")
    return header + body


def run_migrate(pack_path: str, output: str | None, lang: str) -> int:
    """Convert one pack; 0 when written, 1 when the pack has errors or cannot be converted."""
    check_output(output)
    render = PROBLEM_RENDERERS["text"]
    try:
        doc, _ = load_yaml_file(pack_path, max_bytes=4 * 1024 * 1024)
    except ProblemsError as error:
        render(error.problems, sys.stderr, lang)
        return PROBLEMS
    problems: list[Problem] = []
    if is_format1(doc):
        # read as every command reads it: its shape, the conversion, and the format-2 checks of the
        # converted pack (each problem at the format-1 file's line); a pack with errors is not written
        problems = [p for p in format1_checked(doc) if p.severity == "error"]
    if not problems:
        conversion = convert(doc)
        problems = conversion.problems
    if has_errors(problems):
        render(problems, sys.stderr, lang)
        print("未转换：规则包有错误或含格式2尚不能表达的内容（见上）" if lang == "zh" else
              "not converted: the pack has errors or parts format 2 cannot state yet (see above)", file=sys.stderr)
        return PROBLEMS
    with open_output(output) as out:
        out.write(dump_pack(conversion.document.value, pack_path))
    for old, new in conversion.renamed.items():
        if not old.endswith("__value"):
            print(f"条件 {old} 改名为 {new}（格式2的名称不能与输入项、参数或计算值重复）" if lang == "zh" else
                  f"criterion {old} renamed {new} (format 2 names may not repeat an input, parameter or value)",
                  file=sys.stderr)
    return OK
