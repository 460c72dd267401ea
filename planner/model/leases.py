"""Lease signings: blocks per (node, offer, start month), terms, offer limits, payments.

A block starting in month k of offer o is signed in month :math:`\\sigma_{o,k} = k - L_o` (its lead time).
It is one decision for every scenario of the group (node of the scenario tree) the scenario is in at
the signing month: the variable is shared, so non-anticipativity needs no rows. With no reveal month
the only node is ``ROOT`` and this is the two-stage model.

Everything a scenario has signed up to month t was signed at a node on its path in force no later than
t, so quantities of month t (GPUs installed, lease-side spend) depend only on the node in force in t:
they are indexed by that node, not by scenario, and the two-stage model keeps its size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pyomo.environ as pyo

from planner.model.costs import add_cost_term
from planner.model.data import ModelData
from planner.model.efficiency import program_fixings
from planner.model.expressions import linear_sum


def define_lease_variables(m: pyo.ConcreteModel, d: ModelData) -> None:
    r"""Integer blocks signed per node, offer and start month, only inside the start window.

    .. math:: \mathit{lease\_blocks}_{n,o,k} \in \mathbb{Z}_{\ge 0},\quad
              k \in [\max(\mathit{earliest}_o, L_o), \mathit{latest}_o] \cap \mathcal{T},\quad
              n \in \mathcal{N}(\sigma_{o,k})

    :math:`\mathcal{N}(t)` are the scenario groups (nodes) in force in month t. The price per GPU-hour
    is a mutable parameter ``offer_price_usd_per_gpu_hour[o]``.
    """
    m.NODES = pyo.Set(initialize=[n.node_id for n in d.tree.nodes], ordered=True)
    m.LEASE_STARTS = pyo.Set(initialize=d.lease_starts, dimen=2, ordered=True)
    m.LEASE_DECISIONS = pyo.Set(initialize=d.lease_decisions, dimen=3, ordered=True)
    m.OFFERS = pyo.Set(initialize=d.offers, ordered=True)
    m.lease_blocks = pyo.Var(
        m.LEASE_DECISIONS, within=pyo.NonNegativeIntegers, bounds=lambda _, n, o, k: (0, d.offer_max_blocks[o])
    )
    m.offer_price_usd_per_gpu_hour = pyo.Param(
        m.OFFERS, initialize=d.offer_price_usd_per_gpu_hour, mutable=True, within=pyo.Reals
    )


def signed_on_path(d: ModelData, node: str, starts: list[tuple[str, int]]) -> list[tuple[str, str, int]]:
    """The decisions ``lease_blocks[n, o, k]`` that hold in ``node``'s scenarios for the given starts
    (each signed no later than the node's months): n is the node in force at the signing month."""
    return [(d.tree.ancestor_at(node, d.lease_signing_month[o, k]), o, k) for o, k in starts]


def define_lease_terms(m: pyo.ConcreteModel, d: ModelData, *, lease_blocks: pyo.Var) -> None:
    r"""Installed GPUs per (node, GPU type, site, month): existing commitments plus every block whose
    term covers the month (take-or-pay: a block starting in month k is active k .. k+term-1).

    .. math:: \mathit{installed\_kgpu}_{n,g,l,t} = \bar{C}_{g,l,t} +
              \sum_{o \in O(g,l)} \sum_{k:\ k \le t \le k+\tau_o-1} b_o\,\mathit{lease\_blocks}_{a(n,\sigma_{o,k}),o,k}
              \qquad n \in \mathcal{N}(t)

    :math:`a(n, t')` is the node in force in month :math:`t' \le t` for the scenarios of n (n or an
    ancestor). A scenario s uses ``installed_kgpu[n(s,t), g, l, t]``.
    """
    covering: dict[tuple[str, str, int], list[tuple[str, int]]] = defaultdict(list)
    for (o, k), months in d.lease_active_months.items():
        for t in months:
            covering[d.offer_gpu_type[o], d.offer_site[o], t].append((o, k))
    m.POOLS = pyo.Set(initialize=d.pools, dimen=3, ordered=True)
    m.NODE_POOLS = pyo.Set(initialize=[(n, g, site, t) for g, site, t in d.pools for n in d.tree.groups(t)],
                           dimen=4, ordered=True)

    def installed(m: pyo.ConcreteModel, n: str, g: str, site: str, t: int) -> pyo.Expression:
        return d.committed_kgpu.get((g, site, t), 0.0) + linear_sum(
            d.offer_block_kgpu[key[1]] * lease_blocks[key] for key in signed_on_path(d, n, covering[g, site, t])
        )

    m.installed_kgpu = pyo.Expression(m.NODE_POOLS, rule=installed)


def define_offer_limits(m: pyo.ConcreteModel, d: ModelData, *, lease_blocks: pyo.Var) -> None:
    r"""At most ``max_blocks`` per offer in total, and at least ``min_blocks`` if the offer is used
    at all (semi-continuous, with a binary ``offer_used`` only where ``min_blocks > 1``), in every
    scenario: summed over the blocks its path signs.

    .. math:: \sum_k \mathit{lease\_blocks}_{a(n,\sigma_{o,k}),o,k} \le \overline{N}_o\,u_{n,o},\qquad
              \sum_k \mathit{lease\_blocks}_{a(n,\sigma_{o,k}),o,k} \ge \underline{N}_o\,u_{n,o},\qquad
              u_{n,o} \in \{0,1\}

    for :math:`(n, o) \in` ``OFFER_NODES``: n is a group in force at the offer's last signing month.
    The scenarios of n have signed the same blocks of o, so one row (and one binary) serves them all;
    in the two-stage model that is one per offer.
    """
    starts: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for o, k in d.lease_starts:
        starts[o].append((o, k))
    limited = [(n, o) for o in d.offers if starts[o]
               for n in d.tree.groups(max(d.lease_signing_month[key] for key in starts[o]))]
    semi = [(n, o) for n, o in limited if d.offer_min_blocks[o] > 1]
    m.OFFER_NODES = pyo.Set(initialize=limited, dimen=2, ordered=True)
    m.SEMI_OFFER_NODES = pyo.Set(initialize=semi, dimen=2, ordered=True)
    m.offer_used = pyo.Var(m.SEMI_OFFER_NODES, within=pyo.Binary)
    semi_set = set(semi)

    def total(n: str, o: str) -> pyo.Expression:
        return sum(lease_blocks[key] for key in signed_on_path(d, n, starts[o]))

    def max_rule(m: pyo.ConcreteModel, n: str, o: str) -> pyo.Constraint:
        if (n, o) in semi_set:
            return total(n, o) <= d.offer_max_blocks[o] * m.offer_used[n, o]
        return total(n, o) <= d.offer_max_blocks[o]

    def min_rule(m: pyo.ConcreteModel, n: str, o: str) -> pyo.Constraint:
        return total(n, o) >= d.offer_min_blocks[o] * m.offer_used[n, o]

    m.offer_max_blocks = pyo.Constraint(m.OFFER_NODES, rule=max_rule)
    m.offer_min_blocks = pyo.Constraint(m.SEMI_OFFER_NODES, rule=min_rule)


def define_lease_costs(m: pyo.ConcreteModel, d: ModelData, *, lease_blocks: pyo.Var,
                       offer_price_usd_per_gpu_hour: pyo.Param) -> None:
    r"""Lease payments by node and calendar month (what the node's signings pay), commitment payments,
    and the lease-side money paid to each provider, in MUSD.

    .. math:: \mathit{lease\_payment\_musd}_{n,t} = \sum_{(n,o,k):\ k \le t \le k+\tau_o-1}
              b_o \cdot 1000 \cdot p_o \cdot H / 10^6 \cdot \mathit{lease\_blocks}_{n,o,k}
              \qquad \mathit{lease\_upfront\_musd}_{n,t} = \sum_{(n,o,k):\ \sigma_{o,k} = t}
              U_o\,\mathit{lease\_blocks}_{n,o,k}

    .. math:: \mathit{commitment\_payment\_musd}_t = \sum_p \bar{K}_{t,p} \qquad
              \mathit{lease\_provider\_spend\_musd}_{n,t,p} = \bar{K}_{t,p} +
              \sum_{o \in O_p} \Big(\sum_{k:\ \sigma_{o,k} = t} U_o\,x_{o,k} + \sum_{k:\ k \le t \le k+\tau_o-1}
              b_o \cdot 1000 \cdot p_o \cdot H / 10^6 \cdot x_{o,k}\Big),\ n \in \mathcal{N}(t),\ t \in \mathcal{T}

    with :math:`x_{o,k} = \mathit{lease\_blocks}_{a(n,\sigma_{o,k}),o,k}` the blocks the scenarios of n
    signed, :math:`\bar{K}_{t,p}` the payment of provider :math:`p`'s existing commitments in month
    :math:`t` and :math:`O_p` its offers. A scenario's lease payments are those of the nodes on its path.
    The upfront payment is due at signing, :math:`\sigma_{o,k} = k - L_o` (the start month without a lead
    time); the term's payments run from the start month.

    Payments past the horizon are kept for new leases and commitments alike (take-or-pay); whether
    they enter the objective is the ``count_payments_beyond_horizon`` setting. Commitment payments
    before the first month are sunk and not in the model. ``lease_provider_spend_musd`` is the
    lease-side money paid to a provider in a horizon month: what its credits may pay and what its
    share cap counts; scenario s reads it at ``n(s, t)``.
    """
    paying: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for (o, k), months in d.lease_payment_months.items():
        for t in months:
            paying[t].append((o, k))
    last = max([d.months[-1], *paying, *(t for t, _ in d.committed_cost_musd)])
    m.PAYMENT_MONTHS = pyo.Set(initialize=range(last + 1), ordered=True)
    m.NODE_PAYMENT_MONTHS = pyo.Set(initialize=[(n.node_id, t) for n in d.tree.nodes for t in m.PAYMENT_MONTHS],
                                    dimen=2, ordered=True)
    define_payments_per_lease(m, d, lease_blocks=lease_blocks,
                              offer_price_usd_per_gpu_hour=offer_price_usd_per_gpu_hour)
    monthly, at_signing = m.lease_monthly_payment_musd, m.lease_signing_payment_musd
    signed_at = set(d.lease_decisions)

    def payment(m: pyo.ConcreteModel, n: str, t: int) -> pyo.Expression:
        return sum(monthly[n, o, k] for o, k in paying[t] if (n, o, k) in signed_at)

    signing: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for o, k in d.lease_starts:
        if d.offer_upfront_musd_per_block[o]:
            signing[d.lease_signing_month[o, k]].append((o, k))

    def upfront(m: pyo.ConcreteModel, n: str, t: int) -> pyo.Expression:
        return sum(at_signing[n, o, k] for o, k in signing[t] if (n, o, k) in signed_at)

    m.lease_payment_musd = pyo.Expression(m.NODE_PAYMENT_MONTHS, rule=payment)
    m.lease_upfront_musd = pyo.Expression(m.NODE_PAYMENT_MONTHS, rule=upfront)
    m.commitment_payment_musd = pyo.Expression(
        m.PAYMENT_MONTHS, rule=lambda m, t: sum(d.committed_cost_musd.get((t, p), 0.0) for p in d.providers)
    )

    def provider_spend(m: pyo.ConcreteModel, n: str, t: int, p: str) -> pyo.Expression:
        leases = signed_on_path(d, n, [(o, k) for o, k in paying[t] if d.offer_provider[o] == p])
        starting = signed_on_path(d, n, [(o, k) for o, k in signing[t] if d.offer_provider[o] == p])
        return (sum(monthly[key] for key in leases) + sum(at_signing[key] for key in starting)
                + d.committed_cost_musd.get((t, p), 0.0))

    m.NODE_PROVIDER_MONTHS = pyo.Set(initialize=[(n, t, p) for t in d.months for p in d.providers
                                                 for n in d.tree.groups(t)], dimen=3, ordered=True)
    m.lease_provider_spend_musd = pyo.Expression(m.NODE_PROVIDER_MONTHS, rule=provider_spend)
    add_cost_term(m, "leases", "lease_payment_musd", stage="node")
    add_cost_term(m, "upfront", "lease_upfront_musd", stage="node")
    add_cost_term(m, "commitments", "commitment_payment_musd", stage="common")


def define_payments_per_lease(m: pyo.ConcreteModel, d: ModelData, *, lease_blocks: pyo.Var,
                              offer_price_usd_per_gpu_hour: pyo.Param) -> None:
    r"""What each lease decision (node, offer, start month) pays, in MUSD: the monthly payment over its
    term and the upfront payment at signing. The result's lease tables read these, so the report shows
    the money the model counts; summed over the decisions paying in a month they are
    ``lease_payment_musd``, ``lease_upfront_musd`` and the lease part of ``lease_provider_spend_musd``.

    .. math:: \mathit{lease\_monthly\_payment\_musd}_{n,o,k} = b_o \cdot 1000 \cdot p_o \cdot H / 10^6
              \cdot \mathit{lease\_blocks}_{n,o,k} \qquad
              \mathit{lease\_signing\_payment\_musd}_{n,o,k} = U_o\,\mathit{lease\_blocks}_{n,o,k}
    """
    gpu_hours_per_block = {o: d.offer_block_kgpu[o] * 1000.0 * d.hours_per_month / 1e6 for o in d.offers}
    m.lease_monthly_payment_musd = pyo.Expression(
        m.LEASE_DECISIONS,
        rule=lambda m, n, o, k: gpu_hours_per_block[o] * offer_price_usd_per_gpu_hour[o] * lease_blocks[n, o, k],
    )
    m.lease_signing_payment_musd = pyo.Expression(
        m.LEASE_DECISIONS, rule=lambda m, n, o, k: d.offer_upfront_musd_per_block[o] * lease_blocks[n, o, k]
    )


def lease_fixings(m: pyo.ConcreteModel, blocks: Mapping[tuple[Any, ...], float]) -> list[tuple[pyo.Var, float]]:
    """Every lease column of ``m`` with the value a given plan holds it at.

    ``blocks`` maps (offer, start month index) to the blocks every scenario's world signs (the same plan
    in every world: each node's decision for that start), or (node, offer, start month index) to one
    node's decision. Decisions not named are 0; ``offer_used[n, o]`` is 1 where the blocks its
    scenarios sign of offer o add up to more than 0. A :class:`~planner.model.efficiency.FirstStagePlan`
    also fixes the first-stage program starts it names (the others to 0).
    """
    d: ModelData = m.data
    by_node = bool(blocks) and len(next(iter(blocks))) == 3
    if any(len(key) != (3 if by_node else 2) for key in blocks):
        raise ValueError("lease plan keys must all be (offer, start) or all be (node, offer, start)")
    values = {(n, o, k): float(round(blocks.get((n, o, k) if by_node else (o, k), 0.0)))
              for n, o, k in d.lease_decisions}
    fixings = [(var, values[key]) for key, var in m.lease_blocks.items()]
    starts: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for o, k in d.lease_starts:
        starts[o].append((o, k))
    for (n, o), var in m.offer_used.items():
        total = sum(values[key] for key in signed_on_path(d, n, starts[o]))
        fixings.append((var, 1.0 if total > 0 else 0.0))
    programs = getattr(blocks, "programs", None)  # a FirstStagePlan fixes its program starts too
    if programs is not None:
        fixings += program_fixings(m, programs)
    return fixings
