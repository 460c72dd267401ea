"""The workbook front door: read an input workbook into a validated :class:`Problem`, write one back.

Reading is defensive because a finance workbook is typed by hand and may come from anywhere:
the file is size-checked and its zip is checked for bombs before openpyxl parses it (with defusedxml,
so XML entity attacks are refused); every row is validated on its own; and every problem found in any
sheet is collected into one :class:`InputError` whose issues name their cell, e.g. ``LeaseOffers!F3``.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import openpyxl
from defusedxml import DefusedXmlException
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel, ValidationError

from planner.columns import (
    NOTES,
    SETTINGS_HEADERS,
    Column,
    column_map,
    columns,
    record_row,
    settings_rows,
    table_classes,
)
from planner.errors import InputError, InputIssue, describe
from planner.schema import TABLE_FIELD, TABLES, Problem, Record, Settings, cross_table_issues
from planner.template import SPARE_ROWS, build_workbook, required_sheets, save_atomically

if not openpyxl.DEFUSEDXML:  # pragma: no cover - defusedxml is a hard dependency
    raise ImportError("planner.workbook needs defusedxml to read workbooks safely: pip install defusedxml")

MAX_FILE_BYTES = 50 * 1024**2
MAX_UNCOMPRESSED_BYTES = 200 * 1024**2
MAX_ARCHIVE_MEMBERS = 10_000
MAX_COMPRESSION_RATIO = 100
"""A member expanding more than this many times (and past ``RATIO_CHECK_MIN_BYTES``) is a zip bomb."""
RATIO_CHECK_MIN_BYTES = 1024**2
MAX_ROWS = 100_000
MAX_COLUMNS = 1_000

FILE = "file"
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
_SETTINGS_REQUIRED = ("parameter", "value")


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
class _Collector:
    """Issues found so far, and which rows were rejected (to silence their knock-on effects)."""

    issues: list[InputIssue] = field(default_factory=list)
    rejected: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)

    def add(self, sheet: str, column: str, found: str, expected: str, cell: str | None = None) -> None:
        self.issues.append(InputIssue(sheet, column, found, expected, cell=cell))

    def reject(self, table: str, row: Mapping[str, Any]) -> None:
        self.rejected.setdefault(table, []).append(dict(row))

    def has_rejects(self, table: str) -> bool:
        return table in self.unreadable or bool(self.rejected.get(table))


# ---- public API ---------------------------------------------------------------------------------


def load(path: Path | str) -> Problem:
    """Read and validate an input workbook; raise :class:`InputError` listing every problem by cell."""
    path = Path(path)
    collector = _Collector()
    tables = _read_workbook(path, collector)
    settings, valid_settings = _settings(tables.get(Settings.TABLE), collector)
    records: dict[str, list[Record]] = {}
    record_rows: dict[str, list[int]] = {}
    for cls in TABLES:
        records[cls.TABLE], record_rows[cls.TABLE] = _records(cls, tables.get(cls.TABLE), collector)
    fields = {TABLE_FIELD[name]: rows for name, rows in records.items()}
    # With invalid Settings the horizon is unknown: check the other cross-table rules against a
    # stand-in horizon and drop the issues that depend on it (month windows, demand coverage).
    draft_settings = settings or Settings.model_construct(**{**valid_settings, **_STAND_IN_HORIZON})
    # model_construct skips the validator so cross-table issues can be filtered before raising.
    draft = Problem.model_construct(settings=draft_settings, **fields)
    for issue in cross_table_issues(draft):
        if _explained_by_rejected_rows(issue, collector) or (settings is None and _depends_on_horizon(issue)):
            continue
        collector.issues.append(_locate(issue, tables, record_rows))
    if settings is not None and not collector.issues:
        try:
            return Problem(settings=settings, **fields)
        except InputError as error:  # cannot happen after the draft check; located anyway
            collector.issues.extend(_locate(issue, tables, record_rows) for issue in error.issues)
    raise InputError(_in_sheet_order(collector.issues), source=path.name)


def read_tables(path: Path | str) -> dict[str, list[dict[str, Any]]]:
    """The raw rows of every table found (header -> cell value; Settings as parameter/value rows).

    Raises :class:`InputError` for file-level and layout problems (missing sheets or columns, merged
    cells, formulas without a saved value); row values are not validated.
    """
    path = Path(path)
    collector = _Collector()
    tables = _read_workbook(path, collector)
    if collector.issues:
        raise InputError(_in_sheet_order(collector.issues), source=path.name)
    return {name: [values for _, values in table.rows] for name, table in tables.items()}


def problem_to_tables(problem: Problem) -> dict[str, list[dict[str, Any]]]:
    """Every table of a problem as sheet rows (header -> cell value), Settings first."""
    tables = {Settings.TABLE: settings_rows(problem.settings.model_dump())}
    for name, attribute in TABLE_FIELD.items():
        tables[name] = [record_row(record) for record in getattr(problem, attribute)]
    return tables


def write_problem(
    problem: Problem,
    path: Path | str,
    spare_rows: int = SPARE_ROWS,
    settings_notes: Mapping[str, str] | None = None,
) -> None:
    """Write a filled input workbook in the template layout (atomically; ``.xlsx`` paths only).

    ``settings_notes`` adds a note (source, assumption) to Settings parameters, which have no notes
    field of their own.
    """
    tables = problem_to_tables(problem)
    settings = {row["parameter"]: row["value"] for row in tables.pop(Settings.TABLE)}
    workbook = build_workbook(settings, tables, spare_rows, settings_notes or {})
    save_atomically(workbook, Path(path))


# ---- file and archive checks --------------------------------------------------------------------


def _fail(path: Path, found: str, expected: str) -> InputError:
    return InputError([InputIssue(FILE, "path", found, expected)], source=path.name)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, after checks that need no parsing (exists, is a file, size)."""
    try:
        if not path.exists():
            raise _fail(path, f"no file at {path}", "an existing .xlsx workbook")
        if path.is_dir():
            raise _fail(path, f"a folder at {path}", "an .xlsx workbook file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _fail(path, f"a file of {size / 1024**2:.0f} MB", f"at most {MAX_FILE_BYTES // 1024**2} MB")
        return path.read_bytes()
    except OSError as error:
        raise _fail(path, f"a file that cannot be read ({error.strerror or error})", "a readable file") from None


def _check_archive(path: Path, data: bytes) -> bool:
    """Refuse anything that is not a plausible xlsx zip, before any XML is parsed. Returns whether
    a worksheet holds a formula (only then is the slower second, formula-aware, read needed)."""
    not_xlsx = "an .xlsx workbook (not a renamed CSV or .xls, a password-protected or a damaged file)"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if "[Content_Types].xml" not in archive.namelist():
                raise _fail(path, "a zip file that is not an Excel workbook", not_xlsx)
            if len(members) > MAX_ARCHIVE_MEMBERS:
                raise _fail(path, f"an archive of {len(members)} parts", f"at most {MAX_ARCHIVE_MEMBERS}")
            total = sum(member.file_size for member in members)
            if total > MAX_UNCOMPRESSED_BYTES:
                raise _fail(path, f"{total / 1024**2:.0f} MB of uncompressed content",
                            f"at most {MAX_UNCOMPRESSED_BYTES // 1024**2} MB (refused as unsafe)")
            for member in members:
                ratio = member.file_size / max(member.compress_size, 1)
                if member.file_size > RATIO_CHECK_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
                    raise _fail(path, f"part {member.filename} compressed {ratio:.0f} to 1 (a zip bomb?)",
                                f"a compression ratio of at most {MAX_COMPRESSION_RATIO} (refused as unsafe)")
            sheets = [m for m in members if m.filename.startswith("xl/worksheets/") and m.filename.endswith(".xml")]
            return any(_FORMULA_TAG.search(archive.read(member)) for member in sheets)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, ValueError):
        raise _fail(path, "a file that is not a valid .xlsx (zip) archive", not_xlsx) from None
    except (OSError, RuntimeError) as error:  # encrypted or unreadable members
        raise _fail(path, f"an archive that cannot be read ({error})", not_xlsx) from None


def _open(path: Path, data: bytes, formulas: bool) -> tuple[Workbook, Workbook | None]:
    """Cached values, plus the formula view when the archive holds formulas."""
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (extensions, styles): irrelevant to the input.
            warnings.simplefilter("ignore")
            values = openpyxl.load_workbook(io.BytesIO(data), data_only=True, keep_links=False)
            formula_view = (
                openpyxl.load_workbook(io.BytesIO(data), data_only=False, keep_links=False) if formulas else None
            )
    except Exception as error:  # untrusted file: any parser failure is bad input, never a traceback
        if any(isinstance(cause, DefusedXmlException) for cause in _causes(error)):
            raise _fail(path, "XML entity or DTD declarations", "a workbook without them (refused as unsafe)") from None
        message = " ".join(str(error).split())[:120]
        raise _fail(path, f"a workbook that cannot be read ({type(error).__name__}: {message})",
                    "a workbook saved by Excel or LibreOffice as .xlsx") from None
    return values, formula_view


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and the errors it was raised from (openpyxl re-raises parser errors as ValueError)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


# ---- layout: sheets, headers, rows --------------------------------------------------------------


def _read_workbook(path: Path, collector: _Collector) -> dict[str, SheetTable]:
    data = _read_bytes(path)
    has_formulas = _check_archive(path, data)
    values, formula_view = _open(path, data, has_formulas)
    tables: dict[str, SheetTable] = {}
    required = set(required_sheets())
    expected: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
        Settings.TABLE: (SETTINGS_HEADERS, _SETTINGS_REQUIRED)
    }
    for name, cls in table_classes().items():
        cols = columns(cls)
        expected[name] = (tuple(c.name for c in cols), tuple(c.name for c in cols if c.required))
    for name, (headers, required_headers) in expected.items():
        found = _find_table(values, name)
        if found is None:
            if name in required:  # a missing optional sheet is simply an empty table
                collector.unreadable.add(name)
                collector.add(name, "", "no such sheet", f"a sheet named {name} (required)")
            continue
        sheet, table_ref = found
        formula_sheet = formula_view[sheet.title] if formula_view is not None else None
        table = _read_table(name, sheet, table_ref, formula_sheet, headers, required_headers, collector)
        if table is None:
            collector.unreadable.add(name)
        else:
            tables[name] = table
    return tables


def _find_table(workbook: Workbook, name: str) -> tuple[Worksheet, str | None] | None:
    """The sheet holding table ``name`` and the table's range; by Excel Table name first, then by
    sheet name (its only Table, or no Table: then the header is row 1)."""
    wanted = name.lower()
    for sheet in workbook.worksheets:
        for table in sheet.tables.values():
            if (table.displayName or table.name or "").lower() == wanted:
                return sheet, table.ref
    for sheet in workbook.worksheets:
        if sheet.title.strip().lower() == wanted:
            only = list(sheet.tables.values())
            return sheet, (only[0].ref if len(only) == 1 else None)
    return None


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_formula(cell: Any) -> bool:
    return getattr(cell, "data_type", None) == "f" or isinstance(cell.value, ArrayFormula | DataTableFormula)


def _read_table(
    name: str,
    sheet: Worksheet,
    table_ref: str | None,
    formula_sheet: Worksheet | None,
    headers: tuple[str, ...],
    required_headers: tuple[str, ...],
    collector: _Collector,
) -> SheetTable | None:
    title = sheet.title
    if sheet.max_row > MAX_ROWS or sheet.max_column > MAX_COLUMNS:
        collector.add(title, "", f"a sheet of {sheet.max_row:,} rows x {sheet.max_column:,} columns",
                      f"at most {MAX_ROWS:,} rows and {MAX_COLUMNS:,} columns (refused as unsafe)", cell="A1")
        return None
    first_col, header_row, last_col, table_last_row = 1, 1, 0, sheet.max_row
    # A malformed table range: read the sheet from row 1 as if it had no Table.
    with contextlib.suppress(TypeError, ValueError):
        if table_ref:
            first_col, header_row, last_col, table_last_row = range_boundaries(table_ref)
    # Never trust a table range beyond the cells the sheet actually holds.
    last_col = min(last_col or 0, sheet.max_column)
    header_row = min(header_row or 1, sheet.max_row)
    first_col = first_col or 1
    table_last_row = table_last_row or sheet.max_row
    # A column typed right next to the table (which did not grow to include it) still counts.
    while last_col < sheet.max_column and not _is_blank(sheet.cell(header_row, last_col + 1).value):
        last_col += 1
    if last_col < first_col:
        collector.add(title, "", "an empty header row", "column headers: " + ", ".join(headers),
                      cell=f"{get_column_letter(first_col)}{header_row}")
        return None

    known = {header.lower(): header for header in headers}
    column_of: dict[str, int] = {}
    ignored: dict[int, str] = {}  # column index -> why its data is not read
    for index in range(first_col, last_col + 1):
        raw = sheet.cell(header_row, index).value
        cell = f"{get_column_letter(index)}{header_row}"
        text = "" if _is_blank(raw) else str(raw).strip()
        header = known.get(text.lower())
        if not text:
            ignored[index] = "blank"
        elif header is None:
            ignored[index] = "unknown"
            collector.add(title, text, describe(raw), "one of the column names " + ", ".join(headers), cell=cell)
        elif header in column_of:
            ignored[index] = "duplicate"
            collector.add(title, header, f"a second {header} column", "each column once", cell=cell)
        else:
            column_of[header] = index
    header_at = {index: header for header, index in column_of.items()}
    table = SheetTable(name, title, header_row, column_of)
    for header in required_headers:
        if header not in column_of:
            collector.add(title, header, "no such column", f"a column headed {header} (required)",
                          cell=f"{get_column_letter(last_col + 1)}{header_row}")

    blank_header_with_data: set[int] = set()
    value_rows = sheet.iter_rows(min_row=header_row + 1, max_row=sheet.max_row, min_col=first_col,
                                 max_col=last_col, values_only=True)
    formula_rows: Iterator[Any] = (
        formula_sheet.iter_rows(min_row=header_row + 1, max_row=sheet.max_row, min_col=first_col, max_col=last_col)
        if formula_sheet is not None else iter(())
    )
    last_row = header_row
    for row_number, cached in enumerate(value_rows, start=header_row + 1):
        cells = next(formula_rows, None) if formula_sheet is not None else None
        if all(_is_blank(v) for v in cached) and not (cells and any(_is_formula(c) for c in cells)):
            if row_number > table_last_row:
                break  # below the table, a blank row ends it
            continue
        last_row = row_number
        values: dict[str, Any] = {}
        for offset, value in enumerate(cached):
            index = first_col + offset
            formula = cells is not None and _is_formula(cells[offset])
            if index in ignored:
                if ignored[index] == "blank" and not _is_blank(value):
                    blank_header_with_data.add(index)
                continue
            header = header_at[index]
            if formula and value is None:
                collector.add(title, header, "a formula with no saved value",
                              "a value (open and save the file in Excel, or type the value)",
                              cell=f"{get_column_letter(index)}{row_number}")
                table.bad_rows.add(row_number)
            values[header] = value
        table.rows.append((row_number, values))
    for index in sorted(blank_header_with_data):
        collector.add(title, "", "values under a blank header", "a column name: " + ", ".join(headers),
                      cell=f"{get_column_letter(index)}{header_row}")

    for merged in sheet.merged_cells.ranges:
        if (merged.max_row >= header_row and merged.min_row <= last_row
                and merged.max_col >= first_col and merged.min_col <= last_col):
            header = header_at.get(merged.min_col, "")
            collector.add(title, header, f"merged cells {merged.coord}", "one value per cell (unmerge them)",
                          cell=merged.coord)
            table.bad_rows.update(range(max(merged.min_row, header_row + 1), merged.max_row + 1))
    return table


# ---- rows to records ----------------------------------------------------------------------------


def _prepare(column: Column, value: Any) -> Any:
    """Excel's types to what the schema expects: 3.0 is a whole number, 12 is a name, TRUE is not a
    price. Anything else is left to pydantic, which reports it."""
    if _is_blank(value):
        return None
    if column.kind in ("int", "float") and isinstance(value, bool):
        return str(value).upper()  # not a number: fails validation with the number message
    if column.kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if column.name == NOTES and not isinstance(value, str):
        return str(value)  # free text: a date or number typed as a note is still a note
    if column.kind in ("text", "names") and isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return value


def _expected(column: Column, error_type: str, context: Mapping[str, Any] | None) -> str:
    if error_type == "missing":
        return f"{column.expected} (required)"
    if error_type == "string_too_long" and context:
        return f"text of at most {context.get('max_length')} characters"
    if error_type == "finite_number":
        return f"a finite {column.expected.removeprefix('a ')}"
    if error_type == "value_error" and context and context.get("error"):
        return str(context["error"])  # a schema validator's own words (e.g. a month outside the horizon)
    return column.expected


def _validation_issues(
    cls: type[BaseModel], error: ValidationError, raw: Mapping[str, Any], cell_of: Any, sheet: str,
    skip_columns: set[str],
) -> list[InputIssue]:
    by_name = column_map(cls)
    issues = []
    for detail in error.errors(include_url=False):
        name = str(detail["loc"][0]) if detail["loc"] else ""
        if name in skip_columns:
            continue  # a missing column: already reported once at the header
        column = by_name.get(name)
        expected = _expected(column, detail["type"], detail.get("ctx")) if column else detail["msg"]
        issues.append(InputIssue(sheet, name, describe(raw.get(name)), expected, cell=cell_of(name)))
    return issues


def _records(
    cls: type[Record], table: SheetTable | None, collector: _Collector
) -> tuple[list[Record], list[int]]:
    """Valid records of one table and their sheet rows; each invalid row adds its issues."""
    if table is None:
        return [], []
    by_name = column_map(cls)
    missing = {name for name in by_name if name not in table.columns}
    if any(by_name[name].required for name in missing):
        # Rows cannot be read without a required column (often the key): references to this table
        # would all look unknown, so treat it as unreadable rather than blame every referring row.
        collector.unreadable.add(cls.TABLE)
    records: list[Record] = []
    rows: list[int] = []
    for row_number, raw in table.rows:
        if row_number in table.bad_rows:
            collector.reject(cls.TABLE, raw)
            continue
        prepared = {name: _prepare(by_name[name], value) for name, value in raw.items()}
        try:
            records.append(cls.model_validate(prepared))
            rows.append(row_number)
        except ValidationError as error:
            collector.reject(cls.TABLE, raw)
            collector.issues.extend(
                _validation_issues(cls, error, raw, lambda name, r=row_number: table.cell(name, r), table.sheet,
                                   missing)
            )
    return records, rows


def _settings(table: SheetTable | None, collector: _Collector) -> tuple[Settings | None, dict[str, Any]]:
    """Settings from parameter/value rows (unknown, repeated or missing parameters are issues), and
    the parameters that were valid on their own (defaults included)."""
    defaults = {c.name: c.default for c in columns(Settings) if not c.required}
    if table is None or "parameter" not in table.columns or "value" not in table.columns:
        collector.unreadable.add(Settings.TABLE)
        return None, defaults
    by_name = column_map(Settings)
    values: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    value_cell: dict[str, str] = {}
    last_row = table.header_row
    for row_number, row in table.rows:
        last_row = row_number
        parameter, value = row.get("parameter"), row.get("value")
        parameter_cell = table.cell("parameter", row_number)
        key = "" if _is_blank(parameter) else str(parameter).strip().lower()
        if not key:
            if not _is_blank(value):
                collector.add(table.sheet, "parameter", "empty", "a parameter name", cell=parameter_cell)
            continue
        if key not in by_name:
            collector.add(table.sheet, "parameter", describe(parameter),
                          "one of the parameters " + ", ".join(by_name), cell=parameter_cell)
            continue
        if key in value_cell:
            collector.add(table.sheet, "parameter", describe(parameter),
                          f"each parameter once ({key} is also at {value_cell[key]})", cell=parameter_cell)
            continue
        value_cell[key] = table.cell("value", row_number)
        if row_number in table.bad_rows:
            continue
        raw[key] = value
        prepared = _prepare(by_name[key], value)
        if prepared is not None:
            values[key] = prepared

    def cell_of(name: str) -> str:
        return value_cell.get(name, f"A{last_row + 1}")

    try:
        return Settings.model_validate(values), values
    except ValidationError as error:
        for issue in _validation_issues(Settings, error, raw, cell_of, table.sheet, set()):
            if issue.column not in value_cell:  # no row at all: say where to add one
                issue = replace(issue, found=f"no {issue.column} row",
                                expected=f"a row with parameter {issue.column} and value {issue.expected}")
            collector.issues.append(issue)
        collector.reject(Settings.TABLE, raw)
        invalid = {str(detail["loc"][0]) for detail in error.errors() if detail["loc"]}
        return None, {**defaults, **{k: v for k, v in values.items() if k not in invalid}}


# ---- cross-table issues -------------------------------------------------------------------------

_PROVIDER_TABLES = ("LeaseOffers", "Commitments", "OnDemand")
# Issues that sum or count over whole tables: a rejected row in these tables may be the cause.
_AGGREGATE_CAUSES: dict[tuple[str, str], tuple[str, ...]] = {
    ("Scenarios", "probability"): ("Scenarios",),
    ("Workloads", "base_tokens_per_month"): ("Demand",),
    ("Scenarios", "growth_multiple_per_year"): ("Demand",),
    ("Workloads", "flops_per_token"): ("Throughput",),
}
_TABLE_WIDE_CAUSES: dict[str, tuple[str, ...]] = {
    "LeaseOffers": _PROVIDER_TABLES,
    "Throughput": ("Throughput", Settings.TABLE),  # a missing row is fine when default_mfu is valid
}


def _explained_by_rejected_rows(issue: InputIssue, collector: _Collector) -> bool:
    """Whether a cross-table issue may only be a knock-on effect of a row already reported invalid
    (a reference to a GPU type whose own row is invalid, a sum missing an invalid row, ...)."""
    classes = table_classes()
    column = column_map(classes[issue.sheet]).get(issue.column) if issue.sheet in classes else None
    if column is not None and column.ref:
        target = column.ref
        keys = {describe(row.get(classes[target].KEY or "name")) for row in collector.rejected.get(target, [])}
        if target in collector.unreadable or issue.found in keys:
            return True
    if issue.sheet == "Credits" and issue.column == "provider":
        providers = {describe(row.get("provider")) for t in _PROVIDER_TABLES for row in collector.rejected.get(t, [])}
        if issue.found in providers or any(t in collector.unreadable for t in _PROVIDER_TABLES):
            return True
    causes = _AGGREGATE_CAUSES.get((issue.sheet, issue.column))
    if causes is None and issue.row_index is None:
        causes = _TABLE_WIDE_CAUSES.get(issue.sheet, (issue.sheet,))
    return causes is not None and any(collector.has_rejects(table) for table in causes)


_STAND_IN_HORIZON = {"first_month": "2000-01", "months": 1}


def _depends_on_horizon(issue: InputIssue) -> bool:
    classes = table_classes()
    column = column_map(classes[issue.sheet]).get(issue.column) if issue.sheet in classes else None
    return column is not None and column.kind == "month"


def _locate(issue: InputIssue, tables: Mapping[str, SheetTable], record_rows: Mapping[str, list[int]]) -> InputIssue:
    """Give a cross-table issue (table, row index) its sheet cell."""
    table = tables.get(issue.sheet)
    if table is None:
        return issue
    rows = record_rows.get(issue.sheet, [])
    row = rows[issue.row_index] if issue.row_index is not None and issue.row_index < len(rows) else None
    return replace(issue, sheet=table.sheet, cell=table.cell(issue.column, row), row_index=None)


def _in_sheet_order(issues: list[InputIssue]) -> list[InputIssue]:
    order = {name: rank for rank, name in enumerate([FILE, Settings.TABLE, *table_classes()])}
    return sorted(issues, key=lambda issue: order.get(issue.sheet, len(order)))
