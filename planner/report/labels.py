"""Headers and number formats of report columns: readable words with the unit in brackets.

A column's header is its entry in :data:`LABELS`, else its name in words with the unit its name
ends with (:mod:`planner.units`); shares are shown as percentages. Its number format follows the
same unit table, with the few exceptions in :data:`FORMATS`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from planner.excel.formats import COUNT, GAP, PERCENT, PRICE
from planner.excel.layout import Table
from planner.units import GPU_COUNT, unit_of

PERCENT_COLUMNS = frozenset({
    "utilisation", "share_of_cap", "probability", "mfu", "availability_factor", "admitted_fraction",
    "served_share", "mean_utilisation", "peak_power_share", "default_mfu", "discount_rate_per_year",
    "max_provider_share", "cvar_weight", "cvar_alpha", "throttled_share", "unserved_share",
})
"""Fractions shown as percentages (0.11 displays as 11.0%)."""

FORMATS: dict[str, str | None] = {
    "usd_per_million_tokens": PRICE, "value_usd": PRICE, "leases_signed": COUNT, "mip_gap": GAP,
}
"""Columns whose format does not follow from the unit their name ends with."""

CATEGORY_LABELS = {
    "leases": "Leases", "upfront": "Upfront", "commitments": "Existing commitments",
    "on_demand": "On-demand cloud", "credits": "Credits", "efficiency": "Efficiency programs",
    "throttling": "Revenue lost to throttling",
    "unserved": "Unserved demand penalty", "goodwill": "Goodwill",
}

LABELS: dict[str, str] = {
    # shared keys
    "scenario": "Scenario", "month": "Month", "gpu_type": "GPU type", "site": "Site", "provider": "Provider",
    "workload": "Workload", "policy": "Policy", "category": "Category", "notes": "Notes", "name": "Name",
    "offer_id": "Offer", "option_id": "On-demand option", "credit_id": "Credit", "commitment_id": "Commitment",
    "in_horizon": "In horizon (yes/no)", "probability": "Probability (%)", "unit": "Unit",
    "item": "Item", "value": "Value", "parameter": "Parameter", "description": "Description",
    # leases
    "start_month": "Start month", "end_month": "End month", "term_months": "Term (months)",
    "blocks": "Blocks (count)", "gpus": "GPUs (count)", "price_usd_per_gpu_hour": "Price (USD/GPU-hour)",
    "monthly_payment_usd": "Monthly payment (USD)", "upfront_usd": "Upfront (USD)",
    "total_commitment_usd": "Total commitment (USD)", "payment_usd": "Payment (USD)",
    "leases_signed": "Leases paying (count)",
    # capacity
    "gpus_installed": "Installed (GPUs)", "gpus_usable": "Usable (GPUs)", "gpus_used": "Used (GPUs)",
    "gpus_idle": "Idle (GPUs)", "utilisation": "Utilisation (%)", "gpus_unavailable": "Unavailable (GPUs)",
    "unused_at_horizon_end_usd": "Unused at horizon end (USD)",
    "committed_gpus": "Committed (GPUs)", "used_committed_gpus": "Used of committed (GPUs)",
    "on_demand_gpus": "On-demand (GPUs)", "in_use_gpus": "In use incl. on-demand (GPUs)",
    "idle_gpus": "Idle (GPUs)",
    # tokens, policies
    "demand_tokens": "Demand (T tokens)", "served_tokens": "Served (T tokens)",
    "throttled_tokens": "Throttled (T tokens)", "unserved_tokens": "Unserved (T tokens)",
    "throttling_cost_usd": "Revenue lost to throttling (USD)", "unserved_cost_usd": "Unserved penalty (USD)",
    "goodwill_usd": "Goodwill cost (USD)", "served_share": "Served (% of demand)",
    "throttled_share": "Throttled (% of demand)", "unserved_share": "Unserved (% of demand)",
    "cost_npv_usd": "Cost (USD, NPV)", "one_off_cost_usd": "One-off cost (USD)", "program_id": "Program",
    "gpu_types": "GPU types",
    "value_npv_usd": "Value (USD, NPV)", "value_of_one_more_usd": "One more dollar of budget is worth (USD)",
    "cash_npv_usd": "Cash cost (USD, NPV)", "demand_not_served_npv_usd": "Demand not served (USD, NPV)",
    "cash_nominal_usd": "Cash paid (USD, nominal)",
    # cloud and credits
    "applied_usd": "Applied (USD)", "remaining_usd": "Remaining (USD)", "expiry_month": "Expiry month",
    "amount_usd": "Amount (USD)", "expired_unused_usd": "Expired unused (USD)",
    # power
    "draw_mw": "Draw (MW)", "cap_mw": "Cap (MW)", "share_of_cap": "Share of cap (%)",
    # costs, scenarios
    "cost_usd": "Cost (USD)", "discounted_usd": "Discounted (USD, NPV)", "npv_usd": "NPV (USD)",
    "nominal_usd": "Nominal (USD)", "total_usd": "Total (USD)", "spend_usd": "Compute spend (USD)",
    "usd_per_million_tokens": "Compute cost (USD/M tokens)", "on_demand_cost_usd": "On-demand cost (USD)",
    "revenue_lost_usd": "Revenue lost to throttling (USD)", "mean_utilisation": "Mean utilisation (%)",
    "peak_power_share": "Peak power (% of cap)", "credits_expired_usd": "Credits expired unused (USD)",
    # marginal values, regret
    "resource": "Resource", "value_usd": "Value (USD per unit)",
    "plan": "Plan", "best_cost_usd": "Best cost for scenario (USD)", "regret_usd": "Regret (USD)",
    "expected_cost_usd": "Expected cost (USD)", "cvar_usd": "CVaR (USD)",
    "objective_usd": "Objective, risk-adjusted (USD)",
    # inputs
    "revenue_usd_per_million_tokens": "Revenue (USD/M tokens)",
    "peak_to_average_ratio": "Peak-to-average ratio (x)", "flops_per_token": "Model FLOPs (FLOP/token)",
    "allowed_gpu_types": "Allowed GPU types", "unserved_allowed": "Unserved allowed (yes/no)",
    "unserved_penalty_usd_per_million_tokens": "Unserved penalty (USD/M tokens)",
    "base_tokens_per_month": "Base demand (T tokens/month)", "growth_multiple_per_year": "Growth (x/year)",
    "tokens_per_month": "Demand (T tokens/month)", "peak_dense_bf16_tflops": "Peak dense BF16 (TFLOPS)",
    "memory_gb": "Memory (GB)", "power_kw_per_gpu": "Power (kW/GPU)",
    "availability_factor": "Availability (%)", "tokens_per_second_per_gpu": "Throughput (tokens/s/GPU)",
    "mfu": "MFU (%)", "power_cap_mw": "Power cap (MW)", "pue": "PUE (ratio)", "from_month": "From month",
    "gpus_per_block": "GPUs per block (count)", "earliest_start_month": "Earliest start month",
    "latest_start_month": "Latest start month", "min_blocks": "Min blocks (count)",
    "max_blocks": "Max blocks (count)", "upfront_usd_per_block": "Upfront (USD/block)",
    "max_gpus": "Max GPUs (count)", "valid_from_month": "Valid from month",
    "applies_to": "Applies to", "goodwill_cost_usd_per_month": "Goodwill cost (USD/month)",
    "admitted_fraction": "Admitted (%)", "peak_to_average_multiplier": "Peak-to-average multiplier (x)",
    "source": "Source", "default_mfu": "Default MFU (%)", "cvar_alpha": "CVaR alpha (%)",
    "cvar_weight": "CVaR weight (%)", "mip_gap": "MIP gap (%)",
    **{f"{category}_usd": f"{text} (USD)" for category, text in CATEGORY_LABELS.items()},
}


def column_label(column: str) -> str:
    """The header written for a column name: readable words with the unit in brackets (the unit of
    the value as shown: ``T tokens`` for token counts shown in trillions, ``%`` for fractions)."""
    if column in LABELS:
        return LABELS[column]
    if column in PERCENT_COLUMNS:
        return _words(column) + " (%)"
    unit = unit_of(column)
    if unit is None or len(column) <= len(unit.suffix):
        return _words(column)
    text = "%" if unit.number_format == PERCENT else unit.report_text
    stem = column[len(unit.suffix):] if unit is GPU_COUNT else column[: -len(unit.suffix)].rstrip("_")
    return _words(stem) + f" ({text})"


def _words(name: str) -> str:
    return name.replace("_", " ").capitalize()


def column_format(column: str) -> str | None:
    """Excel number format for a numeric column, chosen from its name (units are in every name)."""
    if column in PERCENT_COLUMNS:
        return PERCENT
    if column in FORMATS:
        return FORMATS[column]
    unit = unit_of(column)
    return unit.number_format if unit is not None else None


def table(key: str, title: str, frame: pd.DataFrame, *, empty: str = "None.",
          labels: Mapping[str, str] | None = None, formats: Mapping[str, str | None] | None = None,
          row_formats: Mapping[str, list[str | None]] | None = None) -> Table:
    """An Excel Table block of ``frame`` with report headers and formats (``labels`` and ``formats``
    override those the column names give)."""
    columns = [str(c) for c in frame.columns]
    overrides = labels or {}
    chosen = formats or {}
    return Table(key, title, frame, empty=empty,
                 labels={c: overrides.get(c) or column_label(c) for c in columns},
                 formats={c: chosen[c] if c in chosen else column_format(c) for c in columns},
                 row_formats=dict(row_formats or {}))
