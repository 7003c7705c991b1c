"""Load stage: a format-1 pack converted to format 2 (docs/format2.md, "Format 1").

`convert` takes a format-1 pack already read by `engine.load.yamlsafe` (a `Document`) and returns
the same policy as a format-2 `Document`: pure data transformation, no later stage is imported.
Every part of the result keeps the position of the format-1 part it came from, so a problem
found later in the converted pack still points at the line of the file the officer wrote.

What becomes what:

- eligibility: inputs and parameters as they are (dated `values`, `unset` included); `derived`
  (ratio, sum, difference, member count) become `values`; the criteria tree becomes one
  top-level criterion named by the root's id, every test reading `value:` where format 1 wrote
  `input:`; flags become `outcomes.flags`; the root is `outcomes.decision`.
- targets: each target becomes a criterion with `due:` (the deadline, or 31 December of the
  year) and `tolerance:`, under one root `all` named `targets` (the decision). A `per_year`
  target becomes one criterion per year reading the year's figure (`new_smes_2022`, with yearly
  copies of the inputs and values it needs, as format 1 lowers it); a `cumulative` one reads the
  sum of the yearly figures. A per-year target whose parameter has dated values reads, per year,
  a copy fixed to the value in force on 31 December of that year (format 1's rule).
- scoring: indicators become points values (rank points, items, per-unit steps, weights, groups
  with their cap), the total a `group`, the ranking a `rank`, vetoes criteria, the award table
  `outcomes.awards`, consequences `outcomes.consequences`.

Where format 1 has a construct that format 2 cannot state yet, the converter says so with a
problem (E200-E204), never by leaving it out silently; the rest is still converted so that every
such problem is found in one pass.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterator

from engine.core.problems import ERROR, Problem
from engine.load.yamlsafe import Document, Path

# The order of a format-2 pack's sections and of its `pack:` keys (docs/format2.md).
SECTIONS = ("format", "pack", "inputs", "parameters", "choices", "values", "criteria", "outcomes", "lint")
PACK_KEYS = ("id", "version", "entity", "effective", "until", "superseded_by", "extends", "title", "source", "notes")
NODE_KEYS = ("id", "title", "cite", "discretionary", "note", "applies_when", "not_applicable", "due", "tolerance")
TARGETS_ROOT = "targets"  # the name format 1 gives the root of a lowered targets pack (engine.compile.targets)
RESERVED_SCORING = ("result_last", "result_rank")  # inputs format 1 supplies after ranking


@dataclass
class Conversion:
    """A converted pack and what could not be converted."""

    document: Document  # the format-2 pack; `file` is the format-1 file, positions point into it
    problems: list[Problem] = field(default_factory=list)  # E200-E204
    kind: str = ""  # the format-1 kind: eligibility, scoring or targets
    # format-1 node id -> format-2 criterion name, where they differ (a per-year target's lowered
    # `ID__value` node has no format-2 node: its status is the target's own)
    renamed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(p.severity == ERROR for p in self.problems)


def is_format1(doc: Document) -> bool:
    return isinstance(doc.value, dict) and doc.value.get("format") == 1


class _Out:
    """The converted document being built, with a position for every part."""

    def __init__(self, doc: Document):
        self.src = doc
        self.positions: dict[Path, tuple[int, int]] = {(): doc.where(())}
        self.problems: list[Problem] = []
        # a scoring pack's names for what format 1 supplies after ranking (result_rank: the rank
        # value; result_last: a `placed_last` value), and which of them a condition read
        self.results: dict[str, str] = {}
        self.results_read: set[str] = set()
        # positions under each source path, so a subtree's positions are copied without scanning all
        self._under: dict[Path, list[Path]] = {}
        for path in doc.positions:
            for i in range(len(path) + 1):
                self._under.setdefault(path[:i], []).append(path)

    def at(self, out: Path, src: Path) -> None:
        """`out` is where `src` was written."""
        self.positions[tuple(out)] = self.src.where(src)

    def mirror(self, out: Path, src: Path) -> None:
        """Everything under `out` is written where the same part under `src` is."""
        src, out = tuple(src), tuple(out)
        self.at(out, src)
        for path in self._under.get(src, ()):
            self.positions[out + path[len(src):]] = self.src.positions[path]

    def problem(self, code: str, src: Path, en: str, zh: str) -> None:
        self.problems.append(self.src.problem(code, en, src, ERROR, zh))


def _ordered(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    out = {k: mapping[k] for k in order if k in mapping}
    out.update({k: v for k, v in mapping.items() if k not in out})
    return out


# ---------------------------------------------------------------------------------------------
# Criteria, conditions and tests


def _test(out: _Out, raw: dict[str, Any], src: Path, dst: Path) -> dict[str, Any]:
    """A format-1 test: `input:` is read as `value:` (a test may read any name in format 2)."""
    result: dict[str, Any] = {}
    for key, value in raw.items():
        new_key = "value" if key == "input" else key
        result[new_key] = copy.deepcopy(value)
        out.mirror(dst + (new_key,), src + (key,))
        if key == "input" and value in RESERVED_SCORING:
            if value in out.results:
                # the place after ranking is the rank value; "placed last" a `placed_last` value of it
                result[new_key] = out.results[value]
                out.results_read.add(value)
            else:
                out.problem("E202", src + (key,),
                            f"{value!r} is the place a format-1 scoring pack supplies after ranking; only a scoring "
                            "pack has it: this condition is not converted",
                            f"{value!r} 是格式1评分规则包排名后提供的名次信息，只有评分规则包才有：此条件未转换")
    out.at(dst, src)
    return result


def _condition(out: _Out, raw: Any, src: Path, dst: Path) -> Any:
    out.at(dst, src)
    if not isinstance(raw, dict):
        return copy.deepcopy(raw)
    for kind in ("all", "any"):
        if kind in raw and "op" not in raw:
            out.at(dst + (kind,), src + (kind,))
            return {kind: [_condition(out, c, src + (kind, i), dst + (kind, i)) for i, c in enumerate(raw[kind])]}
    if "not" in raw:
        out.at(dst + ("not",), src + ("not",))
        return {"not": _condition(out, raw["not"], src + ("not",), dst + ("not",))}
    return _test(out, raw, src, dst)


def _node(out: _Out, raw: dict[str, Any], src: Path, dst: Path, top: bool = False) -> dict[str, Any]:
    """A format-1 criterion: the same tree, tests reading `value:`; a top-level one has no id
    (its name is its key)."""
    out.at(dst, src)
    result: dict[str, Any] = {}
    for key in NODE_KEYS:
        if key in raw and not (top and key == "id"):
            result[key] = copy.deepcopy(raw[key])
            out.mirror(dst + (key,), src + (key,))
    if "test" in raw:
        result["test"] = _test(out, raw["test"], src + ("test",), dst + ("test",))
    for kind in ("all", "any"):
        if kind in raw:
            out.at(dst + (kind,), src + (kind,))
            result[kind] = [_node(out, c, src + (kind, i), dst + (kind, i)) for i, c in enumerate(raw[kind])]
    if "at_least" in raw:
        at = raw["at_least"]
        out.at(dst + ("at_least",), src + ("at_least",))
        out.mirror(dst + ("at_least", "k"), src + ("at_least", "k"))
        out.at(dst + ("at_least", "of"), src + ("at_least", "of"))
        result["at_least"] = {"k": at["k"], "of": [_node(out, c, src + ("at_least", "of", i), dst + ("at_least", "of", i))
                                                   for i, c in enumerate(at["of"])]}
    if "not" in raw:
        result["not"] = _node(out, raw["not"], src + ("not",), dst + ("not",))
    if "cases" in raw:
        out.at(dst + ("cases",), src + ("cases",))
        cases = []
        for i, case in enumerate(raw["cases"]):
            csrc, cdst = src + ("cases", i), dst + ("cases", i)
            out.at(cdst, csrc)
            cases.append({"when": _condition(out, case["when"], csrc + ("when",), cdst + ("when",)),
                          "then": _node(out, case["then"], csrc + ("then",), cdst + ("then",))})
        result["cases"] = cases
        if "otherwise" in raw:
            result["otherwise"] = raw["otherwise"]
            out.mirror(dst + ("otherwise",), src + ("otherwise",))
    return result


def _note_rule(out: _Out, raw: dict[str, Any], src: Path, dst: Path) -> dict[str, Any]:
    """A flag or consequence: {id, title, cite, note, when}."""
    out.at(dst, src)
    result: dict[str, Any] = {}
    for key in ("id", "title", "cite", "note"):
        if key in raw:
            result[key] = copy.deepcopy(raw[key])
            out.mirror(dst + (key,), src + (key,))
    result["when"] = _condition(out, raw.get("when"), src + ("when",), dst + ("when",))
    return result


# ---------------------------------------------------------------------------------------------
# The parts every kind shares


def _copy_section(out: _Out, doc: dict[str, Any], key: str, dst_key: str | None = None) -> dict[str, Any]:
    section = doc.get(key)
    if not isinstance(section, dict):
        return {}
    dst_key = dst_key or key
    out.at((dst_key,), (key,))
    result = {}
    for name, spec in section.items():
        result[name] = copy.deepcopy(spec)
        out.mirror((dst_key, name), (key, name))
    return result


def _pack(out: _Out, doc: dict[str, Any]) -> dict[str, Any]:
    pack = {k: copy.deepcopy(v) for k, v in doc.get("pack", {}).items() if k != "kind"}
    for key in pack:
        out.mirror(("pack", key), ("pack", key))
    out.at(("pack",), ("pack",))
    return _ordered(pack, PACK_KEYS)


def _derived(out: _Out, doc: dict[str, Any]) -> dict[str, Any]:
    """Format-1 derived values are format-2 values of the same operation and shape."""
    values = _copy_section(out, doc, "derived", "values")
    return {name: _ordered(spec, ("label", "unit", "cite", "note")) for name, spec in values.items()}


def _assemble(out: _Out, parts: dict[str, Any]) -> dict[str, Any]:
    return {k: parts[k] for k in SECTIONS if k in parts and parts[k] not in (None, {})}


# ---------------------------------------------------------------------------------------------
# Eligibility


def _eligibility(out: _Out, doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    root = doc["criteria"]
    name = root["id"]
    criteria = {name: _node(out, root, ("criteria",), ("criteria", name), top=True)}
    out.at(("criteria",), ("criteria",))
    outcomes: dict[str, Any] = {"decision": name}
    out.mirror(("outcomes", "decision"), ("criteria", "id"))
    out.at(("outcomes",), ("criteria",))
    if doc.get("flags"):
        out.at(("outcomes", "flags"), ("flags",))
        outcomes["flags"] = [_note_rule(out, f, ("flags", i), ("outcomes", "flags", i)) for i, f in enumerate(doc["flags"])]
    parts = {
        "format": 2, "pack": _pack(out, doc), "inputs": _copy_section(out, doc, "inputs"),
        "parameters": _copy_section(out, doc, "parameters"), "values": _derived(out, doc),
        "criteria": criteria, "outcomes": outcomes, "lint": copy.deepcopy(doc.get("lint")),
    }
    if "lint" in doc:
        out.mirror(("lint",), ("lint",))
    return _assemble(out, parts), {}


# ---------------------------------------------------------------------------------------------
# Targets


def _year_end(year: int) -> str:
    return f"{year:04d}-12-31"


class _Targets:
    def __init__(self, out: _Out, doc: dict[str, Any]):
        self.out = out
        self.doc = doc
        self.inputs = _copy_section(out, doc, "inputs")
        self.values = _derived(out, doc)
        self.params = _copy_section(out, doc, "parameters")
        self.read_yearly: set[str] = set()  # base inputs read per year
        self.renamed: dict[str, str] = {}

    def yearly(self, name: str, year: int, src: Path) -> str:
        """The copy of an input or value for one year (`name_year`), its operands too."""
        new = f"{name}_{year}"
        if new in self.inputs or new in self.values:
            return new
        if name in self.inputs:
            spec = copy.deepcopy(self.inputs[name])
            spec["label"] = {k: f"{v} ({year})" for k, v in spec["label"].items()}
            self.inputs[new] = spec
            self.out.mirror(("inputs", new), ("inputs", name))
            self.read_yearly.add(name)
            return new
        spec = copy.deepcopy(self.values[name])
        spec["label"] = {k: f"{v} ({year})" for k, v in spec["label"].items()}
        vsrc = ("derived", name)
        self.read_yearly.add(name)
        if "ratio" in spec:
            spec["ratio"] = {k: self.yearly(v, year, vsrc) for k, v in spec["ratio"].items()}
        elif "sum" in spec:
            spec["sum"] = [self.yearly(v, year, vsrc) for v in spec["sum"]]
        elif "difference" in spec:
            spec["difference"] = {k: self.yearly(v, year, vsrc) for k, v in spec["difference"].items()}
        elif "count" in spec:
            spec["count"] = dict(spec["count"], members=self.yearly(spec["count"]["members"], year, vsrc))
        self.values[new] = spec
        self.out.mirror(("values", new), vsrc)
        return new

    def param_for_year(self, name: str, year: int, src: Path) -> str:
        """The parameter a per-year node reads: the parameter itself, or, when its values are
        dated, a copy reading the value in force on 31 December of the year (as format 1):
        `in_force: {of: P, on: YEAR-12-31}`, so that an override of P reaches every year."""
        spec = self.params.get(name)
        if not isinstance(spec, dict) or "values" not in spec:
            return name
        new = f"{name}__{year}"
        if new in self.params:
            return new
        copy_spec: dict[str, Any] = {"in_force": {"of": name, "on": _year_end(year)}}
        copy_spec["cite"] = spec["cite"]
        if spec.get("quote"):
            copy_spec["quote"] = spec["quote"]
        copy_spec["label"] = {k: f"{v} ({year})" for k, v in spec["label"].items()}
        self.params[new] = copy_spec
        self.out.mirror(("parameters", new), ("parameters", name))
        return new

    def node(self, t: dict[str, Any], src: Path, ident: str, measure: str, param: str, tolerance: str | None,
             due: str, year: int | None) -> dict[str, Any]:
        out, dst = self.out, ("criteria", TARGETS_ROOT, "all", len(self.nodes))
        title = copy.deepcopy(t["title"])
        if year is not None:
            title = {k: f"{v} ({year})" for k, v in title.items()}
        node: dict[str, Any] = {"id": ident, "title": title, "cite": t["cite"]}
        for key in ("discretionary", "note"):
            if t.get(key):
                node[key] = copy.deepcopy(t[key])
        node["due"] = due
        if tolerance:
            node["tolerance"] = tolerance
        node["test"] = {"value": measure, "op": t.get("op", ">="), "param": param}
        out.at(dst, src)
        for key in ("title", "cite", "discretionary", "note"):
            if key in node:
                out.mirror(dst + (key,), src + (key,))
        out.at(dst + ("id",), src + ("id",))
        out.at(dst + ("due",), src + (("deadline",) if "deadline" in t else ("years",) if "years" in t else ("period",)))
        if tolerance:
            out.at(dst + ("tolerance",), src + ("tolerance",))
        out.at(dst + ("test",), src + ("measure",))
        out.at(dst + ("test", "value"), src + ("measure",))
        out.at(dst + ("test", "op"), src + (("op",) if "op" in t else ("measure",)))
        out.at(dst + ("test", "param"), src + ("target",))
        self.renamed[f"{ident}__value"] = ident
        return node

    def run(self) -> dict[str, Any]:
        doc, out = self.doc, self.out
        self.nodes: list[dict[str, Any]] = []
        direct: set[str] = set()
        for i, t in enumerate(doc.get("targets") or []):
            src = ("targets", i)
            period = t.get("period", "by_date")
            if period == "per_year":
                first, last = (int(y) for y in t["years"])
                for year in range(first, last + 1):
                    measure = self.yearly(t["measure"], year, src + ("measure",))
                    param = self.param_for_year(t["target"], year, src + ("target",))
                    tolerance = self.param_for_year(t["tolerance"], year, src + ("tolerance",)) if t.get("tolerance") else None
                    self.nodes.append(self.node(t, src, f"{t['id']}_{year}", measure, param, tolerance, _year_end(year), year))
                continue
            measure = t["measure"]
            deadline = t.get("deadline")
            if period == "cumulative":
                years = list(range(int(t["years"][0]), int(t["years"][1]) + 1))
                deadline = deadline or _year_end(years[-1])
                total = f"{t['id']}__total"
                base = self.inputs.get(measure) or self.values.get(measure) or {}
                spec: dict[str, Any] = {
                    "label": {k: f"{v} ({years[0]}–{years[-1]} 累计)" for k, v in base.get("label", {"zh": measure}).items()},
                    "unit": base.get("unit", "个"),
                    "sum": [self.yearly(measure, y, src + ("measure",)) for y in years],
                }
                self.values[total] = spec
                out.mirror(("values", total), src)
                measure = total
            else:
                direct.add(measure)
            self.nodes.append(self.node(t, src, t["id"], measure, t["target"], t.get("tolerance"), str(deadline), None))
        for name in self.read_yearly - direct:
            # the data give the yearly figures (name_2022), as in format 1; a value of the whole
            # period that only yearly targets read would read inputs that are no longer there
            self.inputs.pop(name, None)
            self.values.pop(name, None)
        title = doc["pack"]["title"]
        criteria = {TARGETS_ROOT: {
            "title": {"zh": f"{title.get('zh', '')}:到期目标全部达成", "en": f"{title.get('en', '')}: every target due is met"},
            "all": self.nodes,
        }}
        out.at(("criteria",), ("targets",))
        out.at(("criteria", TARGETS_ROOT), ("targets",))
        out.at(("criteria", TARGETS_ROOT, "title"), ("pack", "title"))
        out.at(("criteria", TARGETS_ROOT, "all"), ("targets",))
        out.at(("outcomes",), ("targets",))
        out.at(("outcomes", "decision"), ("targets",))
        parts = {
            "format": 2, "pack": _pack(out, doc), "inputs": self.inputs, "parameters": self.params,
            "values": self.values, "criteria": criteria, "outcomes": {"decision": TARGETS_ROOT},
            "lint": copy.deepcopy(doc.get("lint")),
        }
        if "lint" in doc:
            out.mirror(("lint",), ("lint",))
        return _assemble(out, parts)


# ---------------------------------------------------------------------------------------------
# Scoring

# Format-1 scoring choices and their defaults (engine.explain.scoring.CHOICES; the load stage
# may not import it). Options are written as format-2 choice options.
SCORING_DEFAULTS: dict[str, Any] = {"rank_ties": "shared", "rank_floor": 0, "missing_value": "zero",
                                    "award_pass_down": True, "total_ties": "split", "tie_break": [],
                                    "step_rounding": "whole"}
CHOICE_FORMS: dict[str, tuple[dict[str, Any], dict[str, dict[str, str]]]] = {
    "rank_ties": ({"zh": "同一指标完成值相同时的名次", "en": "places when values tie"},
                  {"shared": {"zh": "并列,其后名次顺延(1、2、2、4)", "en": "shared, next place skipped (1, 2, 2, 4)"},
                   "dense": {"zh": "并列,其后名次连续(1、2、2、3)", "en": "shared, next place follows (1, 2, 2, 3)"}}),
    "award_pass_down": ({"zh": "不参加评优的集中区的奖励名额是否顺延", "en": "whether an excluded entity's award passes down"},
                        {"pass_down": {"zh": "由后一名递补", "en": "passes to the next eligible entity"},
                         "vacant": {"zh": "名额空缺", "en": "left vacant"}}),
    "step_rounding": ({"zh": "不足一个计量单位的部分是否计分", "en": "whether part of a step counts"},
                      {"whole": {"zh": "只计整数单位", "en": "whole steps only"},
                       "proportional": {"zh": "按比例计分", "en": "in proportion"}}),
}
INCLUDE = {"[": "at_least", "(": "above", "]": "at_most", ")": "below"}


def _condition_node(raw: Any) -> dict[str, Any]:
    """A condition (test, all/any/not of conditions) as a criterion node without ids."""
    if isinstance(raw, dict):
        for kind in ("all", "any"):
            if kind in raw and "op" not in raw:
                return {kind: [_condition_node(c) for c in raw[kind]]}
        if "not" in raw:
            return {"not": _condition_node(raw["not"])}
    return {"test": raw}


class _Scoring:
    def __init__(self, out: _Out, doc: dict[str, Any]):
        self.out = out
        self.doc = doc
        self.inputs = _copy_section(out, doc, "inputs")
        self.params = _copy_section(out, doc, "parameters")
        self.values = _derived(out, doc)
        self.choices: dict[str, Any] = {}
        self.criteria: dict[str, Any] = {}
        self.notes: list[str] = []
        settings = {name: (spec or {}).get("value") for name, spec in (doc.get("choices") or {}).items()}
        self.settings = {**SCORING_DEFAULTS, **settings}
        self.within = (doc.get("cohort") or {}).get("by")

    def name(self, wanted: str) -> str:
        taken = set(self.inputs) | set(self.params) | set(self.values) | set(self.choices) | set(self.criteria)
        new, n = wanted, 2
        while new in taken:
            new, n = f"{wanted}_{n}", n + 1
        return new

    def value(self, name: str, src: Path, label: Any, op: str, args: Any, cite: Any = None) -> None:
        spec: dict[str, Any] = {"label": copy.deepcopy(label), "unit": "分"}
        if cite:
            spec["cite"] = cite
        spec[op] = args
        self.values[name] = spec
        self.out.mirror(("values", name), src)
        self.out.at(("values", name, "label"), src + (("title",) if "title" in _get(self.doc, src) else ()))

    def scoring_choices(self) -> None:
        out, raw = self.out, self.doc.get("choices") or {}
        for name, (label, options) in CHOICE_FORMS.items():
            setting = self.settings[name]
            default = {True: "pass_down", False: "vacant"}.get(setting, setting) if name == "award_pass_down" else setting
            reason = (raw.get(name) or {}).get("note") or "格式1默认值 (format-1 default)"
            self.choices[name] = {"label": label, "options": copy.deepcopy(options), "default": default, "reason": reason}
            out.mirror(("choices", name), ("choices", name) if name in raw else ("pack",))
        missing = self.settings["missing_value"]
        if missing != "zero":
            # zero is written `missing: zero` on every points part: a missing figure scores 0, the
            # points, the total are lower bounds, the place provisional, the award held
            out.problem("E201", ("choices", "missing_value") if "missing_value" in raw else ("pack", "kind"),
                        f"missing_value: {missing} (an entity missing a scored figure is left out of the ranking) has no "
                        "format-2 form yet",
                        f"missing_value: {missing}（缺少计分数据的对象不参加排名）在格式2中尚无对应写法")
        floor = self.settings["rank_floor"]
        self.notes.append(f"由格式1转换：rank_floor={floor}、tie_break={self.settings['tie_break']} 已直接写入各排名规则"
                          "（格式2的待定选项只能是名称，不能是数字或列表）")

    def rank_points(self, rank: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {"of": rank["input"]}
        if self.within:
            args["within"] = self.within
        args["order"] = rank.get("order", "higher_first")
        args["full"] = rank["full"]
        args["step"] = rank["step"]
        floor = rank.get("floor", self.settings["rank_floor"])
        if floor not in (None, "none"):
            args["floor"] = floor
        ties = rank.get("ties")
        args["ties"] = ties if ties is not None else {"choice": "rank_ties"}
        if self.settings["missing_value"] == "zero":
            args["missing"] = "zero"  # a missing figure takes no place and scores 0 (format 1's missing_value: zero)
        return args

    def bands(self, raw: dict[str, Any]) -> dict[str, Any]:
        out = []
        for tier in raw["tiers"]:
            include = tier.get("include", "[)")
            band: dict[str, Any] = {}
            if "from" in tier:
                band[INCLUDE[include[0]]] = tier["from"]
            if "to" in tier:
                band[INCLUDE[include[1]]] = tier["to"]
            band["points"] = tier["points"]
            out.append(band)
        return {"of": raw["input"], "bands": out, **self.missing()}

    def missing(self) -> dict[str, str]:
        """format 1's missing_value: zero on a points part (a missing figure scores 0, provisional)."""
        return {"missing": "zero"} if self.settings["missing_value"] == "zero" else {}

    def part(self, raw: dict[str, Any], src: Path, name: str, label: Any, cite: Any, base: str | None = None) -> list[str]:
        """The values of one indicator or weighted part: one named `name`, or (items with
        per-unit steps) several named after `base` and their inputs, to be added up."""
        if "rank" in raw:
            self.value(name, src, label, "rank_points", self.rank_points(raw["rank"]), cite)
            return [name]
        if "bands" in raw:
            self.value(name, src, label, "bands", self.bands(raw["bands"]), cite)
            return [name]
        base = base or name
        items = raw.get("items") or []
        plain = [i for i in items if "per" not in i]
        stepped = [(n, i) for n, i in enumerate(items) if "per" in i]
        names = []
        if plain:
            plain_name = name if not stepped else self.name(f"{base}_items")
            self.value(plain_name, src + ("items",), label, "items",
                       {"items": [{"of": i["input"], "points": i["points"]} for i in plain], **self.missing()}, cite)
            names.append(plain_name)
        for n, item in stepped:
            item_name = name if len(items) == 1 else self.name(f"{base}_{item['input']}")
            steps = item.get("steps")
            args = {"of": item["input"], "per": item["per"], "points": item["points"],
                    "steps": steps if steps is not None else {"choice": "step_rounding"}, **self.missing()}
            item_label = (self.inputs.get(item["input"]) or {}).get("label", label)
            self.value(item_name, src + ("items", n), item_label, "per_unit", args, cite)
            names.append(item_name)
        return names

    def indicator(self, ind: dict[str, Any], i: int) -> str:
        """An indicator's points: its parts (weighted, or added up), then its cap and minimum."""
        src = ("indicators", i)
        name, title, cite = ind["id"], ind.get("title", {"zh": ind["id"]}), ind.get("cite")
        group: dict[str, Any] = {}
        if "cap" in ind:
            group["cap"] = ind["cap"]
        if "min_points" in ind:
            group["minimum"] = ind["min_points"]
        if "weighted" in ind:
            inner = self.name(f"{name}_weighted") if group else name
            parts = []
            for j, p in enumerate(ind["weighted"]):
                part_names = self.part(p, src + ("weighted", j), self.name(p["id"]), p.get("title", {"zh": p["id"]}), cite)
                parts.append({"of": self.sum_of(part_names, src + ("weighted", j), p), "weight": p["weight"]})
            self.value(inner, src, title, "weighted", parts, cite)
            part_names = [inner]
        else:
            single = len(ind.get("items") or [None]) == 1 or "items" not in ind or all("per" not in x for x in ind["items"])
            own = self.name(f"{name}_points") if group and single else name
            part_names = self.part(ind, src, own, title, cite, base=name)
            if part_names == [own] and own != name and "items" in self.values[own] and set(group) == {"cap"}:
                # items take their cap themselves (docs/format2.md: `{items: [...], cap: 10}`)
                spec = self.values.pop(own)
                spec["items"]["cap"] = group["cap"]
                self.values[name] = spec
                self.out.mirror(("values", name), src)
                self.out.at(("values", name, "items", "items"), src + ("items",))
                self.out.at(("values", name, "items", "cap"), src + ("cap",))
                part_names = [name]
        if part_names != [name]:
            self.value(name, src, title, "group", {"of": part_names, **group}, cite)
            self.out.at(("values", name, "group", "cap"), src + ("cap",))
            self.out.at(("values", name, "group", "minimum"), src + ("min_points",))
        return name

    def sum_of(self, names: list[str], src: Path, raw: dict[str, Any]) -> str:
        if len(names) == 1:
            return names[0]
        total = self.name(f"{raw['id']}_sum")
        self.value(total, src, raw.get("title", {"zh": raw["id"]}), "group", {"of": names})
        return total

    def run(self) -> dict[str, Any]:
        doc, out = self.doc, self.out
        self.scoring_choices()
        # what format 1 supplies after ranking, as format-2 names (conditions below read them)
        place = self.name("place")
        placed_last = self.name("place_is_last")
        out.results = {"result_rank": place, "result_last": placed_last}
        if isinstance(doc.get("criteria"), dict):
            root = doc["criteria"]
            self.criteria[root["id"]] = _node(out, root, ("criteria",), ("criteria", root["id"]), top=True)
        indicators = [self.indicator(ind, i) for i, ind in enumerate(doc.get("indicators") or [])]
        total_spec = doc.get("total") or {}
        total = self.name("total")
        self.value(total, ("total",), {"zh": "综合评价总分", "en": "total score"}, "group", {"of": indicators},
                   total_spec.get("cite"))
        vetoes = doc.get("vetoes") or []
        last, barred = [], []
        for i, veto in enumerate(vetoes):
            node: dict[str, Any] = {"title": copy.deepcopy(veto["title"])}
            if veto.get("cite"):
                node["cite"] = veto["cite"]
            node.update(_condition_node(_condition(out, veto["when"], ("vetoes", i, "when"), ("criteria", veto["id"], "when"))))
            self.criteria[veto["id"]] = node
            out.mirror(("criteria", veto["id"]), ("vetoes", i))
            (last if veto.get("effect") == "last_place" else barred).append(veto["id"])
        rank: dict[str, Any] = {"of": total}
        if self.within:
            rank["within"] = self.within
        rank["order"] = "higher_first"
        if self.settings["tie_break"]:
            rank["tie_break"] = list(self.settings["tie_break"])
        # entities still tied share a place; `split`: they share the awards of the places they occupy
        rank["ties"] = self.settings["total_ties"]
        if last:
            rank["last"] = last[0] if len(last) == 1 else None
            if len(last) > 1:
                either = self.name("placed_last")
                self.criteria[either] = {"title": {"zh": "列为最后一名", "en": "placed last"},
                                         "any": [{"criterion": v} for v in last]}
                out.mirror(("criteria", either), ("vetoes",))
                rank["last"] = either
        self.value(place, ("total",), {"zh": "综合评价名次", "en": "place"}, "rank", rank, (doc.get("cohort") or {}).get("cite"))
        self.values[place]["unit"] = "名"
        outcomes: dict[str, Any] = {}
        if isinstance(doc.get("criteria"), dict):
            outcomes["decision"] = doc["criteria"]["id"]
            out.mirror(("outcomes", "decision"), ("criteria", "id"))
        awards_raw = doc.get("awards")
        if awards_raw:
            awards: dict[str, Any] = {"place": place}
            if barred:
                eligible = self.name("award_eligible")
                node = {"title": {"zh": "可参加评优", "en": "may take an award"}}
                if awards_raw.get("cite"):
                    node["cite"] = awards_raw["cite"]
                kids = [{"not": {"criterion": v}} for v in barred]
                node.update(kids[0] if len(kids) == 1 else {"all": kids})
                self.criteria[eligible] = node
                out.mirror(("criteria", eligible), ("vetoes",))
                awards["eligible"] = eligible
            awards["pass_down"] = {"choice": "award_pass_down"}
            for key in ("cite", "total"):
                if key in awards_raw:
                    awards[key] = awards_raw[key]
            awards["by_group"] = copy.deepcopy(awards_raw.get("by_cohort") or {})
            outcomes["awards"] = awards
            out.mirror(("outcomes", "awards"), ("awards",))
            out.mirror(("outcomes", "awards", "by_group"), ("awards", "by_cohort"))
        if doc.get("consequences"):
            outcomes["consequences"] = [_note_rule(out, c, ("consequences", i), ("outcomes", "consequences", i))
                                        for i, c in enumerate(doc["consequences"])]
            out.at(("outcomes", "consequences"), ("consequences",))
        if "result_last" in out.results_read:
            self.values[placed_last] = {"label": {"zh": "综合评价列最后一名", "en": "placed last"}, "placed_last": place}
            out.mirror(("values", placed_last), ("total",))
        out.at(("outcomes",), ("awards",) if awards_raw else ("pack",))
        pack = _pack(out, doc)
        cohort = doc.get("cohort") or {}
        if cohort.get("note"):
            self.notes.insert(0, str(cohort["note"]))
        if self.notes:
            pack["notes"] = list(pack.get("notes") or []) + self.notes
        parts = {"format": 2, "pack": pack, "inputs": self.inputs, "parameters": self.params, "choices": self.choices,
                 "values": self.values, "criteria": self.criteria, "outcomes": outcomes,
                 "lint": copy.deepcopy(doc.get("lint"))}
        if "lint" in doc:
            out.mirror(("lint",), ("lint",))
        return _assemble(out, parts)


def _get(value: Any, path: Path) -> Any:
    for part in path:
        value = value[part]
    return value


def _scoring(out: _Out, doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    return _Scoring(out, doc).run(), {}


# ---------------------------------------------------------------------------------------------


def convert(doc: Document) -> Conversion:
    """The format-1 pack `doc` as a format-2 pack, and the problems of what has no format-2 form.
    `doc` should have passed format-1 validation: a pack that did not is refused (E200)."""
    out = _Out(doc)
    value = doc.value
    if not is_format1(doc):
        out.problem("E200", ("format",), "not a format-1 pack: only `format: 1` packs are converted",
                    "不是格式1的规则包：只有 format: 1 的规则包可以转换")
        return Conversion(Document(doc.file, {}, {}), out.problems)
    kind = (value.get("pack") or {}).get("kind", "eligibility")
    renamed: dict[str, str] = {}
    if kind == "targets":
        targets = _Targets(out, value)
        result = targets.run()
        renamed = targets.renamed
    elif kind == "scoring":
        result, renamed = _scoring(out, value)
    elif kind == "eligibility" and isinstance(value.get("criteria"), dict):
        result, renamed = _eligibility(out, value)
    else:
        out.problem("E200", ("pack", "kind"), f"a format-1 pack of kind {kind!r} without criteria cannot be converted",
                    f"类型为 {kind!r} 且没有 criteria 的格式1规则包无法转换")
        result = {}
    if result:
        _one_namespace(out, result, renamed, "_target" if kind == "targets" else "_criterion")
    positions = {path: pos for path, pos in out.positions.items() if _exists(result, path)}
    return Conversion(Document(doc.file, result, positions), sorted(out.problems), kind, renamed)


def _one_namespace(out: _Out, result: dict[str, Any], renamed: dict[str, str], suffix: str) -> None:
    """Format 1 keeps criterion ids apart from the names of inputs and values (Huguan's criterion
    `heritage` tests the input `heritage`; a target is often named as its measure); format 2 has
    one namespace (E181). Inputs keep their names (the data's columns are named by them), values
    and parameters keep theirs (titles and overrides name them): a criterion whose id is taken
    gets `suffix`, and the pack's notes say which were renamed."""
    taken = {"as_of"}
    for section in ("inputs", "parameters", "choices", "values"):
        names = result.get(section) or {}
        for other in ("inputs", "values"):
            if other != section and section in ("parameters", "choices"):
                for name in sorted(set(names) & set(result.get(other) or {})):
                    out.problem("E203", (section, name) if section in out.src.value else (),
                                f"{section[:-1]} {name!r} has the name of one of the pack's {other}: format 2 has one "
                                "namespace, so one of them must be renamed before the pack can be converted",
                                f"{_SECTION_ZH[section]} {name!r} 与{_SECTION_ZH[other]}同名：格式2所有名称共用一个命名空间，"
                                "请先改名其中之一再转换")
        taken |= set(names)
    ids: list[str] = []
    criteria = result.get("criteria") or {}
    for top, node in criteria.items():
        ids.append(top)
        ids.extend(n["id"] for n in _tree(node) if isinstance(n.get("id"), str))
    used = taken | set(ids)
    new_names: dict[str, str] = {}
    for ident in ids:
        if ident in taken:
            # `ID_target` (or `ID_criterion`); when a parameter already has that name (Jiangxi's
            # internal_green_ratio_target is the target's threshold), `ID_met`; then numbered
            candidates = [ident + suffix, ident + "_met"]
            new = next((c for c in candidates if c not in used), None)
            n = 2
            while new is None or new in used:
                new, n = f"{ident}{suffix}{n}", n + 1
            used.add(new)
            new_names[ident] = new
    if not new_names:
        return
    for node in criteria.values():
        for part in _tree(node):
            if part.get("id") in new_names:
                part["id"] = new_names[part["id"]]
    for top in list(criteria):
        if top in new_names:
            new = new_names[top]
            result["criteria"] = criteria = {new if k == top else k: v for k, v in criteria.items()}
            out.positions.update({("criteria", new) + p[2:]: pos for p, pos in list(out.positions.items())
                                  if p[:2] == ("criteria", top)})
            if (result.get("outcomes") or {}).get("decision") == top:
                result["outcomes"]["decision"] = new
    for old, new in new_names.items():
        for f1_id, f2 in list(renamed.items()):
            if f2 == old:
                renamed[f1_id] = new
        renamed[old] = new
    listing = ", ".join(f"{old} → {new}" for old, new in new_names.items())
    notes = result["pack"].setdefault("notes", [])
    notes.append(f"由格式1转换(certify migrate)。格式2的所有名称共用一个命名空间,与输入项、参数或计算值同名的条件已改名: {listing}")


_SECTION_ZH = {"inputs": "输入项", "parameters": "参数", "choices": "待定选项", "values": "计算值"}


def _tree(node: Any) -> Iterator[dict[str, Any]]:
    """Every node of a criteria tree (format-1 shape), the node itself first."""
    if not isinstance(node, dict):
        return
    yield node
    for kind in ("all", "any"):
        for child in node.get(kind) or []:
            yield from _tree(child)
    for child in (node.get("at_least") or {}).get("of") or []:
        yield from _tree(child)
    yield from _tree(node.get("not"))
    for case in node.get("cases") or []:
        yield from _tree(case.get("then"))


def _exists(value: Any, path: Path) -> bool:
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            return False
    return True




# ---------------------------------------------------------------------------------------------
# Suite expectations


# What a format-1 expectation has that a format-2 suite does not check (yet), and why.
EXPECT_DROPPED = {
    "why": "prose for the reader, not checked",
    "criteria": "a format-1 target node expected met is met or not yet due (neutral): format 2 tells the two apart",
    "missing_inputs": "format 1 lists the inputs (and parameters) the undecided criteria need; format 2 lists the "
                      "absent inputs (docs/format2.md: being narrowed to the criteria that apply)",
}


def convert_expect(expect: dict[str, Any], conversion: Conversion) -> tuple[dict[str, Any], dict[str, Any]]:
    """A format-1 suite expectation (a fixture's `expect:` or a case's) as a format-2 one, for the
    converted pack: (expectation, what was left out: EXPECT_DROPPED keys and their values).

    - `outcome`, `flags`: as they are;
    - `criteria: {id: status}`: the criterion under its format-2 name (`conversion.renamed`); a
      per-year target's node whose `targets:` says not_yet_due is not applicable in format 2;
    - `path: id`: the same (that criterion met), under its format-2 name;
    - `targets: {id: met | not_met | unknown | not_yet_due}`: the same, under the target criterion's
      format-2 name (a target not yet due is a criterion not applicable because of its `due:`)."""
    renamed = {old: new for old, new in conversion.renamed.items() if not old.endswith("__value")}
    targets = dict(expect.get("targets") or {})
    out: dict[str, Any] = {}
    dropped = {k: expect[k] for k in ("why", "missing_inputs") if k in expect}
    if "outcome" in expect:
        out["outcome"] = expect["outcome"]
    criteria: dict[str, str] = {}
    listed = expect.get("criteria") or {}
    wrappers: dict[str, str] = {}
    for ident, status in listed.items():
        if ident.endswith("__value") and ident in conversion.renamed:
            # format 1's lowered test of a target: its status is the target criterion's when due
            base = ident[:-len("__value")]
            criteria[conversion.renamed[ident]] = "not_applicable" if targets.get(base) == "not_yet_due" else status
        elif f"{ident}__value" in conversion.renamed:
            # format 1's target node: met also when not yet due (neutral); format 2 says which
            if f"{ident}__value" in listed or ident in targets:
                continue
            if status == "met":
                wrappers[ident] = status
                continue
            criteria[conversion.renamed[f"{ident}__value"]] = status
        else:
            criteria[renamed.get(ident, ident)] = "not_applicable" if targets.get(ident) == "not_yet_due" else status
    if wrappers:
        dropped["criteria"] = wrappers
    if criteria:
        out["criteria"] = criteria
    if expect.get("path") is not None:
        out["path"] = renamed.get(expect["path"], expect["path"])
    if targets:
        out["targets"] = {conversion.renamed.get(f"{ident}__value", renamed.get(ident, ident)): status
                          for ident, status in targets.items()}
    if "flags" in expect:
        out["flags"] = copy.deepcopy(expect["flags"])
    return out, dropped


def convert_zone_expect(expect: dict[str, Any], unit: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A format-1 scoring suite's expectation of one zone (`cohorts[].expect.zones.ID`) as a
    format-2 one for the converted pack (names as `convert` gives them: the rank `place`, the total
    `total`, indicators by their ids, vetoes as criteria), and what was left out (`why`).
    `unit`: the award table's unit (format 1 writes award amounts as bare numbers in it)."""
    out: dict[str, Any] = {}
    dropped = {k: expect[k] for k in ("why",) if k in expect}
    if "criteria" in expect:
        out["outcome"] = expect["criteria"]
    if expect.get("vetoes"):
        out["criteria"] = {k: _ZONE_WORD.get(v, str(v)) for k, v in expect["vetoes"].items()}
    if expect.get("consequences"):
        out["consequences"] = copy.deepcopy(expect["consequences"])
    if "last" in expect:
        out["values"] = {"place_is_last": bool(expect["last"])}
    if expect.get("points"):
        out["points"] = {k: f"{v}分" for k, v in expect["points"].items()}
    if "total" in expect:
        out["subtotals"] = {"total": f"{expect['total']}分"}
    if "rank" in expect:
        out["ranks"] = {"place": "unknown" if expect["rank"] is None else expect["rank"]}
    if "provisional" in expect:
        out["provisional"] = bool(expect["provisional"])
    if "unknown_indicators" in expect:
        # format 1 calls an indicator scored on a missing figure unknown; format 2 a lower bound.
        # Format 1's total is unknown exactly when a part is (then the zone is provisional).
        bounds = list(expect["unknown_indicators"])
        out["lower_bounds"] = bounds + (["total"] if bounds and "total" in expect else [])
    if "award" in expect:
        want = expect["award"]
        if isinstance(want, str) and want in ("none", "excluded", "pending"):
            out["award"] = {"status": want}
        else:
            out["award"] = {"status": "awarded", "amount": f"{want}{unit or ''}"}
    return out, dropped


_ZONE_WORD = {True: "met", False: "not_met", "unknown": "unknown", None: "unknown"}


def convert_cohort_expect(expect: dict[str, Any], unit: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A format-1 scoring cohort's `expect:` as a format-2 cohort's: awards paid (in `unit`), the
    groups (format 1's `cohorts`: awards paid, how many ranked, in which order) and each zone
    (convert_zone_expect); and what was left out, by zone."""
    out: dict[str, Any] = {}
    dropped: dict[str, Any] = {}
    if "awards_paid" in expect:
        out["awards_paid"] = f"{expect['awards_paid']}{unit or ''}"
    if expect.get("cohorts"):
        out["groups"] = {g: {k: (f"{v}{unit or ''}" if k == "awards_paid" else copy.deepcopy(v)) for k, v in want.items()}
                         for g, want in expect["cohorts"].items()}
    zones = {}
    for ident, want in (expect.get("zones") or {}).items():
        zones[str(ident)], left = convert_zone_expect(want or {}, unit)
        if left:
            dropped[str(ident)] = left
    if zones:
        out["entities"] = zones
    return out, dropped
