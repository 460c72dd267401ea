"""Recompiling after new parameter values: only the rows, costs and expressions they reach.

A whole compile walks every expression of the model again when one mutable parameter moves (most of
an in-place update's time). :class:`Recompiler` keeps the compile's
:class:`~planner.linear_form.LinearWalker` (with its cache of every named Expression's form) and,
once, a map from each mutable parameter to what uses it: constraints, the objective and named
Expressions, through any depth of named Expressions. After new values are loaded it drops the cached
forms those values reach and walks only the constraints, objective and Expressions that use them, with
the same walker, so each row comes out as the whole compile would write it.

Anything the rows cannot absorb in place (a row that loses its last variable or one that gains its
first, a nonlinear term, a variable the compile never saw) returns None: the caller compiles the whole
model again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyomo.environ as pyo
import scipy.sparse
from pyomo.common.numeric_types import native_types

from planner.compile import (
    INF,
    CompiledExpressions,
    CompiledModel,
    coefficient_columns,
    coefficient_values,
    column_bounds,
    walker_columns_to_compiled,
)
from planner.linear_form import Coefficients, LinearWalker, NonlinearExpressionError


class Recompiler:
    """What one compiled model needs to be brought up to date with new parameter values.

    ``compiled`` is the model as HiGHS holds it (its column order), ``walker`` the walker that compiled
    it (see :func:`planner.compile.compile_with_walker`).
    """

    def __init__(self, model: pyo.ConcreteModel, compiled: CompiledModel, walker: LinearWalker) -> None:
        self.model = model
        self.compiled = compiled
        self.walker = walker
        self.params = [p for param in model.component_objects(pyo.Param, descend_into=True) if param.mutable
                       for p in param.values()]
        self.values = _values(self.params)
        self.users = _users(model)
        """id(parameter or named Expression) -> the constraints, objectives and named Expressions that
        use it directly."""
        self.row_of = {id(con): i for i, con in enumerate(compiled.rows)}
        self.compiled_column = walker_columns_to_compiled(walker, compiled.columns)
        """Walker column -> column of ``compiled`` (-1 where it has none)."""
        self.expression_row_of = _expression_rows(model, compiled.expressions)
        # A parameter in a variable's bounds moves column bounds: then they are read again on every change.
        self.bounds_use_parameters = any(
            bound.__class__ not in native_types and _direct_references(bound)
            for var in compiled.columns for bound in (var.lower, var.upper))

    def recompile(self) -> CompiledModel | None:
        """The compiled model at the parameters' current values (``compiled`` itself when none moved);
        None when the change needs the whole model compiled again."""
        values = _values(self.params)
        moved = np.flatnonzero(values != self.values)
        if not moved.size:
            return self.compiled
        constraints, objectives, expressions = self._reached([self.params[i] for i in moved.tolist()])
        cache = self.walker.cache
        for expression in expressions:
            cache.pop(id(expression), None)
        compiled = self._rewritten(constraints, objectives, expressions)
        if compiled is None:
            return None
        self.values = values
        self.compiled = compiled
        return compiled

    def _reached(self, params: Iterable[Any]) -> tuple[list[Any], list[Any], list[Any]]:
        """(constraints, objectives, named Expressions) that use ``params``, directly or through
        named Expressions."""
        seen: set[int] = set()
        constraints: list[Any] = []
        objectives: list[Any] = []
        expressions: list[Any] = []
        stack = [id(p) for p in params]
        while stack:
            for user in self.users.get(stack.pop(), ()):
                if id(user) in seen:
                    continue
                seen.add(id(user))
                ctype = user.ctype
                if ctype is pyo.Constraint:
                    constraints.append(user)
                elif ctype is pyo.Objective:
                    objectives.append(user)
                else:
                    expressions.append(user)
                    stack.append(id(user))
        return constraints, objectives, expressions

    def _linear(self, expression: Any) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(columns, coefficients, constant) of a linear expression; None if it is not linear or uses a
        variable without a column."""
        try:
            coefficients, constant = self.walker.linear(expression)
        except NonlinearExpressionError:
            return None
        return self._arrays(coefficients, constant)

    def _arrays(self, coefficients: Coefficients, constant: Any) -> tuple[np.ndarray, np.ndarray, float] | None:
        positions = coefficient_columns(coefficients)
        if positions.size and positions.max() >= self.compiled_column.size:
            return None  # a variable component the compile never met
        columns = self.compiled_column[positions]
        if (columns < 0).any():
            return None
        return columns, coefficient_values(coefficients), float(constant)

    def _rewritten(self, constraints: list[Any], objectives: list[Any],
                   expressions: list[Any]) -> CompiledModel | None:
        old = self.compiled
        row_lower, row_upper = old.row_lower.copy(), old.row_upper.copy()
        rows: list[int] = []
        entries: list[tuple[np.ndarray, np.ndarray]] = []
        for con in constraints:
            row = self.row_of.get(id(con))
            if row is None or not con.active:
                return None  # a constraint that had no row: it may need one now
            try:
                lb, coefficients, constant, ub = self.walker.row(con)
            except NonlinearExpressionError:
                return None
            linear = self._arrays(coefficients, constant)
            if linear is None or not linear[0].size or (lb is None and ub is None):
                return None  # no variable left: the full compiler drops the row
            columns, coefficients, constant = linear
            row_lower[row] = -INF if lb is None else lb - constant
            row_upper[row] = INF if ub is None else ub - constant
            rows.append(row)
            entries.append((columns, coefficients))
        matrix = _with_rows(old.matrix, rows, entries, csc=True) if rows else old.matrix
        cost, offset = old.cost, old.offset
        for objective in objectives:
            linear = self._linear(objective.expr)
            if linear is None:
                return None
            columns, coefficients, offset = linear
            sign = -1.0 if objective.sense == pyo.maximize else 1.0
            cost = np.zeros(old.num_columns)
            np.add.at(cost, columns, sign * coefficients)
            offset *= sign
        compiled_expressions = self._expressions(expressions)
        if compiled_expressions is None:
            return None
        col_lower, col_upper = old.col_lower, old.col_upper
        if self.bounds_use_parameters:
            col_lower, col_upper, _ = column_bounds(old.columns)
        return CompiledModel(columns=old.columns, rows=old.rows, matrix=matrix, cost=cost, offset=offset,
                             col_lower=col_lower, col_upper=col_upper, integer=old.integer,
                             row_lower=row_lower, row_upper=row_upper, expressions=compiled_expressions)

    def _expressions(self, expressions: list[Any]) -> CompiledExpressions | None:
        old = self.compiled.expressions
        rows: list[int] = []
        entries: list[tuple[np.ndarray, np.ndarray]] = []
        constant = old.constant
        for expression in expressions:
            row = self.expression_row_of.get(id(expression))
            if row is None:
                continue  # an Expression the results never read (inactive block)
            linear = self._linear(expression)
            if linear is None:
                return None
            if not rows:
                constant = constant.copy()
            rows.append(row)
            entries.append(linear[:2])
            constant[row] = linear[2]
        if not rows:
            return old
        return CompiledExpressions(matrix=_with_rows(old.matrix, rows, entries, csc=False), constant=constant,
                                   first_row=old.first_row)


def _values(params: list[Any]) -> np.ndarray:
    return np.array([p.value for p in params], dtype=float)


def _with_rows(matrix: Any, rows: list[int], entries: list[tuple[np.ndarray, np.ndarray]], *, csc: bool) -> Any:
    """``matrix`` with the given rows replaced by (columns, coefficients) entries."""
    coo = matrix.tocoo()
    replaced = np.zeros(matrix.shape[0], dtype=bool)
    replaced[rows] = True
    keep = ~replaced[coo.row]
    counts = [len(columns) for columns, _ in entries]
    new_rows = np.repeat(np.asarray(rows, dtype=np.int64), counts)
    new_columns = np.concatenate([columns for columns, _ in entries])
    new_values = np.concatenate([values for _, values in entries])
    data = (np.r_[coo.data[keep], new_values], (np.r_[coo.row[keep], new_rows], np.r_[coo.col[keep], new_columns]))
    if csc:
        result: Any = scipy.sparse.csc_array(data, shape=matrix.shape)
    else:
        result = scipy.sparse.csr_array(data, shape=matrix.shape)
    result.sum_duplicates()
    return result


def _expression_rows(model: pyo.ConcreteModel, expressions: CompiledExpressions) -> dict[int, int]:
    """id(named Expression data) -> its row in the compiled Expressions."""
    rows: dict[int, int] = {}
    for name, (keys, start) in expressions.first_row.items():
        component = model.find_component(name)
        for offset, key in enumerate(keys):
            rows[id(component[key])] = start + offset
    return rows


def _users(model: pyo.ConcreteModel) -> dict[int, list[Any]]:
    """id(mutable parameter or named Expression) -> the components that use it directly."""
    users: dict[int, list[Any]] = {}
    owners: list[tuple[Any, Any]] = []
    owners.extend((e, e.expr) for e in model.component_data_objects(pyo.Expression, descend_into=True))
    owners.extend((c, c.expr) for c in model.component_data_objects(pyo.Constraint, active=True, descend_into=True))
    owners.extend((o, o.expr) for o in model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    for owner, expression in owners:
        for used in _direct_references(expression):
            users.setdefault(used, []).append(owner)
    return users


def _direct_references(expression: Any) -> set[int]:
    """ids of the mutable parameters and named Expressions in ``expression`` (not looking inside the
    named Expressions)."""
    found: set[int] = set()
    stack = [expression]
    while stack:
        node = stack.pop()
        if node.__class__ in native_types or node is None:
            continue
        if node.is_named_expression_type() or node.is_parameter_type():
            found.add(id(node))
        elif node.is_expression_type():
            stack.extend(node.args)
    return found
