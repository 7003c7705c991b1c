"""Editing one parameter value (or a choice's default) of a served pack, as the workbench saves it.

The file is changed in exactly two places: the value, and the version line (its last number
bumped: 1.0.0 -> 1.0.1). ruamel.yaml's round-trip reader finds where each is written (line and
column of the scalar); the new text is the old text with those two scalars replaced, so comments,
order, quoting and layout elsewhere stay byte for byte as the officer wrote them.

A save names the content hash (sha256) of the file the editor opened. Under one lock the file's
current hash is compared: another save in between refuses this one (E238) and shows the other's
change; nothing is lost. Where the pack folder is a git work tree, the save is committed with a
message naming the pack, the parameter, the old and new value and the clause.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import os
import re
import subprocess
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

_SAVE_LOCK = threading.Lock()
_OPENED: OrderedDict[str, str] = OrderedDict()  # sha256 -> text, the versions editors opened (to show a conflict)
_OPENED_KEPT = 64
_PLAIN_SAFE = re.compile(r"^[^\s\-?:,\[\]{}#&*!|>'\"%@`][^#:,\[\]{}]*$")
_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?$")
_VERSION = re.compile(r"^(.*?)(\d+)$")


class EditError(Exception):
    """The edit cannot be made (a dated or table parameter, a value with line breaks…)."""

    def __init__(self, message: str, message_zh: str):
        super().__init__(message)
        self.message_zh = message_zh


class Conflict(Exception):
    """Another save changed the file since the editor opened it."""

    def __init__(self, current_sha: str, diff: str):
        super().__init__(current_sha)
        self.current_sha = current_sha
        self.diff = diff


@dataclass
class Edited:
    text: str
    old_value: str
    new_value: str
    old_version: str
    new_version: str
    cite: str
    label: str
    line: int  # where the value is (1-based)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def remember(text: str) -> str:
    """Keep the text an editor opened (to show a later conflict); returns its hash."""
    digest = sha256(text)
    with _SAVE_LOCK:
        _OPENED[digest] = text
        _OPENED.move_to_end(digest)
        while len(_OPENED) > _OPENED_KEPT:
            _OPENED.popitem(last=False)
    return digest


def opened_diff(opened_sha: str, current: str) -> str:
    """What changed between the version an editor opened (if still kept) and the file now."""
    with _SAVE_LOCK:
        before = _OPENED.get(opened_sha, "")
    if not before:
        return ""
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), current.splitlines(keepends=True),
                                        "opened", "saved by another", n=1))


def _scalar_end(line: str, col: int) -> int:
    """Where the scalar starting at `col` ends on its line (quoted, or plain up to a comment)."""
    if line[col:col + 1] in ("'", '"'):
        quote = line[col]
        i = col + 1
        while i < len(line):
            if line[i] == "\\" and quote == '"':
                i += 2
                continue
            if line[i] == quote:
                if quote == "'" and line[i + 1:i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        raise EditError("a quoted value that spans lines cannot be edited here", "跨行的带引号数值无法在此编辑")
    end = len(line)
    comment = re.search(r"\s#", line[col:])
    if comment:
        end = col + comment.start()
    for stop in (",", "}", "]"):  # inside a flow mapping: {value: 10亿元, cite: ...}
        found = line.find(stop, col)
        if found != -1 and _in_flow(line, col):
            end = min(end, found)
    return col + len(line[col:end].rstrip())


def _in_flow(line: str, col: int) -> bool:
    return line[:col].count("{") > line[:col].count("}") or line[:col].count("[") > line[:col].count("]")


def _yaml_scalar(value: str) -> str:
    """The new value as a YAML scalar: plain when it reads back as the same string, else quoted."""
    if _PLAIN_SAFE.match(value) and value.strip() == value and not re.fullmatch(r"[-+.\d_eE]+|true|false|null|~|yes|no",
                                                                                 value, re.IGNORECASE):
        return value
    return json.dumps(value, ensure_ascii=False)


def _position(mapping: CommentedMap, key: str) -> tuple[int, int]:
    line, col = mapping.lc.value(key)
    return int(line), int(col)


def bump(version: str) -> str:
    found = _VERSION.match(version)
    if not found:
        return version + ".1"
    return found.group(1) + str(int(found.group(2)) + 1)


def edit_text(text: str, section: str, name: str, new_value: str) -> Edited:
    """The pack text with parameter `name`'s value (section "parameters") or choice `name`'s default
    (section "choices") set to `new_value`, and the version bumped."""
    if "\n" in new_value or "\r" in new_value or not new_value.strip():
        raise EditError("write the value on one line, such as 8亿元", "数值请写在一行内，如 8亿元")
    new_value = new_value.strip()
    yaml = YAML(typ="rt")
    doc = yaml.load(io.StringIO(text))
    key = "value" if section == "parameters" else "default"
    spec = (doc.get(section) or {}).get(name) if isinstance(doc, CommentedMap) else None
    if not isinstance(spec, CommentedMap) or key not in spec:
        what = "parameter" if section == "parameters" else "choice"
        raise EditError(f"{what} {name!r} has no single `{key}:` to edit here (a dated or table parameter is edited in the file)",
                        f"{name!r} 没有可在此编辑的单一 {key}（分时段或查表参数请在文件中修改）")
    pack = doc.get("pack")
    if not isinstance(pack, CommentedMap) or "version" not in pack:
        raise EditError("the pack has no pack.version to bump", "规则包缺少 pack.version，无法升级版本号")
    lines = text.splitlines(keepends=True)
    places = [(_position(spec, key), new_value), (_position(pack, "version"), None)]
    old_value = str(spec[key])
    old_version = str(pack["version"])
    new_version = bump(old_version)
    # replace from the bottom of the file up, so earlier positions stay valid
    for (line, col), value in sorted(places, reverse=True):
        row = lines[line]
        end = _scalar_end(row.rstrip("\r\n"), col)
        written = row[col:end]
        if value is None:  # the version keeps its quoting
            quote = written[0] if written[:1] in ("'", '"') else ""
            replacement = f"{quote}{new_version}{quote}" if quote else _yaml_scalar(new_version)
        elif _NUMBER.match(value) and written[:1] not in ("'", '"'):
            replacement = value  # a count written as a bare number stays a bare number
        else:
            replacement = _yaml_scalar(value)
        lines[line] = row[:col] + replacement + row[end:]
    label = spec.get("label")
    shown_label = str(label.get("zh") or label.get("en") or name) if isinstance(label, dict) else name
    return Edited("".join(lines), old_value, new_value, old_version, new_version, str(spec.get("cite") or ""),
                  shown_label, _position(spec, key)[0] + 1)


def save(path: str, opened_sha: str, new_text: str, message: str, user: str | None = None) -> str:
    """Write `new_text` to `path` if the file is still the version hashed `opened_sha`; commit it
    where the folder is a git work tree (authored by `user`, a configured user's name, when given).
    Returns the commit id ("" without git). Raises Conflict."""
    with _SAVE_LOCK:
        with open(path, encoding="utf-8") as handle:
            current = handle.read()
        if sha256(current) != opened_sha:
            before = _OPENED.get(opened_sha, "")
            diff = "".join(difflib.unified_diff(before.splitlines(keepends=True), current.splitlines(keepends=True),
                                                "opened", "saved by another", n=1)) if before else ""
            raise Conflict(sha256(current), diff)  # opened_diff would take the lock again
        folder = os.path.dirname(path)
        handle_fd, temporary = tempfile.mkstemp(prefix=".certify-save-", dir=folder)
        try:
            with os.fdopen(handle_fd, "w", encoding="utf-8", newline="") as out:
                out.write(new_text)
            mode = os.stat(path).st_mode & 0o777
            os.chmod(temporary, mode)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise
        return _commit(path, message, user)


def _git(folder: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True, timeout=60)


def _commit(path: str, message: str, user: str | None = None) -> str:
    folder = os.path.dirname(path)
    try:
        inside = _git(folder, "rev-parse", "--is-inside-work-tree")
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return ""
    who: list[str] = []
    if not _git(folder, "config", "user.email").stdout.strip():
        who = ["-c", "user.name=certify workbench", "-c", "user.email=workbench@localhost"]
    author: list[str] = []
    if user:  # the configured user who saved (a plain name: guard.USER_NAME); the committer stays the server's
        author = [f"--author={user} <{user}@certify-workbench>"]
    name = os.path.basename(path)
    done = _git(folder, *who, "commit", *author, "--only", "-m", message, "--", name)
    if done.returncode != 0:
        # a file git does not track yet: add it first
        _git(folder, "add", "--", name)
        done = _git(folder, *who, "commit", *author, "-m", message, "--", name)
    if done.returncode != 0:
        return ""
    return _git(folder, "rev-parse", "HEAD").stdout.strip()
