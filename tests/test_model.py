"""Tiny instances whose optimum is worked out by hand, plus solver behaviour (infeasible, time limit,
determinism).

Unless a test says otherwise (see factory.py): one GPU type at 1,000 tokens/s, demand in
"GPUs worth" of tokens, no discounting, 730 hours a month, so

* a leased GPU-month costs ``2 * 730 = $1,460`` (lease at $2/GPU-hour),
* an on-demand GPU-month costs ``5 * 730 = $3,650`` (on-demand at $5/GPU-hour),
* unserved demand is worth $262,800 per GPU-month, so it is never the cheap way out.

Every expected objective is exact arithmetic; the solver runs with a zero MIP gap.
"""

from __future__ import annotations

import math

import pytest
from factory import (
    CLOUD_GPU_MONTH,
    LEASE_GPU_MONTH,
    WORKLOAD,
    cloud,
    commitment,
    credit,
    gpus_worth,
    lease,
    month,
    realistic,
    tiny,
)

from planner.schema import Policy, PolicyEffect
from planner.solver import solve

REL = 1e-6


def on_demand_gpus(result, scenario: str = "base") -> list[float]:
    """On-demand GPUs rented per month of the horizon (0 where nothing is rented)."""
    table = result.on_demand()
    table = table[table["scenario"] == scenario].groupby("month")["gpus"].sum()
    return [pytest.approx(float(table.get(month(t), 0.0)), abs=1e-6)
            for t in range(result.problem.settings.months)]


def solved(problem, **kwargs):
    result = solve(problem, **kwargs)
    assert result.status == "optimal", result.message
    assert result.has_plan
    return result


# ---- leases against on-demand --------------------------------------------------------------------


@pytest.mark.parametrize(("demand_months", "leased"), [(3, True), (2, False)])
def test_lease_vs_on_demand_break_even(demand_months: int, leased: bool) -> None:
    """10 GPUs are needed in the first ``m`` of 6 months; a 6-month lease (from month 0 only) is worth
    it iff price x term <= on-demand price x m: 2 x 6 = 12 against 5 x m.

    Each leased GPU costs 1,460 x 6 = 8,760 and saves 3,650 x m of on-demand:
    m = 3: saves 10,950 > 8,760, lease all 10: 10 x 8,760 = 87,600 (on-demand would be 109,500);
    m = 2: saves 7,300 < 8,760, lease none: on-demand 10 x 2 x 3,650 = 73,000.
    """
    demand = [10.0] * demand_months + [0.0] * (6 - demand_months)
    result = solved(tiny(demand, offers=[lease(term=6)]))
    if leased:
        assert result.objective_usd == pytest.approx(87_600.0, rel=REL)
        assert result.lease_plan() == {("L", 0): 10}
        assert on_demand_gpus(result) == [0.0] * 6
    else:
        assert result.objective_usd == pytest.approx(73_000.0, rel=REL)
        assert result.lease_plan() == {}
        assert on_demand_gpus(result) == [10.0] * 2 + [0.0] * 4


@pytest.mark.parametrize(("upfront", "expected", "plan"), [(2_000.0, 63_800.0, {("L", 0): 10}),
                                                             (7_000.0, 109_500.0, {})])
def test_upfront_payment_counts_at_signing(upfront: float, expected: float, plan: dict) -> None:
    """10 GPUs for 3 months; a 3-month lease costs 3 x 1,460 = 4,380 per GPU plus the upfront payment,
    on-demand 3 x 3,650 = 10,950 per GPU. Upfront 2,000: 6,380 < 10,950, lease: 63,800.
    Upfront 7,000: 11,380 > 10,950, on-demand: 109,500."""
    result = solved(tiny([10.0] * 3, offers=[lease(term=3, upfront=upfront)]))
    assert result.objective_usd == pytest.approx(expected, rel=REL)
    assert result.lease_plan() == plan
    if plan:
        costs = result.cost_by_category()
        assert costs.loc["base", "upfront"] == pytest.approx(10 * upfront, rel=REL)
        assert costs.loc["base", "leases"] == pytest.approx(10 * 3 * LEASE_GPU_MONTH, rel=REL)


# ---- a term that outlasts demand -------------------------------------------------------------------


def test_term_outlasting_demand_is_paid_in_full() -> None:
    """Demand of 10 GPUs in a 2-month horizon; the only lease has a 4-month term (take-or-pay).
    Lease: $2 x 4 months = 8 < on-demand $5 x 2 months = 10, so lease 10 GPUs and pay all four
    months, two of them after the horizon: 10 x 4 x 1,460 = 58,400 (on-demand: 73,000)."""
    result = solved(tiny([10.0, 10.0], offers=[lease(term=4)]))
    assert result.objective_usd == pytest.approx(58_400.0, rel=REL)
    assert result.lease_plan() == {("L", 0): 10}
    payments = result.lease_payments()
    assert list(payments["month"]) == [month(t) for t in range(4)]
    assert list(payments["in_horizon"]) == [True, True, False, False]
    assert payments["payment_usd"].tolist() == pytest.approx([10 * LEASE_GPU_MONTH] * 4, rel=REL)
    costs = result.costs()
    beyond = costs[~costs["in_horizon"]]
    assert set(beyond["category"]) == {"leases"}
    assert beyond["discounted_usd"].sum() == pytest.approx(2 * 10 * LEASE_GPU_MONTH, rel=REL)
    assert result.leases().loc[0, "total_commitment_usd"] == pytest.approx(58_400.0, rel=REL)


def test_term_outlasting_demand_loses_to_on_demand_when_dearer() -> None:
    """Same, at $3/GPU-hour: $3 x 4 = 12 > $5 x 2 = 10, so on-demand: 10 x 2 x 3,650 = 73,000."""
    result = solved(tiny([10.0, 10.0], offers=[lease(term=4, price=3.0)]))
    assert result.objective_usd == pytest.approx(73_000.0, rel=REL)
    assert result.lease_plan() == {}
    assert on_demand_gpus(result) == [10.0, 10.0]


def test_payments_beyond_horizon_can_be_left_out() -> None:
    """With count_payments_beyond_horizon = no, the $3 lease is charged for the two horizon months
    only: 10 x 2 x 3 x 730 = 43,800 < 73,000 on demand, so it is signed; the two later payments are
    still reported, with no weight in the NPV."""
    result = solved(tiny([10.0, 10.0], offers=[lease(term=4, price=3.0)], count_payments_beyond_horizon=False))
    assert result.objective_usd == pytest.approx(43_800.0, rel=REL)
    assert result.lease_plan() == {("L", 0): 10}
    costs = result.costs()
    beyond = costs[~costs["in_horizon"]]
    assert beyond["cost_usd"].sum() == pytest.approx(2 * 10 * 3.0 * 730, rel=REL)
    assert beyond["discounted_usd"].sum() == 0.0


@pytest.mark.parametrize("count_beyond", [True, False])
def test_commitment_payments_after_the_horizon_follow_the_lease_rule(count_beyond: bool) -> None:
    """One rule for every take-or-pay payment. 2-month horizon, 10 GPUs a month, no discounting.
    An existing commitment of 5 GPUs at $2 runs from month -1 to month 5 (7,300 a month); a 4-month
    lease at $2 (8 < 10 on demand per GPU) covers the other 5 GPUs, also 7,300 a month, months 0-3.
    Month -1 is sunk: never counted. Counted: commitments 6 x 7,300 + lease 4 x 7,300 = 73,000.
    Not counted: both only in months 0-1, 4 x 7,300 = 29,200. Either way the six later payments
    (commitment months 2-5, lease months 2-3) are reported after the horizon, with the same weight."""
    problem = tiny([10.0, 10.0], offers=[lease(term=4)],
                   commitments=[commitment(gpus=5, start=-1, end=5, price=2.0)],
                   count_payments_beyond_horizon=count_beyond)
    result = solved(problem)
    payment = 5 * LEASE_GPU_MONTH
    assert result.objective_usd == pytest.approx((10 if count_beyond else 4) * payment, rel=REL)
    assert result.lease_plan() == {("L", 0): 5}
    costs = result.costs()
    beyond = costs[~costs["in_horizon"]]
    assert sorted(zip(beyond["month"], beyond["category"], strict=True)) == sorted(
        [(month(t), "commitments") for t in range(2, 6)] + [(month(t), "leases") for t in range(2, 4)])
    assert beyond["cost_usd"].tolist() == pytest.approx([payment] * 6, rel=REL)
    assert beyond["discounted_usd"].tolist() == pytest.approx([payment if count_beyond else 0.0] * 6, rel=REL)
    assert month(-1) not in set(costs["month"])


def test_commitment_running_past_the_horizon_is_charged_its_present_value() -> None:
    """A commitment of 10 GPUs at $2 (14,600 a month) from month -3 to month 7 serves a 2-month
    horizon. At 10% a year the cost is sum over months 0..7 of 14,600 x 1.1^(-t/12); without the
    later payments it is months 0-1 only: the difference is the present value of the six months
    after the horizon."""
    def cost(count_beyond: bool) -> float:
        problem = tiny([10.0, 10.0], commitments=[commitment(gpus=10, start=-3, end=7, price=2.0)],
                       discount_rate_per_year=0.1, count_payments_beyond_horizon=count_beyond)
        return solved(problem).objective_usd

    monthly = 10 * LEASE_GPU_MONTH
    assert cost(True) == pytest.approx(sum(monthly * 1.1 ** (-t / 12) for t in range(8)), rel=REL)
    assert cost(True) - cost(False) == pytest.approx(
        sum(monthly * 1.1 ** (-t / 12) for t in range(2, 8)), rel=REL)


# ---- lead time ---------------------------------------------------------------------------------------


def test_lead_time_forces_on_demand_first() -> None:
    """10 GPUs for 6 months; the 4-month lease (blocks of 10 GPUs) can start in month 2 or 3 only.
    Months before the lease are on-demand. Start in month 2: 2 x 10 x 3,650 + 10 x 4 x 1,460
    = 73,000 + 58,400 = 131,400. Start in month 3 (one more on-demand month, and month 6 paid past
    the horizon): 109,500 + 58,400 = 167,900. So one block from month 2."""
    result = solved(tiny([10.0] * 6, offers=[lease(term=4, earliest=2, latest=3, block=10)]))
    assert result.objective_usd == pytest.approx(131_400.0, rel=REL)
    assert result.lease_plan() == {("L", 2): 1}
    assert on_demand_gpus(result) == [10.0, 10.0, 0.0, 0.0, 0.0, 0.0]
    installed = result.capacity().groupby("month")["gpus_installed"].sum()
    assert [installed.get(month(t), 0.0) for t in range(6)] == pytest.approx([0, 0, 10, 10, 10, 10])
    assert result.headline_decisions() == [
        f"sign 1 block of L (10 H100 at dc) from {month(2)} for 4 months at $2.00/GPU-hour"]
    # Compute spend per million tokens served: $5 / 3.6 Mtok per GPU-hour on demand, $2 / 3.6 leased.
    unit_cost = result.usd_per_million_tokens()["usd_per_million_tokens"].tolist()
    assert unit_cost == pytest.approx([5 / 3.6] * 2 + [2 / 3.6] * 4, rel=REL)


# ---- credits -----------------------------------------------------------------------------------------


def test_credits_expire_unused_but_still_make_on_demand_free() -> None:
    """10 GPUs for 4 months. Two 2-month leases: 'early' (months 0-1) and 'late' (months 2-3).
    A $100,000 on-demand credit is valid in months 0-1.

    Months 0-1 on demand cost 2 x 10 x 3,650 = 73,000, all paid by the credit (net 0), cheaper than
    the early lease (29,200). Months 2-3: the late lease, 10 x 2 x 1,460 = 29,200 (on demand 73,000).
    Objective 29,200; the credit applies 36,500 a month, 73,000 in all, and 27,000 expires unused."""
    problem = tiny([10.0] * 4, offers=[lease("early", term=2), lease("late", term=2, earliest=2)],
                   credits=[credit(amount=100_000.0, expiry=1)])
    result = solved(problem)
    assert result.objective_usd == pytest.approx(29_200.0, rel=REL)
    assert result.lease_plan() == {("late", 2): 10}
    assert on_demand_gpus(result) == [10.0, 10.0, 0.0, 0.0]
    burn = result.credits()
    assert list(burn["month"]) == [month(0), month(1)]
    assert burn["applied_usd"].tolist() == pytest.approx([36_500.0, 36_500.0], rel=REL)
    assert burn["remaining_usd"].tolist() == pytest.approx([63_500.0, 27_000.0], rel=REL)
    summary = result.credit_summary().iloc[0]
    assert summary["applied_usd"] == pytest.approx(73_000.0, rel=REL)
    assert summary["expired_unused_usd"] == pytest.approx(27_000.0, rel=REL)
    assert result.cost_by_category().loc["base", "credits"] == pytest.approx(-73_000.0, rel=REL)


def test_credit_expiring_after_the_horizon_is_not_reported_as_wasted() -> None:
    """A $100,000 credit valid past the 2-month horizon pays both months on demand (2 x 36,500) and
    leaves 27,000 unused at the horizon's end: still usable later, so not counted as expired."""
    problem = tiny([10.0] * 2, offers=[], credits=[credit(amount=100_000.0, expiry=5)])
    result = solved(problem)
    assert result.objective_usd == pytest.approx(0.0, abs=1e-3)
    summary = result.credit_summary().iloc[0]
    assert summary["applied_usd"] == pytest.approx(73_000.0, rel=REL)
    assert summary["expired_unused_usd"] == 0.0
    assert summary["unused_at_horizon_end_usd"] == pytest.approx(27_000.0, rel=REL)


def test_credit_smaller_than_spend_is_used_in_full() -> None:
    """As above with a $50,000 credit. In months 0-1, n early-lease GPUs cost 2,920 each and the
    other 10 - n run on demand for 7,300 each, less the credit:
    n = 2: 5,840 + (58,400 - 50,000) = 14,240; n = 3: 8,760 + (51,100 - 50,000) = 9,860;
    n = 4: 11,680 + 0 (43,800 of credit used, 6,200 lost) = 11,680. So n = 3, the whole credit is
    used, and with the late lease (29,200) the objective is 39,060."""
    problem = tiny([10.0] * 4, offers=[lease("early", term=2), lease("late", term=2, earliest=2)],
                   credits=[credit(amount=50_000.0, expiry=1)])
    result = solved(problem)
    assert result.objective_usd == pytest.approx(39_060.0, rel=REL)
    assert result.lease_plan() == {("early", 0): 3, ("late", 2): 10}
    assert on_demand_gpus(result) == [7.0, 7.0, 0.0, 0.0]
    summary = result.credit_summary().iloc[0]
    assert summary["applied_usd"] == pytest.approx(50_000.0, rel=REL)
    assert summary["expired_unused_usd"] == pytest.approx(0.0, abs=1e-3)


def test_credit_pays_only_its_providers_eligible_spend() -> None:
    """10 GPUs for 2 months. 'other' rents at most 4 GPUs at $6 (4,380 a GPU-month) and has a $1M
    credit: its 4 GPUs are free (2 x 4 x 4,380 = 35,040 of credit applied); the other 6 GPUs run on
    'cloud', which no credit pays: 2 x 6 x 3,650 = 43,800. A $1,000 lease-only credit does not make
    the $3 lease worth it: one GPU for 4 months costs 8,760 - 1,000 = 7,760 > 7,300 of on-demand."""
    problem = tiny([10.0, 10.0], offers=[lease(term=4, price=3.0)],
                   on_demand=[cloud(), cloud("other", provider="other", price=6.0, max_gpus=4)],
                   credits=[credit("other-od", amount=1e6, expiry=1, provider="other"),
                            credit("lessor-leases", amount=1e3, expiry=1, provider="lessor",
                                   applies_to="leases")])
    result = solved(problem)
    assert result.objective_usd == pytest.approx(43_800.0, rel=REL)
    assert result.lease_plan() == {}
    rented = result.on_demand().groupby("option_id")["gpus"].sum()
    assert rented.to_dict() == pytest.approx({"cloud": 12.0, "other": 8.0}, rel=REL)
    applied = result.credit_summary().set_index("credit_id")["applied_usd"]
    assert applied["other-od"] == pytest.approx(35_040.0, rel=REL)
    assert applied["lessor-leases"] == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize(("applies_to", "amount", "applied"), [
    ("leases", 1e6, [14_600.0, 14_600.0]), ("all", 1e6, [14_600.0, 14_600.0]), ("on_demand", 1e6, [0.0, 0.0]),
    ("leases", 20_000.0, None)])
def test_credit_pays_an_existing_commitment(applies_to: str, amount: float, applied: list[float] | None) -> None:
    """A reservation credit pays a reservation signed before the horizon, with no new lease signed.
    10 GPUs already committed from the lessor at $2 for months -2..3 (14,600 a month; months -2 and -1
    are sunk) serve all the demand: 4 x 14,600 = 58,400 in the horizon. A credit from the lessor is
    valid in months 1-2. For leases or all spend it pays the commitment in its window: a $1M credit
    pays 14,600 in each of months 1 and 2 (29,200; the rest expires), a $20,000 credit is used in full.
    An on-demand credit pays nothing: there is no on-demand spend with the lessor."""
    problem = tiny([10.0] * 4, commitments=[commitment(gpus=10, start=-2, end=3, price=2.0)],
                   credits=[credit(amount=amount, valid_from=1, expiry=2, provider="lessor",
                                   applies_to=applies_to)])
    result = solved(problem)
    total = sum(applied) if applied is not None else amount
    assert result.objective_usd == pytest.approx(4 * 14_600.0 - total, rel=REL, abs=1e-3)
    assert result.lease_plan() == {}
    assert on_demand_gpus(result) == [0.0] * 4
    burn = result.credits()
    assert list(burn["month"]) == [month(1), month(2)]
    if applied is not None:
        assert burn["applied_usd"].tolist() == pytest.approx(applied, abs=1e-3)
    assert burn["applied_usd"].sum() == pytest.approx(total, rel=REL, abs=1e-3)
    assert (burn["applied_usd"] <= 14_600.0 + 1e-3).all()
    assert result.cost_by_category().loc["base"].get("credits", 0.0) == pytest.approx(-total, rel=REL, abs=1e-3)


# ---- power ---------------------------------------------------------------------------------------------


def test_power_cap_binds_and_the_rest_goes_on_demand() -> None:
    """1 kW per GPU at PUE 1.25 and a 0.005 MW cap: at most 0.005 / (1.25 kW) = 4 GPUs serve at the
    site. 10 GPUs for 4 months with a 4-month lease: lease 4 (more would sit idle and unpowered),
    6 on demand: 4 x 4 x 1,460 + 6 x 4 x 3,650 = 23,360 + 87,600 = 110,960."""
    problem = tiny([10.0] * 4, offers=[lease(term=4)], power_cap_mw=0.005, pue=1.25)
    result = solved(problem)
    assert result.objective_usd == pytest.approx(110_960.0, rel=REL)
    assert result.lease_plan() == {("L", 0): 4}
    assert on_demand_gpus(result) == [6.0] * 4
    power = result.power()
    assert power["draw_mw"].tolist() == pytest.approx([0.005] * 4, rel=REL)
    assert power["share_of_cap"].tolist() == pytest.approx([1.0] * 4, rel=REL)


def test_marginal_value_of_power_when_capacity_idles() -> None:
    """10 existing GPUs (price 0), power for 4: 6 GPUs on demand each month. One more MW lets
    1 / 1.25 kW = 800 more GPUs run, each saving 3,650 a month: $2,920,000 per MW-month; the
    installed GPUs themselves are worth nothing at the margin (6 idle)."""
    problem = tiny([10.0] * 4, commitments=[commitment(gpus=10, start=0, end=3)], power_cap_mw=0.005, pue=1.25)
    result = solved(problem)
    assert result.objective_usd == pytest.approx(6 * 4 * CLOUD_GPU_MONTH, rel=REL)
    values = result.marginal_values()
    mw = values[values["resource"] == "mw"]["value_usd"].tolist()
    gpu_hour = values[values["resource"] == "gpu_hour"]["value_usd"].tolist()
    # Duals include the tie-break of 0.01 USD per GPU-month (800 GPUs x 0.01 = 8 USD of 2.92M).
    assert mw == pytest.approx([2_920_000.0] * 4, rel=1e-5)
    assert gpu_hour == pytest.approx([0.0] * 4, abs=1e-6)


# ---- rate-limit policies -------------------------------------------------------------------------------


def policy_problem(revenue: float, admitted: float = 0.8, peak: float = 1.0, goodwill: float = 100.0):
    """10 GPUs of demand in month 0 and none in month 1, on demand only; unserved is not allowed.
    Policies: 'open' (no effect, free) and 'tight' (``admitted`` share, ``peak`` multiplier)."""
    return tiny([10.0, 0.0], revenue=revenue, unserved_allowed=False,
                policies=[Policy(name="open"), Policy(name="tight", goodwill_cost_usd_per_month=goodwill)],
                policy_effects=[PolicyEffect(policy="tight", workload=WORKLOAD, admitted_fraction=admitted,
                                             peak_to_average_multiplier=peak)])


def test_throttling_chosen_when_cheaper_than_capacity() -> None:
    """Revenue $0.50 per million tokens. Month 0: 'open' serves 10 GPUs: 36,500. 'tight' admits 80%:
    8 GPUs (29,200) + goodwill 100 + 2 GPUs of tokens lost (2 x 2,628 Mtok x 0.5 = 2,628) = 31,928.
    Month 1 has no demand: 'open' (free) beats 'tight' (100). Objective 31,928."""
    result = solved(policy_problem(revenue=0.5))
    assert result.objective_usd == pytest.approx(31_928.0, rel=REL)
    assert result.policies()["policy"].tolist() == ["tight", "open"]
    assert on_demand_gpus(result) == [8.0, 0.0]
    tokens = result.tokens().iloc[0]
    assert tokens["throttled_tokens"] == pytest.approx(gpus_worth(2), rel=REL)
    assert tokens["served_tokens"] == pytest.approx(gpus_worth(8), rel=REL)
    assert tokens["throttling_cost_usd"] == pytest.approx(2_628.0, rel=REL)


def test_throttling_not_chosen_when_revenue_is_high() -> None:
    """Revenue $2 per million tokens: 'tight' costs 29,200 + 100 + 2 x 2,628 x 2 = 39,812 > 36,500,
    so 'open' both months and everything is served: 36,500."""
    result = solved(policy_problem(revenue=2.0))
    assert result.objective_usd == pytest.approx(36_500.0, rel=REL)
    assert result.policies()["policy"].tolist() == ["open", "open"]
    assert result.tokens()["throttled_tokens"].sum() == pytest.approx(0.0, abs=1.0)


def test_peak_hour_limit_halves_the_capacity_needed() -> None:
    """A peak-hour limit that admits everything but halves the peak needs 5 GPUs instead of 10:
    5 x 3,650 + 1,000 goodwill = 19,250 < 36,500; nothing is throttled."""
    result = solved(policy_problem(revenue=2.0, admitted=1.0, peak=0.5, goodwill=1_000.0))
    assert result.objective_usd == pytest.approx(19_250.0, rel=REL)
    assert result.policies()["policy"].tolist() == ["tight", "open"]
    assert on_demand_gpus(result) == [5.0, 0.0]
    assert result.tokens()["served_tokens"].sum() == pytest.approx(gpus_worth(10), rel=REL)


# ---- two scenarios ---------------------------------------------------------------------------------------

HEDGE_DEMAND = {"low": [10.0, 10.0, 10.0, 10.0], "high": [30.0, 30.0, 20.0, 20.0]}


def hedge_problem(**settings):
    """Low / high demand at 0.5 / 0.5; one 4-month lease from month 0 at $2 (5,840 per GPU)."""
    return tiny(HEDGE_DEMAND, offers=[lease(term=4)], **settings)


def test_stochastic_hedge_differs_from_each_scenarios_own_plan() -> None:
    """Each scenario alone leases exactly what it uses for 2+ months (a lease GPU costs 5,840, an
    on-demand GPU-month 3,650): low leases 10 (58,400), high leases 30 (175,200; GPUs 21-30 are used
    2 months, saving 7,300 > 5,840).

    Together, GPU n of the lease is used in low only if n <= 10; in high 4 months if n <= 20 and
    2 months if n <= 30. Expected saving of GPUs 11-20: 0.5 x 4 x 3,650 = 7,300 > 5,840, so lease;
    of GPUs 21-30: 0.5 x 2 x 3,650 = 3,650 < 5,840, so not. The hedge leases 20, strictly between.
    Costs: low 116,800; high 116,800 + 2 months x 10 GPUs on demand (73,000) = 189,800;
    expected 153,300. Low's plan would cost 167,900 in expectation and high's 175,200."""
    problem = hedge_problem()
    low = solved(problem, scenarios=["low"])
    high = solved(problem, scenarios=["high"])
    hedge = solved(problem)
    assert low.lease_plan() == {("L", 0): 10}
    assert low.objective_usd == pytest.approx(58_400.0, rel=REL)
    assert high.lease_plan() == {("L", 0): 30}
    assert high.objective_usd == pytest.approx(175_200.0, rel=REL)
    assert hedge.lease_plan() == {("L", 0): 20}
    assert hedge.objective_usd == pytest.approx(153_300.0, rel=REL)
    costs = hedge.scenario_costs().set_index("scenario")
    assert costs.loc["low", "npv_usd"] == pytest.approx(116_800.0, rel=REL)
    assert costs.loc["high", "npv_usd"] == pytest.approx(189_800.0, rel=REL)
    assert on_demand_gpus(hedge, "low") == [0.0] * 4
    assert on_demand_gpus(hedge, "high") == [10.0, 10.0, 0.0, 0.0]
    # Each scenario's own plan, imposed on both scenarios, is worse than the hedge.
    for plan, expected in ((low.lease_plan(), 167_900.0), (high.lease_plan(), 175_200.0)):
        fixed = solved(problem, fixed_leases=plan)
        assert fixed.objective_usd == pytest.approx(expected, rel=REL)


def test_cvar_weight_one_plans_for_the_worst_case() -> None:
    """With CVaR weight 1 at alpha 0.5, two equally likely scenarios: the objective is the cost of
    the worse scenario, minimised by high's own plan (30 GPUs, 175,200 in both scenarios)."""
    result = solved(hedge_problem(cvar_weight=1.0, cvar_alpha=0.5))
    assert result.lease_plan() == {("L", 0): 30}
    assert result.objective_usd == pytest.approx(175_200.0, rel=REL)
    assert result.cvar_usd == pytest.approx(175_200.0, rel=REL)


def test_cvar_weight_trades_expected_cost_for_tail_cost() -> None:
    """Omega 0 is the risk-neutral hedge. Each lease GPU from 21 to 30 adds 5,840 - 3,650 = 2,190 to
    the expected cost and takes 7,300 - 5,840 = 1,460 off the worse scenario (CVaR at alpha 0.5 of two
    equal scenarios), so it pays iff (1 - omega) 2,190 < omega 1,460, i.e. omega > 0.6: 20 GPUs up to
    omega 0.5, 30 from 0.75. Expected cost never falls and CVaR never rises as omega grows."""
    neutral = solved(hedge_problem())
    zero = solved(hedge_problem(cvar_weight=0.0, cvar_alpha=0.5))
    assert zero.objective_usd == pytest.approx(neutral.objective_usd, rel=REL)
    assert zero.lease_plan() == neutral.lease_plan()
    omegas = (0.0, 0.25, 0.5, 0.75, 1.0)
    plans, expected, tail = [], [], []
    for omega in omegas:
        result = solved(hedge_problem(cvar_weight=omega, cvar_alpha=0.5))
        plans.append(result.lease_plan()[("L", 0)])
        expected.append(result.expected_cost_usd)
        tail.append(float(result.scenario_costs()["npv_usd"].max()))
        if omega > 0:
            assert result.cvar_usd == pytest.approx(tail[-1], rel=REL)
            assert result.objective_usd == pytest.approx((1 - omega) * expected[-1] + omega * tail[-1], rel=REL)
    assert plans == [20, 20, 20, 30, 30]
    assert expected == pytest.approx([153_300.0] * 3 + [175_200.0] * 2, rel=REL)
    assert tail == pytest.approx([189_800.0] * 3 + [175_200.0] * 2, rel=REL)


# ---- offer limits, budget, provider share, commitments, discounting ----------------------------------


@pytest.mark.parametrize(("min_blocks", "expected", "plan"), [(12, 70_080.0, {("L", 0): 12}),
                                                                 (30, 146_000.0, {})])
def test_min_blocks_if_used(min_blocks: int, expected: float, plan: dict) -> None:
    """10 GPUs for 4 months; a 4-month lease costs 5,840 per GPU but must be at least ``min_blocks``
    GPUs if used at all. 12: 12 x 5,840 = 70,080 (2 idle) beats on-demand 10 x 4 x 3,650 = 146,000.
    30: 175,200 > 146,000, so on-demand only."""
    result = solved(tiny([10.0] * 4, offers=[lease(term=4, min_blocks=min_blocks)]))
    assert result.objective_usd == pytest.approx(expected, rel=REL)
    assert result.lease_plan() == plan
    if plan:  # two leased GPUs sit idle every month
        utilisation = result.utilisation()
        assert utilisation["gpus_idle"].tolist() == pytest.approx([2.0] * 4)
        assert utilisation["utilisation"].tolist() == pytest.approx([10 / 12] * 4)


@pytest.mark.parametrize("min_blocks", [0, 1, 2])
def test_min_blocks_never_forces_an_offer(min_blocks: int) -> None:
    """A lease at $6 is dearer than $5 on demand: it is not signed, whatever its minimum (a minimum
    binds only an offer that is used): 10 x 4 x 3,650 = 146,000 on demand."""
    result = solved(tiny([10.0] * 4, offers=[lease(term=4, price=6.0, min_blocks=min_blocks)]))
    assert result.objective_usd == pytest.approx(146_000.0, rel=REL)
    assert result.lease_plan() == {}


def test_max_blocks_caps_the_lease_and_prices_capacity() -> None:
    """At most 6 blocks: 6 x 5,840 + 4 x 4 x 3,650 = 35,040 + 58,400 = 93,440. One more leased GPU-hour
    would replace an on-demand one: its marginal value is the on-demand price, $5 per GPU-hour."""
    result = solved(tiny([10.0] * 4, offers=[lease(term=4, max_blocks=6)]))
    assert result.objective_usd == pytest.approx(93_440.0, rel=REL)
    assert result.lease_plan() == {("L", 0): 6}
    assert on_demand_gpus(result) == [4.0] * 4
    values = result.marginal_values()
    # Duals include the tie-break of 0.01 USD per GPU-month (1.4e-5 USD per GPU-hour).
    assert values[values["resource"] == "gpu_hour"]["value_usd"].tolist() == pytest.approx([5.0] * 4, rel=1e-5)


def test_budget_cap_binds() -> None:
    """A $50,000 cap on new commitments buys 8 GPUs (46,720; a 9th would make 52,560):
    8 x 5,840 + 2 x 4 x 3,650 = 46,720 + 29,200 = 75,920."""
    result = solved(tiny([10.0] * 4, offers=[lease(term=4)], max_total_commitment_usd=50_000.0))
    assert result.objective_usd == pytest.approx(75_920.0, rel=REL)
    assert result.lease_plan() == {("L", 0): 8}
    assert result.leases()["total_commitment_usd"].sum() <= 50_000.0


def test_provider_share_cap_binds() -> None:
    """No provider may take more than half of lease + on-demand spend; with two providers both
    spend exactly the same. n leased GPUs cost 5,840 n with the lessor; the cloud must then be paid
    5,840 n too, of which 14,600 (10 - n) serves demand and the rest is idle rental.
    n = 7: the cloud's 43,800 > 40,880 would exceed half, so demand would go unserved (dear);
    n = 8: 46,720 + 46,720 (29,200 used, 17,520 idle) = 93,440; n = 9: 2 x 52,560 = 105,120;
    n = 6: 35,040 + 58,400 = 93,440 would tie, but the cloud's 58,400 exceeds half: infeasible.
    So 8 blocks, 93,440 (without the cap: 10 blocks, 58,400)."""
    result = solved(tiny([10.0] * 4, offers=[lease(term=4)], max_provider_share=0.5))
    assert result.objective_usd == pytest.approx(93_440.0, rel=REL)
    assert result.lease_plan() == {("L", 0): 8}
    assert result.on_demand()["cost_usd"].sum() == pytest.approx(46_720.0, rel=REL)
    assert result.tokens()["unserved_tokens"].sum() == pytest.approx(0.0, abs=1.0)


@pytest.mark.parametrize("cloud_credit", [0.0, 20_000.0])
def test_provider_share_counts_spend_before_credits(cloud_credit: float) -> None:
    """The instance above with a cloud credit: the cap counts money paid before credits, so the
    credit changes neither the plan (8 blocks) nor the cloud spend the cap needs (46,720, equal to
    the lessor's); it only pays 20,000 of it: 93,440 - 20,000 = 73,440. (Counted after credits, the
    credit would shrink the cloud's share below the lessor's, and the plan would have to rent more
    idle cloud, or lease less, to restore it.)"""
    credits = [credit(amount=cloud_credit, expiry=3)] if cloud_credit else []
    result = solved(tiny([10.0] * 4, offers=[lease(term=4)], credits=credits, max_provider_share=0.5))
    assert result.objective_usd == pytest.approx(93_440.0 - cloud_credit, rel=REL)
    assert result.lease_plan() == {("L", 0): 8}
    assert result.on_demand()["cost_usd"].sum() == pytest.approx(46_720.0, rel=REL)
    assert result.credits()["applied_usd"].sum() == pytest.approx(cloud_credit, rel=REL, abs=1e-3)


def test_provider_share_counts_upfront_payments() -> None:
    """Upfront payments are money paid to the provider. A 4-month lease at $2 with $2,000 upfront per
    GPU puts 5,840 + 2,000 = 7,840 per GPU in the lessor's share; each GPU not leased puts 14,600 of
    on-demand in the cloud's; neither may exceed 60%, i.e. 1.5 x the other. n GPUs leased:
    n = 7: 54,880 <= 1.5 x 43,800, cost 98,680; n = 8: 62,720 needs 41,813 of cloud (12,613 idle):
    104,533; n = 6: 47,040 + 58,400 = 105,440. So 7 blocks, 98,680. Were upfront left out of the
    share, 8 blocks would need only 46,720 / 1.5 of cloud: 62,720 + 31,147 = 93,867."""
    result = solved(tiny([10.0] * 4, offers=[lease(term=4, upfront=2_000.0)], max_provider_share=0.6))
    assert result.objective_usd == pytest.approx(98_680.0, rel=REL)
    assert result.lease_plan() == {("L", 0): 7}
    assert result.on_demand()["cost_usd"].sum() == pytest.approx(43_800.0, rel=REL)


def test_provider_share_counts_existing_commitments() -> None:
    """A commitment is money paid to its provider too. 4 GPUs committed from the lessor at $2 for
    months 0-3 (23,360) and n leased at 5,840 each; the cloud is paid 14,600 for each of the other
    6 - n GPUs; neither may exceed 60% (1.5 x the other). n = 4: 46,720 needs 31,147 of cloud
    (29,200 serving): 46,720 x 5/3 = 77,867; n = 3: 40,880 + 43,800 = 84,680; n = 5: 52,560 needs
    35,040: 87,600. So 4 blocks. Left out of the share, the commitment would allow 5 blocks
    (29,200 against 19,467 of cloud): 72,027."""
    problem = tiny([10.0] * 4, offers=[lease(term=4)], commitments=[commitment(gpus=4, start=0, end=3, price=2.0)],
                   max_provider_share=0.6)
    result = solved(problem)
    assert result.objective_usd == pytest.approx(46_720.0 * 5 / 3, rel=REL)
    assert result.lease_plan() == {("L", 0): 4}
    assert result.on_demand()["cost_usd"].sum() == pytest.approx(46_720.0 / 1.5, rel=REL)


def test_existing_commitment_is_counted_not_chosen() -> None:
    """4 GPUs already signed at $2.40 for months 0-3 (4 x 4 x 2.4 x 730 = 28,032) serve first;
    the other 6 run on demand (87,600): 115,632."""
    result = solved(tiny([10.0] * 4, commitments=[commitment(gpus=4, start=0, end=3, price=2.4)]))
    assert result.objective_usd == pytest.approx(115_632.0, rel=REL)
    assert result.lease_plan() == {}
    assert on_demand_gpus(result) == [6.0] * 4
    assert result.cost_by_category().loc["base", "commitments"] == pytest.approx(28_032.0, rel=REL)


def test_discounting() -> None:
    """At 8% a year, 10 on-demand GPUs in month 12 (nothing before) cost 36,500 / 1.08 in NPV."""
    result = solved(tiny([0.0] * 12 + [10.0], discount_rate_per_year=0.08))
    assert result.objective_usd == pytest.approx(36_500.0 / 1.08, rel=REL)


def test_unserved_when_serving_costs_more_than_the_revenue() -> None:
    """At $1 per million tokens a GPU-month of tokens is worth 2,628 < 3,650 on demand: leave it
    unserved. With a 4-month lease at $0.50 (365 a GPU-month) it pays to lease and serve:
    10 x 4 x 365 = 14,600."""
    unserved = solved(tiny([10.0] * 4, revenue=1.0))
    assert unserved.objective_usd == pytest.approx(10 * 4 * 2_628.0, rel=REL)
    assert unserved.tokens()["unserved_tokens"].sum() == pytest.approx(gpus_worth(40), rel=REL)
    leased = solved(tiny([10.0] * 4, revenue=1.0, offers=[lease(term=4, price=0.5)]))
    assert leased.objective_usd == pytest.approx(14_600.0, rel=REL)
    assert leased.lease_plan() == {("L", 0): 10}


# ---- solver behaviour ------------------------------------------------------------------------------------


def test_infeasible_names_the_workload_and_months() -> None:
    """Unserved demand is not allowed, the lease starts in month 2 and on-demand has only 5 GPUs:
    months 0-1 cannot be served."""
    problem = tiny([10.0] * 4, offers=[lease(term=4, earliest=2)], on_demand=[cloud(max_gpus=5)],
                   unserved_allowed=False)
    result = solve(problem)
    assert result.status == "infeasible"
    assert not result.has_plan
    assert result.objective_usd is None
    assert result.diagnosis
    text = " ".join(result.diagnosis)
    assert f"'{WORKLOAD}'" in text
    assert f"{month(0)}..{month(1)}" in text
    assert month(2) not in text
    assert "infeasible" in result.message


def test_infeasible_budget_names_the_shortfall() -> None:
    """Only a lease of at least 12 GPUs (12 x 5,840 = 70,080) can serve demand that may not go unserved,
    but the budget is 50,000: the diagnosis names the $20,080 missing."""
    problem = tiny([10.0] * 4, offers=[lease(term=4, min_blocks=12)], on_demand=[], unserved_allowed=False,
                   max_total_commitment_usd=50_000.0)
    result = solve(problem)
    assert result.status == "infeasible"
    assert any("budget" in line and "$20,080" in line for line in result.diagnosis), result.diagnosis


def test_same_input_gives_the_same_plan() -> None:
    """Two independent builds and solves of the same input give bit-identical plans (fixed seed)."""
    problem = realistic(12)
    first, second = solve(problem), solve(problem)
    assert first.status == second.status == "optimal"
    assert first.lease_plan() == second.lease_plan()
    assert first.objective_usd == second.objective_usd
    for table in ("policies", "on_demand", "capacity", "costs", "credits"):
        assert getattr(first, table)().equals(getattr(second, table)()), table


def test_time_limit_is_reported_with_or_without_a_plan() -> None:
    """A millisecond is far too little for the 24-month realistic instance (it needs about a second)."""
    result = solve(realistic(24, mip_gap=0.0), time_limit_seconds=0.001)
    assert result.status == "time_limit"
    if result.has_plan:
        assert result.best_bound_usd is not None
        assert result.best_bound_usd <= result.objective_usd * (1 + 1e-9)
        assert result.mip_gap is not None and not math.isnan(result.mip_gap)
        assert result.summary()["mip_gap"] == result.mip_gap
        # The incumbent is a plan one could sign: every lease inside its window and block limits.
        offers = {o.offer_id: o for o in result.problem.lease_offers}
        for (offer_id, k), blocks in result.lease_plan().items():
            o = offers[offer_id]
            assert result.problem.month_index(o.earliest_start_month) <= k
            assert k <= result.problem.month_index(o.latest_start_month)
            assert 0 < blocks <= o.max_blocks
        assert len(result.summary()["leases"]) == len(result.leases())
    else:
        assert result.objective_usd is None
        assert result.lease_plan() == {}
        assert result.summary()["status"] == "time_limit"
        assert result.summary()["leases"] == []
