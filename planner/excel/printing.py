"""Printing: every sheet prints landscape, one page wide, with the header rows of its tables repeated.

:func:`print_layout` works out what a sheet must print, as a :class:`PrintLayout`: one range per block
of side-by-side tables, one range per chart, and one over the text and tables of a stacked sheet; and
the title and header rows that side-by-side tables share. The writer hands it to the sheet's
print-setup hook, :func:`landscape_one_page_wide` unless the sheet names another. Each range of a
print area starts on a page of its own and is fitted to the page width, so a wide sheet of several
tables prints as several readable stacks of pages instead of one unreadable strip.
:func:`fit_text_to_print` wraps notes and text lines to the width that prints.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins

from planner.excel.charts import CHART_WIDTH_CM
from planner.excel.layout import CHART_ROWS, Placed, Sheet, Slot, Table, Text, column_widths

DEFAULT_COLUMN_WIDTH = 8.43
"""Excel's width (in characters) of a column whose width is not set."""
PIXELS_PER_CHARACTER, COLUMN_PADDING_PIXELS, PIXELS_PER_CM = 7.0, 5.0, 96 / 2.54
PAGE_WIDTH_PIXELS = 950.0
"""What fits across a landscape page (Letter or A4, narrow margins) at 100%."""
PACKED_WIDTH_PIXELS = PAGE_WIDTH_PIXELS / 0.75
"""Tables side by side that fit one page width together at 75% or more print on the same pages."""
MIN_WRAP_CHARACTERS = 60
"""The range that holds a sheet's notes is made at least this wide where it can be."""
TEXT_WIDTH_CHARACTERS = 100
"""Text lines beside tables wrap at this width (stacked, at the width of the sheet's range)."""
TEXT_WIDTH_CM = TEXT_WIDTH_CHARACTERS * PIXELS_PER_CHARACTER / PIXELS_PER_CM
MARGINS = PageMargins(left=0.4, right=0.4, top=0.55, bottom=0.6, header=0.3, footer=0.3)
"""Page margins in inches: narrower than Excel's default, so more of a table fits a page."""
FOOTER = "&A: page &P of &N"
"""Sheet name and page number at the foot of every page."""


@dataclass(frozen=True)
class PrintLayout:
    """What printing a sheet covers: cell ranges (``A1:J120``), each starting on a new page, and the
    rows repeated at the top of every page (``4:5``, or None)."""

    areas: tuple[str, ...]
    title_rows: str | None = None


PrintSetup = Callable[[Any, PrintLayout], None]
"""Sets up printing of a worksheet from its :class:`PrintLayout`; called before any row is written."""


def landscape_one_page_wide(ws: Any, layout: PrintLayout) -> None:
    """Landscape, every print range fitted to one page wide (as many pages down as it needs), header
    rows repeated, narrow margins, and the sheet name and page number in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins = MARGINS
    ws.oddFooter.center.text = FOOTER
    if layout.title_rows:
        ws.print_title_rows = layout.title_rows
    if layout.areas:
        ws.print_area = list(layout.areas)


def pixels(widths: dict[int, float], first: int, last: int) -> float:
    """The width of columns ``first`` to ``last`` (1-based, inclusive) on screen, in pixels."""
    return sum(widths.get(col, DEFAULT_COLUMN_WIDTH) * PIXELS_PER_CHARACTER + COLUMN_PADDING_PIXELS
               for col in range(first, last + 1))


def width_in_characters(widths: dict[int, float], first: int, last: int) -> float:
    """The width of columns ``first`` to ``last`` (1-based, inclusive), in characters."""
    return sum(widths.get(col, DEFAULT_COLUMN_WIDTH) for col in range(first, last + 1))


def columns_to_hold(widths: dict[int, float], first: int, width_cm: float) -> int:
    """How many columns from ``first`` it takes to hold an object ``width_cm`` wide (a chart)."""
    count = 1
    while pixels(widths, first, first + count - 1) < width_cm * PIXELS_PER_CM:
        count += 1
    return count


def wrap_lines(lines: Sequence[str], width: float) -> list[str]:
    """Lines wrapped to ``width`` characters (at least 20), so that text overflowing its cell does not
    run past the printed range; a continued line is indented; a blank line stays one blank line."""
    limit = max(int(width), 20)
    out: list[str] = []
    for line in lines:
        indent = line[: len(line) - len(line.lstrip(" "))]
        out.extend(textwrap.wrap(line, limit, subsequent_indent=indent + "  ", break_on_hyphens=False,
                                 replace_whitespace=False, drop_whitespace=True) or [line])
    return out


def text_columns(sheet: Sheet, placed: list[Placed], widths: dict[int, float]) -> int:
    """The last column of the range that holds a sheet's heading and notes (stacked: and its text).

    Side by side, the first table's last column; stacked, the last column of the widest table or
    chart. Widened, where that does not reach the next block, to hold :data:`MIN_WRAP_CHARACTERS` of
    the text (or its longest line, if shorter).
    """
    blocks = [p for p in placed if not isinstance(p.block, Slot)]
    if sheet.across:
        last = blocks[0].col + blocks[0].width - 1 if blocks else 1
        limit = min((p.col - 2 for p in placed if p.col > last), default=last + 100)
    else:
        last = max((p.col + p.width - 1 for p in blocks if isinstance(p.block, Table)), default=1)
        if sheet.charts is not None and any(isinstance(p.block, Slot) for p in placed):
            last = max(last, columns_to_hold(widths, 1, CHART_WIDTH_CM))
        limit = last + 100
    lines = [*sheet.alert_lines, *sheet.notes]
    if not sheet.across:
        lines += [line for block in sheet.blocks if isinstance(block, Text) for line in [block.title, *block.lines]]
    wanted = min(MIN_WRAP_CHARACTERS, max((len(line) for line in lines), default=0))
    while width_in_characters(widths, 1, last) < wanted and last < limit:
        last += 1
    return last


def print_layout(sheet: Sheet, placed: list[Placed], widths: dict[int, float], *, charts: int,
                 chart_anchor: tuple[int, int]) -> PrintLayout:
    """What printing ``sheet`` covers, as ranges that each start a page: side by side, one per block
    (the first from row 1, with the heading and notes; neighbours that fit one page width together in
    one range) and the shared title and header rows repeated;
    stacked, one over the blocks above the charts and one over those below them. Every chart has a
    range of its own, so no page break cuts through a chart."""
    chart_col, chart_row = chart_anchor
    chart_last_col = chart_col + columns_to_hold(widths, chart_col, CHART_WIDTH_CM) - 1
    # A chart's range stops a row short of the next chart: a range that reaches an object's first
    # row prints that object's border.
    chart_boxes = [(chart_col, chart_row + k * CHART_ROWS, chart_last_col, chart_row + (k + 1) * CHART_ROWS - 2)
                   for k in range(charts)]
    text_last_col = text_columns(sheet, placed, widths)
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
        return PrintLayout((f"A1:{get_column_letter(text_last_col)}{1 + len(sheet.alert_lines) + len(sheet.notes)}",))
    charts_at = {box for box in boxes if box[0] == chart_col and box[2] == chart_last_col and charts}
    if sheet.across:
        boxes[0] = (1, 1, max(boxes[0][2], text_last_col), boxes[0][3])
        packed: list[tuple[int, int, int, int]] = []
        for box in boxes:  # neighbours that fit one page width together share their pages
            last = packed[-1] if packed else None
            if (last is not None and box not in charts_at and last not in charts_at
                    and pixels(widths, last[0], box[2]) <= PACKED_WIDTH_PIXELS):
                packed[-1] = (last[0], min(last[1], box[1]), box[2], max(last[3], box[3]))
            else:
                packed.append(box)
        top = placed[0].title_row
        shared_header = any(isinstance(p.block, Table) and p.block.rows for p in placed)
        return PrintLayout(tuple(_range(box) for box in packed), f"{top}:{top + 1}" if shared_header else None)
    merged: list[tuple[int, int, int, int]] = []
    for box in boxes:
        if box in charts_at:
            merged.append(box)
        elif not merged or merged[-1] in charts_at:
            merged.append((1, 1 if not merged else box[1], text_last_col, box[3]))
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
    width = width_in_characters(widths, 1, text_columns(sheet, placed, widths))
    text_width = TEXT_WIDTH_CHARACTERS if sheet.across else width
    blocks = [replace(block, lines=wrap_lines(block.lines, text_width)) if isinstance(block, Text) else block
              for block in sheet.blocks]
    alert = "\n".join(wrap_lines([sheet.alert], width)) if sheet.alert else ""
    return replace(sheet, alert=alert, notes=wrap_lines(sheet.notes, width), blocks=blocks)
