"""The report prints and reads like a finance document: every sheet landscape and one page wide with
header rows repeated and a print area over every table and chart; one number format per kind of
quantity; charts with labels below the plot and one category axis; a marker that says it is a report."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter, range_boundaries
from test_report import PLAN_SHEETS, StandInUncertainty, result, tiny_problem  # noqa: F401 (fixtures)

from planner.excel import REPORT_MARKER
from planner.excel.formats import COUNT, DECIMAL, MONEY, PERCENT, PRICE, SCIENTIFIC, TRILLIONS
from planner.report import column_format, column_label, write_report
from planner.results import PlanResult
from planner.template import write_template
from planner.uncertainty import analyse


@pytest.fixture(scope="module")
def report(result: PlanResult, tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:  # noqa: F811
    folder = tmp_path_factory.mktemp("print")
    path = write_report(result, folder / "plan.xlsx", uncertainty=analyse(tiny_problem(), stochastic=result))
    return openpyxl.load_workbook(path)


def areas(ws: openpyxl.worksheet.worksheet.Worksheet) -> list[tuple[int, int, int, int]]:
    """The print ranges of a sheet as (first column, first row, last column, last row)."""
    return [range_boundaries(part.split("!")[1].replace("$", "")) for part in ws.print_area.split(",")]


def covered(ws: openpyxl.worksheet.worksheet.Worksheet, col: int, row: int) -> bool:
    return any(c1 <= col <= c2 and r1 <= row <= r2 for c1, r1, c2, r2 in areas(ws))


def test_every_sheet_prints_landscape_one_page_wide(report: openpyxl.Workbook) -> None:
    assert report.sheetnames == [*PLAN_SHEETS[:-2], "Regret", *PLAN_SHEETS[-2:]]
    for ws in report.worksheets:
        setup = ws.page_setup
        assert setup.orientation == "landscape", ws.title
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0), ws.title  # one page wide, as many down as needed
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert "&P" in ws.oddFooter.center.text and "&A" in ws.oddFooter.center.text


def test_print_area_covers_every_table_chart_and_heading(report: openpyxl.Workbook) -> None:
    for ws in report.worksheets:
        assert covered(ws, 1, 1), ws.title  # the heading
        for name, table in ws.tables.items():
            c1, r1, c2, r2 = range_boundaries(table)
            assert all(covered(ws, c, r) for c in (c1, c2) for r in (r1 - 1, r2)), (ws.title, name)
        for chart in ws._charts:
            col, row = chart.anchor._from.col + 1, chart.anchor._from.row + 1
            (box,) = [a for a in areas(ws) if a[0] <= col <= a[2] and a[1] <= row <= a[3]]
            pixels = sum((ws.column_dimensions[get_column_letter(c)].width or 8.43) * 7 + 5
                         for c in range(col, box[2] + 1))
            assert pixels >= chart.width * 96 / 2.54, (ws.title, col, row)  # as wide as the chart
            assert box[3] >= row + round(chart.height / 0.53), (ws.title, col, row)  # rows of 15 points


def test_side_by_side_tables_repeat_their_title_and_header_rows(report: openpyxl.Workbook) -> None:
    for ws in report.worksheets:
        if ws.title in ("Summary", "Diagnostics"):  # stacked: no header row common to the tables
            assert ws.print_title_rows is None, ws.title
            continue
        header_rows = {range_boundaries(table.ref)[1] for table in ws.tables.values()}
        assert len(header_rows) == 1, ws.title
        (header,) = header_rows
        assert ws.print_title_rows == f"${header - 1}:${header}", ws.title
        # each table lies in one range (neighbours that fit a page width together share one)
        for table in ws.tables.values():
            c1, r1, c2, r2 = range_boundaries(table.ref)
            assert any(a[0] <= c1 and c2 <= a[2] and a[1] <= r1 - 1 and r2 <= a[3] for a in areas(ws)), (
                ws.title, table.ref)


def test_no_chart_is_cut_by_a_page_break(report: openpyxl.Workbook) -> None:
    """Every chart has a print range of its own, which ends before the next chart begins."""
    for ws in report.worksheets:
        for chart in ws._charts:
            col, row = chart.anchor._from.col + 1, chart.anchor._from.row + 1
            (box,) = [a for a in areas(ws) if a[0] <= col <= a[2] and a[1] <= row <= a[3]]
            starts = [c.anchor._from.row + 1 for c in ws._charts if c is not chart and c.anchor._from.col + 1 == col]
            assert not any(box[1] <= start <= box[3] for start in starts), ws.title


def test_long_notes_are_wrapped_inside_the_printed_width(report: openpyxl.Workbook) -> None:
    ws = report["Capacity"]
    first = areas(ws)[0]
    width = sum(ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width or 8.43
                for c in range(first[0], first[2] + 1))
    notes = [cell.value for cell in ws["A"][1:4] if isinstance(cell.value, str)]
    assert len(notes) >= 2 and all(len(line) <= max(width, 60) for line in notes)
    assert " ".join(notes).startswith("Committed = existing commitments + new leases (paid)")


def test_report_is_marked_as_a_report(report: openpyxl.Workbook) -> None:
    assert report.properties.keywords == REPORT_MARKER


# ---- number formats -------------------------------------------------------------------------------

@pytest.mark.parametrize(("column", "label", "number_format"), [
    ("demand_tokens", "Demand (T tokens)", TRILLIONS),
    ("unserved_tokens", "Unserved (T tokens)", TRILLIONS),
    ("base_tokens_per_month", "Base demand (T tokens/month)", TRILLIONS),
    ("tokens_per_month", "Demand (T tokens/month)", TRILLIONS),
    ("gpus_unavailable", "Unavailable (GPUs)", COUNT),
    ("gpus_usable", "Usable (GPUs)", COUNT),
    ("committed_gpus", "Committed (GPUs)", COUNT),
    ("regret_usd", "Regret (USD)", MONEY),
    ("cash_npv_usd", "Cash cost (USD, NPV)", MONEY),
    ("price_usd_per_gpu_hour", "Price (USD/GPU-hour)", PRICE),
    ("flops_per_token", "Model FLOPs (FLOP/token)", SCIENTIFIC),
    ("served_share", "Served (% of demand)", PERCENT),
    ("unserved_share", "Unserved (% of demand)", PERCENT),
    ("tokens_per_second_per_gpu", "Throughput (tokens/s/GPU)", DECIMAL),
])
def test_one_format_per_kind_of_quantity(column: str, label: str, number_format: str) -> None:
    assert (column_label(column), column_format(column)) == (label, number_format)


def test_every_number_in_a_table_has_a_format(report: openpyxl.Workbook) -> None:
    """No number is left in Excel's General format (16-digit token counts, 122.88 GPUs, cents of a regret)."""
    for ws in report.worksheets:
        for name, table in ws.tables.items():
            c1, r1, c2, r2 = range_boundaries(table)
            for row in ws.iter_rows(min_row=r1 + 1, max_row=r2, min_col=c1, max_col=c2):
                for cell in row:
                    if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                        assert cell.number_format != "General", (ws.title, name, cell.coordinate, cell.value)
                        header = ws.cell(r1, cell.column).value
                        if "(USD" in header and "/" not in header and "per unit" not in header:
                            assert cell.number_format == MONEY, (ws.title, name, header)  # whole dollars


def test_regret_figures_are_whole_dollars(report: openpyxl.Workbook) -> None:
    ws = report["Regret"]
    _, r1, c2, r2 = range_boundaries(ws.tables["Regret_Figures"].ref)
    values = [ws.cell(r, c2).number_format for r in range(r1 + 1, r2 + 1)]
    assert values and set(values) == {MONEY}


def test_tokens_display_in_trillions(report: openpyxl.Workbook, result: PlanResult) -> None:  # noqa: F811
    ws = report["Capacity"]
    table = ws.tables["Capacity_ByMonth"]
    c1, r1, _, _ = range_boundaries(table.ref)
    column = c1 + table.column_names.index("Demand (T tokens)")
    cell = ws.cell(r1 + 1, column)
    assert cell.number_format == TRILLIONS
    assert cell.value == pytest.approx(result.capacity_by_month()["demand_tokens"].iloc[0])  # stored in tokens


def test_flops_per_token_in_the_template_and_the_inputs_echo(report: openpyxl.Workbook, tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    write_template(path)
    ws = openpyxl.load_workbook(path)["Workloads"]
    column = [cell.value for cell in ws[1]].index("flops_per_token") + 1
    assert ws.cell(2, column).number_format == SCIENTIFIC
    echo = report["Inputs"].tables["Input_Workloads"]
    assert "Model FLOPs (FLOP/token)" in echo.column_names


# ---- charts ---------------------------------------------------------------------------------------

def test_category_labels_sit_below_the_plot(report: openpyxl.Workbook) -> None:
    for ws in report.worksheets:
        for chart in ws._charts:
            assert chart.x_axis.tickLblPos == "low", ws.title


def test_capacity_charts_have_one_month_axis(report: openpyxl.Workbook) -> None:
    _, *capacity = report["Capacity"]._charts
    for chart in capacity:
        primary, secondary = chart, chart._charts[1]
        assert primary.x_axis.title is not None and not primary.x_axis.delete
        assert secondary.x_axis.axId != primary.x_axis.axId and secondary.x_axis.delete
        assert secondary.x_axis.title is None
        assert secondary.y_axis.crossAx == secondary.x_axis.axId


def test_settings_echo_formats_each_value(report: openpyxl.Workbook) -> None:
    ws = report["Inputs"]
    c1, r1, _, r2 = range_boundaries(ws.tables["Input_Settings"].ref)
    formats = {ws.cell(r, c1).value: ws.cell(r, c1 + 1).number_format for r in range(r1 + 1, r2 + 1)}
    assert formats["months"] == COUNT and formats["discount_rate_per_year"] == PERCENT
    assert formats["time_limit_seconds"] == DECIMAL and formats["mip_gap"] == "0.00%"

