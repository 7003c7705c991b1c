"""Outputs written safely (engine/core/files.py) and the command line's streams, counts and exit
codes: `-` for stdin and stdout, targets that are not regular files, the folder checked before
any work, a full disk, concurrent runs, SIGINT/SIGTERM, --workers capped, git option injection."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.core.files import OutputError, atomic_path, check_output, open_output
from engine.evaluate.pipeline import RowCounts, load_pack, sniff_format, worker_count
from engine.explain.batch import decide_files

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"
TOWNS = ROOT / "fixtures" / "huguan-towns.yaml"
BAD_ROWS = ROOT / "fixtures" / "huguan-bad-rows.csv"
AS_OF = "2024-06-30"


def run(*args: str | Path, input: bytes | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def evaluate(*extra: str | Path, data: tuple[str | Path, ...] = (TOWNS,), input: bytes | None = None):
    return run("evaluate", "--rules", PACK, *data, "--as-of", AS_OF, *extra, input=input)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".partial", ".tmp")))


# ---------------------------------------------------------------------------- streams


def test_dash_output_is_standard_output_not_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = evaluate("--format", "json", "-o", "-")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["decided"] == 27
    assert not (tmp_path / "-").exists()


def test_json_stdout_is_only_json_and_counts_go_to_stderr():
    result = evaluate("--format", "json", data=(TOWNS, BAD_ROWS))
    doc = json.loads(result.stdout)  # nothing else on stdout
    assert doc["counts"]["read"] == doc["counts"]["decided"] == 32 and doc["counts"]["refused"] == 0
    assert "32 行读取, 32 行已判定, 0 行被拒" in result.stderr
    assert result.exit_code == 3  # two rows have bad values (decided with them unknown)


@pytest.mark.parametrize("given", [None, "csv"])
def test_dash_data_reads_standard_input(given):
    extra = ("--input-format", given) if given else ()
    result = evaluate("--format", "json", *extra, data=("-",), input=BAD_ROWS.read_bytes())
    doc = json.loads(result.stdout)
    assert [d["id"] for d in doc["decisions"]] == ["HB01", "HB02", "HB03", "HB04", "HB05"]
    assert doc["decisions"][0]["where"] == "-:2"  # named -, not a temporary path
    assert all(p["file"] == "-" for p in doc["problems"])
    assert result.exit_code == 3


def test_dash_data_yaml_is_sniffed():
    result = evaluate("--format", "json", data=("-",), input=TOWNS.read_bytes())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["decided"] == 27


def test_sniffing():
    assert sniff_format(b"PK\x03\x04rest") == "xlsx"
    assert sniff_format(b'\xef\xbb\xbf  [{"id": 1}]') == "json"
    assert sniff_format(b"id,name,lead_output\nA,b,1\n") == "csv"
    assert sniff_format(b"entities:\n  - id: A\n") == "yaml"
    assert sniff_format(b"- {id: A, name: b}\n") == "yaml"


def test_as_of_default_warns_with_the_date():
    result = run("evaluate", "--rules", PACK, TOWNS, "--format", "json")
    json.loads(result.stdout)
    assert "--as-of" in result.stderr and time.strftime("%Y-%m-%d") in result.stderr
    given = evaluate("--format", "json")
    assert "--as-of" not in given.stderr


def test_workers_capped_at_the_cpus_with_a_warning():
    n, capped = worker_count(10_000)
    assert capped and n == len(os.sched_getaffinity(0))
    assert worker_count(1) == (1, False)
    assert worker_count(0) == (n, False)
    result = evaluate("--format", "json", "--workers", "10000")
    assert result.exit_code == 0
    assert "--workers 10000" in result.stderr


# ---------------------------------------------------------------------------- counts


def test_refused_rows_are_counted_and_exit_3(tmp_path):
    data = tmp_path / "towns.csv"
    data.write_text("id,name,lead_output\nA1,甲,12亿元\nA1,乙,3亿元\n,丙,1亿元\nA3,丁,1亿元,extra\nA4,戊,2亿元\n",
                    encoding="utf-8")
    result = evaluate("--format", "json", data=(data,))
    doc = json.loads(result.stdout)
    assert doc["counts"]["read"] == 5
    assert doc["counts"]["decided"] == 2  # A1 and A4
    assert doc["counts"]["refused"] == 3  # the duplicate id, the row without id, the row with an extra cell
    assert sum(1 for p in doc["problems"] if p.get("refused_row")) == 3
    assert "5 行读取, 2 行已判定, 3 行被拒 (见上)" in result.stderr
    assert result.exit_code == 3


def test_row_counts_add_up_in_the_library():
    pack, _ = load_pack(str(PACK), __import__("datetime").date(2024, 6, 30))
    counts = RowCounts()
    records = list(decide_files(pack, [str(TOWNS), str(TOWNS)], "reference", [], counts=counts))
    assert len(records) == 27
    assert (counts.read, counts.decided, counts.refused) == (54, 27, 27)  # the second file repeats every id
    assert counts.line("en") == "54 rows read, 27 decided, 27 refused (see above)"


def test_score_counts_in_json():
    result = run("score", "--rules", ROOT / "tests" / "format1" / "rules" / "yangzhou-zone-evaluation.yaml",
                 ROOT / "fixtures" / "yangzhou-zones.yaml", "--as-of", "2024-12-31", "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["counts"]["read"] == doc["counts"]["decided"] > 0 and doc["counts"]["refused"] == 0
    assert "行读取" in result.stderr


# ---------------------------------------------------------------------------- targets


def test_missing_output_folder_fails_before_any_work(tmp_path):
    target = tmp_path / "no-such-folder" / "out.json"
    result = evaluate("--format", "json", "-o", target)
    assert result.exit_code == 2
    assert "E170" in result.stderr
    assert "行读取" not in result.stderr  # nothing was read or decided


@pytest.mark.parametrize("command", [
    ("score", "--rules", ROOT / "tests" / "format1" / "rules" / "yangzhou-zone-evaluation.yaml", ROOT / "fixtures" / "yangzhou-zones.yaml"),
    ("report", "--rules", PACK, TOWNS),
    ("diff", PACK, PACK, "--data", TOWNS),
    ("schema",),
    ("test", ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.tests.yaml", "--junit"),
])
def test_every_writer_checks_the_folder_first(tmp_path, command):
    target = tmp_path / "missing" / "out"
    args = list(command) + ([target] if command[-1] == "--junit" else ["-o", target])
    result = run(*args, "--as-of", AS_OF) if command[0] in ("score", "report", "diff") else run(*args)
    assert result.exit_code == 2 and "E170" in result.stderr, result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any folder")
def test_read_only_output_folder_fails_before_any_work(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    result = evaluate("--format", "json", "-o", folder / "out.json")
    assert result.exit_code == 2 and "E171" in result.stderr


def test_a_folder_as_target_is_refused(tmp_path):
    result = evaluate("-o", tmp_path)
    assert result.exit_code == 2 and "E172" in result.stderr


def test_fifo_is_written_through_not_replaced(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = evaluate("--format", "json", "-o", fifo)
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO
    assert json.loads(received[0])["counts"]["decided"] == 27
    assert leftovers(tmp_path) == []


def test_character_device_is_written_through_not_replaced(tmp_path):
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own, in tmp
    except (PermissionError, OSError):
        pytest.skip("cannot make a device node here")
    result = evaluate("--format", "json", "-o", node)
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert leftovers(tmp_path) == []


def test_symlink_target_is_replaced_and_the_link_kept(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    result = evaluate("--format", "json", "-o", link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text(encoding="utf-8"))["counts"]["decided"] == 27


def test_full_device_is_a_clear_error():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    result = evaluate("--format", "json", "-o", "/dev/full")
    assert result.exit_code == 2
    assert "E173" in result.stderr and "Traceback" not in result.output


def test_write_error_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(OutputError) as caught:
        with open_output(str(target)) as handle:
            handle.write("new")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert caught.value.problem.code == "E173"
    assert target.read_text(encoding="utf-8") == "old"
    assert leftovers(tmp_path) == []


def test_atomic_path_is_unique_and_keeps_permissions(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    with atomic_path(str(target)) as first, atomic_path(str(target)) as second:
        assert first != second  # two writers never share a temporary file
        Path(first).write_text("one", encoding="utf-8")
        Path(second).write_text("two", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "one"  # the last rename wins, each file whole
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_check_output_accepts_stdout_and_new_names(tmp_path):
    check_output(None)
    check_output("-")
    check_output(str(tmp_path / "new.json"))
    with pytest.raises(OutputError):
        check_output(str(tmp_path / "missing" / "new.json"))


def test_schema_and_junit_written_atomically(tmp_path):
    schema = tmp_path / "schema.json"
    assert run("schema", "-o", schema).exit_code == 0
    json.loads(schema.read_text(encoding="utf-8"))
    junit = tmp_path / "junit.xml"
    result = run("test", ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.tests.yaml", "--junit", junit)
    assert result.exit_code == 0, result.output
    assert junit.read_text(encoding="utf-8").startswith("<?xml")
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------- git


def test_git_revision_that_is_an_option_is_refused(tmp_path):
    written = tmp_path / "x"
    result = run("diff", "--data", TOWNS, "--as-of", AS_OF, "--",
                 f"--output={written}:rules/huguan-specialized-town.yaml", PACK)
    assert result.exit_code == 2
    assert "E174" in result.output
    assert not written.exists()


def test_git_never_reads_a_revision_as_an_option(tmp_path):
    from engine.commands.diff_common import DiffSourceError, read_version

    written = tmp_path / "y"
    with pytest.raises(DiffSourceError) as caught:
        read_version(f"--output={written}:rules/huguan-specialized-town.yaml", str(tmp_path), cwd=str(ROOT))
    assert caught.value.code == "E174"
    assert not written.exists()


# ---------------------------------------------------------------------------- processes


def _cli(*args: str | Path, cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), *[str(a) for a in args]], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _big_csv(folder: Path, rows: int) -> Path:
    path = folder / "towns.csv"
    with open(path, "w", encoding="utf-8") as out:
        out.write("id,name,lead_category,lead_output,supporting_firms\n")
        for i in range(rows):
            out.write(f"T{i},镇{i},manufacturing,{i % 20}亿元,{i % 50}\n")
    return path


def test_concurrent_runs_to_one_target_leave_a_complete_file(tmp_path):
    target = tmp_path / "out.json"
    data = _big_csv(tmp_path, 2_000)
    runs = [_cli("evaluate", "--rules", PACK, data, "--as-of", AS_OF, "--format", "json", "-o", target,
                 "--engine", "reference", cwd=tmp_path) for _ in range(3)]
    for process in runs:
        process.communicate(timeout=600)
        assert process.returncode == 0
    doc = json.loads(target.read_text(encoding="utf-8"))  # whole, whichever run renamed last
    assert doc["counts"]["decided"] == 2_000
    assert leftovers(tmp_path) == []


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found += [int(c) for c in text.split()]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_run_removes_the_temporary_file_and_stops_workers(tmp_path, sig, code):
    target = tmp_path / "out.json"
    target.write_text('{"old": true}', encoding="utf-8")
    data = _big_csv(tmp_path, 200_000)
    process = _cli("evaluate", "--rules", PACK, data, "--as-of", AS_OF, "--format", "json", "-o", target,
                   "--workers", "2", cwd=tmp_path)
    deadline = time.monotonic() + 300  # a hang guard, not a speed check
    while not leftovers(tmp_path) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    while len(_children(process.pid)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # until the worker processes have started
    assert process.poll() is None, "the run ended before it could be interrupted"
    workers = _children(process.pid)
    assert len(workers) >= 2
    process.send_signal(sig)
    out, err = process.communicate(timeout=120)
    assert process.returncode == code, err.decode()
    assert b"Traceback" not in err
    assert leftovers(tmp_path) == []
    assert target.read_text(encoding="utf-8") == '{"old": true}'  # the old file, untouched
    time.sleep(0.5)
    assert not [w for w in workers if _alive(w)]
