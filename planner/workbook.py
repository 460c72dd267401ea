"""The workbook front door: read an input workbook into a validated :class:`Problem`, write one back.

Reading is defensive because a finance workbook is typed by hand and may come from anywhere:
:mod:`planner.xlsx_reader` reads the file safely (regular files only, capped reads, zip-bomb and XML
entity checks, work bounded by the cells that hold a value); :mod:`planner.sheet_tables` finds each
table by its sheet or Table name and refuses to guess; every row is validated on its own; the input's
numerical scaling is checked (:mod:`planner.numerics`); and every problem found in any sheet is
collected into one :class:`InputError` whose issues name their cell, e.g. ``LeaseOffers!F3``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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
from planner.excel import REPORT_MARKER
from planner.numerics import ScalingWarning, check_scaling
from planner.plausibility import SuspiciousValueWarning, suspicious_values
from planner.schema import TABLE_FIELD, TABLES, Problem, Record, Settings, cross_table_issues
from planner.sheet_tables import SheetTable, is_blank, locate_tables, read_table
from planner.sweeps.sheet import read_sweeps
from planner.sweeps.spec import Sweep
from planner.template import SPARE_ROWS, build_workbook, required_sheets, save_atomically
from planner.xlsx_reader import FILE, Inspect, fail, read_workbook

_SETTINGS_REQUIRED = ("parameter", "value")


@dataclass
class _Collector:
    """Issues found so far, and which rows were rejected (to silence their knock-on effects)."""

    issues: list[InputIssue] = field(default_factory=list)
    rejected: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)
    absent: list[str] = field(default_factory=list)
    settings_cells: dict[str, str] = field(default_factory=dict)
    """Settings parameter -> the cell holding its value."""

    def add(self, sheet: str, column: str, found: str, expected: str, cell: str | None = None) -> None:
        self.issues.append(InputIssue(sheet, column, found, expected, cell=cell))

    def reject(self, table: str, row: Mapping[str, Any]) -> None:
        self.rejected.setdefault(table, []).append(dict(row))

    def has_rejects(self, table: str) -> bool:
        return table in self.unreadable or bool(self.rejected.get(table))


@dataclass(frozen=True)
class LoadDetails:
    """A validated problem and what a reader of its outputs should be told about the input."""

    problem: Problem
    scaling_warnings: tuple[InputIssue, ...] = ()
    """Numbers that may make the solve inaccurate or slow (poor numerical scaling), located by cell."""
    suspicious_values: tuple[InputIssue, ...] = ()
    """Values that are valid but look like slips (a price 10x the others of its type), located by cell."""

    @property
    def warnings(self) -> tuple[InputIssue, ...]:
        """Every warning about the input: suspicious values, then scaling; none stops a solve."""
        return self.suspicious_values + self.scaling_warnings

    @property
    def absent_tables(self) -> list[str]:
        return absent_tables(self.problem)


# ---- public API ---------------------------------------------------------------------------------


def load(path: Path | str) -> Problem:
    """Read and validate an input workbook; raise :class:`InputError` listing every problem by cell.

    Input that will solve but may solve badly (poor numerical scaling) emits a :class:`ScalingWarning`,
    and values that are valid but suspicious a :class:`SuspiciousValueWarning`, each naming the cells;
    :func:`load_details` returns those warnings instead.
    """
    details = load_details(path)
    name = Path(path).name
    for found, category, what in ((details.scaling_warnings, ScalingWarning, "may solve inaccurately"),
                                  (details.suspicious_values, SuspiciousValueWarning, "has suspicious values")):
        if found:
            lines = "\n".join(f"  {issue}" for issue in found)
            warnings.warn(category(f"{name} {what}:\n{lines}"), stacklevel=2)
    return details.problem


def load_details(path: Path | str) -> LoadDetails:
    """:func:`load`, returning the problem with its warnings (and, through it, the absent tables)."""
    path = Path(path)
    collector = _Collector()
    tables = _read_workbook(path, collector)
    settings, valid_settings = _settings(tables.get(Settings.TABLE), collector)
    records: dict[str, list[Record]] = {}
    record_rows: dict[str, list[int]] = {}
    for cls in TABLES:
        records[cls.TABLE], record_rows[cls.TABLE] = _records(cls, tables.get(cls.TABLE), collector)
    # Absent optional tables are left unset: Problem.model_fields_set then records what was given.
    fields = {TABLE_FIELD[name]: rows for name, rows in records.items() if name not in collector.absent}

    def locate(issue: InputIssue) -> InputIssue:
        return _locate(issue, tables, record_rows, collector.settings_cells)

    # With invalid Settings the horizon is unknown: check the other cross-table rules against a
    # stand-in horizon and drop the issues that depend on it (month windows, demand coverage).
    draft_settings = settings or Settings.model_construct(**{**valid_settings, **_STAND_IN_HORIZON})
    # model_construct skips the validator so cross-table issues can be filtered before raising.
    draft = Problem.model_construct(settings=draft_settings, **fields)
    for issue in cross_table_issues(draft):
        if _explained_by_rejected_rows(issue, collector) or (settings is None and _depends_on_horizon(issue)):
            continue
        collector.issues.append(locate(issue))
    if settings is not None and not collector.issues:
        try:
            problem = Problem(settings=settings, **fields)
        except InputError as error:  # cannot happen after the draft check; located anyway
            collector.issues.extend(locate(issue) for issue in error.issues)
        else:
            scaling = check_scaling(problem)
            collector.issues.extend(locate(issue) for issue in scaling.refusals)
            if not collector.issues:
                return LoadDetails(problem, tuple(locate(issue) for issue in scaling.warnings),
                                   tuple(locate(issue) for issue in suspicious_values(problem)))
    raise InputError(_in_sheet_order(collector.issues), source=path.name)


def load_sweeps(path: Path | str, names: Sequence[str] | None = None) -> list[Sweep]:
    """The sweeps on the workbook's optional Sweeps sheet ([] without one; with ``names``, only those).

    Read apart from :func:`load`, so that a bad Sweeps sheet never stops a solve. Raises
    :class:`InputError` naming each bad cell (``Sweeps!G4 (values): ...``); whether the targets exist
    in the input is checked by :func:`planner.sweeps.apply.check_sweeps`.
    """
    path = Path(path)
    sheets = read_workbook(path, _refuse_reports(path))
    try:
        return read_sweeps(sheets, names)
    except InputError as error:
        raise InputError(error.issues, source=path.name) from None


def absent_tables(problem: Problem) -> list[str]:
    """Optional input tables the workbook did not have (see :meth:`Problem.absent_tables`)."""
    return problem.absent_tables()


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
    sweeps: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Write a filled input workbook in the template layout (atomically; ``.xlsx`` paths only).

    ``settings_notes`` adds a note (source, assumption) to Settings parameters, which have no notes
    field of their own; ``sweeps`` are rows of the Sweeps sheet (header -> cell value).
    """
    tables = problem_to_tables(problem)
    settings = {row["parameter"]: row["value"] for row in tables.pop(Settings.TABLE)}
    workbook = build_workbook(settings, tables, spare_rows, settings_notes or {}, sweeps)
    save_atomically(workbook, Path(path))


# ---- layout: where each table is, headers, rows -------------------------------------------------


def _expected_tables() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Table name -> (every column header, the required ones), Settings first."""
    expected = {Settings.TABLE: (SETTINGS_HEADERS, _SETTINGS_REQUIRED)}
    for name, cls in table_classes().items():
        cols = columns(cls)
        expected[name] = (tuple(c.name for c in cols), tuple(c.name for c in cols if c.required))
    return expected


REPORT_SHEETS = frozenset({"Summary", "Diagnostics"})
"""Sheets every planner report has (and no input workbook needs): a report whose keywords were lost in
a re-save is still recognised by them, when it has no Settings sheet either."""


def _refuse_reports(path: Path) -> Inspect:
    """Refuse a planner report given where an input workbook is expected, before its cells are read."""

    def inspect(properties: Mapping[str, str], sheets: list[str]) -> None:
        marked = properties.get("keywords") == REPORT_MARKER
        if marked or (set(sheets) >= REPORT_SHEETS and Settings.TABLE not in sheets):
            raise fail(path, f"{describe(path.name)}: this is a planner report, not an input workbook",
                       "an input workbook (the report's Inputs sheet shows the inputs it was made from; "
                       "planner template writes a blank input workbook)")

    return inspect


def _read_workbook(path: Path, collector: _Collector) -> dict[str, SheetTable]:
    sheets = read_workbook(path, _refuse_reports(path))
    expected = _expected_tables()
    placement = locate_tables(sheets, expected, set(required_sheets()))
    collector.issues.extend(placement.issues)
    collector.unreadable.update(placement.unreadable)
    collector.absent.extend(placement.absent)
    tables: dict[str, SheetTable] = {}
    for name, (sheet, table_part) in placement.found.items():
        headers, required_headers = expected[name]
        table = read_table(name, sheet, table_part, headers, required_headers, collector.issues)
        if table is None:
            collector.unreadable.add(name)
        else:
            tables[name] = table
    return tables


# ---- rows to records ----------------------------------------------------------------------------


def _prepare(column: Column, value: Any) -> Any:
    """Excel's types to what the schema expects: 3.0 is a whole number, 12 is a name, TRUE is not a
    price. Anything else is left to pydantic, which reports it."""
    if is_blank(value):
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
    value_cell = collector.settings_cells
    last_row = table.header_row
    for row_number, row in table.rows:
        last_row = row_number
        parameter, value = row.get("parameter"), row.get("value")
        parameter_cell = table.cell("parameter", row_number)
        key = "" if is_blank(parameter) else str(parameter).strip().lower()
        if not key:
            if not is_blank(value):
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


def _locate(issue: InputIssue, tables: Mapping[str, SheetTable], record_rows: Mapping[str, list[int]],
            settings_cells: Mapping[str, str]) -> InputIssue:
    """Give a cross-table issue (table, row index) its sheet cell; a Settings issue its value cell."""
    table = tables.get(issue.sheet)
    if table is None:
        return issue
    if issue.sheet == Settings.TABLE:
        return replace(issue, sheet=table.sheet, cell=settings_cells.get(issue.column, issue.cell))
    rows = record_rows.get(issue.sheet, [])
    row = rows[issue.row_index] if issue.row_index is not None and issue.row_index < len(rows) else None
    return replace(issue, sheet=table.sheet, cell=table.cell(issue.column, row), row_index=None)


def _in_sheet_order(issues: list[InputIssue]) -> list[InputIssue]:
    order = {name: rank for rank, name in enumerate([FILE, Settings.TABLE, *table_classes()])}
    return sorted(issues, key=lambda issue: order.get(issue.sheet, len(order)))
