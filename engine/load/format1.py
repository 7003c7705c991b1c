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
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from engine.core.problems import ERROR, Problem
from engine.load.yamlsafe import Document, Path, iso_date

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
            out.problem("E202", src + (key,),
                        f"{value!r} is the place a format-1 scoring pack supplies after ranking; format 2 has no "
                        "value for it yet (a rank value and 'placed last' as a name): this condition is not converted",
                        f"{value!r} 是格式1评分规则包排名后提供的名次信息；格式2尚无对应的计算值（名次、是否最后一名），"
                        "此条件未转换")
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


def _in_force(spec: dict[str, Any], on: dt.date) -> dict[str, Any] | None:
    dated = [v for v in spec["values"] if iso_date(v.get("since")) is not None and iso_date(v["since"]) <= on]
    return max(dated, key=lambda v: str(v["since"])) if dated else None


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
        dated, a copy fixed to the value in force on 31 December of the year (as format 1)."""
        spec = self.params.get(name)
        if not isinstance(spec, dict) or "values" not in spec:
            return name
        new = f"{name}__{year}"
        if new in self.params:
            return new
        copy_spec: dict[str, Any] = {}
        chosen = _in_force(spec, dt.date(year, 12, 31))
        if chosen is None:
            first = min(str(v["since"]) for v in spec["values"])
            copy_spec["unset"] = f"{_year_end(year)} 无有效值(最早 {first} 起施行) / no value in force on {_year_end(year)}"
        else:
            copy_spec["values"] = [{"since": chosen["since"], "value": chosen["value"]}]
        copy_spec["cite"] = spec["cite"]
        if spec.get("quote"):
            copy_spec["quote"] = spec["quote"]
        copy_spec["label"] = {k: f"{v} ({year})" for k, v in spec["label"].items()}
        if spec.get("signed"):
            copy_spec["signed"] = True
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
# Scoring (filled in below)


def _scoring(out: _Out, doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    return _Scoring(out, doc).run(), {}


class _Scoring:
    def __init__(self, out: _Out, doc: dict[str, Any]):
        self.out = out
        self.doc = doc

    def run(self) -> dict[str, Any]:
        out = self.out
        out.problem("E201", ("indicators",),
                    "format-1 scoring packs are not converted yet",
                    "格式1评分规则包暂不能转换")
        return {"format": 2, "pack": _pack(out, self.doc)}


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

    def collect(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if isinstance(node.get("id"), str):
            ids.append(node["id"])
        for kind in ("all", "any"):
            for child in node.get(kind) or []:
                collect(child)
        for child in (node.get("at_least") or {}).get("of") or []:
            collect(child)
        collect(node.get("not"))
        for case in node.get("cases") or []:
            collect(case.get("then"))

    criteria = result.get("criteria") or {}
    for top, node in criteria.items():
        ids.append(top)
        collect(node)
    used = taken | set(ids)
    new_names: dict[str, str] = {}
    for ident in ids:
        if ident in taken:
            new = ident + suffix
            n = 2
            while new in used:
                new, n = f"{ident}{suffix}{n}", n + 1
            used.add(new)
            new_names[ident] = new
    if not new_names:
        return

    def rename(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if node.get("id") in new_names:
            node["id"] = new_names[node["id"]]
        for kind in ("all", "any"):
            for child in node.get(kind) or []:
                rename(child)
        for child in (node.get("at_least") or {}).get("of") or []:
            rename(child)
        rename(node.get("not"))
        for case in node.get("cases") or []:
            rename(case.get("then"))

    for node in criteria.values():
        rename(node)
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


def _exists(value: Any, path: Path) -> bool:
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            return False
    return True


