"""Streaming sheets into a workbook: Excel Tables, number formats, widths, frozen headers, charts.

The workbook is written in openpyxl's write-only mode: memory stays flat and time grows linearly
with the number of cells; each column shares one styled template cell. Every table is an Excel
Table, cells hold plain values (never formulas), header rows are frozen and columns fit their
headers and values.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table as ExcelTable
from openpyxl.worksheet.table import TableColumn, TableStyleInfo

from planner.excel.cells import is_risky, text_cell
from planner.excel.charts import CHART_WIDTH_CM
from planner.excel.files import discard
from planner.excel.formats import displayed
from planner.excel.layout import CHART_ROWS, Placed, Sheet, Slot, Table, Text, column_values, plain
from planner.excel.printing import (
    PIXELS_PER_CHARACTER,
    PIXELS_PER_CM,
    PrintLayout,
    columns_to_hold,
    width_in_characters,
    wrap_lines,
)

TABLE_STYLE = "TableStyleMedium2"
SLOT_COLUMN_WIDTH = 10.0
MAX_COLUMN_WIDTH, MIN_COLUMN_WIDTH = 70.0, 8.0
TEXT_WIDTH_CHARACTERS = 100
"""Text lines of side-by-side sheets wrap at this width (stacked sheets: at the width of their tables)."""
TEXT_WIDTH_CM = TEXT_WIDTH_CHARACTERS * PIXELS_PER_CHARACTER / PIXELS_PER_CM


class Styles:
    """Cell factories for one worksheet: styled templates are shared per column (streaming)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def text(self, value: str, *, bold: bool = False, size: float | None = None, color: str | None = None,
             mono: bool = False) -> WriteOnlyCell:
        font = Font(bold=bold, size=size, color=color, name="Consolas" if mono else None) \
            if bold or size or color or mono else None
        return text_cell(self.ws, value, font)

    def header(self, value: str) -> WriteOnlyCell:
        return self.text(value, bold=True)

    def numeric(self, number_format: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value=None)
        cell.number_format = number_format
        return cell


class TableWriter:
    """Streams one table's rows: per-column values and one styled template cell per column."""

    def __init__(self, table: Table, styles: Styles) -> None:
        self.styles = styles
        templates = []
        for column in table.columns:
            fmt = table.number_format(column)
            templates.append(styles.numeric(fmt) if fmt else None)
        self.columns = list(zip([column_values(table.frame[c]) for c in table.columns], templates,
                                [table.row_formats.get(c) for c in table.columns], strict=True))

    def row(self, i: int) -> list[Any]:
        """The cells of data row ``i`` (0-based), left to right."""
        out: list[Any] = []
        for values, template, row_formats in self.columns:
            value = values[i]
            if value is None:
                out.append(None)
            elif isinstance(value, str):
                out.append(self.styles.text(value) if is_risky(value) else value)
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


def write_sheet(wb: Workbook, sheet: Sheet, placed: list[Placed], everything: dict[str, Placed],
                used_names: set[str]) -> None:
    """Stream one worksheet: widths, frozen panes and print setup first, then rows, then tables and charts."""
    ws = wb.create_sheet(sheet.name)
    styles = Styles(ws)
    widths = column_widths(sheet, placed)
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = round(width, 1)
    tables = [p for p in placed if isinstance(p.block, Table)]
    ws.freeze_panes = f"A{tables[0].first_data_row}" if sheet.across and tables else "A2"
    charts = sheet.charts(everything) if sheet.charts is not None else []
    anchor = _chart_anchor(placed, below_header=sheet.across)
    sheet.print_setup(ws, print_layout(sheet, placed, widths, charts=len(charts), chart_anchor=anchor))

    ws.append([styles.text(sheet.heading, bold=True, size=14)])
    for line in sheet.alert_lines:
        ws.append([styles.text(line, bold=True, color="C00000")])
    for note in sheet.notes:
        ws.append([styles.text(note)])
    ws.append([])
    _write_blocks(ws, styles, placed)
    _add_tables(ws, tables, used_names)
    col, row = anchor
    for k, chart in enumerate(charts):
        ws.add_chart(chart, f"{get_column_letter(col)}{row + k * CHART_ROWS}")


def _chart_anchor(placed: list[Placed], *, below_header: bool) -> tuple[int, int]:
    """(column, row) of a sheet's first chart: its first chart slot, else right of every block.

    ``below_header``: charts start below the header row of side-by-side tables, which is repeated on
    every printed page (a chart reaching into it would show on every page).
    """
    slot = next((p for p in placed if isinstance(p.block, Slot)), None)
    offset = 2 if below_header else 1
    if slot is not None:
        return slot.col, slot.title_row + offset
    return max((p.col + p.width - 1 for p in placed), default=1) + 2, (placed[0].title_row if placed else 3) + offset


def print_layout(sheet: Sheet, placed: list[Placed], widths: dict[int, float], *, charts: int,
                 chart_anchor: tuple[int, int]) -> PrintLayout:
    """What printing ``sheet`` covers (see :mod:`planner.excel.printing`), as ranges that each start a
    page: side by side, one per block (the first from row 1, with the heading and notes) and the
    shared title and header rows repeated; stacked, one over the blocks above the charts and one over
    those below them. Every chart has a range of its own, so no page break cuts through a chart."""
    chart_col, chart_row = chart_anchor
    chart_last_col = chart_col + columns_to_hold(widths, chart_col, CHART_WIDTH_CM) - 1
    # A chart's range stops a row short of the next chart: a range that reaches an object's first
    # row prints that object's border.
    chart_boxes = [(chart_col, chart_row + k * CHART_ROWS, chart_last_col, chart_row + (k + 1) * CHART_ROWS - 2)
                   for k in range(charts)]
    boxes: list[tuple[int, int, int, int]] = []  # first column, first row, last column, last row
    for p in placed:
        if isinstance(p.block, Slot):
            if p.col == chart_col and p.title_row < chart_row <= p.title_row + 2:
                boxes += chart_boxes
                chart_boxes = []
            continue
        width = p.width if isinstance(p.block, Table) else columns_to_hold(widths, p.col, TEXT_WIDTH_CM)
        boxes.append((p.col, p.title_row, p.col + width - 1, p.title_row + p.height - 1))
    boxes += chart_boxes  # charts right of every block (no slot)
    if not boxes:
        return PrintLayout((f"A1:A{1 + len(sheet.alert_lines) + len(sheet.notes)}",))
    if sheet.across:
        boxes[0] = (1, 1, *boxes[0][2:])
        top = placed[0].title_row
        shared_header = any(isinstance(p.block, Table) and p.block.rows for p in placed)
        return PrintLayout(tuple(_range(box) for box in boxes), f"{top}:{top + 1}" if shared_header else None)
    charts_at = {box for box in boxes if box[0] == chart_col and box[2] == chart_last_col and charts}
    last_col = max(box[2] for box in boxes)
    merged: list[tuple[int, int, int, int]] = []
    for box in boxes:
        if box in charts_at or not merged or merged[-1] in charts_at:
            merged.append(box if box in charts_at else (1, 1 if not merged else box[1], last_col, box[3]))
        else:
            merged[-1] = (*merged[-1][:3], box[3])
    return PrintLayout(tuple(_range(box) for box in merged))


def _range(box: tuple[int, int, int, int]) -> str:
    first_col, first_row, last_col, last_row = box
    return f"{get_column_letter(first_col)}{first_row}:{get_column_letter(last_col)}{last_row}"


def fit_text_to_print(sheet: Sheet) -> Sheet:
    """``sheet`` with its alert, notes and text lines wrapped to the width that prints, so that no
    line runs past its print range (see :func:`print_layout`)."""
    placed = sheet.layout()
    widths = column_widths(sheet, placed)
    if sheet.across:
        first = next((p for p in placed if isinstance(p.block, Table)), None)
        heading_width = width_in_characters(widths, 1, first.col + first.width - 1) if first else 0.0
        text_width = TEXT_WIDTH_CHARACTERS
    else:
        last_col = max((p.col + p.width - 1 for p in placed if isinstance(p.block, Table)), default=1)
        if any(isinstance(p.block, Slot) for p in placed) and sheet.charts is not None:
            last_col = max(last_col, columns_to_hold(widths, 1, CHART_WIDTH_CM))
        heading_width = text_width = width_in_characters(widths, 1, last_col)
    blocks = [replace(block, lines=wrap_lines(block.lines, text_width)) if isinstance(block, Text) else block
              for block in sheet.blocks]
    alert = "\n".join(wrap_lines([sheet.alert], heading_width)) if sheet.alert else ""
    return replace(sheet, alert=alert, notes=wrap_lines(sheet.notes, heading_width), blocks=blocks)


def _write_blocks(ws: Any, styles: Styles, placed: list[Placed]) -> None:
    """Stream the rows of every block, row by row across the blocks that share a row."""
    writers = {id(p.block): TableWriter(p.block, styles) for p in placed
               if isinstance(p.block, Table) and p.block.rows}
    last_row = max((p.title_row + p.height - 1 for p in placed), default=0)
    width = max((p.col + p.width - 1 for p in placed), default=1)
    first = placed[0].title_row if placed else last_row + 1
    for row in range(first, last_row + 1):
        cells: list[Any] = [None] * width
        for p in placed:
            offset = row - p.title_row
            block = p.block
            if offset < 0 or offset >= p.height or isinstance(block, Slot):
                continue
            if offset == 0:
                cells[p.col - 1] = styles.text(block.title, bold=True, size=12)
            elif isinstance(block, Text):
                line = plain(block.lines[offset - 1]) if block.lines else "None."
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


def _add_tables(ws: Any, tables: list[Placed], used_names: set[str]) -> None:
    """An Excel Table (filter buttons, banded rows) over every non-empty table block."""
    for p in tables:
        block = p.block
        assert isinstance(block, Table)
        if not block.rows:
            continue
        if block.key in used_names:
            raise ValueError(f"duplicate table name {block.key}")
        used_names.add(block.key)
        ref = (f"{get_column_letter(p.col)}{p.header_row}:"
               f"{get_column_letter(p.col + len(block.columns) - 1)}{p.header_row + block.rows}")
        table = ExcelTable(displayName=block.key, ref=ref, autoFilter=AutoFilter(ref=ref),
                           tableColumns=[TableColumn(id=j + 1, name=label) for j, label in enumerate(block.headers)],
                           tableStyleInfo=TableStyleInfo(name=TABLE_STYLE, showRowStripes=True))
        with warnings.catch_warnings():  # columns are set above, as write-only mode requires
            warnings.filterwarnings("ignore", message="In write-only mode you must add table columns manually")
            ws.add_table(table)


def write_workbook(sheets: list[Sheet], *, title: str, marker: str | None = None) -> Workbook:
    """Lay out and stream ``sheets`` into a new write-only workbook (unsaved: save it atomically);
    ``marker`` goes into the document keywords (see :data:`planner.excel.REPORT_MARKER`)."""
    sheets = [fit_text_to_print(sheet) for sheet in sheets]
    layouts = {sheet.name: sheet.layout() for sheet in sheets}
    everything = {p.block.key: p for placed in layouts.values() for p in placed if isinstance(p.block, Table)}
    wb = Workbook(write_only=True)
    wb.properties.creator = "planner"
    wb.properties.title = title
    if marker is not None:
        wb.properties.keywords = marker
    used_names: set[str] = set()
    try:
        for sheet in sheets:
            write_sheet(wb, sheet, layouts[sheet.name], everything, used_names)
    except BaseException:
        discard(wb)
        raise
    return wb

