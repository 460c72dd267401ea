"""Model data: the validated ``Problem`` turned into sparse index sets and scaled numbers.

Everything the Pyomo model needs is computed here, in plain Python, before Pyomo sees it, so the
model functions only declare rows that exist (a lease block only over its term, an allocation only
where a GPU type may serve a workload at a site that can hold it).

Internal units keep the constraint matrix well conditioned (coefficients near 1e-3..1e3 instead of
raw token counts near 1e15):

* GPUs in thousands (kGPU), tokens in trillions (Ttok), money in millions of USD (MUSD), power in MW.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from planner.model.tree import ScenarioTree
from planner.programs import improved_pairs, largest_peak_tokens, program_columns, program_starts, throughput_factor
from planner.schema import Problem

GPUS_PER_UNIT = 1_000.0
"""One model GPU unit is a thousand GPUs."""
TOKENS_PER_UNIT = 1e12
"""One model token unit is a trillion tokens."""
USD_PER_UNIT = 1e6
"""One model money unit is a million USD."""
SECONDS_PER_HOUR = 3600.0


@dataclass
class ModelData:
    """Sets and parameter values of the model, in internal units (see module docstring)."""

    months: list[int]
    month_labels: list[str]
    scenarios: list[str]
    probability: dict[str, float]
    workloads: list[str]
    gpu_types: list[str]
    sites: list[str]
    providers: list[str]
    offers: list[str]
    on_demand: list[str]
    credits: list[str]
    policies: list[str]

    discount_rate_per_year: float
    hours_per_month: float
    count_payments_beyond_horizon: bool

    # Information structure: the scenario groups of every month (nodes of the scenario tree).
    tree: ScenarioTree

    # Leases: (offer, start month) pairs inside the start window that can be signed in the horizon;
    # the month each is signed in; one decision per (node, offer, start): the node is the scenario group
    # of the signing month (non-anticipativity); months each start is active and paying in.
    lease_starts: list[tuple[str, int]]
    lease_signing_month: dict[tuple[str, int], int]
    lease_decisions: list[tuple[str, str, int]]
    lease_active_months: dict[tuple[str, int], list[int]]
    lease_payment_months: dict[tuple[str, int], list[int]]
    offer_gpu_type: dict[str, str]
    offer_site: dict[str, str]
    offer_provider: dict[str, str]
    offer_block_kgpu: dict[str, float]
    offer_price_usd_per_gpu_hour: dict[str, float]
    offer_term_months: dict[str, int]
    offer_upfront_musd_per_block: dict[str, float]
    offer_min_blocks: dict[str, int]
    offer_max_blocks: dict[str, int]

    # Capacity pools: (gpu type, site, month) that can hold GPUs; existing commitments in kGPU.
    pools: list[tuple[str, str, int]]
    committed_kgpu: dict[tuple[str, str, int], float]
    committed_cost_musd: dict[tuple[int, str], float]
    """(payment month, provider) -> existing commitments' payment: from the first month (earlier
    payments are sunk) to each commitment's end, past the horizon too (take-or-pay, like a new lease)."""
    availability: dict[str, float]

    # Serving: (workload, gpu type, site) allocations and (workload, on-demand option) allocations.
    serve_keys: list[tuple[str, str, str]]
    on_demand_serve_keys: list[tuple[str, str]]
    throughput_ttok_per_kgpu_month: dict[tuple[str, str], float]

    od_gpu_type: dict[str, str]
    od_provider: dict[str, str]
    od_price_usd_per_gpu_hour: dict[str, float]
    od_max_kgpu: dict[str, float]

    # Demand and policies.
    demand_ttok: dict[tuple[str, int, str], float]
    peak_to_average: dict[str, float]
    revenue_musd_per_ttok: dict[str, float]
    unserved_penalty_musd_per_ttok: dict[str, float]
    unserved_allowed: dict[str, bool]
    admitted_fraction: dict[tuple[str, str], float]
    peak_multiplier: dict[tuple[str, str], float]
    goodwill_musd_per_month: dict[str, float]

    # Power.
    power_cap_mw: dict[tuple[str, int], float]
    mw_per_kgpu: dict[tuple[str, str], float]

    # Credits: months each credit can pay in, and what it pays for.
    credit_provider: dict[str, str]
    credit_amount_musd: dict[str, float]
    credit_months: dict[str, list[int]]
    credit_applies_to: dict[str, str]

    # Budget and risk.
    max_total_commitment_musd: float | None
    max_provider_share: float | None
    cvar_weight: float
    cvar_alpha: float

    # Efficiency programs: start decisions per (owner, program, start month), the owner being the node
    # in force in the start month (first stage) or the scenario (per scenario); the (GPU type, workload)
    # pairs each improves, the throughput it adds per kGPU-month, the improved-GPU columns
    # (program, scenario, month, workload, GPU type) with their big-M, and the largest peak (Ttok per
    # month) of each (scenario, month, workload) that has such columns.
    programs: list[str]
    program_first_stage: dict[str, bool]
    program_starts: list[tuple[str, int]]
    program_decisions: list[tuple[str, str, int]]
    program_delay_months: dict[str, int]
    program_one_off_musd: dict[str, float]
    program_monthly_musd: dict[str, float]
    program_pairs: list[tuple[str, str, str]]
    program_gain_ttok_per_kgpu_month: dict[tuple[str, str, str], float]
    program_serving: list[tuple[str, str, int, str, str]]
    program_bigm_kgpu: dict[tuple[str, str, int, str, str], float]
    program_rate_ttok_per_kgpu_month: dict[tuple[str, str, str], float]
    program_peak_ttok: dict[tuple[str, int, str], float]

    # What the plan optimises, and the optional cash budget (nominal MUSD in the horizon, per scenario).
    objective: str
    max_cash_spend_musd: float | None

    elastic: bool = False
    """Diagnosis mode: forbidden unserved demand and budget overruns become penalised slack."""

    def discount(self, month: int) -> float:
        """Present-value factor of a payment in month ``month`` (0 = first month): (1+r)^(-t/12)."""
        return (1.0 + self.discount_rate_per_year) ** (-month / 12.0)

    def pool_months(self) -> dict[tuple[str, str], list[int]]:
        """(GPU type, site) -> the months in which that pool can hold GPUs."""
        months: dict[tuple[str, str], list[int]] = defaultdict(list)
        for g, site, t in self.pools:
            months[g, site].append(t)
        return months

    # The optional parts of the model: families build them, and readers check them, through these flags.
    @property
    def has_budget(self) -> bool:
        """The ``budget`` row (with ``budget_overrun_musd`` when diagnosing) is built."""
        return self.max_total_commitment_musd is not None

    @property
    def has_provider_share(self) -> bool:
        """The ``provider_share`` rows are built (a share cap, and more than one provider to share)."""
        return self.max_provider_share is not None and len(self.providers) > 1

    @property
    def has_cvar(self) -> bool:
        """The CVaR variables, ``cvar_excess_def`` rows and ``cvar_musd`` are built."""
        return self.cvar_weight > 0

    @property
    def has_programs(self) -> bool:
        """The efficiency-program columns, rows and cost (``program_start``, ...) are built."""
        return bool(self.program_starts)

    @property
    def has_cash_budget(self) -> bool:
        """The ``cash_budget`` rows (with ``cash_overrun_musd`` when diagnosing) are built."""
        return self.max_cash_spend_musd is not None

    @property
    def maximises_value(self) -> bool:
        """Budget mode: the objective is the value of tokens served less cash cost (``scenario_value_musd``)."""
        return self.objective == "max_value_within_budget"

    def program_owner(self, scenario: str, program: str, start: int) -> str:
        """Who decides the start of ``program`` in month ``start`` for ``scenario``: the node in force then
        (first stage, shared by the scenarios not yet told apart) or the scenario itself (per scenario)."""
        return self.tree.node_of(scenario, start) if self.program_first_stage[program] else scenario

    def structure_key(self) -> tuple[object, ...]:
        """Everything that shapes the model's index sets; equal keys mean parameters alone changed."""
        return (
            tuple(self.months),
            tuple(self.scenarios),
            tuple(self.workloads),
            tuple(self.lease_starts),
            self.tree,
            tuple(self.lease_decisions),
            tuple(self.pools),
            tuple(self.serve_keys),
            tuple(self.on_demand_serve_keys),
            tuple(self.policies),
            tuple(self.credits),
            tuple(sorted(self.credit_months.items())),
            tuple(sorted(self.unserved_allowed.items())),
            tuple(sorted(self.credit_applies_to.items())),
            self.max_total_commitment_musd is None,
            self.max_provider_share is None,
            self.cvar_weight > 0,
            tuple(sorted(self.offer_min_blocks.items())),
            tuple(self.program_decisions),
            tuple(self.program_serving),
            self.objective,
            self.max_cash_spend_musd is None,
        )


def prepare(problem: Problem, scenarios: list[str] | None = None) -> ModelData:
    """Build :class:`ModelData` from a validated problem, optionally for a subset of scenarios
    (probabilities renormalised), as the uncertainty analysis needs."""
    s = problem.settings
    months = list(range(s.months))
    hours = s.hours_per_month

    chosen = [sc for sc in problem.scenarios if scenarios is None or sc.name in scenarios]
    total_probability = sum(sc.probability for sc in chosen)
    probability = {sc.name: sc.probability / total_probability for sc in chosen}

    reveal = None if s.reveal_month is None else problem.month_index(s.reveal_month)
    tree = ScenarioTree.from_reveal_month(list(probability), probability, s.months, reveal)

    # Leases: start months inside the window and the horizon whose signing month (start - lead time)
    # is in the horizon too (one signed earlier would be a commitment); active and paying months.
    lease_starts: list[tuple[str, int]] = []
    signing: dict[tuple[str, int], int] = {}
    active: dict[tuple[str, int], list[int]] = {}
    paying: dict[tuple[str, int], list[int]] = {}
    for o in problem.lease_offers:
        first = max(0, o.lead_time_months, problem.month_index(o.earliest_start_month))
        last = min(s.months - 1, problem.month_index(o.latest_start_month))
        for k in range(first, last + 1):
            lease_starts.append((o.offer_id, k))
            signing[o.offer_id, k] = k - o.lead_time_months
            active[o.offer_id, k] = [m for m in range(k, k + o.term_months) if m < s.months]
            paying[o.offer_id, k] = list(range(k, k + o.term_months))
    decisions = [(n, o, k) for o, k in lease_starts for n in tree.groups(signing[o, k])]

    committed: dict[tuple[str, str, int], float] = {}
    committed_cost: dict[tuple[int, str], float] = {}
    for c in problem.commitments:
        # Capacity counts inside the horizon; payments run to the end of the term (take-or-pay).
        for t in range(max(0, problem.month_index(c.start_month)), problem.month_index(c.end_month) + 1):
            if t < s.months:
                key = (c.gpu_type, c.site, t)
                committed[key] = committed.get(key, 0.0) + c.gpus / GPUS_PER_UNIT
            payment = c.gpus * c.price_usd_per_gpu_hour * hours / USD_PER_UNIT
            committed_cost[t, c.provider] = committed_cost.get((t, c.provider), 0.0) + payment

    offer = {o.offer_id: o for o in problem.lease_offers}
    pool_set = set(committed)
    for (o_id, _k), ms in active.items():
        pool_set.update((offer[o_id].gpu_type, offer[o_id].site, m) for m in ms)
    pools = sorted(pool_set, key=lambda p: (p[2], p[0], p[1]))
    pool_pairs = sorted({(g, site) for g, site, _ in pools})

    token_seconds = hours * SECONDS_PER_HOUR * GPUS_PER_UNIT / TOKENS_PER_UNIT
    throughput: dict[tuple[str, str], float] = {}
    serve_keys: list[tuple[str, str, str]] = []
    allowed: dict[str, set[str]] = {}
    for w in problem.workloads:
        allowed[w.name] = set()
        for g in problem.allowed_gpu_types(w):
            tps = problem.tokens_per_second_per_gpu(g, w.name)
            if tps:
                allowed[w.name].add(g)
                throughput[g, w.name] = tps * token_seconds
        serve_keys += [(w.name, g, site) for g, site in pool_pairs if g in allowed[w.name]]
    od_serve_keys = [(w.name, d.option_id) for w in problem.workloads for d in problem.on_demand
                     if d.gpu_type in allowed[w.name] and d.max_gpus > 0]

    demand = {
        (sc, t, w.name): value / TOKENS_PER_UNIT
        for sc in probability
        for w in problem.workloads
        for t, value in enumerate(problem.demand_tokens(sc, w.name))
    }
    policies = problem.effective_policies()
    effects = {(p.name, w.name): problem.policy_effect(p.name, w.name)
               for p in policies for w in problem.workloads}

    gpu = {g.name: g for g in problem.gpu_types}
    site = {x.name: x for x in problem.sites}
    horizon_first, horizon_last = 0, s.months - 1
    credit_months = {
        c.credit_id: list(range(max(horizon_first, problem.month_index(c.valid_from_month)),
                                min(horizon_last, problem.month_index(c.expiry_month)) + 1))
        for c in problem.credits
    }

    programs = _program_data(problem, tree, list(probability), throughput)

    return ModelData(
        months=months,
        month_labels=problem.month_labels,
        scenarios=list(probability),
        probability=probability,
        workloads=[w.name for w in problem.workloads],
        gpu_types=[g.name for g in problem.gpu_types],
        sites=[x.name for x in problem.sites],
        providers=problem.providers,
        offers=[o.offer_id for o in problem.lease_offers],
        on_demand=[d.option_id for d in problem.on_demand],
        credits=[c.credit_id for c in problem.credits],
        policies=[p.name for p in policies],
        discount_rate_per_year=s.discount_rate_per_year,
        hours_per_month=hours,
        count_payments_beyond_horizon=s.count_payments_beyond_horizon,
        tree=tree,
        lease_starts=lease_starts,
        lease_signing_month=signing,
        lease_decisions=decisions,
        lease_active_months=active,
        lease_payment_months=paying,
        offer_gpu_type={o.offer_id: o.gpu_type for o in problem.lease_offers},
        offer_site={o.offer_id: o.site for o in problem.lease_offers},
        offer_provider={o.offer_id: o.provider for o in problem.lease_offers},
        offer_block_kgpu={o.offer_id: o.gpus_per_block / GPUS_PER_UNIT for o in problem.lease_offers},
        offer_price_usd_per_gpu_hour={o.offer_id: o.price_usd_per_gpu_hour for o in problem.lease_offers},
        offer_term_months={o.offer_id: o.term_months for o in problem.lease_offers},
        offer_upfront_musd_per_block={o.offer_id: o.upfront_usd_per_block / USD_PER_UNIT
                                      for o in problem.lease_offers},
        offer_min_blocks={o.offer_id: o.min_blocks for o in problem.lease_offers},
        offer_max_blocks={o.offer_id: o.max_blocks for o in problem.lease_offers},
        pools=pools,
        committed_kgpu=committed,
        committed_cost_musd=committed_cost,
        availability={g.name: g.availability_factor for g in problem.gpu_types},
        serve_keys=serve_keys,
        on_demand_serve_keys=od_serve_keys,
        throughput_ttok_per_kgpu_month=throughput,
        od_gpu_type={d.option_id: d.gpu_type for d in problem.on_demand},
        od_provider={d.option_id: d.provider for d in problem.on_demand},
        od_price_usd_per_gpu_hour={d.option_id: d.price_usd_per_gpu_hour for d in problem.on_demand},
        od_max_kgpu={d.option_id: d.max_gpus / GPUS_PER_UNIT for d in problem.on_demand},
        demand_ttok=demand,
        peak_to_average={w.name: w.peak_to_average_ratio for w in problem.workloads},
        revenue_musd_per_ttok={w.name: w.revenue_usd_per_million_tokens * 1e6 / USD_PER_UNIT
                               for w in problem.workloads},
        unserved_penalty_musd_per_ttok={
            w.name: (w.unserved_penalty_usd_per_million_tokens
                     if w.unserved_penalty_usd_per_million_tokens is not None
                     else w.revenue_usd_per_million_tokens) * 1e6 / USD_PER_UNIT
            for w in problem.workloads
        },
        unserved_allowed={w.name: w.unserved_allowed for w in problem.workloads},
        admitted_fraction={key: value[0] for key, value in effects.items()},
        peak_multiplier={key: value[1] for key, value in effects.items()},
        goodwill_musd_per_month={p.name: p.goodwill_cost_usd_per_month / USD_PER_UNIT for p in policies},
        power_cap_mw={(x.name, t): cap for x in problem.sites
                      for t, cap in enumerate(problem.power_cap_mw(x.name))},
        mw_per_kgpu={(g, x): gpu[g].power_kw_per_gpu * site[x].pue * GPUS_PER_UNIT / 1000.0
                     for g, x in pool_pairs},
        credit_provider={c.credit_id: c.provider for c in problem.credits},
        credit_amount_musd={c.credit_id: c.amount_usd / USD_PER_UNIT for c in problem.credits},
        credit_months=credit_months,
        credit_applies_to={c.credit_id: c.applies_to for c in problem.credits},
        max_total_commitment_musd=(None if s.max_total_commitment_usd is None
                                   else s.max_total_commitment_usd / USD_PER_UNIT),
        max_provider_share=s.max_provider_share,
        cvar_weight=s.cvar_weight,
        cvar_alpha=s.cvar_alpha,
        objective=s.objective,
        max_cash_spend_musd=None if s.max_cash_spend_usd is None else s.max_cash_spend_usd / USD_PER_UNIT,
        **programs,
    )


def _program_data(problem: Problem, tree: ScenarioTree, scenarios: list[str],
                  throughput: dict[tuple[str, str], float]) -> dict[str, Any]:
    """The efficiency-program fields of :class:`ModelData` (see ``models/procurement.md``, Efficiency
    programs): start windows and decisions, improved pairs and their gain, and the improved-GPU columns
    with the tightest big-M the data gives each (:func:`planner.programs.program_columns`)."""
    programs = list(problem.efficiency_programs)
    starts: list[tuple[str, int]] = []
    decisions: list[tuple[str, str, int]] = []
    for p in programs:
        for k in program_starts(problem, p):
            starts.append((p.program_id, k))
            owners = tree.groups(k) if p.decided == "first_stage" else scenarios
            decisions += [(owner, p.program_id, k) for owner in owners]
    pairs = [(p.program_id, g, w) for p in programs for g, w in improved_pairs(problem, p)]
    rows = {p.program_id: p for p in programs}
    chosen = set(scenarios)
    columns = {key: gpus / GPUS_PER_UNIT for key, gpus in program_columns(problem).items() if key[1] in chosen}
    peaks = largest_peak_tokens(problem)
    return {
        "programs": [p.program_id for p in programs],
        "program_first_stage": {p.program_id: p.decided == "first_stage" for p in programs},
        "program_starts": starts,
        "program_decisions": decisions,
        "program_delay_months": {p.program_id: p.effect_delay_months for p in programs},
        "program_one_off_musd": {p.program_id: p.one_off_cost_usd / USD_PER_UNIT for p in programs},
        "program_monthly_musd": {p.program_id: p.cost_usd_per_month / USD_PER_UNIT for p in programs},
        "program_pairs": pairs,
        "program_gain_ttok_per_kgpu_month": {
            (p, g, w): throughput[g, w] * (throughput_factor(problem, rows[p], g, w) - 1.0) for p, g, w in pairs},
        "program_rate_ttok_per_kgpu_month": {
            (p, g, w): throughput[g, w] * throughput_factor(problem, rows[p], g, w) for p, g, w in pairs},
        "program_serving": list(columns),
        "program_bigm_kgpu": columns,
        "program_peak_ttok": {(s, t, w): peaks[s, w][t] / TOKENS_PER_UNIT for _, s, t, w, _ in columns},
    }
