"""Costs: every family registers its cost expressions here; the objective sums them.

No family writes the objective directly. A cost term is an Expression indexed by payment month
(first stage, the same in every scenario) or by (scenario, month) (second stage), in MUSD per month,
undiscounted; this module discounts, weights by probability and adds the optional CVaR term.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo

from planner.model.data import ModelData

TIE_BREAK_MUSD_PER_KGPU_MONTH = 1e-5
"""Tie-break cost: 0.01 USD per GPU-month, far below any real price, above HiGHS's tolerances."""
CVAR_TIE_BREAK_WEIGHT = 1e-7
"""Least weight kept on the expected cost, so that omega = 1 still prices every scenario."""


@dataclass(frozen=True)
class CostTerm:
    """A registered cost: report category, Expression component name, and stage."""

    category: str
    component: str
    first_stage: bool


def add_cost_term(m: pyo.ConcreteModel, category: str, component: str, *, first_stage: bool = False) -> None:
    """Register a cost Expression (MUSD per month, undiscounted) under a report category."""
    m.cost_terms.append(CostTerm(category, component, first_stage))


def counted_payment_months(m: pyo.ConcreteModel, d: ModelData) -> list[int]:
    """Payment months that enter the objective: all of them (take-or-pay) or the horizon's."""
    return list(m.PAYMENT_MONTHS) if d.count_payments_beyond_horizon else list(d.months)


def define_objective(m: pyo.ConcreteModel, d: ModelData, *, od_kgpu: pyo.Expression, lease_blocks: pyo.Var,
                     elastic_penalty_musd: pyo.Expression) -> None:
    r"""Scenario cost (NPV) and the objective: expected cost, optionally blended with CVaR.

    .. math:: \mathit{scenario\_cost\_musd}_s = \sum_{t} \delta_t \Big(\sum_{c \in \mathcal{C}_1}
              c_t + \sum_{c \in \mathcal{C}_2} c_{s,t}\Big), \qquad \delta_t = (1+r)^{-t/12}

    .. math:: \min\ \max(1-\omega, \epsilon) \sum_s \pi_s\,\mathit{scenario\_cost\_musd}_s
              + \omega\Big(\eta + \frac{1}{1-\alpha}\sum_s \pi_s\,\mathit{cvar\_excess}_s\Big)
              + \mathit{tie\_break\_musd}
              \quad\text{s.t.}\quad \mathit{cvar\_excess}_s \ge \mathit{scenario\_cost\_musd}_s - \eta

    :math:`\mathcal{C}_1` are first-stage terms (leases, upfront, commitments), :math:`\mathcal{C}_2`
    second-stage terms (on-demand, credits, throttling, unserved, goodwill).
    """
    first_months = counted_payment_months(m, d)
    first_stage = sum(
        d.discount(t) * getattr(m, term.component)[t]
        for term in m.cost_terms if term.first_stage for t in first_months
    )
    m.first_stage_cost_musd = pyo.Expression(expr=first_stage)

    def scenario_cost(m: pyo.ConcreteModel, s: str) -> pyo.Expression:
        return m.first_stage_cost_musd + sum(
            d.discount(t) * getattr(m, term.component)[s, t]
            for term in m.cost_terms if not term.first_stage for t in d.months
        )

    m.scenario_cost_musd = pyo.Expression(m.SCENARIOS, rule=scenario_cost)
    expected = sum(d.probability[s] * m.scenario_cost_musd[s] for s in d.scenarios)
    m.expected_cost_musd = pyo.Expression(expr=expected)
    if d.has_cvar:
        m.cvar_eta = pyo.Var(within=pyo.Reals)
        m.cvar_excess = pyo.Var(m.SCENARIOS, within=pyo.NonNegativeReals)
        m.cvar_excess_def = pyo.Constraint(
            m.SCENARIOS, rule=lambda m, s: m.cvar_excess[s] >= m.scenario_cost_musd[s] - m.cvar_eta
        )
        m.cvar_musd = pyo.Expression(
            expr=m.cvar_eta + sum(d.probability[s] * m.cvar_excess[s] for s in d.scenarios)
            / (1.0 - d.cvar_alpha)
        )
        # At omega = 1 scenarios outside the tail would have no weight at all and their second stage
        # could be left wasteful; a tiny weight on the expectation breaks that tie without moving the plan.
        expectation_weight = max(1.0 - d.cvar_weight, CVAR_TIE_BREAK_WEIGHT)
        objective = expectation_weight * m.expected_cost_musd + d.cvar_weight * m.cvar_musd
    else:
        objective = m.expected_cost_musd
    if d.elastic:
        objective += elastic_penalty_musd
    m.tie_break_musd = pyo.Expression(expr=_tie_break(d, od_kgpu, lease_blocks))
    m.total_cost = pyo.Objective(expr=objective + m.tie_break_musd, sense=pyo.minimize)


def _tie_break(d: ModelData, od_kgpu: pyo.Expression, lease_blocks: pyo.Var) -> pyo.Expression:
    r"""A tiny cost per GPU-month leased or rented, :math:`\epsilon_{GPU}`.

    Spend that a credit pays is free, so without it renting (or leasing) GPUs nobody uses just to burn
    a credit would tie with the honest plan; the tie-break picks the plan with fewer GPU-months. It is
    left out of every reported cost.
    """
    rented = sum(d.probability[s] * d.discount(t) * od_kgpu[s, t, c] for s, t, c in od_kgpu)
    leased = sum(d.offer_block_kgpu[o] * len(d.lease_payment_months[o, k]) * lease_blocks[o, k]
                 for o, k in d.lease_starts)
    return TIE_BREAK_MUSD_PER_KGPU_MONTH * (rented + leased)


def define_budget(m: pyo.ConcreteModel, d: ModelData, *, lease_payment_musd: pyo.Expression,
                  lease_upfront_musd: pyo.Expression) -> None:
    r"""Optional cap on the total of new lease commitments (every payment, undiscounted).

    .. math:: \sum_{t} (\mathit{lease\_payment\_musd}_t + \mathit{lease\_upfront\_musd}_t)
              \le \overline{B} \ (+\ \mathit{budget\_overrun\_musd}\ \text{when diagnosing})
    """
    m.elastic_penalty_musd = pyo.Expression(expr=0.0)
    if not d.has_budget:
        return
    m.max_total_commitment_musd = pyo.Param(initialize=d.max_total_commitment_musd, mutable=True,
                                            within=pyo.Reals)
    total = sum(lease_payment_musd[t] + lease_upfront_musd[t] for t in lease_payment_musd)
    if d.elastic:
        m.budget_overrun_musd = pyo.Var(within=pyo.NonNegativeReals)
        m.elastic_penalty_musd.expr = 1e3 * m.budget_overrun_musd
        m.budget = pyo.Constraint(expr=total <= m.max_total_commitment_musd + m.budget_overrun_musd)
    else:
        m.budget = pyo.Constraint(expr=total <= m.max_total_commitment_musd)


def define_provider_share(m: pyo.ConcreteModel, d: ModelData, *, lease_provider_spend_musd: pyo.Expression,
                          on_demand_spend_musd: pyo.Expression) -> None:
    r"""Optional cap on any one provider's share of the money paid to providers in the horizon.

    .. math:: \sum_t \mathit{spend}_{s,t,p} \le \sigma \sum_{p'} \sum_t \mathit{spend}_{s,t,p'}
              \qquad \mathit{spend}_{s,t,p} = \mathit{lease\_provider\_spend\_musd}_{t,p}
              + \mathit{on\_demand\_spend\_musd}_{s,t,p}

    Money paid: new lease payments, upfront payments and existing commitments' payments in the
    horizon, and on-demand spend, all before credits. A share cap limits dependence on one provider,
    which a credit does not change; counted after credits, using a credit could break the cap, and
    the plan would have to leave free money unused to keep it.
    """
    if not d.has_provider_share:
        return

    def spend(m: pyo.ConcreteModel, s: str, p: str) -> pyo.Expression:
        return sum(lease_provider_spend_musd[t, p] + on_demand_spend_musd[s, t, p] for t in d.months)

    m.provider_spend_musd = pyo.Expression(m.SCENARIOS, m.PROVIDERS, rule=spend)
    m.provider_share = pyo.Constraint(
        m.SCENARIOS, m.PROVIDERS,
        rule=lambda m, s, p: m.provider_spend_musd[s, p]
        <= d.max_provider_share * sum(m.provider_spend_musd[s, q] for q in d.providers),
    )
