"""The Excel report of a solved plan: what to sign, what it costs, and why.

``write_report(result, path)`` writes one workbook a finance analyst can forward unedited: Summary,
Leases, Capacity, Costs, Cloud & credits, Policies, Power, Scenarios, Marginal values, (Regret),
Inputs and Diagnostics. Every table is an Excel Table whose headers carry units ("Cost (USD)"),
cells hold plain values (never formulas), money and shares carry number formats, header rows are
frozen, and native Excel charts show costs by category, capacity against demand and utilisation.

Safety: text that came from the input is always written as a string cell (``data_type 's'``); text
that a spreadsheet could take for a formula or an error value (leading ``= + - @``, tab, CR; ``#N/A``)
also gets Excel's quote prefix, so editing the cell keeps it text. The file is written to a temporary file in the target
folder and renamed into place, so a failed run leaves nothing behind and never touches the input.

The workbook is streamed (openpyxl write-only mode): memory stays flat and time grows linearly
with the number of cells; each column shares one styled template cell.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import math
import os
import platform
import secrets
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, LineChart, Reference, Series
from openpyxl.chart._chart import ChartBase
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from planner.errors import InputError, InputIssue, describe
from planner.results import COST_CATEGORIES, PlanResult
from planner.schema import TABLE_FIELD, TABLES, Record, Settings

# ---- formats and labels -------------------------------------------------------------------------

MONEY = "$#,##0"
PRICE = "$#,##0.00"
PERCENT = "0.0%"
GAP = "0.00%"
COUNT = "#,##0"
DECIMAL = "#,##0.00"
ONE_DECIMAL = "#,##0.0"

MAX_SCENARIO_CHARTS = 12
"""Capacity-vs-demand charts (and utilisation lines) are drawn for at most this many scenarios."""
MAX_REGRET_SERIES = 12
CHART_WIDTH_CM, CHART_HEIGHT_CM, CHART_ROWS = 22.0, 11.0, 24
SLOT_COLUMNS, SLOT_COLUMN_WIDTH = 13, 10.0
MAX_COLUMN_WIDTH, MIN_COLUMN_WIDTH = 70.0, 8.0
MAX_CELL_TEXT = 32_767
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
TABLE_STYLE = "TableStyleMedium2"

PERCENT_COLUMNS = frozenset({
    "utilisation", "share_of_cap", "probability", "mfu", "availability_factor", "admitted_fraction",
    "served_share", "mean_utilisation", "peak_power_share", "default_mfu", "discount_rate_per_year",
    "max_provider_share", "cvar_weight", "cvar_alpha",
})

CATEGORY_LABELS = {
    "leases": "Leases", "upfront": "Upfront", "commitments": "Existing commitments",
    "on_demand": "On-demand cloud", "credits": "Credits", "throttling": "Revenue lost to throttling",
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
    "demand_tokens": "Demand (tokens)", "served_tokens": "Served (tokens)",
    "throttled_tokens": "Throttled (tokens)", "unserved_tokens": "Unserved (tokens)",
    "throttling_cost_usd": "Revenue lost to throttling (USD)", "unserved_cost_usd": "Unserved penalty (USD)",
    "goodwill_usd": "Goodwill cost (USD)", "served_share": "Served (% of demand)",
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
    "base_tokens_per_month": "Base demand (tokens/month)", "growth_multiple_per_year": "Growth (x/year)",
    "tokens_per_month": "Demand (tokens/month)", "peak_dense_bf16_tflops": "Peak dense BF16 (TFLOPS)",
    "memory_gb": "Memory (GB)", "power_kw_per_gpu": "Power (kW/GPU)",
    "availability_factor": "Availability (%)", "tokens_per_second_per_gpu": "Throughput (tokens/s/GPU)",
    "mfu": "MFU (%)", "power_cap_mw": "Power cap (MW)", "pue": "PUE (ratio)", "from_month": "From month",
    "gpus_per_block": "GPUs per block (count)", "earliest_start_month": "Earliest start month",
    "latest_start_month": "Latest start month", "min_blocks": "Min blocks (count)",
    "max_blocks": "Max blocks (count)", "upfront_usd_per_block": "Upfront (USD/block)",
    "max_gpus": "Max GPUs (count)", "valid_from_month": "Valid from month",
    "applies_to": "Applies to", "goodwill_cost_usd_per_month": "Goodwill cost (USD/month)",
    "admitted_fraction": "Admitted (%)", "peak_to_average_multiplier": "Peak-to-average multiplier (x)",
    "source": "Source",
}
for _category, _text in CATEGORY_LABELS.items():
    LABELS[f"{_category}_usd"] = f"{_text} (USD)"

_UNIT_SUFFIXES = (
    ("_usd_per_gpu_hour", "USD/GPU-hour"), ("_usd_per_million_tokens", "USD/M tokens"),
    ("_usd_per_month", "USD/month"), ("_usd_per_block", "USD/block"), ("_usd", "USD"), ("_mw", "MW"),
    ("_tokens", "tokens"), ("_gpus", "GPUs"), ("_months", "months"), ("_seconds", "s"),
)


def column_label(column: str) -> str:
    """The header written for a column name: readable words with the unit in brackets."""
    if column in LABELS:
        return LABELS[column]
    if column in PERCENT_COLUMNS:
        return column.replace("_", " ").capitalize() + " (%)"
    for suffix, unit in _UNIT_SUFFIXES:
        if column.endswith(suffix) and len(column) > len(suffix):
            return column[: -len(suffix)].replace("_", " ").capitalize() + f" ({unit})"
    return column.replace("_", " ").capitalize()


def column_format(column: str) -> str | None:
    """Excel number format for a numeric column, chosen from its name (units are in every name)."""
    if column in PERCENT_COLUMNS:
        return PERCENT
    if column.endswith(("_usd_per_gpu_hour", "_usd_per_million_tokens")) or column in (
            "usd_per_million_tokens", "value_usd"):
        return PRICE
    if column.endswith(("_usd", "_usd_per_month", "_usd_per_block")):
        return MONEY
    if column.endswith(("_mw", "_kw_per_gpu")):
        return ONE_DECIMAL if column.endswith("_mw") else DECIMAL
    if column.endswith(("_tokens", "tokens_per_month", "gpus", "_gpus", "blocks", "_months", "_gb",
                        "_tflops", "flops_per_token", "gpus_installed", "gpus_usable", "gpus_used",
                        "gpus_idle", "gpus_per_block", "leases_signed")):
        return COUNT
    if column in ("tokens_per_second_per_gpu", "growth_multiple_per_year", "peak_to_average_ratio",
                  "peak_to_average_multiplier", "pue"):
        return DECIMAL
    return None


# ---- cell values --------------------------------------------------------------------------------

def _clean_text(text: str) -> str:
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return text if len(text) <= MAX_CELL_TEXT else text[: MAX_CELL_TEXT - 1] + "…"


def _plain(value: Any) -> Any:
    """A value as a cell holds it: finite number, text, or None (blank); never a formula."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _clean_text(value) or None
    if isinstance(value, list | tuple | set):
        return _clean_text(", ".join(str(part) for part in value))
    if hasattr(value, "item"):  # numpy / pandas scalars
        with contextlib.suppress(ValueError, TypeError):
            return _plain(value.item())
    return _clean_text(str(value))


def _is_risky(text: str) -> bool:
    """Text a spreadsheet could take for a formula or an error value (#N/A) when typed or re-entered."""
    return text.startswith(FORMULA_TRIGGERS) or text in ERROR_CODES


def _column_values(series: pd.Series) -> list[Any]:
    """Column values as plain Python cell values (fast paths for plain numpy columns)."""
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else ""
    if kind == "b":
        return ["yes" if v else "no" for v in series.tolist()]
    if kind == "f":
        return [v if math.isfinite(v) else None for v in series.tolist()]
    if kind in ("i", "u"):
        return series.tolist()
    return [_plain(v) for v in series.tolist()]


# ---- sheet content: blocks and layout -----------------------------------------------------------

@dataclass
class _Table:
    """One Excel Table: ``key`` is its unique display name; ``row_formats`` overrides per row."""

    key: str
    title: str
    frame: pd.DataFrame
    empty: str = "None."
    formats: dict[str, str | None] = field(default_factory=dict)
    row_formats: dict[str, list[str | None]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    @property
    def rows(self) -> int:
        return len(self.frame)

    @functools.cached_property
    def headers(self) -> list[str]:
        """Readable, unique header labels with units (Excel Table column names)."""
        seen: set[str] = set()
        out = []
        for column in self.columns:
            label = _clean_text(self.labels.get(column) or column_label(column)).replace("\n", " ") or column
            base, n = label, 2
            while label.lower() in seen:
                label, n = f"{base} {n}", n + 1
            seen.add(label.lower())
            out.append(label)
        return out


@dataclass
class _Text:
    """A titled list of text lines (decisions, warnings, a log)."""

    title: str
    lines: list[str]
    mono: bool = False


@dataclass
class _Slot:
    """Empty cells reserved for charts: columns between tables side by side, or rows in a stack."""

    columns: int = SLOT_COLUMNS
    rows: int = 1


Block = _Table | _Text | _Slot


@dataclass
class _Placed:
    """Where a block landed: first column and title row (1-based); header row for tables."""

    sheet: str
    block: Block
    col: int
    title_row: int
    width: int
    height: int

    @property
    def header_row(self) -> int:
        return self.title_row + 1

    @property
    def first_data_row(self) -> int:
        return self.title_row + 2

    def column(self, name: str) -> int:
        assert isinstance(self.block, _Table)
        return self.col + self.block.columns.index(name)

    def ref(self, name: str, first: int = 0, count: int | None = None) -> Reference:
        """Reference to ``count`` data cells of column ``name`` starting at data row ``first``."""
        assert isinstance(self.block, _Table)
        letter = get_column_letter(self.column(name))
        start = self.first_data_row + first
        end = start + (self.block.rows - first if count is None else count) - 1
        return Reference(range_string=f"{quote_sheetname(self.sheet)}!${letter}${start}:${letter}${end}")


ChartMaker = Callable[[dict[str, _Placed]], list[ChartBase]]


@dataclass
class _Sheet:
    """A worksheet: heading, note lines, blocks laid out across (side by side) or down (stacked)."""

    name: str
    heading: str
    notes: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    across: bool = True
    charts: ChartMaker | None = None
    alert: str = ""

    def layout(self) -> list[_Placed]:
        placed: list[_Placed] = []
        top = 2 + len(self.notes) + (1 if self.alert else 0) + 1  # heading, alert, notes, blank
        if self.across:
            col = 1
            for block in self.blocks:
                width, height = _extent(block)
                placed.append(_Placed(self.name, block, col, top, width, height))
                col += width + 1
        else:
            row = top
            for block in self.blocks:
                width, height = _extent(block)
                placed.append(_Placed(self.name, block, 1, row, width, height))
                row += height + 2
        return placed


def _extent(block: Block) -> tuple[int, int]:
    """(columns, rows incl. title) a block occupies."""
    if isinstance(block, _Slot):
        return block.columns, block.rows
    if isinstance(block, _Text):
        return 1, 1 + max(len(block.lines), 1)
    if block.rows == 0:
        return max(len(block.columns), 1), 2
    return len(block.columns), 2 + block.rows


# ---- writing ------------------------------------------------------------------------------------

class _Styles:
    """Cell factories for one worksheet: styled templates are shared per column (streaming)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def text(self, value: str, *, bold: bool = False, size: float | None = None, color: str | None = None,
             mono: bool = False) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value=None)
        cell.value = value
        cell.data_type = "s"
        if bold or size or color or mono:
            cell.font = Font(bold=bold, size=size, color=color, name="Consolas" if mono else None)
        if _is_risky(value):
            cell.quotePrefix = True
        return cell

    def header(self, value: str) -> WriteOnlyCell:
        return self.text(value, bold=True)

    def numeric(self, number_format: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value=None)
        cell.number_format = number_format
        return cell


def _safe_cell(styles: _Styles, value: Any) -> Any:
    """Raw value when it cannot be mistaken for a formula, else a string cell with quote prefix."""
    if isinstance(value, str) and _is_risky(value):
        return styles.text(value)
    return value


class _TableWriter:
    """Streams one table's rows: per-column values and one styled template cell per column."""

    def __init__(self, table: _Table, styles: _Styles) -> None:
        self.styles = styles
        columns = table.columns
        self.values = [_column_values(table.frame[c]) for c in columns]
        self.templates: list[WriteOnlyCell | None] = []
        for column in columns:
            fmt = table.formats.get(column, column_format(column))
            self.templates.append(styles.numeric(fmt) if fmt else None)
        self.row_formats = [table.row_formats.get(c) for c in columns]
        self.columns = list(zip(self.values, self.templates, self.row_formats, strict=True))

    def row(self, i: int) -> list[Any]:
        """The cells of data row ``i`` (0-based), left to right."""
        out: list[Any] = []
        for values, template, row_formats in self.columns:
            value = values[i]
            if value is None:
                out.append(None)
            elif isinstance(value, str):
                out.append(_safe_cell(self.styles, value))
            elif row_formats is not None:
                fmt = row_formats[i]
                if fmt:  # small tables only: one cell object per value
                    cell = self.styles.numeric(fmt)
                    cell.value = value
                    out.append(cell)
                else:
                    out.append(value)
            elif template is not None:
                template.value = value
                out.append(template)
            else:
                out.append(value)
        return out


def _widths(sheet: _Sheet, placed: list[_Placed]) -> dict[int, float]:
    """Column widths that fit headers and values (text capped), computed column-wise, not per cell."""
    widths: dict[int, float] = {}
    for p in placed:
        block = p.block
        if isinstance(block, _Slot):
            if sheet.across:
                for k in range(block.columns):
                    widths[p.col + k] = max(widths.get(p.col + k, 0.0), SLOT_COLUMN_WIDTH)
            continue
        if not isinstance(block, _Table):
            continue
        for j, (column, label) in enumerate(zip(block.columns, block.headers, strict=True)):
            width = len(label) + 4.0  # room for the filter button
            width = max(width, _value_width(block.frame[column], block.formats.get(column, column_format(column)),
                                            block.row_formats.get(column)))
            width = min(max(width, MIN_COLUMN_WIDTH), MAX_COLUMN_WIDTH)
            widths[p.col + j] = max(widths.get(p.col + j, 0.0), width)
    return widths


def _value_width(series: pd.Series, fmt: str | None, row_formats: list[str | None] | None) -> float:
    """Width of the longest value as displayed: from min/max for numbers, from lengths for text."""
    if series.empty:
        return 0.0
    if row_formats is not None:
        texts = [_format_number(v, f) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
                 for v, f in zip(series.tolist(), row_formats, strict=True)]
        return max(len(t) for t in texts) + 2.0
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        finite = series[series.map(lambda v: isinstance(v, int | float) and math.isfinite(v))] \
            if series.dtype == object else series.replace([math.inf, -math.inf], math.nan).dropna()
        if finite.empty:
            return 0.0
        return max(len(_format_number(float(finite.max()), fmt)), len(_format_number(float(finite.min()), fmt))) + 2
    return float(series.dropna().astype(str).str.len().max() or 0.0) + 2.0


def _format_number(value: float, fmt: str | None) -> str:
    if not math.isfinite(value):
        return ""
    if fmt in (MONEY,):
        return f"-${abs(value):,.0f}" if value < 0 else f"${value:,.0f}"
    if fmt == PRICE:
        return f"${value:,.2f}"
    if fmt in (PERCENT, GAP):
        return f"{value * 100:,.2f}%"
    if fmt == COUNT:
        return f"{value:,.0f}"
    if fmt in (DECIMAL, ONE_DECIMAL):
        return f"{value:,.2f}"
    return f"{value:.10g}"


def _write_sheet(wb: Workbook, sheet: _Sheet, placed: list[_Placed], everything: dict[str, _Placed],
                 used_names: set[str]) -> None:
    """Stream one worksheet: widths and frozen panes first, then rows, then tables and charts."""
    ws = wb.create_sheet(sheet.name)
    styles = _Styles(ws)
    for col, width in _widths(sheet, placed).items():
        ws.column_dimensions[get_column_letter(col)].width = round(width, 1)
    tables = [p for p in placed if isinstance(p.block, _Table)]
    if sheet.across and tables:
        ws.freeze_panes = f"A{tables[0].first_data_row}"
    else:
        ws.freeze_panes = "A2"

    ws.append([styles.text(sheet.heading, bold=True, size=14)])
    if sheet.alert:
        ws.append([styles.text(sheet.alert, bold=True, color="C00000")])
    for note in sheet.notes:
        ws.append([styles.text(note)])
    ws.append([])

    writers = {id(p.block): _TableWriter(p.block, styles) for p in tables if p.block.rows}
    last_row = max((p.title_row + p.height - 1 for p in placed), default=0)
    width = max((p.col + p.width - 1 for p in placed), default=1)
    first = placed[0].title_row if placed else last_row + 1
    for row in range(first, last_row + 1):
        cells: list[Any] = [None] * width
        for p in placed:
            offset = row - p.title_row
            if offset < 0 or offset >= p.height:
                continue
            block = p.block
            if isinstance(block, _Slot):
                continue
            if offset == 0:
                cells[p.col - 1] = styles.text(block.title, bold=True, size=12)
            elif isinstance(block, _Text):
                line = _plain(block.lines[offset - 1]) if block.lines else "None."
                cells[p.col - 1] = styles.text(str(line or ""), mono=block.mono)
            elif block.rows == 0:
                cells[p.col - 1] = styles.text(block.empty)
            elif offset == 1:
                for j, label in enumerate(block.headers):
                    cells[p.col - 1 + j] = styles.header(label)
            else:
                row_cells = writers[id(block)].row(offset - 2)
                cells[p.col - 1:p.col - 1 + len(row_cells)] = row_cells
        ws.append(cells)

    for p in tables:
        block = p.block
        assert isinstance(block, _Table)
        if not block.rows:
            continue
        if block.key in used_names:
            raise ValueError(f"duplicate table name {block.key}")
        used_names.add(block.key)
        ref = (f"{get_column_letter(p.col)}{p.header_row}:"
               f"{get_column_letter(p.col + len(block.columns) - 1)}{p.header_row + block.rows}")
        table = Table(displayName=block.key, ref=ref, autoFilter=AutoFilter(ref=ref),
                      tableColumns=[TableColumn(id=j + 1, name=label) for j, label in enumerate(block.headers)],
                      tableStyleInfo=TableStyleInfo(name=TABLE_STYLE, showRowStripes=True))
        with warnings.catch_warnings():  # columns are set above, as write-only mode requires
            warnings.filterwarnings("ignore", message="In write-only mode you must add table columns manually")
            ws.add_table(table)

    if sheet.charts is not None:
        charts = sheet.charts(everything)
        slot = next((p for p in placed if isinstance(p.block, _Slot)), None)
        if slot is not None:
            col, row = slot.col, slot.title_row + 1
        else:
            col, row = width + 2, placed[0].title_row if placed else 4
        for k, chart in enumerate(charts):
            ws.add_chart(chart, f"{get_column_letter(col)}{row + k * CHART_ROWS}")


# ---- charts -------------------------------------------------------------------------------------

def _style_chart(chart: ChartBase, title: str, y_title: str, y_format: str) -> None:
    chart.title = title
    chart.width, chart.height = CHART_WIDTH_CM, CHART_HEIGHT_CM
    chart.y_axis.title = y_title
    chart.y_axis.number_format = y_format
    chart.x_axis.title = "Month"
    chart.x_axis.axPos = "b"
    chart.x_axis.delete = False  # openpyxl >= 3.1 hides axes unless told otherwise
    chart.y_axis.delete = False
    chart.legend.position = "b"


def _set_categories(chart: ChartBase, categories: Reference) -> None:
    """Text categories (months, scenarios) as a string reference on every series."""
    for series in chart.series:
        series.cat = AxDataSource(strRef=StrRef(f=str(categories)))


def _line(values: Reference, title: str, *, dashed: bool = False) -> Series:
    series = Series(values, title=title)
    series.smooth = False
    series.marker.symbol = "none"
    if dashed:
        series.graphicalProperties.line.dashStyle = "dash"
    return series


def _cost_chart(month_costs: _Placed) -> BarChart:
    """Stacked columns: probability-weighted nominal cost per month, one series per category."""
    block = month_costs.block
    assert isinstance(block, _Table)
    chart = BarChart()
    chart.type, chart.grouping, chart.overlap = "col", "stacked", 100
    _style_chart(chart, "Expected cost by category per month (nominal, probability-weighted)", "USD", MONEY)
    for category in COST_CATEGORIES:
        column = f"{category}_usd"
        if (block.frame[column].abs() > 0.5).any():
            chart.series.append(Series(month_costs.ref(column), title=CATEGORY_LABELS[category]))
    _set_categories(chart, month_costs.ref("month"))
    return chart


def _chart_scenarios(result: PlanResult) -> list[str]:
    """The scenarios that get their own chart or line: the most probable, in input order."""
    d = result.data
    ranked = sorted(d.scenarios, key=lambda s: -d.probability[s])[:MAX_SCENARIO_CHARTS]
    return [s for s in d.scenarios if s in ranked]


def _capacity_charts(result: PlanResult, by_month: _Placed) -> list[ChartBase]:
    """Utilisation lines for every charted scenario, then capacity vs demand per scenario."""
    months = len(result.problem.month_labels)
    position = {s: i for i, s in enumerate(result.data.scenarios)}
    chosen = _chart_scenarios(result)
    charts: list[ChartBase] = []

    util = LineChart()
    _style_chart(util, "Utilisation of committed GPUs (used / installed)", "Utilisation", "0%")
    util.y_axis.scaling.min, util.y_axis.scaling.max = 0.0, 1.0
    for s in chosen:
        util.series.append(_line(by_month.ref("utilisation", position[s] * months, months), s))
    _set_categories(util, by_month.ref("month", 0, months))
    charts.append(util)

    for s in chosen:
        first = position[s] * months
        gpus = LineChart()
        _style_chart(gpus, f"Capacity vs demand: {s}", "GPUs", COUNT)
        gpus.series.append(_line(by_month.ref("committed_gpus", first, months), "Committed GPUs"))
        gpus.series.append(_line(by_month.ref("in_use_gpus", first, months), "GPUs in use incl. on-demand"))
        tokens = LineChart()
        tokens.series.append(_line(by_month.ref("demand_tokens", first, months), "Token demand", dashed=True))
        tokens.series.append(_line(by_month.ref("served_tokens", first, months), "Tokens served", dashed=True))
        tokens.y_axis.axId = 200
        tokens.y_axis.title = "Tokens per month"
        tokens.y_axis.number_format = '#,##0.0,,,," T"'
        tokens.y_axis.crosses = "max"
        tokens.y_axis.delete = False
        tokens.y_axis.majorGridlines = None
        tokens.y_axis.axPos = "r"
        for part in (gpus, tokens):
            _set_categories(part, by_month.ref("month", first, months))
        gpus += tokens
        charts.append(gpus)
    return charts


def _regret_chart(regret: _Placed, plans: list[str], scenarios: int) -> BarChart:
    """Clustered columns: regret per scenario (categories), one series per plan."""
    chart = BarChart()
    chart.type, chart.grouping = "col", "clustered"
    _style_chart(chart, "Regret per plan and scenario (NPV)", "Regret (USD)", MONEY)
    chart.x_axis.title = "Scenario"
    for k, plan in enumerate(plans[:MAX_REGRET_SERIES]):
        chart.series.append(Series(regret.ref("regret_usd", k * scenarios, scenarios), title=plan))
    _set_categories(chart, regret.ref("scenario", 0, scenarios))
    return chart


# ---- report data --------------------------------------------------------------------------------

class Uncertainty(Protocol):
    """What the Regret sheet needs from planner.uncertainty's analysis object."""

    figures: dict[str, float]

    def regret_table(self) -> pd.DataFrame: ...


FIGURE_LABELS = (
    ("rp_usd", "Expected cost of the stochastic plan (RP)"),
    ("eev_usd", "Expected cost of the expected-value plan (EEV)"),
    ("ws_usd", "Expected cost with perfect foresight (WS)"),
    ("vss_usd", "Value of the stochastic solution (VSS = EEV - RP)"),
    ("evpi_usd", "Expected value of perfect information (EVPI = RP - WS)"),
    ("ev_usd", "Cost of the expected-value problem (EV)"),
)


def _frame(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(columns))


def _month_grid(result: PlanResult) -> pd.MultiIndex:
    return pd.MultiIndex.from_product([result.data.scenarios, result.problem.month_labels],
                                      names=["scenario", "month"])


def _sum_by(frame: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=columns, index=pd.MultiIndex.from_tuples([], names=keys), dtype=float)
    return frame.groupby(keys, sort=False)[columns].sum()


def capacity_by_month(result: PlanResult) -> pd.DataFrame:
    """Per scenario and month (every month, scenarios in model order), all GPU types together."""
    grid = _month_grid(result)
    cap = _sum_by(result.capacity(), ["scenario", "month"], ["gpus_installed", "gpus_used"])
    od = _sum_by(result.on_demand(), ["scenario", "month"], ["gpus"])
    tokens = _sum_by(result.tokens(), ["scenario", "month"], ["demand_tokens", "served_tokens"])
    frame = pd.concat([cap, od, tokens], axis=1).reindex(grid).astype(float).fillna(0.0)
    out = pd.DataFrame({
        "committed_gpus": frame["gpus_installed"],
        "used_committed_gpus": frame["gpus_used"],
        "on_demand_gpus": frame["gpus"],
        "in_use_gpus": frame["gpus_used"] + frame["gpus"],
        "idle_gpus": (frame["gpus_installed"] - frame["gpus_used"]).clip(lower=0.0),
        "utilisation": frame["gpus_used"] / frame["gpus_installed"].where(frame["gpus_installed"] > 1e-9),
        "demand_tokens": frame["demand_tokens"],
        "served_tokens": frame["served_tokens"],
    }, index=grid)
    return out.reset_index()


def expected_cost_by_month(result: PlanResult) -> pd.DataFrame:
    """Probability-weighted nominal cost per month (also months after the horizon) and category."""
    costs = result.costs()
    months = sorted(set(result.problem.month_labels) | set(costs["month"]))
    weighted = costs.assign(weighted=costs["cost_usd"] * costs["scenario"].map(result.data.probability))
    wide = weighted.pivot_table(index="month", columns="category", values="weighted", aggfunc="sum",
                                fill_value=0.0) if not costs.empty else pd.DataFrame(index=months)
    wide = wide.reindex(index=months, columns=list(COST_CATEGORIES), fill_value=0.0).fillna(0.0)
    wide.columns = [f"{c}_usd" for c in COST_CATEGORIES]
    wide["total_usd"] = wide.sum(axis=1)
    in_horizon = set(result.problem.month_labels)
    wide.insert(0, "in_horizon", [m in in_horizon for m in months])
    wide.index.name = "month"
    return wide.reset_index()


def npv_by_scenario(result: PlanResult) -> pd.DataFrame:
    """NPV per scenario and category; ``npv_usd`` is the scenario's total (the model's scenario cost)."""
    table = result.cost_by_category().reindex(index=result.data.scenarios, columns=list(COST_CATEGORIES),
                                              fill_value=0.0).fillna(0.0)
    table.columns = [f"{c}_usd" for c in COST_CATEGORIES]
    table["npv_usd"] = table.sum(axis=1)
    table.insert(0, "probability", [result.data.probability[s] for s in table.index])
    table.index.name = "scenario"
    return table.reset_index()


def scenario_outcomes(result: PlanResult) -> pd.DataFrame:
    """One row per scenario: cost, demand served, throttling, unserved, wasted credits, utilisation, power."""
    costs = result.scenario_costs().set_index("scenario")
    tokens = result.tokens().groupby("scenario")[["demand_tokens", "served_tokens", "throttled_tokens",
                                                  "unserved_tokens", "throttling_cost_usd"]].sum()
    od = result.on_demand().groupby("scenario")["cost_usd"].sum()
    credits = result.credit_summary().groupby("scenario")["expired_unused_usd"].sum()
    util = capacity_by_month(result).groupby("scenario")["utilisation"].mean()
    power = result.power()
    peak = power.groupby("scenario")["share_of_cap"].max() if not power.empty else pd.Series(dtype=float)
    rows = []
    for s in result.data.scenarios:
        t = tokens.loc[s] if s in tokens.index else None
        demand = float(t["demand_tokens"]) if t is not None else 0.0
        served = float(t["served_tokens"]) if t is not None else 0.0
        rows.append({
            "scenario": s, "probability": result.data.probability[s],
            "npv_usd": float(costs.loc[s, "npv_usd"]), "nominal_usd": float(costs.loc[s, "nominal_usd"]),
            "on_demand_cost_usd": float(od.get(s, 0.0)), "demand_tokens": demand, "served_tokens": served,
            "served_share": served / demand if demand > 0 else math.nan,
            "throttled_tokens": float(t["throttled_tokens"]) if t is not None else 0.0,
            "unserved_tokens": float(t["unserved_tokens"]) if t is not None else 0.0,
            "revenue_lost_usd": float(t["throttling_cost_usd"]) if t is not None else 0.0,
            "credits_expired_usd": float(credits.get(s, 0.0)),
            "mean_utilisation": float(util.get(s, math.nan)),
            "peak_power_share": float(peak.get(s, math.nan)),
        })
    return _frame(rows, ["scenario", "probability", "npv_usd", "nominal_usd", "on_demand_cost_usd",
                         "demand_tokens", "served_tokens", "served_share", "throttled_tokens", "unserved_tokens",
                         "revenue_lost_usd", "credits_expired_usd", "mean_utilisation", "peak_power_share"])


def policy_by_month(result: PlanResult) -> pd.DataFrame:
    """Per scenario and month: the policy in force, tokens throttled and unserved, and what it cost."""
    grid = _month_grid(result)
    policies = result.policies().drop_duplicates(["scenario", "month"]).set_index(["scenario", "month"])["policy"]
    tokens = _sum_by(result.tokens(), ["scenario", "month"],
                     ["demand_tokens", "served_tokens", "throttled_tokens", "throttling_cost_usd", "unserved_tokens",
                      "unserved_cost_usd"])
    costs = result.costs()
    goodwill = costs[costs["category"] == "goodwill"].groupby(["scenario", "month"])["cost_usd"].sum()
    frame = tokens.reindex(grid).astype(float).fillna(0.0)
    frame.insert(0, "policy", policies.reindex(grid).astype(object).where(policies.reindex(grid).notna(), None))
    frame["goodwill_usd"] = goodwill.reindex(grid).astype(float).fillna(0.0)
    return frame.reset_index()


def lease_schedule_by_month(result: PlanResult) -> pd.DataFrame:
    """Total payments of all new leases per month (also after the horizon: take-or-pay)."""
    payments = result.lease_payments()
    if payments.empty:
        return _frame([], ["month", "in_horizon", "leases_signed", "payment_usd"])
    grouped = payments.groupby("month", sort=True).agg(
        in_horizon=("in_horizon", "first"), leases_signed=("offer_id", "size"), payment_usd=("payment_usd", "sum"))
    return grouped.reset_index()


def _input_frames(result: PlanResult) -> list[_Table]:
    """The validated Problem, table by table, as the model saw it (Settings as parameter/value)."""
    problem = result.problem
    settings = problem.settings
    rows, formats = [], []
    for name, info in Settings.model_fields.items():
        value = getattr(settings, name)
        rows.append({"parameter": name, "value": _plain(value), "unit": Settings.UNITS.get(name, ""),
                     "description": info.description or ""})
        formats.append(GAP if name == "mip_gap" else PERCENT if name in PERCENT_COLUMNS
                       else MONEY if name.endswith("_usd") else None)
    blocks = [_Table("Input_Settings", "Settings", _frame(rows, ["parameter", "value", "unit", "description"]),
                     row_formats={"value": formats})]
    for cls in TABLES:
        records: list[Record] = getattr(problem, TABLE_FIELD[cls.TABLE])
        columns = [c for c in cls.model_fields if c != "notes"] + ["notes"]
        frame = _frame(({c: _plain(getattr(r, c)) for c in columns} for r in records), columns)
        title = f"{cls.TABLE}: {cls.DESCRIPTION}" if cls.DESCRIPTION else cls.TABLE
        blocks.append(_Table(f"Input_{cls.TABLE}", title, frame, empty="No rows."))
    derived = []
    for w in problem.workloads:
        for g in problem.allowed_gpu_types(w):
            given = next((t for t in problem.throughput if t.gpu_type == g and t.workload == w.name), None)
            tps = problem.tokens_per_second_per_gpu(g, w.name)
            source = ("given" if given is not None and given.tokens_per_second_per_gpu is not None
                      else "from Throughput mfu" if given is not None else "from Settings default_mfu")
            derived.append({"gpu_type": g, "workload": w.name, "tokens_per_second_per_gpu": tps,
                            "source": source if tps else "no throughput: not used"})
    blocks.append(_Table("Input_ThroughputAsModelled", "Throughput as modelled (given, or derived from MFU)",
                         _frame(derived, ["gpu_type", "workload", "tokens_per_second_per_gpu", "source"])))
    return blocks


# ---- sheets -------------------------------------------------------------------------------------

@dataclass
class _Context:
    result: PlanResult
    input_path: Path | None
    uncertainty: Uncertainty | None
    timestamp: str
    warnings: list[str]


def _money(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"${value:,.0f}"


def _gap(result: PlanResult) -> float | None:
    gap = result.mip_gap
    return None if gap is None or not math.isfinite(gap) else gap


def _versions() -> list[tuple[str, str]]:
    from planner import __version__

    out = [("planner", __version__)]
    for label, dist in (("Pyomo", "pyomo"), ("HiGHS (highspy)", "highspy"), ("openpyxl", "openpyxl"),
                        ("pandas", "pandas")):
        try:
            out.append((label, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            out.append((label, "not installed"))
    out.append(("Python", platform.python_version()))
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _warnings(result: PlanResult) -> list[str]:
    """Plain-language warnings a reader must see: stopped early, unserved demand, wasted credits..."""
    out: list[str] = []
    settings = result.problem.settings
    gap = _gap(result)
    if result.status == "time_limit":
        gap_text = f"{gap:.2%}" if gap is not None else "unknown"
        out.append(f"The solver stopped at the time limit: this plan is the best found, up to {gap_text} "
                   f"above the best possible cost (best bound {_money(result.best_bound_usd)}).")
    elif result.status == "infeasible":
        out.append("No plan: the model is infeasible; the reasons found are listed under 'Why there is no plan'.")
    elif not result.has_plan:
        out.append(f"No plan: status {result.status} ({result.message or 'no message'}).")
    if gap is not None and gap > settings.mip_gap * (1 + 1e-9) and result.status == "optimal":
        out.append(f"MIP gap {gap:.2%} is above the requested {settings.mip_gap:.2%}.")
    if not result.has_plan:
        return out
    if settings.cvar_weight > 0:
        out.append(f"The objective blends expected cost with CVaR (weight {settings.cvar_weight:.0%}, "
                   f"alpha {settings.cvar_alpha:.0%}); it is not the expected cost.")
    tokens = result.tokens()
    if not tokens.empty:
        by = tokens.groupby("scenario")[["demand_tokens", "unserved_tokens", "throttled_tokens"]].sum()
        for s, row in by.iterrows():
            if row["demand_tokens"] > 0 and row["unserved_tokens"] > 1e-6 * row["demand_tokens"]:
                out.append(f"Scenario {s}: {row['unserved_tokens'] / row['demand_tokens']:.1%} of demand "
                           f"({row['unserved_tokens']:,.0f} tokens) is left unserved.")
    credits = result.credit_summary()
    if not credits.empty:
        weights = credits["scenario"].map(result.data.probability)
        wasted = (credits["expired_unused_usd"] * weights).groupby(credits["credit_id"]).sum()
        for credit, value in wasted.items():
            if value > 0.5:
                out.append(f"Credit {credit}: {_money(value)} expected to expire unused.")
    power = result.power()
    if not power.empty:
        at_cap = power[power["share_of_cap"] >= 0.999]
        for site, rows in at_cap.groupby("site"):
            out.append(f"Site {site} runs at its power cap in {len(rows)} scenario-months.")
    last = result.problem.month_labels[-1]
    leases = result.leases()
    beyond = leases[leases["end_month"] > last]
    if not beyond.empty:
        counted = "counted in" if settings.count_payments_beyond_horizon else "NOT counted in"
        out.append(f"{len(beyond)} lease(s) run past the horizon end {last}; payments after it are {counted} "
                   "the NPV.")
    if not result.duals:
        out.append("Marginal values are not available for this run.")
    return out


def _assumptions(result: PlanResult) -> list[str]:
    s = result.problem.settings
    lines = [
        f"Money in nominal US dollars; NPV discounts month t by (1 + {s.discount_rate_per_year:.2%})^(-t/12) "
        f"to {s.first_month}.",
        f"Horizon: {s.months} months from {s.first_month}; {s.hours_per_month:g} billable hours per month.",
        "Lease blocks are take-or-pay for the whole term; upfront payments fall in the start month.",
        "Lease payments after the horizon are "
        + ("counted (take-or-pay)." if s.count_payments_beyond_horizon else "not counted."),
        "First-stage costs (leases, upfront, existing commitments) are the same in every scenario; "
        "on-demand, credits, throttling, unserved demand and goodwill depend on the scenario.",
        "Credits appear as negative costs (they pay eligible spend).",
        "Utilisation = GPUs serving / GPUs installed (committed); usable = installed x availability factor; "
        "idle = installed - serving (paid for, not serving), which includes the unavailable share.",
        "Marginal values are duals of the LP with every integer decision fixed at the plan, per unit, in "
        "nominal USD of the month and scenario.",
    ]
    if not result.problem.policies:
        lines.append("No rate-limit policies given: one implicit policy without limits is in force.")
    return lines


def _figures(ctx: _Context) -> _Table:
    """Summary key figures: (item, value, unit) with a number format per row."""
    r = ctx.result
    rows: list[tuple[str, Any, str, str | None]] = [
        ("Status", r.status, "", None),
        ("Solver message", r.message, "", None),
    ]
    if r.has_plan:
        rows += [
            ("Objective (NPV)", r.objective_usd, "USD", MONEY),
            ("Expected cost (NPV, probability-weighted)", r.expected_cost_usd, "USD", MONEY),
        ]
        if r.cvar_usd is not None:
            rows.append(("CVaR of cost (NPV)", r.cvar_usd, "USD", MONEY))
        rows += [
            ("Best bound (NPV)", r.best_bound_usd, "USD", MONEY),
            ("MIP gap", _gap(r), "%", GAP),
        ]
        leases = r.leases()
        rows += [
            ("New lease commitment (all payments)", float(leases["total_commitment_usd"].sum()), "USD", MONEY),
            ("New GPUs leased (all blocks)", int(leases["gpus"].sum()), "GPUs", COUNT),
        ]
    rows += [
        ("Solve time", r.timings.get("solve_seconds"), "seconds", DECIMAL),
        ("Model build time", r.timings.get("build_seconds"), "seconds", DECIMAL),
        ("Horizon", f"{r.problem.month_labels[0]} to {r.problem.month_labels[-1]} "
                    f"({r.problem.settings.months} months)", "", None),
        ("Input file", ctx.input_path.name if ctx.input_path else "none (problem built in Python)", "", None),
        ("Input file SHA-256", _sha256(ctx.input_path) if ctx.input_path and ctx.input_path.is_file() else "n/a",
         "", None),
        ("Validated input SHA-256 (JSON)",
         hashlib.sha256(r.problem.model_dump_json().encode("utf-8")).hexdigest(), "", None),
        ("Run timestamp", ctx.timestamp, "UTC", None),
    ]
    rows += [(f"{name} version", version, "", None) for name, version in _versions()]
    frame = _frame(({"item": i, "value": _plain(v), "unit": u} for i, v, u, _ in rows), ["item", "value", "unit"])
    return _Table("Summary_KeyFigures", "Key figures", frame, row_formats={"value": [f for *_, f in rows]})


def _summary_sheet(ctx: _Context) -> _Sheet:
    r = ctx.result
    name = ctx.input_path.name if ctx.input_path else "problem built in Python"
    heading = f"Compute procurement plan: {name}"
    alert = ctx.warnings[0] if ctx.warnings and r.status != "optimal" else ""
    blocks: list[Block] = []
    if r.has_plan:
        decisions = r.headline_decisions() or ["Sign no new leases: existing commitments and on-demand cloud "
                                                "cover the plan."]
        blocks += [_Text("Decisions", decisions), _figures(ctx),
                   _Table("Summary_ScenarioCosts", "Cost per scenario", r.scenario_costs()),
                   _Text("Warnings", ctx.warnings), _Slot(columns=1, rows=CHART_ROWS)]
    else:
        blocks += [_Text("Why there is no plan", r.diagnosis or [r.message or r.status]), _figures(ctx),
                   _Text("Warnings", ctx.warnings)]
    contents = [f"{sheet}: {text}" for sheet, text in _CONTENTS if r.has_plan or sheet in ("Inputs", "Diagnostics")]
    if r.has_plan and ctx.uncertainty is not None:
        contents.insert(-2, "Regret: stochastic vs expected-value plan, VSS, EVPI, regret per scenario")
    blocks.append(_Text("Contents", contents))

    def charts(placed: dict[str, _Placed]) -> list[ChartBase]:
        return [_cost_chart(placed["Costs_ExpectedByMonth"])] if "Costs_ExpectedByMonth" in placed else []

    return _Sheet("Summary", heading, [f"Status: {r.status}. Run {ctx.timestamp} UTC."], blocks, across=False,
                  charts=charts if r.has_plan else None, alert=alert)


_CONTENTS = (
    ("Leases", "what to sign, when, how much; total commitment and the monthly payment schedule"),
    ("Capacity", "GPUs committed, used and idle per month and type; utilisation; capacity vs demand charts"),
    ("Costs", "cost by category and month, NPV per scenario, cost per million tokens"),
    ("Cloud & credits", "on-demand GPUs rented, credit burn, expiry and credits wasted"),
    ("Policies", "rate-limit policy per month, throttled tokens, revenue lost"),
    ("Power", "MW drawn vs cap per site"),
    ("Scenarios", "outcomes per scenario"),
    ("Marginal values", "what one more GPU-hour or MW would be worth"),
    ("Inputs", "the validated inputs as the model saw them"),
    ("Diagnostics", "warnings, assumptions, model size, solver log"),
)


def _leases_sheet(r: PlanResult) -> _Sheet:
    leases = r.leases()
    total = float(leases["total_commitment_usd"].sum())
    notes = [f"New commitment: {_money(total)} over {len(leases)} lease(s), {int(leases['gpus'].sum()):,} GPUs. "
             "Payments are take-or-pay for the whole term, also after the horizon."]
    return _Sheet("Leases", "Leases to sign", notes, [
        _Table("Leases", "Leases to sign", leases, empty="No new leases."),
        _Table("Leases_PaymentsByMonth", "Payment schedule: all new leases", lease_schedule_by_month(r),
               empty="No payments."),
        _Table("Leases_Payments", "Payment schedule by lease", r.lease_payments(), empty="No payments."),
    ])


def _capacity_sheet(r: PlanResult) -> _Sheet:
    chosen = _chart_scenarios(r)
    notes = ["Committed = existing commitments + new leases (paid); in use = GPUs serving on committed capacity "
             "+ on-demand GPUs rented. Charts: capacity (GPUs, solid) vs token demand and tokens served "
             "(dashed, right axis) per scenario."]
    if len(chosen) < len(r.data.scenarios):
        notes.append(f"Charts show the {len(chosen)} most probable of {len(r.data.scenarios)} scenarios; the tables "
                     "hold all of them.")
    by_month = _Table("Capacity_ByMonth", "Capacity and demand by scenario and month (all GPU types)",
                      capacity_by_month(r))

    def charts(placed: dict[str, _Placed]) -> list[ChartBase]:
        return _capacity_charts(r, placed["Capacity_ByMonth"])

    return _Sheet("Capacity", "Capacity: GPUs available vs used", notes, [
        by_month, _Slot(),
        _Table("Capacity_ByTypeAndSite", "Capacity by GPU type and site", r.capacity(), empty="No capacity."),
    ], charts=charts)


def _costs_sheet(r: PlanResult) -> _Sheet:
    expected = r.expected_cost_usd
    notes = [f"Expected cost (NPV, probability-weighted): {_money(expected)}; objective {_money(r.objective_usd)}. "
             f"Discounted at {r.problem.settings.discount_rate_per_year:.2%} a year to "
             f"{r.problem.settings.first_month}. Credits are negative."]

    def charts(placed: dict[str, _Placed]) -> list[ChartBase]:
        return [_cost_chart(placed["Costs_ExpectedByMonth"])]

    return _Sheet("Costs", "Costs by category and month", notes, [
        _Table("Costs_ExpectedByMonth", "Expected cost by month (nominal USD, probability-weighted)",
               expected_cost_by_month(r)),
        _Slot(),
        _Table("Costs_NPVByScenario", "NPV by scenario and category (USD)", npv_by_scenario(r)),
        _Table("Costs_Detail", "Cost by scenario, month and category", r.costs(), empty="No costs."),
        _Table("Costs_PerMillionTokens", "Compute cost per million tokens served", r.usd_per_million_tokens(),
               empty="No tokens served."),
    ], charts=charts)


def _cloud_sheet(r: PlanResult) -> _Sheet:
    summary = r.credit_summary()
    wasted = float((summary["expired_unused_usd"] * summary["scenario"].map(r.data.probability)).sum()) \
        if not summary.empty else 0.0
    notes = [f"Expected credits expiring unused: {_money(wasted)} (probability-weighted)."]
    return _Sheet("Cloud & credits", "On-demand cloud and credits", notes, [
        _Table("Cloud_OnDemand", "On-demand GPUs rented", r.on_demand(), empty="No on-demand use."),
        _Table("Cloud_CreditUse", "Credits: use and waste per scenario", summary, empty="No credits."),
        _Table("Cloud_CreditBurn", "Credit burn per month", r.credits(), empty="No credits."),
    ])


def _policies_sheet(r: PlanResult) -> _Sheet:
    notes = ["Throttled tokens are demand turned away by the rate-limit policy; revenue lost = throttled tokens x "
             "revenue per million tokens."]
    return _Sheet("Policies", "Rate-limit policies", notes, [
        _Table("Policies_ByMonth", "Policy in force, throttling and unserved demand", policy_by_month(r)),
        _Table("Policies_TokensByWorkload", "Tokens by workload", r.tokens(), empty="No demand."),
    ])


def _power_sheet(r: PlanResult) -> _Sheet:
    return _Sheet("Power", "Power drawn vs cap per site", ["Facility power (PUE included) of GPUs in service."], [
        _Table("Power_BySite", "Power by scenario, month and site", r.power(), empty="No sites with GPUs."),
    ])


def _scenarios_sheet(r: PlanResult) -> _Sheet:
    return _Sheet("Scenarios", "Outcomes per scenario", ["NPV is the model's scenario cost; shares are of demand."], [
        _Table("Scenarios_Outcomes", "Outcomes per scenario", scenario_outcomes(r)),
    ])


def _marginal_sheet(r: PlanResult) -> _Sheet:
    notes = ["What one more usable GPU-hour (of a type at a site) or one more MW of site power would be worth in "
             "that month and scenario, in nominal USD. Zero: the resource is not binding."]
    return _Sheet("Marginal values", "Marginal values", notes, [
        _Table("MarginalValues", "Marginal values", r.marginal_values(), empty="Not available for this run."),
    ])


def _optional_frame(source: object, method: str) -> pd.DataFrame | None:
    """``source.method()`` when the analysis object offers it (beyond the required contract)."""
    function = getattr(source, method, None)
    return function() if callable(function) else None


def _regret_sheet(r: PlanResult, uncertainty: Uncertainty) -> _Sheet:
    figures = uncertainty.figures
    rows = [{"item": label, "value_usd": figures.get(key)} for key, label in FIGURE_LABELS if key in figures]
    columns = ["plan", "scenario", "cost_usd", "best_cost_usd", "regret_usd"]
    regret = uncertainty.regret_table().reindex(columns=columns)
    plans = list(dict.fromkeys(regret["plan"].astype(str)))
    scenarios = list(dict.fromkeys(regret["scenario"].astype(str)))
    if plans and scenarios:  # a full plan x scenario grid, plans then scenarios in first-seen order
        index = pd.MultiIndex.from_product([plans, scenarios], names=["plan", "scenario"])
        keyed = regret.assign(plan=regret["plan"].astype(str), scenario=regret["scenario"].astype(str))
        regret = keyed.drop_duplicates(["plan", "scenario"]).set_index(["plan", "scenario"]).reindex(index)
        regret = regret.reset_index()[columns]
    notes = ["Regret = a plan's cost in a scenario minus the best cost attainable had that scenario been known "
             "(blank: the plan cannot be made feasible there)."]
    notes += [str(note) for note in getattr(uncertainty, "notes", None) or []]
    blocks: list[Block] = [
        _Table("Regret_Figures", "Stochastic vs expected-value plan", _frame(rows, ["item", "value_usd"]),
               labels={"value_usd": "Value (USD)"}),
        _Table("Regret_Table", "Regret per plan and scenario", regret, empty="No regret table."),
        _Slot(),
    ]
    by_plan = _optional_frame(uncertainty, "expected_cost_by_plan")
    if by_plan is not None:
        blocks.append(_Table("Regret_ByPlan", "Cost and regret per plan", by_plan, empty="No plans."))
    leases = _optional_frame(uncertainty, "lease_plans")
    if leases is not None:
        blocks.append(_Table("Regret_PlanLeases", "Leases each plan signs", leases, empty="No leases in any plan."))

    def charts(placed: dict[str, _Placed]) -> list[ChartBase]:
        if not regret.empty:
            return [_regret_chart(placed["Regret_Table"], plans, len(scenarios))]
        return []

    return _Sheet("Regret", "Planning under uncertainty: regret", notes, blocks, charts=charts)


def _inputs_sheet(r: PlanResult) -> _Sheet:
    return _Sheet("Inputs", "Inputs as the model saw them", [
        "The validated input: months normalised to YYYY-MM, lists joined with commas, defaults filled in."],
        list(_input_frames(r)), across=False)


def _diagnostics_sheet(ctx: _Context) -> _Sheet:
    r = ctx.result
    size = _frame(({"item": i, "value": v, "unit": u} for i, v, u in (
        ("Variables", r.num_variables, ""), ("Constraints", r.num_constraints, ""),
        ("Integer variables", r.num_integer_variables, ""),
        *((f"{key.replace('_seconds', '').capitalize()} time", value, "seconds")
          for key, value in r.timings.items()),
    )), ["item", "value", "unit"])
    formats = [COUNT] * 3 + [DECIMAL] * len(r.timings)
    blocks: list[Block] = [_Text("Warnings", ctx.warnings)]
    if r.diagnosis:
        blocks.append(_Text("Diagnosis (why the model is infeasible)", r.diagnosis))
    blocks += [
        _Text("Assumptions", _assumptions(r)),
        _Table("Diagnostics_ModelSize", "Model size and timings", size, row_formats={"value": formats}),
        _Text(f"Solver log (last {len(r.solver_log_tail)} lines)", r.solver_log_tail, mono=True),
    ]
    return _Sheet("Diagnostics", "Diagnostics", [f"Status: {r.status}. Solver: {r.message or 'no message'}."],
                  blocks, across=False)


def _sheets(ctx: _Context) -> list[_Sheet]:
    r = ctx.result
    if not r.has_plan:
        return [_summary_sheet(ctx), _inputs_sheet(r), _diagnostics_sheet(ctx)]
    sheets = [_summary_sheet(ctx), _leases_sheet(r), _capacity_sheet(r), _costs_sheet(r), _cloud_sheet(r),
              _policies_sheet(r), _power_sheet(r), _scenarios_sheet(r), _marginal_sheet(r)]
    if ctx.uncertainty is not None:
        sheets.append(_regret_sheet(r, ctx.uncertainty))
    return [*sheets, _inputs_sheet(r), _diagnostics_sheet(ctx)]


# ---- the file -----------------------------------------------------------------------------------

def _file_error(path: Path, found: str, expected: str) -> InputError:
    return InputError([InputIssue("file", "report path", found, expected)], source=str(path))


def check_report_path(path: Path, input_path: Path | None) -> None:
    """Refuse the input workbook, a folder, a missing folder, or a name that is not .xlsx."""
    if input_path is not None:
        same = path.resolve() == input_path.resolve()
        if not same and path.exists() and input_path.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(path, input_path)
        if same:
            raise _file_error(path, f"{describe(str(path))}, the input workbook itself",
                              "a report path different from the input workbook")
    if path.is_dir():
        raise _file_error(path, f"{describe(str(path))}, a folder", "a file path (e.g. reports/plan.xlsx)")
    if path.suffix.lower() != ".xlsx":
        raise _file_error(path, describe(str(path)), "a file name ending in .xlsx")
    if not path.parent.is_dir():
        raise _file_error(path, f"{describe(str(path))} in a folder that does not exist",
                          "a path in an existing folder")


def _temporary_file(path: Path) -> Path:
    """Create an empty temporary file next to ``path`` (same folder, so the rename is atomic)."""
    for _ in range(10):
        candidate = path.parent / f".{path.stem}.{secrets.token_hex(4)}.tmp.xlsx"
        try:
            with open(candidate, "xb"):
                return candidate
        except FileExistsError:
            continue
        except OSError as error:
            raise _file_error(path, f"{describe(str(path))}: {error.strerror or error}",
                              "a folder the report can be written to") from None
    raise _file_error(path, describe(str(path)), "a folder where a temporary file can be created")


def build_workbook(result: PlanResult, *, input_path: Path | None = None,
                   uncertainty: Uncertainty | None = None) -> Workbook:
    """The report as an unsaved (write-only) workbook; :func:`write_report` saves it atomically."""
    ctx = _Context(result=result, input_path=input_path, uncertainty=uncertainty,
                   timestamp=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"), warnings=_warnings(result))
    sheets = _sheets(ctx)
    layouts = {sheet.name: sheet.layout() for sheet in sheets}
    everything = {p.block.key: p for placed in layouts.values() for p in placed if isinstance(p.block, _Table)}
    wb = Workbook(write_only=True)
    wb.properties.creator = "planner"
    wb.properties.title = "Compute procurement plan"
    used_names: set[str] = set()
    try:
        for sheet in sheets:
            _write_sheet(wb, sheet, layouts[sheet.name], everything, used_names)
    except BaseException:
        discard(wb)
        raise
    return wb


def discard(wb: Workbook) -> None:
    """Best effort: delete the streams a write-only workbook keeps in the system temp folder
    (openpyxl removes them on save, or at interpreter exit)."""
    for ws in wb.worksheets:
        writer = getattr(ws, "_writer", None)
        out = getattr(writer, "out", None)
        if writer is None or not isinstance(out, str):
            continue
        with contextlib.suppress(Exception):
            ws.close()
        with contextlib.suppress(OSError):
            os.remove(out)


def default_report_path(input_path: Path, folder: Path = Path("reports")) -> Path:
    """``reports/<input-stem>-plan.xlsx``: where ``planner solve`` writes when ``-o`` is not given."""
    return Path(folder) / f"{Path(input_path).stem}-plan.xlsx"


def write_report(result: PlanResult, path: Path, *, input_path: Path | None = None,
                 uncertainty: Uncertainty | None = None) -> Path:
    """Write the Excel report of ``result`` to ``path`` atomically; return the path written.

    Raises :class:`InputError` (sheet "file") when ``path`` is the input workbook, a folder, in a missing
    or unwritable folder, or not an .xlsx name. On any failure no report and no temporary file remain.
    """
    path = Path(path)
    input_path = Path(input_path) if input_path is not None else None
    check_report_path(path, input_path)
    temporary = _temporary_file(path)
    try:
        wb = build_workbook(result, input_path=input_path, uncertainty=uncertainty)
        try:
            wb.save(temporary)
        except BaseException as error:
            discard(wb)
            if not isinstance(error, OSError):
                raise
            raise _file_error(path, f"{describe(str(path))}: {error.strerror or error}",
                              "a folder with room for the report") from None
        with contextlib.suppress(OSError), open(temporary, "rb") as handle:
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
        try:
            os.replace(temporary, path)
        except OSError as error:
            raise _file_error(path, f"{describe(str(path))}: {error.strerror or error}",
                              "a report path that can be replaced (close the file if it is open in Excel)") from None
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return path
