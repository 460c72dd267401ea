"""Lease signings (first stage): blocks per offer and start month, terms, offer limits, payments."""

from __future__ import annotations

from collections import defaultdict

import pyomo.environ as pyo

from planner.model.costs import add_cost_term
from planner.model.data import ModelData


def define_lease_variables(m: pyo.ConcreteModel, d: ModelData) -> None:
    r"""Integer blocks signed per offer and start month, only inside the start window.

    .. math:: \mathit{lease\_blocks}_{o,k} \in \mathbb{Z}_{\ge 0},\quad
              k \in [\mathit{earliest}_o, \mathit{latest}_o] \cap \mathcal{T}

    The price per GPU-hour is a mutable parameter ``offer_price_usd_per_gpu_hour[o]``.
    """
    m.LEASE_STARTS = pyo.Set(initialize=d.lease_starts, dimen=2, ordered=True)
    m.OFFERS = pyo.Set(initialize=d.offers, ordered=True)
    m.lease_blocks = pyo.Var(
        m.LEASE_STARTS, within=pyo.NonNegativeIntegers, bounds=lambda _, o, k: (0, d.offer_max_blocks[o])
    )
    m.offer_price_usd_per_gpu_hour = pyo.Param(
        m.OFFERS, initialize=d.offer_price_usd_per_gpu_hour, mutable=True, within=pyo.Reals
    )


def define_lease_terms(m: pyo.ConcreteModel, d: ModelData, *, lease_blocks: pyo.Var) -> None:
    r"""Installed GPUs per (GPU type, site, month): existing commitments plus every block whose
    term covers the month (take-or-pay: a block signed in month k is active k .. k+term-1).

    .. math:: \mathit{installed\_kgpu}_{g,l,t} = \bar{C}_{g,l,t} +
              \sum_{o \in O(g,l)} \sum_{k:\ k \le t \le k+\tau_o-1} b_o\,\mathit{lease\_blocks}_{o,k}
    """
    covering: dict[tuple[str, str, int], list[tuple[str, int]]] = defaultdict(list)
    for (o, k), months in d.lease_active_months.items():
        for t in months:
            covering[d.offer_gpu_type[o], d.offer_site[o], t].append((o, k))
    m.POOLS = pyo.Set(initialize=d.pools, dimen=3, ordered=True)

    def installed(m: pyo.ConcreteModel, g: str, site: str, t: int) -> pyo.Expression:
        return d.committed_kgpu.get((g, site, t), 0.0) + sum(
            d.offer_block_kgpu[o] * lease_blocks[o, k] for o, k in covering[g, site, t]
        )

    m.installed_kgpu = pyo.Expression(m.POOLS, rule=installed)


def define_offer_limits(m: pyo.ConcreteModel, d: ModelData, *, lease_blocks: pyo.Var) -> None:
    r"""At most ``max_blocks`` per offer in total, and at least ``min_blocks`` if the offer is used
    at all (semi-continuous, with a binary ``offer_used`` only where ``min_blocks > 1``).

    .. math:: \sum_k \mathit{lease\_blocks}_{o,k} \le \overline{N}_o\,u_o,\qquad
              \sum_k \mathit{lease\_blocks}_{o,k} \ge \underline{N}_o\,u_o,\qquad u_o \in \{0,1\}
    """
    starts: dict[str, list[int]] = defaultdict(list)
    for o, k in d.lease_starts:
        starts[o].append(k)
    semi = [o for o in d.offers if d.offer_min_blocks[o] > 1 and starts[o]]
    m.SEMI_OFFERS = pyo.Set(initialize=semi, ordered=True)
    m.offer_used = pyo.Var(m.SEMI_OFFERS, within=pyo.Binary)

    def total(m: pyo.ConcreteModel, o: str) -> pyo.Expression:
        return sum(lease_blocks[o, k] for k in starts[o])

    def max_rule(m: pyo.ConcreteModel, o: str) -> pyo.Constraint:
        if not starts[o]:
            return pyo.Constraint.Skip
        if o in semi:
            return total(m, o) <= d.offer_max_blocks[o] * m.offer_used[o]
        return total(m, o) <= d.offer_max_blocks[o]

    def min_rule(m: pyo.ConcreteModel, o: str) -> pyo.Constraint:
        return total(m, o) >= d.offer_min_blocks[o] * m.offer_used[o]

    m.offer_max_blocks = pyo.Constraint(m.OFFERS, rule=max_rule)
    m.offer_min_blocks = pyo.Constraint(m.SEMI_OFFERS, rule=min_rule)


def define_lease_costs(m: pyo.ConcreteModel, d: ModelData, *, lease_blocks: pyo.Var,
                       offer_price_usd_per_gpu_hour: pyo.Param) -> None:
    r"""Lease and commitment payments by calendar month (first stage, the same in every scenario), in MUSD.

    .. math:: \mathit{lease\_payment\_musd}_t = \sum_{(o,k):\ k \le t \le k+\tau_o-1}
              b_o \cdot 1000 \cdot p_o \cdot H / 10^6 \cdot \mathit{lease\_blocks}_{o,k}
              \qquad \mathit{lease\_upfront\_musd}_t = \sum_{o} U_o\,\mathit{lease\_blocks}_{o,t}

    .. math:: \mathit{commitment\_payment\_musd}_t = \sum_p \bar{K}_{t,p} \qquad
              \mathit{lease\_provider\_spend\_musd}_{t,p} = \bar{K}_{t,p} +
              \sum_{o \in O_p} \Big(U_o\,\mathit{lease\_blocks}_{o,t} + \sum_{k:\ k \le t \le k+\tau_o-1}
              b_o \cdot 1000 \cdot p_o \cdot H / 10^6 \cdot \mathit{lease\_blocks}_{o,k}\Big),\ t \in \mathcal{T}

    with :math:`\bar{K}_{t,p}` the payment of provider :math:`p`'s existing commitments in month
    :math:`t` and :math:`O_p` its offers.

    Payments past the horizon are kept for new leases and commitments alike (take-or-pay); whether
    they enter the objective is the ``count_payments_beyond_horizon`` setting. Commitment payments
    before the first month are sunk and not in the model. ``lease_provider_spend_musd`` is the
    lease-side money paid to a provider in a horizon month: what its credits may pay and what its
    share cap counts.
    """
    paying: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for (o, k), months in d.lease_payment_months.items():
        for t in months:
            paying[t].append((o, k))
    last = max([d.months[-1], *paying, *(t for t, _ in d.committed_cost_musd)])
    m.PAYMENT_MONTHS = pyo.Set(initialize=range(last + 1), ordered=True)
    gpu_hours_per_block = {o: d.offer_block_kgpu[o] * 1000.0 * d.hours_per_month / 1e6 for o in d.offers}

    def payment(m: pyo.ConcreteModel, t: int) -> pyo.Expression:
        return sum(
            gpu_hours_per_block[o] * offer_price_usd_per_gpu_hour[o] * lease_blocks[o, k]
            for o, k in paying[t]
        )

    signing: dict[int, list[str]] = defaultdict(list)
    for o, k in d.lease_starts:
        if d.offer_upfront_musd_per_block[o]:
            signing[k].append(o)

    def upfront(m: pyo.ConcreteModel, t: int) -> pyo.Expression:
        return sum(d.offer_upfront_musd_per_block[o] * lease_blocks[o, t] for o in signing[t])

    m.lease_payment_musd = pyo.Expression(m.PAYMENT_MONTHS, rule=payment)
    m.lease_upfront_musd = pyo.Expression(m.PAYMENT_MONTHS, rule=upfront)
    m.commitment_payment_musd = pyo.Expression(
        m.PAYMENT_MONTHS, rule=lambda m, t: sum(d.committed_cost_musd.get((t, p), 0.0) for p in d.providers)
    )

    def provider_spend(m: pyo.ConcreteModel, t: int, p: str) -> pyo.Expression:
        return sum(
            gpu_hours_per_block[o] * offer_price_usd_per_gpu_hour[o] * lease_blocks[o, k]
            for o, k in paying[t] if d.offer_provider[o] == p
        ) + sum(d.offer_upfront_musd_per_block[o] * lease_blocks[o, t]
                for o in signing[t] if d.offer_provider[o] == p) + d.committed_cost_musd.get((t, p), 0.0)

    m.lease_provider_spend_musd = pyo.Expression(d.months, m.PROVIDERS, rule=provider_spend)
    add_cost_term(m, "leases", "lease_payment_musd", first_stage=True)
    add_cost_term(m, "upfront", "lease_upfront_musd", first_stage=True)
    add_cost_term(m, "commitments", "commitment_payment_musd", first_stage=True)
    define_payments_per_lease(m, d)


def define_payments_per_lease(m: pyo.ConcreteModel, d: ModelData) -> None:
    r"""What each lease (offer, start month) pays, in MUSD: the monthly payment over its term and the
    upfront payment at signing. The result's lease tables read these, so the report shows the money
    the model counts; summed over the leases paying in a month they are ``lease_payment_musd`` and
    ``lease_upfront_musd``.

    .. math:: \mathit{lease\_monthly\_payment\_musd}_{o,k} = b_o \cdot 1000 \cdot p_o \cdot H / 10^6
              \cdot \mathit{lease\_blocks}_{o,k} \qquad
              \mathit{lease\_signing\_payment\_musd}_{o,k} = U_o\,\mathit{lease\_blocks}_{o,k}
    """
    gpu_hours_per_block = {o: d.offer_block_kgpu[o] * 1000.0 * d.hours_per_month / 1e6 for o in d.offers}
    m.lease_monthly_payment_musd = pyo.Expression(
        m.LEASE_STARTS,
        rule=lambda m, o, k: gpu_hours_per_block[o] * m.offer_price_usd_per_gpu_hour[o] * m.lease_blocks[o, k],
    )
    m.lease_signing_payment_musd = pyo.Expression(
        m.LEASE_STARTS, rule=lambda m, o, k: d.offer_upfront_musd_per_block[o] * m.lease_blocks[o, k]
    )
