"""Deciding a batch on a Dask cluster (`certify evaluate --cluster local | tcp://host:8786`).

The only module that imports dask / distributed (pyproject.toml's import-linter contract "dask").
The parent process reads the data files as it always does (rows refused, duplicate ids and their
problems are found there, exactly as in one process) and cuts the entities into partitions; each
partition is one Dask task. The results are taken back in input order, so the output is the same,
byte for byte, as a single-process run.

On the workers. The stage's setup arguments (the compiled pack, the engine, …) are sent to the
cluster once (`scatter`, a copy on every worker) and each worker process builds its state from them
once per run (`setup`: the durable sessions, the explainer): one durable session per process, the
pack compiled once per process, however many partitions it decides. durable-rules must not be used
from two threads at once, so a worker with several threads decides one partition at a time (a
lock); give workers one thread each (`--nthreads 1`) and more processes instead.

A worker that dies mid-run (killed, out of memory, its machine gone) loses nothing and duplicates
nothing: the scheduler gives its unfinished partitions to another worker, and the parent keeps
exactly one result per partition (a result is a value returned by a task, never a side effect on
the worker). A partition whose worker died `distributed.scheduler.allowed-failures` times (3 by
default) stops the run with E262: something in it kills workers.

A worker must run the same engine as the parent (the same install, or the same container image):
each worker checks ENGINE_VERSION before deciding (E261).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import uuid
from collections import OrderedDict, deque
from typing import Any, Callable, Iterable, Iterator, TypeVar

from engine import ENGINE_VERSION
from engine.core.problems import EngineError, Problem

LOCAL = "local"
PARTITION_SIZE = 256  # entities per Dask task (tens to hundreds of ms of work: Dask's overhead is ~1 ms a task)
PARTITION_KEY = "certify-partition"  # task keys are f"{PARTITION_KEY}-{run}-{index}" (tests kill one by its key)
_IN_FLIGHT_PER_THREAD = 3  # partitions queued per worker thread: enough to keep it busy, memory bounded
CONNECT_TIMEOUT = "20s"  # to reach a scheduler (Dask retries a refused connection until then)
# No dashboard, and the scheduler's HTTP routes on a free port: on 8787 (the default even without a
# dashboard) a second cluster on the machine would warn on stderr that the port is taken.
# The Dask settings a LocalCluster's workers get (the nanny passes them on to the processes it
# starts; README says how to set them on a deployment):
# - Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536. Setting it at all turns off glibc's
#   sliding mmap threshold, so every allocation over 128 KiB is a fresh mmap: a worker deciding
#   2,000 Huguan towns took 1.16 million page faults and 3-4x the CPU time of the same loop in a
#   plain process (6.3 s against 2.0 s; 6,400 faults once unset). None unsets it.
# - No statistical profiler (a thread sampling the deciding thread every 10 ms, for a dashboard
#   that is not started).
WORKER_CONFIG: dict[str, Any] = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                                 "distributed.worker.profile.enabled": False}
QUIET_LOCAL: dict[str, Any] = {"dashboard_address": None,
                               "scheduler_kwargs": {"dashboard": False, "dashboard_address": ":0"}}

State = TypeVar("State")


class ClusterError(EngineError):
    """The cluster cannot be used or lost the run (E260-E263); carries the problem to show."""

    def __init__(self, address: str, code: str, message: str, message_zh: str):
        self.problem = Problem("--cluster", 1, 1, code, f"{address}: {message}", message_zh=f"{address}：{message_zh}")
        super().__init__(f"{code} {address}: {message}")


class EngineMismatch(Exception):
    """Raised on a worker whose engine is not the parent's (pickled back to the parent: E261)."""


# ---------------------------------------------------------------------------------------------
# On a worker process


_STATES: OrderedDict[str, Any] = OrderedDict()  # run token -> the state its setup built, in this process
_KEEP_RUNS = 2  # a long-lived worker serves run after run: keep the states of the last few only
_LOCK = threading.Lock()  # durable-rules is not thread-safe: one partition at a time per process


def _partition(run: str, version: str, setup: Callable[..., Any], args: tuple[Any, ...],
               work: Callable[[Any, list[Any]], Any], chunk: list[Any]) -> Any:
    """One partition decided on a worker, with this process's state for the run (built once)."""
    if version != ENGINE_VERSION:
        raise EngineMismatch(f"the worker runs certify {ENGINE_VERSION}, the parent {version}")
    with _LOCK:
        state = _STATES.get(run)
        if state is None:
            state = _STATES[run] = setup(*args)
            while len(_STATES) > _KEEP_RUNS:
                _STATES.popitem(last=False)
        return work(state, chunk)


# ---------------------------------------------------------------------------------------------
# In the parent


def valid_address(address: str) -> bool:
    """`local`, or a scheduler address Dask can dial (tcp://, tls://, ucx://, inproc://)."""
    return address == LOCAL or "://" in address


class ClusterPool:
    """A Dask cluster to decide partitions on: `local` (a LocalCluster of `workers` processes, one
    thread each) or the address of a running scheduler. Connects on first use, so a batch that is
    never sent to it (a pack that is refused, a ranked batch decided in one process) starts nothing."""

    def __init__(self, address: str, workers: int = 0, partition_size: int | None = None):
        self.address = address
        self.workers = workers
        self.partition_size = partition_size or PARTITION_SIZE
        self._cluster: Any = None  # distributed.LocalCluster
        self._client: Any = None  # distributed.Client

    def __enter__(self) -> ClusterPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def client(self) -> Any:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        # import here: dask and distributed take a quarter of a second or more to import, which every
        # certify command would pay at start; only a --cluster run does
        import dask
        from distributed import Client, LocalCluster

        try:
            if self.address == LOCAL:
                # processes (durable-rules is per process), one thread each; none of Dask's own log
                # lines (a failure reaches the command as an exception: E260-E263); see WORKER_CONFIG
                with dask.config.set(WORKER_CONFIG):
                    self._cluster = LocalCluster(n_workers=self.workers or None, threads_per_worker=1,
                                                 processes=True, silence_logs=logging.CRITICAL, **QUIET_LOCAL)
                return Client(self._cluster)
            return Client(self.address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError, RuntimeError) as error:  # RuntimeError: a worker failed to start
            self.close()
            raise ClusterError(self.address, "E260", f"cannot start or reach the Dask cluster: {error}",
                               f"无法启动或连接 Dask 集群：{error}") from error

    def ordered(self, setup: Callable[..., State], args: tuple[Any, ...], work: Callable[[State, list[Any]], Any],
                chunks: Iterable[list[Any]]) -> Iterator[Any]:
        """`work(state, chunk)` for every chunk, on the cluster, yielded in the order of `chunks`;
        `state` is `setup(*args)`, built once per worker process. At most a few partitions per
        worker thread are in flight: the input is not read ahead of the cluster, memory stays flat."""
        client = self.client()
        run = uuid.uuid4().hex
        try:
            # one copy of the pack per worker, not one per partition; hash=False: a key of its own
            [shared] = client.scatter([args], broadcast=True, hash=False)  # a list: one future for the tuple
        except (OSError, TimeoutError) as error:
            raise self._lost(error) from error
        limit = max(2, _IN_FLIGHT_PER_THREAD * sum(client.nthreads().values()))
        pending: deque[Any] = deque()
        try:
            for index, chunk in enumerate(chunks):
                pending.append(client.submit(_partition, run, ENGINE_VERSION, setup, shared, work, chunk,
                                             key=f"{PARTITION_KEY}-{run}-{index}", pure=False))
                while len(pending) >= limit:
                    yield self._result(pending.popleft())
            while pending:
                yield self._result(pending.popleft())
        finally:
            for future in pending:  # a run stopped early (an error, a closed generator) leaves no work behind
                future.cancel()
            shared.release()

    def _result(self, future: Any) -> Any:
        from distributed import KilledWorker  # import here: see _connect (already imported by then)

        try:
            return future.result()
        except KilledWorker as error:
            raise ClusterError(self.address, "E262",
                               f"a partition was lost with every worker that took it ({error}); "
                               "nothing after it was decided",
                               f"有一个分区每次分给的工作进程都中途退出（{error}）；其后的对象未判定") from error
        except EngineMismatch as error:
            raise ClusterError(self.address, "E261", f"{error}; install the same certify on every worker",
                               f"工作进程的 certify 版本与本机不同（{error}）；请在每个工作进程安装相同版本") from error
        except (concurrent.futures.CancelledError, OSError, TimeoutError) as error:
            raise self._lost(error) from error

    def _lost(self, error: BaseException) -> ClusterError:
        return ClusterError(self.address, "E263", f"the cluster lost the run ({type(error).__name__}: {error}); "
                            "nothing after it was decided",
                            f"集群中断了本次运行（{type(error).__name__}: {error}）；其后的对象未判定")
