"""The Pyomo model as arrays: what HiGHS reads, and the maps that bring its answers back by name.

:func:`compile_model` reads every row off the model with :class:`~planner.linear_form.LinearWalker`
(the arrays Pyomo's ``LinearStandardFormCompiler`` writes in mixed form, entry for entry: one row per
constraint, coefficients as written, no sign flips) and keeps

* ``columns[j]``: the Pyomo variable of column ``j`` (every variable of the model has a column);
* ``rows[i]``: the constraint of row ``i`` (a constraint with no variable left has no row);
* every named ``Expression`` of the model (or those asked for) as a row of a sparse matrix over the
  columns, read off the walker's cache of named Expressions, so a result reads them as ``E @ x + c``
  instead of walking each expression tree again.

Mutable parameters are compiled at their current values: after changing them, compile again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse
from pyomo.common.errors import InfeasibleConstraintException
from pyomo.common.gc_manager import PauseGC
from pyomo.core.base.set import SortComponents

from planner.linear_form import Coefficients, LinearWalker

INF = highspy.kHighsInf
SUSPECT_MAGNITUDE = 1e10
"""A finite coefficient, cost or bound this large (in model units: kGPU, Ttok, MUSD, MW) is no honest
input: HiGHS's tolerances (1e-7 relative) cannot be met reliably around it."""
SUSPECT_MATRIX_RANGE = 1e10
"""Largest / smallest absolute matrix coefficient beyond which HiGHS's verdicts cannot be trusted."""


@dataclass
class CompiledExpressions:
    """Named Expressions as rows of ``matrix`` (over the columns) plus ``constant``; ``first_row`` gives
    each component's keys and its first row."""

    matrix: scipy.sparse.csr_array
    constant: np.ndarray
    first_row: dict[str, tuple[list[Any], int]]

    def values(self, component: Any, x: np.ndarray) -> dict[Any, float]:
        """Index -> value of a compiled Expression component at the solution ``x``."""
        keys, start = self.first_row[component.name]
        stop = start + len(keys)
        values = self.matrix[start:stop] @ x + self.constant[start:stop]
        return dict(zip(keys, values.tolist(), strict=True))


@dataclass
class CompiledModel:
    """A Pyomo model as HiGHS arrays: ``min cost @ x + offset`` s.t. ``row_lower <= A x <= row_upper``,
    ``col_lower <= x <= col_upper``, ``x[j]`` integer where ``integer[j]`` (see the module docstring)."""

    columns: list[Any]
    rows: list[Any]
    matrix: scipy.sparse.csc_array
    cost: np.ndarray
    offset: float
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    expressions: CompiledExpressions

    @property
    def num_columns(self) -> int:
        return len(self.columns)

    @property
    def num_rows(self) -> int:
        return len(self.rows)

    @property
    def num_integer(self) -> int:
        return int(self.integer.sum())

    # The maps are scans, not stored dicts: on the largest models a dict per column costs tens of MB,
    # held while HiGHS needs the memory most.
    def columns_of(self, variables: list[Any]) -> np.ndarray:
        """Column indices of Pyomo variables, in the order given."""
        return np.array(_positions(self.columns, variables), dtype=np.int64)

    def column_of(self, var: Any) -> int:
        """Column index of a Pyomo variable."""
        return int(self.columns_of([var])[0])

    def rows_of(self, constraints: list[Any]) -> list[int | None]:
        """Row indices of Pyomo constraints, in the order given (None for one without a row: no
        variable left in it)."""
        return _positions(self.rows, constraints, missing_ok=True)

    def row_of(self, con: Any) -> int | None:
        """Row index of a Pyomo constraint (None when it has no row)."""
        return self.rows_of([con])[0]

    def linear_values(self, expression: Any) -> np.ndarray:
        """Coefficient vector over the columns of a compiled scalar Expression (its constant dropped)."""
        keys, start = self.expressions.first_row[expression.name]
        assert len(keys) == 1, f"{expression.name} is not a scalar Expression"
        return self.expressions.matrix[[start]].toarray().ravel()

    def holds(self, component: Any) -> bool:
        """Whether :meth:`values` can read ``component`` (the objective, or a compiled Expression)."""
        return component.ctype is pyo.Objective or component.name in self.expressions.first_row

    def values(self, component: Any, x: np.ndarray) -> dict[Any, float]:
        """Index -> value at the solution ``x`` of a named Expression or of the objective."""
        if component.ctype is pyo.Objective:
            return {index: float(self.cost @ x + self.offset) for index in component}
        return self.expressions.values(component, x)

    def numerics_concern(self) -> str | None:
        """Why HiGHS's verdict on this model may not be trusted (magnitudes out of range), or None."""
        concerns = []
        values = np.abs(self.matrix.data[self.matrix.data != 0])
        if values.size:
            low, high = float(values.min()), float(values.max())
            if high >= SUSPECT_MAGNITUDE or high / low >= SUSPECT_MATRIX_RANGE:
                concerns.append(f"matrix coefficients span {low:.3g} to {high:.3g}")
        for name, array in (("costs", self.cost), ("column bounds", np.r_[self.col_lower, self.col_upper]),
                            ("row bounds", np.r_[self.row_lower, self.row_upper])):
            finite = np.abs(array[np.isfinite(array) & (np.abs(array) < INF)])
            if finite.size and float(finite.max()) >= SUSPECT_MAGNITUDE:
                concerns.append(f"{name} reach {float(finite.max()):.3g}")
        if not concerns:
            return None
        return ("; ".join(concerns) + " (model units: kGPU, Ttok, MUSD, MW): inputs of absurd magnitude, "
                "such as demand or prices many orders above the rest")


def compile_model(model: pyo.ConcreteModel, *, expressions: Iterable[Any] | None = None) -> CompiledModel:
    """Compile a built linear model to HiGHS arrays, keeping the column, row and expression maps.

    ``expressions``: the named Expression components to compile for reading values (default: all).

    Columns come in Pyomo's standard-form order (see :mod:`planner.linear_form`); a variable that
    appears in no row and not in the objective is appended as an empty column, so every variable gets
    a value back from HiGHS. A constraint with no variable left has no row (if its numbers hold; else
    :class:`~pyomo.common.errors.InfeasibleConstraintException`). A maximisation objective is negated.
    """
    compiled = _compiled(model, expressions)[0]  # the walker and its cache are freed here, before the trim
    _release_garbage()
    return compiled


def compile_with_walker(model: pyo.ConcreteModel, *, expressions: Iterable[Any] | None = None
                        ) -> tuple[CompiledModel, LinearWalker]:
    """:func:`compile_model`, also returning the walker with its cache of every named Expression's
    form (what :mod:`planner.recompile` needs to recompile only part of the model)."""
    compiled, walker = _compiled(model, expressions)
    _release_garbage()
    return compiled, walker


def _compiled(model: pyo.ConcreteModel, expressions: Iterable[Any] | None) -> tuple[CompiledModel, LinearWalker]:
    walker = LinearWalker()
    with PauseGC():
        objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True,
                                                       sort=SortComponents.ORDERED_INDICES))
        if len(objectives) != 1:
            raise ValueError(f"expected one active objective, found {len(objectives)}")
        objective = objectives[0]
        objective_coefficients, offset = walker.linear(objective.expr)
        rows, row_lower, row_upper, matrix = _constraint_rows(model, walker)
        objective_values = coefficient_values(objective_coefficients)
        if objective.sense == pyo.maximize:
            objective_values, offset = -objective_values, -offset
        cost = np.zeros(len(walker.columns))
        cost[coefficient_columns(objective_coefficients)] = objective_values
        used = (np.diff(matrix.indptr) > 0) | (cost != 0)
        columns = [var for var, keep in zip(walker.columns, used.tolist(), strict=True) if keep]
        matrix = scipy.sparse.csc_array((matrix.data, matrix.indices, matrix.indptr[np.r_[used, True]]),
                                        shape=(len(rows), len(columns)))
        cost = cost[used]
        missing = _missing_variables(model, columns)
        if missing:
            columns += missing
            cost = np.r_[cost, np.zeros(len(missing))]
            indptr = np.r_[matrix.indptr, np.full(len(missing), matrix.indptr[-1])]
            matrix = scipy.sparse.csc_array((matrix.data, matrix.indices, indptr),
                                            shape=(matrix.shape[0], len(columns)))
        if expressions is None:
            expressions = model.component_objects(pyo.Expression, active=True, descend_into=True)
        compiled_expressions = _compile_expressions(walker, expressions, columns, used)
    col_lower, col_upper, integer = column_bounds(columns)
    compiled = CompiledModel(columns=columns, rows=rows, matrix=matrix, cost=cost, offset=float(offset),
                             col_lower=col_lower, col_upper=col_upper, integer=integer, row_lower=row_lower,
                             row_upper=row_upper, expressions=compiled_expressions)
    return compiled, walker


def coefficient_columns(coefficients: Coefficients) -> np.ndarray:
    """The walker columns that ``coefficients`` are keyed by, in order."""
    return np.fromiter(coefficients, dtype=np.int64, count=len(coefficients))


def coefficient_values(coefficients: Coefficients) -> np.ndarray:
    """The coefficients' values, in the order of :func:`coefficient_columns`."""
    return np.fromiter(coefficients.values(), dtype=float, count=len(coefficients))


def walker_columns_to_compiled(walker: LinearWalker, columns: list[Any], *,
                               used: np.ndarray | None = None) -> np.ndarray:
    """Walker column -> position in ``columns`` (-1 where a walker column is not there). ``used``: a
    mask over the walker's first columns whose True entries are the first of ``columns``, in order
    (as the compile lays them out), mapped without a lookup each."""
    compiled_column = np.full(len(walker.columns), -1, dtype=np.int64)
    known = 0
    if used is not None:
        known = int(used.sum())
        compiled_column[np.flatnonzero(used)] = np.arange(known)
    column_of = walker.column_of
    for j in range(known, len(columns)):
        position = column_of.get(id(columns[j]))
        if position is not None:
            compiled_column[position] = j
    return compiled_column


def _active_data(model: pyo.ConcreteModel, ctype: Any) -> Iterator[Any]:
    """The active data of every active ``ctype`` component, components in declaration order, each
    component's data in the order they were built (its index order): read off the component's own
    dict, without the per-index lookups of Pyomo's sorted iteration (a tenth of the time)."""
    for component in model.component_objects(ctype, active=True, descend_into=True):
        for data in component._data.values():
            if data.active:
                yield data


def _constraint_rows(model: pyo.ConcreteModel, walker: LinearWalker
                     ) -> tuple[list[Any], np.ndarray, np.ndarray, scipy.sparse.csc_array]:
    """(constraints, lower, upper, matrix over the walker's columns): one row per active constraint
    with a variable and a bound, in model order."""
    rows: list[Any] = []
    lower: list[float] = []
    upper: list[float] = []
    columns: list[int] = []
    data: list[Any] = []
    indptr = [0]
    row = walker.row
    for con in _active_data(model, pyo.Constraint):
        lb, coefficients, constant, ub = row(con)
        if lb is None and ub is None:
            continue
        if not coefficients:
            if (lb is None or lb <= constant) and (ub is None or ub >= constant):
                continue
            raise InfeasibleConstraintException(f"model contains a trivially infeasible constraint, '{con.name}'")
        rows.append(con)
        lower.append(-INF if lb is None else lb - constant)
        upper.append(INF if ub is None else ub - constant)
        columns.extend(coefficients)
        data.extend(coefficients.values())
        indptr.append(len(data))
    matrix = scipy.sparse.csr_array(
        (np.asarray(data, dtype=float), np.asarray(columns, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
        shape=(len(rows), len(walker.columns))).tocsc()
    return rows, np.asarray(lower, dtype=float), np.asarray(upper, dtype=float), matrix


def _positions(items: list[Any], wanted: list[Any], *, missing_ok: bool = False) -> list[Any]:
    """Positions in ``items`` of the objects ``wanted`` (by identity), in the order of ``wanted``."""
    ids = {id(w) for w in wanted}
    found = {id(item): i for i, item in enumerate(items) if id(item) in ids}
    if missing_ok:
        return [found.get(id(w)) for w in wanted]
    return [found[id(w)] for w in wanted]


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def _release_garbage() -> None:
    """Free any cyclic garbage of the compile (it runs with the collector paused) and hand the freed
    heap back to the operating system, so that HiGHS's copy of the model and its search do not stack
    on top of it."""
    gc.collect(1)
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _compile_expressions(walker: LinearWalker, components: Iterable[Any], columns: list[Any],
                         used: np.ndarray) -> CompiledExpressions:
    """The named Expressions of ``components`` as sparse rows over ``columns`` (laid out from the
    walker's ``used`` columns, see :func:`walker_columns_to_compiled`); those the constraints and the
    objective use come straight from the walker's cache."""
    positions: list[int] = []
    data: list[float] = []
    indptr = [0]
    constant: list[float] = []
    first_row: dict[str, tuple[list[Any], int]] = {}
    linear = walker.linear
    for component in components:
        keys = []
        first_row[component.name] = (keys, len(constant))
        for key, expression in component._data.items():  # index order, as built
            coefficients, offset = linear(expression)
            keys.append(key)
            positions.extend(coefficients)
            data.extend(coefficients.values())
            indptr.append(len(data))
            constant.append(float(offset))
    # Mapped only now: an Expression may meet a variable no row has, and the walker gives it a column.
    walker_positions = np.asarray(positions, dtype=np.int64)
    indices = walker_columns_to_compiled(walker, columns, used=used)[walker_positions]
    if (indices < 0).any():
        outside = walker.columns[int(walker_positions[np.flatnonzero(indices < 0)[0]])]
        raise ValueError(f"a named Expression uses {outside.name}, which is not an active variable of the model")
    matrix = scipy.sparse.csr_array(
        (np.asarray(data, dtype=float), indices, np.asarray(indptr, dtype=np.int64)),
        shape=(len(constant), len(columns)))
    matrix.sum_duplicates()
    return CompiledExpressions(matrix=matrix, constant=np.asarray(constant), first_row=first_row)


def _missing_variables(model: pyo.ConcreteModel, columns: list[Any]) -> list[Any]:
    """The model's variables the compiler left out (unused or fixed), in model order."""
    total = sum(len(var) for var in model.component_objects(pyo.Var, active=True, descend_into=True))
    if total == len(columns):
        return []
    present = {id(v) for v in columns}
    return [v for v in model.component_data_objects(pyo.Var, active=True, descend_into=True)
            if id(v) not in present]


def column_bounds(columns: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, integer) of the columns; a fixed variable's bounds are its value.

    A variable with no bound of its own takes its domain's, looked up once per domain (most of the
    model's variables: Pyomo's ``Var.bounds`` resolves the domain afresh for each); any other asks
    Pyomo."""
    lower: list[Any] = []
    upper: list[Any] = []
    integer: list[bool] = []
    by_domain: dict[int, tuple[float, float, bool]] = {}
    for var in columns:
        domain = var._domain
        known = by_domain.get(id(domain))
        if known is None:
            low, high = domain.bounds()
            known = by_domain[id(domain)] = (-INF if low is None else low, INF if high is None else high,
                                             var.is_integer())
        integer.append(known[2])
        if var._fixed:
            if var.value is None:
                raise ValueError(f"variable {var.name} is fixed without a value")
            lower.append(var.value)
            upper.append(var.value)
        elif var._lb is None and var._ub is None:
            lower.append(known[0])
            upper.append(known[1])
        else:
            low, high = var.bounds
            lower.append(-INF if low is None else low)
            upper.append(INF if high is None else high)
    return np.asarray(lower, dtype=float), np.asarray(upper, dtype=float), np.asarray(integer, dtype=bool)


def load_values(columns: list[Any], values: np.ndarray) -> None:
    """Write a HiGHS solution into the Pyomo variables of its columns."""
    for var, value in zip(columns, values.tolist(), strict=True):
        var.set_value(value, skip_validation=True)


def in_column_order(compiled: CompiledModel, order: np.ndarray) -> CompiledModel:
    """``compiled`` with its columns moved to positions ``order`` (column j goes to order[j])."""
    if np.array_equal(order, np.arange(order.size)):
        return compiled
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    expressions = compiled.expressions
    return CompiledModel(
        columns=[compiled.columns[k] for k in inverse.tolist()], rows=compiled.rows,
        matrix=scipy.sparse.csc_array(compiled.matrix[:, inverse]), cost=compiled.cost[inverse],
        offset=compiled.offset, col_lower=compiled.col_lower[inverse], col_upper=compiled.col_upper[inverse],
        integer=compiled.integer[inverse], row_lower=compiled.row_lower, row_upper=compiled.row_upper,
        expressions=CompiledExpressions(matrix=scipy.sparse.csr_array(expressions.matrix[:, inverse]),
                                        constant=expressions.constant, first_row=expressions.first_row),
    )
