"""One constraint family at a time: build the smallest model that exercises it and check its rows
(which indices exist, and their coefficients in internal units), then the scaling of a realistic
instance's matrix and objective.

Internal units (planner/model/data.py): kGPU, Ttok, MUSD, MW. With the factory's numbers a GPU at
1,000 tokens/s serves 2.628 Ttok per kGPU-month, and a GPU-month at $2/GPU-hour is 0.00146 MUSD.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pyomo.environ as pyo
import pytest
from factory import GPU, SITE, WORKLOAD, cloud, commitment, credit, lease, month, program, realistic, tiny
from pyomo.repn.standard_repn import generate_standard_repn

from planner.model import FAMILIES, build_model
from planner.model.costs import TIE_BREAK_MUSD_PER_KGPU_MONTH
from planner.schema import Policy, PolicyEffect, SitePower

FORMULATION = Path(__file__).resolve().parent.parent / "models" / "procurement.md"
MATRIX_RANGE_LIMIT = 1e6
"""HiGHS warns about matrices whose coefficients span more than about six orders of magnitude."""
OBJECTIVE_RANGE_LIMIT = 1e6


def coefficients(expr) -> dict[str, float]:
    """Linear coefficients of an expression by variable name, mutable parameters evaluated."""
    repn = generate_standard_repn(expr, compute_values=True)
    assert repn.is_linear()
    return {var.name: coef for var, coef in zip(repn.linear_vars, repn.linear_coefs, strict=True) if coef}


def constant(expr) -> float:
    return generate_standard_repn(expr, compute_values=True).constant


def index(component) -> set:
    """The indices of a Var, Constraint or Expression, or the members of a Set."""
    return set(component) if isinstance(component, pyo.Set) else set(component.keys())


def at_least(con) -> tuple[dict[str, float], float]:
    """A one-sided row as ``sum a x >= b``: (coefficients, b), whichever way Pyomo stored it."""
    coefs, shift = coefficients(con.body), constant(con.body)
    if con.upper is None:
        return coefs, pyo.value(con.lower) - shift
    assert con.lower is None
    return {name: -a for name, a in coefs.items()}, shift - pyo.value(con.upper)


# ---- leases -----------------------------------------------------------------------------------------


def test_lease_blocks_exist_only_inside_the_start_window() -> None:
    """An offer startable in months 2-3 of a 6-month horizon has exactly two integer columns,
    bounded by max_blocks."""
    m = build_model(tiny([1.0] * 6, offers=[lease(earliest=2, latest=3, max_blocks=7)]))
    assert index(m.lease_blocks) == {("ROOT", "L", 2), ("ROOT", "L", 3)}
    for var in m.lease_blocks.values():
        assert var.is_integer()
        assert var.bounds == (0, 7)


def test_installed_gpus_cover_exactly_the_term_months() -> None:
    """A 3-month term: a block signed in month k counts in months k..k+2 (cut at the horizon), with
    its size in kGPU (10 GPUs = 0.01); commitments add a constant (5 GPUs = 0.005)."""
    problem = tiny([1.0] * 6, offers=[lease(term=3, earliest=1, latest=4, block=10)],
                   commitments=[commitment(gpus=5, start=0, end=1)])
    m = build_model(problem)
    assert index(m.installed_kgpu) == {("ROOT", GPU, SITE, t) for t in range(6)}
    for t in range(6):
        expr = m.installed_kgpu["ROOT", GPU, SITE, t]
        expected = {f"lease_blocks[ROOT,L,{k}]": 0.01 for k in range(1, 5) if k <= t <= k + 2}
        assert coefficients(expr) == pytest.approx(expected)
        assert constant(expr) == pytest.approx(0.005 if t <= 1 else 0.0)


def test_pools_only_where_capacity_can_exist() -> None:
    """No lease can be active in month 0 and nothing is committed: the pool starts in month 1."""
    m = build_model(tiny([1.0] * 4, offers=[lease(term=2, earliest=1, latest=1)]))
    assert index(m.POOLS) == {(GPU, SITE, 1), (GPU, SITE, 2)}


def test_lease_payments_run_the_whole_term_past_the_horizon() -> None:
    """A 4-month term from month 1 in a 3-month horizon pays in months 1-4; each block of 10 GPUs
    at $2 costs 10 x 2 x 730 / 1e6 = 0.0146 MUSD a month; an upfront payment is due at signing."""
    m = build_model(tiny([1.0] * 3, offers=[lease(term=4, earliest=1, block=10, upfront=500.0)]))
    assert list(m.PAYMENT_MONTHS) == [0, 1, 2, 3, 4]
    for t in range(5):
        expected = {"lease_blocks[ROOT,L,1]": 0.0146} if 1 <= t <= 4 else {}
        assert coefficients(m.lease_payment_musd["ROOT", t]) == pytest.approx(expected)
        assert coefficients(m.lease_upfront_musd["ROOT", t]) == pytest.approx(
            {"lease_blocks[ROOT,L,1]": 0.0005} if t == 1 else {})


def test_offer_limits_semi_continuous_only_where_min_blocks_exceeds_one() -> None:
    """min_blocks 0 or 1 needs no binary (an integer block count already is >= 1 when used);
    min_blocks 3 gets offer_used and both rows: sum <= 9 u, sum >= 3 u."""
    problem = tiny([1.0] * 4, offers=[lease("plain", max_blocks=5, latest=1), lease("one", min_blocks=1),
                                      lease("semi", min_blocks=3, max_blocks=9, latest=1)])
    m = build_model(problem)
    assert index(m.offer_used) == {("ROOT", "semi")}
    assert index(m.offer_min_blocks) == {("ROOT", "semi")}
    assert coefficients(m.offer_max_blocks["ROOT", "plain"].body) == {"lease_blocks[ROOT,plain,0]": 1,
                                                                     "lease_blocks[ROOT,plain,1]": 1}
    assert m.offer_max_blocks["ROOT", "plain"].upper == 5
    assert coefficients(m.offer_max_blocks["ROOT", "semi"].body) == {
        "lease_blocks[ROOT,semi,0]": 1, "lease_blocks[ROOT,semi,1]": 1, "offer_used[ROOT,semi]": -9}
    assert at_least(m.offer_min_blocks["ROOT", "semi"]) == (
        {"lease_blocks[ROOT,semi,0]": 1, "lease_blocks[ROOT,semi,1]": 1, "offer_used[ROOT,semi]": -3}, 0)


# ---- capacity, throughput, power -------------------------------------------------------------------


def test_capacity_row_per_scenario_pool() -> None:
    """One row per (scenario, gpu type, site, month) of a pool: GPUs used <= availability x installed."""
    problem = tiny({"low": [1.0] * 3, "high": [2.0] * 3}, offers=[lease(term=2, earliest=1, latest=1)],
                   availability=0.9)
    m = build_model(problem)
    assert index(m.capacity) == {(s, GPU, SITE, t) for s in ("low", "high") for t in (1, 2)}
    assert coefficients(m.capacity["high", GPU, SITE, 2].body) == pytest.approx(
        {f"gpus_serving[high,2,{WORKLOAD},{GPU},{SITE}]": 1.0, "lease_blocks[ROOT,L,1]": -0.9 * 0.001})


def test_throughput_rows_need_the_peak_rate() -> None:
    """A kGPU at 1,000 tokens/s serves 1000 x 730 x 3600 x 1000 / 1e12 = 2.628 Ttok a month; the
    served tokens count with the peak-to-average ratio times the policy's multiplier."""
    problem = tiny([1.0] * 2, offers=[lease(term=2)],
                   policies=[Policy(name="open"), Policy(name="peak")],
                   policy_effects=[PolicyEffect(policy="peak", workload=WORKLOAD, peak_to_average_multiplier=0.5)])
    m = build_model(problem)
    assert index(m.throughput) == {("base", t, WORKLOAD) for t in range(2)}
    coefs, rhs = at_least(m.throughput["base", 1, WORKLOAD])
    assert coefs == pytest.approx({
        f"gpus_serving[base,1,{WORKLOAD},{GPU},{SITE}]": 2.628, f"od_serving[base,1,{WORKLOAD},cloud]": 2.628,
        f"served_ttok[base,1,{WORKLOAD},open]": -1.0, f"served_ttok[base,1,{WORKLOAD},peak]": -0.5})
    assert rhs == 0


def test_power_rows_per_site_and_month_follow_the_cap_steps() -> None:
    """kW per GPU x PUE = MW per kGPU (1.5 x 1.2 = 1.8); the cap steps from 2 MW to 5 MW in month 2."""
    problem = tiny([1.0] * 4, offers=[lease(term=4)], power_kw_per_gpu=1.5, pue=1.2, power_cap_mw=2.0)
    problem = problem.model_copy(update={"site_power": [SitePower(site=SITE, from_month=month(2), power_cap_mw=5.0)]})
    m = build_model(problem)
    assert index(m.power) == {("base", SITE, t) for t in range(4)}
    for t in range(4):
        row = m.power["base", SITE, t]
        assert coefficients(row.body) == pytest.approx({f"gpus_serving[base,{t},{WORKLOAD},{GPU},{SITE}]": 1.8})
        assert pyo.value(row.upper) == (2.0 if t < 2 else 5.0)


def test_on_demand_cap_rows() -> None:
    """One cap row per (scenario, month, option), in kGPU; an option with max_gpus 0 has none."""
    m = build_model(tiny([1.0] * 3, on_demand=[cloud(), cloud("sold out", max_gpus=0)]))
    assert index(m.on_demand_cap) == {("base", t, "cloud") for t in range(3)}
    assert pyo.value(m.on_demand_cap["base", 0, "cloud"].upper) == pytest.approx(100.0)


# ---- demand and policies ----------------------------------------------------------------------------


def test_policy_choice_one_row_per_scenario_and_month() -> None:
    problem = tiny({"a": [1.0] * 3, "b": [1.0] * 3},
                   policies=[Policy(name="open"), Policy(name="tight", goodwill_cost_usd_per_month=5.0)],
                   policy_effects=[PolicyEffect(policy="tight", workload=WORKLOAD, admitted_fraction=0.8)])
    m = build_model(problem)
    assert index(m.policy_choice) == {(s, t) for s in ("a", "b") for t in range(3)}
    row = m.policy_choice["b", 2]
    assert coefficients(row.body) == {"policy_on[b,2,open]": 1, "policy_on[b,2,tight]": 1}
    assert row.equality and row.upper == 1
    assert all(var.is_binary() for var in m.policy_on.values())
    # Demand balance admits D x alpha of the policy in force; D is one GPU's worth, 0.002628 Ttok.
    balance = m.demand_balance["a", 0, WORKLOAD]
    assert coefficients(balance.body) == pytest.approx({
        f"served_ttok[a,0,{WORKLOAD},open]": 1, f"served_ttok[a,0,{WORKLOAD},tight]": 1,
        f"unserved_ttok[a,0,{WORKLOAD}]": 1, "policy_on[a,0,open]": -0.002628, "policy_on[a,0,tight]": -0.8 * 0.002628})
    assert index(m.policy_admission) == {(s, t, WORKLOAD, p) for s in ("a", "b") for t in range(3)
                                         for p in ("open", "tight")}


def test_one_implicit_policy_without_admission_rows() -> None:
    m = build_model(tiny([1.0] * 2))
    assert list(m.POLICIES) == ["no limits"]
    assert not hasattr(m, "policy_admission")
    assert index(m.policy_choice) == {("base", 0), ("base", 1)}


def test_unserved_only_where_allowed() -> None:
    assert len(build_model(tiny([1.0] * 3)).unserved_ttok) == 3
    assert len(build_model(tiny([1.0] * 3, unserved_allowed=False)).unserved_ttok) == 0


# ---- credits -------------------------------------------------------------------------------------------


def test_credit_used_only_inside_the_credit_window() -> None:
    """A credit valid months 1-2 of 4 has columns and an eligibility row only there; a credit whose
    window started before the horizon is cut at month 0."""
    early = credit("early", amount=1.0, expiry=1).model_copy(update={"valid_from_month": "2024-10"})
    problem = tiny({"a": [1.0] * 4, "b": [1.0] * 4},
                   credits=[credit("C", amount=2e6, valid_from=1, expiry=2), early])
    m = build_model(problem)
    assert index(m.credit_used) == ({(s, "C", t) for s in ("a", "b") for t in (1, 2)}
                                    | {(s, "early", t) for s in ("a", "b") for t in (0, 1)})
    row = m.credit_total["a", "C"]
    assert coefficients(row.body) == {"credit_used[a,C,1]": 1, "credit_used[a,C,2]": 1}
    assert pyo.value(row.upper) == pytest.approx(2.0)
    assert index(m.credit_eligible) == {(s, t, "cloud", "on_demand") for s in ("a", "b") for t in (0, 1, 2)}
    # Month 1: both credits draw on the cloud's on-demand spend, 5 x 730 x 1000 / 1e6 = 3.65 MUSD per kGPU.
    assert coefficients(m.credit_eligible["a", 1, "cloud", "on_demand"].body) == pytest.approx({
        "credit_used[a,C,1]": 1, "credit_used[a,early,1]": 1, f"od_serving[a,1,{WORKLOAD},cloud]": -3.65})


def test_credit_eligibility_rows_by_kind() -> None:
    """A lease-only credit and an all-spend credit of the lessor: rows for 'leases' and 'all' only."""
    problem = tiny([1.0] * 2, offers=[lease(term=2)], on_demand=[],
                   credits=[credit("L-only", amount=1.0, expiry=1, provider="lessor", applies_to="leases"),
                            credit("any", amount=1.0, expiry=0, provider="lessor", applies_to="all")])
    m = build_model(problem)
    assert index(m.credit_eligible) == {("base", 0, "lessor", "leases"), ("base", 0, "lessor", "all"),
                                        ("base", 1, "lessor", "leases")}
    assert coefficients(m.credit_eligible["base", 0, "lessor", "all"].body) == pytest.approx({
        "credit_used[base,L-only,0]": 1, "credit_used[base,any,0]": 1, "lease_blocks[ROOT,L,0]": -0.00146})


# ---- budget, provider share, risk -------------------------------------------------------------------


def test_optional_rows_exist_only_when_asked_for() -> None:
    plain = build_model(tiny([1.0] * 2, offers=[lease(term=2)]))
    for name in ("budget", "provider_share", "cvar_excess_def"):
        assert not hasattr(plain, name)
    capped = build_model(tiny([1.0] * 2, offers=[lease(term=4)], max_total_commitment_usd=1e4,
                              max_provider_share=0.6, cvar_weight=0.5))
    # Budget: every payment, past the horizon too: 4 x 0.00146 MUSD per block.
    assert coefficients(capped.budget["ROOT"].body) == pytest.approx({"lease_blocks[ROOT,L,0]": 4 * 0.00146})
    assert pyo.value(capped.budget["ROOT"].upper) == pytest.approx(0.01)
    assert index(capped.provider_share) == {("base", "lessor"), ("base", "cloud")}
    assert index(capped.cvar_excess_def) == {"base"}


# ---- the objective ---------------------------------------------------------------------------------------


def test_objective_weights_scenarios_and_discounts_months() -> None:
    """Two scenarios at 0.25 / 0.75, 12% a year: an on-demand kGPU in month 6 of scenario 'b' costs
    3.65 MUSD x 0.75 x 1.12^-0.5; the first-stage lease is counted once, undiscounted in month 0."""
    problem = tiny({"a": [1.0] * 7, "b": [1.0] * 7}, probabilities={"a": 0.25, "b": 0.75},
                   offers=[lease(term=1)], discount_rate_per_year=0.12)
    m = build_model(problem)
    objective = coefficients(m.total_cost.expr)
    eps = TIE_BREAK_MUSD_PER_KGPU_MONTH  # per kGPU-month rented or leased, steers ties only
    assert objective[f"od_serving[b,6,{WORKLOAD},cloud]"] == pytest.approx((3.65 + eps) * 0.75 * 1.12 ** -0.5)
    assert objective["lease_blocks[ROOT,L,0]"] == pytest.approx(0.00146 + eps * 0.001)
    assert objective[f"unserved_ttok[a,0,{WORKLOAD}]"] == pytest.approx(0.25 * 100.0)


# ---- the formulation document and the code stay in step ----------------------------------------------


def test_every_family_carries_its_math() -> None:
    """Every family is documented; every family that declares rows or costs writes them as math."""
    for define in FAMILIES:
        doc = inspect.getdoc(define) or ""
        assert doc, define.__name__
        source = inspect.getsource(define)
        if "pyo.Constraint(" in source or "add_cost_term(" in source:
            assert ".. math::" in doc, define.__name__


EXPRESSIONS_NAMED = {"program_in_effect", "program_supply_ttok", "cash_spend_musd", "revenue_served_musd",
                     "scenario_value_musd", "installed_kgpu", "scenario_cost_musd", "node_cost_musd"}
"""Expressions the formulation document must name too (the rest are named where they are used)."""


def with_programs(problem):
    """``problem`` with a first-stage and a per-scenario efficiency program."""
    programs = [program("batching", new_mfu=0.18, earliest=1, delay=2, one_off=1e7, monthly=1e6),
                program("kernels", multiplier=1.2, workloads=["chat"], delay=1, one_off=5e7, decided="per_scenario")]
    return problem.model_validate({**problem.model_dump(), "efficiency_programs": [p.model_dump() for p in programs]})


def test_formulation_document_names_every_model_component() -> None:
    """Every variable, constraint and cost expression of a model with every family active is named
    in models/procurement.md (same names as the code)."""
    if not FORMULATION.exists():
        pytest.skip("models/procurement.md is missing")
    text = FORMULATION.read_text(encoding="utf-8")
    names: set[str] = set()
    for problem in (realistic(6, max_total_commitment_usd=1e10, max_provider_share=0.9, cvar_weight=0.2),
                    with_programs(realistic(6, max_cash_spend_usd=5e9, objective="max_value_within_budget"))):
        m = build_model(problem)
        names |= {c.name for ctype in (pyo.Var, pyo.Constraint, pyo.Expression) for c in m.component_objects(ctype)
                  if ctype is not pyo.Expression or c.name in EXPRESSIONS_NAMED}
        names |= {term.component for term in m.cost_terms}
    missing = sorted(n for n in names if f"`{n}" not in text)
    assert not missing, f"not in {FORMULATION.name}: {missing}"


# ---- scaling ---------------------------------------------------------------------------------------------


def coefficient_ranges(m):
    """(matrix min, max, objective min, max) of the absolute non-zero coefficients, and the constraint
    rows whose coefficients fall outside 1e-3..1e3, by constraint family."""
    lo, hi, outside = float("inf"), 0.0, {}
    for con in m.component_data_objects(pyo.Constraint, active=True):
        for name, coef in coefficients(con.body).items():
            a = abs(coef)
            lo, hi = min(lo, a), max(hi, a)
            if not 1e-3 <= a <= 1e3:
                outside.setdefault(con.parent_component().name, set()).add(name.split("[")[0])
    objective = [abs(c) for c in coefficients(m.total_cost.expr).values()]
    return lo, hi, min(objective), max(objective), outside


@pytest.fixture(scope="module")
def realistic_model():
    """Three workloads with 2e14-1e15 tokens in the first month growing 10x / 30x / 80x a year (up to
    5.6e16 tokens a month), 1,024-GPU pods and 72-GPU racks, $/GPU-hour prices, credits of $2e7-5e7."""
    return build_model(realistic(12))


def test_coefficient_ranges_stay_small(realistic_model) -> None:
    """Measured on this instance: matrix 0.063 (a 72-GPU rack x 0.88 availability, in kGPU) to
    5.6e4 (the 80x scenario's demand in Ttok, on a policy binary): 8.8e5; objective 0.17 to 6.3e4:
    3.8e5. Raw units would span 1e-7 (USD per token) to 1e16 (tokens per month)."""
    lo, hi, obj_lo, obj_hi, _ = coefficient_ranges(realistic_model)
    assert hi / lo <= MATRIX_RANGE_LIMIT, (lo, hi)
    assert obj_hi / obj_lo <= OBJECTIVE_RANGE_LIMIT, (obj_lo, obj_hi)


def test_only_demand_sized_coefficients_leave_the_unit_band(realistic_model) -> None:
    """Every matrix coefficient is within 1e-3..1e3 except demand in Ttok multiplying a policy binary
    (the admitted tokens of the policy in force), which grows with the scenario's demand."""
    *_, outside = coefficient_ranges(realistic_model)
    assert set(outside) <= {"demand_balance", "policy_admission"}
    assert all(variables == {"policy_on"} for variables in outside.values())
