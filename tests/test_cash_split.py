"""Cash apart from the cost of demand not served: a hand-computed instance, through the API, --json,
the terminal and the Summary sheet."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from factory import (
    CLOUD_GPU_MONTH,
    HOURS,
    LEASE_GPU_MONTH,
    TOKENS_PER_GPU_MONTH,
    cloud,
    commitment,
    credit,
    lease,
    tiny,
)
from test_report import read_table, tiny_problem
from typer.testing import CliRunner

from planner.analytics import DEMAND_NOT_SERVED_CATEGORIES, SPEND_CATEGORIES
from planner.cli import app
from planner.report import write_report
from planner.results import PlanResult
from planner.schema import Problem
from planner.solver import solve
from planner.workbook import write_problem

REL = 1e-9
UNSERVED_GPU_MONTH = 100.0 * TOKENS_PER_GPU_MONTH / 1e6
"""$262,800: a GPU-month of tokens at the default revenue (the unserved penalty) of $100 per million."""
COMMITMENT_GPU_MONTH = 1.0 * HOURS


def hand_problem() -> Problem:
    """Two months, demand of 10 GPUs (low) or 20 GPUs (high), each with probability 0.5.

    Capacity: 2 GPUs already committed at $1/GPU-hour ($730 a GPU-month); a lease at $2 ($1,460) with
    $100 upfront per 1-GPU block, at most 10 blocks, for both months; on-demand at $5 ($3,650) for at most
    6 GPUs, with a $2,000 credit; unserved demand costs $262,800 a GPU-month. Every lease block pays for
    itself in the high scenario, so all 10 are signed. Low: 12 GPUs cover 10, nothing else. High: 12 + 6
    on-demand = 18 of 20, so 2 GPUs' worth of tokens go unserved each month and the credit is spent.
    """
    return tiny({"low": [10.0, 10.0], "high": [20.0, 20.0]},
                offers=[lease(term=2, max_blocks=10, upfront=100.0)], on_demand=[cloud(max_gpus=6)],
                credits=[credit(amount=2_000.0, expiry=1)],
                commitments=[commitment(gpus=2, start=0, end=1, price=1.0)])


FIRST_STAGE = 10 * 2 * LEASE_GPU_MONTH + 10 * 100.0 + 2 * 2 * COMMITMENT_GPU_MONTH
"""$33,120: leases 29,200 + upfront 1,000 + commitment 2,920, in both scenarios."""
CASH = {"low": FIRST_STAGE, "high": FIRST_STAGE + 6 * 2 * CLOUD_GPU_MONTH - 2_000.0}
NOT_SERVED = {"low": 0.0, "high": 2 * 2 * UNSERVED_GPU_MONTH}


@pytest.fixture(scope="module")
def hand() -> PlanResult:
    result = solve(hand_problem())
    assert result.status == "optimal" and result.lease_plan() == {("L", 0): 10}
    return result


def test_cash_and_demand_not_served_by_hand(hand: PlanResult) -> None:
    split = hand.cash_and_economic_costs().set_index("scenario")
    assert list(split.index) == ["low", "high", "expected"]
    assert CASH == {"low": 33_120.0, "high": 74_920.0} and NOT_SERVED["high"] == 1_051_200.0
    for s in ("low", "high"):
        assert split.loc[s, "cash_npv_usd"] == pytest.approx(CASH[s], rel=REL)
        assert split.loc[s, "cash_nominal_usd"] == pytest.approx(CASH[s], rel=REL)  # no discounting here
        assert split.loc[s, "demand_not_served_npv_usd"] == pytest.approx(NOT_SERVED[s], rel=REL, abs=1e-6)
        assert split.loc[s, "npv_usd"] == pytest.approx(CASH[s] + NOT_SERVED[s], rel=REL)
    assert split.loc["low", "served_share"] == pytest.approx(1.0, rel=REL)
    assert split.loc["high", "served_share"] == pytest.approx(0.9, rel=REL)
    assert split.loc["high", "unserved_share"] == pytest.approx(0.1, rel=REL)
    assert split.loc["high", "throttled_share"] == pytest.approx(0.0, abs=1e-9)
    expected = split.loc["expected"]
    assert expected["probability"] == 1.0
    assert expected["cash_npv_usd"] == pytest.approx(54_020.0, rel=REL)
    assert expected["demand_not_served_npv_usd"] == pytest.approx(525_600.0, rel=REL)
    assert expected["npv_usd"] == pytest.approx(hand.objective_usd, rel=REL)
    assert expected["served_share"] == pytest.approx(56 / 60, rel=REL)  # of the expected demand


def test_split_covers_every_cost_category(hand: PlanResult) -> None:
    """Cash + demand not served is every category, on an instance with throttling and goodwill too."""
    assert set(SPEND_CATEGORIES) | set(DEMAND_NOT_SERVED_CATEGORIES) == {
        "leases", "upfront", "commitments", "on_demand", "credits", "efficiency", "throttling", "unserved", "goodwill"}
    assert not set(SPEND_CATEGORIES) & set(DEMAND_NOT_SERVED_CATEGORIES)
    result = solve(tiny_problem())
    by_category = result.npv_by_scenario().set_index("scenario")
    assert (by_category["throttling_usd"] > 0).all() and (by_category["goodwill_usd"] > 0).all()
    split = result.cash_and_economic_costs().set_index("scenario").drop(index="expected")
    # no efficiency programs here: their column is not shown
    cash = sum(by_category[f"{c}_usd"] for c in SPEND_CATEGORIES if c != "efficiency")
    not_served = sum(by_category[f"{c}_usd"] for c in DEMAND_NOT_SERVED_CATEGORIES)
    assert split["cash_npv_usd"].tolist() == pytest.approx(cash.tolist(), rel=REL)
    assert split["demand_not_served_npv_usd"].tolist() == pytest.approx(not_served.tolist(), rel=REL)
    assert split["npv_usd"].tolist() == pytest.approx(result.scenario_costs()["npv_usd"].tolist(), rel=1e-7)


def test_a_scenario_named_expected_keeps_its_row() -> None:
    result = solve(tiny({"expected": [1.0], "other": [2.0]}))
    assert list(result.cash_and_economic_costs()["scenario"]) == [
        "expected", "other", "expected (probability-weighted)"]


def test_without_a_plan_the_split_is_empty() -> None:
    result = solve(tiny([10.0], on_demand=[cloud(max_gpus=1)], unserved_allowed=False))
    assert not result.has_plan and result.cash_and_economic_costs().empty
    summary = result.summary()
    assert summary["expected_cash_npv_usd"] is None and summary["cash_and_economic_costs"] == []


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("split") / "hand.xlsx"
    write_problem(hand_problem(), path)
    return path


def test_json_separates_cash_from_demand_not_served(workbook: Path) -> None:
    run = CliRunner().invoke(app, ["solve", str(workbook), "--json", "--no-report"])
    assert run.exit_code == 0, run.output
    payload = json.loads(run.stdout)
    assert payload["status_text"] == "optimal plan"
    assert payload["expected_cash_npv_usd"] == pytest.approx(54_020.0, rel=1e-6)
    assert payload["expected_demand_not_served_npv_usd"] == pytest.approx(525_600.0, rel=1e-6)
    rows = {row["scenario"]: row for row in payload["cash_and_economic_costs"]}
    assert rows["high"]["cash_npv_usd"] == pytest.approx(74_920.0, rel=1e-6)
    assert rows["high"]["served_share"] == pytest.approx(0.9, rel=1e-6)


def test_terminal_shows_cash_demand_not_served_and_share_served(workbook: Path) -> None:
    run = CliRunner().invoke(app, ["solve", str(workbook), "--no-report"], env={"COLUMNS": "120"})
    assert run.exit_code == 0, run.output
    out = run.stdout
    assert "Plan: optimal plan" in out
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in out.splitlines() if line.startswith("│")}
    assert rows["low"] == ["50%", "$33,120", "$0", "$33,120", "100%"]
    assert rows["high"] == ["50%", "$74,920", "$1.05M", "$1.13M", "90%"]
    assert rows["expected"] == ["100%", "$54,020", "$525,600", "$579,620", "93%"]
    assert "it is not what is spent" in out
    assert "sign 10 blocks of L" in out
    assert "Scenario high: 10.0% of demand (10.5 B tokens) is left unserved." in out


def test_summary_sheet_shows_the_split(hand: PlanResult, tmp_path: Path) -> None:
    path = write_report(hand, tmp_path / "hand-plan.xlsx")
    wb = openpyxl.load_workbook(path)
    table = read_table(path, wb, "Summary", "Summary_CashAndEconomic").set_index("Scenario")
    assert table.loc["high", "Cash cost (USD, NPV)"] == pytest.approx(74_920.0, rel=1e-9)
    assert table.loc["expected", "Demand not served (USD, NPV)"] == pytest.approx(525_600.0, rel=1e-9)
    assert table.loc["high", "Served (% of demand)"] == pytest.approx(0.9, rel=1e-9)
    figures = read_table(path, wb, "Summary", "Summary_KeyFigures").set_index("Item")["Value"]
    assert float(figures["Expected cash cost (NPV)"]) == pytest.approx(54_020.0, rel=1e-9)
