"""Rate-limit policies: exactly one per month and scenario; throttling and goodwill costs."""

from __future__ import annotations

import pyomo.environ as pyo

from planner.model.costs import add_cost_term
from planner.model.data import ModelData


def define_policy_choice(m: pyo.ConcreteModel, d: ModelData) -> None:
    r"""Exactly one rate-limit policy is in force each month of each scenario.

    .. math:: \sum_{p} \mathit{policy\_on}_{s,t,p} = 1,\qquad \mathit{policy\_on}_{s,t,p}\in\{0,1\}

    Goodwill cost of the policy in force:
    :math:`\mathit{cost\_goodwill\_musd}_{s,t} = \sum_p G_p\,\mathit{policy\_on}_{s,t,p}`.
    """
    m.POLICIES = pyo.Set(initialize=d.policies, ordered=True)
    m.policy_on = pyo.Var(m.SCENARIO_MONTHS, m.POLICIES, within=pyo.Binary)
    m.policy_choice = pyo.Constraint(
        m.SCENARIO_MONTHS, rule=lambda m, s, t: sum(m.policy_on[s, t, p] for p in d.policies) == 1
    )
    m.cost_goodwill_musd = pyo.Expression(
        m.SCENARIO_MONTHS,
        rule=lambda m, s, t: sum(d.goodwill_musd_per_month[p] * m.policy_on[s, t, p] for p in d.policies),
    )
    add_cost_term(m, "goodwill", "cost_goodwill_musd")


def define_throttling(m: pyo.ConcreteModel, d: ModelData, *, demand_ttok: pyo.Param, policy_on: pyo.Var) -> None:
    r"""Demand a policy turns away is throttled; it costs the revenue it would have earned.

    .. math:: \mathit{throttled\_ttok}_{s,t,w} = D_{s,t,w}\,\Big(1 - \sum_p \alpha_{p,w}\,
              \mathit{policy\_on}_{s,t,p}\Big) \qquad
              \mathit{cost\_throttling\_musd}_{s,t} = \sum_w R_w\,\mathit{throttled\_ttok}_{s,t,w}
    """

    def throttled(m: pyo.ConcreteModel, s: str, t: int, w: str) -> pyo.Expression:
        admitted = sum(d.admitted_fraction[p, w] * policy_on[s, t, p] for p in d.policies)
        return demand_ttok[s, t, w] * (1 - admitted)

    m.throttled_ttok = pyo.Expression(m.DEMAND_INDEX, rule=throttled)
    m.cost_throttling_musd = pyo.Expression(
        m.SCENARIO_MONTHS,
        rule=lambda m, s, t: sum(d.revenue_musd_per_ttok[w] * m.throttled_ttok[s, t, w] for w in d.workloads),
    )
    add_cost_term(m, "throttling", "cost_throttling_musd")
