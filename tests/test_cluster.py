"""`certify evaluate --cluster`: a batch decided on a real Dask LocalCluster (worker processes, one
thread each) gives the same bytes as one process, in every output format and for both pack formats,
bad rows reported the same; a worker killed mid-run loses and duplicates nothing.

Kept small for CI on a 2-CPU machine: one LocalCluster of 2 worker processes for the module (the
commands dial it as `tcp://…`), one `--cluster local` run that starts its own, a few dozen entities.
No test waits on a clock: the worker is killed from inside, by a worker plugin, at the moment it
starts a chosen partition.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import zipfile
from pathlib import Path
from typing import Any

import dask
import pytest
import yaml
from click.testing import CliRunner
from distributed import Client, LocalCluster, WorkerPlugin

from cli import main
from engine.evaluate import cluster as cluster_module
from engine.evaluate.cluster import PARTITION_KEY, QUIET_LOCAL, ClusterPool

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2024-12-31"
HUGUAN = (ROOT / "rules" / "huguan-specialized-town.yaml", ROOT / "fixtures" / "huguan-towns.csv",
          ROOT / "fixtures" / "huguan-bad-rows.csv")
# The format-1 original (tests/format1/) reads the same files: the cluster serves both formats
HUGUAN1 = (ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml",) + HUGUAN[1:]
TECH_SME = (ROOT / "rules" / "tech-sme-evaluation.yaml", ROOT / "fixtures" / "tech-sme-firms.yaml")


@pytest.fixture(scope="module")
def scheduler() -> Any:
    """The address of a LocalCluster of 2 worker processes (one thread each), as a deployment would
    give one; the Client is the test's own handle on it (plugins, worker pids)."""
    # allowed-failures 1 (read by the scheduler when it starts): a partition is given to another
    # worker after its first worker died, and lost (E262) when that one dies too
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, silence_logs=logging.ERROR,
                         **QUIET_LOCAL) as local, Client(local) as client:
        yield local.scheduler_address, client


@pytest.fixture
def small_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    # a few entities per partition, so that a small batch is many Dask tasks (in flight at once,
    # finished out of order) and a killed worker takes some of them with it
    monkeypatch.setattr(cluster_module, "PARTITION_SIZE", 3)


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def evaluate(pack: Path, data: tuple[Path, ...], *extra: str | Path) -> Any:
    return run("evaluate", "--rules", pack, *data, "--as-of", AS_OF, *extra)


def _workbook_parts(path: Path) -> dict[str, bytes]:
    """Every part of an .xlsx, but the creation and modification times openpyxl stamps into
    docProps/core.xml (two single-process runs differ there too)."""
    with zipfile.ZipFile(path) as book:
        return {name: book.read(name) for name in book.namelist() if name != "docProps/core.xml"}


@pytest.mark.parametrize("fmt", ["text", "json", "csv", "xlsx"])
@pytest.mark.parametrize("pack,data", [(HUGUAN[0], HUGUAN[1:]), (HUGUAN1[0], HUGUAN1[1:]), (TECH_SME[0], TECH_SME[1:])],
                         ids=["huguan-with-bad-rows", "huguan-format-1-with-bad-rows", "tech-sme"])
def test_the_cluster_gives_the_bytes_of_one_process(scheduler, small_partitions, tmp_path: Path, fmt: str,
                                                     pack: Path, data: tuple[Path, ...]) -> None:
    address, _ = scheduler
    outputs = []
    for extra in ((), ("--cluster", address)):
        out = tmp_path / f"out-{len(extra)}.{fmt}"
        result = evaluate(pack, data, "--format", fmt, "-o", out, *extra)
        outputs.append((result.exit_code, result.stderr, out))
    (code_one, err_one, one), (code_many, err_many, many) = outputs
    assert code_many == code_one and err_many == err_one  # bad rows reported the same, same counts line
    if fmt == "xlsx":
        assert _workbook_parts(many) == _workbook_parts(one)
    else:
        assert many.read_bytes() == one.read_bytes() and len(one.read_bytes()) > 300  # not an empty output
    if pack in (HUGUAN[0], HUGUAN1[0]):
        assert code_one == 3 and "E131" in err_one  # the bad rows are there to be reported


@pytest.mark.parametrize("pack,data", [(HUGUAN1[0], HUGUAN1[1:]), (TECH_SME[0], TECH_SME[1:])], ids=["format-1", "format-2"])
def test_compact_traces_are_the_same_on_the_cluster(scheduler, small_partitions, tmp_path: Path, pack: Path,
                                                    data: tuple[Path, ...]) -> None:
    # --trace compact is made where each entity is decided (format 1: the workers' explainer)
    address, _ = scheduler
    one, many = tmp_path / "one.json", tmp_path / "many.json"
    single = evaluate(pack, data, "--format", "json", "--trace", "compact", "-o", one)
    cluster = evaluate(pack, data, "--format", "json", "--trace", "compact", "-o", many, "--cluster", address)
    assert cluster.exit_code == single.exit_code and cluster.stderr == single.stderr
    assert many.read_bytes() == one.read_bytes() and b'"certify.evaluation.compact/' in one.read_bytes()


@pytest.mark.parametrize("pack,data", [(HUGUAN1[0], HUGUAN1[1:2]), (TECH_SME[0], TECH_SME[1:])], ids=["format-1", "format-2"])
def test_what_it_takes_is_the_same_on_the_cluster(scheduler, small_partitions, pack: Path, data: tuple[Path, ...]) -> None:
    # computed on the worker that decided the entity (format 1: the explainer; format 2: annotate)
    one = evaluate(pack, data, "--format", "json", "--what-it-takes")
    many = evaluate(pack, data, "--format", "json", "--what-it-takes", "--cluster", scheduler[0])
    assert many.exit_code == one.exit_code and many.stdout_bytes == one.stdout_bytes
    assert "what_it_takes" in one.stdout


def test_cluster_local_starts_its_own_cluster(tmp_path: Path) -> None:
    pack, data = TECH_SME[0], TECH_SME[1:]
    one = evaluate(pack, data, "--format", "json")
    local = evaluate(pack, data, "--format", "json", "--cluster", "local", "--workers", "2")
    assert local.exit_code == one.exit_code == 0
    assert local.stdout_bytes == one.stdout_bytes and local.stderr == one.stderr
    assert len(json.loads(one.stdout)["decisions"]) >= 5


class KillAtPartition(WorkerPlugin):
    """Kills the worker process that starts partition `index` of a run, once (the marker file is
    created atomically by the one worker that does it, with its pid)."""

    name = "certify-test-kill"

    def __init__(self, marker: str, index: int):
        self.marker = marker
        self.index = index

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != "executing" or not (str(key).startswith(PARTITION_KEY)
                                         and str(key).endswith(f"-{self.index}")):
            return
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:  # killed once already: a retry of the partition must be decided
            return
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)


def _firms(tmp_path: Path, copies: int) -> Path:
    """The tech-sme fixture's firms, `copies` times over with ids of their own, as a JSON data file,
    with one bad value (reported, decided as missing) and one duplicate id (refused)."""
    doc = yaml.safe_load((ROOT / "fixtures" / "tech-sme-firms.yaml").read_text(encoding="utf-8"))
    firms = [{k: v for k, v in firm.items() if k != "expect"} for firm in doc["entities"]]
    rows = [dict(firms[i % len(firms)], id=f"F{i:04d}") for i in range(copies * len(firms))]
    rows[7]["total_staff"] = "十二人"
    rows.append(dict(rows[11]))
    path = tmp_path / "firms.json"
    path.write_text(json.dumps({"entities": rows}, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(scheduler, small_partitions, tmp_path: Path) -> None:
    address, client = scheduler
    data = _firms(tmp_path, 6)  # 36 firms + a duplicate: 12 partitions of 3
    one = evaluate(TECH_SME[0], (data,), "--format", "json")
    marker = tmp_path / "killed"
    client.register_plugin(KillAtPartition(str(marker), 5))
    try:
        many = evaluate(TECH_SME[0], (data,), "--format", "json", "--cluster", address)
    finally:
        client.unregister_worker_plugin(KillAtPartition.name)
    assert marker.exists(), "no worker was killed: the test did not test a failure"
    killed = int(marker.read_text())
    assert killed not in client.run(os.getpid).values()  # that process is gone (its nanny may start another)
    assert many.exit_code == one.exit_code == 3  # the bad value and the duplicate id
    assert many.stdout_bytes == one.stdout_bytes and many.stderr == one.stderr
    ids = [d["id"] for d in json.loads(many.stdout)["decisions"]]
    assert ids == [f"F{i:04d}" for i in range(36)]  # each once, in input order
    assert "E132" in many.stderr and "十二人" in many.stderr


def test_an_address_nothing_listens_on_is_e260_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", "1s")  # Dask dials again until then
    result = evaluate(TECH_SME[0], TECH_SME[1:], "--cluster", "tcp://127.0.0.1:9", "--format", "json")
    assert result.exit_code == 2 and "E260" in result.stderr and result.stdout == ""


def test_a_cluster_that_is_not_an_address_is_a_usage_error() -> None:
    result = evaluate(TECH_SME[0], TECH_SME[1:], "--cluster", "somewhere")
    assert result.exit_code == 2 and "--cluster" in result.stderr


def test_a_worker_with_another_engine_version_is_e261(scheduler, monkeypatch: pytest.MonkeyPatch) -> None:
    address, _ = scheduler
    # the parent claims a version no worker runs (what a stale container image looks like)
    monkeypatch.setattr(cluster_module, "ENGINE_VERSION", "0.0.0-other")
    pool = ClusterPool(address)
    try:
        with pytest.raises(cluster_module.ClusterError) as raised:
            list(pool.ordered(dict, (), _echo, [[1]]))
    finally:
        pool.close()
    assert raised.value.problem.code == "E261" and "0.0.0-other" in raised.value.problem.message


def _echo(state: Any, chunk: list[Any]) -> Any:
    return chunk


# Last in the module: it kills both workers of the module's cluster (their nannies start new ones).
def test_a_partition_that_kills_every_worker_it_meets_stops_the_run_with_e262(scheduler) -> None:
    address, _ = scheduler
    pool = ClusterPool(address)
    try:
        with pytest.raises(cluster_module.ClusterError) as raised:
            list(pool.ordered(dict, (), _die, [[1]]))
    finally:
        pool.close()
    assert raised.value.problem.code == "E262" and "lost with every worker" in raised.value.problem.message


def _die(state: Any, chunk: list[Any]) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)
