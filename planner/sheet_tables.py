"""Input tables in a workbook: where each sits, its header and its rows.

Where: by sheet name and by Excel Table name, never by guess.
An input table is the sheet of its name (with its Table, or its only Table, or none: then the header
is row 1), or, when no sheet has its name, the Excel Table of its name wherever it is. Two things are
refused rather than guessed, because either would change the plan without a word:

* a Table named like an input table on another sheet while the sheet of that name exists (a Table
  ``Scenarios`` on the README sheet must not take over from the Scenarios sheet);
* an input table with neither its sheet nor its Table, while a sheet of another name holds its
  columns (the LeaseOffers sheet and its Table both renamed): otherwise it would read as absent.

An optional table that is simply not there is listed as absent, so that outputs can say so.

Rows: the table's range (never beyond the cells the sheet holds), plus a column typed right next to
it and rows typed right below it; only rows holding a value are visited.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils import get_column_letter, range_boundaries

from planner.errors import InputIssue, describe
from planner.xlsx_reader import DamagedCell, SheetGrid, TablePart

_GENERIC_HEADERS = frozenset({"notes"})
_MIN_MATCHING_HEADERS = 2
"""A sheet of another name holds a table's columns when it has all its required headers and at least
this many of its headers besides notes (a lone ``name`` column is too common to count)."""


@dataclass
class SheetTable:
    """One table as read from its sheet: where it is, and its non-blank rows with their sheet rows."""

    name: str
    sheet: str
    header_row: int
    columns: dict[str, int]
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    bad_rows: set[int] = field(default_factory=set)

    def cell(self, column: str, row: int | None) -> str:
        """``C7`` for a column and sheet row; the header cell when ``row`` is None; ``7:7`` when the
        column is not in the sheet (an optional column the user left out)."""
        row = self.header_row if row is None else row
        if column in self.columns:
            return f"{get_column_letter(self.columns[column])}{row}"
        return f"{row}:{row}"


@dataclass
class Placement:
    """Each input table found (its sheet and its Table, if any), the tables absent, and the problems."""

    found: dict[str, tuple[SheetGrid, TablePart | None]] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)
    issues: list[InputIssue] = field(default_factory=list)


def _key(text: str) -> str:
    return text.strip().lower()


def _table_name(part: TablePart) -> str:
    return part.display_name or part.name


def _top_left(part: TablePart | None) -> str:
    try:
        first_col, first_row, _, _ = range_boundaries(part.ref) if part is not None else (1, 1, 1, 1)
    except (TypeError, ValueError):
        first_col, first_row = 1, 1
    return f"{get_column_letter(first_col or 1)}{first_row or 1}"


def locate_tables(
    sheets: list[SheetGrid],
    expected: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]],
    required: Collection[str],
) -> Placement:
    """Place every table of ``expected`` (name -> (headers, required headers)) in ``sheets``."""
    wanted = {_key(name): name for name in expected}
    tables_named: dict[str, list[tuple[SheetGrid, TablePart]]] = defaultdict(list)
    sheet_named: dict[str, SheetGrid] = {}
    for sheet in sheets:
        for part in sheet.tables:
            if _key(_table_name(part)) in wanted:
                tables_named[wanted[_key(_table_name(part))]].append((sheet, part))
        if _key(sheet.title) in wanted:
            sheet_named.setdefault(wanted[_key(sheet.title)], sheet)

    placement = Placement()
    claimed: set[int] = set()
    missing: list[str] = []
    for name in expected:
        own = sheet_named.get(name)
        named = tables_named.get(name, [])
        elsewhere = [(sheet, part) for sheet, part in named if sheet is not own]
        if own is not None and elsewhere:
            for sheet, part in elsewhere:
                placement.issues.append(InputIssue(
                    sheet.title, "", f"a Table named {_table_name(part)} ({part.ref}) as well as the {name} sheet",
                    f"the {name} table only on the {name} sheet (rename or delete this Table)",
                    cell=_top_left(part)))
                claimed.add(id(sheet))
            placement.unreadable.add(name)
            claimed.add(id(own))
        elif own is not None:
            on_own = [part for sheet, part in named if sheet is own]
            unnamed = [part for part in own.tables if _key(_table_name(part)) not in wanted]
            only = unnamed[0] if len(own.tables) == 1 and unnamed else None
            placement.found[name] = (own, on_own[0] if on_own else only)
            claimed.add(id(own))
        elif named:
            sheet, part = named[0]
            for other, duplicate in named[1:]:  # Excel forbids it; a generated file may not
                placement.issues.append(InputIssue(
                    other.title, "", f"a second Table named {_table_name(duplicate)} ({duplicate.ref})",
                    f"one Table named {name} (also on sheet {sheet.title})", cell=_top_left(duplicate)))
                placement.unreadable.add(name)
            placement.found[name] = (sheet, part)
            claimed.add(id(sheet))
        else:
            missing.append(name)

    candidates = [sheet for sheet in sheets if id(sheet) not in claimed and _key(sheet.title) not in wanted]
    for name in missing:
        lookalike = _lookalike(candidates, *expected[name])
        if lookalike is not None:
            sheet, part = lookalike
            table = f" and a Table named {_table_name(part)}" if part is not None else ""
            placement.issues.append(InputIssue(
                sheet.title, "", f"the {name} columns on a sheet named {describe(sheet.title)}{table}",
                f"the sheet or its Table named {name}: tables are found by name (rename it back)",
                cell=_top_left(part)))
            placement.unreadable.add(name)
        elif name in required:
            placement.issues.append(InputIssue(name, "", f"no sheet or Table named {name}",
                                               f"a sheet named {name} (required)"))
            placement.unreadable.add(name)
        else:
            placement.absent.append(name)
    return placement


def _header_texts(sheet: SheetGrid, part: TablePart | None) -> set[str]:
    row, first_col, last_col = 1, 1, sheet.max_column
    if part is not None:
        with contextlib.suppress(TypeError, ValueError):
            first_col, row, last_col, _ = range_boundaries(part.ref)
    cells = sheet.cells.get(row or 1, {})
    return {_key(str(value)) for column, value in cells.items()
            if (first_col or 1) <= column <= (last_col or sheet.max_column) and isinstance(value, str)}


def _lookalike(candidates: list[SheetGrid], headers: tuple[str, ...],
               required: tuple[str, ...]) -> tuple[SheetGrid, TablePart | None] | None:
    """The candidate sheet (and Table) whose header row holds the table's columns, best match first."""
    columns = {_key(header) for header in headers} - _GENERIC_HEADERS
    best: tuple[int, SheetGrid, TablePart | None] | None = None
    for sheet in candidates:
        for part in [*sheet.tables, None] if sheet.tables else [None]:
            found = _header_texts(sheet, part)
            matching = len(found & columns)
            if {_key(h) for h in required} <= found and matching >= _MIN_MATCHING_HEADERS and (
                    best is None or matching > best[0]):
                best = (matching, sheet, part)
    return None if best is None else (best[1], best[2])


# ---- reading one table ---------------------------------------------------------------------------


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _table_range(sheet: SheetGrid, table_part: TablePart | None) -> tuple[int, int, int, int, bool]:
    """(first column, header row, last column, last data row, whether rows typed below count) within
    the cells the sheet holds; without a Table (or with a malformed range), the header is row 1 and
    every column counts. Below a totals row, nothing more belongs to the table."""
    first_col, header_row, last_col, last_row = 1, 1, sheet.max_column, sheet.max_row
    totals = 0
    with contextlib.suppress(TypeError, ValueError):
        if table_part is not None and table_part.ref:
            first_col, header_row, last_col, last_row = range_boundaries(table_part.ref)
            totals = max(table_part.totals_rows, 0)
            last_row -= totals
    # Never trust a table range beyond the cells the sheet actually holds.
    last_col = min(last_col or 0, sheet.max_column)
    header_row = min(header_row or 1, max(sheet.max_row, 1))
    # A column typed right next to the table (which did not grow to include it) still counts.
    while last_col < sheet.max_column and not is_blank(sheet.value(header_row, last_col + 1)):
        last_col += 1
    return first_col or 1, header_row, last_col, last_row or sheet.max_row, totals == 0


def _data_rows(sheet: SheetGrid, header_row: int, last_row: int, first_col: int, last_col: int,
               grows: bool) -> Iterator[tuple[int, list[Any], set[int]]]:
    """(sheet row, values from first_col to last_col, columns holding a formula) of each non-blank
    row under the header: every row of the table, then (if it ``grows``) rows typed below it up to the
    first blank row. Only rows holding something are visited, however far the formatting reaches."""
    next_below = last_row + 1
    for row_number in sorted(row for row in sheet.cells if row > header_row):
        if row_number > last_row and (row_number != next_below or not grows):
            return  # below the table, a blank row ends it
        cells = sheet.cells[row_number]
        values = [cells.get(column) for column in range(first_col, last_col + 1)]
        formulas = {column for column in cells if (row_number, column) in sheet.formulas
                    and first_col <= column <= last_col}
        if all(is_blank(value) for value in values) and not formulas:
            if row_number > last_row:
                return
            continue
        next_below = row_number + 1
        yield row_number, values, formulas


def read_table(
    name: str,
    sheet: SheetGrid,
    table_part: TablePart | None,
    headers: tuple[str, ...],
    required_headers: tuple[str, ...],
    issues: list[InputIssue],
) -> SheetTable | None:
    """The table ``name`` from its sheet: headers checked (unknown, repeated, missing), its rows, and the
    cells that cannot be read (merged, damaged, formulas without a value), each added to ``issues``."""

    def add(where: str, column: str, found: str, expected: str, cell: str | None = None) -> None:
        issues.append(InputIssue(where, column, found, expected, cell=cell))

    title = sheet.title
    first_col, header_row, last_col, last_row, grows = _table_range(sheet, table_part)
    if last_col < first_col:
        add(title, "", "an empty header row", "column headers: " + ", ".join(headers),
            cell=f"{get_column_letter(first_col)}{header_row}")
        return None

    known = {header.lower(): header for header in headers}
    column_of: dict[str, int] = {}
    ignored: dict[int, str] = {}  # column index -> why its data is not read
    for index in range(first_col, last_col + 1):
        raw = sheet.value(header_row, index)
        cell = f"{get_column_letter(index)}{header_row}"
        text = "" if is_blank(raw) else str(raw).strip()
        header = known.get(text.lower())
        if not text:
            ignored[index] = "blank"
        elif header is None:
            ignored[index] = "unknown"
            add(title, text, describe(raw), "one of the column names " + ", ".join(headers), cell=cell)
        elif header in column_of:
            ignored[index] = "duplicate"
            add(title, header, f"a second {header} column", "each column once", cell=cell)
        else:
            column_of[header] = index
    header_at = {index: header for header, index in column_of.items()}
    table = SheetTable(name, title, header_row, column_of)
    for header in required_headers:
        if header not in column_of:
            add(title, header, "no such column", f"a column headed {header} (required)",
                cell=f"{get_column_letter(last_col + 1)}{header_row}")

    blank_header_with_data: set[int] = set()
    table_end = header_row
    for row_number, cached, formulas in _data_rows(sheet, header_row, last_row, first_col, last_col, grows):
        table_end = row_number
        values: dict[str, Any] = {}
        for offset, value in enumerate(cached):
            index = first_col + offset
            if index in ignored:
                if ignored[index] == "blank" and not is_blank(value):
                    blank_header_with_data.add(index)
                continue
            header = header_at[index]
            cell = f"{get_column_letter(index)}{row_number}"
            if isinstance(value, DamagedCell):
                add(title, header, str(value), "a value typed again (this cell of the file is damaged)",
                    cell=cell)
                table.bad_rows.add(row_number)
            elif index in formulas and value is None:
                add(title, header, "a formula with no saved value",
                    "a value (open and save the file in Excel, or type the value)", cell=cell)
                table.bad_rows.add(row_number)
            values[header] = value
        table.rows.append((row_number, values))
    for index in sorted(blank_header_with_data):
        add(title, "", "values under a blank header", "a column name: " + ", ".join(headers),
            cell=f"{get_column_letter(index)}{header_row}")

    for merged in sheet.merged:
        try:
            min_col, min_row, max_col, max_row = range_boundaries(merged)
        except (TypeError, ValueError):
            continue
        if max_row >= header_row and min_row <= table_end and max_col >= first_col and min_col <= last_col:
            header = header_at.get(min_col, "")
            add(title, header, f"merged cells {merged}", "one value per cell (unmerge them)", cell=merged)
            table.bad_rows.update(row for row, _ in table.rows if min_row <= row <= max_row)
    return table
