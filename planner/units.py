"""Units, read from column names: the one table of name suffixes, unit text and number formats.

Every numeric column carries its unit in its name (``price_usd_per_gpu_hour``, ``power_cap_mw``).
The input template's header notes and cell formats, the workbook reader's messages and the report's
headers and number formats all read the unit from :data:`UNIT_SUFFIXES`, so a unit is spelled one
way everywhere and each kind of quantity has one format. Also here: how a token count and a relative
gap read in a sentence (``17.5 T tokens``, ``within 0.53%``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from planner.excel.formats import (
    COUNT,
    DECIMAL,
    MONEY,
    ONE_DECIMAL,
    PERCENT,
    PRICE,
    SCIENTIFIC,
    TRILLIONS,
)


class Unit(NamedTuple):
    """A column-name suffix, the unit it stands for, and how its values are shown.

    ``number_format`` is the report's format; when it scales the value (tokens in trillions),
    ``shown_text`` is the unit the reader sees ("T tokens"). ``input_format`` formats the input
    template's cells (None: Excel's General).
    """

    suffix: str
    text: str
    number_format: str | None
    shown_text: str | None = None
    input_format: str | None = None

    @property
    def report_text(self) -> str:
        """The unit as a report header states it (of the value as shown)."""
        return self.shown_text or self.text


UNIT_SUFFIXES: tuple[Unit, ...] = (
    Unit("_usd_per_gpu_hour", "USD/GPU-hour", PRICE),
    Unit("_usd_per_million_tokens", "USD/M tokens", PRICE),
    Unit("_usd_per_month", "USD/month", MONEY),
    Unit("_usd_per_block", "USD/block", MONEY),
    Unit("_usd", "USD", MONEY, input_format=COUNT),
    Unit("_mw", "MW", ONE_DECIMAL),
    Unit("_kw_per_gpu", "kW/GPU", DECIMAL),
    Unit("_gb", "GB", COUNT),
    Unit("_tflops", "TFLOPS", COUNT),
    Unit("tokens_per_month", "tokens/month", TRILLIONS, "T tokens/month", input_format=COUNT),
    Unit("_per_second_per_gpu", "tokens/s/GPU", DECIMAL),
    Unit("_tokens", "tokens", TRILLIONS, "T tokens", input_format=COUNT),
    Unit("_months", "months", COUNT),
    Unit("_seconds", "s", DECIMAL),
    Unit("_per_year", "x/year", DECIMAL),
    Unit("flops_per_token", "FLOP/token", SCIENTIFIC, input_format=SCIENTIFIC),
    Unit("gpus_per_block", "GPUs", COUNT),
    Unit("gpus", "GPUs", COUNT),
    Unit("blocks", "blocks", COUNT),
    Unit("_fraction", "fraction", PERCENT),
    Unit("_factor", "fraction", PERCENT),
    Unit("_share", "fraction", PERCENT),
    Unit("probability", "fraction", PERCENT),
    Unit("mfu", "fraction", PERCENT),
    Unit("_ratio", "ratio", DECIMAL),
    Unit("_multiplier", "ratio", DECIMAL),
    Unit("pue", "ratio", DECIMAL),
)
"""First match wins: longer suffixes come before the shorter ones they end with."""

GPU_COUNT = Unit("gpus_", "GPUs", COUNT)
"""Result columns named ``gpus_<state>`` (``gpus_unavailable``) count GPUs too."""


def unit_of(name: str) -> Unit | None:
    """The unit a column name ends with (or a GPU count's ``gpus_`` prefix), or None (names, text,
    months, plain numbers)."""
    found = next((unit for unit in UNIT_SUFFIXES if name.endswith(unit.suffix)), None)
    if found is None and name.startswith(GPU_COUNT.suffix):
        return GPU_COUNT
    return found


TOKEN_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"))


def tokens_text(tokens: float) -> str:
    """A token count as a person reads it: ``17.5 T tokens``, ``820 B tokens``, ``1,200 tokens``."""
    if not math.isfinite(tokens):
        return "an unknown number of tokens"
    size = abs(tokens)
    for scale, letter in TOKEN_SCALES:
        if size >= scale:
            value = tokens / scale
            digits = 1 if abs(value) < 1000 else 0
            return f"{value:,.{digits}f} {letter} tokens"
    return f"{tokens:,.0f} tokens"


def gap_text(gap: float) -> str:
    """A relative gap as a percentage rounded up to 0.01%, so "within 0.01%" stays true for a gap of
    0.0094% and a non-zero gap never reads 0.00%."""
    if gap <= 0:
        return "0%"
    return f"{math.ceil(gap * 1e4 - 1e-9) / 100:.2f}%"
