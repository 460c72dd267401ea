"""Points: the runs a set of sweeps asks for, and the order that keeps every re-solve warm.

Each point is the base input plus a few changes. The points are walked as a nearest-neighbour
tour from the base (distances in each target's value range), so that each point starts from the
plan of the point most like it; the tour is then cut into one contiguous chain per worker.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from planner.schema import Problem
from planner.sweeps.apply import Change, base_value
from planner.sweeps.spec import Sweep, Target

BASE = "base"


@dataclass(frozen=True)
class Point:
    """One run: ``changes`` applied to the base input.

    ``run`` numbers every point of a sweep call (0 = the base run); ``index`` numbers the points of
    one sweep from 1. ``varied`` is the target a one-at-a-time point varies (None in a grid).
    """

    run: int
    sweep: str
    index: int
    design: str
    changes: tuple[Change, ...]
    varied: str | None = None
    refinement: bool = False

    @property
    def description(self) -> str:
        """The changes in words (``base`` for the base run)."""
        return "; ".join(target.describe_change(value) for target, value in self.changes) or BASE


def expand(sweeps: Sequence[Sweep]) -> list[Point]:
    """The base run, then every sweep's points in its design's order."""
    points = [Point(run=0, sweep=BASE, index=0, design=BASE, changes=())]
    for sweep in sweeps:
        if sweep.design == "grid":
            combos = itertools.product(*[[(target, value) for value in target.values] for target in sweep.targets])
            changes = [(tuple(combo), None) for combo in combos]
        else:
            changes = [(((target, value),), target.name) for target in sweep.targets for value in target.values]
        for index, (change, varied) in enumerate(changes, start=1):
            points.append(Point(run=len(points), sweep=sweep.name, index=index, design=sweep.design,
                                changes=change, varied=varied))
    return points


IN_PLACE_COLUMNS: frozenset[tuple[str, str]] = frozenset({
    ("LeaseOffers", "price_usd_per_gpu_hour"),
    ("OnDemand", "price_usd_per_gpu_hour"),
    ("OnDemand", "max_gpus"),
    ("Throughput", "tokens_per_second_per_gpu"),
    ("Throughput", "mfu"),
    ("Settings", "default_mfu"),
    ("Workloads", "flops_per_token"),
    ("GPUTypes", "peak_dense_bf16_tflops"),
    ("Demand", "tokens_per_month"),
    ("Workloads", "base_tokens_per_month"),
    ("Scenarios", "growth_multiple_per_year"),
    ("Sites", "power_cap_mw"),
    ("SitePower", "power_cap_mw"),
    ("Credits", "amount_usd"),
    ("Settings", "max_total_commitment_usd"),
    ("Settings", "max_cash_spend_usd"),
    ("EfficiencyPrograms", "one_off_cost_usd"),
    ("EfficiencyPrograms", "cost_usd_per_month"),
    ("EfficiencyPrograms", "mfu_multiplier"),
    ("EfficiencyPrograms", "new_mfu"),
    ("Settings", "time_limit_seconds"),
    ("Settings", "mip_gap"),
})
"""Input columns whose changes only move mutable model parameters (the table in
models/procurement.md, pinned by a test). An ordering hint only: ``Planner.update`` decides."""
STRUCTURAL_WEIGHT = 1_000.0
"""Distance weight of a target that rebuilds the model: the tour changes it as seldom as possible
(last in a one-at-a-time sweep, the slowest axis of a grid)."""


def is_in_place(target: Target) -> bool:
    """Whether changing ``target`` should leave the model's structure alone (see IN_PLACE_COLUMNS)."""
    return (target.table, target.column) in IN_PLACE_COLUMNS


def _dimension(target: Target) -> tuple[str, str]:
    # Targets that change the same cells the same way share a dimension, across sweeps.
    return target.address, target.mode


def coordinates(problem: Problem, points: Sequence[Point]) -> np.ndarray:
    """Each point as a vector of its targets' values, every dimension scaled to its range (0..1),
    and targets that rebuild the model weighted by :data:`STRUCTURAL_WEIGHT`.

    A target a point does not change sits at its base value; text values (months, names) are
    placed by their position in the target's value list.
    """
    targets: dict[tuple[str, str], Target] = {}
    for point in points:
        for target, _ in point.changes:
            targets.setdefault(_dimension(target), target)
    dims = list(targets)
    numeric: dict[tuple[str, str], dict[object, float]] = {}
    base: dict[tuple[str, str], float] = {}
    for dim, target in targets.items():
        values = [value for point in points for t, value in point.changes if _dimension(t) == dim]
        if all(isinstance(v, int | float) for v in values):
            numeric[dim] = {v: float(v) for v in values}
            at_base = base_value(problem, target)
            base[dim] = at_base if at_base is not None else float(np.mean(list(numeric[dim].values())))
        else:
            numeric[dim] = {v: float(i) for i, v in enumerate(dict.fromkeys(values))}
            base[dim] = -1.0
    matrix = np.array([[base[dim] for dim in dims]] * len(points), dtype=float).reshape(len(points), len(dims))
    for row, point in enumerate(points):
        for target, value in point.changes:
            dim = _dimension(target)
            matrix[row, dims.index(dim)] = numeric[dim][value]
    if dims:
        span = matrix.max(axis=0) - matrix.min(axis=0)
        matrix = (matrix - matrix.min(axis=0)) / np.where(span > 0, span, 1.0)
        matrix *= np.array([1.0 if is_in_place(targets[dim]) else STRUCTURAL_WEIGHT for dim in dims])
    return matrix


def separation(problem: Problem, a: Point, b: Point, base_values: dict[tuple[str, str], float | None]) -> float:
    """How far apart two points' inputs are, without the other points of the sweep: per target the
    relative difference of the values (|a - b| / max(|a|, |b|); 1 for different text), a target a
    point does not change at its base value, targets that rebuild the model weighted by
    :data:`STRUCTURAL_WEIGHT`. ``base_values`` caches base values by target (filled as needed)."""
    values_a = {_dimension(target): (target, value) for target, value in a.changes}
    values_b = {_dimension(target): (target, value) for target, value in b.changes}
    total = 0.0
    for dim in values_a.keys() | values_b.keys():
        target = (values_a.get(dim) or values_b[dim])[0]
        if dim not in base_values:
            base_values[dim] = base_value(problem, target)
        value_a = values_a[dim][1] if dim in values_a else base_values[dim]
        value_b = values_b[dim][1] if dim in values_b else base_values[dim]
        weight = 1.0 if is_in_place(target) else STRUCTURAL_WEIGHT
        total += weight * _relative_difference(value_a, value_b)
    return total


def _relative_difference(a: object, b: object) -> float:
    if a == b:
        return 0.0
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) / max(abs(a), abs(b))
    return 1.0


def nearest_neighbour_order(matrix: np.ndarray, start: int = 0) -> list[int]:
    """A greedy tour from ``start``: always on to the closest point not yet visited (L1 distance,
    ties to the earlier point so the order is deterministic)."""
    n = len(matrix)
    if n == 0:
        return []
    visited = np.zeros(n, dtype=bool)
    order = [start]
    visited[start] = True
    current = start
    for _ in range(n - 1):
        distance = np.abs(matrix - matrix[current]).sum(axis=1)
        distance[visited] = np.inf
        current = int(np.argmin(distance))
        visited[current] = True
        order.append(current)
    return order


def split_chains(order: Sequence[int], count: int) -> list[list[int]]:
    """The tour cut into ``count`` contiguous chains of near-equal length (no empty chain)."""
    count = max(1, min(count, len(order)))
    size, extra = divmod(len(order), count)
    chains, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        chains.append(list(order[start:end]))
        start = end
    return chains
