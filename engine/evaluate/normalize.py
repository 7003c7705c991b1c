"""Normalise one entity's raw fields to the pack's declared input types.

Everything the decision paths see has passed through here: money, areas and percentages as exact
`Fraction`s in base units, counts as non-negative integers, yes/no as bool, enum values as their
ids, dates as ordinals. A value of the wrong type or unit is *not* guessed at: it becomes
missing (so criteria that need it are unknown) and a problem explains what was expected.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from engine.load.entities import RawEntity, label_ids
from engine.compile.model import CompiledPack, InputSpec
from engine.core.problems import ERROR, WARNING, Problem, shown
from engine.core.numbers import COMPARE, OUT_OF_BOUNDS, value_in_bounds
from engine.core.units import AmountError, format_amount, fraction_json, parse_amount
from engine.core.suggest import did_you_mean
from engine.load.yamlsafe import iso_date

_TRUE = {"true", "yes", "y", "1", "是", "有", "符合", "满足", "对", "√", "✓", "t", "滿足", "對"}
_FALSE = {"false", "no", "n", "0", "否", "无", "不符合", "不满足", "错", "×", "✗", "f", "無", "不滿足", "錯"}
_EVIDENCE_KEYS = ("value", "by", "date", "ref", "note")


@dataclass
class Normalised:
    values: dict[str, Any]  # input name -> normalised value (absent = unknown)
    evidence: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # input -> why it is missing
    counted: dict[str, dict[str, Any]] = field(default_factory=dict)  # count -> which members counted


class BadValue(ValueError):
    """A value that cannot be used, with the message in English (str) and Chinese (`zh`)."""

    def __init__(self, en: str, zh: str = ""):
        super().__init__(en)
        self.zh = zh or en


def _hint_zh(hint: str) -> str:
    """The Chinese of a did_you_mean() hint ("; did you mean 'x'?")."""
    prefix = "; did you mean "
    return f"; 是否应为 {hint[len(prefix):-1]}?" if hint.startswith(prefix) else hint


def _yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise BadValue(f"{shown(value)} is not yes/no; write 是 or 否 (yes or no)",
                   f"{shown(value)} 不是 是/否; 请填写 是 或 否")


class SignError(ValueError):
    """A negative amount for an input that is never negative (E144)."""


def _one(spec: InputSpec, raw: Any) -> Any:
    """The normalised value, or raise BadValue with a message for the officer."""
    kind = spec.type
    if kind in ("money", "area", "percent", "count"):
        if isinstance(raw, bool):
            raise BadValue(f"{raw!r} is yes/no, not an amount", f"{raw!r} 是 是/否 值, 不是数量")
        try:
            value, unit = parse_amount(raw, spec.unit)
        except AmountError as error:
            raise BadValue(str(error), error.zh) from None
        assert spec.unit is not None
        if unit.dimension != spec.unit.dimension:
            raise BadValue(
                f"{shown(raw)} is in {unit.name} ({unit.dimension}) but {spec.name} is measured in "
                f"{spec.unit.name}",
                f"{shown(raw)} 的单位是 {unit.name}, 而 {spec.name} 应以 {spec.unit.name} 计量")
        if kind == "count":
            if value.denominator != 1 or (value < 0 and not spec.signed):
                raise BadValue(f"{shown(raw)} is not a whole number of {spec.unit.name} (0 or more)",
                               f"{shown(raw)} 不是非负整数 ({spec.unit.name})")
            return int(value)
        if value < 0 and not spec.signed:
            # Money, area and percent are 0 or more unless the pack declares the input signed
            # (a growth rate): "-3亿元" is a slip, not a value to compare with a threshold.
            raise SignError(f"{shown(str(raw))} is negative, but {spec.name} is 0 or more "
                            "(the pack does not declare it signed)")
        return value
    if kind in ("boolean", "attestation"):
        return _yes_no(raw)
    if kind == "enum":
        text = str(raw).strip()
        if text in spec.values:
            return text
        for ident, label in spec.values.items():
            if text in (label.get("zh"), label.get("en")):
                return ident
        choices = ", ".join(f"{k} ({v.get('zh', '')})" for k, v in spec.values.items())
        hint = did_you_mean(text, spec.values)
        raise BadValue(f"{shown(raw)} is not one of: {choices}{hint}",
                       f"{shown(raw)} 不是以下取值之一: {choices}{_hint_zh(hint)}")
    if kind == "date":
        date = iso_date(raw) if isinstance(raw, (str, dt.date)) else None
        if date is None:
            raise BadValue(f"{shown(raw)} is not a date; write it as 2024-03-01",
                           f"{shown(raw)} 不是日期; 请写作 2024-03-01 的形式")
        return Fraction(date.toordinal())
    if kind == "members":
        return normalise_members(spec, raw)
    if kind == "text":
        return str(raw)
    raise BadValue(f"input type {kind!r} cannot be read from data", f"输入类型 {kind!r} 无法从数据中读取")


def _derive(spec: InputSpec, values: dict[str, Any]) -> tuple[Any, str | None]:
    assert spec.derived is not None
    how, operands = spec.derived
    missing = [o for o in operands if values.get(o) is None]
    if missing:
        return None, f"needs {', '.join(missing)}"
    nums = [Fraction(values[o]) for o in operands]
    if how == "sum":
        result = sum(nums, Fraction(0))
    elif how == "difference":
        result = nums[0] - nums[1]
    else:
        if nums[1] == 0:
            return None, f"{operands[1]} is 0, so the ratio is undefined"
        result = nums[0] / nums[1]
    assert spec.unit is not None
    if how == "ratio" and spec.unit.dimension == "percent":
        result *= 100  # a share of like quantities, shown in percent
    # Base units divide into base units (元 / 平方米), so the result is already in the base of
    # the derived unit (万元/亩 = 15 元/平方米), like every other quantity.
    if not value_in_bounds(result):
        # as a format-2 value: unknown, never a clamped 60-digit amount (engine.core.numbers)
        return None, OUT_OF_BOUNDS[0]
    return result, None


@functools.lru_cache(maxsize=4096)
def _suggest(key: str, names: tuple[str, ...]) -> str:
    # One unknown column repeats on every row of a batch: work the hint out once (difflib is slow).
    return did_you_mean(key, names)


def normalise(pack: CompiledPack, entity: RawEntity) -> Normalised:
    out = Normalised(values={})
    known = set(pack.inputs)
    pack_names = tuple(sorted(known))
    labels = label_ids(pack)
    for key, raw in entity.fields.items():
        base, _, sub = key.partition(".")
        if key not in known and key.strip().casefold() in labels:
            base, sub = labels[key.strip().casefold()], ""  # a spreadsheet header that is the input's label
        elif base not in known and base.strip().casefold() in labels:
            base = labels[base.strip().casefold()]  # 历史传承厚重.by
        line, col = entity.positions.get(key, (entity.line, 1))
        if base not in known or pack.inputs[base].derived is not None:
            hint = _suggest(key, pack_names)
            out.problems.append(Problem(entity.file, line, col, "E130",
                                        f"entity {entity.id}: unknown field {shown(key)}{hint}",
                                        entity.id, WARNING,
                                        message_zh=f"对象 {entity.id}: 未知字段 {shown(key)}{_hint_zh(hint)}"))
            continue
        spec = pack.inputs[base]
        if sub:
            # Evidence columns in spreadsheets: heritage.by, heritage.date, heritage.ref
            if spec.type == "attestation" and sub in _EVIDENCE_KEYS[1:]:
                out.evidence.setdefault(base, {})[sub] = str(raw)
            else:
                out.problems.append(Problem(entity.file, line, col, "E130",
                                            f"entity {entity.id}: unknown field {shown(key)}", entity.id, WARNING,
                                            message_zh=f"对象 {entity.id}: 未知字段 {shown(key)}"))
            continue
        if spec.type == "attestation" and isinstance(raw, dict):
            extra = sorted(set(raw) - set(_EVIDENCE_KEYS))
            if extra:
                out.problems.append(Problem(entity.file, line, col, "E130",
                                            f"entity {entity.id}: {key}: unknown evidence field {shown(extra[0])} "
                                            f"(allowed: {', '.join(_EVIDENCE_KEYS)})", entity.id, WARNING,
                                            message_zh=f"对象 {entity.id}: {key}: 未知的证明字段 {shown(extra[0])} "
                                                       f"(可用: {', '.join(_EVIDENCE_KEYS)})"))
            out.evidence.setdefault(base, {}).update(
                {k: str(v) for k, v in raw.items() if k in _EVIDENCE_KEYS[1:] and v is not None})
            raw = raw.get("value")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            out.notes[base] = "empty"
            continue
        try:
            out.values[base] = _one(spec, raw)
        except SignError as error:
            out.notes[base] = f"invalid: {error}"
            out.problems.append(Problem(entity.file, line, col, "E144",
                                        f"entity {entity.id}: {key}: {error}; treated as missing",
                                        entity.id, ERROR,
                                        message_zh=f"对象 {entity.id}：{key}：{shown(str(raw))} 为负数，"
                                        f"而该项不应为负数（规则包未声明 signed: true）；按缺失处理"))
        except ValueError as error:
            out.notes[base] = f"invalid: {error}"
            zh = getattr(error, "zh", "") or str(error)
            out.problems.append(Problem(entity.file, line, col, "E131",
                                        f"entity {entity.id}: {key}: {error}; treated as missing",
                                        entity.id, ERROR,
                                        message_zh=f"对象 {entity.id}: {key}: {zh}; 按缺失处理"))
    for name, spec in pack.inputs.items():
        if spec.derived is not None:
            if spec.derived[0] in ("count", "as_of"):
                value, why = derive(pack, spec, out.values, out.counted)
            else:
                value, why = _derive(spec, out.values)
            if value is None:
                out.notes[name] = why or "missing"
            else:
                out.values[name] = value
    return out


# Member lists (targets packs): each member's fields read like inputs, and counts over them.


def normalise_members(spec: Any, raw: Any) -> list[dict[str, Any]]:
    """A list of member records: {"name": str, "values": {field: value}, "notes": {field: why}}."""
    if not isinstance(raw, list):
        raise ValueError(f"{spec.name} must be a list of records such as [{{name: …, …}}], not {raw!r}")
    out = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise ValueError(f"{spec.name} item {i} must be a record such as {{name: …}}, not {item!r}")
        name = str(item.get("name") or item.get("id") or f"#{i}")
        values: dict[str, Any] = {}
        notes: dict[str, str] = {}
        for key, fspec in (spec.members or {}).items():
            value = item.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                notes[key] = "not given"
                continue
            try:
                values[key] = _one(fspec, value)
            except ValueError as error:
                notes[key] = f"invalid: {error}"
        extra = sorted(set(item) - set(spec.members or {}) - {"name", "id"})
        if extra:
            raise ValueError(f"{spec.name} item {i} ({name}): unknown field {extra[0]!r} "
                             f"(declared: {', '.join(spec.members or {})})")
        out.append({"name": name, "values": values, "notes": notes})
    return out


def derive(pack: Any, spec: Any, values: dict[str, Any], counted: dict[str, Any]) -> tuple[Any, str | None]:
    """Value of a count or the clock; for counts, `counted[name]` says which members counted."""
    how, operands = spec.derived
    if how == "as_of":
        return Fraction(pack.as_of.toordinal()), None
    members_name, field, op, param_name = operands
    members = values.get(members_name)
    if members is None:
        return None, f"needs {members_name}"
    threshold = None
    if param_name:
        param = pack.params[param_name]
        if param.value is None:
            counted[spec.name] = {"members": members_name, "counted": [], "not_counted": [], "unknown": [],
                                  "parameter": param_name}
            return None, f"the policy sets no number for {param_name}"
        threshold = param.value
    fspec = pack.inputs[members_name].members.get(field) if field else None
    yes, no, unknown = [], [], []
    for m in members:
        if not field:
            yes.append({"name": m["name"]})
            continue
        value = m["values"].get(field)
        shown = format_amount(Fraction(value), fspec.unit) if (value is not None and fspec is not None and fspec.unit) else value
        entry = {"name": m["name"], "value": fraction_json(Fraction(value)) if isinstance(value, (int, Fraction)) and not isinstance(value, bool) else value}
        if fspec is not None and fspec.type == "date" and value is not None:
            # normalisation keeps a date as its day number; the record shows the date
            shown = entry["value"] = dt.date.fromordinal(int(value)).isoformat()
            entry["type"] = "date"
        if shown is not None:
            entry["text"] = str(shown)
        if value is None:
            entry["why"] = m["notes"].get(field, "not given")
            unknown.append(entry)
        elif COMPARE[op](Fraction(value), threshold):
            yes.append(entry)
        else:
            no.append(entry)
    counted[spec.name] = {"members": members_name, "field": field, "op": op, "parameter": param_name or None,
                          "counted": yes, "not_counted": no, "unknown": unknown}
    if unknown:
        names = "、".join(e["name"] for e in unknown)
        return None, f"{len(unknown)} member(s) of {members_name} lack {field}: {names}"
    return len(yes), None
