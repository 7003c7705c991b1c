"""`certify explain RECORDS --rules PACK`: compact decision records (`certify evaluate --trace
compact`) expanded to the full JSON document `certify evaluate --format json` writes for the same
batch, byte for byte. The pack is compiled as the records say it was (as-of date, overrides) and
must have the sha256 they name (E255); nothing is decided again. The document is read and the
full one written one record at a time (engine.report.compact `CompactDocument`)."""

from __future__ import annotations

import datetime as dt
import itertools
import sys
from typing import Any, Iterator

from engine.commands.common import overrides, pack2, show_problems, stop
from engine.core.files import STDOUT, check_output, open_output
from engine.core.problems import Problem
from engine.report.compact import CompactDocument, Static2, write_expanded2

# The schema of compact records the retired format-1 pipeline wrote (refused with E264).
FORMAT1_COMPACT_SCHEMA = "certify.evaluation.compact/1"


def _refuse(path: str, code: str, en: str, zh: str, lang: str, exit_code: str = "usage") -> None:
    show_problems([Problem(path, 1, 1, code, en, message_zh=zh)], lang)
    stop(exit_code)


def _open(path: str, lang: str) -> Any:
    try:
        return sys.stdin if path == STDOUT else open(path, encoding="utf-8")
    except OSError as error:
        _refuse(path, "E256", f"cannot read compact records: {error.strerror}", f"无法读取紧凑判定记录：{error.strerror}", lang)


def run_explain(records: str, pack_path: str, sets: tuple[str, ...], output: str | None, lang: str) -> int:
    check_output(output)
    handle = _open(records, lang)
    with handle:
        try:
            doc = CompactDocument(handle)
            decisions = doc.decisions()
            first = next(decisions, None)
        except (ValueError, UnicodeDecodeError) as error:
            _refuse(records, "E256", f"cannot read compact records: {error}", f"无法读取紧凑判定记录：{error}", lang)
        if not doc.is_compact():
            _refuse(records, "E256", "not a document of compact decision records "
                    "(certify evaluate --format json --trace compact)",
                    "不是紧凑判定记录文件（请用 certify evaluate --format json --trace compact 生成）", lang)
        if doc.schema == FORMAT1_COMPACT_SCHEMA:
            # the format-1 pipeline that wrote these records (and their full view) is retired
            _refuse(records, "E264", "these compact records were written by the format-1 pipeline, which is retired: "
                    "they cannot be expanded any more; decide the batch again (certify evaluate --format json "
                    "--trace compact) to get records this version expands",
                    "这些紧凑判定记录由已停用的格式 1 流程写出，无法再展开；请重新判定（certify evaluate --format json "
                    "--trace compact）以得到本版本可展开的记录", lang, "bad_pack")
        pack = _pack(first, pack_path, sets, lang)
        stream = _checked(itertools.chain([first] if first is not None else [], decisions), pack.sha256,
                          records, pack_path, lang)
        with open_output(output) as out:
            write_expanded2(stream, doc.rest, Static2(pack), out)
    return 0


def _pack(first: Any, pack_path: str, sets: tuple[str, ...], lang: str) -> Any:
    """The pack compiled as the records say it was: as-of date and choices set (its parameter
    overrides are given again with --set)."""
    prov = first["provenance"] if first else {}
    date = dt.date.fromisoformat(prov.get("as_of", dt.date.today().isoformat()))
    table = overrides(sets, (), lang)
    for choice in (first["choices"] if first else []):
        if choice["source"] != "default":
            table[choice["name"]] = (choice["source"], choice["option"])
    return pack2(pack_path, date, table, lang)


def _checked(decisions: Iterator[Any], sha256: str, records: str, pack_path: str, lang: str) -> Iterator[Any]:
    """Every record, refused (E255) when it names another pack than the one given."""
    for d in decisions:
        named = d["provenance"]["pack_sha256"]
        if named != sha256:
            _refuse(records, "E255", f"the records name the pack with sha256 {named[:12]}…; {pack_path} has sha256 "
                    f"{sha256[:12]}…: expand them with the pack that decided them",
                    f"记录所指规则包的 sha256 为 {named[:12]}…，而 {pack_path} 的 sha256 为 {sha256[:12]}…："
                    "请用判定时的规则包展开", lang, "bad_pack")
        yield d
