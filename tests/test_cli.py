"""`planner solve` end to end: exit codes, JSON for scripts, the report, failing fast on bad paths."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from factory import LEASE_GPU_MONTH, lease, tiny
from typer.testing import CliRunner

import planner.solver
from planner.cli import app
from planner.workbook import write_problem

runner = CliRunner()


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """Two scenarios, 10 and 30 GPUs for 4 months; a 4-month lease at $2 beats $5 on demand:
    low alone leases 10, high alone 30; together the hedge leases 30 only if 0.5 x 20 x 4 x 3,650 >
    20 x 4 x 1,460 (146,000 > 116,800), so 30 GPUs are leased: cost 30 x 4 x 1,460 = 175,200."""
    path = tmp_path / "tiny.xlsx"
    write_problem(tiny({"low": [10.0] * 4, "high": [30.0] * 4}, offers=[lease(term=4)]), path)
    return path


def test_solve_json_reports_the_plan_and_writes_the_report(workbook: Path, tmp_path: Path) -> None:
    report = tmp_path / "out.xlsx"
    result = runner.invoke(app, ["solve", str(workbook), "--json", "-o", str(report)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["status"] == "optimal"
    assert payload["objective_usd"] == pytest.approx(30 * 4 * LEASE_GPU_MONTH, rel=1e-6)
    assert payload["mip_gap"] == pytest.approx(0.0, abs=1e-9)
    assert payload["solve_seconds"] > 0
    assert [(lease["offer_id"], lease["blocks"], lease["start_month"]) for lease in payload["leases"]] == [
        ("L", 30, "2025-01")]
    assert payload["report"] == str(report)
    assert "Summary" in openpyxl.load_workbook(report, read_only=True).sheetnames


def test_solve_writes_under_reports_by_default(workbook: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["solve", str(workbook)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reports" / "tiny-plan.xlsx").is_file()
    assert "sign 30 blocks of L" in result.stdout
    assert "Traceback" not in result.output


def test_uncertainty_adds_vss_and_evpi(workbook: Path, tmp_path: Path) -> None:
    """Hand values for the fixture: WS = 0.5 x 10 x 5,840 + 0.5 x 30 x 5,840 = 116,800; RP = 175,200;
    the EV plan (20 leased) costs 20 x 5,840 = 116,800 in low and that plus 10 x 4 x 3,650 = 262,800
    in high: EEV = 189,800. VSS = 14,600; EVPI = 58,400."""
    report = tmp_path / "hedge.xlsx"
    result = runner.invoke(app, ["solve", str(workbook), "--uncertainty", "--json", "-o", str(report)])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)["uncertainty"]["figures"]
    assert figures["vss_usd"] == pytest.approx(14_600.0, rel=1e-6)
    assert figures["evpi_usd"] == pytest.approx(58_400.0, rel=1e-6)
    assert "Regret" in openpyxl.load_workbook(report, read_only=True).sheetnames


def test_infeasible_plan_exits_1_with_a_diagnosis(tmp_path: Path) -> None:
    path = tmp_path / "infeasible.xlsx"
    write_problem(tiny([10.0, 10.0], on_demand=(), offers=[lease(earliest=1, term=1)], unserved_allowed=False),
                  path)
    result = runner.invoke(app, ["solve", str(path), "--json", "--no-report"])
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert payload["status"] == "infeasible"
    assert any("2025-01" in line and "chat" in line for line in payload["diagnosis"])


def test_bad_input_exits_2_with_cells_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "not-a-workbook.xlsx"
    path.write_text("scenario,probability\n10x,1.3\n")
    result = runner.invoke(app, ["solve", str(path)])
    assert result.exit_code == 2
    assert "file (path)" in result.output and "Traceback" not in result.output


def test_unusable_report_path_fails_before_solving(workbook: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    solves: list[object] = []
    monkeypatch.setattr(planner.solver, "solve", lambda problem, **_: solves.append(problem))
    result = runner.invoke(app, ["solve", str(workbook), "-o", str(tmp_path / "missing" / "r.xlsx")])
    assert result.exit_code == 2
    assert "folder that does not exist" in result.output
    same = runner.invoke(app, ["solve", str(workbook), "-o", str(workbook), "--json"])
    assert same.exit_code == 2
    assert json.loads(same.stdout)["status"] == "invalid_input"
    assert solves == []


# ---- conventions: --version, --help, the diagnosis once, a report given to validate ----------------

def help_text(*args: str) -> str:
    """The rich help, wide enough not to wrap, as plain text with the panel borders removed."""
    run = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "200"}, terminal_width=200)
    assert run.exit_code == 0, run.output
    return " ".join(line.strip(" │╭╮╰╯─") for line in run.stdout.splitlines())


def test_version() -> None:
    run = runner.invoke(app, ["--version"])
    assert run.exit_code == 0 and run.stdout.strip() == f"planner {planner.__version__}"


@pytest.mark.parametrize("command", [(), ("solve",), ("validate",), ("template",)])
def test_help_has_no_type_noise_or_placeholders(command: tuple[str, ...]) -> None:
    text = help_text(*command)
    assert "<bool>" not in text and "{" not in text and "}" not in text
    assert "Usage:" in text and ("WORKBOOK" in text if command else "COMMAND" in text)


def test_solve_help_shows_every_default() -> None:
    text = " ".join(help_text("solve").split())
    assert "(default: the workbook's time_limit_seconds, else 600)" in text
    assert "(default: the workbook's mip_gap, else 0.0001)" in text
    assert "(default: as many as the solver chooses)" in text
    assert "(default: reports/<workbook name>-plan.xlsx)" in text
    assert "--time-limit SECONDS" in text and "--mip-gap FRACTION" in text


def test_infeasible_diagnosis_is_printed_once_in_readable_units(tmp_path: Path) -> None:
    path = tmp_path / "infeasible.xlsx"
    write_problem(tiny([10.0, 10.0], on_demand=(), offers=[lease(earliest=1, term=1)], unserved_allowed=False),
                  path)
    run = runner.invoke(app, ["solve", str(path), "--no-report"], env={"COLUMNS": "200"})
    assert run.exit_code == 1, run.output
    out = " ".join(run.stdout.split())
    assert "Plan: no plan: the inputs cannot all be met; the reasons follow" in out
    assert out.count("cannot be fully served in 2025-01") == 1
    assert "(26.3 B tokens short)" in out  # 10 GPUs' worth of tokens for a month: 2.628e10
    assert "e+" not in out and "infeasible:" not in out


def test_validate_recognises_a_planner_report(workbook: Path, tmp_path: Path) -> None:
    report = tmp_path / "plan.xlsx"
    assert runner.invoke(app, ["solve", str(workbook), "-o", str(report), "--json"]).exit_code == 0
    run = runner.invoke(app, ["validate", str(report)], env={"COLUMNS": "200"})
    assert run.exit_code == 2
    assert "this is a planner report, not an input workbook" in run.output
    assert run.output.count("expected") == 1  # one problem, not one per missing input table
    solve_it = runner.invoke(app, ["solve", str(report), "--json"])
    assert solve_it.exit_code == 2
    (issue,) = json.loads(solve_it.stdout)["issues"]
    assert "planner report" in issue["found"]
