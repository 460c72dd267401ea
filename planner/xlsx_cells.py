"""One worksheet's cells: the grid a reader returns, the byte scan that finds the cells holding a
value, and the decoding of a ``<c>`` element into the value Excel shows.

The scan is what bounds the work of reading a sheet by the cells with values: formatting dragged to
XFD1048576 or a million blank rows cost one pass over the bytes, never a parsed element each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from xml.etree.ElementTree import Element

from openpyxl.utils.datetime import from_excel, from_ISO8601

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
CELL_TAG = f"{{{MAIN_NS}}}c"
ROW_TAG = f"{{{MAIN_NS}}}row"
_TEXT_TAG = f"{{{MAIN_NS}}}t"
_RUN_TAG = f"{{{MAIN_NS}}}r"


def plain_text(string_item: Element) -> str:
    """The text of a string item (``<si>`` or ``<is>``): its ``<t>`` and the ``<t>`` of each rich-text
    run, without formatting or phonetic guides (what openpyxl's ``Text.content`` gives, faster)."""
    parts = []
    for child in string_item:
        if child.tag == _TEXT_TAG:
            parts.append(child.text or "")
        elif child.tag == _RUN_TAG:
            parts.extend(text.text or "" for text in child.iter(_TEXT_TAG))
    return "".join(parts)


@dataclass(frozen=True)
class DamagedCell:
    """A cell whose stored value cannot be decoded (the reader says why; the cell keeps its address)."""

    reason: str

    def __str__(self) -> str:
        return f"a damaged cell ({self.reason})"


@dataclass(frozen=True)
class TablePart:
    """An Excel Table: its names, its range (``A1:F9``, header row first) and its totals row count."""

    name: str
    display_name: str
    ref: str
    totals_rows: int = 0


@dataclass
class SheetGrid:
    """One worksheet as read: the cells holding a value, formula cells, merged ranges and Tables."""

    title: str
    cells: dict[int, dict[int, Any]] = field(default_factory=dict)
    """Row -> column -> value (1-based), only for cells holding a value or a formula."""
    formulas: set[tuple[int, int]] = field(default_factory=set)
    merged: list[str] = field(default_factory=list)
    tables: list[TablePart] = field(default_factory=list)

    def add(self, row: int, column: int, value: Any, is_formula: bool) -> None:
        self.cells.setdefault(row, {})[column] = value
        if is_formula:
            self.formulas.add((row, column))

    def value(self, row: int, column: int) -> Any:
        return self.cells.get(row, {}).get(column)

    @property
    def max_row(self) -> int:
        return max(self.cells, default=0)

    @property
    def max_column(self) -> int:
        return max((max(columns) for columns in self.cells.values() if columns), default=0)


_CELL_END = b" \t\r\n>/"


@cache
def _value_tag(prefix: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"<" + re.escape(prefix) + rb"(?:v|f|is)[\s/>]")


def value_cells(data: bytes | bytearray, prefix: bytes) -> list[tuple[int, int]]:
    """Where the ``<c>`` elements that hold a value, a formula or an inline string are: (start, end)
    byte offsets in ``data``.

    One scan for the value tags, then for each the enclosing cell: work grows with the cells that hold
    something, not with blank rows or formatted but empty cells, however many there are.
    """
    start = data.find(b"<" + prefix + b"sheetData")
    stop = data.rfind(b"</" + prefix + b"sheetData>")
    if start < 0 or stop < start:
        return []
    open_tag, close_tag = b"<" + prefix + b"c", b"</" + prefix + b"c>"
    spans = []
    cell_end = -1
    for match in _value_tag(prefix).finditer(data, start, stop):
        if match.start() < cell_end:
            continue  # another value tag of the same cell
        cell_start = data.rfind(open_tag, start, match.start())
        while cell_start >= 0 and data[cell_start + len(open_tag):cell_start + len(open_tag) + 1] not in _CELL_END:
            cell_start = data.rfind(open_tag, start, cell_start)  # <col..., <color...: not a cell
        cell_end = data.find(close_tag, match.start(), stop)
        if cell_start < 0 or cell_end < 0:
            spans.append((match.start(), stop))  # unbalanced: parsing it reports a damaged sheet
            break
        cell_end += len(close_tag)
        spans.append((cell_start, cell_end))
    return spans


def merged_ranges(data: bytes | bytearray, prefix: bytes) -> list[str]:
    pattern = rb"<" + re.escape(prefix) + rb'mergeCell\s[^>]*?\bref\s*=\s*["\']([^"\']*)["\']'
    return [ref.decode("ascii", "replace") for ref in re.findall(pattern, data)]


class CellDecoder:
    """Turns a ``<c>`` element into the value Excel shows (as openpyxl would) and whether it is a formula."""

    def __init__(self, strings: list[str], dates: frozenset[int], durations: frozenset[int], epoch: Any) -> None:
        self.strings = strings
        self.dates = dates
        self.durations = durations
        self.epoch = epoch

    def decode(self, cell: Element) -> tuple[Any, bool]:
        is_formula = cell.find(f"{{{MAIN_NS}}}f") is not None
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            child = cell.find(f"{{{MAIN_NS}}}is")
            return (plain_text(child) if child is not None else None), is_formula
        text = cell.findtext(f"{{{MAIN_NS}}}v")
        if not text:
            return None, is_formula
        try:
            return self._typed(kind, text, cell.get("s")), is_formula
        except (ValueError, TypeError, OverflowError, IndexError) as error:
            return DamagedCell(f"{kind!r} value {text[:40]!r}: {short_error(error)}"), is_formula

    def _typed(self, kind: str, text: str, style: str | None) -> Any:
        if kind == "n":
            number = _number(text)
            style_index = int(style) if style else 0
            if style_index in self.dates and isinstance(number, int | float) and number == number:
                try:
                    return from_excel(number, self.epoch, timedelta=style_index in self.durations)
                except (OverflowError, ValueError):
                    return number  # a date format on a number no date can have: show the number
            return number
        if kind == "s":
            index = int(text)
            if not 0 <= index < len(self.strings):
                raise IndexError(f"shared string {index} of {len(self.strings)}")
            return self.strings[index]
        if kind == "b":
            return bool(int(text))
        if kind in ("e", "str"):
            return text
        if kind == "d":
            return from_ISO8601(text)
        raise ValueError(f"unknown cell type {kind!r}")


def _number(text: str) -> int | float:
    """A stored number as openpyxl reads it (int unless it has a point or an exponent); NaN and
    infinities are kept as floats so that validation names the cell."""
    if "." in text or "e" in text or "E" in text:
        return float(text)
    try:
        return int(text)
    except ValueError:
        return float(text)


def short_error(error: BaseException) -> str:
    """``Type: message`` on one line, at most 120 characters of message."""
    message = " ".join(str(error).split())[:120]
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
