"""Risk: CVaR of the scenario cost in the objective, (1 - omega) E[cost] + omega CVaR_alpha[cost]."""

from __future__ import annotations

from itertools import pairwise

import pytest

from planner.results import PlanResult
from planner.schema import (
    DemandRow,
    GpuType,
    LeaseOffer,
    OnDemand,
    Problem,
    Scenario,
    Settings,
    Site,
    Throughput,
    Workload,
)
from planner.solver import Planner, solve
from planner.uncertainty import analyse, cvar, risk_adjusted

BLOCK_TOKENS = 1000 * 1000.0 * 730 * 3600
"""Tokens per month one 1,000-GPU block serves at 1,000 tokens/s per GPU."""
BLOCK_USD, CLOUD_USD = 1.46e6, 2.19e6
"""A leased block for a month (1000 x $2 x 730 h) and the same capacity on demand (1000 x $3 x 730 h)."""
OMEGAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def problem(demand_blocks: dict[str, float], probabilities: dict[str, float], **settings: float) -> Problem:
    """One month, no discounting, one 1,000-GPU block offer at $2/GPU-h, on-demand at $3/GPU-h."""
    return Problem(
        settings=Settings(first_month="2025-01", months=1, discount_rate_per_year=0.0, mip_gap=0.0, **settings),
        workloads=[Workload(name="chat", revenue_usd_per_million_tokens=10.0)],
        scenarios=[Scenario(name=name, probability=p) for name, p in probabilities.items()],
        demand=[DemandRow(scenario=name, workload="chat", month="2025-01", tokens_per_month=blocks * BLOCK_TOKENS)
                for name, blocks in demand_blocks.items()],
        gpu_types=[GpuType(name="H100", peak_dense_bf16_tflops=989, memory_gb=80, power_kw_per_gpu=1.0)],
        throughput=[Throughput(gpu_type="H100", workload="chat", tokens_per_second_per_gpu=1000.0)],
        sites=[Site(name="dc", power_cap_mw=100.0)],
        lease_offers=[LeaseOffer(offer_id="pod", provider="lessor", site="dc", gpu_type="H100", gpus_per_block=1000,
                                 price_usd_per_gpu_hour=2.0, term_months=1, earliest_start_month="2025-01",
                                 latest_start_month="2025-01", max_blocks=8)],
        on_demand=[OnDemand(option_id="cloud", provider="cloud", gpu_type="H100", price_usd_per_gpu_hour=3.0,
                            max_gpus=100_000)],
    )


THREE = problem({"10x": 1, "30x": 2, "80x": 4}, {"10x": 0.5, "30x": 0.3, "80x": 0.2}, cvar_alpha=0.8)
"""Demand 1, 2 or 4 blocks; alpha = 0.8 puts exactly the 80x scenario (probability 0.2) in the tail."""


def with_risk(p: Problem, weight: float, alpha: float | None = None) -> Problem:
    update: dict[str, float] = {"cvar_weight": weight}
    if alpha is not None:
        update["cvar_alpha"] = alpha
    return p.model_copy(update={"settings": p.settings.model_copy(update=update)})


def cost(n: int, demand: float) -> float:
    """Hand cost of leasing ``n`` blocks when ``demand`` blocks' worth arrives: the rest on demand."""
    return n * BLOCK_USD + max(demand - n, 0) * CLOUD_USD


def blocks(result: PlanResult) -> int:
    return result.lease_plan().get(("pod", 0), 0)


def scenario_costs(result: PlanResult) -> list[float]:
    """Scenario costs as the solve reports them."""
    return result.scenario_costs()["npv_usd"].tolist()


def recourse_costs(p: Problem, result: PlanResult) -> list[float]:
    """Each scenario's cost of the result's leases with optimal recourse (risk-neutral re-solve).

    With omega = 1 the solver has no reason to minimise scenarios outside the CVaR tail, so the
    costs a risk-averse solve reports for them may be higher than the plan needs."""
    planner = Planner(with_risk(p, 0.0))
    planner.fix_leases(result.lease_plan())
    return scenario_costs(planner.solve(marginal_values=False))


def test_cvar_of_discrete_costs() -> None:
    costs, probabilities = [1.0, 2.0, 4.0], [0.5, 0.3, 0.2]
    assert cvar(costs, probabilities, 0.8) == pytest.approx(4.0)
    assert cvar(costs, probabilities, 0.7) == pytest.approx((0.2 * 4 + 0.1 * 2) / 0.3)  # 30x straddles
    assert cvar(costs, probabilities, 0.0) == pytest.approx(1.9)
    assert risk_adjusted(costs, probabilities, 0.5, 0.8) == pytest.approx(0.5 * 1.9 + 0.5 * 4.0)


def test_omega_zero_is_the_risk_neutral_plan() -> None:
    neutral = solve(THREE, marginal_values=False)
    # Lease the k-th block while P(demand >= k) x 2.19 > 1.46: only the first (P(D >= 2) = 0.5).
    assert blocks(neutral) == 1
    expected = 0.5 * cost(1, 1) + 0.3 * cost(1, 2) + 0.2 * cost(1, 4)
    assert neutral.objective_usd == pytest.approx(expected) and neutral.expected_cost_usd == pytest.approx(expected)
    assert neutral.cvar_usd is None
    # The CVaR machinery switched on with a negligible weight changes neither the plan nor the cost.
    tiny = solve(with_risk(THREE, 1e-6), marginal_values=False)
    assert tiny.lease_plan() == neutral.lease_plan()
    assert tiny.expected_cost_usd == pytest.approx(expected)
    assert tiny.cvar_usd == pytest.approx(cost(1, 4))
    # And the uncertainty analysis' stochastic plan is that plan.
    assert analyse(THREE).plans["stochastic"] == neutral.lease_plan()


def test_omega_one_with_one_tail_scenario_is_the_min_max_plan() -> None:
    # Brute force: every plan's cost in every scenario (leases fixed, recourse optimal), worst case per plan.
    planner = Planner(THREE)
    worst: dict[int, float] = {}
    for n in range(9):
        planner.fix_leases({("pod", 0): n})
        worst[n] = max(scenario_costs(planner.solve(marginal_values=False)))
    min_max = min(worst, key=worst.__getitem__)
    assert min_max == 4 and worst[4] == pytest.approx(cost(4, 4))

    risky = solve(with_risk(THREE, 1.0), marginal_values=False)
    assert blocks(risky) == min_max
    assert risky.objective_usd == pytest.approx(worst[min_max])
    assert risky.cvar_usd == pytest.approx(max(recourse_costs(THREE, risky)))

    # Two equally likely scenarios with alpha = 0.5: CVaR is the worse of the two.
    two = with_risk(problem({"low": 1, "high": 3}, {"low": 0.5, "high": 0.5}, cvar_alpha=0.5), 1.0)
    result = solve(two, marginal_values=False)
    assert blocks(result) == 3 and result.objective_usd == pytest.approx(cost(3, 3))
    assert result.objective_usd == pytest.approx(max(recourse_costs(two, result)))


def test_expected_cost_rises_and_cvar_falls_with_omega() -> None:
    results = [solve(with_risk(THREE, omega), marginal_values=False) for omega in OMEGAS]
    probabilities = [0.5, 0.3, 0.2]
    costs = [recourse_costs(THREE, r) for r in results]
    expected = [sum(p * c for p, c in zip(probabilities, cs, strict=True)) for cs in costs]
    tail = [cvar(cs, probabilities, 0.8) for cs in costs]
    assert all(a <= b * (1 + 1e-9) for a, b in pairwise(expected))
    assert all(a >= b * (1 - 1e-9) for a, b in pairwise(tail))
    # By hand: objective (1 - w) E + w CVaR over n = 1, 2, 4 blocks picks 1, 1, 2, 4, 4.
    assert [blocks(r) for r in results] == [1, 1, 2, 4, 4]
    assert expected[0] < expected[-1] and tail[0] > tail[-1]
    for omega, r, cs in zip(OMEGAS, results, costs, strict=True):
        assert r.objective_usd == pytest.approx(risk_adjusted(cs, probabilities, omega, 0.8))
        if omega > 0:
            assert r.cvar_usd == pytest.approx(cvar(cs, probabilities, 0.8))


def test_model_cvar_matches_definition_when_a_scenario_straddles_alpha() -> None:
    result = solve(with_risk(THREE, 0.5, alpha=0.7), marginal_values=False)
    assert result.cvar_usd == pytest.approx(cvar(scenario_costs(result), [0.5, 0.3, 0.2], 0.7))


def test_risk_adjusted_figures_keep_ws_le_rp_le_eev() -> None:
    # omega = 0.5: plans n = 2 (RP); WS costs 1.46, 2.92, 5.84 -> 0.5 x 2.774 + 0.5 x 5.84 = 4.307.
    # The EV world has 1.9 blocks of demand -> the EV plan leases 2, which is also the RP plan here.
    analysis = analyse(with_risk(THREE, 0.5))
    f = analysis.figures
    assert f["rp_usd"] == pytest.approx(0.5 * 3.796e6 + 0.5 * 7.30e6)
    assert f["ws_usd"] == pytest.approx(0.5 * 2.774e6 + 0.5 * 5.84e6)
    assert f["eev_usd"] == pytest.approx(f["rp_usd"]) and f["vss_usd"] == pytest.approx(0.0, abs=1e-3)
    assert f["evpi_usd"] == pytest.approx(5.548e6 - 4.307e6)
    assert f["ws_usd"] <= f["rp_usd"] <= f["eev_usd"] * (1 + 1e-9)
    assert any("risk-adjusted" in note for note in analysis.notes)
    # Risk neutral on the same instance: EV plan 2 blocks, stochastic 1; VSS = 3.796 - 3.431.
    neutral = analyse(THREE).figures
    assert neutral["vss_usd"] == pytest.approx(3.796e6 - 3.431e6)
