"""Where points run: in this process, or on Dask distributed worker processes.

Both runners take chains of points (see :mod:`planner.sweeps.points`) and report each outcome as
it arrives. The Dask runner submits one task per point and the next point of a chain only when the
previous one is done, preferring the worker that holds the chain's model (Dask keeps the worker's
process-local model cache warm); a worker whose chain is done takes over the second half of the
longest chain still queued. Faults stay bounded: a task that raises, or whose worker dies, gives
that point an ``error`` outcome and the chain goes on.

Worker processes are spawned, never forked (a fork after HiGHS has run in the parent can hang).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Protocol

from planner.schema import Problem
from planner.sweeps.points import Point
from planner.sweeps.worker import Outcome, RunOptions, error_outcome, forget, run_point

Record = Callable[[Point, Outcome], None]


class Runner(Protocol):
    slots: int
    description: str

    def run(self, problem: Problem, chains: list[list[Point]], options: RunOptions, record: Record) -> None: ...

    def __enter__(self) -> Runner: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None: ...


def make_runner(workers: int, scheduler: Any, threads: int | None) -> Runner:
    """A serial runner for ``workers == 0`` without a scheduler, else a Dask runner."""
    if scheduler is None and workers == 0:
        return SerialRunner(threads)
    return DaskRunner(workers, scheduler, threads)


class SerialRunner:
    """Every point in this process, one chain after the other, on one model."""

    slots = 1
    description = "this process"

    def __init__(self, threads: int | None) -> None:
        self.threads = threads
        self.sweep_id = uuid.uuid4().hex

    def __enter__(self) -> SerialRunner:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        forget(self.sweep_id)

    def run(self, problem: Problem, chains: list[list[Point]], options: RunOptions, record: Record) -> None:
        options = _with_threads(options, self.threads)
        for chain in chains:
            for point in chain:
                record(point, run_point(self.sweep_id, problem, point, options))


def _with_threads(options: RunOptions, threads: int | None) -> RunOptions:
    return dataclasses.replace(options, threads=threads)


CONNECT_TIMEOUT_SECONDS = 120.0
LOCAL_CLUSTER_CONFIG = {
    # A point that kills its worker fails at once: a retry would kill the next worker too.
    "distributed.scheduler.allowed-failures": 0,
    # Never fork a process in which HiGHS may have run.
    "distributed.worker.multiprocessing-method": "spawn",
    # A worker's statistical profiler samples its stack every 10 ms and the system monitor polls the
    # process every 0.5 s; with one worker per core they take that CPU from the solver (measured: the
    # busiest worker of a 2-worker sweep did the same points in about 8% less CPU without them).
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "5s",
}


def start_local_cluster(workers: int) -> Any:
    """A ``distributed.LocalCluster`` set up for sweeps: ``workers`` spawned processes of one thread."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        # No dashboard; the scheduler's HTTP endpoints on any free port (8787 may be another cluster's).
        return LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True, dashboard_address=None,
                            scheduler_kwargs={"dashboard_address": ":0"}, silence_logs=logging.ERROR)


@contextlib.contextmanager
def local_cluster(workers: int | None = None) -> Iterator[Any]:
    """A local cluster for several sweeps: ``with local_cluster(4) as client: sweep(..., scheduler=client)``.

    ``workers`` defaults to one per CPU core. Yields a ``distributed.Client``; closes both on exit.
    """
    from distributed import Client

    cluster = start_local_cluster(workers or default_workers())
    try:
        with Client(cluster, set_as_default=False) as client:
            yield client
    finally:
        cluster.close()


def default_workers() -> int:
    """One worker per CPU core this process may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores)


class DaskRunner:
    """Points on Dask: a local cluster of single-threaded worker processes, or an existing cluster."""

    def __init__(self, workers: int, scheduler: Any, threads: int | None) -> None:
        self.workers = workers
        self.scheduler = scheduler
        self.threads = threads or 1
        self.sweep_id = uuid.uuid4().hex
        self.slots = max(workers, 1)
        self.description = ""
        self._client: Any = None
        self._cluster: Any = None
        self._owns_client = False

    def __enter__(self) -> DaskRunner:
        from distributed import Client

        if isinstance(self.scheduler, Client):
            self._client = self.scheduler
        elif self.scheduler is not None:
            self._client = Client(self.scheduler, set_as_default=False, timeout=CONNECT_TIMEOUT_SECONDS)
            self._owns_client = True
        else:
            self._cluster = start_local_cluster(self.workers)
            self._client = Client(self._cluster, set_as_default=False)
            self._owns_client = True
        try:
            self._client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_SECONDS)
        except TimeoutError:
            self.__exit__(None, None, None)
            raise RuntimeError(f"no Dask worker joined the scheduler at {self._client.scheduler.address} "
                               f"within {CONNECT_TIMEOUT_SECONDS:.0f} s") from None
        self.slots = max(len(self._client.scheduler_info(n_workers=-1).get("workers", {})), 1)
        self._client.run(_warm_up)
        where = "a local Dask cluster" if self._cluster is not None else f"Dask at {self._client.scheduler.address}"
        self.description = f"{self.slots} worker process{'es' if self.slots != 1 else ''} on {where}"
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            if self._client is not None and self._client.status == "running":
                self._client.run(forget, self.sweep_id)
        except Exception:  # freeing worker memory is best effort; a dead cluster holds none
            logging.getLogger(__name__).debug("could not free the sweep's models on the workers", exc_info=True)
        finally:
            if self._owns_client and self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()

    def run(self, problem: Problem, chains: list[list[Point]], options: RunOptions, record: Record) -> None:
        from distributed import as_completed

        options = _with_threads(options, self.threads)
        # The base problem travels pickled with every task (small beside a model): a scattered copy
        # would be lost with the last worker holding it.
        base = pickle.dumps(problem, protocol=pickle.HIGHEST_PROTOCOL)
        queues = [deque(chain) for chain in chains]
        running: dict[Any, tuple[int, Point]] = {}
        pending = as_completed(loop=self._client.loop)

        def submit(queue: int, worker: str | None) -> None:
            while queues[queue]:
                point = queues[queue].popleft()
                # Prefer the worker that holds the chain's model; any other will do if it is gone.
                placement = {"workers": [worker], "allow_other_workers": True} if worker else {}
                try:
                    future = self._client.submit(run_point, self.sweep_id, base, point, options,
                                                 key=f"sweep-{self.sweep_id[:12]}-run-{point.run}", retries=0,
                                                 pure=False, **placement)
                except Exception as error:  # the scheduler is gone: every point left gets its reason
                    record(point, error_outcome(point, f"could not submit to Dask: {type(error).__name__}: {error}"))
                    continue
                running[future] = (queue, point)
                pending.add(future)
                return

        for queue in range(len(queues)):
            if queues[queue]:
                submit(queue, None)
        for future in pending:
            queue, point = running.pop(future)
            outcome = _outcome(future, point)
            record(point, outcome)
            future.release()
            if not queues[queue]:
                _take_over(queues, queue)
            if queues[queue]:
                submit(queue, outcome.worker if outcome.worker.startswith(("tcp://", "tls://", "inproc://")) else None)


def _warm_up() -> None:
    """Run on every worker at the start: unpickling this function imported the solver stack, so
    the first point's time is the point's own."""
    return None


def _take_over(queues: list[deque[Point]], idle: int) -> None:
    """Give the idle chain the second half of the longest queued chain."""
    longest = max(range(len(queues)), key=lambda i: len(queues[i]))
    if len(queues[longest]) < 2:
        return
    keep = len(queues[longest]) - len(queues[longest]) // 2
    points = list(queues[longest])
    queues[longest] = deque(points[:keep])
    queues[idle] = deque(points[keep:])


def _outcome(future: Any, point: Point) -> Outcome:
    """A finished task's outcome; a task that raised or lost its worker gives an error outcome."""
    try:
        return future.result()
    except Exception as error:
        from distributed.scheduler import KilledWorker

        if isinstance(error, KilledWorker):
            reason = f"the worker process died while solving this point ({error})"
        else:
            reason = f"{type(error).__name__}: {error}"
        return error_outcome(point, reason)
