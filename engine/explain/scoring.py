"""Scoring stage for `kind: scoring` packs: points, ranks within a cohort, vetoes, awards.

A scoring pack scores every entity of a cohort (entities grouped by an enum input, e.g. a zone
type) on indicators written in YAML — rank points, weighted combinations, per-item points with
caps, banded points — adds them up, ranks the cohort, applies vetoes, hands out the award table
and decides the consequences of the final place.

Who decides what:
- The **arithmetic** (ranks, weights, sums, caps) is here, exact (`Fraction`, never float).
- Every **yes/no decision** — vetoes, the pack's ordinary criteria, consequences of the final
  place — is a condition in the existing node format, compiled by `engine.compile.compile` into a
  durable-rules ruleset and decided by `engine.evaluate.evaluate.Decider`, like any eligibility pack. The
  vetoes and consequences become the compiled pack's flags. Each entity is decided twice: once
  before ranking (vetoes and criteria) and once after, with its result known as two extra inputs
  (`result_rank`, `result_last`) that only consequences may read.

Points the policy text leaves open are the pack's `choices` (see `CHOICES`); nothing about a
particular policy is written here.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable

import yaml

from engine.compile.compile import CompileError, build
from engine.load.data import RawEntity, ReadOptions, load_entities
from engine.evaluate.evaluate import Decider
from engine.explain.records import Explainer, provenance
from engine.compile.model import MET, NOT_MET, OUTCOME_OF, UNKNOWN, CompiledPack
from engine.evaluate.normalize import normalise
from engine.core.problems import ERROR, Problem, ProblemsError, clip, has_errors, shown
from engine.core.units import (AmountError, Unit, format_amount, fraction_json, parse_amount, parse_param_value, parse_unit,
                               to_fraction)
from engine.compile.check import check_document, validate_file
from engine.validate.validate_scoring import RESULT_INPUTS
from engine.load.yamlsafe import Document, load_yaml_file
from engine.evaluate.pipeline import _override_unit_problems, entities

OUTPUT_SCHEMA = "certify.scoring/1"

# Choices a pack must make where the policy is silent: name -> (allowed values, default).
CHOICES: dict[str, tuple[tuple[Any, ...] | None, Any]] = {
    "rank_ties": (("shared", "dense"), "shared"),
    "rank_floor": (None, 0),  # a number, or "none"
    "missing_value": (("zero", "exclude"), "zero"),
    "award_pass_down": ((True, False), True),
    "total_ties": (("split", "shared"), "split"),
    "tie_break": (None, []),  # indicator ids
    "step_rounding": (("whole", "proportional"), "whole"),
}
HIGHER_FIRST, LOWER_FIRST = "higher_first", "lower_first"
NO_AWARD, LAST_PLACE = "no_award", "last_place"


# ---------------------------------------------------------------------------------------------
# The compiled scoring pack


@dataclass(frozen=True)
class RankRule:
    input: str
    full: Fraction
    step: Fraction
    order: str = HIGHER_FIRST
    floor: Fraction | None = Fraction(0)
    ties: str = "shared"


@dataclass(frozen=True)
class ItemRule:
    input: str
    points: Fraction
    per: Fraction | None = None  # base units of the input per step; None: per unit counted
    per_text: str | None = None
    steps: str = "whole"


@dataclass(frozen=True)
class Band:
    low: Fraction | None
    high: Fraction | None
    include_low: bool
    include_high: bool
    points: Fraction
    text: str


@dataclass(frozen=True)
class Part:
    """One scored component: rank points, items, or bands, with its weight in the indicator."""

    id: str
    title: dict[str, str]
    kind: str  # "rank" | "items" | "bands"
    weight: Fraction  # 1 when the indicator is not weighted
    rank: RankRule | None = None
    items: tuple[ItemRule, ...] = ()
    bands_input: str | None = None
    bands: tuple[Band, ...] = ()


@dataclass(frozen=True)
class Indicator:
    id: str
    title: dict[str, str]
    cite: str | None
    max: Fraction
    parts: tuple[Part, ...]
    weighted: bool
    cap: Fraction | None
    min_points: Fraction | None = None


@dataclass(frozen=True)
class Veto:
    id: str
    title: dict[str, str]
    cite: str | None
    effect: str


@dataclass(frozen=True)
class AwardPlace:
    place: int
    amount: Fraction  # base units (元)
    unit: Unit
    title: dict[str, str]


@dataclass
class ScoringPack:
    decisions: CompiledPack  # vetoes, criteria and consequences, decided by durable-rules
    cohort_input: str
    cohort_cite: str | None
    total_max: Fraction
    total_cite: str | None
    indicators: tuple[Indicator, ...]
    vetoes: tuple[Veto, ...]
    consequences: tuple[Veto, ...]  # effect unused
    awards: dict[str, tuple[AwardPlace, ...]]
    award_total: Fraction | None
    award_unit: Unit | None
    award_cite: str | None
    choices: dict[str, Any]
    choice_notes: dict[str, str]
    has_criteria: bool
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)  # scoring settings set by --set / --overrides

    @property
    def meta(self):  # noqa: ANN201 - the decisions pack's metadata is the pack's
        return self.decisions.meta


def _points(raw: Any) -> Fraction:
    return to_fraction(raw)


def _percent_weight(raw: Any) -> Fraction:
    value, unit = parse_amount(raw, parse_unit("%"))
    if unit.dimension != "percent":
        raise ValueError(f"a weight is a percentage such as 60%, not {raw!r}")
    return value / 100


def _amount_in(raw: Any, input_unit: Unit | None) -> Fraction:
    value, _ = parse_amount(raw, input_unit)
    return value


def decisions_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The eligibility-style document whose flags are the vetoes and consequences."""
    inputs = dict(doc["inputs"])
    inputs.update(RESULT_INPUTS)
    flags = [
        {k: v for k, v in item.items() if k in ("id", "title", "cite", "when")}
        for item in list(doc.get("vetoes") or []) + list(doc.get("consequences") or [])
    ]
    return {
        "inputs": inputs,
        "derived": doc.get("derived") or {},
        "parameters": doc.get("parameters") or {},
        "criteria": doc.get("criteria") or {"id": "criteria", "title": {"zh": "criteria"}, "all": []},
        "flags": flags,
        "pack": doc["pack"],
    }


def _part(raw: dict[str, Any], weight: Fraction, choices: dict[str, Any], inputs: dict[str, Any],
          ident: str, title: dict[str, str]) -> Part:
    if "rank" in raw:
        r = raw["rank"]
        floor_choice = r.get("floor", choices["rank_floor"])
        floor = None if floor_choice in (None, "none") else _points(floor_choice)
        rule = RankRule(r["input"], _points(r["full"]), _points(r["step"]), r.get("order", HIGHER_FIRST),
                        floor, r.get("ties", choices["rank_ties"]))
        return Part(ident, title, "rank", weight, rank=rule)
    if "items" in raw:
        items = []
        for item in raw["items"]:
            unit = inputs[item["input"]].unit
            per = _amount_in(item["per"], unit) if "per" in item else None
            items.append(ItemRule(item["input"], _points(item["points"]), per,
                                  str(item["per"]) if "per" in item else None,
                                  item.get("steps", choices["step_rounding"])))
        return Part(ident, title, "items", weight, items=tuple(items))
    b = raw["bands"]
    unit = inputs[b["input"]].unit
    bands = []
    for tier in b["tiers"]:
        include = tier.get("include", "[)")
        low = _amount_in(tier["from"], unit) if "from" in tier else None
        high = _amount_in(tier["to"], unit) if "to" in tier else None
        text = (f"{include[0]}{tier.get('from', '-∞')}, {tier.get('to', '+∞')}{include[1]}")
        bands.append(Band(low, high, include[0] == "[", include[1] == "]", _points(tier["points"]), text))
    return Part(ident, title, "bands", weight, bands_input=b["input"], bands=tuple(bands))


def build_scoring(document: Document, raw_bytes: bytes, as_of: dt.date,
                  overrides: dict[str, tuple[str, Any]] | None = None) -> ScoringPack:
    """Build a scoring pack; `overrides` are for the pack's `parameters` (see `override_document`
    for the scoring settings)."""
    doc = document.value
    synthetic = Document(document.file, decisions_document(doc), {})
    decisions = build(synthetic, raw_bytes, as_of, overrides)
    choices = {name: default for name, (_, default) in CHOICES.items()}
    notes: dict[str, str] = {}
    for name, spec in (doc.get("choices") or {}).items():
        choices[name] = spec["value"]
        notes[name] = spec.get("note", "")
    indicators = []
    for ind in doc["indicators"]:
        title = ind.get("title", {"zh": ind["id"]})
        if "weighted" in ind:
            parts = tuple(
                _part(p, _percent_weight(p["weight"]), choices, decisions.inputs, p["id"], p.get("title", {"zh": p["id"]}))
                for p in ind["weighted"]
            )
        else:
            parts = (_part(ind, Fraction(1), choices, decisions.inputs, ind["id"], title),)
        indicators.append(Indicator(
            ind["id"], title, ind.get("cite"), _points(ind["max"]), parts, "weighted" in ind,
            _points(ind["cap"]) if "cap" in ind else None,
            _points(ind["min_points"]) if "min_points" in ind else None,
        ))
    vetoes = tuple(Veto(v["id"], v["title"], v.get("cite"), v["effect"]) for v in doc.get("vetoes") or [])
    consequences = tuple(Veto(c["id"], c["title"], c.get("cite"), "") for c in doc.get("consequences") or [])
    awards_raw = doc.get("awards") or {}
    awards: dict[str, tuple[AwardPlace, ...]] = {}
    award_unit: Unit | None = None
    for cohort, places in (awards_raw.get("by_cohort") or {}).items():
        out = []
        for place in places:
            amount, unit = parse_amount(place["amount"], None)
            award_unit = award_unit or unit
            out.append(AwardPlace(int(place["place"]), amount, unit, place.get("title", {"zh": str(place["place"])})))
        awards[cohort] = tuple(sorted(out, key=lambda a: a.place))
    award_total = None
    if "total" in awards_raw:
        award_total, unit = parse_amount(awards_raw["total"], None)
        award_unit = award_unit or unit
    total = doc["total"]
    return ScoringPack(
        decisions=decisions,
        cohort_input=doc["cohort"]["by"],
        cohort_cite=doc["cohort"].get("cite"),
        total_max=_points(total["max"]),
        total_cite=total.get("cite"),
        indicators=tuple(indicators),
        vetoes=vetoes,
        consequences=consequences,
        awards=awards,
        award_total=award_total,
        award_unit=award_unit,
        award_cite=awards_raw.get("cite"),
        choices=choices,
        choice_notes=notes,
        has_criteria="criteria" in doc,
    )


def is_scoring_document(doc: Document | None) -> bool:
    return doc is not None and isinstance(doc.value, dict) and (doc.value.get("pack") or {}).get("kind") == "scoring"


def is_scoring_file(path: str) -> bool:
    """Whether the pack at `path` says `kind: scoring` (False when it cannot be read: the
    ordinary loader then reports why)."""
    try:
        doc, _ = load_yaml_file(path, max_bytes=4 * 1024 * 1024)
    except (ProblemsError, OSError):
        return False
    return is_scoring_document(doc)


def load_scoring_pack(path: str, as_of: dt.date, overrides: dict[str, tuple[str, Any]] | None = None
                      ) -> tuple[ScoringPack, list[Problem]]:
    """Validate and build a scoring pack. Raises ProblemsError on errors; returns warnings.

    `overrides` ({name: (origin, value)}, as `engine.evaluate.pipeline.parse_overrides` returns) set pack
    parameters by name and scoring settings by path (see `override_document`)."""
    doc, raw, problems = validate_file(path)
    if doc is None or has_errors(problems):
        raise ProblemsError(problems)
    if not is_scoring_document(doc):
        raise ProblemsError([Problem(path, 1, 1, "E112", "this pack is not kind: scoring; use certify evaluate",
                                     message_zh="这个规则包不是计分类（kind: scoring）；请用 certify evaluate")])
    if not overrides:
        return build_scoring(doc, raw, as_of), [p for p in problems if p.severity != ERROR]
    patched, params, applied, bad = override_document(doc, overrides)
    if not bad:
        before = {(p.code, p.message) for p in problems}
        after = check_document(patched)
        bad = [Problem(p.file, p.line, p.col, p.code, f"with the overrides ({', '.join(applied)}): {p.message}",
                       message_zh=f"使用覆盖值（{', '.join(applied)}）后：{p.text('zh')}")
               for p in after if p.severity == ERROR and (p.code, p.message) not in before]
        problems = after
    if not bad and params:
        for name, (origin, value) in params.items():
            try:
                parse_param_value(value)
            except AmountError as error:
                bad.append(Problem(origin, 1, 1, "E123", f"override {name}: {clip(error)}",
                                   message_zh=f"覆盖值 {name} 无法读取：{shown(value)}；请写成如 10亿元、60%"))
        bad = bad or _override_unit_problems(doc, params)
    if bad:
        raise ProblemsError(bad)
    try:
        sp = build_scoring(patched, raw, as_of, params)
    except CompileError as error:
        raise ProblemsError([Problem(path, 1, 1, error.code, clip(error),
                                     message_zh=error.message_zh or f"规则包对引擎来说太大（{clip(error)}）；请拆分条件")])
    except (AmountError, ValueError) as error:
        raise ProblemsError([Problem(path, 1, 1, "E123", f"with the overrides ({', '.join(applied)}): {clip(error)}",
                                     message_zh=f"使用覆盖值（{', '.join(applied)}）后无法读取数额：{clip(error)}")])
    sp.overrides = applied
    return sp, [p for p in problems if p.severity != ERROR]


# ---------------------------------------------------------------------------------------------
# Overrides: what-if values for parameters and scoring settings

INDICATOR_FIELDS = ("max", "cap", "min_points")
RANK_FIELDS = ("full", "step", "floor", "order", "ties")
ITEM_FIELDS = ("points", "per", "steps")


def _override_targets(doc: dict[str, Any], name: str) -> list[tuple[dict[str, Any], str]] | None:
    """The (mapping, key) places an override path names in a (copied) scoring document, or None.

    Paths: ``awards.total``, ``awards.COHORT.PLACE`` (an award amount), ``choices.NAME``,
    ``ID.FIELD`` where ID is an indicator or weighted part id (or ``*`` for every one that has
    FIELD): ``weight`` (a weighted part), ``full`` / ``step`` / ``floor`` / ``order`` / ``ties``
    (rank points), ``max`` / ``cap`` / ``min_points`` (an indicator); ``ID.INPUT.points`` /
    ``.per`` / ``.steps`` (an item of an items indicator or part).
    """
    parts = name.split(".")
    if parts[0] == "awards":
        awards = doc.get("awards") or {}
        if parts[1:] == ["total"] and "total" in awards:
            return [(awards, "total")]
        if len(parts) == 3:
            table = (awards.get("by_cohort") or {}).get(parts[1]) or []
            found = [(row, "amount") for row in table if isinstance(row, dict) and str(row.get("place")) == parts[2]]
            return found or None
        return None
    if parts[0] == "choices":
        if len(parts) != 2 or parts[1] not in CHOICES:
            return None
        choices = doc.setdefault("choices", {})
        entry = choices.get(parts[1])
        if not isinstance(entry, dict):
            entry = choices[parts[1]] = {"value": CHOICES[parts[1]][1], "note": "set by override"}
        return [(entry, "value")]
    if len(parts) not in (2, 3):
        return None
    ident, field_name = parts[0], parts[-1]
    nodes: list[tuple[dict[str, Any], bool]] = []  # (indicator or weighted part, is an indicator)
    for ind in doc.get("indicators") or []:
        nodes.append((ind, True))
        nodes.extend((p, False) for p in ind.get("weighted") or [])
    nodes = [(n, top) for n, top in nodes if ident in ("*", n.get("id"))]
    found: list[tuple[dict[str, Any], str]] = []
    for node, top in nodes:
        if len(parts) == 3:
            if field_name in ITEM_FIELDS:
                found += [(item, field_name) for item in node.get("items") or [] if item.get("input") == parts[1]]
        elif field_name in INDICATOR_FIELDS and top:
            found.append((node, field_name))
        elif field_name == "weight" and not top:
            found.append((node, "weight"))
        elif field_name in RANK_FIELDS and isinstance(node.get("rank"), dict):
            found.append((node["rank"], field_name))
    return found or None


def override_document(document: Document, overrides: dict[str, tuple[str, Any]]
                      ) -> tuple[Document, dict[str, tuple[str, Any]], dict[str, dict[str, str]], list[Problem]]:
    """Apply overrides to a copy of a scoring document.

    Returns the patched document, the overrides of the pack's `parameters` (left to `build`,
    which records them), the scoring settings applied ({path: {value, from}}, for the result's
    record) and the problems (E120: an override names nothing in the pack)."""
    doc = copy.deepcopy(document.value)
    params = doc.get("parameters") or {}
    param_overrides: dict[str, tuple[str, Any]] = {}
    applied: dict[str, dict[str, str]] = {}
    bad: list[Problem] = []
    for name, (origin, value) in overrides.items():
        if name in params:
            param_overrides[name] = (origin, value)
            continue
        targets = _override_targets(doc, name)
        if targets is None:
            bad.append(Problem(origin, 1, 1, "E120", f"override for {shown(name)}: no such parameter or scoring setting in "
                               f"pack {document.file} (e.g. awards.COHORT.PLACE, PART.weight, PART.step, choices.NAME)",
                               message_zh=f"覆盖项 {shown(name)} 在规则包 {document.file} 中没有对应的参数或计分设置"
                               "（可写如 awards.分组.名次、PART.weight、PART.step、choices.名称）"))
            continue
        if name.startswith("choices.") and isinstance(value, str):
            parsed = yaml.safe_load(value) if value.strip() else value  # --set choices.award_pass_down=false
            value = value if isinstance(parsed, float) else parsed
        for mapping, key in targets:
            mapping[key] = value
        written = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict, bool)) else str(value)
        applied[name] = {"value": written, "from": origin}
    return Document(document.file, doc, document.positions), param_overrides, applied, bad


# ---------------------------------------------------------------------------------------------
# Arithmetic


def places(values: dict[str, Fraction], order: str, ties: str) -> dict[str, int]:
    """Place of each entity among `values` (1 = best): shared places skip after a tie (1, 2, 2, 4),
    dense ones do not (1, 2, 2, 3). One sort, then a bisect per entity (n log n)."""
    if ties == "dense":
        distinct = sorted(set(values.values()), reverse=(order == HIGHER_FIRST))
        index = {value: i + 1 for i, value in enumerate(distinct)}
        return {ident: index[value] for ident, value in values.items()}
    ordered = sorted(values.values())
    if order == HIGHER_FIRST:  # 1 + how many are strictly greater
        n = len(ordered)
        return {ident: 1 + n - bisect_right(ordered, value) for ident, value in values.items()}
    return {ident: 1 + bisect_left(ordered, value) for ident, value in values.items()}


def rank_points(rule: RankRule, place: int) -> tuple[Fraction, bool]:
    """(points, floor applied)."""
    points = rule.full - rule.step * (place - 1)
    if rule.floor is not None and points < rule.floor:
        return rule.floor, True
    return points, False


def band_points(bands: tuple[Band, ...], value: Fraction) -> tuple[Fraction, Band | None]:
    for band in bands:
        if band.low is not None and (value < band.low or (value == band.low and not band.include_low)):
            continue
        if band.high is not None and (value > band.high or (value == band.high and not band.include_high)):
            continue
        return band.points, band
    return Fraction(0), None


def _num(value: Fraction) -> str:
    return fraction_json(value)


def _pct(weight: Fraction) -> str:
    return f"{fraction_json(weight * 100)}%"


@dataclass
class _Zone:
    entity: RawEntity
    source: str
    values: dict[str, Any]
    normalised: Any
    problems: list[Problem]
    cohort: str | None
    vetoes: dict[str, str] = field(default_factory=dict)  # veto id -> status
    indicators: list[dict[str, Any]] = field(default_factory=list)
    total: Fraction = Fraction(0)
    unknown: list[str] = field(default_factory=list)  # indicator ids with unknown points
    keys: dict[str, Fraction] = field(default_factory=dict)  # indicator id -> points
    rank: int | None = None
    excluded: bool = False


class Scorer:
    """Scores cohorts with one scoring pack; yes/no decisions go through `Decider`."""

    def __init__(self, sp: ScoringPack, engine: str = "durable"):
        self.sp = sp
        self.engine = engine
        self.decider = Decider(sp.decisions, engine)
        self.explainer = Explainer(sp.decisions, engine)

    # -- value text ----------------------------------------------------------------------------
    def value_text(self, name: str, value: Any) -> str:
        spec = self.sp.decisions.inputs[name]
        if value is None:
            return "?"
        if spec.unit is not None:
            return format_amount(Fraction(value), spec.unit)
        return str(value)

    # -- one indicator ------------------------------------------------------------------------
    def score_part(self, part: Part, zone: _Zone, cohort_places: dict[str, dict[str, int]],
                   cohort_size: dict[str, int]) -> dict[str, Any]:
        sp = self.sp
        view: dict[str, Any] = {"id": part.id, "title": part.title, "kind": part.kind, "weight": _num(part.weight)}
        known = True
        raw_points = Fraction(0)
        notes: list[str] = []
        if part.kind == "rank":
            assert part.rank is not None
            value = zone.values.get(part.rank.input)
            view.update(input=part.rank.input, value=None if value is None else _num(Fraction(value) / (
                sp.decisions.inputs[part.rank.input].unit.factor if sp.decisions.inputs[part.rank.input].unit else 1)),
                value_text=self.value_text(part.rank.input, value))
            place = cohort_places[part.id].get(zone.entity.id)
            if value is None or place is None:
                known = False
                view.update(place=None, of=cohort_size[part.id])
                notes.append("missing")
            else:
                raw_points, floored = rank_points(part.rank, place)
                view.update(place=place, of=cohort_size[part.id])
                if floored:
                    notes.append("floor")
            view["rank_points"] = _num(raw_points) if known else None
        elif part.kind == "items":
            lines = []
            for item in part.items:
                value = zone.values.get(item.input)
                if value is None:
                    known = False
                    lines.append({"input": item.input, "label": self.sp.decisions.inputs[item.input].label,
                                  "value": None, "value_text": "?", "points": None})
                    continue
                units = Fraction(value) / item.per if item.per is not None else Fraction(value)
                counted = Fraction(math.floor(units)) if (item.per is not None and item.steps == "whole") else units
                pts = counted * item.points
                raw_points += pts
                lines.append({"input": item.input, "label": self.sp.decisions.inputs[item.input].label,
                              "value_text": self.value_text(item.input, value),
                              "units": _num(counted), "per": item.per_text, "points_each": _num(item.points),
                              "points": _num(pts), "steps": item.steps if item.per is not None else None})
            view["items"] = lines
        else:
            assert part.bands_input is not None
            value = zone.values.get(part.bands_input)
            view.update(input=part.bands_input, value_text=self.value_text(part.bands_input, value))
            if value is None:
                known = False
            else:
                raw_points, band = band_points(part.bands, Fraction(value))
                view["band"] = band.text if band else None
        points = raw_points * part.weight
        view.update(points=_num(points), known=known, notes=notes)
        return view

    def score_indicator(self, ind: Indicator, zone: _Zone, cohort_places: dict[str, dict[str, int]],
                        cohort_size: dict[str, int]) -> dict[str, Any]:
        parts = [self.score_part(p, zone, cohort_places, cohort_size) for p in ind.parts]
        subtotal = sum((Fraction(p["points"]) for p in parts), Fraction(0))
        known = all(p["known"] for p in parts)
        capped = ind.cap is not None and subtotal > ind.cap
        points = ind.cap if capped and ind.cap is not None else subtotal
        view = {
            "id": ind.id, "title": ind.title, "cite": ind.cite, "max": _num(ind.max),
            "points": _num(points), "status": "known" if known else "unknown",
            "uncapped": _num(subtotal) if capped else None, "cap": _num(ind.cap) if ind.cap is not None else None,
            "cap_applied": capped, "parts": parts,
        }
        if ind.min_points is not None:
            view["min_points"] = _num(ind.min_points)
            view["below_min"] = known and points < ind.min_points
        return view

    # -- decisions ----------------------------------------------------------------------------
    def _prepare(self, entity: RawEntity, source: str) -> _Zone:
        normalised = normalise(self.sp.decisions, entity)
        problems = list(normalised.problems)
        for name in RESULT_INPUTS:
            if name in normalised.values:
                normalised.values.pop(name)
                problems.append(Problem(entity.file, entity.line, 1, "E130",
                                        f"entity {entity.id}: {name} is computed by the evaluation; the value given is ignored",
                                        entity.id, "warning",
                                        f"对象 {entity.id}：{name} 由评估计算得出，数据中给出的值不予采用"))
        verdict = self.decider.decide(normalised.values)
        zone = _Zone(entity, source, normalised.values, normalised, problems,
                     normalised.values.get(self.sp.cohort_input))
        zone.vetoes = {v.id: verdict.flags[v.id] for v in self.sp.vetoes}
        return zone

    # -- a cohort -----------------------------------------------------------------------------
    def score_cohort(self, cohort: str, zones: list[_Zone]) -> dict[str, Any]:
        sp, ch = self.sp, self.sp.choices
        exclude_missing = ch["missing_value"] == "exclude"

        def rank_value(zone: _Zone, part: Part) -> Fraction | None:
            assert part.rank is not None
            v = zone.values.get(part.rank.input)
            return None if v is None else Fraction(v)

        rank_parts = [p for ind in sp.indicators for p in ind.parts if p.kind == "rank"]
        if exclude_missing:
            needed = [p.rank.input for p in rank_parts if p.rank] + [
                i.input for ind in sp.indicators for p in ind.parts for i in p.items] + [
                p.bands_input for ind in sp.indicators for p in ind.parts if p.bands_input]
            for zone in zones:
                zone.excluded = any(zone.values.get(n) is None for n in needed)
        ranked = [z for z in zones if not z.excluded]
        cohort_places: dict[str, dict[str, int]] = {}
        cohort_size: dict[str, int] = {}
        for part in rank_parts:
            assert part.rank is not None
            known = {z.entity.id: rank_value(z, part) for z in ranked}
            known_values = {k: v for k, v in known.items() if v is not None}
            cohort_places[part.id] = places(known_values, part.rank.order, part.rank.ties)
            cohort_size[part.id] = len(known_values)
        for zone in zones:
            zone.indicators = [self.score_indicator(ind, zone, cohort_places, cohort_size) for ind in sp.indicators]
            zone.total = sum((Fraction(i["points"]) for i in zone.indicators), Fraction(0))
            zone.unknown = [i["id"] for i in zone.indicators if i["status"] == "unknown"]
            zone.keys = {i["id"]: Fraction(i["points"]) for i in zone.indicators}

        # Final order: last-place vetoes go after everyone; then total; then tie_break indicators.
        tie_break = [t for t in (ch.get("tie_break") or []) if t in {i.id for i in sp.indicators}]
        last_vetoes = [v.id for v in sp.vetoes if v.effect == LAST_PLACE]

        def forced_last(z: _Zone) -> bool:
            return any(z.vetoes.get(v) == MET for v in last_vetoes)

        # Each zone's key is built once; smaller is better. Sorted by key, the zones with one key are
        # consecutive, and a zone's rank (1 + how many have a strictly smaller key) is 1 + the index
        # of the first zone with its key: one sort, n log n.
        keys = {id(z): (1 if forced_last(z) else 0, -z.total, *(-z.keys[t] for t in tie_break)) for z in ranked}
        ranked.sort(key=lambda z: (keys[id(z)], z.entity.id))
        for index, z in enumerate(ranked):
            if index and keys[id(z)] == keys[id(ranked[index - 1])]:
                z.rank = ranked[index - 1].rank
            else:
                z.rank = index + 1
        last_rank = max((z.rank or 0) for z in ranked) if ranked else None

        # Awards: in rank order over the zones that may take one.
        table = sp.awards.get(cohort, ())
        amount_at = {a.place: a for a in table}
        no_award_vetoes = [v.id for v in sp.vetoes if v.effect == NO_AWARD]
        awards: dict[str, dict[str, Any]] = {}

        def award_state(z: _Zone) -> str:
            if any(z.vetoes.get(v) == MET for v in no_award_vetoes):
                return "excluded"
            if any(z.vetoes.get(v) == UNKNOWN for v in no_award_vetoes + last_vetoes) or z.unknown:
                return "pending"
            return "eligible"

        pass_down = bool(ch["award_pass_down"])
        states = {id(z): award_state(z) for z in ranked}
        contenders = [z for z in ranked if (states[id(z)] != "excluded" or not pass_down)]
        # The contenders are in key order: each key's group is consecutive. For each key: how many
        # contenders are ahead, how many share it, and the amount each takes (worked out once).
        groups: dict[tuple[Any, ...], tuple[int, int]] = {}
        for index, z in enumerate(contenders):
            k = keys[id(z)]
            ahead, count = groups.get(k, (index, 0))
            groups[k] = (ahead, count + 1)
        amounts: dict[tuple[Any, ...], Fraction] = {}
        for z in ranked:
            state = states[id(z)]
            if state == "excluded" and pass_down:
                awards[z.entity.id] = {"status": "excluded", "place": None, "amount": None}
                continue
            group_key = keys[id(z)]
            ahead, tied = groups[group_key]
            if group_key not in amounts:
                if ch["total_ties"] == "split":
                    pool = sum((a.amount for p, a in amount_at.items() if ahead + 1 <= p <= ahead + tied), Fraction(0))
                    amounts[group_key] = pool / tied if tied else Fraction(0)
                else:
                    amounts[group_key] = amount_at[ahead + 1].amount if (ahead + 1) in amount_at else Fraction(0)
            amount = amounts[group_key]
            award_place = ahead + 1
            title = amount_at[award_place].title if award_place in amount_at else None
            if state == "excluded":
                awards[z.entity.id] = {"status": "excluded", "place": award_place, "amount": None,
                                       "forfeited": _award_num(amount, sp) if amount else None}
            elif amount == 0:
                awards[z.entity.id] = {"status": "none", "place": None, "amount": None}
            elif state == "pending":
                awards[z.entity.id] = {"status": "pending", "place": award_place, "amount": None,
                                       "held": _award_num(amount, sp), "title": title}
            else:
                awards[z.entity.id] = {"status": "awarded", "place": award_place, "amount": _award_num(amount, sp),
                                       "title": title, "shared_with": tied if tied > 1 else None}
        factor = sp.award_unit.factor if sp.award_unit else Fraction(1)
        paid = sum((Fraction(a["amount"]) * factor for a in awards.values() if a.get("amount")), Fraction(0))

        # Second decision: consequences, knowing the result.
        out_zones = []
        for z in sorted(zones, key=lambda z: (z.rank is None, z.rank or 0, z.entity.id)):
            values = dict(z.values)
            if z.rank is not None:
                values["result_rank"] = z.rank
                values["result_last"] = z.rank == last_rank
            verdict = self.decider.decide(values)
            record = self.explainer.explain(z.entity.id, z.entity.name, z.entity.fields, z.normalised, verdict, z.source)
            out_zones.append(self.zone_view(z, verdict, record, awards.get(z.entity.id), last_rank, len(ranked)))
        return {
            "cohort": cohort,
            "label": sp.decisions.inputs[sp.cohort_input].values.get(cohort, {"zh": cohort}),
            "size": len(zones),
            "ranked": len(ranked),
            "awards_paid": _award_num(paid, sp),
            "awards_table": [{"place": a.place, "amount": _award_num(a.amount, sp), "title": a.title} for a in table],
            "zones": out_zones,
        }

    def zone_view(self, z: _Zone, verdict: Any, record: dict[str, Any], award: dict[str, Any] | None,
                  last_rank: int | None, ranked: int) -> dict[str, Any]:
        sp = self.sp
        vetoes = []
        for v in sp.vetoes:
            vetoes.append({"id": v.id, "title": v.title, "cite": v.cite, "effect": v.effect,
                           "status": verdict.flags[v.id]})
        consequences = [{"id": c.id, "title": c.title, "cite": c.cite, "status": verdict.flags[c.id]}
                        for c in sp.consequences]
        below = [i["id"] for i in z.indicators if i.get("below_min")]
        notes = []
        if z.unknown and not z.excluded:
            notes.append("provisional")
        if any(v["status"] == UNKNOWN for v in vetoes):
            notes.append("veto_unknown")
        return {
            "id": z.entity.id,
            "name": z.entity.name,
            "source": z.source,
            "rank": z.rank,
            "of": ranked,
            "last": z.rank is not None and z.rank == last_rank,
            "provisional": bool(z.unknown) and not z.excluded,
            "excluded_from_ranking": z.excluded,
            "total": _num(z.total),
            "total_status": "unknown" if z.unknown else "known",
            "max": _num(sp.total_max),
            "points": {i["id"]: i["points"] for i in z.indicators},
            "unknown_indicators": z.unknown,
            "below_minimum": below,
            "indicators": z.indicators,
            "award": award or {"status": "none", "place": None, "amount": None},
            "vetoes": vetoes,
            "consequences": consequences,
            "criteria": {"outcome": verdict.outcome, "id": sp.decisions.root.id,
                         "title": sp.decisions.root.title, "cite": sp.decisions.root.cite,
                         "items": record["criteria"]} if sp.has_criteria else None,
            "missing_inputs": record["missing_inputs"],
            "notes": notes,
            "data_problems": [p.format() for p in z.problems],
        }

    # -- all --------------------------------------------------------------------------------
    def score(self, entities: Iterable[tuple[RawEntity, str]]) -> dict[str, Any]:
        sp = self.sp
        zones = [self._prepare(e, where) for e, where in entities]
        problems = [p for z in zones for p in z.problems]
        declared = list(sp.decisions.inputs[sp.cohort_input].values)
        by_cohort: dict[str, list[_Zone]] = {c: [] for c in declared}
        unassigned = []
        for z in zones:
            if z.cohort in by_cohort:
                by_cohort[z.cohort].append(z)
            else:
                unassigned.append({"id": z.entity.id, "name": z.entity.name, "source": z.source,
                                   "why": f"{sp.cohort_input} missing or invalid: cannot be placed in a cohort"})
        cohorts = [self.score_cohort(c, zs) for c, zs in by_cohort.items() if zs]
        factor = sp.award_unit.factor if sp.award_unit else Fraction(1)
        paid = sum((Fraction(c["awards_paid"]) * factor for c in cohorts), Fraction(0))
        record = provenance(sp.decisions, self.engine)
        record["overrides"] = {**record["overrides"], **sp.overrides}  # parameters, then scoring settings
        return {
            "schema": OUTPUT_SCHEMA,
            "record": record,
            "total_max": _num(sp.total_max),
            "award_unit": sp.award_unit.name if sp.award_unit else None,
            "award_total_stated": _award_num(sp.award_total, sp) if sp.award_total is not None else None,
            "awards_paid": _award_num(paid, sp),
            "choices": {k: {"value": v, "note": sp.choice_notes.get(k)} for k, v in sp.choices.items()},
            "cohorts": cohorts,
            "unassigned": unassigned,
            "problems": problems,
        }


def _award_num(amount: Fraction, sp: ScoringPack) -> str:
    unit = sp.award_unit
    return fraction_json(amount / unit.factor) if unit else fraction_json(amount)


def entities_from_files(files: Iterable[str], problems: list[Problem], read: Any = None,
                        counts: Any = None) -> list[tuple[RawEntity, str]]:
    """A cohort is ranked as a whole, so its entities are read into a list."""
    return list(entities(files, problems, read, counts))


def score_files(sp: ScoringPack, files: Iterable[str], engine: str = "durable",
                problems: list[Problem] | None = None, read: Any = None, counts: Any = None) -> dict[str, Any]:
    """Score every entity in `files` as one batch; data problems are appended to `problems`.
    `read` (engine.load.data.ReadOptions) sets the encoding; columns are checked against the pack.
    Rows read, scored (decided) and refused are added to `counts` (a pipeline.RowCounts)."""
    from dataclasses import replace

    problems = problems if problems is not None else []
    entities = entities_from_files(files, problems, replace(read or ReadOptions(), pack=sp.decisions), counts)
    result = Scorer(sp, engine).score(entities)
    problems.extend(result.pop("problems"))
    if counts is not None:
        counts.decided += len(zone_index(result))
    return result


def zone_index(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {z["id"]: z for c in result["cohorts"] for z in c["zones"]}


def status_word(status: str) -> str:
    return {MET: "met", NOT_MET: "not_met", UNKNOWN: "unknown"}[status]


__all__ = ["OUTCOME_OF", "ScoringPack", "Scorer", "is_scoring_file", "load_scoring_pack", "score_files", "zone_index"]
