"""Safe YAML reading for untrusted rule and data files.

PyYAML's safe loader still accepts duplicate keys (the last silently wins), expands aliases
without limit and reads decimals as binary floats. We compose the node graph with the safe
loader and build Python values ourselves so that we can:

- reject duplicate keys with the line and column of the second occurrence;
- bound alias expansion and nesting depth (billion-laughs and stack exhaustion);
- read every decimal as `Decimal` from its source text, never via float;
- remember the position of every value, so later stages can point at `file:line:col`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from engine.core.problems import ERROR, Problem, ProblemsError, shown
from engine.core.units import iso_date  # noqa: F401 - imported from here by many modules

try:  # the C composer is several times faster and keeps marks just the same
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

MAX_BYTES = 64 * 1024 * 1024
MAX_NODES = 2_000_000
MAX_DEPTH = 64
MAX_SCALAR = 100_000
# Values that aliases may add beyond what is written. MAX_NODES alone let a 200-byte file of
# nested aliases expand to 2 million values (about 15 s and 1 GB to build with positions);
# legitimate packs and data repeat a block or two, so this is generous.
MAX_ALIAS_VALUES = 100_000
# Values in a file read by load_yaml_file (rule packs, their test suites, override files). The
# largest pack has about 600; 2 million values fit in a 4 MiB pack and took 45 s and 2.4 GB to
# compose and check. Data files (parse_yaml from engine.load.data) keep MAX_NODES.
MAX_PACK_VALUES = 100_000

Path = tuple[Any, ...]


@dataclass
class Document:
    """A parsed file: its value and where each part of it came from."""

    file: str
    value: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path) -> tuple[int, int]:
        """Line and column of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), (1, 1))

    def problem(self, code: str, message: str, path: Path = (), severity: str = ERROR,
                message_zh: str = "") -> Problem:
        line, col = self.where(path)
        return Problem(self.file, line, col, code, message, format_path(path), severity, message_zh)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
_TS_TAG = "tag:yaml.org,2002:timestamp"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Builder:
    def __init__(self, file: str, max_nodes: int = MAX_NODES):
        self.file = file
        self.max_nodes = max_nodes
        self.positions: dict[Path, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.count = 0

    def fail(self, node: yaml.Node, code: str, message: str, path: Path, message_zh: str = "") -> None:
        mark = node.start_mark
        self.problems.append(
            Problem(self.file, mark.line + 1, mark.column + 1, code, message, format_path(path),
                    message_zh=message_zh)
        )

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > self.max_nodes:
            raise _Refused(node, f"more than {self.max_nodes} values after alias expansion (alias bomb?)",
                           f"展开别名后超过 {self.max_nodes} 个值（疑似别名炸弹），已拒绝读取；请把内容直接写出")
        if depth > MAX_DEPTH:
            raise _nesting_refused(node)
        self.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            if node.tag not in (_MAP_TAG,):
                raise _Refused(node, f"tag {shown(node.tag)} is not allowed",
                               f"不允许使用标签 {shown(node.tag)}；请删除该标签")
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise _Refused(key_node, "merge keys (<<) are not supported; write the fields out",
                                   "不支持合并键（<<）；请把各字段逐一写出")
                key = self.build(key_node, path + ("<key>",), depth + 1)
                if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode) and not key_node.style:
                    # YAML 1.1 reads a bare on / off / yes / no / y / n as true or false; a key is
                    # always a name, so it is read as written (`in_force: {of: P, on: …}`).
                    key = key_node.value
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    self.fail(key_node, "E112", f"mapping key {shown(key)} must be text", path,
                              f"键 {shown(key)} 必须是文字；请改为文字名称")
                    continue
                key = str(key)
                if key in out:
                    self.fail(
                        key_node,
                        "E102",
                        f"duplicate key {shown(key)}: it was already given in this mapping; "
                        "keep one of them",
                        path + (key,),
                        f"键 {shown(key)} 重复：同一层中已经写过；请只保留其中一个",
                    )
                    continue
                out[key] = self.build(value_node, path + (key,), depth + 1)
                self.positions[path + (key,)] = (
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            self.positions.pop(path + ("<key>",), None)
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                raise _Refused(node, f"tag {shown(node.tag)} is not allowed",
                               f"不允许使用标签 {shown(node.tag)}；请删除该标签")
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node: yaml.ScalarNode) -> Any:
        text = node.value
        if len(text) > MAX_SCALAR:
            raise _Refused(node, f"a value longer than {MAX_SCALAR} characters",
                           f"有一个值超过 {MAX_SCALAR} 个字符，已拒绝读取；请缩短")
        tag = node.tag
        if tag == _STR_TAG:
            return text
        if tag == _NULL_TAG:
            return None
        if tag == _BOOL_TAG:
            return text.lower() in ("true", "yes", "on", "y")
        if tag == _INT_TAG:
            try:
                return int(text.replace("_", ""), 0)
            except ValueError:
                return text  # sexagesimal and other YAML 1.1 oddities stay text
        if tag == _FLOAT_TAG:
            try:
                value = Decimal(text.replace("_", ""))
            except InvalidOperation:
                return text  # .inf / .nan stay text; the type checks report them
            return value if value.is_finite() else text
        if tag == _TS_TAG:
            # Dates stay ISO text so every later stage sees one representation.
            return text if _DATE_RE.match(text) else text
        raise _Refused(node, f"tag {shown(tag)} is not allowed", f"不允许使用标签 {shown(tag)}；请删除该标签")


class _Refused(Exception):
    def __init__(self, node: Any, message: str, message_zh: str = ""):
        self.node = node
        self.message = message
        self.message_zh = message_zh


def _nesting_refused(node: Any) -> _Refused:
    return _Refused(node, f"nesting deeper than {MAX_DEPTH} levels",
                    f"嵌套超过 {MAX_DEPTH} 层，已拒绝读取；请减少嵌套层数")


def read_limited(handle: Any, max_bytes: int) -> bytes:
    """At most max_bytes + 1 bytes of an open binary file, read in 1 MiB chunks.

    `handle.read(max_bytes + 1)` looks bounded but makes CPython allocate the whole
    max_bytes + 1 buffer up front, even for a one-line file: 64 MiB per pack and 512 MiB per
    data file, a MemoryError under a memory limit (ulimit -v). Reading in chunks costs only
    what the file holds.
    """
    chunks: list[bytes] = []
    total = 0
    while total <= max_bytes:
        chunk = handle.read(min(1 << 20, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def read_text(file: str, data: bytes | None = None, max_bytes: int = MAX_BYTES) -> str:
    """Read a file as UTF-8 (with or without BOM); problems raise ProblemsError(E100)."""
    try:
        if data is None:
            with open(file, "rb") as handle:
                data = read_limited(handle, max_bytes)
    except OSError as error:
        raise ProblemsError([_unreadable(file, error)])
    if len(data) > max_bytes:
        raise ProblemsError(
            [Problem(file, 1, 1, "E100", f"file is larger than the limit of {max_bytes} bytes",
                     message_zh=f"文件超过 {max_bytes} 字节的上限，未读取；请拆分文件")]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProblemsError(
            [Problem(file, 1, 1, "E100", f"file is not UTF-8 (byte {error.start}); save it as UTF-8",
                     message_zh=f"文件不是 UTF-8 编码（第 {error.start} 字节）；请另存为 UTF-8")]
        )
    if not text.strip():
        raise ProblemsError([_empty(file)])
    return text


def _unreadable(file: str, error: OSError) -> Problem:
    return Problem(file, 1, 1, "E100", f"cannot read file: {error.strerror}",
                   message_zh=f"无法读取文件（{error.strerror}）；请检查路径和权限")


def _empty(file: str) -> Problem:
    return Problem(file, 1, 1, "E100", "file is empty", message_zh="文件是空的；请写入内容")


class _Mark:
    def __init__(self, line: int, column: int):
        self.line = line
        self.column = column


class _At:
    """Where the text pre-scan refused: what _Refused expects of a node (a start_mark)."""

    def __init__(self, line: int, column: int):
        self.start_mark = _Mark(line, column)


# Characters that matter inside a flow collection; runs of anything else are skipped by the
# regex engine, so a 4 MB line of `1,1,1,…` is one search, not a million Python steps.
_FLOW_MARK = re.compile(r"""[\[\]{}"'#]""")
_DQ_END = re.compile(r'(?:[^"\\]|\\.)*"')
_SQ_END = re.compile(r"(?:[^']|'')*'(?!')")
_INDENT = re.compile(r"[ ]*")
_ENTRY = re.compile(r"[-?](?:[ \t]+|$)")
_PROPERTIES = re.compile(r"(?:[&!][^ \t]*[ \t]+)*")
_BLOCK_SCALAR = re.compile(r"[|>][-+0-9]*[ \t]*(?:#.*)?$")
_KEY_AFTER = re.compile(r"[ \t]*:(?:[ \t]|$)")
_PLAIN_KEY = re.compile(r"(?:[^:#]|:(?=[^ \t])|(?<=[^ \t])#)*?:(?:[ \t]+|$)")
_DOCUMENT = re.compile(r"(?:---|\.\.\.)(?:[ \t]|$)")


class _NestingScan:
    """How deeply a YAML text nests, read from the text alone, before PyYAML sees it.

    PyYAML's own nesting limit, its error and its code (E101, from libyaml) change from release to
    release, and its composer recurses on the C stack; so this pass decides first, in one pass
    without recursion. It counts open flow collections (`[`, `{` outside quotes and comments) and
    block collections (one per indentation column with a `- ` or `key:` entry, and one per compact
    entry on the same line, as in `- - - x`). It may count a level less than PyYAML (a sequence
    written at its key's indentation), never more, so it cannot refuse a file that nests within
    the limit; the event pre-scan that follows is exact.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.block: list[int] = []  # columns of the open block collections
        self.flow = 0  # open flow collections
        self.quote = ""  # the quote character of a quoted scalar that goes on to the next line
        self.scalar_indent = -1  # inside a block scalar (| or >): its header line's indentation
        self.line = 0

    def deeper(self, column: int) -> None:
        if len(self.block) + self.flow > self.limit:
            raise _nesting_refused(_At(self.line, column))

    def scan(self, text: str) -> None:
        for self.line, line in enumerate(text.splitlines()):
            self.scan_line(line.rstrip("\r"))

    def scan_line(self, line: str) -> None:
        indent = _INDENT.match(line).end()
        if self.scalar_indent >= 0:
            if indent == len(line) or indent > self.scalar_indent:
                return  # block scalar content: text, not structure
            self.scalar_indent = -1
        pos = 0
        if self.quote:
            pos = self.close_quote(line, 0)
            if pos < 0:
                return
            if not self.flow:
                return  # what follows a multi-line quoted scalar on its last line is no node
        if self.flow:
            pos = self.flow_tokens(line, pos)
            if pos < 0:
                return
            self.after_flow(line, pos, indent)
            return
        if indent == len(line) or line[indent] == "#" or line.startswith("%"):
            return
        if indent == 0 and _DOCUMENT.match(line):
            self.block.clear()
            pos = 3
        else:
            while self.block and self.block[-1] > indent:
                self.block.pop()
        self.node(line, pos if pos else indent, indent)

    def close_quote(self, line: str, pos: int) -> int:
        end = (_DQ_END if self.quote == '"' else _SQ_END).match(line, pos)
        if end is None:
            return -1
        self.quote = ""
        return end.end()

    def entry(self, column: int) -> None:
        """A block collection entry (`- ` or `key:`) starts at this column."""
        if not self.block or self.block[-1] < column:
            self.block.append(column)
            self.deeper(column)

    def node(self, line: str, pos: int, indent: int) -> None:
        """Nodes that start at `pos` of a line in block context: entries, keys and their values.

        A loop, not recursion: a line of 100,000 `a: ` or `- ` must not exhaust the stack here.
        """
        while pos < len(line):
            entry = _ENTRY.match(line, pos)
            if entry is not None:
                self.entry(pos)
                pos = entry.end()
                continue
            pos = _PROPERTIES.match(line, pos).end()
            if pos >= len(line):
                return
            char = line[pos]
            if char in "[{":
                end = self.flow_tokens(line, pos)
                if end < 0:
                    return
                key = _KEY_AFTER.match(line, end)
                if key is None:
                    return
                self.entry(pos)  # a flow collection as a key: rare, but still a mapping
                pos = key.end()
                continue
            if char in "\"'":
                self.quote = char
                end = self.close_quote(line, pos + 1)
                key = _KEY_AFTER.match(line, end) if end >= 0 else None
                if key is None:
                    return
                self.entry(pos)
                pos = key.end()
                continue
            if char in "|>" and _BLOCK_SCALAR.match(line, pos):
                self.scalar_indent = indent
                return
            if char == "#":
                return
            key = _PLAIN_KEY.match(line, pos)
            if key is None:
                return
            self.entry(pos)
            pos = key.end()

    def after_flow(self, line: str, pos: int, indent: int) -> None:
        """The rest of a line after a flow collection that began on an earlier line closed."""
        key = _KEY_AFTER.match(line, pos)
        if key is not None:
            self.node(line, key.end(), indent)

    def flow_tokens(self, line: str, pos: int) -> int:
        """Read flow context from `pos`; where the outermost flow collection closed, or -1.

        A quote opens a quoted scalar only where a node starts (after `[`, `{`, `,`, `:` or at
        the start of the line); inside a plain scalar such as it's it is just a character.
        A `#` after a space starts a comment.
        """
        while True:
            found = _FLOW_MARK.search(line, pos)
            if found is None:
                return -1
            at = found.start()
            char = line[at]
            if char in "[{":
                self.flow += 1
                self.deeper(at)
            elif char in "]}":
                self.flow = max(self.flow - 1, 0)
                if not self.flow:
                    return at + 1
            else:
                before = at - 1
                while before >= 0 and line[before] in " \t":
                    before -= 1
                if char == "#":
                    if before < at - 1 or before < 0:
                        return -1  # a comment to the end of the line
                elif before < 0 or line[before] in "[{,:":
                    self.quote = char
                    end = self.close_quote(line, at + 1)
                    if end < 0:
                        return -1  # the quoted scalar goes on to the next line
                    pos = end
                    continue
            pos = at + 1


def _prescan(text: str, max_nodes: int = MAX_NODES) -> None:
    """Refuse deep nesting and alias bombs from the event stream, before any node is composed.

    The C composer recurses on the C stack (tens of thousands of nested brackets crash the
    process), and the builder only counts expanded values while building them, so both limits
    are checked here first, in one linear pass without recursion.
    """
    sizes: dict[str, int] = {}  # anchor -> number of values it expands to
    stack: list[list[Any]] = [[0, None]]  # open collections: [values so far, anchor]
    aliased = 0  # values added by alias expansion

    def add(count: int, event: Any) -> None:
        stack[-1][0] += count
        if stack[-1][0] > max_nodes:
            raise _Refused(event, f"more than {max_nodes} values (after alias expansion)",
                           f"值的个数（展开别名后）超过 {max_nodes}，已拒绝读取；请拆分文件")

    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(stack) > MAX_DEPTH + 1:
                raise _nesting_refused(event)
            stack.append([1, event.anchor])
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            count, anchor = stack.pop()
            if anchor is not None:
                sizes[anchor] = count
            add(count, event)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                sizes[event.anchor] = 1
            add(1, event)
        elif isinstance(event, yaml.AliasEvent):
            size = sizes.get(event.anchor, 1)
            aliased += size
            if aliased > MAX_ALIAS_VALUES:
                raise _Refused(event, f"aliases expand to more than {MAX_ALIAS_VALUES} values (alias bomb?)",
                               f"别名展开后超过 {MAX_ALIAS_VALUES} 个值（疑似别名炸弹），已拒绝读取；请把内容直接写出")
            add(size, event)


def _bounded(message: str, limit: int = 200) -> str:
    """PyYAML's message, cut short: it can quote the text it choked on (a secret, a 10 kB line)."""
    return message if len(message) <= limit else message[:limit] + "…"


def _too_deep(file: str) -> Problem:
    return Problem(file, 1, 1, "E103", "nesting is too deep to read",
                   message_zh="嵌套太深，无法读取；请减少嵌套层数")


def _refused(file: str, refused: _Refused) -> Problem:
    mark = refused.node.start_mark
    return Problem(file, mark.line + 1, mark.column + 1, "E103", f"refused: {refused.message}",
                   message_zh=refused.message_zh or f"已拒绝：{refused.message}")


def parse_yaml(text: str, file: str, max_nodes: int = MAX_NODES) -> Document:
    """Parse one YAML document safely. Raises ProblemsError with every problem found."""
    try:
        _NestingScan(MAX_DEPTH + 1).scan(text)  # before PyYAML, whose own limits vary by release
        _prescan(text, max_nodes)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(x) for x in (error.context, error.problem) if x)
        raise ProblemsError([Problem(file, line, col, "E101", f"YAML syntax error: {_bounded(message)}",
                                     message_zh=f"YAML 语法错误（{_bounded(message)}）；请检查此处的缩进、冒号和括号")])
    except yaml.YAMLError as error:
        raise ProblemsError([Problem(file, 1, 1, "E101", f"YAML syntax error: {_bounded(str(error))}",
                                     message_zh="YAML 语法错误；请检查缩进、冒号和括号")])
    except RecursionError:
        raise ProblemsError([_too_deep(file)])
    except _Refused as refused:
        raise ProblemsError([_refused(file, refused)])
    if node is None:
        raise ProblemsError([_empty(file)])
    builder = _Builder(file, max_nodes)
    try:
        value = builder.build(node, (), 0)
    except _Refused as refused:
        raise ProblemsError([_refused(file, refused)])
    except RecursionError:
        raise ProblemsError([_too_deep(file)])
    if builder.problems:
        raise ProblemsError(builder.problems)
    return Document(file, value, builder.positions)


def load_yaml_file(file: str, max_bytes: int = MAX_BYTES,
                   max_nodes: int = MAX_PACK_VALUES) -> tuple[Document, bytes]:
    """Read and parse; also returns the raw bytes (the pack's hash is over them)."""
    try:
        with open(file, "rb") as handle:
            raw = read_limited(handle, max_bytes)
    except OSError as error:
        raise ProblemsError([_unreadable(file, error)])
    text = read_text(file, raw, max_bytes)
    return parse_yaml(text, file, max_nodes), raw
