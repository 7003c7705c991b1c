"""Validate stage, format 2 (docs/format2.md): the shape of a pack and its one namespace.

A format-2 pack is checked in two steps. Here, before anything is compiled: the JSON Schema
(shape, field names, types; built from format 1's definitions so inputs and parameters read the
same), every name defined once across inputs, parameters, choices, values and criteria (E181,
naming both places), and every name a criterion or an outcome reads (E182 with "did you mean",
E183 when it is of the wrong sort). The values section is only checked for its shape here: each
value's operation is parsed by its own parser in the compile stage (engine.compile.build2),
which reports its references, units (E184) and cycles (E180) through the same `NameTable`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from engine.core.problems import ERROR, Problem, kind_zh, shown
from engine.core.units import Unit, parse_unit
from engine.load.yamlsafe import Document
from engine.validate.limits2 import shape_problems2
from engine.validate.schema_report import did_you_mean, did_you_mean_zh, schema, schema_problems

Path = tuple[Any, ...]

# The sorts a name can be of (what a reader may ask for, engine.compile.ops.ParseContext.ref).
INPUT_SORT = {"money": "number", "count": "number", "percent": "number", "area": "number",
              "enum": "enum", "boolean": "boolean", "attestation": "attestation", "date": "date",
              "members": "members", "text": "text"}
SORT_ZH = {"number": "数值", "enum": "枚举（选项）", "boolean": "是/否", "attestation": "承诺/证明", "date": "日期",
           "members": "成员列表", "text": "文字", "param": "参数", "choice": "待定选项", "criterion": "条件",
           "criterion_part": "条件的组成部分"}
SECTION_ZH = {"inputs": "输入项", "parameters": "参数", "choices": "待定选项", "values": "计算值", "criteria": "条件"}
SECTIONS = ("inputs", "parameters", "choices", "values", "criteria")
AS_OF = "as_of"  # the evaluation date, a reserved name

# Test operators by what they compare.
CMP_OPS = (">=", ">", "<=", "<", "=", "!=")
DATE_OPS = {"on_or_after": ">=", "after": ">", "on_or_before": "<=", "before": "<"}


# ---------------------------------------------------------------------------------------------
# Schema


def _format1_defs() -> dict[str, Any]:
    return copy.deepcopy(schema()["$defs"])


@lru_cache(maxsize=1)
def schema2() -> dict[str, Any]:
    """The JSON Schema of a format-2 pack (values' operations are checked by their parsers)."""
    old = _format1_defs()
    defs: dict[str, Any] = {k: old[k] for k in ("name", "date", "text", "label", "amount", "member_field", "lint_reason")
                            if k in old}
    ref = lambda name: {"$ref": f"#/$defs/{name}"}  # noqa: E731
    names = lambda item: {"type": "object", "propertyNames": ref("name"), "additionalProperties": item}  # noqa: E731
    inp = old["input"]
    inp["properties"]["reference"] = {"type": "boolean", "description": "a figure of the entity's parent (参照值)"}
    defs["input"] = inp
    param = old["parameter"]
    param["properties"]["table"] = {
        "type": "object", "additionalProperties": False, "required": ["keys", "rows"],
        "properties": {"keys": {"type": "array", "minItems": 1, "maxItems": 2, "items": ref("name")},
                       "unit": {"type": "string", "minLength": 1},
                       "rows": {"type": "object", "minProperties": 1},
                       "missing": {"type": "object", "additionalProperties": ref("text")}}}
    param["properties"]["scaled"] = {"type": "object", "additionalProperties": False, "required": ["of", "by"],
                                     "properties": {"of": ref("name"), "by": ref("amount")}}
    # in_force: {of: P, on: DATE}: P's value in force on DATE (a converted per-year target reads
    # the value in force on 31 December of each year); an override of P reaches it
    param["properties"]["in_force"] = {"type": "object", "additionalProperties": False, "required": ["of", "on"],
                                       "properties": {"of": ref("name"), "on": ref("date")}}
    param["oneOf"] = [{"required": [k]} for k in ("value", "values", "unset", "table", "scaled", "in_force")]
    defs["parameter"] = param
    # an option's label; `points:` when the choice is read as points (rank_points.excluded_points)
    defs["option"] = {**copy.deepcopy(defs["label"])}
    defs["option"]["properties"] = {**defs["option"]["properties"], "points": {"type": ["string", "integer", "number"]}}
    defs["choice"] = {
        "type": "object", "additionalProperties": False, "required": ["label", "options", "default", "reason"],
        "properties": {"label": ref("label"), "cite": ref("text"), "options": names(ref("option")) | {"minProperties": 2},
                       "default": ref("name"), "reason": ref("text"), "note": ref("text")}}
    defs["value"] = {
        "type": "object", "required": ["label"],
        "properties": {"label": ref("label"), "unit": {"type": "string", "minLength": 1}, "cite": ref("text"),
                       "note": ref("text"), "slot": {"type": "boolean"}},
        "minProperties": 2}
    operand = {"oneOf": [ref("name"), ref("amount")]}
    defs["test"] = {
        "type": "object", "additionalProperties": False,
        "properties": {
            "value": ref("name"), "attested": ref("name"), "each": {"type": "array", "minItems": 1, "items": ref("name")},
            "date": ref("name"), "valid_on": {"type": "object", "additionalProperties": False, "required": ["from", "until"],
                                              "properties": {"from": ref("name"), "until": ref("name")}},
            "op": {"enum": [*CMP_OPS, "in", "not_in", "is_true", "is_false", *DATE_OPS, "within_years_before"]},
            "param": ref("name"), "number": operand["oneOf"][1], "values": {"type": "array", "minItems": 1, "items": ref("name")},
            "as_of": {"const": True}, "on": ref("date"), "years": {"type": "integer", "minimum": 1, "maximum": 100}},
        "oneOf": [{"required": ["attested"], "not": {"anyOf": [{"required": [k]} for k in ("value", "op", "param", "each", "date")]}},
                  {"required": ["value", "op"]}, {"required": ["each", "op"]}, {"required": ["date", "op"]},
                  {"required": ["valid_on"]}]}
    defs["condition"] = {
        "oneOf": [ref("test"),
                  {"type": "object", "additionalProperties": False, "required": ["criterion"], "properties": {"criterion": ref("name")}},
                  *({"type": "object", "additionalProperties": False, "required": [k],
                     "properties": {k: {"type": "array", "minItems": 1, "items": ref("condition")}}} for k in ("all", "any")),
                  {"type": "object", "additionalProperties": False, "required": ["not"], "properties": {"not": ref("condition")}}]}
    node_props = {
        "id": ref("name"), "title": ref("label"), "cite": ref("text"), "discretionary": ref("label"), "note": ref("label"),
        "all": {"type": "array", "minItems": 1, "items": ref("node")},
        "any": {"type": "array", "minItems": 1, "items": ref("node")},
        "at_least": {"type": "object", "additionalProperties": False, "required": ["k", "of"],
                     "properties": {"k": {"type": "integer", "minimum": 1}, "of": {"type": "array", "minItems": 1, "items": ref("node")}}},
        "not": ref("node"),
        "cases": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["when", "then"],
            "properties": {"when": ref("condition"), "then": ref("node")}}},
        "otherwise": {"enum": ["met", "not_met", "unknown"]},
        "test": ref("test"), "criterion": ref("name"),
        "applies_when": ref("condition"), "not_applicable": ref("label"),
        "due": ref("date"), "tolerance": ref("name"), "slot": {"type": "boolean"},
    }
    defs["node"] = {"type": "object", "additionalProperties": False, "properties": node_props,
                    "oneOf": [{"required": [k]} for k in ("all", "any", "at_least", "not", "cases", "test", "criterion")]}
    note = {"type": "object", "additionalProperties": False, "required": ["id", "title", "when"],
            "properties": {"id": ref("name"), "title": ref("label"), "cite": ref("text"), "note": ref("label"),
                           "when": ref("condition")}}
    defs["note_rule"] = note
    defs["pack"] = {
        "type": "object", "additionalProperties": False, "required": ["id", "version", "entity", "title"],
        "properties": {"id": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$", "maxLength": 80},
                       "version": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+$"},
                       "entity": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                       "effective": ref("date"), "until": ref("date"),
                       "superseded_by": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
                       "extends": ref("text"), "title": ref("label"),
                       "source": {"type": "object", "additionalProperties": False, "required": ["title"],
                                  "properties": {"title": ref("text"), "number": ref("text"), "date": ref("date"),
                                                 "seed": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}}},
                       "notes": {"type": "array", "items": ref("text")}}}
    top = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "certify rule pack, format 2",
        "type": "object", "additionalProperties": False, "required": ["format", "pack", "inputs"],
        "properties": {
            "format": {"const": 2}, "pack": ref("pack"),
            "inputs": names(ref("input")), "parameters": names(ref("parameter")),
            "choices": names(ref("choice")), "values": names(ref("value")),
            "criteria": names(ref("node")),
            "outcomes": {"type": "object", "additionalProperties": False, "properties": {
                "decision": ref("name"),
                "flags": {"type": "array", "items": ref("note_rule")},
                "consequences": {"type": "array", "items": ref("note_rule")},
                "awards": {"type": "object"}}},
            "lint": {"type": "object"},
        },
        "$defs": defs,
    }
    return top


# ---------------------------------------------------------------------------------------------
# The namespace


@dataclass(frozen=True)
class NameDef:
    name: str
    section: str  # inputs, parameters, choices, values, criteria (nested ids too), or "" for as_of
    sort: str
    path: Path
    unit: Unit | None = None


@dataclass
class NameTable:
    """Every name of a pack: where it is defined and what sort it is."""

    doc: Document
    names: dict[str, NameDef] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def add(self, code: str, path: Path, en: str, zh: str, severity: str = "error") -> None:
        self.problems.append(self.doc.problem(code, en, path, severity, zh))

    def claim(self, name: Any, section: str, sort: str, path: Path, unit: Unit | None = None) -> None:
        if not isinstance(name, str):
            return
        if name == AS_OF:
            self.add("E181", path, f"{name!r} is reserved for the evaluation date; choose another name",
                     f"{name!r} 是评价日期的保留名称；请改用其他名称")
            return
        before = self.names.get(name)
        if before is not None:
            line, col = self.doc.where(before.path)
            self.add("E181", path,
                     f"name {name!r} is already defined in {before.section} (line {line}, col {col}); every name "
                     "of inputs, parameters, choices, values and criteria must be unique: rename one of them",
                     f"名称 {name!r} 已在{SECTION_ZH.get(before.section, before.section)}中定义（第 {line} 行第 {col} 列）；"
                     "输入项、参数、待定选项、计算值和条件的名称不能重复，请改名其中之一")
            return
        self.names[name] = NameDef(name, section, sort, path, unit)

    def sort_of(self, name: str) -> str | None:
        d = self.names.get(name)
        return d.sort if d else None

    def check(self, raw: Any, path: Path, sorts: tuple[str, ...]) -> str | None:
        """A reference: E182 when unknown (did you mean), E183 when of a sort not in `sorts`.
        Returns the name when it is usable here."""
        if not isinstance(raw, str):
            self.add("E112", path, f"{shown(raw)} is not a name", f"{shown(raw)} 不是名称")
            return None
        d = self.names.get(raw)
        if d is None:
            self.add("E182", path, f"unknown name {shown(raw)}{did_you_mean(raw, self.names)}",
                     f"未知名称 {shown(raw)}{did_you_mean_zh(raw, self.names) or '；请检查拼写或先定义它'}")
            return None
        if not sort_allowed(d.sort, sorts):
            want = " or ".join(sorts)
            want_zh = "或".join(SORT_ZH.get(s, s) for s in sorts)
            self.add("E183", path, f"{raw!r} is {article(d.sort)} {d.sort} ({d.section}); {want} is needed here",
                     f"{raw!r} 是{SORT_ZH.get(d.sort, d.sort)}（{SECTION_ZH.get(d.section, d.section)}）；此处需要{want_zh}")
            return None
        return raw


def article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def sort_allowed(sort: str, sorts: tuple[str, ...]) -> bool:
    return sort in sorts or (sort == "attestation" and "boolean" in sorts)


def name_table(doc: Document) -> NameTable:
    """Every name of the pack, E181 for a repeated one."""
    table = NameTable(doc)
    value = doc.value if isinstance(doc.value, dict) else {}
    table.names[AS_OF] = NameDef(AS_OF, "", "date", ())
    for name, spec in _items(value.get("inputs")):
        kind = spec.get("type") if isinstance(spec, dict) else None
        unit = parse_unit(spec["unit"]) if isinstance(spec, dict) and isinstance(spec.get("unit"), str) else None
        table.claim(name, "inputs", INPUT_SORT.get(str(kind), "text"), ("inputs", name), unit)
    for name, spec in _items(value.get("parameters")):
        table.claim(name, "parameters", "param", ("parameters", name), None)
    for name, _ in _items(value.get("choices")):
        table.claim(name, "choices", "choice", ("choices", name))
    for name, spec in _items(value.get("values")):
        unit = parse_unit(spec["unit"]) if isinstance(spec, dict) and isinstance(spec.get("unit"), str) else None
        # a value is a number, except `placed_last` (yes/no: format 1's result_last, read with is_true)
        sort = "boolean" if isinstance(spec, dict) and "placed_last" in spec else "number"
        table.claim(name, "values", sort, ("values", name), unit)
    for name, node in _items(value.get("criteria")):
        table.claim(name, "criteria", "criterion", ("criteria", name))
        if isinstance(node, dict):
            if "id" in node and node["id"] != name:
                table.add("E112", ("criteria", name, "id"), f"a top-level criterion's id is its key ({name!r}); remove id",
                          f"顶层条件的 id 就是它的键名（{name!r}）；请删除 id")
            _claim_nested(table, node, ("criteria", name), top=True)
    return table


def _items(section: Any) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in section.items()] if isinstance(section, dict) else []


def _children(node: dict[str, Any], path: Path) -> list[tuple[Any, Path]]:
    out: list[tuple[Any, Path]] = []
    for kind in ("all", "any"):
        for i, child in enumerate(node.get(kind) or [] if isinstance(node.get(kind), list) else []):
            out.append((child, path + (kind, i)))
    at_least = node.get("at_least")
    if isinstance(at_least, dict) and isinstance(at_least.get("of"), list):
        out += [(c, path + ("at_least", "of", i)) for i, c in enumerate(at_least["of"])]
    if isinstance(node.get("not"), dict):
        out.append((node["not"], path + ("not",)))
    for i, case in enumerate(node.get("cases") or [] if isinstance(node.get("cases"), list) else []):
        if isinstance(case, dict) and isinstance(case.get("then"), dict):
            out.append((case["then"], path + ("cases", i, "then")))
    return out


def _claim_nested(table: NameTable, node: dict[str, Any], path: Path, top: bool) -> None:
    if not top and isinstance(node.get("id"), str):
        table.claim(node["id"], "criteria", "criterion_part", path + ("id",))
    for child, cpath in _children(node, path):
        if isinstance(child, dict):
            _claim_nested(table, child, cpath, top=False)


# ---------------------------------------------------------------------------------------------
# References of criteria and outcomes


def condition_reads(cond: Any, path: Path) -> list[tuple[str, Path, tuple[str, ...]]]:
    """(name, where, sorts allowed) for every name a test or condition reads (not parameters)."""
    out: list[tuple[str, Path, tuple[str, ...]]] = []
    if not isinstance(cond, dict):
        return out
    for kind in ("all", "any"):
        if isinstance(cond.get(kind), list) and "op" not in cond:
            for i, c in enumerate(cond[kind]):
                out += condition_reads(c, path + (kind, i))
            return out
    if isinstance(cond.get("not"), dict):
        return condition_reads(cond["not"], path + ("not",))
    if "criterion" in cond:
        return [(cond["criterion"], path + ("criterion",), ("criterion",))]
    return test_reads(cond, path)


def test_reads(test: dict[str, Any], path: Path) -> list[tuple[str, Path, tuple[str, ...]]]:
    out: list[tuple[str, Path, tuple[str, ...]]] = []
    op = test.get("op")
    if "attested" in test:
        out.append((test["attested"], path + ("attested",), ("attestation",)))
    if "value" in test:
        sorts: tuple[str, ...] = {"in": ("enum", "choice"), "not_in": ("enum", "choice"),
                                  "is_true": ("boolean",), "is_false": ("boolean",)}.get(str(op), ("number", "date"))
        out.append((test["value"], path + ("value",), sorts))
    for i, name in enumerate(test.get("each") or [] if isinstance(test.get("each"), list) else []):
        out.append((name, path + ("each", i), ("number",)))
    if "date" in test:
        out.append((test["date"], path + ("date",), ("date",)))
    if isinstance(test.get("valid_on"), dict):
        for key in ("from", "until"):
            if key in test["valid_on"]:
                out.append((test["valid_on"][key], path + ("valid_on", key), ("date",)))
    return out


def node_reads(node: Any, path: Path) -> list[tuple[str, Path, tuple[str, ...]]]:
    """Every name a criterion tree reads (tests, links, applicability, tolerance), not params."""
    out: list[tuple[str, Path, tuple[str, ...]]] = []
    if not isinstance(node, dict):
        return out
    if isinstance(node.get("test"), dict):
        out += test_reads(node["test"], path + ("test",))
    if "criterion" in node:
        out.append((node["criterion"], path + ("criterion",), ("criterion",)))
    if isinstance(node.get("applies_when"), dict):
        out += condition_reads(node["applies_when"], path + ("applies_when",))
    for i, case in enumerate(node.get("cases") or [] if isinstance(node.get("cases"), list) else []):
        if isinstance(case, dict):
            out += condition_reads(case.get("when"), path + ("cases", i, "when"))
    for child, cpath in _children(node, path):
        out += node_reads(child, cpath)
    return out


def param_reads(node: Any, path: Path) -> list[tuple[str, Path]]:
    """Every `param:` (and `tolerance:`) in a criterion tree or condition."""
    out: list[tuple[str, Path]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("param", "tolerance") and isinstance(value, str):
                out.append((value, path + (key,)))
            elif isinstance(value, (dict, list)):
                out += param_reads(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += param_reads(value, path + (i,))
    return out


def check_format2(doc: Document) -> list[Problem]:
    """Schema, names (E181) and the references of criteria and outcomes (E182, E183). The
    values' own operations are checked when they are parsed (engine.compile.build2.check_pack2)."""
    problems = schema_problems(doc, schema2())
    if not isinstance(doc.value, dict):
        return problems
    table = name_table(doc)
    check_references(table)
    return sorted(set(problems + table.problems + shape_problems2(doc) + unit_problems(doc)))


_NUMERIC_TYPES = ("money", "count", "percent", "area")


def unit_problems(doc: Document) -> list[Problem]:
    """The unit of every numeric input and member field: known (E112: an unknown unit such as 起
    would leave every figure of the column unreadable, found only at evaluation) and of the
    input's type (E122: a count in 万元), as format 1 checks them."""
    out: list[Problem] = []
    value = doc.value if isinstance(doc.value, dict) else {}
    places: list[tuple[str, Any, Path]] = []
    for name, spec in _items(value.get("inputs")):
        if not isinstance(spec, dict):
            continue
        places.append((name, spec, ("inputs", name)))
        if spec.get("type") == "members" and isinstance(spec.get("fields"), dict):
            places += [(f"{name}.{f}", fspec, ("inputs", name, "fields", f)) for f, fspec in spec["fields"].items()
                       if isinstance(fspec, dict)]
    for name, spec, path in places:
        kind, written = spec.get("type"), spec.get("unit")
        if kind not in _NUMERIC_TYPES or not isinstance(written, str):
            continue
        unit = parse_unit(written)
        if unit is None:
            out.append(doc.problem("E112", f"unknown unit {shown(written)} of {name}; use e.g. 元, 万元, 亿元, 亩, 平方米, "
                                   "%, 家, 个, 人, 项, 次, 头", path + ("unit",), ERROR,
                                   f"{name} 的单位 {shown(written)} 无法识别；请使用 元、万元、亿元、亩、平方米、%、家、个、人、项、次、头 等已知单位"))
        elif unit.dimension != kind and "/" not in unit.dimension:  # 万元/亩 (an intensity) is written as money
            out.append(doc.problem("E122", f"{name} is {kind} but its unit {unit.name!r} measures {unit.dimension}",
                                   path + ("unit",), ERROR,
                                   f"{name} 的类型是{kind_zh(kind)}，但单位 {unit.name!r} 计量的是{kind_zh(unit.dimension)}；"
                                   "请让类型与单位一致"))
    return out


def check_references(table: NameTable) -> None:
    value = table.doc.value
    for name, node in _items(value.get("criteria")):
        for ref_name, path, sorts in node_reads(node, ("criteria", name)):
            table.check(ref_name, path, sorts)
        for ref_name, path in param_reads(node, ("criteria", name)):
            table.check(ref_name, path, ("param",))
    outcomes = value.get("outcomes") if isinstance(value.get("outcomes"), dict) else {}
    if "decision" in outcomes:
        table.check(outcomes["decision"], ("outcomes", "decision"), ("criterion",))
    for section in ("flags", "consequences"):
        seen: dict[str, Path] = {}
        for i, rule in enumerate(outcomes.get(section) or [] if isinstance(outcomes.get(section), list) else []):
            if not isinstance(rule, dict):
                continue
            ident = rule.get("id")
            if isinstance(ident, str) and ident in seen:
                table.add("E181", ("outcomes", section, i, "id"), f"{section[:-1]} id {ident!r} is used twice",
                          f"{ident!r} 重复使用；请改名")
            elif isinstance(ident, str):
                seen[ident] = ("outcomes", section, i, "id")
            for ref_name, path, sorts in condition_reads(rule.get("when"), ("outcomes", section, i, "when")):
                table.check(ref_name, path, sorts)
            for ref_name, path in param_reads(rule.get("when"), ("outcomes", section, i, "when")):
                table.check(ref_name, path, ("param",))
    for name, spec in _items(value.get("choices")):
        if isinstance(spec, dict) and isinstance(spec.get("options"), dict) and spec.get("default") not in spec["options"]:
            default = spec.get("default")
            table.add("E182", ("choices", name, "default"),
                      f"default {shown(default)} is not an option of {name!r}{did_you_mean(str(default), spec['options'])}",
                      f"默认值 {shown(default)} 不是 {name!r} 的选项{did_you_mean_zh(str(default), spec['options'])}")
