"""Explaining infeasibility: re-solve with penalised slack and name the months and constraints to blame."""

from __future__ import annotations

from itertools import groupby

import pyomo.environ as pyo
from pyomo.common.errors import InfeasibleConstraintException

from planner.highs import ModelRefusedError, solve_model
from planner.model import build_model
from planner.model.data import TOKENS_PER_UNIT, USD_PER_UNIT
from planner.schema import Problem, add_months
from planner.units import tokens_text

SLACK_TOLERANCE = 1e-6


def _month_ranges(first_month: str, months: list[int]) -> str:
    """'2025-03..2025-06, 2025-09' from month indices."""
    parts = []
    for _, run in groupby(enumerate(sorted(months)), key=lambda pair: pair[1] - pair[0]):
        block = [t for _, t in run]
        start, end = add_months(first_month, block[0]), add_months(first_month, block[-1])
        parts.append(start if start == end else f"{start}..{end}")
    return ", ".join(parts)


STILL_INFEASIBLE = ("the model stays infeasible even when demand may go unserved and the budget may be "
                    "exceeded: check offer min_blocks against max_provider_share")


def explain_infeasibility(problem: Problem, scenarios: list[str] | None = None, *,
                          threads: int | None = None) -> list[str]:
    """Sentences naming each violated rule, by constraint family, scenario, workload and months."""
    model = build_model(problem, scenarios, elastic=True)
    try:
        outcome = solve_model(model, time_limit_seconds=min(problem.settings.time_limit_seconds, 120.0),
                              mip_gap=problem.settings.mip_gap, threads=threads)
    except InfeasibleConstraintException:
        return [STILL_INFEASIBLE]
    except ModelRefusedError as error:
        return [f"the infeasibility could not be diagnosed: {error}"]
    if outcome.values is None:
        if outcome.status == "infeasible":
            return [STILL_INFEASIBLE]
        return [f"the infeasibility could not be diagnosed: {outcome.message}"]
    first = problem.settings.first_month
    reasons: list[str] = []
    short: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for (s, t, w), var in model.unserved_ttok.items():
        value = var.value
        if not model.data.unserved_allowed[w] and value > SLACK_TOLERANCE:
            short.setdefault((s, w), []).append((t, value))
    for (s, w), cells in short.items():
        tokens = sum(v for _, v in cells) * TOKENS_PER_UNIT
        reasons.append(
            f"demand_balance / throughput: workload '{w}' in scenario '{s}' cannot be fully served in "
            f"{_month_ranges(first, [t for t, _ in cells])} ({tokens_text(tokens)} short) and its "
            f"unserved_allowed is no: capacity, power caps, lead times or on-demand caps are too tight"
        )
    if model.data.has_budget and model.budget_overrun_musd.value > SLACK_TOLERANCE:
        over = pyo.value(model.budget_overrun_musd) * USD_PER_UNIT
        reasons.append(f"budget: the offers' minimum blocks need ${over:,.0f} more than "
                       f"max_total_commitment_usd allows")
    if model.data.has_cash_budget:  # cash_budget rows: a scenario needs more cash than max_cash_spend_usd allows
        for s, var in model.cash_overrun_musd.items():
            if var.value > SLACK_TOLERANCE:
                reasons.append(f"cash_budget: scenario '{s}' needs ${var.value * USD_PER_UNIT:,.0f} more cash in the "
                               "horizon than max_cash_spend_usd allows (existing commitments, minimum blocks or demand "
                               "that must be served)")
    if not reasons:
        reasons.append("the model is infeasible, but no single family could be blamed; check offer "
                       "min_blocks, max_provider_share and max_total_commitment_usd together")
    return reasons
