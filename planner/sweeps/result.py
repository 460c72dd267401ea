"""``SweepResult``: every run of a sweep as tidy DataFrames, plus the analytics the report shows."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from planner.results import PlanResult
from planner.schema import Problem
from planner.signings import LEASE_COLUMNS
from planner.sweeps import analysis
from planner.sweeps.points import BASE, Point
from planner.sweeps.spec import Sweep
from planner.sweeps.worker import Outcome


@dataclass
class SweepResult:
    """The runs of one sweep call. ``runs`` has one row per point (the base run first); ``base`` is
    the base run's full :class:`PlanResult` (None if it found no plan or failed)."""

    problem: Problem
    sweeps: list[Sweep]
    points: list[Point]
    outcomes: dict[int, Outcome]
    seconds: float = 0.0
    workers: str = ""

    @property
    def base(self) -> PlanResult | None:
        outcome = self.outcomes.get(0)
        return outcome.base_result if outcome is not None else None

    @property
    def scenarios(self) -> list[str]:
        return [s.name for s in self.problem.scenarios]

    @property
    def gpu_types(self) -> list[str]:
        return [g.name for g in self.problem.gpu_types]

    @property
    def target_names(self) -> list[str]:
        """The value columns of ``runs``: one per distinct target, in sweep order."""
        return list(dict.fromkeys(target.name for sweep in self.sweeps for target in sweep.targets))

    @property
    def all_planned(self) -> bool:
        """True when every point has a plan (the CLI's exit code 0)."""
        return all(outcome.has_plan for outcome in self.outcomes.values())

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes.values():
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    # ---- tables --------------------------------------------------------------------------------
    def _ordered_points(self) -> list[Point]:
        """Base first, then each sweep in order: one-at-a-time points by target and value, grid
        points in grid order (refinements fall into place by value)."""
        sweep_rank = {sweep.name: i for i, sweep in enumerate(self.sweeps)}
        target_rank = {(sweep.name, t.name): i for sweep in self.sweeps for i, t in enumerate(sweep.targets)}

        def key(point: Point) -> tuple[Any, ...]:
            if point.sweep == BASE:
                return (-1, 0, 0.0, 0)
            value = point.changes[0][1] if point.varied is not None else None
            number = float(value) if isinstance(value, int | float) else math.inf
            target = target_rank.get((point.sweep, point.varied), 0) if point.varied else 0
            return (sweep_rank[point.sweep], target, number if point.varied else float(point.index), point.run)

        return sorted(self.points, key=key)

    @functools.cached_property
    def runs(self) -> pd.DataFrame:
        """One row per point: the changes, status, figures of the plan, time and how it was solved.

        Columns: run, sweep, point, design, target, value, one column per target (its value at the
        point, blank at base), changes, refinement, status, has_plan, reason, mip_gap, objective_usd,
        expected_cost_usd, best_bound_usd, cost_usd[<scenario>] (NPV per scenario),
        new_lease_commitment_usd, gpus_leased[<GPU type>], share_served (expected served / expected
        demanded tokens), seconds (wall clock on the worker), cpu_seconds (the worker process's CPU
        time: below seconds when other work shares the machine), solve_seconds, rebuilt (the structure
        changed: built anew), warm_start (updated in place, started from the previous plan), worker.
        """
        names = self.target_names
        rows = []
        for point in self._ordered_points():
            outcome = self.outcomes.get(point.run) or Outcome(run=point.run, status="error", reason="not run")
            values = {target.name: value for target, value in point.changes}
            single = point.changes[0][1] if point.varied is not None else None
            row: dict[str, Any] = {
                "run": point.run, "sweep": point.sweep, "point": point.index, "design": point.design,
                "target": point.varied if point.varied else (" x ".join(values) if values else BASE),
                "value": single,
                **{name: values.get(name) for name in names},
                "changes": point.description, "refinement": point.refinement, "status": outcome.status,
                "has_plan": outcome.has_plan, "reason": outcome.reason, "mip_gap": outcome.mip_gap,
                "objective_usd": outcome.objective_usd, "expected_cost_usd": outcome.expected_cost_usd,
                "best_bound_usd": outcome.best_bound_usd,
            }
            row.update({f"cost_usd[{s}]": outcome.scenario_costs_usd.get(s) for s in self.scenarios})
            row["new_lease_commitment_usd"] = outcome.new_lease_commitment_usd
            row.update({f"gpus_leased[{g}]": outcome.gpus_leased.get(g) if outcome.has_plan else None
                        for g in self.gpu_types})
            row.update({"share_served": outcome.share_served, "seconds": outcome.seconds,
                        "cpu_seconds": outcome.cpu_seconds, "solve_seconds": outcome.solve_seconds,
                        "rebuilt": outcome.rebuilt,
                        "warm_start": outcome.warm_start, "worker": outcome.worker})
            rows.append(row)
        frame = pd.DataFrame(rows)
        numeric = ["mip_gap", "objective_usd", "expected_cost_usd", "best_bound_usd", "new_lease_commitment_usd",
                   "share_served", "solve_seconds", *[f"cost_usd[{s}]" for s in self.scenarios],
                   *[f"gpus_leased[{g}]" for g in self.gpu_types]]
        frame[numeric] = frame[numeric].astype(float)
        return frame

    def overview(self) -> pd.DataFrame:
        """The runs in brief, for a summary table: what changed, status, expected cost and its change
        against the base run, new lease commitment, share served, seconds."""
        runs = self.runs
        base = runs.loc[runs["run"] == 0, "expected_cost_usd"]
        base_cost = float(base.iloc[0]) if len(base) else float("nan")
        frame = runs[["run", "sweep", "changes", "status", "expected_cost_usd", "new_lease_commitment_usd",
                      "share_served", "seconds", "reason"]].copy()
        frame.insert(5, "change_vs_base_usd", frame["expected_cost_usd"] - base_cost)
        return frame

    def leases(self) -> pd.DataFrame:
        """The lease plan of every point with a plan, long format: run, sweep, point, changes, then
        the columns of :meth:`PlanResult.leases`."""
        described = {point.run: point for point in self.points}
        rows = []
        for run in self.runs["run"]:
            point, outcome = described[run], self.outcomes.get(run)
            if outcome is None or not outcome.has_plan:
                continue
            for line in outcome.leases:
                rows.append({"run": run, "sweep": point.sweep, "point": point.index, "changes": point.description,
                             **{column: line.get(column) for column in LEASE_COLUMNS}})
        return pd.DataFrame(rows, columns=["run", "sweep", "point", "changes", *LEASE_COLUMNS])

    # ---- analytics -----------------------------------------------------------------------------
    def tornado(self, metric: str = "expected_cost_usd") -> pd.DataFrame:
        """Per one-at-a-time target: ``metric`` at its low and high value against base, widest first."""
        return analysis.tornado(self.problem, self.points, self.outcomes, metric)

    def curves(self) -> pd.DataFrame:
        """Each one-at-a-time target's runs in value order, base included (for line charts)."""
        return analysis.curve_table(self.problem, self.points, self.outcomes, self.gpu_types)

    def grid(self, sweep: str, metric: str = "expected_cost_usd") -> pd.DataFrame:
        """A two-target grid sweep's ``metric`` as a table (first target down, second across)."""
        chosen = next((s for s in self.sweeps if s.name == sweep), None)
        if chosen is None:
            raise KeyError(f"no sweep named {sweep!r} (sweeps: {', '.join(s.name for s in self.sweeps)})")
        return analysis.grid_table(chosen, self.runs, metric)

    def grids(self, metric: str = "expected_cost_usd") -> dict[str, pd.DataFrame]:
        """Every two-target grid sweep's table, by sweep name."""
        return {s.name: self.grid(s.name, metric) for s in self.sweeps if s.design == "grid" and len(s.targets) == 2}

    def decisions(self, level: Literal["line", "offer"] = "line") -> pd.DataFrame:
        """Lease lines (``level="offer"``: offers) that appear, disappear or change size between
        neighbouring values of each one-at-a-time target, with the break-even bracket (see
        :func:`analysis.decisions`)."""
        return analysis.decisions(self.problem, self.points, self.outcomes, level)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: counts, time, and every run (NaN as null)."""
        runs = self.runs.astype(object).where(self.runs.notna(), None)
        return {
            "points": len(self.points), "status_counts": self.status_counts(), "all_planned": self.all_planned,
            "seconds": self.seconds, "workers": self.workers,
            "sweeps": [sweep.model_dump(exclude_none=True) for sweep in self.sweeps],
            "runs": runs.to_dict(orient="records"),
        }
