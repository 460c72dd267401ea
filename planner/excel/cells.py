"""Cell safety: text from the input stays text; a spreadsheet never evaluates it.

Text that a spreadsheet could take for a formula or an error value (leading ``= + - @``, tab, CR;
``#N/A``) is written as a string cell with Excel's quote prefix, so that editing the cell keeps it
text. Characters XML cannot hold are dropped and text is cut at Excel's cell limit.
"""

from __future__ import annotations

from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font

MAX_CELL_TEXT = 32_767
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def clean_text(text: str) -> str:
    """``text`` without characters XML cannot hold, cut to fit one cell."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return text if len(text) <= MAX_CELL_TEXT else text[: MAX_CELL_TEXT - 1] + "…"


def is_risky(text: str) -> bool:
    """Text a spreadsheet could take for a formula or an error value (#N/A) when typed or re-entered."""
    return text.startswith(FORMULA_TRIGGERS) or text in ERROR_CODES


def _as_text(cell: Cell | WriteOnlyCell, text: str) -> None:
    cell.value = text
    cell.data_type = "s"  # openpyxl would make "=..." a formula and "#N/A" an error value
    if is_risky(text):
        cell.quotePrefix = True


def write_cell(cell: Cell, value: Any) -> None:
    """Write a value into a worksheet cell; text always stays text (see the module docstring)."""
    if isinstance(value, str):
        _as_text(cell, clean_text(value))
    else:
        cell.value = value


def text_cell(ws: Any, text: str, font: Font | None = None) -> WriteOnlyCell:
    """A write-only (streamed) cell holding ``text`` as text, with an optional font."""
    cell = WriteOnlyCell(ws, value=None)
    _as_text(cell, clean_text(text))
    if font is not None:
        cell.font = font
    return cell
