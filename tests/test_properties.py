"""Properties of the optimization model on generated small instances (hypothesis).

A wrong model breaks at least one of them: cost monotone in every number that only makes the plan
dearer (demand, prices) or cheaper (credits, power, offer and cloud limits); the newsvendor quantile;
WS <= RP <= EEV and the regret identities; re-solving in place after ``Planner.update`` equals a fresh
solve; the objective re-prices from the input.

Instances: one GPU type, one workload, one site (factory.tiny), 2-3 months, up to two scenarios, up
to two lease offers (lessor or cloud), a capped on-demand option, an optional commitment (possibly
starting before and ending after the horizon), credit, rate-limit policy, power cap, budget and share
cap. Unserved demand is allowed (at a value that sometimes makes it the cheap way out), so every
instance without a share cap is feasible. Examples are derandomized: CI runs the same ones every time.

Tolerances are derived, not guessed:

* MIP gap: a solve stops when incumbent - bound <= ``GAP`` x |incumbent| or <= HiGHS's absolute gap
  of 1e-6 MUSD (``ABS_GAP_USD`` = $1). Where the result is at hand its own certificate (objective -
  best bound) is used instead of the bound.
* Tie-break: the model also minimises 0.01 USD per GPU-month leased or rented, which the reported cost
  leaves out; two optimal plans' reported costs may differ by at most that amount for the instance's
  largest plan (``tie_break_bound_usd``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

from factory import (
    CLOUD_PRICE,
    HOURS,
    TOKENS_PER_SECOND,
    WORKLOAD,
    cloud,
    commitment,
    credit,
    lease,
    month,
    tiny,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from repricing import lease_side_spend_usd, repriced_expected_cost_usd

import planner
from planner.model.costs import TIE_BREAK_MUSD_PER_KGPU_MONTH
from planner.schema import Policy, PolicyEffect, Problem

GAP = 1e-4
"""Relative MIP gap of every generated instance (the Settings default)."""
ABS_GAP_USD = 1.0
"""HiGHS's absolute MIP gap, 1e-6 in the model's money unit (MUSD)."""
TIE_BREAK_USD_PER_GPU_MONTH = TIE_BREAK_MUSD_PER_KGPU_MONTH * 1e6 / 1e3
INTEGRALITY_REL = 1e-6
"""HiGHS accepts an integer within 1e-6 (mip_feasibility_tolerance); the result tables round blocks."""
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
"""Small, fixed sets of examples: the default suite stays fast and CI sees the same ones every run."""


# ---- instances ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferSpec:
    provider: str
    price: float
    term: int
    earliest: int
    latest: int
    block: int
    max_blocks: int
    min_blocks: int
    upfront: float
    lead_time: int = 0


@dataclass(frozen=True)
class CommitmentSpec:
    provider: str
    gpus: int
    start: int
    end: int
    price: float


@dataclass(frozen=True)
class CreditSpec:
    provider: str
    amount: float
    valid_from: int
    expiry: int
    applies_to: str


@dataclass(frozen=True)
class Spec:
    """A generated instance as plain numbers, so a property can change one of them."""

    demand: tuple[tuple[int, ...], ...]
    probabilities: tuple[float, ...]
    offers: tuple[OfferSpec, ...]
    od_price: float
    od_max_gpus: int
    commitment: CommitmentSpec | None
    credit: CreditSpec | None
    power_cap_mw: float
    revenue: float
    goodwill: float | None
    discount_rate: float
    count_beyond: bool
    share_cap: float | None
    budget: float | None
    tokens_per_second: float = TOKENS_PER_SECOND

    @property
    def months(self) -> int:
        return len(self.demand[0])

    def problem(self, **settings: float) -> Problem:
        policies, effects = [], []
        if self.goodwill is not None:
            policies = [Policy(name="open"), Policy(name="limits", goodwill_cost_usd_per_month=self.goodwill)]
            effects = [PolicyEffect(policy="limits", workload=WORKLOAD, admitted_fraction=0.8,
                                    peak_to_average_multiplier=0.6)]
        c, r = self.commitment, self.credit
        return tiny(
            {f"s{i}": list(map(float, d)) for i, d in enumerate(self.demand)},
            probabilities={f"s{i}": p for i, p in enumerate(self.probabilities)},
            offers=[lease(f"L{i}", provider=o.provider, price=o.price, term=o.term, earliest=o.earliest,
                          latest=o.latest, block=o.block, max_blocks=o.max_blocks, min_blocks=o.min_blocks,
                          upfront=o.upfront, lead_time=o.lead_time) for i, o in enumerate(self.offers)],
            on_demand=[cloud(price=self.od_price, max_gpus=self.od_max_gpus)],
            commitments=[] if c is None else [commitment(provider=c.provider, gpus=c.gpus, start=c.start,
                                                         end=c.end, price=c.price)],
            credits=[] if r is None else [credit(provider=r.provider, amount=r.amount, valid_from=r.valid_from,
                                                 expiry=r.expiry, applies_to=r.applies_to)],
            policies=policies, policy_effects=effects, revenue=self.revenue, power_cap_mw=self.power_cap_mw,
            tokens_per_second=self.tokens_per_second, discount_rate_per_year=self.discount_rate,
            count_payments_beyond_horizon=self.count_beyond, max_provider_share=self.share_cap,
            max_total_commitment_usd=self.budget, mip_gap=GAP, **settings,
        )


@st.composite
def offer_specs(draw: st.DrawFn, months: int) -> OfferSpec:
    earliest = draw(st.integers(0, months - 1))
    latest = draw(st.integers(earliest, months - 1))
    max_blocks = draw(st.integers(1, 6))
    return OfferSpec(
        provider=draw(st.sampled_from(["lessor", "cloud"])), price=draw(st.sampled_from([1.0, 1.5, 2.0, 3.0, 4.0])),
        term=draw(st.integers(1, 4)), earliest=earliest, latest=latest,
        block=draw(st.sampled_from([1, 2, 4])), max_blocks=max_blocks,
        min_blocks=draw(st.integers(0, min(2, max_blocks))), upfront=draw(st.sampled_from([0.0, 500.0, 2_000.0])),
        # Some start must be signed inside the horizon: lead time <= latest start.
        lead_time=draw(st.integers(0, min(latest, 2))),
    )


@st.composite
def specs(draw: st.DrawFn, *, scenarios: int | None = None, share_cap: bool = True) -> Spec:
    """A small instance; ``scenarios`` fixes the number of scenarios (default: 1 or 2)."""
    months = draw(st.integers(2, 3))
    n = scenarios or draw(st.integers(1, 2))
    demand = tuple(tuple(draw(st.lists(st.integers(0, 12), min_size=months, max_size=months))) for _ in range(n))
    probabilities = (1.0,) if n == 1 else draw(st.sampled_from([(0.5, 0.5), (0.25, 0.75), (0.75, 0.25)]))
    offers = tuple(draw(st.lists(offer_specs(months), max_size=2)))
    commitment_spec = None
    if draw(st.booleans()):
        start = draw(st.integers(-2, months - 1))
        commitment_spec = CommitmentSpec(provider=draw(st.sampled_from(["lessor", "cloud"])),
                                         gpus=draw(st.integers(1, 6)), start=start,
                                         end=draw(st.integers(max(start, 0), months + 2)),
                                         price=draw(st.sampled_from([1.0, 2.0, 3.0])))
    providers = sorted({"cloud"} | {o.provider for o in offers}
                       | ({commitment_spec.provider} if commitment_spec else set()))
    credit_spec = None
    if draw(st.booleans()):
        valid_from = draw(st.integers(0, months - 1))
        credit_spec = CreditSpec(provider=draw(st.sampled_from(providers)),
                                 amount=draw(st.sampled_from([1_000.0, 5_000.0, 20_000.0, 100_000.0])),
                                 valid_from=valid_from, expiry=draw(st.integers(valid_from, months + 1)),
                                 applies_to=draw(st.sampled_from(["on_demand", "leases", "all"])))
    return Spec(
        demand=demand, probabilities=probabilities, offers=offers,
        od_price=draw(st.sampled_from([3.0, CLOUD_PRICE, 7.0])), od_max_gpus=draw(st.integers(1, 15)),
        commitment=commitment_spec, credit=credit_spec,
        # 1 kW per GPU at PUE 1: 0.008 MW serves 8 GPUs, 0.02 MW 20.
        power_cap_mw=draw(st.sampled_from([1_000.0, 0.008, 0.02])),
        # $1 per million tokens: a GPU-month of tokens is worth 2,628, less than on demand.
        revenue=draw(st.sampled_from([1.0, 2.0, 100.0])),
        goodwill=draw(st.sampled_from([None, 0.0, 5_000.0])),
        discount_rate=draw(st.sampled_from([0.0, 0.1])), count_beyond=draw(st.booleans()),
        share_cap=draw(st.sampled_from([None, 0.6, 0.8])) if share_cap else None,
        budget=draw(st.sampled_from([None, 20_000.0, 60_000.0])),
    )


def solve(problem: Problem) -> planner.PlanResult:
    return planner.solve(problem, marginal_values=False)


def tie_break_bound_usd(problem: Problem) -> float:
    """Most the tie-break can add to any plan: 0.01 USD per GPU-month of every block an offer may
    sign (all its terms) and of every on-demand GPU it may rent in every month."""
    leased = sum(o.max_blocks * o.gpus_per_block * o.term_months for o in problem.lease_offers)
    rented = sum(c.max_gpus for c in problem.on_demand) * problem.settings.months
    return TIE_BREAK_USD_PER_GPU_MONTH * (leased + rented)


def certificate_usd(result: planner.PlanResult) -> float:
    """How far the reported cost may lie above the optimum: objective - best bound, which HiGHS keeps
    within the MIP gap set (or its absolute gap)."""
    assert result.best_bound_usd is not None and result.objective_usd is not None
    assert result.mip_gap <= result.problem.settings.mip_gap or (
        result.objective_usd - result.best_bound_usd <= ABS_GAP_USD * (1 + 1e-9))
    return max(result.objective_usd - result.best_bound_usd, 0.0)


# ---- cost is monotone ----------------------------------------------------------------------------------


def _offer(spec: Spec, i: int, **changes: float) -> Spec:
    offers = list(spec.offers)
    offers[i] = replace(offers[i], **changes)
    return replace(spec, offers=tuple(offers))


@st.composite
def dearer_and_cheaper(draw: st.DrawFn) -> tuple[str, Spec, Spec]:
    """(what changed, the dearer instance, the cheaper one): one number moved in the direction that
    can only raise the optimum (more demand, a higher price) or lower it (a larger credit, power cap,
    offer max_blocks, on-demand cap or budget)."""
    spec = draw(specs())
    moves = ["demand", "od_price", "revenue", "credit_amount", "power_cap", "od_max_gpus"]
    if spec.offers:
        moves += ["lease_price", "upfront", "max_blocks"]
    if spec.commitment:
        moves.append("commitment_price")
    if spec.goodwill is not None:
        moves.append("goodwill")
    if spec.budget is not None:
        moves.append("budget")
    move = draw(st.sampled_from(moves))
    i = draw(st.integers(0, max(len(spec.offers) - 1, 0)))
    step = draw(st.sampled_from([1, 2, 5]))
    if move in ("od_price", "lease_price", "upfront", "commitment_price"):
        # A price paid to a provider also moves its share of spend: the share cap is not monotone in it.
        spec = replace(spec, share_cap=None)
    if move == "demand":
        s, t = draw(st.integers(0, len(spec.demand) - 1)), draw(st.integers(0, spec.months - 1))
        demand = [list(d) for d in spec.demand]
        demand[s][t] += step
        return move, replace(spec, demand=tuple(map(tuple, demand))), spec
    if move == "od_price":
        return move, replace(spec, od_price=spec.od_price + 0.5 * step), spec
    if move == "revenue":
        return move, replace(spec, revenue=spec.revenue + step), spec
    if move == "lease_price":
        return move, _offer(spec, i, price=spec.offers[i].price + 0.5 * step), spec
    if move == "upfront":
        return move, _offer(spec, i, upfront=spec.offers[i].upfront + 500.0 * step), spec
    if move == "commitment_price":
        assert spec.commitment is not None
        return move, replace(spec, commitment=replace(spec.commitment, price=spec.commitment.price + step)), spec
    if move == "goodwill":
        assert spec.goodwill is not None
        return move, replace(spec, goodwill=spec.goodwill + 1_000.0 * step), spec
    if move == "credit_amount":
        base = spec.credit or CreditSpec(provider="cloud", amount=1_000.0, valid_from=0, expiry=spec.months - 1,
                                         applies_to="on_demand")
        spec = replace(spec, credit=base)
        return move, spec, replace(spec, credit=replace(base, amount=base.amount + 5_000.0 * step))
    if move == "power_cap":
        return move, spec, replace(spec, power_cap_mw=spec.power_cap_mw + 0.004 * step)
    if move == "max_blocks":
        return move, spec, _offer(spec, i, max_blocks=spec.offers[i].max_blocks + step)
    if move == "od_max_gpus":
        return move, spec, replace(spec, od_max_gpus=spec.od_max_gpus + 2 * step)
    assert move == "budget" and spec.budget is not None
    return move, spec, replace(spec, budget=spec.budget + 10_000.0 * step)


@PROPERTY
@given(dearer_and_cheaper())
def test_cost_is_monotone(case: tuple[str, Spec, Spec]) -> None:
    """Cost is non-decreasing in every demand value and price, non-increasing in every credit amount,
    power cap, offer max_blocks, on-demand cap and budget. Certified: the cheaper instance's best
    bound is at most the dearer one's cost (plus the tie-break the reported costs leave out)."""
    move, dearer_spec, cheaper_spec = case
    dearer, cheaper = solve(dearer_spec.problem()), solve(cheaper_spec.problem())
    if not dearer.has_plan:  # only a share cap makes an instance infeasible; nothing to compare
        assert dearer.status == "infeasible" and dearer_spec.share_cap is not None, dearer.message
        return
    assert cheaper.has_plan and cheaper.best_bound_usd is not None, (move, cheaper.status)
    slack = tie_break_bound_usd(dearer.problem)
    assert cheaper.best_bound_usd <= dearer.objective_usd + slack, (move, cheaper.objective_usd, dearer.objective_usd)


# ---- the newsvendor ----------------------------------------------------------------------------------


@st.composite
def newsvendors(draw: st.DrawFn) -> tuple[list[int], int, int]:
    """N equally likely demands (GPUs) and prices in tenths of a USD: lease a < on-demand b."""
    demands = draw(st.lists(st.integers(0, 20), min_size=2, max_size=6))
    on_demand_tenths = draw(st.integers(20, 60))
    lease_tenths = draw(st.integers(5, on_demand_tenths - 1))
    return demands, lease_tenths, on_demand_tenths


@PROPERTY
@given(newsvendors())
def test_newsvendor_leases_the_critical_quantile(case: tuple[list[int], int, int]) -> None:
    """One month, a one-month lease of single GPUs at a, unlimited on-demand at b > a, N equally likely
    demands, nothing unserved: leasing x costs H (a x + b E[(D - x)+]), whose least minimiser is the
    smallest demand with F(x) >= 1 - a/b, the ceil(N (1 - a/b))-th smallest. When N (1 - a/b) is a whole
    number k, every x from the k-th to the (k+1)-th smallest demand is optimal. Exact (zero MIP gap):
    with prices in tenths, two neighbouring x differ by at least H x 0.1 / N > $12, far above HiGHS's $1."""
    demands, a, b = case
    n = len(demands)
    problem = tiny({f"s{i}": [float(d)] for i, d in enumerate(demands)},
                   probabilities={f"s{i}": 1.0 / n for i in range(n)},
                   offers=[lease(price=a / 10, term=1, max_blocks=1_000)],
                   on_demand=[cloud(price=b / 10, max_gpus=100_000)], unserved_allowed=False, mip_gap=0.0)
    result = solve(problem)
    assert result.status == "optimal", result.message
    leased = result.lease_plan().get(("L", 0), 0)
    ordered = sorted(demands)
    critical = n * Fraction(b - a, b)
    k = math.ceil(critical)
    optimal = range(ordered[k - 1], (ordered[k] if critical == k else ordered[k - 1]) + 1)
    assert leased in optimal, (ordered, a, b, leased)
    expected = HOURS * (a / 10 * leased + b / 10 * sum(max(d - leased, 0) for d in demands) / n)
    assert math.isclose(result.objective_usd, expected, rel_tol=1e-9, abs_tol=1e-6)


# ---- planning under uncertainty ----------------------------------------------------------------------------


@settings(PROPERTY, max_examples=12)
@given(specs(scenarios=2, share_cap=False))
def test_uncertainty_figures_and_regret_identities(spec: Spec) -> None:
    """WS <= RP <= EEV, so VSS >= 0 and EVPI >= 0, each within the gaps of the solves behind it; with
    CVaR weight 0 the probability-weighted regret of the stochastic plan is EVPI, and that of the
    expected-value plan is EVPI + VSS (exactly: EEV is its expected cost).

    Every plan here is feasible in every scenario (unserved demand is allowed, no share cap). With Z
    the model's objective (cost + tie-break <= cost + ``tie_break``): a solve that stops at the gap has
    Z - Z* <= GAP x Z + $1 (``above_optimum``); the recourse solve's own certificate bounds RP.
    """
    analysis = planner.analyse(spec.problem())
    assert analysis.all_optimal, analysis.statuses
    f = analysis.figures
    rp, ws, eev = f["rp_usd"], f["ws_usd"], f["eev_usd"]
    tie_break = tie_break_bound_usd(analysis.problem)

    def above_optimum(cost: float) -> float:
        return GAP * (cost + tie_break) + ABS_GAP_USD

    rp_certificate = certificate_usd(analysis.stochastic)
    # WS: each scenario alone costs at most its optimum + its gap, and the optima average below RP*.
    assert ws <= rp + above_optimum(ws) + tie_break
    assert f["evpi_usd"] >= -(above_optimum(ws) + tie_break)
    # RP* is at most the EV plan's expected cost with optimal recourse, which EEV only overstates.
    assert rp <= eev + rp_certificate + tie_break
    assert f["vss_usd"] >= -(rp_certificate + tie_break)
    by_plan = analysis.expected_cost_by_plan().set_index("plan")
    regret = by_plan["expected_regret_usd"]
    # The stochastic plan with each scenario re-solved: between RP* (>= RP - certificate) and RP plus
    # the re-solves' gaps.
    stochastic_cost = by_plan.loc["stochastic", "expected_cost_usd"]
    tolerance = max(rp_certificate, above_optimum(stochastic_cost)) + tie_break
    assert abs(regret["stochastic"] - f["evpi_usd"]) <= tolerance
    assert math.isclose(regret["expected value"], f["evpi_usd"] + f["vss_usd"], rel_tol=1e-9, abs_tol=1e-6)


@settings(PROPERTY, max_examples=10)
@given(specs(scenarios=2, share_cap=False), st.data())
def test_learning_chain_and_non_anticipativity(spec: Spec, data: st.DataObject) -> None:
    """With a reveal month R: WS <= MS <= RP <= EEV (every two-stage plan is a multi-stage plan, every
    multi-stage plan a pair of wait-and-see plans), so the value of learning RP - MS >= 0; the
    multi-stage plan signs the same in both worlds whatever is signed before R (non-anticipativity),
    and its worlds, costed one by one with their own leases, average to MS.

    Tolerances as above: a solve's own certificate (objective - bound) where the result is at hand,
    GAP x cost + $1 for the perfect-foresight solves, and the tie-break the reported costs leave out.
    """
    reveal = data.draw(st.integers(1, spec.months - 1), label="reveal month index")
    analysis = planner.analyse(spec.problem(reveal_month=month(reveal)))
    assert analysis.all_optimal, analysis.statuses
    f = analysis.figures
    rp, ms, ws, eev = f["rp_usd"], f["multi_stage_usd"], f["ws_usd"], f["eev_usd"]
    tie_break = tie_break_bound_usd(analysis.problem)
    learned = analysis.multi_stage
    assert learned is not None and learned.is_multi_stage
    ms_certificate, rp_certificate = certificate_usd(learned), certificate_usd(analysis.stochastic)

    def above_optimum(cost: float) -> float:
        return GAP * (cost + tie_break) + ABS_GAP_USD

    assert ws <= ms + above_optimum(ws) + tie_break
    assert ms <= rp + ms_certificate + tie_break
    assert f["value_of_learning_usd"] >= -(ms_certificate + tie_break)
    assert rp <= eev + rp_certificate + tie_break
    # Non-anticipativity: a start signed before R is one decision, the same in both worlds.
    offers = {o.offer_id: o for o in analysis.problem.lease_offers}
    low, high = (learned.lease_plan(s) for s in learned.data.scenarios)
    for o, k in set(low) | set(high):
        if k - offers[o].lead_time_months < reveal:
            assert low.get((o, k), 0) == high.get((o, k), 0), (o, k)
    assert all(n == "ROOT" for n, o, k in learned.data.lease_decisions
               if learned.data.lease_signing_month[o, k] < reveal)
    # The multi-stage plan's worlds re-solved with their own leases average to MS.
    evaluated = analysis.expected_cost_by_plan().set_index("plan").loc["multi-stage", "expected_cost_usd"]
    assert abs(evaluated - ms) <= max(ms_certificate, above_optimum(evaluated)) + tie_break


# ---- re-solving in place -------------------------------------------------------------------------------


@st.composite
def updates(draw: st.DrawFn) -> tuple[Spec, Spec]:
    """An instance and the same instance with one to three mutable numbers changed (prices, demand,
    on-demand cap, power cap, credit amount, throughput, budget): what a sweep changes in place."""
    spec = draw(specs())
    changed = spec
    for _ in range(draw(st.integers(1, 3))):
        moves = ["demand", "od_price", "od_max_gpus", "power_cap", "throughput"]
        moves += ["lease_price"] if changed.offers else []
        moves += ["credit_amount"] if changed.credit else []
        moves += ["budget"] if changed.budget is not None else []
        move = draw(st.sampled_from(moves))
        factor = draw(st.sampled_from([0.5, 0.8, 1.25, 2.0]))
        if move == "demand":
            s, t = draw(st.integers(0, len(spec.demand) - 1)), draw(st.integers(0, spec.months - 1))
            demand = [list(d) for d in changed.demand]
            demand[s][t] = draw(st.integers(0, 20))
            changed = replace(changed, demand=tuple(map(tuple, demand)))
        elif move == "od_price":
            changed = replace(changed, od_price=changed.od_price * factor)
        elif move == "od_max_gpus":
            changed = replace(changed, od_max_gpus=draw(st.integers(1, 20)))
        elif move == "power_cap":
            changed = replace(changed, power_cap_mw=changed.power_cap_mw * factor)
        elif move == "throughput":
            changed = replace(changed, tokens_per_second=changed.tokens_per_second * factor)
        elif move == "lease_price":
            i = draw(st.integers(0, len(changed.offers) - 1))
            changed = _offer(changed, i, price=changed.offers[i].price * factor)
        elif move == "credit_amount":
            assert changed.credit is not None
            changed = replace(changed, credit=replace(changed.credit, amount=changed.credit.amount * factor))
        else:
            assert changed.budget is not None
            changed = replace(changed, budget=changed.budget * factor)
    return spec, changed


@settings(PROPERTY, max_examples=20)
@given(updates())
def test_update_then_solve_equals_a_fresh_solve(case: tuple[Spec, Spec]) -> None:
    """``Planner.update`` loads the new numbers into the built model (no rebuild) and ``solve``
    re-solves warm: the same optimum as solving the changed problem from scratch, within both
    solves' certificates and the tie-break."""
    spec, changed_spec = case
    changed = changed_spec.problem()
    kept = planner.Planner(spec.problem())
    kept.solve(marginal_values=False)
    assert kept.update(changed), "a change of mutable numbers only must not need a rebuild"
    again, fresh = kept.solve(marginal_values=False), solve(changed)
    assert again.status == fresh.status
    if not fresh.has_plan:
        return
    tolerance = max(certificate_usd(again), certificate_usd(fresh)) + tie_break_bound_usd(changed)
    assert abs(again.objective_usd - fresh.objective_usd) <= tolerance, (again.objective_usd, fresh.objective_usd)
    assert again.problem is changed


def test_update_refuses_a_change_it_cannot_make_in_place() -> None:
    """A new credit, a commitment's price or an offer's term change the model's rows or constants:
    ``update`` says so (False) and leaves the built model as it was."""
    offer = OfferSpec(provider="lessor", price=2.0, term=2, earliest=0, latest=0, block=1, max_blocks=20,
                      min_blocks=0, upfront=0.0)
    base = Spec(demand=((10, 10),), probabilities=(1.0,), offers=(offer,), od_price=5.0, od_max_gpus=15,
                commitment=CommitmentSpec(provider="lessor", gpus=2, start=-1, end=3, price=2.0), credit=None,
                power_cap_mw=1_000.0, revenue=100.0, goodwill=None, discount_rate=0.0, count_beyond=True,
                share_cap=None, budget=None)
    kept = planner.Planner(base.problem())
    before = kept.solve(marginal_values=False).objective_usd
    assert base.commitment is not None
    for changed in (replace(base, credit=CreditSpec(provider="cloud", amount=1_000.0, valid_from=0, expiry=1,
                                                    applies_to="on_demand")),
                    replace(base, commitment=replace(base.commitment, price=3.0)),
                    _offer(base, 0, term=3)):
        assert not kept.update(changed.problem())
    assert kept.solve(marginal_values=False).objective_usd == before


# ---- the plan re-prices to its objective ------------------------------------------------------------------


@PROPERTY
@given(specs())
def test_objective_reprices_from_the_input(spec: Spec) -> None:
    """The reported objective equals the plan priced again from the input (tests/repricing.py:
    leases x term x price, upfront, commitments in the months that count, on-demand GPUs x hours x
    price, less credits, throttled and unserved tokens at their value, goodwill), and credits pay no
    more than their amount, only eligible spend with their provider (commitments are lease-side spend).
    Blocks are rounded in the tables: tolerance is the integrality tolerance times the gross spend."""
    result = solve(spec.problem())
    if not result.has_plan:
        assert result.status == "infeasible" and spec.share_cap is not None, result.message
        return
    repriced = repriced_expected_cost_usd(result)
    lease_side = {s: lease_side_spend_usd(result, s) for s in result.data.scenarios}
    gross = sum(abs(v) for spend in lease_side.values() for v in spend.values()) + result.on_demand()["cost_usd"].sum()
    assert math.isclose(repriced, result.objective_usd, rel_tol=INTEGRALITY_REL,
                        abs_tol=INTEGRALITY_REL * gross + 1e-6), (repriced, result.objective_usd)
    credits = {c.credit_id: c for c in result.problem.credits}
    for row in result.credit_summary().itertuples():
        assert row.applied_usd <= row.amount_usd * (1 + 1e-9) + 1e-3, row
    od_spend = result.on_demand().groupby(["scenario", "month", "provider"])["cost_usd"].sum()
    for r in result.credits().itertuples():
        c = credits[r.credit_id]
        eligible = 0.0
        if c.applies_to in ("on_demand", "all"):
            eligible += float(od_spend.get((r.scenario, r.month, c.provider), 0.0))
        if c.applies_to in ("leases", "all"):
            eligible += lease_side[r.scenario].get((r.month, c.provider), 0.0)
        assert r.applied_usd <= eligible * (1 + INTEGRALITY_REL) + 1e-3, (r, eligible)
