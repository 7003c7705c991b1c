"""JSON text indented as `json.dump(..., ensure_ascii=False, indent=2)` writes it, byte for byte,
but mostly encoded by the C encoder: with `indent`, the standard library falls back to its
pure-Python encoder, and a score of 100,000 entities spent as long there as ranking them (issue 14).

Containers are walked in Python; a container holding only scalars (most of them: a view's leaves)
is encoded in one call of a C encoder whose item separator is that depth's newline and indentation,
so only the brackets are written here.

A list may be given as a `Stream` (an iterable of containers, produced while it is written):
`dump_indented` then writes the text item by item, so a score of 100,000 entities never holds its
whole text, nor every item's dict, at once (issue 14: ranking 100,000 peaked at 2–3.6 GB).
The text is the same as for the list the stream would produce.

Canonical JSON, for hashing: `canonical_json` is the text whose sha256 is a format-2 record's
input_sha256 (keys sorted, compact); `canonical` makes a value JSON-ready with exact numbers as
text (format 1 hashed an entity's id, name and fields so, and a decision log still checks such
records)."""

from __future__ import annotations

import json
from fractions import Fraction
from json.encoder import encode_basestring  # the C one when available, as json.dumps uses
from typing import Any, Callable, Iterable, TextIO

from engine.core.units import fraction_json

try:
    from _json import make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - CPython always has _json
    _c_make_encoder = None


class RawJSON(str):
    """Text already encoded as it stands where it is placed (at that depth): written as it is."""


class Stream:
    """A list written lazily: each item (a dict, list or tuple) is made when it is written, and
    the text written so far goes to the file after each item. Read once."""

    def __init__(self, items: Iterable[Any]):
        self.items = items


_CONTAINERS = (dict, list, tuple, RawJSON, Stream)  # RawJSON: not a scalar the C encoder may quote


def _unknown(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


class _Writer:
    def __init__(self, indent: int, flush: Callable[[list[str]], None] | None = None):
        self.pad = " " * indent
        self.flush = flush  # called with the pieces written so far after each item of a Stream
        self.breaks = ["\n"]
        self.encoders: list[Any] = []

    def brk(self, depth: int) -> str:
        while len(self.breaks) <= depth:
            self.breaks.append(self.breaks[-1] + self.pad)
        return self.breaks[depth]

    def leaf(self, depth: int) -> Any:
        """A C encoder writing the items of a container at `depth` one per line."""
        while len(self.encoders) <= depth:
            sep = "," + self.brk(len(self.encoders) + 1)
            self.encoders.append(_c_make_encoder(None, _unknown, encode_basestring, None, ": ", sep, False, False, True))
        return self.encoders[depth]

    def key(self, key: Any) -> str:
        if isinstance(key, str):
            return encode_basestring(key)
        # non-string keys as json.dumps writes them (the same text as a scalar, then quoted)
        if key is True or key is False or key is None or isinstance(key, (int, float)):
            return encode_basestring(json.dumps(key) if not isinstance(key, str) else key)
        raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")

    def write(self, value: Any, depth: int, out: list[str]) -> None:
        if isinstance(value, dict):
            if not value:
                out.append("{}")
            elif not any(isinstance(v, _CONTAINERS) for v in value.values()):
                text = "".join(self.leaf(depth)(value, 0))
                out.append("{" + self.brk(depth + 1) + text[1:-1] + self.brk(depth) + "}")
            else:
                # runs of scalar items are encoded together, one C call per run
                inner = self.brk(depth + 1)
                leaf = self.leaf(depth)
                sep = "{" + inner
                run: dict[Any, Any] = {}
                for k, v in value.items():
                    if not isinstance(v, _CONTAINERS):
                        run[k] = v
                        continue
                    if run:
                        out.append(sep)
                        out.append("".join(leaf(run, 0))[1:-1])
                        sep = "," + inner
                        run = {}
                    out.append(sep)
                    out.append(self.key(k))
                    out.append(": ")
                    self.write(v, depth + 1, out)
                    sep = "," + inner
                if run:
                    out.append(sep)
                    out.append("".join(leaf(run, 0))[1:-1])
                out.append(self.brk(depth) + "}")
        elif isinstance(value, (list, tuple)):
            if not value:
                out.append("[]")
            elif not any(isinstance(v, _CONTAINERS) for v in value):
                text = "".join(self.leaf(depth)(value, 0))
                out.append("[" + self.brk(depth + 1) + text[1:-1] + self.brk(depth) + "]")
            else:
                inner = self.brk(depth + 1)
                sep = "[" + inner
                for v in value:
                    out.append(sep)
                    self.write(v, depth + 1, out)
                    sep = "," + inner
                out.append(self.brk(depth) + "]")
        elif isinstance(value, RawJSON):
            out.append(value)
        elif isinstance(value, Stream):
            inner = self.brk(depth + 1)
            sep = "[" + inner
            for v in value.items:
                if not isinstance(v, _CONTAINERS):
                    # a list holding only scalars is written on one line per item by the C encoder;
                    # a stream never holds scalars, so it is always written the container way
                    raise TypeError(f"a Stream holds dicts or lists, not {v.__class__.__name__}")
                out.append(sep)
                self.write(v, depth + 1, out)
                sep = "," + inner
                if self.flush is not None:
                    self.flush(out)
            out.append("[]" if sep[0] == "[" else self.brk(depth) + "]")
        elif isinstance(value, str):
            out.append(encode_basestring(value))
        else:
            out.append("".join(self.leaf(depth)(value, 0)))


_WRITERS: dict[int, _Writer] = {}


def dumps_indented(value: Any, indent: int = 2, depth: int = 0) -> str:
    """`json.dumps(value, ensure_ascii=False, indent=indent)`: the same text, faster. With `depth`,
    the text of `value` as it stands nested `depth` levels deep in a document json.dump(indent=…)
    writes (every line after the first indented by `depth` more levels)."""
    if _c_make_encoder is None:  # pragma: no cover
        text = json.dumps(value, ensure_ascii=False, indent=indent)
        return text.replace("\n", "\n" + " " * (indent * depth)) if depth else text
    writer = _WRITERS.get(indent)
    if writer is None:
        writer = _WRITERS[indent] = _Writer(indent)  # its encoders are built once per depth
    out: list[str] = []
    writer.write(value, depth, out)
    return "".join(out)


def dump_indented(value: Any, out: TextIO, indent: int = 2) -> None:
    """`json.dump(value, out, ensure_ascii=False, indent=indent)`: the same text, faster; a
    `Stream` inside is written item by item (only one item's text is held at a time)."""
    if _c_make_encoder is None:  # pragma: no cover
        out.write(dumps_indented(value, indent))
        return

    def flush(pieces: list[str]) -> None:
        out.write("".join(pieces))
        pieces.clear()

    pieces: list[str] = []
    _Writer(indent, flush).write(value, 0, pieces)
    flush(pieces)


__all__ = ["RawJSON", "Stream", "dump_indented", "dumps_indented"]


def canonical(value: Any) -> Any:
    """JSON-ready, with exact numbers as text, for hashing and output."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, Fraction):
        return fraction_json(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def canonical_json(value: Any) -> str:
    """The text whose sha256 is a record's input_sha256 (engine.evaluate.run2.input_sha256)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":"))
