"""Printing: every sheet prints landscape, one page wide, with the header rows of its tables repeated.

The writer works out what a sheet must print, as a :class:`PrintLayout`: one range per block of
side-by-side tables (charts included), or one range over a stacked sheet, and the title and header
rows that side-by-side tables share. It hands that to the sheet's print-setup hook,
:func:`landscape_one_page_wide` unless the sheet names another. Each range of a print area starts
on a page of its own and is fitted to the page width, so a wide sheet of several tables prints as
several readable stacks of pages instead of one unreadable strip.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl.worksheet.page import PageMargins

DEFAULT_COLUMN_WIDTH = 8.43
"""Excel's width (in characters) of a column whose width is not set."""
PIXELS_PER_CHARACTER, COLUMN_PADDING_PIXELS, PIXELS_PER_CM = 7.0, 5.0, 96 / 2.54
MIN_WRAP_CHARACTERS = 60
"""Text lines wrap to the width of what prints, but never narrower than this."""
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


def width_in_characters(widths: dict[int, float], first: int, last: int) -> float:
    """The width of columns ``first`` to ``last`` (1-based, inclusive), in characters."""
    return sum(widths.get(col, DEFAULT_COLUMN_WIDTH) for col in range(first, last + 1))


def columns_to_hold(widths: dict[int, float], first: int, width_cm: float) -> int:
    """How many columns from ``first`` it takes to hold an object ``width_cm`` wide (a chart)."""
    needed, held, count = width_cm * PIXELS_PER_CM, 0.0, 0
    while held < needed:
        held += widths.get(first + count, DEFAULT_COLUMN_WIDTH) * PIXELS_PER_CHARACTER + COLUMN_PADDING_PIXELS
        count += 1
    return count


def wrap_lines(lines: Sequence[str], width: float) -> list[str]:
    """Lines wrapped to ``width`` characters (at least :data:`MIN_WRAP_CHARACTERS`), so that text
    overflowing its cell does not run past the printed range; a blank line stays one blank line."""
    limit = max(int(width), MIN_WRAP_CHARACTERS)
    out: list[str] = []
    for line in lines:
        indent = line[: len(line) - len(line.lstrip(" "))]
        out.extend(textwrap.wrap(line, limit, subsequent_indent=indent + "  ", break_on_hyphens=False,
                                 replace_whitespace=False, drop_whitespace=True) or [line])
    return out
