"""The sweep specification: what to vary, how, over which values, in which design.

One typed spec serves every way in: the workbook's ``Sweeps`` sheet, the CLI's ``--vary`` and
scripts build the same :class:`Sweep` objects. A target addresses input cells the way a workbook
reader would name them::

    LeaseOffers[COL-H100-12].price_usd_per_gpu_hour     one row, by its id
    LeaseOffers[*].price_usd_per_gpu_hour               every row
    LeaseOffers[gpu_type=GB200].price_usd_per_gpu_hour  rows matching a filter (col=v, col!=v, col=a|b,
    Throughput[workload!=training].mfu                  several joined by "," or "&")
    Settings.default_mfu                                a Settings parameter
    Scenarios[80x].probability                          a probability; the others are renormalised
    Demand[scenario=80x,workload=chat].tokens_per_month demand (explicit rows or base level x growth)

with a mode (``set`` the value, ``scale`` multiply it, ``add`` to it) and values (a list, or
``start:stop:count``). The ``--vary`` form writes the mode as the operator: ``=``, ``*=``, ``+=``::

    LeaseOffers[COL-H100-12].price_usd_per_gpu_hour=2.0:3.2:7
    Scenarios[80x].probability*=0.5,1,2
    Demand[scenario=80x].tokens_per_month*=0.8:1.2:5

Everything checkable without the input is checked here (table, column, mode, values, selector
syntax); references to rows are checked against a problem by :func:`planner.sweeps.apply.check_sweeps`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from planner.columns import Column, column_map, table_classes
from planner.errors import InputError, InputIssue, describe
from planner.schema import Settings, parse_month

Mode = Literal["set", "scale", "add"]
Design = Literal["one_at_a_time", "grid"]
Value = float | str
"""A swept value: a number, or text for a text, month or yes/no column (``set`` only)."""

SETTINGS = "Settings"
ALL_ROWS = "*"
OPERATORS: dict[str, Mode] = {"=": "set", "*=": "scale", "+=": "add"}
OPERATOR_OF: dict[Mode, str] = {mode: op for op, mode in OPERATORS.items()}
MODE_WORDS: dict[Mode, str] = {"set": "", "scale": " (scale)", "add": " (add)"}
NUMERIC_KINDS = ("int", "float")
MAX_GRID_POINTS = 10_000
"""A larger grid is almost surely a typo (a count of 1000 instead of 10); it is refused."""

RESERVED_LABELS = frozenset({
    "run", "sweep", "point", "design", "target", "value", "changes", "refinement", "status", "has_plan", "reason",
    "mip_gap", "objective_usd", "expected_cost_usd", "best_bound_usd", "new_lease_commitment_usd", "share_served",
    "seconds", "cpu_seconds", "solve_seconds", "rebuilt", "warm_start", "worker",
})
"""Column names of a sweep's runs table, which a target's label would shadow."""

_RANGE = re.compile(r"^\s*([^:]+):([^:]+):([^:]+)\s*$")
_VARY = re.compile(
    r"^\s*(?:(?P<table>[A-Za-z_]\w*)(?:\[(?P<rows>.*)\])?\.)?(?P<column>[A-Za-z_]\w*)\s*"
    r"(?P<op>\*=|\+=|=)\s*(?P<values>.*?)\s*$"
)
_CONDITION = re.compile(r"^\s*(?P<column>[A-Za-z_]\w*)\s*(?P<op>!=|=)\s*(?P<value>.*?)\s*$")


def _number(text: str) -> float | None:
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_values(value: Any) -> Any:
    """Values as given: a list, one value, ``"start:stop:count"`` or ``"a, b, c"`` -> a list.

    A range has ``count`` evenly spaced values from ``start`` to ``stop`` inclusive, rounded to 12
    significant digits so that 2.0:3.2:7 gives 2.2 and not 2.2000000000000002.
    """
    if isinstance(value, str):
        text = value.strip()
        match = _RANGE.match(text)
        if match or ":" in text:
            start, stop, count = (_number(part) for part in match.groups()) if match else (None, None, None)
            if start is None or stop is None or count is None or not count.is_integer() or count < 2:
                raise ValueError("start:stop:count with numbers start and stop and a whole count >= 2 "
                                 "(e.g. 2.0:3.2:7)")
            n = int(count)
            return [float(f"{start + (stop - start) * i / (n - 1):.12g}") for i in range(n)]
        if not text:
            return []
        parts = [part.strip() for part in re.split(r"[,;]", text)]
        if any(not part for part in parts):
            raise ValueError("values separated by commas, without empty entries (e.g. 2.0, 2.6, 3.2)")
        return [_number(part) if _number(part) is not None else part for part in parts]
    if isinstance(value, int | float | bool) or value is None:
        return [value]
    return value


def _cell_values(values: Any) -> Any:
    """Values as the schema reads them: a yes/no stays text (True would read as the number 1), a
    date is its month."""
    if not isinstance(values, list):
        return values
    return [("yes" if item else "no") if isinstance(item, bool)
            else parse_month(item) if isinstance(item, dt.date) else item for item in values]


# Before-validators run last-listed first: parse the text, then normalise the items.
Values = Annotated[list[Value], BeforeValidator(_cell_values), BeforeValidator(parse_values), Field(min_length=1)]


def table_columns(table: str) -> dict[str, Column]:
    """The columns of a table (or the Settings parameters) by name; empty for an unknown table."""
    if table == SETTINGS:
        return column_map(Settings)
    cls = table_classes().get(table)
    return column_map(cls) if cls else {}


def table_key(table: str) -> str | None:
    """The id column of a table (None for Settings and tables without ids)."""
    cls = table_classes().get(table)
    return cls.KEY if cls else None


def split_conditions(rows: str) -> list[tuple[str, str, list[str]]] | None:
    """A filter ``col=a|b, col2!=c`` as (column, operator, values); None if ``rows`` is not one."""
    parts = [part for part in re.split(r"[,&]", rows) if part.strip()]
    conditions = []
    for part in parts:
        match = _CONDITION.match(part)
        if not match or not match.group("value"):
            return None
        values = [v.strip() for v in match.group("value").split("|")]
        conditions.append((match.group("column"), match.group("op"), values))
    return conditions or None


class Target(BaseModel):
    """One input quantity to vary: ``table[rows].column``, a mode and the values to give it.

    ``rows`` is an id (the table's id column), ``*`` for every row, or a filter such as
    ``gpu_type=GB200`` (``col=value``, ``col!=value``, ``col=a|b``; several joined by ``,`` or ``&``).
    Settings parameters have no rows. ``location`` says where the target was written (a cell such as
    ``Sweeps!C4``, or ``--vary 2``) so that errors point there.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    table: str = Field(description="Sheet name (LeaseOffers, Throughput, ...) or Settings.")
    rows: str = Field(ALL_ROWS, description="Row id, * for every row, or a filter such as gpu_type=GB200.")
    column: str = Field(description="Column header (or Settings parameter) to vary.")
    mode: Mode = Field("set", description="set: the value; scale: multiply by it; add: add it.")
    values: Values = Field(description="A list of values, or start:stop:count.")
    label: str | None = Field(None, description="Short name for tables and charts (default: the address).")
    location: str | None = Field(None, description="Where the target was written (for error messages).")
    cells: dict[str, str] = Field(default_factory=dict, repr=False,
                                  description="Cell of each field, e.g. {'values': 'Sweeps!G5'} (for error messages).")

    @model_validator(mode="before")
    @classmethod
    def _blank_rows_mean_all(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and (data.get("rows") is None or str(data.get("rows")).strip() == ""):
            return {**data, "rows": ALL_ROWS}
        return data

    @model_validator(mode="after")
    def _addresses_a_column(self) -> Target:
        columns = table_columns(self.table)
        if not columns:
            known = ", ".join([SETTINGS, *table_classes()])
            raise ValueError(f"table: found {self.table!r}; expected one of {known}")
        column = columns.get(self.column)
        key = table_key(self.table)
        if column is None or column.name == "notes":
            known = ", ".join(name for name in columns if name not in ("notes", key))
            raise ValueError(f"column: found {self.column!r}; expected a {self.table} column ({known})")
        if self.column == key:
            raise ValueError(f"column: found {self.column!r}; expected a value column (the id cannot vary)")
        if self.table == SETTINGS and self.rows != ALL_ROWS:
            raise ValueError(f"rows: found {self.rows!r}; expected nothing (Settings has no rows)")
        if key is None and self.table != SETTINGS and self.rows != ALL_ROWS and split_conditions(self.rows) is None:
            raise ValueError(f"rows: found {self.rows!r}; expected * or a filter such as "
                             f"{next(iter(columns))}=... ({self.table} rows have no id)")
        if self.mode != "set" and column.kind not in NUMERIC_KINDS:
            raise ValueError(f"mode: found {self.mode}; expected set ({self.column} is not a number)")
        if self.kind == "probability" and self.rows == ALL_ROWS:
            raise ValueError("rows: found *; expected the scenarios to change (the others are renormalised)")
        label = self.label or ""
        if label in RESERVED_LABELS or label.startswith(("cost_usd[", "gpus_leased[")):
            raise ValueError(f"label: found {self.label!r}; expected a name that is not a column of the runs table")
        for value in self.values:
            if column.kind in NUMERIC_KINDS or self.mode != "set":
                if not isinstance(value, int | float):
                    raise ValueError(f"values: found {describe(value)}; expected numbers for {self.column}")
                if column.kind == "int" and self.mode == "set" and not float(value).is_integer():
                    raise ValueError(f"values: found {value:g}; expected whole numbers for {self.column}")
        return self

    # ---- names ---------------------------------------------------------------------------------
    @property
    def kind(self) -> Literal["setting", "probability", "demand", "column"]:
        """What the target changes: a Settings parameter, scenario probabilities (renormalised),
        demand (explicit rows or base level x growth), or plain table cells."""
        if self.table == SETTINGS:
            return "setting"
        if (self.table, self.column) == ("Scenarios", "probability"):
            return "probability"
        if (self.table, self.column) == ("Demand", "tokens_per_month"):
            return "demand"
        return "column"

    @property
    def address(self) -> str:
        """``Table[rows].column`` (``Settings.column`` for a parameter)."""
        if self.table == SETTINGS:
            return f"{SETTINGS}.{self.column}"
        return f"{self.table}[{self.rows}].{self.column}"

    @property
    def name(self) -> str:
        """The label, or the address with the mode: the target's column header in result tables."""
        return self.label or self.address + MODE_WORDS[self.mode]

    def where(self, field: str | None = None) -> str:
        """Where to point an error about ``field``: its cell, the target's location, or its address."""
        return (self.cells.get(field) if field else None) or self.location or self.address

    def vary_text(self) -> str:
        """The target in ``--vary`` form (values as a list)."""
        values = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in self.values)
        return f"{self.address}{OPERATOR_OF[self.mode]}{values}"

    def describe_change(self, value: Value) -> str:
        """One change in words: ``LeaseOffers[COL-H100-12].price_usd_per_gpu_hour = 2.4``."""
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        symbol = {"set": "=", "scale": "x", "add": "+"}[self.mode]
        return f"{self.address} {symbol} {shown}"

    # ---- constructors for scripts --------------------------------------------------------------
    @classmethod
    def setting(cls, parameter: str, values: Any, *, mode: Mode = "set", label: str | None = None) -> Target:
        """A Settings parameter, e.g. ``Target.setting("default_mfu", "0.11:0.4:7")``."""
        return cls(table=SETTINGS, column=parameter, mode=mode, values=values, label=label)

    @classmethod
    def probability(cls, scenario: str, values: Any, *, mode: Mode = "set", label: str | None = None) -> Target:
        """A scenario's probability; the other scenarios keep their ratios and share the rest."""
        return cls(table="Scenarios", rows=scenario, column="probability", mode=mode, values=values, label=label)

    @classmethod
    def demand(cls, values: Any, *, workload: str = ALL_ROWS, scenario: str = ALL_ROWS, mode: Mode = "scale",
               label: str | None = None) -> Target:
        """Demand of some workloads in some scenarios (``*`` = all), scaled by default."""
        conditions = [f"{name}={value}" for name, value in (("scenario", scenario), ("workload", workload))
                      if value != ALL_ROWS]
        return cls(table="Demand", rows=",".join(conditions) or ALL_ROWS, column="tokens_per_month", mode=mode,
                   values=values, label=label)


class Sweep(BaseModel):
    """A named sweep: targets varied one at a time (a tornado) or over their full grid (a heat map).

    ``one_at_a_time``: each target over its values with the others at base. ``grid``: every
    combination of the targets' values.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=80, description="Sweep name.")
    targets: list[Target] = Field(min_length=1, description="What to vary.")
    design: Design = Field("one_at_a_time", description="one_at_a_time (tornado) or grid (heat map).")
    location: str | None = Field(None, description="Where the sweep was written (for error messages).")
    cells: dict[str, str] = Field(default_factory=dict, repr=False,
                                  description="Cell of each field, e.g. {'design': 'Sweeps!B4'} (for error messages).")

    @model_validator(mode="after")
    def _grid_is_bounded(self) -> Sweep:
        names = [target.name for target in self.targets]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"targets: found {', '.join(duplicates)} twice; expected each target once "
                             "(give a label to vary the same cells in two ways)")
        if self.design == "grid":
            size = math.prod(len(target.values) for target in self.targets)
            if size > MAX_GRID_POINTS:
                raise ValueError(f"design: found a grid of {size:,} points; expected at most {MAX_GRID_POINTS:,}")
        return self

    @property
    def size(self) -> int:
        """Number of runs the sweep asks for (the shared base run not counted)."""
        if self.design == "grid":
            return math.prod(len(target.values) for target in self.targets)
        return sum(len(target.values) for target in self.targets)


def parse_vary(text: str, *, location: str | None = None, label: str | None = None) -> Target:
    """A ``--vary`` string as a :class:`Target`; raises :class:`InputError` naming the wrong part.

    Grammar: ``Table[rows].column OP values`` or ``Settings.parameter OP values`` (a bare
    ``parameter`` is a Settings parameter), OP one of ``=`` (set), ``*=`` (scale), ``+=`` (add),
    values ``start:stop:count`` or ``a,b,c``.
    """
    where = location or "--vary"
    match = _VARY.match(text or "")
    if not match or not match.group("values"):
        raise InputError([InputIssue(where, "vary", describe(text),
                                     "Table[rows].column=values, e.g. "
                                     "LeaseOffers[COL-H100-12].price_usd_per_gpu_hour=2.0:3.2:7 "
                                     "(*= scales, += adds)")])
    table = match.group("table") or SETTINGS
    if match.group("rows") is not None and table == SETTINGS:
        raise InputError([InputIssue(where, "rows", describe(match.group("rows")),
                                     "no rows for a Settings parameter (Settings.name=values)")])
    fields = {"table": table, "rows": match.group("rows"), "column": match.group("column"),
              "mode": OPERATORS[match.group("op")], "values": match.group("values"), "label": label,
              "location": location}
    try:
        return Target.model_validate(fields)
    except ValidationError as error:
        raise InputError(spec_issues(error, fields, where)) from None


def sweep_from_vary(texts: Sequence[str], *, name: str = "vary", design: Design = "one_at_a_time") -> Sweep:
    """One sweep from several ``--vary`` strings (located as ``--vary 1``, ``--vary 2``...)."""
    issues: list[InputIssue] = []
    targets = []
    for i, text in enumerate(texts, start=1):
        try:
            targets.append(parse_vary(text, location=f"--vary {i}" if len(texts) > 1 else "--vary"))
        except InputError as error:
            issues += error.issues
    if issues:
        raise InputError(issues)
    return build_sweep({"name": name, "targets": targets, "design": design})


def build_sweep(data: Mapping[str, Any] | Sweep) -> Sweep:
    """A :class:`Sweep` from a mapping (a sheet's rows, JSON, a script's dict); raises :class:`InputError`."""
    if isinstance(data, Sweep):
        return data
    try:
        return Sweep.model_validate(data)
    except ValidationError as error:
        where = str(data.get("location") or f"sweep {data.get('name')!r}")
        raise InputError(spec_issues(error, data, where)) from None


def sweeps_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Sweep]:
    """Sweeps from table rows, one target per row (the workbook's Sweeps sheet, a CSV, a DataFrame).

    Each row holds ``sweep`` (the name; rows with the same name are one sweep), ``design`` (on any
    row of the sweep), ``table``, ``rows``, ``column``, ``mode``, ``values`` and ``label``, and
    optionally ``location`` (the row, e.g. ``Sweeps!A5``) and ``cells`` (field -> cell) so that
    errors name the cell. Raises :class:`InputError` with every problem found.
    """
    grouped: dict[str, dict[str, Any]] = {}
    issues: list[InputIssue] = []
    target_fields = ("table", "rows", "column", "mode", "values", "label", "location", "cells")
    for row in rows:
        cells = dict(row.get("cells") or {})
        name = str(row.get("sweep") or "").strip()
        if not name:
            where = cells.get("sweep") or row.get("location") or "Sweeps"
            sheet, _, cell = str(where).partition("!")
            issues.append(InputIssue(sheet, "sweep", "empty", "a sweep name (rows with the same name form one sweep)",
                                     cell=cell or None))
            continue
        sweep = grouped.setdefault(name, {"name": name, "targets": [], "location": row.get("location"),
                                          "cells": {"name": cells.get("sweep")} if cells.get("sweep") else {}})
        design = str(row.get("design") or "").strip()
        if design:
            if "design" in sweep and sweep["design"] != design:
                sheet, _, cell = str(cells.get("design") or row.get("location") or "Sweeps").partition("!")
                issues.append(InputIssue(sheet, "design", describe(design),
                                         f"{sweep['design']} (the design of sweep {name!r} on an earlier row)",
                                         cell=cell or None))
            elif "design" not in sweep:
                sweep["design"] = design
                if cells.get("design"):
                    sweep["cells"]["design"] = cells["design"]
        sweep["targets"].append({key: row[key] for key in target_fields if row.get(key) not in (None, "")})
    sweeps = []
    for data in grouped.values():
        try:
            sweeps.append(build_sweep(data))
        except InputError as error:
            issues += error.issues
    if issues:
        raise InputError(issues)
    return sweeps


def as_sweeps(spec: Sweep | Target | str | Mapping[str, Any] | Iterable[Any]) -> list[Sweep]:
    """Normalise what ``planner.sweep`` accepts: a Sweep, a Target, a ``--vary`` string, a mapping,
    or a list of those (loose targets and strings form one one-at-a-time sweep named ``vary``)."""
    if isinstance(spec, Sweep | Target | str | Mapping):
        spec = [spec]
    sweeps: list[Sweep] = []
    loose: list[Target] = []
    issues: list[InputIssue] = []
    for item in spec:
        try:
            if isinstance(item, Target):
                loose.append(item)
            elif isinstance(item, str):
                loose.append(parse_vary(item))
            else:
                sweeps.append(build_sweep(item))
        except InputError as error:
            issues += error.issues
    if issues:
        raise InputError(issues)
    if loose:
        sweeps.append(build_sweep({"name": "vary", "targets": loose}))
    names = [sweep.name for sweep in sweeps]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError([InputIssue("Sweeps", "name", describe(name), "a unique sweep name") for name in repeated])
    if not sweeps:
        raise InputError([InputIssue("Sweeps", "name", "no sweeps", "at least one sweep with a target")])
    return sweeps


def spec_issues(error: ValidationError, raw: Mapping[str, Any], where: str) -> list[InputIssue]:
    """A pydantic error on a spec as located issues: ``Sweeps!C4 (values): found ...; expected ...``."""
    issues = []
    for detail in error.errors(include_url=False):
        loc = list(detail["loc"])
        place, item = where, raw
        if loc[:1] == ["targets"] and len(loc) > 1 and isinstance(loc[1], int):
            targets = raw.get("targets") or []
            target = targets[loc[1]] if loc[1] < len(targets) else {}
            location = target.get("location") if isinstance(target, Mapping) else getattr(target, "location", None)
            place = location or f"{where} target {loc[1] + 1}"
            item = target if isinstance(target, Mapping) else {}
            loc = loc[2:]
        message = str(detail["msg"]).removeprefix("Value error, ")
        column = str(loc[0]) if loc and isinstance(loc[0], str) else ""
        found = describe(item.get(column)) if column and isinstance(item, Mapping) else ""
        # Our own checks already say "column: found X; expected Y"; keep their words.
        own = re.match(r"^(\w+): found (.*); expected (.*)$", message, flags=re.S)
        if own:
            column, found, expected = own.groups()
        else:
            expected = message[0].lower() + message[1:] if message else message
            found = found or describe(detail.get("input"))
        cells = item.get("cells") if isinstance(item, Mapping) else None
        if isinstance(cells, Mapping) and cells.get(column):
            place = str(cells[column])
        sheet, _, cell = place.partition("!")
        issues.append(InputIssue(sheet, column, found, expected, cell=cell or None))
    return issues
