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

from engine.compile.model import resolve_param
from engine.core.numbers import COMPARE
from engine.core.units import format_amount, fraction_json
from engine.validate.targets import CLOCK

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
