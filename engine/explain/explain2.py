"""What a format-2 decision record means, ready for every view (text, JSON, HTML, Markdown).

A record (engine.evaluate.record2) holds statuses, values and their steps. Read alone, a firm that
fails only because a group subtotal is under its minimum, or passes only by a fast track, shows
as a tree of ✔ and ✘ that the reader must work through. This module says it in one headline,
and gives per value the facts a reviewer asks for: the value, the band taken with its endpoints,
the points, the cap applied, a group's subtotal against its minimum.

It works on the record and the compiled pack (the kind of each criterion node and what its test
reads); it decides and computes nothing: every status comes from durable-rules, every number from
the values Python computed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

from engine.compile.model import Node, Test
from engine.compile.model2 import CASES_BODY, Pack2
from engine.core.status import Status
from engine.core.units import AmountError, Unit, format_amount, parse_amount, parse_unit
from engine.evaluate.record2 import CriterionResult, Record2, ValueResult

LANGS = ("zh", "en")
_SYM = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "=", "!=": "≠"}
_NEGATED = {">=": "<", ">": "≤", "<=": ">", "<": "≥", "=": "≠", "!=": "="}
_WORDS = {
    "zh": {"met": "满足", "not_met": "不满足", "unknown": "未知", "not_applicable": "不适用",
           "pass": "通过", "fail": "不通过", "undetermined": "无法判定", "none": "未指定结论",
           "yes": "是", "no": "否", "sep": "；", "colon": "：", "required": "要求", "short": "差",
           "subtotal": "小计", "minimum": "最低要求", "unknown_value": "未知", "missing": "缺少",
           "attested_yes": "认定意见:是", "attested_no": "认定意见:否", "attested_none": "未提供认定意见",
           "strict": "须超过该标准", "early": "早 {n} 天", "late": "晚 {n} 天", "gap_sep": "，",
           "judged": "含酌情认定：{items}", "list_sep": "、"},
    "en": {"met": "met", "not_met": "not met", "unknown": "unknown", "not_applicable": "not applicable",
           "pass": "PASS", "fail": "FAIL", "undetermined": "UNDETERMINED", "none": "no decision named",
           "yes": "yes", "no": "no", "sep": "; ", "colon": ": ", "required": "required", "short": "short by",
           "subtotal": "subtotal", "minimum": "minimum", "unknown_value": "unknown", "missing": "missing",
           "attested_yes": "attested: yes", "attested_no": "attested: no", "attested_none": "no attestation given",
           "strict": "must exceed the threshold", "early": "{n} days too early", "late": "{n} days too late",
           "gap_sep": ", ", "judged": "includes a discretionary judgement: {items}", "list_sep": "; "},
}


def label(text: Mapping[str, str] | None, lang: str) -> str:
    if not text:
        return ""
    return text.get(lang) or text.get("zh") or next(iter(text.values()), "")


def _both(make: Any) -> dict[str, str]:
    return {lang: make(lang) for lang in LANGS}


# ---------------------------------------------------------------------------------------------
# Amounts


def unit_of(pack: Pack2, name: str) -> Unit | None:
    if name in pack.values:
        return pack.values[name].unit
    spec = pack.inputs.get(name)
    unit = getattr(spec, "unit", None) if spec is not None else None
    if isinstance(unit, str):
        return parse_unit(unit)
    return unit


def shown(value: Any, unit: Unit | str | None, lang: str) -> str:
    """A value as an officer reads it: an amount in its unit, a date, yes/no, an option."""
    w = _WORDS[lang]
    if value is None:
        return w["unknown_value"]
    if isinstance(value, bool):
        return w["yes"] if value else w["no"]
    if isinstance(value, (int, Fraction)):
        if isinstance(unit, str):
            unit = parse_unit(unit)
        return format_amount(Fraction(value), unit, lang)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Status):
        return w[value.value]
    return str(value)


def endpoints(low: Fraction | None, low_in: bool, high: Fraction | None, high_in: bool, unit: Unit | None,
              lang: str) -> str:
    """A band's ends in words, each saying whether it is included: 不低于20%且低于30% / ≥ 20% and < 30%."""
    parts = []
    if lang == "zh":
        if low is not None:
            parts.append(("不低于" if low_in else "高于") + format_amount(low, unit, lang))
        if high is not None:
            parts.append(("不超过" if high_in else "低于") + format_amount(high, unit, lang))
        return "且".join(parts) or "任何值"
    if low is not None:
        parts.append(("≥ " if low_in else "> ") + format_amount(low, unit, lang))
    if high is not None:
        parts.append(("≤ " if high_in else "< ") + format_amount(high, unit, lang))
    return " and ".join(parts) or "any value"


def threshold_text(test: Mapping[str, Any], unit: Unit | str | None, lang: str) -> str:
    """A comparison's threshold as the policy writes it when that is in another unit than what it
    is compared with (10亿元 beside 99,999万元, not 100,000万元; the record keeps the exact value),
    else in that unit (5,000万元, grouped as the value is)."""
    written = test.get("written")
    if written:
        try:
            _value, written_unit = parse_amount(written, None)
        except AmountError:
            written_unit = None
        compared = parse_unit(unit) if isinstance(unit, str) else unit
        if written_unit is not None and (compared is None or written_unit.name != compared.name):
            return str(written)
    return shown(test.get("threshold"), unit, lang)


def gap_text(test: Mapping[str, Any], unit: Unit | str | None, lang: str) -> str | None:
    """How far a comparison not met is from passing, as the record has it (engine.evaluate.record2
    `comparison_gap`): 差 1万元 / short by 1万元; 早 12 天 for a date; 须超过该标准 when the value
    reaches a strict threshold. None when the record has no gap."""
    gap = test.get("gap")
    if gap is None:
        return None
    w = _WORDS[lang]
    if isinstance(test.get("value"), dt.date):
        return w["early" if test.get("op") in (">=", ">") else "late"].format(n=int(gap))
    if gap == 0:
        return w["strict"]
    return f"{w['short']} {shown(Fraction(gap), unit, lang)}"


def attestation_text(test: Mapping[str, Any], lang: str) -> str:
    """An attestation as a reviewer reads it: 认定意见:否 (县工信局, 2024-04-10, 壶工信函〔2024〕31号),
    with the issuing unit, date and document number given with it, or 未提供认定意见."""
    w = _WORDS[lang]
    value = test.get("value")
    if value is None:
        return w["attested_none"]
    text = w["attested_yes"] if value is True else w["attested_no"]
    evidence = test.get("evidence") or {}
    given = [str(evidence[k]) for k in ("by", "date", "ref") if evidence.get(k)]
    return text + (f" ({', '.join(given)})" if given else "")


def evidence_text(test: Mapping[str, Any] | None) -> str | None:
    """The issuing unit, date and document number of an attestation, when given: 县工信局, 2024-04-10, …"""
    evidence = (test or {}).get("evidence") or {}
    given = [str(evidence[k]) for k in ("by", "date", "ref") if evidence.get(k)]
    return ", ".join(given) or None


# ---------------------------------------------------------------------------------------------
# Names as officers read them

_NAME = re.compile(r"(?<![A-Za-z0-9_])[a-z][a-z0-9_]*(?![A-Za-z0-9_])")
# The place of a ranked entity in its group, as engine.evaluate.points writes it: the group is the
# key of the `within` option (在 key 中排第 … / place 2 of 4 in key).
_GROUP = {"zh": re.compile(r"(在 )([A-Za-z0-9_]+)( 中排第)"), "en": re.compile(r"(place \d+ of \d+ in )([A-Za-z0-9_]+)")}
# Words of the English step texts (engine.evaluate) a pack name may coincide with: kept as words.
_EN_WORDS = frozenset("""a above after and applied as at band below bound by cap case cases capped count each
    floor for from full holds in is it last lower minimum missing no none not of on or otherwise over per place
    placed points provisional ranked scored step steps subtotal the tied to total under unknown was with yes""".split())


def name_label(pack: Pack2, name: str, lang: str) -> str:
    """What an officer calls a name of the pack: an input's, value's or parameter's label, a
    criterion's title, a choice's label; the name itself when it has none."""
    for table in (pack.inputs, pack.values, pack.params, pack.choices):
        spec = table.get(name)
        if spec is not None:
            return label(getattr(spec, "label", None), lang) or name
    if name in pack.titles:
        return label(pack.titles[name].get("title"), lang) or name
    return name


def labelled_step(pack: Pack2, value: str | None, text: str, lang: str) -> str:
    """A step of a value's trace with every name of the pack it mentions given by its label
    (zh / en), and the group of a rank by its option's label: 工业产值增速 12% 在 重点园区 中排第 2 名.
    The record keeps the names; this is how every view shows them."""
    spec = pack.values.get(value) if value else None
    within = getattr(getattr(spec, "args", None), "within", None)
    options = pack.inputs[within].values if within in pack.inputs else {}
    if options:
        text = _GROUP[lang].sub(lambda m: m.group(1) + (label(options.get(m.group(2)), lang) or m.group(2))
                                + (m.group(3) if lang == "zh" else ""), text)
    labels = _labels(pack, lang)
    return _NAME.sub(lambda m: labels.get(m.group(0), m.group(0)), text)


_LABELS: dict[tuple[int, str], tuple[Pack2, dict[str, str]]] = {}


def _labels(pack: Pack2, lang: str) -> dict[str, str]:
    """Every name of the pack a step may mention, with what `labelled_step` writes for it (its
    `name_label`; an English step keeps a name that is also an English word): built once per pack
    and language, not for every step of every entity."""
    found = _LABELS.get((id(pack), lang))
    if found is not None and found[0] is pack:
        return found[1]
    names = (pack.inputs.keys() | pack.values.keys() | pack.params.keys() | pack.choices.keys() | set(pack.titles))
    labels = {word: name_label(pack, word, lang) for word in names if not (lang == "en" and word in _EN_WORDS)}
    if len(_LABELS) >= 16:
        _LABELS.clear()
    _LABELS[(id(pack), lang)] = (pack, labels)
    return labels


# ---------------------------------------------------------------------------------------------
# Per value


@dataclass(frozen=True)
class ValueView:
    """One value as the views show it (every text in zh and en)."""

    name: str
    label: dict[str, str]
    cite: str | None
    op: str
    points: bool  # a points rule (unit 分)
    value: dict[str, str]  # "65分", or "未知 (缺少 …)"
    band: dict[str, str] | None  # "[20%, 30%)" and its ends in words, for bands
    taken: dict[str, str] | None  # the option or item that gave the points, for map
    cap: dict[str, str] | None  # "上限 40分，已封顶(原 60分)" when a group's cap applied
    subtotal: dict[str, str] | None  # "小计 15分，最低要求 20分（未达到）" for a group with a minimum
    meets_minimum: bool | None
    steps: tuple[dict[str, str], ...]


def missing_names(pack: Pack2, names: Any, lang: str) -> str:
    """The inputs an unknown rests on, by their labels: 特色主导产业年产值、主导产业类别."""
    return ("、" if lang == "zh" else ", ").join(name_label(pack, n, lang) for n in names)


def _missing_text(pack: Pack2, v: ValueResult, lang: str) -> str:
    return missing_names(pack, v.missing, lang)


_CONDITION_OP = {"in": "∈", "not_in": "∉", "is_true": "", "is_false": "", **_SYM}


def condition_text(pack: Pack2, node: Node, lang: str) -> str:
    """A `when` of a `cases` criterion as an officer reads it: 主导产业类别 ∈ {制造业}."""
    if node.test is not None:
        t = node.test
        what = name_label(pack, t.input, lang)
        if t.op in ("is_true", "is_false"):
            word = _WORDS[lang]["yes" if t.op == "is_true" else "no"]
            return f"{what} = {word}"
        if t.values:
            options = pack.inputs[t.input].values if t.input in pack.inputs else {}
            listed = _WORDS[lang]["list_sep"].join(label(options.get(v), lang) or v for v in t.values)
            return f"{what} {_CONDITION_OP.get(t.op, t.op)} {{{listed}}}"
        amount = shown(t.threshold, unit_of(pack, t.input), lang) if t.threshold is not None else (t.param or "")
        return f"{what} {_CONDITION_OP.get(t.op, t.op)} {amount}"
    joiner = {"all": (" 且 ", " and "), "any": (" 或 ", " or ")}.get(node.kind)
    if joiner is not None and node.children:
        return joiner[0 if lang == "zh" else 1].join(condition_text(pack, k, lang) for k in node.children)
    if node.kind == "not" and node.children:
        return ("非(" if lang == "zh" else "not (") + condition_text(pack, node.children[0], lang) + ")"
    return label(node.title, lang) or (node.id or "…")


def branch_text(pack: Pack2, c: CriterionResult, nodes: Mapping[str, Node], lang: str) -> str | None:
    """The path a `cases` criterion took, as format 1 showed it: 适用情形1: 主导产业类别 ∈ {制造业};
    无适用情形; 无法判断是否适用情形2: … when the data cannot tell. None for a criterion without one."""
    branch, node = c.branch, nodes.get(c.id)
    if not branch or node is None or node.kind != "cases" or not node.cases:
        return None
    if branch == "otherwise":
        return "无适用情形" if lang == "zh" else "no case applies"
    digits = "".join(ch for ch in branch if ch.isdigit())
    if not digits or not 1 <= int(digits) <= len(node.cases):
        return None
    n = int(digits)
    when = condition_text(pack, node.cases[n - 1][0], lang)
    if branch.startswith("case"):
        return f"适用情形{n}: {when}" if lang == "zh" else f"case {n} applies: {when}"
    return f"无法判断是否适用情形{n}: {when}" if lang == "zh" else f"cannot tell whether case {n} applies: {when}"


def is_lower_bound(v: ValueResult) -> bool:
    """A value that has a number yet names what it lacks: points with a figure scored 0 (`missing:
    zero`), or a sum or group of such points. Its number is a lower bound, provisional
    (docs/format2.md); every view marks it ≥, never shows it as the value."""
    return v.value is not None and bool(v.missing)


def lower_bound_note(pack: Pack2, v: ValueResult, lang: str) -> str:
    """（下限：缺少 税收，按0分计） / (lower bound: tax missing, scored 0)."""
    if lang == "zh":
        return f"（下限：缺少 {_missing_text(pack, v, lang)}，按0分计）"
    return f" (lower bound: {_missing_text(pack, v, lang)} missing, scored 0)"


def value_view(pack: Pack2, v: ValueResult) -> ValueView:
    spec = pack.values.get(v.name)
    unit = spec.unit if spec else (parse_unit(v.unit) if v.unit else None)
    detail = v.detail or {}

    def value_text(lang: str) -> str:
        text = shown(v.value, unit, lang)
        if is_lower_bound(v):
            return "≥" + text + lower_bound_note(pack, v, lang)
        if v.value is None:
            if v.missing:
                text += f" ({_WORDS[lang]['missing']} {_missing_text(pack, v, lang)})"
            elif v.reason:
                text += f" ({v.reason.zh if lang == 'zh' else v.reason.en})"
        return text

    band = None
    if v.op == "bands" and detail.get("band_text"):
        of_unit = getattr(spec.args, "unit", None) if spec else None
        band = _both(lambda lang: f"{detail['band_text']}（{endpoints(detail.get('low'), bool(detail.get('low_included')), detail.get('high'), bool(detail.get('high_included')), of_unit, lang)}）"
                     if lang == "zh" else
                     f"{detail['band_text']} ({endpoints(detail.get('low'), bool(detail.get('low_included')), detail.get('high'), bool(detail.get('high_included')), of_unit, lang)})")
    elif v.op == "bands" and detail.get("otherwise"):
        band = {"zh": "不在所列各档（其他情形）", "en": "in no listed band (otherwise)"}
    taken = None
    if v.op == "map" and "taken" in detail and detail["taken"] is not None:
        item = detail.get("condition", detail["taken"])
        taken = {"zh": str(item), "en": str(item)}
    cap = None
    if detail.get("cap_applied"):
        cap = _both(lambda lang: (f"上限 {shown(detail['cap'], unit, lang)}，已封顶（原 {shown(detail['uncapped'], unit, lang)}）"
                                  if lang == "zh" else
                                  f"cap {shown(detail['cap'], unit, lang)} applied (was {shown(detail['uncapped'], unit, lang)})"))
    subtotal = None
    meets = None
    if v.op == "group" and detail.get("minimum") is not None:
        meets = detail.get("meets_minimum")
        total = detail.get("subtotal", detail.get("known_subtotal"))

        def group_text(lang: str) -> str:
            w = _WORDS[lang]
            amount = shown(total, unit, lang) if v.value is not None else shown(None, unit, lang)
            if is_lower_bound(v):
                amount = "≥" + amount
            word = {True: {"zh": "已达到", "en": "met"}, False: {"zh": "未达到", "en": "not met"},
                    None: {"zh": "无法判断", "en": "cannot tell"}}[meets][lang]
            if lang == "zh":
                return f"{w['subtotal']} {amount}，{w['minimum']} {shown(detail['minimum'], unit, lang)}（{word}）"
            return f"{w['subtotal']} {amount}, {w['minimum']} {shown(detail['minimum'], unit, lang)} ({word})"

        subtotal = _both(group_text)
    return ValueView(v.name, dict(v.label) or {"zh": v.name, "en": v.name}, spec.cite if spec else None, v.op,
                     bool(spec.points) if spec else False, _both(value_text), band, taken, cap, subtotal, meets,
                     tuple(_both(lambda lang, s=s: labelled_step(pack, v.name, s.zh if lang == "zh" else s.en, lang))
                           for s in v.steps))


# ---------------------------------------------------------------------------------------------
# The criteria tree


def criterion_nodes(pack: Pack2) -> dict[str, Node]:
    """Every criterion node with an id, across the stages; an applicability wrapper stands for
    its body (the node that says what the criterion is)."""
    found: dict[str, Node] = {}
    for stage in pack.stages:
        for node in stage.pack.root.walk():
            if node.id and not node.id.endswith(CASES_BODY):
                if node.id in stage.applicability and node.kind == "cases" and node.cases:
                    node = node.cases[0][1]
                found.setdefault(node.id or "", node)
    return found


_POSITIONS: list[tuple[Any, dict[str, int]]] = [(None, {})]  # the last record asked about, and its index


def _positions(rec: Record2) -> dict[str, int]:
    """Each criterion's index in the record: worked out once per record, not once per node (a
    headline asks for the parts of many nodes of the same record). One (record, index) pair is
    kept and replaced whole, so threads never see one record's index for another."""
    last = _POSITIONS[0]
    if last[0] is rec:
        return last[1]
    positions = {c.id: i for i, c in enumerate(rec.criteria)}
    _POSITIONS[0] = (rec, positions)
    return positions


def _children(rec: Record2, index: int, nodes: dict[str, Node]) -> list[int]:
    """Indexes (in the record) of the direct parts of criterion `index`, in the pack's order: the
    parts with ids, and a part that reads another criterion (`{criterion: fast_track}`) as that
    criterion. A part the record does not list (a case not taken) is left out."""
    position = _positions(rec)
    node = nodes.get(rec.criteria[index].id)
    if node is None:  # not in the compiled tree: the record's depth-first order says
        depth = rec.criteria[index].depth
        out = []
        for j in range(index + 1, len(rec.criteria)):
            if rec.criteria[j].depth <= depth or rec.criteria[j].top:
                break
            if rec.criteria[j].depth == depth + 1:
                out.append(j)
        return out
    parts = list(node.children) if node.kind != "cases" else [then for _, then in node.cases]
    out = []
    for part in parts:
        if part.id and part.id in position:
            out.append(position[part.id])
        elif part.kind == "test" and part.test is not None and part.test.input in position \
                and part.test.input != rec.criteria[index].id:
            out.append(position[part.test.input])  # a link to a criterion decided earlier
    return [k for k in out if k != index]


@dataclass(frozen=True)
class Because:
    """A criterion that decided the outcome, with what its test read."""

    criterion: CriterionResult
    text: dict[str, str]  # "第六条 创新能力小计不低于20分：小计 15分，最低要求 20分（未达到）"
    group_minimum: bool  # a test of a group subtotal against its minimum
    short: dict[str, str]  # for a group minimum not met: "第六条 创新能力小计 15分，低于最低要求 20分"
    facts: dict[str, str]  # the part after the title: "小计 15分，最低要求 20分（未达到）"


def _test(node: Node | None) -> Test | None:
    if node is None:
        return None
    if node.kind == "test":
        return node.test
    if node.kind == "cases" and node.cases and node.cases[0][1].kind == "test" and node.id is None:
        return node.cases[0][1].test
    return None


def unset_parameter(pack: Pack2, c: CriterionResult, test: Test | None = None) -> dict[str, str] | None:
    """For an unknown criterion whose threshold is a parameter the policy leaves unset (`unset:`,
    or a parameter derived from one): which parameter, where, and the pack's reason —
    参数 职工人数下限（第六条）未设定：原文未规定职工人数下限."""
    if c.status is not Status.UNKNOWN:
        return None
    name = (c.test or {}).get("param") or (test.param if test is not None else None)
    spec = pack.params.get(name) if name else None
    if spec is None or spec.value is not None:
        return None
    source = pack.params.get(spec.unset_because) if getattr(spec, "unset_because", None) else None
    open_one = source if source is not None and source.value is None else spec
    reason = open_one.unset_reason or ""

    def text(lang: str) -> str:
        what = label(open_one.label, lang) or open_one.name
        cite = open_one.cite
        via = ""
        if open_one is not spec:
            via = (f"（{label(spec.label, lang) or spec.name} 由它得出）" if lang == "zh" else
                   f" ({label(spec.label, lang) or spec.name} is derived from it)")
        if lang == "zh":
            return f"参数 {what}{f'（{cite}）' if cite else ''}未设定{via}" + (f"：{reason}" if reason else "")
        return f"parameter {what}{f' ({cite})' if cite else ''} is unset{via}" + (f": {reason}" if reason else "")

    return _both(text)


def because(pack: Pack2, rec: Record2, c: CriterionResult, nodes: dict[str, Node]) -> Because:
    test = _test(nodes.get(c.id))
    head = " ".join(x for x in (c.cite, label(c.title, "zh") or c.id) if x)
    head_en = " ".join(x for x in (c.cite, label(c.title, "en") or c.id) if x)
    group = False
    facts: dict[str, str] | None = None
    short: dict[str, str] = {}
    if test is not None and test.input in pack.values:
        v = rec.value(test.input) if any(x.name == test.input for x in rec.values) else None
        spec = pack.values[test.input]
        unit = spec.unit
        if v is not None and spec.op == "group" and (v.detail or {}).get("minimum") is not None \
                and test.op in (">=", ">"):
            group = True
            facts = value_view(pack, v).subtotal
            detail = v.detail or {}
            if v.value is not None:
                def brief(lang: str) -> str:
                    amount = shown(detail.get("subtotal"), unit, lang)
                    least = shown(detail["minimum"], unit, lang)
                    name = label(spec.label, lang) or spec.name
                    cite = f"{c.cite} " if c.cite else ""
                    return (f"{cite}{name} {amount}，低于最低要求 {least}" if lang == "zh" else
                            f"{cite}{name} {amount}, under the minimum of {least}")

                short = _both(brief)
        elif v is not None and test.op in _SYM and test.threshold is not None:
            seen = c.test or {"threshold": test.threshold}

            def compare(lang: str) -> str:
                w = _WORDS[lang]
                value = shown(v.value, unit, lang)
                threshold = threshold_text(seen, unit, lang)
                if c.status is Status.MET:
                    return f"{value} {_SYM[test.op]} {threshold}"
                if c.status is Status.NOT_MET and v.value is not None:
                    gap = gap_text(seen, unit, lang)
                    return (f"{value} {_NEGATED[test.op]} {threshold} ({w['required']} {_SYM[test.op]} {threshold})"
                            + (f"{w['gap_sep']}{gap}" if gap else ""))
                missing = f" ({w['missing']} {_missing_text(pack, v, lang)})" if v.missing else ""
                return f"{value}{missing} ({w['required']} {_SYM[test.op]} {threshold})"

            facts = _both(compare)
    if facts is None and c.test and c.test.get("op") in _SYM and c.test.get("threshold") is not None:
        # a comparison of an input: the record carries the value as read and the threshold in force
        read, unit_name, op = c.test.get("value"), c.test.get("unit"), c.test["op"]

        def compared(lang: str) -> str:
            w = _WORDS[lang]
            value, threshold = shown(read, unit_name, lang), threshold_text(c.test, unit_name, lang)
            if c.status is Status.MET:
                return f"{value} {_SYM[op]} {threshold}"
            if c.status is Status.NOT_MET and read is not None:
                gap = gap_text(c.test, unit_name, lang)
                return (f"{value} {_NEGATED[op]} {threshold} ({w['required']} {_SYM[op]} {threshold})"
                        + (f"{w['gap_sep']}{gap}" if gap else ""))
            if read is None and c.missing:
                return f"{w['missing']} {missing_names(pack, c.missing, lang)} ({w['required']} {_SYM[op]} {threshold})"
            return f"{value} ({w['required']} {_SYM[op]} {threshold})"

        facts = _both(compared)
    if facts is None and c.test and c.test.get("op") == "attested" and c.status is not Status.NOT_APPLICABLE:
        facts = _both(lambda lang: attestation_text(c.test, lang))
    unset = unset_parameter(pack, c, test)
    if facts is None and unset is not None:  # the policy leaves the threshold open: say which and why
        facts = {"zh": f"未知（{unset['zh']}）", "en": f"unknown ({unset['en']})"}
    if facts is None and c.status is Status.UNKNOWN and c.missing:  # unknown for want of data: name it
        facts = _both(lambda lang: f"{_WORDS[lang]['missing']} {missing_names(pack, c.missing, lang)}")
    if facts is None:
        facts = _both(lambda lang: _WORDS[lang][c.status.value])
    text = {"zh": f"{head}：{facts['zh']}", "en": f"{head_en}: {facts['en']}"}
    return Because(c, text, group and c.status is Status.NOT_MET and bool(short), short or text, facts)


def _leaves(pack: Pack2, rec: Record2, index: int, want: Status, nodes: dict[str, Node]) -> tuple[list[int], list[int]]:
    """The criteria under `index` that give it the status `want` (not met / unknown), following
    the main route of an `any` (its first applicable part); the other routes of an `any` that are
    not met either come back as alternatives."""
    kids = _children(rec, index, nodes)
    if not kids:
        return [index], []
    node = nodes.get(rec.criteria[index].id)
    kind = node.kind if node is not None else "all"
    live = [k for k in kids if rec.criteria[k].status is not Status.NOT_APPLICABLE]
    if kind == "any" and live:
        main = next((k for k in live if rec.criteria[k].status is want), live[0])
        leaves, alternatives = _leaves(pack, rec, main, rec.criteria[main].status, nodes)
        return leaves, alternatives + [k for k in live if k != main and rec.criteria[k].status is not Status.MET]
    if kind == "not":
        return [index], []
    bad = [k for k in live if rec.criteria[k].status is want]
    if not bad:
        return [index], []
    leaves: list[int] = []
    alternatives: list[int] = []
    for k in bad:
        more, alt = _leaves(pack, rec, k, want, nodes)
        leaves += more
        alternatives += alt
    return leaves, alternatives


def _route(pack: Pack2, rec: Record2, index: int, nodes: dict[str, Node]) -> tuple[int, int] | None:
    """For a met criterion: the first `any` on its way that is met by a later route while its
    main route (the first applicable part) is not met — (that route, the main route)."""
    node = nodes.get(rec.criteria[index].id)
    kids = [k for k in _children(rec, index, nodes) if rec.criteria[k].status is not Status.NOT_APPLICABLE]
    if not kids or node is None:
        return None
    if node.kind == "any":
        main = kids[0]
        if rec.criteria[main].status is not Status.MET:
            taken = next((k for k in kids[1:] if rec.criteria[k].status is Status.MET), None)
            if taken is not None:
                return taken, main
        return _route(pack, rec, main, nodes)
    for k in kids:
        if rec.criteria[k].status is Status.MET:
            found = _route(pack, rec, k, nodes)
            if found:
                return found
    return None


def _title(c: CriterionResult, lang: str) -> str:
    return " ".join(x for x in (c.cite, label(c.title, lang) or c.id) if x)


def headline(pack: Pack2, rec: Record2, nodes: dict[str, Node] | None = None) -> dict[str, str]:
    """The outcome and why, in one line: a pass by a fast track names the route taken and the main
    route not met; a failure names what stands in the way (a group minimum with its subtotal)."""
    nodes = criterion_nodes(pack) if nodes is None else nodes
    if rec.outcome is None or rec.decision is None:
        return _both(lambda lang: _WORDS[lang]["none"])
    outcome = rec.outcome.value
    try:
        root = next(i for i, c in enumerate(rec.criteria) if c.id == rec.decision)
    except StopIteration:
        return _both(lambda lang: _WORDS[lang][outcome])
    if outcome == "pass":
        judged = discretionary_met(rec)

        def judgement(lang: str) -> str:  # the 酌情 judgements the pass rests on, for the reviewer to confirm
            w = _WORDS[lang]
            return w["judged"].format(items=w["list_sep"].join(_title(c, lang) for c in judged)) if judged else ""

        route = _route(pack, rec, root, nodes)
        if route is None:
            return {"zh": "通过" + (f"（{judgement('zh')}）" if judged else ""),
                    "en": "PASS" + (f" ({judgement('en')})" if judged else "")}
        taken, main = rec.criteria[route[0]], rec.criteria[route[1]]
        main_why = _leaves(pack, rec, route[1], main.status, nodes)[0]
        reasons = [because(pack, rec, rec.criteria[i], nodes).short for i in main_why]
        return {"zh": f"通过：经 {_title(taken, 'zh')}；{_title(main, 'zh')} {_WORDS['zh'][main.status.value]}（"
                      + "；".join(r["zh"] for r in reasons) + "）" + (f"；{judgement('zh')}" if judged else ""),
                "en": f"PASS by {_title(taken, 'en')}; {_title(main, 'en')} {_WORDS['en'][main.status.value]} ("
                      + "; ".join(r["en"] for r in reasons) + ")" + (f"; {judgement('en')}" if judged else "")}
    want = Status.NOT_MET if outcome == "fail" else Status.UNKNOWN
    leaves, alternatives = _leaves(pack, rec, root, want, nodes)
    reasons = [because(pack, rec, rec.criteria[i], nodes) for i in leaves]
    only_group = bool(reasons) and all(r.group_minimum for r in reasons) and outcome == "fail"

    def line(lang: str) -> str:
        w = _WORDS[lang]
        if only_group:  # 不通过：仅因 第六条 创新能力小计 15分，低于最低要求 20分
            text = w["sep"].join(r.short[lang] for r in reasons)
            head = f"不通过：仅因 {text}" if lang == "zh" else f"FAIL only on a group minimum: {text}"
        else:
            head = f"{w[outcome]}：" if lang == "zh" else f"{w[outcome]}: "
            head += w["sep"].join(r.text[lang] for r in reasons)
        if alternatives:
            alt = w["sep"].join(_title(rec.criteria[i], lang) for i in alternatives)
            word = w[rec.criteria[alternatives[0]].status.value]
            head += f"；另一途径 {alt} 亦{word}" if lang == "zh" else f"; the other route, {alt}, {word} either"
        return head

    return _both(line)


def discretionary_met(rec: Record2) -> list[CriterionResult]:
    """The 酌情 criteria (the pack's `discretionary:`) the entity meets: judgements a reviewer
    should confirm before the decision stands."""
    return [c for c in rec.criteria if c.discretionary and c.status is Status.MET]


def discretionary_mark(c: CriterionResult, lang: str) -> str:
    """[酌情条款] / [discretionary] after a criterion the reviewer may judge, else ''."""
    if not c.discretionary:
        return ""
    return "[酌情条款]" if lang == "zh" else "[discretionary]"


def fails_only_on_group_minimum(pack: Pack2, rec: Record2, nodes: dict[str, Node] | None = None) -> bool:
    """A failure whose only cause on the main route is a group subtotal under its minimum."""
    nodes = criterion_nodes(pack) if nodes is None else nodes
    if rec.outcome is None or rec.outcome.value != "fail" or rec.decision is None:
        return False
    root = next((i for i, c in enumerate(rec.criteria) if c.id == rec.decision), None)
    if root is None:
        return False
    leaves = _leaves(pack, rec, root, Status.NOT_MET, nodes)[0]
    return bool(leaves) and all(because(pack, rec, rec.criteria[i], nodes).group_minimum for i in leaves)


# ---------------------------------------------------------------------------------------------
# The whole record


@dataclass(frozen=True)
class CriterionView:
    criterion: CriterionResult
    text: dict[str, str]  # title and facts: "第五条 综合得分不低于60分：65分 ≥ 60分"
    facts: dict[str, str]  # what the test read against what was required ("65分 ≥ 60分"), else the status
    reason: dict[str, str] | None  # why not applicable
    discretionary: dict[str, str] | None = None  # the pack's 酌情 note: a reviewer may judge this one


@dataclass(frozen=True)
class RecordView:
    record: Record2
    headline: dict[str, str]
    only_group_minimum: bool
    values: tuple[ValueView, ...]
    criteria: tuple[CriterionView, ...]
    choices: tuple[dict[str, Any], ...]  # {"label", "option" (zh/en), "source", "default"}
    validity: tuple[dict[str, str], ...]
    # the 酌情 criteria met, by clause and title ({zh, en}): for the reviewer to confirm
    discretionary_met: tuple[dict[str, str], ...] = ()


def explain2(pack: Pack2, rec: Record2) -> RecordView:
    nodes = criterion_nodes(pack)
    crits = []
    for c in rec.criteria:
        b = because(pack, rec, c, nodes) if c.status is not Status.NOT_APPLICABLE else None
        text = b.text if b else _both(lambda lang, c=c: f"{_title(c, lang)}{_WORDS[lang]['colon']}{label(c.reason, lang)}")
        facts = b.facts if b else _both(lambda lang: _WORDS[lang]["not_applicable"])
        crits.append(CriterionView(c, text, facts, dict(c.reason) if c.reason else None,
                                   dict(c.discretionary) if c.discretionary else None))
    choices = []
    for ch in rec.choices:
        spec = pack.choices.get(ch.name)
        option = spec.options.get(ch.option) if spec else None
        choices.append({"name": ch.name, "label": dict(ch.label) or {"zh": ch.name, "en": ch.name},
                        "option": dict(option) if option else {"zh": ch.option, "en": ch.option},
                        "option_id": ch.option, "source": ch.source, "default": ch.default,
                        "cite": spec.cite if spec else None})
    head = headline(pack, rec, nodes)
    only = fails_only_on_group_minimum(pack, rec, nodes)
    judged = tuple(_both(lambda lang, c=c: _title(c, lang)) for c in discretionary_met(rec))
    return RecordView(rec, head, only, tuple(value_view(pack, v) for v in rec.values), tuple(crits), tuple(choices),
                      tuple(dict(v) for v in rec.validity), judged)


__all__ = ["RecordView", "ValueView", "attestation_text", "criterion_nodes", "discretionary_mark", "discretionary_met",
           "evidence_text", "explain2", "fails_only_on_group_minimum", "gap_text", "headline", "is_lower_bound",
           "labelled_step", "lower_bound_note", "name_label", "threshold_text", "unset_parameter", "value_view"]
