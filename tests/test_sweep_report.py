"""The Excel sweep report: every sheet, table and chart exists and holds the SweepResult's figures,
invalid and failed points are shown with their reason, nothing is a formula, writes are atomic.

The instance is test_sweep's: demand 10, 10, 20, 20 GPUs, one 4-month lease L at price p, on-demand
at $5/GPU-hour. Leasing all 20 GPUs costs 58,400p, so the base run (p = 2) costs $116,800; the plan
leases 20 below p = 2.5, 10 up to 5, none above.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from factory import lease, tiny
from openpyxl.utils import get_column_letter, range_boundaries
from test_report import read_table

import planner
from planner.errors import InputError
from planner.report import default_sweep_report_path, write_sweep_report
from planner.report import sweep as sweep_report
from planner.sweeps import Sweep, parse_vary
from planner.sweeps import worker as sweep_worker

PRICE = "LeaseOffers[L].price_usd_per_gpu_hour"
CLOUD = "OnDemand[cloud].price_usd_per_gpu_hour (scale)"
HOSTILE = "=1+1"
SHEETS = ["Read me", "Runs", "Tornado", "Curve 1 price_usd_per_gpu_hour", "Curve 2 price_usd_per_gpu_hour",
          "Grid prices", "Decisions", "Leases", "Sweep spec"]


@pytest.fixture(scope="module")
def result() -> Any:
    problem = tiny([10, 10, 20, 20], offers=[lease("L", price=2.0, term=4)])
    spec = [Sweep(name=HOSTILE, targets=[parse_vary(f"{PRICE}=-1,2,3,3.5,4,5,6"),
                                         parse_vary("OnDemand[cloud].price_usd_per_gpu_hour*=0.5,1.5")]),
            Sweep(name="prices", design="grid", targets=[parse_vary(f"{PRICE}=2,3"),
                                                         parse_vary("OnDemand[cloud].price_usd_per_gpu_hour=4.5,7")])]
    solve = sweep_worker.Planner.solve

    def failing(self: planner.Planner, **kwargs: Any) -> Any:
        if self.problem.lease_offers[0].price_usd_per_gpu_hour == 3.5:
            raise RuntimeError("solver exploded")
        return solve(self, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sweep_worker.Planner, "solve", failing)
        return planner.sweep(problem, spec, workers=0)


@pytest.fixture(scope="module")
def report_path(result: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sweep report")
    source = folder / "tiny.xlsx"
    source.write_bytes(b"stand-in input workbook")
    return write_sweep_report(result, folder / "tiny-sweep.xlsx", source=source)


@pytest.fixture(scope="module")
def workbook(report_path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(report_path)


def numbers(series: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else float(v) for v in series]


def column_of(wb: openpyxl.Workbook, sheet: str, table: str, header: str) -> str:
    """``$X$r1:$X$r2``: the data cells of one column of an Excel Table."""
    ref = wb[sheet].tables[table]
    min_col, min_row, _, max_row = range_boundaries(ref.ref)
    letter = get_column_letter(min_col + ref.column_names.index(header))
    return f"${letter}${min_row + 1}:${letter}${max_row}"


# ---- structure ----------------------------------------------------------------------------------

def test_the_sweep_itself(result: Any) -> None:
    assert result.status_counts() == {"optimal": 12, "invalid": 1, "error": 1}  # 1 + 7 + 2 + 4 points
    assert result.base.objective_usd == pytest.approx(116_800)


def test_every_sheet_and_table(workbook: openpyxl.Workbook) -> None:
    assert workbook.sheetnames == SHEETS
    assert set(workbook["Read me"].tables) == {"Sweep_Figures", "Sweep_NoPlan"}
    assert set(workbook["Runs"].tables) == {"Sweep_Runs"}
    assert set(workbook["Tornado"].tables) == {"Sweep_Tornado"}
    assert set(workbook["Curve 1 price_usd_per_gpu_hour"].tables) == {"Sweep_Curve1"}
    assert set(workbook["Grid prices"].tables) == {"Sweep_Grid1_expected_cost", "Sweep_Grid1_share_served",
                                                   "Sweep_Grid1_new_lease_commitment"}
    assert set(workbook["Decisions"].tables) == {"Sweep_DecisionsByOffer", "Sweep_Decisions"}
    assert set(workbook["Sweep spec"].tables) == {"Sweep_Spec", "Sweep_Provenance"}
    assert workbook.properties.keywords == "planner report"


def test_no_formulas_anywhere(report_path: Path, workbook: openpyxl.Workbook) -> None:
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate)
                assert not (isinstance(cell.value, str) and cell.value.startswith("=") and not cell.quotePrefix)
    with zipfile.ZipFile(report_path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = archive.read(name).decode("utf-8")
                assert "<f>" not in xml and "<f " not in xml, name
    runs = workbook["Runs"]
    hostile = [cell for row in runs.iter_rows() for cell in row if cell.value == HOSTILE]
    assert hostile and all(cell.data_type == "s" and cell.quotePrefix for cell in hostile)


# ---- numbers ------------------------------------------------------------------------------------

def test_runs_table_has_every_run(report_path: Path, workbook: openpyxl.Workbook, result: Any) -> None:
    runs = read_table(report_path, workbook, "Runs", "Sweep_Runs")
    expected = result.runs
    assert len(runs) == len(expected) == 14
    assert runs["Run"].tolist() == expected["run"].tolist()
    assert runs["Changes"].tolist() == expected["changes"].tolist()
    assert runs["Status"].tolist() == expected["status"].tolist()
    assert numbers(runs["Expected cost (USD)"]) == pytest.approx(numbers(expected["expected_cost_usd"]), nan_ok=True)
    assert numbers(runs["Change vs base (USD)"]) == pytest.approx(
        numbers(expected["expected_cost_usd"] - 116_800), nan_ok=True, abs=1e-6)
    assert numbers(runs["Demand served (%)"]) == pytest.approx(numbers(expected["share_served"]), nan_ok=True)
    assert numbers(runs["GPUs leased: H100 (count)"]) == pytest.approx(numbers(expected["gpus_leased[H100]"]),
                                                                       nan_ok=True)
    assert numbers(runs[f"{PRICE} (USD/GPU-hour)"]) == pytest.approx(numbers(expected[PRICE]), nan_ok=True)
    assert numbers(runs[f"{CLOUD} (x)"]) == pytest.approx(numbers(expected[CLOUD]), nan_ok=True)
    assert runs["Has a plan (yes/no)"].tolist() == ["yes" if p else "no" for p in expected["has_plan"]]
    # each swept value shows in its target's unit
    ws = workbook["Runs"]
    min_col, min_row, _, _ = range_boundaries(ws.tables["Sweep_Runs"].ref)
    headers = ws.tables["Sweep_Runs"].column_names
    price_row = expected.index[expected["changes"] == f"{PRICE} = 3"][0]
    cell = ws.cell(min_row + 1 + price_row, min_col + headers.index(f"{PRICE} (USD/GPU-hour)"))
    assert cell.value == 3 and cell.number_format == "$#,##0.00"
    assert ws.cell(min_row + 1, min_col + headers.index("Expected cost (USD)")).number_format == "$#,##0"


def test_invalid_and_error_rows_show_their_reason(report_path: Path, workbook: openpyxl.Workbook) -> None:
    runs = read_table(report_path, workbook, "Runs", "Sweep_Runs").set_index("Changes")
    invalid = runs.loc[f"{PRICE} = -1"]
    assert invalid["Status"] == "invalid" and invalid["Has a plan (yes/no)"] == "no"
    assert invalid["Reason"] == ("LeaseOffers[L] (price_usd_per_gpu_hour): found -1; expected a number >= 0 "
                                 "and <= 1000")
    assert pd.isna(invalid["Expected cost (USD)"])
    failed = runs.loc[f"{PRICE} = 3.5"]
    assert failed["Status"] == "error" and failed["Reason"].startswith("RuntimeError: solver exploded")
    no_plan = read_table(report_path, workbook, "Read me", "Sweep_NoPlan")
    assert no_plan[["Changes", "Status"]].values.tolist() == [[f"{PRICE} = -1", "invalid"],
                                                               [f"{PRICE} = 3.5", "error"]]
    alert = workbook["Read me"]["A2"]
    assert alert.value.startswith("2 of 14 points have no plan (12 with a plan, 1 invalid input, 1 error)")
    assert alert.font.color.rgb.endswith("C00000")


def test_read_me_figures(report_path: Path, workbook: openpyxl.Workbook, result: Any) -> None:
    figures = read_table(report_path, workbook, "Read me", "Sweep_Figures").set_index("Item")["Value"]
    assert figures["Points run (base included)"] == 14 and figures["Points: with a plan"] == 12
    assert figures["Points: invalid input"] == 1 and figures["Points: error"] == 1
    assert float(figures["Base run: expected cost (NPV)"]) == pytest.approx(116_800)
    top = result.tornado().iloc[0]
    assert figures["Widest swing: target"] == top["target"] == PRICE
    assert float(figures["Widest swing: expected cost from low to high"]) == pytest.approx(top["swing"]) == 102_200
    column_a = [str(cell.value) for cell in workbook["Read me"]["A"] if cell.value is not None]
    assert any(line.startswith(f"{HOSTILE} (one at a time, 9 points): {PRICE} = $-1.00, $2.00") for line in column_a)
    assert any("between $2.00 and $3.00 (break-even about $2.50): signed now: L shrinks (20 to 10 blocks)" in line
               for line in column_a)
    assert any("planner solve tiny.xlsx" in line for line in column_a)


def test_tornado_table_and_chart(report_path: Path, workbook: openpyxl.Workbook, result: Any) -> None:
    table = read_table(report_path, workbook, "Tornado", "Sweep_Tornado")
    expected = result.tornado()
    assert expected["target"].tolist() == [PRICE, CLOUD] and "Target" not in table  # it heads the bar's label
    for header, column in [("Low value", "low_value"), ("High value", "high_value"), ("Swing (USD)", "swing"),
                           ("Cost at low (USD)", "low_expected_cost_usd"), ("Change at low (USD)", "low_change"),
                           ("Change at high (USD)", "high_change"), ("Cost at base (USD)", "base_expected_cost_usd")]:
        assert numbers(table[header]) == pytest.approx(numbers(expected[column])), header
    assert table["Target: lowest to highest value"].tolist() == [f"{PRICE}: $2.00 to $6.00", f"{CLOUD}: x0.5 to x1.5"]
    (chart,) = workbook["Tornado"]._charts
    assert chart.tagname == "barChart" and chart.type == "bar" and chart.overlap == 100
    assert [s.val.numRef.f for s in chart.series] == [
        f"'Tornado'!{column_of(workbook, 'Tornado', 'Sweep_Tornado', header)}"
        for header in ("Change at low (USD)", "Change at high (USD)")]
    assert chart.series[0].cat.strRef.f == \
        f"'Tornado'!{column_of(workbook, 'Tornado', 'Sweep_Tornado', 'Target: lowest to highest value')}"


def test_curve_sheets_chart_cost_and_served_against_the_value(report_path: Path, workbook: openpyxl.Workbook,
                                                              result: Any) -> None:
    sheet = "Curve 1 price_usd_per_gpu_hour"
    table = read_table(report_path, workbook, sheet, "Sweep_Curve1")
    curve = result.curves()
    curve = curve[curve["target"] == PRICE]
    assert numbers(table[f"{PRICE} (USD/GPU-hour)"]) == [-1.0, 2.0, 2.0, 3.0, 3.5, 4.0, 5.0, 6.0]
    assert numbers(table["Expected cost (USD)"]) == pytest.approx(numbers(curve["expected_cost_usd"]), nan_ok=True)
    assert table["Status"].tolist() == ["invalid", "optimal", "optimal", "optimal", "error", "optimal", "optimal",
                                        "optimal"]
    assert table["Base run (yes/no)"].tolist() == ["no", "yes", "no", "no", "no", "no", "no", "no"]
    cost, served = workbook[sheet]._charts
    value = f"'{sheet}'!{column_of(workbook, sheet, 'Sweep_Curve1', f'{PRICE} (USD/GPU-hour)')}"
    for chart, header in ((cost, "Expected cost (USD)"), (served, "Demand served (%)")):
        assert chart.tagname == "scatterChart"
        line, base = chart.series
        assert line.xVal.numRef.f == value
        assert line.yVal.numRef.f == f"'{sheet}'!{column_of(workbook, sheet, 'Sweep_Curve1', header)}"
        base_row = range_boundaries(workbook[sheet].tables["Sweep_Curve1"].ref)[1] + 2  # after the -1 point
        assert base.xVal.numRef.f == f"'{sheet}'!$A${base_row}"
        assert base.yVal.numRef.f == line.yVal.numRef.f.split(":")[0].replace(
            f"${range_boundaries(workbook[sheet].tables['Sweep_Curve1'].ref)[1] + 1}", f"${base_row}")
    assert served.y_axis.scaling.min == 0 and served.y_axis.scaling.max == 1


def test_grid_matrices(report_path: Path, workbook: openpyxl.Workbook, result: Any) -> None:
    for key, metric in (("expected_cost", "expected_cost_usd"), ("share_served", "share_served")):
        table = read_table(report_path, workbook, "Grid prices", f"Sweep_Grid1_{key}")
        grid = result.grid("prices", metric)
        assert list(table.columns)[1:] == ["$4.50", "$7.00"]
        assert numbers(table[f"{PRICE} (USD/GPU-hour)"]) == [2.0, 3.0]
        assert table.iloc[:, 1:].to_numpy(dtype=float).ravel().tolist() == pytest.approx(
            grid.to_numpy(dtype=float).ravel().tolist())
    cost = read_table(report_path, workbook, "Grid prices", "Sweep_Grid1_expected_cost")
    assert cost.iloc[:, 1:].to_numpy(dtype=float).ravel().tolist() == pytest.approx([116_800, 116_800, 153_300,
                                                                                     175_200])
    scales = workbook["Grid prices"].conditional_formatting
    ranges = {str(rule.sqref) for rule in scales}
    ref = workbook["Grid prices"].tables["Sweep_Grid1_expected_cost"].ref
    min_col, min_row, max_col, max_row = range_boundaries(ref)
    assert f"{get_column_letter(min_col + 1)}{min_row + 1}:{get_column_letter(min_col + 1)}{max_row} " \
           f"{get_column_letter(max_col)}{min_row + 1}:{get_column_letter(max_col)}{max_row}" in ranges
    assert all(rule.type == "colorScale" for cf in scales for rule in cf.rules)


def test_decisions_table_is_the_results(report_path: Path, workbook: openpyxl.Workbook, result: Any) -> None:
    table = read_table(report_path, workbook, "Decisions", "Sweep_Decisions")
    expected = result.decisions()
    assert len(table) == len(expected) == 3
    assert table["Target"].tolist() == expected["target"].tolist()
    assert table["Offer"].tolist() == expected["offer_id"].tolist()
    # the lease price: 20 blocks below $2.50, 10 up to $5, none above; cloud at half price: lease only 10
    assert table["Change"].tolist() == expected["change"].tolist() == ["shrinks", "disappears", "grows"]
    assert table["Signed in (all = now)"].tolist() == ["all"] * 3
    for header, column in [("From (value)", "from_value"), ("To (value)", "to_value"),
                           ("Break-even (value)", "break_even_value"), ("Blocks before (count)", "blocks_before"),
                           ("Blocks after (count)", "blocks_after"), ("GPUs after (count)", "gpus_after")]:
        assert numbers(table[header]) == pytest.approx(numbers(expected[column])), header
    by_offer = read_table(report_path, workbook, "Decisions", "Sweep_DecisionsByOffer")
    assert len(by_offer) == len(result.decisions(level="offer"))
    # break-even values show in the target's unit: a price, a multiple
    ws = workbook["Decisions"]
    min_col, min_row, _, _ = range_boundaries(ws.tables["Sweep_Decisions"].ref)
    column = min_col + ws.tables["Sweep_Decisions"].column_names.index("Break-even (value)")
    formats = {expected.loc[i, "target"]: ws.cell(min_row + 1 + i, column).number_format for i in expected.index}
    assert formats == {PRICE: "$#,##0.00", CLOUD: '0.00"x"'}


def test_leases_and_spec(report_path: Path, workbook: openpyxl.Workbook, result: Any) -> None:
    leases = read_table(report_path, workbook, "Leases", "Sweep_Leases")
    assert leases["Blocks (count)"].tolist() == result.leases()["blocks"].tolist()
    spec = read_table(report_path, workbook, "Sweep spec", "Sweep_Spec")
    assert spec["Target"].tolist() == [PRICE, CLOUD, PRICE, "OnDemand[cloud].price_usd_per_gpu_hour"]
    assert spec["Values (count)"].tolist() == [7, 2, 2, 2]


def test_a_sweep_without_one_at_a_time_targets(tmp_path: Path) -> None:
    problem = tiny([10, 10, 20, 20], offers=[lease("L", price=2.0, term=4)])
    spec = Sweep(name="g", design="grid", targets=[parse_vary(f"{PRICE}=2,3"),
                                                   parse_vary("OnDemand[cloud].price_usd_per_gpu_hour=4.5,7")])
    path = write_sweep_report(planner.sweep(problem, spec, workers=0), tmp_path / "grid.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Read me", "Runs", "Grid g", "Leases", "Sweep spec"]
    assert wb["Read me"]["A2"].value.startswith("Run ")  # every point has a plan: no alert above the notes


# ---- files --------------------------------------------------------------------------------------

def test_default_sweep_report_path() -> None:
    assert default_sweep_report_path("inputs/q3 plan.xlsx") == Path("reports/q3 plan-sweep.xlsx")
    assert default_sweep_report_path(Path("a/b.xlsx"), "out") == Path("out/b-sweep.xlsx")


@pytest.mark.parametrize("make_path", [
    lambda root: root / "missing folder" / "sweep.xlsx",
    lambda root: root,
    lambda root: root / "sweep.csv",
    lambda root: root / "input.xlsx",
], ids=["missing-folder", "a-folder", "not-xlsx", "the-input"])
def test_bad_paths_are_input_errors_and_write_nothing(result: Any, tmp_path: Path, make_path: Any) -> None:
    source = tmp_path / "input.xlsx"
    source.write_bytes(b"the analyst's workbook")
    with pytest.raises(InputError) as caught:
        write_sweep_report(result, make_path(tmp_path), source=source)
    assert caught.value.issues[0].sheet == "file" and caught.value.issues[0].column == "report path"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.xlsx"]
    assert source.read_bytes() == b"the analyst's workbook"


def test_a_failure_while_building_leaves_nothing(result: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("sheet failed")

    monkeypatch.setattr(sweep_report, "decisions", broken)
    with pytest.raises(RuntimeError, match="sheet failed"):
        write_sweep_report(result, tmp_path / "sweep.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_keeps_the_previous_report(result: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "sweep.xlsx"
    target.write_bytes(b"previous report")

    def disk_full(self: openpyxl.Workbook, filename: str) -> None:
        Path(filename).write_bytes(b"PK half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(openpyxl.Workbook, "save", disk_full)
    with pytest.raises(InputError, match="No space left"):
        write_sweep_report(result, target)
    assert target.read_bytes() == b"previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.xlsx"]
