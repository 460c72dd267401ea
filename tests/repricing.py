"""A plan's cost priced again from the input and the result tables, independently of the model.

Quantities (blocks signed, GPUs rented, credits applied, policies in force) come from the result
tables; every price, term, window and discount factor comes from the ``Problem``. A model whose
objective disagrees with these sums charges something the formulation does not (or misses
something it does).
"""

from __future__ import annotations

from collections import defaultdict

SIGNED_CATEGORIES = ("leases", "upfront", "commitments")


def signed_payments_usd(result, scenario: str) -> dict[tuple[str, str], float]:
    """(month, category) -> USD of leases, upfront and commitments in ``scenario``'s world: every
    payment of the term of each lease its world signs, upfront in its signing month (start less lead
    time), a commitment's payments from the first month (earlier ones are sunk) to its end month, past
    the horizon too."""
    problem, hours = result.problem, result.problem.settings.hours_per_month
    offers = {o.offer_id: o for o in problem.lease_offers}
    payments: dict[tuple[str, str], float] = defaultdict(float)
    for (offer_id, k), blocks in result.lease_plan(scenario).items():
        o = offers[offer_id]
        for t in range(k, k + o.term_months):
            payments[result.month_label(t), "leases"] += blocks * o.gpus_per_block * o.price_usd_per_gpu_hour * hours
        if o.upfront_usd_per_block:
            payments[result.month_label(k - o.lead_time_months), "upfront"] += blocks * o.upfront_usd_per_block
    for c in problem.commitments:
        for t in range(max(0, problem.month_index(c.start_month)), problem.month_index(c.end_month) + 1):
            payments[result.month_label(t), "commitments"] += c.gpus * c.price_usd_per_gpu_hour * hours
    return dict(payments)


def lease_side_spend_usd(result, scenario: str) -> dict[tuple[str, str], float]:
    """(month, provider) -> lease-side money paid in the horizon in ``scenario``'s world: new lease
    payments, upfront and existing commitments' payments, before credits (what a leases credit may pay)."""
    problem, hours = result.problem, result.problem.settings.hours_per_month
    months = set(problem.month_labels)
    offers = {o.offer_id: o for o in problem.lease_offers}
    spend: dict[tuple[str, str], float] = defaultdict(float)
    for (offer_id, k), blocks in result.lease_plan(scenario).items():
        o = offers[offer_id]
        for t in range(k, k + o.term_months):
            spend[result.month_label(t), o.provider] += blocks * o.gpus_per_block * o.price_usd_per_gpu_hour * hours
        spend[result.month_label(k - o.lead_time_months), o.provider] += blocks * o.upfront_usd_per_block
    for c in problem.commitments:
        for t in range(max(0, problem.month_index(c.start_month)), problem.month_index(c.end_month) + 1):
            spend[result.month_label(t), c.provider] += c.gpus * c.price_usd_per_gpu_hour * hours
    return {key: usd for key, usd in spend.items() if key[0] in months}


def repriced_scenario_costs_usd(result) -> dict[str, float]:
    """Scenario -> NPV of the plan priced from the input: the lease and commitment payments of the
    scenario's world in the months that count, on-demand GPUs x price x hours, less credits applied,
    throttled tokens (demand x the share the policy in force turns away) and unserved tokens at their
    value, goodwill of the policy, the efficiency programs each world funds."""
    problem = result.problem
    settings = problem.settings
    hours = settings.hours_per_month

    def discount(label: str) -> float:
        return problem.discount_factor(problem.month_index(label))

    costs = dict.fromkeys(result.data.scenarios, 0.0)
    for s in costs:
        for (label, _category), usd in signed_payments_usd(result, s).items():
            t = problem.month_index(label)
            if t < settings.months or settings.count_payments_beyond_horizon:
                costs[s] += usd * discount(label)
    od_price = {c.option_id: c.price_usd_per_gpu_hour for c in problem.on_demand}
    workloads = {w.name: w for w in problem.workloads}
    goodwill = {p.name: p.goodwill_cost_usd_per_month for p in problem.effective_policies()}
    policy_in_force = {(r.scenario, r.month): r.policy for r in result.policies().itertuples()}
    for r in result.on_demand().itertuples():
        costs[r.scenario] += r.gpus * od_price[r.option_id] * hours * discount(r.month)
    for r in result.credits().itertuples():
        costs[r.scenario] -= r.applied_usd * discount(r.month)
    for (s, label), policy in policy_in_force.items():
        costs[s] += goodwill[policy] * discount(label)
    programs = {p.program_id: p for p in problem.efficiency_programs}
    for r in result.programs_by_scenario().itertuples():  # funded programs: one-off, then every month to the end
        if r.funded:
            program, start = programs[r.program_id], problem.month_index(r.start_month)
            costs[r.scenario] += program.one_off_cost_usd * problem.discount_factor(start) + sum(
                program.cost_usd_per_month * problem.discount_factor(t) for t in range(start, settings.months))
    for s in result.data.scenarios:
        for w in problem.workloads:
            for t, tokens in enumerate(problem.demand_tokens(s, w.name)):
                admitted, _ = problem.policy_effect(policy_in_force[s, result.month_label(t)], w.name)
                costs[s] += tokens * (1 - admitted) * w.revenue_usd_per_million_tokens / 1e6 * discount(
                    result.month_label(t))
    for r in result.tokens().itertuples():
        w = workloads[r.workload]
        penalty = w.unserved_penalty_usd_per_million_tokens
        penalty = w.revenue_usd_per_million_tokens if penalty is None else penalty
        costs[r.scenario] += r.unserved_tokens * penalty / 1e6 * discount(r.month)
    return costs


def repriced_expected_cost_usd(result) -> float:
    """Probability-weighted :func:`repriced_scenario_costs_usd`."""
    probability = result.scenario_costs().set_index("scenario")["probability"]
    return sum(probability[s] * cost for s, cost in repriced_scenario_costs_usd(result).items())
