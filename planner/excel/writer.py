"""Streaming sheets into a workbook: Excel Tables, number formats, widths, frozen headers, charts.

The workbook is written in openpyxl's write-only mode: memory stays flat and time grows linearly
with the number of cells; each column shares one styled template cell. Every table is an Excel
Table, cells hold plain values (never formulas), header rows are frozen and columns fit their
headers and values.
"""

from __future__ import annotations

import warnings
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table as ExcelTable
from openpyxl.worksheet.table import TableColumn, TableStyleInfo

from planner.excel.cells import is_risky, text_cell
from planner.excel.files import discard
from planner.excel.layout import (
    CHART_ROWS,
    Placed,
    Sheet,
    Slot,
    Table,
    Text,
    chart_anchor,
    column_values,
    column_widths,
    plain,
)
from planner.excel.printing import fit_text_to_print, landscape_one_page_wide, print_layout

TABLE_STYLE = "TableStyleMedium2"


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
    anchor = chart_anchor(placed, below_header=sheet.across)
    setup = sheet.print_setup or landscape_one_page_wide
    setup(ws, print_layout(sheet, placed, widths, charts=len(charts), chart_anchor=anchor))

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

