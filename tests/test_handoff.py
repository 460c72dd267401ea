"""The hand-off to HiGHS: compiled arrays, column and row maps, duals by Pyomo name, in-place changes,
status mapping, and fork safety.

Small Pyomo models whose rows, bounds and duals are worked out by hand, plus checks against Pyomo's own
evaluation and against the persistent interface the hand-off replaced (appsi), on a realistic model.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import highspy
import numpy as np
import pyomo.environ as pyo
import pytest
from factory import realistic
from pyomo.contrib.appsi.solvers import Highs as AppsiHighs

from planner.compile import INF, compile_model, load_values
from planner.highs import STATUS_BY_MODEL_STATUS, HighsModel, ModelRefusedError, solve_model
from planner.model import build_model

REPO = Path(__file__).resolve().parent.parent
FORK_TIMEOUT_SECONDS = 60


def small_model() -> pyo.ConcreteModel:
    """min x + 2y - z + 10  s.t.  x + y >= 3, 0.5 <= x - y <= 2 (ranged), y + z + fixed == 6 with
    fixed = 2 (an equality), z <= 3 written as 3 >= z; y integer in [0, 10]; an unused variable."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, None))
    m.y = pyo.Var(within=pyo.NonNegativeIntegers, bounds=(0, 10))
    m.z = pyo.Var()
    m.unused = pyo.Var(bounds=(-1, 5))
    m.fixed = pyo.Var(bounds=(0, 9))
    m.fixed.fix(2.0)
    m.cover = pyo.Constraint(expr=m.x + m.y >= 3)
    m.band = pyo.Constraint(expr=pyo.inequality(0.5, m.x - m.y, 2))
    m.pair = pyo.Constraint(expr=m.y + m.z + m.fixed == 6)
    m.cap = pyo.Constraint(expr=3 >= m.z)  # noqa: SIM300 -- written reversed on purpose
    m.total = pyo.Expression(expr=m.x + 2 * m.y - m.z + 10)
    m.cost = pyo.Objective(expr=m.total)
    return m


def test_compiled_arrays_keep_one_row_per_constraint_and_a_column_per_variable() -> None:
    m = small_model()
    c = compile_model(m)
    assert {v.name for v in c.columns} == {"x", "y", "z", "unused", "fixed"}
    assert [con.name for con in c.rows] == ["cover", "band", "pair", "cap"]
    bounds = {con.name: (lo, hi) for con, lo, hi in zip(c.rows, c.row_lower, c.row_upper, strict=True)}
    # The fixed variable's 2 moves to the right-hand side; the ranged row stays one row.
    assert bounds == {"cover": (3, INF), "band": (0.5, 2), "pair": (4, 4), "cap": (-INF, 3)}
    dense = c.matrix.toarray()
    col = {v.name: c.column_of(v) for v in c.columns}
    assert dense[c.row_of(m.band), col["x"]] == 1 and dense[c.row_of(m.band), col["y"]] == -1
    assert dense[:, col["unused"]].tolist() == [0, 0, 0, 0]
    assert c.cost[col["y"]] == 2 and c.cost[col["z"]] == -1 and c.offset == 10
    assert {v.name for v, integer in zip(c.columns, c.integer, strict=True) if integer} == {"y"}
    lower = dict(zip((v.name for v in c.columns), c.col_lower, strict=True))
    upper = dict(zip((v.name for v in c.columns), c.col_upper, strict=True))
    assert (lower["y"], upper["y"]) == (0, 10) and (lower["z"], upper["z"]) == (-INF, INF)
    assert (lower["fixed"], upper["fixed"]) == (2, 2) and (lower["unused"], upper["unused"]) == (-1, 5)


def test_solution_values_expressions_and_duals_come_back_by_name() -> None:
    """LP optimum by hand: z = 3 (cap), y = 4 - 2 - z = 1 (pair), x = 3 - y = 2 (cover; band slack at
    x - y = 1). Objective 2 + 2 - 3 + 10 = 11.

    Duals, d objective / d right-hand side (Pyomo's convention): cover +1 (x rises one); pair +1 (y
    rises one, +2, and x falls one, -1); cap -2 (z rises one, -1, y falls one, -2, x rises one, +1);
    band 0."""
    m = small_model()
    m.y.domain = pyo.NonNegativeReals
    outcome = solve_model(m, time_limit_seconds=10, mip_gap=0.0)
    assert outcome.status == "optimal"
    assert (m.x.value, m.y.value, m.z.value, m.fixed.value) == pytest.approx((2, 1, 3, 2))
    assert outcome.objective == pytest.approx(11)
    c = compile_model(m)
    x = np.array([v.value for v in c.columns])
    assert c.values(m.total, x)[None] == pytest.approx(pyo.value(m.total))
    assert c.values(m.cost, x)[None] == pytest.approx(pyo.value(m.cost))
    # Same duals as the persistent interface the hand-off replaced, sign for sign.
    highs = HighsModel()
    highs.load(c)
    assert highs.run(time_limit_seconds=10, mip_gap=0.0).status == "optimal"
    duals = highs.row_duals()
    appsi = AppsiHighs()
    appsi.solve(m)
    reference = appsi.get_duals()
    for con in (m.cover, m.band, m.pair, m.cap):
        assert duals[c.row_of(con)] == pytest.approx(reference[con], abs=1e-9), con.name
    by_row = {con.name: duals[c.row_of(con)] for con in (m.cover, m.band, m.pair, m.cap)}
    assert by_row == pytest.approx({"cover": 1.0, "band": 0.0, "pair": 1.0, "cap": -2.0}, abs=1e-9)


def test_realistic_model_matches_pyomo_and_the_persistent_interface() -> None:
    """Every row, cost and expression of a model with every family active agrees with Pyomo's own
    evaluation at the optimum, and the objective with what appsi finds."""
    m = build_model(realistic(6, max_total_commitment_usd=1e11, max_provider_share=0.9, cvar_weight=0.2))
    outcome = solve_model(m, time_limit_seconds=60, mip_gap=0.0)
    assert outcome.status == "optimal"
    c = compile_model(m)
    x = np.array([v.value for v in c.columns])
    body = c.matrix @ x
    for con, value in zip(c.rows, body, strict=True):
        assert value == pytest.approx(pyo.value(con.body) - _constant(con), rel=1e-9, abs=1e-7), con.name
    for name in ("scenario_cost_musd", "installed_kgpu", "throttled_ttok", "power_draw_mw", "tie_break_musd"):
        component = getattr(m, name)
        compiled = c.values(component, x)
        assert compiled == pytest.approx({k: pyo.value(e) for k, e in component.items()}, rel=1e-9, abs=1e-9)
    assert c.values(m.total_cost, x)[None] == pytest.approx(pyo.value(m.total_cost), rel=1e-12)
    assert c.num_integer == sum(1 for v in m.component_data_objects(pyo.Var) if v.is_integer())
    appsi = AppsiHighs()
    appsi.config.mip_gap = 0.0
    assert appsi.solve(m).best_feasible_objective == pytest.approx(outcome.objective, rel=1e-7)


def _constant(con: pyo.Constraint) -> float:
    """The constant part of a constraint body (the compiled rows move it into the bounds)."""
    from pyomo.repn.standard_repn import generate_standard_repn

    return generate_standard_repn(con.body, compute_values=True).constant


def test_push_sends_only_changed_numbers_and_matches_a_fresh_load() -> None:
    """Change a cost, a bound and a coefficient through a mutable Param: the pushed model solves like
    one compiled from scratch."""
    m = pyo.ConcreteModel()
    m.price = pyo.Param(initialize=2.0, mutable=True)
    m.need = pyo.Param(initialize=3.0, mutable=True)
    m.rate = pyo.Param(initialize=1.0, mutable=True)
    m.a = pyo.Var(bounds=(0, 10))
    m.b = pyo.Var(bounds=(0, 10))
    m.serve = pyo.Constraint(expr=m.rate * m.a + m.b >= m.need)
    m.cost = pyo.Objective(expr=m.price * m.a + 3 * m.b)
    highs = HighsModel()
    highs.load(compile_model(m))
    assert highs.run(time_limit_seconds=10, mip_gap=0.0).objective == pytest.approx(6)  # a = 3
    m.price, m.need, m.rate = 5.0, 4.0, 2.0  # now b costs 3, a costs 5 per 2 units: a = 2 -> 10 vs b = 4 -> 12
    assert highs.push(compile_model(m))
    pushed = highs.run(time_limit_seconds=10, mip_gap=0.0)
    fresh = solve_model(m, time_limit_seconds=10, mip_gap=0.0)
    assert pushed.objective == pytest.approx(10) and fresh.objective == pytest.approx(10)
    lp = highs.highs.getLp()
    assert list(lp.col_cost_) == [5.0, 3.0] and lp.row_lower_[0] == 4.0


def test_push_refuses_other_rows_so_the_caller_reloads() -> None:
    m = small_model()
    highs = HighsModel()
    highs.load(compile_model(m))
    m.extra = pyo.Constraint(expr=m.x <= 7)
    assert not highs.push(compile_model(m))


def test_every_highs_model_status_is_mapped() -> None:
    assert set(STATUS_BY_MODEL_STATUS) == set(highspy.HighsModelStatus.__members__.values())
    assert {status for status, _ in STATUS_BY_MODEL_STATUS.values()} == {"optimal", "time_limit", "infeasible",
                                                                         "error"}
    for model_status in ("kSolveError", "kUnknown", "kPresolveError", "kPostsolveError"):
        status, message = STATUS_BY_MODEL_STATUS[getattr(highspy.HighsModelStatus, model_status)]
        assert status == "error" and message.startswith("numerical trouble")


def test_infeasible_is_reported_as_such_with_sound_numbers() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.need = pyo.Constraint(expr=m.x >= 2)
    m.cost = pyo.Objective(expr=m.x)
    outcome = solve_model(m, time_limit_seconds=10, mip_gap=0.0)
    assert (outcome.status, outcome.values) == ("infeasible", None)


def test_absurd_magnitudes_are_numerical_trouble_not_infeasibility() -> None:
    """HiGHS's verdict on a model with a 1e18 right-hand side and 1e-6 coefficients is no infeasibility
    proof: status error, a message that says numerical trouble and names the magnitudes."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1e3))
    m.y = pyo.Var(bounds=(0, None))
    m.need = pyo.Constraint(expr=1e-6 * m.x + m.y >= 1e18)
    m.cap = pyo.Constraint(expr=m.y <= 1e17)
    m.cost = pyo.Objective(expr=m.x + m.y)
    outcome = solve_model(m, time_limit_seconds=10, mip_gap=0.0)
    assert outcome.status == "error"
    assert outcome.message.startswith("numerical trouble") and "1e+18" in outcome.message


def test_coefficients_highs_cannot_take_are_refused_as_numerical_trouble() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.row = pyo.Constraint(expr=1e300 * m.x <= 1)
    m.cost = pyo.Objective(expr=m.x)
    with pytest.raises(ModelRefusedError, match="numerical trouble"):
        solve_model(m, time_limit_seconds=10, mip_gap=0.0)


def test_values_load_back_into_the_model() -> None:
    m = small_model()
    c = compile_model(m)
    load_values(c.columns, np.arange(c.num_columns, dtype=float))
    assert [v.value for v in c.columns] == list(range(c.num_columns))


FORK_CHECK = textwrap.dedent("""
    import multiprocessing, sys
    from concurrent.futures import ProcessPoolExecutor
    sys.path[:0] = [{repo!r}, {tests!r}]
    from factory import lease, tiny
    from planner.solver import solve

    def one(seed):
        return solve(tiny([3.0, 5.0, 4.0], offers=[lease(term=2, latest=1)]), marginal_values=False).status

    if __name__ == "__main__":
        assert one(0) == "optimal"  # HiGHS has run (and started its worker threads) in the parent
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
            print(list(pool.map(one, range(2))))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX-only")
def test_fork_after_a_solve_does_not_hang(tmp_path: Path) -> None:
    """Forked workers inherit HiGHS's scheduler without its threads; they used to wait forever."""
    script = tmp_path / "fork_check.py"
    script.write_text(FORK_CHECK.format(repo=str(REPO), tests=str(REPO / "tests")))
    # Its own session, so that a hang can be killed with the pool's workers (they would spin on).
    check = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        out, err = check.communicate(timeout=FORK_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(check.pid, signal.SIGKILL)
        check.communicate()
        pytest.fail(f"the forked workers hung (no answer in {FORK_TIMEOUT_SECONDS} s)")
    assert check.returncode == 0, err[-2000:]
    assert out.strip().splitlines()[-1] == "['optimal', 'optimal']"


def test_linear_sum_builds_what_adding_the_terms_one_by_one_builds() -> None:
    from planner.model.expressions import linear_sum

    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(4))
    m.p = pyo.Param(initialize=2.5, mutable=True)
    cases = [[3.0 * m.x[0], 1 * m.x[1], m.p * m.x[2], m.x[3]], [0.5 * m.x[0]], [m.x[1]], []]
    for terms in cases:
        built, added = linear_sum(terms), sum(terms)
        assert type(built) is type(added)
        assert str(built) == str(added)
    assert linear_sum([]) == 0
    # A term that is not coefficient * variable (here a constant) leaves it to sum().
    assert str(linear_sum([2 * m.x[0], 4.0])) == str(2 * m.x[0] + 4.0)


def test_compiled_named_expressions_match_pyomo_with_mutable_coefficients() -> None:
    """Expressions read from the compiler's cache and coefficients evaluated without Pyomo's tree walk
    give Pyomo's own values: a parameter, its negation, a product with it, a scaled sub-expression."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(0, 10))
    m.p = pyo.Param(initialize=3.0, mutable=True)
    m.inner = pyo.Expression(expr=m.p * m.x[0] - m.p * m.x[1] + 2.0 * m.p * m.x[2] + 1.0)
    m.scaled = pyo.Expression(expr=4.0 * m.inner)
    m.unused = pyo.Expression(expr=-(m.p * m.x[1]) + 7.0)
    m.row = pyo.Constraint(expr=m.scaled + m.x[1] <= 50)
    m.cost = pyo.Objective(expr=m.inner)
    c = compile_model(m)
    x = np.array([1.0, 2.0, 3.0])
    for var, value in zip(c.columns, x, strict=True):
        var.set_value(value)
    for component in (m.inner, m.scaled, m.unused):
        assert c.values(component, x)[None] == pytest.approx(pyo.value(component))
    assert c.values(m.cost, x)[None] == pytest.approx(pyo.value(m.cost))
    assert c.row_upper[0] == 50 - 4.0


def test_build_leaves_the_garbage_collector_as_it_found_it() -> None:
    import gc

    from planner.model.build import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.freeze()  # a process that froze objects itself keeps them frozen
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("settings", [
    {"cvar_weight": 0.3, "reveal_month": "2025-03"},
    {"objective": "max_value_within_budget", "max_cash_spend_usd": 3e9},
], ids=["cvar-multistage", "budget-mode"])
def test_the_planner_compiles_every_expression_the_results_read(settings, monkeypatch) -> None:
    """The Planner compiles only the Expressions ``extract`` reads (``expressions_read``); none is left
    for Pyomo to evaluate, and the values read off the arrays are Pyomo's own."""
    import planner.results
    from planner.solver import Planner

    evaluated: list[str] = []
    evaluate = planner.results._evaluated

    def recording(component):
        if component.ctype is pyo.Expression:
            evaluated.append(component.name)
        return evaluate(component)

    monkeypatch.setattr(planner.results, "_evaluated", recording)
    problem = realistic(6, first_month="2025-01", **settings)
    solver = Planner(problem)
    result = solver.solve(marginal_values=False)
    assert result.has_plan
    assert evaluated == []
    compiled = solver._highs.compiled
    read = planner.results.expressions_read(solver.model)
    assert {c.name for c in read} == set(compiled.expressions.first_row)
    assert "on_demand_spend_musd" not in compiled.expressions.first_row  # a model Expression no result reads
    for component in read:
        expected = {k: pyo.value(e) for k, e in component.items()}
        assert compiled.values(component, result_values(compiled)) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def result_values(compiled) -> np.ndarray:
    """The column values as the solve wrote them into the Pyomo variables."""
    return np.array([var.value for var in compiled.columns])
