"""GPU allocation: leased and committed GPUs per site, on-demand GPUs, and their limits."""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from planner.model.costs import add_cost_term
from planner.model.data import GPUS_PER_UNIT, USD_PER_UNIT, ModelData
from planner.model.expressions import linear_sum


def serving_index(d: ModelData) -> list[tuple[str, int, str, str, str]]:
    """(scenario, month, workload, gpu type, site) for every allowed pair and existing pool."""
    pool_months = d.pool_months()
    return [
        (s, t, w, g, site)
        for s in d.scenarios
        for w, g, site in d.serve_keys
        for t in pool_months[g, site]
    ]


def define_capacity(m: pyo.ConcreteModel, d: ModelData, *, installed_kgpu: pyo.Expression) -> None:
    r"""GPUs put to work on a workload cannot exceed the usable installed GPUs of the pool.

    .. math:: \sum_{w} \mathit{gpus\_serving}_{s,t,w,g,l} \le
              a_g\,\mathit{installed\_kgpu}_{n(s,t),g,l,t} \qquad \forall s,\,(g,l,t) \in \mathcal{P}

    where :math:`a_g` is the availability factor (maintenance, thermal derating) and :math:`n(s,t)` the
    scenario's group in month t.
    """
    m.SERVE = pyo.Set(initialize=serving_index(d), dimen=5, ordered=True)
    m.gpus_serving = pyo.Var(m.SERVE, within=pyo.NonNegativeReals)
    users: dict[tuple[str, str], list[str]] = defaultdict(list)
    for w, g, site in d.serve_keys:
        users[g, site].append(w)
    m.CAPACITY = pyo.Set(initialize=[(s, g, site, t) for s in d.scenarios for g, site, t in d.pools],
                         dimen=4, ordered=True)

    def capacity(m: pyo.ConcreteModel, s: str, g: str, site: str, t: int) -> pyo.Constraint:
        workloads = users[g, site]
        if not workloads:
            return pyo.Constraint.Skip
        used = linear_sum(m.gpus_serving[s, t, w, g, site] for w in workloads)
        return used <= d.availability[g] * installed_kgpu[d.tree.node_of(s, t), g, site, t]

    m.capacity = pyo.Constraint(m.CAPACITY, rule=capacity)


def define_on_demand(m: pyo.ConcreteModel, d: ModelData) -> None:
    r"""On-demand GPUs rented per month, capped per option, paid per GPU-hour.

    .. math:: \sum_w \mathit{od\_serving}_{s,t,w,c} \le \overline{D}_c \qquad
              \mathit{cost\_on\_demand\_musd}_{s,t} = \sum_{c} 1000\,H\,p_c/10^6
              \sum_w \mathit{od\_serving}_{s,t,w,c}
    """
    m.ON_DEMAND = pyo.Set(initialize=d.on_demand, ordered=True)
    m.OD_SERVE = pyo.Set(
        initialize=[(s, t, w, c) for s in d.scenarios for t in d.months for w, c in d.on_demand_serve_keys],
        dimen=4, ordered=True,
    )
    m.od_serving = pyo.Var(m.OD_SERVE, within=pyo.NonNegativeReals)
    m.od_price_usd_per_gpu_hour = pyo.Param(m.ON_DEMAND, initialize=d.od_price_usd_per_gpu_hour,
                                            mutable=True, within=pyo.Reals)
    m.od_max_kgpu = pyo.Param(m.ON_DEMAND, initialize=d.od_max_kgpu, mutable=True, within=pyo.Reals)
    workloads: dict[str, list[str]] = defaultdict(list)
    for w, c in d.on_demand_serve_keys:
        workloads[c].append(w)
    options = [c for c in d.on_demand if workloads[c]]

    def rented(m: pyo.ConcreteModel, s: str, t: int, c: str) -> pyo.Expression:
        return linear_sum(m.od_serving[s, t, w, c] for w in workloads[c])

    m.OD_RENT = pyo.Set(initialize=[(s, t, c) for s in d.scenarios for t in d.months for c in options],
                        dimen=3, ordered=True)
    m.od_kgpu = pyo.Expression(m.OD_RENT, rule=rented)
    m.on_demand_cap = pyo.Constraint(m.OD_RENT, rule=lambda m, s, t, c: m.od_kgpu[s, t, c] <= m.od_max_kgpu[c])
    gpu_hours = GPUS_PER_UNIT * d.hours_per_month / USD_PER_UNIT

    def spend(m: pyo.ConcreteModel, s: str, t: int, provider: str | None = None) -> pyo.Expression:
        return sum(gpu_hours * m.od_price_usd_per_gpu_hour[c] * m.od_kgpu[s, t, c]
                   for c in options if provider is None or d.od_provider[c] == provider)

    m.cost_on_demand_musd = pyo.Expression(m.SCENARIO_MONTHS, rule=spend)
    m.PROVIDER_MONTHS = pyo.Set(
        initialize=[(s, t, p) for s in d.scenarios for t in d.months for p in d.providers],
        dimen=3, ordered=True,
    )
    m.on_demand_spend_musd = pyo.Expression(m.PROVIDER_MONTHS, rule=spend)
    add_cost_term(m, "on_demand", "cost_on_demand_musd")
