"""The workbook's optional ``Sweeps`` sheet: sensitivity sweeps written next to the input.

One row per target; rows with the same ``sweep`` name form one sweep::

    sweep          design         table        rows         column                  mode   values
    h100-price                    LeaseOffers  COL-H100-12  price_usd_per_gpu_hour  scale  0.7, 0.85, 1.15, 1.3
    inference-mfu                 Settings                  default_mfu                    0.15:0.4:6

The sheet is found like an input table (by its sheet or its Excel Table name, never by guess) and
read with the same checks (unknown or repeated headers, merged or damaged cells, formulas without a
saved value); each row becomes a :class:`~planner.sweeps.spec.Target` that knows its cells, so every
problem is reported as ``Sweeps!G4 (values): found ...; expected ...``. A workbook without the sheet
has no sweeps. ``planner solve`` never reads it; ``planner sweep`` and ``planner validate`` do.

The template writes the sheet (:mod:`planner.template`) from :data:`SWEEP_COLUMNS`, with dropdowns
for the table, the column (the columns of the table chosen, listed on the ``SweepColumns`` sheet by
:func:`sweep_column_rows`), the mode and the design.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, get_args

from planner.columns import NOTES, Column, table_classes
from planner.errors import InputError, InputIssue, describe
from planner.sheet_tables import SheetTable, is_blank, locate_tables, read_table
from planner.sweeps.points import IN_PLACE_COLUMNS
from planner.sweeps.spec import SETTINGS, Design, Mode, Sweep, sweeps_from_rows, table_columns, table_key
from planner.xlsx_reader import SheetGrid

SWEEPS_SHEET = "Sweeps"
COLUMNS_SHEET = "SweepColumns"
"""The reference sheet the column dropdown reads: every column a sweep may vary, table by table."""
COLUMNS_RANGE_PREFIX = "SweepColumns_"
"""Prefix of the workbook names (one per table) of each table's rows on the SweepColumns sheet."""
DESIGNS: tuple[str, ...] = get_args(Design)
MODES: tuple[str, ...] = get_args(Mode)


@dataclass(frozen=True)
class SweepColumn:
    """One column of the Sweeps sheet: its header, whether a row needs it, and what it holds."""

    name: str
    required: bool
    description: str
    expected: str


SWEEP_COLUMNS: tuple[SweepColumn, ...] = (
    SweepColumn("sweep", True, "Sweep name. Rows with the same name form one sweep; planner sweep --sweep NAME runs "
                "only that one.", "a name"),
    SweepColumn("design", False, "one_at_a_time: each target over its values, the others at base (a tornado). "
                "grid: every combination of the targets' values (a heat map). Give it on any row of the sweep.",
                "one_at_a_time or grid; blank = one_at_a_time"),
    SweepColumn("table", True, "The sheet whose cells vary (LeaseOffers, Throughput, ...), or Settings.",
                "a table name (dropdown)"),
    SweepColumn("rows", False, "Which rows: an id (COL-H100-12), several ids separated by commas, * for every row, "
                "or a filter such as gpu_type=GB200 (column=value, column!=value, column=a|b; several joined by , "
                "or &). Leave blank for Settings.", "an id, ids, * or a filter; blank = every row"),
    SweepColumn("column", True, "The column (or Settings parameter) to vary; the dropdown lists the columns of the "
                "table chosen (sheet SweepColumns lists them all and which change the model in place).",
                "a column of the table (dropdown)"),
    SweepColumn("mode", False, "set: the value itself; scale: multiply the input's value; add: add to it. "
                "Scenarios probability: the other scenarios share the rest in their ratios. Demand "
                "tokens_per_month: scales demand however it is given (Demand rows or base x growth).",
                "set, scale or add; blank = set"),
    SweepColumn("values", True, "The values, one run each: a list (0.15, 0.2, 0.25) or start:stop:count "
                "(2.0:3.2:7 = seven values from 2.0 to 3.2).", "a list of values or start:stop:count"),
    SweepColumn("label", False, "Short name in the results and the report's charts (default: the target's "
                "address, e.g. LeaseOffers[COL-H100-12].price_usd_per_gpu_hour).", "a short name"),
    SweepColumn(NOTES, False, "Free text: why this sweep, where the values come from.", "text"),
)
HEADERS: tuple[str, ...] = tuple(column.name for column in SWEEP_COLUMNS)
REQUIRED: tuple[str, ...] = tuple(column.name for column in SWEEP_COLUMNS if column.required)
_TEXT_FIELDS = ("sweep", "table", "rows", "column", "label")
_LOWER_FIELDS = ("design", "mode")


# ---- what a sweep may vary ------------------------------------------------------------------------

def sweep_tables() -> list[str]:
    """The tables a target may name: Settings, then the input tables in workbook order."""
    return [SETTINGS, *table_classes()]


def sweepable_columns(table: str) -> list[Column]:
    """The columns of ``table`` a target may vary (every column but its id and notes)."""
    key = table_key(table)
    return [column for name, column in table_columns(table).items() if name not in (NOTES, key)]


def sweep_column_rows() -> list[dict[str, Any]]:
    """The SweepColumns reference sheet: one row per (table, column) a sweep may vary, grouped by
    table, with its unit, what it holds and whether a change moves the model in place (re-solved warm
    from the previous plan) or rebuilds it for the point."""
    return [{"table": table, "column": column.name, "unit": column.unit,
             "in_place": "yes" if (table, column.name) in IN_PLACE_COLUMNS else "no",
             "expected": column.expected, "description": column.description}
            for table in sweep_tables() for column in sweepable_columns(table)]


def sweep_rows(sweeps: Sequence[Sweep]) -> list[dict[str, Any]]:
    """Sweeps as Sweeps sheet rows (one per target), e.g. to save a script's sweeps in a workbook with
    ``planner.workbook.write_problem(problem, path, sweeps=sweep_rows(sweeps))``."""
    rows = []
    for sweep in sweeps:
        for k, target in enumerate(sweep.targets):
            values = ", ".join(f"{v!r}" if isinstance(v, float) else str(v) for v in target.values)
            rows.append({"sweep": sweep.name, "design": sweep.design if k == 0 else None, "table": target.table,
                         "rows": None if target.table == SETTINGS else target.rows, "column": target.column,
                         "mode": target.mode, "values": values, "label": target.label})
    return rows


# ---- reading the sheet ----------------------------------------------------------------------------

def _canonical(value: str, names: Sequence[str]) -> str:
    """A table or column name as the schema spells it, whatever its case (as headers are found)."""
    return {name.lower(): name for name in names}.get(value.strip().lower(), value)


def _field(name: str, value: Any) -> Any:
    """A cell as the spec reads it: text fields as text (a typed 12 is the id '12'), modes lower case."""
    if name in _TEXT_FIELDS and isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if name in _LOWER_FIELDS and isinstance(value, str):
        return value.strip().lower()
    return value


def _row_fields(table: SheetTable, row_number: int, raw: dict[str, Any]) -> dict[str, Any]:
    """One sheet row as the fields of :func:`sweeps_from_rows`, each with its cell."""
    fields = {name: _field(name, value) for name, value in raw.items() if name != NOTES and not is_blank(value)}
    if isinstance(fields.get("table"), str):
        fields["table"] = _canonical(fields["table"], sweep_tables())
        if isinstance(fields.get("column"), str):
            fields["column"] = _canonical(fields["column"], list(table_columns(fields["table"])))
    fields["location"] = f"{table.sheet}!{table.cell('sweep', row_number)}"
    fields["cells"] = {name: f"{table.sheet}!{table.cell(name, row_number)}" for name in HEADERS}
    return fields


def sheet_rows(sheets: list[SheetGrid]) -> tuple[str | None, list[dict[str, Any]]]:
    """The Sweeps sheet's name (None when the workbook has none) and its rows as target fields, each
    knowing its cells. Raises :class:`InputError` for layout problems (headers, merged, damaged or
    formula cells)."""
    placement = locate_tables(sheets, {SWEEPS_SHEET: (HEADERS, REQUIRED)}, required=())
    issues = list(placement.issues)
    found = placement.found.get(SWEEPS_SHEET)
    if found is None:
        if issues:
            raise InputError(issues)
        return None, []
    grid, part = found
    table = read_table(SWEEPS_SHEET, grid, part, HEADERS, REQUIRED, issues)
    if issues or table is None:
        raise InputError(issues)
    # A row holding only a note is a comment, not a target.
    return table.sheet, [_row_fields(table, number, raw) for number, raw in table.rows
                         if any(not is_blank(value) for name, value in raw.items() if name != NOTES)]


def read_sweeps(sheets: list[SheetGrid], names: Sequence[str] | None = None) -> list[Sweep]:
    """The sweeps on the workbook's Sweeps sheet, in sheet order ([] without the sheet); with
    ``names``, only those (each must be on the sheet), and problems in other sweeps' rows are not
    reported. Raises :class:`InputError` naming each bad cell."""
    sheet, rows = sheet_rows(sheets)
    if names:
        known = list(dict.fromkeys(str(row["sweep"]).strip() for row in rows if not is_blank(row.get("sweep"))))
        unknown = [name for name in dict.fromkeys(names) if name.strip() not in known]
        if unknown:
            expected = (f"one of the sweeps on the {sheet} sheet: {', '.join(known)}" if known
                        else f"a sweep on the {sheet} sheet (it has none)" if sheet
                        else "a sweep on a Sweeps sheet (the workbook has none; --vary varies inputs without one)")
            raise InputError([InputIssue(sheet or SWEEPS_SHEET, "sweep", describe(name), expected)
                              for name in unknown])
        wanted = {name.strip() for name in names}
        rows = [row for row in rows if str(row.get("sweep", "")).strip() in wanted]
    return sweeps_from_rows(rows)

