"""Excel number formats, and how a number displays in one (to size columns without Excel).

One format per kind of quantity; :mod:`planner.units` says which kind each column holds.
"""

from __future__ import annotations

import math

MONEY = "$#,##0"
"""Whole dollars: every amount of money except prices."""
PRICE = "$#,##0.00"
"""Dollars and cents: prices per GPU-hour or per million tokens."""
PERCENT = "0.0%"
GAP = "0.00%"
COUNT = "#,##0"
"""Whole numbers: GPUs, blocks, months."""
DECIMAL = "#,##0.00"
ONE_DECIMAL = "#,##0.0"
TRILLIONS = "#,##0.00,,,,"
"""Tokens shown in trillions (each trailing comma divides by 1,000); the header says 'T tokens'."""
SCIENTIFIC = "0.0E+00"
"""Very large counts that are not money or tokens (FLOPs per token): 4.0E+11."""
TEXT = "@"
"""Text format: keeps a typed 2025-03 as text instead of Excel turning it into a date."""

_SCALE = {TRILLIONS: 1e12}


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
    if number_format in _SCALE:
        return f"{value / _SCALE[number_format]:,.2f}"
    if number_format == SCIENTIFIC:
        return f"{value:.1E}"
    return f"{value:.10g}"
