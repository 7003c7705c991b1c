"""The decision log (engine.audit): the same tests on SQLite (a file, WAL mode) and on a real
PostgreSQL server (tests/postgres.py starts a private one; skipped with the reason where it cannot)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import ENGINE_VERSION
from engine.audit.log import DecisionLog, Filter, LogError, default_url, inputs_by_id
from engine.evaluate.pipeline import decide_files2, entities, load_pack, load_pack2
from engine.explain.batch import decide_files
from engine.evaluate.run2 import Runner, subject_of

ROOT = Path(__file__).resolve().parent.parent
TECH_SME = ROOT / "rules" / "tech-sme-evaluation.yaml"
TECH_SME_FIRMS = ROOT / "fixtures" / "tech-sme-firms.yaml"
HUGUAN = ROOT / "rules" / "huguan-specialized-town.yaml"
HUGUAN_TOWNS = ROOT / "fixtures" / "huguan-towns.yaml"
AS_OF = dt.date(2024, 6, 30)


@pytest.fixture(params=["sqlite", "postgresql"])
def log_url(request: Any, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return default_url(tmp_path / "data")
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture
def open_log(log_url: str) -> Any:
    """DecisionLog(url) for the test's database; every log opened is closed after the test (an
    unclosed SQLite connection would be a ResourceWarning in a later test)."""
    opened: list[DecisionLog] = []

    def make(url: str | None = None) -> DecisionLog:
        opened.append(DecisionLog(url or log_url))
        return opened[-1]

    yield make
    for log in opened:
        log.close()


def decided(pack_path: Path = TECH_SME, data: Path = TECH_SME_FIRMS, as_of: dt.date = AS_OF) -> tuple[list, list]:
    pack = load_pack2(str(pack_path), as_of)
    problems: list[Any] = []
    subjects = [subject_of(pack, entity)[0] for entity, _ in entities([str(data)], problems)]
    assert not problems
    return Runner(pack).evaluate(subjects), subjects


def test_a_batch_is_logged_with_what_replay_needs(open_log: Any) -> None:
    records, subjects = decided()
    log = open_log()
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    ids = log.append_batch(records, subjects, who="alice", overrides={"rd_metric": ("--set", "better_of")})
    assert len(ids) == len(records) == log.count() and ids == sorted(ids) and len(set(ids)) == len(ids)
    rows = log.entries()
    assert [r.id for r in rows] == ids
    assert len({r.batch for r in rows}) == 1 and [r.position for r in rows] == list(range(len(records)))
    sha = hashlib.sha256(TECH_SME.read_bytes()).hexdigest()
    for row, record, subject in zip(rows, records, subjects):
        assert (row.pack_id, row.pack_version, row.pack_sha256) == ("tech-sme-evaluation", "1.0.0", sha)
        assert row.engine_version == ENGINE_VERSION and row.engine == "durable"
        assert row.as_of == AS_OF and row.who == "alice"
        assert before <= row.logged_at <= dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        assert row.entity_id == record.entity_id and row.entity_name == record.entity_name
        assert row.outcome == record.outcome.value
        assert row.record == record.as_dict()
        # the stored input is the exact text the record's input hash was taken of
        assert hashlib.sha256(row.input_json.encode()).hexdigest() == row.input_sha256 \
            == record.provenance.input_sha256
        assert row.input == json.loads(json.dumps(dict(subject.fields), default=str))
        assert row.overrides == {"rd_metric": "better_of"}
    # the pack's text is kept once, as it was when decided
    files = log.pack_files(sha)
    assert files == [{"name": TECH_SME.name, "sha256": sha, "text": TECH_SME.read_text(encoding="utf-8")}]
    log.append(records[0], subjects[0], who="bob")
    assert log.count() == len(records) + 1
    log.close()


def test_entries_are_filtered(open_log: Any) -> None:
    records, subjects = decided()
    log = open_log()
    first = log.append_batch(records, subjects, who="alice")
    second = log.append_batch(records[:2], subjects[:2], who="bob")
    outcomes = [r.outcome.value for r in records]
    assert [e.id for e in log.entries(Filter(outcome="pass"))] == \
        [i for i, o in zip(first, outcomes) if o == "pass"] + [i for i, o in zip(second, outcomes) if o == "pass"]
    assert [e.id for e in log.entries(Filter(who="bob"))] == second
    assert [e.id for e in log.entries(Filter(entity_id=records[1].entity_id))] == [first[1], second[1]]
    assert log.count(Filter(pack_id="tech-sme-evaluation")) == len(first) + 2
    assert log.count(Filter(pack_id="another")) == 0
    assert log.count(Filter(as_of=AS_OF)) == len(first) + 2 and log.count(Filter(as_of=dt.date(2020, 1, 1))) == 0
    assert [e.id for e in log.entries(Filter(after_id=first[-1]))] == second
    assert [e.id for e in log.entries(limit=2, newest_first=True)] == second[::-1]
    assert [e.id for e in log.entries(Filter(batch=log.entries(Filter(who="bob"))[0].batch))] == second
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    assert log.count(Filter(since=later)) == 0 and log.count(Filter(until=later)) == len(first) + 2
    # a moment with a time zone is compared in UTC (+08:00: eight hours ahead)
    assert log.count(Filter(since=later.astimezone(dt.timezone(dt.timedelta(hours=8))))) == 0


def test_the_log_is_append_only_in_the_database(open_log: Any) -> None:
    records, subjects = decided()
    log = open_log()
    log.append_batch(records, subjects, who="alice")
    kept = [e.record_json for e in log.entries()]
    statements = ["UPDATE certify_decisions SET outcome = 'pass'", "DELETE FROM certify_decisions",
                  "UPDATE certify_packs SET files = '[]'", "DELETE FROM certify_packs"]
    if log.engine.dialect.name == "postgresql":
        statements += ["TRUNCATE certify_decisions", "TRUNCATE certify_packs"]
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with log.engine.begin() as conn:
                conn.execute(sa.text(statement))
    assert [e.record_json for e in log.entries()] == kept
    assert log.pack_files(records[0].provenance.pack_sha256)


def test_an_input_that_is_not_the_records_is_refused(open_log: Any) -> None:
    records, subjects = decided()
    log = open_log()
    with pytest.raises(ValueError, match="input_sha256"):
        log.append_batch(records, subjects[::-1], who="alice")
    with pytest.raises(ValueError, match="who"):
        log.append(records[0], subjects[0], who=" ")
    assert log.count() == 0


def test_a_pack_changed_on_disk_after_deciding_is_not_stored_as_its_text(open_log: Any, tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    shutil.copy(TECH_SME, pack)
    records, subjects = decided(pack)
    pack.write_text(pack.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    log = open_log()
    log.append_batch(records, subjects, who="alice")
    assert log.count() == len(records)
    assert log.pack_files(records[0].provenance.pack_sha256) is None  # replay says so (E243)


def test_the_log_survives_reopening_and_refuses_another_schema(open_log: Any) -> None:
    records, subjects = decided()
    log = open_log()
    log.append_batch(records, subjects, who="alice")
    log.close()
    again = open_log()
    assert again.count() == len(records)
    with again.engine.begin() as conn:
        conn.execute(sa.text("UPDATE certify_log_meta SET value = '99' WHERE key = 'schema'"))
    again.close()
    with pytest.raises(LogError) as caught:
        open_log()
    assert caught.value.problem.code == "E241" and "99" in caught.value.problem.message


def test_concurrent_writers_lose_nothing(open_log: Any) -> None:
    records, subjects = decided()
    log = open_log()
    got: list[list[int]] = []
    errors: list[BaseException] = []

    def write(who: str) -> None:
        try:
            for _ in range(5):
                got.append(log.append_batch(records, subjects, who=who))
        except BaseException as error:  # reported below, with the thread's name
            errors.append(error)

    threads = [threading.Thread(target=write, args=(f"client{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ids = [i for batch in got for i in batch]
    assert len(ids) == len(set(ids)) == 30 * len(records) == log.count()
    for batch in got:  # each batch's rows stay together and in order
        rows = log.entries(Filter(ids=tuple(batch)))
        assert [r.position for r in rows] == list(range(len(records))) and len({r.batch for r in rows}) == 1


def test_sqlite_is_a_file_in_the_data_folder_in_wal_mode(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("CERTIFY_LOG_URL", raising=False)
    monkeypatch.setenv("CERTIFY_DATA", str(tmp_path / "folder"))
    with DecisionLog() as log, log.engine.connect() as conn:
        assert (tmp_path / "folder" / "decisions.sqlite").is_file()
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    monkeypatch.setenv("CERTIFY_LOG_URL", "sqlite:///" + str(tmp_path / "elsewhere.sqlite"))
    with DecisionLog() as other:
        assert other.url.endswith("elsewhere.sqlite") and (tmp_path / "elsewhere.sqlite").is_file()


@pytest.mark.parametrize("url, says", [
    ("not a url", "cannot be read"),
    ("mysql://u@h/db", "only sqlite and postgresql"),
    ("sqlite://", "must be a file"),
    ("sqlite:///:memory:", "must be a file"),
])
def test_an_unusable_url_is_a_problem(url: str, says: str) -> None:
    with pytest.raises(LogError) as caught:
        DecisionLog(url)
    assert caught.value.problem.code == "E240" and says in caught.value.problem.message
    assert caught.value.problem.message_zh


def test_an_unreachable_server_is_a_problem_with_the_password_hidden(tmp_path: Path) -> None:
    url = f"postgresql://officer:s3cret@/certify?host={tmp_path}&port=5999&connect_timeout=3"
    with pytest.raises(LogError) as caught:
        DecisionLog(url)
    problem = caught.value.problem
    assert problem.code == "E240" and "s3cret" not in problem.message and "s3cret" not in problem.file
    assert "***" in problem.message


def test_a_batch_decided_from_files_is_logged_with_its_inputs_by_id(open_log: Any) -> None:
    """The web app's path: records from decide_files2, inputs read again by id."""
    pack = load_pack2(str(TECH_SME), AS_OF)
    records = list(decide_files2(pack, [str(TECH_SME_FIRMS)]))
    log = open_log()
    assert len(log.append_batch(records, inputs_by_id(pack, [str(TECH_SME_FIRMS)]), who="web")) == len(records)
    assert [e.record for e in log.entries()] == [r.as_dict() for r in records]
    assert {e.format for e in log.entries()} == {2}


def test_format_1_records_are_logged_too(open_log: Any) -> None:
    pack = load_pack(str(HUGUAN), AS_OF, {"manufacturing_output_min": ("--set", "8亿元")})[0]
    records = list(decide_files(pack, [str(HUGUAN_TOWNS)]))
    log = open_log()
    inputs = inputs_by_id(pack, [str(HUGUAN_TOWNS)])
    ids = log.append_batch(records, inputs, who="web", overrides={"manufacturing_output_min": "8亿元"})
    rows = log.entries()
    assert [r.id for r in rows] == ids and {r.format for r in rows} == {1}
    assert [(r.entity_id, r.outcome) for r in rows] == [(d["entity"]["id"], d["outcome"]) for d in records]
    assert rows[0].pack_id == "huguan-specialized-town" and rows[0].overrides == {"manufacturing_output_min": "8亿元"}
    # the whole record, without the fixture's own expectations (_expect: not part of a decision)
    assert "_expect" in records[0]
    assert rows[0].record == json.loads(json.dumps({k: v for k, v in records[0].items() if k != "_expect"},
                                                   ensure_ascii=False, default=str))
    assert log.pack_files(rows[0].pack_sha256)[0]["name"] == HUGUAN.name
    with pytest.raises(ValueError, match="input_sha256"):
        log.append(records[0], inputs[records[1]["entity"]["id"]], who="web")
