"""How schema fields become workbook columns: kind, unit, dropdown, plain-language expectation.

Shared by the template writer and the workbook reader so that the notes a user reads in the template
and the "expected ..." text of an error message always say the same thing.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, BeforeValidator

from planner.schema import TABLES, Record, Settings, parse_month
from planner.units import unit_of

FieldKind = Literal["int", "float", "bool", "month", "names", "choice", "text"]
NOTES = "notes"
SETTINGS_HEADERS: tuple[str, ...] = ("parameter", "value", "unit", "notes")
MONTH_TEXT = "a month as YYYY-MM (e.g. 2025-03) or an Excel date"


@dataclass(frozen=True)
class Column:
    """One input column (or one Settings parameter) as the workbook sees it."""

    name: str
    kind: FieldKind
    required: bool
    default: Any
    description: str
    unit: str
    ref: str | None
    choices: tuple[str, ...]
    bounds: str

    @property
    def expected(self) -> str:
        """What a valid cell holds, in plain words (used in error messages and header notes)."""
        bounded = f" {self.bounds}" if self.bounds else ""
        if self.kind == "int":
            return f"a whole number{bounded}"
        if self.kind == "float":
            return f"a number{bounded}"
        if self.kind == "bool":
            return "yes or no"
        if self.kind == "month":
            return MONTH_TEXT
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "names":
            target = f" from the {self.ref} sheet" if self.ref else ""
            return f"names{target}, separated by commas"
        if self.ref:
            return f"a name from the {self.ref} sheet"
        return "text" if self.name == NOTES else "a name (1 to 80 characters, not starting with a space)"

    @property
    def default_text(self) -> str:
        """The default as a user would type it, or '' when the column has none."""
        if self.required:
            return ""
        value = to_cell(self.default)
        return "" if value in (None, "") else str(value)


def _kind(annotation: Any, metadata: list[Any]) -> tuple[FieldKind, tuple[str, ...]]:
    origin = get_origin(annotation)
    if origin is Annotated:  # an optional annotated type (``Month | None``) keeps its metadata inside
        inner, *extra = get_args(annotation)
        return _kind(inner, [*metadata, *extra])
    if origin in (Union, types.UnionType):
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _kind(inner[0], metadata)
    if origin is Literal:
        return "choice", tuple(str(arg) for arg in get_args(annotation))
    if origin is list:
        return "names", ()
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is float:
        return "float", ()
    if any(isinstance(m, BeforeValidator) and m.func is parse_month for m in metadata):
        return "month", ()
    return "text", ()


def _bounds(metadata: list[Any]) -> str:
    parts = []
    for item in metadata:
        for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if isinstance(item, annotated_types.BaseMetadata) and hasattr(item, attr):
                parts.append(f"{symbol} {getattr(item, attr):g}")
    return " and ".join(parts)


def _unit(name: str, kind: FieldKind) -> str:
    """The unit of a column: read from its name (see :mod:`planner.units`); months are typed YYYY-MM."""
    if kind == "month":
        return "YYYY-MM"
    unit = unit_of(name)
    return unit.text if unit is not None else ""


@cache
def columns(cls: type[BaseModel]) -> tuple[Column, ...]:
    """The columns of a table class in sheet order (``notes`` last), or the Settings parameters."""
    result = []
    for name, info in cls.model_fields.items():
        kind, choices = _kind(info.annotation, info.metadata)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        unit = Settings.UNITS.get(name, "") if cls is Settings else _unit(name, kind)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        result.append(
            Column(
                name=name,
                kind=kind,
                required=info.is_required(),
                default=default,
                description=info.description or "",
                unit=unit,
                ref=str(extra["ref"]) if "ref" in extra else None,
                choices=choices,
                bounds=_bounds(info.metadata),
            )
        )
    # notes is inherited, so pydantic lists it first; a sheet reads better with it last.
    result.sort(key=lambda column: column.name == NOTES)
    return tuple(result)


def column_map(cls: type[BaseModel]) -> dict[str, Column]:
    return {column.name: column for column in columns(cls)}


def table_classes() -> dict[str, type[Record]]:
    """Sheet name -> record class, in workbook order."""
    return {cls.TABLE: cls for cls in TABLES}


def to_cell(value: Any) -> Any:
    """A Python value as a workbook cell holds it: yes/no, comma-separated names, blank for None."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return value


def settings_rows(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Settings table: one parameter/value/unit/notes row per Settings field."""
    return [
        {
            "parameter": column.name,
            "value": to_cell(values.get(column.name)),
            "unit": column.unit,
            "notes": column.description,
        }
        for column in columns(Settings)
    ]


def record_row(record: Record) -> dict[str, Any]:
    """One record as a sheet row (header -> cell value)."""
    return {column.name: to_cell(getattr(record, column.name)) for column in columns(type(record))}
