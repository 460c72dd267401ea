"""The Excel report: every sheet, table and chart exists, numbers match the result, text stays text,
writes are atomic and bad report paths are clear input errors."""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter, range_boundaries

import planner.excel.files as files
import planner.excel.layout as layout
import planner.excel.writer as writer
import planner.report.plan as plan_report
from planner.errors import InputError
from planner.report import column_label, default_report_path, write_report
from planner.results import PlanResult
from planner.schema import (
    Credit,
    GpuType,
    LeaseOffer,
    OnDemand,
    Policy,
    PolicyEffect,
    Problem,
    Scenario,
    Settings,
    Site,
    Throughput,
    Workload,
)
from planner.solver import solve

HOSTILE_NAME = '=HYPERLINK("http://x","y")'
HOSTILE_TEXTS = (HOSTILE_NAME, "=1+1", "@SUM(A1)", "+1", "-1", "#N/A")

PLAN_SHEETS = ["Summary", "Leases", "Capacity", "Costs", "Cloud & credits", "Policies", "Power", "Scenarios",
               "Marginal values", "Inputs", "Diagnostics"]
PLAN_TABLES = {
    "Summary": {"Summary_KeyFigures", "Summary_CashAndEconomic"},
    "Leases": {"Leases", "Leases_PaymentsByMonth", "Leases_Payments"},
    "Capacity": {"Capacity_ByMonth", "Capacity_ByTypeAndSite"},
    "Costs": {"Costs_ExpectedByMonth", "Costs_NPVByScenario", "Costs_Detail", "Costs_PerMillionTokens"},
    "Cloud & credits": {"Cloud_OnDemand", "Cloud_CreditUse", "Cloud_CreditBurn"},
    "Policies": {"Policies_ByMonth", "Policies_TokensByWorkload"},
    "Power": {"Power_BySite"},
    "Scenarios": {"Scenarios_CashAndEconomic", "Scenarios_Outcomes"},
    "Marginal values": {"MarginalValues"},
    "Inputs": {"Input_Settings", "Input_Workloads", "Input_Scenarios", "Input_GPUTypes", "Input_Throughput",
               "Input_Sites", "Input_LeaseOffers", "Input_OnDemand", "Input_Credits", "Input_Policies",
               "Input_PolicyEffects", "Input_ThroughputAsModelled"},
    "Diagnostics": {"Diagnostics_Run", "Diagnostics_ModelSize"},
}


def tiny_problem() -> Problem:
    """6 months, 2 workloads, 2 scenarios, one lease offer, on-demand with a credit, two policies;
    hostile text in a workload name, a scenario name and notes."""
    return Problem(
        settings=Settings(first_month="2025-01", months=6, mip_gap=1e-6),
        workloads=[
            Workload(name="chat", revenue_usd_per_million_tokens=2.0, base_tokens_per_month=2e12,
                     peak_to_average_ratio=1.5, notes="=1+1"),
            Workload(name=HOSTILE_NAME, revenue_usd_per_million_tokens=1.0, base_tokens_per_month=5e11,
                     notes="@SUM(A1)"),
        ],
        scenarios=[Scenario(name="steady", probability=0.6, growth_multiple_per_year=2.0, notes="+1"),
                   Scenario(name="@SUM(A1)", probability=0.4, growth_multiple_per_year=20.0, notes="-1")],
        gpu_types=[GpuType(name="H100", peak_dense_bf16_tflops=989, memory_gb=80, power_kw_per_gpu=1.4,
                           availability_factor=0.95)],
        throughput=[Throughput(gpu_type="H100", workload="chat", tokens_per_second_per_gpu=1500),
                    Throughput(gpu_type="H100", workload=HOSTILE_NAME, tokens_per_second_per_gpu=2500)],
        sites=[Site(name="Memphis", power_cap_mw=5.0, pue=1.2)],
        lease_offers=[LeaseOffer(offer_id="L1", provider="CoreSpan", site="Memphis", gpu_type="H100",
                                 gpus_per_block=8, price_usd_per_gpu_hour=2.0, term_months=6,
                                 earliest_start_month="2025-01", latest_start_month="2025-04", max_blocks=300,
                                 upfront_usd_per_block=1000.0, notes="=1+1")],
        on_demand=[OnDemand(option_id="od1", provider="cloud-a", gpu_type="H100", price_usd_per_gpu_hour=4.0,
                            max_gpus=1500)],
        credits=[Credit(credit_id="c1", provider="cloud-a", amount_usd=600_000, valid_from_month="2025-01",
                        expiry_month="2025-03", notes="#N/A")],
        policies=[Policy(name="open"), Policy(name="peak limits", goodwill_cost_usd_per_month=20_000)],
        policy_effects=[PolicyEffect(policy="peak limits", workload="chat", admitted_fraction=0.9,
                                     peak_to_average_multiplier=0.7)],
    )


@dataclass
class StandInUncertainty:
    """The planner.uncertainty contract: figures and a regret table."""

    figures: dict[str, float]
    table: pd.DataFrame

    def regret_table(self) -> pd.DataFrame:
        return self.table.copy()


@pytest.fixture(scope="module")
def result() -> PlanResult:
    solved = solve(tiny_problem())
    assert solved.status == "optimal" and solved.has_plan
    assert not solved.leases().empty, "the tiny problem should sign a lease"
    return solved


@pytest.fixture(scope="module")
def uncertainty(result: PlanResult) -> StandInUncertainty:
    scenarios = result.data.scenarios
    rows = []
    for k, plan in enumerate(["stochastic", "expected-value plan"]):
        for j, s in enumerate(scenarios):
            best = 1e6 * (j + 1)
            cost = best + 1e5 * k * (j + 1)
            rows.append({"plan": plan, "scenario": s, "cost_usd": cost, "best_cost_usd": best,
                         "regret_usd": cost - best})
    figures = {"rp_usd": 1.0e7, "eev_usd": 1.2e7, "ws_usd": 0.9e7, "vss_usd": 0.2e7, "evpi_usd": 0.1e7}
    return StandInUncertainty(figures, pd.DataFrame(rows))


@pytest.fixture(scope="module")
def report_path(result: PlanResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    source = folder / "tiny input.xlsx"
    source.write_bytes(b"stand-in input workbook bytes")
    return write_report(result, folder / "tiny-plan.xlsx", input_path=source)


@pytest.fixture(scope="module")
def workbook(report_path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(report_path)


def read_table(path: Path, wb: openpyxl.Workbook, sheet: str, name: str) -> pd.DataFrame:
    """An Excel Table read with pandas, located by its ref (header row read as the column names;
    pandas would otherwise rename a header that repeats one of a table beside it)."""
    min_col, min_row, max_col, max_row = range_boundaries(wb[sheet].tables[name].ref)
    raw = pd.read_excel(path, sheet_name=sheet, header=None, skiprows=min_row - 1, nrows=max_row - min_row + 1,
                        usecols=f"{get_column_letter(min_col)}:{get_column_letter(max_col)}")
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = [str(v) for v in raw.iloc[0]]
    return frame.infer_objects()


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """A result frame as the report shows it: readable headers, empty text as a blank cell."""
    return frame.rename(columns=column_label).replace("", float("nan"))


def all_cells(wb: openpyxl.Workbook):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    yield ws.title, cell


# ---- structure ----------------------------------------------------------------------------------

def test_every_sheet_table_and_chart_exists(workbook: openpyxl.Workbook, result: PlanResult) -> None:
    assert workbook.sheetnames == PLAN_SHEETS
    for sheet, tables in PLAN_TABLES.items():
        assert set(workbook[sheet].tables) == tables, sheet
    charts = {ws.title: len(ws._charts) for ws in workbook.worksheets}
    assert charts["Summary"] == 2  # cash cost, cost of demand not served
    assert charts["Costs"] == 2
    assert charts["Capacity"] == 1 + len(result.data.scenarios)  # utilisation + one per scenario
    assert sum(charts.values()) == 4 + 1 + len(result.data.scenarios)


def test_charts_are_the_right_kind(workbook: openpyxl.Workbook, result: PlanResult) -> None:
    cash, not_served = workbook["Costs"]._charts
    for chart in (cash, not_served):
        assert chart.tagname == "barChart" and chart.grouping == "stacked"
        assert all("'Costs'!" in s.val.numRef.f for s in chart.series)
    by_month = workbook["Costs"].tables["Costs_ExpectedByMonth"]
    first_col = range_boundaries(by_month.ref)[0]

    def categories(chart: object) -> list[str]:
        return [by_month.column_names[range_boundaries(s.val.numRef.f.split("!")[1])[0] - first_col]
                for s in chart.series]

    # cash apart from the cost of demand not served: non-zero categories only
    assert categories(cash) == ["Leases (USD)", "Upfront (USD)", "On-demand cloud (USD)", "Credits (USD)"]
    assert categories(not_served) == ["Revenue lost to throttling (USD)", "Goodwill (USD)"]
    utilisation, *capacity = workbook["Capacity"]._charts
    assert utilisation.tagname == "lineChart" and len(utilisation.series) == len(result.data.scenarios)
    for chart in capacity:
        assert chart.tagname == "lineChart"
        assert len(chart.series) + sum(len(c.series) for c in chart._charts[1:]) == 4  # 2 GPU + 2 token lines


def test_every_table_reads_back_with_pandas(report_path: Path, workbook: openpyxl.Workbook) -> None:
    for ws in workbook.worksheets:
        for name, ref in ws.tables.items():
            _, min_row, _, max_row = range_boundaries(ref)
            frame = read_table(report_path, workbook, ws.title, name)
            assert len(frame) == max_row - min_row > 0, name
            assert list(frame.columns) == ws.tables[name].column_names, name


def test_headers_carry_units_and_formats(workbook: openpyxl.Workbook) -> None:
    ws = workbook["Leases"]
    headers = ws.tables["Leases"].column_names
    assert "Total commitment (USD)" in headers and "Price (USD/GPU-hour)" in headers
    min_col, min_row, _, _ = range_boundaries(ws.tables["Leases"].ref)
    first = {h: ws.cell(min_row + 1, min_col + j) for j, h in enumerate(headers)}
    assert first["Total commitment (USD)"].number_format == "$#,##0"
    assert first["Price (USD/GPU-hour)"].number_format == "$#,##0.00"
    cap = workbook["Capacity"]
    names = cap.tables["Capacity_ByMonth"].column_names
    col = range_boundaries(cap.tables["Capacity_ByMonth"].ref)[0] + names.index("Utilisation (%)")
    assert cap.cell(range_boundaries(cap.tables["Capacity_ByMonth"].ref)[1] + 1, col).number_format == "0.0%"
    # every numeric column of a result table names its unit
    for sheet in PLAN_SHEETS[1:-2]:
        for table in workbook[sheet].tables.values():
            min_col, min_row, _, _ = range_boundaries(table.ref)
            for j, header in enumerate(table.column_names):
                value = workbook[sheet].cell(min_row + 1, min_col + j).value
                if isinstance(value, int | float) and not isinstance(value, bool):
                    assert "(" in header and header.endswith(")"), f"{sheet}: {header}"


def test_frozen_headers_and_fitting_widths(workbook: openpyxl.Workbook) -> None:
    for sheet in PLAN_SHEETS[1:-2]:
        ws = workbook[sheet]
        header_row = min(range_boundaries(t.ref)[1] for t in ws.tables.values())
        assert ws.freeze_panes == f"A{header_row + 1}", sheet
        for table in ws.tables.values():
            min_col = range_boundaries(table.ref)[0]
            for j, header in enumerate(table.column_names):
                width = ws.column_dimensions[get_column_letter(min_col + j)].width
                assert len(header) <= width <= layout.MAX_COLUMN_WIDTH, (sheet, header, width)
    assert workbook["Summary"].freeze_panes == "A2"


def test_no_formulas_anywhere(report_path: Path, workbook: openpyxl.Workbook) -> None:
    assert all(cell.data_type != "f" for _, cell in all_cells(workbook))
    with zipfile.ZipFile(report_path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = archive.read(name).decode("utf-8")
                assert "<f>" not in xml and "<f " not in xml, name


# ---- numbers ------------------------------------------------------------------------------------

def test_costs_add_up_to_the_objective(report_path: Path, workbook: openpyxl.Workbook, result: PlanResult) -> None:
    npv = read_table(report_path, workbook, "Costs", "Costs_NPVByScenario")
    expected = float((npv["Probability (%)"] * npv["NPV (USD)"]).sum())
    tolerance = max(result.mip_gap or 0.0, 1e-6) * abs(result.objective_usd) + 1.0
    assert expected == pytest.approx(result.expected_cost_usd, abs=tolerance)
    assert expected == pytest.approx(result.objective_usd, abs=tolerance)  # no CVaR: objective = expected cost
    categories = [column_label(f"{c}_usd") for c in result.cost_categories()]
    assert (npv[categories].sum(axis=1) - npv["NPV (USD)"]).abs().max() < 1e-3
    detail = read_table(report_path, workbook, "Costs", "Costs_Detail")
    by_scenario = detail.groupby("Scenario")["Discounted (USD, NPV)"].sum()
    for _, row in npv.iterrows():
        assert by_scenario[row["Scenario"]] == pytest.approx(row["NPV (USD)"], rel=1e-9)
    model = result.scenario_costs().set_index("scenario")["npv_usd"]
    assert dict(zip(npv["Scenario"], npv["NPV (USD)"], strict=True)) == pytest.approx(model.to_dict(), rel=1e-9)
    monthly = read_table(report_path, workbook, "Costs", "Costs_ExpectedByMonth")
    weights = result.costs()["scenario"].map(result.data.probability)
    assert monthly["Total (USD)"].sum() == pytest.approx(float((result.costs()["cost_usd"] * weights).sum()))


def test_leases_match_the_result(report_path: Path, workbook: openpyxl.Workbook, result: PlanResult) -> None:
    leases = read_table(report_path, workbook, "Leases", "Leases")
    pd.testing.assert_frame_equal(leases, labelled(result.leases()), check_dtype=False)
    detail = read_table(report_path, workbook, "Leases", "Leases_Payments")
    payments = labelled(result.lease_payments().assign(in_horizon=lambda f: f["in_horizon"].map({True: "yes",
                                                                                               False: "no"})))
    pd.testing.assert_frame_equal(detail, payments, check_dtype=False)
    monthly = read_table(report_path, workbook, "Leases", "Leases_PaymentsByMonth")
    assert monthly["Payment (USD)"].sum() == pytest.approx(result.leases()["total_commitment_usd"].sum())


def test_result_tables_match(report_path: Path, workbook: openpyxl.Workbook, result: PlanResult) -> None:
    pairs = [("Capacity", "Capacity_ByTypeAndSite", result.capacity()),
             ("Cloud & credits", "Cloud_OnDemand", result.on_demand()),
             ("Cloud & credits", "Cloud_CreditUse", result.credit_summary()),
             ("Cloud & credits", "Cloud_CreditBurn", result.credits()),
             ("Policies", "Policies_TokensByWorkload", result.tokens()),
             ("Power", "Power_BySite", result.power()),
             ("Marginal values", "MarginalValues", result.marginal_values())]
    for sheet, name, frame in pairs:
        got = read_table(report_path, workbook, sheet, name)
        pd.testing.assert_frame_equal(got, labelled(frame), check_dtype=False, obj=name)
    by_month = read_table(report_path, workbook, "Capacity", "Capacity_ByMonth")
    assert len(by_month) == len(result.data.scenarios) * result.problem.settings.months
    assert by_month["Committed (GPUs)"].sum() == pytest.approx(result.capacity()["gpus_installed"].sum())
    policy = read_table(report_path, workbook, "Policies", "Policies_ByMonth")
    merged = policy.merge(result.policies(), left_on=["Scenario", "Month"], right_on=["scenario", "month"])
    assert len(merged) == len(policy) and (merged["Policy"] == merged["policy"]).all()


DERIVED_TABLES = [("Leases", "Leases_PaymentsByMonth", "lease_schedule_by_month"),
                  ("Capacity", "Capacity_ByMonth", "capacity_by_month"),
                  ("Costs", "Costs_ExpectedByMonth", "expected_cost_by_month"),
                  ("Costs", "Costs_NPVByScenario", "npv_by_scenario"),
                  ("Costs", "Costs_PerMillionTokens", "usd_per_million_tokens"),
                  ("Policies", "Policies_ByMonth", "policy_by_month"),
                  ("Scenarios", "Scenarios_Outcomes", "scenario_outcomes"),
                  ("Scenarios", "Scenarios_CashAndEconomic", "cash_and_economic_costs"),
                  ("Inputs", "Input_ThroughputAsModelled", "throughput_as_modelled")]


@pytest.mark.parametrize(("sheet", "name", "method"), DERIVED_TABLES, ids=[m for *_, m in DERIVED_TABLES])
def test_derived_tables_are_the_result_methods(report_path: Path, workbook: openpyxl.Workbook, result: PlanResult,
                                               sheet: str, name: str, method: str) -> None:
    """What the report shows by month and per scenario is what the API (and --json) returns."""
    frame = getattr(result, method)()
    frame = frame.apply(lambda column: column.map({True: "yes", False: "no"}) if column.dtype == bool else column)
    got = read_table(report_path, workbook, sheet, name)
    pd.testing.assert_frame_equal(got, labelled(frame), check_dtype=False, check_exact=False, rtol=1e-9, obj=name)


def test_summary_states_status_costs_and_decisions(report_path: Path, workbook: openpyxl.Workbook,
                                                   result: PlanResult) -> None:
    summary = workbook["Summary"]
    assert summary["A2"].value.startswith(f"Status: {result.status_in_words()}. Run ")
    figures = read_table(report_path, workbook, "Summary", "Summary_KeyFigures").set_index("Item")["Value"]
    assert "Status" not in figures  # stated in words above the figures
    assert float(figures["Objective (NPV: cash + demand not served)"]) == pytest.approx(result.objective_usd)
    expected = result.cash_and_economic_costs().iloc[-1]
    assert float(figures["Expected cash cost (NPV)"]) == pytest.approx(expected["cash_npv_usd"])
    assert float(figures["Expected cost of demand not served (NPV)"]) == pytest.approx(
        expected["demand_not_served_npv_usd"])
    texts = {cell.value for _, cell in all_cells(workbook) if isinstance(cell.value, str)}
    for line in result.headline_decisions():
        assert line in texts
    costs = read_table(report_path, workbook, "Summary", "Summary_CashAndEconomic")
    assert list(costs["Scenario"]) == [*result.data.scenarios, "expected"]
    assert list(costs.columns) == ["Scenario", "Probability (%)", "Cash cost (USD, NPV)",
                                   "Demand not served (USD, NPV)", "NPV (USD)", "Served (% of demand)"]


def test_diagnostics_hold_the_hashes_and_versions(report_path: Path, workbook: openpyxl.Workbook) -> None:
    run = read_table(report_path, workbook, "Diagnostics", "Diagnostics_Run").set_index("Item")["Value"]
    source = report_path.parent / "tiny input.xlsx"
    assert run["Input file"] == source.name
    assert run["Input file SHA-256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    for label in ("planner version", "Pyomo version", "HiGHS (highspy) version", "Run timestamp"):
        assert isinstance(run[label], str) and run[label]
    summary_widths = [dim.width for dim in workbook["Summary"].column_dimensions.values() if dim.width]
    assert max(summary_widths) < 64  # no column sized by a SHA-256


def test_inputs_echo_the_validated_problem(report_path: Path, workbook: openpyxl.Workbook) -> None:
    problem = tiny_problem()
    workloads = read_table(report_path, workbook, "Inputs", "Input_Workloads")
    assert list(workloads["Name"]) == [w.name for w in problem.workloads]
    assert list(workloads["Notes"]) == [w.notes for w in problem.workloads]
    settings = read_table(report_path, workbook, "Inputs", "Input_Settings").set_index("Parameter")["Value"]
    assert settings["first_month"] == "2025-01" and int(settings["months"]) == 6
    offers = read_table(report_path, workbook, "Inputs", "Input_LeaseOffers")
    assert offers["Price (USD/GPU-hour)"].tolist() == [2.0]


# ---- hostile text -------------------------------------------------------------------------------

def test_hostile_input_text_is_stored_as_text(workbook: openpyxl.Workbook) -> None:
    found: dict[str, int] = dict.fromkeys(HOSTILE_TEXTS, 0)
    for _, cell in all_cells(workbook):
        if cell.value in found:
            found[cell.value] += 1
            assert cell.data_type == "s", (cell.coordinate, cell.value)
            assert cell.quotePrefix, (cell.coordinate, cell.value)  # editing the cell keeps it text
    assert all(found.values()), found
    inputs = workbook["Inputs"]
    names = [c.value for row in inputs.iter_rows() for c in row if c.value == HOSTILE_NAME]
    assert names  # the workload name itself, not a hyperlink
    assert not any(cell.hyperlink for _, cell in all_cells(workbook))


# ---- regret and no-plan reports -----------------------------------------------------------------

def test_regret_sheet(result: PlanResult, uncertainty: StandInUncertainty, tmp_path: Path) -> None:
    path = write_report(result, tmp_path / "regret.xlsx", uncertainty=uncertainty)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [*PLAN_SHEETS[:-2], "Regret", *PLAN_SHEETS[-2:]]
    ws = wb["Regret"]
    assert set(ws.tables) == {"Regret_Figures", "Regret_Table"}
    (chart,) = ws._charts
    assert chart.tagname == "barChart" and chart.grouping == "clustered" and len(chart.series) == 2
    figures = read_table(path, wb, "Regret", "Regret_Figures")
    assert sorted(figures["Value (USD)"]) == sorted(uncertainty.figures.values())
    table = read_table(path, wb, "Regret", "Regret_Table")
    pd.testing.assert_frame_equal(table, labelled(uncertainty.regret_table()), check_dtype=False)


def test_regret_sheet_from_the_uncertainty_analysis(tmp_path: Path) -> None:
    from planner.uncertainty import analyse

    analysis = analyse(tiny_problem())
    path = write_report(analysis.stochastic, tmp_path / "analysis.xlsx", uncertainty=analysis)
    wb = openpyxl.load_workbook(path)
    assert {"Regret_Figures", "Regret_Table"} <= set(wb["Regret"].tables)
    assert len(wb["Regret"]._charts) == 1
    table = read_table(path, wb, "Regret", "Regret_Table")
    assert len(table) == len(analysis.regret_table())
    assert table["Regret (USD)"].sum() == pytest.approx(analysis.regret_table()["regret_usd"].sum())


def test_report_without_a_plan(tmp_path: Path) -> None:
    problem = Problem(
        settings=Settings(first_month="2025-01", months=3),
        workloads=[Workload(name="sla", revenue_usd_per_million_tokens=1.0, base_tokens_per_month=1e12,
                            unserved_allowed=False)],
        scenarios=[Scenario(name="base", probability=1.0, growth_multiple_per_year=1.0)],
        gpu_types=[GpuType(name="H100", peak_dense_bf16_tflops=989, memory_gb=80, power_kw_per_gpu=1.4)],
        throughput=[Throughput(gpu_type="H100", workload="sla", tokens_per_second_per_gpu=1000)],
        on_demand=[OnDemand(option_id="od", provider="c", gpu_type="H100", price_usd_per_gpu_hour=4, max_gpus=10)],
    )
    infeasible = solve(problem)
    assert infeasible.status == "infeasible" and not infeasible.has_plan
    path = write_report(infeasible, tmp_path / "none.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "Inputs", "Diagnostics"]
    assert sum(len(ws._charts) for ws in wb.worksheets) == 0
    assert wb["Summary"]["A2"].value.startswith("No plan: the inputs cannot all be met")  # the alert, in red
    assert not any(str(cell.value).startswith("Status:") for cell in wb["Summary"]["A"][:6])  # the alert says it
    # each reason once on the Summary, wrapped to the printed width
    column_a = " ".join(str(cell.value) for cell in wb["Summary"]["A"] if cell.value is not None)
    assert infeasible.diagnosis and all(column_a.count(line.split()[0] + " " + line.split()[1]) == 1
                                        for line in infeasible.diagnosis)
    assert all(" ".join(line.split()) in " ".join(column_a.split()) for line in infeasible.diagnosis)


# ---- atomic writes and bad paths ----------------------------------------------------------------

@pytest.mark.parametrize("stage", ["building a sheet", "writing a sheet"])
def test_failed_write_leaves_nothing(result: PlanResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     stage: str) -> None:
    from openpyxl.worksheet._writer import ALL_TEMP_FILES  # openpyxl's own sheet streams

    def broken(*_: object) -> None:
        raise RuntimeError("sheet writer failed")

    if stage == "building a sheet":
        monkeypatch.setattr(plan_report, "costs", broken)
    else:
        real = writer.write_sheet

        def third_fails(wb: openpyxl.Workbook, sheet: object, *args: object) -> None:
            if len(wb.worksheets) == 2:
                broken()
            real(wb, sheet, *args)

        monkeypatch.setattr(writer, "write_sheet", third_fails)
    streams = set(ALL_TEMP_FILES)
    with pytest.raises(RuntimeError, match="sheet writer failed"):
        write_report(result, tmp_path / "plan.xlsx")
    assert list(tmp_path.iterdir()) == []
    assert not [f for f in set(ALL_TEMP_FILES) - streams if os.path.exists(f)]


def test_failed_save_keeps_the_previous_report(result: PlanResult, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "plan.xlsx"
    target.write_bytes(b"previous report")

    def disk_full(self: openpyxl.Workbook, filename: str) -> None:
        Path(filename).write_bytes(b"PK half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(openpyxl.Workbook, "save", disk_full)
    with pytest.raises(InputError) as caught:
        write_report(result, target)
    assert caught.value.issues[0].sheet == "file"
    assert target.read_bytes() == b"previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.xlsx"]
    assert "No space left" in str(caught.value)


@pytest.mark.parametrize("make_path", [
    lambda root: root / "missing folder" / "plan.xlsx",
    lambda root: root,
    lambda root: root / "plan.csv",
], ids=["missing-folder", "a-folder", "not-xlsx"])
def test_unwritable_paths_are_input_errors(result: PlanResult, tmp_path: Path, make_path) -> None:
    (tmp_path / "sub.xlsx").mkdir()
    path = make_path(tmp_path)
    with pytest.raises(InputError) as caught:
        write_report(result, path)
    issue = caught.value.issues[0]
    assert issue.sheet == "file" and issue.expected
    with pytest.raises(InputError):
        write_report(result, tmp_path / "sub.xlsx")  # a folder named like a report


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="permissions are not enforced for root")
def test_read_only_folder_is_an_input_error(result: PlanResult, tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(InputError) as caught:
            write_report(result, folder / "plan.xlsx")
        assert caught.value.issues[0].sheet == "file"
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_folder_without_write_permission_is_an_input_error(result: PlanResult, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*_: object, **__: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files, "open", denied, raising=False)  # as for a read-only folder, even as root
    with pytest.raises(InputError) as caught:
        write_report(result, tmp_path / "plan.xlsx")
    assert caught.value.issues[0].sheet == "file" and "Permission denied" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_output_equal_to_input_is_refused(result: PlanResult, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "input.xlsx"
    source.write_bytes(b"the analyst's workbook")
    monkeypatch.chdir(tmp_path)
    link = tmp_path / "link.xlsx"
    os.link(source, link)
    for output in (source, Path("input.xlsx"), tmp_path / "." / "input.xlsx", link):
        with pytest.raises(InputError) as caught:
            write_report(result, output, input_path=source)
        assert caught.value.issues[0].sheet == "file"
        assert "input" in str(caught.value)
    assert source.read_bytes() == b"the analyst's workbook"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.xlsx", "link.xlsx"]


def test_report_replaces_an_existing_report(result: PlanResult, tmp_path: Path) -> None:
    target = tmp_path / "plan.xlsx"
    target.write_bytes(b"old")
    assert write_report(result, target) == target
    assert openpyxl.load_workbook(target).sheetnames == PLAN_SHEETS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.xlsx"]


def test_default_report_path() -> None:
    assert default_report_path(Path("inputs/q3 plan.xlsx")) == Path("reports/q3 plan-plan.xlsx")
