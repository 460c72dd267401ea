"""The linear walker (planner.linear_form) against Pyomo's standard-form compiler, the reference it
replaces: the same columns in the same order, the same rows, and every matrix entry, bound and cost the
same float, on the planner's own models and on small models that use every node kind; plus the cases
the walker hands to Pyomo or refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyomo.environ as pyo
import pytest
import scipy.sparse
from factory import realistic
from pyomo.common.errors import InfeasibleConstraintException
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from benchmarks.generate import make_problem
from planner.budget import with_budget
from planner.compile import INF, CompiledModel, compile_model
from planner.linear_form import LinearWalker, NonlinearExpressionError
from planner.model import build_model
from planner.workbook import load

EXAMPLE = Path(__file__).resolve().parent.parent / "inputs" / "colossus-2025.xlsx"


def pyomo_arrays(model: pyo.ConcreteModel) -> dict[str, Any]:
    """What Pyomo's ``LinearStandardFormCompiler`` writes in mixed form, a ranged constraint's two rows
    merged into one."""
    info = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=pyo.minimize)
    rows = [entry.constraint for entry in info.rows]
    signs = np.array([entry.bound_type for entry in info.rows])
    rhs = np.asarray(info.rhs, dtype=float)
    lower = np.where(signs <= 0, rhs, -INF)
    upper = np.where(signs >= 0, rhs, INF)
    keep = np.ones(len(rows), dtype=bool)
    for i in range(1, len(rows)):
        if rows[i] is rows[i - 1]:
            lower[i - 1] = lower[i]
            keep[i] = False
    return {"columns": list(info.columns), "rows": [r for r, k in zip(rows, keep, strict=True) if k],
            "matrix": scipy.sparse.csr_array(info.A.tocsr()[keep]), "lower": lower[keep], "upper": upper[keep],
            "cost": info.c.toarray().ravel(), "offset": float(info.c_offset[0])}


def assert_as_pyomo_writes_it(compiled: CompiledModel, model: pyo.ConcreteModel) -> None:
    reference = pyomo_arrays(model)
    n = len(reference["columns"])
    assert [v.name for v in compiled.columns[:n]] == [v.name for v in reference["columns"]]
    assert all(a is b for a, b in zip(compiled.columns, reference["columns"], strict=False))
    assert all(a is b for a, b in zip(compiled.rows, reference["rows"], strict=True))
    assert not compiled.matrix[:, n:].nnz  # the columns Pyomo leaves out are empty
    ours = scipy.sparse.csr_array(compiled.matrix[:, :n])
    theirs = reference["matrix"]
    ours.sort_indices()
    theirs.sort_indices()
    assert np.array_equal(ours.indptr, theirs.indptr) and np.array_equal(ours.indices, theirs.indices)
    assert np.array_equal(ours.data, theirs.data)  # the same floats, not just close ones
    assert np.array_equal(compiled.row_lower, reference["lower"])
    assert np.array_equal(compiled.row_upper, reference["upper"])
    assert np.array_equal(compiled.cost[:n], reference["cost"]) and compiled.offset == reference["offset"]
    # Column bounds and integrality as Pyomo states them, variable by variable (a fixed one at its value).
    bounds = [(v.value, v.value) if v.fixed else v.bounds for v in compiled.columns]
    assert np.array_equal(compiled.col_lower, [-INF if lo is None else lo for lo, _ in bounds])
    assert np.array_equal(compiled.col_upper, [INF if hi is None else hi for _, hi in bounds])
    assert np.array_equal(compiled.integer, [v.is_integer() for v in compiled.columns])


@pytest.mark.parametrize("name", ["example", "S two-stage", "M multi-stage", "realistic budget mode"])
def test_the_planners_models_compile_exactly_as_pyomo_writes_them(name: str) -> None:
    problem = {
        "example": lambda: load(EXAMPLE),
        "S two-stage": lambda: make_problem("S", seed=1),
        "M multi-stage": lambda: make_problem("M", seed=2, reveal_month=3, lead_times=True),
        "realistic budget mode": lambda: with_budget(realistic(), objective="max_value_within_budget",
                                                     max_cash_spend_usd=5e9),
    }[name]()
    model = build_model(problem)
    assert_as_pyomo_writes_it(compile_model(model), model)


def every_node_kind() -> pyo.ConcreteModel:
    """A small model with each node kind the walker reads itself, and some it hands to Pyomo."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(0, 10))
    m.y = pyo.Var(bounds=(-5, 5))
    m.z = pyo.Var(["a", "b"], within=pyo.Binary)
    m.fixed = pyo.Var(initialize=1.5)
    m.fixed.fix()
    m.p = pyo.Param(initialize=0.3, mutable=True)
    m.q = pyo.Param(initialize=7.0, mutable=True)
    m.w = pyo.Var(within=pyo.NonNegativeReals, bounds=(m.p, m.q))  # bounds from parameters and the domain
    m.inner = pyo.Expression(expr=m.p * m.x[0] - (m.q * 0.1) * m.x[1] + 2.5 + m.p)
    m.scaled = pyo.Expression(expr=m.inner * 1.7)
    m.nothing = pyo.Expression(expr=m.q * 2)
    m.rows = pyo.ConstraintList()
    m.rows.add(m.z["b"] + 0.1 * m.x[2] >= 0.2)
    m.rows.add(m.scaled - 3 * (m.x[1] - m.y) / 0.7 <= m.q)
    m.rows.add(m.inner == m.x[2] + m.fixed * 3 + m.nothing)  # both sides variable: lhs - rhs
    m.rows.add(pyo.inequality(-1, m.x[0] + m.x[1] - 0.3 * m.x[0], m.q))  # ranged, x[0] twice
    m.rows.add(m.q >= 1 - (2 - m.y) + m.fixed)  # the constant on the left, a negated sum
    m.rows.add(abs(m.q - 9) * m.y <= 4)  # abs(): handed to Pyomo
    m.rows.add(sum(m.x[i] * (i + 0.5) for i in range(3)) - m.y * m.p <= 30)
    m.rows.add(m.fixed * 2 <= 5)  # no variable left: no row
    m.rows.add(0 * m.y + m.x[0] >= 0)
    m.cost = pyo.Objective(expr=m.scaled + 0.25 * sum(m.z.values()) - m.y / 3 - m.w, sense=pyo.maximize)
    return m


def test_every_node_kind_compiles_as_pyomo_writes_it() -> None:
    m = every_node_kind()
    compiled = compile_model(m)
    assert_as_pyomo_writes_it(compiled, m)
    assert len(compiled.rows) == 8  # fixed * 2 <= 5 holds without a variable
    assert compiled.cost[compiled.column_of(m.y)] == pytest.approx(1 / 3)  # a maximisation is negated


def test_named_expression_forms_are_cached_once_and_shared() -> None:
    m = every_node_kind()
    walker = LinearWalker()
    first = walker.linear(m.scaled)
    assert id(m.inner) in walker.cache and id(m.scaled) in walker.cache
    assert walker.linear(m.scaled) == first
    coefficients, constant = first
    # Coefficients are keyed by column. Columns come a component at a time, in index order, in the
    # order first met.
    assert [v.name for v in walker.columns] == ["x[0]", "x[1]", "x[2]"]
    assert [walker.column_of[id(m.x[i])] for i in range(3)] == [0, 1, 2]
    assert coefficients == {0: pytest.approx(0.3 * 1.7), 1: pytest.approx(-0.7 * 1.7)}
    assert constant == pytest.approx(2.8 * 1.7)
    assert walker.cache[id(m.inner)][2] == {0: 0.3, 1: pytest.approx(-0.7)}  # not scaled in place


def test_a_changed_parameter_shows_once_its_cached_forms_are_dropped() -> None:
    m = every_node_kind()
    walker = LinearWalker()
    walker.linear(m.scaled)
    m.p = 0.5
    assert walker.linear(m.scaled)[0][walker.column_of[id(m.x[0])]] == pytest.approx(0.3 * 1.7)  # cached: the old value
    walker.cache.pop(id(m.inner))
    walker.cache.pop(id(m.scaled))
    assert walker.linear(m.scaled)[0][walker.column_of[id(m.x[0])]] == pytest.approx(0.5 * 1.7)


def test_a_product_of_variables_is_refused() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    m.y = pyo.Var()
    with pytest.raises(NonlinearExpressionError, match="not a linear expression"):
        LinearWalker().linear(2 * m.x * m.y + m.x)
    m.bad = pyo.Constraint(expr=m.x * m.y <= 1)
    m.cost = pyo.Objective(expr=m.x)
    with pytest.raises(NonlinearExpressionError):
        compile_model(m)


def test_a_constraint_that_cannot_hold_is_named() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    m.fixed = pyo.Var(initialize=4.0)
    m.fixed.fix()
    m.impossible = pyo.Constraint(expr=m.fixed + 0 * m.x >= 5)
    m.cost = pyo.Objective(expr=m.x)
    with pytest.raises(InfeasibleConstraintException, match="'impossible'"):
        compile_model(m)


def test_a_variable_fixed_without_a_value_is_named() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    m.y = pyo.Var()
    m.y.fix(None)
    with pytest.raises(ValueError, match="variable y is fixed without a value"):
        LinearWalker().linear(m.x + 2 * m.y)
