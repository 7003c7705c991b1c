"""Validate stage: every problem in a rule pack, each with a code, `file:line:col` and a fix.

Two passes: the JSON Schema (shape, field names, types), then meaning (references between
inputs, parameters and criteria; units; operators; enum values; unused parameters). Both pass
collect everything they find; the caller sorts and shows it.
"""

from __future__ import annotations

import difflib
import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

import jsonschema

from .compile import THRESHOLD_LIMIT, parse_param_value
from .problems import WARNING, Problem, ProblemsError, has_errors
from .units import AmountError, parse_unit
from .yamlsafe import Document, iso_date, load_yaml_file

SCHEMA_FILE = "rulepack.schema.json"
MAX_COMBINATIONS = 252  # at_least expands to combinations of its children


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = resources.files("engine").joinpath("schema", SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


# ---------------------------------------------------------------------------------------------
# Pass 1: the schema

_DEF_HINTS = {
    "node": "a criterion needs an id and exactly one of: all, any, at_least, not, cases, test",
    "parameter": "a parameter needs exactly one of: value (such as 10亿元), values (dated), unset (why the policy gives no number)",
    "test": "a test is {attested: INPUT} or {input: INPUT, op: OPERATOR, param: PARAMETER} (or values: [...] for in / not_in)",
    "condition": "a condition is a test, or all / any / not of conditions",
    "derived": "a derived value needs exactly one of: ratio {of, per}, sum [...], difference {of, minus}",
}


def _which_def(error: jsonschema.ValidationError) -> str | None:
    defs = schema()["$defs"]
    for name, definition in defs.items():
        if error.schema is definition:
            return name
    return None


def _schema_problems(doc: Document) -> list[Problem]:
    validator = jsonschema.Draft202012Validator(schema())
    problems: list[Problem] = []
    for error in validator.iter_errors(doc.value):
        path = tuple(error.absolute_path)
        keyword = error.validator
        if keyword == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            instance = error.instance if isinstance(error.instance, dict) else {}
            for key in sorted(k for k in instance if k not in allowed):
                problems.append(
                    doc.problem(
                        "E110",
                        f"unknown field {key!r}{did_you_mean(key, allowed)} "
                        f"(allowed here: {', '.join(allowed)})",
                        path + (key,),
                    )
                )
        elif keyword == "required":
            problems.append(doc.problem("E111", f"required field missing: {error.message}", path))
        elif keyword in ("oneOf", "anyOf"):
            hint = _DEF_HINTS.get(_which_def(error) or "", None)
            # A node or test that matches no branch usually has one concrete fault inside;
            # report the deepest unknown-field error if there is one, else the hint.
            nested = [e for e in (error.context or []) if e.validator == "additionalProperties"]
            if hint is None and nested:
                continue
            problems.append(doc.problem("E112", hint or error.message, path))
        elif keyword == "propertyNames":
            problems.append(
                doc.problem(
                    "E112",
                    f"name {error.instance!r} must be lower-case letters, digits and _ "
                    "(e.g. lead_output)",
                    path,
                )
            )
        else:
            problems.append(doc.problem("E112", f"{error.message}", path))
    return problems


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

    def add(self, code: str, message: str, path: tuple[Any, ...], severity: str = "error") -> None:
        self.problems.append(self.doc.problem(code, message, path, severity))

    def run(self) -> list[Problem]:
        self.check_inputs()
        self.check_derived()
        self.check_parameters()
        criteria = self.value.get("criteria")
        if isinstance(criteria, dict):
            self.check_node(criteria, ("criteria",))
        for i, flag in enumerate(self.value.get("flags") or []):
            if isinstance(flag, dict):
                self.claim_id(flag.get("id"), ("flags", i, "id"))
                if isinstance(flag.get("when"), dict):
                    self.check_condition(flag["when"], ("flags", i, "when"))
        if (self.value.get("pack") or {}).get("kind") == "targets":
            from .targets import check_targets  # targets packs: measures, targets, deadlines

            check_targets(self)
        if (self.value.get("pack") or {}).get("kind") == "scoring":
            from .validate_scoring import check_scoring  # scoring packs: cohort, indicators, vetoes, awards

            check_scoring(self)
        for name in self.param_dims:
            if name not in self.used_params:
                self.add("W200", f"parameter {name!r} is declared but no criterion uses it",
                         ("parameters", name), WARNING)
        return self.problems

    def check_inputs(self) -> None:
        for name, spec in (self.value.get("inputs") or {}).items():
            if not isinstance(spec, dict):
                continue
            self.inputs[name] = spec
            kind = spec.get("type")
            if kind in _NUMERIC and isinstance(spec.get("unit"), str):
                unit = parse_unit(spec["unit"])
                if unit is None:
                    self.add("E112", f"unknown unit {spec['unit']!r}; use e.g. 元, 万元, 亿元, 亩, "
                             "平方米, 万平方米, %, 家, 个", ("inputs", name, "unit"))
                elif unit.dimension != _UNIT_DIMENSION[kind]:
                    self.add("E122", f"input {name!r} is {kind} but its unit {unit.name!r} measures "
                             f"{unit.dimension}", ("inputs", name, "unit"))
                else:
                    self.dims[name] = unit.dimension
            elif kind in ("date", "enum", "boolean", "attestation", "text"):
                self.dims[name] = kind
            elif kind == "members":
                from .targets import check_members  # lists of zones or firms, counted by `count`

                check_members(self, name, spec)

    def check_derived(self) -> None:
        for name, spec in (self.value.get("derived") or {}).items():
            if not isinstance(spec, dict):
                continue
            if name in self.inputs:
                self.add("E121", f"derived value {name!r} has the same name as an input", ("derived", name))
            unit = parse_unit(spec["unit"]) if isinstance(spec.get("unit"), str) else None
            if unit is None:
                self.add("E112", f"unknown unit {spec.get('unit')!r}; use e.g. 万元/亩", ("derived", name, "unit"))
                continue
            self.inputs[name] = {"type": "derived"}
            self.dims[name] = unit.dimension
            if "count" in spec:
                from .targets import check_count

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
            for operand, path in operands:
                if operand not in self.dims or self.inputs.get(operand, {}).get("type") not in _NUMERIC + ("derived",):
                    self.add("E120", f"{operand!r} is not a numeric input{did_you_mean(operand, self.inputs)}", path)
                    dims.append(None)
                else:
                    dims.append(self.dims[operand])
            if None in dims or not dims:
                continue
            expected = f"{dims[0]}/{dims[1]}" if "ratio" in spec and dims[0] != dims[1] else (
                "ratio" if "ratio" in spec else dims[0])
            if "ratio" not in spec and len(set(dims)) > 1:
                self.add("E122", f"cannot add or subtract {' and '.join(sorted(set(dims)))}", ("derived", name))
            elif unit.dimension != expected and not (expected == "ratio" and unit.dimension == "percent"):
                self.add("E122", f"derived value {name!r} has unit {unit.name!r} ({unit.dimension}) but "
                         f"its formula gives {expected}", ("derived", name, "unit"))

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
                        self.add("E112", f"since must be a date such as 2024-01-01, not {dated.get('since')!r}",
                                 ("parameters", name, "values", i, "since"))
            self.param_dims[name] = None
            if "unset" in spec or spec.get("value", 0) is None:
                self.add("W201", f"parameter {name!r} has no value: the policy sets no number; "
                         "criteria using it are undetermined until an officer supplies one "
                         "(--set or an override file)", ("parameters", name), WARNING)
            dims = set()
            for raw, path in written:
                if raw is None:
                    continue
                try:
                    value, _, dim = parse_param_value(raw)
                except AmountError as error:
                    self.add("E123", f"cannot read the amount: {error}", path)
                    continue
                if abs(value) > THRESHOLD_LIMIT:
                    self.add("E123", f"{raw!r} is too large for a threshold", path)
                    continue
                dims.add(dim)
            if len(dims) > 1:
                self.add("E122", f"parameter {name!r} has values in different units", ("parameters", name))
            elif dims:
                self.param_dims[name] = dims.pop()

    def claim_id(self, ident: Any, path: tuple[Any, ...]) -> None:
        if not isinstance(ident, str):
            return
        if ident in self.ids:
            line = self.doc.where(self.ids[ident])[0]
            self.add("E121", f"id {ident!r} is already used (line {line}); ids must be unique", path)
        else:
            self.ids[ident] = path

    def check_node(self, node: dict[str, Any], path: tuple[Any, ...]) -> None:
        self.claim_id(node.get("id"), path + ("id",))
        if "cite" not in node and isinstance(node.get("id"), str):
            self.add("W202", f"criterion {node['id']!r} has no clause citation (cite: 二(四))",
                     path + ("id",), WARNING)
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
            if isinstance(k, int) and k > len(of):
                self.add("E112", f"at_least k={k} but only {len(of)} criteria are listed", path + ("at_least", "k"))
            elif isinstance(k, int) and max(math.comb(len(of), k), math.comb(len(of), len(of) - k + 1)) > MAX_COMBINATIONS:
                self.add("E126", f"at_least {k} of {len(of)} expands to too many combinations for the "
                         "engine; split it into groups", path + ("at_least",))
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
                self.add("E120", f"unknown input {name!r}{did_you_mean(name, self.inputs)}", path + ("attested",))
            elif spec.get("type") != "attestation":
                self.add("E124", f"input {name!r} is {spec.get('type')}, not an attestation; "
                         "write {input: NAME, op: ..., param: ...}", path + ("attested",))
            return
        name, op = test.get("input"), test.get("op")
        if name is None or op is None:
            return  # the schema reported it
        spec = self.inputs.get(name)
        if spec is None:
            self.add("E120", f"unknown input {name!r}{did_you_mean(name, self.inputs)}", path + ("input",))
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
            self.add("E124", f"operator {op!r} does not apply to {kind} input {name!r}; {hint}", path + ("op",))
            return
        if op in _CMP:
            param = test.get("param")
            if param is None:
                self.add("E111", f"operator {op!r} needs a parameter: param: NAME", path)
                return
            if "values" in test:
                self.add("E112", "values belong to in / not_in; comparisons use param", path + ("values",))
            self.used_params.add(param)
            if param not in self.param_dims:
                self.add("E120", f"unknown parameter {param!r}{did_you_mean(param, self.param_dims)}", path + ("param",))
                return
            pdim, idim = self.param_dims[param], self.dims.get(name)
            if pdim is not None and idim is not None and pdim != idim:
                self.add("E122", f"unit mismatch: {name!r} measures {idim} but parameter {param!r} "
                         f"measures {pdim}", path)
        elif op in ("in", "not_in"):
            declared = spec.get("values") or {}
            if "param" in test:
                self.add("E112", "in / not_in take values: [...], not param", path + ("param",))
            for i, value in enumerate(test.get("values") or []):
                if value not in declared:
                    self.add("E125", f"{value!r} is not a value of {name!r}{did_you_mean(value, declared)} "
                             f"(declared: {', '.join(declared)})", path + ("values", i))


def check_document(doc: Document) -> list[Problem]:
    """All problems in a parsed pack: schema first, then meaning."""
    problems = _schema_problems(doc)
    try:
        problems += _Semantics(doc).run()
    except (AttributeError, TypeError, KeyError):
        # A document malformed enough to trip the semantic pass has schema errors already.
        if not has_errors(problems):
            raise
    return sorted(set(problems))


def validate_file(path: str) -> tuple[Document | None, bytes, list[Problem]]:
    """Load and check one pack; never raises for problems in the file."""
    try:
        doc, raw = load_yaml_file(path, max_bytes=4 * 1024 * 1024)
    except ProblemsError as error:
        return None, b"", list(error.problems)
    return doc, raw, check_document(doc)
