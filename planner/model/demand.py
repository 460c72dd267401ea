"""Demand: served, unserved and throttled tokens, and the throughput that serving needs."""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from planner.model.costs import add_cost_term
from planner.model.data import ModelData
from planner.model.expressions import linear_sum

ELASTIC_PENALTY_MUSD_PER_TTOK = 1e4
"""Penalty on unserved demand that the input forbids; only used when diagnosing infeasibility."""


def define_demand_variables(m: pyo.ConcreteModel, d: ModelData) -> None:
    r"""Demand parameter and the served / unserved token variables (Ttok per month).

    ``served[s,t,w,p]`` is split by policy so the policy's peak multiplier stays linear;
    ``unserved[s,t,w]`` exists only for workloads that allow it (all of them when diagnosing).
    """
    m.demand_ttok = pyo.Param(m.DEMAND_INDEX, initialize=d.demand_ttok, mutable=True, within=pyo.Reals)
    m.served_ttok = pyo.Var(m.DEMAND_INDEX, d.policies, within=pyo.NonNegativeReals)
    unserved = [(s, t, w) for s, t, w in m.DEMAND_INDEX if d.unserved_allowed[w] or d.elastic]
    m.UNSERVED_INDEX = pyo.Set(initialize=unserved, dimen=3, ordered=True)
    m.unserved_ttok = pyo.Var(m.UNSERVED_INDEX, within=pyo.NonNegativeReals)


def define_demand_balance(m: pyo.ConcreteModel, d: ModelData, *, served_ttok: pyo.Var, unserved_ttok: pyo.Var,
                          demand_ttok: pyo.Param, policy_on: pyo.Var) -> None:
    r"""Admitted demand is served or unserved; the policy in force sets the admitted share.

    .. math:: \sum_p \mathit{served\_ttok}_{s,t,w,p} + \mathit{unserved\_ttok}_{s,t,w}
              = D_{s,t,w} \sum_p \alpha_{p,w}\,\mathit{policy\_on}_{s,t,p}

    .. math:: \mathit{served\_ttok}_{s,t,w,p} \le D_{s,t,w}\,\alpha_{p,w}\,\mathit{policy\_on}_{s,t,p}
              \quad\text{(policy\_admission: only the policy in force serves)}
    """

    def balance(m: pyo.ConcreteModel, s: str, t: int, w: str) -> pyo.Constraint:
        served = linear_sum(served_ttok[s, t, w, p] for p in d.policies)
        unserved = unserved_ttok[s, t, w] if (s, t, w) in unserved_ttok.index_set() else 0
        admitted = linear_sum(d.admitted_fraction[p, w] * policy_on[s, t, p] for p in d.policies)
        return served + unserved == demand_ttok[s, t, w] * admitted

    m.demand_balance = pyo.Constraint(m.DEMAND_INDEX, rule=balance)
    if len(d.policies) > 1:
        m.policy_admission = pyo.Constraint(
            m.DEMAND_INDEX, d.policies,
            rule=lambda m, s, t, w, p: served_ttok[s, t, w, p]
            <= demand_ttok[s, t, w] * d.admitted_fraction[p, w] * policy_on[s, t, p],
        )


def define_throughput(m: pyo.ConcreteModel, d: ModelData, *, gpus_serving: pyo.Var, od_serving: pyo.Var,
                      served_ttok: pyo.Var, program_supply_ttok: pyo.Expression | None = None) -> None:
    r"""GPUs serving a workload must deliver its peak token rate (capacity is sized for the peak).

    .. math:: \sum_{g,l} \theta_{g,w}\,\mathit{gpus\_serving}_{s,t,w,g,l}
              + \sum_{c} \theta_{g(c),w}\,\mathit{od\_serving}_{s,t,w,c}
              + \mathit{program\_supply\_ttok}_{s,t,w}
              \ge \sum_p \rho_w\,\mu_{p,w}\,\mathit{served\_ttok}_{s,t,w,p}

    :math:`\theta` is Ttok per kGPU-month at full rate (tokens/s x hours x 3600), :math:`\rho_w` the
    peak-to-average ratio and :math:`\mu_{p,w}` the policy's multiplier on it. ``program_supply_ttok``
    is what efficiency programs in effect add (only with programs; see ``define_program_effects``).
    """
    m.THROUGHPUT_PAIRS = pyo.Set(initialize=sorted(d.throughput_ttok_per_kgpu_month), dimen=2, ordered=True)
    m.throughput_ttok_per_kgpu_month = pyo.Param(
        m.THROUGHPUT_PAIRS, initialize=d.throughput_ttok_per_kgpu_month, mutable=True, within=pyo.Reals
    )
    pool_months = d.pool_months()
    leased: dict[tuple[int, str], list[tuple[str, str]]] = defaultdict(list)
    for w, g, site in d.serve_keys:
        for t in pool_months[g, site]:
            leased[t, w].append((g, site))
    cloud: dict[str, list[str]] = defaultdict(list)
    for w, c in d.on_demand_serve_keys:
        cloud[w].append(c)

    def throughput(m: pyo.ConcreteModel, s: str, t: int, w: str) -> pyo.Constraint:
        supply = linear_sum(m.throughput_ttok_per_kgpu_month[g, w] * gpus_serving[s, t, w, g, site]
                            for g, site in leased[t, w])
        supply += linear_sum(m.throughput_ttok_per_kgpu_month[d.od_gpu_type[c], w] * od_serving[s, t, w, c]
                             for c in cloud[w])
        if program_supply_ttok is not None and (s, t, w) in program_supply_ttok:
            supply += program_supply_ttok[s, t, w]
        peak = linear_sum(d.peak_to_average[w] * d.peak_multiplier[p, w] * served_ttok[s, t, w, p]
                          for p in d.policies)
        if isinstance(supply, int):
            # Nothing can serve this workload this month: it must be unserved or throttled away.
            return peak <= 0
        return supply >= peak

    m.throughput = pyo.Constraint(m.DEMAND_INDEX, rule=throughput)


def define_unserved_cost(m: pyo.ConcreteModel, d: ModelData, *, unserved_ttok: pyo.Var) -> None:
    r"""Unserved demand costs its penalty (by default the revenue it would have earned).

    .. math:: \mathit{cost\_unserved\_musd}_{s,t} = \sum_w \pi^{U}_w\,\mathit{unserved\_ttok}_{s,t,w}
    """

    def penalty(w: str) -> float:
        return d.unserved_penalty_musd_per_ttok[w] if d.unserved_allowed[w] else ELASTIC_PENALTY_MUSD_PER_TTOK

    m.cost_unserved_musd = pyo.Expression(
        m.SCENARIO_MONTHS,
        rule=lambda m, s, t: sum(penalty(w) * unserved_ttok[s, t, w]
                                 for w in d.workloads if (s, t, w) in unserved_ttok),
    )
    add_cost_term(m, "unserved", "cost_unserved_musd")
