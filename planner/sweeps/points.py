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


def _dimension(target: Target) -> tuple[str, str]:
    # Targets that change the same cells the same way share a dimension, across sweeps.
    return target.address, target.mode


def coordinates(problem: Problem, points: Sequence[Point]) -> np.ndarray:
    """Each point as a vector of its targets' values, every dimension scaled to its range (0..1).

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
    return matrix


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
