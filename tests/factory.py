"""Builders of tiny, hand-checkable planning problems (and one realistic-scale instance).

The tiny problems use numbers that make hand arithmetic exact:

* one GPU type ``H100`` serving one workload at 1,000 tokens/s, so one GPU serves
  ``1000 * 730 * 3600 = 2.628e9`` tokens a month (:data:`TOKENS_PER_GPU_MONTH`) and demand is given
  in "GPUs worth" of tokens;
* ``peak_to_average_ratio`` 1, availability 1, ``discount_rate_per_year`` 0, 730 hours a month, so a
  GPU-month costs ``730 * price``: $1,460 leased at $2/GPU-hour and $3,650 on demand at $5;
* one site ``dc`` with a cap far above any need (1,000 MW), PUE 1, 1 kW per GPU;
* the exact MIP gap (0), so the solver proves the hand optimum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from planner.schema import (
    Commitment,
    Credit,
    DemandRow,
    EfficiencyProgram,
    GpuType,
    LeaseOffer,
    OnDemand,
    Policy,
    PolicyEffect,
    Problem,
    Scenario,
    Settings,
    Site,
    SitePower,
    Throughput,
    Workload,
    add_months,
)

FIRST_MONTH = "2025-01"
HOURS = 730.0
TOKENS_PER_SECOND = 1000.0
TOKENS_PER_GPU_MONTH = TOKENS_PER_SECOND * HOURS * 3600.0
"""Tokens one GPU serves in a month at full rate: 2.628e9."""
GPU = "H100"
WORKLOAD = "chat"
SITE = "dc"
LEASE_PRICE = 2.0
CLOUD_PRICE = 5.0
LEASE_GPU_MONTH = LEASE_PRICE * HOURS
"""$1,460: one leased GPU for one month at the default lease price."""
CLOUD_GPU_MONTH = CLOUD_PRICE * HOURS
"""$3,650: one on-demand GPU for one month at the default cloud price."""


def month(t: int) -> str:
    """The ``YYYY-MM`` label of month index ``t`` (0 = the first month)."""
    return add_months(FIRST_MONTH, t)


def gpus_worth(n: float) -> float:
    """Tokens per month that keep exactly ``n`` GPUs busy."""
    return n * TOKENS_PER_GPU_MONTH


def lease(offer_id: str = "L", *, price: float = LEASE_PRICE, term: int = 4, earliest: int = 0,
          latest: int | None = None, block: int = 1, max_blocks: int = 1000, min_blocks: int = 0,
          provider: str = "lessor", site: str = SITE, gpu_type: str = GPU, upfront: float = 0.0,
          lead_time: int = 0) -> LeaseOffer:
    """A lease offer; ``earliest``/``latest`` are month indices (``latest`` defaults to ``earliest``);
    a block starting in month k is signed in month k - ``lead_time``."""
    return LeaseOffer(
        offer_id=offer_id, provider=provider, site=site, gpu_type=gpu_type, gpus_per_block=block,
        price_usd_per_gpu_hour=price, term_months=term, earliest_start_month=month(earliest),
        latest_start_month=month(earliest if latest is None else latest), min_blocks=min_blocks,
        max_blocks=max_blocks, upfront_usd_per_block=upfront, lead_time_months=lead_time,
    )


def cloud(option_id: str = "cloud", *, price: float = CLOUD_PRICE, max_gpus: int = 100_000,
          provider: str = "cloud", gpu_type: str = GPU) -> OnDemand:
    """An on-demand option."""
    return OnDemand(option_id=option_id, provider=provider, gpu_type=gpu_type, price_usd_per_gpu_hour=price,
                    max_gpus=max_gpus)


def credit(credit_id: str = "C", *, amount: float, valid_from: int = 0, expiry: int, provider: str = "cloud",
           applies_to: str = "on_demand") -> Credit:
    """A credit valid from month index ``valid_from`` to ``expiry`` (inclusive)."""
    return Credit(credit_id=credit_id, provider=provider, amount_usd=amount, valid_from_month=month(valid_from),
                  expiry_month=month(expiry), applies_to=applies_to)


def commitment(commitment_id: str = "existing", *, gpus: int, start: int, end: int, price: float = 0.0,
               provider: str = "lessor", site: str = SITE, gpu_type: str = GPU) -> Commitment:
    """Capacity already signed, active from month index ``start`` to ``end`` (inclusive)."""
    return Commitment(commitment_id=commitment_id, provider=provider, site=site, gpu_type=gpu_type, gpus=gpus,
                      start_month=month(start), end_month=month(end), price_usd_per_gpu_hour=price)


def tiny(demand_gpus: Sequence[float] | Mapping[str, Sequence[float]], *,
         probabilities: Mapping[str, float] | None = None,
         offers: Sequence[LeaseOffer] = (),
         on_demand: Sequence[OnDemand] | None = None,
         credits: Sequence[Credit] = (),
         commitments: Sequence[Commitment] = (),
         policies: Sequence[Policy] = (),
         policy_effects: Sequence[PolicyEffect] = (),
         programs: Sequence[EfficiencyProgram] = (),
         revenue: float = 100.0,
         unserved_allowed: bool = True,
         power_cap_mw: float = 1000.0,
         pue: float = 1.0,
         power_kw_per_gpu: float = 1.0,
         availability: float = 1.0,
         tokens_per_second: float = TOKENS_PER_SECOND,
         **settings: Any) -> Problem:
    """A one-GPU-type, one-workload, one-site problem with demand in GPUs worth of tokens per month.

    ``demand_gpus`` is a list (one scenario ``base``) or ``{scenario: list}``; the horizon is the list's
    length. ``on_demand`` defaults to one option ``cloud`` at $5/GPU-hour with a cap of 100,000 GPUs;
    pass ``()`` for none. ``revenue`` ($ per million tokens) defaults to $100: a GPU-month of tokens is
    then worth $262,800, so unserved demand is never the cheap way out unless a test says so.
    ``tokens_per_second`` changes what a GPU serves (demand stays in GPUs worth at 1,000 tokens/s).
    Extra keyword arguments are Settings fields.
    """
    by_scenario = dict(demand_gpus) if isinstance(demand_gpus, Mapping) else {"base": list(demand_gpus)}
    months = len(next(iter(by_scenario.values())))
    probabilities = probabilities or {name: 1.0 / len(by_scenario) for name in by_scenario}
    settings = {"first_month": FIRST_MONTH, "months": months, "discount_rate_per_year": 0.0,
                "hours_per_month": HOURS, "mip_gap": 0.0, **settings}
    return Problem(
        settings=Settings(**settings),
        workloads=[Workload(name=WORKLOAD, revenue_usd_per_million_tokens=revenue, peak_to_average_ratio=1.0,
                            unserved_allowed=unserved_allowed)],
        scenarios=[Scenario(name=name, probability=probabilities[name]) for name in by_scenario],
        demand=[DemandRow(scenario=name, workload=WORKLOAD, month=month(t), tokens_per_month=gpus_worth(n))
                for name, values in by_scenario.items() for t, n in enumerate(values)],
        gpu_types=[GpuType(name=GPU, peak_dense_bf16_tflops=989.0, memory_gb=80.0,
                           power_kw_per_gpu=power_kw_per_gpu, availability_factor=availability)],
        throughput=[Throughput(gpu_type=GPU, workload=WORKLOAD, tokens_per_second_per_gpu=tokens_per_second)],
        sites=[Site(name=SITE, power_cap_mw=power_cap_mw, pue=pue)],
        lease_offers=list(offers),
        commitments=list(commitments),
        on_demand=[cloud()] if on_demand is None else list(on_demand),
        credits=list(credits),
        policies=list(policies),
        policy_effects=list(policy_effects),
        efficiency_programs=list(programs),
    )


def program(program_id: str = "P", *, multiplier: float | None = 2.0, new_mfu: float | None = None,
            earliest: int = 0, latest: int | None = None, delay: int = 0, one_off: float = 0.0, monthly: float = 0.0,
            decided: str = "first_stage", gpu_types: Sequence[str] = (), workloads: Sequence[str] = ()
            ) -> EfficiencyProgram:
    """An efficiency program startable from month index ``earliest`` (to ``latest``, default: as late as it
    still takes effect), in service ``delay`` months after its start; by default it doubles throughput
    (``multiplier`` 2) of every pair, which halves the GPUs a workload needs."""
    return EfficiencyProgram(
        program_id=program_id, gpu_types=list(gpu_types), workloads=list(workloads),
        mfu_multiplier=None if new_mfu is not None else multiplier, new_mfu=new_mfu,
        earliest_start_month=month(earliest), latest_start_month=None if latest is None else month(latest),
        effect_delay_months=delay, one_off_cost_usd=one_off, cost_usd_per_month=monthly, decided=decided,
    )


def realistic(months: int = 12, *, scenarios: Sequence[tuple[str, float, float]] = (
        ("10x", 0.5, 10.0), ("30x", 0.3, 30.0), ("80x", 0.2, 80.0)), **settings: Any) -> Problem:
    """A realistic-scale instance: three GPU types, two sites of 150-300 MW, three workloads with
    ~1e15 tokens a month, 1,024-GPU pods and 72-GPU racks, on-demand clouds, credits, commitments,
    rate-limit policies and growth scenarios (name, probability, yearly multiple).

    Big enough to exercise every family and the scaling, small enough to solve in seconds.
    """
    gpu_types = [
        GpuType(name="H100", peak_dense_bf16_tflops=989.0, memory_gb=80.0, power_kw_per_gpu=1.2,
                availability_factor=0.97),
        GpuType(name="H200", peak_dense_bf16_tflops=989.0, memory_gb=141.0, power_kw_per_gpu=1.3,
                availability_factor=0.96),
        GpuType(name="GB200", peak_dense_bf16_tflops=2500.0, memory_gb=186.0, power_kw_per_gpu=2.0,
                availability_factor=0.88),
    ]
    workloads = [
        Workload(name="chat", revenue_usd_per_million_tokens=5.0, peak_to_average_ratio=2.8,
                 flops_per_token=1.0e10, base_tokens_per_month=5e14),
        Workload(name="agentic coding", revenue_usd_per_million_tokens=15.0, peak_to_average_ratio=2.4,
                 flops_per_token=2.0e10, allowed_gpu_types=["H200", "GB200"], base_tokens_per_month=2e14),
        Workload(name="batch API", revenue_usd_per_million_tokens=0.6, peak_to_average_ratio=1.2,
                 flops_per_token=5.0e9, base_tokens_per_month=1e15,
                 unserved_penalty_usd_per_million_tokens=0.9),
    ]
    throughput = [Throughput(gpu_type="H100", workload="batch API", tokens_per_second_per_gpu=29_000.0),
                  Throughput(gpu_type="GB200", workload="chat", mfu=0.14)]
    sites = [Site(name="Memphis", power_cap_mw=150.0, pue=1.3), Site(name="Abilene", power_cap_mw=300.0, pue=1.15)]
    site_power = [SitePower(site="Memphis", from_month=month(min(6, months - 1)), power_cap_mw=300.0)]
    last = months - 1
    offers = [
        LeaseOffer(offer_id="memphis-h100", provider="CoreSpan", site="Memphis", gpu_type="H100",
                   gpus_per_block=1024, price_usd_per_gpu_hour=2.1, term_months=12,
                   earliest_start_month=month(0), latest_start_month=month(min(3, last)), max_blocks=60),
        LeaseOffer(offer_id="memphis-h200", provider="CoreSpan", site="Memphis", gpu_type="H200",
                   gpus_per_block=1024, price_usd_per_gpu_hour=2.45, term_months=18,
                   earliest_start_month=month(min(2, last)), latest_start_month=month(min(6, last)),
                   min_blocks=10, max_blocks=50, upfront_usd_per_block=1.5e6),
        LeaseOffer(offer_id="abilene-gb200", provider="GridIron", site="Abilene", gpu_type="GB200",
                   gpus_per_block=72, price_usd_per_gpu_hour=3.2, term_months=24,
                   earliest_start_month=month(min(4, last)), latest_start_month=month(min(9, last)),
                   max_blocks=900),
        LeaseOffer(offer_id="abilene-h100", provider="GridIron", site="Abilene", gpu_type="H100",
                   gpus_per_block=1024, price_usd_per_gpu_hour=1.95, term_months=6,
                   earliest_start_month=month(0), latest_start_month=month(last), max_blocks=40),
    ]
    commitments = [Commitment(commitment_id="existing-h100", provider="CoreSpan", site="Memphis", gpu_type="H100",
                              gpus=40_000, start_month=add_months(FIRST_MONTH, -6),
                              end_month=month(min(8, last)), price_usd_per_gpu_hour=2.4)]
    on_demand = [
        OnDemand(option_id="cloud-a-h100", provider="cloud-a", gpu_type="H100", price_usd_per_gpu_hour=4.2,
                 max_gpus=20_000),
        OnDemand(option_id="cloud-b-h200", provider="cloud-b", gpu_type="H200", price_usd_per_gpu_hour=5.6,
                 max_gpus=10_000),
    ]
    credits = [
        Credit(credit_id="cloud-a-startup", provider="cloud-a", amount_usd=5e7, valid_from_month=month(0),
               expiry_month=month(min(5, last))),
        Credit(credit_id="gridiron-launch", provider="GridIron", amount_usd=2e7, valid_from_month=month(0),
               expiry_month=month(min(11, last)), applies_to="all"),
    ]
    policies = [Policy(name="open"), Policy(name="peak-hour limits", goodwill_cost_usd_per_month=4e5),
                Policy(name="tight limits", goodwill_cost_usd_per_month=2e6)]
    effects = [
        PolicyEffect(policy="peak-hour limits", workload="chat", peak_to_average_multiplier=0.8),
        PolicyEffect(policy="peak-hour limits", workload="agentic coding", peak_to_average_multiplier=0.85),
        PolicyEffect(policy="tight limits", workload="chat", admitted_fraction=0.9, peak_to_average_multiplier=0.7),
        PolicyEffect(policy="tight limits", workload="batch API", admitted_fraction=0.8),
    ]
    values = {"first_month": FIRST_MONTH, "months": months, "discount_rate_per_year": 0.08,
              "default_mfu": 0.11, "mip_gap": 1e-4, **settings}
    return Problem(
        settings=Settings(**values),
        workloads=workloads,
        scenarios=[Scenario(name=name, probability=p, growth_multiple_per_year=g) for name, p, g in scenarios],
        gpu_types=gpu_types, throughput=throughput, sites=sites, site_power=site_power, lease_offers=offers,
        commitments=commitments, on_demand=on_demand, credits=credits, policies=policies, policy_effects=effects,
    )
