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
from click.testing import CliRunner

from cli import main as cli_main

from engine import ENGINE_VERSION
from engine.audit import replay as replay_module
from engine.audit.log import DecisionLog, Filter, LogError, decisions, default_url, inputs_by_id
from engine.audit.replay import replay
from engine.evaluate.pipeline import decide_files2, entities, load_pack, load_pack2
from engine.explain.batch import decide_files
from engine.evaluate.run2 import Runner, subject_of

ROOT = Path(__file__).resolve().parent.parent
TECH_SME = ROOT / "rules" / "tech-sme-evaluation.yaml"
TECH_SME_FIRMS = ROOT / "fixtures" / "tech-sme-firms.yaml"
HUGUAN = ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"
HUGUAN_TOWNS = ROOT / "fixtures" / "huguan-towns.yaml"
YINCHUAN = ROOT / "rules" / "yinchuan-zone-assessment.yaml"  # ranked: a batch is one cohort
YINCHUAN_ZONES = ROOT / "fixtures" / "yinchuan-zones.yaml"
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


# ---------------------------------------------------------------------------------------------
# replay


def _log_all(log: DecisionLog) -> int:
    """Decisions of a plain pack, a ranked (cohort) pack and a format-1 pack (converted on load, as
    every command and the web app now read one), logged as the web app does."""
    count = 0
    for pack_path, data in ((TECH_SME, TECH_SME_FIRMS), (YINCHUAN, YINCHUAN_ZONES), (HUGUAN, HUGUAN_TOWNS)):
        pack = load_pack2(str(pack_path), AS_OF)
        records = list(decide_files2(pack, [str(data)]))
        count += len(log.append_batch(records, inputs_by_id(pack, [str(data)]), who="web"))
    return count


def _log_format1(log: DecisionLog) -> int:
    """Decisions of the format-1 Huguan pack as the retired format-1 pipeline logged them (format-1
    records), as an existing log holds them."""
    pack1 = load_pack(str(HUGUAN), AS_OF)[0]
    records1 = list(decide_files(pack1, [str(HUGUAN_TOWNS)]))
    return len(log.append_batch(records1, inputs_by_id(pack1, [str(HUGUAN_TOWNS)]), who="web"))


def _engine_reads_8yi(monkeypatch: Any) -> None:
    """An engine that now reads the manufacturing threshold as 8亿元 where the pack says 10亿元."""
    real = replay_module.load_pack2
    monkeypatch.setattr(replay_module, "load_pack2", lambda path, as_of, overrides: real(
        path, as_of, {**overrides, "manufacturing_output_min": ("engine", "8亿元")}))


def test_replay_reproduces_every_logged_decision(open_log: Any) -> None:
    log = open_log()
    logged = _log_all(log)
    summary = replay(log)
    assert (summary.total, summary.reproduced, summary.differs, summary.cannot) == (logged, logged, 0, 0)
    assert {r.entry.pack_id for r in summary.results} == {"tech-sme-evaluation", "yinchuan-zone-assessment",
                                                          "huguan-specialized-town"}
    assert summary.line("en").startswith(f"{logged} decision(s) replayed: {logged} reproduced")


def test_replay_of_part_of_a_ranked_batch_decides_the_whole_batch(open_log: Any) -> None:
    log = open_log()
    pack = load_pack2(str(YINCHUAN), AS_OF)
    assert pack.cohort()
    records = list(decide_files2(pack, [str(YINCHUAN_ZONES)]))
    log.append_batch(records, inputs_by_id(pack, [str(YINCHUAN_ZONES)]), who="web")
    last = records[-1].entity_id
    summary = replay(log, Filter(entity_id=last))
    assert [(r.entry.entity_id, r.status) for r in summary.results] == [(last, "reproduced")]
    # decided alone, its rank (and so its record) would not be the logged one: the batch matters
    subject = subject_of(pack, inputs_by_id(pack, [str(YINCHUAN_ZONES)])[last])[0]
    assert Runner(pack).evaluate([subject])[0].as_dict() != records[-1].as_dict()


def test_replay_names_what_no_longer_reproduces(open_log: Any, monkeypatch: Any) -> None:
    log = open_log()
    pack = load_pack2(str(HUGUAN), AS_OF)  # the format-1 pack, converted on load
    log.append_batch(list(decide_files2(pack, [str(HUGUAN_TOWNS)])), inputs_by_id(pack, [str(HUGUAN_TOWNS)]), who="web")
    _engine_reads_8yi(monkeypatch)
    summary = replay(log)
    changed = {r.entry.entity_id: r for r in summary.results if r.status == "differs"}
    assert {"HG05", "HG06"} <= set(changed), summary.line("en")
    hg05 = changed["HG05"]
    assert (hg05.entry.outcome, hg05.outcome_now) == ("fail", "pass")
    assert hg05.problem.code == "E242" and hg05.differences[0] == "outcome: 'fail' -> 'pass'"
    assert "HG05" in hg05.problem.message and hg05.problem.message_zh
    assert summary.differs == len(changed) and summary.reproduced == summary.total - len(changed)


def test_replay_of_format1_records_decides_them_again_and_names_the_outcome_then_and_now(
        open_log: Any, monkeypatch: Any) -> None:
    log = open_log()
    logged = _log_format1(log)
    assert {e.format for e in log.entries()} == {1}
    summary = replay(log)
    # a record of the retired pipeline is never called reproduced: its shape is not written any more
    assert (summary.total, summary.reproduced, summary.differs, summary.cannot) == (logged, 0, 0, logged)
    assert {r.problem.code for r in summary.results} == {"E264"}
    # decided again with the pack converted on load, each has the outcome it had
    assert all(r.outcome_now == r.entry.outcome and r.differences == () for r in summary.results)
    assert "it has the same outcome" in summary.results[0].problem.message
    assert "结果相同" in summary.results[0].problem.message_zh
    # and where the outcome now would differ, it is named
    _engine_reads_8yi(monkeypatch)
    hg05 = {r.entry.entity_id: r for r in replay(log).results}["HG05"]
    assert (hg05.status, hg05.entry.outcome, hg05.outcome_now) == ("cannot", "fail", "pass")
    assert hg05.problem.code == "E264" and hg05.differences == ("outcome: 'fail' -> 'pass'",)
    assert "another outcome: 'fail' -> 'pass'" in hg05.problem.message and "HG05" in hg05.problem.message


def test_replay_says_what_cannot_be_replayed(open_log: Any, tmp_path: Path) -> None:
    log = open_log()
    pack_file = tmp_path / "pack.yaml"
    pack_file.write_text(TECH_SME.read_text(encoding="utf-8") + "# a copy\n", encoding="utf-8")
    pack = load_pack2(str(pack_file), AS_OF)
    records = list(decide_files2(pack, [str(TECH_SME_FIRMS)]))
    inputs = inputs_by_id(pack, [str(TECH_SME_FIRMS)])
    pack_file.write_text(pack_file.read_text(encoding="utf-8") + "# edited after deciding\n", encoding="utf-8")
    log.append_batch(records[:1], inputs, who="web")  # its text is gone: it cannot be replayed
    good = load_pack2(str(TECH_SME), AS_OF)
    good_records = list(decide_files2(good, [str(TECH_SME_FIRMS)]))
    log.append_batch(good_records[:1], inputs_by_id(good, [str(TECH_SME_FIRMS)]), who="web")
    # a row whose stored input is not what its hash says (written around this class: insert only)
    row = dict(log.entries()[-1].__dict__)
    forged = {k: v for k, v in row.items() if k not in ("id", "input_json", "overrides_json", "record_json")}
    forged.update(input=row["input_json"].replace("}", ',"forged":1}', 1), overrides=row["overrides_json"],
                  record=row["record_json"])
    with log.engine.begin() as conn:
        conn.execute(decisions.insert().values(**forged))
    summary = replay(log)
    assert [r.status for r in summary.results] == ["cannot", "reproduced", "cannot"]
    assert [r.problem.code for r in summary.results if r.problem] == ["E243", "E243"]
    assert "not in the log" in summary.results[0].problem.message
    assert "does not match its hash" in summary.results[2].problem.message


# ---------------------------------------------------------------------------------------------
# certify log, certify replay


def certify(*args: Any) -> Any:
    return CliRunner().invoke(cli_main, [str(a) for a in args], catch_exceptions=False)


def test_certify_log_lists_and_filters(open_log: Any, log_url: str) -> None:
    log = open_log()
    logged = _log_all(log)
    everything = certify("log", "--db", log_url, "--lang", "en")
    assert everything.exit_code == 0
    lines = everything.stdout.splitlines()
    assert len(lines) == logged and f"{logged} decision(s) shown ({logged} matching)" in everything.stderr
    assert lines[0].split("\t")[0] == str(log.entries()[0].id) and "\tweb\t" in lines[0]
    failing = certify("log", "--db", log_url, "--outcome", "fail", "--pack", "huguan-specialized-town",
                      "--format", "json")
    doc = json.loads(failing.stdout)
    expected = [e.id for e in log.entries(Filter(outcome="fail", pack_id="huguan-specialized-town"))]
    assert doc["schema"] == "certify.log/1" and [e["id"] for e in doc["entries"]] == expected and expected
    assert all("record" not in e for e in doc["entries"])
    newest = json.loads(certify("log", "--db", log_url, "--limit", 2, "--format", "json", "--records").stdout)
    assert [e["id"] for e in newest["entries"]] == [e.id for e in log.entries()][-2:]
    assert newest["matching"] == logged and newest["entries"][-1]["record"]["id"] == log.entries()[-1].entity_id
    zh = certify("log", "--db", log_url, "--entity", "HG05")
    assert zh.exit_code == 0 and "不通过" in zh.stdout and "共 1 条符合条件" in zh.stderr


@pytest.mark.parametrize("args, code", [
    (["--as-of", "2024-13-01"], "E244"), (["--since", "yesterday"], "E244"), (["--limit", "0"], "E244"),
    (["--db", "mysql://u@h/db"], "E240"),
])
def test_certify_log_and_replay_refuse_what_they_cannot_read(tmp_path: Path, args: list[str], code: str) -> None:
    for command in ("log", "replay"):
        db = [] if "--db" in args else ["--db", default_url(tmp_path)]
        result = certify(command, *db, *args, "--lang", "en")
        assert result.exit_code == 2 and code in result.stderr and "Traceback" not in result.stderr


def test_certify_replay_reports_every_decision_reproduced(open_log: Any, log_url: str) -> None:
    logged = _log_all(open_log())
    result = certify("replay", "--db", log_url, "--lang", "en")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout == "" and f"{logged} decision(s) replayed: {logged} reproduced, 0 differ" in result.stderr
    doc = json.loads(certify("replay", "--db", log_url, "--format", "json", "--pack", "yinchuan-zone-assessment").stdout)
    assert doc["counts"]["replayed"] == doc["counts"]["reproduced"] > 0
    assert {r["status"] for r in doc["results"]} == {"reproduced"}


def test_certify_replay_exits_1_naming_what_differs(open_log: Any, log_url: str, monkeypatch: Any) -> None:
    _log_all(open_log())
    _engine_reads_8yi(monkeypatch)
    result = certify("replay", "--db", log_url, "--lang", "en")
    assert result.exit_code == 1
    assert "E242" in result.stdout and "HG05" in result.stdout and "outcome: 'fail' -> 'pass'" in result.stdout
    assert "differ" in result.stderr


def test_certify_replay_of_format1_records_exits_1_with_e264(open_log: Any, log_url: str) -> None:
    logged = _log_format1(open_log())
    result = certify("replay", "--db", log_url, "--lang", "en")
    assert result.exit_code == 1
    assert result.stdout.count("E264") == logged and "retired format-1 pipeline" in result.stdout
    assert f"{logged} decision(s) replayed: 0 reproduced, 0 differ, {logged} cannot be replayed" in result.stderr
