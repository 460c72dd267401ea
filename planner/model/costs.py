"""Costs: every family registers its cost expressions here; the objective sums them.

No family writes the objective directly. A cost term is an Expression in MUSD per month, undiscounted,
indexed by payment month (``common``: the same in every scenario), by (node, payment month) (``node``:
what the decisions of a scenario-tree node pay; a scenario pays those of the nodes on its path) or by
(scenario, month) (``scenario``); this module discounts, weights by probability and adds the optional
CVaR term.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyomo.environ as pyo

from planner.model.data import ModelData
from planner.model.tree import ROOT

TIE_BREAK_MUSD_PER_KGPU_MONTH = 1e-5
"""Tie-break cost: 0.01 USD per GPU-month, far below any real price, above HiGHS's tolerances."""
CVAR_TIE_BREAK_WEIGHT = 1e-7
"""Least weight kept on the expected cost, so that omega = 1 still prices every scenario."""

CASH_CATEGORIES = ("leases", "upfront", "commitments", "on_demand", "credits", "efficiency")
"""Cost categories that are money paid (credits pay part of it): the cash budget caps their sum and
budget mode subtracts it from the value of tokens served."""
OVERRUN_PENALTY_PER_MUSD = 1e3
"""Penalty per MUSD over a budget when diagnosing infeasibility (``elastic``)."""

Stage = Literal["common", "node", "scenario"]


@dataclass(frozen=True)
class CostTerm:
    """A registered cost: report category, Expression component name, and how it is indexed."""

    category: str
    component: str
    stage: Stage


def add_cost_term(m: pyo.ConcreteModel, category: str, component: str, *, stage: Stage = "scenario") -> None:
    """Register a cost Expression (MUSD per month, undiscounted) under a report category: indexed by
    payment month (``common``), (node, payment month) (``node``) or (scenario, month) (``scenario``)."""
    m.cost_terms.append(CostTerm(category, component, stage))


def counted_payment_months(m: pyo.ConcreteModel, d: ModelData) -> list[int]:
    """Payment months that enter the objective: all of them (take-or-pay) or the horizon's."""
    return list(m.PAYMENT_MONTHS) if d.count_payments_beyond_horizon else list(d.months)


def scenario_sum(m: pyo.ConcreteModel, d: ModelData, s: str, categories: tuple[str, ...], *,
                 node_months: list[int], discounted: bool) -> pyo.Expression:
    """The registered cost terms of ``categories`` that scenario ``s`` pays: node terms of the nodes on its
    path and common terms over ``node_months``, scenario terms over the horizon; discounted or nominal."""
    terms = [term for term in m.cost_terms if term.category in categories]
    path = d.tree.path(s)

    def weight(t: int) -> float:
        return d.discount(t) if discounted else 1.0

    total = 0
    for term in terms:
        component = getattr(m, term.component)
        if term.stage == "scenario":
            total += sum(weight(t) * component[s, t] for t in d.months)
        elif term.stage == "node":
            total += sum(weight(t) * component[n, t] for n in path for t in node_months)
        else:
            total += sum(weight(t) * component[t] for t in node_months)
    return total


def define_objective(m: pyo.ConcreteModel, d: ModelData, *, od_kgpu: pyo.Expression, lease_blocks: pyo.Var,
                     elastic_penalty_musd: pyo.Expression,
                     scenario_value_musd: pyo.Expression | None = None) -> None:
    r"""Node cost and scenario cost (NPV), and the objective: expected cost, optionally blended with CVaR.

    .. math:: \mathit{node\_cost\_musd}_n = \sum_{t} \delta_t \Big(\sum_{c \in \mathcal{C}_N} c_{n,t}
              + [n = \mathrm{ROOT}] \sum_{c \in \mathcal{C}_1} c_t\Big), \qquad \delta_t = (1+r)^{-t/12}

    .. math:: \mathit{scenario\_cost\_musd}_s = \sum_{n \ni s} \mathit{node\_cost\_musd}_n
              + \sum_{t \in \mathcal{T}} \delta_t \sum_{c \in \mathcal{C}_2} c_{s,t}

    .. math:: \min\ \max(1-\omega, \epsilon) \sum_s \pi_s\,\mathit{scenario\_cost\_musd}_s
              + \omega\Big(\eta + \frac{1}{1-\alpha}\sum_s \pi_s\,\mathit{cvar\_excess}_s\Big)
              + \mathit{tie\_break\_musd}
              \quad\text{s.t.}\quad \mathit{cvar\_excess}_s \ge \mathit{scenario\_cost\_musd}_s - \eta

    :math:`\mathcal{C}_N` are the node terms (lease payments, upfront), :math:`\mathcal{C}_1` the common
    ones (existing commitments, counted at the root, which every scenario passes through) and
    :math:`\mathcal{C}_2` the scenario terms (on-demand, credits, efficiency programs, throttling, unserved,
    goodwill); the first two are summed over the payment months that count (``counted_payment_months``).

    In budget mode (``objective`` = max_value_within_budget) the scenario's loss is
    :math:`-\mathit{scenario\_value\_musd}_s` instead of its cost: the objective (expectation and CVaR
    alike) minimises minus the value of tokens served less cash cost.
    """
    first_months = counted_payment_months(m, d)
    node_terms = [term for term in m.cost_terms if term.stage == "node"]
    common_terms = [term for term in m.cost_terms if term.stage == "common"]

    def node_cost(m: pyo.ConcreteModel, n: str) -> pyo.Expression:
        terms = node_terms + common_terms if n == ROOT else node_terms
        return sum(d.discount(t) * getattr(m, term.component)[(n, t) if term.stage == "node" else t]
                   for term in terms for t in first_months)

    m.node_cost_musd = pyo.Expression(m.NODES, rule=node_cost)

    def scenario_cost(m: pyo.ConcreteModel, s: str) -> pyo.Expression:
        decided = sum(m.node_cost_musd[n] for n in d.tree.path(s))
        return decided + sum(
            d.discount(t) * getattr(m, term.component)[s, t]
            for term in m.cost_terms if term.stage == "scenario" for t in d.months
        )

    m.scenario_cost_musd = pyo.Expression(m.SCENARIOS, rule=scenario_cost)
    expected = sum(d.probability[s] * m.scenario_cost_musd[s] for s in d.scenarios)
    m.expected_cost_musd = pyo.Expression(expr=expected)
    if scenario_value_musd is not None:
        loss = {s: -scenario_value_musd[s] for s in d.scenarios}
        expected = sum(d.probability[s] * loss[s] for s in d.scenarios)
    else:
        loss = {s: m.scenario_cost_musd[s] for s in d.scenarios}
    if d.has_cvar:
        m.cvar_eta = pyo.Var(within=pyo.Reals)
        m.cvar_excess = pyo.Var(m.SCENARIOS, within=pyo.NonNegativeReals)
        m.cvar_excess_def = pyo.Constraint(
            m.SCENARIOS, rule=lambda m, s: m.cvar_excess[s] >= loss[s] - m.cvar_eta
        )
        m.cvar_musd = pyo.Expression(
            expr=m.cvar_eta + sum(d.probability[s] * m.cvar_excess[s] for s in d.scenarios)
            / (1.0 - d.cvar_alpha)
        )
        # At omega = 1 scenarios outside the tail would have no weight at all and their second stage
        # could be left wasteful; a tiny weight on the expectation breaks that tie without moving the plan.
        expectation_weight = max(1.0 - d.cvar_weight, CVAR_TIE_BREAK_WEIGHT)
        objective = expectation_weight * expected + d.cvar_weight * m.cvar_musd
    else:
        objective = expected
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
    # A node's signings weigh by its probability (the root's is 1: the two-stage tie-break).
    leased = sum(d.tree.node(n).probability * d.offer_block_kgpu[o] * len(d.lease_payment_months[o, k])
                 * lease_blocks[n, o, k] for n, o, k in d.lease_decisions)
    return TIE_BREAK_MUSD_PER_KGPU_MONTH * (rented + leased)


def define_budget(m: pyo.ConcreteModel, d: ModelData, *, lease_payment_musd: pyo.Expression,
                  lease_upfront_musd: pyo.Expression) -> None:
    r"""Optional cap on the total of new lease commitments (every payment, undiscounted), in every
    scenario: over the signings of the nodes on its path.

    .. math:: \sum_{n' \in \mathrm{lineage}(n)} \sum_{t} (\mathit{lease\_payment\_musd}_{n',t}
              + \mathit{lease\_upfront\_musd}_{n',t})
              \le \overline{B} \ (+\ \mathit{budget\_overrun\_musd}\ \text{when diagnosing})

    for n in ``BUDGET_NODES``, the groups in force at the last month any lease is signed: their
    scenarios have signed alike, so one row serves them all (one row in the two-stage model).
    """
    m.elastic_penalty_musd = pyo.Expression(expr=0.0)
    if not d.has_budget:
        return
    m.max_total_commitment_musd = pyo.Param(initialize=d.max_total_commitment_musd, mutable=True,
                                            within=pyo.Reals)
    last_signing = max(d.lease_signing_month.values(), default=0)
    m.BUDGET_NODES = pyo.Set(initialize=d.tree.groups(last_signing), ordered=True)
    if d.elastic:
        m.budget_overrun_musd = pyo.Var(within=pyo.NonNegativeReals)
        m.elastic_penalty_musd.expr = OVERRUN_PENALTY_PER_MUSD * m.budget_overrun_musd

    def budget(m: pyo.ConcreteModel, n: str) -> pyo.Constraint:
        total = sum(lease_payment_musd[a, t] + lease_upfront_musd[a, t]
                    for a in d.tree.lineage(n) for t in m.PAYMENT_MONTHS)
        if d.elastic:
            return total <= m.max_total_commitment_musd + m.budget_overrun_musd
        return total <= m.max_total_commitment_musd

    m.budget = pyo.Constraint(m.BUDGET_NODES, rule=budget)


def define_provider_share(m: pyo.ConcreteModel, d: ModelData, *, lease_provider_spend_musd: pyo.Expression,
                          on_demand_spend_musd: pyo.Expression) -> None:
    r"""Optional cap on any one provider's share of the money paid to providers in the horizon.

    .. math:: \sum_t \mathit{spend}_{s,t,p} \le \sigma \sum_{p'} \sum_t \mathit{spend}_{s,t,p'}
              \qquad \mathit{spend}_{s,t,p} = \mathit{lease\_provider\_spend\_musd}_{n(s,t),t,p}
              + \mathit{on\_demand\_spend\_musd}_{s,t,p}

    Money paid: new lease payments, upfront payments and existing commitments' payments in the
    horizon, and on-demand spend, all before credits. A share cap limits dependence on one provider,
    which a credit does not change; counted after credits, using a credit could break the cap, and
    the plan would have to leave free money unused to keep it.
    """
    if not d.has_provider_share:
        return

    def spend(m: pyo.ConcreteModel, s: str, p: str) -> pyo.Expression:
        return sum(lease_provider_spend_musd[d.tree.node_of(s, t), t, p] + on_demand_spend_musd[s, t, p]
                   for t in d.months)

    m.provider_spend_musd = pyo.Expression(m.SCENARIOS, m.PROVIDERS, rule=spend)
    m.provider_share = pyo.Constraint(
        m.SCENARIOS, m.PROVIDERS,
        rule=lambda m, s, p: m.provider_spend_musd[s, p]
        <= d.max_provider_share * sum(m.provider_spend_musd[s, q] for q in d.providers),
    )


def define_cash_budget(m: pyo.ConcreteModel, d: ModelData, *, elastic_penalty_musd: pyo.Expression) -> None:
    r"""Optional cap on the cash paid inside the horizon, nominal, in every scenario.

    .. math:: \mathit{cash\_spend\_musd}_s = \sum_{c \in \mathcal{C}_{\$}} \sum_{t \in \mathcal{T}} c_{s,t}
              \le \overline{B}^{\$} \ (+\ \mathit{cash\_overrun\_musd}_s\ \text{when diagnosing})
              \quad \text{(cash\_budget)}

    :math:`\mathcal{C}_{\$}` are the cash categories (``CASH_CATEGORIES``): lease payments and upfront of the
    signings on the scenario's path, existing commitments, on-demand, efficiency programs, less credits
    applied; only the payments that fall inside the horizon. The cap :math:`\overline{B}^{\$}` is the mutable
    ``max_cash_spend_musd``; its dual (with the integers fixed) is the value of one more dollar of budget.
    """
    if not d.has_cash_budget:
        return
    m.max_cash_spend_musd = pyo.Param(initialize=d.max_cash_spend_musd, mutable=True, within=pyo.Reals)
    m.cash_spend_musd = pyo.Expression(
        m.SCENARIOS, rule=lambda m, s: scenario_sum(m, d, s, CASH_CATEGORIES, node_months=d.months, discounted=False)
    )
    if d.elastic:
        m.cash_overrun_musd = pyo.Var(m.SCENARIOS, within=pyo.NonNegativeReals)
        elastic_penalty_musd.expr += OVERRUN_PENALTY_PER_MUSD * sum(m.cash_overrun_musd[s] for s in d.scenarios)

    def cash_budget(m: pyo.ConcreteModel, s: str) -> pyo.Constraint:
        if d.elastic:
            return m.cash_spend_musd[s] <= m.max_cash_spend_musd + m.cash_overrun_musd[s]
        return m.cash_spend_musd[s] <= m.max_cash_spend_musd

    m.cash_budget = pyo.Constraint(m.SCENARIOS, rule=cash_budget)


def define_value(m: pyo.ConcreteModel, d: ModelData, *, served_ttok: pyo.Var, unserved_ttok: pyo.Var,
                 elastic_penalty_musd: pyo.Expression) -> None:
    r"""Budget mode only: what a scenario earns, the value the objective maximises.

    .. math:: \mathit{revenue\_served\_musd}_{s,t} = \sum_w R_w \sum_q \mathit{served\_ttok}_{s,t,w,q}

    .. math:: \mathit{scenario\_value\_musd}_s = \sum_{t \in \mathcal{T}} \delta_t\,
              \mathit{revenue\_served\_musd}_{s,t}
              - \sum_{c \in \mathcal{C}_{\$} \cup \{\mathrm{goodwill}\}} \mathrm{NPV}_s(c)

    The value of tokens served (revenue per million tokens) less the NPV of the cash categories and of
    the policies' goodwill, each counted as in ``scenario_cost_musd`` (take-or-pay payments after the
    horizon when ``count_payments_beyond_horizon``). Throttled and unserved tokens earn nothing; their
    penalty does not enter (with the unserved penalty equal to the revenue, the default, minus the value
    is the cost less the constant :math:`\sum_t \delta_t \sum_w R_w D_{s,t,w}`).
    """
    if not d.maximises_value:
        return
    m.revenue_served_musd = pyo.Expression(
        m.SCENARIO_MONTHS,
        rule=lambda m, s, t: sum(d.revenue_musd_per_ttok[w] * served_ttok[s, t, w, q]
                                 for w in d.workloads for q in d.policies),
    )
    counted = counted_payment_months(m, d)
    m.scenario_value_musd = pyo.Expression(
        m.SCENARIOS,
        rule=lambda m, s: sum(d.discount(t) * m.revenue_served_musd[s, t] for t in d.months)
        - scenario_sum(m, d, s, (*CASH_CATEGORIES, "goodwill"), node_months=counted, discounted=True),
    )
    if d.elastic:
        # Diagnosing: demand that may not go unserved keeps its penalty, so the diagnosis can name it.
        from planner.model.demand import ELASTIC_PENALTY_MUSD_PER_TTOK

        elastic_penalty_musd.expr += ELASTIC_PENALTY_MUSD_PER_TTOK * sum(
            d.probability[s] * d.discount(t) * var for (s, t, w), var in unserved_ttok.items()
            if not d.unserved_allowed[w])
