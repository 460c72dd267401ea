"""The Planner on top of the hand-off: in-place updates and fixings, warm starts, the LP relaxation,
live MIP progress, errors that are ours (raised, with their traceback) against solver verdicts
(statuses), and the model contract (declared optional parts, declared dependencies, integer columns).
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
import pytest
from factory import LEASE_GPU_MONTH, lease, realistic, tiny

import planner.highs
import planner.solver
from planner.highs import HighsModel, MipProgress
from planner.model import build, build_model
from planner.model.tree import ROOT
from planner.results import extract
from planner.solver import Planner, solve

REL = 1e-6


def with_dearer_leases(problem, factor: float):
    offers = [o.model_copy(update={"price_usd_per_gpu_hour": o.price_usd_per_gpu_hour * factor})
              for o in problem.lease_offers]
    return problem.model_copy(update={"lease_offers": offers})


def with_power_caps(problem, factor: float):
    sites = [s.model_copy(update={"power_cap_mw": s.power_cap_mw * factor}) for s in problem.sites]
    return problem.model_copy(update={"sites": sites})


def test_update_pushes_new_numbers_in_place_and_warm_starts(monkeypatch) -> None:
    """New lease prices and power caps go to the live HiGHS model (no rebuild, no second hand-off),
    the re-solve starts from the last plan, and it finds what a fresh solve of the new numbers finds."""
    loads, pushes = [], []
    original_load, original_push = HighsModel.load, HighsModel.push
    monkeypatch.setattr(HighsModel, "load", lambda self, c: loads.append(c) or original_load(self, c))
    monkeypatch.setattr(HighsModel, "push", lambda self, c: pushes.append(original_push(self, c)) or pushes[-1])
    monkeypatch.setattr(planner.highs, "LOG_TAIL_LINES", 10_000)
    problem = realistic(6, mip_gap=0.0)
    p = Planner(problem)
    model, first = p.model, p.solve(marginal_values=False)
    changed = with_power_caps(with_dearer_leases(problem, 1.1), 0.8)
    assert p.update(changed)
    again = p.solve(marginal_values=False)
    assert p.model is model and len(loads) == 1 and pushes == [True]
    assert any("MIP start solution is feasible" in line for line in again.solver_log_tail)
    fresh = solve(changed, marginal_values=False)
    assert again.status == fresh.status == "optimal"
    assert again.objective_usd == pytest.approx(fresh.objective_usd, rel=REL)
    assert again.objective_usd > first.objective_usd  # dearer leases, less power
    assert again.timings["load_seconds"] == 0.0


def test_update_hands_the_whole_model_over_when_it_cannot_push(monkeypatch) -> None:
    """Should the recompiled model differ in rows or columns, it is handed over again in full, and the
    last plan still starts the search (moved onto the new columns)."""
    monkeypatch.setattr(HighsModel, "push", lambda self, compiled: False)
    monkeypatch.setattr(planner.highs, "LOG_TAIL_LINES", 10_000)
    problem = realistic(6, mip_gap=0.0)
    p = Planner(problem)
    p.solve(marginal_values=False)
    changed = with_dearer_leases(problem, 1.1)
    assert p.update(changed)
    again = p.solve(marginal_values=False)
    assert any("MIP start solution is feasible" in line for line in again.solver_log_tail)
    assert again.objective_usd == pytest.approx(solve(changed, marginal_values=False).objective_usd, rel=REL)


def test_update_refuses_a_structural_change() -> None:
    problem = tiny([1.0, 2.0], offers=[lease(term=2)])
    p = Planner(problem)
    p.solve(marginal_values=False)
    assert not p.update(tiny([1.0, 2.0, 3.0], offers=[lease(term=2)]))


def test_fixing_leases_is_column_bounds_and_unfixing_restores_the_optimum() -> None:
    """Demand 10 GPUs for 4 months: 10 blocks of a 4-month lease are optimal; fixed at 4 blocks, the
    other 6 GPUs go on demand."""
    problem = tiny([10.0] * 4, offers=[lease(term=4)])
    p = Planner(problem)
    best = p.solve(marginal_values=False)
    assert best.lease_plan() == {("L", 0): 10}
    p.fix_leases({("L", 0): 4})
    highs = p._highs.highs
    column = p._highs.compiled.column_of(p.model.lease_blocks[ROOT, "L", 0])
    assert highs.getLp().col_lower_[column] == highs.getLp().col_upper_[column] == 4
    assert not p.model.lease_blocks[ROOT, "L", 0].fixed  # the Pyomo model is left as built
    fixed = p.solve(marginal_values=False)
    assert fixed.lease_plan() == {("L", 0): 4}
    assert fixed.objective_usd == pytest.approx(4 * 4 * LEASE_GPU_MONTH + 6 * 4 * 5.0 * 730, rel=REL)
    p.unfix_leases()
    assert highs.getLp().col_upper_[column] == 1000
    assert p.solve(marginal_values=False).objective_usd == pytest.approx(best.objective_usd, rel=REL)


def test_lp_relaxation_bounds_the_plan() -> None:
    problem = realistic(6, mip_gap=0.0)
    p = Planner(problem)
    relaxed = p.solve(relax=True)
    plan = p.solve()
    assert relaxed.status == "optimal" and relaxed.message.startswith("LP relaxation")
    assert relaxed.objective_usd <= plan.objective_usd * (1 + 1e-9)
    assert relaxed.mip_gap == 0.0 and relaxed.duals["capacity"]
    assert plan.status == "optimal"


def test_mip_progress_reports_the_search() -> None:
    """On a solve of about a second: reports in order, the best plan falling, the bound below it, and
    the last plan reported is the plan returned (tie-break removed alike)."""
    reports: list[MipProgress] = []
    problem = realistic(12)
    result = Planner(problem, mip_progress=reports.append).solve(time_limit_seconds=300, marginal_values=False)
    assert result.status == "optimal" and reports
    elapsed = [r.elapsed_seconds for r in reports]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    assert all(r.time_limit_seconds == 300 and r.mip_gap_target == problem.settings.mip_gap for r in reports)
    plans = [r for r in reports if r.objective_usd is not None]
    assert plans, "no plan was reported"
    objectives = [r.objective_usd for r in plans]
    assert all(a >= b * (1 - 1e-9) for a, b in pairwise(objectives))
    assert objectives[-1] == pytest.approx(result.objective_usd, rel=1e-9)
    for r in plans:
        if r.best_bound_usd is not None:
            assert r.best_bound_usd <= r.objective_usd * (1 + 1e-9)
            assert r.mip_gap == pytest.approx(abs(r.objective_usd - r.best_bound_usd) / abs(r.objective_usd),
                                              rel=1e-3, abs=1e-12)



def _count_runs(monkeypatch) -> list[tuple[str, float]]:
    """Record every HiGHS run of the Planner: ("lp" or "mip", the objective target it ran with)."""
    runs: list[tuple[str, float]] = []
    original = HighsModel.run

    def counting(self: HighsModel, **kwargs):
        runs.append(("lp" if kwargs.get("relax") else "mip", self.highs.getOptionValue("objective_target")[1]))
        return original(self, **kwargs)

    monkeypatch.setattr(HighsModel, "run", counting)
    return runs


def test_a_search_without_a_start_solves_the_relaxation_first_and_keeps_its_bound(monkeypatch) -> None:
    """A quick LP (the usual case): the LP, then HiGHS's search as before, with the LP's optimum as a
    floor under the reported bound."""
    problem = realistic(12, mip_gap=1e-3)
    relaxed = Planner(problem).solve(relax=True, marginal_values=False)
    runs = _count_runs(monkeypatch)
    result = Planner(problem).solve(marginal_values=False)
    assert [kind for kind, _ in runs] == ["lp", "mip"] and runs[1][1] == -math.inf
    assert result.status == "optimal" and result.mip_gap <= 1e-3
    assert relaxed.objective_usd * (1 - 1e-9) <= result.best_bound_usd <= result.objective_usd * (1 + 1e-9)


def test_a_slow_relaxation_searches_its_neighbourhood_first(monkeypatch) -> None:
    """Any LP counted as slow: the LP, then RENS (integers held between floor and ceiling of the LP,
    stopping at the first plan within the gap of the LP bound), then the search from that plan only if
    it is not within the gap. The plan agrees with the plain search within the gap; the column bounds
    and the objective target are restored; progress never shows the restricted search's bound."""
    problem = realistic(12, mip_gap=1e-3)
    plain = Planner(problem).solve(marginal_values=False)
    relaxed = Planner(problem).solve(relax=True, marginal_values=False)
    monkeypatch.setattr(planner.highs, "RELAXATION_NEIGHBOURHOOD_LP_SHARE", 0.0)
    runs = _count_runs(monkeypatch)
    reports: list[MipProgress] = []
    p = Planner(problem, mip_progress=reports.append)
    result = p.solve(marginal_values=False)
    assert [kind for kind, _ in runs[:2]] == ["lp", "mip"] and len(runs) in (2, 3)
    floor_usd = relaxed.objective_usd
    assert runs[1][1] > -math.inf  # the neighbourhood search stops at a plan within the gap of the LP bound
    assert result.status == "optimal" and result.mip_gap <= 1e-3
    assert result.best_bound_usd >= floor_usd * (1 - 1e-9)
    assert abs(result.objective_usd - plain.objective_usd) <= 1e-3 * plain.objective_usd
    highs = p._highs
    assert highs.highs.getOptionValue("objective_target")[1] == -math.inf
    assert (highs.col_lower == highs.compiled.col_lower).all() and (highs.col_upper == highs.compiled.col_upper).all()
    bounds = [r.best_bound_usd for r in reports if r.best_bound_usd is not None]
    assert bounds and min(bounds) >= floor_usd * (1 - 1e-6)
    assert all(b <= result.objective_usd * (1 + 1e-6) for b in bounds)
    assert p.solve(marginal_values=False).objective_usd <= result.objective_usd * (1 + 1e-9)  # warm re-solve


def test_a_neighbourhood_plan_within_the_gap_of_the_relaxation_is_the_answer(monkeypatch) -> None:
    """At a 2% gap the neighbourhood's first plan (1.4% above the LP here) is within it: no further
    search, and the bound is the LP's optimum."""
    problem = realistic(12, mip_gap=0.02)
    relaxed = Planner(problem).solve(relax=True, marginal_values=False)
    monkeypatch.setattr(planner.highs, "RELAXATION_NEIGHBOURHOOD_LP_SHARE", 0.0)
    runs = _count_runs(monkeypatch)
    result = Planner(problem).solve(marginal_values=False)
    assert [kind for kind, _ in runs] == ["lp", "mip"]
    assert result.status == "optimal" and 0 < result.mip_gap <= 0.02
    assert result.best_bound_usd == pytest.approx(relaxed.objective_usd, rel=1e-6)


def test_out_of_time_after_the_neighbourhood_its_plan_stands(monkeypatch) -> None:
    """The full search stopped by the time limit before taking its start up: the neighbourhood's plan is
    the answer, stopped at the time limit, with the LP bound."""
    problem = realistic(12, mip_gap=1e-3)
    monkeypatch.setattr(planner.highs, "RELAXATION_NEIGHBOURHOOD_LP_SHARE", 0.0)
    original = HighsModel.run
    calls: list[int] = []

    def third_runs_out_of_time(self: HighsModel, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            return planner.highs.RunOutcome(status="time_limit", message="time limit reached", values=None,
                                            objective=None, bound=None, seconds=0.0, log_tail=[])
        return original(self, **kwargs)

    monkeypatch.setattr(HighsModel, "run", third_runs_out_of_time)
    result = Planner(problem).solve(marginal_values=False)
    assert len(calls) == 3
    assert result.status == "time_limit" and result.has_plan
    assert 1e-3 < result.mip_gap < 0.05  # the neighbourhood's plan against the LP bound (1.4% here)


def test_too_little_time_for_a_root_leaves_the_neighbourhood_plan(monkeypatch) -> None:
    """With less time left than the full search's root would take (a multiple of the LP's seconds), no
    search that would overrun the limit: the neighbourhood's plan, stopped at the time limit, LP bound."""
    problem = realistic(12, mip_gap=1e-3)
    relaxed = Planner(problem).solve(relax=True, marginal_values=False)
    monkeypatch.setattr(planner.highs, "RELAXATION_NEIGHBOURHOOD_LP_SHARE", 0.0)
    monkeypatch.setattr(planner.highs, "ROOT_SECONDS_PER_LP_SECOND", 1e9)
    runs = _count_runs(monkeypatch)
    result = Planner(problem).solve(marginal_values=False)
    assert [kind for kind, _ in runs] == ["lp", "mip"]
    assert result.status == "time_limit" and result.has_plan and 1e-3 < result.mip_gap < 0.05
    assert result.best_bound_usd == pytest.approx(relaxed.objective_usd, rel=1e-6)


def test_an_infeasible_rounding_box_frees_the_fractional_columns(monkeypatch) -> None:
    """When no rounding between floor and ceiling is feasible, the neighbourhood is searched again with
    the columns the LP left fractional at their own bounds and the whole-numbered ones still held."""
    problem = realistic(12, mip_gap=0.02)
    monkeypatch.setattr(planner.highs, "RELAXATION_NEIGHBOURHOOD_LP_SHARE", 0.0)
    original = HighsModel.run
    seen: list[tuple[Any, Any, Any]] = []

    def box_infeasible(self: HighsModel, **kwargs):
        integer = self.compiled.integer
        seen.append((self.col_lower[integer].copy(), self.col_upper[integer].copy(), None))
        if len(seen) == 2:
            return planner.highs.RunOutcome(status="infeasible", message="infeasible", values=None,
                                            objective=None, bound=None, seconds=0.0, log_tail=[])
        outcome = original(self, **kwargs)
        seen[-1] = (*seen[-1][:2], outcome.values)
        return outcome

    monkeypatch.setattr(HighsModel, "run", box_infeasible)
    p = Planner(problem)
    result = p.solve(marginal_values=False)
    assert len(seen) == 3 and result.status == "optimal" and result.mip_gap <= 0.02
    compiled = p._highs.compiled
    lp = seen[0][2][compiled.integer]
    whole = np.abs(lp - np.round(lp)) <= 1e-6
    assert whole.any() and (~whole).any()
    lower, upper, _ = seen[2]
    assert (lower[whole] == upper[whole]).all()
    assert (lower[~whole] == compiled.col_lower[compiled.integer][~whole]).all()
    assert (upper[~whole] == compiled.col_upper[compiled.integer][~whole]).all()

def test_an_error_in_the_progress_hook_stops_the_search_and_is_raised() -> None:
    def hook(_: MipProgress) -> None:
        raise RuntimeError("display went away")

    with pytest.raises(RuntimeError, match="display went away"):
        Planner(realistic(12), mip_progress=hook).solve(marginal_values=False)


def test_errors_in_our_own_code_are_raised_not_reported_as_solver_status(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise KeyError("a bug in extraction")

    monkeypatch.setattr(planner.solver, "extract", broken)
    with pytest.raises(KeyError, match="a bug in extraction"):
        solve(tiny([1.0]), marginal_values=False)


def test_extract_refuses_a_variable_without_a_value() -> None:
    """An unset variable after a solve is a defect, not a zero."""
    m = build_model(tiny([1.0], offers=[lease(term=1)]))
    for var in m.component_data_objects(pyo.Var):
        var.set_value(0.0)
    m.lease_blocks[ROOT, "L", 0].set_value(None)
    with pytest.raises(ValueError, match=r"lease_blocks\[ROOT,L,0\] has no value"):
        extract(m, tiny([1.0]), status="optimal", message="", best_bound_musd=0.0, mip_gap=0.0)


def test_numerical_trouble_is_an_error_never_infeasible(monkeypatch) -> None:
    """HiGHS's 'infeasible' on a model with absurd magnitudes becomes status error, 'numerical trouble'."""
    original = HighsModel.load

    def load_absurd(self: HighsModel, compiled) -> None:
        original(self, compiled)
        self.numerics = "row bounds reach 1e+18 (model units: kGPU, Ttok, MUSD, MW)"

    monkeypatch.setattr(HighsModel, "load", load_absurd)
    monkeypatch.setattr(highspy.Highs, "getModelStatus", lambda self: highspy.HighsModelStatus.kInfeasible)
    result = solve(tiny([1.0]), marginal_values=False)
    assert result.status == "error" and result.message.startswith("numerical trouble")
    assert not result.diagnosis


def test_time_limit_is_said_in_plain_words() -> None:
    result = solve(realistic(24, mip_gap=0.0), time_limit_seconds=0.001, marginal_values=False)
    assert (result.status, result.message) == ("time_limit", "time limit reached")


def test_write_model_is_what_highs_solves(tmp_path) -> None:
    p = Planner(realistic(6, mip_gap=0.0))
    result = p.solve(marginal_values=False)
    path = tmp_path / "model.mps"
    p.write_model(str(path))
    raw = highspy.Highs()
    raw.setOptionValue("output_flag", False)
    raw.readModel(str(path))
    raw.setOptionValue("mip_rel_gap", 0.0)
    raw.run()
    assert raw.getInfo().objective_function_value == pytest.approx(pyo.value(result.model.total_cost), rel=1e-9)


# ---- the model contract --------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [{}, {"max_total_commitment_usd": 1e10, "max_provider_share": 0.9,
                                            "cvar_weight": 0.2}])
def test_optional_parts_are_declared_by_the_model_data(settings) -> None:
    m = build_model(realistic(6, **settings))
    d = m.data
    assert d.has_budget == (m.component("budget") is not None)
    assert d.has_provider_share == (m.component("provider_share") is not None)
    assert d.has_cvar == (m.component("cvar_excess_def") is not None) == (m.component("cvar_musd") is not None)
    assert bool(settings) == d.has_budget == d.has_provider_share == d.has_cvar


def test_a_family_listed_before_what_it_needs_fails_naming_both(monkeypatch) -> None:
    families = list(build.FAMILIES)
    capacity = families.pop(families.index(build.define_capacity))
    families.insert(families.index(build.define_lease_terms), capacity)
    monkeypatch.setattr(build, "FAMILIES", families)
    with pytest.raises(LookupError, match="define_capacity needs 'installed_kgpu'"):
        build_model(tiny([1.0]))


def test_integer_columns_come_from_the_model() -> None:
    problem = realistic(6)
    result = solve(problem, marginal_values=False)
    m = result.model
    integer = [v for v in m.component_data_objects(pyo.Var) if v.is_integer()]
    assert result.num_integer_variables == len(integer) > 0
    assert {v.parent_component().name for v in integer} == {"lease_blocks", "offer_used", "policy_on"}
