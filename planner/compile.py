"""The Pyomo model as arrays: what HiGHS reads, and the maps that bring its answers back by name.

:func:`compile_model` runs Pyomo's ``LinearStandardFormCompiler`` in mixed form (one row per
constraint, coefficients as written, no sign flips, ranged rows merged back into one) and keeps

* ``columns[j]``: the Pyomo variable of column ``j`` (every variable of the model has a column);
* ``rows[i]``: the constraint of row ``i`` (a constraint with no variable left has no row);
* every named ``Expression`` of the model as a row of a sparse matrix over the columns, read off the
  compiler's own cache of sub-expressions, so a result reads them as ``E @ x + c`` instead of walking
  each expression tree again.

Mutable parameters are compiled at their current values: after changing them, compile again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse
from pyomo.common.gc_manager import PauseGC
from pyomo.common.numeric_types import native_numeric_types
from pyomo.core.base.param import ParamData
from pyomo.core.expr.numeric_expr import NPV_NegationExpression, NPV_ProductExpression
from pyomo.repn.linear import LinearRepn, LinearRepnVisitor
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler, _LinearStandardFormCompiler_impl
from pyomo.repn.util import ExprType

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


class _Compiler(_LinearStandardFormCompiler_impl):
    """Pyomo's standard-form compiler, keeping its expression walker (and the walker's cache of every
    named sub-expression it met) for :func:`_compile_expressions`."""

    visitor: LinearRepnVisitor

    def _get_visitor(self, subexpression_cache: dict[int, Any], var_recorder: Any) -> LinearRepnVisitor:
        self.visitor = LinearRepnVisitor(subexpression_cache, var_recorder=var_recorder)
        self.visitor.evaluate = _fast_evaluator(self.visitor.evaluate)
        return self.visitor


def _fast_evaluator(evaluate: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The walker's evaluation of a fixed coefficient, without a tree walk for the shapes the model
    writes tens of thousands of times (a mutable parameter, its negation, a number times it); the same
    arithmetic in the same order, so the same floats. Anything else goes to Pyomo's ``evaluate``."""

    def value(node: Any) -> Any:
        cls = node.__class__
        if cls is ParamData:
            return node()
        if cls is NPV_NegationExpression:
            return -value(node._args_[0])
        if cls is NPV_ProductExpression:
            left, right = node._args_
            return value(left) * value(right)
        if cls in native_numeric_types:
            return node
        return evaluate(node)

    return value


def compile_model(model: pyo.ConcreteModel) -> CompiledModel:
    """Compile a built linear model to HiGHS arrays, keeping the column, row and expression maps.

    The compiler leaves out variables that appear nowhere, and fixed ones (folding their values into
    the row bounds); they are appended as empty columns (fixed ones with equal bounds), so every
    variable gets a value back from HiGHS. A maximisation objective is negated.
    """
    return _compile(model, keep_walker=False)[0]


def compile_with_walker(model: pyo.ConcreteModel) -> tuple[CompiledModel, LinearRepnVisitor]:
    """:func:`compile_model`, also returning the expression walker with its cache of every named
    sub-expression (what :mod:`planner.recompile` needs to recompile only part of the model)."""
    compiled, walker = _compile(model, keep_walker=True)
    assert walker is not None
    return compiled, walker


def _compile(model: pyo.ConcreteModel, *, keep_walker: bool) -> tuple[CompiledModel, LinearRepnVisitor | None]:
    compiler = _Compiler(LinearStandardFormCompiler.CONFIG({"mixed_form": True, "set_sense": pyo.minimize}))
    with PauseGC():
        info = compiler.write(model)
        if len(info.objectives) != 1:
            raise ValueError(f"expected one active objective, found {len(info.objectives)}")
        matrix, rows, row_lower, row_upper = _merged_rows(info)
        columns = list(info.columns)
        cost = info.c.toarray().ravel() if info.c.shape[0] else np.zeros(len(columns))
        offset = float(info.c_offset[0]) if len(info.c_offset) else 0.0
        missing = _missing_variables(model, columns)
        if missing:
            columns += missing
            cost = np.r_[cost, np.zeros(len(missing))]
            indptr = np.r_[matrix.indptr, np.full(len(missing), matrix.indptr[-1])]
            matrix = scipy.sparse.csc_array((matrix.data, matrix.indices, indptr),
                                            shape=(matrix.shape[0], len(columns)))
        expressions = _compile_expressions(compiler.visitor, model, {id(v): j for j, v in enumerate(columns)})
    walker = compiler.visitor if keep_walker else None
    del compiler, info
    _release_garbage()
    col_lower, col_upper, integer = column_bounds(columns)
    compiled = CompiledModel(columns=columns, rows=rows, matrix=matrix, cost=cost, offset=offset,
                             col_lower=col_lower, col_upper=col_upper, integer=integer, row_lower=row_lower,
                             row_upper=row_upper, expressions=expressions)
    return compiled, walker


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
    """Free the compiler's cyclic garbage (it runs with the collector paused) and hand the freed heap
    back to the operating system, so that HiGHS's copy of the model and its search do not stack on top
    of it (about 90 MB on the XL benchmark, for 0.4 s)."""
    gc.collect(1)
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _merged_rows(info: Any) -> tuple[scipy.sparse.csc_array, list[Any], np.ndarray, np.ndarray]:
    """(matrix, constraints, lower, upper) with one row per constraint: in mixed form a ranged
    constraint comes as two rows (upper, then lower) with the same coefficients."""
    matrix = info.A
    rows = [entry.constraint for entry in info.rows]
    signs = np.fromiter((entry.bound_type for entry in info.rows), dtype=np.int8, count=len(rows))
    rhs = np.asarray(info.rhs, dtype=float)
    row_lower = np.where(signs <= 0, rhs, -INF)
    row_upper = np.where(signs >= 0, rhs, INF)
    second = [i for i in range(1, len(rows)) if rows[i] is rows[i - 1]]
    if second:
        row_lower[np.array(second) - 1] = row_lower[second]
        keep = np.ones(len(rows), dtype=bool)
        keep[second] = False
        matrix = scipy.sparse.csc_array(matrix.tocsr()[keep])
        rows = [c for c, k in zip(rows, keep, strict=True) if k]
        row_lower, row_upper = row_lower[keep], row_upper[keep]
    return matrix, rows, row_lower, row_upper


def _compile_expressions(visitor: LinearRepnVisitor, model: pyo.ConcreteModel,
                         column_of_id: dict[int, int]) -> CompiledExpressions:
    """Every named Expression of ``model`` as a sparse row; those the constraints and the objective use
    come straight from the walker's cache."""
    indices: list[int] = []
    data: list[float] = []
    indptr = [0]
    constant: list[float] = []
    first_row: dict[str, tuple[list[Any], int]] = {}
    cache = visitor.subexpression_cache
    for component in model.component_objects(pyo.Expression, active=True, descend_into=True):
        keys = []
        first_row[component.name] = (keys, len(constant))
        for key, expression in component.items():
            linear, offset = _cached_linear(cache.get(id(expression)))
            if linear is None:
                repn = visitor.walk_expression(expression)
                if repn.nonlinear is not None:
                    raise ValueError(f"{expression.name} is not linear")
                linear, offset = repn.linear, repn.constant
            keys.append(key)
            indices.extend(column_of_id[vid] for vid in linear)
            data.extend(linear.values())
            indptr.append(len(indices))
            constant.append(float(offset))
    matrix = scipy.sparse.csr_array(
        (np.asarray(data, dtype=float), np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
        shape=(len(constant), len(column_of_id)))
    matrix.sum_duplicates()
    return CompiledExpressions(matrix=matrix, constant=np.asarray(constant), first_row=first_row)


def _cached_linear(cached: tuple[ExprType, Any] | None) -> tuple[dict[int, Any] | None, Any]:
    """(linear terms, constant) of a named Expression straight from the walker's cache, as walking it
    again would give them (zero coefficients dropped); (None, None) when it must be walked: not
    cached, or cached with a pending multiplier or a nonlinear part."""
    if cached is None:
        return None, None
    kind, repn = cached
    if kind is ExprType.CONSTANT:
        return {}, repn
    if repn.__class__ is not LinearRepn or repn.nonlinear is not None or repn.multiplier != 1:
        return None, None
    return {vid: coef for vid, coef in repn.linear.items() if coef}, repn.constant


def _missing_variables(model: pyo.ConcreteModel, columns: list[Any]) -> list[Any]:
    """The model's variables the compiler left out (unused or fixed), in model order."""
    total = sum(len(var) for var in model.component_objects(pyo.Var, active=True, descend_into=True))
    if total == len(columns):
        return []
    present = {id(v) for v in columns}
    return [v for v in model.component_data_objects(pyo.Var, active=True, descend_into=True)
            if id(v) not in present]


def column_bounds(columns: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, integer) of the columns; a fixed variable's bounds are its value."""
    n = len(columns)
    lower, upper = np.empty(n), np.empty(n)
    integer = np.zeros(n, dtype=bool)
    integral_domain: dict[int, bool] = {}
    for j, var in enumerate(columns):
        if var.fixed:
            lower[j] = upper[j] = var.value
        else:
            lo, hi = var.bounds
            lower[j] = -INF if lo is None else lo
            upper[j] = INF if hi is None else hi
        domain = var.domain
        known = integral_domain.get(id(domain))
        if known is None:
            known = integral_domain[id(domain)] = var.is_integer()
        integer[j] = known
    return lower, upper, integer


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
