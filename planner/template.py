"""The input workbook layout, generated from :mod:`planner.schema`, and the blank template.

Layout: a README sheet, a Settings sheet (parameter / value / unit / notes), then one sheet per table
with one Excel Table at A1 whose name is the sheet name and whose headers are the field names (units
included). Field descriptions are notes on the header cells; references, choices and yes/no columns
get dropdowns. :func:`build_workbook` also writes filled workbooks (see ``planner.workbook.write_problem``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from planner.columns import SETTINGS_HEADERS, Column, columns, settings_rows, table_classes
from planner.errors import InputError, InputIssue, describe
from planner.excel.cells import write_cell
from planner.excel.files import save_atomically
from planner.excel.formats import TEXT
from planner.schema import SCHEMA_VERSION, TABLE_FIELD, Problem, Settings
from planner.units import unit_of

SPARE_ROWS = 50
"""Blank table rows the template offers to fill in."""

README_SHEET = "README"
REQUIRED_UNLESS = {
    "Throughput": ("unless default_mfu", " Needed unless Settings default_mfu is given: a plan needs the throughput of "
                                          "every (GPU type, workload) pair a workload may use, from a row here or "
                                          "from default_mfu."),
}
"""Tables the workbook may leave out only when a Settings parameter stands in: (Required text, note)."""
HEADER_REQUIRED_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_OPTIONAL_FILL = PatternFill("solid", fgColor="5B9BD5")
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
FIXED_FILL = PatternFill("solid", fgColor="E7E6E6")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TABLE_STYLE = TableStyleInfo(name="TableStyleLight1", showRowStripes=False, showColumnStripes=False)
MIN_WIDTH, MAX_WIDTH = 10, 60


def required_sheets() -> list[str]:
    """Sheets a workbook must have: Settings and every table ``Problem`` has no default for."""
    return [Settings.TABLE] + [
        name for name, field in TABLE_FIELD.items() if Problem.model_fields[field].is_required()
    ]


def write_template(path: Path, *, overwrite: bool = False) -> None:
    """Write a blank input workbook (instructions, tables, dropdowns, defaults) to ``path``.

    An existing file (a filled-in workbook, one typo away) is refused unless ``overwrite``.
    """
    path = Path(path)
    if not overwrite and path.suffix.lower() == ".xlsx" and (path.is_symlink() or path.exists()) and not path.is_dir():
        raise InputError([InputIssue("file", "path", f"{describe(str(path))}, a file that already exists",
                                     "a new file name (or --force to replace the file)")], source=str(path))
    defaults = {column.name: column.default for column in columns(Settings) if not column.required}
    save_atomically(build_workbook(defaults, {}, spare_rows=SPARE_ROWS), path)


def build_workbook(
    settings: Mapping[str, Any],
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    spare_rows: int,
    settings_notes: Mapping[str, str] | None = None,
) -> Workbook:
    """The input workbook with the given Settings values (and optional notes per parameter) and table
    rows (header -> cell value)."""
    workbook = Workbook()
    readme = workbook.active
    assert readme is not None
    readme.title = README_SHEET
    _write_readme(readme)
    _write_settings(workbook.create_sheet(Settings.TABLE), settings, settings_notes or {})
    classes = table_classes()
    # Dropdowns point at the referenced sheet's key column, so every table's size is needed first.
    sizes = {name: max(len(tables.get(name, ())) + spare_rows, 1) for name in classes}
    for name, cls in classes.items():
        sheet = workbook.create_sheet(name)
        _write_table(sheet, name, columns(cls), tables.get(name, ()), sizes[name])
        _add_dropdowns(sheet, columns(cls), sizes, sizes[name])
        if name in required_sheets():
            sheet.sheet_properties.tabColor = HEADER_REQUIRED_FILL.fgColor.rgb[-6:]
    return workbook


def _header(cell: Cell, column: Column | None, required: bool) -> None:
    cell.font = HEADER_FONT
    cell.fill = HEADER_REQUIRED_FILL if required else HEADER_OPTIONAL_FILL
    cell.alignment = Alignment(vertical="center")
    if column is not None:
        comment = Comment(_header_note(column), "planner")
        comment.width, comment.height = 320, 140
        cell.comment = comment


def _header_note(column: Column) -> str:
    lines = [column.description]
    if column.unit:
        lines.append(f"Unit: {column.unit}")
    lines.append(f"Expected: {column.expected}")
    if column.required:
        lines.append("Required.")
    else:
        lines.append(f"Optional; blank = {column.default_text or 'not given'}.")
    if column.ref:
        lines.append(f"Names come from the {column.ref} sheet (dropdown).")
    return "\n".join(lines)


def _fit_widths(sheet: Worksheet, rows: Sequence[Sequence[Any]]) -> None:
    for index, values in enumerate(zip(*rows, strict=True), start=1):
        longest = max((len(str(v)) for v in values if v is not None), default=0)
        # +3 leaves room for the table's filter button next to the header text.
        sheet.column_dimensions[get_column_letter(index)].width = min(max(longest + 3, MIN_WIDTH), MAX_WIDTH)


def _write_rows(sheet: Worksheet, headers: Sequence[str], rows: Sequence[Mapping[str, Any]], size: int) -> None:
    for offset in range(size):
        values = rows[offset] if offset < len(rows) else {}
        for index, header in enumerate(headers, start=1):
            cell = sheet.cell(row=offset + 2, column=index)
            write_cell(cell, values.get(header))
            cell.fill = INPUT_FILL


def _write_table(
    sheet: Worksheet, name: str, cols: Sequence[Column], rows: Sequence[Mapping[str, Any]], size: int
) -> None:
    headers = [column.name for column in cols]
    for index, column in enumerate(cols, start=1):
        _header(sheet.cell(row=1, column=index, value=column.name), column, column.required)
    _write_rows(sheet, headers, rows, size)
    for index, column in enumerate(cols, start=1):
        if column.kind == "month":
            # Text format keeps a typed 2025-03 as text instead of Excel turning it into a date.
            for row in range(2, size + 2):
                sheet.cell(row=row, column=index).number_format = TEXT
        elif (unit := unit_of(column.name)) is not None and unit.input_format:
            for row in range(2, size + 2):
                sheet.cell(row=row, column=index).number_format = unit.input_format
    table = Table(displayName=name, ref=f"A1:{get_column_letter(len(cols))}{size + 1}")
    table.tableStyleInfo = TABLE_STYLE
    sheet.add_table(table)
    sheet.freeze_panes = "A2"
    _fit_widths(sheet, [headers, *([row.get(h) for h in headers] for row in rows)])


def _write_settings(sheet: Worksheet, values: Mapping[str, Any], notes: Mapping[str, str]) -> None:
    rows = settings_rows(values)
    for index, header in enumerate(SETTINGS_HEADERS, start=1):
        _header(sheet.cell(row=1, column=index, value=header), None, header in ("parameter", "value"))
    _write_rows(sheet, SETTINGS_HEADERS, rows, len(rows))
    by_name = {column.name: column for column in columns(Settings)}
    for offset, row in enumerate(rows, start=2):
        column = by_name[row["parameter"]]
        for index in (1, 3, 4):  # parameter, unit and notes are reference text: grey
            sheet.cell(row=offset, column=index).fill = FIXED_FILL
        value_cell = sheet.cell(row=offset, column=2)
        if column.kind == "month":
            value_cell.number_format = TEXT
        note = f"Expected: {column.expected}." + ("" if not column.required else " Required.")
        extra = f" {notes[column.name]}" if column.name in notes else ""
        write_cell(sheet.cell(row=offset, column=4), f"{column.description} {note}{extra}")
        if column.kind == "bool":
            validation = _list_validation('"yes,no"', "yes or no")
            sheet.add_data_validation(validation)
            validation.add(value_cell.coordinate)
    table = Table(displayName=Settings.TABLE, ref=f"A1:D{len(rows) + 1}")
    table.tableStyleInfo = TABLE_STYLE
    sheet.add_table(table)
    sheet.freeze_panes = "A2"
    _fit_widths(sheet, [list(SETTINGS_HEADERS), *([r["parameter"], r["value"], r["unit"], ""] for r in rows)])
    sheet.column_dimensions["D"].width = 90


def _list_validation(formula: str, expected: str, strict: bool = True) -> DataValidation:
    validation = DataValidation(type="list", formula1=formula, allow_blank=True, showErrorMessage=strict)
    validation.errorTitle = "Not in the list"
    validation.error = f"Expected {expected}."
    return validation


def _add_dropdowns(sheet: Worksheet, cols: Sequence[Column], sizes: Mapping[str, int], size: int) -> None:
    classes = table_classes()
    for index, column in enumerate(cols, start=1):
        letter = get_column_letter(index)
        if column.ref in classes:
            target = classes[column.ref]
            key_index = [c.name for c in columns(target)].index(target.KEY or "name") + 1
            key = get_column_letter(key_index)
            formula = f"{quote_sheetname(column.ref)}!${key}$2:${key}${sizes[column.ref] + 1}"
            # A comma-separated list of names cannot be picked from a dropdown: offer, don't enforce.
            validation = _list_validation(formula, column.expected, strict=column.kind != "names")
        elif column.kind == "choice":
            validation = _list_validation('"' + ",".join(column.choices) + '"', column.expected)
        elif column.kind == "bool":
            validation = _list_validation('"yes,no"', column.expected)
        else:
            continue
        sheet.add_data_validation(validation)
        validation.add(f"{letter}2:{letter}{size + 1}")


def _write_readme(sheet: Worksheet) -> None:
    classes = table_classes()
    required = required_sheets()
    lines: list[tuple[str, str, str]] = [
        ("AI compute procurement planner: input workbook", "", ""),
        (f"Schema version {SCHEMA_VERSION}", "", ""),
        ("", "", ""),
        ("How to fill it", "", ""),
        ("1. Settings: type first_month and months; the other parameters have defaults.", "", ""),
        ("2. Each other sheet holds one table: one row per item, typed in the yellow cells.", "", ""),
        ("   Hover over a column header for its meaning, unit, and whether it is required.", "", ""),
        ("3. Names link the sheets: an offer's gpu_type must be a name on GPUTypes (dropdowns list them).", "", ""),
        ("4. A blank cell takes the default; a blank row is skipped. Type new rows directly below a table.", "", ""),
        ("5. Months: YYYY-MM (e.g. 2025-03) or an Excel date. Yes/no columns take yes or no.", "", ""),
        ("6. Type values, not formulas (a formula is read only through the value Excel saved with it).", "", ""),
        ("7. Check the file: planner validate <file>.xlsx lists every problem as Sheet!Cell.", "", ""),
        ("", "", ""),
        ("Units", "", ""),
        ("Every column name carries its unit: _usd (US dollars), _mw / _kw_per_gpu (power),", "", ""),
        ("_months (time), tokens_per_month (demand), _per_year (yearly rates). Fractions are decimals:", "", ""),
        ("0.11 means 11%.", "", ""),
        ("", "", ""),
        ("Colours", "", ""),
        ("required column", "", "header"),
        ("optional column", "", "optional"),
        ("input cell", "", "input"),
        ("reference text (do not edit)", "", "fixed"),
        ("", "", ""),
        ("Sheets", "", ""),
        ("Sheet", "Required", "Description"),
        (Settings.TABLE, "yes", "Scalar parameters: horizon, discounting, solver limits, risk."),
    ]
    lines += [(name, "yes" if name in required else REQUIRED_UNLESS.get(name, ("no", ""))[0],
               cls.DESCRIPTION + REQUIRED_UNLESS.get(name, ("", ""))[1]) for name, cls in classes.items()]
    fills = {"header": HEADER_REQUIRED_FILL, "optional": HEADER_OPTIONAL_FILL, "input": INPUT_FILL,
             "fixed": FIXED_FILL}
    for row, (first, second, third) in enumerate(lines, start=1):
        if third in fills:
            sheet.cell(row=row, column=1, value=first).fill = fills[third]
            continue
        for index, value in enumerate((first, second, third), start=1):
            write_cell(sheet.cell(row=row, column=index), value or None)
        if first in ("How to fill it", "Units", "Colours", "Sheets") or first == "Sheet":
            for index in (1, 2, 3):
                sheet.cell(row=row, column=index).font = Font(bold=True)
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 22
    sheet.column_dimensions["C"].width = 100
