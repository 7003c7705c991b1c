"""Validate stage: every problem in a rule pack, each with a code, `file:line:col` and a fix.

Two passes: the JSON Schema (shape, field names, types), then meaning (references between
inputs, parameters and criteria; units; operators; enum values; unused parameters). Both pass
collect everything they find; the caller sorts and shows it.
"""

from __future__ import annotations

import math
from typing import Any

from engine.validate.limits import limit_problems
from engine.core.graph import cycles
from engine.core.problems import WARNING, Problem, ProblemsError, has_errors, clip, kind_zh, shown
from engine.core.numbers import slot_fits, slot_message
from engine.core.units import AmountError, parse_param_value, parse_unit
from engine.load.variants import resolve as resolve_variant
from engine.load.yamlsafe import Document, iso_date, load_yaml_file
from engine.validate.format2 import check_format2
from engine.validate.schema_report import (SCHEMA_FILE, did_you_mean, did_you_mean_zh, schema,  # noqa: F401 (re-exported)
                                           schema_problems)
from engine.validate.validate_scoring import check_scoring
from engine.validate.targets import check_count, check_members, check_targets
from engine.validate.titles import check_title_placeholders

# at_least expands to combinations of its children, and they overlap: "unknown" is (fewer than
# k met) and (fewer than n-k+1 not met), up to C(n,k)·C(n,n-k+1) rules that can fire together.
# Measured: every at_least of plain criteria with that product above 56 (compile's firing budget,
# MAX_FIRINGS_PER_GROUP) failed to compile (2 of 6: 90), every one at or below it compiled.
MAX_COMBINATIONS = 56



# ---------------------------------------------------------------------------------------------
# Pass 2: meaning

_NUMERIC = ("money", "count", "percent", "area")
_UNIT_DIMENSION = {"money": "money", "count": "count", "percent": "percent", "area": "area"}
_CMP = (">=", ">", "<=", "<", "=", "!=")


class _Semantics:
    def __init__(self, doc: Document):
        self.doc = doc
        self.value: dict[str, Any] = doc.value if isinstance(doc.value, dict) else {}
        self.problems: list[Problem] = []
        self.inputs: dict[str, dict[str, Any]] = {}
        self.dims: dict[str, str] = {}
        self.param_dims: dict[str, str | None] = {}
        self.used_params: set[str] = set()
        self.ids: dict[str, tuple[Any, ...]] = {}
        # Signs: numeric inputs (and derived values) that may be negative; parameters with a
        # negative value, where it is written. See check_sign.
        self.signed: set[str] = set()
        self.negative_params: dict[str, tuple[Any, tuple[Any, ...]]] = {}
        self.after_parameters: list[Any] = []  # checks that need the parameters read first

    def add(self, code: str, message: str, path: tuple[Any, ...], severity: str = "error", zh: str = "") -> None:
        """One problem; `zh` is its Chinese message for officers (every call gives one)."""
        self.problems.append(self.doc.problem(code, message, path, severity, zh))

    def run(self) -> list[Problem]:
        self.check_inputs()
        self.check_derived()
        self.check_parameters()
        for check in self.after_parameters:
            check()
        criteria = self.value.get("criteria")
        if isinstance(criteria, dict):
            self.check_node(criteria, ("criteria",))
        for i, flag in enumerate(self.value.get("flags") or []):
            if isinstance(flag, dict):
                self.claim_id(flag.get("id"), ("flags", i, "id"))
                if isinstance(flag.get("when"), dict):
                    self.check_condition(flag["when"], ("flags", i, "when"))
        if (self.value.get("pack") or {}).get("kind") == "targets":
            check_targets(self)
        if (self.value.get("pack") or {}).get("kind") == "scoring":
            check_scoring(self)
        check_title_placeholders(self)  # {parameter} in titles (E120)
        for name in self.param_dims:
            if name not in self.used_params:
                self.add("W200", f"parameter {name!r} is declared but no criterion uses it",
                         ("parameters", name), WARNING,
                         zh=f"参数 {name!r} 已声明，但没有任何条件使用它；请删除它或在条件中引用")
        return self.problems

    def check_inputs(self) -> None:
        for name, spec in (self.value.get("inputs") or {}).items():
            if not isinstance(spec, dict):
                continue
            self.inputs[name] = spec
            kind = spec.get("type")
            if spec.get("signed") is True:
                if kind in _NUMERIC:
                    self.signed.add(name)
                else:
                    self.add("E112", f"signed applies to money, count, percent and area inputs, not {kind}",
                             ("inputs", name, "signed"),
                             zh=f"signed 只适用于金额、数量、百分比和面积类输入，不适用于 {kind}")
            if kind in _NUMERIC and isinstance(spec.get("unit"), str):
                unit = parse_unit(spec["unit"])
                if unit is None:
                    self.add("E112", f"unknown unit {shown(spec['unit'])}; use e.g. 元, 万元, 亿元, 亩, "
                             "平方米, 万平方米, %, 家, 个", ("inputs", name, "unit"),
                             zh=f"未知单位 {shown(spec['unit'])}；请使用 元、万元、亿元、亩、平方米、万平方米、%、家、个 等")
                elif unit.dimension != _UNIT_DIMENSION[kind]:
                    self.add("E122", f"input {name!r} is {kind} but its unit {unit.name!r} measures "
                             f"{unit.dimension}", ("inputs", name, "unit"),
                             zh=f"输入项 {name!r} 的类型是 {kind_zh(kind)}，但单位 {unit.name!r} 计量的是 {kind_zh(unit.dimension)}；"
                             "请让类型与单位一致")
                else:
                    self.dims[name] = unit.dimension
            elif kind in ("date", "enum", "boolean", "attestation", "text"):
                self.dims[name] = kind
            elif kind == "members":
                check_members(self, name, spec)

    def check_derived(self) -> None:
        derived = {n: s for n, s in (self.value.get("derived") or {}).items() if isinstance(s, dict)}
        in_cycle: set[tuple[str, str]] = set()  # (derived value, operand) edges already reported
        for cycle in derived_cycles(derived):
            text = " → ".join(cycle)
            in_cycle |= set(zip(cycle, cycle[1:]))
            self.add("E142", f"derived values are defined in terms of themselves: {text}; such a value "
                     "could never be computed (it would always be unknown)", ("derived", cycle[0]),
                     zh=f"派生值循环引用了自身：{text}；这样的值永远无法计算（总是无法判定），请改正其定义")
        for name, spec in derived.items():
            if name in self.inputs:
                self.add("E121", f"derived value {name!r} has the same name as an input", ("derived", name),
                         zh=f"派生值 {name!r} 与某个输入项同名；请改用另一个名称")
            unit = parse_unit(spec["unit"]) if isinstance(spec.get("unit"), str) else None
            if unit is None:
                self.add("E112", f"unknown unit {shown(spec.get('unit'))}; use e.g. 万元/亩", ("derived", name, "unit"),
                         zh=f"未知单位 {shown(spec.get('unit'))}；请使用如 万元/亩 这样的单位")
                continue
            self.inputs[name] = {"type": "derived"}
            self.dims[name] = unit.dimension
            if "count" in spec:
                check_count(self, name, spec, unit)
                continue
            operands: list[tuple[str, tuple[Any, ...]]] = []
            if isinstance(spec.get("ratio"), dict):
                operands = [(spec["ratio"].get(k), ("derived", name, "ratio", k)) for k in ("of", "per")]
            elif isinstance(spec.get("sum"), list):
                operands = [(o, ("derived", name, "sum", i)) for i, o in enumerate(spec["sum"])]
            elif isinstance(spec.get("difference"), dict):
                operands = [(spec["difference"].get(k), ("derived", name, "difference", k)) for k in ("of", "minus")]
            dims = []
            if "difference" in spec or any(o in self.signed for o, _ in operands):
                self.signed.add(name)  # a difference may be negative; so may a sum of signed values
            for operand, path in operands:
                if (name, operand) in in_cycle:
                    dims.append(None)  # reported above as a cycle
                    continue
                if isinstance(operand, str) and operand in derived and operand not in self.dims:
                    # values are derived in the order they are declared
                    self.add("E120", f"derived value {operand!r} is declared after {name!r}, which uses it; "
                             "declare it first", path,
                             zh=f"派生值 {operand!r} 在使用它的 {name!r} 之后才声明；请把它移到前面")
                    dims.append(None)
                elif operand not in self.dims or self.inputs.get(operand, {}).get("type") not in _NUMERIC + ("derived",):
                    self.add("E120", f"{shown(operand)} is not a numeric input{did_you_mean(operand, self.inputs)}", path,
                             zh=f"{shown(operand)} 不是数值型输入项{did_you_mean_zh(operand, self.inputs)}")
                    dims.append(None)
                else:
                    dims.append(self.dims[operand])
            if None in dims or not dims:
                continue
            expected = f"{dims[0]}/{dims[1]}" if "ratio" in spec and dims[0] != dims[1] else (
                "ratio" if "ratio" in spec else dims[0])
            if "ratio" not in spec and len(set(dims)) > 1:
                self.add("E122", f"cannot add or subtract {' and '.join(sorted(set(dims)))}", ("derived", name),
                         zh=f"不同计量的值（{'、'.join(kind_zh(d) for d in sorted(set(dims)))}）不能相加或相减；请使用同一种计量的输入项")
            elif unit.dimension != expected and not (expected == "ratio" and unit.dimension == "percent"):
                self.add("E122", f"derived value {name!r} has unit {unit.name!r} ({unit.dimension}) but "
                         f"its formula gives {expected}", ("derived", name, "unit"),
                         zh=f"派生值 {name!r} 的单位是 {unit.name!r}（{kind_zh(unit.dimension)}），但其公式得出的是 {kind_zh(expected)}；"
                         "请改正单位或公式")

    def check_parameters(self) -> None:
        for name, spec in (self.value.get("parameters") or {}).items():
            if not isinstance(spec, dict):
                continue
            written: list[tuple[Any, tuple[Any, ...]]] = []
            if "value" in spec:
                written.append((spec["value"], ("parameters", name, "value")))
            for i, dated in enumerate(spec.get("values") or []):
                if isinstance(dated, dict):
                    written.append((dated.get("value"), ("parameters", name, "values", i, "value")))
                    if iso_date(dated.get("since")) is None:
                        self.add("E112", f"since must be a date such as 2024-01-01, not {shown(dated.get('since'))}",
                                 ("parameters", name, "values", i, "since"),
                                 zh=f"since 应为日期（如 2024-01-01），而不是 {shown(dated.get('since'))}")
            self.param_dims[name] = None
            if "unset" in spec:
                self.add("W201", f"parameter {name!r} has no value: the policy sets no number; "
                         "criteria using it are undetermined until an officer supplies one "
                         "(--set or an override file)", ("parameters", name), WARNING,
                         zh=f"参数 {name!r} 没有数值：政策未给出具体数字；在主管部门给出数值之前（用 --set 或覆盖文件），"
                         "使用它的条件无法判定")
            dims = set()
            for raw, path in written:
                if raw is None or (isinstance(raw, str) and not raw.strip()):
                    # "The policy sets no number" is only ever said when the pack says so
                    # (unset: why); a blank value is far more often a slip of the keyboard.
                    self.add("E143", f"parameter {name!r} has a blank value; write the number the "
                             "policy sets (such as 10亿元), or, if the policy gives none, replace value "
                             "with unset: and the reason", path,
                             zh=f"参数 {name!r} 的数值为空；请填写政策规定的数值（如 10亿元）；"
                             "如政策确未给出数值，请删去 value,改写 unset: 并注明原因")
                    continue
                try:
                    value, unit, dim = parse_param_value(raw)
                except AmountError as error:
                    self.add("E123", f"cannot read the amount {shown(raw)}: {clip(error)}", path,
                             zh=f"无法读取数额 {shown(raw)}；请写成数字加单位，如 10亿元、5000万元、30%")
                    continue
                if not slot_fits(value):
                    en, zh = slot_message(raw, value, unit)
                    self.add("E140", f"parameter {name!r}: {en}", path, zh=f"参数 {name!r}：{zh}")
                    continue
                if value < 0:
                    if spec.get("signed") is not True:
                        self.add("E141", f"parameter {name!r} is negative ({shown(str(raw))}); thresholds "
                                 "are 0 or more unless the parameter says signed: true (and every input "
                                 "compared with it is signed too), for example a decline of at most 5%",
                                 path, zh=f"参数 {name!r} 为负数（{shown(str(raw))}）；阈值应不小于 0。"
                                 "如政策确实规定负数（如降幅），请在该参数下写 signed: true,"
                                 "并在与之比较的输入下也写 signed: true")
                        continue
                    self.negative_params.setdefault(name, (raw, path))
                dims.add(dim)
            if len(dims) > 1:
                self.add("E122", f"parameter {name!r} has values in different units", ("parameters", name),
                         zh=f"参数 {name!r} 的各个数值单位不一致；请统一单位")
            elif dims:
                self.param_dims[name] = dims.pop()

    def claim_id(self, ident: Any, path: tuple[Any, ...]) -> None:
        if not isinstance(ident, str):
            return
        if ident in self.ids:
            line = self.doc.where(self.ids[ident])[0]
            self.add("E121", f"id {shown(ident)} is already used (line {line}); ids must be unique", path,
                     zh=f"id {shown(ident)} 已在第 {line} 行使用过；id 不能重复，请改名")
        else:
            self.ids[ident] = path

    def check_sign(self, name: Any, param: Any, path: tuple[Any, ...], what: str = "input") -> None:
        """A negative threshold compared with a value that cannot be negative decides nothing
        (">= -5亿元" is always met): refuse it unless the value is declared signed."""
        if param not in self.negative_params or name in self.signed:
            return
        raw, _ = self.negative_params[param]
        self.add("E141", f"parameter {param!r} is negative ({shown(str(raw))}) but {what} {name!r} is never "
                 f"negative (money, area, percent and counts are 0 or more unless the {what} says "
                 "signed: true): the comparison would decide nothing", path,
                 zh=f"参数 {param!r} 为负数（{shown(str(raw))}），但 {name!r} 不会为负数（金额、面积、"
                 "百分比和数量默认不小于 0，除非注明 signed: true），这样的比较没有意义；请检查符号")

    def check_node(self, node: dict[str, Any], path: tuple[Any, ...]) -> None:
        self.claim_id(node.get("id"), path + ("id",))
        if "cite" not in node and isinstance(node.get("id"), str):
            self.add("W202", f"criterion {shown(node['id'])} has no clause citation (cite: 二(四))",
                     path + ("id",), WARNING,
                     zh=f"条件 {shown(node['id'])} 没有注明政策条款；请加上 cite，如 cite: 二(四)")
        if isinstance(node.get("test"), dict):
            self.check_test(node["test"], path + ("test",))
        for kind in ("all", "any"):
            for i, child in enumerate(node.get(kind) or []):
                if isinstance(child, dict):
                    self.check_node(child, path + (kind, i))
        if isinstance(node.get("at_least"), dict):
            of = node["at_least"].get("of") or []
            k = node["at_least"].get("k")
            for i, child in enumerate(of):
                if isinstance(child, dict):
                    self.check_node(child, path + ("at_least", "of", i))
            # k outside 1..len(of) is E157 (engine/limits.py); only a k in range has combinations
            if isinstance(k, int) and 1 <= k <= len(of) and math.comb(len(of), k) * math.comb(len(of), len(of) - k + 1) > MAX_COMBINATIONS:
                self.add("E126", f"at_least {k} of {len(of)} expands to too many combinations for the "
                         "engine; split it into groups", path + ("at_least",),
                         zh=f"“{len(of)} 项中至少满足 {k} 项”展开后组合太多，引擎无法处理；请拆分成几组")
        if isinstance(node.get("not"), dict):
            self.check_node(node["not"], path + ("not",))
        for i, case in enumerate(node.get("cases") or []):
            if isinstance(case, dict):
                if isinstance(case.get("when"), dict):
                    self.check_condition(case["when"], path + ("cases", i, "when"))
                if isinstance(case.get("then"), dict):
                    self.check_node(case["then"], path + ("cases", i, "then"))

    def check_condition(self, cond: dict[str, Any], path: tuple[Any, ...]) -> None:
        for kind in ("all", "any"):
            if isinstance(cond.get(kind), list):
                for i, child in enumerate(cond[kind]):
                    if isinstance(child, dict):
                        self.check_condition(child, path + (kind, i))
                return
        if isinstance(cond.get("not"), dict):
            self.check_condition(cond["not"], path + ("not",))
            return
        self.check_test(cond, path)

    def check_test(self, test: dict[str, Any], path: tuple[Any, ...]) -> None:
        if "attested" in test:
            name = test["attested"]
            spec = self.inputs.get(name)
            if spec is None:
                self.add("E120", f"unknown input {shown(name)}{did_you_mean(name, self.inputs)}", path + ("attested",),
                         zh=f"未知输入项 {shown(name)}{did_you_mean_zh(name, self.inputs)}")
            elif spec.get("type") != "attestation":
                self.add("E124", f"input {name!r} is {spec.get('type')}, not an attestation; "
                         "write {input: NAME, op: ..., param: ...}", path + ("attested",),
                         zh=f"输入项 {name!r} 的类型是 {kind_zh(spec.get('type'))}，不是承诺/证明类；"
                         "请写成 {input: 名称, op: ..., param: ...}")
            return
        name, op = test.get("input"), test.get("op")
        if name is None or op is None:
            return  # the schema reported it
        spec = self.inputs.get(name)
        if spec is None:
            self.add("E120", f"unknown input {shown(name)}{did_you_mean(name, self.inputs)}", path + ("input",),
                     zh=f"未知输入项 {shown(name)}{did_you_mean_zh(name, self.inputs)}")
            return
        kind = spec.get("type")
        allowed = {
            "enum": ("in", "not_in"),
            "boolean": ("is_true", "is_false"),
            "attestation": (),
            "text": (),
            "members": (),
            "date": _CMP,
        }.get(kind, _CMP)
        if op not in allowed:
            hint = ("use {attested: %s}" % name) if kind == "attestation" else (
                f"allowed: {', '.join(allowed)}" if allowed else "no comparison is possible")
            hint_zh = ("请写成 {attested: %s}" % name) if kind == "attestation" else (
                f"可用的运算符：{', '.join(allowed)}" if allowed else "这类输入项不能比较")
            self.add("E124", f"operator {shown(op)} does not apply to {kind} input {name!r}; {hint}", path + ("op",),
                     zh=f"运算符 {shown(op)} 不适用于 {kind_zh(kind)} 类型的输入项 {name!r}；{hint_zh}")
            return
        if op in _CMP:
            param = test.get("param")
            if param is None:
                self.add("E111", f"operator {op!r} needs a parameter: param: NAME", path,
                         zh=f"运算符 {op!r} 需要一个参数；请写 param: 参数名")
                return
            if "values" in test:
                self.add("E112", "values belong to in / not_in; comparisons use param", path + ("values",),
                         zh="values 只用于 in / not_in；比较运算请用 param")
            self.used_params.add(param)
            if param not in self.param_dims:
                self.add("E120", f"unknown parameter {shown(param)}{did_you_mean(param, self.param_dims)}", path + ("param",),
                         zh=f"未知参数 {shown(param)}{did_you_mean_zh(param, self.param_dims)}")
                return
            pdim, idim = self.param_dims[param], self.dims.get(name)
            if pdim is not None and idim is not None and pdim != idim:
                self.add("E122", f"unit mismatch: {name!r} measures {idim} but parameter {param!r} "
                         f"measures {pdim}", path,
                         zh=f"单位不一致：{name!r} 计量的是 {kind_zh(idim)}，而参数 {param!r} 计量的是 {kind_zh(pdim)}；请让两者单位一致")
            elif kind != "date":
                self.check_sign(name, param, path + ("param",))
        elif op in ("in", "not_in"):
            declared = spec.get("values") or {}
            if "param" in test:
                self.add("E112", "in / not_in take values: [...], not param", path + ("param",),
                         zh="in / not_in 应写 values: [...]，而不是 param")
            for i, value in enumerate(test.get("values") or []):
                if value not in declared:
                    self.add("E125", f"{shown(value)} is not a value of {name!r}{did_you_mean(value, declared)} "
                             f"(declared: {', '.join(declared)})", path + ("values", i),
                             zh=f"{shown(value)} 不是输入项 {name!r} 的取值{did_you_mean_zh(value, declared)}"
                             f"（已声明的取值：{', '.join(declared)}）")


def _operands(spec: dict[str, Any]) -> list[Any]:
    if isinstance(spec.get("ratio"), dict):
        return [spec["ratio"].get("of"), spec["ratio"].get("per")]
    if isinstance(spec.get("sum"), list):
        return list(spec["sum"])
    if isinstance(spec.get("difference"), dict):
        return [spec["difference"].get("of"), spec["difference"].get("minus")]
    return []


def derived_cycles(derived: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Each cycle among derived values once, as [a, b, …, a] starting at its first declared member.

    Iterative depth-first search: a pack can declare thousands of derived values in a chain."""
    graph = {name: [o for o in _operands(spec) if isinstance(o, str) and o in derived]
             for name, spec in derived.items()}
    return cycles(graph)


def check_document(doc: Document) -> list[Problem]:
    """All problems in a parsed pack: schema first, then meaning."""
    if isinstance(doc.value, dict) and doc.value.get("format") == 2:
        return check_format2(doc)  # docs/format2.md: one namespace, values parsed when compiled
    problems = schema_problems(doc)
    try:
        problems += _Semantics(doc).run()
    except (AttributeError, TypeError, KeyError):
        # A document malformed enough to trip the semantic pass has schema errors already.
        if not has_errors(problems):
            raise
    if isinstance(doc.value, dict):
        # Bounded work: refuse here what would hang or exhaust the compiler (engine/validate/limits.py);
        # a targets pack's lowered tree and E158 need the compiler: engine.compile.check adds them.
        try:
            problems += limit_problems(doc.value, document=doc)
        except (AttributeError, TypeError, KeyError, ValueError):
            if not has_errors(problems):
                raise
    return sorted(set(problems))


def validate_file(path: str) -> tuple[Document | None, bytes, list[Problem]]:
    """Load and check one pack; never raises for problems in the file."""
    try:
        doc, raw = load_yaml_file(path, max_bytes=4 * 1024 * 1024)
    except ProblemsError as error:
        return None, b"", list(error.problems)
    if isinstance(doc.value, dict) and doc.value.get("format") == 2:
        try:
            doc, _ = resolve_variant(doc, raw)  # pack.extends: check the merged pack (engine.load.variants)
        except ProblemsError as error:
            return None, raw, list(error.problems)
    return doc, raw, check_document(doc)
