"""Freeze what the format-1 pipeline decided, before format 1's own pipeline is retired (issue 12,
item 12): for each of the ten format-1 originals in tests/format1/rules/, every suite entity and
case, a seeded generated set and a few named cases are decided by the format-1 pipeline (load_pack,
normalise, Decider; for the scoring pack Scorer over cohorts), and the entities with their results
are written to tests/format1/expected/NAME.json. tests/test_migration.py reads those files and
demands that the format-2 packs (the one shipped in rules/ and the format-1 original converted on
load) decide every entity as format 1 did.

    .venv/bin/python tests/format1/freeze.py          # from the repository root

The files hold the entities themselves (fields, as-of date, --set overrides), so the comparison
needs nothing of format 1 but these files; generated entities are drawn by hypothesis with a
fixed seed (derandomize) from the strategies the migration test used, and a missing key is left
out rather than written. Values JSON cannot hold are tagged: {"$decimal": "1E+50"},
{"$float": "nan"}, {"$date": "2024-06-30"}. This script needs the format-1 pipeline, so it runs
only at a commit where format 1 is still in engine/ (the commit that added it); it is kept as the
record of how the expectations were made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from engine.evaluate.evaluate import Decider  # noqa: E402
from engine.evaluate.normalize import normalise  # noqa: E402
from engine.evaluate.pipeline import load_pack  # noqa: E402
from engine.explain.scoring import Scorer, load_scoring_pack, zone_index  # noqa: E402
from engine.load.data import RawEntity, load_entities  # noqa: E402
from engine.load.yamlsafe import iso_date, load_yaml_file  # noqa: E402
from test_property import ABSENT, UNITS, bad_for, good_for, thresholds_of  # noqa: E402

RULES = ROOT / "tests" / "format1" / "rules"
OUT = ROOT / "tests" / "format1" / "expected"
SCORING = "yangzhou-zone-evaluation"
SCORING_AS_OF = dt.date(2024, 12, 31)
GENERATED = 200  # generated entities per pack
GENERATED_COHORTS = 80
GENERATED_AS_OF = {"jiangxi-park-targets": dt.date(2016, 3, 1), "jiangxi-small-loan": dt.date(2015, 6, 30),
                   "tancheng-industrial-targets": dt.date(2022, 6, 30), "yangzhou-zone-targets": dt.date(2026, 1, 1),
                   "huguan-town-targets": dt.date(2025, 3, 1)}
STATUS_OF_OUTCOME = {"pass": "met", "fail": "not_met", "undetermined": "unknown"}

# Named cases the migration test reads beside the suites: an override reaching the per-year
# copies of a dated target, and computed values beyond the exact bounds.
FOUR_HIGHS_SETS = {"investment_intensity_min": "100万元/亩", "output_per_mu_min": "100万元/亩",
                   "tax_per_mu_min": "10万元/亩", "local_employment_min": "10人"}
FOUR_HIGHS_FIELDS = {"in_zone": "是", "land_area": 1, "annual_output": "500万元", "annual_tax": "50万元",
                     "local_employees": 20}
NAMED = {
    "tancheng-industrial-targets": [
        ("override new_above_scale_min=35家", dt.date(2023, 3, 1), {"new_above_scale_min": "35家"},
         {"new_above_scale_2020": 36, "new_above_scale_2021": 34, "new_above_scale_2022": 36}),
    ],
    "lianyungang-four-highs": [
        ("ordinary investment", dt.date(2024, 6, 30), FOUR_HIGHS_SETS, {**FOUR_HIGHS_FIELDS, "investment": "1000万元"}),
        ("investment of 60 digits", dt.date(2024, 6, 30), FOUR_HIGHS_SETS, {**FOUR_HIGHS_FIELDS, "investment": "1" * 60}),
        ("land area of 40 digits", dt.date(2024, 6, 30), FOUR_HIGHS_SETS,
         {**FOUR_HIGHS_FIELDS, "investment": "1000万元", "land_area": "1" * 40}),
    ],
}


def encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, float):
        return {"$float": repr(value)}
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return {"$date": value.isoformat()}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise TypeError(f"cannot freeze {value!r}")


def _sets(pairs: dict[str, Any] | None) -> list[list[Any]]:
    return [[k, encode(v)] for k, v in sorted((pairs or {}).items())]


def decide(path: Path, as_of: dt.date, sets: dict[str, Any], fields: dict[str, Any],
           cache: dict[Any, Any] = {}) -> dict[str, Any]:  # noqa: B006 - one compiled pack per (path, as_of, sets)
    key = (path, as_of, tuple(sorted((k, str(v)) for k, v in sets.items())))
    if key not in cache:
        pack, _ = load_pack(str(path), as_of, {k: ("test", v) for k, v in sets.items()} or None)
        cache[key] = (pack, Decider(pack, "durable"))
    pack, decider = cache[key]
    verdict = decider.decide(normalise(pack, RawEntity("frozen", 1, "E", None, fields)).values)
    statuses = dict(verdict.statuses)
    # format 1 gives the root's status as the outcome; format 2 decides the decision criterion
    statuses.setdefault(pack.root.id, (STATUS_OF_OUTCOME[str(verdict.outcome)], None))
    targets = {}
    for t in pack.targets:
        ident = t["id"]
        if ident not in statuses:
            continue
        value = statuses.pop(t["value_id"], None)
        status, branch = statuses.pop(ident)
        targets[ident] = "not_yet_due" if branch == "otherwise" else value[0] if value else status
    return {"outcome": str(verdict.outcome), "criteria": {k: str(s) for k, (s, _) in statuses.items()},
            "branches": {k: b for k, (_, b) in statuses.items() if b},
            "flags": {k: str(v) for k, v in verdict.flags.items()}, "targets": targets}


def suite_entities(path: Path) -> list[tuple[str, str, str | None, dt.date, dict[str, Any], dict[str, Any]]]:
    """(name, id, entity name, as_of, sets, fields) of every fixture entity and case of a suite."""
    suite_path = path.with_name(path.stem + ".tests.yaml")
    suite = load_yaml_file(str(suite_path))[0].value
    default = iso_date(suite.get("as_of")) or dt.date(2024, 6, 30)
    out = []
    for rel in suite.get("fixtures") or []:
        for entity in load_entities(str(suite_path.parent / rel), []):
            out.append((entity.id, entity.id, entity.name, default, {}, entity.fields))
    for i, case in enumerate(suite.get("cases") or []):
        fields = dict(case["entity"])
        ident = str(fields.pop("id", f"case{i}"))
        name = fields.pop("name", None)
        as_of = iso_date(case.get("as_of")) or default
        out.append((case.get("name", ident), ident, name, as_of, dict(case.get("set") or {}), fields))
    return out


# The strategies tests/test_migration.py drew from while it decided generated entities with both
# pipelines (moved here with the comparison: they read the format-1 compiled pack).


def _members(spec: Any) -> st.SearchStrategy[Any]:
    fields = spec.members or {}
    record = st.fixed_dictionaries({}, optional={f: st.one_of(good_for_field(s), bad_for(s)) for f, s in fields.items()})
    return st.lists(record.map(lambda r: {"name": "成员", **r}), max_size=6)


def good_for_field(spec: Any) -> st.SearchStrategy[Any]:
    if spec.type in ("money", "area", "percent", "count"):
        return st.sampled_from([0, 1, 5, 9, 10, 11, 49, 50, 51, 99, 100, 101, "10亿元", "1亿元", "9999万元"])
    return good_for(None, spec)[None]  # type: ignore[arg-type]


def _strategies(path: Path, as_of: dt.date) -> dict[str, st.SearchStrategy[Any]]:
    pack, _ = load_pack(str(path), as_of)
    out = {}
    for name, spec in pack.inputs.items():
        if spec.derived is not None:
            continue
        if spec.type == "members":
            out[name] = _members(spec)
        elif spec.unit is not None and spec.unit.name not in UNITS.get(spec.unit.dimension, {}):
            # a unit the property tests do not spell (个月): around the thresholds, plus junk
            out[name] = st.one_of(st.integers(0, 60), st.sampled_from(["24个月", "25个月", "两年", ""]), bad_for(spec))
        elif spec.type in ("money", "area", "percent", "count") and not thresholds_of(pack, name):
            # compared only through a derived value (a ratio, a difference): plain amounts, zero included
            out[name] = st.one_of(st.integers(0, 2000), st.sampled_from([0, "0", 1, 100, 200, 500]),
                                  st.integers(-50, 50) if spec.signed else st.just(7), bad_for(spec))
        else:
            out[name] = st.one_of(good_for(pack, spec)[None], good_for(pack, spec)[None], bad_for(spec))
    return out


def _zone_fields() -> st.SearchStrategy[dict[str, Any]]:
    """A zone's fields: few distinct amounts (ties on every ranked figure and on totals), each
    figure sometimes missing, both zone types, yes/no answers sometimes missing."""
    inputs = load_yaml_file(str(RULES / f"{SCORING}.yaml"))[0].value["inputs"]
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, spec in inputs.items():
        if spec["type"] == "enum":
            fields[name] = st.sampled_from(["重点发展型", "优化发展型", "重点发展型", "优化发展型", None])
        elif spec["type"] == "boolean":
            fields[name] = st.sampled_from(["是", "否", "否", None])
        else:
            amounts = [0, 1, 2, 5, 5, 30, 120, None] + ([-3] if spec.get("signed") else [])
            fields[name] = st.sampled_from(amounts)
    return st.fixed_dictionaries(fields).map(lambda f: {k: v for k, v in f.items() if v is not None})


def _present(value: Any, absent: object) -> Any:
    """`value` with every key whose value is the strategies' "left out" marker left out."""
    if isinstance(value, dict):
        return {k: _present(v, absent) for k, v in value.items() if v is not absent}
    if isinstance(value, list):
        return [_present(v, absent) for v in value]
    return value


def generated(path: Path, as_of: dt.date, count: int) -> list[dict[str, Any]]:
    """`count` entities drawn with a fixed seed from the strategies of tests/test_migration.py."""
    strategies = _strategies(path, as_of)
    drawn: list[dict[str, Any]] = []

    @settings(max_examples=count, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.fixed_dictionaries({}, optional=strategies))
    def draw(fields: dict[str, Any]) -> None:
        drawn.append(_present(fields, ABSENT))

    draw()
    unique: dict[str, dict[str, Any]] = {}
    for fields in drawn:
        unique.setdefault(json.dumps(encode(fields), sort_keys=True, ensure_ascii=False), fields)
    return list(unique.values())


def freeze_pack(path: Path) -> dict[str, Any]:
    cases = []
    for name, ident, label, as_of, sets, fields in suite_entities(path):
        cases.append({"source": "suite", "name": name, "id": ident, "entity_name": label, "as_of": as_of.isoformat(),
                      "set": _sets(sets), "fields": encode(fields), "result": decide(path, as_of, sets, fields)})
    for name, as_of, sets, fields in NAMED.get(path.stem, []):
        cases.append({"source": "named", "name": name, "id": "N1", "entity_name": None, "as_of": as_of.isoformat(),
                      "set": _sets(sets), "fields": encode(fields), "result": decide(path, as_of, sets, fields)})
    as_of = GENERATED_AS_OF.get(path.stem, dt.date(2024, 6, 30))
    for i, fields in enumerate(generated(path, as_of, GENERATED), start=1):
        cases.append({"source": "generated", "name": f"G{i}", "id": f"G{i}", "entity_name": None,
                      "as_of": as_of.isoformat(), "set": [], "fields": encode(fields),
                      "result": decide(path, as_of, {}, fields)})
    return {"cases": cases}


def zone(view: dict[str, Any], unit_factor: Fraction) -> dict[str, Any]:
    """What the migration test compares of one zone scored by format 1."""
    award = view["award"]

    def yuan(amount: Any) -> str | None:
        return None if amount is None else str(Fraction(amount) * unit_factor)

    return {"points": {i: str(Fraction(p)) for i, p in view["points"].items()}, "total": str(Fraction(view["total"])),
            "unknown_indicators": sorted(view["unknown_indicators"]), "total_status": view["total_status"],
            "provisional": view["provisional"], "rank": view["rank"], "last": view["last"],
            "vetoes": {v["id"]: str(v["status"]) for v in view["vetoes"]},
            "consequences": {c["id"]: str(c["status"]) for c in view["consequences"]},
            "outcome": str(view["criteria"]["outcome"]),
            "award": {"status": award["status"], "place": award.get("place"), "amount": yuan(award.get("amount")),
                      "held": yuan(award.get("held")), "shared_with": award.get("shared_with")}}


def cohort_fields() -> list[list[dict[str, Any]]]:
    drawn: list[list[dict[str, Any]]] = []

    @settings(max_examples=GENERATED_COHORTS, derandomize=True, database=None, phases=[Phase.generate],
              deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(_zone_fields(), min_size=1, max_size=7))
    def draw(cohort: list[dict[str, Any]]) -> None:
        drawn.append(cohort)

    draw()
    return drawn


def freeze_scoring(path: Path) -> dict[str, Any]:
    sp, _ = load_scoring_pack(str(path), SCORING_AS_OF)
    scorer = Scorer(sp, "durable")
    factor = sp.award_unit.factor if sp.award_unit else Fraction(1)
    suite_path = path.with_name(path.stem + ".tests.yaml")
    suite = load_yaml_file(str(suite_path))[0].value
    cohorts = []

    def add(name: str, source: str, entities: list[RawEntity]) -> None:
        zones = zone_index(scorer.score([(e, e.file) for e in entities]))
        cohorts.append({"source": source, "name": name, "as_of": SCORING_AS_OF.isoformat(),
                        "entities": [{"id": e.id, "entity_name": e.name, "fields": encode(e.fields)} for e in entities],
                        "zones": {ident: zone(view, factor) for ident, view in zones.items()}})

    for cohort in suite.get("cohorts") or []:
        entities = []
        for rel in cohort.get("fixtures") or []:
            entities += list(load_entities(str(suite_path.parent / rel), []))
        for j, raw in enumerate(cohort.get("entities") or []):
            fields = {k: v for k, v in raw.items() if k not in ("id", "name")}
            entities.append(RawEntity(str(suite_path), j, str(raw.get("id", f"E{j + 1}")), raw.get("name"), fields))
        add(str(cohort.get("name")), "suite", entities)
    for i, fields_list in enumerate(cohort_fields(), start=1):
        add(f"generated {i}", "generated",
            [RawEntity("generated", j, f"Z{j}", None, f) for j, f in enumerate(fields_list, start=1)])
    return {"cohorts": cohorts}


def dumps(document: dict[str, Any]) -> str:
    """JSON with one case (or cohort) a line: a diff of a re-freeze shows which entity changed."""
    head = {k: v for k, v in document.items() if k not in ("cases", "cohorts")}
    key = "cases" if "cases" in document else "cohorts"
    lines = [json.dumps(item, ensure_ascii=False, sort_keys=True) for item in document[key]]
    text = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    return text + f',\n "{key}": [\n' + ",\n".join(lines) + "\n ]\n}\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for path in sorted(p for p in RULES.glob("*.yaml") if not p.name.endswith(".tests.yaml")):
        body = freeze_scoring(path) if path.stem == SCORING else freeze_pack(path)
        document = {"pack": f"tests/format1/rules/{path.name}",
                    "pack_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    "produced_by": "tests/format1/freeze.py (the format-1 pipeline: load_pack, normalise, Decider, Scorer)",
                    **body}
        target = OUT / f"{path.stem}.json"
        target.write_text(dumps(document), encoding="utf-8")
        size = len(body.get("cases") or body.get("cohorts"))
        print(f"{target.relative_to(ROOT)}: {size} {'cases' if 'cases' in body else 'cohorts'}")


if __name__ == "__main__":
    main()
