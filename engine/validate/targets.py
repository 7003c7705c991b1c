"""Checks of a targets pack (measures, targets, deadlines) and of member lists and counts.

Called from validate's meaning pass (engine.validate.validate._Semantics); `sem` collects problems
with file:line:col. engine.compile.targets lowers a pack that passed them to a criteria tree.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from engine.core.numbers import slot_fits, slot_message
from engine.core.problems import kind_zh, shown
from engine.core.suggest import did_you_mean, did_you_mean_zh
from engine.core.units import iso_date, parse_param_value, parse_unit

CLOCK = "as_of"  # the input that carries the evaluation date
_NUMERIC = ("money", "count", "percent", "area")


def check_members(sem: Any, name: str, spec: dict[str, Any]) -> None:
    sem.dims[name] = "members"
    for field, fspec in (spec.get("fields") or {}).items():
        if not isinstance(fspec, dict):
            continue
        if fspec.get("signed") is True:
            sem.signed.add(f"{name}.{field}")  # see validate._Semantics.check_sign
        if fspec.get("type") in _NUMERIC and isinstance(fspec.get("unit"), str):
            unit = parse_unit(fspec["unit"])
            if unit is None:
                sem.add("E112", f"unknown unit {shown(fspec['unit'])}; use e.g. 亿元, 万元, 亩, %, 家",
                        ("inputs", name, "fields", field, "unit"),
                        zh=f"未知单位 {shown(fspec['unit'])}；请使用 亿元、万元、亩、%、家 等")
            elif unit.dimension != fspec["type"]:
                sem.add("E122", f"member field {field!r} is {fspec['type']} but its unit {unit.name!r} measures "
                        f"{unit.dimension}", ("inputs", name, "fields", field, "unit"),
                        zh=f"成员字段 {field!r} 的类型是 {kind_zh(fspec['type'])}，但单位 {unit.name!r} 计量的是 "
                        f"{kind_zh(unit.dimension)}；请让类型与单位一致")


def check_count(sem: Any, name: str, spec: dict[str, Any], unit: Any) -> None:
    path = ("derived", name, "count")
    count = spec.get("count") or {}
    members = count.get("members")
    if unit.dimension != "count":
        sem.add("E122", f"a count is a number of members: its unit must be a count such as 个 or 家, not {unit.name!r}",
                ("derived", name, "unit"), zh=f"计数是成员的个数：单位应为 个 或 家 这样的数量单位，而不是 {unit.name!r}")
    mspec = sem.inputs.get(members)
    if mspec is None or mspec.get("type") != "members":
        choices = [n for n, s in sem.inputs.items() if s.get("type") == "members"]
        sem.add("E120", f"{shown(members)} is not a members input{did_you_mean(members, choices)}", path + ("members",),
                zh=f"{shown(members)} 不是成员列表类输入项{did_you_mean_zh(members, choices)}")
        return
    where = count.get("where")
    if not isinstance(where, dict):
        return
    fields = mspec.get("fields") or {}
    field, param = where.get("field"), where.get("param")
    if field not in fields:
        sem.add("E120", f"members {members!r} have no field {shown(field)}{did_you_mean(field, fields)}",
                path + ("where", "field"),
                zh=f"成员列表 {members!r} 没有字段 {shown(field)}{did_you_mean_zh(field, fields)}")
        return
    if param is None:
        return
    sem.used_params.add(param)
    declared = sem.value.get("parameters") or {}  # parameters are checked after derived values
    if param not in declared:
        sem.add("E120", f"unknown parameter {shown(param)}{did_you_mean(param, declared)}", path + ("where", "param"),
                zh=f"未知参数 {shown(param)}{did_you_mean_zh(param, declared)}")
        return
    ftype = fields[field].get("type")
    if ftype not in _NUMERIC + ("date",):
        sem.add("E124", f"member field {field!r} is {ftype}: it cannot be compared with a parameter", path + ("where",),
                zh=f"成员字段 {field!r} 的类型是 {kind_zh(ftype)}，不能与参数比较")
        return
    fdim = ftype if ftype == "date" else (parse_unit(fields[field].get("unit", "")) or parse_unit("个")).dimension
    pdim = _param_dimension(declared[param])
    if pdim is not None and pdim != fdim:
        sem.add("E122", f"unit mismatch: member field {field!r} measures {fdim} but parameter {param!r} measures {pdim}",
                path + ("where",), zh=f"单位不一致：成员字段 {field!r} 计量的是 {kind_zh(fdim)}，而参数 {param!r} 计量的是 "
                f"{kind_zh(pdim)}；请让两者单位一致")
    elif ftype != "date":
        # parameters are read after derived values: check the sign once they are
        sem.after_parameters.append(
            lambda: sem.check_sign(f"{members}.{field}", param, path + ("where", "param"), "member field"))


def _param_dimension(spec: Any) -> str | None:
    if not isinstance(spec, dict):
        return None
    written = [spec.get("value")] + [v.get("value") for v in spec.get("values") or [] if isinstance(v, dict)]
    for raw in written:
        if raw is None:
            continue
        try:
            return parse_param_value(raw)[2]
        except Exception:  # reported by the parameter checks
            return None
    return None


def check_targets(sem: Any) -> None:
    if CLOCK in sem.inputs:
        where = ("inputs", CLOCK) if CLOCK in (sem.value.get("inputs") or {}) else ("derived", CLOCK)
        sem.add("E121", f"{CLOCK!r} is reserved for the as-of date in a targets pack; rename this input", where,
                zh=f"{CLOCK!r} 在目标类规则包中保留给评估日期使用；请给这个输入项改名")
    if "criteria" in sem.value:
        sem.add("E110", "a targets pack lists targets, not criteria (pack.kind: targets)", ("criteria",),
                zh="目标类规则包（pack.kind: targets）应列出 targets，而不是 criteria")
    for i, t in enumerate(sem.value.get("targets") or []):
        if not isinstance(t, dict):
            continue
        path = ("targets", i)
        sem.claim_id(t.get("id"), path + ("id",))
        measure, target, tolerance = t.get("measure"), t.get("target"), t.get("tolerance")
        spec = sem.inputs.get(measure)
        mdim = sem.dims.get(measure)
        if spec is None:
            sem.add("E120", f"unknown input {shown(measure)}{did_you_mean(measure, sem.inputs)}", path + ("measure",),
                    zh=f"未知输入项 {shown(measure)}{did_you_mean_zh(measure, sem.inputs)}")
        elif spec.get("type") not in _NUMERIC + ("derived",):
            sem.add("E124", f"measure {measure!r} is {spec.get('type')}: a target needs a number", path + ("measure",),
                    zh=f"指标 {measure!r} 的类型是 {kind_zh(spec.get('type'))}；目标需要数值型指标")
            mdim = None
        for key, param in (("target", target), ("tolerance", tolerance)):
            if param is None:
                continue
            sem.used_params.add(param)
            if param not in sem.param_dims:
                sem.add("E120", f"unknown parameter {shown(param)}{did_you_mean(param, sem.param_dims)}", path + (key,),
                        zh=f"未知参数 {shown(param)}{did_you_mean_zh(param, sem.param_dims)}")
                continue
            pdim = sem.param_dims[param]
            if pdim is not None and mdim is not None and pdim != mdim:
                sem.add("E122", f"unit mismatch: {measure!r} measures {mdim} but parameter {param!r} measures {pdim}",
                        path + (key,), zh=f"单位不一致：{measure!r} 计量的是 {kind_zh(mdim)}，而参数 {param!r} 计量的是 "
                        f"{kind_zh(pdim)}；请让两者单位一致")
            elif key == "target" and spec is not None:
                sem.check_sign(measure, param, path + (key,))
        if tolerance in sem.param_dims and target in sem.param_dims:
            _check_tolerance_digits(sem, t, target, tolerance, path + ("tolerance",))
        years = t.get("years")
        if isinstance(years, list) and len(years) == 2 and all(isinstance(y, int) for y in years) and years[0] > years[1]:
            sem.add("E112", f"years: the first year {years[0]} is after the last {years[1]}", path + ("years",),
                    zh=f"years：起始年份 {years[0]} 晚于结束年份 {years[1]}；请调换顺序")
        elif isinstance(years, list) and len(years) == 2 and all(isinstance(y, int) for y in years) and years[1] - years[0] > 20:
            sem.add("E112", "years: at most 21 years in one target", path + ("years",),
                    zh="years：一个目标最多跨 21 年；请拆分")
        if t.get("deadline") is not None and iso_date_ok(t["deadline"]) is False:
            sem.add("E112", f"deadline must be a date such as 2025-12-31, not {shown(t['deadline'])}", path + ("deadline",),
                    zh=f"deadline 应为日期（如 2025-12-31），而不是 {shown(t['deadline'])}")


def _written_values(spec: Any) -> list[tuple[Any, Fraction]]:
    if not isinstance(spec, dict):
        return []
    written = [spec.get("value")] + [v.get("value") for v in spec.get("values") or [] if isinstance(v, dict)]
    out = []
    for raw in written:
        try:
            out.append((raw, parse_param_value(raw)[0]))
        except Exception:  # blank or unreadable: reported by the parameter checks
            continue
    return out


def _check_tolerance_digits(sem: Any, t: dict[str, Any], target: str, tolerance: str, path: tuple[Any, ...]) -> None:
    """The compiled threshold is target − tolerance (target + tolerance for <=, <): it must fit
    the engine's slots like a written threshold (E140), which two fitting values need not."""
    declared = sem.value.get("parameters") or {}
    high = t.get("op", ">=") in (">=", ">")
    for raw_t, value_t in _written_values(declared.get(target)):
        for raw_tol, value_tol in _written_values(declared.get(tolerance)):
            bar = value_t - value_tol if high else value_t + value_tol
            if not slot_fits(bar):
                written = f"{raw_t} {'−' if high else '+'} {raw_tol}"
                en, zh = slot_message(written, bar, None)
                sem.add("E140", f"target parameter {target!r} with tolerance parameter {tolerance!r}: {en}", path,
                        zh=f"目标 {target!r} 加减容差 {tolerance!r} 后：{zh}")
                return


def iso_date_ok(value: Any) -> bool:
    return iso_date(value) is not None
