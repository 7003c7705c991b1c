"""Pack test cases: YAML files beside each pack that say what it must decide.

A suite is `rules/<pack>.tests.yaml`:

    pack: PACK.yaml                         # relative to the suite file
    as_of: "2024-06-30"
    fixtures: [../fixtures/huguan-towns.yaml]   # entities that carry an `expect:` block
    cases:                                   # and/or inline cases
      - name: 制造业恰好10亿元
        as_of: "2024-06-30"                  # optional, overrides the suite's
        entity: {id: T1, lead_category: manufacturing, lead_output: 10亿元, ...}
        expect:
          outcome: pass                      # pass | fail | undetermined
          criteria: {output_manufacturing: met}   # the root's id means the outcome
          path: output_standard              # this criterion must be met
          flags: {priority_assessment: true} # true | false | unknown
          missing_inputs: [lead_output]      # exactly these are named as missing
          targets: {zones_over_10yi: met}    # targets packs: met | not_met | not_yet_due | not_applicable | unknown
                                             # (a per_year target is named by year: new_smes_2022)
        set: {some_threshold_min: 8亿元}       # optional: parameter overrides for this case
                                             # (like --set), e.g. for a number the policy leaves unset

A suite whose pack is `format: 2` also checks values, points, subtotals, ranks, consequences,
choices, awards, targets and the case taken, a case may decide several entities together
(`entities:`, one cohort) and `cohorts:` score whole batches: see `_run_suite2` below.

Every suite runs through that one runner. A suite whose pack is format 1 (the example above) is
run against the pack converted on load (engine.validate.dialect1), its format-1 expectations
converted with it (`_format1_expectations`: criteria and targets under their format-2 names,
a scoring cohort's `zones:` as entities' points, totals, places and awards); a difference names
a criterion or target as the suite wrote it.

The runner is used by `certify test` and by pytest (tests/test_pack_suites.py), so CI and
officers run the same cases.
"""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction
import time
from pathlib import Path
from typing import Any, Callable

from engine.load.data import RawEntity, load_entities
from engine.compile.model import MET, NOT_MET, STATUSES, UNKNOWN
from engine.evaluate.pipeline import load_pack2
from engine.evaluate.record2 import Record2
from engine.evaluate.run2 import Runner, subject_of
from engine.core.units import AmountError, format_amount, parse_amount, parse_unit, to_fraction
from engine.core.problems import Problem, ProblemsError, shown
from engine.load.yamlsafe import iso_date, load_yaml_file
from engine.commands.lint import check_path
from engine.compile.build2 import NOT_DUE
from engine.commands.suite_cohorts import cohort_entities, cohort_usable, compare_cohort2
from engine.load.format1 import convert_cohort_expect, convert_expect, convert_zone_expect
from engine.commands.suite_results import CaseResult, SuiteResult

_FLAG_WORDS = {True: MET, False: NOT_MET, "unknown": UNKNOWN, None: UNKNOWN}
_SUITE_KEYS = {"pack", "as_of", "fixtures", "cases", "cohorts"}  # cohorts: scoring packs (engine.commands.suite_cohorts)
_TARGET_STATUSES = ("met", "not_met", "not_yet_due", "not_applicable", "unknown")


class Said(str):
    """A line of a test report (a case's difference): English text that carries its Chinese
    form, for lines that quote a problem's message."""

    zh: str

    def __new__(cls, en: str, zh: str) -> "Said":
        line = super().__new__(cls, en)
        line.zh = zh
        return line


# Difference lines are built from a few fixed forms ("X: expected A, got B"); their Chinese is
# made from the same forms. Values (met, pass, ids) stay as written in the suite file.
_LINE_ZH: list[tuple[re.Pattern[str], str]] = [(re.compile(a), b) for a, b in (
    (r"^unknown expect field\(s\) (.*); allowed: (.*)$", r"expect 中有未知字段 \1；允许的字段：\2"),
    (r": expected status must be one of (.*), not (.*)$", r"：期望状态只能是 \1 之一，而不是 \2"),
    (r": expected status must be met, not_met or unknown, not (.*)$", r"：期望状态只能是 met、not_met 或 unknown，而不是 \1"),
    (r"^path: expected criterion (\S+) to be met, got (.*)$", r"path：应满足条件 \1，实际为 \2"),
    (r": a per-year target; name the year, e.g. (.*)$", r"：这是分年度目标；请写明年份，如 \1"),
    (r"^targets: expected a mapping .*$", "targets：应写成映射 {目标 id: met | not_met | not_yet_due | not_applicable | unknown}"),
    (r"^targets: this pack has no targets.*$", "targets：这个规则包没有目标（pack.kind: targets）"),
    (r": expected ", "：应为 "),
    (r", got ", "，实际为 "),
    (r"not applicable \(its case does not apply\)", "不适用（其所在情形不适用）"),
    (r"not applicable", "不适用"),
    (r"no such criterion", "没有这个条件"),
    (r"no such flag", "没有这个标记"),
    (r"no such item", "没有这一项"),
    (r"no such indicator", "没有这个指标"),
    (r"no such target", "没有这个目标"),
    (r"no such entity in the cohort", "分组中没有这个对象"),
    (r"no entity in this cohort", "该分组中没有对象"),
    (r" \(value (.*), threshold (.*)\)$", r"（数值 \1，门槛 \2）"),
    (r" \(value (.*), target (.*)\)$", r"（数值 \1，目标 \2）"),
)]


def line_text(line: str, lang: str = "en") -> str:
    """A difference line in `lang`."""
    if lang != "zh":
        return str(line)
    if isinstance(line, Said):
        return line.zh
    text = str(line)
    for pattern, replacement in _LINE_ZH:
        text = pattern.sub(replacement, text)
    return text


def _fixture_cases(suite: dict[str, Any], base: Path, result: SuiteResult,
                   run: Callable[[str, str, RawEntity], None]) -> None:
    """Each entity of the suite's fixture files that carries an `expect:` is a case (formats 1 and 2);
    a fixture file's errors are the suite's problems."""
    for rel in suite.get("fixtures") or []:
        file = str(base / rel)
        problems: list[Problem] = []
        try:
            for entity in load_entities(file, problems):
                if entity.expect is None:
                    continue
                label = f"{entity.id} {entity.name or ''}".strip()
                run(label, f"{entity.file}:{entity.line}", entity)
        except ProblemsError as error:
            problems.extend(error.problems)
        result.problems.extend(p for p in problems if p.severity == "error")


def _set_refused(path: str, name: str, source: str, error: ProblemsError) -> CaseResult:
    """A case whose `set:` the pack refuses fails with the reasons (formats 1 and 2)."""
    diffs: list[str] = [Said(f"set: {p.message}", f"set：{p.text('zh')}") for p in error.problems]
    return CaseResult(path, name, source, False, diffs, None)


def run_suite(path: str, engine: str = "durable") -> SuiteResult:
    started = time.perf_counter()
    result = _run_suite(path, engine)
    result.time = time.perf_counter() - started
    return result


def _run_suite(path: str, engine: str = "durable") -> SuiteResult:
    result = SuiteResult(path)
    try:
        doc, _ = load_yaml_file(path)
    except ProblemsError as error:
        result.problems.extend(error.problems)
        return result
    suite = doc.value
    if not isinstance(suite, dict) or "pack" not in suite:
        result.problems.append(doc.problem("E111", "a test suite needs pack: <file> and fixtures or cases",
                                           message_zh="测试文件需要写 pack: 规则包文件，以及 fixtures 或 cases"))
        return result
    for key in sorted(set(suite) - _SUITE_KEYS):
        result.problems.append(doc.problem("E110", f"unknown field {shown(key)} (allowed: {sorted(_SUITE_KEYS)})", (key,),
                                           message_zh=f"未知字段 {shown(key)}（允许的字段：{'、'.join(sorted(_SUITE_KEYS))}）"))
    base = Path(path).parent
    if not isinstance(suite["pack"], str) or not suite["pack"]:
        result.problems.append(doc.problem("E112", "pack: must name the pack file beside the suite", ("pack",),
                                           message_zh="pack: 应写出与测试文件同一文件夹中的规则包文件名"))
        return result
    refused = check_path(base / suite["pack"], base, "suite pack")
    if refused is not None:  # `pack: ../../secret` is refused, never read
        line, col = doc.where(("pack",))
        result.problems.append(Problem(path, line, col, refused.code, refused.message, "pack", refused.severity,
                                       refused.message_zh))
        return result
    # every suite runs through the format-2 runner; a format-1 pack is converted on load, and its
    # suite's format-1 expectations with it (`_format1_expectations`)
    _run_suite2(path, doc, str(base / suite["pack"]), result, engine)
    return result


# ---------------------------------------------------------------------------------------------
# Format 2 (docs/format2.md): the same suite file, with expectations on values, points, ranks
#
#     cases:
#       - name: 占比恰好10%
#         entity: {id: F1, tech_staff: 10, total_staff: 100, ...}
#         set: {veto_last_award: allowed}     # parameters and choices, like --set
#         expect:
#           outcome: pass
#           criteria: {staff_ok: met, rereview_only: not_applicable}
#           flags: {large: false}             # flags and consequences: true | false | unknown
#           values: {staff_share: 10%}        # exact, in the value's unit; unknown when not computed
#           points: {rd_points: 12分}          # (points, subtotals, ranks: the same check, named
#           subtotals: {innovation: 18分}      #  for the reader)
#           ranks: {place: 2}
#           missing_inputs: [revenue]
#           choices: {veto_last_award: allowed}
#           award: {status: awarded, place: 1, amount: 600万元}   # outcomes.awards
#           why: "10 ÷ 100 = 10%, 以上 includes it"   # the hand computation, for the reader
#           targets: {new_smes_2022_target: not_yet_due}   # criteria with due: (not_yet_due: not applicable by its date)
#           path: output_standard             # this criterion met; or {output_standard: case2}: the case taken
#           provisional: false                # the entity's place (every rank value) provisional or not
#           lower_bounds: [scale, total]      # these named values are lower bounds, the others named exact
#       - name: 同一批次内排名
#         entities: [{id: Z1, ...}, {id: Z2, ...}]   # decided together: one cohort
#         expect: {Z1: {ranks: {place: 1}}, Z2: {ranks: {place: 2}}}
#     cohorts:                                # scoring: a batch scored together, each entity one case
#       - name: 全市集中区
#         fixtures: [../fixtures/yangzhou-zones.yaml]      # and/or entities: [...]; set:, as_of: as in cases
#         expect:
#           awards_paid: 3000万元
#           groups: {key_development: {awards_paid: 2000万元, ranked: 9, order: [K02, K01]}}
#           entities: {K02: {ranks: {place: 1}, award: {status: excluded}}}   # any expectation above

# `why`: the hand computation behind the case, for the reader (as in format-1 suites); not compared
_EXPECT2_KEYS = {"outcome", "criteria", "flags", "consequences", "values", "points", "subtotals", "ranks",
                 "missing_inputs", "choices", "award", "why", "targets", "path", "provisional", "lower_bounds"}
_CASE2_KEYS = {"name", "as_of", "entity", "entities", "expect", "set"}
_COHORT2_KEYS = {"name", "as_of", "fixtures", "entities", "expect", "set"}
_STATUS2 = ("met", "not_met", "unknown", "not_applicable")


def _expected_amount(want: Any, unit: str | None) -> Any:
    """What an expectation means: None for unknown, an exact amount in base units, or text."""
    if want is None or want == "unknown":
        return None
    if isinstance(want, bool):
        return want
    try:
        return parse_amount(want, parse_unit(unit) if unit else None)[0]
    except AmountError:
        pass
    try:
        return to_fraction(want)
    except AmountError:
        return str(want)


def _shown2(value: Any, unit: str | None) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, (int, Fraction)) and not isinstance(value, bool):
        return format_amount(Fraction(value), parse_unit(unit) if unit else None, "zh")
    return str(value)


def compare2(record: Record2, expect: dict[str, Any]) -> list[str]:
    """Readable differences between a format-2 record and what the case expects."""
    diffs: list[str] = []
    unknown_keys = sorted(set(expect) - _EXPECT2_KEYS)
    if unknown_keys:
        diffs.append(f"unknown expect field(s) {unknown_keys}; allowed: {sorted(_EXPECT2_KEYS)}")
    got_outcome = record.outcome.value if record.outcome else None
    if "outcome" in expect and expect["outcome"] != got_outcome:
        diffs.append(f"outcome: expected {expect['outcome']}, got {got_outcome}")
    statuses = {c.id: c.status.value for c in record.criteria}
    tests = {c.id: c.test or {} for c in record.criteria}
    for ident, want in (expect.get("criteria") or {}).items():
        if want not in _STATUS2:
            diffs.append(f"criteria.{ident}: expected status must be one of {', '.join(_STATUS2)}, not {want!r}")
        elif statuses.get(ident) != want:
            diffs.append(f"criteria.{ident}: expected {want}, got {statuses.get(ident, 'no such criterion')}"
                         + _test_shown(tests.get(ident) or {}, "threshold"))
    notes = {n.id: n.status.value for n in record.notes}
    for section in ("flags", "consequences"):
        for ident, want in (expect.get(section) or {}).items():
            want_status = _FLAG_WORDS.get(want, str(want))
            if notes.get(ident) != want_status:
                diffs.append(f"{section}.{ident}: expected {want_status}, got {notes.get(ident, 'no such flag')}")
    values = {v.name: v for v in record.values}
    for section in ("values", "points", "subtotals", "ranks"):
        for name, want in (expect.get(section) or {}).items():
            got = values.get(name)
            if got is None:
                diffs.append(f"{section}.{name}: expected {want}, got no such item")
                continue
            expected = _expected_amount(want, got.unit)
            actual = got.value
            if isinstance(actual, (int, Fraction)) and not isinstance(actual, bool) and isinstance(expected, (int, Fraction)):
                same = Fraction(actual) == Fraction(expected)
            else:
                same = actual == expected or (actual is not None and str(actual) == str(expected))
            if not same:
                diffs.append(f"{section}.{name}: expected {want}, got {_shown2(actual, got.unit)}")
    if "missing_inputs" in expect and sorted(expect["missing_inputs"]) != list(record.missing_inputs):
        diffs.append(f"missing_inputs: expected {sorted(expect['missing_inputs'])}, got {list(record.missing_inputs)}")
    if "award" in expect:
        award = record.award
        want = expect["award"] if isinstance(expect["award"], dict) else {}
        if award is None:
            diffs.append("award: expected an award, got none (the pack has no outcomes.awards)")
        else:
            for key in ("status", "place", "group", "shared_with"):
                if key in want and want[key] != getattr(award, key):
                    diffs.append(f"award.{key}: expected {want[key]}, got {getattr(award, key)}")
            for key in ("amount", "held"):  # held: the amount of a pending award (place provisional)
                if key in want:
                    expected = _expected_amount(want[key], award.unit)
                    got_amount = getattr(award, key)
                    if (expected is None) != (got_amount is None) or (expected is not None and got_amount != expected):
                        diffs.append(f"award.{key}: expected {want[key]}, got {_shown2(got_amount, award.unit)}")
    chosen = {c.name: c.option for c in record.choices}
    for name, want in (expect.get("choices") or {}).items():
        if chosen.get(name) != want:
            diffs.append(f"choices.{name}: expected {want}, got {chosen.get(name, 'no such item')}")
    if "targets" in expect:
        diffs += _compare_targets2(record, expect["targets"])
    if "path" in expect:
        diffs += _compare_path2(record, expect["path"])
    diffs += _compare_bounds2(record, expect, values)
    return diffs


def _test_shown(test: dict[str, Any], word: str) -> str:
    """` (value 90,000万元, threshold 100,000万元)`: what a criterion's test compared, or ""."""
    if not test or "value" not in test or not ("threshold" in test or test.get("param")):
        return ""  # only a comparison with a threshold (a parameter) says what it compared
    threshold = test.get("threshold")
    # the threshold as the policy writes it (10亿元), as the views show it; the exact amount otherwise
    shown = "unset" if threshold is None else (test.get("written") or _shown2(threshold, test.get("unit")))
    return f" (value {_shown2(test.get('value'), test.get('unit'))}, {word} {shown})"


def _target_status2(criterion: Any) -> str:
    """A target's status as format 1 words it: a criterion not applicable because its `due:` date
    has not come is not yet due (its reason is build2's NOT_DUE); other statuses as they are."""
    if criterion.status.value == "not_applicable" and criterion.reason and criterion.reason.get("en") == NOT_DUE["en"]:
        return "not_yet_due"
    return criterion.status.value


def _compare_targets2(record: Record2, expected: Any) -> list[str]:
    """`targets: {criterion: met | not_met | not_yet_due | not_applicable | unknown}`: a target is a
    criterion with `due:`; not yet due (its date has not come) is told apart from not applicable for
    any other reason (its `applies_when` is false, e.g. under a choice) by the reason."""
    if not isinstance(expected, dict):
        return ["targets: expected a mapping {target id: met | not_met | not_yet_due | not_applicable | unknown}"]
    by_id = {c.id: c for c in record.criteria}
    diffs: list[str] = []
    for ident, want in expected.items():
        if want not in _TARGET_STATUSES:
            diffs.append(f"targets.{ident}: expected status must be one of {', '.join(_TARGET_STATUSES)}, not {want!r}")
            continue
        got = by_id.get(ident)
        if got is None:
            diffs.append(f"targets.{ident}: no such target")
            continue
        status = _target_status2(got)
        if status != want:
            diffs.append(f"targets.{ident}: expected {want}, got {status}" + _test_shown(got.test or {}, "target"))
    return diffs


def _compare_path2(record: Record2, expected: Any) -> list[str]:
    """`path`: which way the decision went. A name: that criterion is met (the branch of an `any`
    that carried it, as in format 1). A mapping `{criterion: case2 | otherwise}`: the case that
    `cases` node took (`undecided2` when case 2's condition could not be decided)."""
    by_id = {c.id: c for c in record.criteria}
    if isinstance(expected, str):
        got = by_id.get(expected)
        if got is None or got.status.value != "met":
            return [f"path: expected criterion {expected} to be met, got "
                    f"{got.status.value if got is not None else 'no such criterion'}"]
        return []
    if not isinstance(expected, dict):
        return ["path: expected a criterion name, or a mapping {criterion: case1 | case2 | ... | otherwise}"]
    diffs: list[str] = []
    for ident, want in expected.items():
        got = by_id.get(ident)
        if got is None:
            diffs.append(f"path.{ident}: expected {want}, got no such criterion")
        elif got.branch != want:
            diffs.append(f"path.{ident}: expected {want}, got {got.branch or 'no case taken (' + got.status.value + ')'}")
    return diffs


def _compare_bounds2(record: Record2, expect: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """`provisional: true | false`: the entity's place (every `rank` value) is provisional or not.
    `lower_bounds: [names]`: these values are lower bounds (a missing figure scored 0, `missing:
    zero`), and every other value the expectation names (values, points, subtotals) is not."""
    diffs: list[str] = []
    if "provisional" in expect:
        ranks = [v for v in values.values() if v.op == "rank"]
        if not ranks:
            diffs.append("provisional: the pack has no rank")
        for v in ranks:
            got = bool(v.detail.get("provisional"))
            if got != bool(expect["provisional"]):
                diffs.append(f"provisional.{v.name}: expected {bool(expect['provisional'])}, got {got}")
    if "lower_bounds" in expect:
        listed = expect["lower_bounds"] if isinstance(expect["lower_bounds"], list) else []
        named = set(listed)
        for section in ("values", "points", "subtotals"):
            named |= set(expect.get(section) or {})
        for name in sorted(named):
            got = values.get(name)
            if got is None:
                diffs.append(f"lower_bounds.{name}: no such item")
                continue
            bound = got.value is not None and bool(got.missing)
            if bound != (name in listed):
                diffs.append(f"lower_bounds.{name}: expected {'a lower bound' if name in listed else 'exact'}, got "
                             + (f"a lower bound (missing {', '.join(got.missing)})" if bound else
                                "exact" if got.value is not None else "unknown"))
    return diffs


def _run_suite2(path: str, doc: Any, pack_path: str, result: SuiteResult, engine: str) -> None:
    """A suite whose pack is format 2 (see above)."""
    suite = doc.value
    base = Path(path).parent
    default_as_of = iso_date(suite.get("as_of")) or dt.date.today()
    runners: dict[tuple[dt.date, tuple[tuple[str, str], ...]], Runner] = {}

    def runner_for(as_of: dt.date, sets: dict[str, Any] | None = None) -> Runner:
        key = (as_of, tuple(sorted((str(k), str(v)) for k, v in (sets or {}).items())))
        if key not in runners:
            overrides = {str(k): (f"{path} (set)", v) for k, v in (sets or {}).items()} or None
            runners[key] = Runner(load_pack2(pack_path, as_of, overrides), engine)
        return runners[key]

    try:
        pack = runner_for(default_as_of).pack
    except ProblemsError as error:
        result.problems.extend(error.problems)
        return
    expected, cohort_expected, written = _format1_expectations(pack)
    result.pack_id = pack.meta.id
    result.coverage_ids = list(ident for ident in pack.titles if "~" not in ident) + [f"flag:{n}" for n in pack.notes]
    result.coverage = {ident: set() for ident in result.coverage_ids}

    def run_batch(name: str, source: str, entities: list[RawEntity], expects: dict[str, dict[str, Any]],
                  as_of: dt.date, sets: dict[str, Any] | None = None, totals: dict[str, Any] | None = None,
                  each_case: bool = False) -> None:
        """Decide `entities` as one batch (one cohort) and check each expectation; a cohort
        (`each_case`) is one case for its totals and one per entity, as format 1's cohorts were."""
        started = time.perf_counter()
        try:
            runner = runner_for(as_of, sets)
        except ProblemsError as error:
            result.cases.append(_set_refused(path, name, source, error))
            return
        subjects, data_problems = [], []
        for entity in entities:
            subject, found = subject_of(runner.pack, entity)
            subjects.append(subject)
            data_problems += [p for p in found if p.severity == "error"]
        records = runner.evaluate(subjects)
        for record in records:
            for c in record.criteria:
                result.coverage.setdefault(c.id, set()).add(c.status.value)
            for n in record.notes:
                result.coverage.setdefault(f"flag:{n.id}", set()).add(n.status.value)
        by_id = {r.entity_id: r for r in records}
        if each_case:
            seconds = time.perf_counter() - started  # the cohort is decided at once: its totals case carries the time
            diffs = compare_cohort2(records, totals or {})
            diffs += [Said(f"data problem: {p.message}", f"数据问题：{p.text('zh')}") for p in data_problems]
            result.cases.append(CaseResult(path, f"{name}: cohort totals", source, not diffs, diffs, None, seconds))
            for ident, expect in expects.items():
                record = by_id.get(ident)
                diffs = ["no such entity in the cohort"] if record is None else [written(d) for d in compare2(record, expect)]
                outcome = record.outcome.value if record is not None and record.outcome else None
                result.cases.append(CaseResult(path, f"{name}: {ident}", source, not diffs, diffs, outcome))
            return
        diffs = []
        for ident, expect in expects.items():
            record = by_id.get(ident)
            if record is None:
                diffs.append(f"{ident}: no such entity in the cohort")
                continue
            prefix = f"{ident}: " if len(entities) > 1 else ""
            diffs += [prefix + written(d) for d in compare2(record, expect)]
        diffs += [Said(f"data problem: {p.message}", f"数据问题：{p.text('zh')}") for p in data_problems]
        outcome = records[0].outcome.value if len(records) == 1 and records[0].outcome else None
        result.cases.append(CaseResult(path, name, source, not diffs, diffs, outcome, time.perf_counter() - started))

    _fixture_cases(suite, base, result, lambda label, source, entity: run_batch(
        label, source, [entity], {entity.id: expected(entity.expect)}, default_as_of))
    for index, case in enumerate(suite.get("cases") or []):
        where = doc.where(("cases", index))
        source = f"{path}:{where[0]}"
        one = isinstance(case, dict) and isinstance(case.get("entity"), dict)
        many = isinstance(case, dict) and isinstance(case.get("entities"), list) and case["entities"] and \
            all(isinstance(e, dict) for e in case["entities"])
        if not (one or many) or not isinstance(case.get("expect"), dict):
            result.problems.append(doc.problem("E111", "a case needs entity: {...} (or entities: [...]) and expect: {...}",
                                               ("cases", index),
                                               message_zh="每个用例需要写 entity: {...}（或 entities: [...]）和 expect: {...}"))
            continue
        for key in sorted(set(case) - _CASE2_KEYS):
            result.problems.append(doc.problem("E110", f"unknown field {shown(key)} in a case", ("cases", index, key),
                                               message_zh=f"用例中有未知字段 {shown(key)}（允许的字段："
                                               f"{'、'.join(sorted(_CASE2_KEYS))}）"))
        rows = [case["entity"]] if one else case["entities"]
        entities = []
        for i, row in enumerate(rows):
            fields = {k: v for k, v in row.items() if k not in ("id", "name")}
            ident = str(row.get("id", f"case{index + 1}" if one else f"case{index + 1}.{i + 1}"))
            entities.append(RawEntity(path, where[0], ident, row.get("name"), fields))
        expects = ({entities[0].id: expected(case["expect"])} if one else
                   {str(k): expected(v) for k, v in case["expect"].items()})
        as_of = iso_date(case.get("as_of")) or default_as_of
        sets = case.get("set")
        if sets is not None and not isinstance(sets, dict):
            result.problems.append(doc.problem("E112", "set: maps parameter or choice names to values", ("cases", index, "set"),
                                               message_zh="set: 应写成 参数名或选项名: 数值 的映射"))
            continue
        run_batch(str(case.get("name") or entities[0].id), source, entities, expects, as_of, sets)
    for index, cohort in enumerate(suite.get("cohorts") or []):
        source = f"{path}:{doc.where(('cohorts', index))[0]}"
        if not cohort_usable(doc, index, _COHORT2_KEYS, result.problems):
            continue
        sets = cohort.get("set")
        if sets is not None and not isinstance(sets, dict):
            result.problems.append(doc.problem("E112", "set: maps parameter or choice names to values",
                                               ("cohorts", index, "set"),
                                               message_zh="set: 应写成 参数名或选项名: 数值 的映射"))
            continue
        problems: list[Problem] = []
        entities = cohort_entities(path, doc, index, problems)
        result.problems.extend(p for p in problems if p.severity == "error")
        name = str(cohort.get("name") or f"cohort {index + 1}")
        expect = cohort_expected(cohort["expect"])
        wanted = expect.get("entities") or {}
        if not isinstance(wanted, dict):
            wanted = {}
            result.problems.append(doc.problem("E111", "expect.entities maps entity ids to what each must get",
                                               ("cohorts", index, "expect", "entities"),
                                               message_zh="expect.entities 应写成 对象id: 期望 的映射"))
        # a fixture entity's own `expect:` holds in the cohort too, unless the cohort says otherwise
        wanted = {**{e.id: expected(e.expect, zone=True) for e in entities if isinstance(e.expect, dict)}, **wanted}
        run_batch(name, source, entities, {str(k): v or {} for k, v in wanted.items()},
                  iso_date(cohort.get("as_of")) or default_as_of, sets,
                  totals={k: v for k, v in expect.items() if k != "entities"}, each_case=True)


def _format1_expectations(pack: Any) -> tuple[Callable[..., Any], Callable[[Any], Any], Callable[[str], str]]:
    """How a suite's expectations are read: as written for a format-2 pack; for a format-1 pack
    read by converting it on load (`pack.format1`), the format-1 expectations are converted with
    it (engine.load.format1 convert_expect, convert_zone_expect, convert_cohort_expect: criteria
    under their format-2 names, targets as criteria with `due:`, a zone's points, total, place and
    award as values). What a format-2 suite does not check is left out as `certify migrate`
    leaves it out of a suite (EXPECT_DROPPED: the prose `why`, format 1's `missing_inputs`). A
    difference names a criterion or target as the suite wrote it (the third function)."""
    read = pack.format1
    if read is None:
        return (lambda expect, zone=False: expect), (lambda expect: expect), (lambda line: line)
    awards = (read.document.value.get("outcomes") or {}).get("awards") or {}
    unit = re.sub(r"^[-+\d,.\s]+", "", str(awards.get("total") or "")).strip() or None

    def expected(expect: Any, zone: bool = False) -> Any:
        if not isinstance(expect, dict):
            return expect
        return (convert_zone_expect(expect, unit) if zone else convert_expect(expect, read.conversion))[0]

    def cohort_expected(expect: Any) -> Any:
        return convert_cohort_expect(expect, unit)[0] if isinstance(expect, dict) else expect

    back = {new: old.removesuffix("__value") for old, new in read.conversion.renamed.items()}
    named = re.compile(r"^(criteria|targets|path)\.([^:\s]+):")

    def written(line: str) -> str:
        found = named.match(line)
        if found is None or found.group(2) not in back:
            return line
        return f"{found.group(1)}.{back[found.group(2)]}:" + line[found.end():]

    return expected, cohort_expected, written


def coverage_gaps(result: SuiteResult) -> dict[str, list[str]]:
    """Criteria (and flags) not seen in every status, with the statuses never seen."""
    gaps = {}
    for ident in result.coverage_ids:
        missing = [s for s in STATUSES if s not in result.coverage.get(ident, set())]
        if missing:
            gaps[ident] = missing
    return gaps


def find_suites(paths: list[str]) -> list[str]:
    """The suites `collect_suites` would run (refused ones left out)."""
    return collect_suites(paths)[0]


def collect_suites(paths: list[str]) -> tuple[list[str], list[Problem]]:
    """Suites (*.tests.yaml) named by `paths`, and the files refused without being read: a suite
    that leads out of the folder being checked (E175) or is not a regular file (W213)."""
    files: list[str] = []
    problems: list[Problem] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            folder, candidates = p, sorted(p.rglob("*.tests.yaml"))
        elif p.exists() or p.is_symlink():
            folder, candidates = p.parent, [p]
        else:
            continue
        for file in candidates:
            refused = check_path(file, folder, "suite")
            if refused is None:
                files.append(str(file))
            else:
                problems.append(refused)
    return files, problems
