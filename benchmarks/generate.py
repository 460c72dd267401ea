"""Seeded benchmark instances of sizes S, M, L and XL.

``make_problem(size, seed)`` returns a validated :class:`planner.schema.Problem` with realistic numbers
(H100/H200/B200/GB200, 2-4 sites of 50-500 MW, block leases at $1.8-3.5 per GPU-hour, on-demand cloud at
$4-9, credits, rate-limit policies, growth scenarios of 2x-30x per year, tapering by default). Every
instance is feasible: all workloads may go unserved except one contracted "enterprise SLA" workload,
whose explicit demand stays within half of the on-demand caps.

CLI: ``python benchmarks/generate.py XL [--seed 0] [--growth compound] [--out file.xlsx]``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

if __package__ in (None, ""):  # run as a script: make ``planner`` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.schema import (
    HOURS_PER_MONTH_DEFAULT,
    Commitment,
    Credit,
    DemandRow,
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


@dataclass(frozen=True)
class Size:
    """Dimensions of one benchmark size."""

    months: int
    offers: int
    workloads: int
    scenarios: int
    sites: int
    on_demand: int
    credits: int
    policies: int


SIZES: dict[str, Size] = {
    "S": Size(months=12, offers=5, workloads=2, scenarios=1, sites=2, on_demand=2, credits=1, policies=2),
    "M": Size(months=24, offers=20, workloads=4, scenarios=3, sites=3, on_demand=2, credits=2, policies=3),
    "L": Size(months=36, offers=50, workloads=5, scenarios=10, sites=4, on_demand=3, credits=2, policies=4),
    "XL": Size(months=60, offers=100, workloads=6, scenarios=50, sites=4, on_demand=3, credits=3, policies=4),
}

FIRST_MONTH = "2025-01"
SECONDS_PER_MONTH = HOURS_PER_MONTH_DEFAULT * 3600.0
PUE_TYPICAL = 1.25

# name: (peak dense BF16 TFLOPS, memory GB, all-in kW per GPU, availability, base lease $/GPU-hour)
GPUS: dict[str, tuple[float, float, float, float, float]] = {
    "H100": (989.0, 80.0, 1.2, 0.97, 2.10),
    "H200": (989.0, 141.0, 1.3, 0.96, 2.45),
    "B200": (2250.0, 192.0, 1.7, 0.93, 2.90),
    "GB200": (2500.0, 186.0, 2.0, 0.88, 3.20),
}
INFERENCE_MFU = {"H100": 0.11, "H200": 0.13, "B200": 0.12, "GB200": 0.14}
TRAINING_MFU = {"H100": 0.40, "H200": 0.41, "B200": 0.38, "GB200": 0.36}

# name: (revenue $/Mtok, peak-to-average, FLOPs/token, allowed GPU types, share of first-month GPUs)
WORKLOADS: list[tuple[str, float, float, float, tuple[str, ...], float]] = [
    ("chat", 5.0, 2.8, 1.0e11, (), 0.35),
    ("enterprise SLA", 10.0, 2.0, 1.0e11, (), 0.0),  # sized from the on-demand caps, explicit demand
    ("agentic coding", 15.0, 2.4, 2.0e11, ("H200", "B200", "GB200"), 0.30),
    ("batch API", 0.6, 1.2, 5.0e10, (), 0.15),
    ("training", 2.0, 1.2, 4.8e11, ("H100", "B200", "GB200"), 0.15),
    ("voice", 8.0, 2.6, 1.5e10, (), 0.05),
]
SITES = [("Memphis", 1.30), ("Abilene", 1.15), ("Atlanta", 1.25), ("Reno", 1.35)]
LESSORS = ["CoreSpan", "GridIron", "Helix DC", "NorthStar", "Lambda Peak", "Vantage Racks"]
CLOUDS = [("cloud-a", "H100", 4.2), ("cloud-b", "H200", 5.6), ("cloud-c", "B200", 8.4)]
POLICIES = [  # name, goodwill $/month, effects: workload -> (admitted fraction, peak multiplier)
    ("open", 0.0, {}),
    ("peak-hour limits", 4.0e5, {"chat": (1.0, 0.8), "agentic coding": (1.0, 0.85), "voice": (1.0, 0.85)}),
    ("tight limits", 2.0e6, {"chat": (0.9, 0.7), "agentic coding": (0.95, 0.75), "batch API": (0.8, 1.0)}),
    ("strict", 6.0e6, {"chat": (0.75, 0.6), "agentic coding": (0.85, 0.65), "batch API": (0.6, 1.0),
                       "voice": (0.8, 0.7)}),
]
TERMS = (6, 12, 18, 24, 36)


def _growths(n: int, rng: random.Random) -> list[float]:
    """Yearly growth multiples spread geometrically over 2x..30x (10x for a single scenario)."""
    if n == 1:
        return [10.0]
    lo, hi = math.log(2.0), math.log(30.0)
    values = []
    for i in range(n):
        x = lo + (hi - lo) * i / (n - 1)
        if 0 < i < n - 1:
            x += rng.uniform(-0.3, 0.3) * (hi - lo) / (n - 1)
        values.append(round(math.exp(x), 2))
    return values


def _probabilities(growths: list[float], rng: random.Random) -> list[float]:
    """Probabilities peaking near 8x per year, rounded to 1e-6; the last one makes the sum exactly 1."""
    weights = [math.exp(-((math.log(g) - math.log(8.0)) ** 2) / 1.2) * rng.uniform(0.7, 1.3) for g in growths]
    total = sum(weights)
    probs = [round(w / total, 6) for w in weights[:-1]]
    probs.append(round(1.0 - sum(probs), 6))  # the decimal sum is exactly 1
    return probs


def h100_equivalent(gpu: str) -> float:
    """Inference throughput of one usable GPU of type ``gpu`` relative to one H100."""
    tflops, _, _, avail, _ = GPUS[gpu]
    ref_tflops, _, _, ref_avail, _ = GPUS["H100"]
    return tflops * INFERENCE_MFU[gpu] * avail / (ref_tflops * INFERENCE_MFU["H100"] * ref_avail)


def growth_factor(growth_per_year: float, month_index: int, tapered: bool = True) -> float:
    """Demand multiple after ``month_index`` months: compound, or with the growth rate halving every year
    (an S-curve: 30x per year becomes about 40x after two years and 120x after five, not 24 million x)."""
    years = month_index / 12.0
    if tapered:
        years = (1.0 - 0.5 ** years) / math.log(2.0)
    return growth_per_year**years


def make_problem(size: str, seed: int = 0, *, growth: Literal["tapered", "compound"] = "tapered",
                 reveal_month: int | None = None, lead_times: bool = False) -> Problem:
    """Build the benchmark instance ``size`` (S, M, L or XL) deterministically from ``seed``.

    ``growth="tapered"`` (default) writes explicit Demand rows whose yearly growth rate halves every year;
    ``"compound"`` leaves demand to base level x growth multiple per year, compounding over the horizon
    (over 60 months the 30x scenario then asks for 24 million times the first month).
    ``reveal_month`` (a month index) sets ``Settings.reveal_month``: the scenario is known from that month
    (a multi-stage plan). ``lead_times`` gives each offer its lead time (the months from its announcement
    to its earliest start), so blocks are signed before they start; off, as before, every block is signed
    in its start month. Neither changes any other number of the instance.
    """
    dims = SIZES[size.upper()]
    tapered = growth == "tapered"
    rng = random.Random(f"{size.upper()}-{seed}")
    months = dims.months
    last = months - 1

    def month(t: int) -> str:
        return add_months(FIRST_MONTH, t)

    gpu_types = [
        GpuType(name=name, peak_dense_bf16_tflops=tflops, memory_gb=mem, power_kw_per_gpu=kw,
                availability_factor=avail)
        for name, (tflops, mem, kw, avail, _) in GPUS.items()
    ]
    # Scenarios. The first-month need (H100 equivalents) and the probability-weighted growth size
    # the power caps and the lease supply.
    base_gpus = rng.uniform(5_000.0, 20_000.0) * (1.0 + 0.25 * (dims.workloads - 2))
    growths = _growths(dims.scenarios, rng)
    probs = _probabilities(growths, rng)
    scenarios = [Scenario(name=f"g{g:g}x" if dims.scenarios < 10 else f"s{i:02d}-{g:g}x", probability=p,
                          growth_multiple_per_year=g)
                 for i, (g, p) in enumerate(zip(growths, probs, strict=True))]

    g_mid = math.exp(sum(p * math.log(g) for p, g in zip(probs, growths, strict=True)))
    pue_mw_per_gpu = 1.6 * PUE_TYPICAL / 1000.0
    mw_need = base_gpus * growth_factor(g_mid, months // 2, tapered) * pue_mw_per_gpu / dims.sites

    # Sites: caps of 50-450 MW that step up once or twice (at most 500 MW).
    sites, site_power = [], []
    for name, pue in SITES[: dims.sites]:
        cap = round(min(rng.uniform(250.0, 450.0), max(50.0, mw_need * rng.uniform(0.6, 1.2))), 1)
        sites.append(Site(name=name, power_cap_mw=cap, pue=pue))
        if rng.random() < 0.7 and months >= 12:
            step_month = rng.randint(6, min(18, last))
            cap = min(500.0, round(cap * rng.uniform(1.4, 2.0), 1))
            site_power.append(SitePower(site=name, from_month=month(step_month), power_cap_mw=cap))
            if months >= 36 and rng.random() < 0.5:
                cap = min(500.0, round(cap * rng.uniform(1.2, 1.6), 1))
                site_power.append(SitePower(site=name, from_month=month(rng.randint(step_month + 6, last)),
                                            power_cap_mw=cap))
    max_site_mw = {s.name: max([s.power_cap_mw] + [p.power_cap_mw for p in site_power if p.site == s.name])
                   for s in sites}

    # On-demand cloud: needed below to size the must-serve workload.
    on_demand = [
        OnDemand(option_id=f"od-{provider}-{gpu}", provider=provider, gpu_type=gpu,
                 price_usd_per_gpu_hour=round(price * rng.uniform(0.95, 1.05), 2),
                 max_gpus=int(base_gpus * rng.uniform(0.15, 0.35)) // 8 * 8)
        for provider, gpu, price in CLOUDS[: dims.on_demand]
    ]

    # Workloads, throughput and demand.
    workloads, throughput, demand = [], [], []
    share_total = sum(row[5] for row in WORKLOADS[: dims.workloads])
    for name, revenue, p2a, fpt, allowed, share in WORKLOADS[: dims.workloads]:
        revenue = round(min(15.0, max(0.5, revenue * rng.uniform(0.85, 1.15))), 2)
        p2a = round(min(3.0, max(1.2, p2a * rng.uniform(0.9, 1.1))), 2)
        fpt = float(f"{fpt * rng.uniform(0.9, 1.1):.3g}")
        must_serve = name == "enterprise SLA"
        mfu = TRAINING_MFU if name == "training" else INFERENCE_MFU
        types = allowed or tuple(GPUS)
        for gpu in types:
            if gpu == "H100" and name == "batch API":  # a measured figure instead of an MFU
                rate = GPUS[gpu][0] * 1e12 * 0.15 / fpt
                throughput.append(Throughput(gpu_type=gpu, workload=name,
                                             tokens_per_second_per_gpu=round(rate, 1)))
            else:
                throughput.append(Throughput(gpu_type=gpu, workload=name,
                                             mfu=round(mfu[gpu] * rng.uniform(0.92, 1.08), 4)))
        tput = {t.gpu_type: t for t in throughput if t.workload == name}
        h100_rate = GPUS["H100"][0] * 1e12 * INFERENCE_MFU["H100"] / fpt  # tokens/s/GPU on the reference
        base_tokens = None
        if must_serve:
            # Peak GPU need at the horizon end (growth capped at 2x/year) <= half the slowest on-demand cap.
            slowest = min(GPUS[o.gpu_type][0] * (tput[o.gpu_type].mfu or 0.0) * GPUS[o.gpu_type][3]
                          for o in on_demand) * 1e12 / fpt
            cap_gpus = 0.5 * sum(o.max_gpus for o in on_demand)
            top = 2.0 ** (last / 12.0)
            sla_tokens = min(0.05 * base_gpus, cap_gpus / top) * slowest * SECONDS_PER_MONTH / p2a
            for sc in scenarios:
                g = min(2.0, sc.growth_multiple_per_year or 1.0)
                demand += [DemandRow(scenario=sc.name, workload=name, month=month(t),
                                     tokens_per_month=float(f"{sla_tokens * g ** (t / 12.0):.6g}"))
                           for t in range(months)]
        else:
            gpus = base_gpus * share / share_total * rng.uniform(0.8, 1.2)
            base_tokens = float(f"{gpus * h100_rate * SECONDS_PER_MONTH / p2a:.4g}")
            if tapered:
                for sc in scenarios:
                    g = sc.growth_multiple_per_year or 1.0
                    demand += [DemandRow(scenario=sc.name, workload=name, month=month(t),
                                         tokens_per_month=float(f"{base_tokens * growth_factor(g, t):.6g}"))
                               for t in range(months)]
        workloads.append(Workload(
            name=name, revenue_usd_per_million_tokens=revenue, peak_to_average_ratio=p2a, flops_per_token=fpt,
            allowed_gpu_types=list(allowed), unserved_allowed=not must_serve,
            unserved_penalty_usd_per_million_tokens=round(revenue * 1.5, 2) if name == "training" else None,
            base_tokens_per_month=base_tokens,
        ))

    # Existing commitments: an H100 cluster at the first site carrying part of month 0.
    commitments = [Commitment(
        commitment_id="existing-H100", provider=LESSORS[0], site=sites[0].name, gpu_type="H100",
        gpus=int(min(0.7 * base_gpus, 0.6 * sites[0].power_cap_mw * 1000 / (1.2 * sites[0].pue))) // 8 * 8,
        start_month=add_months(FIRST_MONTH, -6), end_month=month(min(last, rng.randint(6, 18))),
        price_usd_per_gpu_hour=2.4,
    )]

    # Lease offers: supply sized so that leases roughly track the probability-weighted growth, then power.
    total_mw = sum(max_site_mw.values())
    avg_term = sum(TERMS) / len(TERMS)
    active = max(1.0, dims.offers * min(1.0, avg_term / months))
    lease_offers = []
    for i in range(dims.offers):
        announce = 0 if i < 2 else rng.randint(0, max(0, last - 2))
        earliest = min(last, announce + rng.randint(0 if i < 2 else 1, 6))  # lead time; two may be ready
        latest = min(last, earliest + rng.choice((0, 1, 2, 3, 6)))
        late = earliest / max(1, last)
        gpu = rng.choices(list(GPUS), weights=(1.5 - late, 1.2, 0.5 + late, 0.5 + 1.5 * late))[0]
        block = rng.choice((72, 72, 1024)) if gpu == "GB200" else rng.choice((8, 8, 1024))
        term = rng.choice(TERMS if months >= 24 else TERMS[:3])
        price = GPUS[gpu][4] * (1.08 - 0.005 * term) * (1.0 - 0.1 * late) * rng.uniform(0.92, 1.08)
        site = rng.choice(sites)
        t_mid = min(last, earliest + term // 2)
        need = base_gpus * growth_factor(g_mid, t_mid, tapered)
        supply = min(1.5 * need, total_mw / pue_mw_per_gpu) / active / h100_equivalent(gpu)
        supply *= rng.uniform(0.5, 1.5)
        supply = min(supply, 0.5 * max_site_mw[site.name] * 1000 / (GPUS[gpu][2] * site.pue))
        if supply / block > 1_000:  # a large offer comes in pods
            block = 1024
        max_blocks = max(1, min(1_000, round(supply / block)))
        min_blocks = max(1, max_blocks // 4) if max_blocks >= 4 and rng.random() < 0.3 else 0
        upfront = (round(price * block * HOURS_PER_MONTH_DEFAULT * rng.uniform(0.5, 2.0), -2)
                   if rng.random() < 0.25 else 0.0)
        lease_offers.append(LeaseOffer(
            offer_id=f"L{i + 1:03d}-{gpu}-{term}m", provider=rng.choice(LESSORS), site=site.name,
            gpu_type=gpu, gpus_per_block=block, price_usd_per_gpu_hour=round(min(3.5, max(1.8, price)), 2),
            term_months=term, earliest_start_month=month(earliest), latest_start_month=month(latest),
            min_blocks=min_blocks, max_blocks=max_blocks, upfront_usd_per_block=upfront,
            lead_time_months=earliest - announce if lead_times else 0,
        ))

    # Credits on the cloud providers (one on a lessor, for leases, when there are three).
    credits = []
    for i in range(dims.credits):
        start = rng.randint(0, max(0, last // 2))
        expiry = min(last, start + rng.choice((6, 9, 12)))
        provider, applies = (LESSORS[1], "leases") if i == 2 else (on_demand[i % len(on_demand)].provider,
                                                                   "on_demand" if i == 0 else "all")
        if applies == "leases" and LESSORS[1] not in {o.provider for o in lease_offers}:
            provider, applies = on_demand[0].provider, "all"
        credits.append(Credit(credit_id=f"credit-{i + 1}", provider=provider,
                              amount_usd=round(rng.uniform(5e6, 1e8), -5), valid_from_month=month(start),
                              expiry_month=month(expiry), applies_to=applies))

    # Rate-limit policies and their effects.
    names = {w.name for w in workloads}
    policies, effects = [], []
    for name, goodwill, effect in POLICIES[: dims.policies]:
        policies.append(Policy(name=name, goodwill_cost_usd_per_month=goodwill))
        effects += [PolicyEffect(policy=name, workload=wl, admitted_fraction=a, peak_to_average_multiplier=m)
                    for wl, (a, m) in effect.items() if wl in names]

    settings = Settings(
        first_month=FIRST_MONTH, months=months, discount_rate_per_year=0.08, default_mfu=0.11,
        cvar_weight=0.1 if dims.scenarios >= 10 else 0.0, mip_gap=1e-3,
        reveal_month=None if reveal_month is None else month(min(reveal_month, last)),
    )
    return Problem(
        settings=settings, workloads=workloads, scenarios=scenarios, demand=demand, gpu_types=gpu_types,
        throughput=throughput, sites=sites, site_power=site_power, lease_offers=lease_offers,
        commitments=commitments, on_demand=on_demand, credits=credits, policies=policies,
        policy_effects=effects,
    )


def peak_gpus_needed(problem: Problem, scenario: str, month_index: int) -> float:
    """H100 equivalents (inference MFU) needed at the peak in a month of a scenario, before rate limits."""
    total = 0.0
    for w in problem.workloads:
        tokens = problem.demand_tokens(scenario, w.name)[month_index]
        rate = GPUS["H100"][0] * 1e12 * INFERENCE_MFU["H100"] * GPUS["H100"][3] / (w.flops_per_token or 1e11)
        total += tokens * w.peak_to_average_ratio / (problem.settings.hours_per_month * 3600.0) / rate
    return total


def lease_gpus_available(problem: Problem, month_index: int) -> float:
    """Most leased H100 equivalents (all offers at max blocks, plus commitments) active in a month."""
    total = 0.0
    for o in problem.lease_offers:
        start = problem.month_index(o.earliest_start_month)
        if start <= month_index <= problem.month_index(o.latest_start_month) + o.term_months - 1:
            total += o.max_blocks * o.gpus_per_block * h100_equivalent(o.gpu_type)
    for c in problem.commitments:
        if problem.month_index(c.start_month) <= month_index <= problem.month_index(c.end_month):
            total += c.gpus * h100_equivalent(c.gpu_type)
    return total


def describe(problem: Problem) -> str:
    """Dimensions of an instance and a rough supply/demand check at a few months."""
    s = problem.settings
    lines = [
        f"months={s.months} lease_offers={len(problem.lease_offers)} workloads={len(problem.workloads)} "
        f"scenarios={len(problem.scenarios)} gpu_types={len(problem.gpu_types)} sites={len(problem.sites)} "
        f"site_power_steps={len(problem.site_power)} on_demand={len(problem.on_demand)} "
        f"credits={len(problem.credits)} policies={len(problem.policies)} "
        f"policy_effects={len(problem.policy_effects)} demand_rows={len(problem.demand)} "
        f"commitments={len(problem.commitments)}",
        "growth per year: " + ", ".join(f"{sc.growth_multiple_per_year:g}" for sc in problem.scenarios[:8])
        + (" ..." if len(problem.scenarios) > 8 else ""),
    ]
    ranked = sorted(problem.scenarios, key=lambda sc: sc.growth_multiple_per_year or 1.0)
    mid = ranked[len(ranked) // 2]
    od = sum(o.max_gpus * h100_equivalent(o.gpu_type) for o in problem.on_demand)
    lines.append(f"median scenario {mid.name}, in H100 equivalents: month, peak need, most leasable, "
                 "on-demand cap, site power MW")
    for t in sorted({0, s.months // 4, s.months // 2, 3 * s.months // 4, s.months - 1}):
        mw = sum(problem.power_cap_mw(site.name)[t] for site in problem.sites)
        lines.append(f"  {problem.month_labels[t]}: {peak_gpus_needed(problem, mid.name, t):>13,.0f}"
                     f" {lease_gpus_available(problem, t):>10,.0f} {od:>8,.0f} {mw:>7,.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI: print an instance's dimensions; with ``--out``, write it as an input workbook."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", choices=sorted(SIZES, key=list(SIZES).index), type=str.upper)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--growth", choices=("tapered", "compound"), default="tapered")
    parser.add_argument("--reveal-month", type=int, help="month index from which the scenario is known")
    parser.add_argument("--lead-times", action="store_true", help="offers are signed their lead time ahead")
    parser.add_argument("--out", type=Path, help="input workbook to write (needs planner.workbook)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    problem = make_problem(args.size, args.seed, growth=args.growth, reveal_month=args.reveal_month,
                           lead_times=args.lead_times)
    print(f"{args.size} (seed {args.seed}) generated in {time.perf_counter() - start:.3f} s")
    print(describe(problem))
    if args.out:
        try:
            from planner.workbook import write_problem
        except ImportError:
            print("planner.workbook.write_problem is not available yet: no workbook written", file=sys.stderr)
            return 1
        write_problem(problem, args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
