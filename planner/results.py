"""Results: the solved plan as a typed object with pandas DataFrame accessors (user units).

Values are read from the model once, right after the solve (``extract``), so a result stays valid
when the same model is re-solved later by a sweep. Every table is long-format with named columns
(scenario, month, gpu_type, site, ...) so it can be pivoted, plotted or written to Excel directly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyomo.environ as pyo

from planner.analytics import COST_CATEGORIES, SPEND_CATEGORIES, PlanAnalytics
from planner.budget import BudgetAnalytics
from planner.efficiency import ProgramAnalytics
from planner.model.costs import CVAR_TIE_BREAK_WEIGHT, counted_payment_months
from planner.model.data import GPUS_PER_UNIT, TOKENS_PER_UNIT, USD_PER_UNIT, ModelData
from planner.model.tree import ALL_SCENARIOS, ROOT
from planner.schema import Problem, add_months
from planner.signings import LeasePayments, lease_rows, payment_rows, signing_summary, world_totals


def _table(method: Callable[[PlanResult], pd.DataFrame]) -> Callable[[PlanResult], pd.DataFrame]:
    """Build a table once per result (the tables call one another, and the report reads each several
    times); every caller gets its own copy, free to change."""

    @functools.wraps(method)
    def cached(self: PlanResult) -> pd.DataFrame:
        if method.__name__ not in self._tables:
            self._tables[method.__name__] = method(self)
        return self._tables[method.__name__].copy()

    return cached


def _evaluated(component: Any) -> dict[Any, float]:
    """Index -> value of a solved Var, Expression or Param component, evaluated in Pyomo.

    A variable without a value after a solve that found a plan is a defect (every variable is a column
    HiGHS returns a value for): it raises rather than read as zero.
    """
    values = {}
    read: Callable[[Any], Any] = _var_value if component.ctype is pyo.Var else _any_value
    for index, item in component.items():
        value = read(item)
        if value is None:
            raise ValueError(f"{item.name} has no value after a solve with a plan: a variable was not "
                             "handed to the solver or its value was not read back")
        values[index] = value
    return values


def _var_value(var: Any) -> float | None:
    return var.value


def _any_value(item: Any) -> float | None:
    return pyo.value(item, exception=False)


@dataclass
class PlanResult(PlanAnalytics, ProgramAnalytics, BudgetAnalytics):
    """A solved (or failed) plan. ``status`` is optimal, time_limit, infeasible or error.

    The base tables below are read from the solved model; the views derived from them (by month,
    per scenario, warnings, key figures) are in :mod:`planner.analytics`, those of efficiency programs
    in :mod:`planner.efficiency` and of budgets in :mod:`planner.budget`. ``without_programs`` is the
    same problem solved with its efficiency programs switched off, when asked for
    (:func:`planner.efficiency.compare_without_programs`): what the programs save.
    """

    problem: Problem
    data: ModelData
    status: str
    message: str = ""
    objective_usd: float | None = None
    expected_cost_usd: float | None = None
    cvar_usd: float | None = None
    best_bound_usd: float | None = None
    mip_gap: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    solver_log_tail: list[str] = field(default_factory=list)
    diagnosis: list[str] = field(default_factory=list)
    num_variables: int = 0
    num_constraints: int = 0
    num_integer_variables: int = 0
    model: Any = None
    raw: dict[str, dict[Any, float]] = field(default_factory=dict)
    duals: dict[str, dict[Any, float]] = field(default_factory=dict)
    without_programs: PlanResult | None = None
    _tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def without_plan(cls, problem: Problem, data: ModelData, status: str, message: str) -> PlanResult:
        return cls(problem=problem, data=data, status=status, message=message)

    # ---- headline ------------------------------------------------------------------------------
    @property
    def has_plan(self) -> bool:
        return bool(self.raw)

    @property
    def _planned_scenarios(self) -> list[str]:
        """The scenarios the tables report on: all of them with a plan, none without one."""
        return list(self.data.scenarios) if self.has_plan else []

    @property
    def solve_seconds(self) -> float:
        return self.timings.get("solve_seconds", float("nan"))

    def month_label(self, t: int) -> str:
        return add_months(self.problem.settings.first_month, t)

    @property
    def is_multi_stage(self) -> bool:
        """Some lease signings wait for the scenario to be known (a reveal month inside the horizon)."""
        return not self.data.tree.is_two_stage

    def lease_plan_by_node(self) -> dict[tuple[str, str, int], int]:
        """Every lease decision: (scenario-tree node, offer id, start month index) -> blocks, non-zero
        only. ``ROOT`` holds the decisions common to every scenario (all of them in a two-stage plan)."""
        return {key: round(v) for key, v in self.raw.get("lease_blocks", {}).items() if round(v) > 0}

    def lease_plan(self, scenario: str | None = None) -> dict[tuple[str, int], int]:
        """(offer id, start month index) -> blocks, non-zero only: what ``scenario``'s world signs (at
        every node on its path), or without a scenario what every world signs (the root's decisions:
        the whole plan when it is two-stage, "sign now" when it is multi-stage)."""
        nodes = {ROOT} if scenario is None else set(self.data.tree.path(scenario))
        return {(o, k): blocks for (n, o, k), blocks in self.lease_plan_by_node().items() if n in nodes}

    # ---- tables --------------------------------------------------------------------------------
    @_table
    def leases(self) -> pd.DataFrame:
        """Every signing: one row per (scenario-tree node, offer, start month) with blocks > 0, "sign now"
        first. ``scenario`` is ``all`` for a decision common to every scenario, else the scenario (or
        scenarios) whose world signs it, once known; ``signing_month`` = start - the offer's lead time."""
        return lease_rows(self.problem, self.data.tree, self.lease_plan_by_node(), self._lease_payments_usd())

    def sign_now(self) -> pd.DataFrame:
        """The decisions common to every scenario (signed before the scenarios can be told apart):
        :meth:`leases` rows with scenario ``all``; every row of a two-stage plan."""
        leases = self.leases()
        return leases[leases["scenario"] == ALL_SCENARIOS].reset_index(drop=True)

    def sign_later(self) -> pd.DataFrame:
        """The signings that wait for information: :meth:`leases` rows of one world (or group of worlds),
        signed once it is known; empty for a two-stage plan."""
        leases = self.leases()
        return leases[leases["scenario"] != ALL_SCENARIOS].reset_index(drop=True)

    def signing_summary(self) -> pd.DataFrame:
        """Per world that signs (``all`` first): when it is known, signings, blocks, GPUs, total
        commitment, first and last signing month."""
        return signing_summary(self.problem, self.data.tree, self.leases())

    @_table
    def leases_by_scenario(self) -> pd.DataFrame:
        """Every world's leases: per scenario, the blocks signed at the nodes on its path; ``decided`` is
        ``now`` for a decision common to every scenario, ``later`` for one its world takes once known."""
        tree, plan, payments = self.data.tree, self.lease_plan_by_node(), self._lease_payments_usd()
        frames = []
        for s in self._planned_scenarios:
            frame = lease_rows(self.problem, tree, {key: v for key, v in plan.items() if key[0] in tree.path(s)},
                               payments)
            frame.insert(1, "decided", frame["scenario"].map(lambda label: "now" if label == ALL_SCENARIOS
                                                             else "later").astype(object))
            frames.append(frame.assign(scenario=s))
        if not frames:
            frame = lease_rows(self.problem, tree, {}, {})
            frame.insert(1, "decided", pd.Series(dtype=object))
            return frame
        return pd.concat(frames, ignore_index=True)

    def lease_totals_by_scenario(self) -> pd.DataFrame:
        """Per scenario: probability, GPUs and total commitment (every payment, upfront included) signed
        now (common to every scenario), later (once its world is known) and in all."""
        return world_totals(self.leases_by_scenario(),
                            {s: self.data.probability[s] for s in self._planned_scenarios})

    @_table
    def lease_payments(self) -> pd.DataFrame:
        """Monthly payment schedule of the new leases (also after the horizon: take-or-pay); ``scenario``
        as in :meth:`leases` (a world pays its own rows and those of ``all``)."""
        return payment_rows(self.problem, self.data.tree, self.lease_plan_by_node(), self._lease_payments_usd())

    def _lease_payments_usd(self) -> LeasePayments:
        """(monthly payment, upfront payment) of every signed lease decision, read from the model;
        rounded to a millionth of a dollar, which drops the float noise of the MUSD scaling."""
        monthly = self.raw.get("lease_monthly_payment_musd", {})
        upfront = self.raw.get("lease_signing_payment_musd", {})
        return {key: (round(monthly[key] * USD_PER_UNIT, 6), round(upfront[key] * USD_PER_UNIT, 6))
                for key in self.lease_plan_by_node()}

    @_table
    def capacity(self) -> pd.DataFrame:
        """GPUs installed (paid), usable (x availability) and used, per scenario, month, type, site.

        ``gpus_idle`` = installed - used: GPUs paid for but not serving, including the share lost to
        the availability factor (``gpus_unavailable``); ``utilisation`` = used / installed.
        """
        d, installed = self.data, self.raw.get("installed_kgpu", {})
        node_of = d.tree.node_of
        used: dict[tuple[str, int, str, str], float] = {}
        for (s, t, _w, g, site), v in self.raw.get("gpus_serving", {}).items():
            used[s, t, g, site] = used.get((s, t, g, site), 0.0) + v
        rows = []
        for s in self._planned_scenarios:
            for g, site, t in d.pools:
                kgpu = installed.get((node_of(s, t), g, site, t), 0.0)
                gpus_used = used.get((s, t, g, site), 0.0) * GPUS_PER_UNIT
                gpus = kgpu * GPUS_PER_UNIT
                usable = gpus * d.availability[g]
                rows.append({"scenario": s, "month": self.month_label(t), "gpu_type": g, "site": site,
                             "gpus_installed": gpus, "gpus_usable": usable,
                             "gpus_unavailable": gpus - usable, "gpus_used": gpus_used,
                             "gpus_idle": max(gpus - gpus_used, 0.0),
                             "utilisation": gpus_used / gpus if gpus > 1e-9 else float("nan")})
        return pd.DataFrame(rows, columns=["scenario", "month", "gpu_type", "site", "gpus_installed",
                                           "gpus_usable", "gpus_unavailable", "gpus_used", "gpus_idle",
                                           "utilisation"])

    def utilisation(self) -> pd.DataFrame:
        """Utilisation of committed capacity per scenario and month, all pools together."""
        cap = self.capacity()
        grouped = cap.groupby(["scenario", "month"], sort=True)[["gpus_installed", "gpus_used", "gpus_idle"]].sum()
        grouped["utilisation"] = grouped["gpus_used"] / grouped["gpus_installed"].where(grouped["gpus_installed"] > 0)
        return grouped.reset_index()

    @_table
    def on_demand(self) -> pd.DataFrame:
        """On-demand GPUs rented and their cost, per scenario, month and option."""
        d = self.data
        rented: dict[tuple[str, int, str], float] = {}
        for (s, t, _w, c), v in self.raw.get("od_serving", {}).items():
            rented[s, t, c] = rented.get((s, t, c), 0.0) + v
        rows = [{"scenario": s, "month": self.month_label(t), "option_id": c, "provider": d.od_provider[c],
                 "gpu_type": d.od_gpu_type[c], "gpus": v * GPUS_PER_UNIT,
                 "cost_usd": v * GPUS_PER_UNIT * d.od_price_usd_per_gpu_hour[c] * d.hours_per_month}
                for (s, t, c), v in sorted(rented.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2]))]
        return pd.DataFrame(rows, columns=["scenario", "month", "option_id", "provider", "gpu_type", "gpus",
                                           "cost_usd"])

    @_table
    def credits(self) -> pd.DataFrame:
        """Credit burn per scenario, month and credit, with the balance left after the month."""
        d = self.data
        used = self.raw.get("credit_used", {})
        rows = []
        for s in self._planned_scenarios:
            for r in d.credits:
                balance = d.credit_amount_musd[r] * USD_PER_UNIT
                for t in d.credit_months[r]:
                    applied = used.get((s, r, t), 0.0) * USD_PER_UNIT
                    balance -= applied
                    rows.append({"scenario": s, "month": self.month_label(t), "credit_id": r,
                                 "provider": d.credit_provider[r], "applied_usd": applied,
                                 "remaining_usd": max(balance, 0.0)})
        return pd.DataFrame(rows, columns=["scenario", "month", "credit_id", "provider", "applied_usd",
                                           "remaining_usd"])

    @_table
    def credit_summary(self) -> pd.DataFrame:
        """Per scenario and credit: amount, applied, wasted (expired unused inside the horizon), and
        what is still unused at the horizon's end for credits that expire later."""
        credit = {c.credit_id: c for c in self.problem.credits}
        last_month = self.month_label(len(self.data.months) - 1)
        burn = self.credits()
        rows = []
        for s in self._planned_scenarios:
            for r in self.data.credits:
                applied = float(burn.loc[(burn["scenario"] == s) & (burn["credit_id"] == r), "applied_usd"].sum())
                amount = credit[r].amount_usd
                unused = max(amount - applied, 0.0)
                expires_in_horizon = credit[r].expiry_month <= last_month
                rows.append({"scenario": s, "credit_id": r, "provider": credit[r].provider,
                             "expiry_month": credit[r].expiry_month, "amount_usd": amount,
                             "applied_usd": applied,
                             "expired_unused_usd": unused if expires_in_horizon else 0.0,
                             "unused_at_horizon_end_usd": 0.0 if expires_in_horizon else unused})
        return pd.DataFrame(rows, columns=["scenario", "credit_id", "provider", "expiry_month", "amount_usd",
                                           "applied_usd", "expired_unused_usd", "unused_at_horizon_end_usd"])

    @_table
    def policies(self) -> pd.DataFrame:
        """The rate-limit policy in force per scenario and month."""
        rows = [{"scenario": s, "month": self.month_label(t), "policy": p}
                for (s, t, p), v in self.raw.get("policy_on", {}).items() if v > 0.5]
        frame = pd.DataFrame(rows, columns=["scenario", "month", "policy"])
        return self._in_scenario_order(frame, ["month"])

    @_table
    def tokens(self) -> pd.DataFrame:
        """Demand, served, throttled and unserved tokens, and the revenue lost, per scenario/month/workload."""
        d, raw = self.data, self.raw
        served: dict[tuple[str, int, str], float] = {}
        for (s, t, w, _p), v in raw.get("served_ttok", {}).items():
            served[s, t, w] = served.get((s, t, w), 0.0) + v
        rows = []
        for (s, t, w), demand in raw.get("demand_ttok", {}).items():
            throttled = max(raw["throttled_ttok"].get((s, t, w), 0.0), 0.0)
            unserved = raw.get("unserved_ttok", {}).get((s, t, w), 0.0)
            rows.append({
                "scenario": s, "month": self.month_label(t), "workload": w,
                "demand_tokens": demand * TOKENS_PER_UNIT,
                "served_tokens": served.get((s, t, w), 0.0) * TOKENS_PER_UNIT,
                "throttled_tokens": throttled * TOKENS_PER_UNIT, "unserved_tokens": unserved * TOKENS_PER_UNIT,
                "throttling_cost_usd": throttled * d.revenue_musd_per_ttok[w] * USD_PER_UNIT,
                "unserved_cost_usd": unserved * d.unserved_penalty_musd_per_ttok[w] * USD_PER_UNIT,
            })
        return pd.DataFrame(rows, columns=["scenario", "month", "workload", "demand_tokens", "served_tokens",
                                           "throttled_tokens", "unserved_tokens", "throttling_cost_usd",
                                           "unserved_cost_usd"])

    @_table
    def power(self) -> pd.DataFrame:
        """Facility power drawn by GPUs in service against each site's cap."""
        d = self.data
        rows = [{"scenario": s, "month": self.month_label(t), "site": site, "draw_mw": v,
                 "cap_mw": d.power_cap_mw[site, t], "share_of_cap": v / d.power_cap_mw[site, t]}
                for (s, site, t), v in self.raw.get("power_draw_mw", {}).items()]
        return pd.DataFrame(rows, columns=["scenario", "month", "site", "draw_mw", "cap_mw", "share_of_cap"])

    @_table
    def costs(self) -> pd.DataFrame:
        """Cost by scenario, month and category: nominal and discounted (NPV contribution), USD.

        Leases and upfront are those the scenario's world signs (all of them in a two-stage plan),
        commitments repeat in every scenario; months after the horizon appear when a new lease's or an
        existing commitment's term runs past it, with a discounted value only when
        ``count_payments_beyond_horizon`` (take-or-pay).
        """
        d = self.data
        counted = set(self.raw.get("counted_payment_months", d.months))
        horizon = len(d.months)
        first_stage: list[tuple[int, str, float]] = []
        second_stage: dict[str, list[tuple[int, str, float]]] = {s: [] for s in self._planned_scenarios}
        for category, values in self.raw.get("cost_terms", {}).items():
            for key, v in values.items():
                if abs(v) < 1e-12:
                    continue
                if isinstance(key, tuple):
                    if key[0] in second_stage:
                        second_stage[key[0]].append((key[1], category, v))
                else:
                    first_stage.append((key, category, v))
        rows = []
        for s in self._planned_scenarios:
            for t, category, v in first_stage + second_stage[s]:
                counted_month = t in counted or t < horizon
                rows.append((s, self.month_label(t), category, t < horizon, v * USD_PER_UNIT,
                             v * USD_PER_UNIT * d.discount(t) if counted_month else 0.0))
        frame = pd.DataFrame(rows, columns=["scenario", "month", "category", "in_horizon", "cost_usd",
                                            "discounted_usd"])
        order = {c: i for i, c in enumerate(COST_CATEGORIES)}
        frame["_order"] = frame["category"].map(order)
        return self._in_scenario_order(frame, ["month", "_order"]).drop(columns="_order")

    def _in_scenario_order(self, frame: pd.DataFrame, then: list[str]) -> pd.DataFrame:
        """Sort rows by scenario in input order, then by ``then``."""
        rank = {s: i for i, s in enumerate(self.data.scenarios)}
        frame = frame.assign(_scenario_rank=frame["scenario"].map(rank))
        return frame.sort_values(["_scenario_rank", *then], ignore_index=True, kind="stable").drop(
            columns="_scenario_rank")

    def cost_by_category(self) -> pd.DataFrame:
        """NPV per scenario and category (a pivot of :meth:`costs`)."""
        costs = self.costs()
        table = costs.pivot_table(index="scenario", columns="category", values="discounted_usd", aggfunc="sum",
                                  fill_value=0.0)
        return table.reindex(columns=[c for c in COST_CATEGORIES if c in table.columns])

    def scenario_costs(self) -> pd.DataFrame:
        """Per scenario: probability, NPV of cost (the model's scenario cost) and nominal total."""
        d = self.data
        nominal = self.costs().groupby("scenario")["cost_usd"].sum()
        rows = [{"scenario": s, "probability": d.probability[s],
                 "npv_usd": self.raw["scenario_cost_musd"][s] * USD_PER_UNIT,
                 "nominal_usd": float(nominal.get(s, 0.0))} for s in self._planned_scenarios]
        return pd.DataFrame(rows, columns=["scenario", "probability", "npv_usd", "nominal_usd"])

    def usd_per_million_tokens(self) -> pd.DataFrame:
        """Compute spend (leases, upfront, commitments, on-demand, less credits) per million tokens served."""
        costs = self.costs()
        spend = costs[costs["category"].isin(SPEND_CATEGORIES) & costs["in_horizon"]]
        spend = spend.groupby(["scenario", "month"])["cost_usd"].sum()
        served = self.tokens().groupby(["scenario", "month"])["served_tokens"].sum()
        frame = pd.concat([spend.rename("spend_usd"), served], axis=1).fillna(0.0).reset_index()
        frame["usd_per_million_tokens"] = frame["spend_usd"] / (frame["served_tokens"] / 1e6).where(
            frame["served_tokens"] > 0)
        return frame

    def scenario_weights(self) -> dict[str, float]:
        """Weight of each scenario's cost in the objective at the plan: probability x expectation weight,
        plus the CVaR weight it carries when it lies in the tail (the dual of its cvar_excess_def row). A
        dual divided by it reads as a value in that scenario's world."""
        d = self.data
        expectation_weight = max(1.0 - d.cvar_weight, CVAR_TIE_BREAK_WEIGHT) if d.cvar_weight > 0 else 1.0
        tail = self.duals.get("cvar_excess", {})
        return {s: d.probability[s] * expectation_weight + tail.get(s, 0.0) for s in d.scenarios}

    def marginal_values(self) -> pd.DataFrame:
        """Duals of the LP with the integer choices fixed, in nominal USD of the month and scenario.

        ``gpu_hour``: what one more usable GPU-hour of a type at a site is worth;
        ``mw``: what one more MW of site power for the month is worth. Divided by the scenario's
        objective weight (probability, and CVaR weight in the tail) and the month's discount factor so
        they read as plain prices.
        """
        d = self.data
        rows = []
        weight_of = self.scenario_weights()
        for (s, g, site, t), dual in self.duals.get("capacity", {}).items():
            scale = USD_PER_UNIT / GPUS_PER_UNIT / d.hours_per_month / (weight_of[s] * d.discount(t))
            rows.append({"scenario": s, "month": self.month_label(t), "resource": "gpu_hour", "gpu_type": g,
                         "site": site, "value_usd": abs(dual) * scale, "unit": "USD per GPU-hour"})
        for (s, site, t), dual in self.duals.get("power", {}).items():
            scale = USD_PER_UNIT / (weight_of[s] * d.discount(t))
            rows.append({"scenario": s, "month": self.month_label(t), "resource": "mw", "gpu_type": "",
                         "site": site, "value_usd": abs(dual) * scale, "unit": "USD per MW-month"})
        return pd.DataFrame(rows, columns=["scenario", "month", "resource", "gpu_type", "site", "value_usd",
                                           "unit"])


def expressions_read(m: pyo.ConcreteModel) -> list[Any]:
    """The named Expression components :func:`extract` reads from ``m`` (a solver compiles only these)."""
    d: ModelData = m.data
    names = ["lease_blocks", "installed_kgpu", "gpus_serving", "od_serving", "served_ttok", "unserved_ttok",
             "throttled_ttok", "demand_ttok", "policy_on", "credit_used", "power_draw_mw", "scenario_cost_musd",
             *(term.component for term in m.cost_terms), "lease_monthly_payment_musd", "lease_signing_payment_musd",
             "program_start", "gpus_improved", "tie_break_musd", "expected_cost_musd"]
    names += ["cash_spend_musd"] if d.has_cash_budget else []
    names += ["scenario_value_musd"] if d.maximises_value else []
    names += ["cvar_musd"] if d.has_cvar else []
    components = (m.component(name) for name in dict.fromkeys(names))
    return [c for c in components if c is not None and c.ctype is pyo.Expression]


def extract(m: pyo.ConcreteModel, problem: Problem, *, status: str, message: str,
            best_bound_musd: float | None, mip_gap: float,
            expression_values: Callable[[Any], dict[Any, float] | None] | None = None) -> PlanResult:
    """Read every value the result tables need from a solved model.

    ``expression_values`` reads Expression and Objective components (the solver reads them off the
    compiled model; None for one it did not compile); without it, or when it gives None, they are
    evaluated in Pyomo. :func:`expressions_read` lists the Expressions read here.
    """
    d: ModelData = m.data

    def _values(component: Any) -> dict[Any, float]:
        if expression_values is not None and component.ctype in (pyo.Expression, pyo.Objective):
            values = expression_values(component)
            if values is not None:
                return values
        return _evaluated(component)

    raw: dict[str, dict[Any, float]] = {
        "lease_blocks": _values(m.lease_blocks),
        "installed_kgpu": _values(m.installed_kgpu),
        "gpus_serving": {k: v for k, v in _values(m.gpus_serving).items() if v > 1e-9},
        "od_serving": {k: v for k, v in _values(m.od_serving).items() if v > 1e-9},
        "served_ttok": _values(m.served_ttok),
        "unserved_ttok": _values(m.unserved_ttok),
        "throttled_ttok": _values(m.throttled_ttok),
        "demand_ttok": _values(m.demand_ttok),
        "policy_on": _values(m.policy_on),
        "credit_used": _values(m.credit_used),
        "power_draw_mw": _values(m.power_draw_mw),
        "scenario_cost_musd": _values(m.scenario_cost_musd),
        "counted_payment_months": dict.fromkeys(counted_payment_months(m, d), 1.0),
    }
    cost_terms: dict[str, dict[Any, float]] = {}
    for term in m.cost_terms:
        values = _values(getattr(m, term.component))
        bucket = cost_terms.setdefault(term.category, {})
        for key, v in values.items():
            # A node's payments are paid in every scenario of the node: keyed (scenario, month) like
            # scenario costs; common costs keep their month key.
            keys = [(s, key[1]) for s in d.tree.node(key[0]).scenarios] if term.stage == "node" else [key]
            for k in keys:
                bucket[k] = bucket.get(k, 0.0) + v
    raw["cost_terms"] = cost_terms  # type: ignore[assignment]
    # ---- payments of each signed lease, as the model counts them (leases() and lease_payments() read these)
    raw["lease_monthly_payment_musd"] = _values(m.lease_monthly_payment_musd)
    raw["lease_signing_payment_musd"] = _values(m.lease_signing_payment_musd)
    # ---- efficiency programs and budget mode (efficiency.py and budget.py read these)
    raw["program_start"] = _values(m.program_start)
    raw["gpus_improved"] = {k: v for k, v in _values(m.gpus_improved).items() if v > 1e-9}
    if d.has_cash_budget:
        raw["cash_spend_musd"] = _values(m.cash_spend_musd)
    if d.maximises_value:
        raw["scenario_value_musd"] = _values(m.scenario_value_musd)
    # ----
    # The tie-break (0.01 USD per GPU-month) steers the solver only; it is no cost of the plan.
    tie_break = _values(m.tie_break_musd)[None]
    objective = _values(m.total_cost)[None] - tie_break
    return PlanResult(
        problem=problem, data=d, status=status, message=message,
        objective_usd=objective * USD_PER_UNIT,
        expected_cost_usd=_values(m.expected_cost_musd)[None] * USD_PER_UNIT,
        cvar_usd=_values(m.cvar_musd)[None] * USD_PER_UNIT if d.has_cvar else None,
        best_bound_usd=None if best_bound_musd is None else (best_bound_musd - tie_break) * USD_PER_UNIT,
        mip_gap=mip_gap, raw=raw,
    )
