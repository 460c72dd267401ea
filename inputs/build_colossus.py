"""Build ``inputs/colossus-2025.xlsx``: the seed article's story as a planning problem.

Run from the repository root: ``python inputs/build_colossus.py``.

A lab planned compute for 10x yearly growth and saw 80x annualized growth in a quarter; it leased the
Colossus cluster (150,000+ H100, ~50,000 H200, ~20,000 GB200, 300 MW, ~$2.60/GPU-hour) while rate limits,
cloud credits from a strategic investor and on-demand cloud filled the gap. Inference ran at ~11% MFU,
training at 40%+, and GB200s ran hot. Numbers from the article say so in their notes; every other number
is marked "assumption" with its source or reasoning.

Calibration (so the plan is interesting): month-1 demand needs about 12,500 H100-equivalents. In the 10x
scenario the Colossus offers cover demand until the last months of the horizon; in the 80x scenario demand
outgrows Colossus's supply and its 300 MW within the first year, so on-demand cloud, rate limits and
unserved demand all appear. An 80x yearly multiple compounded over 36 months (80^3 = 512,000x) is not
credible, so the Demand rows apply each scenario's multiple g in year 1, g^(1/4) in year 2 and g^(1/8)
in year 3 (hyper-growth decaying as adoption saturates), written out as explicit rows.

Information: growth is visible after the first quarter (``reveal_month`` 2025-04), so signings from
April on are taken per world; each offer's lead time (from its notes) sets the month a block is signed.
The README sheet says what the plan then does in each world (``STORY``).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``planner`` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl.styles import Font

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
    Throughput,
    Workload,
    add_months,
)
from planner.template import README_SHEET, SPARE_ROWS, build_workbook, save_atomically
from planner.workbook import problem_to_tables

OUTPUT = Path(__file__).resolve().parent / "colossus-2025.xlsx"
FIRST_MONTH = "2025-01"
MONTHS = 36
HOURS_PER_MONTH = 730.0
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600.0
INFERENCE_MFU = 0.11  # article: inference MFU "approximately 11%"
TRAINING_MFU = 0.40  # article: training MFU "typically runs 40-50%"
H100_TFLOPS = 989.0  # assumption: H100 SXM dense BF16 spec sheet
TRAINING_GROWTH_PER_YEAR = 2.0
SOLVE_TIME_LIMIT_SECONDS = 90.0
"""Assumption: the plan solves in 10-20 s; 90 s bounds each run of the Sweeps sheet's sweeps too (the MFU
points near 25-30% take longest), so ``planner sweep`` of the example finishes in a few minutes on 2 cores."""
REVEAL_MONTH = "2025-04"
"""Article: 80x annualized growth was visible within the first quarter; from April 2025 the plan knows
which world it is in, and signs for that world."""
MIP_GAP = 1e-3  # see SETTINGS_NOTES: the programs make 1e-4 take minutes

# name: (revenue $/Mtok, peak/average, FLOPs/token, allowed GPU types, unserved penalty $/Mtok or None,
#        month-1 demand sized as this many H100s at the workload's MFU, notes)
WORKLOADS: dict[str, tuple[float, float, float, str, float | None, int, str]] = {
    "agentic_coding": (
        10.0, 1.5, 4.0e11, "H200, GB200", 25.0, 1_500,
        "assumption: revenue = blended Sonnet/Opus API price for output-heavy agent loops; peak/average 1.5 "
        "because agents run for hours (article: near-continuous load); FLOPs/token = 2 x ~150B active "
        "parameters + long-context attention; H200/GB200 only because 100k+ token contexts need the KV-cache "
        "memory; unserved penalty 2.5x revenue for developer churn (the product is load-bearing: article)",
    ),
    "chat": (
        5.0, 2.0, 3.0e11, "", None, 1_500,
        "assumption: consumer/API chat, subscription-heavy revenue per token; diurnal peak 2x average; "
        "FLOPs/token = 2 x ~150B active parameters; any GPU (short contexts fit in 80 GB)",
    ),
    "batch_api": (
        3.0, 1.0, 3.0e11, "", None, 1_500,
        "assumption: batch API at a 50% discount; scheduled off-peak so peak = average; any GPU",
    ),
    "training": (
        2.5, 1.0, 9.0e11, "", None, 8_000,
        "assumption: training tokens valued just above their leased cost so training takes leases but not "
        "on-demand; FLOPs/token = 6 x ~150B parameters (forward + backward); demand grows 2x/year in every "
        "scenario (training budgets are planned, not usage-driven)",
    ),
}

SCENARIOS = {  # name: (yearly multiple in year 1, probability)
    "10x": (10.0, 0.5),
    "30x": (30.0, 0.3),
    "80x": (80.0, 0.2),
}
SCENARIO_NOTES = {
    "10x": "article: the plan was built for 10x growth per year; probability is an assumption",
    "30x": "assumption: a middle case between plan and the observed quarter",
    "80x": "article: 80x annualized growth in Q1 2025; probability is an assumption",
}


def tokens_per_month(gpus: int, mfu: float, flops_per_token: float, peak_to_average: float) -> float:
    """Monthly tokens that keep ``gpus`` H100s busy at peak: tokens/s per GPU x seconds / peak ratio."""
    tokens_per_second = H100_TFLOPS * 1e12 * mfu / flops_per_token
    return round(gpus * tokens_per_second * SECONDS_PER_MONTH / peak_to_average, -9)


GROWTH_EXPONENT_BY_YEAR = (1.0, 0.25, 0.125)
"""Assumption: hyper-growth decays as adoption saturates: a scenario's yearly multiple g applies in
year 1, g^(1/4) in year 2 and g^(1/8) in year 3 (10x: 10, 1.78, 1.33; 80x: 80, 2.99, 1.73)."""


def yearly_multiple(scenario_multiple: float, month_index: int) -> float:
    """The demand multiple per year in force in a month (see ``GROWTH_EXPONENT_BY_YEAR``)."""
    year = min(month_index // 12, len(GROWTH_EXPONENT_BY_YEAR) - 1)
    return scenario_multiple ** GROWTH_EXPONENT_BY_YEAR[year]


def demand_rows(workloads: list[Workload]) -> list[DemandRow]:
    rows = []
    for scenario, (multiple, _) in SCENARIOS.items():
        for workload in workloads:
            level = workload.base_tokens_per_month or 0.0
            for t in range(MONTHS):
                rows.append(
                    DemandRow(
                        scenario=scenario,
                        workload=workload.name,
                        month=add_months(FIRST_MONTH, t),
                        tokens_per_month=float(f"{level:.4g}"),
                    )
                )
                growth = TRAINING_GROWTH_PER_YEAR if workload.name == "training" else yearly_multiple(multiple, t)
                level *= growth ** (1.0 / 12.0)
    return rows


def build() -> Problem:
    """The Colossus 2025 planning problem."""
    workloads = [
        Workload(
            name=name,
            revenue_usd_per_million_tokens=revenue,
            peak_to_average_ratio=peak,
            flops_per_token=flops,
            allowed_gpu_types=[g.strip() for g in allowed.split(",") if g.strip()],
            unserved_allowed=True,
            unserved_penalty_usd_per_million_tokens=penalty,
            base_tokens_per_month=tokens_per_month(
                gpus, TRAINING_MFU if name == "training" else INFERENCE_MFU, flops, peak
            ),
            notes=f"{notes}; month-1 demand sized for ~{gpus:,} H100s (assumption). The Demand sheet "
            "holds the explicit monthly rows, which override base x growth.",
        )
        for name, (revenue, peak, flops, allowed, penalty, gpus, notes) in WORKLOADS.items()
    ]
    scenarios = [
        Scenario(
            name=name,
            probability=probability,
            growth_multiple_per_year=multiple,
            notes=f"{SCENARIO_NOTES[name]}. Demand rows apply {multiple:g}x/year in 2025, "
            f"{multiple ** 0.25:.3g}x in 2026, {multiple ** 0.125:.3g}x in 2027 "
            "(assumption: hyper-growth decays as adoption saturates).",
        )
        for name, (multiple, probability) in SCENARIOS.items()
    ]
    gpu_types = [
        GpuType(
            name="H100", peak_dense_bf16_tflops=989.0, memory_gb=80.0, power_kw_per_gpu=1.0,
            availability_factor=0.97,
            notes="assumption: H100 SXM spec sheet (989 TFLOPS dense BF16, 80 GB); 1.0 kW = 700 W TDP + host "
            "share, set so Colossus's ~220,000 GPUs fit the article's 300 MW at PUE 1.3; 3% maintenance",
        ),
        GpuType(
            name="H200", peak_dense_bf16_tflops=989.0, memory_gb=141.0, power_kw_per_gpu=1.0,
            availability_factor=0.97,
            notes="assumption: H200 SXM spec sheet (same compute as H100, 141 GB HBM3e); power as H100",
        ),
        GpuType(
            name="GB200", peak_dense_bf16_tflops=2500.0, memory_gb=192.0, power_kw_per_gpu=1.7,
            availability_factor=0.85,
            notes="assumption: GB200 NVL72 spec (180 PFLOPS dense BF16 / 72 GPUs), 192 GB; ~120 kW rack / 72; "
            "availability 0.85 for thermal derating (article: GB200s run hot under sustained inference)",
        ),
    ]
    throughput = [
        Throughput(gpu_type=gpu.name, workload="training", mfu=TRAINING_MFU,
                   notes="article: training MFU 40-50% (lower end taken)")
        for gpu in gpu_types
    ]
    sites = [
        Site(name="Colossus", power_cap_mw=300.0, pue=1.3,
             notes="article: Colossus 1, Memphis, 300 MW power draw; PUE 1.3 is an assumption (air + liquid)"),
        Site(name="NeoCloud-Atlanta", power_cap_mw=40.0, pue=1.25,
             notes="assumption: a second lessor's new liquid-cooled hall"),
        Site(name="AWS-us-east", power_cap_mw=1000.0, pue=1.15,
             notes="assumption: hyperscaler region hosting the existing reservation; cap not binding"),
    ]
    lease_offers = [
        LeaseOffer(
            offer_id="COL-H100-12", provider="xAI", site="Colossus", gpu_type="H100", gpus_per_block=1024,
            price_usd_per_gpu_hour=2.60, term_months=12, earliest_start_month="2025-02",
            latest_start_month="2027-06", max_blocks=147, lead_time_months=1,
            notes="article: 150,000+ H100 at ~$2.60/GPU-hour (147 x 1,024 = 150,528); assumption: 1,024-GPU "
            "pods, 12-month term, 1-month lead time (the cluster is operational)",
        ),
        LeaseOffer(
            offer_id="COL-H200-12", provider="xAI", site="Colossus", gpu_type="H200", gpus_per_block=1024,
            price_usd_per_gpu_hour=3.00, term_months=12, earliest_start_month="2025-03",
            latest_start_month="2027-06", max_blocks=49, lead_time_months=2,
            notes="article: ~50,000 H200 (49 x 1,024 = 50,176); assumption: $3.00 (memory premium over H100), "
            "12-month term, 2-month lead time",
        ),
        LeaseOffer(
            offer_id="COL-GB200-24", provider="xAI", site="Colossus", gpu_type="GB200", gpus_per_block=72,
            price_usd_per_gpu_hour=4.20, term_months=24, earliest_start_month="2025-04",
            latest_start_month="2027-06", max_blocks=278, lead_time_months=3,
            notes="article: ~20,000 GB200 (278 NVL72 racks of 72 = 20,016); assumption: $4.20 (newest parts), "
            "24-month term, 3-month lead time for rack commissioning",
        ),
        LeaseOffer(
            offer_id="NEO-GB200-36", provider="NeoCloud", site="NeoCloud-Atlanta", gpu_type="GB200",
            gpus_per_block=72, price_usd_per_gpu_hour=3.70, term_months=36, earliest_start_month="2026-01",
            latest_start_month="2027-01", min_blocks=70, max_blocks=139, upfront_usd_per_block=250_000.0,
            lead_time_months=12,
            notes="assumption: a second, smaller offer: a new build (12-month lead time), 36-month term, "
            "cheaper per hour, at least 70 racks if used, $250k deposit per rack",
        ),
    ]
    commitments = [
        Commitment(
            commitment_id="AWS-H100-2024", provider="AWS", site="AWS-us-east", gpu_type="H100", gpus=8_000,
            start_month="2024-01", end_month="2025-12", price_usd_per_gpu_hour=3.20,
            notes="assumption: capacity reserved before 2025 with the strategic investor's cloud",
        ),
    ]
    on_demand = [
        OnDemand(option_id="AWS-H100-OD", provider="AWS", gpu_type="H100", price_usd_per_gpu_hour=7.00,
                 max_gpus=20_000,
                 notes="assumption: on-demand p5 (8 x H100) at ~$56/hour; scarce, so capped at 20,000 GPUs"),
        OnDemand(option_id="AWS-H200-OD", provider="AWS", gpu_type="H200", price_usd_per_gpu_hour=8.00,
                 max_gpus=10_000,
                 notes="assumption: on-demand p5e (8 x H200) at ~$64/hour; capped at 10,000 GPUs"),
    ]
    credits = [
        Credit(credit_id="AWS-strategic", provider="AWS", amount_usd=500e6, valid_from_month="2025-01",
               expiry_month="2026-06", applies_to="on_demand",
               notes="article: a $4B Amazon investment came with cloud credits; amount and 18-month window "
               "are assumptions"),
    ]
    policies = [
        Policy(name="launch limits", goodwill_cost_usd_per_month=20e6,
               notes="article: conservative launch limits with peak-hour reductions; goodwill cost is an "
               "assumption (churn and reputation)"),
        Policy(name="5h windows doubled", goodwill_cost_usd_per_month=6e6,
               notes="article: 5-hour token windows doubled, peak-hour reductions still on; goodwill cost "
               "is an assumption"),
        Policy(name="peak-hour limits lifted", goodwill_cost_usd_per_month=0.0,
               notes="article: peak-hour reductions eliminated as capacity expanded; no limits"),
    ]
    policy_effects = [
        PolicyEffect(policy="launch limits", workload="agentic_coding", admitted_fraction=0.75,
                     peak_to_average_multiplier=0.80,
                     notes="assumption: a quarter of agent usage refused; peak-hour cuts flatten the peak 20%"),
        PolicyEffect(policy="launch limits", workload="chat", admitted_fraction=0.90,
                     peak_to_average_multiplier=0.85, notes="assumption"),
        PolicyEffect(policy="5h windows doubled", workload="agentic_coding", admitted_fraction=0.90,
                     peak_to_average_multiplier=0.85,
                     notes="assumption: twice the window admits most usage; peak-hour cuts remain"),
        PolicyEffect(policy="5h windows doubled", workload="chat", admitted_fraction=0.97,
                     peak_to_average_multiplier=0.90, notes="assumption"),
    ]
    efficiency_programs = [
        EfficiencyProgram(
            program_id="inference batching and scheduling", new_mfu=0.18, earliest_start_month="2025-01",
            effect_delay_months=3, one_off_cost_usd=20e6, cost_usd_per_month=3e6,
            notes="article: inference MFU ~11%, held down by batching requests across thousands of concurrent "
            "sessions; assumption: continuous batching, request scheduling and prefix caching reach 18% MFU on "
            "every inference workload and GPU type (training, at 40%, is unchanged), 3 months to ship, $20M "
            "one-off (engineering and load-test capacity) and $3M a month (a serving team of ~25)",
        ),
        EfficiencyProgram(
            program_id="serving stack rewrite", new_mfu=0.25, earliest_start_month="2025-04",
            effect_delay_months=9, one_off_cost_usd=150e6, cost_usd_per_month=10e6,
            notes="article: 'closing the gap to even 25% MFU would meaningfully change the unit economics'; "
            "assumption: a rewrite (custom kernels, disaggregated prefill and decode, speculative decoding) "
            "reaches 25% MFU, later and dearer than batching: it can start once growth is known (2025-04), takes "
            "9 months, $150M one-off and $10M a month (a large team); with batching funded it adds 18% -> 25%",
        ),
    ]
    settings = Settings(
        first_month=FIRST_MONTH,
        months=MONTHS,
        discount_rate_per_year=0.10,
        hours_per_month=HOURS_PER_MONTH,
        default_mfu=INFERENCE_MFU,
        count_payments_beyond_horizon=True,
        mip_gap=MIP_GAP,
        reveal_month=REVEAL_MONTH,
        time_limit_seconds=SOLVE_TIME_LIMIT_SECONDS,
    )
    return Problem(
        settings=settings,
        workloads=workloads,
        scenarios=scenarios,
        demand=demand_rows(workloads),
        gpu_types=gpu_types,
        throughput=throughput,
        sites=sites,
        lease_offers=lease_offers,
        commitments=commitments,
        on_demand=on_demand,
        credits=credits,
        policies=policies,
        policy_effects=policy_effects,
        efficiency_programs=efficiency_programs,
    )


SETTINGS_NOTES = {
    "first_month": "article: the story starts in Q1 2025.",
    "months": "assumption: a 3-year view covers the leases' terms.",
    "discount_rate_per_year": "assumption: 10% cost of capital for a growth-stage lab.",
    "default_mfu": "article: inference MFU ~11%.",
    "mip_gap": "assumption: a plan proven within 0.1% of the lowest cost (about USD 13 million of 13 billion) is "
    "as good as optimal for a plan whose inputs are rounded; the efficiency programs make the cheapest lease "
    "schedule slower to prove (at 18-25% MFU the 1,024-GPU pods are coarse against the need), and 0.01% takes "
    "minutes rather than seconds.",
    "time_limit_seconds": "assumption: the plan solves in under a minute; the limit bounds each run of planner sweep, "
    "whose hardest points (inference MFU near 25-30%) stop at it with their best plan and its gap.",
    "reveal_month": "article: 80x annualized growth was visible within Q1 2025, so from April the plan knows "
    "its world and signs for it; leases signed before April are one decision for every scenario. Blank it "
    "to see the two-stage plan, which signs one schedule for every world (README).",
}

STORY = (
    "The Colossus 2025 example (see the notes on every row for sources and assumptions)",
    "A lab planned compute for 10x growth a year and saw 80x annualized growth within a quarter. The plan",
    "learns: from reveal_month (2025-04) it knows which world it is in; decisions before then are common.",
    "What the plan does (planner solve, mip_gap 1e-3; figures rounded):",
    "- Sign now, in every world: 3 H100 pods at Colossus from 2025-02 and 74 NeoCloud GB200 racks for 2026-01",
    "  (a 12-month lead time: signed in 2025-01); fund inference batching and scheduling from 2025-01 (18% MFU",
    "  from 2025-04, USD 128 million in the horizon).",
    "- 10x: from April, all 278 Colossus GB200 racks and H100 pods as demand grows, about 42,500 GPUs more;",
    "  no H200. Fund the serving stack rewrite from 2025-10 (25% MFU from 2026-07). About 91% of demand served.",
    "- 30x: the rewrite from 2025-04 (25% MFU from 2026-01) and about 205,000 GPUs more: every Colossus H100",
    "  pod and GB200 rack, most H200 pods, every NeoCloud rack. About 90% of demand served.",
    "- 80x: the rewrite from 2025-04 and everything on offer (all signed by 2026-11). About 48% served.",
    "Against the same plan with the programs switched off, the programs save about USD 9.6 billion in",
    "expectation: buying efficiency beats buying GPUs (without them the plan leases about 30,000 more GPUs).",
    "With reveal_month blank the plan funds both programs for every world and signs about 207,000 GPUs in",
    "every world (the two-stage hedge); it costs about 12% (USD 1.7 billion) more in expectation: the value",
    "of learning.",
)
"""README lines of the example: what the plan does in each world. tests/test_example.py (slow) checks
them against a solve."""


SWEEPS: tuple[dict[str, str], ...] = (
    {"sweep": "inference-mfu", "table": "Settings", "column": "default_mfu", "values": "0.15, 0.2, 0.25, 0.3, 0.4",
     "label": "inference MFU",
     "notes": "article: inference ran at ~11% MFU against 40%+ for training; 25% is a common target. default_mfu "
     "sets the throughput of every inference pair (training has its own Throughput rows at 40%)"},
    {"sweep": "h100-price", "table": "LeaseOffers", "rows": "COL-H100-12", "column": "price_usd_per_gpu_hour",
     "mode": "scale", "values": "0.7, 0.85, 1.15, 1.3", "label": "Colossus H100 price (x $2.60)",
     "notes": "article: ~$2.60 per GPU-hour; +/-30% brackets what a renegotiation or a tighter market would give"},
    {"sweep": "80x-probability", "table": "Scenarios", "rows": "80x", "column": "probability",
     "values": "0.1, 0.3, 0.4, 0.5", "label": "80x probability",
     "notes": "assumption: 0.2 in the base; the 10x and 30x scenarios share the rest in their 5:3 ratio"},
    {"sweep": "colossus-power", "table": "Sites", "rows": "Colossus", "column": "power_cap_mw",
     "values": "325, 350, 400, 450", "label": "Colossus power MW",
     "notes": "article: 300 MW today; an expansion to 450 MW is an assumption"},
)
"""The Sweeps sheet of the example: the questions its story raises (``planner sweep`` runs them)."""


def main() -> None:
    tables = problem_to_tables(build())
    settings = {row["parameter"]: row["value"] for row in tables.pop(Settings.TABLE)}
    workbook = build_workbook(settings, tables, SPARE_ROWS, SETTINGS_NOTES, SWEEPS)
    readme = workbook[README_SHEET]
    first = readme.max_row + 2
    for offset, line in enumerate(STORY):
        readme.cell(row=first + offset, column=1, value=line).font = Font(bold=offset == 0)
    save_atomically(workbook, OUTPUT)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
