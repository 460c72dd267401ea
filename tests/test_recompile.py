"""Recompiling only what new parameter values reach (planner.recompile) equals compiling the whole model.

Every input a sweep changes in place is applied to a built model; the partly recompiled arrays must be
the arrays Pyomo's compiler writes for the changed model from scratch, and a Planner that updates
that way must solve to the optimum of a fresh build. A change the rows cannot absorb falls back to a
whole compile.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from factory import realistic

import planner.highs
import planner.recompile
import planner.solver
from planner.compile import CompiledModel, compile_model, compile_with_walker
from planner.model import build_model
from planner.model.build import update_parameters
from planner.recompile import Recompiler
from planner.solver import Planner, solve
from planner.sweeps import parse_vary
from planner.sweeps.apply import apply_changes

IN_PLACE = [
    "LeaseOffers[*].price_usd_per_gpu_hour*=1.3", "LeaseOffers[abilene-gb200].price_usd_per_gpu_hour=1.9",
    "OnDemand[*].price_usd_per_gpu_hour*=0.8", "OnDemand[*].max_gpus*=0.7",
    "Throughput[*].tokens_per_second_per_gpu*=1.2", "Settings.default_mfu=0.25",
    "Workloads[*].flops_per_token*=1.1", "GPUTypes[*].peak_dense_bf16_tflops*=0.9",
    "Demand[*].tokens_per_month*=1.15", "Workloads[*].base_tokens_per_month*=0.8",
    "Scenarios[*].growth_multiple_per_year*=1.1", "Sites[*].power_cap_mw*=0.8", "Credits[*].amount_usd*=2",
    "Settings.max_total_commitment_usd*=0.9",
]


def assert_same_arrays(partial: CompiledModel, whole: CompiledModel) -> None:
    """The same model: rows in the same order; columns matched by variable (the whole compile may put
    a column that lost its last coefficient elsewhere)."""
    assert [id(c) for c in partial.rows] == [id(c) for c in whole.rows]
    position = {id(v): j for j, v in enumerate(partial.columns)}
    order = np.array([position[id(v)] for v in whole.columns])
    assert sorted(order.tolist()) == list(range(partial.num_columns))
    np.testing.assert_allclose(partial.cost[order], whole.cost, rtol=1e-12, atol=0)
    assert partial.offset == pytest.approx(whole.offset, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(partial.row_lower, whole.row_lower, rtol=1e-12, atol=0)
    np.testing.assert_allclose(partial.row_upper, whole.row_upper, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(partial.col_lower[order], whole.col_lower)
    np.testing.assert_array_equal(partial.col_upper[order], whole.col_upper)
    difference = partial.matrix[:, order] - whole.matrix
    assert abs(difference).max() <= 1e-12 * abs(whole.matrix).max()
    assert partial.expressions.first_row == whole.expressions.first_row
    expressions = partial.expressions.matrix[:, order] - whole.expressions.matrix
    assert expressions.nnz == 0 or abs(expressions).max() <= 1e-12 * abs(whole.expressions.matrix).max()
    np.testing.assert_allclose(partial.expressions.constant, whole.expressions.constant, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def base() -> planner.Problem:
    return realistic(6, max_total_commitment_usd=1e11)


@pytest.mark.parametrize("vary", IN_PLACE)
def test_partial_recompile_equals_a_whole_compile(vary: str, base: planner.Problem) -> None:
    model = build_model(base)
    compiled, walker = compile_with_walker(model)
    recompiler = Recompiler(model, compiled, walker)
    target = parse_vary(vary)
    assert update_parameters(model, apply_changes(base, [(target, target.values[0])]))
    partial = recompiler.recompile()
    assert partial is not None and partial is not compiled, "the change moved no parameter"
    assert partial.rows is compiled.rows and partial.columns is compiled.columns  # rewritten in place
    assert_same_arrays(partial, compile_model(model))


def test_a_chain_of_changes_stays_equal_and_no_change_is_free(base: planner.Problem) -> None:
    """Changes one after the other (each partial recompile starts from the last) and back to base."""
    model = build_model(base)
    compiled, walker = compile_with_walker(model)
    recompiler = Recompiler(model, compiled, walker)
    problem = base
    for vary in IN_PLACE[:6]:
        target = parse_vary(vary)
        problem = apply_changes(problem, [(target, target.values[0])])
        assert update_parameters(model, problem)
        partial = recompiler.recompile()
        assert partial is not None
        assert_same_arrays(partial, compile_model(model))
    assert update_parameters(model, base)
    back = recompiler.recompile()
    assert back is not None
    assert_same_arrays(back, compiled)
    assert recompiler.recompile() is back  # nothing moved: nothing recompiled


def test_a_row_that_loses_its_last_variable_needs_a_whole_compile() -> None:
    m = pyo.ConcreteModel()
    m.rate = pyo.Param(initialize=2.0, mutable=True)
    m.need = pyo.Param(initialize=1.0, mutable=True)
    m.x = pyo.Var(bounds=(0, 10))
    m.y = pyo.Var(bounds=(0, 10))
    m.serve = pyo.Constraint(expr=m.rate * m.x >= m.need)
    m.other = pyo.Constraint(expr=m.x + m.y >= 1)
    m.cost = pyo.Objective(expr=m.x + 2 * m.y)
    compiled, walker = compile_with_walker(m)
    recompiler = Recompiler(m, compiled, walker)
    m.need = 4.0
    partial = recompiler.recompile()
    assert partial is not None and partial.row_lower[compiled.row_of(m.serve)] == 4.0
    m.rate = 0.0  # 0 * x >= 4: no variable left in the row
    assert recompiler.recompile() is None


def test_a_parameter_in_a_variable_bound_moves_the_column_bounds() -> None:
    m = pyo.ConcreteModel()
    m.cap = pyo.Param(initialize=3.0, mutable=True)
    m.x = pyo.Var(bounds=(0, m.cap))
    m.cost = pyo.Objective(expr=-m.x)
    m.keep = pyo.Constraint(expr=m.x <= 100)
    compiled, walker = compile_with_walker(m)
    recompiler = Recompiler(m, compiled, walker)
    m.cap = 7.0
    partial = recompiler.recompile()
    assert partial is not None and partial.col_upper.tolist() == [7.0]


def test_an_updatable_planner_recompiles_in_part_and_solves_like_a_fresh_build(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two price changes and a demand change after a solve: no whole compile after the first hand-off,
    and each re-solve finds the optimum a fresh build finds (MIP gap 0)."""
    whole: list[int] = []
    original = planner.solver.compile_with_walker
    monkeypatch.setattr(planner.solver, "compile_with_walker", lambda m, **kw: whole.append(1) or original(m, **kw))
    problem = realistic(6, mip_gap=0.0)
    kept = Planner(problem, updatable=True)
    kept.solve(marginal_values=False)
    assert whole == [1]
    for vary in ("LeaseOffers[*].price_usd_per_gpu_hour*=1.2", "LeaseOffers[abilene-gb200].price_usd_per_gpu_hour=1.5",
                 "Demand[*].tokens_per_month*=0.9"):
        target = parse_vary(vary)
        problem = apply_changes(problem, [(target, target.values[0])])
        assert kept.update(problem)
        again, fresh = kept.solve(marginal_values=False), solve(problem, marginal_values=False)
        assert again.status == fresh.status == "optimal"
        assert again.objective_usd == pytest.approx(fresh.objective_usd, rel=1e-6)
        kept_costs = again.scenario_costs().set_index("scenario")["npv_usd"]
        fresh_costs = fresh.scenario_costs().set_index("scenario")["npv_usd"]
        np.testing.assert_allclose(kept_costs.sort_index(), fresh_costs.sort_index(), rtol=1e-3)
    assert whole == [1]


def test_a_planner_falls_back_to_a_whole_compile_when_the_rows_cannot_take_the_change(
        monkeypatch: pytest.MonkeyPatch) -> None:
    problem = realistic(6, mip_gap=0.0)
    kept = Planner(problem, updatable=True)
    kept.solve(marginal_values=False)
    monkeypatch.setattr(planner.recompile.Recompiler, "recompile", lambda self: None)
    changed = apply_changes(problem, [(parse_vary("LeaseOffers[*].price_usd_per_gpu_hour*=1.2"), 1.2)])
    assert kept.update(changed)
    again = kept.solve(marginal_values=False)
    assert again.objective_usd == pytest.approx(solve(changed, marginal_values=False).objective_usd, rel=1e-6)


def test_a_plan_that_no_longer_fits_leads_to_the_best_plan_near_it() -> None:
    """min 3y + 10x, 2y + x = need, y integer, 0 <= x <= 1. At need 4 the plan is y 2, x 0; at need 7
    it does not fit, and the neighbourhood search finds y 3, x 1 (cost 19) before the MIP runs. A plan
    that still fits is handed back as it is, without a solve."""
    m = pyo.ConcreteModel()
    m.need = pyo.Param(initialize=4.0, mutable=True)
    m.y = pyo.Var(within=pyo.NonNegativeIntegers, bounds=(0, 10))
    m.x = pyo.Var(bounds=(0, 1))
    m.serve = pyo.Constraint(expr=2 * m.y + m.x == m.need)
    m.cost = pyo.Objective(expr=3 * m.y + 10 * m.x)
    compiled = compile_model(m)
    highs = planner.highs.HighsModel()
    highs.load(compiled)
    plan = highs.run(time_limit_seconds=10, mip_gap=0.0).values
    assert plan is not None and plan.tolist() == [2.0, 0.0]
    same, _ = highs.neighbourhood_start(plan, time_limit_seconds=10, mip_gap=0.0)
    assert same is plan
    m.need = 7.0
    assert highs.push(compile_model(m))
    assert not highs.is_feasible(plan)
    start, seconds = highs.neighbourhood_start(plan, time_limit_seconds=10, mip_gap=0.0)
    assert start.tolist() == pytest.approx([3.0, 1.0]) and seconds > 0
    assert highs.is_feasible(start)
    assert highs.col_lower.tolist() == [0.0, 0.0] and highs.col_upper.tolist() == [10.0, 1.0]  # bounds restored
