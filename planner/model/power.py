"""Site power: the facility power drawn by GPUs in service stays under each site's cap."""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from planner.model.data import ModelData
from planner.model.expressions import linear_sum


def define_power(m: pyo.ConcreteModel, d: ModelData, *, gpus_serving: pyo.Var) -> None:
    r"""Facility power (IT power x PUE) of the GPUs in service stays under the site's cap.

    .. math:: \sum_{w,g} \kappa_{g,l}\,\mathit{gpus\_serving}_{s,t,w,g,l} \le \overline{P}_{l,t}
              \qquad \kappa_{g,l} = \mathit{kW}_g \cdot \mathit{PUE}_l \cdot 1000 / 1000
              \ \text{(MW per kGPU)}

    Idle leased GPUs are taken as powered down; the cap is a mutable parameter ``power_cap_mw``.
    """
    m.SITE_MONTHS = pyo.Set(initialize=sorted(d.power_cap_mw), dimen=2, ordered=True)
    m.power_cap_mw = pyo.Param(m.SITE_MONTHS, initialize=d.power_cap_mw, mutable=True, within=pyo.Reals)
    drawing: dict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
    serving = defaultdict(list)
    for w, g, site in d.serve_keys:
        serving[g, site].append(w)
    for g, site, t in d.pools:
        drawing[site, t] += [(w, g) for w in serving[g, site]]
    index = [(s, site, t) for s in d.scenarios for site, t in d.power_cap_mw if drawing[site, t]]
    m.POWER_INDEX = pyo.Set(initialize=index, dimen=3, ordered=True)

    def draw(m: pyo.ConcreteModel, s: str, site: str, t: int) -> pyo.Expression:
        return linear_sum(d.mw_per_kgpu[g, site] * gpus_serving[s, t, w, g, site] for w, g in drawing[site, t])

    m.power_draw_mw = pyo.Expression(m.POWER_INDEX, rule=draw)
    m.power = pyo.Constraint(m.POWER_INDEX, rule=lambda m, s, site, t: m.power_draw_mw[s, site, t]
                             <= m.power_cap_mw[site, t])
