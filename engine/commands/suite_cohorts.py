"""The cohorts of a pack test suite (`cohorts:` in *.tests.yaml): entities decided together — a
rank or an award reads the whole batch — and the totals the cohort must give. engine.commands.packtest
runs them; a cohort's entities come from its fixture files and its inline `entities:`
(`cohort_entities`), and its totals (awards paid, per group of the rank the awards paid, how many
are ranked and in which order) are compared with the records by `compare_cohort2`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from engine.core.problems import Problem, ProblemsError
from engine.core.units import AmountError, format_amount, parse_amount, parse_unit, to_fraction
from engine.load.data import RawEntity, load_entities
from engine.load.yamlsafe import Document


def cohort_usable(doc: Document, index: int, allowed: set[str], problems: list[Problem]) -> bool:
    """Whether `cohorts[index]` can be run: a mapping with `expect:`; unknown fields are reported
    (E110) and the cohort still runs."""
    cohort = doc.value["cohorts"][index]
    if not isinstance(cohort, dict) or not isinstance(cohort.get("expect"), dict):
        problems.append(doc.problem("E111", "a cohort needs fixtures or entities, and expect: {...}",
                                    ("cohorts", index),
                                    message_zh="每个分组需要写 fixtures 或 entities，以及 expect: {...}"))
        return False
    for key in sorted(set(cohort) - allowed):
        problems.append(doc.problem("E110", f"unknown field {key!r} in a cohort (allowed: {sorted(allowed)})",
                                    ("cohorts", index, key),
                                    message_zh=f"分组中有未知字段 {key!r}（允许的字段："
                                    f"{'、'.join(sorted(allowed))}）"))
    return True


def cohort_entities(path: str, doc: Document, index: int, problems: list[Problem]) -> list[RawEntity]:
    """The entities of `cohorts[index]`: its fixture files' entities, then its inline
    `entities:` (each where the suite writes it); a fixture file's problems go to `problems`."""
    cohort = doc.value["cohorts"][index]
    base = Path(path).parent
    entities: list[RawEntity] = []
    for rel in cohort.get("fixtures") or []:
        try:
            entities.extend(load_entities(str(base / rel), problems))
        except ProblemsError as error:
            problems.extend(error.problems)
    for j, raw in enumerate(cohort.get("entities") or []):
        if not isinstance(raw, dict):
            problems.append(doc.problem("E111", "an entity of a cohort is a mapping {id: ..., ...}",
                                        ("cohorts", index, "entities", j),
                                        message_zh="分组中的每个对象应写成映射 {id: ..., ...}"))
            continue
        line = doc.where(("cohorts", index, "entities", j))[0]
        fields = {k: v for k, v in raw.items() if k not in ("id", "name")}
        entities.append(RawEntity(path, line, str(raw.get("id", f"E{j + 1}")), raw.get("name"), fields))
    return entities


_COHORT2_EXPECT_KEYS = {"awards_paid", "groups", "entities", "why"}
_GROUP2_KEYS = {"awards_paid", "ranked", "order"}


def _amount2(want: Any, unit: str | None) -> Fraction | None:
    """An expected amount: written with its unit (3000万元), or a bare number in the award unit."""
    try:
        return parse_amount(want, parse_unit(unit) if unit else None)[0]
    except AmountError:
        try:
            return to_fraction(want)
        except AmountError:
            return None


def compare_cohort2(records: list[Any], expect: dict[str, Any]) -> list[str]:
    """Readable differences between a format-2 cohort (its records, in input order) and the totals
    it expects: awards paid, and per group of the rank the awards paid, how many are ranked and in
    which order (by place; entities sharing a place in input order)."""
    diffs: list[str] = []
    extra = sorted(set(expect) - _COHORT2_EXPECT_KEYS)
    if extra:
        diffs.append(f"unknown expect field(s) {extra}; allowed: {sorted(_COHORT2_EXPECT_KEYS)}")
    awards = [r.award for r in records if r.award is not None]
    unit = next((a.unit for a in awards if a.unit), None)

    def paid(of: list[Any]) -> Fraction:
        return sum((a.amount for a in of if a.status == "awarded" and a.amount is not None), Fraction(0))

    def check_paid(label: str, want: Any, got: Fraction) -> None:
        expected = _amount2(want, unit)
        if expected is None or expected != got:
            diffs.append(f"{label}: expected {want}, got {format_amount(got, parse_unit(unit) if unit else None, 'zh')}")

    if "awards_paid" in expect:
        if not awards:
            diffs.append("awards_paid: the pack has no outcomes.awards")
        else:
            check_paid("awards_paid", expect["awards_paid"], paid(awards))
    groups = expect.get("groups") or {}
    if not isinstance(groups, dict):
        return diffs + ["groups: expected a mapping {group: {awards_paid, ranked, order}}"]
    members: dict[str, list[tuple[Any, Any]]] = {}
    for index, record in enumerate(records):
        place = next((v for v in record.values if v.op == "rank"), None)
        group = (record.award.group if record.award is not None else None) or \
            (place.detail.get("group") if place is not None else None)
        if group is not None:
            members.setdefault(str(group), []).append((index, record, place))
    for group, want in groups.items():
        got = members.get(str(group))
        if not got:
            diffs.append(f"groups.{group}: no entity in this cohort")
            continue
        for key in sorted(set(want or {}) - _GROUP2_KEYS):
            diffs.append(f"groups.{group}: unknown expect field {key!r}; allowed: {sorted(_GROUP2_KEYS)}")
        ranked = sorted((place.value, index, record.entity_id) for index, record, place in got
                        if place is not None and place.value is not None)
        for key, value in (want or {}).items():
            if key == "awards_paid":
                check_paid(f"groups.{group}.awards_paid", value, paid([r.award for _, r, _ in got if r.award]))
            elif key == "ranked" and value != len(ranked):
                diffs.append(f"groups.{group}.ranked: expected {value}, got {len(ranked)}")
            elif key == "order" and [str(v) for v in value or []] != [ident for _, _, ident in ranked]:
                diffs.append(f"groups.{group}.order: expected {value}, got {[ident for _, _, ident in ranked]}")
    return diffs
