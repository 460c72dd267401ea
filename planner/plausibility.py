"""Values that are valid but suspicious: a warning naming the cell, never a refusal.

A finance workbook is typed by hand, and some slips pass every rule: a price typed per GPU-month
where the column says per GPU-hour, kW typed where it says MW, 0.001 where 0.1 was meant. Each check
here compares a value with what its kind usually holds (a band), or with the other values of its kind
(the other prices of the same GPU type, the blocks a site is offered). What it finds is a warning,
shown beside the scaling warnings of :mod:`planner.numerics` (``planner validate``, ``planner solve``,
:func:`planner.workbook.load_details`); the value is used as typed.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from planner.errors import InputIssue, describe
from planner.schema import Problem, Settings


class SuspiciousValueWarning(UserWarning):
    """Input values that are valid but look like slips; :func:`planner.load` emits it naming the cells."""


PRICE_RATIO = 5.0
"""A price this many times the median of the other prices of its GPU type (or that fraction of it)."""
USED_AS_TYPED = "check the cell (a warning only: the value is used as typed)"
PRICE_TABLES = (("LeaseOffers", "lease_offers"), ("Commitments", "commitments"), ("OnDemand", "on_demand"))


@dataclass(frozen=True)
class Band:
    """Where a column's values usually lie, and what a value outside it may be a slip for."""

    table: str
    column: str
    low: float | None
    high: float | None
    unit: str
    low_hint: str = ""
    high_hint: str = ""


MFU_LOW, MFU_HIGH = "less than any served model achieves", "more than any large model sustains (0.4 = 40%)"
BANDS = (
    Band("Scenarios", "probability", 0.01, None, "", "a scenario this unlikely hardly changes the plan (0.1 = 10%)"),
    Band("Throughput", "mfu", 0.02, 0.7, "", MFU_LOW, MFU_HIGH),
    Band(Settings.TABLE, "default_mfu", 0.02, 0.7, "", MFU_LOW, MFU_HIGH),
    Band("GPUTypes", "power_kw_per_gpu", 0.2, 5.0, "kW", "less than a GPU draws; was MW typed?",
         "more than a GPU server draws per GPU; was W typed, or a whole server?"),
    Band("GPUTypes", "availability_factor", 0.5, None, "", "half the GPUs or more out of service"),
    Band("Sites", "pue", None, 2.0, "", "", "above what data centres run at"),
    Band("Workloads", "peak_to_average_ratio", None, 10.0, "", "", "a peak this far above the average is rare"),
    Band(Settings.TABLE, "discount_rate_per_year", None, 0.3, "", "", "a high rate: 0.08 = 8% a year"),
    *(Band(table, "price_usd_per_gpu_hour", 0.05, 50.0, "USD/GPU-hour", "was a price per GPU-second typed?",
           "was a price per GPU-month or per server-hour typed?") for table, _ in PRICE_TABLES),
)


def suspicious_values(problem: Problem) -> list[InputIssue]:
    """Warnings for the values of ``problem`` that are valid but suspicious, located by table, row
    index and column (the workbook reader turns them into cells)."""
    return [*_outside_bands(problem), *_odd_prices(problem), *_power_caps_below_one_block(problem)]


def _rows(problem: Problem, table: str) -> Iterator[tuple[int | None, Any]]:
    if table == Settings.TABLE:
        yield None, problem.settings
        return
    attribute = {"Scenarios": "scenarios", "Throughput": "throughput", "GPUTypes": "gpu_types", "Sites": "sites",
                 "Workloads": "workloads", **dict(PRICE_TABLES)}[table]
    yield from enumerate(getattr(problem, attribute))


def _outside_bands(problem: Problem) -> Iterator[InputIssue]:
    for band in BANDS:
        for index, row in _rows(problem, band.table):
            value = getattr(row, band.column)
            if value is None:
                continue
            unit = f" {band.unit}" if band.unit else ""
            if band.low is not None and value < band.low:
                bound, hint = f"at least {band.low:g}{unit}", band.low_hint
            elif band.high is not None and value > band.high:
                bound, hint = f"at most {band.high:g}{unit}", band.high_hint
            else:
                continue
            yield InputIssue(band.table, band.column, f"{describe(value)}{unit}: {hint}" if hint else describe(value),
                             f"usually {bound}: {USED_AS_TYPED}", row_index=index)


def _odd_prices(problem: Problem) -> Iterator[InputIssue]:
    """A price far from the median of the other prices of its GPU type (at least two others): first the
    prices far above it, then, with those left out of the medians, the prices far below it."""
    prices: dict[str, list[tuple[str, int, float]]] = defaultdict(list)
    for table, attribute in PRICE_TABLES:
        for index, row in enumerate(getattr(problem, attribute)):
            if row.price_usd_per_gpu_hour > 0:
                prices[row.gpu_type].append((table, index, row.price_usd_per_gpu_hour))
    for gpu_type, found in prices.items():
        high: set[int] = set()
        for above in (True, False):
            for k, (table, index, price) in enumerate(found):
                others = [p for j, (_, _, p) in enumerate(found) if j != k and j not in high]
                if k in high or len(others) < 2:
                    continue
                median = statistics.median(others)
                if (price >= PRICE_RATIO * median) if above else (price <= median / PRICE_RATIO):
                    high.add(k)
                    times = f"{price / median:.0f}x" if above else f"1/{median / price:.0f} of"
                    yield InputIssue(table, "price_usd_per_gpu_hour",
                                     f"{describe(price)} USD/GPU-hour, {times} the median of the other {gpu_type} "
                                     f"prices (${median:,.2f})",
                                     f"a price near the others of its GPU type: {USED_AS_TYPED}", row_index=index)


def _power_caps_below_one_block(problem: Problem) -> Iterator[InputIssue]:
    """A site cap (or a later cap) too small to power one block of any offer at the site: kW typed as MW?"""
    power = {g.name: g.power_kw_per_gpu for g in problem.gpu_types}
    pue = {s.name: s.pue for s in problem.sites}
    smallest: dict[str, tuple[float, str]] = {}
    for offer in problem.lease_offers:
        mw = offer.gpus_per_block * power[offer.gpu_type] * pue[offer.site] / 1000.0
        if offer.site not in smallest or mw < smallest[offer.site][0]:
            smallest[offer.site] = (mw, offer.offer_id)
    caps = [("Sites", i, s.name, s.power_cap_mw) for i, s in enumerate(problem.sites)]
    caps += [("SitePower", i, s.site, s.power_cap_mw) for i, s in enumerate(problem.site_power)]
    for table, index, site, cap in caps:
        if site in smallest and cap < smallest[site][0]:
            mw, offer = smallest[site]
            yield InputIssue(table, "power_cap_mw",
                             f"{describe(cap)} MW, less than one block of {offer} draws ({mw:,.2f} MW with PUE)",
                             f"a cap in MW that powers at least one block offered at the site (was kW typed?): "
                             f"{USED_AS_TYPED}", row_index=index)
