r"""Efficiency programs: funding that raises throughput from a month on (buy efficiency or buy GPUs).

A program p starts (is funded) in at most one month k of its window; from month
:math:`k + L_p` (its effect delay) on, GPUs of the (GPU type, workload) pairs it improves serve
:math:`f_{p,g,w}` times today's tokens per second. The product of the start binary and the GPUs it
improves is linearised exactly: the GPUs serving a pair are split into a part that runs at a program's
rate (``gpus_improved``: at most the pair's GPUs in service, and zero unless the program is in effect, by a
big-M per GPU type and by the workload's largest peak across GPU types) and the rest. Two programs on one
pair do not stack: the GPUs run at the best rate in effect (an MFU target is a level, not an increment;
see ``models/procurement.md``).

A first-stage program's start is one decision for the scenarios not yet told apart in its start month
(the node in force then, like a lease); a per-scenario program's start is decided by each scenario.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pyomo.environ as pyo

from planner.model.costs import add_cost_term
from planner.model.data import ModelData


def _path_owner(d: ModelData, owner: str, program: str, start: int) -> str:
    """The decision that holds for ``owner``'s scenarios at ``start``: for a first-stage program the node
    in force then on the owner's path (the owner or an ancestor), for a per-scenario one the scenario."""
    return d.tree.ancestor_at(owner, start) if d.program_first_stage[program] else owner


def define_program_starts(m: pyo.ConcreteModel, d: ModelData) -> None:
    r"""Binary start decisions, at most one start on every scenario's path, the months a program is in
    effect, and what it costs.

    .. math:: \mathit{program\_start}_{o,p,k} \in \{0,1\}, \qquad
              \sum_{k} \mathit{program\_start}_{o(s,p,k),p,k} \le 1 \quad \text{(program\_once)}

    .. math:: \mathit{program\_in\_effect}_{s,p,t} = \sum_{k \le t - L_p} \mathit{program\_start}_{o(s,p,k),p,k}

    .. math:: \mathit{cost\_efficiency\_musd}_{s,t} = \sum_p \sum_{k \le t}
              \big(C_p\,[k = t] + c_p\big)\,\mathit{program\_start}_{o(s,p,k),p,k}

    :math:`o(s,p,k)` is the node in force in month k for a first-stage program, the scenario for a
    per-scenario one. ``program_once`` has one row per owner in force at the program's last start
    month (its scenarios share every earlier decision). One-off :math:`C_p` and monthly :math:`c_p`
    costs are mutable parameters (``program_one_off_musd``, ``program_monthly_musd``).
    """
    m.PROGRAMS = pyo.Set(initialize=d.programs, ordered=True)
    m.PROGRAM_DECISIONS = pyo.Set(initialize=d.program_decisions, dimen=3, ordered=True)
    m.program_start = pyo.Var(m.PROGRAM_DECISIONS, within=pyo.Binary)
    m.program_one_off_musd = pyo.Param(m.PROGRAMS, initialize=d.program_one_off_musd, mutable=True,
                                       within=pyo.Reals)
    m.program_monthly_musd = pyo.Param(m.PROGRAMS, initialize=d.program_monthly_musd, mutable=True,
                                       within=pyo.Reals)
    starts: dict[str, list[int]] = defaultdict(list)
    for p, k in d.program_starts:
        starts[p].append(k)
    owners = [(owner, p) for p in d.programs if starts[p]
              for owner in (d.tree.groups(max(starts[p])) if d.program_first_stage[p] else d.scenarios)]
    m.PROGRAM_OWNERS = pyo.Set(initialize=owners, dimen=2, ordered=True)
    m.program_once = pyo.Constraint(
        m.PROGRAM_OWNERS,
        rule=lambda m, owner, p: sum(m.program_start[_path_owner(d, owner, p, k), p, k] for k in starts[p]) <= 1,
    )

    def in_effect(m: pyo.ConcreteModel, s: str, p: str, t: int) -> pyo.Expression:
        return sum(m.program_start[d.program_owner(s, p, k), p, k] for k in starts[p]
                   if k + d.program_delay_months[p] <= t)

    m.PROGRAM_MONTHS = pyo.Set(initialize=[(s, p, t) for s in d.scenarios for p in d.programs for t in d.months],
                               dimen=3, ordered=True)
    m.program_in_effect = pyo.Expression(m.PROGRAM_MONTHS, rule=in_effect)

    def cost(m: pyo.ConcreteModel, s: str, t: int) -> pyo.Expression:
        return sum((m.program_monthly_musd[p] + (m.program_one_off_musd[p] if k == t else 0.0))
                   * m.program_start[d.program_owner(s, p, k), p, k]
                   for p in d.programs for k in starts[p] if k <= t)

    m.cost_efficiency_musd = pyo.Expression(m.SCENARIO_MONTHS, rule=cost)
    add_cost_term(m, "efficiency", "cost_efficiency_musd")


def define_program_effects(m: pyo.ConcreteModel, d: ModelData, *, gpus_serving: pyo.Var, od_serving: pyo.Var,
                           program_in_effect: pyo.Expression) -> None:
    r"""GPUs that run at a program's improved rate: at most the pair's GPUs in service, none before the
    program is in effect; the throughput they add.

    .. math:: \mathit{gpus\_improved}_{p,s,t,w,g} \le M_{p,s,t,w,g}\,\mathit{program\_in\_effect}_{s,p,t}
              \quad \text{(program\_effect)}

    .. math:: \sum_g \theta_{g,w} f_{p,g,w}\,\mathit{gpus\_improved}_{p,s,t,w,g}
              \le P_{s,t,w}\,\mathit{program\_in\_effect}_{s,p,t} \quad \text{(program\_peak)}

    .. math:: \sum_p \mathit{gpus\_improved}_{p,s,t,w,g} \le \sum_l \mathit{gpus\_serving}_{s,t,w,g,l}
              + \sum_{c:\,g(c) = g} \mathit{od\_serving}_{s,t,w,c} \quad \text{(program\_split)}

    .. math:: \mathit{program\_supply\_ttok}_{s,t,w} = \sum_{p,g} \theta_{g,w}\,(f_{p,g,w} - 1)\,
              \mathit{gpus\_improved}_{p,s,t,w,g}

    which the ``throughput`` row adds to its supply. :math:`M_{p,s,t,w,g}` (``program_bigm_kgpu``) is the
    smaller of the most usable kGPU of type g that could serve w in month t (every offer at max_blocks plus
    commitments per site, capped by the site's power, plus the on-demand caps) and the kGPU at the improved
    rate that w's largest possible peak needs; the gain :math:`\gamma_{p,g,w} = \theta_{g,w}(f_{p,g,w}-1)`
    (``program_gain_ttok_per_kgpu_month``) and :math:`M` are mutable parameters. ``program_peak`` bounds the
    improved GPUs of all types together, at the improved rate :math:`\theta_{g,w} f_{p,g,w}`
    (``program_rate_ttok_per_kgpu_month``), by that peak :math:`P_{s,t,w}` (``program_peak_ttok``); both mutable:
    one big-M per GPU type lets a fractional start improve the whole peak on every type at once, which
    left the LP relaxation far from the MILP; no optimal plan is cut off (improved GPUs beyond the peak
    add nothing the ``throughput`` row needs).
    """
    m.PROGRAM_PAIRS = pyo.Set(initialize=d.program_pairs, dimen=3, ordered=True)
    m.PROGRAM_SERVING = pyo.Set(initialize=d.program_serving, dimen=5, ordered=True)
    m.gpus_improved = pyo.Var(m.PROGRAM_SERVING, within=pyo.NonNegativeReals)
    m.program_gain_ttok_per_kgpu_month = pyo.Param(m.PROGRAM_PAIRS, initialize=d.program_gain_ttok_per_kgpu_month,
                                                   mutable=True, within=pyo.Reals)
    m.program_bigm_kgpu = pyo.Param(m.PROGRAM_SERVING, initialize=d.program_bigm_kgpu, mutable=True,
                                    within=pyo.Reals)
    m.program_effect = pyo.Constraint(
        m.PROGRAM_SERVING,
        rule=lambda m, p, s, t, w, g: m.gpus_improved[p, s, t, w, g]
        <= m.program_bigm_kgpu[p, s, t, w, g] * program_in_effect[s, p, t],
    )
    m.program_rate_ttok_per_kgpu_month = pyo.Param(m.PROGRAM_PAIRS, initialize=d.program_rate_ttok_per_kgpu_month,
                                                   mutable=True, within=pyo.Reals)
    m.PROGRAM_PEAKS = pyo.Set(initialize=sorted(d.program_peak_ttok), dimen=3, ordered=True)
    m.program_peak_ttok = pyo.Param(m.PROGRAM_PEAKS, initialize=d.program_peak_ttok, mutable=True, within=pyo.Reals)
    types: dict[tuple[str, str, int, str], list[str]] = defaultdict(list)
    for p, s, t, w, g in d.program_serving:
        types[p, s, t, w].append(g)
    m.PROGRAM_PEAK_ROWS = pyo.Set(initialize=list(types), dimen=4, ordered=True)
    m.program_peak = pyo.Constraint(
        m.PROGRAM_PEAK_ROWS,
        rule=lambda m, p, s, t, w: sum(
            m.program_rate_ttok_per_kgpu_month[p, g, w] * m.gpus_improved[p, s, t, w, g] for g in types[p, s, t, w])
        <= m.program_peak_ttok[s, t, w] * program_in_effect[s, p, t],
    )
    programs: dict[tuple[str, int, str, str], list[str]] = defaultdict(list)
    for p, s, t, w, g in d.program_serving:
        programs[s, t, w, g].append(p)
    pool_months = d.pool_months()
    sites: dict[tuple[int, str, str], list[str]] = defaultdict(list)
    for w, g, site in d.serve_keys:
        for t in pool_months[g, site]:
            sites[t, w, g].append(site)
    clouds: dict[tuple[str, str], list[str]] = defaultdict(list)
    for w, c in d.on_demand_serve_keys:
        clouds[w, d.od_gpu_type[c]].append(c)
    m.PROGRAM_SPLIT = pyo.Set(initialize=list(programs), dimen=4, ordered=True)
    m.program_split = pyo.Constraint(
        m.PROGRAM_SPLIT,
        rule=lambda m, s, t, w, g: sum(m.gpus_improved[p, s, t, w, g] for p in programs[s, t, w, g])
        <= sum(gpus_serving[s, t, w, g, site] for site in sites[t, w, g])
        + sum(od_serving[s, t, w, c] for c in clouds[w, g]),
    )
    supply: dict[tuple[str, int, str], list[tuple[str, str]]] = defaultdict(list)
    for p, s, t, w, g in d.program_serving:
        supply[s, t, w].append((p, g))
    m.PROGRAM_SUPPLY = pyo.Set(initialize=list(supply), dimen=3, ordered=True)
    m.program_supply_ttok = pyo.Expression(
        m.PROGRAM_SUPPLY,
        rule=lambda m, s, t, w: sum(m.program_gain_ttok_per_kgpu_month[p, g, w] * m.gpus_improved[p, s, t, w, g]
                                    for p, g in supply[s, t, w]),
    )


class FirstStagePlan(dict[tuple[Any, ...], int]):
    """A lease plan (as :func:`planner.model.leases.lease_fixings` reads it: (offer, start) or (node,
    offer, start) -> blocks) that also names the first-stage program starts it funds (``programs``:
    (program, start) or (node, program, start) -> 1). Fixing it fixes both; a plain mapping fixes the
    leases alone and leaves programs free."""

    def __init__(self, leases: Mapping[tuple[Any, ...], int] = (), programs: Mapping[tuple[Any, ...], int] = ()
                 ) -> None:
        super().__init__(leases)
        self.programs: dict[tuple[Any, ...], int] = dict(programs)

    def key(self) -> tuple[frozenset[tuple[tuple[Any, ...], int]], frozenset[tuple[tuple[Any, ...], int]]]:
        """A hashable identity: equal plans (leases and programs) have equal keys."""
        return frozenset(self.items()), frozenset(self.programs.items())

    @classmethod
    def from_key(cls, key: tuple[frozenset[tuple[tuple[Any, ...], int]], frozenset[tuple[tuple[Any, ...], int]]]
                 ) -> FirstStagePlan:
        return cls(dict(key[0]), dict(key[1]))


def program_fixings(m: pyo.ConcreteModel, starts: Mapping[tuple[Any, ...], int]) -> list[tuple[pyo.Var, float]]:
    """Every first-stage program column of ``m`` with the value a plan holds it at: ``starts`` maps
    (program, start month index) to 1 for a start every scenario's world makes, or (node, program, start)
    for one node's decision; starts not named are 0 (not funded). Per-scenario programs stay free: they
    are recourse, decided in each world."""
    d: ModelData = m.data
    by_node = bool(starts) and len(next(iter(starts))) == 3
    funded = {key for key, value in starts.items() if round(value) >= 1}
    fixings = []
    for (owner, p, k), var in m.program_start.items():
        if not d.program_first_stage[p]:
            continue
        key = (owner, p, k) if by_node else (p, k)
        fixings.append((var, 1.0 if key in funded else 0.0))
    return fixings
