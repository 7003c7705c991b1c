"""Batches the pages decided, kept in the data folder so that they survive a restart of the server.

A batch is kept as what it was decided from, not as its (large) output: the data as uploaded, the
pack's text (every file of its `pack.extends` chain), the as-of date and the overrides, and the
sha256 of the answer the officer was shown (the evaluation document, with the folders it was read
from taken out). After a restart a batch is decided again from these on first use (its page shows
the progress meanwhile) and checked against that sha256: a batch that would not come out the same
(another engine version decides differently) is refused with E245 and never shown changed. These
decisions are not logged again: they were logged when they were handed out; deciding them again
hands nothing new out.

Bounded: at most `kept` batches, at most `max_bytes` on disk together, none older than `max_age`;
the oldest go first, checked at start and whenever a batch is kept. A batch id names a file only
after it has been checked to be one this server makes (BATCH_ID), so a request can never name a
path. The folder is created readable by its owner only: uploads hold the entities' own figures.

Layout: `<data folder>/batches/<id>.json` (what it was decided from, and the pack texts) and
`<id>.data` (the upload's bytes), both written to a temporary name first and then renamed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = "certify.batch/1"
BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{16}$")  # secrets.token_urlsafe(12)
KEPT = 50
MAX_BYTES = 512 * 1024 * 1024
MAX_AGE = dt.timedelta(days=7)


def document_sha256(document: dict[str, Any], folders: list[str]) -> str:
    """The answer's hash, the folders it was read from taken out (a batch decided again after a
    restart reads the same pack from the same folder, or its kept text from a private one)."""
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, default=str)
    for folder in sorted(folders, key=len, reverse=True):
        text = text.replace(json.dumps(folder.rstrip(os.sep) + os.sep, ensure_ascii=False)[1:-1], "")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Kept:
    """A kept batch's description (the `<id>.json` file)."""

    id: str
    created: dt.datetime
    pack_id: str
    pack_file: str
    pack_sha256: str
    pack_files: list[dict[str, str]]  # [{name, sha256, text}], the pack first, then its bases
    as_of: dt.date
    overrides: dict[str, Any]
    data_name: str
    what_it_takes: bool
    document_sha256: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "id": self.id, "created": self.created.isoformat(), "pack_id": self.pack_id,
                "pack_file": self.pack_file, "pack_sha256": self.pack_sha256, "pack_files": self.pack_files,
                "as_of": self.as_of.isoformat(), "overrides": self.overrides, "data_name": self.data_name,
                "what_it_takes": self.what_it_takes, "document_sha256": self.document_sha256, "size": self.size}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "Kept":
        if doc.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} file")
        return cls(id=str(doc["id"]), created=dt.datetime.fromisoformat(doc["created"]), pack_id=str(doc["pack_id"]),
                   pack_file=str(doc["pack_file"]), pack_sha256=str(doc["pack_sha256"]),
                   pack_files=[{k: str(v) for k, v in f.items()} for f in doc["pack_files"]],
                   as_of=dt.date.fromisoformat(doc["as_of"]), overrides=dict(doc["overrides"]),
                   data_name=str(doc["data_name"]), what_it_takes=bool(doc["what_it_takes"]),
                   document_sha256=str(doc["document_sha256"]), size=int(doc["size"]))


class BatchStore:
    """The kept batches of one data folder."""

    def __init__(self, data_dir: str | os.PathLike[str], kept: int = KEPT, max_bytes: int = MAX_BYTES,
                 max_age: dt.timedelta = MAX_AGE):
        self.folder = Path(data_dir).resolve() / "batches"
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.kept, self.max_bytes, self.max_age = kept, max_bytes, max_age
        self._lock = threading.Lock()
        self.expire()

    def _paths(self, ident: str) -> tuple[Path, Path] | None:
        if not BATCH_ID.match(ident):
            return None
        return self.folder / f"{ident}.json", self.folder / f"{ident}.data"

    def _write(self, path: Path, data: bytes) -> None:
        handle, temporary = tempfile.mkstemp(prefix=".kept-", dir=self.folder)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise

    def keep(self, kept: Kept, data: bytes) -> None:
        paths = self._paths(kept.id)
        if paths is None:
            raise ValueError(f"not a batch id: {kept.id!r}")
        described, stored = paths
        with self._lock:
            self._write(stored, data)  # the data first: a description is never left without its data
            self._write(described, json.dumps(kept.as_dict(), ensure_ascii=False).encode("utf-8"))
        self.expire()

    def get(self, ident: str) -> tuple[Kept, bytes] | None:
        """The batch's description and data, or None (no such batch, expired, or unreadable)."""
        paths = self._paths(ident)
        if paths is None:
            return None
        described, stored = paths
        try:
            kept = Kept.from_dict(json.loads(described.read_text(encoding="utf-8")))
            data = stored.read_bytes()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if kept.id != ident or self._too_old(kept):
            return None
        return kept, data

    def _too_old(self, kept: Kept) -> bool:
        return dt.datetime.now(dt.timezone.utc) - kept.created > self.max_age

    def listed(self) -> list[Kept]:
        """Every kept batch, newest first (unreadable ones left out)."""
        out = []
        for path in self.folder.glob("*.json"):
            try:
                kept = Kept.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if kept.id == path.stem:
                out.append(kept)
        return sorted(out, key=lambda k: k.created, reverse=True)

    def latest_for(self, pack_id: str) -> tuple[Kept, bytes] | None:
        for kept in self.listed():
            if kept.pack_id == pack_id:
                return self.get(kept.id)
        return None

    def expire(self) -> list[str]:
        """Remove what is past the bounds (oldest first); the ids removed."""
        removed = []
        with self._lock:
            total = 0
            for index, kept in enumerate(self.listed()):
                total += kept.size
                if index >= self.kept or total > self.max_bytes or self._too_old(kept):
                    self._remove(kept.id)
                    removed.append(kept.id)
            # leftovers: a data file without its description (a write cut short, or one in progress
            # in another server on this folder: only when it is an hour old), a temporary file
            described = {p.stem for p in self.folder.glob("*.json")}
            an_hour_ago = dt.datetime.now().timestamp() - 3600
            for path in self.folder.iterdir():
                leftover = (path.suffix == ".data" and path.stem not in described) or path.name.startswith(".kept-")
                try:
                    if leftover and path.stat().st_mtime < an_hour_ago:
                        path.unlink(missing_ok=True)
                except OSError:
                    continue
        return removed

    def _remove(self, ident: str) -> None:
        paths = self._paths(ident)
        if paths is not None:
            for path in paths:
                path.unlink(missing_ok=True)
