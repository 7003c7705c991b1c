"""`--cluster local | tcp://host:8786` for `certify evaluate`: the Dask cluster a batch is decided on
(engine.evaluate.cluster), opened for the command and closed after it; its errors (E260-E263) shown
as problems and turned into exit codes.

`local` starts a LocalCluster on this machine: one worker process (one thread) per CPU, or
`--workers N` of them (N ≥ 2, capped at the CPUs available). An address (tcp://, tls://) uses the
workers of a running scheduler and ignores --workers. The output is the same either way as
in one process (README "Deciding on a Dask cluster", docs/scale.md)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from engine.commands.common import UsageError, say, show_problems, stop
from engine.evaluate.cluster import LOCAL, ClusterError, ClusterPool, valid_address
from engine.evaluate.pipeline import available_cpus, worker_count


@contextmanager
def cluster_pool(address: str | None, workers: int, lang: str) -> Iterator[ClusterPool | None]:
    """The cluster named by --cluster (None without it), closed when the command ends. A cluster that
    cannot be reached ends the command with exit 2 (nothing decided); one that loses the run
    midway, or runs another engine version, with exit 5."""
    if address is None:
        yield None
        return
    if not valid_address(address):
        raise UsageError(f"{address!r} is neither 'local' nor a scheduler address such as tcp://host:8786",
                         param_hint="--cluster")
    if address == LOCAL:
        processes = worker_count(workers)[0] if workers > 1 else available_cpus()
    else:
        processes = 0
        if workers != 1:
            say(f"注意: 使用 --cluster {address} 时忽略 --workers（由集群的工作进程判定）" if lang == "zh" else
                f"note: --workers is ignored with --cluster {address} (the cluster's own workers decide)")
    try:
        with ClusterPool(address, processes) as pool:
            yield pool
    except ClusterError as error:
        show_problems([error.problem], lang)
        stop("usage" if error.problem.code == "E260" else "engine")
