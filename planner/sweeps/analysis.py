"""Sweep analytics: tornado, curves, grid tables and the lease decisions that change.

Pure functions of the points and their outcomes, shared by :class:`SweepResult`, the CLI's
``--json`` and the Excel sweep report (which lays them out and computes nothing).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from planner.model.tree import ALL_SCENARIOS
from planner.schema import Problem
from planner.sweeps.apply import base_value
from planner.sweeps.points import Point
from planner.sweeps.spec import Sweep, Target
from planner.sweeps.worker import Outcome

CURVE_METRICS = ("objective_usd", "expected_cost_usd", "share_served", "new_lease_commitment_usd")


@dataclass(frozen=True)
class CurvePoint:
    """A point on a one-at-a-time curve: the target's value and the run that gave it (the base run
    sits on every curve at the target's base value)."""

    value: float
    point: Point
    outcome: Outcome

    @property
    def is_base(self) -> bool:
        return self.point.run == 0


@dataclass(frozen=True)
class Switch:
    """Neighbouring values of a one-at-a-time target whose lease plans differ."""

    sweep: str
    design: str
    target: Target
    low: CurvePoint
    high: CurvePoint

    @property
    def low_value(self) -> float:
        return self.low.value

    @property
    def high_value(self) -> float:
        return self.high.value


def curves(problem: Problem, points: Sequence[Point], outcomes: Mapping[int, Outcome]
           ) -> dict[tuple[str, str], tuple[Target, list[CurvePoint]]]:
    """(sweep, target name) -> the target and its numeric points in value order, base included."""
    base = next((p for p in points if p.run == 0), None)
    found: dict[tuple[str, str], tuple[Target, list[CurvePoint]]] = {}
    for point in points:
        if point.varied is None or point.run not in outcomes:
            continue
        target, value = point.changes[0]
        if not isinstance(value, int | float):
            continue
        key = (point.sweep, point.varied)
        if key not in found:
            found[key] = (target, [])
            at_base = base_value(problem, target)
            if base is not None and at_base is not None and base.run in outcomes:
                found[key][1].append(CurvePoint(at_base, base, outcomes[base.run]))
        found[key][1].append(CurvePoint(float(value), point, outcomes[point.run]))
    for _, line in found.values():
        line.sort(key=lambda c: (c.value, not c.is_base, c.point.run))
    return found


def plan_switches(problem: Problem, points: Sequence[Point], outcomes: Mapping[int, Outcome]) -> list[Switch]:
    """Every pair of neighbouring values (both with a plan) between which the lease plan changes."""
    switches = []
    for (sweep, _), (target, line) in curves(problem, points, outcomes).items():
        planned = [c for c in line if c.outcome.has_plan]
        for low, high in itertools.pairwise(planned):
            if low.value != high.value and low.outcome.lease_plan != high.outcome.lease_plan:
                design = high.point.design if not high.is_base else low.point.design
                switches.append(Switch(sweep, design, target, low, high))
    return switches


def tornado(problem: Problem, points: Sequence[Point], outcomes: Mapping[int, Outcome],
            metric: str = "expected_cost_usd") -> pd.DataFrame:
    """Per one-at-a-time target: ``metric`` at its lowest and highest value against the base run,
    largest swing first (the bars of a tornado chart). ``swing`` spans the low, high and base
    results, so a target with one value swings from the base to it."""
    base = outcomes.get(0)
    base_metric = getattr(base, metric) if base is not None and base.has_plan else None
    rows = []
    for (sweep, name), (target, line) in curves(problem, points, outcomes).items():
        planned = [c for c in line if c.outcome.has_plan and not c.is_base]
        if not planned:
            continue
        low, high = planned[0], planned[-1]
        low_metric, high_metric = getattr(low.outcome, metric), getattr(high.outcome, metric)
        # The bar spans the low and high values' results and the base between or beside them.
        span = [low_metric, high_metric] + ([base_metric] if base_metric is not None else [])
        rows.append({
            "sweep": sweep, "target": name, "base_value": base_value(problem, target),
            "low_value": low.value, "high_value": high.value,
            f"base_{metric}": base_metric, f"low_{metric}": low_metric, f"high_{metric}": high_metric,
            "low_change": None if base_metric is None else low_metric - base_metric,
            "high_change": None if base_metric is None else high_metric - base_metric,
            "swing": max(span) - min(span),
        })
    columns = ["sweep", "target", "base_value", "low_value", "high_value", f"base_{metric}", f"low_{metric}",
               f"high_{metric}", "low_change", "high_change", "swing"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("swing", ascending=False, ignore_index=True, kind="stable")


def curve_table(problem: Problem, points: Sequence[Point], outcomes: Mapping[int, Outcome],
                gpu_types: Sequence[str]) -> pd.DataFrame:
    """Every one-at-a-time target's runs in value order (base included): for line charts of cost
    and share served against the swept value."""
    rows = []
    for (sweep, name), (_, line) in curves(problem, points, outcomes).items():
        for c in line:
            o = c.outcome
            row = {"sweep": sweep, "target": name, "value": c.value, "is_base": c.is_base, "run": c.point.run,
                   "status": o.status, "has_plan": o.has_plan}
            row.update({metric: getattr(o, metric) for metric in CURVE_METRICS})
            row.update({f"gpus_leased[{g}]": o.gpus_leased.get(g) if o.has_plan else None for g in gpu_types})
            rows.append(row)
    columns = ["sweep", "target", "value", "is_base", "run", "status", "has_plan", *CURVE_METRICS,
               *[f"gpus_leased[{g}]" for g in gpu_types]]
    return pd.DataFrame(rows, columns=columns)


def grid_table(sweep: Sweep, runs: pd.DataFrame, metric: str = "expected_cost_usd") -> pd.DataFrame:
    """A two-target grid as a table: rows the first target's values, columns the second's."""
    if sweep.design != "grid" or len(sweep.targets) != 2:
        raise ValueError(f"sweep {sweep.name!r}: a grid table needs a grid design of two targets "
                         f"(found {sweep.design} of {len(sweep.targets)})")
    first, second = (target.name for target in sweep.targets)
    frame = runs[(runs["sweep"] == sweep.name) & ~runs["refinement"]]
    table = frame.pivot_table(index=first, columns=second, values=metric, aggfunc="first", dropna=False)
    return table.reindex(index=list(dict.fromkeys(sweep.targets[0].values)),
                         columns=list(dict.fromkeys(sweep.targets[1].values)))


def _by_offer(plan: Mapping[tuple[str, str, str], int]) -> dict[tuple[str, str, str], int]:
    totals: dict[tuple[str, str, str], int] = {}
    for (scenario, offer_id, _), blocks in plan.items():
        totals[scenario, offer_id, ""] = totals.get((scenario, offer_id, ""), 0) + blocks
    return totals


def decisions(problem: Problem, points: Sequence[Point], outcomes: Mapping[int, Outcome],
              level: Literal["line", "offer"] = "line") -> pd.DataFrame:
    """Lease lines that appear, disappear or change size between neighbouring one-at-a-time values.

    One row per (switch, lease line): the plan holds ``blocks_before`` at ``from_value`` and
    ``blocks_after`` at ``to_value``; the break-even lies between the two (``break_even_value`` is
    the midpoint: sweep with ``refine`` to narrow the bracket). A lease line is a (scenario, offer,
    start month), scenario ``all`` for what is signed now (every line of a two-stage plan), else the
    world that signs it once known; ``level="offer"`` adds up each offer's blocks over its start months
    instead (blank ``start_month``), which hides changes of timing alone.
    """
    offers = {o.offer_id: o for o in problem.lease_offers}
    rows = []
    for switch in plan_switches(problem, points, outcomes):
        before, after = switch.low.outcome.lease_plan, switch.high.outcome.lease_plan
        if level == "offer":
            before, after = _by_offer(before), _by_offer(after)
        for key in sorted(set(before) | set(after), key=lambda k: (k[0] != ALL_SCENARIOS, k[0], k[2], k[1])):
            old, new = before.get(key, 0), after.get(key, 0)
            if old == new:
                continue
            scenario, offer_id, start_month = key
            offer = offers.get(offer_id)
            block = offer.gpus_per_block if offer else 0
            change = "appears" if old == 0 else "disappears" if new == 0 else "grows" if new > old else "shrinks"
            rows.append({
                "sweep": switch.sweep, "target": switch.target.name, "from_value": switch.low_value,
                "to_value": switch.high_value, "break_even_value": (switch.low_value + switch.high_value) / 2,
                "scenario": scenario, "offer_id": offer_id, "gpu_type": offer.gpu_type if offer else "",
                "site": offer.site if offer else "", "start_month": start_month, "change": change,
                "blocks_before": old, "blocks_after": new, "gpus_before": old * block, "gpus_after": new * block,
                "from_run": switch.low.point.run, "to_run": switch.high.point.run,
            })
    columns = ["sweep", "target", "from_value", "to_value", "break_even_value", "scenario", "offer_id", "gpu_type",
               "site", "start_month", "change", "blocks_before", "blocks_after", "gpus_before", "gpus_after",
               "from_run", "to_run"]
    return pd.DataFrame(rows, columns=columns)
