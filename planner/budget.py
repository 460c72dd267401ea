"""What a budget buys: tokens served, cash spent and value per scenario, and the value of one more dollar.

:class:`BudgetAnalytics` is mixed into :class:`~planner.results.PlanResult`. Settings ``objective`` =
``max_value_within_budget`` (budget mode) maximises the expected value of tokens served (revenue per
million tokens) less cash cost, within ``max_cash_spend_usd`` (nominal cash paid in the horizon, in every
scenario) and/or ``max_total_commitment_usd``; either cap may also bind a min_cost plan. The value of one
more dollar of cash budget is the dual of the ``cash_budget`` rows in the LP with every integer decision
(leases, programs, policies) fixed at the plan: what it buys month by month (on-demand GPUs, less
throttling).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import ValidationError

from planner.analytics import SPEND_CATEGORIES, money
from planner.errors import InputError, InputIssue, describe
from planner.schema import Problem, Settings
from planner.units import tokens_text

if TYPE_CHECKING:
    from planner.results import PlanResult

MIN_COST, MAX_VALUE = "min_cost", "max_value_within_budget"
OUTCOME_COLUMNS = ("scenario", "probability", "demand_tokens", "served_tokens", "served_share", "revenue_served_usd",
                   "cash_spend_usd", "max_cash_spend_usd", "value_npv_usd", "value_of_one_more_usd")
EXPECTED = "expected"
COMMITMENT_DUAL_NOTE = ("n/a: the commitment cap binds whole lease blocks only, which are fixed when duals are "
                        "read; sweep max_total_commitment_usd to price it")


def with_budget(problem: Problem, *, objective: str | None = None, max_cash_spend_usd: float | None = None) -> Problem:
    """``problem`` with its Settings ``objective`` and/or ``max_cash_spend_usd`` replaced (the CLI's
    ``--objective`` and ``--max-cash-spend``), validated like the workbook: an InputError names the option."""
    updates: dict[str, Any] = {}
    if objective is not None:
        updates["objective"] = objective
    if max_cash_spend_usd is not None:
        updates["max_cash_spend_usd"] = max_cash_spend_usd
    if not updates:
        return problem
    option = {"objective": "--objective", "max_cash_spend_usd": "--max-cash-spend"}
    try:
        settings = Settings.model_validate({**problem.settings.model_dump(), **updates})
    except ValidationError as error:
        issues = [InputIssue("command line", option.get(str(e["loc"][0]), str(e["loc"][0])),
                             describe(updates.get(str(e["loc"][0]))), e["msg"]) for e in error.errors()]
        raise InputError(issues) from None
    fields = {name: getattr(problem, name) for name in problem.model_fields_set}  # absent tables stay absent
    try:
        return Problem(**{**fields, "settings": settings})
    except InputError as error:
        raise InputError([InputIssue("command line", option.get(i.column, i.column), i.found, i.expected)
                          if i.sheet == Settings.TABLE else i for i in error.issues]) from None


class BudgetAnalytics:
    """Budget views of a plan (see the module docstring); mixed into ``PlanResult``."""

    @property
    def has_budget_view(self: PlanResult) -> bool:
        """Budget mode, or a cash or commitment cap: the report and summary show what the budget buys."""
        d = self.data
        return d.maximises_value or d.has_cash_budget or d.has_budget

    def budget_outcomes(self: PlanResult) -> pd.DataFrame:
        """Per scenario, then the probability-weighted row ``expected``: tokens demanded and served, the
        revenue of tokens served (nominal), the cash paid in the horizon (nominal: leases, upfront,
        commitments, on-demand, programs, less credits) against the cash cap, the value (NPV of revenue
        served less cash cost and goodwill: what budget mode maximises), and what one more dollar of cash
        budget is worth in that world (NPV; blank without a cash budget or duals)."""
        d = self.data
        scenarios = self._planned_scenarios
        if not scenarios:
            return pd.DataFrame(columns=list(OUTCOME_COLUMNS))
        index = {label: t for t, label in enumerate(self.problem.month_labels)}
        tokens = self.tokens()
        revenue = tokens["served_tokens"] / 1e6 * tokens["workload"].map(
            {w.name: w.revenue_usd_per_million_tokens for w in self.problem.workloads})
        discount = tokens["month"].map(lambda label: d.discount(index[label]))
        tokens = tokens.assign(revenue=revenue, revenue_npv=revenue * discount)
        by_tokens = tokens.groupby("scenario")[["demand_tokens", "served_tokens", "revenue", "revenue_npv"]].sum()
        costs = self.costs()
        cash = costs[costs["category"].isin(SPEND_CATEGORIES)]
        cash_in_horizon = cash[cash["in_horizon"]].groupby("scenario")["cost_usd"].sum()
        charged = costs[costs["category"].isin((*SPEND_CATEGORIES, "goodwill"))].groupby("scenario")["discounted_usd"]
        charged_npv = charged.sum()
        duals = self.duals.get("cash_budget", {})
        weights = self.scenario_weights()
        cap = None if d.max_cash_spend_musd is None else d.max_cash_spend_musd * 1e6
        rows = []
        for s in scenarios:
            demand, served = float(by_tokens.loc[s, "demand_tokens"]), float(by_tokens.loc[s, "served_tokens"])
            rows.append({
                "scenario": s, "probability": d.probability[s], "demand_tokens": demand, "served_tokens": served,
                "served_share": served / demand if demand > 0 else math.nan,
                "revenue_served_usd": float(by_tokens.loc[s, "revenue"]),
                "cash_spend_usd": float(cash_in_horizon.get(s, 0.0)),
                "max_cash_spend_usd": math.nan if cap is None else cap,
                "value_npv_usd": float(by_tokens.loc[s, "revenue_npv"]) - float(charged_npv.get(s, 0.0)),
                "value_of_one_more_usd": abs(duals[s]) / weights[s] if s in duals else math.nan,
            })
        frame = pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))
        weighted = [c for c in OUTCOME_COLUMNS if c not in ("scenario", "probability", "served_share",
                                                            "max_cash_spend_usd", "value_of_one_more_usd")]
        expected = frame[weighted].mul(frame["probability"], axis=0).sum()
        label = EXPECTED if EXPECTED not in scenarios else f"{EXPECTED} (probability-weighted)"
        frame.loc[len(frame)] = {
            "scenario": label, "probability": 1.0, **expected.to_dict(),
            "served_share": expected["served_tokens"] / expected["demand_tokens"] if expected["demand_tokens"] > 0
            else math.nan,
            "max_cash_spend_usd": math.nan if cap is None else cap,
            "value_of_one_more_usd": self.value_of_one_more_budget_dollar(),
        }
        return frame

    def value_of_one_more_budget_dollar(self: PlanResult) -> float:
        """What one more (nominal) dollar of ``max_cash_spend_usd`` adds to the objective, in expected NPV
        dollars: the sum of the ``cash_budget`` rows' duals with every integer decision fixed (the cap holds
        in every scenario, so one more dollar relaxes every row). NaN without a cash budget or duals."""
        duals = self.duals.get("cash_budget", {})
        return float(sum(abs(v) for v in duals.values())) if duals else math.nan

    def budget_figures(self: PlanResult) -> pd.DataFrame:
        """The budget in figures: item, value, unit (objective, caps, cash spent, commitment signed, value,
        tokens served, what one more dollar is worth)."""
        d = self.data
        rows: list[tuple[str, Any, str]] = [("Objective", self.problem.settings.objective, "")]
        if d.has_cash_budget:
            rows.append(("Cash budget in every scenario (nominal, in the horizon)", d.max_cash_spend_musd * 1e6,
                         "USD"))
        if d.has_budget:
            rows.append(("Commitment cap (all payments of new leases)", d.max_total_commitment_musd * 1e6, "USD"))
        if self.has_plan:
            outcomes = self.budget_outcomes()
            expected = outcomes.iloc[-1]
            per_world = outcomes.iloc[:-1]
            rows += [("Largest cash spend of any scenario (nominal, in the horizon)",
                      float(per_world["cash_spend_usd"].max()), "USD")]
            if d.has_budget:
                rows.append(("Largest new lease commitment of any scenario",
                             float(self.lease_totals_by_scenario()["total_commitment_usd"].max()), "USD"))
            rows += [("Expected value: revenue of tokens served less cash cost and goodwill (NPV)",
                      float(expected["value_npv_usd"]), "USD"),
                     ("Expected tokens served", float(expected["served_tokens"]), "tokens"),
                     ("Expected share of demand served", float(expected["served_share"]), "%")]
            if d.has_cash_budget:
                rows.append(("Value of one more dollar of cash budget (expected NPV per nominal USD)",
                             self.value_of_one_more_budget_dollar(), "USD per USD"))
            if d.has_budget:
                rows.append(("Value of one more dollar of commitment cap", COMMITMENT_DUAL_NOTE, ""))
        return pd.DataFrame([{"item": i, "value": v, "unit": u} for i, v, u in rows], columns=["item", "value", "unit"])

    def headline_budget(self: PlanResult) -> list[str]:
        """What the budget buys, in words: tokens served in each world for the cash spent, the expected
        value, and what one more dollar of budget is worth."""
        if not self.has_budget_view or not self.has_plan:
            return []
        d = self.data
        outcomes = self.budget_outcomes()
        caps = []
        if d.has_cash_budget:
            caps.append(f"cash {money(d.max_cash_spend_musd * 1e6)} per scenario (nominal, in the horizon)")
        if d.has_budget:
            caps.append(f"new lease commitment {money(d.max_total_commitment_musd * 1e6)}")
        mode = "maximise the value of tokens served less cash cost" if d.maximises_value else "minimise cost"
        lines = [f"budget: {mode} within " + " and ".join(caps)]
        for row in outcomes.iloc[:-1].itertuples():
            lines.append(f"{row.scenario}: {tokens_text(row.served_tokens)} served ({row.served_share:.0%} of demand) "
                         f"for {money(row.cash_spend_usd)} cash; value {money(row.value_npv_usd)} (NPV)")
        expected = outcomes.iloc[-1]
        lines.append(f"expected value {money(expected['value_npv_usd'])} (NPV)")
        if d.has_cash_budget:
            more = self.value_of_one_more_budget_dollar()
            lines.append("one more dollar of cash budget is worth "
                         + (f"${more:,.2f} (expected NPV)" if math.isfinite(more) else "n/a (no duals for this run)"))
        return lines

    def budget_summary(self: PlanResult) -> dict[str, Any]:
        """JSON-ready: the objective, and (with a budget or in budget mode) the budget figures and the
        outcome of each scenario; ``budget`` is None otherwise."""
        if not self.has_budget_view or not self.has_plan:
            return {"objective": self.problem.settings.objective, "budget": None}
        figures = {row.item: row.value for row in self.budget_figures().itertuples()}
        return {"objective": self.problem.settings.objective,
                "budget": {"figures": figures, "value_of_one_more_usd": self.value_of_one_more_budget_dollar(),
                           "outcomes": self.budget_outcomes().to_dict(orient="records")}}
