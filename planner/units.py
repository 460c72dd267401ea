"""Units, read from column names: the one table of name suffixes, unit text and number format.

Every numeric column carries its unit in its name (``price_usd_per_gpu_hour``, ``power_cap_mw``).
The input template's header notes, the workbook reader's messages and the report's headers and
number formats all read the unit from :data:`UNIT_SUFFIXES`, so a unit is spelled one way everywhere.
"""

from __future__ import annotations

from typing import NamedTuple

from planner.excel.formats import COUNT, DECIMAL, MONEY, ONE_DECIMAL, PERCENT, PRICE


class Unit(NamedTuple):
    """A column-name suffix, the unit it stands for, and the Excel number format of its values."""

    suffix: str
    text: str
    number_format: str | None


UNIT_SUFFIXES: tuple[Unit, ...] = (
    Unit("_usd_per_gpu_hour", "USD/GPU-hour", PRICE),
    Unit("_usd_per_million_tokens", "USD/M tokens", PRICE),
    Unit("_usd_per_month", "USD/month", MONEY),
    Unit("_usd_per_block", "USD/block", MONEY),
    Unit("_usd", "USD", MONEY),
    Unit("_mw", "MW", ONE_DECIMAL),
    Unit("_kw_per_gpu", "kW/GPU", DECIMAL),
    Unit("_gb", "GB", COUNT),
    Unit("_tflops", "TFLOPS", COUNT),
    Unit("tokens_per_month", "tokens/month", COUNT),
    Unit("_per_second_per_gpu", "tokens/s/GPU", DECIMAL),
    Unit("_tokens", "tokens", COUNT),
    Unit("_months", "months", COUNT),
    Unit("_seconds", "s", None),
    Unit("_per_year", "x/year", DECIMAL),
    Unit("flops_per_token", "FLOP/token", COUNT),
    Unit("gpus_per_block", "GPUs", COUNT),
    Unit("gpus", "GPUs", COUNT),
    Unit("blocks", "blocks", COUNT),
    Unit("_fraction", "fraction", PERCENT),
    Unit("_factor", "fraction", PERCENT),
    Unit("probability", "fraction", PERCENT),
    Unit("mfu", "fraction", PERCENT),
    Unit("_ratio", "ratio", DECIMAL),
    Unit("_multiplier", "ratio", DECIMAL),
    Unit("pue", "ratio", DECIMAL),
)
"""First match wins: longer suffixes come before the shorter ones they end with."""


def unit_of(name: str) -> Unit | None:
    """The unit a column name ends with, or None (names, text, months, plain numbers)."""
    return next((unit for unit in UNIT_SUFFIXES if name.endswith(unit.suffix)), None)
