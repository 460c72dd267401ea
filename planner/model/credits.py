"""Cloud credits: applied only to eligible spend inside their window, never above their amount."""

from __future__ import annotations

import pyomo.environ as pyo

from planner.model.costs import add_cost_term
from planner.model.data import ModelData

SCOPES = {"on_demand": ("on_demand",), "leases": ("leases",), "all": ("on_demand", "leases", "all")}
"""For each eligibility row, the credit kinds that draw on it (Hall's condition for two spend kinds)."""


def define_credits(m: pyo.ConcreteModel, d: ModelData, *, on_demand_spend_musd: pyo.Expression,
                   lease_provider_spend_musd: pyo.Expression) -> None:
    r"""Credits pay eligible spend of their provider in their window and are lost after expiry.

    .. math:: \sum_{t \in W_r} \mathit{credit\_used}_{s,r,t} \le A_r \qquad \text{(credit\_total)}

    .. math:: \sum_{r \in R(p),\ \mathrm{kind}(r) \subseteq q} \mathit{credit\_used}_{s,r,t}
              \le \mathit{spend}^{q}_{s,t,p}\quad q \in \{\mathrm{on\_demand}, \mathrm{leases},
              \mathrm{all}\} \qquad \text{(credit\_eligible)}

    :math:`\mathit{spend}^{\mathrm{on\_demand}}` is ``on_demand_spend_musd``,
    :math:`\mathit{spend}^{\mathrm{leases}}` is ``lease_provider_spend_musd`` (new leases' payments and
    upfront, and existing commitments' payments: a reservation credit pays a reservation signed before
    the horizon too) and :math:`\mathit{spend}^{\mathrm{all}}` their sum. With two spend kinds these
    three rows are exactly the condition that credits can be matched to spend they may pay. Applied
    credits reduce cost:
    :math:`\mathit{cost\_credits\_musd}_{s,t} = -\sum_r \mathit{credit\_used}_{s,r,t}`.
    """
    m.CREDITS = pyo.Set(initialize=d.credits, ordered=True)
    m.credit_amount_musd = pyo.Param(m.CREDITS, initialize=d.credit_amount_musd, mutable=True,
                                     within=pyo.Reals)
    use = [(s, r, t) for s in d.scenarios for r in d.credits for t in d.credit_months[r]]
    m.CREDIT_USE = pyo.Set(initialize=use, dimen=3, ordered=True)
    m.credit_used = pyo.Var(m.CREDIT_USE, within=pyo.NonNegativeReals)
    m.credit_total = pyo.Constraint(
        [(s, r) for s in d.scenarios for r in d.credits if d.credit_months[r]],
        rule=lambda m, s, r: sum(m.credit_used[s, r, t] for t in d.credit_months[r]) <= m.credit_amount_musd[r],
    )

    def drawing(s: str, t: int, p: str, scope: str) -> list[str]:
        return [r for r in d.credits if d.credit_provider[r] == p and t in d.credit_months[r]
                and d.credit_applies_to[r] in SCOPES[scope]]

    # The "all" row is needed only where some credit applies to all spend.
    rows = [(s, t, p, q) for s in d.scenarios for t in d.months for p in d.providers for q in SCOPES
            if any(q != "all" or d.credit_applies_to[r] == "all" for r in drawing(s, t, p, q))]
    m.CREDIT_ELIGIBLE = pyo.Set(initialize=rows, dimen=4, ordered=True)

    def eligible(m: pyo.ConcreteModel, s: str, t: int, p: str, q: str) -> pyo.Constraint:
        spend = 0
        if q in ("on_demand", "all"):
            spend += on_demand_spend_musd[s, t, p]
        if q in ("leases", "all"):
            spend += lease_provider_spend_musd[t, p]
        return sum(m.credit_used[s, r, t] for r in drawing(s, t, p, q)) <= spend

    m.credit_eligible = pyo.Constraint(m.CREDIT_ELIGIBLE, rule=eligible)
    m.cost_credits_musd = pyo.Expression(
        m.SCENARIO_MONTHS,
        rule=lambda m, s, t: -sum(m.credit_used[s, r, t] for r in d.credits if t in d.credit_months[r]),
    )
    add_cost_term(m, "credits", "cost_credits_musd")
