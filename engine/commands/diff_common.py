"""What both views of `certify diff` share (engine.commands.diff2 for format 2, engine.commands.diff
for format 1's packs): reading a version — a file, or a git revision and path read with `git
show` — the pack's changes (parameters whose value moved, criteria added, removed or redefined,
by their compiled signature), why a criterion changed, the entities sorted by what changed, the
sides of the comparison, and the words and lines the text and Markdown views write.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, TextIO

from engine.commands.common import UsageError, show_problems, stop
from engine.compile.model import CompiledPack, Node
from engine.core.problems import EngineError, ProblemsError, plain, shown

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


def signature(node: Node) -> Any:
    """A criterion's own definition: children with ids are referred to by id (their own changes
    are reported on them), thresholds by parameter name (parameter changes are separate)."""

    def sub(child: Node) -> Any:
        return ("ref", child.id) if child.id is not None else signature(child)

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
               for i in new_nodes if i in old_nodes and signature(old_nodes[i]) != signature(new_nodes[i])]
    return {"criteria_added": [i for i in new_nodes if i not in old_nodes],
            "criteria_removed": [i for i in old_nodes if i not in new_nodes],
            "criteria_changed": changed}


# ---------------------------------------------------------------------------------------------
# Why a criterion changed, and the entities that changed


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


# ---------------------------------------------------------------------------------------------
# Views


def entity_name(entity: dict[str, Any]) -> str:
    return f"{entity['id']} {entity.get('name') or ''}".strip()


def lang_text(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


_WHY_ZH = (
    ("criterion added in the new version", "新版本中新增的条件"),
    ("criterion removed in the new version", "新版本中删除的条件"),
    ("a different case applies", "适用的情形不同了"),
    ("its inputs or an earlier case changed", "其输入或前面的情形改变了"),
)
_WHY_PART_ZH = (("definition changed: ", "定义改变："), ("parameter ", "参数 "), ("value ", "数值 "))


def why_text(why: str, lang: str = "en") -> str:
    """A cause's reason (`why` in the result, built in English by the diff) in `lang`."""
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


def status_word(value: Any, lang: str) -> str:
    return _WORD_ZH.get(value, str(value)) if lang == "zh" else str(value)


def item_name(item: dict[str, Any], lang: str) -> str:
    """A criterion or flag as an officer knows it: its title in Chinese, its id in English."""
    title = item.get("title")
    if lang == "zh" and isinstance(title, dict) and title.get("zh"):
        return plain(title["zh"])
    return item["id"]


def moved_text(item: dict[str, Any], lang: str) -> str:
    return f"{status_word(item['old'], lang)} → {status_word(item['new'], lang)}"


def cause_text(item: dict[str, Any], lang: str = "en") -> str:
    cite = f"{plain(item['cite'])} " if item.get("cite") else ""  # a cite may be 2,000 characters
    why = why_text(item.get("why", ""), lang)
    return f"{cite}{item_name(item, lang)}: {moved_text(item, lang)} " + (f"（{why}）" if lang == "zh" else f"({why})")


def transition_text(key: str, lang: str) -> str:
    """'fail→pass' in the officer's words."""
    return "→".join(status_word(part, lang) for part in key.split("→")) if lang == "zh" else key


def param_name(p: dict[str, Any], lang: str) -> str:
    """A parameter by its label in Chinese, with the name an officer edits (and passes to --set)."""
    label = p.get("label")
    if lang == "zh" and isinstance(label, dict) and label.get("zh"):
        return f"{plain(label['zh'])} [{p['name']}]"
    return p["name"]


def summary_line(result: dict[str, Any], lang: str = "en", other: tuple[str, str] = ("criteria only", "只是条件状态改变")) -> str:
    """One line: the two versions, how many entities change outcome (and how), and how many change
    only `other` (en, zh) — format 1: their criteria; format 2 (diff2) also values, places, awards."""
    c = result["counts"]
    old, new = result["old"], result["new"]
    trans = ", ".join(f"{transition_text(k, lang)}: {v}" for k, v in sorted(c["transitions"].items()))
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
    t = lambda en, zh: lang_text(lang, en, zh)  # noqa: E731
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
                     f": {status_word(item['old_outcome'], lang)} → {status_word(item['new_outcome'], lang)}")
            out.write(f"  {entity_name(item['entity'])}{moved}\n")
            for c in item["criteria"]:
                if c["cause"]:
                    out.write(f"    {t('because', '原因：')} {cause_text(c, lang)}\n")
            for f in item["flags"]:
                out.write(f"    {t('flag', '标记')} {item_name(f, lang)}: {moved_text(f, lang)}\n")
            for line in (item_lines(item, lang) if item_lines is not None else ()):
                out.write(f"    {line}\n")
    for p in result["problems"]:
        message = p.get("message_zh") or p["message"] if lang == "zh" else p["message"]
        severity = {"error": "错误", "warning": "警告"}.get(p["severity"], p["severity"]) if lang == "zh" else p["severity"]
        out.write(f"{p['file']}:{p['line']}:{p['col']}: {p['code']} {severity}: {message}\n")


def pack_change_lines(changes: dict[str, Any], lang: str = "en") -> list[str]:
    t = lambda en, zh: lang_text(lang, en, zh)  # noqa: E731
    lines = [f"{t('parameter', '参数')} {param_name(p, lang)} ({plain(p['cite'])}): {p['old']} → {p['new']}"
             for p in changes["parameters"]]
    lines += [f"{t('criterion', '条件')} {c['id']} ({plain(c['cite'])}): {c['old']} → {c['new']}" for c in changes["criteria_changed"]]
    lines += [f"{t('criterion added: ', '新增条件：')}{i}" for i in changes["criteria_added"]]
    lines += [f"{t('criterion removed: ', '删除条件：')}{i}" for i in changes["criteria_removed"]]
    lines += [f"{t('flag added: ', '新增标记：')}{i}" for i in changes["flags_added"]]
    lines += [f"{t('flag removed: ', '删除标记：')}{i}" for i in changes["flags_removed"]]
    lines += [f"{t('flag condition changed: ', '标记条件改变：')}{i}" for i in changes["flags_changed"]]
    return lines


def md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
