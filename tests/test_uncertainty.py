"""Planning under uncertainty: EV / wait-and-see / stochastic plans, EEV, RP, WS, VSS, EVPI, regret."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from planner.schema import (
    Credit,
    DemandRow,
    GpuType,
    LeaseOffer,
    OnDemand,
    Policy,
    PolicyEffect,
    Problem,
    Scenario,
    Settings,
    Site,
    Throughput,
    Workload,
)
from planner.solver import Planner
from planner.uncertainty import EV_SCENARIO, UncertaintyAnalysis, analyse, expected_value_problem

TOL = 1e-6
TOKENS_PER_SECOND = 1000.0
BLOCK_TOKENS = 1000 * TOKENS_PER_SECOND * 730 * 3600
"""Tokens per month that one 1,000-GPU block serves at 1,000 tokens/s per GPU and 730 hours."""


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=1e-3)


def one_month_problem(demand_blocks: dict[str, float], probabilities: dict[str, float], *,
                      lease_price: float = 2.0, on_demand_price: float = 5.0, on_demand_gpus: int = 100_000,
                      unserved_allowed: bool = True, **settings: float) -> Problem:
    """One month, one 1,000-GPU lease block offer, unlimited on-demand, no discounting."""
    return Problem(
        settings=Settings(first_month="2025-01", months=1, discount_rate_per_year=0.0, **settings),
        workloads=[Workload(name="chat", revenue_usd_per_million_tokens=10.0, unserved_allowed=unserved_allowed)],
        scenarios=[Scenario(name=name, probability=p) for name, p in probabilities.items()],
        demand=[DemandRow(scenario=name, workload="chat", month="2025-01", tokens_per_month=blocks * BLOCK_TOKENS)
                for name, blocks in demand_blocks.items()],
        gpu_types=[GpuType(name="H100", peak_dense_bf16_tflops=989, memory_gb=80, power_kw_per_gpu=1.0)],
        throughput=[Throughput(gpu_type="H100", workload="chat", tokens_per_second_per_gpu=TOKENS_PER_SECOND)],
        sites=[Site(name="dc", power_cap_mw=100.0)],
        lease_offers=[LeaseOffer(offer_id="pod", provider="lessor", site="dc", gpu_type="H100", gpus_per_block=1000,
                                 price_usd_per_gpu_hour=lease_price, term_months=1, earliest_start_month="2025-01",
                                 latest_start_month="2025-01", max_blocks=10)],
        on_demand=[OnDemand(option_id="cloud", provider="cloud", gpu_type="H100",
                            price_usd_per_gpu_hour=on_demand_price, max_gpus=on_demand_gpus)],
    )


def growth_problem(**settings: float) -> Problem:
    """Six months, 10x/30x/80x growth, two offers (one semi-continuous), capped on-demand, credits, policies."""
    return Problem(
        settings=Settings(first_month="2025-01", months=6, discount_rate_per_year=0.08, **settings),
        workloads=[Workload(name="coding", revenue_usd_per_million_tokens=6.0, peak_to_average_ratio=1.5,
                            base_tokens_per_month=2e12),
                   Workload(name="batch", revenue_usd_per_million_tokens=1.5, base_tokens_per_month=1e12,
                            allowed_gpu_types=["H100"])],
        scenarios=[Scenario(name="10x", probability=0.5, growth_multiple_per_year=10),
                   Scenario(name="30x", probability=0.3, growth_multiple_per_year=30),
                   Scenario(name="80x", probability=0.2, growth_multiple_per_year=80)],
        gpu_types=[GpuType(name="H100", peak_dense_bf16_tflops=989, memory_gb=80, power_kw_per_gpu=1.4,
                           availability_factor=0.95),
                   GpuType(name="GB200", peak_dense_bf16_tflops=2500, memory_gb=192, power_kw_per_gpu=2.7,
                           availability_factor=0.9)],
        throughput=[Throughput(gpu_type="H100", workload="coding", tokens_per_second_per_gpu=900),
                    Throughput(gpu_type="GB200", workload="coding", tokens_per_second_per_gpu=2400),
                    Throughput(gpu_type="H100", workload="batch", tokens_per_second_per_gpu=1500)],
        sites=[Site(name="memphis", power_cap_mw=6.0, pue=1.2)],
        lease_offers=[
            LeaseOffer(offer_id="h100-pod", provider="colo", site="memphis", gpu_type="H100", gpus_per_block=256,
                       price_usd_per_gpu_hour=2.2, term_months=12, earliest_start_month="2025-01",
                       latest_start_month="2025-04", max_blocks=8),
            LeaseOffer(offer_id="gb200-rack", provider="neo", site="memphis", gpu_type="GB200", gpus_per_block=72,
                       price_usd_per_gpu_hour=4.0, term_months=6, earliest_start_month="2025-03",
                       latest_start_month="2025-05", min_blocks=2, max_blocks=10),
        ],
        on_demand=[OnDemand(option_id="cloud-h100", provider="hyperscaler", gpu_type="H100",
                            price_usd_per_gpu_hour=4.5, max_gpus=800)],
        credits=[Credit(credit_id="startup", provider="hyperscaler", amount_usd=300_000,
                        valid_from_month="2025-01", expiry_month="2025-03")],
        policies=[Policy(name="open"), Policy(name="peak limits", goodwill_cost_usd_per_month=50_000)],
        policy_effects=[PolicyEffect(policy="peak limits", workload="coding", admitted_fraction=0.9,
                                     peak_to_average_multiplier=0.8)],
    )


@pytest.fixture(scope="module")
def growth() -> UncertaintyAnalysis:
    return analyse(growth_problem(), mip_gap=0.0)


# ---- a tiny two-scenario case, computed by hand ---------------------------------------------------

def test_two_scenario_case_by_hand() -> None:
    # One month, no discounting. A 1,000-GPU block costs 1000 x $2 x 730 h = $1.46M; the same capacity
    # on demand costs 1000 x $5 x 730 h = $3.65M. Demand: 1 block's worth (low) or 3 (high), 50/50.
    # Revenue ($10/Mtok) exceeds the on-demand cost per token, so all demand is served.
    block, cloud = 1.46e6, 3.65e6
    problem = one_month_problem({"low": 1, "high": 3}, {"low": 0.5, "high": 0.5})
    analysis = analyse(problem, mip_gap=0.0)

    def cost(n: int, d: int) -> float:  # n blocks leased, demand d blocks: leases + on-demand for the rest
        return n * block + max(d - n, 0) * cloud

    # Perfect foresight: lease exactly the demand. WS = 0.5 x 1.46 + 0.5 x 4.38 = $2.92M.
    assert analysis.plans["perfect foresight: low"] == {("pod", 0): 1}
    assert analysis.plans["perfect foresight: high"] == {("pod", 0): 3}
    ws = 0.5 * cost(1, 1) + 0.5 * cost(3, 3)
    # Expected value: demand 2 blocks -> lease 2 (a third block would idle in the EV world); EV = $2.92M.
    assert analysis.plans["expected value"] == {("pod", 0): 2}
    ev = cost(2, 2)
    # Stochastic: the 3rd block costs 1.46 and saves 3.65 with probability 0.5 (1.825 > 1.46): lease 3.
    # RP = 4.38. The EV plan's expected cost with recourse: EEV = 0.5 x 2.92 + 0.5 x (2.92 + 3.65) = 4.745.
    assert analysis.plans["stochastic"] == {("pod", 0): 3}
    rp = min(0.5 * cost(n, 1) + 0.5 * cost(n, 3) for n in range(11))
    eev = 0.5 * cost(2, 1) + 0.5 * cost(2, 3)
    assert (ws, ev, rp, eev) == pytest.approx((2.92e6, 2.92e6, 4.38e6, 4.745e6))
    # No reveal month: the multi-stage problem is the stochastic one, learning is worth nothing.
    expected = {"ws_usd": ws, "ev_usd": ev, "rp_usd": rp, "eev_usd": eev,
                "vss_usd": 0.365e6, "evpi_usd": 1.46e6, "multi_stage_usd": rp, "value_of_learning_usd": 0.0}
    assert analysis.figures == pytest.approx(expected, rel=1e-9)
    assert analysis.figures["vss_usd"] > 0 and analysis.figures["evpi_usd"] > 0

    # Regret: planned for low, the world did high: 1.46 + 2 x 3.65 = 8.76 against 4.38 -> 4.38 regret.
    regret = analysis.regret_table().set_index(["plan", "scenario"])
    assert regret.loc[("perfect foresight: low", "high"), "cost_usd"] == pytest.approx(8.76e6)
    assert regret.loc[("perfect foresight: low", "high"), "regret_usd"] == pytest.approx(4.38e6)
    assert regret.loc[("expected value", "high"), "regret_usd"] == pytest.approx(2.19e6)
    assert regret.loc[("stochastic", "low"), "regret_usd"] == pytest.approx(2.92e6)
    assert regret.loc[("stochastic", "high"), "regret_usd"] == pytest.approx(0.0, abs=1e-3)
    by_plan = analysis.expected_cost_by_plan().set_index("plan")
    assert by_plan.loc["expected value", "expected_cost_usd"] == pytest.approx(eev)
    assert by_plan.loc["perfect foresight: low", "expected_cost_usd"] == pytest.approx(0.5 * 1.46e6 + 0.5 * 8.76e6)
    assert by_plan.loc["stochastic", "worst_cost_usd"] == pytest.approx(4.38e6)
    assert analysis.all_optimal


def test_plan_that_cannot_cope_costs_infinity() -> None:
    # Unserved demand forbidden and no on-demand: the EV plan (2 blocks) cannot serve the high world.
    problem = one_month_problem({"low": 1, "high": 3}, {"low": 0.5, "high": 0.5}, on_demand_gpus=0,
                                unserved_allowed=False)
    analysis = analyse(problem, mip_gap=0.0)
    costs = analysis.costs.set_index(["plan", "scenario"])
    assert costs.loc[("expected value", "high"), "status"] == "infeasible"
    assert math.isinf(costs.loc[("expected value", "high"), "cost_usd"])
    assert math.isinf(analysis.figures["eev_usd"]) and math.isinf(analysis.figures["vss_usd"])
    assert analysis.figures["rp_usd"] == pytest.approx(4.38e6)
    summary = analysis.summary()
    assert summary["figures"]["vss_usd"] is None and not summary["all_optimal"]
    json.dumps(summary, allow_nan=False)


# ---- the definitions on a solved multi-month instance ---------------------------------------------

def test_ws_le_rp_le_eev(growth: UncertaintyAnalysis) -> None:
    f = growth.figures
    assert growth.all_optimal
    assert f["ws_usd"] <= f["rp_usd"] * (1 + TOL)
    assert f["rp_usd"] <= f["eev_usd"] * (1 + TOL)
    assert f["vss_usd"] >= -TOL * f["rp_usd"] and f["evpi_usd"] >= -TOL * f["rp_usd"]
    assert f["vss_usd"] == pytest.approx(f["eev_usd"] - f["rp_usd"])
    assert f["evpi_usd"] == pytest.approx(f["rp_usd"] - f["ws_usd"])
    # This instance is chosen so that hedging is worth something and foresight more.
    assert f["vss_usd"] > 1e4 and f["evpi_usd"] > 1e4


def test_figures_from_plan_costs(growth: UncertaintyAnalysis) -> None:
    p = growth.probabilities
    regret = growth.regret_table()
    cost = {(r.plan, r.scenario): r.cost_usd for r in regret.itertuples()}
    scenarios = growth.scenarios
    assert growth.figures["ws_usd"] == pytest.approx(sum(p[s] * cost[f"perfect foresight: {s}", s] for s in scenarios))
    assert growth.figures["eev_usd"] == pytest.approx(sum(p[s] * cost["expected value", s] for s in scenarios))
    assert growth.figures["rp_usd"] == pytest.approx(sum(p[s] * cost["stochastic", s] for s in scenarios))
    # No plan beats the stochastic plan in expectation, and none beats a scenario's own plan in it.
    by_plan = growth.expected_cost_by_plan().set_index("plan")["expected_cost_usd"]
    assert by_plan.min() >= growth.figures["rp_usd"] * (1 - TOL)
    assert (regret["regret_usd"] >= -TOL * regret["best_cost_usd"]).all()
    own = regret[regret["plan"] == "perfect foresight: " + regret["scenario"]]
    assert len(own) == len(scenarios) and (own["regret_usd"].abs() < 1e-3).all()


def test_fixing_the_stochastic_plan_reproduces_its_scenario_costs(growth: UncertaintyAnalysis) -> None:
    reported = growth.stochastic.scenario_costs().set_index("scenario")["npv_usd"]
    for s in growth.scenarios:
        planner = Planner(growth.problem, [s])
        planner.fix_leases(growth.plans["stochastic"])
        result = planner.solve(mip_gap=0.0, marginal_values=False)
        assert result.status == "optimal"
        assert result.lease_plan() == growth.plans["stochastic"]
        assert close(result.expected_cost_usd, reported[s])
    costs = growth.costs[growth.costs["plan"] == "stochastic"].set_index("scenario")["cost_usd"]
    for s in growth.scenarios:
        assert close(costs[s], reported[s])


def test_expected_value_problem_weights_demand() -> None:
    problem = growth_problem()
    ev = expected_value_problem(problem)
    assert [sc.name for sc in ev.scenarios] == [EV_SCENARIO] and ev.scenarios[0].probability == 1.0
    assert ev.settings == problem.settings
    for w in ("coding", "batch"):
        weighted = [sum(sc.probability * problem.demand_tokens(sc.name, w)[t] for sc in problem.scenarios)
                    for t in range(problem.settings.months)]
        assert ev.demand_tokens(EV_SCENARIO, w) == pytest.approx(weighted)


def test_tables_and_summary(growth: UncertaintyAnalysis) -> None:
    n_plans, n_scenarios = 5, 3
    assert list(growth.plans) == ["stochastic", "expected value", "perfect foresight: 10x",
                                  "perfect foresight: 30x", "perfect foresight: 80x"]
    regret = growth.regret_table()
    assert list(regret.columns) == ["plan", "scenario", "cost_usd", "best_cost_usd", "regret_usd"]
    assert len(regret) == n_plans * n_scenarios
    assert list(growth.costs.columns) == ["plan", "scenario", "probability", "cost_usd", "status"]
    assert set(growth.lease_plans()["plan"]) <= set(growth.plans)
    assert len(growth.expected_cost_by_plan()) == n_plans
    summary = json.loads(json.dumps(growth.summary(), allow_nan=False))
    assert set(summary["figures"]) == {"rp_usd", "eev_usd", "ws_usd", "vss_usd", "evpi_usd", "ev_usd",
                                       "multi_stage_usd", "value_of_learning_usd"}
    assert summary["statuses"]["stochastic"] == "optimal"


def test_progress_names_each_solve_and_reuses_a_solved_stochastic_plan() -> None:
    problem = one_month_problem({"low": 1, "mid": 2, "high": 3}, {"low": 0.3, "mid": 0.4, "high": 0.3})
    messages: list[str] = []
    first = analyse(problem, mip_gap=0.0, progress=messages.append)
    assert any(m.startswith("stochastic plan") for m in messages)
    assert any(m.startswith("expected-value plan") for m in messages)
    for s in ("low", "mid", "high"):
        assert any(m.startswith("perfect foresight") and m.endswith(f": {s}") for m in messages)
    assert any(m.startswith("plan costs") for m in messages)

    messages.clear()
    again = analyse(problem, mip_gap=0.0, progress=messages.append, stochastic=first.stochastic)
    assert not any(m.startswith("stochastic plan") for m in messages)
    assert again.figures == pytest.approx(first.figures)


def test_one_scenario_has_no_value_of_hedging() -> None:
    analysis = analyse(one_month_problem({"only": 2}, {"only": 1.0}), mip_gap=0.0)
    assert analysis.figures["vss_usd"] == pytest.approx(0.0, abs=1e-3)
    assert analysis.figures["evpi_usd"] == pytest.approx(0.0, abs=1e-3)
    assert analysis.figures["rp_usd"] == pytest.approx(2.92e6)


def test_risk_averse_figures_hold_on_the_growth_instance() -> None:
    # omega = 1, alpha = 0.8: the objective is the 80x cost alone (probability 0.2 = the tail).
    analysis = analyse(growth_problem(cvar_weight=1.0, cvar_alpha=0.8), mip_gap=0.0)
    f = analysis.figures
    assert f["ws_usd"] <= f["rp_usd"] * (1 + TOL) and f["rp_usd"] <= f["eev_usd"] * (1 + TOL)
    assert close(f["ws_usd"], analysis.best_costs["80x"])  # CVaR of the own optima: the worst world's
    costs = analysis.costs[analysis.costs["plan"] == "stochastic"].set_index("scenario")["cost_usd"]
    assert close(f["rp_usd"], costs["80x"])
    # Re-solving the recourse never costs more than the risk-averse solve reported for a scenario.
    reported = analysis.stochastic.scenario_costs().set_index("scenario")["npv_usd"]
    assert all(costs[s] <= reported[s] * (1 + TOL) for s in analysis.scenarios)


def test_notes_say_in_words_which_solves_stopped_early(growth: UncertaintyAnalysis) -> None:
    from planner.uncertainty import _notes

    statuses = {name: "optimal" for name in growth.statuses}
    stopped = next(iter(statuses))
    statuses[stopped] = "time_limit"
    costs = growth.costs.copy()
    costs.loc[costs.index[0], "status"] = "infeasible"
    notes = _notes(dataclasses.replace(growth, statuses=statuses, costs=costs))
    assert f"not solved to optimality: {stopped} (stopped at the time limit)" in notes
    row = costs.iloc[0]
    assert f"plan costs not optimal: {row['plan']} in {row['scenario']} (no feasible plan)" in notes
    assert not any("time_limit" in note for note in notes)
