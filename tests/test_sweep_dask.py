"""Sweeps on Dask distributed: a local cluster of worker processes, a scheduler and a worker
started by hand as separate processes, and bounded faults (a point that raises, a worker that dies).

Each gives the same runs table as the serial run in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from factory import lease, tiny

import planner

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
SPEC = ["LeaseOffers[L].price_usd_per_gpu_hour=2:6:5", "Scenarios[high].probability=0.2,0.8",
        "LeaseOffers[L].price_usd_per_gpu_hour+=-5"]
COMPARED = ["run", "sweep", "point", "changes", "status", "has_plan", "reason", "objective_usd", "expected_cost_usd",
            "cost_usd[low]", "cost_usd[high]", "new_lease_commitment_usd", "gpus_leased[H100]", "share_served"]


@pytest.fixture(scope="module")
def problem() -> planner.Problem:
    return tiny({"low": [10, 10, 20, 20], "high": [20, 20, 40, 40]}, offers=[lease("L", price=2.0, term=4)])


@pytest.fixture(scope="module")
def serial(problem: planner.Problem) -> pd.DataFrame:
    runs = planner.sweep(problem, SPEC, workers=0).runs
    assert runs["status"].value_counts().to_dict() == {"optimal": 8, "invalid": 1}
    return runs


def same_table(runs: pd.DataFrame, serial: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(runs[COMPARED], serial[COMPARED], check_exact=False, rtol=1e-9)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One local cluster of two worker processes for the module (starting one takes seconds)."""
    from planner.sweeps import local_cluster

    with local_cluster(2) as client:
        yield client


def test_local_cluster_gives_the_serial_table(problem: planner.Problem, serial: pd.DataFrame, cluster: Any) -> None:
    result = planner.sweep(problem, SPEC, scheduler=cluster)
    same_table(result.runs, serial)
    solved = result.runs[result.runs["has_plan"]]
    assert len(set(solved["worker"])) == 2 and all(w.startswith("tcp://") for w in solved["worker"])
    assert solved["warm_start"].sum() >= 3  # each worker kept its model between points
    assert result.workers == f"2 worker processes on Dask at {cluster.scheduler.address}"



def _worker_settings() -> tuple[bool, str]:
    import dask

    get = dask.config.get
    return get("distributed.worker.profile.enabled"), get("distributed.worker.multiprocessing-method")


def test_local_cluster_workers_run_without_the_profiler(cluster: Any) -> None:
    """The sampling profiler takes CPU from the solver on a worker per core; spawn keeps HiGHS fork-safe."""
    settings = cluster.run(_worker_settings)
    assert len(settings) == 2
    assert set(settings.values()) == {(False, "spawn")}

def _wait_for(path: Path, processes: list[subprocess.Popen[bytes]], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text().strip():
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            raise AssertionError(f"the scheduler did not write {path.name}")
        time.sleep(0.1)


@pytest.fixture
def hand_started_cluster(tmp_path: Path) -> Iterator[str]:
    """``dask scheduler`` and ``dask worker`` as a user starts them (planner found via PYTHONPATH; the
    worker without a nanny, so that stopping it is quick)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    scheduler_file = tmp_path / "scheduler.json"
    common = ["--scheduler-file", str(scheduler_file), "--no-dashboard", "--dashboard-address", ":0"]
    processes: list[subprocess.Popen[bytes]] = []
    logs = [open(tmp_path / name, "wb") for name in ("scheduler.log", "worker.log")]  # noqa: SIM115
    try:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", *common],
            env=env, cwd=tmp_path, stdout=logs[0], stderr=subprocess.STDOUT))
        _wait_for(scheduler_file, processes)
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--nthreads", "1", "--no-nanny", *common],
            env=env, cwd=tmp_path, stdout=logs[1], stderr=subprocess.STDOUT))
        yield json.loads(scheduler_file.read_text())["address"]
    finally:
        # The worker first, while its scheduler still answers (it says goodbye), then the scheduler.
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()


def test_a_cluster_started_by_hand_gives_the_serial_table(problem: planner.Problem, serial: pd.DataFrame,
                                                          hand_started_cluster: str) -> None:
    result = planner.sweep(problem, SPEC, scheduler=hand_started_cluster)
    same_table(result.runs, serial)
    solved = result.runs[result.runs["has_plan"]]
    assert len(set(solved["worker"])) == 1
    assert solved["warm_start"].sum() == 5 and solved["rebuilt"].sum() == 2  # probabilities change the structure
    assert result.workers == f"1 worker process on Dask at {hand_started_cluster}"


def test_a_point_that_raises_or_kills_its_worker_gets_an_error_row(problem: planner.Problem, serial: pd.DataFrame,
                                                                   cluster: Any) -> None:
    from sweep_faults import InjectFaults

    cluster.register_plugin(InjectFaults(raise_at=3.0, die_at=5.0))
    try:
        result = planner.sweep(problem, SPEC, scheduler=cluster)
    finally:
        cluster.unregister_worker_plugin(InjectFaults.name)
    runs = result.runs.set_index("changes")
    raised = runs.loc["LeaseOffers[L].price_usd_per_gpu_hour = 3"]
    assert raised["status"] == "error" and raised["reason"].startswith("RuntimeError: injected fault")
    died = runs.loc["LeaseOffers[L].price_usd_per_gpu_hour = 5"]
    assert died["status"] == "error"
    assert died["reason"].startswith("the worker process died while solving this point")
    # every other point has the serial run's figures
    healthy = ~result.runs["changes"].isin(["LeaseOffers[L].price_usd_per_gpu_hour = 3",
                                            "LeaseOffers[L].price_usd_per_gpu_hour = 5"])
    same_table(result.runs[healthy].reset_index(drop=True), serial[healthy].reset_index(drop=True))
    assert result.status_counts() == {"optimal": 6, "invalid": 1, "error": 2}
