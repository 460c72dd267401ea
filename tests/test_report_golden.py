"""The report, cell by cell, against a committed snapshot (sheets, tables, charts, formats, widths).

The snapshot pins what a reader sees on a small instance: the plan report with the full uncertainty
analysis, the same plan with a minimal uncertainty object (figures and a regret table only), and the
report of an infeasible problem; plus the header label and number format of every column name the
report can meet. Masked: timestamps, versions, timings and the solver log.

When the report is meant to change, regenerate the snapshot and review its diff::

    PLANNER_UPDATE_GOLDEN=1 python3 -m pytest tests/test_report_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from report_snapshot import differences, dumps, snapshot
from test_report import StandInUncertainty, tiny_problem

from planner.report import column_format, column_label, write_report
from planner.results import PlanResult
from planner.schema import TABLES, GpuType, OnDemand, Problem, Scenario, Settings, Throughput, Workload
from planner.solver import solve
from planner.uncertainty import analyse

GOLDEN = Path(__file__).parent / "golden" / "report_tiny.json"
UPDATE = os.environ.get("PLANNER_UPDATE_GOLDEN") == "1"
INPUT_BYTES = b"stand-in input workbook bytes"
REGENERATE = "PLANNER_UPDATE_GOLDEN=1 python3 -m pytest tests/test_report_golden.py, then review the snapshot's diff"


def infeasible_problem() -> Problem:
    """Demand that must be served with 10 on-demand GPUs and nothing else: no plan."""
    return Problem(
        settings=Settings(first_month="2025-01", months=3),
        workloads=[Workload(name="sla", revenue_usd_per_million_tokens=1.0, base_tokens_per_month=1e12,
                            unserved_allowed=False)],
        scenarios=[Scenario(name="base", probability=1.0, growth_multiple_per_year=1.0)],
        gpu_types=[GpuType(name="H100", peak_dense_bf16_tflops=989, memory_gb=80, power_kw_per_gpu=1.4)],
        throughput=[Throughput(gpu_type="H100", workload="sla", tokens_per_second_per_gpu=1000)],
        on_demand=[OnDemand(option_id="od", provider="c", gpu_type="H100", price_usd_per_gpu_hour=4, max_gpus=10)],
    )


def stand_in(result: PlanResult) -> StandInUncertainty:
    """Figures and a two-plan regret table, the minimum an uncertainty object must offer."""
    import pandas as pd

    rows = [{"plan": plan, "scenario": s, "cost_usd": 1e6 * (j + 1) * (1 + 0.1 * k), "best_cost_usd": 1e6 * (j + 1),
             "regret_usd": 1e5 * k * (j + 1)}
            for k, plan in enumerate(["stochastic", "expected-value plan"])
            for j, s in enumerate(result.data.scenarios)]
    figures = {"rp_usd": 1.0e7, "eev_usd": 1.2e7, "ws_usd": 0.9e7, "vss_usd": 0.2e7, "evpi_usd": 0.1e7}
    return StandInUncertainty(figures, pd.DataFrame(rows))


def column_names(result: PlanResult, extra: list[Any]) -> list[str]:
    """Every column name the report can meet: inputs, settings, result tables and analytics."""
    names: set[str] = set(Settings.model_fields)
    for cls in TABLES:
        names |= set(cls.model_fields)
    for method in ("leases", "lease_payments", "capacity", "utilisation", "on_demand", "credits", "credit_summary",
                   "policies", "tokens", "power", "costs", "scenario_costs", "usd_per_million_tokens",
                   "marginal_values"):
        names |= {str(c) for c in getattr(result, method)().columns}
    for frame in extra:
        names |= {str(c) for c in frame.columns}
    categories = ("leases", "upfront", "commitments", "on_demand", "credits", "throttling", "unserved", "goodwill")
    names |= {f"{c}_usd" for c in categories}
    names |= {"total_usd", "in_horizon", "leases_signed", "payment_usd", "committed_gpus", "used_committed_gpus",
              "on_demand_gpus", "in_use_gpus", "idle_gpus", "npv_usd", "nominal_usd", "on_demand_cost_usd",
              "served_share", "revenue_lost_usd", "credits_expired_usd", "mean_utilisation", "peak_power_share",
              "goodwill_usd", "item", "value", "unit", "parameter", "description", "source", "value_usd",
              "worst_cost_usd", "expected_regret_usd", "max_regret_usd", "spend_usd"}
    return sorted(names)


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("golden")
    source = folder / "tiny input.xlsx"
    source.write_bytes(INPUT_BYTES)
    result = solve(tiny_problem())
    assert result.status == "optimal"
    analysis = analyse(tiny_problem(), stochastic=result)
    minimal = stand_in(result)
    infeasible = solve(infeasible_problem())
    assert infeasible.status == "infeasible"
    reports = {
        "plan with uncertainty analysis": write_report(result, folder / "plan.xlsx", input_path=source,
                                                       uncertainty=analysis),
        "plan with minimal uncertainty": write_report(result, folder / "minimal.xlsx", input_path=source,
                                                      uncertainty=minimal),
        "no plan": write_report(infeasible, folder / "none.xlsx"),
    }
    frames = [analysis.regret_table(), analysis.expected_cost_by_plan(), analysis.lease_plans()]
    return {
        "reports": {name: snapshot(path) for name, path in reports.items()},
        "columns": {name: [column_label(name), column_format(name)] for name in column_names(result, frames)},
    }


def test_report_matches_the_snapshot_cell_by_cell(current: dict[str, Any]) -> None:
    if UPDATE:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(dumps(json.loads(json.dumps(current))) + "\n")
        pytest.skip(f"snapshot written to {GOLDEN}")
    expected = json.loads(GOLDEN.read_text())
    found = json.loads(json.dumps(current))  # the same JSON round trip as the file (tuples become lists)
    problems = differences(expected["reports"], found["reports"], "report")
    assert not problems, (f"{len(problems)} differences, first ones:\n" + "\n".join(problems[:40])
                          + f"\nIf the report is meant to change: {REGENERATE}")


def test_column_labels_and_formats_match_the_snapshot(current: dict[str, Any]) -> None:
    if UPDATE:
        pytest.skip("snapshot being written")
    expected = json.loads(GOLDEN.read_text())["columns"]
    problems = differences(expected, json.loads(json.dumps(current["columns"])), "column")
    assert not problems, "\n".join(problems[:40]) + f"\nIf the labels are meant to change: {REGENERATE}"
