"""Linear form of the model's expressions, read straight off their trees.

:class:`LinearWalker` turns a Pyomo expression into ``(coefficients by column, constant)`` with
one direct recursive pass per expression and one cache entry per named Expression. It replaces Pyomo's
generic ``LinearRepnVisitor`` (an event-driven walker with a dispatch per node and a copy of every
cached sub-expression at each use: about 4-5 microseconds per matrix entry) for the node kinds the
planner's model writes: sums, linear sums, monomials, negations, products and quotients with a
constant, named Expressions, variables, parameters and constant expressions. Anything else is handed,
as a whole sub-tree, to Pyomo's own walker.

The arithmetic is Pyomo's, operation for operation: a product or quotient with a constant or a
negation changes the multiplier of its operand's form, a sum adds its operands' coefficients times
their multipliers in order, and the multiplier is folded in last. So the coefficients come out as
the same floats, and the variables are met in the same order: the columns are numbered as Pyomo's
standard-form compiler numbers them (all variables of a component when its first one is met).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyomo.environ as pyo
from pyomo.common.numeric_types import native_numeric_types, native_types
from pyomo.core.base.param import ParamData
from pyomo.core.base.var import VarData
from pyomo.core.expr.numeric_expr import (
    DivisionExpression,
    LinearExpression,
    MonomialTermExpression,
    NegationExpression,
    NPV_NegationExpression,
    NPV_ProductExpression,
    ProductExpression,
    SumExpression,
)
from pyomo.core.expr.relational_expr import EqualityExpression, RangedExpression
from pyomo.repn.linear import LinearRepnVisitor

Coefficients = dict[int, Any]
"""Column (the variable's position in :attr:`LinearWalker.columns`) -> coefficient. Keyed by column,
not by variable, so the arrays come straight off the keys. Forms share these dicts: whoever receives
one only reads it."""
Form = tuple[Any, Any, Coefficients]
"""A linear form not yet scaled: (multiplier, constant, coefficients); its value is
``multiplier * (constant + sum(coefficient * variable))``. A constant form is the number itself."""


class NonlinearExpressionError(ValueError):
    """An expression the linear model cannot hold (a product of two variables, a function...)."""


def constant_value(node: Any) -> Any:
    """The value of a fixed expression, without a tree walk for the shapes the model writes tens of
    thousands of times (a mutable parameter, its negation, a number times it); the same arithmetic in
    the same order as Pyomo's evaluation, so the same floats."""
    cls = node.__class__
    if cls in native_numeric_types:
        return node
    if cls is ParamData:
        value = node._value  # what node() returns, without its argument checks (a third of the time)
        return value if value.__class__ in native_numeric_types else node()
    if cls is NPV_NegationExpression:
        return -constant_value(node._args_[0])
    if cls is NPV_ProductExpression:
        left, right = node._args_
        return constant_value(left) * constant_value(right)
    return pyo.value(node)


class LinearWalker:
    """Linear forms of expressions over one model, with the column order they imply.

    ``columns`` lists every variable of every variable component met so far (a component's variables
    in index order, components in the order their first variable was met) and ``column_of`` maps
    id(variable) to its position there, the column that coefficients are keyed by. ``cache`` holds
    the form of every named Expression walked: after changing a parameter, drop the entries of the
    named Expressions that use it.
    """

    def __init__(self) -> None:
        self.columns: list[Any] = []
        self.column_of: dict[int, int] = {}
        self.cache: dict[int, Form | Any] = {}
        self._handlers: dict[type, Callable[[Any], Form | Any]] = {}

    # ---- what callers use ---------------------------------------------------------------------------
    def linear(self, expression: Any) -> tuple[Coefficients, Any]:
        """(coefficients by column, constant) of ``expression``, zero coefficients dropped.
        The dict may be shared with the cache: read it, do not change it."""
        return _scaled(self.form(expression))

    def row(self, constraint: Any) -> tuple[Any, Coefficients, Any, Any]:
        """(lower, coefficients, constant, upper) of a constraint ``lower <= body <= upper``; a bound is
        None when absent. As Pyomo's ``to_bounded_expression``: a side that cannot hold a variable is
        a bound, else the body is ``lhs - rhs`` (here walked side by side, not built)."""
        expr = constraint.expr
        if expr is None:
            return None, {}, 0, None
        handlers = self._handlers
        if expr.__class__ is RangedExpression:
            lower, body, upper = expr.args
            if not (_is_fixed(lower) and _is_fixed(upper)):
                raise NonlinearExpressionError(f"{constraint.name} has a variable bound in a ranged inequality")
            form = self.form(body)
        else:
            lhs, rhs = expr._args_
            equality = expr.__class__ is EqualityExpression
            if rhs.__class__ in native_types or not rhs.is_potentially_variable():
                lower, upper = rhs if equality else None, rhs
                form = (handlers.get(lhs.__class__) or self.form)(lhs)
            elif lhs.__class__ in native_types or not lhs.is_potentially_variable():
                lower, upper = lhs, lhs if equality else None
                form = (handlers.get(rhs.__class__) or self.form)(rhs)
            else:
                left = (handlers.get(lhs.__class__) or self.form)(lhs)
                right = (handlers.get(rhs.__class__) or self.form)(rhs)
                lower, upper = 0 if equality else None, 0
                form = _sum([left, _negated(right)], adopt_first=lhs.__class__ in _FRESH)
        coefficients, constant = _scaled(form)
        if lower.__class__ not in native_types:
            lower = pyo.value(lower)
        if upper.__class__ not in native_types:
            upper = pyo.value(upper)
        return lower, coefficients, constant, upper

    def form(self, node: Any) -> Form | Any:
        """The unscaled form of ``node`` (see :data:`Form`)."""
        handler = self._handlers.get(node.__class__)
        if handler is None:
            handler = self._handlers[node.__class__] = self._handler_for(node)
        return handler(node)

    # ---- one handler per node kind ------------------------------------------------------------------
    def _handler_for(self, node: Any) -> Callable[[Any], Form | Any]:
        cls = node.__class__
        if cls in native_numeric_types:
            return _itself
        if node.is_variable_type():
            return self._variable
        if node.is_named_expression_type():
            return self._named
        if not node.is_potentially_variable():
            return constant_value
        # Subclasses before their bases: a monomial is a product, a linear sum is a sum.
        for kind, handler in ((MonomialTermExpression, self._monomial), (LinearExpression, self._linear_sum),
                              (SumExpression, self._sum), (NegationExpression, self._negation),
                              (ProductExpression, self._product), (DivisionExpression, self._quotient)):
            if issubclass(cls, kind):
                return handler
        return self._delegated

    def _record(self, var: Any) -> int:
        """Give every variable of ``var``'s component a column (Pyomo's column order); ``var``'s column.
        The component's own dict holds its variables in index order (as built), read without the
        sorted iteration's per-index lookups."""
        columns, column_of = self.columns, self.column_of
        for member in var.parent_component()._data.values():
            column_of[id(member)] = len(columns)
            columns.append(member)
        return column_of[id(var)]

    def _variable(self, var: Any) -> Form | Any:
        column = self.column_of.get(id(var))
        if column is None:
            if var.fixed:
                return 1 * _fixed_value(var)
            column = self._record(var)
        return 1, 0, {column: 1}

    def _monomial(self, node: Any) -> Form | Any:
        coefficient, var = node._args_
        if coefficient.__class__ not in native_types:
            coefficient = constant_value(coefficient)
        column = self.column_of.get(id(var))
        if column is None:
            if var.fixed:
                return 0 + coefficient * _fixed_value(var)
            column = self._record(var)
        if coefficient:
            return 1, 0, {column: coefficient}
        return 0

    def _linear_sum(self, node: Any) -> Form | Any:
        coefficients: Coefficients = {}
        column_of = self.column_of
        constant = 0
        fixed_part = 0
        for arg in node.args:
            cls = arg.__class__
            if cls is MonomialTermExpression:
                coefficient, var = arg._args_
                if coefficient.__class__ not in native_types:
                    coefficient = constant_value(coefficient)
            elif cls is VarData:
                coefficient, var = 1, arg
            elif cls in native_numeric_types:
                constant += arg
                continue
            elif arg.is_variable_type():
                coefficient, var = 1, arg
            elif arg.is_potentially_variable():
                return self._sum(node)  # not the plain terms a linear sum holds: walk it as any sum
            else:
                constant += constant_value(arg)
                continue
            column = column_of.get(id(var))
            if column is None:
                if var.fixed:
                    fixed_part += coefficient * _fixed_value(var)
                    continue
                column = self._record(var)
            if column in coefficients:
                coefficients[column] += coefficient
            elif coefficient:
                coefficients[column] = coefficient
        fixed_part += constant
        if coefficients:
            return 1, fixed_part, coefficients
        return fixed_part

    def _sum(self, node: Any) -> Form | Any:
        handlers = self._handlers
        form = self.form
        args = node.args
        return _sum([arg if arg.__class__ in native_numeric_types else (handlers.get(arg.__class__) or form)(arg)
                     for arg in args], adopt_first=bool(args) and args[0].__class__ in _FRESH)

    def _negation(self, node: Any) -> Form | Any:
        arg = node._args_[0]
        return _negated((self._handlers.get(arg.__class__) or self.form)(arg))

    def _product(self, node: Any) -> Form | Any:
        left, right = node._args_
        handlers = self._handlers
        form = self.form
        left_form = left if left.__class__ in native_numeric_types else (handlers.get(left.__class__) or form)(left)
        right_form = (right if right.__class__ in native_numeric_types
                      else (handlers.get(right.__class__) or form)(right))
        if left_form.__class__ is not tuple:
            if right_form.__class__ is not tuple:
                return left_form * right_form
            multiplier, constant, coefficients = right_form
            return multiplier * left_form, constant, coefficients
        if right_form.__class__ is not tuple:
            multiplier, constant, coefficients = left_form
            return multiplier * right_form, constant, coefficients
        return self._delegated(node)  # a product of two variable parts: Pyomo says what it makes of it

    def _quotient(self, node: Any) -> Form | Any:
        numerator, denominator = node._args_
        top, bottom = self.form(numerator), self.form(denominator)
        if bottom.__class__ is tuple or not bottom or (top.__class__ is tuple and
                                                       top[0].__class__ not in native_numeric_types):
            return self._delegated(node)
        if top.__class__ is not tuple:
            return top / bottom
        multiplier, constant, coefficients = top
        return multiplier / bottom, constant, coefficients

    def _named(self, node: Any) -> Form | Any:
        key = id(node)
        cached = self.cache.get(key, _MISSING)
        if cached is _MISSING:
            body = node.expr
            cached = self.cache[key] = (body if body.__class__ in native_numeric_types
                                        else (self._handlers.get(body.__class__) or self.form)(body))
        return cached

    def _delegated(self, node: Any) -> Form | Any:
        """A node kind this walker does not know, through Pyomo's own walker (a fresh one each time, so
        no cached sub-expression of it outlives a parameter change)."""
        visitor = LinearRepnVisitor({})
        repn = visitor.walk_expression(node)
        if repn.nonlinear is not None:
            raise NonlinearExpressionError(f"not a linear expression: {node}")
        if not repn.linear:
            return repn.constant
        coefficients: Coefficients = {}
        column_of = self.column_of
        for vid, coefficient in repn.linear.items():
            column = column_of.get(vid)
            if column is None:
                column = self._record(visitor.var_map[vid])
            coefficients[column] = coefficient
        return 1, repn.constant, coefficients


_MISSING = object()
_FRESH = frozenset({LinearExpression, MonomialTermExpression, VarData})
"""Node kinds whose form always comes with coefficients of its own (never a cached dict)."""


def _fixed_value(var: Any) -> Any:
    value = var.value
    if value is None:
        raise ValueError(f"variable {var.name} is fixed without a value")
    return value


def _itself(node: Any) -> Any:
    return node


def _is_fixed(bound: Any) -> bool:
    return bound.__class__ in native_types or not bound.is_potentially_variable() or bound.is_fixed()


def _negated(form: Form | Any) -> Form | Any:
    if form.__class__ is not tuple:
        return -1 * form
    multiplier, constant, coefficients = form
    return multiplier * -1, constant, coefficients


def _sum(forms: list[Form | Any], *, adopt_first: bool = False) -> Form | Any:
    """The form of a sum of forms: coefficients times multipliers added in order. ``adopt_first``: the
    first form's coefficients were made for this sum alone (not a cached named Expression's), so a
    multiplier of 1 lets the sum add to them in place instead of copying them first."""
    coefficients: Coefficients = {}
    constant = 0
    first = forms[0] if forms else None
    if adopt_first and first.__class__ is tuple and first[0] == 1:
        constant += first[1]
        coefficients = first[2]
        forms = forms[1:]
    for form in forms:
        if form.__class__ is not tuple:
            constant += form
            continue
        multiplier, part_constant, part = form
        if multiplier == 1:
            constant += part_constant
            if not coefficients:
                coefficients.update(part)  # the same values, inserted in the same order
                continue
            for column, coefficient in part.items():
                if column in coefficients:
                    coefficients[column] += coefficient
                else:
                    coefficients[column] = coefficient
        elif multiplier:
            if part_constant:
                constant += multiplier * part_constant
            for column, coefficient in part.items():
                if column in coefficients:
                    coefficients[column] += multiplier * coefficient
                else:
                    coefficients[column] = multiplier * coefficient
    if coefficients:
        return 1, constant, coefficients
    return 1 * constant


def _scaled(form: Form | Any) -> tuple[Coefficients, Any]:
    """(coefficients, constant) with the multiplier folded in and zero coefficients dropped."""
    if form.__class__ is not tuple:
        return {}, form
    multiplier, constant, coefficients = form
    if multiplier == 1:
        if 0 in coefficients.values():
            coefficients = {column: c for column, c in coefficients.items() if c}
        return coefficients, constant
    if not multiplier:
        return {}, 0
    scaled = {}
    for column, coefficient in coefficients.items():
        product = multiplier * coefficient
        if product:
            scaled[column] = product
    return scaled, constant * multiplier if constant else constant
