"""One pydantic class per input table (a workbook sheet), in workbook order."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import (
    Field,
)

from planner.schema.fields import MAX_LEAD_TIME_MONTHS, MAX_TOKENS_PER_MONTH, Month, Name, NameList, Record, YesNo, ref


class Workload(Record):
    TABLE: ClassVar[str] = "Workloads"
    REQUIRED_ROWS: ClassVar[bool] = True
    DESCRIPTION: ClassVar[str] = "Demand classes (agentic coding, chat, batch API, training)."

    name: Name = Field(description="Workload name, used as a reference elsewhere.")
    revenue_usd_per_million_tokens: float = Field(
        ge=0, le=1e4, description="Value of serving a million tokens; prices throttled demand."
    )
    peak_to_average_ratio: float = Field(
        1.0, ge=1, le=20, description="Peak token rate / average rate; capacity is sized for the peak."
    )
    flops_per_token: float | None = Field(
        None, ge=1e6, le=1e15,
        description="Model FLOPs per token (about 2 x active parameters); for derived throughput.",
    )
    allowed_gpu_types: NameList = Field(
        default_factory=list,
        description="GPU types that may serve it, comma separated; blank = all (memory needs).",
        json_schema_extra=ref("GPUTypes"),
    )
    unserved_allowed: YesNo = Field(True, description="yes: demand may go unserved at a penalty.")
    unserved_penalty_usd_per_million_tokens: float | None = Field(
        None, ge=0, le=1e5, description="Cost of unserved demand; blank = the revenue per million tokens."
    )
    base_tokens_per_month: float | None = Field(
        None, ge=0, le=MAX_TOKENS_PER_MONTH,
        description="Demand in the first month; grown by each scenario's yearly multiple.",
    )


class Scenario(Record):
    TABLE: ClassVar[str] = "Scenarios"
    REQUIRED_ROWS: ClassVar[bool] = True
    DESCRIPTION: ClassVar[str] = "Growth scenarios; probabilities sum to 1. One row = deterministic."

    name: Name = Field(description="Scenario name.")
    probability: float = Field(gt=0, le=1, description="Probability; all rows sum to 1.")
    growth_multiple_per_year: float | None = Field(
        None, ge=0.001, le=1000, description="Compound yearly demand multiple (10 = 10x per year)."
    )


class DemandRow(Record):
    TABLE: ClassVar[str] = "Demand"
    KEY: ClassVar[str | None] = None
    DESCRIPTION: ClassVar[str] = (
        "Explicit demand; a (scenario, workload) with rows here must cover every month and "
        "overrides the base level x growth."
    )

    scenario: Name = Field(description="Scenario.", json_schema_extra=ref("Scenarios"))
    workload: Name = Field(description="Workload.", json_schema_extra=ref("Workloads"))
    month: Month = Field(description="Month (YYYY-MM).")
    tokens_per_month: float = Field(ge=0, le=MAX_TOKENS_PER_MONTH, description="Tokens demanded in the month.")


class GpuType(Record):
    TABLE: ClassVar[str] = "GPUTypes"
    REQUIRED_ROWS: ClassVar[bool] = True
    DESCRIPTION: ClassVar[str] = "Accelerator types."

    name: Name = Field(description="GPU type name (H100, H200, GB200).")
    peak_dense_bf16_tflops: float = Field(ge=1, le=1e5, description="Peak dense BF16 TFLOPS per GPU.")
    memory_gb: float = Field(gt=0, le=1e4, description="HBM per GPU.")
    power_kw_per_gpu: float = Field(ge=0.01, le=20, description="All-in IT power per GPU, server share included.")
    availability_factor: float = Field(
        1.0, ge=0.01, le=1, description="Usable fraction of nominal (maintenance, thermal derating)."
    )


class Throughput(Record):
    TABLE: ClassVar[str] = "Throughput"
    KEY: ClassVar[str | None] = None
    DESCRIPTION: ClassVar[str] = (
        "Tokens/s per GPU for a (GPU type, workload): give tokens_per_second_per_gpu, or mfu "
        "(then peak_TFLOPS x 1e12 x mfu / flops_per_token)."
    )

    gpu_type: Name = Field(description="GPU type.", json_schema_extra=ref("GPUTypes"))
    workload: Name = Field(description="Workload.", json_schema_extra=ref("Workloads"))
    tokens_per_second_per_gpu: float | None = Field(None, ge=0.01, le=1e7, description="Measured throughput.")
    mfu: float | None = Field(None, ge=0.001, le=1, description="Model FLOP utilisation (0.11 = 11%).")


class Site(Record):
    TABLE: ClassVar[str] = "Sites"
    DESCRIPTION: ClassVar[str] = "Data-centre sites with a power cap."

    name: Name = Field(description="Site name.")
    power_cap_mw: float = Field(gt=0, le=1e5, description="Facility power cap (grid side, PUE included).")
    pue: float = Field(1.0, ge=1, le=3, description="Power usage effectiveness (facility / IT power).")


class SitePower(Record):
    TABLE: ClassVar[str] = "SitePower"
    KEY: ClassVar[str | None] = None
    DESCRIPTION: ClassVar[str] = "Optional power-cap steps: the cap from this month on (until the next step)."

    site: Name = Field(description="Site.", json_schema_extra=ref("Sites"))
    from_month: Month = Field(description="First month of the new cap.")
    power_cap_mw: float = Field(gt=0, le=1e5, description="Facility power cap from that month.")


class LeaseOffer(Record):
    TABLE: ClassVar[str] = "LeaseOffers"
    KEY: ClassVar[str | None] = "offer_id"
    DESCRIPTION: ClassVar[str] = "Lease blocks one may sign: take-or-pay for the whole term."

    offer_id: Name = Field(description="Offer id.")
    provider: Name = Field(description="Provider (lessor).")
    site: Name = Field(description="Site the GPUs sit in.", json_schema_extra=ref("Sites"))
    gpu_type: Name = Field(description="GPU type.", json_schema_extra=ref("GPUTypes"))
    gpus_per_block: int = Field(gt=0, le=1_000_000, description="GPUs per block (8 node, 72 NVL72 rack, 1024 pod).")
    price_usd_per_gpu_hour: float = Field(ge=0, le=1000, description="Lease price per GPU-hour.")
    term_months: int = Field(gt=0, le=240, description="Lease term.")
    earliest_start_month: Month = Field(description="First month a block can start (lead time).")
    latest_start_month: Month = Field(description="Last month a block can start.")
    min_blocks: int = Field(0, ge=0, le=1_000_000, description="If used at all, at least this many blocks in total.")
    max_blocks: int = Field(gt=0, le=1_000_000, description="At most this many blocks in total (supply cap).")
    upfront_usd_per_block: float = Field(0.0, ge=0, le=1e10, description="One-off payment per block at signing.")
    lead_time_months: int = Field(
        0, ge=0, le=MAX_LEAD_TIME_MONTHS,
        description="Months from signing to the first month of service: a block starting in month k is "
        "signed in month k - lead time. Starts that would be signed before the first month are not offered.",
    )


class Commitment(Record):
    TABLE: ClassVar[str] = "Commitments"
    KEY: ClassVar[str | None] = "commitment_id"
    DESCRIPTION: ClassVar[str] = "Capacity already signed: counted, not chosen."

    commitment_id: Name = Field(description="Commitment id.")
    provider: Name = Field(description="Provider.")
    site: Name = Field(description="Site.", json_schema_extra=ref("Sites"))
    gpu_type: Name = Field(description="GPU type.", json_schema_extra=ref("GPUTypes"))
    gpus: int = Field(gt=0, le=10_000_000, description="GPUs committed.")
    start_month: Month = Field(description="First month (may be before the horizon).")
    end_month: Month = Field(description="Last month (inclusive).")
    price_usd_per_gpu_hour: float = Field(ge=0, le=1000, description="Price per GPU-hour.")


class OnDemand(Record):
    TABLE: ClassVar[str] = "OnDemand"
    KEY: ClassVar[str | None] = "option_id"
    DESCRIPTION: ClassVar[str] = "On-demand cloud: rented month by month, no commitment."

    option_id: Name = Field(description="Option id.")
    provider: Name = Field(description="Cloud provider.")
    gpu_type: Name = Field(description="GPU type.", json_schema_extra=ref("GPUTypes"))
    price_usd_per_gpu_hour: float = Field(ge=0, le=1000, description="On-demand price per GPU-hour.")
    max_gpus: int = Field(ge=0, le=10_000_000, description="Most GPUs obtainable in any month.")


class Credit(Record):
    TABLE: ClassVar[str] = "Credits"
    KEY: ClassVar[str | None] = "credit_id"
    DESCRIPTION: ClassVar[str] = "Cloud credits: pay eligible spend inside the window; lost at expiry."

    credit_id: Name = Field(description="Credit id.")
    provider: Name = Field(description="Provider whose spend the credit pays.")
    amount_usd: float = Field(gt=0, le=1e12, description="Credit amount.")
    valid_from_month: Month = Field(description="First month the credit can be used.")
    expiry_month: Month = Field(description="Last month the credit can be used (inclusive).")
    applies_to: Literal["on_demand", "leases", "all"] = Field(
        "on_demand", description="Eligible spend with the provider: on_demand, leases, or all."
    )


class Policy(Record):
    TABLE: ClassVar[str] = "Policies"
    DESCRIPTION: ClassVar[str] = "Rate-limit policies; exactly one is in force each month."

    name: Name = Field(description="Policy name.")
    goodwill_cost_usd_per_month: float = Field(0.0, ge=0, le=1e10, description="Goodwill cost per month in force.")


class PolicyEffect(Record):
    TABLE: ClassVar[str] = "PolicyEffects"
    KEY: ClassVar[str | None] = None
    DESCRIPTION: ClassVar[str] = "Effect of a policy on a workload; a missing row means no effect."

    policy: Name = Field(description="Policy.", json_schema_extra=ref("Policies"))
    workload: Name = Field(description="Workload.", json_schema_extra=ref("Workloads"))
    admitted_fraction: float = Field(1.0, gt=0, le=1, description="Share of demand admitted.")
    peak_to_average_multiplier: float = Field(
        1.0, ge=0.01, le=5, description="Multiplies the workload's peak-to-average ratio (peak-hour limits < 1)."
    )


class EfficiencyProgram(Record):
    TABLE: ClassVar[str] = "EfficiencyPrograms"
    KEY: ClassVar[str | None] = "program_id"
    DESCRIPTION: ClassVar[str] = (
        "Optional serving-efficiency programs (batching, kernels, a serving-stack rewrite): funding that raises "
        "the throughput of (GPU type, workload) pairs from a month on. The plan decides whether and when to "
        "fund each: buy efficiency or buy GPUs."
    )

    program_id: Name = Field(description="Program id.")
    gpu_types: NameList = Field(
        default_factory=list, description="GPU types it improves, comma separated; blank or * = every type.",
        json_schema_extra=ref("GPUTypes"),
    )
    workloads: NameList = Field(
        default_factory=list, description="Workloads it improves, comma separated; blank or * = every workload.",
        json_schema_extra=ref("Workloads"),
    )
    mfu_multiplier: float | None = Field(
        None, gt=1, le=10, description="Effect as a multiple of today's MFU (1.5 = 50% more tokens per GPU).")
    new_mfu: float | None = Field(
        None, ge=0.001, le=1,
        description="Effect as the MFU reached (0.25 = 25%); pairs already at or above it are unchanged.",
    )
    earliest_start_month: Month = Field(description="First month the program can start (be funded).")
    latest_start_month: Month | None = Field(
        None, description="Last month it can start; blank = as late as it still takes effect in the horizon.")
    effect_delay_months: int = Field(
        0, ge=0, le=60, description="Months from the start until the improvement is in service.")
    one_off_cost_usd: float = Field(0.0, ge=0, le=1e11, description="Paid in the start month.")
    cost_usd_per_month: float = Field(
        0.0, ge=0, le=1e10, description="Paid every month from the start month to the end of the horizon.")
    decided: Literal["first_stage", "per_scenario"] = Field(
        "first_stage",
        description="first_stage: one decision for every scenario that cannot yet be told apart in the start "
        "month (like a lease); per_scenario: each scenario decides with its demand known (like on-demand).",
    )


TABLES: tuple[type[Record], ...] = (
    Workload,
    Scenario,
    DemandRow,
    GpuType,
    Throughput,
    Site,
    SitePower,
    LeaseOffer,
    Commitment,
    OnDemand,
    Credit,
    Policy,
    PolicyEffect,
    EfficiencyProgram,
)
"""Every table in workbook order (after Settings); ``Problem`` has one list field per table."""

TABLE_FIELD: dict[str, str] = {
    "Workloads": "workloads",
    "Scenarios": "scenarios",
    "Demand": "demand",
    "GPUTypes": "gpu_types",
    "Throughput": "throughput",
    "Sites": "sites",
    "SitePower": "site_power",
    "LeaseOffers": "lease_offers",
    "Commitments": "commitments",
    "OnDemand": "on_demand",
    "Credits": "credits",
    "Policies": "policies",
    "PolicyEffects": "policy_effects",
    "EfficiencyPrograms": "efficiency_programs",
}
"""Sheet name -> ``Problem`` attribute."""


