"""The pre-solve coefficient-range check: equal to the range of the model actually built, and the
cells behind a poorly scaled input named, as a warning past 1e7 and a refusal past 1e9."""

from __future__ import annotations

import json
from pathlib import Path

import pyomo.environ as pyo
import pytest
from factory import cloud, commitment, credit, lease, program, realistic, tiny
from pyomo.repn.standard_repn import generate_standard_repn
from typer.testing import CliRunner

from planner import numerics
from planner.cli import EXIT_OK, app
from planner.errors import InputError
from planner.model import build_model
from planner.model import data as model_data
from planner.numerics import REFUSE_RANGE, WARN_RANGE, ScalingWarning, check_scaling
from planner.schema import Policy, PolicyEffect, Problem
from planner.workbook import load, load_details, write_problem

ROOT = Path(__file__).resolve().parent.parent
DEMAND_DRIVEN = {("demand_balance", "policy_on"), ("policy_admission", "policy_on"), ("cvar_excess_def", "policy_on"),
                 ("program_effect", "program_start"), ("program_peak", "program_start")}
"""(constraint family, variable) whose coefficient is demand (a program's largest peak, or its big-M, which is
at most the GPUs demand needs): it counts for the largest only."""


def built_range(problem: Problem) -> tuple[float, float]:
    """(smallest, largest) magnitude of the built model's constraint coefficients, demand-driven ones
    left out of the smallest."""
    smallest, largest = float("inf"), 0.0
    model = build_model(problem)
    for con in model.component_data_objects(pyo.Constraint, active=True):
        repn = generate_standard_repn(con.body, compute_values=True)
        for var, coef in zip(repn.linear_vars, repn.linear_coefs, strict=True):
            if coef:
                largest = max(largest, abs(coef))
                if (con.parent_component().name, var.parent_component().name) not in DEMAND_DRIVEN:
                    smallest = min(smallest, abs(coef))
    return smallest, largest


def with_programs(problem: Problem, *programs) -> Problem:
    """``problem`` with efficiency programs added (validated again)."""
    return problem.model_validate({**problem.model_dump(), "efficiency_programs": [p.model_dump() for p in programs]})


REALISTIC_PROGRAMS = (program("batching", new_mfu=0.18, earliest=1, delay=2, one_off=1e7, monthly=1e6),
                      program("kernels", multiplier=1.2, workloads=["chat"], delay=1, one_off=5e7,
                              decided="per_scenario"))
CASES = {
    "realistic": lambda: realistic(6),
    "cvar, provider share, budget": lambda: realistic(6, cvar_weight=0.3, max_provider_share=0.6,
                                                      max_total_commitment_usd=5e9),
    "cvar 1, payments in the horizon only": lambda: realistic(6, cvar_weight=1.0,
                                                              count_payments_beyond_horizon=False),
    "semi-continuous offer, credits on all spend, commitments": lambda: tiny(
        [10.0] * 4, offers=[lease(term=4, block=8, min_blocks=3, max_blocks=50, upfront=1e4)],
        credits=[credit(amount=1e4, expiry=2, applies_to="all", provider="lessor")],
        commitments=[commitment(gpus=5, start=0, end=1)]),
    "policies with effects, cvar, provider share": lambda: tiny(
        [10.0] * 4, offers=[lease(term=2)],
        policies=[Policy(name="a"), Policy(name="b", goodwill_cost_usd_per_month=10)],
        policy_effects=[PolicyEffect(policy="b", workload="chat", admitted_fraction=0.5,
                                     peak_to_average_multiplier=0.3)], cvar_weight=0.5, max_provider_share=0.9),
    "programs, cash budget, cvar": lambda: with_programs(
        realistic(6, max_cash_spend_usd=5e9, cvar_weight=0.3, max_total_commitment_usd=5e9), *REALISTIC_PROGRAMS),
    "budget mode with cvar and programs": lambda: with_programs(
        realistic(6, objective="max_value_within_budget", max_cash_spend_usd=2e9, cvar_weight=0.5),
        *REALISTIC_PROGRAMS),
    "tiny program, cash budget on every kind of spend": lambda: tiny(
        [10.0] * 4, offers=[lease(term=4, upfront=1e3, lead_time=1, earliest=1)],
        credits=[credit(amount=1e4, expiry=2)], commitments=[commitment(gpus=5, start=0, end=1, price=1.0)],
        programs=[program(one_off=1e3, monthly=10.0, delay=1)], max_cash_spend_usd=1e6, cvar_weight=0.5),
    "budget mode, policies with goodwill": lambda: tiny(
        [10.0] * 4, offers=[lease(term=2)],
        policies=[Policy(name="a"), Policy(name="b", goodwill_cost_usd_per_month=1)],
        policy_effects=[PolicyEffect(policy="b", workload="chat", admitted_fraction=0.5)], cvar_weight=0.5,
        objective="max_value_within_budget", max_total_commitment_usd=1e6),
}


@pytest.mark.parametrize("case", list(CASES))
def test_check_equals_the_range_of_the_built_model(case: str) -> None:
    problem = CASES[case]()
    scaling = check_scaling(problem)
    assert scaling.smallest is not None and scaling.largest is not None
    assert (scaling.smallest.value, scaling.largest.value) == pytest.approx(built_range(problem), rel=1e-9)


def test_units_are_the_models() -> None:
    for name in ("GPUS_PER_UNIT", "TOKENS_PER_UNIT", "USD_PER_UNIT", "SECONDS_PER_HOUR"):
        assert getattr(numerics, name) == getattr(model_data, name)


def test_example_is_well_scaled() -> None:
    details = load_details(ROOT / "inputs" / "colossus-2025.xlsx")
    assert details.warnings == ()
    assert check_scaling(details.problem).matrix_range < WARN_RANGE


def test_a_tiny_demand_is_not_the_smallest_coefficient() -> None:
    """2.6 tokens in one month is 2.6e-12 Ttok: harmless, so the range is that of the other months."""
    with_tiny = check_scaling(tiny([1e-9, 10.0, 10.0], offers=[lease(term=3)]))
    without = check_scaling(tiny([10.0, 10.0, 10.0], offers=[lease(term=3)]))
    assert with_tiny.matrix_range == without.matrix_range < WARN_RANGE
    assert with_tiny.warnings == with_tiny.refusals == []


def test_compound_growth_past_the_refusal_range_names_base_and_growth(tmp_path: Path) -> None:
    """80x a year for three years from 1e15 tokens: 3.6e20 tokens a month, 3.6e8 Ttok against a
    72-GPU rack at 0.88 availability (0.063 kGPU): a range of 5.6e9."""
    path = tmp_path / "compound.xlsx"
    write_problem(realistic(36), path)
    with pytest.raises(InputError) as caught:
        load(path)
    found = {issue.where: issue for issue in caught.value.issues}
    assert set(found) == {"Workloads!H4", "Scenarios!C4"}  # batch API's base level; the 80x growth
    assert found["Scenarios!C4"].found.startswith("80 (demand of 3.55e+20 tokens in 2027-12 for batch API in "
                                                  "scenario 80x: a coefficient of 3.6e+08 in demand_balance)")
    assert found["Workloads!H4"].expected.startswith(f"input whose model coefficients span at most {REFUSE_RANGE:.0e}")
    assert "refused" in found["Workloads!H4"].expected


def test_between_the_thresholds_the_input_loads_with_a_warning(tmp_path: Path) -> None:
    """A provider share cap of 0.999999 multiplies spend by 1e-6: 5.8e-9 for a 1-GPU block at $2 over
    4 months, against 2.6 Ttok per kGPU-month of throughput: 4.5e8."""
    problem = tiny([10.0] * 4, offers=[lease(term=4)], on_demand=[cloud(price=0.1)], max_provider_share=0.999999)
    path = tmp_path / "share.xlsx"
    write_problem(problem, path)
    with pytest.warns(ScalingWarning, match=r"Settings!B8 \(max_provider_share\): found 0.999999"):
        assert load(path) == problem
    warnings = {issue.where: issue for issue in load_details(path).warnings}
    assert set(warnings) == {"Settings!B8", "LeaseOffers!F2", "LeaseOffers!E2"}
    assert "(1 - 0.999999) x the spend on a block of L: a coefficient of 5.8e-09 in provider_share" in (
        warnings["LeaseOffers!F2"].found)
    validate = CliRunner().invoke(app, ["validate", str(path)])
    assert validate.exit_code == EXIT_OK
    assert "3 warnings" in validate.stderr and "Settings!B8 (max_provider_share)" in validate.stderr
    solved = CliRunner().invoke(app, ["solve", str(path), "--json", "--no-report"])
    assert solved.exit_code == EXIT_OK
    assert {w["cell"] for w in json.loads(solved.stdout)["input_warnings"]} == {"B8", "F2", "E2"}


def test_a_program_that_barely_helps_is_named_as_the_smallest_coefficient() -> None:
    """A multiplier of 1.0001 adds 2.6e-4 Ttok per kGPU-month: below the 1e-3 band, its cell is the culprit
    once the range passes the warning threshold (here with a 1e4-GPU pool block: 10 kGPU)."""
    problem = tiny([10.0] * 4, offers=[lease(term=4)], programs=[program(multiplier=1.0001)])
    scaling = check_scaling(problem)
    assert scaling.smallest is not None and scaling.smallest.family == "throughput"
    assert scaling.smallest.value == pytest.approx(2.628 * 1e-4, rel=1e-6)
    assert scaling.smallest.sources[0].column == "mfu_multiplier"
    assert (scaling.smallest.value, scaling.largest.value) == pytest.approx(built_range(problem), rel=1e-9)
