"""Clause text from a pack's source document, for reports that quote what a citation says.

A pack's `pack.source.seed` names the policy text (a plain-text file in `../shared/seeds/`
relative to the repository root). A citation such as `二(四)` means: within the section whose
heading starts "二、", the paragraph that starts "(四)". A bare `二` is the section heading and
its opening paragraph. When the file or the clause is not there, there is simply no text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

_NUMERAL = "一二三四五六七八九十百零〇"
_SECTION = re.compile(rf"^\s*([{_NUMERAL}]+)、")
_PARAGRAPH = re.compile(rf"^\s*[(（]([{_NUMERAL}]+)[)）]")
_CITE = re.compile(rf"^\s*([{_NUMERAL}]+)\s*(?:[(（]([{_NUMERAL}]+)[)）])?")
MAX_SOURCE_BYTES = 8 * 1024 * 1024


def find_source(pack_file: str, seed: str | None, search: Iterable[str] = ()) -> Path | None:
    """The source document named by `seed`: in `search` folders, else `shared/seeds/` beside an
    ancestor of the pack's folder (the repository root's `../shared/seeds/`), else None."""
    if not seed or Path(seed).name != seed or seed in (".", ".."):
        return None  # a plain file name only: never a path out of the seeds folder
    folders = [Path(s) for s in search]
    start = Path(pack_file).resolve().parent
    for ancestor in [start, *start.parents]:
        folders.append(ancestor / "shared" / "seeds")
    for folder in folders:
        candidate = folder / seed
        if candidate.is_file():
            return candidate
    return None


def parse_clauses(text: str) -> dict[str, str]:
    """Every section ("二") and paragraph ("二(四)") of a policy text, keyed by citation."""
    out: dict[str, str] = {}
    section: str | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        head = _SECTION.match(line)
        if head:
            section = head.group(1)
            out.setdefault(section, line)
            continue
        if section is None:
            continue
        para = _PARAGRAPH.match(line)
        if para:
            out.setdefault(f"{section}({para.group(1)})", line)
        elif out.get(section) and "\n" not in out[section] and f"{section}(一)" not in out:
            out[section] = out[section] + "\n" + line  # the section's opening paragraph
    return out


def clause_text(clauses: dict[str, str], cite: str | None) -> str | None:
    """The text for a citation such as 二(四), 二（四）, 二 — or None."""
    if not cite:
        return None
    m = _CITE.match(cite)
    if not m:
        return None
    key = m.group(1) + (f"({m.group(2)})" if m.group(2) else "")
    return clauses.get(key)


def load_clauses(pack_file: str, seed: str | None, search: Iterable[str] = ()) -> dict[str, str]:
    """Clauses of the pack's source document; empty when it cannot be found or read."""
    path = find_source(pack_file, seed, search)
    if path is None:
        return {}
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SOURCE_BYTES)
    except OSError:
        return {}
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return parse_clauses(raw.decode(encoding))
        except UnicodeDecodeError:
            continue
    return {}


def clauses_for(records: Iterable[dict], clauses: dict[str, str]) -> dict[str, str]:
    """Only the clauses the records cite (what a report embeds)."""
    out: dict[str, str] = {}
    for rec in records:
        cites = [c.get("cite") for c in rec.get("criteria", [])] + [f.get("cite") for f in rec.get("flags", [])]
        for cite in cites:
            text = clause_text(clauses, cite)
            if cite and text:
                out[cite] = text
    return out
