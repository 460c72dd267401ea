"""Planning under uncertainty: what hedging is worth, in numbers.

For a problem with several demand scenarios, :func:`analyse` solves

* the **stochastic** (recourse) problem: one lease plan for all scenarios, recourse per scenario;
* with a reveal month, the **multi-stage** problem: signings before the reveal month common to all
  scenarios, later ones per scenario (the problem as given; ``Settings.reveal_month``);
* the **expected-value** problem: one scenario whose demand is the probability-weighted demand;
* each scenario's **perfect-foresight** (wait-and-see) problem: that scenario alone;

then fixes each plan's leases and re-solves every scenario's second stage, which gives the cost of
every plan in every world ("planned for 10x, the world did 80x: this is what it cost"; the multi-stage
plan meets each world with the leases that world signs). From those:

* ``RP``  = optimal objective of the stochastic (two-stage) problem;
* ``MS``  = optimal objective of the multi-stage problem (``RP`` without a reveal month);
* ``EEV`` = the expected-value plan's objective when it meets each scenario with optimal recourse;
* ``WS``  = the objective over scenarios of each scenario's own optimum;
* ``VSS = EEV - RP >= 0`` (value of the stochastic solution), ``EVPI = RP - WS >= 0`` (value of
  perfect information) and the **value of learning** ``RP - MS >= 0`` (what re-planning once the
  scenario is known is worth), since ``WS <= MS <= RP <= EEV`` for a minimisation: every two-stage
  plan is a multi-stage plan, and every multi-stage plan is a set of wait-and-see plans.

"Objective" is the model's: ``(1 - omega) * E[cost] + omega * CVaR_alpha(cost)`` with omega and
alpha from ``Settings`` (``cvar_weight``, ``cvar_alpha``); with omega = 0 it is the expected NPV.
Every solve uses the same MIP gap, so with a nonzero gap the inequalities hold only within it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planner.model.efficiency import FirstStagePlan
from planner.model.tree import ALL_SCENARIOS
from planner.results import PlanResult
from planner.schema import DemandRow, Problem, Scenario
from planner.solver import Planner

Progress = Callable[[str], None]
LeasePlan = dict[tuple[str, int], int]
"""A first-stage decision: (offer id, start month index) -> blocks signed (non-zero entries); a
:class:`~planner.model.efficiency.FirstStagePlan` when it also funds first-stage efficiency programs."""
PlanKey = tuple[frozenset[tuple[tuple[Any, ...], int]], frozenset[tuple[tuple[Any, ...], int]]]

STOCHASTIC = "stochastic"
MULTI_STAGE = "multi-stage"
"""Plan name of the multi-stage plan: each scenario's world signs its own leases after the reveal."""
EXPECTED_VALUE = "expected value"
PERFECT_FORESIGHT = "perfect foresight: "
EV_SCENARIO = "expected value"
"""Name of the single scenario of the expected-value problem."""

FIGURE_KEYS = ("rp_usd", "eev_usd", "ws_usd", "vss_usd", "evpi_usd", "ev_usd", "multi_stage_usd",
               "value_of_learning_usd")
LEARNING_KEYS = ("multi_stage_usd", "value_of_learning_usd")
"""Figures of the plan that learns: equal to RP and 0 for a two-stage problem, so shown only with a reveal month."""
FIGURE_LABELS = {
    "rp_usd": "Expected cost of the stochastic plan (RP)",
    "eev_usd": "Expected cost of the expected-value plan (EEV)",
    "ws_usd": "Expected cost with perfect foresight (WS)",
    "vss_usd": "Value of the stochastic solution (VSS = EEV - RP)",
    "evpi_usd": "Expected value of perfect information (EVPI = RP - WS)",
    "ev_usd": "Cost of the expected-value problem (EV)",
    "multi_stage_usd": "Expected cost of the plan that learns (multi-stage)",
    "value_of_learning_usd": "Value of learning (RP - multi-stage)",
}
REGRET_COLUMNS = ["plan", "scenario", "cost_usd", "best_cost_usd", "regret_usd"]


def perfect_foresight(scenario: str) -> str:
    """Plan name of a scenario's own (wait-and-see) plan."""
    return PERFECT_FORESIGHT + scenario


def cvar(costs: Sequence[float], probabilities: Sequence[float], alpha: float) -> float:
    """Conditional value at risk: mean cost of the worst ``1 - alpha`` probability mass.

    Equal to ``min_eta eta + E[(cost - eta)+] / (1 - alpha)`` (the model's formulation); a scenario
    straddling the alpha-quantile counts with the part of its probability inside the tail.
    """
    if any(math.isnan(c) for c in costs):
        return math.nan
    tail = 1.0 - alpha
    taken = total = 0.0
    for cost, probability in sorted(zip(costs, probabilities, strict=True), key=lambda cp: -cp[0]):
        share = min(probability, tail - taken)
        if share <= 0:
            break
        taken += share
        total += share * cost
    return total / taken if taken > 0 else math.nan


def risk_adjusted(costs: Sequence[float], probabilities: Sequence[float], weight: float, alpha: float) -> float:
    """The model's objective for given scenario costs: ``(1 - weight) E[cost] + weight CVaR_alpha``."""
    expected = sum(p * c for p, c in zip(probabilities, costs, strict=True))
    if weight <= 0:
        return expected
    worst = cvar(costs, probabilities, alpha)
    return worst if weight >= 1 else (1.0 - weight) * expected + weight * worst


def two_stage(problem: Problem) -> Problem:
    """The same problem without a reveal month: every signing one decision for all scenarios."""
    if problem.settings.reveal_month is None:
        return problem
    return problem.model_copy(update={"settings": problem.settings.model_copy(update={"reveal_month": None})})


def risk_neutral(problem: Problem) -> Problem:
    """The same problem with the CVaR weight set to 0 (used for one-scenario solves)."""
    if problem.settings.cvar_weight == 0:
        return problem
    return problem.model_copy(update={"settings": problem.settings.model_copy(update={"cvar_weight": 0.0})})


def expected_value_problem(problem: Problem) -> Problem:
    """One-scenario problem whose demand is the probability-weighted demand per (workload, month)."""
    months = problem.month_labels
    demand: list[DemandRow] = []
    for w in problem.workloads:
        weighted = [0.0] * len(months)
        for sc in problem.scenarios:
            for t, tokens in enumerate(problem.demand_tokens(sc.name, w.name)):
                weighted[t] += sc.probability * tokens
        demand += [DemandRow(scenario=EV_SCENARIO, workload=w.name, month=month, tokens_per_month=tokens)
                   for month, tokens in zip(months, weighted, strict=True)]
    fields = {name: getattr(problem, name) for name in type(problem).model_fields}
    fields.update(scenarios=[Scenario(name=EV_SCENARIO, probability=1.0, notes="probability-weighted demand")],
                  demand=demand)
    return Problem(**fields)


def figures_table(figures: Mapping[str, float]) -> pd.DataFrame:
    """The figures in words: one row per figure given (item, value_usd), in :data:`FIGURE_KEYS` order."""
    rows = [{"item": FIGURE_LABELS[key], "value_usd": figures.get(key)} for key in FIGURE_KEYS if key in figures]
    return pd.DataFrame(rows, columns=["item", "value_usd"])


def regret_grid(regret: pd.DataFrame) -> pd.DataFrame:
    """A regret table on the full plan x scenario grid (plans, then scenarios, in first-seen order);
    a pair without a row gets blank costs."""
    regret = regret.reindex(columns=REGRET_COLUMNS)
    plans = list(dict.fromkeys(regret["plan"].astype(str)))
    scenarios = list(dict.fromkeys(regret["scenario"].astype(str)))
    if not plans or not scenarios:
        return regret
    index = pd.MultiIndex.from_product([plans, scenarios], names=["plan", "scenario"])
    keyed = regret.assign(plan=regret["plan"].astype(str), scenario=regret["scenario"].astype(str))
    full = keyed.drop_duplicates(["plan", "scenario"]).set_index(["plan", "scenario"]).reindex(index)
    return full.reset_index()[REGRET_COLUMNS]


def _plan_key(plan: LeasePlan) -> PlanKey:
    """Equal plans (leases, and first-stage programs when the plan names them) have equal keys."""
    return FirstStagePlan(plan, getattr(plan, "programs", {})).key()


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _nan_max(values: Sequence[float]) -> float:
    return math.nan if any(math.isnan(v) for v in values) else max(values)


def _cost(result: PlanResult) -> float:
    """A one-scenario, risk-neutral solve's cost: its objective (the NPV of cost; in budget mode minus the
    value of tokens served less cash cost), ``inf`` when infeasible, NaN when the solve failed."""
    if result.has_plan and result.objective_usd is not None:
        return float(result.objective_usd)
    return math.inf if result.status == "infeasible" else math.nan


@dataclass
class UncertaintyAnalysis:
    """Figures, plans and the cost of every plan in every scenario (see the module docstring).

    ``costs`` has one row per (plan, scenario): plan, scenario, probability, cost_usd (NPV with
    optimal recourse; ``inf`` if the plan cannot be made feasible there), status of that solve.
    ``plans`` holds the plans that sign the same in every scenario; the multi-stage plan (with a reveal
    month) signs per world: ``multi_stage_plans`` (scenario -> the leases its world signs) and the
    solved ``multi_stage`` result.
    """

    problem: Problem
    figures: dict[str, float]
    plans: dict[str, LeasePlan]
    costs: pd.DataFrame
    stochastic: PlanResult
    expected_value: PlanResult | None
    statuses: dict[str, str]
    best_costs: dict[str, float]
    mip_gap: float
    cvar_weight: float
    cvar_alpha: float
    multi_stage: PlanResult | None = None
    multi_stage_plans: dict[str, LeasePlan] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def scenarios(self) -> list[str]:
        return [sc.name for sc in self.problem.scenarios]

    @property
    def probabilities(self) -> dict[str, float]:
        return {sc.name: sc.probability for sc in self.problem.scenarios}

    @property
    def all_optimal(self) -> bool:
        """True when every solve (plans and evaluations) ended optimal or needed no solve."""
        evaluations = set(self.costs["status"]) if len(self.costs) else set()
        return all(s == "optimal" for s in self.statuses.values()) and evaluations <= {"optimal"}

    def regret_table(self) -> pd.DataFrame:
        """Per (plan, scenario): cost, the scenario's perfect-foresight optimum, and the regret."""
        frame = self.costs[["plan", "scenario", "cost_usd"]].copy()
        frame["best_cost_usd"] = frame["scenario"].map(self.best_costs).astype(float)
        frame["regret_usd"] = frame["cost_usd"] - frame["best_cost_usd"]
        return frame.reset_index(drop=True)

    def figures_table(self) -> pd.DataFrame:
        """RP, EEV, WS, VSS, EVPI and EV in words (item, value_usd); with a plan that learns, its expected
        cost and the value of learning too."""
        return figures_table(self.figures if self.multi_stage is not None
                             else {k: v for k, v in self.figures.items() if k not in LEARNING_KEYS})

    def expected_cost_by_plan(self) -> pd.DataFrame:
        """Per plan: expected cost, CVaR, objective (risk-adjusted), worst cost and regrets."""
        regret = self.regret_table()
        probability = self.probabilities
        rows = []
        for plan in dict.fromkeys(regret["plan"]):
            part = regret[regret["plan"] == plan]
            if part.empty:
                continue
            costs = part["cost_usd"].tolist()
            probs = [probability[s] for s in part["scenario"]]
            regrets = part["regret_usd"].tolist()
            rows.append({
                "plan": plan,
                "expected_cost_usd": sum(p * c for p, c in zip(probs, costs, strict=True)),
                "cvar_usd": cvar(costs, probs, self.cvar_alpha),
                "objective_usd": risk_adjusted(costs, probs, self.cvar_weight, self.cvar_alpha),
                "worst_cost_usd": _nan_max(costs),
                "expected_regret_usd": sum(p * r for p, r in zip(probs, regrets, strict=True)),
                "max_regret_usd": _nan_max(regrets),
            })
        return pd.DataFrame(rows, columns=["plan", "expected_cost_usd", "cvar_usd", "objective_usd",
                                           "worst_cost_usd", "expected_regret_usd", "max_regret_usd"])

    def lease_plans(self) -> pd.DataFrame:
        """Every plan's leases: plan, scenario (``all`` where the plan signs it in every scenario, else
        the world that signs it once known: the multi-stage plan), offer_id, start_month (YYYY-MM),
        blocks, gpus."""
        block = {o.offer_id: o.gpus_per_block for o in self.problem.lease_offers}
        labels = self.problem.month_labels
        signings = [(plan, ALL_SCENARIOS, leases) for plan, leases in self.plans.items()]
        if self.multi_stage is not None and self.multi_stage.has_plan:
            tree = self.multi_stage.data.tree
            by_node: dict[str, LeasePlan] = {n.node_id: {} for n in tree.nodes}
            for (n, o, k), blocks in self.multi_stage.lease_plan_by_node().items():
                by_node[n][o, k] = blocks
            signings += [(MULTI_STAGE, tree.label(n), leases) for n, leases in by_node.items()]
        rows = [{"plan": plan, "scenario": scenario, "offer_id": o, "start_month": labels[k], "blocks": n,
                 "gpus": n * block[o]}
                for plan, scenario, leases in signings
                for (o, k), n in sorted(leases.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
        return pd.DataFrame(rows, columns=["plan", "scenario", "offer_id", "start_month", "blocks", "gpus"])

    def summary(self) -> dict[str, Any]:
        """JSON-ready: figures (None where not finite), settings, statuses, plans, per-plan costs, regret."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: _finite_or_none(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]

        return {
            "figures": {k: _finite_or_none(v) for k, v in self.figures.items()},
            "cvar_weight": self.cvar_weight,
            "cvar_alpha": self.cvar_alpha,
            "mip_gap": self.mip_gap,
            "all_optimal": self.all_optimal,
            "statuses": dict(self.statuses),
            "plans": records(self.lease_plans()),
            "by_plan": records(self.expected_cost_by_plan()),
            "regret": records(self.regret_table()),
            "notes": list(self.notes),
        }


def analyse(problem: Problem, *, time_limit_seconds: float | None = None, mip_gap: float | None = None,
            threads: int | None = None, progress: Progress | None = None,
            stochastic: PlanResult | None = None) -> UncertaintyAnalysis:
    """Solve the stochastic, multi-stage (with a reveal month), expected-value and perfect-foresight
    problems and cost every plan in every scenario. ``time_limit_seconds`` applies to each solve;
    ``mip_gap`` (default: Settings) to all of them. ``progress`` receives a line naming the solve under
    way. Pass ``stochastic`` to reuse ``problem`` already solved (same gap) instead of solving it again:
    the multi-stage plan when ``problem`` has a reveal month, the stochastic plan otherwise.
    """
    settings = problem.settings
    gap = float(settings.mip_gap if mip_gap is None else mip_gap)
    say: Progress = progress or (lambda _: None)
    options: dict[str, Any] = {"time_limit_seconds": time_limit_seconds, "mip_gap": gap,
                               "marginal_values": False, "diagnose": False}
    scenarios = [sc.name for sc in problem.scenarios]
    probability = {sc.name: sc.probability for sc in problem.scenarios}
    omega, alpha = settings.cvar_weight, settings.cvar_alpha
    learns = settings.reveal_month is not None and len(scenarios) > 1

    def tagged(label: str) -> Progress:
        return lambda message: say(f"{label}: {message}")

    def solved(label: str, instance: Problem, scenario: list[str] | None = None) -> tuple[Planner, PlanResult]:
        say(label)
        planner = Planner(instance, scenario, threads=threads, progress=tagged(label))
        return planner, planner.solve(**options)

    statuses: dict[str, str] = {}
    count = f"{len(scenarios)} scenario{'s' if len(scenarios) != 1 else ''}"

    # 1. The recourse problems: two-stage, and multi-stage when the scenario is revealed in the horizon.
    multi_stage = None
    if learns:
        multi_stage = stochastic or solved(f"multi-stage plan ({count}, known from {settings.reveal_month})",
                                           problem)[1]
        statuses[MULTI_STAGE] = multi_stage.status
        stochastic = None
    if stochastic is None:
        stochastic = solved(f"stochastic plan ({count})", two_stage(problem))[1]
    statuses[STOCHASTIC] = stochastic.status

    # 2. The expected-value problem.
    neutral = risk_neutral(problem)
    ev_result = solved("expected-value plan (probability-weighted demand)", expected_value_problem(neutral))[1]
    statuses[EXPECTED_VALUE] = ev_result.status

    # 3. Wait-and-see: each scenario alone; its planner is kept to cost the other plans there.
    planners: dict[str, Planner] = {}
    best: dict[str, float] = {}
    own: dict[str, PlanResult] = {}
    for i, s in enumerate(scenarios, start=1):
        planners[s], own[s] = solved(f"perfect foresight {i}/{len(scenarios)}: {s}", neutral, [s])
        statuses[perfect_foresight(s)] = own[s].status
        best[s] = _cost(own[s])

    # A plan is its leases and the first-stage programs it funds; recourse (per-scenario programs too)
    # is re-optimised in every scenario.
    plans: dict[str, LeasePlan] = {}
    if stochastic.has_plan:
        plans[STOCHASTIC] = stochastic.first_stage_plan()
    if ev_result.has_plan:
        plans[EXPECTED_VALUE] = ev_result.first_stage_plan()
    for s in scenarios:
        if own[s].has_plan:
            plans[perfect_foresight(s)] = own[s].first_stage_plan()
    multi_stage_plans: dict[str, LeasePlan] = ({s: multi_stage.first_stage_plan(s) for s in scenarios}
                                               if multi_stage is not None and multi_stage.has_plan else {})
    # (plan name, scenario) -> the leases met there: the same plan everywhere, or the world's own.
    met = {(name, s): plan for name, plan in plans.items() for s in scenarios}
    met.update({(MULTI_STAGE, s): plan for s, plan in multi_stage_plans.items()})

    # 4. Every plan in every scenario: fix its leases, re-solve the second stage (identical plans once).
    known: dict[tuple[PlanKey, str], tuple[float, str]] = {
        (_plan_key(own[s].first_stage_plan()), s): (best[s], own[s].status) for s in scenarios if own[s].has_plan
    }
    names = {(_plan_key(plan), s): name for (name, s), plan in reversed(list(met.items()))}
    pending = [key for key in dict.fromkeys((_plan_key(plan), s) for (_, s), plan in met.items()) if key not in known]
    for i, (key, s) in enumerate(pending, start=1):
        label = f"plan costs {i}/{len(pending)}: plan '{names[key, s]}' in scenario {s}"
        say(label)
        planners[s].progress = tagged(label)
        planners[s].fix_leases(FirstStagePlan.from_key(key))
        result = planners[s].solve(**options)
        known[key, s] = (_cost(result), result.status)
    for planner in planners.values():
        planner.unfix_leases()

    rows = [{"plan": name, "scenario": s, "probability": probability[s],
             "cost_usd": known[_plan_key(plan), s][0], "status": known[_plan_key(plan), s][1]}
            for (name, s), plan in met.items()]
    costs = pd.DataFrame(rows, columns=["plan", "scenario", "probability", "cost_usd", "status"])

    def objective_of(name: str) -> float:
        part = costs[costs["plan"] == name]
        if part.empty:
            return math.nan
        return risk_adjusted(part["cost_usd"].tolist(), part["probability"].tolist(), omega, alpha)

    def solved_objective(result: PlanResult | None) -> float:
        return float(result.objective_usd) if result is not None and result.has_plan and \
            result.objective_usd is not None else math.nan

    probs = [probability[s] for s in scenarios]
    rp = solved_objective(stochastic)
    ms = solved_objective(multi_stage) if learns else rp
    ws = risk_adjusted([best[s] for s in scenarios], probs, omega, alpha)
    eev = objective_of(EXPECTED_VALUE)
    figures = {
        "rp_usd": rp,
        "eev_usd": eev,
        "ws_usd": ws,
        "vss_usd": eev - rp,
        "evpi_usd": rp - ws,
        "ev_usd": solved_objective(ev_result),
        "multi_stage_usd": ms,
        "value_of_learning_usd": rp - ms,
    }
    analysis = UncertaintyAnalysis(
        problem=problem, figures=figures, plans=plans, costs=costs, stochastic=stochastic,
        expected_value=ev_result, statuses=statuses, best_costs=best, mip_gap=gap,
        cvar_weight=omega, cvar_alpha=alpha, multi_stage=multi_stage, multi_stage_plans=multi_stage_plans,
    )
    analysis.notes = _notes(analysis)
    say("uncertainty analysis done")
    return analysis


def _notes(analysis: UncertaintyAnalysis) -> list[str]:
    notes = []
    if analysis.cvar_weight > 0:
        notes.append(f"figures are risk-adjusted: (1 - {analysis.cvar_weight:g}) x expected cost + "
                     f"{analysis.cvar_weight:g} x CVaR at alpha {analysis.cvar_alpha:g}")
    reveal = analysis.problem.settings.reveal_month
    if analysis.multi_stage is not None:
        notes.append(f"multi-stage plan: leases signed before {reveal} are common to every scenario; from "
                     f"{reveal} each scenario signs its own. Value of learning = RP - MS (the stochastic plan "
                     "signs one schedule for every scenario)")
    rp = analysis.figures.get("rp_usd", math.nan)
    if analysis.mip_gap > 0:
        within = f" (about ${analysis.mip_gap * abs(rp):,.0f})" if math.isfinite(rp) else ""
        chain = "WS <= MS <= RP <= EEV" if analysis.multi_stage is not None else "WS <= RP <= EEV"
        notes.append(f"every solve stops at a relative MIP gap of {analysis.mip_gap:g}{within}: {chain}, "
                     "VSS >= 0, EVPI >= 0 and regret >= 0 hold only within that gap")
    failed = [name for name, status in analysis.statuses.items() if status != "optimal"]
    if failed:
        notes.append("not solved to optimality: " + ", ".join(f"{n} ({_in_words(analysis.statuses[n])})"
                                                              for n in failed))
    if len(analysis.costs) and (analysis.costs["status"] != "optimal").any():
        bad = analysis.costs[analysis.costs["status"] != "optimal"]
        notes.append("plan costs not optimal: " + ", ".join(
            f"{r.plan} in {r.scenario} ({_in_words(r.status)})" for r in bad.itertuples()))
    if len(analysis.problem.scenarios) == 1:
        notes.append("one scenario: VSS and EVPI are zero by definition")
    settings = analysis.problem.settings
    if settings.objective == "max_value_within_budget":
        notes.append("budget mode: every cost is minus the value (cash cost and goodwill less the revenue of tokens "
                     "served, NPV), so lower is better as for costs")
    if analysis.problem.efficiency_programs:
        notes.append("a plan is its leases and the first-stage efficiency programs it funds; per-scenario programs "
                     "are recourse, re-decided in every scenario")
    return notes


def _in_words(status: str) -> str:
    return {"time_limit": "stopped at the time limit", "infeasible": "no feasible plan",
            "error": "solver error"}.get(status, status.replace("_", " "))
