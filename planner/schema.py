"""The input data model: one pydantic v2 class per workbook table, plus the validated ``Problem``.

This module is the single source of truth for the input. Table names are sheet names, field names
are column headers (units in every name), field descriptions become the template's notes, and
``ref=`` / ``Literal`` metadata become the template's dropdowns. The workbook reader and the template
writer both read these classes; nothing here knows about Excel.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from planner.errors import InputError, InputIssue, describe

SCHEMA_VERSION = "1.0"
HOURS_PER_MONTH_DEFAULT = 730.0
PROBABILITY_TOLERANCE = 1e-6
MAX_TOKENS_PER_MONTH = 1e19
"""Most tokens a month one cell may hold. The model counts tokens in trillions (Ttok), and demand sits
in the same row as the unit coefficient of served tokens: 1e19 tokens is 1e7 Ttok, the widest range
the solver handles well (see ``planner/numerics.py``), and a million times any lab's demand today."""
MAX_LEAD_TIME_MONTHS = 60
"""Longest lead time from signing to first service an offer may state: five years covers a new build."""

_MONTH_TEXT = re.compile(r"^\s*(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[ T].*)?\s*$")


def parse_month(value: Any) -> str:
    """Normalise a month given as ``YYYY-MM``, ``YYYY-MM-DD``, a date or a datetime to ``YYYY-MM``."""
    if isinstance(value, dt.datetime | dt.date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, str):
        match = _MONTH_TEXT.match(value)
        if match:
            year, month = int(match.group(1)), int(match.group(2))
            if 1 <= month <= 12:
                return f"{year:04d}-{month:02d}"
    raise ValueError("a month as YYYY-MM (e.g. 2025-03) or an Excel date")


def month_offset(month: str, first_month: str) -> int:
    """Whole months from ``first_month`` to ``month`` (both ``YYYY-MM``); negative if before."""
    year, mon = (int(part) for part in month.split("-"))
    year0, mon0 = (int(part) for part in first_month.split("-"))
    return (year - year0) * 12 + (mon - mon0)


def add_months(first_month: str, offset: int) -> str:
    """The ``YYYY-MM`` label ``offset`` months after ``first_month``."""
    year0, mon0 = (int(part) for part in first_month.split("-"))
    total = year0 * 12 + (mon0 - 1) + offset
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def _split_names(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,;]", value) if part.strip()]
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _yes_no(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"yes", "y", "true", "1"}:
            return True
        if text in {"no", "n", "false", "0"}:
            return False
    return value


Month = Annotated[str, BeforeValidator(parse_month)]
Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[^\s].*$")]
NameList = Annotated[list[str], BeforeValidator(_split_names)]
YesNo = Annotated[bool, BeforeValidator(_yes_no)]


def ref(table: str) -> dict[str, str]:
    """Field metadata: this column refers to the ``name``/id column of ``table`` (a dropdown)."""
    return {"ref": table}


class Record(BaseModel):
    """A row of an input table. ``TABLE`` is the sheet name, ``KEY`` the id column (or None)."""

    # allow_inf_nan=False: "inf" or "nan" typed in a number cell is an input error, not a number.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)
    TABLE: ClassVar[str] = ""
    KEY: ClassVar[str | None] = "name"
    REQUIRED_ROWS: ClassVar[bool] = False
    DESCRIPTION: ClassVar[str] = ""

    notes: str | None = Field(None, description="Free text: source, assumption, reasoning.")

    @model_validator(mode="before")
    @classmethod
    def _blank_cells_are_missing(cls, data: Any) -> Any:
        # A blank Excel cell means "not given": let the field default apply.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if _blank_to_none(value) is not None}
        return data


class Settings(BaseModel):
    """Scalar parameters: the Settings sheet (parameter / value / unit / notes)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    TABLE: ClassVar[str] = "Settings"

    first_month: Month = Field(description="First planning month (YYYY-MM).")
    months: int = Field(ge=1, le=240, description="Number of monthly periods in the horizon.")
    discount_rate_per_year: float = Field(
        0.08, ge=0.0, lt=1.0, description="Annual discount rate for NPV (0.08 = 8%)."
    )
    hours_per_month: float = Field(
        HOURS_PER_MONTH_DEFAULT, ge=1, le=744, description="Billable hours in a month (8760 / 12 = 730)."
    )
    default_mfu: float | None = Field(
        None,
        ge=0.001,
        le=1,
        description="MFU used for any allowed (GPU type, workload) pair without a Throughput row.",
    )
    max_total_commitment_usd: float | None = Field(
        None, gt=0, le=1e13, description="Cap on the total of new lease commitments (all payments, undiscounted)."
    )
    max_provider_share: float | None = Field(
        None, ge=0.01, le=1,
        description="Cap on any one provider's share of the money paid to providers in the horizon: lease "
        "payments, upfront, existing commitments and on-demand spend, before credits.",
    )
    count_payments_beyond_horizon: YesNo = Field(
        True,
        description="Count take-or-pay payments due after the horizon in the cost: new leases' remaining "
        "payments and existing commitments' payments to their end month. Payments before the first month "
        "are sunk and never counted.",
    )
    cvar_weight: float = Field(0.0, ge=0, le=1, description="Weight omega of CVaR in the objective.")
    cvar_alpha: float = Field(0.9, ge=0, lt=1, description="CVaR level alpha (0.9 = worst 10%).")
    time_limit_seconds: float = Field(600.0, gt=0, le=604_800, description="Solver time limit.")
    mip_gap: float = Field(1e-4, ge=0, lt=1, description="Relative MIP gap at which to stop.")
    reveal_month: Month | None = Field(
        None,
        description="Month from which the plan knows which scenario is unfolding (YYYY-MM). Lease signings "
        "before it are one decision for every scenario; from it on each scenario signs its own. Blank = "
        "never: every signing is decided now for all scenarios (two-stage).",
    )
    objective: Literal["min_cost", "max_value_within_budget"] = Field(
        "min_cost",
        description="min_cost: the cheapest plan that serves the forecast (cash plus the value of demand not "
        "served). max_value_within_budget: the plan that earns the most from tokens served less cash cost, "
        "within max_cash_spend_usd and/or max_total_commitment_usd (one of them is required).",
    )
    max_cash_spend_usd: float | None = Field(
        None, gt=0, le=1e13,
        description="Cap on the cash paid inside the horizon in every scenario, nominal (undiscounted): lease "
        "payments and upfront, existing commitments, on-demand, efficiency programs, less credits.",
    )

    UNITS: ClassVar[dict[str, str]] = {
        "first_month": "YYYY-MM",
        "months": "months",
        "discount_rate_per_year": "fraction per year",
        "hours_per_month": "hours",
        "default_mfu": "fraction",
        "max_total_commitment_usd": "USD",
        "max_provider_share": "fraction",
        "count_payments_beyond_horizon": "yes/no",
        "cvar_weight": "fraction",
        "cvar_alpha": "fraction",
        "time_limit_seconds": "seconds",
        "mip_gap": "fraction",
        "reveal_month": "YYYY-MM",
        "objective": "",
        "max_cash_spend_usd": "USD",
    }

    @field_validator("reveal_month")
    @classmethod
    def _reveal_inside_horizon(cls, month: str | None, info: ValidationInfo) -> str | None:
        first, months = info.data.get("first_month"), info.data.get("months")
        if month is None or first is None or months is None:
            return month  # an invalid horizon is reported on its own
        last = add_months(first, months - 1)
        if not first <= month <= last:
            raise ValueError(f"a month from {first} to {last} (the horizon), or blank for never")
        return month


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


class _Memo:
    """A cache slot on a frozen model that takes no part in its equality (two problems with the same
    data are equal whether or not either has filled its cache)."""

    __slots__ = ("value",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self) -> None:
        self.value: Any = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Memo)


class Problem(BaseModel):
    """A complete, validated planning problem. Construction checks every cross-table rule and
    raises :class:`InputError` with all issues found (located by table, row index and column)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    settings: Settings
    workloads: list[Workload]
    scenarios: list[Scenario]
    demand: list[DemandRow] = []
    gpu_types: list[GpuType]
    throughput: list[Throughput] = []
    sites: list[Site] = []
    site_power: list[SitePower] = []
    lease_offers: list[LeaseOffer] = []
    commitments: list[Commitment] = []
    on_demand: list[OnDemand] = []
    credits: list[Credit] = []
    policies: list[Policy] = []
    policy_effects: list[PolicyEffect] = []
    efficiency_programs: list[EfficiencyProgram] = []

    _demand_index: _Memo = PrivateAttr(default_factory=_Memo)
    """(the Demand rows and first month it was built from, (scenario, workload) -> month -> tokens)."""

    @model_validator(mode="after")
    def _cross_table_rules(self) -> Problem:
        issues = cross_table_issues(self)
        if issues:
            raise InputError(issues)
        return self

    # ---- horizon -------------------------------------------------------------------------------
    @property
    def month_labels(self) -> list[str]:
        return [add_months(self.settings.first_month, t) for t in range(self.settings.months)]

    def month_index(self, month: str) -> int:
        """0-based month index in the horizon (may be outside ``0..months-1``)."""
        return month_offset(month, self.settings.first_month)

    def discount_factor(self, month_index: int) -> float:
        """Present-value factor of a payment in month ``month_index``: (1 + r)^(-t/12)."""
        return (1.0 + self.settings.discount_rate_per_year) ** (-month_index / 12.0)

    # ---- derived data used by the model --------------------------------------------------------
    @property
    def providers(self) -> list[str]:
        names = [o.provider for o in self.lease_offers] + [c.provider for c in self.commitments]
        names += [o.provider for o in self.on_demand]
        return list(dict.fromkeys(names))

    def allowed_gpu_types(self, workload: Workload) -> list[str]:
        return list(workload.allowed_gpu_types) or [g.name for g in self.gpu_types]

    def tokens_per_second_per_gpu(self, gpu_type: str, workload: str) -> float | None:
        """Throughput of one GPU on one workload: given, or peak_TFLOPS*1e12*MFU/flops_per_token."""
        gpu = _by_name(self.gpu_types)[gpu_type]
        wl = _by_name(self.workloads)[workload]
        for row in self.throughput:
            if row.gpu_type == gpu_type and row.workload == workload:
                if row.tokens_per_second_per_gpu is not None:
                    return row.tokens_per_second_per_gpu
                return _derived_throughput(gpu.peak_dense_bf16_tflops, row.mfu, wl.flops_per_token)
        return _derived_throughput(gpu.peak_dense_bf16_tflops, self.settings.default_mfu, wl.flops_per_token)

    def mfu(self, gpu_type: str, workload: str) -> float | None:
        """Today's MFU of one GPU on one workload: given, Settings default_mfu, or from a measured
        throughput and the workload's FLOPs per token (None when it cannot be known)."""
        gpu = _by_name(self.gpu_types)[gpu_type]
        wl = _by_name(self.workloads)[workload]
        for row in self.throughput:
            if row.gpu_type == gpu_type and row.workload == workload:
                if row.mfu is not None:
                    return row.mfu
                if wl.flops_per_token is None or row.tokens_per_second_per_gpu is None:
                    return None
                return row.tokens_per_second_per_gpu * wl.flops_per_token / (gpu.peak_dense_bf16_tflops * 1e12)
        return self.settings.default_mfu

    def demand_tokens(self, scenario: str, workload: str) -> list[float]:
        """Tokens demanded per month of the horizon for one (scenario, workload)."""
        explicit = self._explicit_demand().get((scenario, workload))
        months = self.settings.months
        if explicit:
            return [explicit.get(t, 0.0) for t in range(months)]
        base = _by_name(self.workloads)[workload].base_tokens_per_month or 0.0
        growth = _by_name(self.scenarios)[scenario].growth_multiple_per_year or 1.0
        return [base * growth ** (t / 12.0) for t in range(months)]

    def _explicit_demand(self) -> dict[tuple[str, str], dict[int, float]]:
        """The Demand rows by (scenario, workload) and month index, indexed once (a copy of the problem
        with other rows or another first month indexes its own)."""
        cached = self._demand_index.value
        if cached is not None and cached[0] is self.demand and cached[1] == self.settings.first_month:
            return cached[2]
        index: dict[tuple[str, str], dict[int, float]] = {}
        for row in self.demand:
            index.setdefault((row.scenario, row.workload), {})[self.month_index(row.month)] = row.tokens_per_month
        self._demand_index.value = (self.demand, self.settings.first_month, index)
        return index

    def power_cap_mw(self, site: str) -> list[float]:
        """Facility power cap per month of the horizon, with SitePower steps applied."""
        cap = _by_name(self.sites)[site].power_cap_mw
        steps = sorted((self.month_index(s.from_month), s.power_cap_mw) for s in self.site_power if s.site == site)
        caps = []
        for t in range(self.settings.months):
            for start, value in steps:
                if start <= t:
                    cap = value
            caps.append(cap)
        return caps

    def effective_policies(self) -> list[Policy]:
        """The policies to choose from; with none given, one implicit policy without limits."""
        return list(self.policies) or [Policy(name="no limits", goodwill_cost_usd_per_month=0.0)]

    def policy_effect(self, policy: str, workload: str) -> tuple[float, float]:
        """(admitted fraction, peak-to-average multiplier) of a policy on a workload."""
        for row in self.policy_effects:
            if row.policy == policy and row.workload == workload:
                return row.admitted_fraction, row.peak_to_average_multiplier
        return 1.0, 1.0


def _derived_throughput(tflops: float, mfu: float | None, flops_per_token: float | None) -> float | None:
    if mfu is None or flops_per_token is None:
        return None
    return tflops * 1e12 * mfu / flops_per_token


def _by_name(rows: Iterable[Any]) -> dict[str, Any]:
    return {row.name: row for row in rows}


def _key(record: Record) -> str | None:
    return getattr(record, record.KEY) if record.KEY else None


def cross_table_issues(problem: Problem) -> list[InputIssue]:
    """Every rule that spans rows or tables: unique ids, references, windows, coverage, sums."""
    issues: list[InputIssue] = []
    s = problem.settings
    first, last = s.first_month, add_months(s.first_month, s.months - 1)

    def add(table: str, index: int | None, column: str, found: Any, expected: str) -> None:
        issues.append(InputIssue(table, column, describe(found), expected, row_index=index))

    def rows(table: str) -> list[Record]:
        return getattr(problem, TABLE_FIELD[table])

    # Required tables and unique keys.
    for cls in TABLES:
        table_rows = rows(cls.TABLE)
        if cls.REQUIRED_ROWS and not table_rows:
            add(cls.TABLE, None, cls.KEY or "", "an empty table", "at least one row")
        if cls.KEY:
            counts = Counter(_key(r) for r in table_rows)
            for i, r in enumerate(table_rows):
                if counts[_key(r)] > 1:
                    add(cls.TABLE, i, cls.KEY, _key(r), f"a unique {cls.KEY} (it appears {counts[_key(r)]} times)")

    names = {cls.TABLE: {_key(r) for r in rows(cls.TABLE)} for cls in TABLES if cls.KEY == "name"}

    def check_ref(table: str, index: int, column: str, value: str, target: str) -> None:
        if value not in names[target]:
            known = ", ".join(sorted(names[target])) or "none defined"
            add(table, index, column, value, f"one of the {target} names ({known})")

    def check_month(table: str, index: int, column: str, month: str, earliest: str = first) -> None:
        if not (earliest <= month <= last):
            add(table, index, column, month, f"a month from {earliest} to {last} (the horizon)")

    # References, per table.
    for i, w in enumerate(problem.workloads):
        for gpu in w.allowed_gpu_types:
            check_ref("Workloads", i, "allowed_gpu_types", gpu, "GPUTypes")
    for i, d in enumerate(problem.demand):
        check_ref("Demand", i, "scenario", d.scenario, "Scenarios")
        check_ref("Demand", i, "workload", d.workload, "Workloads")
        check_month("Demand", i, "month", d.month)
    for i, t in enumerate(problem.throughput):
        check_ref("Throughput", i, "gpu_type", t.gpu_type, "GPUTypes")
        check_ref("Throughput", i, "workload", t.workload, "Workloads")
        if (t.tokens_per_second_per_gpu is None) == (t.mfu is None):
            add("Throughput", i, "mfu", t.mfu, "exactly one of tokens_per_second_per_gpu and mfu")
    for i, p in enumerate(problem.site_power):
        check_ref("SitePower", i, "site", p.site, "Sites")
        check_month("SitePower", i, "from_month", p.from_month)
    for i, o in enumerate(problem.lease_offers):
        check_ref("LeaseOffers", i, "site", o.site, "Sites")
        check_ref("LeaseOffers", i, "gpu_type", o.gpu_type, "GPUTypes")
        check_month("LeaseOffers", i, "earliest_start_month", o.earliest_start_month)
        check_month("LeaseOffers", i, "latest_start_month", o.latest_start_month)
        if o.latest_start_month < o.earliest_start_month:
            add("LeaseOffers", i, "latest_start_month", o.latest_start_month,
                f"a month on or after earliest_start_month {o.earliest_start_month}")
        if o.min_blocks > o.max_blocks:
            add("LeaseOffers", i, "min_blocks", o.min_blocks, f"at most max_blocks ({o.max_blocks})")
        latest_signing = month_offset(o.latest_start_month, first)
        if first <= o.earliest_start_month <= o.latest_start_month <= last and o.lead_time_months > latest_signing:
            add("LeaseOffers", i, "lead_time_months", o.lead_time_months,
                f"at most {latest_signing} months (latest_start_month {o.latest_start_month} less lead_time_months "
                f"must be {first} or later): no start of this offer can be signed inside the horizon; a block "
                "signed before it is a Commitment")
    for i, c in enumerate(problem.commitments):
        check_ref("Commitments", i, "site", c.site, "Sites")
        check_ref("Commitments", i, "gpu_type", c.gpu_type, "GPUTypes")
        if c.end_month < c.start_month:
            add("Commitments", i, "end_month", c.end_month, f"a month on or after start_month {c.start_month}")
        elif c.end_month < first or c.start_month > last:
            add("Commitments", i, "end_month", c.end_month, f"a window that overlaps the horizon {first}..{last}")
    for i, od in enumerate(problem.on_demand):
        check_ref("OnDemand", i, "gpu_type", od.gpu_type, "GPUTypes")
    providers = set(problem.providers)
    for i, cr in enumerate(problem.credits):
        if cr.provider not in providers:
            known = ", ".join(sorted(providers)) or "none defined"
            add("Credits", i, "provider", cr.provider,
                f"a provider of a lease offer, commitment or on-demand option ({known})")
        if cr.expiry_month < cr.valid_from_month:
            add("Credits", i, "expiry_month", cr.expiry_month,
                f"a month on or after valid_from_month {cr.valid_from_month}")
        elif cr.expiry_month < first or cr.valid_from_month > last:
            add("Credits", i, "expiry_month", cr.expiry_month, f"a window that overlaps the horizon {first}..{last}")
    for i, e in enumerate(problem.policy_effects):
        check_ref("PolicyEffects", i, "policy", e.policy, "Policies")
        check_ref("PolicyEffects", i, "workload", e.workload, "Workloads")

    # Overlaps: one row per combination.
    _duplicates(problem.demand, lambda d: (d.scenario, d.workload, d.month), "Demand", "month",
                "one row per (scenario, workload, month)", add)
    _duplicates(problem.throughput, lambda t: (t.gpu_type, t.workload), "Throughput", "workload",
                "one row per (gpu_type, workload)", add)
    _duplicates(problem.site_power, lambda p: (p.site, p.from_month), "SitePower", "from_month",
                "one step per (site, from_month)", add)
    _duplicates(problem.policy_effects, lambda e: (e.policy, e.workload), "PolicyEffects", "workload",
                "one row per (policy, workload)", add)

    # Probabilities.
    total = sum(sc.probability for sc in problem.scenarios)
    if problem.scenarios and not math.isclose(total, 1.0, abs_tol=PROBABILITY_TOLERANCE):
        add("Scenarios", len(problem.scenarios) - 1, "probability", f"a sum of {total:g}", "probabilities summing to 1")

    # Demand coverage: explicit rows for every month, or base level x growth.
    workloads = _by_name(problem.workloads)
    explicit = Counter((d.scenario, d.workload) for d in problem.demand)
    for j, sc in enumerate(problem.scenarios):
        for i, w in enumerate(problem.workloads):
            n = explicit[(sc.name, w.name)]
            if n:
                if n < s.months and n == len({d.month for d in problem.demand
                                               if d.scenario == sc.name and d.workload == w.name}):
                    add("Demand", None, "month", f"{n} months for ({sc.name}, {w.name})",
                        f"all {s.months} months of the horizon, or none (then base x growth applies)")
            elif w.base_tokens_per_month is None:
                add("Workloads", i, "base_tokens_per_month", None,
                    f"a base level (scenario {sc.name} has no Demand rows for {w.name})")
            elif sc.growth_multiple_per_year is None:
                add("Scenarios", j, "growth_multiple_per_year", None,
                    f"a yearly growth multiple (needed for {w.name}, which has no Demand rows)")

    # Throughput for every allowed pair.
    for i, w in enumerate(problem.workloads):
        for gpu in problem.allowed_gpu_types(w):
            if gpu not in names["GPUTypes"] or w.name not in workloads:
                continue
            given = [t for t in problem.throughput if t.gpu_type == gpu and t.workload == w.name]
            if given and given[0].tokens_per_second_per_gpu is not None:
                continue
            mfu = given[0].mfu if given else s.default_mfu
            if mfu is None:
                add("Throughput", None, "tokens_per_second_per_gpu", f"no row for ({gpu}, {w.name})",
                    "a Throughput row for every allowed (gpu_type, workload), or Settings default_mfu")
            elif w.flops_per_token is None:
                add("Workloads", i, "flops_per_token", None,
                    f"FLOPs per token (needed to derive {gpu} throughput from MFU)")

    # Capacity must come from somewhere.
    if not (problem.lease_offers or problem.commitments or problem.on_demand):
        add("LeaseOffers", None, "offer_id", "no lease offers, commitments or on-demand options",
            "at least one source of capacity")
    if s.objective == "max_value_within_budget" and s.max_cash_spend_usd is None and s.max_total_commitment_usd is None:
        add(Settings.TABLE, None, "objective", s.objective,
            "a budget to maximise value within: max_cash_spend_usd and/or max_total_commitment_usd (or min_cost)")
    from planner.programs import program_issues  # programs.py reads Problem: imported here, not at the top

    return issues + program_issues(problem)


def _duplicates(rows: list[Any], key: Any, table: str, column: str, expected: str, add: Any) -> None:
    counts = Counter(key(r) for r in rows)
    for i, r in enumerate(rows):
        if counts[key(r)] > 1:
            add(table, i, column, getattr(r, column), expected)
