"""Views of a plan derived from its base tables: by month, per scenario, and in plain words.

:class:`PlanAnalytics` is mixed into :class:`~planner.results.PlanResult`, so every view here is a
result method (``result.capacity_by_month()``, ``result.warnings()``): the Python API, the CLI's
``--json`` and the Excel report all read the same numbers. Nothing here reads the model; every
view is computed from the result's base tables (``capacity()``, ``tokens()``, ``costs()``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.signings import describe_signing
from planner.units import gap_text, tokens_text

if TYPE_CHECKING:
    from planner.results import PlanResult

COST_CATEGORIES = ("leases", "upfront", "commitments", "on_demand", "credits", "efficiency", "throttling",
                   "unserved", "goodwill")
"""Cost categories in report order; credits are negative (they reduce cost); efficiency (programs) only
shows when the input has efficiency programs."""
SPEND_CATEGORIES = ("leases", "upfront", "commitments", "on_demand", "credits", "efficiency")
"""Categories that are money actually paid for compute and serving: the cash cost (credits reduce it)."""
DEMAND_NOT_SERVED_CATEGORIES = ("throttling", "unserved", "goodwill")
"""Categories that are no payment but the value of demand not served: the economic cost."""
EXPECTED = "expected"
"""The label of the probability-weighted row of :meth:`PlanAnalytics.cash_and_economic_costs`."""
LEASE_CATEGORIES = ("leases", "upfront")
"""The new leases' payments: their term payments and upfront payments at signing."""

REPORT_TABLES = (
    "key_figures", "cash_and_economic_costs", "leases", "lease_schedule_by_month", "lease_payments",
    "capacity_by_month", "capacity", "expected_cost_by_month", "npv_by_scenario", "costs", "usd_per_million_tokens",
    "on_demand", "credit_summary", "credits", "policy_by_month", "tokens", "power", "scenario_outcomes",
    "marginal_values", "throughput_as_modelled", "model_size",
)
"""Every table the plan report shows, by the result method that makes it."""


def _frame(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(columns))


def _sum_by(frame: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=columns, index=pd.MultiIndex.from_tuples([], names=keys), dtype=float)
    return frame.groupby(keys, sort=False)[columns].sum()


def money(value: float | None) -> str:
    """``$1,234`` (or ``n/a``) for plain-language lines."""
    return "n/a" if value is None or not math.isfinite(value) else f"${value:,.0f}"


class PlanAnalytics:
    """Derived views of a plan (see the module docstring); mixed into ``PlanResult``."""

    def _month_grid(self: PlanResult) -> pd.MultiIndex:
        return pd.MultiIndex.from_product([self.data.scenarios, self.problem.month_labels],
                                          names=["scenario", "month"])

    def cost_categories(self: PlanResult) -> list[str]:
        """The cost categories this plan's tables show: all, but efficiency only with efficiency programs."""
        return [c for c in COST_CATEGORIES if c != "efficiency" or self.data.has_programs]

    def finite_gap(self: PlanResult) -> float | None:
        """The relative MIP gap, or None when the solver gave none."""
        gap = self.mip_gap
        return None if gap is None or not math.isfinite(gap) else gap

    # ---- by month ------------------------------------------------------------------------------
    def capacity_by_month(self: PlanResult) -> pd.DataFrame:
        """Per scenario and month (every month, scenarios in model order), all GPU types together:
        committed GPUs, used, on-demand, idle, utilisation, demand and tokens served."""
        grid = self._month_grid()
        cap = _sum_by(self.capacity(), ["scenario", "month"], ["gpus_installed", "gpus_used"])
        od = _sum_by(self.on_demand(), ["scenario", "month"], ["gpus"])
        tokens = _sum_by(self.tokens(), ["scenario", "month"], ["demand_tokens", "served_tokens"])
        frame = pd.concat([cap, od, tokens], axis=1).reindex(grid).astype(float).fillna(0.0)
        out = pd.DataFrame({
            "committed_gpus": frame["gpus_installed"],
            "used_committed_gpus": frame["gpus_used"],
            "on_demand_gpus": frame["gpus"],
            "in_use_gpus": frame["gpus_used"] + frame["gpus"],
            "idle_gpus": (frame["gpus_installed"] - frame["gpus_used"]).clip(lower=0.0),
            "utilisation": frame["gpus_used"] / frame["gpus_installed"].where(frame["gpus_installed"] > 1e-9),
            "demand_tokens": frame["demand_tokens"],
            "served_tokens": frame["served_tokens"],
        }, index=grid)
        return out.reset_index()

    def expected_cost_by_month(self: PlanResult) -> pd.DataFrame:
        """Probability-weighted nominal cost per month (also months after the horizon) and category."""
        costs = self.costs()
        months = sorted(set(self.problem.month_labels) | set(costs["month"]))
        weighted = costs.assign(weighted=costs["cost_usd"] * costs["scenario"].map(self.data.probability))
        wide = weighted.pivot_table(index="month", columns="category", values="weighted", aggfunc="sum",
                                    fill_value=0.0) if not costs.empty else pd.DataFrame(index=months)
        categories = self.cost_categories()
        wide = wide.reindex(index=months, columns=categories, fill_value=0.0).fillna(0.0)
        wide.columns = [f"{c}_usd" for c in categories]
        wide["total_usd"] = wide.sum(axis=1)
        in_horizon = set(self.problem.month_labels)
        wide.insert(0, "in_horizon", [m in in_horizon for m in months])
        wide.index.name = "month"
        return wide.reset_index()

    def policy_by_month(self: PlanResult) -> pd.DataFrame:
        """Per scenario and month: the policy in force, tokens throttled and unserved, and what it cost."""
        grid = self._month_grid()
        policies = self.policies().drop_duplicates(["scenario", "month"]).set_index(["scenario", "month"])["policy"]
        tokens = _sum_by(self.tokens(), ["scenario", "month"],
                         ["demand_tokens", "served_tokens", "throttled_tokens", "throttling_cost_usd",
                          "unserved_tokens", "unserved_cost_usd"])
        costs = self.costs()
        goodwill = costs[costs["category"] == "goodwill"].groupby(["scenario", "month"])["cost_usd"].sum()
        frame = tokens.reindex(grid).astype(float).fillna(0.0)
        in_force = policies.reindex(grid)
        frame.insert(0, "policy", in_force.astype(object).where(in_force.notna(), None))
        frame["goodwill_usd"] = goodwill.reindex(grid).astype(float).fillna(0.0)
        return frame.reset_index()

    def lease_schedule_by_month(self: PlanResult) -> pd.DataFrame:
        """Payments of the new leases per month (also after the horizon: take-or-pay), upfront included.

        ``payment_usd`` is the expected payment: each world's lease and upfront costs weighted by its
        probability (a two-stage plan pays the same in every world); ``leases_signed`` counts the signings
        paying in the month in any world.
        """
        payments = self.lease_payments()
        if payments.empty:
            return _frame([], ["month", "in_horizon", "leases_signed", "payment_usd"])
        costs = self.costs()
        leases = costs[costs["category"].isin(LEASE_CATEGORIES)]
        expected = (leases["cost_usd"] * leases["scenario"].map(self.data.probability)).groupby(leases["month"]).sum()
        grouped = payments.groupby("month", sort=True).agg(
            in_horizon=("in_horizon", "first"), leases_signed=("offer_id", "size"))
        grouped["payment_usd"] = expected.reindex(grouped.index).fillna(0.0)
        return grouped.reset_index()

    # ---- per scenario --------------------------------------------------------------------------
    def npv_by_scenario(self: PlanResult) -> pd.DataFrame:
        """NPV per scenario and category; ``npv_usd`` is the scenario's total (the model's scenario cost)."""
        categories = self.cost_categories()
        table = self.cost_by_category().reindex(index=self.data.scenarios, columns=categories,
                                                fill_value=0.0).fillna(0.0)
        table.columns = [f"{c}_usd" for c in categories]
        table["npv_usd"] = table.sum(axis=1)
        table.insert(0, "probability", [self.data.probability[s] for s in table.index])
        table.index.name = "scenario"
        return table.reset_index()

    def cash_and_economic_costs(self: PlanResult) -> pd.DataFrame:
        """What each scenario costs in cash and in demand not served, then the expectation.

        One row per scenario, then a last row ``expected`` (probability-weighted; its shares are of
        the expected demand). ``cash_npv_usd``: NPV of what is paid (leases, upfront, existing
        commitments, on-demand, efficiency programs, less credits); ``demand_not_served_npv_usd``: NPV of the value of
        demand not served (revenue lost to throttling, the unserved penalty, goodwill), no payment;
        ``npv_usd``: their sum, the scenario's cost in the objective. ``cash_nominal_usd``: every
        cash payment undiscounted, lease payments after the horizon included. Shares are of the
        scenario's token demand.
        """
        columns = ["scenario", "probability", "cash_npv_usd", "demand_not_served_npv_usd", "npv_usd",
                   "cash_nominal_usd", "served_share", "throttled_share", "unserved_share"]
        scenarios = self._planned_scenarios
        if not scenarios:
            return _frame([], columns)
        costs = self.costs()
        cash = costs[costs["category"].isin(SPEND_CATEGORIES)].groupby("scenario")
        economic = costs[costs["category"].isin(DEMAND_NOT_SERVED_CATEGORIES)].groupby("scenario")["discounted_usd"]
        tokens = self.tokens().groupby("scenario")[["demand_tokens", "served_tokens", "throttled_tokens",
                                                    "unserved_tokens"]].sum()
        sums = pd.DataFrame({
            "cash_npv_usd": cash["discounted_usd"].sum(), "demand_not_served_npv_usd": economic.sum(),
            "cash_nominal_usd": cash["cost_usd"].sum()}).reindex(scenarios).fillna(0.0)
        sums = pd.concat([sums, tokens.reindex(scenarios).fillna(0.0)], axis=1)
        probability = pd.Series({s: self.data.probability[s] for s in scenarios})
        sums.loc[EXPECTED if EXPECTED not in scenarios else f"{EXPECTED} (probability-weighted)"] = (
            sums.mul(probability, axis=0).sum())
        demand = sums["demand_tokens"].where(sums["demand_tokens"] > 0)
        out = pd.DataFrame({
            "scenario": sums.index, "probability": [*probability.tolist(), 1.0],
            "cash_npv_usd": sums["cash_npv_usd"], "demand_not_served_npv_usd": sums["demand_not_served_npv_usd"],
            "npv_usd": sums["cash_npv_usd"] + sums["demand_not_served_npv_usd"],
            "cash_nominal_usd": sums["cash_nominal_usd"], "served_share": sums["served_tokens"] / demand,
            "throttled_share": sums["throttled_tokens"] / demand, "unserved_share": sums["unserved_tokens"] / demand,
        })
        return out.reset_index(drop=True)[columns]

    def scenario_outcomes(self: PlanResult) -> pd.DataFrame:
        """One row per scenario: cost, demand served, throttling, unserved, wasted credits, utilisation, power."""
        costs = self.scenario_costs().set_index("scenario")
        tokens = self.tokens().groupby("scenario")[["demand_tokens", "served_tokens", "throttled_tokens",
                                                    "unserved_tokens", "throttling_cost_usd"]].sum()
        od = self.on_demand().groupby("scenario")["cost_usd"].sum()
        credits = self.credit_summary().groupby("scenario")["expired_unused_usd"].sum()
        util = self.capacity_by_month().groupby("scenario")["utilisation"].mean()
        power = self.power()
        peak = power.groupby("scenario")["share_of_cap"].max() if not power.empty else pd.Series(dtype=float)
        rows = []
        for s in self._planned_scenarios:
            t = tokens.loc[s] if s in tokens.index else None
            demand = float(t["demand_tokens"]) if t is not None else 0.0
            served = float(t["served_tokens"]) if t is not None else 0.0
            rows.append({
                "scenario": s, "probability": self.data.probability[s],
                "npv_usd": float(costs.loc[s, "npv_usd"]), "nominal_usd": float(costs.loc[s, "nominal_usd"]),
                "on_demand_cost_usd": float(od.get(s, 0.0)), "demand_tokens": demand, "served_tokens": served,
                "served_share": served / demand if demand > 0 else math.nan,
                "throttled_tokens": float(t["throttled_tokens"]) if t is not None else 0.0,
                "unserved_tokens": float(t["unserved_tokens"]) if t is not None else 0.0,
                "revenue_lost_usd": float(t["throttling_cost_usd"]) if t is not None else 0.0,
                "credits_expired_usd": float(credits.get(s, 0.0)),
                "mean_utilisation": float(util.get(s, math.nan)),
                "peak_power_share": float(peak.get(s, math.nan)),
            })
        return _frame(rows, ["scenario", "probability", "npv_usd", "nominal_usd", "on_demand_cost_usd",
                             "demand_tokens", "served_tokens", "served_share", "throttled_tokens", "unserved_tokens",
                             "revenue_lost_usd", "credits_expired_usd", "mean_utilisation", "peak_power_share"])

    # ---- in words and as JSON ------------------------------------------------------------------
    def summary(self: PlanResult) -> dict[str, Any]:
        """A JSON-ready summary: status (and in words), objective, gap, time, the cash cost apart from
        the cost of demand not served (per scenario and expected), what to sign now and every signing,
        the outcome of each scenario and the plain-language warnings."""
        split = self.cash_and_economic_costs()
        expected = split.iloc[-1] if self.has_plan else None
        return {
            "status": self.status,
            "status_text": self.status_in_words(),
            "message": self.message,
            "expected_cash_npv_usd": None if expected is None else float(expected["cash_npv_usd"]),
            "expected_demand_not_served_npv_usd": (
                None if expected is None else float(expected["demand_not_served_npv_usd"])),
            "cash_and_economic_costs": split.to_dict(orient="records"),
            "objective_usd": self.objective_usd,
            "expected_cost_usd": self.expected_cost_usd,
            "best_bound_usd": self.best_bound_usd,
            "mip_gap": None if self.mip_gap is None or math.isnan(self.mip_gap) else self.mip_gap,
            "solve_seconds": self.timings.get("solve_seconds"),
            "build_seconds": self.timings.get("build_seconds"),
            "scenario_costs_usd": (
                self.scenario_costs().set_index("scenario")["npv_usd"].to_dict() if self.has_plan else {}
            ),
            "reveal_month": self.problem.settings.reveal_month,
            "sign_now": self.sign_now().to_dict(orient="records") if self.has_plan else [],
            "leases": self.leases().to_dict(orient="records") if self.has_plan else [],
            "signing_summary": self.signing_summary().to_dict(orient="records") if self.has_plan else [],
            "scenario_outcomes": self.scenario_outcomes().to_dict(orient="records") if self.has_plan else [],
            "warnings": self.warnings(),
            "diagnosis": self.diagnosis,
            **self.programs_summary(),
            **self.budget_summary(),
        }

    def headline_decisions(self: PlanResult, *, later: bool = True) -> list[str]:
        """The lease decisions in words, "sign now" first: 'sign 12 blocks of COL-H100 (12,288 H100 at
        Colossus) from 2025-03 for 12 months at $2.60/GPU-hour'; then (unless ``later=False``) each later
        signing with the world it belongs to: 'in 80x (known from 2025-04): sign ...'."""
        lines = [describe_signing(row) for row in self.sign_now().itertuples()]
        if later:
            tree = self.data.tree
            known_from = {tree.label(n.node_id): self.month_label(n.first_month) for n in tree.nodes}
            lines += [f"in {row.scenario} (known from {known_from[row.scenario]}): {describe_signing(row)}"
                      for row in self.sign_later().itertuples()]
        return lines

    # ---- figures -------------------------------------------------------------------------------
    def lease_commitment_usd(self: PlanResult) -> float:
        """Every payment of the new leases, upfront included, also after the horizon (undiscounted); with a
        plan that learns, the expectation over the worlds (each signs now and its own later signings)."""
        totals = self.lease_totals_by_scenario()
        return float((totals["total_commitment_usd"] * totals["probability"]).sum())

    def gpus_leased(self: PlanResult) -> int:
        """GPUs in all new lease blocks; with a plan that learns, the expectation over the worlds (rounded)."""
        totals = self.lease_totals_by_scenario()
        return round(float((totals["gpus_signed"] * totals["probability"]).sum()))

    def expected_credits_wasted_usd(self: PlanResult) -> float:
        """Credits expected (probability-weighted) to expire unused inside the horizon."""
        summary = self.credit_summary()
        if summary.empty:
            return 0.0
        return float((summary["expired_unused_usd"] * summary["scenario"].map(self.data.probability)).sum())

    def key_figures(self: PlanResult) -> pd.DataFrame:
        """The solve in figures: item, value, unit (status, cash and demand-not-served costs, leases,
        objective, bound, gap, times, horizon); the status in words is :meth:`status_in_words`."""
        rows: list[tuple[str, Any, str]] = [("Status", self.status, "")]
        if self.has_plan:
            expected = self.cash_and_economic_costs().iloc[-1]
            rows += [("Expected cash cost (NPV)", expected["cash_npv_usd"], "USD"),
                     ("Expected cost of demand not served (NPV)", expected["demand_not_served_npv_usd"], "USD"),
                     ("Expected share of demand served", expected["served_share"], "%"),
                     ("New lease commitment (all payments)", self.lease_commitment_usd(), "USD"),
                     ("New GPUs leased (all blocks)", self.gpus_leased(), "GPUs")]
            if self.is_multi_stage:
                now = self.sign_now()
                rows += [("Lease commitment signed now (every scenario)",
                          float(now["total_commitment_usd"].sum()), "USD"),
                         ("GPUs signed now (every scenario)", int(now["gpus"].sum()), "GPUs")]
            objective = ("Objective (NPV: minus the value of tokens served less cash cost and goodwill)"
                         if self.data.maximises_value else "Objective (NPV: cash + demand not served)")
            rows.append((objective, self.objective_usd, "USD"))
            if self.cvar_usd is not None:
                rows += [("Expected cost (NPV, probability-weighted)", self.expected_cost_usd, "USD"),
                         ("CVaR of cost (NPV)", self.cvar_usd, "USD")]
            rows += [("Lowest possible objective (bound)", self.best_bound_usd, "USD"),
                     ("Gap to the lowest possible objective", self.finite_gap(), "%")]
        labels = self.problem.month_labels
        rows += [("Solve time", self.timings.get("solve_seconds"), "seconds"),
                 ("Model build time", self.timings.get("build_seconds"), "seconds"),
                 ("Horizon", f"{labels[0]} to {labels[-1]} ({self.problem.settings.months} months)", "")]
        return _frame(({"item": i, "value": v, "unit": u} for i, v, u in rows), ["item", "value", "unit"])

    def model_size(self: PlanResult) -> pd.DataFrame:
        """Variables, constraints, integer variables and the time of each step: item, value, unit."""
        rows = [("Variables", self.num_variables, ""), ("Constraints", self.num_constraints, ""),
                ("Integer variables", self.num_integer_variables, "")]
        rows += [(f"{key.replace('_seconds', '').capitalize()} time", value, "seconds")
                 for key, value in self.timings.items()]
        return _frame(({"item": i, "value": v, "unit": u} for i, v, u in rows), ["item", "value", "unit"])

    def throughput_as_modelled(self: PlanResult) -> pd.DataFrame:
        """Tokens per second per GPU for every allowed (GPU type, workload), and where it came from."""
        problem = self.problem
        rows = []
        for w in problem.workloads:
            for g in problem.allowed_gpu_types(w):
                given = next((t for t in problem.throughput if t.gpu_type == g and t.workload == w.name), None)
                tps = problem.tokens_per_second_per_gpu(g, w.name)
                source = ("given" if given is not None and given.tokens_per_second_per_gpu is not None
                          else "from Throughput mfu" if given is not None else "from Settings default_mfu")
                rows.append({"gpu_type": g, "workload": w.name, "tokens_per_second_per_gpu": tps,
                             "source": source if tps else "no throughput: not used"})
        return _frame(rows, ["gpu_type", "workload", "tokens_per_second_per_gpu", "source"])

    def tables(self: PlanResult) -> dict[str, pd.DataFrame]:
        """Every table the plan report shows, by method name (empty tables without a plan)."""
        return {name: getattr(self, name)() for name in REPORT_TABLES}

    # ---- in words ------------------------------------------------------------------------------
    def status_in_words(self: PlanResult) -> str:
        """The outcome of the solve in plain words: optimal, stopped at the time limit (and how close
        the plan is to optimal), or why there is no plan."""
        gap = self.finite_gap()
        if self.status == "optimal":
            return "optimal plan" + (f" (within {gap_text(gap)} of the lowest possible cost)" if gap else "")
        if self.status == "time_limit" and self.has_plan:
            closeness = f"within {gap_text(gap)} of optimal" if gap is not None else "how far from optimal is unknown"
            return f"time limit reached: showing the best plan found, {closeness}"
        if self.status == "time_limit":
            return "time limit reached before any plan was found: allow more time"
        if self.status == "infeasible":
            return "no plan: the inputs cannot all be met; the reasons follow"
        return f"no plan: {self.message or self.status}"

    def warnings(self: PlanResult, *, about_status: bool = True) -> list[str]:
        """Plain-language warnings a reader must see: stopped early, unserved demand, wasted credits...

        ``about_status=False`` leaves out those that restate :meth:`status_in_words` (stopped at the
        time limit, no plan, a gap above the one asked for), for a reader who is shown it already.
        """
        out = self._status_warnings() if about_status else []
        settings = self.problem.settings
        if not self.has_plan:
            return out
        if settings.cvar_weight > 0:
            out.append(f"The objective blends expected cost with CVaR (weight {settings.cvar_weight:.0%}, "
                       f"alpha {settings.cvar_alpha:.0%}); it is not the expected cost.")
        tokens = self.tokens()
        if not tokens.empty:
            by = tokens.groupby("scenario")[["demand_tokens", "unserved_tokens", "throttled_tokens"]].sum()
            for s, row in by.iterrows():
                if row["demand_tokens"] > 0 and row["unserved_tokens"] > 1e-6 * row["demand_tokens"]:
                    out.append(f"Scenario {s}: {row['unserved_tokens'] / row['demand_tokens']:.1%} of demand "
                               f"({tokens_text(row['unserved_tokens'])}) is left unserved.")
        credits = self.credit_summary()
        if not credits.empty:
            weights = credits["scenario"].map(self.data.probability)
            wasted = (credits["expired_unused_usd"] * weights).groupby(credits["credit_id"]).sum()
            for credit, value in wasted.items():
                if value > 0.5:
                    out.append(f"Credit {credit}: {money(value)} expected to expire unused.")
        power = self.power()
        if not power.empty:
            at_cap = power[power["share_of_cap"] >= 0.999]
            for site, rows in at_cap.groupby("site"):
                out.append(f"Site {site} runs at its power cap in {len(rows)} scenario-months.")
        last = self.problem.month_labels[-1]
        leases = self.leases()
        beyond = leases[leases["end_month"] > last]
        if not beyond.empty:
            counted = "counted in" if settings.count_payments_beyond_horizon else "NOT counted in"
            out.append(f"{len(beyond)} lease(s) run past the horizon end {last}; payments after it are {counted} "
                       "the NPV.")
        if not self.duals:
            out.append("Marginal values are not available for this run.")
        return out

    def _status_warnings(self: PlanResult) -> list[str]:
        """Warnings about the solve itself: stopped at the time limit, no plan, a gap above the target."""
        out: list[str] = []
        gap = self.finite_gap()
        if self.status == "time_limit" and self.has_plan:
            closeness = f"up to {gap_text(gap)}" if gap is not None else "an unknown amount"
            out.append(f"The solve stopped at the time limit: this plan is the best found, {closeness} above the "
                       f"lowest possible cost (bound {money(self.best_bound_usd)}).")
        elif self.status == "infeasible":
            out.append("No plan: the inputs cannot all be met; the reasons found are listed under "
                       "'Why there is no plan'.")
        elif not self.has_plan:
            out.append(f"No plan: {self.status_in_words().removeprefix('no plan: ')}.")
        target = self.problem.settings.mip_gap
        if gap is not None and gap > target * (1 + 1e-9) and self.status == "optimal":
            out.append(f"The plan is within {gap_text(gap)} of the lowest possible cost, more than the "
                       f"{gap_text(target)} asked for.")
        return out

    def assumptions(self: PlanResult) -> list[str]:
        """How to read the numbers: money, discounting, horizon, take-or-pay, credits, utilisation."""
        s = self.problem.settings
        lines = [
            f"Money in nominal US dollars; NPV discounts month t by (1 + {s.discount_rate_per_year:.2%})^(-t/12) "
            f"to {s.first_month}.",
            f"Horizon: {s.months} months from {s.first_month}; {s.hours_per_month:g} billable hours per month.",
            "Lease blocks are take-or-pay for the whole term; upfront payments fall due at signing (the start "
            "month less the offer's lead time).",
            "Take-or-pay payments after the horizon (new leases and existing commitments) are "
            + ("counted." if s.count_payments_beyond_horizon else "not counted."),
            "Existing commitments, and the leases signed before the scenario is known, cost the same in every "
            "scenario; "
            + (f"from {s.reveal_month} each scenario signs its own leases; " if self.is_multi_stage else "")
            + "on-demand, credits, throttling, unserved demand and goodwill depend on the scenario.",

            "Credits appear as negative costs (they pay eligible spend).",
            "Utilisation = GPUs serving / GPUs installed (committed); usable = installed x availability factor; "
            "idle = installed - serving (paid for, not serving), which includes the unavailable share.",
            "Marginal values are duals of the LP with every integer decision fixed at the plan, per unit, in "
            "nominal USD of the month and scenario.",
        ]
        if self.is_multi_stage:
            lines.append("New lease commitment and GPUs leased are expectations over the scenarios, each with "
                         "its own later signings (probability-weighted).")
        if not self.problem.policies:
            lines.append("No rate-limit policies given: one implicit policy without limits is in force.")
        if absent := self.problem.absent_tables():
            lines.append("Optional tables not in the input (taken as empty): " + ", ".join(absent) + ".")
        return lines
