"""The impact of an edit: two versions of a pack decide the same entities, and the differences
are explained — which entities change outcome, which criteria changed status, and which
parameter or criterion definition moved between the versions.

A version is a file path or a git revision and path (`HEAD~1:rules/pack.yaml`, read with
`git show`, as in a pull request: `certify diff origin/main:rules/x.yaml rules/x.yaml --data …`).
Each version is validated and compiled as `certify evaluate` would; both decide every entity
with the same engine and as-of date; the result is plain data (`certify.diff/1`) rendered as
text, JSON or Markdown (for a pull-request comment).

Why an entity changed: each criterion whose status differs is listed; the *causes* are those
among them with no changed criterion below them (the leaves of the change), and each cause
names what moved — a parameter's value (10亿元 → 8亿元), the criterion's own definition, or the
criterion appearing / disappearing. Composite criteria above a cause are consequences.

Scoring packs (`kind: scoring`, engine/scoring.py) are compared on what they decide: each
entity's rank, total, award, indicator points, vetoes and consequences; the pack changes list
parameters, indicators, award tables and choices that differ.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, TextIO

from engine.commands.common import EXIT, UsageError, parse_as_of, show_problems, stop
from engine.compile.model import CompiledPack, Node
from engine.core.files import check_output, open_output
from engine.evaluate.pipeline import load_pack
from engine.explain.batch import decide_files
from engine.core.problems import EngineError, Problem, ProblemsError, plain, shown
from engine.report.scoring_text import _award_text
from engine.explain.scoring import is_scoring_document, load_scoring_pack, score_files, zone_index
from engine.compile.check import validate_file

DIFF_SCHEMA = "certify.diff/1"
NOT_APPLICABLE = "not_applicable"


class DiffSourceError(EngineError):
    """A version could not be read (no such file, or git could not show the revision).
    `code` is set when the refusal has a stable code (E174: a revision that looks like an option)."""

    def __init__(self, message: str, code: str = "", message_zh: str = ""):
        super().__init__(message)
        self.code = code
        self.message_zh = message_zh or message


@dataclass
class Version:
    label: str  # as given on the command line
    path: str  # a file that holds it (a temporary copy for git revisions)


def read_version(spec: str, workdir: str, cwd: str | None = None) -> Version:
    """A pack version from a path, or from `REV:PATH` read with `git show` into `workdir`."""
    if Path(spec).is_file():
        return Version(spec, spec)
    rev, sep, rel = spec.partition(":")
    if not sep or not rev or not rel:
        raise DiffSourceError(f"{spec!r} is neither a file nor a git revision and path such as "
                              "HEAD~1:rules/PACK.yaml")
    if rev.startswith("-"):
        # git would read `--output=/path/f` as an option and write that file: refused before git runs.
        raise DiffSourceError(f"E174 the revision in {shown(spec)} starts with '-'; a revision cannot be an option "
                              "(name a branch, tag or commit such as HEAD~1:rules/PACK.yaml)", "E174",
                              f"E174 {shown(spec)} 中的版本以 '-' 开头，不能作为版本；请写分支、标签或提交，"
                              "例如 HEAD~1:rules/PACK.yaml")
    try:
        # --end-of-options (git >= 2.24): whatever the revision text is, git takes it as a revision.
        out = subprocess.run(["git", "show", "--end-of-options", f"{rev}:{rel}"], cwd=cwd, capture_output=True,
                             timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        raise DiffSourceError(f"cannot run git to read {spec!r}: {error}")
    if out.returncode != 0:
        message = out.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DiffSourceError(f"git show {rev}:{rel} failed: {message[-1] if message else 'unknown error'}")
    # Names made only of safe characters and prefixed, so that no revision or path ("..") can
    # place the copy outside the private working folder.
    folder = Path(workdir) / ("rev-" + re.sub(r"[^\w.-]+", "_", rev))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / ("pack-" + re.sub(r"[^\w.-]+", "_", Path(rel).name))
    target.write_bytes(out.stdout)
    return Version(spec, str(target))


# ---------------------------------------------------------------------------------------------
# What changed in the pack


def _signature(node: Node) -> Any:
    """A criterion's own definition: children with ids are referred to by id (their own changes
    are reported on them), thresholds by parameter name (parameter changes are separate)."""

    def sub(child: Node) -> Any:
        return ("ref", child.id) if child.id is not None else _signature(child)

    test = None
    if node.test is not None:
        t = node.test
        test = (t.input, t.op, t.param, tuple(t.values))
    return (node.kind, test, tuple(sub(c) for c in node.children), node.k,
            tuple((sub(w), sub(t)) for w, t in node.cases), node.otherwise if node.cases else None)


def _describe(node: Node) -> str:
    if node.test is not None:
        t = node.test
        if t.op == "attested":
            return f"attested {t.input}"
        rhs = t.param if t.param else ("[" + ", ".join(t.values) + "]" if t.values else "")
        return f"{t.input} {t.op} {rhs}".strip()
    if node.kind == "at_least":
        return f"at_least {node.k} of {len(node.children)}"
    if node.kind == "cases":
        return f"cases ({len(node.cases)}), otherwise {node.otherwise}"
    return f"{node.kind} of {len(node.children)}"


def _param_text(pack: CompiledPack, name: str) -> str | None:
    p = pack.params.get(name)
    if p is None:
        return None
    return p.written if p.value is not None else f"(unset: {p.unset_reason})"


def param_changes(old: Any, new: Any) -> list[dict[str, Any]]:
    """The parameters whose value (or whether it has a unit) differs between two packs of either
    format (anything with `.params`), in the old order then the new ones."""
    parameters = []
    for name in list(old.params) + [n for n in new.params if n not in old.params]:
        a, b = old.params.get(name), new.params.get(name)
        if a is not None and b is not None and a.value == b.value and (a.unit is None) == (b.unit is None):
            continue
        either = b or a
        parameters.append({"name": name, "cite": either.cite if either else None, "label": either.label if either else None,
                           "old": _param_text(old, name), "new": _param_text(new, name)})
    return parameters


def criteria_changes(old_nodes: dict[Any, Node], new_nodes: dict[Any, Node]) -> dict[str, list[Any]]:
    """Criteria added, removed and changed (by their compiled signature), by id."""
    changed = [{"id": i, "cite": new_nodes[i].cite, "old": _describe(old_nodes[i]), "new": _describe(new_nodes[i])}
               for i in new_nodes if i in old_nodes and _signature(old_nodes[i]) != _signature(new_nodes[i])]
    return {"criteria_added": [i for i in new_nodes if i not in old_nodes],
            "criteria_removed": [i for i in old_nodes if i not in new_nodes],
            "criteria_changed": changed}


def pack_changes(old: CompiledPack, new: CompiledPack) -> dict[str, Any]:
    old_flags = {f.id: f for f in old.flags}
    new_flags = {f.id: f for f in new.flags}
    return {
        "parameters": param_changes(old, new),
        **criteria_changes({n.id: n for n in old.root.criteria()}, {n.id: n for n in new.root.criteria()}),
        "flags_added": [i for i in new_flags if i not in old_flags],
        "flags_removed": [i for i in old_flags if i not in new_flags],
        "flags_changed": [i for i in new_flags if i in old_flags
                          and _signature(old_flags[i].when) != _signature(new_flags[i].when)],
    }


# ---------------------------------------------------------------------------------------------
# What changed in the decisions


def _statuses(record: dict[str, Any], pack: CompiledPack) -> dict[str, str]:
    out = {c["id"]: c["status"] for c in record["criteria"]}
    for ident in record.get("not_applicable", []):
        out.setdefault(ident, NOT_APPLICABLE)
    out[pack.root.id or ""] = {"pass": "met", "fail": "not_met", "undetermined": "unknown"}[record["outcome"]]
    return out


def _descendants(pack: CompiledPack) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for node in pack.root.criteria():
        out[node.id or ""] = {n.id for n in node.walk() if n.id and n is not node}
    return out


def _reason(ident: str, changes: dict[str, Any], old_c: dict[str, Any] | None, new_c: dict[str, Any] | None,
            old_pack: CompiledPack, new_pack: CompiledPack) -> str:
    params = {p["name"]: p for p in changes["parameters"]}
    parts = reason_opening(ident, changes)
    if isinstance(parts, str):
        return parts
    node = new_pack.node(ident) if ident in {n.id for n in new_pack.root.criteria()} else None
    if node is not None and node.test is not None and node.test.param in params:
        p = params[node.test.param]
        parts.append(f"parameter {p['name']} ({p['cite']}): {p['old']} → {p['new']}")
    test = (new_c or old_c or {}).get("test") or {}
    if test.get("text") or test.get("value") is not None:
        parts.append(f"value {test.get('text', test.get('value'))}")
    return reason_text(parts, node)


def reason_opening(ident: str, changes: dict[str, Any]) -> str | list[str]:
    """Why criterion `ident` changed, as far as the pack's changes say: the whole reason (added,
    removed) as text, else the start of the list of reasons (its definition changed)."""
    if ident in changes["criteria_added"]:
        return "criterion added in the new version"
    if ident in changes["criteria_removed"]:
        return "criterion removed in the new version"
    definition = next((c for c in changes["criteria_changed"] if c["id"] == ident), None)
    return [f"definition changed: {definition['old']} → {definition['new']}"] if definition else []


def reason_text(parts: list[str], node: Node | None) -> str:
    """The reasons found, or what is left when none was: another case, or its inputs."""
    if not parts:
        if node is not None and node.kind == "cases":
            return "a different case applies"
        return "its inputs or an earlier case changed"
    return "; ".join(parts)


def sort_changes(found: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """(entities whose outcome changed, entities that changed otherwise, count by transition)."""
    outcome_changes, detail_changes = [], []
    transitions: dict[str, int] = {}
    for item in found:
        if item["old_outcome"] != item["new_outcome"]:
            outcome_changes.append(item)
            key = f"{item['old_outcome']}→{item['new_outcome']}"
            transitions[key] = transitions.get(key, 0) + 1
        else:
            detail_changes.append(item)
    return outcome_changes, detail_changes, transitions


def version_side(pack: Any, label: str | None) -> dict[str, Any]:
    """One version in a diff's result: its label (file or REV:PATH), id, version and hash."""
    return {"label": label or pack.file, "pack": pack.meta.id, "version": pack.meta.version, "sha256": pack.sha256}


def compared_or_stop(compare: Any, lang: str) -> dict[str, Any]:
    """`compare()`'s result; a version that cannot be read, or a pack with errors, stops the
    command with the reason (exit codes as `certify diff` documents them)."""
    try:
        return compare()
    except DiffSourceError as error:
        if error.code:  # a refusal with a code: the message says it all
            stop("usage", error.message_zh if lang == "zh" else str(error))
        raise UsageError(str(error))
    except ProblemsError as error:
        show_problems(error.problems, lang)
        stop("bad_pack", "规则包的某个版本有错误，未作比较" if lang == "zh" else
             "a version of the rule pack has errors; nothing was compared")


def _entity_diff(old_rec: dict[str, Any], new_rec: dict[str, Any], old_pack: CompiledPack, new_pack: CompiledPack,
                 changes: dict[str, Any], below: dict[str, set[str]]) -> dict[str, Any] | None:
    a, b = _statuses(old_rec, old_pack), _statuses(new_rec, new_pack)
    order = [n.id for n in new_pack.root.criteria()] + [n.id for n in old_pack.root.criteria()
                                                        if n.id not in {m.id for m in new_pack.root.criteria()}]
    moved = [i for i in order if i and a.get(i, NOT_APPLICABLE) != b.get(i, NOT_APPLICABLE)]
    old_flags = {f["id"]: f["status"] for f in old_rec["flags"]}
    new_flags = {f["id"]: f["status"] for f in new_rec["flags"]}
    flag_titles = {f["id"]: f.get("title") for f in old_rec["flags"] + new_rec["flags"]}
    flags = [{"id": i, "title": flag_titles.get(i), "old": old_flags.get(i), "new": new_flags.get(i)}
             for i in sorted(set(old_flags) | set(new_flags)) if old_flags.get(i) != new_flags.get(i)]
    if not moved and not flags and old_rec["outcome"] == new_rec["outcome"]:
        return None
    moved_set = set(moved)
    old_by_id = {c["id"]: c for c in old_rec["criteria"]}
    new_by_id = {c["id"]: c for c in new_rec["criteria"]}
    criteria = []
    for ident in moved:
        cause = not (below.get(ident, set()) & moved_set)
        old_c, new_c = old_by_id.get(ident), new_by_id.get(ident)
        item: dict[str, Any] = {
            "id": ident, "cite": (new_c or old_c or {}).get("cite"), "title": (new_c or old_c or {}).get("title"),
            "old": a.get(ident, NOT_APPLICABLE), "new": b.get(ident, NOT_APPLICABLE), "cause": cause,
        }
        if cause:
            item["why"] = _reason(ident, changes, old_c, new_c, old_pack, new_pack)
            test_old, test_new = (old_c or {}).get("test") or {}, (new_c or {}).get("test") or {}
            if test_old or test_new:
                item["test"] = {
                    "input": (test_new or test_old).get("input"),
                    "value": (test_new or test_old).get("value"),
                    "value_text": (test_new or test_old).get("text"),
                    "parameter": (test_new or test_old).get("parameter"),
                    "old_threshold": test_old.get("threshold"), "new_threshold": test_new.get("threshold"),
                    "old_threshold_text": test_old.get("threshold_text"),
                    "new_threshold_text": test_new.get("threshold_text"),
                }
        criteria.append(item)
    return {
        "entity": new_rec["entity"],
        "old_outcome": old_rec["outcome"], "new_outcome": new_rec["outcome"],
        "criteria": criteria, "flags": flags,
    }


def diff_decisions(old_pack: CompiledPack, new_pack: CompiledPack, data: Iterable[str], engine: str = "durable",
                   old_label: str | None = None, new_label: str | None = None) -> dict[str, Any]:
    """Decide every entity in `data` with both versions and explain the differences."""
    files = list(data)
    old_problems: list[Problem] = []
    new_problems: list[Problem] = []
    old_records = {r["entity"]["id"]: r for r in decide_files(old_pack, files, engine, old_problems)}
    new_records = list(decide_files(new_pack, files, engine, new_problems))
    changes = pack_changes(old_pack, new_pack)
    below = _descendants(new_pack)
    for ident, ids in _descendants(old_pack).items():
        below.setdefault(ident, set()).update(ids)
    found = [_entity_diff(old_records[r["entity"]["id"]], r, old_pack, new_pack, changes, below)
             for r in new_records if r["entity"]["id"] in old_records]
    outcome_changes, detail_changes, transitions = sort_changes(f for f in found if f is not None)
    problems = sorted(set(old_problems) | set(new_problems))
    return {
        "schema": DIFF_SCHEMA,
        "old": version_side(old_pack, old_label), "new": version_side(new_pack, new_label),
        "as_of": new_pack.as_of.isoformat(), "engine": engine,
        "pack_changes": changes,
        "counts": {"entities": len(new_records), "outcome_changed": len(outcome_changes),
                   "criteria_changed_only": len(detail_changes), "transitions": transitions},
        "outcome_changes": outcome_changes,
        "criteria_changes": detail_changes,
        "problems": [p.as_dict() for p in problems],
    }


def _is_scoring(path: str) -> bool:
    return is_scoring_document(validate_file(path)[0])


def diff_scoring(old_sp: Any, new_sp: Any, data: Iterable[str], engine: str = "durable",
                 old_label: str | None = None, new_label: str | None = None) -> dict[str, Any]:
    """Score the same entities with two versions of a scoring pack; compare ranks, totals, awards."""

    def unit(sp: Any) -> str | None:
        return sp.award_unit.name if sp.award_unit else None

    files = list(data)
    old_problems: list[Problem] = []
    new_problems: list[Problem] = []
    old_zones = zone_index(score_files(old_sp, files, engine, old_problems))
    new_zones = zone_index(score_files(new_sp, files, engine, new_problems))
    changes = pack_changes(old_sp.decisions, new_sp.decisions)
    old_ind = {i.id: repr(i) for i in old_sp.indicators}
    new_ind = {i.id: repr(i) for i in new_sp.indicators}
    changes["indicators_changed"] = [i for i in new_ind if i in old_ind and old_ind[i] != new_ind[i]]
    changes["indicators_added"] = [i for i in new_ind if i not in old_ind]
    changes["indicators_removed"] = [i for i in old_ind if i not in new_ind]
    changes["awards_changed"] = sorted(c for c in set(old_sp.awards) | set(new_sp.awards)
                                       if repr(old_sp.awards.get(c)) != repr(new_sp.awards.get(c)))
    changes["choices_changed"] = sorted(k for k in set(old_sp.choices) | set(new_sp.choices)
                                        if old_sp.choices.get(k) != new_sp.choices.get(k))
    rows = []
    counts = {"entities": len(new_zones), "rank_changed": 0, "award_changed": 0, "total_changed": 0}
    for ident, z in new_zones.items():
        o = old_zones.get(ident)
        if o is None:
            continue
        row: dict[str, Any] = {"entity": {"id": ident, "name": z.get("name"), "source": z.get("source")}}
        award = lambda x: (x["award"].get("status"), x["award"].get("place"), x["award"].get("amount"))  # noqa: E731
        for key, a, b in (("rank", o["rank"], z["rank"]), ("total", o["total"], z["total"]),
                          ("award", award(o), award(z))):
            if a != b:
                row[key] = {"old": a, "new": b}
                counts[f"{key}_changed"] += 1
        if "award" in row:  # as the score view words it (一等奖 600万元), for the text and Markdown views
            row["award"].update({f"{side}_text": {lang: _award_text(x["award"], unit(sp), lang) for lang in ("zh", "en")}
                                 for side, x, sp in (("old", o, old_sp), ("new", z, new_sp))})
        points = {i: {"old": o["points"].get(i), "new": z["points"].get(i)}
                  for i in sorted(set(o["points"]) | set(z["points"])) if o["points"].get(i) != z["points"].get(i)}
        if points:
            row["points"] = points
        for key in ("vetoes", "consequences"):
            before = {v["id"]: v["status"] for v in o[key]}
            moved = [{"id": v["id"], "old": before.get(v["id"]), "new": v["status"]}
                     for v in z[key] if before.get(v["id"]) != v["status"]]
            if moved:
                row[key] = moved
        if len(row) > 1:
            rows.append(row)

    def side(sp: Any, label: str | None) -> dict[str, Any]:
        return {"label": label or sp.decisions.file, "pack": sp.meta.id, "version": sp.meta.version,
                "sha256": sp.decisions.sha256}

    # Titles of what the ids above name (the new version's, else the old one's), so that a Chinese
    # view says 规模总量指标, not scale.
    titles: dict[str, dict[str, Any]] = {"indicators": {}, "cohorts": {}, "vetoes": {}, "consequences": {}}
    for sp in (old_sp, new_sp):
        titles["indicators"].update({i.id: dict(i.title) for i in sp.indicators})
        titles["vetoes"].update({v.id: dict(v.title) for v in sp.vetoes})
        titles["consequences"].update({v.id: dict(v.title) for v in sp.consequences})
        cohorts = sp.decisions.inputs[sp.cohort_input].values if sp.cohort_input in sp.decisions.inputs else {}
        titles["cohorts"].update({c: dict(label) for c, label in cohorts.items() if isinstance(label, dict)})

    return {
        "schema": DIFF_SCHEMA, "kind": "scoring",
        "old": side(old_sp, old_label), "new": side(new_sp, new_label),
        "as_of": new_sp.decisions.as_of.isoformat(), "engine": engine,
        "pack_changes": changes, "counts": counts, "entity_changes": rows, "titles": titles,
        "problems": [p.as_dict() for p in sorted(set(old_problems) | set(new_problems))],
    }


def diff_files(old_spec: str, new_spec: str, data: Iterable[str], as_of: dt.date, engine: str = "durable",
               cwd: str | None = None) -> dict[str, Any]:
    """`certify diff`: read both versions (paths or REV:PATH), compile, decide, compare.
    Raises DiffSourceError for a version that cannot be read, ProblemsError for a pack with errors."""
    with tempfile.TemporaryDirectory(prefix="certify-diff-") as workdir:
        old_v = read_version(old_spec, workdir, cwd)
        new_v = read_version(new_spec, workdir, cwd)
        if _is_scoring(old_v.path) and _is_scoring(new_v.path):
            old_sp, _ = load_scoring_pack(old_v.path, as_of)
            new_sp, _ = load_scoring_pack(new_v.path, as_of)
            return diff_scoring(old_sp, new_sp, data, engine, old_v.label, new_v.label)
        old_pack, _ = load_pack(old_v.path, as_of)
        new_pack, _ = load_pack(new_v.path, as_of)
        return diff_decisions(old_pack, new_pack, data, engine, old_v.label, new_v.label)


# ---------------------------------------------------------------------------------------------
# Views


def _name(entity: dict[str, Any]) -> str:
    return f"{entity['id']} {entity.get('name') or ''}".strip()


def _t(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


_WHY_ZH = (
    ("criterion added in the new version", "新版本中新增的条件"),
    ("criterion removed in the new version", "新版本中删除的条件"),
    ("a different case applies", "适用的情形不同了"),
    ("its inputs or an earlier case changed", "其输入或前面的情形改变了"),
)
_WHY_PART_ZH = (("definition changed: ", "定义改变："), ("parameter ", "参数 "), ("value ", "数值 "))


def why_text(why: str, lang: str = "en") -> str:
    """A cause's reason (`why` in the result, built by `_reason` in English) in `lang`."""
    if lang != "zh" or not why:
        return why
    for en, zh in _WHY_ZH:
        if why == en:
            return zh
    parts = []
    for part in why.split("; "):
        for en, zh in _WHY_PART_ZH:
            if part.startswith(en):
                part = zh + part[len(en):]
                break
        parts.append(part)
    return "；".join(parts)


# Chinese words for statuses and outcomes: an officer reading the zh view sees no English keys.
_WORD_ZH = {"met": "满足", "not_met": "不满足", "unknown": "未知", NOT_APPLICABLE: "不适用",
            "pass": "通过", "fail": "不通过", "undetermined": "无法判定", "not_yet_due": "未到期", None: "无"}


def _word(value: Any, lang: str) -> str:
    return _WORD_ZH.get(value, str(value)) if lang == "zh" else str(value)


def _named(item: dict[str, Any], lang: str) -> str:
    """A criterion or flag as an officer knows it: its title in Chinese, its id in English."""
    title = item.get("title")
    if lang == "zh" and isinstance(title, dict) and title.get("zh"):
        return plain(title["zh"])
    return item["id"]


def _moved(item: dict[str, Any], lang: str) -> str:
    return f"{_word(item['old'], lang)} → {_word(item['new'], lang)}"


def _cause_text(item: dict[str, Any], lang: str = "en") -> str:
    cite = f"{plain(item['cite'])} " if item.get("cite") else ""  # a cite may be 2,000 characters
    why = why_text(item.get("why", ""), lang)
    return f"{cite}{_named(item, lang)}: {_moved(item, lang)} " + (f"（{why}）" if lang == "zh" else f"({why})")


def _transition(key: str, lang: str) -> str:
    """'fail→pass' in the officer's words."""
    return "→".join(_word(part, lang) for part in key.split("→")) if lang == "zh" else key


def _param_name(p: dict[str, Any], lang: str) -> str:
    """A parameter by its label in Chinese, with the name an officer edits (and passes to --set)."""
    label = p.get("label")
    if lang == "zh" and isinstance(label, dict) and label.get("zh"):
        return f"{plain(label['zh'])} [{p['name']}]"
    return p["name"]


def _summary(result: dict[str, Any], lang: str = "en", other: tuple[str, str] = ("criteria only", "只是条件状态改变")) -> str:
    """One line: the two versions, how many entities change outcome (and how), and how many change
    only `other` (en, zh) — format 1: their criteria; format 2 (diff2) also values, places, awards."""
    c = result["counts"]
    old, new = result["old"], result["new"]
    trans = ", ".join(f"{_transition(k, lang)}: {v}" for k, v in sorted(c["transitions"].items()))
    head = f"{old['pack']} {old['version']} ({old['label']}) → {new['pack']} {new['version']} ({new['label']})"
    if lang == "zh":
        return (f"{head}，评估日期 {result['as_of']}：{c['entities']} 个对象中有 {c['outcome_changed']} 个结果改变"
                + (f"（{trans}）" if trans else "")
                + (f"；另有 {c['criteria_changed_only']} 个{other[1]}" if c["criteria_changed_only"] else ""))
    return (f"{head}, as of {result['as_of']}: {c['outcome_changed']} of {c['entities']} entities change outcome"
            + (f" ({trans})" if trans else "")
            + (f"; {c['criteria_changed_only']} more change {other[0]}" if c["criteria_changed_only"] else ""))


def render_entity_changes(result: dict[str, Any], out: TextIO, lang: str, lines: list[str], titles: tuple[str, str],
                          item_lines: Any = None) -> None:
    """The text body of a decision diff (formats 1 and 2): the pack's changes, then per entity whose
    outcome (or only something else) changed: its outcome move, the causes, the flags, and any
    `item_lines(item, lang)` (format 2: place, award, values); then the problems of the data."""
    t = lambda en, zh: _t(lang, en, zh)  # noqa: E731
    out.write(t("pack changes:\n", "规则包的改动：\n") if lines
              else t("pack changes: none that affect decisions\n", "规则包的改动：没有影响判定的改动\n"))
    for line in lines:
        out.write(f"  {line}\n")
    for title, group in zip(titles, (result["outcome_changes"], result["criteria_changes"])):
        if not group:
            continue
        out.write(f"{title}:\n")
        for item in group:
            moved = ("" if item["old_outcome"] is None and item["new_outcome"] is None else  # the pack names no decision
                     f": {_word(item['old_outcome'], lang)} → {_word(item['new_outcome'], lang)}")
            out.write(f"  {_name(item['entity'])}{moved}\n")
            for c in item["criteria"]:
                if c["cause"]:
                    out.write(f"    {t('because', '原因：')} {_cause_text(c, lang)}\n")
            for f in item["flags"]:
                out.write(f"    {t('flag', '标记')} {_named(f, lang)}: {_moved(f, lang)}\n")
            for line in (item_lines(item, lang) if item_lines is not None else ()):
                out.write(f"    {line}\n")
    for p in result["problems"]:
        message = p.get("message_zh") or p["message"] if lang == "zh" else p["message"]
        severity = {"error": "错误", "warning": "警告"}.get(p["severity"], p["severity"]) if lang == "zh" else p["severity"]
        out.write(f"{p['file']}:{p['line']}:{p['col']}: {p['code']} {severity}: {message}\n")


def _pack_change_lines(changes: dict[str, Any], lang: str = "en") -> list[str]:
    t = lambda en, zh: _t(lang, en, zh)  # noqa: E731
    lines = [f"{t('parameter', '参数')} {_param_name(p, lang)} ({plain(p['cite'])}): {p['old']} → {p['new']}"
             for p in changes["parameters"]]
    lines += [f"{t('criterion', '条件')} {c['id']} ({plain(c['cite'])}): {c['old']} → {c['new']}" for c in changes["criteria_changed"]]
    lines += [f"{t('criterion added: ', '新增条件：')}{i}" for i in changes["criteria_added"]]
    lines += [f"{t('criterion removed: ', '删除条件：')}{i}" for i in changes["criteria_removed"]]
    lines += [f"{t('flag added: ', '新增标记：')}{i}" for i in changes["flags_added"]]
    lines += [f"{t('flag removed: ', '删除标记：')}{i}" for i in changes["flags_removed"]]
    lines += [f"{t('flag condition changed: ', '标记条件改变：')}{i}" for i in changes["flags_changed"]]
    return lines


def _scoring_lines(result: dict[str, Any], lang: str = "en") -> tuple[str, list[str], list[tuple[str, list[str]]]]:
    t = lambda en, zh: _t(lang, en, zh)  # noqa: E731
    c, old, new = result["counts"], result["old"], result["new"]
    head = f"{old['pack']} {old['version']} ({old['label']}) → {new['pack']} {new['version']} ({new['label']})"
    if lang == "zh":
        summary = (f"{head}，评估日期 {result['as_of']}：{c['entities']} 个对象中，{c['rank_changed']} 个名次改变，"
                   f"{c['award_changed']} 个奖励改变，{c['total_changed']} 个总分改变")
    else:
        summary = (f"{head}, as of {result['as_of']}: of {c['entities']} entities, {c['rank_changed']} change rank, "
                   f"{c['award_changed']} change award, {c['total_changed']} change total")
    ch = result["pack_changes"]
    titles = result.get("titles", {})

    def named(kind: str, ident: str) -> str:  # zh: the title an officer knows; en: the id, as _named
        return _named({"id": ident, "title": titles.get(kind, {}).get(ident)}, lang)

    lines = _pack_change_lines(ch, lang)
    lines += [f"{t('indicator changed: ', '指标改变：')}{named('indicators', i)}" for i in ch["indicators_changed"]]
    lines += [f"{t('indicator added: ', '新增指标：')}{named('indicators', i)}" for i in ch["indicators_added"]]
    lines += [f"{t('indicator removed: ', '删除指标：')}{named('indicators', i)}" for i in ch["indicators_removed"]]
    lines += [f"{t('award table changed: ', '奖励表改变：')}{named('cohorts', i)}" for i in ch["awards_changed"]]
    lines += [f"{t('choice changed: ', '选项改变：')}{i}" for i in ch["choices_changed"]]
    words = {"rank": t("rank", "名次"), "total": t("total", "总分"), "award": t("award", "奖励"),
             "vetoes": t("veto", "否决项"), "consequences": t("consequence", "后果")}
    rows = []
    for row in result["entity_changes"]:
        parts = []
        for key in ("rank", "total", "award"):
            if key in row:
                old_v, new_v = row[key]["old"], row[key]["new"]
                if key == "award" and "old_text" in row[key]:
                    old_v, new_v = row[key]["old_text"][lang], row[key]["new_text"][lang]
                parts.append(f"{words[key]} {old_v} → {new_v}")
        parts += [f"{named('indicators', i)} {t('points', '得分')} {v['old']} → {v['new']}"
                  for i, v in row.get("points", {}).items()]
        parts += [f"{words[k]} {named(k, v['id'])}: {_word(v['old'], lang)} → {_word(v['new'], lang)}"
                  for k in ("vetoes", "consequences") for v in row.get(k, [])]
        rows.append((_name(row["entity"]), parts))
    return summary, lines, rows


def render_diff_text(result: dict[str, Any], out: TextIO, lang: str = "en") -> None:
    t = lambda en, zh: _t(lang, en, zh)  # noqa: E731
    if result.get("kind") == "scoring":
        summary, lines, rows = _scoring_lines(result, lang)
        out.write(summary + "\n" + t("pack changes:", "规则包的改动：") + "\n" + "".join(f"  {line}\n" for line in lines))
        out.write(t("entity changes:\n", "对象的变化：\n") if rows else t("entity changes: none\n", "对象的变化：无\n"))
        for name, parts in rows:
            out.write(f"  {name}: " + t("; ", "；").join(parts) + "\n")
        return
    out.write(_summary(result, lang) + "\n")
    render_entity_changes(result, out, lang, _pack_change_lines(result["pack_changes"], lang),
                          (t("outcome changes", "结果改变"), t("criteria changes (same outcome)", "条件状态改变（结果不变）")))


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_diff_markdown(result: dict[str, Any], out: TextIO, lang: str = "en") -> None:
    """A pull-request comment: summary, pack changes, then one row per changed entity."""
    t = lambda en, zh: _t(lang, en, zh)  # noqa: E731
    if result.get("kind") == "scoring":
        summary, lines, rows = _scoring_lines(result, lang)
        out.write(f"### certify diff: `{_md(result['old']['pack'])}`\n\n{_md(summary)}\n\n")
        out.write("".join(f"- {_md(line)}\n" for line in lines) + ("\n" if lines else ""))
        if rows:
            out.write(t("| entity | changes |", "| 对象 | 变化 |") + "\n|---|---|\n")
            out.write("".join(f"| {_md(n)} | {'<br>'.join(_md(p) for p in parts)} |\n" for n, parts in rows))
        return
    c = result["counts"]
    old, new = result["old"], result["new"]
    out.write(f"### certify diff: `{_md(old['pack'])}` {old['version']} → {new['version']}\n\n")
    trans = ", ".join(f"{_transition(k, lang)}: {v}" for k, v in sorted(c["transitions"].items()))
    if lang == "zh":
        out.write(f"**{c['entities']} 个对象中有 {c['outcome_changed']} 个结果改变**"
                  + (f"（{trans}）" if trans else "") + f" · 评估日期 {result['as_of']} · "
                  f"`{_md(old['label'])}` → `{_md(new['label'])}`\n\n")
    else:
        out.write(f"**{c['outcome_changed']} of {c['entities']} entities change outcome**"
                  + (f" ({trans})" if trans else "") + f" · as of {result['as_of']} · "
                  f"`{_md(old['label'])}` → `{_md(new['label'])}`\n\n")
    changes = result["pack_changes"]
    if changes["parameters"]:
        out.write(t("| parameter | clause | old | new |", "| 参数 | 条款 | 原值 | 新值 |") + "\n|---|---|---|---|\n")
        for p in changes["parameters"]:
            name = _md(_param_name(p, lang)) if lang == "zh" else f"`{p['name']}`"
            out.write(f"| {name} | {_md(plain(p['cite']))} | {_md(p['old'])} | {_md(p['new'])} |\n")
        out.write("\n")
    other = _pack_change_lines(changes, lang)[len(changes["parameters"]):]
    for line in other:
        out.write(f"- {_md(line)}\n")
    if other:
        out.write("\n")
    if result["outcome_changes"]:
        out.write(t("| entity | old | new | why |", "| 对象 | 原结果 | 新结果 | 原因 |") + "\n|---|---|---|---|\n")
        for item in result["outcome_changes"]:
            why = "<br>".join(_md(_cause_text(x, lang)) for x in item["criteria"] if x["cause"]) or "—"
            out.write(f"| {_md(_name(item['entity']))} | {_word(item['old_outcome'], lang)} | "
                      f"{_word(item['new_outcome'], lang)} | {why} |\n")
        out.write("\n")
    else:
        out.write(t("No entity changes outcome.\n\n", "没有对象的结果改变。\n\n"))
    if result["criteria_changes"]:
        summary_line = t(f"{c['criteria_changed_only']} entities change criteria but not outcome",
                         f"{c['criteria_changed_only']} 个对象的条件状态改变，但结果不变")
        out.write(f"<details><summary>{summary_line}</summary>\n\n"
                  + t("| entity | outcome | criteria |", "| 对象 | 结果 | 条件 |") + "\n|---|---|---|\n")
        for item in result["criteria_changes"]:
            why = "<br>".join(_md(_cause_text(x, lang)) for x in item["criteria"] if x["cause"])
            why = why or "<br>".join(f"{t('flag', '标记')} {_md(_named(f, lang))}: {_moved(f, lang)}"
                                     for f in item["flags"])
            out.write(f"| {_md(_name(item['entity']))} | {_word(item['new_outcome'], lang)} | {why} |\n")
        out.write("\n</details>\n")
    if result["problems"]:
        out.write(t(f"\n{len(result['problems'])} data problem(s) reported; run `certify evaluate` to see them.\n",
                    f"\n数据中有 {len(result['problems'])} 个问题；请运行 `certify evaluate` 查看。\n"))


def render_diff_json(result: dict[str, Any], out: TextIO, lang: str = "en") -> None:
    import json

    json.dump(result, out, ensure_ascii=False, indent=2)
    out.write("\n")


DIFF_RENDERERS = {"text": render_diff_text, "json": render_diff_json, "markdown": render_diff_markdown}


def run_diff(old: str, new: str, data: tuple[str, ...], as_of: str | None, fmt: str, engine: str,
             fail_on_change: bool, output: str | None, lang: str) -> int:
    """`certify diff OLD NEW --data ...`: exit 1 with --fail-on-change when an outcome changed."""
    check_output(output)
    date = parse_as_of(as_of, lang)
    result = compared_or_stop(lambda: diff_files(old, new, data, date, engine), lang)
    with open_output(output) as out:
        DIFF_RENDERERS[fmt](result, out, lang)
    counts = result["counts"]  # scoring packs: a changed rank or award counts as a changed outcome
    changed = counts.get("outcome_changed", counts.get("rank_changed", 0) + counts.get("award_changed", 0))
    return EXIT["problems"] if (fail_on_change and changed) else EXIT["ok"]
