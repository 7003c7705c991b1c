"""Targets: judge a jurisdiction's reported figures against dated targets, and count members.

A `targets` pack (`pack.kind: targets`) lists its targets instead of a criteria tree:

    targets:
      - id: zones_over_10yi
        title: {zh: …, en: …}
        cite: 二(一)
        measure: zones_over_10yi   # an input or derived value (e.g. a member count)
        op: ">="                   # default >=
        target: zones_over_10yi_min    # the parameter holding the target
        tolerance: PARAM           # optional: "close to" — met within this margin of the target
        period: by_date            # by_date | per_year | cumulative
        deadline: "2025-12-31"     # by_date (and optionally cumulative)
        years: [2021, 2025]        # per_year / cumulative: first and last year, inclusive

Nothing here is decided in Python. `lower` rewrites the targets into an ordinary criteria
tree, which `compile.build` turns into durable rules like any eligibility pack:

    id: zones_over_10yi                              (cases)
      when: as_of >= zones_over_10yi__deadline       (the target is due)
      then: id: zones_over_10yi__value, test: measure OP target
      otherwise: met                                 (not yet due: neutral for the pack outcome)

and the root is `all` of the targets, so the pack's outcome is pass when every target that
is due has been met, fail when one due target was missed, undetermined otherwise. The as-of
date reaches the engine as the input `as_of` (injected by normalisation). Because a pack is
compiled for one as-of date, the compiler folds each "is it due" test to a constant (see
`compile._Builder.test`) — otherwise an `all` of N dated targets would need 2^N engine rules.

A `per_year` target becomes one such node per year (`ID_YEAR`), reading the measure reported
for that year (`MEASURE_YEAR` in the data, e.g. `new_smes_2022`) against the target parameter's
value in force on 31 December of that year. A `cumulative` target sums the yearly figures.
A `tolerance` target is met when the measure is within the tolerance of the target (for >=:
measure >= target − tolerance).

Members: an input of type `members` holds a list of records (zones, firms) with declared
`fields`; a derived value `count: {members: zones, where: {field: taxable_sales, op: ">",
param: P}}` counts the members whose field satisfies the comparison, exactly; the explanation
lists which members counted. A member whose field is missing makes the count unknown unless the
members that are known already decide nothing (the count is then unknown too — we never guess).

After the engine's verdict, `views` adds the per-target status (met / not_met / not_yet_due /
unknown), the attainment percentage and the gap to the decision record.
"""

from __future__ import annotations

import copy
import datetime as dt
from fractions import Fraction
from typing import Any

from engine.compile.model import InputSpec
from engine.core.numbers import COMPARE, slot_fits, slot_message
from engine.core.problems import kind_zh, shown
from engine.core.suggest import did_you_mean, did_you_mean_zh
from engine.core.units import format_amount, fraction_json, parse_param_value, parse_unit
from engine.load.yamlsafe import iso_date

CLOCK = "as_of"  # the input that carries the evaluation date
ROOT_ID = "targets"

PERIODS = ("by_date", "per_year", "cumulative")
TARGET_STATUSES = ("met", "not_met", "not_yet_due", "unknown")


# ---------------------------------------------------------------------------------------------
# Lowering a targets pack to a criteria tree


def _year_end(year: int) -> str:
    return f"{year:04d}-12-31"


def _years(spec: dict[str, Any]) -> list[int]:
    first, last = spec["years"]
    return list(range(int(first), int(last) + 1))


class _Lowering:
    def __init__(self, doc: dict[str, Any], as_of: dt.date, overrides: dict[str, tuple[str, Any]]):
        self.doc = copy.deepcopy(doc)
        self.as_of = as_of
        self.overrides = overrides
        self.extra_overrides: dict[str, tuple[str, Any]] = {}
        self.inputs = self.doc["inputs"]
        self.derived = self.doc.setdefault("derived", {}) or {}
        self.doc["derived"] = self.derived
        self.params = self.doc.setdefault("parameters", {}) or {}
        self.doc["parameters"] = self.params
        self.meta: list[dict[str, Any]] = []
        self.replaced: set[str] = set()  # base inputs read only per year

    # -- names for one year -------------------------------------------------------------------
    def yearly(self, name: str, year: int) -> str:
        """The per-year copy of an input or derived value (recursively for derived values)."""
        new = f"{name}_{year}"
        if new in self.inputs or new in self.derived:
            return new
        if name in self.inputs:
            self.inputs[new] = copy.deepcopy(self.inputs[name])
            label = self.inputs[new]["label"]
            self.inputs[new]["label"] = {k: f"{v} ({year})" for k, v in label.items()}
            self.replaced.add(name)
            return new
        spec = copy.deepcopy(self.derived[name])
        spec["label"] = {k: f"{v} ({year})" for k, v in spec["label"].items()}
        if "ratio" in spec:
            spec["ratio"] = {k: self.yearly(v, year) for k, v in spec["ratio"].items()}
        elif "sum" in spec:
            spec["sum"] = [self.yearly(v, year) for v in spec["sum"]]
        elif "difference" in spec:
            spec["difference"] = {k: self.yearly(v, year) for k, v in spec["difference"].items()}
        elif "count" in spec:
            spec["count"] = dict(spec["count"], members=self.yearly(spec["count"]["members"], year))
        self.derived[new] = spec
        return new

    # -- parameters ------------------------------------------------------------------------------
    def resolved(self, name: str, on: dt.date) -> Any:
        from engine.compile.compile import resolve_param

        return resolve_param(name, self.params[name], on, self.overrides.get(name))

    def param_copy(self, base: str, new: str, on: dt.date, label_suffix: str) -> str:
        """A parameter fixed to `base`'s value in force on `on` (or its override)."""
        spec = self.params[base]
        resolved = self.resolved(base, on)
        out: dict[str, Any] = {"cite": spec["cite"], "label": {k: f"{v}{label_suffix}" for k, v in spec["label"].items()}}
        if spec.get("quote"):
            out["quote"] = spec["quote"]
        if resolved.value is None:
            out["unset"] = resolved.unset_reason or "unset"
        elif resolved.since:
            out["values"] = [{"since": resolved.since, "value": resolved.written}]
        else:
            out["value"] = resolved.written
        if base in self.overrides:
            self.extra_overrides[new] = self.overrides[base]
        self.params[new] = out
        return new

    def tolerance_param(self, ident: str, target: str, tolerance: str, op: str, on: dt.date) -> str:
        new = f"{ident}__threshold"
        t, tol = self.resolved(target, on), self.resolved(tolerance, on)
        spec = self.params[target]
        label = {k: f"{v} (±{tol.written or '?'})" for k, v in spec["label"].items()}
        out: dict[str, Any] = {"cite": spec["cite"], "label": label}
        if spec.get("quote"):
            out["quote"] = spec["quote"]
        if t.value is None or tol.value is None:
            out["unset"] = (t.unset_reason if t.value is None else tol.unset_reason) or "unset"
            # so the record names the parameter an officer can supply, not this derived one
            out["unset_because"] = target if t.value is None else tolerance
        else:
            value = t.value - tol.value if op in (">=", ">") else t.value + tol.value
            out["value"] = format_amount(value, t.unit) if t.unit else fraction_json(value)
        self.params[new] = out
        return new

    def deadline_param(self, ident: str, date: str, cite: str) -> str:
        new = f"{ident}__deadline"
        self.params[new] = {"value": date, "cite": cite, "label": {"zh": f"截止日期 {date}", "en": f"deadline {date}"}}
        return new

    # -- one target node -----------------------------------------------------------------------
    def node(self, t: dict[str, Any], ident: str, measure: str, param: str, deadline: str,
             year: int | None) -> dict[str, Any]:
        op = t.get("op", ">=")
        title = dict(t["title"])
        if year is not None:
            title = {k: f"{v} ({year})" for k, v in title.items()}
        value_node: dict[str, Any] = {
            "id": f"{ident}__value",
            "title": {"zh": f"{title.get('zh', ident)}:到期核验", "en": f"{title.get('en', ident)}: checked at the deadline"},
            "cite": t["cite"],
            "test": {"input": measure, "op": op, "param": param},
        }
        if t.get("discretionary"):
            value_node["discretionary"] = t["discretionary"]
        node: dict[str, Any] = {
            "id": ident,
            "title": title,
            "cite": t["cite"],
            "cases": [{"when": {"input": CLOCK, "op": ">=", "param": self.deadline_param(ident, deadline, t["cite"])},
                       "then": value_node}],
            "otherwise": "met",
        }
        if t.get("note"):
            node["note"] = t["note"]
        self.meta.append({
            "id": ident, "target": t["id"], "year": year, "title": title, "cite": t["cite"],
            "period": t.get("period", "by_date"), "deadline": deadline, "measure": measure, "op": op,
            "param": param, "target_param": t["target"], "tolerance": t.get("tolerance"),
            "value_id": value_node["id"],
        })
        return node

    def run(self) -> tuple[dict[str, Any], tuple[dict[str, Any], ...], dict[str, tuple[str, Any]]]:
        nodes: list[dict[str, Any]] = []
        for t in self.doc.get("targets") or []:
            period = t.get("period", "by_date")
            op = t.get("op", ">=")
            if period == "per_year":
                for year in _years(t):
                    end = dt.date(year, 12, 31)
                    ident = f"{t['id']}_{year}"
                    if t.get("tolerance"):
                        param = self.tolerance_param(ident, t["target"], t["tolerance"], op, end)
                    else:
                        param = self.param_copy(t["target"], f"{t['target']}__{year}", end, f" ({year})")
                    nodes.append(self.node(t, ident, self.yearly(t["measure"], year), param, _year_end(year), year))
                continue
            deadline = t.get("deadline")
            measure = t["measure"]
            if period == "cumulative":
                years = _years(t)
                deadline = deadline or _year_end(years[-1])
                total = f"{t['id']}__total"
                base = self.inputs.get(measure) or self.derived.get(measure) or {}
                self.derived[total] = {
                    "label": {k: f"{v} ({years[0]}–{years[-1]} 累计)" for k, v in base.get("label", {"zh": measure}).items()},
                    "unit": base.get("unit", "个"),
                    "sum": [self.yearly(measure, y) for y in years],
                }
                measure = total
            if t.get("tolerance"):
                param = self.tolerance_param(t["id"], t["target"], t["tolerance"], op, self.as_of)
            else:
                param = t["target"]
            nodes.append(self.node(t, t["id"], measure, param, deadline, None))
        direct = {t["measure"] for t in self.doc.get("targets") or [] if t.get("period", "by_date") == "by_date"}
        for name in self.replaced - direct:
            self.inputs.pop(name, None)  # data must give the yearly figures (name_2022)
        self.derived[CLOCK] = {"as_of": True, "label": {"zh": "评估日期", "en": "as-of date"}}
        self.doc.pop("targets", None)
        title = self.doc["pack"]["title"]
        self.doc["criteria"] = {
            "id": ROOT_ID,
            "title": {"zh": f"{title.get('zh', '')}:到期目标全部达成", "en": f"{title.get('en', '')}: every target due is met"},
            "all": nodes,
        }
        return self.doc, tuple(self.meta), self.extra_overrides


def lower(doc: dict[str, Any], as_of: dt.date, overrides: dict[str, tuple[str, Any]] | None = None
          ) -> tuple[dict[str, Any], tuple[dict[str, Any], ...], dict[str, tuple[str, Any]]]:
    """The targets pack as an ordinary criteria document, its target table, and the overrides
    to apply to the parameters it synthesised (an override of a target applies to every year)."""
    return _Lowering(doc, as_of, overrides or {}).run()


def derived_how(spec: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    """The compiled form of the derived kinds this module adds (count, as_of)."""
    if "count" in spec:
        c = spec["count"]
        where = c.get("where") or {}
        return ("count", (c["members"], where.get("field", ""), where.get("op", ""), where.get("param", "")))
    if "as_of" in spec:
        return ("as_of", ())
    return None


# ---------------------------------------------------------------------------------------------
# Normalisation: member lists, counts, the clock


def member_specs(spec: dict[str, Any]) -> dict[str, Any]:
    """InputSpecs for the fields of a members input."""
    out = {}
    for name, field in (spec.get("fields") or {}).items():
        unit = parse_unit(field["unit"]) if "unit" in field else None
        out[name] = InputSpec(name, field["type"], field.get("label", {"zh": name}), unit, field.get("values", {}),
                              signed=field.get("signed") is True)
    return out


def normalise_members(spec: Any, raw: Any) -> list[dict[str, Any]]:
    """A list of member records: {"name": str, "values": {field: value}, "notes": {field: why}}."""
    from engine.evaluate.normalize import _one

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


# ---------------------------------------------------------------------------------------------
# The per-target view added to a decision record


def _amount(value: Fraction | None, unit: Any) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if unit is None:
        return fraction_json(value), fraction_json(value)
    return fraction_json(value / unit.factor), format_amount(value, unit)


def _percent_text(value: Fraction) -> str:
    rounded = Fraction(round(value * 10), 10)
    text = fraction_json(rounded)
    return f"{text}%"


def views(pack: Any, values: dict[str, Any], verdict: Any, counted: dict[str, Any],
          notes: dict[str, str] | None = None, criteria: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One entry per target node: status (met / not_met / not_yet_due / unknown) as the engine
    decided it, the figures, the attainment percentage and the gap, exactly."""
    out = []
    for t in pack.targets:
        status, branch = verdict.statuses.get(t["id"], ("unknown", None))
        if branch == "otherwise":
            status = "not_yet_due"
            for c in criteria or []:
                if c["id"] == t["id"]:  # say so in the criteria list too, not "no case applies"
                    c["branch_detail"] = {"zh": f"未到期(截止 {t['deadline']})", "en": f"not yet due (deadline {t['deadline']})"}
                    c["target_status"] = "not_yet_due"
        spec = pack.inputs[t["measure"]]
        unit = spec.unit
        value = values.get(t["measure"])
        value = Fraction(value) if value is not None else None
        threshold_param = pack.params[t["param"]]
        target_param = pack.params[t["target_param"]] if t["target_param"] in pack.params else threshold_param
        if t["year"] is not None and f"{t['target_param']}__{t['year']}" in pack.params:
            target_param = pack.params[f"{t['target_param']}__{t['year']}"]
        view: dict[str, Any] = {
            "id": t["id"], "target": t["target"], "title": t["title"], "cite": t["cite"],
            "period": t["period"], "deadline": t["deadline"], "status": status,
            "measure": t["measure"], "label": spec.label, "operator": t["op"],
        }
        if t["year"] is not None:
            view["year"] = t["year"]
        view["value"], view["value_text"] = _amount(value, unit)
        if value is None:
            view["why_missing"] = (notes or {}).get(t["measure"], "not given")
        view["parameter"] = t["param"]
        view["threshold"], _ = _amount(threshold_param.value, unit or threshold_param.unit)
        view["threshold_text"] = threshold_param.written
        if threshold_param.value is None:
            view["threshold_unset"] = threshold_param.unset_reason
        if threshold_param.since:
            view["parameter_since"] = threshold_param.since
        if target_param.overridden or threshold_param.overridden:
            view["parameter_overridden_by"] = target_param.overridden or threshold_param.overridden
        if t["tolerance"]:
            tol = pack.params[t["tolerance"]]
            if tol.overridden and "parameter_overridden_by" not in view:
                view["parameter_overridden_by"] = tol.overridden
            view["target_text"] = target_param.written
            view["tolerance"] = t["tolerance"]
            view["tolerance_text"] = tol.written
        goal = target_param.value
        if value is not None and goal is not None and goal > 0 and t["op"] in (">=", ">"):
            pct = value / goal * 100
            view["attainment_pct"] = fraction_json(pct)
            view["attainment_text"] = _percent_text(pct)
        elif value is not None and goal is not None and value > 0 and t["op"] in ("<=", "<"):
            pct = goal / value * 100
            view["attainment_pct"] = fraction_json(pct)
            view["attainment_text"] = _percent_text(pct)
        bar = threshold_param.value
        if value is not None and bar is not None and t["op"] in (">=", ">", "<=", "<"):
            gap = bar - value if t["op"] in (">=", ">") else value - bar
            if gap >= 0 and not COMPARE[t["op"]](value, bar):
                view["gap"], view["gap_text"] = _amount(gap, unit or threshold_param.unit)
                if gap == 0:
                    view["gap_note"] = "must be strictly beyond the target (超过)"
        if t["measure"] in counted:
            view["members"] = counted[t["measure"]]
        out.append(view)
    return out


# ---------------------------------------------------------------------------------------------
# Validation (called from validate._Semantics; `sem` collects problems with file:line:col)

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


_STATUS_WORDS = {
    "zh": {"met": "达成", "not_met": "未达成", "not_yet_due": "未到期", "unknown": "无法判定"},
    "en": {"met": "met", "not_met": "not met", "not_yet_due": "not yet due", "unknown": "unknown"},
}


def render_text_lines(target_views: list[dict[str, Any]], lang: str = "zh") -> list[str]:
    """The targets block of the text report: one line per target, members that counted below."""
    words = _STATUS_WORDS.get(lang, _STATUS_WORDS["zh"])
    zh = lang == "zh"
    lines = ["目标达成情况:" if zh else "targets:"]
    for v in target_views:
        title = v["title"].get(lang) or v["title"].get("zh", v["id"])
        value = v.get("value_text") or ("缺少数据" if zh else "no figure")
        bar = v.get("threshold_text") or ("政策未给出数值" if zh else "the policy sets no number")
        text = f"  [{words[v['status']]}] {v['cite']} {title}: {value} / {bar}"
        text += f" ({'截止' if zh else 'deadline'} {v['deadline']}"
        if v.get("parameter_since"):
            text += f"; {'目标值自' if zh else 'target in force since'} {v['parameter_since']}"
        text += ")"
        if v.get("attainment_text"):
            text += f" {'完成率' if zh else 'attainment'} {v['attainment_text']}"
        if v.get("gap_text"):
            text += f", {'差' if zh else 'short by'} {v['gap_text']}"
        lines.append(text)
        members = v.get("members")
        if members:
            def names(items: list[dict[str, Any]]) -> str:
                return "、".join(f"{m['name']}({m['text']})" if m.get("text") else m["name"] for m in items) or "—"
            lines.append(f"      {'计入' if zh else 'counted'}: {names(members['counted'])}")
            if members.get("unknown"):
                lines.append(f"      {'数据缺失' if zh else 'no figure'}: {names(members['unknown'])}")
    return lines
