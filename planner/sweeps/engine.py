"""``sweep``: run every point of a set of sweeps, warm, fanned out over worker processes.

The steps, in order:

1. normalise the spec to named :class:`Sweep` objects and check every target against the input;
2. expand the designs into points (the base run first) and validate each point's input;
3. order the valid points as a nearest-neighbour tour from the base and cut it into one chain
   per worker;
4. run the chains: in this process (``workers=0``) or on Dask, where each worker keeps its built
   model between points and a finished worker takes over half of the longest remaining chain;
5. optionally refine: bisect between neighbouring values where the lease plan switches;
6. gather the outcomes into a :class:`SweepResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from planner.errors import InputError
from planner.schema import Problem
from planner.sweeps.analysis import plan_switches
from planner.sweeps.apply import PointError, apply_changes, check_sweeps
from planner.sweeps.points import Point, coordinates, expand, nearest_neighbour_order, split_chains
from planner.sweeps.result import SweepResult
from planner.sweeps.runners import Runner, default_workers, make_runner
from planner.sweeps.spec import Sweep, Target, as_sweeps, table_columns
from planner.sweeps.worker import Outcome, RunOptions, invalid_outcome


@dataclass(frozen=True)
class SweepProgress:
    """Handed to the ``progress`` callback after every point."""

    done: int
    total: int
    elapsed_seconds: float
    remaining_seconds: float | None
    point: Point
    outcome: Outcome


Progress = Callable[[SweepProgress], None]
Order = Literal["nearest", "given"]
Spec = Sweep | Target | str | Mapping[str, Any] | Iterable[Sweep | Target | str | Mapping[str, Any]]


def sweep(problem: Problem, spec: Spec, *, workers: int | None = None, scheduler: Any = None,
          time_limit_seconds: float | None = None, mip_gap: float | None = None, threads: int | None = None,
          reuse_model: bool = True, order: Order = "nearest", refine: int = 0, diagnose: bool = True,
          progress: Progress | None = None) -> SweepResult:
    """Solve ``problem`` at every point of ``spec``; return a :class:`SweepResult` (``.runs``).

    ``spec``: a :class:`Sweep`, a :class:`Target`, a ``--vary`` string, a mapping, or a list of
    them. ``workers``: processes of a local Dask cluster (default: one per CPU core, at most one per
    point; 0 runs in this process without Dask). ``scheduler``: an existing Dask cluster's address
    (``tcp://host:8786``) or a ``distributed.Client``. ``threads``: HiGHS threads per worker
    (default 1 on Dask workers). ``time_limit_seconds`` and ``mip_gap`` apply to each point
    (default: the input's Settings). ``reuse_model=False`` builds every point from scratch.
    ``order``: ``nearest`` walks the points nearest neighbour first from the base; ``given`` keeps
    the spec's order.
    ``refine``: rounds of bisection between neighbouring one-at-a-time values whose lease plans
    differ, to pin the break-even value. Raises :class:`InputError` for a bad spec.
    """
    started = time.perf_counter()
    if order not in ("nearest", "given"):
        raise ValueError(f"order: found {order!r}; expected 'nearest' or 'given'")
    sweeps = as_sweeps(spec)
    issues = check_sweeps(problem, sweeps)
    if issues:
        raise InputError(issues, source="the sweep")
    points = expand(sweeps)
    outcomes: dict[int, Outcome] = {}
    total = len(points)

    def record(point: Point, outcome: Outcome) -> None:
        outcomes[point.run] = outcome
        if progress is not None:
            done = len(outcomes)
            elapsed = time.perf_counter() - started
            remaining = elapsed / done * (total - done) if done else None
            progress(SweepProgress(done, total, elapsed, remaining, point, outcome))

    runnable: list[Point] = []
    for point in points:
        try:
            apply_changes(problem, point.changes)
            runnable.append(point)
        except PointError as error:
            record(point, invalid_outcome(point, str(error)))

    options = RunOptions(time_limit_seconds=time_limit_seconds, mip_gap=mip_gap, threads=threads,
                         reuse_model=reuse_model, diagnose=diagnose)
    count = _worker_count(workers, scheduler, len(runnable))
    with make_runner(count, scheduler, threads) as runner:
        _run_ordered(runner, problem, runnable, options, record, order)
        for _ in range(refine):
            extra = refinement_points(problem, points, outcomes)
            if not extra:
                break
            points += extra
            total += len(extra)
            _run_ordered(runner, problem, extra, options, record, order)
    return SweepResult(problem=problem, sweeps=sweeps, points=points, outcomes=outcomes,
                       seconds=time.perf_counter() - started, workers=runner.description)


def _worker_count(workers: int | None, scheduler: Any, points: int) -> int:
    if scheduler is not None:
        return -1  # the cluster decides
    if workers is None:
        workers = default_workers()
    if workers < 0:
        raise ValueError(f"workers: found {workers}; expected 0 (run in this process) or more")
    return min(workers, max(points, 1)) if workers > 0 else 0


def _run_ordered(runner: Runner, problem: Problem, points: list[Point], options: RunOptions,
                 record: Callable[[Point, Outcome], None], order: Order) -> None:
    """Order ``points`` as a nearest-neighbour tour from the first (the base run, when it is among
    them) and run them as one chain per worker."""
    if not points:
        return
    tour = (nearest_neighbour_order(coordinates(problem, points), start=0) if order == "nearest"
            else list(range(len(points))))
    chains = split_chains(tour, runner.slots)
    runner.run(problem, [[points[i] for i in chain] for chain in chains], options, record)


def refinement_points(problem: Problem, points: Sequence[Point], outcomes: Mapping[int, Outcome]) -> list[Point]:
    """Midpoints between neighbouring one-at-a-time values whose lease plans differ."""
    extra: list[Point] = []
    next_run = max(point.run for point in points) + 1
    next_index: dict[str, int] = {}
    for point in points:
        next_index[point.sweep] = max(next_index.get(point.sweep, 0), point.index + 1)
    for switch in plan_switches(problem, points, outcomes):
        target, low, high = switch.target, switch.low_value, switch.high_value
        middle: float = (low + high) / 2
        if target.mode == "set" and _is_whole(target):
            if high - low <= 1:
                continue
            middle = float(int(middle))
        elif abs(high - low) <= 1e-9 * max(1.0, abs(high)):
            continue
        index = next_index[switch.sweep]
        next_index[switch.sweep] += 1
        extra.append(Point(run=next_run, sweep=switch.sweep, index=index, design=switch.design,
                           changes=((target, middle),), varied=target.name, refinement=True))
        next_run += 1
    return extra


def _is_whole(target: Target) -> bool:
    return table_columns(target.table)[target.column].kind == "int"
