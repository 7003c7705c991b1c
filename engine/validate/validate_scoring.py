"""Validate stage, second pass, for `kind: scoring` packs: references, units and arithmetic.

Called by `validate._Semantics.run` after the schema and the shared checks. Codes:
E120 unknown input / indicator, E122 unit mismatch, E123 unreadable amount or points,
E124 input of the wrong type, E125 undeclared cohort value, E121 reserved or duplicate name,
W210 indicator maxima do not add up to the total, W211 an indicator's own arithmetic does not
reach its stated maximum (weights not 100%, full points or cap different from max),
W212 the award table does not add up to the stated award total, W202 no clause citation.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from engine.core.problems import WARNING, clip, kind_zh, shown
from engine.core.units import AmountError, parse_amount, parse_unit, to_fraction
from engine.core.suggest import did_you_mean, did_you_mean_zh

_NUMERIC = ("money", "count", "percent", "area", "derived")

# Inputs the scoring stage supplies after ranking; only consequences may read them.
RESULT_INPUTS: dict[str, dict[str, Any]] = {
    "result_rank": {"type": "count", "unit": "名", "label": {"zh": "本次评价名次", "en": "rank in this evaluation"}},
    "result_last": {"type": "boolean", "label": {"zh": "本次评价列所在类型最后一名", "en": "ranked last in its cohort"}},
}


def _points(raw: Any) -> Fraction | None:
    try:
        return to_fraction(raw)
    except AmountError:
        return None


# Numbers that have a sign by meaning: a negative step would give more points to a lower rank, a
# negative weight or maximum would subtract. Each is refused (E112), never scored silently.
_WHAT_ZH = {"max": "满分（max）", "weight": "权重", "full": "第一名得分（full）", "step": "每降一名扣分（step）",
            "floor": "最低得分（floor）", "cap": "封顶（cap）", "total max": "总分", "award": "奖励金额"}


def _in_range(sem: Any, value: Fraction | None, path: tuple[Any, ...], what: str, zero: bool) -> None:
    """Adds E112 when `value` is negative (or zero, unless `zero`)."""
    if value is None or value > 0 or (zero and value == 0):
        return
    need, need_zh = ("0 or more", "不能为负数") if zero else ("more than 0", "必须大于 0")
    written = f"{float(value * 100):g}%" if what == "weight" else f"{float(value):g}"  # display only
    sem.add("E112", f"{what} must be {need}, not {written}", path,
            zh=f"{_WHAT_ZH.get(what, what)}{need_zh}，这里写的是 {written}")


def _condition_inputs(cond: Any) -> list[str]:
    if not isinstance(cond, dict):
        return []
    out: list[str] = []
    for kind in ("all", "any"):
        for child in cond.get(kind) or []:
            out += _condition_inputs(child)
    if "not" in cond:
        out += _condition_inputs(cond["not"])
    for key in ("input", "attested"):
        if isinstance(cond.get(key), str):
            out.append(cond[key])
    return out


def _unit_of(sem: Any, name: str):  # noqa: ANN202
    spec = sem.value.get("inputs", {}).get(name) or (sem.value.get("derived") or {}).get(name) or {}
    return parse_unit(spec["unit"]) if isinstance(spec.get("unit"), str) else None


def _numeric_input(sem: Any, name: Any, path: tuple[Any, ...]) -> bool:
    if name not in sem.inputs:
        sem.add("E120", f"unknown input {shown(name)}{did_you_mean(name, sem.inputs)}", path,
                zh=f"未知输入项 {shown(name)}{did_you_mean_zh(name, sem.inputs)}")
        return False
    if sem.inputs[name].get("type") not in _NUMERIC:
        sem.add("E124", f"input {name!r} is {sem.inputs[name].get('type')}; points need a number "
                "(money, count, percent, area or a derived value)", path,
                zh=f"输入项 {name!r} 的类型是 {kind_zh(sem.inputs[name].get('type'))}；计分需要数值"
                "（金额、数量、百分比、面积或派生值）")
        return False
    return True


def _amount(sem: Any, raw: Any, name: str, path: tuple[Any, ...]) -> Fraction | None:
    unit = _unit_of(sem, name)
    try:
        value, written = parse_amount(raw, unit)
    except AmountError as error:
        sem.add("E123", f"cannot read the amount {shown(raw)}: {clip(error)}", path,
                zh=f"无法读取数额 {shown(raw)}；请写成数字加单位，如 10亿元、5000万元、30%")
        return None
    if unit is not None and written.dimension != unit.dimension:
        sem.add("E122", f"unit mismatch: {name!r} measures {unit.dimension} but {shown(raw)} is {written.dimension}",
                path, zh=f"单位不一致：{name!r} 计量的是 {kind_zh(unit.dimension)}，而 {shown(raw)} 是"
                f"{kind_zh(written.dimension)}；请改用相同计量的单位")
        return None
    return value


def _part_max(sem: Any, part: dict[str, Any], path: tuple[Any, ...]) -> Fraction | None:
    """The most points this part can give before weighting (None when unbounded or unreadable)."""
    if isinstance(part.get("rank"), dict):
        r = part["rank"]
        _numeric_input(sem, r.get("input"), path + ("rank", "input"))
        for key in ("full", "step"):
            if _points(r.get(key)) is None:
                sem.add("E123", f"{key} must be a number of points such as 10 or 0.5", path + ("rank", key),
                        zh=f"{key} 应为分值数字，如 10 或 0.5")
            else:
                _in_range(sem, _points(r.get(key)), path + ("rank", key), key, zero=key == "step")
        if r.get("floor") not in (None, "none"):
            _in_range(sem, _points(r.get("floor")), path + ("rank", "floor"), "floor", zero=True)
        return _points(r.get("full"))
    if isinstance(part.get("items"), list):
        for i, item in enumerate(part["items"]):
            if not isinstance(item, dict):
                continue
            where = path + ("items", i)
            if _numeric_input(sem, item.get("input"), where + ("input",)) and "per" in item:
                per = _amount(sem, item["per"], item["input"], where + ("per",))
                if per is not None and per <= 0:
                    sem.add("E123", "per must be more than 0", where + ("per",), zh="per 必须大于 0")
            if _points(item.get("points")) is None:
                sem.add("E123", "points must be a number such as 2 or 0.5", where + ("points",),
                        zh="points 应为分值数字，如 2 或 0.5")
        return None
    if isinstance(part.get("bands"), dict):
        b = part["bands"]
        best = None
        if _numeric_input(sem, b.get("input"), path + ("bands", "input")):
            for i, tier in enumerate(b.get("tiers") or []):
                if not isinstance(tier, dict):
                    continue
                for key in ("from", "to"):
                    if key in tier:
                        _amount(sem, tier[key], b["input"], path + ("bands", "tiers", i, key))
                pts = _points(tier.get("points"))
                if pts is not None:
                    best = pts if best is None else max(best, pts)
        return best
    return None


def check_scoring(sem: Any) -> None:
    doc = sem.value
    for name in RESULT_INPUTS:
        if name in (doc.get("inputs") or {}):
            sem.add("E121", f"input name {name!r} is reserved: the evaluation supplies it after ranking",
                    ("inputs", name), zh=f"输入项名称 {name!r} 为保留名称：由评估在排名后给出；请改名")
    cohort = doc.get("cohort") or {}
    cohort_values: dict[str, Any] = {}
    by = cohort.get("by")
    if by is not None:
        if by not in sem.inputs:
            sem.add("E120", f"unknown input {shown(by)}{did_you_mean(by, sem.inputs)}", ("cohort", "by"),
                    zh=f"未知输入项 {shown(by)}{did_you_mean_zh(by, sem.inputs)}")
        elif sem.inputs[by].get("type") != "enum":
            sem.add("E124", f"cohort input {by!r} must be an enum (e.g. zone type), not {sem.inputs[by].get('type')}",
                    ("cohort", "by"), zh=f"分组输入项 {by!r} 必须是枚举（如园区类型），而不是"
                    f"{kind_zh(sem.inputs[by].get('type'))}")
        else:
            cohort_values = sem.inputs[by].get("values") or {}

    # Indicators
    indicator_ids: list[str] = []
    maxima: list[Fraction] = []
    for i, ind in enumerate(doc.get("indicators") or []):
        if not isinstance(ind, dict):
            continue
        path = ("indicators", i)
        sem.claim_id(ind.get("id"), path + ("id",))
        if isinstance(ind.get("id"), str):
            indicator_ids.append(ind["id"])
            if "cite" not in ind:
                sem.add("W202", f"indicator {shown(ind['id'])} has no clause citation", path + ("id",), WARNING,
                        zh=f"指标 {shown(ind['id'])} 没有注明政策条款；请加上 cite，如 cite: 二(四)")
        stated = _points(ind.get("max"))
        if stated is None:
            sem.add("E123", "max must be a number of points such as 10", path + ("max",),
                    zh="max 应为分值数字，如 10")
            continue
        maxima.append(stated)
        _in_range(sem, stated, path + ("max",), "max", zero=False)
        reach: Fraction | None
        if isinstance(ind.get("weighted"), list):
            weights = Fraction(0)
            reach = Fraction(0)
            for j, part in enumerate(ind["weighted"]):
                if not isinstance(part, dict):
                    continue
                ppath = path + ("weighted", j)
                sem.claim_id(part.get("id"), ppath + ("id",))
                try:
                    value, unit = parse_amount(part.get("weight"), parse_unit("%"))
                    if unit.dimension != "percent":
                        raise AmountError(f"{shown(part.get('weight'))} is not a percentage")
                    weight = value / 100
                except AmountError as error:
                    sem.add("E123", f"weight must be a percentage such as 60%: {clip(error)}", ppath + ("weight",),
                            zh=f"权重 {shown(part.get('weight'))} 应为百分比，如 60%")
                    reach = None
                    continue
                _in_range(sem, weight, ppath + ("weight",), "weight", zero=False)
                weights += weight
                part_max = _part_max(sem, part, ppath)
                if part_max is None or reach is None:
                    reach = None
                else:
                    reach += weight * part_max
            if weights != 1:
                sem.add("W211", f"indicator {ind.get('id')!r}: weights add up to {weights * 100}%, not 100%",
                        path + ("weighted",), WARNING,
                        zh=f"指标 {ind.get('id')!r} 的各项权重合计为 {weights * 100}%，不是 100%；请核对")
        else:
            reach = _part_max(sem, ind, path)
        cap = _points(ind.get("cap")) if "cap" in ind else None
        if "cap" in ind and cap is None:
            sem.add("E123", "cap must be a number of points such as 10", path + ("cap",),
                    zh="cap 应为分值数字，如 10")
        if cap is not None:
            _in_range(sem, cap, path + ("cap",), "cap", zero=True)
            reach = cap if reach is None else min(reach, cap)
        if reach is not None and reach != stated:
            sem.add("W211", f"indicator {ind.get('id')!r} can give at most {reach} points but its max is {stated}",
                    path + ("max",), WARNING,
                    zh=f"指标 {ind.get('id')!r} 最多只能得 {reach} 分，但其满分（max）写的是 {stated}；请核对")
        elif reach is None:
            sem.add("W211", f"indicator {ind.get('id')!r} has no upper bound: give it a cap (e.g. cap: {stated})",
                    path + ("max",), WARNING,
                    zh=f"指标 {ind.get('id')!r} 的得分没有上限；请加上封顶，如 cap: {stated}")
    total = _points((doc.get("total") or {}).get("max"))
    if total is None and doc.get("total") is not None:
        sem.add("E123", "total max must be a number of points such as 100", ("total", "max"),
                zh="总分 max 应为分值数字，如 100")
    elif total is not None and total <= 0:
        _in_range(sem, total, ("total", "max"), "total max", zero=False)
    elif total is not None and maxima and sum(maxima, Fraction(0)) != total:
        sem.add("W210", f"indicator maxima add up to {sum(maxima, Fraction(0))}, not the stated total {total}",
                ("total", "max"), WARNING,
                zh=f"各指标满分合计为 {sum(maxima, Fraction(0))}，与写明的总分 {total} 不符；请核对")

    tie_break = ((doc.get("choices") or {}).get("tie_break") or {}).get("value") or []
    for j, ident in enumerate(tie_break if isinstance(tie_break, list) else []):
        if ident not in indicator_ids:
            sem.add("E120", f"unknown indicator {shown(ident)}{did_you_mean(ident, indicator_ids)}",
                    ("choices", "tie_break", "value", j),
                    zh=f"未知指标 {shown(ident)}{did_you_mean_zh(ident, indicator_ids)}")

    # Vetoes and consequences: conditions, decided like criteria.
    saved = dict(sem.inputs)
    for kind in ("vetoes", "consequences"):
        if kind == "consequences":
            for name, spec in RESULT_INPUTS.items():
                sem.inputs.setdefault(name, spec)
                sem.dims.setdefault(name, "count" if spec["type"] == "count" else spec["type"])
        for i, item in enumerate(doc.get(kind) or []):
            if not isinstance(item, dict):
                continue
            path = (kind, i)
            sem.claim_id(item.get("id"), path + ("id",))
            if "cite" not in item and isinstance(item.get("id"), str):
                sem.add("W202", f"{kind[:-1] if kind != 'vetoes' else 'veto'} {shown(item['id'])} has no clause citation",
                        path + ("id",), WARNING,
                        zh=f"{'否决项' if kind == 'vetoes' else '后果'} {shown(item['id'])} 没有注明政策条款；"
                        "请加上 cite，如 cite: 二(四)")
            if not isinstance(item.get("when"), dict):
                continue
            if kind == "vetoes":
                early = [n for n in _condition_inputs(item["when"]) if n in RESULT_INPUTS]
                if early:
                    sem.add("E120", f"veto {item.get('id')!r} reads {early[0]!r}, which is only known after "
                            "ranking; use it in consequences", path + ("when",),
                            zh=f"否决项 {item.get('id')!r} 用到了 {early[0]!r}，它要到排名之后才知道；"
                            "请把它写在 consequences 中")
                    continue
            sem.check_condition(item["when"], path + ("when",))
    sem.inputs = saved

    # Awards
    awards = doc.get("awards") or {}
    paid = Fraction(0)
    units = set()
    for cohort_value, places in (awards.get("by_cohort") or {}).items():
        if cohort_values and cohort_value not in cohort_values:
            sem.add("E125", f"{shown(cohort_value)} is not a value of {by!r}{did_you_mean(cohort_value, cohort_values)} "
                    f"(declared: {', '.join(cohort_values)})", ("awards", "by_cohort", cohort_value),
                    zh=f"{shown(cohort_value)} 不是 {by!r} 的取值{did_you_mean_zh(cohort_value, cohort_values)}"
                    f"（已声明的取值：{', '.join(cohort_values)}）")
        seen: set[int] = set()
        for j, place in enumerate(places or []):
            if not isinstance(place, dict):
                continue
            where = ("awards", "by_cohort", cohort_value, j)
            if place.get("place") in seen:
                sem.add("E121", f"place {shown(place.get('place'))} is listed twice", where + ("place",),
                        zh=f"名次 {shown(place.get('place'))} 重复列出；请只保留一个")
            seen.add(place.get("place"))
            try:
                value, unit = parse_amount(place.get("amount"), None)
            except AmountError as error:
                sem.add("E123", f"cannot read the amount: {clip(error)}", where + ("amount",),
                        zh=f"无法读取奖励金额 {shown(place.get('amount'))}；请写成如 500万元")
                continue
            if unit.dimension != "money":
                sem.add("E122", f"an award is money, not {unit.dimension}", where + ("amount",),
                        zh=f"奖励应为金额，而不是{kind_zh(unit.dimension)}；请用 元、万元 等单位")
                continue
            _in_range(sem, value, where + ("amount",), "award", zero=True)
            units.add(unit.dimension)
            paid += value
    if "total" in awards:
        try:
            stated, unit = parse_amount(awards["total"], None)
        except AmountError as error:
            sem.add("E123", f"cannot read the amount: {clip(error)}", ("awards", "total"),
                    zh=f"无法读取奖励总额 {shown(awards['total'])}；请写成如 5000万元")
        else:
            if unit.dimension != "money":
                sem.add("E122", f"the award total is money, not {unit.dimension}", ("awards", "total"),
                        zh=f"奖励总额应为金额，而不是{kind_zh(unit.dimension)}；请用 元、万元 等单位")
            elif stated != paid:
                sem.add("W212", f"the award table adds up to {paid / unit.factor}{unit.name}, not the stated "
                        f"total {shown(awards['total'])}", ("awards", "total"), WARNING,
                        zh=f"奖励表合计为 {paid / unit.factor}{unit.name}，与写明的总额 {shown(awards['total'])} 不符；请核对")
