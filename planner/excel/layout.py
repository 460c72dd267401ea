"""Sheets as lists of titled blocks, and where each block lands.

A :class:`Sheet` has a heading, an optional alert (one or more lines), note lines, then blocks laid out across
(side by side, one blank column between) or down (stacked, two blank rows between). A block is a
:class:`Table` (an Excel Table over a DataFrame), a :class:`Text` (a titled list of lines) or a
:class:`Slot` (empty cells reserved for charts). Charts are made once every block is placed, from
the :class:`Placed` tables (by key) they draw on.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from openpyxl.chart import Reference
from openpyxl.chart._chart import ChartBase
from openpyxl.utils import get_column_letter, quote_sheetname

from planner.excel.cells import clean_text
from planner.excel.formats import displayed

if TYPE_CHECKING:
    from planner.excel.printing import PrintSetup

SLOT_COLUMN_WIDTH = 10.0
MAX_COLUMN_WIDTH, MIN_COLUMN_WIDTH = 70.0, 8.0
CHART_ROWS = 24
"""Rows one chart takes; charts placed in a slot are stacked this many rows apart."""
SLOT_COLUMNS = 13


def plain(value: Any) -> Any:
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
        return clean_text(value) or None
    if isinstance(value, list | tuple | set):
        return clean_text(", ".join(str(part) for part in value))
    if hasattr(value, "item"):  # numpy / pandas scalars
        with contextlib.suppress(ValueError, TypeError):
            return plain(value.item())
    return clean_text(str(value))


def column_values(series: pd.Series) -> list[Any]:
    """Column values as plain cell values (fast paths for plain numpy columns)."""
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else ""
    if kind == "b":
        return ["yes" if v else "no" for v in series.tolist()]
    if kind == "f":
        return [v if math.isfinite(v) else None for v in series.tolist()]
    if kind in ("i", "u"):
        return series.tolist()
    return [plain(v) for v in series.tolist()]


@dataclass
class Table:
    """One Excel Table over ``frame``. ``key`` is its workbook-unique name (charts find it by key);
    ``labels`` and ``formats`` give each column's header and number format (the column name and
    no format by default); ``row_formats`` gives one format per row instead, for item/value tables."""

    key: str
    title: str
    frame: pd.DataFrame
    empty: str = "None."
    labels: Mapping[str, str] = field(default_factory=dict)
    formats: Mapping[str, str | None] = field(default_factory=dict)
    row_formats: Mapping[str, list[str | None]] = field(default_factory=dict)

    @functools.cached_property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    @property
    def rows(self) -> int:
        return len(self.frame)

    def number_format(self, column: str) -> str | None:
        return self.formats.get(column)

    @functools.cached_property
    def headers(self) -> list[str]:
        """Header labels: one line each, unique within the table (Excel Table column names)."""
        seen: set[str] = set()
        out = []
        for column in self.columns:
            label = clean_text(self.labels.get(column) or column).replace("\n", " ") or column
            base, n = label, 2
            while label.lower() in seen:
                label, n = f"{base} {n}", n + 1
            seen.add(label.lower())
            out.append(label)
        return out


@dataclass
class Text:
    """A titled list of text lines (decisions, warnings, a log); ``mono`` for fixed-width lines."""

    title: str
    lines: list[str]
    mono: bool = False


@dataclass
class Slot:
    """Empty cells reserved for charts: columns between tables side by side, or rows in a stack."""

    columns: int = SLOT_COLUMNS
    rows: int = 1


Block = Table | Text | Slot


@dataclass
class Placed:
    """Where a block landed: first column and title row (1-based); the header row for tables."""

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
        assert isinstance(self.block, Table)
        return self.col + self.block.columns.index(name)

    def ref(self, name: str, first: int = 0, count: int | None = None) -> Reference:
        """Reference to ``count`` data cells of column ``name`` starting at data row ``first``."""
        assert isinstance(self.block, Table)
        letter = get_column_letter(self.column(name))
        start = self.first_data_row + first
        end = start + (self.block.rows - first if count is None else count) - 1
        return Reference(range_string=f"{quote_sheetname(self.sheet)}!${letter}${start}:${letter}${end}")


ChartMaker = Callable[[dict[str, Placed]], list[ChartBase]]
"""Makes a sheet's charts from every placed table of the workbook, by key."""


@dataclass
class Sheet:
    """A worksheet: heading, alert, notes, blocks laid out across (side by side) or down (stacked).

    ``print_setup`` sets up its printing (see :mod:`planner.excel.printing`); None (every sheet
    unless it names another setup) is :func:`~planner.excel.printing.landscape_one_page_wide`.
    """

    name: str
    heading: str
    notes: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    across: bool = True
    charts: ChartMaker | None = None
    alert: str = ""
    print_setup: PrintSetup | None = None

    @property
    def alert_lines(self) -> list[str]:
        """The alert, one line per row (none without an alert)."""
        return self.alert.split("\n") if self.alert else []

    def layout(self) -> list[Placed]:
        placed: list[Placed] = []
        top = 2 + len(self.alert_lines) + len(self.notes) + 1  # heading, alert, notes, blank
        if self.across:
            col = 1
            for block in self.blocks:
                width, height = extent(block)
                placed.append(Placed(self.name, block, col, top, width, height))
                col += width + 1
        else:
            row = top
            for block in self.blocks:
                width, height = extent(block)
                placed.append(Placed(self.name, block, 1, row, width, height))
                row += height + 2
        return placed


def extent(block: Block) -> tuple[int, int]:
    """(columns, rows incl. title) a block occupies."""
    if isinstance(block, Slot):
        return block.columns, block.rows
    if isinstance(block, Text):
        return 1, 1 + max(len(block.lines), 1)
    if block.rows == 0:
        return max(len(block.columns), 1), 2
    return len(block.columns), 2 + block.rows


def column_widths(sheet: Sheet, placed: list[Placed]) -> dict[int, float]:
    """Column widths that fit headers and values (text capped), computed column-wise, not per cell."""
    widths: dict[int, float] = {}
    for p in placed:
        block = p.block
        if isinstance(block, Slot):
            if sheet.across:
                for k in range(block.columns):
                    widths[p.col + k] = max(widths.get(p.col + k, 0.0), SLOT_COLUMN_WIDTH)
            continue
        if not isinstance(block, Table):
            continue
        for j, (column, label) in enumerate(zip(block.columns, block.headers, strict=True)):
            width = len(label) + 4.0  # room for the filter button
            width = max(width, _value_width(block.frame[column], block.number_format(column),
                                            block.row_formats.get(column)))
            width = min(max(width, MIN_COLUMN_WIDTH), MAX_COLUMN_WIDTH)
            widths[p.col + j] = max(widths.get(p.col + j, 0.0), width)
    return widths


def _value_width(series: pd.Series, fmt: str | None, row_formats: Sequence[str | None] | None) -> float:
    """Width of the longest value as displayed: from min/max for numbers, from lengths for text."""
    if series.empty:
        return 0.0
    if row_formats is not None:
        texts = [displayed(v, f) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
                 for v, f in zip(series.tolist(), row_formats, strict=True)]
        return max(len(t) for t in texts) + 2.0
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        finite = series[series.map(lambda v: isinstance(v, int | float) and math.isfinite(v))] \
            if series.dtype == object else series.replace([math.inf, -math.inf], math.nan).dropna()
        if finite.empty:
            return 0.0
        return max(len(displayed(float(finite.max()), fmt)), len(displayed(float(finite.min()), fmt))) + 2
    return float(series.dropna().astype(str).str.len().max() or 0.0) + 2.0


def chart_anchor(placed: list[Placed], *, below_header: bool) -> tuple[int, int]:
    """(column, row) of a sheet's first chart: its first chart slot, else right of every block.

    ``below_header``: charts start below the header row of side-by-side tables, which is repeated on
    every printed page (a chart reaching into it would show on every page).
    """
    slot = next((p for p in placed if isinstance(p.block, Slot)), None)
    offset = 2 if below_header else 1
    if slot is not None:
        return slot.col, slot.title_row + offset
    return max((p.col + p.width - 1 for p in placed), default=1) + 2, (placed[0].title_row if placed else 3) + offset
