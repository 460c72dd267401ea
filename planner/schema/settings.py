"""The Settings sheet: scalar parameters of a plan."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from planner.schema.fields import HOURS_PER_MONTH_DEFAULT, Month, YesNo, add_months


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


