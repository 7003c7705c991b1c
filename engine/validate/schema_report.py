"""The JSON Schema pass of validation, shared by format 1 (engine.validate.validate) and format 2
(engine.validate.format2): each schema error becomes a problem with a code, `file:line:col` and
a message in English and Chinese that never quotes more than a bounded part of the value.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

from engine.core.problems import Problem, shown
from engine.core.suggest import did_you_mean, did_you_mean_zh  # the one home; imported from here too
from engine.load.yamlsafe import Document

SCHEMA_FILE = "rulepack.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = resources.files("engine.validate").joinpath("schema").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


# Names of JSON types for messages: what an officer should write instead.
_TYPE_EN = {"object": "a mapping (key: value)", "array": "a list", "string": "text", "integer": "a whole number",
            "number": "a number", "boolean": "true or false", "null": "nothing"}
_TYPE_ZH = {"object": "映射（键: 值）", "array": "列表", "string": "文字", "integer": "整数", "number": "数字",
            "boolean": "true 或 false", "null": "空值"}


# ---------------------------------------------------------------------------------------------
# Pass 1: the schema

_DEF_HINTS_ZH = {
    "node": "每个条件需要 id，并且只能写 all、any、at_least、not、cases、test 中的一项",
    "parameter": "每个参数只能写 value（如 10亿元）、values（分日期的数值）、unset（说明政策为何未给出数值）中的一项",
    "test": "检验应写成 {attested: 输入项} 或 {input: 输入项, op: 运算符, param: 参数}（in / not_in 用 values: [...]）",
    "condition": "前提条件应是一个检验，或由 all / any / not 组合的条件",
    "derived": "派生值只能写 ratio {of, per}、sum [...]、difference {of, minus} 中的一项",
}

_DEF_HINTS = {
    "node": "a criterion needs an id and exactly one of: all, any, at_least, not, cases, test",
    "parameter": "a parameter needs exactly one of: value (such as 10亿元), values (dated), unset (why the policy gives no number)",
    "test": "a test is {attested: INPUT} or {input: INPUT, op: OPERATOR, param: PARAMETER} (or values: [...] for in / not_in)",
    "condition": "a condition is a test, or all / any / not of conditions",
    "derived": "a derived value needs exactly one of: ratio {of, per}, sum [...], difference {of, minus}",
}


def _which_def(error: jsonschema.ValidationError, sch: dict[str, Any] | None = None) -> str | None:
    defs = (sch or schema())["$defs"]
    for name, definition in defs.items():
        if error.schema is definition:
            return name
    return None


def _schema_text(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(English, Chinese) message for one schema error. jsonschema's own message quotes the whole
    offending value (a pack that is a symlink to a credentials file would print it), so messages
    are built here from the keyword, with a bounded quotation of the value."""
    instance = error.instance
    plain = isinstance(instance, (int, Decimal)) and not isinstance(instance, bool)
    keyword, expected, value = error.validator, error.validator_value, shown(str(instance) if plain else instance)
    if plain:
        value = value.strip("'")
    if not error.absolute_path:
        # The whole file is not a pack (a symlink to a credentials file, a stray text file):
        # never quote it, not even a prefix.
        if keyword == "type":
            return ("this file is not a rule pack: a pack is a mapping (format: 1, pack: ..., ...)",
                    "这个文件不是规则包：规则包应是一个映射（format: 1、pack: ... 等）；请检查文件")
        value = "the file"
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        en = " or ".join(_TYPE_EN.get(k, str(k)) for k in kinds)
        zh = "或".join(_TYPE_ZH.get(k, str(k)) for k in kinds)
        return f"{value} is not of the right type: write {en} here", f"{value} 的类型不对；此处应写{zh}"
    if keyword in ("enum", "const"):
        choices = ", ".join(str(c) for c in (expected if keyword == "enum" else [expected]))
        return (f"{value} is not allowed here; write one of: {choices}",
                f"此处不能写 {value}；请写以下之一：{choices}")
    if keyword == "pattern":
        return (f"{value} is not in the expected form (pattern {expected})",
                f"{value} 的写法不符合要求（格式 {expected}）；请按格式改写")
    if keyword in ("minItems", "minProperties"):
        return (f"at least {expected} item(s) are needed here", f"此处至少需要 {expected} 项；请补充")
    if keyword in ("maxItems", "maxProperties"):
        return (f"at most {expected} item(s) are allowed here", f"此处最多允许 {expected} 项；请删减")
    if keyword == "minLength":
        return ("this text is empty or too short", "此处文字为空或太短；请填写")
    if keyword == "maxLength":
        return (f"this text is longer than {expected} characters", f"此处文字超过 {expected} 个字符；请缩短")
    if keyword in ("minimum", "exclusiveMinimum"):
        return (f"{value} is too small: the least allowed is {expected}",
                f"{value} 太小；最小允许值为 {expected}")
    if keyword in ("maximum", "exclusiveMaximum"):
        return (f"{value} is too large: the most allowed is {expected}",
                f"{value} 太大；最大允许值为 {expected}")
    if keyword == "format":
        return (f"{value} is not a valid {expected}", f"{value} 不是有效的 {expected}；请改正")
    if keyword == "not":
        return (f"{value} is not allowed here", f"此处不能写 {value}")
    if keyword in ("oneOf", "anyOf"):
        return (f"{value} matches none of the forms allowed here",
                f"{value} 不符合此处允许的任何一种写法；请对照示例改写")
    return (f"{value} is not valid here ({keyword})", f"此处的 {value} 无效（{keyword}）；请改正")


def schema_problems(doc: Document, sch: dict[str, Any] | None = None) -> list[Problem]:
    """Every schema error of `doc` against `sch` (format 1's schema when None)."""
    sch = sch or schema()
    validator = jsonschema.Draft202012Validator(sch)
    problems: list[Problem] = []
    for error in validator.iter_errors(doc.value):
        path = tuple(error.absolute_path)
        keyword = error.validator
        if keyword == "minimum" and path[-2:] == ("at_least", "k"):
            continue  # E157 (engine/limits.py) says what k may be, in both languages
        if keyword == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            instance = error.instance if isinstance(error.instance, dict) else {}
            for key in sorted(k for k in instance if k not in allowed):
                problems.append(
                    doc.problem(
                        "E110",
                        f"unknown field {shown(key)}{did_you_mean(key, allowed)} "
                        f"(allowed here: {', '.join(allowed)})",
                        path + (key,),
                        message_zh=f"未知字段 {shown(key)}{did_you_mean_zh(key, allowed) or '；请删除或改正'}"
                        f"（此处允许的字段：{', '.join(allowed)}）",
                    )
                )
        elif keyword == "required":
            missing = [k for k in error.validator_value if isinstance(error.instance, dict) and k not in error.instance]
            names = ", ".join(repr(k) for k in missing) or shown(error.validator_value)
            problems.append(doc.problem("E111", f"required field missing: {names}", path,
                                        message_zh=f"缺少必填字段：{names}；请补上"))
        elif keyword in ("oneOf", "anyOf") and path[:2] == ("lint", "ignore"):
            problems.append(doc.problem(
                "E112", "a silenced finding needs its reason: W201: \"why (quote the policy)\", or "
                "W201: {parameter_name: \"why\"}", path,
                message_zh="忽略某项检查结果必须写明理由：W201: \"理由（引用政策原文）\"，或 W201: {参数名: \"理由\"}"))
        elif keyword in ("oneOf", "anyOf"):
            hint = _DEF_HINTS.get(_which_def(error, sch) or "", None)
            # A node or test that matches no branch usually has one concrete fault inside;
            # report the deepest unknown-field error if there is one, else the hint.
            nested = [e for e in (error.context or []) if e.validator == "additionalProperties"]
            if hint is None and nested:
                continue
            en, zh = _schema_text(error)
            problems.append(doc.problem("E112", hint or en, path,
                                        message_zh=_DEF_HINTS_ZH.get(_which_def(error, sch) or "", zh)))
        elif keyword == "propertyNames":
            problems.append(
                doc.problem(
                    "E112",
                    f"name {shown(error.instance)} must be lower-case letters, digits and _ "
                    "(e.g. lead_output)",
                    path,
                    message_zh=f"名称 {shown(error.instance)} 只能由小写英文字母、数字和下划线组成（如 lead_output）；请改名",
                )
            )
        else:
            en, zh = _schema_text(error)
            problems.append(doc.problem("E112", en, path, message_zh=zh))
    return problems
