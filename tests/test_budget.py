"""Budget mode and the cash budget: what a budget buys, worked out by hand, the value of one more dollar
(the dual of the cash budget with integers fixed), the link between the two objectives, sweeps, the
input and the command line.

The hand instance: 10 GPUs of demand a month for 4 months at $100 per million tokens (a GPU-month of
tokens earns $262,800); a 4-month lease block of one GPU costs 4 x $1,460 = $5,840; on demand a GPU-month
is $3,650. With $20,000 of cash the best plan leases 3 blocks ($17,520: a 4th does not fit) and rents
$2,480 / $3,650 = 0.679 GPU-months on demand; one more dollar rents 1/3,650 GPU-month more, worth
$262,800 / $3,650 - $1 = $71 (less the tie-break of a cent per GPU-month).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from factory import CLOUD_GPU_MONTH, TOKENS_PER_GPU_MONTH, lease, program, realistic, tiny
from typer.testing import CliRunner
from workbook_helpers import by_cell, issues, small_problem

import planner
from planner.budget import COMMITMENT_DUAL_NOTE, with_budget
from planner.cli import app
from planner.errors import InputError
from planner.report import write_report
from planner.solver import Planner
from planner.workbook import write_problem

CASH_USD = 20_000.0
REVENUE_PER_GPU_MONTH = 100.0 * TOKENS_PER_GPU_MONTH / 1e6
"""$262,800: the revenue of the tokens one GPU serves in a month at $100 per million tokens."""
ON_DEMAND_GPU_MONTHS = (CASH_USD - 3 * 4 * 1_460.0) / CLOUD_GPU_MONTH
SERVED_GPU_MONTHS = 3 * 4 + ON_DEMAND_GPU_MONTHS
ONE_MORE_DOLLAR = REVENUE_PER_GPU_MONTH / CLOUD_GPU_MONTH - 1.0


def budgeted(cash: float = CASH_USD, **settings) -> planner.Problem:
    settings = {"objective": "max_value_within_budget", "max_cash_spend_usd": cash, **settings}
    return tiny([10.0] * 4, offers=[lease(term=4)], **settings)


@pytest.fixture(scope="module")
def result() -> planner.PlanResult:
    return planner.solve(budgeted())


def test_what_the_budget_buys(result) -> None:
    assert result.lease_plan() == {("L", 0): 3}
    outcome = result.budget_outcomes().set_index("scenario").loc["base"]
    assert outcome["served_tokens"] == pytest.approx(SERVED_GPU_MONTHS * TOKENS_PER_GPU_MONTH, rel=1e-9)
    assert outcome["served_share"] == pytest.approx(SERVED_GPU_MONTHS / 40, rel=1e-9)
    assert outcome["cash_spend_usd"] == pytest.approx(CASH_USD, rel=1e-9)
    assert outcome["value_npv_usd"] == pytest.approx(SERVED_GPU_MONTHS * REVENUE_PER_GPU_MONTH - CASH_USD, rel=1e-9)
    assert result.objective_usd == pytest.approx(-outcome["value_npv_usd"], rel=1e-9)  # the model minimises -value


def test_one_more_dollar_is_the_dual_of_the_cash_budget(result) -> None:
    tie_break = 0.01 / CLOUD_GPU_MONTH  # a cent per GPU-month rented, per dollar
    assert result.value_of_one_more_budget_dollar() == pytest.approx(ONE_MORE_DOLLAR - tie_break, abs=1e-6)
    assert result.budget_outcomes()["value_of_one_more_usd"].tolist() == pytest.approx([ONE_MORE_DOLLAR] * 2, abs=1e-5)
    more = planner.solve(budgeted(CASH_USD + 100.0))  # within the same basis: $100 more is worth 100 x $71
    assert -more.objective_usd + result.objective_usd == pytest.approx(100 * ONE_MORE_DOLLAR, rel=1e-6)


def test_model_and_tables_agree_on_cash_and_value(result) -> None:
    outcomes = result.budget_outcomes().set_index("scenario")
    assert outcomes.loc["base", "cash_spend_usd"] == pytest.approx(result.raw["cash_spend_musd"]["base"] * 1e6)
    assert outcomes.loc["base", "value_npv_usd"] == pytest.approx(result.raw["scenario_value_musd"]["base"] * 1e6)


def test_value_and_cost_add_up_to_the_revenue_of_all_demand(result) -> None:
    """With the unserved penalty equal to the revenue, cost + value = revenue of every token demanded."""
    value = result.budget_outcomes().iloc[-1]["value_npv_usd"]
    assert result.expected_cost_usd + value == pytest.approx(40 * REVENUE_PER_GPU_MONTH, rel=1e-9)


def test_min_cost_under_the_same_cap_finds_the_same_plan() -> None:
    """The two objectives differ by a constant here: the same leases and tokens served."""
    cheapest = planner.solve(budgeted(objective="min_cost"))
    most_value = planner.solve(budgeted())
    assert cheapest.lease_plan() == most_value.lease_plan()
    assert cheapest.budget_outcomes()["served_tokens"].tolist() == pytest.approx(
        most_value.budget_outcomes()["served_tokens"].tolist(), rel=1e-9)


def test_budget_mode_weighs_revenue_not_the_unserved_penalty() -> None:
    """A penalty of $1,000 per million tokens makes min_cost serve everything it can; budget mode values a
    token at its $100 revenue: with on-demand at $3,650 a GPU-month (far below $262,800) both serve all,
    so the plans agree, but min_cost's cost counts the penalty and budget mode's value does not."""
    problem = budgeted(cash=1e6)
    problem = problem.model_validate({**problem.model_dump(), "workloads": [
        {**problem.workloads[0].model_dump(), "unserved_penalty_usd_per_million_tokens": 1000.0}]})
    result = planner.solve(problem)
    assert result.budget_outcomes().iloc[0]["served_share"] == pytest.approx(1.0)
    assert result.objective_usd == pytest.approx(-(40 * REVENUE_PER_GPU_MONTH - 10 * 4 * 1_460.0), rel=1e-9)


def test_a_cash_budget_also_binds_a_min_cost_plan() -> None:
    capped = planner.solve(budgeted(objective="min_cost"))
    assert capped.budget_outcomes().iloc[0]["cash_spend_usd"] == pytest.approx(CASH_USD)
    free = planner.solve(tiny([10.0] * 4, offers=[lease(term=4)]))
    assert free.lease_plan() == {("L", 0): 10}


def test_programs_count_in_the_cash_budget() -> None:
    """A doubling program from month 0 at $5,840 buys as much as a lease block would: same served tokens
    for the same cash, but the cash budget counts it."""
    problem = budgeted()
    problem = problem.model_validate({**problem.model_dump(),
                                      "efficiency_programs": [program(one_off=5_000.0).model_dump()]})
    result = planner.solve(problem)
    assert result.program_plan() == {("ROOT", "P", 0): 1}
    assert result.budget_outcomes().iloc[0]["cash_spend_usd"] == pytest.approx(CASH_USD)
    assert result.raw["cash_spend_musd"]["base"] * 1e6 == pytest.approx(CASH_USD)


def test_update_in_place_moves_the_budget() -> None:
    planner_ = Planner(budgeted())
    planner_.solve()
    changed = budgeted(CASH_USD * 2)
    assert planner_.update(changed) is True
    assert planner_.solve().objective_usd == pytest.approx(planner.solve(changed).objective_usd, rel=1e-9)


def test_must_serve_demand_beyond_the_budget_names_the_cash_budget() -> None:
    result = planner.solve(budgeted(unserved_allowed=False))
    assert result.status == "infeasible"
    assert result.diagnosis == ["cash_budget: scenario 'base' needs $38,400 more cash in the horizon than "
                                "max_cash_spend_usd allows (existing commitments, minimum blocks or demand that "
                                "must be served)"]


def test_commitment_cap_has_no_dual_and_says_so() -> None:
    result = planner.solve(tiny([10.0] * 4, offers=[lease(term=4)], objective="max_value_within_budget",
                                max_total_commitment_usd=20_000.0))
    assert result.lease_plan() == {("L", 0): 3}
    figures = result.budget_figures().set_index("item")["value"]
    assert figures["Value of one more dollar of commitment cap"] == COMMITMENT_DUAL_NOTE
    assert math.isnan(result.value_of_one_more_budget_dollar())


def test_cvar_in_budget_mode_weighs_the_worst_value() -> None:
    """Two worlds; omega 1 and alpha 0.5 leave the worse world alone: the objective is minus its value."""
    problem = tiny({"low": [2.0] * 4, "high": [10.0] * 4}, offers=[lease(term=4)], objective="max_value_within_budget",
                   max_cash_spend_usd=CASH_USD, cvar_weight=1.0, cvar_alpha=0.5)
    result = planner.solve(problem)
    values = result.budget_outcomes().set_index("scenario")["value_npv_usd"]
    assert result.objective_usd == pytest.approx(-min(values["low"], values["high"]), rel=1e-6)


# ---- input and command line -------------------------------------------------------------------------------


def test_budget_mode_needs_a_budget(tmp_path: Path) -> None:
    path = tmp_path / "no-budget.xlsx"
    problem = small_problem()
    write_problem(problem, path)
    from workbook_helpers import edit

    found = by_cell(issues(edit(path, {"Settings!B15": "max_value_within_budget"})))
    assert list(found) == ["Settings!B15"]
    assert found["Settings!B15"].column == "objective"
    assert found["Settings!B15"].expected.startswith("a budget to maximise value within: max_cash_spend_usd")


def test_command_line_overrides_are_validated() -> None:
    problem = tiny([10.0] * 4, offers=[lease(term=4)])
    with pytest.raises(InputError) as caught:
        with_budget(problem, objective="max_value_within_budget")
    assert caught.value.issues[0].column == "--objective"
    with pytest.raises(InputError) as caught:
        with_budget(problem, max_cash_spend_usd=-5.0)
    assert (caught.value.issues[0].column, caught.value.issues[0].found) == ("--max-cash-spend", "-5")
    assert with_budget(problem, objective="max_value_within_budget", max_cash_spend_usd=CASH_USD) == budgeted()


def test_cli_runs_the_budget_mode(tmp_path: Path) -> None:
    path = tmp_path / "tiny.xlsx"
    write_problem(tiny([10.0] * 4, offers=[lease(term=4)]), path)
    runner = CliRunner()
    solved = runner.invoke(app, ["solve", str(path), "--json", "--no-report", "--objective", "max_value_within_budget",
                                 "--max-cash-spend", "20000"])
    assert solved.exit_code == 0, solved.output
    payload = json.loads(solved.stdout)
    assert payload["objective"] == "max_value_within_budget"
    assert payload["budget"]["value_of_one_more_usd"] == pytest.approx(ONE_MORE_DOLLAR, abs=1e-5)
    [base, expected] = payload["budget"]["outcomes"]
    assert expected["scenario"] == "expected"
    assert base["served_tokens"] == pytest.approx(SERVED_GPU_MONTHS * TOKENS_PER_GPU_MONTH, rel=1e-9)
    text = runner.invoke(app, ["solve", str(path), "--no-report", "--objective", "max_value_within_budget",
                               "--max-cash-spend", "20000"])
    assert "Budget: maximise the value of tokens served less cash cost" in text.stdout
    assert "$71.00" in text.stdout
    bad = runner.invoke(app, ["solve", str(path), "--no-report", "--max-cash-spend", "-1"])
    assert bad.exit_code == 2 and "--max-cash-spend" in bad.stderr


def test_report_shows_what_the_budget_buys(tmp_path: Path, result) -> None:
    import openpyxl

    book = openpyxl.load_workbook(write_report(result, tmp_path / "budget.xlsx"))
    assert "Efficiency & budget" in book.sheetnames
    assert {"Budget_Figures", "Budget_Outcomes"} <= set(book["Efficiency & budget"].tables)


def test_realistic_budget_mode_spends_the_budget_in_every_world() -> None:
    """A binding cash budget on the realistic instance: every world spends it all and one more dollar is
    worth more than a dollar."""
    result = planner.solve(realistic(6, objective="max_value_within_budget", max_cash_spend_usd=1.2e9))
    outcomes = result.budget_outcomes().iloc[:-1]
    assert outcomes["cash_spend_usd"].tolist() == pytest.approx([1.2e9] * 3, rel=1e-6)
    assert result.value_of_one_more_budget_dollar() > 1.0
