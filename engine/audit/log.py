"""The decision log: every decision handed out, append-only, in SQLite or PostgreSQL.

    log = DecisionLog()                                   # data/decisions.sqlite (WAL mode)
    log = DecisionLog("postgresql://user@host/certify")   # a shared server (psycopg 3)
    ids = log.append_batch(records, subjects, who="alice")  # one batch: one cohort, in order
    log.append(record, subject, who="api")

Each row keeps what is needed to say later what was decided and to decide it again (`certify
replay`): the pack id, version and sha256 (the pack's text itself is stored once per sha256 in
`certify_packs`), the engine version, the as-of date, the entity's fields as read (the exact
canonical JSON whose sha256 is the record's input_sha256), the parameter overrides, the outcome
and the full record (Record2.as_dict()). Rows of one `append_batch` share a batch id and keep their
order, so a pack whose values read the whole batch (rank, cohort mean) is re-decided as a batch.

Append-only is enforced by the database, not only by this class having no update method: triggers
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on the log's tables.

Times are UTC. Errors opening or writing the log are `LogError` (a ProblemsError with E240/E241),
never a driver's traceback; the URL in a message has its password hidden.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from engine.core.jsontext import canonical, canonical_json
from engine.core.problems import Problem, ProblemsError, clip
from engine.evaluate.pipeline import entities
from engine.evaluate.record2 import Record2
from engine.evaluate.run2 import Subject
from engine.load.entities import RawEntity, ReadOptions

SCHEMA_VERSION = "1"
DEFAULT_FILE = "decisions.sqlite"
DATA_ENV = "CERTIFY_DATA"  # the data folder (default: ./data)
URL_ENV = "CERTIFY_LOG_URL"  # the log's database URL (default: SQLite in the data folder)

metadata = sa.MetaData()
# SQLite makes an INTEGER PRIMARY KEY the rowid (autoincrementing); BIGINT would not be.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

decisions = sa.Table(
    "certify_decisions", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("logged_at", sa.DateTime(), nullable=False),  # UTC
    sa.Column("who", sa.String(200), nullable=False),
    sa.Column("batch", sa.String(36), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),  # order inside the batch
    sa.Column("format", sa.Integer(), nullable=False),  # the pack's format: 1 or 2
    sa.Column("pack_id", sa.String(200), nullable=False),
    sa.Column("pack_version", sa.String(64), nullable=False),
    sa.Column("pack_sha256", sa.String(64), nullable=False),
    sa.Column("pack_file", sa.Text(), nullable=False),
    sa.Column("engine_version", sa.String(64), nullable=False),
    sa.Column("engine", sa.String(32), nullable=False),  # durable | reference
    sa.Column("as_of", sa.Date(), nullable=False),
    sa.Column("entity_id", sa.Text(), nullable=False),
    sa.Column("entity_name", sa.Text()),
    sa.Column("input_sha256", sa.String(64), nullable=False),
    # the canonical JSON text whose sha256 is input_sha256: format 2 the fields as read, format 1
    # {"id", "name", "fields"} (engine.explain.records.input_hash)
    sa.Column("input", sa.Text(), nullable=False),
    sa.Column("overrides", sa.Text(), nullable=False),  # JSON {parameter or choice: value as written}
    sa.Column("outcome", sa.String(20)),  # pass | fail | undetermined | NULL (no decision criterion)
    sa.Column("record", sa.Text(), nullable=False),  # JSON: Record2.as_dict(), or format 1's record
)
sa.Index("certify_decisions_pack", decisions.c.pack_id, decisions.c.as_of)
sa.Index("certify_decisions_entity", decisions.c.entity_id)
sa.Index("certify_decisions_time", decisions.c.logged_at)
sa.Index("certify_decisions_batch", decisions.c.batch, decisions.c.position)

packs = sa.Table(
    "certify_packs", metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),  # the record's pack_sha256
    sa.Column("pack_id", sa.String(200), nullable=False),
    sa.Column("pack_version", sa.String(64), nullable=False),
    sa.Column("files", sa.Text(), nullable=False),  # JSON [{"name", "sha256", "text"}], the pack first
    sa.Column("logged_at", sa.DateTime(), nullable=False),
)

log_meta = sa.Table(
    "certify_log_meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
)

APPEND_ONLY = (decisions.name, packs.name)
_PG_LOCK = 0x63657274  # advisory lock held while the schema is created ("cert")


class LogError(ProblemsError):
    """The log cannot be opened or written: one problem (E240, E241) saying why."""

    @property
    def problem(self) -> Problem:
        return self.problems[0]


def _problem(where: str, code: str, en: str, zh: str) -> LogError:
    return LogError([Problem(where, 1, 1, code, en, message_zh=zh)])


def data_folder() -> Path:
    return Path(os.environ.get(DATA_ENV) or "data")


def default_url(data_dir: str | os.PathLike[str] | None = None) -> str:
    """$CERTIFY_LOG_URL, else SQLite in the data folder (data_dir, else $CERTIFY_DATA, else ./data)."""
    if data_dir is None and os.environ.get(URL_ENV):
        return os.environ[URL_ENV]
    folder = Path(data_dir) if data_dir is not None else data_folder()
    return URL.create("sqlite", database=str(folder.resolve() / DEFAULT_FILE)).render_as_string()


def shown_url(url: str | URL) -> str:
    """A URL for a message: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return clip(str(url), 80)


@dataclass(frozen=True)
class LogEntry:
    """One logged decision. `record` and `input` are the stored JSON, parsed on demand."""

    id: int
    logged_at: dt.datetime
    who: str
    batch: str
    position: int
    format: int
    pack_id: str
    pack_version: str
    pack_sha256: str
    pack_file: str
    engine_version: str
    engine: str
    as_of: dt.date
    entity_id: str
    entity_name: str | None
    input_sha256: str
    outcome: str | None
    input_json: str
    overrides_json: str
    record_json: str

    @property
    def record(self) -> dict[str, Any]:
        return json.loads(self.record_json)

    @property
    def input(self) -> dict[str, Any]:
        return json.loads(self.input_json)

    @property
    def overrides(self) -> dict[str, Any]:
        return json.loads(self.overrides_json)

    def summary(self) -> dict[str, Any]:
        """The row without the stored JSON texts (what `certify log --format json` lists)."""
        return {"id": self.id, "logged_at": self.logged_at.isoformat() + "Z", "who": self.who, "batch": self.batch,
                "position": self.position, "format": self.format, "pack_id": self.pack_id, "pack_version": self.pack_version,
                "pack_sha256": self.pack_sha256, "pack_file": self.pack_file, "engine_version": self.engine_version,
                "engine": self.engine, "as_of": self.as_of.isoformat(), "entity_id": self.entity_id,
                "entity_name": self.entity_name, "input_sha256": self.input_sha256, "outcome": self.outcome,
                "overrides": self.overrides}


@dataclass(frozen=True)
class Filter:
    """Which entries `DecisionLog.entries` returns (every given condition must hold)."""

    pack_id: str | None = None
    entity_id: str | None = None
    outcome: str | None = None
    who: str | None = None
    as_of: dt.date | None = None
    since: dt.datetime | None = None  # logged at or after (UTC)
    until: dt.datetime | None = None  # logged before (UTC)
    batch: str | None = None
    after_id: int | None = None  # entries with a larger id (paging)
    ids: tuple[int, ...] | None = None


Decided = Record2 | Mapping[str, Any]  # a format-2 record (or its as_dict()), or a format-1 record dict
Input = Subject | RawEntity | Mapping[str, Any]


@dataclass(frozen=True)
class _Facts:
    """What a row says about one decision, whichever format it was made in."""

    format: int
    entity_id: str
    entity_name: str | None
    outcome: str | None
    pack_id: str
    pack_version: str
    pack_sha256: str
    pack_file: str
    pack_files: tuple[tuple[str, str], ...]  # (file, sha256) of each file of the pack, the pack first
    engine_version: str
    engine: str
    as_of: str
    input_sha256: str
    record: dict[str, Any]


def _facts(record: Decided) -> _Facts:
    if isinstance(record, Record2):
        record = record.as_dict()
    if not isinstance(record, Mapping):
        raise TypeError(f"a decision record is a Record2 or a record dict, not {type(record).__name__}")
    record = dict(record)
    if record.get("format") == 2:
        prov = record["provenance"]
        decided_by = {c.get("decided_by") for c in record.get("criteria", [])}
        files = tuple(tuple(f) for f in prov.get("pack_files") or ()) or ((prov["pack_file"], prov["pack_sha256"]),)
        return _Facts(2, str(record["id"]), record.get("name"), record.get("outcome"), prov["pack_id"],
                      prov["pack_version"], prov["pack_sha256"], prov["pack_file"], files,  # type: ignore[arg-type]
                      prov["engine_version"], "reference" if "reference" in decided_by else "durable",
                      prov["as_of"], prov["input_sha256"], record)
    if "entity" in record and "record" in record:  # format 1 (engine.explain.records)
        prov, entity = record["record"], record["entity"]
        engine = "reference" if str(prov.get("decided_by", "")).startswith("reference") else "durable"
        return _Facts(1, str(entity["id"]), entity.get("name"), record.get("outcome"), prov["pack"],
                      prov["pack_version"], prov["pack_sha256"], prov["pack_file"],
                      ((prov["pack_file"], prov["pack_sha256"]),), prov["engine_version"], engine, prov["as_of"],
                      prov["input_sha256"], {k: v for k, v in record.items() if not k.startswith("_")})
    raise TypeError("not a decision record: neither format 2 (format: 2, provenance) nor format 1 (entity, record)")


def _input_text(facts: _Facts, given: Input) -> str:
    """The canonical JSON of an entity's input whose sha256 the record carries."""
    if isinstance(given, Subject):
        fields, name = (given.fields or given.values), given.name
    elif isinstance(given, RawEntity):
        fields, name = given.fields, given.name
    elif isinstance(given, Mapping):
        fields, name = given, facts.entity_name
    else:
        raise TypeError(f"an entity's input is a Subject, a RawEntity or its fields, not {type(given).__name__}")
    if facts.format == 2:
        return canonical_json(fields)
    # format 1 hashes the id and name with the fields (engine.explain.records.input_hash)
    return json.dumps(canonical({"id": facts.entity_id, "name": name, "fields": dict(fields)}), sort_keys=True,
                      ensure_ascii=False, separators=(",", ":"))


def _override_values(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """{name: value} from either plain values or parse_overrides' {name: (origin, value)}."""
    out = {}
    for name, value in (overrides or {}).items():
        if isinstance(value, tuple) and len(value) == 2:
            value = value[1]
        out[str(name)] = value
    return out


def _pack_files(listed: Iterable[tuple[str, str]]) -> list[dict[str, str]] | None:
    """The pack's files (the chain of pack.extends, the pack first) as they were when it was
    decided, or None when a file is gone or has changed since (its sha256 no longer matches)."""
    out = []
    for file, sha in listed:
        try:
            raw = Path(file).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(raw).hexdigest() != sha:
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        # pack.extends names a file in the same folder (E205), so the name is enough to rebuild it
        out.append({"name": os.path.basename(file), "sha256": sha, "text": text})
    return out


def inputs_by_id(pack: Any, files: Iterable[str]) -> dict[str, RawEntity]:
    """The entities of data files by id, as the readers read them for `pack` (format 1 or 2): the
    inputs to log with records of a batch decided from those files (problems are the batch's own
    business and are not repeated here)."""
    return {entity.id: entity for entity, _ in entities(files, [], ReadOptions(pack=pack))}


class DecisionLog:
    """The decision log at `url` (default: `default_url()`); the tables are created if missing.

    Safe to share between threads (one SQLAlchemy engine, a pool of connections); several
    processes may write the same SQLite file (WAL mode, a busy timeout) or PostgreSQL database.
    """

    def __init__(self, url: str | None = None, *, data_dir: str | os.PathLike[str] | None = None):
        self.url = url or default_url(data_dir)
        self.shown = shown_url(self.url)
        self.engine = self._connect(self.url)
        self._stored_packs: set[str] = set()
        self._lock = threading.Lock()
        self._create_schema()

    # -- opening

    def _fail(self, code: str, en: str, zh: str) -> LogError:
        return _problem(self.shown, code, en, zh)

    def _connect(self, url: str) -> Engine:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise self._fail("E240", f"the decision log URL {self.shown} cannot be read; write sqlite:///PATH or "
                             "postgresql://USER@HOST/DB", f"无法读取判定日志地址 {self.shown}；请写成 sqlite:///路径 或 "
                             "postgresql://用户@主机/数据库")
        backend = parsed.get_backend_name()
        try:
            if backend == "sqlite":
                database = parsed.database or ""
                if database in ("", ":memory:") or database.startswith("file:"):
                    raise self._fail("E240", "the decision log must be a file (sqlite:///PATH); an in-memory log "
                                     "would be lost", "判定日志必须保存在文件中（sqlite:///路径）；内存中的日志会丢失")
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                engine = sa.create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
                sa.event.listen(engine, "connect", _sqlite_pragmas)
                return engine
            if backend == "postgresql":
                if parsed.drivername == "postgresql":
                    parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver in the lock
                return sa.create_engine(parsed, pool_pre_ping=True)
        except (NoSuchModuleError, ArgumentError, OSError) as error:
            raise self._fail("E240", f"the decision log {self.shown} cannot be opened: {clip(error)}",
                             f"无法打开判定日志 {self.shown}：{clip(error)}")
        raise self._fail("E240", f"the decision log {self.shown}: only sqlite and postgresql databases are supported",
                         f"判定日志 {self.shown}：只支持 sqlite 和 postgresql 数据库")

    def _create_schema(self) -> None:
        try:
            with self.engine.begin() as conn:
                postgres = conn.dialect.name == "postgresql"
                if postgres:  # two servers starting at once must not both create the tables
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
                metadata.create_all(conn, checkfirst=True)
                found = conn.execute(sa.select(log_meta.c.value).where(log_meta.c.key == "schema")).scalar()
                if found is None:
                    conn.execute(log_meta.insert().values(key="schema", value=SCHEMA_VERSION))
                elif found != SCHEMA_VERSION:
                    raise self._fail("E241", f"the decision log {self.shown} has schema version {clip(found, 20)}; "
                                     f"this engine writes version {SCHEMA_VERSION}",
                                     f"判定日志 {self.shown} 的结构版本是 {clip(found, 20)}，本程序使用版本 {SCHEMA_VERSION}")
                for table in APPEND_ONLY:
                    for statement in (_pg_triggers(conn, table) if postgres else _sqlite_triggers(table)):
                        conn.execute(sa.text(statement))
        except LogError:
            self.engine.dispose()
            raise
        except SQLAlchemyError as error:
            self.engine.dispose()
            raise self._fail("E240", f"the decision log {self.shown} cannot be opened: {clip(_cause(error))}",
                             f"无法打开判定日志 {self.shown}：{clip(_cause(error))}")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- writing

    def append(self, record: Decided, input: Input, *, who: str, overrides: Mapping[str, Any] | None = None) -> int:
        """Log one decision handed out; returns its log id. See `append_batch`."""
        return self.append_batch([record], [input], who=who, overrides=overrides)[0]

    def append_batch(self, records: Sequence[Decided], inputs: Sequence[Input] | Mapping[str, Input], *, who: str,
                     overrides: Mapping[str, Any] | None = None) -> list[int]:
        """Log the decisions of one batch (decided together, in this order); returns their ids.

        `records`: format-2 Record2s (or their as_dict()), or format-1 record dicts. `inputs`: each
        record's input — its Subject (engine.evaluate.run2), RawEntity (engine.load), or fields
        as read — in the same order, or a mapping from entity id to it (`inputs_by_id`). Each must
        hash to its record's input_sha256. `overrides`: the --set values the pack was compiled
        with ({name: value} or parse_overrides' {name: (origin, value)}). `who`: whom the
        decisions were handed to.

        Raises ValueError when an input does not belong to its record (a caller's mistake: the log
        could not replay it), LogError (E240) when the database refuses the write.
        """
        facts = [_facts(r) for r in records]
        if isinstance(inputs, Mapping):
            missing = [f.entity_id for f in facts if f.entity_id not in inputs]
            if missing:
                raise ValueError(f"no input given for entity {missing[0]!r}")
            inputs = [inputs[f.entity_id] for f in facts]
        inputs = list(inputs)
        if len(facts) != len(inputs):
            raise ValueError(f"{len(facts)} records but {len(inputs)} inputs")
        if not facts:
            return []
        if not who or not who.strip():
            raise ValueError("who: the person or client the decisions were handed to is required")
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        batch = str(uuid.uuid4())
        written = canonical_json(_override_values(overrides))
        rows, new_packs = [], {}
        for position, (f, given) in enumerate(zip(facts, inputs)):
            text = _input_text(f, given)
            if hashlib.sha256(text.encode("utf-8")).hexdigest() != f.input_sha256:
                raise ValueError(f"entity {f.entity_id!r}: the input given is not the one its record was "
                                 "decided from (input_sha256 differs)")
            rows.append({
                "logged_at": now, "who": who.strip()[:200], "batch": batch, "position": position, "format": f.format,
                "pack_id": f.pack_id, "pack_version": f.pack_version, "pack_sha256": f.pack_sha256,
                "pack_file": f.pack_file, "engine_version": f.engine_version, "engine": f.engine,
                "as_of": dt.date.fromisoformat(f.as_of), "entity_id": f.entity_id, "entity_name": f.entity_name,
                "input_sha256": f.input_sha256, "input": text, "overrides": written, "outcome": f.outcome,
                "record": json.dumps(f.record, ensure_ascii=False, separators=(",", ":"), default=str),
            })
            if f.pack_sha256 not in self._stored_packs and f.pack_sha256 not in new_packs:
                files = _pack_files(f.pack_files)
                if files is not None:
                    new_packs[f.pack_sha256] = {"sha256": f.pack_sha256, "pack_id": f.pack_id,
                                                "pack_version": f.pack_version, "logged_at": now,
                                                "files": json.dumps(files, ensure_ascii=False)}
        try:
            with self.engine.begin() as conn:
                for row in new_packs.values():
                    conn.execute(_insert_ignore(conn, packs, row))
                result = conn.execute(decisions.insert().returning(decisions.c.id, sort_by_parameter_order=True),
                                      rows)
                ids = [row[0] for row in result]
        except SQLAlchemyError as error:
            raise self._fail("E240", f"the decision log {self.shown} refused the write: {clip(_cause(error))}",
                             f"判定日志 {self.shown} 写入失败：{clip(_cause(error))}")
        with self._lock:
            self._stored_packs.update(new_packs)
        return ids

    # -- reading

    def entries(self, where: Filter | None = None, limit: int | None = None, newest_first: bool = False) -> list[LogEntry]:
        query = sa.select(decisions).where(*_conditions(where or Filter()))
        query = query.order_by(decisions.c.id.desc() if newest_first else decisions.c.id)
        if limit is not None:
            query = query.limit(limit)
        try:
            with self.engine.connect() as conn:
                return [_entry(row) for row in conn.execute(query)]
        except SQLAlchemyError as error:
            raise self._fail("E240", f"the decision log {self.shown} cannot be read: {clip(_cause(error))}",
                             f"无法读取判定日志 {self.shown}：{clip(_cause(error))}")

    def count(self, where: Filter | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(decisions).where(*_conditions(where or Filter()))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def pack_files(self, sha256: str) -> list[dict[str, str]] | None:
        """The files of the pack with this sha256 as they were when first logged, or None."""
        with self.engine.connect() as conn:
            text = conn.execute(sa.select(packs.c.files).where(packs.c.sha256 == sha256)).scalar()
        return json.loads(text) if text is not None else None


def _conditions(f: Filter) -> list[Any]:
    c = decisions.c
    out = []
    for column, value in ((c.pack_id, f.pack_id), (c.entity_id, f.entity_id), (c.outcome, f.outcome),
                          (c.who, f.who), (c.as_of, f.as_of), (c.batch, f.batch)):
        if value is not None:
            out.append(column == value)
    if f.since is not None:
        out.append(c.logged_at >= _utc(f.since))
    if f.until is not None:
        out.append(c.logged_at < _utc(f.until))
    if f.after_id is not None:
        out.append(c.id > f.after_id)
    if f.ids is not None:
        out.append(c.id.in_(list(f.ids)))
    return out


def _utc(moment: dt.datetime) -> dt.datetime:
    """Naive UTC, as stored (a naive moment is taken to be UTC already)."""
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def _entry(row: Any) -> LogEntry:
    m = row._mapping
    return LogEntry(id=int(m["id"]), logged_at=m["logged_at"], who=m["who"], batch=m["batch"], position=m["position"], format=m["format"],
                    pack_id=m["pack_id"], pack_version=m["pack_version"], pack_sha256=m["pack_sha256"],
                    pack_file=m["pack_file"], engine_version=m["engine_version"], engine=m["engine"],
                    as_of=m["as_of"], entity_id=m["entity_id"], entity_name=m["entity_name"],
                    input_sha256=m["input_sha256"], outcome=m["outcome"], input_json=m["input"],
                    overrides_json=m["overrides"], record_json=m["record"])


def _cause(error: SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's statement and parameters (they hold records)."""
    orig = getattr(error, "orig", None)
    return str(orig).strip().splitlines()[0] if orig is not None and str(orig).strip() else type(error).__name__


def _insert_ignore(conn: Any, table: sa.Table, row: Mapping[str, Any]) -> Any:
    """INSERT that does nothing when the primary key is already there (the pack was logged before)."""
    dialect = pg_dialect if conn.dialect.name == "postgresql" else sqlite_dialect
    return dialect.insert(table).values(**row).on_conflict_do_nothing()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer (certify log while serving)
    cursor.execute("PRAGMA busy_timeout=30000")  # writers from several processes wait their turn
    cursor.close()


def _sqlite_triggers(table: str) -> list[str]:
    return [f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END" for verb in ("UPDATE", "DELETE")]


def _pg_triggers(conn: Any, table: str) -> list[str]:
    out = ["CREATE OR REPLACE FUNCTION certify_append_only() RETURNS trigger LANGUAGE plpgsql AS "
           "$$ BEGIN RAISE EXCEPTION 'the decision log is append-only'; END $$"]
    for name, when in ((f"{table}_no_change", "BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW"),
                       (f"{table}_no_truncate", "BEFORE TRUNCATE ON {t} FOR EACH STATEMENT")):
        exists = conn.execute(sa.text("SELECT 1 FROM pg_trigger WHERE tgname = :n"), {"n": name}).scalar()
        if not exists:
            out.append(f"CREATE TRIGGER {name} {when.format(t=table)} EXECUTE FUNCTION certify_append_only()")
    return out
