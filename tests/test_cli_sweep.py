"""`planner sweep` end to end on a tiny workbook: exit codes, --json for scripts, the summary, bad
sheets and bad --vary texts named, the report.

The workbook: one scenario, 10 GPUs for 2 months; lease L (2-month term) at $2/GPU-hour against cloud
at $5. Leasing costs 10 x 2 x 730 x p = 14,600 p: 29,200 at $2, 58,400 at $4; at $6 (87,600) the
cloud's 10 x 2 x 3,650 = 73,000 is cheaper, so L disappears between $4 and $6 (break-even $5).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from factory import lease, tiny
from typer.testing import CliRunner

from planner.cli import app
from planner.workbook import write_problem

runner = CliRunner()
PRICE_ROW = {"sweep": "price", "table": "LeaseOffers", "rows": "L", "column": "price_usd_per_gpu_hour",
             "values": "4, 6", "label": "lease price"}


def write(folder: Path, rows: list[dict[str, Any]], name: str = "tiny.xlsx") -> Path:
    path = folder / name
    write_problem(tiny([10, 10], offers=[lease("L", term=2)]), path, sweeps=rows)
    return path


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return write(tmp_path, [PRICE_ROW, {"sweep": "gap", "table": "Settings", "column": "mip_gap", "values": 0.01}])


def sweep(*args: str) -> Any:
    return runner.invoke(app, ["sweep", *args])


def test_json_holds_every_run_the_tornado_and_the_decisions(workbook: Path) -> None:
    result = sweep(str(workbook), "--sweep", "price", "--workers", "0", "--no-report", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # nothing else on stdout
    assert document["all_planned"] is True and document["status_counts"] == {"optimal": 3}
    assert [(run["changes"], run["expected_cost_usd"]) for run in document["runs"]] == [
        ("base", pytest.approx(29_200)), ("LeaseOffers[L].price_usd_per_gpu_hour = 4", pytest.approx(58_400)),
        ("LeaseOffers[L].price_usd_per_gpu_hour = 6", pytest.approx(73_000))]
    [bar] = document["tornado"]
    assert (bar["target"], bar["low_value"], bar["high_value"]) == ("lease price", 4.0, 6.0)
    assert (bar["low_expected_cost_usd"], bar["base_expected_cost_usd"], bar["high_expected_cost_usd"]) == (
        pytest.approx(58_400), pytest.approx(29_200), pytest.approx(73_000))
    [change] = document["decisions"]
    assert (change["offer_id"], change["change"], change["from_value"], change["to_value"],
            change["break_even_value"]) == ("L", "disappears", 4.0, 6.0, 5.0)
    assert document["report"] is None and document["input"] == str(workbook)
    assert "[3/3]" in result.stderr  # progress, one line per point when not on a terminal


def test_summary_says_what_changes_and_where_the_plan_switches(workbook: Path) -> None:
    result = sweep(str(workbook), "--sweep", "price", "--workers", "0", "--no-report")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "Sweep: 3 runs (3 optimal) in" in text and "this process" in text
    assert "Base run: expected cost $29,200, demand served 100%" in text
    for figure in ("$58,400", "$29,200", "$73,000", "what to sign now changes at 4–6: L 10→0 blocks."):
        assert figure in text
    assert "Traceback" not in result.output


def test_every_sweep_of_the_sheet_runs_without_options(workbook: Path) -> None:
    result = sweep(str(workbook), "--workers", "0", "--no-report", "--json")
    assert result.exit_code == 0, result.output
    assert [run["sweep"] for run in json.loads(result.stdout)["runs"]] == ["base", "price", "price", "gap"]


def test_vary_alone_ignores_the_sheet_and_a_point_without_a_plan_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, [{"sweep": "broken", "table": "Nowhere", "column": "x", "values": 1}])
    result = sweep(str(path), "--vary", "LeaseOffers[L].price_usd_per_gpu_hour=-1,6", "--workers", "0",
                   "--no-report", "--json")
    assert result.exit_code == 1, result.output
    runs = json.loads(result.stdout)["runs"]
    assert [(run["sweep"], run["status"]) for run in runs] == [("base", "optimal"), ("vary", "invalid"),
                                                               ("vary", "optimal")]
    assert "price_usd_per_gpu_hour): found -1; expected a number >= 0" in runs[1]["reason"]


def test_vary_targets_over_a_grid(workbook: Path) -> None:
    result = sweep(str(workbook), "--vary", "LeaseOffers[L].price_usd_per_gpu_hour=4,6", "--vary",
                   "OnDemand[cloud].price_usd_per_gpu_hour=5,8", "--grid", "--workers", "0", "--no-report", "--json")
    assert result.exit_code == 0, result.output
    [grid] = json.loads(result.stdout)["grids"]
    # rows: lease price 4, 6; columns: cloud 5, 8. Lease at 4 always (58,400); at 6 the cloud at 5
    # (73,000) or the lease (87,600 < 8 x 14,600).
    assert grid["row_values"] == [4.0, 6.0] and grid["column_values"] == [5.0, 8.0]
    assert grid["expected_cost_usd"] == [[pytest.approx(58_400), pytest.approx(58_400)],
                                         [pytest.approx(73_000), pytest.approx(87_600)]]


# ---- bad input: exit 2, the cell or the option named, no traceback --------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--vary", "LeaseOffers[L].price=2"],
     "--vary (column): found 'price'; expected a LeaseOffers column"),
    (["--vary", "LeaseOffers[L].price_usd_per_gpu_hour=2:3"],
     "--vary (values): found '2:3'; expected start:stop:count"),
    (["--vary", "price is 2"], "--vary (vary): found 'price is 2'; expected Table[rows].column=values"),
    (["--vary", "LeaseOffers[Z].price_usd_per_gpu_hour=2"], "(rows): found 'Z'; expected one of the LeaseOffers ids"),
    (["--sweep", "nope"], "Sweeps (sweep): found 'nope'; expected one of the sweeps on the Sweeps sheet: price, gap"),
    (["--time-limit", "0"], "--time-limit (time_limit_seconds): found 0; expected a number of seconds above 0"),
])
def test_bad_options_exit_2_naming_the_option(workbook: Path, args: list[str], message: str) -> None:
    result = sweep(str(workbook), *args, "--workers", "0", "--no-report")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output and result.stdout == ""


def test_a_bad_sheet_cell_exits_2_naming_the_cell(tmp_path: Path) -> None:
    mfu = {"sweep": "mfu", "table": "Settings", "column": "default_mfu", "values": "a:b:c"}
    path = write(tmp_path, [PRICE_ROW, mfu])
    result = sweep(str(path), "--workers", "0", "--no-report", "--json")
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "invalid_input"
    assert [issue["message"] for issue in document["issues"]] == [
        "Sweeps!G3 (values): found 'a:b:c'; expected start:stop:count with numbers start and stop and a whole count "
        ">= 2 (e.g. 2.0:3.2:7)"]


def test_no_sweeps_and_no_vary_exits_2(tmp_path: Path) -> None:
    result = sweep(str(write(tmp_path, [])), "--workers", "0", "--no-report")
    assert result.exit_code == 2
    assert "found no sweeps in the workbook; expected rows on its Sweeps sheet" in " ".join(result.stderr.split())


def test_bad_input_exits_2(tmp_path: Path) -> None:
    result = sweep(str(tmp_path / "missing.xlsx"), "--workers", "0")
    assert result.exit_code == 2
    assert "no file at" in result.stderr


# ---- on a real local cluster --------------------------------------------------------------------

@pytest.mark.slow  # starting two worker processes costs ~10 s; tests/test_sweep_dask.py covers Dask parity
def test_two_local_workers_give_the_same_runs(workbook: Path) -> None:
    result = sweep(str(workbook), "--sweep", "price", "--workers", "2", "--no-report", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["workers"].startswith("2 worker processes on a local Dask cluster")
    assert [run["expected_cost_usd"] for run in document["runs"]] == [
        pytest.approx(29_200), pytest.approx(58_400), pytest.approx(73_000)]


# ---- the report ---------------------------------------------------------------------------------

def test_report_goes_under_reports_by_default(workbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = sweep(str(workbook), "--sweep", "price", "--workers", "0")
    assert result.exit_code == 0, result.output
    report = Path("reports") / "tiny-sweep.xlsx"
    assert report.is_file()
    assert f"report: {report}" in result.stdout
    assert "Runs" in openpyxl.load_workbook(report, read_only=True).sheetnames


def test_report_path_in_json(workbook: Path, tmp_path: Path) -> None:
    report = tmp_path / "out" / "price.xlsx"
    report.parent.mkdir()
    result = sweep(str(workbook), "--sweep", "price", "--workers", "0", "--json", "-o", str(report))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["report"] == str(report) and report.is_file()


def test_a_bad_report_path_fails_before_the_runs(workbook: Path, tmp_path: Path) -> None:
    result = sweep(str(workbook), "--sweep", "price", "--workers", "0", "-o", str(workbook))
    assert result.exit_code == 2
    assert "[1/" not in result.stderr  # nothing ran
    result = sweep(str(workbook), "--sweep", "price", "--workers", "0", "-o", str(tmp_path / "report.csv"))
    assert result.exit_code == 2 and ".xlsx" in result.stderr


def test_a_report_that_cannot_be_written_after_the_runs_exits_3(workbook: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.report.sweep

    def fail(*args: Any, **kwargs: Any) -> Path:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(planner.report.sweep, "write_sweep_report", fail)
    result = sweep(str(workbook), "--sweep", "price", "--workers", "0", "--json", "-o", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 3, result.output
    document = json.loads(result.stdout)
    assert document["report"] is None and len(document["runs"]) == 3  # the runs are still there
    assert "Permission denied" in document["report_error"][0]["message"]
    assert "the report was not written" in result.stderr
