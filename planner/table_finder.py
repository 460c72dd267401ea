"""Where each input table sits in a workbook: by sheet name and by Excel Table name, never by guess.

An input table is the sheet of its name (with its Table, or its only Table, or none: then the header
is row 1), or, when no sheet has its name, the Excel Table of its name wherever it is. Two things are
refused rather than guessed, because either would change the plan without a word:

* a Table named like an input table on another sheet while the sheet of that name exists (a Table
  ``Scenarios`` on the README sheet must not take over from the Scenarios sheet);
* an input table with neither its sheet nor its Table, while a sheet of another name holds its
  columns (the LeaseOffers sheet and its Table both renamed): otherwise it would read as absent.

An optional table that is simply not there is listed as absent, so that outputs can say so.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from openpyxl.utils import get_column_letter, range_boundaries

from planner.errors import InputIssue, describe
from planner.xlsx_reader import SheetGrid, TablePart

_GENERIC_HEADERS = frozenset({"notes"})
_MIN_MATCHING_HEADERS = 2
"""A sheet of another name holds a table's columns when it has all its required headers and at least
this many of its headers besides notes (a lone ``name`` column is too common to count)."""


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
