"""Targets against a problem: which cells they select, and a point's changes applied to the input.

A point's problem goes through the same validation as the input itself (each changed row through
its schema class, then ``Problem(**fields)`` for every cross-table rule), so a point that breaks the
input (a negative price, min_blocks above max_blocks, probabilities that no longer leave room for
the other scenarios) raises :class:`InputError` with the reason and is reported as an ``invalid`` run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from planner.columns import Column, column_map, table_classes, to_cell
from planner.errors import InputError, InputIssue, describe
from planner.schema import TABLE_FIELD, DemandRow, Problem, Record, Settings, parse_month
from planner.sweeps.spec import ALL_ROWS, NUMERIC_KINDS, SETTINGS, Sweep, Target, Value, split_conditions, table_key

Change = tuple[Target, Value]
"""One target at one value."""

DEMAND_FILTER_COLUMNS = ("scenario", "workload", "month")
MAX_REASON_ISSUES = 5


class SelectionError(ValueError):
    """A target's rows do not exist in the problem (an error in the sweep, not in a point)."""


def _rows(problem: Problem, table: str) -> list[Record]:
    return list(getattr(problem, TABLE_FIELD[table]))


def _row_name(table: str, index: int, row: Record) -> str:
    key = table_key(table)
    return f"{table}[{getattr(row, key)}]" if key else f"{table}[{index + 1}]"


def _matches(value: Any, wanted: list[str], column: Column) -> bool:
    """Does a cell equal one of the filter's texts? Numbers compare as numbers, months as months."""
    if isinstance(value, list):
        return any(_matches(item, wanted, column) for item in value)
    if column.kind in NUMERIC_KINDS:
        try:
            return value is not None and any(math.isclose(float(value), float(text)) for text in wanted)
        except ValueError:
            return False
    if column.kind == "month":
        try:
            return any(value == parse_month(text) for text in wanted)
        except ValueError:
            return False
    return str(to_cell(value)).strip().lower() in {text.lower() for text in wanted}


def select_rows(problem: Problem, target: Target) -> list[int]:
    """Indices of the rows ``target`` changes in its table; raises :class:`SelectionError`."""
    if target.table == SETTINGS:
        return []
    rows = _rows(problem, target.table)
    if target.rows == ALL_ROWS:
        return list(range(len(rows)))
    key = table_key(target.table)
    if key is not None:
        ids = [str(getattr(row, key)) for row in rows]
        if target.rows in ids:
            return [ids.index(target.rows)]
        listed = [part.strip() for part in target.rows.split(",")]
        if all(part in ids for part in listed):  # several ids: A, B, C
            return sorted({ids.index(part) for part in listed})
    conditions = split_conditions(target.rows)
    columns = column_map(table_classes()[target.table])
    if conditions is None or any(name not in columns for name, _, _ in conditions):
        if key is None:
            unknown = next((name for name, _, _ in conditions or [] if name not in columns), target.rows)
            known = ", ".join(name for name in columns if name != "notes")
            raise SelectionError(f"a filter on {target.table} columns ({known}); {unknown!r} is not one")
        shown = ", ".join(ids[:12]) + (", ..." if len(ids) > 12 else "")
        raise SelectionError(f"one of the {target.table} ids ({shown}), several separated by commas, * or a "
                             f"filter such as {next(iter(c for c in columns if c != key))}=...")
    chosen = [i for i, row in enumerate(rows)
              if all(_matches(getattr(row, name), values, columns[name]) == (op == "=")
                     for name, op, values in conditions)]
    if not chosen:
        raise SelectionError(f"a filter that matches {target.table} rows (none of the {len(rows)} match)")
    return chosen


def _demand_pairs(problem: Problem, target: Target) -> tuple[list[tuple[str, str]], list[str] | None]:
    """(scenario, workload) pairs and the months (None = all) a demand target changes."""
    pairs = [(s.name, w.name) for s in problem.scenarios for w in problem.workloads]
    months: list[str] | None = None
    if target.rows == ALL_ROWS:
        return pairs, months
    conditions = split_conditions(target.rows) or []
    if not conditions or any(name not in DEMAND_FILTER_COLUMNS for name, _, _ in conditions):
        raise SelectionError("a filter on scenario, workload and month, e.g. scenario=80x,workload=chat")
    columns = column_map(DemandRow)
    for name, op, values in conditions:
        if name == "month":
            try:
                wanted = {parse_month(text) for text in values}
            except ValueError as error:
                raise SelectionError(f"months as YYYY-MM in the filter ({error})") from None
            horizon = set(problem.month_labels)
            chosen = wanted & horizon if op == "=" else horizon - wanted
            months = sorted(chosen if months is None else set(months) & chosen)
        else:
            position = DEMAND_FILTER_COLUMNS.index(name)
            pairs = [pair for pair in pairs if _matches(pair[position], values, columns[name]) == (op == "=")]
    if not pairs or months == []:
        raise SelectionError("a filter that matches some demand (scenario, workload, month)")
    return pairs, months


def check_sweeps(problem: Problem, sweeps: Sequence[Sweep]) -> list[InputIssue]:
    """Every reference of the sweeps checked against ``problem`` (ids, filters, blank cells)."""
    issues = []
    for sweep in sweeps:
        for target in sweep.targets:

            def add(column: str, found: str, expected: str, target: Target = target) -> None:
                sheet, _, cell = target.where(column).partition("!")
                issues.append(InputIssue(sheet, column, found, expected, cell=cell or None))

            try:
                if target.kind == "demand":
                    _demand_pairs(problem, target)
                    continue
                chosen = select_rows(problem, target)
            except SelectionError as error:
                add("rows", describe(target.rows), str(error))
                continue
            if target.kind == "probability" and len(chosen) == len(problem.scenarios):
                add("rows", describe(target.rows), "some scenarios, not all (the others are renormalised)")
            if target.mode != "set":
                current = ([getattr(problem.settings, target.column)] if target.table == SETTINGS else
                           [getattr(_rows(problem, target.table)[i], target.column) for i in chosen])
                if all(value is None for value in current):
                    add("mode", target.mode, f"set ({target.address} is blank in the input: nothing to {target.mode})")
    return issues


def _changed(old: Any, mode: str, value: Value, column: Column) -> Any:
    if mode == "set":
        return value
    new = old * float(value) if mode == "scale" else old + float(value)
    return round(new) if column.kind == "int" else new


def _row_issues(error: ValidationError, where: str, cls: type[Any], values: dict[str, Any]) -> list[str]:
    columns = column_map(cls)
    texts = []
    for detail in error.errors(include_url=False):
        name = str(detail["loc"][0]) if detail["loc"] else ""
        expected = columns[name].expected if name in columns else str(detail["msg"])
        texts.append(f"{where} ({name}): found {describe(values.get(name))}; expected {expected}")
    return texts


def _issue_text(issue: InputIssue, problem: Problem) -> str:
    """A cross-table issue with the row named by its id where the table has one."""
    key = table_key(issue.sheet)
    if issue.row_index is not None and key is not None and issue.sheet in TABLE_FIELD:
        rows = _rows(problem, issue.sheet)
        if issue.row_index < len(rows):
            return f"{issue.sheet}[{getattr(rows[issue.row_index], key)}] ({issue.column}): found {issue.found}; " \
                   f"expected {issue.expected}"
    if issue.row_index is not None:
        return f"{issue.sheet}[{issue.row_index + 1}] ({issue.column}): found {issue.found}; expected {issue.expected}"
    return str(issue)


class PointError(ValueError):
    """A point's changes make the input invalid; ``reasons`` says how, cell by cell."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        shown = reasons[:MAX_REASON_ISSUES]
        more = len(reasons) - len(shown)
        super().__init__("; ".join(shown) + (f"; and {more} more" if more > 0 else ""))


def apply_changes(problem: Problem, changes: Sequence[Change]) -> Problem:
    """``problem`` with every change applied, fully validated; raises :class:`PointError`.

    Demand changes apply last, to the demand the other changes give (so a growth multiple and a
    demand scale compose).
    """
    fields: dict[str, Any] = {name: getattr(problem, name) for name in Problem.model_fields}
    reasons: list[str] = []
    ordered = sorted(changes, key=lambda change: change[0].kind == "demand")
    for target, value in ordered:
        try:
            if target.kind == "setting":
                reasons += _apply_setting(fields, target, value)
            elif target.kind == "probability":
                reasons += _apply_probability(problem, fields, target, value)
            elif target.kind == "demand":
                reasons += _apply_demand(Problem.model_construct(**fields), fields, target, value)
            else:
                reasons += _apply_column(problem, fields, target, value)
        except SelectionError as error:
            reasons.append(f"{target.address} (rows): expected {error}")
    if reasons:
        raise PointError(reasons)
    try:
        return Problem(**fields)
    except InputError as error:
        changed = Problem.model_construct(**fields)
        raise PointError([_issue_text(issue, changed) for issue in error.issues]) from None


def _apply_setting(fields: dict[str, Any], target: Target, value: Value) -> list[str]:
    settings: Settings = fields["settings"]
    column = column_map(Settings)[target.column]
    old = getattr(settings, target.column)
    if old is None and target.mode != "set":
        return [f"{target.address}: found empty; expected a value to {target.mode}"]
    data = {**settings.model_dump(), target.column: _changed(old, target.mode, value, column)}
    try:
        fields["settings"] = Settings.model_validate(data)
    except ValidationError as error:
        return _row_issues(error, SETTINGS, Settings, data)
    return []


def _apply_column(problem: Problem, fields: dict[str, Any], target: Target, value: Value) -> list[str]:
    cls = table_classes()[target.table]
    column = column_map(cls)[target.column]
    rows = list(fields[TABLE_FIELD[target.table]])
    reasons = []
    for i in select_rows(problem, target):
        old = getattr(rows[i], target.column)
        if old is None and target.mode != "set":
            continue  # a blank cell has nothing to scale or add to (e.g. mfu on a measured row)
        data = {**rows[i].model_dump(), target.column: _changed(old, target.mode, value, column)}
        try:
            rows[i] = cls.model_validate(data)
        except ValidationError as error:
            reasons += _row_issues(error, _row_name(target.table, i, rows[i]), cls, data)
    fields[TABLE_FIELD[target.table]] = rows
    return reasons


def _apply_probability(problem: Problem, fields: dict[str, Any], target: Target, value: Value) -> list[str]:
    """Set the chosen scenarios' probabilities; the others keep their ratios and share the rest."""
    scenarios = list(fields["scenarios"])
    chosen = set(select_rows(problem, target))
    column = column_map(table_classes()["Scenarios"])["probability"]
    new = {i: _changed(scenarios[i].probability, target.mode, value, column) for i in chosen}
    chosen_total = sum(new.values())
    others_total = sum(s.probability for i, s in enumerate(scenarios) if i not in chosen)
    names = ", ".join(scenarios[i].name for i in sorted(chosen))
    if not (0.0 < chosen_total < 1.0) or any(p <= 0 for p in new.values()):
        return [f"{target.address}: found {chosen_total:g} for {names}; expected a probability above 0 and "
                "below 1 (the other scenarios share the rest)"]
    factor = (1.0 - chosen_total) / others_total
    for i, scenario in enumerate(scenarios):
        probability = new[i] if i in chosen else scenario.probability * factor
        scenarios[i] = scenario.model_copy(update={"probability": probability})
    fields["scenarios"] = scenarios
    return []


def _apply_demand(current: Problem, fields: dict[str, Any], target: Target, value: Value) -> list[str]:
    """Change demand of the chosen (scenario, workload) pairs and months.

    A pair given as base level x growth is first written out as explicit Demand rows (the same
    numbers), which then override the base level for that pair alone.
    """
    pairs, months = _demand_pairs(current, target)
    chosen = set(pairs)
    column = column_map(DemandRow)["tokens_per_month"]
    demand = list(fields["demand"])
    explicit = {(row.scenario, row.workload) for row in demand}
    labels = current.month_labels
    for scenario, workload in pairs:
        if (scenario, workload) not in explicit:
            demand += [DemandRow(scenario=scenario, workload=workload, month=labels[t], tokens_per_month=tokens)
                       for t, tokens in enumerate(current.demand_tokens(scenario, workload))]
    wanted = None if months is None else set(months)
    reasons = []
    for i, row in enumerate(demand):
        if (row.scenario, row.workload) in chosen and (wanted is None or row.month in wanted):
            tokens = _changed(row.tokens_per_month, target.mode, value, column)
            if tokens < 0:
                reasons.append(f"Demand[{row.scenario}, {row.workload}, {row.month}] (tokens_per_month): "
                               f"found {tokens:g}; expected {column.expected}")
                break
            demand[i] = row.model_copy(update={"tokens_per_month": tokens})
    fields["demand"] = demand
    return reasons


def base_value(problem: Problem, target: Target) -> float | None:
    """The target's value at base in its own terms: 1 for scale, 0 for add, the input's value for
    set (None when the selected cells differ or are not numbers)."""
    if target.mode == "scale":
        return 1.0
    if target.mode == "add":
        return 0.0
    try:
        if target.table == SETTINGS:
            current = [getattr(problem.settings, target.column)]
        elif target.kind == "demand":
            pairs, months = _demand_pairs(problem, target)
            labels = problem.month_labels
            current = [tokens for s, w in pairs for t, tokens in enumerate(problem.demand_tokens(s, w))
                       if months is None or labels[t] in months]
        else:
            current = [getattr(_rows(problem, target.table)[i], target.column) for i in select_rows(problem, target)]
    except SelectionError:
        return None
    numbers = {float(v) for v in current if isinstance(v, int | float) and not isinstance(v, bool)}
    return numbers.pop() if len(numbers) == 1 and len(current) > 0 else None
