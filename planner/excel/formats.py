"""Excel number formats, and how a number displays in one (to size columns without Excel)."""

from __future__ import annotations

import math

MONEY = "$#,##0"
PRICE = "$#,##0.00"
PERCENT = "0.0%"
GAP = "0.00%"
COUNT = "#,##0"
DECIMAL = "#,##0.00"
ONE_DECIMAL = "#,##0.0"
TEXT = "@"
"""Text format: keeps a typed 2025-03 as text instead of Excel turning it into a date."""


def displayed(value: float, number_format: str | None) -> str:
    """About the text Excel shows for ``value`` in ``number_format`` (at least as wide)."""
    if not math.isfinite(value):
        return ""
    if number_format == MONEY:
        return f"-${abs(value):,.0f}" if value < 0 else f"${value:,.0f}"
    if number_format == PRICE:
        return f"${value:,.2f}"
    if number_format in (PERCENT, GAP):
        return f"{value * 100:,.2f}%"
    if number_format == COUNT:
        return f"{value:,.0f}"
    if number_format in (DECIMAL, ONE_DECIMAL):
        return f"{value:,.2f}"
    return f"{value:.10g}"
