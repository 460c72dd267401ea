"""One point on one worker: apply the changes, update the worker's model in place, solve warm.

This is the function Dask ships to worker processes (and the serial runner calls directly). Each
worker keeps one built :class:`planner.Planner` per sweep in a process-local cache, so consecutive
points on a worker change numbers in place and re-solve from the previous point's plan (the
MIP start is the plan of the nearest point the worker has solved, by the points' inputs: usually the
previous one, but after a jump in the tour an earlier one). A change of structure builds anew for that
point and says so (``rebuilt``). Every failure becomes an outcome with a reason, never an exception: a
sweep goes on past a bad point.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.results import PlanResult
from planner.schema import Problem
from planner.solver import Planner
from planner.sweeps.apply import PointError, apply_changes
from planner.sweeps.points import Point, separation

INVALID = "invalid"
ERROR = "error"
MODELS_KEPT = 2
"""Built models a worker keeps (one per sweep; a second for a sweep from another client)."""

_MODELS: OrderedDict[str, Planner] = OrderedDict()
"""The worker's built models, by sweep id (process-local: each Dask worker has its own)."""
_BASES: OrderedDict[str, Problem] = OrderedDict()
"""The sweep's base problem, unpickled once per worker."""
PLANS_KEPT = 8
"""Plans a worker keeps per sweep to start later points from (each a vector over the model's columns)."""
_PLANS: dict[str, list[tuple[Point, np.ndarray, Any]]] = {}
"""The worker's latest plans by sweep id: (point, column values, the columns they refer to)."""
_BASE_VALUES: dict[str, dict[tuple[str, str], float | None]] = {}
_ONE_AT_A_TIME = threading.Lock()
"""Pyomo and the solver's log capture are not thread-safe: a worker process with several threads
solves one point at a time (give workers one thread each)."""


@dataclass(frozen=True)
class RunOptions:
    """How every point is solved. ``reuse_model=False`` builds each point from scratch (the
    reference a warm sweep is checked and benchmarked against)."""

    time_limit_seconds: float | None = None
    mip_gap: float | None = None
    threads: int | None = None
    reuse_model: bool = True
    diagnose: bool = True
    base_marginal_values: bool = True


@dataclass
class Outcome:
    """What a point gave: plain data, cheap to send between processes."""

    run: int
    status: str
    reason: str = ""
    mip_gap: float | None = None
    objective_usd: float | None = None
    expected_cost_usd: float | None = None
    best_bound_usd: float | None = None
    scenario_costs_usd: dict[str, float] = field(default_factory=dict)
    new_lease_commitment_usd: float | None = None
    gpus_leased: dict[str, float] = field(default_factory=dict)
    share_served: float | None = None
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    solve_seconds: float | None = None
    rebuilt: bool = False
    warm_start: bool = False
    worker: str = ""
    leases: list[dict[str, Any]] = field(default_factory=list)
    # (scenario, offer id, start month) -> blocks; scenario "all" for what every world signs now.
    lease_plan: dict[tuple[str, str, str], int] = field(default_factory=dict)
    base_result: PlanResult | None = None

    @property
    def has_plan(self) -> bool:
        return self.objective_usd is not None


def worker_name() -> str:
    """The Dask worker's address, or ``local`` outside Dask."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


def invalid_outcome(point: Point, reason: str) -> Outcome:
    return Outcome(run=point.run, status=INVALID, reason=reason)


def error_outcome(point: Point, reason: str, worker: str = "") -> Outcome:
    return Outcome(run=point.run, status=ERROR, reason=reason, worker=worker)


def forget(sweep_id: str) -> None:
    """Drop a sweep's model and base problem from this process (on every worker when a sweep ends)."""
    _MODELS.pop(sweep_id, None)
    _BASES.pop(sweep_id, None)
    _PLANS.pop(sweep_id, None)
    _BASE_VALUES.pop(sweep_id, None)


def _planner_for(sweep_id: str, problem: Problem, options: RunOptions) -> tuple[Planner, bool, bool]:
    """The worker's model for this sweep updated to ``problem`` -> (planner, warm, rebuilt)."""
    planner = _MODELS.get(sweep_id) if options.reuse_model else None
    if planner is not None:
        _MODELS.move_to_end(sweep_id)
        if planner.update(problem):
            return planner, True, False
        _MODELS.pop(sweep_id, None)  # structure changed: free the old model before building
    _PLANS.pop(sweep_id, None)
    fresh = Planner(problem, threads=options.threads, updatable=options.reuse_model)
    if options.reuse_model:
        _MODELS[sweep_id] = fresh
        while len(_MODELS) > MODELS_KEPT:
            evicted, _ = _MODELS.popitem(last=False)
            _PLANS.pop(evicted, None)
    return fresh, False, planner is not None


def run_point(sweep_id: str, base: Problem | bytes, point: Point, options: RunOptions) -> Outcome:
    """Solve one point (on a Dask worker or in this process) and summarise it.

    ``base`` is the problem, or the problem pickled once by the coordinator (sent with every task,
    so that a worker that replaces a dead one finds it; unpickled once per sweep and worker).
    """
    with _ONE_AT_A_TIME:
        if isinstance(base, bytes):
            if sweep_id not in _BASES:
                _BASES[sweep_id] = pickle.loads(base)  # bytes our own coordinator pickled
                while len(_BASES) > MODELS_KEPT:
                    _BASES.popitem(last=False)
            base = _BASES[sweep_id]
        return _run_point(sweep_id, base, point, options)


def _run_point(sweep_id: str, base: Problem, point: Point, options: RunOptions) -> Outcome:
    started, cpu_started = time.perf_counter(), time.process_time()
    worker = worker_name()
    try:
        problem = apply_changes(base, point.changes)
    except PointError as error:
        return invalid_outcome(point, str(error))
    try:
        planner, warm, rebuilt = _planner_for(sweep_id, problem, options)
        if warm:
            _start_from_nearest(sweep_id, planner, base, point)
        is_base = point.run == 0
        result = planner.solve(time_limit_seconds=options.time_limit_seconds, mip_gap=options.mip_gap,
                               marginal_values=is_base and options.base_marginal_values,
                               diagnose=options.diagnose)
        if options.reuse_model and result.has_plan:
            _keep_plan(sweep_id, planner, point)
        outcome = summarise(result, point.run)
    except Exception as error:  # a bug or a solver crash on one point must not end the sweep
        _MODELS.pop(sweep_id, None)  # its state is unknown: the next point builds afresh
        _PLANS.pop(sweep_id, None)
        where = traceback.extract_tb(error.__traceback__)[-1]
        return error_outcome(point, f"{type(error).__name__}: {error} (at {where.name}, line {where.lineno})",
                             worker)
    outcome.rebuilt, outcome.warm_start, outcome.worker = rebuilt, warm, worker
    outcome.seconds = time.perf_counter() - started
    outcome.cpu_seconds = time.process_time() - cpu_started
    if is_base:
        # The model stays on the worker; the result travels without it.
        outcome.base_result = dataclasses.replace(result, model=None)
    return outcome


def _start_from_nearest(sweep_id: str, planner: Planner, base: Problem, point: Point) -> None:
    """Start the solve from the kept plan of the point nearest this one (the latest on a tie)."""
    columns = planner.plan_columns
    plans = [(kept, plan) for kept, plan, kept_columns in _PLANS.get(sweep_id, []) if kept_columns is columns]
    if not plans:
        return
    base_values = _BASE_VALUES.setdefault(sweep_id, {})
    distances = [separation(base, kept, point, base_values) for kept, _ in plans]
    nearest = min(range(len(plans)), key=lambda i: (distances[i], -i))
    if plans[nearest][1] is not planner.last_plan:
        planner.start_from(plans[nearest][1])


def _keep_plan(sweep_id: str, planner: Planner, point: Point) -> None:
    plan = planner.last_plan
    if plan is None:
        return
    plans = _PLANS.setdefault(sweep_id, [])
    plans.append((point, plan, planner.plan_columns))
    del plans[:-PLANS_KEPT]


def summarise(result: PlanResult, run: int) -> Outcome:
    """The figures of one run from the result's public tables."""
    gap = None if result.mip_gap is None or math.isnan(result.mip_gap) else result.mip_gap
    reason = result.message
    if result.status == "optimal":
        reason = ""
    elif result.status == "time_limit":
        reason = ("stopped at the time limit " + (f"with a gap of {gap:.2%}" if gap is not None else "")
                  if result.has_plan else "stopped at the time limit before any plan was found").strip()
    outcome = Outcome(run=run, status=result.status, reason=reason, mip_gap=gap,
                      solve_seconds=result.timings.get("solve_seconds"))
    if not result.has_plan:
        return outcome
    leases = result.leases()
    worlds = result.leases_by_scenario()
    scenarios = result.scenario_costs()
    tokens = result.tokens()
    probability = dict(zip(scenarios["scenario"], scenarios["probability"], strict=True))
    weights = tokens["scenario"].map(probability)
    demand = float((tokens["demand_tokens"] * weights).sum())
    served = float((tokens["served_tokens"] * weights).sum())
    # With a plan that learns, each world signs its own leases: GPUs by type are the expectation.
    by_type = (worlds["gpus"] * worlds["scenario"].map(probability)).groupby(worlds["gpu_type"]).sum()
    outcome.objective_usd = result.objective_usd
    outcome.expected_cost_usd = result.expected_cost_usd
    outcome.best_bound_usd = result.best_bound_usd
    outcome.scenario_costs_usd = dict(zip(scenarios["scenario"], scenarios["npv_usd"].astype(float), strict=True))
    outcome.new_lease_commitment_usd = result.lease_commitment_usd()
    outcome.gpus_leased = {g.name: float(by_type.get(g.name, 0.0)) for g in result.problem.gpu_types}
    outcome.share_served = served / demand if demand > 0 else float("nan")
    outcome.leases = leases.to_dict(orient="records")
    outcome.lease_plan = {(row.scenario, row.offer_id, row.start_month): int(row.blocks)
                          for row in leases.itertuples(index=False)}
    return outcome
