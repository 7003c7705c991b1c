"""Lint stage: problems a pack can have while still being valid.

`certify validate` checks that a pack can be compiled. `certify lint` runs validate and then
looks for things that compile but are probably wrong:

- W203 a citation (二(四)) names a clause not found in the pack's source document, or a
  parameter's `quote` is not in the clause it cites — checked when the document's text is
  available (`pack.source.seed` names a file in `../shared/seeds/` beside the repository, or in
  the folder given with `--sources`);
- W204 a `cases` entry can never apply because earlier `when`s already cover its condition;
- W205 (note) whether a `cases` entry can apply cannot be decided (a dated or unset parameter,
  a text input, or too many combinations);
- W206 / W207 score bands that overlap (or are empty) / leave a gap — `check_bands` works on
  the documented band structure `[{from, to, include_from, include_to}]`; lint applies it to
  such lists and to the scoring format's `bands: {input, tiers: [{from, to, include: "[)"}]}`;
- W208 a threshold whose magnitude is suspicious for the input it is compared with (less than
  one of the input's units, or 1000 times away from the other thresholds on the same input);
- W209 (note) the source document is named but its text is not available, or a citation is
  not of a form that can be looked up (二, 二(四)).

W200–W202 (unused, unset parameters, missing citations) come from validate and are shown too.
Lint problems are warnings; notes never fail a run, even with `--strict`.

Reachability of cases is decided exactly by enumeration: every input a condition reads has a
finite set of values that matter — the declared values of an enum, yes/no for boolean and
attestation inputs, and for a number compared with fixed thresholds one representative point
per region between them. A case applies only when its `when` holds and every earlier `when`
is known not to hold; if that happens for no combination, the case is shadowed. Derived
values are treated as free variables, which can only make a shadowed case look reachable,
never the reverse, so W204 is never a false alarm.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable

from engine.commands.common import EXIT, UsageError, say
from engine.core.problems import WARNING, Problem, has_errors, plain, shown
from engine.core.units import AmountError, format_amount, parse_amount, parse_param_value, parse_unit
from engine.compile.check import validate_file
from engine.load.yamlsafe import Document
from engine.report.problems import PROBLEM_RENDERERS

NOTE = "note"  # shown, never fails a run (not even with --strict)
MAX_COMBINATIONS = 100_000

Path_ = tuple[Any, ...]


# ---------------------------------------------------------------------------------------------
# Entry points


def lint_file(path: str, sources: str | None = None) -> list[Problem]:
    """Validate problems plus lint findings for one pack, sorted by position. Findings the pack
    silences (`lint: {ignore: ...}`) come back with severity IGNORED, their reason appended;
    an ignore entry that silences nothing is W214."""
    doc, _, problems = validate_file(path)
    if doc is None or has_errors(problems):
        return problems  # lint reads a pack that compiles; fix the errors first
    found = sorted(set(problems) | set(lint_document(doc, source_dirs(path, sources))))
    return apply_ignores(doc, found, report_unused=True)


# ---------------------------------------------------------------------------------------------
# Silenced findings (lint: {ignore: {W201: reason}} or {W201: {name: reason}})

IGNORED = "ignored"  # severity of a finding the pack silences with a reason; never fails a run


def _path_names(path: str) -> set[str]:
    """The names in a printed path: `parameters.x_min.value` -> {parameters, x_min, value}."""
    return {part for part in re.split(r"[.\[\]]+", path) if part and not part.isdigit()}


def _ignore_entries(doc: Document) -> dict[str, Any]:
    block = doc.value.get("lint") if isinstance(doc.value, dict) else None
    ignore = block.get("ignore") if isinstance(block, dict) else None
    return ignore if isinstance(ignore, dict) else {}


def apply_ignores(doc: Document, problems: list[Problem], report_unused: bool = False) -> list[Problem]:
    """`problems` with the findings the pack silences marked IGNORED (errors are never silenced).

    `W201: reason` silences every W201 of the pack; `W201: {key: reason}` silences the W201s whose
    printed path is `key` or names `key` (a parameter, input or criterion name). With
    `report_unused`, an entry that silences nothing is W214 (validate sees only W200-W202, so
    only lint, which sees every finding, reports them)."""
    ignore = _ignore_entries(doc)
    if not ignore:
        return problems
    used: set[tuple[str, ...]] = set()
    out: list[Problem] = []
    for p in problems:
        spec = ignore.get(p.code)
        reason, key = None, (p.code,)
        if p.severity != "error" and isinstance(spec, str):
            reason = spec
        elif p.severity != "error" and isinstance(spec, dict):
            names = _path_names(p.path)
            for k, why in spec.items():
                if isinstance(why, str) and (k == p.path or k in names):
                    reason, key = why, (p.code, k)
                    break
        if reason is None:
            out.append(p)
            continue
        used.add(key)
        out.append(Problem(p.file, p.line, p.col, p.code, f"{p.message} (ignored: {plain(reason, 200)})", p.path,
                           IGNORED, f"{p.text('zh')}（已忽略：{plain(reason, 200)}）"))
    if report_unused:
        for code, spec in ignore.items():
            keys = [(code,)] if isinstance(spec, str) else [(code, k) for k in spec] if isinstance(spec, dict) else []
            for key in keys:
                if key not in used:
                    what = f"{code}" + (f" for {plain(key[1])}" if len(key) > 1 else "")
                    out.append(doc.problem(
                        "W214", f"lint.ignore {what} silences nothing: no such finding in this pack; remove the entry",
                        ("lint", "ignore") + key, WARNING,
                        f"lint.ignore 中的 {what} 没有忽略任何检查结果（本规则包中没有这一项）；请删除该条目"))
    return sorted(out)


def lint_document(doc: Document, source_folders: Iterable[Path] = ()) -> list[Problem]:
    linter = _Linter(doc)
    linter.check_cases()
    linter.check_magnitudes()
    linter.check_all_bands()
    linter.check_citations(list(source_folders))
    return linter.problems


def source_dirs(pack_path: str, sources: str | None = None) -> list[Path]:
    """Where to look for `pack.source.seed`: --sources, then `shared/seeds/` beside the pack's
    folder or any of its ancestors (so the repository root's ../shared/seeds/), the same search
    as `engine.core.clauses.find_source` uses for reports."""
    folders = [Path(sources)] if sources else []
    start = Path(pack_path).resolve().parent
    folders += [ancestor / "shared" / "seeds" for ancestor in [start, *start.parents]]
    return folders


# ---------------------------------------------------------------------------------------------
# Bands (W206, W207)


@dataclass(frozen=True)
class Band:
    """A score band: values v with from ≤ v ≤ to (each end open or closed; None = unbounded)."""

    low: Fraction | None
    high: Fraction | None
    include_low: bool = True
    include_high: bool = False


@dataclass(frozen=True)
class BandFinding:
    code: str  # W206 overlap / empty band, W207 gap
    index: int  # the band the finding is reported on (position in the list as given)
    message: str
    message_zh: str = ""


def _end(value: Fraction | None, unbounded: str) -> str:
    return unbounded if value is None else str(value)


def check_bands(bands: list[Band], domain: tuple[Fraction | None, Fraction | None] = (None, None),
                show: Callable[[Fraction], str] = str) -> list[BandFinding]:
    """Overlaps, gaps and empty bands in a list of bands.

    `domain` is the range the bands must cover (None = nothing required at that end): a gap
    below the lowest band or above the highest is reported only when the domain says so.
    """
    findings: list[BandFinding] = []

    def text(b: Band) -> str:
        left = "(" if b.low is None or not b.include_low else "["
        right = ")" if b.high is None or not b.include_high else "]"
        return f"{left}{'-∞' if b.low is None else show(b.low)}, {'∞' if b.high is None else show(b.high)}{right}"

    live: list[tuple[int, Band]] = []
    for i, b in enumerate(bands):
        if b.low is not None and b.high is not None and (
                b.low > b.high or (b.low == b.high and not (b.include_low and b.include_high))):
            findings.append(BandFinding("W206", i, f"band {i + 1} {text(b)} is empty: no value falls in it",
                                        f"第 {i + 1} 档 {text(b)} 是空的：没有任何数值落在其中；请检查上下限"))
        else:
            live.append((i, b))
    live.sort(key=lambda item: (item[1].low is not None, item[1].low or 0, not item[1].include_low))
    for (i, a), (j, b) in zip(live, live[1:]):
        if a.high is None or b.low is None or b.low < a.high or (
                b.low == a.high and a.include_high and b.include_low):
            findings.append(BandFinding("W206", j, f"band {j + 1} {text(b)} overlaps band {i + 1} {text(a)}: "
                                        "a value in both would get two scores",
                                        f"第 {j + 1} 档 {text(b)} 与第 {i + 1} 档 {text(a)} 重叠：同时落在两档的数值"
                                        "会得到两个分数；请调整上下限"))
        elif b.low > a.high or not (a.include_high or b.include_low):
            lo, hi = show(a.high), show(b.low)
            gap = f"{lo}" if a.high == b.low else f"{lo} to {hi}"
            gap_zh = f"{lo}" if a.high == b.low else f"{lo} 至 {hi}"
            findings.append(BandFinding("W207", j, f"gap between band {i + 1} {text(a)} and band {j + 1} "
                                        f"{text(b)}: a value of {gap} falls in no band",
                                        f"第 {i + 1} 档 {text(a)} 与第 {j + 1} 档 {text(b)} 之间有空隙："
                                        f"{gap_zh} 的数值不属于任何一档；请补上"))
    lo_dom, hi_dom = domain
    if live and lo_dom is not None:
        i, first = live[0]
        if first.low is not None and (first.low > lo_dom or (first.low == lo_dom and not first.include_low)):
            findings.append(BandFinding("W207", i, f"no band covers values from {show(lo_dom)} up to band "
                                        f"{i + 1} {text(first)}",
                                        f"从 {show(lo_dom)} 到第 {i + 1} 档 {text(first)} 之间的数值不属于任何一档；请补上"))
    if live and hi_dom is not None:
        top = max(live, key=lambda item: (item[1].high is None, item[1].high or 0, item[1].include_high))
        i, last = top
        if last.high is not None and (last.high < hi_dom or (last.high == hi_dom and not last.include_high)):
            findings.append(BandFinding("W207", i, f"no band covers values above band {i + 1} {text(last)} "
                                        f"up to {show(hi_dom)}",
                                        f"高于第 {i + 1} 档 {text(last)}、直到 {show(hi_dom)} 的数值不属于任何一档；请补上"))
    return sorted(findings, key=lambda f: (f.index, f.code))


def bands_from_yaml(items: list[Any], unit_name: str | None = None) -> tuple[list[Band], list[str]]:
    """Bands from YAML `[{from, to, include_from, include_to}]`; amounts may carry units.
    Defaults: include_from true, include_to false (half-open [from, to)). Returns the bands and
    a message per item that could not be read."""
    unit = parse_unit(unit_name) if unit_name else None
    bands: list[Band] = []
    errors: list[str] = []

    def amount(raw: Any) -> Fraction | None:
        if raw is None:
            return None
        return parse_amount(raw, unit)[0] if unit is not None or isinstance(raw, str) else Fraction(raw)

    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(f"band {i + 1} is not a mapping")
            continue
        try:
            bands.append(Band(amount(item.get("from")), amount(item.get("to")),
                              bool(item.get("include_from", True)), bool(item.get("include_to", False))))
        except (AmountError, TypeError, ValueError) as error:
            errors.append(f"band {i + 1}: {error}")
    return bands, errors


# ---------------------------------------------------------------------------------------------
# The linter


_NUMERAL = "一二三四五六七八九十百零〇"
_CITE_RE = re.compile(rf"^\s*(?:第)?([{_NUMERAL}]+)(?:[、.．])?\s*(?:[(（]([{_NUMERAL}]+)[)）])?\s*$")
_SECTION_RE = re.compile(rf"^\s*([{_NUMERAL}]+)、")
_PUNCT_RE = re.compile(r"[\s\W_]+", re.UNICODE)


def _plain(text: str) -> str:
    """Text without whitespace and punctuation, full- and half-width alike, for quote matching."""
    return _PUNCT_RE.sub("", text)


class _Linter:
    def __init__(self, doc: Document):
        self.doc = doc
        self.value: dict[str, Any] = doc.value
        self.problems: list[Problem] = []
        self.inputs: dict[str, dict[str, Any]] = dict(self.value.get("inputs") or {})
        for name in self.value.get("derived") or {}:
            self.inputs[name] = {"type": "derived", **self.value["derived"][name]}
        self.params: dict[str, dict[str, Any]] = self.value.get("parameters") or {}

    def add(self, code: str, message: str, path: Path_, severity: str = WARNING, zh: str = "") -> None:
        """One finding; `zh` is its Chinese message for officers (every call gives one)."""
        self.problems.append(self.doc.problem(code, message, path, severity, zh))

    # -- cases ------------------------------------------------------------------------------

    def nodes(self) -> Iterable[tuple[dict[str, Any], Path_]]:
        def walk(node: Any, path: Path_) -> Iterable[tuple[dict[str, Any], Path_]]:
            if not isinstance(node, dict):
                return
            yield node, path
            for kind in ("all", "any"):
                for i, child in enumerate(node.get(kind) or []):
                    yield from walk(child, path + (kind, i))
            if isinstance(node.get("at_least"), dict):
                for i, child in enumerate(node["at_least"].get("of") or []):
                    yield from walk(child, path + ("at_least", "of", i))
            if "not" in node:
                yield from walk(node["not"], path + ("not",))
            for i, case in enumerate(node.get("cases") or []):
                if isinstance(case, dict):
                    yield from walk(case.get("then"), path + ("cases", i, "then"))

        yield from walk(self.value.get("criteria"), ("criteria",))

    def atoms(self, cond: dict[str, Any]) -> Iterable[dict[str, Any]]:
        for kind in ("all", "any"):
            if isinstance(cond.get(kind), list):
                for child in cond[kind]:
                    yield from self.atoms(child)
                return
        if isinstance(cond.get("not"), dict):
            yield from self.atoms(cond["not"])
            return
        yield cond

    def atom_undecidable(self, atom: dict[str, Any]) -> str | None:
        """Why this test cannot be enumerated, or None."""
        if "attested" in atom:
            return None
        spec = self.inputs.get(atom.get("input"), {})
        kind, op = spec.get("type"), atom.get("op")
        if op in ("in", "not_in", "is_true", "is_false"):
            return None
        if kind in ("text",):
            return f"input {atom.get('input')!r} is text"
        param = self.params.get(atom.get("param"), {})
        if "values" in param:
            return f"parameter {atom.get('param')!r} has dated values"
        if "unset" in param or param.get("value") is None:
            return f"parameter {atom.get('param')!r} has no value"
        return None

    @staticmethod
    def why_zh(why: str) -> str:
        """The Chinese form of a reason from `atom_undecidable`."""
        for en, zh in ((" is text", " 是文字"), (" has dated values", " 的数值随日期变化"), (" has no value", " 没有数值")):
            if why.endswith(en):
                return why[: -len(en)].replace("input ", "输入项 ").replace("parameter ", "参数 ") + zh
        return "条件写法有误" if why == "malformed" else why

    def threshold(self, atom: dict[str, Any]) -> Fraction:
        return parse_param_value(self.params[atom["param"]]["value"])[0]

    def domains(self, conds: list[dict[str, Any]]) -> dict[str, list[Any]]:
        """Each variable the conditions read, with the values that matter."""
        points: dict[str, set[Fraction]] = {}
        domains: dict[str, list[Any]] = {}
        for cond in conds:
            for atom in self.atoms(cond):
                if "attested" in atom:
                    domains[atom["attested"]] = [True, False]
                    continue
                name, op = atom["input"], atom["op"]
                if op in ("in", "not_in"):
                    domains[name] = list(self.inputs[name].get("values") or {})
                elif op in ("is_true", "is_false"):
                    domains[name] = [True, False]
                else:
                    points.setdefault(name, set()).add(self.threshold(atom))
        for name, values in points.items():
            cuts = sorted(values)
            reps = [cuts[0] - 1, cuts[-1] + 1] + cuts + [(a + b) / 2 for a, b in zip(cuts, cuts[1:])]
            domains[name] = sorted(set(reps))
        return domains

    def holds(self, cond: dict[str, Any], env: dict[str, Any]) -> bool:
        if isinstance(cond.get("all"), list):
            return all(self.holds(c, env) for c in cond["all"])
        if isinstance(cond.get("any"), list):
            return any(self.holds(c, env) for c in cond["any"])
        if isinstance(cond.get("not"), dict):
            return not self.holds(cond["not"], env)
        if "attested" in cond:
            return bool(env[cond["attested"]])
        value, op = env[cond["input"]], cond["op"]
        if op == "in":
            return value in cond["values"]
        if op == "not_in":
            return value not in cond["values"]
        if op == "is_true":
            return bool(value)
        if op == "is_false":
            return not value
        t = self.threshold(cond)
        return {">=": value >= t, ">": value > t, "<=": value <= t, "<": value < t,
                "=": value == t, "!=": value != t}[op]

    def check_cases(self) -> None:
        for node, path in self.nodes():
            cases = node.get("cases")
            if not isinstance(cases, list):
                continue
            whens = [c.get("when") if isinstance(c, dict) else None for c in cases]
            why = [next((w for a in self.atoms(cond) if (w := self.atom_undecidable(a))), None)
                   if isinstance(cond, dict) else "malformed" for cond in whens]
            for j in range(len(whens)):
                where = path + ("cases", j, "when")
                if why[j] is not None and j == 0:
                    continue  # nothing before it can shadow it
                if why[j] is not None:
                    self.add("W205", f"cannot decide whether case {j + 1} of {node.get('id')!r} can apply: "
                             f"{why[j]}", where, NOTE,
                             zh=f"无法判断 {node.get('id')!r} 的第 {j + 1} 种情形是否可能适用：{self.why_zh(why[j])}")
                    continue
                earlier = [i for i in range(j) if why[i] is None]
                conds = [whens[i] for i in earlier] + [whens[j]]
                domains = self.domains(conds)  # type: ignore[arg-type]
                size = 1
                for values in domains.values():
                    size *= max(len(values), 1)
                if size > MAX_COMBINATIONS:
                    self.add("W205", f"cannot decide whether case {j + 1} of {node.get('id')!r} can apply: "
                             f"{size} combinations of inputs is too many to check", where, NOTE,
                             zh=f"无法判断 {node.get('id')!r} 的第 {j + 1} 种情形是否可能适用：输入组合有 {size} 种，"
                             "太多无法逐一检查")
                    continue
                names = sorted(domains)
                reachable = False
                covering: set[int] = set()
                for combo in itertools.product(*(domains[n] for n in names)):
                    env = dict(zip(names, combo))
                    if not self.holds(whens[j], env):  # type: ignore[arg-type]
                        continue
                    hit = [i for i in earlier if self.holds(whens[i], env)]  # type: ignore[arg-type]
                    if not hit:
                        reachable = True
                        break
                    covering.add(hit[0])
                if reachable:
                    if len(earlier) < j:
                        skipped = [str(i + 1) for i in range(j) if why[i] is not None]
                        self.add("W205", f"cannot decide whether case {j + 1} of {node.get('id')!r} can apply: "
                                 f"earlier case(s) {', '.join(skipped)} cannot be checked "
                                 f"({'; '.join(w for w in why[:j] if w)})", where, NOTE,
                                 zh=f"无法判断 {node.get('id')!r} 的第 {j + 1} 种情形是否可能适用：前面第 "
                                 f"{'、'.join(skipped)} 种情形无法检查（{'；'.join(self.why_zh(w) for w in why[:j] if w)}）")
                    continue
                then = cases[j].get("then") if isinstance(cases[j], dict) else None
                then_id = then.get("id") if isinstance(then, dict) else None
                by = ", ".join(str(i + 1) for i in sorted(covering)) or "?"
                if not covering:
                    message = (f"case {j + 1} of {node.get('id')!r} can never apply: its condition never holds")
                    zh = f"{node.get('id')!r} 的第 {j + 1} 种情形永远不会适用：它的前提条件永远不成立"
                else:
                    message = (f"case {j + 1} of {node.get('id')!r} can never apply: whenever its condition "
                               f"holds, earlier case {by} already applies")
                    zh = (f"{node.get('id')!r} 的第 {j + 1} 种情形永远不会适用：凡是它的前提条件成立时，"
                          f"前面的第 {by} 种情形已经适用")
                if then_id:
                    message += f"; criterion {then_id!r} is never decided"
                    zh += f"；条件 {then_id!r} 永远不会被判定"
                self.add("W204", message + " (reorder the cases or narrow the earlier condition)", where,
                         zh=zh + "（请调整情形的顺序，或收窄前面的前提条件）")

    # -- magnitudes --------------------------------------------------------------------------

    def check_magnitudes(self) -> None:
        compared: dict[str, list[tuple[str, Fraction, Path_]]] = {}

        def visit_test(test: dict[str, Any], path: Path_) -> None:
            param = test.get("param")
            if param is None or test.get("input") not in self.inputs:
                return
            spec = self.params.get(param, {})
            written = [(spec.get("value"), ("parameters", param, "value"))] + [
                (v.get("value"), ("parameters", param, "values", i, "value"))
                for i, v in enumerate(spec.get("values") or []) if isinstance(v, dict)]
            for raw, where in written:
                if raw is None:
                    continue
                try:
                    value, unit, dim = parse_param_value(raw)
                except AmountError:
                    continue
                if dim in ("money", "area"):
                    compared.setdefault(test["input"], []).append((str(raw), value, where))

        for node, path in self.nodes():
            if isinstance(node.get("test"), dict):
                visit_test(node["test"], path + ("test",))
            for i, case in enumerate(node.get("cases") or []):
                if isinstance(case, dict) and isinstance(case.get("when"), dict):
                    for atom in self.atoms(case["when"]):
                        visit_test(atom, path + ("cases", i, "when"))
        for flag in self.value.get("flags") or []:
            if isinstance(flag, dict) and isinstance(flag.get("when"), dict):
                for atom in self.atoms(flag["when"]):
                    visit_test(atom, ())
        reported: set[Path_] = set()
        for name, items in compared.items():
            unit = parse_unit(str(self.inputs[name].get("unit", ""))) if self.inputs[name].get("unit") else None
            for raw, value, where in items:
                if unit is not None and unit.factor > 1 and 0 < value < unit.factor and where not in reported:
                    reported.add(where)
                    self.add("W208", f"threshold {plain(raw)} is less than one {unit.name}, the unit of {name!r} it is "
                             f"compared with ({format_amount(value, unit)}); check the unit "
                             f"(e.g. {plain(raw)}→万元?)", where,
                             zh=f"门槛值 {plain(raw)} 不足 1{unit.name}（与之比较的 {name!r} 以 {unit.name} 计，"
                             f"即 {format_amount(value, unit)}）；请检查单位（是否应为万元？）")
            positive = sorted({v for _, v, _ in items if v > 0})
            if len(positive) < 2:
                continue
            for raw, value, where in items:
                others = [v for _, v, w in items if v > 0 and w != where]
                if value <= 0 or not others or where in reported:
                    continue
                nearest = min(others, key=lambda o: max(o / value, value / o))
                ratio = max(nearest / value, value / nearest)
                if ratio >= 1000 and all(max(o / value, value / o) >= 1000 for o in others) and len(others) >= 1:
                    if len(others) == 1 and value > nearest:
                        continue  # with two thresholds, report only the smaller one (usually the typo)
                    reported.add(where)
                    self.add("W208", f"threshold {plain(raw)} on {name!r} is {int(ratio):,} times away from the nearest "
                             f"other threshold on it ({format_amount(nearest, unit) if unit else nearest}); "
                             "a 万/亿 slip?", where,
                             zh=f"{name!r} 的门槛值 {plain(raw)} 与其最接近的另一个门槛值"
                             f"（{format_amount(nearest, unit) if unit else nearest}）相差 {int(ratio):,} 倍；"
                             "是否把万和亿写错了？")

    # -- bands -------------------------------------------------------------------------------

    def check_all_bands(self) -> None:
        """Any list under a key `bands` whose items have from/to: the documented structure."""

        def walk(value: Any, path: Path_) -> None:
            if isinstance(value, dict):
                for key, child in value.items():
                    if key == "bands" and isinstance(child, list) and child and all(
                            isinstance(b, dict) and ("from" in b or "to" in b) for b in child):
                        self.lint_bands(child, path + (key,), value.get("unit"))
                    elif key == "bands" and isinstance(child, dict) and isinstance(child.get("tiers"), list):
                        # the scoring format (engine/scoring.py): {input, tiers: [{from, to, include: "[)"}]}
                        tiers = [
                            {"from": t.get("from"), "to": t.get("to"),
                             "include_from": str(t.get("include", "[)"))[:1] == "[",
                             "include_to": str(t.get("include", "[)"))[-1:] == "]"}
                            if isinstance(t, dict) else t for t in child["tiers"]]
                        spec = self.inputs.get(child.get("input"), {})
                        self.lint_bands(tiers, path + (key, "tiers"), spec.get("unit") if isinstance(spec, dict) else None)
                    else:
                        walk(child, path + (key,))
            elif isinstance(value, list):
                for i, child in enumerate(value):
                    walk(child, path + (i,))

        walk(self.value, ())

    def lint_bands(self, items: list[Any], path: Path_, unit_name: Any) -> None:
        unit = parse_unit(unit_name) if isinstance(unit_name, str) else None
        bands, errors = bands_from_yaml(items, unit_name if unit else None)
        if errors:
            return  # the format that owns bands reports unreadable ones
        show = (lambda v: format_amount(v, unit)) if unit else (lambda v: format_amount(v, None))
        for finding in check_bands(bands, show=show):
            self.add(finding.code, finding.message, path + (finding.index,), zh=finding.message_zh)

    # -- citations ---------------------------------------------------------------------------

    def cites(self) -> Iterable[tuple[str, Path_, str | None]]:
        """(cite, path of the cite, quote) for criteria, parameters and flags."""
        for node, path in self.nodes():
            if isinstance(node.get("cite"), str):
                yield node["cite"], path + ("cite",), None
        for name, spec in self.params.items():
            if isinstance(spec, dict) and isinstance(spec.get("cite"), str):
                yield spec["cite"], ("parameters", name, "cite"), spec.get("quote")
        for i, flag in enumerate(self.value.get("flags") or []):
            if isinstance(flag, dict) and isinstance(flag.get("cite"), str):
                yield flag["cite"], ("flags", i, "cite"), None

    def check_citations(self, folders: list[Path]) -> None:
        source = (self.value.get("pack") or {}).get("source") or {}
        seed = source.get("seed") if isinstance(source, dict) else None
        if not isinstance(seed, str):
            return
        text = None
        if Path(seed).name != seed or seed in (".", ".."):
            folders = []  # a plain file name only: never a path out of the seeds folder
        for folder in folders:
            candidate = folder / seed
            if candidate.is_file():
                text = candidate.read_text(encoding="utf-8", errors="replace")
                break
        src = plain(seed, 60)
        if text is None:
            self.add("W209", f"source document {src} not found in shared/seeds/ above the pack; citations "
                     "not checked (use --sources DIR)", ("pack", "source", "seed"), NOTE,
                     zh=f"在规则包上级的 shared/seeds/ 中找不到政策原文 {src}，未核对条款引用"
                     "（可用 --sources 目录 指定原文所在位置）")
            return
        sections = split_clauses(text)
        src = plain(seed, 60)  # a file name, bounded like every quoted value
        for cite, path, quote in self.cites():
            clause = find_clause(sections, cite)
            if clause is None:
                match = _CITE_RE.match(cite)
                if match is None:
                    self.add("W209", f"citation {shown(cite)} is not of the form 二 or 二(四); not checked against "
                             f"{src}", path, NOTE,
                             zh=f"条款引用 {shown(cite)} 不是 二 或 二(四) 这样的写法，未与 {src} 核对")
                elif match.group(1) not in sections:
                    found = ", ".join(f"{s}、" for s in sections) or "none"
                    found_zh = found if found != "none" else "无"
                    self.add("W203", f"citation {shown(cite)}: section {match.group(1)}、 not found in {src} "
                             f"(sections: {found})", path,
                             zh=f"条款引用 {shown(cite)}：在 {src} 中找不到第 {match.group(1)}、 部分"
                             f"（现有部分：{found_zh}）；请核对引用")
                else:
                    subs = sections[match.group(1)][1]
                    found = "".join(f"({s})" for s in subs) or "none"
                    found_zh = found if found != "none" else "无"
                    self.add("W203", f"citation {shown(cite)}: clause ({match.group(2)}) not found in section "
                             f"{match.group(1)}、 of {src} (clauses there: {found})", path,
                             zh=f"条款引用 {shown(cite)}：在 {src} 的第 {match.group(1)}、 部分中找不到第"
                             f"（{match.group(2)}）项（该部分现有：{found_zh}）；请核对引用")
                continue
            if isinstance(quote, str) and _plain(quote) not in _plain(clause):
                self.add("W203", f"the quote of this parameter is not in clause {shown(cite)} of {src}: "
                         f"{shown(quote)}", path[:-1] + ("quote",),
                         zh=f"该参数引用的原文 {shown(quote)} 不在 {src} 的 {shown(cite)} 条款中；请核对原文")


def split_clauses(text: str) -> dict[str, tuple[str, dict[str, str]]]:
    """{section numeral: (section text, {clause numeral: clause text})} from a policy text whose
    sections start lines with 二、 and clauses with (四) (full- or half-width brackets)."""
    sections: dict[str, tuple[list[str], dict[str, list[str]]]] = {}
    current: str | None = None
    clause: str | None = None
    for line in text.splitlines():
        head = _SECTION_RE.match(line)
        if head and head.group(1) not in sections:
            current, clause = head.group(1), None
            sections[current] = ([], {})
        if current is None:
            continue
        sub = re.match(rf"^\s*[(（]([{_NUMERAL}]+)[)）]", line)
        if sub and not head:
            clause = sub.group(1)
            sections[current][1].setdefault(clause, [])
        sections[current][0].append(line)
        if clause is not None and not head:
            sections[current][1][clause].append(line)
    return {k: ("\n".join(lines), {c: "\n".join(v) for c, v in subs.items()})
            for k, (lines, subs) in sections.items()}


def find_clause(sections: dict[str, tuple[str, dict[str, str]]], cite: str) -> str | None:
    """The text of the clause a citation names, or None when it is not there."""
    match = _CITE_RE.match(cite)
    if match is None or match.group(1) not in sections:
        return None
    body, subs = sections[match.group(1)]
    if match.group(2) is None:
        return body
    return subs.get(match.group(2))


def pack_files(paths: Iterable[str]) -> tuple[list[str], list[str]]:
    """Rule packs named by `paths` (folders are searched for *.yaml, test suites left out),
    and the paths that do not exist. Files that `collect_packs` refuses are left out."""
    files, missing, _ = collect_packs(paths)
    return files, missing


def leaves(path: Path, folder: Path) -> bool:
    """Whether `path`, with every symlink followed, lies outside `folder`."""
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError, RuntimeError):  # outside, or a symlink loop
        return True
    return False


def outside_problem(path: str, folder: Path, what: str = "pack") -> Problem:
    """E175: a pack or suite path that leaves the folder being checked; it is not read (it may be
    a symlink to a credentials file, or `pack: ../../secret`)."""
    what_zh = {"pack": "规则包", "suite": "测试文件", "suite pack": "测试文件引用的规则包"}.get(what, what)
    return Problem(path, 1, 1, "E175",
                   f"{what} path leaves the folder being checked ({plain(str(folder), 80)}), directly or through a "
                   "symlink; it was not read. Keep packs and suites inside the folder",
                   message_zh=f"{what_zh}的路径（直接或经由符号链接）指向所检查的文件夹（{plain(str(folder), 80)}）之外，"
                   "未读取；请把规则包和测试文件放在该文件夹内")


def not_regular_problem(path: str) -> Problem:
    """W213: a FIFO, device or socket named *.yaml; reading it could block forever."""
    return Problem(path, 1, 1, "W213", "not a regular file (a FIFO, device or socket); skipped",
                   severity=WARNING, message_zh="这不是普通文件（可能是管道、设备或套接字），已跳过")


def check_path(file: Path, folder: Path, what: str = "pack") -> Problem | None:
    """Why `file` must not be read (E175 outside the folder, W213 not a regular file, E100 gone)."""
    if leaves(file, folder):
        return outside_problem(str(file), folder, what)
    try:
        mode = os.stat(file).st_mode  # follows symlinks, never opens (a FIFO would block open)
    except OSError as error:
        return Problem(str(file), 1, 1, "E100", f"cannot read file: {error.strerror}",
                       message_zh=f"无法读取文件（{error.strerror}）；请检查路径和权限")
    return None if stat.S_ISREG(mode) else not_regular_problem(str(file))


def collect_packs(paths: Iterable[str]) -> tuple[list[str], list[str], list[Problem]]:
    """Rule packs named by `paths` (folders are searched for *.yaml, test suites left out), the
    paths that do not exist, and the files refused without being read: E175 for a file (or a
    symlink) that leads out of the folder being checked — a named file's own folder — and W213
    for a file that is not a regular file."""
    files: list[str] = []
    missing: list[str] = []
    problems: list[Problem] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            folder = p
            candidates = [f for f in sorted(p.rglob("*.yaml")) if not f.name.endswith(".tests.yaml")]
        elif p.exists() or p.is_symlink():
            folder, candidates = p.parent, [p]
        else:
            missing.append(path)
            continue
        for file in candidates:
            refused = check_path(file, folder)
            if refused is None:
                files.append(str(file))
            else:
                problems.append(refused)
    return files, missing, problems


def run_lint(paths: tuple[str, ...], fmt: str, strict: bool, sources: str | None, lang: str,
             show_ignored: bool) -> int:
    """`certify lint PATHS`: validate, then the findings above. Exit 0 / 1 as validate."""
    files, missing, problems = collect_packs(paths)  # refused paths (E175, W213) are problems, never read
    if missing:
        raise UsageError(f"no such file or folder: {missing[0]}")
    problems += [p for file in files for p in lint_file(file, sources)]
    ignored = sum(1 for p in problems if p.severity == IGNORED)
    problems = [p for p in problems if show_ignored or p.severity != IGNORED]
    PROBLEM_RENDERERS[fmt](problems, sys.stdout, lang)
    if fmt == "text":
        errors = sum(1 for p in problems if p.severity == "error")
        notes = sum(1 for p in problems if p.severity == NOTE)
        warnings = sum(1 for p in problems if p.severity == "warning")
        say(f"已检查 {len(files)} 个规则包：{errors} 个错误，{warnings} 个警告，{notes} 个提示，{ignored} 个已忽略"
            if lang == "zh" else
            f"{len(files)} pack(s) linted: {errors} error(s), {warnings} warning(s), {notes} note(s), {ignored} ignored")
    failed = has_errors(problems) or (strict and any(p.severity not in ("error", NOTE, IGNORED) for p in problems))
    return EXIT["problems"] if failed else EXIT["ok"]
