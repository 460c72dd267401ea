"""Every analytic a report shows is a result method the API, the terminal and --json can read; lease
payments come from the model's own expressions (one source per number). Hand-computed instances."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyomo.environ as pyo
import pytest
from factory import LEASE_GPU_MONTH, TOKENS_PER_GPU_MONTH, cloud, lease, month, tiny
from typer.testing import CliRunner

from planner.analytics import REPORT_TABLES
from planner.cli import app
from planner.model.tree import ROOT
from planner.results import PlanResult
from planner.solver import Planner, solve
from planner.workbook import write_problem

REL = 1e-9


@pytest.fixture(scope="module")
def short_of_capacity() -> PlanResult:
    """10 GPUs of demand for 2 months, no leases, on-demand capped at 6 GPUs: 4 GPUs of demand a month
    (40%) cannot be served, whatever the price."""
    result = solve(tiny([10.0, 10.0], on_demand=[cloud(max_gpus=6)]))
    assert result.status == "optimal"
    return result


def test_unserved_share_is_a_warning_and_an_outcome(short_of_capacity: PlanResult) -> None:
    unserved = 4 * TOKENS_PER_GPU_MONTH * 2
    assert unserved == pytest.approx(21.024e9)
    assert "Scenario base: 40.0% of demand (21.0 B tokens) is left unserved." in short_of_capacity.warnings()
    (outcome,) = short_of_capacity.scenario_outcomes().to_dict(orient="records")
    assert outcome["served_share"] == pytest.approx(0.6, rel=REL)
    assert outcome["unserved_tokens"] == pytest.approx(unserved, rel=REL)
    summary = short_of_capacity.summary()
    assert summary["warnings"] == short_of_capacity.warnings()
    assert summary["scenario_outcomes"][0]["served_share"] == pytest.approx(0.6, rel=REL)


def test_json_carries_warnings_and_scenario_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "short.xlsx"
    write_problem(tiny([10.0, 10.0], on_demand=[cloud(max_gpus=6)]), path)
    run = CliRunner().invoke(app, ["solve", str(path), "--json", "--no-report"])
    assert run.exit_code == 0, run.output
    payload = json.loads(run.stdout)
    assert any("40.0% of demand" in line and "left unserved" in line for line in payload["warnings"])
    assert payload["scenario_outcomes"][0]["served_share"] == pytest.approx(0.6, rel=1e-6)


def test_every_report_table_is_a_result_method(short_of_capacity: PlanResult) -> None:
    tables = short_of_capacity.tables()
    assert list(tables) == list(REPORT_TABLES)
    assert all(isinstance(frame, pd.DataFrame) and len(frame.columns) for frame in tables.values())
    by_month = tables["capacity_by_month"]
    assert by_month["on_demand_gpus"].tolist() == pytest.approx([6.0, 6.0])
    assert by_month["served_tokens"].tolist() == pytest.approx([6 * TOKENS_PER_GPU_MONTH] * 2)


def test_tables_without_a_plan_are_empty_not_errors() -> None:
    result = solve(tiny([10.0], on_demand=[cloud(max_gpus=1)], unserved_allowed=False))
    assert result.status == "infeasible"
    tables = result.tables()
    assert tables["leases"].empty and tables["scenario_outcomes"].empty and tables["costs"].empty
    assert "Status" in set(tables["key_figures"]["item"])
    assert result.warnings()[0].startswith("No plan: the inputs cannot all be met")
    assert result.status_in_words() == "no plan: the inputs cannot all be met; the reasons follow"


def test_key_figures_and_lease_totals(short_of_capacity: PlanResult) -> None:
    figures = short_of_capacity.key_figures().set_index("item")
    assert figures.loc["Status", "value"] == "optimal"
    assert figures.loc["Objective (NPV: cash + demand not served)", "unit"] == "USD"
    assert figures.loc["New lease commitment (all payments)", "value"] == 0.0
    assert figures.loc["Horizon", "value"] == "2025-01 to 2025-02 (2 months)"


# ---- one source per number: lease money read from the model -------------------------------------

@pytest.fixture(scope="module")
def leased() -> PlanResult:
    """10 GPUs for 2 months; a 4-month lease at $2 with $1,000 upfront per 1-GPU block beats on-demand:
    10 x 4 x 1,460 + 10 x 1,000 = 68,400 < 10 x 2 x 3,650 = 73,000."""
    result = solve(tiny([10.0, 10.0], offers=[lease(term=4, upfront=1000.0)]))
    assert result.status == "optimal" and result.lease_plan() == {("L", 0): 10}
    return result


def test_lease_payments_are_the_model_expressions(leased: PlanResult) -> None:
    m = leased.model
    assert pyo.value(m.lease_monthly_payment_musd[ROOT, "L", 0]) * 1e6 == pytest.approx(10 * LEASE_GPU_MONTH, rel=REL)
    assert pyo.value(m.lease_signing_payment_musd[ROOT, "L", 0]) * 1e6 == pytest.approx(10_000.0, rel=REL)
    (row,) = leased.leases().to_dict(orient="records")
    assert row["monthly_payment_usd"] == 10 * LEASE_GPU_MONTH  # exact: the MUSD scaling noise is rounded off
    assert row["upfront_usd"] == 10_000.0
    assert row["total_commitment_usd"] == 4 * 10 * LEASE_GPU_MONTH + 10_000.0
    payments = leased.lease_payments()
    assert payments["month"].tolist() == [month(t) for t in range(4)]
    assert payments["payment_usd"].tolist() == [10 * LEASE_GPU_MONTH + 10_000.0] + [10 * LEASE_GPU_MONTH] * 3


def test_per_lease_payments_add_up_to_the_cost_terms(leased: PlanResult) -> None:
    """The monthly cost terms of the objective are the sums of the per-lease expressions, and the
    result's payment schedule equals the leases and upfront cost categories month by month."""
    m = leased.model
    for t in m.PAYMENT_MONTHS:
        paying = [(o, k) for (o, k), months in m.data.lease_payment_months.items() if t in months]
        assert pyo.value(m.lease_payment_musd[ROOT, t]) == pytest.approx(
            sum(pyo.value(m.lease_monthly_payment_musd[ROOT, o, k]) for o, k in paying), rel=REL, abs=1e-12)
    costs = leased.costs()
    lease_costs = costs[costs["category"].isin(["leases", "upfront"])].groupby("month")["cost_usd"].sum()
    schedule = leased.lease_payments().groupby("month")["payment_usd"].sum()
    assert schedule.to_dict() == pytest.approx(lease_costs.to_dict(), rel=REL)


def test_lease_payments_follow_a_price_changed_in_place() -> None:
    """A sweep changes the price in the model without rebuilding: the lease tables follow the model."""
    problem = tiny([10.0, 10.0], offers=[lease(term=4)])
    planner = Planner(problem)
    first = planner.solve()
    offer = problem.lease_offers[0].model_copy(update={"price_usd_per_gpu_hour": 1.5})
    cheaper = problem.model_copy(update={"lease_offers": [offer]})
    assert planner.update(cheaper)
    second = planner.solve()
    assert first.leases().loc[0, "monthly_payment_usd"] == pytest.approx(10 * LEASE_GPU_MONTH, rel=REL)
    assert second.leases().loc[0, "monthly_payment_usd"] == pytest.approx(10 * 1.5 * 730.0, rel=REL)
    assert second.lease_commitment_usd() == pytest.approx(4 * 10 * 1.5 * 730.0, rel=REL)
