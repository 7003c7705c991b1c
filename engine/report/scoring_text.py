"""Views of a scoring result (`engine.explain.scoring`): text, JSON and CSV. Nothing here decides anything."""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from engine.core.jsontext import dump_indented
from engine.core.problems import Problem
from engine.core.units import fraction_json

WORDS = {
    "zh": {
        "as_of": "评价基准日", "rank": "名次", "zone": "集中区", "total": "总分", "award": "奖励",
        "marks": "否决与后果", "paid": "奖励合计", "place": "排第", "unknown": "未知", "missing": "缺数据",
        "cap": "上限", "uncapped": "原计", "floor": "触及下限", "excluded": "不参加评优",
        "pending": "暂缓(待补数据)", "none": "—", "provisional": "暂定(有指标缺数据,按缺项0分计)",
        "veto_unknown": "否决项数据缺失,未能判定", "vetoes": "否决项", "consequences": "评价后果",
        "criteria": "其他条款", "unranked": "未排名", "no_cohort": "无法归入类型", "weight": "权重",
        "shared": "并列", "forfeited": "名额空缺", "choices": "原文未规定事项的取值", "whole": "按整数计",
        "proportional": "按比例计", "items": "计分项", "band": "档位", "of": "共",
        "met": "是", "not_met": "否", "status_unknown": "未知", "pass": "满足", "fail": "不满足",
        "undetermined": "无法判定", "excluded_rank": "缺数据,不参加排名",
        "no_cohort_why": "类型数据缺失或无效",
    },
    "en": {
        "as_of": "as of", "rank": "rank", "zone": "zone", "total": "total", "award": "award",
        "marks": "vetoes and consequences", "paid": "awards paid", "place": "place ", "unknown": "unknown",
        "missing": "missing", "cap": "cap", "uncapped": "before cap", "floor": "floor applied",
        "excluded": "no award (veto)", "pending": "held (data missing)", "none": "—",
        "provisional": "provisional (missing data scored 0)", "veto_unknown": "veto data missing: undecided",
        "vetoes": "vetoes", "consequences": "consequences", "criteria": "other clauses", "unranked": "unranked",
        "no_cohort": "no cohort", "weight": "weight", "shared": "shared", "forfeited": "forfeited",
        "choices": "points the text leaves open", "whole": "whole steps", "proportional": "proportional",
        "items": "items", "band": "band", "of": "of", "met": "yes", "not_met": "no", "status_unknown": "unknown",
        "pass": "met", "fail": "not met", "undetermined": "undetermined",
        "excluded_rank": "missing data: not ranked",
    },
}
_MARK = {"met": "✔", "not_met": "✘", "unknown": "?"}
_MORE = {"zh": "(加 --full 显示每个对象的逐项计分过程)", "en": "(--full shows every entity's points, item by item)"}

# The choices a scoring pack makes where the policy is silent (engine.explain.scoring.CHOICES), in words:
# what each decides and what each value means. Chinese output shows these, never the keys.
CHOICE_TEXT: dict[str, dict[str, Any]] = {
    "rank_ties": {"label": {"zh": "同一指标完成值相同时的名次", "en": "equal values within an indicator"},
                  "values": {"shared": {"zh": "并列,其后名次顺延(1、2、2、4)", "en": "shared, next place skipped (1, 2, 2, 4)"},
                             "dense": {"zh": "并列,其后名次连续(1、2、2、3)", "en": "shared, next place kept (1, 2, 2, 3)"}}},
    "rank_floor": {"label": {"zh": "排名得分下限", "en": "floor of rank points"},
                   "values": {"none": {"zh": "不设下限", "en": "none"}}, "number": {"zh": "{v}分", "en": "{v} points"}},
    "missing_value": {"label": {"zh": "缺数据的分项", "en": "a part with missing data"},
                      "values": {"zero": {"zh": "记0分,名次与总分为暂定", "en": "scores 0; rank and total provisional"},
                                 "exclude": {"zh": "该对象不参加本类型排名", "en": "the entity is not ranked"}}},
    "award_pass_down": {"label": {"zh": "不参加评优者所占的奖励名额", "en": "award place of an entity barred from awards"},
                        "values": {True: {"zh": "由后一名递补", "en": "passes to the next"},
                                   False: {"zh": "空缺", "en": "left empty"}}},
    "total_ties": {"label": {"zh": "总分仍并列时的奖励", "en": "awards when totals still tie"},
                   "values": {"split": {"zh": "所占名次的奖金合计后平均分配", "en": "the awards of the places occupied, split evenly"},
                              "shared": {"zh": "各得所列名次的奖金", "en": "each gets the award of the shared place"}}},
    "tie_break": {"label": {"zh": "总分并列时依次比较", "en": "equal totals compared on"}},
    "step_rounding": {"label": {"zh": "不足一个计量单位的部分", "en": "part of a unit"},
                      "values": {"whole": {"zh": "不计分(按整数计)", "en": "not counted (whole units)"},
                                 "proportional": {"zh": "按比例计分", "en": "counted in proportion"}}},
}


def _l(label: Any, lang: str) -> str:
    if not label:
        return ""
    if isinstance(label, str):
        return label
    return label.get(lang) or label.get("zh") or next(iter(label.values()))


def _award_text(award: dict[str, Any], unit: str | None, lang: str) -> str:
    w = WORDS[lang]
    unit = unit or ""
    status = award.get("status")
    if status == "awarded":
        text = f"{_l(award.get('title'), lang)} {award['amount']}{unit}"
        if award.get("shared_with"):
            text += f" ({w['shared']} {award['shared_with']})"
        return text.strip()
    if status == "excluded":
        return w["excluded"] + (f" ({w['forfeited']} {award['forfeited']}{unit})" if award.get("forfeited") else "")
    if status == "pending":
        return f"{w['pending']} {award.get('held')}{unit}"
    return w["none"]


def _marks(zone: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    out = []
    for v in zone["vetoes"]:
        if v["status"] != "not_met":
            tag = "" if v["status"] == "met" else f" ({w['status_unknown']})"
            out.append(f"{_l(v['title'], lang).split(':')[0].split(':')[0]}{tag}")
    for c in zone["consequences"]:
        if c["status"] != "not_met":
            tag = "" if c["status"] == "met" else f" ({w['status_unknown']})"
            out.append(f"{_l(c['title'], lang)}{tag}")
    return "; ".join(out) or w["none"]


def part_line(part: dict[str, Any], lang: str, unit_words: dict[str, str] | None = None) -> list[str]:
    """One sub-indicator as readable arithmetic: 开票销售增幅 12.0% 排第2/9 → 9.5 × 60% = 5.7."""
    w = WORDS[lang]
    weight = part["weight"]
    weighted = weight != "1"
    pct = f"{_pct(weight)}"
    title = _l(part["title"], lang)
    if part["kind"] == "rank":
        if not part["known"]:
            return [f"{title} {w['missing']} → 0 ({w['unknown']})"]
        line = f"{title} {part['value_text']} {w['place']}{part['place']}/{part['of']} → {part['rank_points']}"
        if "floor" in part.get("notes", []):
            line += f" ({w['floor']})"
        if weighted:
            line += f" × {pct} = {part['points']}"
        return [line]
    if part["kind"] == "items":
        lines = []
        for item in part["items"]:
            label = _l(item.get("label"), lang) or item["input"]
            if item["points"] is None:
                lines.append(f"{label} {w['missing']} → 0 ({w['unknown']})")
                continue
            if item.get("per"):
                lines.append(f"{label} {item['value_text']} ÷ {item['per']} → {item['units']} "
                             f"({w[item['steps']]}) × {item['points_each']} = {item['points']}")
            elif item["points"] != "0":
                lines.append(f"{label} {item['value_text']} × {item['points_each']} = {item['points']}")
        return lines
    if not part["known"]:
        return [f"{title} {w['missing']} → 0 ({w['unknown']})"]
    return [f"{title} {part['value_text']} {w['band']} {part.get('band')} → {part['points']}"
            + (f" × {pct}" if weighted else "")]


def _pct(weight: str) -> str:
    from fractions import Fraction

    return f"{fraction_json(Fraction(weight) * 100)}%"


def _indicator_titles(result: dict[str, Any]) -> dict[str, Any]:
    """Indicator and part ids -> titles, from the first zone that lists them."""
    titles: dict[str, Any] = {}
    for cohort in result["cohorts"]:
        for z in cohort["zones"]:
            for ind in z["indicators"]:
                titles.setdefault(ind["id"], ind["title"])
                for part in ind.get("parts", []):
                    if part.get("id"):
                        titles.setdefault(part["id"], part["title"])
    return titles


_FIELD_WORDS = {
    "weight": ("权重", "weight"), "step": ("档差", "step"), "full": ("满分", "full points"),
    "floor": ("得分下限", "floor"), "order": ("排序方向", "order"), "ties": ("并列规则", "ties"),
    "max": ("满分", "maximum"), "cap": ("封顶分", "cap"), "min_points": ("最低得分", "minimum points"),
    "points": ("每单位得分", "points each"), "per": ("计量单位", "unit"), "steps": ("取整方式", "steps"),
}


def _item_label(result: dict[str, Any], indicator: str, input_name: str, lang: str) -> str:
    for cohort in result["cohorts"]:
        for z in cohort["zones"]:
            for ind in z["indicators"]:
                for part in ind.get("parts", []):
                    for item in part.get("items") or []:
                        if ind["id"] == indicator and item.get("input") == input_name and item.get("label"):
                            return _l(item["label"], lang)
    return ""


def setting_name(name: str, result: dict[str, Any], lang: str) -> str:
    """An override's name as a reader says it: `awards.key_development.1` -> 奖励 重点发展型 第1名."""
    parts = name.split(".")
    titles = _indicator_titles(result)
    zh = lang == "zh"
    if parts[0] == "awards" and len(parts) == 3:
        cohort = next((c for c in result["cohorts"] if c["cohort"] == parts[1]), None)
        label = _l(cohort["label"], lang) if cohort else parts[1]
        return f"奖励 {label} 第{parts[2]}名" if zh else f"award, {label}, place {parts[2]}"
    if parts[0] == "awards" and parts[1:] == ["total"]:
        return "奖励总额" if zh else "award total"
    if parts[0] == "choices" and len(parts) == 2 and parts[1] in CHOICE_TEXT:
        return _l(CHOICE_TEXT[parts[1]]["label"], lang)
    if len(parts) in (2, 3) and parts[-1] in _FIELD_WORDS:
        what = _FIELD_WORDS[parts[-1]]
        if parts[0] == "*":
            return f"所有分项的{what[0]}" if zh else f"every part's {what[1]}"
        owner = _l(titles.get(parts[0]), lang) or parts[0]
        if len(parts) == 3:  # ID.INPUT.points: an item of an items indicator
            owner += " " + (_item_label(result, parts[0], parts[1], lang) or parts[1])
        return f"{owner} {what[0] if zh else what[1]}"
    for cohort in result["cohorts"]:  # a pack parameter: its label, from a criterion that reads it
        for z in cohort["zones"]:
            for item in ((z.get("criteria") or {}).get("items") or []):
                test = item.get("test") or {}
                if test.get("parameter") == name and test.get("parameter_label"):
                    return _l(test["parameter_label"], lang)
    return name


def choice_text(name: str, value: Any, result: dict[str, Any], lang: str) -> str:
    """`同一指标完成值相同时的名次: 并列,其后名次顺延(1、2、2、4)` — a choice and its value in words."""
    spec = CHOICE_TEXT.get(name)
    if spec is None:
        return f"{name} = {json.dumps(value, ensure_ascii=False)}"
    label = _l(spec["label"], lang)
    if name == "tie_break":
        titles = _indicator_titles(result)
        shown = ("、" if lang == "zh" else ", ").join(_l(titles.get(v), lang) or str(v) for v in value or [])
        return f"{label}: {shown or WORDS[lang]['none']}"
    words = spec.get("values", {})
    if value in words and not (isinstance(value, (int, float)) and not isinstance(value, bool) and name == "rank_floor"):
        return f"{label}: {_l(words[value], lang)}"
    if "number" in spec:
        return f"{label}: {_l(spec['number'], lang).format(v=value)}"
    return f"{label}: {value}"


def render_score_text(result: dict[str, Any], out: TextIO, lang: str = "zh", pack_title: Any = None,
                      labels: dict[str, str] | None = None, view: str = "full") -> None:
    """The ranking tables, then (view "full") each entity's points item by item, then the choices
    the pack made where the policy is silent. view "short" leaves out the per-entity detail."""
    w = WORDS[lang]
    rec = result["record"]
    unit = result.get("award_unit")
    title = _l(pack_title, lang) or rec["pack"]
    out.write(f"{title} — {rec['pack']} {rec['pack_version']} (sha256 {rec['pack_sha256'][:12]}), "
              f"{w['as_of']} {rec['as_of']}\n")
    for name, o in (rec.get("overrides") or {}).items():  # as `certify evaluate` prints them
        if lang == "zh":
            value = o["value"]
            choice = name.split(".", 1)[1] if name.startswith("choices.") else None
            if choice in CHOICE_TEXT and choice in result.get("choices", {}):  # the value in words, too
                value = choice_text(choice, result["choices"][choice]["value"], result, lang).split(": ", 1)[-1]
            out.write(f"  参数临时改为: {setting_name(name, result, lang)} = {value} (来自 {o['from']})\n")
        else:
            out.write(f"  override {name} ({setting_name(name, result, lang)}) = {o['value']} ({o['from']})\n")
    if view == "short":
        out.write(f"{_MORE[lang]}\n")
    out.write("\n")
    for cohort in result["cohorts"]:
        zones = cohort["zones"]
        ind_ids = list(zones[0]["points"]) if zones else []
        ind_titles = [_l(i["title"], lang).replace("指标", "") for i in zones[0]["indicators"]] if zones else []
        out.write(f"== {_l(cohort['label'], lang)} ({cohort['ranked']}/{cohort['size']}) ==\n")
        header = [w["rank"], w["zone"], w["total"], *ind_titles, w["award"], w["marks"]]
        out.write(" | ".join(header) + "\n")
        for z in zones:
            rank = str(z["rank"]) if z["rank"] is not None else w["unranked"]
            if z["provisional"]:
                rank += "*"
            total = z["total"] + ("?" if z["total_status"] == "unknown" else "")
            cells = [rank, f"{z['id']} {z['name'] or ''}".strip(), total,
                     *[z["points"][i] + ("?" if i in z["unknown_indicators"] else "") for i in ind_ids],
                     _award_text(z["award"], unit, lang), _marks(z, lang)]
            out.write(" | ".join(cells) + "\n")
        out.write(f"{w['paid']}: {cohort['awards_paid']}{unit or ''}\n")
        if any(z["provisional"] for z in zones):
            out.write(f"* {w['provisional']}\n")
        out.write("\n")
    out.write(f"{w['paid']}: {result['awards_paid']}{unit or ''}"
              + (f" / {result['award_total_stated']}{unit or ''}" if result.get("award_total_stated") else "") + "\n\n")
    if view != "short":
        for cohort in result["cohorts"]:
            for z in cohort["zones"]:
                render_zone_text(z, out, lang, unit, labels)
    for u in result.get("unassigned") or []:
        why = w["no_cohort_why"] if lang == "zh" else u["why"]
        out.write(f"{u['id']} {u.get('name') or ''}: {w['no_cohort']} ({why})\n")
    out.write(f"{w['choices']}:\n")
    for name, choice in result["choices"].items():
        out.write(f"  {choice_text(name, choice['value'], result, lang)}\n")


def render_zone_text(z: dict[str, Any], out: TextIO, lang: str, unit: str | None,
                     labels: dict[str, str] | None = None) -> None:
    w = WORDS[lang]
    name = f" {z['name']}" if z.get("name") else ""
    rank = f"{w['place']}{z['rank']}/{z['of']}" if z["rank"] is not None else w["excluded_rank"]
    out.write(f"{z['id']}{name}: {rank}, {w['total']} {z['total']}/{z['max']}"
              + (f" ({w['provisional']})" if z["provisional"] else "") + "\n")
    for ind in z["indicators"]:
        cite = f" ({ind['cite']})" if ind.get("cite") else ""
        head = f"  {_l(ind['title'], lang)}{cite}: {ind['points']}/{ind['max']}"
        if ind["status"] == "unknown":
            head += f" ({w['unknown']})"
        if ind["cap_applied"]:
            head += f" ({w['cap']} {ind['cap']}, {w['uncapped']} {ind['uncapped']})"
        out.write(head + "\n")
        for part in ind["parts"]:
            for line in part_line(part, lang, labels):
                out.write(f"    {line}\n")
    out.write(f"  {w['award']}: {_award_text(z['award'], unit, lang)}\n")
    for v in z["vetoes"]:
        out.write(f"  {_MARK[v['status']]} {w['vetoes']} {v.get('cite') or ''}: {_l(v['title'], lang)}\n")
    for c in z["consequences"]:
        out.write(f"  {_MARK[c['status']]} {w['consequences']} {c.get('cite') or ''}: {_l(c['title'], lang)}\n")
    crit = z.get("criteria")
    if crit:
        status = {"pass": "met", "fail": "not_met", "undetermined": "unknown"}[crit["outcome"]]
        out.write(f"  {_MARK[status]} {w['criteria']} {crit.get('cite') or ''}: {_l(crit['title'], lang)}\n")
    for problem in z.get("data_problems") or []:
        out.write(f"  ! {problem}\n")
    out.write("\n")


def score_json(result: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    return {**result, "problems": [{"file": p.file, "line": p.line, "column": p.col, "code": p.code,
                                    "severity": p.severity, "message": p.message} for p in sorted(problems)]}


def render_score_json(result: dict[str, Any], problems: list[Problem], out: TextIO) -> None:
    dump_indented(score_json(result, problems), out)  # = json.dump(indent=2), C-encoded
    out.write("\n")


def render_score_csv(result: dict[str, Any], out: TextIO, lang: str = "zh") -> None:
    """One row per zone: cohort, rank, zone, total, each indicator's points, award, vetoes, consequences."""
    w = WORDS[lang]
    writer = csv.writer(out, lineterminator="\n")
    ind_ids: list[str] = []
    for cohort in result["cohorts"]:
        for z in cohort["zones"]:
            ind_ids = list(z["points"])
            break
        if ind_ids:
            break
    writer.writerow(["cohort", "rank", "id", "name", "total", "total_status", *ind_ids, "award_amount",
                     "award_unit", "award_status", "vetoes", "consequences", "provisional"])
    for cohort in result["cohorts"]:
        for z in cohort["zones"]:
            writer.writerow([
                cohort["cohort"], "" if z["rank"] is None else z["rank"], z["id"], z.get("name") or "", z["total"],
                z["total_status"], *[z["points"][i] for i in ind_ids], z["award"].get("amount") or "",
                result.get("award_unit") or "", z["award"]["status"],
                ";".join(v["id"] for v in z["vetoes"] if v["status"] == "met"),
                ";".join(c["id"] for c in z["consequences"] if c["status"] == "met"),
                "yes" if z["provisional"] else "no",
            ])
    del w
